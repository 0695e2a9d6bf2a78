/* incidentctl's commands: each one a short transaction of parameterised
 * statements against the tables of sql/ (see docs/DESIGN.md, "Core
 * tables"). */
#include "ctl.h"
#include "token.h"
#include "ulid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const incd_ctl_api_roles[] = {
    "viewer",
    "incident_creator",
    "incident_editor",
    "manage_settings",
    "global_access",
    "catalog_viewer",
    "catalog_editor",
    "incident_memberships_editor",
    "schedules_editor",
    "schedules_reader",
    "schedule_overrides_editor",
    "workflows_editor",
    "workflows_viewer",
    "private_workflows_editor",
    "private_escalation_workflows_editor",
    "on_call_editor",
    "on_call_viewer",
    "escalation_creator",
    "post_incident_flow_opt_out",
    "security_settings_editor",
    "investigation_download",
    "team_memberships_manage",
    "status_page_publisher",
    "postmortems_manage",
    "api_keys_manage",
    "notification_methods_manage",
    "notification_methods_unredacted_viewer",
    "incident_workload_viewer",
    "incident_workload_private_viewer",
    "act_on_behalf_of_users",
    "secrets_manage",
    "secrets_use",
    "call_transcripts_viewer",
    "heartbeats_ping",
    NULL,
};

const char *const incd_ctl_user_roles[] = {"viewer", "responder", "administrator", "owner", NULL};

static const char *const create_in_triage_values[] = {"always", "optional", NULL};

bool incd_ctl_in_list(const char *const *list, const char *s)
{
	for (; *list != NULL; list++)
		if (strcmp(*list, s) == 0)
			return true;
	return false;
}

/* ---- shared steps ---- */

/* Checks that organisation org exists; with lock, also takes its row lock
 * (FOR NO KEY UPDATE) for the rest of the transaction, which serialises
 * the commands that must see a stable set of rows (defaults, seed-demo).
 * Returns INCD_CTL_FAIL after printing "organisation X not found". */
static enum incd_ctl_status org_check(PGconn *conn, const char *org, bool lock)
{
	enum incd_ctl_status st = INCD_CTL_FAIL;
	const char *params[] = {org};
	char id[INCD_ULID_LEN + 1];
	bool found = false;

	if (!incd_ctl_query_value(
		conn, "look up the organisation",
		lock ? "SELECT id FROM organisations WHERE id = $1 FOR NO KEY UPDATE"
		     : "SELECT id FROM organisations WHERE id = $1 FOR KEY SHARE",
		1, params, &found, id, sizeof id))
		goto done;
	if (!found) {
		incd_ctl_err("organisation %s not found", org);
		goto done;
	}
	st = INCD_CTL_OK;
done:
	return st;
}

struct role_def {
	const char *name;
	const char *shortform;
	const char *role_type; /* lead, reporter or custom */
	const char *description;
	const char *instructions;
};

static const struct role_def lead_role = {
    "Incident Lead",
    "lead",
    "lead",
    "The person currently coordinating the incident",
    "Take point on the incident; make sure people are clear on responsibilities",
};

static bool role_insert(PGconn *conn, const char *org, const struct role_def *r,
			char id[INCD_ULID_LEN + 1])
{
	incd_ulid_new(id);
	const char *params[] = {
	    id, org, r->name, r->shortform, r->role_type, r->description, r->instructions};
	return incd_ctl_command(conn, "create incident role",
				"INSERT INTO incident_roles (id, organisation_id, name, shortform, "
				"role_type, description, instructions, required) "
				"VALUES ($1, $2, $3, $4, $5, $6, $7, false)",
				7, params);
}

/* ---- org create ---- */

enum incd_ctl_status incd_ctl_org_create(PGconn *conn, const char *name)
{
	enum incd_ctl_status st = INCD_CTL_FAIL;
	char id[INCD_ULID_LEN + 1];
	char role_id[INCD_ULID_LEN + 1];
	const char *params[] = {id, name};

