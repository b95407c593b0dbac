/* libFuzzer harness: pointer strokes into the page's core (emscripten/core.c),
 * as app.c feeds it from mouse and touch events, with the shipped weights.
 *
 * The input is a list of events, each an opcode byte (low 4 bits: the event,
 * high 4 bits: its argument) and its operands:
 *
 *     BEGIN_F, ADD_F     x, y as raw little-endian floats (NaN, ±inf, huge, negative)
 *     BEGIN_I16, ADD_I16 x, y as int16 pixels (off the canvas, past INK_COORD_MAX)
 *     BEGIN_U8           x = 4·b0, y = 1.5·b1: anywhere on either canvas
 *     MOVE               dx, dy int8: the pointer moves, in pixels or (arg odd) quarter pixels
 *     RUN                n, dx, dy: n % 32 + 1 such moves, a straight line
 *     QUERY              v: a view the page asks for (arg: which; v: its operand)
 *     END, UNDO, CLEAR, MULTI (arg odd: the wide canvas), UPDATE (a frame)
 *
 * so realistic strokes (a BEGIN_U8 and a few MOVEs) are as common as bad ones.
 *
 * An input is kept cheap, so that a million of them take minutes. A reading
 * (core_update() with a model: the network) is the dear part: one input in
 * READ_ONE_IN, chosen by a hash of its bytes, is read - at most MAX_READS
 * times, and once at the end. The others are drawn on the page as it is
 * before its model has arrived (core_update() only redraws; the views that
 * need the model are skipped). Either stops after MAX_EVENTS events or when
 * its strokes have stamped MAX_STAMP_* pixels of brush boxes, and one that is
 * read at MAX_STROKES_READ strokes.
 *
 * Checked after the events: what the reading holds is in range; the ink the
 * core drew stroke by stroke is the ink ink_render() draws from its strokes
 * (the page's CRC is the CLI's); and the stroke file the page saves
 * (core_strokes_text) reads back through pen_parse() to the same strokes and
 * points, exactly, as `mnist classify --strokes` reads it. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "crc32.h"
#include "fileio.h"
#include "pen.h"

#define MODEL_PATH "weights/model.bin" /* the harness runs from the repository's root */
#define MAX_EVENTS 512
#define MAX_UPDATES 4 /* frames: each may draw the whole ink again (after an undo) */
/* A reading costs 15 ms to over 1 s under the sanitizers, a drawing about 1 ms. Inputs that are read are also
 * most of what -merge=1 keeps (the reader has many features), and `make fuzz` runs every seed before
 * it starts: one input in READ_ONE_IN keeps both in bounds. */
#define READ_ONE_IN 4096
#define MAX_READS 1 /* readings (UPDATE, or the canvas as a picture) before the one at the end */
/* and the strokes of an input that is read: each may be a piece the network reads (a number of 8
 * digits; more, up to READER_MAX_STROKES, are the unit tests' business) */
#define MAX_STROKES_READ 16
/* the brush-box pixels an input may stamp (a digit drawn with the mouse is about 60,000): a number
 * of a few digits when it is read, a digit and a half when it is not */
#define MAX_STAMP_READ (CORE_MULTI_W * CORE_H)
#define MAX_STAMP_DRAW (CORE_SINGLE_W * CORE_H / 2)

enum { BEGIN_F, ADD_F, BEGIN_I16, ADD_I16, BEGIN_U8, MOVE, RUN, END, UNDO, CLEAR, MULTI, UPDATE, QUERY };
/* the 16 values of the low nibble: moves are the most common event */
static const uint8_t event_of[16] = {BEGIN_F, ADD_F,  BEGIN_I16, ADD_I16, BEGIN_U8, MOVE,  RUN,   END,
                                     UNDO,    CLEAR, MULTI,     UPDATE,  QUERY,    MOVE,  MOVE,  BEGIN_U8};

static core_t *core;
static uint8_t *canvas; /* CORE_MULTI_W × CORE_H: the ink drawn again from the strokes */

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    char err[ERR_LEN];
    uint8_t *buf;
    size_t len;
    if (file_read_all(MODEL_PATH, 16u << 20, &buf, &len, err)) {
        fprintf(stderr, "fuzz_strokes: %s (run it from the repository's root)\n", err);
        exit(1);
    }
    core = malloc(sizeof *core); /* about 2 MB: the ink and the feature mosaic */
    canvas = malloc((size_t)CORE_MULTI_W * CORE_H);
    if (!core || !canvas) {
        fprintf(stderr, "fuzz_strokes: out of memory\n");
        exit(1);
    }
    core_init(core);
    if (core_load_model(core, buf, (int)len)) {
        fprintf(stderr, "fuzz_strokes: %s\n", core->error);
        exit(1);
    }
    free(buf);
    return 0;
}

