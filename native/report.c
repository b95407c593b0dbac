#define _POSIX_C_SOURCE 200809L
#include "report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "reader.h"
#include "rng.h"

#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_WRITE_NO_STDIO
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#endif
#include <stb/stb_image_write.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

typedef struct {
    uint8_t *data;
    size_t len, cap;
    int failed;
} membuf;

static void membuf_write(void *ctx, void *data, int size) {
    membuf *m = ctx;
    if (m->failed || size <= 0) return;
    if (m->len + (size_t)size > m->cap) {
        size_t cap = (m->cap ? m->cap * 2 : 65536) + (size_t)size;
        uint8_t *d = realloc(m->data, cap);
        if (!d) {
            m->failed = 1;
            return;
        }
        m->data = d, m->cap = cap;
    }
    memcpy(m->data + m->len, data, (size_t)size);
    m->len += (size_t)size;
}

int report_save_png(const raster_t *c, const char *path, char *err) {
    membuf m = {0};
    int ok = stbi_write_png_to_func(membuf_write, &m, c->w, c->h, 3, c->rgb, c->w * 3);
    if (!ok || m.failed) {
        free(m.data);
        return set_error(err, "%s: PNG encoding failed", path);
    }
    int rc = file_write_atomic(path, m.data, m.len, err);
    free(m.data);
    return rc;
}

int report_icon(const char *path, int size, char *err) {
    static const float stroke[][4] = {/* x0, y0, x1, y1 in units of the side */
                                      {0.32f, 0.30f, 0.68f, 0.30f},
                                      {0.68f, 0.30f, 0.45f, 0.72f},
                                      {0.40f, 0.52f, 0.64f, 0.52f}};
    raster_t c;
    if (size < 16 || size > 4096) return set_error(err, "%s: an icon of %d pixels (16 to 4096)", path, size);
    if (raster_init(&c, size, size, 0x1d4ed8, err)) return -1;
    const float s = (float)size;
    for (size_t k = 0; k < sizeof stroke / sizeof stroke[0]; k++)
        raster_line(&c, stroke[k][0] * s, stroke[k][1] * s, stroke[k][2] * s, stroke[k][3] * s, 0.075f * s, 0xffffff);
    int rc = report_save_png(&c, path, err);
    raster_free(&c);
    return rc;
}

/* ---- report images ------------------------------------------------------------------ */

#define INK 0x202020
#define GREY 0x808080
#define BLUE 0x1f5fbf
#define ORANGE 0xd9731a
#define RED 0xc0392b

int report_confusion(const char *path, const eval_result *r, char *err) {
    const int cell = 46, left = 70, top = 70;
    raster_t c;
    if (raster_init(&c, left + 10 * cell + 20, top + 10 * cell + 40, 0xffffff, err)) return -1;
    raster_text(&c, left, 12, 2, INK, "CONFUSION MATRIX");
    raster_text(&c, left, 40, 1, GREY, "ROWS: TRUE DIGIT   COLUMNS: PREDICTED");
    int mx = 1;
    for (int i = 0; i < N_CLASSES; i++)
        for (int j = 0; j < N_CLASSES; j++)
            if (i != j && r->confusion[i][j] > mx) mx = r->confusion[i][j];
    for (int i = 0; i < N_CLASSES; i++) {
        char d[2] = {(char)('0' + i), 0};
        raster_text(&c, left - 22, top + i * cell + cell / 2 - 7, 2, INK, d);
        raster_text(&c, left + i * cell + cell / 2 - 5, top + 10 * cell + 8, 2, INK, d);
        for (int j = 0; j < N_CLASSES; j++) {
            int v = r->confusion[i][j];
            uint32_t bg;
            if (i == j) {
                bg = 0xd6ecd2; /* the diagonal: correct answers */
            } else if (v == 0) {
                bg = 0xf7f7f7;
            } else { /* off the diagonal: red, stronger for more mistakes */
                float a = 0.25f + 0.75f * logf(1.0f + v) / logf(1.0f + mx);
                uint8_t g = (uint8_t)(235 - 140 * a);
                bg = 0xf0u << 16 | (uint32_t)g << 8 | g;
            }
            raster_rect(&c, left + j * cell + 1, top + i * cell + 1, cell - 2, cell - 2, bg);
            char s[16];
            snprintf(s, sizeof s, "%d", v);
            int sc = strlen(s) > 3 ? 1 : 2;
            int tw = (int)strlen(s) * 6 * sc - sc;
            raster_text(&c, left + j * cell + (cell - tw) / 2, top + i * cell + (cell - 7 * sc) / 2, sc,
                        v == 0 ? 0xc0c0c0 : INK, s);
        }
    }
    int rc = report_save_png(&c, path, err);
    raster_free(&c);
    return rc;
}

