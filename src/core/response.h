/* Responses: handlers fill a struct incd_response; the worker writes it.
 * Also the one JSON error writer. */
#ifndef INCIDENTD_RESPONSE_H
#define INCIDENTD_RESPONSE_H

#include "error.h"
#include "util.h"

struct incd_response {
	int status;
	struct incd_buf body;	 /* owned; JSON text */
	struct incd_buf headers; /* owned; extra "Name: value\r\n" lines */
	bool replayed;		 /* an idempotent replay (counted by the metrics) */
};

/* Adds one header line. */
void incd_response_header(struct incd_response *r, const char *name, const char *value);

/* Replaces r with the contract's error body for err:
 * {"type", "status", "request_id", "errors": [{"code", "message", "source"?}]},
 * and for a 429 with err->rate_limit.name set the spec's "rate_limit" member
 * after request_id. Adds Retry-After for 503 and keeps headers already set
 * (e.g. Allow, the rate limit headers). */
void incd_response_error(struct incd_response *r, const struct incd_error *err,
			 const char *request_id);

/* Reason phrase for a status code ("OK", "Not Found"...). */
const char *incd_status_reason(int status);

/* Formats the CGI header block (Status, Content-Type, X-Request-Id, extra
 * headers, blank line) into out. */
void incd_response_head(const struct incd_response *r, const char *request_id,
			struct incd_buf *out);

void incd_response_reset(struct incd_response *r);
/* Forgets what was set after the first headers_len bytes of headers were
 * written (a handler's status, headers, body and replay flag), keeping
 * those: a handler can run again from there (the read replica's retry on
 * the primary keeps the rate limit's headers). */
void incd_response_rewind(struct incd_response *r, size_t headers_len);
void incd_response_free(struct incd_response *r);

#endif
