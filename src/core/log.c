/* Logging: a timestamp, the pid and the level on each line, to stderr; as
 * text or as JSON lines (--log-format). */
#include "log.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

enum incd_log_level incd_log_threshold = INCD_LOG_INFO;
enum incd_log_format incd_log_format = INCD_LOG_TEXT;
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

bool incd_log_parse_format(const char *s, enum incd_log_format *out)
{
	if (strcmp(s, "text") == 0 || strcmp(s, "json") == 0) {
		*out = s[0] == 'j' ? INCD_LOG_JSON : INCD_LOG_TEXT;
		return true;
	}
	return false;
}

size_t incd_log_json_escape(char *out, size_t cap, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0;
	for (size_t i = 0; i < len;) {
		char esc[8];
		const char *piece = esc;
		size_t n, used = 1;
		unsigned char c = p[i];
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			n = 2;
		} else if (c < 0x20) {
			const char *named = c == '\n'	? "\\n"
					    : c == '\r' ? "\\r"
					    : c == '\t' ? "\\t"
							: NULL;
			if (named != NULL) {
				piece = named;
				n = 2;
			} else {
				memcpy(esc, "\\u00", 4);
				esc[4] = hex[c >> 4];
				esc[5] = hex[c & 15];
				n = 6;
			}
		} else if (c < 0x80) {
			piece = (const char *)p + i;
			n = 1;
		} else if ((used = incd_utf8_seq(p + i, p + len)) > 0) {
			piece = (const char *)p + i;
			n = used;
		} else {
			piece = "\\ufffd";
			n = 6;
			used = 1;
		}
		if (o + n >= cap)
			break;
		memcpy(out + o, piece, n);
		o += n;
		i += used;
	}
	out[o] = '\0';
	return o;
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

/* The time as "2026-01-02T03:04:05.678Z" into t (64 bytes: room for any struct tm). */
static void now_text(char *t, size_t cap)
{
	struct timeval tv;
	struct tm tm;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	snprintf(t, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)(tv.tv_usec / 1000));
}

static int pid_now(void)
{
	return (int)(log_pid ? log_pid : getpid());
}

/* One write per line keeps lines from different workers whole. */
static void emit(char *line, size_t len)
{
	line[len++] = '\n';
	ssize_t ignored = write(STDERR_FILENO, line, len);
	(void)ignored;
}

/* Appends ,"name":"s" to line[0..*len), s cut short if need be, always
 * keeping room for the closing quote, "}" and the newline; a member whose
 * name does not fit is left out. */
static void json_member(char *line, size_t cap, size_t *len, const char *name, const char *s)
{
	if (*len + 8 > cap)
		return;
	size_t room = cap - 3 - *len;
	int n = snprintf(line + *len, room, ",\"%s\":\"", name);
	if (n < 0 || (size_t)n >= room)
		return;
	*len += (size_t)n;
	*len += incd_log_json_escape(line + *len, room - (size_t)n, s, strlen(s));
	line[(*len)++] = '"';
}

/* The start of a JSON line: {"time":..,"level":..,"pid":.. */
static size_t json_start(char *line, size_t cap, enum incd_log_level level)
{
	char t[64];
	now_text(t, sizeof t);
	int n = snprintf(line, cap, "{\"time\":\"%s\",\"level\":\"%s\",\"pid\":%d", t,
			 level_names[level], pid_now());
	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static void json_end(char *line, size_t cap, size_t len)
{
	if (len > cap - 3)
		len = cap - 3;
	line[len++] = '}';
	emit(line, len);
}

void incd_log(enum incd_log_level level, const char *fmt, ...)
{
	if (!incd_log_enabled(level))
		return;

	char line[2048];
	va_list ap;
	va_start(ap, fmt);
	if (incd_log_format == INCD_LOG_JSON) {
		char msg[1536];
		vsnprintf(msg, sizeof msg, fmt, ap);
		va_end(ap);
		size_t len = json_start(line, sizeof line, level);
		size_t mlen = strlen(msg);
		while (mlen > 0 && (msg[mlen - 1] == '\n' || msg[mlen - 1] == '\r'))
			msg[--mlen] = '\0';
		json_member(line, sizeof line, &len, "msg", msg);
		json_end(line, sizeof line, len);
		return;
	}
	char t[64];
	now_text(t, sizeof t);
	int n = snprintf(line, sizeof line, "%s [%d] %s: ", t, pid_now(), level_names[level]);
	if (n > 0 && (size_t)n < sizeof line)
		vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	va_end(ap);
	size_t len = strnlen(line, sizeof line - 2);
	len = one_line(line, n > 0 && (size_t)n < len ? (size_t)n : len, len);
	emit(line, len);
}

void incd_log_access(const struct incd_access *a)
{
	const char *state = a->sqlstate ? a->sqlstate : "";
	long long us = a->duration_us;
	if (incd_log_format == INCD_LOG_TEXT) {
		incd_log(INCD_LOG_INFO, "%s %s %d %lld.%03lldms rid=%s%s%s", a->method, a->path,
			 a->status, us / 1000, us % 1000, a->request_id, *state ? " sqlstate=" : "",
			 state);
		return;
	}
	char line[2048];
	size_t len = json_start(line, sizeof line, INCD_LOG_INFO);
	json_member(line, sizeof line, &len, "msg", "access");
	json_member(line, sizeof line, &len, "request_id", a->request_id);
	json_member(line, sizeof line, &len, "method", a->method);
	if (a->route != NULL && *a->route)
		json_member(line, sizeof line, &len, "route", a->route);
	int n =
	    snprintf(line + len, sizeof line - 3 - len,
		     ",\"status\":%d,\"duration_ms\":%lld.%03lld", a->status, us / 1000, us % 1000);
	if (n > 0 && (size_t)n < sizeof line - 3 - len)
		len += (size_t)n;
	if (*state)
		json_member(line, sizeof line, &len, "sqlstate", state);
	/* The path last: the one field a client chooses, so the one cut short
	 * if the line is full. */
	json_member(line, sizeof line, &len, "path", a->path);
	json_end(line, sizeof line, len);
}
