/* fcgi_static: the HTTP ceiling's stand-in for incidentd.
 *
 * A pre-forked libfcgi responder built the way incidentd's master and
 * workers are (src/daemon/master.c, src/daemon/worker.c): the master binds a unix socket
 * with FCGX_OpenSocket (backlog 1024), makes it non-blocking, forks N
 * workers and only reaps them; each worker waits as incidentd's do (its own
 * epoll instance on the socket with EPOLLEXCLUSIVE) and accepts one
 * FastCGI connection at a time with FCGX_Accept_r, reads the CGI variables
 * incidentd reads, drains the request body, and writes a response. The
 * response is a file of bytes captured from the real endpoint (CGI headers
 * "Status: ...", "Content-Type: ...", "X-Request-Id: ...", a blank line,
 * then the body), written as is, in one write as incidentd writes its
 * responses (src/daemon/fcgi_out.c): no database, no JSON, no routing.
 *
 * With --database it is the pass-through responder of the benchmark's
 * chain ceiling P instead: each worker holds one PostgreSQL connection
 * (libpq, like incidentd's workers, under SCHED_BATCH like them), prepares
 * the endpoint's statement once and, per request, executes it with the next
 * of the parameter sets (a file of lines, values separated by tabs: the
 * database ceiling's statement and values, cycled as pgbench
 * cycles its scripts) and, once the statement has answered, writes the
 * captured response, the very bytes incidentd sends (the statements answer
 * frames that incidentd fills in: docs/DESIGN.md, "Read path"). That is the whole
 * chain a request of incidentd's passes through (nginx, a FastCGI worker, a
 * round trip to PostgreSQL) without incidentd's own code: no routing, no
 * authentication, no JSON, no log line.
 *
 * usage: fcgi_static --listen SOCKET --workers N --response FILE
 *                    [--pid-file FILE]
 *                    [--database CONNINFO --statement SQL --params FILE]
 * SIGTERM/SIGINT to the master stop it and its workers; the socket is
 * removed at exit. Built by tests/bench/run.sh with
 *   gcc -O2 $(pkg-config --cflags fcgi libpq) -Isrc fcgi_static.c \
 *       src/daemon/fcgi_out.c $(pkg-config --libs fcgi libpq)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcgiapp.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <sched.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "fcgi_out.h"
#include "fcgi_tuning.h"

#define MAX_WORKERS 64
#define MAX_PARAMS 8

/* The pass-through mode's statement and parameter sets (see the top). */
struct passthrough {
	const char *conninfo;
	const char *statement;
	const char **values; /* nsets rows of MAX_PARAMS slots, nparams used */
	int nsets;
	int nparams;
};

static volatile sig_atomic_t quit;

static void on_quit(int sig)
{
	(void)sig;
	quit = 1;
}

static void on_child(int sig)
{
	(void)sig;
}

static void die(const char *what)
{
	fprintf(stderr, "fcgi_static: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Reads the whole file, NUL-terminated; returns an owned buffer (never
 * freed: it lives as long as the process). */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	if (f == NULL || fstat(fileno(f), &st) != 0)
		die(path);
	char *buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL)
		die("malloc");
	*len = fread(buf, 1, (size_t)st.st_size, f);
	if (*len != (size_t)st.st_size)
		die(path);
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

/* Splits a line at its tabs, in place, into at most MAX_PARAMS values.
 * Returns the number of values. */
static int split_values(char *line, const char **values)
{
	int n = 0;
	for (char *v = line; v != NULL && n < MAX_PARAMS; n++) {
		char *tab = strchr(v, '\t');
		if (tab != NULL)
			*tab++ = '\0';
		values[n] = v;
		v = tab;
	}
	return n;
}

/* Reads the parameter sets: every line must have as many values as the
 * first. The text stays allocated for the life of the process. */
static void read_params(const char *path, struct passthrough *pt)
{
	size_t len, cap = 0;
	char *text = slurp(path, &len);
	for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
		const char *row[MAX_PARAMS];
		int n = split_values(line, row);
		if (pt->nsets == 0)
			pt->nparams = n;
		if (n != pt->nparams) {
			fprintf(stderr, "fcgi_static: %s: %d values in a line, %d in the first\n",
				path, n, pt->nparams);
			exit(1);
		}
		if ((size_t)pt->nsets == cap) {
			cap = cap ? cap * 2 : 64;
			pt->values = realloc(pt->values, cap * MAX_PARAMS * sizeof *pt->values);
			if (pt->values == NULL)
				die("realloc");
		}
		memcpy(pt->values + (size_t)pt->nsets++ * MAX_PARAMS, row, sizeof row);
	}
	if (pt->nsets == 0) {
		fprintf(stderr, "fcgi_static: %s has no parameter sets\n", path);
		exit(1);
	}
}

