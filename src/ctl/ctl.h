/* incidentctl internals: the database helpers (ctl_db.c) and the commands
 * (ctl_cmds.c) that incidentctl.c parses arguments for. */
#ifndef INCIDENTD_CTL_H
#define INCIDENTD_CTL_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#define INCD_CTL_WUR __attribute__((warn_unused_result))
#define INCD_CTL_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* pg_advisory_xact_lock key held while migrating or setting up roles:
 * "incidntd" in ASCII. */
#define INCD_CTL_MIGRATE_LOCK_KEY "7597118925728281700"

/* What a command ended with; also the process exit status. */
enum incd_ctl_status {
	INCD_CTL_OK = 0,      /* done */
	INCD_CTL_FAIL = 1,    /* database error, unknown id, conflict */
	INCD_CTL_USAGE = 2,   /* bad arguments: nothing was sent to the database */
	INCD_CTL_PENDING = 3, /* migrate --status: there is something to apply */
};

/* ---- messages (ctl_db.c) ---- */

/* Prints "incidentctl: <message>\n" to stderr. */
void incd_ctl_err(const char *fmt, ...) INCD_CTL_PRINTF(1, 2);

/* ---- database helpers (ctl_db.c) ---- */

/* Connects with conninfo, a libpq URL or key=value string; NULL or "" uses
 * libpq's defaults and PG* environment variables. Sets client_min_messages
 * to warning so NOTICEs stay quiet. Returns an owned connection (free with
 * PQfinish), or NULL after printing why. */
PGconn *incd_ctl_connect(const char *conninfo) INCD_CTL_WUR;

/* Runs one parameterised statement that returns no rows (expects exactly
 * PGRES_COMMAND_OK). params: n text values, NULL entries are SQL NULL; all
 * borrowed. what names the action for the error message ("create user").
 * Returns false after printing "could not <what>: <server message>". */
bool incd_ctl_command(PGconn *conn, const char *what, const char *sql, int n,
		      const char *const *params) INCD_CTL_WUR;

/* Like incd_ctl_command for a statement returning rows (expects exactly
 * PGRES_TUPLES_OK). Returns an owned result (free with PQclear), or NULL
 * after printing the error. */
PGresult *incd_ctl_query(PGconn *conn, const char *what, const char *sql, int n,
			 const char *const *params) INCD_CTL_WUR;

/* Runs a query expected to return at most one row of one column and copies
 * that value into out (out_size bytes, truncating never: a longer value is an
 * error). *found tells whether there was a row. False after printing. */
bool incd_ctl_query_value(PGconn *conn, const char *what, const char *sql, int n,
			  const char *const *params, bool *found, char *out,
			  size_t out_size) INCD_CTL_WUR;

/* Runs script, a multi-statement SQL text, with the simple-query protocol.
 * Only for incidentctl's own embedded migrations, never for user input.
 * False after printing the error. */
bool incd_ctl_script(PGconn *conn, const char *what, const char *script) INCD_CTL_WUR;

/* BEGIN and COMMIT; false after printing the error. A COMMIT that the server
 * turns into a rollback counts as a failure. */
bool incd_ctl_begin(PGconn *conn) INCD_CTL_WUR;
bool incd_ctl_commit(PGconn *conn) INCD_CTL_WUR;

/* Rolls back if a transaction is open (a no-op otherwise); for cleanup
 * blocks. */
void incd_ctl_rollback(PGconn *conn);

/* ---- validation of argument values (ctl_cmds.c) ---- */

/* The API key role names of the spec (IdentityV1.roles), NULL-terminated;
 * static storage. */
extern const char *const incd_ctl_api_roles[];

/* The user roles accepted by `user create` (UserV1.role without "unset"),
 * NULL-terminated; static storage. */
extern const char *const incd_ctl_user_roles[];

/* True when s is one of the NULL-terminated list. */
bool incd_ctl_in_list(const char *const *list, const char *s);

/* ---- the commands (ctl_cmds.c) ----
 *
 * Every command takes a borrowed, open connection with no transaction in
 * progress and leaves it that way. Output meant for scripts goes to stdout,
 * everything else to stderr. Arguments are borrowed. */

