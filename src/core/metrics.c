/* Metrics in shared memory and their Prometheus text (metrics.h,
 * docs/METRICS.md). */
#include "metrics.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

struct incd_metrics {
	uint64_t nslots;
	uint64_t bytes;	       /* what was mapped */
	int64_t start_unix_ns; /* when the master mapped it */
	incd_counter restarts; /* written by the master only */
	struct incd_metrics_slot slots[];
};

_Static_assert(sizeof(struct incd_metrics_slot) % 64 == 0, "blocks do not share cache lines");

/* The statuses with a label of their own; the rest count by class. */
static const int statuses[] = {200, 201, 202, 204, 301, 304, 400, 401, 403, 404,
			       405, 409, 413, 415, 422, 429, 500, 502, 503};
#define NAMED (sizeof statuses / sizeof statuses[0])
_Static_assert(NAMED + 5 == INCD_METRICS_STATUSES, "one index per named status and class");
static const char *const classes[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};

/* Upper bounds in nanoseconds, and as the le label says them. */
static const int64_t bounds_ns[INCD_METRICS_BUCKETS] = {
    500000,    1000000,	  2500000,   5000000,	 10000000,   25000000,	50000000,
    100000000, 250000000, 500000000, 1000000000, 2500000000, 5000000000};
static const char *const bounds_le[INCD_METRICS_BUCKETS] = {
    "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05",
    "0.1",    "0.25",  "0.5",	 "1",	  "2.5",  "5"};

#define UNMATCHED (INCD_METRICS_ROUTES - 1)

struct incd_metrics *incd_metrics_new(size_t nslots)
{
	size_t bytes = sizeof(struct incd_metrics) + nslots * sizeof(struct incd_metrics_slot);
	struct incd_metrics *m =
	    mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	/* Anonymous pages come zeroed: every counter starts at 0. */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	m->nslots = nslots;
	m->bytes = bytes;
	m->start_unix_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	return m;
}

void incd_metrics_free(struct incd_metrics *m)
{
	if (m != NULL)
		munmap(m, m->bytes);
}

size_t incd_metrics_bytes(const struct incd_metrics *m)
{
	return m->bytes;
}

struct incd_metrics_slot *incd_metrics_slot(struct incd_metrics *m, size_t i)
{
	return &m->slots[i];
}

void incd_metrics_worker_restarted(struct incd_metrics *m)
{
	incd_metrics_inc(&m->restarts);
}

size_t incd_metrics_status_index(int status)
{
	for (size_t i = 0; i < NAMED; i++)
		if (statuses[i] == status)
			return i;
	if (status < 100 || status > 599)
		return NAMED + 4;
	return NAMED + (size_t)(status / 100 - 1);
}

size_t incd_metrics_bucket(int64_t ns)
{
	size_t i = 0;
	while (i < INCD_METRICS_BUCKETS && ns > bounds_ns[i])
		i++;
	return i;
}

void incd_metrics_request(struct incd_metrics_slot *s, size_t route, int status, int64_t ns)
{
	if (route > UNMATCHED)
		route = UNMATCHED;
	if (ns < 0)
		ns = 0;
	incd_metrics_inc(&s->requests[route][incd_metrics_status_index(status)]);
	incd_metrics_inc(&s->buckets[route][incd_metrics_bucket(ns)]);
	incd_counter *sum = &s->duration_ns[route];
	atomic_store_explicit(sum, atomic_load_explicit(sum, memory_order_relaxed) + (uint64_t)ns,
			      memory_order_relaxed);
}

/* ------------------------------------------------------------ rendering */

/* The slots' counters summed: the same layout, plain integers. */
struct totals {
	uint64_t in_flight, rate_limited, replays;
	uint64_t connects, connect_failures, lost, unavailable, internal;
	uint64_t replica_reads, replica_fallbacks, replica_connects, replica_connect_failures,
	    replica_lost;
	uint64_t requests[INCD_METRICS_ROUTES][INCD_METRICS_STATUSES];
	uint64_t buckets[INCD_METRICS_ROUTES][INCD_METRICS_BUCKETS + 1];
	uint64_t duration_ns[INCD_METRICS_ROUTES];
};

