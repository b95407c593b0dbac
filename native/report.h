/* report.h - the evaluation report: PNG images (via stb_image_write) and the
 * model card, plus the small RGB canvas they are drawn on. */
#ifndef REPORT_H
#define REPORT_H

#include <stdint.h>

#include "augment.h"
#include "error.h"
#include "model.h"
#include "pen.h"
#include "raster.h"
#include "trainlog.h"
#include "trainlog.h"

int report_save_png(const raster_t *c, const char *path, char *err); /* atomic */
/* the page's app icon, size × size: a 7 with a bar, written in white on the page's accent blue, inside
 * the middle 60% so that a launcher may crop it to a circle ("maskable") */
int report_icon(const char *path, int size, char *err);

/* pen digits of some writers at one range of sizes (pen.h's `small`), and numbers of one writer's
 * digits read exactly, apart and touching (numbers each, 0 when not measured), and as they would be
 * if each digit's strokes were read alone (pen_evaluate_numbers' alone), in % */
typedef struct {
    pen_result digits;
    int numbers;
    double apart, touching, apart_alone, touching_alone;
} pen_figures;

typedef struct {
    int n, correct;
    int confusion[N_CLASSES][N_CLASSES]; /* [true][predicted] */
    double mean_ms;                      /* inference time per image, batch 1 */
    double nll;
    /* numbers composed from the test digits and read exactly (compose.h), -1 when not measured */
    double multi_apart, multi_touching;
    int multi_n;
    /* real pen digits of writers never trained on (pen.h), at the sizes people write at and written
     * small; pen.digits.n == 0 when not measured */
    pen_figures pen, pen_small;
    uint32_t pen_writers;
} eval_result;

int report_confusion(const char *path, const eval_result *r, char *err);
/* pixels: n 28×28 byte images; pred: the model's answers */
int report_misclassified(const char *path, const uint8_t *pixels, const uint8_t *labels, const int *pred,
                         const float *probs, int n, char *err);
int report_curves(const char *path, const train_log *log, char *err);
/* a few training images, each followed by random augmentations of it */
int report_augmentation(const char *path, const uint8_t *pixels, int n, const augment_params *p, char *err);
/* a contact sheet of logged drawings: each with its label, and what the model said when it differs */
int report_contact_sheet(const char *path, const uint8_t *pixels, const uint8_t *labels, const uint8_t *predicted,
                         int n, char *err);
/* every pen digit read wrong: the whole drawing, its label, what was read, red when the page showed it as sure */
int report_pen_misread(const char *path, const pen_set *set, const pen_result *r, char *err);
/* the card's figures as JSON (report/summary.json), for the page's training panel */
int report_summary(const char *path, const model_t *m, const eval_result *r, const train_log *log, char *err);
int report_model_card(const char *path, const model_t *m, const eval_result *r, const train_log *log,
                      const char *model_path, char *err);

#endif
