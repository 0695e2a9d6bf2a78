/* Small shared helpers: allocation that aborts on failure, a growable byte
 * buffer, UTF-8 checks. */
#ifndef INCIDENTD_UTIL_H
#define INCIDENTD_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#define INCD_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define INCD_MUST_CHECK __attribute__((warn_unused_result))
#define INCD_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* Allocation failure aborts the process: a worker is replaced by the master,
 * which is cheaper and safer than half-handled NULLs everywhere. */
void *incd_xmalloc(size_t n);
void *incd_xcalloc(size_t n, size_t size);
void *incd_xrealloc(void *p, size_t n);
char *incd_xstrdup(const char *s);
char *incd_xstrndup(const char *s, size_t n);

/* A growable byte buffer, always NUL-terminated once anything was added.
 * The buffer owns data; release with incd_buf_free. */
struct incd_buf {
	char *data;
	size_t len;
	size_t cap;
};

void incd_buf_reserve(struct incd_buf *b, size_t extra);
void incd_buf_add(struct incd_buf *b, const void *p, size_t n);
void incd_buf_adds(struct incd_buf *b, const char *s);
void incd_buf_addf(struct incd_buf *b, const char *fmt, ...) INCD_PRINTF(2, 3);
void incd_buf_vaddf(struct incd_buf *b, const char *fmt, va_list ap) INCD_PRINTF(2, 0);
/* Appends s as a JSON string literal (with quotes), escaped exactly as
 * PostgreSQL's escape_json escapes (\b \f \n \r \t \" \\, other bytes below 0x20
 * as \u00xx), so the worker's text and the database's agree byte for byte. */
void incd_buf_add_json_string(struct incd_buf *b, const char *s);
void incd_buf_reset(struct incd_buf *b);
void incd_buf_free(struct incd_buf *b);

/* Length of the well-formed UTF-8 sequence at p (RFC 3629: no overlong
 * forms, no surrogates, nothing past U+10FFFF), or 0; p < end. */
size_t incd_utf8_seq(const unsigned char *p, const unsigned char *end);

/* True when the len bytes at s are well-formed UTF-8. */
bool incd_utf8_valid(const char *s, size_t len);

/* Number of code points in a valid UTF-8 string of len bytes. */
size_t incd_utf8_len(const char *s, size_t len);

/* Monotonic clock in microseconds. */
long long incd_now_us(void);

#endif
