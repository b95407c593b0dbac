/* app.c - the drawing front end: an SDL2 program around the core (core.h),
 * one source for both builds.
 *
 * An SDL2 window is the drawing surface: in the browser it is the page's
 * <canvas id="canvas"> (Emscripten's SDL2 backend), on the desktop a real
 * window. Mouse, touch and pen events become strokes in the core, which draws
 * their ink and reads it - the same C the native tools run.
 *
 * In the browser the page shows the results: each reading goes to JS as JSON
 * (js_update), and the exports below hand the page the 28×28 input, the
 * feature maps and the rest. On the desktop (`make app`) the window has a side
 * panel with the bars. Both draw the window into a raster (src/raster.h) and
 * blit it. `app --script FILE` replays a drawing through SDL's event queue and
 * prints the reading, for tests under Xvfb.
 */
#define _POSIX_C_SOURCE 200809L
#include <SDL.h>
#include <math.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "raster.h"

#ifdef __EMSCRIPTEN__
#include <emscripten.h>
#define EXPORT EMSCRIPTEN_KEEPALIVE
#define PANEL_W 0
#else
#define EXPORT
#define PANEL_W 280 /* the native window's side panel */
#endif

static core_t core;
static struct {
    SDL_Window *win;
    SDL_FingerID finger; /* the finger drawing the current stroke, when touch */
    raster_t frame;      /* the window's picture, blitted to it */
    int dirty, quit;
} app;

/* ---- what the page calls ------------------------------------------------------------------ */

EXPORT int app_load_model(const uint8_t *buf, int len) { return core_load_model(&core, buf, len); }
EXPORT const char *app_error(void) { return core.error; }
EXPORT const char *app_model_version(void) { return core.model_version; }
EXPORT void app_clear(void) { core_clear(&core), app.dirty = 1; }
EXPORT void app_undo(void) { core_undo(&core), app.dirty = 1; }
EXPORT int app_multi(void) { return core.w == CORE_MULTI_W; }
/* the wide canvas for writing a number (on), or the single-digit one; the drawing is cleared */
EXPORT void app_set_multi(int on) {
    if (core_set_multi(&core, on) && app.win) SDL_SetWindowSize(app.win, core.w + PANEL_W, CORE_H);
    app.dirty = 1;
}
EXPORT const char *app_result_json(void) { return core.json; }
EXPORT const float *app_input(void) { return core.result.n ? core.result.input[core.selected] : NULL; }
/* digit k's 28×28 input, and the canvas's ink (app_canvas_w × 360 bytes), for the page's preparation steps */
EXPORT const float *app_digit_input(int k) { return k >= 0 && k < core.result.n ? core.result.input[k] : NULL; }
EXPORT const uint8_t *app_ink(void) { return core.ink; }
EXPORT int app_canvas_w(void) { return core.w; }
EXPORT const uint8_t *app_features(int k) { return core_features(&core, k); }
EXPORT int app_features_w(void) { return core.features_w; }
EXPORT int app_features_h(void) { return core.features_h; }
EXPORT int app_conv_layers(void) { return core_conv_layers(&core); }
EXPORT const char *app_arch_json(void) { return core_arch_json(&core); }
EXPORT const float *app_teach_input(void) { return core_teach_input(&core); }
EXPORT const char *app_strokes_text(void) { return core_strokes_text(&core); }
EXPORT unsigned app_ink_crc(void) { return core_ink_crc(&core); }
/* for the test that compares this wasm build with the native one: a grey bitmap, read as `mnist classify` reads it */
EXPORT const float *app_classify_gray(const uint8_t *gray, int w, int h) { return core_classify_gray(&core, gray, w, h); }
/* the network alone on a 28×28 input (values 0..1): probabilities, for benchmarks */
EXPORT const float *app_forward(const float *x) { return core.model_ok ? model_predict(&core.model, &core.ws, x, 1) : NULL; }

#ifdef __EMSCRIPTEN__
/* shell/main.js defines window.digitApp.update(json) */
EM_JS(void, js_update, (const char *json), { if (window.digitApp) window.digitApp.update(UTF8ToString(json)); });
#endif

/* ---- drawing the window ------------------------------------------------------------------- */

