/*
 * bench_main.c — kcs_bench_main: flags → ring → workload → sampler → run end.
 *
 * Shared by the standalone binary (native/build/kcoro_bench) and the Python
 * module kcoro_stream._bench (`python -m kcoro_stream.sources.bench`).
 *
 * SIGINT, SIGTERM and SIGHUP (a closed terminal or SSH session; left alone
 * when ignored, as under nohup) are blocked in every thread we start and
 * taken by the main thread with sigtimedwait; threads the embedding process
 * started earlier (Python's) may still receive them, so a handler that only
 * sets a flag is installed for the run as well. Either way a signal ends the
 * run the same clean way as the duration or a control-area stop: roots
 * finish, the pools drain, the sampler writes the final counters and
 * RunEnded(reason "signal") and closes the ring. The caller's signal mask and
 * handlers are restored before returning.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

static volatile sig_atomic_t g_signalled;
static void on_signal(int sig) { g_signalled = sig; }

/* The signals that end a run cleanly; SIGHUP only when not ignored (nohup). */
static const int k_stop_signals[] = {SIGINT, SIGTERM, SIGHUP};
#define N_STOP_SIGNALS (sizeof k_stop_signals / sizeof k_stop_signals[0])

struct saved_signals {
    sigset_t mask;
    struct sigaction old[N_STOP_SIGNALS];
    int taken[N_STOP_SIGNALS];
};

/* Block the stop signals in this thread (and every thread it starts) and install the flag handler. */
static void take_stop_signals(sigset_t *block, struct saved_signals *sv) {
    sigemptyset(block);
    for (size_t i = 0; i < N_STOP_SIGNALS; i++) {
        struct sigaction cur;
        sigaction(k_stop_signals[i], NULL, &cur);
        sv->taken[i] = !(k_stop_signals[i] == SIGHUP && cur.sa_handler == SIG_IGN);
        if (sv->taken[i]) sigaddset(block, k_stop_signals[i]);
    }
    pthread_sigmask(SIG_BLOCK, block, &sv->mask);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    g_signalled = 0;
    for (size_t i = 0; i < N_STOP_SIGNALS; i++)
        if (sv->taken[i]) sigaction(k_stop_signals[i], &sa, &sv->old[i]);
}

static void restore_stop_signals(const struct saved_signals *sv) {
    for (size_t i = 0; i < N_STOP_SIGNALS; i++)
        if (sv->taken[i]) sigaction(k_stop_signals[i], &sv->old[i], NULL);
    pthread_sigmask(SIG_SETMASK, &sv->mask, NULL);
}

static int open_ring(struct kcs_ring *ring, const struct kcs_bench_cfg *cfg) {
    struct stat st;
    if (stat(cfg->ring_path, &st) == 0) return kcs_ring_attach(ring, cfg->ring_path);
    if (kcs_ring_create(ring, cfg->ring_path, cfg->ring_size, (uint64_t)cfg->interval_ms * 1000000u) != 0)
        return -1;
    atomic_store_explicit(&ring->hdr->producer_pid, (uint32_t)getpid(), memory_order_relaxed);
    return 0;
}

static void print_summary(const struct kcs_bench_cfg *cfg, const char *run_id, const char *reason,
                          double secs, const struct kcs_totals *at_stop, const struct kcs_totals *final,
                          const struct kcs_ring *ring) {
    double s = secs > 0 ? secs : 1e-9;
    unsigned long long fw = 0, fd = 0;
    if (ring && ring->hdr) {
        fw = atomic_load_explicit(&ring->hdr->frames_written, memory_order_relaxed);
        fd = atomic_load_explicit(&ring->hdr->frames_dropped, memory_order_relaxed);
    }
    printf("{\"run_id\":\"%s\",\"mode\":\"%s\",\"reason\":\"%s\",\"elapsed_s\":%.6f,"
           "\"tasks_completed\":%llu,\"tasks_per_s\":%.1f,\"msgs\":%llu,\"msgs_per_s\":%.1f,"
           "\"bytes_per_s\":%.1f,\"final_tasks_submitted\":%llu,\"final_tasks_completed\":%llu,"
           "\"final_sends\":%llu,\"final_recvs\":%llu,\"frames_written\":%llu,\"frames_dropped\":%llu,"
           "\"switch\":\"%s\"}\n",
           run_id, kcs_mode_names[cfg->mode], reason, secs, (unsigned long long)at_stop->tasks_completed,
           (double)at_stop->tasks_completed / s, (unsigned long long)at_stop->recvs, (double)at_stop->recvs / s,
           (double)at_stop->bytes / s, (unsigned long long)final->tasks_submitted,
           (unsigned long long)final->tasks_completed, (unsigned long long)final->sends,
           (unsigned long long)final->recvs, fw, fd, kcr_switch_impl());
    fflush(stdout);
}

