/* Rate limits: the bucket's arithmetic (burst, continuous refill, limit
 * changes, stale clocks), the shared table (keys apart, reuse of full
 * buckets, a full table, a claimer killed between its two writes), exact
 * counts with processes racing on one key, workers killed with SIGKILL
 * mid-update, and the headers and 429 body. Includes the .c under test to
 * reach the slots. */
#include "ratelimit.c"

#include <check.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define S 1000000000LL
#define MS 1000000LL
/* Any clock value: the table works modulo 2^58 ns. */
#define T0 (123456 * S)

static void take(struct incd_rl_table *t, const char *key, uint32_t limit, int64_t now,
		 struct incd_rl_verdict *v)
{
	incd_rl_take(t, key, limit, now, v);
	ck_assert(v->known);
}

/* Requests of key allowed at now, taking until one is denied (at most max). */
static int drain(struct incd_rl_table *t, const char *key, uint32_t limit, int64_t now, int max)
{
	struct incd_rl_verdict v;
	int n = 0;
	for (; n < max; n++) {
		take(t, key, limit, now, &v);
		if (!v.allowed)
			break;
	}
	return n;
}

START_TEST(decide_fresh_bucket)
{
	struct incd_rl_verdict v;
	incd_rl_decide(0, 60, &v);
	ck_assert(v.known && v.allowed);
	ck_assert_uint_eq(v.limit, 60);
	ck_assert_uint_eq(v.remaining, 59);
	ck_assert_int_eq(v.ahead_ns, 1 * S);
	ck_assert_int_eq(v.reset_ns, 1 * S);
	ck_assert_int_eq(v.retry_ns, 0);

	/* The contract's default: 1200 a minute, one every 50 ms. */
	incd_rl_decide(-5 * S, 1200, &v);
	ck_assert(v.allowed);
	ck_assert_uint_eq(v.remaining, 1199);
	ck_assert_int_eq(v.ahead_ns, 50 * MS);
}
END_TEST

START_TEST(decide_empty_bucket)
{
	struct incd_rl_verdict v;
	/* 59.5 s ahead with 1 s per request: 0.5 s until one fits. */
	incd_rl_decide(59 * S + 500 * MS, 60, &v);
	ck_assert(v.known && !v.allowed);
	ck_assert_uint_eq(v.remaining, 0);
	ck_assert_int_eq(v.retry_ns, 500 * MS);
	ck_assert_int_eq(v.reset_ns, 59 * S + 500 * MS);
	ck_assert_int_eq(v.ahead_ns, 59 * S + 500 * MS);
	/* Exactly one request left. */
	incd_rl_decide(59 * S, 60, &v);
	ck_assert(v.allowed);
	ck_assert_uint_eq(v.remaining, 0);
	ck_assert_int_eq(v.reset_ns, 60 * S);
}
END_TEST

/* A TAT over the burst but within the hour is an empty bucket (a lowered
 * limit, or a clock read before another worker's update); over the hour
 * it is from before the 58-bit clock wrapped: a full one. */
START_TEST(decide_out_of_range)
{
	struct incd_rl_verdict v;
	incd_rl_decide(61 * S, 60, &v);
	ck_assert(!v.allowed);
	ck_assert_int_eq(v.retry_ns, 1 * S);
	incd_rl_decide(3599 * S, 60, &v);
	ck_assert(!v.allowed);
	incd_rl_decide(3601 * S, 60, &v);
	ck_assert(v.allowed);
	ck_assert_uint_eq(v.remaining, 59);
}
END_TEST

/* Limits that do not divide a minute in nanoseconds still burst exactly
 * their number. */
START_TEST(odd_limits_burst_exactly)
{
	static const uint32_t limits[] = {1, 7, 60, 1200, 7919, 100000};
	struct incd_rl_table *t = incd_rl_table_new(64);
	for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
		char key[32];
		snprintf(key, sizeof key, "odd-%u", limits[i]);
		ck_assert_int_eq(drain(t, key, limits[i], T0, (int)limits[i] + 5), (int)limits[i]);
	}
	incd_rl_table_free(t);
}
END_TEST

