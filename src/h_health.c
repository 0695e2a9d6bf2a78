/* GET /healthz: 200 when this worker can reach the database, else 503. */
#include "handlers.h"

static struct incd_stmt health = {"health", "SELECT 1", 0, 0};

bool incd_h_health(struct incd_ctx *ctx)
{
	struct pg_result *res = NULL;
	if (!incd_db_exec(ctx->db, &health, NULL, NULL, NULL, &res, ctx->err))
		return false;
	incd_db_clear(res);
	incd_buf_adds(&ctx->resp->body, "{\"status\":\"ok\",\"database\":\"ok\"}");
	return true;
}

void incd_h_body_from_result(struct incd_ctx *ctx, const struct pg_result *res, int col)
{
	const char *v = incd_db_value(res, 0, col);
	incd_buf_add(&ctx->resp->body, v ? v : "null", v ? (size_t)incd_db_length(res, 0, col) : 4);
}
