/* layers.h - the network's layers, each a forward and a backward function.
 *
 * Layout. A batch of activations is stored channel-major, (C, B, H, W): all
 * of channel 0 for every image, then channel 1, and so on. With that layout a
 * conv layer over the whole batch is ONE matrix product (weights × the
 * im2col matrix of all images), batch norm reads each channel as one
 * contiguous run, and pooling works on contiguous H×W planes. Fully connected
 * layers use the same layout with H = W = 1: (N, B). For one image it is the
 * familiar (C, H, W).
 *
 * Every backward function takes dout (the loss gradient with respect to the
 * layer's output) and writes din (with respect to its input); parameter
 * gradients are ADDED to dw/db so callers zero them once per step. din may be
 * NULL when the input needs no gradient (the first layer).
 *
 * The fast paths use gemm() and OpenMP; the *_ref functions are plain loops
 * that the tests compare them against.
 */
#ifndef LAYERS_H
#define LAYERS_H

#include <stddef.h>
#include <stdint.h>

/* ---- conv2d: stride 1, zero padding, square k×k kernel ------------------------
 * in (C,B,H,W), w (OC,C,k,k), b (OC), out (OC,B,OH,OW), OH = H + 2·pad - k + 1.
 * col is scratch for the im2col matrix: conv2d_col_floats() floats. Backward
 * also needs dw_scratch: conv2d_dw_scratch_floats() floats; given in = NULL it
 * takes col to hold the im2col matrix of its input already, as conv2d_forward
 * (k > 1 or pad > 0) leaves it, and saves building it again. */
size_t conv2d_col_floats(int B, int C, int H, int W, int k, int pad);
size_t conv2d_dw_scratch_floats(int C, int OC, int k);
void conv2d_forward(float *out, const float *in, const float *w, const float *b, int B, int C, int H, int W, int OC,
                    int k, int pad, float *col);
void conv2d_backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *w, int B,
                     int C, int H, int W, int OC, int k, int pad, float *col, float *dw_scratch);
/* inference: conv, then batch norm folded into w and b (see batchnorm_fold),
 * then ReLU when relu is set - one pass over the output instead of three */
void conv2d_forward_fused(float *out, const float *in, const float *w, const float *b, int B, int C, int H, int W,
                          int OC, int k, int pad, int relu, float *col);
void conv2d_forward_ref(float *out, const float *in, const float *w, const float *b, int B, int C, int H, int W,
                        int OC, int k, int pad);
void conv2d_backward_ref(float *din, float *dw, float *db, const float *dout, const float *in, const float *w, int B,
                         int C, int H, int W, int OC, int k, int pad);
/* db += the sum of dout (OC, N) over its N positions, per output channel */
void conv2d_bias_backward(float *db, const float *dout, int OC, size_t N);

/* ---- conv2d with a 3×3 kernel and padding 1, by Winograd's minimal filtering ----
 * F(2×2, 3×3) (Lavin & Gray 2016; src/winograd.c): each 2×2 block of outputs
 * costs 16 multiplies per input channel instead of 36, as 16 matrix products.
 * Same shapes as conv2d_forward. The weights are first transformed, by
 * conv3x3_winograd_weights, into U (conv3x3_winograd_u_floats(C, OC) floats);
 * at inference w and b may have a batch norm folded in, and relu applies a
 * ReLU to the output. scratch holds conv3x3_winograd_floats() floats.
 * For training, Vkeep (conv3x3_winograd_v_floats() floats) keeps the
 * transformed input for conv3x3_winograd_backward, which then needs neither the
 * input nor an im2col matrix; at inference Vkeep is NULL. Backward adds to dw
 * and db and writes din (unless NULL), like conv2d_backward. */
size_t conv3x3_winograd_u_floats(int C, int OC);
size_t conv3x3_winograd_v_floats(int B, int C, int H, int W);
size_t conv3x3_winograd_floats(int B, int C, int H, int W, int OC);
void conv3x3_winograd_weights(float *U, const float *w, int C, int OC);
void conv3x3_winograd_forward(float *out, const float *in, const float *U, const float *b, int B, int C, int H, int W,
                              int OC, int relu, float *Vkeep, float *scratch);
void conv3x3_winograd_backward(float *din, float *dw, float *db, const float *dout, const float *Vkept, const float *U,
                               int B, int C, int H, int W, int OC, float *scratch);

/* ---- the same at inference, by F(4×4, 3×3) (src/winograd4.c) ----
 * 36 multiplies per 4×4 outputs and input channel (F(2×2, 3×3): 64), no backward pass. U holds
 * conv3x3_wino4_u_floats(C, OC) floats, scratch conv3x3_wino4_floats(). */
size_t conv3x3_wino4_u_floats(int C, int OC);
size_t conv3x3_wino4_floats(int B, int C, int H, int W, int OC);
void conv3x3_wino4_weights(float *U, const float *w, int C, int OC);
void conv3x3_wino4_forward(float *out, const float *in, const float *U, const float *b, int B, int C, int H, int W,
                           int OC, int relu, float *scratch);

