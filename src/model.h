/* model.h - a CNN described by a short architecture string, its parameters,
 * its forward and backward passes, and its file format.
 *
 * Architecture: comma-separated layers, applied to a 1×28×28 image, e.g.
 *     "conv32k5,bn,relu,pool2,conv64k3,bn,relu,pool2,drop25,fc10"
 *   convNkK[pP]  N output channels, K×K kernel, stride 1, zero padding P (default K/2)
 *   bn           batch normalization (per channel, or per feature after fc)
 *   relu         max(0, x)
 *   poolS        S×S max pooling with stride S
 *   gap          global average pooling: (C,H,W) -> (C)
 *   dropP        dropout with probability P percent while training
 *   fcN          fully connected to N outputs (flattens its input)
 * The last layer must be fc10: its outputs are the ten digits' logits.
 *
 * Memory follows llm.c: every parameter lives in one allocation (params),
 * followed by the batch-norm running statistics (stats), and every activation
 * of a batch lives in one allocation owned by a workspace_t.
 *
 * File format (all integers and floats little-endian):
 *     char[8]  magic "DIGITCNN"
 *     u32      format version (1)
 *     u32      length L of the architecture string, 1..1023
 *     char[L]  the architecture string (ASCII, no terminator)
 *     u32 ×4   input channels, height, width, classes (1, 28, 28, 10)
 *     f32      softmax temperature (calibrated on held-out data; 1 = none)
 *     u64      number of parameters P (must match the architecture)
 *     u64      number of running statistics S (likewise)
 *     f32[P+S] the parameters, layer by layer, then the statistics
 *     u32      CRC-32 of every byte before it
 * Loading rejects a wrong magic, version, size, architecture or CRC, a
 * truncated or over-long file and non-finite numbers, each with its own message.
 */
#ifndef MODEL_H
#define MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define MODEL_MAX_LAYERS 32
#define MODEL_ARCH_LEN 1024
#define MODEL_FORMAT_VERSION 2 /* the newest this build reads; model_serialize writes 1 or 2 (below) */
#define MODEL_MAX_FILE_BYTES (256u << 20) /* no real model comes near; bigger files are rejected unread */
#define IMG_SIDE 28
#define IMG_PIXELS (IMG_SIDE * IMG_SIDE)
#define N_CLASSES 10

typedef enum { LAYER_CONV, LAYER_BN, LAYER_RELU, LAYER_POOL, LAYER_GAP, LAYER_DROPOUT, LAYER_FC } layer_kind;

typedef struct {
    layer_kind kind;
    int in_c, in_h, in_w;    /* shape of one image's input (h = w = 1 after fc or gap) */
    int out_c, out_h, out_w; /* shape of one image's output */
    int k, pad;              /* conv: kernel size and padding; pool: window = stride = k */
    float p;                 /* dropout probability */
    size_t w, n_w;           /* offset and size of the weights in params (bn: gamma) */
    size_t b, n_b;           /* offset and size of the biases in params (bn: beta) */
    size_t stat;             /* bn: offset of running mean (C) then running variance (C) in stats */
    double flops;            /* floating-point operations of one image's forward pass */
} layer_t;

typedef struct {
    char arch[MODEL_ARCH_LEN];
    int n_layers;
    layer_t layer[MODEL_MAX_LAYERS];
    size_t n_params, n_stats;
    float *params; /* n_params + n_stats floats, one allocation */
    float *stats;  /* params + n_params */
    float temperature;
    unsigned long version; /* a process-wide generation: new whenever the library loads or changes params or stats */
} model_t;

/* Parse `arch`, lay out and allocate the parameters (all zero). */
int model_init(model_t *m, const char *arch, char *err);
void model_free(model_t *m);
/* He-normal weights, zero biases, unit gamma, zero beta, running var 1 */
void model_init_weights(model_t *m, uint64_t seed);
size_t model_act_floats(const model_t *m); /* activation floats one image needs (all layers) */
/* Code that writes m->params or m->stats itself calls this afterwards, so that
 * workspaces re-derive their inference weights (folded, transformed). */
void model_touch(model_t *m);
double model_flops(const model_t *m);      /* forward FLOPs for one image */
/* the index of the largest of N_CLASSES scores (the first, on a tie): the digit read */
int model_argmax(const float *scores);
const char *layer_kind_name(layer_kind k);
/* one line describing layer i, e.g. "conv 1→32 5×5 pad 2  28×28×32" */
void layer_describe(const layer_t *l, char *buf, size_t n);

/* Rounds every conv and fc weight to `bits`-bit precision: each output
 * channel's weights become integers in ±(2^(bits-1) - 1) times one power of
 * two, the smallest that covers the channel's largest weight. Biases, batch
 * norm parameters and statistics keep full precision. The values stay float32
 * in the file, but with their low mantissa bits zero the file compresses
 * about 3× under gzip (8 bits): the page's download shrinks, the format does
 * not change. Returns the largest absolute change made to any weight. */
float model_quantize_weights(model_t *m, int bits);

