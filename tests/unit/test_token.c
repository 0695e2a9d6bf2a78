/* API tokens: shape, hashing (SHA-256 test vector), role scopes. */
#include <check.h>
#include <string.h>

#include "token.h"

START_TEST(new_tokens_are_well_formed_and_distinct)
{
	char a[INCD_TOKEN_LEN + 1], b[INCD_TOKEN_LEN + 1];
	incd_token_new(a);
	incd_token_new(b);
	ck_assert_uint_eq(strlen(a), 68);
	ck_assert(strncmp(a, "inc_", 4) == 0);
	ck_assert(incd_token_well_formed(a, strlen(a)));
	ck_assert_str_ne(a, b);
}
END_TEST

START_TEST(shape_checks)
{
	char t[INCD_TOKEN_LEN + 1];
	incd_token_new(t);
	ck_assert(!incd_token_well_formed(t, 67));
	t[10] = 'G';
	ck_assert(!incd_token_well_formed(t, 68));
	ck_assert(!incd_token_well_formed("abc", 3));
	incd_token_new(t);
	t[0] = 'x';
	ck_assert(!incd_token_well_formed(t, 68));
}
END_TEST

/* Three calls in a row: the digest context is kept between calls, so each
 * must start from a fresh state. */
START_TEST(sha256_vector)
{
	static const struct {
		const char *in, *hex;
	} cases[] = {
	    {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	    {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
	    {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	};
	unsigned char h[INCD_TOKEN_HASH_LEN];
	char hex[2 * INCD_TOKEN_HASH_LEN + 1];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		incd_token_hash(cases[i].in, strlen(cases[i].in), h);
		incd_hex(h, sizeof h, hex);
		ck_assert_str_eq(hex, cases[i].hex);
	}
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("token");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, new_tokens_are_well_formed_and_distinct);
	tcase_add_test(tc, shape_checks);
	tcase_add_test(tc, sha256_vector);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"
