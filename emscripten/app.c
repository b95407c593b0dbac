/* app.c - the drawing front end, one source for both builds.
 *
 * An SDL2 window is the drawing surface: in the browser it is the page's
 * <canvas id="canvas"> (Emscripten's SDL2 backend), on the desktop a real
 * window. Mouse, touch and pen strokes are kept as point lists and rendered
 * into an 8-bit ink buffer as thick anti-aliased capsules; on every change the
 * buffer goes through reader_read() (segmentation, preprocessing, the CNN) -
 * the same C code the native tools run.
 *
 * In the browser the page shows the results: C hands them to JS as JSON
 * (js_update) and exposes the 28×28 input and the feature maps as buffers.
 * On the desktop (`make app`) the window has a side panel with the bars,
 * drawn here with SDL. `app --script FILE` replays a drawing through SDL's
 * event queue and prints the reading, for tests under Xvfb.
 */
#define _POSIX_C_SOURCE 200809L
#include <SDL.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc32.h"
#include "ink.h"
#include "layers.h"
#include "model.h"
#include "pen.h"
#include "preprocess.h"
#include "reader.h"

#ifdef __EMSCRIPTEN__
#include <emscripten.h>
#define EXPORT EMSCRIPTEN_KEEPALIVE
#else
#define EXPORT
#endif
#include "font5x7.h"

#define SINGLE_W 480 /* the canvas for one digit */
#define MULTI_W 960  /* and, wider, for a number */
#define CANVAS_W (app.cw)
#define CANVAS_H 360
#ifdef __EMSCRIPTEN__
#define PANEL_W 0
#else
#define PANEL_W 280 /* the native window's side panel */
#endif

static struct {
    SDL_Window *win;
    model_t model;
    workspace_t ws;
    int model_ok;
    char error[ERR_LEN + 32];
    ink_t strokes;             /* what was drawn, stroke by stroke */
    reader_cache *cache;       /* the pieces read so far: only what the last stroke changed is read again */
    int drawing;               /* a stroke is in progress */
    SDL_FingerID finger;       /* the finger drawing it, when touch */
    int cw;                    /* the canvas width now: SINGLE_W or MULTI_W */
    uint8_t ink[MULTI_W * CANVAS_H];
    int dirty, redraw_all, needs_classify;
    reading result;
    int selected;              /* which digit of the reading the views show */
    double last_ms;            /* preprocessing + forward of the last reading */
    long inferences;
    uint8_t features[4 * 640 * 640]; /* RGBA feature-map mosaic for the page */
    int features_w, features_h;
    char json[8192];
    int quit;
} app;

/* ---- strokes and ink (src/ink.c draws them) ------------------------------------ */

static void stroke_begin(float x, float y) {
    if (ink_begin(&app.strokes, x, y, NULL)) return; /* full: the drawing stays as it is */
    int n;
    const ink_point *p = ink_stroke(&app.strokes, app.strokes.n_strokes - 1, &n);
    ink_segment(app.ink, CANVAS_W, CANVAS_H, CANVAS_W, 0, 0, p[0], p[0], INK_BRUSH_RADIUS);
    app.drawing = 1;
    app.dirty = app.needs_classify = 1;
}

static void stroke_add(float x, float y) {
    if (!app.drawing || ink_extend(&app.strokes, x, y, NULL)) return; /* skipped (too close) or full */
    int n;
    const ink_point *p = ink_stroke(&app.strokes, app.strokes.n_strokes - 1, &n);
    ink_segment(app.ink, CANVAS_W, CANVAS_H, CANVAS_W, 0, 0, p[n - 2], p[n - 1], INK_BRUSH_RADIUS);
    app.dirty = app.needs_classify = 1;
}

static void stroke_end(void) { app.drawing = 0; }

EXPORT void app_clear(void) {
    ink_clear(&app.strokes);
    app.drawing = 0;
    memset(app.ink, 0, sizeof app.ink);
    app.dirty = app.needs_classify = 1;
}

/* the wide canvas for writing a number (on), or the single-digit one; the drawing is cleared */
EXPORT void app_set_multi(int on) {
    int w = on ? MULTI_W : SINGLE_W;
    if (w == app.cw) return;
    app_clear();
    app.cw = w;
    if (app.win) SDL_SetWindowSize(app.win, app.cw + PANEL_W, CANVAS_H);
    app.dirty = 1;
}
EXPORT int app_multi(void) { return app.cw == MULTI_W; }

