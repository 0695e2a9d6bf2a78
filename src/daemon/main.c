/* incidentd: parse the configuration, then run the master. */
#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "log.h"
#include "master.h"

static const char *env(const char *name)
{
	return getenv(name);
}

int main(int argc, char **argv)
{
	struct incd_config cfg;
	char err[256];
	int rc;

	switch (incd_config_load(&cfg, argc, argv, env, stdout, err, sizeof err)) {
	case INCD_CONFIG_HELP:
		rc = 0;
		goto done;
	case INCD_CONFIG_ERROR:
		fprintf(stderr, "incidentd: %s\n", err);
		rc = 2;
		goto done;
	case INCD_CONFIG_OK:
		break;
	}
	incd_log_threshold = cfg.log_level;
	incd_log_format = cfg.log_format;
	rc = incd_master_run(&cfg);
done:
	incd_config_free(&cfg);
	return rc;
}
