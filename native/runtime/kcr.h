/*
 * kcr.h — the kcoro-stream reference coroutine runtime (public API).
 *
 * A small M:N runtime of the same design as KCoro, so the counters the monitor
 * shows mean the same things:
 *
 *   coroutines   stackful, assembly context switch (x86-64, aarch64; ucontext
 *                fallback), stacks from a per-pool pool with a guard page
 *   scheduler    N worker threads per pool; each has a Chase-Lev deque and a
 *                one-slot LIFO fast path (not stealable); one global MPSC
 *                inject queue per pool for outside submissions and a private
 *                MPSC mailbox per worker for pinned coroutines; randomized,
 *                bounded steal probes; idle workers park on a futex
 *   channels     rendezvous (capacity 0) and buffered; copy mode (elements of
 *                elem_size bytes are copied) and pointer mode (a pointer is
 *                handed off: zero-copy, ownership moves to the receiver);
 *                close → EPIPE once drained; try-ops → EAGAIN; a blocked op
 *                suspends the coroutine, never the worker thread
 *   counters     per worker, cache-line aligned, written only by their worker
 *                with relaxed atomics; read by the sampler with relaxed loads
 *
 * All functions that may block (kcr_chan_send/recv, kcr_wg_wait) work both in
 * a coroutine (the coroutine is suspended) and on a plain thread (the thread
 * waits on a futex), which is what tests and the benchmark's main thread use.
 */
#ifndef KCR_H
#define KCR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kcr_pool kcr_pool;
typedef struct kcr_chan kcr_chan;
typedef void (*kcr_fn)(void *arg);

#define KCR_MAX_WORKERS 64u
#define KCR_HIST_TASK_START 0 /* task submit → first run, ns */
#define KCR_HIST_CHAN 1       /* channel send → receive, ns (recorded by the user) */
#define KCR_HIST_TASK_BODY 2  /* a task body's own duration, ns (recorded by the user; the bench: CPU time) */
#define KCR_NHIST 3

struct kcr_pool_config {
    const char *name;      /* reported pool name, e.g. "tasks" */
    uint32_t id;           /* pool index in reports */
    uint32_t workers;      /* 1..KCR_MAX_WORKERS */
    uint32_t worker_base;  /* global id of worker 0 (ids are unique across pools) */
    uint32_t total_slots;  /* global worker ids are < total_slots (channel counter slots) */
    size_t stack_size;     /* 0 = default (64 KiB; 256 KiB under sanitizers) */
    uint32_t steal_probes; /* max probes per steal round, 0 = 2 × workers */
    uint32_t idle_spins;   /* empty find-work rounds before parking, 0 = default */
    uint64_t seed;         /* victim selection */
    uint32_t latency_sample; /* time one task start in N (power of two), 0 = 8 */
    uint32_t coroutines_sample; /* the coroutine view: 0 = off; else track coroutines and time
                                   one resume in N per worker (power of two) */
};

/* Create a pool and start its worker threads. NULL on failure (errno set). */
kcr_pool *kcr_pool_create(const struct kcr_pool_config *cfg);
/* Stop the workers once every queue is empty, join them. Coroutines still
 * suspended on a channel or wait group at that point are abandoned (their
 * stacks are released by kcr_pool_destroy). */
void kcr_pool_shutdown(kcr_pool *p);
void kcr_pool_destroy(kcr_pool *p);

/* Submit a new coroutine running fn(arg). From a worker of `p` it goes to the
 * worker's LIFO slot (the previous occupant moves to its deque); from anywhere
 * else to the pool's inject queue. Returns 0, or ENOMEM. */
int kcr_spawn(kcr_pool *p, kcr_fn fn, void *arg);
/* Submit a coroutine that only ever runs on worker `worker` of `p`. */
int kcr_spawn_pinned(kcr_pool *p, uint32_t worker, kcr_fn fn, void *arg);
/* kcr_spawn with a name for the coroutine view (static storage: it is kept,
 * not copied). A named coroutine is tracked from its spawn; an unnamed one
 * from its first suspension (a task that runs once to completion never is). */
int kcr_spawn_named(kcr_pool *p, const char *name, kcr_fn fn, void *arg);
int kcr_spawn_pinned_named(kcr_pool *p, uint32_t worker, const char *name, kcr_fn fn, void *arg);
#define KCR_STR2_(x) #x
#define KCR_STR_(x) KCR_STR2_(x)
/* kcr_spawn named after its spawn site, "file.c:123". */
#define KCR_SPAWN_HERE(p, fn, arg) kcr_spawn_named((p), __FILE__ ":" KCR_STR_(__LINE__), (fn), (arg))
/* In a coroutine: let others run, continue later. Elsewhere: sched_yield. */
void kcr_yield(void);
int kcr_in_coroutine(void);
/* Global id of the calling worker thread, or -1 on other threads. */
int kcr_worker_id(void);
/* Pool of the calling worker thread, or NULL. */
kcr_pool *kcr_current_pool(void);

