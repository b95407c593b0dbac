/* ink.h - strokes, and the ink they leave on a canvas.
 *
 * A drawing is a list of strokes in the order they were drawn; a stroke is the
 * list of points a pointer passed through between pen-down and pen-up, in
 * canvas pixels (x right, y down). ink_t keeps them in one growable point
 * array with the end of each stroke, so that undo is "drop the last stroke".
 *
 * The brush is the page's: every segment of a stroke is a capsule of radius
 * INK_BRUSH_RADIUS, anti-aliased by its distance to the segment (coverage
 * r + 0.5 - d, clamped to [0, 1]) and combined with the canvas by max. The
 * page, the desktop app, `mnist classify --strokes` and the pen-digit
 * evaluation all draw through these functions, so they see the same bytes
 * (tests/e2e/page.test.js checks the page against the native build).
 *
 * Bad points are handled, not trusted: non-finite coordinates are dropped,
 * coordinates are clamped to ±INK_COORD_MAX, and a stroke of one point is a
 * dot. Adding past INK_MAX_POINTS or INK_MAX_STROKES fails with a reason and
 * leaves the drawing as it was.
 */
#ifndef INK_H
#define INK_H

#include <stdint.h>

#include "error.h"

#define INK_BRUSH_RADIUS 12.0f  /* canvas pixels: a 250-pixel digit gets MNIST-like 2-pixel strokes */
#define INK_COORD_MAX 16384.0f  /* points are clamped to ±this */
#define INK_MAX_POINTS 65536
#define INK_MAX_STROKES 4096

typedef struct {
    float x, y;
} ink_point;

typedef struct {
    ink_point *pt;   /* every point, stroke after stroke */
    int *end;        /* end[s]: one past the last point of stroke s */
    int n_pt, n_strokes;
    int cap_pt, cap_strokes;
} ink_t;

/* an empty drawing (no allocation until the first point) */
void ink_init(ink_t *ink);
void ink_free(ink_t *ink);
void ink_clear(ink_t *ink);
/* starts a stroke at (x, y); -1 with a reason when the drawing is full (it is left as it was) */
int ink_begin(ink_t *ink, float x, float y, char *err);
/* adds (x, y) to the last stroke; points within half a pixel of the last one are skipped (returns 1);
 * -1 with a reason when full or there is no stroke */
int ink_extend(ink_t *ink, float x, float y, char *err);
/* a whole stroke of n points (n may be 0: a stroke with no ink); -1 when it does not fit */
int ink_add_stroke(ink_t *ink, const ink_point *pts, int n, char *err);
/* drops the last stroke; 0 when there was none */
int ink_undo(ink_t *ink);
/* the points of stroke s, and how many */
static inline const ink_point *ink_stroke(const ink_t *ink, int s, int *n) {
    int a = s ? ink->end[s - 1] : 0;
    *n = ink->end[s] - a;
    return a ? ink->pt + a : ink->pt; /* strokes with no points at all: pt is NULL, and NULL + 0 is undefined */
}

/* Stamps the capsule from a to b (radius r) onto canvas (w×h bytes, row stride
 * stride), whose pixel (x, y) lies at (x + ox, y + oy) in stroke coordinates. */
void ink_segment(uint8_t *canvas, int w, int h, int stride, int ox, int oy, ink_point a, ink_point b, float r);
/* every segment of one stroke of n points (a single point is a dot; 0 points draw nothing) */
void ink_draw_stroke(uint8_t *canvas, int w, int h, int stride, int ox, int oy, const ink_point *pts, int n, float r);
/* strokes [s0, s1) of ink, added to the canvas */
void ink_draw(uint8_t *canvas, int w, int h, int stride, int ox, int oy, const ink_t *ink, int s0, int s1, float r);
/* clears a w×h canvas (stride w) and draws every stroke with the page's brush */
void ink_render(uint8_t *canvas, int w, int h, const ink_t *ink);

/* the box of stroke s's points (not of its ink: add the brush radius for that); 0, or -1 for no points */
int ink_stroke_box(const ink_t *ink, int s, float *x0, float *y0, float *x1, float *y1);

#endif
