/*
 * sampler.c — one thread that turns the runtime's counters into ring frames.
 *
 * Frame layout, one per tick (a msgpack array of events, contract 2):
 *
 *   Tick · WorkerCounters × workers · ChannelCounters × channels ·
 *   Histogram × (3 metrics × pools) · Gauge × (5 per pool + 2) · OsThread × workers ·
 *   OsCounters × workers (perf.c; none with --no-perf-counters)
 *
 * The first frame holds RunStarted; the last two hold the final counters
 * (taken after the pools drained) and RunEnded. Each tick the sampler polls
 * the control area (interval, pause, stop, knob commands) and bumps the
 * heartbeat. A pause from the control area pauses the *workload*
 * (kcs_workload_pause: no new work, counters stop) while sampling goes on, its
 * ticks marked paused, so the flat counters are visible; a knob command is
 * applied once per id and answered by a frame of KnobApplied events. The
 * scripted --pause-at-ms pause is the sampler's own: one Tick(paused=true)
 * frame, then nothing but heartbeats until it ends. With --adaptive the interval doubles (up to
 * --adaptive-max-ms) after three ticks whose operation rate stayed within
 * 15 % of its running average, and drops back to the base interval when the
 * rate moves more than 50 %; Tick.target_ns shows the interval in force.
 *
 * The ring never blocks us: kcs_frame_commit drops (and counts) a frame that
 * does not fit.
 */
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "kcs_run.h"
#include "perf.h"

#ifndef KCS_BUILD_FLAGS
#define KCS_BUILD_FLAGS "unknown"
#endif
#ifndef KCS_GIT_DESCRIBE
#define KCS_GIT_DESCRIBE "unknown"
#endif

struct osthread {
    uint64_t run_ns, wait_ns, timeslices, vol, invol;
    int64_t cpu;
};

struct osfd {
    int tid;
    int schedstat, status, stat;
    struct osthread last; /* a thread that exited (final frame) keeps its last values */
};

struct kcs_sampler {
    struct kcs_ring *ring;
    const struct kcs_bench_cfg *cfg;
    struct kcs_workload *wl;
    struct kcs_mp mp;
    char run_id[64];
    pthread_t thread;
    _Atomic uint32_t finish; /* futex word: main → sampler */
    _Atomic uint32_t stop_requested;
    char reason[32];
    int status;
    /* sampler-thread state */
    uint64_t base_ns, interval_ns, max_ns;
    uint64_t tick, last_ns;
    int paused, pause_reported, was_paused; /* paused: the workload, by the control area */
    uint64_t knob_id;                       /* last knob command applied */
    uint64_t prev_ops, prev_ops_ns;
    double prev_rate;
    int stable;
    uint32_t nworkers;
    struct osfd *os;
    struct kcs_os_view *osv; /* pinning and perf counters, opened before RunStarted */
    int statm_fd;
    uint64_t *hist;
    pthread_mutex_t mark_mu;
    char mark_name[64], mark_detail[128];
    int mark_pending;
    struct kcs_coro_view *coro; /* --coroutines, else NULL */
};

/* ------------------------------------------------------------- /proc */

static long read_fd(int fd, char *buf, size_t cap) {
    if (fd < 0) return -1;
    ssize_t n = pread(fd, buf, cap - 1, 0);
    if (n < 0) return -1;
    buf[n] = 0;
    return n;
}

static int open_task_file(int tid, const char *name) {
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/%s", tid, name);
    return open(path, O_RDONLY | O_CLOEXEC);
}

/* schedstat every tick; status (context switches) and stat (cpu) are
 * costlier to generate, so they are refreshed every `slow_every` ticks and
 * on the final frame (the values are cumulative or instantaneous, so a stale
 * one costs resolution only). */
