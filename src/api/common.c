/* Helpers shared by the resource handlers. */
#include "handlers.h"

#include <stdio.h>
#include <string.h>

#include "jsonv.h"
#include "ulid.h"

void incd_h_body_from_result(struct incd_ctx *ctx, const struct pg_result *res, int col)
{
	const char *v = incd_db_value(res, 0, col);
	incd_buf_add(&ctx->resp->body, v ? v : "null", v ? (size_t)incd_db_length(res, 0, col) : 4);
}

struct json_object *incd_h_parse_object(struct incd_ctx *ctx)
{
	struct json_object *body = incd_json_parse(ctx->req->body, ctx->req->body_len, ctx->err);
	if (body != NULL && !json_object_is_type(body, json_type_object)) {
		json_object_put(body);
		incd_fail(ctx->err, 400, "invalid_json", NULL,
			  "request body must be a JSON object");
		return NULL;
	}
	return body;
}

const char *incd_h_json_text(struct json_object *obj)
{
	return json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
						       JSON_C_TO_STRING_NOSLASHESCAPE);
}

bool incd_h_respond(struct incd_ctx *ctx, struct incd_stmt *stmt, const char *const *values,
		    int status)
{
	struct pg_result *res = NULL;
	if (!incd_db_exec(ctx->db, stmt, values, NULL, NULL, &res, ctx->err))
		return false;
	ctx->resp->status = status;
	if (status != 204 && status != 202 && incd_db_ntuples(res) > 0)
		incd_h_body_from_result(ctx, res, 0);
	incd_db_clear(res);
	return true;
}

/* Ids are ULIDs: anything but ASCII letters and digits names nothing, and
 * must not reach PostgreSQL (which refuses text that is not UTF-8). */
bool incd_h_may_be_id(const char *s)
{
	size_t n = strspn(s, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");
	return n > 0 && n <= INCD_H_MAX_ID_CHARS && s[n] == '\0';
}

static bool no_such_id(struct incd_ctx *ctx)
{
	return incd_fail(ctx->err, 404, "not_found", NULL, "Nothing with this id was found");
}

bool incd_h_respond_id(struct incd_ctx *ctx, struct incd_stmt *stmt, int status)
{
	if (!incd_h_may_be_id(ctx->param))
		return no_such_id(ctx);
	const char *values[] = {ctx->who->organisation_id, ctx->param};
	return incd_h_respond(ctx, stmt, values, status);
}

/* True when s is valid UTF-8, by the rules applied to request bodies: the
 * strict JSON parser judges it as a string literal. */
static bool is_utf8(const char *s)
{
	struct incd_buf lit = {0};
	struct incd_error ignored;

	incd_buf_add_json_string(&lit, s);
	struct json_object *v = incd_json_parse(lit.data, lit.len, &ignored);
	bool ok = v != NULL;
	json_object_put(v);
	incd_buf_free(&lit);
	return ok;
}

#define QUERY_VALUE_CAP INCD_H_QUERY_VALUE_CAP

/* Checks raw, the decoded value of parameter q, and writes what SQL gets
 * into out (cap bytes). */
static bool query_value(const struct incd_query_spec *q, const char *raw, char *out, size_t cap,
			struct incd_error *err)
{
	long size;
	bool overflow;

	switch (q->type) {
	case INCD_Q_ID:
		if (!incd_h_may_be_id(raw))
			return incd_fail(err, 422, "invalid_value", q->name, "%s must be an id",
					 q->name);
		break;
	case INCD_Q_TEXT:
		if (strlen(raw) > (size_t)q->max || !is_utf8(raw))
			return incd_fail(err, 422, "invalid_value", q->name,
					 "%s must be UTF-8 text of at most %ld bytes", q->name,
					 q->max);
		break;
	case INCD_Q_PAGE_SIZE:
		if (!incd_parse_uint(raw, q->max, &size, &overflow) || size < 1)
			return incd_fail(err, 422, "invalid_value", q->name,
					 "%s must be an integer of at least 1", q->name);
		snprintf(out, cap, "%ld", size);
		return true;
	case INCD_Q_BOOL:
		if (strcmp(raw, "true") != 0 && strcmp(raw, "false") != 0)
			return incd_fail(err, 422, "invalid_value", q->name,
					 "%s must be true or false", q->name);
		break;
	}
	snprintf(out, cap, "%s", raw);
	return true;
}

static bool counts_as_absent(const struct incd_query_spec *q, const char *raw)
{
	return *raw == '\0' && (q->type == INCD_Q_ID || q->type == INCD_Q_TEXT);
}

bool incd_h_parse_query(const char *query, const struct incd_query_spec *spec, size_t n,
			char (*bufs)[INCD_H_QUERY_VALUE_CAP], const char **vals,
			struct incd_error *err)
{
	char name[64], raw[QUERY_VALUE_CAP];
	bool bad;

	for (size_t i = 0; i < n; i++)
		vals[i] = NULL;
	while (incd_query_next(&query, name, sizeof name, raw, sizeof raw, &bad)) {
		for (size_t i = 0; i < n; i++) {
			const struct incd_query_spec *q = &spec[i];
			if (strcmp(q->name, name) != 0)
				continue;
			if (bad)
				return incd_fail(err, 422, "invalid_value", q->name,
						 "query parameter %s is not correctly encoded",
						 q->name);
			vals[i] = NULL;
			if (counts_as_absent(q, raw))
				continue;
			if (!query_value(q, raw, bufs[i], QUERY_VALUE_CAP, err))
				return false;
			vals[i] = bufs[i];
		}
	}
	for (size_t i = 0; i < n; i++)
		if (spec[i].required && vals[i] == NULL)
			return incd_fail(err, 422, "is_required", spec[i].name, "%s is required",
					 spec[i].name);
	return true;
}

bool incd_h_respond_query(struct incd_ctx *ctx, struct incd_stmt *stmt,
			  const struct incd_query_spec *spec, size_t n)
{
	char bufs[INCD_H_MAX_QUERY_PARAMS][QUERY_VALUE_CAP];
	const char *values[1 + INCD_H_MAX_QUERY_PARAMS] = {ctx->who->organisation_id};

	if (!incd_h_parse_query(ctx->req->query, spec, n, bufs, values + 1, ctx->err))
		return false;
	return incd_h_respond(ctx, stmt, values, 200);
}

bool incd_h_write(struct incd_ctx *ctx, const struct incd_write_op *op)
{
	struct json_object *body = NULL, *norm = json_object_new_object();
	char id[INCD_ULID_LEN + 1];
	bool ok = false;

	body = incd_h_parse_object(ctx);
	if (body == NULL || !incd_jv_fields(body, "", op->fields, op->n_fields, norm, ctx->err) ||
	    (op->check != NULL && !op->check(norm, ctx->err)))
		goto done;
	if (op->create) {
		incd_ulid_new(id);
	} else if (!incd_h_may_be_id(ctx->param)) {
		ok = no_such_id(ctx);
		goto done;
	}
	const char *values[] = {ctx->who->organisation_id, op->create ? id : ctx->param,
				incd_h_json_text(norm)};
	ok = incd_h_respond(ctx, op->stmt, values, op->create ? 201 : 200);
done:
	json_object_put(norm);
	json_object_put(body);
	return ok;
}
