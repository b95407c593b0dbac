/* winograd.c - 3×3 convolutions with padding 1 by Winograd's minimal
 * filtering F(2×2, 3×3) (Lavin & Gray 2016), forward and backward.
 *
 * The output is cut into 2×2 tiles; each reads a 4×4 tile d of the padded
 * input. With the weights g (3×3) of one (output, input) channel pair,
 *
 *     U = G g Gᵀ        V = Bᵀ d B        Y = Aᵀ [ Σ_c U ⊙ V ] A
 *
 * so each 2×2 block of outputs costs 16 multiplies per input channel instead
 * of 36. For each of the 16 positions ξ of a transformed tile the sum over
 * input channels is one matrix product, M[ξ] (OC×T) = U[ξ] (OC×C) · V[ξ] (C×T)
 * over the T tiles, so the work is 16 products run by gemm() plus the
 * transforms. Backward follows the same algebra: with Z = A dY Aᵀ the
 * gradient of a tile's transformed product,
 *
 *     dU[ξ] = Σ_tiles Z[ξ] V[ξ]ᵀ     dg = Gᵀ dU G
 *     dV[ξ] = U[ξ]ᵀ Z[ξ]             dd = B dV Bᵀ  (added over overlapping tiles)
 *
 * which reuses the V computed by the forward pass and needs no im2col.
 *
 * Images go through in chunks of up to CHUNK, each chunk on one thread, so
 * that a chunk's transformed tiles stay in that core's cache between the
 * transforms and the products. The 16 matrices of a transform lie SKEW floats
 * further apart than their size: with strides of a multiple of 4 KB the 16
 * streams a transform writes would fall into the same cache sets. */
#include <math.h>
#include <string.h>

#include "gemm.h"
#include "layers.h"
#include "parallel.h"

#define CHUNK 8
#define SKEW 16

typedef struct {
    int B, C, H, W, OC;
    int th, tw, tpi;     /* tiles down, across, per image */
    int nb, nch;         /* images per chunk, chunks */
    int PH, PW;          /* the zero-padded plane the tiles read */
    size_t tc;           /* tiles in a full chunk, rounded up to 16: the row stride of V, M, Z */
    size_t vs, ms, us;   /* stride between the 16 matrices of V (C×tc), M or Z (OC×tc), U (OC×C) */
    size_t per;          /* scratch floats of one thread */
} geom_t;

static size_t up16(size_t n) { return (n + 15) & ~(size_t)15; }

/* floats from one of the 16 matrices of U (OC×C, or C×OC) to the next */
static size_t u_stride(int C, int OC) { return up16((size_t)OC * C) + SKEW; }

static geom_t geom(int B, int C, int H, int W, int OC) {
    geom_t g;
    g.B = B, g.C = C, g.H = H, g.W = W, g.OC = OC;
    g.th = (H + 1) / 2, g.tw = (W + 1) / 2, g.tpi = g.th * g.tw;
    g.nb = B < CHUNK ? B : CHUNK;
    g.nch = (B + g.nb - 1) / g.nb;
    g.PH = 2 * g.th + 2, g.PW = 2 * g.tw + 2;
    g.tc = up16((size_t)g.nb * g.tpi); /* rows on 64-byte boundaries: gemm() reads them in place */
    g.vs = up16((size_t)C * g.tc) + SKEW;
    g.ms = up16((size_t)OC * g.tc) + SKEW;
    g.us = u_stride(C, OC);
    /* V (when not kept) or dV, M or Z, dU, the padded plane, and four rows of it or
     * four values of every tile */
    const size_t rows = 4 * (g.tc > (size_t)g.PW ? g.tc : (size_t)g.PW);
    g.per = 16 * (g.vs + g.ms + g.us) + up16((size_t)g.PH * g.PW) + up16(rows);
    return g;
}

size_t conv3x3_winograd_floats(int B, int C, int H, int W, int OC) {
    const geom_t g = geom(B, C, H, W, OC);
    return (size_t)par_threads_for(g.nch) * g.per;
}

size_t conv3x3_winograd_v_floats(int B, int C, int H, int W) {
    const geom_t g = geom(B, C, H, W, 1);
    return (size_t)g.nch * 16 * g.vs;
}

