/* trainlog.h - the training log: what `mnist train` did, epoch by epoch.
 *
 * A CSV file: comment lines "# key=value ..." carry the recipe (architecture,
 * epochs, batch, optimizer, ...) and the totals (wall time, temperature); then
 * one row per epoch. `mnist eval` reads it back for curves.png and MODEL.md. */
#ifndef TRAINLOG_H
#define TRAINLOG_H

#include "error.h"

#define TRAINLOG_MAX_EPOCHS 1000
#define TRAINLOG_META_LEN 2048

typedef struct {
    int epoch;
    double train_loss, train_acc, val_loss, val_acc, lr, seconds;
} log_row;

typedef struct {
    char meta[TRAINLOG_META_LEN]; /* "key=value" pairs separated by spaces */
    int n;
    log_row row[TRAINLOG_MAX_EPOCHS];
} train_log;

int trainlog_write(const char *path, const train_log *log, char *err);
int trainlog_read(const char *path, train_log *log, char *err);
/* the value of `key` in log->meta copied to buf; 0 when found, -1 when not */
int trainlog_get(const train_log *log, const char *key, char *buf, int n);
void trainlog_set(train_log *log, const char *key, const char *value);

#endif
