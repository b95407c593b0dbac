#include "model.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bytes.h"
#include "crc32.h"
#include "fileio.h"
#include "layers.h"
#include "parallel.h"
#include "rng.h"

#define BN_EPS 1e-5f
#define BN_MOMENTUM 0.1f
#define MAX_WIDTH 4096         /* channels or features of one layer */
#define MAX_PARAMS (64u << 20) /* 64 M floats: far beyond anything sensible here */

const char *layer_kind_name(layer_kind k) {
    static const char *names[] = {"conv", "bn", "relu", "pool", "gap", "dropout", "fc"};
    return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "?";
}

/* ---- architecture --------------------------------------------------------------- */

/* reads a decimal number at *s (advancing it); -1 when there is none or it is huge */
static long read_num(const char **s) {
    if (!isdigit((unsigned char)**s)) return -1;
    long v = 0;
    while (isdigit((unsigned char)**s)) {
        v = v * 10 + (**s - '0');
        if (v > 1000000) return -1;
        (*s)++;
    }
    return v;
}

static int parse_layer(const char *tok, size_t len, layer_t *l, char *err) {
    char buf[64];
    if (len == 0 || len >= sizeof buf) return set_error(err, "empty or overlong layer '%.*s'", (int)(len > 20 ? 20 : len), tok);
    memcpy(buf, tok, len);
    buf[len] = 0;
    const char *s = buf;
    memset(l, 0, sizeof *l);
    long v;
    if (!strncmp(s, "conv", 4)) {
        s += 4;
        l->kind = LAYER_CONV;
        if ((v = read_num(&s)) < 1 || v > MAX_WIDTH) return set_error(err, "layer '%s': channels must be 1..%d", buf, MAX_WIDTH);
        l->out_c = (int)v;
        if (*s++ != 'k' || (v = read_num(&s)) < 1 || v > 15) return set_error(err, "layer '%s': expected kK with K in 1..15", buf);
        l->k = (int)v;
        l->pad = l->k / 2;
        if (*s == 'p') {
            s++;
            if ((v = read_num(&s)) < 0 || v >= l->k) return set_error(err, "layer '%s': padding must be 0..K-1", buf);
            l->pad = (int)v;
        }
    } else if (!strcmp(s, "bn")) {
        l->kind = LAYER_BN;
        s += 2;
    } else if (!strcmp(s, "relu")) {
        l->kind = LAYER_RELU;
        s += 4;
    } else if (!strcmp(s, "gap")) {
        l->kind = LAYER_GAP;
        s += 3;
    } else if (!strncmp(s, "pool", 4)) {
        s += 4;
        l->kind = LAYER_POOL;
        if ((v = read_num(&s)) < 1 || v > 28) return set_error(err, "layer '%s': pool size must be 1..28", buf);
        l->k = (int)v;
    } else if (!strncmp(s, "drop", 4)) {
        s += 4;
        l->kind = LAYER_DROPOUT;
        if ((v = read_num(&s)) < 0 || v > 90) return set_error(err, "layer '%s': dropout percent must be 0..90", buf);
        l->p = (float)v / 100.0f;
    } else if (!strncmp(s, "fc", 2)) {
        s += 2;
        l->kind = LAYER_FC;
        if ((v = read_num(&s)) < 1 || v > MAX_WIDTH) return set_error(err, "layer '%s': outputs must be 1..%d", buf, MAX_WIDTH);
        l->out_c = (int)v;
    } else {
        return set_error(err, "unknown layer '%s'", buf);
    }
    if (*s) return set_error(err, "layer '%s': unexpected '%s'", buf, s);
    return 0;
}

/* shapes, parameter offsets and FLOPs of every layer, given the kinds and options */
static int layout(model_t *m, char *err) {
    int c = 1, h = IMG_SIDE, w = IMG_SIDE;
    size_t np = 0, ns = 0;
    for (int i = 0; i < m->n_layers; i++) {
        layer_t *l = &m->layer[i];
        l->in_c = c, l->in_h = h, l->in_w = w;
        size_t in_size = (size_t)c * h * w;
        switch (l->kind) {
        case LAYER_CONV:
            if (h == 1 && w == 1 && i > 0 && (m->layer[i - 1].kind == LAYER_FC || m->layer[i - 1].kind == LAYER_GAP))
                return set_error(err, "layer %d (conv) needs an image, not a vector", i + 1);
            h = h + 2 * l->pad - l->k + 1;
            w = w + 2 * l->pad - l->k + 1;
            if (h < 1 || w < 1) return set_error(err, "layer %d (conv): kernel larger than its %dx%d input", i + 1, l->in_h, l->in_w);
            l->n_w = (size_t)l->out_c * c * l->k * l->k;
            l->n_b = (size_t)l->out_c;
            c = l->out_c;
            l->flops = 2.0 * (double)l->n_w * h * w;
            break;
        case LAYER_FC:
            l->n_w = (size_t)l->out_c * in_size;
            l->n_b = (size_t)l->out_c;
            c = l->out_c, h = 1, w = 1;
            l->flops = 2.0 * (double)l->n_w;
            break;
        case LAYER_BN:
            l->n_w = l->n_b = (size_t)c;
            l->stat = ns;
            ns += 2 * (size_t)c;
            l->flops = 2.0 * (double)in_size;
            break;
        case LAYER_POOL:
            if (h / l->k < 1 || w / l->k < 1) return set_error(err, "layer %d (pool%d): input %dx%d is too small", i + 1, l->k, h, w);
            h /= l->k, w /= l->k;
            l->flops = (double)in_size;
            break;
        case LAYER_GAP:
            h = 1, w = 1;
            l->flops = (double)in_size;
            break;
        case LAYER_RELU:
        case LAYER_DROPOUT:
            l->flops = (double)in_size;
            break;
        }
        l->out_c = c, l->out_h = h, l->out_w = w;
        l->w = np;
        np += l->n_w;
        l->b = np;
        np += l->n_b;
        if (np > MAX_PARAMS) return set_error(err, "more than %u parameters", MAX_PARAMS);
    }
    const layer_t *last = &m->layer[m->n_layers - 1];
    if (last->kind != LAYER_FC || last->out_c != N_CLASSES)
        return set_error(err, "the last layer must be fc%d (the digits' logits)", N_CLASSES);
    m->n_params = np;
    m->n_stats = ns;
    return 0;
}

