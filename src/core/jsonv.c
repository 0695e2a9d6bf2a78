/* Strict JSON parsing (json-c) and typed getters with field paths. */
#include "jsonv.h"

#include <stdarg.h>
#include <stdio.h>
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 32

/* json-c's strict mode still takes single-quoted keys, NaN, Infinity, "1."
 * and raw control characters in strings, so the RFC 8259 grammar is checked
 * here first; json-c then builds the tree and checks UTF-8. */
struct scan {
	const char *p, *end;
	int depth;
	bool pairs; /* a \u escape pair of UTF-16 surrogates was seen */
};

static bool scan_value(struct scan *s);

static void scan_ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static bool scan_lit(struct scan *s, const char *lit)
{
	size_t n = strlen(lit);
	if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit, n) != 0)
		return false;
	s->p += n;
	return true;
}

static bool scan_digits(struct scan *s)
{
	const char *start = s->p;
	while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
		s->p++;
	return s->p > start;
}

static bool scan_number(struct scan *s)
{
	if (s->p < s->end && *s->p == '-')
		s->p++;
	if (s->p < s->end && *s->p == '0')
		s->p++;
	else if (!scan_digits(s))
		return false;
	if (s->p < s->end && *s->p == '.') {
		s->p++;
		if (!scan_digits(s))
			return false;
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (!scan_digits(s))
			return false;
	}
	return true;
}

/* The value of four hex digits, known to be hex digits. */
static unsigned hex4(const char *p)
{
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		unsigned char c = (unsigned char)p[i];
		v = v * 16 + (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
	}
	return v;
}

/* Reads the four hex digits of a \u escape, s->p on its 'u'; leaves s->p
 * on the last digit. */
static bool scan_hex4(struct scan *s, unsigned *unit)
{
	for (int i = 0; i < 4; i++)
		if (++s->p >= s->end || !isxdigit((unsigned char)*s->p))
			return false;
	*unit = hex4(s->p - 3);
	return true;
}

/* A \u escape, s->p on its 'u'. UTF-16 surrogates must come as a high one
 * escaped right before a low one: json-c would turn a lone or reversed one
 * into U+FFFD, and the text was not UTF-8 to begin with (RFC 8259 s8.2). */
static bool scan_unicode_escape(struct scan *s)
{
	unsigned unit;
	if (!scan_hex4(s, &unit) || (unit >= 0xDC00 && unit <= 0xDFFF))
		return false;
	if (unit < 0xD800 || unit > 0xDBFF)
		return true;
	if (s->end - s->p < 3 || s->p[1] != '\\' || s->p[2] != 'u')
		return false;
	s->p += 2;
	s->pairs = true;
	return scan_hex4(s, &unit) && unit >= 0xDC00 && unit <= 0xDFFF;
}

static bool scan_string(struct scan *s)
{
	if (s->p >= s->end || *s->p != '"')
		return false;
	for (s->p++; s->p < s->end; s->p++) {
		unsigned char c = (unsigned char)*s->p;
		if (c == '"') {
			s->p++;
			return true;
		}
		if (c < 0x20)
			return false;
		if (c >= 0x80) {
			size_t n = incd_utf8_seq((const unsigned char *)s->p,
						 (const unsigned char *)s->end);
			if (n == 0)
				return false;
			s->p += n - 1;
			continue;
		}
		if (c != '\\')
			continue;
		if (++s->p >= s->end)
			return false;
		if (*s->p == 'u') {
			if (!scan_unicode_escape(s))
				return false;
		} else if (strchr("\"\\/bfnrt", *s->p) == NULL || *s->p == '\0') {
			return false;
		}
	}
	return false;
}

