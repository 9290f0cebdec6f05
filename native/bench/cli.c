/*
 * cli.c — benchmark flags. Parsed once, here, with getopt_long; every knob has
 * a default and a range, and a bad flag is one line on stderr:
 *
 *   kcoro-bench: --packets: expected an integer in [1, 1000000000], got '0'
 *
 * The short flags are the old monitor's (-P -C -N -c -k -s -m -d).
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

const char *const kcs_mode_names[] = {"channel", "tasks", "mixed", "dual"};

enum {
    OPT_RING = 1000,
    OPT_NO_RING,
    OPT_RING_SIZE,
    OPT_WORKERS,
    OPT_INTERVAL,
    OPT_BATCH,
    OPT_BODY_COST,
    OPT_ZERO_COPY,
    OPT_IMBALANCED,
    OPT_SEED,
    OPT_ADAPTIVE,
    OPT_ADAPTIVE_MAX,
    OPT_KIND,
    OPT_LATENCY_SAMPLE,
    OPT_SUMMARY,
    OPT_TASKS,
    OPT_MESSAGES,
    OPT_BODY_NS,
    OPT_PACKET_COST,
    OPT_PAUSE_AT,
    OPT_PAUSE_MS,
    OPT_PIN,
    OPT_NO_PERF,
    OPT_COROUTINES,
    OPT_CORO_TOP,
    OPT_CORO_EVERY,
    OPT_CORO_SAMPLE,
    OPT_HOG_MS,
    OPT_STUCK,
    OPT_HELP
};

static const struct option long_opts[] = {
    {"ring", required_argument, 0, OPT_RING},
    {"no-ring", no_argument, 0, OPT_NO_RING},
    {"ring-size", required_argument, 0, OPT_RING_SIZE},
    {"mode", required_argument, 0, 'm'},
    {"producers", required_argument, 0, 'P'},
    {"consumers", required_argument, 0, 'C'},
    {"packets", required_argument, 0, 'N'},
    {"capacity", required_argument, 0, 'c'},
    {"packet-size", required_argument, 0, 'k'},
    {"spin", required_argument, 0, 's'},
    {"duration", required_argument, 0, 'd'},
    {"workers", required_argument, 0, OPT_WORKERS},
    {"interval-ms", required_argument, 0, OPT_INTERVAL},
    {"batch", required_argument, 0, OPT_BATCH},
    {"body-cost", required_argument, 0, OPT_BODY_COST},
    {"zero-copy", no_argument, 0, OPT_ZERO_COPY},
    {"imbalanced", no_argument, 0, OPT_IMBALANCED},
    {"seed", required_argument, 0, OPT_SEED},
    {"adaptive", no_argument, 0, OPT_ADAPTIVE},
    {"adaptive-max-ms", required_argument, 0, OPT_ADAPTIVE_MAX},
    {"channel-kind", required_argument, 0, OPT_KIND},
    {"latency-sample", required_argument, 0, OPT_LATENCY_SAMPLE},
    {"summary", no_argument, 0, OPT_SUMMARY},
    {"tasks", required_argument, 0, OPT_TASKS},
    {"messages", required_argument, 0, OPT_MESSAGES},
    {"body-ns", required_argument, 0, OPT_BODY_NS},
    {"packet-cost", required_argument, 0, OPT_PACKET_COST},
    {"pause-at-ms", required_argument, 0, OPT_PAUSE_AT},
    {"pause-ms", required_argument, 0, OPT_PAUSE_MS},
    {"pin", no_argument, 0, OPT_PIN},
    {"no-perf-counters", no_argument, 0, OPT_NO_PERF},
    {"coroutines", no_argument, 0, OPT_COROUTINES},
    {"coroutines-top", required_argument, 0, OPT_CORO_TOP},
    {"coroutines-every", required_argument, 0, OPT_CORO_EVERY},
    {"coroutines-sample", required_argument, 0, OPT_CORO_SAMPLE},
    {"hog-ms", required_argument, 0, OPT_HOG_MS},
    {"stuck", no_argument, 0, OPT_STUCK},
    {"help", no_argument, 0, OPT_HELP},
    {0, 0, 0, 0}};

static const char *long_name(int c) {
    for (const struct option *o = long_opts; o->name; o++)
        if (o->val == c) return o->name;
    return "?";
}

static int bad(const char *flag, const char *fmt, const char *arg) {
    fprintf(stderr, "kcoro-bench: --%s: ", flag);
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    return 2;
}

static int parse_u64(int c, const char *s, uint64_t lo, uint64_t hi, uint64_t *out) {
    char *end = NULL;
    errno = 0;
    while (*s == ' ') s++;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || !end || end == s || *end || s[0] == '-' || v < lo || v > hi) {
        char want[96];
        snprintf(want, sizeof want, "expected an integer in [%llu, %llu], got '%%s'", (unsigned long long)lo,
                 (unsigned long long)hi);
        return bad(long_name(c), want, s);
    }
    *out = v;
    return 0;
}

static int parse_u32(int c, const char *s, uint64_t lo, uint64_t hi, uint32_t *out) {
    uint64_t v;
    int rc = parse_u64(c, s, lo, hi, &v);
    if (!rc) *out = (uint32_t)v;
    return rc;
}

static void usage(void) {
    printf("usage: kcoro-bench (--ring PATH | --no-ring) [--mode channel|tasks|mixed|dual] [options]\n"
           "  -P, --producers N      producer coroutines (channel), default 1, 1..1024\n"
           "  -C, --consumers N      consumer coroutines (channel, mixed), default 1, 1..1024\n"
           "  -N, --packets N        packets per producer per cycle, default 1024\n"
           "  -c, --capacity N       channel capacity, 0 = rendezvous, default 1024\n"
           "  -k, --packet-size B    bytes per packet, default 64, 1..65536\n"
           "  -s, --spin N           buffer polls before a blocked op suspends, default 64\n"
           "  -m, --mode M           channel | tasks | mixed | dual, default channel\n"
           "  -d, --duration S       seconds (decimals allowed), 0 = until stopped, default 0\n"
           "      --workers N        worker threads per pool, default online CPUs, 1..64\n"
           "      --interval-ms N    sampling interval, default 10, 1..60000\n"
           "      --batch N          tasks submitted per wait (tasks, mixed), default 64\n"
           "      --body-cost N      work units per task body, default 0\n"
           "      --packet-cost N    channel, dual: work units a producer burns per packet, default 0\n"
           "      --zero-copy        pointer (zero-copy) channel mode\n"
           "      --imbalanced       all task submissions from worker 0\n"
           "      --seed N           seed, default 1\n"
           "      --adaptive         widen the interval while counters are stable\n"
           "      --adaptive-max-ms N  widest adaptive interval, default 16 x interval (<= 1000)\n"
           "      --channel-kind K   auto | buffered | rendezvous, default auto (capacity 0 = rendezvous)\n"
           "      --latency-sample N time one task start / message in N (power of two), default 8\n"
           "      --ring-size B      data bytes when creating the ring, power of two, default 4194304\n"
           "      --summary          print a one-line JSON summary on stdout at the end\n"
           "      --tasks N          tasks: exactly N task bodies in all, then the run ends (reason done)\n"
           "      --messages N       channel: exactly N messages in all, then the run ends (reason done)\n"
           "      --body-ns N        tasks, mixed: each task body spins N ns of thread CPU time, recorded as task_body_ns\n"
           "      --pause-at-ms T    a scripted sampler pause starting T ms into the run (with --pause-ms)\n"
           "      --pause-ms D       its length: one Tick(paused) frame, heartbeats only, then sampling again\n"
           "      --pin              pin worker k to the k-th allowed CPU (round robin), recorded in RunStarted\n"
           "      --no-perf-counters no perf_event_open counters per worker (OsCounters events)\n"
           "      --coroutines       the coroutine view: CoroutineState/ChannelWaiters snapshots\n"
           "      --coroutines-top K       each snapshot: the K coroutines with most busy time, default 16\n"
           "                               (every running/parked one seen so across two snapshots too)\n"
           "      --coroutines-every T     a snapshot every T ticks, default 10\n"
           "      --coroutines-sample N    time one resume in N per worker (power of two), default 8\n"
           "      --hog-ms MS        a coroutine named hog spins MS ms without yielding, again and again\n"
           "      --stuck            a coroutine named stuck waits on a channel (stuck) nobody sends to\n");
}

int kcs_bench_parse(int argc, char **argv, struct kcs_bench_cfg *cfg) {
    memset(cfg, 0, sizeof *cfg);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    cfg->workers = cpus < 1 ? 1 : (cpus > (long)KCR_MAX_WORKERS ? KCR_MAX_WORKERS : (uint32_t)cpus);
    cfg->ring_size = UINT64_C(1) << 22;
    cfg->mode = KCS_MODE_CHANNEL;
    cfg->producers = 1;
    cfg->consumers = 1;
    cfg->packets = 1024;
    cfg->capacity = 1024;
    cfg->packet_size = 64;
    cfg->spin = 64;
    cfg->interval_ms = 10;
    cfg->batch = 64;
    cfg->seed = 1;
    cfg->latency_sample = 8;
    cfg->coroutines_top = 16;
    cfg->coroutines_every = 10;
    cfg->coroutines_sample = 8;
    int capacity_set = 0, adaptive_max_set = 0;

    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":P:C:N:c:k:s:m:d:", long_opts, NULL)) != -1) {
        int rc = 0;
        uint64_t v;
        switch (c) {
        case OPT_RING:
            if (!optarg[0]) return bad("ring", "%sexpected a path", "");
            cfg->ring_path = optarg;
            break;
        case OPT_NO_RING: cfg->no_ring = 1; break;
        case OPT_RING_SIZE:
            rc = parse_u64(c, optarg, KCS_MIN_DATA_SIZE, KCS_MAX_DATA_SIZE, &cfg->ring_size);
            if (!rc && (cfg->ring_size & (cfg->ring_size - 1)))
                return bad("ring-size", "expected a power of two, got '%s'", optarg);
            break;
        case 'm': {
            int found = -1;
            for (int i = 0; i < 4; i++)
                if (!strcmp(optarg, kcs_mode_names[i])) found = i;
            if (found < 0) return bad("mode", "expected channel, tasks, mixed or dual, got '%s'", optarg);
            cfg->mode = found;
            break;
        }
        case 'P': rc = parse_u32(c, optarg, 1, 1024, &cfg->producers); break;
        case 'C': rc = parse_u32(c, optarg, 1, 1024, &cfg->consumers); break;
        case 'N': rc = parse_u64(c, optarg, 1, 1000000000, &cfg->packets); break;
        case 'c':
            rc = parse_u32(c, optarg, 0, 1u << 24, &cfg->capacity);
            capacity_set = 1;
            break;
        case 'k': rc = parse_u32(c, optarg, 1, 65536, &cfg->packet_size); break;
        case 's': rc = parse_u32(c, optarg, 0, 1000000, &cfg->spin); break;
        case 'd': {
            char *end = NULL;
            errno = 0;
            double d = strtod(optarg, &end);
            if (errno || !end || end == optarg || *end || !(d >= 0.0) || d > 86400.0 || isnan(d))
                return bad("duration", "expected seconds in [0, 86400], got '%s'", optarg);
            cfg->duration_s = d;
            break;
        }
        case OPT_WORKERS: rc = parse_u32(c, optarg, 1, KCR_MAX_WORKERS, &cfg->workers); break;
        case OPT_INTERVAL: rc = parse_u32(c, optarg, 1, 60000, &cfg->interval_ms); break;
        case OPT_BATCH: rc = parse_u32(c, optarg, 1, 65536, &cfg->batch); break;
        case OPT_BODY_COST: rc = parse_u32(c, optarg, 0, 100000000, &cfg->body_cost); break;
        case OPT_ZERO_COPY: cfg->zero_copy = 1; break;
        case OPT_IMBALANCED: cfg->imbalanced = 1; break;
        case OPT_SEED: rc = parse_u64(c, optarg, 0, UINT64_MAX >> 1, &cfg->seed); break;
        case OPT_ADAPTIVE: cfg->adaptive = 1; break;
        case OPT_ADAPTIVE_MAX:
            rc = parse_u32(c, optarg, 1, 60000, &cfg->adaptive_max_ms);
            adaptive_max_set = 1;
            break;
        case OPT_KIND:
            if (!strcmp(optarg, "auto")) cfg->kind = KCS_KIND_AUTO;
            else if (!strcmp(optarg, "buffered")) cfg->kind = KCS_KIND_BUFFERED;
            else if (!strcmp(optarg, "rendezvous")) cfg->kind = KCS_KIND_RENDEZVOUS;
            else return bad("channel-kind", "expected auto, buffered or rendezvous, got '%s'", optarg);
            break;
        case OPT_LATENCY_SAMPLE:
            rc = parse_u64(c, optarg, 1, 1024, &v);
            if (!rc && (v & (v - 1))) return bad("latency-sample", "expected a power of two, got '%s'", optarg);
            if (!rc) cfg->latency_sample = (uint32_t)v;
            break;
        case OPT_SUMMARY: cfg->summary = 1; break;
        case OPT_TASKS: rc = parse_u64(c, optarg, 1, UINT64_C(1000000000000), &cfg->tasks); break;
        case OPT_MESSAGES: rc = parse_u64(c, optarg, 1, UINT64_C(1000000000000), &cfg->messages); break;
        case OPT_BODY_NS: rc = parse_u64(c, optarg, 1, 1000000000, &cfg->body_ns); break;
        case OPT_PACKET_COST: rc = parse_u32(c, optarg, 0, 100000000, &cfg->packet_cost); break;
        case OPT_PAUSE_AT: rc = parse_u32(c, optarg, 0, 86400000, &cfg->pause_at_ms); break;
        case OPT_PAUSE_MS: rc = parse_u32(c, optarg, 1, 86400000, &cfg->pause_ms); break;
        case OPT_PIN: cfg->pin = 1; break;
        case OPT_NO_PERF: cfg->no_perf_counters = 1; break;
        case OPT_COROUTINES: cfg->coroutines = 1; break;
        case OPT_CORO_TOP: rc = parse_u32(c, optarg, 1, 100000, &cfg->coroutines_top); break;
        case OPT_CORO_EVERY: rc = parse_u32(c, optarg, 1, 100000, &cfg->coroutines_every); break;
        case OPT_CORO_SAMPLE:
            rc = parse_u64(c, optarg, 1, 1024, &v);
            if (!rc && (v & (v - 1))) return bad("coroutines-sample", "expected a power of two, got '%s'", optarg);
            if (!rc) cfg->coroutines_sample = (uint32_t)v;
            break;
        case OPT_HOG_MS: rc = parse_u32(c, optarg, 1, 60000, &cfg->hog_ms); break;
        case OPT_STUCK: cfg->stuck = 1; break;
        case OPT_HELP: usage(); return 1;
        case ':': {
            const char *flag = argv[optind - 1];
            while (*flag == '-') flag++;
            if (optopt && optopt < 256) flag = long_name(optopt);
            else if (optopt) flag = long_name(optopt);
            return bad(flag, "%smissing value", "");
        }
        default: {
            const char *arg = argv[optind - 1];
            if (optopt && optopt < 256 && !strchr("PCNcksmd", optopt)) {
                char s[3] = {'-', (char)optopt, 0};
                fprintf(stderr, "kcoro-bench: %s: unknown option\n", s);
                return 2;
            }
            const char *eq = strchr(arg, '=');
            fprintf(stderr, "kcoro-bench: %.*s: unknown option\n", eq ? (int)(eq - arg) : (int)strlen(arg), arg);
            return 2;
        }
        }
        if (rc) return 2;
    }
    if (optind < argc) {
        fprintf(stderr, "kcoro-bench: %s: unexpected argument\n", argv[optind]);
        return 2;
    }
    if (cfg->ring_path && cfg->no_ring) return bad("no-ring", "%scannot be combined with --ring", "");
    if (!cfg->ring_path && !cfg->no_ring) return bad("ring", "%sa ring path is required (or --no-ring)", "");
    if (cfg->kind == KCS_KIND_BUFFERED && cfg->capacity == 0)
        return bad("capacity", "%sa buffered channel needs a capacity of at least 1", "");
    if (cfg->kind == KCS_KIND_RENDEZVOUS) {
        if (capacity_set && cfg->capacity != 0)
            return bad("capacity", "%sa rendezvous channel has capacity 0", "");
        cfg->capacity = 0;
    }
    if ((uint64_t)cfg->capacity * ((uint64_t)cfg->packet_size + 16) > (UINT64_C(1) << 30))
        return bad("capacity", "%scapacity x packet size exceeds 1 GiB", "");
    if (cfg->zero_copy && (uint64_t)cfg->producers * ((uint64_t)cfg->capacity + cfg->consumers + 64) *
                                  (((uint64_t)cfg->packet_size + 16 + 63) & ~UINT64_C(63)) >
                              (UINT64_C(1) << 31))
        return bad("zero-copy", "%sproducers x capacity x packet size exceed 2 GiB of packet slabs", "");
    if (cfg->zero_copy && cfg->mode == KCS_MODE_TASKS)
        return bad("zero-copy", "%shas no channel to apply to in --mode tasks", "");
    if (cfg->tasks && cfg->mode != KCS_MODE_TASKS)
        return bad("tasks", "%sapplies to --mode tasks only", "");
    if (cfg->messages && cfg->mode != KCS_MODE_CHANNEL)
        return bad("messages", "%sapplies to --mode channel only", "");
    if (cfg->body_ns && cfg->mode != KCS_MODE_TASKS && cfg->mode != KCS_MODE_MIXED && cfg->mode != KCS_MODE_DUAL)
        return bad("body-ns", "%sapplies to task bodies (--mode tasks, mixed or dual)", "");
    if (cfg->packet_cost && cfg->mode != KCS_MODE_CHANNEL && cfg->mode != KCS_MODE_DUAL)
        return bad("packet-cost", "%sapplies to channel producers (--mode channel or dual)", "");
    if (cfg->hog_ms && cfg->mode != KCS_MODE_TASKS && cfg->mode != KCS_MODE_CHANNEL)
        return bad("hog-ms", "%sapplies to --mode tasks or channel", "");
    if (cfg->stuck && cfg->mode != KCS_MODE_TASKS && cfg->mode != KCS_MODE_CHANNEL)
        return bad("stuck", "%sapplies to --mode tasks or channel", "");
    if (!adaptive_max_set) {
        uint64_t m = (uint64_t)cfg->interval_ms * 16;
        cfg->adaptive_max_ms = (uint32_t)(m > 1000 ? (cfg->interval_ms > 1000 ? cfg->interval_ms : 1000) : m);
    } else if (cfg->adaptive_max_ms < cfg->interval_ms) {
        return bad("adaptive-max-ms", "%smust be at least --interval-ms", "");
    }
    return 0;
}
