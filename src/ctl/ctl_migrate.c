/* incidentctl migrate: applies the migrations of sql/migrations/ that the
 * database has not recorded, then re-applies the code of sql/code/ when a
 * migration ran or a code file changed, all in one transaction under an
 * advisory lock. Each migration is recorded with the SHA-256 of its text,
 * and a database whose record disagrees with the files is refused. --status
 * and --dry-run show the same plan without changing anything
 * (docs/SCHEMA.md, "Layout" and "Migrating"). */
#include "ctl.h"
#include "migrations.h"
#include "token.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SUM_LEN (2 * INCD_TOKEN_HASH_LEN) /* hex SHA-256 */

/* What the database's record says of one migration this incidentctl has. */
enum mig_state {
	MIG_APPLIED,	  /* recorded with this file's checksum */
	MIG_UNCHECKED,	  /* recorded without a checksum (by an incidentctl that
			     kept none): migrate records this file's */
	MIG_PENDING,	  /* not recorded: migrate applies it */
	MIG_CHANGED,	  /* recorded with another checksum: migrate refuses */
	MIG_OUT_OF_ORDER, /* not recorded while a later one is: migrate refuses */
};

/* What the database's record says of one code file. */
enum code_state {
	CODE_CURRENT, /* recorded with this file's checksum */
	CODE_CHANGED, /* recorded with another checksum */
	CODE_NEW,     /* not recorded */
};

/* The database's record and what migrate would do about it. Owns the
 * results and arrays; release with plan_free. */
struct plan {
	PGresult *mig_rows;  /* version, checksum (NULL: none), applied_at */
	PGresult *code_rows; /* file, checksum, applied_at */
	bool have_migrations_table;
	bool have_checksum_column;
	bool have_code_table;

	char (*mig_sum)[SUM_LEN + 1];  /* per incd_migrations[i] */
	char (*code_sum)[SUM_LEN + 1]; /* per incd_code[i] */
	enum mig_state *mig;	       /* per incd_migrations[i] */
	int *mig_row;		       /* its row in mig_rows, or -1 */
	enum code_state *code;	       /* per incd_code[i] */

	size_t pending;	     /* MIG_PENDING */
	size_t unchecked;    /* MIG_UNCHECKED */
	size_t refusals;     /* MIG_CHANGED, MIG_OUT_OF_ORDER, unknown rows */
	size_t code_changes; /* CODE_CHANGED, CODE_NEW, recorded but gone */
	bool run_code;	     /* the code phase runs */
};

static void checksum(const struct incd_sql_file *f, char out[SUM_LEN + 1])
{
	unsigned char h[INCD_TOKEN_HASH_LEN];
	incd_token_hash(f->sql, f->len, h); /* plain SHA-256 of the bytes */
	incd_hex(h, sizeof h, out);
}

/* Row of res whose first column is name, or -1. */
static int find_row(const PGresult *res, const char *name)
{
	for (int i = 0; res != NULL && i < PQntuples(res); i++)
		if (strcmp(PQgetvalue(res, i, 0), name) == 0)
			return i;
	return -1;
}

static bool embedded(const struct incd_sql_file *files, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(files[i].name, name) == 0)
			return true;
	return false;
}

static void plan_free(struct plan *p)
{
	PQclear(p->mig_rows);
	PQclear(p->code_rows);
	free(p->mig_sum);
	free(p->code_sum);
	free(p->mig);
	free(p->mig_row);
	free(p->code);
}

/* Reads the record (inside the caller's transaction); false after printing
 * the error. */
static bool read_record(PGconn *conn, struct plan *p)
{
	bool ok = false;
	PGresult *res = incd_ctl_query(
	    conn, "look for the migration tables",
	    "SELECT to_regclass('schema_migrations') IS NOT NULL, "
	    "EXISTS (SELECT FROM pg_attribute WHERE attrelid = to_regclass('schema_migrations') "
	    "AND attname = 'checksum' AND NOT attisdropped), "
	    "to_regclass('schema_code') IS NOT NULL",
	    0, NULL);
	if (res == NULL)
		goto done;
	p->have_migrations_table = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	p->have_checksum_column = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	p->have_code_table = strcmp(PQgetvalue(res, 0, 2), "t") == 0;

	if (p->have_migrations_table) {
		p->mig_rows = incd_ctl_query(
		    conn, "read schema_migrations",
		    p->have_checksum_column
			? "SELECT version, checksum, applied_at FROM schema_migrations "
			  "ORDER BY version"
			: "SELECT version, NULL::text, applied_at FROM schema_migrations "
			  "ORDER BY version",
		    0, NULL);
		if (p->mig_rows == NULL)
			goto done;
	}
	if (p->have_code_table) {
		p->code_rows = incd_ctl_query(
		    conn, "read schema_code",
		    "SELECT file, checksum, applied_at FROM schema_code ORDER BY file", 0, NULL);
		if (p->code_rows == NULL)
			goto done;
	}
	ok = true;
done:
	PQclear(res);
	return ok;
}

