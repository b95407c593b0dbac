/* trainer.c - the page's training, compiled to its own small WebAssembly
 * module that runs in a Web Worker (shell/teach-worker.js), so that drawing
 * stays smooth while it trains: teach mode fine-tunes the model in use, and
 * "watch it learn" trains a new one from scratch. It is a thin layer over
 * src/finetune.c, the same C the native unit test and `mnist learn` run:
 *
 *   teach_load_model(bytes)         the model in use (the shipped file format)
 *   teach_load_replay(images, labels)  MNIST replay sample, IDX files
 *   teach_begin(px, labels, n, steps, seed)  the person's 28×28 drawings
 *   teach_steps(k)                  k more steps; returns their mean loss
 *   teach_predict(px, n, out)       argmax of n drawings with the current weights
 *   teach_serialize()               the fine-tuned model as a file, same format
 *
 *   learn_load_sample(train images, labels, validation images, labels)  IDX files
 *   learn_new(arch, seed)           a new model of that architecture, freshly initialised
 *   learn_begin(batch, lr, seed)    train it on the sample (AdamW, constant lr)
 *   learn_validate()                the share of the validation images it reads right
 *   teach_steps(k), teach_accuracy()  k more steps; the share of their batches read right
 *   teach_probs(x)                  the ten probabilities of one 28×28 input (floats 0..1)
 *   learn_first_layer(shape)        the first layer's weights, shape[0..2] = count, height, width
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
    uint8_t *learn_px[2], *learn_lbl[2]; /* watch it learn: its training [0] and validation [1] images */
    int n_learn[2];
    long correct, seen; /* batch images read right and seen in the last teach_steps() */
    float probs[N_CLASSES];
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

/* a set of 28×28 images and their labels from two IDX files; returns its size, or -1 with a reason */
static int parse_set(const char *what, const uint8_t *img, int img_len, const uint8_t *lbl, int lbl_len, uint8_t **px,
                     uint8_t **lb) {
    int n, rows, cols, nl;
    char why[ERR_LEN];
    *px = *lb = NULL;
    if (img_len < 0 || lbl_len < 0 || idx_parse_images(img, (size_t)img_len, &n, &rows, &cols, px, why) ||
        idx_parse_labels(lbl, (size_t)lbl_len, &nl, lb, why)) {
        snprintf(T.error, sizeof T.error, "%s: %s", what, img_len < 0 || lbl_len < 0 ? "negative length" : why);
    } else if (rows != IMG_SIDE || cols != IMG_SIDE || n != nl) {
        snprintf(T.error, sizeof T.error, "%s: %d images of %dx%d but %d labels", what, n, rows, cols, nl);
    } else {
        return n;
    }
    free(*px), free(*lb);
    *px = *lb = NULL;
    return -1;
}

EXPORT int teach_load_replay(const uint8_t *img, int img_len, const uint8_t *lbl, int lbl_len) {
    uint8_t *px, *lb;
    int n = parse_set("replay sample", img, img_len, lbl, lbl_len, &px, &lb);
    if (n < 0) return -1;
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
    T.correct = T.seen = 0;
    for (; done < k && T.ft.step < T.ft.p.steps; done++) {
        sum += finetune_step(&T.ft);
        T.correct += T.ft.last_correct, T.seen += T.ft.p.batch;
    }
    if (T.ft.step >= T.ft.p.steps) end_run();
    return done ? (float)(sum / done) : 0.0f;
}

/* the share of the images of the last teach_steps() batches read right before each step's update */
EXPORT float teach_accuracy(void) { return T.seen ? (float)T.correct / (float)T.seen : 0.0f; }

/* the ten probabilities of one 28×28 input (values 0..1) under the current weights, or NULL */
EXPORT const float *teach_probs(const float *x) {
    workspace_t ws;
    if (!T.model_ok) {
        snprintf(T.error, sizeof T.error, "no model loaded");
        return NULL;
    }
    if (workspace_init(&ws, &T.model, 1, 0, T.error)) return NULL;
    const float *p = model_predict(&T.model, &ws, x, 1);
    if (p) memcpy(T.probs, p, sizeof T.probs);
    else snprintf(T.error, sizeof T.error, "out of memory reading");
    workspace_free(&ws);
    return p ? T.probs : NULL;
}

/* ---- watch it learn ------------------------------------------------------------------------ */

