/* The worker: accept loop, request reading, routing, auth, dispatch, the
 * response write and the access log line. The only module besides master.c
 * that includes fcgiapp.h.
 *
 * Signals: SIGTERM/SIGINT stay blocked; the wait watches a signalfd for
 * them, so a request in progress always completes, and a signal is seen
 * whether the wait sleeps or returns at once with connections ready (under
 * load it always does: epoll_pwait then returns the events without
 * delivering a signal its mask unblocks, and blocks it again, so a worker
 * never saw SIGTERM until the load paused). Told to quit, a worker serves
 * the connections already queued on the listening socket (for at most a
 * second) and exits.
 *
 * Each worker waits on the shared listening socket through its own epoll
 * instance with EPOLLEXCLUSIVE, so a new connection wakes one worker
 * instead of all of them; the socket is non-blocking, so losing an accept()
 * race to a sibling just returns to the wait. The same wait
 * watches the worker's database connection, so a NOTIFY that arrives
 * between requests is read then, not by a recv() in every request. */
#include "worker.h"

#include <errno.h>
#include <fcgiapp.h>
#include <poll.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "auth.h"
#include "db.h"
#include "fcgi_out.h"
#include "fcgi_tuning.h"
#include "handlers.h"
#include "log.h"
#include "ratelimit.h"
#include "render.h"
#include "replica.h"
#include "router.h"

static bool quit; /* SIGTERM or SIGINT is pending: finish up and exit */

static const struct incd_route routes[] = {
    {INCD_GET, "/healthz", incd_h_health, 0},
    {INCD_GET, "/v1/identity", incd_h_identity, INCD_SCOPE_ANY_KEY},
    {INCD_GET, "/v1/incidents", incd_h_incidents_list, INCD_SCOPE_VIEW},
    {INCD_POST, "/v1/incidents", incd_h_incidents_create, INCD_SCOPE_CREATE},
    {INCD_GET, "/v1/incidents/{id}", incd_h_incidents_show, INCD_SCOPE_VIEW},
    {INCD_GET, "/v2/incidents", incd_h_incidents_v2_list, INCD_SCOPE_VIEW},
    {INCD_POST, "/v2/incidents", incd_h_incidents_v2_create, INCD_SCOPE_CREATE},
    {INCD_GET, "/v2/incidents/{id}", incd_h_incidents_v2_show, INCD_SCOPE_VIEW},
    {INCD_POST, "/v2/incidents/{id}/actions/edit", incd_h_incidents_v2_edit, INCD_SCOPE_EDIT},
    {INCD_GET, "/v2/incident_updates", incd_h_incident_updates_list, INCD_SCOPE_VIEW},
    {INCD_GET, "/v1/severities", incd_h_severities_list, INCD_SCOPE_VIEW},
    {INCD_POST, "/v1/severities", incd_h_severities_create, INCD_SCOPE_SETTINGS},
    {INCD_GET, "/v1/severities/{id}", incd_h_severities_show, INCD_SCOPE_VIEW},
    {INCD_PUT, "/v1/severities/{id}", incd_h_severities_update, INCD_SCOPE_SETTINGS},
    {INCD_DELETE, "/v1/severities/{id}", incd_h_severities_delete, INCD_SCOPE_SETTINGS},
    {INCD_GET, "/v1/incident_types", incd_h_incident_types_list, INCD_SCOPE_VIEW},
    {INCD_GET, "/v1/incident_types/{id}", incd_h_incident_types_show, INCD_SCOPE_VIEW},
    {INCD_GET, "/v2/incident_roles", incd_h_incident_roles_list, INCD_SCOPE_VIEW},
    {INCD_POST, "/v2/incident_roles", incd_h_incident_roles_create, INCD_SCOPE_SETTINGS},
    {INCD_GET, "/v2/incident_roles/{id}", incd_h_incident_roles_show, INCD_SCOPE_VIEW},
    {INCD_PUT, "/v2/incident_roles/{id}", incd_h_incident_roles_update, INCD_SCOPE_SETTINGS},
    {INCD_DELETE, "/v2/incident_roles/{id}", incd_h_incident_roles_delete, INCD_SCOPE_SETTINGS},
    {INCD_GET, "/v2/custom_fields", incd_h_custom_fields_list, INCD_SCOPE_VIEW},
    {INCD_POST, "/v2/custom_fields", incd_h_custom_fields_create, INCD_SCOPE_SETTINGS},
    {INCD_GET, "/v2/custom_fields/{id}", incd_h_custom_fields_show, INCD_SCOPE_VIEW},
    {INCD_PUT, "/v2/custom_fields/{id}", incd_h_custom_fields_update, INCD_SCOPE_SETTINGS},
    {INCD_DELETE, "/v2/custom_fields/{id}", incd_h_custom_fields_delete, INCD_SCOPE_SETTINGS},
    {INCD_GET, "/v1/custom_field_options", incd_h_custom_field_options_list, INCD_SCOPE_VIEW},
    {INCD_POST, "/v1/custom_field_options", incd_h_custom_field_options_create,
     INCD_SCOPE_SETTINGS},
    {INCD_GET, "/v1/custom_field_options/{id}", incd_h_custom_field_options_show, INCD_SCOPE_VIEW},
    {INCD_PUT, "/v1/custom_field_options/{id}", incd_h_custom_field_options_update,
     INCD_SCOPE_SETTINGS},
    {INCD_DELETE, "/v1/custom_field_options/{id}", incd_h_custom_field_options_delete,
     INCD_SCOPE_SETTINGS},
    {INCD_GET, "/v2/users", incd_h_users_list, INCD_SCOPE_VIEW},
    {INCD_GET, "/v2/users/{id}", incd_h_users_show, INCD_SCOPE_VIEW},
    {INCD_GET, "/v1/incident_statuses", incd_h_incident_statuses_list, INCD_SCOPE_VIEW},
    {INCD_POST, "/v1/incident_statuses", incd_h_incident_statuses_create, INCD_SCOPE_SETTINGS},
    {INCD_GET, "/v1/incident_statuses/{id}", incd_h_incident_statuses_show, INCD_SCOPE_VIEW},
    {INCD_PUT, "/v1/incident_statuses/{id}", incd_h_incident_statuses_update, INCD_SCOPE_SETTINGS},
    {INCD_DELETE, "/v1/incident_statuses/{id}", incd_h_incident_statuses_delete,
     INCD_SCOPE_SETTINGS},
    {INCD_GET, "/v2/incident_timestamps", incd_h_incident_timestamps_list, INCD_SCOPE_VIEW},
    {INCD_GET, "/v2/incident_timestamps/{id}", incd_h_incident_timestamps_show, INCD_SCOPE_VIEW},
};

