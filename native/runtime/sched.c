/*
 * sched.c — the M:N scheduler: worker threads, run queues, stealing, parking,
 * pools. The rest of the runtime lives by concept beside it: clock.c (the
 * latency clock), stack.c (coroutine blocks: the stack pool), wait.c (waiters
 * and wait groups), stats.c (snapshots for the sampler; kcr_stats.h the
 * workers' own side), chan.c (channels), ctx.c (the context switch).
 *
 * Where a runnable coroutine can be, in the order a worker looks:
 *
 *   every 61st look   the pool's inject queue first (fairness for outside work)
 *   lifo              one-slot fast path: the coroutine spawned or woken last
 *                     by this worker; not stealable; a start from here is a
 *                     fast-path hit, a start from anywhere else a miss
 *   mailbox           coroutines pinned to this worker (MPSC, anyone pushes)
 *   deque             Chase-Lev; the owner pops the newest, thieves the oldest
 *   inject            MPSC for submissions from outside the pool; a worker
 *                     takes a batch under a try-lock and keeps the rest
 *   steal             up to `steal_probes` random victims, one task each
 *
 * A worker that finds nothing spins `idle_spins` rounds, then parks: it sets
 * its futex word, bumps nsleepers (seq_cst), re-checks every queue and sleeps.
 * Whoever makes work visible issues a seq_cst fence and, when nsleepers is
 * non-zero, claims one parked worker with a CAS on its word and wakes it
 * (a Dekker pair: either the waker sees the sleeper or the sleeper sees the work).
 */
#include "kcr_stats.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef KCR_TSAN
_Atomic uint64_t kcr__fence_word;
#endif

/* ------------------------------------------------------ current worker */

/* initial-exec: also inside the cffi extension (a dlopen'ed object) the
 * access is one %fs-relative load, not a __tls_get_addr call */
static _Thread_local struct kcr_worker *tls_worker __attribute__((tls_model("initial-exec")));

/* noipa: a coroutine may resume on another thread, so the address of the
 * thread-local must be recomputed after every switch, never cached. */
__attribute__((noinline, noipa)) struct kcr_worker *kcr__self(void) { return tls_worker; }

int kcr_in_coroutine(void) {
    struct kcr_worker *w = kcr__self();
    return w && w->current;
}
int kcr_worker_id(void) {
    struct kcr_worker *w = kcr__self();
    return w ? (int)w->gid : -1;
}
kcr_pool *kcr_current_pool(void) {
    struct kcr_worker *w = kcr__self();
    return w ? w->pool : NULL;
}

static inline uint64_t xorshift64(uint64_t *s) {
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* ------------------------------------------------------- waking workers */

static int wake_worker(kcr_pool *p, struct kcr_worker *t) {
    uint32_t one = 1;
    /* acquire: pairs with the sleeper's relaxed store + seq_cst RMW on nsleepers */
    if (atomic_load_explicit(&t->parked, memory_order_acquire) != 1) return 0;
    if (!atomic_compare_exchange_strong_explicit(&t->parked, &one, 0, memory_order_acq_rel,
                                                 memory_order_relaxed))
        return 0;
    atomic_fetch_sub_explicit(&p->nsleepers, 1, memory_order_relaxed);
    kcr_futex_wake(&t->parked, 1);
    return 1;
}

/* Work was just made visible to other workers: wake one sleeper if any. */
static void notify(kcr_pool *p) {
    /* seq_cst fence: pairs with the seq_cst increment of nsleepers in park() */
    kcr_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&p->nsleepers, memory_order_acquire) == 0) return;
    uint32_t start = atomic_fetch_add_explicit(&p->wake_rr, 1, memory_order_relaxed);
    for (uint32_t k = 0; k < p->n; k++)
        if (wake_worker(p, &p->w[(start + k) % p->n])) return;
}

static void notify_worker(kcr_pool *p, struct kcr_worker *t) {
    /* seq_cst fence: as in notify(), for one specific worker */
    kcr_fence(memory_order_seq_cst);
    wake_worker(p, t);
}

