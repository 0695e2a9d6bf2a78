/* GET /metrics over plain HTTP for the master (metrics_http.h). */
#include "metrics_http.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "log.h"

int incd_metrics_http_listen(const char *addr)
{
	char host[256];
	const char *colon = strrchr(addr, ':');
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
	struct addrinfo *ai = NULL;
	int fd = -1, one = 1;

	if (colon == NULL || colon[1] == '\0' || (size_t)(colon - addr) >= sizeof host) {
		incd_log(INCD_LOG_ERROR, "invalid --metrics-listen '%s' (expected HOST:PORT)",
			 addr);
		return -1;
	}
	const char *h = addr;
	size_t hl = (size_t)(colon - addr);
	if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
		h++;
		hl -= 2;
	}
	memcpy(host, h, hl);
	host[hl] = '\0';
	int rc = getaddrinfo(hl ? host : NULL, colon + 1, &hints, &ai);
	if (rc != 0) {
		incd_log(INCD_LOG_ERROR, "invalid --metrics-listen '%s': %s", addr,
			 gai_strerror(rc));
		return -1;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 16) != 0) {
		incd_log(INCD_LOG_ERROR, "could not listen for metrics on %s: %s", addr,
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
}

/* Reads the request head (up to the blank line, cap bytes at most) within
 * a second. False if it did not come. */
static bool read_head(int c, char *buf, size_t cap)
{
	size_t got = 0;
	long long deadline = incd_now_us() + 1000000;
	buf[0] = '\0';
	while (got < cap - 1 && strstr(buf, "\r\n\r\n") == NULL && strstr(buf, "\n\n") == NULL) {
		long long left = deadline - incd_now_us();
		struct pollfd p = {.fd = c, .events = POLLIN};
		if (left <= 0 || poll(&p, 1, (int)(left / 1000) + 1) <= 0)
			return false;
		ssize_t n = recv(c, buf + got, cap - 1 - got, 0);
		if (n <= 0)
			return false;
		got += (size_t)n;
		buf[got] = '\0';
	}
	return true;
}

static void send_all(int c, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(c, p, n, MSG_NOSIGNAL);
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

static void answer(int c, incd_metrics_body_fn *body, void *arg, struct incd_buf *out)
{
	char req[2048], hdr[256];
	const char *status = "200 OK", *type = "text/plain; version=0.0.4; charset=utf-8";
	bool head_only = false;

	if (!read_head(c, req, sizeof req))
		return;
	incd_buf_reset(out);
	size_t mlen = strcspn(req, " ");
	const char *target = req + mlen + (req[mlen] == ' ');
	size_t tlen = strcspn(target, " ?\r\n");
	bool is_metrics = tlen == 8 && memcmp(target, "/metrics", 8) == 0;
	if (mlen == 4 && memcmp(req, "HEAD", 4) == 0)
		head_only = true;
	if (!is_metrics) {
		status = "404 Not Found";
		type = "text/plain; charset=utf-8";
		incd_buf_adds(out, "metrics are at /metrics\n");
	} else if (!head_only && !(mlen == 3 && memcmp(req, "GET", 3) == 0)) {
		status = "405 Method Not Allowed";
		type = "text/plain; charset=utf-8";
		incd_buf_adds(out, "use GET\n");
	} else {
		body(arg, out);
	}
	int n = snprintf(hdr, sizeof hdr,
			 "HTTP/1.0 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
			 "Connection: close\r\n\r\n",
			 status, type, out->len,
			 status[0] == '4' && status[2] == '5' ? "Allow: GET, HEAD\r\n" : "");
	send_all(c, hdr, (size_t)n);
	if (!head_only)
		send_all(c, out->data, out->len);
}

void incd_metrics_http_serve(int fd, incd_metrics_body_fn *body, void *arg, struct incd_buf *out)
{
	struct timeval tv = {1, 0};
	/* A bounded batch: a flood of connections must not keep the master
	 * from reaping; the rest stay queued for the next wake-up. */
	for (int i = 0; i < 16; i++) {
		int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return; /* EAGAIN: none left (or an error the next poll sees again) */
		}
		setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
		answer(c, body, arg, out);
		close(c);
	}
}
