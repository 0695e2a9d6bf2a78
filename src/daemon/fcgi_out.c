/* The records are built by hand from fastcgi.h, libfcgi's public protocol
 * header, the way libfcgi's own stream would write them: content records
 * of at most 65535 bytes, an empty record that ends the stream, and
 * FCGI_END_REQUEST. Padding is optional in the protocol and left out.
 * Besides the public stream fields this reads fr->ipcFd, which fcgiapp.h
 * lists among its private fields (the worker's wait on a kept connection
 * reads it too); tests/unit/test_fcgi_out.c pins the behaviour of the
 * libfcgi it builds against. */
#include "fcgi_out.h"

#include <errno.h>
#include <fastcgi.h>
#include <sys/uio.h>

/* Records per writev(); each takes two iovecs. A response needs more than
 * one batch only beyond BATCH_RECORDS * 65535 bytes. */
enum { MAX_CONTENT = 0xffff, BATCH_RECORDS = 32 };

static FCGI_Header record_header(int type, int request_id, size_t len)
{
	FCGI_Header h = {
	    .version = FCGI_VERSION_1,
	    .type = (unsigned char)type,
	    .requestIdB1 = (unsigned char)((request_id >> 8) & 0xff),
	    .requestIdB0 = (unsigned char)(request_id & 0xff),
	    .contentLengthB1 = (unsigned char)((len >> 8) & 0xff),
	    .contentLengthB0 = (unsigned char)(len & 0xff),
	};
	return h;
}

static FCGI_EndRequestRecord end_request(int request_id, unsigned app_status)
{
	FCGI_EndRequestRecord r = {
	    .header = record_header(FCGI_END_REQUEST, request_id, sizeof r.body),
	    .body =
		{
		    .appStatusB3 = (unsigned char)(app_status >> 24),
		    .appStatusB2 = (unsigned char)(app_status >> 16),
		    .appStatusB1 = (unsigned char)(app_status >> 8),
		    .appStatusB0 = (unsigned char)app_status,
		    .protocolStatus = FCGI_REQUEST_COMPLETE,
		},
	};
	return r;
}

/* writev() until every byte is out; the socket is blocking, so a short
 * write only follows a signal or a full socket buffer. */
static int writev_all(int fd, struct iovec *iov, int n)
{
	while (n > 0) {
		ssize_t w = writev(fd, iov, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

int incd_fcgi_respond(FCGX_Request *fr, const struct incd_fcgi_part *parts, int nparts)
{
	FCGI_Header hdr[BATCH_RECORDS + 1];
	struct iovec iov[2 * BATCH_RECORDS + 2];
	/* Exit status 0: nothing here calls FCGX_SetExitStatus. */
	FCGI_EndRequestRecord end = end_request(fr->requestId, 0);
	int n = 0, nh = 0, rc = 0;

	for (int p = 0; p < nparts && rc == 0; p++) {
		const char *d = parts[p].data;
		size_t left = parts[p].len;
		while (left > 0) {
			size_t len = left < MAX_CONTENT ? left : MAX_CONTENT;
			if (nh == BATCH_RECORDS) {
				if ((rc = writev_all(fr->ipcFd, iov, n)) != 0)
					break;
				n = nh = 0;
			}
			hdr[nh] = record_header(FCGI_STDOUT, fr->requestId, len);
			iov[n++] = (struct iovec){&hdr[nh++], sizeof hdr[0]};
			iov[n++] = (struct iovec){(void *)d, len};
			d += len;
			left -= len;
		}
	}
	if (rc == 0) {
		hdr[nh] = record_header(FCGI_STDOUT, fr->requestId, 0);
		iov[n++] = (struct iovec){&hdr[nh], sizeof hdr[0]};
		iov[n++] = (struct iovec){&end, sizeof end};
		rc = writev_all(fr->ipcFd, iov, n);
	}
	/* What FCGX_FClose would do after writing these records itself, so
	 * that FCGX_Finish_r adds none: the output stream is closed, and the
	 * error stream, empty, closes without records (it writes
	 * FCGI_END_REQUEST only as the last open writer). An error makes
	 * FCGX_Finish_r close the connection. */
	fr->out->wasFCloseCalled = 1;
	fr->out->isClosed = 1;
	if (rc != 0)
		fr->out->FCGI_errno = errno ? errno : EIO;
	return rc;
}
