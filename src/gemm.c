#include "gemm.h"

#include <stdlib.h>
#include <string.h>

/* Blocking. A tile of C is MC×NC; K is walked in equal steps of at most KC
 * (K = 288 is one step, not 256 + 32). The packed blocks live on the stack
 * (KC·(MC+NC)·4 = 432 KB), so gemm() allocates nothing and any number of
 * threads may call it at once. */
#define KC 384
#define MC 96  /* a multiple of every kernel's MR */
#define NC 192 /* a multiple of every kernel's NR */

/* ---- micro-kernels ---------------------------------------------------------- */

#define KNAME kernel_generic
#define KTARGET
#define VLEN 4
#define KMR 6
#include "gemm_kernel.inc"
#undef KNAME
#undef KTARGET
#undef VLEN
#undef KMR

#if defined(__x86_64__) && defined(__GNUC__)
#define HAVE_X86_DISPATCH 1
#define KNAME kernel_avx2
#define KTARGET __attribute__((target("avx2,fma")))
#define VLEN 8
#define KMR 6
#include "gemm_kernel.inc"
#undef KNAME
#undef KTARGET
#undef VLEN
#undef KMR

#define KNAME kernel_avx512
#define KTARGET __attribute__((target("avx512f")))
#define VLEN 16
#define KMR 8
#include "gemm_kernel.inc"
#undef KNAME
#undef KTARGET
#undef VLEN
#undef KMR
#endif

typedef void (*kernel_fn)(int kc, const float *a, const float *b, float *c, int ldc, int accumulate);

typedef struct {
    const char *name;
    kernel_fn fn;
    int mr, nr;
} kernel_t;

static const kernel_t kernels[] = {
#ifdef HAVE_X86_DISPATCH
    {"avx512", kernel_avx512, 8, 32},
    {"avx2", kernel_avx2, 6, 16},
#endif
    {"generic", kernel_generic, 6, 8},
};
#define N_KERNELS ((int)(sizeof kernels / sizeof kernels[0]))

static int kernel_supported(const kernel_t *k) {
#ifdef HAVE_X86_DISPATCH
    if (!strcmp(k->name, "avx512")) return __builtin_cpu_supports("avx512f");
    if (!strcmp(k->name, "avx2")) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
    return !strcmp(k->name, "generic");
}

static const kernel_t *active; /* chosen once; read-only afterwards */

static const kernel_t *kernel_get(void) {
    if (!active) {
        /* DIGIT_GEMM_KERNEL=generic|avx2|avx512 overrides the choice, for benchmarks */
        const char *want = getenv("DIGIT_GEMM_KERNEL");
        for (int i = 0; want && i < N_KERNELS && !active; i++)
            if (!strcmp(kernels[i].name, want) && kernel_supported(&kernels[i])) active = &kernels[i];
        for (int i = 0; i < N_KERNELS && !active; i++)
            if (kernel_supported(&kernels[i])) active = &kernels[i];
    }
    return active;
}

const char *gemm_kernel_name(void) { return kernel_get()->name; }

int gemm_select(const char *name) {
    for (int i = 0; i < N_KERNELS; i++)
        if (!strcmp(kernels[i].name, name)) {
            if (!kernel_supported(&kernels[i])) return -1;
            active = &kernels[i];
            return 0;
        }
    return -1;
}

/* ---- packing ---------------------------------------------------------------- */

/* rows [i0, i0+mc) and steps [p0, p0+kc) of op(A) into panels of mr rows:
 * panel r holds kc steps of mr floats; rows past mc are zero. */
static void pack_a(int ta, const float *A, int lda, int i0, int mc, int p0, int kc, int mr, float *ap) {
    for (int ir = 0; ir < mc; ir += mr) {
        int rows = mc - ir < mr ? mc - ir : mr;
        for (int p = 0; p < kc; p++) {
            for (int i = 0; i < rows; i++) {
                long r = i0 + ir + i, k = p0 + p;
                ap[i] = ta ? A[k * lda + r] : A[r * lda + k];
            }
            for (int i = rows; i < mr; i++) ap[i] = 0.0f;
            ap += mr;
        }
    }
}

