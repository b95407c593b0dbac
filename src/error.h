/* error.h - how the library reports failure.
 *
 * Every function that can fail returns 0 on success and a nonzero status on
 * failure, and writes a one-line human-readable reason into a caller-owned
 * buffer of ERR_LEN bytes (the buffer may be NULL when the caller does not
 * care). Front ends print that line; the library never prints or exits.
 */
#ifndef ERROR_H
#define ERROR_H

#define ERR_LEN 256

/* printf-style; always returns -1 so callers can write `return set_error(...)` */
int set_error(char *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#endif
