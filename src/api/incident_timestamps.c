/* Incident timestamps V2: list, show (docs/CONFIG.md). Read only: every
 * organisation has the five lifecycle timestamps. */
#include "handlers.h"

static struct incd_stmt list_stmt = {"incident_timestamp_list",
				     "SELECT api.incident_timestamp_list($1)", 1, 0};
static struct incd_stmt show_stmt = {"incident_timestamp_show",
				     "SELECT api.incident_timestamp_show($1, $2)", 2, 0};

bool incd_h_incident_timestamps_list(struct incd_ctx *ctx)
{
	return incd_h_respond_query(ctx, &list_stmt, NULL, 0);
}

bool incd_h_incident_timestamps_show(struct incd_ctx *ctx)
{
	return incd_h_respond_id(ctx, &show_stmt, 200);
}