/* Compares the record with the embedded files. */
static void make_plan(struct plan *p, bool reapply_code)
{
	const char *last = NULL; /* the highest recorded version */
	int nrows = p->mig_rows != NULL ? PQntuples(p->mig_rows) : 0;

	p->mig_sum = incd_xcalloc(incd_migrations_count + 1, sizeof *p->mig_sum);
	p->code_sum = incd_xcalloc(incd_code_count + 1, sizeof *p->code_sum);
	p->mig = incd_xcalloc(incd_migrations_count + 1, sizeof *p->mig);
	p->mig_row = incd_xcalloc(incd_migrations_count + 1, sizeof *p->mig_row);
	p->code = incd_xcalloc(incd_code_count + 1, sizeof *p->code);

	for (int r = 0; r < nrows; r++) {
		const char *v = PQgetvalue(p->mig_rows, r, 0);
		if (last == NULL || strcmp(v, last) > 0)
			last = v;
		if (!embedded(incd_migrations, incd_migrations_count, v))
			p->refusals++;
	}
	for (size_t i = 0; i < incd_migrations_count; i++) {
		const struct incd_sql_file *m = &incd_migrations[i];
		int r = find_row(p->mig_rows, m->name);
		checksum(m, p->mig_sum[i]);
		p->mig_row[i] = r;
		if (r < 0 && last != NULL && strcmp(m->name, last) < 0)
			p->mig[i] = MIG_OUT_OF_ORDER;
		else if (r < 0)
			p->mig[i] = MIG_PENDING;
		else if (PQgetisnull(p->mig_rows, r, 1))
			p->mig[i] = MIG_UNCHECKED;
		else if (strcmp(PQgetvalue(p->mig_rows, r, 1), p->mig_sum[i]) != 0)
			p->mig[i] = MIG_CHANGED;
		else
			p->mig[i] = MIG_APPLIED;
		p->pending += p->mig[i] == MIG_PENDING;
		p->unchecked += p->mig[i] == MIG_UNCHECKED;
		p->refusals += p->mig[i] == MIG_CHANGED || p->mig[i] == MIG_OUT_OF_ORDER;
	}

	for (size_t i = 0; i < incd_code_count; i++) {
		int r = find_row(p->code_rows, incd_code[i].name);
		checksum(&incd_code[i], p->code_sum[i]);
		if (r < 0)
			p->code[i] = CODE_NEW;
		else if (strcmp(PQgetvalue(p->code_rows, r, 1), p->code_sum[i]) != 0)
			p->code[i] = CODE_CHANGED;
		else
			p->code[i] = CODE_CURRENT;
		p->code_changes += p->code[i] != CODE_CURRENT;
	}
	for (int r = 0; p->code_rows != NULL && r < PQntuples(p->code_rows); r++)
		if (!embedded(incd_code, incd_code_count, PQgetvalue(p->code_rows, r, 0)))
			p->code_changes++;

	/* Code is re-applied as a whole: a migration may have dropped an object
	 * that an unchanged file defines (a view in the way of a column
	 * change), and re-running every file puts it back. */
	p->run_code = reapply_code || p->pending > 0 || p->code_changes > 0;
}

