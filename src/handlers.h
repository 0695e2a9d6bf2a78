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
#include "request.h"
#include "response.h"

struct incd_ctx {
	const struct incd_config *cfg;
	const struct incd_request *req;
	struct incd_response *resp;
	struct incd_db *db;
	const struct incd_identity *who; /* NULL on unauthenticated routes */
	const char *param;               /* the route's {id} segment, "" if none */
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

#endif
