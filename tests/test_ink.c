/* Strokes and their ink (src/ink.c), and the pen-digit reader (src/pen.c):
 * the brush's coverage, bad points, limits, undo; the UNIPEN parser on good
 * and broken files, and the committed pen-digit data. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ink.h"
#include "pen.h"
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
