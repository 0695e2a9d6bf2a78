/* Request parsing helpers: strict Content-Length, URI path and query
 * decoding, bearer tokens. Pure: testable without FastCGI. */
#include "request.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "random.h"
#include "token.h"

void incd_request_free(struct incd_request *r)
{
	free(r->method_name);
	free(r->path);
	free(r->query);
	free(r->authorization);
	free(r->request_id);
	free(r->body);
	memset(r, 0, sizeof *r);
}

static const char *const method_names[] = {
    [INCD_GET] = "GET",		[INCD_POST] = "POST",	       [INCD_PUT] = "PUT",
    [INCD_PATCH] = "PATCH",	[INCD_DELETE] = "DELETE",      [INCD_HEAD] = "HEAD",
    [INCD_OPTIONS] = "OPTIONS", [INCD_METHOD_OTHER] = "OTHER",
};

enum incd_method incd_method_parse(const char *s)
{
	for (size_t i = 0; i < INCD_METHOD_OTHER; i++)
		if (s != NULL && strcmp(s, method_names[i]) == 0)
			return (enum incd_method)i;
	return INCD_METHOD_OTHER;
}

const char *incd_method_name(enum incd_method m)
{
	return method_names[m];
}

enum incd_length_result incd_parse_content_length(const char *s, size_t max, size_t *out)
{
	size_t v = 0;
	*out = 0;
	if (s == NULL || *s == '\0')
		return INCD_LENGTH_OK;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return INCD_LENGTH_INVALID;
		if (v > (max + 1) / 10 + 1)
			return INCD_LENGTH_TOO_LARGE; /* keeps v far from overflow */
		v = v * 10 + (size_t)(*p - '0');
	}
	if (v > max)
		return INCD_LENGTH_TOO_LARGE;
	*out = v;
	return INCD_LENGTH_OK;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes n bytes of src into dst (cap bytes incl. NUL, always
 * terminated; longer text is cut); plus_is_space for query strings. False
 * on a broken escape, a decoded NUL or bytes that are not UTF-8. */
static bool percent_decode(const char *src, size_t n, char *dst, size_t cap, bool plus_is_space)
{
	size_t o = 0;
	bool ok = true;
	for (size_t i = 0; i < n && ok; i++) {
		char c = src[i];
		if (c == '%') {
			int hi = i + 2 < n ? hexval(src[i + 1]) : -1;
			int lo = i + 2 < n ? hexval(src[i + 2]) : -1;
			ok = hi >= 0 && lo >= 0 && (hi | lo) != 0;
			c = (char)(ok ? hi * 16 + lo : 0);
			i += 2;
		} else if (c == '+' && plus_is_space) {
			c = ' ';
		}
		if (ok && o + 1 < cap)
			dst[o++] = c;
	}
	dst[o] = '\0';
	/* Decoded text reaches SQL parameters, which must be UTF-8. */
	return ok && incd_utf8_valid(dst, o);
}

bool incd_parse_uri_path(const char *uri, char **path_out)
{
	size_t n = strcspn(uri, "?");
	char *path = incd_xmalloc(n + 1);
	if (!percent_decode(uri, n, path, n + 1, false)) {
		free(path);
		*path_out = NULL;
		return false;
	}
	*path_out = path;
	return true;
}

/* Copies the n bytes of a name as sent into dst (cap bytes incl. NUL),
 * percent-encoding those that are not printable ASCII, so that it can go
 * into an error's source.field as valid UTF-8. */
static void raw_name(const char *src, size_t n, char *dst, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)src[i];
		bool plain = c > 0x20 && c < 0x7f;
		if (o + (plain ? 1 : 3) >= cap)
			break;
		if (plain) {
			dst[o++] = (char)c;
		} else {
			dst[o++] = '%';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 15];
		}
	}
	dst[o] = '\0';
}

bool incd_query_next(const char **cursor, char *name, size_t name_cap, char *value,
		     size_t value_cap, bool *bad)
{
	const char *p = *cursor;
	*bad = false;
	while (*p == '&')
		p++;
	if (*p == '\0') {
		*cursor = p;
		return false;
	}
	size_t pair = strcspn(p, "&");
	const char *eq = memchr(p, '=', pair);
	size_t name_len = eq ? (size_t)(eq - p) : pair;
	const char *val = eq ? eq + 1 : p + pair;
	size_t val_len = eq ? pair - name_len - 1 : 0;
	if (!percent_decode(p, name_len, name, name_cap, true)) {
		raw_name(p, name_len, name, name_cap);
		*bad = true;
	}
	if (!percent_decode(val, val_len, value, value_cap, true))
		*bad = true;
	*cursor = p + pair;
	return true;
}

/* Copies s into dst (cap bytes incl. NUL), cut before a character that
 * does not fit, never inside one. */
static void copy_utf8(char *dst, size_t cap, const char *s)
{
	size_t n = strlen(s);
	if (n >= cap) {
		n = cap - 1;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	memcpy(dst, s, n);
	dst[n] = '\0';
}

bool incd_query_check(const char *query, char *field, size_t cap)
{
	field[0] = '\0';
	/* Every request passes here, and most queries hold no escape: then
	 * each name and value is a piece of the query cut at ASCII '&' and
	 * '=', UTF-8 when the whole is, and needs no buffers to judge. */
	if (strchr(query, '%') == NULL && incd_utf8_valid(query, strlen(query)))
		return true;
	/* Buffers as long as the query: nothing is cut, so a long name or
	 * value is judged whole, not by a prefix ending inside a character. */
	size_t len = strlen(query);
	char *name = incd_xmalloc(len + 1), *value = incd_xmalloc(len + 1);
	bool bad = false;

	while (!bad && incd_query_next(&query, name, len + 1, value, len + 1, &bad))
		if (bad)
			copy_utf8(field, cap, name);
	free(name);
	free(value);
	return !bad;
}

bool incd_parse_uint(const char *s, long max, long *out, bool *overflow)
{
	long v = 0;
	*overflow = false;
	if (s == NULL || *s == '\0')
		return false;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		if (!*overflow) {
			v = v * 10 + (*p - '0');
			if (v > max) {
				*overflow = true;
				v = max;
			}
		}
	}
	*out = v;
	return true;
}

bool incd_bearer_token(const char *header, const char **tok, size_t *len)
{
	if (header == NULL || strncasecmp(header, "Bearer", 6) != 0 ||
	    (header[6] != ' ' && header[6] != '\t'))
		return false;
	const char *p = header + 7;
	while (*p == ' ' || *p == '\t')
		p++;
	size_t n = strlen(p);
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	if (n == 0)
		return false;
	*tok = p;
	*len = n;
	return true;
}

void incd_request_id_new(char out[33])
{
	unsigned char rnd[16];
	incd_random_bytes(rnd, sizeof rnd);
	incd_hex(rnd, sizeof rnd, out);
}
