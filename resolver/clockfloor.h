/*
 * clockfloor.h: the earliest wall-clock time embargo will believe.
 *
 * Routers without a battery-backed clock boot in 1970 until NTP answers; a
 * date-based ban must not switch itself off meanwhile. The floor is the
 * newest of: the build time, the newest `effective` instant the state file
 * says was already enforced, and the time the state was last saved. While
 * the wall clock reads earlier, the policy clock runs on from the floor
 * instead (fail closed). A pinned clock (--at) is the operator's explicit
 * choice and has no floor.
 */
#ifndef EMBARGO_CLOCKFLOOR_H
#define EMBARGO_CLOCKFLOOR_H

#include <stddef.h>
#include <stdint.h>

typedef struct clock_state {
	int64_t saved_at;   /* wall time when it was written */
	int64_t enforced;   /* the newest effective instant already in force then */
} clock_state;

/* Reads the state file. 0, 1 when it does not exist yet (st zeroed), or
 * -1 with a reason in err (unreadable or not a state file). */
int clockfloor_load(const char *path, clock_state *st, char *err, size_t errlen);

/* Writes it atomically (a temporary file, fsync, rename). 0 or -1. */
int clockfloor_save(const char *path, const clock_state *st, char *err, size_t errlen);

/* The floor from the state and the build time. */
int64_t clockfloor_of(const clock_state *st, int64_t build_time);

#endif
