/* Segmentation and reading numbers: synthetic layouts with known answers,
 * then numbers composed from MNIST *training* digits read with the shipped
 * model (the test digits are for `make eval`). */
#include <stdlib.h>
#include <string.h>

#include "compose.h"
#include "idx.h"
#include "reader.h"
#include "test.h"

/* regression guards, below what the shipped model reads on 300 such numbers
 * (about 96% apart and 73% touching) so that seed noise cannot fail them */
#define READ_APART_MIN 90
#define READ_TOUCH_MIN 65

static void rect(uint8_t *c, int w, int x0, int y0, int x1, int y1, uint8_t v) {
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) c[y * w + x] = v;
}

/* ink boxes of a layout drawn dark on light: each a set of rectangles */
void test_segment(void) {
    enum { W = 600, H = 200 };
    uint8_t *c = malloc(W * H), *lab = malloc(W * H);
    preprocess_info box[READER_MAX_DIGITS];
    if (!c || !lab) {
        CHECK(0, "out of memory");
        free(c), free(lab);
        return;
    }

    memset(c, 255, W * H);
    CHECK(reader_segment(c, W, H, W, lab, box, READER_MAX_DIGITS) == 0, "a blank canvas has no digits");

    /* three strokes apart, drawn right to left: found left to right */
    rect(c, W, 400, 40, 420, 160, 0);
    rect(c, W, 250, 50, 270, 150, 0);
    rect(c, W, 60, 30, 80, 170, 0);
    int n = reader_segment(c, W, H, W, lab, box, READER_MAX_DIGITS);
    CHECK(n == 3, "three separate strokes are %d digits", n);
    if (n == 3) {
        CHECK(box[0].x0 == 60 && box[1].x0 == 250 && box[2].x0 == 400, "left to right: %d %d %d", box[0].x0,
              box[1].x0, box[2].x0);
        CHECK(box[0].y0 <= 30 && box[0].y1 >= 170 && box[0].y0 >= 26 && box[0].y1 <= 173, "box 0 rows %d..%d",
              box[0].y0, box[0].y1);
        CHECK(lab[100 * W + 70] == 1 && lab[100 * W + 260] == 2 && lab[100 * W + 410] == 3 && lab[100 * W + 150] == 0,
              "pixel labels %d %d %d %d", lab[100 * W + 70], lab[100 * W + 260], lab[100 * W + 410], lab[100 * W + 150]);
    }

    /* a 4 in two strokes (an L and a separate upright) and a 5 whose top bar is
     * detached: each stays one digit */
    memset(c, 255, W * H);
    rect(c, W, 60, 30, 70, 110, 0);   /* the 4: left arm */
    rect(c, W, 60, 100, 150, 110, 0); /* its bar */
    rect(c, W, 120, 20, 130, 170, 0); /* its upright, crossing the bar: still touching */
    rect(c, W, 300, 30, 380, 40, 0);  /* the 5's top bar, apart from the rest */
    rect(c, W, 300, 52, 310, 100, 0);
    rect(c, W, 300, 95, 380, 105, 0);
    rect(c, W, 370, 95, 380, 160, 0);
    rect(c, W, 300, 155, 380, 165, 0);
    n = reader_segment(c, W, H, W, NULL, box, READER_MAX_DIGITS);
    CHECK(n == 2, "a 4 and a 5 with a detached bar are %d digits", n);
    if (n == 2) CHECK(box[1].y0 <= 30 && box[1].y1 >= 165, "the 5's box includes its bar: rows %d..%d", box[1].y0, box[1].y1);

    /* a speck beside a digit is dropped; light ink on dark works the same */
    for (int i = 0; i < W * H; i++) c[i] = 0;
    rect(c, W, 100, 30, 120, 170, 255);
    rect(c, W, 300, 100, 301, 101, 255);
    n = reader_segment(c, W, H, W, NULL, box, READER_MAX_DIGITS);
    CHECK(n == 1 && box[0].x0 == 100, "a stroke and a speck: %d digit(s)", n);

    /* more digits than room: the first `max` */
    for (int i = 0; i < W * H; i++) c[i] = 0;
    for (int k = 0; k < 14; k++) rect(c, W, 10 + 40 * k, 50, 20 + 40 * k, 150, 255);
    n = reader_segment(c, W, H, W, NULL, box, 5);
    CHECK(n == 5 && box[4].x0 == 170, "14 strokes, room for 5: %d, last at %d", n, n ? box[n - 1].x0 : -1);
    free(c), free(lab);
}

