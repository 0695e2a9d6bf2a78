/* libpq connection handling, prepared statements, error mapping. */
#include "db.h"

#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"

struct incd_db {
	char *conninfo;
	char *public_url;
	PGconn *conn; /* NULL while disconnected */
	unsigned long generation;
	bool notified;	  /* a NOTIFY arrived since incd_db_notified last said so */
	bool allow_owner; /* --allow-owner: no role check on connect */
	char sqlstate[6];
	/* A read replica's connection (incd_db_new_replica): no LISTEN (a
	 * standby refuses it), a shorter connect timeout, connect failures
	 * logged at debug (the caller logs the replica's ups and downs), and
	 * its own record of what is prepared on it: a statement's
	 * prepared_gen is the primary connection's. */
	bool replica;
	const struct incd_stmt **prepared; /* prepared on this connection; replica only */
	size_t nprepared, prepared_cap;
	struct incd_metrics_db *counters; /* never NULL */
};

/* Generations come from one counter for the whole process, so no two
 * connections of it, to whichever server, ever share one. */
static unsigned long last_generation;

static void next_generation(struct incd_db *db)
{
	db->generation = ++last_generation;
}

/* Where a handle's events go before incd_db_count_into. */
static struct incd_metrics_db uncounted;

struct incd_db *incd_db_new(const char *conninfo, const char *public_url, bool allow_owner)
{
	struct incd_db *db = incd_xcalloc(1, sizeof *db);
	db->conninfo = incd_xstrdup(conninfo);
	db->public_url = incd_xstrdup(public_url);
	db->allow_owner = allow_owner;
	db->counters = &uncounted;
	return db;
}

struct incd_db *incd_db_new_replica(const char *conninfo, const char *public_url, bool allow_owner)
{
	struct incd_db *db = incd_db_new(conninfo, public_url, allow_owner);
	db->replica = true;
	return db;
}

void incd_db_count_into(struct incd_db *db, struct incd_metrics_db *counters)
{
	db->counters = counters;
}

static void disconnect(struct incd_db *db)
{
	if (db->conn == NULL)
		return;
	PQfinish(db->conn);
	db->conn = NULL;
	db->nprepared = 0;
	next_generation(db); /* state kept for the old connection is stale now */
}

void incd_db_free(struct incd_db *db)
{
	if (db == NULL)
		return;
	disconnect(db);
	free(db->prepared);
	free(db->conninfo);
	free(db->public_url);
	free(db);
}

/* Runs one setup command, expecting status want. */
static bool setup(PGconn *conn, const char *what, PGresult *res, ExecStatusType want)
{
	bool ok = res != NULL && PQresultStatus(res) == want;
	if (!ok)
		incd_log(INCD_LOG_ERROR, "could not %s: %s", what, PQerrorMessage(conn));
	PQclear(res);
	return ok;
}

/* The log level of a notice by its severity (PostgreSQL's untranslated
 * name). An error that arrives while no statement runs, such as the FATAL
 * of a backend being terminated, comes as a notice too: the worker
 * reconnects, so it is a warning here, not an error. */
static enum incd_log_level notice_level(const char *severity)
{
	static const struct {
		const char *name;
		enum incd_log_level level;
	} levels[] = {
	    {"PANIC", INCD_LOG_WARN},	{"FATAL", INCD_LOG_WARN},  {"ERROR", INCD_LOG_WARN},
	    {"WARNING", INCD_LOG_WARN}, {"NOTICE", INCD_LOG_INFO}, {"INFO", INCD_LOG_INFO},
	    {"LOG", INCD_LOG_INFO},
	};
	for (size_t i = 0; i < INCD_ARRAY_LEN(levels); i++)
		if (severity != NULL && strcmp(severity, levels[i].name) == 0)
			return levels[i].level;
	return INCD_LOG_DEBUG;
}

/* libpq's default receiver prints notices raw to stderr, which is the log:
 * lines without time, pid or level. This one writes each as a log line
 * (incd_log keeps a message that spans lines on one). */
static void log_notice(void *arg, const PGresult *res)
{
	(void)arg;
	const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	if (severity == NULL)
		severity = PQresultErrorField(res, PG_DIAG_SEVERITY);
	enum incd_log_level level = notice_level(severity);
	if (!incd_log_enabled(level))
		return;

	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	incd_log(level, "database %s: %s%s%s", severity != NULL ? severity : "notice",
		 msg != NULL ? msg : PQresultErrorMessage(res), state != NULL ? " sqlstate=" : "",
		 state != NULL ? state : "");
}

