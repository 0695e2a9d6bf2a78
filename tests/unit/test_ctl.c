/* Tests of incidentctl's commands: the pure tables always; the commands
 * themselves against a scratch database when INCD_TEST_DATABASE_URL names
 * one (a database the test may migrate and write demo rows into). */
#include "ctl.h"
#include "migrations.h"
#include "ulid.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

START_TEST(api_roles_are_the_spec_names)
{
	size_t n = 0;
	for (; incd_ctl_api_roles[n] != NULL; n++) {
		const char *r = incd_ctl_api_roles[n];
		ck_assert_uint_gt(strlen(r), 0);
		ck_assert_uint_eq(strspn(r, "abcdefghijklmnopqrstuvwxyz_"), strlen(r));
		for (size_t k = 0; k < n; k++)
			ck_assert_str_ne(incd_ctl_api_roles[k], r);
	}
	/* IdentityV1.roles in incidentio-openapi.json */
	ck_assert_uint_eq(n, 34);
	ck_assert(incd_ctl_in_list(incd_ctl_api_roles, "viewer"));
	ck_assert(incd_ctl_in_list(incd_ctl_api_roles, "incident_creator"));
	ck_assert(incd_ctl_in_list(incd_ctl_api_roles, "incident_editor"));
	ck_assert(incd_ctl_in_list(incd_ctl_api_roles, "global_access"));
	ck_assert(incd_ctl_in_list(incd_ctl_api_roles, "manage_settings"));
	ck_assert(incd_ctl_in_list(incd_ctl_api_roles, "heartbeats_ping"));
}
END_TEST

START_TEST(in_list_is_exact)
{
	ck_assert(!incd_ctl_in_list(incd_ctl_api_roles, ""));
	ck_assert(!incd_ctl_in_list(incd_ctl_api_roles, "Viewer"));
	ck_assert(!incd_ctl_in_list(incd_ctl_api_roles, "viewer "));
	ck_assert(!incd_ctl_in_list(incd_ctl_api_roles, "view"));
	ck_assert(incd_ctl_in_list(incd_ctl_user_roles, "owner"));
	ck_assert(!incd_ctl_in_list(incd_ctl_user_roles, "unset"));
	ck_assert(!incd_ctl_in_list(incd_ctl_user_roles, "admin"));
}
END_TEST

START_TEST(rate_limits)
{
	static const char *const good[] = {"0",	      "1",	    "60",	   "1200",
					   "0000060", "2147483647", "002147483647"};
	static const char *const bad[] = {"",	 "-1",	"+5",	      "1.5",	     "60 ",
					  " 60", "1e3", "2147483648", "99999999999", "x"};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		ck_assert_msg(incd_ctl_rate_limit_valid(good[i]), "%s", good[i]);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(!incd_ctl_rate_limit_valid(bad[i]), "%s", bad[i]);
}
END_TEST

/* Both lists are sorted and complete; every file's length is its text's. */
static void check_files(const struct incd_sql_file *files, size_t n, const char *dir, bool suffix)
{
	ck_assert_uint_gt(n, 0);
	for (size_t i = 0; i < n; i++) {
		const struct incd_sql_file *f = &files[i];
		char path[256];
		ck_assert_ptr_nonnull(f->name);
		ck_assert_ptr_nonnull(f->sql);
		ck_assert_uint_eq(strlen(f->sql), f->len);
		ck_assert_ptr_null(strchr(f->name, '/'));
		ck_assert_int_eq(strstr(f->name, ".sql") != NULL, suffix);
		snprintf(path, sizeof path, "%s%s%s", dir, f->name, suffix ? "" : ".sql");
		ck_assert_str_eq(f->path, path);
		if (i > 0)
			ck_assert_int_lt(strcmp(files[i - 1].name, f->name), 0);
	}
}

START_TEST(sql_files_are_ordered)
{
	check_files(incd_migrations, incd_migrations_count, "sql/migrations/", false);
	check_files(incd_code, incd_code_count, "sql/code/", true);
	ck_assert_str_eq(incd_migrations[0].name, "001_schema");
	ck_assert_str_eq(incd_code[0].name, "00_helpers.sql");
}
END_TEST

/* Every code file is re-runnable: it creates nothing that a second run
 * would find in its way (CREATE OR REPLACE only). */
START_TEST(code_files_only_replace)
{
	static const char *const once[] = {
	    "create function",	   "create trigger", "create view", "create table", "create index",
	    "create unique index", "create schema",  "create type", "alter table"};
	for (size_t i = 0; i < incd_code_count; i++)
		for (size_t k = 0; k < sizeof once / sizeof once[0]; k++)
			ck_assert_msg(strstr(incd_code[i].sql, once[k]) == NULL, "%s has \"%s\"",
				      incd_code[i].path, once[k]);
}
END_TEST

static PGconn *conn;

static void db_setup(void)
{
	conn = incd_ctl_connect(getenv("INCD_TEST_DATABASE_URL"));
	ck_assert_ptr_nonnull(conn);
}

static void db_teardown(void)
{
	PQfinish(conn);
	conn = NULL;
}

/* The one value of a count(*) query with param as $1 (none when NULL). */
static long count(const char *sql, const char *param)
{
	const char *params[] = {param};
	int n = param != NULL ? 1 : 0;
	char out[32];
	bool found = false;
	ck_assert(incd_ctl_query_value(conn, "count", sql, n, params, &found, out, sizeof out));
	ck_assert(found);
	return strtol(out, NULL, 10);
}

