/* A worker process: accepts FastCGI requests one at a time on the shared
 * listening socket and serves them. */
#ifndef INCIDENTD_WORKER_H
#define INCIDENTD_WORKER_H

#include "config.h"
#include "ratelimit.h"
#include "readpos.h"

/* Runs until SIGTERM/SIGINT (after finishing the request in hand) or the
 * master's death. limits is the master's shared rate limit table, positions
 * its table of keys' write positions (NULL without a read replica); both
 * borrowed. Returns the process exit status. */
int incd_worker_run(const struct incd_config *cfg, int listen_fd, struct incd_rl_table *limits,
		    struct incd_rp_table *positions);

#endif
