/* Socket activation: parsing LISTEN_PID/LISTEN_FDS and checking the fd.
 * Written out rather than taken from libsystemd: this is all of
 * sd_listen_fds(3) that a one-socket daemon needs, and it spares a
 * dependency and a configure option. */
#include "activation.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* A decimal in 0..max with nothing around it, or -1. */
static long parse_count(const char *s, long max)
{
	char *end = NULL;
	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return -1;
	return v;
}

enum incd_activation incd_activation_parse(const char *listen_pid, const char *listen_fds,
					   long self, char *err, size_t errlen)
{
	if (listen_fds == NULL || listen_pid == NULL)
		return INCD_ACTIVATION_NONE;
	long pid = parse_count(listen_pid, 1L << 30);
	if (pid <= 0) {
		snprintf(err, errlen, "invalid LISTEN_PID '%s'", listen_pid);
		return INCD_ACTIVATION_ERROR;
	}
	if (pid != self)
		return INCD_ACTIVATION_NONE;
	long n = parse_count(listen_fds, 1L << 16);
	if (n < 0) {
		snprintf(err, errlen, "invalid LISTEN_FDS '%s'", listen_fds);
		return INCD_ACTIVATION_ERROR;
	}
	if (n == 0)
		return INCD_ACTIVATION_NONE;
	if (n > 1) {
		snprintf(err, errlen,
			 "got %ld sockets (LISTEN_FDS); incidentd serves one: give its socket "
			 "unit one ListenStream=",
			 n);
		return INCD_ACTIVATION_ERROR;
	}
	return INCD_ACTIVATION_ONE;
}

bool incd_activation_fd_ok(int fd, char *err, size_t errlen)
{
	int type = 0, listening = 0;
	socklen_t len = sizeof type;
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) {
		snprintf(err, errlen, "fd %d is not a socket: %s", fd, strerror(errno));
		return false;
	}
	len = sizeof listening;
	if (type != SOCK_STREAM ||
	    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening) {
		snprintf(err, errlen,
			 "fd %d is not a listening stream socket (use ListenStream= and "
			 "Accept=no)",
			 fd);
		return false;
	}
	return true;
}
