/*
 * view.c — the coroutine view: who each coroutine is, what it is doing, and
 * how much it has run (`--coroutines`; off unless the pool's
 * coroutines_sample is set, and then only one predictable branch per resume,
 * park and wake tests it).
 *
 * Which coroutines are tracked. A pool running 30 M tasks/s gives each task
 * ~66 ns; putting every one on a list under a lock would cost more than the
 * task. So a coroutine enters the view when it is spawned with a name
 * (kcr_spawn_named, KCR_SPAWN_HERE) or when it first suspends (a park on a
 * channel or wait group, or a yield): the coroutines that can hold a worker,
 * wait, or wake themselves. A task that runs once to completion never enters
 * it. Tracking takes view_mu once per coroutine life; leaving it (done) once.
 *
 * Per resume: resumes++, state and worker stores, and one resume in
 * `coroutines_sample` of each worker is timed (two clock reads), so
 * busy_ns = timed_ns × resumes / timed is an estimate (0 until one of the
 * coroutine's resumes was timed). What a clock cannot
 * afford is inferred by the caller of kcr_pool_coroutines (the sampler): a
 * coroutine seen running with the same resume count and no channel operation
 * completed (a producer sending into a buffer that never fills does not
 * suspend, but it is calling the runtime) at two calls has held its worker at
 * least since the first (running_ns); one seen parked with the same
 * park count has waited at least since the first (parked_ns).
 *
 * Memory ordering: the counters of a coroutine are written by one party at a
 * time — the worker running it, or its waker while it is parked (under the
 * object's lock, after the parker's worker released that lock, see
 * kcr__park_unlock) — so an owner-only KCR_INC is enough; the sampler's
 * relaxed loads may see slightly old values. The list and the memo fields are
 * under view_mu.
 */
#include "kcr_internal.h"

#include <stdlib.h>

/* A coroutine's counters from zero, its state `state` (it is entering the view). The wait
 * fields are not touched: a park set them just before (kcr__view_wait). */
static void reset(struct kcr_coro *c, uint32_t state) {
    atomic_store_explicit(&c->v.state, state, memory_order_relaxed);
    atomic_store_explicit(&c->v.worker, -1, memory_order_relaxed);
    atomic_store_explicit(&c->v.resumes, 0, memory_order_relaxed);
    atomic_store_explicit(&c->v.parks, 0, memory_order_relaxed);
    atomic_store_explicit(&c->v.wakes, 0, memory_order_relaxed);
    atomic_store_explicit(&c->v.self_wakes, 0, memory_order_relaxed);
    atomic_store_explicit(&c->v.timed, 0, memory_order_relaxed);
    atomic_store_explicit(&c->v.timed_ns, 0, memory_order_relaxed);
    atomic_store_explicit(&c->v.ops, 0, memory_order_relaxed);
}

static void track(kcr_pool *p, struct kcr_coro *c, uint64_t now_ns) {
    /* relaxed: pairs with nothing, an id only needs to be unique */
    c->v.id = atomic_fetch_add_explicit(&p->view_next_id, 1, memory_order_relaxed) + 1;
    c->v.track_ns = now_ns;
    c->v.memo_state = UINT32_MAX;
    pthread_mutex_lock(&p->view_mu);
    c->v.prev = NULL;
    c->v.next = p->view_list;
    if (p->view_list) p->view_list->v.prev = c;
    p->view_list = c;
    p->view_count++;
    pthread_mutex_unlock(&p->view_mu);
    c->v.tracked = 1;
}

static void untrack(kcr_pool *p, struct kcr_coro *c) {
    pthread_mutex_lock(&p->view_mu);
    if (c->v.prev)
        c->v.prev->v.next = c->v.next;
    else
        p->view_list = c->v.next;
    if (c->v.next) c->v.next->v.prev = c->v.prev;
    p->view_count--;
    pthread_mutex_unlock(&p->view_mu);
    c->v.tracked = 0;
}

/* Two stores for an unnamed coroutine: its counters are reset only if it enters the view. */
void kcr__view_spawned(kcr_pool *p, struct kcr_coro *c, const char *name) {
    c->v.tracked = 0;
    c->v.name = name;
    if (name) {
        reset(c, KCR_CORO_RUNNABLE);
        kcr__view_wait(c, KCR_WAIT_NONE, -1);
        track(p, c, kcr_now_ns());
    }
}

uint64_t kcr__view_resume(struct kcr_worker *w, struct kcr_coro *c) {
    if (!c->v.tracked) return 0; /* not in the view (yet): nothing to count */
    uint64_t n = KCR_LOAD(c->v.resumes);
    atomic_store_explicit(&c->v.resumes, n + 1, memory_order_relaxed);
    atomic_store_explicit(&c->v.worker, (int32_t)w->gid, memory_order_relaxed);
    atomic_store_explicit(&c->v.state, KCR_CORO_RUNNING, memory_order_relaxed);
    /* one resume in `view` per worker (not per coroutine: every new task's first resume
     * would be timed, two clock reads per task in a tasks run) */
    return (++w->view_tick & (w->view - 1)) == 0 ? kcr_ticks() | 1 : 0;
}