START_TEST(burst_then_refill)
{
	struct incd_rl_table *t = incd_rl_table_new(64);
	struct incd_rl_verdict v;
	const char *k = "01HZZZZZZZZZZZZZZZZZZZZZZA";

	for (uint32_t i = 0; i < 60; i++) {
		take(t, k, 60, T0, &v);
		ck_assert(v.allowed);
		ck_assert_uint_eq(v.remaining, 59 - i);
		ck_assert_int_eq(v.reset_ns, (int64_t)(i + 1) * S);
	}
	take(t, k, 60, T0, &v);
	ck_assert(!v.allowed);
	ck_assert_int_eq(v.retry_ns, 1 * S);
	ck_assert_int_eq(v.reset_ns, 60 * S);
	/* Denied requests take nothing: still one second to wait. */
	take(t, k, 60, T0, &v);
	ck_assert_int_eq(v.retry_ns, 1 * S);

	/* Continuous refill: nothing at 0.9 s, one at 1 s, 30 at 30 s. */
	take(t, k, 60, T0 + 900 * MS, &v);
	ck_assert(!v.allowed);
	ck_assert_int_eq(v.retry_ns, 100 * MS);
	ck_assert_int_eq(drain(t, k, 60, T0 + 1 * S, 100), 1);
	ck_assert_int_eq(drain(t, k, 60, T0 + 31 * S, 100), 30);
	/* A minute idle: full again. */
	ck_assert_int_eq(drain(t, k, 60, T0 + 200 * S, 100), 60);
	incd_rl_table_free(t);
}
END_TEST

START_TEST(keys_are_apart)
{
	struct incd_rl_table *t = incd_rl_table_new(64);
	struct incd_rl_verdict v;
	ck_assert_int_eq(drain(t, "01J00000000000000000000001", 10, T0, 100), 10);
	take(t, "01J00000000000000000000002", 10, T0, &v);
	ck_assert(v.allowed);
	ck_assert_uint_eq(v.remaining, 9);
	take(t, "01J00000000000000000000001", 10, T0, &v);
	ck_assert(!v.allowed);
	incd_rl_table_free(t);
}
END_TEST

/* The bucket keeps its fill when the key's limit changes. */
START_TEST(limit_changes)
{
	struct incd_rl_table *t = incd_rl_table_new(64);
	struct incd_rl_verdict v;
	const char *k = "01J0000000000000000000000C";
	ck_assert_int_eq(drain(t, k, 60, T0, 30), 30); /* half of 60 */
	take(t, k, 120, T0, &v);		       /* 30 s of a minute used: half of 120 left */
	ck_assert(v.allowed);
	ck_assert_uint_eq(v.remaining, 59);
	ck_assert_int_eq(drain(t, k, 120, T0, 200), 59);
	/* Down to 10: the bucket is empty, 6 s per request. */
	take(t, k, 10, T0, &v);
	ck_assert(!v.allowed);
	ck_assert_int_eq(v.retry_ns, 6 * S);
	incd_rl_table_free(t);
}
END_TEST

START_TEST(table_rounds_up)
{
	struct incd_rl_table *t = incd_rl_table_new(100);
	ck_assert_uint_eq(incd_rl_table_slots(t), 128);
	ck_assert_uint_ge(incd_rl_table_bytes(t), 128 * 64);
	incd_rl_table_free(t);
	t = incd_rl_table_new(1);
	ck_assert_uint_eq(incd_rl_table_slots(t), 64);
	incd_rl_table_free(t);
}
END_TEST

/* More keys with unfinished buckets than slots: the newcomer is not
 * metered (known false). Once those buckets are full again their slots
 * serve new keys. */
