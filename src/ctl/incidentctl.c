/* incidentctl: the admin CLI of incidentd. Parses arguments against a
 * table of commands, prints help, connects and runs the command. */
#include "ctl.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Option ids; long options only, apart from -h. */
enum opt {
	OPT_HELP = 'h',
	OPT_DATABASE_URL = 256,
	OPT_ORG,
	OPT_NAME,
	OPT_API_ROLE,  /* api-key create --role: repeatable, comma-separated */
	OPT_USER_ROLE, /* user create --role: one value */
	OPT_EMAIL,
	OPT_SLACK_USER_ID,
	OPT_DESCRIPTION,
	OPT_DEFAULT,
	OPT_CREATE_IN_TRIAGE,
	OPT_PRIVATE_ONLY,
	OPT_STATUS,	    /* migrate --status */
	OPT_DRY_RUN,	    /* migrate --dry-run */
	OPT_REAPPLY_CODE,   /* migrate --reapply-code */
	OPT_RATE_LIMIT,	    /* api-key create --rate-limit */
	OPT_OWNER_ROLE,	    /* roles setup --owner-role */
	OPT_APP_ROLE,	    /* roles setup --app-role */
	OPT_REPORTING_ROLE, /* roles setup --reporting-role */
};

#define MAX_ROLES 64

/* Everything any command can be given; strings borrowed from argv. */
struct args {
	const char *database_url;
	const char *org;
	const char *name;
	const char *email;
	const char *slack_user_id;
	const char *user_role;
	const char *description;
	const char *create_in_triage;
	const char *rate_limit; /* decimal, checked; NULL: the default */
	bool is_default;
	bool private_only;
	enum incd_ctl_migrate_mode migrate_mode;
	bool reapply_code;
	const char *owner_role; /* roles setup; NULL: the default */
	const char *app_role;
	const char *reporting_role;
	const char *roles[MAX_ROLES]; /* distinct, valid */
	size_t nroles;
	const char *positional; /* the one operand, for commands that take it */
};

struct command {
	const char *group;    /* first word: "org", or "migrate" */
	const char *name;     /* second word, or NULL for one-word commands */
	const char *operand;  /* name of the one operand, or NULL */
	const char *synopsis; /* after "incidentctl " */
	const char *summary;  /* one line for the command list */
	const char *help;     /* description and options, or NULL */
	const struct option *opts;
	const int *required; /* options that must be given, 0-terminated */
	enum incd_ctl_status (*run)(PGconn *conn, const struct args *a);
};

#define COMMON_OPTS                                                                                \
	{"help", no_argument, NULL, OPT_HELP},                                                     \
	{                                                                                          \
		"database-url", required_argument, NULL, OPT_DATABASE_URL                          \
	}

#define COMMON_HELP                                                                                \
	"  --database-url URL    libpq URL or key=value string (default: $DATABASE_URL)\n"         \
	"  -h, --help            show this help\n"

static const struct option no_opts[] = {COMMON_OPTS, {NULL, 0, NULL, 0}};

static const struct option migrate_opts[] = {
    COMMON_OPTS,
    {"status", no_argument, NULL, OPT_STATUS},
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
    {"reapply-code", no_argument, NULL, OPT_REAPPLY_CODE},
    {NULL, 0, NULL, 0},
};

static const struct option roles_setup_opts[] = {
    COMMON_OPTS,
    {"owner-role", required_argument, NULL, OPT_OWNER_ROLE},
    {"app-role", required_argument, NULL, OPT_APP_ROLE},
    {"reporting-role", required_argument, NULL, OPT_REPORTING_ROLE},
    {NULL, 0, NULL, 0},
};

static const struct option api_key_create_opts[] = {
    COMMON_OPTS,
    {"org", required_argument, NULL, OPT_ORG},
    {"name", required_argument, NULL, OPT_NAME},
    {"role", required_argument, NULL, OPT_API_ROLE},
    {"rate-limit", required_argument, NULL, OPT_RATE_LIMIT},
    {NULL, 0, NULL, 0},
};

