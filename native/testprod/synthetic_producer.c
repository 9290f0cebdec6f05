/*
 * synthetic_producer.c — the scripted test producer: synthetic WorkerCounters,
 * ChannelCounters, Histogram, Gauge and Tick events whose shape the flags
 * script, so the Python tests, the self-test and the ingest benchmarks can
 * know what the monitor must find. It is `kcoro-stream run --producer
 * synthetic` and `python -m kcoro_stream.sources.synthetic` (through
 * kcoro_stream._native), and build/synthetic_producer. It is not an example:
 * native/examples/minimal_producer.c is the smallest one.
 *
 *   synthetic_producer --ring PATH [--interval-ms 10] [--duration S] [--workers 2]
 *                      [--channels 1] [--rate TICKS_PER_S] [--frames N] [--seed N]
 *
 * --rate 0 means "as fast as possible" (the ingest-capacity benchmark);
 * otherwise ticks follow --interval-ms. --frames stops after N frames.
 * --inject-growth N adds N items per tick to the inject-queue depth gauge: a
 * scripted backlog, for testing backpressure analyses end to end; with
 * --growth-from T1 and/or --growth-until T2 it grows only during ticks
 * [T1, T2) and drains at once at T2 (steady, growth, steady: the self-test).
 * --step-at T --step-pct P: from tick T on, every worker completes P % of its
 * usual tasks per tick — a scripted rate step, for testing anomaly detection.
 */
#include "kcs_run.h"

#include <getopt.h>
#include <signal.h>

#include "kcs_reader.h"

static volatile sig_atomic_t g_stop;
static void on_signal(int sig) {
    (void)sig;
    g_stop = 1;
}

