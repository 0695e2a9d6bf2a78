/* FastCGI connection handling shared by incidentd and the benchmark's
 * fcgi_static responder (tests/bench): libfcgi's timeouts, set through its
 * environment variables before FCGX_Init, and the wait on the listening
 * socket. One definition, so the HTTP ceiling is measured with exactly the
 * connection handling incidentd has. */
#ifndef INCIDENTD_FCGI_TUNING_H
#define INCIDENTD_FCGI_TUNING_H

#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

/* libfcgi waits up to 2 s for data after an AF_UNIX accept, and on close
 * shuts down its side and reads until the peer's EOF. The first wait ends
 * as soon as nginx sends (at once), so a shorter bound only limits a
 * misbehaving peer. The second keeps the worker from its next request until
 * nginx has read the response and closed: the worker always consumes the
 * whole request, so closing at once loses nothing (the response stays
 * readable in nginx's end of the socket), and it measured 8-14 % more shows
 * per second. Values already in the environment win. */
static inline void incd_fcgi_tune(void)
{
	setenv("LIBFCGI_IS_AF_UNIX_KEEPER_POLL_TIMEOUT", "500", 0);
	setenv("LIBFCGI_OS_CLOSE_POLL_TIMEOUT", "0", 0);
}

/* A worker's own epoll instance watching the shared listening socket with
 * EPOLLEXCLUSIVE, so that a new connection wakes one idle worker, not all
 * of them (the benchmark measured 75 -> 41 us of responder CPU per request
 * when fcgi_static moved from a plain poll to this). -1 on failure, errno
 * set. */
static inline int incd_fcgi_listen_waiter(int listen_fd)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.fd = listen_fd};
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, listen_fd, &ev) != 0) {
		close(ep);
		ep = -1;
	}
	return ep;
}

#endif
