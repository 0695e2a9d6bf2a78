/* Rate limits: one token bucket per API key, shared by every worker of a
 * host through a table in shared memory that the master maps before it
 * forks (docs/DESIGN.md, "Rate limits").
 *
 * The bucket is kept as GCRA: one theoretical arrival time (TAT) per key,
 * which is the same arithmetic as a bucket of `limit` tokens refilling
 * continuously at limit/60 per second, in a single 64-bit word that a
 * compare-and-swap updates. No lock is ever held: a worker killed at any
 * instruction leaves every slot usable. */
#ifndef INCIDENTD_RATELIMIT_H
#define INCIDENTD_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "response.h"

/* The window the limit is counted over: "N requests per minute". */
#define INCD_RL_WINDOW_NS 60000000000LL

/* What one request was told. */
struct incd_rl_verdict {
	bool known;	    /* false: no slot free for the key (table full); nothing else set */
	bool allowed;	    /* the request may go on */
	uint32_t limit;	    /* requests per minute */
	uint32_t remaining; /* requests allowed right now, after this one */
	int64_t reset_ns;   /* from now until the bucket is full again */
	int64_t retry_ns;   /* denied: from now until one request is allowed; else 0 */
	int64_t ahead_ns;   /* the TAT to store, relative to now (internal) */
};

/* Pure: one request at now against a bucket whose TAT is ahead_ns past now,
 * for a limit > 0. Negative or over an hour: a full bucket; over the burst
 * (a lowered limit, or a clock read before another worker's update): an
 * empty one. Fills v (known is set). */
void incd_rl_decide(int64_t ahead_ns, uint32_t limit, struct incd_rl_verdict *v);

struct incd_rl_table;

/* Maps a table of at least nslots slots (rounded up to a power of two, at
 * least 64) in anonymous shared memory: processes forked afterwards share
 * it. NULL with errno set when mmap fails. Release with
 * incd_rl_table_free. */
struct incd_rl_table *incd_rl_table_new(size_t nslots);
void incd_rl_table_free(struct incd_rl_table *t);

/* Slots in t; bytes it maps. */
size_t incd_rl_table_slots(const struct incd_rl_table *t);
size_t incd_rl_table_bytes(const struct incd_rl_table *t);

/* Monotonic clock in nanoseconds (CLOCK_MONOTONIC: the same for every
 * process of the host, and never steps). */
int64_t incd_rl_clock(void);

/* Wall clock in nanoseconds since the Unix epoch (for the headers). */
int64_t incd_rl_unix_ns(void);

/* Takes one request of the key key_id (NUL-terminated; the API key id)
 * with limit requests per minute (> 0) at now (incd_rl_clock) and says
 * whether it is allowed. Denied requests take nothing. Safe from any number
 * of processes at once. */
void incd_rl_take(struct incd_rl_table *t, const char *key_id, uint32_t limit, int64_t now,
		  struct incd_rl_verdict *v);

/* Adds X-RateLimit-Limit, -Remaining, -Used, -Reset (and, when denied,
 * Retry-After) to r for a known verdict; unix_ns is the wall clock at the
 * decision. */
void incd_rl_headers(struct incd_response *r, const struct incd_rl_verdict *v, int64_t unix_ns);

/* Fills err with the 429 of a denied verdict, the body's rate_limit member
 * naming key_name (borrowed: it must outlive the response's writing).
 * Returns false, like incd_fail. */
bool incd_rl_fail(struct incd_error *err, const struct incd_rl_verdict *v, const char *key_name,
		  int64_t unix_ns);

/* Whole seconds, rounded up, of a positive duration; at least 1. */
int64_t incd_rl_ceil_seconds(int64_t ns);

#endif
