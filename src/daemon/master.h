/* The master process: binds the FastCGI socket, pre-forks the workers and
 * keeps their number up; it serves no requests itself. */
#ifndef INCIDENTD_MASTER_H
#define INCIDENTD_MASTER_H

#include "config.h"

/* Runs until SIGTERM/SIGINT and a drain. Returns the process exit status. */
int incd_master_run(const struct incd_config *cfg);

#endif
