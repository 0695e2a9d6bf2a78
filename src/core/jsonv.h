/* Strict JSON parsing and typed field getters that report the JSON path of
 * the offending field, for the contract's 400/422 errors. Pure. */
#ifndef INCIDENTD_JSONV_H
#define INCIDENTD_JSONV_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "util.h"

/* Parses len bytes as one JSON value: strict grammar, valid UTF-8 (\u
 * escapes of UTF-16 surrogates only as high-low pairs), nesting at most 32,
 * nothing but whitespace after it. Returns an owned object
 * (release with json_object_put) or NULL with err filled (400). */
struct json_object *incd_json_parse(const char *buf, size_t len, struct incd_error *err);

/* Looks at a body without building it: true when buf is strict JSON (as
 * incd_json_parse checks it), an object, and its last top-level member
 * named key is a string written without escapes; *val then points at the
 * string's bytes in buf (not NUL-terminated) and *val_len is their number.
 * False in every other case, which the caller settles with the full
 * parse. Member names written with escapes also give false: one of them
 * could spell key. */
bool incd_json_top_string(const char *buf, size_t len, const char *key, const char **val,
			  size_t *val_len);

/* Joins prefix and key ("a.b") or prefix and index ("a[3]") into buf. */
void incd_jv_path(char *buf, size_t cap, const char *prefix, const char *key);
void incd_jv_index(char *buf, size_t cap, const char *prefix, size_t index);

/* Reads obj[key] as a string of min..max code points without NUL. Absent or
 * null: *out = NULL and true unless required. *out is borrowed from obj. */
bool incd_jv_string(struct json_object *obj, const char *prefix, const char *key, bool required,
		    size_t min_chars, size_t max_chars, const char **out,
		    struct incd_error *err) INCD_MUST_CHECK;

/* Like incd_jv_string, and the value must be one of allowed (NULL-ended). */
bool incd_jv_enum(struct json_object *obj, const char *prefix, const char *key, bool required,
		  const char *const *allowed, const char **out,
		  struct incd_error *err) INCD_MUST_CHECK;

/* Reads obj[key] as an array / object; absent or null → *out = NULL. */
bool incd_jv_array(struct json_object *obj, const char *prefix, const char *key, bool required,
		   struct json_object **out, struct incd_error *err) INCD_MUST_CHECK;
bool incd_jv_object(struct json_object *obj, const char *prefix, const char *key, bool required,
		    struct json_object **out, struct incd_error *err) INCD_MUST_CHECK;

enum incd_field_type {
	INCD_F_STRING, /* min..max code points, no NUL */
	INCD_F_ENUM,   /* a string among allowed */
	INCD_F_INT,    /* a JSON integer in min..max */
	INCD_F_BOOL,
};

/* One row of a payload description: what key holds and whether it must. */
#define INCD_JV_OPTIONAL_STRING(key, max)                                                          \
	{                                                                                          \
		key, INCD_F_STRING, false, 0, max, NULL                                            \
	}

struct incd_field_spec {
	const char *key;
	enum incd_field_type type;
	bool required;
	long long min, max;	    /* code points for strings, values for integers */
	const char *const *allowed; /* INCD_F_ENUM: NULL-ended list */
};

/* Checks every field of spec in obj (at path prefix) and copies the present
 * ones into norm, so SQL sees only checked fields. */
bool incd_jv_fields(struct json_object *obj, const char *prefix, const struct incd_field_spec *spec,
		    size_t n, struct json_object *norm, struct incd_error *err) INCD_MUST_CHECK;

/* Copies obj[key] into dst[key] (sharing the value) when present and not null. */
void incd_jv_copy(struct json_object *dst, struct json_object *obj, const char *key);

#endif