_Static_assert(INCD_ARRAY_LEN(routes) < INCD_METRICS_ROUTES,
	       "the metrics table has a row per route and one for unmatched requests");

struct worker {
	const struct incd_config *cfg;
	int ep;		      /* epoll: the listening socket, quit_fd and db_fd */
	int quit_fd;	      /* signalfd: readable while SIGTERM or SIGINT is pending */
	int db_fd;	      /* the database socket in ep, -1 if none */
	unsigned long db_gen; /* the connection generation db_fd belongs to */
	struct incd_db *db;
	struct incd_replica *replica; /* NULL without --read-database-url */
	struct incd_auth_cache *auth;
	struct incd_render *render;
	struct incd_rl_table *limits;	   /* the master's, shared by every worker */
	struct incd_metrics_slot *metrics; /* this slot's block, shared with the master */
	size_t route;			   /* the request's route index; unmatched if none */
	int64_t full_warned;		   /* when the table-full warning was last logged */
	struct incd_response resp;
	struct incd_buf head;
	struct incd_db *served_by; /* the connection the request's handler used last */
};

static char *param_dup(FCGX_Request *fr, const char *name)
{
	const char *v = FCGX_GetParam(name, fr->envp);
	return v ? incd_xstrdup(v) : NULL;
}

/* Copies what the request needs out of the FastCGI environment, which dies
 * at FCGX_Finish_r. */