/* Prints why migrate refuses, one message per reason; true when it does. */
static bool report_refusals(const struct plan *p)
{
	for (int r = 0; p->mig_rows != NULL && r < PQntuples(p->mig_rows); r++) {
		const char *v = PQgetvalue(p->mig_rows, r, 0);
		if (!embedded(incd_migrations, incd_migrations_count, v))
			incd_ctl_err("refusing to migrate: the database has migration %s, which "
				     "this incidentctl does not have (it is older than the "
				     "database: use the incidentctl that applied it)",
				     v);
	}
	for (size_t i = 0; i < incd_migrations_count; i++) {
		const struct incd_sql_file *m = &incd_migrations[i];
		if (p->mig[i] == MIG_CHANGED)
			incd_ctl_err(
			    "refusing to migrate: %s has changed since it was applied "
			    "(checksum recorded %.12s…, file %.12s…); a released migration "
			    "never changes: put the change in a new migration",
			    m->path, PQgetvalue(p->mig_rows, p->mig_row[i], 1), p->mig_sum[i]);
		else if (p->mig[i] == MIG_OUT_OF_ORDER)
			incd_ctl_err("refusing to migrate: %s is not applied but a later "
				     "migration is; migrations apply in order only",
				     m->path);
	}
	return p->refusals > 0;
}

static const char *mig_word(enum mig_state s)
{
	switch (s) {
	case MIG_APPLIED:
	case MIG_UNCHECKED:
		return "applied";
	case MIG_PENDING:
		return "pending";
	case MIG_CHANGED:
		return "CHANGED";
	case MIG_OUT_OF_ORDER:
		return "OUT-OF-ORDER";
	}
	return "?";
}

static const char *code_word(enum code_state s)
{
	switch (s) {
	case CODE_CURRENT:
		return "current";
	case CODE_CHANGED:
		return "changed";
	case CODE_NEW:
		return "new";
	}
	return "?";
}

/* One line of --status: kind, name, state and, if any, what follows. */
static void status_line(const char *kind, const char *name, const char *state, const char *rest)
{
	if (rest[0] == '\0')
		printf("%-10s %-28s %s\n", kind, name, state);
	else
		printf("%-10s %-28s %-12s %s\n", kind, name, state, rest);
}

/* migrate --status: one line per migration and code file, then a summary. */
static void print_status(const struct plan *p)
{
	char rest[512];
	for (size_t i = 0; i < incd_migrations_count; i++) {
		const struct incd_sql_file *m = &incd_migrations[i];
		int r = p->mig_row[i];
		const char *at = r >= 0 ? PQgetvalue(p->mig_rows, r, 2) : "";
		if (p->mig[i] == MIG_UNCHECKED)
			snprintf(rest, sizeof rest,
				 "%s (no checksum recorded: migrate records the file's)", at);
		else if (p->mig[i] == MIG_CHANGED)
			snprintf(rest, sizeof rest, "%s (%s differs from what was applied)", at,
				 m->path);
		else
			snprintf(rest, sizeof rest, "%s", at);
		status_line("migration", m->name, mig_word(p->mig[i]), rest);
	}
	for (int r = 0; p->mig_rows != NULL && r < PQntuples(p->mig_rows); r++) {
		const char *v = PQgetvalue(p->mig_rows, r, 0);
		if (embedded(incd_migrations, incd_migrations_count, v))
			continue;
		snprintf(rest, sizeof rest, "%s (not in this incidentctl)",
			 PQgetvalue(p->mig_rows, r, 2));
		status_line("migration", v, "UNKNOWN", rest);
	}
	for (size_t i = 0; i < incd_code_count; i++)
		status_line("code", incd_code[i].name, code_word(p->code[i]), "");
	for (int r = 0; p->code_rows != NULL && r < PQntuples(p->code_rows); r++)
		if (!embedded(incd_code, incd_code_count, PQgetvalue(p->code_rows, r, 0)))
			status_line("code", PQgetvalue(p->code_rows, r, 0), "removed", "");

	if (p->refusals > 0)
		printf("status: migrate refuses this database (see above)\n");
	else if (p->pending > 0 || p->unchecked > 0 || p->run_code)
		printf("status: %zu migration(s) pending, code %s: run incidentctl migrate\n",
		       p->pending, p->run_code ? "to be applied" : "current");
	else
		printf("status: up to date\n");
}

