#include "rng.h"

#include <math.h>

void rng_seed(rng_t *r, uint64_t seed) { r->state = seed; }

uint64_t rng_u64(rng_t *r) {
    /* SplitMix64 (Steele, Lea, Flood 2014): a Weyl sequence through a mixer */
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

rng_t rng_derive(uint64_t seed, uint64_t id) {
    rng_t r = {seed ^ 0x6a09e667f3bcc909ull};
    uint64_t a = rng_u64(&r);
    r.state = a ^ (id * 0xd1342543de82ef95ull + 0x2545f4914f6cdd1dull);
    (void)rng_u64(&r);
    return r;
}

uint32_t rng_below(rng_t *r, uint32_t n) {
    /* Lemire's multiply-shift; the tiny bias (< n / 2^32) does not matter here */
    return (uint32_t)(((rng_u64(r) >> 32) * (uint64_t)n) >> 32);
}

float rng_uniform(rng_t *r) { return (float)(rng_u64(r) >> 40) * (1.0f / 16777216.0f); }

float rng_range(rng_t *r, float lo, float hi) { return lo + (hi - lo) * rng_uniform(r); }

float rng_normal(rng_t *r) {
    float u1 = ((float)(rng_u64(r) >> 40) + 1.0f) * (1.0f / 16777217.0f); /* (0, 1) */
    float u2 = rng_uniform(r);
    return sqrtf(-2.0f * logf(u1)) * cosf(6.28318530718f * u2);
}

void rng_shuffle(rng_t *r, int *a, int n) {
    for (int i = n - 1; i > 0; i--) {
        const int j = (int)rng_below(r, (uint32_t)i + 1), t = a[i];
        a[i] = a[j], a[j] = t;
    }
}