EXPORT void app_undo(void) {
    if (!ink_undo(&app.strokes)) return;
    app.drawing = 0;
    app.redraw_all = app.dirty = app.needs_classify = 1;
}

/* ---- reading ---------------------------------------------------------------------- */

static double now_ms(void) { return (double)SDL_GetPerformanceCounter() * 1000.0 / (double)SDL_GetPerformanceFrequency(); }

static float confidence(int k) {
    const float *p = app.result.prob[k];
    float m = p[0];
    for (int j = 1; j < N_CLASSES; j++) m = p[j] > m ? p[j] : m;
    return m;
}

static const char *state(void) {
    if (app.result.n == 0) return "empty";
    if (app.result.truncated) return "unsure"; /* read on the first strokes only */
    for (int k = 0; k < app.result.n; k++)
        if (confidence(k) < UNSURE_BELOW) return "unsure";
    return "confident";
}

static void render_features(void);
static void publish(void);

static void classify(void) {
    if (!app.model_ok) return;
    double t0 = now_ms();
    if (!app.cache) app.cache = reader_cache_new(); /* NULL (no memory) reads without one */
    /* from the strokes: the one-digit canvas never cuts a stroke apart, the wide one may */
    reader_read_ink(&app.model, &app.ws, &app.strokes, CANVAS_W, CANVAS_H, app.cw == MULTI_W, app.cache, &app.result);
    app.last_ms = now_ms() - t0;
    app.inferences++;
    app.selected = app.result.n ? app.result.n - 1 : 0;
    /* the feature maps of the selected digit: run it once more, the workspace keeps them */
    if (app.result.n) model_predict(&app.model, &app.ws, app.result.input[app.selected], 1);
    render_features();
    publish();
}

/* Reads a grey bitmap (any size; ink light on dark or dark on light) through
 * the same pipeline as the canvas in its current mode and as `mnist classify`
 * (with --multi for the wide canvas), and returns the
 * probabilities of its first digit, or NULL when it is blank. For the test
 * that compares this wasm build with the native one. */
EXPORT const float *app_classify_gray(const uint8_t *gray, int w, int h) {
    static reading r;
    if (!app.model_ok || reader_read_cuts(&app.model, &app.ws, gray, w, h, w, app.cw == MULTI_W, &r) || r.n == 0)
        return NULL;
    return r.prob[0];
}

/* The network alone on a 28×28 input (values 0..1): probabilities, for benchmarks. */
EXPORT const float *app_forward(const float *x) { return app.model_ok ? model_predict(&app.model, &app.ws, x, 1) : NULL; }

/* ---- the look-inside view: feature maps as a mosaic ------------------------------------- */

static int conv_output_layer(int k) {
    /* the layer whose output shows the k-th conv layer's features: the ReLU after it, if any */
    int seen = -1;
    for (int i = 0; i < app.model.n_layers; i++) {
        if (app.model.layer[i].kind != LAYER_CONV) continue;
        if (++seen != k) continue;
        int j = i;
        while (j + 1 < app.model.n_layers && (app.model.layer[j + 1].kind == LAYER_BN || app.model.layer[j + 1].kind == LAYER_RELU)) j++;
        return j;
    }
    return -1;
}

static int n_conv(void) {
    int n = 0;
    for (int i = 0; i < app.model.n_layers; i++) n += app.model.layer[i].kind == LAYER_CONV;
    return n;
}

static int feature_layer = 0; /* which conv layer the mosaic shows */