/* migrate --dry-run: the SQL migrate would run, in order. */
static void print_dry_run(const struct plan *p)
{
	bool any = false;
	printf("-- incidentctl migrate --dry-run: what migrate would run, in one "
	       "transaction\n");
	for (size_t i = 0; i < incd_migrations_count; i++) {
		const struct incd_sql_file *m = &incd_migrations[i];
		if (p->mig[i] == MIG_UNCHECKED) {
			printf("\n-- record the checksum of %s (applied before checksums were "
			       "kept)\n",
			       m->name);
			any = true;
		} else if (p->mig[i] == MIG_PENDING) {
			printf("\n-- migration %s (%s)\n%s", m->name, m->path, m->sql);
			any = true;
		}
	}
	for (size_t i = 0; p->run_code && i < incd_code_count; i++)
		printf("\n-- code %s (%s)\n%s", incd_code[i].path, code_word(p->code[i]),
		       incd_code[i].sql);
	if (!any && !p->run_code)
		printf("-- nothing: the database is up to date\n");
}

/* The bookkeeping tables, created or completed as needed. */
static bool ensure_tables(PGconn *conn, const struct plan *p)
{
	if (!p->have_migrations_table &&
	    !incd_ctl_command(conn, "create schema_migrations",
			      "CREATE TABLE schema_migrations ("
			      "version text PRIMARY KEY, "
			      "applied_at timestamptz NOT NULL DEFAULT now(), "
			      "checksum text CHECK (checksum ~ '^[0-9a-f]{64}$'))",
			      0, NULL))
		return false;
	if (p->have_migrations_table && !p->have_checksum_column &&
	    !incd_ctl_command(conn, "add schema_migrations.checksum",
			      "ALTER TABLE schema_migrations ADD COLUMN checksum text "
			      "CHECK (checksum ~ '^[0-9a-f]{64}$')",
			      0, NULL))
		return false;
	if (!p->have_code_table &&
	    !incd_ctl_command(conn, "create schema_code",
			      "CREATE TABLE schema_code ("
			      "file text PRIMARY KEY, "
			      "checksum text NOT NULL CHECK (checksum ~ '^[0-9a-f]{64}$'), "
			      "applied_at timestamptz NOT NULL DEFAULT now())",
			      0, NULL))
		return false;
	return true;
}

/* Runs one file's SQL inside the open transaction. */
static bool run_file(PGconn *conn, const struct incd_sql_file *f)
{
	char what[300];
	snprintf(what, sizeof what, "apply %s", f->path);
	if (!incd_ctl_script(conn, what, f->sql))
		return false;
	/* A COMMIT or ROLLBACK inside the file would have ended the
	 * transaction and left the rest unrecorded: refuse such files. */
	if (PQtransactionStatus(conn) != PQTRANS_INTRANS) {
		incd_ctl_err("could not %s: it ended the transaction itself (COMMIT or ROLLBACK "
			     "are not allowed in sql/; what ran before them may be committed)",
			     what);
		return false;
	}
	return true;
}

/* Both appliers add what they did to out, which is printed only once it is
 * committed. */
static bool apply_migrations(PGconn *conn, const struct plan *p, struct incd_buf *out)
{
	for (size_t i = 0; i < incd_migrations_count; i++) {
		const struct incd_sql_file *m = &incd_migrations[i];
		const char *params[] = {m->name, p->mig_sum[i]};
		if (p->mig[i] == MIG_UNCHECKED) {
			if (!incd_ctl_command(conn, "record a migration's checksum",
					      "UPDATE schema_migrations SET checksum = $2 "
					      "WHERE version = $1 AND checksum IS NULL",
					      2, params))
				return false;
			incd_buf_addf(out, "recorded the checksum of %s\n", m->name);
		}
		if (p->mig[i] != MIG_PENDING)
			continue;
		if (!run_file(conn, m))
			return false;
		if (!incd_ctl_command(conn, "record the migration",
				      "INSERT INTO schema_migrations (version, checksum) "
				      "VALUES ($1, $2)",
				      2, params))
			return false;
		incd_buf_addf(out, "applied %s\n", m->name);
	}
	return true;
}

