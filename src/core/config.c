/* Settings table and parsing for incidentd. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "util.h"

enum setting_type {
	T_STRING,
	T_INT,
	T_MODE,
	T_LEVEL,
	T_SCHED,
	T_LOGFMT,
	T_FLAG, /* a flag without a value; its variable says 1/true/yes/on or 0/false/no/off */
};

struct setting {
	const char *flag; /* long option name */
	const char *env;
	enum setting_type type;
	size_t offset; /* into struct incd_config */
	int min, max;  /* for T_INT */
	const char *default_help;
	const char *help;
};

#define OFF(f) offsetof(struct incd_config, f)

static const struct setting settings[] = {
    {"database-url", "DATABASE_URL", T_STRING, OFF(database_url), 0, 0, "libpq defaults",
     "PostgreSQL connection URL or conninfo string"},
    {"listen", "INCIDENTD_LISTEN", T_STRING, OFF(listen), 0, 0, "127.0.0.1:9000",
     "FastCGI socket: HOST:PORT, :PORT, or a unix socket path (contains '/')"},
    {"workers", "INCIDENTD_WORKERS", T_INT, OFF(workers), 1, 256, "number of CPUs",
     "worker processes; each holds one database connection"},
    {"public-url", "INCIDENTD_PUBLIC_URL", T_STRING, OFF(public_url), 0, 0, "http://127.0.0.1:8080",
     "base URL clients use; permalinks are built from it"},
    {"log-level", "INCIDENTD_LOG_LEVEL", T_LEVEL, OFF(log_level), 0, 0, "info",
     "error, warn, info (one line per request) or debug"},
    {"pid-file", "INCIDENTD_PID_FILE", T_STRING, OFF(pid_file), 0, 0, "none",
     "write the master's pid here"},
    {"socket-mode", "INCIDENTD_SOCKET_MODE", T_MODE, OFF(socket_mode), 0, 0, "0660",
     "permissions (octal) of a unix socket"},
    {"backlog", "INCIDENTD_BACKLOG", T_INT, OFF(backlog), 1, 65535, "1024",
     "listen backlog of the FastCGI socket"},
    {"drain-timeout", "INCIDENTD_DRAIN_TIMEOUT", T_INT, OFF(drain_seconds), 1, 3600, "30",
     "seconds SIGTERM waits for in-flight requests before killing workers"},
    {"render-cache-mib", "INCIDENTD_RENDER_CACHE_MIB", T_INT, OFF(render_cache_mib), 1, 4096, "8",
     "MiB of configuration objects each worker keeps to render incidents with"},
    {"rate-limit-keys", "INCIDENTD_RATE_LIMIT_KEYS", T_INT, OFF(rate_limit_keys), 64, 1 << 20,
     "16384",
     "API keys whose rate limit buckets the host keeps at once (shared memory,\n"
     "      64 bytes each, rounded up to a power of two)"},
    {"scheduler", "INCIDENTD_SCHEDULER", T_SCHED, OFF(sched_batch), 0, 0, "batch",
     "workers' CPU scheduling policy: batch (SCHED_BATCH: a woken worker does not\n"
     "      preempt PostgreSQL or nginx mid-request) or normal (SCHED_OTHER)"},
    {"allow-owner", "INCIDENTD_ALLOW_OWNER", T_FLAG, OFF(allow_owner), 0, 0, "off",
     "run even when the database role is a superuser or owns the schema (by\n"
     "      default incidentd refuses: it should connect as the runtime role that\n"
     "      incidentctl roles setup creates)"},
    {"read-database-url", "INCIDENTD_READ_DATABASE_URL", T_STRING, OFF(read_database_url), 0, 0,
     "none",
     "a streaming replica of the database, as the same role: GETs read there\n"
     "      when it is up and has replayed the caller's last write, else from the\n"
     "      primary (docs/REPLICAS.md)"},
    {"metrics-listen", "INCIDENTD_METRICS_LISTEN", T_STRING, OFF(metrics_listen), 0, 0, "off",
     "HOST:PORT where the master serves Prometheus metrics at GET /metrics over\n"
     "      plain HTTP (docs/METRICS.md); keep it off the public network"},
    {"log-format", "INCIDENTD_LOG_FORMAT", T_LOGFMT, OFF(log_format), 0, 0, "text",
     "text (one line per message) or json (one JSON object per line)"},
};

