/* libFuzzer harness: the stroke-file (UNIPEN) parser, and what is done with
 * what it accepts: each digit placed and drawn as the pen-digit evaluation
 * does, and the whole file as `mnist classify --strokes FILE` reads it (every
 * pen-down block a stroke of the page's ink, drawn on the page's canvas) and
 * as the page would save it again (pen_format, read back exactly). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ink.h"
#include "pen.h"

/* the pixels of the brush's boxes around ink's segments on a w×h canvas: what ink_render() visits */
static double render_cost(const ink_t *ink, int w, int h) {
    const double R = INK_BRUSH_RADIUS + 2;
    double cost = 0;
    for (int s = 0; s < ink->n_strokes; s++) {
        int n;
        const ink_point *p = ink_stroke(ink, s, &n);
        for (int i = 0; i < n; i++) {
            const ink_point a = p[i ? i - 1 : 0], b = p[i];
            const double x0 = fmax(fmin(a.x, b.x) - R, 0), x1 = fmin(fmax(a.x, b.x) + R, w);
            const double y0 = fmax(fmin(a.y, b.y) - R, 0), y1 = fmin(fmax(a.y, b.y) + R, h);
            if (x1 > x0 && y1 > y0) cost += (x1 - x0 + 1) * (y1 - y0 + 1);
        }
    }
    return cost;
}

/* the file as a drawing on the one-digit canvas, as the CLI reads it */
static void check_drawing(const pen_set *s) {
    static uint8_t canvas[PEN_CANVAS_W * PEN_CANVAS_H];
    char err[ERR_LEN];
    ink_t ink;
    ink_init(&ink);
    err[0] = 0;
    if (pen_strokes(s, &ink, err)) { /* too many strokes: the CLI says why */
        if (!err[0]) __builtin_trap();
        ink_free(&ink);
        return;
    }
    if (ink.n_strokes != s->n_blocks || ink.n_pt != s->n_pt) __builtin_trap();
    /* written out and read back: the same strokes, the same (clamped) points */
    char *text;
    size_t len;
    if (ink.n_pt <= 4096 && pen_format(&ink, &text, &len, err) == 0) {
        pen_set t;
        if (len != strlen(text) || pen_parse(&t, text, len, "again", err)) __builtin_trap();
        if (t.n_blocks != ink.n_strokes || t.n_pt != ink.n_pt || t.n_digits != 1) __builtin_trap();
        for (int b = 0; b < t.n_blocks; b++)
            if (t.block_end[b] != ink.end[b]) __builtin_trap();
        for (int i = 0; i < t.n_pt; i++)
            if (t.pt[i].x != ink.pt[i].x || t.pt[i].y != ink.pt[i].y) __builtin_trap();
        pen_free(&t);
        free(text);
    }
    /* drawn with the page's brush, when that is cheap: every point well inside the canvas is fully inked */
    if (render_cost(&ink, PEN_CANVAS_W, PEN_CANVAS_H) <= PEN_CANVAS_W * PEN_CANVAS_H) {
        ink_render(canvas, PEN_CANVAS_W, PEN_CANVAS_H, &ink);
        const float r = INK_BRUSH_RADIUS;
        for (int i = 0; i < ink.n_pt; i++) {
            const ink_point q = ink.pt[i];
            if (q.x >= r && q.y >= r && q.x < PEN_CANVAS_W - r && q.y < PEN_CANVAS_H - r &&
                canvas[(int)q.y * PEN_CANVAS_W + (int)q.x] != 255)
                __builtin_trap();
        }
    }
    ink_free(&ink);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[ERR_LEN];
    pen_set s;
    err[0] = 0;
    if (pen_parse(&s, (const char *)data, size, "fuzz", err)) {
        if (!err[0] || s.digit || s.pt) __builtin_trap(); /* a failure says why and returns nothing */
        return 0;
    }
    if (s.n_digits < 1 || s.n_blocks < 1) __builtin_trap();
    /* every digit it accepts can be placed and drawn */
    static uint8_t canvas[120 * 90];
    ink_t ink;
    ink_init(&ink);
    for (int i = 0; i < s.n_digits && i < 8; i++) {
        const pen_digit *d = &s.digit[i];
        if (d->block0 < 0 || d->blocks < 1 || d->block0 + d->blocks > s.n_blocks) __builtin_trap();
        if (pen_place(&s, i, i & 1, 60, 10, 10, &ink, err) == 0) {
            memset(canvas, 0, sizeof canvas);
            ink_draw(canvas, 120, 90, 120, 0, 0, &ink, 0, ink.n_strokes, 6.0f);
        }
    }
    ink_free(&ink);
    check_drawing(&s);
    pen_free(&s);
    return 0;
}
