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

/* integral of the ink over the source rectangle [x0,x1)×[y0,y1), in pixel units,
 * where ink(x,y) is piecewise constant over unit pixels */
static float area_sum(const float *ink, int cw, int ch, float x0, float y0, float x1, float y1) {
    float s = 0.0f;
    int ys = (int)floorf(y0), ye = (int)ceilf(y1), xs = (int)floorf(x0), xe = (int)ceilf(x1);
    for (int y = ys; y < ye; y++) {
        if (y < 0 || y >= ch) continue;
        float wy = fminf(y1, (float)y + 1) - fmaxf(y0, (float)y);
        for (int x = xs; x < xe; x++) {
            if (x < 0 || x >= cw) continue;
            float wx = fminf(x1, (float)x + 1) - fmaxf(x0, (float)x);
            s += wx * wy * ink[(long)y * cw + x];
        }
    }
    return s;
}

int preprocess_canvas_masked(float *out, const uint8_t *gray, const uint8_t *mask, int w, int h, int stride,
                             preprocess_info *info) {
    preprocess_info dummy;
    if (!info) info = &dummy;
    memset(info, 0, sizeof *info);
    if (!out || !valid_canvas(gray, w, h, stride)) return -1;
    memset(out, 0, sizeof(float) * IMG_PIXELS);

    int dark, bg = preprocess_background(gray, w, h, stride, &dark);
    info->dark_ink = dark;
    /* the ink's bounding box and its strongest value */
    int x0 = w, y0 = h, x1 = -1, y1 = -1, peak = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            if (mask && !mask[(long)y * w + x]) continue;
            int v = gray[(long)y * stride + x];
            int ink = dark ? bg - v : v - bg;
            if (ink < PREPROCESS_INK_MIN) continue;
            if (ink > peak) peak = ink;
            if (x < x0) x0 = x;
            if (x > x1) x1 = x;
            if (y < y0) y0 = y;
            if (y > y1) y1 = y;
        }
    if (x1 < 0) return PREPROCESS_BLANK;
    info->x0 = x0, info->y0 = y0, info->x1 = x1, info->y1 = y1;

    /* the crop, as ink in [0, 1] */
    const int cw = x1 - x0 + 1, ch = y1 - y0 + 1;
    float *ink = malloc(sizeof(float) * (size_t)cw * ch);
    if (!ink) return -1;
    for (int y = 0; y < ch; y++)
        for (int x = 0; x < cw; x++) {
            long gi = (long)(y0 + y) * stride + x0 + x;
            int v = dark ? bg - gray[gi] : gray[gi] - bg;
            if (mask && !mask[(long)(y0 + y) * w + x0 + x]) v = 0;
            ink[(long)y * cw + x] = v > 0 ? (float)v / (float)peak : 0.0f;
        }

    /* scale the longer side to PREPROCESS_BOX pixels, each output pixel the
     * average of the source area it covers */
    const float scale = (float)PREPROCESS_BOX / (float)(cw > ch ? cw : ch);
    int ow = (int)lroundf(cw * scale), oh = (int)lroundf(ch * scale);
    if (ow < 1) ow = 1;
    if (oh < 1) oh = 1;
    if (ow > PREPROCESS_BOX) ow = PREPROCESS_BOX;
    if (oh > PREPROCESS_BOX) oh = PREPROCESS_BOX;
    info->scale = scale;
    float box[PREPROCESS_BOX * PREPROCESS_BOX];
    const float fx = (float)cw / ow, fy = (float)ch / oh; /* source pixels per output pixel */
    float mx = 0.0f;
    for (int y = 0; y < oh; y++)
        for (int x = 0; x < ow; x++) {
            float v = area_sum(ink, cw, ch, x * fx, y * fy, (x + 1) * fx, (y + 1) * fy) / (fx * fy);
            box[y * ow + x] = v;
            mx = v > mx ? v : mx;
        }
    free(ink);
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
    return PREPROCESS_OK;
}

int preprocess_canvas(float *out, const uint8_t *gray, int w, int h, int stride, preprocess_info *info) {
    return preprocess_canvas_masked(out, gray, NULL, w, h, stride, info);
}
