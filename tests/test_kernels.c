/* The fast paths against the plain reference loops, on random shapes. */
#include <stdlib.h>
#include <string.h>

#include "gemm.h"
#include "layers.h"
#include "rng.h"
#include "test.h"

static float *rand_buf(rng_t *r, size_t n) {
    float *p = malloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) p[i] = rng_range(r, -1.0f, 1.0f);
    return p;
}

static double max_rel_diff(const float *a, const float *b, size_t n) {
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]) / fmax(1.0, fabs((double)b[i]));
        if (d > worst || d != d) worst = d != d ? 1e30 : d;
    }
    return worst;
}

void test_gemm(void) {
    static const char *kernels[] = {"generic", "avx2", "avx512"};
    const char *original = gemm_kernel_name();
    rng_t r;
    rng_seed(&r, 7);
    for (int kn = 0; kn < 3; kn++) {
        if (gemm_select(kernels[kn]) != 0) continue; /* this CPU lacks it */
        for (int trial = 0; trial < 60; trial++) {
            /* odd sizes around the kernels' tile and block sizes, plus big K */
            int M = 1 + (int)rng_below(&r, trial < 30 ? 40 : 200);
            int N = 1 + (int)rng_below(&r, trial < 30 ? 70 : 300);
            int K = trial % 10 == 9 ? 300 + (int)rng_below(&r, 600) : 1 + (int)rng_below(&r, 100);
            int ta = trial & 1, tb = (trial >> 1) & 1;
            float beta = (trial % 3 == 0) ? 1.0f : 0.0f;
            int lda = (ta ? M : K) + (int)rng_below(&r, 3), ldb = (tb ? K : N) + (int)rng_below(&r, 3);
            int ldc = N + (int)rng_below(&r, 3);
            float *A = rand_buf(&r, (size_t)(ta ? K : M) * lda), *B = rand_buf(&r, (size_t)(tb ? N : K) * ldb);
            float *C = rand_buf(&r, (size_t)M * ldc), *C2 = malloc(sizeof(float) * (size_t)M * ldc);
            memcpy(C2, C, sizeof(float) * (size_t)M * ldc);
            gemm(ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc);
            gemm_ref(ta, tb, M, N, K, A, lda, B, ldb, beta, C2, ldc);
            double d = max_rel_diff(C, C2, (size_t)M * ldc);
            CHECK(d < 1e-5 * sqrt(K) + 1e-6, "%s %c%c M=%d N=%d K=%d beta=%g: max difference %g", kernels[kn],
                  ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, beta, d);
            free(A), free(B), free(C), free(C2);
        }
        /* B aligned to 64 bytes with a row stride of a multiple of 16 floats: its full panels
         * are read in place, not packed. The same product from a copy of B one float off
         * alignment (packed) must agree to the bit, and both with the reference. */
        for (int trial = 0; trial < 20; trial++) {
            int M = 1 + (int)rng_below(&r, 40), N = 1 + (int)rng_below(&r, 200), K = 1 + (int)rng_below(&r, 500);
            int ta = trial & 1, lda = (ta ? M : K) + (int)rng_below(&r, 3), ldb = (N + 15) / 16 * 16 + 16 * (trial % 2);
            float *A = rand_buf(&r, (size_t)(ta ? K : M) * lda), *Bsrc = rand_buf(&r, (size_t)K * ldb);
            float *B = aligned_alloc(64, sizeof(float) * (((size_t)K * ldb + 15) / 16 * 16));
            float *Boff = malloc(sizeof(float) * ((size_t)K * ldb + 1));
            float *C = malloc(sizeof(float) * (size_t)M * N), *C2 = malloc(sizeof(float) * (size_t)M * N);
            float *C3 = malloc(sizeof(float) * (size_t)M * N);
            memcpy(B, Bsrc, sizeof(float) * (size_t)K * ldb);
            memcpy(Boff + 1, Bsrc, sizeof(float) * (size_t)K * ldb);
            gemm(ta, 0, M, N, K, A, lda, B, ldb, 0.0f, C, N);
            gemm(ta, 0, M, N, K, A, lda, Boff + 1, ldb, 0.0f, C2, N);
            gemm_ref(ta, 0, M, N, K, A, lda, B, ldb, 0.0f, C3, N);
            CHECK(!memcmp(C, C2, sizeof(float) * (size_t)M * N), "%s in place vs packed %c M=%d N=%d K=%d: not identical",
                  kernels[kn], ta ? 'T' : 'N', M, N, K);
            CHECK(max_rel_diff(C, C3, (size_t)M * N) < 1e-5 * sqrt(K) + 1e-6, "%s in place %c M=%d N=%d K=%d: wrong",
                  kernels[kn], ta ? 'T' : 'N', M, N, K);
            free(A), free(Bsrc), free(B), free(Boff), free(C), free(C2), free(C3);
        }
        /* Panels of at most 4 rows run on a 4-row kernel, full ones on the taller kernel:
         * both sum each element in the same order, so the first rows of a product come out
         * the same to the bit whichever kernel computed them (a training run's results must
         * not depend on how many rows a product has). */
        for (int trial = 0; trial < 12; trial++) {
            const int mr = !strcmp(kernels[kn], "avx512") ? 8 : 6;
            int M = 1 + (int)rng_below(&r, 4), N = 1 + (int)rng_below(&r, 100), K = 1 + (int)rng_below(&r, 500);
            int ta = trial & 1, tall = mr + M; /* a full panel, then one of M rows */
            float *A = rand_buf(&r, (size_t)tall * K), *B = rand_buf(&r, (size_t)K * N);
            float *C = malloc(sizeof(float) * (size_t)tall * N), *C2 = malloc(sizeof(float) * (size_t)tall * N);
            /* A's rows mr.. alone (ta: columns), against the same rows inside the taller product,
             * and the tall product's first M rows against the product of A's first M rows */
            gemm(ta, 0, tall, N, K, A, ta ? tall : K, B, N, 0.0f, C, N);
            gemm(ta, 0, M, N, K, A, ta ? tall : K, B, N, 0.0f, C2, N);
            CHECK(!memcmp(C, C2, sizeof(float) * (size_t)M * N), "%s %c: a %d-row product differs from its rows in a "
                  "%d-row one", kernels[kn], ta ? 'T' : 'N', M, tall);
            gemm(ta, 0, M, N, K, ta ? A + mr : A + (size_t)mr * K, ta ? tall : K, B, N, 0.0f, C2, N);
            CHECK(!memcmp(C + (size_t)mr * N, C2, sizeof(float) * (size_t)M * N),
                  "%s %c: the last %d rows of a %d-row product differ from those rows alone", kernels[kn],
                  ta ? 'T' : 'N', M, tall);
            free(A), free(B), free(C), free(C2);
        }
    }
    gemm_select(original);
}

