#include "reader.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* union-find over component labels */
static int find(int *parent, int x) {
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
}

typedef struct {
    int x0, y0, x1, y1;
    long area;
    int root;
} comp_t; /* a connected component: its box, size and union-find root */

static int cmp_x0(const void *a, const void *b) {
    const comp_t *p = a, *q = b;
    return (p->x0 > q->x0) - (p->x0 < q->x0);
}

/* Connected components on a grid of SEG_CELL×SEG_CELL cells (a cell is ink
 * when any of its pixels is): strokes are far wider than a cell, and the grid
 * has 4 times fewer elements than the canvas. cells (gw×gh) gets 1 + the
 * digit of each cell, or 0. Returns the number of digits, or -1. */
#ifndef SEG_CELL
#define SEG_CELL 2
#endif

static int segment_cells(const uint8_t *gray, int w, int h, int stride, int bg, int dark, uint8_t *cells, int gw,
                         int gh, preprocess_info *boxes, int max, int *dropped) {
    const long ng = (long)gw * gh;
    memset(cells, 0, (size_t)ng);
    uint8_t is_ink[256]; /* a table instead of a branch per pixel */
    for (int v = 0; v < 256; v++) is_ink[v] = (dark ? bg - v : v - bg) >= PREPROCESS_INK_MIN;
    /* on a pure black or white background (the page's canvas), 8 pixels at a time
     * are skipped when none differs from it by 32 or more (ink needs PREPROCESS_INK_MIN) */
    _Static_assert(PREPROCESS_INK_MIN >= 32, "the skip below assumes ink differs by 32 or more");
    const int fast = (!dark && bg == 0) || (dark && bg == 255);
    const uint64_t flip = dark ? ~(uint64_t)0 : 0, high = 0xE0E0E0E0E0E0E0E0ull;
    for (int y = 0; y < h; y++) {
        const uint8_t *row = gray + (long)y * stride;
        uint8_t *crow = cells + (long)(y / SEG_CELL) * gw;
        int x = 0;
        for (; x + 8 <= w; x += 8) {
            uint64_t chunk;
            memcpy(&chunk, row + x, 8);
            if (fast && ((chunk ^ flip) & high) == 0) continue;
            for (int k = 0; k < 8; k++) crow[(x + k) / SEG_CELL] |= is_ink[row[x + k]];
        }
        for (; x < w; x++) crow[x / SEG_CELL] |= is_ink[row[x]];
    }
    int *lab = malloc(sizeof(int) * (size_t)ng), *parent = malloc(sizeof(int) * (size_t)ng);
    if (!lab || !parent) {
        free(lab), free(parent);
        return -1;
    }
    /* first pass: provisional labels, equivalences in parent[] (8-neighbours) */
    int next = 0;
    for (int y = 0; y < gh; y++)
        for (int x = 0; x < gw; x++) {
            long i = (long)y * gw + x;
            lab[i] = -1;
            if (!cells[i]) continue;
            int best = -1;
            static const int dx[4] = {-1, -1, 0, 1}, dy[4] = {0, -1, -1, -1}; /* neighbours already visited */
            for (int k = 0; k < 4; k++) {
                int xx = x + dx[k], yy = y + dy[k];
                if (xx < 0 || yy < 0 || xx >= gw) continue;
                int l = lab[(long)yy * gw + xx];
                if (l < 0) continue;
                l = find(parent, l);
                if (best < 0) best = l;
                else if (l != best) {
                    int a = l < best ? l : best, b = l < best ? best : l;
                    parent[b] = a;
                    best = a;
                }
            }
            if (best < 0) parent[next] = next, best = next++;
            lab[i] = best;
        }
    /* second pass: one box per component */
    comp_t *comp = malloc(sizeof(comp_t) * (size_t)(next ? next : 1));
    int *slot = malloc(sizeof(int) * (size_t)(next ? next : 1));
    int *group = malloc(sizeof(int) * (size_t)(next ? next : 1));
    preprocess_info *box = malloc(sizeof(preprocess_info) * (size_t)(next ? next : 1));
    if (!comp || !slot || !group || !box) {
        free(lab), free(parent), free(comp), free(slot), free(group), free(box);
        return -1;
    }
    int nc = 0;
    long biggest = 0;
    for (int i = 0; i < next; i++) slot[i] = -1;
    for (int y = 0; y < gh; y++)
        for (int x = 0; x < gw; x++) {
            long i = (long)y * gw + x;
            if (lab[i] < 0) continue;
            int r = find(parent, lab[i]);
            lab[i] = r;
            if (slot[r] < 0) slot[r] = nc, comp[nc++] = (comp_t){x, y, x, y, 0, r};
            comp_t *c = &comp[slot[r]];
            if (x < c->x0) c->x0 = x;
            if (x > c->x1) c->x1 = x;
            if (y > c->y1) c->y1 = y;
            if (++c->area > biggest) biggest = c->area;
        }
    /* drop specks: tiny next to the largest stroke */
    int kept = 0;
    for (int i = 0; i < nc; i++)
        if (comp[i].area * 50 >= biggest) comp[kept++] = comp[i];
    *dropped = nc - kept;
    nc = kept;
    qsort(comp, (size_t)nc, sizeof(comp_t), cmp_x0);
    /* merge components that overlap horizontally by half of the narrower one */
    int ng2 = 0;
    for (int i = 0; i < nc; i++) {
        int g = -1;
        for (int j = 0; j < ng2 && g < 0; j++) {
            int lo = comp[i].x0 > box[j].x0 ? comp[i].x0 : box[j].x0;
            int hi = comp[i].x1 < box[j].x1 ? comp[i].x1 : box[j].x1;
            int wa = comp[i].x1 - comp[i].x0 + 1, wb = box[j].x1 - box[j].x0 + 1;
            int narrow = wa < wb ? wa : wb;
            if (hi - lo + 1 >= (narrow + 1) / 2) g = j;
        }
        if (g < 0) {
            g = ng2++;
            memset(&box[g], 0, sizeof box[g]);
            box[g].x0 = comp[i].x0, box[g].x1 = comp[i].x1, box[g].y0 = comp[i].y0, box[g].y1 = comp[i].y1;
        } else {
            if (comp[i].x0 < box[g].x0) box[g].x0 = comp[i].x0;
            if (comp[i].x1 > box[g].x1) box[g].x1 = comp[i].x1;
            if (comp[i].y0 < box[g].y0) box[g].y0 = comp[i].y0;
            if (comp[i].y1 > box[g].y1) box[g].y1 = comp[i].y1;
        }
        group[i] = g;
    }
    for (int i = 0; i < next; i++) slot[i] = 0;
    for (int i = 0; i < nc; i++) slot[comp[i].root] = group[i] < max ? group[i] + 1 : 0;
    for (long i = 0; i < ng; i++) cells[i] = lab[i] < 0 ? 0 : (uint8_t)slot[lab[i]];
    int count = ng2 < max ? ng2 : max;
    for (int i = 0; i < count; i++) { /* cell boxes to pixel boxes */
        boxes[i] = box[i];
        boxes[i].dark_ink = dark;
        boxes[i].x0 = box[i].x0 * SEG_CELL, boxes[i].y0 = box[i].y0 * SEG_CELL;
        boxes[i].x1 = (box[i].x1 + 1) * SEG_CELL - 1, boxes[i].y1 = (box[i].y1 + 1) * SEG_CELL - 1;
        if (boxes[i].x1 >= w) boxes[i].x1 = w - 1;
        if (boxes[i].y1 >= h) boxes[i].y1 = h - 1;
    }
    free(lab), free(parent), free(comp), free(slot), free(group), free(box);
    return count;
}

