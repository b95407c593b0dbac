#include "preprocess.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

static int valid_canvas(const uint8_t *gray, int w, int h, int stride) {
    return gray && w >= 1 && h >= 1 && stride >= w && w <= 16384 && h <= 16384;
}

int preprocess_background(const uint8_t *g, int w, int h, int stride, int *dark_ink) {
    if (!valid_canvas(g, w, h, stride)) return -1;
    /* the median of the border pixels, from a histogram: robust to strokes that touch the edge */
    long hist[256] = {0}, n = 0;
    for (int x = 0; x < w; x++) hist[g[x]]++, hist[g[(long)(h - 1) * stride + x]]++, n += 2;
    for (int y = 1; y < h - 1; y++) hist[g[(long)y * stride]]++, hist[g[(long)y * stride + w - 1]]++, n += 2;
    long acc = 0;
    int bg = 0;
    for (int v = 0; v < 256; v++)
        if ((acc += hist[v]) * 2 >= n) {
            bg = v;
            break;
        }
    if (dark_ink) *dark_ink = bg >= 128;
    return bg;
}

/* Area-average resampling along one axis: source pixel i covers [i, i+1),
 * output bin j covers [j·f, (j+1)·f) with f = n/m, and each piece k where
 * they overlap adds width[k] × source[src[k]] to bin dst[k]. Walking both
 * partitions at once handles shrinking and enlarging alike: at most n+m pieces. */
static int area_pieces(int n, int m, int *src, int *dst, float *width) {
    const double f = (double)n / (double)m;
    int i = 0, j = 0, k = 0;
    double pos = 0.0;
    while (i < n && j < m) {
        double end_i = i + 1.0, end_j = (j + 1 == m) ? (double)n : (j + 1) * f;
        double end = end_i < end_j ? end_i : end_j;
        src[k] = i, dst[k] = j, width[k] = (float)(end - pos);
        k++;
        pos = end;
        if (end_i <= end) i++;
        if (end_j <= end) j++;
    }
    return k;
}