/* the operands' bytes of each event */
static const uint8_t operand_bytes[] = {[BEGIN_F] = 8, [ADD_F] = 8, [BEGIN_I16] = 4, [ADD_I16] = 4,
                                        [BEGIN_U8] = 2, [MOVE] = 2, [RUN] = 3, [QUERY] = 1};

static float f32(const uint8_t *p) {
    float v;
    memcpy(&v, p, sizeof v);
    return v;
}
static float i16(const uint8_t *p) { return (float)(int16_t)(p[0] | p[1] << 8); }

/* the pixels of the brush's box around the segment a-b: what ink_segment() visits */
static double stamp_cost(ink_point a, ink_point b, int w) {
    const double R = INK_BRUSH_RADIUS + 2;
    const double x0 = fmax(fmin(a.x, b.x) - R, 0), x1 = fmin(fmax(a.x, b.x) + R, w);
    const double y0 = fmax(fmin(a.y, b.y) - R, 0), y1 = fmin(fmax(a.y, b.y) + R, CORE_H);
    return x1 > x0 && y1 > y0 ? (x1 - x0 + 1) * (y1 - y0 + 1) : 0;
}

/* the pointer moves to (x, y) with the button down; *stamped grows by what the core drew */
static void add_point(core_t *c, float x, float y, double *stamped) {
    const int n = c->strokes.n_pt;
    core_stroke_add(c, x, y);
    if (c->strokes.n_pt > n) *stamped += stamp_cost(c->strokes.pt[n - 1], c->strokes.pt[n], c->w);
}

/* what a reading holds is in range */
static void check_reading(const core_t *c) {
    const reading *r = &c->result;
    if (r->n < 0 || r->n > READER_MAX_DIGITS || (int)strlen(r->number) != r->n) __builtin_trap();
    for (int k = 0; k < r->n; k++) {
        if (r->digit[k] < 0 || r->digit[k] >= N_CLASSES || r->number[k] != '0' + r->digit[k]) __builtin_trap();
        float sum = 0;
        for (int j = 0; j < N_CLASSES; j++) {
            if (!(r->prob[k][j] >= 0.0f && r->prob[k][j] <= 1.0f)) __builtin_trap();
            sum += r->prob[k][j];
        }
        if (fabsf(sum - 1.0f) > 1e-3f) __builtin_trap();
    }
    const char *s = core_state(c);
    if (strcmp(s, "empty") && strcmp(s, "unsure") && strcmp(s, "confident")) __builtin_trap();
    if ((r->n == 0) != !strcmp(s, "empty")) __builtin_trap();
    const char *nul = memchr(c->json, 0, sizeof c->json);
    if (!nul || nul == c->json || c->json[0] != '{' || nul[-1] != '}') __builtin_trap();
}

/* the stroke file the page saves reads back to the same strokes, point for point */
static void check_strokes_text(const core_t *c) {
    const char *text = core_strokes_text(c);
    if (!text) return; /* no memory */
    pen_set s;
    char err[ERR_LEN];
    const ink_t *ink = &c->strokes;
    if (pen_parse(&s, text, strlen(text), "core", err)) {
        if (ink->n_strokes) __builtin_trap(); /* only an empty drawing has no stroke file */
        return;
    }
    if (s.n_blocks != ink->n_strokes || s.n_pt != ink->n_pt) __builtin_trap();
    for (int b = 0; b < s.n_blocks; b++)
        if (s.block_end[b] != ink->end[b]) __builtin_trap();
    for (int i = 0; i < s.n_pt; i++)
        if (s.pt[i].x != ink->pt[i].x || s.pt[i].y != ink->pt[i].y) __builtin_trap();
    pen_free(&s);
}

/* the ink the core drew event by event is the ink drawn again from its strokes */
static void check_ink(core_t *c) {
    ink_render(canvas, c->w, CORE_H, &c->strokes);
    if (memcmp(canvas, c->ink, (size_t)c->w * CORE_H)) __builtin_trap();
}

