/*
 * instrument_runtime.c — how another runtime (KCoro, or yours) emits the
 * kcoro-stream events through native/include/kcs_events.h (the typed
 * emitters generated from kcoro_stream/events.py; it includes the ring API,
 * kcoro_stream.h).
 *
 * The "runtime" here is deliberately tiny: worker threads taking jobs from a
 * mutex-protected queue that a submitter thread fills. What matters is the
 * pattern, which is the same for any runtime:
 *
 *   1. keep cumulative counters per worker, written only by that worker with
 *      relaxed atomics (no lock, no syscall on the hot path);
 *   2. one sampler (here the main thread) wakes every interval, snapshots the
 *      counters and writes ONE frame: kcs_frame_begin(&mp, nevents), one
 *      kcs_emit_<event>(&mp, ts, source, &(struct kcs_<event>){...}) per
 *      event (members are named after the fields of kcoro_stream/events.py;
 *      the ones you leave out are 0), kcs_frame_commit;
 *   3. each tick: poll the control area (interval, pause, stop), heartbeat;
 *   4. RunStarted first, RunEnded last (kcs_run.h), then kcs_ring_close;
 *   5. optional, the OS view: kcs_perf.h opens perf_event_open counters per
 *      worker thread (kcs_perf_open with the worker's tid), kcs_perf_emit
 *      writes its OsCounters each tick, kcs_perf_capabilities says in
 *      RunStarted.capabilities which counters could not be opened.
 *
 * The writer never blocks: a frame that does not fit is dropped and counted,
 * and because counters are cumulative the monitor only loses resolution.
 *
 *   make -C native build/instrument_runtime
 *   kcoro-stream run --exec -- native/build/instrument_runtime --ring '{ring}' --duration 3
 *
 * The monitor creates the ring and passes its path; a ring PATH that does not
 * exist yet is created here instead (then read it with `kcoro-stream attach PATH`).
 * The smallest example, one thread and no OS counters, is minimal_producer.c.
 */
#include "kcs_perf.h"
#include "kcs_run.h"

#include <pthread.h>
#include <sys/syscall.h>
#include <signal.h>

/* ----------------------------------------------------------- the runtime */

struct counters { /* one per worker, on its own cache line */
    _Alignas(64) _Atomic uint64_t completed, busy_ns, idle_ns, parks;
    _Atomic uint64_t lat[KCS_HIST_BUCKETS]; /* submit → start, log2x4 buckets */
    _Atomic uint64_t lat_total;
    _Atomic int tid; /* the worker's thread id, for kcs_perf_open */
};

struct job {
    uint64_t submit_ns;
};

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct job q[1024];
    unsigned head, tail;
    int stop;
    _Atomic uint64_t submitted; /* the submitter's own counter */
} rt = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, {{0}}, 0, 0, 0, 0};

static struct counters *ctr;

/* relaxed: only this thread writes the counter; the sampler reads it relaxed */
#define BUMP(f, d) atomic_store_explicit(&(f), atomic_load_explicit(&(f), memory_order_relaxed) + (d), memory_order_relaxed)
#define READ(f) atomic_load_explicit(&(f), memory_order_relaxed)

static void *worker(void *arg) {
    struct counters *c = (struct counters *)arg;
    /* release: pairs with the acquire in wait_tids */
    atomic_store_explicit(&c->tid, (int)syscall(SYS_gettid), memory_order_release);
    for (;;) {
        uint64_t t0 = kcs_monotonic_ns();
        pthread_mutex_lock(&rt.mu);
        while (rt.head == rt.tail && !rt.stop) {
            BUMP(c->parks, 1);
            pthread_cond_wait(&rt.cv, &rt.mu);
        }
        if (rt.head == rt.tail) {
            pthread_mutex_unlock(&rt.mu);
            return NULL;
        }
        struct job j = rt.q[rt.head++ % 1024];
        pthread_mutex_unlock(&rt.mu);
        uint64_t t1 = kcs_monotonic_ns();
        BUMP(c->idle_ns, t1 - t0);
        BUMP(c->lat[kcs_hist_bucket(t1 - j.submit_ns)], 1);
        BUMP(c->lat_total, t1 - j.submit_ns);
        volatile uint64_t x = 0;
        for (int i = 0; i < 2000; i++) x += (uint64_t)i; /* the job */
        BUMP(c->completed, 1);
        BUMP(c->busy_ns, kcs_monotonic_ns() - t1);
    }
}

