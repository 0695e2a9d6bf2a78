/* Strict JSON parsing and typed getters with field paths. */
#include <check.h>
#include <string.h>

#include "jsonv.h"

static struct json_object *parse(const char *s, struct incd_error *err)
{
	memset(err, 0, sizeof *err);
	return incd_json_parse(s, strlen(s), err);
}

START_TEST(valid_documents)
{
	struct incd_error err;
	struct json_object *o = parse("{\"a\": [1, 2, {\"b\": null}], \"c\": "
				      "\"\\u00e9\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}\n",
				      &err);
	ck_assert_ptr_nonnull(o);
	json_object_put(o);
	o = parse("[]", &err);
	ck_assert_ptr_nonnull(o);
	json_object_put(o);
}
END_TEST

START_TEST(invalid_documents_are_400)
{
	const char *bad[] = {
	    "",
	    "{",
	    "{\"a\":1,}",
	    "{'a':1}",
	    "{\"a\":1} x",
	    "{\"a\":1}{}",
	    "nul",
	    "\"\xff\xfe\"",
	    "{\"a\":\"\xc3\"}",
	    "[NaN]",
	    "[Infinity]",
	    "[1.]",
	    "[01]",
	    "[\"a\tb\"]",
	    "[\"\\x41\"]",
	    "{\"a\" 1}",
	    "[1,]",
	    "{\"a\":1,,}",
	    "[\"\xc0\xaf\"]",
	    "[\"\xed\xa0\x80\"]",
	    "[\"\xf4\x90\x80\x80\"]",
	    "[\"\xe2\x82\"]",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct incd_error err;
		struct json_object *o = parse(bad[i], &err);
		ck_assert_msg(o == NULL, "accepted: %s", bad[i]);
		ck_assert_int_eq(err.status, 400);
		ck_assert_str_eq(err.code, "invalid_json");
	}
}
END_TEST

/* json-c turns a \u escape of a lone or misordered UTF-16 surrogate into
 * U+FFFD; the body is not UTF-8 text then, so it is refused instead. */
START_TEST(surrogate_escapes)
{
	static const char *const bad[] = {
	    "[\"\\ud800\"]",			  /* lone high */
	    "[\"\\udc00\"]",			  /* lone low */
	    "[\"\\uDBFF\"]",			  /* lone high, upper case */
	    "[\"\\udc00\\ud800\"]",		  /* reversed pair */
	    "[\"\\ud800\\ud800\"]",		  /* two highs */
	    "[\"\\ud800x\"]",			  /* high, then a character */
	    "[\"\\ud800\\n\"]",			  /* high, then another escape */
	    "[\"\\ud800\\u0041\"]",		  /* high, then a non-surrogate */
	    "[\"\\ud800\\u\"]",			  /* high, then a broken escape */
	    "[\"\\ud800\"",			  /* high at the end of the input */
	    "{\"\\udfff\":1}",			  /* in a member name */
	    "{\"k\":\"a\\ud83d\\ude00\\ud83d\"}", /* a pair, then a lone high */
	};
	static const char *const good[] = {
	    "[\"\\ud83d\\ude00\"]", /* U+1F600 */
	    "[\"\\uD800\\uDC00\"]", /* U+10000, the first pair */
	    "[\"\\udbff\\udfff\"]", /* U+10FFFF, the last pair */
	    "[\"\\ud7ff\\ue000\"]", /* either side of the surrogates */
	};
	struct incd_error err;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct json_object *o = parse(bad[i], &err);
		ck_assert_msg(o == NULL, "accepted: %s", bad[i]);
		ck_assert_int_eq(err.status, 400);
		ck_assert_str_eq(err.code, "invalid_json");
	}
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		struct json_object *o = parse(good[i], &err);
		ck_assert_msg(o != NULL, "refused: %s", good[i]);
		json_object_put(o);
	}
	struct json_object *o = parse("[\"\\ud83d\\ude00\"]", &err);
	ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(o, 0)),
			 "\xf0\x9f\x98\x80");
	json_object_put(o);
	/* The replay peek checks the same grammar: a lone surrogate anywhere
	 * leaves the key to the full parse, which refuses the body. */
	const char *doc = "{\"idempotency_key\":\"k\",\"name\":\"\\ud800\"}", *v;
	size_t n;
	ck_assert(!incd_json_top_string(doc, strlen(doc), "idempotency_key", &v, &n));
}
END_TEST

