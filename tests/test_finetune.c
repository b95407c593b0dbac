/* test_finetune.c - teaching the shipped model an unusual style.
 *
 * The style is a mirrored 7 (MNIST training 7s flipped left to right), which
 * the shipped model does not read as a 7. Five drawings of each digit (the 7s
 * mirrored) are mixed with a replay sample, as the page does; accuracy on
 * other mirrored 7s must rise well above where it was, and accuracy on
 * ordinary digits must stay where it was. All images are MNIST *training*
 * images, from disjoint ranges. */
#include <stdlib.h>
#include <string.h>

#include "finetune.h"
#include "idx.h"
#include "test.h"

#define N_HELD 100
#define N_KEEP 1000

static void mirror(uint8_t *dst, const uint8_t *src) {
    for (int y = 0; y < IMG_SIDE; y++)
        for (int x = 0; x < IMG_SIDE; x++) dst[y * IMG_SIDE + x] = src[y * IMG_SIDE + IMG_SIDE - 1 - x];
}

static double accuracy(model_t *m, const uint8_t *px, const uint8_t *lbl, int n, char *err) {
    workspace_t ws;
    if (workspace_init(&ws, m, 50, 0, err)) return -1.0;
    int c = train_evaluate(m, &ws, px, lbl, n, NULL, err);
    workspace_free(&ws);
    return c < 0 ? -1.0 : (double)c / n;
}

void test_finetune(void) {
    char err[ERR_LEN];
    dataset_t d;
    model_t m;
    if (test_load_shipped(&d, &m)) return;
    /* the replay sample: the first 30 of each digit among images 0..29999 */
    enum { PER = 30, N_USER_PER = 5 };
    uint8_t *rpx = malloc((size_t)10 * PER * IMG_PIXELS), rlb[10 * PER];
    uint8_t *upx = malloc((size_t)10 * N_USER_PER * IMG_PIXELS), ulb[10 * N_USER_PER];
    uint8_t *hpx = malloc((size_t)N_HELD * IMG_PIXELS), hlb[N_HELD];
    uint8_t *kpx = d.pixels + (size_t)56000 * IMG_PIXELS, *klb = d.labels + 56000;
    CHECK(rpx && upx && hpx, "out of memory");
    if (!rpx || !upx || !hpx) goto done;
    int nr = 0, nu = 0, nh = 0, count[10] = {0};
    for (int i = 0; i < 30000 && nr < 10 * PER; i++)
        if (count[d.labels[i]] < PER) {
            count[d.labels[i]]++;
            memcpy(rpx + (size_t)nr * IMG_PIXELS, d.pixels + (size_t)i * IMG_PIXELS, IMG_PIXELS);
            rlb[nr++] = d.labels[i];
        }
    /* the person's drawings: five of each digit from 50000.., their 7s mirrored */
    memset(count, 0, sizeof count);
    for (int i = 50000; i < 52000 && nu < 10 * N_USER_PER; i++) {
        int y = d.labels[i];
        if (count[y] >= N_USER_PER) continue;
        count[y]++;
        const uint8_t *src = d.pixels + (size_t)i * IMG_PIXELS;
        if (y == 7) mirror(upx + (size_t)nu * IMG_PIXELS, src);
        else memcpy(upx + (size_t)nu * IMG_PIXELS, src, IMG_PIXELS);
        ulb[nu++] = (uint8_t)y;
    }
    /* held back: other mirrored 7s, from 52000.. */
    for (int i = 52000; i < 56000 && nh < N_HELD; i++)
        if (d.labels[i] == 7) mirror(hpx + (size_t)nh * IMG_PIXELS, d.pixels + (size_t)i * IMG_PIXELS), hlb[nh++] = 7;
    CHECK(nr == 10 * PER && nu == 10 * N_USER_PER && nh == N_HELD, "samples %d %d %d", nr, nu, nh);

    double held0 = accuracy(&m, hpx, hlb, nh, err), keep0 = accuracy(&m, kpx, klb, N_KEEP, err);
    finetune_params p;
    finetune_defaults(&p);
    const char *s = getenv("FT_STEPS");
    p.steps = s ? atoi(s) : 100;
    finetune_t f;
    if (finetune_begin(&f, &m, upx, ulb, nu, rpx, rlb, nr, &p, err)) {
        CHECK(0, "finetune_begin: %s", err);
        goto done;
    }
    float first = finetune_step(&f), loss = 0.0f;
    while (f.step < p.steps) loss = finetune_step(&f);
    finetune_end(&f);
    double held1 = accuracy(&m, hpx, hlb, nh, err), keep1 = accuracy(&m, kpx, klb, N_KEEP, err);
    printf("  mirrored 7s held back: %.0f%% -> %.0f%%; other digits: %.1f%% -> %.1f%%; loss %.3f -> %.3f (%d steps)\n",
           100 * held0, 100 * held1, 100 * keep0, 100 * keep1, first, loss, p.steps);
    CHECK(held0 < 0.5, "the shipped model already reads mirrored 7s (%.0f%%): not an unusual style", 100 * held0);
    CHECK(held1 >= held0 + 0.3 && held1 >= 0.7, "held-back mirrored 7s: %.0f%% -> %.0f%%", 100 * held0, 100 * held1);
    CHECK(keep1 >= keep0 - 0.01, "ordinary digits forgotten: %.1f%% -> %.1f%%", 100 * keep0, 100 * keep1);

    /* bad arguments are refused with a message, and nothing is allocated */
    CHECK(finetune_begin(&f, &m, upx, ulb, 0, rpx, rlb, nr, &p, err) == -1 && strstr(err, "drawings"), "no drawings: %s", err);
    ulb[3] = 12;
    CHECK(finetune_begin(&f, &m, upx, ulb, nu, rpx, rlb, nr, &p, err) == -1 && strstr(err, "label 12"), "bad label: %s", err);
    ulb[3] = 0;
    p.steps = 0;
    CHECK(finetune_begin(&f, &m, upx, ulb, nu, rpx, rlb, nr, &p, err) == -1 && strstr(err, "out of range"), "no steps: %s", err);

    /* the same seed gives the same weights */
    p.steps = 4;
    model_t m1, m2;
    if (model_load(&m1, test_model_path(), err) == 0 && model_load(&m2, test_model_path(), err) == 0) {
        model_t *ms[2] = {&m1, &m2};
        for (int k = 0; k < 2; k++) {
            if (finetune_begin(&f, ms[k], upx, ulb, nu, NULL, NULL, 0, &p, err)) {
                CHECK(0, "%s", err);
                continue;
            }
            while (f.step < p.steps) finetune_step(&f);
            finetune_end(&f);
        }
        CHECK(!memcmp(m1.params, m2.params, sizeof(float) * (m1.n_params + m1.n_stats)), "fine-tuning is not reproducible");
        model_free(&m1), model_free(&m2);
    } else {
        CHECK(0, "%s", err);
    }
done:
    free(rpx), free(upx), free(hpx);
    model_free(&m);
    dataset_free(&d);
}

