/* Logging: each message is one line with the timestamp, pid and level,
 * whatever line breaks the message itself holds (libpq's end in one). */
#include <check.h>
#include <regex.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "log.h"

/* Runs fn with stderr sent to a temporary file and returns what it wrote
 * (in a static buffer). */
static const char *captured(void (*fn)(void))
{
	static char out[8192];
	FILE *tmp = tmpfile();
	ck_assert_ptr_nonnull(tmp);
	int saved = dup(STDERR_FILENO);
	ck_assert_int_ge(saved, 0);
	ck_assert_int_ge(dup2(fileno(tmp), STDERR_FILENO), 0);
	fn();
	ck_assert_int_ge(dup2(saved, STDERR_FILENO), 0);
	close(saved);
	rewind(tmp);
	size_t n = fread(out, 1, sizeof out - 1, tmp);
	out[n] = '\0';
	fclose(tmp);
	return out;
}

static void log_libpq_style(void)
{
	incd_log_threshold = INCD_LOG_INFO;
	incd_log(INCD_LOG_WARN, "could not connect to the database: %s",
		 "connection to server at \"127.0.0.1\", port 1 failed: Connection refused\n"
		 "\tIs the server running on that host and accepting TCP/IP connections?\n");
	incd_log(INCD_LOG_WARN, "database %s: %s", "WARNING",
		 "terminating connection due to immediate shutdown command\r\n\n");
	incd_log(INCD_LOG_INFO, "plain");
	incd_log(INCD_LOG_DEBUG, "below the threshold\n");
}

START_TEST(one_line_per_message)
{
	const char *out = captured(log_libpq_style);
	regex_t re;
	ck_assert_int_eq(
	    regcomp(&re,
		    "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "
		    "\\[[0-9]+\\] (error|warn|info|debug): [^\n]+$",
		    REG_EXTENDED | REG_NOSUB),
	    0);
	char copy[8192];
	snprintf(copy, sizeof copy, "%s", out);
	int lines = 0;
	for (char *save, *line = strtok_r(copy, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save), lines++)
		ck_assert_msg(regexec(&re, line, 0, NULL, 0) == 0, "not a log line: [%s]", line);
	regfree(&re);
	ck_assert_int_eq(lines, 3);
	ck_assert_ptr_nonnull(
	    strstr(out, "warn: could not connect to the database: connection to server at "
			"\"127.0.0.1\", port 1 failed: Connection refused  Is the server running"));
	ck_assert_ptr_nonnull(strstr(out, "warn: database WARNING: terminating connection due to "
					  "immediate shutdown command\n"));
	ck_assert_ptr_nonnull(strstr(out, "info: plain\n"));
	ck_assert_ptr_null(strstr(out, "threshold"));
}
END_TEST

static void log_only_breaks(void)
{
	incd_log_threshold = INCD_LOG_INFO;
	incd_log(INCD_LOG_ERROR, "%s", "\n\n");
}

START_TEST(empty_message_keeps_its_prefix)
{
	const char *out = captured(log_only_breaks);
	size_t n = strlen(out);
	ck_assert_uint_gt(n, 0);
	ck_assert_ptr_null(memchr(out, '\n', n - 1));
	ck_assert_ptr_nonnull(strstr(out, "error: \n"));
}
END_TEST

static const char *escaped(const char *s, size_t len, size_t cap)
{
	static char out[512];
	ck_assert_uint_le(cap, sizeof out);
	size_t n = incd_log_json_escape(out, cap, s, len);
	ck_assert_uint_eq(n, strlen(out));
	ck_assert_uint_lt(n, cap);
	return out;
}

