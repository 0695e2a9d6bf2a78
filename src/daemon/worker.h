/* A worker process: accepts FastCGI requests one at a time on the shared
 * listening socket and serves them. */
#ifndef INCIDENTD_WORKER_H
#define INCIDENTD_WORKER_H

#include "config.h"
#include "metrics.h"
#include "ratelimit.h"
#include "readpos.h"

/* Runs until SIGTERM/SIGINT (after finishing the request in hand) or the
 * master's death. limits is the master's shared rate limit table, positions
 * its table of keys' write positions (NULL without a read replica), metrics
 * this worker slot's block of the shared metrics table (all borrowed).
 * Returns the process exit status. */
int incd_worker_run(const struct incd_config *cfg, int listen_fd, struct incd_rl_table *limits,
		    struct incd_rp_table *positions, struct incd_metrics_slot *metrics);

/* The metrics labels of the route table, by the route indexes the workers
 * count requests under; *n is set to their number. Static data. */
const struct incd_metrics_route *incd_worker_routes(size_t *n);

#endif
