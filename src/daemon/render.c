/* Filling incident frames in with cached configuration objects (render.h;
 * the frame format is in sql/code/20_frames.sql).
 *
 * The cache maps organisation + reference ("S" + severity id, ...) to the
 * object's compact JSON as api.config_objects rendered it, tagged with the
 * organisation's configuration version it was read at. An object is good
 * for a read whose version is not newer. A render runs in three steps:
 * find every object its frames name, marking the missing and stale ones;
 * load all of those in one statement; write the JSON. Only then are the
 * least recently used objects dropped down to the budget, so nothing a
 * render holds disappears under it. */
#include "render.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define ID_LEN 26		      /* a ULID */
#define KEY_LEN (ID_LEN + 1 + ID_LEN) /* organisation, tag, object id */
#define REF_START '\x01'	      /* a reference: 0x01, tag, payload, 0x02 */
#define REF_END '\x02'
#define NOT_LOADED (-1LL) /* an entry asked for, not loaded yet */
#define ALLOC_OVERHEAD 16 /* what malloc adds to each block */

/* An option of a custom field, for the field's options list. */
struct option {
	long long created_us;
	long long archived_us; /* LLONG_MAX while live */
	char *doc;
	size_t len;
};

struct entry {
	char key[KEY_LEN];
	long long version; /* configuration version it was read at, or NOT_LOADED */
	char *doc;	   /* compact JSON; a custom field's head without '}' */
	size_t len;
	struct option *opts; /* a custom field's options, in display order */
	size_t nopts, opts_cap;
	size_t bytes; /* counted against the budget */
	struct entry *hash_next;
	struct entry *lru_prev, *lru_next; /* lru_next is less recently used */
};

struct incd_render {
	char *permalink; /* ,"permalink":"<escaped public URL>/incidents/ or NULL */
	size_t permalink_len;
	size_t budget, bytes, count;
	struct entry **buckets;
	size_t nbuckets;	/* a power of two */
	struct entry lru;	/* sentinel: lru.lru_next is the most recently used */
	struct entry **pending; /* entries a render asked for, to load */
	size_t npending, pending_cap;
	struct entry **found; /* every reference's entry, in the frames' order */
	size_t nfound, found_cap;
	struct incd_buf refs; /* scratch: the text[] literal of a load */
};

static struct incd_stmt objects_stmt = {
    "config_objects",
    "SELECT ref, doc, created_us, archived_us, config_version FROM api.config_objects($1, "
    "$2::text[])",
    2, 0};

/* Keys end in a ULID, whose last 16 characters are random: eight of them,
 * the tag and eight of the organisation's, multiplied and folded, spread
 * well and cost a few instructions (a render looks up hundreds of keys). */
static uint64_t hash_key(const char *key)
{
	uint64_t id, org;
	memcpy(&id, key + KEY_LEN - 8, 8);
	memcpy(&org, key + ID_LEN - 8, 8);
	uint64_t h = (id ^ ((uint64_t)(unsigned char)key[ID_LEN] << 56)) * 0x9e3779b97f4a7c15ull;
	h ^= org * 0xc2b2ae3d27d4eb4full;
	return h ^ (h >> 29);
}

static void lru_unlink(struct entry *e)
{
	e->lru_prev->lru_next = e->lru_next;
	e->lru_next->lru_prev = e->lru_prev;
}

static void lru_push_front(struct incd_render *r, struct entry *e)
{
	e->lru_prev = &r->lru;
	e->lru_next = r->lru.lru_next;
	r->lru.lru_next->lru_prev = e;
	r->lru.lru_next = e;
}

struct incd_render *incd_render_new(const char *public_url, size_t cache_bytes)
{
	struct incd_render *r = incd_xcalloc(1, sizeof *r);
	r->budget = cache_bytes;
	r->nbuckets = 256;
	r->buckets = incd_xcalloc(r->nbuckets, sizeof *r->buckets);
	r->lru.lru_next = r->lru.lru_prev = &r->lru;
	if (public_url != NULL && public_url[0] != '\0') {
		/* The old renderer's json_strip_nulls escaped it like any string. */
		struct incd_buf b = {0}, url = {0};
		incd_buf_addf(&url, "%s/incidents/", public_url);
		incd_buf_adds(&b, ",\"permalink\":");
		incd_buf_add_json_string(&b, url.data);
		r->permalink_len = b.len - 1; /* the number and '"' follow */
		r->permalink = b.data;
		incd_buf_free(&url);
	}
	return r;
}