/* ------------------------------------------------------------ run queues */

static void push_inject(kcr_pool *p, struct kcr_coro *c) {
    kcr_mpsc_push(&p->inject, &c->node);
    notify(p);
}

/* Put c in w's LIFO slot; the previous occupant moves to the deque (or the
 * mailbox when pinned, or the inject queue when the deque is full). */
static void push_local(struct kcr_worker *w, struct kcr_coro *c) {
    struct kcr_coro *old = atomic_load_explicit(&w->lifo, memory_order_relaxed);
    atomic_store_explicit(&w->lifo, c, memory_order_relaxed);
    if (!old) return;
    if (old->pinned >= 0) {
        kcr_mpsc_push(&w->mailbox, &old->node);
        return;
    }
    int64_t n = kcr_deque_push(&w->dq, old);
    /* Wake a sleeper for the first task of a burst only. Skipping the rest is
     * safe: whatever sits in this deque, its owner (running now) runs it;
     * what a skipped wake costs is parallelism, for as long as the burst
     * lasts, never a task. The inject queue and mailboxes have no running
     * owner, so their pushes always notify. */
    if (n == 1)
        notify(w->pool);
    else if (n == 0)
        push_inject(w->pool, old);
}

void kcr__make_ready(struct kcr_coro *c) {
    struct kcr_worker *w = kcr__self();
    kcr_pool *p = c->pool;
    if (c->pinned >= 0) {
        struct kcr_worker *t = &p->w[c->pinned];
        if (w == t) {
            push_local(w, c);
        } else {
            kcr_mpsc_push(&t->mailbox, &c->node);
            notify_worker(p, t);
        }
        return;
    }
    if (w && w->pool == p)
        push_local(w, c);
    else
        push_inject(p, c);
}

static int spawn(kcr_pool *p, kcr_fn fn, void *arg, int32_t pin, const char *name) {
    struct kcr_worker *w = kcr__self();
    if (w && w->pool != p) w = NULL;
    struct kcr_coro *c = kcr__coro_new(p, w, fn, arg, pin);
    if (!c) return ENOMEM;
    if (p->view) kcr__view_spawned(p, c, name);
    /* task start latency is sampled: one spawn in `latency_sample` is timed
     * (reading the TSC costs ~20 ns in a VM; every spawn would double it) */
    if (!w || (++w->sample_tick & (p->latency_sample - 1)) == 0)
        c->submit_ticks = kcr_ticks();
    else
        c->submit_ticks = 0;
    if (w) {
        KCR_INC(w->c.spawned, 1);
        if (pin < 0 || (uint32_t)pin == w->index) {
            push_local(w, c);
            return 0;
        }
    } else {
        atomic_fetch_add_explicit(&p->ext_submitted, 1, memory_order_relaxed);
    }
    if (pin >= 0) {
        kcr_mpsc_push(&p->w[pin].mailbox, &c->node);
        notify_worker(p, &p->w[pin]);
    } else {
        push_inject(p, c);
    }
    return 0;
}

int kcr_spawn(kcr_pool *p, kcr_fn fn, void *arg) { return spawn(p, fn, arg, -1, NULL); }

int kcr_spawn_named(kcr_pool *p, const char *name, kcr_fn fn, void *arg) {
    return spawn(p, fn, arg, -1, name);
}

int kcr_spawn_pinned(kcr_pool *p, uint32_t worker, kcr_fn fn, void *arg) {
    if (worker >= p->n) return EINVAL;
    return spawn(p, fn, arg, (int32_t)worker, NULL);
}

int kcr_spawn_pinned_named(kcr_pool *p, uint32_t worker, const char *name, kcr_fn fn, void *arg) {
    if (worker >= p->n) return EINVAL;
    return spawn(p, fn, arg, (int32_t)worker, name);
}

static void count_pull(struct kcr_worker *w, struct kcr_coro *c) {
    KCR_INC(w->c.inject_pulls, 1);
    if (!c->started) KCR_INC(w->c.new_pulled, 1);
}

