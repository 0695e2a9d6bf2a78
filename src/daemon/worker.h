/* A worker process: accepts FastCGI requests one at a time on the shared
 * listening socket and serves them. */
#ifndef INCIDENTD_WORKER_H
#define INCIDENTD_WORKER_H

#include "config.h"
#include "metrics.h"
#include "ratelimit.h"

/* Runs until SIGTERM/SIGINT (after finishing the request in hand) or the
 * master's death. limits is the master's shared rate limit table, metrics
 * this worker slot's block of the shared metrics table (both borrowed).
 * Returns the process exit status. */
int incd_worker_run(const struct incd_config *cfg, int listen_fd, struct incd_rl_table *limits,
		    struct incd_metrics_slot *metrics);

/* The metrics labels of the route table, by the route indexes the workers
 * count requests under; *n is set to their number. Static data. */
const struct incd_metrics_route *incd_worker_routes(size_t *n);

#endif