/* the presets as JSON: [{"name", "label", "arch" (null: the shipped model's), "lr", "batch"}, ...] */
EXPORT const char *learn_presets_json(void) {
    static char json[1024];
    size_t n = 0;
    for (int i = 0; i < LEARN_N_PRESETS && n < sizeof json; i++) {
        const learn_preset *p = &LEARN_PRESETS[i];
        n += (size_t)snprintf(json + n, sizeof json - n, "%s{\"name\":\"%s\",\"label\":\"%s\",\"arch\":%s%s%s,\"lr\":%g,\"batch\":%d}",
                              i ? "," : "[", p->name, p->label, p->arch ? "\"" : "", p->arch ? p->arch : "null",
                              p->arch ? "\"" : "", (double)p->lr, p->batch);
    }
    if (n + 2 > sizeof json) return "[]";
    json[n] = ']', json[n + 1] = 0;
    return json;
}

/* a new model of architecture `arch`, He-initialised from seed; returns its parameter count */
EXPORT int learn_new(const char *arch, int seed) {
    model_t m;
    if (model_init(&m, arch, T.error)) return -1;
    model_init_weights(&m, (uint64_t)(unsigned)seed);
    end_run();
    if (T.model_ok) model_free(&T.model);
    T.model = m;
    T.model_ok = 1;
    return (int)m.n_params;
}

/* watch it learn's sample: training then validation images, each as IDX images and labels; returns
 * the number of training images */
EXPORT int learn_load_sample(const uint8_t *ti, int ti_len, const uint8_t *tl, int tl_len, const uint8_t *vi, int vi_len,
                             const uint8_t *vl, int vl_len) {
    uint8_t *px[2], *lb[2];
    int n0 = parse_set("training sample", ti, ti_len, tl, tl_len, &px[0], &lb[0]);
    if (n0 < 0) return -1;
    int n1 = parse_set("validation sample", vi, vi_len, vl, vl_len, &px[1], &lb[1]);
    if (n1 < 0) {
        free(px[0]), free(lb[0]);
        return -1;
    }
    end_run();
    for (int k = 0; k < 2; k++) {
        free(T.learn_px[k]), free(T.learn_lbl[k]);
        T.learn_px[k] = px[k], T.learn_lbl[k] = lb[k];
    }
    T.n_learn[0] = n0, T.n_learn[1] = n1;
    return n0;
}

/* trains the current model on the training sample, batch at a time, at learning rate lr, until stopped */
EXPORT int learn_begin(int batch, float lr, int seed) {
    if (!T.model_ok || !T.n_learn[0]) {
        snprintf(T.error, sizeof T.error, T.model_ok ? "no learning sample loaded" : "no model loaded");
        return -1;
    }
    end_run();
    finetune_params p;
    learn_params(&p, batch, lr, (uint64_t)(unsigned)seed);
    if (finetune_begin(&T.ft, &T.model, T.learn_px[0], T.learn_lbl[0], T.n_learn[0], NULL, NULL, 0, &p, T.error)) return -1;
    T.running = 1;
    return 0;
}

/* the share of the validation sample the current weights read right, or -1 */
EXPORT float learn_validate(void) {
    workspace_t ws;
    if (!T.model_ok || !T.n_learn[1]) {
        snprintf(T.error, sizeof T.error, T.model_ok ? "no learning sample loaded" : "no model loaded");
        return -1.0f;
    }
    if (workspace_init(&ws, &T.model, 100, 0, T.error)) return -1.0f;
    model_touch(&T.model); /* the steps changed the weights */
    int right = train_evaluate(&T.model, &ws, T.learn_px[1], T.learn_lbl[1], T.n_learn[1], NULL, T.error);
    workspace_free(&ws);
    return right < 0 ? -1.0f : (float)right / (float)T.n_learn[1];
}

/* the first layer's weights: a conv layer's filters (count, k, k) or an fc layer's rows as 28×28 images */
EXPORT const float *learn_first_layer(int *shape) {
    if (!T.model_ok) {
        snprintf(T.error, sizeof T.error, "no model loaded");
        return NULL;
    }
    const layer_t *l = &T.model.layer[0];
    if (l->kind != LAYER_CONV && l->kind != LAYER_FC) {
        snprintf(T.error, sizeof T.error, "the first layer has no weights");
        return NULL;
    }
    shape[0] = l->out_c;
    shape[1] = l->kind == LAYER_CONV ? l->k : l->in_h;
    shape[2] = l->kind == LAYER_CONV ? l->k : l->in_w;
    return T.model.params + l->w;
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
