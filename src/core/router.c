/* Route matching by segments; patterns have at most one {param}. */
#include "router.h"

#include <stdio.h>
#include <string.h>

/* Matches path against pattern; on success copies the parameter segment. */
static bool match(const char *pattern, const char *path, char *param, size_t cap)
{
	const char *p = pattern, *s = path;
	param[0] = '\0';
	while (*p && *s) {
		if (*p == '{') {
			const char *pe = strchr(p, '}');
			size_t n = strcspn(s, "/");
			if (pe == NULL || n == 0 || n >= cap)
				return false;
			memcpy(param, s, n);
			param[n] = '\0';
			p = pe + 1;
			s += n;
			continue;
		}
		if (*p != *s)
			return false;
		p++;
		s++;
	}
	/* The whole path must be the pattern: no trailing slash tolerated.
	 * Clients that normalise dot segments send "/v1/incidents/." and
	 * "/v1/incidents/x/.." as "/v1/incidents/", which names a show URL with
	 * its id removed, never the list. */
	return *p == '\0' && *s == '\0';
}

enum incd_route_result incd_route(const struct incd_route *table, size_t n, enum incd_method method,
				  const char *path, struct incd_route_match *out)
{
	bool path_known = false;
	size_t allow_len = 0;
	char param[sizeof out->param];

	memset(out, 0, sizeof *out);
	for (size_t i = 0; i < n; i++) {
		if (!match(table[i].pattern, path, param, sizeof param))
			continue;
		if (table[i].method == method) {
			out->route = &table[i];
			memcpy(out->param, param, sizeof param);
			return INCD_ROUTE_FOUND;
		}
		path_known = true;
		const char *name = incd_method_name(table[i].method);
		if (strstr(out->allow, name) == NULL) {
			int w = snprintf(out->allow + allow_len, sizeof out->allow - allow_len,
					 "%s%s", allow_len ? ", " : "", name);
			if (w > 0 && (size_t)w < sizeof out->allow - allow_len)
				allow_len += (size_t)w;
		}
	}
	return path_known ? INCD_ROUTE_METHOD_NOT_ALLOWED : INCD_ROUTE_NOT_FOUND;
}
