#include "train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "layers.h"
#include "rng.h"

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

float lr_one_cycle(long step, long total, float peak, float warmup) {
    long w = (long)(warmup * (float)total);
    if (step < w) return peak / 25.0f + (peak - peak / 25.0f) * (float)step / (float)w;
    float t = total > w ? (float)(step - w) / (float)(total - w) : 1.0f;
    if (t > 1.0f) t = 1.0f;
    float lo = peak / 2500.0f;
    return lo + (peak - lo) * 0.5f * (1.0f + cosf(3.14159265f * t));
}

int argmax10(const float *v) {
    int best = 0;
    for (int j = 1; j < N_CLASSES; j++)
        if (v[j] > v[best]) best = j;
    return best;
}

step_result train_step(model_t *m, workspace_t *ws, optimizer_t *o, float *grads, const float *x,
                       const float *targets, const int *labels, int B, float lr, uint64_t seed) {
    step_result r = {0};
    const float *logits = model_forward(m, ws, x, B, 1, seed);
    float *probs = ws->probs, *dlogits = ws->logits; /* logits are not needed once probs exist */
    r.loss = softmax_xent_forward(probs, logits, targets, B, N_CLASSES);
    for (int b = 0; b < B; b++)
        if (labels[b] >= 0 && argmax10(probs + b * N_CLASSES) == labels[b]) r.correct++;
    softmax_xent_backward(dlogits, probs, targets, B, N_CLASSES);
    memset(grads, 0, sizeof(float) * m->n_params);
    model_backward(m, ws, dlogits, grads);
    optimizer_step(o, m, m->params, grads, lr);
    return r;
}

void batch_prepare(float *x, float *targets, int *labels, const uint8_t *pixels, const uint8_t *all_labels,
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

int evaluate(model_t *m, workspace_t *ws, const uint8_t *pixels, const uint8_t *labels, int n, float *logits) {
    const int B = ws->max_batch;
    float *x = malloc(sizeof(float) * (size_t)B * IMG_PIXELS);
    if (!x) return -1;
    int correct = 0;
    for (int i = 0; i < n; i += B) {
        int nb = n - i < B ? n - i : B;
        for (size_t j = 0; j < (size_t)nb * IMG_PIXELS; j++) x[j] = pixels[(size_t)i * IMG_PIXELS + j] * (1.0f / 255.0f);
        const float *z = model_forward(m, ws, x, nb, 0, 0);
        for (int b = 0; b < nb; b++) {
            if (logits) memcpy(logits + (size_t)(i + b) * N_CLASSES, z + b * N_CLASSES, sizeof(float) * N_CLASSES);
            if (labels && argmax10(z + b * N_CLASSES) == labels[i + b]) correct++;
        }
    }
    free(x);
    return correct;
}

double mean_nll(const float *logits, const uint8_t *labels, int n, float T) {
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

float calibrate_temperature(const float *logits, const uint8_t *labels, int n) {
    /* golden-section search on log T in [log 0.05, log 20]; the NLL is unimodal in T */
    double a = log(0.05), b = log(20.0), g = 0.6180339887;
    double c = b - g * (b - a), d = a + g * (b - a);
    double fc = mean_nll(logits, labels, n, (float)exp(c)), fd = mean_nll(logits, labels, n, (float)exp(d));
    for (int it = 0; it < 60; it++) {
        if (fc < fd) {
            b = d, d = c, fd = fc;
            c = b - g * (b - a);
            fc = mean_nll(logits, labels, n, (float)exp(c));
        } else {
            a = c, c = d, fc = fd;
            d = a + g * (b - a);
            fd = mean_nll(logits, labels, n, (float)exp(d));
        }
    }
    return (float)exp(0.5 * (a + b));
}
