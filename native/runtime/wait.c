/*
 * wait.c — waiting: a suspended operation (struct kcr_waiter) and wait groups.
 *
 * A waiter is a coroutine or a plain thread. A coroutine parks through the
 * scheduler (kcr__park_unlock: the object's lock is released only after its
 * context is saved) and is woken by being made ready again; a thread waits on
 * a futex word. Channels (chan.c) queue their blocked operations as waiters
 * too, so every blocking call works in a coroutine and on a plain thread.
 */
#include "kcr_internal.h"

#include <string.h>

/* ------------------------------------------------------------- waiters */

void kcr__waiter_init(struct kcr_waiter *w) {
    memset(w, 0, sizeof *w);
    struct kcr_worker *self = kcr__self();
    w->coro = self ? self->current : NULL;
}

void kcr__waiter_park(struct kcr_waiter *w, _Atomic uint32_t *lock) {
    if (w->coro) {
        if (w->coro->pool->view) kcr__view_wait(w->coro, w->kind, w->id);
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
        if (c->pool->view) kcr__view_woken(c);
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
        w.kind = KCR_WAIT_GROUP;
        w.id = -1;
        w.next = (struct kcr_waiter *)wg->waiters;
        wg->waiters = &w;
        kcr__waiter_park(&w, &wg->lock);
    }
}
