/* incidentctl roles setup: the owner and runtime roles of least privilege
 * (docs/SCHEMA.md, "Roles and privileges"). As a superuser, in one
 * transaction: creates the roles that are missing, makes the owner own the
 * database and every object of schemas api and public (an install
 * migrated as a superuser moves over this way), records the runtime role
 * in schema_roles and applies the privileges of sql/code/90_grants.sql. */
#include "ctl.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What the roles this command creates are: they log in, and nothing more.
 * The owner inherits: as the database's owner it creates in schema public
 * through the implicit role pg_database_owner. The runtime role does not:
 * a membership granted to it later lends it no rights. */
#define ROLE_ATTRS "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"
#define OWNER_ATTRS ROLE_ATTRS " INHERIT"
#define APP_ATTRS ROLE_ATTRS " NOINHERIT"

/* The statements that give the owner ($1) every object of schemas api,
 * reporting and public it does not own yet, with the previous owner's
 * name: the schemas api and reporting, tables, views, sequences (but those
 * a column owns, which follow their table), functions, procedures,
 * aggregates, types that are not a table's, and the change feed's
 * publication. Objects of extensions stay as they are. */
static const char take_over_sql[] =
    "WITH target AS (SELECT oid FROM pg_roles WHERE rolname = $1), "
    "ns AS (SELECT oid FROM pg_namespace WHERE nspname IN ('api', 'reporting', 'public')), "
    "ext AS (SELECT classid, objid FROM pg_depend WHERE deptype = 'e') "
    "SELECT format('ALTER SCHEMA %I OWNER TO %I', n.nspname, $1), pg_get_userbyid(n.nspowner) "
    "FROM pg_namespace n WHERE n.nspname IN ('api', 'reporting') "
    "AND n.nspowner <> (SELECT oid FROM target) "
    "UNION ALL "
    "SELECT format('ALTER PUBLICATION %I OWNER TO %I', p.pubname, $1), "
    "pg_get_userbyid(p.pubowner) FROM pg_publication p "
    "WHERE p.pubname = 'incidentd_reporting' AND p.pubowner <> (SELECT oid FROM target) "
    "UNION ALL "
    "SELECT format('ALTER %s %s OWNER TO %I', CASE c.relkind WHEN 'v' THEN 'VIEW' "
    "WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FOREIGN TABLE' "
    "WHEN 'c' THEN 'TYPE' ELSE 'TABLE' END, c.oid::regclass, $1), pg_get_userbyid(c.relowner) "
    "FROM pg_class c "
    "WHERE c.relnamespace IN (SELECT oid FROM ns) AND c.relkind IN ('r', 'p', 'v', 'm', 'f', "
    "'S', 'c') AND c.relowner <> (SELECT oid FROM target) "
    "AND c.oid NOT IN (SELECT objid FROM ext WHERE classid = 'pg_class'::regclass) "
    "AND NOT (c.relkind = 'S' AND EXISTS (SELECT FROM pg_depend d WHERE d.classid = "
    "'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'i'))) "
    "UNION ALL "
    "SELECT format('ALTER %s %s OWNER TO %I', CASE p.prokind WHEN 'a' THEN 'AGGREGATE' "
    "ELSE 'ROUTINE' END, p.oid::regprocedure, $1), pg_get_userbyid(p.proowner) "
    "FROM pg_proc p "
    "WHERE p.pronamespace IN (SELECT oid FROM ns) AND p.proowner <> (SELECT oid FROM target) "
    "AND p.oid NOT IN (SELECT objid FROM ext WHERE classid = 'pg_proc'::regclass) "
    "UNION ALL "
    "SELECT format('ALTER %s %s OWNER TO %I', CASE t.typtype WHEN 'd' THEN 'DOMAIN' "
    "ELSE 'TYPE' END, t.oid::regtype, $1), pg_get_userbyid(t.typowner) "
    "FROM pg_type t "
    "WHERE t.typnamespace IN (SELECT oid FROM ns) AND t.typtype IN ('d', 'e', 'r') "
    "AND t.typowner <> (SELECT oid FROM target) "
    "AND t.oid NOT IN (SELECT objid FROM ext WHERE classid = 'pg_type'::regclass)";

/* Creates role name with attrs unless it exists; says which in out. */
static bool ensure_role(PGconn *conn, const char *name, const char *attrs, const char *kind,
			struct incd_buf *out)
{
	const char *params[] = {name, attrs};
	char stmt[512];
	bool found = false;

