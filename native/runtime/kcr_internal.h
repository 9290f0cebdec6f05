/*
 * kcr_internal.h — shared internals of the reference runtime (sched.c, clock.c,
 * stack.c, wait.c, stats.c, chan.c).
 */
#ifndef KCR_INTERNAL_H
#define KCR_INTERNAL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kcs_hist.h"
#include "kcr.h"
#include "kcr_ctx.h"
#include "kcr_deque.h"
#include "kcr_mpsc.h"

#define KCR_CACHE_LINE 64
#define KCR_DEQUE_CAP 4096u
#define KCR_CACHE_MAX 512u /* coroutine blocks cached per worker */
#define KCR_COLOURS 64u    /* cache-line offsets a block's descriptor cycles through (stack.c) */

#if defined(__x86_64__) || defined(__i386__)
#define kcr_cpu_relax() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define kcr_cpu_relax() __asm__ volatile("yield" ::: "memory")
#else
#define kcr_cpu_relax() ((void)0)
#endif

/* Owner-only counter increment: a relaxed load and store, no lock prefix.
 * Relaxed: the sampler's relaxed loads may see a slightly old value. */
#define KCR_INC(f, d)                                                                            \
    atomic_store_explicit(&(f), atomic_load_explicit(&(f), memory_order_relaxed) + (d),          \
                          memory_order_relaxed)
#define KCR_LOAD(f) atomic_load_explicit(&(f), memory_order_relaxed)

/* ------------------------------------------------------------- spinlock */
static inline void kcr_spin_lock(_Atomic uint32_t *l) {
    for (;;) {
        /* acquire: pairs with the release in kcr_spin_unlock */
        if (!atomic_exchange_explicit(l, 1, memory_order_acquire)) return;
        while (atomic_load_explicit(l, memory_order_relaxed)) kcr_cpu_relax();
    }
}
static inline void kcr_spin_unlock(_Atomic uint32_t *l) {
    /* release: pairs with the acquire exchange in kcr_spin_lock */
    atomic_store_explicit(l, 0, memory_order_release);
}
static inline int kcr_spin_trylock(_Atomic uint32_t *l) {
    return !atomic_load_explicit(l, memory_order_relaxed) &&
           !atomic_exchange_explicit(l, 1, memory_order_acquire);
}

