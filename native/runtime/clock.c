/*
 * clock.c — the runtime's latency clock: the TSC (x86-64 with constant_tsc
 * and nonstop_tsc) or the generic timer (aarch64), calibrated against
 * CLOCK_MONOTONIC once per process; clock_gettime everywhere else.
 * KCR_NO_TSC=1 forces clock_gettime. kcr__clock_init runs from
 * kcr_pool_create and kcr_chan_create; before it, ticks are nanoseconds.
 */
#include "kcr_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__x86_64__)
#include <x86intrin.h>
#endif


static _Atomic uint32_t g_clock_mode; /* 0 clock_gettime, 1 counter; set once by kcr_clock_init */
static uint64_t g_clock_mult;         /* ns per tick << 32; written before the release of mode */
static pthread_once_t g_clock_once = PTHREAD_ONCE_INIT;

static uint64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t raw_counter(void) {
#if defined(__x86_64__)
    return __rdtsc();
#elif defined(__aarch64__)
    uint64_t v;
    __asm__ volatile("isb; mrs %0, cntvct_el0" : "=r"(v));
    return v;
#else
    return mono_ns();
#endif
}

static void clock_init_once(void) {
    uint64_t mult = 0;
#if defined(__x86_64__)
    int stable = 0;
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[4096];
        while (fgets(line, sizeof line, f))
            if (!strncmp(line, "flags", 5)) {
                stable = strstr(line, " constant_tsc") && strstr(line, " nonstop_tsc");
                break;
            }
        fclose(f);
    }
    if (stable && !getenv("KCR_NO_TSC")) {
        uint64_t t0 = mono_ns(), c0 = raw_counter();
        struct timespec d = {0, 5000000};
        nanosleep(&d, NULL);
        uint64_t t1 = mono_ns(), c1 = raw_counter();
        if (c1 > c0 && t1 > t0) mult = (uint64_t)(((unsigned __int128)(t1 - t0) << 32) / (c1 - c0));
    }
#elif defined(__aarch64__)
    uint64_t freq;
    __asm__ volatile("mrs %0, cntfrq_el0" : "=r"(freq));
    if (freq) mult = (uint64_t)((UINT64_C(1000000000) << 32) / freq);
#endif
    if (mult) {
        g_clock_mult = mult;
        /* release: pairs with the acquire in kcr_ticks_to_ns / kcr_ticks */
        atomic_store_explicit(&g_clock_mode, 1, memory_order_release);
    }
}

void kcr__clock_init(void) { pthread_once(&g_clock_once, clock_init_once); }

uint64_t kcr_ticks(void) {
    /* acquire: pairs with the release in clock_init_once */
    if (atomic_load_explicit(&g_clock_mode, memory_order_acquire)) return raw_counter();
    return mono_ns();
}
uint64_t kcr_ticks_to_ns(uint64_t t) {
    if (atomic_load_explicit(&g_clock_mode, memory_order_acquire))
        return (uint64_t)(((unsigned __int128)t * g_clock_mult) >> 32);
    return t;
}
uint64_t kcr_now_ns(void) { return kcr_ticks_to_ns(kcr_ticks()); }