/* steps [p0, p0+kc) and columns [j0, j0+nc) of op(B) into panels of nr columns */
static void pack_b(int tb, const float *B, int ldb, int p0, int kc, int j0, int nc, int nr, float *bp) {
    for (int jr = 0; jr < nc; jr += nr) {
        int cols = nc - jr < nr ? nc - jr : nr;
        for (int p = 0; p < kc; p++) {
            long k = p0 + p;
            if (!tb && cols == nr) {
                memcpy(bp, B + k * ldb + j0 + jr, sizeof(float) * (size_t)nr);
            } else {
                for (int j = 0; j < cols; j++) {
                    long col = j0 + jr + j;
                    bp[j] = tb ? B[col * ldb + k] : B[k * ldb + col];
                }
                for (int j = cols; j < nr; j++) bp[j] = 0.0f;
            }
            bp += nr;
        }
    }
}

/* ---- driver ----------------------------------------------------------------- */

/* One MC×NC tile of C: all of K, in KC steps. */
static void gemm_tile(const kernel_t *kn, int ta, int tb, int i0, int mc, int j0, int nc, int K, const float *A,
                      int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    _Alignas(64) float ap[MC * KC];
    _Alignas(64) float bp[NC * KC];
    _Alignas(64) float edge[8 * 32];
    const int mr = kn->mr, nr = kn->nr;
    const int steps = (K + KC - 1) / KC, step = (K + steps - 1) / steps;
    for (int p0 = 0; p0 < K; p0 += step) {
        int kc = K - p0 < step ? K - p0 : step;
        int accumulate = p0 > 0 || beta != 0.0f;
        pack_a(ta, A, lda, i0, mc, p0, kc, mr, ap);
        pack_b(tb, B, ldb, p0, kc, j0, nc, nr, bp);
        for (int jr = 0; jr < nc; jr += nr) {
            int cols = nc - jr < nr ? nc - jr : nr;
            for (int ir = 0; ir < mc; ir += mr) {
                int rows = mc - ir < mr ? mc - ir : mr;
                float *c = C + (long)(i0 + ir) * ldc + j0 + jr;
                const float *a = ap + (long)ir * kc, *b = bp + (long)jr * kc;
                if (rows == mr && cols == nr) {
                    kn->fn(kc, a, b, c, ldc, accumulate);
                } else { /* partial tile: compute into a full-size scratch tile, copy the valid part */
                    kn->fn(kc, a, b, edge, nr, 0);
                    for (int i = 0; i < rows; i++)
                        for (int j = 0; j < cols; j++)
                            c[(long)i * ldc + j] = accumulate ? c[(long)i * ldc + j] + edge[i * nr + j] : edge[i * nr + j];
                }
            }
        }
    }
}

void gemm(int ta, int tb, int M, int N, int K, const float *A, int lda, const float *B, int ldb, float beta,
          float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) { /* empty sum */
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) C[(long)i * ldc + j] = beta != 0.0f ? C[(long)i * ldc + j] : 0.0f;
        return;
    }
    const kernel_t *kn = kernel_get();
    int mt = (M + MC - 1) / MC, nt = (N + NC - 1) / NC;
    int tiles = mt * nt;
    double flops = 2.0 * M * N * K;
    (void)flops;
#pragma omp parallel for schedule(static) if (tiles > 1 && flops > 4e6)
    for (int t = 0; t < tiles; t++) {
        int i0 = (t / nt) * MC, j0 = (t % nt) * NC;
        int mc = M - i0 < MC ? M - i0 : MC, nc = N - j0 < NC ? N - j0 : NC;
        gemm_tile(kn, ta, tb, i0, mc, j0, nc, K, A, lda, B, ldb, beta, C, ldc);
    }
}

void gemm_ref(int ta, int tb, int M, int N, int K, const float *A, int lda, const float *B, int ldb, float beta,
              float *C, int ldc) {
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float s = 0.0f;
            for (int k = 0; k < K; k++) {
                float a = ta ? A[(long)k * lda + i] : A[(long)i * lda + k];
                float b = tb ? B[(long)j * ldb + k] : B[(long)k * ldb + j];
                s += a * b;
            }
            C[(long)i * ldc + j] = (beta != 0.0f ? C[(long)i * ldc + j] : 0.0f) + s;
        }
}