/* Record a latency sample (ns) into the calling worker's histogram `metric`
 * (KCR_HIST_*). Ignored outside worker threads. */
void kcr_hist_record(int metric, uint64_t ns);

/* -------------------------------------------------------------- clock */
/* A cheap monotonic clock for latencies: TSC (x86-64 with constant_tsc) or
 * the generic timer (aarch64), calibrated against CLOCK_MONOTONIC once;
 * clock_gettime otherwise. Ticks are only meaningful as differences. */
uint64_t kcr_ticks(void);
uint64_t kcr_ticks_to_ns(uint64_t ticks);
uint64_t kcr_now_ns(void); /* kcr_ticks_to_ns(kcr_ticks()) */

/* -------------------------------------------------------- wait groups */
typedef struct kcr_wg {
    _Atomic int64_t count;
    _Atomic uint32_t lock;
    void *waiters; /* struct kcr_waiter list, under lock */
} kcr_wg;
void kcr_wg_init(kcr_wg *wg, int64_t n);
void kcr_wg_add(kcr_wg *wg, int64_t n);
void kcr_wg_done(kcr_wg *wg);
void kcr_wg_wait(kcr_wg *wg); /* coroutine: suspends; thread: futex wait */

/* ------------------------------------------------------------ channels */
#define KCR_CHAN_RENDEZVOUS 0u
#define KCR_CHAN_BUFFERED 1u
#define KCR_CHAN_FLAG_CLOSED 1u
#define KCR_CHAN_FLAG_PTR 2u /* pointer (zero-copy) mode */

struct kcr_chan_config {
    uint32_t id;          /* reported channel index */
    uint32_t pool;        /* reported pool index */
    uint32_t capacity;    /* 0 = rendezvous */
    uint32_t elem_size;   /* bytes per element (copy mode) or per pointee (ptr mode) */
    int ptr_mode;         /* 1 = pointer / zero-copy mode */
    uint32_t spin;        /* polls of the buffer before a blocked op suspends */
    uint32_t total_slots; /* counter slots: global worker ids < total_slots */
    const char *name;     /* reported name (static storage), NULL = "" */
};
kcr_chan *kcr_chan_create(const struct kcr_chan_config *cfg);
void kcr_chan_destroy(kcr_chan *ch);
/* Copy mode: send copies elem_size bytes from src; recv copies into dst.
 * Return 0, EPIPE (closed; for recv only once drained) or EAGAIN (try-ops). */
int kcr_chan_send(kcr_chan *ch, const void *src);
int kcr_chan_recv(kcr_chan *ch, void *dst);
int kcr_chan_try_send(kcr_chan *ch, const void *src);
int kcr_chan_try_recv(kcr_chan *ch, void *dst);
/* Pointer mode: ownership of *p moves to the receiver on success (zc_sent /
 * zc_recv); on EPIPE or EAGAIN the sender keeps it (zc_aborted). */
int kcr_chan_send_ptr(kcr_chan *ch, void *p);
int kcr_chan_recv_ptr(kcr_chan *ch, void **p);
int kcr_chan_try_send_ptr(kcr_chan *ch, void *p);
int kcr_chan_try_recv_ptr(kcr_chan *ch, void **p);
/* Close: later sends get EPIPE; receivers drain what is buffered, then EPIPE.
 * Suspended waiters are woken (rendezvous waiters fail with EPIPE: rv_cancels).
 * Returns 0, or EPIPE when already closed. */
int kcr_chan_close(kcr_chan *ch);
/* Change the buffer polls before a blocked send/recv suspends (a live knob). */
void kcr_chan_set_spin(kcr_chan *ch, uint32_t spin);

