/* Read-your-writes for reads served by a streaming replica
 * (docs/REPLICAS.md): per API key, the primary's WAL position after the
 * key's last write, shared by every worker of a host through a table in
 * shared memory that the master maps before it forks; and the pure
 * decision of where a read goes.
 *
 * The table keeps no keys: a key's slot is chosen by a hash of its id and
 * holds the highest position written by any key that hashes there. Two keys
 * sharing a slot only make each other's reads more careful (sent to the
 * primary, or checked against the replica, a little longer), never less:
 * nothing is ever evicted, and no lock is ever held. */
#ifndef INCIDENTD_READPOS_H
#define INCIDENTD_READPOS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* Parses PostgreSQL's text form of a pg_lsn ("16/B374D848": two hex
 * numbers of at most 8 digits) into *lsn. False on anything else. */
bool incd_lsn_parse(const char *s, uint64_t *lsn) INCD_MUST_CHECK;

struct incd_rp_table;

/* The size incidentd maps (32 KiB): keys beyond a few thousand that write
 * at once only share slots, which costs a few more reads on the primary. */
#define INCD_RP_SLOTS 4096

/* Maps a table of at least nslots slots (rounded up to a power of two, at
 * least 64; 8 bytes each) in anonymous shared memory: processes forked
 * afterwards share it. NULL with errno set when mmap fails. Release with
 * incd_rp_table_free. */
struct incd_rp_table *incd_rp_table_new(size_t nslots);
void incd_rp_table_free(struct incd_rp_table *t);
size_t incd_rp_table_slots(const struct incd_rp_table *t);

/* Records that key_id (NUL-terminated) wrote, and that the write is in the
 * primary's WAL before lsn. Safe from any number of processes at once; a
 * lower lsn than the slot holds changes nothing. */
void incd_rp_note_write(struct incd_rp_table *t, const char *key_id, uint64_t lsn);

/* The WAL position a replica must have replayed before it may serve key_id
 * a read: 0 when no key of its slot has written since the table was made. */
uint64_t incd_rp_needed(const struct incd_rp_table *t, const char *key_id);

/* Where one read goes. */
enum incd_read_via {
	INCD_READ_REPLICA, /* the replica is up and has replayed what the key needs */
	INCD_READ_ASK,	   /* the replica is up but may be behind: ask its replay position */
	INCD_READ_PRIMARY, /* the replica is down, or known to be behind */
};

/* Pure: where a read goes, given whether the replica is up, the position
 * the key needs (incd_rp_needed), the replica's replay position as last
 * seen (0 if never) and whether it may be asked again now. */
enum incd_read_via incd_read_via(bool replica_up, uint64_t needed, uint64_t replayed, bool may_ask);

#endif
