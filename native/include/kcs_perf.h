/*
 * kcs_perf.h — per-thread OS counters (perf_event_open) for any runtime, header-only.
 *
 * The bridge between a runtime's own numbers and the OS scheduler: for each
 * worker thread, software counters (context switches, CPU migrations, page
 * faults) and, where the kernel and the virtual machine allow, hardware
 * counters (cycles, instructions, cache misses), read by another thread (the
 * sampler) and sent as the OsCounters event (tag 12, kcs_events.h).
 *
 *     struct kcs_perf_thread pt;
 *     struct kcs_perf_report rep = {0};
 *     kcs_perf_open(&pt, worker_tid, &rep);        once per worker thread
 *     ...
 *     kcs_perf_emit(&mp, now, 0, &pt, worker_id, pinned_cpu);   every tick
 *     ...
 *     kcs_perf_close(&pt);
 *
 * A counter that cannot be opened (no permission, perf_event_paranoid, no
 * PMU in a VM) is no error: its bit stays clear in OsCounters.counters, it
 * reads 0, and kcs_perf_report keeps the first reason per counter so the
 * producer can say once, in RunStarted.capabilities, what is missing
 * (kcs_perf_capabilities writes that map).
 *
 * Two groups per thread, each read with one read(2): the software group
 * (leader: context switches) and the hardware group (leader: cycles). Group
 * members are scheduled together, so instructions/cycles (IPC) come from the
 * same slices; when the kernel multiplexes the hardware group the values are
 * scaled by time_enabled / time_running.
 */
#ifndef KCS_PERF_H
#define KCS_PERF_H

#include "kcs_events.h" /* first: kcoro_stream.h selects the POSIX feature level */

#include <errno.h>
#include <linux/perf_event.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { KCS_PERF_N = 6 }; /* counters, in OsCounters field order */

/* Counter i is bit i of OsCounters.counters (events.OS_COUNTER_*, generated into kcs_events.h). */
_Static_assert(KCS_OS_COUNTER_CONTEXT_SWITCHES == 1u << 0 && KCS_OS_COUNTER_CPU_MIGRATIONS == 1u << 1 &&
                   KCS_OS_COUNTER_PAGE_FAULTS == 1u << 2 && KCS_OS_COUNTER_CYCLES == 1u << 3 &&
                   KCS_OS_COUNTER_INSTRUCTIONS == 1u << 4 && KCS_OS_COUNTER_CACHE_MISSES == 1u << 5,
               "kcs_perf_names order is the OsCounters.counters bit order");

/* Names as in OsCounters; bit i of OsCounters.counters is counter i. */
static const char *const kcs_perf_names[KCS_PERF_N] = {"context_switches", "cpu_migrations", "page_faults",
                                                       "cycles",           "instructions",   "cache_misses"};

struct kcs_perf_thread {
    int tid;
    int fd[KCS_PERF_N];   /* -1: not open */
    int slot[KCS_PERF_N]; /* position of the counter in its group's read */
    int leader[2];        /* group leaders (software, hardware), -1: none */
    uint32_t open_mask;   /* KCS_OS_COUNTER_* bits */
    uint64_t last[KCS_PERF_N];
};

/* What could not be opened, over every thread: the first errno per counter. */
struct kcs_perf_report {
    uint32_t opened; /* counters open on at least one thread */
    int err[KCS_PERF_N];
};

static inline int kcs_perf_event_open(struct perf_event_attr *a, int tid, int group) {
    return (int)syscall(SYS_perf_event_open, a, tid, -1, group, PERF_FLAG_FD_CLOEXEC);
}

static inline void kcs_perf_attr(int i, struct perf_event_attr *a) {
    static const uint32_t type[KCS_PERF_N] = {PERF_TYPE_SOFTWARE, PERF_TYPE_SOFTWARE, PERF_TYPE_SOFTWARE,
                                              PERF_TYPE_HARDWARE, PERF_TYPE_HARDWARE, PERF_TYPE_HARDWARE};
    static const uint64_t config[KCS_PERF_N] = {PERF_COUNT_SW_CONTEXT_SWITCHES, PERF_COUNT_SW_CPU_MIGRATIONS,
                                                PERF_COUNT_SW_PAGE_FAULTS,      PERF_COUNT_HW_CPU_CYCLES,
                                                PERF_COUNT_HW_INSTRUCTIONS,     PERF_COUNT_HW_CACHE_MISSES};
    memset(a, 0, sizeof *a);
    a->size = sizeof *a;
    a->type = type[i];
    a->config = config[i];
    a->read_format = PERF_FORMAT_GROUP | PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING;
    a->exclude_hv = 1;
    a->exclude_kernel = i >= 3; /* hardware counters: the thread's own code (paranoid 2 allows it) */
}

