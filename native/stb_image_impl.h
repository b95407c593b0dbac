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
/* PNG only: the format the page and the tests write, and the one tested. stb_image's other
 * decoders took a 108-byte Softimage PIC to a NULL dereference and a 54-byte BMP header to a
 * 1 GB allocation; a PNG's pixels come out of its zlib data, so a header cannot claim more
 * memory than the file's data inflates to (with the chunk check and the size limit below). */
#define STBI_ONLY_PNG
#define STBI_NO_HDR
#define STBI_NO_LINEAR
#define STBI_FAILURE_USERMSG /* "Corrupt PNG" rather than a four-letter code */
#ifndef STBI_MAX_DIMENSIONS
#define STBI_MAX_DIMENSIONS 16384
#endif
#include <stb/stb_image.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* the largest side classify reads: a photo of a page of digits, scaled to a phone's screen, and
 * 16 MB of grey at most (the page's canvas is 960x360) */
#define IMAGE_MAX_SIDE 4096

/* A PNG's chunks walked before decoding: each chunk's stated length must fit in the file (stb_image
 * would grow its buffer to that length, up to 4 GB, before noticing: found by tests/fuzz/fuzz_image.c)
 * and the walk must reach IEND (a cut file is called truncated, not decoded in part). Returns NULL
 * when the file is a whole PNG, else the reason. */
static const char *image_png_chunks_check(const uint8_t *d, size_t n) {
    static const uint8_t sig[8] = {137, 80, 78, 71, 13, 10, 26, 10};
    if (n < 8 || memcmp(d, sig, 8) != 0) return "not a PNG file (PNG is the one format read)";
    size_t p = 8;
    while (n - p >= 12) {
        uint32_t len = (uint32_t)d[p] << 24 | (uint32_t)d[p + 1] << 16 | (uint32_t)d[p + 2] << 8 | d[p + 3];
        if (len > n - p - 12) return "truncated PNG: a chunk runs past the end of the file";
        if (!memcmp(d + p + 4, "IEND", 4)) return NULL;
        p += 12 + (size_t)len;
    }
    return "truncated PNG: the file ends before its IEND chunk";
}

/* decodes a PNG in memory to 8-bit grey; NULL with *why on failure */
static uint8_t *image_load_grey(const uint8_t *d, size_t n, int *w, int *h, const char **why) {
    static char reason[96];
    int ch;
    if (n > 0x7fffffff) return *why = "file too large", (uint8_t *)NULL;
    if ((*why = image_png_chunks_check(d, n)) != NULL) return NULL;
    if (!stbi_info_from_memory(d, (int)n, w, h, &ch)) return *why = "corrupt PNG header", (uint8_t *)NULL;
    if (*w < 1 || *h < 1 || *w > IMAGE_MAX_SIDE || *h > IMAGE_MAX_SIDE) {
        snprintf(reason, sizeof reason, "%dx%d pixels: the largest side read is %d", *w, *h, IMAGE_MAX_SIDE);
        return *why = reason, (uint8_t *)NULL;
    }
    uint8_t *img = stbi_load_from_memory(d, (int)n, w, h, &ch, 1);
    if (!img) {
        const char *r = stbi_failure_reason();
        snprintf(reason, sizeof reason, "corrupt PNG (%s)", r && *r ? r : "the decoder gave no reason");
        *why = reason;
    }
    return img;
}

#endif