static int parse_arch(model_t *m, const char *arch, char *err) {
    size_t len = strlen(arch);
    if (len == 0 || len >= MODEL_ARCH_LEN) return set_error(err, "architecture string must be 1..%d characters", MODEL_ARCH_LEN - 1);
    memcpy(m->arch, arch, len + 1);
    m->n_layers = 0;
    const char *s = arch;
    for (;;) {
        const char *e = strchr(s, ',');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (m->n_layers == MODEL_MAX_LAYERS) return set_error(err, "more than %d layers", MODEL_MAX_LAYERS);
        char lerr[ERR_LEN];
        if (parse_layer(s, n, &m->layer[m->n_layers], lerr)) return set_error(err, "layer %d: %s", m->n_layers + 1, lerr);
        m->n_layers++;
        if (!e) break;
        s = e + 1;
    }
    return layout(m, err);
}

int model_init(model_t *m, const char *arch, char *err) {
    memset(m, 0, sizeof *m);
    char perr[ERR_LEN];
    if (parse_arch(m, arch, perr)) {
        memset(m, 0, sizeof *m);
        return set_error(err, "bad architecture: %s", perr);
    }
    m->params = calloc(m->n_params + m->n_stats + 1, sizeof(float));
    if (!m->params) return set_error(err, "out of memory for %zu parameters", m->n_params);
    m->stats = m->params + m->n_params;
    m->temperature = 1.0f;
    model_touch(m);
    return 0;
}

/* One counter for the whole process, so that no two states of any two models share a version: a
 * model freed and another loaded at the same address are told apart (the inference weights a
 * workspace derived, the pieces a reader cache keeps). */
static atomic_ulong generation;
int model_argmax(const float *v) {
    int best = 0;
    for (int j = 1; j < N_CLASSES; j++)
        if (v[j] > v[best]) best = j;
    return best;
}

void model_touch(model_t *m) { m->version = atomic_fetch_add(&generation, 1) + 1; }

void model_free(model_t *m) {
    free(m->params);
    memset(m, 0, sizeof *m);
}

void model_init_weights(model_t *m, uint64_t seed) {
    model_touch(m);
    rng_t r;
    rng_seed(&r, seed);
    memset(m->params, 0, sizeof(float) * (m->n_params + m->n_stats));
    for (int i = 0; i < m->n_layers; i++) {
        layer_t *l = &m->layer[i];
        if (l->kind == LAYER_CONV || l->kind == LAYER_FC) {
            /* He et al. 2015: keeps the activations' variance through ReLUs */
            size_t fan_in = l->n_w / (size_t)l->out_c;
            float sd = sqrtf(2.0f / (float)fan_in);
            for (size_t j = 0; j < l->n_w; j++) m->params[l->w + j] = sd * rng_normal(&r);
        } else if (l->kind == LAYER_BN) {
            for (size_t j = 0; j < l->n_w; j++) m->params[l->w + j] = 1.0f;
            for (int j = 0; j < l->in_c; j++) m->stats[l->stat + (size_t)l->in_c + j] = 1.0f;
        }
    }
}

size_t model_act_floats(const model_t *m) {
    size_t n = 0;
    for (int i = 0; i < m->n_layers; i++) n += (size_t)m->layer[i].out_c * m->layer[i].out_h * m->layer[i].out_w;
    return n;
}

double model_flops(const model_t *m) {
    double f = 0;
    for (int i = 0; i < m->n_layers; i++) f += m->layer[i].flops;
    return f;
}

void layer_describe(const layer_t *l, char *buf, size_t n) {
    switch (l->kind) {
    case LAYER_CONV:
        snprintf(buf, n, "conv %d→%d, %d×%d, pad %d", l->in_c, l->out_c, l->k, l->k, l->pad);
        break;
    case LAYER_FC:
        snprintf(buf, n, "fc %d→%d", l->in_c * l->in_h * l->in_w, l->out_c);
        break;
    case LAYER_BN:
        snprintf(buf, n, "batch norm (%d)", l->in_c);
        break;
    case LAYER_POOL:
        snprintf(buf, n, "max pool %d×%d", l->k, l->k);
        break;
    case LAYER_DROPOUT:
        snprintf(buf, n, "dropout %.0f%%", l->p * 100.0f);
        break;
    default:
        snprintf(buf, n, "%s", layer_kind_name(l->kind));
    }
}