START_TEST(full_table)
{
	struct incd_rl_table *t = incd_rl_table_new(64);
	struct incd_rl_verdict v;
	char key[32];
	int n = 0;

	for (;; n++) {
		ck_assert_int_lt(n, 64 + 1);
		snprintf(key, sizeof key, "full-%d", n);
		incd_rl_take(t, key, 60, T0, &v);
		if (!v.known)
			break;
		ck_assert(v.allowed);
	}
	/* A path is 32 slots: at least that many keys got in. */
	ck_assert_int_ge(n, PROBES);
	/* Known keys keep working. */
	take(t, "full-0", 60, T0, &v);
	ck_assert(v.allowed);
	ck_assert_uint_eq(v.remaining, 58);
	/* One second later every bucket of a single request is full again. */
	incd_rl_take(t, key, 60, T0 + 1 * S, &v);
	ck_assert(v.known && v.allowed);
	ck_assert_uint_eq(v.remaining, 59);
	/* full-0 used two: its slot is still its own. */
	take(t, "full-0", 60, T0 + 1 * S, &v);
	ck_assert_uint_eq(v.remaining, 58);
	for (int i = 0; i < 200; i++) {
		snprintf(key, sizeof key, "later-%d", i);
		take(t, key, 60, T0 + 10 * S + i * 2 * S, &v);
		ck_assert(v.allowed);
		ck_assert_uint_eq(v.remaining, 59);
	}
	incd_rl_table_free(t);
}
END_TEST

/* A worker killed between a claim's two writes leaves the slot with the
 * old key and the new key's tag: nobody's, and reusable once that TAT
 * passes. The old key's requests carry on elsewhere. */
START_TEST(claimer_killed_between_writes)
{
	struct incd_rl_table *t = incd_rl_table_new(64);
	struct incd_rl_verdict v;
	const char *k = "01J0000000000000000000000K";
	uint64_t fp = fingerprint(k);
	struct probe p;

	take(t, k, 60, T0, &v);
	probe(t, fp, fp & TAG_MASK, T0, &p);
	ck_assert_ptr_nonnull(p.found);
	struct slot *s = p.found;
	uint64_t other_tag = (fp & TAG_MASK) ^ (UINT64_C(1) << TAT_BITS);
	atomic_store(&s->word, word_of(other_tag, T0, 1 * S));

	take(t, k, 60, T0, &v);
	ck_assert(v.allowed);
	ck_assert_uint_eq(v.remaining, 59);
	probe(t, fp, fp & TAG_MASK, T0, &p);
	ck_assert_ptr_nonnull(p.found);
	ck_assert_ptr_ne(p.found, s);
	ck_assert(!reusable(atomic_load(&s->word), T0 + 500 * MS));
	ck_assert(reusable(atomic_load(&s->word), T0 + 1 * S));
	incd_rl_table_free(t);
}
END_TEST

/* The 58-bit clock: a TAT just behind now or far in the past is a full
 * bucket, whichever side of a wrap the two fall on. */
START_TEST(clock_wraps)
{
	struct incd_rl_table *t = incd_rl_table_new(64);
	int64_t wrap = (int64_t)1 << TAT_BITS;
	ck_assert_int_eq(drain(t, "wrap", 60, wrap - 10 * S, 30), 30);
	/* 20 s later, past the wrap: 20 of the 30 back, 50 left. */
	ck_assert_int_eq(drain(t, "wrap", 60, wrap + 10 * S, 100), 50);
	ck_assert_int_eq(ahead_of(word_of(0, wrap - S, 0), wrap + S), -2 * S);
	incd_rl_table_free(t);
}
END_TEST

