/* Incidents V2 list: the query string's filters become clauses that
 * api.incident_page_v2 checks against the organisation and applies
 * (sql/code/33_incidents_v2_list.sql; docs/LIFECYCLE.md, "Listing"). Here
 * only their syntax is checked: known filters and operators, ids, days,
 * enums. */
#include "incident_common.h"

#include <ctype.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "jsonv.h"

#define DEFAULT_PAGE_SIZE 25
#define MAX_NAME 160
#define MAX_VALUE 256
#define MAX_CLAUSES 32
#define MAX_VALUES 100

static struct incd_stmt page_stmt = {
    "incident_page_v2",
    "SELECT id, frame, total, config_version, after_ok FROM api.incident_page_v2("
    "$1, $2::boolean, $3::jsonb, $4::boolean, $5::text[], $6::boolean, $7, $8::int)",
    8, 0};

enum value_kind { V_ID, V_DAY, V_DAY_RANGE, V_CATEGORY, V_BOOL, V_MODE };

/* A filter of the spec: its name, whether it takes a [KEY] (a role or
 * field id) before the operator, and its operators. */
struct filter {
	const char *name;
	bool keyed;
	const char *ops[5];
	enum value_kind kinds[5]; /* the value kind of each operator */
};

static const struct filter filters[] = {
    {"status", false, {"one_of", "not_in"}, {V_ID, V_ID}},
    {"status_category", false, {"one_of", "not_in"}, {V_CATEGORY, V_CATEGORY}},
    {"created_at", false, {"gte", "lte", "date_range"}, {V_DAY, V_DAY, V_DAY_RANGE}},
    {"updated_at", false, {"gte", "lte", "date_range"}, {V_DAY, V_DAY, V_DAY_RANGE}},
    {"severity", false, {"one_of", "not_in", "gte", "lte"}, {V_ID, V_ID, V_ID, V_ID}},
    {"incident_type", false, {"one_of", "not_in"}, {V_ID, V_ID}},
    {"incident_role", true, {"one_of", "is_blank"}, {V_ID, V_BOOL}},
    {"custom_field", true, {"one_of", "not_in", "is_blank"}, {V_ID, V_ID, V_BOOL}},
    {"mode", false, {"one_of"}, {V_MODE}},
};

static const char *const categories[] = {"triage",   "declined", "merged", "canceled", "live",
					 "learning", "closed",	 "paused", NULL};
static const char *const modes[] = {"standard", "retrospective", "test", "tutorial", NULL};

struct list_query {
	long page_size;
	const char *after;	     /* NULL = first page */
	bool any;		     /* filter_mode=any */
	bool oldest_first;	     /* sort_by=created_at_oldest_first */
	struct json_object *clauses; /* owned: [{param, filter, key, op, values}] */
	char modes[64];		     /* "{a,b}" or "" for the default */
	char after_buf[MAX_VALUE];
};

static bool bad_param(struct incd_error *err, const char *name, const char *what)
{
	return incd_fail(err, 422, "invalid_value", name, "%s: %s", name, what);
}

static bool in_list(const char *const *list, const char *s)
{
	for (; *list; list++)
		if (strcmp(*list, s) == 0)
			return true;
	return false;
}