static bool read_params(FCGX_Request *fr, struct incd_request *req, struct incd_error *err)
{
	req->method_name = param_dup(fr, "REQUEST_METHOD");
	req->method = incd_method_parse(req->method_name);
	req->authorization = param_dup(fr, "HTTP_AUTHORIZATION");
	req->request_id = param_dup(fr, "REQUEST_ID");
	if (req->request_id == NULL || *req->request_id == '\0' || strlen(req->request_id) > 64) {
		char id[33];
		incd_request_id_new(id);
		free(req->request_id);
		req->request_id = incd_xstrdup(id);
	}
	/* The path as the client sent it, dot segments and all. Never
	 * DOCUMENT_URI: nginx has resolved those there, and
	 * "/v1/x/../incidents" would become the list. */
	const char *uri = FCGX_GetParam("REQUEST_URI", fr->envp);
	const char *qs = FCGX_GetParam("QUERY_STRING", fr->envp);
	if (uri == NULL)
		uri = "/";
	if (qs == NULL) {
		const char *q = strchr(uri, '?');
		qs = q ? q + 1 : "";
	}
	req->query = incd_xstrdup(qs);
	if (!incd_parse_uri_path(uri, &req->path)) {
		req->path = incd_xstrdup("?");
		return incd_fail(err, 404, "not_found", NULL, "No such route");
	}
	/* A query the HTTP layer cannot decode is the contract's 400, for
	 * every route and every parameter, known or not: handlers then see
	 * only text they can judge (422 for a value they do not accept). The
	 * message leaves the name to source.field: cut to fit, it could end
	 * inside a character. */
	char field[sizeof err->field];
	if (!incd_query_check(req->query, field, sizeof field))
		return incd_fail(err, 400, "bad_request", field,
				 "This query parameter does not decode to UTF-8 text without NUL "
				 "(percent-escapes are %%XX, two hex digits)");
	return true;
}