/* Shared counters for the children of the process tests. */
static _Atomic long *shared_counts(size_t n)
{
	void *m =
	    mmap(NULL, n * sizeof(long), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(m, MAP_FAILED);
	return m;
}

/* Processes racing on one key at one instant get exactly its limit; on
 * their own keys, each exactly its own. */
START_TEST(processes_count_exactly)
{
	enum { PROCS = 4, TRIES = 3000, LIMIT = 5000 };
	struct incd_rl_table *t = incd_rl_table_new(1024);
	_Atomic long *allowed = shared_counts(2 * PROCS);
	pid_t pids[PROCS];

	for (int i = 0; i < PROCS; i++) {
		pids[i] = fork();
		ck_assert_int_ge(pids[i], 0);
		if (pids[i] == 0) {
			struct incd_rl_verdict v;
			char own[32];
			snprintf(own, sizeof own, "own-%d", i);
			for (int n = 0; n < TRIES; n++) {
				incd_rl_take(t, "shared", LIMIT, T0, &v);
				if (v.known && v.allowed)
					allowed[i]++;
				incd_rl_take(t, own, 1000, T0, &v);
				if (v.known && v.allowed)
					allowed[PROCS + i]++;
			}
			_exit(0);
		}
	}
	long total = 0;
	for (int i = 0; i < PROCS; i++) {
		int status;
		ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		total += allowed[i];
		ck_assert_int_eq(allowed[PROCS + i], 1000);
	}
	ck_assert_int_eq(total, LIMIT);
	munmap((void *)allowed, 2 * PROCS * sizeof(long));
	incd_rl_table_free(t);
}
END_TEST

/* Workers killed with SIGKILL at random points of their updates leave
 * nothing stuck: the key's bucket still answers, and a minute later it
 * is full. */
START_TEST(sigkill_never_wedges)
{
	enum { PROCS = 4 };
	struct incd_rl_table *t = incd_rl_table_new(64);
	struct incd_rl_verdict v;

	for (int round = 0; round < 20; round++) {
		pid_t pids[PROCS];
		for (int i = 0; i < PROCS; i++) {
			pids[i] = fork();
			ck_assert_int_ge(pids[i], 0);
			if (pids[i] == 0) {
				char key[32];
				for (unsigned n = 0;; n++) {
					/* Time moves, so slots are claimed and reused too. */
					int64_t now = T0 + (int64_t)(n / 64) * 100 * MS;
					snprintf(key, sizeof key, "kill-%u", n % 97);
					incd_rl_take(t, "kill-shared", 100000, now, &v);
					incd_rl_take(t, key, 60, now, &v);
				}
			}
		}
		usleep(2000 + (useconds_t)(round * 500));
		for (int i = 0; i < PROCS; i++) {
			kill(pids[i], SIGKILL);
			waitpid(pids[i], NULL, 0);
		}
	}
	int64_t later = T0 + 3600 * S;
	take(t, "kill-shared", 100000, later, &v);
	ck_assert(v.allowed);
	ck_assert_uint_eq(v.remaining, 99999);
	for (unsigned n = 0; n < 97; n++) {
		char key[32];
		snprintf(key, sizeof key, "kill-%u", n);
		/* 97 keys, 64 slots: a second apart, each bucket is full again
		 * before the next key comes. */
		take(t, key, 60, later + n * S, &v);
		ck_assert(v.allowed);
		ck_assert_uint_eq(v.remaining, 59);
	}
	incd_rl_table_free(t);
}
END_TEST

START_TEST(headers_and_body)
{
	struct incd_response r = {0};
	struct incd_rl_verdict v;
	struct incd_error err = {0};
	int64_t unix_ns = 1785173139LL * S + 250 * MS;

	incd_rl_decide(10 * S, 60, &v);
	incd_rl_headers(&r, &v, unix_ns);
	ck_assert_str_eq(r.headers.data, "X-RateLimit-Limit: 60, 60;window=60\r\n"
					 "X-RateLimit-Remaining: 49\r\n"
					 "X-RateLimit-Used: 11\r\n"
					 "X-RateLimit-Reset: 1785173151\r\n");
	/* A handler's output rewound (the replica's retry on the primary):
	 * the rate limit's headers stay, the rest goes. */
	size_t kept = r.headers.len;
	incd_response_header(&r, "Location", "/x");
	r.status = 503;
	r.replayed = true;
	incd_buf_add(&r.body, "{}", 2);
	incd_response_rewind(&r, kept);
	ck_assert_int_eq(r.status, 200);
	ck_assert(!r.replayed);
	ck_assert_uint_eq(r.body.len, 0);
	ck_assert_uint_eq(strlen(r.headers.data), kept);
	ck_assert_ptr_null(strstr(r.headers.data, "Location"));
	ck_assert_ptr_nonnull(strstr(r.headers.data, "X-RateLimit-Reset: 1785173151\r\n"));
	incd_response_reset(&r);

	/* 20 ms short of a request (50 ms each). */
	incd_rl_decide(59 * S + 980 * MS, 1200, &v);
	ck_assert(!v.allowed);
	incd_rl_headers(&r, &v, unix_ns);
	ck_assert_str_eq(r.headers.data, "X-RateLimit-Limit: 1200, 1200;window=60\r\n"
					 "X-RateLimit-Remaining: 0\r\n"
					 "X-RateLimit-Used: 1200\r\n"
					 "X-RateLimit-Reset: 1785173200\r\n"
					 "Retry-After: 1\r\n");
	ck_assert(!incd_rl_fail(&err, &v, "ops \"bot\"", unix_ns));
	incd_response_error(&r, &err, "rid");
	ck_assert_int_eq(r.status, 429);
	ck_assert_str_eq(
	    r.body.data,
	    "{\"type\":\"too_many_requests\",\"status\":429,\"request_id\":\"rid\","
	    "\"rate_limit\":{\"name\":\"ops \\\"bot\\\"\",\"limit\":1200,\"remaining\":0,"
	    "\"retry_after\":\"2026-07-27T17:25:40Z\"},"
	    "\"errors\":[{\"code\":\"too_many_requests\",\"message\":\"Too many "
	    "requests hit the API too quickly. We recommend an exponential backoff of "
	    "your requests.\"}]}");
	/* The headers set before the error stay. */
	ck_assert_ptr_nonnull(strstr(r.headers.data, "Retry-After: 1\r\n"));

	/* Another error through the same value leaves no rate_limit behind. */
	incd_fail(&err, 404, "not_found", NULL, "gone");
	incd_response_error(&r, &err, "rid");
	ck_assert_ptr_null(strstr(r.body.data, "rate_limit"));
	incd_response_free(&r);

	ck_assert_int_eq(incd_rl_ceil_seconds(1), 1);
	ck_assert_int_eq(incd_rl_ceil_seconds(0), 1);
	ck_assert_int_eq(incd_rl_ceil_seconds(1 * S), 1);
	ck_assert_int_eq(incd_rl_ceil_seconds(1 * S + 1), 2);
}
END_TEST

START_TEST(fingerprints_differ)
{
	/* Ids one character apart, at either end. */
	ck_assert_uint_ne(fingerprint("01J00000000000000000000001"),
			  fingerprint("01J00000000000000000000002"));
	ck_assert_uint_ne(fingerprint("01J00000000000000000000001"),
			  fingerprint("11J00000000000000000000001"));
	ck_assert_uint_ne(fingerprint(""), 0);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("ratelimit");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, decide_fresh_bucket);
	tcase_add_test(tc, decide_empty_bucket);
	tcase_add_test(tc, decide_out_of_range);
	tcase_add_test(tc, odd_limits_burst_exactly);
	tcase_add_test(tc, burst_then_refill);
	tcase_add_test(tc, keys_are_apart);
	tcase_add_test(tc, limit_changes);
	tcase_add_test(tc, table_rounds_up);
	tcase_add_test(tc, full_table);
	tcase_add_test(tc, claimer_killed_between_writes);
	tcase_add_test(tc, clock_wraps);
	tcase_add_test(tc, processes_count_exactly);
	tcase_add_test(tc, sigkill_never_wedges);
	tcase_add_test(tc, headers_and_body);
	tcase_add_test(tc, fingerprints_differ);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"