/* the reasons the reader gives */
static int bad_canvas(char *err, int w, int h, int stride) {
    return set_error(err, "reader: not a canvas (%d x %d pixels, row stride %d)", w, h, stride);
}
static int no_memory(char *err, int w, int h) {
    return set_error(err, "reader: out of memory reading a %d x %d canvas", w, h);
}

int reader_segment(const uint8_t *gray, int w, int h, int stride, uint8_t *labels, preprocess_info *boxes, int max,
                   char *err) {
    int dark, bg = preprocess_background(gray, w, h, stride, &dark);
    if (bg < 0) return bad_canvas(err, w, h, stride);
    if (!boxes || max < 1) return set_error(err, "reader_segment: no room for boxes (max %d)", max);
    const int gw = (w + SEG_CELL - 1) / SEG_CELL, gh = (h + SEG_CELL - 1) / SEG_CELL;
    uint8_t *cells = malloc((size_t)gw * gh);
    if (!cells) return no_memory(err, w, h);
    int dropped, n = segment_cells(gray, w, h, stride, bg, dark, cells, gw, gh, boxes, max, &dropped);
    if (n < 0) no_memory(err, w, h);
    if (n >= 0 && labels)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) labels[(long)y * w + x] = cells[(long)(y / SEG_CELL) * gw + x / SEG_CELL];
    free(cells);
    return n;
}

/* ---- reading: the best split of the line into digits ---------------------------- */

/* The groups above are an over-segmentation candidate: a digit whose strokes
 * do not touch may be two groups, and digits that touch are one. The reader
 * therefore chooses the pieces: each piece is a run of whole groups, or part
 * of a group cut at a column where little ink crosses (a local minimum of the
 * vertical projection; searched only in groups wider than SPLIT_MIN_RATIO ×
 * their height). Every possible piece is classified, and dynamic programming
 * keeps the split whose pieces the network is surest of: the sum over pieces
 * of the log of the top probability - of the uncalibrated softmax, which label
 * smoothing keeps below 1, so that each extra piece costs something - less
 * SPLIT_PENALTY per piece (negative: a small reward, since the model trained on
 * hard negatives, below, doubts two touching digits enough that merging them is
 * the likelier mistake; a larger reward read numbers of MNIST digits a little
 * better but cut small digits drawn with the page's thick brush - half of such
 * a 0 looks like a 1 - see tests/e2e/page.test.js), less SPLIT_WIDE_COST per
 * unit that a piece is wider than SPLIT_WIDE_RATIO × its height (two digits read
 * as one are wide), less MERGE_PENALTY for each gap a piece bridges, less
 * SHORT_COST per unit that a piece is shorter than SHORT_RATIO × the tallest
 * group (a speck, or the tail of a 9 cut off and read as a 1). A single digit costs one forward
 * pass; a number of n digits apart a few per digit. The constants were chosen
 * on numbers composed from MNIST training digits (compose.h).
 *
 * The search is only as good as the network's doubt about pieces that are not
 * digits: a net trained on single digits alone is often sure of half a 0 or of
 * a 4 with a 1 against it. Training therefore ends with a phase on exactly
 * such pieces - the ones this search tries on numbers of training digits,
 * with a uniform target (compose_mine() in compose.h, `mnist train --mine`). */
#ifdef READER_TUNE
#include <stdio.h>
static float tune(const char *k, float d) { const char *v = getenv(k); return v ? (float)atof(v) : d; }
#define SPLIT_MIN_RATIO tune("MINR", 0.6f)
#define SPLIT_PENALTY tune("PEN", -0.1f)
#define SPLIT_WIDE_RATIO tune("WR", 1.0f)
#define SPLIT_WIDE_COST tune("WC", 1.0f)
#define MERGE_PENALTY tune("MP", 0.5f)
#define MERGE_GAP tune("MG", 0.5f)
#define SLIVER ((int)tune("SLV", 8.0f))
#define PLATEAU_LAST ((int)tune("PL", 1.0f))
#define SHORT_RATIO tune("SR", 0.6f)
#define SHORT_COST tune("SC", 2.0f)
#else
#define SPLIT_MIN_RATIO 0.6f
#define SPLIT_PENALTY -0.1f /* a reward per piece */
#define SPLIT_WIDE_RATIO 1.0f
#define SPLIT_WIDE_COST 1.0f
#define MERGE_PENALTY 0.5f
#define MERGE_GAP 0.5f /* groups at most this × their height apart may be one digit */
#define PLATEAU_LAST 1
#define SLIVER 8 /* cut pieces narrower than 1/SLIVER of their height are not tried */
#define SHORT_RATIO 0.6f /* pieces shorter than this × the tallest group cost */
#define SHORT_COST 2.0f  /* this much per unit they fall short */
#endif
#define SPLIT_MAX_CUTS 16    /* cut candidates per group */
/* a piece at most this × its height wide: 1.3% of MNIST's training digits are
 * wider than 1.4 × their height (flat 2s and 5s), 0.06% wider than 1.8 */
#define SPLIT_MAX_PIECE 1.8f

/* ---- the search, shared by the pixel and the stroke paths ------------------------ */

typedef struct {
    float input[IMG_PIXELS], prob[N_CLASSES];
    preprocess_info info;
    uint64_t key; /* its cache key (stroke path), 0 for none */
    int known;    /* prob came from the cache */
} piece_t;

/* Where the pieces come from: boundaries 0..n-1 along the line, and for two
 * of them, i < j, the piece between: piece() fills its 28×28 input, its ink
 * box and what it holds, adds its geometric costs (joined gaps, width,
 * height) to *cost and returns PREPROCESS_OK, or PREPROCESS_BLANK when no
 * such piece may be, or -1 for no memory. */
typedef struct {
    int n;
    int max_span; /* a piece spans at most this many boundaries; 0: any */
    int (*piece)(void *ctx, int i, int j, piece_t *p, float *cost);
    float (*split)(void *ctx, int j); /* the cost of splitting at inner boundary j; NULL: none */
    void (*store)(void *ctx, const piece_t *p); /* keeps a classified piece (p->key != 0); NULL: none */
    float penalty;                     /* the cost of each piece (negative: a reward) */
    void *ctx;
} source_t;