/* YYYY-MM-DD (whether the day exists is PostgreSQL's to say). */
static bool is_day(const char *s, size_t n)
{
	static const char shape[] = "dddd-dd-dd";
	if (n != sizeof shape - 1)
		return false;
	for (size_t i = 0; i < n; i++)
		if (shape[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != shape[i])
			return false;
	return true;
}

/* Appends value (checked against kind) to clause's values. */
static bool add_value(struct json_object *values, enum value_kind kind, const char *name,
		      const char *value, struct incd_error *err)
{
	const char *tilde;

	switch (kind) {
	case V_ID:
		if (!incd_h_may_be_id(value))
			return bad_param(err, name, "must be an id");
		break;
	case V_DAY:
		if (!is_day(value, strlen(value)))
			return bad_param(err, name, "must be a day as YYYY-MM-DD");
		break;
	case V_DAY_RANGE:
		tilde = strchr(value, '~');
		if (tilde == NULL || !is_day(value, (size_t)(tilde - value)) ||
		    !is_day(tilde + 1, strlen(tilde + 1)))
			return bad_param(err, name, "must be two days as YYYY-MM-DD~YYYY-MM-DD");
		json_object_array_add(values,
				      json_object_new_string_len(value, (int)(tilde - value)));
		json_object_array_add(values, json_object_new_string(tilde + 1));
		return true;
	case V_CATEGORY:
		if (!in_list(categories, value))
			return bad_param(err, name, "must be a status category");
		break;
	case V_BOOL:
		if (strcmp(value, "true") != 0 && strcmp(value, "false") != 0)
			return bad_param(err, name, "must be true or false");
		break;
	case V_MODE:
		if (!in_list(modes, value))
			return bad_param(err, name,
					 "must be standard, retrospective, test or tutorial");
		break;
	}
	json_object_array_add(values, json_object_new_string(value));
	return true;
}

/* Splits "base[a]" or "base[a][b]" into base, a and b (b "" if absent);
 * false if name is not of that shape. */
static bool split_name(const char *name, char *base, char *a, char *b)
{
	const char *open = strchr(name, '[');
	if (open == NULL || open == name || (size_t)(open - name) >= MAX_NAME)
		return false;
	memcpy(base, name, (size_t)(open - name));
	base[open - name] = '\0';
	int used = 0;
	a[0] = b[0] = '\0';
	if (sscanf(open, "[%159[^]]]%n", a, &used) != 1 || used == 0)
		return false;
	const char *rest = open + used;
	if (*rest == '\0')
		return true;
	used = 0;
	if (sscanf(rest, "[%159[^]]]%n", b, &used) != 1 || used == 0 || rest[used] != '\0')
		return false;
	return true;
}

/* The clause of parameter name in q->clauses, created if new. */
static struct json_object *clause_for(struct list_query *q, const char *name,
				      const struct filter *f, const char *key, const char *op,
				      struct incd_error *err)
{
	size_t n = json_object_array_length(q->clauses);
	for (size_t i = 0; i < n; i++) {
		struct json_object *c = json_object_array_get_idx(q->clauses, i);
		if (strcmp(json_object_get_string(json_object_object_get(c, "param")), name) == 0)
			return c;
	}
	if (n >= MAX_CLAUSES) {
		bad_param(err, name, "too many filters");
		return NULL;
	}
	struct json_object *c = json_object_new_object();
	json_object_object_add(c, "param", json_object_new_string(name));
	json_object_object_add(c, "filter", json_object_new_string(f->name));
	json_object_object_add(c, "key", key[0] ? json_object_new_string(key) : NULL);
	json_object_object_add(c, "op", json_object_new_string(op));
	json_object_object_add(c, "values", json_object_new_array());
	json_object_array_add(q->clauses, c);
	return c;
}

static bool add_mode(struct list_query *q, const char *name, const char *value,
		     struct incd_error *err)
{
	if (!in_list(modes, value))
		return bad_param(err, name, "must be standard, retrospective, test or tutorial");
	size_t used = strlen(q->modes);
	if (used > 0 && strstr(q->modes, value) != NULL)
		return true;
	/* four modes of at most 13 characters always fit */
	snprintf(q->modes + (used ? used - 1 : 0), sizeof q->modes - (used ? used - 1 : 0), "%s%s}",
		 used ? "," : "{", value);
	return true;
}

/* A parameter with brackets: a filter. */
static bool add_filter(struct list_query *q, const char *name, const char *value,
		       struct incd_error *err)
{
	char base[MAX_NAME], a[MAX_NAME], b[MAX_NAME];

	if (!split_name(name, base, a, b))
		return bad_param(err, name, "is not a filter of the form name[operator]");
	const struct filter *f = NULL;
	for (size_t i = 0; i < INCD_ARRAY_LEN(filters); i++)
		if (strcmp(filters[i].name, base) == 0)
			f = &filters[i];
	if (f == NULL)
		return bad_param(err, name, "unknown filter");
	const char *key = f->keyed ? a : "", *op = f->keyed ? b : a;
	if ((f->keyed && (!incd_h_may_be_id(key) || b[0] == '\0')) || (!f->keyed && b[0] != '\0'))
		return bad_param(
		    err, name, f->keyed ? "must be name[ID][operator]" : "must be name[operator]");
	size_t k = 0;
	while (k < 5 && f->ops[k] != NULL && strcmp(f->ops[k], op) != 0)
		k++;
	if (k == 5 || f->ops[k] == NULL)
		return bad_param(err, name, "unknown operator");
	if (value[0] == '\0')
		return bad_param(err, name, "needs a value");
	if (f->kinds[k] == V_MODE)
		return add_mode(q, name, value, err);
	struct json_object *c = clause_for(q, name, f, key, op, err);
	if (c == NULL)
		return false;
	struct json_object *values = json_object_object_get(c, "values");
	bool repeatable = strcmp(op, "one_of") == 0 || strcmp(op, "not_in") == 0;
	if (!repeatable) /* gte, lte, date_range, is_blank: the last one counts */
		json_object_array_del_idx(values, 0, json_object_array_length(values));
	else if (json_object_array_length(values) >= MAX_VALUES)
		return bad_param(err, name, "too many values");
	return add_value(values, f->kinds[k], name, value, err);
}

static bool parse_query(const char *query, struct list_query *q, struct incd_error *err)
{
	char name[MAX_NAME], value[MAX_VALUE];
	bool bad, overflow;

	while (incd_query_next(&query, name, sizeof name, value, sizeof value, &bad)) {
		if (bad)
			return bad_param(err, name, "is not correctly encoded");
		if (strchr(name, '[') != NULL) {
			if (strlen(name) >= sizeof name - 1 || strlen(value) >= sizeof value - 1)
				return bad_param(err, name, "is too long");
			if (!add_filter(q, name, value, err))
				return false;
		} else if (strcmp(name, "page_size") == 0) {
			if (!incd_parse_uint(value, INCD_INC_MAX_PAGE_SIZE, &q->page_size,
					     &overflow) ||
			    q->page_size < 1)
				return incd_fail(err, 422, "invalid_value", "page_size",
						 "page_size must be an integer of at least 1");
		} else if (strcmp(name, "after") == 0) {
			if (value[0] == '\0')
				continue;
			if (!incd_h_may_be_id(value))
				return incd_fail(err, 422, "invalid_value", "after",
						 "after must be the id of an incident");
			snprintf(q->after_buf, sizeof q->after_buf, "%s", value);
			q->after = q->after_buf;
		} else if (strcmp(name, "sort_by") == 0) {
			if (strcmp(value, "created_at_newest_first") != 0 &&
			    strcmp(value, "created_at_oldest_first") != 0)
				return incd_fail(err, 422, "invalid_value", "sort_by",
						 "sort_by must be created_at_newest_first or "
						 "created_at_oldest_first");
			q->oldest_first = strcmp(value, "created_at_oldest_first") == 0;
		} else if (strcmp(name, "filter_mode") == 0) {
			if (strcmp(value, "all") != 0 && strcmp(value, "any") != 0)
				return incd_fail(err, 422, "invalid_value", "filter_mode",
						 "filter_mode must be all or any");
			q->any = strcmp(value, "any") == 0;
		}
	}
	return true;
}

bool incd_h_incidents_v2_list(struct incd_ctx *ctx)
{
	struct list_query q = {.page_size = DEFAULT_PAGE_SIZE, .clauses = json_object_new_array()};
	struct pg_result *res = NULL;
	char page_size[24];
	bool ok = false;

	if (!parse_query(ctx->req->query, &q, ctx->err))
		goto done;
	snprintf(page_size, sizeof page_size, "%ld", q.page_size);
	const char *values[] = {ctx->who->organisation_id,
				incd_inc_can_see_private(ctx),
				incd_h_json_text(q.clauses),
				q.any ? "true" : "false",
				q.modes[0] ? q.modes : NULL,
				q.oldest_first ? "true" : "false",
				q.after,
				page_size};
	if (!incd_db_exec(ctx->db, &page_stmt, values, NULL, NULL, &res, ctx->err))
		goto done;
	const struct incd_inc_page page = {"incidents", "an incident", 2, 3, 4, q.page_size};
	ok = incd_inc_respond_page(ctx, res, &page);
done:
	incd_db_clear(res);
	json_object_put(q.clauses);
	return ok;
}