static void read_osthread(struct osfd *f, int tid, struct osthread *o, int slow) {
    *o = f->last;
    if (tid <= 0) return;
    if (f->tid != tid) {
        f->tid = tid;
        f->schedstat = open_task_file(tid, "schedstat");
        f->status = open_task_file(tid, "status");
        f->stat = open_task_file(tid, "stat");
    }
    char buf[2048];
    if (read_fd(f->schedstat, buf, sizeof buf) > 0) {
        unsigned long long a = 0, b = 0, c = 0;
        if (sscanf(buf, "%llu %llu %llu", &a, &b, &c) == 3) {
            o->run_ns = a;
            o->wait_ns = b;
            o->timeslices = c;
        }
    }
    if (slow && read_fd(f->status, buf, sizeof buf) > 0) {
        char *v = strstr(buf, "\nvoluntary_ctxt_switches:");
        char *nv = strstr(buf, "\nnonvoluntary_ctxt_switches:");
        if (v) o->vol = strtoull(v + 25, NULL, 10);
        if (nv) o->invol = strtoull(nv + 28, NULL, 10);
    }
    if (slow && read_fd(f->stat, buf, sizeof buf) > 0) {
        char *p = strrchr(buf, ')');
        if (p) {
            o->cpu = -1;
            /* fields after the comm: state is field 3, processor is field 39 */
            int field = 2;
            char *save = NULL;
            for (char *t = strtok_r(p + 1, " ", &save); t; t = strtok_r(NULL, " ", &save))
                if (++field == 39) {
                    o->cpu = strtoll(t, NULL, 10);
                    break;
                }
        }
    }
    f->last = *o;
}

static uint64_t rss_bytes(struct kcs_sampler *s) {
    char buf[256];
    if (read_fd(s->statm_fd, buf, sizeof buf) <= 0) return 0;
    unsigned long long size = 0, res = 0;
    if (sscanf(buf, "%llu %llu", &size, &res) != 2) return 0;
    return (uint64_t)res * (uint64_t)sysconf(_SC_PAGESIZE);
}

static uint64_t process_cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* -------------------------------------------------------------- events */

static void put_kv_u(struct kcs_mp *m, const char *k, uint64_t v) {
    kcs_mp_str(m, k);
    kcs_mp_uint(m, v);
}
static void put_kv_b(struct kcs_mp *m, const char *k, int v) {
    kcs_mp_str(m, k);
    kcs_mp_bool(m, v);
}
static void put_kv_s(struct kcs_mp *m, const char *k, const char *v) {
    kcs_mp_str(m, k);
    kcs_mp_str(m, v);
}

static void cpu_model(char *out, size_t cap) {
    snprintf(out, cap, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, "model name", 10) || !strncmp(line, "Model", 5) || !strncmp(line, "CPU part", 8)) {
            char *c = strchr(line, ':');
            if (c) {
                c++;
                while (*c == ' ' || *c == '\t') c++;
                c[strcspn(c, "\n")] = 0;
                snprintf(out, cap, "%s", c);
                if (!strncmp(line, "model name", 10)) break;
            }
        }
    }
    fclose(f);
}

