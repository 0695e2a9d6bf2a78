/* Incident types V1: list, show. Types are created with incidentctl. */
#include "handlers.h"

static struct incd_stmt list_stmt = {"incident_type_list", "SELECT api.incident_type_list($1)", 1,
				     0};
static struct incd_stmt show_stmt = {"incident_type_show", "SELECT api.incident_type_show($1, $2)",
				     2, 0};

bool incd_h_incident_types_list(struct incd_ctx *ctx)
{
	return incd_h_respond_query(ctx, &list_stmt, NULL, 0);
}

bool incd_h_incident_types_show(struct incd_ctx *ctx)
{
	return incd_h_respond_id(ctx, &show_stmt, 200);
}
