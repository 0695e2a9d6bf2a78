/* Strict JSON parsing (json-c) and typed getters with field paths. */
#include "jsonv.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MAX_DEPTH 32

struct json_object *incd_json_parse(const char *buf, size_t len, struct incd_error *err)
{
	struct json_object *obj = NULL;
	struct json_tokener *tok = json_tokener_new_ex(MAX_DEPTH);
	if (tok == NULL)
		abort();
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);

	if (len > 0 && len <= (size_t)INT32_MAX)
		obj = json_tokener_parse_ex(tok, buf, (int)len);
	enum json_tokener_error jerr = json_tokener_get_error(tok);
	if (obj == NULL || jerr != json_tokener_success) {
		char msg[200];
		snprintf(msg, sizeof msg, "request body is not valid JSON: %s",
			 len == 0 ? "empty body"
			 : jerr == json_tokener_continue
			     ? "unexpected end of input"
			     : json_tokener_error_desc(jerr));
		incd_fail(err, 400, "invalid_json", "", "%s", msg);
		json_object_put(obj);
		obj = NULL;
		goto done;
	}
	for (size_t i = json_tokener_get_parse_end(tok); i < len; i++) {
		if (buf[i] != ' ' && buf[i] != '\t' && buf[i] != '\n' && buf[i] != '\r') {
			incd_fail(err, 400, "invalid_json", "",
				  "request body is not valid JSON: trailing data after the value");
			json_object_put(obj);
			obj = NULL;
			goto done;
		}
	}
done:
	json_tokener_free(tok);
	return obj;
}

void incd_jv_path(char *buf, size_t cap, const char *prefix, const char *key)
{
	snprintf(buf, cap, "%s%s%s", prefix, *prefix ? "." : "", key);
}

void incd_jv_index(char *buf, size_t cap, const char *prefix, size_t index)
{
	snprintf(buf, cap, "%s[%zu]", prefix, index);
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
	char path[256];
	struct json_object *v = field(obj, key);
	incd_jv_path(path, sizeof path, prefix, key);
	*out = NULL;
	if (v == NULL) {
		if (required)
			return incd_fail(err, 422, "is_required", path, "%s is required", path);
		return true;
	}
	if (!json_object_is_type(v, json_type_string))
		return incd_fail(err, 422, "invalid_value", path, "%s must be a string", path);
	const char *s = json_object_get_string(v);
	size_t len = (size_t)json_object_get_string_len(v);
	if (strlen(s) != len)
		return incd_fail(err, 422, "invalid_value", path,
				    "%s must not contain NUL characters", path);
	size_t chars = incd_utf8_len(s, len);
	if (chars < min_chars) {
		if (min_chars == 1 && required)
			return incd_fail(err, 422, "is_required", path, "%s must not be empty", path);
		return incd_fail(err, 422, "invalid_value", path,
				    "%s must be at least %zu characters", path, min_chars);
	}
	if (chars > max_chars)
		return incd_fail(err, 422, "invalid_value", path,
				    "%s must be at most %zu characters", path, max_chars);
	*out = s;
	return true;
}

bool incd_jv_enum(struct json_object *obj, const char *prefix, const char *key, bool required,
		  const char *const *allowed, const char **out, struct incd_error *err)
{
	char path[256];
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
	incd_jv_path(path, sizeof path, prefix, key);
	*out = NULL;
	return incd_fail(err, 422, "invalid_value", path, "%s must be one of: %s", path, list);
}

static bool typed(struct json_object *obj, const char *prefix, const char *key, bool required,
		  enum json_type type, const char *what, struct json_object **out,
		  struct incd_error *err)
{
	char path[256];
	struct json_object *v = field(obj, key);
	incd_jv_path(path, sizeof path, prefix, key);
	*out = NULL;
	if (v == NULL) {
		if (required)
			return incd_fail(err, 422, "is_required", path, "%s is required", path);
		return true;
	}
	if (!json_object_is_type(v, type))
		return incd_fail(err, 422, "invalid_value", path, "%s must be %s", path, what);
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