START_TEST(db_migrate_twice)
{
	ck_assert_int_eq(incd_ctl_migrate(conn, INCD_CTL_MIGRATE_APPLY, false), INCD_CTL_OK);
	ck_assert_int_eq(incd_ctl_migrate(conn, INCD_CTL_MIGRATE_APPLY, false), INCD_CTL_OK);
	ck_assert_int_eq(PQtransactionStatus(conn), PQTRANS_IDLE);
	ck_assert_int_eq(count("SELECT count(*) FROM schema_migrations", NULL),
			 (long)incd_migrations_count);
}
END_TEST

START_TEST(db_unknown_ids)
{
	static const char *const roles[] = {"viewer"};
	static const char *const bad_roles[] = {"viewer", "root"};
	const char *missing = "00000000000000000000000000";
	ck_assert_int_eq(incd_ctl_migrate(conn, INCD_CTL_MIGRATE_APPLY, false), INCD_CTL_OK);
	ck_assert_int_eq(incd_ctl_seed_demo(conn, missing), INCD_CTL_FAIL);
	ck_assert_int_eq(incd_ctl_api_key_create(conn, missing, "k", roles, 1, NULL),
			 INCD_CTL_FAIL);
	ck_assert_int_eq(incd_ctl_api_key_create(conn, missing, "k", roles, 1, "60"),
			 INCD_CTL_FAIL);
	ck_assert_int_eq(incd_ctl_api_key_create(conn, missing, "k", bad_roles, 2, NULL),
			 INCD_CTL_USAGE);
	ck_assert_int_eq(incd_ctl_api_key_create(conn, missing, "k", roles, 0, NULL),
			 INCD_CTL_USAGE);
	ck_assert_int_eq(incd_ctl_api_key_create(conn, missing, "k", roles, 1, "-1"),
			 INCD_CTL_USAGE);
	ck_assert_int_eq(incd_ctl_api_key_revoke(conn, missing), INCD_CTL_FAIL);
	ck_assert_int_eq(incd_ctl_user_create(conn, missing, "u", NULL, NULL, NULL), INCD_CTL_FAIL);
	ck_assert_int_eq(incd_ctl_user_create(conn, missing, "u", NULL, NULL, "root"),
			 INCD_CTL_USAGE);
	ck_assert_int_eq(PQtransactionStatus(conn), PQTRANS_IDLE);
}
END_TEST

START_TEST(db_seed_demo_twice)
{
	ck_assert_int_eq(incd_ctl_migrate(conn, INCD_CTL_MIGRATE_APPLY, false), INCD_CTL_OK);
	ck_assert_int_eq(incd_ctl_org_create(conn, "test org"), INCD_CTL_OK);
	char org[INCD_ULID_LEN + 1];
	bool found = false;
	ck_assert(incd_ctl_query_value(conn, "newest org",
				       "SELECT id FROM organisations WHERE name = $1 "
				       "ORDER BY id DESC LIMIT 1",
				       1, (const char *const[]){"test org"}, &found, org,
				       sizeof org));
	ck_assert(found);
	ck_assert_int_eq(count("SELECT count(*) FROM incident_roles WHERE organisation_id = $1 "
			       "AND role_type = 'lead'",
			       org),
			 1);
	ck_assert_int_eq(incd_ctl_seed_demo(conn, org), INCD_CTL_OK);
	ck_assert_int_eq(incd_ctl_seed_demo(conn, org), INCD_CTL_OK);
	ck_assert_int_eq(count("SELECT count(*) FROM severities WHERE organisation_id = $1", org),
			 3);
	ck_assert_int_eq(
	    count("SELECT count(*) FROM incident_roles WHERE organisation_id = $1", org), 3);
	ck_assert_int_eq(count("SELECT count(*) FROM custom_field_options "
			       "WHERE organisation_id = $1",
			       org),
			 6);
	ck_assert_int_eq(count("SELECT count(*) FROM incident_types WHERE organisation_id = $1 "
			       "AND is_default",
			       org),
			 1);
	ck_assert_int_eq(count("SELECT count(*) FROM users WHERE organisation_id = $1", org), 2);

	struct incd_ctl_incident_type t = {.org = org, .name = "Other", .is_default = true};
	ck_assert_int_eq(incd_ctl_incident_type_create(conn, &t), INCD_CTL_OK);
	ck_assert_int_eq(count("SELECT count(*) FROM incident_types WHERE organisation_id = $1 "
			       "AND is_default AND name = 'Other'",
			       org),
			 1);
	ck_assert_int_eq(count("SELECT count(*) FROM incident_types WHERE organisation_id = $1 "
			       "AND is_default",
			       org),
			 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ctl");
	TCase *pure = tcase_create("pure");
	tcase_add_test(pure, api_roles_are_the_spec_names);
	tcase_add_test(pure, in_list_is_exact);
	tcase_add_test(pure, rate_limits);
	tcase_add_test(pure, sql_files_are_ordered);
	tcase_add_test(pure, code_files_only_replace);
	suite_add_tcase(s, pure);

	const char *url = getenv("INCD_TEST_DATABASE_URL");
	if (url != NULL && url[0] != '\0') {
		TCase *db = tcase_create("db");
		tcase_add_checked_fixture(db, db_setup, db_teardown);
		tcase_set_timeout(db, 60);
		tcase_add_test(db, db_migrate_twice);
		tcase_add_test(db, db_unknown_ids);
		tcase_add_test(db, db_seed_demo_twice);
		suite_add_tcase(s, db);
	} else {
		fprintf(stderr, "# INCD_TEST_DATABASE_URL not set: database tests skipped\n");
	}

	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
