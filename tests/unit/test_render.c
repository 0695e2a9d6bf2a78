/* render.c against a stand-in for the database (the functions of db.h it
 * calls, answering api.config_objects from a table here): frames filled
 * in, one load per render, staleness by configuration version, errors,
 * and the cache's budget. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "render.h"

/* ---- the stand-in database ---- */

#define ORG_A "01AAAAAAAAAAAAAAAAAAAAAAAA"
#define ORG_B "01BBBBBBBBBBBBBBBBBBBBBBBB"
#define SEV "01SEVSEVSEVSEVSEVSEVSEVSEV"
#define KEY "01KEYKEYKEYKEYKEYKEYKEYKEY"
#define FLD "01FLDFLDFLDFLDFLDFLDFLDFLD"
#define OP1 "01OPT1OPT1OPT1OPT1OPT1OPT1"
#define OP2 "01OPT2OPT2OPT2OPT2OPT2OPT2"

struct row {
	const char *v[5]; /* ref, doc, created_us, archived_us, config_version */
};

struct pg_result {
	int n;
	struct row rows[64];
	char version[24];
};

static long long db_version;
static int loads;	/* calls of api.config_objects */
static int loaded_refs; /* references they asked for */
static const char *sev_doc = "{\"id\":\"" SEV "\",\"name\":\"Major\"}";

/* The objects of every organisation: each answers for any organisation
 * whose id starts with "01" (the budget test makes a thousand). */
static void answer(struct pg_result *r, const char *ref)
{
	static const struct row objects[] = {
	    {{"S" SEV, NULL, NULL, NULL, NULL}},
	    {{"K" KEY, "{\"api_key\":{\"id\":\"" KEY "\",\"name\":\"k\"}}", NULL, NULL, NULL}},
	    {{"F" FLD, "{\"id\":\"" FLD "\",\"name\":\"Team\"", NULL, NULL, NULL}},
	    {{"F" FLD, "{\"id\":\"" OP1 "\",\"value\":\"old\"}", "100", "300", NULL}},
	    {{"F" FLD, "{\"id\":\"" OP2 "\",\"value\":\"new\"}", "200", NULL, NULL}},
	    {{"O" OP1, "{\"id\":\"" OP1 "\",\"value\":\"old\"}", NULL, NULL, NULL}},
	};
	for (size_t i = 0; i < sizeof objects / sizeof objects[0]; i++) {
		if (strcmp(objects[i].v[0], ref) != 0)
			continue;
		struct row *row = &r->rows[r->n++];
		*row = objects[i];
		if (row->v[1] == NULL)
			row->v[1] = sev_doc;
		row->v[4] = r->version;
	}
}

bool incd_db_exec(struct incd_db *db, struct incd_stmt *stmt, const char *const *values,
		  const int *lengths, const int *formats, struct pg_result **res,
		  struct incd_error *err)
{
	struct pg_result *r = calloc(1, sizeof *r);
	char refs[4096];
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(stmt->name, "config_objects");
	ck_assert_uint_eq(strlen(values[0]), 26);
	snprintf(r->version, sizeof r->version, "%lld", db_version);
	/* values[1] is a text[] literal: {a,b,...} */
	snprintf(refs, sizeof refs, "%s", values[1] + 1);
	refs[strlen(refs) - 1] = '\0';
	for (char *save = NULL, *t = strtok_r(refs, ",", &save); t != NULL;
	     t = strtok_r(NULL, ",", &save)) {
		answer(r, t);
		loaded_refs++;
	}
	loads++;
	*res = r;
	return true;
}

int incd_db_ntuples(const struct pg_result *res)
{
	return res->n;
}

const char *incd_db_value(const struct pg_result *res, int row, int col)
{
	return res->rows[row].v[col];
}

int incd_db_length(const struct pg_result *res, int row, int col)
{
	const char *v = res->rows[row].v[col];
	return v != NULL ? (int)strlen(v) : 0;
}

void incd_db_clear(struct pg_result *res)
{
	free(res);
}

