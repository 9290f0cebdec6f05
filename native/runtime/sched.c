/*
 * sched.c — the M:N scheduler: worker threads, run queues, stealing, parking,
 * coroutine blocks (stack pool), wait groups, counters and the latency clock.
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
#include "kcr_internal.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#ifdef KCR_TSAN
_Atomic uint64_t kcr__fence_word;
#endif

/* ---------------------------------------------------------------- clock */

static _Atomic uint32_t g_clock_mode; /* 0 clock_gettime, 1 counter; set once by kcr_clock_init */
static uint64_t g_clock_mult;         /* ns per tick << 32; written before the release of mode */
static pthread_once_t g_clock_once = PTHREAD_ONCE_INIT;

static uint64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t raw_counter(void) {
#if defined(__x86_64__)
    return __rdtsc();
#elif defined(__aarch64__)
    uint64_t v;
    __asm__ volatile("isb; mrs %0, cntvct_el0" : "=r"(v));
    return v;
#else
    return mono_ns();
#endif
}

static void clock_init_once(void) {
    uint64_t mult = 0;
#if defined(__x86_64__)
    int stable = 0;
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[4096];
        while (fgets(line, sizeof line, f))
            if (!strncmp(line, "flags", 5)) {
                stable = strstr(line, " constant_tsc") && strstr(line, " nonstop_tsc");
                break;
            }
        fclose(f);
    }
    if (stable && !getenv("KCR_NO_TSC")) {
        uint64_t t0 = mono_ns(), c0 = raw_counter();
        struct timespec d = {0, 5000000};
        nanosleep(&d, NULL);
        uint64_t t1 = mono_ns(), c1 = raw_counter();
        if (c1 > c0 && t1 > t0) mult = (uint64_t)(((unsigned __int128)(t1 - t0) << 32) / (c1 - c0));
    }
#elif defined(__aarch64__)
    uint64_t freq;
    __asm__ volatile("mrs %0, cntfrq_el0" : "=r"(freq));
    if (freq) mult = (uint64_t)((UINT64_C(1000000000) << 32) / freq);
#endif
    if (mult) {
        g_clock_mult = mult;
        /* release: pairs with the acquire in kcr_ticks_to_ns / kcr_ticks */
        atomic_store_explicit(&g_clock_mode, 1, memory_order_release);
    }
}

void kcr__clock_init(void) { pthread_once(&g_clock_once, clock_init_once); }

uint64_t kcr_ticks(void) {
    /* acquire: pairs with the release in clock_init_once */
    if (atomic_load_explicit(&g_clock_mode, memory_order_acquire)) return raw_counter();
    return mono_ns();
}
uint64_t kcr_ticks_to_ns(uint64_t t) {
    if (atomic_load_explicit(&g_clock_mode, memory_order_acquire))
        return (uint64_t)(((unsigned __int128)t * g_clock_mult) >> 32);
    return t;
}
uint64_t kcr_now_ns(void) { return kcr_ticks_to_ns(kcr_ticks()); }

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

/* ------------------------------------------------------ coroutine blocks */

static size_t g_page_size;

static size_t page_size(void) { return g_page_size; }

static size_t coro_hdr_size(void) { return (sizeof(struct kcr_coro) + 63u) & ~(size_t)63u; }

static struct kcr_coro *block_new(kcr_pool *p) {
    size_t pg = page_size();
    size_t total = pg + ((p->stack_size + coro_hdr_size() + pg - 1) & ~(pg - 1));
    void *mem = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                     -1, 0);
    if (mem == MAP_FAILED) return NULL;
    if (mprotect(mem, pg, PROT_NONE) != 0) { /* the guard page */
        munmap(mem, total);
        return NULL;
    }
    struct kcr_coro *c = (struct kcr_coro *)((char *)mem + total - coro_hdr_size());
    memset(c, 0, sizeof *c);
    c->block = mem;
    c->block_size = total;
    pthread_mutex_lock(&p->free_mu);
    c->all_next = p->all;
    p->all = c;
    pthread_mutex_unlock(&p->free_mu);
    atomic_fetch_add_explicit(&p->stack_bytes, total, memory_order_relaxed);
    return c;
}