/* ------------------------------------------------------------ snapshots */
/* Field order matches WorkerCounters in kcoro_stream/events.py. */
struct kcr_worker_stats {
    uint32_t worker; /* global id */
    uint32_t pool;
    uint64_t tasks_submitted; /* spawns made on this worker + new tasks it pulled from
                                 the inject queue / its mailbox */
    uint64_t tasks_completed;
    uint64_t fastpath_hits;   /* task starts taken from the LIFO slot */
    uint64_t fastpath_misses; /* task starts from the deque, inject queue, mailbox, steals */
    uint64_t steal_probes;
    uint64_t steal_successes;
    uint64_t steal_failures;
    int64_t last_victim;
    uint64_t inject_pulls; /* coroutines taken from the inject queue or mailbox */
    uint64_t parks;
    uint64_t unparks;
    uint64_t busy_ns;
    uint64_t idle_ns;
    uint64_t switches; /* context switches into coroutines */
    int32_t tid;
};
uint32_t kcr_pool_workers(const kcr_pool *p);
const char *kcr_pool_name(const kcr_pool *p);
uint32_t kcr_pool_id(const kcr_pool *p);
void kcr_pool_worker_stats(kcr_pool *p, uint32_t i, struct kcr_worker_stats *out);
/* Every worker's stats (out[kcr_pool_workers(p)]), read so that the pool's sums
 * are consistent: Σ completed <= Σ submitted in every snapshot. */
void kcr_pool_stats(kcr_pool *p, struct kcr_worker_stats *out);
/* Sum of the pool's workers' histogram `metric` into counts[KCS_HIST_BUCKETS]
 * (added to what is there) and *total. */
void kcr_pool_hist(kcr_pool *p, int metric, uint64_t *counts, uint64_t *total);
struct kcr_pool_gauges {
    uint64_t inject_depth;    /* in the inject queue and mailboxes */
    uint64_t live_coroutines; /* submitted and not finished */
    uint64_t ready_coroutines;
    uint64_t stack_bytes; /* mapped stack memory */
};
void kcr_pool_gauges(kcr_pool *p, struct kcr_pool_gauges *out);

/* Field order matches ChannelCounters in kcoro_stream/events.py. */
struct kcr_chan_stats {
    uint32_t channel, pool, kind, flags, capacity;
    uint64_t depth;
    uint32_t elem_size;
    uint64_t sends, recvs, bytes_sent, bytes_recv, send_eagain, recv_eagain, send_epipe,
        recv_epipe, send_timeouts, recv_timeouts, zc_sent, zc_recv, zc_aborted, rv_matches,
        rv_cancels;
};
void kcr_chan_stats(kcr_chan *ch, struct kcr_chan_stats *out);

/* ------------------------------------------------------ coroutine view */
#define KCR_CORO_RUNNABLE 0u /* values of CORO_* in kcoro_stream/events.py */
#define KCR_CORO_RUNNING 1u
#define KCR_CORO_PARKED 2u
#define KCR_CORO_DONE 3u
#define KCR_WAIT_NONE 0u /* WAIT_* */
#define KCR_WAIT_CHANNEL 1u
#define KCR_WAIT_GROUP 2u
/* Field order matches CoroutineState in kcoro_stream/events.py. */
struct kcr_coro_info {
    uint64_t id;
    uint32_t pool;
    const char *name; /* "" when unnamed; valid while the coroutine lives */
    uint32_t state;
    int32_t worker;
    uint32_t wait_kind;
    int32_t wait_id;
    uint64_t resumes, parks, wakes, self_wakes;
    uint64_t busy_ns;    /* timed resumes' total, scaled by resumes / timed */
    uint64_t age_ns;     /* since tracked: spawn (named) or first suspension */
    uint64_t running_ns; /* seen running with no new resume nor channel operation since this many ns (0: not) */
    uint64_t parked_ns;  /* seen parked with no new park since this many ns (0: not) */
};
/* The tracked coroutines of p (at most max into out); returns how many there
 * are. running_ns/parked_ns compare with the previous call at now_ns: call it
 * from one thread (the sampler). 0 when the view is off. */
size_t kcr_pool_coroutines(kcr_pool *p, uint64_t now_ns, struct kcr_coro_info *out, size_t max);
/* The coroutine ids waiting to send / receive on ch, oldest first (0: a
 * thread), at most max each; nsend and nrecv get how many wait. */
void kcr_chan_waiters(kcr_chan *ch, uint64_t *send_ids, size_t *nsend, uint64_t *recv_ids,
                      size_t *nrecv, size_t max);
const char *kcr_chan_name(const kcr_chan *ch);

/* --------------------------------------------- raw context switch (tests) */
/* One-shot switch benchmark: ns per switch of a ping-pong between the thread
 * and a coroutine; use_ucontext forces the portable fallback. */
double kcr_switch_bench_ns(uint64_t iterations, int use_ucontext);
const char *kcr_switch_impl(void); /* "asm-x86_64", "asm-aarch64" or "ucontext" */

#ifdef __cplusplus
}
#endif
#endif /* KCR_H */