START_TEST(json_escape)
{
	ck_assert_str_eq(escaped("a\"b\\c", 5, 64), "a\\\"b\\\\c");
	ck_assert_str_eq(escaped("\n\r\t\x01\x1f", 5, 64), "\\n\\r\\t\\u0001\\u001f");
	ck_assert_str_eq(escaped("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14, 64),
			 "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	/* A NUL inside the bytes given is a control byte like the others. */
	ck_assert_str_eq(escaped("a\0b", 3, 64), "a\\u0000b");
	/* Not UTF-8: a lone continuation byte, 0xff, an overlong '/', a
	 * surrogate, past U+10FFFF, a sequence cut short at the end. */
	ck_assert_str_eq(escaped("\x80", 1, 64), "\\ufffd");
	ck_assert_str_eq(escaped("G\xff"
				 "T",
				 3, 64),
			 "G\\ufffdT");
	ck_assert_str_eq(escaped("\xc0\xaf", 2, 64), "\\ufffd\\ufffd");
	ck_assert_str_eq(escaped("\xed\xa0\x80", 3, 64), "\\ufffd\\ufffd\\ufffd");
	ck_assert_str_eq(escaped("\xf4\x90\x80\x80", 4, 64), "\\ufffd\\ufffd\\ufffd\\ufffd");
	ck_assert_str_eq(escaped("ok\xe2\x82", 4, 64), "ok\\ufffd\\ufffd");
	/* Cut to fit, never inside an escape or a character. */
	ck_assert_str_eq(escaped("ab\"cd", 5, 4), "ab");
	ck_assert_str_eq(escaped("a\xe2\x82\xac", 4, 4), "a");
	ck_assert_str_eq(escaped("a\xe2\x82\xac", 4, 5), "a\xe2\x82\xac");
}
END_TEST

/* Every line parses as one JSON object (json-c, strict) whose strings are
 * what was logged. */
static json_object *parse_line(const char *line, size_t len)
{
	json_tokener *tok = json_tokener_new();
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	json_object *o = json_tokener_parse_ex(tok, line, (int)len);
	ck_assert_msg(o != NULL && json_tokener_get_error(tok) == json_tokener_success &&
			  json_tokener_get_parse_end(tok) == len,
		      "not one JSON object: [%.*s]", (int)len, line);
	json_tokener_free(tok);
	return o;
}

static const char *member(json_object *o, const char *name)
{
	json_object *v = NULL;
	if (!json_object_object_get_ex(o, name, &v))
		return NULL;
	return json_object_get_string(v);
}

static char long_path[4000];

static void log_json(void)
{
	incd_log_threshold = INCD_LOG_INFO;
	incd_log_format = INCD_LOG_JSON;
	incd_log(INCD_LOG_WARN, "could not connect: %s", "refused\n\tIs the server running?\n");
	struct incd_access a = {.method = "G\xff\"T",
				.path = "/v1/\"q\"\\\x01\n\xc3(",
				.route = NULL,
				.status = 404,
				.duration_us = 1234,
				.request_id = "r\"1",
				.sqlstate = ""};
	incd_log_access(&a);
	memset(long_path, 'x', sizeof long_path - 1);
	memcpy(long_path + 1000, "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac", 9);
	struct incd_access b = {.method = "POST",
				.path = long_path,
				.route = "/v1/incidents",
				.status = 503,
				.duration_us = 2000001,
				.request_id = "rid",
				.sqlstate = "57P01"};
	incd_log_access(&b);
	incd_log_format = INCD_LOG_TEXT;
}

START_TEST(json_lines)
{
	const char *out = captured(log_json);
	const char *p = out;
	json_object *o[3];
	for (int i = 0; i < 3; i++) {
		const char *nl = strchr(p, '\n');
		ck_assert_ptr_nonnull(nl);
		ck_assert_uint_le((size_t)(nl - p) + 1, 2048);
		o[i] = parse_line(p, (size_t)(nl - p));
		p = nl + 1;
	}
	ck_assert_str_eq(p, "");
	ck_assert_str_eq(member(o[0], "level"), "warn");
	ck_assert_str_eq(member(o[0], "msg"),
			 "could not connect: refused\n\tIs the server running?");
	ck_assert_ptr_nonnull(member(o[0], "time"));
	ck_assert_int_eq(json_object_get_type(json_object_object_get(o[0], "pid")), json_type_int);

	ck_assert_str_eq(member(o[1], "msg"), "access");
	ck_assert_str_eq(member(o[1], "level"), "info");
	ck_assert_str_eq(member(o[1], "method"), "G\xef\xbf\xbd\"T");
	ck_assert_str_eq(member(o[1], "path"), "/v1/\"q\"\\\x01\n\xef\xbf\xbd(");
	ck_assert_str_eq(member(o[1], "request_id"), "r\"1");
	ck_assert_ptr_null(member(o[1], "route"));
	ck_assert_ptr_null(member(o[1], "sqlstate"));
	ck_assert_int_eq(json_object_get_int(json_object_object_get(o[1], "status")), 404);
	ck_assert_double_eq_tol(json_object_get_double(json_object_object_get(o[1], "duration_ms")),
				1.234, 1e-9);

	ck_assert_str_eq(member(o[2], "route"), "/v1/incidents");
	ck_assert_str_eq(member(o[2], "sqlstate"), "57P01");
	ck_assert_double_eq_tol(json_object_get_double(json_object_object_get(o[2], "duration_ms")),
				2000.001, 1e-9);
	/* The long path is cut, the line still whole. */
	const char *path = member(o[2], "path");
	ck_assert_uint_gt(strlen(path), 1500);
	ck_assert_uint_lt(strlen(path), sizeof long_path - 1);
	ck_assert_int_eq(strncmp(path, long_path, strlen(path)), 0);
	for (int i = 0; i < 3; i++)
		json_object_put(o[i]);
}
END_TEST

START_TEST(parse_format)
{
	enum incd_log_format f = INCD_LOG_TEXT;
	ck_assert(incd_log_parse_format("json", &f) && f == INCD_LOG_JSON);
	ck_assert(incd_log_parse_format("text", &f) && f == INCD_LOG_TEXT);
	ck_assert(!incd_log_parse_format("JSON", &f));
	ck_assert(!incd_log_parse_format("", &f));
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, one_line_per_message);
	tcase_add_test(tc, empty_message_keeps_its_prefix);
	tcase_add_test(tc, json_escape);
	tcase_add_test(tc, json_lines);
	tcase_add_test(tc, parse_format);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"