/* what the page asks of the core besides strokes: which (0-15) picks it, v is its operand */
static void query(core_t *c, int which, int v, int *reads_left, int *scans_left) {
    switch (which % 6) {
    case 0: { /* the look-inside mosaic of a conv layer, or of one that does not exist */
        if (!c->model_ok) break;
        const int k = v % 5 - 1, n = core_conv_layers(c);
        const uint8_t *f = core_features(c, k);
        if ((f != NULL) != (k >= 0 && k < n)) __builtin_trap();
        if (f && (size_t)c->features_w * c->features_h * 4 > sizeof c->features) __builtin_trap();
        break;
    }
    case 1: { /* teach mode's input */
        if (!c->model_ok || --*scans_left < 0) break;
        const float *x = core_teach_input(c);
        for (int i = 0; x && i < IMG_PIXELS; i++)
            if (!(x[i] >= 0.0f && x[i] <= 1.0f)) __builtin_trap();
        break;
    }
    case 2: check_strokes_text(c); break;
    case 3: /* the canvas read as a picture, the way `mnist classify` reads one */
        if (*reads_left > 0) {
            --*reads_left;
            const float *p = core_classify_gray(c, c->ink, c->w, CORE_H);
            for (int j = 0; p && j < N_CLASSES; j++)
                if (!(p[j] >= 0.0f && p[j] <= 1.0f)) __builtin_trap();
        }
        break;
    case 4: /* the architecture table */
        if (c->model_ok) {
            const char *j = core_arch_json(c);
            const size_t n = strlen(j);
            if (n < 2 || j[0] != '{' || strcmp(j + n - 2, "]}")) __builtin_trap();
        }
        break;
    default: {
        const char *s = core_state(c);
        for (int k = 0; k < c->result.n; k++) {
            const float p = core_confidence(c, k);
            if (!(p >= 0.0f && p <= 1.0f) || (!strcmp(s, "confident") && p < UNSURE_BELOW)) __builtin_trap();
        }
    }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    core_t *c = core;
    /* every input starts from a blank one-digit canvas, nothing cached: a crash reproduces from its input */
    core_set_multi(c, 0);
    core_clear(c);
    reader_cache_clear(c->cache);
    /* read by the network, or drawn on the page before its model has arrived (see the top) */
    const int read = crc32_update(0, data, size) % READ_ONE_IN == 0;
    if (read) {
        core_update(c); /* reads the blank canvas: the last input's reading is gone */
        core_features(c, 0);
    } else {
        c->result.n = 0, c->model_ok = 0;
    }

    const uint8_t *p = data, *end = data + size;
    float px = 0, py = 0; /* where the pointer is */
    double stamped = 0;
    int reads_left = read ? MAX_READS : 0, updates_left = MAX_UPDATES, scans_left = 1;
    const double max_stamp = read ? MAX_STAMP_READ : MAX_STAMP_DRAW;
    for (int e = 0; e < MAX_EVENTS && stamped < max_stamp && p < end; e++) {
        const int ev = event_of[*p & 15], arg = *p++ >> 4;
        if ((size_t)(end - p) < operand_bytes[ev]) break;
        const float unit = arg & 1 ? 0.25f : 1.0f;
        switch (ev) {
        case BEGIN_F:
        case ADD_F: px = f32(p), py = f32(p + 4); break;
        case BEGIN_I16:
        case ADD_I16: px = i16(p), py = i16(p + 2); break;
        case BEGIN_U8: px = 4.0f * p[0], py = 1.5f * p[1]; break;
        case MOVE: px += unit * (int8_t)p[0], py += unit * (int8_t)p[1]; break;
        case RUN:
            for (int i = 0; i <= p[0] % 32; i++) {
                px += unit * (int8_t)p[1], py += unit * (int8_t)p[2];
                add_point(c, px, py, &stamped);
            }
            break;
        case END: core_stroke_end(c); break;
        case UNDO: core_undo(c); break;
        case CLEAR: core_clear(c); break;
        case MULTI: core_set_multi(c, arg & 1); break;
        case UPDATE:
            if (updates_left-- > 0 && (!read || reads_left-- > 0))
                if (core_update(c)) check_reading(c);
            break;
        case QUERY: query(c, arg, p[0], &reads_left, &scans_left); break;
        }
        p += operand_bytes[ev];
        if (ev == BEGIN_F || ev == BEGIN_I16 || ev == BEGIN_U8) {
            if (read && c->strokes.n_strokes >= MAX_STROKES_READ) break;
            stamped += (2 * INK_BRUSH_RADIUS + 5) * (2 * INK_BRUSH_RADIUS + 5);
            core_stroke_begin(c, px, py);
        } else if (ev == ADD_F || ev == ADD_I16 || ev == MOVE) {
            add_point(c, px, py, &stamped);
        }
    }
    core_stroke_end(c);
    if (core_update(c)) check_reading(c);
    c->model_ok = 1;
    check_ink(c);
    check_strokes_text(c);
    return 0;
}
