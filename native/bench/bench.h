/*
 * bench.h — the coroutine-native benchmark that feeds the ring (internal).
 *
 *   cli.c       flags → struct kcs_bench_cfg (one-line errors, exit 2)
 *   workload.c  channel / tasks / mixed / dual on the reference runtime
 *   sampler.c   one thread, one frame per tick, control area, adaptive interval
 *   knobs.c     the live knobs' table and the control blob's msgpack reader
 *   perf.c      pinning and perf_event_open counters per worker (perf.h)
 *   bench_main.c  kcs_bench_main: wires the three, signals, run end
 */
#ifndef KCS_BENCH_H
#define KCS_BENCH_H

#include <stdatomic.h>
#include <stdint.h>

#include "kcs_events.h"
#include "kcr.h"

enum { KCS_MODE_CHANNEL = 0, KCS_MODE_TASKS, KCS_MODE_MIXED, KCS_MODE_DUAL };
enum { KCS_KIND_AUTO = 0, KCS_KIND_BUFFERED, KCS_KIND_RENDEZVOUS };

struct kcs_bench_cfg {
    const char *ring_path;
    int no_ring;
    uint64_t ring_size;
    int mode;
    uint32_t producers, consumers;
    uint64_t packets; /* per producer per cycle */
    uint32_t capacity;
    int kind;
    uint32_t packet_size;
    uint32_t spin;
    double duration_s; /* 0 = until a signal or a control stop */
    uint32_t workers;  /* per pool */
    uint32_t interval_ms;
    uint32_t batch;
    uint32_t body_cost;
    uint32_t packet_cost; /* channel, dual: work units each producer burns per packet (0 = none) */
    int zero_copy;
    int imbalanced;
    uint64_t seed;
    int adaptive;
    uint32_t adaptive_max_ms;
    uint32_t latency_sample;
    int summary;
    uint64_t tasks;    /* tasks: exactly this many task bodies in all, then the run ends; 0 = no limit */
    uint64_t messages; /* channel: exactly this many messages in all, then the run ends; 0 = no limit */
    uint32_t pause_at_ms, pause_ms; /* the sampler pauses for pause_ms from pause_at_ms (0 = never) */
    uint64_t body_ns;  /* tasks/mixed: each body spins this long on the CPU (thread CPU time); 0 = off */
    int pin;              /* --pin: worker k runs only on the k-th allowed CPU (perf.c) */
    int no_perf_counters; /* --no-perf-counters: no OsCounters (perf_event_open) per worker */
    int coroutines;             /* --coroutines: the coroutine view (CoroutineState, ChannelWaiters) */
    uint32_t coroutines_top;    /* per snapshot: the top K by busy time (+ every suspicious one) */
    uint32_t coroutines_every;  /* a snapshot every T ticks */
    uint32_t coroutines_sample; /* time one resume in N per worker */
    uint32_t hog_ms;            /* --hog-ms: a coroutine "hog" spins this long between yields, 0 = none */
    int stuck;                  /* --stuck: a coroutine "stuck" waits on a channel nobody sends to */
};

extern const char *const kcs_mode_names[];

/* 0 ok, 1 --help printed, 2 bad flag (one line already printed). */
int kcs_bench_parse(int argc, char **argv, struct kcs_bench_cfg *cfg);

#define KCS_MAX_POOLS 2
#define KCS_MAX_CHANS 2 /* the workload's channel, --stuck's */

struct kcs_workload;
struct kcs_workload *kcs_workload_start(const struct kcs_bench_cfg *cfg, char *err, size_t errlen);
/* Ask the roots to finish their cycle, close channels, wait for every root,
 * then shut the pools down (counters are final afterwards). */
void kcs_workload_stop(struct kcs_workload *wl);
void kcs_workload_destroy(struct kcs_workload *wl);
/* 1 once a bounded workload (--tasks, --messages) has done all its work. */
int kcs_workload_finished(struct kcs_workload *wl);
uint32_t kcs_workload_npools(const struct kcs_workload *wl);
kcr_pool *kcs_workload_pool(const struct kcs_workload *wl, uint32_t i);
uint32_t kcs_workload_nchans(const struct kcs_workload *wl);
kcr_chan *kcs_workload_chan(const struct kcs_workload *wl, uint32_t i);

/* A real pause (the control area's ctl_paused): roots stop taking new work at
 * their next packet or batch and suspend on a gate; consumers drain the
 * channel and block; idle workers park, so every counter stops moving.
 * Resume opens the gate. kcs_workload_stop opens it too. */
void kcs_workload_pause(struct kcs_workload *wl, int paused);

/* ---------------------------------------------------------------- knobs */

#define KCS_NKNOBS 6
struct kcs_knob {
    const char *name;
    uint64_t min, max;
};
extern const struct kcs_knob kcs_knob_table[KCS_NKNOBS];
int kcs_knob_index(const char *name); /* -1 when unknown */

/* A knob command from the control blob: {"id": N, knob: value, ...}. */
struct kcs_knob_cmd {
    uint64_t id;
    uint32_t n;
    int knob[KCS_NKNOBS];
    uint64_t value[KCS_NKNOBS];
};
/* 0 ok; -1 malformed, an unknown knob, a value out of range, a knob twice, no id. */
int kcs_knob_cmd_parse(const uint8_t *buf, uint32_t len, struct kcs_knob_cmd *out);
/* Set knob `k` (an index into kcs_knob_table, value in range); returns the previous value. */
uint64_t kcs_workload_set_knob(struct kcs_workload *wl, int k, uint64_t value);
uint64_t kcs_workload_knob(const struct kcs_workload *wl, int k);

struct kcs_totals {
    uint64_t tasks_completed, tasks_submitted, sends, recvs, bytes;
};
void kcs_workload_totals(struct kcs_workload *wl, struct kcs_totals *t);

struct kcs_sampler;
struct kcs_sampler *kcs_sampler_start(struct kcs_ring *ring, const struct kcs_bench_cfg *cfg,
                                      struct kcs_workload *wl, const char *run_id);
/* 1 once the consumer asked for a stop through the control area. */
int kcs_sampler_stop_requested(struct kcs_sampler *s);
void kcs_sampler_mark(struct kcs_sampler *s, const char *name, const char *detail);
/* Write the final counters and RunEnded, close the ring, join the thread. */
void kcs_sampler_finish(struct kcs_sampler *s, const char *reason, int status);

/* coroview.c: the coroutine view's snapshot frames (--coroutines), on the sampler thread */
#define KCS_CORO_SUSPICIOUS_PER_TOP 8 /* suspicious coroutines per snapshot: at most 8 x top */
struct kcs_coro_view;
struct kcs_coro_view *kcs_coro_view_new(void);
void kcs_coro_view_free(struct kcs_coro_view *v);
void kcs_coro_view_write(struct kcs_coro_view *v, struct kcs_ring *ring, struct kcs_mp *m,
                         const struct kcs_bench_cfg *cfg, struct kcs_workload *wl, uint64_t now);

int kcs_bench_main(int argc, char **argv);
double kcs_bench_switch_ns(uint64_t iterations, int use_ucontext);

#endif
