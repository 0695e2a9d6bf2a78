/* Logging: a timestamp, the pid and the level on each line, to stderr. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

enum incd_log_level incd_log_threshold = INCD_LOG_INFO;
static pid_t log_pid;

void incd_log_set_pid(void)
{
	log_pid = getpid();
}

static const char *const level_names[] = {"error", "warn", "info", "debug"};

bool incd_log_parse_level(const char *s, enum incd_log_level *out)
{
	for (size_t i = 0; i < INCD_ARRAY_LEN(level_names); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum incd_log_level)i;
			return true;
		}
	}
	return false;
}

/* Keeps a message on its line: messages from libpq and PostgreSQL end in
 * a newline and may hold more ("...failed: Connection refused\n\tIs the
 * server running..."), and a line without the prefix is one no reader of
 * the log can place. Drops trailing line breaks from line[from..len) and
 * turns the others and tabs into spaces; returns the new length. */
static size_t one_line(char *line, size_t from, size_t len)
{
	while (len > from && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	for (size_t i = from; i < len; i++)
		if (line[i] == '\n' || line[i] == '\r' || line[i] == '\t')
			line[i] = ' ';
	return len;
}

void incd_log(enum incd_log_level level, const char *fmt, ...)
{
	if (!incd_log_enabled(level))
		return;

	char line[2048];
	struct timeval tv;
	struct tm tm;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	int n = snprintf(
	    line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ [%d] %s: ", tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)(tv.tv_usec / 1000),
	    (int)(log_pid ? log_pid : getpid()), level_names[level]);
	va_list ap;
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof line)
		vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	va_end(ap);
	/* One write per line keeps lines from different workers whole. */
	size_t len = strnlen(line, sizeof line - 2);
	len = one_line(line, n > 0 && (size_t)n < len ? (size_t)n : len, len);
	line[len++] = '\n';
	ssize_t ignored = write(STDERR_FILENO, line, len);
	(void)ignored;
}
