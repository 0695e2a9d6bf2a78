/* libFuzzer driver for the parsers that see raw client bytes: the JSON body
 * parser (grammar, UTF-8, surrogate escapes, depth), the typed field
 * checks, query strings, URI paths and Content-Length. Build and run:
 * tests/fuzz/run.sh (scripts/test.sh runs it on tests/fuzz/corpus/). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jsonv.h"
#include "request.h"

static bool has_escape_ci(const char *s, size_t len, const char *esc)
{
	size_t n = strlen(esc);
	for (size_t i = 0; i + n <= len; i++)
		if (strncasecmp(s + i, esc, n) == 0)
			return true;
	return false;
}

/* json-c writes U+FFFD for a \u escape of a surrogate that is not part of a
 * pair; the strict parser refuses those, so an accepted body holds U+FFFD
 * only where the client wrote one. */
static void check_no_replacement(const char *buf, size_t len, struct json_object *o)
{
	static const char fffd[] = "\xef\xbf\xbd";
	const char *out = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	if (memmem(out, strlen(out), fffd, 3) != NULL && memmem(buf, len, fffd, 3) == NULL &&
	    !has_escape_ci(buf, len, "\\ufffd"))
		abort();
}

static void fuzz_json(const char *buf, size_t len)
{
	static const char *const vis[] = {"public", "private", NULL};
	static const struct incd_field_spec spec[] = {
	    {"idempotency_key", INCD_F_STRING, true, 1, 256, NULL},
	    {"visibility", INCD_F_ENUM, true, 0, 0, vis},
	    {"rank", INCD_F_INT, false, -1000, 1000, NULL},
	    {"flag", INCD_F_BOOL, false, 0, 0, NULL},
	};
	struct incd_error err;
	struct json_object *o = incd_json_parse(buf, len, &err);
	if (o != NULL)
		check_no_replacement(buf, len, o);
	/* The replay peek must agree with the full parse whenever it answers:
	 * same top-level member, same string. */
	static const char *const keys[] = {"idempotency_key", "k"};
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		const char *peeked;
		size_t peeked_len;
		struct json_object *k = NULL;
		if (!incd_json_top_string(buf, len, keys[i], &peeked, &peeked_len))
			continue;
		if (o == NULL || !json_object_object_get_ex(o, keys[i], &k) ||
		    !json_object_is_type(k, json_type_string) ||
		    (size_t)json_object_get_string_len(k) != peeked_len ||
		    memcmp(json_object_get_string(k), peeked, peeked_len) != 0)
			abort();
	}
	if (o != NULL && json_object_is_type(o, json_type_object)) {
		struct json_object *norm = json_object_new_object();
		if (incd_jv_fields(o, "", spec, 4, norm, &err))
			(void)json_object_to_json_string(norm);
		json_object_put(norm);
	}
	json_object_put(o);
}

static void fuzz_query(const char *s)
{
	char name[64], value[256];
	bool bad;
	const char *cursor = s;
	for (int i = 0;
	     i < 1000 && incd_query_next(&cursor, name, sizeof name, value, sizeof value, &bad);
	     i++)
		;
	/* The offending name goes into a JSON error body: it must be UTF-8.
	 * A query the check passes (without decoding, when it has no escape)
	 * has no pair that fails to decode. */
	char field[256];
	if (incd_query_check(s, field, sizeof field)) {
		static char big_name[4097], big_value[4097];
		cursor = s;
		while (incd_query_next(&cursor, big_name, sizeof big_name, big_value,
				       sizeof big_value, &bad))
			if (bad)
				abort();
	} else if (!incd_utf8_valid(field, strlen(field))) {
		abort();
	}
	char *path = NULL;
	if (incd_parse_uri_path(s, &path))
		free(path);
	size_t n;
	(void)incd_parse_content_length(s, INCD_MAX_BODY, &n);
	const char *tok;
	(void)incd_bearer_token(s, &tok, &n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	fuzz_json(s, size);
	fuzz_query(s);
	free(s);
	return 0;
}
