#include "gemm.h"

#include "parallel.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Blocking. C is cut into equal tiles of at most about MC×NC (M = 128 is one
 * tile of 128 rows, not 96 + 32), each rounded up to whole micro-tiles; K is
 * walked in equal steps of at most KC (K = 288 is one step, not 256 + 32). The
 * packed blocks live on the stack (KC·(MC+NC+40)·4, under 0.6 MB), so gemm()
 * allocates nothing and any number of threads may call it at once. */
#define KC 384
#define MC 128
#define NC 192
#define MC_BUF (MC + 8)  /* MC rounded up to any kernel's MR */
#define NC_BUF (NC + 32) /* likewise for NR */

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

#define KNAME kernel_generic_4
#define KTARGET
#define VLEN 4
#define KMR 4
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

#define KNAME kernel_avx2_4
#define KTARGET __attribute__((target("avx2,fma")))
#define VLEN 8
#define KMR 4
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

#define KNAME kernel_avx512_4
#define KTARGET __attribute__((target("avx512f")))
#define VLEN 16
#define KMR 4
#include "gemm_kernel.inc"
#undef KNAME
#undef KTARGET
#undef VLEN
#undef KMR
#endif

typedef void (*kernel_fn)(int kc, const float *a, long as, const float *b, long bs, float *c, int ldc,
                          int accumulate);

typedef struct {
    const char *name;
    kernel_fn fn;
    int mr, nr;
    kernel_fn fn4; /* the same with 4 rows, for panels of at most 4 rows */
} kernel_t;

