#include "augment.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAXSIDE 32

void augment_defaults(augment_params *p) {
    p->rotate_deg = 10.0f;
    p->scale_min = 0.9f;
    p->scale_max = 1.1f;
    p->aspect = 0.1f;
    p->shear = 0.2f;
    p->shift = 2.0f;
    p->elastic_prob = 0.5f;
    p->elastic_alpha = 1.5f;
    p->elastic_sigma = 4.0f;
    p->thick_prob = 0.25f;
    p->thin_prob = 0.10f;
}

int augment_parse(augment_params *p, const char *spec, char *err) {
    static const char *keys[] = {"rotate", "scale_min", "scale_max", "aspect", "shear", "shift",
                                 "elastic", "alpha", "sigma", "thick", "thin"};
    float *fields[] = {&p->rotate_deg, &p->scale_min, &p->scale_max, &p->aspect, &p->shear, &p->shift,
                       &p->elastic_prob, &p->elastic_alpha, &p->elastic_sigma, &p->thick_prob, &p->thin_prob};
    const char *s = spec;
    while (*s) {
        const char *eq = strchr(s, '='), *end = strchr(s, ',');
        if (!end) end = s + strlen(s);
        if (!eq || eq > end) return set_error(err, "augmentation: expected key=value at '%.*s'", (int)(end - s), s);
        int k = -1;
        for (int i = 0; i < (int)(sizeof keys / sizeof keys[0]); i++)
            if ((size_t)(eq - s) == strlen(keys[i]) && !strncmp(s, keys[i], strlen(keys[i]))) k = i;
        if (k < 0) return set_error(err, "augmentation: unknown key '%.*s'", (int)(eq - s), s);
        char num[32];
        size_t nl = (size_t)(end - eq - 1);
        if (nl == 0 || nl >= sizeof num) return set_error(err, "augmentation: bad value for %s", keys[k]);
        memcpy(num, eq + 1, nl);
        num[nl] = 0;
        char *e;
        float v = strtof(num, &e);
        if (*e || !(v >= 0.0f && v <= 100.0f)) return set_error(err, "augmentation: bad value '%s' for %s", num, keys[k]);
        *fields[k] = v;
        s = *end ? end + 1 : end;
    }
    if (p->scale_min <= 0.0f || p->scale_min > p->scale_max) return set_error(err, "augmentation: need 0 < scale_min <= scale_max");
    if (p->elastic_sigma < 0.5f || p->elastic_sigma > 5.0f) return set_error(err, "augmentation: sigma must be 0.5..5");
    if (p->thick_prob + p->thin_prob > 1.0f || p->elastic_prob > 1.0f) return set_error(err, "augmentation: probabilities above 1");
    return 0;
}

/* 3×3 cross-shaped grey-level dilation (max) or erosion (min) */
static void morph(float *dst, const float *src, int side, int dilate) {
    for (int y = 0; y < side; y++)
        for (int x = 0; x < side; x++) {
            float v = src[y * side + x];
            static const int dx[4] = {1, -1, 0, 0}, dy[4] = {0, 0, 1, -1};
            for (int k = 0; k < 4; k++) {
                int xx = x + dx[k], yy = y + dy[k];
                float u = (xx < 0 || yy < 0 || xx >= side || yy >= side) ? 0.0f : src[yy * side + xx];
                v = dilate ? (u > v ? u : v) : (u < v ? u : v);
            }
            dst[y * side + x] = v;
        }
}

/* separable Gaussian blur with zero borders, in place */
static void blur(float *img, int side, float sigma) {
    float k[33], tmp[MAXSIDE * MAXSIDE];
    int rad = (int)ceilf(3.0f * sigma);
    if (rad > 16) rad = 16;
    float sum = 0.0f;
    for (int i = -rad; i <= rad; i++) sum += (k[i + rad] = expf(-0.5f * i * i / (sigma * sigma)));
    for (int i = 0; i <= 2 * rad; i++) k[i] /= sum;
    for (int y = 0; y < side; y++)
        for (int x = 0; x < side; x++) {
            float s = 0.0f;
            for (int i = -rad; i <= rad; i++)
                if (x + i >= 0 && x + i < side) s += k[i + rad] * img[y * side + x + i];
            tmp[y * side + x] = s;
        }
    for (int y = 0; y < side; y++)
        for (int x = 0; x < side; x++) {
            float s = 0.0f;
            for (int i = -rad; i <= rad; i++)
                if (y + i >= 0 && y + i < side) s += k[i + rad] * tmp[(y + i) * side + x];
            img[y * side + x] = s;
        }
}

