#include "finetune.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

void finetune_defaults(finetune_params *p) {
    memset(p, 0, sizeof *p);
    p->steps = 200;
    p->batch = 16;
    p->user_frac = 0.5f;
    p->lr = 0.01f;
    p->weight_decay = 5e-4f;
    p->smoothing = 0.1f;
    p->seed = 1;
    p->opt = OPT_SGD;
    p->augment = 1;
    augment_defaults(&p->aug);
}

/* the architectures a learner can pick in the page; the shipped CNN is the one in weights/model.bin */
const learn_preset LEARN_PRESETS[] = {
    {"mlp", "MLP (100 hidden units)", "fc100,relu,fc10", 0.002f, 32},
    {"small-cnn", "Small CNN (2 conv layers)", "conv8k5,bn,relu,pool2,conv16k5,bn,relu,pool2,fc10", 0.004f, 32},
    {"shipped", "Shipped CNN (slow here)", NULL, 0.002f, 32},
};
const int LEARN_N_PRESETS = (int)(sizeof LEARN_PRESETS / sizeof LEARN_PRESETS[0]);

const learn_preset *learn_preset_find(const char *name) {
    for (int i = 0; i < LEARN_N_PRESETS; i++)
        if (!strcmp(LEARN_PRESETS[i].name, name)) return &LEARN_PRESETS[i];
    return NULL;
}

void learn_params(finetune_params *p, int batch, float lr, uint64_t seed) {
    finetune_defaults(p);
    p->steps = 0x7fffffff; /* until the learner stops */
    p->batch = batch;
    p->lr = lr;
    p->constant_lr = 1;
    p->opt = OPT_ADAMW;
    p->weight_decay = 1e-4f;
    p->augment = 0;
    p->smoothing = 0.0f;
    p->seed = seed;
}

int finetune_begin(finetune_t *f, model_t *m, const uint8_t *user_px, const uint8_t *user_lbl, int n_user,
                   const uint8_t *replay_px, const uint8_t *replay_lbl, int n_replay, const finetune_params *p, char *err) {
    memset(f, 0, sizeof *f);
    if (n_user < 1 || n_user > FINETUNE_MAX_USER) return set_error(err, "fine-tuning needs 1 to %d drawings, got %d", FINETUNE_MAX_USER, n_user);
    if (n_replay < 0 || n_replay > FINETUNE_MAX_REPLAY) return set_error(err, "replay sample of %d images is out of range", n_replay);
    if (p->steps < 1 || p->batch < 1 || p->batch > 1024 || !(p->lr > 0.0f) || !(p->user_frac > 0.0f) || p->user_frac > 1.0f)
        return set_error(err, "fine-tuning parameters out of range (steps %d, batch %d, lr %g, user share %g)", p->steps,
                         p->batch, (double)p->lr, (double)p->user_frac);
    for (int i = 0; i < n_user; i++)
        if (user_lbl[i] > 9 && user_lbl[i] != NOT_A_DIGIT)
            return set_error(err, "drawing %d has label %d (not a digit)", i, user_lbl[i]);
    for (int i = 0; i < n_replay; i++)
        if (replay_lbl[i] > 9) return set_error(err, "replay image %d has label %d (not a digit)", i, replay_lbl[i]);
    f->m = m;
    f->p = *p;
    f->n_user = n_user, f->n_replay = n_replay;
    size_t n = (size_t)n_user + (size_t)n_replay, B = (size_t)p->batch;
    f->pixels = malloc(n * (IMG_PIXELS + 1));
    f->grads = malloc(sizeof(float) * (m->n_params + B * (IMG_PIXELS + N_CLASSES)));
    f->idx = malloc(sizeof(int) * (2 * B + n));
    if (!f->pixels || !f->grads || !f->idx) {
        finetune_end(f);
        return set_error(err, "out of memory for fine-tuning");
    }
    f->labels = f->pixels + n * IMG_PIXELS;
    memcpy(f->pixels, user_px, (size_t)n_user * IMG_PIXELS);
    memcpy(f->labels, user_lbl, (size_t)n_user);
    if (n_replay) {
        memcpy(f->pixels + (size_t)n_user * IMG_PIXELS, replay_px, (size_t)n_replay * IMG_PIXELS);
        memcpy(f->labels + n_user, replay_lbl, (size_t)n_replay);
    }
    f->x = f->grads + m->n_params;
    f->targets = f->x + B * IMG_PIXELS;
    f->lab = f->idx + B;
    f->order = f->lab + B;
    for (int i = 0; i < n_user; i++) f->order[i] = i;
    for (int i = 0; i < n_replay; i++) f->order[n_user + i] = i;
    rng_seed(&f->rng, p->seed);
    if (workspace_init(&f->ws, m, p->batch, 1, err) || optimizer_init(&f->opt, p->opt, m->n_params, err)) {
        finetune_end(f);
        return -1;
    }
    f->opt.weight_decay = p->weight_decay;
    return 0;
}

/* images are taken in a shuffled order, reshuffled after each pass, so a
 * batch repeats a drawing only when it holds more than there are */
static int next(int *order, int n, int *pos, rng_t *r) {
    if (*pos == 0) rng_shuffle(r, order, n);
    int v = order[*pos];
    *pos = (*pos + 1) % n;
    return v;
}

float finetune_step(finetune_t *f) {
    const finetune_params *p = &f->p;
    const int B = p->batch;
    /* the person's drawings fill user_frac of the batch (all of it without a replay sample) */
    int nu = f->n_replay ? (int)lroundf(p->user_frac * (float)B) : B;
    if (nu < 1) nu = 1;
    for (int i = 0; i < B; i++)
        f->idx[i] = i < nu ? next(f->order, f->n_user, &f->next_user, &f->rng)
                           : next(f->order + f->n_user, f->n_replay, &f->next_replay, &f->rng) + f->n_user;
    /* each image's augmentation stream depends on the step and its index */
    uint64_t seed = rng_mix(p->seed, (uint64_t)f->step + 1);
    train_batch_prepare(f->x, f->targets, f->lab, f->pixels, f->labels, f->idx, B, p->augment ? &p->aug : NULL,
                        p->smoothing, seed);
    /* half a cosine from lr down to lr/100, or lr throughout */
    float t = p->steps > 1 ? (float)f->step / (float)(p->steps - 1) : 1.0f;
    float lr = p->constant_lr ? p->lr : p->lr * (0.01f + 0.99f * 0.5f * (1.0f + cosf(3.14159265f * t)));
    step_result s = train_step(f->m, &f->ws, &f->opt, f->grads, f->x, f->targets, f->lab, B, lr, seed);
    f->step++;
    f->last_loss = s.loss;
    f->last_correct = s.correct;
    return s.loss;
}

void finetune_end(finetune_t *f) {
    workspace_free(&f->ws);
    optimizer_free(&f->opt);
    free(f->pixels);
    free(f->grads);
    free(f->idx);
    f->pixels = NULL, f->grads = NULL, f->idx = NULL;
    if (f->m) model_touch(f->m);
}