/* A grid of 28×28 images, 12 to a row, each with up to two captions below it
 * (left in `left_rgb`, right in grey), under a title and a subtitle. */
typedef struct {
    const uint8_t *pixels; /* the images, 28×28 bytes each */
    int index;             /* which image */
    char left[32], right[32];
    uint32_t left_rgb;
} tile_t;

static int mosaic(const char *path, const char *title, const char *subtitle, const tile_t *tiles, int n, char *err) {
    const int cols = 12, cw = 64, ch = 84, top = 44;
    int rows = n ? (n + cols - 1) / cols : 1;
    raster_t c;
    if (raster_init(&c, cols * cw + 8, top + rows * ch + 8, 0xffffff, err)) return -1;
    raster_text(&c, 8, 8, 2, INK, title);
    raster_text(&c, 8, 28, 1, GREY, subtitle);
    float img[IMG_PIXELS];
    for (int k = 0; k < n; k++) {
        const tile_t *t = &tiles[k];
        int x = 8 + (k % cols) * cw, y = top + (k / cols) * ch;
        for (int j = 0; j < IMG_PIXELS; j++) img[j] = t->pixels[(size_t)t->index * IMG_PIXELS + j] / 255.0f;
        raster_digit(&c, x + 2, y, 2, img);
        int wl = raster_text(&c, x + 4, y + 60, 1, t->left_rgb, t->left);
        raster_text(&c, x + 4 + wl + 6, y + 60, 1, GREY, t->right);
    }
    int rc = report_save_png(&c, path, err);
    raster_free(&c);
    return rc;
}

int report_misclassified(const char *path, const uint8_t *pixels, const uint8_t *labels, const int *pred,
                         const float *probs, int n, char *err) {
    tile_t *tiles = malloc(sizeof(tile_t) * (size_t)(n ? n : 1));
    if (!tiles) return set_error(err, "out of memory");
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (pred[i] == labels[i]) continue;
        tile_t *t = &tiles[k++];
        t->pixels = pixels, t->index = i, t->left_rgb = RED;
        snprintf(t->left, sizeof t->left, "%d>%d", labels[i], pred[i]);
        snprintf(t->right, sizeof t->right, "%.0f%%", 100.0f * probs[(size_t)i * N_CLASSES + pred[i]]);
    }
    char title[96];
    snprintf(title, sizeof title, "%d MISCLASSIFIED TEST IMAGES", k);
    int rc = mosaic(path, title, "TRUE>PREDICTED (CONFIDENCE %)", tiles, k, err);
    free(tiles);
    return rc;
}

int report_contact_sheet(const char *path, const uint8_t *pixels, const uint8_t *labels, const uint8_t *predicted,
                         int n, char *err) {
    tile_t *tiles = malloc(sizeof(tile_t) * (size_t)(n ? n : 1));
    if (!tiles) return set_error(err, "out of memory");
    for (int i = 0; i < n; i++) {
        tile_t *t = &tiles[i];
        t->pixels = pixels, t->index = i, t->left_rgb = INK;
        snprintf(t->left, sizeof t->left, "%d", labels[i]);
        if (predicted[i] != labels[i]) snprintf(t->right, sizeof t->right, "SAID %d", predicted[i]);
        else t->right[0] = 0;
    }
    char title[96];
    snprintf(title, sizeof title, "%d LOGGED DRAWINGS", n);
    int rc = mosaic(path, title, "LABEL, AND WHAT THE MODEL SAID WHEN IT DIFFERS", tiles, n, err);
    free(tiles);
    return rc;
}

