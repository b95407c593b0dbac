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
    CHECK(reader_segment(c, W, H, W, lab, box, READER_MAX_DIGITS, NULL) == 0, "a blank canvas has no digits");

    /* three strokes apart, drawn right to left: found left to right */
    rect(c, W, 400, 40, 420, 160, 0);
    rect(c, W, 250, 50, 270, 150, 0);
    rect(c, W, 60, 30, 80, 170, 0);
    int n = reader_segment(c, W, H, W, lab, box, READER_MAX_DIGITS, NULL);
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
    n = reader_segment(c, W, H, W, NULL, box, READER_MAX_DIGITS, NULL);
    CHECK(n == 2, "a 4 and a 5 with a detached bar are %d digits", n);
    if (n == 2) CHECK(box[1].y0 <= 30 && box[1].y1 >= 165, "the 5's box includes its bar: rows %d..%d", box[1].y0, box[1].y1);

    /* a speck beside a digit is dropped; light ink on dark works the same */
    for (int i = 0; i < W * H; i++) c[i] = 0;
    rect(c, W, 100, 30, 120, 170, 255);
    rect(c, W, 300, 100, 301, 101, 255);
    n = reader_segment(c, W, H, W, NULL, box, READER_MAX_DIGITS, NULL);
    CHECK(n == 1 && box[0].x0 == 100, "a stroke and a speck: %d digit(s)", n);

    /* more digits than room: the first `max` */
    for (int i = 0; i < W * H; i++) c[i] = 0;
    for (int k = 0; k < 14; k++) rect(c, W, 10 + 40 * k, 50, 20 + 40 * k, 150, 255);
    n = reader_segment(c, W, H, W, NULL, box, 5, NULL);
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
    CHECK(compose_number(px, which, 3, 5, 5, &r1, &a, &w1, &h1, NULL, NULL) == 0, "compose");
    CHECK(compose_number(px, which, 3, 5, 5, &r2, &b, &w2, &h2, NULL, NULL) == 0, "compose again");
    CHECK(w1 == w2 && h1 == h2 && memcmp(a, b, (size_t)w1 * h1) == 0, "the same seed composes the same canvas");
    preprocess_info box[4];
    int n = reader_segment(a, w1, h1, w1, NULL, box, 4, NULL);
    CHECK(n == 3, "three bars 5 pixels apart are %d digits", n);
    for (int k = 1; k < n; k++) {
        int gap = box[k].x0 - box[k - 1].x1 - 1;
        CHECK(gap >= 5 * COMPOSE_SCALE - 4 && gap <= 5 * COMPOSE_SCALE + 4, "gap %d canvas pixels, want about %d", gap,
              5 * COMPOSE_SCALE);
    }
    free(a), free(b);
    rng_t r3 = rng_derive(4, 1);
    CHECK(compose_number(px, which, 3, -2, -2, &r3, &a, &w1, &h1, NULL, NULL) == 0, "compose overlapping");
    n = reader_segment(a, w1, h1, w1, NULL, box, 4, NULL);
    CHECK(n == 1, "bars overlapping by 2 pixels are one blob, %d", n);
    free(a);
    char err[ERR_LEN] = "";
    CHECK(compose_number(px, which, 0, 0, 1, &r3, &a, &w1, &h1, NULL, err) == -1 && !a && strstr(err, "0 digits"),
          "no digits is an error that says so: '%s'", err);
    CHECK(compose_number(px, which, 3, 2, 1, &r3, &a, &w1, &h1, NULL, err) == -1 && !a && strstr(err, "gap range"),
          "an empty gap range is an error that says so: '%s'", err);
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
    if (compose_number(d.pixels, which, 5, 4, 6, &r, &c, &w, &h, NULL, NULL) == 0) {
        CHECK(reader_read(&m, &ws, c, w, h, w, &rd, NULL) == 0 && !strcmp(rd.number, "31415"), "read '%s', want 31415",
              rd.number);
        for (int k = 1; k < rd.n; k++) CHECK(rd.info[k].x0 > rd.info[k - 1].x1, "digit boxes %d and %d overlap", k - 1, k);
        free(c);
    }
    /* and many: apart, and touching or overlapping (the recognition-driven split) */
    const int N = 100;
    int apart = compose_evaluate(&m, &ws, d.pixels, d.labels, d.n, N, COMPOSE_APART_LO, COMPOSE_APART_HI, 11, NULL);
    int touch = compose_evaluate(&m, &ws, d.pixels, d.labels, d.n, N, COMPOSE_TOUCH_LO, COMPOSE_TOUCH_HI, 12, NULL);
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
        if (compose_number(d.pixels, &i, 1, 0, 0, &r, &c, &w, &h, NULL, NULL)) continue;
        whole += reader_read(&m, &ws, c, w, h, w, &rd, NULL) == 0 && rd.n == 1 && rd.digit[0] == d.labels[i];
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
    err[0] = 0;
    CHECK(compose_mine(&m, d.pixels, idx, 0, N_SEQ, 5, &a, &na, err) == -1 && !a && strstr(err, "from 0 digits"),
          "no images is an error that says so: '%s'", err);
