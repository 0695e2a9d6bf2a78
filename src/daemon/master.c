/* Master: bind, fork, reap, respawn. Signal handlers only set flags; the
 * loop sleeps in sigsuspend() and acts on them.
 *
 * SIGCHLD: a worker that exits while it should be running is replaced at
 * once (after a one-second pause if workers keep dying right after start,
 * so a broken setup doesn't become a fork storm).
 * SIGHUP: a new set of workers is started, then the old set gets SIGTERM and
 * drains. SIGTERM/SIGINT: the socket's path is removed, so new connections
 * fail at once and the listen queue only drains; every worker gets SIGTERM,
 * finishes the request in hand and the connections already queued, and
 * exits; stragglers are killed after the drain timeout.
 *
 * The rate limit table (ratelimit.h) is mapped here, before the first
 * fork, so every worker ever started shares it: the buckets outlive any
 * worker, a SIGHUP's replacement set included, and go with the master.
 * The metrics table (metrics.h) likewise, one block per slot of the
 * master's: a worker started in a slot continues its predecessor's
 * counters. The master counts worker restarts there, and with
 * --metrics-listen serves GET /metrics itself (metrics_http.h) between
 * reaping and respawning, so a scrape never waits for a free worker.
 *
 * Before binding, the master checks once that the database role is not a
 * superuser or the schema's owner (unless --allow-owner) and exits 1 if it
 * is. A worker that finds so when it connects (the database was down at
 * start-up, or the role changed) exits with INCD_EXIT_REFUSED, and the
 * master then stops too, with status 1, rather than respawn it forever.
 *
 * Socket activation (activation.h): with LISTEN_PID/LISTEN_FDS naming this
 * process, the master serves the socket it was handed instead of binding
 * --listen, and never removes its path: the socket belongs to systemd,
 * which keeps it open and queues connections across a restart. */
#include "master.h"

#include <errno.h>
#include <fcgiapp.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "activation.h"
#include "db.h"
#include "fcgi_tuning.h"
#include "log.h"
#include "metrics.h"
#include "metrics_http.h"
#include "ratelimit.h"
#include "worker.h"

static volatile sig_atomic_t got_chld, got_hup, got_term;

static void on_signal(int sig)
{
	int saved = errno;
	if (sig == SIGCHLD)
		got_chld = 1;
	else if (sig == SIGHUP)
		got_hup = 1;
	else
		got_term = 1;
	errno = saved;
}

struct slot {
	pid_t pid; /* 0 = free */
	bool retiring;
	long long started_us;
};

struct master {
	const struct incd_config *cfg;
	int listen_fd;
	struct incd_rl_table *limits; /* shared with every worker */
	/* Keys' write positions, shared too; NULL without a read replica. */
	struct incd_rp_table *positions;
	struct incd_metrics *metrics; /* one block per slot, shared likewise */
	int metrics_fd;		      /* --metrics-listen socket, -1 if none */
	struct incd_buf scrape;	      /* the last scrape's text, reused */
	struct slot *slots;
	size_t nslots;
	int fast_deaths; /* consecutive workers that died within a second of starting */
	dev_t sock_dev;	 /* the socket file bound at a unix path ... */
	ino_t sock_ino;	 /* ... (0: none, or removed) */
	bool refused;	 /* a worker exited with INCD_EXIT_REFUSED: stop */
};

static bool is_unix_path(const char *listen)
{
	return strchr(listen, '/') != NULL;
}

/* Removes the socket's path if it is still the file this master bound (a
 * newer incidentd may have bound that path since). */
static void unlink_socket(struct master *m)
{
	struct stat st;
	if (m->sock_ino != 0 && stat(m->cfg->listen, &st) == 0 && st.st_dev == m->sock_dev &&
	    st.st_ino == m->sock_ino)
		unlink(m->cfg->listen);
	m->sock_ino = 0;
}