static const struct option user_create_opts[] = {
    COMMON_OPTS,
    {"org", required_argument, NULL, OPT_ORG},
    {"name", required_argument, NULL, OPT_NAME},
    {"email", required_argument, NULL, OPT_EMAIL},
    {"slack-user-id", required_argument, NULL, OPT_SLACK_USER_ID},
    {"role", required_argument, NULL, OPT_USER_ROLE},
    {NULL, 0, NULL, 0},
};

static const struct option incident_type_create_opts[] = {
    COMMON_OPTS,
    {"org", required_argument, NULL, OPT_ORG},
    {"name", required_argument, NULL, OPT_NAME},
    {"description", required_argument, NULL, OPT_DESCRIPTION},
    {"default", no_argument, NULL, OPT_DEFAULT},
    {"create-in-triage", required_argument, NULL, OPT_CREATE_IN_TRIAGE},
    {"private-only", no_argument, NULL, OPT_PRIVATE_ONLY},
    {NULL, 0, NULL, 0},
};

static const struct option seed_demo_opts[] = {
    COMMON_OPTS,
    {"org", required_argument, NULL, OPT_ORG},
    {NULL, 0, NULL, 0},
};

static const int req_none[] = {0};
static const int req_org[] = {OPT_ORG, 0};
static const int req_org_name[] = {OPT_ORG, OPT_NAME, 0};
static const int req_api_key[] = {OPT_ORG, OPT_NAME, OPT_API_ROLE, 0};

static enum incd_ctl_status run_migrate(PGconn *conn, const struct args *a)
{
	return incd_ctl_migrate(conn, a->migrate_mode, a->reapply_code);
}

static enum incd_ctl_status run_roles_setup(PGconn *conn, const struct args *a)
{
	return incd_ctl_roles_setup(conn, a->owner_role != NULL ? a->owner_role : "incidentd_owner",
				    a->app_role != NULL ? a->app_role : "incidentd_app",
				    a->reporting_role != NULL ? a->reporting_role
							      : "incidentd_reporting");
}

static enum incd_ctl_status run_org_create(PGconn *conn, const struct args *a)
{
	return incd_ctl_org_create(conn, a->positional);
}

static enum incd_ctl_status run_api_key_create(PGconn *conn, const struct args *a)
{
	return incd_ctl_api_key_create(conn, a->org, a->name, a->roles, a->nroles, a->rate_limit);
}

static enum incd_ctl_status run_api_key_revoke(PGconn *conn, const struct args *a)
{
	return incd_ctl_api_key_revoke(conn, a->positional);
}

static enum incd_ctl_status run_user_create(PGconn *conn, const struct args *a)
{
	return incd_ctl_user_create(conn, a->org, a->name, a->email, a->slack_user_id,
				    a->user_role);
}

static enum incd_ctl_status run_incident_type_create(PGconn *conn, const struct args *a)
{
	const struct incd_ctl_incident_type t = {
	    .org = a->org,
	    .name = a->name,
	    .description = a->description,
	    .create_in_triage = a->create_in_triage,
	    .is_default = a->is_default,
	    .private_only = a->private_only,
	};
	return incd_ctl_incident_type_create(conn, &t);
}

static enum incd_ctl_status run_seed_demo(PGconn *conn, const struct args *a)
{
	return incd_ctl_seed_demo(conn, a->org);
}