#ifdef _OPENMP
    const int threads = omp_get_max_threads();
    omp_set_num_threads(1);
#endif
    CHECK(compose_mine(&m, d.pixels, idx, N_IDX, N_SEQ, 5, &a, &na, NULL) == 0, "mine on one thread");
#ifdef _OPENMP
    omp_set_num_threads(2);
#endif
    CHECK(compose_mine(&m, d.pixels, idx, N_IDX, N_SEQ, 5, &b, &nb, NULL) == 0, "mine on two threads");
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

/* ---- reading from strokes ---------------------------------------------------------------------- */

/* a stroke through key points, a point every 4 pixels as a pointer would give them */
static void stroke(ink_t *ink, const float (*key)[2], int n) {
    ink_point p[512];
    int k = 0;
    for (int i = 0; i + 1 < n; i++) {
        const float dx = key[i + 1][0] - key[i][0], dy = key[i + 1][1] - key[i][1];
        const int steps = 1 + (int)(sqrtf(dx * dx + dy * dy) / 4);
        for (int s = 0; s < steps && k < 511; s++) p[k++] = (ink_point){key[i][0] + dx * s / steps, key[i][1] + dy * s / steps};
    }
    p[k++] = (ink_point){key[n - 1][0], key[n - 1][1]};
    CHECK(ink_add_stroke(ink, p, k, NULL) == 0, "stroke");
}
#define STROKE(ink, ...) stroke(ink, (const float[][2]){__VA_ARGS__}, sizeof((const float[][2]){__VA_ARGS__}) / sizeof(float[2]))

/* the ink of two strokes does not touch: their capsules are further apart than two brush radii */
static int apart(const ink_t *ink, int a, int b) {
    int na, nb;
    const ink_point *p = ink_stroke(ink, a, &na), *q = ink_stroke(ink, b, &nb);
    float best = INFINITY;
    for (int i = 0; i < na; i++)
        for (int j = 0; j < nb; j++) best = fminf(best, hypotf(p[i].x - q[j].x, p[i].y - q[j].y));
    return best > 2 * INK_BRUSH_RADIUS + 2;
}

/* on the one-digit canvas a digit drawn in several strokes, the strokes apart, is one digit:
 * a 4 as an L and an upright, a 5 whose bar comes last, a 7 with a crossbar; and on the wide
 * canvas, a number whose slanted digits share columns is read from its strokes */
