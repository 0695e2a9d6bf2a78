/* Incidents V1: create, list, show.
 *
 * The worker checks the request's shape here (types, lengths, enums, NUL)
 * and hands PostgreSQL a normalised payload holding only the fields it
 * checked; everything that needs the database (ids, idempotency, numbering)
 * happens in one call to an api.* function, which answers the incidents as
 * frames that render.c fills in (docs/DESIGN.md, "Read path"). */
#include "handlers.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "jsonv.h"
#include "render.h"
#include "ulid.h"

#define MAX_KEY_CHARS 256
#define MAX_ID_CHARS 64
#define MAX_SHORT_CHARS 256
#define MAX_NAME_CHARS 500
#define MAX_SUMMARY_CHARS 50000
#define MAX_TEXT_CHARS 10000
#define MAX_LINK_CHARS 2048
#define DEFAULT_PAGE_SIZE 25
#define MAX_PAGE_SIZE 250

/* The key travels on its own so that a replay is answered without
 * PostgreSQL parsing the payload (api.incident_create_by_key, sql/code/30_incidents.sql). */
static struct incd_stmt create_stmt = {
    "incident_create",
    "SELECT replayed, frame, config_version FROM api.incident_create_by_key($1, $2, $3, $4, $5)", 5,
    0};
static struct incd_stmt replay_stmt = {
    "incident_replay", "SELECT frame, config_version FROM api.incident_replay($1, $2)", 2, 0};
static struct incd_stmt show_stmt = {
    "incident_show", "SELECT frame, config_version FROM api.incident_show($1, $2, $3::boolean)", 3,
    0};
static struct incd_stmt page_stmt = {"incident_page",
				     "SELECT id, frame, total, config_version, after_ok "
				     "FROM api.incident_page($1, $2::boolean, $3, $4::int)",
				     4, 0};
static struct incd_stmt page_by_status_stmt = {
    "incident_page_by_status",
    "SELECT id, frame, total, config_version, after_ok "
    "FROM api.incident_page_by_status($1, $2::boolean, $3::text[], $4, $5::int)",
    5, 0};

static const char *const visibilities[] = {"public", "private", NULL};

static const char *const statuses[] = {"triage", "investigating", "fixing", "monitoring",
				       "closed", "declined",	  NULL};
static const char *const modes[] = {"real", "test", NULL};

/* Answers {"incident" : IncidentV1} from row 0 of res: the frame in column
 * col, the configuration version in col + 1. The spacing is
 * json_build_object's, which wrote these bodies before frames did. */
static bool respond_incident(struct incd_ctx *ctx, const struct pg_result *res, int col)
{
	const struct incd_frame frame = {incd_db_value(res, 0, col),
					 (size_t)incd_db_length(res, 0, col)};
	struct incd_buf *out = &ctx->resp->body;

	if (frame.text == NULL)
		return incd_fail(ctx->err, 500, "internal_error", NULL,
				 "An internal error occurred; it has been logged");
	incd_buf_adds(out, "{\"incident\" : ");
	if (!incd_render_frames(ctx->render, ctx->db, ctx->who->organisation_id,
				incd_db_ll(res, 0, col + 1, 0), &frame, 1, "", out, ctx->err))
		return false;
	incd_buf_add(out, "}", 1);
	return true;
}

static bool require_object(struct json_object *v, const char *path, struct incd_error *err)
{
	if (json_object_is_type(v, json_type_object))
		return true;
	return incd_fail(err, 422, "invalid_value", path, "%s must be an object", path);
}

#define OPTIONAL_STRING(key, max)                                                                  \
	{                                                                                          \
		key, INCD_F_STRING, false, 0, max, NULL                                            \
	}

static const struct incd_field_spec value_fields[] = {
    OPTIONAL_STRING("id", MAX_ID_CHARS),
    OPTIONAL_STRING("value_catalog_entry_id", MAX_ID_CHARS),
    OPTIONAL_STRING("value_link", MAX_LINK_CHARS),
    OPTIONAL_STRING("value_numeric", MAX_ID_CHARS),
    OPTIONAL_STRING("value_option_id", MAX_ID_CHARS),
    OPTIONAL_STRING("value_text", MAX_TEXT_CHARS),
    OPTIONAL_STRING("value_timestamp", MAX_ID_CHARS),
};

