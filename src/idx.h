/* idx.h - the IDX file format MNIST is distributed in.
 *
 * An IDX file is a big-endian header (two zero bytes, a type byte, the number
 * of dimensions, then each dimension as u32) followed by the data. We read the
 * two kinds MNIST uses: unsigned-byte images (n, rows, cols) and unsigned-byte
 * labels (n). The reader checks the magic, the type, the dimensions and that
 * the file is exactly as long as they say.
 */
#ifndef IDX_H
#define IDX_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define IDX_MAX_FILE_BYTES (512u << 20)

typedef struct {
    int n, rows, cols;
    uint8_t *pixels; /* n × rows × cols, 0 = background, 255 = ink */
    uint8_t *labels; /* n, each 0..9 */
} dataset_t;

/* parse from memory; *pixels / *labels are malloc'd copies */
int idx_parse_images(const uint8_t *buf, size_t len, int *n, int *rows, int *cols, uint8_t **pixels, char *err);
int idx_parse_labels(const uint8_t *buf, size_t len, int *n, uint8_t **labels, char *err);

/* load an image file and its label file; counts must agree and labels be 0..9 */
int dataset_load(dataset_t *d, const char *images_path, const char *labels_path, char *err);
/* serialize n images or labels as IDX (for exporting logged drawings) */
int idx_write_images(const char *path, const uint8_t *pixels, int n, int rows, int cols, char *err);
int idx_write_labels(const char *path, const uint8_t *labels, int n, char *err);
void dataset_free(dataset_t *d);

#endif
