/* Metrics: counting into worker blocks, summing them at scrape time and
 * the Prometheus text the scrape renders. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "metrics.h"

static const struct incd_metrics_route routes[] = {
    {"GET", "/v2/incidents/{id}"},
    {"POST", "/v2/incidents"},
};

static char *render(struct incd_metrics *m)
{
	struct incd_buf out = {0};
	incd_metrics_render(m, routes, 2, "1.2.3", &out);
	return out.data;
}

/* The value of the sample whose line starts with series (name and labels
 * exactly), or -1 if absent. */
static double sample(const char *text, const char *series)
{
	size_t n = strlen(series);
	for (const char *p = text; p != NULL && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, series, n) == 0 && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	}
	return -1;
}

START_TEST(status_index_is_bounded)
{
	int codes[] = {200, 201, 204, 404, 422, 429, 503, 100, 299, 302, 418, 599, 0, -1, 1000};
	for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
		ck_assert_uint_lt(incd_metrics_status_index(codes[i]), INCD_METRICS_STATUSES);
	ck_assert_uint_ne(incd_metrics_status_index(200), incd_metrics_status_index(201));
	ck_assert_uint_eq(incd_metrics_status_index(418), incd_metrics_status_index(451));
	ck_assert_uint_ne(incd_metrics_status_index(418), incd_metrics_status_index(504));
}
END_TEST

START_TEST(buckets_include_their_bound)
{
	ck_assert_uint_eq(incd_metrics_bucket(0), 0);
	ck_assert_uint_eq(incd_metrics_bucket(500000), 0);
	ck_assert_uint_eq(incd_metrics_bucket(500001), 1);
	ck_assert_uint_eq(incd_metrics_bucket(5000000000LL), INCD_METRICS_BUCKETS - 1);
	ck_assert_uint_eq(incd_metrics_bucket(5000000001LL), INCD_METRICS_BUCKETS);
}
END_TEST

/* Two slots, one of them written by another process (the table is shared
 * memory mapped before the fork): the scrape sums both. */
