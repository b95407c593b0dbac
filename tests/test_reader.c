/* Segmentation and reading numbers: synthetic layouts with known answers,
 * then numbers composed from MNIST *training* digits read with the shipped
 * model (the test digits are for `make eval`). */
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "compose.h"
#include "idx.h"
#include "reader.h"
#include "test.h"
#include "train.h"

/* regression guards, below what the shipped model reads on these 100
 * numbers of each kind (99% apart and 86% touching) so that noise cannot fail
 * them; before hard negatives and the reward per piece it read 94% and 74% */
#define READ_APART_MIN 90
#define READ_TOUCH_MIN 75
/* of WIDE_N training digits wider than 1.4 × their height, composed alone,
 * at least WIDE_MIN% are read as that one digit: 195 are; with pieces at most
 * 1.4 × their height wide (the reader before) 52 were */
#define WIDE_N 200
#define WIDE_MIN 90
/* the shipped model may be sure of at most this % of the mined pieces that are
 * not one digit: it is of 4%; the model before the hard-negative phase was of 38% */
#define MINED_SURE_MAX 20

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
    CHECK(compose_number(px, which, 3, 5, 5, &r1, &a, &w1, &h1, NULL) == 0, "compose");
    CHECK(compose_number(px, which, 3, 5, 5, &r2, &b, &w2, &h2, NULL) == 0, "compose again");
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
    CHECK(compose_number(px, which, 3, -2, -2, &r3, &a, &w1, &h1, NULL) == 0, "compose overlapping");
    n = reader_segment(a, w1, h1, w1, NULL, box, 4);
    CHECK(n == 1, "bars overlapping by 2 pixels are one blob, %d", n);
    free(a);
    CHECK(compose_number(px, which, 0, 0, 1, &r3, &a, &w1, &h1, NULL) == -1 && !a, "no digits is an error");
}

/* numbers of MNIST training digits, read with the shipped model */
void test_read_numbers(void) {
    char err[ERR_LEN];
    dataset_t d;
    model_t m;
    if (test_load_shipped(&d, &m)) return;
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
    if (compose_number(d.pixels, which, 5, 4, 6, &r, &c, &w, &h, NULL) == 0) {
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
    /* a wide digit alone (a flat 2 or 5, ink box wider than 1.4 × its height: 770 of the training
     * images) is one digit, not cut in two */
    int wide = 0, whole = 0;
    for (int i = 0; i < d.n && wide < WIDE_N; i++) {
        float in[IMG_PIXELS];
        preprocess_info box; /* the ink box, as the reader sees ink */
        if (preprocess_canvas(in, d.pixels + (size_t)i * IMG_PIXELS, IMG_SIDE, IMG_SIDE, IMG_SIDE, &box) != PREPROCESS_OK ||
            (box.x1 - box.x0 + 1) * 10 <= (box.y1 - box.y0 + 1) * 14)
            continue;
        wide++;
        r = rng_derive(13, (uint64_t)i);
        if (compose_number(d.pixels, &i, 1, 0, 0, &r, &c, &w, &h, NULL)) continue;
        whole += reader_read(&m, &ws, c, w, h, w, &rd) == 0 && rd.n == 1 && rd.digit[0] == d.labels[i];
        free(c);
    }
    printf("  wide training digits alone read as that one digit: %d of %d\n", whole, wide);
    CHECK(wide == WIDE_N && whole >= WIDE_MIN * wide / 100, "wide digits: %d of %d", whole, wide);
    workspace_free(&ws);
    model_free(&m);
    dataset_free(&d);
}

/* how many of n 28×28 byte images the model is sure of (calibrated top probability >= UNSURE_BELOW) */
static int count_sure(model_t *m, workspace_t *ws, const uint8_t *px, int n) {
    int sure = 0;
    float x[IMG_PIXELS];
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < IMG_PIXELS; k++) x[k] = px[(size_t)i * IMG_PIXELS + k] / 255.0f;
        const float *p = model_predict(m, ws, x, 1);
        float top = 0;
        for (int j = 0; j < N_CLASSES; j++) top = p[j] > top ? p[j] : top;
        sure += top >= UNSURE_BELOW;
    }
    return sure;
}

/* hard negatives (compose_mine): the same pieces whatever the number of
 * threads, and the shipped model - trained on such pieces - unsure of them
 * while sure of digits */
void test_mine(void) {
    char err[ERR_LEN];
    dataset_t d;
    model_t m;
    if (test_load_shipped(&d, &m)) return;
    enum { N_IDX = 20000, N_SEQ = 24 };
    int *idx = malloc(sizeof(int) * N_IDX);
    uint8_t *a = NULL, *b = NULL;
    int na = 0, nb = 0;
    if (!idx) {
        CHECK(0, "out of memory");
        goto out;
    }
    for (int i = 0; i < N_IDX; i++) idx[i] = i;
    CHECK(compose_mine(&m, d.pixels, idx, 0, N_SEQ, 5, &a, &na) == -1 && !a, "no images is an error");
#ifdef _OPENMP
    const int threads = omp_get_max_threads();
    omp_set_num_threads(1);
#endif
    CHECK(compose_mine(&m, d.pixels, idx, N_IDX, N_SEQ, 5, &a, &na) == 0, "mine on one thread");
#ifdef _OPENMP
    omp_set_num_threads(2);
#endif
    CHECK(compose_mine(&m, d.pixels, idx, N_IDX, N_SEQ, 5, &b, &nb) == 0, "mine on two threads");
#ifdef _OPENMP
    omp_set_num_threads(threads);
#endif
    CHECK(a && b && na == nb && na > N_SEQ && !memcmp(a, b, (size_t)na * IMG_PIXELS),
          "%d and %d pieces, the same bytes", na, nb);
    if (a && na > 0) {
        /* how sure the shipped model is of them, against digits */
        workspace_t ws;
        if (workspace_init(&ws, &m, 1, 0, err) == 0) {
            int sure_piece = count_sure(&m, &ws, a, na);
            int sure_digit = count_sure(&m, &ws, d.pixels + (size_t)N_IDX * IMG_PIXELS, na);
            printf("  hard negatives: %d pieces from %d numbers; the shipped model is sure (>= %.2f) of %d%% of them "
                   "and of %d%% of as many training digits\n",
                   na, N_SEQ, UNSURE_BELOW, 100 * sure_piece / na, 100 * sure_digit / na);
            CHECK(sure_piece * 100 <= MINED_SURE_MAX * na, "sure of %d of %d pieces that are not digits", sure_piece, na);
            CHECK(sure_digit * 100 >= 95 * na, "sure of only %d of %d digits", sure_digit, na);
            workspace_free(&ws);
        }
    }
out:
    free(a), free(b), free(idx);
    model_free(&m);
    dataset_free(&d);
}
