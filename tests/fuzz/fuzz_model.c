/* libFuzzer harness: the model loader, then a forward pass of what it accepts.
 * Each input is tried as it is and once more with its CRC made correct, so the
 * fuzzer also reaches the checks behind the CRC (sizes, architecture, values). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crc32.h"
#include "model.h"

static void try_load(const uint8_t *data, size_t size) {
    model_t m;
    char err[ERR_LEN];
    err[0] = 0;
    if (model_load_mem(&m, data, size, err) != 0) {
        if (!err[0]) __builtin_trap(); /* every rejection says why */
        return;
    }
    if (m.n_params < 200000 && model_act_floats(&m) < 2000000) { /* keep each run fast */
        workspace_t ws;
        if (workspace_init(&ws, &m, 1, 0, err) == 0) {
            float x[IMG_PIXELS];
            for (int i = 0; i < IMG_PIXELS; i++) x[i] = (float)(i % 28) / 28.0f;
            model_predict(&m, &ws, x, 1);
            workspace_free(&ws);
        }
    }
    model_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    try_load(data, size);
    if (size >= 4 && size < (1 << 22)) {
        uint8_t *copy = malloc(size);
        if (!copy) return 0;
        memcpy(copy, data, size);
        uint32_t crc = crc32_update(0, copy, size - 4);
        for (int i = 0; i < 4; i++) copy[size - 4 + i] = (uint8_t)(crc >> (8 * i));
        try_load(copy, size);
        free(copy);
    }
    return 0;
}
