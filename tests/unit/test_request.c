/* Request parsing: Content-Length, URI paths, query strings, bearer tokens. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "request.h"

START_TEST(content_length)
{
	size_t n;
	ck_assert_int_eq(incd_parse_content_length(NULL, 100, &n), INCD_LENGTH_OK);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(incd_parse_content_length("", 100, &n), INCD_LENGTH_OK);
	ck_assert_int_eq(incd_parse_content_length("42", 100, &n), INCD_LENGTH_OK);
	ck_assert_uint_eq(n, 42);
	ck_assert_int_eq(incd_parse_content_length("100", 100, &n), INCD_LENGTH_OK);
	ck_assert_int_eq(incd_parse_content_length("101", 100, &n), INCD_LENGTH_TOO_LARGE);
	ck_assert_int_eq(incd_parse_content_length("99999999999999999999999999", 100, &n),
			 INCD_LENGTH_TOO_LARGE);
	ck_assert_int_eq(incd_parse_content_length("-1", 100, &n), INCD_LENGTH_INVALID);
	ck_assert_int_eq(incd_parse_content_length("1 ", 100, &n), INCD_LENGTH_INVALID);
	ck_assert_int_eq(incd_parse_content_length("0x10", 100, &n), INCD_LENGTH_INVALID);
}
END_TEST

START_TEST(uri_path)
{
	char *p;
	ck_assert(incd_parse_uri_path("/v1/incidents?page_size=2", &p));
	ck_assert_str_eq(p, "/v1/incidents");
	free(p);
	ck_assert(incd_parse_uri_path("/v1/inc%69dents", &p));
	ck_assert_str_eq(p, "/v1/incidents");
	free(p);
	ck_assert(!incd_parse_uri_path("/v1/%00", &p));
	ck_assert(!incd_parse_uri_path("/v1/%4", &p));
	ck_assert(!incd_parse_uri_path("/v1/%zz", &p));
	ck_assert(!incd_parse_uri_path("/v1/incidents/%FF", &p));
	ck_assert(incd_parse_uri_path("/v1/%C3%A9", &p));
	ck_assert_str_eq(p, "/v1/\xc3\xa9");
	free(p);
}
END_TEST

START_TEST(query_pairs)
{
	const char *q = "status=triage&&status=fix%69ng&after=&flag&page_size=1+0";
	char name[32], value[32];
	bool bad;
	ck_assert(incd_query_next(&q, name, sizeof name, value, sizeof value, &bad));
	ck_assert(!bad);
	ck_assert_str_eq(name, "status");
	ck_assert_str_eq(value, "triage");
	ck_assert(incd_query_next(&q, name, sizeof name, value, sizeof value, &bad));
	ck_assert_str_eq(value, "fixing");
	ck_assert(incd_query_next(&q, name, sizeof name, value, sizeof value, &bad));
	ck_assert_str_eq(name, "after");
	ck_assert_str_eq(value, "");
	ck_assert(incd_query_next(&q, name, sizeof name, value, sizeof value, &bad));
	ck_assert_str_eq(name, "flag");
	ck_assert_str_eq(value, "");
	ck_assert(incd_query_next(&q, name, sizeof name, value, sizeof value, &bad));
	ck_assert_str_eq(value, "1 0");
	ck_assert(!incd_query_next(&q, name, sizeof name, value, sizeof value, &bad));

	const char *broken = "after=%0";
	ck_assert(incd_query_next(&broken, name, sizeof name, value, sizeof value, &bad));
	ck_assert(bad);
	const char *latin1 = "after=%E9";
	ck_assert(incd_query_next(&latin1, name, sizeof name, value, sizeof value, &bad));
	ck_assert(bad);
	const char *nul = "after=a%00b";
	ck_assert(incd_query_next(&nul, name, sizeof name, value, sizeof value, &bad));
	ck_assert(bad);
	ck_assert_str_eq(name, "after");
}
END_TEST

/* A name that does not decode comes back as sent, for source.field; bytes
 * other than printable ASCII percent-encoded so that it stays UTF-8. */
START_TEST(query_undecodable_names)
{
	static const struct {
		const char *query, *name;
	} cases[] = {
	    {"%zz=1", "%zz"},
	    {"%00=5&x=1", "%00"},
	    {"a%0=1", "a%0"},
	    {"%E9t%E9=1", "%E9t%E9"},
	    {"\xe9\xff=1", "%E9%FF"},
	    {"st%00atus", "st%00atus"},
	    {"\x01"
	     "a+b%=",
	     "%01a+b%"},
	};
	char name[32], value[32];
	bool bad;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *q = cases[i].query;
		ck_assert(incd_query_next(&q, name, sizeof name, value, sizeof value, &bad));
		ck_assert_msg(bad, "decoded: %s", cases[i].query);
		ck_assert_str_eq(name, cases[i].name);
	}
	/* Cut to the buffer, never past it. */
	const char *q = "%zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz=1";
	ck_assert(incd_query_next(&q, name, 8, value, sizeof value, &bad));
	ck_assert(bad);
	ck_assert_str_eq(name, "%zzzzzz");
	q = "\xff\xff\xff=1";
	ck_assert(incd_query_next(&q, name, 8, value, sizeof value, &bad));
	ck_assert_str_eq(name, "%FF%FF");
}
END_TEST