static bool apply_code(PGconn *conn, const struct plan *p, struct incd_buf *out)
{
	struct incd_buf names = {0};
	bool ok = false;

	for (size_t i = 0; i < incd_code_count; i++) {
		const struct incd_sql_file *f = &incd_code[i];
		const char *params[] = {f->name, p->code_sum[i]};
		if (!run_file(conn, f))
			goto done;
		/* applied_at says when this text was first applied. */
		if (!incd_ctl_command(
			conn, "record a code file",
			"INSERT INTO schema_code AS c (file, checksum) VALUES ($1, $2) "
			"ON CONFLICT (file) DO UPDATE SET checksum = excluded.checksum, "
			"applied_at = now() WHERE c.checksum <> excluded.checksum",
			2, params))
			goto done;
		incd_buf_addf(out, "applied code %s (%s)\n", f->name, code_word(p->code[i]));
		/* Names are letters, digits, _ . - (scripts/embed-sql.sh). */
		incd_buf_addf(&names, "%s\"%s\"", i == 0 ? "{" : ",", f->name);
	}
	incd_buf_adds(&names, incd_code_count == 0 ? "{}" : "}");
	const char *params[] = {names.data};
	if (!incd_ctl_command(conn, "forget removed code files",
			      "DELETE FROM schema_code WHERE file <> ALL ($1::text[])", 1, params))
		goto done;
	ok = true;
done:
	incd_buf_free(&names);
	return ok;
}

/* Everything migrate creates belongs to the owner of schema api, whoever
 * runs it: a superuser, or another member of that role, migrates as the
 * owner (SET LOCAL ROLE) once there is one, so that no table or function
 * ends up owned by someone else, and no SECURITY DEFINER function runs as
 * a superuser by accident (docs/SCHEMA.md, "Roles and privileges"). */
static bool become_owner(PGconn *conn)
{
	PGresult *res = incd_ctl_query(conn, "become the schema's owner",
				       "SELECT set_config('role', r.rolname, true) "
				       "FROM pg_namespace n JOIN pg_roles r ON r.oid = n.nspowner "
				       "WHERE n.nspname = 'api' AND r.rolname <> current_user "
				       "AND pg_has_role(current_user, r.oid, 'MEMBER')",
				       0, NULL);
	bool ok = res != NULL;
	PQclear(res);
	return ok;
}

enum incd_ctl_status incd_ctl_migrate(PGconn *conn, enum incd_ctl_migrate_mode mode,
				      bool reapply_code)
{
	enum incd_ctl_status st = INCD_CTL_FAIL;
	static const char *const lock_params[] = {INCD_CTL_MIGRATE_LOCK_KEY};
	struct plan p = {0};
	struct incd_buf out = {0};
	PGresult *lock = NULL;

	if (mode == INCD_CTL_MIGRATE_APPLY) {
		/* Released at commit or rollback; a concurrent migrate waits
		 * here and then finds nothing left to do. */
		if (!incd_ctl_begin(conn))
			goto done;
		lock = incd_ctl_query(conn, "take the migration lock",
				      "SELECT pg_advisory_xact_lock($1::bigint)", 1, lock_params);
		if (lock == NULL || !become_owner(conn))
			goto done;
	} else if (!incd_ctl_command(conn, "begin a read-only transaction",
				     "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL)) {
		goto done;
	}
	if (!read_record(conn, &p))
		goto done;
	make_plan(&p, reapply_code);

	if (mode == INCD_CTL_MIGRATE_STATUS) {
		print_status(&p);
		if (p.refusals > 0)
			st = INCD_CTL_FAIL;
		else if (p.pending > 0 || p.unchecked > 0 || p.run_code)
			st = INCD_CTL_PENDING;
		else
			st = INCD_CTL_OK;
		goto done;
	}
	if (report_refusals(&p))
		goto done;
	if (mode == INCD_CTL_MIGRATE_DRY_RUN) {
		print_dry_run(&p);
		st = INCD_CTL_OK;
		goto done;
	}

	if (p.pending == 0 && p.unchecked == 0 && !p.run_code) {
		printf("nothing to apply: the database is up to date\n");
		st = INCD_CTL_OK;
		goto done;
	}
	if (!ensure_tables(conn, &p) || !apply_migrations(conn, &p, &out))
		goto done;
	if (p.run_code && !apply_code(conn, &p, &out))
		goto done;
	if (!incd_ctl_commit(conn))
		goto done;
	fputs(out.data, stdout);
	st = INCD_CTL_OK;
done:
	if (st == INCD_CTL_FAIL && mode == INCD_CTL_MIGRATE_APPLY)
		incd_ctl_err("nothing was changed: migrate runs in one transaction");
	incd_ctl_rollback(conn);
	fflush(stdout);
	incd_buf_free(&out);
	PQclear(lock);
	plan_free(&p);
	return st;
}
