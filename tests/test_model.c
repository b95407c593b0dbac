/* The architecture parser and the model file format. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crc32.h"
#include "fileio.h"
#include "model.h"
#include "test.h"

#define ARCH "conv8k5,bn,relu,pool2,conv16k3,bn,relu,pool2,drop25,fc10"

void test_arch(void) {
    char err[ERR_LEN];
    model_t m;
    CHECK(model_init(&m, ARCH, err) == 0, "%s", err);
    /* conv 1->8 5x5: 200+8; bn 8+8; conv 8->16 3x3: 1152+16; bn 16+16; fc 784->10: 7840+10 */
    CHECK(m.n_params == 208 + 16 + 1168 + 32 + 7850, "parameter count %zu", m.n_params);
    CHECK(m.n_stats == 2 * (8 + 16), "statistics %zu", m.n_stats);
    CHECK(m.layer[3].out_h == 14 && m.layer[7].out_h == 7 && m.layer[9].in_c * m.layer[9].in_h * m.layer[9].in_w == 784,
          "shapes");
    CHECK(fabs(m.layer[0].flops - 2.0 * 200 * 784) < 1, "conv1 flops %g", m.layer[0].flops);
    model_free(&m);

    static const struct {
        const char *arch, *expect;
    } bad[] = {
        {"conv8k3,relu,fc9", "last layer must be fc10"},
        {"conv8k3,frob,fc10", "unknown layer 'frob'"},
        {"conv0k3,fc10", "channels must be"},
        {"conv8k3p3,fc10", "padding must be"},
        {"conv8k16,fc10", "K in 1..15"},
        {"fc20,conv8k3,fc10", "needs an image"},
        {"pool2,pool2,pool2,pool2,pool2,fc10", "too small"},
        {"conv8k3,,fc10", "empty"},
        {"drop95,fc10", "dropout percent"},
        {"", "1..1023 characters"},
        {"conv8k3x,fc10", "unexpected 'x'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        int rc = model_init(&m, bad[i].arch, err);
        CHECK(rc != 0 && strstr(err, bad[i].expect), "arch '%s': rc %d, message '%s' (want '%s')", bad[i].arch, rc, err,
              bad[i].expect);
        if (rc == 0) model_free(&m);
    }
}

static const char *tmp_path(const char *name) {
    static char p[256];
    snprintf(p, sizeof p, "/tmp/digit-test-%d-%s", (int)getpid(), name);
    return p;
}

void test_model_file(void) {
    char err[ERR_LEN];
    model_t a, b;
    model_init(&a, ARCH, err);
    model_init_weights(&a, 42);
    for (size_t i = 0; i < a.n_stats; i++) a.stats[i] = 0.25f + (float)i;
    a.temperature = 1.375f;
    const char *path = tmp_path("model.bin");
    CHECK(model_save(&a, path, err) == 0, "save: %s", err);
    CHECK(model_load(&b, path, err) == 0, "load: %s", err);
    CHECK(!strcmp(a.arch, b.arch), "architecture '%s'", b.arch);
    CHECK(a.n_params == b.n_params && a.n_stats == b.n_stats, "sizes");
    CHECK(!memcmp(a.params, b.params, sizeof(float) * (a.n_params + a.n_stats)), "parameters are not bit-exact");
    CHECK(b.temperature == 1.375f, "temperature %g", b.temperature);
    /* the bytes themselves: magic, version, little-endian float32 */
    uint8_t *bytes;
    size_t len;
    CHECK(file_read_all(path, 1 << 20, &bytes, &len, err) == 0, "%s", err);
    size_t alen = strlen(ARCH), payload = 8 + 4 + 4 + alen + 16 + 4 + 16;
    CHECK(len == payload + 4 * (a.n_params + a.n_stats) + 4, "file length %zu", len);
    CHECK(!memcmp(bytes, "DIGITCNN", 8) && bytes[8] == 1 && bytes[9] == 0, "header");
    uint32_t w0;
    memcpy(&w0, &a.params[0], 4);
    CHECK(bytes[payload] == (w0 & 0xff) && bytes[payload + 3] == (w0 >> 24), "first weight not little-endian");
    uint32_t crc = (uint32_t)bytes[len - 4] | (uint32_t)bytes[len - 3] << 8 | (uint32_t)bytes[len - 2] << 16 |
                   (uint32_t)bytes[len - 1] << 24;
    CHECK(crc == crc32_update(0, bytes, len - 4), "stored CRC");
    CHECK(crc32_update(0, "123456789", 9) == 0xcbf43926u, "CRC-32 check value");
    free(bytes);
    /* no temporary left behind by the atomic write */
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CHECK(access(tmp, F_OK) != 0, "%s left behind", tmp);
    remove(path);
    model_free(&a);
    model_free(&b);
}

