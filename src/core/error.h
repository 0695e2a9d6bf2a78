/* Errors are values: every failure becomes one of these and reaches the
 * single JSON error writer (response.c). */
#ifndef INCIDENTD_ERROR_H
#define INCIDENTD_ERROR_H

#include <stdbool.h>

#include "util.h"

struct incd_error {
	int status;	  /* HTTP status: 400, 401, 403, 404, 405, 413, 422, 500, 503 */
	const char *code; /* the contract's error code; static string */
	char field[256];  /* source.field (JSON path or query parameter), "" if none */
	char message[256];
};

/* Fills err and returns false, so callers can `return incd_fail(...)`. */
bool incd_fail(struct incd_error *err, int status, const char *code, const char *field,
	       const char *fmt, ...) INCD_PRINTF(5, 6);

#endif
