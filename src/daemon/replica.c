/* The read replica: where each read goes, the replica's ups and downs, and
 * the write positions that keep read-your-writes (docs/REPLICAS.md). */
#include "replica.h"

#include <stdint.h>

#include "log.h"
#include "metrics.h"
#include "util.h"

/* How long an unreachable replica is left alone before the next attempt
 * to connect (per worker). */
#define RETRY_US 1000000LL
/* How often a worker may ask the replica how far it has replayed, when a
 * read needs more than it last saw: a key that keeps writing while the
 * replica lags costs the replica at most one such question per interval,
 * and its reads go to the primary between them. */
#define ASK_US 5000LL

struct incd_replica {
	struct incd_db *db;
	struct incd_rp_table *positions;       /* the master's, shared by every worker */
	bool down;			       /* unreachable: reads go to the primary */
	long long retry_at_us;		       /* down: when the next attempt may be made */
	uint64_t replayed;		       /* replay position last seen on this connection */
	unsigned long replayed_gen;	       /* the replica connection it was seen on */
	long long asked_at_us;		       /* when it was last asked */
	struct incd_metrics_replica *counters; /* never NULL */
};

/* Where a handle's counts go before incd_replica_count_into. */
static struct incd_metrics_replica uncounted;

/* pg_current_wal_lsn() is past the commit record of every transaction this
 * session has committed (a commit waits for its WAL to be written), so a
 * replica that has replayed that far has the write. */
static struct incd_stmt wal_position = {"replica_wal_position", "SELECT pg_current_wal_lsn()::text",
					0, 0};
/* NULL on a server that is not in recovery: then nothing says it has the
 * write, and the read goes to the primary. */
static struct incd_stmt replay_position = {"replica_replay_position",
					   "SELECT pg_last_wal_replay_lsn()::text", 0, 0};

struct incd_replica *incd_replica_new(const char *conninfo, const char *public_url,
				      bool allow_owner, struct incd_rp_table *positions)
{
	if (conninfo == NULL || *conninfo == '\0')
		return NULL;
	struct incd_replica *r = incd_xcalloc(1, sizeof *r);
	r->db = incd_db_new_replica(conninfo, public_url, allow_owner);
	r->positions = positions;
	r->counters = &uncounted;
	return r;
}

void incd_replica_free(struct incd_replica *r)
{
	if (r == NULL)
		return;
	incd_db_free(r->db);
	free(r);
}

static void went_down(struct incd_replica *r, long long now)
{
	if (!r->down)
		incd_log(INCD_LOG_WARN, "read replica unavailable: reads go to the primary, "
					"retrying the replica every second");
	r->down = true;
	r->retry_at_us = now + RETRY_US;
}

/* Whether the replica can take a read now: up, or down and due for an
 * attempt that succeeds. */
static bool replica_up(struct incd_replica *r, long long now)
{
	struct incd_error err;

	if (!r->down)
		return true;
	if (now < r->retry_at_us)
		return false;
	if (!incd_db_ensure(r->db, &err)) {
		r->retry_at_us = now + RETRY_US;
		return false;
	}
	r->down = false;
	incd_log(INCD_LOG_INFO, "read replica reachable again: reads go to it");
	return true;
}

/* Asks the replica how far it has replayed. False when it could not say
 * (then it may be down: see went_down). */
static bool ask_replayed(struct incd_replica *r, long long now)
{
	struct pg_result *res = NULL;
	struct incd_error err;
	uint64_t lsn = 0;
	bool ok = false;

	r->asked_at_us = now;
	if (!incd_db_exec(r->db, &replay_position, NULL, NULL, NULL, &res, &err)) {
		if (!incd_db_connected(r->db))
			went_down(r, now);
		goto done;
	}
	const char *v = incd_db_ntuples(res) == 1 ? incd_db_value(res, 0, 0) : NULL;
	r->replayed = v != NULL && incd_lsn_parse(v, &lsn) ? lsn : 0;
	r->replayed_gen = incd_db_generation(r->db);
	ok = true;
done:
	incd_db_clear(res);
	return ok;
}

struct incd_db *incd_replica_pick(struct incd_replica *r, struct incd_db *primary,
				  const char *key_id)
{
	if (r == NULL)
		return primary;
	long long now = incd_now_us();
	bool up = replica_up(r, now);
	/* A replica restarted (or replaced) may start replaying from further
	 * back than this worker last saw: a new connection starts over. */
	if (r->replayed_gen != incd_db_generation(r->db)) {
		r->replayed_gen = incd_db_generation(r->db);
		r->replayed = 0;
	}
	uint64_t needed = key_id != NULL ? incd_rp_needed(r->positions, key_id) : 0;
	bool may_ask = now - r->asked_at_us >= ASK_US;
	enum incd_read_via via = incd_read_via(up, needed, r->replayed, may_ask);

	if (via == INCD_READ_ASK)
		via = ask_replayed(r, now) ? incd_read_via(true, needed, r->replayed, false)
					   : INCD_READ_PRIMARY;
	if (via == INCD_READ_REPLICA) {
		incd_metrics_inc(&r->counters->reads);
		return r->db;
	}
	incd_metrics_inc(&r->counters->fallbacks);
	return primary;
}

bool incd_replica_failed(struct incd_replica *r, const struct incd_error *err)
{
	if (r == NULL || err->status != 503)
		return false;
	incd_metrics_inc(&r->counters->fallbacks);
	if (!incd_db_connected(r->db))
		went_down(r, incd_now_us());
	return true;
}

void incd_replica_wrote(struct incd_replica *r, struct incd_db *primary, const char *key_id)
{
	struct pg_result *res = NULL;
	struct incd_error err;
	uint64_t lsn;

	if (r == NULL || key_id == NULL)
		return;
	if (!incd_db_exec(primary, &wal_position, NULL, NULL, NULL, &res, &err) ||
	    incd_db_ntuples(res) != 1 || !incd_lsn_parse(incd_db_value(res, 0, 0), &lsn)) {
		incd_log(INCD_LOG_WARN,
			 "could not read the WAL position of key %s's write: its "
			 "next reads may not see it until the replica replays it",
			 key_id);
		goto done;
	}
	incd_rp_note_write(r->positions, key_id, lsn);
done:
	incd_db_clear(res);
}

void incd_replica_count_into(struct incd_replica *r, struct incd_metrics_replica *counters)
{
	if (r == NULL)
		return;
	r->counters = counters;
	incd_db_count_into(r->db, &counters->db);
}
