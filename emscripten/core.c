#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "core.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crc32.h"
#include "layers.h"
#include "pen.h"
#include "preprocess.h"

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return 1e3 * (double)t.tv_sec + 1e-6 * (double)t.tv_nsec;
}

void core_init(core_t *c) {
    memset(c, 0, sizeof *c);
    ink_init(&c->strokes);
    c->w = CORE_SINGLE_W;
    c->needs_reading = 1;
}

void core_free(core_t *c) {
    if (c->model_ok) workspace_free(&c->ws), model_free(&c->model);
    reader_cache_free(c->cache);
    ink_free(&c->strokes);
}

int core_load_model(core_t *c, const uint8_t *buf, int len) {
    model_t m;
    workspace_t ws;
    char err[ERR_LEN];
    if (len < 4 || model_load_mem(&m, buf, (size_t)len, err)) {
        snprintf(c->error, sizeof c->error, "model.bin: %s", len < 4 ? "too short" : err);
        return -1;
    }
    if (workspace_init(&ws, &m, 1, 0, err)) {
        snprintf(c->error, sizeof c->error, "%s", err);
        model_free(&m);
        return -1;
    }
    if (c->model_ok) workspace_free(&c->ws), model_free(&c->model);
    c->model = m, c->ws = ws, c->model_ok = 1;
    reader_cache_clear(c->cache); /* pieces read with the old weights */
    /* the file's format version (len >= 16: it loaded) and its CRC */
    snprintf(c->model_version, sizeof c->model_version, "digitcnn-%u-%08x", (unsigned)buf[8],
             (unsigned)buf[len - 4] | (unsigned)buf[len - 3] << 8 | (unsigned)buf[len - 2] << 16 | (unsigned)buf[len - 1] << 24);
    c->needs_reading = 1;
    return 0;
}

/* ---- strokes and ink ---------------------------------------------------------------------- */

void core_stroke_begin(core_t *c, float x, float y) {
    if (ink_begin(&c->strokes, x, y, NULL)) return; /* full: the drawing stays as it is */
    int n;
    const ink_point *p = ink_stroke(&c->strokes, c->strokes.n_strokes - 1, &n);
    ink_segment(c->ink, c->w, CORE_H, c->w, 0, 0, p[0], p[0], INK_BRUSH_RADIUS);
    c->drawing = 1, c->needs_reading = 1;
}

void core_stroke_add(core_t *c, float x, float y) {
    if (!c->drawing || ink_extend(&c->strokes, x, y, NULL)) return; /* skipped (too close) or full */
    int n;
    const ink_point *p = ink_stroke(&c->strokes, c->strokes.n_strokes - 1, &n);
    ink_segment(c->ink, c->w, CORE_H, c->w, 0, 0, p[n - 2], p[n - 1], INK_BRUSH_RADIUS);
    c->needs_reading = 1;
}

void core_stroke_end(core_t *c) { c->drawing = 0; }

void core_clear(core_t *c) {
    ink_clear(&c->strokes);
    c->drawing = 0;
    memset(c->ink, 0, sizeof c->ink);
    c->needs_reading = 1;
}

void core_undo(core_t *c) {
    if (!ink_undo(&c->strokes)) return;
    c->drawing = 0;
    c->redraw_all = c->needs_reading = 1;
}

int core_set_multi(core_t *c, int on) {
    const int w = on ? CORE_MULTI_W : CORE_SINGLE_W;
    if (w == c->w) return 0;
    core_clear(c);
    c->w = w;
    return 1;
}

/* ---- reading ------------------------------------------------------------------------------ */

float core_confidence(const core_t *c, int k) {
    const float *p = c->result.prob[k];
    return p[model_argmax(p)];
}

const char *core_state(const core_t *c) {
    if (c->result.n == 0) return "empty";
    if (c->result.truncated) return "unsure"; /* read on the first strokes only */
    for (int k = 0; k < c->result.n; k++)
        if (core_confidence(c, k) < UNSURE_BELOW) return "unsure";
    return "confident";
}

