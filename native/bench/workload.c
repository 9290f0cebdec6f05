/*
 * workload.c — the benchmark's workloads on the reference runtime.
 *
 *   channel  P producer and C consumer coroutines on one channel. Producers
 *            send packets in cycles of N; a packet carries a TSC stamp (one in
 *            --latency-sample) that the consumer turns into chan_latency_ns.
 *            Copy mode copies packet-size bytes through the channel; zero-copy
 *            mode hands off pointers into the producer's packet slab and the
 *            consumer gives a packet back by clearing its busy flag. Before
 *            each send a producer burns --packet-cost work units (the
 *            channel's per-message body, 0 by default).
 *   tasks    one generator per worker (all pinned to worker 0 with
 *            --imbalanced) submits --batch tasks, waits for them, repeats; a
 *            task burns --body-cost work units.
 *   mixed    generators as in tasks, each task sends one packet (blocking,
 *            so a full channel suspends the task); C consumers receive.
 *   dual     pool 0 "channel" runs the channel workload and pool 1 "tasks"
 *            the tasks workload, side by side, each with --workers threads.
 *
 * Scripted culprits for the coroutine view's lints: --hog-ms spawns a
 * coroutine named "hog" that spins that long on the CPU without yielding,
 * yields, and again; --stuck spawns one named "stuck" that receives from a
 * rendezvous channel named "stuck" nobody sends to (closed at the stop).
 *
 * Stopping: roots finish their current cycle or batch; the last producer (or
 * generator, in mixed) closes the channel; consumers drain it and see EPIPE.
 *
 * Pausing (kcs_workload_pause): producers check the gate before each packet,
 * generators before each batch; a closed gate (a wait group with count 1)
 * suspends them as coroutines, so their workers run out of work and park.
 * Live knobs (batch, body_cost, body_ns, spin, packets, packet_cost) are atomics read at
 * the same points, so a change takes effect at the next packet, cycle or batch.
 */
#include <pthread.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

/* A zero-copy packet. In the channel workload packets live in the producer's
 * slab and the consumer hands one back by clearing its byte in the
 * producer's `owned` array (64 flags share a cache line, so giving back is
 * cheap); in mixed mode each packet is malloc'ed by the sending task and freed
 * by the consumer. */
struct zpkt {
    _Atomic uint8_t *owned; /* slab packets: the release flag, NULL for heap packets */
    uint32_t len;
    uint32_t pad;
    uint8_t data[];
};

struct kcs_workload;

struct root {
    struct kcs_workload *wl;
    kcr_pool *pool;
    kcr_chan *ch;
    uint32_t index;
    uint8_t *buf;  /* copy mode: packet buffer */
    uint8_t *slab; /* zero-copy: packets */
    _Atomic uint8_t *owned; /* zero-copy: 1 while a packet is with the channel or a consumer */
    uint64_t slab_n, stride, next;
    uint64_t rng;
    uint64_t stamps;
};

struct kcs_workload {
    const struct kcs_bench_cfg *cfg;
    uint32_t npools, nchans;
    kcr_pool *pools[KCS_MAX_POOLS];
    kcr_chan *chans[KCS_MAX_CHANS];
    _Atomic uint32_t stop;
    _Atomic uint32_t senders_left; /* producers or generators feeding chans[0] */
    kcr_wg done;                   /* every root */
    struct root *roots;
    uint32_t nroots;
    int stopped;
    int bounded;               /* --tasks or --messages: the work is counted out of `budget` */
    _Atomic uint64_t budget;   /* task bodies or messages not yet claimed by a root */
    _Atomic uint32_t roots_left; /* roots still running: 0 = a bounded workload is finished */
    /* pause gate: count 1 while paused. `paused` is the fast check (acquire: pairs
     * with the release in kcs_workload_pause, after the gate was closed). */
    _Atomic uint32_t paused;
    kcr_wg gate;
    pthread_mutex_t gate_mu; /* the sampler pauses/resumes, the main thread's stop opens */
    int gate_closed, gate_stopped; /* under gate_mu */
    _Atomic uint64_t knobs[KCS_NKNOBS]; /* relaxed: read at the next packet/batch; nothing published */
    kcr_chan *stuck_ch; /* --stuck: the channel nobody sends to (also in chans) */
};