static struct kcr_coro *coro_alloc(kcr_pool *p, struct kcr_worker *w) {
    struct kcr_coro *c;
    if (w && w->cache) {
        c = w->cache;
        w->cache = c->free_next;
        w->ncache--;
        return c;
    }
    pthread_mutex_lock(&p->free_mu);
    c = p->free_list;
    if (c) {
        p->free_list = c->free_next;
        p->nfree--;
        /* refill the worker cache with up to half its capacity */
        while (w && p->free_list && w->ncache < KCR_CACHE_MAX / 2) {
            struct kcr_coro *x = p->free_list;
            p->free_list = x->free_next;
            p->nfree--;
            x->free_next = w->cache;
            w->cache = x;
            w->ncache++;
        }
    }
    pthread_mutex_unlock(&p->free_mu);
    return c ? c : block_new(p);
}

static void coro_free(kcr_pool *p, struct kcr_worker *w, struct kcr_coro *c) {
    c->free_next = w->cache;
    w->cache = c;
    if (++w->ncache <= KCR_CACHE_MAX) return;
    /* spill half of the cache to the pool */
    pthread_mutex_lock(&p->free_mu);
    while (w->ncache > KCR_CACHE_MAX / 2) {
        struct kcr_coro *x = w->cache;
        w->cache = x->free_next;
        w->ncache--;
        x->free_next = p->free_list;
        p->free_list = x;
        p->nfree++;
    }
    pthread_mutex_unlock(&p->free_mu);
}

static void coro_entry(void *arg) {
    struct kcr_coro *c = (struct kcr_coro *)arg;
    kcr_ctx_started();
    c->fn(c->arg);
    struct kcr_worker *w = kcr__self();
    w->after = KCR_AFTER_DONE;
    kcr_ctx_swap(&c->ctx, &w->sched, 1);
    __builtin_unreachable();
}

