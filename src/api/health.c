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
