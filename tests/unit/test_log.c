/* Logging: each message is one line with the timestamp, pid and level,
 * whatever line breaks the message itself holds (libpq's end in one). */
#include <check.h>
#include <regex.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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

static Suite *make_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, one_line_per_message);
	tcase_add_test(tc, empty_message_keeps_its_prefix);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"
