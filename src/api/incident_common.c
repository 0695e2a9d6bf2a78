/* Shared by the Incidents V1 and V2 handlers (incident_common.h). */
#include "incident_common.h"

#include <stdio.h>
#include <string.h>

#include "jsonv.h"
#include "render.h"
#include "ulid.h"

#define MAX_TEXT_CHARS 10000

static bool internal_error(struct incd_error *err)
{
	return incd_fail(err, 500, "internal_error", NULL,
			 "An internal error occurred; it has been logged");
}

static bool require_object(struct json_object *v, const char *path, struct incd_error *err)
{
	if (json_object_is_type(v, json_type_object))
		return true;
	return incd_fail(err, 422, "invalid_value", path, "%s must be an object", path);
}

static const struct incd_field_spec value_fields[] = {
    INCD_JV_OPTIONAL_STRING("id", INCD_INC_MAX_ID_CHARS),
    INCD_JV_OPTIONAL_STRING("value_catalog_entry_id", INCD_INC_MAX_ID_CHARS),
    INCD_JV_OPTIONAL_STRING("value_link", INCD_INC_MAX_LINK_CHARS),
    INCD_JV_OPTIONAL_STRING("value_numeric", INCD_INC_MAX_ID_CHARS),
    INCD_JV_OPTIONAL_STRING("value_option_id", INCD_INC_MAX_ID_CHARS),
    INCD_JV_OPTIONAL_STRING("value_text", MAX_TEXT_CHARS),
    INCD_JV_OPTIONAL_STRING("value_timestamp", INCD_INC_MAX_ID_CHARS),
};

typedef bool (*item_check_fn)(struct json_object *item, const char *path, bool optional,
			      struct json_object *out, struct incd_error *err);

static bool check_entry(struct json_object *e, const char *path, bool optional,
			struct json_object *out, struct incd_error *err)
{
	const char *field_id;
	struct json_object *values;
	char vpath[256], ipath[256];

	(void)optional;
	if (!require_object(e, path, err) ||
	    !incd_jv_string(e, path, "custom_field_id", true, 1, INCD_INC_MAX_ID_CHARS, &field_id,
			    err) ||
	    !incd_jv_array(e, path, "values", true, &values, err))
		return false;
	incd_jv_copy(out, e, "custom_field_id");
	struct json_object *norm_values = json_object_new_array();
	json_object_object_add(out, "values", norm_values);

	incd_jv_path(vpath, sizeof vpath, path, "values");
	for (size_t j = 0; j < json_object_array_length(values); j++) {
		struct json_object *v = json_object_array_get_idx(values, j);
		incd_jv_index(ipath, sizeof ipath, vpath, j);
		if (!require_object(v, ipath, err))
			return false;
		struct json_object *norm = json_object_new_object();
		json_object_array_add(norm_values, norm);
		if (!incd_jv_fields(v, ipath, value_fields, INCD_ARRAY_LEN(value_fields), norm,
				    err))
			return false;
	}
	return true;
}

static const struct incd_field_spec assignee_fields[] = {
    INCD_JV_OPTIONAL_STRING("id", INCD_INC_MAX_ID_CHARS),
    INCD_JV_OPTIONAL_STRING("email", INCD_INC_MAX_SHORT_CHARS),
    INCD_JV_OPTIONAL_STRING("slack_user_id", INCD_INC_MAX_SHORT_CHARS),
};

static bool check_assignment(struct json_object *a, const char *path, bool assignee_optional,
			     struct json_object *out, struct incd_error *err)
{
	const char *role_id;
	struct json_object *assignee;
	char apath[256];

	if (!require_object(a, path, err) ||
	    !incd_jv_string(a, path, "incident_role_id", true, 1, INCD_INC_MAX_ID_CHARS, &role_id,
			    err) ||
	    !incd_jv_object(a, path, "assignee", !assignee_optional, &assignee, err))
		return false;
	incd_jv_copy(out, a, "incident_role_id");
	if (assignee == NULL)
		return true;
	struct json_object *norm = json_object_new_object();
	json_object_object_add(out, "assignee", norm);
	incd_jv_path(apath, sizeof apath, path, "assignee");
	return incd_jv_fields(assignee, apath, assignee_fields, INCD_ARRAY_LEN(assignee_fields),
			      norm, err);
}

