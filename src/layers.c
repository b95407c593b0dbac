#include "layers.h"

#include <math.h>
#include <string.h>

#include "gemm.h"
#include "parallel.h"

/* ---- helpers ------------------------------------------------------------------ */

/* sum of n floats: vectorized float partial sums, combined in double */
static double sum_floats(const float *x, size_t n) {
    double total = 0.0;
    for (size_t i0 = 0; i0 < n; i0 += 4096) {
        size_t e = n - i0 < 4096 ? n - i0 : 4096;
        float s = 0.0f;
#pragma omp simd reduction(+ : s)
        for (size_t i = 0; i < e; i++) s += x[i0 + i];
        total += s;
    }
    return total;
}

/* ---- conv2d --------------------------------------------------------------------- */

size_t conv2d_col_floats(int B, int C, int H, int W, int k, int pad) {
    size_t OH = (size_t)(H + 2 * pad - k + 1), OW = (size_t)(W + 2 * pad - k + 1);
    return (size_t)C * k * k * B * OH * OW;
}

size_t conv2d_dw_scratch_floats(int C, int OC, int k) {
    size_t n = (size_t)OC * C * k * k;
    return (n + 15) & ~(size_t)15; /* keeps each thread's block 64-byte aligned */
}

/* col (C·k·k, B·OH·OW): row (c,ky,kx) holds, for every image and output
 * position, the input pixel that kernel tap (ky,kx) of channel c sees there,
 * or 0 in the padding. */
static void im2col(float *col, const float *in, int B, int C, int H, int W, int k, int pad, int OH, int OW) {
    const int R = C * k * k;
    const size_t OHW = (size_t)OH * OW;
#pragma omp parallel for collapse(2) schedule(static) if ((size_t)R * B * OHW > PAR_MIN_WORK)
    for (int r = 0; r < R; r++)
        for (int b = 0; b < B; b++) {
            const int c = r / (k * k), ky = r / k % k, kx = r % k;
            float *row = col + ((size_t)r * B + b) * OHW;
            /* output columns whose input column ox+kx-pad lies inside [0, W) */
            const int lo = pad - kx > 0 ? pad - kx : 0;
            int hi = W + pad - kx < OW ? W + pad - kx : OW;
            if (hi < lo) hi = lo;
            for (int oy = 0; oy < OH; oy++) {
                float *dst = row + (size_t)oy * OW;
                const int iy = oy + ky - pad;
                if (iy < 0 || iy >= H) {
                    memset(dst, 0, sizeof(float) * (size_t)OW);
                    continue;
                }
                const float *src = in + (((size_t)c * B + b) * H + iy) * W + (kx - pad);
                for (int ox = 0; ox < lo; ox++) dst[ox] = 0.0f;
                if (hi > lo) memcpy(dst + lo, src + lo, sizeof(float) * (size_t)(hi - lo));
                for (int ox = hi; ox < OW; ox++) dst[ox] = 0.0f;
            }
        }
}

/* the adjoint of im2col: each input pixel gets the sum of the column entries that read it */
static void col2im(float *din, const float *col, int B, int C, int H, int W, int k, int pad, int OH, int OW) {
    const size_t OHW = (size_t)OH * OW;
#pragma omp parallel for collapse(2) schedule(static) if ((size_t)C * B * H * W * k * k > PAR_MIN_WORK)
    for (int c = 0; c < C; c++)
        for (int b = 0; b < B; b++) {
            float *plane = din + ((size_t)c * B + b) * H * W;
            memset(plane, 0, sizeof(float) * (size_t)H * W);
            for (int ky = 0; ky < k; ky++)
                for (int kx = 0; kx < k; kx++) {
                    const float *row = col + ((size_t)((c * k + ky) * k + kx) * B + b) * OHW;
                    const int lo = pad - kx > 0 ? pad - kx : 0;
                    const int hi = W + pad - kx < OW ? W + pad - kx : OW;
                    for (int oy = 0; oy < OH; oy++) {
                        const int iy = oy + ky - pad;
                        if (iy < 0 || iy >= H) continue;
                        float *dst = plane + (size_t)iy * W + (kx - pad);
                        const float *src = row + (size_t)oy * OW;
                        for (int ox = lo; ox < hi; ox++) dst[ox] += src[ox];
                    }
                }
        }
}