/* The worker's database connection with the statement prepared. */
static PGconn *passthrough_connect(const struct passthrough *pt)
{
	PGconn *conn = PQconnectdb(pt->conninfo);
	PGresult *r = NULL;
	if (PQstatus(conn) == CONNECTION_OK)
		r = PQprepare(conn, "pass", pt->statement, pt->nparams, NULL);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		fprintf(stderr, "fcgi_static: %s", PQerrorMessage(conn));
		exit(1);
	}
	PQclear(r);
	return conn;
}

/* Answers one request in pass-through mode: runs the statement, then
 * writes the captured response. -1 when the statement fails or answers no
 * row. */
static int passthrough_respond(FCGX_Request *fr, PGconn *conn, const struct passthrough *pt,
			       const char *const *values, const char *resp, size_t resp_len)
{
	PGresult *r = PQexecPrepared(conn, "pass", pt->nparams, values, NULL, NULL, 0);
	int rc = -1;
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) >= 1) {
		struct incd_fcgi_part part = {resp, resp_len};
		incd_fcgi_respond(fr, &part, 1);
		rc = 0;
	} else {
		fprintf(stderr, "fcgi_static: %s", PQerrorMessage(conn));
	}
	PQclear(r);
	return rc;
}

/* The worker loop of src/daemon/worker.c, minus everything that is incidentd's
 * own work: copy the variables incidentd copies, drain stdin, answer. */
static int worker(int listen_fd, const char *resp, size_t resp_len, const struct passthrough *pt)
{
	PGconn *conn = NULL;
	unsigned next = (unsigned)getpid();
	int failed = 0;
	FCGX_Request fr;
	struct sigaction sa = {0};
	sigset_t block, wait_mask;
	char sink[4096];

	sa.sa_handler = on_quit;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &wait_mask);
	sigdelset(&wait_mask, SIGTERM);
	sigdelset(&wait_mask, SIGINT);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() == 1)
		return 0;

	if (FCGX_InitRequest(&fr, listen_fd, 0) != 0)
		return 1;
	if (pt->conninfo != NULL) {
		struct sched_param none = {0};
		sched_setscheduler(0, SCHED_BATCH, &none);
		conn = passthrough_connect(pt);
	}
	/* incidentd's wait: incd_fcgi_listen_waiter, ppoll on a kept
	 * connection. */
	int ep = incd_fcgi_listen_waiter(listen_fd);
	if (ep < 0)
		return 1;
	while (!quit) {
		int n;
		if (fr.ipcFd >= 0) {
			struct pollfd p = {.fd = fr.ipcFd, .events = POLLIN};
			n = ppoll(&p, 1, NULL, &wait_mask);
		} else {
			struct epoll_event ev;
			n = epoll_pwait(ep, &ev, 1, -1, &wait_mask);
		}
		if (n < 0 && errno != EINTR)
			break;
		if (quit)
			break;
		int rc = FCGX_Accept_r(&fr);
		if (rc < 0) {
			if (rc == -EAGAIN || rc == -EWOULDBLOCK || rc == -EINTR ||
			    rc == -ECONNABORTED)
				continue;
			break;
		}
		/* What incidentd copies out of the environment of every request. */
		static const char *const names[] = {"REQUEST_METHOD", "HTTP_AUTHORIZATION",
						    "REQUEST_ID",     "REQUEST_URI",
						    "QUERY_STRING",   "CONTENT_LENGTH"};
		volatile size_t seen = 0;
		for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
			const char *v = FCGX_GetParam(names[i], fr.envp);
			if (v != NULL)
				seen += strlen(v);
		}
		while (FCGX_GetStr(sink, sizeof sink, fr.in) > 0)
			;
		if (conn != NULL) {
			const char *const *values = pt->values + next++ % pt->nsets * MAX_PARAMS;
			if (passthrough_respond(&fr, conn, pt, values, resp, resp_len) != 0) {
				failed = 1;
				break;
			}
		} else {
			struct incd_fcgi_part part = {resp, resp_len};
			incd_fcgi_respond(&fr, &part, 1);
		}
		FCGX_Finish_r(&fr);
	}
	FCGX_Free(&fr, 1);
	close(ep);
	PQfinish(conn);
	return failed;
}