static const struct incd_field_spec timestamp_value_fields[] = {
    {"incident_timestamp_id", INCD_F_STRING, true, 1, INCD_INC_MAX_ID_CHARS, NULL},
    INCD_JV_OPTIONAL_STRING("value", INCD_INC_MAX_ID_CHARS),
};

static bool check_timestamp_value(struct json_object *t, const char *path, bool optional,
				  struct json_object *out, struct incd_error *err)
{
	(void)optional;
	return require_object(t, path, err) &&
	       incd_jv_fields(t, path, timestamp_value_fields,
			      INCD_ARRAY_LEN(timestamp_value_fields), out, err);
}

/* Checks an optional array of objects, copying each normalised item. */
static bool check_list(struct json_object *body, const char *prefix, const char *key,
		       item_check_fn check, bool optional, struct json_object *norm,
		       struct incd_error *err)
{
	struct json_object *arr;
	char lpath[256], path[256];

	if (!incd_jv_array(body, prefix, key, false, &arr, err))
		return false;
	if (arr == NULL)
		return true;
	struct json_object *out = json_object_new_array();
	json_object_object_add(norm, key, out);
	incd_jv_path(lpath, sizeof lpath, prefix, key);
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		struct json_object *item = json_object_new_object();
		json_object_array_add(out, item);
		incd_jv_index(path, sizeof path, lpath, i);
		if (!check(json_object_array_get_idx(arr, i), path, optional, item, err))
			return false;
	}
	return true;
}

bool incd_inc_check_entries(struct json_object *body, const char *prefix, const char *key,
			    struct json_object *norm, struct incd_error *err)
{
	return check_list(body, prefix, key, check_entry, false, norm, err);
}

bool incd_inc_check_assignments(struct json_object *body, const char *prefix, const char *key,
				bool assignee_optional, struct json_object *norm,
				struct incd_error *err)
{
	return check_list(body, prefix, key, check_assignment, assignee_optional, norm, err);
}

bool incd_inc_check_timestamp_values(struct json_object *body, const char *prefix, const char *key,
				     struct json_object *norm, struct incd_error *err)
{
	return check_list(body, prefix, key, check_timestamp_value, false, norm, err);
}

const char *incd_inc_can_see_private(const struct incd_ctx *ctx)
{
	return ctx->who->scopes & INCD_SCOPE_PRIVATE ? "true" : "false";
}

/* The spacing is json_build_object's, which wrote these bodies before
 * frames did. */
bool incd_inc_respond(struct incd_ctx *ctx, const struct pg_result *res, int col)
{
	const struct incd_frame frame = {incd_db_value(res, 0, col),
					 (size_t)incd_db_length(res, 0, col)};
	struct incd_buf *out = &ctx->resp->body;

	if (frame.text == NULL)
		return internal_error(ctx->err);
	incd_buf_adds(out, "{\"incident\" : ");
	if (!incd_render_frames(ctx->render, ctx->db, ctx->who->organisation_id,
				incd_db_ll(res, 0, col + 1, 0), &frame, 1, "", out, ctx->err))
		return false;
	incd_buf_add(out, "}", 1);
	return true;
}

/* The benchmark measured parsing and checking a replay's body at about a
 * quarter of the worker's CPU per replay, so the key is looked up first.
 * false without an error means "not a replay", and the full create follows
 * (whose INSERT ... ON CONFLICT settles a key that another request creates
 * meanwhile). */
static bool try_replay(struct incd_ctx *ctx, struct incd_stmt *stmt, bool *replayed)
{
	const char *raw;
	size_t len;
	char key[INCD_INC_MAX_KEY_CHARS * 4 + 1];
	struct pg_result *res = NULL;

	*replayed = false;
	if (!incd_json_top_string(ctx->req->body, ctx->req->body_len, "idempotency_key", &raw,
				  &len) ||
	    len >= sizeof key)
		return true;
	size_t chars = incd_utf8_len(raw, len);
	if (chars < 1 || chars > INCD_INC_MAX_KEY_CHARS)
		return true; /* the full check words the 422 */
	memcpy(key, raw, len);
	key[len] = '\0';
	const char *values[] = {ctx->who->organisation_id, key};
	if (!incd_db_exec(ctx->db, stmt, values, NULL, NULL, &res, ctx->err))
		return false;
	bool ok = true;
	if (incd_db_ntuples(res) > 0) {
		incd_response_header(ctx->resp, "Idempotent-Replayed", "true");
		ctx->resp->replayed = true;
		ok = incd_inc_respond(ctx, res, 0);
		*replayed = ok;
	}
	incd_db_clear(res);
	return ok;
}

