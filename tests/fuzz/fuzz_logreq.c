/* libFuzzer harness: the logging endpoint's request parser. */
#include <stdint.h>
#include <string.h>

#include "logreq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static log_request r;
    char err[256];
    if (logreq_parse((const char *)data, size, &r, err) == 0) {
        /* what is accepted is in range */
        if (r.predicted < 0 || r.predicted > 9 || r.label < -1 || r.label > 9 || !r.model[0]) __builtin_trap();
        if (!utf8_valid(data, size)) __builtin_trap();
        static char buf[LOGREQ_MAX_POINTS * 32 + 1024];
        if (r.n_strokes && logreq_strokes_json(&r, buf, sizeof buf) < 0) __builtin_trap();
    } else if (!err[0]) {
        __builtin_trap();
    }
    return 0;
}
