/* incidentctl's libpq helpers: connect, run one statement, transactions,
 * and the error messages that go with them. */
#include "ctl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void incd_ctl_err(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("incidentctl: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* Prints the server's message (and its DETAIL, which names the offending
 * key of a unique violation) for a failed result, or the connection's
 * message when there is no result. libpq messages end in a newline. */
static void report(const PGconn *conn, const PGresult *res, const char *what)
{
	const char *msg = NULL;
	const char *detail = NULL;
	if (res != NULL) {
		msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
		if (msg == NULL && PQresultErrorMessage(res)[0] != '\0')
			msg = PQresultErrorMessage(res);
	}
	if (msg == NULL)
		msg = PQerrorMessage(conn);
	if (msg[0] == '\0')
		msg = "unexpected result from the server";
	int len = (int)strcspn(msg, "\n");
	if (detail != NULL)
		incd_ctl_err("could not %s: %.*s (%s)", what, len, msg, detail);
	else
		incd_ctl_err("could not %s: %.*s", what, len, msg);
}

PGconn *incd_ctl_connect(const char *conninfo)
{
	static const char *const params[] = {"client_min_messages", "warning"};
	PGconn *conn = NULL;
	PGconn *ret = NULL;
	PGresult *res = NULL;
	const char *keys[3];
	const char *vals[3];
	int n = 0;

	/* expand_dbname makes a URL or key=value string in dbname expand into
	 * its settings; fallback_application_name yields to one in conninfo. */
	if (conninfo != NULL && conninfo[0] != '\0') {
		keys[n] = "dbname";
		vals[n++] = conninfo;
	}
	keys[n] = "fallback_application_name";
	vals[n++] = "incidentctl";
	keys[n] = NULL;
	vals[n] = NULL;

	conn = PQconnectdbParams(keys, vals, 1);
	if (conn == NULL) {
		incd_ctl_err("could not connect to the database: out of memory");
		goto done;
	}
	if (PQstatus(conn) != CONNECTION_OK) {
		report(conn, NULL, "connect to the database");
		goto done;
	}
	res = incd_ctl_query(conn, "set client_min_messages", "SELECT set_config($1, $2, false)", 2,
			     params);
	if (res == NULL)
		goto done;

	ret = conn; /* transfers ownership to the caller */
	conn = NULL;
done:
	PQclear(res);
	PQfinish(conn);
	return ret;
}

static PGresult *exec_params(PGconn *conn, const char *sql, int n, const char *const *params)
{
	/* All parameters are text; the SQL casts where it needs a type. */
	return PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
}

bool incd_ctl_command(PGconn *conn, const char *what, const char *sql, int n,
		      const char *const *params)
{
	bool ok = false;
	PGresult *res = exec_params(conn, sql, n, params);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		report(conn, res, what);
		goto done;
	}
	ok = true;
done:
	PQclear(res);
	return ok;
}

PGresult *incd_ctl_query(PGconn *conn, const char *what, const char *sql, int n,
			 const char *const *params)
{
	PGresult *ret = NULL;
	PGresult *res = exec_params(conn, sql, n, params);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		report(conn, res, what);
		goto done;
	}
	ret = res; /* transfers ownership to the caller */
	res = NULL;
done:
	PQclear(res);
	return ret;
}

bool incd_ctl_query_value(PGconn *conn, const char *what, const char *sql, int n,
			  const char *const *params, bool *found, char *out, size_t out_size)
{
	bool ok = false;
	PGresult *res = incd_ctl_query(conn, what, sql, n, params);
	*found = false;
	if (res == NULL)
		goto done;
	if (PQntuples(res) > 1 || PQnfields(res) != 1) {
		incd_ctl_err("could not %s: expected one value, got %d rows of %d columns", what,
			     PQntuples(res), PQnfields(res));
		goto done;
	}
	if (PQntuples(res) == 1) {
		size_t len = (size_t)PQgetlength(res, 0, 0);
		if (len >= out_size) {
			incd_ctl_err("could not %s: value of %zu bytes is too long", what, len);
			goto done;
		}
		memcpy(out, PQgetvalue(res, 0, 0), len);
		out[len] = '\0';
		*found = true;
	}
	ok = true;
done:
	PQclear(res);
	return ok;
}

bool incd_ctl_script(PGconn *conn, const char *what, const char *script)
{
	bool ok = false;
	/* PQexec returns the last statement's result; an error stops the
	 * script there and is that last result. */
	PGresult *res = PQexec(conn, script);
	ExecStatusType st = PQresultStatus(res);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY) {
		report(conn, res, what);
		goto done;
	}
	ok = true;
done:
	PQclear(res);
	return ok;
}

bool incd_ctl_begin(PGconn *conn)
{
	return incd_ctl_command(conn, "begin a transaction", "BEGIN", 0, NULL);
}

bool incd_ctl_commit(PGconn *conn)
{
	bool ok = false;
	PGresult *res = exec_params(conn, "COMMIT", 0, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		report(conn, res, "commit");
		goto done;
	}
	/* COMMIT of a failed transaction succeeds with the tag ROLLBACK. */
	if (strcmp(PQcmdStatus(res), "COMMIT") != 0) {
		incd_ctl_err("could not commit: the transaction was rolled back");
		goto done;
	}
	ok = true;
done:
	PQclear(res);
	return ok;
}

void incd_ctl_rollback(PGconn *conn)
{
	PGTransactionStatusType ts = PQtransactionStatus(conn);
	if (ts != PQTRANS_INTRANS && ts != PQTRANS_INERROR)
		return;
	PGresult *res = exec_params(conn, "ROLLBACK", 0, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		report(conn, res, "roll back");
	PQclear(res);
}
