#include "pen.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"

#define PEN_MAX_FILE_BYTES (256u << 20)

/* ---- parsing ---------------------------------------------------------------------- */

typedef struct {
    pen_set *set;
    int cap_pt, cap_blocks, cap_digits, cap_lines;
    int *seg_line; /* the line of each segment, for messages about it */
    const char *name;
    int line;
    char *err;
} parser_t;

static int fail(parser_t *p, const char *what) {
    return set_error(p->err, "%s:%d: %s", p->name, p->line, what);
}

static int grow(void **buf, int *cap, int need, size_t elem) {
    if (need <= *cap) return 0;
    int c = *cap ? *cap : 1024;
    while (c < need) c *= 2;
    void *b = realloc(*buf, (size_t)c * elem);
    if (!b) return -1;
    *buf = b, *cap = c;
    return 0;
}

/* the whitespace-separated words of [s, e): up to max of them as [start, end) pairs; returns how
 * many there are (which may be more than max) */
typedef struct {
    const char *s, *e;
} span_t;

static int words(const char *s, const char *e, span_t *w, int max) {
    int n = 0;
    while (s < e) {
        while (s < e && (*s == ' ' || *s == '\t')) s++;
        if (s == e) break;
        const char *t = s;
        while (t < e && *t != ' ' && *t != '\t') t++;
        if (n < max) w[n] = (span_t){s, t};
        n++;
        s = t;
    }
    return n;
}

/* a number that is all of [s, e), into *v; -1 when it is not one */
static int number(span_t t, double *v) {
    char buf[48];
    size_t n = (size_t)(t.e - t.s);
    if (n == 0 || n >= sizeof buf) return -1;
    memcpy(buf, t.s, n);
    buf[n] = 0;
    char *end;
    errno = 0;
    *v = strtod(buf, &end);
    return *end || errno || !isfinite(*v) ? -1 : 0;
}

static int integer(span_t t, long lo, long hi, int *v) {
    double d;
    if (number(t, &d) || d != floor(d) || d < (double)lo || d > (double)hi) return -1;
    *v = (int)d;
    return 0;
}

/* ".SEGMENT DIGIT 6-7 ? "4"": a new digit (w[0] is the keyword) */
static int parse_segment(parser_t *p, const span_t *w, int n) {
    if (n < 4 || n > 5) return fail(p, ".SEGMENT needs its level, its pen-down blocks, perhaps a quality, and a label");
    const char *dash = memchr(w[2].s, '-', (size_t)(w[2].e - w[2].s));
    int a0, a1;
    if (integer((span_t){w[2].s, dash ? dash : w[2].e}, 0, PEN_MAX_BLOCKS - 1, &a0) ||
        integer((span_t){dash ? dash + 1 : w[2].s, w[2].e}, 0, PEN_MAX_BLOCKS - 1, &a1) || a1 < a0)
        return fail(p, ".SEGMENT: the blocks must be N or A-B with 0 <= A <= B");
    const span_t q = w[n - 1]; /* the label, in quotes */
    if (q.e - q.s != 3 || q.s[0] != '"' || q.s[2] != '"' || q.s[1] < '0' || q.s[1] > '9')
        return fail(p, ".SEGMENT: the label must be one digit 0-9 in quotes, as \"7\"");
    pen_set *set = p->set;
    if (grow((void **)&set->digit, &p->cap_digits, set->n_digits + 1, sizeof *set->digit) ||
        grow((void **)&p->seg_line, &p->cap_lines, set->n_digits + 1, sizeof(int)))
        return fail(p, "out of memory");
    set->digit[set->n_digits] = (pen_digit){q.s[1] - '0', 0, 0, a0, a1 - a0 + 1};
    p->seg_line[set->n_digits++] = p->line;
    return 0;
}

/* ".COMMENT 4 12 181": label, writer and sample of the segment before it; free text otherwise */
static int parse_comment(parser_t *p, const span_t *w, int n) {
    int label, writer, sample;
    if (n != 4 || integer(w[1], 0, 9, &label) || integer(w[2], -2147483647L, 2147483647L, &writer) ||
        integer(w[3], 0, 2147483647L, &sample) || p->set->n_digits == 0)
        return 0;
    pen_digit *d = &p->set->digit[p->set->n_digits - 1];
    if (label != d->label) return fail(p, ".COMMENT gives another label than its .SEGMENT");
    if (writer < 1 || writer >= PEN_MAX_WRITERS) return fail(p, ".COMMENT: the writer must be 1..31");
    d->writer = writer, d->sample = sample;
    return 0;
}

static int parse_point(parser_t *p, const span_t *w, int n, int in_block) {
    if (!in_block) return fail(p, "a point outside .PEN_DOWN ... .PEN_UP");
    double x, y;
    if (n != 2 || number(w[0], &x) || number(w[1], &y)) return fail(p, "a point must be two numbers, \"x y\"");
    if (fabs(x) > PEN_COORD_MAX || fabs(y) > PEN_COORD_MAX) return fail(p, "a coordinate is out of range (|v| <= 100000)");
    pen_set *set = p->set;
    if (set->n_pt >= PEN_MAX_POINTS) return fail(p, "too many points");
    if (grow((void **)&set->pt, &p->cap_pt, set->n_pt + 1, sizeof *set->pt)) return fail(p, "out of memory");
    set->pt[set->n_pt++] = (ink_point){(float)x, (float)y};
    return 0;
}