/* compose_number: deterministic, digits laid left to right with the gaps asked for */
void test_compose(void) {
    uint8_t px[3 * IMG_PIXELS] = {0};
    for (int k = 0; k < 3; k++) rect(px + k * IMG_PIXELS, IMG_SIDE, 10, 4, 17, 23, 255); /* 8×20 bars */
    int which[3] = {0, 1, 2}, w1, h1, w2, h2;
    uint8_t *a, *b;
    rng_t r1 = rng_derive(4, 0), r2 = rng_derive(4, 0);
    CHECK(compose_number(px, which, 3, 5, 5, &r1, &a, &w1, &h1) == 0, "compose");
    CHECK(compose_number(px, which, 3, 5, 5, &r2, &b, &w2, &h2) == 0, "compose again");
    CHECK(w1 == w2 && h1 == h2 && memcmp(a, b, (size_t)w1 * h1) == 0, "the same seed composes the same canvas");
    preprocess_info box[4];
    int n = reader_segment(a, w1, h1, w1, NULL, box, 4);
    CHECK(n == 3, "three bars 5 pixels apart are %d digits", n);
    for (int k = 1; k < n; k++) {
        int gap = box[k].x0 - box[k - 1].x1 - 1;
        CHECK(gap >= 5 * COMPOSE_SCALE - 4 && gap <= 5 * COMPOSE_SCALE + 4, "gap %d canvas pixels, want about %d", gap,
              5 * COMPOSE_SCALE);
    }
    free(a), free(b);
    rng_t r3 = rng_derive(4, 1);
    CHECK(compose_number(px, which, 3, -2, -2, &r3, &a, &w1, &h1) == 0, "compose overlapping");
    n = reader_segment(a, w1, h1, w1, NULL, box, 4);
    CHECK(n == 1, "bars overlapping by 2 pixels are one blob, %d", n);
    free(a);
    CHECK(compose_number(px, which, 0, 0, 1, &r3, &a, &w1, &h1) == -1 && !a, "no digits is an error");
}

/* numbers of MNIST training digits, read with the shipped model */
void test_read_numbers(void) {
    char err[ERR_LEN];
    dataset_t d;
    if (test_load_mnist(&d, 0)) return;
    model_t m;
    if (model_load(&m, test_model_path(), err)) {
        CHECK(0, "%s", err);
        dataset_free(&d);
        return;
    }
    workspace_t ws;
    if (workspace_init(&ws, &m, 1, 0, err)) CHECK(0, "%s", err);
    /* one known number, read exactly: the first training image of each digit 3, 1, 4, 1, 5 */
    int first[N_CLASSES];
    for (int k = 0; k < N_CLASSES; k++) first[k] = -1;
    for (int i = 0; i < d.n; i++)
        if (first[d.labels[i]] < 0) first[d.labels[i]] = i;
    int which[5] = {first[3], first[1], first[4], first[1], first[5]}, w, h;
    uint8_t *c;
    rng_t r = rng_derive(7, 0);
    static reading rd;
    if (compose_number(d.pixels, which, 5, 4, 6, &r, &c, &w, &h) == 0) {
        CHECK(reader_read(&m, &ws, c, w, h, w, &rd) == 0 && !strcmp(rd.number, "31415"), "read '%s', want 31415",
              rd.number);
        for (int k = 1; k < rd.n; k++) CHECK(rd.info[k].x0 > rd.info[k - 1].x1, "digit boxes %d and %d overlap", k - 1, k);
        free(c);
    }
    /* and many: apart, and touching or overlapping (the recognition-driven split) */
    const int N = 100;
    int apart = compose_evaluate(&m, &ws, d.pixels, d.labels, d.n, N, COMPOSE_APART_LO, COMPOSE_APART_HI, 11);
    int touch = compose_evaluate(&m, &ws, d.pixels, d.labels, d.n, N, COMPOSE_TOUCH_LO, COMPOSE_TOUCH_HI, 12);
    printf("  numbers of 2-8 training digits read exactly: apart %d%%, touching %d%%\n", 100 * apart / N, 100 * touch / N);
    CHECK(apart >= READ_APART_MIN * N / 100, "apart: %d of %d", apart, N);
    CHECK(touch >= READ_TOUCH_MIN * N / 100, "touching: %d of %d", touch, N);
    workspace_free(&ws);
    model_free(&m);
    dataset_free(&d);
}
