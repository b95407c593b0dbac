#define _POSIX_C_SOURCE 200809L
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* path opened for reading if it is a regular file: opened without blocking, so that a FIFO with no
 * writer is refused rather than waited on, and checked with fstat (not stat: no race) */
static FILE *open_regular(const char *path, char *err) {
    const int fd = open(path, O_RDONLY | O_NONBLOCK);
    if (fd < 0) return set_error(err, "%s: cannot open: %s", path, strerror(errno)), (FILE *)NULL;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        set_error(err, "%s: cannot stat: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        set_error(err, "%s: not a regular file (%s)", path,
                  S_ISDIR(st.st_mode) ? "a directory" : S_ISFIFO(st.st_mode) ? "a FIFO" : "a device or socket");
        close(fd);
        return NULL;
    }
    const int flags = fcntl(fd, F_GETFL);
    FILE *f = flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0 ? NULL : fdopen(fd, "rb");
    if (!f) {
        set_error(err, "%s: cannot open: %s", path, strerror(errno));
        close(fd);
    }
    return f;
}

int file_read_all(const char *path, size_t max_bytes, uint8_t **buf, size_t *len, char *err) {
    *buf = NULL;
    *len = 0;
    FILE *f = open_regular(path, err);
    if (!f) return -1;
    size_t cap = 1 << 16, n = 0;
    uint8_t *b = malloc(cap);
    if (!b) {
        fclose(f);
        return set_error(err, "%s: out of memory", path);
    }
    for (;;) {
        if (n == cap) {
            if (cap > max_bytes) break;
            uint8_t *nb = realloc(b, cap * 2);
            if (!nb) {
                free(b);
                fclose(f);
                return set_error(err, "%s: out of memory", path);
            }
            b = nb;
            cap *= 2;
        }
        size_t got = fread(b + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(b);
        return set_error(err, "%s: read error", path);
    }
    if (n > max_bytes) {
        free(b);
        return set_error(err, "%s: file is larger than the %zu-byte limit", path, max_bytes);
    }
    *buf = b;
    *len = n;
    return 0;
}

int file_write_atomic(const char *path, const void *data, size_t len, char *err) {
    size_t pl = strlen(path);
    char *tmp = malloc(pl + 5);
    if (!tmp) return set_error(err, "%s: out of memory", path);
    memcpy(tmp, path, pl);
    memcpy(tmp + pl, ".tmp", 5);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        set_error(err, "%s: cannot create: %s", tmp, strerror(errno));
        free(tmp);
        return -1;
    }
    int ok = fwrite(data, 1, len, f) == len;
    ok = ok && fflush(f) == 0;
    ok = ok && fsync(fileno(f)) == 0;
    int saved = errno;
    ok = (fclose(f) == 0) && ok;
    if (!ok) {
        set_error(err, "%s: write failed: %s", tmp, strerror(saved ? saved : errno));
        remove(tmp);
        free(tmp);
        return -1;
    }
    if (rename(tmp, path) != 0) {
        set_error(err, "%s: cannot rename into place: %s", path, strerror(errno));
        remove(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    return 0;
}

int file_write_text(const char *path, char *buf, size_t len, size_t cap, const char *what, char *err) {
    int rc = len >= cap ? set_error(err, "%s: %s too long", path, what) : file_write_atomic(path, buf, len, err);
    free(buf);
    return rc;
}
