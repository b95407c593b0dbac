/* Every layer's backward pass against finite differences of its forward pass.
 *
 * For a layer y = f(x; w) we take the scalar L = Σ R⊙y for a fixed random R,
 * so dL/dy = R. The backward pass, given dout = R, must then agree with the
 * central difference (L(x + ε) - L(x - ε)) / 2ε for each checked input and
 * parameter. Inputs to ReLU and max pooling are kept away from their kinks,
 * where a finite difference is meaningless. */
#include <stdlib.h>
#include <string.h>

#include "layers.h"
#include "model.h"
#include "rng.h"
#include "test.h"
#include "train.h"

#define EPS 1e-2f

typedef enum { G_CONV, G_FC, G_BN, G_RELU, G_POOL, G_GAP, G_DROP, G_XENT } gkind;

typedef struct {
    gkind kind;
    int B, C, H, W, OC, k, pad, s;
    size_t nin, nout;
    float *in, *w, *b, *out, *R;
    float *col, *dws, *mean, *rstd, *rm, *rv, *mask, *probs, *targets;
} gctx;

static double loss(gctx *c) {
    switch (c->kind) {
    case G_CONV:
        conv2d_forward(c->out, c->in, c->w, c->b, c->B, c->C, c->H, c->W, c->OC, c->k, c->pad, c->col);
        break;
    case G_FC:
        fc_forward(c->out, c->in, c->w, c->b, c->B, c->C, c->OC);
        break;
    case G_BN:
        batchnorm_forward_train(c->out, c->mean, c->rstd, c->rm, c->rv, c->in, c->w, c->b, c->C,
                                (size_t)c->B * c->H * c->W, 0.1f, 1e-5f, 0);
        break;
    case G_RELU:
        relu_forward(c->out, c->in, c->nin);
        break;
    case G_POOL:
        maxpool_forward(c->out, c->in, (size_t)c->B * c->C, c->H, c->W, c->s);
        break;
    case G_GAP:
        gap_forward(c->out, c->in, (size_t)c->B * c->C, c->H * c->W);
        break;
    case G_DROP:
        dropout_forward(c->out, c->mask, c->in, c->nin, 0.4f, 99); /* same seed: same mask each time */
        break;
    case G_XENT:
        return softmax_xent_forward(c->probs, c->in, c->targets, c->B, c->C);
    }
    double s = 0.0;
    for (size_t i = 0; i < c->nout; i++) s += (double)c->R[i] * c->out[i];
    return s;
}

static void check(gctx *c, const char *what, float *x, const float *g, size_t n, rng_t *r) {
    int bad = 0, samples = n < 40 ? (int)n : 40;
    for (int s = 0; s < samples; s++) {
        size_t i = n < 40 ? (size_t)s : rng_below(r, (uint32_t)n);
        float orig = x[i];
        x[i] = orig + EPS;
        double lp = loss(c);
        x[i] = orig - EPS;
        double lm = loss(c);
        x[i] = orig;
        double num = (lp - lm) / (2.0 * EPS), ana = g[i];
        if (fabs(num - ana) > 2e-2 * fmax(0.05, fmax(fabs(num), fabs(ana)))) {
            if (!bad++) fprintf(stderr, "  %s[%zu]: numeric %.6g, backward %.6g\n", what, i, num, ana);
        }
    }
    CHECK(bad == 0, "%s: %d of %d gradients disagree with finite differences", what, bad, samples);
    loss(c); /* leave the forward state of the unperturbed input */
}

static float *buf(rng_t *r, size_t n, float lo, float hi) {
    float *p = malloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) p[i] = rng_range(r, lo, hi);
    return p;
}

/* values away from zero, so ReLU's kink is more than EPS away */
static void away_from_zero(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = x[i] < 0 ? x[i] - 0.1f : x[i] + 0.1f;
}