static bool check_entry(struct json_object *e, const char *path, struct json_object *out,
			struct incd_error *err)
{
	const char *field_id;
	struct json_object *values;
	char vpath[256], ipath[256];

	if (!require_object(e, path, err) ||
	    !incd_jv_string(e, path, "custom_field_id", true, 1, MAX_ID_CHARS, &field_id, err) ||
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
    OPTIONAL_STRING("id", MAX_ID_CHARS),
    OPTIONAL_STRING("email", MAX_SHORT_CHARS),
    OPTIONAL_STRING("slack_user_id", MAX_SHORT_CHARS),
};

static bool check_assignment(struct json_object *a, const char *path, struct json_object *out,
			     struct incd_error *err)
{
	const char *role_id;
	struct json_object *assignee;
	char apath[256];

	if (!require_object(a, path, err) ||
	    !incd_jv_string(a, path, "incident_role_id", true, 1, MAX_ID_CHARS, &role_id, err) ||
	    !incd_jv_object(a, path, "assignee", true, &assignee, err))
		return false;
	incd_jv_copy(out, a, "incident_role_id");
	struct json_object *norm = json_object_new_object();
	json_object_object_add(out, "assignee", norm);
	incd_jv_path(apath, sizeof apath, path, "assignee");
	return incd_jv_fields(assignee, apath, assignee_fields, INCD_ARRAY_LEN(assignee_fields),
			      norm, err);
}

typedef bool (*item_check_fn)(struct json_object *item, const char *path, struct json_object *out,
			      struct incd_error *err);

/* Checks an optional array of objects, copying each normalised item. */
static bool check_list(struct json_object *body, const char *key, item_check_fn check,
		       struct json_object *norm, struct incd_error *err)
{
	struct json_object *arr;
	char path[256];

	if (!incd_jv_array(body, "", key, false, &arr, err))
		return false;
	if (arr == NULL)
		return true;
	struct json_object *out = json_object_new_array();
	json_object_object_add(norm, key, out);
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		struct json_object *item = json_object_new_object();
		json_object_array_add(out, item);
		incd_jv_index(path, sizeof path, key, i);
		if (!check(json_object_array_get_idx(arr, i), path, item, err))
			return false;
	}
	return true;
}

static const struct incd_field_spec top_fields[] = {
    {"idempotency_key", INCD_F_STRING, true, 1, MAX_KEY_CHARS, NULL},
    {"visibility", INCD_F_ENUM, true, 0, 0, visibilities},
    {"status", INCD_F_ENUM, false, 0, 0, statuses},
    {"mode", INCD_F_ENUM, false, 0, 0, modes},
    OPTIONAL_STRING("name", MAX_NAME_CHARS),
    OPTIONAL_STRING("summary", MAX_SUMMARY_CHARS),
    OPTIONAL_STRING("severity_id", MAX_ID_CHARS),
    OPTIONAL_STRING("incident_type_id", MAX_ID_CHARS),
    OPTIONAL_STRING("slack_team_id", MAX_SHORT_CHARS),
    OPTIONAL_STRING("source_message_channel_id", MAX_SHORT_CHARS),
    OPTIONAL_STRING("source_message_timestamp", MAX_SHORT_CHARS),
};

/* Checks a create payload and builds the normalised copy for SQL. */
static bool check_create(struct json_object *body, struct json_object *norm, struct incd_error *err)
{
	return incd_jv_fields(body, "", top_fields, INCD_ARRAY_LEN(top_fields), norm, err) &&
	       check_list(body, "custom_field_entries", check_entry, norm, err) &&
	       check_list(body, "incident_role_assignments", check_assignment, norm, err);
}

/* A create whose key is known is a replay, and its new payload is ignored
 * (CONTRACT "Create"), so the key is looked up before the rest of the body
 * is parsed and checked: the benchmark measured that work at about a
 * quarter of the worker's CPU per replay. *replayed says whether the
 * response is written; false without an error means "not a replay", and
 * the full create follows (whose INSERT ... ON CONFLICT settles a key that
 * another request creates meanwhile). */
