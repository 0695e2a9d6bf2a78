/* The SQL migrations compiled into incidentctl. src/migrations.c is
 * generated from sql/[0-9]*.sql by scripts/embed-sql.sh; the files in sql/
 * stay the source of truth. */
#ifndef INCIDENTD_MIGRATIONS_H
#define INCIDENTD_MIGRATIONS_H

#include <stddef.h>

struct incd_migration {
	const char *version; /* file name without ".sql", e.g. "001_schema" */
	const char *sql;     /* the whole file; may hold many statements */
};

/* In the order they must be applied (sorted by file name); static storage,
 * never freed. */
extern const struct incd_migration incd_migrations[];
extern const size_t incd_migrations_count;

#endif
