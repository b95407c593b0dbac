/* train.h - optimizers, the learning-rate schedule, one training step,
 * batched evaluation and temperature calibration.
 *
 * Weight decay is decoupled (Loshchilov & Hutter, AdamW) and applied to conv
 * and fc weights only: decaying biases and batch-norm scales only hurts.
 */
#ifndef TRAIN_H
#define TRAIN_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "augment.h"
#include "model.h"
#include "pen.h"
#include "trainlog.h"

typedef enum { OPT_SGD, OPT_ADAMW } opt_kind;

typedef struct {
    opt_kind kind;
    float momentum;          /* SGD: Nesterov momentum */
    float beta1, beta2, eps; /* AdamW */
    float weight_decay;
    size_t n;
    float *m, *v; /* one allocation of 2n floats: momentum / first and second moments */
    long t;       /* steps taken */
} optimizer_t;

int optimizer_init(optimizer_t *o, opt_kind kind, size_t n_params, char *err);
void optimizer_free(optimizer_t *o);
void optimizer_step(optimizer_t *o, model_t *m, float *params, const float *grads, float lr);

/* One-cycle schedule (Smith 2018) with a cosine decay: the rate rises linearly
 * from peak/25 to peak over the first warmup·total steps, then follows half a
 * cosine down to peak/2500 at the last step. */
float train_lr_one_cycle(long step, long total, float peak, float warmup);

typedef struct {
    float loss;
    int correct; /* images in the batch whose argmax matches their label */
} step_result;

/* Forward, loss, backward and update on one batch. x is (B,1,28,28); targets
 * (B,10) are the distributions to fit; labels (B) count accuracy (<0 skips an
 * image). grads (n_params floats) is scratch, zeroed here. */
step_result train_step(model_t *m, workspace_t *ws, optimizer_t *o, float *grads, const float *x,
                       const float *targets, const int *labels, int B, float lr, uint64_t seed);

/* Fill a batch: images idx[0..B) of `pixels` (28×28 bytes each) into x
 * (B,1,28,28) in [0,1], redrawn through augment_image() when aug is not NULL
 * (image i with an rng derived from seed and idx[i], so the result does not
 * depend on the number of threads); targets (B,10) are one-hot, smoothed by
 * `smoothing` (Szegedy et al. 2016); labels (B) as ints. An image labelled
 * NOT_A_DIGIT (a piece of a number that is not one whole digit) gets the
 * uniform target and label -1. */
#define NOT_A_DIGIT 255
void train_batch_prepare(float *x, float *targets, int *labels, const uint8_t *pixels, const uint8_t *all_labels,
                   const int *idx, int B, const augment_params *aug, float smoothing, uint64_t seed);

/* Logits (n,10) of n 28×28 byte images, run in batches of ws->max_batch.
 * Returns how many argmaxes match labels (labels may be NULL: returns 0). */
int train_evaluate(model_t *m, workspace_t *ws, const uint8_t *pixels, const uint8_t *labels, int n, float *logits,
                   char *err); /* -1 with a reason when out of memory */

/* The temperature T that minimises the negative log-likelihood of the labels
 * under softmax(logits / T) (Guo et al. 2017), searched on log T. */
float train_calibrate_temperature(const float *logits, const uint8_t *labels, int n);
/* mean negative log-likelihood of labels under softmax(logits / T) */
double train_mean_nll(const float *logits, const uint8_t *labels, int n, float T);

/* ---- a whole training run ----------------------------------------------------------------
 *
 * train_run() is the recipe `mnist train` runs: for each epoch, the images
 * that are drawn afresh (pen digits, redrawn MNIST) are drawn, the training
 * images are shuffled and fed in batches through the augmentation and
 * train_step() under the one-cycle schedule, and the held-out images are
 * validated (and the moving average of the weights, with ema); then the
 * hard-negative phase for reading numbers (compose_mine(), the fine-tuning
 * loop of finetune.h); then train_finish(): weights rounded to 8 bits, the
 * temperature calibrated on the held-out images, and how the page's "not
 * sure" line splits them. Everything it decides goes into the log (its rows
 * and its key=value text); the caller shows progress, saves checkpoints and
 * writes the files through the callbacks. */

/* images drawn afresh before every epoch into their place in the training set */
typedef struct {
    const pen_set *pens; /* every digit of `writers`, `copies` times, at pixels[pen_at...] */
    uint32_t writers;
    int copies, pen_at;
    const pen_set *traced; /* `redraw` of its digits drawn at random, at pixels[redraw_at...] */
    int redraw, redraw_at;
    pen_aug_params aug;
} train_redrawn;

typedef struct {
    /* the images (28×28 bytes) and labels; the run trains on train_idx[0..n_train) and validates on val */
    uint8_t *pixels, *labels;
    const int *train_idx;
    int n_train;
    const uint8_t *val_pix, *val_lab;
    int n_val;
    int epochs, batch;
    float lr;          /* the one-cycle schedule's peak */
    float weight_decay; /* of the hard-negative phase (the optimizer has its own) */
    float smoothing;   /* label smoothing */
    float clean_tail;  /* the last fraction of the epochs sees the images without augmentation */
    float ema;         /* decay of a moving average of the weights shipped instead of them; 0: off */
    uint64_t seed;
    int augment;               /* the epochs redraw every image through aug; the hard-negative phase always does */
    augment_params aug;
    int quantize_bits;         /* 0: off */
    int mine, mine_steps;      /* hard negatives: numbers read, steps; mine 0: no such phase */
    int mine_from;             /* numbers are composed of train_idx[0..mine_from) (0: all of them) */
    float mine_lr;
    const train_redrawn *redrawn; /* may be NULL */
} train_recipe;

typedef struct {
    /* after each batch of an epoch (1-based), with the epoch's mean loss and accuracy so far */
    void (*batch)(void *ctx, int epoch, int batch, int batches, double loss, double acc);
    /* after each epoch, its row in the log filled (the caller saves a checkpoint); ema_right < 0 without ema */
    void (*epoch)(void *ctx, const log_row *row, int ema_right);
    /* during the hard-negative phase, and a line saying what a phase did */
    void (*mine_step)(void *ctx, long step, int steps, double loss);
    void (*note)(void *ctx, const char *line);
    const volatile sig_atomic_t *stop; /* set (by a signal) to stop after the current batch; may be NULL */
    void *ctx;
} train_callbacks;

/* From epoch `start` (0, or the epochs a checkpoint restored) to the end of the
 * recipe. Returns 0, 1 when stopped, or -1 with a reason. */
int train_run(model_t *m, optimizer_t *opt, train_log *log, int start, const train_recipe *r, const train_callbacks *cb,
              char *err);

#endif
