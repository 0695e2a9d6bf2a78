/* A FastCGI response in one write. libfcgi's output stream buffers 8 KiB
 * and writes each full buffer as it fills, so a 40 KiB list page left the
 * worker in five writes, and every write can wake nginx for one more pass
 * through its event loop. Shared by incidentd and the benchmark's
 * fcgi_static responder, so that the HTTP ceiling writes as incidentd does. */
#ifndef INCIDENTD_FCGI_OUT_H
#define INCIDENTD_FCGI_OUT_H

#include <fcgiapp.h>
#include <stddef.h>

struct incd_fcgi_part {
	const void *data;
	size_t len;
};

/* Sends the parts, in order, as the whole FCGI_STDOUT content of request
 * fr, followed by the end of the stream and FCGI_END_REQUEST, with one
 * writev() for responses up to about 2 MiB. Nothing may have been written
 * to fr->out or fr->err before; afterwards the request's output is closed
 * and FCGX_Finish_r writes nothing more. Returns 0, or -1 with errno set,
 * in which case FCGX_Finish_r closes the connection. */
int incd_fcgi_respond(FCGX_Request *fr, const struct incd_fcgi_part *parts, int nparts);

#endif
