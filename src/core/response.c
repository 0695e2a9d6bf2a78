/* Response formatting and the single JSON error writer. */
#include "response.h"

#include <string.h>
#include <time.h>

struct status_info {
	int status;
	const char *reason;
	const char *type; /* the contract's error "type" */
};

static const struct status_info statuses[] = {
    {200, "OK", NULL},
    {201, "Created", NULL},
    {202, "Accepted", NULL},
    {204, "No Content", NULL},
    {400, "Bad Request", "bad_request"},
    {401, "Unauthorized", "authentication_error"},
    {403, "Forbidden", "resource_forbidden"},
    {404, "Not Found", "not_found"},
    {405, "Method Not Allowed", "method_not_allowed"},
    {413, "Payload Too Large", "request_too_large"},
    {422, "Unprocessable Entity", "validation_error"},
    {429, "Too Many Requests", "too_many_requests"},
    {500, "Internal Server Error", "internal_error"},
    {503, "Service Unavailable", "service_unavailable"},
};

static const struct status_info *info(int status)
{
	for (size_t i = 0; i < INCD_ARRAY_LEN(statuses); i++)
		if (statuses[i].status == status)
			return &statuses[i];
	return &statuses[INCD_ARRAY_LEN(statuses) - 3]; /* unknown: treat as 500 */
}

const char *incd_status_reason(int status)
{
	return info(status)->reason;
}

void incd_response_header(struct incd_response *r, const char *name, const char *value)
{
	incd_buf_addf(&r->headers, "%s: %s\r\n", name, value);
}

/* The spec's 429 body member: {"name", "limit", "remaining", "retry_after"},
 * retry_after in RFC 3339 to the second, as the spec's example has it. */
static void add_rate_limit(struct incd_buf *b, const struct incd_error_rate_limit *rl)
{
	char when[32] = "";
	struct tm tm;
	time_t t = (time_t)rl->retry_after_unix;

	if (gmtime_r(&t, &tm) != NULL)
		strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	incd_buf_adds(b, ",\"rate_limit\":{\"name\":");
	incd_buf_add_json_string(b, rl->name);
	incd_buf_addf(b, ",\"limit\":%lld,\"remaining\":%lld,\"retry_after\":", rl->limit,
		      rl->remaining);
	incd_buf_add_json_string(b, when);
	incd_buf_adds(b, "}");
}

void incd_response_error(struct incd_response *r, const struct incd_error *err,
			 const char *request_id)
{
	const struct status_info *si = info(err->status);
	int status = si->status;

	r->status = status;
	incd_buf_reset(&r->body);
	incd_buf_adds(&r->body, "{\"type\":");
	incd_buf_add_json_string(&r->body, si->type ? si->type : "internal_error");
	incd_buf_addf(&r->body, ",\"status\":%d,\"request_id\":", status);
	incd_buf_add_json_string(&r->body, request_id);
	if (status == 429 && err->rate_limit.name != NULL)
		add_rate_limit(&r->body, &err->rate_limit);
	incd_buf_adds(&r->body, ",\"errors\":[{\"code\":");
	incd_buf_add_json_string(&r->body, err->code ? err->code : "internal_error");
	incd_buf_adds(&r->body, ",\"message\":");
	incd_buf_add_json_string(&r->body, err->message[0] ? err->message : si->reason);
	if (err->field[0]) {
		incd_buf_adds(&r->body, ",\"source\":{\"field\":");
		incd_buf_add_json_string(&r->body, err->field);
		incd_buf_adds(&r->body, "}");
	}
	incd_buf_adds(&r->body, "}]}");
	if (status == 503)
		incd_response_header(r, "Retry-After", "1");
}

void incd_response_head(const struct incd_response *r, const char *request_id, struct incd_buf *out)
{
	incd_buf_addf(out, "Status: %d %s\r\n", r->status, incd_status_reason(r->status));
	if (r->status != 204)
		incd_buf_adds(out, "Content-Type: application/json; charset=utf-8\r\n");
	incd_buf_addf(out, "X-Request-Id: %s\r\n", request_id);
	if (r->headers.len)
		incd_buf_add(out, r->headers.data, r->headers.len);
	incd_buf_adds(out, "\r\n");
}

void incd_response_rewind(struct incd_response *r, size_t headers_len)
{
	r->status = 200;
	r->replayed = false;
	incd_buf_reset(&r->body);
	if (headers_len < r->headers.len) {
		r->headers.len = headers_len;
		r->headers.data[headers_len] = '\0'; /* as incd_buf_reset keeps it */
	}
}

void incd_response_reset(struct incd_response *r)
{
	incd_response_rewind(r, 0);
}

void incd_response_free(struct incd_response *r)
{
	incd_buf_free(&r->body);
	incd_buf_free(&r->headers);
}
