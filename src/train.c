#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "train.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compose.h"
#include "finetune.h"
#include "layers.h"
#include "rng.h"
#include "skeleton.h"

int optimizer_init(optimizer_t *o, opt_kind kind, size_t n, char *err) {
    memset(o, 0, sizeof *o);
    o->kind = kind;
    o->momentum = 0.9f;
    o->beta1 = 0.9f, o->beta2 = 0.999f, o->eps = 1e-8f;
    o->weight_decay = kind == OPT_SGD ? 5e-4f : 1e-2f;
    o->n = n;
    o->m = calloc(2 * n + 1, sizeof(float));
    if (!o->m) return set_error(err, "out of memory for optimizer state");
    o->v = o->m + n;
    return 0;
}

void optimizer_free(optimizer_t *o) {
    free(o->m);
    memset(o, 0, sizeof *o);
}

static void update_range(optimizer_t *o, float *p, const float *g, size_t off, size_t n, float lr, float wd) {
    float *m = o->m + off, *v = o->v + off;
    p += off, g += off;
    if (o->kind == OPT_SGD) {
        /* Nesterov: v = mu·v + g + wd·p ; p -= lr·(g + wd·p + mu·v) */
        const float mu = o->momentum;
        for (size_t i = 0; i < n; i++) {
            float gi = g[i] + wd * p[i];
            m[i] = mu * m[i] + gi;
            p[i] -= lr * (gi + mu * m[i]);
        }
    } else {
        const float b1 = o->beta1, b2 = o->beta2;
        const float c1 = 1.0f - powf(b1, (float)o->t), c2 = 1.0f - powf(b2, (float)o->t);
        for (size_t i = 0; i < n; i++) {
            m[i] = b1 * m[i] + (1.0f - b1) * g[i];
            v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
            p[i] -= lr * ((m[i] / c1) / (sqrtf(v[i] / c2) + o->eps) + wd * p[i]);
        }
    }
}

void optimizer_step(optimizer_t *o, model_t *mod, float *params, const float *grads, float lr) {
    o->t++;
    model_touch(mod);
    for (int i = 0; i < mod->n_layers; i++) {
        const layer_t *l = &mod->layer[i];
        int decay = l->kind == LAYER_CONV || l->kind == LAYER_FC;
        if (l->n_w) update_range(o, params, grads, l->w, l->n_w, lr, decay ? o->weight_decay : 0.0f);
        if (l->n_b) update_range(o, params, grads, l->b, l->n_b, lr, 0.0f);
    }
}

float train_lr_one_cycle(long step, long total, float peak, float warmup) {
    long w = (long)(warmup * (float)total);
    if (step < w) return peak / 25.0f + (peak - peak / 25.0f) * (float)step / (float)w;
    float t = total > w ? (float)(step - w) / (float)(total - w) : 1.0f;
    if (t > 1.0f) t = 1.0f;
    float lo = peak / 2500.0f;
    return lo + (peak - lo) * 0.5f * (1.0f + cosf(3.14159265f * t));
}

step_result train_step(model_t *m, workspace_t *ws, optimizer_t *o, float *grads, const float *x,
                       const float *targets, const int *labels, int B, float lr, uint64_t seed) {
    step_result r = {0};
    const float *logits = model_forward(m, ws, x, B, 1, seed);
    float *probs = ws->probs, *dlogits = ws->logits; /* logits are not needed once probs exist */
    r.loss = softmax_xent_forward(probs, logits, targets, B, N_CLASSES);
    for (int b = 0; b < B; b++)
        if (labels[b] >= 0 && model_argmax(probs + b * N_CLASSES) == labels[b]) r.correct++;
    softmax_xent_backward(dlogits, probs, targets, B, N_CLASSES);
    memset(grads, 0, sizeof(float) * m->n_params);
    model_backward(m, ws, dlogits, grads);
    optimizer_step(o, m, m->params, grads, lr);
    return r;
}

