#include "idx.h"

#include <stdlib.h>
#include <string.h>

#include "fileio.h"

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* checks the header of a ubyte IDX file with `ndims` dimensions; fills dims */
static int check_header(const uint8_t *buf, size_t len, int ndims, uint32_t *dims, char *err) {
    size_t head = 4 + 4 * (size_t)ndims;
    if (len < 4) return set_error(err, "truncated: %zu bytes, too short for an IDX header", len);
    if (buf[0] != 0 || buf[1] != 0) return set_error(err, "bad magic: not an IDX file");
    if (buf[2] != 0x08) return set_error(err, "unsupported IDX data type 0x%02x (expected 0x08, unsigned byte)", buf[2]);
    if (buf[3] != ndims)
        return set_error(err, "wrong number of dimensions: %d (expected %d, %s)", buf[3], ndims,
                         ndims == 3 ? "an image file" : "a label file");
    if (len < head) return set_error(err, "truncated: %zu bytes, the header needs %zu", len, head);
    uint64_t total = 1;
    for (int i = 0; i < ndims; i++) {
        dims[i] = be32(buf + 4 + 4 * i);
        if (dims[i] == 0) return set_error(err, "dimension %d is zero", i);
        if (dims[i] > 10000000u) return set_error(err, "dimension %d is absurd (%u)", i, dims[i]);
        total *= dims[i];
        if (total > IDX_MAX_FILE_BYTES) return set_error(err, "absurd size: the dimensions describe over %u bytes", IDX_MAX_FILE_BYTES);
    }
    if (len - head < total)
        return set_error(err, "truncated: %zu data bytes, the dimensions need %llu", len - head, (unsigned long long)total);
    if (len - head > total)
        return set_error(err, "size mismatch: %zu data bytes, the dimensions need %llu (trailing data)", len - head,
                         (unsigned long long)total);
    return 0;
}

int idx_parse_images(const uint8_t *buf, size_t len, int *n, int *rows, int *cols, uint8_t **pixels, char *err) {
    uint32_t d[3] = {0, 0, 0};
    *pixels = NULL;
    if (check_header(buf, len, 3, d, err)) return -1;
    if (d[1] > 4096 || d[2] > 4096) return set_error(err, "absurd image size %ux%u", d[1], d[2]);
    size_t total = (size_t)d[0] * d[1] * d[2];
    *pixels = malloc(total);
    if (!*pixels) return set_error(err, "out of memory for %zu pixels", total);
    memcpy(*pixels, buf + 16, total);
    *n = (int)d[0], *rows = (int)d[1], *cols = (int)d[2];
    return 0;
}

int idx_parse_labels(const uint8_t *buf, size_t len, int *n, uint8_t **labels, char *err) {
    uint32_t d[1] = {0};
    *labels = NULL;
    if (check_header(buf, len, 1, d, err)) return -1;
    for (uint32_t i = 0; i < d[0]; i++)
        if (buf[8 + i] > 9) return set_error(err, "label %u is %d, not a digit 0..9", i, buf[8 + i]);
    *labels = malloc(d[0]);
    if (!*labels) return set_error(err, "out of memory for %u labels", d[0]);
    memcpy(*labels, buf + 8, d[0]);
    *n = (int)d[0];
    return 0;
}

int dataset_load(dataset_t *d, const char *images_path, const char *labels_path, char *err) {
    memset(d, 0, sizeof *d);
    uint8_t *buf;
    size_t len;
    char e[ERR_LEN];
    if (file_read_all(images_path, IDX_MAX_FILE_BYTES, &buf, &len, err)) return -1;
    int rc = idx_parse_images(buf, len, &d->n, &d->rows, &d->cols, &d->pixels, e);
    free(buf);
    if (rc) return set_error(err, "%s: %s", images_path, e);
    if (file_read_all(labels_path, IDX_MAX_FILE_BYTES, &buf, &len, err)) {
        dataset_free(d);
        return -1;
    }
    int nl = 0;
    rc = idx_parse_labels(buf, len, &nl, &d->labels, e);
    free(buf);
    if (rc) {
        dataset_free(d);
        return set_error(err, "%s: %s", labels_path, e);
    }
    if (nl != d->n) {
        set_error(err, "%s has %d images but %s has %d labels", images_path, d->n, labels_path, nl);
        dataset_free(d);
        return -1;
    }
    return 0;
}

static void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

static int write_idx(const char *path, const uint8_t *data, int ndims, const uint32_t *dims, char *err) {
    size_t total = 1, head = 4 + 4 * (size_t)ndims;
    for (int i = 0; i < ndims; i++) total *= dims[i];
    uint8_t *b = malloc(head + total);
    if (!b) return set_error(err, "%s: out of memory", path);
    b[0] = b[1] = 0, b[2] = 0x08, b[3] = (uint8_t)ndims;
    for (int i = 0; i < ndims; i++) put_be32(b + 4 + 4 * i, dims[i]);
    if (total) memcpy(b + head, data, total);
    int rc = file_write_atomic(path, b, head + total, err);
    free(b);
    return rc;
}

int idx_write_images(const char *path, const uint8_t *pixels, int n, int rows, int cols, char *err) {
    uint32_t d[3] = {(uint32_t)n, (uint32_t)rows, (uint32_t)cols};
    return write_idx(path, pixels, 3, d, err);
}

int idx_write_labels(const char *path, const uint8_t *labels, int n, char *err) {
    uint32_t d[1] = {(uint32_t)n};
    return write_idx(path, labels, 1, d, err);
}

void dataset_free(dataset_t *d) {
    free(d->pixels);
    free(d->labels);
    memset(d, 0, sizeof *d);
}