float model_quantize_weights(model_t *m, int bits) {
    const float qmax = (float)((1 << (bits - 1)) - 1);
    float worst = 0.0f;
    for (int i = 0; i < m->n_layers; i++) {
        const layer_t *l = &m->layer[i];
        if (l->kind != LAYER_CONV && l->kind != LAYER_FC) continue;
        const size_t per = l->n_w / (size_t)l->out_c;
        for (int o = 0; o < l->out_c; o++) {
            float *w = m->params + l->w + (size_t)o * per, mx = 0.0f;
            for (size_t j = 0; j < per; j++) mx = fabsf(w[j]) > mx ? fabsf(w[j]) : mx;
            if (mx == 0.0f) continue;
            const float step = exp2f(ceilf(log2f(mx / qmax))); /* a power of two: exact in float32 */
            for (size_t j = 0; j < per; j++) {
                float q = roundf(w[j] / step) * step;
                worst = fabsf(q - w[j]) > worst ? fabsf(q - w[j]) : worst;
                w[j] = q;
            }
        }
    }
    model_touch(m);
    return worst;
}

/* ---- file format --------------------------------------------------------------- */

static const char MAGIC[8] = {'D', 'I', 'G', 'I', 'T', 'C', 'N', 'N'};


/* bytes before the architecture string, and after it up to the payload */
#define HEAD_FIXED (8 + 4 + 4)
#define HEAD_TAIL (4 * 4 + 4 + 8 + 8)
#define NEG_ZERO (-128) /* version 2: the int8 that stands for -0.0, which rounding a small negative weight gives */
#define EXP_MIN (-149)  /* version 2: a channel's scale is 2^e, e in EXP_MIN..EXP_MAX (127 × 2^EXP_MAX is finite) */
#define EXP_MAX 120

static int is_weights(const layer_t *l) { return l->kind == LAYER_CONV || l->kind == LAYER_FC; }

/* a mask over params: 1 where a conv or fc weight lies (stored as int8 in version 2); NULL: no memory */
static uint8_t *weight_mask(const model_t *m) {
    uint8_t *mask = calloc(m->n_params ? m->n_params : 1, 1);
    for (int i = 0; mask && i < m->n_layers; i++)
        if (is_weights(&m->layer[i])) memset(mask + m->layer[i].w, 1, m->layer[i].n_w);
    return mask;
}

/* the int8 code of w at scale 2^e, or 256 when w is not one */
static int int8_code(float w, int e) {
    if (w == 0.0f) return signbit(w) ? NEG_ZERO : 0;
    const float q = ldexpf(w, -e);
    return q == roundf(q) && fabsf(q) <= 127.0f && ldexpf(q, e) == w ? (int)q : 256;
}

/* the exponent that stores a channel's weights exactly as int8 (a model rounded by
 * model_quantize_weights at 8 bits or fewer), or INT_MIN when none does */
static int channel_exponent(const float *w, size_t n) {
    float mx = 0.0f;
    for (size_t j = 0; j < n; j++) mx = fmaxf(mx, fabsf(w[j]));
    const int e = mx > 0.0f ? (int)ceilf(log2f(mx / 127.0f)) : 0;
    if (e < EXP_MIN || e > EXP_MAX) return INT_MIN;
    for (size_t j = 0; j < n; j++)
        if (int8_code(w[j], e) == 256) return INT_MIN;
    return e;
}

/* bytes of the payload (between the header and the CRC) of each version */
static size_t payload_bytes(const model_t *m, int version) {
    size_t bytes = 4 * (m->n_params + m->n_stats);
    for (int i = 0; version == 2 && i < m->n_layers; i++)
        if (is_weights(&m->layer[i])) bytes -= 3 * m->layer[i].n_w - (size_t)m->layer[i].out_c;
    return bytes;
}

/* version 2 when every weight channel is int8 times a power of two, else version 1 */
static int choose_version(const model_t *m) {
    for (int i = 0; i < m->n_layers; i++) {
        const layer_t *l = &m->layer[i];
        const size_t per = is_weights(l) ? l->n_w / (size_t)l->out_c : 0;
        for (int o = 0; per && o < l->out_c; o++)
            if (channel_exponent(m->params + l->w + (size_t)o * per, per) == INT_MIN) return 1;
    }
    return 2;
}

/* version 2's payload: each conv and fc layer's weights, channel by channel (the exponent, then the
 * int8 values), then every other parameter and the statistics as float32 */
static int put_payload_v2(const model_t *m, uint8_t *p, char *err) {
    uint8_t *mask = weight_mask(m);
    if (!mask) return set_error(err, "out of memory serializing the model");
    for (int i = 0; i < m->n_layers; i++) {
        const layer_t *l = &m->layer[i];
        const size_t per = is_weights(l) ? l->n_w / (size_t)l->out_c : 0;
        for (int o = 0; per && o < l->out_c; o++) {
            const float *w = m->params + l->w + (size_t)o * per;
            const int e = channel_exponent(w, per);
            *p++ = (uint8_t)(int8_t)e;
            for (size_t j = 0; j < per; j++) *p++ = (uint8_t)(int8_t)int8_code(w[j], e);
        }
    }
    for (size_t k = 0; k < m->n_params + m->n_stats; k++)
        if (k >= m->n_params || !mask[k]) le_put_f32(p, m->params[k]), p += 4;
    free(mask);
    return 0;
}