/* What incd_ctl_migrate does. */
enum incd_ctl_migrate_mode {
	INCD_CTL_MIGRATE_APPLY,	  /* apply what is pending */
	INCD_CTL_MIGRATE_STATUS,  /* print applied, pending and changed files */
	INCD_CTL_MIGRATE_DRY_RUN, /* print the SQL that APPLY would run */
};

/* Brings the database to the embedded sql/ (ctl_migrate.c): the migrations
 * schema_migrations does not record, then, if one ran, a code file changed
 * or reapply_code is set, every code file; all in one transaction under an
 * advisory lock, each migration recorded with its checksum. Refuses (FAIL,
 * nothing changed) when a recorded migration's checksum differs from its
 * file's, when the database records a migration this incidentctl lacks, or
 * when a pending migration sorts before an applied one. STATUS and DRY_RUN
 * change nothing; STATUS returns OK when the database is up to date,
 * PENDING when migrate would apply something, FAIL when it would refuse. */
enum incd_ctl_status incd_ctl_migrate(PGconn *conn, enum incd_ctl_migrate_mode mode,
				      bool reapply_code) INCD_CTL_WUR;

/* Sets up the owner and runtime roles (ctl_roles.c; docs/SCHEMA.md, "Roles
 * and privileges"), as a superuser, in one transaction: creates the roles
 * that are missing (LOGIN, nothing else), refuses a runtime role that is a
 * superuser or a member of the owner, makes the owner own the database and
 * every object of schemas api and public, lets the runtime role connect,
 * records it in schema_roles and applies sql/code/90_grants.sql's
 * privileges if the database has them. The reporting role likewise: created
 * NOINHERIT, allowed to connect, recorded (purpose reporting). Prints what
 * it did. */
enum incd_ctl_status incd_ctl_roles_setup(PGconn *conn, const char *owner, const char *app,
					  const char *reporting) INCD_CTL_WUR;

/* Creates an organisation and its lead incident role; prints its id. */
enum incd_ctl_status incd_ctl_org_create(PGconn *conn, const char *name) INCD_CTL_WUR;

/* Creates an API key with the given roles (nroles >= 1, duplicates
 * ignored) and rate limit (requests per minute as decimal text, "0" =
 * unlimited; NULL: the table's default, 1200); prints the token, once, on
 * stdout and the key id on stderr. */
enum incd_ctl_status incd_ctl_api_key_create(PGconn *conn, const char *org, const char *name,
					     const char *const *roles, size_t nroles,
					     const char *rate_limit) INCD_CTL_WUR;

/* True when s is a rate limit incidentctl accepts: decimal digits only,
 * 0..2147483647 (PostgreSQL's integer). */
bool incd_ctl_rate_limit_valid(const char *s);

/* Marks an API key revoked and notifies the incidentd workers. Revoking an
 * already revoked key succeeds and changes nothing. */
enum incd_ctl_status incd_ctl_api_key_revoke(PGconn *conn, const char *id) INCD_CTL_WUR;

/* Creates a user; email, slack_user_id may be NULL; role NULL means viewer.
 * Prints the user id. */
enum incd_ctl_status incd_ctl_user_create(PGconn *conn, const char *org, const char *name,
					  const char *email, const char *slack_user_id,
					  const char *role) INCD_CTL_WUR;

struct incd_ctl_incident_type {
	const char *org;
	const char *name;
	const char *description;      /* NULL: "" */
	const char *create_in_triage; /* "always" or "optional"; NULL: optional */
	bool is_default;	      /* becomes the default; others lose it */
	bool private_only;	      /* private_incidents_only */
};

/* Creates an incident type; prints its id. */
enum incd_ctl_status
incd_ctl_incident_type_create(PGconn *conn, const struct incd_ctl_incident_type *t) INCD_CTL_WUR;

/* Creates demo configuration in org, skipping what already exists by name,
 * in one transaction; prints one line per item. */
enum incd_ctl_status incd_ctl_seed_demo(PGconn *conn, const char *org) INCD_CTL_WUR;

#endif