void test_conv(void) {
    rng_t r;
    rng_seed(&r, 11);
    for (int trial = 0; trial < 25; trial++) {
        int B = 1 + (int)rng_below(&r, 4), C = 1 + (int)rng_below(&r, 5), OC = 1 + (int)rng_below(&r, 9);
        int k = 1 + 2 * (int)rng_below(&r, 3), pad = (int)rng_below(&r, (uint32_t)k);
        int H = k + (int)rng_below(&r, 12), W = k + (int)rng_below(&r, 13);
        int OH = H + 2 * pad - k + 1, OW = W + 2 * pad - k + 1;
        size_t nin = (size_t)B * C * H * W, nout = (size_t)B * OC * OH * OW, nw = (size_t)OC * C * k * k;
        float *in = rand_buf(&r, nin), *w = rand_buf(&r, nw), *b = rand_buf(&r, (size_t)OC);
        float *out = malloc(sizeof(float) * nout), *out2 = malloc(sizeof(float) * nout);
        float *col = malloc(sizeof(float) * conv2d_col_floats(B, C, H, W, k, pad));
        float *dws = malloc(sizeof(float) * conv2d_dw_scratch_floats(C, OC, k) * 64);
        conv2d_forward(out, in, w, b, B, C, H, W, OC, k, pad, col);
        conv2d_forward_ref(out2, in, w, b, B, C, H, W, OC, k, pad);
        CHECK(max_rel_diff(out, out2, nout) < 1e-5, "conv forward B=%d C=%d %dx%d OC=%d k=%d pad=%d", B, C, H, W, OC,
              k, pad);
        float *g = rand_buf(&r, nout);
        float *din = malloc(sizeof(float) * nin), *din2 = malloc(sizeof(float) * nin);
        float *dw = calloc(nw, sizeof(float)), *dw2 = calloc(nw, sizeof(float));
        float *db = calloc((size_t)OC, sizeof(float)), *db2 = calloc((size_t)OC, sizeof(float));
        conv2d_backward(din, dw, db, g, in, w, B, C, H, W, OC, k, pad, col, dws);
        conv2d_backward_ref(din2, dw2, db2, g, in, w, B, C, H, W, OC, k, pad);
        CHECK(max_rel_diff(din, din2, nin) < 1e-5, "conv backward din, k=%d pad=%d", k, pad);
        CHECK(max_rel_diff(dw, dw2, nw) < 1e-4, "conv backward dw, k=%d pad=%d", k, pad);
        CHECK(max_rel_diff(db, db2, (size_t)OC) < 1e-4, "conv backward db");
        if (k > 1 || pad > 0) {
            /* given no input, backward takes the im2col matrix the forward pass left in col:
             * the same gradients to the bit */
            float *din3 = malloc(sizeof(float) * nin), *dw3 = calloc(nw, sizeof(float));
            float *db3 = calloc((size_t)OC, sizeof(float));
            memset(dw, 0, sizeof(float) * nw), memset(db, 0, sizeof(float) * (size_t)OC);
            conv2d_backward(din, dw, db, g, in, w, B, C, H, W, OC, k, pad, col, dws);
            conv2d_forward(out2, in, w, b, B, C, H, W, OC, k, pad, col);
            conv2d_backward(din3, dw3, db3, g, NULL, w, B, C, H, W, OC, k, pad, col, dws);
            CHECK(!memcmp(din, din3, sizeof(float) * nin) && !memcmp(dw, dw3, sizeof(float) * nw) &&
                      !memcmp(db, db3, sizeof(float) * (size_t)OC),
                  "conv backward from the forward pass's col differs, k=%d pad=%d", k, pad);
            free(din3), free(dw3), free(db3);
        }
        free(in), free(w), free(b), free(out), free(out2), free(col), free(dws), free(g);
        free(din), free(din2), free(dw), free(dw2), free(db), free(db2);
    }
}

