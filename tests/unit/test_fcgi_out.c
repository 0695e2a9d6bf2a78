/* incd_fcgi_respond against the real libfcgi: a forked responder accepts a
 * request on a unix socket, answers with incd_fcgi_respond and ends it with
 * FCGX_Finish_r; the test reads the connection to its end as nginx would
 * and checks every record: the content exactly, one end of stream, one
 * FCGI_END_REQUEST, last, and nothing libfcgi added after it. */
#include <check.h>
#include <errno.h>
#include <fastcgi.h>
#include <fcgiapp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fcgi_out.h"

static const char head[] = "Status: 200 OK\r\nContent-Type: text/plain\r\n\r\n";

struct parsed {
	char *stdout_data;
	size_t stdout_len;
	int stdout_ends;   /* empty FCGI_STDOUT records */
	int end_requests;  /* FCGI_END_REQUEST records */
	int other_records; /* any other type */
	int bytes_after_end;
	int protocol_status;
	int app_status; /* non-zero if any byte of it is */
};

static int listen_on(char *path, size_t size)
{
	snprintf(path, size, "/tmp/incd-fcgi-out-%d.sock", (int)getpid());
	unlink(path);
	int fd = FCGX_OpenSocket(path, 8);
	ck_assert_int_ge(fd, 0);
	return fd;
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	return fd;
}

static void put_record(int fd, int type, const void *content, size_t len)
{
	FCGI_Header h = {.version = FCGI_VERSION_1,
			 .type = (unsigned char)type,
			 .requestIdB0 = 1,
			 .contentLengthB1 = (unsigned char)(len >> 8),
			 .contentLengthB0 = (unsigned char)len};
	ck_assert_int_eq(write(fd, &h, sizeof h), (ssize_t)sizeof h);
	if (len > 0)
		ck_assert_int_eq(write(fd, content, len), (ssize_t)len);
}

/* What nginx sends for a GET without a body (flags: FCGI_KEEP_CONN or 0). */
static void send_request_flags(int fd, unsigned char flags)
{
	FCGI_BeginRequestBody begin = {.roleB0 = FCGI_RESPONDER, .flags = flags};
	static const char params[] = "\016\003REQUEST_METHODGET";
	put_record(fd, FCGI_BEGIN_REQUEST, &begin, sizeof begin);
	put_record(fd, FCGI_PARAMS, params, sizeof params - 1);
	put_record(fd, FCGI_PARAMS, NULL, 0);
	put_record(fd, FCGI_STDIN, NULL, 0);
}

static void send_request(int fd)
{
	send_request_flags(fd, 0);
}

/* The responder: one request, answered with head and body; the exit
 * status is incd_fcgi_respond's errno (0 on success). */
static void respond_once(int listen_fd, const char *body, size_t body_len)
{
	FCGX_Request fr;
	signal(SIGPIPE, SIG_IGN);
	if (FCGX_Init() != 0 || FCGX_InitRequest(&fr, listen_fd, 0) != 0 || FCGX_Accept_r(&fr) != 0)
		_exit(100);
	struct incd_fcgi_part parts[] = {{head, sizeof head - 1}, {body, body_len}};
	int rc = incd_fcgi_respond(&fr, parts, 2);
	int err = rc == 0 ? 0 : errno;
	FCGX_Finish_r(&fr);
	_exit(err > 99 ? 99 : err);
}

static char *read_all(int fd, size_t *len)
{
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap);
	for (;;) {
		if (n == cap)
			buf = realloc(buf, cap *= 2);
		ssize_t r = read(fd, buf + n, cap - n);
		ck_assert_int_ge(r, 0);
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*len = n;
	return buf;
}

static struct parsed parse(const unsigned char *p, size_t n)
{
	struct parsed r = {.stdout_data = malloc(n + 1), .protocol_status = -1};
	size_t i = 0;
	while (i + sizeof(FCGI_Header) <= n) {
		const FCGI_Header *h = (const FCGI_Header *)(p + i);
		size_t len = (size_t)h->contentLengthB1 << 8 | h->contentLengthB0;
		const unsigned char *content = p + i + sizeof *h;
		ck_assert_int_eq(h->version, FCGI_VERSION_1);
		ck_assert_int_eq((h->requestIdB1 << 8) | h->requestIdB0, 1);
		ck_assert_uint_le(i + sizeof *h + len + h->paddingLength, n);
		if (r.end_requests > 0)
			r.bytes_after_end += (int)(sizeof *h + len);
		if (h->type == FCGI_STDOUT && len == 0) {
			r.stdout_ends++;
		} else if (h->type == FCGI_STDOUT) {
			ck_assert_int_eq(r.stdout_ends, 0);
			memcpy(r.stdout_data + r.stdout_len, content, len);
			r.stdout_len += len;
		} else if (h->type == FCGI_END_REQUEST) {
			ck_assert_uint_eq(len, sizeof(FCGI_EndRequestBody));
			const FCGI_EndRequestBody *end = (const FCGI_EndRequestBody *)content;
			r.protocol_status = end->protocolStatus;
			r.app_status = end->appStatusB3 | end->appStatusB2 | end->appStatusB1 |
				       end->appStatusB0;
			r.end_requests++;
		} else {
			r.other_records++;
		}
		i += sizeof *h + len + h->paddingLength;
	}
	ck_assert_uint_eq(i, n);
	return r;
}

/* Sends one request to a responder answering with a body of body_len
 * bytes and checks everything that came back. */