static int open_socket(const struct incd_config *cfg)
{
	int fd;
	if (is_unix_path(cfg->listen)) {
		struct stat st;
		/* A socket left by a crashed run would make bind() fail. */
		if (stat(cfg->listen, &st) == 0 && S_ISSOCK(st.st_mode))
			unlink(cfg->listen);
		fd = FCGX_OpenSocket(cfg->listen, cfg->backlog);
		if (fd >= 0 && chmod(cfg->listen, (mode_t)cfg->socket_mode) != 0)
			incd_log(INCD_LOG_WARN, "could not chmod %s: %s", cfg->listen,
				 strerror(errno));
	} else {
		fd = FCGX_OpenSocket(cfg->listen, cfg->backlog);
	}
	if (fd < 0) {
		incd_log(INCD_LOG_ERROR, "could not listen on %s", cfg->listen);
		return -1;
	}
	int flags = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, flags | O_NONBLOCK);
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	return fd;
}

/* The listening socket handed over by systemd, or -1 when there is none,
 * or -2 when what was handed over is unusable. The variables go either way,
 * so nothing started from here takes them for its own. */
static int inherited_socket(void)
{
	char err[256];
	enum incd_activation a = incd_activation_parse(getenv("LISTEN_PID"), getenv("LISTEN_FDS"),
						       (long)getpid(), err, sizeof err);
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (a == INCD_ACTIVATION_NONE)
		return -1;
	if (a == INCD_ACTIVATION_ONE && !incd_activation_fd_ok(INCD_ACTIVATION_FD, err, sizeof err))
		a = INCD_ACTIVATION_ERROR;
	if (a == INCD_ACTIVATION_ERROR) {
		incd_log(INCD_LOG_ERROR, "socket activation: %s", err);
		return -2;
	}
	int fd = INCD_ACTIVATION_FD;
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	return fd;
}

static void spawn(struct master *m, struct slot *s)
{
	pid_t pid = fork();
	if (pid < 0) {
		incd_log(INCD_LOG_ERROR, "could not fork a worker: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		if (m->metrics_fd >= 0)
			close(m->metrics_fd);
		_exit(incd_worker_run(m->cfg, m->listen_fd, m->limits, m->positions,
				      incd_metrics_slot(m->metrics, (size_t)(s - m->slots))));
	}
	s->pid = pid;
	s->retiring = false;
	s->started_us = incd_now_us();
	incd_log(INCD_LOG_DEBUG, "started worker %d", (int)pid);
}

static size_t count(const struct master *m, bool retiring)
{
	size_t n = 0;
	for (size_t i = 0; i < m->nslots; i++)
		if (m->slots[i].pid != 0 && m->slots[i].retiring == retiring)
			n++;
	return n;
}

/* Starts workers until cfg->workers are running (not retiring). */
static void fill(struct master *m)
{
	size_t want = (size_t)m->cfg->workers;
	if (m->fast_deaths > m->cfg->workers) {
		incd_log(INCD_LOG_WARN, "workers keep dying at start; pausing respawns for 1s");
		sleep(1);
		m->fast_deaths = 0;
	}
	for (size_t i = 0; i < m->nslots && count(m, false) < want; i++)
		if (m->slots[i].pid == 0)
			spawn(m, &m->slots[i]);
}

static void reap(struct master *m)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (size_t i = 0; i < m->nslots; i++) {
			struct slot *s = &m->slots[i];
			if (s->pid != pid)
				continue;
			if (WIFEXITED(status) && WEXITSTATUS(status) == INCD_EXIT_REFUSED) {
				incd_log(INCD_LOG_ERROR,
					 "worker %d refused its database role (above): stopping",
					 (int)pid);
				m->refused = true;
			} else if (!s->retiring) {
				if (WIFSIGNALED(status))
					incd_log(INCD_LOG_WARN, "worker %d killed by signal %d",
						 (int)pid, WTERMSIG(status));
				else
					incd_log(INCD_LOG_WARN, "worker %d exited with status %d",
						 (int)pid, WEXITSTATUS(status));
				incd_metrics_worker_restarted(m->metrics);
				if (incd_now_us() - s->started_us < 1000000)
					m->fast_deaths++;
				else
					m->fast_deaths = 0;
			}
			s->pid = 0;
			/* A worker killed mid-request never ended it. */
			atomic_store(&incd_metrics_slot(m->metrics, i)->in_flight, 0);
		}
	}
}