static void write_run_started(struct kcs_sampler *s) {
    const struct kcs_bench_cfg *cfg = s->cfg;
    struct kcs_mp config, build, caps; /* the dict fields, pre-encoded msgpack maps */
    kcs_mp_init(&config);
    kcs_mp_init(&build);
    kcs_mp_init(&caps);
    kcs_os_view_capabilities(&caps, s->osv);
    uint64_t ts = kcs_monotonic_ns();
    char host[256] = "unknown", cpu[256], kernel[300] = "unknown";
    gethostname(host, sizeof host - 1);
    cpu_model(cpu, sizeof cpu);
    struct utsname u;
    if (uname(&u) == 0) snprintf(kernel, sizeof kernel, "%s %s", u.sysname, u.release);
    const char *kind = cfg->capacity == 0 ? "rendezvous" : "buffered";

    struct kcs_mp *m = &config;
    kcs_mp_map(m, 34);
    put_kv_s(m, "mode", kcs_mode_names[cfg->mode]);
    put_kv_b(m, "pin", cfg->pin);
    put_kv_b(m, "perf_counters", !cfg->no_perf_counters);
    put_kv_u(m, "workers", cfg->workers);
    put_kv_u(m, "producers", cfg->producers);
    put_kv_u(m, "consumers", cfg->consumers);
    put_kv_u(m, "packets", cfg->packets);
    put_kv_u(m, "capacity", cfg->capacity);
    put_kv_s(m, "channel_kind", kind);
    put_kv_u(m, "packet_size", cfg->packet_size);
    put_kv_u(m, "spin", cfg->spin);
    kcs_mp_str(m, "duration_s");
    kcs_mp_double(m, cfg->duration_s);
    put_kv_u(m, "interval_ms", cfg->interval_ms);
    put_kv_u(m, "batch", cfg->batch);
    put_kv_u(m, "body_cost", cfg->body_cost);
    put_kv_b(m, "zero_copy", cfg->zero_copy);
    put_kv_b(m, "imbalanced", cfg->imbalanced);
    put_kv_u(m, "seed", cfg->seed);
    put_kv_b(m, "adaptive", cfg->adaptive);
    put_kv_u(m, "adaptive_max_ms", cfg->adaptive_max_ms);
    put_kv_u(m, "latency_sample", cfg->latency_sample);
    put_kv_u(m, "ring_size", cfg->ring_size);
    put_kv_u(m, "tasks", cfg->tasks);
    put_kv_u(m, "messages", cfg->messages);
    put_kv_u(m, "body_ns", cfg->body_ns);
    put_kv_u(m, "packet_cost", cfg->packet_cost);
    put_kv_b(m, "coroutines", cfg->coroutines);
    put_kv_u(m, "coroutines_top", cfg->coroutines_top);
    put_kv_u(m, "coroutines_every", cfg->coroutines_every);
    put_kv_u(m, "coroutines_sample", cfg->coroutines_sample);
    put_kv_u(m, "hog_ms", cfg->hog_ms);
    put_kv_b(m, "stuck", cfg->stuck);
    kcs_mp_str(m, "knobs"); /* what `ctl set_knob` may change while running: name -> [min, max] */
    kcs_mp_map(m, KCS_NKNOBS);
    for (int k = 0; k < KCS_NKNOBS; k++) {
        kcs_mp_str(m, kcs_knob_table[k].name);
        kcs_mp_array(m, 2);
        kcs_mp_uint(m, kcs_knob_table[k].min);
        kcs_mp_uint(m, kcs_knob_table[k].max);
    }
    kcs_mp_str(m, "pools");
    uint32_t np = kcs_workload_npools(s->wl);
    kcs_mp_array(m, np);
    for (uint32_t i = 0; i < np; i++) kcs_mp_str(m, kcr_pool_name(kcs_workload_pool(s->wl, i)));
    m = &build;
    kcs_mp_map(m, 6);
#ifdef __VERSION__
    put_kv_s(m, "compiler", "gcc-compatible " __VERSION__);
#else
    put_kv_s(m, "compiler", "unknown");
#endif
    put_kv_s(m, "flags", KCS_BUILD_FLAGS);
    put_kv_s(m, "git", KCS_GIT_DESCRIBE);
    put_kv_s(m, "cpu", cpu);
    put_kv_s(m, "kernel", kernel);
    put_kv_s(m, "switch", kcr_switch_impl());

    kcs_run_begin(s->ring, &s->mp, ts,
                  &(struct kcs_run_info){.run_id = s->run_id,
                                         .mode = kcs_mode_names[cfg->mode],
                                         .host = host,
                                         .workers = s->nworkers,
                                         .interval_ns = s->interval_ns,
                                         .config = &config,
                                         .build = &build,
                                         .capabilities = &caps});
    kcs_mp_free(&config);
    kcs_mp_free(&build);
    kcs_mp_free(&caps);
}

static void write_tick_only(struct kcs_sampler *s, uint64_t now, uint64_t actual, int paused) {
    kcs_frame_begin(&s->mp, 1);
    kcs_emit_tick(&s->mp, now, 0,
                  &(struct kcs_tick){.seq = s->tick, .target_ns = s->interval_ns, .actual_ns = actual, .paused = paused});
    kcs_frame_commit(s->ring, &s->mp);
}

static void gauge(struct kcs_mp *m, uint64_t now, const char *name, uint32_t pool, double v) {
    kcs_emit_gauge(m, now, 0, &(struct kcs_gauge){.name = name, .pool = pool, .value = v});
}