/* the costs of a piece's shape, on both paths: wider than SPLIT_WIDE_RATIO × its height (two digits
 * read as one), wider than a digit can be (too_wide), or much shorter than the tallest ink (a speck,
 * or the tail of a 9 cut off and read as a 1) */
static float shape_cost(const preprocess_info *info, int too_wide, int tallest, float short_ratio, float short_cost) {
    const float ratio = (float)(info->x1 - info->x0 + 1) / (float)(info->y1 - info->y0 + 1);
    return SPLIT_WIDE_COST * fmaxf(0.0f, ratio - SPLIT_WIDE_RATIO) + (too_wide ? 10.0f : 0.0f) +
           short_cost * fmaxf(0.0f, short_ratio - (float)(info->y1 - info->y0 + 1) / (float)tallest);
}

/* the log of the top probability of the uncalibrated softmax: log p_j = z_j / T - log Z, so
 * T·log p_j is z_j up to a constant */
static float top_logp(const model_t *m, const float *p) {
    const float T = m->temperature > 0 ? m->temperature : 1.0f;
    float z[N_CLASSES], zmax = -INFINITY, sum = 0;
    for (int j = 0; j < N_CLASSES; j++) z[j] = T * logf(p[j] > 1e-30f ? p[j] : 1e-30f), zmax = fmaxf(zmax, z[j]);
    for (int j = 0; j < N_CLASSES; j++) sum += expf(z[j] - zmax);
    return -logf(sum);
}

static int cmp_piece_x(const void *a, const void *b) {
    const piece_t *p = *(piece_t *const *)a, *q = *(piece_t *const *)b;
    const int u = p->info.x0 + p->info.x1, v = q->info.x0 + q->info.x1;
    return (u > v) - (u < v);
}

/* Dynamic programming over the boundaries: the split of the line into pieces
 * whose sum of log-probabilities, less SPLIT_PENALTY per piece and each
 * piece's costs, is highest. The digits go to out in the split's order, or
 * left to right by their centres when by_x. */
static int search(model_t *m, workspace_t *ws, const source_t *src, int by_x, reader_piece_fn on_piece, void *on_ctx,
                  reading *out, char *err) {
    const int n = src->n;
    float *best = malloc(sizeof(float) * (size_t)n);
    int *from = malloc(sizeof(int) * (size_t)n);
    piece_t *piece = malloc(sizeof(piece_t) * (size_t)n), *scratch = malloc(sizeof(piece_t));
    piece_t **order = malloc(sizeof(piece_t *) * (size_t)n);
    int rc = best && from && piece && scratch && order ? 0 : set_error(err, "reader: out of memory for the search");
    for (int j = 0; !rc && j < n; j++) best[j] = j ? -INFINITY : 0.0f, from[j] = -1;
    for (int j = 1; !rc && j < n; j++)
        for (int i = j - 1; i >= 0 && (!src->max_span || i >= j - src->max_span); i--) {
            if (best[i] == -INFINITY) continue;
            float cost = 0.0f;
            const int pr = src->piece(src->ctx, i, j, scratch, &cost);
            if (pr < 0) {
                rc = set_error(err, "reader: a piece could not be prepared");
                break;
            }
            if (pr != PREPROCESS_OK) continue;
            if (!scratch->known) {
                memcpy(scratch->prob, model_predict(m, ws, scratch->input, 1), sizeof scratch->prob);
                if (src->store && scratch->key) src->store(src->ctx, scratch);
            }
            if (on_piece) {
                const reader_piece rp = {&scratch->info, scratch->input, scratch->prob};
                on_piece(on_ctx, &rp);
            }
            if (src->split && j < n - 1) cost += src->split(src->ctx, j);
            const float score = best[i] + top_logp(m, scratch->prob) - src->penalty - cost;
            if (score > best[j]) best[j] = score, from[j] = i, piece[j] = *scratch;
        }
    int k = 0;
    if (!rc && n > 1 && from[n - 1] >= 0) {
        int np = 0;
        for (int j = n - 1; j > 0; j = from[j]) order[np++] = &piece[j];
        for (int a = 0, b = np - 1; a < b; a++, b--) { /* the path was found right to left */
            piece_t *t = order[a];
            order[a] = order[b], order[b] = t;
        }
        if (by_x) qsort(order, (size_t)np, sizeof *order, cmp_piece_x);
        for (; k < np && k < READER_MAX_DIGITS; k++) {
            const piece_t *pc = order[k];
            memcpy(out->input[k], pc->input, sizeof pc->input);
            memcpy(out->prob[k], pc->prob, sizeof pc->prob);
            out->info[k] = pc->info;
            out->digit[k] = model_argmax(pc->prob);
            out->number[k] = (char)('0' + out->digit[k]);
        }
    }
    out->n = k;
    out->number[k] = 0;
    free(best), free(from), free(piece), free(scratch), free(order);
    return rc;
}

/* ---- pieces from pixels: groups of ink, cut at columns ------------------------------ */

typedef struct {
    const uint8_t *gray;
    int stride, bg, dark;
    const uint8_t *cells; /* 1 + group of each cell, or 0 */
    int gw;
    const preprocess_info *box; /* the groups' boxes, left to right */
    uint8_t *mask;              /* scratch, as large as the groups' common box */
    struct pixel_node {
        int g, x; /* a boundary: group g starts (x = its x0) or is cut at column x */
        int start;
    } *node;
    int tallest;
} pixel_ctx;

/* A piece: group g0 from column a on, the groups between, and group g1 up to
 * column b (exclusive): its ink into input. */
static int read_region(const pixel_ctx *c, int g0, int a, int g1, int b, float *input, preprocess_info *info) {
    /* the region: the groups' rows; columns from the cut a (or further left, where a later group
     * starts left of it) to the cut b (or further right, where an earlier group ends right of it) */
    int y0 = c->box[g0].y0, y1 = c->box[g0].y1, x0 = a, x1 = b - 1;
    for (int g = g0 + 1; g <= g1; g++) {
        if (c->box[g].y0 < y0) y0 = c->box[g].y0;
        if (c->box[g].y1 > y1) y1 = c->box[g].y1;
        if (c->box[g].x0 < x0) x0 = c->box[g].x0;
        if (c->box[g - 1].x1 > x1) x1 = c->box[g - 1].x1;
    }
    const int rw = x1 - x0 + 1;
    for (int y = y0; y <= y1; y++) {
        const uint8_t *crow = c->cells + (long)(y / SEG_CELL) * c->gw;
        uint8_t *mrow = c->mask + (long)(y - y0) * rw;
        for (int x = x0; x <= x1; x++) {
            int g = crow[x / SEG_CELL] - 1;
            mrow[x - x0] = g >= g0 && g <= g1 && (g != g0 || x >= a) && (g != g1 || x < b);
        }
    }
    return preprocess_region(input, c->gray, c->stride, c->mask, rw, x0, y0, x1, y1, c->bg, c->dark, info);
}