static int is(span_t t, const char *kw) { return (size_t)(t.e - t.s) == strlen(kw) && !memcmp(t.s, kw, strlen(kw)); }

static int parse_lines(parser_t *p, const char *text, size_t len) {
    pen_set *set = p->set;
    int in_block = 0, open_line = 0;
    const char *s = text, *end = text + len;
    for (p->line = 1; s < end; p->line++) {
        const char *nl = memchr(s, '\n', (size_t)(end - s)), *e = nl ? nl : end;
        const char *next = nl ? nl + 1 : end;
        if (e > s && e[-1] == '\r') e--;
        if (e > s && memchr(s, 0, (size_t)(e - s))) return fail(p, "a NUL byte: this is not a text stroke file");
        span_t w[6];
        const int n = words(s, e, w, 6);
        int rc = 0;
        if (n == 0) rc = 0;
        else if (w[0].s[0] != '.') rc = parse_point(p, w, n, in_block);
        else if (is(w[0], ".PEN_DOWN")) {
            if (in_block) rc = fail(p, ".PEN_DOWN inside a block that is still open");
            else if (set->n_blocks >= PEN_MAX_BLOCKS) rc = fail(p, "too many pen-down blocks");
            else in_block = 1, open_line = p->line;
        } else if (is(w[0], ".PEN_UP")) {
            if (!in_block) rc = fail(p, ".PEN_UP without a .PEN_DOWN");
            else if (grow((void **)&set->block_end, &p->cap_blocks, set->n_blocks + 1, sizeof(int))) rc = fail(p, "out of memory");
            else set->block_end[set->n_blocks++] = set->n_pt, in_block = 0;
        } else if (is(w[0], ".SEGMENT")) rc = parse_segment(p, w, n);
        else if (is(w[0], ".COMMENT")) rc = parse_comment(p, w, n);
        if (rc) return -1;
        s = next;
    }
    if (in_block) {
        p->line = open_line;
        return fail(p, ".PEN_DOWN is never closed by .PEN_UP (is the file truncated?)");
    }
    return 0;
}

void pen_free(pen_set *set) {
    free(set->pt), free(set->block_end), free(set->digit);
    memset(set, 0, sizeof *set);
}

int pen_parse(pen_set *set, const char *text, size_t len, const char *name, char *err) {
    memset(set, 0, sizeof *set);
    parser_t p = {set, 0, 0, 0, 0, NULL, name ? name : "strokes", 0, err};
    int rc = text ? parse_lines(&p, text, len) : set_error(err, "%s: no text", p.name);
    if (!rc && set->n_blocks == 0) rc = set_error(err, "%s: no strokes (.PEN_DOWN ... .PEN_UP)", p.name);
    for (int i = 0; !rc && i < set->n_digits; i++) {
        const pen_digit *d = &set->digit[i];
        if (d->block0 + d->blocks > set->n_blocks) {
            p.line = p.seg_line[i];
            rc = fail(&p, ".SEGMENT names pen-down blocks the file does not have");
        }
    }
    if (!rc && set->n_digits == 0) { /* a drawing: every block */
        set->digit = malloc(sizeof *set->digit);
        if (!set->digit) rc = set_error(err, "%s: out of memory", p.name);
        else set->digit[0] = (pen_digit){-1, 0, 0, 0, set->n_blocks}, set->n_digits = 1;
    }
    free(p.seg_line);
    if (rc) pen_free(set);
    return rc;
}

int pen_load(pen_set *set, const char *path, char *err) {
    uint8_t *buf;
    size_t len;
    memset(set, 0, sizeof *set);
    if (file_read_all(path, PEN_MAX_FILE_BYTES, &buf, &len, err)) return -1;
    int rc = pen_parse(set, (const char *)buf, len, path, err);
    free(buf);
    return rc;
}

/* ---- placing ------------------------------------------------------------------------ */

int pen_box(const pen_set *set, int i, float *x0, float *y0, float *x1, float *y1) {
    const pen_digit *d = &set->digit[i];
    int a = d->block0 ? set->block_end[d->block0 - 1] : 0, b = set->block_end[d->block0 + d->blocks - 1];
    if (b <= a) return -1;
    *x0 = *x1 = set->pt[a].x, *y0 = *y1 = set->pt[a].y;
    for (int k = a + 1; k < b; k++) {
        *x0 = fminf(*x0, set->pt[k].x), *x1 = fmaxf(*x1, set->pt[k].x);
        *y0 = fminf(*y0, set->pt[k].y), *y1 = fmaxf(*y1, set->pt[k].y);
    }
    return 0;
}

