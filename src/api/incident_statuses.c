/* Incident statuses V1: list, create, show, update, delete (docs/CONFIG.md).
 * category is set at creation only (the update payload has none); the rank
 * and the rules of delete are the SQL's (sql/code/46_incident_statuses.sql). */
#include "handlers.h"

#include "jsonv.h"

#define MAX_NAME_CHARS 50

static struct incd_stmt list_stmt = {"incident_status_list", "SELECT api.incident_status_list($1)",
				     1, 0};
static struct incd_stmt show_stmt = {"incident_status_show",
				     "SELECT api.incident_status_show($1, $2)", 2, 0};
static struct incd_stmt create_stmt = {
    "incident_status_create", "SELECT api.incident_status_create($1, $2, $3::jsonb)", 3, 0};
static struct incd_stmt update_stmt = {
    "incident_status_update", "SELECT api.incident_status_update($1, $2, $3::jsonb)", 3, 0};
static struct incd_stmt delete_stmt = {"incident_status_delete",
				       "SELECT api.incident_status_delete($1, $2)", 2, 0};

/* The categories a created status may have (IncidentStatusesCreatePayloadV1):
 * triage and declined are the seeded statuses' only. */
static const char *const categories[] = {"live", "learning", "closed", NULL};

/* IncidentStatusesCreatePayloadV1. */
static const struct incd_field_spec create_fields[] = {
    {"name", INCD_F_STRING, true, 1, MAX_NAME_CHARS, NULL},
    {"description", INCD_F_STRING, true, 0, INCD_H_MAX_DESCRIPTION_CHARS, NULL},
    {"category", INCD_F_ENUM, true, 0, 0, categories},
};

/* IncidentStatusesUpdatePayloadV1: create_fields without category. */
#define UPDATE_FIELDS (INCD_ARRAY_LEN(create_fields) - 1)

static const struct incd_write_op create_op = {&create_stmt, create_fields,
					       INCD_ARRAY_LEN(create_fields), NULL, true};
static const struct incd_write_op update_op = {&update_stmt, create_fields, UPDATE_FIELDS, NULL,
					       false};

bool incd_h_incident_statuses_list(struct incd_ctx *ctx)
{
	return incd_h_respond_query(ctx, &list_stmt, NULL, 0);
}

bool incd_h_incident_statuses_create(struct incd_ctx *ctx)
{
	return incd_h_write(ctx, &create_op);
}

bool incd_h_incident_statuses_show(struct incd_ctx *ctx)
{
	return incd_h_respond_id(ctx, &show_stmt, 200);
}

bool incd_h_incident_statuses_update(struct incd_ctx *ctx)
{
	return incd_h_write(ctx, &update_op);
}

bool incd_h_incident_statuses_delete(struct incd_ctx *ctx)
{
	return incd_h_respond_id(ctx, &delete_stmt, 202);
}