void conv2d_forward_fused(float *out, const float *in, const float *w, const float *b, int B, int C, int H, int W,
                          int OC, int k, int pad, int relu, float *col) {
    const int OH = H + 2 * pad - k + 1, OW = W + 2 * pad - k + 1, CKK = C * k * k;
    const int N = B * OH * OW;
    /* a 1×1 kernel without padding needs no lowering: the input is its own column matrix */
    const float *cols = in;
    if (k != 1 || pad != 0) {
        im2col(col, in, B, C, H, W, k, pad, OH, OW);
        cols = col;
    }
    gemm(0, 0, OC, N, CKK, w, CKK, cols, N, 0.0f, out, N); /* out = w · col */
#pragma omp parallel for schedule(static) if ((size_t)OC * N > PAR_MIN_WORK)
    for (int oc = 0; oc < OC; oc++) {
        float bias = b[oc], *row = out + (size_t)oc * N;
        if (relu) {
#pragma omp simd
            for (int i = 0; i < N; i++) {
                const float v = row[i] + bias;
                row[i] = v > 0.0f ? v : 0.0f;
            }
        } else {
#pragma omp simd
            for (int i = 0; i < N; i++) row[i] += bias;
        }
    }
}

void conv2d_forward(float *out, const float *in, const float *w, const float *b, int B, int C, int H, int W, int OC,
                    int k, int pad, float *col) {
    conv2d_forward_fused(out, in, w, b, B, C, H, W, OC, k, pad, 0, col);
}

void conv2d_backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *w, int B,
                     int C, int H, int W, int OC, int k, int pad, float *col, float *dw_scratch) {
    const int OH = H + 2 * pad - k + 1, OW = W + 2 * pad - k + 1, CKK = C * k * k;
    const int N = B * OH * OW;
    const size_t per = conv2d_dw_scratch_floats(C, OC, k);
    if (in) im2col(col, in, B, C, H, W, k, pad, OH, OW); /* else col holds it from the forward pass */
    /* dw += dout · colᵀ, a product over all N = B·OH·OW positions: each
     * thread takes a slice of them into a private dw, then the slices add up */
    int used = 1;
#pragma omp parallel if ((size_t)OC * CKK * N > PAR_MIN_WORK)
    {
        PAR_SHARE(N, k0, k1);
        const int t = par_thread_id();
        if (t == 0) used = par_num_threads();
        gemm(0, 1, OC, CKK, k1 - k0, dout + k0, N, col + k0, N, 0.0f, dw_scratch + (size_t)t * per, CKK);
    }
#pragma omp parallel for schedule(static) if ((size_t)OC * CKK > PAR_MIN_WORK)
    for (int i = 0; i < OC * CKK; i++) {
        float s = 0.0f;
        for (int t = 0; t < used; t++) s += dw_scratch[(size_t)t * per + i]; /* in thread order: repeatable */
        dw[i] += s;
    }
    conv2d_bias_backward(db, dout, OC, (size_t)N);
    if (din) {
        gemm(1, 0, CKK, N, OC, w, CKK, dout, N, 0.0f, col, N); /* dcol = wᵀ · dout */
        col2im(din, col, B, C, H, W, k, pad, OH, OW);
    }
}

void conv2d_bias_backward(float *db, const float *dout, int OC, size_t N) {
#pragma omp parallel for schedule(static) if ((size_t)OC * N > PAR_MIN_WORK)
    for (int oc = 0; oc < OC; oc++) db[oc] += (float)sum_floats(dout + (size_t)oc * N, N);
}