static void set_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void fix_crc(uint8_t *b, size_t len) { set_u32(b + len - 4, crc32_update(0, b, len - 4)); }
#define HEAD_OF(m) (16 + strlen((m)->arch) + 36) /* bytes before a model file's values */

/* quantized weights: on a grid of ±127 steps of a power of two per channel, within half a step */
void test_quantize(void) {
    char err[ERR_LEN];
    model_t a, b;
    model_init(&a, ARCH, err);
    model_init_weights(&a, 9);
    model_init(&b, ARCH, err);
    memcpy(b.params, a.params, sizeof(float) * (a.n_params + a.n_stats));
    for (size_t i = 0; i < a.n_params; i++) a.params[i] += 0.01f * (float)(i % 3); /* biases too */
    memcpy(b.params, a.params, sizeof(float) * (a.n_params + a.n_stats));
    float worst = model_quantize_weights(&b, 8);
    int bad = 0;
    for (int i = 0; i < a.n_layers; i++) {
        const layer_t *l = &a.layer[i];
        if (l->kind == LAYER_BN) {
            bad += memcmp(a.params + l->w, b.params + l->w, sizeof(float) * (l->n_w + l->n_b)) != 0;
            continue;
        }
        if (l->kind != LAYER_CONV && l->kind != LAYER_FC) continue;
        bad += memcmp(a.params + l->b, b.params + l->b, sizeof(float) * l->n_b) != 0; /* biases untouched */
        size_t per = l->n_w / (size_t)l->out_c;
        for (int o = 0; o < l->out_c; o++) {
            const float *x = a.params + l->w + o * per, *q = b.params + l->w + o * per;
            float mx = 0;
            for (size_t j = 0; j < per; j++) mx = fmaxf(mx, fabsf(x[j]));
            float step = exp2f(ceilf(log2f(mx / 127.0f)));
            for (size_t j = 0; j < per; j++) {
                float k = q[j] / step;
                bad += k != roundf(k) || fabsf(k) > 127.0f || fabsf(q[j] - x[j]) > 0.5f * step * 1.0001f;
            }
        }
    }
    CHECK(bad == 0, "%d quantized values off their grid", bad);
    CHECK(worst > 0 && worst < 0.02f, "largest change %g", worst);
    /* and the file of a quantized model compresses: its weights' low 16 mantissa bits are zero */
    int zero_low = 0, total = 0;
    for (int i = 0; i < b.n_layers; i++)
        if (b.layer[i].kind == LAYER_CONV || b.layer[i].kind == LAYER_FC)
            for (size_t j = 0; j < b.layer[i].n_w; j++) {
                uint32_t u;
                memcpy(&u, &b.params[b.layer[i].w + j], 4);
                zero_low += (u & 0xffff) == 0, total++;
            }
    CHECK(zero_low == total, "%d of %d weights have nonzero low mantissa bits", total - zero_low, total);
    model_free(&a), model_free(&b);
}

/* the file of model a, written as version 1 (every value float32) whatever its weights */
static int serialize_v1(const model_t *a, uint8_t **b, size_t *len) {
    model_t f;
    char err[ERR_LEN];
    if (model_init(&f, a->arch, err)) return -1;
    memcpy(f.params, a->params, sizeof(float) * (a->n_params + a->n_stats));
    f.temperature = a->temperature;
    f.params[a->layer[0].w] += 1e-7f; /* off the int8 grid: the writer falls back to version 1 */
    int rc = model_serialize(&f, b, len, err);
    if (!rc) { /* the same model, but with a's weight: fix the value and the CRC */
        const size_t at = HEAD_OF(a) + 4 * a->layer[0].w;
        float v = a->params[a->layer[0].w];
        memcpy(*b + at, &v, 4);
        fix_crc(*b, *len);
    }
    model_free(&f);
    return rc;
}