static bool try_replay(struct incd_ctx *ctx, bool *replayed)
{
	const char *raw;
	size_t len;
	char key[MAX_KEY_CHARS * 4 + 1];
	struct pg_result *res = NULL;

	*replayed = false;
	if (!incd_json_top_string(ctx->req->body, ctx->req->body_len, "idempotency_key", &raw,
				  &len) ||
	    len >= sizeof key)
		return true;
	size_t chars = incd_utf8_len(raw, len);
	if (chars < 1 || chars > MAX_KEY_CHARS)
		return true; /* the full check words the 422 */
	memcpy(key, raw, len);
	key[len] = '\0';
	const char *values[] = {ctx->who->organisation_id, key};
	if (!incd_db_exec(ctx->db, &replay_stmt, values, NULL, NULL, &res, ctx->err))
		return false;
	bool ok = true;
	if (incd_db_ntuples(res) > 0) {
		incd_response_header(ctx->resp, "Idempotent-Replayed", "true");
		ok = respond_incident(ctx, res, 0);
		*replayed = ok;
	}
	incd_db_clear(res);
	return ok;
}

bool incd_h_incidents_create(struct incd_ctx *ctx)
{
	struct json_object *body = NULL, *norm = NULL;
	struct pg_result *res = NULL;
	char id[INCD_ULID_LEN + 1];
	bool ok = false, answered;

	if (!try_replay(ctx, &answered) || answered) {
		ok = answered;
		goto done;
	}
	norm = json_object_new_object();
	body = incd_h_parse_object(ctx);
	if (body == NULL || !check_create(body, norm, ctx->err))
		goto done;

	incd_ulid_new(id);
	/* check_create copied the key, a checked string, into norm. */
	const char *values[] = {
	    ctx->who->organisation_id, ctx->who->api_key_id, id,
	    json_object_get_string(json_object_object_get(norm, "idempotency_key")),
	    incd_h_json_text(norm)};
	if (!incd_db_exec(ctx->db, &create_stmt, values, NULL, NULL, &res, ctx->err))
		goto done;
	const char *replayed = incd_db_value(res, 0, 0);
	if (replayed != NULL && replayed[0] == 't')
		incd_response_header(ctx->resp, "Idempotent-Replayed", "true");
	ok = respond_incident(ctx, res, 1);
done:
	incd_db_clear(res);
	json_object_put(norm);
	json_object_put(body);
	return ok;
}

static const char *can_see_private(const struct incd_ctx *ctx)
{
	return ctx->who->scopes & INCD_SCOPE_PRIVATE ? "true" : "false";
}

bool incd_h_incidents_show(struct incd_ctx *ctx)
{
	const char *values[] = {ctx->who->organisation_id, ctx->param, can_see_private(ctx)};
	struct pg_result *res = NULL;
	if (!incd_db_exec(ctx->db, &show_stmt, values, NULL, NULL, &res, ctx->err))
		return false;
	/* No row: unknown, another organisation's, or private and not visible
	 * to this key: all look the same from outside. */
	bool ok = incd_db_ntuples(res) == 1 ? respond_incident(ctx, res, 0)
					    : incd_fail(ctx->err, 404, "not_found", NULL,
							"No incident with this id was found");
	incd_db_clear(res);
	return ok;
}

struct list_query {
	long page_size;
	char after[MAX_ID_CHARS + 1]; /* "" = first page */
	char statuses[128];	      /* "{a,b}" array literal, "" = no filter */
};

static bool is_status(const char *s)
{
	for (const char *const *p = statuses; *p; p++)
		if (strcmp(*p, s) == 0)
			return true;
	return false;
}