static void render_features(core_t *c);

static void publish(core_t *c) {
    size_t len = 0;
    const size_t cap = sizeof c->json;
    const reading *r = &c->result;
    len += (size_t)snprintf(c->json, cap,
                            "{\"state\":\"%s\",\"number\":\"%s\",\"selected\":%d,\"ms\":%.3f,\"inferences\":%ld,"
                            "\"strokes\":%d,\"truncated\":%s,\"dots\":%s,\"digits\":[",
                            core_state(c), r->number, c->selected, c->last_ms, c->inferences, c->strokes.n_strokes,
                            r->truncated ? "true" : "false", r->dots ? "true" : "false");
    for (int k = 0; k < r->n && len < cap; k++) {
        const preprocess_info *b = &r->info[k];
        len += (size_t)snprintf(c->json + len, cap - len,
                                "%s{\"digit\":%d,\"confidence\":%.4f,\"box\":[%d,%d,%d,%d],\"place\":[%d,%d,%d,%d],"
                                "\"com\":[%.3f,%.3f],\"probs\":[",
                                k ? "," : "", r->digit[k], core_confidence(c, k), b->x0, b->y0, b->x1, b->y1, b->box_x,
                                b->box_y, b->box_w, b->box_h, b->com_x, b->com_y);
        for (int j = 0; j < N_CLASSES && len < cap; j++)
            len += (size_t)snprintf(c->json + len, cap - len, "%s%.6f", j ? "," : "", r->prob[k][j]);
        if (len < cap) len += (size_t)snprintf(c->json + len, cap - len, "]}");
    }
    if (len < cap) len += (size_t)snprintf(c->json + len, cap - len, "]");
    /* the reader's reasons are its own ASCII text, without quotes or backslashes */
    if (c->read_error[0] && len < cap) len += (size_t)snprintf(c->json + len, cap - len, ",\"error\":\"%s\"", c->read_error);
    if (len < cap) snprintf(c->json + len, cap - len, "}");
}

static void read_drawing(core_t *c) {
    const double t0 = now_ms();
    if (!c->cache) c->cache = reader_cache_new(NULL); /* NULL (no memory) reads without one */
    /* from the strokes: the one-digit canvas never cuts a stroke apart, the wide one may. A failure (no
     * memory) reads as nothing, and the page is told why */
    if (!reader_read_ink(&c->model, &c->ws, &c->strokes, c->w, CORE_H, c->w == CORE_MULTI_W, c->cache, &c->result,
                         c->read_error))
        c->read_error[0] = 0;
    c->last_ms = now_ms() - t0;
    c->inferences++;
    c->selected = c->result.n ? c->result.n - 1 : 0;
    /* the feature maps of the selected digit: run it once more, the workspace keeps them */
    if (c->result.n) model_predict(&c->model, &c->ws, c->result.input[c->selected], 1);
    render_features(c);
    publish(c);
}

int core_update(core_t *c) {
    if (c->redraw_all) { /* after an undo: the ink is rebuilt from the remaining strokes before it is read */
        ink_render(c->ink, c->w, CORE_H, &c->strokes);
        c->redraw_all = 0;
    }
    if (!c->needs_reading || !c->model_ok) return 0;
    c->needs_reading = 0;
    read_drawing(c);
    return 1;
}

const float *core_classify_gray(core_t *c, const uint8_t *gray, int w, int h) {
    static reading r;
    if (!c->model_ok) return NULL;
    if (reader_read_cuts(&c->model, &c->ws, gray, w, h, w, c->w == CORE_MULTI_W, &r, c->error) || r.n == 0) return NULL;
    return r.prob[0];
}

const float *core_teach_input(core_t *c) {
    static float x[IMG_PIXELS];
    return preprocess_canvas(x, c->ink, c->w, CORE_H, c->w, NULL) == PREPROCESS_OK ? x : NULL;
}

const char *core_strokes_text(const core_t *c) {
    static char *text;
    size_t len;
    free(text);
    if (pen_format(&c->strokes, &text, &len, NULL)) text = NULL;
    return text;
}