/* U twice: the 16 matrices U[ξ] (OC×C), then the same transposed (C×OC), so that
 * both products that use them, U V forward and Uᵀ Z backward, read theirs in place */
size_t conv3x3_winograd_u_floats(int C, int OC) { return 2 * 16 * u_stride(C, OC); }

void conv3x3_winograd_weights(float *U, const float *w, int C, int OC) {
    /* U = G g Gᵀ, G = [1 0 0; ½ ½ ½; ½ -½ ½; 0 0 1] */
    const size_t us = u_stride(C, OC);
#pragma omp parallel for schedule(static) if ((size_t)OC * C * 16 > PAR_MIN_WORK)
    for (int o = 0; o < OC; o++)
        for (int c = 0; c < C; c++) {
            const float *g = w + ((size_t)o * C + c) * 9;
            float t[4][3];
            for (int j = 0; j < 3; j++) {
                t[0][j] = g[j];
                t[1][j] = 0.5f * (g[j] + g[3 + j] + g[6 + j]);
                t[2][j] = 0.5f * (g[j] - g[3 + j] + g[6 + j]);
                t[3][j] = g[6 + j];
            }
            float *u = U + (size_t)o * C + c, *ut = U + 16 * us + (size_t)c * OC + o;
            for (int i = 0; i < 4; i++) {
                const float r[4] = {t[i][0], 0.5f * (t[i][0] + t[i][1] + t[i][2]), 0.5f * (t[i][0] - t[i][1] + t[i][2]),
                                    t[i][2]};
                for (int j = 0; j < 4; j++) u[(4 * i + j) * us] = ut[(4 * i + j) * us] = r[j];
            }
        }
}

/* The zero-padded plane the tiles read is kept as two half-planes, its even and its
 * odd columns (PH rows of tw+1 each), so that the transforms run vectorized across a
 * row of tiles: tile tx reads columns 2tx..2tx+3, i.e. even and odd entries tx, tx+1. */
static void pad_plane(const geom_t *g, float *pe, float *po, const float *plane) {
    const int hw = g->tw + 1, W = g->W;
    for (int y = 0; y < g->H; y++) {
        const float *src = plane + (size_t)y * W;
        float *e = pe + (size_t)(y + 1) * hw, *o = po + (size_t)(y + 1) * hw;
        /* padded column p = x + 1: even p = 2u holds x = 2u - 1, odd p = 2u + 1 holds x = 2u */
        for (int u = 0; 2 * u < W; u++) o[u] = src[2 * u];
        for (int u = 1; 2 * u - 1 < W; u++) e[u] = src[2 * u - 1];
    }
}

/* V = Bᵀ d B for every tile of images b0..b0+nb-1, Bᵀ = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1] */
static void input_transform(const geom_t *g, float *V, const float *in, int b0, int nb, float *pad, float *rows) {
    const int tw = g->tw, hw = tw + 1;
    float *pe = pad, *po = pad + (size_t)g->PH * hw;
    memset(pad, 0, sizeof(float) * (size_t)g->PH * g->PW); /* the border stays zero: no plane writes it */
    for (int c = 0; c < g->C; c++)
        for (int bi = 0; bi < nb; bi++) {
            pad_plane(g, pe, po, in + ((size_t)c * g->B + b0 + bi) * g->H * g->W);
            for (int ty = 0; ty < g->th; ty++) {
                float *v = V + (size_t)c * g->tc + (size_t)bi * g->tpi + (size_t)ty * tw;
                for (int h = 0; h < 2; h++) { /* even columns, then odd: rows first, Bᵀ d */
                    const float *d0 = (h ? po : pe) + (size_t)(2 * ty) * hw, *d1 = d0 + hw, *d2 = d1 + hw,
                                *d3 = d2 + hw;
                    float *r0 = rows + (size_t)(4 * h) * hw, *r1 = r0 + hw, *r2 = r1 + hw, *r3 = r2 + hw;
#pragma omp simd
                    for (int u = 0; u < hw; u++) {
                        r0[u] = d0[u] - d2[u];
                        r1[u] = d1[u] + d2[u];
                        r2[u] = d2[u] - d1[u];
                        r3[u] = d1[u] - d3[u];
                    }
                }
                for (int i = 0; i < 4; i++) { /* then columns: (Bᵀ d) B */
                    const float *e = rows + (size_t)i * hw, *o = rows + (size_t)(4 + i) * hw;
                    float *v0 = v + (4 * i) * g->vs, *v1 = v0 + g->vs, *v2 = v1 + g->vs, *v3 = v2 + g->vs;
#pragma omp simd
                    for (int tx = 0; tx < tw; tx++) {
                        v0[tx] = e[tx] - e[tx + 1];
                        v1[tx] = o[tx] + e[tx + 1];
                        v2[tx] = e[tx + 1] - o[tx];
                        v3[tx] = o[tx] - o[tx + 1];
                    }
                }
            }
        }
}