static void signal_all(struct master *m, bool only_retiring, int sig)
{
	for (size_t i = 0; i < m->nslots; i++)
		if (m->slots[i].pid != 0 && (!only_retiring || m->slots[i].retiring))
			kill(m->slots[i].pid, sig);
}

static void reload(struct master *m)
{
	incd_log(INCD_LOG_INFO, "SIGHUP: replacing workers");
	for (size_t i = 0; i < m->nslots; i++)
		if (m->slots[i].pid != 0)
			m->slots[i].retiring = true;
	fill(m);
	signal_all(m, true, SIGTERM);
}

static void drain(struct master *m)
{
	long long deadline = incd_now_us() + (long long)m->cfg->drain_seconds * 1000000;
	incd_log(INCD_LOG_INFO, "shutting down: draining workers");
	unlink_socket(m);
	for (size_t i = 0; i < m->nslots; i++)
		m->slots[i].retiring = true;
	signal_all(m, false, SIGTERM);
	while (count(m, true) > 0 && incd_now_us() < deadline) {
		struct timespec pause = {0, 20 * 1000 * 1000};
		nanosleep(&pause, NULL);
		reap(m);
	}
	if (count(m, true) > 0) {
		incd_log(INCD_LOG_WARN, "drain timeout: killing remaining workers");
		signal_all(m, false, SIGKILL);
		while (count(m, true) > 0 && waitpid(-1, NULL, 0) > 0)
			reap(m);
	}
}

static bool write_pid_file(const char *path)
{
	FILE *f = fopen(path, "w");
	if (f == NULL) {
		incd_log(INCD_LOG_ERROR, "could not write pid file %s: %s", path, strerror(errno));
		return false;
	}
	fprintf(f, "%d\n", (int)getpid());
	return fclose(f) == 0;
}

static void install_handlers(sigset_t *wait_mask)
{
	struct sigaction sa = {0};
	sigset_t block;

	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sa.sa_flags = 0;
	sigaction(SIGPIPE, &sa, NULL);

	sigemptyset(&block);
	sigaddset(&block, SIGCHLD);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, wait_mask);
	sigdelset(wait_mask, SIGCHLD);
	sigdelset(wait_mask, SIGHUP);
	sigdelset(wait_mask, SIGTERM);
	sigdelset(wait_mask, SIGINT);
}

static void scrape_body(void *arg, struct incd_buf *out)
{
	size_t n;
	const struct incd_metrics_route *routes = incd_worker_routes(&n);
	incd_metrics_render(arg, routes, n, PACKAGE_VERSION, out);
}

/* Sleeps until a signal arrives (as sigsuspend) or, with --metrics-listen,
 * a scrape connects; serves the scrape. */
static void wait_events(struct master *m, const sigset_t *wait_mask)
{
	struct pollfd p = {.fd = m->metrics_fd, .events = POLLIN};
	int n = ppoll(&p, m->metrics_fd >= 0 ? 1 : 0, NULL, wait_mask);
	if (n > 0 && (p.revents & POLLIN))
		incd_metrics_http_serve(m->metrics_fd, scrape_body, m->metrics, &m->scrape);
}