/* ---- helpers ---- */

/* Renders one frame of org at version; the JSON, or NULL with *status set
 * to the error's HTTP status. Owned by the caller. */
static char *render(struct incd_render *r, const char *org, long long version, const char *frame,
		    int *status)
{
	struct incd_frame f = {frame, strlen(frame)};
	struct incd_buf out = {0};
	struct incd_error err = {0};
	*status = 200;
	if (!incd_render_frames(r, NULL, org, version, &f, 1, ", ", &out, &err)) {
		*status = err.status;
		incd_buf_free(&out);
		return NULL;
	}
	incd_buf_add(&out, "", 1); /* NUL-terminate even when empty */
	return out.data;
}

#define R(tag, payload) "\001" tag payload "\002"
#define FRAME                                                                                      \
	"{\"id\":\"x\",\"creator\":" R("K", KEY) ",\"severity\":" R(                               \
	    "S", SEV) ",\"custom_field_entries\":[{\"custom_"                                      \
		      "field\":" R("F", FLD                                                        \
				   ":250") ",\"values\":[{"                                        \
					   "\"value_option\":" R("O", OP1) "}]}]" R("P", "7") "}"

static void reset(void)
{
	db_version = 3;
	loads = loaded_refs = 0;
	sev_doc = "{\"id\":\"" SEV "\",\"name\":\"Major\"}";
}

/* ---- tests ---- */

START_TEST(fills_a_frame_in)
{
	reset();
	struct incd_render *r = incd_render_new("https://x.example/\"q\"", 1 << 20);
	int status;
	char *json = render(r, ORG_A, 3, FRAME, &status);
	ck_assert_int_eq(status, 200);
	/* At 250 µs the first option (100-300) and the second (from 200) were
	 * live; the permalink's URL is escaped. */
	ck_assert_str_eq(json,
			 "{\"id\":\"x\",\"creator\":{\"api_key\":{\"id\":\"" KEY
			 "\",\"name\":\"k\"}},\"severity\":{\"id\":\"" SEV
			 "\",\"name\":\"Major\"},\"custom_field_entries\":[{\"custom_field\":"
			 "{\"id\":\"" FLD "\",\"name\":\"Team\",\"options\":[{\"id\":\"" OP1
			 "\",\"value\":\"old\"},{\"id\":\"" OP2
			 "\",\"value\":\"new\"}]},\"values\":[{\"value_option\":{\"id\":\"" OP1
			 "\",\"value\":\"old\"}}]}],\"permalink\":\"https://x.example/\\\"q\\\"/"
			 "incidents/7\"}");
	free(json);
	incd_render_free(r);
}
END_TEST

START_TEST(options_as_of_the_incident)
{
	reset();
	struct incd_render *r = incd_render_new("", 1 << 20);
	int status;
	char *before = render(r, ORG_A, 3, R("F", FLD ":150"), &status);
	char *after = render(r, ORG_A, 3, R("F", FLD ":300"), &status);
	char *early = render(r, ORG_A, 3, R("F", FLD ":99"), &status);
	ck_assert_str_eq(before, "{\"id\":\"" FLD "\",\"name\":\"Team\",\"options\":[{\"id\":\"" OP1
				 "\",\"value\":\"old\"}]}");
	/* archived at 300: gone at 300 */
	ck_assert_str_eq(after, "{\"id\":\"" FLD "\",\"name\":\"Team\",\"options\":[{\"id\":\"" OP2
				"\",\"value\":\"new\"}]}");
	ck_assert_str_eq(early, "{\"id\":\"" FLD "\",\"name\":\"Team\",\"options\":[]}");
	ck_assert_int_eq(loads, 1);
	free(before);
	free(after);
	free(early);
	incd_render_free(r);
}
END_TEST

