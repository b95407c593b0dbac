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

#endif
