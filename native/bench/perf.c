/*
 * perf.c — pin the workers and open their OS counters (see perf.h).
 *
 * Worker k (pools in order, workers in order) is pinned to the k-th CPU of
 * the process's allowed set, round robin, with sched_setaffinity on its tid:
 * the runtime needs no knob, and the pinning is visible to `taskset -p TID`.
 * The tids appear once the worker threads run; we wait for them at most
 * 500 ms (a worker that has not started by then is neither pinned nor
 * counted, and the capabilities say so).
 */
#include "perf.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kcs_perf.h"

struct kcs_os_view {
    uint32_t n;
    int pin, perf;
    int pin_err; /* first errno of sched_setaffinity, 0 if none */
    struct kcs_perf_report rep;
    int32_t *cpu;
    struct kcs_perf_thread *t;
};

static void collect_tids(struct kcs_workload *wl, int32_t *tids, uint32_t n) {
    uint32_t k = 0;
    for (uint32_t p = 0; p < kcs_workload_npools(wl); p++) {
        kcr_pool *pool = kcs_workload_pool(wl, p);
        struct kcr_worker_stats ws[KCR_MAX_WORKERS];
        kcr_pool_stats(pool, ws);
        for (uint32_t i = 0; i < kcr_pool_workers(pool) && k < n; i++) tids[k++] = ws[i].tid;
    }
}

static int all_known(const int32_t *tids, uint32_t n) {
    for (uint32_t k = 0; k < n; k++)
        if (tids[k] <= 0) return 0;
    return 1;
}

struct kcs_os_view *kcs_os_view_open(const struct kcs_bench_cfg *cfg, struct kcs_workload *wl) {
    struct kcs_os_view *v = (struct kcs_os_view *)calloc(1, sizeof *v);
    if (!v) return NULL;
    for (uint32_t p = 0; p < kcs_workload_npools(wl); p++) v->n += kcr_pool_workers(kcs_workload_pool(wl, p));
    v->pin = cfg->pin;
    v->perf = !cfg->no_perf_counters;
    v->cpu = (int32_t *)calloc(v->n ? v->n : 1, sizeof *v->cpu);
    v->t = (struct kcs_perf_thread *)calloc(v->n ? v->n : 1, sizeof *v->t);
    int32_t tids[KCS_MAX_POOLS * KCR_MAX_WORKERS];
    if (!v->cpu || !v->t || v->n > KCS_MAX_POOLS * KCR_MAX_WORKERS) {
        v->perf = 0; /* nothing opened yet: close no descriptor */
        kcs_os_view_close(v);
        return NULL;
    }
    for (uint32_t k = 0; k < v->n; k++) v->cpu[k] = -1;
    collect_tids(wl, tids, v->n);
    for (int tries = 0; tries < 500 && !all_known(tids, v->n); tries++) {
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
        collect_tids(wl, tids, v->n);
    }
    if (v->pin) {
        cpu_set_t allowed;
        int cpus[CPU_SETSIZE], ncpu = 0;
        if (sched_getaffinity(0, sizeof allowed, &allowed) == 0)
            for (int c = 0; c < CPU_SETSIZE; c++)
                if (CPU_ISSET(c, &allowed)) cpus[ncpu++] = c;
        for (uint32_t k = 0; k < v->n && ncpu > 0; k++) {
            cpu_set_t one;
            CPU_ZERO(&one);
            CPU_SET(cpus[k % (uint32_t)ncpu], &one);
            if (tids[k] > 0 && sched_setaffinity(tids[k], sizeof one, &one) == 0)
                v->cpu[k] = cpus[k % (uint32_t)ncpu];
            else if (!v->pin_err)
                v->pin_err = tids[k] > 0 ? errno : ESRCH;
        }
    }
    for (uint32_t k = 0; k < v->n; k++) {
        if (v->perf) {
            kcs_perf_open(&v->t[k], tids[k], &v->rep);
        } else {
            memset(&v->t[k], 0, sizeof v->t[k]);
            for (int i = 0; i < KCS_PERF_N; i++) v->t[k].fd[i] = -1;
            v->t[k].leader[0] = v->t[k].leader[1] = -1;
            v->t[k].tid = tids[k];
        }
    }
    return v;
}

uint32_t kcs_os_view_nevents(const struct kcs_os_view *v) { return v && v->perf ? v->n : 0; }

int32_t kcs_os_view_cpu(const struct kcs_os_view *v, uint32_t k) { return v && k < v->n ? v->cpu[k] : -1; }

void kcs_os_view_capabilities(struct kcs_mp *m, const struct kcs_os_view *v) {
    if (!v) {
        kcs_mp_map(m, 0);
        return;
    }
    kcs_mp_map(m, v->pin_err ? 4 : 3);
    if (v->perf) {
        kcs_perf_capabilities(m, &v->rep);
    } else {
        kcs_mp_str(m, "os_counters");
        kcs_mp_array(m, 0);
        kcs_mp_str(m, "os_counters_unavailable");
        kcs_mp_map(m, KCS_PERF_N);
        for (int i = 0; i < KCS_PERF_N; i++) {
            kcs_mp_str(m, kcs_perf_names[i]);
            kcs_mp_str(m, "off (--no-perf-counters)");
        }
    }
    kcs_mp_str(m, "pinned_cpus"); /* per worker in WorkerCounters order, -1: not pinned; [] without --pin */
    kcs_mp_array(m, v->pin ? v->n : 0);
    for (uint32_t k = 0; v->pin && k < v->n; k++) kcs_mp_int(m, v->cpu[k]);
    if (v->pin_err) {
        kcs_mp_str(m, "pin_error");
        kcs_mp_str(m, strerror(v->pin_err));
    }
}

void kcs_os_view_emit(struct kcs_os_view *v, struct kcs_mp *m, uint64_t now, uint32_t k, uint32_t gid) {
    if (!v || !v->perf || k >= v->n) return;
    kcs_perf_emit(m, now, 0, &v->t[k], gid, v->cpu[k]);
}

void kcs_os_view_close(struct kcs_os_view *v) {
    if (!v) return;
    for (uint32_t k = 0; v->t && k < v->n; k++)
        if (v->perf) kcs_perf_close(&v->t[k]);
    free(v->cpu);
    free(v->t);
    free(v);
}
