/* winograd4.c - 3×3 convolutions with padding 1 at inference, by Winograd's
 * F(4×4, 3×3) (Lavin & Gray 2016).
 *
 * Training runs its 3×3 convolutions by F(2×2, 3×3) (winograd.c), whose
 * backward pass is simple and whose rounding errors are small. Inference has
 * no backward pass, and F(4×4, 3×3) does little more than half the arithmetic
 * in its products: each 4×4 block of outputs reads a 6×6 tile d of the padded
 * input and costs 36 multiplies per input channel (F(2×2): 64 for the same
 * block, direct: 144).
 *
 *     U = G g Gᵀ        V = Bᵀ d B        Y = Aᵀ [ Σ_c U ⊙ V ] A
 *
 *          | 1/4    0     0  |         | 4  0 -5  0  1  0 |
 *          |-1/6  -1/6  -1/6 |         | 0 -4 -4  1  1  0 |        | 1  1  1  1  1  0 |
 *     G =  |-1/6   1/6  -1/6 |    Bᵀ = | 0  4 -4 -1  1  0 |   Aᵀ = | 0  1 -1  2 -2  0 |
 *          | 1/24  1/12  1/6 |         | 0 -2 -1  2  1  0 |        | 0  1  1  4  4  0 |
 *          | 1/24 -1/12  1/6 |         | 0  2 -1 -2  1  0 |        | 0  1 -1  8 -8  1 |
 *          |  0     0     1  |         | 0  4  0 -5  0  1 |
 *
 * For each of the 36 positions ξ of a transformed tile the sum over input
 * channels is one matrix product over the tiles T of a chunk of images,
 * M[ξ] (T×OC) = V[ξ] (T×C) · U[ξ] (C×OC): tiles are the rows, so that a small
 * image's few tiles (four for a 7×7 plane) waste little of the micro-kernel's
 * tile, and channels the columns, so that the transforms run vectorized across
 * channels, which every layer has many of. The input is first laid out with its
 * channels innermost, and the output transform writes back to planes.
 *
 * Its rounding error is larger than F(2×2)'s (the transforms have entries up
 * to 8 and 1/24): the outputs agree with the direct convolution's to a few
 * parts in a million per input channel (tests/test_kernels.c). */
#include <math.h>
#include <string.h>

#include "gemm.h"
#include "layers.h"
#include "parallel.h"

#define CHUNK 4 /* images per chunk: a chunk's V and M stay in cache between transforms and products */
#define SKEW 16 /* floats between the 36 matrices, so that their streams do not share cache sets */

typedef struct {
    int B, C, H, W, OC;
    int th, tw, tpi;   /* tiles down, across, per image */
    int nb, nch;       /* images per chunk, chunks */
    int PH, PW;        /* the zero-padded plane the tiles read */
    int ldc, ldo;      /* row strides of V (C rounded up) and M (OC rounded up) */
    size_t vs, ms;     /* stride between the 36 matrices of V (T×C) and M (T×OC) */
    size_t per;        /* scratch floats of one thread */
} geom4_t;

static size_t up16(size_t n) { return (n + 15) & ~(size_t)15; }

/* floats from one of the 36 matrices of U (C×OC) to the next */
static size_t u_stride(int C, int OC) { return up16((size_t)C * up16((size_t)OC)) + SKEW; }

static geom4_t geom(int B, int C, int H, int W, int OC) {
    geom4_t g;
    g.B = B, g.C = C, g.H = H, g.W = W, g.OC = OC;
    g.th = (H + 3) / 4, g.tw = (W + 3) / 4, g.tpi = g.th * g.tw;
    g.nb = B < CHUNK ? B : CHUNK;
    g.nch = (B + g.nb - 1) / g.nb;
    g.PH = 4 * g.th + 2, g.PW = 4 * g.tw + 2;
    g.ldc = (int)up16((size_t)C), g.ldo = (int)up16((size_t)OC);
    const size_t T = (size_t)g.nb * g.tpi;
    g.vs = T * g.ldc + SKEW, g.ms = T * g.ldo + SKEW;
    /* V, M, one image's padded input with channels innermost, and the transforms' rows */
    const size_t rows = 40 * (size_t)(g.ldc > g.ldo ? g.ldc : g.ldo);
    g.per = 36 * (g.vs + g.ms) + up16((size_t)g.PH * g.PW * g.ldc) + rows;
    return g;
}