void train_batch_prepare(float *x, float *targets, int *labels, const uint8_t *pixels, const uint8_t *all_labels,
                   const int *idx, int B, const augment_params *aug, float smoothing, uint64_t seed) {
#pragma omp parallel for schedule(static) if (aug && B > 8)
    for (int i = 0; i < B; i++) {
        const uint8_t *src = pixels + (size_t)idx[i] * IMG_PIXELS;
        float *dst = x + (size_t)i * IMG_PIXELS;
        if (aug) {
            rng_t r = rng_derive(seed, (uint64_t)idx[i]);
            augment_image(dst, src, IMG_SIDE, aug, &r);
        } else {
            for (int j = 0; j < IMG_PIXELS; j++) dst[j] = src[j] * (1.0f / 255.0f);
        }
        int y = all_labels[idx[i]];
        labels[i] = y < N_CLASSES ? y : -1;
        for (int j = 0; j < N_CLASSES; j++) /* NOT_A_DIGIT: uniform, "none of these" */
            targets[i * N_CLASSES + j] = y < N_CLASSES ? smoothing / N_CLASSES + (j == y ? 1.0f - smoothing : 0.0f)
                                                       : 1.0f / N_CLASSES;
    }
}

/* the counting, with the caller's scratch x for ws->max_batch images */
static int evaluate_with(model_t *m, workspace_t *ws, float *x, const uint8_t *pixels, const uint8_t *labels, int n,
                         float *logits) {
    const int B = ws->max_batch;
    int correct = 0;
    for (int i = 0; i < n; i += B) {
        int nb = n - i < B ? n - i : B;
        for (size_t j = 0; j < (size_t)nb * IMG_PIXELS; j++) x[j] = pixels[(size_t)i * IMG_PIXELS + j] * (1.0f / 255.0f);
        const float *z = model_forward(m, ws, x, nb, 0, 0);
        for (int b = 0; b < nb; b++) {
            if (logits) memcpy(logits + (size_t)(i + b) * N_CLASSES, z + b * N_CLASSES, sizeof(float) * N_CLASSES);
            if (labels && model_argmax(z + b * N_CLASSES) == labels[i + b]) correct++;
        }
    }
    return correct;
}

int train_evaluate(model_t *m, workspace_t *ws, const uint8_t *pixels, const uint8_t *labels, int n, float *logits,
                   char *err) {
    float *x = malloc(sizeof(float) * (size_t)ws->max_batch * IMG_PIXELS);
    if (!x) return set_error(err, "out of memory evaluating %d images", n);
    const int correct = evaluate_with(m, ws, x, pixels, labels, n, logits);
    free(x);
    return correct;
}

double train_mean_nll(const float *logits, const uint8_t *labels, int n, float T) {
    double s = 0.0;
    for (int i = 0; i < n; i++) {
        const float *z = logits + (size_t)i * N_CLASSES;
        float mx = z[0];
        for (int j = 1; j < N_CLASSES; j++) mx = z[j] > mx ? z[j] : mx;
        double se = 0.0;
        for (int j = 0; j < N_CLASSES; j++) se += exp((z[j] - mx) / T);
        s += log(se) - (z[labels[i]] - mx) / T;
    }
    return n ? s / n : 0.0;
}

float train_calibrate_temperature(const float *logits, const uint8_t *labels, int n) {
    /* golden-section search on log T in [log 0.05, log 20]; the NLL is unimodal in T */
    double a = log(0.05), b = log(20.0), g = 0.6180339887;
    double c = b - g * (b - a), d = a + g * (b - a);
    double fc = train_mean_nll(logits, labels, n, (float)exp(c)), fd = train_mean_nll(logits, labels, n, (float)exp(d));
    for (int it = 0; it < 60; it++) {
        if (fc < fd) {
            b = d, d = c, fd = fc;
            c = b - g * (b - a);
            fc = train_mean_nll(logits, labels, n, (float)exp(c));
        } else {
            a = c, c = d, fc = fd;
            d = a + g * (b - a);
            fd = train_mean_nll(logits, labels, n, (float)exp(d));
        }
    }
    return (float)exp(0.5 * (a + b));
}