static bool scan_container(struct scan *s, char close, bool object)
{
	if (++s->depth > MAX_DEPTH)
		return false;
	s->p++;
	scan_ws(s);
	if (s->p < s->end && *s->p == close) {
		s->p++;
		s->depth--;
		return true;
	}
	for (;;) {
		if (object) {
			if (!scan_string(s))
				return false;
			scan_ws(s);
			if (s->p >= s->end || *s->p++ != ':')
				return false;
		}
		if (!scan_value(s))
			return false;
		scan_ws(s);
		if (s->p >= s->end)
			return false;
		char c = *s->p++;
		if (c == close) {
			s->depth--;
			return true;
		}
		if (c != ',')
			return false;
		scan_ws(s);
	}
}

static bool scan_value(struct scan *s)
{
	scan_ws(s);
	if (s->p >= s->end)
		return false;
	switch (*s->p) {
	case '{':
		return scan_container(s, '}', true);
	case '[':
		return scan_container(s, ']', false);
	case '"':
		return scan_string(s);
	case 't':
		return scan_lit(s, "true");
	case 'f':
		return scan_lit(s, "false");
	case 'n':
		return scan_lit(s, "null");
	default:
		return scan_number(s);
	}
}

/* True when buf is exactly one JSON value with optional whitespace around;
 * *pairs says whether it holds a \u escape pair of UTF-16 surrogates. */
static bool json_grammar_ok(const char *buf, size_t len, bool *pairs)
{
	struct scan s = {buf, buf + len, 0, false};
	if (!scan_value(&s))
		return false;
	scan_ws(&s);
	*pairs = s.pairs;
	return s.p == s.end;
}

/* json-c 0.16 decodes a \u escape pair and then takes the code point for a
 * surrogate when its low 16 bits are D800-DFFF (it masks with 0xFC00 and
 * does not look above bit 15): U+1D800-U+1DFFF, U+2D800-U+2DFFF (CJK
 * extension F), ... U+10D800-U+10DFFF became U+FFFD. So a body with pairs
 * reaches json-c with each pair written as its four UTF-8 bytes, which
 * json-c copies as they are. buf has passed json_grammar_ok: a backslash
 * only occurs in a string, starts an escape, and a high surrogate's
 * escape is followed by a low one's. Returns an owned copy (free()). */
static char *decode_pairs(const char *buf, size_t len, size_t *out_len)
{
	char *out = incd_xmalloc(len + 1);
	size_t o = 0;
	for (size_t i = 0; i < len;) {
		unsigned hi = buf[i] == '\\' && buf[i + 1] == 'u' ? hex4(buf + i + 2) : 0;
		if (hi < 0xD800 || hi > 0xDBFF) {
			/* An escape other than a pair is copied whole, so that the
			 * backslash of "\\u" is never taken for an escape's. */
			size_t n = buf[i] == '\\' ? (buf[i + 1] == 'u' ? 6 : 2) : 1;
			memcpy(out + o, buf + i, n);
			o += n;
			i += n;
			continue;
		}
		unsigned cp = 0x10000 + ((hi - 0xD800) << 10) + (hex4(buf + i + 8) - 0xDC00);
		out[o++] = (char)(0xF0 | cp >> 18);
		out[o++] = (char)(0x80 | (cp >> 12 & 0x3F));
		out[o++] = (char)(0x80 | (cp >> 6 & 0x3F));
		out[o++] = (char)(0x80 | (cp & 0x3F));
		i += 12;
	}
	out[o] = '\0';
	*out_len = o;
	return out;
}

struct json_object *incd_json_parse(const char *buf, size_t len, struct incd_error *err)
{
	struct json_object *obj = NULL;
	const char *why = NULL;
	char *decoded = NULL;
	bool pairs = false;
	struct json_tokener *tok = json_tokener_new_ex(MAX_DEPTH);
	if (tok == NULL)
		abort();
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);

	if (len == 0)
		why = "empty body";
	else if (len > (size_t)INT32_MAX || !json_grammar_ok(buf, len, &pairs))
		why = "syntax error, invalid UTF-8 or nesting deeper than 32";
	else {
		if (pairs)
			buf = decoded = decode_pairs(buf, len, &len);
		obj = json_tokener_parse_ex(tok, buf, (int)len);
		enum json_tokener_error jerr = json_tokener_get_error(tok);
		if (obj == NULL || jerr != json_tokener_success)
			why = json_tokener_error_desc(jerr);
	}
	if (why != NULL) {
		incd_fail(err, 400, "invalid_json", "", "request body is not valid JSON: %s", why);
		json_object_put(obj);
		obj = NULL;
	}
	free(decoded);
	json_tokener_free(tok);
	return obj;
}

