#include "compose.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "augment.h"
#include "reader.h"

typedef struct {
    int x0, y0, x1, y1; /* ink box in the 28×28 source */
    float f;            /* scale, canvas pixels per source pixel */
    int w, h, x, y;     /* size and place on the canvas */
} placed;

int compose_number(const uint8_t *pixels, const int *which, int len, float gap_lo, float gap_hi, rng_t *r,
                   uint8_t **out, int *w, int *h, int *spans, char *err) {
    *out = NULL;
    if (!pixels || !which) return set_error(err, "compose_number: no digits given");
    if (len < 1 || len > 64) return set_error(err, "compose_number: %d digits (1 to 64 fit)", len);
    if (!(gap_lo <= gap_hi)) return set_error(err, "compose_number: gap range [%g, %g] is empty", gap_lo, gap_hi);
    if (gap_lo < -IMG_SIDE || gap_hi > 10 * IMG_SIDE)
        return set_error(err, "compose_number: gaps [%g, %g] outside [%d, %d] MNIST pixels", gap_lo, gap_hi, -IMG_SIDE,
                         10 * IMG_SIDE);
    placed p[64];
    const int margin = 8 * COMPOSE_SCALE, mid = (IMG_SIDE * COMPOSE_SCALE * 3) / 4 + margin;
    int x = margin, ymin = 1 << 30, ymax = 0;
    for (int i = 0; i < len; i++) {
        const uint8_t *img = pixels + (size_t)which[i] * IMG_PIXELS;
        placed *q = &p[i];
        q->x0 = IMG_SIDE, q->y0 = IMG_SIDE, q->x1 = -1, q->y1 = -1;
        for (int yy = 0; yy < IMG_SIDE; yy++)
            for (int xx = 0; xx < IMG_SIDE; xx++)
                if (img[yy * IMG_SIDE + xx]) {
                    if (xx < q->x0) q->x0 = xx;
                    if (xx > q->x1) q->x1 = xx;
                    if (yy < q->y0) q->y0 = yy;
                    if (yy > q->y1) q->y1 = yy;
                }
        if (q->x1 < 0) q->x0 = q->y0 = 0, q->x1 = q->y1 = 0; /* a blank image: a one-pixel nothing */
        q->f = COMPOSE_SCALE * rng_range(r, 0.85f, 1.15f);
        q->w = (int)ceilf((float)(q->x1 - q->x0 + 1) * q->f), q->h = (int)ceilf((float)(q->y1 - q->y0 + 1) * q->f);
        if (i) x += (int)lroundf(rng_range(r, gap_lo, gap_hi) * COMPOSE_SCALE);
        if (x < 0) x = 0;
        q->x = x;
        q->y = mid - q->h / 2 + (int)lroundf(rng_range(r, -0.12f, 0.12f) * IMG_SIDE * COMPOSE_SCALE);
        x += q->w;
        if (q->y < ymin) ymin = q->y;
        if (q->y + q->h > ymax) ymax = q->y + q->h;
    }
    /* shift so the ink sits `margin` from the top */
    const int W = x + margin, H = ymax - ymin + 2 * margin;
    if (W < 1 || H < 1) return set_error(err, "compose_number: a %d x %d canvas", W, H); /* cannot be: 64 digits fit */
    uint8_t *c = calloc((size_t)W * H, 1);
    if (!c) return set_error(err, "compose_number: out of memory for a %d x %d canvas", W, H);
    for (int i = 0; i < len; i++) {
        const uint8_t *src = pixels + (size_t)which[i] * IMG_PIXELS;
        float img[IMG_PIXELS];
        for (int k = 0; k < IMG_PIXELS; k++) img[k] = src[k];
        const placed *q = &p[i];
        for (int yy = 0; yy < q->h; yy++)
            for (int xx = 0; xx < q->w; xx++) {
                float v = augment_sample(img, IMG_SIDE, q->x0 + (xx + 0.5f) / q->f - 0.5f, q->y0 + (yy + 0.5f) / q->f - 0.5f);
                uint8_t b = (uint8_t)(v > 255 ? 255 : lroundf(v));
                uint8_t *d = &c[(size_t)(q->y + yy - ymin + margin) * W + q->x + xx];
                if (b > *d) *d = b;
            }
    }
    if (spans)
        for (int i = 0; i < len; i++) spans[2 * i] = p[i].x, spans[2 * i + 1] = p[i].x + p[i].w - 1;
    *out = c, *w = W, *h = H;
    return 0;
}

int compose_evaluate(model_t *m, workspace_t *ws, const uint8_t *pixels, const uint8_t *labels, int n, int n_seq,
                     float gap_lo, float gap_hi, uint64_t seed, char *err) {
    if (n < 1 || n_seq < 0) return set_error(err, "compose_evaluate: %d numbers from %d digits", n_seq, n);
    int right = 0;
    reading *rd = malloc(sizeof *rd);
    if (!rd) return set_error(err, "compose_evaluate: out of memory");
    for (int s = 0; s < n_seq; s++) {
        rng_t r = rng_derive(seed, (uint64_t)s);
        int len = 2 + (int)rng_below(&r, 7), which[8];
        char truth[9];
        for (int i = 0; i < len; i++) which[i] = (int)rng_below(&r, (uint32_t)n), truth[i] = (char)('0' + labels[which[i]]);
        truth[len] = 0;
        uint8_t *canvas;
        int w, h;
        if (compose_number(pixels, which, len, gap_lo, gap_hi, &r, &canvas, &w, &h, NULL, err) ||
            reader_read(m, ws, canvas, w, h, w, rd, err)) {
            free(canvas), free(rd);
            return -1;
        }
        right += strcmp(rd->number, truth) == 0;
        free(canvas);
    }
    free(rd);
    return right;
}