/* Opens a connection as PQconnectdbParams would, with log_notice in place
 * before the startup handshake, whose notices (a collation version
 * mismatch, say) would otherwise go to stderr raw. timeout_ms bounds the
 * whole attempt, as connect_timeout does inside PQconnectdbParams (where
 * it bounds each host of a multi-host URL instead). Returns an owned
 * connection (PQfinish), connected or not; *timed_out says why not when
 * libpq has no message. */
static PGconn *open_conn(const char *const *keys, const char *const *vals, int timeout_ms,
			 bool *timed_out)
{
	PGconn *conn = PQconnectStartParams(keys, vals, 1);
	long long deadline = incd_now_us() + timeout_ms * 1000LL;
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;

	if (conn == NULL)
		abort();
	*timed_out = false;
	PQsetNoticeReceiver(conn, log_notice, NULL);
	if (PQstatus(conn) == CONNECTION_BAD)
		return conn;
	while (st == PGRES_POLLING_READING || st == PGRES_POLLING_WRITING) {
		struct pollfd p = {.fd = PQsocket(conn),
				   .events = st == PGRES_POLLING_READING ? POLLIN : POLLOUT};
		long long left_ms = (deadline - incd_now_us()) / 1000;
		int n = left_ms > 0 ? poll(&p, 1, (int)left_ms) : 0;
		if (n == 0) {
			*timed_out = true;
			break;
		}
		if (n < 0 && errno != EINTR)
			break;
		st = PQconnectPoll(conn);
	}
	return conn;
}

/* Who the connection is: its role, whether that is a superuser, and what
 * of the schema it owns (directly or as a member of the owner role), if
 * anything. A database not migrated yet has no schema to own. */
static const char role_sql[] =
    "SELECT current_user::text, r.rolsuper, "
    "CASE WHEN pg_has_role(current_user, n.nspowner, 'MEMBER') THEN 'schema api' "
    "WHEN pg_has_role(current_user, c.relowner, 'MEMBER') THEN 'table incidents' END "
    "FROM pg_roles r "
    "LEFT JOIN pg_namespace n ON n.nspname = 'api' "
    "LEFT JOIN pg_class c ON c.oid = to_regclass('public.incidents') "
    "WHERE r.rolname = current_user";

/* Least privilege (docs/SCHEMA.md, "Roles and privileges"): incidentd
 * serves as the runtime role, which can call the api functions and read
 * two tables, not as a role that could change or drop the schema or read
 * every API key's hash. Logs a refusal as an error and what --allow-owner
 * lets through as a warning (when warn_allowed). */
static enum incd_db_role check_role(PGconn *conn, bool allow_owner, bool warn_allowed)
{
	enum incd_db_role ret = INCD_DB_ROLE_UNKNOWN;
	PGresult *res = PQexec(conn, role_sql);
	char why[128];

	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		incd_log(INCD_LOG_WARN, "could not check the database role: %s",
			 PQresultStatus(res) == PGRES_TUPLES_OK ? "no such role"
								: PQerrorMessage(conn));
		goto done;
	}
	const char *user = PQgetvalue(res, 0, 0);
	if (strcmp(PQgetvalue(res, 0, 1), "t") == 0)
		snprintf(why, sizeof why, "it is a superuser");
	else if (!PQgetisnull(res, 0, 2))
		snprintf(why, sizeof why, "it owns the database's %s (or is a member of its owner)",
			 PQgetvalue(res, 0, 2));
	else
		why[0] = '\0';
	ret = INCD_DB_ROLE_OK;
	if (why[0] == '\0')
		goto done;
	if (allow_owner) {
		if (warn_allowed)
			incd_log(INCD_LOG_WARN,
				 "running as database role \"%s\": %s; --allow-owner permits it",
				 user, why);
		goto done;
	}
	incd_log(INCD_LOG_ERROR,
		 "refusing to run as database role \"%s\": %s; connect as the runtime role "
		 "(incidentctl roles setup creates incidentd_app; docs/SCHEMA.md, \"Roles and "
		 "privileges\"), or pass --allow-owner",
		 user, why);
	ret = INCD_DB_ROLE_REFUSED;
done:
	PQclear(res);
	return ret;
}

enum incd_db_role incd_db_check_role(const char *conninfo, bool allow_owner)
{
	const char *keys[] = {"dbname", "application_name", NULL};
	const char *vals[] = {conninfo, "incidentd", NULL};
	bool timed_out;
	PGconn *conn = open_conn(keys, vals, 2000, &timed_out);
	enum incd_db_role ret = INCD_DB_ROLE_UNKNOWN;

	if (PQstatus(conn) != CONNECTION_OK)
		incd_log(INCD_LOG_WARN, "could not connect to the database: %s",
			 timed_out ? "timeout expired" : PQerrorMessage(conn));
	else
		ret = check_role(conn, allow_owner, true);
	PQfinish(conn);
	return ret;
}