void conv2d_forward_ref(float *out, const float *in, const float *w, const float *b, int B, int C, int H, int W,
                        int OC, int k, int pad) {
    const int OH = H + 2 * pad - k + 1, OW = W + 2 * pad - k + 1;
    for (int oc = 0; oc < OC; oc++)
        for (int bi = 0; bi < B; bi++)
            for (int oy = 0; oy < OH; oy++)
                for (int ox = 0; ox < OW; ox++) {
                    float s = b[oc];
                    for (int c = 0; c < C; c++)
                        for (int ky = 0; ky < k; ky++)
                            for (int kx = 0; kx < k; kx++) {
                                int iy = oy + ky - pad, ix = ox + kx - pad;
                                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                                s += w[((oc * C + c) * k + ky) * k + kx] * in[(((size_t)c * B + bi) * H + iy) * W + ix];
                            }
                    out[(((size_t)oc * B + bi) * OH + oy) * OW + ox] = s;
                }
}

void conv2d_backward_ref(float *din, float *dw, float *db, const float *dout, const float *in, const float *w, int B,
                         int C, int H, int W, int OC, int k, int pad) {
    const int OH = H + 2 * pad - k + 1, OW = W + 2 * pad - k + 1;
    if (din) memset(din, 0, sizeof(float) * (size_t)B * C * H * W);
    for (int oc = 0; oc < OC; oc++)
        for (int bi = 0; bi < B; bi++)
            for (int oy = 0; oy < OH; oy++)
                for (int ox = 0; ox < OW; ox++) {
                    float g = dout[(((size_t)oc * B + bi) * OH + oy) * OW + ox];
                    db[oc] += g;
                    for (int c = 0; c < C; c++)
                        for (int ky = 0; ky < k; ky++)
                            for (int kx = 0; kx < k; kx++) {
                                int iy = oy + ky - pad, ix = ox + kx - pad;
                                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                                size_t ii = (((size_t)c * B + bi) * H + iy) * W + ix;
                                size_t wi = (size_t)((oc * C + c) * k + ky) * k + kx;
                                dw[wi] += g * in[ii];
                                if (din) din[ii] += g * w[wi];
                            }
                }
}

/* ---- fully connected ---------------------------------------------------------------- */

void fc_forward(float *out, const float *in, const float *w, const float *b, int B, int K, int N) {
    gemm(0, 0, N, B, K, w, K, in, B, 0.0f, out, B); /* out = w · in */
    for (int n = 0; n < N; n++)
        for (int bi = 0; bi < B; bi++) out[(size_t)n * B + bi] += b[n];
}

void fc_backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *w, int B, int K,
                 int N) {
    gemm(0, 1, N, K, B, dout, B, in, B, 1.0f, dw, K); /* dw += dout · inᵀ */
    for (int n = 0; n < N; n++) db[n] += (float)sum_floats(dout + (size_t)n * B, (size_t)B);
    if (din) gemm(1, 0, K, B, N, w, K, dout, B, 0.0f, din, B); /* din = wᵀ · dout */
}

void fc_forward_ref(float *out, const float *in, const float *w, const float *b, int B, int K, int N) {
    for (int n = 0; n < N; n++)
        for (int bi = 0; bi < B; bi++) {
            float s = b[n];
            for (int i = 0; i < K; i++) s += w[(size_t)n * K + i] * in[(size_t)i * B + bi];
            out[(size_t)n * B + bi] = s;
        }
}

void flatten_forward(float *out, const float *in, int B, int C, int HW) {
    for (int c = 0; c < C; c++)
        for (int b = 0; b < B; b++)
            for (int i = 0; i < HW; i++) out[((size_t)c * HW + i) * B + b] = in[((size_t)c * B + b) * HW + i];
}

void flatten_backward(float *din, const float *dout, int B, int C, int HW) {
    for (int c = 0; c < C; c++)
        for (int b = 0; b < B; b++)
            for (int i = 0; i < HW; i++) din[((size_t)c * B + b) * HW + i] = dout[((size_t)c * HW + i) * B + b];
}

/* ---- batch normalization ---------------------------------------------------------- */

/* a normalized value through the ReLU after it: the one expression both training passes
 * use, so that the fused pass reproduces batchnorm_forward_train's outputs to the bit */
static inline float bn_relu(float x, float scale, float shift) {
    const float v = x * scale + shift;
    return v > 0.0f ? v : 0.0f;
}

