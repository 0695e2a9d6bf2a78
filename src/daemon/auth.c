/* API key authentication with a small per-worker cache.
 *
 * Why a cache: it saves one database round trip on nearly every request.
 * Why it stays correct: a trigger on api_keys NOTIFYs incidentd_api_keys on
 * every change (revoke, role change, delete). The worker reads the
 * connection whenever it turns readable between requests, libpq queues
 * what arrives with a result, and each request first checks that queue and
 * flushes the cache on any notification. After a reconnect notifications
 * may have been missed, so a new connection generation also flushes it. The
 * TTL bounds staleness should NOTIFY ever be lost some other way. */
#include "auth.h"

#include <openssl/crypto.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "request.h"
#include "token.h"

#define CACHE_SIZE 64
#define CACHE_TTL_SECONDS 60

struct entry {
	bool used;
	unsigned char hash[INCD_TOKEN_HASH_LEN];
	time_t fetched_at;
	struct incd_identity who;
};

struct incd_auth_cache {
	struct entry entries[CACHE_SIZE];
	unsigned long generation;
};

static struct incd_stmt authenticate = {
    "authenticate",
    "SELECT api_key_id, api_key_name, organisation_id, roles, rate_limit "
    "FROM api.authenticate($1::bytea)",
    1, 0};

static const struct {
	const char *role;
	unsigned scopes;
} role_scopes[] = {
    {"viewer", INCD_SCOPE_VIEW},
    {"incident_creator", INCD_SCOPE_CREATE},
    {"global_access", INCD_SCOPE_VIEW | INCD_SCOPE_PRIVATE},
    {"manage_settings", INCD_SCOPE_SETTINGS},
    {"incident_editor", INCD_SCOPE_EDIT},
};

unsigned incd_roles_scopes(const char *roles)
{
	unsigned scopes = INCD_SCOPE_ANY_KEY;
	const char *p = roles ? roles : "";
	while (*p) {
		size_t n = strcspn(p, ",");
		for (size_t i = 0; i < INCD_ARRAY_LEN(role_scopes); i++)
			if (strlen(role_scopes[i].role) == n &&
			    memcmp(p, role_scopes[i].role, n) == 0)
				scopes |= role_scopes[i].scopes;
		p += n;
		if (*p == ',')
			p++;
	}
	return scopes;
}

struct incd_auth_cache *incd_auth_cache_new(void)
{
	return incd_xcalloc(1, sizeof(struct incd_auth_cache));
}

static void entry_clear(struct entry *e)
{
	free(e->who.name);
	free(e->who.roles);
	memset(e, 0, sizeof *e);
}

/* Drops every entry but keep (which may be NULL). */
static void flush_except(struct incd_auth_cache *c, const struct entry *keep)
{
	for (size_t i = 0; i < CACHE_SIZE; i++)
		if (&c->entries[i] != keep)
			entry_clear(&c->entries[i]);
}

static void flush(struct incd_auth_cache *c)
{
	flush_except(c, NULL);
}

void incd_auth_cache_free(struct incd_auth_cache *c)
{
	if (c == NULL)
		return;
	flush(c);
	free(c);
}

static struct entry *lookup(struct incd_auth_cache *c, const unsigned char *hash, time_t now)
{
	for (size_t i = 0; i < CACHE_SIZE; i++) {
		struct entry *e = &c->entries[i];
		if (e->used && CRYPTO_memcmp(e->hash, hash, INCD_TOKEN_HASH_LEN) == 0) {
			if (now - e->fetched_at < CACHE_TTL_SECONDS)
				return e;
			entry_clear(e);
		}
	}
	return NULL;
}

/* A free slot, else the oldest one. */
static struct entry *victim(struct incd_auth_cache *c)
{
	struct entry *oldest = &c->entries[0];
	for (size_t i = 0; i < CACHE_SIZE; i++) {
		if (!c->entries[i].used)
			return &c->entries[i];
		if (c->entries[i].fetched_at < oldest->fetched_at)
			oldest = &c->entries[i];
	}
	entry_clear(oldest);
	return oldest;
}

static bool fetch(struct incd_auth_cache *c, struct incd_db *db, const unsigned char *hash,
		  time_t now, struct entry **out, struct incd_error *err)
{
	struct pg_result *res = NULL;
	const char *values[] = {(const char *)hash};
	const int lengths[] = {INCD_TOKEN_HASH_LEN};
	const int formats[] = {1};
	bool ok = false;

	if (!incd_db_exec(db, &authenticate, values, lengths, formats, &res, err))
		goto done;
	if (incd_db_ntuples(res) != 1) {
		incd_fail(err, 401, "access_token_invalid", NULL,
			  "The API key is invalid or has been revoked");
		goto done;
	}
	struct entry *e = victim(c);
	e->used = true;
	memcpy(e->hash, hash, INCD_TOKEN_HASH_LEN);
	e->fetched_at = now;
	snprintf(e->who.api_key_id, sizeof e->who.api_key_id, "%s", incd_db_value(res, 0, 0));
	e->who.name = incd_xstrdup(incd_db_value(res, 0, 1));
	snprintf(e->who.organisation_id, sizeof e->who.organisation_id, "%s",
		 incd_db_value(res, 0, 2));
	const char *roles = incd_db_value(res, 0, 3);
	e->who.roles = incd_xstrdup(roles ? roles : "");
	e->who.scopes = incd_roles_scopes(e->who.roles);
	/* An int4 that the table checks is >= 0, never NULL. */
	e->who.rate_limit = (uint32_t)incd_db_ll(res, 0, 4, 0);
	*out = e;
	ok = true;
done:
	incd_db_clear(res);
	return ok;
}

bool incd_authenticate(struct incd_auth_cache *c, struct incd_db *db, const char *authorization,
		       const struct incd_identity **who, struct incd_error *err)
{
	const char *tok;
	size_t len;
	unsigned char hash[INCD_TOKEN_HASH_LEN];
	struct entry *e;
	time_t now = time(NULL);

	*who = NULL;
	if (authorization == NULL || *authorization == '\0')
		return incd_fail(err, 401, "missing_authorization_material", NULL,
				 "No API key: send 'Authorization: Bearer <API key>'");
	if (!incd_bearer_token(authorization, &tok, &len) || !incd_token_well_formed(tok, len))
		return incd_fail(err, 401, "access_token_invalid", NULL,
				 "The API key is invalid or has been revoked");

	if (incd_db_notified(db) || c->generation != incd_db_generation(db)) {
		flush(c);
		c->generation = incd_db_generation(db);
	}
	incd_token_hash(tok, len, hash);
	e = lookup(c, hash, now);
	if (e == NULL) {
		if (!fetch(c, db, hash, now, &e, err))
			return false;
		/* fetch may have found the connection dead and reconnected: what
		 * was cached before may have missed a NOTIFY; this entry is fresh. */
		if (c->generation != incd_db_generation(db)) {
			flush_except(c, e);
			c->generation = incd_db_generation(db);
		}
	}
	*who = &e->who;
	return true;
}
