/* bench - native speed: training throughput, inference latency, and the
 * GEMM kernel against OpenBLAS's sgemm on the shapes the conv layers use.
 *
 *   bench train ARCH BATCH STEPS     images/s of train_step on synthetic data
 *   bench infer MODEL N              mean ms per single image (forward + softmax)
 *   bench gemm                       GFLOP/s: ours vs cblas_sgemm, same shapes, same threads
 *   bench finetune MODEL IMAGES LABELS STEPS
 *                                    seconds of teach mode's fine-tuning (src/finetune.c):
 *                                    the first 50 images as the person's drawings, the rest replay
 * Prints one JSON object per line, for tests/bench/run.js.
 */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "finetune.h"
#include "gemm.h"
#include "idx.h"
#include "model.h"
#include "parallel.h"
#include "rng.h"
#include "train.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int bench_train(const char *arch, int B, int steps) {
    char err[ERR_LEN];
    model_t m;
    if (model_init(&m, arch, err)) return fprintf(stderr, "%s\n", err), 1;
    model_init_weights(&m, 1);
    workspace_t ws;
    optimizer_t o;
    if (workspace_init(&ws, &m, B, 1, err) || optimizer_init(&o, OPT_SGD, m.n_params, err)) return fprintf(stderr, "%s\n", err), 1;
    float *x = malloc(sizeof(float) * (size_t)B * IMG_PIXELS), *t = calloc((size_t)B * N_CLASSES, sizeof(float));
    float *g = malloc(sizeof(float) * m.n_params);
    int *lab = malloc(sizeof(int) * (size_t)B);
    rng_t r;
    rng_seed(&r, 3);
    for (int i = 0; i < B * IMG_PIXELS; i++) x[i] = rng_uniform(&r);
    for (int b = 0; b < B; b++) lab[b] = (int)rng_below(&r, 10), t[b * N_CLASSES + lab[b]] = 1.0f;
    for (int i = 0; i < 10; i++) train_step(&m, &ws, &o, g, x, t, lab, B, 0.01f, (uint64_t)i);
    double t0 = now();
    for (int i = 0; i < steps; i++) train_step(&m, &ws, &o, g, x, t, lab, B, 0.01f, (uint64_t)i);
    double dt = now() - t0;
    printf("{\"what\":\"train\",\"arch\":\"%s\",\"batch\":%d,\"threads\":%d,\"kernel\":\"%s\",\"images_per_s\":%.1f,"
           "\"gflops\":%.2f}\n",
           arch, B, par_max_threads(), gemm_kernel_name(), steps * B / dt, 3.0 * model_flops(&m) * steps * B / dt / 1e9);
    free(x), free(t), free(g), free(lab);
    workspace_free(&ws), optimizer_free(&o), model_free(&m);
    return 0;
}

static int bench_infer(const char *path, int n) {
    char err[ERR_LEN];
    model_t m;
    if (model_load(&m, path, err)) return fprintf(stderr, "%s\n", err), 1;
    workspace_t ws;
    if (workspace_init(&ws, &m, 1, 0, err)) return fprintf(stderr, "%s\n", err), 1;
    float x[IMG_PIXELS];
    rng_t r;
    rng_seed(&r, 5);
    for (int i = 0; i < IMG_PIXELS; i++) x[i] = rng_uniform(&r) < 0.2f ? 1.0f : 0.0f;
    for (int i = 0; i < 50; i++) model_predict(&m, &ws, x, 1);
    double t0 = now();
    for (int i = 0; i < n; i++) model_predict(&m, &ws, x, 1);
    double ms = (now() - t0) * 1e3 / n;
    printf("{\"what\":\"infer\",\"threads\":%d,\"kernel\":\"%s\",\"ms\":%.4f,\"mflops\":%.3f}\n", par_max_threads(),
           gemm_kernel_name(), ms, model_flops(&m) / 1e6);
    workspace_free(&ws), model_free(&m);
    return 0;
}

