/*
 * minimal_producer.c — the smallest complete example of instrumenting a
 * program: a loop that does jobs (here, counting the primes in consecutive
 * ranges) tells kcoro-stream what it does.
 *
 *   1. attach to the ring the monitor created (kcs_run_attach: --ring PATH,
 *      or $KCORO_STREAM_RING, which `kcoro-stream run --exec` sets);
 *   2. RunStarted first (kcs_run_begin);
 *   3. keep cumulative counters: jobs done, time spent in them, a histogram
 *      of job durations (never reset: rates come from differences, so a
 *      dropped frame costs resolution, not totals);
 *   4. every interval: poll the control area (interval, pause, stop),
 *      heartbeat, and write one frame (Tick, WorkerCounters, Histogram);
 *   5. RunEnded last (kcs_run_end), then kcs_ring_close.
 *
 * The program is single-threaded, so it samples between two jobs. A runtime
 * with worker threads samples from a thread of its own instead:
 * instrument_runtime.c shows that, and the OS counters of kcs_perf.h.
 *
 *   make -C native build/minimal_producer
 *   kcoro-stream run --exec -- native/build/minimal_producer --ring '{ring}' --duration 3
 */
#include "kcs_run.h" /* RunStarted / RunEnded; includes kcs_events.h and kcoro_stream.h */

#include <signal.h>

static volatile sig_atomic_t g_signal;
static void on_signal(int s) {
    (void)s;
    g_signal = 1;
}

/* The program's own work: one job counts the primes in [lo, lo + 2000). */
static uint64_t count_primes(uint64_t lo) {
    uint64_t n = 0;
    for (uint64_t x = lo < 2 ? 2 : lo; x < lo + 2000; x++) {
        int prime = 1;
        for (uint64_t d = 2; d * d <= x && prime; d++) prime = x % d != 0;
        n += (uint64_t)prime;
    }
    return n;
}

int main(int argc, char **argv) {
    const char *path = NULL; /* NULL: $KCORO_STREAM_RING */
    double duration = 0; /* 0: until stopped (SIGINT, SIGTERM or the monitor) */
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--ring")) path = argv[i + 1];
        else if (!strcmp(argv[i], "--duration")) duration = atof(argv[i + 1]);
    }
    struct kcs_ring ring; /* the ring at --ring PATH, or at $KCORO_STREAM_RING */
    if (kcs_run_attach(&ring, "minimal_producer", path) != 0) return 2;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    struct kcs_mp mp;
    kcs_mp_init(&mp);
    uint64_t interval = 10000000u, t0 = kcs_monotonic_ns(), last = t0, tick = 0;
    uint64_t jobs = 0, busy_ns = 0, next = 0, primes = 0;
    uint64_t hist[KCS_HIST_BUCKETS] = {0}, hist_total = 0; /* job durations, log2x4 buckets */
    int paused = 0;
    const char *reason = "duration";
    kcs_run_begin(&ring, &mp, t0, &(struct kcs_run_info){.mode = "tasks", .workers = 1, .interval_ns = interval});
    for (;;) {
        uint64_t now = kcs_monotonic_ns();
        if (g_signal) {
            reason = "signal";
            break;
        }
        if (duration > 0 && now - t0 >= (uint64_t)(duration * 1e9)) break;
        if (now - last >= interval) { /* a tick: the monitor's requests, then one frame */
            struct kcs_control c;
            if (kcs_ring_poll_control(&ring, &c)) {
                if (c.interval_ns) interval = c.interval_ns;
                paused = c.paused != 0;
                if (c.stop) {
                    reason = "stopped";
                    break;
                }
            }
            kcs_ring_heartbeat(&ring); /* every tick, even when paused */
            kcs_frame_begin(&mp, 3);
            kcs_emit_tick(&mp, now, 0,
                          &(struct kcs_tick){.seq = ++tick, .target_ns = interval, .actual_ns = now - last, .paused = paused});
            kcs_emit_worker_counters(&mp, now, 0,
                                     &(struct kcs_worker_counters){.tasks_submitted = jobs,
                                                                   .tasks_completed = jobs,
                                                                   .fastpath_misses = jobs,
                                                                   .last_victim = -1, /* no stealing */
                                                                   .busy_ns = busy_ns,
                                                                   .idle_ns = now - t0 - busy_ns});
            kcs_run_histogram(&mp, now, "task_body_ns", 0, hist, KCS_HIST_BUCKETS, hist_total);
            kcs_frame_commit(&ring, &mp); /* never blocks; a frame that does not fit is dropped, counted */
            last = now;
        }
        if (paused) { /* paused by the monitor: no work, ticks and heartbeats go on */
            nanosleep(&(struct timespec){0, 1000000}, NULL);
            continue;
        }
        uint64_t start = kcs_monotonic_ns();
        primes += count_primes(next); /* the job */
        next += 2000;
        uint64_t took = kcs_monotonic_ns() - start;
        jobs++;
        busy_ns += took;
        hist[kcs_hist_bucket(took)]++;
        hist_total += took;
    }
    kcs_run_end(&ring, &mp, reason, 0);
    kcs_ring_close(&ring);
    kcs_mp_free(&mp);
    printf("%llu jobs, %llu primes\n", (unsigned long long)jobs, (unsigned long long)primes);
    return 0;
}