/* Each valid pair is the one character it encodes, json-c's blind spot
 * included: it took code points whose low 16 bits are D800-DFFF (U+1D800,
 * CJK extension F's U+2D800, ...) for surrogates and stored U+FFFD. */
START_TEST(surrogate_pairs_decode)
{
	static const struct {
		const char *doc, *want;
	} cases[] = {
	    {"[\"\\ud836\\udc00\"]", "\xf0\x9d\xa0\x80"}, /* U+1D800 */
	    {"[\"\\ud837\\ude00\"]", "\xf0\x9d\xb8\x80"}, /* U+1DE00 */
	    {"[\"\\uD876\\uDC00\"]", "\xf0\xad\xa0\x80"}, /* U+2D800 */
	    {"[\"\\udbf7\\udfff\"]", "\xf4\x8d\xbf\xbf"}, /* U+10DFFF */
	    {"[\"\\udbff\\udfff\"]", "\xf4\x8f\xbf\xbf"}, /* U+10FFFF */
	    {"[\"a\\ud83d\\ude00b\\u00e9\\n\"]", "a\xf0\x9f\x98\x80"
						 "b\xc3\xa9\n"},
	    /* an escaped backslash, then text that only looks like an escape */
	    {"[\"\\\\ud836\\ud836\\udc00\\\\\"]", "\\ud836\xf0\x9d\xa0\x80\\"},
	    {"[\"\\u005cud836\\ud836\\udc00\"]", "\\ud836\xf0\x9d\xa0\x80"},
	};
	struct incd_error err;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct json_object *o = parse(cases[i].doc, &err);
		ck_assert_msg(o != NULL, "refused: %s", cases[i].doc);
		ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(o, 0)),
				 cases[i].want);
		json_object_put(o);
	}
	/* In member names too, and the rest of the document intact. */
	struct json_object *o =
	    parse("{\"k\\ud836\\udc00\": [1, \"\\ud836\\udc00\"], \"z\": 2}", &err);
	ck_assert_ptr_nonnull(o);
	ck_assert_str_eq(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
			 "{\"k\xf0\x9d\xa0\x80\":[1,\"\xf0\x9d\xa0\x80\"],\"z\":2}");
	json_object_put(o);
}
END_TEST

START_TEST(depth_limit)
{
	char deep[200];
	memset(deep, '[', 100);
	memset(deep + 100, ']', 100);
	struct incd_error err;
	struct json_object *o = incd_json_parse(deep, sizeof deep, &err);
	ck_assert_ptr_null(o);
	ck_assert_int_eq(err.status, 400);
}
END_TEST

START_TEST(string_getter)
{
	struct incd_error err;
	struct json_object *o =
	    parse("{\"name\":\"héllo\",\"n\":5,\"z\":null,\"nul\":\"a\\u0000b\","
		  "\"empty\":\"\"}",
		  &err);
	const char *s;
	ck_assert(incd_jv_string(o, "", "name", true, 1, 5, &s, &err));
	ck_assert_str_eq(s, "héllo");
	ck_assert(!incd_jv_string(o, "", "name", true, 1, 4, &s, &err));
	ck_assert_int_eq(err.status, 422);
	ck_assert_str_eq(err.code, "invalid_value");
	ck_assert_str_eq(err.field, "name");
	ck_assert(!incd_jv_string(o, "x[0]", "n", false, 0, 10, &s, &err));
	ck_assert_str_eq(err.field, "x[0].n");
	ck_assert(incd_jv_string(o, "", "z", false, 0, 10, &s, &err));
	ck_assert_ptr_null(s);
	ck_assert(!incd_jv_string(o, "", "missing", true, 1, 10, &s, &err));
	ck_assert_str_eq(err.code, "is_required");
	ck_assert(!incd_jv_string(o, "", "nul", false, 0, 10, &s, &err));
	ck_assert_str_eq(err.code, "invalid_value");
	ck_assert_ptr_nonnull(strstr(err.message, "NUL"));
	ck_assert(!incd_jv_string(o, "", "empty", true, 1, 10, &s, &err));
	json_object_put(o);
}
END_TEST

