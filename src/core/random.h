/* Random bytes for identifiers (ULIDs, request ids), from the kernel's
 * CSPRNG through a per-process buffer. */
#ifndef INCIDENTD_RANDOM_H
#define INCIDENTD_RANDOM_H

#include <stddef.h>

/* Fills out with n random bytes (n at most 256). Aborts the process if the
 * kernel cannot supply randomness. A forked child never reuses bytes its
 * parent had buffered. */
void incd_random_bytes(void *out, size_t n);

#endif
