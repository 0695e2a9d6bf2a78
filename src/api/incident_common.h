/* What the incident handlers of both API versions share: the shape checks
 * of the payload parts V1 and V2 have in common, and the answers built from
 * frames (src/daemon/render.c). */
#ifndef INCIDENTD_INCIDENT_COMMON_H
#define INCIDENTD_INCIDENT_COMMON_H

#include <json-c/json.h>
#include <stdbool.h>

#include "handlers.h"

#define INCD_INC_MAX_KEY_CHARS 256
#define INCD_INC_MAX_ID_CHARS 64
#define INCD_INC_MAX_SHORT_CHARS 256
#define INCD_INC_MAX_NAME_CHARS 500
#define INCD_INC_MAX_SUMMARY_CHARS 50000
#define INCD_INC_MAX_LINK_CHARS 2048
#define INCD_INC_MAX_PAGE_SIZE 250

/* Checks body[key], an optional array of custom field entries
 * (CustomFieldEntryPayloadV1/V2), and copies the checked fields into
 * norm[key]. prefix ("" or "incident") starts every error's path. */
bool incd_inc_check_entries(struct json_object *body, const char *prefix, const char *key,
			    struct json_object *norm, struct incd_error *err) INCD_MUST_CHECK;

/* The same for role assignments; with assignee_optional (an edit's), an
 * assignment may leave its assignee out, which unassigns the role. */
bool incd_inc_check_assignments(struct json_object *body, const char *prefix, const char *key,
				bool assignee_optional, struct json_object *norm,
				struct incd_error *err) INCD_MUST_CHECK;

/* The same for incident_timestamp_values (IncidentTimestampValuePayloadV2). */
bool incd_inc_check_timestamp_values(struct json_object *body, const char *prefix, const char *key,
				     struct json_object *norm,
				     struct incd_error *err) INCD_MUST_CHECK;

/* "true" when the key may see private incidents. */
const char *incd_inc_can_see_private(const struct incd_ctx *ctx);

/* Answers {"incident" : <rendered frame>} from row 0 of res: the frame in
 * column col, the configuration version in col + 1. */
bool incd_inc_respond(struct incd_ctx *ctx, const struct pg_result *res, int col) INCD_MUST_CHECK;

/* Checks a create payload and builds its normalised copy for SQL. */
typedef bool (*incd_inc_check_fn)(struct json_object *body, struct json_object *norm,
				  struct incd_error *err);

/* The idempotent create of either version. A create whose key is known is
 * a replay, and its new payload is ignored (CONTRACT "Create"): replay ($1
 * organisation, $2 key; columns frame, config_version) answers it before
 * the body is parsed. Otherwise check validates the body and create ($1
 * organisation, $2 API key, $3 new id, $4 key, $5 payload; columns
 * replayed, frame, config_version) writes it. */
bool incd_inc_create(struct incd_ctx *ctx, struct incd_stmt *replay, struct incd_stmt *create,
		     incd_inc_check_fn check) INCD_MUST_CHECK;

/* The columns of a page's rows: the item's id and frame, and the meta
 * columns repeated on every row. An empty page is one row with id NULL. */
struct incd_inc_page {
	const char *key;  /* "incidents", "incident_updates" */
	const char *item; /* "an incident", for the after cursor's 422 */
	int col_total;	  /* total_record_count, or -1 for none */
	int col_version;  /* configuration version */
	int col_after_ok; /* false when the after cursor was not found */
	long page_size;
};

/* Answers {key : [...], "pagination_meta" : {...}} from up to page_size + 1
 * rows (one more says another page starts after the page's last id). */
bool incd_inc_respond_page(struct incd_ctx *ctx, const struct pg_result *res,
			   const struct incd_inc_page *page) INCD_MUST_CHECK;

#endif