/* One sample frame; returns the operation count (tasks + messages) for adaptive mode. */
static uint64_t write_sample(struct kcs_sampler *s, uint64_t now, uint64_t actual, int final, int paused) {
    struct kcs_mp *m = &s->mp;
    struct kcs_workload *wl = s->wl;
    uint32_t np = kcs_workload_npools(wl), nc = kcs_workload_nchans(wl);
    uint32_t nev = 1 + s->nworkers + nc + KCR_NHIST * np + 5 * np + 2 + s->nworkers + kcs_os_view_nevents(s->osv);
    uint64_t ops = 0;
    kcs_frame_begin(m, nev);
    kcs_emit_tick(m, now, 0,
                  &(struct kcs_tick){.seq = s->tick, .target_ns = s->interval_ns, .actual_ns = actual, .paused = paused});

    int32_t tids[KCS_MAX_POOLS * KCR_MAX_WORKERS];
    uint32_t gids[KCS_MAX_POOLS * KCR_MAX_WORKERS];
    uint32_t k = 0;
    for (uint32_t p = 0; p < np; p++) {
        kcr_pool *pool = kcs_workload_pool(wl, p);
        struct kcr_worker_stats ws[KCR_MAX_WORKERS];
        kcr_pool_stats(pool, ws);
        for (uint32_t i = 0; i < kcr_pool_workers(pool); i++, k++) {
            struct kcr_worker_stats w = ws[i];
            tids[k] = w.tid;
            gids[k] = w.worker;
            ops += w.tasks_completed;
            kcs_emit_worker_counters(m, now, 0,
                                     &(struct kcs_worker_counters){
                                         .worker = w.worker,
                                         .pool = w.pool,
                                         .tasks_submitted = w.tasks_submitted,
                                         .tasks_completed = w.tasks_completed,
                                         .fastpath_hits = w.fastpath_hits,
                                         .fastpath_misses = w.fastpath_misses,
                                         .steal_probes = w.steal_probes,
                                         .steal_successes = w.steal_successes,
                                         .steal_failures = w.steal_failures,
                                         .last_victim = (int32_t)w.last_victim,
                                         .inject_pulls = w.inject_pulls,
                                         .parks = w.parks,
                                         .unparks = w.unparks,
                                         .busy_ns = w.busy_ns,
                                         .idle_ns = w.idle_ns,
                                         .switches = w.switches,
                                     });
        }
    }
    for (uint32_t c = 0; c < nc; c++) {
        struct kcr_chan_stats x;
        kcr_chan_stats(kcs_workload_chan(wl, c), &x);
        ops += x.recvs;
        kcs_emit_channel_counters(m, now, 0,
                                  &(struct kcs_channel_counters){
                                      .channel = x.channel,
                                      .pool = x.pool,
                                      .kind = x.kind,
                                      .flags = x.flags,
                                      .capacity = x.capacity,
                                      .depth = x.depth,
                                      .elem_size = x.elem_size,
                                      .sends = x.sends,
                                      .recvs = x.recvs,
                                      .bytes_sent = x.bytes_sent,
                                      .bytes_recv = x.bytes_recv,
                                      .send_eagain = x.send_eagain,
                                      .recv_eagain = x.recv_eagain,
                                      .send_epipe = x.send_epipe,
                                      .recv_epipe = x.recv_epipe,
                                      .send_timeouts = x.send_timeouts,
                                      .recv_timeouts = x.recv_timeouts,
                                      .zc_sent = x.zc_sent,
                                      .zc_recv = x.zc_recv,
                                      .zc_aborted = x.zc_aborted,
                                      .rv_matches = x.rv_matches,
                                      .rv_cancels = x.rv_cancels,
                                  });
    }
    static const char *const metrics[KCR_NHIST] = {"task_start_latency_ns", "chan_latency_ns", "task_body_ns"};
    for (uint32_t p = 0; p < np; p++)
        for (int h = 0; h < KCR_NHIST; h++) {
            uint64_t total = 0;
            memset(s->hist, 0, sizeof(uint64_t) * KCS_HIST_BUCKETS);
            kcr_pool_hist(kcs_workload_pool(wl, p), h, s->hist, &total);
            kcs_run_histogram(m, now, metrics[h], p, s->hist, KCS_HIST_BUCKETS, total);
        }
    struct osthread os[KCS_MAX_POOLS * KCR_MAX_WORKERS];
    int slow = final || s->tick % 10 == 1;
    for (uint32_t i = 0; i < s->nworkers; i++) read_osthread(&s->os[i], tids[i], &os[i], slow);
    k = 0;
    for (uint32_t p = 0; p < np; p++) {
        kcr_pool *pool = kcs_workload_pool(wl, p);
        struct kcr_pool_gauges g;
        kcr_pool_gauges(pool, &g);
        uint64_t cpu = 0;
        for (uint32_t i = 0; i < kcr_pool_workers(pool); i++) cpu += os[k++].run_ns;
        gauge(m, now, "inject_depth", p, (double)g.inject_depth);
        gauge(m, now, "live_coroutines", p, (double)g.live_coroutines);
        gauge(m, now, "ready_coroutines", p, (double)g.ready_coroutines);
        gauge(m, now, "pool_cpu_ns", p, (double)cpu);
        gauge(m, now, "pool_stack_bytes", p, (double)g.stack_bytes);
    }
    gauge(m, now, "process_cpu_ns", 0, (double)process_cpu_ns());
    gauge(m, now, "rss_bytes", 0, (double)rss_bytes(s));
    for (uint32_t i = 0; i < s->nworkers; i++) {
        kcs_emit_os_thread(m, now, 0,
                           &(struct kcs_os_thread){.worker = gids[i],
                                                   .tid = tids[i],
                                                   .run_ns = os[i].run_ns,
                                                   .wait_ns = os[i].wait_ns,
                                                   .timeslices = os[i].timeslices,
                                                   .voluntary_cs = os[i].vol,
                                                   .involuntary_cs = os[i].invol,
                                                   .cpu = (int32_t)os[i].cpu});
    }
    for (uint32_t i = 0; i < kcs_os_view_nevents(s->osv); i++) kcs_os_view_emit(s->osv, m, now, i, gids[i]);
    kcs_frame_commit(s->ring, m);
    return ops;
}

