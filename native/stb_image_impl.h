/* stb_image_impl.h - stb_image compiled once per program, configured the way
 * `mnist classify` reads images; tests/fuzz/fuzz_image.c includes the same.
 * Include it in exactly one .c file. */
#ifndef STB_IMAGE_IMPL_H
#define STB_IMAGE_IMPL_H

#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#endif
#define STB_IMAGE_IMPLEMENTATION
#define STBI_NO_HDR
#define STBI_NO_LINEAR
/* stb_image's PNM header parser overflows a signed int on long numbers (found
 * by tests/fuzz/fuzz_image.c): PNM is left out, a PNM file is "unknown type" */
#define STBI_NO_PNM
#ifndef STBI_MAX_DIMENSIONS
#define STBI_MAX_DIMENSIONS 16384 /* what preprocessing accepts */
#endif
#include <stb/stb_image.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
#include <stdint.h>
#include <string.h>

/* A PNG chunk whose stated length runs past the end of the data makes
 * stb_image grow its buffer to that length - up to 4 GB - before it notices
 * (found by tests/fuzz/fuzz_image.c). Such files are refused before decoding:
 * returns NULL when the chunks fit (or the data is not a PNG), else the reason. */
static const char *image_png_chunks_check(const uint8_t *d, size_t n) {
    static const uint8_t sig[8] = {137, 80, 78, 71, 13, 10, 26, 10};
    if (n < 8 || memcmp(d, sig, 8) != 0) return NULL;
    size_t p = 8;
    while (n - p >= 8) {
        uint32_t len = (uint32_t)d[p] << 24 | (uint32_t)d[p + 1] << 16 | (uint32_t)d[p + 2] << 8 | d[p + 3];
        if (len > n - p - 8 || n - p - 8 - len < 4) return "a PNG chunk is longer than the rest of the file";
        if (!memcmp(d + p + 4, "IEND", 4)) return NULL;
        p += 12 + (size_t)len;
    }
    return NULL; /* truncated before IEND: stb_image reports it */
}

/* decodes an image in memory to 8-bit grey; NULL with *why on failure */
static uint8_t *image_load_grey(const uint8_t *d, size_t n, int *w, int *h, const char **why) {
    int ch;
    if (n > 0x7fffffff) return *why = "file too large", (uint8_t *)NULL;
    if ((*why = image_png_chunks_check(d, n)) != NULL) return NULL;
    uint8_t *img = stbi_load_from_memory(d, (int)n, w, h, &ch, 1);
    if (!img) *why = stbi_failure_reason();
    return img;
}

#endif
