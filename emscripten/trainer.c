/* trainer.c - the page's fine-tuning, compiled to its own small WebAssembly
 * module that runs in a Web Worker (shell/teach-worker.js), so that drawing
 * stays smooth while it trains. It is a thin layer over src/finetune.c, the
 * same C the native unit test runs:
 *
 *   teach_load_model(bytes)         the model in use (the shipped file format)
 *   teach_load_replay(images, labels)  MNIST replay sample, IDX files
 *   teach_begin(px, labels, n, steps, seed)  the person's 28×28 drawings
 *   teach_steps(k)                  k more steps; returns their mean loss
 *   teach_predict(px, n, out)       argmax of n drawings with the current weights
 *   teach_serialize()               the fine-tuned model as a file, same format
 *
 * Every function returns a negative number or NULL on failure, with the
 * reason in teach_error().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "finetune.h"
#include "idx.h"
#include "model.h"
#include "train.h"

#ifdef __EMSCRIPTEN__
#include <emscripten.h>
#define EXPORT EMSCRIPTEN_KEEPALIVE
#else
#define EXPORT
#endif

static struct {
    model_t model;
    int model_ok, running;
    finetune_t ft;
    uint8_t *replay_px, *replay_lbl;
    int n_replay;
    uint8_t *file; /* the last serialized model */
    size_t file_len;
    char error[ERR_LEN];
} T;

EXPORT const char *teach_error(void) { return T.error; }

static void end_run(void) {
    if (T.running) finetune_end(&T.ft);
    T.running = 0;
}

EXPORT int teach_load_model(const uint8_t *buf, int len) {
    model_t m;
    if (len < 0 || model_load_mem(&m, buf, (size_t)len, T.error)) return -1;
    end_run();
    if (T.model_ok) model_free(&T.model);
    T.model = m;
    T.model_ok = 1;
    return 0;
}

EXPORT int teach_load_replay(const uint8_t *img, int img_len, const uint8_t *lbl, int lbl_len) {
    int n, rows, cols, nl;
    uint8_t *px = NULL, *lb = NULL;
    if (img_len < 0 || lbl_len < 0 || idx_parse_images(img, (size_t)img_len, &n, &rows, &cols, &px, T.error) ||
        idx_parse_labels(lbl, (size_t)lbl_len, &nl, &lb, T.error)) {
        free(px);
        return -1;
    }
    if (rows != IMG_SIDE || cols != IMG_SIDE || n != nl) {
        snprintf(T.error, sizeof T.error, "replay sample: %d images of %dx%d but %d labels", n, rows, cols, nl);
        free(px), free(lb);
        return -1;
    }
    end_run();
    free(T.replay_px), free(T.replay_lbl);
    T.replay_px = px, T.replay_lbl = lb, T.n_replay = n;
    return n;
}

EXPORT int teach_begin(const uint8_t *px, const uint8_t *labels, int n, int steps, int seed) {
    if (!T.model_ok) {
        snprintf(T.error, sizeof T.error, "no model loaded");
        return -1;
    }
    end_run();
    for (int i = 0; i < n; i++)
        if (labels[i] > 9) { /* the page teaches digits */
            snprintf(T.error, sizeof T.error, "drawing %d has label %d (not a digit)", i, labels[i]);
            return -1;
        }
    finetune_params p;
    finetune_defaults(&p);
    p.steps = steps;
    p.seed = (uint64_t)(unsigned)seed;
    if (finetune_begin(&T.ft, &T.model, px, labels, n, T.replay_px, T.replay_lbl, T.n_replay, &p, T.error)) return -1;
    T.running = 1;
    return 0;
}

/* k more steps (fewer at the end); their mean loss, or -1 when no run is on */
EXPORT float teach_steps(int k) {
    if (!T.running) {
        snprintf(T.error, sizeof T.error, "no fine-tuning run in progress");
        return -1.0f;
    }
    double sum = 0.0;
    int done = 0;
    for (; done < k && T.ft.step < T.ft.p.steps; done++) sum += finetune_step(&T.ft);
    if (T.ft.step >= T.ft.p.steps) end_run();
    return done ? (float)(sum / done) : 0.0f;
}

/* the digit read in each of n 28×28 drawings, into out, one at a time as the page reads; returns n */
EXPORT int teach_predict(const uint8_t *px, int n, uint8_t *out) {
    if (!T.model_ok || n < 0) {
        snprintf(T.error, sizeof T.error, "no model loaded");
        return -1;
    }
    workspace_t ws;
    float *logits = malloc(sizeof(float) * N_CLASSES * (size_t)(n ? n : 1));
    if (!logits || workspace_init(&ws, &T.model, 1, 0, T.error)) {
        if (!logits) snprintf(T.error, sizeof T.error, "out of memory");
        free(logits);
        return -1;
    }
    int rc = train_evaluate(&T.model, &ws, px, NULL, n, logits, T.error);
    workspace_free(&ws);
    if (rc < 0) {
        free(logits);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        const float *z = logits + (size_t)i * N_CLASSES;
        int best = 0;
        for (int c = 1; c < N_CLASSES; c++) best = z[c] > z[best] ? c : best;
        out[i] = (uint8_t)best;
    }
    free(logits);
    return n;
}

EXPORT const uint8_t *teach_serialize(void) {
    free(T.file);
    T.file = NULL, T.file_len = 0;
    if (!T.model_ok) {
        snprintf(T.error, sizeof T.error, "no model loaded");
        return NULL;
    }
    if (model_serialize(&T.model, &T.file, &T.file_len, T.error)) return NULL;
    return T.file;
}
EXPORT int teach_serialized_len(void) { return (int)T.file_len; }