START_TEST(one_load_then_none_until_the_version_moves)
{
	reset();
	struct incd_render *r = incd_render_new("", 1 << 20);
	int status;
	const char *frames_text[] = {FRAME, FRAME, FRAME};
	struct incd_frame frames[3];
	struct incd_buf out = {0};
	struct incd_error err;
	for (int i = 0; i < 3; i++)
		frames[i] = (struct incd_frame){frames_text[i], strlen(frames_text[i])};
	ck_assert(incd_render_frames(r, NULL, ORG_A, 3, frames, 3, ", ", &out, &err));
	ck_assert_int_eq(loads, 1);
	ck_assert_int_eq(loaded_refs, 4); /* K, S, F, O once each */
	ck_assert_uint_eq(incd_render_cached_objects(r), 4);
	free(render(r, ORG_A, 3, FRAME, &status));
	free(render(r, ORG_A, 2, FRAME, &status)); /* an older version: still good */
	ck_assert_int_eq(loads, 1);

	/* A configuration write: the next read says version 4. */
	db_version = 4;
	sev_doc = "{\"id\":\"" SEV "\",\"name\":\"Renamed\"}";
	char *json = render(r, ORG_A, 4, FRAME, &status);
	ck_assert_int_eq(loads, 2);
	ck_assert_ptr_nonnull(strstr(json, "Renamed"));
	free(json);
	/* Another organisation's objects are its own. */
	free(render(r, ORG_B, 4, FRAME, &status));
	ck_assert_int_eq(loads, 3);
	ck_assert_uint_eq(incd_render_cached_objects(r), 8);
	incd_buf_free(&out);
	incd_render_free(r);
}
END_TEST

START_TEST(errors_are_500_and_leave_nothing)
{
	reset();
	struct incd_render *r = incd_render_new("", 1 << 20);
	int status;
	static const char *const bad[] = {
	    R("S", "01NOSUCHSEVERITYNOSUCHSEV0"), /* names nothing */
	    R("X", SEV),			  /* no such tag */
	    R("S", "short"),			  /* not an id */
	    R("F", FLD),			  /* no time */
	    R("F", FLD ":12x"),			  /* a bad time */
	    "{\001S" SEV,			  /* unterminated */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_ptr_null(render(r, ORG_A, 3, bad[i], &status));
		ck_assert_int_eq(status, 500);
	}
	/* Only what loaded stays: the severity and the field. */
	ck_assert_uint_le(incd_render_cached_objects(r), 2);
	ck_assert_ptr_null(render(r, "short", 3, FRAME, &status));
	ck_assert_int_eq(status, 500);
	char *ok = render(r, ORG_A, 3, "no references at all", &status);
	ck_assert_str_eq(ok, "no references at all");
	free(ok);
	incd_render_free(r);
}
END_TEST

/* A thousand organisations' objects through a 64 KiB cache: it never holds
 * more than its budget after a render, and what the last render used stays. */
START_TEST(the_budget_holds)
{
	reset();
	size_t budget = 64 << 10;
	struct incd_render *r = incd_render_new("", budget);
	int status;
	char org[27];
	for (int i = 0; i < 1000; i++) {
		snprintf(org, sizeof org, "01%024d", i);
		free(render(r, org, 3, FRAME, &status));
		ck_assert_int_eq(status, 200);
		ck_assert_uint_le(incd_render_cached_bytes(r), budget);
	}
	ck_assert_int_eq(loads, 1000);
	ck_assert_uint_gt(incd_render_cached_objects(r), 4);
	free(render(r, org, 3, FRAME, &status));
	ck_assert_int_eq(loads, 1000);
	snprintf(org, sizeof org, "01%024d", 0);
	free(render(r, org, 3, FRAME, &status));
	ck_assert_int_eq(loads, 1001);
	incd_render_free(r);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("render");
	TCase *tc = tcase_create("render");
	tcase_add_test(tc, fills_a_frame_in);
	tcase_add_test(tc, options_as_of_the_incident);
	tcase_add_test(tc, one_load_then_none_until_the_version_moves);
	tcase_add_test(tc, errors_are_500_and_leave_nothing);
	tcase_add_test(tc, the_budget_holds);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"
