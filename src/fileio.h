/* fileio.h - whole-file reads with a size limit, and atomic writes.
 * A failed write never leaves a partial file behind: data goes to PATH.tmp,
 * is flushed and synced, and only then renamed over PATH. */
#ifndef FILEIO_H
#define FILEIO_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* reads all of `path` into a malloc'd buffer (caller frees); fails on files over max_bytes */
int file_read_all(const char *path, size_t max_bytes, uint8_t **buf, size_t *len, char *err);
int file_write_atomic(const char *path, const void *data, size_t len, char *err);
/* Writes text built with snprintf in buf (len bytes of a cap-byte buffer; len >= cap means it did not fit,
 * and what names it in the error) atomically, then frees buf. */
int file_write_text(const char *path, char *buf, size_t len, size_t cap, const char *what, char *err);

#endif