/* 8-bit weights are written as version 2, a quarter of the size, and load to the same bits as version 1 */
void test_model_int8(void) {
    char err[ERR_LEN];
    model_t a, b, c;
    model_init(&a, ARCH, err);
    model_init_weights(&a, 5);
    for (size_t k = 0; k < a.n_stats; k++) a.params[a.n_params + k] = 0.5f + 0.01f * (float)k;
    a.temperature = 0.7f;
    uint8_t *f1, *f2;
    size_t n1, n2;
    model_serialize(&a, &f1, &n1, err);
    CHECK(f1[8] == 1, "unrounded weights are written as version %d", f1[8]);
    free(f1);
    model_quantize_weights(&a, 8);
    a.params[a.layer[0].w + 3] = -0.0f; /* rounding a small negative weight gives -0 */
    CHECK(model_serialize(&a, &f2, &n2, err) == 0 && f2[8] == 2, "8-bit weights are written as version %d", f2[8]);
    CHECK(serialize_v1(&a, &f1, &n1) == 0 && f1[8] == 1, "version 1 of the same model");
    CHECK(n2 * 3 < n1, "version 2 is %zu bytes, version 1 %zu", n2, n1);
    CHECK(model_load_mem(&b, f1, n1, err) == 0, "version 1: %s", err);
    CHECK(model_load_mem(&c, f2, n2, err) == 0, "version 2: %s", err);
    const size_t bytes = sizeof(float) * (a.n_params + a.n_stats);
    CHECK(!memcmp(a.params, b.params, bytes) && !memcmp(a.params, c.params, bytes) && b.temperature == c.temperature,
          "versions 1 and 2 load to different bits");
    CHECK(signbit(c.params[a.layer[0].w + 3]), "-0.0 comes back as +0.0");
    /* and 4-bit weights fit version 2 too */
    model_quantize_weights(&c, 4);
    free(f2);
    model_free(&b);
    CHECK(model_serialize(&c, &f2, &n2, err) == 0 && f2[8] == 2 && model_load_mem(&b, f2, n2, err) == 0 &&
              !memcmp(b.params, c.params, bytes),
          "4-bit weights: version %d, %s", f2[8], err);
    free(f1), free(f2);
    model_free(&a), model_free(&b), model_free(&c);
}

/* each kind of damage to a file of either version is rejected, with its own message */
static void corrupt_cases(const model_t *a, int version) {
    char err[ERR_LEN];
    model_t b;
    uint8_t *good, *x;
    size_t len;
    if (version == 1 ? serialize_v1(a, &good, &len) : model_serialize(a, &good, &len, err)) {
        CHECK(0, "version %d: cannot serialize", version);
        return;
    }
    CHECK(good[8] == version, "written as version %d, want %d", good[8], version);
    const size_t alen = strlen(ARCH), tail = 16 + alen; /* offset of the fixed fields after the arch */
    x = malloc(len + 16);
    if (!x) {
        free(good);
        return;
    }

#define EXPECT(buflen, want) \
    do { \
        err[0] = 0; \
        int rc_ = model_load_mem(&b, x, (buflen), err); \
        CHECK(rc_ != 0 && strstr(err, want), "version %d: want '%s', got rc %d '%s'", version, want, rc_, err); \
        if (rc_ == 0) model_free(&b); \
    } while (0)

    size_t cuts[] = {0, 3, 15, 40, len / 2, len - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        memcpy(x, good, len);
        EXPECT(cuts[i], "truncated");
    }
    memcpy(x, good, len), x[0] = 'X';
    EXPECT(len, "bad magic");
    memcpy(x, good, len), set_u32(x + 8, 7);
    EXPECT(len, "unsupported format version 7");
    memcpy(x, good, len), set_u32(x + 8, 0);
    EXPECT(len, "unsupported format version 0");
    memcpy(x, good, len), set_u32(x + 12, 5000);
    EXPECT(len, "bad architecture length");
    memcpy(x, good, len), x[len / 2] ^= 0x40; /* one flipped bit in the weights */
    EXPECT(len, "CRC mismatch");
    memcpy(x, good, len), x[len] = 0, fix_crc(x, len + 1);
    EXPECT(len + 1, "trailing data");
    /* the other version's number on this payload: its size does not match */
    memcpy(x, good, len), set_u32(x + 8, 3 - version), fix_crc(x, len);
    EXPECT(len, version == 1 ? "trailing data" : "truncated");
    /* absurd size: 2^40 parameters */
    memcpy(x, good, len), set_u32(x + tail + 20, 0), set_u32(x + tail + 24, 256), fix_crc(x, len);
    EXPECT(len, "absurd size");
    /* a parameter count that disagrees with the architecture (file length kept consistent) */
    memcpy(x, good, len);
    set_u32(x + tail + 20, (uint32_t)a->n_params - 1);
    set_u32(x + tail + 28, (uint32_t)a->n_stats + 1);
    fix_crc(x, len);
    EXPECT(len, "does not match");
    /* an architecture the parser rejects, with a valid CRC */
    memcpy(x, good, len), memcpy(x + 16, "conv8k3,bn,relu,pool2,conv16k3,bn,relu,pool2,drop25,fc11", alen), fix_crc(x, len);
    EXPECT(len, "bad architecture");
    /* a NaN among the float32 values (version 2: the first after the int8 weights), with a valid CRC */
    const size_t first_float = version == 1 ? tail + 36 + 8 : len - 4 - 4 * (a->n_stats + 1);
    memcpy(x, good, len), set_u32(x + first_float, 0x7fc00000u), fix_crc(x, len);
    EXPECT(len, "not a finite number");
    if (version == 2) { /* a channel's scale out of range */
        memcpy(x, good, len), x[tail + 36] = (uint8_t)(int8_t)127, fix_crc(x, len);
        EXPECT(len, "bad scale exponent 127");
    }
    /* a non-positive temperature */
    memcpy(x, good, len), set_u32(x + tail + 16, 0xbf800000u), fix_crc(x, len);
    EXPECT(len, "bad temperature");
    /* wrong input shape */
    memcpy(x, good, len), set_u32(x + tail + 4, 32), fix_crc(x, len);
    EXPECT(len, "unsupported input");
#undef EXPECT
    free(good), free(x);
}