/* Serialize to a malloc'd buffer / parse from memory; the file functions wrap these. The format
 * (little-endian): "DIGITCNN", the version, the architecture string, the input shape and classes, the
 * softmax temperature, the counts of parameters and statistics, the payload, and a CRC-32 of all before
 * it. Version 1's payload is every value as float32. Version 2, written when every conv and fc weight
 * channel is int8 times a power of two (model_quantize_weights at 8 bits), holds those weights as they
 * are: per channel its exponent and its int8 values (-128 for -0.0), then every other value as float32;
 * it loads to the same float bits as version 1, in a quarter of the bytes. */
int model_serialize(const model_t *m, uint8_t **buf, size_t *len, char *err);
int model_load_mem(model_t *m, const void *buf, size_t len, char *err);
int model_save(const model_t *m, const char *path, char *err); /* atomic: tmp file, fsync, rename */
int model_load(model_t *m, const char *path, char *err);

/* ---- running the network --------------------------------------------------- */

/* the operations a workspace runs forward and backward (model.c builds the plan) */
typedef enum {
    OP_CONV_FOLDED,  /* inference: conv, the batch norm after it folded in, and a ReLU after that */
    OP_CONV, OP_FC, OP_BN, OP_RELU, OP_POOL, OP_GAP, OP_DROPOUT,
    OP_BN_RELU,      /* training: batch norm and the ReLU after it in one pass */
    OP_BN_RELU_POOL, /* training: those and a 2×2 pool, on planes at least 16 wide */
    OP_RELU_POOL     /* backward: a pool and the ReLU before it */
} op_kind;

typedef struct {
    op_kind kind;
    short first, last; /* the layers it runs */
} op_t;

typedef struct {
    int max_batch, training;
    float *mem;                    /* one allocation for every float buffer below */
    float *act[MODEL_MAX_LAYERS];  /* each layer's output, (C, B, H, W) */
    float *flat[MODEL_MAX_LAYERS]; /* fc layers: their input as a (K, B) matrix, when it needs flattening */
    float *bn_mean[MODEL_MAX_LAYERS], *bn_rstd[MODEL_MAX_LAYERS];
    float *mask[MODEL_MAX_LAYERS]; /* dropout masks (training) */
    float *grad[2];                /* ping-pong buffers for activation gradients (training) */
    float *col;                    /* im2col matrix of the largest conv layer not run by Winograd */
    float *col_kept[MODEL_MAX_LAYERS]; /* training: each such layer's im2col matrix, from forward for backward */
    float *pool_arg[MODEL_MAX_LAYERS]; /* training: where each 2×2 pool after a batch norm and a ReLU found its max */
    /* inference weights, derived once per model version: each conv's weights and
     * bias with the following batch norm folded in (fold: weights then bias), and
     * their Winograd transform (inf_u) */
    float *fold[MODEL_MAX_LAYERS], *inf_u[MODEL_MAX_LAYERS];
    const float *inf_w[MODEL_MAX_LAYERS], *inf_b[MODEL_MAX_LAYERS];
    unsigned long prep_version;    /* the version of the model they were derived from (0: none) */
    float *wino;                   /* scratch for 3×3 convs, which run by Winograd's algorithm */
    float *wino_u[MODEL_MAX_LAYERS], *wino_v[MODEL_MAX_LAYERS]; /* training: their transformed weights and input */
    float *dw_scratch;             /* per-thread weight gradients of conv layers (training) */
    float *logits, *probs;         /* (B, 10) each */
    op_t infer_ops[MODEL_MAX_LAYERS], train_ops[MODEL_MAX_LAYERS], back_ops[MODEL_MAX_LAYERS];
    int n_infer, n_train, n_back;
    const float *input;            /* the batch given to the last forward pass */
    int batch;                     /* its size */
    int profile;                   /* when set, seconds spent per layer accumulate below */
    double t_fwd[MODEL_MAX_LAYERS], t_bwd[MODEL_MAX_LAYERS];
} workspace_t;

/* training = 1 also allocates what backward needs */
int workspace_init(workspace_t *ws, const model_t *m, int max_batch, int training, char *err);
void workspace_free(workspace_t *ws);

/* Forward pass of B images x (B,1,28,28) - which is also (1,B,28,28) - with
 * values in [0,1]. At inference a conv followed by batch norm (and ReLU) runs
 * as one fused layer, so only the last of them has its output in ws->act.
 * Returns the logits
 * (B,10), which live in ws. With training set, batch norm uses batch statistics
 * and updates the running ones, and dropout draws its masks from `seed`. */
const float *model_forward(model_t *m, workspace_t *ws, const float *x, int B, int training, uint64_t seed);
/* Backward pass for the last training forward pass: dlogits (B,10) in, parameter
 * gradients ADDED to grads (n_params floats, same layout as params). */
void model_backward(const model_t *m, workspace_t *ws, const float *dlogits, float *grads);

/* Inference convenience: probabilities (B,10) with the model's temperature. */
const float *model_predict(model_t *m, workspace_t *ws, const float *x, int B);

#endif
