/* Incident rendering in the worker. PostgreSQL stores each incident's
 * frame: its IncidentV1 JSON with every configuration object named by a
 * reference instead (sql/code/20_frames.sql says the format). A worker
 * fills a frame in with the objects' JSON from its own cache, which is
 * checked against the organisation's configuration version that every
 * read returns, so a configuration change renders at once
 * (docs/DESIGN.md, "Read path"). Pure but for one database call that
 * loads the objects a render misses. */
#ifndef INCIDENTD_RENDER_H
#define INCIDENTD_RENDER_H

#include <stdbool.h>
#include <stddef.h>

#include "db.h"
#include "error.h"
#include "util.h"

struct incd_render;

/* A cache of at most about cache_bytes of objects (one request may exceed
 * it while it runs; the least recently used objects are dropped after
 * it). public_url is the base of permalinks, without a trailing '/'; ""
 * leaves permalinks out. Returns an owned renderer: free with
 * incd_render_free. */
struct incd_render *incd_render_new(const char *public_url, size_t cache_bytes);
void incd_render_free(struct incd_render *r);

/* One frame to render: borrowed bytes, valid for the call. */
struct incd_frame {
	const char *text;
	size_t len;
};

/* Appends the IncidentV1 JSON of each of the n frames of organisation org
 * to out, separated by sep. version is the organisation's configuration
 * version read with the frames: cached objects older than it are loaded
 * again, with whatever is missing, in one call through db. False with err
 * set on a database error (503/500) or a frame that is malformed or names
 * an object that does not exist (500, logged). */
bool incd_render_frames(struct incd_render *r, struct incd_db *db, const char *org,
			long long version, const struct incd_frame *frames, size_t n,
			const char *sep, struct incd_buf *out,
			struct incd_error *err) INCD_MUST_CHECK;

/* What the cache holds: objects and bytes (for tests and the log). */
size_t incd_render_cached_objects(const struct incd_render *r);
size_t incd_render_cached_bytes(const struct incd_render *r);

#endif