int kcs_bench_main(int argc, char **argv) {
    struct kcs_bench_cfg cfg;
    int rc = kcs_bench_parse(argc, argv, &cfg);
    if (rc == 1) return 0; /* --help */
    if (rc) return 2;

    struct kcs_ring ring;
    memset(&ring, 0, sizeof ring);
    if (!cfg.no_ring && open_ring(&ring, &cfg) != 0) {
        fprintf(stderr, "kcoro-bench: --ring: %s\n", kcs_last_error());
        return 2;
    }

    sigset_t block;
    struct saved_signals saved;
    take_stop_signals(&block, &saved); /* the mask is inherited by every thread we start */

    char err[256] = "";
    struct kcs_workload *wl = kcs_workload_start(&cfg, err, sizeof err);
    if (!wl) {
        fprintf(stderr, "kcoro-bench: %s\n", err);
        if (ring.hdr) {
            struct kcs_mp m;
            kcs_mp_init(&m);
            kcs_frame_begin(&m, 1);
            kcs_emit_run_ended(&m, kcs_monotonic_ns(), 0, &(struct kcs_run_ended){.reason = "error", .status = 1});
            kcs_frame_commit(&ring, &m);
            kcs_mp_free(&m);
            kcs_ring_close(&ring);
        }
        restore_stop_signals(&saved);
        return 1;
    }
    char run_id[64];
    snprintf(run_id, sizeof run_id, "bench-%llu-%d",
             (unsigned long long)(kcs_now_ns(CLOCK_REALTIME) / 1000000u), (int)getpid());
    struct kcs_sampler *sampler = NULL;
    if (ring.hdr) {
        sampler = kcs_sampler_start(&ring, &cfg, wl, run_id);
        if (!sampler) {
            fprintf(stderr, "kcoro-bench: cannot start the sampler thread\n");
            kcs_workload_stop(wl);
            kcs_workload_destroy(wl);
            kcs_ring_close(&ring);
            restore_stop_signals(&saved);
            return 1;
        }
    }

    uint64_t t0 = kcs_monotonic_ns();
    uint64_t end = cfg.duration_s > 0 ? t0 + (uint64_t)(cfg.duration_s * 1e9) : 0;
    const char *reason = "duration";
    for (;;) {
        uint64_t now = kcs_monotonic_ns();
        if (end && now >= end) break;
        if (kcs_workload_finished(wl)) {
            reason = "done";
            break;
        }
        if (kcs_sampler_stop_requested(sampler)) {
            reason = "stopped";
            break;
        }
        uint64_t wait = 5000000u; /* poll the control flag (and a bounded workload's end) every 5 ms */
        if (end && end - now < wait) wait = end - now;
        struct timespec ts = {(time_t)(wait / 1000000000u), (long)(wait % 1000000000u)};
        int sig = sigtimedwait(&block, NULL, &ts);
        if (sig > 0 || g_signalled) {
            reason = "signal";
            break;
        }
    }
    uint64_t t1 = kcs_monotonic_ns();
    struct kcs_totals at_stop, final;
    kcs_workload_totals(wl, &at_stop);
    kcs_sampler_mark(sampler, "draining", reason);
    kcs_workload_stop(wl);
    kcs_workload_totals(wl, &final);
    if (cfg.summary) print_summary(&cfg, run_id, reason, (double)(t1 - t0) / 1e9, &at_stop, &final, &ring);
    kcs_sampler_finish(sampler, reason, 0); /* final frame, RunEnded, ring closed */
    kcs_workload_destroy(wl);

    /* a signal that arrived while draining is consumed too: the run ended cleanly */
    struct timespec zero = {0, 0};
    while (sigtimedwait(&block, NULL, &zero) > 0) {
    }
    restore_stop_signals(&saved);
    return 0;
}

double kcs_bench_switch_ns(uint64_t iterations, int use_ucontext) {
    return kcr_switch_bench_ns(iterations, use_ucontext);
}