static int pixel_piece(void *ctx, int i, int j, piece_t *p, float *cost) {
    const pixel_ctx *c = ctx;
    float *input = p->input;
    preprocess_info *info = &p->info;
    p->key = 0, p->known = 0;
    const struct pixel_node *ni = &c->node[i], *nj = &c->node[j];
    const preprocess_info *box = c->box;
    int g0 = ni->g, a = ni->x, g1 = nj->start ? nj->g - 1 : nj->g;
    int b = nj->start ? box[g1].x1 + 1 : nj->x;
    if (g1 < g0 || (g1 == g0 && b <= a)) return PREPROCESS_BLANK;
    int hh = 0, gaps = 0, too_far = 0;
    for (int g = g0; g <= g1; g++) hh = box[g].y1 - box[g].y0 + 1 > hh ? box[g].y1 - box[g].y0 + 1 : hh;
    for (int g = g0; g < g1; g++) {
        gaps++;
        too_far |= box[g + 1].x0 - box[g].x1 - 1 > MERGE_GAP * hh;
    }
    const int whole = ni->start && nj->start;
    /* a piece wider than a digit can be is allowed only as one whole group, as a last resort
     * (a scribble, or touching digits on the one-digit canvas): there is always a split */
    const int too_wide = b - a > SPLIT_MAX_PIECE * hh;
    if (too_far || (too_wide && !(whole && g0 == g1))) return PREPROCESS_BLANK;
    if (!whole && b - a < (hh / SLIVER > 2 ? hh / SLIVER : 2)) return PREPROCESS_BLANK; /* a sliver */
    const int pr = read_region(c, g0, a, g1, b, input, info);
    if (pr == PREPROCESS_OK) *cost = MERGE_PENALTY * (float)gaps + shape_cost(info, too_wide, c->tallest, SHORT_RATIO, SHORT_COST);
    return pr;
}

/* cut candidates inside group g: columns (absolute) where the vertical
 * projection of its ink has a local minimum, away from its ends */
static int cut_candidates(const pixel_ctx *c, int g, int *cand) {
    const preprocess_info *b = &c->box[g];
    const int bw = b->x1 - b->x0 + 1, bh = b->y1 - b->y0 + 1;
    if (bw <= SPLIT_MIN_RATIO * bh) return 0;
    int *profile = calloc((size_t)bw, sizeof(int));
    if (!profile) return -1;
    for (int y = b->y0; y <= b->y1; y++) {
        const uint8_t *row = c->gray + (long)y * c->stride, *crow = c->cells + (long)(y / SEG_CELL) * c->gw;
        for (int x = b->x0; x <= b->x1; x++) {
            int ink = c->dark ? c->bg - row[x] : row[x] - c->bg;
            profile[x - b->x0] += ink >= PREPROCESS_INK_MIN && crow[x / SEG_CELL] == g + 1;
        }
    }
    const int minw = bh / SLIVER > 2 ? bh / SLIVER : 2, radius = bh / 10 > 1 ? bh / 10 : 1;
    int nc = 0;
    for (int x = minw; x <= bw - minw; x++) {
        /* a minimum: a plateau's first column, and its last (where a flat stretch - the bar of a 4 - meets
         * the next digit) */
        int first = 1, last = PLATEAU_LAST;
        for (int k = -radius; k <= radius && (first || last); k++) {
            int xx = x + k;
            if (xx < 0 || xx >= bw || k == 0) continue;
            first &= k < 0 ? profile[x] < profile[xx] : profile[x] <= profile[xx];
            last &= k < 0 ? profile[x] <= profile[xx] : profile[x] < profile[xx];
        }
        if (!first && !last) continue;
        if (nc < SPLIT_MAX_CUTS) cand[nc++] = x;
        else { /* keep the lowest */
            int worst = 0;
            for (int i = 1; i < nc; i++) worst = profile[cand[i]] > profile[cand[worst]] ? i : worst;
            if (profile[x] < profile[cand[worst]]) cand[worst] = x;
        }
    }
    for (int i = 1; i < nc; i++) /* by position */
        for (int j = i; j > 0 && cand[j] < cand[j - 1]; j--) {
            int t = cand[j];
            cand[j] = cand[j - 1], cand[j - 1] = t;
        }
    for (int i = 0; i < nc; i++) cand[i] += b->x0;
    free(profile);
    return nc;
}

int reader_read(model_t *m, workspace_t *ws, const uint8_t *gray, int w, int h, int stride, reading *out, char *err) {
    return reader_read_cuts(m, ws, gray, w, h, stride, 1, out, err);
}

int reader_read_cuts(model_t *m, workspace_t *ws, const uint8_t *gray, int w, int h, int stride, int cuts,
                     reading *out, char *err) {
    return reader_read_pieces(m, ws, gray, w, h, stride, cuts, NULL, NULL, out, err);
}

static int bad_workspace(char *err) { return set_error(err, "reader: the workspace needs room for a batch of 1"); }

int reader_read_pieces(model_t *m, workspace_t *ws, const uint8_t *gray, int w, int h, int stride, int cuts,
                       reader_piece_fn piece_fn, void *ctx, reading *out, char *err) {
    memset(out, 0, sizeof *out);
    int dark, bg = preprocess_background(gray, w, h, stride, &dark);
    if (bg < 0) return bad_canvas(err, w, h, stride);
    if (ws->max_batch < 1) return bad_workspace(err);
    const int gw = (w + SEG_CELL - 1) / SEG_CELL, gh = (h + SEG_CELL - 1) / SEG_CELL;
    uint8_t *cells = malloc((size_t)gw * gh), *mask = NULL;
    struct pixel_node *node = malloc(sizeof *node * (READER_MAX_DIGITS * (SPLIT_MAX_CUTS + 1) + 1));
    preprocess_info box[READER_MAX_DIGITS];
    int dropped, n = -1, rc = -1;
    if (cells && node) n = segment_cells(gray, w, h, stride, bg, dark, cells, gw, gh, box, READER_MAX_DIGITS, &dropped);
    if (n < 0) {
        no_memory(err, w, h);
        goto done;
    }
    rc = 0;
    if (n == 0) goto done;
    {   /* every piece lies inside the groups' common box: its mask fits in that much */
        long ux0 = w, uy0 = h, ux1 = 0, uy1 = 0;
        for (int g = 0; g < n; g++) {
            if (box[g].x0 < ux0) ux0 = box[g].x0;
            if (box[g].y0 < uy0) uy0 = box[g].y0;
            if (box[g].x1 > ux1) ux1 = box[g].x1;
            if (box[g].y1 > uy1) uy1 = box[g].y1;
        }
        if (!(mask = malloc((size_t)((ux1 - ux0 + 1) * (uy1 - uy0 + 1))))) {
            rc = no_memory(err, w, h);
            goto done;
        }
    }
    pixel_ctx c = {gray, stride, bg, dark, cells, gw, box, mask, node, 1};
    for (int g = 0; g < n; g++) c.tallest = box[g].y1 - box[g].y0 + 1 > c.tallest ? box[g].y1 - box[g].y0 + 1 : c.tallest;
    /* the boundaries, left to right: each group's start, its cut candidates; then the end */
    int nn = 0;
    for (int g = 0; g < n; g++) {
        int cand[SPLIT_MAX_CUTS], k = cuts ? cut_candidates(&c, g, cand) : 0;
        if (k < 0) {
            rc = no_memory(err, w, h);
            goto done;
        }
        node[nn++] = (struct pixel_node){g, box[g].x0, 1};
        for (int i = 0; i < k; i++) node[nn++] = (struct pixel_node){g, cand[i], 0};
    }
    node[nn++] = (struct pixel_node){n, 0, 1};
    const source_t src = {nn, 0, pixel_piece, NULL, NULL, SPLIT_PENALTY, &c};
    rc = search(m, ws, &src, 0, piece_fn, ctx, out, err);
done:
    free(cells), free(mask), free(node);
    return rc;
}