static void render_features(void) {
    app.features_w = app.features_h = 0;
    int li = conv_output_layer(feature_layer);
    if (li < 0) return;
    const layer_t *l = &app.model.layer[li];
    int C = l->out_c, H = l->out_h, W = l->out_w;
    int cols = (int)ceil(sqrt((double)C * 1.5)), rows = (C + cols - 1) / cols, cell = W + 1;
    int mw = cols * cell - 1, mh = rows * (H + 1) - 1;
    if ((size_t)mw * mh * 4 > sizeof app.features) return;
    app.features_w = mw, app.features_h = mh;
    memset(app.features, 255, (size_t)mw * mh * 4);
    const float *act = app.ws.act[li];
    for (int c = 0; c < C; c++) {
        float mx = 1e-6f;
        for (int i = 0; i < H * W; i++) mx = fmaxf(mx, act[c * H * W + i]);
        int ox = (c % cols) * cell, oy = (c / cols) * (H + 1);
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                float v = app.result.n ? fmaxf(0.0f, act[(c * H + y) * W + x]) / mx : 0.0f;
                uint8_t *p = &app.features[((size_t)(oy + y) * mw + ox + x) * 4];
                /* dark blue for strong activation on white */
                p[0] = (uint8_t)(255 - 230 * v), p[1] = (uint8_t)(255 - 180 * v), p[2] = (uint8_t)(255 - 60 * v), p[3] = 255;
            }
    }
}

EXPORT const uint8_t *app_features(int conv_index) {
    if (conv_index < 0 || conv_index >= n_conv()) return NULL;
    if (conv_index != feature_layer) {
        feature_layer = conv_index;
        if (app.result.n) model_predict(&app.model, &app.ws, app.result.input[app.selected], 1);
        render_features();
    }
    return app.features;
}
EXPORT int app_features_w(void) { return app.features_w; }
EXPORT int app_features_h(void) { return app.features_h; }
EXPORT int app_conv_layers(void) { return n_conv(); }
EXPORT const float *app_input(void) { return app.result.n ? app.result.input[app.selected] : NULL; }
EXPORT const char *app_error(void) { return app.error; }

/* Teach mode: the whole canvas as one digit, 28×28 values in 0..1 (NULL when
 * blank) - what the page stores as a drawing to fine-tune on. */
EXPORT const float *app_teach_input(void) {
    static float x[IMG_PIXELS];
    preprocess_info info;
    return preprocess_canvas(x, app.ink, CANVAS_W, CANVAS_H, CANVAS_W, &info) == PREPROCESS_OK ? x : NULL;
}

/* which weights are loaded: the format version and the file's CRC-32 */
static char model_version[48];
EXPORT const char *app_model_version(void) { return model_version; }

/* the architecture, for the page's table */
EXPORT const char *app_arch_json(void) {
    static char buf[4096];
    size_t len = 0;
    len += (size_t)snprintf(buf + len, sizeof buf - len, "{\"arch\":\"%s\",\"params\":%zu,\"mflops\":%.2f,\"temperature\":%.3f,\"layers\":[",
                            app.model.arch, app.model.n_params, model_flops(&app.model) / 1e6, app.model.temperature);
    for (int i = 0; i < app.model.n_layers && len < sizeof buf; i++) {
        const layer_t *l = &app.model.layer[i];
        char d[96];
        layer_describe(l, d, sizeof d);
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s{\"kind\":\"%s\",\"desc\":\"%s\",\"out\":[%d,%d,%d],\"params\":%zu,\"mflops\":%.3f}",
                                i ? "," : "", layer_kind_name(l->kind), d, l->out_c, l->out_h, l->out_w, l->n_w + l->n_b, l->flops / 1e6);
    }
    if (len < sizeof buf) snprintf(buf + len, sizeof buf - len, "]}");
    return buf;
}

/* ---- results to the page or the panel ------------------------------------------------------ */

#ifdef __EMSCRIPTEN__
/* shell/main.js defines window.digitApp.update(json) */
EM_JS(void, js_update, (const char *json), { if (window.digitApp) window.digitApp.update(UTF8ToString(json)); });
#endif

static void publish(void) {
    size_t len = 0, cap = sizeof app.json;
    const reading *r = &app.result;
    len += (size_t)snprintf(app.json, cap,
                            "{\"state\":\"%s\",\"number\":\"%s\",\"selected\":%d,\"ms\":%.3f,\"inferences\":%ld,"
                            "\"strokes\":%d,\"truncated\":%s,\"digits\":[",
                            state(), r->number, app.selected, app.last_ms, app.inferences, app.strokes.n_strokes,
                            r->truncated ? "true" : "false");
    for (int k = 0; k < r->n && len < cap; k++) {
        len += (size_t)snprintf(app.json + len, cap - len, "%s{\"digit\":%d,\"confidence\":%.4f,\"box\":[%d,%d,%d,%d],\"probs\":[",
                                k ? "," : "", r->digit[k], confidence(k), r->info[k].x0, r->info[k].y0, r->info[k].x1, r->info[k].y1);
        for (int j = 0; j < N_CLASSES && len < cap; j++)
            len += (size_t)snprintf(app.json + len, cap - len, "%s%.6f", j ? "," : "", r->prob[k][j]);
        if (len < cap) len += (size_t)snprintf(app.json + len, cap - len, "]}");
    }
    if (len < cap) snprintf(app.json + len, cap - len, "]}");
#ifdef __EMSCRIPTEN__
    js_update(app.json);
#endif
}

