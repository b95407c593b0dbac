/* parallel.h - the few OpenMP queries the library makes, with serial
 * fallbacks for builds without OpenMP (WebAssembly, sanitizer builds with
 * clang). Loops themselves use `#pragma omp`, which such builds ignore
 * (or, with -fopenmp-simd, use only for vectorization). */
#ifndef PARALLEL_H
#define PARALLEL_H

#ifdef _OPENMP
#include <omp.h>
static inline int par_thread_id(void) { return omp_get_thread_num(); }
static inline int par_max_threads(void) { return omp_get_max_threads(); }
static inline int par_num_threads(void) { return omp_get_num_threads(); }
#else
static inline int par_thread_id(void) { return 0; }
static inline int par_max_threads(void) { return 1; }
static inline int par_num_threads(void) { return 1; }
#endif

/* loops smaller than this many elements stay on one thread: waking the
 * others costs more than they would save */
#define PAR_MIN_WORK 32768

/* threads to run n independent pieces of work on: no more than there are pieces */
static inline int par_threads_for(int n) {
    const int t = par_max_threads();
    return n < t ? n : t;
}

/* inside a parallel region: this thread's share [k0, k1) of n pieces, in runs of consecutive ones */
#define PAR_SHARE(n, k0, k1)                                                                                          \
    const int k0 = (int)((long)(n) * par_thread_id() / par_num_threads()),                                            \
              k1 = (int)((long)(n) * (par_thread_id() + 1) / par_num_threads())

#endif
