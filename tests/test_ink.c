/* Strokes and their ink (src/ink.c), and the pen-digit reader (src/pen.c):
 * the brush's coverage, bad points, limits, undo; the UNIPEN parser on good
 * and broken files, and the committed pen-digit data. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ink.h"
#include "compose.h"
#include "pen.h"
#include "skeleton.h"
#include "test.h"

#define PEN_DATA "native/pendigits/pendigits-orig.tra"

static long ink_sum(const uint8_t *c, int n) {
    long s = 0;
    for (int i = 0; i < n; i++) s += c[i];
    return s;
}

void test_ink(void) {
    enum { W = 200, H = 120 };
    uint8_t *c = calloc(W * H, 1), *d = calloc(W * H, 1);
    ink_t ink;
    ink_init(&ink);
    char err[ERR_LEN];
    if (!c || !d) {
        CHECK(0, "out of memory");
        free(c), free(d);
        return;
    }
    /* a dot: a disc of the brush's radius, full in the middle, anti-aliased at the rim */
    CHECK(ink_begin(&ink, 100, 60, err) == 0, "begin: %s", err);
    ink_render(c, W, H, &ink);
    const float r = INK_BRUSH_RADIUS, area = 3.14159265f * r * r; /* the ramp from r - 0.5 to r + 0.5 averages out */
    CHECK(c[60 * W + 100] == 255 && c[60 * W + 100 + (int)r + 2] == 0, "dot: centre %d, outside %d", c[60 * W + 100],
          c[60 * W + 100 + (int)r + 2]);
    CHECK(fabsf((float)ink_sum(c, W * H) / 255.0f - area) < 0.03f * area, "a dot covers %.1f pixels, want about %.1f",
          ink_sum(c, W * H) / 255.0, area);
    CHECK(c[60 * W + 100 - 5] == c[60 * W + 100 + 4] && c[(60 - 5) * W + 100] == c[(60 + 4) * W + 100],
          "the dot is symmetric about its centre");
    /* points closer than half a pixel are skipped; a stroke of a line covers its capsule */
    CHECK(ink_extend(&ink, 100.2f, 60.3f, err) == 1, "a point within half a pixel is skipped");
    CHECK(ink_extend(&ink, 160, 60, err) == 0 && ink.n_pt == 2, "extend");
    ink_render(c, W, H, &ink);
    CHECK(c[60 * W + 130] == 255 && c[(60 + 11) * W + 130] == 255 && c[(60 + 14) * W + 130] == 0,
          "a horizontal line is 2r+1 pixels thick");
    /* the same strokes drawn into a smaller canvas at an offset give the same bytes there */
    CHECK(ink_add_stroke(&ink, (const ink_point[]){{20, 20}, {60, 100}, {90, 30}}, 3, err) == 0, "add: %s", err);
    ink_render(c, W, H, &ink);
    memset(d, 0, W * H);
    ink_draw(d, 70, 50, 70, 40, 30, &ink, 0, ink.n_strokes, INK_BRUSH_RADIUS);
    int same = 1;
    for (int y = 0; y < 50; y++)
        for (int x = 0; x < 70; x++) same &= d[y * 70 + x] == c[(y + 30) * W + x + 40];
    CHECK(same, "a region drawn at an offset matches the whole canvas");
    /* bad points: NaN dropped, far-away points clamped, nothing drawn off the canvas, no crash */
    CHECK(ink_begin(&ink, NAN, 3, err) == -1, "a stroke cannot start at NaN");
    const ink_point bad[] = {{NAN, 5}, {1e30f, -1e30f}, {INFINITY, 2}, {-5e9f, 60}, {5e9f, 60}};
    CHECK(ink_add_stroke(&ink, bad, 5, err) == 0, "add bad: %s", err);
    int n;
    const ink_point *p = ink_stroke(&ink, ink.n_strokes - 1, &n);
    CHECK(n == 3 && p[0].x == INK_COORD_MAX && p[0].y == -INK_COORD_MAX && p[1].x == -INK_COORD_MAX,
          "non-finite points dropped, the rest clamped: %d points", n);
    memset(c, 0, W * H);
    ink_draw(c, W, H, W, 0, 0, &ink, ink.n_strokes - 1, ink.n_strokes, INK_BRUSH_RADIUS);
    CHECK(c[60 * W + 5] == 255 && c[60 * W + 195] == 255, "a line from far left to far right crosses the canvas");
    CHECK(ink_add_stroke(&ink, NULL, 0, err) == 0, "a stroke with no points");
    memset(c, 0, W * H);
    ink_draw(c, W, H, W, 0, 0, &ink, ink.n_strokes - 1, ink.n_strokes, INK_BRUSH_RADIUS);
    CHECK(ink_sum(c, W * H) == 0, "draws nothing");
    /* undo drops the last stroke; the limit on strokes is kept and the drawing left as it was */
    int before = ink.n_strokes;
    CHECK(ink_undo(&ink) == 1 && ink.n_strokes == before - 1, "undo");
    ink_clear(&ink);
    CHECK(ink_undo(&ink) == 0, "nothing to undo");
    int full = 0;
    for (int i = 0; i < INK_MAX_STROKES + 5; i++) full += ink_begin(&ink, (float)(i % W), 5, err) != 0;
    CHECK(full == 5 && ink.n_strokes == INK_MAX_STROKES && strstr(err, "most strokes"), "%d strokes refused: %s", full, err);
    ink_free(&ink);
    free(c), free(d);
}

