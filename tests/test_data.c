/* The IDX reader, preprocessing and augmentation. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "augment.h"
#include "fileio.h"
#include "idx.h"
#include "model.h"
#include "preprocess.h"
#include "reader.h"
#include "test.h"

static void be32(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v; }

void test_idx(void) {
    char err[ERR_LEN];
    /* a valid 3-image 2x4 file */
    uint8_t f[16 + 24 + 8];
    memset(f, 0, sizeof f);
    f[2] = 8, f[3] = 3;
    be32(f + 4, 3), be32(f + 8, 2), be32(f + 12, 4);
    for (int i = 0; i < 24; i++) f[16 + i] = (uint8_t)(i * 10);
    int n = 0, rows = 0, cols = 0;
    uint8_t *px = NULL;
    CHECK(idx_parse_images(f, 40, &n, &rows, &cols, &px, err) == 0 && n == 3 && rows == 2 && cols == 4 && px[23] == 230,
          "valid images: %s", err);
    free(px);

    static const struct {
        size_t len;
        int byte;     /* which header byte to change (-1: none) */
        uint8_t val;
        const char *want;
    } bad[] = {
        {3, -1, 0, "truncated"},        {12, -1, 0, "truncated"},      {39, -1, 0, "truncated: 23 data bytes"},
        {41, -1, 0, "trailing data"},   {40, 0, 1, "bad magic"},       {40, 2, 0x0d, "data type 0x0d"},
        {40, 3, 1, "dimensions: 1"},    {40, 7, 0, "dimension 0 is zero"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t g[sizeof f];
        memcpy(g, f, sizeof f);
        if (bad[i].byte >= 0) g[bad[i].byte] = bad[i].val;
        err[0] = 0;
        px = NULL;
        int rc = idx_parse_images(g, bad[i].len, &n, &rows, &cols, &px, err);
        CHECK(rc != 0 && px == NULL && strstr(err, bad[i].want), "case %zu: want '%s', got %d '%s'", i, bad[i].want, rc, err);
        if (!rc) free(px);
    }
    /* absurd dimensions are refused before any allocation */
    uint8_t h[16] = {0, 0, 8, 3};
    be32(h + 4, 9000000), be32(h + 8, 4000), be32(h + 12, 4000);
    CHECK(idx_parse_images(h, 16, &n, &rows, &cols, &px, err) != 0 && strstr(err, "absurd"), "absurd: '%s'", err);

    /* labels: valid, out of range, wrong kind of file */
    uint8_t l[8 + 3] = {0, 0, 8, 1, 0, 0, 0, 3, 7, 0, 9};
    uint8_t *lab = NULL;
    CHECK(idx_parse_labels(l, sizeof l, &n, &lab, err) == 0 && n == 3 && lab[2] == 9, "labels: %s", err);
    free(lab);
    l[9] = 12;
    CHECK(idx_parse_labels(l, sizeof l, &n, &lab, err) != 0 && strstr(err, "not a digit"), "label 12: '%s'", err);
    CHECK(idx_parse_labels(f, 40, &n, &lab, err) != 0 && strstr(err, "a label file"), "images as labels: '%s'", err);

    /* written files read back; a count mismatch between the two files is caught */
    char pi[128], pl[128];
    snprintf(pi, sizeof pi, "/tmp/digit-test-%d-img", (int)getpid());
    snprintf(pl, sizeof pl, "/tmp/digit-test-%d-lab", (int)getpid());
    uint8_t pix[2 * 784], labs[3] = {1, 2, 3};
    for (int i = 0; i < 2 * 784; i++) pix[i] = (uint8_t)i;
    CHECK(idx_write_images(pi, pix, 2, 28, 28, err) == 0, "%s", err);
    CHECK(idx_write_labels(pl, labs, 2, err) == 0, "%s", err);
    dataset_t d;
    CHECK(dataset_load(&d, pi, pl, err) == 0 && d.n == 2 && !memcmp(d.pixels, pix, sizeof pix) && d.labels[1] == 2,
          "round trip: %s", err);
    dataset_free(&d);
    idx_write_labels(pl, labs, 3, err);
    CHECK(dataset_load(&d, pi, pl, err) != 0 && strstr(err, "2 images but") && d.pixels == NULL, "mismatch: '%s'", err);
    CHECK(dataset_load(&d, "/nonexistent/x", pl, err) != 0 && strstr(err, "cannot open"), "missing: '%s'", err);
    remove(pi), remove(pl);

    /* the real MNIST files, when present */
    char a[512], b[512];
    snprintf(a, sizeof a, "%s/t10k-images-idx3-ubyte", test_data_dir());
    snprintf(b, sizeof b, "%s/t10k-labels-idx1-ubyte", test_data_dir());
    if (access(a, R_OK) == 0) {
        CHECK(dataset_load(&d, a, b, err) == 0 && d.n == 10000 && d.rows == 28, "MNIST test set: %s", err);
        int count[10] = {0};
        for (int i = 0; i < d.n; i++) count[d.labels[i]]++;
        CHECK(count[0] == 980 && count[1] == 1135 && count[9] == 1009, "label counts %d %d %d", count[0], count[1], count[9]);
        dataset_free(&d);
    }
}

