/* Incidents V2: create, show, edit and list (docs/LIFECYCLE.md).
 *
 * The same store as V1: the create is V1's writer with p_v2 (V2's payload,
 * and the V2 frame in the answer), and every read answers V2 frames that
 * render.c fills in as it fills V1's. */
#include "incident_common.h"

#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "jsonv.h"
#include "ulid.h"

#define MAX_CHANNEL_NAME_CHARS 80

static struct incd_stmt create_stmt = {"incident_create_v2",
				       "SELECT replayed, frame, config_version "
				       "FROM api.incident_create_by_key($1, $2, $3, $4, $5, true)",
				       5, 0};
static struct incd_stmt replay_stmt = {
    "incident_replay_v2", "SELECT frame, config_version FROM api.incident_replay($1, $2, true)", 2,
    0};
static struct incd_stmt show_stmt = {
    "incident_show_v2",
    "SELECT frame, config_version FROM api.incident_show_v2($1, $2, $3::bigint, $4::boolean)", 4,
    0};
static struct incd_stmt edit_stmt = {
    "incident_edit",
    "SELECT frame, config_version "
    "FROM api.incident_edit($1, $2, $3::boolean, $4, $5::bigint, $6, $7::jsonb)",
    7, 0};

static const char *const visibilities[] = {"public", "private", NULL};
static const char *const modes[] = {"standard", "retrospective", "test", "tutorial", NULL};

static const struct incd_field_spec create_fields[] = {
    {"idempotency_key", INCD_F_STRING, true, 1, INCD_INC_MAX_KEY_CHARS, NULL},
    {"visibility", INCD_F_ENUM, true, 0, 0, visibilities},
    {"mode", INCD_F_ENUM, false, 0, 0, modes},
    INCD_JV_OPTIONAL_STRING("incident_status_id", INCD_INC_MAX_ID_CHARS),
    INCD_JV_OPTIONAL_STRING("name", INCD_INC_MAX_NAME_CHARS),
    INCD_JV_OPTIONAL_STRING("summary", INCD_INC_MAX_SUMMARY_CHARS),
    INCD_JV_OPTIONAL_STRING("severity_id", INCD_INC_MAX_ID_CHARS),
    INCD_JV_OPTIONAL_STRING("incident_type_id", INCD_INC_MAX_ID_CHARS),
    INCD_JV_OPTIONAL_STRING("slack_team_id", INCD_INC_MAX_SHORT_CHARS),
    INCD_JV_OPTIONAL_STRING("slack_channel_name_override", MAX_CHANNEL_NAME_CHARS),
};

static const struct incd_field_spec retrospective_fields[] = {
    {"external_id", INCD_F_INT, false, INCD_H_INT64_MIN, INCD_H_INT64_MAX, NULL},
    INCD_JV_OPTIONAL_STRING("postmortem_document_url", INCD_INC_MAX_LINK_CHARS),
    INCD_JV_OPTIONAL_STRING("slack_channel_id", INCD_INC_MAX_SHORT_CHARS),
};

/* Checks the lists both payloads have (prefix "" or "incident"). */
static bool check_lists(struct json_object *body, const char *prefix, bool assignee_optional,
			struct json_object *norm, struct incd_error *err)
{
	return incd_inc_check_entries(body, prefix, "custom_field_entries", norm, err) &&
	       incd_inc_check_assignments(body, prefix, "incident_role_assignments",
					  assignee_optional, norm, err) &&
	       incd_inc_check_timestamp_values(body, prefix, "incident_timestamp_values", norm,
					       err);
}

static bool check_create(struct json_object *body, struct json_object *norm, struct incd_error *err)
{
	struct json_object *retro;

	if (!incd_jv_fields(body, "", create_fields, INCD_ARRAY_LEN(create_fields), norm, err) ||
	    !check_lists(body, "", false, norm, err) ||
	    !incd_jv_object(body, "", "retrospective_incident_options", false, &retro, err))
		return false;
	if (retro == NULL)
		return true;
	struct json_object *out = json_object_new_object();
	json_object_object_add(norm, "retrospective_incident_options", out);
	return incd_jv_fields(retro, "retrospective_incident_options", retrospective_fields,
			      INCD_ARRAY_LEN(retrospective_fields), out, err);
}

bool incd_h_incidents_v2_create(struct incd_ctx *ctx)
{
	return incd_inc_create(ctx, &replay_stmt, &create_stmt, check_create);
}