EXPORT const char *app_result_json(void) { return app.json; }

/* The strokes as a stroke file (src/pen.h), exact to the bit: `mnist classify --strokes` reads it
 * as the page did. NULL when out of memory. */
EXPORT const char *app_strokes_text(void) {
    static char *text;
    size_t len;
    free(text);
    if (pen_format(&app.strokes, &text, &len, NULL)) text = NULL;
    return text;
}

/* the CRC-32 of the ink canvas the reader sees (CANVAS_W × CANVAS_H bytes) */
EXPORT unsigned app_ink_crc(void) { return crc32_update(0, app.ink, (size_t)CANVAS_W * CANVAS_H); }

/* ---- drawing the window ------------------------------------------------------------------------ */

static void fill(SDL_Surface *s, int x, int y, int w, int h, Uint32 rgb) {
    SDL_Rect r = {x, y, w, h};
    SDL_FillRect(s, &r, SDL_MapRGB(s->format, (Uint8)(rgb >> 16), (Uint8)(rgb >> 8), (Uint8)rgb));
}

static void text(SDL_Surface *s, int x, int y, int scale, Uint32 rgb, const char *str) {
    for (; *str; str++, x += 6 * scale) {
        const uint8_t *g = font5x7_glyph(*str);
        if (!g) continue;
        for (int row = 0; row < 7; row++)
            for (int col = 0; col < 5; col++)
                if (g[row] & (0x10 >> col)) fill(s, x + col * scale, y + row * scale, scale, scale, rgb);
    }
}

#ifndef __EMSCRIPTEN__

/* the native window's side panel: the reading, ten bars, the 28×28 input */
static void draw_panel(SDL_Surface *s) {
    const int x0 = CANVAS_W;
    fill(s, x0, 0, PANEL_W, CANVAS_H, 0xf3f4f6);
    const reading *r = &app.result;
    const char *st = state();
    if (r->n == 0) {
        text(s, x0 + 16, 20, 2, 0x555555, "DRAW A DIGIT");
    } else {
        text(s, x0 + 16, 12, 5, 0x111827, r->number);
        text(s, x0 + 16, 52, 2, !strcmp(st, "unsure") ? 0xb45309 : 0x15803d, !strcmp(st, "unsure") ? "NOT SURE" : "CONFIDENT");
    }
    for (int d = 0; d < N_CLASSES; d++) {
        float p = r->n ? r->prob[app.selected][d] : 0.0f;
        int y = 82 + d * 18;
        char lab[2] = {(char)('0' + d), 0};
        text(s, x0 + 16, y + 2, 2, 0x111827, lab);
        fill(s, x0 + 36, y, 150, 14, 0xe5e7eb);
        fill(s, x0 + 36, y, (int)lroundf(150 * p), 14, r->n && d == r->digit[app.selected] ? 0x1d4ed8 : 0x6b7280);
        char pct[16];
        snprintf(pct, sizeof pct, "%.0f%%", 100 * p);
        text(s, x0 + 194, y + 3, 1, 0x374151, pct);
    }
    /* what the model sees, 4x */
    const int px = x0 + 16, py = 270 - 6;
    text(s, px + 122, py + 4, 1, 0x374151, "MODEL INPUT");
    for (int y = 0; y < IMG_SIDE; y++)
        for (int x = 0; x < IMG_SIDE; x++) {
            float v = r->n ? r->input[app.selected][y * IMG_SIDE + x] : 0.0f;
            Uint8 g = (Uint8)(255 - lroundf(255 * v));
            fill(s, px + 3 * x, py + 3 * y, 3, 3, (Uint32)g << 16 | (Uint32)g << 8 | g);
        }
}
#endif

