/* ULID generation: 26-character Crockford-base32 identifiers. */
#ifndef INCIDENTD_ULID_H
#define INCIDENTD_ULID_H

#include <stdbool.h>
#include <stdint.h>

#define INCD_ULID_LEN 26

/* Writes a new ULID (48-bit millisecond time + 80 random bits) and a NUL to
 * out. Aborts the process if the kernel cannot supply randomness. */
void incd_ulid_new(char out[INCD_ULID_LEN + 1]);

/* Encodes a given time and 10 random bytes; the pure core of incd_ulid_new,
 * exposed for tests. */
void incd_ulid_encode(uint64_t ms, const unsigned char rnd[10], char out[INCD_ULID_LEN + 1]);

/* True when s is exactly 26 upper-case Crockford-base32 characters whose
 * first character is 0-7 (so the time part fits 48 bits). */
bool incd_ulid_valid(const char *s);

#endif