static struct kcr_coro *pull_mailbox(struct kcr_worker *w) {
    struct kcr_node *n = kcr_mpsc_pop(&w->mailbox);
    if (!n) return NULL;
    struct kcr_coro *c = (struct kcr_coro *)n;
    count_pull(w, c);
    return c;
}

static struct kcr_coro *pull_inject(struct kcr_worker *w) {
    kcr_pool *p = w->pool;
    uint64_t depth = kcr_mpsc_depth(&p->inject);
    if (!depth || !kcr_spin_trylock(&p->inject_lock)) return NULL;
    uint64_t want = depth / p->n + 1;
    if (want > 32) want = 32;
    struct kcr_coro *first = NULL;
    for (uint64_t i = 0; i < want; i++) {
        struct kcr_node *n = kcr_mpsc_pop(&p->inject);
        if (!n) break;
        struct kcr_coro *c = (struct kcr_coro *)n;
        count_pull(w, c);
        if (!first)
            first = c;
        else if (!kcr_deque_push(&w->dq, c)) {
            kcr_mpsc_push(&p->inject, &c->node); /* deque full: give it back */
            break;
        }
    }
    kcr_spin_unlock(&p->inject_lock);
    if (first && kcr_deque_size(&w->dq) > 0) notify(p);
    return first;
}

static struct kcr_coro *steal(struct kcr_worker *w) {
    kcr_pool *p = w->pool;
    if (p->n < 2) return NULL;
    uint32_t probes = p->cfg.steal_probes ? p->cfg.steal_probes : 2 * p->n;
    for (uint32_t i = 0; i < probes; i++) {
        uint32_t v = (uint32_t)(xorshift64(&w->rng) % (p->n - 1));
        if (v >= w->index) v++;
        struct kcr_coro *x = kcr_deque_steal(&p->w[v].dq);
        if (x != KCR_DEQUE_EMPTY && x != KCR_DEQUE_ABORT) {
            KCR_INC(w->c.steal_successes, 1);
            atomic_store_explicit(&w->c.last_victim, (int64_t)p->w[v].gid, memory_order_relaxed);
            return x;
        }
        KCR_INC(w->c.steal_failures, 1);
    }
    return NULL;
}

static struct kcr_coro *find_work(struct kcr_worker *w, int *from_lifo) {
    struct kcr_coro *c;
    *from_lifo = 0;
    if (++w->tick % 61 == 0 && (c = pull_inject(w))) return c;
    c = atomic_load_explicit(&w->lifo, memory_order_relaxed);
    if (c) {
        atomic_store_explicit(&w->lifo, NULL, memory_order_relaxed);
        *from_lifo = 1;
        return c;
    }
    if ((c = pull_mailbox(w))) return c;
    if ((c = kcr_deque_pop(&w->dq))) return c;
    if ((c = pull_inject(w))) return c;
    return steal(w);
}

static int pool_has_work(kcr_pool *p, struct kcr_worker *self) {
    if (kcr_mpsc_depth(&p->inject) || kcr_mpsc_depth(&self->mailbox)) return 1;
    if (atomic_load_explicit(&self->lifo, memory_order_relaxed)) return 1;
    for (uint32_t i = 0; i < p->n; i++)
        if (kcr_deque_size(&p->w[i].dq)) return 1;
    return 0;
}

/* --------------------------------------------------------------- running */

static void run(struct kcr_worker *w, struct kcr_coro *c, int from_lifo) {
    if (!c->started) {
        c->started = 1;
        if (from_lifo)
            KCR_INC(w->c.fastpath_hits, 1);
        else
            KCR_INC(w->c.fastpath_misses, 1);
        if (c->submit_ticks) {
            uint64_t now = kcr_ticks();
            kcr__hist_record(w, KCR_HIST_TASK_START,
                        now > c->submit_ticks ? kcr_ticks_to_ns(now - c->submit_ticks) : 0);
        }
    }
    w->current = c;
    w->after = KCR_AFTER_NONE;
    KCR_INC(w->c.switches, 1);
    uint64_t t0 = w->view ? kcr__view_resume(w, c) : 0; /* one predictable branch when off */
    kcr_ctx_swap(&w->sched, &c->ctx, 0);
    w->current = NULL;
    if (w->view) kcr__view_suspended(w, c, w->after, t0); /* before a park's lock is released */
    switch (w->after) {
    case KCR_AFTER_DONE:
        KCR_INC(w->c.tasks_completed, 1);
        kcr__coro_free(w->pool, w, c);
        break;
    case KCR_AFTER_YIELD:
        if (c->pinned >= 0)
            kcr_mpsc_push(&w->mailbox, &c->node);
        else
            push_inject(w->pool, c);
        break;
    case KCR_AFTER_PARK:
        kcr_spin_unlock(w->after_lock);
        break;
    default:
        break;
    }
}