static void entry_clear(struct entry *e)
{
	free(e->doc);
	for (size_t i = 0; i < e->nopts; i++)
		free(e->opts[i].doc);
	free(e->opts);
	e->doc = NULL;
	e->opts = NULL;
	e->len = e->nopts = e->opts_cap = 0;
}

static void entry_remove(struct incd_render *r, struct entry *e)
{
	struct entry **p = &r->buckets[hash_key(e->key) & (r->nbuckets - 1)];
	while (*p != e)
		p = &(*p)->hash_next;
	*p = e->hash_next;
	lru_unlink(e);
	r->bytes -= e->bytes;
	r->count--;
	entry_clear(e);
	free(e);
}

void incd_render_free(struct incd_render *r)
{
	if (r == NULL)
		return;
	while (r->lru.lru_next != &r->lru)
		entry_remove(r, r->lru.lru_next);
	free(r->buckets);
	free(r->pending);
	free(r->found);
	free(r->permalink);
	incd_buf_free(&r->refs);
	free(r);
}

size_t incd_render_cached_objects(const struct incd_render *r)
{
	return r->count;
}

size_t incd_render_cached_bytes(const struct incd_render *r)
{
	return r->bytes;
}

static struct entry *lookup(const struct incd_render *r, const char *key)
{
	struct entry *e = r->buckets[hash_key(key) & (r->nbuckets - 1)];
	while (e != NULL && memcmp(e->key, key, KEY_LEN) != 0)
		e = e->hash_next;
	return e;
}

/* Doubles the buckets once there are more entries than buckets. */
static void grow(struct incd_render *r)
{
	size_t n = r->nbuckets * 2;
	struct entry **b = incd_xcalloc(n, sizeof *b);
	for (size_t i = 0; i < r->nbuckets; i++) {
		for (struct entry *e = r->buckets[i], *next; e != NULL; e = next) {
			next = e->hash_next;
			size_t k = hash_key(e->key) & (n - 1);
			e->hash_next = b[k];
			b[k] = e;
		}
	}
	free(r->buckets);
	r->buckets = b;
	r->nbuckets = n;
}

static struct entry *insert(struct incd_render *r, const char *key)
{
	if (r->count >= r->nbuckets)
		grow(r);
	struct entry *e = incd_xcalloc(1, sizeof *e);
	memcpy(e->key, key, KEY_LEN);
	e->version = NOT_LOADED;
	e->bytes = sizeof *e + ALLOC_OVERHEAD;
	size_t k = hash_key(key) & (r->nbuckets - 1);
	e->hash_next = r->buckets[k];
	r->buckets[k] = e;
	lru_push_front(r, e);
	r->bytes += e->bytes;
	r->count++;
	return e;
}

/* One reference of a frame: tag, and its payload (borrowed from the frame). */
struct ref {
	char tag;
	const char *payload;
	size_t len;
};

/* Reads the reference at *p (just after REF_START); advances *p past it. */
static bool next_ref(const char **p, const char *end, struct ref *ref)
{
	const char *q = memchr(*p, REF_END, (size_t)(end - *p));
	if (q == NULL || q == *p)
		return false;
	ref->tag = **p;
	ref->payload = *p + 1;
	ref->len = (size_t)(q - ref->payload);
	*p = q + 1;
	return true;
}

/* The cache key of a reference (its object's: a custom field's options
 * list is one object whatever the time it is asked for); false if the
 * reference is not one the format has. */
static bool ref_key(const char *org, const struct ref *ref, char key[KEY_LEN])
{
	switch (ref->tag) {
	case 'K':
	case 'S':
	case 'T':
	case 'U':
	case 'R':
	case 'O':
	case 'A':
	case 'M':
		if (ref->len != ID_LEN)
			return false;
		break;
	case 'F':
		if (ref->len <= ID_LEN + 1 || ref->payload[ID_LEN] != ':')
			return false;
		break;
	default:
		return false;
	}
	memcpy(key, org, ID_LEN);
	key[ID_LEN] = ref->tag;
	memcpy(key + ID_LEN + 1, ref->payload, ID_LEN);
	return true;
}

static bool malformed(const char *org, struct incd_error *err)
{
	incd_log(INCD_LOG_ERROR, "malformed incident frame in organisation %s", org);
	return incd_fail(err, 500, "internal_error", NULL,
			 "An internal error occurred; it has been logged");
}