static bool read_body(FCGX_Request *fr, struct incd_request *req, struct incd_error *err)
{
	size_t len;
	switch (incd_parse_content_length(FCGX_GetParam("CONTENT_LENGTH", fr->envp), INCD_MAX_BODY,
					  &len)) {
	case INCD_LENGTH_OK:
		break;
	case INCD_LENGTH_TOO_LARGE:
		return incd_fail(err, 413, "request_too_large", NULL,
				 "Request body is larger than 1 MiB");
	case INCD_LENGTH_INVALID:
		return incd_fail(err, 400, "invalid_json", NULL, "Invalid Content-Length");
	}
	req->body = incd_xmalloc(len + 1);
	size_t got = 0;
	while (got < len) {
		int n = FCGX_GetStr(req->body + got, (int)(len - got), fr->in);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	req->body[got] = '\0';
	req->body_len = got;
	if (got < len)
		return incd_fail(err, 400, "invalid_json", NULL, "Request body was cut short");
	return true;
}

/* The key's rate limit, before anything else it asks for (so a 429 writes
 * nothing), after authentication (so a 401 costs no token). Every
 * response to a limited key carries the headers, errors included; an
 * unlimited key's carries none. */
static bool rate_limit(struct worker *w, const struct incd_identity *who, struct incd_error *err)
{
	struct incd_rl_verdict v;

	if (who->rate_limit == 0)
		return true;
	int64_t now = incd_rl_clock();
	incd_rl_take(w->limits, who->api_key_id, who->rate_limit, now, &v);
	if (!v.known) {
		/* Every slot of the key's path holds another key's unfinished
		 * bucket: let it through unmetered, without headers (the spec
		 * omits them rather than guess), and say so once a minute. */
		if (w->full_warned == 0 || now - w->full_warned > INCD_RL_WINDOW_NS) {
			w->full_warned = now;
			incd_log(INCD_LOG_WARN,
				 "rate limit table full (--rate-limit-keys %d): key %s not metered",
				 w->cfg->rate_limit_keys, who->api_key_id);
		}
		return true;
	}
	int64_t unix_ns = incd_rl_unix_ns();
	incd_rl_headers(&w->resp, &v, unix_ns);
	if (!v.allowed)
		incd_metrics_inc(&w->metrics->rate_limited);
	return v.allowed || incd_rl_fail(err, &v, who->name, unix_ns);
}

/* Where the database work of a request goes: the one place that decides
 * between the primary and the read replica (docs/REPLICAS.md). A GET by an
 * API key only reads, and may read on the replica; /healthz (no key) is
 * about the primary. Every other method writes, on the primary, and the
 * key's write position is recorded after a success, so that its next reads
 * see the write. A read the replica could not serve (503) runs again on
 * the primary: reads are safe to repeat, and no read fails because only
 * the replica is down. */
static bool run_handler(struct worker *w, const struct incd_route *route, struct incd_ctx *ctx)
{
	const char *key_id = ctx->who != NULL ? ctx->who->api_key_id : NULL;
	bool read = route->method == INCD_GET && key_id != NULL;
	size_t headers_len = w->resp.headers.len; /* the rate limit's, kept for a retry */

	if (read) {
		ctx->db = incd_replica_pick(w->replica, w->db, key_id);
		incd_db_forget_sqlstate(ctx->db);
	}
	bool ok = route->handler(ctx);
	if (!ok && ctx->db != w->db && incd_replica_failed(w->replica, ctx->err)) {
		incd_response_rewind(&w->resp, headers_len);
		*ctx->err = (struct incd_error){0};
		incd_db_forget_sqlstate(ctx->db);
		ctx->db = w->db;
		ok = route->handler(ctx);
	}
	if (ok && !read && key_id != NULL)
		incd_replica_wrote(w->replica, w->db, key_id);
	w->served_by = ctx->db;
	return ok;
}

/* Routing, authentication, rate limit, authorisation, then the handler. */
static bool dispatch(struct worker *w, FCGX_Request *fr, struct incd_request *req,
		     struct incd_error *err)
{
	struct incd_route_match m;
	const struct incd_identity *who = NULL;

	switch (incd_route(routes, INCD_ARRAY_LEN(routes), req->method, req->path, &m)) {
	case INCD_ROUTE_NOT_FOUND:
		return incd_fail(err, 404, "not_found", NULL, "No route for %s %s",
				 req->method_name ? req->method_name : "?", req->path);
	case INCD_ROUTE_METHOD_NOT_ALLOWED:
		incd_response_header(&w->resp, "Allow", m.allow);
		return incd_fail(err, 405, "method_not_allowed", NULL,
				 "Method %s is not allowed here; allowed: %s",
				 req->method_name ? req->method_name : "?", m.allow);
	case INCD_ROUTE_FOUND:
		break;
	}
	w->route = (size_t)(m.route - routes);
	if (m.route->scopes != 0) {
		if (!incd_authenticate(w->auth, w->db, req->authorization, &who, err))
			return false;
		if (!rate_limit(w, who, err))
			return false;
		if ((who->scopes & m.route->scopes) == 0)
			return incd_fail(err, 403, "missing_permissions", NULL,
					 "This API key lacks the role this operation needs");
	}
	if (!read_body(fr, req, err))
		return false;

	struct incd_ctx ctx = {
	    .cfg = w->cfg,
	    .req = req,
	    .resp = &w->resp,
	    .db = w->db,
	    .render = w->render,
	    .who = who,
	    .param = m.param,
	    .err = err,
	};
	return run_handler(w, m.route, &ctx);
}

static void drain_input(FCGX_Request *fr)
{
	/* Leftover stdin would confuse the next request on a kept connection. */
	char sink[4096];
	while (FCGX_GetStr(sink, sizeof sink, fr->in) > 0)
		;
}

static void log_access(struct worker *w, const struct incd_request *req, long long us)
{
	if (!incd_log_enabled(INCD_LOG_INFO))
		return;
	struct incd_access a = {
	    .method = req->method_name ? req->method_name : "-",
	    .path = req->path ? req->path : "-",
	    .route = w->route < INCD_ARRAY_LEN(routes) ? routes[w->route].pattern : NULL,
	    .status = w->resp.status,
	    .duration_us = us,
	    .request_id = req->request_id,
	    .sqlstate = incd_db_last_sqlstate(w->served_by ? w->served_by : w->db),
	};
	incd_log_access(&a);
}

/* Serves one request and ends it (FCGX_Finish_r). */
static void serve(struct worker *w, FCGX_Request *fr)
{
	long long start = incd_now_us();
	struct incd_request req = {0};
	struct incd_error err = {0};

	incd_metrics_inc(&w->metrics->in_flight);
	w->route = SIZE_MAX;
	incd_response_reset(&w->resp);
	incd_buf_reset(&w->head);
	incd_db_forget_sqlstate(w->db);
	w->served_by = NULL;
	bool ok = read_params(fr, &req, &err) && dispatch(w, fr, &req, &err);
	if (!ok)
		incd_response_error(&w->resp, &err, req.request_id);
	drain_input(fr);

	/* Counted before the response leaves (its last record ends the
	 * request for nginx), so a client that has its answer finds it in the
	 * next scrape; the duration runs to here, for the log line too. */
	long long us = incd_now_us() - start;
	incd_metrics_request(w->metrics, w->route, w->resp.status, us * 1000);
	if (w->resp.replayed)
		incd_metrics_inc(&w->metrics->replays);
	atomic_store_explicit(&w->metrics->in_flight, 0, memory_order_relaxed);

	incd_response_head(&w->resp, req.request_id, &w->head);
	struct incd_fcgi_part parts[] = {{w->head.data, w->head.len},
					 {w->resp.body.data, w->resp.body.len}};
	incd_fcgi_respond(fr, parts, w->resp.status != 204 ? 2 : 1);
	/* The response leaves before the log line is written: nginx and the
	 * client do not wait for it. */
	FCGX_Finish_r(fr);
	log_access(w, &req, us);
	incd_request_free(&req);
}

/* Blocks SIGTERM and SIGINT for good and returns a signalfd that is
 * readable while one is pending (-1 on failure). */
static int setup_signals(void)
{
	struct sigaction sa = {0};
	sigset_t block;

	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);

	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, NULL);
	return signalfd(-1, &block, SFD_NONBLOCK | SFD_CLOEXEC);
}

