#include "logreq.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

int utf8_valid(const unsigned char *s, size_t len) {
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        int n;
        unsigned min, cp;
        if ((c & 0xe0) == 0xc0) n = 1, min = 0x80, cp = c & 0x1f;
        else if ((c & 0xf0) == 0xe0) n = 2, min = 0x800, cp = c & 0x0f;
        else if ((c & 0xf8) == 0xf0) n = 3, min = 0x10000, cp = c & 0x07;
        else return 0;
        if (len - i <= (size_t)n) return 0; /* the sequence runs past the end */
        for (int k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80) return 0;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
        i += (size_t)n + 1;
    }
    return 1;
}

typedef struct {
    const char *start, *s, *end;
    char *err;
} parser;

/* fmt has one %s, for `what` */
static int fail(parser *p, const char *fmt, const char *what) {
    char msg[ERR_LEN];
    snprintf(msg, sizeof msg, fmt, what);
    set_error(p->err, "%s (at byte %ld)", msg, (long)(p->s - p->start));
    return -1;
}

static void ws(parser *p) {
    while (p->s < p->end && (*p->s == ' ' || *p->s == '\t' || *p->s == '\n' || *p->s == '\r')) p->s++;
}

static int expect(parser *p, char c) {
    ws(p);
    if (p->s >= p->end || *p->s != c) {
        char what[2] = {c, 0};
        return fail(p, "expected '%s'", what);
    }
    p->s++;
    return 0;
}