void kcr__view_suspended(struct kcr_worker *w, struct kcr_coro *c, int after, uint64_t t0) {
    kcr_pool *p = w->pool;
    if (!c->v.tracked) {
        if (after != KCR_AFTER_YIELD && after != KCR_AFTER_PARK) return; /* done: never tracked */
        reset(c, KCR_CORO_RUNNING); /* its first suspension: it enters the view, resumed once */
        atomic_store_explicit(&c->v.resumes, 1, memory_order_relaxed);
        track(p, c, kcr_now_ns());
    }
    if (t0) {
        uint64_t t1 = kcr_ticks();
        KCR_INC(c->v.timed, 1);
        KCR_INC(c->v.timed_ns, t1 > t0 ? kcr_ticks_to_ns(t1 - t0) : 0);
    }
    atomic_store_explicit(&c->v.worker, -1, memory_order_relaxed);
    switch (after) {
    case KCR_AFTER_DONE:
        atomic_store_explicit(&c->v.state, KCR_CORO_DONE, memory_order_relaxed);
        if (c->v.tracked) untrack(p, c);
        return;
    case KCR_AFTER_YIELD:
        KCR_INC(c->v.self_wakes, 1);
        KCR_INC(c->v.wakes, 1);
        atomic_store_explicit(&c->v.state, KCR_CORO_RUNNABLE, memory_order_relaxed);
        break;
    case KCR_AFTER_PARK:
        KCR_INC(c->v.parks, 1);
        atomic_store_explicit(&c->v.state, KCR_CORO_PARKED, memory_order_relaxed);
        break;
    default:
        return;
    }
}

void kcr__view_wait(struct kcr_coro *c, uint32_t kind, int32_t id) {
    atomic_store_explicit(&c->v.wait_kind, kind, memory_order_relaxed);
    atomic_store_explicit(&c->v.wait_id, id, memory_order_relaxed);
}

void kcr__view_woken(struct kcr_coro *c) {
    KCR_INC(c->v.wakes, 1);
    atomic_store_explicit(&c->v.wait_kind, KCR_WAIT_NONE, memory_order_relaxed);
    atomic_store_explicit(&c->v.wait_id, -1, memory_order_relaxed);
    atomic_store_explicit(&c->v.state, KCR_CORO_RUNNABLE, memory_order_relaxed);
}

/* How long c has been seen in `state` with `count` unchanged (0: not seen so before). */
static uint64_t held_for(struct kcr_coro *c, uint32_t state, uint64_t count, uint64_t now_ns) {
    if (c->v.memo_state != state || c->v.memo_count != count) {
        c->v.memo_state = state;
        c->v.memo_count = count;
        c->v.memo_since_ns = now_ns;
        return 0;
    }
    return now_ns > c->v.memo_since_ns ? now_ns - c->v.memo_since_ns : 0;
}

size_t kcr_pool_coroutines(kcr_pool *p, uint64_t now_ns, struct kcr_coro_info *out, size_t max) {
    if (!p->view) return 0;
    pthread_mutex_lock(&p->view_mu);
    size_t n = 0;
    for (struct kcr_coro *c = p->view_list; c; c = c->v.next, n++) {
        struct kcr_coro_info x;
        x.id = c->v.id;
        x.pool = p->cfg.id;
        x.name = c->v.name ? c->v.name : "";
        x.state = KCR_LOAD(c->v.state);
        x.worker = KCR_LOAD(c->v.worker);
        x.wait_kind = KCR_LOAD(c->v.wait_kind);
        x.wait_id = KCR_LOAD(c->v.wait_id);
        x.resumes = KCR_LOAD(c->v.resumes);
        x.parks = KCR_LOAD(c->v.parks);
        x.wakes = KCR_LOAD(c->v.wakes);
        x.self_wakes = KCR_LOAD(c->v.self_wakes);
        uint64_t timed = KCR_LOAD(c->v.timed), timed_ns = KCR_LOAD(c->v.timed_ns);
        x.busy_ns = timed ? (uint64_t)((double)timed_ns * (double)x.resumes / (double)timed) : 0;
        x.age_ns = now_ns > c->v.track_ns ? now_ns - c->v.track_ns : 0;
        x.running_ns = x.parked_ns = 0;
        if (x.state == KCR_CORO_RUNNING) /* no new resume and no channel operation */
            x.running_ns = held_for(c, x.state, x.resumes + KCR_LOAD(c->v.ops), now_ns);
        else if (x.state == KCR_CORO_PARKED)
            x.parked_ns = held_for(c, x.state, x.parks, now_ns);
        else
            c->v.memo_state = UINT32_MAX;
        if (n < max) out[n] = x;
    }
    pthread_mutex_unlock(&p->view_mu);
    return n;
}
