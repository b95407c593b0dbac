/* test.h - the few macros the C tests use. A failed CHECK prints where and
 * why, counts the failure, and carries on, so one run shows every failure. */
#ifndef TEST_H
#define TEST_H

#include <math.h>
#include <stdio.h>

extern int test_failures, test_checks;

#define CHECK(cond, ...) \
    do { \
        test_checks++; \
        if (!(cond)) { \
            test_failures++; \
            fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__); \
            fputc('\n', stderr); \
        } \
    } while (0)

/* |a - b| <= tol·max(1, |a|, |b|) */
#define CHECK_CLOSE(a, b, tol, what) \
    do { \
        double a_ = (a), b_ = (b), s_ = fmax(1.0, fmax(fabs(a_), fabs(b_))); \
        CHECK(fabs(a_ - b_) <= (tol) * s_, "%s: %.8g vs %.8g", what, a_, b_); \
    } while (0)

#include "idx.h"
#include "model.h"

/* the data directory with MNIST, and the shipped model */
const char *test_data_dir(void);
const char *test_model_path(void);
/* MNIST's training (test = 0) or test set; a failed CHECK and -1 when it cannot be read */
int test_load_mnist(dataset_t *d, int test);
/* MNIST's training set and the shipped model, or a failed CHECK and -1 (nothing left to free) */
int test_load_shipped(dataset_t *d, model_t *m);

#endif
