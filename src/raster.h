/* raster.h - a small RGB raster to draw on: filled rectangles, anti-aliased
 * lines, text in a 5×7 pixel font, a 28×28 digit. The report's images
 * (native/report.c, saved as PNG) and the desktop app's window
 * (emscripten/app.c) are drawn with it. Colours are 0xRRGGBB; drawing is
 * clipped to the raster. */
#ifndef RASTER_H
#define RASTER_H

#include <stdint.h>

#include "error.h"

typedef struct {
    int w, h;
    uint8_t *rgb; /* w×h×3, row by row */
} raster_t;

/* a w×h raster filled with bg; -1 with a reason when out of memory */
int raster_init(raster_t *c, int w, int h, uint32_t bg, char *err);
void raster_free(raster_t *c);
void raster_rect(raster_t *c, int x, int y, int w, int h, uint32_t rgb);
void raster_line(raster_t *c, float x0, float y0, float x1, float y1, float width, uint32_t rgb);
/* text in the 5×7 font (digits, capitals - lower case maps to them - and a little punctuation), each font
 * pixel drawn scale×scale; returns the width */
int raster_text(raster_t *c, int x, int y, int scale, uint32_t rgb, const char *s);
/* a 28×28 image (0..1, ink high) drawn dark on light at (x,y), scale× */
void raster_digit(raster_t *c, int x, int y, int scale, const float *img);

#endif
