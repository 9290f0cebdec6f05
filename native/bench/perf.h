/*
 * perf.h — the benchmark's OS view of its workers (internal): pinning and
 * perf_event_open counters per worker thread (native/include/kcs_perf.h).
 *
 *   kcs_os_view_open     wait for the workers' tids, pin them (--pin), open the counters
 *   kcs_os_view_capabilities   RunStarted.capabilities: counters opened/unavailable, pinned CPUs
 *   kcs_os_view_emit     one OsCounters event per worker per tick
 */
#ifndef KCS_BENCH_PERF_H
#define KCS_BENCH_PERF_H

#include "bench.h"

struct kcs_os_view;

/* NULL only when out of memory. Never fails otherwise: what could not be
 * pinned or opened is said in the capabilities. */
struct kcs_os_view *kcs_os_view_open(const struct kcs_bench_cfg *cfg, struct kcs_workload *wl);
/* OsCounters events per tick (0 with --no-perf-counters). */
uint32_t kcs_os_view_nevents(const struct kcs_os_view *v);
/* The pinned CPU of worker k (global index), -1 if not pinned. */
int32_t kcs_os_view_cpu(const struct kcs_os_view *v, uint32_t k);
/* Writes one complete msgpack map (RunStarted.capabilities). */
void kcs_os_view_capabilities(struct kcs_mp *m, const struct kcs_os_view *v);
/* Appends the OsCounters of worker k (global index k, worker id gid). */
void kcs_os_view_emit(struct kcs_os_view *v, struct kcs_mp *m, uint64_t now, uint32_t k, uint32_t gid);
void kcs_os_view_close(struct kcs_os_view *v);

#endif