	incd_ulid_new(id);
	if (!incd_ctl_begin(conn))
		goto done;
	if (!incd_ctl_command(conn, "create organisation",
			      "INSERT INTO organisations (id, name) VALUES ($1, $2)", 2, params))
		goto done;
	if (!role_insert(conn, id, &lead_role, role_id))
		goto done;
	if (!incd_ctl_commit(conn))
		goto done;
	printf("%s\n", id);
	st = INCD_CTL_OK;
done:
	incd_ctl_rollback(conn);
	return st;
}

/* ---- api-key create / revoke ---- */

bool incd_ctl_rate_limit_valid(const char *s)
{
	size_t n = strspn(s, "0123456789");
	if (n == 0 || s[n] != '\0')
		return false;
	while (n > 1 && *s == '0') {
		s++;
		n--;
	}
	return n < 10 || (n == 10 && strcmp(s, "2147483647") <= 0);
}

enum incd_ctl_status incd_ctl_api_key_create(PGconn *conn, const char *org, const char *name,
					     const char *const *roles, size_t nroles,
					     const char *rate_limit)
{
	enum incd_ctl_status st = INCD_CTL_FAIL;
	char id[INCD_ULID_LEN + 1];
	char token[INCD_TOKEN_LEN + 1];
	unsigned char hash[INCD_TOKEN_HASH_LEN];
	char hash_hex[2 * INCD_TOKEN_HASH_LEN + 1];
	const char *key_params[] = {id, org, name, hash_hex, rate_limit};

	token[0] = '\0';
	if (rate_limit != NULL && !incd_ctl_rate_limit_valid(rate_limit)) {
		incd_ctl_err("bad --rate-limit \"%s\": use requests per minute, 0..2147483647 "
			     "(0 = unlimited)",
			     rate_limit);
		st = INCD_CTL_USAGE;
		goto done;
	}
	if (nroles == 0) {
		incd_ctl_err("an api key needs at least one role");
		st = INCD_CTL_USAGE;
		goto done;
	}
	for (size_t i = 0; i < nroles; i++) {
		if (!incd_ctl_in_list(incd_ctl_api_roles, roles[i])) {
			incd_ctl_err("unknown api key role \"%s\" (see incidentctl api-key "
				     "create --help)",
				     roles[i]);
			st = INCD_CTL_USAGE;
			goto done;
		}
	}

	incd_ulid_new(id);
	incd_token_new(token);
	incd_token_hash(token, strlen(token), hash);
	incd_hex(hash, sizeof hash, hash_hex);

	if (!incd_ctl_begin(conn))
		goto done;
	if ((st = org_check(conn, org, false)) != INCD_CTL_OK)
		goto done;
	st = INCD_CTL_FAIL;
	/* Without --rate-limit the column's default applies: one place
	 * holds the default. */
	if (!incd_ctl_command(
		conn, "create api key",
		rate_limit == NULL
		    ? "INSERT INTO api_keys (id, organisation_id, name, token_sha256) "
		      "VALUES ($1, $2, $3, decode($4, 'hex'))"
		    : "INSERT INTO api_keys (id, organisation_id, name, token_sha256, rate_limit) "
		      "VALUES ($1, $2, $3, decode($4, 'hex'), $5::integer)",
		rate_limit == NULL ? 4 : 5, key_params))
		goto done;
	for (size_t i = 0; i < nroles; i++) {
		const char *role_params[] = {id, roles[i]};
		if (!incd_ctl_command(
			conn, "add api key role",
			"INSERT INTO api_key_roles (api_key_id, role) VALUES ($1, $2) "
			"ON CONFLICT DO NOTHING",
			2, role_params))
			goto done;
	}
	if (!incd_ctl_commit(conn))
		goto done;
	printf("%s\n", token);
	fflush(stdout);
	fprintf(stderr, "api key %s created\n", id);
	st = INCD_CTL_OK;
done:
	incd_ctl_rollback(conn);
	explicit_bzero(token, sizeof token);
	return st;
}