size_t conv3x3_wino4_floats(int B, int C, int H, int W, int OC) {
    const geom4_t g = geom(B, C, H, W, OC);
    return (size_t)par_threads_for(g.nch) * g.per;
}

size_t conv3x3_wino4_u_floats(int C, int OC) { return 36 * u_stride(C, OC); }

/* G applied to three values */
static void g3(float r[6], float g0, float g1, float g2) {
    r[0] = g0 / 4;
    r[1] = -(g0 + g1 + g2) / 6;
    r[2] = -(g0 - g1 + g2) / 6;
    r[3] = g0 / 24 + g1 / 12 + g2 / 6;
    r[4] = g0 / 24 - g1 / 12 + g2 / 6;
    r[5] = g2;
}

void conv3x3_wino4_weights(float *U, const float *w, int C, int OC) {
    const size_t us = u_stride(C, OC), ldo = up16((size_t)OC);
    memset(U, 0, sizeof(float) * 36 * us); /* the padding too: the products read whole rows */
    for (int o = 0; o < OC; o++)
        for (int c = 0; c < C; c++) {
            const float *g = w + ((size_t)o * C + c) * 9;
            float t[3][6], r[6]; /* G g, column by column */
            for (int j = 0; j < 3; j++) g3(t[j], g[j], g[3 + j], g[6 + j]);
            float *u = U + (size_t)c * ldo + o;
            for (int i = 0; i < 6; i++) { /* then each row times Gᵀ */
                g3(r, t[0][i], t[1][i], t[2][i]);
                for (int j = 0; j < 6; j++) u[(6 * i + j) * us] = r[j];
            }
        }
}

/* Bᵀ applied to six vectors of n floats (ds apart) into six (rs apart) */
static void bt6(float *restrict r, size_t rs, const float *restrict d, size_t ds, int n) {
    const float *d0 = d, *d1 = d0 + ds, *d2 = d1 + ds, *d3 = d2 + ds, *d4 = d3 + ds, *d5 = d4 + ds;
    float *r0 = r, *r1 = r0 + rs, *r2 = r1 + rs, *r3 = r2 + rs, *r4 = r3 + rs, *r5 = r4 + rs;
#pragma omp simd
    for (int c = 0; c < n; c++) {
        r0[c] = 4 * d0[c] - 5 * d2[c] + d4[c];
        r1[c] = d3[c] + d4[c] - 4 * (d1[c] + d2[c]);
        r2[c] = d4[c] - d3[c] + 4 * (d1[c] - d2[c]);
        r3[c] = d4[c] - d2[c] + 2 * (d3[c] - d1[c]);
        r4[c] = d4[c] - d2[c] + 2 * (d1[c] - d3[c]);
        r5[c] = 4 * d1[c] - 5 * d3[c] + d5[c];
    }
}

/* Aᵀ applied to six vectors of n floats (ms apart) into four (rs apart) */
static void at6(float *restrict r, size_t rs, const float *restrict m, size_t ms, int n) {
    const float *m0 = m, *m1 = m0 + ms, *m2 = m1 + ms, *m3 = m2 + ms, *m4 = m3 + ms, *m5 = m4 + ms;
    float *r0 = r, *r1 = r0 + rs, *r2 = r1 + rs, *r3 = r2 + rs;
#pragma omp simd
    for (int c = 0; c < n; c++) {
        const float p = m1[c] + m2[c], q = m1[c] - m2[c], u = m3[c] + m4[c], v = m3[c] - m4[c];
        r0[c] = m0[c] + p + u;
        r1[c] = q + 2 * v;
        r2[c] = p + 4 * u;
        r3[c] = q + 8 * v + m5[c];
    }
}