static void write_mark(struct kcs_sampler *s) {
    pthread_mutex_lock(&s->mark_mu);
    if (s->mark_pending) {
        kcs_frame_begin(&s->mp, 1);
        kcs_emit_mark(&s->mp, kcs_monotonic_ns(), 0,
                      &(struct kcs_mark){.name = s->mark_name, .detail = s->mark_detail});
        kcs_frame_commit(s->ring, &s->mp);
        s->mark_pending = 0;
    }
    pthread_mutex_unlock(&s->mark_mu);
}

/* ------------------------------------------------------------- control */

/* Adaptive sampling: compare each tick's operation rate with its running
 * average (EMA, alpha 0.3). Within 15 % for three ticks in a row: double the
 * interval (up to max_ns). Off by more than 50 %: back to the base interval. */
static void adapt(struct kcs_sampler *s, uint64_t ops, uint64_t now) {
    if (!s->cfg->adaptive) return;
    if (s->prev_ops_ns && now > s->prev_ops_ns) {
        double rate = (double)(ops - s->prev_ops) / (double)(now - s->prev_ops_ns);
        double ref = s->prev_rate > 0 ? s->prev_rate : rate;
        double change = ref > 0 ? (rate > ref ? rate - ref : ref - rate) / ref : (rate > 0 ? 1.0 : 0.0);
        if (change > 0.50) {
            s->interval_ns = s->base_ns; /* narrow at once on change */
            s->stable = 0;
            s->prev_rate = rate;
        } else {
            if (change <= 0.15 && ++s->stable >= 3 && s->interval_ns < s->max_ns) {
                s->interval_ns = s->interval_ns * 2 > s->max_ns ? s->max_ns : s->interval_ns * 2;
                s->stable = 0;
            } else if (change > 0.15) {
                s->stable = 0;
            }
            s->prev_rate = ref + 0.3 * (rate - ref);
        }
    }
    s->prev_ops = ops;
    s->prev_ops_ns = now;
}

/* A knob command: applied once per id, answered by one frame of KnobApplied
 * events (the change is then in the log where it took effect). A malformed
 * command is ignored: the monitor validates against RunStarted.config.knobs. */