enum incd_ctl_status incd_ctl_api_key_revoke(PGconn *conn, const char *id)
{
	enum incd_ctl_status st = INCD_CTL_FAIL;
	const char *params[] = {id};
	bool found = false;
	char revoked[8];

	if (!incd_ctl_begin(conn))
		goto done;
	if (!incd_ctl_query_value(
		conn, "look up the api key",
		"SELECT revoked_at IS NOT NULL FROM api_keys WHERE id = $1 FOR UPDATE", 1, params,
		&found, revoked, sizeof revoked))
		goto done;
	if (!found) {
		incd_ctl_err("api key %s not found", id);
		goto done;
	}
	if (strcmp(revoked, "t") == 0) {
		fprintf(stderr, "api key %s was already revoked\n", id);
		st = INCD_CTL_OK;
		goto done;
	}
	/* A trigger on api_keys notifies the workers (channel
	 * incidentd_api_keys) at commit, so they drop the cached key. */
	if (!incd_ctl_command(conn, "revoke api key",
			      "UPDATE api_keys SET revoked_at = now(), updated_at = now() "
			      "WHERE id = $1",
			      1, params))
		goto done;
	if (!incd_ctl_commit(conn))
		goto done;
	fprintf(stderr, "api key %s revoked\n", id);
	st = INCD_CTL_OK;
done:
	incd_ctl_rollback(conn);
	return st;
}

/* ---- user create ---- */

enum incd_ctl_status incd_ctl_user_create(PGconn *conn, const char *org, const char *name,
					  const char *email, const char *slack_user_id,
					  const char *role)
{
	enum incd_ctl_status st = INCD_CTL_FAIL;
	char id[INCD_ULID_LEN + 1];

	if (role == NULL)
		role = "viewer";
	if (!incd_ctl_in_list(incd_ctl_user_roles, role)) {
		incd_ctl_err("unknown user role \"%s\" (one of viewer, responder, administrator, "
			     "owner)",
			     role);
		st = INCD_CTL_USAGE;
		goto done;
	}
	incd_ulid_new(id);
	const char *params[] = {id, org, name, email, slack_user_id, role};
	if (!incd_ctl_begin(conn))
		goto done;
	if ((st = org_check(conn, org, false)) != INCD_CTL_OK)
		goto done;
	st = INCD_CTL_FAIL;
	if (!incd_ctl_command(conn, "create user",
			      "INSERT INTO users (id, organisation_id, name, email, slack_user_id, "
			      "role) VALUES ($1, $2, $3, $4, $5, $6)",
			      6, params))
		goto done;
	if (!incd_ctl_commit(conn))
		goto done;
	printf("%s\n", id);
	st = INCD_CTL_OK;
done:
	incd_ctl_rollback(conn);
	return st;
}

/* ---- incident-type create ---- */

