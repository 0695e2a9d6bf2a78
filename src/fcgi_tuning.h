/* libfcgi's timeouts, set through its environment variables before
 * FCGX_Init. One definition for incidentd's master and for the benchmark's
 * fcgi_static responder (tests/bench), so the HTTP ceiling is measured with
 * exactly the connection handling incidentd has. */
#ifndef INCIDENTD_FCGI_TUNING_H
#define INCIDENTD_FCGI_TUNING_H

#include <stdlib.h>

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

#endif
