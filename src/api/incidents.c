/* Incidents V1: create, list, show.
 *
 * The worker checks the request's shape here (types, lengths, enums, NUL)
 * and hands PostgreSQL a normalised payload holding only the fields it
 * checked; everything that needs the database (ids, idempotency, numbering)
 * happens in one call to an api.* function, which answers the incidents as
 * frames that render.c fills in (docs/DESIGN.md, "Read path"). */
#include "incident_common.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "jsonv.h"

#define DEFAULT_PAGE_SIZE 25

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

static const struct incd_field_spec top_fields[] = {
    {"idempotency_key", INCD_F_STRING, true, 1, INCD_INC_MAX_KEY_CHARS, NULL},
    {"visibility", INCD_F_ENUM, true, 0, 0, visibilities},
    {"status", INCD_F_ENUM, false, 0, 0, statuses},
    {"mode", INCD_F_ENUM, false, 0, 0, modes},
    INCD_JV_OPTIONAL_STRING("name", INCD_INC_MAX_NAME_CHARS),
    INCD_JV_OPTIONAL_STRING("summary", INCD_INC_MAX_SUMMARY_CHARS),
    INCD_JV_OPTIONAL_STRING("severity_id", INCD_INC_MAX_ID_CHARS),
    INCD_JV_OPTIONAL_STRING("incident_type_id", INCD_INC_MAX_ID_CHARS),
    INCD_JV_OPTIONAL_STRING("slack_team_id", INCD_INC_MAX_SHORT_CHARS),
    INCD_JV_OPTIONAL_STRING("source_message_channel_id", INCD_INC_MAX_SHORT_CHARS),
    INCD_JV_OPTIONAL_STRING("source_message_timestamp", INCD_INC_MAX_SHORT_CHARS),
};

/* Checks a create payload and builds the normalised copy for SQL. */
static bool check_create(struct json_object *body, struct json_object *norm, struct incd_error *err)
{
	return incd_jv_fields(body, "", top_fields, INCD_ARRAY_LEN(top_fields), norm, err) &&
	       incd_inc_check_entries(body, "", "custom_field_entries", norm, err) &&
	       incd_inc_check_assignments(body, "", "incident_role_assignments", false, norm, err);
}

/* A create whose key is known is a replay, and its new payload is ignored
 * (CONTRACT "Create"). */
bool incd_h_incidents_create(struct incd_ctx *ctx)
{
	return incd_inc_create(ctx, &replay_stmt, &create_stmt, check_create);
}

bool incd_h_incidents_show(struct incd_ctx *ctx)
{
	const char *values[] = {ctx->who->organisation_id, ctx->param,
				incd_inc_can_see_private(ctx)};
	struct pg_result *res = NULL;
	if (!incd_db_exec(ctx->db, &show_stmt, values, NULL, NULL, &res, ctx->err))
		return false;
	/* No row: unknown, another organisation's, or private and not visible
	 * to this key: all look the same from outside. */
	bool ok = incd_db_ntuples(res) == 1 ? incd_inc_respond(ctx, res, 0)
					    : incd_fail(ctx->err, 404, "not_found", NULL,
							"No incident with this id was found");
	incd_db_clear(res);
	return ok;
}

struct list_query {
	long page_size;
	char after[INCD_INC_MAX_ID_CHARS + 1]; /* "" = first page */
	char statuses[128];		       /* "{a,b}" array literal, "" = no filter */
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
			if (!incd_parse_uint(value, INCD_INC_MAX_PAGE_SIZE, &q->page_size,
					     &overflow) ||
			    q->page_size < 1)
				return incd_fail(err, 422, "invalid_value", "page_size",
						 "page_size must be an integer of at least 1");
		} else if (strcmp(name, "after") == 0) {
			if (strlen(value) > INCD_INC_MAX_ID_CHARS)
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

bool incd_h_incidents_list(struct incd_ctx *ctx)
{
	struct list_query q;
	char page_size[24];
	struct pg_result *res = NULL;
	bool ok;

	if (!parse_list_query(ctx->req->query, &q, ctx->err))
		return false;
	snprintf(page_size, sizeof page_size, "%ld", q.page_size);
	const char *org = ctx->who->organisation_id, *priv = incd_inc_can_see_private(ctx);
	const char *after = q.after[0] ? q.after : NULL;
	if (q.statuses[0] != '\0') {
		const char *values[] = {org, priv, q.statuses, after, page_size};
		ok =
		    incd_db_exec(ctx->db, &page_by_status_stmt, values, NULL, NULL, &res, ctx->err);
	} else {
		const char *values[] = {org, priv, after, page_size};
		ok = incd_db_exec(ctx->db, &page_stmt, values, NULL, NULL, &res, ctx->err);
	}
	const struct incd_inc_page page = {"incidents", "an incident", 2, 3, 4, q.page_size};
	ok = ok && incd_inc_respond_page(ctx, res, &page);
	incd_db_clear(res);
	return ok;
}