static const struct command commands[] = {
    {"migrate", NULL, NULL, "migrate [--status | --dry-run] [--reapply-code]",
     "bring the database schema up to date",
     "Applies, in order, each migration compiled into incidentctl (sql/migrations/)\n"
     "that the table schema_migrations does not record yet, then, if one ran or a\n"
     "code file changed, re-applies every code file (sql/code/: the functions and\n"
     "triggers). All of it runs in one transaction under an advisory lock:\n"
     "concurrent runs wait for each other, and a failure changes nothing. Each\n"
     "migration is recorded with the SHA-256 of its text; migrate refuses, naming\n"
     "the file, a database whose record differs from its files, that records a\n"
     "migration this incidentctl does not have, or that lacks a migration older\n"
     "than one it has. Running it again on an up-to-date database changes\n"
     "nothing. Prints one line per file applied.\n"
     "\n"
     "Options:\n"
     "  --status              list applied, pending and changed migrations and code\n"
     "                        files; change nothing. Exit status 0: up to date;\n"
     "                        3: migrate would apply something; 1: it would refuse\n"
     "  --dry-run             print the SQL migrate would run; change nothing\n"
     "  --reapply-code        re-apply every code file even if none changed\n" COMMON_HELP,
     migrate_opts, req_none, run_migrate},
    {"roles", "setup", NULL,
     "roles setup [--owner-role NAME] [--app-role NAME] [--reporting-role NAME]",
     "create the owner, runtime and reporting roles; give the schema to the owner",
     "Sets up least privilege (docs/SCHEMA.md, \"Roles and privileges\"), in one\n"
     "transaction; run it as a superuser, before or after incidentctl migrate:\n"
     "  - creates the owner role and the runtime role unless they exist (LOGIN and\n"
     "    nothing else: no superuser, CREATEDB or CREATEROLE; the runtime role\n"
     "    NOINHERIT), and refuses a runtime role that is a superuser or a member\n"
     "    of the owner;\n"
     "  - makes the owner own the database and every object of schemas api and\n"
     "    public (tables, functions, ...) that someone else owns, such as a\n"
     "    database migrated as a superuser;\n"
     "  - lets the runtime role connect, and nobody but the owner create\n"
     "    temporary tables;\n"
     "  - records the runtime role in the table schema_roles and applies its\n"
     "    privileges (sql/code/90_grants.sql; every migrate applies them again):\n"
     "    it may call the functions of schema api and read the tables incidents\n"
     "    and config_versions, and nothing else;\n"
     "  - the same for the reporting role (NOINHERIT): it may read the views of\n"
     "    schema reporting, and nothing else (docs/REPORTING.md).\n"
     "Then run incidentctl migrate as the owner, and incidentd as the runtime role\n"
     "(it refuses to start as a superuser or the owner). The roles get no\n"
     "password: set one with ALTER ROLE ... PASSWORD where the server asks for\n"
     "one. Running it again changes nothing but a runtime role given anew, whose\n"
     "predecessor loses its privileges.\n"
     "\n"
     "Options:\n"
     "  --owner-role NAME     the owner (default: incidentd_owner)\n"
     "  --app-role NAME       the runtime role (default: incidentd_app)\n"
     "  --reporting-role NAME the read-only reporting role (default:\n"
     "                        incidentd_reporting)\n" COMMON_HELP,
     roles_setup_opts, req_none, run_roles_setup},
    {"org", "create", "NAME", "org create NAME",
     "create an organisation and its lead role; prints its id",
     "Creates an organisation called NAME together with its lead incident role\n"
     "(\"Incident Lead\", shortform lead) in one transaction. Prints the new\n"
     "organisation id.\n"
     "\n"
     "Options:\n" COMMON_HELP,
     no_opts, req_none, run_org_create},
    {"api-key", "create", NULL,
     "api-key create --org ORG --name NAME --role ROLE [--role ROLE...]\n"
     "                          [--rate-limit N]",
     "create an API key; prints its token (shown only this once)",
     "Creates an API key for organisation ORG. Prints the token (\"inc_\" and 64\n"
     "hex digits) on stdout, once: only its SHA-256 is stored. The key id goes to\n"
     "stderr as \"api key ID created\".\n"
     "\n"
     "Options:\n"
     "  --org ORG             organisation id (required)\n"
     "  --name NAME           name of the key, shown by GET /v1/identity (required)\n"
     "  --role ROLE           a role of the key (required; repeat it, or separate\n"
     "                        roles with commas, for several)\n"
     "  --rate-limit N        requests per minute (default 1200): a token bucket of\n"
     "                        N requests refilling at N/60 a second, kept per host\n"
     "                        by incidentd and shown in the X-RateLimit-* headers;\n"
     "                        0 = unlimited (benchmarks, trusted automation)\n" COMMON_HELP,
     api_key_create_opts, req_api_key, run_api_key_create},
    {"api-key", "revoke", "ID", "api-key revoke ID", "revoke an API key",
     "Marks API key ID revoked: incidentd rejects it from then on (its workers are\n"
     "notified to drop their cached keys). Revoking a revoked key changes nothing.\n"
     "\n"
     "Options:\n" COMMON_HELP,
     no_opts, req_none, run_api_key_revoke},
    {"user", "create", NULL,
     "user create --org ORG --name NAME [--email EMAIL] [--slack-user-id ID]\n"
     "                          [--role ROLE]",
     "create a user; prints its id",
     "Creates a user of organisation ORG and prints its id. Email and Slack user\n"
     "id are each unique within the organisation.\n"
     "\n"
     "Options:\n"
     "  --org ORG             organisation id (required)\n"
     "  --name NAME           the user's name (required)\n"
     "  --email EMAIL         email address\n"
     "  --slack-user-id ID    Slack user id, e.g. U02AYNF2XJM\n"
     "  --role ROLE           viewer (default), responder, administrator or owner\n" COMMON_HELP,
     user_create_opts, req_org_name, run_user_create},
    {"incident-type", "create", NULL,
     "incident-type create --org ORG --name NAME [--description TEXT]\n"
     "                          [--default] [--create-in-triage always|optional]\n"
     "                          [--private-only]",
     "create an incident type; prints its id",
     "Creates an incident type of organisation ORG and prints its id.\n"
     "\n"
     "Options:\n"
     "  --org ORG             organisation id (required)\n"
     "  --name NAME           name of the type (required)\n"
     "  --description TEXT    description (default: empty)\n"
     "  --default             make it the organisation's default type (the previous\n"
     "                        default stops being one)\n"
     "  --create-in-triage always|optional\n"
     "                        always: its incidents always start in triage\n"
     "                        (default: optional)\n"
     "  --private-only        its incidents must be private\n" COMMON_HELP,
     incident_type_create_opts, req_org_name, run_incident_type_create},
    {"seed-demo", NULL, NULL, "seed-demo --org ORG", "create demo configuration in an organisation",
     "Creates demo configuration in organisation ORG, in one transaction:\n"
     "  severities     Minor (rank 1), Major (2), Critical (3)\n"
     "  incident types Default (the default unless the organisation has one),\n"
     "                 Security (private incidents only)\n"
     "  incident roles Incident Lead (if missing), Reporter, Communications Lead\n"
     "  custom fields  Affected Team (single select: Product, Platform, Payments),\n"
     "                 Notes (text), Runbook (link), Customers affected (numeric),\n"
     "                 Services (multi select: API, Web, Database)\n"
     "  users          Lisa (lisa@example.com, U001), Bob (bob@example.com, U002)\n"
     "What already exists (by name) is kept, so running it again is safe. Prints\n"
     "one line per item: created|exists, kind, id, name, separated by tabs.\n"
     "\n"
     "Options:\n"
     "  --org ORG             organisation id (required)\n" COMMON_HELP,
     seed_demo_opts, req_org, run_seed_demo},
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void print_usage(FILE *f)
{
	fputs("usage: incidentctl [--database-url URL] COMMAND [ARGS...]\n"
	      "\n"
	      "Administers an incidentd database: schema migrations, roles, organisations,\n"
	      "API keys, users and configuration.\n"
	      "\n"
	      "Commands:\n",
	      f);
	for (size_t i = 0; i < NCOMMANDS; i++) {
		const char *name = commands[i].name;
		char word[64];
		const char *operand = commands[i].operand;
		snprintf(word, sizeof word, "%s%s%s%s%s", commands[i].group,
			 name != NULL ? " " : "", name != NULL ? name : "",
			 operand != NULL ? " " : "", operand != NULL ? operand : "");
		fprintf(f, "  %-22s %s\n", word, commands[i].summary);
	}
	fputs("\n"
	      "Options:\n"
	      "  --database-url URL    libpq connection URL or key=value string; also\n"
	      "                        accepted after the command (default: $DATABASE_URL,\n"
	      "                        else libpq's defaults and PG* variables)\n"
	      "  -h, --help            show this help\n"
	      "\n"
	      "Run 'incidentctl COMMAND --help' for a command's options.\n"
	      "\n"
	      "Exit status: 0 success; 1 failure (database error, unknown id, conflict);\n"
	      "2 bad usage (nothing was changed); 3 migrate --status: work pending.\n",
	      f);
}

static void print_command_help(const struct command *c)
{
	printf("usage: incidentctl %s\n\n", c->synopsis);
	fputs(c->help, stdout);
	if (c->opts == api_key_create_opts) {
		/* Wrapped list of the roles a key can hold. */
		size_t col = 0;
		fputs("\nRoles:\n", stdout);
		for (size_t i = 0; incd_ctl_api_roles[i] != NULL; i++) {
			size_t len = strlen(incd_ctl_api_roles[i]);
			if (col > 0 && col + 1 + len > 76) {
				fputc('\n', stdout);
				col = 0;
			}
			printf("%s%s", col == 0 ? "  " : " ", incd_ctl_api_roles[i]);
			col += (col == 0 ? 2 : 1) + len;
		}
		fputc('\n', stdout);
	}
}

static bool is_help(const char *s)
{
	return strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0;
}

/* Prints the help of every command whose first word is group; false when
 * there is none. */
static bool print_group_help(const char *group)
{
	bool any = false;
	for (size_t i = 0; i < NCOMMANDS; i++) {
		if (strcmp(commands[i].group, group) != 0)
			continue;
		if (any)
			fputc('\n', stdout);
		print_command_help(&commands[i]);
		any = true;
	}
	return any;
}

static void usage_hint(const struct command *c)
{
	if (c == NULL)
		fputs("Try 'incidentctl --help'.\n", stderr);
	else if (c->name == NULL)
		fprintf(stderr, "Try 'incidentctl %s --help'.\n", c->group);
	else
		fprintf(stderr, "Try 'incidentctl %s %s --help'.\n", c->group, c->name);
}

static const char *option_name(const struct option *opts, int val)
{
	for (; opts->name != NULL; opts++)
		if (opts->val == val)
			return opts->name;
	return "?";
}

/* Appends the comma-separated roles in list (modified in place) to a,
 * skipping duplicates; false after printing for an unknown role. */
static bool add_roles(struct args *a, char *list)
{
	char *save = NULL;
	for (char *r = strtok_r(list, ",", &save); r != NULL; r = strtok_r(NULL, ",", &save)) {
		if (!incd_ctl_in_list(incd_ctl_api_roles, r)) {
			incd_ctl_err("unknown api key role \"%s\"; valid roles are listed by "
				     "'incidentctl api-key create --help'",
				     r);
			return false;
		}
		bool dup = false;
		for (size_t i = 0; i < a->nroles; i++)
			dup = dup || strcmp(a->roles[i], r) == 0;
		/* Distinct valid roles are fewer than MAX_ROLES. */
		if (!dup && a->nroles < MAX_ROLES)
			a->roles[a->nroles++] = r;
	}
	return true;
}

/* Parses one command's options and operand into a; the command's argv
 * starts at its last word. Returns INCD_CTL_OK, INCD_CTL_USAGE after
 * printing why, or -1 when help was printed. */
static int parse_command(const struct command *c, int argc, char **argv, struct args *a)
{
	int st = INCD_CTL_USAGE;
	int ch;

	optind = 0; /* glibc: reinitialise getopt for a new argv */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":h", c->opts, NULL)) != -1) {
		/* An empty value is never meant, except as a description. */
		if (optarg != NULL && optarg[0] == '\0' && ch != OPT_DESCRIPTION) {
			incd_ctl_err("--%s must not be empty", option_name(c->opts, ch));
			goto done;
		}
		switch (ch) {
		case OPT_HELP:
			print_command_help(c);
			st = -1;
			goto done;
		case OPT_DATABASE_URL:
			a->database_url = optarg;
			break;
		case OPT_ORG:
			a->org = optarg;
			break;
		case OPT_NAME:
			a->name = optarg;
			break;
		case OPT_API_ROLE:
			if (!add_roles(a, optarg))
				goto done;
			break;
		case OPT_USER_ROLE:
			if (!incd_ctl_in_list(incd_ctl_user_roles, optarg)) {
				incd_ctl_err("unknown user role \"%s\": use viewer, responder, "
					     "administrator or owner",
					     optarg);
				goto done;
			}
			a->user_role = optarg;
			break;
		case OPT_EMAIL:
			a->email = optarg;
			break;
		case OPT_SLACK_USER_ID:
			a->slack_user_id = optarg;
			break;
		case OPT_DESCRIPTION:
			a->description = optarg;
			break;
		case OPT_DEFAULT:
			a->is_default = true;
			break;
		case OPT_CREATE_IN_TRIAGE:
			if (strcmp(optarg, "always") != 0 && strcmp(optarg, "optional") != 0) {
				incd_ctl_err(
				    "bad --create-in-triage \"%s\": use always or optional",
				    optarg);
				goto done;
			}
			a->create_in_triage = optarg;
			break;
		case OPT_PRIVATE_ONLY:
			a->private_only = true;
			break;
		case OPT_RATE_LIMIT:
			if (!incd_ctl_rate_limit_valid(optarg)) {
				incd_ctl_err("bad --rate-limit \"%s\": use requests per minute, "
					     "0..2147483647 (0 = unlimited)",
					     optarg);
				goto done;
			}
			a->rate_limit = optarg;
			break;
		case OPT_STATUS:
		case OPT_DRY_RUN:
			if (a->migrate_mode != INCD_CTL_MIGRATE_APPLY) {
				incd_ctl_err("--status and --dry-run exclude each other");
				goto done;
			}
			a->migrate_mode =
			    ch == OPT_STATUS ? INCD_CTL_MIGRATE_STATUS : INCD_CTL_MIGRATE_DRY_RUN;
			break;
		case OPT_REAPPLY_CODE:
			a->reapply_code = true;
			break;
		case OPT_OWNER_ROLE:
			a->owner_role = optarg;
			break;
		case OPT_APP_ROLE:
			a->app_role = optarg;
			break;
		case OPT_REPORTING_ROLE:
			a->reporting_role = optarg;
			break;
		case ':':
			incd_ctl_err("option %s needs a value", argv[optind - 1]);
			goto done;
		default:
			if (optopt != 0 && optopt != '?')
				incd_ctl_err("unknown option -%c", optopt);
			else
				incd_ctl_err("unknown option %s", argv[optind - 1]);
			goto done;
		}
	}

	int operands = argc - optind;
	if (c->operand != NULL && operands == 0) {
		incd_ctl_err("missing operand %s", c->operand);
		goto done;
	}
	if (operands > (c->operand != NULL ? 1 : 0)) {
		incd_ctl_err("unexpected argument \"%s\"", argv[optind + (c->operand != NULL)]);
		goto done;
	}
	if (c->operand != NULL) {
		a->positional = argv[optind];
		if (a->positional[0] == '\0') {
			incd_ctl_err("%s must not be empty", c->operand);
			goto done;
		}
	}
	for (const int *r = c->required; *r != 0; r++) {
		bool given = (*r == OPT_ORG && a->org != NULL) ||
			     (*r == OPT_NAME && a->name != NULL) ||
			     (*r == OPT_API_ROLE && a->nroles > 0);
		if (!given) {
			incd_ctl_err("missing --%s", option_name(c->opts, *r));
			goto done;
		}
	}
	st = INCD_CTL_OK;