#ifndef __EMSCRIPTEN__
/* the native window's side panel: the reading, ten bars, the 28×28 input */
static void draw_panel(raster_t *f) {
    const int x0 = core.w;
    const reading *r = &core.result;
    const int unsure = !strcmp(core_state(&core), "unsure");
    raster_rect(f, x0, 0, PANEL_W, CORE_H, 0xf3f4f6);
    if (r->n == 0) {
        raster_text(f, x0 + 16, 20, 2, 0x555555, "DRAW A DIGIT");
    } else {
        raster_text(f, x0 + 16, 12, 5, 0x111827, r->number);
        raster_text(f, x0 + 16, 52, 2, unsure ? 0xb45309 : 0x15803d, unsure ? "NOT SURE" : "CONFIDENT");
    }
    for (int d = 0; d < N_CLASSES; d++) {
        const float p = r->n ? r->prob[core.selected][d] : 0.0f;
        const int y = 82 + d * 18;
        char lab[2] = {(char)('0' + d), 0}, pct[16];
        raster_text(f, x0 + 16, y + 2, 2, 0x111827, lab);
        raster_rect(f, x0 + 36, y, 150, 14, 0xe5e7eb);
        raster_rect(f, x0 + 36, y, (int)lroundf(150 * p), 14, r->n && d == r->digit[core.selected] ? 0x1d4ed8 : 0x6b7280);
        snprintf(pct, sizeof pct, "%.0f%%", 100 * p);
        raster_text(f, x0 + 194, y + 3, 1, 0x374151, pct);
    }
    /* what the model sees, 3× */
    raster_text(f, x0 + 138, 268, 1, 0x374151, "MODEL INPUT");
    if (r->n) raster_digit(f, x0 + 16, 264, 3, r->input[core.selected]);
    else raster_rect(f, x0 + 16, 264, 3 * IMG_SIDE, 3 * IMG_SIDE, 0xffffff);
}
#endif

/* the ink on paper, and on a number each digit framed with its label and confidence */
static void draw_canvas(raster_t *f) {
    uint8_t lut[256][3]; /* paper #fcfcfa to ink #141b2d */
    for (int v = 0; v < 256; v++) {
        const float a = v / 255.0f;
        lut[v][0] = (uint8_t)lroundf(252 - a * (252 - 20)), lut[v][1] = (uint8_t)lroundf(252 - a * (252 - 27));
        lut[v][2] = (uint8_t)lroundf(250 - a * (250 - 45));
    }
    for (int y = 0; y < CORE_H; y++)
        for (int x = 0; x < core.w; x++) memcpy(f->rgb + ((size_t)y * f->w + x) * 3, lut[core.ink[y * core.w + x]], 3);
    if (core.result.n < 2 && core.w != CORE_MULTI_W) return;
    int above_end = INT_MIN / 2, below_end = INT_MIN / 2; /* where the last label above / below a frame ends */
    for (int k = 0; k < core.result.n; k++) {
        const preprocess_info *b = &core.result.info[k];
        const uint32_t c = core_confidence(&core, k) < UNSURE_BELOW ? 0xb45309 : 0x2563eb;
        const int x = b->x0 - 6, y = b->y0 - 6, w = b->x1 - b->x0 + 13, h = b->y1 - b->y0 + 13;
        raster_rect(f, x, y, w, 2, c), raster_rect(f, x, y + h - 2, w, 2, c);
        raster_rect(f, x, y, 2, h, c), raster_rect(f, x + w - 2, y, 2, h, c);
        char lab[16];
        snprintf(lab, sizeof lab, "%d %d%%", core.result.digit[k], (int)lroundf(100 * core_confidence(&core, k)));
        /* above the frame; below it at the top edge, or where the label before it would be covered */
        const int lw = (int)strlen(lab) * 12 + 2, fits_above = y - 18 >= 0, fits_below = y + h + 3 + 16 <= CORE_H;
        const int above = fits_above && (x >= above_end + 2 || !fits_below || x < below_end + 2);
        const int ty = above ? y - 18 : y + h + 3;
        if (above) above_end = x + lw;
        else below_end = x + lw;
        raster_rect(f, x, ty - 2, lw, 18, c);
        raster_text(f, x + 2, ty, 2, 0xffffff, lab);
    }
}

static void present(void) {
    SDL_Surface *s = SDL_GetWindowSurface(app.win);
    const int w = core.w + PANEL_W;
    if (!s) return;
    if (app.frame.w != w) {
        raster_free(&app.frame);
        if (raster_init(&app.frame, w, CORE_H, 0xffffff, NULL)) return; /* no memory: the window keeps its picture */
    }
    draw_canvas(&app.frame);
#ifndef __EMSCRIPTEN__
    draw_panel(&app.frame);
#endif
    SDL_Surface *img = SDL_CreateRGBSurfaceWithFormatFrom(app.frame.rgb, w, CORE_H, 24, w * 3, SDL_PIXELFORMAT_RGB24);
    if (!img) return;
    SDL_BlitSurface(img, NULL, s, NULL);
    SDL_FreeSurface(img);
    SDL_UpdateWindowSurface(app.win);
}

/* ---- events ---------------------------------------------------------------------------------- */

static SDL_FingerID finger_of(const SDL_TouchFingerEvent *t) { return t->fingerId ? t->fingerId : 1; }