static void present(void) {
    SDL_Surface *s = SDL_GetWindowSurface(app.win);
    if (!s) return;
    SDL_LockSurface(s);
    const SDL_PixelFormat *f = s->format;
    Uint32 lut[256]; /* paper #fcfcfa to ink #141b2d */
    for (int v = 0; v < 256; v++) {
        float a = v / 255.0f;
        lut[v] = SDL_MapRGB(f, (Uint8)lroundf(252 - a * (252 - 20)), (Uint8)lroundf(252 - a * (252 - 27)), (Uint8)lroundf(250 - a * (250 - 45)));
    }
    for (int y = 0; y < CANVAS_H && y < s->h; y++) {
        Uint32 *row = (Uint32 *)((Uint8 *)s->pixels + (size_t)y * s->pitch);
        for (int x = 0; x < CANVAS_W && x < s->w; x++) row[x] = lut[app.ink[y * CANVAS_W + x]];
    }
    SDL_UnlockSurface(s);
    if (app.result.n > 1 || app.cw == MULTI_W) { /* a number: frame each digit, with its label and confidence */
        for (int k = 0; k < app.result.n; k++) {
            const preprocess_info *b = &app.result.info[k];
            const Uint32 c = confidence(k) < UNSURE_BELOW ? 0xb45309 : 0x2563eb;
            int x = b->x0 - 6, y = b->y0 - 6, w = b->x1 - b->x0 + 13, h = b->y1 - b->y0 + 13;
            fill(s, x, y, w, 2, c), fill(s, x, y + h - 2, w, 2, c);
            fill(s, x, y, 2, h, c), fill(s, x + w - 2, y, 2, h, c);
            char lab[16];
            snprintf(lab, sizeof lab, "%d %d%%", app.result.digit[k], (int)lroundf(100 * confidence(k)));
            int ty = y - 18 >= 0 ? y - 18 : y + h + 3; /* above the frame, or below it at the top edge */
            fill(s, x, ty - 2, (int)strlen(lab) * 12 + 2, 18, c);
            text(s, x + 2, ty, 2, 0xffffff, lab);
        }
    }
#ifndef __EMSCRIPTEN__
    draw_panel(s);
#endif
    SDL_UpdateWindowSurface(app.win);
}

/* ---- events ---------------------------------------------------------------------------------- */

static void handle(const SDL_Event *e) {
    switch (e->type) {
    case SDL_QUIT:
        app.quit = 1;
        break;
    case SDL_MOUSEBUTTONDOWN:
        if (e->button.which != SDL_TOUCH_MOUSEID && e->button.button == SDL_BUTTON_LEFT && e->button.x < CANVAS_W)
            stroke_begin((float)e->button.x, (float)e->button.y);
        break;
    case SDL_MOUSEMOTION:
        /* only with the left button held: a stroke whose button-up was lost outside the window ends here */
        if (e->motion.which != SDL_TOUCH_MOUSEID && app.drawing && app.finger == 0 && !(e->motion.state & SDL_BUTTON_LMASK))
            stroke_end();
        else if (e->motion.which != SDL_TOUCH_MOUSEID && app.drawing && app.finger == 0)
            stroke_add((float)e->motion.x, (float)e->motion.y);
        break;
    case SDL_MOUSEBUTTONUP:
        if (e->button.which != SDL_TOUCH_MOUSEID && e->button.button == SDL_BUTTON_LEFT && app.finger == 0) stroke_end();
        break;
    case SDL_FINGERDOWN: /* touch and pen: coordinates are 0..1 over the window */
        if (!app.drawing) {
            app.finger = e->tfinger.fingerId ? e->tfinger.fingerId : 1;
            stroke_begin(e->tfinger.x * (CANVAS_W + PANEL_W), e->tfinger.y * CANVAS_H);
        }
        break;
    case SDL_FINGERMOTION:
        if (app.drawing && app.finger == (e->tfinger.fingerId ? e->tfinger.fingerId : 1))
            stroke_add(e->tfinger.x * (CANVAS_W + PANEL_W), e->tfinger.y * CANVAS_H);
        break;
    case SDL_FINGERUP:
        if (app.drawing && app.finger == (e->tfinger.fingerId ? e->tfinger.fingerId : 1)) stroke_end(), app.finger = 0;
        break;
    case SDL_KEYDOWN: {
        SDL_Keycode k = e->key.keysym.sym;
        if (k == SDLK_ESCAPE) app_clear();
        else if (k == SDLK_BACKSPACE || (k == SDLK_z && (e->key.keysym.mod & KMOD_CTRL))) app_undo();
#ifndef __EMSCRIPTEN__
        else if (k == SDLK_m) app_set_multi(app.cw != MULTI_W); /* the page has a button for it */
#endif
        break;
    }
    case SDL_WINDOWEVENT:
        if (e->window.event == SDL_WINDOWEVENT_EXPOSED || e->window.event == SDL_WINDOWEVENT_SIZE_CHANGED) app.dirty = 1;
        break;
    default:
        break;
    }
}

