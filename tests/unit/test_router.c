/* Route matching: exact paths, {id} segments, 404 vs 405 with Allow. */
#include <check.h>
#include <string.h>

#include "router.h"

static bool h(struct incd_ctx *ctx)
{
	(void)ctx;
	return true;
}

static const struct incd_route table[] = {
    {INCD_GET, "/healthz", h, 0},
    {INCD_GET, "/v1/incidents", h, 1},
    {INCD_POST, "/v1/incidents", h, 2},
    {INCD_GET, "/v1/incidents/{id}", h, 1},
    {INCD_DELETE, "/v1/severities/{id}", h, 4},
    {INCD_PUT, "/v1/severities/{id}", h, 4},
};
#define N (sizeof table / sizeof table[0])

START_TEST(exact_match)
{
	struct incd_route_match m;
	ck_assert_int_eq(incd_route(table, N, INCD_GET, "/healthz", &m), INCD_ROUTE_FOUND);
	ck_assert_ptr_eq(m.route, &table[0]);
	ck_assert_str_eq(m.param, "");
	ck_assert_int_eq(incd_route(table, N, INCD_POST, "/v1/incidents", &m), INCD_ROUTE_FOUND);
	ck_assert_ptr_eq(m.route, &table[2]);
}
END_TEST

START_TEST(param_segment)
{
	struct incd_route_match m;
	ck_assert_int_eq(
	    incd_route(table, N, INCD_GET, "/v1/incidents/01FDAG4SAP5TYPT98WGR2N7W91", &m),
	    INCD_ROUTE_FOUND);
	ck_assert_ptr_eq(m.route, &table[3]);
	ck_assert_str_eq(m.param, "01FDAG4SAP5TYPT98WGR2N7W91");
}
END_TEST

/* A client that removes dot segments turns "/v1/incidents/." into
 * "/v1/incidents/": a show URL must never answer with the list. */
START_TEST(trailing_slash_and_extra_segments)
{
	struct incd_route_match m;
	ck_assert_int_eq(incd_route(table, N, INCD_GET, "/v1/incidents/", &m),
			 INCD_ROUTE_NOT_FOUND);
	ck_assert_int_eq(incd_route(table, N, INCD_GET, "/healthz/", &m), INCD_ROUTE_NOT_FOUND);
	ck_assert_int_eq(incd_route(table, N, INCD_GET, "/v1/incidents/x/", &m),
			 INCD_ROUTE_NOT_FOUND);
	ck_assert_int_eq(incd_route(table, N, INCD_GET, "/v1/incidents//", &m),
			 INCD_ROUTE_NOT_FOUND);
	/* Dot segments reach the router as they were sent: an id, never a list. */
	ck_assert_int_eq(incd_route(table, N, INCD_GET, "/v1/incidents/.", &m), INCD_ROUTE_FOUND);
	ck_assert_ptr_eq(m.route, &table[3]);
	ck_assert_str_eq(m.param, ".");
	ck_assert_int_eq(incd_route(table, N, INCD_GET, "/v1/incidents/x/..", &m),
			 INCD_ROUTE_NOT_FOUND);
	ck_assert_int_eq(incd_route(table, N, INCD_GET, "/v1/incidents/a/b", &m),
			 INCD_ROUTE_NOT_FOUND);
	ck_assert_int_eq(incd_route(table, N, INCD_GET, "/v1/incidentsX", &m),
			 INCD_ROUTE_NOT_FOUND);
	ck_assert_int_eq(incd_route(table, N, INCD_GET, "/", &m), INCD_ROUTE_NOT_FOUND);
	ck_assert_int_eq(incd_route(table, N, INCD_GET, "", &m), INCD_ROUTE_NOT_FOUND);
}
END_TEST

START_TEST(method_not_allowed_lists_methods)
{
	struct incd_route_match m;
	ck_assert_int_eq(incd_route(table, N, INCD_DELETE, "/v1/incidents", &m),
			 INCD_ROUTE_METHOD_NOT_ALLOWED);
	ck_assert_str_eq(m.allow, "GET, POST");
	ck_assert_int_eq(incd_route(table, N, INCD_GET, "/v1/severities/X", &m),
			 INCD_ROUTE_METHOD_NOT_ALLOWED);
	ck_assert_str_eq(m.allow, "DELETE, PUT");
	ck_assert_int_eq(incd_route(table, N, INCD_METHOD_OTHER, "/healthz", &m),
			 INCD_ROUTE_METHOD_NOT_ALLOWED);
	ck_assert_str_eq(m.allow, "GET");
}
END_TEST

START_TEST(overlong_param_is_not_found)
{
	struct incd_route_match m;
	char path[400] = "/v1/incidents/";
	memset(path + strlen(path), 'A', 300);
	ck_assert_int_eq(incd_route(table, N, INCD_GET, path, &m), INCD_ROUTE_NOT_FOUND);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("router");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, exact_match);
	tcase_add_test(tc, param_segment);
	tcase_add_test(tc, trailing_slash_and_extra_segments);
	tcase_add_test(tc, method_not_allowed_lists_methods);
	tcase_add_test(tc, overlong_param_is_not_found);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"