enum incd_ctl_status incd_ctl_incident_type_create(PGconn *conn,
						   const struct incd_ctl_incident_type *t)
{
	enum incd_ctl_status st = INCD_CTL_FAIL;
	char id[INCD_ULID_LEN + 1];
	const char *triage = t->create_in_triage != NULL ? t->create_in_triage : "optional";
	const char *org_params[] = {t->org};
	const char *params[] = {id,
				t->org,
				t->name,
				t->description != NULL ? t->description : "",
				t->is_default ? "true" : "false",
				t->private_only ? "true" : "false",
				triage};

	if (!incd_ctl_in_list(create_in_triage_values, triage)) {
		incd_ctl_err("bad --create-in-triage \"%s\": use always or optional", triage);
		st = INCD_CTL_USAGE;
		goto done;
	}
	incd_ulid_new(id);
	if (!incd_ctl_begin(conn))
		goto done;
	/* The row lock keeps two concurrent --default creates from both
	 * ending up default. */
	if ((st = org_check(conn, t->org, t->is_default)) != INCD_CTL_OK)
		goto done;
	st = INCD_CTL_FAIL;
	if (t->is_default &&
	    !incd_ctl_command(conn, "clear the previous default incident type",
			      "UPDATE incident_types SET is_default = false, updated_at = now() "
			      "WHERE organisation_id = $1 AND is_default",
			      1, org_params))
		goto done;
	if (!incd_ctl_command(conn, "create incident type",
			      "INSERT INTO incident_types (id, organisation_id, name, description, "
			      "is_default, private_incidents_only, create_in_triage) "
			      "VALUES ($1, $2, $3, $4, $5::boolean, $6::boolean, $7)",
			      7, params))
		goto done;
	if (!incd_ctl_commit(conn))
		goto done;
	printf("%s\n", id);
	st = INCD_CTL_OK;
done:
	incd_ctl_rollback(conn);
	return st;
}

/* ---- seed-demo ---- */

/* Finds a row with find_sql (params: find, n_find; one id column) or else
 * inserts one with insert_sql, whose $1 is the new id and whose further
 * parameters are ins[1..n_ins-1] (ins[0] is overwritten). Writes the id to
 * id and a line "created|exists <kind> <id> <label>" to out. */
static bool ensure(PGconn *conn, FILE *out, const char *kind, const char *label,
		   const char *find_sql, int n_find, const char *const *find,
		   const char *insert_sql, int n_ins, const char **ins, char id[INCD_ULID_LEN + 1])
{
	bool ok = false;
	bool found = false;
	char what[128];

	snprintf(what, sizeof what, "look up %s", kind);
	if (!incd_ctl_query_value(conn, what, find_sql, n_find, find, &found, id,
				  INCD_ULID_LEN + 1))
		goto done;
	if (!found) {
		incd_ulid_new(id);
		ins[0] = id;
		snprintf(what, sizeof what, "create %s", kind);
		if (!incd_ctl_command(conn, what, insert_sql, n_ins, ins))
			goto done;
	}
	fprintf(out, "%s\t%s\t%s\t%s\n", found ? "exists" : "created", kind, id, label);
	ok = true;
done:
	return ok;
}

struct severity_def {
	const char *name;
	const char *description;
	const char *rank;
};

static const struct severity_def demo_severities[] = {
    {"Minor", "Issues with a small impact on customers, or on a part of the product", "1"},
    {"Major", "Issues causing significant customer impact: respond straight away", "2"},
    {"Critical", "Outage or data loss affecting many customers: all hands on deck", "3"},
};

struct type_def {
	const char *name;
	const char *description;
	bool is_default;
	bool private_only;
};

static const struct type_def demo_types[] = {
    {"Default", "Incidents that fit no more specific type", true, false},
    {"Security", "Security incidents: always private", false, true},
};

static const struct role_def demo_roles[] = {
    {"Reporter", "reporter", "reporter", "The person who reported the incident",
     "Share everything you know about the issue with the incident lead"},
    {"Communications Lead", "comms", "custom",
     "The person keeping stakeholders and customers informed",
     "Post regular updates to stakeholders; agree external messages with the lead"},
};

struct field_def {
	const char *name;
	const char *description;
	const char *field_type;
	const char *options[4]; /* NULL-terminated; sort keys 10, 20, 30 */
};

static const struct field_def demo_fields[] = {
    {"Affected Team",
     "The team that owns the affected product area",
     "single_select",
     {"Product", "Platform", "Payments", NULL}},
    {"Notes", "Anything worth knowing that has no better place", "text", {NULL}},
    {"Runbook", "Link to the runbook being followed", "link", {NULL}},
    {"Customers affected", "Approximately how many customers are affected", "numeric", {NULL}},
    {"Services", "The services involved", "multi_select", {"API", "Web", "Database", NULL}},
};