/* Keeps the current database connection's socket in the wait set. A closed
 * socket has left the epoll set by itself, and its number may be the new
 * connection's, so DEL may fail harmlessly before the ADD. */
static void watch_db(struct worker *w)
{
	unsigned long gen = incd_db_generation(w->db);
	if (gen == w->db_gen)
		return;
	if (w->db_fd >= 0)
		epoll_ctl(w->ep, EPOLL_CTL_DEL, w->db_fd, NULL);
	w->db_gen = gen;
	w->db_fd = incd_db_socket(w->db);
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = w->db_fd};
	if (w->db_fd >= 0 && epoll_ctl(w->ep, EPOLL_CTL_ADD, w->db_fd, &ev) != 0) {
		/* Then notifications wait for the next statement's result,
		 * and the cache TTL bounds how stale a key can be. */
		incd_log(INCD_LOG_WARN, "could not watch the database connection: %s",
			 strerror(errno));
		w->db_fd = -1;
	}
}

enum { READY_REQUEST = 1, READY_DB = 2 };

/* Waits until a kept FastCGI connection (kept_fd >= 0) or the listening
 * socket has input, the database connection has input, or SIGTERM/SIGINT
 * is pending (then quit is set); *ready says which of the first two. False
 * on an unexpected error. */
static bool wait_readable(struct worker *w, int kept_fd, unsigned *ready)
{
	int n;
	*ready = 0;
	watch_db(w);
	if (kept_fd >= 0) {
		struct pollfd p[3] = {{.fd = kept_fd, .events = POLLIN},
				      {.fd = w->quit_fd, .events = POLLIN},
				      {.fd = w->db_fd, .events = POLLIN}};
		n = poll(p, w->db_fd >= 0 ? 3 : 2, -1);
		if (n > 0 && p[0].revents != 0)
			*ready |= READY_REQUEST;
		if (n > 0 && p[1].revents != 0)
			quit = true;
		if (n > 0 && w->db_fd >= 0 && p[2].revents != 0)
			*ready |= READY_DB;
	} else {
		struct epoll_event ev[3];
		n = epoll_wait(w->ep, ev, 3, -1);
		for (int i = 0; i < n; i++) {
			if (ev[i].data.fd == w->quit_fd)
				quit = true;
			else
				*ready |= ev[i].data.fd == w->db_fd ? READY_DB : READY_REQUEST;
		}
	}
	if (n < 0 && errno != EINTR) {
		incd_log(INCD_LOG_ERROR, "could not wait for requests: %s", strerror(errno));
		return false;
	}
	return true;
}

/* A request passes through nginx, this worker and a PostgreSQL backend,
 * each woken by the one before. Under SCHED_OTHER a woken worker preempts
 * whichever of them is running on its CPU, mid-query or mid-response; under
 * SCHED_BATCH (same priority, no privilege needed) it waits for that one to
 * block, so each step runs to completion with a warm cache. The benchmark
 * measured fewer PostgreSQL preemptions per request and more requests/s
 * (docs/DESIGN.md, "Scheduling"). */
