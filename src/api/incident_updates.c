/* Incident Updates V2: the list (docs/LIFECYCLE.md). Each update is a
 * stored frame, filled in by render.c like an incident's. */
#include "incident_common.h"

#include <stdio.h>
#include <stdlib.h>

#define DEFAULT_PAGE_SIZE 25

static struct incd_stmt page_stmt = {
    "incident_update_page",
    "SELECT id, frame, config_version, after_ok, incident_ok "
    "FROM api.incident_update_page($1, $2::boolean, $3, $4, $5::int)",
    5, 0};

enum { Q_INCIDENT_ID, Q_AFTER, Q_PAGE_SIZE, Q_COUNT };

static const struct incd_query_spec query_spec[Q_COUNT] = {
    [Q_INCIDENT_ID] = {"incident_id", INCD_Q_ID, false, 0},
    [Q_AFTER] = {"after", INCD_Q_ID, false, 0},
    [Q_PAGE_SIZE] = {"page_size", INCD_Q_PAGE_SIZE, false, INCD_INC_MAX_PAGE_SIZE},
};

bool incd_h_incident_updates_list(struct incd_ctx *ctx)
{
	char bufs[Q_COUNT][INCD_H_QUERY_VALUE_CAP];
	const char *q[Q_COUNT];
	struct pg_result *res = NULL;
	bool ok = false;

	if (!incd_h_parse_query(ctx->req->query, query_spec, Q_COUNT, bufs, q, ctx->err))
		return false;
	long page_size = q[Q_PAGE_SIZE] ? strtol(q[Q_PAGE_SIZE], NULL, 10) : DEFAULT_PAGE_SIZE;
	const char *values[] = {ctx->who->organisation_id, incd_inc_can_see_private(ctx),
				q[Q_INCIDENT_ID], q[Q_AFTER], q[Q_PAGE_SIZE]};
	if (!incd_db_exec(ctx->db, &page_stmt, values, NULL, NULL, &res, ctx->err))
		return false;
	const char *incident_ok = incd_db_ntuples(res) > 0 ? incd_db_value(res, 0, 4) : NULL;
	if (incident_ok != NULL && incident_ok[0] != 't') {
		ok = incd_fail(ctx->err, 404, "not_found", NULL,
			       "No incident with this id was found");
		goto done;
	}
	const struct incd_inc_page page = {"incident_updates", "an incident update", -1, 2, 3,
					   page_size};
	ok = incd_inc_respond_page(ctx, res, &page);
done:
	incd_db_clear(res);
	return ok;
}