/* ---- pieces from strokes ------------------------------------------------------------------- */

#ifdef READER_TUNE
#define STROKE_JOIN_COST tune("SJC", 2.0f)
#define STROKE_GAP_MAX tune("SGM", 0.5f)
#define STROKE_CUT_OVERLAP tune("SCO", 0.35f)
#define STROKE_SPLIT_OVERLAP tune("SSO", 2.0f)
#define STROKE_SHORT_RATIO tune("SSR", 0.75f)
#define STROKE_SHORT_COST tune("SSC", 4.0f)
#define STROKE_PENALTY tune("SPEN", -0.1f)
#else
#define STROKE_SHORT_RATIO 0.75f /* a stroke piece shorter than this × the tallest ink costs */
#define STROKE_SHORT_COST 4.0f   /* this much per unit it falls short (chosen on the dev writers) */
#define STROKE_PENALTY -0.1f
#define STROKE_SPLIT_OVERLAP 2.0f /* splitting two strokes whose columns overlap costs this × the overlap / the narrower */
#define STROKE_JOIN_COST 2.0f   /* per unit of gap between a piece's strokes, over its height */
#define STROKE_GAP_MAX 0.5f     /* strokes further apart than this × the piece's height are not one digit */
#define STROKE_CUT_OVERLAP 0.35f /* a stroke may be cut where its parts' columns overlap by less than this × its height */
#endif
#define STROKE_MAX_RUN 8        /* strokes (or parts of one) in a piece */
#ifdef READER_TUNE
#define PIECE_MIN_SPAN tune("PMS", 150.0f)
#else
#define PIECE_MIN_SPAN 150.0f   /* a piece whose points span less is read as if drawn this large (canvas pixels) */
#endif
#define SPECK_SIZE 0.1f         /* a stroke smaller than this × the tallest ... */
#define SPECK_AWAY 0.25f        /* ... and further than this × the tallest from all others is a speck */
#define DOT_SPAN INK_BRUSH_RADIUS /* a stroke whose points span less than this (canvas pixels) is a dot: a tap */

typedef struct {
    int s, p0, p1;          /* points p0..p1-1 of stroke s */
    float x0, y0, x1, y1;   /* the box of its ink: its points' box and the brush around it */
} elem_t;

/* An element's ink alone, on the pixels of the canvas its box covers. A piece's ink is the
 * pixelwise maximum of its elements' ink (the brush keeps the darkest value), so each element is
 * drawn once, not once for every piece it is part of. */
typedef struct {
    uint64_t key;     /* its points' hash and the canvas size; 0: empty */
    int x0, y0, w, h; /* where px lies on the canvas */
    uint8_t *px;      /* w×h, NULL when no pixel of the box is on the canvas */
} ink_tile;

#define READER_CACHE_SLOTS 256
#define READER_TILE_SLOTS 64
#define READER_TILE_BYTES (4u << 20) /* the cache keeps at most this much ink */
struct reader_cache {
    unsigned long version; /* of the weights its pieces were read with (model_t.version) */
    piece_t slot[READER_CACHE_SLOTS]; /* by key, direct-mapped; key 0: empty */
    ink_tile tile[READER_TILE_SLOTS]; /* the elements' ink, by key, direct-mapped; owned */
    size_t tile_bytes;
};

typedef struct {
    ink_tile t;
    int state; /* 0: not drawn yet, 1: drawn for this reading (owned), 2: borrowed from the cache */
} elem_ink;

typedef struct {
    const ink_t *ink;
    int w, h;
    const elem_t *el;
    const uint64_t *hash; /* of each element's points */
    elem_ink *tile;       /* of each element, drawn when a piece first needs it */
    uint8_t *scratch;     /* w×h */
    int tallest;
    reader_cache *cache;  /* may be NULL */
} stroke_ctx;

static float box_gap(const elem_t *a, const elem_t *b) {
    const float dx = fmaxf(0.0f, fmaxf(a->x0, b->x0) - fminf(a->x1, b->x1));
    const float dy = fmaxf(0.0f, fmaxf(a->y0, b->y0) - fminf(a->y1, b->y1));
    return sqrtf(dx * dx + dy * dy);
}

/* the gaps that join n elements into one piece: the edges of the minimum spanning tree of their
 * boxes' distances (Prim); returns their sum and sets *widest to the longest */
static float join_gaps(const elem_t *el, int n, float *widest) {
    float d[STROKE_MAX_RUN], sum = 0.0f;
    int in[STROKE_MAX_RUN] = {1};
    *widest = 0.0f;
    for (int k = 1; k < n; k++) d[k] = box_gap(&el[0], &el[k]);
    for (int added = 1; added < n; added++) {
        int best = -1;
        for (int k = 1; k < n; k++)
            if (!in[k] && (best < 0 || d[k] < d[best])) best = k;
        in[best] = 1, sum += d[best], *widest = fmaxf(*widest, d[best]);
        for (int k = 1; k < n; k++)
            if (!in[k]) d[k] = fminf(d[k], box_gap(&el[best], &el[k]));
    }
    return sum;
}

/* the pixels of the canvas that the ink box x0..x1, y0..y1 covers; false when none */
static int box_pixels(const stroke_ctx *c, float x0, float y0, float x1, float y1, int *r) {
    r[0] = x0 < 0 ? 0 : (int)x0, r[1] = y0 < 0 ? 0 : (int)y0;
    r[2] = x1 >= (float)(c->w - 1) ? c->w - 1 : (int)ceilf(x1), r[3] = y1 >= (float)(c->h - 1) ? c->h - 1 : (int)ceilf(y1);
    return r[2] >= r[0] && r[3] >= r[1];
}