void test_gradients(void) {
    rng_t r;
    rng_seed(&r, 5);
    gctx c;

    /* conv2d, with padding, odd sizes */
    memset(&c, 0, sizeof c);
    c = (gctx){.kind = G_CONV, .B = 2, .C = 3, .H = 7, .W = 6, .OC = 4, .k = 3, .pad = 1};
    c.nin = (size_t)c.B * c.C * c.H * c.W;
    c.nout = (size_t)c.B * c.OC * c.H * c.W;
    size_t nw = (size_t)c.OC * c.C * 9;
    c.in = buf(&r, c.nin, -1, 1), c.w = buf(&r, nw, -1, 1), c.b = buf(&r, 4, -1, 1), c.R = buf(&r, c.nout, -1, 1);
    c.out = malloc(sizeof(float) * c.nout);
    c.col = malloc(sizeof(float) * conv2d_col_floats(c.B, c.C, c.H, c.W, 3, 1));
    c.dws = malloc(sizeof(float) * conv2d_dw_scratch_floats(c.C, c.OC, 3) * 64);
    {
        float *din = malloc(sizeof(float) * c.nin), *dw = calloc(nw, 4), *db = calloc(4, 4);
        loss(&c);
        conv2d_backward(din, dw, db, c.R, c.in, c.w, c.B, c.C, c.H, c.W, c.OC, 3, 1, c.col, c.dws);
        check(&c, "conv dx", c.in, din, c.nin, &r);
        check(&c, "conv dw", c.w, dw, nw, &r);
        check(&c, "conv db", c.b, db, 4, &r);
        free(din), free(dw), free(db);
    }
    free(c.in), free(c.w), free(c.b), free(c.R), free(c.out), free(c.col), free(c.dws);

    /* fully connected: in (K=C, B), w (N=OC, K) */
    c = (gctx){.kind = G_FC, .B = 3, .C = 17, .OC = 5};
    c.nin = (size_t)c.C * c.B, c.nout = (size_t)c.OC * c.B;
    c.in = buf(&r, c.nin, -1, 1), c.w = buf(&r, 85, -1, 1), c.b = buf(&r, 5, -1, 1), c.R = buf(&r, c.nout, -1, 1);
    c.out = malloc(sizeof(float) * c.nout);
    {
        float *din = malloc(sizeof(float) * c.nin), *dw = calloc(85, 4), *db = calloc(5, 4);
        loss(&c);
        fc_backward(din, dw, db, c.R, c.in, c.w, c.B, c.C, c.OC);
        check(&c, "fc dx", c.in, din, c.nin, &r);
        check(&c, "fc dw", c.w, dw, 85, &r);
        check(&c, "fc db", c.b, db, 5, &r);
        free(din), free(dw), free(db);
    }
    free(c.in), free(c.w), free(c.b), free(c.R), free(c.out);

    /* batch norm: every output depends on every input of its channel */
    c = (gctx){.kind = G_BN, .B = 3, .C = 4, .H = 3, .W = 2};
    c.nin = c.nout = (size_t)c.B * c.C * c.H * c.W;
    c.in = buf(&r, c.nin, -2, 2), c.w = buf(&r, 4, 0.5f, 1.5f), c.b = buf(&r, 4, -1, 1), c.R = buf(&r, c.nout, -1, 1);
    c.out = malloc(sizeof(float) * c.nout);
    c.mean = malloc(16), c.rstd = malloc(16), c.rm = calloc(4, 4), c.rv = calloc(4, 4);
    {
        float *din = malloc(sizeof(float) * c.nin), *dg = calloc(4, 4), *dbeta = calloc(4, 4);
        loss(&c);
        batchnorm_backward(din, dg, dbeta, c.R, c.in, c.mean, c.rstd, c.w, c.C, (size_t)c.B * c.H * c.W);
        check(&c, "bn dx", c.in, din, c.nin, &r);
        check(&c, "bn dgamma", c.w, dg, 4, &r);
        check(&c, "bn dbeta", c.b, dbeta, 4, &r);
        free(din), free(dg), free(dbeta);
    }
    free(c.in), free(c.w), free(c.b), free(c.R), free(c.out), free(c.mean), free(c.rstd), free(c.rm), free(c.rv);

    /* ReLU */
    c = (gctx){.kind = G_RELU};
    c.nin = c.nout = 50;
    c.in = buf(&r, 50, -1, 1), c.R = buf(&r, 50, -1, 1), c.out = malloc(200);
    away_from_zero(c.in, 50);
    {
        float din[50];
        loss(&c);
        relu_backward(din, c.R, c.out, 50);
        check(&c, "relu dx", c.in, din, 50, &r);
    }
    free(c.in), free(c.R), free(c.out);

    /* max pooling 2x2 and 3x3, with leftover rows/cols; window values well apart */
    for (int s = 2; s <= 3; s++) {
        c = (gctx){.kind = G_POOL, .B = 2, .C = 2, .H = 7, .W = 8, .s = s};
        c.nin = (size_t)c.B * c.C * c.H * c.W;
        c.nout = (size_t)c.B * c.C * (c.H / s) * (c.W / s);
        c.in = malloc(sizeof(float) * c.nin);
        for (size_t i = 0; i < c.nin; i++) c.in[i] = 0.1f * (float)((i * 37) % c.nin);
        c.R = buf(&r, c.nout, -1, 1), c.out = malloc(sizeof(float) * c.nout);
        float *din = malloc(sizeof(float) * c.nin);
        loss(&c);
        maxpool_backward(din, c.R, c.in, c.out, (size_t)c.B * c.C, c.H, c.W, s, 0);
        check(&c, s == 2 ? "maxpool2 dx" : "maxpool3 dx", c.in, din, c.nin, &r);
        free(din), free(c.in), free(c.R), free(c.out);
    }

    /* global average pooling */
    c = (gctx){.kind = G_GAP, .B = 2, .C = 3, .H = 4, .W = 5};
    c.nin = 120, c.nout = 6;
    c.in = buf(&r, 120, -1, 1), c.R = buf(&r, 6, -1, 1), c.out = malloc(24);
    {
        float din[120];
        loss(&c);
        gap_backward(din, c.R, 6, 20);
        check(&c, "gap dx", c.in, din, 120, &r);
    }
    free(c.in), free(c.R), free(c.out);

    /* dropout with a fixed mask */
    c = (gctx){.kind = G_DROP};
    c.nin = c.nout = 64;
    c.in = buf(&r, 64, -1, 1), c.R = buf(&r, 64, -1, 1), c.out = malloc(256), c.mask = malloc(256);
    {
        float din[64];
        loss(&c);
        dropout_backward(din, c.R, c.mask, 64);
        check(&c, "dropout dx", c.in, din, 64, &r);
        int zeros = 0;
        for (int i = 0; i < 64; i++) zeros += c.mask[i] == 0.0f;
        CHECK(zeros > 10 && zeros < 45, "dropout p=0.4 zeroed %d of 64", zeros);
    }
    free(c.in), free(c.R), free(c.out), free(c.mask);

    /* softmax cross-entropy, soft targets */
    c = (gctx){.kind = G_XENT, .B = 3, .C = 10};
    c.nin = 30;
    c.in = buf(&r, 30, -3, 3), c.probs = malloc(120), c.targets = malloc(120);
    for (int b = 0; b < 3; b++)
        for (int j = 0; j < 10; j++) c.targets[b * 10 + j] = 0.01f + (j == b ? 0.9f : 0.0f);
    {
        float d[30];
        loss(&c);
        softmax_xent_backward(d, c.probs, c.targets, 3, 10);
        check(&c, "softmax-xent dlogits", c.in, d, 30, &r);
    }
    free(c.in), free(c.probs), free(c.targets);
}

