/* core.h - the front end's core, without SDL: the strokes, their ink, the
 * reading, the look-inside mosaic and the JSON the page is told. The page
 * (WebAssembly) and the desktop app (`make app`) are both SDL programs around
 * it (app.c): they turn pointer events into core_stroke_*() calls, call
 * core_update() once a frame, and draw what it holds.
 */
#ifndef DIGITS_CORE_H
#define DIGITS_CORE_H

#include <stdint.h>

#include "ink.h"
#include "model.h"
#include "reader.h"

#define CORE_SINGLE_W 480 /* the canvas for one digit */
#define CORE_MULTI_W 960  /* and, wider, for a number */
#define CORE_H 360
#define CORE_FEATURES_MAX (4 * 640 * 640)

typedef struct {
    model_t model;
    workspace_t ws;
    int model_ok;
    char error[ERR_LEN + 32];
    char model_version[48]; /* "digitcnn-VERSION-CRC" of the loaded file */
    ink_t strokes;          /* what was drawn, stroke by stroke */
    reader_cache *cache;    /* the pieces read so far: only what the last stroke changed is read again */
    int drawing;            /* a stroke is in progress */
    int w;                  /* the canvas width now: CORE_SINGLE_W or CORE_MULTI_W */
    uint8_t ink[CORE_MULTI_W * CORE_H]; /* what the reader sees, w × CORE_H */
    int redraw_all, needs_reading;
    reading result;
    char read_error[ERR_LEN]; /* why the last reading failed (no memory), or "" */
    int selected;   /* which digit of the reading the views show */
    double last_ms; /* the last reading's time */
    long inferences;
    int feature_layer; /* which conv layer the mosaic shows */
    uint8_t features[CORE_FEATURES_MAX]; /* RGBA */
    int features_w, features_h;
    char json[8192]; /* the last reading, for the page */
} core_t;

void core_init(core_t *c);
void core_free(core_t *c);
/* a model file in memory; -1 with c->error when it does not load (the old model stays) */
int core_load_model(core_t *c, const uint8_t *buf, int len);

void core_clear(core_t *c);
void core_undo(core_t *c);
/* the wide canvas (on) or the one-digit one; the drawing is cleared. Returns 1 when the width changed */
int core_set_multi(core_t *c, int on);
void core_stroke_begin(core_t *c, float x, float y);
void core_stroke_add(core_t *c, float x, float y);
void core_stroke_end(core_t *c);
/* after the frame's events: the ink redrawn after an undo, the drawing read again when it changed.
 * Returns 1 when there is a new reading (c->json, c->result). */
int core_update(core_t *c);

/* "empty", "unsure" or "confident": what the page shows */
const char *core_state(const core_t *c);
float core_confidence(const core_t *c, int k); /* digit k's calibrated probability */

/* the look-inside view: conv layer k's feature maps for the selected digit, RGBA, features_w × _h */
const uint8_t *core_features(core_t *c, int k);
int core_conv_layers(const core_t *c);
const char *core_arch_json(const core_t *c);   /* the architecture, for the page's table */
const char *core_strokes_text(const core_t *c); /* the drawing as a stroke file (pen.h); NULL: no memory */
uint32_t core_ink_crc(const core_t *c);         /* the CRC-32 of the ink the reader sees */
/* teach mode: the whole canvas as one digit, 28×28 values in 0..1, or NULL when blank */
const float *core_teach_input(core_t *c);
/* a grey bitmap read by the pixel path as `mnist classify` reads it: its first digit's probabilities;
 * NULL when blank, or with c->error when it cannot be read */
const float *core_classify_gray(core_t *c, const uint8_t *gray, int w, int h);

#endif
