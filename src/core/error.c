/* The error value constructor. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>

bool incd_fail(struct incd_error *err, int status, const char *code, const char *field,
	       const char *fmt, ...)
{
	va_list ap;
	err->status = status;
	err->code = code;
	err->rate_limit.name = NULL;
	snprintf(err->field, sizeof err->field, "%s", field ? field : "");
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof err->message, fmt, ap);
	va_end(ap);
	return false;
}