/* channel c's batch statistics (n values at x): mean and 1/sqrt(var + eps) kept for
 * backward, the running statistics moved toward them; returns the scale and shift that
 * normalize, y = x·scale + shift */
static void batch_stats(const float *x, size_t n, int c, float *mean, float *rstd, float *run_mean, float *run_var,
                        const float *gamma, const float *beta, float momentum, float eps, float *scale, float *shift) {
    const float mu = (float)(sum_floats(x, n) / (double)n);
    double ss = 0.0; /* two passes: the variance does not suffer cancellation */
    for (size_t i0 = 0; i0 < n; i0 += 4096) {
        size_t e = n - i0 < 4096 ? n - i0 : 4096;
        float s = 0.0f;
#pragma omp simd reduction(+ : s)
        for (size_t i = 0; i < e; i++) s += (x[i0 + i] - mu) * (x[i0 + i] - mu);
        ss += s;
    }
    const double var = ss / (double)n;
    const float r = (float)(1.0 / sqrt(var + eps));
    mean[c] = mu;
    rstd[c] = r;
    *scale = gamma[c] * r, *shift = beta[c] - mu * *scale;
    /* running statistics keep the unbiased variance, as PyTorch does */
    run_mean[c] += momentum * (mu - run_mean[c]);
    run_var[c] += momentum * ((float)(n > 1 ? var * (double)n / (double)(n - 1) : var) - run_var[c]);
}

void batchnorm_forward_train(float *out, float *mean, float *rstd, float *run_mean, float *run_var, const float *in,
                             const float *gamma, const float *beta, int C, size_t n, float momentum, float eps,
                             int relu) {
#pragma omp parallel for schedule(static) if ((size_t)C * n > PAR_MIN_WORK)
    for (int c = 0; c < C; c++) {
        const float *x = in + (size_t)c * n;
        float *y = out + (size_t)c * n;
        float scale, shift;
        batch_stats(x, n, c, mean, rstd, run_mean, run_var, gamma, beta, momentum, eps, &scale, &shift);
        if (relu) {
#pragma omp simd
            for (size_t i = 0; i < n; i++) y[i] = bn_relu(x[i], scale, shift);
        } else {
#pragma omp simd
            for (size_t i = 0; i < n; i++) y[i] = x[i] * scale + shift;
        }
    }
}

void bn_relu_pool2_forward_train(float *out, float *arg, float *mean, float *rstd, float *run_mean,
                                 float *run_var, const float *in, const float *gamma, const float *beta, int C, int B,
                                 int H, int W, float momentum, float eps) {
    const int OH = H / 2, OW = W / 2;
    const size_t n = (size_t)B * H * W;
#pragma omp parallel for schedule(static) if ((size_t)C * n > PAR_MIN_WORK)
    for (int c = 0; c < C; c++) {
        float scale, shift;
        batch_stats(in + (size_t)c * n, n, c, mean, rstd, run_mean, run_var, gamma, beta, momentum, eps, &scale,
                    &shift);
        for (int b = 0; b < B; b++) {
            const size_t pl = (size_t)c * B + b;
            const float *x = in + pl * H * W;
            float *y = out + pl * OH * OW;
            float *k = arg + pl * OH * OW;
            for (int oy = 0; oy < OH; oy++) {
                const float *r0 = x + (size_t)2 * oy * W, *r1 = r0 + W;
                for (int ox = 0; ox < OW; ox++) {
                    /* the ReLU's outputs, as batchnorm_forward_train computes them */
                    const float a = bn_relu(r0[2 * ox], scale, shift), bb = bn_relu(r0[2 * ox + 1], scale, shift);
                    const float cc = bn_relu(r1[2 * ox], scale, shift), d = bn_relu(r1[2 * ox + 1], scale, shift);
                    /* the max as maxpool_forward takes it, and the first of the four that equals it */
                    const float m01 = bb > a ? bb : a, m23 = d > cc ? d : cc, m = m23 > m01 ? m23 : m01;
                    const int ea = a == m, eb = !ea & (bb == m), ec = !ea & !eb & (cc == m);
                    y[oy * OW + ox] = m;
                    k[oy * OW + ox] = ea ? 0.0f : eb ? 1.0f : ec ? 2.0f : 3.0f;
                }
            }
        }
    }
}

