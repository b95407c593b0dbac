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

int reader_segment(const uint8_t *gray, int w, int h, int stride, uint8_t *labels, preprocess_info *boxes, int max) {
    int dark, bg = preprocess_background(gray, w, h, stride, &dark);
    if (bg < 0 || !boxes || max < 1) return -1;
    const int gw = (w + SEG_CELL - 1) / SEG_CELL, gh = (h + SEG_CELL - 1) / SEG_CELL;
    uint8_t *cells = malloc((size_t)gw * gh);
    if (!cells) return -1;
    int dropped, n = segment_cells(gray, w, h, stride, bg, dark, cells, gw, gh, boxes, max, &dropped);
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

typedef struct {
    model_t *m;
    workspace_t *ws;
    const uint8_t *gray;
    int stride, bg, dark;
    const uint8_t *cells; /* 1 + group of each cell, or 0 */
    int gw;
    const preprocess_info *box; /* the groups' boxes, left to right */
    uint8_t *mask;              /* scratch, as large as the groups' common box */
} read_ctx;

/* A piece: group g0 from column a on, the groups between, and group g1 up to
 * column b (exclusive). Preprocesses its ink and classifies it. Returns
 * PREPROCESS_OK with *logp (the log of the top uncalibrated probability),
 * PREPROCESS_BLANK, or -1. */
static int read_piece(const read_ctx *c, int g0, int a, int g1, int b, float *input, float *prob,
                      preprocess_info *info, float *logp) {
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
    int pr = preprocess_region(input, c->gray, c->stride, c->mask, rw, x0, y0, x1, y1, c->bg, c->dark, info);
    if (pr != PREPROCESS_OK) return pr;
    const float *p = model_predict(c->m, c->ws, input, 1);
    if (prob) memcpy(prob, p, sizeof(float) * N_CLASSES);
    /* the uncalibrated softmax: log p_j = z_j / T - log Z, so T·log p_j is z_j up to a constant */
    const float T = c->m->temperature > 0 ? c->m->temperature : 1.0f;
    float z[N_CLASSES], zmax = -INFINITY, sum = 0;
    for (int j = 0; j < N_CLASSES; j++) z[j] = T * logf(p[j] > 1e-30f ? p[j] : 1e-30f), zmax = fmaxf(zmax, z[j]);
    for (int j = 0; j < N_CLASSES; j++) sum += expf(z[j] - zmax);
    *logp = -logf(sum);
    return PREPROCESS_OK;
}

/* cut candidates inside group g: columns (absolute) where the vertical
 * projection of its ink has a local minimum, away from its ends */
static int cut_candidates(const read_ctx *c, int g, int *cand) {
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

typedef struct {
    int g, x; /* a boundary: group g starts (x = its x0) or is cut at column x */
    int start;
    float best;
    int from;
} node_t;

int reader_read(model_t *m, workspace_t *ws, const uint8_t *gray, int w, int h, int stride, reading *out) {
    return reader_read_cuts(m, ws, gray, w, h, stride, 1, out);
}

int reader_read_cuts(model_t *m, workspace_t *ws, const uint8_t *gray, int w, int h, int stride, int cuts,
                     reading *out) {
    return reader_read_pieces(m, ws, gray, w, h, stride, cuts, NULL, NULL, out);
}

int reader_read_pieces(model_t *m, workspace_t *ws, const uint8_t *gray, int w, int h, int stride, int cuts,
                       reader_piece_fn piece_fn, void *ctx, reading *out) {
    memset(out, 0, sizeof *out);
    int dark, bg = preprocess_background(gray, w, h, stride, &dark);
    if (bg < 0 || ws->max_batch < 1) return -1;
    const int gw = (w + SEG_CELL - 1) / SEG_CELL, gh = (h + SEG_CELL - 1) / SEG_CELL;
    uint8_t *cells = malloc((size_t)gw * gh), *mask = NULL;
    node_t *node = malloc(sizeof(node_t) * (READER_MAX_DIGITS * (SPLIT_MAX_CUTS + 1) + 1));
    preprocess_info box[READER_MAX_DIGITS];
    int dropped, n = -1, rc = -1;
    if (cells && node) n = segment_cells(gray, w, h, stride, bg, dark, cells, gw, gh, box, READER_MAX_DIGITS, &dropped);
    if (n < 0) goto done;
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
            rc = -1;
            goto done;
        }
    }
    const read_ctx c = {m, ws, gray, stride, bg, dark, cells, gw, box, mask};
    int tallest = 1;
    for (int g = 0; g < n; g++) tallest = box[g].y1 - box[g].y0 + 1 > tallest ? box[g].y1 - box[g].y0 + 1 : tallest;
    /* the boundaries, left to right: each group's start, its cut candidates; then the end */
    int nn = 0;
    for (int g = 0; g < n; g++) {
        int cand[SPLIT_MAX_CUTS], k = cuts ? cut_candidates(&c, g, cand) : 0;
        if (k < 0) {
            rc = -1;
            goto done;
        }
        node[nn++] = (node_t){g, box[g].x0, 1, -INFINITY, -1};
        for (int i = 0; i < k; i++) node[nn++] = (node_t){g, cand[i], 0, -INFINITY, -1};
    }
    node[nn++] = (node_t){n, 0, 1, -INFINITY, -1};
    node[0].best = 0;
    /* each boundary keeps the reading of the best piece that ends there, for the result */
    typedef struct {
        float input[IMG_PIXELS], prob[N_CLASSES];
        preprocess_info info;
    } piece_t;
    piece_t *piece = malloc(sizeof(piece_t) * (size_t)nn), scratch;
    if (!piece) {
        rc = -1;
        goto done;
    }
    for (int j = 1; j < nn; j++)
        for (int i = j - 1; i >= 0; i--) {
            if (node[i].best == -INFINITY) continue;
            /* the piece from boundary i to boundary j */
            int g0 = node[i].g, a = node[i].x, g1 = node[j].start ? node[j].g - 1 : node[j].g;
            int b = node[j].start ? box[g1].x1 + 1 : node[j].x;
            if (g1 < g0 || (g1 == g0 && b <= a)) continue;
            int hh = 0, gaps = 0, too_far = 0;
            for (int g = g0; g <= g1; g++) hh = box[g].y1 - box[g].y0 + 1 > hh ? box[g].y1 - box[g].y0 + 1 : hh;
            for (int g = g0; g < g1; g++) {
                gaps++;
                too_far |= box[g + 1].x0 - box[g].x1 - 1 > MERGE_GAP * hh;
            }
            const int whole = node[i].start && node[j].start;
            /* a piece wider than a digit can be is allowed only as one whole group, as a last resort
             * (a scribble, or touching digits on the one-digit canvas): there is always a split */
            const int too_wide = b - a > SPLIT_MAX_PIECE * hh;
            if (too_far || (too_wide && !(whole && g0 == g1))) continue;
            if (!whole && b - a < (hh / SLIVER > 2 ? hh / SLIVER : 2)) continue; /* a sliver */
            float lp;
            int pr = read_piece(&c, g0, a, g1, b, scratch.input, scratch.prob, &scratch.info, &lp);
            if (pr < 0) {
                free(piece);
                rc = -1;
                goto done;
            }
            if (pr != PREPROCESS_OK) continue;
            if (piece_fn) piece_fn(ctx, &scratch.info, scratch.input, scratch.prob);
            const preprocess_info *info = &scratch.info;
            float ratio = (float)(info->x1 - info->x0 + 1) / (float)(info->y1 - info->y0 + 1);
            float score = node[i].best + lp - SPLIT_PENALTY - MERGE_PENALTY * (float)gaps -
                          SPLIT_WIDE_COST * fmaxf(0.0f, ratio - SPLIT_WIDE_RATIO) - (too_wide ? 10.0f : 0.0f);
            /* a piece much shorter than the number's tallest group: a speck, or a stroke cut off a digit */
            score -= SHORT_COST * fmaxf(0.0f, SHORT_RATIO - (float)(info->y1 - info->y0 + 1) / (float)tallest);
            if (score > node[j].best) node[j].best = score, node[j].from = i, piece[j] = scratch;
        }
    /* path: the boundaries of the best split, right to left */
    int k = 0;
    if (node[nn - 1].from >= 0) {
        int path[READER_MAX_DIGITS * (SPLIT_MAX_CUTS + 1) + 1], np = 0;
        for (int j = nn - 1; j > 0; j = node[j].from) path[np++] = j;
        for (int p = np - 1; p >= 0 && k < READER_MAX_DIGITS; p--, k++) {
            const piece_t *pc = &piece[path[p]];
            memcpy(out->input[k], pc->input, sizeof pc->input);
            memcpy(out->prob[k], pc->prob, sizeof pc->prob);
            out->info[k] = pc->info;
            int best = 0;
            for (int j = 1; j < N_CLASSES; j++)
                if (pc->prob[j] > pc->prob[best]) best = j;
            out->digit[k] = best;
            out->number[k] = (char)('0' + best);
        }
    }
    free(piece);
    out->n = k;
    out->number[k] = 0;
done:
    free(cells), free(mask), free(node);
    return rc;
}