int model_serialize(const model_t *m, uint8_t **out, size_t *out_len, char *err) {
    const int version = choose_version(m);
    size_t alen = strlen(m->arch);
    size_t len = HEAD_FIXED + alen + HEAD_TAIL + payload_bytes(m, version) + 4;
    uint8_t *b = malloc(len), *p = b;
    if (!b) return set_error(err, "out of memory serializing the model");
    memcpy(p, MAGIC, 8), p += 8;
    le_put_u32(p, (uint32_t)version), p += 4;
    le_put_u32(p, (uint32_t)alen), p += 4;
    memcpy(p, m->arch, alen), p += alen;
    le_put_u32(p, 1), p += 4;
    le_put_u32(p, IMG_SIDE), p += 4;
    le_put_u32(p, IMG_SIDE), p += 4;
    le_put_u32(p, N_CLASSES), p += 4;
    le_put_f32(p, m->temperature), p += 4;
    le_put_u64(p, m->n_params), p += 8;
    le_put_u64(p, m->n_stats), p += 8;
    if (version == 1)
        for (size_t i = 0; i < m->n_params + m->n_stats; i++, p += 4) le_put_f32(p, m->params[i]);
    else if (put_payload_v2(m, p, err)) {
        free(b);
        return -1;
    }
    p = b + len - 4;
    le_put_u32(p, crc32_update(0, b, (size_t)(p - b)));
    *out = b;
    *out_len = len;
    return 0;
}

/* the fixed fields of a model file, checked as far as they can be without the architecture */
typedef struct {
    int version;
    char arch[MODEL_ARCH_LEN];
    float temperature;
    uint64_t np, ns;
    size_t head; /* bytes up to the payload */
} model_header;

static int read_header(const uint8_t *b, size_t len, model_header *h, char *err) {
    if (len < HEAD_FIXED) return set_error(err, "truncated: %zu bytes is shorter than the header", len);
    if (memcmp(b, MAGIC, 8) != 0) return set_error(err, "bad magic: not a DIGITCNN model file");
    uint32_t version = le_get_u32(b + 8);
    if (version < 1 || version > MODEL_FORMAT_VERSION)
        return set_error(err, "unsupported format version %u (this build reads versions 1 to %d)", version, MODEL_FORMAT_VERSION);
    uint32_t alen = le_get_u32(b + 12);
    if (alen == 0 || alen >= MODEL_ARCH_LEN) return set_error(err, "bad architecture length %u (must be 1..%d)", alen, MODEL_ARCH_LEN - 1);
    if (len < HEAD_FIXED + (size_t)alen + HEAD_TAIL) return set_error(err, "truncated: the file ends inside the header");
    memcpy(h->arch, b + HEAD_FIXED, alen);
    h->arch[alen] = 0;
    for (uint32_t i = 0; i < alen; i++)
        if (!isprint((unsigned char)h->arch[i])) return set_error(err, "bad architecture: non-printable byte at %u", i);
    const uint8_t *p = b + HEAD_FIXED + alen;
    uint32_t ic = le_get_u32(p), ih = le_get_u32(p + 4), iw = le_get_u32(p + 8), nc = le_get_u32(p + 12);
    h->version = (int)version, h->temperature = le_get_f32(p + 16);
    h->np = le_get_u64(p + 20), h->ns = le_get_u64(p + 28);
    h->head = HEAD_FIXED + alen + HEAD_TAIL;
    if (ic != 1 || ih != IMG_SIDE || iw != IMG_SIDE || nc != N_CLASSES)
        return set_error(err, "unsupported input %ux%ux%u with %u classes (this build expects 1x28x28, 10)", ic, ih, iw, nc);
    if (h->np > MAX_PARAMS || h->ns > MAX_PARAMS)
        return set_error(err, "absurd size: %llu parameters and %llu statistics", (unsigned long long)h->np,
                         (unsigned long long)h->ns);
    return 0;
}

/* the parameters from a payload whose size and CRC were checked */
static int read_payload(model_t *m, int version, const uint8_t *p, char *err) {
    uint8_t *mask = version == 2 ? weight_mask(m) : NULL;
    if (version == 2 && !mask) return set_error(err, "out of memory loading the model");
    for (int i = 0; mask && i < m->n_layers; i++) {
        const layer_t *l = &m->layer[i];
        const size_t per = is_weights(l) ? l->n_w / (size_t)l->out_c : 0;
        for (int o = 0; per && o < l->out_c; o++) {
            const int e = (int8_t)*p++;
            if (e < EXP_MIN || e > EXP_MAX) {
                free(mask);
                return set_error(err, "layer %d channel %d: bad scale exponent %d (must be %d..%d)", i + 1, o, e, EXP_MIN, EXP_MAX);
            }
            float *w = m->params + l->w + (size_t)o * per;
            for (size_t j = 0; j < per; j++, p++) w[j] = (int8_t)*p == NEG_ZERO ? -0.0f : ldexpf((float)(int8_t)*p, e);
        }
    }
    for (size_t k = 0; k < m->n_params + m->n_stats; k++) {
        if (mask && k < m->n_params && mask[k]) continue;
        const float v = le_get_f32(p);
        p += 4;
        if (!isfinite(v)) {
            free(mask);
            return set_error(err, "value %zu of %zu is not a finite number", k, m->n_params + m->n_stats);
        }
        m->params[k] = v;
    }
    free(mask);
    return 0;
}