void maxpool2_backward_arg(float *din, const float *dout, const float *arg, const float *out, size_t planes,
                           int H, int W, int relu) {
    const int OH = H / 2, OW = W / 2;
#pragma omp parallel for schedule(static) if (planes * H * W > PAR_MIN_WORK)
    for (size_t pl = 0; pl < planes; pl++) {
        const float *y = out + pl * OH * OW, *g = dout + pl * OH * OW;
        const float *k = arg + pl * OH * OW;
        float *d = din + pl * H * W;
        if (H & 1) memset(d + (size_t)(H - 1) * W, 0, sizeof(float) * (size_t)W); /* the row no window covers */
        for (int oy = 0; oy < OH; oy++) {
            float *d0 = d + (size_t)2 * oy * W, *d1 = d0 + W;
            if (W & 1) d0[W - 1] = d1[W - 1] = 0.0f; /* and the column */
            for (int ox = 0; ox < OW; ox++) {
                const float m = y[oy * OW + ox], gv = g[oy * OW + ox];
                const float v = (!relu | (m > 0.0f)) ? gv : 0.0f;
                const float kk = k[oy * OW + ox];
                d0[2 * ox] = kk == 0.0f ? v : 0.0f;
                d0[2 * ox + 1] = kk == 1.0f ? v : 0.0f;
                d1[2 * ox] = kk == 2.0f ? v : 0.0f;
                d1[2 * ox + 1] = kk == 3.0f ? v : 0.0f;
            }
        }
    }
}

void batchnorm_forward_infer(float *out, const float *in, const float *gamma, const float *beta,
                             const float *run_mean, const float *run_var, int C, size_t n, float eps) {
    for (int c = 0; c < C; c++) {
        const float scale = gamma[c] / sqrtf(run_var[c] + eps), shift = beta[c] - run_mean[c] * scale;
        const float *x = in + (size_t)c * n;
        float *y = out + (size_t)c * n;
#pragma omp simd
        for (size_t i = 0; i < n; i++) y[i] = x[i] * scale + shift;
    }
}

void batchnorm_fold(float *w_out, float *b_out, const float *w, const float *b, const float *gamma, const float *beta,
                    const float *run_mean, const float *run_var, int C, int per, float eps) {
    for (int c = 0; c < C; c++) {
        const float s = gamma[c] / sqrtf(run_var[c] + eps);
        for (int i = 0; i < per; i++) w_out[(size_t)c * per + i] = w[(size_t)c * per + i] * s;
        b_out[c] = (b[c] - run_mean[c]) * s + beta[c];
    }
}

void batchnorm_backward(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                        const float *mean, const float *rstd, const float *gamma, int C, size_t n) {
#pragma omp parallel for schedule(static) if ((size_t)C * n > PAR_MIN_WORK)
    for (int c = 0; c < C; c++) {
        /* with xhat = (x - mean)·rstd and y = gamma·xhat + beta:
         * dx = gamma·rstd · (dy - mean(dy) - xhat·mean(dy·xhat)) */
        const float *g = dout + (size_t)c * n, *x = in + (size_t)c * n;
        const float mu = mean[c], r = rstd[c];
        double sg = 0.0, sgx = 0.0;
        for (size_t i0 = 0; i0 < n; i0 += 4096) {
            size_t e = n - i0 < 4096 ? n - i0 : 4096;
            float a = 0.0f, bsum = 0.0f;
#pragma omp simd reduction(+ : a, bsum)
            for (size_t i = 0; i < e; i++) {
                a += g[i0 + i];
                bsum += g[i0 + i] * (x[i0 + i] - mu);
            }
            sg += a, sgx += bsum;
        }
        sgx *= r;
        dbeta[c] += (float)sg;
        dgamma[c] += (float)sgx;
        if (!din) continue;
        float *d = din + (size_t)c * n;
        const float k = gamma[c] * r, mg = (float)(sg / (double)n), mgx = (float)(sgx / (double)n);
#pragma omp simd
        for (size_t i = 0; i < n; i++) d[i] = k * (g[i] - mg - (x[i] - mu) * r * mgx);
    }
}

