/* logreq.h - the logging endpoint's request body: a strict parser.
 *
 * The page posts one JSON object per finished drawing or correction:
 *   {
 *     "model":     "digitcnn-1-5d41a0c3",  1-64 chars of [A-Za-z0-9._:-]: which weights read it
 *     "pixels":    [0, 0, ..., 255],       exactly 784 integers 0..255: the 28x28 model input, row by row
 *     "predicted": 7,                      integer 0..9: what the model answered
 *     "probs":     [0.001, ..., 0.98],     exactly 10 numbers in [0, 1] summing to 1 +- 0.01
 *     "label":     4,                      optional, integer 0..9: the user's correction
 *     "strokes":   [[[x, y], ...], ...]    optional: the raw strokes, canvas pixels (0..4096),
 *   }                                      at most 64 strokes and 1024 points in all
 * Anything else - another field, a field twice, a wrong type or range, a
 * number written as a string, invalid UTF-8, trailing bytes - is rejected
 * with a message that says what is wrong.
 */
#ifndef LOGREQ_H
#define LOGREQ_H

#include <stddef.h>
#include <stdint.h>

#define LOGREQ_MAX_BODY 32768
#define LOGREQ_MAX_STROKES 64
#define LOGREQ_MAX_POINTS 1024
#define LOGREQ_MODEL_LEN 64

typedef struct {
    char model[LOGREQ_MODEL_LEN + 1];
    uint8_t pixels[784];
    int predicted;
    float probs[10];
    int label; /* -1 when absent */
    int n_strokes, n_points;
    int stroke_len[LOGREQ_MAX_STROKES];
    float points[LOGREQ_MAX_POINTS][2];
} log_request;

/* 0 on success; -1 with a one-line reason in err (ERR_LEN bytes) */
int logreq_parse(const char *body, size_t len, log_request *out, char *err);
/* 1 when s[0..len) is well-formed UTF-8 (no overlongs, surrogates or values above U+10FFFF) */
int utf8_valid(const unsigned char *s, size_t len);
/* the strokes back as compact JSON, for storage; returns bytes written or -1 */
int logreq_strokes_json(const log_request *r, char *buf, size_t cap);

#endif
