/* Helpers shared by the resource handlers. */
#include "handlers.h"

#include "jsonv.h"

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
		incd_fail(ctx->err, 400, "invalid_json", NULL, "request body must be a JSON object");
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
