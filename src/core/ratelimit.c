/* Per-key token buckets in shared memory (ratelimit.h; docs/DESIGN.md,
 * "Rate limits").
 *
 * The bucket as GCRA. A key with limit L per minute has the emission
 * interval T = 60 s / L and the burst B = L * T (60 s, less what the
 * division drops). Its state is the theoretical arrival time TAT: the
 * instant its bucket is full again. A request at now is allowed when
 * max(TAT, now) + T - now <= B, and then TAT becomes max(TAT, now) + T.
 * That is exactly a bucket of L tokens refilled at L/60 per second: the
 * tokens left are (B - (TAT - now)) / T. One number per key, so one
 * compare-and-swap updates it.
 *
 * The table. An array of 64-byte slots (one cache line each, so workers
 * busy with different keys do not share lines), open addressing with
 * linear probing over at most PROBES slots from the key's home slot. A
 * slot holds two 64-bit atomics:
 *
 *   key   the key id's 64-bit fingerprint (never 0), or 0;
 *   word  CLAIMED (bit 63) | tag (bits 58-62: the same bits of the
 *         fingerprint) | TAT (bits 0-57: CLOCK_MONOTONIC nanoseconds
 *         modulo 2^58, about 9 years), or 0 for a slot no key ever
 *         claimed.
 *
 * A slot is the key's when key matches and word carries the key's tag.
 * Requests of that key update word by CAS; nothing else is written.
 *
 * Reuse. A slot whose TAT has passed holds a full bucket, which is what a
 * key without a slot has: it may go to another key and nothing is lost.
 * A new key takes the first such slot on its path (after making sure the
 * key has no slot further on) in two CASes: word (old word -> its tag and
 * TAT), then key (old key -> its fingerprint). Between the two the slot
 * is nobody's: the old key's requests see a foreign tag, the new key's a
 * foreign key. A worker killed between them leaves it so until the TAT
 * it wrote passes (one emission interval): then it is reusable again. So
 * no state ever waits for a process, and no slot stays stuck.
 *
 * What the races can cost (all need two workers within a few
 * instructions of each other): a key's first request racing its own
 * insertion elsewhere may land in a second slot (that request is counted
 * there, the next ones in the first slot on the path); a slot taken from
 * an idle key by another key whose tag is the same (1 in 32) may count one
 * of the idle key's requests against it. Never more than a request each.
 *
 * Table full: when every slot on a key's path holds another key's
 * unfinished bucket, the request is allowed and no headers are sent (the
 * spec: headers are omitted rather than guessed). The worker logs it. */
#include "ratelimit.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define PROBES 32
#define MIN_SLOTS 64
#define TAT_BITS 58
#define TAT_MASK ((UINT64_C(1) << TAT_BITS) - 1)
#define TAG_MASK (UINT64_C(0x1f) << TAT_BITS)
#define CLAIMED (UINT64_C(1) << 63)
/* No TAT is ever set more than a window ahead of the clock. One further
 * ahead than this is a TAT from before the 58 bits of nanoseconds wrapped
 * (a slot idle for 9 years): long past, a full bucket. Between the two it
 * is a TAT set by a worker whose clock was read after ours. */
#define STALE_NS (3600 * 1000000000LL)
/* Attempts of one request before it is let through unmetered: each failed
 * one means another worker's CAS succeeded, so it is never reached but
 * under a contention no host has. */
#define ATTEMPTS 64

struct slot {
	_Atomic uint64_t key;
	_Atomic uint64_t word;
	char pad[48];
};

_Static_assert(sizeof(struct slot) == 64, "a slot is one cache line");

struct incd_rl_table {
	uint64_t nslots; /* a power of two */
	uint64_t bytes;	 /* what was mapped */
	char pad[48];
	struct slot slots[];
};

void incd_rl_decide(int64_t ahead, uint32_t limit, struct incd_rl_verdict *v)
{
	int64_t t = INCD_RL_WINDOW_NS / limit;
	int64_t burst = t * (int64_t)limit;

	if (ahead < 0 || ahead > STALE_NS)
		ahead = 0;
	/* Over the burst: the limit went down since the TAT was set, or now
	 * was read before another worker set it. An empty bucket either way. */
	if (ahead > burst)
		ahead = burst;
	v->known = true;
	v->limit = limit;
	if (ahead + t > burst) {
		v->allowed = false;
		v->remaining = 0;
		v->reset_ns = ahead;
		v->retry_ns = ahead + t - burst;
		v->ahead_ns = ahead;
		return;
	}
	v->allowed = true;
	v->ahead_ns = ahead + t;
	v->remaining = (uint32_t)((burst - v->ahead_ns) / t);
	v->reset_ns = v->ahead_ns;
	v->retry_ns = 0;
}