bool incd_json_top_string(const char *buf, size_t len, const char *key, const char **val,
			  size_t *val_len)
{
	size_t key_len = strlen(key);
	bool found = false;

	bool pairs;

	/* The grammar is checked first, so the walk below cannot fail. */
	if (len == 0 || !json_grammar_ok(buf, len, &pairs))
		return false;
	struct scan s = {buf, buf + len, 0, false};
	scan_ws(&s);
	if (*s.p != '{')
		return false;
	s.p++;
	scan_ws(&s);
	while (*s.p != '}') {
		const char *name = s.p + 1;
		scan_string(&s);
		size_t name_len = (size_t)(s.p - 1 - name);
		if (memchr(name, '\\', name_len) != NULL)
			return false;
		bool match = name_len == key_len && memcmp(name, key, key_len) == 0;
		scan_ws(&s);
		s.p++; /* ':' */
		scan_ws(&s);
		const char *v = s.p;
		scan_value(&s);
		if (match) {
			/* json-c keeps the last of repeated names: so does this. */
			size_t n = (size_t)(s.p - v);
			found = *v == '"' && memchr(v, '\\', n) == NULL;
			*val = found ? v + 1 : NULL;
			*val_len = found ? n - 2 : 0;
		}
		scan_ws(&s);
		if (*s.p == ',') {
			s.p++;
			scan_ws(&s);
		}
	}
	return found;
}

void incd_jv_path(char *buf, size_t cap, const char *prefix, const char *key)
{
	snprintf(buf, cap, "%s%s%s", prefix, *prefix ? "." : "", key);
}

void incd_jv_index(char *buf, size_t cap, const char *prefix, size_t index)
{
	snprintf(buf, cap, "%s[%zu]", prefix, index);
}

/* A 422 for field prefix.key, "<path> <message>". The path is only put
 * together here, on failure: a valid body has dozens of fields. */
static bool field_fail(struct incd_error *err, const char *code, const char *prefix,
		       const char *key, const char *fmt, ...) INCD_PRINTF(5, 6);
static bool field_fail(struct incd_error *err, const char *code, const char *prefix,
		       const char *key, const char *fmt, ...)
{
	char path[256], msg[256];
	va_list ap;

	incd_jv_path(path, sizeof path, prefix, key);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return incd_fail(err, 422, code, path, "%s %s", path, msg);
}

/* Looks up key; absent and JSON null both count as missing. */
static struct json_object *field(struct json_object *obj, const char *key)
{
	struct json_object *v = NULL;
	if (!json_object_object_get_ex(obj, key, &v))
		return NULL;
	return v; /* NULL for JSON null */
}

bool incd_jv_string(struct json_object *obj, const char *prefix, const char *key, bool required,
		    size_t min_chars, size_t max_chars, const char **out, struct incd_error *err)
{
	struct json_object *v = field(obj, key);
	*out = NULL;
	if (v == NULL) {
		if (required)
			return field_fail(err, "is_required", prefix, key, "is required");
		return true;
	}
	if (!json_object_is_type(v, json_type_string))
		return field_fail(err, "invalid_value", prefix, key, "must be a string");
	const char *s = json_object_get_string(v);
	size_t len = (size_t)json_object_get_string_len(v);
	if (strlen(s) != len)
		return field_fail(err, "invalid_value", prefix, key,
				  "must not contain NUL characters");
	size_t chars = incd_utf8_len(s, len);
	if (chars < min_chars) {
		if (min_chars == 1 && required)
			return field_fail(err, "is_required", prefix, key, "must not be empty");
		return field_fail(err, "invalid_value", prefix, key,
				  "must be at least %zu characters", min_chars);
	}
	if (chars > max_chars)
		return field_fail(err, "invalid_value", prefix, key,
				  "must be at most %zu characters", max_chars);
	*out = s;
	return true;
}