/* centre of mass and ink bounding box of a 28x28 image */
static void moments(const float *x, double *cx, double *cy, int *w, int *h) {
    double s = 0, sx = 0, sy = 0;
    int x0 = 28, x1 = -1, y0 = 28, y1 = -1;
    for (int y = 0; y < 28; y++)
        for (int i = 0; i < 28; i++) {
            float v = x[y * 28 + i];
            s += v, sx += v * (i + 0.5), sy += v * (y + 0.5);
            if (v > 0.01f) {
                if (i < x0) x0 = i;
                if (i > x1) x1 = i;
                if (y < y0) y0 = y;
                if (y > y1) y1 = y;
            }
        }
    *cx = s ? sx / s : -1, *cy = s ? sy / s : -1;
    *w = x1 - x0 + 1, *h = y1 - y0 + 1;
}

static uint8_t *canvas(int w, int h, uint8_t bg) {
    uint8_t *c = malloc((size_t)w * h);
    memset(c, bg, (size_t)w * h);
    return c;
}

static void fill(uint8_t *c, int stride, int x, int y, int w, int h, uint8_t v) {
    for (int j = y; j < y + h; j++)
        for (int i = x; i < x + w; i++) c[j * stride + i] = v;
}

void test_preprocess(void) {
    float out[IMG_PIXELS], out2[IMG_PIXELS];
    preprocess_info info;
    double cx, cy;
    int w, h;

    /* blank canvases stay blank: white, black, and faint noise below the ink threshold */
    uint8_t *c = canvas(300, 200, 255);
    CHECK(preprocess_canvas(out, c, 300, 200, 300, &info) == PREPROCESS_BLANK, "white canvas is blank");
    float sum = 0;
    for (int i = 0; i < IMG_PIXELS; i++) sum += out[i];
    CHECK(sum == 0.0f, "blank output is all zero");
    memset(c, 0, 300 * 200);
    CHECK(preprocess_canvas(out, c, 300, 200, 300, &info) == PREPROCESS_BLANK, "black canvas is blank");
    for (int i = 0; i < 300 * 200; i++) c[i] = (uint8_t)(250 - i % 7);
    CHECK(preprocess_canvas(out, c, 300, 200, 300, &info) == PREPROCESS_BLANK, "faint noise is blank");
    free(c);

    /* an off-centre square lands centred, 20x20 */
    c = canvas(300, 200, 255);
    fill(c, 300, 10, 12, 40, 40, 0);
    CHECK(preprocess_canvas(out, c, 300, 200, 300, &info) == PREPROCESS_OK, "square is ink");
    moments(out, &cx, &cy, &w, &h);
    CHECK(fabs(cx - 14) <= 0.5 && fabs(cy - 14) <= 0.5, "square centre of mass at (%.2f, %.2f)", cx, cy);
    CHECK(w == 20 && h == 20, "square is %dx%d", w, h);
    CHECK(info.dark_ink == 1 && info.x0 == 10 && info.y1 == 51, "info: dark %d box x0 %d y1 %d", info.dark_ink, info.x0,
          info.y1);

    /* the aspect ratio is kept: a 5:1 bar becomes 20x4 */
    fill(c, 300, 0, 0, 300, 200, 255);
    fill(c, 300, 150, 100, 100, 20, 0);
    preprocess_canvas(out, c, 300, 200, 300, &info);
    moments(out, &cx, &cy, &w, &h);
    CHECK(w == 20 && h == 4, "bar is %dx%d", w, h);
    CHECK(fabs(cx - 14) <= 0.5 && fabs(cy - 14) <= 0.5, "bar centre of mass at (%.2f, %.2f)", cx, cy);
    /* where the scaled ink went (the page's preparation steps show it): a 20x4 box holding all the ink */
    float inside = 0.0f, total = 0.0f;
    for (int y = 0; y < IMG_SIDE; y++)
        for (int x = 0; x < IMG_SIDE; x++) {
            total += out[y * IMG_SIDE + x];
            if (x >= info.box_x && x < info.box_x + info.box_w && y >= info.box_y && y < info.box_y + info.box_h)
                inside += out[y * IMG_SIDE + x];
        }
    CHECK(info.box_w == 20 && info.box_h == 4 && total > 0 && inside == total, "bar placed as %dx%d at (%d, %d), %g of %g inside",
          info.box_w, info.box_h, info.box_x, info.box_y, inside, total);

    /* an L shape: the centre of mass, not the box, goes to the centre */
    fill(c, 300, 0, 0, 300, 200, 255);
    fill(c, 300, 100, 20, 20, 160, 0);
    fill(c, 300, 100, 160, 100, 20, 0);
    preprocess_canvas(out, c, 300, 200, 300, &info);
    moments(out, &cx, &cy, &w, &h);
    CHECK(fabs(cx - 14) <= 0.5 && fabs(cy - 14) <= 0.5, "L centre of mass at (%.2f, %.2f)", cx, cy);
    CHECK(h == 20 && w <= 13, "L is %dx%d", w, h);

    /* light ink on dark gives the same image as dark on light */
    uint8_t *inv = canvas(300, 200, 0);
    for (int i = 0; i < 300 * 200; i++) inv[i] = (uint8_t)(255 - c[i]);
    preprocess_canvas(out2, inv, 300, 200, 300, &info);
    double diff = 0;
    for (int i = 0; i < IMG_PIXELS; i++) diff = fmax(diff, fabs(out[i] - out2[i]));
    CHECK(diff < 1e-6 && info.dark_ink == 0, "inverted canvas differs by %g (dark_ink %d)", diff, info.dark_ink);
    free(inv);

    /* the same drawing at half the size gives nearly the same input */
    uint8_t *small = canvas(150, 100, 255);
    fill(small, 150, 50, 10, 10, 80, 0);
    fill(small, 150, 50, 80, 50, 10, 0);
    preprocess_canvas(out2, small, 150, 100, 150, &info);
    diff = 0;
    for (int i = 0; i < IMG_PIXELS; i++) diff = fmax(diff, fabs(out[i] - out2[i]));
    CHECK(diff < 0.05, "half-size drawing differs by %g", diff);
    free(small);

    /* a row stride wider than the canvas, and a tiny 3x3 canvas */
    uint8_t *wide = canvas(400, 200, 255);
    for (int y = 0; y < 200; y++) memcpy(wide + y * 400, c + y * 300, 300);
    fill(wide, 400, 300, 0, 100, 200, 0); /* ink outside the canvas width must be ignored */
    preprocess_canvas(out2, wide, 300, 200, 400, &info);
    diff = 0;
    for (int i = 0; i < IMG_PIXELS; i++) diff = fmax(diff, fabs(out[i] - out2[i]));
    CHECK(diff < 1e-6, "stride: differs by %g", diff);
    free(wide);
    uint8_t tiny[9] = {255, 255, 255, 255, 0, 255, 255, 255, 255};
    CHECK(preprocess_canvas(out, tiny, 3, 3, 3, &info) == PREPROCESS_OK, "a single dot is ink");
    moments(out, &cx, &cy, &w, &h);
    CHECK(fabs(cx - 14) <= 0.5 && w == 20, "a dot fills the box: %dx%d at %.1f", w, h, cx);

    /* the mask selects part of the canvas */
    uint8_t *mask = calloc(300 * 200, 1);
    fill(mask, 300, 0, 0, 110, 200, 1);
    preprocess_canvas_masked(out, c, mask, 300, 200, 300, &info);
    CHECK(info.x1 < 110, "masked ink box ends at x=%d", info.x1);
    free(mask);

    CHECK(preprocess_canvas(out, c, 0, 200, 300, &info) == -1, "zero width is an error");
    CHECK(preprocess_canvas(out, c, 300, 0, 300, &info) == -1, "zero height is an error");
    CHECK(preprocess_background(c, 3, 0, 3, NULL) == -1, "background of an empty canvas is an error");
    {
        uint8_t lab[4];
        preprocess_info boxes[2];
        /* found by fuzz_image: a PGM that decodes to 3x0 */
        char err[ERR_LEN] = "";
        CHECK(reader_segment(c, 3, 0, 3, lab, boxes, 2, err) == -1 && strstr(err, "not a canvas (3 x 0 pixels"),
              "segmenting a 3x0 canvas is an error that says so: '%s'", err);
    }
    CHECK(preprocess_canvas(out, c, 300, 200, 10, &info) == -1, "stride < width is an error");
    free(c);
}