/* watch it learn: each preset's architecture is valid, and a network trained from scratch by the
 * page's steps (learn_params: AdamW, constant rate, no augmentation) learns MNIST: the MLP on the
 * first 2,000 training images, validated on 500 of the last ones (the page's sample ranges) */
void test_learn(void) {
    char err[ERR_LEN];
    for (int i = 0; i < LEARN_N_PRESETS; i++) {
        const learn_preset *p = &LEARN_PRESETS[i];
        model_t m;
        CHECK(learn_preset_find(p->name) == p, "preset %s not found by name", p->name);
        CHECK(p->lr > 0.0f && p->batch > 0, "preset %s: lr %g, batch %d", p->name, (double)p->lr, p->batch);
        if (!p->arch) continue; /* the shipped model's: test_model covers it */
        CHECK(model_init(&m, p->arch, err) == 0, "preset %s: %s", p->name, err);
        model_free(&m);
    }
    CHECK(learn_preset_find("nope") == NULL, "an unknown preset was found");

    dataset_t d;
    if (test_load_mnist(&d, 0)) return;
    const learn_preset *mlp = learn_preset_find("mlp");
    model_t m;
    finetune_t f;
    finetune_params p;
    if (!mlp || model_init(&m, mlp->arch, err)) {
        CHECK(0, "mlp preset: %s", err);
        dataset_free(&d);
        return;
    }
    model_init_weights(&m, 7);
    const uint8_t *vpx = d.pixels + (size_t)(d.n - 500) * IMG_PIXELS, *vlb = d.labels + d.n - 500;
    double before = accuracy(&m, vpx, vlb, 500, err);
    learn_params(&p, mlp->batch, mlp->lr, 7);
    CHECK(p.opt == OPT_ADAMW && p.constant_lr && !p.augment && p.smoothing == 0.0f, "learn_params");
    if (finetune_begin(&f, &m, d.pixels, d.labels, 2000, NULL, NULL, 0, &p, err) == 0) {
        long right = 0;
        for (int i = 0; i < 300; i++) finetune_step(&f), right += i >= 250 ? f.last_correct : 0;
        finetune_end(&f);
        double after = accuracy(&m, vpx, vlb, 500, err);
        printf("  MLP from scratch, 300 steps of %d: validation %.1f%% -> %.1f%%; last 50 batches %.1f%% right\n", p.batch,
               100 * before, 100 * after, 100.0 * right / (50.0 * p.batch));
        CHECK(before < 0.3 && after > 0.85, "from scratch: %.1f%% -> %.1f%%", 100 * before, 100 * after);
        CHECK(right > 0.8 * 50 * p.batch, "batches read right while training: %ld of %d", right, 50 * p.batch);
    } else {
        CHECK(0, "finetune_begin: %s", err);
    }
    model_free(&m);
    dataset_free(&d);
}
