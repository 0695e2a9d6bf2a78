/* API token generation (kernel randomness) and hashing (OpenSSL libcrypto). */
#include "token.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

void incd_hex(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

void incd_token_new(char out[INCD_TOKEN_LEN + 1])
{
	unsigned char rnd[32];
	if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
		abort();
	memcpy(out, INCD_TOKEN_PREFIX, 4);
	incd_hex(rnd, sizeof rnd, out + 4);
}

bool incd_token_well_formed(const char *s, size_t len)
{
	if (len != INCD_TOKEN_LEN || memcmp(s, INCD_TOKEN_PREFIX, 4) != 0)
		return false;
	for (size_t i = 4; i < len; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	return true;
}

/* Every request hashes its token. EVP_Digest(..., EVP_sha256(), ...) looks
 * the algorithm up in OpenSSL 3's provider tables and allocates a context
 * on each call: 3 % of a worker's profile under replays. The algorithm is
 * fetched and the context allocated once per process instead (workers are
 * single-threaded; both live as long as the process). */
void incd_token_hash(const char *s, size_t len, unsigned char out[INCD_TOKEN_HASH_LEN])
{
	static EVP_MD *md;
	static EVP_MD_CTX *ctx;
	unsigned int n = 0;
	if (md == NULL)
		md = EVP_MD_fetch(NULL, "SHA2-256", NULL);
	if (ctx == NULL)
		ctx = EVP_MD_CTX_new();
	if (md == NULL || ctx == NULL || EVP_DigestInit_ex(ctx, md, NULL) != 1 ||
	    EVP_DigestUpdate(ctx, s, len) != 1 || EVP_DigestFinal_ex(ctx, out, &n) != 1 ||
	    n != INCD_TOKEN_HASH_LEN)
		abort();
}