	if (!incd_ctl_query_value(conn, "look up a role",
				  "SELECT format('CREATE ROLE %I %s', $1::text, $2::text) "
				  "WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = $1)",
				  2, params, &found, stmt, sizeof stmt))
		return false;
	if (!found) {
		incd_buf_addf(out, "role %s exists (%s)\n", name, kind);
		return true;
	}
	if (!incd_ctl_command(conn, "create a role", stmt, 0, NULL))
		return false;
	incd_buf_addf(out, "created role %s (%s)\n", name, kind);
	return true;
}

/* The runtime (or reporting: kind) role must not be able to do what the
 * owner can. False after printing why; warnings are printed and do not
 * fail. */
static bool check_roles(PGconn *conn, const char *owner, const char *app, const char *kind)
{
	const char *params[] = {owner, app};
	bool ok = false;
	PGresult *res = incd_ctl_query(
	    conn, "check the roles",
	    "SELECT a.rolsuper, pg_has_role(a.oid, o.oid, 'MEMBER'), a.rolcanlogin, o.rolsuper, "
	    "o.rolcanlogin, o.rolinherit "
	    "FROM pg_roles a, pg_roles o WHERE o.rolname = $1 AND a.rolname = $2",
	    2, params);
	if (res == NULL)
		goto done;
	if (PQntuples(res) != 1) {
		incd_ctl_err("could not check the roles: %s or %s is missing", owner, app);
		goto done;
	}
	if (strcmp(PQgetvalue(res, 0, 0), "t") == 0) {
		incd_ctl_err("refusing to use %s as the %s role: it is a superuser", app, kind);
		goto done;
	}
	if (strcmp(PQgetvalue(res, 0, 1), "t") == 0) {
		incd_ctl_err("refusing to use %s as the %s role: it is a member of the owner "
			     "role %s, whose rights it would have (REVOKE %s FROM %s)",
			     app, kind, owner, owner, app);
		goto done;
	}
	if (strcmp(PQgetvalue(res, 0, 2), "t") != 0)
		incd_ctl_err("warning: role %s (%s) cannot log in (ALTER ROLE %s LOGIN)", app, kind,
			     app);
	if (strcmp(PQgetvalue(res, 0, 3), "t") == 0)
		incd_ctl_err(
		    "warning: the owner role %s is a superuser: the api functions that run "
		    "as their owner run with a superuser's rights",
		    owner);
	if (strcmp(PQgetvalue(res, 0, 4), "t") != 0)
		incd_ctl_err("warning: role %s cannot log in, and incidentctl migrate runs as it "
			     "(ALTER ROLE %s LOGIN)",
			     owner, owner);
	if (strcmp(PQgetvalue(res, 0, 5), "t") != 0)
		incd_ctl_err("warning: role %s does not inherit (NOINHERIT), so the database's "
			     "owner cannot create in schema public (ALTER ROLE %s INHERIT)",
			     owner, owner);
	ok = true;
done:
	PQclear(res);
	return ok;
}

/* Runs every statement in the first column of the rows sql returns;
 * *count says how many ran. With owners, the distinct values of the
 * second column are added to it, comma-separated. */
static bool run_generated(PGconn *conn, const char *what, const char *sql, int n,
			  const char *const *params, int *count, struct incd_buf *owners)
{
	bool ok = false;
	PGresult *res = incd_ctl_query(conn, what, sql, n, params);
	*count = 0;
	if (res == NULL)
		goto done;
	for (int i = 0; i < PQntuples(res); i++) {
		if (!incd_ctl_command(conn, what, PQgetvalue(res, i, 0), 0, NULL))
			goto done;
		(*count)++;
		if (owners == NULL)
			continue;
		const char *who = PQgetvalue(res, i, 1);
		bool seen = false;
		for (int k = 0; k < i; k++)
			seen = seen || strcmp(PQgetvalue(res, k, 1), who) == 0;
		if (!seen)
			incd_buf_addf(owners, "%s%s", owners->len > 0 ? ", " : "", who);
	}
	ok = true;
done:
	PQclear(res);
	return ok;
}

/* The database: the owner owns it and may create in schema public, nobody
 * else may (PostgreSQL 15 no longer lets PUBLIC, but a public schema made
 * before it still does); the runtime role may connect; nobody but the
 * owner may create temporary tables. */
static bool setup_database(PGconn *conn, const char *owner, const char *app, const char *reporting,
			   struct incd_buf *out)
{
	const char *owner_param[] = {owner};
	const char *both[] = {owner, app, reporting};
	int n = 0, m = 0;