/* ---- a whole training run ------------------------------------------------------------------ */

static double seconds_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void note(const train_callbacks *cb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(const train_callbacks *cb, const char *fmt, ...) {
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (cb->note) cb->note(cb->ctx, line);
}

static int stopped(const train_callbacks *cb) { return cb->stop && *cb->stop; }

static void log_value(train_log *log, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void log_value(train_log *log, const char *key, const char *fmt, ...) {
    char v[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v, sizeof v, fmt, ap);
    va_end(ap);
    trainlog_set(log, key, v);
}

/* what a run works with besides the model: two workspaces and the batch's buffers, one allocation each */
typedef struct {
    workspace_t ws, ev; /* training (the batch), and evaluation (500 at a time) */
    float *x, *eval_x, *targets, *grads, *val_logits, *ema, *keep;
    int *ylab, *order;
} run_t;

static void run_free(run_t *u) {
    workspace_free(&u->ws), workspace_free(&u->ev);
    free(u->x), free(u->eval_x), free(u->targets), free(u->grads), free(u->val_logits), free(u->ema), free(u->keep);
    free(u->ylab), free(u->order);
}

static int run_init(run_t *u, const model_t *m, const train_recipe *r, char *err) {
    memset(u, 0, sizeof *u);
    if (workspace_init(&u->ws, m, r->batch, 1, err) || workspace_init(&u->ev, m, 500, 0, err)) return -1;
    const size_t nv = (size_t)(r->n_val ? r->n_val : 1), n_all = m->n_params + m->n_stats;
    u->x = malloc(sizeof(float) * (size_t)r->batch * IMG_PIXELS);
    u->eval_x = malloc(sizeof(float) * (size_t)u->ev.max_batch * IMG_PIXELS);
    u->targets = malloc(sizeof(float) * (size_t)r->batch * N_CLASSES);
    u->grads = malloc(sizeof(float) * m->n_params);
    u->val_logits = malloc(sizeof(float) * nv * N_CLASSES);
    u->ylab = malloc(sizeof(int) * (size_t)r->batch);
    u->order = malloc(sizeof(int) * (size_t)r->n_train);
    if (r->ema > 0) u->ema = malloc(sizeof(float) * n_all), u->keep = malloc(sizeof(float) * n_all);
    if (!u->x || !u->eval_x || !u->targets || !u->grads || !u->val_logits || !u->ylab || !u->order || (r->ema > 0 && (!u->ema || !u->keep)))
        return set_error(err, "out of memory for training");
    if (u->ema) memcpy(u->ema, m->params, sizeof(float) * n_all);
    return 0;
}

/* the images drawn afresh for this epoch */
static int redraw_images(const train_recipe *r, int epoch, char *err) {
    const train_redrawn *d = r->redrawn;
    if (!d) return 0;
    if (d->pens) {
        const int n = pen_render_set(d->pens, d->writers, 1, d->copies, &d->aug, 0, NULL, NULL, 0, err);
        if (n < 0 || pen_render_set(d->pens, d->writers, 1, d->copies, &d->aug, rng_derive(r->seed, 5000 + (uint64_t)epoch).state,
                                    r->pixels + (size_t)d->pen_at * IMG_PIXELS, r->labels + d->pen_at, n, err) != n)
            return -1;
    }
    if (d->traced && d->redraw) { /* `redraw` of the traced digits, drawn at random */
        const uint64_t seed = rng_derive(r->seed, 6000 + (uint64_t)epoch).state;
        pen_set pick = *d->traced;
        pick.digit = malloc(sizeof *pick.digit * (size_t)d->redraw);
        if (!pick.digit) return set_error(err, "out of memory");
        rng_t g = rng_derive(seed, 0);
        for (int i = 0; i < d->redraw; i++) pick.digit[i] = d->traced->digit[rng_below(&g, (uint32_t)d->traced->n_digits)];
        pick.n_digits = d->redraw;
        const int k = pen_render_set(&pick, PEN_WRITER_ANY, 0, 1, &d->aug, seed, r->pixels + (size_t)d->redraw_at * IMG_PIXELS,
                                     r->labels + d->redraw_at, d->redraw, err);
        free(pick.digit);
        if (k != d->redraw) return -1;
    }
    return 0;
}

/* how many of the held-out images the model gets right (their logits into u->val_logits when logits) */
static int validate(model_t *m, run_t *u, const train_recipe *r, int logits) {
    return r->n_val ? evaluate_with(m, &u->ev, u->eval_x, r->val_pix, r->val_lab, r->n_val, logits ? u->val_logits : NULL) : 0;
}

/* One epoch: a fresh order, every full batch through the schedule (the last partial batch is
 * dropped), the moving average; fills row's training loss, accuracy and rate. */
static int train_epoch(model_t *m, optimizer_t *opt, run_t *u, const train_recipe *r, int epoch, const train_callbacks *cb,
                       log_row *row, char *err) {
    const int batches = r->n_train / r->batch;
    const long total = (long)r->epochs * batches;
    rng_t er = rng_derive(r->seed, 1000 + (uint64_t)epoch);
    memcpy(u->order, r->train_idx, sizeof(int) * (size_t)r->n_train);
    rng_shuffle(&er, u->order, r->n_train);
    /* the last clean_tail of the epochs see the images as they are */
    const int augment = r->augment && epoch < r->epochs - (int)lroundf(r->clean_tail * (float)r->epochs);
    const size_t n_all = m->n_params + m->n_stats;
    double loss_sum = 0.0;
    long seen = 0, correct = 0;
    float lr = 0.0f;
    for (int bi = 0; bi < batches && !stopped(cb); bi++) {
        const long step = (long)epoch * batches + bi;
        lr = train_lr_one_cycle(step, total, r->lr, 0.15f);
        const uint64_t seed = rng_u64(&er);
        train_batch_prepare(u->x, u->targets, u->ylab, r->pixels, r->labels, u->order + (size_t)bi * r->batch, r->batch,
                      augment ? &r->aug : NULL, r->smoothing, seed);
        const step_result sr = train_step(m, &u->ws, opt, u->grads, u->x, u->targets, u->ylab, r->batch, lr, seed);
        if (!isfinite(sr.loss)) return set_error(err, "the loss became NaN or infinite: lower the learning rate");
        if (u->ema) { /* the decay ramps up over the first steps, so the start does not weigh for long */
            const float dk = fminf(r->ema, (1.0f + (float)step) / (10.0f + (float)step));
            for (size_t q = 0; q < n_all; q++) u->ema[q] = dk * u->ema[q] + (1.0f - dk) * m->params[q];
        }
        loss_sum += sr.loss * r->batch;
        correct += sr.correct;
        seen += r->batch;
        if (cb->batch) cb->batch(cb->ctx, epoch + 1, bi + 1, batches, loss_sum / seen, (double)correct / seen);
    }
    row->epoch = epoch + 1;
    row->train_loss = seen ? loss_sum / seen : 0.0;
    row->train_acc = seen ? (double)correct / seen : 0.0;
    row->lr = lr;
    return 0;
}

/* the held-out images: row's validation loss and accuracy; with ema, how many the average gets right
 * (the average stays in the model after the last epoch); returns that count, -1 without ema */
static int train_validate(model_t *m, run_t *u, const train_recipe *r, int epoch, log_row *row) {
    const int vc = validate(m, u, r, 1);
    row->val_acc = r->n_val ? (double)vc / r->n_val : 0.0;
    row->val_loss = r->n_val ? train_mean_nll(u->val_logits, r->val_lab, r->n_val, 1.0f) : 0.0;
    if (!u->ema) return -1;
    const size_t n_all = m->n_params + m->n_stats;
    memcpy(u->keep, m->params, sizeof(float) * n_all);
    memcpy(m->params, u->ema, sizeof(float) * n_all);
    model_touch(m);
    const int ec = validate(m, u, r, 0);
    if (epoch + 1 < r->epochs) { /* back to the weights themselves; after the last epoch the average stays */
        memcpy(m->params, u->keep, sizeof(float) * n_all);
        model_touch(m);
    }
    return ec;
}

/* After the epochs: hard negatives for the reader (compose.h). The model reads r->mine numbers
 * composed of training digits; the pieces its search tried that are not one digit make a quarter of
 * each batch, with a uniform target, the training images the rest, for r->mine_steps steps at a rate
 * falling from r->mine_lr along half a cosine (the fine-tuning loop of finetune.h). Returns 0, 1 when
 * stopped, or -1. */
static int train_mine(model_t *m, run_t *u, const train_recipe *r, train_log *log, const train_callbacks *cb, char *err) {
    const double t0 = seconds_now();
    uint8_t *neg;
    int n_neg;
    const int from = r->mine_from > 0 && r->mine_from < r->n_train ? r->mine_from : r->n_train;
    note(cb, "hard negatives: reading %d numbers composed of training digits", r->mine);
    if (compose_mine(m, r->pixels, r->train_idx, from, r->mine, rng_mix(r->seed, 0x6e6567), &neg, &n_neg, err))
        return -1;
    note(cb, "hard negatives: %d numbers composed of training digits read, %d pieces that are not one digit (%.0f s)",
         r->mine, n_neg, seconds_now() - t0);
    if (n_neg == 0) {
        free(neg);
        return 0;
    }
    const int n = r->n_train; /* the replay: every training image, pen digits too (MNIST alone made them forgotten) */
    uint8_t *rp = malloc((size_t)n * IMG_PIXELS), *rl = malloc((size_t)n), *nl = malloc((size_t)n_neg);
    if (!rp || !rl || !nl) {
        free(rp), free(rl), free(nl), free(neg);
        return set_error(err, "out of memory for the hard-negative phase");
    }
    for (int i = 0; i < n; i++) { /* the training images, in their order */
        memcpy(rp + (size_t)i * IMG_PIXELS, r->pixels + (size_t)r->train_idx[i] * IMG_PIXELS, IMG_PIXELS);
        rl[i] = r->labels[r->train_idx[i]];
    }
    memset(nl, NOT_A_DIGIT, (size_t)n_neg);
    finetune_params p;
    finetune_defaults(&p);
    p.steps = r->mine_steps, p.batch = r->batch, p.user_frac = 0.25f, p.lr = r->mine_lr;
    p.weight_decay = r->weight_decay, p.smoothing = r->smoothing, p.seed = r->seed, p.aug = r->aug;
    const int before = validate(m, u, r, 0);
    finetune_t f;
    const int rc = finetune_begin(&f, m, neg, nl, n_neg, rp, rl, n, &p, err);
    free(rp), free(rl), free(nl), free(neg); /* finetune_begin copied them */
    if (rc) return -1;
    double loss = 0.0;
    long k = 0;
    while (f.step < p.steps && !stopped(cb)) {
        loss += finetune_step(&f), k++;
        if (!isfinite(f.last_loss)) {
            finetune_end(&f);
            return set_error(err, "the loss became NaN or infinite: lower --mine-lr");
        }
        if (cb->mine_step) cb->mine_step(cb->ctx, f.step, p.steps, loss / (double)k);
    }
    finetune_end(&f);
    if (stopped(cb)) return 1;
    const int after = validate(m, u, r, 0);
    note(cb, "hard negatives: %d steps, mean loss %.4f (%.0f s): validation %d -> %d right of %d", p.steps, loss / (double)k,
         seconds_now() - t0, before, after, r->n_val);
    log_value(log, "mine_numbers", "%d", r->mine);
    log_value(log, "mine_pieces", "%d", n_neg);
    log_value(log, "mine_steps", "%d", p.steps);
    log_value(log, "mine_lr", "%g", (double)p.lr);
    log_value(log, "mine_val_right", "%d->%d/%d", before, after, r->n_val); /* no spaces: the log keeps key=value words */
    log_value(log, "mine_seconds", "%.1f", seconds_now() - t0);
    return 0;
}

/* The end of a run: the weights rounded to quantize_bits (a third of the download, gzipped), the
 * temperature calibrated on the held-out images (the page's confidence), and how the page's "not
 * sure" line (calibrated confidence < UNSURE_BELOW) splits them. */
static void train_finish(model_t *m, run_t *u, const train_recipe *r, train_log *log, const train_callbacks *cb) {
    if (r->quantize_bits) {
        const int before = validate(m, u, r, 1);
        const float change = model_quantize_weights(m, r->quantize_bits);
        const int after = validate(m, u, r, 1);
        note(cb, "weights rounded to %d bits (largest change %.2g): validation %d -> %d right of %d", r->quantize_bits, change,
             before, after, r->n_val);
        log_value(log, "quantized_bits", "%d", r->quantize_bits);
        log_value(log, "val_quantized_right", "%d/%d", after, r->n_val);
    }
    if (r->n_val) {
        validate(m, u, r, 1);
        m->temperature = train_calibrate_temperature(u->val_logits, r->val_lab, r->n_val);
        note(cb, "temperature %.3f: validation NLL %.4f -> %.4f", m->temperature, train_mean_nll(u->val_logits, r->val_lab, r->n_val, 1.0f),
             train_mean_nll(u->val_logits, r->val_lab, r->n_val, m->temperature));
        int above = 0, above_ok = 0, below_ok = 0;
        for (int i = 0; i < r->n_val; i++) {
            float p[N_CLASSES];
            softmax_forward(p, u->val_logits + (size_t)i * N_CLASSES, 1, N_CLASSES, m->temperature);
            const int best = model_argmax(p), ok = best == r->val_lab[i];
            if (p[best] >= UNSURE_BELOW) above++, above_ok += ok;
            else below_ok += ok;
        }
        log_value(log, "val_sure_right", "%d/%d", above_ok, above);
        log_value(log, "val_unsure_right", "%d/%d", below_ok, r->n_val - above);
        note(cb, "calibrated confidence >= %.2f on %d of %d validation images (%d right); below it, %d of %d right", UNSURE_BELOW,
             above, r->n_val, above_ok, below_ok, r->n_val - above);
    }
    log_value(log, "temperature", "%.4f", m->temperature);
}

int train_run(model_t *m, optimizer_t *opt, train_log *log, int start, const train_recipe *r, const train_callbacks *cb,
              char *err) {
    if (r->batch < 1 || r->n_train / r->batch < 1) return set_error(err, "fewer training images than one batch");
    run_t u;
    int rc = run_init(&u, m, r, err);
    for (int epoch = start; !rc && epoch < r->epochs && !stopped(cb); epoch++) {
        log_row *row = &log->row[log->n];
        const double t0 = seconds_now();
        rc = redraw_images(r, epoch, err);
        if (!rc) rc = train_epoch(m, opt, &u, r, epoch, cb, row, err);
        if (rc || stopped(cb)) break;
        const int ec = train_validate(m, &u, r, epoch, row);
        row->seconds = seconds_now() - t0;
        log->n++;
        if (ec >= 0 && epoch + 1 == r->epochs) log_value(log, "ema_val_right", "%d/%d", ec, r->n_val);
        if (cb->epoch) cb->epoch(cb->ctx, row, ec);
    }
    if (!rc && start >= r->epochs && r->epochs > 0 && r->mine) /* resumed into the phase: the last epoch's images */
        rc = redraw_images(r, r->epochs - 1, err);
    if (!rc && !stopped(cb) && r->mine) rc = train_mine(m, &u, r, log, cb, err);
    if (!rc && !stopped(cb)) train_finish(m, &u, r, log, cb);
    run_free(&u);
    return rc < 0 ? -1 : stopped(cb) || rc == 1 ? 1 : 0;
}
