/*
 * kcr_deque.h — Chase-Lev work-stealing deque (internal), after Lê, Pop, Cohen
 * and Zappa Nardelli, "Correct and Efficient Work-Stealing for Weak Memory
 * Models" (PPoPP 2013), with a fixed power-of-two capacity: a full deque
 * refuses the push and the caller spills to the pool's inject queue.
 *
 * The owner pushes and pops at `bottom`; thieves take from `top` with a CAS.
 * `top` and `bottom` live on separate cache lines. Every store of `bottom` is
 * a release, so a thief's acquire load of `bottom` makes the pushed task's
 * contents visible (TSan models this; it does not model the fences, which are
 * only needed for the pop/steal race on the last element).
 */
#ifndef KCR_DEQUE_H
#define KCR_DEQUE_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "kcr_fence.h"

struct kcr_coro;

struct kcr_deque {
    _Alignas(64) _Atomic int64_t top; /* CAS by thieves and by the owner on the last element */
    _Alignas(64) _Atomic int64_t bottom; /* written by the owner only */
    _Atomic(struct kcr_coro *) *buf;
    int64_t mask;
};

#define KCR_DEQUE_EMPTY ((struct kcr_coro *)0)
#define KCR_DEQUE_ABORT ((struct kcr_coro *)1) /* lost a race; the deque was not empty */

static inline int kcr_deque_init(struct kcr_deque *d, uint32_t cap_pow2) {
    d->buf = (_Atomic(struct kcr_coro *) *)calloc(cap_pow2, sizeof *d->buf);
    if (!d->buf) return -1;
    d->mask = (int64_t)cap_pow2 - 1;
    atomic_init(&d->top, 0);
    atomic_init(&d->bottom, 0);
    return 0;
}
static inline void kcr_deque_free(struct kcr_deque *d) { free((void *)d->buf); }

/* Owner only. Returns the size after the push (a lower bound: thieves may
 * have taken some meanwhile), or 0 when full. */
static inline int64_t kcr_deque_push(struct kcr_deque *d, struct kcr_coro *c) {
    int64_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed);
    /* acquire: pairs with the thieves' CAS of top; the slot we reuse was read */
    int64_t t = atomic_load_explicit(&d->top, memory_order_acquire);
    if (b - t > d->mask) return 0;
    atomic_store_explicit(&d->buf[b & d->mask], c, memory_order_relaxed);
    /* release: pairs with the acquire load of bottom in kcr_deque_steal */
    atomic_store_explicit(&d->bottom, b + 1, memory_order_release);
    return b + 1 - t;
}

/* Owner only: newest element, or NULL. */
static inline struct kcr_coro *kcr_deque_pop(struct kcr_deque *d) {
    int64_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed) - 1;
    /* release: see kcr_deque_push; a thief may read this value */
    atomic_store_explicit(&d->bottom, b, memory_order_release);
    /* seq_cst fence: orders the bottom store before the top load (store-load),
     * pairs with the fence in kcr_deque_steal */
    kcr_fence(memory_order_seq_cst);
    int64_t t = atomic_load_explicit(&d->top, memory_order_relaxed);
    struct kcr_coro *x = NULL;
    if (t <= b) {
        x = atomic_load_explicit(&d->buf[b & d->mask], memory_order_relaxed);
        if (t == b) { /* last element: race the thieves for it */
            if (!atomic_compare_exchange_strong_explicit(&d->top, &t, t + 1, memory_order_seq_cst,
                                                         memory_order_relaxed))
                x = NULL;
            atomic_store_explicit(&d->bottom, b + 1, memory_order_release);
        }
    } else {
        atomic_store_explicit(&d->bottom, b + 1, memory_order_release);
    }
    return x;
}

/* Any thread: oldest element, KCR_DEQUE_EMPTY, or KCR_DEQUE_ABORT. */
static inline struct kcr_coro *kcr_deque_steal(struct kcr_deque *d) {
    /* acquire: pairs with the CAS of other thieves */
    int64_t t = atomic_load_explicit(&d->top, memory_order_acquire);
    /* seq_cst fence: pairs with the fence in kcr_deque_pop */
    kcr_fence(memory_order_seq_cst);
    /* acquire: pairs with the release stores of bottom by the owner */
    int64_t b = atomic_load_explicit(&d->bottom, memory_order_acquire);
    if (t >= b) return KCR_DEQUE_EMPTY;
    struct kcr_coro *x = atomic_load_explicit(&d->buf[t & d->mask], memory_order_relaxed);
    if (!atomic_compare_exchange_strong_explicit(&d->top, &t, t + 1, memory_order_seq_cst,
                                                 memory_order_relaxed))
        return KCR_DEQUE_ABORT;
    return x;
}

/* Any thread, approximate. */
static inline int64_t kcr_deque_size(struct kcr_deque *d) {
    int64_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed);
    int64_t t = atomic_load_explicit(&d->top, memory_order_relaxed);
    return b > t ? b - t : 0;
}

#endif
