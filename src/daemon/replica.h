/* Reads from a streaming replica (--read-database-url; docs/REPLICAS.md):
 * the worker's second connection, which GETs read through when the replica
 * is up and has replayed the calling key's last write; the primary serves
 * everything else, and every read while the replica is down.
 *
 * A NULL struct incd_replica (no read URL) is valid everywhere and sends
 * everything to the primary, with no work added. */
#ifndef INCIDENTD_REPLICA_H
#define INCIDENTD_REPLICA_H

#include <stdbool.h>

#include "db.h"
#include "error.h"
#include "readpos.h"

struct incd_replica;

/* Returns an owned handle for the replica at conninfo (nothing is connected
 * yet; the first read connects), or NULL when conninfo is NULL or "".
 * positions is the host's shared table of key write positions (borrowed:
 * it must outlive the handle). Free with incd_replica_free. */
struct incd_replica *incd_replica_new(const char *conninfo, const char *public_url,
				      bool allow_owner, struct incd_rp_table *positions);
void incd_replica_free(struct incd_replica *r);

/* The connection a read by key_id should use: r's replica when it is up
 * (or due for a reconnect attempt, which this makes) and has replayed the
 * key's last write (asking it, at most every few milliseconds, when it may
 * not have), else primary. Borrowed: both stay r's and the caller's. */
struct incd_db *incd_replica_pick(struct incd_replica *r, struct incd_db *primary,
				  const char *key_id);

/* A read through the replica failed with err: whether to run it again on
 * the primary (true for a 503: the replica is unreachable, or cancelled the
 * statement for a conflict with recovery). An unreachable replica is left
 * alone for a second before the next attempt; its going and coming back
 * are logged once each. */
bool incd_replica_failed(struct incd_replica *r, const struct incd_error *err) INCD_MUST_CHECK;

/* A write by key_id succeeded on primary: records the primary's WAL
 * position after it (one statement on the primary), so that the key's
 * reads on any worker of the host go to the replica only once it has
 * replayed that far. If the position cannot be read (the connection broke
 * right after the write), that is logged and this write is not waited for. */
void incd_replica_wrote(struct incd_replica *r, struct incd_db *primary, const char *key_id);

/* Counts r's reads, fallbacks to the primary and connection events into
 * counters (borrowed: the worker slot's block of the shared metrics
 * table) from now on; until then they go to a private block nobody reads.
 * Nothing when r is NULL. */
struct incd_metrics_replica;
void incd_replica_count_into(struct incd_replica *r, struct incd_metrics_replica *counters);

#endif