void test_augment(void) {
    uint8_t src[IMG_PIXELS];
    for (int i = 0; i < IMG_PIXELS; i++) src[i] = (uint8_t)((i % 28 > 8 && i % 28 < 20 && i / 28 > 5 && i / 28 < 22) ? 255 : 0);
    augment_params none = {0}, p;
    none.scale_min = none.scale_max = 1.0f;
    augment_defaults(&p);
    float a[IMG_PIXELS], b[IMG_PIXELS];
    rng_t r1 = rng_derive(1, 1), r2 = rng_derive(1, 1);
    augment_image(a, src, 28, &none, &r1);
    double diff = 0;
    for (int i = 0; i < IMG_PIXELS; i++) diff = fmax(diff, fabs(a[i] - src[i] / 255.0));
    CHECK(diff < 1e-5, "no-op augmentation changes the image by %g", diff);
    r1 = rng_derive(9, 3);
    augment_image(a, src, 28, &p, &r1);
    augment_image(b, src, 28, &p, &r2);
    CHECK(memcmp(a, b, sizeof a) != 0, "different seeds give different images");
    r2 = rng_derive(9, 3);
    augment_image(b, src, 28, &p, &r2);
    CHECK(memcmp(a, b, sizeof a) == 0, "the same seed gives the same image");
    double mn = 1, mx = 0, mass = 0, mass0 = 0;
    for (int i = 0; i < IMG_PIXELS; i++) mn = fmin(mn, a[i]), mx = fmax(mx, a[i]), mass += a[i], mass0 += src[i] / 255.0;
    CHECK(mn >= 0 && mx <= 1, "values in [0,1]: %g..%g", mn, mx);
    CHECK(mass > 0.4 * mass0 && mass < 2.2 * mass0, "ink mass %g vs %g", mass, mass0);
    /* thickening adds ink */
    augment_params thick = none;
    thick.thick_prob = 1.0f;
    r1 = rng_derive(2, 2);
    augment_image(a, src, 28, &thick, &r1);
    mass = 0;
    for (int i = 0; i < IMG_PIXELS; i++) mass += a[i];
    CHECK(mass > mass0 * 1.05, "thickening: ink %g vs %g", mass, mass0);
}