done:
	return st;
}

/* Finds the command named by argv[0] (and argv[1] for two-word commands);
 * *words says how many words it used. NULL after printing why and a hint. */
static const struct command *find_command(int argc, char **argv, int *words)
{
	bool group_known = false;
	for (size_t i = 0; i < NCOMMANDS; i++) {
		const struct command *c = &commands[i];
		if (strcmp(c->group, argv[0]) != 0)
			continue;
		group_known = true;
		if (c->name == NULL) {
			*words = 1;
			return c;
		}
		if (argc > 1 && strcmp(c->name, argv[1]) == 0) {
			*words = 2;
			return c;
		}
	}
	if (!group_known) {
		incd_ctl_err("unknown command \"%s\"", argv[0]);
		usage_hint(NULL);
		return NULL;
	}
	if (argc > 1)
		incd_ctl_err("unknown command \"%s %s\"", argv[0], argv[1]);
	else
		incd_ctl_err("\"%s\" needs a subcommand", argv[0]);
	fprintf(stderr, "%s subcommands:", argv[0]);
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].group, argv[0]) == 0)
			fprintf(stderr, " %s", commands[i].name);
	fprintf(stderr, "\nTry 'incidentctl %s --help'.\n", argv[0]);
	return NULL;
}

int main(int argc, char **argv)
{
	int st = INCD_CTL_USAGE;
	static const struct option global_opts[] = {COMMON_OPTS, {NULL, 0, NULL, 0}};
	struct args a;
	const struct command *c = NULL;
	PGconn *conn = NULL;
	int ch;
	int words = 0;

	memset(&a, 0, sizeof a);
	/* "+": stop at the command word; its options are parsed below. */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+:h", global_opts, NULL)) != -1) {
		switch (ch) {
		case OPT_HELP:
			print_usage(stdout);
			st = INCD_CTL_OK;
			goto done;
		case OPT_DATABASE_URL:
			if (optarg[0] == '\0') {
				incd_ctl_err("--database-url must not be empty");
				usage_hint(NULL);
				goto done;
			}
			a.database_url = optarg;
			break;
		case ':':
			incd_ctl_err("option %s needs a value", argv[optind - 1]);
			usage_hint(NULL);
			goto done;
		default:
			incd_ctl_err("unknown option %s", argv[optind - 1]);
			usage_hint(NULL);
			goto done;
		}
	}
	if (optind >= argc) {
		print_usage(stderr);
		goto done;
	}
	/* "help org", "org --help": every org command; "help org create" and
	 * "org create --help" (parsed below): just that one. */
	if (strcmp(argv[optind], "help") == 0 && optind + 2 < argc) {
		if ((c = find_command(argc - optind - 1, argv + optind + 1, &words)) == NULL)
			goto done;
		print_command_help(c);
		st = INCD_CTL_OK;
		goto done;
	}
	if (strcmp(argv[optind], "help") == 0 && optind + 1 < argc) {
		if (!print_group_help(argv[optind + 1])) {
			incd_ctl_err("unknown command \"%s\"", argv[optind + 1]);
			usage_hint(NULL);
			goto done;
		}
		st = INCD_CTL_OK;
		goto done;
	}
	if (optind + 1 < argc && is_help(argv[optind + 1]) && print_group_help(argv[optind])) {
		st = INCD_CTL_OK;
		goto done;
	}
	if (strcmp(argv[optind], "help") == 0) {
		print_usage(stdout);
		st = INCD_CTL_OK;
		goto done;
	}
	if ((c = find_command(argc - optind, argv + optind, &words)) == NULL)
		goto done;

	int sub_argc = argc - optind - words + 1;
	char **sub_argv = argv + optind + words - 1;
	int parsed = parse_command(c, sub_argc, sub_argv, &a);
	if (parsed == -1) {
		st = INCD_CTL_OK;
		goto done;
	}
	if (parsed != INCD_CTL_OK) {
		usage_hint(c);
		goto done;
	}

	if (a.database_url == NULL)
		a.database_url = getenv("DATABASE_URL");
	st = INCD_CTL_FAIL;
	if ((conn = incd_ctl_connect(a.database_url)) == NULL)
		goto done;
	st = c->run(conn, &a);
	if (st == INCD_CTL_USAGE)
		usage_hint(c);
done:
	PQfinish(conn);
	if (fflush(stdout) != 0 && st == INCD_CTL_OK) {
		incd_ctl_err("could not write to stdout");
		st = INCD_CTL_FAIL;
	}
	return st;
}
