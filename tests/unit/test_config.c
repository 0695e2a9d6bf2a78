/* Configuration: defaults, environment, flags overriding the environment,
 * and clear errors for bad values. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "config.h"

static const char *env_values[16][2];

static const char *fake_env(const char *name)
{
	for (size_t i = 0; i < 16 && env_values[i][0]; i++)
		if (strcmp(env_values[i][0], name) == 0)
			return env_values[i][1];
	return NULL;
}

static void set_env(size_t i, const char *name, const char *value)
{
	env_values[i][0] = name;
	env_values[i][1] = value;
	env_values[i + 1][0] = NULL;
}

static enum incd_config_result load(struct incd_config *cfg, int argc, char **argv, char *err)
{
	FILE *devnull = fopen("/dev/null", "w");
	enum incd_config_result r = incd_config_load(cfg, argc, argv, fake_env, devnull, err, 256);
	fclose(devnull);
	return r;
}

START_TEST(defaults)
{
	struct incd_config cfg;
	char err[256];
	char *argv[] = {"incidentd", NULL};
	env_values[0][0] = NULL;
	ck_assert_int_eq(load(&cfg, 1, argv, err), INCD_CONFIG_OK);
	ck_assert_str_eq(cfg.listen, "127.0.0.1:9000");
	ck_assert_str_eq(cfg.public_url, "http://127.0.0.1:8080");
	ck_assert_int_ge(cfg.workers, 1);
	ck_assert_int_eq(cfg.socket_mode, 0660);
	ck_assert_ptr_null(cfg.pid_file);
	ck_assert_int_eq(cfg.log_level, INCD_LOG_INFO);
	ck_assert(cfg.sched_batch);
	ck_assert_int_eq(cfg.rate_limit_keys, 16384);
	ck_assert(!cfg.allow_owner);
	ck_assert_ptr_null(cfg.read_database_url);
	incd_config_free(&cfg);
}
END_TEST

/* The read replica: from the environment, a flag over it, and an empty
 * value meaning none (today's behaviour: everything on the primary). */
START_TEST(read_database_url)
{
	struct incd_config cfg;
	char err[256];
	char *none[] = {"incidentd", NULL};
	set_env(0, "INCIDENTD_READ_DATABASE_URL", "postgresql://app@replica/incidentd");
	ck_assert_int_eq(load(&cfg, 1, none, err), INCD_CONFIG_OK);
	ck_assert_str_eq(cfg.read_database_url, "postgresql://app@replica/incidentd");
	incd_config_free(&cfg);

	char *flag[] = {"incidentd", "--read-database-url", "host=r2 dbname=incidentd", NULL};
	ck_assert_int_eq(load(&cfg, 3, flag, err), INCD_CONFIG_OK);
	ck_assert_str_eq(cfg.read_database_url, "host=r2 dbname=incidentd");
	incd_config_free(&cfg);

	char *empty[] = {"incidentd", "--read-database-url=", NULL};
	ck_assert_int_eq(load(&cfg, 2, empty, err), INCD_CONFIG_OK);
	ck_assert_ptr_null(cfg.read_database_url);
	incd_config_free(&cfg);
	env_values[0][0] = NULL;
}
END_TEST

START_TEST(env_then_flags)
{
	struct incd_config cfg;
	char err[256];
	char *argv[] = {"incidentd", "--workers=3", "--public-url", "https://x.example/", NULL};
	set_env(0, "INCIDENTD_WORKERS", "7");
	set_env(1, "DATABASE_URL", "postgresql:///db");
	set_env(2, "INCIDENTD_LOG_LEVEL", "debug");
	set_env(3, "INCIDENTD_SOCKET_MODE", "0666");
	set_env(4, "INCIDENTD_SCHEDULER", "normal");
	set_env(5, "INCIDENTD_RATE_LIMIT_KEYS", "100");
	ck_assert_int_eq(load(&cfg, 4, argv, err), INCD_CONFIG_OK);
	ck_assert_int_eq(cfg.rate_limit_keys, 100);
	ck_assert(!cfg.sched_batch);
	ck_assert_int_eq(cfg.workers, 3);
	ck_assert_str_eq(cfg.database_url, "postgresql:///db");
	ck_assert_str_eq(cfg.public_url, "https://x.example");
	ck_assert_int_eq(cfg.log_level, INCD_LOG_DEBUG);
	ck_assert_int_eq(cfg.socket_mode, 0666);
	incd_config_free(&cfg);
}
END_TEST