uint32_t core_ink_crc(const core_t *c) { return crc32_update(0, c->ink, (size_t)c->w * CORE_H); }

/* ---- the look-inside view: feature maps as a mosaic -------------------------------------------- */

/* the layer whose output shows the k-th conv layer's features: the ReLU after it, if any */
static int conv_output_layer(const model_t *m, int k) {
    int seen = -1;
    for (int i = 0; i < m->n_layers; i++) {
        if (m->layer[i].kind != LAYER_CONV || ++seen != k) continue;
        int j = i;
        while (j + 1 < m->n_layers && (m->layer[j + 1].kind == LAYER_BN || m->layer[j + 1].kind == LAYER_RELU)) j++;
        return j;
    }
    return -1;
}

int core_conv_layers(const core_t *c) {
    int n = 0;
    for (int i = 0; i < c->model.n_layers; i++) n += c->model.layer[i].kind == LAYER_CONV;
    return n;
}

static void render_features(core_t *c) {
    c->features_w = c->features_h = 0;
    const int li = conv_output_layer(&c->model, c->feature_layer);
    if (li < 0) return;
    const layer_t *l = &c->model.layer[li];
    const int C = l->out_c, H = l->out_h, W = l->out_w;
    const int cols = (int)ceil(sqrt((double)C * 1.5)), rows = (C + cols - 1) / cols, cell = W + 1;
    const int mw = cols * cell - 1, mh = rows * (H + 1) - 1;
    if ((size_t)mw * mh * 4 > sizeof c->features) return;
    c->features_w = mw, c->features_h = mh;
    memset(c->features, 255, (size_t)mw * mh * 4);
    const float *act = c->ws.act[li];
    for (int ch = 0; ch < C; ch++) {
        float mx = 1e-6f;
        for (int i = 0; i < H * W; i++) mx = fmaxf(mx, act[ch * H * W + i]);
        const int ox = (ch % cols) * cell, oy = (ch / cols) * (H + 1);
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                const float v = c->result.n ? fmaxf(0.0f, act[(ch * H + y) * W + x]) / mx : 0.0f;
                uint8_t *p = &c->features[((size_t)(oy + y) * mw + ox + x) * 4];
                /* dark blue for strong activation on white */
                p[0] = (uint8_t)(255 - 230 * v), p[1] = (uint8_t)(255 - 180 * v), p[2] = (uint8_t)(255 - 60 * v), p[3] = 255;
            }
    }
}

const uint8_t *core_features(core_t *c, int k) {
    if (k < 0 || k >= core_conv_layers(c)) return NULL;
    if (k != c->feature_layer) {
        c->feature_layer = k;
        if (c->result.n) model_predict(&c->model, &c->ws, c->result.input[c->selected], 1);
        render_features(c);
    }
    return c->features;
}

const char *core_arch_json(const core_t *c) {
    static char buf[4096];
    const model_t *m = &c->model;
    size_t len = (size_t)snprintf(buf, sizeof buf, "{\"arch\":\"%s\",\"params\":%zu,\"mflops\":%.2f,\"temperature\":%.3f,\"layers\":[",
                                  m->arch, m->n_params, model_flops(m) / 1e6, m->temperature);
    for (int i = 0; i < m->n_layers && len < sizeof buf; i++) {
        const layer_t *l = &m->layer[i];
        char d[96];
        layer_describe(l, d, sizeof d);
        len += (size_t)snprintf(buf + len, sizeof buf - len,
                                "%s{\"kind\":\"%s\",\"desc\":\"%s\",\"out\":[%d,%d,%d],\"params\":%zu,\"mflops\":%.3f}", i ? "," : "",
                                layer_kind_name(l->kind), d, l->out_c, l->out_h, l->out_w, l->n_w + l->n_b, l->flops / 1e6);
    }
    if (len < sizeof buf) snprintf(buf + len, sizeof buf - len, "]}");
    return buf;
}