static uint64_t get(const incd_counter *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

static void sum_slots(const struct incd_metrics *m, struct totals *t)
{
	memset(t, 0, sizeof *t);
	for (size_t i = 0; i < m->nslots; i++) {
		const struct incd_metrics_slot *s = &m->slots[i];
		t->in_flight += get(&s->in_flight);
		t->rate_limited += get(&s->rate_limited);
		t->replays += get(&s->replays);
		t->connects += get(&s->db.connects);
		t->connect_failures += get(&s->db.connect_failures);
		t->lost += get(&s->db.lost);
		t->unavailable += get(&s->db.unavailable);
		t->internal += get(&s->db.internal);
		t->replica_reads += get(&s->replica.reads);
		t->replica_fallbacks += get(&s->replica.fallbacks);
		t->replica_connects += get(&s->replica.db.connects);
		t->replica_connect_failures += get(&s->replica.db.connect_failures);
		t->replica_lost += get(&s->replica.db.lost);
		for (size_t r = 0; r < INCD_METRICS_ROUTES; r++) {
			for (size_t k = 0; k < INCD_METRICS_STATUSES; k++)
				t->requests[r][k] += get(&s->requests[r][k]);
			for (size_t k = 0; k <= INCD_METRICS_BUCKETS; k++)
				t->buckets[r][k] += get(&s->buckets[r][k]);
			t->duration_ns[r] += get(&s->duration_ns[r]);
		}
	}
}

static void head(struct incd_buf *out, const char *name, const char *type, const char *help)
{
	incd_buf_addf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void scalar(struct incd_buf *out, const char *name, const char *type, const char *help,
		   uint64_t v)
{
	head(out, name, type, help);
	incd_buf_addf(out, "%s %llu\n", name, (unsigned long long)v);
}

/* A label value in the exposition's escaping (backslash, quote, newline). */
static void add_label(struct incd_buf *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			incd_buf_addf(out, "\\%c", *s);
		else if (*s == '\n')
			incd_buf_adds(out, "\\n");
		else
			incd_buf_add(out, s, 1);
	}
}

static void route_labels(struct incd_buf *out, const struct incd_metrics_route *routes, size_t r)
{
	incd_buf_adds(out, "method=\"");
	add_label(out, r == UNMATCHED ? "other" : routes[r].method);
	incd_buf_adds(out, "\",route=\"");
	add_label(out, r == UNMATCHED ? "unmatched" : routes[r].pattern);
	incd_buf_adds(out, "\"");
}

static bool route_named(size_t r, size_t nroutes)
{
	return r == UNMATCHED || r < nroutes;
}

static void render_requests(const struct totals *t, const struct incd_metrics_route *routes,
			    size_t nroutes, struct incd_buf *out)
{
	head(out, "incidentd_http_requests_total", "counter",
	     "Requests answered, by route pattern and HTTP status.");
	for (size_t r = 0; r < INCD_METRICS_ROUTES; r++) {
		if (!route_named(r, nroutes))
			continue;
		for (size_t k = 0; k < INCD_METRICS_STATUSES; k++) {
			if (t->requests[r][k] == 0)
				continue;
			incd_buf_adds(out, "incidentd_http_requests_total{");
			route_labels(out, routes, r);
			if (k < NAMED)
				incd_buf_addf(out, ",status=\"%d\"} ", statuses[k]);
			else
				incd_buf_addf(out, ",status=\"%s\"} ", classes[k - NAMED]);
			incd_buf_addf(out, "%llu\n", (unsigned long long)t->requests[r][k]);
		}
	}
	const char *name = "incidentd_http_request_duration_seconds";
	head(out, name, "histogram",
	     "Time from accepting a request to its response's end, by route pattern.");
	for (size_t r = 0; r < INCD_METRICS_ROUTES; r++) {
		if (!route_named(r, nroutes))
			continue;
		uint64_t cumulative = 0;
		for (size_t k = 0; k <= INCD_METRICS_BUCKETS; k++)
			cumulative += t->buckets[r][k];
		if (cumulative == 0)
			continue;
		cumulative = 0;
		for (size_t k = 0; k <= INCD_METRICS_BUCKETS; k++) {
			cumulative += t->buckets[r][k];
			incd_buf_addf(out, "%s_bucket{", name);
			route_labels(out, routes, r);
			incd_buf_addf(out, ",le=\"%s\"} %llu\n",
				      k < INCD_METRICS_BUCKETS ? bounds_le[k] : "+Inf",
				      (unsigned long long)cumulative);
		}
		incd_buf_addf(out, "%s_sum{", name);
		route_labels(out, routes, r);
		incd_buf_addf(out, "} %llu.%09llu\n",
			      (unsigned long long)(t->duration_ns[r] / 1000000000),
			      (unsigned long long)(t->duration_ns[r] % 1000000000));
		incd_buf_addf(out, "%s_count{", name);
		route_labels(out, routes, r);
		incd_buf_addf(out, "} %llu\n", (unsigned long long)cumulative);
	}
}

void incd_metrics_render(const struct incd_metrics *m, const struct incd_metrics_route *routes,
			 size_t nroutes, const char *version, struct incd_buf *out)
{
	struct totals *t = incd_xmalloc(sizeof *t);
	sum_slots(m, t);

	head(out, "incidentd_build_info", "gauge", "Always 1; the version label says which build.");
	incd_buf_adds(out, "incidentd_build_info{version=\"");
	add_label(out, version);
	incd_buf_adds(out, "\"} 1\n");
	head(out, "process_start_time_seconds", "gauge",
	     "When the incidentd master started, in seconds since the Unix epoch.");
	incd_buf_addf(out, "process_start_time_seconds %lld.%03lld\n",
		      (long long)(m->start_unix_ns / 1000000000),
		      (long long)(m->start_unix_ns % 1000000000 / 1000000));
	render_requests(t, routes, nroutes, out);
	scalar(out, "incidentd_http_requests_in_flight", "gauge",
	       "Requests accepted by a worker and not yet finished.", t->in_flight);
	scalar(out, "incidentd_rate_limited_requests_total", "counter",
	       "Requests refused with 429 by the per-key rate limit.", t->rate_limited);
	scalar(out, "incidentd_idempotent_replays_total", "counter",
	       "Incident creates answered from an earlier create with the same idempotency key.",
	       t->replays);
	scalar(out, "incidentd_db_connections_total", "counter",
	       "Database connections the workers opened (each worker's first, then reconnects).",
	       t->connects);
	scalar(out, "incidentd_db_connect_failures_total", "counter",
	       "Attempts to open a database connection that failed.", t->connect_failures);
	scalar(out, "incidentd_db_connections_lost_total", "counter",
	       "Database connections found broken and dropped (the next statement reconnects).",
	       t->lost);
	head(out, "incidentd_db_errors_total", "counter",
	     "Statements that failed, by kind: unavailable (answered 503: connection lost, "
	     "overload, serialization) or internal (answered 500).");
	incd_buf_addf(out, "incidentd_db_errors_total{kind=\"unavailable\"} %llu\n",
		      (unsigned long long)t->unavailable);
	incd_buf_addf(out, "incidentd_db_errors_total{kind=\"internal\"} %llu\n",
		      (unsigned long long)t->internal);
	scalar(out, "incidentd_replica_reads_total", "counter",
	       "GET requests sent to the read replica (--read-database-url).", t->replica_reads);
	scalar(out, "incidentd_replica_fallbacks_total", "counter",
	       "GET requests served by the primary because the read replica was down, had not "
	       "replayed the key's last write, or failed them.",
	       t->replica_fallbacks);
	scalar(out, "incidentd_replica_connections_total", "counter",
	       "Read replica connections the workers opened.", t->replica_connects);
	scalar(out, "incidentd_replica_connect_failures_total", "counter",
	       "Attempts to open a read replica connection that failed.",
	       t->replica_connect_failures);
	scalar(out, "incidentd_replica_connections_lost_total", "counter",
	       "Read replica connections found broken and dropped.", t->replica_lost);
	scalar(out, "incidentd_worker_restarts_total", "counter",
	       "Workers that exited or were killed while serving and were replaced by the master.",
	       get(&m->restarts));
	free(t);
}
