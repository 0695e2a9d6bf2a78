/* Per-key WAL positions in shared memory, and where a read goes. */
#include "readpos.h"

#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>

struct incd_rp_table {
	size_t mask;		 /* slots - 1; slots is a power of two */
	size_t bytes;		 /* what the mapping holds, header included */
	_Atomic uint64_t slot[]; /* the highest LSN written by a key of the slot */
};

bool incd_lsn_parse(const char *s, uint64_t *lsn)
{
	uint64_t half[2] = {0, 0};
	size_t digits = 0;
	int part = 0;

	if (s == NULL)
		return false;
	for (const char *p = s; *p != '\0'; p++) {
		unsigned v;
		if (*p == '/' && part == 0 && digits > 0) {
			part = 1;
			digits = 0;
			continue;
		}
		if (*p >= '0' && *p <= '9')
			v = (unsigned)(*p - '0');
		else if (*p >= 'A' && *p <= 'F')
			v = (unsigned)(*p - 'A' + 10);
		else if (*p >= 'a' && *p <= 'f')
			v = (unsigned)(*p - 'a' + 10);
		else
			return false;
		if (++digits > 8)
			return false;
		half[part] = half[part] << 4 | v;
	}
	if (part != 1 || digits == 0)
		return false;
	*lsn = half[0] << 32 | half[1];
	return true;
}

struct incd_rp_table *incd_rp_table_new(size_t nslots)
{
	size_t slots = 64;
	while (slots < nslots && slots < ((size_t)1 << 30))
		slots <<= 1;
	size_t bytes = sizeof(struct incd_rp_table) + slots * sizeof(uint64_t);
	struct incd_rp_table *t =
	    mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (t == MAP_FAILED)
		return NULL;
	/* Anonymous mappings are zero-filled: every slot starts at 0. */
	t->mask = slots - 1;
	t->bytes = bytes;
	return t;
}

void incd_rp_table_free(struct incd_rp_table *t)
{
	if (t != NULL)
		munmap(t, t->bytes);
}

size_t incd_rp_table_slots(const struct incd_rp_table *t)
{
	return t->mask + 1;
}

/* FNV-1a: the ids are ULID-like text, so any decent spread will do. */
static _Atomic uint64_t *slot_of(const struct incd_rp_table *t, const char *key_id)
{
	uint64_t h = 14695981039346656037ULL;
	for (const unsigned char *p = (const unsigned char *)key_id; *p != '\0'; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return (_Atomic uint64_t *)&t->slot[h & t->mask];
}

void incd_rp_note_write(struct incd_rp_table *t, const char *key_id, uint64_t lsn)
{
	_Atomic uint64_t *s = slot_of(t, key_id);
	uint64_t cur = atomic_load(s);
	while (cur < lsn && !atomic_compare_exchange_weak(s, &cur, lsn))
		;
}

uint64_t incd_rp_needed(const struct incd_rp_table *t, const char *key_id)
{
	return atomic_load(slot_of(t, key_id));
}

enum incd_read_via incd_read_via(bool replica_up, uint64_t needed, uint64_t replayed, bool may_ask)
{
	if (!replica_up)
		return INCD_READ_PRIMARY;
	if (needed <= replayed)
		return INCD_READ_REPLICA;
	return may_ask ? INCD_READ_ASK : INCD_READ_PRIMARY;
}
