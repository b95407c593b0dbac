/* pen.h - real pen-drawn digits: reading them, splitting them by writer, and
 * drawing them onto the page's canvas the way a person would.
 *
 * The data is the UCI "Pen-Based Recognition of Handwritten Digits" set at
 * full resolution (native/pendigits/README.md): digits written on a tablet by
 * 30 writers, every pen sample kept, in the UNIPEN text format. pen_parse()
 * reads the subset of UNIPEN that stroke files use:
 *
 *     .SEGMENT DIGIT 6-7 ? "4"   a digit: pen-down blocks 6 to 7, label 4
 *     .COMMENT 4 12 181          label, writer, the writer's sample number
 *     .PEN_DOWN                  a stroke: one "x y" pair a line
 *      263  341
 *     .PEN_UP
 *
 * Pen-down blocks are numbered from 0 in file order; other keywords (.DT,
 * .INCLUDE, .LEXICON, ...) are skipped. A file with no .SEGMENT is one
 * drawing whose strokes are all its blocks (label -1): the stroke files of
 * `mnist classify --strokes`. Anything malformed - a number that is not one,
 * a point outside a block, a block left open, a segment naming blocks that do
 * not exist, a label or coordinate out of range - fails with the file name,
 * the line and what is wrong, and nothing is returned.
 */
#ifndef PEN_H
#define PEN_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "ink.h"
#include "rng.h"

#define PEN_COORD_MAX 100000.0   /* |x|, |y| in a stroke file */
#define PEN_MAX_POINTS (1 << 22)
#define PEN_MAX_BLOCKS (1 << 20)
#define PEN_MAX_WRITERS 32        /* writer ids 1..31 */

typedef struct {
    int label;          /* 0-9, or -1 for a drawing without a label */
    int writer, sample; /* from .COMMENT (0 when absent) */
    int block0, blocks; /* its pen-down blocks: block0 .. block0 + blocks - 1 */
} pen_digit;

typedef struct {
    ink_point *pt;   /* every point of every block, in file order (y as in the file) */
    int *block_end;  /* one past each block's last point */
    int n_pt, n_blocks;
    pen_digit *digit;
    int n_digits;
} pen_set;

/* Parses UNIPEN text (len bytes, need not end in NUL); name goes into messages. */
int pen_parse(pen_set *set, const char *text, size_t len, const char *name, char *err);
int pen_load(pen_set *set, const char *path, char *err);
void pen_free(pen_set *set);
/* A drawing as a stroke file: .PEN_DOWN, one "x y" line a point (exact: %.9g), .PEN_UP, for each
 * stroke. *text is malloc'd and NUL-terminated. Returns 0, or -1 for no memory. */
int pen_format(const ink_t *ink, char **text, size_t *len, char *err);
/* The reverse, for a stroke file: every pen-down block of set appended to out as a stroke, its
 * points as they are (canvas pixels). Returns 0, or -1 with a reason when out is full. */
int pen_strokes(const pen_set *set, ink_t *out, char *err);

/* ---- the writer split, fixed before any model was trained on these writers ----
 * Test writers are never trained or tuned on: `make eval` reports them. Dev
 * writers choose methods and constants. Train writers may be mixed into
 * training. Writer w is in the set whose mask has bit w. */
#define PEN_TEST_WRITERS 0x49249248u  /* 3, 6, 9, ..., 30 */
#define PEN_DEV_WRITERS 0x12492492u   /* 1, 4, 7, ..., 28 */
#define PEN_TRAIN_WRITERS 0x24924924u /* 2, 5, 8, ..., 29 */
static inline int pen_in(uint32_t writers, int w) { return w > 0 && w < 32 && (writers >> w & 1u); }

/* ---- placing a digit on a canvas ----
 * Digit i drawn as a person draws on the page: its strokes in order, y turned
 * down when flip_y (tablet data grows upward), scaled uniformly so that its
 * points span `height` canvas pixels, with their box's top-left corner at
 * (x, y). out is cleared first. Returns -1 when the digit has no points or out is full. */
int pen_place(const pen_set *set, int i, int flip_y, float height, float x, float y, ink_t *out, char *err);
/* the box of digit i's points (file coordinates); -1 for no points */
int pen_box(const pen_set *set, int i, float *x0, float *y0, float *x1, float *y1);

/* Where a person puts a digit on the one-digit canvas (w×h): a height drawn
 * from [PEN_HEIGHT_LO, PEN_HEIGHT_HI] of the canvas height, anywhere it fits
 * with a brush's width to spare; when small, from [PEN_SMALL_LO, PEN_SMALL_HI]
 * (a digit written small, as on a phone: 43-90 pixels of the 360, where the
 * 24-pixel brush is a quarter to a half of the digit's height). */
#define PEN_HEIGHT_LO 0.3f
#define PEN_HEIGHT_HI 0.85f
#define PEN_SMALL_LO 0.12f
#define PEN_SMALL_HI 0.25f
int pen_place_random(const pen_set *set, int i, int flip_y, int w, int h, int small, rng_t *r, ink_t *out, char *err);

/* ---- training images from pen digits ----
 * Digit i redrawn as the page would draw it, through a random affine map of
 * its points (rotation, shear, aspect), at a random height on the canvas with
 * the page's brush (so small drawings get the thick strokes they get on the
 * page), then preprocessed as the page preprocesses. */