/* element k's ink: from the cache, or drawn now; NULL when out of memory */
static const ink_tile *element_ink(const stroke_ctx *c, int k) {
    elem_ink *t = &c->tile[k];
    if (t->state) return &t->t;
    const uint64_t key = (c->hash[k] ^ (uint64_t)c->w << 40 ^ (uint64_t)c->h << 20) | 1;
    const ink_tile *hit = c->cache ? &c->cache->tile[key % READER_TILE_SLOTS] : NULL;
    if (hit && hit->key == key) {
        t->t = *hit, t->state = 2;
        return &t->t;
    }
    const elem_t *e = &c->el[k];
    int r[4];
    t->t = (ink_tile){key, 0, 0, 0, 0, NULL};
    if (box_pixels(c, e->x0, e->y0, e->x1, e->y1, r)) {
        const int w = r[2] - r[0] + 1, h = r[3] - r[1] + 1;
        if (!(t->t.px = calloc((size_t)w * (size_t)h, 1))) return NULL;
        int len;
        const ink_point *pt = ink_stroke(c->ink, e->s, &len);
        ink_draw_stroke(t->t.px, w, h, w, r[0], r[1], pt + e->p0, e->p1 - e->p0, INK_BRUSH_RADIUS);
        t->t.x0 = r[0], t->t.y0 = r[1], t->t.w = w, t->t.h = h;
    }
    t->state = 1;
    return &t->t;
}

/* the ink drawn for this reading goes into the cache, as much as it keeps; the rest is freed */
static void keep_ink(reader_cache *cache, elem_ink *t, int n) {
    for (int k = 0; k < n; k++) {
        if (t[k].state != 1) continue;
        const size_t size = (size_t)t[k].t.w * (size_t)t[k].t.h;
        ink_tile *slot = cache ? &cache->tile[t[k].t.key % READER_TILE_SLOTS] : NULL;
        const size_t after = slot ? cache->tile_bytes - (size_t)slot->w * (size_t)slot->h + size : 0;
        if (slot && after <= READER_TILE_BYTES) {
            free(slot->px);
            *slot = t[k].t, cache->tile_bytes = after;
        } else
            free(t[k].t.px);
    }
}

/* the piece of elements i..i+n alone, drawn on the part of the canvas its ink covers (box: the
 * union of their ink boxes) and preprocessed */
static int draw_piece(const stroke_ctx *c, int i, int n, float x0, float y0, float x1, float y1, piece_t *p) {
    int r[4];
    if (!box_pixels(c, x0, y0, x1, y1, r)) return PREPROCESS_BLANK;
    const int rw = r[2] - r[0] + 1, rh = r[3] - r[1] + 1;
    memset(c->scratch, 0, (size_t)rw * rh);
    for (int k = 0; k < n; k++) {
        const ink_tile *t = element_ink(c, i + k);
        if (!t) return -1;
        for (int y = 0; y < t->h; y++) { /* an element's box lies inside the piece's */
            uint8_t *dst = c->scratch + (size_t)(t->y0 - r[1] + y) * rw + (t->x0 - r[0]);
            const uint8_t *src = t->px + (size_t)y * t->w;
            for (int x = 0; x < t->w; x++) dst[x] = src[x] > dst[x] ? src[x] : dst[x];
        }
    }
    const int pr = preprocess_region(p->input, c->scratch, rw, NULL, 0, 0, 0, rw - 1, rh - 1, 0, 0, &p->info);
    if (pr == PREPROCESS_OK) p->info.x0 += r[0], p->info.x1 += r[0], p->info.y0 += r[1], p->info.y1 += r[1];
    return pr;
}

/* The piece of elements i..i+n drawn again from its points, scaled by s about its points' box, with
 * the page's brush: the ink a digit s times larger leaves. The box is that of its ink on the canvas
 * (x0..x1, y0..y1, inside it), so that boxes and costs are those of the drawing. */
static int draw_piece_scaled(const stroke_ctx *c, int i, int n, float x0, float y0, float x1, float y1, float s,
                             piece_t *p) {
    const float R = INK_BRUSH_RADIUS, px0 = x0 + R, py0 = y0 + R;
    const int sw = (int)ceilf(s * (x1 - x0 - 2 * R) + 2 * R) + 1, sh = (int)ceilf(s * (y1 - y0 - 2 * R) + 2 * R) + 1;
    memset(c->scratch, 0, (size_t)sw * sh);
    for (int k = 0; k < n; k++) {
        const elem_t *e = &c->el[i + k];
        int len;
        const ink_point *pt = ink_stroke(c->ink, e->s, &len);
        ink_point buf[256]; /* in runs that share their end points, so the capsules join as in one stroke */
        for (int a = e->p0; a < e->p1; a += 255) {
            const int m = e->p1 - a < 256 ? e->p1 - a : 256;
            if (m == 1 && a > e->p0) break;
            for (int q = 0; q < m; q++) buf[q] = (ink_point){(pt[a + q].x - px0) * s + R, (pt[a + q].y - py0) * s + R};
            ink_draw_stroke(c->scratch, sw, sh, sw, 0, 0, buf, m, R);
        }
    }
    const int pr = preprocess_region(p->input, c->scratch, sw, NULL, 0, 0, 0, sw - 1, sh - 1, 0, 0, &p->info);
    if (pr == PREPROCESS_OK) {
        p->info.x0 = (int)lroundf(x0), p->info.y0 = (int)lroundf(y0), p->info.x1 = (int)lroundf(x1);
        p->info.y1 = (int)lroundf(y1), p->info.scale *= s;
    }
    return pr;
}

/* how much larger to draw a piece whose points span (pw, ph) in its box x0..x1, y0..y1: so that its
 * longer side spans PIECE_MIN_SPAN, as far as the scratch canvas allows; 1 when it is large enough
 * already, or its ink is not all on the canvas */
static float piece_scale(const stroke_ctx *c, float x0, float y0, float x1, float y1) {
    const float R = INK_BRUSH_RADIUS, pw = x1 - x0 - 2 * R, ph = y1 - y0 - 2 * R, span = fmaxf(pw, ph);
    if (span >= PIECE_MIN_SPAN || span < 1.0f || x0 < 0 || y0 < 0 || x1 > (float)(c->w - 1) || y1 > (float)(c->h - 1))
        return 1.0f;
    float s = PIECE_MIN_SPAN / span;
    if (pw > 0) s = fminf(s, ((float)c->w - 2 * R - 2) / pw);
    if (ph > 0) s = fminf(s, ((float)c->h - 2 * R - 2) / ph);
    return fmaxf(s, 1.0f);
}