static void *submitter(void *arg) {
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&rt.mu);
        if (rt.stop) {
            pthread_mutex_unlock(&rt.mu);
            return NULL;
        }
        if (rt.tail - rt.head < 1024) {
            rt.q[rt.tail++ % 1024].submit_ns = kcs_monotonic_ns();
            atomic_fetch_add_explicit(&rt.submitted, 1, memory_order_relaxed);
            pthread_cond_signal(&rt.cv);
        }
        pthread_mutex_unlock(&rt.mu);
        struct timespec d = {0, 20000};
        nanosleep(&d, NULL);
    }
}

/* ------------------------------------------------------- the emit side */

static void run_begin(struct kcs_ring *ring, struct kcs_mp *m, uint64_t ts, unsigned workers,
                      uint64_t interval_ns, const struct kcs_perf_report *rep) {
    /* The dict fields (config: every knob of the run; capabilities: what the
     * OS view could open) are msgpack maps you encode yourself, here into
     * scratch buffers; kcs_run_begin fills the rest (pid, ABI, clocks, build). */
    struct kcs_mp config, caps;
    kcs_mp_init(&config);
    kcs_mp_init(&caps);
    kcs_mp_map(&caps, 2);
    kcs_perf_capabilities(&caps, rep);
    kcs_mp_map(&config, 2);
    kcs_mp_str(&config, "workers");
    kcs_mp_uint(&config, workers);
    kcs_mp_str(&config, "pools");
    kcs_mp_array(&config, 1);
    kcs_mp_str(&config, "tasks");
    kcs_run_begin(ring, m, ts,
                  &(struct kcs_run_info){.mode = "tasks",
                                         .workers = workers,
                                         .interval_ns = interval_ns,
                                         .config = &config,
                                         .capabilities = &caps});
    kcs_mp_free(&config);
    kcs_mp_free(&caps);
}

static void emit_worker(struct kcs_mp *m, uint64_t ts, unsigned w, uint64_t submitted, struct counters *c) {
    uint64_t completed = READ(c->completed), parks = READ(c->parks);
    kcs_emit_worker_counters(m, ts, 0,
                             &(struct kcs_worker_counters){
                                 .worker = w,
                                 .pool = 0,
                                 .tasks_submitted = submitted, /* this runtime: on worker 0 */
                                 .tasks_completed = completed,
                                 .fastpath_hits = 0, /* no LIFO slot here */
                                 .fastpath_misses = completed,
                                 .last_victim = -1, /* no stealing: steal_* stay 0 */
                                 .inject_pulls = completed, /* every job comes from the queue */
                                 .parks = parks,
                                 .unparks = parks,
                                 .busy_ns = READ(c->busy_ns),
                                 .idle_ns = READ(c->idle_ns),
                                 .switches = 0, /* no coroutines */
                             });
}

static void emit_histogram(struct kcs_mp *m, uint64_t ts, unsigned workers) {
    uint64_t sum[KCS_HIST_BUCKETS] = {0}, total = 0;
    for (unsigned w = 0; w < workers; w++) {
        for (unsigned b = 0; b < KCS_HIST_BUCKETS; b++) sum[b] += READ(ctr[w].lat[b]);
        total += READ(ctr[w].lat_total);
    }
    kcs_run_histogram(m, ts, "task_start_latency_ns", 0, sum, KCS_HIST_BUCKETS, total); /* trailing zeros cut */
}

/* The workers publish their tids as they start; wait for them (at most 1 s). */
static void wait_tids(unsigned workers) {
    for (int tries = 0; tries < 1000; tries++) {
        unsigned known = 0;
        for (unsigned w = 0; w < workers; w++)
            known += atomic_load_explicit(&ctr[w].tid, memory_order_acquire) > 0; /* acquire: pairs with worker */
        if (known == workers) return;
        struct timespec d = {0, 1000000};
        nanosleep(&d, NULL);
    }
}

