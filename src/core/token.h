/* API tokens: generation and hashing. Only the SHA-256 of a token is ever
 * stored or compared. */
#ifndef INCIDENTD_TOKEN_H
#define INCIDENTD_TOKEN_H

#include <stdbool.h>
#include <stddef.h>

#define INCD_TOKEN_PREFIX "inc_"
#define INCD_TOKEN_LEN (4 + 64) /* "inc_" + 64 lower-case hex digits */
#define INCD_TOKEN_HASH_LEN 32	/* SHA-256 */

/* Writes a new random token and a NUL to out. Aborts if no randomness. */
void incd_token_new(char out[INCD_TOKEN_LEN + 1]);

/* True when s (len bytes) has the token shape: "inc_" + 64 lower-case hex. */
bool incd_token_well_formed(const char *s, size_t len);

/* SHA-256 of the len bytes at s. */
void incd_token_hash(const char *s, size_t len, unsigned char out[INCD_TOKEN_HASH_LEN]);

/* Lower-case hex of n bytes into out, which must hold 2n+1 chars. */
void incd_hex(const unsigned char *in, size_t n, char *out);

#endif