static void round_trip(size_t body_len)
{
	char path[108];
	int lfd = listen_on(path, sizeof path);
	char *body = malloc(body_len + 1);
	for (size_t i = 0; i < body_len; i++)
		body[i] = (char)('a' + i % 26);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		respond_once(lfd, body, body_len);
	int fd = connect_to(path);
	send_request(fd);
	size_t n;
	char *raw = read_all(fd, &n);
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);

	struct parsed r = parse((const unsigned char *)raw, n);
	ck_assert_uint_eq(r.stdout_len, sizeof head - 1 + body_len);
	ck_assert(memcmp(r.stdout_data, head, sizeof head - 1) == 0);
	ck_assert(memcmp(r.stdout_data + sizeof head - 1, body, body_len) == 0);
	ck_assert_int_eq(r.stdout_ends, 1);
	ck_assert_int_eq(r.end_requests, 1);
	ck_assert_int_eq(r.protocol_status, FCGI_REQUEST_COMPLETE);
	ck_assert_int_eq(r.app_status, 0);
	ck_assert_int_eq(r.other_records, 0);
	ck_assert_int_eq(r.bytes_after_end, 0);
	free(r.stdout_data);
	free(raw);
	free(body);
	close(fd);
	close(lfd);
	unlink(path);
}

/* Body sizes around libfcgi's 8 KiB buffer, the 65535-byte record limit
 * and the 32-record batch of one writev (3 MiB takes several, with the
 * socket buffer full in between). */
static const size_t sizes[] = {0, 1, 100, 8191, 8192, 8193, 65535, 65536, 200000, 3 << 20};

START_TEST(records_are_exact)
{
	round_trip(sizes[_i]);
}
END_TEST

/* nginx gave up on the request (client gone): the write fails with EPIPE,
 * and FCGX_Finish_r still ends the request without a crash. */
START_TEST(closed_peer_is_an_error_not_a_crash)
{
	char path[108];
	int lfd = listen_on(path, sizeof path);
	int fd = connect_to(path);
	send_request(fd);
	close(fd);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		respond_once(lfd, "x", 1);
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), EPIPE);
	close(lfd);
	unlink(path);
}
END_TEST

/* Bytes up to and including the first complete FCGI_END_REQUEST record in
 * p[0..n), or 0 if there is none yet. */
static size_t through_end_request(const unsigned char *p, size_t n)
{
	size_t i = 0;
	while (i + sizeof(FCGI_Header) <= n) {
		const FCGI_Header *h = (const FCGI_Header *)(p + i);
		size_t next = i + sizeof *h +
			      ((size_t)h->contentLengthB1 << 8 | h->contentLengthB0) +
			      h->paddingLength;
		if (next > n)
			return 0;
		if (h->type == FCGI_END_REQUEST)
			return next;
		i = next;
	}
	return 0;
}

static void expect_response(const unsigned char *p, size_t n, const char *body, size_t body_len)
{
	struct parsed r = parse(p, n);
	ck_assert_uint_eq(r.stdout_len, sizeof head - 1 + body_len);
	ck_assert(memcmp(r.stdout_data + sizeof head - 1, body, body_len) == 0);
	ck_assert_int_eq(r.stdout_ends, 1);
	ck_assert_int_eq(r.end_requests, 1);
	ck_assert_int_eq(r.bytes_after_end, 0);
	free(r.stdout_data);
}

/* nginx with upstream keepalive (fastcgi_keep_conn on): two requests, one
 * after the other's FCGI_END_REQUEST, on one connection that the
 * responder keeps open between them. */
START_TEST(kept_connection_serves_requests_in_turn)
{
	char path[108];
	int lfd = listen_on(path, sizeof path);
	static const char *const bodies[] = {"first", "second, longer than the first"};
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		FCGX_Request fr;
		if (FCGX_Init() != 0 || FCGX_InitRequest(&fr, lfd, 0) != 0)
			_exit(100);
		for (int i = 0; i < 2; i++) {
			struct incd_fcgi_part parts[] = {{head, sizeof head - 1},
							 {bodies[i], strlen(bodies[i])}};
			if (FCGX_Accept_r(&fr) != 0 || incd_fcgi_respond(&fr, parts, 2) != 0)
				_exit(101 + i);
			FCGX_Finish_r(&fr);
			if (fr.ipcFd < 0)
				_exit(110); /* libfcgi closed the kept connection */
		}
		FCGX_Free(&fr, 1);
		_exit(0);
	}
	int fd = connect_to(path);
	unsigned char buf[4096];
	size_t n = 0, first = 0;
	send_request_flags(fd, FCGI_KEEP_CONN);
	while ((first = through_end_request(buf, n)) == 0) {
		ssize_t r = read(fd, buf + n, sizeof buf - n);
		ck_assert_int_gt(r, 0);
		n += (size_t)r;
	}
	send_request_flags(fd, FCGI_KEEP_CONN);
	for (;;) {
		ssize_t r = read(fd, buf + n, sizeof buf - n);
		ck_assert_int_ge(r, 0);
		if (r == 0)
			break;
		n += (size_t)r;
	}
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	expect_response(buf, first, bodies[0], strlen(bodies[0]));
	expect_response(buf + first, n - first, bodies[1], strlen(bodies[1]));
	close(fd);
	close(lfd);
	unlink(path);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("fcgi_out");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 20);
	tcase_add_loop_test(tc, records_are_exact, 0, (int)(sizeof sizes / sizeof sizes[0]));
	tcase_add_test(tc, closed_peer_is_an_error_not_a_crash);
	tcase_add_test(tc, kept_connection_serves_requests_in_turn);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"