int main(int argc, char **argv)
{
	const char *listen_path = NULL, *response = NULL, *pid_file = NULL, *params = NULL;
	struct passthrough pt = {0};
	int nworkers = 0;
	pid_t pids[MAX_WORKERS] = {0};

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--listen") == 0)
			listen_path = argv[i + 1];
		else if (strcmp(argv[i], "--workers") == 0)
			nworkers = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--response") == 0)
			response = argv[i + 1];
		else if (strcmp(argv[i], "--pid-file") == 0)
			pid_file = argv[i + 1];
		else if (strcmp(argv[i], "--database") == 0)
			pt.conninfo = argv[i + 1];
		else if (strcmp(argv[i], "--statement") == 0)
			pt.statement = argv[i + 1];
		else if (strcmp(argv[i], "--params") == 0)
			params = argv[i + 1];
	}
	if (listen_path == NULL || response == NULL || nworkers < 1 || nworkers > MAX_WORKERS ||
	    (pt.conninfo != NULL && (pt.statement == NULL || params == NULL))) {
		fprintf(stderr,
			"usage: fcgi_static --listen SOCKET --workers N (1..%d) "
			"--response FILE [--pid-file FILE] "
			"[--database CONNINFO --statement SQL --params FILE]\n",
			MAX_WORKERS);
		return 2;
	}
	size_t resp_len;
	char *resp = slurp(response, &resp_len);
	if (pt.conninfo != NULL)
		read_params(params, &pt);

	/* The same libfcgi settings as incidentd's master. */
	incd_fcgi_tune();
	if (FCGX_Init() != 0)
		die("FCGX_Init");

	struct sigaction sa = {0};
	sigset_t block, wait_mask;
	sa.sa_handler = on_quit;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGCHLD);
	sigprocmask(SIG_BLOCK, &block, &wait_mask);
	/* A handler (not SIG_DFL, which ignores it) so that SIGCHLD ends the
	 * master's sigsuspend. */
	sa.sa_handler = on_child;
	sigaction(SIGCHLD, &sa, NULL);

	unlink(listen_path);
	int fd = FCGX_OpenSocket(listen_path, 1024);
	if (fd < 0)
		die(listen_path);
	chmod(listen_path, 0660);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	fcntl(fd, F_SETFD, FD_CLOEXEC);

	for (int i = 0; i < nworkers; i++) {
		pid_t pid = fork();
		if (pid < 0)
			die("fork");
		if (pid == 0) {
			sigprocmask(SIG_SETMASK, &wait_mask, NULL);
			_exit(worker(fd, resp, resp_len, &pt));
		}
		pids[i] = pid;
	}
	/* The pid file last: run.sh waits for it, so it means "ready". */
	if (pid_file != NULL) {
		FILE *f = fopen(pid_file, "w");
		if (f == NULL || fprintf(f, "%ld\n", (long)getpid()) < 0 || fclose(f) != 0)
			die(pid_file);
	}

	/* Wait for SIGTERM/SIGINT; a worker that dies is not replaced (a
	 * benchmark run with fewer workers than asked would be wrong), so the
	 * master stops and run.sh notices the missing socket. */
	sigset_t suspend_mask = wait_mask;
	sigdelset(&suspend_mask, SIGTERM);
	sigdelset(&suspend_mask, SIGINT);
	sigdelset(&suspend_mask, SIGCHLD);
	while (!quit) {
		int status;
		pid_t dead = waitpid(-1, &status, WNOHANG);
		if (dead > 0) {
			fprintf(stderr, "fcgi_static: worker %ld exited (status %d)\n", (long)dead,
				status);
			quit = 1;
			break;
		}
		sigsuspend(&suspend_mask);
	}
	for (int i = 0; i < nworkers; i++)
		if (pids[i] > 0)
			kill(pids[i], SIGTERM);
	while (waitpid(-1, NULL, 0) > 0)
		;
	unlink(listen_path);
	if (pid_file != NULL)
		unlink(pid_file);
	return 0;
}