static uint64_t xorshift(uint64_t *s) {
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static int parse_u64(const char *opt, const char *s, uint64_t lo, uint64_t hi, uint64_t *out) {
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || !end || *end || s[0] == '-' || v < lo || v > hi) {
        fprintf(stderr, "synthetic_producer: --%s: expected an integer in [%llu, %llu], got '%s'\n", opt,
                (unsigned long long)lo, (unsigned long long)hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

static void sleep_ns(uint64_t ns) {
    struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !g_stop) {
    }
}

int kcs_synthetic_main(int argc, char **argv) {
    const char *ring_path = NULL;
    uint64_t interval_ms = 10, duration_s = 0, workers = 2, channels = 1, rate = 100, frames = 0,
             seed = 1, inject_growth = 0, growth_from = 0, growth_until = 0, step_at = 0, step_pct = 100;
    int rate_set = 0;
    static const struct option opts[] = {{"ring", required_argument, 0, 'r'},
                                         {"interval-ms", required_argument, 0, 'i'},
                                         {"duration", required_argument, 0, 'd'},
                                         {"workers", required_argument, 0, 'w'},
                                         {"channels", required_argument, 0, 'c'},
                                         {"rate", required_argument, 0, 'R'},
                                         {"frames", required_argument, 0, 'n'},
                                         {"seed", required_argument, 0, 's'},
                                         {"inject-growth", required_argument, 0, 'g'},
                                         {"growth-from", required_argument, 0, 'F'},
                                         {"growth-until", required_argument, 0, 'U'},
                                         {"step-at", required_argument, 0, 'T'},
                                         {"step-pct", required_argument, 0, 'P'},
                                         {0, 0, 0, 0}};
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        int rc = 0;
        switch (c) {
        case 'r': ring_path = optarg; break;
        case 'i': rc = parse_u64("interval-ms", optarg, 1, 60000, &interval_ms); break;
        case 'd': rc = parse_u64("duration", optarg, 0, 86400, &duration_s); break;
        case 'w': rc = parse_u64("workers", optarg, 1, 256, &workers); break;
        case 'c': rc = parse_u64("channels", optarg, 0, 256, &channels); break;
        case 'R': rc = parse_u64("rate", optarg, 0, 10000000, &rate); rate_set = 1; break;
        case 'n': rc = parse_u64("frames", optarg, 0, UINT64_MAX / 2, &frames); break;
        case 's': rc = parse_u64("seed", optarg, 1, UINT64_MAX / 2, &seed); break;
        case 'g': rc = parse_u64("inject-growth", optarg, 0, 1000000, &inject_growth); break;
        case 'F': rc = parse_u64("growth-from", optarg, 0, UINT64_MAX / 2, &growth_from); break;
        case 'U': rc = parse_u64("growth-until", optarg, 1, UINT64_MAX / 2, &growth_until); break;
        case 'T': rc = parse_u64("step-at", optarg, 1, UINT64_MAX / 2, &step_at); break;
        case 'P': rc = parse_u64("step-pct", optarg, 1, 100000, &step_pct); break;
        default:
            fprintf(stderr, "synthetic_producer: unknown option '%s'\n", argv[optind - 1]);
            return 2;
        }
        if (rc) return 2;
    }
    struct kcs_ring ring;
    if (kcs_run_attach(&ring, "synthetic_producer", ring_path) != 0) return 2;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    struct kcs_mp mp;
    kcs_mp_init(&mp);
    uint64_t interval_ns = interval_ms * UINT64_C(1000000);
    if (rate_set && rate > 0) interval_ns = UINT64_C(1000000000) / rate;
    uint64_t t0 = kcs_monotonic_ns();
    uint64_t rng = seed * UINT64_C(0x9E3779B97F4A7C15) | 1;

    struct kcs_mp config; /* RunStarted's config: a pre-encoded msgpack map */
    kcs_mp_init(&config);
    kcs_mp_map(&config, 4);
    kcs_mp_str(&config, "workers"); kcs_mp_uint(&config, workers);
    kcs_mp_str(&config, "channels"); kcs_mp_uint(&config, channels);
    kcs_mp_str(&config, "rate"); kcs_mp_uint(&config, rate);
    kcs_mp_str(&config, "seed"); kcs_mp_uint(&config, seed);
    kcs_run_begin(&ring, &mp, t0,
                  &(struct kcs_run_info){.mode = "synthetic",
                                         .workers = (uint32_t)workers,
                                         .interval_ns = interval_ns,
                                         .config = &config});
    kcs_mp_free(&config);

    uint64_t *submitted = calloc(workers, sizeof *submitted);
    uint64_t *completed = calloc(workers, sizeof *completed);
    uint64_t *hits = calloc(workers, sizeof *hits);
    uint64_t *probes = calloc(workers, sizeof *probes);
    uint64_t *succ = calloc(workers, sizeof *succ);
    uint64_t *busy = calloc(workers, sizeof *busy);
    uint64_t *idle = calloc(workers, sizeof *idle);
    uint64_t sends = 0, hist[32] = {0}, hist_total = 0;
    if (!submitted || !completed || !hits || !probes || !succ || !busy || !idle) {
        fprintf(stderr, "synthetic_producer: out of memory\n");
        return 1;
    }
    uint64_t tick = 0, last = t0, paused = 0, deadline = t0;
    int status = 0;
    const char *reason = "duration";
    while (!g_stop) {
        uint64_t now = kcs_monotonic_ns();
        if (duration_s && now - t0 >= duration_s * UINT64_C(1000000000)) break;
        if (frames && tick >= frames) break;
        struct kcs_control ctl;
        if (kcs_ring_poll_control(&ring, &ctl)) {
            if (ctl.interval_ns) interval_ns = ctl.interval_ns;
            paused = ctl.paused;
            if (ctl.stop) {
                reason = "stopped";
                break;
            }
        }
        kcs_ring_heartbeat(&ring);
        if (paused) {
            sleep_ns(interval_ns);
            continue;
        }
        for (uint64_t w = 0; w < workers; w++) {
            uint64_t n = 1000 + xorshift(&rng) % 1000;
            if (step_at && tick >= step_at) n = n * step_pct / 100;
            submitted[w] += n;
            completed[w] += n - (xorshift(&rng) % 8);
            if (completed[w] > submitted[w]) completed[w] = submitted[w];
            hits[w] += n * 9 / 10;
            probes[w] += 10;
            succ[w] += xorshift(&rng) % 10;
            busy[w] += (now - last) * 8 / 10; /* busy + idle == elapsed, both monotonic */
            idle[w] += (now - last) - (now - last) * 8 / 10;
        }
        sends += 5000 + xorshift(&rng) % 100;
        for (int i = 0; i < 64; i++) {
            uint64_t lat = 200 + xorshift(&rng) % 2000;
            hist[kcs_hist_bucket(lat) < 32 ? kcs_hist_bucket(lat) : 31]++;
            hist_total += lat;
        }
        tick++;
        kcs_frame_begin(&mp, (uint32_t)(3 + workers + channels));
        kcs_emit_tick(&mp, now, 0, &(struct kcs_tick){.seq = tick, .target_ns = interval_ns, .actual_ns = now - last});
        for (uint64_t w = 0; w < workers; w++) {
            kcs_emit_worker_counters(&mp, now, 0,
                                     &(struct kcs_worker_counters){
                                         .worker = (uint32_t)w,
                                         .tasks_submitted = submitted[w],
                                         .tasks_completed = completed[w],
                                         .fastpath_hits = hits[w],
                                         .fastpath_misses = completed[w] > hits[w] ? completed[w] - hits[w] : 0,
                                         .steal_probes = probes[w],
                                         .steal_successes = succ[w],
                                         .steal_failures = probes[w] - succ[w],
                                         .last_victim = workers > 1 ? (int32_t)((w + 1) % workers) : -1,
                                         .inject_pulls = tick,
                                         .parks = tick / 2,
                                         .unparks = tick / 2,
                                         .busy_ns = busy[w],
                                         .idle_ns = idle[w],
                                         .switches = completed[w] * 2,
                                     });
        }
        for (uint64_t ch = 0; ch < channels; ch++) {
            uint64_t depth = xorshift(&rng) % 1024;
            kcs_emit_channel_counters(&mp, now, 0,
                                      &(struct kcs_channel_counters){
                                          .channel = (uint32_t)ch,
                                          .kind = KCS_CHANNEL_BUFFERED,
                                          .capacity = 1024,
                                          .depth = depth,
                                          .elem_size = 64,
                                          .sends = sends,
                                          .recvs = sends,
                                          .bytes_sent = sends * 64,
                                          .bytes_recv = sends * 64,
                                      });
        }
        kcs_run_histogram(&mp, now, "task_start_latency_ns", 0, hist, 32, hist_total);
        /* the backlog grows during [growth_from, growth_until) and is drained at once after it */
        uint64_t grown = tick > growth_from ? tick - growth_from : 0;
        if (growth_until && tick >= growth_until) grown = 0;
        double inject_depth = (double)(xorshift(&rng) % 64 + grown * inject_growth);
        kcs_emit_gauge(&mp, now, 0, &(struct kcs_gauge){.name = "inject_depth", .value = inject_depth});
        kcs_frame_commit(&ring, &mp);
        last = now;
        if (!(rate_set && rate == 0)) { /* --rate 0: as fast as possible */
            deadline += interval_ns;
            uint64_t t = kcs_monotonic_ns();
            if (deadline > t) sleep_ns(deadline - t);
            else if (t - deadline > UINT64_C(100000000)) deadline = t; /* >100 ms behind: give up catching up */
        }
    }
    if (g_stop) reason = "signal";
    kcs_run_end(&ring, &mp, reason, status);
    kcs_ring_close(&ring);
    kcs_mp_free(&mp);
    free(submitted);
    free(completed);
    free(hits);
    free(probes);
    free(succ);
    free(busy);
    free(idle);
    return status;
}