static void print_help(FILE *out)
{
	fputs("usage: incidentd [OPTIONS]\n\n"
	      "incident.io-compatible Incidents API: a FastCGI master that pre-forks workers.\n"
	      "Each option can also be set by its environment variable; flags win.\n\n",
	      out);
	for (size_t i = 0; i < INCD_ARRAY_LEN(settings); i++) {
		const struct setting *s = &settings[i];
		if (s->type == T_FLAG)
			fprintf(out, "  --%s  (env %s=1)\n      %s [default: %s]\n", s->flag,
				s->env, s->help, s->default_help);
		else
			fprintf(out, "  --%s=VALUE  (env %s)\n      %s [default: %s]\n", s->flag,
				s->env, s->help, s->default_help);
	}
	fputs("  --help      show this help\n  --version   show the version\n\n"
	      "Signals: SIGTERM/SIGINT drain in-flight requests and exit; SIGHUP replaces the\n"
	      "workers gracefully.\n",
	      out);
}

static bool set_value(struct incd_config *cfg, const struct setting *s, const char *value,
		      char *err, size_t errlen)
{
	char *base = (char *)cfg + s->offset;
	char *end = NULL;
	long v;

	switch (s->type) {
	case T_STRING: {
		char **dst = (char **)(void *)base;
		free(*dst);
		*dst = incd_xstrdup(value);
		return true;
	}
	case T_INT:
		errno = 0;
		v = strtol(value, &end, 10);
		if (errno || end == value || *end != '\0' || v < s->min || v > s->max) {
			snprintf(err, errlen, "invalid --%s: '%s' (expected an integer %d..%d)",
				 s->flag, value, s->min, s->max);
			return false;
		}
		*(int *)(void *)base = (int)v;
		return true;
	case T_MODE:
		errno = 0;
		v = strtol(value, &end, 8);
		if (errno || end == value || *end != '\0' || v < 0 || v > 0777) {
			snprintf(err, errlen, "invalid --%s: '%s' (expected octal like 0660)",
				 s->flag, value);
			return false;
		}
		*(int *)(void *)base = (int)v;
		return true;
	case T_LEVEL:
		if (!incd_log_parse_level(value, (enum incd_log_level *)(void *)base)) {
			snprintf(err, errlen,
				 "invalid --%s: '%s' (expected error, warn, info or debug)",
				 s->flag, value);
			return false;
		}
		return true;
	case T_LOGFMT:
		if (!incd_log_parse_format(value, (enum incd_log_format *)(void *)base)) {
			snprintf(err, errlen, "invalid --%s: '%s' (expected text or json)", s->flag,
				 value);
			return false;
		}
		return true;
	case T_SCHED:
		if (strcmp(value, "batch") != 0 && strcmp(value, "normal") != 0) {
			snprintf(err, errlen, "invalid --%s: '%s' (expected batch or normal)",
				 s->flag, value);
			return false;
		}
		*(bool *)(void *)base = value[0] == 'b';
		return true;
	case T_FLAG: {
		static const char *const on[] = {"1", "true", "yes", "on"};
		static const char *const off[] = {"0", "false", "no", "off"};
		for (size_t i = 0; i < INCD_ARRAY_LEN(on); i++) {
			if (strcasecmp(value, on[i]) == 0 || strcasecmp(value, off[i]) == 0) {
				*(bool *)(void *)base = strcasecmp(value, on[i]) == 0;
				return true;
			}
		}
		snprintf(err, errlen,
			 "invalid %s: '%s' (expected 1, true, yes, on or 0, false, no, off)",
			 s->env, value);
		return false;
	}
	}
	return false;
}

