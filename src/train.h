/* train.h - optimizers, the learning-rate schedule, one training step,
 * batched evaluation and temperature calibration.
 *
 * Weight decay is decoupled (Loshchilov & Hutter, AdamW) and applied to conv
 * and fc weights only: decaying biases and batch-norm scales only hurts.
 */
#ifndef TRAIN_H
#define TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "augment.h"
#include "model.h"

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
float lr_one_cycle(long step, long total, float peak, float warmup);

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
void batch_prepare(float *x, float *targets, int *labels, const uint8_t *pixels, const uint8_t *all_labels,
                   const int *idx, int B, const augment_params *aug, float smoothing, uint64_t seed);

/* the index of the largest of 10 values (the first, on a tie) */
int argmax10(const float *v);
/* Logits (n,10) of n 28×28 byte images, run in batches of ws->max_batch.
 * Returns how many argmaxes match labels (labels may be NULL: returns 0). */
int evaluate(model_t *m, workspace_t *ws, const uint8_t *pixels, const uint8_t *labels, int n, float *logits);

/* The temperature T that minimises the negative log-likelihood of the labels
 * under softmax(logits / T) (Guo et al. 2017), searched on log T. */
float calibrate_temperature(const float *logits, const uint8_t *labels, int n);
/* mean negative log-likelihood of labels under softmax(logits / T) */
double mean_nll(const float *logits, const uint8_t *labels, int n, float T);

#endif