/* ---- ReLU ------------------------------------------------------------------------ */

void relu_forward(float *out, const float *in, size_t n) {
#pragma omp parallel for simd schedule(static) if (n > 4 * PAR_MIN_WORK)
    for (size_t i = 0; i < n; i++) {
        const float x = in[i];
        out[i] = x > 0.0f ? x : 0.0f;
    }
}

void relu_backward(float *din, const float *dout, const float *out, size_t n) {
    /* both values loaded before the select, so it compiles to a vector blend,
     * not a branch that would be mispredicted half the time */
#pragma omp parallel for simd schedule(static) if (n > 4 * PAR_MIN_WORK)
    for (size_t i = 0; i < n; i++) {
        const float g = dout[i], y = out[i];
        din[i] = y > 0.0f ? g : 0.0f;
    }
}

/* ---- max pooling ------------------------------------------------------------------ */

void maxpool_forward(float *out, const float *in, size_t planes, int H, int W, int s) {
    const int OH = H / s, OW = W / s;
#pragma omp parallel for schedule(static) if (planes * H * W > PAR_MIN_WORK)
    for (size_t pl = 0; pl < planes; pl++) {
        const float *x = in + pl * H * W;
        float *y = out + pl * OH * OW;
        for (int oy = 0; oy < OH; oy++) {
            const float *r0 = x + (size_t)oy * s * W;
            float *yr = y + (size_t)oy * OW;
            if (s == 2) { /* the common case, as a loop the compiler vectorizes */
                const float *r1 = r0 + W;
                for (int ox = 0; ox < OW; ox++) {
                    const float a = r0[2 * ox], b = r0[2 * ox + 1], c = r1[2 * ox], d = r1[2 * ox + 1];
                    const float m01 = b > a ? b : a, m23 = d > c ? d : c;
                    yr[ox] = m23 > m01 ? m23 : m01;
                }
                continue;
            }
            for (int ox = 0; ox < OW; ox++) {
                float m = r0[ox * s];
                for (int dy = 0; dy < s; dy++)
                    for (int dx = 0; dx < s; dx++) {
                        const float v = r0[(size_t)dy * W + ox * s + dx];
                        m = v > m ? v : m;
                    }
                yr[ox] = m;
            }
        }
    }
}

void maxpool_backward(float *din, const float *dout, const float *in, const float *out, size_t planes, int H, int W,
                      int s, int relu) {
    const int OH = H / s, OW = W / s;
#pragma omp parallel for schedule(static) if (planes * H * W > PAR_MIN_WORK)
    for (size_t pl = 0; pl < planes; pl++) {
        const float *x = in + pl * H * W, *y = out + pl * OH * OW, *g = dout + pl * OH * OW;
        float *d = din + pl * H * W;
        if (H % s || W % s) memset(d, 0, sizeof(float) * (size_t)H * W); /* rows/cols no window covers */
        if (s == 2) { /* without branches: which of a, b, c, d is the first to equal the max */
            for (int oy = 0; oy < OH; oy++) {
                const float *r0 = x + (size_t)2 * oy * W, *r1 = r0 + W;
                float *d0 = d + (size_t)2 * oy * W, *d1 = d0 + W;
                for (int ox = 0; ox < OW; ox++) {
                    const float m = y[oy * OW + ox], gv = g[oy * OW + ox];
                    const float v = (!relu | (m > 0.0f)) ? gv : 0.0f; /* bitwise: stays a vector select */
                    const int ea = r0[2 * ox] == m, eb = !ea & (r0[2 * ox + 1] == m);
                    const int ec = !ea & !eb & (r1[2 * ox] == m), ed = !ea & !eb & !ec;
                    d0[2 * ox] = ea ? v : 0.0f;
                    d0[2 * ox + 1] = eb ? v : 0.0f;
                    d1[2 * ox] = ec ? v : 0.0f;
                    d1[2 * ox + 1] = ed ? v : 0.0f;
                }
            }
            continue;
        }
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++) {
                const float m = y[oy * OW + ox], gv = g[oy * OW + ox];
                const float v = (!relu | (m > 0.0f)) ? gv : 0.0f;
                int found = 0;
                for (int dy = 0; dy < s; dy++)
                    for (int dx = 0; dx < s; dx++) {
                        const size_t i = (size_t)(oy * s + dy) * W + ox * s + dx;
                        const int hit = !found && x[i] == m;
                        d[i] = hit ? v : 0.0f;
                        found |= hit;
                    }
            }
    }
}