/* a row of outputs from its even and odd columns */
static void place_row(float *restrict row, const float *restrict even, const float *restrict odd, int W) {
    for (int u = 0; u < W / 2; u++) row[2 * u] = even[u], row[2 * u + 1] = odd[u];
    if (W & 1) row[W - 1] = even[W / 2];
}

/* one chunk of the forward pass: out = Aᵀ (Σ U ⊙ V) A + b, Aᵀ = [1 1 1 0; 0 1 -1 -1] */
static void forward_chunk(const geom_t *g, float *out, const float *in, const float *U, const float *b, int b0, int nb,
                          int relu, float *V, float *M, float *pad, float *rows) {
    const int T = nb * g->tpi, W = g->W, tw = g->tw;
    input_transform(g, V, in, b0, nb, pad, rows);
    for (int x = 0; x < 16; x++)
        gemm(1, 0, g->OC, T, g->C, U + (16 + x) * g->us, g->OC, V + x * g->vs, (int)g->tc, 0.0f, M + x * g->ms,
             (int)g->tc);
    /* the transform runs over all the chunk's tiles at once (vectorized), into four
     * arrays, one per position in the 2×2 output tile; then they go to their places */
    const size_t tc = g->tc;
    float *y00 = rows, *y01 = y00 + tc, *y10 = y01 + tc, *y11 = y10 + tc;
    for (int o = 0; o < g->OC; o++) {
        const float bias = b ? b[o] : 0.0f, lo = relu ? 0.0f : -INFINITY;
        const float *m = M + (size_t)o * tc;
        const size_t s = g->ms;
#pragma omp simd
        for (int t = 0; t < T; t++) {
            /* rows first (written out: an inner loop here keeps the compiler from vectorizing) */
#define ROWS(j) const float a##j = m[j * s + t] + m[(4 + j) * s + t] + m[(8 + j) * s + t], \
                            c##j = m[(4 + j) * s + t] - m[(8 + j) * s + t] - m[(12 + j) * s + t]
            ROWS(0); ROWS(1); ROWS(2); ROWS(3);
#undef ROWS
            const float v00 = a0 + a1 + a2 + bias, v01 = a1 - a2 - a3 + bias;
            const float v10 = c0 + c1 + c2 + bias, v11 = c1 - c2 - c3 + bias;
            y00[t] = v00 > lo ? v00 : lo, y01[t] = v01 > lo ? v01 : lo;
            y10[t] = v10 > lo ? v10 : lo, y11[t] = v11 > lo ? v11 : lo;
        }
        for (int bi = 0; bi < nb; bi++) {
            float *plane = out + ((size_t)o * g->B + b0 + bi) * g->H * W;
            for (int ty = 0; ty < g->th; ty++) {
                const int t0 = (bi * g->th + ty) * tw;
                place_row(plane + (size_t)(2 * ty) * W, y00 + t0, y01 + t0, W);
                if (2 * ty + 1 < g->H) place_row(plane + (size_t)(2 * ty + 1) * W, y10 + t0, y11 + t0, W);
            }
        }
    }
}

void conv3x3_winograd_forward(float *out, const float *in, const float *U, const float *b, int B, int C, int H, int W,
                              int OC, int relu, float *Vkeep, float *scratch) {
    const geom_t g = geom(B, C, H, W, OC);
#pragma omp parallel num_threads(par_threads_for(g.nch)) if (g.nch > 1)
    {
        PAR_SHARE(g.nch, k0, k1);
        float *s = scratch + (size_t)par_thread_id() * g.per;
        float *V = s, *M = V + 16 * g.vs, *pad = M + 16 * g.ms + 16 * g.us, *rows = pad + up16((size_t)g.PH * g.PW);
        for (int k = k0; k < k1; k++) {
            const int b0 = k * g.nb, nb = B - b0 < g.nb ? B - b0 : g.nb;
            forward_chunk(&g, out, in, U, b, b0, nb, relu, Vkeep ? Vkeep + (size_t)k * 16 * g.vs : V, M, pad, rows);
        }
    }
}

