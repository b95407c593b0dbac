/* libFuzzer harness: the IDX image and label parsers. */
#include <stdint.h>
#include <stdlib.h>

#include "idx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[ERR_LEN];
    int n, rows, cols;
    uint8_t *px, *lab;
    if (idx_parse_images(data, size, &n, &rows, &cols, &px, err) == 0) {
        if ((size_t)n * rows * cols + 16 != size) __builtin_trap(); /* accepted only when exact */
        free(px);
    } else if (!err[0] || px) {
        __builtin_trap();
    }
    if (idx_parse_labels(data, size, &n, &lab, err) == 0) {
        for (int i = 0; i < n; i++)
            if (lab[i] > 9) __builtin_trap();
        free(lab);
    }
    return 0;
}
