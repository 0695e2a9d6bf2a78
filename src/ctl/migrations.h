/* The SQL files compiled into incidentctl: the migrations and the code of
 * sql/ (docs/SCHEMA.md, "Layout"). src/ctl/migrations.c is generated from
 * sql/migrations/ and sql/code/ by scripts/embed-sql.sh; the
 * files in sql/ stay the source of truth. */
#ifndef INCIDENTD_MIGRATIONS_H
#define INCIDENTD_MIGRATIONS_H

#include <stddef.h>

struct incd_sql_file {
	const char *name; /* migration: its version, the file name without
			     ".sql" ("001_schema"); code: the file name
			     ("00_helpers.sql") */
	const char *path; /* from the project root, for messages:
			     "sql/migrations/001_schema.sql" */
	const char *sql;  /* the whole file; may hold many statements */
	size_t len;	  /* strlen(sql) */
};

/* Migrations, in the order they must be applied (sorted by file name);
 * static storage, never freed. */
extern const struct incd_sql_file incd_migrations[];
extern const size_t incd_migrations_count;

/* Code files, in the order they are applied (sorted by file name); static
 * storage, never freed. */
extern const struct incd_sql_file incd_code[];
extern const size_t incd_code_count;

#endif
