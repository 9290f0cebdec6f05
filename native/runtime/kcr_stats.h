/*
 * kcr_stats.h — the owner side of a worker's statistics (internal): the
 * busy/idle seqlock writer and the latency histogram record. Both run on the
 * worker's own thread on the scheduling path, so they are inline here; the
 * reader side (snapshots for the sampler) is stats.c.
 */
#ifndef KCR_STATS_H
#define KCR_STATS_H

#include "kcr_internal.h"

/* Busy/idle accounting: called by the worker at each busy<->idle transition. */
static inline void kcr__set_busy(struct kcr_worker *w, uint32_t busy) {
    uint64_t now = kcr_now_ns();
    struct kcr_wcounters *c = &w->c;
    uint64_t s = atomic_load_explicit(&c->bi_seq, memory_order_relaxed);
    atomic_store_explicit(&c->bi_seq, s + 1, memory_order_relaxed);
    /* release fence: the odd sequence is visible before the fields change
     * (seqlock writer; pairs with the acquire fence in read_busy_idle, stats.c) */
    kcr_fence(memory_order_release);
    uint64_t since = KCR_LOAD(c->since_ns);
    uint64_t d = now > since ? now - since : 0;
    if (KCR_LOAD(c->busy))
        KCR_INC(c->busy_ns, d);
    else
        KCR_INC(c->idle_ns, d);
    atomic_store_explicit(&c->since_ns, now, memory_order_relaxed);
    atomic_store_explicit(&c->busy, busy, memory_order_relaxed);
    /* release: pairs with the acquire load of bi_seq in read_busy_idle */
    atomic_store_explicit(&c->bi_seq, s + 2, memory_order_release);
}

static inline void kcr__hist_record(struct kcr_worker *w, int metric, uint64_t ns) {
    struct kcr_hist *h = &w->hist[metric];
    KCR_INC(h->counts[kcs_hist_bucket(ns)], 1);
    KCR_INC(h->total, ns);
}

#endif