static volatile sig_atomic_t g_signal;
static void on_signal(int s) {
    (void)s;
    g_signal = 1;
}

int main(int argc, char **argv) {
    const char *path = NULL;
    double duration = 2.0;
    unsigned workers = 2;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--ring")) path = argv[i + 1];
        else if (!strcmp(argv[i], "--duration")) duration = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--workers")) workers = (unsigned)atoi(argv[i + 1]);
    }
    if (!path || workers < 1 || workers > 64) {
        fprintf(stderr, "usage: instrument_runtime --ring PATH [--duration S] [--workers 1..64]\n");
        return 2;
    }
    struct kcs_ring ring;
    /* the monitor created the ring and passed us its path; else create it */
    if (kcs_ring_attach(&ring, path) != 0 && kcs_ring_create(&ring, path, 1u << 20, 10000000u) != 0) {
        fprintf(stderr, "instrument_runtime: %s\n", kcs_last_error());
        return 2;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    ctr = (struct counters *)aligned_alloc(64, sizeof *ctr * workers);
    memset(ctr, 0, sizeof *ctr * workers);
    pthread_t th[65];
    for (unsigned w = 0; w < workers; w++) pthread_create(&th[w], NULL, worker, &ctr[w]);
    pthread_create(&th[workers], NULL, submitter, NULL);

    struct kcs_mp mp;
    kcs_mp_init(&mp);
    uint64_t interval = 10000000u, t0 = kcs_monotonic_ns(), last = t0, tick = 0;
    int paused = 0;
    const char *reason = "duration";
    wait_tids(workers);
    struct kcs_perf_thread perf[64];
    struct kcs_perf_report rep = {0};
    for (unsigned w = 0; w < workers; w++) kcs_perf_open(&perf[w], atomic_load(&ctr[w].tid), &rep);
    run_begin(&ring, &mp, t0, workers, interval, &rep);
    for (;;) {
        struct timespec d = {0, (long)interval};
        nanosleep(&d, NULL);
        uint64_t now = kcs_monotonic_ns();
        if (g_signal) { reason = "signal"; break; }
        if (duration > 0 && now - t0 >= (uint64_t)(duration * 1e9)) break;
        struct kcs_control c;
        if (kcs_ring_poll_control(&ring, &c)) { /* the monitor's requests */
            if (c.interval_ns) interval = c.interval_ns;
            paused = c.paused != 0;
            if (c.stop) { reason = "stopped"; break; }
        }
        kcs_ring_heartbeat(&ring); /* every tick, even when paused */
        if (paused) continue;
        tick++;
        kcs_frame_begin(&mp, 3 + 2 * workers);
        kcs_emit_tick(&mp, now, 0, &(struct kcs_tick){.seq = tick, .target_ns = interval, .actual_ns = now - last});
        uint64_t submitted = atomic_load_explicit(&rt.submitted, memory_order_relaxed);
        for (unsigned w = 0; w < workers; w++) emit_worker(&mp, now, w, w == 0 ? submitted : 0, &ctr[w]);
        emit_histogram(&mp, now, workers);
        pthread_mutex_lock(&rt.mu);
        double depth = (double)(rt.tail - rt.head);
        pthread_mutex_unlock(&rt.mu);
        kcs_emit_gauge(&mp, now, 0, &(struct kcs_gauge){.name = "inject_depth", .pool = 0, .value = depth});
        for (unsigned w = 0; w < workers; w++) kcs_perf_emit(&mp, now, 0, &perf[w], w, -1); /* not pinned */
        kcs_frame_commit(&ring, &mp); /* never blocks; drops are counted */
        last = now;
    }
    pthread_mutex_lock(&rt.mu);
    rt.stop = 1;
    pthread_cond_broadcast(&rt.cv);
    pthread_mutex_unlock(&rt.mu);
    for (unsigned w = 0; w <= workers; w++) pthread_join(th[w], NULL);
    for (unsigned w = 0; w < workers; w++) kcs_perf_close(&perf[w]);
    kcs_run_end(&ring, &mp, reason, 0);
    kcs_ring_close(&ring);
    kcs_mp_free(&mp);
    free(ctr);
    return 0;
}