int incd_master_run(const struct incd_config *cfg)
{
	struct master m = {.cfg = cfg, .listen_fd = -1, .metrics_fd = -1};
	sigset_t wait_mask;
	int rc = 1;

	incd_fcgi_tune();
	if (FCGX_Init() != 0) {
		incd_log(INCD_LOG_ERROR, "could not initialise libfcgi");
		return 1;
	}
	incd_log_set_pid();
	install_handlers(&wait_mask);
	switch (incd_db_check_role(cfg->database_url, cfg->allow_owner)) {
	case INCD_DB_ROLE_OK:
		break;
	case INCD_DB_ROLE_REFUSED:
		goto done;
	case INCD_DB_ROLE_UNKNOWN:
		incd_log(INCD_LOG_WARN, "could not check the database role at start-up; each "
					"worker checks it when it connects");
		break;
	}
	const char *where = cfg->listen;
	m.listen_fd = inherited_socket();
	if (m.listen_fd >= 0)
		where = "the socket systemd passed (LISTEN_FDS; --listen is not used)";
	else if (m.listen_fd == -1)
		m.listen_fd = open_socket(cfg);
	if (m.listen_fd < 0)
		goto done;
	struct stat st;
	if (where == cfg->listen && is_unix_path(cfg->listen) && stat(cfg->listen, &st) == 0) {
		m.sock_dev = st.st_dev; /* what unlink_socket may remove */
		m.sock_ino = st.st_ino;
	}
	m.limits = incd_rl_table_new((size_t)cfg->rate_limit_keys);
	if (m.limits == NULL) {
		incd_log(INCD_LOG_ERROR, "could not map the rate limit table: %s", strerror(errno));
		goto done;
	}
	incd_log(INCD_LOG_DEBUG, "rate limit table: %zu keys, %zu bytes",
		 incd_rl_table_slots(m.limits), incd_rl_table_bytes(m.limits));
	if (cfg->read_database_url != NULL) {
		m.positions = incd_rp_table_new(INCD_RP_SLOTS);
		if (m.positions == NULL) {
			incd_log(INCD_LOG_ERROR, "could not map the write position table: %s",
				 strerror(errno));
			goto done;
		}
	}
	m.metrics = incd_metrics_new(2 * (size_t)cfg->workers);
	if (m.metrics == NULL) {
		incd_log(INCD_LOG_ERROR, "could not map the metrics table: %s", strerror(errno));
		goto done;
	}
	if (cfg->metrics_listen != NULL) {
		m.metrics_fd = incd_metrics_http_listen(cfg->metrics_listen);
		if (m.metrics_fd < 0)
			goto done;
		incd_log(INCD_LOG_INFO, "metrics at http://%s/metrics", cfg->metrics_listen);
	}
	if (cfg->pid_file != NULL && !write_pid_file(cfg->pid_file))
		goto done;

	/* Room for a full old and new set during a SIGHUP replacement. */
	m.nslots = 2 * (size_t)cfg->workers;
	m.slots = incd_xcalloc(m.nslots, sizeof *m.slots);
	incd_log(INCD_LOG_INFO, "incidentd %s listening on %s with %d workers", PACKAGE_VERSION,
		 where, cfg->workers);
	fill(&m);

	while (!got_term && !m.refused) {
		if (!got_chld && !got_hup)
			wait_events(&m, &wait_mask);
		if (got_chld) {
			got_chld = 0;
			reap(&m);
		}
		if (got_hup && !m.refused) {
			got_hup = 0;
			reload(&m);
		}
		if (!got_term && !m.refused)
			fill(&m);
	}
	drain(&m);
	incd_log(INCD_LOG_INFO, "stopped");
	rc = m.refused ? 1 : 0;
done:
	if (m.listen_fd >= 0)
		close(m.listen_fd);
	unlink_socket(&m);
	if (cfg->pid_file != NULL && (rc == 0 || m.refused))
		unlink(cfg->pid_file);
	free(m.slots);
	incd_rl_table_free(m.limits);
	incd_rp_table_free(m.positions);
	if (m.metrics_fd >= 0)
		close(m.metrics_fd);
	incd_metrics_free(m.metrics);
	incd_buf_free(&m.scrape);
	return rc;
}
