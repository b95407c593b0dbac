#include "trainlog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"

int trainlog_get(const train_log *log, const char *key, char *buf, int n) {
    size_t kl = strlen(key);
    const char *p = log->meta;
    while (*p) {
        while (*p == ' ') p++;
        const char *e = strchr(p, ' ');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len > kl && !strncmp(p, key, kl) && p[kl] == '=') {
            snprintf(buf, (size_t)n, "%.*s", (int)(len - kl - 1), p + kl + 1);
            return 0;
        }
        p += len;
    }
    if (n) buf[0] = 0;
    return -1;
}

void trainlog_set(train_log *log, const char *key, const char *value) {
    /* drop an old value of key, then append key=value */
    char out[TRAINLOG_META_LEN] = "";
    size_t kl = strlen(key), ol = 0;
    const char *p = log->meta;
    while (*p) {
        while (*p == ' ') p++;
        const char *e = strchr(p, ' ');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len && !(len > kl && !strncmp(p, key, kl) && p[kl] == '=') && ol + len + 2 < sizeof out) {
            memcpy(out + ol, p, len);
            ol += len;
            out[ol++] = ' ';
            out[ol] = 0;
        }
        p += len;
    }
    if (snprintf(log->meta, sizeof log->meta, "%s%s=%s", out, key, value) >= (int)sizeof log->meta)
        log->meta[sizeof log->meta - 1] = 0; /* a full log keeps what fits */
}

int trainlog_write(const char *path, const train_log *log, char *err) {
    size_t cap = 4096 + (size_t)log->n * 160, len = 0;
    char *b = malloc(cap);
    if (!b) return set_error(err, "out of memory");
    len += (size_t)snprintf(b + len, cap - len, "# digit-reader training log\n# %s\n", log->meta);
    len += (size_t)snprintf(b + len, cap - len, "epoch,train_loss,train_acc,val_loss,val_acc,lr,seconds\n");
    for (int i = 0; i < log->n && len < cap; i++) {
        const log_row *r = &log->row[i];
        len += (size_t)snprintf(b + len, cap - len, "%d,%.6f,%.6f,%.6f,%.6f,%.6g,%.2f\n", r->epoch, r->train_loss,
                                r->train_acc, r->val_loss, r->val_acc, r->lr, r->seconds);
    }
    return file_write_text(path, b, len, cap, "log", err);
}

int trainlog_read(const char *path, train_log *log, char *err) {
    memset(log, 0, sizeof *log);
    FILE *f = fopen(path, "r");
    if (!f) return set_error(err, "%s: cannot open the training log", path);
    char line[4096];
    int lineno = 0, header = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = 0;
        if (line[0] == '#') {
            const char *p = line + 1;
            while (*p == ' ') p++;
            if (strchr(p, '=')) {
                size_t ml = strlen(log->meta);
                snprintf(log->meta + ml, sizeof log->meta - ml, "%s%s", ml ? " " : "", p);
            }
            continue;
        }
        if (!header) {
            header = 1;
            continue;
        }
        if (!line[0]) continue;
        if (log->n == TRAINLOG_MAX_EPOCHS) break;
        log_row *r = &log->row[log->n];
        if (sscanf(line, "%d,%lf,%lf,%lf,%lf,%lf,%lf", &r->epoch, &r->train_loss, &r->train_acc, &r->val_loss,
                   &r->val_acc, &r->lr, &r->seconds) != 7) {
            fclose(f);
            return set_error(err, "%s:%d: malformed row", path, lineno);
        }
        log->n++;
    }
    fclose(f);
    return 0;
}
