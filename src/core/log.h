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

/* Parses "error|warn|info|debug"; false if unknown. */
bool incd_log_parse_level(const char *s, enum incd_log_level *out) INCD_MUST_CHECK;

void incd_log(enum incd_log_level level, const char *fmt, ...) INCD_PRINTF(2, 3);

/* Remembers the calling process's pid for the log prefix (getpid() is a
 * system call on every line otherwise); call after each fork. */
void incd_log_set_pid(void);

#define incd_log_enabled(level) ((level) <= incd_log_threshold)

#endif