void kcr__park_unlock(_Atomic uint32_t *lock) {
    struct kcr_worker *w = kcr__self();
    struct kcr_coro *c = w->current;
    w->after = KCR_AFTER_PARK;
    w->after_lock = lock;
    kcr_ctx_swap(&c->ctx, &w->sched, 0);
}

void kcr_yield(void) {
    struct kcr_worker *w = kcr__self();
    if (!w || !w->current) {
        sched_yield();
        return;
    }
    struct kcr_coro *c = w->current;
    w->after = KCR_AFTER_YIELD;
    kcr_ctx_swap(&c->ctx, &w->sched, 0);
}

static void park(struct kcr_worker *w) {
    kcr_pool *p = w->pool;
    atomic_store_explicit(&w->parked, 1, memory_order_relaxed);
    /* seq_cst: pairs with the seq_cst fence in notify() (Dekker) */
    atomic_fetch_add_explicit(&p->nsleepers, 1, memory_order_seq_cst);
    /* seq_cst fence: the queue loads below are ordered after the increment in S */
    kcr_fence(memory_order_seq_cst);
    if (pool_has_work(p, w) || atomic_load_explicit(&p->stop, memory_order_acquire)) {
        uint32_t one = 1;
        if (atomic_compare_exchange_strong_explicit(&w->parked, &one, 0, memory_order_acq_rel,
                                                    memory_order_relaxed))
            atomic_fetch_sub_explicit(&p->nsleepers, 1, memory_order_relaxed);
        return;
    }
    KCR_INC(w->c.parks, 1);
    /* acquire: pairs with the CAS in wake_worker */
    while (atomic_load_explicit(&w->parked, memory_order_acquire) == 1) kcr_futex_wait(&w->parked, 1);
    KCR_INC(w->c.unparks, 1);
}

static void *worker_main(void *arg) {
    struct kcr_worker *w = (struct kcr_worker *)arg;
    kcr_pool *p = w->pool;
    tls_worker = w;
    atomic_store_explicit(&w->tid, (int32_t)syscall(SYS_gettid), memory_order_relaxed);
    char name[16];
    snprintf(name, sizeof name, "kcr-%.6s-%u", p->name, w->index);
    pthread_setname_np(pthread_self(), name);
    kcr_ctx_init_thread(&w->sched, p->use_uc);
    atomic_store_explicit(&w->c.since_ns, kcr_now_ns(), memory_order_relaxed);
    uint32_t idle_spins = p->cfg.idle_spins ? p->cfg.idle_spins : 64;
    uint32_t spins = 0;
    int busy = 0;
    for (;;) {
        int from_lifo;
        struct kcr_coro *c = find_work(w, &from_lifo);
        if (c) {
            if (!busy) kcr__set_busy(w, busy = 1);
            spins = 0;
            run(w, c, from_lifo);
            continue;
        }
        if (busy) kcr__set_busy(w, busy = 0);
        if (atomic_load_explicit(&p->stop, memory_order_acquire)) {
            if (!pool_has_work(p, w)) break;
            continue;
        }
        if (++spins < idle_spins) {
            for (int k = 0; k < 32; k++) kcr_cpu_relax();
            if (spins % 16 == 0) sched_yield();
            continue;
        }
        spins = 0;
        park(w);
    }
    /* the last coroutine blocks cached by this worker go back to the pool */
    kcr__stack_cache_return(p, w);
    tls_worker = NULL;
    return NULL;
}