typedef struct {
    float rotate_deg;            /* drawn from ±rotate_deg */
    float shear;                 /* x += shear·y, shear from ±shear */
    float aspect;                /* x and y scales differ by up to 1 ± aspect */
    float height_lo, height_hi;  /* canvas pixels */
    /* styles MNIST lacks, added with these probabilities: a flag on a 1 drawn as one straight stroke
     * (25-60 degrees below the horizontal, 0.25-0.55 of its height long), a base under a 1, and a
     * crossbar through a 7 drawn in one stroke */
    float flag_prob, base_prob, bar_prob;
} pen_aug_params;
void pen_aug_defaults(pen_aug_params *p); /* the styles off */
/* out: the 28×28 input (0..1); returns -1 for a digit with no ink or no memory */
int pen_render_input(const pen_set *set, int i, int flip_y, const pen_aug_params *p, rng_t *r, float *out, char *err);
/* `copies` images of every labelled digit of `writers`, as bytes, into pixels
 * (28×28 each) and labels, at most max; image k gets the stream rng_derive(seed,
 * k) whatever thread draws it. Returns how many, or -1. With pixels NULL only counts. */
int pen_render_set(const pen_set *set, uint32_t writers, int flip_y, int copies, const pen_aug_params *p,
                   uint64_t seed, uint8_t *pixels, uint8_t *labels, int max, char *err);

/* ---- reading them as the page does ---- */
#include "model.h"
#include "reader.h"

typedef struct {
    int index;                          /* the digit in the set */
    char reading[READER_MAX_DIGITS + 1]; /* what was read ("" when nothing) */
    int sure;                           /* the page showed it as sure: every digit's calibrated probability >= UNSURE_BELOW */
    uint8_t thumb[IMG_PIXELS];          /* the whole drawing as 28×28, for the contact sheet */
} pen_miss;

typedef struct {
    int n, right, sure_wrong, sure_right, writers; /* sure_right: read right and shown as sure */
    int class_n[N_CLASSES], class_right[N_CLASSES];
    int n_miss;
    pen_miss *miss; /* malloc'd: every digit read wrong */
} pen_result;

/* Draws every digit of `writers` (a writer mask) on the one-digit canvas
 * (PEN_CANVAS_W × PEN_CANVAS_H, at a place from pen_place_random with a
 * stream derived from seed and the digit's index) and reads it as the page
 * does. A digit is right when exactly its label is read. ws: batch 1. */
#define PEN_CANVAS_W 480
#define PEN_CANVAS_H 360
/* digit i where pen_evaluate() draws it: pen_place_random() with the stream rng_derive(seed, i) */
int pen_eval_place(const pen_set *set, int i, int flip_y, int small, uint64_t seed, ink_t *out, char *err);
int pen_evaluate(model_t *m, workspace_t *ws, const pen_set *set, uint32_t writers, int flip_y, int small, uint64_t seed,
                 pen_result *out, char *err);
void pen_result_free(pen_result *r);

/* ---- numbers written with one writer's digits ----
 * As compose.h composes numbers of MNIST digits, in the same units: digits
 * of one height H (MNIST's 20-pixel box) drawn at H × 0.85..1.15, moved up
 * or down by up to 0.168 H (0.12 of MNIST's 28-pixel frame), with gaps
 * between their ink boxes drawn from [gap_lo, gap_hi] MNIST pixels (of 20
 * to H): compose.h's apart and touching ranges. H is drawn from
 * [PEN_NUMBER_H_LO, PEN_NUMBER_H_HI] canvas pixels (when small, from
 * [PEN_NUMBER_SMALL_LO, PEN_NUMBER_SMALL_HI]), and lowered until the
 * number fits the wide canvas (PEN_WIDE_W × PEN_CANVAS_H). The strokes go
 * into out digit by digit, left to right, as a person writes; first (len + 1
 * ints, may be NULL) gets the index of each digit's first stroke in out, and
 * then out's stroke count. */
#define PEN_WIDE_W 960
#define PEN_NUMBER_H_LO 100.0f
#define PEN_NUMBER_H_HI 200.0f
#define PEN_NUMBER_SMALL_LO 50.0f /* when small: a number written small */
#define PEN_NUMBER_SMALL_HI 90.0f
int pen_compose_number(const pen_set *set, const int *which, int len, float gap_lo, float gap_hi, int small, rng_t *r,
                       ink_t *out, int *first, char *err);
/* Number q of the series pen_evaluate_numbers() reads (seed, writers, gaps), composed into out;
 * truth (9 bytes) gets its digits. Returns 0, or -1. */
int pen_number(const pen_set *set, uint32_t writers, uint64_t seed, int q, float gap_lo, float gap_hi, int small,
               ink_t *out, char *truth, char *err);
/* Reads n_seq numbers of 2..8 digits, each from one writer of `writers`
 * (chosen at random), composed by pen_compose_number, from strokes on the wide
 * canvas as the page does. Returns how many were read exactly, or -1; when
 * misses is not NULL, up to max_miss "truth>read" strings go there.
 * alone (may be NULL) gets how many numbers would be read exactly if the
 * reader knew which strokes make each digit: every digit's own strokes, read
 * alone as the one-digit canvas reads a drawing, read right. It bounds what
 * grouping strokes can do; the rest is the reading of single digits. */
int pen_evaluate_numbers(model_t *m, workspace_t *ws, const pen_set *set, uint32_t writers, int n_seq, float gap_lo,
                         float gap_hi, int small, uint64_t seed, int *alone, char (*misses)[40], int max_miss, char *err);

#endif
