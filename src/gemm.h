/* gemm.h - single-precision matrix multiply, the kernel under conv and fc layers.
 *
 *   C = op(A) · op(B) + beta · C          (row-major, beta is 0 or 1)
 *
 * op(A) is M×K: A itself when ta == 0 (A is M×K, row stride lda), or Aᵀ when
 * ta == 1 (A is K×M). op(B) is K×N: B when tb == 0 (K×N, ldb), Bᵀ when tb == 1
 * (B is N×K). C is M×N with row stride ldc.
 *
 * gemm() is the fast path: blocked, packed, with a register-tiled micro-kernel
 * written with vector extensions so the compiler emits SIMD (SSE2/AVX2/AVX-512
 * chosen at run time on x86-64, SIMD128 in WebAssembly). When called outside an
 * OpenMP parallel region and the product is large, it spreads tiles of C over
 * the threads. gemm_ref() is the plain triple loop the tests compare against.
 */
#ifndef GEMM_H
#define GEMM_H

void gemm(int ta, int tb, int M, int N, int K, const float *A, int lda, const float *B, int ldb,
          float beta, float *C, int ldc);
void gemm_ref(int ta, int tb, int M, int N, int K, const float *A, int lda, const float *B, int ldb,
              float beta, float *C, int ldc);

/* Which micro-kernel gemm() uses: "avx512", "avx2", "generic" (the portable
 * vector one). gemm_select() forces one by name for tests and benchmarks; it
 * returns 0, or -1 when the name is unknown or the CPU lacks it. The
 * environment variable DIGIT_GEMM_KERNEL picks one too, before the first call. */
const char *gemm_kernel_name(void);
int gemm_select(const char *name);

#endif
