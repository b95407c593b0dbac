/* checkpoint.h - a training run's state, so that an interrupted run resumes.
 *
 * Written after every epoch, field by field, little-endian, so that neither
 * struct padding nor the log's capacity is part of the format:
 *     char[8]  magic "DIGITCKP"
 *     u32      format version (CHECKPOINT_VERSION)
 *     u32 L, char[L]  the run's settings: a checkpoint resumes only the same run
 *     u32      epochs done
 *     f64      seconds of training so far
 *     u64 M, u8[M]    the model, as a model file (model.h)
 *     u64 N, f32[2N]  the optimizer's state (momentum; AdamW's two moments), i64 steps taken
 *     u32 K, char[K]  the log's key=value text (trainlog.h)
 *     u32 R, then R rows of u32 epoch and f64 train loss, train accuracy,
 *              validation loss, validation accuracy, learning rate, seconds
 *     u32      CRC-32 of every byte before it
 */
#ifndef CHECKPOINT_H
#define CHECKPOINT_H

#include "error.h"
#include "model.h"
#include "train.h"
#include "trainlog.h"

#define CHECKPOINT_VERSION 2
#define CHECKPOINT_MAX_BYTES (1u << 30)

/* Writes atomically (fileio.h). 0, or -1 with a reason. */
int checkpoint_save(const char *path, const char *settings, int epochs_done, double seconds, const model_t *m,
                    const optimizer_t *o, const train_log *log, char *err);

/* Restores m (replaced), o (whose size must match) and log from path when it
 * holds a checkpoint of these settings. Returns the epochs done (>= 1), 0 when
 * there is no file, or -1 with the reason it cannot be used (another version or
 * other settings, truncated, CRC, ...): nothing is changed then. */
int checkpoint_load(const char *path, const char *settings, double *seconds, model_t *m, optimizer_t *o,
                    train_log *log, char *err);

#endif