void test_read_strokes(void) {
    char err[ERR_LEN];
    model_t m;
    workspace_t ws;
    if (model_load(&m, test_model_path(), err) || workspace_init(&ws, &m, 1, 0, err)) {
        CHECK(0, "%s", err);
        return;
    }
    static reading rd;
    ink_t ink;
    ink_init(&ink);
    struct {
        const char *what, *want;
        int cuts;
    } cases[] = {{"a 4 as an L and an upright, apart", "4", 0},
                 {"a 5 whose bar is drawn last, apart", "5", 0},
                 {"a 7 with a crossbar that does not touch it", "7", 0},
                 {"the same 4 on the wide canvas", "4", 1},
                 {"41 with the 1 slanted under the 4's arm", "41", 1}};
    for (int c = 0; c < 5; c++) {
        ink_clear(&ink);
        if (c == 0 || c == 3) {
            STROKE(&ink, {205, 50}, {175, 200}, {230, 200});
            STROKE(&ink, {270, 110}, {265, 320});
            CHECK(apart(&ink, 0, 1), "the 4's strokes are apart");
        } else if (c == 1) {
            STROKE(&ink, {195, 85}, {188, 175}, {230, 160}, {270, 185}, {280, 235}, {255, 285}, {215, 300}, {180, 285});
            STROKE(&ink, {210, 50}, {295, 48});
            CHECK(apart(&ink, 0, 1), "the 5's bar is apart");
        } else if (c == 2) {
            STROKE(&ink, {160, 60}, {300, 60}, {215, 310});
            STROKE(&ink, {170, 185}, {220, 185});
            CHECK(apart(&ink, 0, 1), "the 7's bar is apart");
        } else {
            STROKE(&ink, {205, 50}, {175, 200}, {290, 200});
            STROKE(&ink, {262, 110}, {257, 320});
            STROKE(&ink, {330, 150}, {300, 330}); /* under the 4's arm: its columns overlap the 4's */
        }
        const int w = cases[c].cuts ? 960 : 480;
        CHECK(reader_read_ink(&m, &ws, &ink, w, 360, cases[c].cuts, NULL, &rd, NULL) == 0 && !strcmp(rd.number, cases[c].want),
              "%s: read '%s', want '%s'", cases[c].what, rd.number, cases[c].want);
        if (rd.n != 1) continue;
        /* the reader draws each stroke once and lays the strokes of a piece over each other: the
         * digit it saw is the page's canvas, drawn in one go, preprocessed */
        uint8_t *canvas = malloc((size_t)w * 360);
        static float whole[IMG_PIXELS];
        CHECK(canvas != NULL, "no memory");
        if (!canvas) continue;
        ink_render(canvas, w, 360, &ink);
        CHECK(preprocess_canvas(whole, canvas, w, 360, w, NULL) == PREPROCESS_OK &&
                  !memcmp(whole, rd.input[0], sizeof whole),
              "%s: the reader's input differs from the canvas drawn in one go", cases[c].what);
        free(canvas);
    }

    /* strokes drawn right to left, and a 5's bar added after the next digit: still left to right */
    ink_clear(&ink);
    STROKE(&ink, {420, 60}, {560, 60}, {470, 330}); /* a 7 on the right, drawn first... */
    STROKE(&ink, {195, 85}, {188, 175}, {230, 160}, {270, 185}, {280, 235}, {255, 285}, {215, 300}, {180, 285});
    STROKE(&ink, {330, 60}, {320, 330}); /* ...a 1 between, then the 5's bar, last */
    STROKE(&ink, {210, 50}, {295, 48});
    CHECK(reader_read_ink(&m, &ws, &ink, 960, 360, 1, NULL, &rd, NULL) == 0 && !strcmp(rd.number, "517"),
          "out of order: read '%s', want 517", rd.number);
    for (int k = 1; k < rd.n; k++) CHECK(rd.info[k].x0 + rd.info[k].x1 > rd.info[k - 1].x0 + rd.info[k - 1].x1, "left to right");

    /* a cache of pieces changes nothing: the drawing above grown stroke by stroke and point by point,
     * then undone, read with and without one */
    reader_cache *cache = reader_cache_new(NULL);
    ink_t grow;
    ink_init(&grow);
    static reading cached;
    int same = cache != NULL;
    for (int s = 0; s < ink.n_strokes && same; s++) {
        int n;
        const ink_point *p = ink_stroke(&ink, s, &n);
        for (int k = 0; k < n && same; k += 3) {
            if (k == 0) ink_begin(&grow, p[0].x, p[0].y, NULL);
            else ink_extend(&grow, p[k].x, p[k].y, NULL);
            same &= reader_read_ink(&m, &ws, &grow, 960, 360, 1, cache, &cached, NULL) == 0 &&
                    reader_read_ink(&m, &ws, &grow, 960, 360, 1, NULL, &rd, NULL) == 0 && !memcmp(&cached, &rd, sizeof rd);
        }
    }
    while (same && ink_undo(&grow))
        same &= reader_read_ink(&m, &ws, &grow, 960, 360, 1, cache, &cached, NULL) == 0 &&
                reader_read_ink(&m, &ws, &grow, 960, 360, 1, NULL, &rd, NULL) == 0 && !memcmp(&cached, &rd, sizeof rd);
    CHECK(same, "the cache changes a reading");
    reader_cache_free(cache);
    ink_free(&grow);

    /* what a pointer can do: no points, one point, far off the canvas, thousands of strokes */
    ink_clear(&ink);
    CHECK(reader_read_ink(&m, &ws, &ink, 480, 360, 0, NULL, &rd, NULL) == 0 && rd.n == 0, "no strokes: blank");
    err[0] = 0;
    CHECK(reader_read_ink(&m, &ws, &ink, 0, 360, 0, NULL, &rd, err) == -1 && strstr(err, "not a canvas (0 x 360"),
          "a canvas of no width is an error that says so: '%s'", err);
    CHECK(reader_read(&m, &ws, NULL, 480, 360, 480, &rd, err) == -1 && strstr(err, "not a canvas"),
          "no pixels is an error that says so: '%s'", err);
    CHECK(ink_add_stroke(&ink, NULL, 0, NULL) == 0 && reader_read_ink(&m, &ws, &ink, 480, 360, 0, NULL, &rd, NULL) == 0 && rd.n == 0,
          "a stroke with no points: blank");
    STROKE(&ink, {-5000, -5000}, {-4000, -4500});
    CHECK(reader_read_ink(&m, &ws, &ink, 480, 360, 0, NULL, &rd, NULL) == 0 && rd.n == 0, "ink off the canvas: blank");
    STROKE(&ink, {240, 60}, {236, 300});
    STROKE(&ink, {1e9f, 5}, {-1e9f, 7}); /* clamped; crosses the canvas near its top */
    CHECK(reader_read_ink(&m, &ws, &ink, 480, 360, 0, NULL, &rd, NULL) == 0 && rd.n >= 1, "far-away points do not break the reading");
    ink_clear(&ink);
    CHECK(ink_begin(&ink, 240, 180, NULL) == 0 && reader_read_ink(&m, &ws, &ink, 480, 360, 0, NULL, &rd, NULL) == 0 &&
              rd.n == 0 && rd.dots,
          "a single point (a tap) is no digit: %d digits '%s', dots %d", rd.n, rd.number, rd.dots);
    STROKE(&ink, {270, 182}, {276, 185}); /* two more taps, one with a small slip of the finger */
    STROKE(&ink, {300, 178});
    CHECK(reader_read_ink(&m, &ws, &ink, 960, 360, 1, NULL, &rd, NULL) == 0 && rd.n == 0 && rd.dots,
          "three taps are no number: '%s'", rd.number);
    STROKE(&ink, {400, 60}, {480, 60}, {425, 300});
    CHECK(reader_read_ink(&m, &ws, &ink, 960, 360, 1, NULL, &rd, NULL) == 0 && !rd.dots && !strcmp(rd.number, "7"),
          "taps beside a 7: '%s'", rd.number);
    ink_clear(&ink);
    STROKE(&ink, {240, 160}, {240, 200});
    CHECK(reader_read_ink(&m, &ws, &ink, 480, 360, 0, NULL, &rd, NULL) == 0 && rd.n == 1 && !rd.dots,
          "a short stroke is read, not taken for a tap: %d digits", rd.n);
    /* thousands of strokes: the reading is made on the first READER_MAX_STROKES, and says so */
    ink_clear(&ink);
    STROKE(&ink, {100, 60}, {96, 300});
    STROKE(&ink, {160, 60}, {290, 60}, {200, 300});
    for (int s = 0; s < 3000; s++) {
        const float x = 400 + (float)(s % 20) * 27, y = 30 + (float)(s / 20 % 10) * 30;
        STROKE(&ink, {x, y}, {x + 6, y + 12});
    }
    static reading first;
    ink_t part = ink;
    part.n_strokes = READER_MAX_STROKES; /* the same drawing cut to its first strokes */
    CHECK(reader_read_ink(&m, &ws, &ink, 960, 360, 1, NULL, &rd, NULL) == 0 && rd.truncated && rd.n <= READER_MAX_DIGITS,
          "3000 strokes: read on the first %d (truncated %d, %d digits)", READER_MAX_STROKES, rd.truncated, rd.n);
    CHECK(reader_read_ink(&m, &ws, &part, 960, 360, 1, NULL, &first, NULL) == 0 && !first.truncated && !strcmp(first.number, rd.number) &&
              !strncmp(rd.number, "17", 2),
          "the reading is that of the first %d strokes: '%s' and '%s'", READER_MAX_STROKES, rd.number, first.number);
    ink_free(&ink);
    workspace_free(&ws);
    model_free(&m);
}
