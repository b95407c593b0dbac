#include "ink.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void ink_init(ink_t *ink) { memset(ink, 0, sizeof *ink); }

void ink_free(ink_t *ink) {
    free(ink->pt);
    free(ink->end);
    ink_init(ink);
}

void ink_clear(ink_t *ink) { ink->n_pt = ink->n_strokes = 0; }

static float clamp_coord(float v) { return v < -INK_COORD_MAX ? -INK_COORD_MAX : v > INK_COORD_MAX ? INK_COORD_MAX : v; }

/* room for `pts` more points and `strokes` more strokes */
static int reserve(ink_t *ink, int pts, int strokes, char *err) {
    if (pts > INK_MAX_POINTS - ink->n_pt) return set_error(err, "the drawing has the most points it can hold (%d)", INK_MAX_POINTS);
    if (strokes > INK_MAX_STROKES - ink->n_strokes)
        return set_error(err, "the drawing has the most strokes it can hold (%d)", INK_MAX_STROKES);
    if (ink->n_pt + pts > ink->cap_pt) {
        int cap = ink->cap_pt ? ink->cap_pt : 256;
        while (cap < ink->n_pt + pts) cap *= 2;
        if (cap > INK_MAX_POINTS) cap = INK_MAX_POINTS;
        ink_point *p = realloc(ink->pt, sizeof *p * (size_t)cap);
        if (!p) return set_error(err, "out of memory for the strokes");
        ink->pt = p, ink->cap_pt = cap;
    }
    if (ink->n_strokes + strokes > ink->cap_strokes) {
        int cap = ink->cap_strokes ? ink->cap_strokes : 16;
        while (cap < ink->n_strokes + strokes) cap *= 2;
        if (cap > INK_MAX_STROKES) cap = INK_MAX_STROKES;
        int *e = realloc(ink->end, sizeof *e * (size_t)cap);
        if (!e) return set_error(err, "out of memory for the strokes");
        ink->end = e, ink->cap_strokes = cap;
    }
    return 0;
}

int ink_begin(ink_t *ink, float x, float y, char *err) {
    if (!isfinite(x) || !isfinite(y)) return set_error(err, "a stroke cannot start at a point that is not a number");
    if (reserve(ink, 1, 1, err)) return -1;
    ink->pt[ink->n_pt++] = (ink_point){clamp_coord(x), clamp_coord(y)};
    ink->end[ink->n_strokes++] = ink->n_pt;
    return 0;
}

int ink_extend(ink_t *ink, float x, float y, char *err) {
    if (!ink->n_strokes) return set_error(err, "no stroke to extend");
    if (!isfinite(x) || !isfinite(y)) return 1;
    x = clamp_coord(x), y = clamp_coord(y);
    int n;
    const ink_point *s = ink_stroke(ink, ink->n_strokes - 1, &n);
    if (n && fabsf(s[n - 1].x - x) < 0.5f && fabsf(s[n - 1].y - y) < 0.5f) return 1;
    if (reserve(ink, 1, 0, err)) return -1;
    ink->pt[ink->n_pt++] = (ink_point){x, y};
    ink->end[ink->n_strokes - 1] = ink->n_pt;
    return 0;
}

int ink_add_stroke(ink_t *ink, const ink_point *pts, int n, char *err) {
    if (n < 0 || (n > 0 && !pts)) return set_error(err, "a stroke needs its points");
    if (reserve(ink, n, 1, err)) return -1;
    for (int i = 0; i < n; i++)
        if (isfinite(pts[i].x) && isfinite(pts[i].y)) ink->pt[ink->n_pt++] = (ink_point){clamp_coord(pts[i].x), clamp_coord(pts[i].y)};
    ink->end[ink->n_strokes++] = ink->n_pt;
    return 0;
}

int ink_undo(ink_t *ink) {
    if (!ink->n_strokes) return 0;
    ink->n_strokes--;
    ink->n_pt = ink->n_strokes ? ink->end[ink->n_strokes - 1] : 0;
    return 1;
}

void ink_segment(uint8_t *canvas, int w, int h, int stride, int ox, int oy, ink_point a, ink_point b, float r) {
    const float dx = b.x - a.x, dy = b.y - a.y, len2 = dx * dx + dy * dy;
    /* the capsule's box in canvas pixels, clamped before it becomes an int */
    float fx0 = floorf(fminf(a.x, b.x) - r - 1) - (float)ox, fx1 = ceilf(fmaxf(a.x, b.x) + r + 1) - (float)ox;
    float fy0 = floorf(fminf(a.y, b.y) - r - 1) - (float)oy, fy1 = ceilf(fmaxf(a.y, b.y) + r + 1) - (float)oy;
    if (!(fx1 >= 0 && fy1 >= 0 && fx0 <= (float)(w - 1) && fy0 <= (float)(h - 1))) return; /* also NaN */
    const int x0 = fx0 < 0 ? 0 : (int)fx0, y0 = fy0 < 0 ? 0 : (int)fy0;
    const int x1 = fx1 > (float)(w - 1) ? w - 1 : (int)fx1, y1 = fy1 > (float)(h - 1) ? h - 1 : (int)fy1;
    for (int y = y0; y <= y1; y++) {
        uint8_t *row = canvas + (long)y * stride;
        for (int x = x0; x <= x1; x++) {
            float px = (float)(x + ox) + 0.5f - a.x, py = (float)(y + oy) + 0.5f - a.y;
            float t = len2 > 0 ? (px * dx + py * dy) / len2 : 0.0f;
            t = t < 0 ? 0 : t > 1 ? 1 : t;
            float ex = px - t * dx, ey = py - t * dy;
            float cov = r + 0.5f - sqrtf(ex * ex + ey * ey);
            if (cov <= 0) continue;
            uint8_t v = (uint8_t)(cov >= 1 ? 255 : lroundf(cov * 255));
            if (v > row[x]) row[x] = v;
        }
    }
}

/* not inlined: the reader draws strokes from two places, and the page loads the code once (a call per stroke costs nothing) */
__attribute__((noinline)) void ink_draw_stroke(uint8_t *canvas, int w, int h, int stride, int ox, int oy, const ink_point *pts, int n,
                                              float r) {
    for (int i = 0; i < n; i++) ink_segment(canvas, w, h, stride, ox, oy, pts[i > 0 ? i - 1 : 0], pts[i], r);
}

void ink_draw(uint8_t *canvas, int w, int h, int stride, int ox, int oy, const ink_t *ink, int s0, int s1, float r) {
    for (int s = s0 < 0 ? 0 : s0; s < s1 && s < ink->n_strokes; s++) {
        int n;
        const ink_point *p = ink_stroke(ink, s, &n);
        ink_draw_stroke(canvas, w, h, stride, ox, oy, p, n, r);
    }
}

void ink_render(uint8_t *canvas, int w, int h, const ink_t *ink) {
    memset(canvas, 0, (size_t)w * (size_t)h);
    ink_draw(canvas, w, h, w, 0, 0, ink, 0, ink->n_strokes, INK_BRUSH_RADIUS);
}

int ink_stroke_box(const ink_t *ink, int s, float *x0, float *y0, float *x1, float *y1) {
    int n;
    const ink_point *p = ink_stroke(ink, s, &n);
    if (n == 0) return -1;
    *x0 = *x1 = p[0].x, *y0 = *y1 = p[0].y;
    for (int i = 1; i < n; i++) {
        *x0 = fminf(*x0, p[i].x), *x1 = fmaxf(*x1, p[i].x);
        *y0 = fminf(*y0, p[i].y), *y1 = fmaxf(*y1, p[i].y);
    }
    return 0;
}