START_TEST(enum_array_object)
{
	static const char *const vis[] = {"public", "private", NULL};
	struct incd_error err;
	struct json_object *o =
	    parse("{\"v\":\"secret\",\"w\":\"private\",\"a\":{},\"b\":[]}", &err);
	const char *s;
	struct json_object *x;
	ck_assert(incd_jv_enum(o, "", "w", true, vis, &s, &err));
	ck_assert_str_eq(s, "private");
	ck_assert(!incd_jv_enum(o, "", "v", true, vis, &s, &err));
	ck_assert_str_eq(err.field, "v");
	ck_assert_ptr_nonnull(strstr(err.message, "public, private"));
	ck_assert(!incd_jv_array(o, "", "a", true, &x, &err));
	ck_assert(incd_jv_array(o, "", "b", true, &x, &err));
	ck_assert(incd_jv_object(o, "", "a", true, &x, &err));
	ck_assert(incd_jv_object(o, "", "none", false, &x, &err));
	ck_assert_ptr_null(x);
	json_object_put(o);
}
END_TEST

START_TEST(paths)
{
	char a[64], b[64];
	incd_jv_index(a, sizeof a, "custom_field_entries", 0);
	incd_jv_path(b, sizeof b, a, "values");
	incd_jv_index(a, sizeof a, b, 1);
	incd_jv_path(b, sizeof b, a, "value_option_id");
	ck_assert_str_eq(b, "custom_field_entries[0].values[1].value_option_id");
}
END_TEST

/* The key found, as a string, or "(none)". */
static const char *peek(const char *doc)
{
	static char out[512];
	const char *v;
	size_t n;
	if (!incd_json_top_string(doc, strlen(doc), "idempotency_key", &v, &n))
		return "(none)";
	ck_assert_uint_lt(n, sizeof out);
	memcpy(out, v, n);
	out[n] = '\0';
	return out;
}

START_TEST(top_string_peek)
{
	static const struct {
		const char *doc, *want;
	} cases[] = {
	    {"{\"idempotency_key\":\"k1\",\"visibility\":\"public\"}", "k1"},
	    {" { \"a\" : [1, {\"idempotency_key\": \"inner\"}] ,\n\"idempotency_key\" : \"k2\" } ",
	     "k2"},
	    {"{\"idempotency_key\":\"caf\xc3\xa9\"}", "caf\xc3\xa9"},
	    {"{\"idempotency_key\":\"\"}", ""},
	    /* repeated names: the last one, as json-c keeps it */
	    {"{\"idempotency_key\":\"a\",\"idempotency_key\":\"b\"}", "b"},
	    {"{\"idempotency_key\":\"a\",\"idempotency_key\":7}", "(none)"},
	    /* escapes leave it to the full parse */
	    {"{\"idempotency_key\":\"a\\\"b\"}", "(none)"},
	    {"{\"idempotency_key\":\"a\",\"idempotency\\u005fkey\":\"b\"}", "(none)"},
	    /* not strict JSON, not an object, absent, nested only, not a string */
	    {"{\"idempotency_key\":\"a\",}", "(none)"},
	    {"{'idempotency_key':\"a\"}", "(none)"},
	    {"{\"idempotency_key\":\"a\"} x", "(none)"},
	    {"{\"idempotency_key\":\"\xc0\xaf\"}", "(none)"},
	    {"[\"idempotency_key\"]", "(none)"},
	    {"{}", "(none)"},
	    {"{\"x\":{\"idempotency_key\":\"a\"}}", "(none)"},
	    {"{\"idempotency_key\":null}", "(none)"},
	    {"", "(none)"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		ck_assert_str_eq(peek(cases[i].doc), cases[i].want);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("jsonv");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, valid_documents);
	tcase_add_test(tc, invalid_documents_are_400);
	tcase_add_test(tc, surrogate_escapes);
	tcase_add_test(tc, surrogate_pairs_decode);
	tcase_add_test(tc, depth_limit);
	tcase_add_test(tc, string_getter);
	tcase_add_test(tc, enum_array_object);
	tcase_add_test(tc, paths);
	tcase_add_test(tc, top_string_peek);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"