static struct kcr_coro *coro_new(kcr_pool *p, struct kcr_worker *w, kcr_fn fn, void *arg, int32_t pin) {
    struct kcr_coro *c = coro_alloc(p, w);
    if (!c) return NULL;
    c->fn = fn;
    c->arg = arg;
    c->pool = p;
    c->pinned = pin;
    c->started = 0;
    c->free_next = NULL;
    char *lo = (char *)c->block + page_size();
    kcr_ctx_make(&c->ctx, lo, (size_t)((char *)c - lo), coro_entry, c, p->use_uc);
    /* task start latency is sampled: one spawn in `latency_sample` is timed
     * (reading the TSC costs ~20 ns in a VM; every spawn would double it) */
    if (!w || (++w->sample_tick & (p->latency_sample - 1)) == 0)
        c->submit_ticks = kcr_ticks();
    else
        c->submit_ticks = 0;
    return c;
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

static int spawn(kcr_pool *p, kcr_fn fn, void *arg, int32_t pin) {
    struct kcr_worker *w = kcr__self();
    if (w && w->pool != p) w = NULL;
    struct kcr_coro *c = coro_new(p, w, fn, arg, pin);
    if (!c) return ENOMEM;
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

int kcr_spawn(kcr_pool *p, kcr_fn fn, void *arg) { return spawn(p, fn, arg, -1); }

int kcr_spawn_pinned(kcr_pool *p, uint32_t worker, kcr_fn fn, void *arg) {
    if (worker >= p->n) return EINVAL;
    return spawn(p, fn, arg, (int32_t)worker);
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

/* ------------------------------------------------- busy/idle accounting */

static void set_busy(struct kcr_worker *w, uint32_t busy) {
    uint64_t now = kcr_now_ns();
    struct kcr_wcounters *c = &w->c;
    uint64_t s = atomic_load_explicit(&c->bi_seq, memory_order_relaxed);
    atomic_store_explicit(&c->bi_seq, s + 1, memory_order_relaxed);
    /* release fence: the odd sequence is visible before the fields change
     * (seqlock writer; pairs with the acquire fence in read_busy_idle) */
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

/* --------------------------------------------------------------- running */

static void hist_record(struct kcr_worker *w, int metric, uint64_t ns) {
    struct kcr_hist *h = &w->hist[metric];
    KCR_INC(h->counts[kcs_hist_bucket(ns)], 1);
    KCR_INC(h->total, ns);
}

void kcr_hist_record(int metric, uint64_t ns) {
    struct kcr_worker *w = kcr__self();
    if (w && metric >= 0 && metric < KCR_NHIST) hist_record(w, metric, ns);
}

static void run(struct kcr_worker *w, struct kcr_coro *c, int from_lifo) {
    if (!c->started) {
        c->started = 1;
        if (from_lifo)
            KCR_INC(w->c.fastpath_hits, 1);
        else
            KCR_INC(w->c.fastpath_misses, 1);
        if (c->submit_ticks) {
            uint64_t now = kcr_ticks();
            hist_record(w, KCR_HIST_TASK_START,
                        now > c->submit_ticks ? kcr_ticks_to_ns(now - c->submit_ticks) : 0);
        }
    }
    w->current = c;
    w->after = KCR_AFTER_NONE;
    KCR_INC(w->c.switches, 1);
    kcr_ctx_swap(&w->sched, &c->ctx, 0);
    w->current = NULL;
    switch (w->after) {
    case KCR_AFTER_DONE:
        KCR_INC(w->c.tasks_completed, 1);
        coro_free(w->pool, w, c);
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
            if (!busy) set_busy(w, busy = 1);
            spins = 0;
            run(w, c, from_lifo);
            continue;
        }
        if (busy) set_busy(w, busy = 0);
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
    pthread_mutex_lock(&p->free_mu);
    while (w->cache) {
        struct kcr_coro *x = w->cache;
        w->cache = x->free_next;
        x->free_next = p->free_list;
        p->free_list = x;
    }
    w->ncache = 0;
    pthread_mutex_unlock(&p->free_mu);
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
    if (!g_page_size) {
        long pg = sysconf(_SC_PAGESIZE);
        g_page_size = pg > 0 ? (size_t)pg : 4096; /* same value from every racing writer */
    }
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
    if (p->latency_sample & (p->latency_sample - 1)) {
        free(p);
        errno = EINVAL;
        return NULL;
    }
    kcr_mpsc_init(&p->inject);
    pthread_mutex_init(&p->free_mu, NULL);
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
    struct kcr_coro *c = p->all;
    while (c) {
        struct kcr_coro *next = c->all_next;
        kcr_ctx_release(&c->ctx);
        munmap(c->block, c->block_size);
        c = next;
    }
    for (uint32_t i = 0; i < p->cfg.workers; i++) kcr_deque_free(&p->w[i].dq);
    pthread_mutex_destroy(&p->free_mu);
    free(p->w);
    free(p);
}

/* ------------------------------------------------------------- waiters */

void kcr__waiter_init(struct kcr_waiter *w) {
    memset(w, 0, sizeof *w);
    struct kcr_worker *self = kcr__self();
    w->coro = self ? self->current : NULL;
}

void kcr__waiter_park(struct kcr_waiter *w, _Atomic uint32_t *lock) {
    if (w->coro) {
        kcr__park_unlock(lock);
        return;
    }
    kcr_spin_unlock(lock);
    /* acquire: pairs with the release store of done in kcr__waiter_wake */
    while (!atomic_load_explicit(&w->done, memory_order_acquire)) kcr_futex_wait(&w->done, 0);
}

void kcr__waiter_wake(struct kcr_waiter *w) {
    struct kcr_coro *c = w->coro;
    if (c) { /* w lives on c's stack: do not touch it after make_ready */
        atomic_store_explicit(&w->done, 1, memory_order_relaxed);
        kcr__make_ready(c);
        return;
    }
    /* release: pairs with the acquire in kcr__waiter_park */
    atomic_store_explicit(&w->done, 1, memory_order_release);
    kcr_futex_wake(&w->done, 1);
}

/* ---------------------------------------------------------- wait groups */

void kcr_wg_init(kcr_wg *wg, int64_t n) {
    atomic_init(&wg->count, n);
    atomic_init(&wg->lock, 0);
    wg->waiters = NULL;
}

void kcr_wg_add(kcr_wg *wg, int64_t n) { atomic_fetch_add_explicit(&wg->count, n, memory_order_relaxed); }

void kcr_wg_done(kcr_wg *wg) {
    /* acq_rel: the work done before done() happens-before the waiter's return */
    if (atomic_fetch_sub_explicit(&wg->count, 1, memory_order_acq_rel) != 1) return;
    kcr_spin_lock(&wg->lock);
    struct kcr_waiter *list = (struct kcr_waiter *)wg->waiters;
    wg->waiters = NULL;
    kcr_spin_unlock(&wg->lock);
    while (list) {
        struct kcr_waiter *next = list->next;
        kcr__waiter_wake(list);
        list = next;
    }
}

void kcr_wg_wait(kcr_wg *wg) {
    for (;;) { /* a late wake from the previous round may arrive: re-check */
        if (atomic_load_explicit(&wg->count, memory_order_acquire) <= 0) return;
        kcr_spin_lock(&wg->lock);
        if (atomic_load_explicit(&wg->count, memory_order_acquire) <= 0) {
            kcr_spin_unlock(&wg->lock);
            return;
        }
        struct kcr_waiter w;
        kcr__waiter_init(&w);
        w.next = (struct kcr_waiter *)wg->waiters;
        wg->waiters = &w;
        kcr__waiter_park(&w, &wg->lock);
    }
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
