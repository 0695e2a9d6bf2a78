/* The metrics endpoint: a minimal HTTP/1.0 server for GET /metrics that
 * the master runs on --metrics-listen (docs/METRICS.md says why the master
 * and not a FastCGI route). */
#ifndef INCIDENTD_METRICS_HTTP_H
#define INCIDENTD_METRICS_HTTP_H

#include "util.h"

/* Listens on "HOST:PORT" (an IPv6 host in brackets), non-blocking and
 * close-on-exec. Returns the socket, or -1 after logging why. */
int incd_metrics_http_listen(const char *addr) INCD_MUST_CHECK;

/* Writes the body of a scrape into out (which is reset first). */
typedef void incd_metrics_body_fn(void *arg, struct incd_buf *out);

/* Accepts the connections waiting on fd and answers each: 200 with the
 * exposition from body for GET or HEAD /metrics, 404 for any other path,
 * 405 for any other method; then closes it. A client gets at most a
 * second to send its request and a second per write, so a stuck one holds
 * the caller (the master) up briefly, never for good. out is scratch
 * space the caller keeps between calls. */
void incd_metrics_http_serve(int fd, incd_metrics_body_fn *body, void *arg, struct incd_buf *out);

#endif