static void apply_knobs(struct kcs_sampler *s, const uint8_t *cmd, uint32_t len) {
    struct kcs_knob_cmd kc;
    if (kcs_knob_cmd_parse(cmd, len, &kc) != 0 || kc.id == s->knob_id) return;
    s->knob_id = kc.id;
    uint64_t prev[KCS_NKNOBS];
    for (uint32_t i = 0; i < kc.n; i++) prev[i] = kcs_workload_set_knob(s->wl, kc.knob[i], kc.value[i]);
    uint64_t now = kcs_monotonic_ns();
    kcs_frame_begin(&s->mp, kc.n);
    for (uint32_t i = 0; i < kc.n; i++)
        kcs_emit_knob_applied(&s->mp, now, 0,
                              &(struct kcs_knob_applied){.cmd_id = kc.id,
                                                         .name = kcs_knob_table[kc.knob[i]].name,
                                                         .value = kc.value[i],
                                                         .previous = prev[i]});
    kcs_frame_commit(s->ring, &s->mp);
}

static void apply_control(struct kcs_sampler *s) {
    struct kcs_control c;
    if (!kcs_ring_poll_control(s->ring, &c)) return;
    if (c.interval_ns) {
        uint64_t v = c.interval_ns;
        if (v < 1000000u) v = 1000000u;                   /* 1 ms .. 60 s */
        if (v > UINT64_C(60000000000)) v = UINT64_C(60000000000);
        s->base_ns = v;
        s->interval_ns = v;
        if (s->max_ns < v) s->max_ns = v;
        s->stable = 0;
    }
    s->paused = c.paused != 0;
    kcs_workload_pause(s->wl, s->paused);
    if (c.cmd_len) apply_knobs(s, c.cmd, c.cmd_len);
    if (c.stop) atomic_store_explicit(&s->stop_requested, 1, memory_order_release);
}

/* Sleep until `deadline` (CLOCK_MONOTONIC) or until finish is set. */
static void wait_until(struct kcs_sampler *s, uint64_t deadline) {
    struct timespec ts = {(time_t)(deadline / 1000000000u), (long)(deadline % 1000000000u)};
    while (!atomic_load_explicit(&s->finish, memory_order_acquire) && kcs_monotonic_ns() < deadline)
        syscall(SYS_futex, (uint32_t *)&s->finish, FUTEX_WAIT_BITSET_PRIVATE, 0, &ts, NULL,
                FUTEX_BITSET_MATCH_ANY);
}

static void *sampler_main(void *arg) {
    struct kcs_sampler *s = (struct kcs_sampler *)arg;
    pthread_setname_np(pthread_self(), "kcs-sampler");
    /* Ticks should not wait behind busy workers: ask for a real-time slot;
     * without the privilege, a higher nice priority; without that, as is. */
    struct sched_param sp = {.sched_priority = 1};
    if (pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) != 0)
        setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), -10);
    s->osv = kcs_os_view_open(s->cfg, s->wl); /* NULL (out of memory): no pinning, no OsCounters */
    write_run_started(s);
    uint64_t start = kcs_monotonic_ns();
    s->last_ns = start;
    uint64_t deadline = start + s->interval_ns;
    for (;;) {
        wait_until(s, deadline);
        /* acquire: pairs with the release in kcs_sampler_finish */
        if (atomic_load_explicit(&s->finish, memory_order_acquire)) break;
        uint64_t now = kcs_monotonic_ns();
        apply_control(s);
        kcs_ring_heartbeat(s->ring);
        write_mark(s);
        s->tick++;
        /* --pause-at-ms/--pause-ms: a scripted pause, as if the monitor had asked for one */
        uint64_t since = now - start, at = (uint64_t)s->cfg->pause_at_ms * 1000000u;
        int scripted = s->cfg->pause_ms && since >= at && since < at + (uint64_t)s->cfg->pause_ms * 1000000u;
        if (scripted != s->was_paused) s->pause_reported = 0;
        s->was_paused = scripted;
        if (scripted) {
            if (!s->pause_reported) write_tick_only(s, now, now - s->last_ns, 1);
            s->pause_reported = 1;
        } else {
            uint64_t ops = write_sample(s, now, now - s->last_ns, 0, s->paused);
            if (s->coro && s->tick % s->cfg->coroutines_every == 0)
                kcs_coro_view_write(s->coro, s->ring, &s->mp, s->cfg, s->wl, now);
            adapt(s, ops, now);
        }
        s->last_ns = now;
        deadline += s->interval_ns;
        uint64_t after = kcs_monotonic_ns();
        if (deadline <= after) deadline = after + s->interval_ns; /* fell behind: skip, never burst */
    }
    /* final counters (the pools have drained), then the end of the run */
    uint64_t now = kcs_monotonic_ns();
    apply_control(s);
    kcs_ring_heartbeat(s->ring);
    write_mark(s);
    s->tick++;
    write_sample(s, now, now - s->last_ns, 1, 0);
    kcs_frame_begin(&s->mp, 1);
    kcs_emit_run_ended(&s->mp, kcs_monotonic_ns(), 0,
                       &(struct kcs_run_ended){.reason = s->reason, .status = s->status});
    kcs_frame_commit(s->ring, &s->mp);
    kcs_ring_close(s->ring);
    return NULL;
}