/* ---------------------------------------------------------------- futex */
static inline void kcr_futex_wait(_Atomic uint32_t *a, uint32_t v) {
    syscall(SYS_futex, (uint32_t *)a, FUTEX_WAIT_PRIVATE, v, NULL, NULL, 0);
}
static inline void kcr_futex_wake(_Atomic uint32_t *a, int n) {
    syscall(SYS_futex, (uint32_t *)a, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

/* ------------------------------------------------------------ coroutine */
enum { KCR_AFTER_NONE = 0, KCR_AFTER_DONE, KCR_AFTER_YIELD, KCR_AFTER_PARK };

struct kcr_worker;
struct kcr_coro;

/* The coroutine view (view.c; on when the pool's coroutines_sample is set).
 * The counters are written by whoever holds the coroutine (the worker running
 * it; the waker while it is parked, under the object's lock), always one at a
 * time: ownership passes through the run queues and the object locks, so a
 * relaxed load and store suffice; the sampler reads them with relaxed loads. */
struct kcr_cview {
    uint64_t id;        /* 0 until tracked; written before the first park's unlock */
    const char *name;   /* static storage */
    uint64_t track_ns;  /* spawn (named) or first suspension, kcr_now_ns */
    _Atomic uint32_t state;     /* KCR_CORO_* */
    _Atomic int32_t worker;     /* gid while running, else -1 */
    _Atomic uint32_t wait_kind; /* KCR_WAIT_* */
    _Atomic int32_t wait_id;
    _Atomic uint64_t resumes, parks, wakes, self_wakes, timed, timed_ns;
    _Atomic uint64_t ops; /* completed channel operations (chan.c my_slot) */
    /* the pool's list of tracked coroutines, under view_mu */
    struct kcr_coro *prev, *next;
    uint8_t tracked;
    /* the sampler's memo (kcr_pool_coroutines, under view_mu): the state and
     * the counter that would change if the coroutine moved, and since when */
    uint32_t memo_state;
    uint64_t memo_count, memo_since_ns;
};

/* Lives at the top of its stack block: [guard page][stack ...][struct kcr_coro]. */
struct kcr_coro {
    struct kcr_node node; /* inject queue / mailbox link (first member) */
    struct kcr_coro *free_next;
    kcr_fn fn;
    void *arg;
    kcr_pool *pool;
    uint64_t submit_ticks;
    int32_t pinned; /* worker index in pool, -1 = any */
    uint8_t started;
    uint8_t from_lifo;
    void *block; /* mmap base (guard page) */
    size_t block_size;
    struct kcr_coro *all_next; /* every block of the pool, for destroy */
    struct kcr_ctx ctx;
    struct kcr_cview v; /* the coroutine view; untouched when it is off */
};

/* A suspended operation: a coroutine or a thread waiting for a wake. */
struct kcr_waiter {
    struct kcr_waiter *next;
    struct kcr_coro *coro;  /* NULL: a thread waiting on `done` */
    _Atomic uint32_t done;  /* futex word for thread waiters */
    int result;
    void *buf;              /* rendezvous: the element (copy) or pointer slot (ptr) */
    uint32_t kind;          /* KCR_WAIT_* and the object's id, for the coroutine view */
    int32_t id;
};

/* ------------------------------------------------------------ counters */
struct kcr_wcounters {
    _Alignas(KCR_CACHE_LINE) _Atomic uint64_t spawned; /* spawns on this worker */
    _Atomic uint64_t new_pulled; /* new tasks pulled from inject/mailbox */
    _Atomic uint64_t tasks_completed;
    _Atomic uint64_t fastpath_hits;
    _Atomic uint64_t fastpath_misses;
    _Atomic uint64_t steal_successes;
    _Atomic uint64_t steal_failures;
    _Atomic int64_t last_victim;
    _Atomic uint64_t inject_pulls;
    _Atomic uint64_t parks;
    _Atomic uint64_t unparks;
    _Atomic uint64_t switches;
    /* busy/idle accounting, a seqlock written by the owner at transitions:
     * bi_seq odd while writing (release fences order the fields) */
    _Alignas(KCR_CACHE_LINE) _Atomic uint64_t bi_seq;
    _Atomic uint64_t busy_ns;
    _Atomic uint64_t idle_ns;
    _Atomic uint64_t since_ns; /* start of the current state */
    _Atomic uint32_t busy;     /* current state */
};

struct kcr_hist {
    _Atomic uint64_t counts[KCS_HIST_BUCKETS];
    _Atomic uint64_t total;
};

struct kcr_worker {
    /* owner-hot */
    _Alignas(KCR_CACHE_LINE) struct kcr_deque dq;
    _Atomic(struct kcr_coro *) lifo; /* owner only; relaxed atomic so the sampler may peek */
    struct kcr_coro *current;
    struct kcr_pool *pool;
    uint32_t index; /* in pool */
    uint32_t gid;   /* global */
    uint64_t rng;
    uint32_t tick;
    uint32_t sample_tick;
    uint32_t view;      /* the pool's coroutines_sample (0: the view is off), a local copy */
    uint32_t view_tick; /* resumes seen, for timing one in `view` */
    int after;                /* KCR_AFTER_* set by the coroutine before switching out */
    _Atomic uint32_t *after_lock; /* KCR_AFTER_PARK: released by the scheduler */
    struct kcr_coro *cache;   /* free coroutine blocks */
    uint32_t ncache;
    struct kcr_ctx sched;     /* the worker thread's own stack */
    pthread_t thread;
    _Atomic int32_t tid;
    /* pinned coroutines for this worker, pushed by anyone */
    struct kcr_mpsc mailbox;
    _Alignas(KCR_CACHE_LINE) _Atomic uint32_t parked; /* futex word: 1 = parked/parking */
    struct kcr_wcounters c;
    struct kcr_hist hist[KCR_NHIST];
};

struct kcr_pool {
    struct kcr_pool_config cfg;
    char name[32];
    uint32_t n;
    struct kcr_worker *w;
    size_t stack_size;
    struct kcr_mpsc inject;
    _Alignas(KCR_CACHE_LINE) _Atomic uint32_t inject_lock; /* consumer side */
    _Alignas(KCR_CACHE_LINE) _Atomic uint32_t nsleepers;
    _Atomic uint32_t stop;
    _Atomic uint64_t ext_submitted; /* spawns from outside the pool's workers */
    _Atomic uint32_t wake_rr;
    /* global free list of coroutine blocks and the list of all blocks */
    pthread_mutex_t free_mu;
    struct kcr_coro *free_list;
    uint32_t nfree;
    struct kcr_coro *all;
    _Atomic uint64_t stack_bytes;
    int use_uc;
    uint32_t latency_sample;
    /* the coroutine view (view.c): the tracked coroutines, a list under view_mu */
    uint32_t view; /* coroutines_sample, 0 = off */
    pthread_mutex_t view_mu;
    struct kcr_coro *view_list;
    uint64_t view_count;
    _Atomic uint64_t view_next_id; /* relaxed: ids only need to be unique */
};

/* clock.c: calibrate the latency clock once (pool and channel creation) */
void kcr__clock_init(void);

/* stack.c: coroutine blocks, recycled through the worker cache and the pool */
void kcr__stack_init(void); /* once, before the first block */
/* A coroutine on a pooled block, ready to start fn(arg); w may be NULL
 * (not on one of p's workers). NULL when no block could be mapped. */
struct kcr_coro *kcr__coro_new(kcr_pool *p, struct kcr_worker *w, kcr_fn fn, void *arg, int32_t pin);
void kcr__coro_free(kcr_pool *p, struct kcr_worker *w, struct kcr_coro *c); /* on w's thread */
void kcr__stack_cache_return(kcr_pool *p, struct kcr_worker *w);         /* w exits */
void kcr__stacks_release(kcr_pool *p);                                      /* unmap every block */

/* sched.c, used by stack.c, wait.c, stats.c and chan.c */
struct kcr_worker *kcr__self(void);
void kcr__make_ready(struct kcr_coro *c);
/* Suspend the running coroutine; `lock` (held) is released by the scheduler
 * after the coroutine's context is saved, so a waker that takes the lock can
 * never resume a coroutine that is still running. */
void kcr__park_unlock(_Atomic uint32_t *lock);

/* view.c: the coroutine view, called only when w->view / p->view is set */
void kcr__view_spawned(kcr_pool *p, struct kcr_coro *c, const char *name);
uint64_t kcr__view_resume(struct kcr_worker *w, struct kcr_coro *c); /* ticks if timed, else 0 */
/* after the switch out, before the scheduler releases a park's lock */
void kcr__view_suspended(struct kcr_worker *w, struct kcr_coro *c, int after, uint64_t t0);
void kcr__view_wait(struct kcr_coro *c, uint32_t kind, int32_t id); /* about to park */
void kcr__view_woken(struct kcr_coro *c);

/* wait.c, used by chan.c */
void kcr__waiter_init(struct kcr_waiter *w);
/* Release `lock` and wait until kcr__waiter_wake(w). */
void kcr__waiter_park(struct kcr_waiter *w, _Atomic uint32_t *lock);
void kcr__waiter_wake(struct kcr_waiter *w);

#endif
