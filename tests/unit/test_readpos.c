/* Read-your-writes positions: LSN text, the shared table (a key's
 * position, keys apart, max wins, processes sharing it) and where a read
 * goes. */
#include "readpos.h"

#include <check.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

START_TEST(lsn_parse)
{
	uint64_t v = 1;
	ck_assert(incd_lsn_parse("0/0", &v));
	ck_assert_uint_eq(v, 0);
	ck_assert(incd_lsn_parse("16/B374D848", &v));
	ck_assert_uint_eq(v, 0x16B374D848ULL);
	ck_assert(incd_lsn_parse("ffffffff/FFFFFFFF", &v));
	ck_assert_uint_eq(v, UINT64_MAX);
	/* The order of positions is the order of the numbers. */
	uint64_t a, b;
	ck_assert(incd_lsn_parse("0/FFFFFFFF", &a) && incd_lsn_parse("1/0", &b));
	ck_assert(a < b);

	v = 7;
	const char *bad[] = {"",    "/",	   "0/",	  "/0",	  "0",	  "0/0/0",
			     "1/G", "123456789/0", "0/123456789", " 0/0", "0/0 ", "-1/0"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		ck_assert_msg(!incd_lsn_parse(bad[i], &v), "accepted '%s'", bad[i]);
	ck_assert(!incd_lsn_parse(NULL, &v));
	ck_assert_uint_eq(v, 7);
}
END_TEST

START_TEST(table_keys)
{
	struct incd_rp_table *t = incd_rp_table_new(100);
	ck_assert_ptr_nonnull(t);
	ck_assert_uint_eq(incd_rp_table_slots(t), 128);
	ck_assert_uint_eq(incd_rp_needed(t, "01KEYA"), 0);

	incd_rp_note_write(t, "01KEYA", 500);
	ck_assert_uint_eq(incd_rp_needed(t, "01KEYA"), 500);
	/* An older position (a slower worker's) never lowers it. */
	incd_rp_note_write(t, "01KEYA", 300);
	ck_assert_uint_eq(incd_rp_needed(t, "01KEYA"), 500);
	incd_rp_note_write(t, "01KEYA", 900);
	ck_assert_uint_eq(incd_rp_needed(t, "01KEYA"), 900);

	/* Most other keys are untouched; one sharing the slot is only more
	 * careful. Of 1000 keys, no more than a few dozen share A's slot. */
	int shared = 0;
	for (int i = 0; i < 1000; i++) {
		char key[32];
		snprintf(key, sizeof key, "01KEY%04d", i);
		uint64_t n = incd_rp_needed(t, key);
		ck_assert(n == 0 || n == 900);
		shared += n == 900;
	}
	ck_assert_int_lt(shared, 40);
	incd_rp_table_free(t);
	incd_rp_table_free(NULL);
}
END_TEST

/* Workers are processes: a write one of them records is what the next
 * read on any other must wait for. */
START_TEST(table_shared_across_fork)
{
	struct incd_rp_table *t = incd_rp_table_new(INCD_RP_SLOTS);
	ck_assert_uint_eq(incd_rp_table_slots(t), INCD_RP_SLOTS);
	pid_t pids[4];
	for (int i = 0; i < 4; i++) {
		pids[i] = fork();
		ck_assert_int_ge(pids[i], 0);
		if (pids[i] == 0) {
			for (uint64_t v = 1; v <= 20000; v++)
				incd_rp_note_write(t, "01SHARED", v * 4 + (uint64_t)i);
			_exit(0);
		}
	}
	for (int i = 0; i < 4; i++) {
		int st;
		ck_assert_int_eq(waitpid(pids[i], &st, 0), pids[i]);
		ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	ck_assert_uint_eq(incd_rp_needed(t, "01SHARED"), 20000 * 4 + 3);
	incd_rp_table_free(t);
}
END_TEST

START_TEST(read_via)
{
	/* Down: the primary, whatever the positions. */
	ck_assert_int_eq(incd_read_via(false, 0, 0, true), INCD_READ_PRIMARY);
	ck_assert_int_eq(incd_read_via(false, 0, 100, false), INCD_READ_PRIMARY);
	/* A key that never wrote (or whose write is replayed): the replica,
	 * with no question asked. */
	ck_assert_int_eq(incd_read_via(true, 0, 0, true), INCD_READ_REPLICA);
	ck_assert_int_eq(incd_read_via(true, 100, 100, true), INCD_READ_REPLICA);
	ck_assert_int_eq(incd_read_via(true, 100, 101, false), INCD_READ_REPLICA);
	/* Behind as last seen: ask, or when just asked, the primary. */
	ck_assert_int_eq(incd_read_via(true, 101, 100, true), INCD_READ_ASK);
	ck_assert_int_eq(incd_read_via(true, 101, 100, false), INCD_READ_PRIMARY);
	ck_assert_int_eq(incd_read_via(true, 1, 0, false), INCD_READ_PRIMARY);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("readpos");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, lsn_parse);
	tcase_add_test(tc, table_keys);
	tcase_add_test(tc, table_shared_across_fork);
	tcase_add_test(tc, read_via);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"