static size_t round_slots(size_t n)
{
	size_t p = MIN_SLOTS;
	while (p < n && p < ((size_t)1 << 30))
		p <<= 1;
	return p;
}

struct incd_rl_table *incd_rl_table_new(size_t nslots)
{
	size_t n = round_slots(nslots);
	size_t bytes = sizeof(struct incd_rl_table) + n * sizeof(struct slot);
	/* Shared and anonymous: zero-filled (every slot free), inherited by
	 * every worker the master forks, gone with the last of them. */
	void *mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return NULL;
	struct incd_rl_table *t = mem;
	t->nslots = n;
	t->bytes = bytes;
	return t;
}

void incd_rl_table_free(struct incd_rl_table *t)
{
	if (t != NULL)
		munmap(t, t->bytes);
}

size_t incd_rl_table_slots(const struct incd_rl_table *t)
{
	return t->nslots;
}

size_t incd_rl_table_bytes(const struct incd_rl_table *t)
{
	return t->bytes;
}

int64_t incd_rl_clock(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t incd_rl_unix_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= UINT64_C(0xff51afd7ed558ccd);
	x ^= x >> 33;
	x *= UINT64_C(0xc4ceb9fe1a85ec53);
	x ^= x >> 33;
	return x;
}

/* Key ids are ULIDs the service generated, not chosen by clients, so a
 * fast non-cryptographic hash is enough; two keys share a bucket only if
 * their 64-bit fingerprints collide. */
static uint64_t fingerprint(const char *id)
{
	size_t len = strlen(id);
	uint64_t h = UINT64_C(0x9e3779b97f4a7c15) ^ len;
	while (len > 0) {
		uint64_t chunk = 0;
		size_t n = len < 8 ? len : 8;
		memcpy(&chunk, id, n);
		h = mix(h ^ chunk);
		id += n;
		len -= n;
	}
	return h != 0 ? h : 1;
}

/* How far the word's TAT is ahead of now: the 58-bit difference, signed. */
static int64_t ahead_of(uint64_t word, int64_t now)
{
	uint64_t d = ((word & TAT_MASK) - (uint64_t)now) & TAT_MASK;
	return d & (UINT64_C(1) << (TAT_BITS - 1)) ? (int64_t)d - ((int64_t)1 << TAT_BITS)
						   : (int64_t)d;
}

static uint64_t word_of(uint64_t tag, int64_t now, int64_t ahead)
{
	return CLAIMED | tag | ((uint64_t)(now + ahead) & TAT_MASK);
}

/* A slot whose bucket is full (or was never used) can go to another key. */
static bool reusable(uint64_t word, int64_t now)
{
	int64_t a = ahead_of(word, now);
	return word == 0 || a <= 0 || a > STALE_NS;
}

struct probe {
	struct slot *found; /* the key's slot, with its word in found_word */
	uint64_t found_word;
	struct slot *free; /* else the first reusable slot, with what it held */
	uint64_t free_key, free_word;
};

/* Walks the key's path: its slot, else the first reusable one. A slot no
 * key ever claimed ends the path: a key is always put in the first
 * reusable slot of its path, and such a slot always is one. */
static void probe(struct incd_rl_table *t, uint64_t fp, uint64_t tag, int64_t now, struct probe *p)
{
	size_t mask = t->nslots - 1;
	size_t home = fp & mask;
	size_t n = t->nslots < PROBES ? t->nslots : PROBES;

	memset(p, 0, sizeof *p);
	for (size_t i = 0; i < n; i++) {
		struct slot *s = &t->slots[(home + i) & mask];
		uint64_t w = atomic_load(&s->word);
		uint64_t k = w != 0 ? atomic_load(&s->key) : 0;
		if (k == fp && (w & TAG_MASK) == tag) {
			p->found = s;
			p->found_word = w;
			return;
		}
		if (p->free == NULL && reusable(w, now)) {
			p->free = s;
			p->free_key = k;
			p->free_word = w;
		}
		if (w == 0)
			return;
	}
}

/* One request against the key's own slot. False when the slot stopped
 * being the key's (it was reused): probe again. */