static int hex_digit(char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* a JSON string into buf (UTF-8); rejects control characters; cap includes the NUL */
static int string(parser *p, char *buf, size_t cap, const char *what) {
    ws(p);
    if (p->s >= p->end || *p->s != '"') return fail(p, "%s must be a string", what);
    p->s++;
    size_t n = 0;
    while (p->s < p->end && *p->s != '"') {
        unsigned char c = (unsigned char)*p->s++;
        unsigned cp = c;
        if (c < 0x20) return fail(p, "control character in %s", what);
        if (c == '\\') {
            if (p->s >= p->end) break;
            char e = *p->s++;
            switch (e) {
            case '"': cp = '"'; break;
            case '\\': cp = '\\'; break;
            case '/': cp = '/'; break;
            case 'b': cp = '\b'; break;
            case 'f': cp = '\f'; break;
            case 'n': cp = '\n'; break;
            case 'r': cp = '\r'; break;
            case 't': cp = '\t'; break;
            case 'u': {
                if (p->end - p->s < 4) return fail(p, "bad \\u escape in %s", what);
                cp = 0;
                for (int k = 0; k < 4; k++) { /* exactly four hex digits: no sign, space or "0x" */
                    const int d = hex_digit(p->s[k]);
                    if (d < 0) return fail(p, "bad \\u escape in %s (four hex digits needed)", what);
                    cp = cp << 4 | (unsigned)d;
                }
                p->s += 4;
                if (cp == 0) return fail(p, "\\u0000 (a NUL character) in %s", what);
                if (cp >= 0xd800 && cp <= 0xdfff) return fail(p, "surrogate escape in %s", what); /* not needed by any valid field */
                break;
            }
            default:
                return fail(p, "bad escape in %s", what);
            }
        }
        /* append cp (raw bytes pass through: the body is already valid UTF-8) */
        char tmp[4];
        size_t k = 0;
        if (c != '\\' || cp < 0x80) tmp[k++] = (char)(c == '\\' ? cp : c);
        else if (cp < 0x800) tmp[k++] = (char)(0xc0 | cp >> 6), tmp[k++] = (char)(0x80 | (cp & 0x3f));
        else tmp[k++] = (char)(0xe0 | cp >> 12), tmp[k++] = (char)(0x80 | (cp >> 6 & 0x3f)), tmp[k++] = (char)(0x80 | (cp & 0x3f));
        if (n + k >= cap) return fail(p, "%s is too long", what);
        memcpy(buf + n, tmp, k);
        n += k;
    }
    if (p->s >= p->end) return fail(p, "unterminated string in %s", what);
    p->s++;
    buf[n] = 0;
    return 0;
}

/* a JSON number token; *is_int tells whether it has no fraction or exponent */
static int number(parser *p, double *v, int *is_int, const char *what) {
    ws(p);
    const char *a = p->s;
    if (p->s < p->end && *p->s == '-') p->s++;
    if (p->s >= p->end || *p->s < '0' || *p->s > '9') {
        p->s = a;
        return fail(p, "%s must be a number", what);
    }
    if (*p->s == '0') p->s++;
    else
        while (p->s < p->end && *p->s >= '0' && *p->s <= '9') p->s++;
    *is_int = 1;
    if (p->s < p->end && *p->s == '.') {
        *is_int = 0;
        p->s++;
        if (p->s >= p->end || *p->s < '0' || *p->s > '9') return fail(p, "bad number in %s", what);
        while (p->s < p->end && *p->s >= '0' && *p->s <= '9') p->s++;
    }
    if (p->s < p->end && (*p->s == 'e' || *p->s == 'E')) {
        *is_int = 0;
        p->s++;
        if (p->s < p->end && (*p->s == '+' || *p->s == '-')) p->s++;
        if (p->s >= p->end || *p->s < '0' || *p->s > '9') return fail(p, "bad number in %s", what);
        while (p->s < p->end && *p->s >= '0' && *p->s <= '9') p->s++;
    }
    char tmp[64];
    size_t n = (size_t)(p->s - a);
    if (n >= sizeof tmp) return fail(p, "number too long in %s", what);
    memcpy(tmp, a, n);
    tmp[n] = 0;
    *v = strtod(tmp, NULL);
    if (!isfinite(*v)) return fail(p, "number out of range in %s", what);
    return 0;
}

static int integer(parser *p, int lo, int hi, int *out, const char *what) {
    double v;
    int is_int;
    if (number(p, &v, &is_int, what)) return -1;
    if (!is_int) return fail(p, "%s must be an integer", what);
    if (v < lo || v > hi) {
        char m[128];
        snprintf(m, sizeof m, "%%s must be %d..%d", lo, hi);
        return fail(p, m, what);
    }
    *out = (int)v;
    return 0;
}

/* true when the next non-space character is c (not consumed) */
static int peek(parser *p, char c) {
    ws(p);
    return p->s < p->end && *p->s == c;
}

static int pixels(parser *p, uint8_t *px) {
    if (expect(p, '[')) return fail(p, "%s must be an array", "pixels");
    int n = 0;
    if (!peek(p, ']'))
        for (;;) {
            int v;
            if (n == 784) return fail(p, "%s must have exactly 784 values", "pixels");
            if (integer(p, 0, 255, &v, "each pixel")) return -1;
            px[n++] = (uint8_t)v;
            if (peek(p, ',')) {
                p->s++;
                continue;
            }
            break;
        }
    if (expect(p, ']')) return -1;
    if (n != 784) return fail(p, "%s must have exactly 784 values", "pixels");
    return 0;
}

static int probs(parser *p, float *pr) {
    if (expect(p, '[')) return fail(p, "%s must be an array", "probs");
    int n = 0;
    double sum = 0;
    if (!peek(p, ']'))
        for (;;) {
            double v;
            int is_int;
            if (n == 10) return fail(p, "%s must have exactly 10 values", "probs");
            if (number(p, &v, &is_int, "each probability")) return -1;
            if (v < 0 || v > 1) return fail(p, "%s must be in [0, 1]", "each probability");
            pr[n++] = (float)v;
            sum += v;
            if (peek(p, ',')) {
                p->s++;
                continue;
            }
            break;
        }
    if (expect(p, ']')) return -1;
    if (n != 10) return fail(p, "%s must have exactly 10 values", "probs");
    if (fabs(sum - 1.0) > 0.01) return fail(p, "%s must sum to 1 (within 0.01)", "probs");
    return 0;
}

static int strokes(parser *p, log_request *r) {
    if (expect(p, '[')) return fail(p, "%s must be an array", "strokes");
    if (!peek(p, ']'))
        for (;;) {
            if (r->n_strokes == LOGREQ_MAX_STROKES) return fail(p, "more than 64 %s", "strokes");
            if (expect(p, '[')) return fail(p, "each %s must be an array of points", "stroke");
            int len = 0;
            if (!peek(p, ']'))
                for (;;) {
                    if (r->n_points == LOGREQ_MAX_POINTS) return fail(p, "more than 1024 %s", "points");
                    if (expect(p, '[')) return fail(p, "each %s must be [x, y]", "point");
                    for (int k = 0; k < 2; k++) {
                        double v;
                        int is_int;
                        if (k && expect(p, ',')) return fail(p, "each %s must be [x, y]", "point");
                        if (number(p, &v, &is_int, "a point coordinate")) return -1;
                        if (v < 0 || v > 4096) return fail(p, "%s must be 0..4096", "point coordinates");
                        r->points[r->n_points][k] = (float)v;
                    }
                    if (expect(p, ']')) return fail(p, "each %s must be [x, y]", "point");
                    r->n_points++, len++;
                    if (peek(p, ',')) {
                        p->s++;
                        continue;
                    }
                    break;
                }
            if (expect(p, ']')) return -1;
            if (len == 0) return fail(p, "empty %s", "stroke");
            r->stroke_len[r->n_strokes++] = len;
            if (peek(p, ',')) {
                p->s++;
                continue;
            }
            break;
        }
    return expect(p, ']');
}

int logreq_parse(const char *body, size_t len, log_request *r, char *err) {
    memset(r, 0, sizeof *r);
    r->label = -1;
    if (len == 0) return set_error(err, "empty body");
    if (len > LOGREQ_MAX_BODY) return set_error(err, "body over %d bytes", LOGREQ_MAX_BODY);
    if (!utf8_valid((const unsigned char *)body, len)) return set_error(err, "body is not valid UTF-8");
    if (memchr(body, 0, len)) return set_error(err, "NUL byte in body");
    char perr[ERR_LEN];
    parser p = {body, body, body + len, perr};
    enum { F_MODEL = 1, F_PIXELS = 2, F_PRED = 4, F_PROBS = 8, F_LABEL = 16, F_STROKES = 32 };
    int seen = 0;
    if (expect(&p, '{')) return set_error(err, "body must be a JSON object");
    if (!peek(&p, '}'))
        for (;;) {
            char key[32];
            if (string(&p, key, sizeof key, "a field name")) return set_error(err, "%s", perr);
            if (expect(&p, ':')) return set_error(err, "%s", perr);
            int bit = !strcmp(key, "model") ? F_MODEL : !strcmp(key, "pixels") ? F_PIXELS
                    : !strcmp(key, "predicted") ? F_PRED : !strcmp(key, "probs") ? F_PROBS
                    : !strcmp(key, "label") ? F_LABEL : !strcmp(key, "strokes") ? F_STROKES : 0;
            if (!bit) { /* quoted up to 24 bytes, cut where a UTF-8 character starts */
                int cut = (int)strlen(key);
                if (cut > 24)
                    for (cut = 24; cut > 0 && ((unsigned char)key[cut] & 0xc0) == 0x80;) cut--;
                return set_error(err, "unknown field '%.*s'", cut, key);
            }
            if (seen & bit) return set_error(err, "field '%s' appears twice", key);
            seen |= bit;
            int rc = 0;
            switch (bit) {
            case F_MODEL:
                rc = string(&p, r->model, sizeof r->model, "model");
                if (!rc && !r->model[0]) return set_error(err, "model must not be empty");
                for (const char *c = r->model; !rc && *c; c++)
                    if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || strchr("._:-", *c)))
                        return set_error(err, "model may only hold letters, digits and . _ : -");
                break;
            case F_PIXELS: rc = pixels(&p, r->pixels); break;
            case F_PRED: rc = integer(&p, 0, 9, &r->predicted, "predicted"); break;
            case F_PROBS: rc = probs(&p, r->probs); break;
            case F_LABEL:
                if (peek(&p, 'n')) { /* null: no correction */
                    if (p.end - p.s >= 4 && !memcmp(p.s, "null", 4)) p.s += 4;
                    else return set_error(err, "label must be an integer 0..9 or null");
                } else
                    rc = integer(&p, 0, 9, &r->label, "label");
                break;
            case F_STROKES: rc = strokes(&p, r); break;
            }
            if (rc) return set_error(err, "%s", perr);
            if (peek(&p, ',')) {
                p.s++;
                continue;
            }
            break;
        }
    if (expect(&p, '}')) return set_error(err, "%s", perr);
    ws(&p);
    if (p.s != p.end) return set_error(err, "trailing bytes after the JSON object");
    const char *missing = !(seen & F_MODEL) ? "model" : !(seen & F_PIXELS) ? "pixels" : !(seen & F_PRED) ? "predicted"
                        : !(seen & F_PROBS) ? "probs" : NULL;
    if (missing) return set_error(err, "missing field '%s'", missing);
    return 0;
}

int logreq_strokes_json(const log_request *r, char *buf, size_t cap) {
    size_t n = 0;
    int k = 0;
    n += (size_t)snprintf(buf + n, cap - n, "[");
    for (int s = 0; s < r->n_strokes && n < cap; s++) {
        n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, "%s[", s ? "," : "");
        for (int i = 0; i < r->stroke_len[s] && n < cap; i++, k++)
            n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, "%s[%g,%g]", i ? "," : "", r->points[k][0], r->points[k][1]);
        if (n < cap) n += (size_t)snprintf(buf + n, cap - n, "]");
    }
    if (n < cap) n += (size_t)snprintf(buf + n, cap - n, "]");
    return n < cap ? (int)n : -1;
}