/* parses text; returns 0 and fills set, or -1 with err */
static int parse(pen_set *s, const char *text, char *err) { return pen_parse(s, text, strlen(text), "t.tra", err); }

void test_pen(void) {
    char err[ERR_LEN];
    pen_set s;
    const char *good = ".INCLUDE dene.doc\n.SEGMENT DIGIT 0 ? \"8\"\n.COMMENT 8 12  224\n.PEN_DOWN\n 10 20\n 30 40\n.PEN_UP\n"
                       ".DT 100\n.SEGMENT DIGIT 1-2 ? \"4\"\r\n.COMMENT 4 3 7\r\n.PEN_DOWN\n 0 0\n 0 100\n.PEN_UP\n.PEN_DOWN\n.PEN_UP\n";
    CHECK(parse(&s, good, err) == 0, "good file: %s", err);
    if (s.n_digits == 2) {
        CHECK(s.digit[0].label == 8 && s.digit[0].writer == 12 && s.digit[0].sample == 224 && s.digit[0].blocks == 1,
              "digit 0");
        CHECK(s.digit[1].label == 4 && s.digit[1].writer == 3 && s.digit[1].block0 == 1 && s.digit[1].blocks == 2,
              "digit 1");
        CHECK(s.n_pt == 4 && s.n_blocks == 3 && s.pt[1].x == 30 && s.pt[1].y == 40, "points");
        /* placing: y turned down, the points scaled to the height asked for, at the place asked for */
        ink_t ink;
        ink_init(&ink);
        CHECK(pen_place(&s, 1, 1, 200, 50, 10, &ink, err) == 0, "place: %s", err);
        CHECK(ink.n_strokes == 2 && ink.end[0] == 2 && ink.end[1] == 2, "two strokes, the second empty");
        CHECK(ink.pt[0].x == 50 && ink.pt[0].y == 210 && ink.pt[1].y == 10, "flipped: (%g, %g) (%g, %g)", ink.pt[0].x,
              ink.pt[0].y, ink.pt[1].x, ink.pt[1].y);
        ink_free(&ink);
    } else {
        CHECK(0, "want 2 digits, got %d", s.n_digits);
    }
    pen_free(&s);
    /* a stroke file without segments is one drawing of every block */
    CHECK(parse(&s, ".PEN_DOWN\n1.5 2\n3 4e1\n.PEN_UP\n.PEN_DOWN\n5 6\n.PEN_UP\n", err) == 0 && s.n_digits == 1 &&
              s.digit[0].label == -1 && s.digit[0].blocks == 2 && s.pt[1].y == 40,
          "a drawing: %s", err);
    pen_free(&s);
    /* every kind of broken file: its name, the line and what is wrong, and nothing returned */
    static const struct {
        const char *text, *want;
    } bad[] = {
        {".PEN_DOWN\n 1 2\n 3 4\n", "t.tra:1: .PEN_DOWN is never closed"},
        {" 1 2\n", "t.tra:1: a point outside"},
        {".PEN_DOWN\n 1 x\n.PEN_UP\n", "t.tra:2: a point must be two numbers"},
        {".PEN_DOWN\n 1 2 3\n.PEN_UP\n", "t.tra:2: a point must be two numbers"},
        {".PEN_DOWN\n 1 nan\n.PEN_UP\n", "t.tra:2: a point must be two numbers"},
        {".PEN_DOWN\n 1 200000\n.PEN_UP\n", "t.tra:2: a coordinate is out of range"},
        {".PEN_UP\n", "t.tra:1: .PEN_UP without"},
        {".PEN_DOWN\n.PEN_DOWN\n", "t.tra:2: .PEN_DOWN inside"},
        {"\n\n.SEGMENT DIGIT 0-3 ? \"1\"\n.PEN_DOWN\n1 1\n.PEN_UP\n", "t.tra:3: .SEGMENT names pen-down blocks"},
        {".SEGMENT DIGIT 2-1 ? \"1\"\n", "t.tra:1: .SEGMENT: the blocks"},
        {".SEGMENT DIGIT 0 ? \"x\"\n", "t.tra:1: .SEGMENT: the label"},
        {".SEGMENT DIGIT 0 ? 7\n", "t.tra:1: .SEGMENT: the label"},
        {".SEGMENT DIGIT\n", "t.tra:1: .SEGMENT needs"},
        {".SEGMENT DIGIT 0 ? \"1\"\n.COMMENT 2 5 1\n", "t.tra:2: .COMMENT gives another label"},
        {".SEGMENT DIGIT 0 ? \"1\"\n.COMMENT 1 99 1\n", "t.tra:2: .COMMENT: the writer"},
        {".DT 100\n", "t.tra: no strokes"},
        {"", "t.tra: no strokes"},
        {".PEN_DOWN\n 1 2\0\n.PEN_UP\n", "t.tra:2: a NUL byte"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t len = strlen(bad[i].text);
        if (strstr(bad[i].want, "NUL")) len += 1 + strlen(bad[i].text + len + 1);
        err[0] = 0;
        int rc = pen_parse(&s, bad[i].text, len, "t.tra", err);
        CHECK(rc == -1 && strstr(err, bad[i].want) && s.digit == NULL && s.pt == NULL && s.n_digits == 0,
              "case %zu: rc %d, '%s', want '%s'", i, rc, err, bad[i].want);
    }
    CHECK(pen_load(&s, "/nonexistent/strokes.tra", err) == -1 && strstr(err, "/nonexistent/strokes.tra"), "missing file: %s", err);

    /* the committed data: 7,494 digits by 30 writers, 10 in each part of the split */
    if (pen_load(&s, PEN_DATA, err)) {
        CHECK(0, "%s", err);
        return;
    }
    int per[3] = {0}, blocks = 0, label_n[10] = {0};
    uint32_t writers = 0;
    for (int i = 0; i < s.n_digits; i++) {
        const pen_digit *d = &s.digit[i];
        writers |= 1u << d->writer;
        per[0] += pen_in(PEN_TEST_WRITERS, d->writer), per[1] += pen_in(PEN_DEV_WRITERS, d->writer);
        per[2] += pen_in(PEN_TRAIN_WRITERS, d->writer);
        blocks += d->blocks, label_n[d->label]++;
    }
    CHECK(s.n_digits == 7494 && s.n_blocks == 9433 && blocks == 9433, "%d digits, %d blocks", s.n_digits, s.n_blocks);
    CHECK(writers == (PEN_TEST_WRITERS | PEN_DEV_WRITERS | PEN_TRAIN_WRITERS), "writers %08x", writers);
    CHECK(per[0] + per[1] + per[2] == 7494 && per[0] > 2400 && per[1] > 2400 && per[2] > 2400, "split %d %d %d", per[0],
          per[1], per[2]);
    CHECK(label_n[0] > 700 && label_n[9] > 700, "every digit is there");
    pen_free(&s);
}

/* MNIST digits traced into strokes (src/skeleton.c): a bar is one straight stroke down its middle, a
 * ring one closed stroke round it, a blank image none; redrawn, a traced digit keeps its shape */
void test_skeleton(void) {
    uint8_t img[IMG_PIXELS];
    ink_t ink;
    ink_init(&ink);
    char err[ERR_LEN];
    memset(img, 0, sizeof img);
    for (int y = 4; y < 24; y++)
        for (int x = 12; x < 15; x++) img[y * 28 + x] = 255; /* a bar 3 wide, rows 4..23 */
    int n = skeleton_trace(img, &ink, err), len = 0;
    const ink_point *p = n == 1 ? ink_stroke(&ink, 0, &len) : NULL;
    CHECK(n == 1 && len > 10, "a bar is one stroke: %d strokes", n);
    for (int i = 0; p && i < len; i++) CHECK(fabsf(p[i].x - 13.5f) < 1.0f && p[i].y > 3 && p[i].y < 25, "on the bar's centre line: (%g, %g)", p[i].x, p[i].y);
    memset(img, 0, sizeof img);
    for (int y = 0; y < 28; y++)
        for (int x = 0; x < 28; x++) {
            const float d = hypotf(x + 0.5f - 14, y + 0.5f - 14);
            img[y * 28 + x] = d > 6 && d < 9 ? 255 : 0; /* a ring of radius 7.5 */
        }
    n = skeleton_trace(img, &ink, err);
    p = n >= 1 ? ink_stroke(&ink, 0, &len) : NULL;
    float worst = 0;
    for (int i = 0; p && i < len; i++) worst = fmaxf(worst, fabsf(hypotf(p[i].x - 14, p[i].y - 14) - 7.5f));
    CHECK(n == 1 && len > 30 && worst < 1.2f, "a ring is one stroke round it: %d strokes, %d points, off by %g", n, len, worst);
    memset(img, 0, sizeof img);
    CHECK(skeleton_trace(img, &ink, err) == 0 && ink.n_strokes == 0, "a blank image has no strokes");
    ink_free(&ink);
}

/* numbers of one writer's digits on the wide canvas (pen_compose_number): inside the canvas, digit
 * after digit, apart or touching as asked; training images from pen digits: reproducible, and the
 * styles drawn only onto the digits they belong to */
void test_pen_compose(void) {
    char err[ERR_LEN];
    pen_set s;
    if (pen_load(&s, PEN_DATA, err)) {
        CHECK(0, "%s", err);
        return;
    }
    int which[8], n = 0;
    for (int i = 0; i < s.n_digits && n < 8; i++)
        if (s.digit[i].writer == 1) which[n++] = i;
    ink_t ink, again;
    ink_init(&ink), ink_init(&again);
    for (int touch = 0; touch < 2; touch++) {
        const float lo = touch ? -2.0f : 1.5f, hi = touch ? 0.0f : 8.0f;
        rng_t r = rng_derive(5, (uint64_t)touch), r2 = r;
        int first[9];
        CHECK(pen_compose_number(&s, which, 8, lo, hi, 0, &r, &ink, first, err) == 0, "compose: %s", err);
        CHECK(pen_compose_number(&s, which, 8, lo, hi, 0, &r2, &again, NULL, err) == 0 && again.n_pt == ink.n_pt &&
                  !memcmp(again.pt, ink.pt, sizeof *ink.pt * (size_t)ink.n_pt),
              "the same seed composes the same number");
        int blocks = 0;
        for (int k = 0; k < 8; k++) blocks += s.digit[which[k]].blocks;
        CHECK(ink.n_strokes == blocks, "every stroke of every digit: %d of %d", ink.n_strokes, blocks);
        float prev_x1 = -1e9f;
        for (int k = 0, st = 0; k < 8; st += s.digit[which[k]].blocks, k++) {
            CHECK(first[k] == st && first[k + 1] == st + s.digit[which[k]].blocks, "digit %d's strokes: %d..%d, not %d..%d",
                  k, first[k], first[k + 1], st, st + s.digit[which[k]].blocks);
            float x0 = 1e9f, x1 = -1e9f, y0 = 1e9f, y1 = -1e9f;
            for (int q = st; q < st + s.digit[which[k]].blocks; q++) {
                float a, b, c, d;
                if (ink_stroke_box(&ink, q, &a, &b, &c, &d)) continue;
                x0 = fminf(x0, a), y0 = fminf(y0, b), x1 = fmaxf(x1, c), y1 = fmaxf(y1, d);
            }
            CHECK(x0 >= INK_BRUSH_RADIUS && x1 <= PEN_WIDE_W - INK_BRUSH_RADIUS && y0 >= INK_BRUSH_RADIUS &&
                      y1 <= PEN_CANVAS_H - INK_BRUSH_RADIUS,
                  "digit %d inside the canvas: %g..%g x %g..%g", k, x0, x1, y0, y1);
            /* the gap between ink boxes (points and brush) */
            const float gap = x0 - prev_x1 - 2 * INK_BRUSH_RADIUS, h = y1 - y0;
            if (k) CHECK(touch ? gap <= 0.5f && gap >= -0.15f * h : gap > 0.0f, "%s: gap %g before digit %d (height %g)",
                         touch ? "touching" : "apart", gap, k, h);
            prev_x1 = x1;
        }
    }
    /* training images */
    pen_aug_params p;
    pen_aug_defaults(&p);
    float a[IMG_PIXELS], b[IMG_PIXELS];
    rng_t r1 = rng_derive(9, 1), r2 = rng_derive(9, 1);
    CHECK(pen_render_input(&s, which[0], 1, &p, &r1, a, err) == 0 && pen_render_input(&s, which[0], 1, &p, &r2, b, err) == 0 &&
              !memcmp(a, b, sizeof a),
          "a training image is the same for the same stream");
    p.flag_prob = p.bar_prob = p.base_prob = 1.0f;
    int changed[N_CLASSES] = {0}, seen[N_CLASSES] = {0};
    for (int i = 0; i < s.n_digits; i += 7) {
        const int d = s.digit[i].label;
        r1 = rng_derive(9, (uint64_t)i), r2 = rng_derive(9, (uint64_t)i);
        pen_aug_params plain = p;
        plain.flag_prob = plain.bar_prob = plain.base_prob = 0.0f;
        if (pen_render_input(&s, i, 1, &plain, &r1, a, err) || pen_render_input(&s, i, 1, &p, &r2, b, err)) continue;
        seen[d]++, changed[d] += memcmp(a, b, sizeof a) != 0;
    }
    CHECK(changed[7] > 0 && changed[1] > 0, "styles drawn onto 7s (%d of %d) and 1s (%d of %d)", changed[7], seen[7],
          changed[1], seen[1]);
    for (int d = 0; d < N_CLASSES; d++)
        if (d != 1 && d != 7) CHECK(changed[d] == 0, "no style onto a %d (%d changed)", d, changed[d]);
    ink_free(&ink), ink_free(&again);
    pen_free(&s);
}

/* the pen digits, the shipped model and a workspace of batch 1 for the tests that read pen digits;
 * -1 (a failed check, nothing left to free) when one of them cannot be had */
static int pen_and_model(pen_set *s, model_t *m, workspace_t *ws) {
    char err[ERR_LEN];
    if (pen_load(s, PEN_DATA, err)) {
        CHECK(0, "%s", err);
        return -1;
    }
    const int loaded = model_load(m, test_model_path(), err) == 0;
    if (!loaded || workspace_init(ws, m, 1, 0, err)) {
        CHECK(0, "%s", err);
        if (loaded) model_free(m);
        pen_free(s);
        return -1;
    }
    return 0;
}

/* pen numbers read by the shipped model (pen_evaluate_numbers), and the same numbers with each digit's
 * own strokes read alone: the bound is counted on the digits' strokes, so a wrong split (a stroke of
 * the next digit, a stroke lost) would misread digits and lower it */
void test_pen_numbers(void) {
    char err[ERR_LEN];
    model_t m;
    workspace_t ws;
    pen_set s;
    if (pen_and_model(&s, &m, &ws)) return;
    enum { N = 24 };
    int alone = -1;
    const int plain = pen_evaluate_numbers(&m, &ws, &s, PEN_DEV_WRITERS, N, COMPOSE_APART_LO, COMPOSE_APART_HI, 0, 7,
                                           NULL, NULL, 0, err),
              right = pen_evaluate_numbers(&m, &ws, &s, PEN_DEV_WRITERS, N, COMPOSE_APART_LO, COMPOSE_APART_HI, 0, 7,
                                           &alone, NULL, 0, err);
    CHECK(plain >= 0 && plain == right, "the bound does not change the reading: %d and %d (%s)", plain, right, err);
    CHECK(alone >= N - 2 && alone <= N, "numbers of trained writers with each digit read alone: %d of %d", alone, N);
    CHECK(right >= N - 3, "numbers of trained writers read exactly: %d of %d", right, N);
    CHECK(pen_evaluate_numbers(&m, &ws, &s, 0, N, COMPOSE_APART_LO, COMPOSE_APART_HI, 0, 7, &alone, NULL, 0, err) < 0 &&
              strstr(err, "no digits"),
          "no writers: '%s'", err);
    workspace_free(&ws);
    model_free(&m);
    pen_free(&s);
}

/* digits written small: a pen digit 45 canvas pixels tall leaves strokes half as wide as itself
 * (the brush is 24 pixels), which fill its loops; the reader draws such a piece again from its
 * points as a larger digit would be, so it reads them about as well as large ones. Its box on
 * the canvas stays that of the ink drawn */
void test_pen_small(void) {
    char err[ERR_LEN];
    model_t m;
    workspace_t ws;
    pen_set s;
    if (pen_and_model(&s, &m, &ws)) return;
    static reading rd;
    ink_t ink;
    ink_init(&ink);
    int n = 0, small = 0, large = 0, boxed = 0;
    for (int i = 0; i < s.n_digits && n < 400; i += 5) {
        const pen_digit *d = &s.digit[i];
        if (!pen_in(PEN_DEV_WRITERS, d->writer) || d->label < 0) continue;
        n++;
        if (pen_place(&s, i, 1, 45.0f, 200.0f, 150.0f, &ink, err) ||
            reader_read_ink(&m, &ws, &ink, 480, 360, 0, NULL, &rd, err)) {
            CHECK(0, "%s", err);
            break;
        }
        small += rd.n == 1 && rd.digit[0] == d->label;
        float x0 = 1e9f, y0 = 1e9f, x1 = -1e9f, y1 = -1e9f;
        for (int k = 0; k < ink.n_strokes; k++) {
            float a, b, c, e;
            if (ink_stroke_box(&ink, k, &a, &b, &c, &e)) continue;
            x0 = fminf(x0, a), y0 = fminf(y0, b), x1 = fmaxf(x1, c), y1 = fmaxf(y1, e);
        }
        const float R = INK_BRUSH_RADIUS + 1;
        boxed += rd.n == 1 && rd.info[0].x0 >= x0 - R && rd.info[0].x1 <= x1 + R && rd.info[0].y0 >= y0 - R &&
                 rd.info[0].y1 <= y1 + R && rd.info[0].y1 - rd.info[0].y0 >= 45 && rd.info[0].y1 - rd.info[0].y0 <= 45 + 2 * R;
        if (pen_place(&s, i, 1, 220.0f, 120.0f, 60.0f, &ink, err) ||
            reader_read_ink(&m, &ws, &ink, 480, 360, 0, NULL, &rd, err)) {
            CHECK(0, "%s", err);
            break;
        }
        large += rd.n == 1 && rd.digit[0] == d->label;
    }
    printf("  dev writers' digits 45 pixels tall: %d of %d right; 220 pixels tall: %d\n", small, n, large);
    CHECK(n == 400 && small >= large - 4, "small digits read as well as large ones, within 1%%: %d and %d of %d", small,
          large, n);
    CHECK(boxed == n, "a small digit's box is that of its ink on the canvas: %d of %d", boxed, n);
    ink_free(&ink);
    workspace_free(&ws);
    model_free(&m);
    pen_free(&s);
}