/* a row into its even and odd columns, zero past its end */
static void split_row(float *restrict even, float *restrict odd, const float *restrict row, int W) {
    for (int u = 0; u < W / 2; u++) even[u] = row[2 * u], odd[u] = row[2 * u + 1];
    if (W & 1) even[W / 2] = row[W - 1], odd[W / 2] = 0.0f;
}

/* Z = A dY Aᵀ for every 2×2 tile of output gradients (zero beyond the edges), A = [1 0; 1 1; 1 -1; 0 -1] */
static void output_grad_transform(const geom_t *g, float *Z, const float *dout, int b0, int nb, float *rows) {
    const int W = g->W, tw = g->tw, T = nb * g->tpi;
    const size_t tc = g->tc, s = g->ms;
    /* the four values of each tile into four arrays (the chunk's tiles in order), then
     * the transform over all tiles at once, vectorized */
    float *y00 = rows, *y01 = y00 + tc, *y10 = y01 + tc, *y11 = y10 + tc;
    for (int o = 0; o < g->OC; o++) {
        for (int bi = 0; bi < nb; bi++) {
            const float *plane = dout + ((size_t)o * g->B + b0 + bi) * g->H * W;
            for (int ty = 0; ty < g->th; ty++) {
                const int t0 = (bi * g->th + ty) * tw;
                split_row(y00 + t0, y01 + t0, plane + (size_t)(2 * ty) * W, W);
                if (2 * ty + 1 < g->H)
                    split_row(y10 + t0, y11 + t0, plane + (size_t)(2 * ty + 1) * W, W);
                else
                    memset(y10 + t0, 0, sizeof(float) * (size_t)tw), memset(y11 + t0, 0, sizeof(float) * (size_t)tw);
            }
        }
        float *z = Z + (size_t)o * tc;
#pragma omp simd
        for (int t = 0; t < T; t++) {
            const float a0 = y00[t], a1 = y01[t], c0 = y10[t], c1 = y11[t];
            /* columns (p, q: the two rows), then rows; written out so that it vectorizes */
#define COLUMN(j, pj, qj) z[j * s + t] = (pj), z[(4 + j) * s + t] = (pj) + (qj), z[(8 + j) * s + t] = (pj) - (qj), \
                          z[(12 + j) * s + t] = -(qj)
            COLUMN(0, a0, c0);
            COLUMN(1, a0 + a1, c0 + c1);
            COLUMN(2, a0 - a1, c0 - c1);
            COLUMN(3, -a1, -c1);
#undef COLUMN
        }
    }
}

/* din = B dV Bᵀ added over the overlapping 4×4 input tiles, the padding cut off;
 * B = [1 0 0 0; 0 1 -1 1; -1 1 1 0; 0 0 0 -1] */
static void input_grad_transform(const geom_t *g, float *din, const float *dV, int b0, int nb, float *pad) {
    const int PW = g->PW, tw = g->tw, W = g->W;
    const size_t s = g->vs;
    for (int c = 0; c < g->C; c++)
        for (int bi = 0; bi < nb; bi++) {
            memset(pad, 0, sizeof(float) * (size_t)g->PH * PW);
            const float *dv = dV + (size_t)c * g->tc + (size_t)bi * g->tpi;
            for (int ty = 0; ty < g->th; ty++)
                for (int tx = 0; tx < tw; tx++) {
                    const float *q = dv + (size_t)ty * tw + tx;
                    float e[4][4];
                    for (int j = 0; j < 4; j++) {
                        const float q0 = q[j * s], q1 = q[(4 + j) * s], q2 = q[(8 + j) * s], q3 = q[(12 + j) * s];
                        e[0][j] = q0;
                        e[1][j] = q1 - q2 + q3;
                        e[2][j] = q1 + q2 - q0;
                        e[3][j] = -q3;
                    }
                    float *d = pad + (size_t)(2 * ty) * PW + 2 * tx;
                    for (int i = 0; i < 4; i++) {
                        d[i * PW + 0] += e[i][0];
                        d[i * PW + 1] += e[i][1] - e[i][2] + e[i][3];
                        d[i * PW + 2] += e[i][1] + e[i][2] - e[i][0];
                        d[i * PW + 3] -= e[i][3];
                    }
                }
            float *plane = din + ((size_t)c * g->B + b0 + bi) * g->H * W;
            for (int y = 0; y < g->H; y++)
                memcpy(plane + (size_t)y * W, pad + (size_t)(y + 1) * PW + 1, sizeof(float) * (size_t)W);
        }
}

