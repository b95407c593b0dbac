#include "skeleton.h"

#include <stdlib.h>
#include <string.h>

#include "augment.h"
#include "model.h"

#define S (2 * IMG_SIDE) /* the doubled image's side */

/* the 8 neighbours of (x, y), clockwise from north, 0 outside */
static void neighbours(const uint8_t *b, int x, int y, int *p) {
    static const int dx[8] = {0, 1, 1, 1, 0, -1, -1, -1}, dy[8] = {-1, -1, 0, 1, 1, 1, 0, -1};
    for (int k = 0; k < 8; k++) {
        const int xx = x + dx[k], yy = y + dy[k];
        p[k] = xx >= 0 && yy >= 0 && xx < S && yy < S && b[yy * S + xx];
    }
}

/* Zhang-Suen thinning of an S×S binary image, in place */
static void thin(uint8_t *b) {
    uint8_t del[S * S];
    for (int changed = 1; changed;) {
        changed = 0;
        for (int pass = 0; pass < 2; pass++) {
            int nd = 0;
            for (int y = 0; y < S; y++)
                for (int x = 0; x < S; x++) {
                    del[y * S + x] = 0;
                    if (!b[y * S + x]) continue;
                    int p[8], sum = 0, trans = 0;
                    neighbours(b, x, y, p);
                    for (int k = 0; k < 8; k++) sum += p[k], trans += !p[k] && p[(k + 1) & 7];
                    if (sum < 2 || sum > 6 || trans != 1) continue;
                    /* p[0] N, p[2] E, p[4] S, p[6] W */
                    if (pass == 0 && ((p[0] && p[2] && p[4]) || (p[2] && p[4] && p[6]))) continue;
                    if (pass == 1 && ((p[0] && p[2] && p[6]) || (p[0] && p[4] && p[6]))) continue;
                    del[y * S + x] = 1, nd++;
                }
            for (int i = 0; i < S * S; i++)
                if (del[i]) b[i] = 0;
            changed |= nd > 0;
        }
    }
}

static int degree(const uint8_t *b, int i) {
    int p[8], d = 0;
    neighbours(b, i % S, i / S, p);
    for (int k = 0; k < 8; k++) d += p[k];
    return d;
}

/* walks from pixel i through unvisited skeleton pixels, clearing them, into pts; returns the count */
static int walk(uint8_t *b, int i, ink_point *pts) {
    static const int dx[8] = {0, 1, 1, 1, 0, -1, -1, -1}, dy[8] = {-1, -1, 0, 1, 1, 1, 0, -1};
    int n = 0;
    while (i >= 0) {
        const int x = i % S, y = i / S;
        b[i] = 0;
        pts[n++] = (ink_point){(x + 0.5f) * 0.5f, (y + 0.5f) * 0.5f}; /* back to 28×28 coordinates */
        int next = -1;
        for (int k = 0; k < 8 && next < 0; k += 2) /* 4-neighbours first: the walk follows the line */
            if (x + dx[k] >= 0 && y + dy[k] >= 0 && x + dx[k] < S && y + dy[k] < S && b[(y + dy[k]) * S + x + dx[k]])
                next = (y + dy[k]) * S + x + dx[k];
        for (int k = 1; k < 8 && next < 0; k += 2)
            if (x + dx[k] >= 0 && y + dy[k] >= 0 && x + dx[k] < S && y + dy[k] < S && b[(y + dy[k]) * S + x + dx[k]])
                next = (y + dy[k]) * S + x + dx[k];
        i = next;
    }
    return n;
}

int skeleton_trace(const uint8_t *img, ink_t *out, char *err) {
    uint8_t b[S * S];
    float f[IMG_PIXELS];
    ink_point *pts = malloc(sizeof *pts * 2 * S * S), *sm = pts + S * S;
    ink_clear(out);
    if (!pts) return set_error(err, "out of memory tracing a digit");
    for (int i = 0; i < IMG_PIXELS; i++) f[i] = img[i];
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) b[y * S + x] = augment_sample(f, IMG_SIDE, (x + 0.5f) * 0.5f - 0.5f, (y + 0.5f) * 0.5f - 0.5f) > 128.0f;
    thin(b);
    int strokes = 0;
    for (;;) {
        int start = -1;
        for (int i = 0; i < S * S && start < 0; i++) /* an end point, so that a stroke runs end to end */
            if (b[i] && degree(b, i) == 1) start = i;
        for (int i = 0; i < S * S && start < 0; i++)
            if (b[i]) start = i;
        if (start < 0) break;
        const int n = walk(b, start, pts);
        if (n < 3) continue; /* a stray pixel or two */
        for (int k = 0; k < n; k++) { /* a three-point average, the ends kept */
            const ink_point a = pts[k > 0 ? k - 1 : k], c = pts[k + 1 < n ? k + 1 : k];
            sm[k] = k == 0 || k == n - 1 ? pts[k] : (ink_point){(a.x + pts[k].x + c.x) / 3.0f, (a.y + pts[k].y + c.y) / 3.0f};
        }
        if (ink_add_stroke(out, sm, n, err)) {
            strokes = -1;
            break;
        }
        strokes++;
    }
    free(pts);
    return strokes;
}

int skeleton_set(const uint8_t *pixels, const uint8_t *labels, const int *idx, int n, pen_set *out, char *err) {
    memset(out, 0, sizeof *out);
    ink_t *each = calloc((size_t)(n ? n : 1), sizeof *each);
    int *ok = calloc((size_t)(n ? n : 1), sizeof *ok), failed = 0;
    if (!each || !ok) {
        free(each), free(ok);
        return set_error(err, "out of memory tracing digits");
    }
#pragma omp parallel for schedule(dynamic, 64) reduction(| : failed)
    for (int i = 0; i < n; i++) {
        ink_init(&each[i]);
        const int k = skeleton_trace(pixels + (size_t)idx[i] * IMG_PIXELS, &each[i], NULL);
        failed |= k < 0;
        ok[i] = k > 0;
    }
    long pts = 0, blocks = 0, digits = 0;
    for (int i = 0; i < n; i++) pts += ok[i] ? each[i].n_pt : 0, blocks += ok[i] ? each[i].n_strokes : 0, digits += ok[i];
    if (!failed && (pts > PEN_MAX_POINTS || blocks > PEN_MAX_BLOCKS)) failed = 1;
    if (!failed) {
        out->pt = malloc(sizeof *out->pt * (size_t)(pts ? pts : 1));
        out->block_end = malloc(sizeof(int) * (size_t)(blocks ? blocks : 1));
        out->digit = malloc(sizeof *out->digit * (size_t)(digits ? digits : 1));
        failed = !out->pt || !out->block_end || !out->digit;
    }
    for (int i = 0; i < n && !failed; i++) {
        if (!ok[i]) continue;
        out->digit[out->n_digits++] = (pen_digit){labels[idx[i]], 1, idx[i], out->n_blocks, each[i].n_strokes};
        memcpy(out->pt + out->n_pt, each[i].pt, sizeof *out->pt * (size_t)each[i].n_pt);
        for (int s = 0; s < each[i].n_strokes; s++) out->block_end[out->n_blocks++] = out->n_pt + each[i].end[s];
        out->n_pt += each[i].n_pt;
    }
    for (int i = 0; i < n; i++) ink_free(&each[i]);
    free(each), free(ok);
    if (failed) {
        pen_free(out);
        return set_error(err, "out of memory tracing digits");
    }
    return 0;
}