static void handle(const SDL_Event *e) {
    const int mouse = (e->type == SDL_MOUSEMOTION ? e->motion.which : e->button.which) != SDL_TOUCH_MOUSEID;
    switch (e->type) {
    case SDL_QUIT:
        app.quit = 1;
        break;
    case SDL_MOUSEBUTTONDOWN:
        if (mouse && e->button.button == SDL_BUTTON_LEFT && e->button.x < core.w)
            core_stroke_begin(&core, (float)e->button.x, (float)e->button.y);
        break;
    case SDL_MOUSEMOTION: /* only with the left button held: a stroke whose button-up was lost outside the window ends */
        if (mouse && core.drawing && app.finger == 0) {
            if (e->motion.state & SDL_BUTTON_LMASK) core_stroke_add(&core, (float)e->motion.x, (float)e->motion.y);
            else core_stroke_end(&core);
        }
        break;
    case SDL_MOUSEBUTTONUP:
        if (mouse && e->button.button == SDL_BUTTON_LEFT && app.finger == 0) core_stroke_end(&core);
        break;
    case SDL_FINGERDOWN: /* touch and pen: coordinates are 0..1 over the window */
        if (!core.drawing) {
            app.finger = finger_of(&e->tfinger);
            core_stroke_begin(&core, e->tfinger.x * (core.w + PANEL_W), e->tfinger.y * CORE_H);
        }
        break;
    case SDL_FINGERMOTION:
        if (core.drawing && app.finger == finger_of(&e->tfinger))
            core_stroke_add(&core, e->tfinger.x * (core.w + PANEL_W), e->tfinger.y * CORE_H);
        break;
    case SDL_FINGERUP:
        if (core.drawing && app.finger == finger_of(&e->tfinger)) core_stroke_end(&core), app.finger = 0;
        break;
    case SDL_KEYDOWN: {
        const SDL_Keycode k = e->key.keysym.sym;
        if (k == SDLK_ESCAPE) app_clear();
        else if (k == SDLK_BACKSPACE || (k == SDLK_z && (e->key.keysym.mod & KMOD_CTRL))) app_undo();
#ifndef __EMSCRIPTEN__
        else if (k == SDLK_m) app_set_multi(core.w != CORE_MULTI_W); /* the page has a button for it */
#endif
        break;
    }
    case SDL_WINDOWEVENT:
        if (e->window.event == SDL_WINDOWEVENT_EXPOSED || e->window.event == SDL_WINDOWEVENT_SIZE_CHANGED) app.dirty = 1;
        break;
    default:
        break;
    }
    app.dirty |= core.needs_reading;
}

static void frame(void) {
    SDL_Event e;
    while (SDL_PollEvent(&e)) handle(&e);
    if (core_update(&core)) {
#ifdef __EMSCRIPTEN__
        js_update(core.json);
#endif
        app.dirty = 1;
    }
    if (app.dirty) {
        app.dirty = 0;
        present();
    }
}

static int init_window(void) {
#ifdef __EMSCRIPTEN__
    SDL_SetHint(SDL_HINT_EMSCRIPTEN_KEYBOARD_ELEMENT, "#canvas");
#endif
    if (SDL_Init(SDL_INIT_VIDEO) != 0) {
        fprintf(stderr, "app: SDL_Init: %s\n", SDL_GetError());
        return -1;
    }
    app.win = SDL_CreateWindow("digit reader", SDL_WINDOWPOS_CENTERED, SDL_WINDOWPOS_CENTERED, core.w + PANEL_W, CORE_H, 0);
    if (!app.win) {
        fprintf(stderr, "app: SDL_CreateWindow: %s\n", SDL_GetError());
        return -1;
    }
    app.dirty = 1;
    return 0;
}

#ifdef __EMSCRIPTEN__

int main(void) {
    core_init(&core);
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
    const Uint32 wid = SDL_GetWindowID(app.win);
    /* let the window map, and drop the events that brings (pointer entering, exposure) */
    for (int i = 0; i < 10; i++) frame(), SDL_Delay(20);
    SDL_FlushEvents(SDL_FIRSTEVENT, SDL_LASTEVENT);
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char cmd[32] = "", arg[32] = "";
        float x = 0, y = 0;
        const int n = sscanf(line, "%31s %f %f", cmd, &x, &y);
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
            printf("reading: %s %s\n", core.result.n ? core.result.number : "-", core_state(&core));
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

/* the model file, checked by model_load (which names the file in its messages), into the core */
static int load(const char *path) {
    char err[ERR_LEN];
    model_t m;
    uint8_t *bytes;
    size_t len;
    if (model_load(&m, path, err)) {
        fprintf(stderr, "app: %s\n", err);
        return -1;
    }
    const int rc = model_serialize(&m, &bytes, &len, err);
    model_free(&m);
    if (rc || core_load_model(&core, bytes, (int)len)) {
        fprintf(stderr, "app: %s\n", rc ? err : core.error);
        if (!rc) free(bytes);
        return -1;
    }
    free(bytes);
    return 0;
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
    core_init(&core);
    if (load(model_path) || init_window()) {
        core_free(&core);
        return 1;
    }
    int rc = 0;
    if (script) {
        rc = run_script(script) ? 1 : 0;
        frame();
        printf("reading: %s %s\n", core.result.n ? core.result.number : "-", core_state(&core));
        for (int k = 0; k < core.result.n; k++)
            printf("digit %d: %d (%.1f%%)\n", k, core.result.digit[k], 100 * core_confidence(&core, k));
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
    core_free(&core);
    raster_free(&app.frame);
    SDL_DestroyWindow(app.win);
    SDL_Quit();
    return rc;
}
#endif