START_TEST(errors)
{
	struct incd_config cfg;
	char err[256];
	char *bad_workers[] = {"incidentd", "--workers=0", NULL};
	char *unknown[] = {"incidentd", "--frobnicate", NULL};
	char *extra[] = {"incidentd", "stray", NULL};
	env_values[0][0] = NULL;
	ck_assert_int_eq(load(&cfg, 2, bad_workers, err), INCD_CONFIG_ERROR);
	ck_assert_ptr_nonnull(strstr(err, "--workers"));
	incd_config_free(&cfg);
	ck_assert_int_eq(load(&cfg, 2, unknown, err), INCD_CONFIG_ERROR);
	ck_assert_ptr_nonnull(strstr(err, "--frobnicate"));
	incd_config_free(&cfg);
	ck_assert_int_eq(load(&cfg, 2, extra, err), INCD_CONFIG_ERROR);
	incd_config_free(&cfg);
	set_env(0, "INCIDENTD_LOG_LEVEL", "loud");
	char *none[] = {"incidentd", NULL};
	ck_assert_int_eq(load(&cfg, 1, none, err), INCD_CONFIG_ERROR);
	ck_assert_ptr_nonnull(strstr(err, "loud"));
	incd_config_free(&cfg);
	char *bad_sched[] = {"incidentd", "--scheduler=fifo", NULL};
	env_values[0][0] = NULL;
	ck_assert_int_eq(load(&cfg, 2, bad_sched, err), INCD_CONFIG_ERROR);
	ck_assert_ptr_nonnull(strstr(err, "fifo"));
	incd_config_free(&cfg);
}
END_TEST

/* --allow-owner takes no value; its variable takes a yes or a no. */
START_TEST(allow_owner)
{
	struct incd_config cfg;
	char err[256];
	char *none[] = {"incidentd", NULL};
	char *flag[] = {"incidentd", "--allow-owner", NULL};
	char *with_value[] = {"incidentd", "--allow-owner=no", NULL};

	env_values[0][0] = NULL;
	ck_assert_int_eq(load(&cfg, 2, flag, err), INCD_CONFIG_OK);
	ck_assert(cfg.allow_owner);
	incd_config_free(&cfg);
	ck_assert_int_eq(load(&cfg, 2, with_value, err), INCD_CONFIG_ERROR);
	ck_assert_ptr_nonnull(strstr(err, "--allow-owner"));
	incd_config_free(&cfg);

	set_env(0, "INCIDENTD_ALLOW_OWNER", "Yes");
	ck_assert_int_eq(load(&cfg, 1, none, err), INCD_CONFIG_OK);
	ck_assert(cfg.allow_owner);
	incd_config_free(&cfg);
	set_env(0, "INCIDENTD_ALLOW_OWNER", "0");
	ck_assert_int_eq(load(&cfg, 1, none, err), INCD_CONFIG_OK);
	ck_assert(!cfg.allow_owner);
	incd_config_free(&cfg);
	/* The flag wins over a variable that says no. */
	ck_assert_int_eq(load(&cfg, 2, flag, err), INCD_CONFIG_OK);
	ck_assert(cfg.allow_owner);
	incd_config_free(&cfg);
	set_env(0, "INCIDENTD_ALLOW_OWNER", "maybe");
	ck_assert_int_eq(load(&cfg, 1, none, err), INCD_CONFIG_ERROR);
	ck_assert_ptr_nonnull(strstr(err, "INCIDENTD_ALLOW_OWNER"));
	ck_assert_ptr_nonnull(strstr(err, "maybe"));
	incd_config_free(&cfg);
}
END_TEST

/* Metrics are off unless asked for; logs are text unless json is asked for. */
START_TEST(metrics_and_log_format)
{
	struct incd_config cfg;
	char err[256];
	char *none[] = {"incidentd", NULL};
	env_values[0][0] = NULL;
	ck_assert_int_eq(load(&cfg, 1, none, err), INCD_CONFIG_OK);
	ck_assert_ptr_null(cfg.metrics_listen);
	ck_assert_int_eq(cfg.log_format, INCD_LOG_TEXT);
	incd_config_free(&cfg);

	set_env(0, "INCIDENTD_METRICS_LISTEN", "127.0.0.1:9464");
	set_env(1, "INCIDENTD_LOG_FORMAT", "json");
	ck_assert_int_eq(load(&cfg, 1, none, err), INCD_CONFIG_OK);
	ck_assert_str_eq(cfg.metrics_listen, "127.0.0.1:9464");
	ck_assert_int_eq(cfg.log_format, INCD_LOG_JSON);
	incd_config_free(&cfg);

	char *off[] = {"incidentd", "--metrics-listen", "off", "--log-format", "text", NULL};
	ck_assert_int_eq(load(&cfg, 5, off, err), INCD_CONFIG_OK);
	ck_assert_ptr_null(cfg.metrics_listen);
	ck_assert_int_eq(cfg.log_format, INCD_LOG_TEXT);
	incd_config_free(&cfg);

	env_values[0][0] = NULL;
	char *bad[] = {"incidentd", "--log-format=logfmt", NULL};
	ck_assert_int_eq(load(&cfg, 2, bad, err), INCD_CONFIG_ERROR);
	ck_assert_str_eq(err, "invalid --log-format: 'logfmt' (expected text or json)");
	incd_config_free(&cfg);
}
END_TEST

START_TEST(help)
{
	struct incd_config cfg;
	char err[256];
	char *argv[] = {"incidentd", "--help", NULL};
	env_values[0][0] = NULL;
	ck_assert_int_eq(load(&cfg, 2, argv, err), INCD_CONFIG_HELP);
	incd_config_free(&cfg);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, defaults);
	tcase_add_test(tc, env_then_flags);
	tcase_add_test(tc, read_database_url);
	tcase_add_test(tc, errors);
	tcase_add_test(tc, allow_owner);
	tcase_add_test(tc, metrics_and_log_format);
	tcase_add_test(tc, help);
	suite_add_tcase(s, tc);
	return s;
}

#include "check_main.h"