float augment_sample(const float *img, int side, float x, float y) {
    /* bilinear, pixel centres at integer coordinates, zero outside */
    int x0 = (int)floorf(x), y0 = (int)floorf(y);
    float fx = x - x0, fy = y - y0, v = 0.0f;
    for (int j = 0; j < 2; j++)
        for (int i = 0; i < 2; i++) {
            int xx = x0 + i, yy = y0 + j;
            if (xx < 0 || yy < 0 || xx >= side || yy >= side) continue;
            v += (i ? fx : 1 - fx) * (j ? fy : 1 - fy) * img[yy * side + xx];
        }
    return v;
}

void augment_image(float *dst, const uint8_t *src, int side, const augment_params *p, rng_t *r) {
    float img[MAXSIDE * MAXSIDE], tmp[MAXSIDE * MAXSIDE], ex[MAXSIDE * MAXSIDE], ey[MAXSIDE * MAXSIDE];
    const int n = side * side;
    if (side < 1 || side > MAXSIDE) { /* not an image this can redraw: left blank */
        if (side > 0) memset(dst, 0, sizeof(float) * (size_t)n);
        return;
    }
    for (int i = 0; i < n; i++) img[i] = src[i] * (1.0f / 255.0f);

    /* stroke thickness: blend in a dilated or eroded copy */
    float u = rng_uniform(r);
    if (u < p->thick_prob + p->thin_prob) {
        int dilate = u < p->thick_prob;
        morph(tmp, img, side, dilate);
        float a = dilate ? rng_range(r, 0.4f, 1.0f) : rng_range(r, 0.2f, 0.6f);
        for (int i = 0; i < n; i++) img[i] += a * (tmp[i] - img[i]);
    }

    /* forward map: q = c + A·(p - c) + t, with A = rotation · shear · scale */
    float th = rng_range(r, -p->rotate_deg, p->rotate_deg) * 0.0174532925f;
    float s = rng_range(r, p->scale_min, p->scale_max);
    float asp = rng_range(r, -p->aspect, p->aspect);
    float sx = s * (1.0f + asp), sy = s * (1.0f - asp);
    float sh = rng_range(r, -p->shear, p->shear);
    float tx = rng_range(r, -p->shift, p->shift), ty = rng_range(r, -p->shift, p->shift);
    float cs = cosf(th), sn = sinf(th);
    /* A = [cs -sn; sn cs] · [1 sh; 0 1] · [sx 0; 0 sy] */
    float a00 = cs * sx, a01 = (cs * sh - sn) * sy, a10 = sn * sx, a11 = (sn * sh + cs) * sy;
    float det = a00 * a11 - a01 * a10;
    float i00 = a11 / det, i01 = -a01 / det, i10 = -a10 / det, i11 = a00 / det;

    int elastic = rng_uniform(r) < p->elastic_prob;
    if (elastic) {
        for (int i = 0; i < n; i++) ex[i] = rng_range(r, -1.0f, 1.0f), ey[i] = rng_range(r, -1.0f, 1.0f);
        blur(ex, side, p->elastic_sigma);
        blur(ey, side, p->elastic_sigma);
        /* normalise so alpha is the field's RMS length, whatever sigma is */
        double ss = 0.0;
        for (int i = 0; i < n; i++) ss += ex[i] * ex[i] + ey[i] * ey[i];
        float k = p->elastic_alpha / (float)sqrt(ss / n + 1e-12);
        k *= rng_uniform(r);
        for (int i = 0; i < n; i++) ex[i] *= k, ey[i] *= k;
    }
    const float c = (side - 1) * 0.5f;
    for (int y = 0; y < side; y++)
        for (int x = 0; x < side; x++) {
            float qx = x - c - tx, qy = y - c - ty;
            float px = c + i00 * qx + i01 * qy, py = c + i10 * qx + i11 * qy;
            if (elastic) px += ex[y * side + x], py += ey[y * side + x];
            float v = augment_sample(img, side, px, py);
            dst[y * side + x] = v > 1.0f ? 1.0f : v;
        }
}