/* ---- global average pooling ---------------------------------------------------------- */

void gap_forward(float *out, const float *in, size_t planes, int HW) {
    for (size_t pl = 0; pl < planes; pl++) out[pl] = (float)(sum_floats(in + pl * HW, (size_t)HW) / HW);
}

void gap_backward(float *din, const float *dout, size_t planes, int HW) {
    for (size_t pl = 0; pl < planes; pl++)
        for (int i = 0; i < HW; i++) din[pl * HW + i] = dout[pl] / (float)HW;
}

/* ---- dropout ------------------------------------------------------------------------ */

void dropout_forward(float *out, float *mask, const float *in, size_t n, float p, uint64_t seed) {
    /* value i is dropped when the i-th rng_uniform() of an rng seeded with `seed`
     * falls below p. That generator (SplitMix64) is a counter through a mixer,
     * so the i-th draw is computed here directly, in a loop without a carried
     * state that the compiler can vectorize; (z >> 40) < p·2^24 is exactly
     * rng_uniform() < p, both sides being exact in float. */
    const float keep = 1.0f / (1.0f - p), limit = p * 16777216.0f;
#pragma omp parallel for simd schedule(static) if (n > PAR_MIN_WORK)
    for (size_t i = 0; i < n; i++) {
        uint64_t z = seed + (uint64_t)(i + 1) * 0x9e3779b97f4a7c15ull;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        z ^= z >> 31;
        mask[i] = (float)(z >> 40) < limit ? 0.0f : keep;
        out[i] = in[i] * mask[i];
    }
}

void dropout_backward(float *din, const float *dout, const float *mask, size_t n) {
    for (size_t i = 0; i < n; i++) din[i] = dout[i] * mask[i];
}

/* ---- softmax and cross-entropy --------------------------------------------------------- */

void softmax_forward(float *probs, const float *logits, int B, int N, float T) {
    for (int bi = 0; bi < B; bi++) {
        const float *z = logits + (size_t)bi * N;
        float *p = probs + (size_t)bi * N;
        float mx = z[0];
        for (int j = 1; j < N; j++) mx = z[j] > mx ? z[j] : mx;
        float s = 0.0f;
        for (int j = 0; j < N; j++) s += (p[j] = expf((z[j] - mx) / T));
        for (int j = 0; j < N; j++) p[j] /= s;
    }
}

float softmax_xent_forward(float *probs, const float *logits, const float *targets, int B, int N) {
    double loss = 0.0;
    for (int bi = 0; bi < B; bi++) {
        const float *z = logits + (size_t)bi * N, *t = targets + (size_t)bi * N;
        float *p = probs + (size_t)bi * N;
        float mx = z[0];
        for (int j = 1; j < N; j++) mx = z[j] > mx ? z[j] : mx;
        float s = 0.0f;
        for (int j = 0; j < N; j++) s += (p[j] = expf(z[j] - mx));
        const float lse = logf(s);
        for (int j = 0; j < N; j++) {
            p[j] /= s;
            if (t[j] > 0.0f) loss -= t[j] * (z[j] - mx - lse); /* t·log p, via the log-sum-exp */
        }
    }
    return (float)(loss / B);
}

void softmax_xent_backward(float *dlogits, const float *probs, const float *targets, int B, int N) {
    for (size_t i = 0; i < (size_t)B * N; i++) dlogits[i] = (probs[i] - targets[i]) / (float)B;
}
