/* compose.h - numbers written with MNIST digits, to measure the reader.
 *
 * compose_number() lays 28×28 digits (light ink on black, as in MNIST) side by
 * side on a new canvas at three times their size, each with its own scale
 * and vertical offset, separated by gaps drawn from a range: positive gaps
 * leave the digits apart, zero and negative ones make them touch or overlap
 * (ink is combined with max). compose_evaluate() reads many such numbers and
 * counts those read exactly. Both are deterministic for a given seed. Each
 * function returns -1 on failure and says why in err (error.h).
 */
#ifndef COMPOSE_H
#define COMPOSE_H

#include <stdint.h>

#include "model.h"
#include "rng.h"

#define COMPOSE_SCALE 3 /* canvas pixels per MNIST pixel */

/* The digits pixels[which[i]·784 …], i < len, left to right, with gaps (in
 * MNIST pixels, between ink bounding boxes) uniform in [gap_lo, gap_hi].
 * *out is malloc'd, *w × *h bytes. spans (2·len ints, may be NULL) gets the
 * first and last canvas column of each digit's ink box. Returns 0, or -1 for
 * no memory or bad arguments. */
int compose_number(const uint8_t *pixels, const int *which, int len, float gap_lo, float gap_hi, rng_t *r,
                   uint8_t **out, int *w, int *h, int *spans, char *err);

/* Reads n_seq numbers of 2..8 digits drawn from the n images, gaps in
 * [gap_lo, gap_hi]; returns how many were read exactly (every digit, nothing
 * more), or -1. ws must allow a batch of 1. */
int compose_evaluate(model_t *m, workspace_t *ws, const uint8_t *pixels, const uint8_t *labels, int n, int n_seq,
                     float gap_lo, float gap_hi, uint64_t seed, char *err);

/* Hard-negative mining for the reader. The reader's search classifies many
 * pieces that are not one digit - half of a 0, a 9 with a slice of its
 * neighbour, two touching digits - and a network trained on single digits
 * only may be sure of them. compose_mine() reads n_seq numbers composed of
 * the images idx[0..n) (alternately apart and touching, as `mnist eval`
 * composes them), and keeps each piece the search tried whose columns match
 * no digit's - the intersection over union of their column ranges is below
 * COMPOSE_MINE_IOU for every digit - as a 28×28 byte image, the input the
 * model saw. (Which pieces are tried depends on the ink alone, not on the
 * model: the model only decides which reading wins.) Training on them with a
 * uniform target (NOT_A_DIGIT; "outlier
 * exposure", Hendrycks et al. 2019) teaches the model to be unsure of them,
 * and the reader's search then prefers the pieces that are digits.
 * *out (malloc'd) gets *n_out images. The result depends on the seed, not on
 * the number of threads. Returns 0, or -1 for bad arguments or no memory. */
#define COMPOSE_MINE_IOU 0.5f
int compose_mine(model_t *m, const uint8_t *pixels, const int *idx, int n, int n_seq, uint64_t seed, uint8_t **out,
                 int *n_out, char *err);

/* the two settings `mnist eval` reports */
#define COMPOSE_APART_LO 1.5f
#define COMPOSE_APART_HI 8.0f
#define COMPOSE_TOUCH_LO -2.0f
#define COMPOSE_TOUCH_HI 0.0f

#endif