	if (!run_generated(conn, "give the database to the owner",
			   "SELECT format('ALTER DATABASE %I OWNER TO %I', current_database(), "
			   "$1::text) FROM pg_database d WHERE d.datname = current_database() "
			   "AND d.datdba <> (SELECT oid FROM pg_roles WHERE rolname = $1)",
			   1, owner_param, &n, NULL) ||
	    !run_generated(
		conn, "set the database's privileges",
		"SELECT unnest(ARRAY["
		"format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database()), "
		"format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), $2::text), "
		"format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), $3::text), "
		"'REVOKE CREATE ON SCHEMA public FROM PUBLIC', "
		"format('GRANT USAGE, CREATE ON SCHEMA public TO %I', $1::text)])",
		3, both, &m, NULL))
		return false;
	if (n > 0)
		incd_buf_addf(out, "database: owner is now %s\n", owner);
	incd_buf_addf(out,
		      "database: %s and %s may connect; only %s may create in schema public; "
		      "TEMPORARY revoked from PUBLIC\n",
		      app, reporting, owner);
	return true;
}

/* schema_roles, created (the owner's) if missing; records role app for
 * purpose ("app": the runtime role, "reporting"); a role recorded for it
 * before and replaced now loses what it was granted. */
static bool record_role(PGconn *conn, const char *owner, const char *purpose, const char *app,
			struct incd_buf *out)
{
	const char *params[] = {app, purpose};
	const char *owner_param[] = {owner};
	char old[256];
	bool found = false;
	int n = 0;

	if (!incd_ctl_query_value(conn, "look for schema_roles",
				  "SELECT 1 WHERE to_regclass('schema_roles') IS NULL", 0, NULL,
				  &found, old, sizeof old))
		return false;
	if (found &&
	    (!incd_ctl_command(conn, "create schema_roles",
			       "CREATE TABLE schema_roles ("
			       "purpose text PRIMARY KEY, "
			       "role_name text NOT NULL, "
			       "recorded_at timestamptz NOT NULL DEFAULT now())",
			       0, NULL) ||
	     !incd_ctl_command(conn, "comment on schema_roles",
			       "COMMENT ON TABLE schema_roles IS 'The roles sql/code/90_grants.sql "
			       "grants privileges to, by purpose (app: the runtime role incidentd "
			       "connects as; reporting: the read-only reporting role). Written by "
			       "incidentctl roles setup.'",
			       0, NULL) ||
	     !run_generated(conn, "give schema_roles to the owner",
			    "SELECT format('ALTER TABLE schema_roles OWNER TO %I', $1::text)", 1,
			    owner_param, &n, NULL)))
		return false;
	if (!incd_ctl_query_value(conn, "read schema_roles",
				  "SELECT role_name FROM schema_roles WHERE purpose = $2 "
				  "AND role_name <> $1 AND EXISTS (SELECT FROM pg_roles r "
				  "WHERE r.rolname = schema_roles.role_name)",
				  2, params, &found, old, sizeof old))
		return false;
	if (found) {
		const char *old_param[] = {old};
		if (!run_generated(
			conn, "revoke the previous runtime role's privileges",
			"SELECT format(s, $1::text, current_database()) FROM unnest(ARRAY["
			"'REVOKE ALL ON ALL TABLES IN SCHEMA public FROM %1$I', "
			"'REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM %1$I', "
			"'REVOKE CONNECT ON DATABASE %2$I FROM %1$I'] || CASE WHEN "
			"to_regnamespace('api') IS NULL THEN '{}'::text[] ELSE ARRAY["
			"'REVOKE ALL ON ALL TABLES IN SCHEMA api FROM %1$I', "
			"'REVOKE ALL ON ALL FUNCTIONS IN SCHEMA api FROM %1$I', "
			"'REVOKE ALL ON SCHEMA api FROM %1$I'] END || CASE WHEN "
			"to_regnamespace('reporting') IS NULL THEN '{}'::text[] ELSE ARRAY["
			"'REVOKE ALL ON ALL TABLES IN SCHEMA reporting FROM %1$I', "
			"'REVOKE ALL ON SCHEMA reporting FROM %1$I'] END) s",
			1, old_param, &n, NULL))
			return false;
		incd_buf_addf(out, "revoked the privileges of %s, the %s role before\n", old,
			      purpose);
	}
	return incd_ctl_command(
	    conn, "record the runtime role",
	    "INSERT INTO schema_roles AS r (purpose, role_name) VALUES ($2, $1) "
	    "ON CONFLICT (purpose) DO UPDATE SET role_name = excluded.role_name, "
	    "recorded_at = now() WHERE r.role_name <> excluded.role_name",
	    2, params);
}

