/* augment.h - random distortions of training digits.
 *
 * People draw digits rotated, slanted, stretched, off-centre and with pens of
 * every width; MNIST's writers did so less. Each training image is therefore
 * redrawn through a random affine map (rotation, scale, aspect, shear,
 * translation), an elastic distortion (Simard et al. 2003: a random
 * displacement field smoothed by a Gaussian) and, sometimes, a change of
 * stroke thickness (grey-level dilation or erosion, blended in by a random
 * amount). All randomness comes from the rng passed in.
 */
#ifndef AUGMENT_H
#define AUGMENT_H

#include <stdint.h>

#include "error.h"
#include "rng.h"

typedef struct {
    float rotate_deg;       /* rotation drawn from ±rotate_deg */
    float scale_min, scale_max;
    float aspect;           /* x and y scales differ by a factor up to 1 ± aspect */
    float shear;            /* x += shear·y, shear drawn from ±shear */
    float shift;            /* translation drawn from ±shift pixels, each axis */
    float elastic_prob;     /* probability of an elastic distortion */
    float elastic_alpha;    /* its strength, pixels */
    float elastic_sigma;    /* its smoothness, pixels */
    float thick_prob, thin_prob; /* probabilities of thickening / thinning strokes */
} augment_params;

void augment_defaults(augment_params *p);
/* Override fields from a spec like "rotate=10,shift=2,elastic=0.5,alpha=1.5";
 * keys: rotate scale_min scale_max aspect shear shift elastic alpha sigma thick thin.
 * Returns 0, or -1 with a message for an unknown key or a bad value. */
int augment_parse(augment_params *p, const char *spec, char *err);
/* src: a side×side image, 0..255 ink; dst: side×side floats in [0, 1]. side <= 32. */
void augment_image(float *dst, const uint8_t *src, int side, const augment_params *p, rng_t *r);

/* bilinear sample of a side×side image at (x, y), pixel centres at integer
 * coordinates, zero outside */
float augment_sample(const float *img, int side, float x, float y);

#endif