static void set_scheduler(bool batch)
{
	struct sched_param none = {0};
	if (batch && sched_setscheduler(0, SCHED_BATCH, &none) != 0)
		incd_log(INCD_LOG_WARN, "could not switch to SCHED_BATCH: %s", strerror(errno));
}

const struct incd_metrics_route *incd_worker_routes(size_t *n)
{
	static struct incd_metrics_route labels[INCD_ARRAY_LEN(routes)];
	if (labels[0].pattern == NULL)
		for (size_t i = 0; i < INCD_ARRAY_LEN(routes); i++)
			labels[i] = (struct incd_metrics_route){incd_method_name(routes[i].method),
								routes[i].pattern};
	*n = INCD_ARRAY_LEN(routes);
	return labels;
}

int incd_worker_run(const struct incd_config *cfg, int listen_fd, struct incd_rl_table *limits,
		    struct incd_rp_table *positions, struct incd_metrics_slot *metrics)
{
	struct worker w = {.cfg = cfg, .db_fd = -1, .limits = limits, .metrics = metrics};
	FCGX_Request fr;
	struct incd_error err;
	unsigned ready;
	long long drain_until = 0;

	incd_log_set_pid();
	w.quit_fd = setup_signals();
	/* A worker must not outlive its master. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() == 1)
		return 0;
	set_scheduler(cfg->sched_batch);

	w.db = incd_db_new(cfg->database_url, cfg->public_url, cfg->allow_owner);
	w.replica =
	    incd_replica_new(cfg->read_database_url, cfg->public_url, cfg->allow_owner, positions);
	incd_db_count_into(w.db, &metrics->db);
	incd_replica_count_into(w.replica, &metrics->replica);
	w.auth = incd_auth_cache_new();
	w.render = incd_render_new(cfg->public_url, (size_t)cfg->render_cache_mib << 20);
	if (!incd_db_ensure(w.db, &err))
		incd_log(INCD_LOG_WARN, "worker started without a database connection");
	if (FCGX_InitRequest(&fr, listen_fd, 0) != 0) {
		incd_log(INCD_LOG_ERROR, "could not initialise the FastCGI request");
		return 1;
	}
	incd_log(INCD_LOG_DEBUG, "worker ready");

	w.ep = incd_fcgi_listen_waiter(listen_fd);
	struct epoll_event qev = {.events = EPOLLIN, .data.fd = w.quit_fd};
	if (w.ep < 0 || w.quit_fd < 0 || epoll_ctl(w.ep, EPOLL_CTL_ADD, w.quit_fd, &qev) != 0) {
		incd_log(INCD_LOG_ERROR, "could not set up the wait for requests: %s",
			 strerror(errno));
		if (w.ep >= 0)
			close(w.ep);
		w.ep = -1;
	}
	while (w.ep >= 0) {
		if (quit) {
			/* The request in hand is done: serve the connections
			 * already queued (on shutdown the master has removed
			 * the socket's path, so the queue only drains), for at
			 * most a second, then exit. */
			if (drain_until == 0)
				drain_until = incd_now_us() + 1000000;
			if (fr.ipcFd >= 0 || incd_now_us() > drain_until)
				break;
		} else {
			if (!wait_readable(&w, fr.ipcFd, &ready))
				break;
			if (ready & READY_DB)
				incd_db_input_ready(w.db);
			if (!(ready & READY_REQUEST))
				continue;
		}
		int rc = FCGX_Accept_r(&fr);
		if (rc < 0) {
			if (quit && (rc == -EAGAIN || rc == -EWOULDBLOCK))
				break; /* the queue is empty */
			if (rc == -EAGAIN || rc == -EWOULDBLOCK || rc == -EINTR ||
			    rc == -ECONNABORTED)
				continue;
			incd_log(INCD_LOG_ERROR, "could not accept a FastCGI request: %s",
				 strerror(-rc));
			break;
		}
		serve(&w, &fr);
	}
	FCGX_Free(&fr, 1);
	if (w.ep >= 0)
		close(w.ep);
	if (w.quit_fd >= 0)
		close(w.quit_fd);
	incd_auth_cache_free(w.auth);
	incd_render_free(w.render);
	incd_replica_free(w.replica);
	incd_db_free(w.db);
	incd_response_free(&w.resp);
	incd_buf_free(&w.head);
	return 0;
}