void conv3x3_winograd_backward(float *din, float *dw, float *db, const float *dout, const float *Vkept, const float *U,
                               int B, int C, int H, int W, int OC, float *scratch) {
    const geom_t g = geom(B, C, H, W, OC);
    int used = 1;
#pragma omp parallel num_threads(par_threads_for(g.nch)) if (g.nch > 1)
    {
        PAR_SHARE(g.nch, k0, k1);
        const int tid = par_thread_id();
        if (tid == 0) used = par_num_threads();
        float *s = scratch + (size_t)tid * g.per;
        float *dV = s, *Z = dV + 16 * g.vs, *dU = Z + 16 * g.ms, *pad = dU + 16 * g.us;
        float *rows = pad + up16((size_t)g.PH * g.PW);
        memset(dU, 0, sizeof(float) * 16 * g.us);
        for (int k = k0; k < k1; k++) {
            const int b0 = k * g.nb, nb = B - b0 < g.nb ? B - b0 : g.nb, T = nb * g.tpi;
            const float *V = Vkept + (size_t)k * 16 * g.vs;
            output_grad_transform(&g, Z, dout, b0, nb, rows);
            for (int x = 0; x < 16; x++) /* dU += Z Vᵀ */
                gemm(0, 1, OC, C, T, Z + x * g.ms, (int)g.tc, V + x * g.vs, (int)g.tc, 1.0f, dU + x * g.us, C);
            if (din) {
                for (int x = 0; x < 16; x++) /* dV = Uᵀ Z */
                    gemm(1, 0, C, T, OC, U + x * g.us, C, Z + x * g.ms, (int)g.tc, 0.0f, dV + x * g.vs, (int)g.tc);
                input_grad_transform(&g, din, dV, b0, nb, pad);
            }
        }
    }
    /* the threads' dU add up in thread order (repeatable), then dw += Gᵀ dU G */
    float *dU = scratch + 16 * g.vs + 16 * g.ms;
    for (int t = 1; t < used; t++) {
        const float *o = dU + (size_t)t * g.per;
#pragma omp simd
        for (size_t i = 0; i < 16 * g.us; i++) dU[i] += o[i];
    }
#pragma omp parallel for schedule(static) if ((size_t)OC * C * 16 > PAR_MIN_WORK)
    for (int o = 0; o < OC; o++)
        for (int c = 0; c < C; c++) {
            const float *u = dU + (size_t)o * C + c;
            float e[3][4]; /* Gᵀ D, Gᵀ = [1 ½ ½ 0; 0 ½ -½ 0; 0 ½ ½ 1] */
            for (int j = 0; j < 4; j++) {
                const float d0 = u[j * g.us], d1 = u[(4 + j) * g.us], d2 = u[(8 + j) * g.us], d3 = u[(12 + j) * g.us];
                e[0][j] = d0 + 0.5f * (d1 + d2);
                e[1][j] = 0.5f * (d1 - d2);
                e[2][j] = 0.5f * (d1 + d2) + d3;
            }
            float *gw = dw + ((size_t)o * C + c) * 9;
            for (int i = 0; i < 3; i++) {
                gw[3 * i + 0] += e[i][0] + 0.5f * (e[i][1] + e[i][2]);
                gw[3 * i + 1] += 0.5f * (e[i][1] - e[i][2]);
                gw[3 * i + 2] += 0.5f * (e[i][1] + e[i][2]) + e[i][3];
            }
        }
    conv2d_bias_backward(db, dout, OC, (size_t)B * H * W);
}