/* ---- fully connected: in (K,B) (features × images), w (N,K), b (N), out (N,B) ---- */
void fc_forward(float *out, const float *in, const float *w, const float *b, int B, int K, int N);
void fc_backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *w, int B, int K,
                 int N);
void fc_forward_ref(float *out, const float *in, const float *w, const float *b, int B, int K, int N);
/* a (C,B,HW) batch as the (C·HW, B) matrix fc layers read, and back */
void flatten_forward(float *out, const float *in, int B, int C, int HW);
void flatten_backward(float *din, const float *dout, int B, int C, int HW);

/* ---- batch normalization: in (C, B·HW) --------------------------------------
 * Training normalizes with the batch's mean and variance, keeps mean[C] and
 * rstd[C] (1/sqrt(var+eps)) for backward, and moves the running statistics
 * toward the batch's by `momentum`. Inference uses the running statistics.
 * With relu set, a ReLU follows in the same pass: out = max(0, normalized). */
void batchnorm_forward_train(float *out, float *mean, float *rstd, float *run_mean, float *run_var, const float *in,
                             const float *gamma, const float *beta, int C, size_t n, float momentum, float eps,
                             int relu);
void batchnorm_forward_infer(float *out, const float *in, const float *gamma, const float *beta,
                             const float *run_mean, const float *run_var, int C, size_t n, float eps);
/* batch norm at inference is an affine map per channel, so it folds into the
 * conv before it: w' = w·s, b' = (b - mean)·s + beta with s = gamma/sqrt(var+eps).
 * w is (C, per) - per weights for each output channel. */
void batchnorm_fold(float *w_out, float *b_out, const float *w, const float *b, const float *gamma, const float *beta,
                    const float *run_mean, const float *run_var, int C, int per, float eps);
void batchnorm_backward(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                        const float *mean, const float *rstd, const float *gamma, int C, size_t n);

/* ---- ReLU, elementwise over n values; backward reads the forward output ------- */
void relu_forward(float *out, const float *in, size_t n);
void relu_backward(float *din, const float *dout, const float *out, size_t n);

/* ---- max pooling over `planes` H×W planes, s×s windows with stride s (rows and
 * columns past the last whole window are dropped): out is planes × (H/s, W/s).
 * Backward sends each output's gradient to the first position (row by row)
 * in its window that holds the maximum, found again from in and out rather
 * than stored: forward stays a plain max the compiler can vectorize.
 * With relu set, `in` is a ReLU's output and the gradient goes on through that
 * ReLU in the same pass: only to maxima above zero (one pass over the large
 * pre-pool planes instead of two). */
void maxpool_forward(float *out, const float *in, size_t planes, int H, int W, int s);
void maxpool_backward(float *din, const float *dout, const float *in, const float *out, size_t planes, int H, int W,
                      int s, int relu);

/* Training, batch norm then ReLU then 2×2 max pooling, in one pass over the norm's
 * input in (C,B,H,W): the ReLU's output is never stored. out (C,B,H/2,W/2) gets
 * the pooled values, arg (as many floats, kept as floats so that both loops stay
 * vector code) which of each window's four (0-3, row by row) first held the max;
 * maxpool2_backward_arg routes the gradient by it, as maxpool_backward does with
 * relu set. Results identical to the three layers one after the other. */
void bn_relu_pool2_forward_train(float *out, float *arg, float *mean, float *rstd, float *run_mean,
                                 float *run_var, const float *in, const float *gamma, const float *beta, int C, int B,
                                 int H, int W, float momentum, float eps);
void maxpool2_backward_arg(float *din, const float *dout, const float *arg, const float *out, size_t planes,
                           int H, int W, int relu);

/* ---- global average pooling: in (planes, HW), out (planes) -------------------- */
void gap_forward(float *out, const float *in, size_t planes, int HW);
void gap_backward(float *din, const float *dout, size_t planes, int HW);

/* ---- dropout: zero each value with probability p, scale survivors by 1/(1-p);
 * mask keeps the factor applied to each value (0 or 1/(1-p)). */
void dropout_forward(float *out, float *mask, const float *in, size_t n, float p, uint64_t seed);
void dropout_backward(float *din, const float *dout, const float *mask, size_t n);

/* ---- softmax cross-entropy on rows: logits (B,N), targets (B,N) are
 * probability distributions (one-hot, smoothed, or uniform for "none of
 * these"). Writes probs (B,N); returns the mean loss over the batch.
 * Backward writes dlogits = (probs - targets) / B. */
float softmax_xent_forward(float *probs, const float *logits, const float *targets, int B, int N);
void softmax_xent_backward(float *dlogits, const float *probs, const float *targets, int B, int N);
/* probabilities only (inference), with the logits divided by temperature T */
void softmax_forward(float *probs, const float *logits, int B, int N, float T);

#endif