static bool write_incident(struct incd_ctx *ctx, struct incd_stmt *stmt, struct json_object *norm)
{
	struct pg_result *res = NULL;
	char id[INCD_ULID_LEN + 1];

	incd_ulid_new(id);
	/* The shape check copied the key, a checked string, into norm. */
	const char *values[] = {
	    ctx->who->organisation_id, ctx->who->api_key_id, id,
	    json_object_get_string(json_object_object_get(norm, "idempotency_key")),
	    incd_h_json_text(norm)};
	if (!incd_db_exec(ctx->db, stmt, values, NULL, NULL, &res, ctx->err))
		return false;
	const char *replayed = incd_db_value(res, 0, 0);
	if (replayed != NULL && replayed[0] == 't') {
		incd_response_header(ctx->resp, "Idempotent-Replayed", "true");
		ctx->resp->replayed = true;
	}
	bool ok = incd_inc_respond(ctx, res, 1);
	incd_db_clear(res);
	return ok;
}

bool incd_inc_create(struct incd_ctx *ctx, struct incd_stmt *replay, struct incd_stmt *create,
		     incd_inc_check_fn check)
{
	struct json_object *body = NULL, *norm = NULL;
	bool ok = false, answered;

	if (!try_replay(ctx, replay, &answered) || answered) {
		ok = answered;
		goto done;
	}
	norm = json_object_new_object();
	body = incd_h_parse_object(ctx);
	if (body == NULL || !check(body, norm, ctx->err))
		goto done;
	ok = write_incident(ctx, create, norm);
done:
	json_object_put(norm);
	json_object_put(body);
	return ok;
}

/* The spacing outside the items is json_build_object's, as before frames. */
bool incd_inc_respond_page(struct incd_ctx *ctx, const struct pg_result *res,
			   const struct incd_inc_page *page)
{
	struct incd_frame frames[INCD_INC_MAX_PAGE_SIZE];
	struct incd_buf *out = &ctx->resp->body;
	int rows = incd_db_ntuples(res);
	const char *after_ok = rows > 0 ? incd_db_value(res, 0, page->col_after_ok) : NULL;
	size_t n = rows > 0 && incd_db_value(res, 0, 0) != NULL ? (size_t)rows : 0;
	bool more = n > (size_t)page->page_size;

	if (after_ok == NULL || page->page_size > INCD_INC_MAX_PAGE_SIZE)
		return internal_error(ctx->err);
	if (after_ok[0] != 't')
		return incd_fail(ctx->err, 422, "invalid_value", "after",
				 "after must be the id of %s from the previous page", page->item);
	if (more)
		n = (size_t)page->page_size;
	for (size_t i = 0; i < n; i++) {
		frames[i].text = incd_db_value(res, (int)i, 1);
		frames[i].len = (size_t)incd_db_length(res, (int)i, 1);
		if (frames[i].text == NULL)
			return internal_error(ctx->err);
	}
	incd_buf_addf(out, "{\"%s\" : [", page->key);
	if (!incd_render_frames(ctx->render, ctx->db, ctx->who->organisation_id,
				incd_db_ll(res, 0, page->col_version, 0), frames, n, ", ", out,
				ctx->err))
		return false;
	incd_buf_addf(out, "], \"pagination_meta\" : {\"page_size\":%ld", page->page_size);
	if (page->col_total >= 0)
		incd_buf_addf(out, ",\"total_record_count\":%lld",
			      incd_db_ll(res, 0, page->col_total, 0));
	if (more)
		incd_buf_addf(out, ",\"after\":\"%s\"", incd_db_value(res, (int)n - 1, 0));
	incd_buf_adds(out, "}}");
	return true;
}
