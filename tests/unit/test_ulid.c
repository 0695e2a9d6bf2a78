/* ULID encoding against the spec's vectors, shape and uniqueness; the
 * random pool behind it across fork(). */
#include <check.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "random.h"
#include "ulid.h"

START_TEST(known_vectors)
{
	unsigned char zero[10] = {0}, ones[10];
	char out[INCD_ULID_LEN + 1];
	memset(ones, 0xff, sizeof ones);

	incd_ulid_encode(1469918176385ULL, zero, out);
	ck_assert_str_eq(out, "01ARYZ6S410000000000000000");
	incd_ulid_encode(281474976710655ULL, ones, out);
	ck_assert_str_eq(out, "7ZZZZZZZZZZZZZZZZZZZZZZZZZ");
	incd_ulid_encode(0, zero, out);
	ck_assert_str_eq(out, "00000000000000000000000000");
}
END_TEST

START_TEST(new_ids_are_valid_unique_and_time_ordered)
{
	char a[INCD_ULID_LEN + 1], b[INCD_ULID_LEN + 1];
	incd_ulid_new(a);
	incd_ulid_new(b);
	ck_assert(incd_ulid_valid(a));
	ck_assert(incd_ulid_valid(b));
	ck_assert_str_ne(a, b);
	ck_assert(memcmp(a, b, 8) <= 0); /* time prefix never goes backwards here */
}
END_TEST

START_TEST(validation)
{
	ck_assert(incd_ulid_valid("01FDAG4SAP5TYPT98WGR2N7W91"));
	ck_assert(!incd_ulid_valid("01FDAG4SAP5TYPT98WGR2N7W9"));   /* 25 chars */
	ck_assert(!incd_ulid_valid("01FDAG4SAP5TYPT98WGR2N7W911")); /* 27 chars */
	ck_assert(!incd_ulid_valid("01FDAG4SAP5TYPT98WGR2N7W9I"));  /* I is not Crockford */
	ck_assert(!incd_ulid_valid("01fdag4sap5typt98wgr2n7w91"));  /* lower case */
	ck_assert(!incd_ulid_valid("81FDAG4SAP5TYPT98WGR2N7W91"));  /* time overflow */
	ck_assert(!incd_ulid_valid(""));
	ck_assert(!incd_ulid_valid(NULL));
}
END_TEST

/* Workers are forked from a master: a child handing out the bytes its
 * parent had buffered would mint the parent's next ids. */
START_TEST(fork_child_draws_fresh_bytes)
{
	unsigned char first[8], mine[32], childs[32];
	int fds[2];

	incd_random_bytes(first, sizeof first); /* the pool is full now */
	ck_assert_int_eq(pipe(fds), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		incd_random_bytes(childs, sizeof childs);
		_exit(write(fds[1], childs, sizeof childs) == (ssize_t)sizeof childs ? 0 : 1);
	}
	incd_random_bytes(mine, sizeof mine);
	ck_assert_int_eq(read(fds[0], childs, sizeof childs), (ssize_t)sizeof childs);
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert(memcmp(mine, childs, sizeof mine) != 0);
	close(fds[0]);
	close(fds[1]);
}
END_TEST

START_TEST(draws_do_not_repeat)
{
	/* More than one pool's worth, across refills. */
	unsigned char prev[16], cur[16];
	incd_random_bytes(prev, sizeof prev);
	for (int i = 0; i < 1000; i++) {
		incd_random_bytes(cur, sizeof cur);
		ck_assert(memcmp(prev, cur, sizeof cur) != 0);
		memcpy(prev, cur, sizeof cur);
	}
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("ulid");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, known_vectors);
	tcase_add_test(tc, new_ids_are_valid_unique_and_time_ordered);
	tcase_add_test(tc, validation);
	tcase_add_test(tc, fork_child_draws_fresh_bytes);
	tcase_add_test(tc, draws_do_not_repeat);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"
