/* Users V2: list (filtered, paginated), show. Users come from the
 * directory (incidentctl), so there are no writes (docs/CONFIG.md). */
#include "handlers.h"

#define MAX_FILTER_BYTES 256
#define MAX_PAGE_SIZE 10000

static struct incd_stmt list_stmt = {
    "user_list", "SELECT api.user_list($1, $2, $3, $4::boolean, $5, $6::int)", 6, 0};
static struct incd_stmt show_stmt = {"user_show", "SELECT api.user_show($1, $2)", 2, 0};

/* In the order of api.user_list's parameters. */
static const struct incd_query_spec list_params[] = {
    {"email", INCD_Q_TEXT, false, MAX_FILTER_BYTES},
    {"slack_user_id", INCD_Q_TEXT, false, MAX_FILTER_BYTES},
    {"include_inactive", INCD_Q_BOOL, false, 0},
    {"after", INCD_Q_ID, false, 0},
    {"page_size", INCD_Q_PAGE_SIZE, false, MAX_PAGE_SIZE},
};

bool incd_h_users_list(struct incd_ctx *ctx)
{
	return incd_h_respond_query(ctx, &list_stmt, list_params, INCD_ARRAY_LEN(list_params));
}

bool incd_h_users_show(struct incd_ctx *ctx)
{
	return incd_h_respond_id(ctx, &show_stmt, 200);
}