enum { K_BATCH = 0, K_BODY_COST, K_BODY_NS, K_SPIN, K_PACKETS, K_PACKET_COST };

static uint64_t knob(const struct kcs_workload *wl, int k) {
    return atomic_load_explicit(&wl->knobs[k], memory_order_relaxed);
}

/* A root's pause point: suspend (as a coroutine) while the gate is closed. */
static void pause_point(struct kcs_workload *wl) {
    if (atomic_load_explicit(&wl->paused, memory_order_acquire)) kcr_wg_wait(&wl->gate);
}

static int stopping(struct kcs_workload *wl) {
    /* relaxed: a flag polled once per packet or batch; nothing is published with it */
    return atomic_load_explicit(&wl->stop, memory_order_relaxed) != 0;
}

/* Up to `want` units of a bounded workload's budget (all of `want` when unbounded);
 * 0 once the budget is spent, so the totals are exactly --tasks / --messages. */
static uint64_t claim(struct kcs_workload *wl, uint64_t want) {
    if (!wl->bounded) return want;
    /* relaxed: the budget only splits a count between roots; nothing is published with it */
    uint64_t left = atomic_load_explicit(&wl->budget, memory_order_relaxed);
    for (;;) {
        uint64_t n = left < want ? left : want;
        if (!n) return 0;
        if (atomic_compare_exchange_weak_explicit(&wl->budget, &left, left - n, memory_order_relaxed,
                                                  memory_order_relaxed))
            return n;
    }
}

static void root_done(struct kcs_workload *wl) {
    /* release: pairs with the acquire in kcs_workload_finished (the root's counters are final) */
    atomic_fetch_sub_explicit(&wl->roots_left, 1, memory_order_release);
    kcr_wg_done(&wl->done);
}