static const kernel_t kernels[] = {
#ifdef HAVE_X86_DISPATCH
    {"avx512", kernel_avx512, 8, 32, kernel_avx512_4},
    {"avx2", kernel_avx2, 6, 16, kernel_avx2_4},
#endif
    {"generic", kernel_generic, 6, 8, kernel_generic_4},
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

/* Packing copies a block of op(A) or op(B) into panels of `width` (= mr or
 * nr) lanes: step p of a panel holds the lanes' values for that step side by
 * side, lanes past the matrix's edge are zero. Each lane is a row of op(A) or
 * a column of op(B), and in memory it runs one of two ways:
 *   across: lane i's steps are contiguous (src[i·ld + p]) - op(A) = A, op(B) = Bᵀ;
 *   along:  a step's lanes are contiguous (src[p·ld + i]) - op(A) = Aᵀ, op(B) = B.
 * "along" is a row copy per step. "across" is a transpose, done 4×4 in registers:
 * element by element it was a strided load per float, which slowed the weight-
 * gradient products most (both of their operands run across). */

typedef float v4 __attribute__((vector_size(16)));
typedef float v4u __attribute__((vector_size(16), aligned(4)));
#ifdef __clang__
#define SHUF(a, b, i, j, k, l) __builtin_shufflevector(a, b, i, j, k, l)
#else
typedef int v4i __attribute__((vector_size(16)));
#define SHUF(a, b, i, j, k, l) __builtin_shuffle(a, b, (v4i){i, j, k, l})
#endif

#ifdef HAVE_X86_DISPATCH
#include <immintrin.h>

/* Where the CPU has AVX2: lanes 8 at a time, transposed 8×8 in AVX registers (half the
 * loads and stores of 4×4, and a quarter fewer shuffles). Returns the lanes it packed. */
__attribute__((target("avx2"))) static int pack_across8(float *restrict dst, int width, const float *restrict src,
                                                        long ld, int lanes, int kc) {
    int i = 0;
    for (; i + 8 <= lanes; i += 8) {
        const float *s = src + i * ld;
        int p = 0;
        for (; p + 8 <= kc; p += 8) {
            const __m256 r0 = _mm256_loadu_ps(s + p), r1 = _mm256_loadu_ps(s + ld + p);
            const __m256 r2 = _mm256_loadu_ps(s + 2 * ld + p), r3 = _mm256_loadu_ps(s + 3 * ld + p);
            const __m256 r4 = _mm256_loadu_ps(s + 4 * ld + p), r5 = _mm256_loadu_ps(s + 5 * ld + p);
            const __m256 r6 = _mm256_loadu_ps(s + 6 * ld + p), r7 = _mm256_loadu_ps(s + 7 * ld + p);
            /* pairs of lanes interleaved, then quads: u_k holds step k (low half) and k+4 (high) */
            const __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
            const __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
            const __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
            const __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
            const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
            const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
            const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
            const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
            float *d = dst + (long)p * width + i;
            _mm256_storeu_ps(d, _mm256_permute2f128_ps(u0, u4, 0x20));
            _mm256_storeu_ps(d + width, _mm256_permute2f128_ps(u1, u5, 0x20));
            _mm256_storeu_ps(d + 2 * width, _mm256_permute2f128_ps(u2, u6, 0x20));
            _mm256_storeu_ps(d + 3 * width, _mm256_permute2f128_ps(u3, u7, 0x20));
            _mm256_storeu_ps(d + 4 * width, _mm256_permute2f128_ps(u0, u4, 0x31));
            _mm256_storeu_ps(d + 5 * width, _mm256_permute2f128_ps(u1, u5, 0x31));
            _mm256_storeu_ps(d + 6 * width, _mm256_permute2f128_ps(u2, u6, 0x31));
            _mm256_storeu_ps(d + 7 * width, _mm256_permute2f128_ps(u3, u7, 0x31));
        }
        for (; p < kc; p++)
            for (int j = 0; j < 8; j++) dst[(long)p * width + i + j] = s[j * ld + p];
    }
    return i;
}
#endif

static void pack_across(float *restrict dst, int width, const float *restrict src, long ld, int lanes, int kc) {
    int i = 0;
#ifdef HAVE_X86_DISPATCH
    if (__builtin_cpu_supports("avx2")) i = pack_across8(dst, width, src, ld, lanes, kc);
#endif
    for (; i + 4 <= lanes; i += 4) {
        const float *s0 = src + i * ld, *s1 = s0 + ld, *s2 = s1 + ld, *s3 = s2 + ld;
        int p = 0;
        for (; p + 4 <= kc; p += 4) {
            const v4 r0 = *(const v4u *)(s0 + p), r1 = *(const v4u *)(s1 + p);
            const v4 r2 = *(const v4u *)(s2 + p), r3 = *(const v4u *)(s3 + p);
            const v4 t0 = SHUF(r0, r1, 0, 4, 1, 5), t1 = SHUF(r0, r1, 2, 6, 3, 7);
            const v4 t2 = SHUF(r2, r3, 0, 4, 1, 5), t3 = SHUF(r2, r3, 2, 6, 3, 7);
            float *d = dst + (long)p * width + i;
            *(v4u *)d = SHUF(t0, t2, 0, 1, 4, 5);
            *(v4u *)(d + width) = SHUF(t0, t2, 2, 3, 6, 7);
            *(v4u *)(d + 2 * width) = SHUF(t1, t3, 0, 1, 4, 5);
            *(v4u *)(d + 3 * width) = SHUF(t1, t3, 2, 3, 6, 7);
        }
        for (; p < kc; p++) {
            float *d = dst + (long)p * width + i;
            d[0] = s0[p], d[1] = s1[p], d[2] = s2[p], d[3] = s3[p];
        }
    }
    for (; i < lanes; i++)
        for (int p = 0; p < kc; p++) dst[(long)p * width + i] = src[i * ld + p];
    for (; i < width; i++)
        for (int p = 0; p < kc; p++) dst[(long)p * width + i] = 0.0f;
}

static void pack_along(float *restrict dst, int width, const float *restrict src, long ld, int lanes, int kc) {
    /* constant sizes, so that the compiler inlines each row's copy as a few vector moves */
#define ROWS(W)                                                                                     \
    for (int p = 0; p < kc; p++) memcpy(dst + (long)p * (W), src + p * ld, sizeof(float) * (W)); \
    return
    if (lanes == width) switch (width) {
        case 32: ROWS(32);
        case 16: ROWS(16);
        case 8: ROWS(8);
        case 6: ROWS(6);
        }
#undef ROWS
    for (int p = 0; p < kc; p++) {
        float *d = dst + (long)p * width;
        memcpy(d, src + p * ld, sizeof(float) * (size_t)lanes);
        for (int i = lanes; i < width; i++) d[i] = 0.0f;
    }
}

/* rows [i0, i0+mc) and steps [p0, p0+kc) of op(A) into panels of mr rows; full
 * panels are left out when in_place (the kernel reads them from A) */
static void pack_a(int ta, const float *A, int lda, int i0, int mc, int p0, int kc, int mr, float *ap, int in_place) {
    for (int ir = 0; ir < mc; ir += mr, ap += (long)mr * kc) {
        int rows = mc - ir < mr ? mc - ir : mr;
        long r = i0 + ir;
        if (in_place && rows == mr) continue;
        if (ta) pack_along(ap, mr, A + (long)p0 * lda + r, lda, rows, kc);
        else pack_across(ap, mr, A + r * lda + p0, lda, rows, kc);
    }
}

/* steps [p0, p0+kc) and columns [j0, j0+nc) of op(B) into panels of nr columns, likewise */
static void pack_b(int tb, const float *B, int ldb, int p0, int kc, int j0, int nc, int nr, float *bp, int in_place) {
    for (int jr = 0; jr < nc; jr += nr, bp += (long)nr * kc) {
        int cols = nc - jr < nr ? nc - jr : nr;
        long c = j0 + jr;
        if (in_place && cols == nr) continue;
        if (tb) pack_across(bp, nr, B + c * ldb + p0, ldb, cols, kc);
        else pack_along(bp, nr, B + (long)p0 * ldb + c, ldb, cols, kc);
    }
}

/* ---- driver ----------------------------------------------------------------- */

/* Tiles t0..t1-1 of C, numbered row by row (nt tiles of tn columns to a row of
 * tiles tm rows high). Each K step packs a block of A once for all the tiles
 * of the same row it is given, and a block of B per tile: packing A per tile
 * cost as much again as the arithmetic on the conv layers' shapes, where one
 * row of tiles spans the whole product. Every element of C still sums its K
 * steps in order, so the result does not depend on how tiles are shared out. */
/* Each thread's packing buffers: 550 KB that must not live on the stack (a thread's, or
 * WebAssembly's, which Emscripten sizes from 64 KB up), allocated with the program. */
static _Thread_local _Alignas(64) float pack_ap[MC_BUF * KC], pack_bp[NC_BUF * KC];

static void gemm_tiles(const kernel_t *kn, int ta, int tb, int t0, int t1, int nt, int tm, int tn, int M, int N,
                       int K, const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    float *const ap = pack_ap, *const bp = pack_bp;
    _Alignas(64) float edge[8 * 32];
    const int mr = kn->mr, nr = kn->nr;
    const int steps = (K + KC - 1) / KC, step = (K + steps - 1) / steps;
    /* Packing copies what the kernel reads into the order it reads it. Where a step's
     * mr rows of op(A) are already contiguous (A transposed), or its nr columns of op(B)
     * (B as it is, and aligned to the kernel's vectors), full panels are read in place:
     * the same numbers in the same order, one copy fewer. */
    const int a_in_place = ta;
    const int b_in_place = !tb && (uintptr_t)B % ((size_t)nr * 2) == 0 && ldb % (nr / 2) == 0;
    while (t0 < t1) {
        const int row = t0 / nt, end = (row + 1) * nt < t1 ? (row + 1) * nt : t1; /* this row's tiles: [t0, end) */
        const int i0 = row * tm, mc = M - i0 < tm ? M - i0 : tm;
        for (int p0 = 0; p0 < K; p0 += step) {
            const int kc = K - p0 < step ? K - p0 : step, accumulate = p0 > 0 || beta != 0.0f;
            pack_a(ta, A, lda, i0, mc, p0, kc, mr, ap, a_in_place);
            for (int t = t0; t < end; t++) {
                const int j0 = (t % nt) * tn, nc = N - j0 < tn ? N - j0 : tn;
                pack_b(tb, B, ldb, p0, kc, j0, nc, nr, bp, b_in_place);
                for (int jr = 0; jr < nc; jr += nr) {
                    const int cols = nc - jr < nr ? nc - jr : nr;
                    const int b_direct = b_in_place && cols == nr;
                    const float *b = b_direct ? B + (long)p0 * ldb + j0 + jr : bp + (long)jr * kc;
                    const long bs = b_direct ? ldb : nr;
                    for (int ir = 0; ir < mc; ir += mr) {
                        const int rows = mc - ir < mr ? mc - ir : mr;
                        const int a_direct = a_in_place && rows == mr;
                        const float *a = a_direct ? A + (long)p0 * lda + i0 + ir : ap + (long)ir * kc;
                        const long as = a_direct ? lda : mr;
                        float *c = C + (long)(i0 + ir) * ldc + j0 + jr;
                        /* a panel of at most 4 rows (the last of a product, or all of a small
                         * one: Winograd's at inference has one row per tile, four on a 7×7
                         * plane) runs on the 4-row kernel rather than leave rows of a taller
                         * one empty; each element of C is summed in the same order either way */
                        const kernel_fn fn = rows <= 4 ? kn->fn4 : kn->fn;
                        if (cols == nr && (rows == mr || rows == 4)) {
                            fn(kc, a, as, b, bs, c, ldc, accumulate);
                        } else { /* partial tile: compute into a full-size scratch tile, copy the valid part */
                            fn(kc, a, as, b, bs, edge, nr, 0);
                            for (int i = 0; i < rows; i++)
                                for (int j = 0; j < cols; j++)
                                    c[(long)i * ldc + j] =
                                        accumulate ? c[(long)i * ldc + j] + edge[i * nr + j] : edge[i * nr + j];
                        }
                    }
                }
            }
        }
        t0 = end;
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
    /* tile sides: the fewest tiles of at most MC (NC), evened out and rounded up to whole micro-tiles */
    int mt = (M + MC - 1) / MC, nt = (N + NC - 1) / NC;
    int tm = (M + mt - 1) / mt, tn = (N + nt - 1) / nt;
    tm = (tm + kn->mr - 1) / kn->mr * kn->mr, tn = (tn + kn->nr - 1) / kn->nr * kn->nr;
    mt = (M + tm - 1) / tm, nt = (N + tn - 1) / tn;
    const int tiles = mt * nt;
    /* each thread takes a run of consecutive tiles */
#pragma omp parallel if (tiles > 1 && 2.0 * M * N * K > 4e6)
    {
        PAR_SHARE(tiles, k0, k1);
        gemm_tiles(kn, ta, tb, k0, k1, nt, tm, tn, M, N, K, A, lda, B, ldb, beta, C, ldc);
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