/* one chunk: images b0..b0+nb-1 */
static void forward_chunk(const geom4_t *g, float *out, const float *in, const float *U, const float *b, int b0, int nb,
                          int relu, float *V, float *M, float *pad, float *rows) {
    const int C = g->C, OC = g->OC, H = g->H, W = g->W, PW = g->PW;
    const size_t ldc = (size_t)g->ldc, ldo = (size_t)g->ldo;
    /* V = Bᵀ d B for every tile, vectorized across channels */
    for (int bi = 0; bi < nb; bi++) {
        memset(pad, 0, sizeof(float) * (size_t)g->PH * PW * ldc); /* the border stays zero */
        for (int c = 0; c < C; c++) {
            const float *plane = in + ((size_t)c * g->B + b0 + bi) * H * W;
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++) pad[((size_t)(y + 1) * PW + x + 1) * ldc + c] = plane[y * W + x];
        }
        for (int ty = 0; ty < g->th; ty++)
            for (int tx = 0; tx < g->tw; tx++) {
                const float *d = pad + ((size_t)(4 * ty) * PW + 4 * tx) * ldc;
                float *v = V + (size_t)(bi * g->tpi + ty * g->tw + tx) * ldc;
                /* columns first: (Bᵀ d)[k][j] into rows[6k + j] */
                for (int j = 0; j < 6; j++) bt6(rows + j * ldc, 6 * ldc, d + j * ldc, PW * ldc, C);
                /* then each row k times B: V[6k + l] */
                for (int k = 0; k < 6; k++) bt6(v + 6 * k * g->vs, g->vs, rows + 6 * k * ldc, ldc, C);
            }
    }
    /* the 36 products M[ξ] = V[ξ] U[ξ] */
    const int T = nb * g->tpi;
    const size_t us = u_stride(C, OC);
    for (int x = 0; x < 36; x++)
        gemm(0, 0, T, OC, C, V + x * g->vs, (int)ldc, U + x * us, (int)ldo, 0.0f, M + x * g->ms, (int)ldo);
    /* Y = Aᵀ M A per tile, vectorized across output channels, then into the planes */
    float *t6 = rows, *y4 = rows + 24 * ldo;
    const float lo = relu ? 0.0f : -INFINITY;
    for (int t = 0; t < T; t++) {
        const float *m = M + (size_t)t * ldo;
        for (int j = 0; j < 6; j++) at6(t6 + j * ldo, 6 * ldo, m + j * g->ms, 6 * g->ms, OC); /* (Aᵀ M)[i][j] */
        for (int i = 0; i < 4; i++) at6(y4 + 4 * i * ldo, ldo, t6 + 6 * i * ldo, ldo, OC);       /* times A */
        const int bi = t / g->tpi, ty = t % g->tpi / g->tw, tx = t % g->tw;
        const int ny = H - 4 * ty < 4 ? H - 4 * ty : 4, nx = W - 4 * tx < 4 ? W - 4 * tx : 4;
        for (int o = 0; o < OC; o++) {
            float *dst = out + ((size_t)o * g->B + b0 + bi) * H * W + (size_t)(4 * ty) * W + 4 * tx;
            const float bias = b ? b[o] : 0.0f;
            for (int i = 0; i < ny; i++)
                for (int j = 0; j < nx; j++) {
                    const float val = y4[(4 * i + j) * ldo + o] + bias;
                    dst[i * W + j] = val > lo ? val : lo;
                }
        }
    }
}

void conv3x3_wino4_forward(float *out, const float *in, const float *U, const float *b, int B, int C, int H, int W,
                           int OC, int relu, float *scratch) {
    const geom4_t g = geom(B, C, H, W, OC);
#pragma omp parallel num_threads(par_threads_for(g.nch)) if (g.nch > 1)
    {
        PAR_SHARE(g.nch, k0, k1);
        float *V = scratch + (size_t)par_thread_id() * g.per, *M = V + 36 * g.vs, *pad = M + 36 * g.ms;
        float *rows = pad + up16((size_t)g.PH * g.PW * g.ldc);
        for (int k = k0; k < k1; k++) {
            const int b0 = k * g.nb, nb = B - b0 < g.nb ? B - b0 : g.nb;
            forward_chunk(&g, out, in, U, b, b0, nb, relu, V, M, pad, rows);
        }
    }
}