static void frame(void) {
    SDL_Event e;
    while (SDL_PollEvent(&e)) handle(&e);
    if (app.redraw_all) { /* after an undo: the ink is rebuilt from the remaining strokes before reading it */
        ink_render(app.ink, CANVAS_W, CANVAS_H, &app.strokes);
        app.redraw_all = 0;
    }
    if (app.needs_classify) {
        app.needs_classify = 0;
        classify();
        app.dirty = 1;
    }
    if (app.dirty) {
        app.dirty = 0;
        present();
    }
}

/* ---- model ------------------------------------------------------------------------------------- */

EXPORT int app_load_model(const uint8_t *buf, int len) {
    model_t m;
    char err[ERR_LEN];
    if (len < 0 || model_load_mem(&m, buf, (size_t)len, err)) {
        snprintf(app.error, sizeof app.error, "model.bin: %s", err);
        return -1;
    }
    if (app.model_ok) workspace_free(&app.ws), model_free(&app.model);
    app.model = m;
    reader_cache_clear(app.cache); /* pieces read with the old weights */
    snprintf(model_version, sizeof model_version, "digitcnn-%d-%08x", MODEL_FORMAT_VERSION,
             (unsigned)buf[len - 4] | (unsigned)buf[len - 3] << 8 | (unsigned)buf[len - 2] << 16 | (unsigned)buf[len - 1] << 24);
    if (workspace_init(&app.ws, &app.model, 1, 0, err)) {
        snprintf(app.error, sizeof app.error, "%s", err);
        model_free(&app.model);
        app.model_ok = 0;
        return -1;
    }
    app.model_ok = 1;
    app.needs_classify = 1;
    return 0;
}

static int init_window(void) {
#ifdef __EMSCRIPTEN__
    SDL_SetHint(SDL_HINT_EMSCRIPTEN_KEYBOARD_ELEMENT, "#canvas");
#endif
    if (!app.cw) app.cw = SINGLE_W;
    if (SDL_Init(SDL_INIT_VIDEO) != 0) {
        fprintf(stderr, "app: SDL_Init: %s\n", SDL_GetError());
        return -1;
    }
    app.win = SDL_CreateWindow("digit reader", SDL_WINDOWPOS_CENTERED, SDL_WINDOWPOS_CENTERED, CANVAS_W + PANEL_W, CANVAS_H, 0);
    if (!app.win) {
        fprintf(stderr, "app: SDL_CreateWindow: %s\n", SDL_GetError());
        return -1;
    }
    app.dirty = 1;
    return 0;
}

#ifdef __EMSCRIPTEN__

int main(void) {
    if (init_window()) return 1;
    /* the page fetches model.bin and calls app_load_model; until then strokes are kept */
    emscripten_set_main_loop(frame, 0, 0);
    return 0;
}

#else /* native */

/* Script lines: "down X Y", "move X Y", "up", "key escape|backspace|ctrl-z|m", "print".
 * Each becomes an SDL event on the queue, so the real event path runs. */
