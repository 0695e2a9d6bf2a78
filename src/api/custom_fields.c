/* Custom fields V2: list, create, show, update, delete (docs/CONFIG.md).
 * field_type is set at creation only: the update payload has none. */
#include "handlers.h"

#include "jsonv.h"

#define MAX_NAME_CHARS 50

static struct incd_stmt list_stmt = {"custom_field_list", "SELECT api.custom_field_list($1)", 1, 0};
static struct incd_stmt show_stmt = {"custom_field_show", "SELECT api.custom_field_show($1, $2)", 2,
				     0};
static struct incd_stmt create_stmt = {"custom_field_create",
				       "SELECT api.custom_field_create($1, $2, $3::jsonb)", 3, 0};
static struct incd_stmt update_stmt = {"custom_field_update",
				       "SELECT api.custom_field_update($1, $2, $3::jsonb)", 3, 0};
static struct incd_stmt delete_stmt = {"custom_field_delete",
				       "SELECT api.custom_field_delete($1, $2)", 2, 0};

static const char *const field_types[] = {"single_select", "multi_select", "text",
					  "link",	   "numeric",	   NULL};

/* CustomFieldsCreatePayloadV2; the catalog attributes are ignored. */
static const struct incd_field_spec create_fields[] = {
    {"name", INCD_F_STRING, true, 1, MAX_NAME_CHARS, NULL},
    {"description", INCD_F_STRING, true, 0, INCD_H_MAX_DESCRIPTION_CHARS, NULL},
    {"field_type", INCD_F_ENUM, true, 0, 0, field_types},
};

/* CustomFieldsUpdatePayloadV2: create_fields without field_type. */
#define UPDATE_FIELDS (INCD_ARRAY_LEN(create_fields) - 1)

static const struct incd_write_op create_op = {&create_stmt, create_fields,
					       INCD_ARRAY_LEN(create_fields), NULL, true};
static const struct incd_write_op update_op = {&update_stmt, create_fields, UPDATE_FIELDS, NULL,
					       false};

bool incd_h_custom_fields_list(struct incd_ctx *ctx)
{
	return incd_h_respond_query(ctx, &list_stmt, NULL, 0);
}

bool incd_h_custom_fields_create(struct incd_ctx *ctx)
{
	return incd_h_write(ctx, &create_op);
}

bool incd_h_custom_fields_show(struct incd_ctx *ctx)
{
	return incd_h_respond_id(ctx, &show_stmt, 200);
}

bool incd_h_custom_fields_update(struct incd_ctx *ctx)
{
	return incd_h_write(ctx, &update_op);
}

bool incd_h_custom_fields_delete(struct incd_ctx *ctx)
{
	return incd_h_respond_id(ctx, &delete_stmt, 204);
}