static void set_defaults(struct incd_config *cfg)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	memset(cfg, 0, sizeof *cfg);
	cfg->database_url = incd_xstrdup("");
	cfg->listen = incd_xstrdup("127.0.0.1:9000");
	cfg->workers = cpus > 0 && cpus <= 256 ? (int)cpus : 2;
	cfg->public_url = incd_xstrdup("http://127.0.0.1:8080");
	cfg->log_level = INCD_LOG_INFO;
	cfg->socket_mode = 0660;
	cfg->backlog = 1024;
	cfg->drain_seconds = 30;
	cfg->sched_batch = true;
	cfg->render_cache_mib = 8;
	cfg->rate_limit_keys = 16384;
}

enum incd_config_result incd_config_load(struct incd_config *cfg, int argc, char **argv,
					 const char *(*getenv_fn)(const char *), FILE *help_out,
					 char *err, size_t errlen)
{
	enum { N = INCD_ARRAY_LEN(settings) };
	struct option opts[N + 3];

	set_defaults(cfg);
	for (size_t i = 0; i < N; i++) {
		const char *v = getenv_fn(settings[i].env);
		if (v != NULL && *v != '\0' && !set_value(cfg, &settings[i], v, err, errlen))
			return INCD_CONFIG_ERROR;
		opts[i] = (struct option){
		    settings[i].flag, settings[i].type == T_FLAG ? no_argument : required_argument,
		    NULL, (int)i};
	}
	opts[N] = (struct option){"help", no_argument, NULL, 'h'};
	opts[N + 1] = (struct option){"version", no_argument, NULL, 'V'};
	opts[N + 2] = (struct option){NULL, 0, NULL, 0};

	optind = 0; /* 0, not 1: glibc then re-initialises fully, so tests can call this twice */
	opterr = 0;
	for (;;) {
		int idx = getopt_long(argc, argv, ":hV", opts, NULL);
		if (idx == -1)
			break;
		if (idx == 'h') {
			print_help(help_out);
			return INCD_CONFIG_HELP;
		}
		if (idx == 'V') {
			fprintf(help_out, "incidentd %s\n", PACKAGE_VERSION);
			return INCD_CONFIG_HELP;
		}
		if (idx == '?' || idx == ':') {
			snprintf(err, errlen, "unknown or incomplete option '%s' (see --help)",
				 argv[optind - 1]);
			return INCD_CONFIG_ERROR;
		}
		if (!set_value(cfg, &settings[idx], settings[idx].type == T_FLAG ? "1" : optarg,
			       err, errlen))
			return INCD_CONFIG_ERROR;
	}
	if (optind < argc) {
		snprintf(err, errlen, "unexpected argument '%s' (see --help)", argv[optind]);
		return INCD_CONFIG_ERROR;
	}
	/* Permalinks are built as public_url + "/incidents/N". */
	size_t n = strlen(cfg->public_url);
	while (n > 0 && cfg->public_url[n - 1] == '/')
		cfg->public_url[--n] = '\0';
	if (cfg->pid_file != NULL && *cfg->pid_file == '\0') {
		free(cfg->pid_file);
		cfg->pid_file = NULL;
	}
	if (cfg->read_database_url != NULL && *cfg->read_database_url == '\0') {
		free(cfg->read_database_url);
		cfg->read_database_url = NULL;
	}
	if (cfg->metrics_listen != NULL &&
	    (*cfg->metrics_listen == '\0' || strcmp(cfg->metrics_listen, "off") == 0)) {
		free(cfg->metrics_listen);
		cfg->metrics_listen = NULL;
	}
	return INCD_CONFIG_OK;
}

void incd_config_free(struct incd_config *cfg)
{
	free(cfg->database_url);
	free(cfg->listen);
	free(cfg->public_url);
	free(cfg->pid_file);
	free(cfg->read_database_url);
	free(cfg->metrics_listen);
	memset(cfg, 0, sizeof *cfg);
}
