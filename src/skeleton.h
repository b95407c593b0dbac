/* skeleton.h - MNIST digits traced into pen strokes.
 *
 * A scanned digit has no strokes, but its ink has a centre line. The image
 * is doubled in size (bilinear), thresholded, thinned to a one-pixel
 * skeleton (Zhang & Suen 1984), and the skeleton is walked into polylines:
 * from an end point where there is one, each step to an unvisited
 * neighbour, a new polyline where the walk stops. Each polyline is smoothed
 * by a three-point average. Drawn with the page's brush (src/ink.c) the
 * strokes give the digit as the page would show it if its writer had drawn
 * it there: uniform, anti-aliased strokes whose width depends on the size of
 * the drawing, not on the scanner.
 */
#ifndef SKELETON_H
#define SKELETON_H

#include <stdint.h>

#include "ink.h"
#include "pen.h"

/* img: 28×28 bytes, ink high. The strokes go into out (cleared first), in
 * 28×28 pixel coordinates, y down. Returns the number of strokes (0 for a
 * blank image), or -1 when out is full or out of memory. */
int skeleton_trace(const uint8_t *img, ink_t *out, char *err);

/* The images idx[0..n) of pixels (28×28 each) traced into a pen set (one
 * digit each, writer 1, y down, labels from labels[idx[i]]), for
 * pen_render_set() with flip_y = 0 and writers PEN_WRITER_ANY. Blank images
 * are skipped. Returns 0, or -1. */
#define PEN_WRITER_ANY 0xFFFFFFFEu
int skeleton_set(const uint8_t *pixels, const uint8_t *labels, const int *idx, int n, pen_set *out, char *err);

#endif
