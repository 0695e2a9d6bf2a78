/* Metrics: counters of every worker of a host in shared memory, rendered
 * in the Prometheus text format (docs/METRICS.md).
 *
 * The master maps the table before the first fork, like the rate limit
 * table. It holds one block per worker slot of the master (a worker and
 * the workers that replace it in that slot), each aligned to cache lines:
 * a worker writes only its own block, with plain relaxed loads and stores
 * (one writer per counter: no lock, no read-modify-write bus lock), and a
 * scrape sums the blocks. Nothing ever zeroes a block, so the sums only
 * grow, across worker restarts and SIGHUP replacements, for the master's
 * lifetime. */
#ifndef INCIDENTD_METRICS_H
#define INCIDENTD_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* Routes a block has room for: the route table's entries, then one more
 * for requests no route matched (404, 405, unparsable paths). */
#define INCD_METRICS_ROUTES 64
/* Status codes counted by their own label, then one per class (1xx..5xx)
 * for the rest: the label set stays bounded whatever a handler returns. */
#define INCD_METRICS_STATUSES 24
/* Finite upper bounds of the latency histogram (the +Inf bucket is one
 * more). */
#define INCD_METRICS_BUCKETS 13

typedef _Atomic uint64_t incd_counter;

/* Database events of one worker slot (db.c counts them). */
struct incd_metrics_db {
	incd_counter connects;	       /* connections opened and set up */
	incd_counter connect_failures; /* attempts that did not get there */
	incd_counter lost;	       /* connections found broken (then re-opened) */
	incd_counter unavailable;      /* statements answered 503 (connection, overload) */
	incd_counter internal;	       /* statements answered 500 (unexpected SQLSTATE) */
};

/* The read replica's traffic of one worker slot (replica.c counts it;
 * docs/REPLICAS.md). */
struct incd_metrics_replica {
	incd_counter reads;	/* GETs sent to the replica */
	incd_counter fallbacks; /* GETs the replica could not take (down, behind the
				 * key's last write, failed): served by the primary */
	struct incd_metrics_db db;
};

/* One worker slot's counters. Written only by the worker in the slot
 * (in_flight also by the master after that worker died). */
struct incd_metrics_slot {
	incd_counter in_flight;	   /* 1 while a request is accepted and not finished */
	incd_counter rate_limited; /* 429s the rate limiter gave */
	incd_counter replays;	   /* creates answered as idempotent replays */
	struct incd_metrics_db db;
	struct incd_metrics_replica replica;
	incd_counter requests[INCD_METRICS_ROUTES][INCD_METRICS_STATUSES];
	/* Per route: requests per bucket (not cumulative; the last is
	 * +Inf), and the sum of their durations in nanoseconds. */
	incd_counter buckets[INCD_METRICS_ROUTES][INCD_METRICS_BUCKETS + 1];
	incd_counter duration_ns[INCD_METRICS_ROUTES];
} __attribute__((aligned(64)));

struct incd_metrics;

/* Adds one to a counter of the caller's own slot. A relaxed load and
 * store: the caller is the counter's only writer, so no increment is lost,
 * and a concurrent scrape reads either value. */
static inline void incd_metrics_inc(incd_counter *c)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

/* Maps a table of nslots blocks in anonymous shared memory (processes
 * forked afterwards share it), zeroed, and notes the start time. NULL with
 * errno set when mmap fails. Release with incd_metrics_free. */
struct incd_metrics *incd_metrics_new(size_t nslots);
void incd_metrics_free(struct incd_metrics *m);
size_t incd_metrics_bytes(const struct incd_metrics *m);

/* Block i (< nslots); borrowed, valid until incd_metrics_free. */
struct incd_metrics_slot *incd_metrics_slot(struct incd_metrics *m, size_t i);

/* The master's counter of workers that died while they should have been
 * serving and were replaced (its only writer). */
void incd_metrics_worker_restarted(struct incd_metrics *m);

/* The compact index of an HTTP status (< INCD_METRICS_STATUSES). */
size_t incd_metrics_status_index(int status);

/* The bucket of a duration in nanoseconds (INCD_METRICS_BUCKETS: +Inf). */
size_t incd_metrics_bucket(int64_t ns);

/* Counts one finished request of route index route (INCD_METRICS_ROUTES - 1
 * or above: unmatched) in s. */
void incd_metrics_request(struct incd_metrics_slot *s, size_t route, int status, int64_t ns);

/* A route's labels, in the order of the worker's route table. */
struct incd_metrics_route {
	const char *method;  /* "GET" */
	const char *pattern; /* "/v2/incidents/{id}" */
};

/* Appends the Prometheus text exposition (format 0.0.4) of every metric,
 * summed over the slots, to out. routes[0..nroutes) name the route
 * indexes (at most INCD_METRICS_ROUTES - 1 are used); version is the
 * build's. Series of requests and histograms appear once a request was
 * counted for them. */
void incd_metrics_render(const struct incd_metrics *m, const struct incd_metrics_route *routes,
			 size_t nroutes, const char *version, struct incd_buf *out);

#endif
