/* incidentd settings: one table gives each flag, its environment variable,
 * its default and its help text; the same table prints --help. */
#ifndef INCIDENTD_CONFIG_H
#define INCIDENTD_CONFIG_H

#include <stdbool.h>
#include <stdio.h>

#include "log.h"

struct incd_config {
	char *database_url; /* libpq connection string or URL; "" = libpq defaults */
	char *listen;	    /* "host:port", ":port", or a unix socket path (has a '/') */
	int workers;	    /* worker processes */
	char *public_url;   /* base of permalinks and dashboard_url, no trailing '/' */
	enum incd_log_level log_level;
	char *pid_file;	      /* NULL = none */
	int socket_mode;      /* permissions of a unix socket */
	int backlog;	      /* listen(2) backlog */
	int drain_seconds;    /* how long SIGTERM waits for in-flight requests */
	bool sched_batch;     /* workers run under SCHED_BATCH (see docs/DESIGN.md) */
	int render_cache_mib; /* each worker's cache of configuration objects */
	int rate_limit_keys;  /* slots of the shared rate limit table */
	bool allow_owner;     /* run as a superuser or the schema's owner (docs/SCHEMA.md) */
	/* A streaming replica GETs read from; NULL = none (docs/REPLICAS.md). */
	char *read_database_url;
	char *metrics_listen; /* HOST:PORT of the master's GET /metrics; NULL = off */
	enum incd_log_format log_format;
};

enum incd_config_result {
	INCD_CONFIG_OK,	   /* run */
	INCD_CONFIG_HELP,  /* --help or --version was printed; exit 0 */
	INCD_CONFIG_ERROR, /* message in err; exit 2 */
};

/* Fills cfg from defaults, then the environment (getenv_fn, so tests can
 * pass their own), then argv. On error writes a message to err. The strings
 * in cfg are owned by cfg: release with incd_config_free. */
enum incd_config_result incd_config_load(struct incd_config *cfg, int argc, char **argv,
					 const char *(*getenv_fn)(const char *), FILE *help_out,
					 char *err, size_t errlen) INCD_MUST_CHECK;

void incd_config_free(struct incd_config *cfg);

#endif
