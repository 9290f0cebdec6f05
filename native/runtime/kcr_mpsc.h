/*
 * kcr_mpsc.h — intrusive multi-producer single-consumer queue (internal),
 * Dmitry Vyukov's non-blocking MPSC node queue. Producers never wait: a push
 * is one exchange plus one store. The consumer side is serialised by the
 * caller (the pool's inject queue takes a try-lock; a worker's mailbox has
 * one consumer). `pushed`/`popped` count for the depth gauge and for "is
 * there work" checks that must not miss a push still in progress.
 */
#ifndef KCR_MPSC_H
#define KCR_MPSC_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct kcr_node {
    _Atomic(struct kcr_node *) next;
};

struct kcr_mpsc {
    _Alignas(64) _Atomic(struct kcr_node *) head; /* producers exchange here */
    _Atomic uint64_t pushed;                      /* relaxed: depth gauge */
    _Alignas(64) struct kcr_node *tail;           /* consumer only */
    _Atomic uint64_t popped;                      /* written by the consumer */
    struct kcr_node stub;
};

static inline void kcr_mpsc_init(struct kcr_mpsc *q) {
    atomic_init(&q->stub.next, NULL);
    atomic_init(&q->head, &q->stub);
    q->tail = &q->stub;
    atomic_init(&q->pushed, 0);
    atomic_init(&q->popped, 0);
}

static inline void kcr_mpsc_push_node(struct kcr_mpsc *q, struct kcr_node *n) {
    atomic_store_explicit(&n->next, NULL, memory_order_relaxed);
    /* acq_rel: the release publishes n's contents to the consumer that follows
     * prev->next; the acquire orders us after the previous producer */
    struct kcr_node *prev = atomic_exchange_explicit(&q->head, n, memory_order_acq_rel);
    /* release: pairs with the acquire loads of next in kcr_mpsc_pop */
    atomic_store_explicit(&prev->next, n, memory_order_release);
}

static inline void kcr_mpsc_push(struct kcr_mpsc *q, struct kcr_node *n) {
    atomic_fetch_add_explicit(&q->pushed, 1, memory_order_relaxed);
    kcr_mpsc_push_node(q, n);
}

/* Consumer only. NULL when empty or when a push is half done (check depth). */
static inline struct kcr_node *kcr_mpsc_pop(struct kcr_mpsc *q) {
    struct kcr_node *tail = q->tail;
    /* acquire: pairs with the release store of next in kcr_mpsc_push_node */
    struct kcr_node *next = atomic_load_explicit(&tail->next, memory_order_acquire);
    if (tail == &q->stub) {
        if (!next) return NULL;
        q->tail = next;
        tail = next;
        next = atomic_load_explicit(&tail->next, memory_order_acquire);
    }
    if (next) {
        q->tail = next;
        goto got;
    }
    if (tail != atomic_load_explicit(&q->head, memory_order_acquire)) return NULL; /* in progress */
    kcr_mpsc_push_node(q, &q->stub);
    next = atomic_load_explicit(&tail->next, memory_order_acquire);
    if (!next) return NULL;
    q->tail = next;
got:
    atomic_store_explicit(&q->popped, atomic_load_explicit(&q->popped, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    return tail;
}

static inline uint64_t kcr_mpsc_depth(struct kcr_mpsc *q) {
    uint64_t pop = atomic_load_explicit(&q->popped, memory_order_relaxed);
    uint64_t push = atomic_load_explicit(&q->pushed, memory_order_relaxed);
    return push > pop ? push - pop : 0;
}

#endif
