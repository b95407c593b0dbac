/* log.cgi - the optional logging endpoint: a CGI program that stores one
 * drawing (and the user's correction, if any) per POST in SQLite.
 *
 *   POST /cgi-bin/log.cgi   Content-Type: application/json   body: see logreq.h
 *   201 {"id": N}           stored
 *   4xx {"error": "..."}    nothing stored: 405 wrong method, 411 no length,
 *                           413 too large, 415 not JSON, 400 anything else
 *   5xx {"error": "..."}    only when the server itself fails (no database configured, disk full)
 *
 * The database path comes from the server's environment (DIGIT_LOG_DB, set in
 * native/lighttpd.conf), never from the request.
 */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "logdb.h"
#include "logreq.h"

static void respond(int status, const char *reason, const char *json_fmt_key, const char *msg, long long id) {
    printf("Status: %d %s\r\nContent-Type: application/json\r\nCache-Control: no-store\r\n", status, reason);
    if (status == 405) printf("Allow: POST\r\n");
    printf("\r\n");
    if (!json_fmt_key) {
        printf("{\"id\": %lld}\n", id);
        return;
    }
    /* {"error": "<msg>"} with msg escaped for JSON */
    printf("{\"%s\": \"", json_fmt_key);
    for (const unsigned char *p = (const unsigned char *)msg; *p; p++) {
        if (*p == '"' || *p == '\\') printf("\\%c", *p);
        else if (*p < 0x20) printf("\\u%04x", *p);
        else putchar(*p);
    }
    printf("\"}\n");
}

static int fail(int status, const char *reason, const char *msg) {
    respond(status, reason, "error", msg, 0);
    return 0;
}

int main(void) {
    const char *method = getenv("REQUEST_METHOD");
    if (!method || strcmp(method, "POST")) return fail(405, "Method Not Allowed", "only POST is accepted");

    const char *ct = getenv("CONTENT_TYPE");
    size_t base = ct ? strcspn(ct, ";") : 0;
    while (base && ct[base - 1] == ' ') base--;
    if (!ct || base != 16 || strncasecmp(ct, "application/json", 16))
        return fail(415, "Unsupported Media Type", "Content-Type must be application/json");
    if (ct[strcspn(ct, ";")]) { /* the only parameter allowed is charset=utf-8 */
        const char *param = ct + strcspn(ct, ";") + 1;
        while (*param == ' ') param++;
        if (strcasecmp(param, "charset=utf-8") && strcasecmp(param, "charset=\"utf-8\""))
            return fail(415, "Unsupported Media Type", "the body must be UTF-8 JSON");
    }

    const char *cl = getenv("CONTENT_LENGTH");
    if (!cl || !*cl) return fail(411, "Length Required", "Content-Length is required");
    size_t len = 0;
    for (const char *p = cl; *p; p++) {
        if (!isdigit((unsigned char)*p) || p - cl > 9) return fail(400, "Bad Request", "Content-Length is not a number");
        len = len * 10 + (size_t)(*p - '0');
    }
    if (len > LOGREQ_MAX_BODY) {
        char m[96];
        snprintf(m, sizeof m, "body of %zu bytes is over the %d-byte limit", len, LOGREQ_MAX_BODY);
        return fail(413, "Content Too Large", m);
    }
    if (len == 0) return fail(400, "Bad Request", "empty body");

    static char body[LOGREQ_MAX_BODY + 1];
    size_t got = 0;
    while (got < len) {
        size_t n = fread(body + got, 1, len - got, stdin);
        if (n == 0) break;
        got += n;
    }
    if (got < len) {
        char m[96];
        snprintf(m, sizeof m, "truncated body: %zu of %zu bytes", got, len);
        return fail(400, "Bad Request", m);
    }

    static log_request req;
    char err[ERR_LEN];
    if (logreq_parse(body, len, &req, err)) return fail(400, "Bad Request", err);

    const char *path = getenv("DIGIT_LOG_DB");
    if (!path || !*path) return fail(500, "Internal Server Error", "logging is not configured (DIGIT_LOG_DB)");
    sqlite3 *db;
    if (logdb_open(path, &db, err)) return fail(503, "Service Unavailable", err);
    long long id;
    int rc = logdb_insert(db, &req, &id, err);
    if (sqlite3_close(db) != SQLITE_OK && !rc) rc = -1, snprintf(err, sizeof err, "closing the database failed");
    if (rc) return fail(503, "Service Unavailable", err);
    respond(201, "Created", NULL, NULL, id);
    return 0;
}