/* The whole model: model_backward against finite differences of the loss,
 * through conv, bn, relu, pool, flatten, dropout-free fc layers. */
void test_model_gradient(void) {
    char err[ERR_LEN];
    model_t m;
    int rc = model_init(&m, "conv4k3,bn,relu,pool2,conv6k3p0,relu,fc12,bn,relu,fc10", err);
    CHECK(rc == 0, "model_init: %s", err);
    if (rc) return;
    model_init_weights(&m, 3);
    const int B = 3;
    workspace_t ws;
    CHECK(workspace_init(&ws, &m, B, 1, err) == 0, "workspace: %s", err);
    rng_t r;
    rng_seed(&r, 8);
    float *x = malloc(sizeof(float) * B * IMG_PIXELS), t[3 * N_CLASSES] = {0}, probs[3 * N_CLASSES];
    for (int i = 0; i < B * IMG_PIXELS; i++) x[i] = rng_uniform(&r);
    for (int b = 0; b < B; b++) t[b * N_CLASSES + b + 2] = 1.0f;
    float *grads = calloc(m.n_params, sizeof(float));
    const float *z = model_forward(&m, &ws, x, B, 1, 0);
    softmax_xent_forward(probs, z, t, B, N_CLASSES);
    float dl[3 * N_CLASSES];
    softmax_xent_backward(dl, probs, t, B, N_CLASSES);
    model_backward(&m, &ws, dl, grads);
    int bad = 0;
    for (int s = 0; s < 60; s++) {
        size_t i = rng_below(&r, (uint32_t)m.n_params);
        float orig = m.params[i];
        double l[2];
        for (int k = 0; k < 2; k++) {
            m.params[i] = orig + (k ? -EPS : EPS);
            z = model_forward(&m, &ws, x, B, 1, 0);
            l[k] = softmax_xent_forward(probs, z, t, B, N_CLASSES);
        }
        m.params[i] = orig;
        double num = (l[0] - l[1]) / (2 * EPS), ana = grads[i];
        if (fabs(num - ana) > 3e-2 * fmax(0.02, fmax(fabs(num), fabs(ana)))) {
            if (!bad++) fprintf(stderr, "  param %zu: numeric %.6g, backward %.6g\n", i, num, ana);
        }
    }
    /* a relu kink can be crossed by chance; allow one in sixty */
    CHECK(bad <= 1, "%d of 60 parameter gradients disagree with finite differences", bad);
    free(x), free(grads);
    workspace_free(&ws);
    model_free(&m);
}

