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

void incd_token_hash(const char *s, size_t len, unsigned char out[INCD_TOKEN_HASH_LEN])
{
	unsigned int n = 0;
	if (EVP_Digest(s, len, out, &n, EVP_sha256(), NULL) != 1 || n != INCD_TOKEN_HASH_LEN)
		abort();
}
