/* Authentication: bearer token → API key identity, with a per-worker cache
 * of recently seen keys (invalidated by NOTIFY on any key change), and the
 * role → scope table. */
#ifndef INCIDENTD_AUTH_H
#define INCIDENTD_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "db.h"
#include "error.h"
#include "ulid.h"

enum incd_scope {
	INCD_SCOPE_ANY_KEY = 1u << 0,  /* every valid key (identity) */
	INCD_SCOPE_VIEW = 1u << 1,     /* incidents.view (public) and config reads */
	INCD_SCOPE_CREATE = 1u << 2,   /* incidents.create */
	INCD_SCOPE_PRIVATE = 1u << 3,  /* see private incidents */
	INCD_SCOPE_SETTINGS = 1u << 4, /* organisation_settings.update */
	INCD_SCOPE_EDIT = 1u << 5,     /* incidents.edit (Incidents V2 edit) */
};

struct incd_identity {
	char api_key_id[INCD_ULID_LEN + 1];
	char organisation_id[INCD_ULID_LEN + 1];
	char *name;  /* owned by the cache entry */
	char *roles; /* comma-separated role names; owned by the cache entry */
	unsigned scopes;
	uint32_t rate_limit; /* requests per minute; 0 = unlimited */
};

/* Scopes granted by a comma-separated list of role names. Pure. */
unsigned incd_roles_scopes(const char *roles);

struct incd_auth_cache;

struct incd_auth_cache *incd_auth_cache_new(void);
void incd_auth_cache_free(struct incd_auth_cache *c);

/* Resolves an Authorization header value (may be NULL). On success *who is
 * borrowed from the cache, valid until the next call. On failure err is
 * 401 (missing_authorization_material / access_token_invalid) or a database
 * error (503/500). */
bool incd_authenticate(struct incd_auth_cache *c, struct incd_db *db, const char *authorization,
		       const struct incd_identity **who, struct incd_error *err) INCD_MUST_CHECK;

#endif
