/*
 * kcs_run.h — what every producer writes the same way (header-only):
 * attaching to the ring the monitor created; RunStarted with the fields every
 * producer fills alike (its pid, the ring ABI, the wall clock at the start, a
 * build map naming the compiler, a run id unless you pass one) and RunEnded,
 * each in a frame of its own; a latency Histogram from log2x4 bucket counts.
 * What differs from producer to producer is in struct kcs_run_info.
 *
 *   if (kcs_run_attach(&ring, "myprog", ring_path) != 0) return 2;
 *   kcs_run_begin(&ring, &mp, kcs_monotonic_ns(),
 *                 &(struct kcs_run_info){.mode = "tasks", .workers = n, .interval_ns = iv, .config = &cfg});
 *   ... one frame per tick (kcs_run_histogram among its events) ...
 *   kcs_run_end(&ring, &mp, "duration", 0);
 *   kcs_ring_close(&ring);
 *
 * Any other field of RunStarted: write it yourself with kcs_emit_run_started
 * (kcs_events.h).
 */
#ifndef KCS_RUN_H
#define KCS_RUN_H

#include "kcs_events.h" /* first: kcoro_stream.h selects the POSIX feature level */

#ifdef __cplusplus
extern "C" {
#endif

struct kcs_run_info {
    const char *run_id; /* NULL: "<mode>-<wall clock ms>-<pid>" */
    const char *mode;   /* e.g. "tasks", "channel" */
    const char *host;   /* NULL: "localhost" */
    uint32_t workers;
    uint64_t interval_ns; /* the sampling interval in force */
    /* RunStarted's dict fields: msgpack maps you encode into a scratch
     * struct kcs_mp (kcs_mp_map, kcs_mp_str, ...). One that ran out of memory
     * drops the frame (counted, like any dropped frame). */
    const struct kcs_mp *config;       /* every knob of the run; list "pools" there; NULL = {} */
    const struct kcs_mp *build;        /* str -> str; NULL = {"compiler": the compiler's version} */
    const struct kcs_mp *capabilities; /* what could not be measured (kcs_perf_capabilities); NULL = {} */
};

/* Attach to the ring the monitor created for this run: `path` (your --ring
 * argument) or, when it is NULL, $KCORO_STREAM_RING (`kcoro-stream run --exec`
 * sets it). Returns 0, or -1 after one line "prog: reason" on stderr. */
static inline int kcs_run_attach(struct kcs_ring *r, const char *prog, const char *path) {
    if (!path) path = getenv("KCORO_STREAM_RING");
    if (!path || !*path) {
        fprintf(stderr, "%s: --ring PATH is required (or $KCORO_STREAM_RING)\n", prog);
        return -1;
    }
    if (kcs_ring_attach(r, path) != 0) {
        fprintf(stderr, "%s: %s\n", prog, kcs_last_error());
        return -1;
    }
    return 0;
}

/* Write RunStarted, stamped ts (CLOCK_MONOTONIC ns), as a frame of its own.
 * Returns what kcs_frame_commit returns (1 written, 0 dropped, -1 no memory). */
static inline int kcs_run_begin(struct kcs_ring *r, struct kcs_mp *m, uint64_t ts, const struct kcs_run_info *ri) {
    uint64_t wall_at_ts = kcs_now_ns(CLOCK_REALTIME) - (kcs_monotonic_ns() - ts);
    char run_id[96];
    if (ri->run_id)
        snprintf(run_id, sizeof run_id, "%s", ri->run_id);
    else
        snprintf(run_id, sizeof run_id, "%s-%llu-%d", ri->mode ? ri->mode : "run",
                 (unsigned long long)(wall_at_ts / 1000000u), (int)getpid());
    struct kcs_mp compiler;
    kcs_mp_init(&compiler);
    if (!ri->build) {
        kcs_mp_map(&compiler, 1);
        kcs_mp_str(&compiler, "compiler");
#ifdef __VERSION__
        kcs_mp_str(&compiler, __VERSION__);
#else
        kcs_mp_str(&compiler, "unknown");
#endif
    }
    const struct kcs_mp *build = ri->build ? ri->build : &compiler;
    kcs_frame_begin(m, 1);
    kcs_emit_run_started(m, ts, 0,
                         &(struct kcs_run_started){
                             .run_id = run_id,
                             .mode = ri->mode,
                             .config = ri->config ? ri->config->buf : NULL,
                             .config_len = ri->config ? ri->config->len : 0,
                             .workers = ri->workers,
                             .host = ri->host ? ri->host : "localhost",
                             .pid = (uint32_t)getpid(),
                             .abi_major = KCS_ABI_MAJOR,
                             .abi_minor = KCS_ABI_MINOR,
                             .build = build->buf,
                             .build_len = build->len,
                             .wall_ns = wall_at_ts,
                             .interval_ns = ri->interval_ns,
                             .capabilities = ri->capabilities ? ri->capabilities->buf : NULL,
                             .capabilities_len = ri->capabilities ? ri->capabilities->len : 0,
                         });
    /* a truncated map: drop the frame, counted */
    if (build->oom || (ri->config && ri->config->oom) || (ri->capabilities && ri->capabilities->oom)) m->oom = 1;
    kcs_mp_free(&compiler);
    return kcs_frame_commit(r, m);
}

/* A Histogram event from cumulative log2x4 bucket counts[n] (kcs_hist_bucket),
 * the trailing zero buckets cut as the schema wants. */
static inline void kcs_run_histogram(struct kcs_mp *m, uint64_t ts, const char *metric, uint32_t pool,
                                     const uint64_t *counts, uint32_t n, uint64_t total) {
    while (n > 0 && counts[n - 1] == 0) n--;
    kcs_emit_histogram(m, ts, 0,
                       &(struct kcs_histogram){.metric = metric,
                                               .pool = pool,
                                               .scheme = KCS_HIST_SCHEME,
                                               .counts = counts,
                                               .counts_len = n,
                                               .total = total});
}

/* Write RunEnded ("duration", "stopped", "signal", "done", ...; status 0 = ok)
 * as a frame of its own; kcs_ring_close comes after it. */
static inline int kcs_run_end(struct kcs_ring *r, struct kcs_mp *m, const char *reason, int32_t status) {
    kcs_frame_begin(m, 1);
    kcs_emit_run_ended(m, kcs_monotonic_ns(), 0, &(struct kcs_run_ended){.reason = reason, .status = status});
    return kcs_frame_commit(r, m);
}

#ifdef __cplusplus
}
#endif
#endif /* KCS_RUN_H */