START_TEST(query_check)
{
	static const struct {
		const char *query, *field; /* field NULL: the query is fine */
	} cases[] = {
	    {"", NULL},
	    {"status=triage&status=fix%69ng&after=&flag&page_size=1+0", NULL},
	    {"caf%C3%A9=%E2%82%AC&%F0%9F%98%80", NULL},
	    {"%zz=1", "%zz"},
	    {"%00=5&x=1", "%00"},
	    {"x=1&status=%zz", "status"},
	    {"x=1&status=a%00b&%zz=2", "status"},
	    {"after=%E9", "after"},
	    {"caf%C3%A9=%ff", "caf\xc3\xa9"},
	    {"unknown=%", "unknown"},
	    /* no escape at all: bytes as sent must still be UTF-8 */
	    {"a=\xff", "a"},
	    {"x=1&\xe9=1", "%E9"},
	    {"caf\xc3\xa9=\xe2\x82\xac+x", NULL},
	};
	char field[256];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		bool ok = incd_query_check(cases[i].query, field, sizeof field);
		ck_assert_msg(ok == (cases[i].field == NULL), "%s", cases[i].query);
		ck_assert_str_eq(field, cases[i].field ? cases[i].field : "");
	}
	/* Long names and values are judged whole, and the field is cut
	 * before a character that does not fit, never inside one. */
	char q[1200] = "";
	for (int i = 0; i < 150; i++)
		strcat(q, "%C3%A9"); /* 300 bytes decoded */
	strcat(q, "=%zz");
	ck_assert(!incd_query_check(q, field, sizeof field));
	ck_assert_uint_eq(strlen(field), 254);
	ck_assert_str_eq(field + 252, "\xc3\xa9");
	q[strlen(q) - 3] = '\0';
	strcat(q, "ok");
	ck_assert(incd_query_check(q, field, sizeof field));
}
END_TEST

START_TEST(uint_parse)
{
	long v;
	bool over;
	ck_assert(incd_parse_uint("25", 250, &v, &over));
	ck_assert_int_eq(v, 25);
	ck_assert(!over);
	ck_assert(incd_parse_uint("100000000000000000000000", 250, &v, &over));
	ck_assert_int_eq(v, 250);
	ck_assert(over);
	ck_assert(!incd_parse_uint("", 250, &v, &over));
	ck_assert(!incd_parse_uint("-3", 250, &v, &over));
	ck_assert(!incd_parse_uint("2.5", 250, &v, &over));
	ck_assert(!incd_parse_uint("abc", 250, &v, &over));
}
END_TEST

START_TEST(bearer)
{
	const char *t;
	size_t n;
	ck_assert(incd_bearer_token("Bearer abc", &t, &n));
	ck_assert_uint_eq(n, 3);
	ck_assert(strncmp(t, "abc", 3) == 0);
	ck_assert(incd_bearer_token("bearer   abc  ", &t, &n));
	ck_assert_uint_eq(n, 3);
	ck_assert(!incd_bearer_token("Basic abc", &t, &n));
	ck_assert(!incd_bearer_token("Bearer", &t, &n));
	ck_assert(!incd_bearer_token("Bearer   ", &t, &n));
	ck_assert(!incd_bearer_token("Bearerabc", &t, &n));
	ck_assert(!incd_bearer_token(NULL, &t, &n));
}
END_TEST

START_TEST(methods_and_ids)
{
	ck_assert_int_eq(incd_method_parse("GET"), INCD_GET);
	ck_assert_int_eq(incd_method_parse("DELETE"), INCD_DELETE);
	ck_assert_int_eq(incd_method_parse("get"), INCD_METHOD_OTHER);
	ck_assert_int_eq(incd_method_parse(NULL), INCD_METHOD_OTHER);
	char a[33], b[33];
	incd_request_id_new(a);
	incd_request_id_new(b);
	ck_assert_uint_eq(strlen(a), 32);
	ck_assert_str_ne(a, b);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("request");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, content_length);
	tcase_add_test(tc, uri_path);
	tcase_add_test(tc, query_pairs);
	tcase_add_test(tc, query_undecodable_names);
	tcase_add_test(tc, query_check);
	tcase_add_test(tc, uint_parse);
	tcase_add_test(tc, bearer);
	tcase_add_test(tc, methods_and_ids);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"
