/*
 * stats.c — the reader side of the runtime's statistics: what the sampler
 * (or a test) reads from any thread while the workers run. Per-worker
 * counters are written only by their worker with relaxed atomics
 * (kcr_stats.h, KCR_INC); busy/idle time is a per-worker seqlock,
 * extrapolated to "now" here. Snapshots are read in an order that keeps the
 * documented identities (completed <= submitted, probes = successes + failures).
 */
#include "kcr_stats.h"

#include <sched.h>
#include <string.h>

/* ------------------------------------------------- busy/idle accounting */

static void read_busy_idle(struct kcr_worker *w, uint64_t *busy_ns, uint64_t *idle_ns) {
    struct kcr_wcounters *c = &w->c;
    uint64_t s1, s2, b, i, since;
    uint32_t busy;
    for (;;) {
        s1 = atomic_load_explicit(&c->bi_seq, memory_order_acquire);
        b = KCR_LOAD(c->busy_ns);
        i = KCR_LOAD(c->idle_ns);
        since = KCR_LOAD(c->since_ns);
        busy = KCR_LOAD(c->busy);
        /* acquire fence: the field loads complete before the re-check */
        kcr_fence(memory_order_acquire);
        s2 = atomic_load_explicit(&c->bi_seq, memory_order_relaxed);
        if (s1 == s2 && !(s1 & 1)) break;
        sched_yield();
    }
    uint64_t now = kcr_now_ns();
    uint64_t d = now > since ? now - since : 0;
    if (since == 0) d = 0;
    if (busy)
        b += d;
    else
        i += d;
    *busy_ns = b;
    *idle_ns = i;
}

void kcr_hist_record(int metric, uint64_t ns) {
    struct kcr_worker *w = kcr__self();
    if (w && metric >= 0 && metric < KCR_NHIST) kcr__hist_record(w, metric, ns);
}


/* ------------------------------------------------------------ snapshots */

uint32_t kcr_pool_workers(const kcr_pool *p) { return p->n; }
const char *kcr_pool_name(const kcr_pool *p) { return p->name; }
uint32_t kcr_pool_id(const kcr_pool *p) { return p->cfg.id; }

void kcr_pool_stats(kcr_pool *p, struct kcr_worker_stats *out) {
    /* every worker's completed count first: a task completed on one worker was
     * submitted on another before, so the pool's sums never show completed >
     * submitted (worker by worker, a later worker's completions could include
     * a task an earlier worker submitted after its own counters were read) */
    uint64_t done[KCR_MAX_WORKERS];
    for (uint32_t i = 0; i < p->n; i++) done[i] = KCR_LOAD(p->w[i].c.tasks_completed);
    for (uint32_t i = 0; i < p->n; i++) {
        kcr_pool_worker_stats(p, i, &out[i]);
        out[i].tasks_completed = done[i];
    }
}

void kcr_pool_worker_stats(kcr_pool *p, uint32_t i, struct kcr_worker_stats *o) {
    struct kcr_worker *w = &p->w[i];
    struct kcr_wcounters *c = &w->c;
    memset(o, 0, sizeof *o);
    o->worker = w->gid;
    o->pool = p->cfg.id;
    /* completed first: every completed task was submitted before, so a
     * snapshot never shows completed > submitted for the pool */
    o->tasks_completed = KCR_LOAD(c->tasks_completed);
    o->fastpath_hits = KCR_LOAD(c->fastpath_hits);
    o->fastpath_misses = KCR_LOAD(c->fastpath_misses);
    o->steal_successes = KCR_LOAD(c->steal_successes);
    o->steal_failures = KCR_LOAD(c->steal_failures);
    /* a probe is reported with its outcome: a snapshot taken mid-probe shows
     * neither, so probes = successes + failures in every snapshot (a separate
     * counter, bumped before the probe, was one ahead now and then) */
    o->steal_probes = o->steal_successes + o->steal_failures;
    o->last_victim = atomic_load_explicit(&c->last_victim, memory_order_relaxed);
    o->inject_pulls = KCR_LOAD(c->inject_pulls);
    o->unparks = KCR_LOAD(c->unparks);
    o->parks = KCR_LOAD(c->parks);
    o->switches = KCR_LOAD(c->switches);
    o->tasks_submitted = KCR_LOAD(c->spawned) + KCR_LOAD(c->new_pulled);
    read_busy_idle(w, &o->busy_ns, &o->idle_ns);
    o->tid = atomic_load_explicit(&w->tid, memory_order_relaxed);
}

void kcr_pool_hist(kcr_pool *p, int metric, uint64_t *counts, uint64_t *total) {
    if (metric < 0 || metric >= KCR_NHIST) return;
    for (uint32_t i = 0; i < p->n; i++) {
        struct kcr_hist *h = &p->w[i].hist[metric];
        for (uint32_t b = 0; b < KCS_HIST_BUCKETS; b++) counts[b] += KCR_LOAD(h->counts[b]);
        *total += KCR_LOAD(h->total);
    }
}

void kcr_pool_gauges(kcr_pool *p, struct kcr_pool_gauges *o) {
    memset(o, 0, sizeof *o);
    uint64_t completed = 0, spawned = 0, ready = 0, inject = kcr_mpsc_depth(&p->inject);
    for (uint32_t i = 0; i < p->n; i++) completed += KCR_LOAD(p->w[i].c.tasks_completed);
    for (uint32_t i = 0; i < p->n; i++) {
        struct kcr_worker *w = &p->w[i];
        spawned += KCR_LOAD(w->c.spawned);
        inject += kcr_mpsc_depth(&w->mailbox);
        ready += (uint64_t)kcr_deque_size(&w->dq);
        if (atomic_load_explicit(&w->lifo, memory_order_relaxed)) ready++;
    }
    spawned += atomic_load_explicit(&p->ext_submitted, memory_order_relaxed);
    o->inject_depth = inject;
    o->ready_coroutines = ready + inject;
    o->live_coroutines = spawned > completed ? spawned - completed : 0;
    o->stack_bytes = atomic_load_explicit(&p->stack_bytes, memory_order_relaxed);
}
