/* Socket activation: which LISTEN_PID/LISTEN_FDS values hand incidentd a
 * socket, and which fds it accepts as one. */
#include <check.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "activation.h"

static char err[256];

static enum incd_activation parse(const char *pid, const char *fds)
{
	err[0] = '\0';
	return incd_activation_parse(pid, fds, 4242, err, sizeof err);
}

START_TEST(one_socket_for_this_pid)
{
	ck_assert_int_eq(parse("4242", "1"), INCD_ACTIVATION_ONE);
}
END_TEST

START_TEST(nothing_without_both_variables)
{
	ck_assert_int_eq(parse(NULL, NULL), INCD_ACTIVATION_NONE);
	ck_assert_int_eq(parse("4242", NULL), INCD_ACTIVATION_NONE);
	ck_assert_int_eq(parse(NULL, "1"), INCD_ACTIVATION_NONE);
}
END_TEST

START_TEST(variables_of_another_process_are_not_ours)
{
	/* Inherited from a parent that was activated itself. */
	ck_assert_int_eq(parse("4241", "1"), INCD_ACTIVATION_NONE);
	ck_assert_int_eq(parse("42420", "1"), INCD_ACTIVATION_NONE);
}
END_TEST

START_TEST(zero_sockets_is_none)
{
	ck_assert_int_eq(parse("4242", "0"), INCD_ACTIVATION_NONE);
}
END_TEST

START_TEST(more_than_one_socket_is_refused)
{
	ck_assert_int_eq(parse("4242", "2"), INCD_ACTIVATION_ERROR);
	ck_assert_ptr_nonnull(strstr(err, "got 2 sockets"));
}
END_TEST

START_TEST(malformed_values_are_refused)
{
	static const char *const bad[] = {"",	"x",  "-1", "+1",
					  " 1", "1 ", "1x", "99999999999999999999"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_msg(parse("4242", bad[i]) == INCD_ACTIVATION_ERROR, "LISTEN_FDS '%s'",
			      bad[i]);
		ck_assert_ptr_nonnull(strstr(err, "invalid LISTEN_FDS"));
		ck_assert_msg(parse(bad[i], "1") == INCD_ACTIVATION_ERROR, "LISTEN_PID '%s'",
			      bad[i]);
		ck_assert_ptr_nonnull(strstr(err, "invalid LISTEN_PID"));
	}
	ck_assert_int_eq(parse("0", "1"), INCD_ACTIVATION_ERROR);
}
END_TEST

START_TEST(a_listening_stream_socket_is_accepted)
{
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	ck_assert_int_ge(fd, 0);
	/* An abstract address: nothing to clean up on disk. */
	snprintf(sa.sun_path + 1, sizeof sa.sun_path - 1, "incd-test-activation-%d", (int)getpid());
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	ck_assert(!incd_activation_fd_ok(fd, err, sizeof err));
	ck_assert_ptr_nonnull(strstr(err, "not a listening stream socket"));
	ck_assert_int_eq(listen(fd, 4), 0);
	ck_assert(incd_activation_fd_ok(fd, err, sizeof err));
	close(fd);
}
END_TEST

START_TEST(other_fds_are_refused)
{
	int pair[2], dgram = socket(AF_UNIX, SOCK_DGRAM, 0);
	ck_assert_int_eq(pipe(pair), 0);
	ck_assert(!incd_activation_fd_ok(pair[0], err, sizeof err));
	ck_assert_ptr_nonnull(strstr(err, "is not a socket"));
	ck_assert(!incd_activation_fd_ok(dgram, err, sizeof err));
	ck_assert_ptr_nonnull(strstr(err, "not a listening stream socket"));
	close(pair[0]);
	close(pair[1]);
	close(dgram);
	ck_assert(!incd_activation_fd_ok(pair[0], err, sizeof err));
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("activation");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, one_socket_for_this_pid);
	tcase_add_test(tc, nothing_without_both_variables);
	tcase_add_test(tc, variables_of_another_process_are_not_ours);
	tcase_add_test(tc, zero_sockets_is_none);
	tcase_add_test(tc, more_than_one_socket_is_refused);
	tcase_add_test(tc, malformed_values_are_refused);
	tcase_add_test(tc, a_listening_stream_socket_is_accepted);
	tcase_add_test(tc, other_fds_are_refused);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"