static bool parse_list_query(const char *query, struct list_query *q, struct incd_error *err)
{
	char name[64], value[256];
	bool bad, overflow;
	size_t used = 0;

	q->page_size = DEFAULT_PAGE_SIZE;
	q->after[0] = q->statuses[0] = '\0';
	while (incd_query_next(&query, name, sizeof name, value, sizeof value, &bad)) {
		if (bad)
			return incd_fail(err, 422, "invalid_value", name,
					 "query parameter %s is not correctly encoded", name);
		if (strcmp(name, "page_size") == 0) {
			if (!incd_parse_uint(value, MAX_PAGE_SIZE, &q->page_size, &overflow) ||
			    q->page_size < 1)
				return incd_fail(err, 422, "invalid_value", "page_size",
						 "page_size must be an integer of at least 1");
		} else if (strcmp(name, "after") == 0) {
			if (strlen(value) > MAX_ID_CHARS)
				return incd_fail(err, 422, "invalid_value", "after",
						 "after must be the id of an incident");
			memcpy(q->after, value, strlen(value) + 1);
		} else if (strcmp(name, "status") == 0) {
			if (!is_status(value))
				return incd_fail(err, 422, "invalid_value", "status",
						 "status must be one of: triage, investigating, "
						 "fixing, monitoring, closed, declined");
			/* Enum values only, so the array literal needs no quoting;
			 * 6 statuses of ≤13 chars always fit, repeats included. */
			if (strstr(q->statuses, value) == NULL) {
				int w = snprintf(q->statuses + used, sizeof q->statuses - used,
						 "%s%s", used ? "," : "{", value);
				if (w > 0)
					used += (size_t)w;
			}
		}
	}
	if (used > 0)
		snprintf(q->statuses + used, sizeof q->statuses - used, "}");
	return true;
}

/* The page's body from api.incident_page's rows: up to page_size + 1
 * incidents, each row with the meta columns (total, configuration version,
 * after_ok); an empty page is one row without an incident. The spacing
 * outside the incidents is json_build_object's, as before frames. */
static bool respond_page(struct incd_ctx *ctx, const struct pg_result *res, long page_size)
{
	struct incd_frame frames[MAX_PAGE_SIZE];
	struct incd_buf *out = &ctx->resp->body;
	int rows = incd_db_ntuples(res);
	const char *after_ok = rows > 0 ? incd_db_value(res, 0, 4) : NULL;
	size_t n = rows > 0 && incd_db_value(res, 0, 0) != NULL ? (size_t)rows : 0;
	bool more = n > (size_t)page_size;

	if (after_ok == NULL)
		return incd_fail(ctx->err, 500, "internal_error", NULL,
				 "An internal error occurred; it has been logged");
	if (after_ok[0] != 't')
		return incd_fail(ctx->err, 422, "invalid_value", "after",
				 "after must be the id of an incident from the previous page");
	if (more)
		n = (size_t)page_size;
	for (size_t i = 0; i < n; i++) {
		frames[i].text = incd_db_value(res, (int)i, 1);
		frames[i].len = (size_t)incd_db_length(res, (int)i, 1);
		if (frames[i].text == NULL)
			return incd_fail(ctx->err, 500, "internal_error", NULL,
					 "An internal error occurred; it has been logged");
	}
	incd_buf_adds(out, "{\"incidents\" : [");
	if (!incd_render_frames(ctx->render, ctx->db, ctx->who->organisation_id,
				incd_db_ll(res, 0, 3, 0), frames, n, ", ", out, ctx->err))
		return false;
	incd_buf_addf(out,
		      "], \"pagination_meta\" : {\"page_size\":%ld,\"total_record_count\":%lld",
		      page_size, incd_db_ll(res, 0, 2, 0));
	if (more)
		incd_buf_addf(out, ",\"after\":\"%s\"", incd_db_value(res, (int)n - 1, 0));
	incd_buf_adds(out, "}}");
	return true;
}

bool incd_h_incidents_list(struct incd_ctx *ctx)
{
	struct list_query q;
	char page_size[24];
	struct pg_result *res = NULL;
	bool ok;

	if (!parse_list_query(ctx->req->query, &q, ctx->err))
		return false;
	snprintf(page_size, sizeof page_size, "%ld", q.page_size);
	const char *org = ctx->who->organisation_id, *priv = can_see_private(ctx);
	const char *after = q.after[0] ? q.after : NULL;
	if (q.statuses[0] != '\0') {
		const char *values[] = {org, priv, q.statuses, after, page_size};
		ok =
		    incd_db_exec(ctx->db, &page_by_status_stmt, values, NULL, NULL, &res, ctx->err);
	} else {
		const char *values[] = {org, priv, after, page_size};
		ok = incd_db_exec(ctx->db, &page_stmt, values, NULL, NULL, &res, ctx->err);
	}
	ok = ok && respond_page(ctx, res, q.page_size);
	incd_db_clear(res);
	return ok;
}
