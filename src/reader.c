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
} comp_t;

static int cmp_x0(const void *a, const void *b) {
    const comp_t *p = a, *q = b;
    return (p->x0 > q->x0) - (p->x0 < q->x0);
}

int reader_segment(const uint8_t *gray, int w, int h, int stride, uint8_t *labels, preprocess_info *boxes, int max) {
    int dark, bg = preprocess_background(gray, w, h, stride, &dark);
    if (bg < 0 || !labels || !boxes || max < 1) return -1;
    const long n = (long)w * h;
    int *lab = malloc(sizeof(int) * (size_t)n), *parent = NULL;
    if (!lab) return -1;
    /* first pass: provisional labels, with equivalences recorded in parent[] */
    int next = 0, cap = 1024;
    parent = malloc(sizeof(int) * (size_t)cap);
    if (!parent) {
        free(lab);
        return -1;
    }
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            int v = gray[(long)y * stride + x], ink = dark ? bg - v : v - bg;
            long i = (long)y * w + x;
            lab[i] = -1;
            if (ink < PREPROCESS_INK_MIN) continue;
            int best = -1;
            static const int dx[4] = {-1, -1, 0, 1}, dy[4] = {0, -1, -1, -1}; /* neighbours already visited */
            for (int k = 0; k < 4; k++) {
                int xx = x + dx[k], yy = y + dy[k];
                if (xx < 0 || yy < 0 || xx >= w) continue;
                int l = lab[(long)yy * w + xx];
                if (l < 0) continue;
                l = find(parent, l);
                if (best < 0) best = l;
                else if (l != best) {
                    int a = l < best ? l : best, b = l < best ? best : l;
                    parent[b] = a;
                    best = a;
                }
            }
            if (best < 0) {
                if (next == cap) {
                    int *np = realloc(parent, sizeof(int) * (size_t)cap * 2);
                    if (!np) {
                        free(lab), free(parent);
                        return -1;
                    }
                    parent = np, cap *= 2;
                }
                parent[next] = next;
                best = next++;
            }
            lab[i] = best;
        }
    /* second pass: one box per root */
    comp_t *comp = malloc(sizeof(comp_t) * (size_t)(next ? next : 1));
    int *slot = malloc(sizeof(int) * (size_t)(next ? next : 1));
    if (!comp || !slot) {
        free(lab), free(parent), free(comp), free(slot);
        return -1;
    }
    int nc = 0;
    for (int i = 0; i < next; i++) slot[i] = -1;
    long biggest = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            long i = (long)y * w + x;
            if (lab[i] < 0) continue;
            int r = find(parent, lab[i]);
            lab[i] = r;
            if (slot[r] < 0) {
                slot[r] = nc;
                comp[nc++] = (comp_t){x, y, x, y, 0, r};
            }
            comp_t *c = &comp[slot[r]];
            if (x < c->x0) c->x0 = x;
            if (x > c->x1) c->x1 = x;
            if (y > c->y1) c->y1 = y;
            c->area++;
            if (c->area > biggest) biggest = c->area;
        }
    /* drop specks: tiny next to the largest stroke */
    int kept = 0;
    for (int i = 0; i < nc; i++)
        if (comp[i].area * 50 >= biggest && comp[i].area >= 4) comp[kept++] = comp[i];
    nc = kept;
    qsort(comp, (size_t)nc, sizeof(comp_t), cmp_x0);
    /* merge components that overlap horizontally by half of the narrower one */
    int *group = malloc(sizeof(int) * (size_t)(nc ? nc : 1));
    preprocess_info *box = malloc(sizeof(preprocess_info) * (size_t)(nc ? nc : 1));
    if (!group || !box) {
        free(lab), free(parent), free(comp), free(slot), free(group), free(box);
        return -1;
    }
    int ng = 0;
    for (int i = 0; i < nc; i++) {
        int g = -1;
        for (int j = 0; j < ng && g < 0; j++) {
            int lo = comp[i].x0 > box[j].x0 ? comp[i].x0 : box[j].x0;
            int hi = comp[i].x1 < box[j].x1 ? comp[i].x1 : box[j].x1;
            int wa = comp[i].x1 - comp[i].x0 + 1, wb = box[j].x1 - box[j].x0 + 1;
            int narrow = wa < wb ? wa : wb;
            if (hi - lo + 1 >= (narrow + 1) / 2) g = j;
        }
        if (g < 0) {
            g = ng++;
            memset(&box[g], 0, sizeof box[g]);
            box[g].x0 = comp[i].x0, box[g].x1 = comp[i].x1, box[g].y0 = comp[i].y0, box[g].y1 = comp[i].y1;
            box[g].dark_ink = dark;
        } else {
            if (comp[i].x0 < box[g].x0) box[g].x0 = comp[i].x0;
            if (comp[i].x1 > box[g].x1) box[g].x1 = comp[i].x1;
            if (comp[i].y0 < box[g].y0) box[g].y0 = comp[i].y0;
            if (comp[i].y1 > box[g].y1) box[g].y1 = comp[i].y1;
        }
        group[i] = g;
    }
    /* merging can leave groups out of order; groups are built in x0 order already */
    for (int i = 0; i < next; i++) slot[i] = 0;
    for (int i = 0; i < nc; i++) slot[comp[i].root] = group[i] < max ? group[i] + 1 : 0;
    for (long i = 0; i < n; i++) labels[i] = lab[i] < 0 ? 0 : (uint8_t)slot[lab[i]];
    int count = ng < max ? ng : max;
    for (int i = 0; i < count; i++) boxes[i] = box[i];
    free(lab), free(parent), free(comp), free(slot), free(group), free(box);
    return count;
}

int reader_read(model_t *m, workspace_t *ws, const uint8_t *gray, int w, int h, int stride, reading *out) {
    memset(out, 0, sizeof *out);
    if (!gray || w < 1 || h < 1 || stride < w || w > 16384 || h > 16384 || ws->max_batch < 1) return -1;
    uint8_t *labels = malloc((size_t)w * h), *mask = malloc((size_t)w * h);
    if (!labels || !mask) {
        free(labels), free(mask);
        return -1;
    }
    preprocess_info boxes[READER_MAX_DIGITS];
    int n = reader_segment(gray, w, h, stride, labels, boxes, READER_MAX_DIGITS);
    if (n < 0) {
        free(labels), free(mask);
        return -1;
    }
    int k = 0;
    for (int s = 0; s < n; s++) {
        for (long i = 0; i < (long)w * h; i++) mask[i] = labels[i] == s + 1;
        if (preprocess_canvas_masked(out->input[k], gray, mask, w, h, stride, &out->info[k]) != PREPROCESS_OK) continue;
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
    free(labels), free(mask);
    return 0;
}