enum incd_ctl_status incd_ctl_roles_setup(PGconn *conn, const char *owner, const char *app,
					  const char *reporting)
{
	static const char *const lock_params[] = {INCD_CTL_MIGRATE_LOCK_KEY};
	enum incd_ctl_status st = INCD_CTL_FAIL;
	const char *owner_param[] = {owner};
	struct incd_buf out = {0};
	struct incd_buf owners = {0};
	PGresult *res = NULL;
	char value[256];
	bool found = false;
	const char *names[] = {owner, app, reporting};
	int n = 0;

	/* Names are quoted by the server (format's %I): any other is fine. */
	for (size_t i = 0; i < 3; i++) {
		if (strlen(names[i]) > 63 || strncmp(names[i], "pg_", 3) == 0) {
			incd_ctl_err(
			    "bad role name \"%s\": at most 63 bytes, not starting with pg_",
			    names[i]);
			st = INCD_CTL_USAGE;
			goto done;
		}
	}
	if (strcmp(owner, app) == 0) {
		incd_ctl_err("the owner and the runtime role must be two roles (both are %s)", app);
		st = INCD_CTL_USAGE;
		goto done;
	}
	if (strcmp(reporting, owner) == 0 || strcmp(reporting, app) == 0) {
		incd_ctl_err("the reporting role must be a role of its own (%s is the %s)",
			     reporting, strcmp(reporting, owner) == 0 ? "owner" : "runtime role");
		st = INCD_CTL_USAGE;
		goto done;
	}

	/* A migrate in progress would create objects this misses. */
	if (!incd_ctl_begin(conn))
		goto done;
	res = incd_ctl_query(conn, "take the migration lock",
			     "SELECT pg_advisory_xact_lock($1::bigint)", 1, lock_params);
	if (res == NULL)
		goto done;
	if (!incd_ctl_query_value(conn, "check the current role",
				  "SELECT current_user::text FROM pg_roles "
				  "WHERE rolname = current_user AND NOT rolsuper",
				  0, NULL, &found, value, sizeof value))
		goto done;
	if (found) {
		incd_ctl_err("roles setup must run as a superuser (it creates roles and takes over "
			     "objects); connected as %s",
			     value);
		goto done;
	}
	if (!ensure_role(conn, owner, OWNER_ATTRS,
			 "owner: owns the schema, runs incidentctl migrate", &out) ||
	    !ensure_role(conn, app, APP_ATTRS, "runtime: incidentd connects as it", &out) ||
	    !ensure_role(conn, reporting, APP_ATTRS, "reporting: reads schema reporting", &out) ||
	    !check_roles(conn, owner, app, "runtime") ||
	    !check_roles(conn, owner, reporting, "reporting") ||
	    !setup_database(conn, owner, app, reporting, &out) ||
	    !record_role(conn, owner, "app", app, &out) ||
	    !record_role(conn, owner, "reporting", reporting, &out))
		goto done;
	if (!run_generated(conn, "take over the schema's objects", take_over_sql, 1, owner_param,
			   &n, &owners))
		goto done;
	if (n > 0)
		incd_buf_addf(&out, "%s now owns %d object%s that belonged to %s\n", owner, n,
			      n == 1 ? "" : "s", owners.data);
	if (!incd_ctl_query_value(conn, "look for incidentd_apply_grants",
				  "SELECT 1 WHERE to_regprocedure('incidentd_apply_grants()') "
				  "IS NOT NULL",
				  0, NULL, &found, value, sizeof value))
		goto done;
	if (found) {
		PQclear(res);
		res = incd_ctl_query(conn, "apply the privileges",
				     "SELECT incidentd_apply_grants()", 0, NULL);
		if (res == NULL)
			goto done;
		incd_buf_addf(&out,
			      "privileges applied: %s is the runtime role, %s the reporting role\n",
			      app, reporting);
	} else {
		incd_buf_addf(&out,
			      "%s recorded as the runtime role: incidentctl migrate applies "
			      "its privileges\n",
			      app);
	}
	if (!incd_ctl_commit(conn))
		goto done;
	fputs(out.data, stdout);
	st = INCD_CTL_OK;
done:
	if (st == INCD_CTL_FAIL)
		incd_ctl_err("nothing was changed: roles setup runs in one transaction");
	incd_ctl_rollback(conn);
	PQclear(res);
	incd_buf_free(&out);
	incd_buf_free(&owners);
	return st;
}
