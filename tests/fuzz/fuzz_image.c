/* libFuzzer harness: what `mnist classify` does with a file - decode it with
 * image_load_grey (stb_image: PNG, BMP, GIF, JPEG, ...; PNM is left out;
 * PNG chunk lengths checked first), then segment and preprocess the canvas. */
#include <stdint.h>
#include <stdlib.h>

#include "preprocess.h"
#include "reader.h"

#define STBI_MAX_DIMENSIONS 4096 /* keeps each run small */
#include "stb_image_impl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int w, h;
    const char *why;
    if (size > (1 << 20)) return 0;
    uint8_t *img = image_load_grey(data, size, &w, &h, &why);
    if (!img) return 0;
    if ((long)w * h <= 1 << 20) {
        float x[IMG_PIXELS];
        preprocess_info info;
        int rc = preprocess_canvas(x, img, w, h, w, &info);
        if (rc == PREPROCESS_OK)
            for (int i = 0; i < IMG_PIXELS; i++)
                if (!(x[i] >= 0.0f && x[i] <= 1.0f)) __builtin_trap();
        uint8_t *labels = malloc((size_t)w * h);
        preprocess_info boxes[READER_MAX_DIGITS];
        if (labels) reader_segment(img, w, h, w, labels, boxes, READER_MAX_DIGITS, NULL);
        free(labels);
    }
    stbi_image_free(img);
    return 0;
}
