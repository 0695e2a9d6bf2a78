/* Custom field options V1: list (one field's options, paginated), create,
 * show, update, delete (docs/CONFIG.md). */
#include "handlers.h"

#include <stdint.h>
#include <string.h>

#include "jsonv.h"

#define MAX_VALUE_CHARS 255
#define MAX_PAGE_SIZE 250

static struct incd_stmt list_stmt = {
    "custom_field_option_list", "SELECT api.custom_field_option_list($1, $2, $3, $4::int)", 4, 0};
static struct incd_stmt show_stmt = {"custom_field_option_show",
				     "SELECT api.custom_field_option_show($1, $2)", 2, 0};
static struct incd_stmt create_stmt = {
    "custom_field_option_create", "SELECT api.custom_field_option_create($1, $2, $3::jsonb)", 3, 0};
static struct incd_stmt update_stmt = {
    "custom_field_option_update", "SELECT api.custom_field_option_update($1, $2, $3::jsonb)", 3, 0};
static struct incd_stmt delete_stmt = {"custom_field_option_delete",
				       "SELECT api.custom_field_option_delete($1, $2)", 2, 0};

/* In the order of api.custom_field_option_list's parameters. */
static const struct incd_query_spec list_params[] = {
    {"custom_field_id", INCD_Q_ID, true, 0},
    {"after", INCD_Q_ID, false, 0},
    {"page_size", INCD_Q_PAGE_SIZE, false, MAX_PAGE_SIZE},
};

static const struct incd_field_spec create_fields[] = {
    {"custom_field_id", INCD_F_STRING, true, 1, INCD_H_MAX_ID_CHARS, NULL},
    {"value", INCD_F_STRING, true, 1, MAX_VALUE_CHARS, NULL},
    {"sort_key", INCD_F_INT, false, INCD_H_INT64_MIN, INCD_H_INT64_MAX, NULL},
};

static const struct incd_field_spec update_fields[] = {
    {"value", INCD_F_STRING, true, 1, MAX_VALUE_CHARS, NULL},
    {"sort_key", INCD_F_INT, true, INCD_H_INT64_MIN, INCD_H_INT64_MAX, NULL},
};

/* Unicode White_Space: what Go's unicode.IsSpace (and so incident.io's
 * own trimming) counts as whitespace. */
static bool is_space(uint32_t c)
{
	return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
	       (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
	       c == 0x205F || c == 0x3000;
}

/* The code point of the well-formed UTF-8 sequence at p. */
static uint32_t code_point(const unsigned char *p)
{
	if (p[0] < 0x80)
		return p[0];
	int more = p[0] >= 0xF0 ? 3 : p[0] >= 0xE0 ? 2 : 1;
	uint32_t c = p[0] & (0x3Fu >> more);
	for (int i = 1; i <= more; i++)
		c = (c << 6) | (p[i] & 0x3Fu);
	return c;
}

/* The spec: values must not start or end with whitespace, or contain tabs
 * or newlines. The field specs made value a non-empty string (valid UTF-8,
 * as the whole body is). */
static bool check_value(struct json_object *payload, struct incd_error *err)
{
	struct json_object *v;
	if (!json_object_object_get_ex(payload, "value", &v))
		return true;
	const unsigned char *s = (const unsigned char *)json_object_get_string(v);
	const unsigned char *last = s + strlen((const char *)s) - 1;
	while (last > s && (*last & 0xC0) == 0x80)
		last--;
	if (strpbrk((const char *)s, "\t\n\r") == NULL && !is_space(code_point(s)) &&
	    !is_space(code_point(last)))
		return true;
	return incd_fail(err, 422, "invalid_value", "value",
			 "value must not start or end with whitespace, or contain tabs or "
			 "newlines");
}

static const struct incd_write_op create_op = {&create_stmt, create_fields,
					       INCD_ARRAY_LEN(create_fields), check_value, true};
static const struct incd_write_op update_op = {&update_stmt, update_fields,
					       INCD_ARRAY_LEN(update_fields), check_value, false};

bool incd_h_custom_field_options_list(struct incd_ctx *ctx)
{
	return incd_h_respond_query(ctx, &list_stmt, list_params, INCD_ARRAY_LEN(list_params));
}

bool incd_h_custom_field_options_create(struct incd_ctx *ctx)
{
	return incd_h_write(ctx, &create_op);
}

bool incd_h_custom_field_options_show(struct incd_ctx *ctx)
{
	return incd_h_respond_id(ctx, &show_stmt, 200);
}

bool incd_h_custom_field_options_update(struct incd_ctx *ctx)
{
	return incd_h_write(ctx, &update_op);
}

bool incd_h_custom_field_options_delete(struct incd_ctx *ctx)
{
	return incd_h_respond_id(ctx, &delete_stmt, 204);
}