int report_pen_misread(const char *path, const pen_set *set, const pen_result *r, char *err) {
    const int n = r->n_miss;
    tile_t *tiles = malloc(sizeof(tile_t) * (size_t)(n ? n : 1));
    uint8_t *thumbs = malloc((size_t)(n ? n : 1) * IMG_PIXELS);
    if (!tiles || !thumbs) {
        free(tiles), free(thumbs);
        return set_error(err, "out of memory");
    }
    for (int i = 0; i < n; i++) {
        const pen_miss *m = &r->miss[i];
        tile_t *t = &tiles[i];
        memcpy(thumbs + (size_t)i * IMG_PIXELS, m->thumb, IMG_PIXELS);
        t->pixels = thumbs, t->index = i, t->left_rgb = m->sure ? RED : INK;
        snprintf(t->left, sizeof t->left, "%d>%s", set->digit[m->index].label, m->reading[0] ? m->reading : "-");
        snprintf(t->right, sizeof t->right, "%s", m->sure ? "SURE" : "");
    }
    char title[96];
    snprintf(title, sizeof title, "%d OF %d PEN DIGITS MISREAD", n, r->n);
    int rc = mosaic(path, title, "TRUE>READ, RED WHEN THE PAGE SHOWED IT AS SURE", tiles, n, err);
    free(tiles), free(thumbs);
    return rc;
}

/* one panel of curves.png: series against epochs, y range [lo, hi] */
static void plot_panel(raster_t *c, int px, int py, int pw, int ph, const char *title, const train_log *log,
                       int which, double lo, double hi) {
    raster_rect(c, px, py, pw, ph, 0xfafafa);
    raster_text(c, px, py - 22, 2, INK, title);
    for (int t = 0; t <= 4; t++) { /* grid and y labels */
        double v = lo + (hi - lo) * t / 4;
        int y = py + ph - (int)lround((double)ph * t / 4);
        raster_rect(c, px, y, pw, 1, 0xe0e0e0);
        char s[32];
        if (which == 0)
            snprintf(s, sizeof s, "%.3f", v);
        else
            snprintf(s, sizeof s, "%.2f", 100 * v);
        raster_text(c, px - 6 * (int)strlen(s) - 6, y - 3, 1, GREY, s);
    }
    int n = log->n;
    for (int e = 0; e < n; e += (n > 20 ? 5 : 1)) {
        char s[16];
        snprintf(s, sizeof s, "%d", log->row[e].epoch);
        int x = px + (n > 1 ? (int)lround((double)pw * e / (n - 1)) : pw / 2);
        raster_text(c, x - 3, py + ph + 6, 1, GREY, s);
    }
    raster_text(c, px + pw / 2 - 15, py + ph + 20, 1, GREY, "EPOCH");
    for (int s = 0; s < 2; s++) {
        uint32_t col = s ? ORANGE : BLUE;
        float xp = 0, yp = 0;
        for (int e = 0; e < n; e++) {
            const log_row *r = &log->row[e];
            double v = which == 0 ? (s ? r->val_loss : r->train_loss) : (s ? r->val_acc : r->train_acc);
            double t = (v - lo) / (hi - lo);
            t = t < 0 ? 0 : t > 1 ? 1 : t;
            float x = px + (n > 1 ? (float)pw * e / (n - 1) : pw / 2.0f), y = py + ph - (float)(ph * t);
            if (e) raster_line(c, xp, yp, x, y, 2.0f, col);
            raster_rect(c, (int)x - 2, (int)y - 2, 5, 5, col);
            xp = x, yp = y;
        }
    }
}

int report_curves(const char *path, const train_log *log, char *err) {
    const int pw = 420, ph = 260;
    raster_t c;
    if (raster_init(&c, 2 * pw + 200, ph + 130, 0xffffff, err)) return -1;
    double lmax = 0, amin = 1;
    for (int e = 0; e < log->n; e++) {
        const log_row *r = &log->row[e];
        lmax = fmax(lmax, fmax(r->train_loss, r->val_loss));
        amin = fmin(amin, fmin(r->train_acc, r->val_acc));
    }
    if (lmax <= 0) lmax = 1;
    amin = floor(amin * 100) / 100;
    if (amin > 0.98) amin = 0.98;
    plot_panel(&c, 70, 50, pw, ph, "LOSS", log, 0, 0.0, lmax * 1.05);
    plot_panel(&c, 2 * 70 + pw + 40, 50, pw, ph, "ACCURACY %", log, 1, amin, 1.0);
    raster_rect(&c, 70, ph + 100, 14, 4, BLUE);
    raster_text(&c, 90, ph + 98, 1, INK, "TRAINING (AUGMENTED, RUNNING AVERAGE)");
    raster_rect(&c, 380, ph + 100, 14, 4, ORANGE);
    raster_text(&c, 400, ph + 98, 1, INK, "VALIDATION (HELD-OUT TRAINING IMAGES)");
    int rc = report_save_png(&c, path, err);
    raster_free(&c);
    return rc;
}

