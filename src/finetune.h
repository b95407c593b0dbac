/* finetune.h - training a model in steps: teaching a trained model one
 * person's handwriting, and the page's "watch it learn" from scratch.
 *
 * A few dozen labelled drawings (28×28 bytes, already through preprocessing)
 * are too few to train on alone: the network would forget everything else.
 * Each batch therefore mixes the person's drawings with a replay sample of
 * MNIST training digits (Robins 1995, "rehearsal"), and both go through the
 * usual augmentation, so that five drawings of a 7 become a few hundred
 * slightly different 7s. SGD with Nesterov momentum at a small learning rate
 * that decays along half a cosine; batch norm uses the batch statistics and
 * updates its running ones, as in training.
 *
 * The work is cut into steps so that a caller (the page's Web Worker) can
 * report progress between them:
 *     finetune_t f;
 *     finetune_begin(&f, &model, user_px, user_lbl, n_user, replay_px, replay_lbl, n_replay, &params, err);
 *     while (f.step < f.p.steps) finetune_step(&f);
 *     finetune_end(&f);   // the model keeps the new weights
 *
 * Watch it learn (emscripten/trainer.c, `mnist learn`) runs the same steps on
 * a model fresh from model_init_weights(), with no replay sample: the
 * drawings are an MNIST sample, the optimizer AdamW at a constant rate (the
 * learner may pause and go on for as long as they like), without
 * augmentation or label smoothing so that the curves show learning alone.
 */
#ifndef FINETUNE_H
#define FINETUNE_H

#include <stdint.h>

#include "augment.h"
#include "model.h"
#include "rng.h"
#include "train.h"

/* sanity bounds: teach mode passes a few dozen drawings and 500 replay
 * images; training's hard-negative phase some 70,000 pieces and the training set */
#define FINETUNE_MAX_USER (1 << 20)
#define FINETUNE_MAX_REPLAY (1 << 20)

typedef struct {
    int steps;          /* optimizer steps [200] */
    int batch;          /* images per step [16] */
    float user_frac;    /* share of each batch drawn from the person's drawings [0.5] */
    float lr;           /* learning rate at the first step, decaying to lr/100 [0.01] */
    int constant_lr;    /* keep lr for every step instead [0] */
    opt_kind opt;       /* [OPT_SGD] (Nesterov momentum 0.9); OPT_ADAMW */
    int augment;        /* redraw each image through aug [1] */
    float weight_decay; /* [5e-4] */
    float smoothing;    /* label smoothing [0.1] */
    uint64_t seed;
    augment_params aug; /* augment_defaults() */
} finetune_params;

typedef struct {
    model_t *m;
    finetune_params p;
    long step;        /* steps taken */
    float last_loss;  /* loss of the last step */
    int last_correct; /* images of the last step's batch read right (before its update) */
    int n_user, n_replay;
    uint8_t *pixels;  /* the person's drawings, then the replay images (one allocation with labels) */
    uint8_t *labels;
    workspace_t ws;
    optimizer_t opt;
    float *grads, *x, *targets; /* one allocation */
    int *idx, *lab, *order;     /* one allocation: a batch's images and labels, the sampling order */
    int next_user, next_replay; /* positions in the two parts of order */
    rng_t rng;
} finetune_t;

void finetune_defaults(finetune_params *p);

/* ---- watch it learn: presets and the parameters of training from scratch ---- */
typedef struct {
    const char *name, *label; /* "small-cnn", "Small CNN" */
    const char *arch;         /* model_init()'s architecture; NULL: the model the page ships */
    float lr;                 /* AdamW's rate that suits it */
    int batch;
} learn_preset;
extern const learn_preset LEARN_PRESETS[];
/* the MNIST sample it learns from: the first LEARN_TRAIN_N training images, and the
 * last LEARN_VAL_N of the training file to validate on (`mnist sample` writes both) */
#define LEARN_TRAIN_N 10000
#define LEARN_VAL_N 1000
#define LEARN_EVAL_EVERY 50 /* steps between two validations, in the page and in `mnist learn` */
extern const int LEARN_N_PRESETS;
const learn_preset *learn_preset_find(const char *name); /* NULL when there is none of that name */
/* finetune_params for training a new model: AdamW at a constant lr, no augmentation or smoothing */
void learn_params(finetune_params *p, int batch, float lr, uint64_t seed);
/* Copies the drawings and the replay sample; the model is changed in place by
 * the steps. n_user >= 1, n_replay >= 0; labels 0..9, and the drawings may
 * also be NOT_A_DIGIT (train.h). Returns 0 or -1 with a message. */
int finetune_begin(finetune_t *f, model_t *m, const uint8_t *user_px, const uint8_t *user_lbl, int n_user,
                   const uint8_t *replay_px, const uint8_t *replay_lbl, int n_replay, const finetune_params *p, char *err);
/* One step; returns its loss (also in f->last_loss). */
float finetune_step(finetune_t *f);
void finetune_end(finetune_t *f);

#endif
