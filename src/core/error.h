/* Errors are values: every failure becomes one of these and reaches the
 * single JSON error writer (response.c). */
#ifndef INCIDENTD_ERROR_H
#define INCIDENTD_ERROR_H

#include <stdbool.h>

#include "util.h"

/* What a 429's body says about the limit that was hit: the spec's
 * "rate_limit" member ({"name", "limit", "remaining", "retry_after"}). */
struct incd_error_rate_limit {
	const char *name;	    /* the API key's name; borrowed; NULL: no member */
	long long limit;	    /* requests per minute */
	long long remaining;	    /* requests allowed now (0 for a 429) */
	long long retry_after_unix; /* when one request will be allowed, Unix seconds */
};

struct incd_error {
	int status;	  /* HTTP status: 400, 401, 403, 404, 405, 413, 422, 429, 500, 503 */
	const char *code; /* the contract's error code; static string */
	char field[256];  /* source.field (JSON path or query parameter), "" if none */
	char message[256];
	struct incd_error_rate_limit rate_limit; /* 429 only; incd_fail clears it */
};

/* Fills err (clearing rate_limit) and returns false, so callers can
 * `return incd_fail(...)`. */
bool incd_fail(struct incd_error *err, int status, const char *code, const char *field,
	       const char *fmt, ...) INCD_PRINTF(5, 6);

#endif