int report_augmentation(const char *path, const uint8_t *pixels, int n, const augment_params *p, char *err) {
    const int rows = n < 8 ? n : 8, per = 9, sz = 58;
    raster_t c;
    if (raster_init(&c, 8 + (per + 1) * sz + 12, 40 + rows * sz + 8, 0xffffff, err)) return -1;
    raster_text(&c, 8, 10, 2, INK, "ORIGINAL | AUGMENTED FOR TRAINING");
    float img[IMG_PIXELS];
    for (int r = 0; r < rows; r++) {
        const uint8_t *src = pixels + (size_t)r * 977 % (size_t)n * IMG_PIXELS;
        for (int j = 0; j < IMG_PIXELS; j++) img[j] = src[j] / 255.0f;
        raster_digit(&c, 8, 40 + r * sz, 2, img);
        raster_rect(&c, 8 + sz - 1, 40 + r * sz, 2, 56, GREY);
        for (int k = 0; k < per; k++) {
            rng_t g = rng_derive(12345, (uint64_t)(r * 100 + k));
            augment_image(img, src, IMG_SIDE, p, &g);
            raster_digit(&c, 8 + (k + 1) * sz + 8, 40 + r * sz, 2, img);
        }
    }
    int rc = report_save_png(&c, path, err);
    raster_free(&c);
    return rc;
}

/* ---- the model card -------------------------------------------------------------------- */

static const char *meta(const train_log *log, const char *key, char *buf) {
    if (trainlog_get(log, key, buf, 256)) snprintf(buf, 256, "?");
    return buf;
}

/* writer ids of a mask, "3, 6, 9" */
static const char *writer_list(uint32_t mask, char *buf, size_t n) {
    size_t len = 0;
    buf[0] = 0;
    for (int w = 1; w < 32 && len < n; w++)
        if (pen_in(mask, w)) len += (size_t)snprintf(buf + len, n - len, "%s%d", len ? ", " : "", w);
    return buf;
}