static bool connect_db(struct incd_db *db)
{
	/* The timeout bounds how long a request waits while the database is
	 * unreachable; the request then gets a 503. */
	const char *keys[] = {"dbname", "application_name", NULL};
	const char *vals[] = {db->conninfo, "incidentd", NULL};
	bool timed_out;
	/* A replica is tried while requests wait, and the primary can
	 * serve them instead: a shorter wait. */
	PGconn *conn = open_conn(keys, vals, db->replica ? 500 : 2000, &timed_out);
	const char *url[] = {db->public_url};

	if (PQstatus(conn) != CONNECTION_OK) {
		incd_log(db->replica ? INCD_LOG_DEBUG : INCD_LOG_WARN,
			 "could not connect to the %s: %s",
			 db->replica ? "read replica" : "database",
			 timed_out ? "timeout expired" : PQerrorMessage(conn));
		goto fail;
	}
	/* The master checked the role at start-up, unless the database was
	 * unreachable then; a role changed since is caught here too. */
	if (!db->allow_owner) {
		enum incd_db_role role = check_role(conn, false, false);
		if (role == INCD_DB_ROLE_REFUSED) {
			PQfinish(conn);
			_exit(INCD_EXIT_REFUSED);
		}
		if (role != INCD_DB_ROLE_OK)
			goto fail;
	}
	/* Generic plans: the read functions are inlined SQL whose LIMIT and
	 * filters are parameters, so a generic plan's estimate is far above a
	 * custom plan's and the plan cache would otherwise plan every call
	 * (0.5 ms, five times the page's execution). Their generic plans are
	 * the index scans the statistics would pick, with or without
	 * statistics (docs/DESIGN.md, "Read path"). */
	if (!setup(conn, "set the session's settings",
		   PQexecParams(conn,
				"SELECT set_config('incidentd.public_url', $1, false), "
				"set_config('plan_cache_mode', 'force_generic_plan', false)",
				1, NULL, url, NULL, NULL, 0),
		   PGRES_TUPLES_OK) ||
	    (!db->replica && !setup(conn, "listen for api key changes",
				    PQexec(conn, "LISTEN incidentd_api_keys"), PGRES_COMMAND_OK)))
		goto fail;
	db->conn = conn;
	next_generation(db);
	incd_metrics_inc(&db->counters->connects);
	incd_log(INCD_LOG_DEBUG, "connected to the %s", db->replica ? "read replica" : "database");
	return true;
fail:
	incd_metrics_inc(&db->counters->connect_failures);
	PQfinish(conn);
	return false;
}

bool incd_db_ensure(struct incd_db *db, struct incd_error *err)
{
	if (db->conn != NULL && PQstatus(db->conn) == CONNECTION_OK)
		return true;
	if (db->conn != NULL)
		incd_metrics_inc(&db->counters->lost); /* libpq found it broken meanwhile */
	disconnect(db);
	if (connect_db(db))
		return true;
	return incd_fail(err, 503, "database_unavailable", NULL,
			 "The database is unavailable; retry shortly");
}

static bool sqlstate_is(const char *state, const char *want)
{
	return strncmp(state, want, strlen(want)) == 0;
}

/* Maps a failed result to the HTTP error the client sees. */
static bool map_error(struct incd_db *db, const PGresult *res, struct incd_error *err)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
	const char *hint = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_HINT) : NULL;

	snprintf(db->sqlstate, sizeof db->sqlstate, "%s", state ? state : "");
	if (state != NULL && strcmp(state, "IX422") == 0) {
		const char *code =
		    hint && strcmp(hint, "is_required") == 0 ? "is_required" : "invalid_value";
		return incd_fail(err, 422, code, detail, "%s", msg ? msg : "invalid value");
	}
	if (state != NULL && strcmp(state, "IX404") == 0)
		return incd_fail(err, 404, "not_found", NULL, "%s", msg ? msg : "not found");
	if (state == NULL || sqlstate_is(state, "08") || sqlstate_is(state, "57P") ||
	    sqlstate_is(state, "53") || strcmp(state, "40001") == 0 ||
	    strcmp(state, "40P01") == 0) {
		incd_metrics_inc(&db->counters->unavailable);
		incd_log(INCD_LOG_WARN, "database unavailable (%s): %s", state ? state : "-",
			 db->conn ? PQerrorMessage(db->conn) : "not connected");
		return incd_fail(err, 503, "database_unavailable", NULL,
				 "The database is unavailable; retry shortly");
	}
	incd_metrics_inc(&db->counters->internal);
	incd_log(INCD_LOG_ERROR, "statement failed (%s): %s", state, msg ? msg : "?");
	return incd_fail(err, 500, "internal_error", NULL,
			 "An internal error occurred; it has been logged");
}