int model_load_mem(model_t *m, const void *buf, size_t len, char *err) {
    const uint8_t *b = buf;
    memset(m, 0, sizeof *m);
    model_header h;
    if (read_header(b, len, &h, err)) return -1;
    char aerr[ERR_LEN];
    if (model_init(m, h.arch, aerr)) return set_error(err, "%s", aerr);
    int rc = -1;
    const size_t want = h.head + payload_bytes(m, h.version) + 4;
    if (h.np != m->n_params || h.ns != m->n_stats)
        set_error(err, "parameter count does not match the architecture: the file holds %llu parameters and %llu "
                       "statistics, '%s' has %zu and %zu",
                  (unsigned long long)h.np, (unsigned long long)h.ns, h.arch, m->n_params, m->n_stats);
    else if (len < want)
        set_error(err, "truncated: %zu bytes, the header promises %zu", len, want);
    else if (len > want)
        set_error(err, "size mismatch: %zu bytes, the header promises %zu (trailing data)", len, want);
    else if (le_get_u32(b + len - 4) != crc32_update(0, b, len - 4))
        set_error(err, "CRC mismatch: stored %08x, computed %08x (corrupt file)", le_get_u32(b + len - 4),
                  crc32_update(0, b, len - 4));
    else if (!(h.temperature > 0.0f && h.temperature < 1000.0f))
        set_error(err, "bad temperature %g (must be in (0, 1000))", h.temperature);
    else
        rc = read_payload(m, h.version, b + h.head, err);
    if (rc) {
        model_free(m);
        return -1;
    }
    m->temperature = h.temperature;
    model_touch(m);
    return 0;
}

int model_save(const model_t *m, const char *path, char *err) {
    uint8_t *b;
    size_t len;
    if (model_serialize(m, &b, &len, err)) return -1;
    int rc = file_write_atomic(path, b, len, err);
    free(b);
    return rc;
}

int model_load(model_t *m, const char *path, char *err) {
    uint8_t *b;
    size_t len;
    memset(m, 0, sizeof *m);
    if (file_read_all(path, MODEL_MAX_FILE_BYTES, &b, &len, err)) return -1;
    char lerr[ERR_LEN];
    int rc = model_load_mem(m, b, len, lerr);
    free(b);
    if (rc) return set_error(err, "%s: %s", path, lerr);
    return 0;
}

/* ---- workspace ------------------------------------------------------------------- */

static int needs_flatten(const layer_t *l) { return l->kind == LAYER_FC && l->in_h * l->in_w > 1; }

/* 3×3 convs with padding 1 run by Winograd's algorithm: F(2×2, 3×3) in training,
 * F(4×4, 3×3) at inference */
static int uses_winograd(const layer_t *l) { return l->kind == LAYER_CONV && l->k == 3 && l->pad == 1; }

/* in training, batch norm, ReLU and a 2×2 max pool in a row run as one pass (layer i the
 * pool), on planes at least 16 wide: on narrower ones the pass spends its time getting in
 * and out of short rows, and the three layers one after the other are faster */
static int fuses_bn_relu_pool(const model_t *m, int i) {
    return i >= 2 && m->layer[i].kind == LAYER_POOL && m->layer[i].k == 2 && m->layer[i].in_w >= 16 &&
           m->layer[i - 1].kind == LAYER_RELU && m->layer[i - 2].kind == LAYER_BN;
}

/* in training, the other convs keep the im2col matrix the forward pass builds, for
 * backward (a 1×1 kernel without padding builds none: its input is its own) */
static int keeps_col(const layer_t *l) {
    return l->kind == LAYER_CONV && !uses_winograd(l) && (l->k != 1 || l->pad != 0);
}

/* ---- the execution plan ------------------------------------------------------------------------
 * Forward and backward walk a list of operations built once per workspace; an
 * operation runs layers first..last, fusing where that pays:
 *   inference: a conv, the batch norm after it (folded into its weights) and
 *     the ReLU after that are one conv; dropout is the identity and no step;
 *   training: batch norm and a ReLU after it are one pass (the ReLU writes the
 *     output), and with a 2×2 pool after them too (fuses_bn_relu_pool) one pass
 *     that stores only the pool's output and where each max was;
 *   backward: a pool and a ReLU before it are one pass. */

static op_t op(op_kind kind, int first, int last) { return (op_t){kind, (short)first, (short)last}; }

/* the operation of layer i alone, unfused */
static op_t op_single(const model_t *m, int i) {
    static const op_kind one[] = {[LAYER_CONV] = OP_CONV, [LAYER_BN] = OP_BN, [LAYER_RELU] = OP_RELU,
                                  [LAYER_POOL] = OP_POOL, [LAYER_GAP] = OP_GAP, [LAYER_DROPOUT] = OP_DROPOUT,
                                  [LAYER_FC] = OP_FC};
    return op(one[m->layer[i].kind], i, i);
}

static int plan_forward(const model_t *m, int training, op_t *ops) {
    int n = 0;
    for (int i = 0; i < m->n_layers; i++) {
        const layer_kind k = m->layer[i].kind, next = i + 1 < m->n_layers ? m->layer[i + 1].kind : LAYER_FC;
        if (!training && k == LAYER_CONV) {
            int last = i + (next == LAYER_BN);
            last += last + 1 < m->n_layers && m->layer[last + 1].kind == LAYER_RELU;
            ops[n++] = op(OP_CONV_FOLDED, i, last);
            i = last;
        } else if (!training && k == LAYER_DROPOUT) {
            continue;
        } else if (training && k == LAYER_BN && i + 2 < m->n_layers && fuses_bn_relu_pool(m, i + 2)) {
            ops[n++] = op(OP_BN_RELU_POOL, i, i + 2);
            i += 2;
        } else if (training && k == LAYER_BN && next == LAYER_RELU) {
            ops[n++] = op(OP_BN_RELU, i, i + 1);
            i++;
        } else {
            ops[n++] = op_single(m, i);
        }
    }
    return n;
}