/* Winograd F(2x2,3x3), forward and backward, against the direct reference:
 * odd sizes, and batches of several chunks (8 images) with a partial last one */
void test_winograd(void) {
    rng_t r;
    rng_seed(&r, 17);
    for (int trial = 0; trial < 30; trial++) {
        int B = trial < 20 ? 1 + (int)rng_below(&r, 3) : 1 + (int)rng_below(&r, 30);
        int C = 1 + (int)rng_below(&r, 9), OC = 1 + (int)rng_below(&r, 12);
        int H = 1 + (int)rng_below(&r, 15), W = 1 + (int)rng_below(&r, 15), relu = trial & 1;
        size_t nin = (size_t)B * C * H * W, nout = (size_t)B * OC * H * W, nw = (size_t)OC * C * 9;
        float *in = rand_buf(&r, nin), *w = rand_buf(&r, nw), *b = rand_buf(&r, (size_t)OC);
        float *out = malloc(sizeof(float) * nout), *ref = malloc(sizeof(float) * nout);
        float *scratch = malloc(sizeof(float) * conv3x3_winograd_floats(B, C, H, W, OC));
        float *U = malloc(sizeof(float) * conv3x3_winograd_u_floats(C, OC));
        float *V = malloc(sizeof(float) * conv3x3_winograd_v_floats(B, C, H, W));
        conv3x3_winograd_weights(U, w, C, OC);
        /* inference (nothing kept, optional ReLU), then training (V kept, no ReLU) */
        conv3x3_winograd_forward(out, in, U, b, B, C, H, W, OC, relu, NULL, scratch);
        conv2d_forward_ref(ref, in, w, b, B, C, H, W, OC, 3, 1);
        for (size_t i = 0; i < nout && relu; i++) ref[i] = ref[i] > 0 ? ref[i] : 0;
        CHECK(max_rel_diff(out, ref, nout) < 1e-5 * (1 + C), "winograd B=%d C=%d %dx%d OC=%d relu=%d: %g", B, C, H, W,
              OC, relu, max_rel_diff(out, ref, nout));
        conv3x3_winograd_forward(out, in, U, b, B, C, H, W, OC, 0, V, scratch);
        conv2d_forward_ref(ref, in, w, b, B, C, H, W, OC, 3, 1);
        CHECK(max_rel_diff(out, ref, nout) < 1e-5 * (1 + C), "winograd (V kept) B=%d C=%d %dx%d OC=%d: %g", B, C, H,
              W, OC, max_rel_diff(out, ref, nout));
        /* backward adds to dw and db: start both from the same non-zero values */
        float *g = rand_buf(&r, nout), *dw = rand_buf(&r, nw), *db = rand_buf(&r, (size_t)OC);
        float *din = malloc(sizeof(float) * nin), *din2 = malloc(sizeof(float) * nin);
        float *dw2 = malloc(sizeof(float) * nw), *db2 = malloc(sizeof(float) * (size_t)OC);
        memcpy(dw2, dw, sizeof(float) * nw), memcpy(db2, db, sizeof(float) * (size_t)OC);
        conv3x3_winograd_backward(din, dw, db, g, V, U, B, C, H, W, OC, scratch);
        conv2d_backward_ref(din2, dw2, db2, g, in, w, B, C, H, W, OC, 3, 1);
        const double tol = 1e-5 * (1 + OC), tolw = 1e-5 * sqrt((double)B * H * W) + 1e-5;
        CHECK(max_rel_diff(din, din2, nin) < tol, "winograd backward din B=%d C=%d %dx%d OC=%d: %g", B, C, H, W, OC,
              max_rel_diff(din, din2, nin));
        CHECK(max_rel_diff(dw, dw2, nw) < tolw, "winograd backward dw B=%d C=%d %dx%d OC=%d: %g", B, C, H, W, OC,
              max_rel_diff(dw, dw2, nw));
        CHECK(max_rel_diff(db, db2, (size_t)OC) < tolw, "winograd backward db: %g", max_rel_diff(db, db2, (size_t)OC));
        /* without din (a first layer) the parameter gradients are the same, bit for bit */
        memset(dw, 0, sizeof(float) * nw), memset(dw2, 0, sizeof(float) * nw);
        conv3x3_winograd_backward(din, dw, db, g, V, U, B, C, H, W, OC, scratch);
        conv3x3_winograd_backward(NULL, dw2, db2, g, V, U, B, C, H, W, OC, scratch);
        CHECK(memcmp(dw, dw2, sizeof(float) * nw) == 0, "winograd backward without din");
        free(in), free(w), free(b), free(out), free(ref), free(scratch), free(U), free(V), free(g), free(dw), free(db);
        free(din), free(din2), free(dw2), free(db2);
    }
}

