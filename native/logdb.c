#include "logdb.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define LOGDB_BUSY_MS 15000 /* how long a request waits for the database */

static int exec(sqlite3 *db, const char *sql, char *err) {
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        set_error(err, "%s", msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static int user_version(sqlite3 *db, int *v, char *err) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        return set_error(err, "%s", sqlite3_errmsg(db));
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : set_error(err, "%s", sqlite3_errmsg(db));
}

/* One attempt; *busy is set when it failed because another process held a lock
 * in a way SQLite's busy handler does not wait for (switching a new file to WAL
 * while others open it). */
static int open_once(const char *path, sqlite3 **db, char *err, int *busy) {
    *db = NULL;
    *busy = 0;
    if (sqlite3_open_v2(path, db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        set_error(err, "cannot open the log database: %s", *db ? sqlite3_errmsg(*db) : "out of memory");
        sqlite3_close(*db);
        *db = NULL;
        return -1;
    }
    sqlite3_busy_timeout(*db, LOGDB_BUSY_MS);
    int v = 0;
    if (user_version(*db, &v, err)) goto fail;
    if (v > LOGDB_SCHEMA_VERSION) {
        set_error(err, "the log database has schema %d; this program knows %d", v, LOGDB_SCHEMA_VERSION);
        goto fail;
    }
    if (v < LOGDB_SCHEMA_VERSION) {
        /* first use: WAL (it persists in the file), then the tables, once, under a write lock */
        if (exec(*db, "PRAGMA journal_mode=WAL", err)) goto fail;
        if (exec(*db, "BEGIN IMMEDIATE", err)) goto fail;
        if (user_version(*db, &v, err)) goto rollback;
        if (v == 0 && exec(*db,
                           "CREATE TABLE drawings ("
                           " id INTEGER PRIMARY KEY,"
                           " created TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),"
                           " model TEXT NOT NULL CHECK (length(model) BETWEEN 1 AND 64),"
                           " pixels BLOB NOT NULL CHECK (length(pixels) = 784),"
                           " predicted INTEGER NOT NULL CHECK (predicted BETWEEN 0 AND 9),"
                           " probs BLOB NOT NULL CHECK (length(probs) = 40),"
                           " label INTEGER CHECK (label IS NULL OR label BETWEEN 0 AND 9),"
                           " strokes TEXT);"
                           "PRAGMA user_version = 1;",
                           err))
            goto rollback;
        if (exec(*db, "COMMIT", err)) goto rollback;
    }
    /* FULL: a row the client was told about survives a crash of the server, or of the machine */
    if (exec(*db, "PRAGMA synchronous=FULL", err)) goto fail;
    return 0;
rollback:
    *busy = (sqlite3_errcode(*db) & 0xff) == SQLITE_BUSY;
    sqlite3_exec(*db, "ROLLBACK", NULL, NULL, NULL);
    goto close;
fail:
    *busy = (sqlite3_errcode(*db) & 0xff) == SQLITE_BUSY;
close:
    sqlite3_close(*db);
    *db = NULL;
    return -1;
}

int logdb_open(const char *path, sqlite3 **db, char *err) {
    /* Many first requests at once race to create the file and switch it to WAL;
     * a loser sees "database is locked" at once. It tries again, for as long as the
     * busy timeout would have waited. */
    int busy;
    const time_t start = time(NULL); /* the attempts themselves may wait: count the clock, not the sleeps */
    for (;;) {
        if (open_once(path, db, err, &busy) == 0) return 0;
        if (!busy || difftime(time(NULL), start) * 1000.0 >= LOGDB_BUSY_MS) return -1;
        sqlite3_sleep(20);
    }
}

int logdb_insert(sqlite3 *db, const log_request *r, long long *id, char *err) {
    static const char *sql = "INSERT INTO drawings (model, pixels, predicted, probs, label, strokes) VALUES (?, ?, ?, ?, ?, ?)";
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return set_error(err, "%s", sqlite3_errmsg(db));
    unsigned char probs[40];
    for (int i = 0; i < 10; i++) {
        unsigned u;
        memcpy(&u, &r->probs[i], 4);
        for (int k = 0; k < 4; k++) probs[4 * i + k] = (unsigned char)(u >> (8 * k));
    }
    static char strokes[LOGREQ_MAX_POINTS * 32 + 1024];
    int sl = r->n_strokes ? logreq_strokes_json(r, strokes, sizeof strokes) : -1;
    int ok = sqlite3_bind_text(st, 1, r->model, -1, SQLITE_TRANSIENT) == SQLITE_OK &&
             sqlite3_bind_blob(st, 2, r->pixels, 784, SQLITE_TRANSIENT) == SQLITE_OK &&
             sqlite3_bind_int(st, 3, r->predicted) == SQLITE_OK &&
             sqlite3_bind_blob(st, 4, probs, 40, SQLITE_TRANSIENT) == SQLITE_OK &&
             (r->label < 0 ? sqlite3_bind_null(st, 5) : sqlite3_bind_int(st, 5, r->label)) == SQLITE_OK &&
             (sl < 0 ? sqlite3_bind_null(st, 6) : sqlite3_bind_text(st, 6, strokes, sl, SQLITE_TRANSIENT)) == SQLITE_OK;
    int rc = ok ? sqlite3_step(st) : SQLITE_ERROR;
    if (rc != SQLITE_DONE) {
        set_error(err, "insert failed: %s", sqlite3_errmsg(db));
        sqlite3_finalize(st);
        return -1;
    }
    *id = sqlite3_last_insert_rowid(db);
    sqlite3_finalize(st);
    return 0;
}