static int run_script(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "app: %s: cannot open the script\n", path);
        return -1;
    }
    char line[256];
    int lineno = 0, rc = 0;
    Uint32 wid = SDL_GetWindowID(app.win);
    /* let the window map, and drop the events that brings (pointer entering, exposure) */
    for (int i = 0; i < 10; i++) frame(), SDL_Delay(20);
    SDL_FlushEvents(SDL_FIRSTEVENT, SDL_LASTEVENT);
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char cmd[32] = "", arg[32] = "";
        float x = 0, y = 0;
        int n = sscanf(line, "%31s %f %f", cmd, &x, &y);
        if (n < 1 || cmd[0] == '#') continue;
        SDL_Event e;
        memset(&e, 0, sizeof e);
        if (!strcmp(cmd, "down") || !strcmp(cmd, "up")) {
            e.type = cmd[0] == 'd' ? SDL_MOUSEBUTTONDOWN : SDL_MOUSEBUTTONUP;
            e.button.windowID = wid, e.button.button = SDL_BUTTON_LEFT;
            e.button.state = cmd[0] == 'd' ? SDL_PRESSED : SDL_RELEASED;
            e.button.x = (int)x, e.button.y = (int)y;
        } else if (!strcmp(cmd, "move") && n == 3) {
            e.type = SDL_MOUSEMOTION;
            e.motion.windowID = wid, e.motion.state = SDL_BUTTON_LMASK, e.motion.x = (int)x, e.motion.y = (int)y;
        } else if (!strcmp(cmd, "key") && sscanf(line, "%*s %31s", arg) == 1) {
            e.type = SDL_KEYDOWN;
            e.key.windowID = wid, e.key.state = SDL_PRESSED;
            e.key.keysym.sym = !strcmp(arg, "escape") ? SDLK_ESCAPE : !strcmp(arg, "backspace") ? SDLK_BACKSPACE : !strcmp(arg, "m") ? SDLK_m : SDLK_z;
            if (!strcmp(arg, "ctrl-z")) e.key.keysym.mod = KMOD_LCTRL;
        } else if (!strcmp(cmd, "print")) {
            frame();
            printf("reading: %s %s\n", app.result.n ? app.result.number : "-", state());
            continue;
        } else {
            fprintf(stderr, "app: %s:%d: cannot parse '%s'\n", path, lineno, line);
            rc = -1;
            break;
        }
        if (SDL_PushEvent(&e) < 0) {
            fprintf(stderr, "app: SDL_PushEvent: %s\n", SDL_GetError());
            rc = -1;
            break;
        }
        frame();
    }
    fclose(f);
    return rc;
}

int main(int argc, char **argv) {
    const char *model_path = "weights/model.bin", *script = NULL, *shot = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--model") && i + 1 < argc) model_path = argv[++i];
        else if (!strcmp(argv[i], "--script") && i + 1 < argc) script = argv[++i];
        else if (!strcmp(argv[i], "--screenshot") && i + 1 < argc) shot = argv[++i];
        else {
            fprintf(stderr, "usage: app [--model FILE] [--script FILE [--screenshot FILE.bmp]]\n");
            return 2;
        }
    }
    char err[ERR_LEN];
    model_t m;
    if (model_load(&m, model_path, err)) {
        fprintf(stderr, "app: %s\n", err);
        return 1;
    }
    uint8_t *bytes;
    size_t len;
    if (model_serialize(&m, &bytes, &len, err) || app_load_model(bytes, (int)len)) {
        fprintf(stderr, "app: %s\n", app.error[0] ? app.error : err);
        return 1;
    }
    free(bytes);
    model_free(&m);
    if (init_window()) return 1;
    int rc = 0;
    if (script) {
        rc = run_script(script) ? 1 : 0;
        frame();
        printf("reading: %s %s\n", app.result.n ? app.result.number : "-", state());
        for (int k = 0; k < app.result.n; k++) printf("digit %d: %d (%.1f%%)\n", k, app.result.digit[k], 100 * confidence(k));
        if (shot) {
            SDL_Surface *s = SDL_GetWindowSurface(app.win);
            if (!s || SDL_SaveBMP(s, shot) != 0) {
                fprintf(stderr, "app: screenshot: %s\n", SDL_GetError());
                rc = 1;
            }
        }
    } else {
        while (!app.quit) {
            frame();
            SDL_Delay(8);
        }
    }
    workspace_free(&app.ws);
    model_free(&app.model);
    reader_cache_free(app.cache);
    ink_free(&app.strokes);
    SDL_DestroyWindow(app.win);
    SDL_Quit();
    return rc;
}
#endif