/* Winograd F(4x4,3x3), inference only, against the direct reference: odd sizes,
 * batches of several chunks (4 images) with a partial last one, and the shapes
 * of the shipped model's two 3x3 layers at batch 1, 3 and 100 */
void test_winograd4(void) {
    static const int shapes[][5] = {{1, 32, 14, 14, 64}, {1, 64, 7, 7, 128}, {3, 64, 7, 7, 128}, {100, 32, 14, 14, 64}};
    rng_t r;
    rng_seed(&r, 19);
    for (int trial = 0; trial < 34; trial++) {
        int B = trial < 20 ? 1 + (int)rng_below(&r, 3) : 1 + (int)rng_below(&r, 30);
        int C = 1 + (int)rng_below(&r, 9), OC = 1 + (int)rng_below(&r, 12);
        int H = 1 + (int)rng_below(&r, 15), W = 1 + (int)rng_below(&r, 15), relu = trial & 1;
        if (trial >= 30) {
            const int *s = shapes[trial - 30];
            B = s[0], C = s[1], H = s[2], W = s[3], OC = s[4];
        }
        size_t nin = (size_t)B * C * H * W, nout = (size_t)B * OC * H * W, nw = (size_t)OC * C * 9;
        float *in = rand_buf(&r, nin), *w = rand_buf(&r, nw), *b = rand_buf(&r, (size_t)OC);
        float *out = malloc(sizeof(float) * nout), *ref = malloc(sizeof(float) * nout);
        float *scratch = malloc(sizeof(float) * conv3x3_wino4_floats(B, C, H, W, OC));
        float *U = malloc(sizeof(float) * conv3x3_wino4_u_floats(C, OC));
        conv3x3_wino4_weights(U, w, C, OC);
        conv3x3_wino4_forward(out, in, U, b, B, C, H, W, OC, relu, scratch);
        conv2d_forward_ref(ref, in, w, b, B, C, H, W, OC, 3, 1);
        for (size_t i = 0; i < nout && relu; i++) ref[i] = ref[i] > 0 ? ref[i] : 0;
        /* its transforms round more than F(2x2)'s: twice the tolerance (the worst seen is
         * 4e-6 (1 + C)) */
        CHECK(max_rel_diff(out, ref, nout) < 2e-5 * (1 + C), "winograd4 B=%d C=%d %dx%d OC=%d relu=%d: %g", B, C, H,
              W, OC, relu, max_rel_diff(out, ref, nout));
        free(in), free(w), free(b), free(out), free(ref), free(scratch), free(U);
    }
}

