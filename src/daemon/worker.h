/* A worker process: accepts FastCGI requests one at a time on the shared
 * listening socket and serves them. */
#ifndef INCIDENTD_WORKER_H
#define INCIDENTD_WORKER_H

#include "config.h"
#include "ratelimit.h"

/* Runs until SIGTERM/SIGINT (after finishing the request in hand) or the
 * master's death. limits is the master's shared rate limit table
 * (borrowed). Returns the process exit status. */
int incd_worker_run(const struct incd_config *cfg, int listen_fd, struct incd_rl_table *limits);

#endif