bool incd_jv_enum(struct json_object *obj, const char *prefix, const char *key, bool required,
		  const char *const *allowed, const char **out, struct incd_error *err)
{
	if (!incd_jv_string(obj, prefix, key, required, 0, 64, out, err))
		return false;
	if (*out == NULL)
		return true;
	for (const char *const *a = allowed; *a; a++)
		if (strcmp(*a, *out) == 0)
			return true;

	char list[200] = "";
	size_t used = 0;
	for (const char *const *a = allowed; *a; a++) {
		int w = snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "", *a);
		if (w < 0 || (size_t)w >= sizeof list - used)
			break;
		used += (size_t)w;
	}
	*out = NULL;
	return field_fail(err, "invalid_value", prefix, key, "must be one of: %s", list);
}

static bool typed(struct json_object *obj, const char *prefix, const char *key, bool required,
		  enum json_type type, const char *what, struct json_object **out,
		  struct incd_error *err)
{
	struct json_object *v = field(obj, key);
	*out = NULL;
	if (v == NULL) {
		if (required)
			return field_fail(err, "is_required", prefix, key, "is required");
		return true;
	}
	if (!json_object_is_type(v, type))
		return field_fail(err, "invalid_value", prefix, key, "must be %s", what);
	*out = v;
	return true;
}

bool incd_jv_array(struct json_object *obj, const char *prefix, const char *key, bool required,
		   struct json_object **out, struct incd_error *err)
{
	return typed(obj, prefix, key, required, json_type_array, "an array", out, err);
}

bool incd_jv_object(struct json_object *obj, const char *prefix, const char *key, bool required,
		    struct json_object **out, struct incd_error *err)
{
	return typed(obj, prefix, key, required, json_type_object, "an object", out, err);
}

void incd_jv_copy(struct json_object *dst, struct json_object *obj, const char *key)
{
	struct json_object *v = field(obj, key);
	if (v != NULL)
		json_object_object_add(dst, key, json_object_get(v));
}

static bool check_scalar(struct json_object *obj, const char *prefix,
			 const struct incd_field_spec *f, struct incd_error *err)
{
	struct json_object *v = field(obj, f->key);
	if (v == NULL) {
		if (f->required)
			return field_fail(err, "is_required", prefix, f->key, "is required");
		return true;
	}
	if (f->type == INCD_F_BOOL) {
		if (!json_object_is_type(v, json_type_boolean))
			return field_fail(err, "invalid_value", prefix, f->key,
					  "must be a boolean");
		return true;
	}
	if (!json_object_is_type(v, json_type_int))
		return field_fail(err, "invalid_value", prefix, f->key, "must be an integer");
	errno = 0;
	int64_t n = json_object_get_int64(v);
	if (errno != 0 || n < f->min || n > f->max)
		return field_fail(err, "invalid_value", prefix, f->key,
				  "must be an integer from %lld to %lld", (long long)f->min,
				  (long long)f->max);
	return true;
}

bool incd_jv_fields(struct json_object *obj, const char *prefix, const struct incd_field_spec *spec,
		    size_t n, struct json_object *norm, struct incd_error *err)
{
	for (size_t i = 0; i < n; i++) {
		const struct incd_field_spec *f = &spec[i];
		const char *s;
		bool ok;
		switch (f->type) {
		case INCD_F_STRING:
			ok = incd_jv_string(obj, prefix, f->key, f->required, (size_t)f->min,
					    (size_t)f->max, &s, err);
			break;
		case INCD_F_ENUM:
			ok = incd_jv_enum(obj, prefix, f->key, f->required, f->allowed, &s, err);
			break;
		default:
			ok = check_scalar(obj, prefix, f, err);
			break;
		}
		if (!ok)
			return false;
		incd_jv_copy(norm, obj, f->key);
	}
	return true;
}