struct kcs_sampler *kcs_sampler_start(struct kcs_ring *ring, const struct kcs_bench_cfg *cfg,
                                      struct kcs_workload *wl, const char *run_id) {
    struct kcs_sampler *s = (struct kcs_sampler *)calloc(1, sizeof *s);
    if (!s) return NULL;
    s->ring = ring;
    s->cfg = cfg;
    s->wl = wl;
    snprintf(s->run_id, sizeof s->run_id, "%s", run_id);
    kcs_mp_init(&s->mp);
    s->base_ns = s->interval_ns = (uint64_t)cfg->interval_ms * 1000000u;
    s->max_ns = (uint64_t)cfg->adaptive_max_ms * 1000000u;
    if (s->max_ns < s->base_ns) s->max_ns = s->base_ns;
    for (uint32_t p = 0; p < kcs_workload_npools(wl); p++) s->nworkers += kcr_pool_workers(kcs_workload_pool(wl, p));
    s->os = (struct osfd *)calloc(s->nworkers, sizeof *s->os);
    s->hist = (uint64_t *)calloc(KCS_HIST_BUCKETS, sizeof(uint64_t));
    if (!s->os || !s->hist) {
        free(s->os);
        free(s->hist);
        free(s);
        return NULL;
    }
    for (uint32_t i = 0; i < s->nworkers; i++) {
        s->os[i].schedstat = s->os[i].status = s->os[i].stat = -1;
        s->os[i].last.cpu = -1;
    }
    if (cfg->coroutines && !(s->coro = kcs_coro_view_new())) {
        free(s->os);
        free(s->hist);
        free(s);
        return NULL;
    }
    s->statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    pthread_mutex_init(&s->mark_mu, NULL);
    snprintf(s->reason, sizeof s->reason, "duration");
    if (pthread_create(&s->thread, NULL, sampler_main, s) != 0) {
        kcs_coro_view_free(s->coro);
        free(s->os);
        free(s->hist);
        free(s);
        return NULL;
    }
    return s;
}

int kcs_sampler_stop_requested(struct kcs_sampler *s) {
    /* acquire: pairs with the release in apply_control */
    return s && atomic_load_explicit(&s->stop_requested, memory_order_acquire) != 0;
}

void kcs_sampler_mark(struct kcs_sampler *s, const char *name, const char *detail) {
    if (!s) return;
    pthread_mutex_lock(&s->mark_mu);
    snprintf(s->mark_name, sizeof s->mark_name, "%s", name);
    snprintf(s->mark_detail, sizeof s->mark_detail, "%s", detail);
    s->mark_pending = 1;
    pthread_mutex_unlock(&s->mark_mu);
}

void kcs_sampler_finish(struct kcs_sampler *s, const char *reason, int status) {
    if (!s) return;
    snprintf(s->reason, sizeof s->reason, "%s", reason);
    s->status = status;
    /* release: pairs with the acquire in sampler_main; reason/status are visible */
    atomic_store_explicit(&s->finish, 1, memory_order_release);
    syscall(SYS_futex, (uint32_t *)&s->finish, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    pthread_join(s->thread, NULL);
    for (uint32_t i = 0; i < s->nworkers; i++) {
        if (s->os[i].schedstat >= 0) close(s->os[i].schedstat);
        if (s->os[i].status >= 0) close(s->os[i].status);
        if (s->os[i].stat >= 0) close(s->os[i].stat);
    }
    if (s->statm_fd >= 0) close(s->statm_fd);
    kcs_os_view_close(s->osv);
    pthread_mutex_destroy(&s->mark_mu);
    kcs_mp_free(&s->mp);
    kcs_coro_view_free(s->coro);
    free(s->os);
    free(s->hist);
    free(s);
}