/* the model card's section on real handwriting; returns the new length of b */
static size_t card_pen(char *b, size_t cap, size_t len, const eval_result *r, const train_log *log) {
#define OUT(...) (len += (size_t)snprintf(b + len, len < cap ? cap - len : 0, __VA_ARGS__))
    if (!r->pen.digits.n) return len;
    const pen_result *p = &r->pen.digits, *q = &r->pen_small.digits;
    char w1[128], w2[128], w3[256];
    OUT("\n## Real handwriting: pen digits\n\n");
    OUT("Real pen digits of %d writers the model never trained on and nothing was tuned on (UCI pen-based digits, "
        "writers %s; `native/pendigits/`), each drawn through the page's brush (`src/ink.c`) at a random place and a "
        "height of %.0f-%.0f%% of the 480×360 canvas, stroke by stroke, and read from its strokes as the page reads "
        "them (`make eval`).\n\n",
        p->writers, writer_list(r->pen_writers, w1, sizeof w1), 100 * PEN_HEIGHT_LO, 100 * PEN_HEIGHT_HI);
    OUT("| | |\n|---|---|\n");
    OUT("| Pen digits read right | **%.2f%%** (%d digits, %d writers) |\n", 100.0 * p->right / p->n, p->n, p->writers);
    OUT("| Read wrong with confidence (the page showed it as sure) | %.2f%% (%d) |\n", 100.0 * p->sure_wrong / p->n,
        p->sure_wrong);
    OUT("| Read right and shown as sure (the rest of the right ones said \"not sure\") | %.2f%% (%d) |\n",
        100.0 * p->sure_right / p->n, p->sure_right);
    if (r->pen.numbers)
        OUT("| Numbers of 2-8 digits of one writer, on the wide canvas, read exactly (%d each) | apart %.2f%%, "
            "touching %.2f%% |\n",
            r->pen.numbers, r->pen.apart, r->pen.touching);
    if (r->pen.numbers)
        OUT("| The same numbers with each digit's own strokes read alone (what a perfect grouping of strokes into "
            "digits would read) | apart %.2f%%, touching %.2f%% |\n",
            r->pen.apart_alone, r->pen.touching_alone);
    if (q->n)
        OUT("| The same digits written small (%.0f-%.0f%% of the canvas height, %.0f-%.0f pixels), read right | %.2f%% "
            "(%.2f%% read wrong with confidence) |\n",
            100 * PEN_SMALL_LO, 100 * PEN_SMALL_HI, PEN_SMALL_LO * PEN_CANVAS_H, PEN_SMALL_HI * PEN_CANVAS_H,
            100.0 * q->right / q->n, 100.0 * q->sure_wrong / q->n);
    if (q->n && r->pen_small.numbers)
        OUT("| Numbers written small (digits %.0f-%.0f pixels tall), read exactly | apart %.2f%%, touching %.2f%% |\n",
            PEN_NUMBER_SMALL_LO, PEN_NUMBER_SMALL_HI, r->pen_small.apart, r->pen_small.touching);
    OUT("\n| digit |");
    for (int d = 0; d < N_CLASSES; d++) OUT(" %d |", d);
    OUT("\n|---|");
    for (int d = 0; d < N_CLASSES; d++) OUT("---:|");
    OUT("\n| read right |");
    for (int d = 0; d < N_CLASSES; d++) OUT(" %.1f%% |", 100.0 * p->class_right[d] / (p->class_n[d] ? p->class_n[d] : 1));
    OUT("\n\nThe writer split was fixed by id before any training (`src/pen.h`): test writers %s; development "
        "writers, for choosing methods and the reader's constants, %s; training writers %s. ",
        writer_list(PEN_TEST_WRITERS, w1, sizeof w1), writer_list(PEN_DEV_WRITERS, w2, sizeof w2),
        writer_list(PEN_TRAIN_WRITERS, w3, sizeof w3));
    char t[256];
    if (!trainlog_get(log, "pen_train_writers", t, sizeof t))
        OUT("This model trained on the pen digits of the writers `%s` (%s images an epoch, drawn afresh each epoch).\n",
            t, meta(log, "pen_images", w1));
    else
        OUT("This model trained on no pen digits.\n");
#undef OUT
    return len;
}

/* digit d's precision and recall on the test set, in %; returns its number of test images */
static int class_stats(const eval_result *r, int d, double *precision, double *recall) {
    int tp = r->confusion[d][d], row = 0, col = 0;
    for (int j = 0; j < N_CLASSES; j++) row += r->confusion[d][j], col += r->confusion[j][d];
    *precision = col ? 100.0 * tp / col : 0.0, *recall = row ? 100.0 * tp / row : 0.0;
    return row;
}

/* The figures of the model card as JSON, for the page's training panel: written by the same run, with the
 * same rounding, so that the page never shows other figures than the card. */
int report_summary(const char *path, const model_t *m, const eval_result *r, const train_log *log, char *err) {
    size_t cap = 1 << 16, len = 0;
    char *b = malloc(cap);
    if (!b) return set_error(err, "out of memory");
#define OUT(...) (len += (size_t)snprintf(b + len, len < cap ? cap - len : 0, __VA_ARGS__))
    OUT("{\"mnist\":{\"accuracy\":\"%.2f\",\"wrong\":%d,\"images\":%d},", 100.0 * r->correct / r->n, r->n - r->correct, r->n);
    OUT("\"params\":%zu,\"temperature\":\"%.3f\",\"classes\":[", m->n_params, m->temperature);
    for (int d = 0; d < N_CLASSES; d++) {
        double prec, rec;
        const int images = class_stats(r, d, &prec, &rec);
        OUT("%s{\"digit\":%d,\"precision\":\"%.2f\",\"recall\":\"%.2f\",\"images\":%d}", d ? "," : "", d, prec, rec, images);
    }
    OUT("],\"numbers\":{\"apart\":\"%.2f\",\"touching\":\"%.2f\",\"each\":%d},", r->multi_apart, r->multi_touching, r->multi_n);
    const pen_result *p = &r->pen.digits, *q = &r->pen_small.digits;
    OUT("\"pen\":{\"accuracy\":\"%.2f\",\"digits\":%d,\"writers\":%d,\"sure_wrong\":\"%.2f\",\"sure_right\":\"%.2f\","
        "\"apart\":\"%.2f\",\"touching\":\"%.2f\",\"small\":\"%.2f\",\"small_apart\":\"%.2f\",\"small_touching\":\"%.2f\"},",
        p->n ? 100.0 * p->right / p->n : 0.0, p->n, p->writers, p->n ? 100.0 * p->sure_wrong / p->n : 0.0,
        p->n ? 100.0 * p->sure_right / p->n : 0.0, r->pen.apart, r->pen.touching, q->n ? 100.0 * q->right / q->n : 0.0,
        r->pen_small.apart, r->pen_small.touching);
    OUT("\"epochs\":[");
    for (int e = 0; e < log->n; e++)
        OUT("%s[%.4f,%.4f,%.4f,%.4f]", e ? "," : "", log->row[e].train_loss, log->row[e].train_acc, log->row[e].val_loss,
            log->row[e].val_acc);
    OUT("]}\n");
#undef OUT
    return file_write_text(path, b, len, cap, "summary", err);
}

