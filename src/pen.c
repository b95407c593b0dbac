#include "pen.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "preprocess.h"

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

int pen_format(const ink_t *ink, char **text, size_t *len, char *err) {
    const size_t cap = 1 + (size_t)ink->n_strokes * 20 + (size_t)ink->n_pt * 34;
    char *t = malloc(cap);
    if (!t) return set_error(err, "out of memory writing strokes");
    size_t n = 0;
    t[0] = 0;
    for (int s = 0; s < ink->n_strokes; s++) {
        int k;
        const ink_point *p = ink_stroke(ink, s, &k);
        n += (size_t)snprintf(t + n, cap - n, ".PEN_DOWN\n");
        for (int i = 0; i < k; i++) n += (size_t)snprintf(t + n, cap - n, "%.9g %.9g\n", (double)p[i].x, (double)p[i].y);
        n += (size_t)snprintf(t + n, cap - n, ".PEN_UP\n");
    }
    *text = t, *len = n;
    return 0;
}

int pen_strokes(const pen_set *set, ink_t *out, char *err) {
    for (int b = 0; b < set->n_blocks; b++) {
        const int a = b ? set->block_end[b - 1] : 0;
        /* a file of empty blocks has no points (pt is NULL), and NULL + 0 is undefined in C */
        if (ink_add_stroke(out, set->pt ? set->pt + a : NULL, set->block_end[b] - a, err)) return -1;
    }
    return 0;
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

int pen_place_random(const pen_set *set, int i, int flip_y, int w, int h, int small, rng_t *r, ink_t *out, char *err) {
    float x0, y0, x1, y1;
    if (i < 0 || i >= set->n_digits || pen_box(set, i, &x0, &y0, &x1, &y1)) return set_error(err, "digit %d has no points", i);
    const float margin = INK_BRUSH_RADIUS + 2, dw = fmaxf(x1 - x0, 1.0f), dh = fmaxf(y1 - y0, 1.0f);
    float height = (small ? rng_range(r, PEN_SMALL_LO, PEN_SMALL_HI) : rng_range(r, PEN_HEIGHT_LO, PEN_HEIGHT_HI)) * (float)h;
    /* within the canvas, a brush's width to spare on every side */
    height = fminf(height, (float)h - 2 * margin);
    height = fminf(height, ((float)w - 2 * margin) * dh / dw);
    const float width = dw * height / dh;
    const float x = margin + rng_uniform(r) * ((float)w - 2 * margin - width);
    const float y = margin + rng_uniform(r) * ((float)h - 2 * margin - height);
    return pen_place(set, i, flip_y, height, x, y, out, err);
}

/* ---- training images ----------------------------------------------------------------------- */

#ifndef PEN_RENDER_MAX
#define PEN_RENDER_MAX 84.0f
#endif

void pen_aug_defaults(pen_aug_params *p) {
    p->rotate_deg = 8.0f;
    p->shear = 0.15f;
    p->aspect = 0.1f;
    p->height_lo = 60.0f;
    p->height_hi = 300.0f;
    p->flag_prob = p->base_prob = p->bar_prob = 0.0f;
}

/* the points of ink, all strokes, lie within 12% of their extent of the line through the first and last */
static int straight_ink(const ink_t *ink) {
    if (ink->n_pt < 2) return 1;
    const ink_point a = ink->pt[0], b = ink->pt[ink->n_pt - 1];
    const float dx = b.x - a.x, dy = b.y - a.y, len = sqrtf(dx * dx + dy * dy);
    if (len < 1e-3f) return 0;
    for (int k = 1; k < ink->n_pt - 1; k++)
        if (fabsf((ink->pt[k].x - a.x) * dy - (ink->pt[k].y - a.y) * dx) / len > 0.12f * len) return 0;
    return 1;
}

/* Styles MNIST lacks, drawn onto a 1 or a 7 (ink in y-down coordinates, its box x0..y1): a flag or a
 * base on a straight 1, a crossbar through a 7 of one stroke. Returns -1 when ink is full. */
static int add_style(ink_t *ink, int label, const pen_aug_params *p, rng_t *r, float x0, float y0, float x1, float y1,
                     char *err) {
    const float H = y1 - y0, W = fmaxf(x1 - x0, 0.2f * H);
    if (label == 1 && ink->n_strokes == 1 && straight_ink(ink)) {
        const ink_point a = ink->pt[0], b = ink->pt[ink->n_pt - 1], top = a.y < b.y ? a : b, bot = a.y < b.y ? b : a;
        if (rng_uniform(r) < p->flag_prob) {
            const float th = rng_range(r, 25.0f, 60.0f) * 0.0174532925f, len = rng_range(r, 0.25f, 0.55f) * H;
            const ink_point flag[2] = {{top.x - len * cosf(th), top.y + len * sinf(th)}, top};
            if (ink_add_stroke(ink, flag, 2, err)) return -1;
        }
        if (rng_uniform(r) < p->base_prob) {
            const float half = rng_range(r, 0.15f, 0.3f) * H;
            const ink_point base[2] = {{bot.x - half, bot.y}, {bot.x + half, bot.y}};
            if (ink_add_stroke(ink, base, 2, err)) return -1;
        }
    }
    if (label == 7 && ink->n_strokes == 1 && rng_uniform(r) < p->bar_prob) {
        /* the stem where it crosses a height 45-60% down: the rightmost crossing there */
        const float ym = y0 + rng_range(r, 0.45f, 0.6f) * H;
        float xm = -INFINITY;
        for (int k = 1; k < ink->n_pt; k++) {
            const ink_point a = ink->pt[k - 1], b = ink->pt[k];
            if ((a.y - ym) * (b.y - ym) > 0 || a.y == b.y) continue;
            xm = fmaxf(xm, a.x + (b.x - a.x) * (ym - a.y) / (b.y - a.y));
        }
        if (xm > -INFINITY) {
            const float l = rng_range(r, 0.15f, 0.3f) * W, rr = rng_range(r, 0.12f, 0.25f) * W, tilt = rng_range(r, -0.05f, 0.05f);
            const ink_point bar[2] = {{xm - l, ym + tilt * l}, {xm + rr, ym - tilt * rr}};
            if (ink_add_stroke(ink, bar, 2, err)) return -1;
        }
    }
    return 0;
}

int pen_render_input(const pen_set *set, int i, int flip_y, const pen_aug_params *p, rng_t *r, float *out, char *err) {
    float x0, y0, x1, y1;
    if (i < 0 || i >= set->n_digits || pen_box(set, i, &x0, &y0, &x1, &y1)) return set_error(err, "digit %d has no points", i);
    const pen_digit *d = &set->digit[i];
    /* A = rotation · shear · aspect, about the box's centre, y already down */
    const float th = rng_range(r, -p->rotate_deg, p->rotate_deg) * 0.0174532925f, sh = rng_range(r, -p->shear, p->shear);
    const float asp = rng_range(r, -p->aspect, p->aspect), cs = cosf(th), sn = sinf(th);
    const float sx = 1.0f + asp, sy = 1.0f - asp;
    const float a00 = cs * sx, a01 = (cs * sh - sn) * sy, a10 = sn * sx, a11 = (sn * sh + cs) * sy;
    const float cx = 0.5f * (x0 + x1), cy = 0.5f * (y0 + y1);
    ink_t ink;
    ink_init(&ink);
    int rc = 0;
    float bx0 = INFINITY, by0 = INFINITY, bx1 = -INFINITY, by1 = -INFINITY;
    for (int b = d->block0; b < d->block0 + d->blocks && !rc; b++) {
        const int a = b ? set->block_end[b - 1] : 0, n = set->block_end[b] - a;
        for (int k = 0; k < n && !rc; k++) {
            const float u = set->pt[a + k].x - cx, v = flip_y ? cy - set->pt[a + k].y : set->pt[a + k].y - cy;
            const float px = a00 * u + a01 * v, py = a10 * u + a11 * v;
            bx0 = fminf(bx0, px), bx1 = fmaxf(bx1, px), by0 = fminf(by0, py), by1 = fmaxf(by1, py);
            rc = (k == 0 ? ink_begin(&ink, px, py, err) : ink_extend(&ink, px, py, err)) < 0;
        }
    }
    if (!rc && (p->flag_prob > 0 || p->base_prob > 0 || p->bar_prob > 0)) {
        rc = add_style(&ink, d->label, p, r, bx0, by0, bx1, by1, err) != 0;
        for (int k = 0; k < ink.n_pt; k++) /* a flag or a base may reach past the box */
            bx0 = fminf(bx0, ink.pt[k].x), bx1 = fmaxf(bx1, ink.pt[k].x), by0 = fminf(by0, ink.pt[k].y), by1 = fmaxf(by1, ink.pt[k].y);
    }
    /* scale to a height drawn in [height_lo, height_hi] and draw into a canvas just large enough.
     * Drawings taller than PEN_RENDER_MAX are drawn smaller, brush and all: the same shapes at a
     * resolution still four times the 20 pixels preprocessing keeps, for a tenth of the work */
    const float height = rng_range(r, p->height_lo, p->height_hi), shrink = fminf(1.0f, PEN_RENDER_MAX / height);
    const float s = height * shrink / fmaxf(by1 - by0, 1e-3f), radius = INK_BRUSH_RADIUS * shrink;
    const float margin = radius + 3;
    const int w = (int)ceilf((bx1 - bx0) * s + 2 * margin), h = (int)ceilf((by1 - by0) * s + 2 * margin);
    const float ox = rng_uniform(r), oy = rng_uniform(r); /* where the pixel grid falls */
    for (int k = 0; k < ink.n_pt; k++)
        ink.pt[k].x = (ink.pt[k].x - bx0) * s + margin + ox, ink.pt[k].y = (ink.pt[k].y - by0) * s + margin + oy;
    uint8_t *canvas = rc || w > 4096 || h > 4096 ? NULL : calloc((size_t)(w + 1) * (size_t)(h + 1), 1);
    if (!rc && !canvas) rc = set_error(err, "digit %d: no memory for a %dx%d canvas", i, w, h);
    if (!rc) {
        ink_draw(canvas, w + 1, h + 1, w + 1, 0, 0, &ink, 0, ink.n_strokes, radius);
        if (preprocess_canvas(out, canvas, w + 1, h + 1, w + 1, NULL) != PREPROCESS_OK)
            rc = set_error(err, "digit %d left no ink", i);
    }
    free(canvas);
    ink_free(&ink);
    return rc ? -1 : 0;
}

int pen_render_set(const pen_set *set, uint32_t writers, int flip_y, int copies, const pen_aug_params *p,
                   uint64_t seed, uint8_t *pixels, uint8_t *labels, int max, char *err) {
    int *which = malloc(sizeof(int) * (size_t)(set->n_digits ? set->n_digits : 1)), n = 0;
    if (!which) return set_error(err, "out of memory");
    for (int i = 0; i < set->n_digits; i++)
        if (pen_in(writers, set->digit[i].writer) && set->digit[i].label >= 0) which[n++] = i;
    const long total = (long)n * copies;
    if (!pixels || total > max) {
        free(which);
        return pixels ? set_error(err, "%ld pen images do not fit in %d", total, max) : (int)total;
    }
    int failed = 0;
    char first[ERR_LEN] = "";
#pragma omp parallel for schedule(dynamic, 16) reduction(| : failed)
    for (long k = 0; k < total; k++) {
        float x[IMG_PIXELS];
        char e[ERR_LEN];
        rng_t r = rng_derive(seed, (uint64_t)k);
        const int i = which[k / copies];
        if (pen_render_input(set, i, flip_y, p, &r, x, e)) {
            failed = 1;
#pragma omp critical
            if (!first[0]) memcpy(first, e, sizeof first);
            continue;
        }
        for (int j = 0; j < IMG_PIXELS; j++) pixels[(size_t)k * IMG_PIXELS + j] = (uint8_t)lroundf(255.0f * x[j]);
        labels[k] = (uint8_t)set->digit[i].label;
    }
    free(which);
    if (failed) return set_error(err, "%s", first);
    return (int)total;
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

int pen_eval_place(const pen_set *set, int i, int flip_y, int small, uint64_t seed, ink_t *out, char *err) {
    rng_t r = rng_derive(seed, (uint64_t)i);
    return pen_place_random(set, i, flip_y, PEN_CANVAS_W, PEN_CANVAS_H, small, &r, out, err);
}

int pen_evaluate(model_t *m, workspace_t *ws, const pen_set *set, uint32_t writers, int flip_y, int small, uint64_t seed,
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
        if (pen_eval_place(set, i, flip_y, small, seed, &ink, err)) {
            rc = -1;
            break;
        }
        ink_render(canvas, PEN_CANVAS_W, PEN_CANVAS_H, &ink);
        if (reader_read_ink(m, ws, &ink, PEN_CANVAS_W, PEN_CANVAS_H, 0, NULL, rd, err)) {
            rc = -1;
            break;
        }
        seen |= 1u << d->writer;
        const int ok = rd->n == 1 && rd->digit[0] == d->label;
        out->n++, out->class_n[d->label]++;
        out->right += ok, out->class_right[d->label] += ok;
        out->sure_right += ok && sure(rd);
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

/* ---- numbers ------------------------------------------------------------------------------ */

int pen_compose_number(const pen_set *set, const int *which, int len, float gap_lo, float gap_hi, int small, rng_t *r,
                       ink_t *out, int *first, char *err) {
    enum { MAX_LEN = 16 };
    ink_clear(out);
    if (len < 1 || len > MAX_LEN || gap_hi < gap_lo) return set_error(err, "a number of 1..16 digits, gap_lo <= gap_hi");
    float bw[MAX_LEN], bh[MAX_LEN], f[MAX_LEN], gap[MAX_LEN], dy[MAX_LEN];
    const float r2 = 2 * INK_BRUSH_RADIUS, margin = INK_BRUSH_RADIUS + 4;
    for (int i = 0; i < len; i++) {
        float x0, y0, x1, y1;
        if (which[i] < 0 || which[i] >= set->n_digits || pen_box(set, which[i], &x0, &y0, &x1, &y1))
            return set_error(err, "digit %d has no points", which[i]);
        bw[i] = x1 - x0, bh[i] = fmaxf(y1 - y0, 1.0f);
        f[i] = rng_range(r, 0.85f, 1.15f);
        gap[i] = i ? rng_range(r, gap_lo, gap_hi) / PREPROCESS_BOX : 0.0f; /* in units of H */
        dy[i] = rng_range(r, -0.168f, 0.168f);
    }
    /* the height H: drawn, then lowered until the ink fits; widths and gaps scale with it, the brush does not */
    float H = small ? rng_range(r, PEN_NUMBER_SMALL_LO, PEN_NUMBER_SMALL_HI) : rng_range(r, PEN_NUMBER_H_LO, PEN_NUMBER_H_HI);
    for (int tries = 0; tries < 64; tries++, H *= 0.95f) {
        float wsum = 0.0f, top = 0.0f, bottom = 0.0f;
        for (int i = 0; i < len; i++) {
            wsum += bw[i] / bh[i] * H * f[i] + r2 + gap[i] * H;
            top = fminf(top, dy[i] * H - 0.5f * f[i] * H), bottom = fmaxf(bottom, dy[i] * H + 0.5f * f[i] * H);
        }
        if (wsum + 2 * margin <= PEN_WIDE_W && bottom - top + r2 + 2 * margin <= PEN_CANVAS_H) break;
    }
    float x = margin;
    const float mid = 0.5f * PEN_CANVAS_H;
    for (int i = 0; i < len; i++) {
        const float h = f[i] * H, w = bw[i] / bh[i] * h;
        x += gap[i] * H;          /* between ink boxes: the brush's radius lies either side of the points */
        ink_t one;
        ink_init(&one);
        if (first) first[i] = out->n_strokes;
        int rc = pen_place(set, which[i], 1, h, x + INK_BRUSH_RADIUS, mid + dy[i] * H - 0.5f * h, &one, err);
        for (int s = 0; !rc && s < one.n_strokes; s++) {
            int n;
            const ink_point *p = ink_stroke(&one, s, &n);
            rc = ink_add_stroke(out, p, n, err);
        }
        ink_free(&one);
        if (rc) return -1;
        x += w + r2;
    }
    if (first) first[len] = out->n_strokes;
    return 0;
}

/* each writer's labelled digits: writer w's are by[start[w - 1] .. start[w]); the writers that have
 * some go into cand. Returns how many writers, or -1 for no memory (*by is malloc'd). */
typedef struct {
    int *by, start[PEN_MAX_WRITERS + 1], cand[PEN_MAX_WRITERS], n;
} writer_index;

static int index_writers(const pen_set *set, uint32_t writers, writer_index *x) {
    memset(x, 0, sizeof *x);
    if (!(x->by = malloc(sizeof(int) * (size_t)(set->n_digits ? set->n_digits : 1)))) return -1;
    for (int w = 1; w < PEN_MAX_WRITERS; w++) {
        x->start[w] = x->start[w - 1];
        for (int i = 0; i < set->n_digits; i++)
            if (set->digit[i].writer == w && set->digit[i].label >= 0 && pen_in(writers, w)) x->by[x->start[w]++] = i;
        if (x->start[w] > x->start[w - 1]) x->cand[x->n++] = w;
    }
    return x->n;
}

/* number q of a seeded series: a writer, 2..8 of the writer's digits (into which), their labels as text */
static int pick_number(const pen_set *set, const writer_index *x, uint64_t seed, int q, rng_t *r, int *which, char *truth) {
    *r = rng_derive(seed, (uint64_t)q);
    const int w = x->cand[rng_below(r, (uint32_t)x->n)], len = 2 + (int)rng_below(r, 7);
    for (int i = 0; i < len; i++) {
        which[i] = x->by[x->start[w - 1] + (int)rng_below(r, (uint32_t)(x->start[w] - x->start[w - 1]))];
        truth[i] = (char)('0' + set->digit[which[i]].label);
    }
    truth[len] = 0;
    return len;
}

/* 1 when every digit of the number, its strokes (first[i] .. first[i + 1]) read alone as the one-digit
 * canvas reads them, is read as truth[i]; 0 when not; -1 on failure */
static int digits_alone_right(model_t *m, workspace_t *ws, const ink_t *ink, const int *first, const char *truth,
                              int len, ink_t *one, reading *rd, char *err) {
    for (int i = 0; i < len; i++) {
        ink_clear(one);
        for (int s = first[i]; s < first[i + 1]; s++) {
            int n;
            const ink_point *p = ink_stroke(ink, s, &n);
            if (ink_add_stroke(one, p, n, err)) return -1;
        }
        if (reader_read_ink(m, ws, one, PEN_WIDE_W, PEN_CANVAS_H, 0, NULL, rd, err)) return -1;
        if (rd->n != 1 || rd->digit[0] != truth[i] - '0') return 0;
    }
    return 1;
}

int pen_evaluate_numbers(model_t *m, workspace_t *ws, const pen_set *set, uint32_t writers, int n_seq, float gap_lo,
                         float gap_hi, int small, uint64_t seed, int *alone, char (*misses)[40], int max_miss, char *err) {
    writer_index x;
    reading *rd = malloc(sizeof *rd);
    ink_t ink, one;
    ink_init(&ink), ink_init(&one);
    const int nw = index_writers(set, writers, &x);
    if (nw < 0 || !rd) {
        free(x.by), free(rd);
        return set_error(err, "out of memory");
    }
    int right = nw ? 0 : set_error(err, "no digits of those writers"), missed = 0;
    if (alone) *alone = 0;
    for (int q = 0; q < n_seq && right >= 0; q++) {
        rng_t r;
        int which[8], first[9];
        char truth[9];
        const int len = pick_number(set, &x, seed, q, &r, which, truth);
        const int w = set->digit[which[0]].writer;
        if (pen_compose_number(set, which, len, gap_lo, gap_hi, small, &r, &ink, first, err) ||
            reader_read_ink(m, ws, &ink, PEN_WIDE_W, PEN_CANVAS_H, 1, NULL, rd, err)) {
            right = -1;
            break;
        }
        const int exact = !strcmp(rd->number, truth);
        if (exact) right++;
        else if (misses && missed < max_miss) snprintf(misses[missed++], 40, "%s>%s (writer %d)", truth, rd->number, w);
        const int a = alone ? digits_alone_right(m, ws, &ink, first, truth, len, &one, rd, err) : 0;
        if (a < 0) right = -1;
        else if (alone) *alone += a;
    }
    if (misses && missed < max_miss) misses[missed][0] = 0;
    free(x.by), free(rd);
    ink_free(&ink), ink_free(&one);
    return right;
}

int pen_number(const pen_set *set, uint32_t writers, uint64_t seed, int q, float gap_lo, float gap_hi, int small,
               ink_t *out, char *truth, char *err) {
    writer_index x;
    const int nw = index_writers(set, writers, &x);
    int rc = nw > 0 ? 0 : set_error(err, nw < 0 ? "out of memory" : "no digits of those writers");
    if (!rc) {
        rng_t r;
        int which[8];
        const int len = pick_number(set, &x, seed, q, &r, which, truth);
        rc = pen_compose_number(set, which, len, gap_lo, gap_hi, small, &r, out, NULL, err);
    }
    free(x.by);
    return rc;
}
