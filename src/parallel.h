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

#endif