/* Appends e to a growable array of entries. */
static void push(struct entry ***arr, size_t *n, size_t *cap, struct entry *e)
{
	if (*n == *cap) {
		*cap = *cap ? 2 * *cap : 64;
		*arr = incd_xrealloc(*arr, *cap * sizeof **arr);
	}
	(*arr)[(*n)++] = e;
}

/* Step 1: every object the frames name is fresh in the cache or pending,
 * and r->found lists them in the order the frames name them, for step 3. */
static bool find_objects(struct incd_render *r, const char *org, long long version,
			 const struct incd_frame *frames, size_t n, struct incd_error *err)
{
	char key[KEY_LEN];
	struct ref ref;

	r->npending = r->nfound = 0;
	for (size_t i = 0; i < n; i++) {
		const char *p = frames[i].text, *end = p + frames[i].len;
		while ((p = memchr(p, REF_START, (size_t)(end - p))) != NULL) {
			p++;
			if (!next_ref(&p, end, &ref))
				return malformed(org, err);
			if (ref.tag == 'P')
				continue;
			if (!ref_key(org, &ref, key))
				return malformed(org, err);
			struct entry *e = lookup(r, key);
			if (e == NULL) {
				e = insert(r, key);
				push(&r->pending, &r->npending, &r->pending_cap, e);
			} else if (e->version == NOT_LOADED) {
				/* pending already */
			} else if (e->version < version) {
				r->bytes -= e->bytes;
				entry_clear(e);
				e->bytes = sizeof *e + ALLOC_OVERHEAD;
				r->bytes += e->bytes;
				e->version = NOT_LOADED;
				push(&r->pending, &r->npending, &r->pending_cap, e);
			} else {
				lru_unlink(e);
				lru_push_front(r, e);
			}
			push(&r->found, &r->nfound, &r->found_cap, e);
		}
	}
	return true;
}

static char *dup_value(const struct pg_result *res, int row, int col, size_t *len)
{
	*len = (size_t)incd_db_length(res, row, col);
	return incd_xstrndup(incd_db_value(res, row, col), *len);
}

/* Stores one row of api.config_objects in its entry. */
static void store_row(struct incd_render *r, struct entry *e, const struct pg_result *res, int row)
{
	size_t len;
	r->bytes -= e->bytes;
	if (incd_db_value(res, row, 2) == NULL) { /* an object, or a field's head */
		free(e->doc);
		e->doc = dup_value(res, row, 1, &e->len);
		e->bytes += e->len + 1 + ALLOC_OVERHEAD;
	} else { /* an option of a field */
		if (e->nopts == e->opts_cap) {
			e->opts_cap = e->opts_cap ? 2 * e->opts_cap : 8;
			e->opts = incd_xrealloc(e->opts, e->opts_cap * sizeof *e->opts);
			e->bytes += (e->opts_cap / 2) * sizeof *e->opts + ALLOC_OVERHEAD;
		}
		struct option *o = &e->opts[e->nopts++];
		o->created_us = incd_db_ll(res, row, 2, 0);
		o->archived_us = incd_db_ll(res, row, 3, LLONG_MAX);
		o->doc = dup_value(res, row, 1, &len);
		o->len = len;
		e->bytes += len + 1 + ALLOC_OVERHEAD;
	}
	e->version = incd_db_ll(res, row, 4, 0);
	r->bytes += e->bytes;
}

/* Step 2: loads every pending object in one statement. An object that does
 * not exist is an error (the schema's foreign keys make it impossible); it
 * stays pending, without a document. */
static bool load_pending(struct incd_render *r, struct incd_db *db, const char *org,
			 struct incd_error *err)
{
	struct pg_result *res = NULL;
	char key[KEY_LEN];
	bool ok = false;