static int bench_finetune(const char *path, const char *images, const char *labels, int steps) {
    char err[ERR_LEN];
    model_t m;
    dataset_t d;
    if (model_load(&m, path, err) || dataset_load(&d, images, labels, err)) return fprintf(stderr, "%s\n", err), 1;
    if (d.n <= 50) return fprintf(stderr, "%s: need more than 50 images\n", images), 1;
    finetune_params p;
    finetune_defaults(&p);
    p.steps = steps;
    finetune_t f;
    double t0 = now();
    if (finetune_begin(&f, &m, d.pixels, d.labels, 50, d.pixels + 50 * IMG_PIXELS, d.labels + 50, d.n - 50, &p, err))
        return fprintf(stderr, "%s\n", err), 1;
    while (f.step < steps) finetune_step(&f);
    finetune_end(&f);
    double dt = now() - t0;
    printf("{\"what\":\"finetune\",\"threads\":%d,\"steps\":%d,\"batch\":%d,\"s\":%.3f}\n", par_max_threads(), steps, p.batch, dt);
    dataset_free(&d), model_free(&m);
    return 0;
}

static double time_gemm(int blas, int ta, int tb, int M, int N, int K, const float *A, const float *B, float *C) {
    int lda = ta ? M : K, ldb = tb ? K : N, reps = 0;
    double t0 = now(), dt;
    do {
        if (blas)
            cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, 1.0f,
                        A, lda, B, ldb, 0.0f, C, N);
        else
            gemm(ta, tb, M, N, K, A, lda, B, ldb, 0.0f, C, N);
        reps++;
        dt = now() - t0;
    } while (dt < 0.3);
    return 2.0 * M * N * K * reps / dt / 1e9;
}

static int bench_gemm(void) {
    /* the products one training step of the default model makes (batch 64) */
    static const struct {
        const char *what;
        int ta, tb, M, N, K;
    } shapes[] = {
        {"conv1 forward", 0, 0, 32, 64 * 784, 25},       {"conv1 weight grad", 0, 1, 32, 25, 64 * 784},
        {"conv2 forward", 0, 0, 64, 64 * 196, 288},      {"conv2 weight grad", 0, 1, 64, 288, 64 * 196},
        {"conv2 input grad", 1, 0, 288, 64 * 196, 64},   {"conv3 forward", 0, 0, 128, 64 * 49, 576},
        {"conv3 weight grad", 0, 1, 128, 576, 64 * 49},  {"conv3 input grad", 1, 0, 576, 64 * 49, 128},
        {"square 512", 0, 0, 512, 512, 512},
    };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int M = shapes[s].M, N = shapes[s].N, K = shapes[s].K;
        float *A = malloc(sizeof(float) * (size_t)M * K), *B = malloc(sizeof(float) * (size_t)K * N);
        float *C = malloc(sizeof(float) * (size_t)M * N);
        for (size_t i = 0; i < (size_t)M * K; i++) A[i] = (float)(i % 7) * 0.01f;
        for (size_t i = 0; i < (size_t)K * N; i++) B[i] = (float)(i % 5) * 0.01f;
        double ours = time_gemm(0, shapes[s].ta, shapes[s].tb, M, N, K, A, B, C);
        double blas = time_gemm(1, shapes[s].ta, shapes[s].tb, M, N, K, A, B, C);
        printf("{\"what\":\"gemm\",\"shape\":\"%s\",\"M\":%d,\"N\":%d,\"K\":%d,\"ours_gflops\":%.1f,\"openblas_gflops\":%.1f,"
               "\"threads\":%d,\"kernel\":\"%s\"}\n",
               shapes[s].what, M, N, K, ours, blas, par_max_threads(), gemm_kernel_name());
        free(A), free(B), free(C);
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 5 && !strcmp(argv[1], "train")) return bench_train(argv[2], atoi(argv[3]), atoi(argv[4]));
    if (argc >= 4 && !strcmp(argv[1], "infer")) return bench_infer(argv[2], atoi(argv[3]));
    if (argc >= 2 && !strcmp(argv[1], "gemm")) return bench_gemm();
    if (argc >= 6 && !strcmp(argv[1], "finetune")) return bench_finetune(argv[2], argv[3], argv[4], atoi(argv[5]));
    fprintf(stderr, "usage: bench train ARCH BATCH STEPS | infer MODEL N | gemm\n");
    return 2;
}
