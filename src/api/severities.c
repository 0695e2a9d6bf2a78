/* Severities V1: list, create, show, update, delete (docs/CONFIG.md). */
#include "handlers.h"

#include <stdint.h>

#include "jsonv.h"

static struct incd_stmt list_stmt = {"severity_list", "SELECT api.severity_list($1)", 1, 0};
static struct incd_stmt show_stmt = {"severity_show", "SELECT api.severity_show($1, $2)", 2, 0};
static struct incd_stmt create_stmt = {"severity_create",
				       "SELECT api.severity_create($1, $2, $3::jsonb)", 3, 0};
static struct incd_stmt update_stmt = {"severity_update",
				       "SELECT api.severity_update($1, $2, $3::jsonb)", 3, 0};
static struct incd_stmt delete_stmt = {"severity_delete", "SELECT api.severity_delete($1, $2)", 2,
				       0};

/* SeveritiesCreatePayloadV1 and SeveritiesUpdatePayloadV1 are the same. */
static const struct incd_field_spec fields[] = {
    {"name", INCD_F_STRING, true, 1, 50, NULL},
    {"description", INCD_F_STRING, true, 0, INCD_H_MAX_DESCRIPTION_CHARS, NULL},
    {"rank", INCD_F_INT, false, INCD_H_INT64_MIN, INCD_H_INT64_MAX, NULL},
};

static const struct incd_write_op create_op = {&create_stmt, fields, INCD_ARRAY_LEN(fields), NULL,
					       true};
static const struct incd_write_op update_op = {&update_stmt, fields, INCD_ARRAY_LEN(fields), NULL,
					       false};

bool incd_h_severities_list(struct incd_ctx *ctx)
{
	return incd_h_respond_query(ctx, &list_stmt, NULL, 0);
}

bool incd_h_severities_create(struct incd_ctx *ctx)
{
	return incd_h_write(ctx, &create_op);
}

bool incd_h_severities_show(struct incd_ctx *ctx)
{
	return incd_h_respond_id(ctx, &show_stmt, 200);
}

bool incd_h_severities_update(struct incd_ctx *ctx)
{
	return incd_h_write(ctx, &update_op);
}

bool incd_h_severities_delete(struct incd_ctx *ctx)
{
	return incd_h_respond_id(ctx, &delete_stmt, 202);
}
