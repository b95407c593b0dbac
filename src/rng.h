/* rng.h - a small seeded random number generator (SplitMix64).
 *
 * Training draws every random number it uses (initialisation, shuffling,
 * augmentation, dropout) from generators seeded from one user seed, so a run
 * is reproducible. Streams for independent jobs come from rng_derive(), which
 * mixes a seed with a job id: image i of epoch e gets the same stream whatever
 * thread processes it.
 */
#ifndef RNG_H
#define RNG_H

#include <stdint.h>

typedef struct {
    uint64_t state;
} rng_t;

void rng_seed(rng_t *r, uint64_t seed);
/* a generator for sub-job `id` of seed `seed`, statistically independent of the others */
rng_t rng_derive(uint64_t seed, uint64_t id);
uint64_t rng_u64(rng_t *r);
uint32_t rng_below(rng_t *r, uint32_t n); /* uniform in [0, n), n > 0 */
float rng_uniform(rng_t *r);              /* uniform in [0, 1) */
float rng_range(rng_t *r, float lo, float hi);
float rng_normal(rng_t *r);               /* standard normal (Box-Muller) */
/* a[0..n) in a uniformly random order (Fisher-Yates, from the end) */
void rng_shuffle(rng_t *r, int *a, int n);
/* a seed for sub-job `id` of `seed`, as a plain number (rng_derive() gives a generator) */
static inline uint64_t rng_mix(uint64_t seed, uint64_t id) { return seed * 0x9E3779B97F4A7C15ull + id; }

#endif
