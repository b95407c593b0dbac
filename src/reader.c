#include "reader.h"

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
 * has 16 times fewer elements than the canvas. cells (gw×gh) gets 1 + the
 * digit of each cell, or 0. Returns the number of digits, or -1. */
#define SEG_CELL 4

static int segment_cells(const uint8_t *gray, int w, int h, int stride, int bg, int dark, uint8_t *cells, int gw,
                         int gh, preprocess_info *boxes, int max, int *dropped) {
    const long ng = (long)gw * gh;
    memset(cells, 0, (size_t)ng);
    uint8_t is_ink[256]; /* a table instead of a branch per pixel */
    for (int v = 0; v < 256; v++) is_ink[v] = (dark ? bg - v : v - bg) >= PREPROCESS_INK_MIN;
    for (int y = 0; y < h; y++) {
        const uint8_t *row = gray + (long)y * stride;
        uint8_t *crow = cells + (long)(y / SEG_CELL) * gw;
        int x = 0;
        for (; x + SEG_CELL <= w; x += SEG_CELL)
            crow[x / SEG_CELL] |= is_ink[row[x]] | is_ink[row[x + 1]] | is_ink[row[x + 2]] | is_ink[row[x + 3]];
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

int reader_read(model_t *m, workspace_t *ws, const uint8_t *gray, int w, int h, int stride, reading *out) {
    memset(out, 0, sizeof *out);
    int dark, bg = preprocess_background(gray, w, h, stride, &dark);
    if (bg < 0 || ws->max_batch < 1) return -1;
    const int gw = (w + SEG_CELL - 1) / SEG_CELL, gh = (h + SEG_CELL - 1) / SEG_CELL;
    uint8_t *cells = malloc((size_t)gw * gh);
    if (!cells) return -1;
    preprocess_info boxes[READER_MAX_DIGITS];
    int dropped, n = segment_cells(gray, w, h, stride, bg, dark, cells, gw, gh, boxes, READER_MAX_DIGITS, &dropped);
    if (n < 0) {
        free(cells);
        return -1;
    }
    int k = 0, rc = 0;
    for (int s = 0; s < n && !rc; s++) {
        const preprocess_info *b = &boxes[s];
        const int bw = b->x1 - b->x0 + 1, bh = b->y1 - b->y0 + 1;
        /* a mask over the digit's box, from the cells: needed only when other ink could fall in it */
        uint8_t *mask = NULL;
        if (n > 1 || dropped) {
            mask = malloc((size_t)bw * bh);
            if (!mask) {
                rc = -1;
                break;
            }
            for (int y = 0; y < bh; y++)
                for (int x = 0; x < bw; x++)
                    mask[(long)y * bw + x] = cells[(long)((b->y0 + y) / SEG_CELL) * gw + (b->x0 + x) / SEG_CELL] == s + 1;
        }
        int pr = preprocess_region(out->input[k], gray, stride, mask, bw, b->x0, b->y0, b->x1, b->y1, bg, dark, &out->info[k]);
        free(mask);
        if (pr < 0) rc = -1;
        if (pr != PREPROCESS_OK) continue;
        const float *p = model_predict(m, ws, out->input[k], 1);
        memcpy(out->prob[k], p, sizeof(float) * N_CLASSES);
        int best = 0;
        for (int j = 1; j < N_CLASSES; j++)
            if (p[j] > p[best]) best = j;
        out->digit[k] = best;
        out->number[k] = (char)('0' + best);
        k++;
    }
    out->n = k;
    out->number[k] = 0;
    free(cells);
    return rc;
}