/* ---- hard negatives ---------------------------------------------------------------- */

typedef struct {
    const int *spans; /* each digit's first and last column */
    int len;
    uint8_t *px; /* the pieces kept, 28×28 bytes each */
    int n, cap, failed;
} miner_t;

static void mine_piece(void *ctx, const reader_piece *piece) {
    miner_t *mn = ctx;
    const preprocess_info *info = piece->info;
    const float *input = piece->input;
    for (int i = 0; i < mn->len; i++) {
        int a0 = mn->spans[2 * i], a1 = mn->spans[2 * i + 1];
        int inter = (info->x1 < a1 ? info->x1 : a1) - (info->x0 > a0 ? info->x0 : a0) + 1;
        int uni = (info->x1 > a1 ? info->x1 : a1) - (info->x0 < a0 ? info->x0 : a0) + 1;
        if (inter > 0 && (float)inter >= COMPOSE_MINE_IOU * (float)uni) return; /* (close to) a digit */
    }
    if (mn->failed) return;
    if (mn->n == mn->cap) {
        int cap = mn->cap ? 2 * mn->cap : 64;
        uint8_t *p = realloc(mn->px, (size_t)cap * IMG_PIXELS);
        if (!p) {
            mn->failed = 1;
            return;
        }
        mn->px = p, mn->cap = cap;
    }
    uint8_t *d = mn->px + (size_t)mn->n++ * IMG_PIXELS;
    for (int k = 0; k < IMG_PIXELS; k++) {
        float v = input[k] * 255.0f;
        d[k] = (uint8_t)(v <= 0.0f ? 0 : v >= 255.0f ? 255 : lroundf(v));
    }
}

int compose_mine(model_t *m, const uint8_t *pixels, const int *idx, int n, int n_seq, uint64_t seed, uint8_t **out,
                 int *n_out, char *err) {
    *out = NULL, *n_out = 0;
    if (!m || !pixels || !idx) return set_error(err, "compose_mine: no model or digits given");
    if (n < 1 || n_seq < 1) return set_error(err, "compose_mine: %d numbers from %d digits", n_seq, n);
    miner_t *per = calloc((size_t)n_seq, sizeof *per); /* one per number, joined in order at the end */
    if (!per) return set_error(err, "compose_mine: out of memory");
    int failed = 0;
    char why[ERR_LEN] = ""; /* the first failing thread's reason */
#pragma omp parallel reduction(| : failed)
    {
        workspace_t ws;
        memset(&ws, 0, sizeof ws);
        reading *rd = malloc(sizeof *rd);
        char e[ERR_LEN] = "compose_mine: out of memory";
        if (!rd || workspace_init(&ws, m, 1, 0, e)) failed = 1;
#pragma omp for schedule(dynamic)
        for (int s = 0; s < n_seq; s++) {
            if (failed) continue;
            rng_t r = rng_derive(seed, (uint64_t)s);
            int len = 2 + (int)rng_below(&r, 7), which[8], spans[16];
            for (int i = 0; i < len; i++) which[i] = idx[rng_below(&r, (uint32_t)n)];
            const int touch = s & 1;
            uint8_t *canvas;
            int w, h;
            if (compose_number(pixels, which, len, touch ? COMPOSE_TOUCH_LO : COMPOSE_APART_LO,
                               touch ? COMPOSE_TOUCH_HI : COMPOSE_APART_HI, &r, &canvas, &w, &h, spans, e)) {
                failed = 1;
                continue;
            }
            per[s].spans = spans, per[s].len = len;
            if (reader_read_pieces(m, &ws, canvas, w, h, w, 1, mine_piece, &per[s], rd, e)) failed = 1;
            if (per[s].failed) failed = 1, snprintf(e, sizeof e, "compose_mine: out of memory for the pieces");
            free(canvas);
        }
        if (failed) {
#pragma omp critical(compose_mine_why)
            if (!why[0]) snprintf(why, sizeof why, "%s", e);
        }
        workspace_free(&ws);
        free(rd);
    }
    long total = 0;
    for (int s = 0; s < n_seq; s++) total += per[s].n;
    uint8_t *all = failed || total > INT32_MAX / IMG_PIXELS ? NULL : malloc((size_t)(total ? total : 1) * IMG_PIXELS);
    if (all) {
        size_t at = 0;
        for (int s = 0; s < n_seq; s++) {
            if (per[s].n) memcpy(all + at, per[s].px, (size_t)per[s].n * IMG_PIXELS);
            at += (size_t)per[s].n * IMG_PIXELS;
        }
        *out = all, *n_out = (int)total;
    }
    for (int s = 0; s < n_seq; s++) free(per[s].px);
    free(per);
    if (all) return 0;
    return set_error(err, "%s", failed ? why : "compose_mine: out of memory joining the pieces");
}