int report_model_card(const char *path, const model_t *m, const eval_result *r, const train_log *log,
                      const char *model_path, char *err) {
    size_t cap = 1 << 16, len = 0;
    char *b = malloc(cap);
    if (!b) return set_error(err, "out of memory");
#define OUT(...) (len += (size_t)snprintf(b + len, len < cap ? cap - len : 0, __VA_ARGS__))
    char v1[256], v2[256], v3[256], v4[256], v5[256], v6[256], v7[256];
    OUT("# Model card: digit-reader CNN\n\n");
    OUT("A convolutional network that reads one handwritten digit (0-9) from a 28×28 grey image, "
        "trained from scratch on MNIST by this repository's C code (`make train`).\n\n");
    OUT("| | |\n|---|---|\n");
    OUT("| Test accuracy (MNIST, 10,000 images) | **%.2f%%** (%d wrong) |\n", 100.0 * r->correct / r->n,
        r->n - r->correct);
    OUT("| Parameters | %zu (+ %zu batch-norm running statistics) |\n", m->n_params, m->n_stats);
    OUT("| Forward pass | %.2f MFLOPs per image |\n", model_flops(m) / 1e6);
    uint8_t *bytes = NULL;
    size_t file_len = 0;
    int version = 0;
    if (model_serialize(m, &bytes, &file_len, NULL) == 0) version = bytes[8], free(bytes);
    OUT("| Weights file | `%s`, %zu bytes (format version %d: %s) |\n", model_path, file_len, version,
        version == 2 ? "int8 conv and fc weights, the rest float32" : "float32");
    OUT("| Inference, native, batch 1 | %.3f ms per image (mean over the test set) |\n", r->mean_ms);
    if (r->multi_apart >= 0)
        OUT("| Numbers of 2-8 test digits read exactly (%d each) | apart %.2f%%, touching or overlapping %.2f%% |\n",
            r->multi_n, r->multi_apart, r->multi_touching);
    OUT("| Softmax temperature | %.3f (calibrated on the validation images) |\n", m->temperature);
    OUT("| \"Not sure\" below %.2f calibrated confidence | validation images above the line: %s right; below it: %s "
        "right |\n",
        UNSURE_BELOW, meta(log, "val_sure_right", v1), meta(log, "val_unsure_right", v2));
    {
        double wall = 0, secs = 0, imgs = 0;
        char t[256];
        if (!trainlog_get(log, "wall_seconds", t, sizeof t)) wall = atof(t);
        if (!trainlog_get(log, "train_images", t, sizeof t)) imgs = atof(t) * log->n;
        for (int e = 0; e < log->n; e++) secs += log->row[e].seconds; /* epochs, validation included */
        OUT("| Training time (`make train`) | %.1f min wall on %s thread(s); about %.0f training images/s, "
            "augmentation and validation included |\n",
            wall / 60.0, meta(log, "threads", v2), secs > 0 ? imgs / secs : 0.0);
    }
    OUT("\n## Architecture\n\n`%s`\n\n", m->arch);
    OUT("| # | layer | output (C×H×W) | parameters | MFLOPs |\n|---:|---|---|---:|---:|\n");
    for (int i = 0; i < m->n_layers; i++) {
        const layer_t *l = &m->layer[i];
        char d[96];
        layer_describe(l, d, sizeof d);
        OUT("| %d | %s | %d×%d×%d | %zu | %.3f |\n", i + 1, d, l->out_c, l->out_h, l->out_w, l->n_w + l->n_b,
            l->flops / 1e6);
    }
    OUT("| | **total** | | **%zu** | **%.2f** |\n", m->n_params, model_flops(m) / 1e6);
    OUT("\nFLOPs count a multiply-add as two operations.\n");
    OUT("\n## Training recipe\n\n");
    OUT("- Data: the 60,000 MNIST training images; %s of them (chosen by the seed) are held out for validation "
        "and temperature calibration, the other %s train. The test set is used only by `make eval`.\n",
        meta(log, "val_images", v1), meta(log, "train_images", v2));
    OUT("- %s epochs, batch %s, %s with peak learning rate %s, weight decay %s, one-cycle schedule "
        "(linear warm-up, cosine decay), label smoothing %s, seed %s.\n",
        meta(log, "epochs", v1), meta(log, "batch", v2), meta(log, "optimizer", v3), meta(log, "lr", v4),
        meta(log, "weight_decay", v5), meta(log, "smoothing", v6), meta(log, "seed", v7));
    OUT("- Augmentation on every training image: random rotation, scale, aspect, shear and shift, an elastic "
        "distortion (half the images) and stroke thickening or thinning (see `report/augmentation.png`).\n");
    OUT("- He-normal initialisation; batch normalization after each convolution.\n");
    {
        char t[256];
        if (!trainlog_get(log, "mine_pieces", t, sizeof t))
            OUT("- Hard negatives for reading numbers: after the last epoch the model read %s numbers composed of "
                "training digits (half apart, half touching); the %s pieces its search tried that are not one digit "
                "(a part of a digit, a digit with a slice of its neighbour, two digits) then made a quarter of each "
                "batch, with the uniform distribution as their target, for %s steps at a learning rate from %s down "
                "a half cosine. Validation images right before and after: %s.\n",
                meta(log, "mine_numbers", v1), t, meta(log, "mine_steps", v2), meta(log, "mine_lr", v3),
                meta(log, "mine_val_right", v4));
    }
    OUT("- After training, every conv and fc weight is rounded to %s-bit precision (each output channel: integers "
        "times one power of two), and the file stores them as those integers (format version 2), a quarter of the "
        "float32 size; "
        "validation after rounding: %s right. The accuracy above is that of these rounded weights.\n",
        meta(log, "quantized_bits", v1), meta(log, "val_quantized_right", v2));
    if (log->n) {
        const log_row *last = &log->row[log->n - 1];
        OUT("- Final epoch: training loss %.4f, validation accuracy %.2f%% (%s images).\n", last->train_loss,
            100 * last->val_acc, meta(log, "val_images", v1));
    }
    OUT("\nReproduce: `make train` (then `make eval` to rebuild this card and the report).\n");
    OUT("\n## Per-class results on the test set\n\n| digit | precision | recall | images |\n|---|---:|---:|---:|\n");
    for (int d = 0; d < N_CLASSES; d++) {
        double prec, rec;
        const int images = class_stats(r, d, &prec, &rec);
        OUT("| %d | %.2f%% | %.2f%% | %d |\n", d, prec, rec, images);
    }
    len = card_pen(b, cap, len, r, log);
    OUT("\n## Report images\n\n");
    OUT("- `report/curves.png`: loss and accuracy per epoch, from `train_log.csv`.\n");
    OUT("- `report/confusion.png`: the confusion matrix above, drawn.\n");
    OUT("- `report/misclassified.png`: every test image the model gets wrong, with its true and predicted "
        "label.\n");
    OUT("- `report/augmentation.png`: what the augmentation does to training digits.\n");
    if (r->pen.digits.n)
        OUT("- `report/pen-misread.png`: every pen digit of the test writers read wrong, with its label and what was "
            "read.\n");
    OUT("\n## Limits\n\n");
    OUT("MNIST digits were written on paper by American census employees and students and scanned; digits drawn "
        "with a finger or a mouse differ in stroke and style. The page therefore says \"not sure\" when the "
        "calibrated confidence is low instead of guessing.\n");
#undef OUT
    return file_write_text(path, b, len, cap, "model card", err);
}