/* A batch gives each image the same logits as running it alone (inference),
 * and the fused inference path gives the same logits as the plain layers. */
void test_batch_consistency(void) {
    char err[ERR_LEN];
    model_t m;
    if (model_init(&m, "conv8k5,bn,relu,pool2,conv12k3,bn,relu,pool2,drop20,fc16,relu,fc10", err)) {
        CHECK(0, "%s", err);
        return;
    }
    model_init_weights(&m, 4);
    rng_t r;
    rng_seed(&r, 4);
    for (int i = 0; i < m.n_layers; i++) /* non-trivial BN statistics: means near 0, variances near 1 */
        if (m.layer[i].kind == LAYER_BN)
            for (int c = 0; c < m.layer[i].in_c; c++) {
                m.stats[m.layer[i].stat + c] = rng_range(&r, -0.3f, 0.3f);
                m.stats[m.layer[i].stat + m.layer[i].in_c + c] = rng_range(&r, 0.5f, 1.5f);
            }
    for (int i = 0; i < m.n_layers; i++) /* and non-trivial BN scales and shifts, biases too */
        if (m.layer[i].kind == LAYER_BN || m.layer[i].kind == LAYER_CONV)
            for (size_t j = 0; j < m.layer[i].n_b; j++) m.params[m.layer[i].b + j] = rng_range(&r, -0.5f, 0.5f);
    model_touch(&m);
    const int B = 7;
    workspace_t wb, w1;
    workspace_init(&wb, &m, B, 0, err);
    workspace_init(&w1, &m, 1, 0, err);
    float *x = malloc(sizeof(float) * B * IMG_PIXELS);
    for (int i = 0; i < B * IMG_PIXELS; i++) x[i] = rng_uniform(&r);
    float zb[7 * N_CLASSES];
    memcpy(zb, model_forward(&m, &wb, x, B, 0, 0), sizeof zb);
    double worst = 0;
    for (int b = 0; b < B; b++) {
        const float *z1 = model_forward(&m, &w1, x + b * IMG_PIXELS, 1, 0, 0);
        for (int j = 0; j < N_CLASSES; j++) worst = fmax(worst, fabs(z1[j] - zb[b * N_CLASSES + j]));
    }
    CHECK(worst < 1e-4, "batch vs single logits differ by %g", worst);

    /* the fused, folded inference path against the layers run one by one with the reference kernels */
    float *cur = malloc(sizeof(float) * 8 * IMG_PIXELS * 4), *nxt = malloc(sizeof(float) * 8 * IMG_PIXELS * 4);
    worst = 0;
    for (int b = 0; b < B; b++) {
        memcpy(cur, x + b * IMG_PIXELS, sizeof(float) * IMG_PIXELS);
        for (int i = 0; i < m.n_layers; i++) {
            const layer_t *l = &m.layer[i];
            const float *P = m.params;
            int HW = l->in_h * l->in_w;
            size_t n = (size_t)l->in_c * HW;
            switch (l->kind) {
            case LAYER_CONV:
                conv2d_forward_ref(nxt, cur, P + l->w, P + l->b, 1, l->in_c, l->in_h, l->in_w, l->out_c, l->k, l->pad);
                break;
            case LAYER_BN:
                batchnorm_forward_infer(nxt, cur, P + l->w, P + l->b, m.stats + l->stat, m.stats + l->stat + l->in_c,
                                        l->in_c, (size_t)HW, 1e-5f);
                break;
            case LAYER_RELU:
                for (size_t j = 0; j < n; j++) nxt[j] = cur[j] > 0 ? cur[j] : 0;
                break;
            case LAYER_POOL:
                maxpool_forward(nxt, cur, (size_t)l->in_c, l->in_h, l->in_w, l->k);
                break;
            case LAYER_FC:
                fc_forward_ref(nxt, cur, P + l->w, P + l->b, 1, (int)n, l->out_c);
                break;
            default:
                memcpy(nxt, cur, sizeof(float) * n);
            }
            float *t = cur;
            cur = nxt, nxt = t;
        }
        const float *z1 = model_forward(&m, &w1, x + b * IMG_PIXELS, 1, 0, 0);
        double spread = 0;
        for (int j = 0; j < N_CLASSES; j++) {
            worst = fmax(worst, fabs(z1[j] - cur[j]));
            spread = fmax(spread, fabs(cur[j] - cur[0]));
        }
        CHECK(spread > 0.05, "image %d: the logits hardly differ (%g): a degenerate test", b, spread);
    }
    CHECK(worst < 1e-4, "fused inference differs from the layer-by-layer reference by %g", worst);
    free(cur), free(nxt);
    free(x);
    workspace_free(&wb), workspace_free(&w1);
    model_free(&m);
}
