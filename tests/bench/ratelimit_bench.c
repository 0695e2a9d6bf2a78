/* Micro-benchmark of the rate limit check (src/core/ratelimit.c): what
 * one request pays, single-threaded, and with processes contending on one
 * key or each on its own, the way the workers share the table.
 *
 * Build and run: make bench-ratelimit (in a build directory; BENCH_ARGS
 * passes options), or
 *   tests/bench/ratelimit_bench [-n ITERATIONS] [-r ROUNDS] [-p PROCS[,PROCS...]]
 * Prints one line per case, the best of ROUNDS runs (3: the machine may
 * be shared): nanoseconds per check (per process) and checks per second
 * (all processes together). With more processes than CPUs they take
 * turns, so the time per process grows and the total is what to read. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ratelimit.h"
#include "response.h"

/* Never empties at these rates: every check is an allowed one, which
 * writes (the CAS). */
#define BIG_LIMIT 2000000000u
#define KEY "01J7ZQ3T6S9V2W5X8Y1Z4A7B0C"

typedef double run_fn(struct incd_rl_table *t, long n, uint32_t limit);

static volatile uint32_t sink;
static int rounds = 3;

static double ns_since(int64_t t0, long n)
{
	return (double)(incd_rl_clock() - t0) / (double)n;
}

static void line(const char *what, double ns, int procs)
{
	printf("%-54s %8.1f ns/check %12.0f checks/s\n", what, ns, 1e9 / ns * procs);
	fflush(stdout);
}

static double run_clock(struct incd_rl_table *t, long n, uint32_t limit)
{
	int64_t t0 = incd_rl_clock();
	int64_t x = 0;
	for (long i = 0; i < n; i++)
		x += incd_rl_clock();
	sink = (uint32_t)x;
	return ns_since(t0, n);
}

static double run_take(struct incd_rl_table *t, long n, uint32_t limit)
{
	/* The denied case on a key of its own, spent for the minute. */
	const char *key = limit == 1 ? "01J7ZQ3T6S9V2W5X8Y1Z4A7B0D" : KEY;
	struct incd_rl_verdict v;
	int64_t t0 = incd_rl_clock();
	for (long i = 0; i < n; i++) {
		incd_rl_take(t, key, limit, incd_rl_clock(), &v);
		sink += v.remaining;
	}
	return ns_since(t0, n);
}

/* What the worker does per request of a limited key: both clocks, the
 * take and the four headers. */
static double run_request(struct incd_rl_table *t, long n, uint32_t limit)
{
	struct incd_response r = {0};
	struct incd_rl_verdict v;
	int64_t t0 = incd_rl_clock();
	for (long i = 0; i < n; i++) {
		incd_response_reset(&r);
		incd_rl_take(t, KEY, limit, incd_rl_clock(), &v);
		incd_rl_headers(&r, &v, incd_rl_unix_ns());
		sink += (uint32_t)r.headers.len;
	}
	double ns = ns_since(t0, n);
	incd_response_free(&r);
	return ns;
}

static void best(const char *what, run_fn *run, struct incd_rl_table *t, long n, uint32_t limit)
{
	double ns = 1e18;
	for (int i = 0; i < rounds; i++) {
		double x = run(t, n, limit);
		ns = x < ns ? x : ns;
	}
	line(what, ns, 1);
}

/* procs processes, n checks each, started together; shared: all on one
 * key, else each on its own. The slowest process's time per check. */
static double run_procs(struct incd_rl_table *t, long n, int procs, bool shared)
{
	_Atomic long *m = mmap(NULL, sizeof(long) * (1 + (size_t)procs), PROT_READ | PROT_WRITE,
			       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED) {
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
		char key[32];
		struct incd_rl_verdict v;
		snprintf(key, sizeof key, shared ? KEY : "01J7ZQ3T6S9V2W5X8Y1Z4A%04d", p);
		/* Start together. */
		atomic_fetch_add(&m[0], 1);
		while (atomic_load(&m[0]) < procs)
			;
		int64_t t0 = incd_rl_clock();
		for (long i = 0; i < n; i++) {
			incd_rl_take(t, key, BIG_LIMIT, incd_rl_clock(), &v);
			sink += v.remaining;
		}
		m[1 + p] = (long)(incd_rl_clock() - t0);
		_exit(0);
	}
	for (int p = 0; p < procs; p++)
		wait(NULL);
	long worst = 0;
	for (int p = 0; p < procs; p++)
		worst = m[1 + p] > worst ? m[1 + p] : worst;
	munmap((void *)m, sizeof(long) * (1 + (size_t)procs));
	return (double)worst / (double)n;
}

static void bench_procs(struct incd_rl_table *t, long n, int procs, bool shared)
{
	char what[96];
	double ns = 1e18;
	for (int i = 0; i < rounds; i++) {
		double x = run_procs(t, n, procs, shared);
		ns = x < ns ? x : ns;
	}
	snprintf(what, sizeof what, "%d processes, %s", procs, shared ? "one key" : "a key each");
	line(what, ns, procs);
}

int main(int argc, char **argv)
{
	long n = 2000000;
	char procs_arg[64] = "1,2,4,8";
	int ch;

	while ((ch = getopt(argc, argv, "n:p:r:")) != -1) {
		if (ch == 'n') {
			n = atol(optarg);
		} else if (ch == 'r') {
			rounds = atoi(optarg) > 0 ? atoi(optarg) : 1;
		} else if (ch == 'p') {
			snprintf(procs_arg, sizeof procs_arg, "%s", optarg);
		} else {
			fprintf(stderr, "usage: %s [-n ITERATIONS] [-r ROUNDS] [-p PROCS,...]\n",
				argv[0]);
			return 2;
		}
	}
	struct incd_rl_table *t = incd_rl_table_new(16384);
	if (t == NULL || n <= 0) {
		perror("incd_rl_table_new");
		return 1;
	}
	printf("rate limit check: %ld iterations, best of %d, %ld CPUs online, %zu slots\n", n,
	       rounds, sysconf(_SC_NPROCESSORS_ONLN), incd_rl_table_slots(t));
	best("clock_gettime(CLOCK_MONOTONIC)", run_clock, t, n, 0);
	best("take with its clock read, allowed (the CAS)", run_take, t, n, BIG_LIMIT);
	/* A bucket of one, spent: every later check only reads. */
	best("take with its clock read, denied (read only)", run_take, t, n, 1);
	best("a request: 2 clocks, take, X-RateLimit-* headers", run_request, t, n, BIG_LIMIT);
	for (char *save = NULL, *s = strtok_r(procs_arg, ",", &save); s != NULL;
	     s = strtok_r(NULL, ",", &save)) {
		int procs = atoi(s);
		if (procs <= 0)
			continue;
		bench_procs(t, n / 2, procs, true);
		bench_procs(t, n / 2, procs, false);
	}
	incd_rl_table_free(t);
	return 0;
}
