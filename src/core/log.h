/* Logging to stderr: one line per message, level-filtered before formatting. */
#ifndef INCIDENTD_LOG_H
#define INCIDENTD_LOG_H

#include <stdbool.h>

#include "util.h"

enum incd_log_level {
	INCD_LOG_ERROR, /* something failed that an operator must look at */
	INCD_LOG_WARN,	/* degraded but handled: database down, worker died */
	INCD_LOG_INFO,	/* lifecycle and one access line per request */
	INCD_LOG_DEBUG, /* detail for developers */
};

extern enum incd_log_level incd_log_threshold;

enum incd_log_format {
	INCD_LOG_TEXT, /* "TIME [PID] LEVEL: message" */
	INCD_LOG_JSON, /* one JSON object per line (JSON lines), docs/CONFIG.md */
};

extern enum incd_log_format incd_log_format;

/* Parses "text|json"; false if unknown. */
bool incd_log_parse_format(const char *s, enum incd_log_format *out) INCD_MUST_CHECK;

/* One request's access line. Strings are borrowed; NULL or "" where a
 * field is absent (route, sqlstate). */
struct incd_access {
	const char *method;
	const char *path;  /* as the client sent it: any bytes */
	const char *route; /* the matched route's pattern */
	int status;
	long long duration_us;
	const char *request_id;
	const char *sqlstate;
};

/* Writes a's line at level info (callers check incd_log_enabled first):
 * text "METHOD PATH STATUS N.NNNms rid=ID[ sqlstate=S]", or in json the
 * fields as members. */
void incd_log_access(const struct incd_access *a);

/* Writes s[0..len) into out[0..cap) as the inside of a JSON string:
 * quotes, backslashes and control bytes escaped, bytes that are not valid
 * UTF-8 replaced by U+FFFD, cut at a character's end if out is too small.
 * NUL-terminates; returns the length written (cap > 0). */
size_t incd_log_json_escape(char *out, size_t cap, const char *s, size_t len);

/* Parses "error|warn|info|debug"; false if unknown. */
bool incd_log_parse_level(const char *s, enum incd_log_level *out) INCD_MUST_CHECK;

void incd_log(enum incd_log_level level, const char *fmt, ...) INCD_PRINTF(2, 3);

/* Remembers the calling process's pid for the log prefix (getpid() is a
 * system call on every line otherwise); call after each fork. */
void incd_log_set_pid(void);

#define incd_log_enabled(level) ((level) <= incd_log_threshold)

#endif
