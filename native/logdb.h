/* logdb.h - the SQLite store of logged drawings, shared by the CGI endpoint
 * and `mnist export-log`.
 *
 * Schema version 1 (PRAGMA user_version), created on first use:
 *   drawings(id INTEGER PRIMARY KEY, created TEXT (UTC, ISO 8601), model TEXT,
 *            pixels BLOB (784 bytes, the 28x28 input row by row),
 *            predicted INTEGER 0..9, probs BLOB (10 little-endian float32),
 *            label INTEGER 0..9 or NULL (the user's correction), strokes TEXT or NULL)
 * The database runs in WAL mode with a busy timeout; every statement is prepared.
 * No IP address, user agent or other personal data is stored.
 */
#ifndef LOGDB_H
#define LOGDB_H

#include <sqlite3.h>

#include "error.h"
#include "logreq.h"

#define LOGDB_SCHEMA_VERSION 1

/* opens (creating if needed) the database and its schema */
int logdb_open(const char *path, sqlite3 **db, char *err);
/* inserts one request; *id gets the new row's id */
int logdb_insert(sqlite3 *db, const log_request *r, long long *id, char *err);

#endif
