/* Socket activation: the listening socket handed over by systemd (an
 * incidentd.socket unit) or systemd-socket-activate, with the semantics of
 * sd_listen_fds(3) but without libsystemd: the variables LISTEN_PID and
 * LISTEN_FDS say that fds 3, 4, ... are listening sockets for that pid. */
#ifndef INCIDENTD_ACTIVATION_H
#define INCIDENTD_ACTIVATION_H

#include <stddef.h>

#include "util.h"

/* The first fd passed (SD_LISTEN_FDS_START). */
#define INCD_ACTIVATION_FD 3

enum incd_activation {
	INCD_ACTIVATION_NONE,  /* nothing handed to this process: bind --listen */
	INCD_ACTIVATION_ONE,   /* one socket, at INCD_ACTIVATION_FD */
	INCD_ACTIVATION_ERROR, /* malformed, or more than one socket: message in err */
};

/* Reads the values of LISTEN_PID and LISTEN_FDS (either may be NULL) for the
 * process self. Variables meant for another pid (a parent's, inherited) or
 * LISTEN_FDS=0 mean NONE, as sd_listen_fds(3) has it. */
enum incd_activation incd_activation_parse(const char *listen_pid, const char *listen_fds,
					   long self, char *err, size_t errlen) INCD_MUST_CHECK;

/* True when fd is a listening stream socket (what incidentd can accept on);
 * otherwise false with the reason in err. */
bool incd_activation_fd_ok(int fd, char *err, size_t errlen) INCD_MUST_CHECK;

#endif
