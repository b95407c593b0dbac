/* libFuzzer harness: the stroke-file (UNIPEN) parser, and drawing what it accepts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ink.h"
#include "pen.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[ERR_LEN];
    pen_set s;
    err[0] = 0;
    if (pen_parse(&s, (const char *)data, size, "fuzz", err)) {
        if (!err[0] || s.digit || s.pt) __builtin_trap(); /* a failure says why and returns nothing */
        return 0;
    }
    if (s.n_digits < 1 || s.n_blocks < 1) __builtin_trap();
    /* every digit it accepts can be placed and drawn */
    static uint8_t canvas[120 * 90];
    ink_t ink;
    ink_init(&ink);
    for (int i = 0; i < s.n_digits && i < 8; i++) {
        const pen_digit *d = &s.digit[i];
        if (d->block0 < 0 || d->blocks < 1 || d->block0 + d->blocks > s.n_blocks) __builtin_trap();
        if (pen_place(&s, i, i & 1, 60, 10, 10, &ink, err) == 0) {
            memset(canvas, 0, sizeof canvas);
            ink_draw(canvas, 120, 90, 120, 0, 0, &ink, 0, ink.n_strokes, 6.0f);
        }
    }
    ink_free(&ink);
    pen_free(&s);
    return 0;
}
