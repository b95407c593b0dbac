/* reader.h - from a canvas to the digits on it: the whole pipeline the page
 * and the native tools run.
 *
 * The ink is split into connected components (8-neighbours); specks are
 * dropped; components whose horizontal extents overlap are one group (the
 * detached bar of a 5, the two strokes of a 4). reader_read() then chooses,
 * recognition-driven, how the groups become digits: it may cut a wide group
 * where digits touch, or join close groups that are one broken digit, keeping
 * the split whose pieces the network is surest of (see reader.c). Each digit
 * goes through the same preprocessing and model as a single one.
 */
#ifndef READER_H
#define READER_H

#include <stdint.h>

#include "ink.h"
#include "model.h"
#include "preprocess.h"

#define READER_MAX_DIGITS 12
#define READER_MAX_STROKES 64 /* strokes read; a drawing with more is read on its first 64 */
/* a reading is "not sure" when a digit's calibrated probability is below this */
#define UNSURE_BELOW 0.90f

typedef struct {
    int n;                                 /* digits found; 0 when the canvas is blank */
    int digit[READER_MAX_DIGITS];          /* most probable class of each, left to right */
    float prob[READER_MAX_DIGITS][N_CLASSES];
    preprocess_info info[READER_MAX_DIGITS];
    float input[READER_MAX_DIGITS][IMG_PIXELS]; /* the 28×28 image the model saw */
    char number[READER_MAX_DIGITS + 1];    /* the digits as text */
    int truncated;                         /* strokes past READER_MAX_STROKES were left out */
    int dots;                              /* from strokes: only dots were drawn (taps), so n is 0 */
} reading;

/* Every reader_* function that can fail returns -1 and says why in err
 * (ERR_LEN bytes, may be NULL; error.h): invalid arguments or no memory. A
 * blank canvas is not a failure: it reads as no digits. */

/* The first stage alone: splits the canvas into groups of ink, the candidate
 * digits (reader_read may still cut or join them). labels (w×h, caller's; may be NULL) gets, for
 * each pixel, 1 + the index of its digit or 0 (at the resolution of 2×2-pixel
 * cells, on which the components are found). boxes gets each digit's box.
 * Returns the number of digits (at most max), or -1. */
int reader_segment(const uint8_t *gray, int w, int h, int stride, uint8_t *labels, preprocess_info *boxes, int max,
                   char *err);

/* Segments, preprocesses and classifies. ws must allow a batch of 1.
 * Returns 0 or -1. */
int reader_read(model_t *m, workspace_t *ws, const uint8_t *gray, int w, int h, int stride, reading *out, char *err);

/* The same with cuts = 0: groups may be joined but never cut, so a single
 * digit costs one forward pass (the page's one-digit canvas). */
int reader_read_cuts(model_t *m, workspace_t *ws, const uint8_t *gray, int w, int h, int stride, int cuts,
                     reading *out, char *err);

/* Every piece the search classifies, as it is classified: its ink box on the
 * canvas, the 28×28 input the model saw and the model's probabilities. */
typedef struct {
    const preprocess_info *info;
    const float *input, *prob;
} reader_piece;
typedef void (*reader_piece_fn)(void *ctx, const reader_piece *piece);

/* reader_read_cuts() that also calls piece(ctx, …) for every piece tried
 * (piece may be NULL): training mines pieces that are not one digit. */
int reader_read_pieces(model_t *m, workspace_t *ws, const uint8_t *gray, int w, int h, int stride, int cuts,
                       reader_piece_fn piece, void *ctx, reading *out, char *err);

/* The same from the strokes themselves, which the page and the desktop app
 * have and an image does not: which ink belongs to which stroke and in what
 * order the strokes came. Digits are runs of consecutive strokes close in
 * space (a stroke that comes back to a digit written earlier - the bar of a
 * 5 added at the end - is read with that digit), chosen by the same
 * recognition-driven search; with cuts, a stroke that runs through two
 * digits may also be cut where its two parts' columns overlap least. Each
 * piece is drawn alone with the page's brush (src/ink.c) on a w×h canvas -
 * ink off the canvas does not count - and preprocessed as a drawing is.
 * Digits come out left to right. Strokes with no points and specks far from
 * the rest are left out; strokes past READER_MAX_STROKES too (out->truncated).
 * A drawing of dots alone (taps) reads as no digits, with out->dots set.
 *
 * cache (may be NULL) keeps the pieces read, keyed on their points and the
 * weights: a drawing that grows stroke by stroke, as on the page, is read
 * again drawing and classifying only the pieces its last stroke changed. */
typedef struct reader_cache reader_cache;
reader_cache *reader_cache_new(char *err); /* NULL when out of memory */
void reader_cache_free(reader_cache *c);
void reader_cache_clear(reader_cache *c);
int reader_read_ink(model_t *m, workspace_t *ws, const ink_t *ink, int w, int h, int cuts, reader_cache *cache,
                    reading *out, char *err);

#endif