/* Open every counter for thread `tid` (another thread of this process);
 * returns the KCS_OS_COUNTER_* bits that opened. `rep` may be NULL. */
static inline uint32_t kcs_perf_open(struct kcs_perf_thread *t, int tid, struct kcs_perf_report *rep) {
    memset(t, 0, sizeof *t);
    t->tid = tid;
    t->leader[0] = t->leader[1] = -1;
    int members[2] = {0, 0};
    for (int i = 0; i < KCS_PERF_N; i++) {
        t->fd[i] = -1;
        int g = i >= 3;
        struct perf_event_attr a;
        kcs_perf_attr(i, &a);
        a.disabled = t->leader[g] < 0; /* the leader starts the group once it is complete */
        int fd = tid > 0 ? kcs_perf_event_open(&a, tid, t->leader[g]) : -1;
        if (fd < 0) {
            if (rep && !rep->err[i]) rep->err[i] = tid > 0 ? errno : ESRCH;
            continue;
        }
        if (t->leader[g] < 0) t->leader[g] = fd;
        t->fd[i] = fd;
        t->slot[i] = members[g]++;
        t->open_mask |= 1u << i;
    }
    for (int g = 0; g < 2; g++)
        if (t->leader[g] >= 0) ioctl(t->leader[g], PERF_EVENT_IOC_ENABLE, PERF_IOC_FLAG_GROUP);
    if (rep) rep->opened |= t->open_mask;
    return t->open_mask;
}

/* Read both groups into t->last (cumulative; a counter not open stays 0). */
static inline void kcs_perf_read(struct kcs_perf_thread *t) {
    for (int g = 0; g < 2; g++) {
        if (t->leader[g] < 0) continue;
        uint64_t buf[3 + KCS_PERF_N]; /* nr, time_enabled, time_running, values */
        ssize_t n = read(t->leader[g], buf, sizeof buf);
        if (n < (ssize_t)(3 * sizeof(uint64_t))) continue; /* the thread exited: keep the last values */
        uint64_t nr = buf[0], enabled = buf[1], running = buf[2];
        for (int i = 3 * g; i < 3 * g + 3; i++) {
            if (t->fd[i] < 0 || (uint64_t)t->slot[i] >= nr) continue;
            uint64_t v = buf[3 + t->slot[i]];
            if (running && running < enabled) v = (uint64_t)((double)v * (double)enabled / (double)running);
            t->last[i] = v;
        }
    }
}

static inline void kcs_perf_close(struct kcs_perf_thread *t) {
    for (int i = 0; i < KCS_PERF_N; i++)
        if (t->fd[i] >= 0) close(t->fd[i]);
    for (int i = 0; i < KCS_PERF_N; i++) t->fd[i] = -1;
    t->leader[0] = t->leader[1] = -1;
    t->open_mask = 0;
}

/* Read and append one OsCounters event for the thread. */
static inline void kcs_perf_emit(struct kcs_mp *mp, uint64_t ts_ns, uint32_t source, struct kcs_perf_thread *t,
                                 uint32_t worker, int32_t pinned_cpu) {
    kcs_perf_read(t);
    kcs_emit_os_counters(mp, ts_ns, source,
                         &(struct kcs_os_counters){.worker = worker,
                                                  .tid = t->tid,
                                                  .pinned_cpu = pinned_cpu,
                                                  .counters = t->open_mask,
                                                  .context_switches = t->last[0],
                                                  .cpu_migrations = t->last[1],
                                                  .page_faults = t->last[2],
                                                  .cycles = t->last[3],
                                                  .instructions = t->last[4],
                                                  .cache_misses = t->last[5]});
}

/* Two entries of the RunStarted.capabilities map (count them in kcs_mp_map):
 *   "os_counters": [names opened on some thread]
 *   "os_counters_unavailable": {name: "reason (errno name)"} for the rest */
static inline void kcs_perf_capabilities(struct kcs_mp *m, const struct kcs_perf_report *rep) {
    uint32_t n = 0;
    for (int i = 0; i < KCS_PERF_N; i++) n += (rep->opened >> i) & 1u;
    kcs_mp_str(m, "os_counters");
    kcs_mp_array(m, n);
    for (int i = 0; i < KCS_PERF_N; i++)
        if (rep->opened & (1u << i)) kcs_mp_str(m, kcs_perf_names[i]);
    kcs_mp_str(m, "os_counters_unavailable");
    kcs_mp_map(m, (uint32_t)KCS_PERF_N - n);
    for (int i = 0; i < KCS_PERF_N; i++) {
        if (rep->opened & (1u << i)) continue;
        kcs_mp_str(m, kcs_perf_names[i]);
        kcs_mp_str(m, rep->err[i] ? strerror(rep->err[i]) : "not tried");
    }
}

#ifdef __cplusplus
}
#endif
#endif /* KCS_PERF_H */