static bool update(struct slot *s, uint64_t w, uint64_t tag, uint32_t limit, int64_t now,
		   struct incd_rl_verdict *v)
{
	for (;;) {
		if ((w & TAG_MASK) != tag || !(w & CLAIMED))
			return false;
		incd_rl_decide(ahead_of(w, now), limit, v);
		if (!v->allowed)
			return true;
		if (atomic_compare_exchange_weak(&s->word, &w, word_of(tag, now, v->ahead_ns)))
			return true;
	}
}

/* Takes a reusable slot for the key, with this request in its bucket.
 * False when another worker changed the slot first: probe again. */
static bool claim(const struct probe *p, uint64_t fp, uint64_t tag, uint32_t limit, int64_t now,
		  struct incd_rl_verdict *v)
{
	uint64_t w = p->free_word;
	uint64_t k = p->free_key;

	incd_rl_decide(0, limit, v);
	if (!atomic_compare_exchange_strong(&p->free->word, &w, word_of(tag, now, v->ahead_ns)))
		return false;
	/* Fails only when a worker that claimed the slot earlier and stalled
	 * writes its key now: the slot is then nobody's until our TAT passes,
	 * and this request was judged as a full bucket's first, as it is. */
	atomic_compare_exchange_strong(&p->free->key, &k, fp);
	return true;
}

void incd_rl_take(struct incd_rl_table *t, const char *key_id, uint32_t limit, int64_t now,
		  struct incd_rl_verdict *v)
{
	uint64_t fp = fingerprint(key_id);
	uint64_t tag = fp & TAG_MASK;
	struct probe p;

	for (int i = 0; i < ATTEMPTS; i++) {
		probe(t, fp, tag, now, &p);
		if (p.found != NULL) {
			if (update(p.found, p.found_word, tag, limit, now, v))
				return;
		} else if (p.free == NULL) {
			break;
		} else if (claim(&p, fp, tag, limit, now, v)) {
			return;
		}
	}
	memset(v, 0, sizeof *v);
}

int64_t incd_rl_ceil_seconds(int64_t ns)
{
	int64_t s = (ns + 999999999) / 1000000000;
	return s > 0 ? s : 1;
}

/* Appends the decimal digits of v at p; returns the end. */
static char *put_uint(char *p, uint64_t v)
{
	char digits[20];
	size_t n = 0;
	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	while (n > 0)
		*p++ = digits[--n];
	return p;
}

static char *put_str(char *p, const char *s)
{
	size_t n = strlen(s);
	memcpy(p, s, n);
	return p + n;
}

/* Every request of a limited key pays for this: written by hand into one
 * block (printf-style formatting of the four lines cost 1.3 us a request,
 * this about 0.1; tests/bench/ratelimit_bench.c). */
void incd_rl_headers(struct incd_response *r, const struct incd_rl_verdict *v, int64_t unix_ns)
{
	char block[256];
	char *p = block;

	p = put_str(p, "X-RateLimit-Limit: ");
	p = put_uint(p, v->limit);
	p = put_str(p, ", ");
	p = put_uint(p, v->limit);
	p = put_str(p, ";window=60\r\nX-RateLimit-Remaining: ");
	p = put_uint(p, v->remaining);
	p = put_str(p, "\r\nX-RateLimit-Used: ");
	p = put_uint(p, v->limit - v->remaining);
	p = put_str(p, "\r\nX-RateLimit-Reset: ");
	p = put_uint(p, (uint64_t)((unix_ns + v->reset_ns + 999999999) / 1000000000));
	p = put_str(p, "\r\n");
	if (!v->allowed) {
		p = put_str(p, "Retry-After: ");
		p = put_uint(p, (uint64_t)incd_rl_ceil_seconds(v->retry_ns));
		p = put_str(p, "\r\n");
	}
	incd_buf_add(&r->headers, block, (size_t)(p - block));
}

bool incd_rl_fail(struct incd_error *err, const struct incd_rl_verdict *v, const char *key_name,
		  int64_t unix_ns)
{
	incd_fail(err, 429, "too_many_requests", NULL,
		  "Too many requests hit the API too quickly. We recommend an exponential "
		  "backoff of your requests.");
	err->rate_limit.name = key_name;
	err->rate_limit.limit = v->limit;
	err->rate_limit.remaining = v->remaining;
	err->rate_limit.retry_after_unix = (unix_ns + v->retry_ns + 999999999) / 1000000000;
	return false;
}
