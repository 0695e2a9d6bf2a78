/* The worker's database connection: one libpq connection, every statement
 * prepared once per connection, reconnect on failure, SQLSTATE → HTTP.
 * Only db.c includes libpq-fe.h; results are handed out as the opaque
 * struct pg_result (libpq's PGresult). */
#ifndef INCIDENTD_DB_H
#define INCIDENTD_DB_H

#include <stdbool.h>
#include <stdlib.h>

#include "error.h"
#include "util.h"

struct pg_result;
struct incd_db;

/* A statement the service runs. Each module defines its own as static
 * data (name unique across the program); db.c prepares it on a connection
 * the first time it is used there. A process has one primary struct
 * incd_db, so the per-statement prepared_gen needs no further key; a
 * replica's connection keeps its own record. */
struct incd_stmt {
	const char *name;
	const char *sql;
	int nparams;
	unsigned long prepared_gen; /* primary connection generation it is prepared on; 0 = none */
};

/* The exit status of a worker that found its database role refused (see
 * incd_db_check_role); the master stops when a worker exits with it. */
#define INCD_EXIT_REFUSED 78

/* What incd_db_check_role found. */
enum incd_db_role {
	INCD_DB_ROLE_OK,      /* neither a superuser nor the schema's owner, or allowed to be */
	INCD_DB_ROLE_REFUSED, /* a superuser or the owner, and allow_owner is false */
	INCD_DB_ROLE_UNKNOWN, /* could not connect or ask */
};

/* Connects with conninfo (2 s at most), asks whether its role is a
 * superuser or owns the schema (schema api or table incidents, directly or
 * through membership), and disconnects. Such a role is REFUSED unless
 * allow_owner, and then logged as a warning; a refusal is logged as an
 * error that says what to do, and so is why the answer is UNKNOWN (as a
 * warning). For the master's start-up. */
enum incd_db_role incd_db_check_role(const char *conninfo, bool allow_owner) INCD_MUST_CHECK;

/* Returns an owned handle (nothing is connected yet); free with incd_db_free.
 * Unless allow_owner, every connection it opens checks its role as
 * incd_db_check_role does, and a refused one ends the process with
 * INCD_EXIT_REFUSED (_exit, after logging why). */
struct incd_db *incd_db_new(const char *conninfo, const char *public_url, bool allow_owner);
void incd_db_free(struct incd_db *db);

/* As incd_db_new, for a streaming replica that serves reads
 * (docs/REPLICAS.md): its connections LISTEN to nothing (a standby refuses
 * LISTEN), give up connecting after 0.5 s, and log a failure to connect at
 * debug level only (the caller says when the replica goes and comes back).
 * Any statement may run on both kinds of connection. */
struct incd_db *incd_db_new_replica(const char *conninfo, const char *public_url, bool allow_owner);

/* Counts db's connection events and failed statements into counters
 * (borrowed: the worker slot's block of the shared metrics table) from now
 * on; until called they go to a private block nobody reads. */
struct incd_metrics_db;
void incd_db_count_into(struct incd_db *db, struct incd_metrics_db *counters);

/* Connects unless already connected. On failure err is a 503. */
bool incd_db_ensure(struct incd_db *db, struct incd_error *err) INCD_MUST_CHECK;

/* Runs stmt (preparing it first if this connection has not yet). values[i] NULL is SQL NULL;
 * lengths/formats may be NULL for all-text parameters. A broken connection is re-opened and the
 * statement retried once (every statement is safe to repeat: creates are
 * idempotent by key). On success *res is owned by the caller (incd_db_clear).
 * On failure err holds the HTTP error: IX422 → 422, IX404 → 404, connection
 * loss → 503, anything else → 500 (details only in the log). */
bool incd_db_exec(struct incd_db *db, struct incd_stmt *stmt, const char *const *values,
		  const int *lengths, const int *formats, struct pg_result **res,
		  struct incd_error *err) INCD_MUST_CHECK;

int incd_db_ntuples(const struct pg_result *res);
/* Borrowed from res: valid until incd_db_clear(res). */
const char *incd_db_value(const struct pg_result *res, int row, int col);
int incd_db_length(const struct pg_result *res, int row, int col);

/* The integer in column col of row, or if_null when it is NULL. */
static inline long long incd_db_ll(const struct pg_result *res, int row, int col, long long if_null)
{
	const char *v = incd_db_value(res, row, col);
	return v != NULL ? strtoll(v, NULL, 10) : if_null;
}
void incd_db_clear(struct pg_result *res);

/* Changes on every connect and disconnect, to a value no connection of the
 * process had before: a change means cached state may be stale
 * (notifications may have been missed). */
unsigned long incd_db_generation(const struct incd_db *db);

/* Whether a connection is open and not known to be broken. */
bool incd_db_connected(const struct incd_db *db);

/* The connection's socket, -1 while disconnected. The worker waits on it
 * between requests (see incd_db_input_ready); it changes with the
 * generation. */
int incd_db_socket(const struct incd_db *db);

/* Reads what the server sent while no statement ran (a NOTIFY, or the end
 * of the connection, which disconnects): call when the socket is readable
 * between statements. Never blocks. */
void incd_db_input_ready(struct incd_db *db);

/* True if any NOTIFY arrived since the last call: read by
 * incd_db_input_ready or along with a statement's result. No system call. */
bool incd_db_notified(struct incd_db *db);

/* SQLSTATE of the last failed statement since incd_db_forget_sqlstate, ""
 * if none; for the access log. */
const char *incd_db_last_sqlstate(const struct incd_db *db);
void incd_db_forget_sqlstate(struct incd_db *db);

#endif