void test_fc(void) {
    rng_t r;
    rng_seed(&r, 13);
    for (int trial = 0; trial < 20; trial++) {
        int B = 1 + (int)rng_below(&r, 70), K = 1 + (int)rng_below(&r, 900), N = 1 + (int)rng_below(&r, 40);
        float *in = rand_buf(&r, (size_t)K * B), *w = rand_buf(&r, (size_t)N * K), *b = rand_buf(&r, (size_t)N);
        float *out = malloc(sizeof(float) * (size_t)N * B), *out2 = malloc(sizeof(float) * (size_t)N * B);
        fc_forward(out, in, w, b, B, K, N);
        fc_forward_ref(out2, in, w, b, B, K, N);
        CHECK(max_rel_diff(out, out2, (size_t)N * B) < 1e-5 * sqrt(K), "fc B=%d K=%d N=%d", B, K, N);
        free(in), free(w), free(b), free(out), free(out2);
    }
}

/* The passes that do two layers' work at once against the two layers one after
 * the other: the results must be identical, not merely close, for the shipped
 * weights to come out of `make train` unchanged. */
void test_fused(void) {
    rng_t r;
    rng_seed(&r, 17);
    for (int trial = 0; trial < 12; trial++) {
        /* batch norm then ReLU */
        int C = 1 + (int)rng_below(&r, 9);
        size_t n = 1 + rng_below(&r, 5000);
        float *in = rand_buf(&r, C * n), *gamma = rand_buf(&r, (size_t)C), *beta = rand_buf(&r, (size_t)C);
        float *y1 = malloc(sizeof(float) * C * n), *y2 = malloc(sizeof(float) * C * n);
        float st[4][9] = {{0}}, ms[4][9] = {{0}};
        for (int c = 0; c < C; c++) st[0][c] = st[2][c] = 0.0f, st[1][c] = st[3][c] = 1.0f;
        batchnorm_forward_train(y1, ms[0], ms[1], st[0], st[1], in, gamma, beta, C, n, 0.1f, 1e-5f, 0);
        relu_forward(y1, y1, C * n);
        batchnorm_forward_train(y2, ms[2], ms[3], st[2], st[3], in, gamma, beta, C, n, 0.1f, 1e-5f, 1);
        CHECK(!memcmp(y1, y2, sizeof(float) * C * n) && !memcmp(st[0], st[2], sizeof st[0]) &&
                  !memcmp(st[1], st[3], sizeof st[1]) && !memcmp(ms[0], ms[2], sizeof ms[0]),
              "batch norm + ReLU in one pass differs from the two passes (C=%d n=%zu)", C, n);
        free(in), free(gamma), free(beta), free(y1), free(y2);

        /* max-pool backward, then ReLU backward; the pooled input is a ReLU's output,
         * with whole windows of zeros (a maximum of 0 passes no gradient) */
        int planes = 1 + (int)rng_below(&r, 6), H = 2 + (int)rng_below(&r, 12), W = 2 + (int)rng_below(&r, 12);
        int s = 2 + (trial % 4 == 3);
        if (H < s) H = s;
        if (W < s) W = s;
        size_t np = (size_t)planes * H * W, no = (size_t)planes * (H / s) * (W / s);
        float *x = rand_buf(&r, np), *g = rand_buf(&r, no), *pooled = malloc(sizeof(float) * no);
        for (size_t i = 0; i < np; i++) x[i] = (i / 7) % 3 == 0 || x[i] < 0.0f ? 0.0f : x[i];
        float *d1 = malloc(sizeof(float) * np), *d2 = malloc(sizeof(float) * np);
        maxpool_forward(pooled, x, (size_t)planes, H, W, s);
        maxpool_backward(d1, g, x, pooled, (size_t)planes, H, W, s, 0);
        relu_backward(d1, d1, x, np);
        maxpool_backward(d2, g, x, pooled, (size_t)planes, H, W, s, 1);
        CHECK(!memcmp(d1, d2, sizeof(float) * np), "max-pool + ReLU backward in one pass differs (%dx%d, s=%d)", H, W, s);
        free(x), free(g), free(pooled), free(d1), free(d2);

        /* batch norm, ReLU and 2×2 max pool in one pass, and backward by the stored argmax,
         * against the layers one after the other; odd sizes, and ties (values repeated, and
         * the ReLU's zeros) */
        int Bn = 1 + (int)rng_below(&r, 4);
        H = 2 + (int)rng_below(&r, 15), W = 2 + (int)rng_below(&r, 15);
        const size_t hw = (size_t)H * W, nx = (size_t)C * Bn * hw, ny = (size_t)C * Bn * (H / 2) * (W / 2);
        float *bx = rand_buf(&r, nx), *ga = rand_buf(&r, (size_t)C), *be = rand_buf(&r, (size_t)C);
        for (size_t i = 0; i < nx; i++) bx[i] = i % 5 == 1 ? bx[i - 1] : bx[i];
        float *relu_out = malloc(sizeof(float) * nx), *p1 = malloc(sizeof(float) * ny), *p2 = malloc(sizeof(float) * ny);
        float *arg = malloc(sizeof(float) * ny), *gy = rand_buf(&r, ny);
        float *dx1 = malloc(sizeof(float) * nx), *dx2 = malloc(sizeof(float) * nx);
        for (int c = 0; c < C; c++) st[0][c] = st[2][c] = 0.0f, st[1][c] = st[3][c] = 1.0f;
        batchnorm_forward_train(relu_out, ms[0], ms[1], st[0], st[1], bx, ga, be, C, Bn * hw, 0.1f, 1e-5f, 1);
        maxpool_forward(p1, relu_out, (size_t)C * Bn, H, W, 2);
        bn_relu_pool2_forward_train(p2, arg, ms[2], ms[3], st[2], st[3], bx, ga, be, C, Bn, H, W, 0.1f, 1e-5f);
        CHECK(!memcmp(p1, p2, sizeof(float) * ny) && !memcmp(st[0], st[2], sizeof st[0]) &&
                  !memcmp(st[1], st[3], sizeof st[1]) && !memcmp(ms[0], ms[2], sizeof ms[0]) &&
                  !memcmp(ms[1], ms[3], sizeof ms[1]),
              "batch norm + ReLU + pool in one pass differs (C=%d B=%d %dx%d)", C, Bn, H, W);
        maxpool_backward(dx1, gy, relu_out, p1, (size_t)C * Bn, H, W, 2, 1);
        maxpool2_backward_arg(dx2, gy, arg, p2, (size_t)C * Bn, H, W, 1);
        CHECK(!memcmp(dx1, dx2, sizeof(float) * nx), "max-pool backward by the stored argmax differs (%dx%d)", H, W);
        free(bx), free(ga), free(be), free(relu_out), free(p1), free(p2), free(arg), free(gy), free(dx1), free(dx2);
    }
    /* dropout's vectorized draws are rng_uniform()'s */
    size_t n = 3000;
    float *in = malloc(sizeof(float) * n), *out = malloc(sizeof(float) * n), *mask = malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++) in[i] = 1.0f;
    dropout_forward(out, mask, in, n, 0.25f, 12345);
    rng_t d;
    rng_seed(&d, 12345);
    int same = 1, dropped = 0;
    for (size_t i = 0; i < n; i++) {
        const int drop = rng_uniform(&d) < 0.25f;
        same &= mask[i] == (drop ? 0.0f : 1.0f / 0.75f) && out[i] == mask[i];
        dropped += drop;
    }
    CHECK(same && dropped > 600 && dropped < 900, "dropout masks differ from rng_uniform() draws (%d dropped)", dropped);
    free(in), free(out), free(mask);
}
