/* preprocess.h - from a drawing of any size to the image the model expects.
 *
 * MNIST digits were size-normalized to fit a 20×20 box (keeping their aspect
 * ratio, anti-aliased) and then placed in a 28×28 image with their centre of
 * mass at the centre. preprocess_canvas() does the same to a canvas, so that a
 * digit drawn small, large or off-centre reaches the network the way MNIST's
 * digits did:
 *   1. find the background (the median of the border pixels); ink is the
 *      difference from it, so dark-on-light and light-on-dark both work;
 *   2. crop to the bounding box of the ink;
 *   3. scale the crop so its longer side is 20 pixels, averaging the source
 *      area under each output pixel, and stretch its contrast to [0, 1];
 *   4. place it in 28×28 with its centre of mass at the centre.
 * A canvas with no ink is reported as blank and the output left all zero.
 */
#ifndef PREPROCESS_H
#define PREPROCESS_H

#include <stdint.h>

#define PREPROCESS_OK 0
#define PREPROCESS_BLANK 1
#define PREPROCESS_BOX 20   /* the longer side of the digit after scaling */
#define PREPROCESS_INK_MIN 40 /* ink below this (of 255) above the background is noise */

typedef struct {
    int x0, y0, x1, y1; /* ink bounding box in the canvas, inclusive */
    int dark_ink;       /* 1 when the ink was darker than the background */
    float scale;        /* output pixels per canvas pixel */
    float com_x, com_y; /* centre of mass in the output after placement */
    int box_x, box_y, box_w, box_h; /* where the ink, scaled to fit 20×20, was placed in the 28×28 output */
} preprocess_info;

/* gray: w×h bytes, row stride `stride`. out: 28×28 floats in [0, 1], ink high.
 * Returns PREPROCESS_OK, PREPROCESS_BLANK, or -1 for invalid arguments. */
int preprocess_canvas(float *out, const uint8_t *gray, int w, int h, int stride, preprocess_info *info);

/* The background level of a canvas (the median of its border pixels) and
 * whether ink on it is darker (dark_ink = 1) or lighter. Returns -1 for
 * invalid arguments. Ink is the difference from the background. */
int preprocess_background(const uint8_t *gray, int w, int h, int stride, int *dark_ink);

/* The core, for callers that already know the background (bg, dark_ink as
 * preprocess_background returns them): only pixels inside [x0, x1] × [y0, y1]
 * and, when mask is not NULL, whose mask byte is nonzero count as ink; mask
 * covers just the region: pixel (x, y) is mask[(y - y0)·mstride + (x - x0)]. */
int preprocess_region(float *out, const uint8_t *gray, int stride, const uint8_t *mask, int mstride, int x0, int y0,
                      int x1, int y1, int bg, int dark_ink, preprocess_info *info);

/* The same, for the part of a canvas given by a mask of the same size:
 * only pixels whose mask is nonzero count as ink (for segmenting a number). */
int preprocess_canvas_masked(float *out, const uint8_t *gray, const uint8_t *mask, int w, int h, int stride,
                             preprocess_info *info);

#endif
