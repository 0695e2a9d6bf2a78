/* ULID generation. No Debian package ships a ULID or Crockford-base32
 * encoder for C, and the format is 20 lines, so it lives here. */
#include "ulid.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "random.h"

static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

void incd_ulid_encode(uint64_t ms, const unsigned char rnd[10], char out[INCD_ULID_LEN + 1])
{
	/* 128 bits = 48 time bits + 80 random bits, written 5 bits at a time
	 * from the most significant end; 26 * 5 = 130, so the first char
	 * carries only 3 bits. */
	unsigned char b[16];
	for (int i = 0; i < 6; i++)
		b[i] = (unsigned char)(ms >> (40 - 8 * i));
	memcpy(b + 6, rnd, 10);

	for (int i = 0; i < INCD_ULID_LEN; i++) {
		int bit = 130 - 5 * (i + 1); /* position of this char's lowest bit */
		unsigned v = 0;
		for (int k = 4; k >= 0; k--) {
			int pos = bit + k; /* bit index counted from the least significant */
			unsigned bitval = 0;
			if (pos < 128) {
				int byte = 15 - pos / 8;
				bitval = (b[byte] >> (pos % 8)) & 1u;
			}
			v = (v << 1) | bitval;
		}
		out[i] = crockford[v];
	}
	out[INCD_ULID_LEN] = '\0';
}

void incd_ulid_new(char out[INCD_ULID_LEN + 1])
{
	unsigned char rnd[10];
	struct timespec ts;

	incd_random_bytes(rnd, sizeof rnd);
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
	incd_ulid_encode(ms, rnd, out);
}

bool incd_ulid_valid(const char *s)
{
	size_t n = 0;
	if (s == NULL)
		return false;
	for (; s[n] != '\0'; n++) {
		if (n >= INCD_ULID_LEN || strchr(crockford, s[n]) == NULL)
			return false;
	}
	return n == INCD_ULID_LEN && s[0] <= '7';
}
