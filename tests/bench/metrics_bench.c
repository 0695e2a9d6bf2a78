/* Micro-benchmark of the metrics (src/core/metrics.c): what counting one
 * request costs a worker, alone and with processes each writing its own
 * slot at once (the way the workers share the table), next to a clock
 * read for scale; and what one scrape costs the master.
 *
 * Build and run: make bench-metrics (in a build directory; BENCH_ARGS
 * passes options), or
 *   tests/bench/metrics_bench [-n ITERATIONS] [-r ROUNDS] [-p PROCS[,PROCS...]] [-s SLOTS]
 * Prints one line per case, the best of ROUNDS runs (3: the machine may
 * be shared): nanoseconds per operation and its ratio to the clock read.
 * With more processes than CPUs they take turns: read those lines as
 * throughput, not as latency. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "metrics.h"

#define NROUTES 41 /* the worker's route table today */

static volatile uint64_t sink;
static int rounds = 3;
static double clock_ns = 1;
static struct incd_metrics_route routes[NROUTES];

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void line(const char *what, double ns)
{
	printf("%-58s %9.1f ns %7.2fx clock\n", what, ns, ns / clock_ns);
	fflush(stdout);
}

static double run_clock(struct incd_metrics_slot *s, long n)
{
	(void)s;
	int64_t t0 = now_ns(), x = 0;
	for (long i = 0; i < n; i++)
		x += now_ns();
	sink = (uint64_t)x;
	return (double)(now_ns() - t0) / (double)n;
}

/* What serve() adds per request: in-flight up and down, the request's
 * route x status counter, its histogram bucket and duration sum, and the
 * replay check. Routes, statuses and durations vary as traffic does. */
static double run_request(struct incd_metrics_slot *s, long n)
{
	static const int status[] = {200, 201, 404, 422, 200, 429, 200, 503};
	int64_t t0 = now_ns();
	for (long i = 0; i < n; i++) {
		incd_metrics_inc(&s->in_flight);
		incd_metrics_request(s, (size_t)(i * 7) % NROUTES, status[i & 7],
				     (int64_t)(i & 1023) * 20000);
		if ((i & 15) == 0)
			incd_metrics_inc(&s->replays);
		atomic_store_explicit(&s->in_flight, 0, memory_order_relaxed);
	}
	return (double)(now_ns() - t0) / (double)n;
}

static void best(const char *what, double (*run)(struct incd_metrics_slot *, long),
		 struct incd_metrics_slot *s, long n, double *out)
{
	double ns = 1e18;
	for (int i = 0; i < rounds; i++) {
		double x = run(s, n);
		ns = x < ns ? x : ns;
	}
	if (out != NULL)
		*out = ns;
	line(what, ns);
}

/* procs processes, each counting n requests into its own slot, started
 * together. The slowest one's time per request. */
static double run_procs(struct incd_metrics *m, long n, int procs)
{
	_Atomic long *sh = mmap(NULL, sizeof(long) * (1 + (size_t)procs), PROT_READ | PROT_WRITE,
				MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	for (int p = 0; p < procs; p++) {
		pid_t pid = fork();
		if (pid < 0) {
			perror("fork");
			exit(1);
		}
		if (pid > 0)
			continue;
		atomic_fetch_add(&sh[0], 1);
		while (atomic_load(&sh[0]) < procs)
			;
		sh[1 + p] = (long)(run_request(incd_metrics_slot(m, (size_t)p), n) * 1000);
		_exit(0);
	}
	for (int p = 0; p < procs; p++)
		wait(NULL);
	long worst = 0;
	for (int p = 0; p < procs; p++)
		worst = sh[1 + p] > worst ? sh[1 + p] : worst;
	munmap((void *)sh, sizeof(long) * (1 + (size_t)procs));
	return (double)worst / 1000;
}

int main(int argc, char **argv)
{
	long n = 5000000;
	size_t slots = 8;
	char procs_arg[64] = "1,2,4,8";
	int ch;

	while ((ch = getopt(argc, argv, "n:p:r:s:")) != -1) {
		if (ch == 'n')
			n = atol(optarg);
		else if (ch == 'r')
			rounds = atoi(optarg) > 0 ? atoi(optarg) : 1;
		else if (ch == 'p')
			snprintf(procs_arg, sizeof procs_arg, "%s", optarg);
		else if (ch == 's')
			slots = (size_t)atol(optarg);
		else {
			fprintf(stderr,
				"usage: %s [-n ITERATIONS] [-r ROUNDS] [-p PROCS,...] "
				"[-s SLOTS]\n",
				argv[0]);
			return 2;
		}
	}
	for (size_t i = 0; i < NROUTES; i++) {
		static char names[NROUTES][32];
		snprintf(names[i], sizeof names[i], "/v2/route_%zu/{id}", i);
		routes[i] = (struct incd_metrics_route){i % 2 ? "GET" : "POST", names[i]};
	}
	struct incd_metrics *m = incd_metrics_new(slots < 8 ? 8 : slots);
	if (m == NULL || n <= 0) {
		perror("incd_metrics_new");
		return 1;
	}
	printf("metrics: %ld iterations, best of %d, %ld CPUs online, %zu slots, %zu bytes "
	       "mapped\n",
	       n, rounds, sysconf(_SC_NPROCESSORS_ONLN), slots < 8 ? (size_t)8 : slots,
	       incd_metrics_bytes(m));
	/* best() sets clock_ns before printing: this line reads 1.00x. */
	best("clock_gettime(CLOCK_MONOTONIC) (for scale)", run_clock, NULL, n, &clock_ns);
	best("a request's counting (in-flight, counter, histogram)", run_request,
	     incd_metrics_slot(m, 0), n, NULL);
	for (char *save = NULL, *s = strtok_r(procs_arg, ",", &save); s != NULL;
	     s = strtok_r(NULL, ",", &save)) {
		int procs = atoi(s);
		if (procs <= 0 || (size_t)procs > (slots < 8 ? 8 : slots))
			continue;
		char what[96];
		double ns = 1e18;
		for (int i = 0; i < rounds; i++) {
			double x = run_procs(m, n / 2, procs);
			ns = x < ns ? x : ns;
		}
		snprintf(what, sizeof what, "%d processes, a slot each", procs);
		line(what, ns);
	}
	/* Every slot has traffic on every route by now (run_procs wrote the
	 * first ones; fill the rest): the largest exposition. */
	for (size_t i = 0; i < (slots < 8 ? 8 : slots); i++)
		run_request(incd_metrics_slot(m, i), 4096);
	struct incd_buf out = {0};
	double ns = 1e18;
	int scrapes = 200;
	for (int r = 0; r < rounds; r++) {
		int64_t t0 = now_ns();
		for (int i = 0; i < scrapes; i++) {
			incd_buf_reset(&out);
			incd_metrics_render(m, routes, NROUTES, "bench", &out);
		}
		double x = (double)(now_ns() - t0) / scrapes;
		ns = x < ns ? x : ns;
	}
	char what[96];
	snprintf(what, sizeof what, "a scrape: sum %zu slots, render %zu bytes",
		 slots < 8 ? (size_t)8 : slots, out.len);
	line(what, ns);
	incd_buf_free(&out);
	incd_metrics_free(m);
	return 0;
}
