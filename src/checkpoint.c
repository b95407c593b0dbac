#include "checkpoint.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "crc32.h"
#include "fileio.h"

static const char CKP_MAGIC[8] = {'D', 'I', 'G', 'I', 'T', 'C', 'K', 'P'};

int checkpoint_save(const char *path, const char *settings, int epochs_done, double seconds, const model_t *m,
                    const optimizer_t *o, const train_log *log, char *err) {
    uint8_t *mb;
    size_t ml;
    if (model_serialize(m, &mb, &ml, err)) return -1;
    bytes_t b = {0};
    const size_t sl = strlen(settings), kl = strlen(log->meta);
    bytes_put(&b, CKP_MAGIC, 8);
    bytes_u32(&b, CHECKPOINT_VERSION);
    bytes_u32(&b, (uint32_t)sl);
    bytes_put(&b, settings, sl);
    bytes_u32(&b, (uint32_t)epochs_done);
    bytes_f64(&b, seconds);
    bytes_u64(&b, ml);
    bytes_put(&b, mb, ml);
    free(mb);
    bytes_u64(&b, o->n);
    for (size_t i = 0; i < 2 * o->n; i++) bytes_f32(&b, o->m[i]);
    bytes_u64(&b, (uint64_t)(int64_t)o->t);
    bytes_u32(&b, (uint32_t)kl);
    bytes_put(&b, log->meta, kl);
    bytes_u32(&b, (uint32_t)log->n);
    for (int i = 0; i < log->n; i++) {
        const log_row *r = &log->row[i];
        bytes_u32(&b, (uint32_t)r->epoch);
        const double f[6] = {r->train_loss, r->train_acc, r->val_loss, r->val_acc, r->lr, r->seconds};
        for (int k = 0; k < 6; k++) bytes_f64(&b, f[k]);
    }
    if (!b.oom) bytes_u32(&b, crc32_update(0, b.b, b.len));
    int rc = b.oom ? set_error(err, "%s: out of memory writing the checkpoint", path) : file_write_atomic(path, b.b, b.len, err);
    free(b.b);
    return rc;
}

/* the fields after the settings, into a fresh m2 and the caller's o and log (these two only when
 * everything was read); NULL, or what is wrong */
static const char *read_state(cursor_t *c, int *epochs, double *seconds, model_t *m2, optimizer_t *o, train_log *log,
                              char *err) {
    *epochs = (int)cursor_u32(c);
    *seconds = cursor_f64(c);
    const uint64_t ml = cursor_u64(c);
    const uint8_t *mb = cursor_take(c, ml > c->left ? c->left + 1 : (size_t)ml);
    if (!mb) return "truncated";
    if (model_load_mem(m2, mb, (size_t)ml, err)) return "its model does not load";
    const uint64_t n = cursor_u64(c);
    if (n != o->n) return "its optimizer is of another size";
    float *state = malloc(sizeof(float) * 2 * (size_t)(n ? n : 1));
    if (!state) return "out of memory";
    for (size_t i = 0; i < 2 * n; i++) state[i] = cursor_f32(c);
    const int64_t t = (int64_t)cursor_u64(c);
    const uint32_t kl = cursor_u32(c);
    const uint8_t *meta = cursor_take(c, kl);
    const uint32_t rows = cursor_u32(c);
    if (!c->short_ && (kl >= TRAINLOG_META_LEN || rows > TRAINLOG_MAX_EPOCHS)) {
        free(state);
        return "its log is longer than this build keeps";
    }
    train_log *tmp = calloc(1, sizeof *tmp);
    if (!tmp) {
        free(state);
        return "out of memory";
    }
    if (meta) memcpy(tmp->meta, meta, kl);
    for (uint32_t i = 0; i < rows && !c->short_; i++) {
        log_row *r = &tmp->row[tmp->n++];
        r->epoch = (int)cursor_u32(c);
        double *f[6] = {&r->train_loss, &r->train_acc, &r->val_loss, &r->val_acc, &r->lr, &r->seconds};
        for (int k = 0; k < 6; k++) *f[k] = cursor_f64(c);
    }
    const char *why = c->short_ ? "truncated" : c->left != 4 ? "it has bytes after its fields"
                      : *epochs < 1 ? "it records no finished epoch" : NULL;
    if (!why) { /* all read: only now is anything changed */
        memcpy(o->m, state, sizeof(float) * 2 * (size_t)n);
        o->t = (long)t;
        *log = *tmp;
    }
    free(state), free(tmp);
    return why;
}

int checkpoint_load(const char *path, const char *settings, double *seconds, model_t *m, optimizer_t *o,
                    train_log *log, char *err) {
    uint8_t *b;
    size_t len;
    FILE *f = fopen(path, "rb");
    if (!f) return errno == ENOENT ? 0 : set_error(err, "%s: cannot open: %s", path, strerror(errno));
    fclose(f);
    if (file_read_all(path, CHECKPOINT_MAX_BYTES, &b, &len, err)) return -1;
    cursor_t c = {b, len, 0};
    const char *why = NULL;
    const uint8_t *magic = cursor_take(&c, 8);
    const uint32_t version = cursor_u32(&c), sl = cursor_u32(&c);
    const uint8_t *s = cursor_take(&c, sl);
    if (!magic || memcmp(magic, CKP_MAGIC, 8)) why = "not a checkpoint";
    else if (version != CHECKPOINT_VERSION) why = "a checkpoint of another format version";
    else if (len < 4 || crc32_update(0, b, len - 4) != le_get_u32(b + len - 4)) why = "CRC mismatch (truncated or damaged)";
    else if (!s || sl != strlen(settings) || memcmp(s, settings, sl)) why = "it was made with other settings";
    model_t m2;
    memset(&m2, 0, sizeof m2);
    int epochs = 0;
    char merr[ERR_LEN] = "";
    if (!why) why = read_state(&c, &epochs, seconds, &m2, o, log, merr);
    free(b);
    if (why) {
        model_free(&m2);
        return set_error(err, "%s: %s%s%s", path, why, merr[0] ? ": " : "", merr);
    }
    model_free(m);
    *m = m2;
    return epochs;
}
