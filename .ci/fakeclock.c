/*
 * A minimal LD_PRELOAD clock shift for .ci/calendar: every process that loads it (the test
 * binaries and the PostgreSQL servers they start, which inherit the environment) sees the wall
 * clock moved by FAKECLOCK_OFFSET_SECONDS. Only the wall clock moves: CLOCK_MONOTONIC, sleeps,
 * timers and poll/epoll timeouts are untouched.
 *
 * Why not libfaketime: libfaketime 0.9.10 wraps epoll_wait/poll/select and reports the *real*
 * time to a signal handler that interrupts them. PostgreSQL checks statement_timeout and
 * lock_timeout in its SIGALRM handler, so under libfaketime those timeouts never fire and
 * tests of them hang.
 *
 * Build: gcc -shared -fPIC -O2 -o fakeclock.so fakeclock.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

static long long offset_seconds;
static int (*real_clock_gettime)(clockid_t, struct timespec *);

__attribute__((constructor)) static void fakeclock_init(void) {
    const char *text = getenv("FAKECLOCK_OFFSET_SECONDS");
    offset_seconds = text ? atoll(text) : 0;
    real_clock_gettime = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
}

static int is_wall_clock(clockid_t clock) {
    return clock == CLOCK_REALTIME || clock == CLOCK_REALTIME_COARSE || clock == CLOCK_TAI;
}

int clock_gettime(clockid_t clock, struct timespec *ts) {
    if (!real_clock_gettime) fakeclock_init();
    int result = real_clock_gettime(clock, ts);
    if (result == 0 && ts && is_wall_clock(clock)) ts->tv_sec += offset_seconds;
    return result;
}

int gettimeofday(struct timeval *tv, void *tz) {
    (void)tz;
    struct timespec ts;
    int result = clock_gettime(CLOCK_REALTIME, &ts);
    if (result == 0 && tv) {
        tv->tv_sec = ts.tv_sec;
        tv->tv_usec = ts.tv_nsec / 1000;
    }
    return result;
}

time_t time(time_t *out) {
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0) return (time_t)-1;
    if (out) *out = ts.tv_sec;
    return ts.tv_sec;
}

int timespec_get(struct timespec *ts, int base) {
    if (base != TIME_UTC || clock_gettime(CLOCK_REALTIME, ts) != 0) return 0;
    return base;
}