static int stroke_piece(void *ctx, int i, int j, piece_t *p, float *cost) {
    const stroke_ctx *c = ctx;
    const elem_t *el = c->el + i;
    const int n = j - i;
    p->key = 0, p->known = 0;
    if (n > STROKE_MAX_RUN) return PREPROCESS_BLANK;
    float x0 = el[0].x0, y0 = el[0].y0, x1 = el[0].x1, y1 = el[0].y1;
    for (int k = 1; k < n; k++)
        x0 = fminf(x0, el[k].x0), y0 = fminf(y0, el[k].y0), x1 = fmaxf(x1, el[k].x1), y1 = fmaxf(y1, el[k].y1);
    const float hh = y1 - y0, ww = x1 - x0;
    float widest, gaps = join_gaps(el, n, &widest);
    if (widest > STROKE_GAP_MAX * hh) return PREPROCESS_BLANK;
    int len1;
    ink_stroke(c->ink, el[n - 1].s, &len1);
    const int whole = el[0].p0 == 0 && el[n - 1].p1 == len1;
    const int too_wide = ww > SPLIT_MAX_PIECE * hh;
    if (too_wide && !(whole && el[0].s == el[n - 1].s)) return PREPROCESS_BLANK;
    if (!whole && ww < fmaxf(hh / SLIVER, 2.0f)) return PREPROCESS_BLANK; /* a sliver */
    if (c->cache) { /* the same points on the same canvas read by the same weights: the same piece */
        uint64_t key = 1469598103934665603ull ^ (uint64_t)c->w << 32 ^ (uint64_t)c->h;
        for (int k = 0; k < n; k++) key = (key ^ c->hash[i + k]) * 1099511628211ull;
        p->key = key ? key : 1;
        const piece_t *hit = &c->cache->slot[p->key % READER_CACHE_SLOTS];
        if (hit->key == p->key) *p = *hit, p->known = 1;
    }
    if (!p->known) {
        const float sc = piece_scale(c, x0, y0, x1, y1);
        const int pr = sc > 1.0f ? draw_piece_scaled(c, i, n, x0, y0, x1, y1, sc, p) : draw_piece(c, i, n, x0, y0, x1, y1, p);
        if (pr != PREPROCESS_OK) return pr;
    }
    *cost = STROKE_JOIN_COST * gaps / fmaxf(hh, 1.0f) +
            shape_cost(&p->info, too_wide, c->tallest, STROKE_SHORT_RATIO, STROKE_SHORT_COST);
    return PREPROCESS_OK;
}

static void stroke_store(void *ctx, const piece_t *p) {
    const stroke_ctx *c = ctx;
    if (c->cache) c->cache->slot[p->key % READER_CACHE_SLOTS] = *p;
}

/* Two digits side by side share few columns; the strokes of one digit - the
 * two of a 4, the loops of an 8 - share many. Splitting between elements j-1
 * and j costs by how much their points' columns overlap, over the narrower. */
static float stroke_split(void *ctx, int j) {
    const stroke_ctx *c = ctx;
    const elem_t *a = &c->el[j - 1], *b = &c->el[j];
    const float r = INK_BRUSH_RADIUS;
    const float over = fminf(a->x1, b->x1) - fmaxf(a->x0, b->x0) - 2 * r;
    const float narrow = fmaxf(fminf(a->x1 - a->x0, b->x1 - b->x0) - 2 * r, r);
    return over > 0 ? STROKE_SPLIT_OVERLAP * fminf(over / narrow, 1.0f) : 0.0f;
}

static void elem_box(const ink_t *ink, elem_t *e) {
    int n;
    const ink_point *p = ink_stroke(ink, e->s, &n);
    e->x0 = e->x1 = p[e->p0].x, e->y0 = e->y1 = p[e->p0].y;
    for (int k = e->p0 + 1; k < e->p1; k++)
        e->x0 = fminf(e->x0, p[k].x), e->x1 = fmaxf(e->x1, p[k].x), e->y0 = fminf(e->y0, p[k].y), e->y1 = fmaxf(e->y1, p[k].y);
    const float r = INK_BRUSH_RADIUS;
    e->x0 -= r, e->y0 -= r, e->x1 += r, e->y1 += r;
}

/* Where stroke e may be cut: points k where the columns of its part up to k and of its part from
 * k overlap least (a local minimum, below STROKE_CUT_OVERLAP × its height), both parts wider than
 * a sliver. At most SPLIT_MAX_CUTS, the lowest; into cand, in order. */
static int stroke_cuts(const ink_t *ink, const elem_t *e, int *cand) {
    const float bw = e->x1 - e->x0, bh = e->y1 - e->y0;
    int n;
    const ink_point *p = ink_stroke(ink, e->s, &n);
    if (bw <= SPLIT_MIN_RATIO * bh || n < 5) return 0;
    float *a = malloc(sizeof(float) * 4 * (size_t)n);
    if (!a) return -1;
    float *pmax = a, *pmin = a + n, *smin = a + 2 * n, *smax = a + 3 * n;
    for (int k = 0; k < n; k++) {
        pmax[k] = k ? fmaxf(pmax[k - 1], p[k].x) : p[k].x;
        pmin[k] = k ? fminf(pmin[k - 1], p[k].x) : p[k].x;
    }
    for (int k = n - 1; k >= 0; k--) {
        smin[k] = k < n - 1 ? fminf(smin[k + 1], p[k].x) : p[k].x;
        smax[k] = k < n - 1 ? fmaxf(smax[k + 1], p[k].x) : p[k].x;
    }
    const float minw = fmaxf(bh / SLIVER, 2.0f);
    const int radius = n / 30 > 1 ? n / 30 : 1;
    int nc = 0;
#define OV(k) (pmax[k] - smin[k])
    for (int k = 1; k < n - 1; k++) {
        if (OV(k) > STROKE_CUT_OVERLAP * bh || pmax[k] - pmin[k] < minw || smax[k] - smin[k] < minw) continue;
        int minimum = OV(k) < OV(k - 1); /* the first point of a plateau */
        for (int d = 1; d <= radius && minimum; d++)
            minimum = (k - d < 0 || OV(k) <= OV(k - d)) && (k + d >= n || OV(k) <= OV(k + d));
        if (!minimum) continue;
        if (nc < SPLIT_MAX_CUTS) cand[nc++] = k;
        else {
            int worst = 0;
            for (int i = 1; i < nc; i++) worst = OV(cand[i]) > OV(cand[worst]) ? i : worst;
            if (OV(k) < OV(cand[worst])) cand[worst] = k;
        }
    }
#undef OV
    free(a);
    for (int i = 1; i < nc; i++)
        for (int j = i; j > 0 && cand[j] < cand[j - 1]; j--) {
            int t = cand[j];
            cand[j] = cand[j - 1], cand[j - 1] = t;
        }
    return nc;
}