/* The route's {id}: an incident's ULID, or the number of its reference
 * (INC-123 is 123). Sets exactly one of *id and *number (to NULL the
 * other); false when it can be neither, which names no incident. */
static bool incident_param(const char *param, const char **id, const char **number)
{
	size_t digits = strspn(param, "0123456789");

	*id = *number = NULL;
	if (digits > 0 && param[digits] == '\0') {
		/* 18 digits always fit a bigint */
		if (digits > 18 || param[0] == '0')
			return false;
		*number = param;
		return true;
	}
	if (!incd_h_may_be_id(param))
		return false;
	*id = param;
	return true;
}

static bool no_such_incident(struct incd_ctx *ctx)
{
	return incd_fail(ctx->err, 404, "not_found", NULL, "No incident with this id was found");
}

bool incd_h_incidents_v2_show(struct incd_ctx *ctx)
{
	const char *id, *number;
	struct pg_result *res = NULL;

	if (!incident_param(ctx->param, &id, &number))
		return no_such_incident(ctx);
	const char *values[] = {ctx->who->organisation_id, id, number,
				incd_inc_can_see_private(ctx)};
	if (!incd_db_exec(ctx->db, &show_stmt, values, NULL, NULL, &res, ctx->err))
		return false;
	bool ok = incd_db_ntuples(res) == 1 ? incd_inc_respond(ctx, res, 0) : no_such_incident(ctx);
	incd_db_clear(res);
	return ok;
}

static const struct incd_field_spec edit_fields[] = {
    INCD_JV_OPTIONAL_STRING("name", INCD_INC_MAX_NAME_CHARS),
    INCD_JV_OPTIONAL_STRING("summary", INCD_INC_MAX_SUMMARY_CHARS),
    INCD_JV_OPTIONAL_STRING("severity_id", INCD_INC_MAX_ID_CHARS),
    INCD_JV_OPTIONAL_STRING("incident_status_id", INCD_INC_MAX_ID_CHARS),
    INCD_JV_OPTIONAL_STRING("call_url", INCD_INC_MAX_LINK_CHARS),
    INCD_JV_OPTIONAL_STRING("slack_channel_name_override", MAX_CHANNEL_NAME_CHARS),
};

static const struct incd_field_spec edit_top_fields[] = {
    {"notify_incident_channel", INCD_F_BOOL, true, 0, 0, NULL},
};

/* IncidentsEditPayloadV2: {"incident": {...}, "notify_incident_channel"},
 * normalised to {"incident": {checked fields}}; notify_incident_channel is
 * required and has no effect (there is no Slack). */
static bool check_edit(struct json_object *body, struct json_object *norm, struct incd_error *err)
{
	struct json_object *incident, *ignored = json_object_new_object();
	bool ok = incd_jv_fields(body, "", edit_top_fields, INCD_ARRAY_LEN(edit_top_fields),
				 ignored, err) &&
		  incd_jv_object(body, "", "incident", true, &incident, err);
	json_object_put(ignored);
	if (!ok)
		return false;
	struct json_object *out = json_object_new_object();
	json_object_object_add(norm, "incident", out);
	return incd_jv_fields(incident, "incident", edit_fields, INCD_ARRAY_LEN(edit_fields), out,
			      err) &&
	       check_lists(incident, "incident", true, out, err);
}

bool incd_h_incidents_v2_edit(struct incd_ctx *ctx)
{
	struct json_object *body = NULL, *norm = NULL;
	struct pg_result *res = NULL;
	const char *id, *number;
	char update_id[INCD_ULID_LEN + 1];
	bool ok = false;

	if (!incident_param(ctx->param, &id, &number)) {
		ok = no_such_incident(ctx);
		goto done;
	}
	norm = json_object_new_object();
	body = incd_h_parse_object(ctx);
	if (body == NULL || !check_edit(body, norm, ctx->err))
		goto done;
	incd_ulid_new(update_id);
	const char *values[] = {ctx->who->organisation_id,
				ctx->who->api_key_id,
				incd_inc_can_see_private(ctx),
				id,
				number,
				update_id,
				incd_h_json_text(norm)};
	if (!incd_db_exec(ctx->db, &edit_stmt, values, NULL, NULL, &res, ctx->err))
		goto done;
	ok = incd_inc_respond(ctx, res, 0);
done:
	incd_db_clear(res);
	json_object_put(norm);
	json_object_put(body);
	return ok;
}
