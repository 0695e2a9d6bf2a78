/* The request context handlers receive, and the handlers themselves (one
 * file per resource). A handler fills ctx->resp and returns true, or fills
 * ctx->err and returns false; only the worker writes the response. */
#ifndef INCIDENTD_HANDLERS_H
#define INCIDENTD_HANDLERS_H

#include <json-c/json.h>
#include <stdbool.h>

#include "auth.h"
#include "config.h"
#include "db.h"
#include "error.h"
#include "render.h"
#include "request.h"
#include "response.h"

struct incd_ctx {
	const struct incd_config *cfg;
	const struct incd_request *req;
	struct incd_response *resp;
	struct incd_db *db;
	struct incd_render *render;	 /* fills incident frames in */
	const struct incd_identity *who; /* NULL on unauthenticated routes */
	const char *param;		 /* the route's {id} segment, "" if none */
	struct incd_error *err;
};

bool incd_h_health(struct incd_ctx *ctx);
bool incd_h_identity(struct incd_ctx *ctx);
bool incd_h_incidents_list(struct incd_ctx *ctx);
bool incd_h_incidents_create(struct incd_ctx *ctx);
bool incd_h_incidents_show(struct incd_ctx *ctx);

/* Copies column col (JSON text) of the first row of res into the body. */
void incd_h_body_from_result(struct incd_ctx *ctx, const struct pg_result *res, int col);

/* Parses the request body as a JSON object. Returns an owned object
 * (json_object_put) or NULL with ctx->err set (400 invalid_json). */
struct json_object *incd_h_parse_object(struct incd_ctx *ctx);

/* Compact JSON text of obj; borrowed from obj (valid until it changes or is
 * released). */
const char *incd_h_json_text(struct json_object *obj);

/* Runs stmt with values and answers status with column 0 of its first row as
 * the body (no body for 202 and 204). The usual shape of a handler that
 * only calls an api.* function. */
bool incd_h_respond(struct incd_ctx *ctx, struct incd_stmt *stmt, const char *const *values,
		    int status);

bool incd_h_severities_list(struct incd_ctx *ctx);
bool incd_h_severities_create(struct incd_ctx *ctx);
bool incd_h_severities_show(struct incd_ctx *ctx);
bool incd_h_severities_update(struct incd_ctx *ctx);
bool incd_h_severities_delete(struct incd_ctx *ctx);
bool incd_h_incident_types_list(struct incd_ctx *ctx);
bool incd_h_incident_types_show(struct incd_ctx *ctx);
bool incd_h_incident_roles_list(struct incd_ctx *ctx);
bool incd_h_incident_roles_create(struct incd_ctx *ctx);
bool incd_h_incident_roles_show(struct incd_ctx *ctx);
bool incd_h_incident_roles_update(struct incd_ctx *ctx);
bool incd_h_incident_roles_delete(struct incd_ctx *ctx);
bool incd_h_custom_fields_list(struct incd_ctx *ctx);
bool incd_h_custom_fields_create(struct incd_ctx *ctx);
bool incd_h_custom_fields_show(struct incd_ctx *ctx);
bool incd_h_custom_fields_update(struct incd_ctx *ctx);
bool incd_h_custom_fields_delete(struct incd_ctx *ctx);
bool incd_h_custom_field_options_list(struct incd_ctx *ctx);
bool incd_h_custom_field_options_create(struct incd_ctx *ctx);
bool incd_h_custom_field_options_show(struct incd_ctx *ctx);
bool incd_h_custom_field_options_update(struct incd_ctx *ctx);
bool incd_h_custom_field_options_delete(struct incd_ctx *ctx);
bool incd_h_users_list(struct incd_ctx *ctx);
bool incd_h_incidents_v2_list(struct incd_ctx *ctx);
bool incd_h_incidents_v2_create(struct incd_ctx *ctx);
bool incd_h_incidents_v2_show(struct incd_ctx *ctx);
bool incd_h_incidents_v2_edit(struct incd_ctx *ctx);
bool incd_h_incident_updates_list(struct incd_ctx *ctx);
bool incd_h_users_show(struct incd_ctx *ctx);
bool incd_h_incident_statuses_list(struct incd_ctx *ctx);
bool incd_h_incident_statuses_create(struct incd_ctx *ctx);
bool incd_h_incident_statuses_show(struct incd_ctx *ctx);
bool incd_h_incident_statuses_update(struct incd_ctx *ctx);
bool incd_h_incident_statuses_delete(struct incd_ctx *ctx);
bool incd_h_incident_timestamps_list(struct incd_ctx *ctx);
bool incd_h_incident_timestamps_show(struct incd_ctx *ctx);

