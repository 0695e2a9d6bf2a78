/* Incident roles V2: list, create, show, update, delete (docs/CONFIG.md).
 * Created roles are custom roles; the lead role cannot be deleted. */
#include "handlers.h"

#include "jsonv.h"

#define MAX_NAME_CHARS 255

static struct incd_stmt list_stmt = {"incident_role_list", "SELECT api.incident_role_list($1)", 1,
				     0};
static struct incd_stmt show_stmt = {"incident_role_show", "SELECT api.incident_role_show($1, $2)",
				     2, 0};
static struct incd_stmt create_stmt = {"incident_role_create",
				       "SELECT api.incident_role_create($1, $2, $3::jsonb)", 3, 0};
static struct incd_stmt update_stmt = {"incident_role_update",
				       "SELECT api.incident_role_update($1, $2, $3::jsonb)", 3, 0};
static struct incd_stmt delete_stmt = {"incident_role_delete",
				       "SELECT api.incident_role_delete($1, $2)", 2, 0};

/* IncidentRolesCreatePayloadV2 and IncidentRolesUpdatePayloadV2 are the same. */
static const struct incd_field_spec fields[] = {
    {"name", INCD_F_STRING, true, 1, MAX_NAME_CHARS, NULL},
    {"description", INCD_F_STRING, true, 1, INCD_H_MAX_DESCRIPTION_CHARS, NULL},
    {"instructions", INCD_F_STRING, true, 0, INCD_H_MAX_DESCRIPTION_CHARS, NULL},
    {"shortform", INCD_F_STRING, true, 0, MAX_NAME_CHARS, NULL},
};

static const struct incd_write_op create_op = {&create_stmt, fields, INCD_ARRAY_LEN(fields), NULL,
					       true};
static const struct incd_write_op update_op = {&update_stmt, fields, INCD_ARRAY_LEN(fields), NULL,
					       false};

bool incd_h_incident_roles_list(struct incd_ctx *ctx)
{
	return incd_h_respond_query(ctx, &list_stmt, NULL, 0);
}

bool incd_h_incident_roles_create(struct incd_ctx *ctx)
{
	return incd_h_write(ctx, &create_op);
}

bool incd_h_incident_roles_show(struct incd_ctx *ctx)
{
	return incd_h_respond_id(ctx, &show_stmt, 200);
}

bool incd_h_incident_roles_update(struct incd_ctx *ctx)
{
	return incd_h_write(ctx, &update_op);
}

bool incd_h_incident_roles_delete(struct incd_ctx *ctx)
{
	return incd_h_respond_id(ctx, &delete_stmt, 204);
}