/* backward, last layer first */
static int plan_backward(const model_t *m, op_t *ops) {
    int n = 0;
    for (int i = m->n_layers - 1; i >= 0; i--) {
        const layer_kind k = m->layer[i].kind;
        if (k == LAYER_POOL && i >= 2 && m->layer[i - 1].kind == LAYER_RELU) {
            ops[n++] = op(OP_RELU_POOL, i - 1, i);
            i--;
        } else {
            ops[n++] = op_single(m, i);
        }
    }
    return n;
}

/* derives the inference weights of every conv layer from the model's current
 * parameters: batch norm folded in, then the Winograd transform */
static void prepare_inference(const model_t *m, workspace_t *ws) {
    for (int i = 0; i < m->n_layers; i++) {
        const layer_t *l = &m->layer[i];
        if (l->kind != LAYER_CONV) continue;
        const float *w = m->params + l->w, *b = m->params + l->b;
        if (ws->fold[i]) {
            const layer_t *bn = &m->layer[i + 1];
            const float *rm = m->stats + bn->stat, *rv = rm + bn->in_c;
            float *fw = ws->fold[i], *fb = ws->fold[i] + l->n_w;
            batchnorm_fold(fw, fb, w, b, m->params + bn->w, m->params + bn->b, rm, rv, l->out_c,
                           (int)(l->n_w / (size_t)l->out_c), BN_EPS);
            w = fw, b = fb;
        }
        ws->inf_w[i] = w, ws->inf_b[i] = b;
        if (ws->inf_u[i]) conv3x3_wino4_weights(ws->inf_u[i], w, l->in_c, l->out_c);
    }
    ws->prep_version = m->version;
}

/* The workspace's memory, block by block, each on a 64-byte boundary: with base NULL it only
 * counts, with base it also hands out the blocks. The same walk both times, so the count and the
 * carving cannot disagree. Returns the floats it takes. */
static size_t workspace_layout(workspace_t *ws, const model_t *m, float *base) {
    const size_t B = (size_t)ws->max_batch;
    const int training = ws->training, threads = par_max_threads();
    size_t off = 0, max_act = IMG_PIXELS, col = 0, dws = 0, wino = 0;
#define TAKE(dst, n) \
    do { \
        off = (off + 15) & ~(size_t)15; \
        if (base) (dst) = base + off; \
        off += (n); \
    } while (0)
    for (int i = 0; i < m->n_layers; i++) {
        const layer_t *l = &m->layer[i];
        const size_t out = (size_t)l->out_c * l->out_h * l->out_w, in = (size_t)l->in_c * l->in_h * l->in_w;
        max_act = out > max_act ? out : max_act;
        max_act = in > max_act ? in : max_act;
        TAKE(ws->act[i], B * out);
        if (l->kind == LAYER_BN) {
            TAKE(ws->bn_mean[i], (size_t)l->in_c);
            TAKE(ws->bn_rstd[i], (size_t)l->in_c);
        }
        if (l->kind == LAYER_DROPOUT && training) TAKE(ws->mask[i], B * out);
        if (needs_flatten(l)) {
            TAKE(ws->flat[i], B * in);
            col = B * in > col ? B * in : col; /* backward unflattens through col */
        }
        if (fuses_bn_relu_pool(m, i) && training) TAKE(ws->pool_arg[i], B * out);
        if (l->kind != LAYER_CONV) continue;
        /* inference weights: batch norm folded in, and the Winograd transform; Winograd scratch */
        if (i + 1 < m->n_layers && m->layer[i + 1].kind == LAYER_BN) TAKE(ws->fold[i], l->n_w + l->n_b);
        if (uses_winograd(l)) {
            TAKE(ws->inf_u[i], conv3x3_wino4_u_floats(l->in_c, l->out_c));
            size_t w4 = conv3x3_wino4_floats(ws->max_batch, l->in_c, l->in_h, l->in_w, l->out_c);
            wino = w4 > wino ? w4 : wino;
            if (training) { /* the transformed weights and input, kept from forward for backward */
                TAKE(ws->wino_u[i], conv3x3_winograd_u_floats(l->in_c, l->out_c));
                TAKE(ws->wino_v[i], conv3x3_winograd_v_floats(ws->max_batch, l->in_c, l->in_h, l->in_w));
                size_t w2 = conv3x3_winograd_floats(ws->max_batch, l->in_c, l->in_h, l->in_w, l->out_c);
                wino = w2 > wino ? w2 : wino;
            }
        } else {
            const size_t c = conv2d_col_floats(ws->max_batch, l->in_c, l->in_h, l->in_w, l->k, l->pad);
            const size_t d = conv2d_dw_scratch_floats(l->in_c, l->out_c, l->k);
            col = c > col ? c : col;
            dws = d > dws ? d : dws;
            if (keeps_col(l) && training) TAKE(ws->col_kept[i], c);
        }
    }
    TAKE(ws->col, col);
    if (wino) TAKE(ws->wino, wino);
    TAKE(ws->logits, B * N_CLASSES);
    TAKE(ws->probs, B * N_CLASSES);
    if (training) {
        TAKE(ws->grad[0], B * max_act);
        TAKE(ws->grad[1], B * max_act);
        TAKE(ws->dw_scratch, (size_t)threads * dws);
    }
#undef TAKE
    return off;
}