	if (r->npending == 0)
		return true;
	/* References are letters and digits: no quoting needed. */
	incd_buf_reset(&r->refs);
	incd_buf_add(&r->refs, "{", 1);
	for (size_t i = 0; i < r->npending; i++) {
		if (i > 0)
			incd_buf_add(&r->refs, ",", 1);
		incd_buf_add(&r->refs, r->pending[i]->key + ID_LEN, KEY_LEN - ID_LEN);
	}
	incd_buf_add(&r->refs, "}", 1);
	const char *values[] = {org, r->refs.data};
	if (!incd_db_exec(db, &objects_stmt, values, NULL, NULL, &res, err))
		goto done;
	memcpy(key, org, ID_LEN);
	for (int row = 0; row < incd_db_ntuples(res); row++) {
		const char *ref = incd_db_value(res, row, 0);
		if (ref == NULL || strlen(ref) != KEY_LEN - ID_LEN)
			continue;
		memcpy(key + ID_LEN, ref, KEY_LEN - ID_LEN);
		struct entry *e = lookup(r, key);
		if (e != NULL)
			store_row(r, e, res, row);
	}
	ok = true;
	for (size_t i = 0; i < r->npending; i++) {
		const struct entry *e = r->pending[i];
		if (e->doc != NULL)
			continue;
		incd_log(INCD_LOG_ERROR,
			 "an incident frame of organisation %s names %.*s, which does not exist",
			 org, KEY_LEN - ID_LEN, e->key + ID_LEN);
		ok = incd_fail(err, 500, "internal_error", NULL,
			       "An internal error occurred; it has been logged");
	}
done:
	incd_db_clear(res);
	return ok;
}

/* A custom field as of time t: its head, then the options live at t. */
static void write_field(const struct entry *e, long long t, struct incd_buf *out)
{
	bool first = true;
	incd_buf_add(out, e->doc, e->len);
	incd_buf_add(out, ",\"options\":[", 12);
	for (size_t i = 0; i < e->nopts; i++) {
		const struct option *o = &e->opts[i];
		if (o->created_us > t || o->archived_us <= t)
			continue;
		if (!first)
			incd_buf_add(out, ",", 1);
		incd_buf_add(out, o->doc, o->len);
		first = false;
	}
	incd_buf_add(out, "]}", 2);
}

/* Step 3: one frame, filled in; *next is the index in r->found of the
 * frame's first reference, advanced past its last. */
static bool write_frame(const struct incd_render *r, const char *org, const struct incd_frame *f,
			size_t *next, struct incd_buf *out, struct incd_error *err)
{
	const char *p = f->text, *end = p + f->len, *q;
	struct ref ref;

	while ((q = memchr(p, REF_START, (size_t)(end - p))) != NULL) {
		incd_buf_add(out, p, (size_t)(q - p));
		p = q + 1;
		if (!next_ref(&p, end, &ref))
			return malformed(org, err);
		if (ref.tag == 'P') {
			if (r->permalink != NULL) {
				incd_buf_add(out, r->permalink, r->permalink_len);
				incd_buf_add(out, ref.payload, ref.len);
				incd_buf_add(out, "\"", 1);
			}
			continue;
		}
		const struct entry *e = *next < r->nfound ? r->found[(*next)++] : NULL;
		if (e == NULL || e->doc == NULL)
			return malformed(org, err);
		if (ref.tag == 'F') {
			char *stop = NULL;
			long long t = strtoll(ref.payload + ID_LEN + 1, &stop, 10);
			if (stop != ref.payload + ref.len)
				return malformed(org, err);
			write_field(e, t, out);
		} else {
			incd_buf_add(out, e->doc, e->len);
		}
	}
	incd_buf_add(out, p, (size_t)(end - p));
	return true;
}

/* Drops the least recently used objects until the cache fits its budget. */
static void trim(struct incd_render *r)
{
	while (r->bytes > r->budget && r->lru.lru_prev != &r->lru)
		entry_remove(r, r->lru.lru_prev);
}

bool incd_render_frames(struct incd_render *r, struct incd_db *db, const char *org,
			long long version, const struct incd_frame *frames, size_t n,
			const char *sep, struct incd_buf *out, struct incd_error *err)
{
	bool ok = false;
	size_t sep_len = strlen(sep);

	if (strlen(org) != ID_LEN)
		return malformed(org, err);
	if (!find_objects(r, org, version, frames, n, err) || !load_pending(r, db, org, err))
		goto done;
	size_t next = 0;
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			incd_buf_add(out, sep, sep_len);
		if (!write_frame(r, org, &frames[i], &next, out, err))
			goto done;
	}
	ok = true;
done:
	/* What a failed step left unloaded holds nothing: drop it. */
	for (size_t i = 0; i < r->npending; i++)
		if (r->pending[i]->doc == NULL)
			entry_remove(r, r->pending[i]);
	r->npending = 0;
	trim(r);
	return ok;
}