START_TEST(sums_the_slots_of_every_process)
{
	struct incd_metrics *m = incd_metrics_new(4);
	ck_assert_ptr_nonnull(m);
	struct incd_metrics_slot *a = incd_metrics_slot(m, 0), *b = incd_metrics_slot(m, 3);
	incd_metrics_request(a, 0, 200, 700000);  /* 0.7 ms */
	incd_metrics_request(a, 1, 201, 3000000); /* 3 ms */
	incd_metrics_request(a, 99, 404, 100000); /* unmatched */
	incd_metrics_inc(&a->replays);
	pid_t pid = fork();
	if (pid == 0) {
		incd_metrics_request(b, 0, 200, 7000000000LL); /* 7 s: +Inf only */
		incd_metrics_request(b, 1, 418, 1000);
		incd_metrics_inc(&b->rate_limited);
		incd_metrics_inc(&b->db.lost);
		incd_metrics_inc(&b->db.internal);
		incd_metrics_inc(&b->in_flight);
		_exit(0);
	}
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	incd_metrics_worker_restarted(m);
	char *t = render(m);

	ck_assert_double_eq(
	    sample(t, "incidentd_http_requests_total{method=\"GET\",route=\"/v2/incidents/{id}\","
		      "status=\"200\"}"),
	    2);
	ck_assert_double_eq(
	    sample(t, "incidentd_http_requests_total{method=\"POST\",route=\"/v2/incidents\","
		      "status=\"201\"}"),
	    1);
	ck_assert_double_eq(
	    sample(t, "incidentd_http_requests_total{method=\"POST\",route=\"/v2/incidents\","
		      "status=\"4xx\"}"),
	    1);
	ck_assert_double_eq(
	    sample(t, "incidentd_http_requests_total{method=\"other\",route=\"unmatched\","
		      "status=\"404\"}"),
	    1);
	/* Histogram: cumulative buckets, +Inf = _count, _sum in seconds. */
	const char *h = "incidentd_http_request_duration_seconds";
	char s[256];
	snprintf(s, sizeof s,
		 "%s_bucket{method=\"GET\",route=\"/v2/incidents/{id}\",le=\"0.0005\"}", h);
	ck_assert_double_eq(sample(t, s), 0);
	snprintf(s, sizeof s, "%s_bucket{method=\"GET\",route=\"/v2/incidents/{id}\",le=\"0.001\"}",
		 h);
	ck_assert_double_eq(sample(t, s), 1);
	snprintf(s, sizeof s, "%s_bucket{method=\"GET\",route=\"/v2/incidents/{id}\",le=\"5\"}", h);
	ck_assert_double_eq(sample(t, s), 1);
	snprintf(s, sizeof s, "%s_bucket{method=\"GET\",route=\"/v2/incidents/{id}\",le=\"+Inf\"}",
		 h);
	ck_assert_double_eq(sample(t, s), 2);
	snprintf(s, sizeof s, "%s_count{method=\"GET\",route=\"/v2/incidents/{id}\"}", h);
	ck_assert_double_eq(sample(t, s), 2);
	snprintf(s, sizeof s, "%s_sum{method=\"GET\",route=\"/v2/incidents/{id}\"}", h);
	ck_assert_double_eq_tol(sample(t, s), 7.0007, 1e-9);
	ck_assert_ptr_nonnull(strstr(t,
				     "incidentd_http_request_duration_seconds_sum{method=\"GET\","
				     "route=\"/v2/incidents/{id}\"} 7.000700000\n"));

	ck_assert_double_eq(sample(t, "incidentd_idempotent_replays_total"), 1);
	ck_assert_double_eq(sample(t, "incidentd_rate_limited_requests_total"), 1);
	ck_assert_double_eq(sample(t, "incidentd_http_requests_in_flight"), 1);
	ck_assert_double_eq(sample(t, "incidentd_db_connections_lost_total"), 1);
	ck_assert_double_eq(sample(t, "incidentd_db_errors_total{kind=\"internal\"}"), 1);
	ck_assert_double_eq(sample(t, "incidentd_db_errors_total{kind=\"unavailable\"}"), 0);
	ck_assert_double_eq(sample(t, "incidentd_worker_restarts_total"), 1);
	ck_assert_double_eq(sample(t, "incidentd_build_info{version=\"1.2.3\"}"), 1);
	ck_assert_double_gt(sample(t, "process_start_time_seconds"), 1.7e9);
	/* Series nothing was counted for are left out, not zeros by the
	 * thousand. */
	ck_assert_ptr_null(strstr(t, "status=\"500\""));
	free(t);
	incd_metrics_free(m);
}
END_TEST

/* Every sample line belongs to a metric announced by # TYPE above it, and
 * each metric is announced once (promtool checks the rest in the e2e). */
START_TEST(every_sample_has_a_type)
{
	struct incd_metrics *m = incd_metrics_new(1);
	incd_metrics_request(incd_metrics_slot(m, 0), 1, 201, 1);
	char *t = render(m);
	char current[128] = "";
	int types = 0;
	for (char *line = strtok(t, "\n"); line != NULL; line = strtok(NULL, "\n")) {
		if (strncmp(line, "# TYPE ", 7) == 0) {
			ck_assert_int_eq(sscanf(line + 7, "%127s", current), 1);
			types++;
			continue;
		}
		if (line[0] == '#')
			continue;
		ck_assert_msg(current[0] && strncmp(line, current, strlen(current)) == 0,
			      "sample outside its metric: %s", line);
	}
	ck_assert_int_ge(types, 11);
	free(t);
	incd_metrics_free(m);
}
END_TEST

/* Label values are escaped as the text format wants. */
START_TEST(labels_are_escaped)
{
	static const struct incd_metrics_route odd[] = {{"GET", "/a\"b\\c\nd"}};
	struct incd_metrics *m = incd_metrics_new(1);
	incd_metrics_request(incd_metrics_slot(m, 0), 0, 200, 1);
	struct incd_buf out = {0};
	incd_metrics_render(m, odd, 1, "v", &out);
	ck_assert_ptr_nonnull(strstr(out.data, "route=\"/a\\\"b\\\\c\\nd\""));
	incd_buf_free(&out);
	incd_metrics_free(m);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, status_index_is_bounded);
	tcase_add_test(tc, buckets_include_their_bound);
	tcase_add_test(tc, sums_the_slots_of_every_process);
	tcase_add_test(tc, every_sample_has_a_type);
	tcase_add_test(tc, labels_are_escaped);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"