/* The strokes to read, one element each, in the order the search takes them:
 * drawing order, except that a stroke which starts left of the stroke before
 * it and lies over an earlier stroke (the bar of a 5 added after the next
 * digit) goes right after that stroke. Strokes with no points or no ink on the
 * canvas, and specks, are left out; a drawing of dots alone (taps: no stroke
 * spans DOT_SPAN) has nothing to read, and *dots says so. Returns how many. */
static int stroke_elements(const ink_t *ink, int w, int h, elem_t *el, int *truncated, int *dots, int *tallest) {
    int n = 0;
    *truncated = 0;
    for (int s = 0; s < ink->n_strokes; s++) {
        int len;
        ink_stroke(ink, s, &len);
        if (len == 0) continue;
        if (n == READER_MAX_STROKES) {
            *truncated = 1;
            break;
        }
        elem_t e = {s, 0, len, 0, 0, 0, 0};
        elem_box(ink, &e);
        if (e.x1 < 0 || e.y1 < 0 || e.x0 > (float)(w - 1) || e.y0 > (float)(h - 1)) continue; /* off the canvas */
        el[n++] = e;
    }
    float tall = 0.0f;
    for (int k = 0; k < n; k++) tall = fmaxf(tall, el[k].y1 - el[k].y0);
    int kept = 0, shaped = 0; /* shaped: a kept stroke is more than a dot (a dot alone reads as a sure 0) */
    for (int k = 0; k < n; k++) { /* specks: small, and far from every other stroke */
        const float size = fmaxf(el[k].x1 - el[k].x0, el[k].y1 - el[k].y0) - 2 * INK_BRUSH_RADIUS;
        float near = INFINITY;
        for (int q = 0; q < n; q++)
            if (q != k) near = fminf(near, box_gap(&el[k], &el[q]));
        if (n > 1 && size < SPECK_SIZE * (tall - 2 * INK_BRUSH_RADIUS) && near > SPECK_AWAY * tall) continue;
        el[kept++] = el[k];
        shaped |= size >= DOT_SPAN;
    }
    n = kept;
    *dots = n > 0 && !shaped;
    if (*dots) n = 0;
    /* strokes that come back to an earlier digit */
    for (int k = 2; k < n; k++) {
        const elem_t e = el[k];
        if (0.5f * (e.x0 + e.x1) >= el[k - 1].x0) continue;
        int at = -1;
        for (int q = k - 2; q >= 0 && at < 0; q--) {
            const float over = fminf(e.x1, el[q].x1) - fmaxf(e.x0, el[q].x0);
            if (over >= 0.5f * (e.x1 - e.x0)) at = q;
        }
        if (at < 0) continue;
        memmove(&el[at + 2], &el[at + 1], sizeof *el * (size_t)(k - at - 1));
        el[at + 1] = e;
    }
    int t = 1;
    for (int k = 0; k < n; k++) t = el[k].y1 - el[k].y0 > (float)t ? (int)(el[k].y1 - el[k].y0) : t;
    *tallest = t;
    return n;
}

reader_cache *reader_cache_new(char *err) {
    reader_cache *c = calloc(1, sizeof(reader_cache));
    if (!c) set_error(err, "reader: out of memory for the cache of pieces");
    return c;
}
void reader_cache_clear(reader_cache *c) {
    if (!c) return;
    for (int k = 0; k < READER_TILE_SLOTS; k++) free(c->tile[k].px);
    memset(c, 0, sizeof *c);
}
void reader_cache_free(reader_cache *c) {
    reader_cache_clear(c);
    free(c);
}

/* FNV-1a over the bits of points p0..p1 of an element */
static uint64_t elem_hash(const ink_t *ink, const elem_t *e) {
    int n;
    const ink_point *p = ink_stroke(ink, e->s, &n);
    uint64_t h = 1469598103934665603ull;
    const uint8_t *b = (const uint8_t *)(p + e->p0);
    for (size_t k = 0; k < sizeof *p * (size_t)(e->p1 - e->p0); k++) h = (h ^ b[k]) * 1099511628211ull;
    return h ^ (uint64_t)(e->p1 - e->p0);
}

int reader_read_ink(model_t *m, workspace_t *ws, const ink_t *ink, int w, int h, int cuts, reader_cache *cache,
                    reading *out, char *err) {
    memset(out, 0, sizeof *out);
    if (!ink) return set_error(err, "reader: no strokes given");
    if (w < 1 || h < 1 || w > 16384 || h > 16384) return bad_canvas(err, w, h, w);
    if (ws->max_batch < 1) return bad_workspace(err);
    if (cache && cache->version != m->version) { /* other weights */
        reader_cache_clear(cache);
        cache->version = m->version;
    }
    const int max_el = READER_MAX_STROKES * (SPLIT_MAX_CUTS + 1);
    elem_t *strokes = malloc(sizeof(elem_t) * READER_MAX_STROKES), *el = malloc(sizeof(elem_t) * (size_t)max_el);
    uint64_t *hash = malloc(sizeof(uint64_t) * (size_t)max_el);
    uint8_t *scratch = malloc((size_t)w * (size_t)h);
    elem_ink *tile = calloc((size_t)max_el, sizeof(elem_ink));
    int rc = -1, tallest;
    int n = strokes && el && hash && scratch && tile ? stroke_elements(ink, w, h, strokes, &out->truncated, &out->dots, &tallest) : -1;
    int ne = 0;
    for (int k = 0; k < n; k++) { /* each stroke, cut where it may be */
        int cand[SPLIT_MAX_CUTS], nc = cuts ? stroke_cuts(ink, &strokes[k], cand) : 0;
        if (nc < 0) {
            n = -1;
            break;
        }
        int from = 0;
        for (int q = 0; q <= nc; q++) {
            el[ne] = strokes[k];
            el[ne].p0 = from, el[ne].p1 = q < nc ? cand[q] + 1 : strokes[k].p1;
            from = q < nc ? cand[q] : from;
            elem_box(ink, &el[ne]);
            hash[ne] = elem_hash(ink, &el[ne]);
            ne++;
        }
    }
    if (n >= 0) {
        const stroke_ctx c = {ink, w, h, el, hash, tile, scratch, tallest, cache};
        const source_t src = {ne + 1, STROKE_MAX_RUN, stroke_piece, stroke_split, stroke_store, STROKE_PENALTY, (void *)&c};
        const int truncated = out->truncated, dots = out->dots;
        rc = ne ? search(m, ws, &src, 1, NULL, NULL, out, err) : 0;
        out->truncated = truncated, out->dots = dots;
    } else
        no_memory(err, w, h);
    if (tile) keep_ink(cache, tile, ne);
    free(strokes), free(el), free(hash), free(scratch), free(tile);
    return rc;
}