int preprocess_region(float *out, const uint8_t *gray, int stride, const uint8_t *mask, int mstride, int rx0, int ry0,
                      int rx1, int ry1, int bg, int dark, preprocess_info *info) {
    preprocess_info dummy;
    if (!info) info = &dummy;
    memset(info, 0, sizeof *info);
    if (!out || !gray || rx0 < 0 || ry0 < 0 || rx1 < rx0 || ry1 < ry0 || rx1 - rx0 >= 16384 || ry1 - ry0 >= 16384 ||
        bg < 0 || bg > 255)
        return -1;
    memset(out, 0, sizeof(float) * IMG_PIXELS);
    info->dark_ink = dark;
#define INK(x, y) \
    ((mask && !mask[(long)((y) - ry0) * mstride + ((x) - rx0)]) ? 0 \
                                              : (dark ? bg - gray[(long)(y) * stride + (x)] : gray[(long)(y) * stride + (x)] - bg))
    /* the ink's bounding box and its strongest value */
    int x0 = rx1 + 1, y0 = ry1 + 1, x1 = -1, y1 = -1, peak = 0;
    for (int y = ry0; y <= ry1; y++) {
        int rowmin = rx1 + 1, rowmax = -1;
        for (int x = rx0; x <= rx1; x++) {
            int ink = INK(x, y);
            if (ink < PREPROCESS_INK_MIN) continue;
            if (ink > peak) peak = ink;
            if (rowmin > rx1) rowmin = x;
            rowmax = x;
        }
        if (rowmax < 0) continue;
        if (rowmin < x0) x0 = rowmin;
        if (rowmax > x1) x1 = rowmax;
        if (y0 > ry1) y0 = y;
        y1 = y;
    }
    if (x1 < 0) return PREPROCESS_BLANK;
    info->x0 = x0, info->y0 = y0, info->x1 = x1, info->y1 = y1;

    /* scale the longer side to PREPROCESS_BOX pixels, each output pixel the
     * average of the source area it covers: rows first, then columns */
    const int cw = x1 - x0 + 1, ch = y1 - y0 + 1;
    const float scale = (float)PREPROCESS_BOX / (float)(cw > ch ? cw : ch);
    int ow = (int)lroundf(cw * scale), oh = (int)lroundf(ch * scale);
    ow = ow < 1 ? 1 : ow > PREPROCESS_BOX ? PREPROCESS_BOX : ow;
    oh = oh < 1 ? 1 : oh > PREPROCESS_BOX ? PREPROCESS_BOX : oh;
    info->scale = scale;
    const int nx = cw + ow, ny = ch + oh;
    int *idx = malloc(sizeof(int) * 2 * (size_t)(nx + ny));
    float *wid = malloc(sizeof(float) * (size_t)(nx + ny) + sizeof(float) * (size_t)cw);
    float *rows = calloc((size_t)ch * ow, sizeof(float));
    if (!idx || !wid || !rows) {
        free(idx), free(wid), free(rows);
        return -1;
    }
    int *xs = idx, *xd = idx + nx, *ys = idx + 2 * nx, *yd = ys + ny;
    float *xw = wid, *yw = wid + nx, *line = wid + nx + ny;
    const int kx = area_pieces(cw, ow, xs, xd, xw), ky = area_pieces(ch, oh, ys, yd, yw);
    const float inv_peak = 1.0f / (float)peak;
    for (int y = 0; y < ch; y++) {
        float *r = rows + (size_t)y * ow;
        for (int x = 0; x < cw; x++) {
            int ink = INK(x0 + x, y0 + y);
            line[x] = ink > 0 ? (float)ink * inv_peak : 0.0f;
        }
        for (int k = 0; k < kx; k++) r[xd[k]] += line[xs[k]] * xw[k];
    }
#undef INK
    float box[PREPROCESS_BOX * PREPROCESS_BOX] = {0};
    for (int k = 0; k < ky; k++) {
        const float *r = rows + (size_t)ys[k] * ow;
        float *b = box + yd[k] * ow;
        for (int x = 0; x < ow; x++) b[x] += r[x] * yw[k];
    }
    free(idx), free(wid), free(rows);
    const float area = ((float)cw / ow) * ((float)ch / oh); /* source pixels per output pixel */
    float mx = 0.0f;
    for (int i = 0; i < ow * oh; i++) {
        box[i] /= area;
        mx = box[i] > mx ? box[i] : mx;
    }
    if (mx <= 0.0f) return PREPROCESS_BLANK;

    /* contrast to [0, 1], then the centre of mass (pixel centres at i + 0.5) */
    double sum = 0.0, sx = 0.0, sy = 0.0;
    for (int y = 0; y < oh; y++)
        for (int x = 0; x < ow; x++) {
            float v = box[y * ow + x] /= mx;
            sum += v, sx += v * (x + 0.5), sy += v * (y + 0.5);
        }
    double cx = sx / sum, cy = sy / sum;
    int dx = (int)lround(IMG_SIDE / 2.0 - cx), dy = (int)lround(IMG_SIDE / 2.0 - cy);
    for (int y = 0; y < oh; y++)
        for (int x = 0; x < ow; x++) {
            int tx = x + dx, ty = y + dy;
            if (tx >= 0 && ty >= 0 && tx < IMG_SIDE && ty < IMG_SIDE) out[ty * IMG_SIDE + tx] = box[y * ow + x];
        }
    info->com_x = (float)(cx + dx), info->com_y = (float)(cy + dy);
    info->box_x = dx, info->box_y = dy, info->box_w = ow, info->box_h = oh;
    return PREPROCESS_OK;
}

int preprocess_canvas_masked(float *out, const uint8_t *gray, const uint8_t *mask, int w, int h, int stride,
                             preprocess_info *info) {
    if (info) memset(info, 0, sizeof *info);
    if (!out || !valid_canvas(gray, w, h, stride)) return -1;
    int dark, bg = preprocess_background(gray, w, h, stride, &dark);
    return preprocess_region(out, gray, stride, mask, w, 0, 0, w - 1, h - 1, bg, dark, info);
}

int preprocess_canvas(float *out, const uint8_t *gray, int w, int h, int stride, preprocess_info *info) {
    return preprocess_canvas_masked(out, gray, NULL, w, h, stride, info);
}