int pen_place(const pen_set *set, int i, int flip_y, float height, float x, float y, ink_t *out, char *err) {
    ink_clear(out);
    float x0, y0, x1, y1;
    if (i < 0 || i >= set->n_digits || pen_box(set, i, &x0, &y0, &x1, &y1)) return set_error(err, "digit %d has no points", i);
    const pen_digit *d = &set->digit[i];
    const float s = height / fmaxf(y1 - y0, 1.0f);
    for (int b = d->block0; b < d->block0 + d->blocks; b++) {
        int a = b ? set->block_end[b - 1] : 0, n = set->block_end[b] - a;
        if (n == 0 && ink_add_stroke(out, NULL, 0, err)) return -1;
        for (int k = 0; k < n; k++) {
            const ink_point q = set->pt[a + k];
            float px = x + (q.x - x0) * s, py = flip_y ? y + (y1 - q.y) * s : y + (q.y - y0) * s;
            if (k == 0 ? ink_begin(out, px, py, err) : ink_extend(out, px, py, err) < 0) return -1;
        }
    }
    return 0;
}

int pen_place_random(const pen_set *set, int i, int flip_y, int w, int h, rng_t *r, ink_t *out, char *err) {
    float x0, y0, x1, y1;
    if (i < 0 || i >= set->n_digits || pen_box(set, i, &x0, &y0, &x1, &y1)) return set_error(err, "digit %d has no points", i);
    const float margin = INK_BRUSH_RADIUS + 2, dw = fmaxf(x1 - x0, 1.0f), dh = fmaxf(y1 - y0, 1.0f);
    float height = rng_range(r, PEN_HEIGHT_LO, PEN_HEIGHT_HI) * (float)h;
    /* within the canvas, a brush's width to spare on every side */
    height = fminf(height, (float)h - 2 * margin);
    height = fminf(height, ((float)w - 2 * margin) * dh / dw);
    const float width = dw * height / dh;
    const float x = margin + rng_uniform(r) * ((float)w - 2 * margin - width);
    const float y = margin + rng_uniform(r) * ((float)h - 2 * margin - height);
    return pen_place(set, i, flip_y, height, x, y, out, err);
}

/* ---- reading them ------------------------------------------------------------------------ */

void pen_result_free(pen_result *r) {
    free(r->miss);
    memset(r, 0, sizeof *r);
}

static int sure(const reading *rd) {
    for (int k = 0; k < rd->n; k++)
        if (rd->prob[k][rd->digit[k]] < UNSURE_BELOW) return 0;
    return rd->n > 0;
}

int pen_evaluate(model_t *m, workspace_t *ws, const pen_set *set, uint32_t writers, int flip_y, uint64_t seed,
                 pen_result *out, char *err) {
    memset(out, 0, sizeof *out);
    uint8_t *canvas = malloc((size_t)PEN_CANVAS_W * PEN_CANVAS_H);
    reading *rd = malloc(sizeof *rd);
    ink_t ink;
    ink_init(&ink);
    int rc = canvas && rd ? 0 : set_error(err, "out of memory"), cap = 0;
    uint32_t seen = 0;
    for (int i = 0; !rc && i < set->n_digits; i++) {
        const pen_digit *d = &set->digit[i];
        if (!pen_in(writers, d->writer) || d->label < 0) continue;
        rng_t r = rng_derive(seed, (uint64_t)i);
        if (pen_place_random(set, i, flip_y, PEN_CANVAS_W, PEN_CANVAS_H, &r, &ink, err)) {
            rc = -1;
            break;
        }
        ink_render(canvas, PEN_CANVAS_W, PEN_CANVAS_H, &ink);
        if (reader_read_cuts(m, ws, canvas, PEN_CANVAS_W, PEN_CANVAS_H, PEN_CANVAS_W, 0, rd)) {
            rc = set_error(err, "the reader failed (out of memory?)");
            break;
        }
        seen |= 1u << d->writer;
        const int ok = rd->n == 1 && rd->digit[0] == d->label;
        out->n++, out->class_n[d->label]++;
        out->right += ok, out->class_right[d->label] += ok;
        if (ok) continue;
        out->sure_wrong += sure(rd);
        if (grow((void **)&out->miss, &cap, out->n_miss + 1, sizeof *out->miss)) {
            rc = set_error(err, "out of memory");
            break;
        }
        pen_miss *ms = &out->miss[out->n_miss++];
        ms->index = i, ms->sure = sure(rd);
        memcpy(ms->reading, rd->number, sizeof ms->reading);
        float x[IMG_PIXELS];
        preprocess_canvas(x, canvas, PEN_CANVAS_W, PEN_CANVAS_H, PEN_CANVAS_W, NULL);
        for (int k = 0; k < IMG_PIXELS; k++) ms->thumb[k] = (uint8_t)lroundf(255.0f * x[k]);
    }
    for (int w = 1; w < 32; w++) out->writers += seen >> w & 1u;
    free(canvas), free(rd);
    ink_free(&ink);
    if (rc) pen_result_free(out);
    return rc;
}