void test_model_corrupt(void) {
    char err[ERR_LEN];
    model_t a, b;
    model_init(&a, ARCH, err);
    model_init_weights(&a, 1);
    model_quantize_weights(&a, 8);
    corrupt_cases(&a, 1);
    corrupt_cases(&a, 2);
    /* the file loader adds the path; a missing file says so */
    CHECK(model_load(&b, "/nonexistent/model.bin", err) != 0 && strstr(err, "cannot open"), "missing file: '%s'", err);
    uint8_t *good;
    size_t len;
    model_serialize(&a, &good, &len, err);
    const char *p = tmp_path("corrupt.bin");
    file_write_atomic(p, good, len / 3, err);
    CHECK(model_load(&b, p, err) != 0 && strstr(err, p) && strstr(err, "truncated"), "truncated file: '%s'", err);
    remove(p);
    free(good);
    model_free(&a);
}

/* A workspace's inference weights are keyed on the model's version, which is process-wide: a model
 * freed and another put at the same address (the allocator may hand the address back) is read with
 * its own weights, not the first one's. */
void test_model_cache(void) {
    char err[ERR_LEN];
    model_t a, b;
    workspace_t ws;
    if (model_load(&a, test_model_path(), err) || workspace_init(&ws, &a, 1, 0, err)) {
        CHECK(0, "%s", err);
        return;
    }
    float x[IMG_PIXELS], pa[N_CLASSES], pb[N_CLASSES];
    for (int i = 0; i < IMG_PIXELS; i++) x[i] = (i % 28 > 10 && i % 28 < 16) ? 1.0f : 0.0f; /* an upright bar */
    memcpy(pa, model_predict(&a, &ws, x, 1), sizeof pa);
    /* b: other weights (the last layer's biases moved), loaded from a file as the page loads a taught
     * model, then placed at a's address as a's memory is reused */
    const char *tmp = "build/test-model-cache.bin";
    if (model_load(&b, test_model_path(), err)) {
        CHECK(0, "%s", err);
        return;
    }
    for (int i = b.n_layers - 1; i >= 0; i--) /* the last batch norm off: every feature it feeds is 0 */
        if (b.layer[i].kind == LAYER_BN) {
            for (size_t k = 0; k < b.layer[i].n_w; k++) b.params[b.layer[i].w + k] = 0.0f;
            for (size_t k = 0; k < b.layer[i].n_b; k++) b.params[b.layer[i].b + k] = 0.0f;
            break;
        }
    model_touch(&b);
    if (model_save(&b, tmp, err)) CHECK(0, "%s", err);
    model_free(&b);
    if (model_load(&b, tmp, err)) {
        CHECK(0, "%s", err);
        return;
    }
    remove(tmp);
    memcpy(a.params, b.params, sizeof(float) * (b.n_params + b.n_stats));
    float *own = b.params;
    b.params = a.params, b.stats = a.params + a.n_params; /* a is "freed": its buffer now holds b */
    CHECK(b.version != a.version, "versions differ across models: %lu %lu", a.version, b.version);
    memcpy(pb, model_predict(&b, &ws, x, 1), sizeof pb);
    workspace_t fresh; /* what b reads with a workspace that never saw a */
    float want[N_CLASSES], diff = 0.0f, moved = 0.0f;
    if (workspace_init(&fresh, &b, 1, 0, err)) CHECK(0, "%s", err);
    memcpy(want, model_predict(&b, &fresh, x, 1), sizeof want);
    for (int j = 0; j < N_CLASSES; j++) diff = fmaxf(diff, fabsf(pb[j] - want[j])), moved = fmaxf(moved, fabsf(pb[j] - pa[j]));
    CHECK(diff < 1e-6f && moved > 0.1f, "the second model's own outputs: off by %g from a fresh workspace, %g from the first's", diff, moved);
    free(own);
    workspace_free(&ws), workspace_free(&fresh);
    model_free(&a);
}
