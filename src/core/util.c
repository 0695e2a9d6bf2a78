/* Shared helpers: aborting allocators, byte buffer, UTF-8 counting. */
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void *check(void *p)
{
	if (p == NULL) {
		fputs("incidentd: out of memory\n", stderr);
		abort();
	}
	return p;
}

void *incd_xmalloc(size_t n)
{
	return check(malloc(n ? n : 1));
}

void *incd_xcalloc(size_t n, size_t size)
{
	return check(calloc(n ? n : 1, size ? size : 1));
}

void *incd_xrealloc(void *p, size_t n)
{
	return check(realloc(p, n ? n : 1));
}

char *incd_xstrdup(const char *s)
{
	return check(strdup(s));
}

char *incd_xstrndup(const char *s, size_t n)
{
	return check(strndup(s, n));
}

void incd_buf_reserve(struct incd_buf *b, size_t extra)
{
	size_t need = b->len + extra + 1;
	if (need <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	b->data = incd_xrealloc(b->data, cap);
	b->cap = cap;
}

void incd_buf_add(struct incd_buf *b, const void *p, size_t n)
{
	incd_buf_reserve(b, n);
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void incd_buf_adds(struct incd_buf *b, const char *s)
{
	incd_buf_add(b, s, strlen(s));
}

void incd_buf_vaddf(struct incd_buf *b, const char *fmt, va_list ap)
{
	va_list copy;
	va_copy(copy, ap);
	int n = vsnprintf(NULL, 0, fmt, copy);
	va_end(copy);
	if (n < 0)
		abort();
	incd_buf_reserve(b, (size_t)n);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

void incd_buf_addf(struct incd_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	incd_buf_vaddf(b, fmt, ap);
	va_end(ap);
}

void incd_buf_add_json_string(struct incd_buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	incd_buf_add(b, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			incd_buf_add(b, "\\\"", 2);
			break;
		case '\\':
			incd_buf_add(b, "\\\\", 2);
			break;
		case '\n':
			incd_buf_add(b, "\\n", 2);
			break;
		case '\r':
			incd_buf_add(b, "\\r", 2);
			break;
		case '\t':
			incd_buf_add(b, "\\t", 2);
			break;
		case '\b':
			incd_buf_add(b, "\\b", 2);
			break;
		case '\f':
			incd_buf_add(b, "\\f", 2);
			break;
		default:
			if (*p < 0x20) {
				char esc[7] = {'\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15], 0};
				incd_buf_add(b, esc, 6);
			} else {
				incd_buf_add(b, p, 1);
			}
		}
	}
	incd_buf_add(b, "\"", 1);
}

void incd_buf_reset(struct incd_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void incd_buf_free(struct incd_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

/* Length of the well-formed UTF-8 sequence at p (RFC 3629: no overlong
 * forms, no surrogates, nothing past U+10FFFF), or 0. json-c's own check lets
 * overlong and surrogate forms through, and PostgreSQL then refuses them. */
size_t incd_utf8_seq(const unsigned char *p, const unsigned char *end)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xBF;
	size_t n;
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		n = 2;
	else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		if (c == 0xE0)
			lo = 0xA0;
		if (c == 0xED)
			hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		if (c == 0xF0)
			lo = 0x90;
		if (c == 0xF4)
			hi = 0x8F;
	} else
		return 0;
	if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xBF)
			return 0;
	return n;
}

bool incd_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	while (p < end) {
		size_t n = incd_utf8_seq(p, end);
		if (n == 0)
			return false;
		p += n;
	}
	return true;
}

size_t incd_utf8_len(const char *s, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			n++;
	return n;
}

long long incd_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}