/* ----------------------------------------------------------------- pools */

kcr_pool *kcr_pool_create(const struct kcr_pool_config *cfg) {
    if (!cfg || cfg->workers == 0 || cfg->workers > KCR_MAX_WORKERS) {
        errno = EINVAL;
        return NULL;
    }
    kcr__clock_init();
    kcr__stack_init();
    kcr_pool *p = (kcr_pool *)calloc(1, sizeof *p);
    if (!p) return NULL;
    p->cfg = *cfg;
    snprintf(p->name, sizeof p->name, "%s", cfg->name ? cfg->name : "pool");
    p->cfg.name = p->name;
    p->n = cfg->workers;
#if defined(KCR_ASAN) || defined(KCR_TSAN)
    p->stack_size = cfg->stack_size ? cfg->stack_size : 256 * 1024;
#else
    p->stack_size = cfg->stack_size ? cfg->stack_size : 64 * 1024;
#endif
    p->use_uc = getenv("KCR_UCONTEXT") != NULL;
    p->latency_sample = cfg->latency_sample ? cfg->latency_sample : 8;
    p->view = cfg->coroutines_sample;
    if ((p->latency_sample & (p->latency_sample - 1)) || (p->view & (p->view - 1))) {
        free(p);
        errno = EINVAL;
        return NULL;
    }
    kcr_mpsc_init(&p->inject);
    pthread_mutex_init(&p->free_mu, NULL);
    pthread_mutex_init(&p->view_mu, NULL);
    p->w = (struct kcr_worker *)aligned_alloc(KCR_CACHE_LINE, sizeof(struct kcr_worker) * p->n);
    if (!p->w) {
        free(p);
        return NULL;
    }
    memset(p->w, 0, sizeof(struct kcr_worker) * p->n);
    for (uint32_t i = 0; i < p->n; i++) {
        struct kcr_worker *w = &p->w[i];
        w->pool = p;
        w->index = i;
        w->gid = cfg->worker_base + i;
        w->view = p->view;
        w->rng = (cfg->seed + 1) * UINT64_C(0x9E3779B97F4A7C15) + i * UINT64_C(0xBF58476D1CE4E5B9);
        if (!w->rng) w->rng = 1;
        atomic_init(&w->c.last_victim, -1);
        kcr_mpsc_init(&w->mailbox);
        if (kcr_deque_init(&w->dq, KCR_DEQUE_CAP) != 0) {
            for (uint32_t k = 0; k < i; k++) kcr_deque_free(&p->w[k].dq);
            free(p->w);
            free(p);
            errno = ENOMEM;
            return NULL;
        }
    }
    for (uint32_t i = 0; i < p->n; i++) {
        if (pthread_create(&p->w[i].thread, NULL, worker_main, &p->w[i]) != 0) {
            p->n = i; /* shut down the ones that started */
            kcr_pool_shutdown(p);
            kcr_pool_destroy(p);
            errno = EAGAIN;
            return NULL;
        }
    }
    return p;
}

void kcr_pool_shutdown(kcr_pool *p) {
    if (atomic_exchange_explicit(&p->stop, 1, memory_order_acq_rel)) return;
    /* seq_cst fence: a worker that parks after this sees stop; one already parked is woken */
    kcr_fence(memory_order_seq_cst);
    for (uint32_t i = 0; i < p->n; i++) {
        wake_worker(p, &p->w[i]);
        kcr_futex_wake(&p->w[i].parked, 1);
    }
    for (uint32_t i = 0; i < p->n; i++) pthread_join(p->w[i].thread, NULL);
}

void kcr_pool_destroy(kcr_pool *p) {
    if (!p) return;
    kcr__stacks_release(p);
    for (uint32_t i = 0; i < p->cfg.workers; i++) kcr_deque_free(&p->w[i].dq);
    pthread_mutex_destroy(&p->free_mu);
    pthread_mutex_destroy(&p->view_mu);
    free(p->w);
    free(p);
}