/* One work unit is one xorshift step (about a nanosecond). */
static uint64_t burn(uint64_t units, uint64_t x) {
    for (uint64_t i = 0; i < units; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    return x;
}
static _Atomic uint64_t g_sink; /* keeps burn() from being optimised away */

/* Keep a task's burn() result alive without a shared write per task: the
 * global is touched only when x has one improbable value. (An atomic add per
 * task on one cache line cost two workers 15-25 % of a ~75 ns task, so any
 * --body-cost, however small, planted a ~20 % slowdown: 2 units, planned
 * 4.9 %, measured 24 %.) */
static inline void keep(uint64_t x) {
    if (__builtin_expect(x == UINT64_C(0x9E3779B97F4A7C15), 0))
        atomic_fetch_add_explicit(&g_sink, 1, memory_order_relaxed);
}

static uint64_t stamp_now(struct root *r, uint32_t sample) {
    return (++r->stamps & (sample - 1)) == 0 ? kcr_ticks() : 0;
}

static void record_latency(const uint8_t *data, uint32_t len) {
    if (len < 8) return;
    uint64_t t;
    memcpy(&t, data, 8);
    if (!t) return;
    uint64_t now = kcr_ticks();
    kcr_hist_record(KCR_HIST_CHAN, now > t ? kcr_ticks_to_ns(now - t) : 0);
}

static void write_stamp(uint8_t *data, uint32_t len, uint64_t t, uint64_t seq) {
    if (len >= 8) memcpy(data, &t, 8);
    if (len >= 16) memcpy(data + 8, &seq, 8);
}

static void sender_done(struct kcs_workload *wl, kcr_chan *ch) {
    if (atomic_fetch_sub_explicit(&wl->senders_left, 1, memory_order_acq_rel) == 1) kcr_chan_close(ch);
}

/* ------------------------------------------------------------- channel */

static void producer(void *arg) {
    struct root *r = (struct root *)arg;
    struct kcs_workload *wl = r->wl;
    const struct kcs_bench_cfg *cfg = wl->cfg;
    uint32_t len = cfg->packet_size;
    uint64_t seq = 0, x = r->rng | 1;
    int closed = 0;
    while (!closed && !stopping(wl)) {
        uint64_t cycle = claim(wl, knob(wl, K_PACKETS)), cost = knob(wl, K_PACKET_COST);
        if (!cycle) break; /* --messages: all sent */
        for (uint64_t i = 0; i < cycle && !closed; i++) {
            pause_point(wl);
            if (cost) x = burn(cost, x);
            if (cfg->zero_copy) {
                uint64_t k = r->next++ % r->slab_n;
                struct zpkt *p = (struct zpkt *)(r->slab + k * r->stride);
                /* acquire: pairs with the consumer's release store; its reads are done */
                while (atomic_load_explicit(&r->owned[k], memory_order_acquire)) kcr_yield();
                atomic_store_explicit(&r->owned[k], 1, memory_order_relaxed);
                write_stamp(p->data, len, stamp_now(r, cfg->latency_sample), seq++);
                if (kcr_chan_send_ptr(r->ch, p) != 0) { /* closed: ownership stays here */
                    atomic_store_explicit(&r->owned[k], 0, memory_order_relaxed);
                    closed = 1;
                }
            } else {
                write_stamp(r->buf, len, stamp_now(r, cfg->latency_sample), seq++);
                if (kcr_chan_send(r->ch, r->buf) != 0) closed = 1;
            }
        }
    }
    atomic_fetch_add_explicit(&g_sink, x & 1, memory_order_relaxed);
    sender_done(wl, r->ch);
    root_done(wl);
}

/* A consumer, of the channel and the mixed workloads alike: receive until the
 * channel is closed and drained. A zero-copy packet goes back where it came
 * from: a slab packet to its producer (its `owned` flag cleared), a heap
 * packet (mixed) is the receiver's now and is freed. */
static void consumer(void *arg) {
    struct root *r = (struct root *)arg;
    struct kcs_workload *wl = r->wl;
    uint32_t len = wl->cfg->packet_size;
    for (;;) {
        if (wl->cfg->zero_copy) {
            void *vp = NULL;
            if (kcr_chan_recv_ptr(r->ch, &vp) != 0) break;
            struct zpkt *p = (struct zpkt *)vp;
            record_latency(p->data, len);
            if (p->owned) /* release: pairs with the producer's acquire; we are done with the packet */
                atomic_store_explicit(p->owned, 0, memory_order_release);
            else
                free(p);
        } else {
            if (kcr_chan_recv(r->ch, r->buf) != 0) break;
            record_latency(r->buf, len);
        }
    }
    root_done(wl);
}

/* --------------------------------------------------------------- tasks */

struct batch {
    kcr_wg wg;
    struct root *r;
};

/* A task body's work: --body-cost units, then spinning until the body has
 * been on the CPU for --body-ns. Thread CPU time, not wall time: a body
 * preempted mid-spin still does exactly its scripted work, so task_body_ns
 * (recorded only with --body-ns: the clock reads are system calls) holds a
 * known value on a loaded machine too. The body does not suspend, so it
 * stays on one thread. */
static uint64_t thread_cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t body_work(const struct kcs_workload *wl, uint64_t seed) {
    uint64_t cost = knob(wl, K_BODY_COST), body_ns = knob(wl, K_BODY_NS);
    uint64_t x = cost ? burn(cost, seed) : 0;
    if (!body_ns) return x;
    uint64_t t0 = thread_cpu_ns(), now = t0;
    while (now - t0 < body_ns) {
        x = burn(64, x | 1);
        now = thread_cpu_ns();
    }
    kcr_hist_record(KCR_HIST_TASK_BODY, now - t0);
    return x;
}

static void task_body(void *arg) {
    struct batch *b = (struct batch *)arg;
    uint64_t x = body_work(b->r->wl, (uint64_t)(uintptr_t)b | 1);
    keep(x);
    kcr_wg_done(&b->wg);
}

/* mixed: the task sends one packet (copy mode: from a stack buffer;
 * zero-copy: a heap packet whose ownership moves to the consumer) */
static void mixed_task(void *arg) {
    struct batch *b = (struct batch *)arg;
    struct root *r = b->r;
    const struct kcs_bench_cfg *cfg = r->wl->cfg;
    uint64_t x = body_work(r->wl, (uint64_t)(uintptr_t)b | 1);
    uint64_t t = (x & 7) == 0 ? kcr_ticks() : 0; /* ~one in 8 stamped */
    if (cfg->zero_copy) {
        struct zpkt *p = (struct zpkt *)malloc(sizeof(struct zpkt) + cfg->packet_size);
        if (p) {
            p->owned = NULL;
            p->len = cfg->packet_size;
            write_stamp(p->data, cfg->packet_size, t, x);
            if (kcr_chan_send_ptr(r->ch, p) != 0) free(p); /* not handed off: still ours */
        }
    } else {
        uint8_t buf[256];
        uint8_t *pkt = cfg->packet_size <= sizeof buf ? buf : (uint8_t *)malloc(cfg->packet_size);
        if (pkt) {
            memset(pkt, 0, cfg->packet_size < 16 ? cfg->packet_size : 16);
            write_stamp(pkt, cfg->packet_size, t, x);
            kcr_chan_send(r->ch, pkt);
            if (pkt != buf) free(pkt);
        }
    }
    keep(x);
    kcr_wg_done(&b->wg);
}

static void generator(void *arg) {
    struct root *r = (struct root *)arg;
    struct kcs_workload *wl = r->wl;
    kcr_fn body = r->ch ? mixed_task : task_body;
    struct batch b;
    kcr_wg_init(&b.wg, 0);
    b.r = r;
    while (!stopping(wl)) {
        pause_point(wl);
        uint32_t n = (uint32_t)claim(wl, knob(wl, K_BATCH));
        if (!n) break; /* --tasks: all submitted */
        kcr_wg_add(&b.wg, n);
        for (uint32_t i = 0; i < n; i++)
            if (kcr_spawn(r->pool, body, &b) != 0) kcr_wg_done(&b.wg); /* out of stacks: skip */
        kcr_wg_wait(&b.wg);
    }
    if (r->ch) sender_done(wl, r->ch);
    root_done(wl);
}

/* ---------------------------------------------------- scripted culprits */

/* --hog-ms: spin hog_ms of wall time without yielding, yield, again. */
static void hog(void *arg) {
    struct kcs_workload *wl = (struct kcs_workload *)arg;
    uint64_t span = (uint64_t)wl->cfg->hog_ms * 1000000u;
    while (!stopping(wl)) {
        pause_point(wl);
        uint64_t end = kcr_now_ns() + span;
        while (kcr_now_ns() < end && !stopping(wl)) {
        }
        kcr_yield();
    }
    kcr_wg_done(&wl->done);
}

/* --stuck: receive from a channel nobody sends to; EPIPE when the stop closes it. */
static void stuck(void *arg) {
    struct kcs_workload *wl = (struct kcs_workload *)arg;
    uint64_t x;
    (void)kcr_chan_recv(wl->stuck_ch, &x);
    kcr_wg_done(&wl->done);
}

static int start_culprits(struct kcs_workload *wl, kcr_pool *p) {
    const struct kcs_bench_cfg *cfg = wl->cfg;
    if (cfg->stuck) {
        struct kcr_chan_config cc;
        memset(&cc, 0, sizeof cc);
        cc.id = wl->nchans;
        cc.pool = kcr_pool_id(p);
        cc.elem_size = sizeof(uint64_t);
        cc.total_slots = cfg->workers * (cfg->mode == KCS_MODE_DUAL ? 2u : 1u);
        cc.name = "stuck";
        if (!(wl->stuck_ch = kcr_chan_create(&cc))) return -1;
        wl->chans[wl->nchans++] = wl->stuck_ch;
        kcr_wg_add(&wl->done, 1);
        if (kcr_spawn_named(p, "stuck", stuck, wl) != 0) return -1;
    }
    if (cfg->hog_ms) {
        kcr_wg_add(&wl->done, 1);
        if (kcr_spawn_named(p, "hog", hog, wl) != 0) return -1;
    }
    return 0;
}

/* --------------------------------------------------------------- setup */

static struct root *add_root(struct kcs_workload *wl, kcr_pool *p, kcr_chan *ch) {
    struct root *r = &wl->roots[wl->nroots];
    r->wl = wl;
    r->pool = p;
    r->ch = ch;
    r->index = wl->nroots++;
    r->rng = (wl->cfg->seed + 1) * UINT64_C(0x9E3779B97F4A7C15) + r->index;
    if (ch) {
        r->buf = (uint8_t *)calloc(1, wl->cfg->packet_size);
        if (!r->buf) return NULL;
    }
    return r;
}

static int start_channel(struct kcs_workload *wl, kcr_pool *p, kcr_chan *ch, char *err, size_t errlen) {
    const struct kcs_bench_cfg *cfg = wl->cfg;
    atomic_store_explicit(&wl->senders_left, cfg->producers, memory_order_relaxed);
    for (uint32_t i = 0; i < cfg->producers; i++) {
        struct root *r = add_root(wl, p, ch);
        if (!r) goto oom;
        if (cfg->zero_copy) {
            r->stride = (sizeof(struct zpkt) + cfg->packet_size + 63u) & ~(uint64_t)63u;
            r->slab_n = (uint64_t)cfg->capacity + cfg->consumers + 64;
            r->slab = (uint8_t *)aligned_alloc(64, r->slab_n * r->stride);
            r->owned = (_Atomic uint8_t *)calloc(r->slab_n, 1);
            if (!r->slab || !r->owned) goto oom;
            memset(r->slab, 0, r->slab_n * r->stride);
            for (uint64_t k = 0; k < r->slab_n; k++)
                ((struct zpkt *)(r->slab + k * r->stride))->owned = &r->owned[k];
        }
    }
    for (uint32_t i = 0; i < cfg->consumers; i++)
        if (!add_root(wl, p, ch)) goto oom;
    kcr_wg_add(&wl->done, cfg->producers + cfg->consumers);
    atomic_fetch_add_explicit(&wl->roots_left, cfg->producers + cfg->consumers, memory_order_relaxed);
    uint32_t first = wl->nroots - cfg->producers - cfg->consumers;
    for (uint32_t i = 0; i < cfg->consumers; i++)
        if (kcr_spawn_named(p, "consumer", consumer, &wl->roots[first + cfg->producers + i]) != 0) goto oom;
    for (uint32_t i = 0; i < cfg->producers; i++)
        if (kcr_spawn_named(p, "producer", producer, &wl->roots[first + i]) != 0) goto oom;
    return 0;
oom:
    snprintf(err, errlen, "out of memory starting the channel workload");
    return -1;
}

static int start_tasks(struct kcs_workload *wl, kcr_pool *p, kcr_chan *ch, char *err, size_t errlen) {
    const struct kcs_bench_cfg *cfg = wl->cfg;
    uint32_t gens = kcr_pool_workers(p);
    if (ch) atomic_store_explicit(&wl->senders_left, gens, memory_order_relaxed);
    uint32_t first = wl->nroots;
    for (uint32_t i = 0; i < gens; i++)
        if (!add_root(wl, p, ch)) goto oom;
    uint32_t ncons = ch ? cfg->consumers : 0;
    for (uint32_t i = 0; i < ncons; i++)
        if (!add_root(wl, p, ch)) goto oom;
    kcr_wg_add(&wl->done, gens + ncons);
    atomic_fetch_add_explicit(&wl->roots_left, gens + ncons, memory_order_relaxed);
    for (uint32_t i = 0; i < ncons; i++)
        if (kcr_spawn_named(p, "consumer", consumer, &wl->roots[first + gens + i]) != 0) goto oom;
    for (uint32_t i = 0; i < gens; i++)
        if (kcr_spawn_pinned_named(p, cfg->imbalanced ? 0 : i, "generator", generator, &wl->roots[first + i]) != 0)
            goto oom;
    return 0;
oom:
    snprintf(err, errlen, "out of memory starting the tasks workload");
    return -1;
}

static kcr_pool *make_pool(struct kcs_workload *wl, const char *name, uint32_t id) {
    const struct kcs_bench_cfg *cfg = wl->cfg;
    struct kcr_pool_config pc;
    memset(&pc, 0, sizeof pc);
    pc.name = name;
    pc.id = id;
    pc.workers = cfg->workers;
    pc.worker_base = id * cfg->workers;
    pc.total_slots = cfg->workers * (cfg->mode == KCS_MODE_DUAL ? 2u : 1u);
    pc.seed = cfg->seed + id;
    pc.latency_sample = cfg->latency_sample;
    pc.coroutines_sample = cfg->coroutines ? cfg->coroutines_sample : 0;
    return kcr_pool_create(&pc);
}

static kcr_chan *make_chan(struct kcs_workload *wl, uint32_t pool) {
    const struct kcs_bench_cfg *cfg = wl->cfg;
    struct kcr_chan_config cc;
    memset(&cc, 0, sizeof cc);
    cc.id = wl->nchans;
    cc.pool = pool;
    cc.capacity = cfg->capacity;
    cc.elem_size = cfg->packet_size;
    cc.ptr_mode = cfg->zero_copy;
    cc.spin = cfg->spin;
    cc.total_slots = cfg->workers * (cfg->mode == KCS_MODE_DUAL ? 2u : 1u);
    cc.name = "packets";
    kcr_chan *ch = kcr_chan_create(&cc);
    if (ch) wl->chans[wl->nchans++] = ch;
    return ch;
}

struct kcs_workload *kcs_workload_start(const struct kcs_bench_cfg *cfg, char *err, size_t errlen) {
    struct kcs_workload *wl = (struct kcs_workload *)calloc(1, sizeof *wl);
    if (!wl) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    wl->cfg = cfg;
    kcr_wg_init(&wl->done, 0);
    kcr_wg_init(&wl->gate, 0);
    pthread_mutex_init(&wl->gate_mu, NULL);
    const uint64_t init[KCS_NKNOBS] = {cfg->batch, cfg->body_cost, cfg->body_ns,
                                        cfg->spin,  cfg->packets,   cfg->packet_cost};
    for (int k = 0; k < KCS_NKNOBS; k++) atomic_init(&wl->knobs[k], init[k]);
    wl->bounded = cfg->tasks || cfg->messages;
    atomic_store_explicit(&wl->budget, cfg->tasks ? cfg->tasks : cfg->messages, memory_order_relaxed);
    wl->roots = (struct root *)calloc(cfg->producers + cfg->consumers + 2u * cfg->workers + 4u, sizeof *wl->roots);
    if (!wl->roots) {
        free(wl);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    int dual = cfg->mode == KCS_MODE_DUAL;
    const char *name0 = cfg->mode == KCS_MODE_TASKS ? "tasks" : cfg->mode == KCS_MODE_MIXED ? "mixed" : "channel";
    wl->pools[wl->npools] = make_pool(wl, name0, 0);
    if (!wl->pools[wl->npools++]) goto fail_pool;
    if (dual) {
        wl->pools[wl->npools] = make_pool(wl, "tasks", 1);
        if (!wl->pools[wl->npools++]) goto fail_pool;
    }
    int rc = 0;
    switch (cfg->mode) {
    case KCS_MODE_CHANNEL:
    case KCS_MODE_DUAL:
        if (!make_chan(wl, 0)) goto fail_chan;
        rc = start_channel(wl, wl->pools[0], wl->chans[0], err, errlen);
        if (!rc && dual) rc = start_tasks(wl, wl->pools[1], NULL, err, errlen);
        break;
    case KCS_MODE_TASKS: rc = start_tasks(wl, wl->pools[0], NULL, err, errlen); break;
    case KCS_MODE_MIXED:
        if (!make_chan(wl, 0)) goto fail_chan;
        rc = start_tasks(wl, wl->pools[0], wl->chans[0], err, errlen);
        break;
    }
    if (!rc && start_culprits(wl, wl->pools[0]) != 0) {
        snprintf(err, errlen, "cannot start --hog-ms / --stuck: %s", strerror(errno ? errno : ENOMEM));
        rc = -1;
    }
    if (rc) {
        kcs_workload_stop(wl);
        kcs_workload_destroy(wl);
        return NULL;
    }
    return wl;
fail_pool:
    snprintf(err, errlen, "cannot start worker threads: %s", strerror(errno));
    goto fail;
fail_chan:
    snprintf(err, errlen, "cannot create the channel: %s", strerror(errno));
fail:
    for (uint32_t i = 0; i < wl->npools; i++)
        if (wl->pools[i]) {
            kcr_pool_shutdown(wl->pools[i]);
            kcr_pool_destroy(wl->pools[i]);
        }
    wl->npools = 0;
    kcs_workload_destroy(wl);
    return NULL;
}

void kcs_workload_stop(struct kcs_workload *wl) {
    if (wl->stopped) return;
    wl->stopped = 1;
    atomic_store_explicit(&wl->stop, 1, memory_order_relaxed);
    pthread_mutex_lock(&wl->gate_mu);
    wl->gate_stopped = 1; /* no pause after this: the roots must finish */
    pthread_mutex_unlock(&wl->gate_mu);
    kcs_workload_pause(wl, 0); /* paused roots must see the stop */
    if (wl->stuck_ch) kcr_chan_close(wl->stuck_ch); /* the stuck coroutine gets EPIPE */
    kcr_wg_wait(&wl->done); /* a thread waiter: futex */
    for (uint32_t i = 0; i < wl->npools; i++) kcr_pool_shutdown(wl->pools[i]);
}

void kcs_workload_destroy(struct kcs_workload *wl) {
    if (!wl) return;
    for (uint32_t i = 0; i < wl->npools; i++) kcr_pool_destroy(wl->pools[i]);
    for (uint32_t i = 0; i < wl->nchans; i++) kcr_chan_destroy(wl->chans[i]);
    for (uint32_t i = 0; i < wl->nroots; i++) {
        free(wl->roots[i].buf);
        free(wl->roots[i].slab);
        free((void *)wl->roots[i].owned);
    }
    free(wl->roots);
    pthread_mutex_destroy(&wl->gate_mu);
    free(wl);
}

void kcs_workload_pause(struct kcs_workload *wl, int paused) {
    pthread_mutex_lock(&wl->gate_mu);
    if (paused && !wl->gate_closed && !wl->gate_stopped) {
        kcr_wg_add(&wl->gate, 1);
        /* release: pairs with the acquire in pause_point; the gate is closed first */
        atomic_store_explicit(&wl->paused, 1, memory_order_release);
        wl->gate_closed = 1;
    } else if (!paused && wl->gate_closed) {
        atomic_store_explicit(&wl->paused, 0, memory_order_relaxed);
        kcr_wg_done(&wl->gate); /* wakes every suspended root */
        wl->gate_closed = 0;
    }
    pthread_mutex_unlock(&wl->gate_mu);
}

uint64_t kcs_workload_knob(const struct kcs_workload *wl, int k) { return knob(wl, k); }

uint64_t kcs_workload_set_knob(struct kcs_workload *wl, int k, uint64_t value) {
    uint64_t prev = atomic_exchange_explicit(&wl->knobs[k], value, memory_order_relaxed);
    if (k == K_SPIN)
        for (uint32_t c = 0; c < wl->nchans; c++) kcr_chan_set_spin(wl->chans[c], (uint32_t)value);
    return prev;
}

int kcs_workload_finished(struct kcs_workload *wl) {
    /* acquire: pairs with the release in root_done */
    return wl->bounded && atomic_load_explicit(&wl->roots_left, memory_order_acquire) == 0;
}

uint32_t kcs_workload_npools(const struct kcs_workload *wl) { return wl->npools; }
kcr_pool *kcs_workload_pool(const struct kcs_workload *wl, uint32_t i) { return wl->pools[i]; }
uint32_t kcs_workload_nchans(const struct kcs_workload *wl) { return wl->nchans; }
kcr_chan *kcs_workload_chan(const struct kcs_workload *wl, uint32_t i) { return wl->chans[i]; }

void kcs_workload_totals(struct kcs_workload *wl, struct kcs_totals *t) {
    memset(t, 0, sizeof *t);
    for (uint32_t p = 0; p < wl->npools; p++)
        for (uint32_t i = 0; i < kcr_pool_workers(wl->pools[p]); i++) {
            struct kcr_worker_stats s;
            kcr_pool_worker_stats(wl->pools[p], i, &s);
            t->tasks_completed += s.tasks_completed;
            t->tasks_submitted += s.tasks_submitted;
        }
    for (uint32_t c = 0; c < wl->nchans; c++) {
        struct kcr_chan_stats s;
        kcr_chan_stats(wl->chans[c], &s);
        t->sends += s.sends;
        t->recvs += s.recvs;
        t->bytes += s.bytes_recv;
    }
}
