/* Maps (method, path) to a route. Pure: the table is data supplied by the
 * caller, so tests use their own. */
#ifndef INCIDENTD_ROUTER_H
#define INCIDENTD_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

#include "request.h"

struct incd_ctx;
typedef bool (*incd_handler_fn)(struct incd_ctx *ctx);

struct incd_route {
	enum incd_method method;
	/* "/v1/incidents/{id}": a {name} segment matches one non-empty
	 * segment; everything else matches exactly (no trailing slash). */
	const char *pattern;
	incd_handler_fn handler;
	unsigned scopes; /* any of these scopes admits the key; 0 = no authentication */
};

enum incd_route_result {
	INCD_ROUTE_FOUND,
	INCD_ROUTE_NOT_FOUND,	       /* no pattern matches the path */
	INCD_ROUTE_METHOD_NOT_ALLOWED, /* a pattern matches, not with this method */
};

struct incd_route_match {
	const struct incd_route *route; /* borrowed from the table */
	char param[128];		/* the {name} segment's value, "" if none */
	char allow[64];			/* "GET, POST" when METHOD_NOT_ALLOWED */
};

enum incd_route_result incd_route(const struct incd_route *table, size_t n, enum incd_method method,
				  const char *path, struct incd_route_match *out);

#endif