struct user_def {
	const char *name;
	const char *email;
	const char *slack_user_id;
};

static const struct user_def demo_users[] = {
    {"Lisa", "lisa@example.com", "U001"},
    {"Bob", "bob@example.com", "U002"},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static bool seed_roles(PGconn *conn, FILE *out, const char *org)
{
	bool ok = false;
	char id[INCD_ULID_LEN + 1];
	const struct role_def *all[1 + COUNT(demo_roles)];

	all[0] = &lead_role;
	for (size_t i = 0; i < COUNT(demo_roles); i++)
		all[i + 1] = &demo_roles[i];
	for (size_t i = 0; i < COUNT(all); i++) {
		const struct role_def *r = all[i];
		/* lead and reporter exist once per organisation whatever their
		 * name; custom roles are matched by name. */
		bool by_type = strcmp(r->role_type, "custom") != 0;
		const char *find[] = {org, by_type ? r->role_type : r->name};
		const char *ins[] = {NULL,	     org,	   r->name,
				     r->shortform,   r->role_type, r->description,
				     r->instructions};
		if (!ensure(conn, out, "incident_role", r->name,
			    by_type ? "SELECT id FROM incident_roles WHERE organisation_id = $1 "
				      "AND role_type = $2 AND archived_at IS NULL "
				      "ORDER BY id LIMIT 1"
				    : "SELECT id FROM incident_roles WHERE organisation_id = $1 "
				      "AND name = $2 AND archived_at IS NULL ORDER BY id LIMIT 1",
			    2, find,
			    "INSERT INTO incident_roles (id, organisation_id, name, shortform, "
			    "role_type, description, instructions, required) "
			    "VALUES ($1, $2, $3, $4, $5, $6, $7, false)",
			    7, ins, id))
			goto done;
	}
	ok = true;
done:
	return ok;
}

static bool seed_fields(PGconn *conn, FILE *out, const char *org)
{
	bool ok = false;
	char field_id[INCD_ULID_LEN + 1];
	char option_id[INCD_ULID_LEN + 1];
	char label[256];
	char sort_key[16];

	for (size_t i = 0; i < COUNT(demo_fields); i++) {
		const struct field_def *f = &demo_fields[i];
		const char *find[] = {org, f->name};
		const char *ins[] = {NULL, org, f->name, f->description, f->field_type};
		if (!ensure(conn, out, "custom_field", f->name,
			    "SELECT id FROM custom_fields WHERE organisation_id = $1 AND name = $2 "
			    "AND archived_at IS NULL ORDER BY id LIMIT 1",
			    2, find,
			    "INSERT INTO custom_fields (id, organisation_id, name, description, "
			    "field_type) VALUES ($1, $2, $3, $4, $5)",
			    5, ins, field_id))
			goto done;
		for (size_t k = 0; f->options[k] != NULL; k++) {
			const char *ofind[] = {field_id, f->options[k]};
			const char *oins[] = {NULL, org, field_id, f->options[k], sort_key};
			snprintf(sort_key, sizeof sort_key, "%zu", 10 * (k + 1));
			snprintf(label, sizeof label, "%s: %s", f->name, f->options[k]);
			if (!ensure(
				conn, out, "custom_field_option", label,
				"SELECT id FROM custom_field_options WHERE custom_field_id = $1 "
				"AND value = $2 AND archived_at IS NULL ORDER BY id LIMIT 1",
				2, ofind,
				"INSERT INTO custom_field_options (id, organisation_id, "
				"custom_field_id, value, sort_key) "
				"VALUES ($1, $2, $3, $4, $5::bigint)",
				5, oins, option_id))
				goto done;
		}
	}
	ok = true;
done:
	return ok;
}

static bool seed_all(PGconn *conn, FILE *out, const char *org)
{
	bool ok = false;
	char id[INCD_ULID_LEN + 1];

	for (size_t i = 0; i < COUNT(demo_severities); i++) {
		const struct severity_def *s = &demo_severities[i];
		const char *find[] = {org, s->name};
		const char *ins[] = {NULL, org, s->name, s->description, s->rank};
		if (!ensure(conn, out, "severity", s->name,
			    "SELECT id FROM severities WHERE organisation_id = $1 AND name = $2 "
			    "AND archived_at IS NULL ORDER BY id LIMIT 1",
			    2, find,
			    "INSERT INTO severities (id, organisation_id, name, description, rank) "
			    "VALUES ($1, $2, $3, $4, $5::bigint)",
			    5, ins, id))
			goto done;
	}
	for (size_t i = 0; i < COUNT(demo_types); i++) {
		const struct type_def *t = &demo_types[i];
		const char *find[] = {org, t->name};
		const char *ins[] = {NULL,
				     org,
				     t->name,
				     t->description,
				     t->is_default ? "true" : "false",
				     t->private_only ? "true" : "false"};
		/* "Default" becomes the default only if the organisation has
		 * none yet. */
		if (!ensure(
			conn, out, "incident_type", t->name,
			"SELECT id FROM incident_types WHERE organisation_id = $1 AND name = $2 "
			"AND archived_at IS NULL ORDER BY id LIMIT 1",
			2, find,
			"INSERT INTO incident_types (id, organisation_id, name, description, "
			"is_default, private_incidents_only, create_in_triage) "
			"SELECT $1, $2, $3, $4, $5::boolean AND NOT EXISTS ("
			"SELECT 1 FROM incident_types WHERE organisation_id = $2 "
			"AND is_default AND archived_at IS NULL), $6::boolean, 'optional'",
			6, ins, id))
			goto done;
	}
	if (!seed_roles(conn, out, org))
		goto done;
	if (!seed_fields(conn, out, org))
		goto done;
	for (size_t i = 0; i < COUNT(demo_users); i++) {
		const struct user_def *u = &demo_users[i];
		const char *find[] = {org, u->name, u->email, u->slack_user_id};
		const char *ins[] = {NULL, org, u->name, u->email, u->slack_user_id};
		/* Matching on email and Slack id too keeps the per-organisation
		 * unique constraints from failing a second run. */
		if (!ensure(
			conn, out, "user", u->name,
			"SELECT id FROM users WHERE organisation_id = $1 "
			"AND (name = $2 OR email = $3 OR slack_user_id = $4) ORDER BY id LIMIT 1",
			4, find,
			"INSERT INTO users (id, organisation_id, name, email, slack_user_id) "
			"VALUES ($1, $2, $3, $4, $5)",
			5, ins, id))
			goto done;
	}
	ok = true;
done:
	return ok;
}

enum incd_ctl_status incd_ctl_seed_demo(PGconn *conn, const char *org)
{
	enum incd_ctl_status st = INCD_CTL_FAIL;
	char *summary = NULL;
	size_t summary_len = 0;
	/* The summary is printed only once the transaction has committed. */
	FILE *out = open_memstream(&summary, &summary_len);

	if (out == NULL) {
		incd_ctl_err("could not allocate: out of memory");
		goto done;
	}
	if (!incd_ctl_begin(conn))
		goto done;
	/* The row lock serialises concurrent seed-demo runs on one
	 * organisation, so find-then-insert cannot create twins. */
	if ((st = org_check(conn, org, true)) != INCD_CTL_OK)
		goto done;
	st = INCD_CTL_FAIL;
	if (!seed_all(conn, out, org))
		goto done;
	if (!incd_ctl_commit(conn))
		goto done;
	if (fclose(out) != 0) {
		out = NULL;
		incd_ctl_err("could not write the summary: out of memory");
		goto done;
	}
	out = NULL;
	fwrite(summary, 1, summary_len, stdout);
	st = INCD_CTL_OK;
done:
	incd_ctl_rollback(conn);
	if (out != NULL)
		fclose(out);
	free(summary);
	return st;
}
