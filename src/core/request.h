/* The request as handlers see it, and the pure parsing helpers that build
 * it from FastCGI parameters. Nothing here includes fcgiapp.h. */
#ifndef INCIDENTD_REQUEST_H
#define INCIDENTD_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

#define INCD_MAX_BODY (1024 * 1024) /* the contract's 1 MiB */

enum incd_method {
	INCD_GET,
	INCD_POST,
	INCD_PUT,
	INCD_PATCH,
	INCD_DELETE,
	INCD_HEAD,
	INCD_OPTIONS,
	INCD_METHOD_OTHER, /* anything else: answered 405 on known paths */
};

/* All strings are owned by the request (copied out of the FastCGI
 * environment, which dies at FCGX_Finish_r) and freed by
 * incd_request_free. */
struct incd_request {
	enum incd_method method;
	char *method_name;
	char *path;  /* percent-decoded path, no query */
	char *query; /* raw query string, "" if none */
	char *authorization;
	char *request_id;
	char *body; /* NUL-terminated; body_len excludes the NUL */
	size_t body_len;
};

void incd_request_free(struct incd_request *r);

enum incd_method incd_method_parse(const char *s);
const char *incd_method_name(enum incd_method m);

enum incd_length_result {
	INCD_LENGTH_OK,
	INCD_LENGTH_INVALID,  /* not a plain decimal number */
	INCD_LENGTH_TOO_LARGE /* over max */
};

/* Parses CONTENT_LENGTH strictly: NULL or "" is 0, otherwise only digits. */
enum incd_length_result incd_parse_content_length(const char *s, size_t max, size_t *out);

/* Splits a REQUEST_URI into a percent-decoded path (owned, free()) and
 * reports where its query starts. False for a path that decodes to a NUL
 * byte or invalid UTF-8, or has a broken escape. */
bool incd_parse_uri_path(const char *uri, char **path_out) INCD_MUST_CHECK;

/* Iterates name=value pairs of a query string. *cursor starts at the query;
 * each call decodes the next pair into name/value (owned by the caller via
 * the given buffers, truncated at cap-1). Returns false when no pair is left.
 * *bad is set when a pair contained a broken escape, a NUL or invalid UTF-8;
 * a name that does not decode is then given as sent (bytes other than
 * printable ASCII percent-encoded), for the error's source.field. */
bool incd_query_next(const char **cursor, char *name, size_t name_cap, char *value,
		     size_t value_cap, bool *bad);

/* True when every name and value of query decodes to UTF-8 text without
 * NUL. Otherwise false, with the first offending pair's name (as
 * incd_query_next gives it, at most cap-1 bytes) in field. */
bool incd_query_check(const char *query, char *field, size_t cap) INCD_MUST_CHECK;

/* Parses a positive decimal integer (digits only, no sign); false otherwise
 * or on overflow past max (then *out = max and *overflow = true). */
bool incd_parse_uint(const char *s, long max, long *out, bool *overflow);

/* Extracts the token of an "Authorization: Bearer <token>" header value.
 * Returns false when the scheme is not Bearer (case-insensitive) or the
 * token is empty; *tok and *len point into header. */
bool incd_bearer_token(const char *header, const char **tok, size_t *len);

/* Writes a new random 32-hex request id. */
void incd_request_id_new(char out[33]);

#endif