/* Shared by the configuration handlers (docs/CONFIG.md). */

#define INCD_H_MAX_ID_CHARS 64
#define INCD_H_MAX_DESCRIPTION_CHARS 10000

/* The range of an int64 payload field (users include <stdint.h>). json-c
 * clamps a number out of int64's range to INT64_MIN / INT64_MAX and says
 * nothing; leaving those two values out makes the range check refuse it. */
#define INCD_H_INT64_MIN (INT64_MIN + 1)
#define INCD_H_INT64_MAX (INT64_MAX - 1)

/* Whether s can be an id (ASCII letters and digits, at most
 * INCD_H_MAX_ID_CHARS): anything else names nothing, and must not reach
 * PostgreSQL (which refuses text that is not UTF-8). */
bool incd_h_may_be_id(const char *s);

/* Runs stmt with ($1 organisation, $2 the route's {id}) and answers status
 * as incd_h_respond does. An {id} that cannot be an id (anything but ASCII
 * letters and digits, or too long) is a 404 without a query. */
bool incd_h_respond_id(struct incd_ctx *ctx, struct incd_stmt *stmt, int status);

enum incd_query_type {
	INCD_Q_ID,	  /* ASCII letters and digits, at most INCD_H_MAX_ID_CHARS */
	INCD_Q_TEXT,	  /* valid UTF-8 of at most max bytes */
	INCD_Q_PAGE_SIZE, /* an integer of at least 1; over max is served as max */
	INCD_Q_BOOL,	  /* true or false */
};

/* One query parameter of a list endpoint. */
struct incd_query_spec {
	const char *name;
	enum incd_query_type type;
	bool required;
	long max; /* INCD_Q_TEXT: bytes; INCD_Q_PAGE_SIZE: the largest page served */
};

#define INCD_H_MAX_QUERY_PARAMS 8
#define INCD_H_QUERY_VALUE_CAP 1024 /* decoded; longer values are cut, so over any max */

/* Fills vals[i] with the value of spec[i] in query (kept in bufs[i]), or
 * NULL when absent; a bad value is a 422 with source.field = its name. */
bool incd_h_parse_query(const char *query, const struct incd_query_spec *spec, size_t n,
			char (*bufs)[INCD_H_QUERY_VALUE_CAP], const char **vals,
			struct incd_error *err) INCD_MUST_CHECK;

/* Runs stmt with ($1 organisation, then one parameter per row of spec, in
 * order: its value, or NULL when absent; an empty ID or TEXT value counts as
 * absent) and answers 200. Parameters not in spec are ignored; a repeated one
 * keeps its last value. A bad value is a 422 with source.field = its name.
 * n is at most INCD_H_MAX_QUERY_PARAMS; spec may be NULL when n is 0. */
bool incd_h_respond_query(struct incd_ctx *ctx, struct incd_stmt *stmt,
			  const struct incd_query_spec *spec, size_t n);

struct incd_field_spec;

/* A create or update of a configuration object. */
struct incd_write_op {
	struct incd_stmt *stmt; /* ($1 organisation, $2 id, $3 payload::jsonb) */
	const struct incd_field_spec *fields;
	size_t n_fields;
	/* Further checks of the checked payload, or NULL. */
	bool (*check)(struct json_object *payload, struct incd_error *err);
	bool create; /* $2 a new ULID and 201; else $2 the route's {id} and 200 */
};

/* Parses the body (400 unless a JSON object), checks it against op->fields
 * and op->check (422), and runs op->stmt with the checked fields only. */
bool incd_h_write(struct incd_ctx *ctx, const struct incd_write_op *op);

#endif