/* Whether stmt is prepared on db's connection (generations are never
 * reused, so a statement prepared on an earlier connection never
 * matches). */
static bool is_prepared(const struct incd_db *db, const struct incd_stmt *stmt)
{
	if (!db->replica)
		return stmt->prepared_gen == db->generation;
	/* A replica runs the few dozen read statements: a scan is enough. */
	for (size_t i = 0; i < db->nprepared; i++)
		if (db->prepared[i] == stmt)
			return true;
	return false;
}

static void mark_prepared(struct incd_db *db, struct incd_stmt *stmt)
{
	if (!db->replica) {
		stmt->prepared_gen = db->generation;
		return;
	}
	if (db->nprepared == db->prepared_cap) {
		db->prepared_cap = db->prepared_cap ? db->prepared_cap * 2 : 32;
		db->prepared = incd_xrealloc(db->prepared, db->prepared_cap * sizeof *db->prepared);
	}
	db->prepared[db->nprepared++] = stmt;
}

/* Prepares stmt on this connection unless it already is. The result of a
 * failed PQprepare is handed back for error mapping. */
static PGresult *prepare(struct incd_db *db, struct incd_stmt *stmt)
{
	if (is_prepared(db, stmt))
		return NULL;
	PGresult *r = PQprepare(db->conn, stmt->name, stmt->sql, stmt->nparams, NULL);
	if (r != NULL && PQresultStatus(r) == PGRES_COMMAND_OK) {
		PQclear(r);
		mark_prepared(db, stmt);
		return NULL;
	}
	return r ? r : PQmakeEmptyPGresult(db->conn, PGRES_FATAL_ERROR);
}

bool incd_db_exec(struct incd_db *db, struct incd_stmt *stmt, const char *const *values,
		  const int *lengths, const int *formats, struct pg_result **res,
		  struct incd_error *err)
{
	PGresult *r = NULL;
	*res = NULL;

	for (int attempt = 0; attempt < 2; attempt++) {
		if (!incd_db_ensure(db, err))
			return false;
		r = prepare(db, stmt);
		if (r == NULL)
			r = PQexecPrepared(db->conn, stmt->name, stmt->nparams, values, lengths,
					   formats, 0);
		if (r != NULL && PQresultStatus(r) == PGRES_TUPLES_OK) {
			*res = r;
			return true;
		}
		if (PQstatus(db->conn) == CONNECTION_OK)
			break;
		/* The server went away (restart, failover): reconnect and retry once. */
		incd_metrics_inc(&db->counters->lost);
		incd_log(INCD_LOG_WARN, "%s connection lost: %s",
			 db->replica ? "read replica" : "database", PQerrorMessage(db->conn));
		PQclear(r);
		r = NULL;
		disconnect(db);
	}
	bool ok = map_error(db, r, err);
	PQclear(r);
	return ok;
}

int incd_db_ntuples(const struct pg_result *res)
{
	return PQntuples(res);
}

const char *incd_db_value(const struct pg_result *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

int incd_db_length(const struct pg_result *res, int row, int col)
{
	return PQgetlength(res, row, col);
}

void incd_db_clear(struct pg_result *res)
{
	PQclear(res);
}

unsigned long incd_db_generation(const struct incd_db *db)
{
	return db->generation;
}

bool incd_db_connected(const struct incd_db *db)
{
	return db->conn != NULL && PQstatus(db->conn) == CONNECTION_OK;
}

int incd_db_socket(const struct incd_db *db)
{
	return db->conn != NULL ? PQsocket(db->conn) : -1;
}

/* Takes the notifications libpq has already read off the socket. */
static void take_notifies(struct incd_db *db)
{
	for (PGnotify *n; (n = PQnotifies(db->conn)) != NULL; PQfreemem(n))
		db->notified = true;
}

void incd_db_input_ready(struct incd_db *db)
{
	if (db->conn == NULL)
		return;
	if (!PQconsumeInput(db->conn)) {
		incd_metrics_inc(&db->counters->lost);
		disconnect(db); /* the next statement reconnects */
		return;
	}
	take_notifies(db);
}

bool incd_db_notified(struct incd_db *db)
{
	if (db->conn != NULL)
		take_notifies(db);
	bool any = db->notified;
	db->notified = false;
	return any;
}

const char *incd_db_last_sqlstate(const struct incd_db *db)
{
	return db->sqlstate;
}

void incd_db_forget_sqlstate(struct incd_db *db)
{
	db->sqlstate[0] = '\0';
}