int workspace_init(workspace_t *ws, const model_t *m, int max_batch, int training, char *err) {
    memset(ws, 0, sizeof *ws);
    if (max_batch < 1) return set_error(err, "batch size must be at least 1");
    ws->max_batch = max_batch, ws->training = training;
    ws->n_infer = plan_forward(m, 0, ws->infer_ops);
    if (training) ws->n_train = plan_forward(m, 1, ws->train_ops), ws->n_back = plan_backward(m, ws->back_ops);
    const size_t total = workspace_layout(ws, m, NULL);
    ws->mem = malloc((total + 16) * sizeof(float));
    if (!ws->mem) {
        workspace_free(ws);
        return set_error(err, "out of memory for a workspace of batch %d (%zu MB)", max_batch, total * 4 >> 20);
    }
    float *base = (float *)(((uintptr_t)ws->mem + 63) & ~(uintptr_t)63);
    if (workspace_layout(ws, m, base) != total) { /* cannot happen: the same walk */
        workspace_free(ws);
        return set_error(err, "workspace layout changed between counting and carving");
    }
    return 0;
}

void workspace_free(workspace_t *ws) {
    free(ws->mem);
    memset(ws, 0, sizeof *ws);
}

/* ---- forward and backward ----------------------------------------------------------- */

static double seconds(void) {
    struct timespec t;
    timespec_get(&t, TIME_UTC);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* one forward operation on the batch in `in`; its output goes to act[o->last] */
static void forward_op(model_t *m, workspace_t *ws, const op_t *o, const float *in, int B, int training, uint64_t seed) {
    const int i = o->first;
    const layer_t *l = &m->layer[i];
    float *out = ws->act[o->last], *P = m->params;
    const int HW = l->in_h * l->in_w;
    const size_t n = (size_t)B * l->in_c * HW; /* values in this layer's input */
    float *rm = l->kind == LAYER_BN ? m->stats + l->stat : NULL, *rv = rm ? rm + l->in_c : NULL;
    switch (o->kind) {
    case OP_CONV_FOLDED: { /* the output lands where the last of the layers would put it */
        const int relu = m->layer[o->last].kind == LAYER_RELU;
        if (ws->inf_u[i])
            conv3x3_wino4_forward(out, in, ws->inf_u[i], ws->inf_b[i], B, l->in_c, l->in_h, l->in_w, l->out_c, relu, ws->wino);
        else
            conv2d_forward_fused(out, in, ws->inf_w[i], ws->inf_b[i], B, l->in_c, l->in_h, l->in_w, l->out_c, l->k, l->pad,
                                 relu, ws->col);
        break;
    }
    case OP_CONV:
        if (ws->wino_u[i]) {
            conv3x3_winograd_weights(ws->wino_u[i], P + l->w, l->in_c, l->out_c);
            conv3x3_winograd_forward(out, in, ws->wino_u[i], P + l->b, B, l->in_c, l->in_h, l->in_w, l->out_c, 0,
                                     ws->wino_v[i], ws->wino);
        } else
            conv2d_forward(out, in, P + l->w, P + l->b, B, l->in_c, l->in_h, l->in_w, l->out_c, l->k, l->pad,
                           ws->col_kept[i] ? ws->col_kept[i] : ws->col);
        break;
    case OP_FC:
        if (ws->flat[i]) {
            flatten_forward(ws->flat[i], in, B, l->in_c, HW);
            in = ws->flat[i];
        }
        fc_forward(out, in, P + l->w, P + l->b, B, l->in_c * HW, l->out_c);
        break;
    case OP_BN_RELU_POOL: /* only the pool's output is stored, and where each max was */
        bn_relu_pool2_forward_train(out, ws->pool_arg[o->last], ws->bn_mean[i], ws->bn_rstd[i], rm, rv, in, P + l->w, P + l->b,
                                    l->in_c, B, l->in_h, l->in_w, BN_MOMENTUM, BN_EPS);
        break;
    case OP_BN_RELU: /* the ReLU writes its own output; nothing reads the norm's but the ReLU */
    case OP_BN:
        if (training)
            batchnorm_forward_train(out, ws->bn_mean[i], ws->bn_rstd[i], rm, rv, in, P + l->w, P + l->b, l->in_c,
                                    n / (size_t)l->in_c, BN_MOMENTUM, BN_EPS, o->kind == OP_BN_RELU);
        else
            batchnorm_forward_infer(out, in, P + l->w, P + l->b, rm, rv, l->in_c, n / (size_t)l->in_c, BN_EPS);
        break;
    case OP_RELU:
        relu_forward(out, in, n);
        break;
    case OP_POOL:
    case OP_RELU_POOL:
        maxpool_forward(out, in, (size_t)B * l->in_c, l->in_h, l->in_w, l->k);
        break;
    case OP_GAP:
        gap_forward(out, in, (size_t)B * l->in_c, HW);
        break;
    case OP_DROPOUT:
        if (training && l->p > 0.0f)
            dropout_forward(out, ws->mask[i], in, n, l->p, seed ^ (0x9e3779b97f4a7c15ull * (uint64_t)(i + 1)));
        else
            memcpy(out, in, n * sizeof(float));
        break;
    }
}

const float *model_forward(model_t *m, workspace_t *ws, const float *x, int B, int training, uint64_t seed) {
    const float *in = x;
    ws->input = x;
    ws->batch = B;
    training = training && ws->training;
    if (training) model_touch(m); /* batch norm's running statistics move */
    else if (ws->prep_version != m->version) prepare_inference(m, ws);
    const op_t *ops = training ? ws->train_ops : ws->infer_ops;
    const int n_ops = training ? ws->n_train : ws->n_infer;
    for (int k = 0; k < n_ops; k++) {
        const double t0 = ws->profile ? seconds() : 0.0;
        forward_op(m, ws, &ops[k], in, B, training, seed);
        if (ws->profile) ws->t_fwd[ops[k].first] += seconds() - t0;
        in = ws->act[ops[k].last];
    }
    /* the last layer's output is (10, B); hand out rows, one per image */
    for (int b = 0; b < B; b++)
        for (int j = 0; j < N_CLASSES; j++) ws->logits[b * N_CLASSES + j] = in[(size_t)j * B + b];
    return ws->logits;
}

/* one backward operation: g is the gradient of act[o->last], din (NULL for the first layer) gets
 * the gradient of the operation's input, grads the parameters' */
static void backward_op(const model_t *m, workspace_t *ws, const op_t *o, const float *g, float *din, float *grads) {
    const int i = o->last, B = ws->batch;
    const layer_t *l = &m->layer[i];
    const float *in = i ? ws->act[i - 1] : ws->input, *P = m->params;
    const int HW = l->in_h * l->in_w;
    const size_t n = (size_t)B * l->in_c * HW;
    switch (o->kind) {
    case OP_CONV:
        if (ws->wino_u[i]) /* the transformed weights and input from the forward pass */
            conv3x3_winograd_backward(din, grads + l->w, grads + l->b, g, ws->wino_v[i], ws->wino_u[i], B, l->in_c, l->in_h,
                                      l->in_w, l->out_c, ws->wino);
        else
            conv2d_backward(din, grads + l->w, grads + l->b, g, ws->col_kept[i] ? NULL : in, P + l->w, B, l->in_c, l->in_h,
                            l->in_w, l->out_c, l->k, l->pad, ws->col_kept[i] ? ws->col_kept[i] : ws->col, ws->dw_scratch);
        break;
    case OP_FC:
        if (ws->flat[i]) {
            /* the gradient w.r.t. the flattened input goes through the col buffer, then unflattens */
            fc_backward(din ? ws->col : NULL, grads + l->w, grads + l->b, g, ws->flat[i], P + l->w, B, l->in_c * HW, l->out_c);
            if (din) flatten_backward(din, ws->col, B, l->in_c, HW);
        } else {
            fc_backward(din, grads + l->w, grads + l->b, g, in, P + l->w, B, l->in_c * HW, l->out_c);
        }
        break;
    case OP_BN:
        batchnorm_backward(din, grads + l->w, grads + l->b, g, in, ws->bn_mean[i], ws->bn_rstd[i], P + l->w, l->in_c,
                           n / (size_t)l->in_c);
        break;
    case OP_RELU:
        if (din) relu_backward(din, g, ws->act[i], n);
        break;
    case OP_POOL:
    case OP_RELU_POOL: /* on through the ReLU before it, in the same pass */
        if (!din) break;
        if (ws->pool_arg[i]) /* where forward found each max; the ReLU's output was never stored */
            maxpool2_backward_arg(din, g, ws->pool_arg[i], ws->act[i], (size_t)B * l->in_c, l->in_h, l->in_w,
                                  o->kind == OP_RELU_POOL);
        else
            maxpool_backward(din, g, in, ws->act[i], (size_t)B * l->in_c, l->in_h, l->in_w, l->k, o->kind == OP_RELU_POOL);
        break;
    case OP_GAP:
        if (din) gap_backward(din, g, (size_t)B * l->in_c, HW);
        break;
    case OP_DROPOUT:
        if (!din) break;
        if (ws->mask[i] && l->p > 0.0f) dropout_backward(din, g, ws->mask[i], n);
        else memcpy(din, g, n * sizeof(float));
        break;
    default: /* fused forward operations have no backward of their own */
        break;
    }
}

void model_backward(const model_t *m, workspace_t *ws, const float *dlogits, float *grads) {
    const int B = ws->batch;
    /* dlogits arrive as rows (B, 10); the last layer's output is (10, B) */
    float *g0 = ws->grad[m->n_layers % 2];
    for (int b = 0; b < B; b++)
        for (int j = 0; j < N_CLASSES; j++) g0[(size_t)j * B + b] = dlogits[b * N_CLASSES + j];
    const float *g = g0;
    for (int k = 0; k < ws->n_back; k++) {
        const op_t *o = &ws->back_ops[k];
        float *din = o->first ? ws->grad[g == ws->grad[0]] : NULL; /* never the buffer g is in */
        const double t0 = ws->profile ? seconds() : 0.0;
        backward_op(m, ws, o, g, din, grads);
        if (ws->profile) ws->t_bwd[o->last] += seconds() - t0;
        g = din;
    }
}

const float *model_predict(model_t *m, workspace_t *ws, const float *x, int B) {
    const float *logits = model_forward(m, ws, x, B, 0, 0);
    softmax_forward(ws->probs, logits, B, N_CLASSES, m->temperature);
    return ws->probs;
}
