/* bytes.h - little-endian fields in byte buffers, for the file formats
 * (model.h, checkpoint.h): written into a growable buffer that remembers
 * when it ran out of memory, and read through a cursor that refuses to run
 * past the end. Header-only; every function is small and static. */
#ifndef BYTES_H
#define BYTES_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static inline void le_put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline void le_put_u64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline void le_put_f32(uint8_t *p, float f) {
    uint32_t v;
    memcpy(&v, &f, 4);
    le_put_u32(p, v);
}
static inline uint32_t le_get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t le_get_u64(const uint8_t *p) { return (uint64_t)le_get_u32(p) | (uint64_t)le_get_u32(p + 4) << 32; }
static inline float le_get_f32(const uint8_t *p) {
    uint32_t v = le_get_u32(p);
    float f;
    memcpy(&f, &v, 4);
    return f;
}

/* ---- a growable buffer: the puts do nothing once an allocation failed (oom) ---- */
typedef struct {
    uint8_t *b;
    size_t len, cap;
    int oom;
} bytes_t;

static inline uint8_t *bytes_room(bytes_t *b, size_t n) {
    if (b->oom) return NULL;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n) cap *= 2;
        uint8_t *nb = realloc(b->b, cap);
        if (!nb) {
            b->oom = 1;
            return NULL;
        }
        b->b = nb, b->cap = cap;
    }
    uint8_t *p = b->b + b->len;
    b->len += n;
    return p;
}
static inline void bytes_put(bytes_t *b, const void *src, size_t n) {
    uint8_t *p = bytes_room(b, n);
    if (p && n) memcpy(p, src, n);
}
static inline void bytes_u32(bytes_t *b, uint32_t v) {
    uint8_t *p = bytes_room(b, 4);
    if (p) le_put_u32(p, v);
}
static inline void bytes_u64(bytes_t *b, uint64_t v) {
    uint8_t *p = bytes_room(b, 8);
    if (p) le_put_u64(p, v);
}
static inline void bytes_f32(bytes_t *b, float v) {
    uint8_t *p = bytes_room(b, 4);
    if (p) le_put_f32(p, v);
}
static inline void bytes_f64(bytes_t *b, double v) {
    uint64_t u;
    memcpy(&u, &v, 8);
    bytes_u64(b, u);
}

/* ---- a cursor: each take returns NULL (and sets short_) past the end ---- */
typedef struct {
    const uint8_t *p;
    size_t left;
    int short_; /* a read ran past the end */
} cursor_t;

static inline const uint8_t *cursor_take(cursor_t *c, size_t n) {
    if (c->short_ || n > c->left) {
        c->short_ = 1;
        return NULL;
    }
    const uint8_t *p = c->p;
    c->p += n, c->left -= n;
    return p;
}
static inline uint32_t cursor_u32(cursor_t *c) {
    const uint8_t *p = cursor_take(c, 4);
    return p ? le_get_u32(p) : 0;
}
static inline uint64_t cursor_u64(cursor_t *c) {
    const uint8_t *p = cursor_take(c, 8);
    return p ? le_get_u64(p) : 0;
}
static inline float cursor_f32(cursor_t *c) {
    const uint8_t *p = cursor_take(c, 4);
    return p ? le_get_f32(p) : 0.0f;
}
static inline double cursor_f64(cursor_t *c) {
    uint64_t u = cursor_u64(c);
    double d;
    memcpy(&d, &u, 8);
    return d;
}

#endif
