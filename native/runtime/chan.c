/*
 * chan.c — channels: rendezvous and buffered, copy and pointer (zero-copy) mode.
 *
 * Buffered channels keep elements in a bounded MPMC ring (Vyukov): each cell
 * has a sequence number; a sender claims enq_pos with a CAS, writes the cell
 * and publishes it by storing seq = pos + 1; a receiver claims deq_pos, reads
 * and frees the cell with seq = pos + ncells. The fast path takes no lock.
 *
 * Blocking is the slow path, under the channel's spinlock: a sender that finds
 * the ring full (after `spin` polls) bumps send_waiters, re-checks, queues a
 * waiter and suspends (the lock is released by the scheduler once the
 * coroutine is switched out). A receiver that frees a cell loads send_waiters
 * and, when non-zero, wakes one; the woken sender retries. Symmetric for
 * receivers. The publishing cell store and the waiter-count increment are
 * both seq_cst, and each side re-reads the other's variable after its own
 * (a Dekker pair): a wake-up cannot be lost.
 *
 * Rendezvous channels are the lock and the two waiter queues only: an
 * operation that finds a partner waiting copies the element (or the pointer)
 * directly to or from the partner's buffer and wakes it; otherwise it waits.
 *
 * Close takes the lock, sets `closed` and wakes every waiter. Buffered
 * receivers drain what is left, then get EPIPE; rendezvous waiters fail with
 * EPIPE (counted as rv_cancels). Sends racing with close may land either way;
 * close after the last sender is done for exact counts.
 *
 * Counters are per worker slot (a worker writes only its own slot, relaxed);
 * operations from other threads use one shared slot with atomic adds.
 * A message is counted as sent before its receiver can see it (buffered: in
 * ring_push before the publishing store; rendezvous: by whichever side
 * completes the match, before the partner is woken), and a receive is counted
 * with a release store; kcr_chan_stats loads recvs with acquire, then the
 * send side. So a snapshot never shows recvs > sends (the
 * self-test's 40M-message run caught one that did).
 */
#include <stdlib.h>
#include <string.h>

#include "kcr_internal.h"

enum {
    C_SENDS,
    C_RECVS,
    C_BYTES_SENT,
    C_BYTES_RECV,
    C_SEND_EAGAIN,
    C_RECV_EAGAIN,
    C_SEND_EPIPE,
    C_RECV_EPIPE,
    C_SEND_TIMEOUTS,
    C_RECV_TIMEOUTS,
    C_ZC_SENT,
    C_ZC_RECV,
    C_ZC_ABORTED,
    C_RV_MATCHES,
    C_RV_CANCELS,
    C_NCOUNTERS
};

struct kcr_chan_ctr {
    _Alignas(KCR_CACHE_LINE) _Atomic uint64_t v[16];
};

struct kcr_cell {
    _Atomic uint64_t seq;
    /* data follows (data_size bytes, 8-aligned) */
};

struct kcr_chan {
    struct kcr_chan_config cfg;
    /* relaxed: polls before a blocked op suspends; cfg.spin at create, then
     * kcr_chan_set_spin (a live knob); nothing is published with it */
    _Atomic uint32_t spin;
    uint32_t kind;
    uint32_t data_size; /* bytes stored per element: elem_size, or a pointer */
    size_t stride;
    uint64_t ncells;
    uint64_t mask; /* ncells - 1 when a power of two, else 0 */
    uint8_t *cells;
    struct kcr_chan_ctr *ctr;
    uint32_t nslots; /* worker slots; slot nslots is the shared one */
    _Alignas(KCR_CACHE_LINE) _Atomic uint64_t enq_pos;
    _Alignas(KCR_CACHE_LINE) _Atomic uint64_t deq_pos;
    _Alignas(KCR_CACHE_LINE) _Atomic uint32_t send_waiters;
    _Atomic uint32_t recv_waiters;
    _Atomic uint32_t closed;
    _Alignas(KCR_CACHE_LINE) _Atomic uint32_t lock;
    struct kcr_waiter *sq_head, *sq_tail, *rq_head, *rq_tail;
};

/* ------------------------------------------------------------- counters */

/* The calling worker's counter slot, or NULL for the shared slot. Looked up
 * once per completed operation (a coroutine may migrate while it waits). */
static struct kcr_chan_ctr *my_slot(kcr_chan *ch) {
    struct kcr_worker *w = kcr__self();
    if (!w) return NULL;
    /* the coroutine view: a completed channel operation is a call into the runtime, so a
     * coroutine that makes them is not holding its worker idle of the runtime (view.c) */
    if (w->view && w->current) KCR_INC(w->current->v.ops, 1);
    return w->gid < ch->nslots ? &ch->ctr[w->gid] : NULL;
}

static void ctr_add_slot(kcr_chan *ch, struct kcr_chan_ctr *slot, int i, uint64_t d) {
    if (slot)
        KCR_INC(slot->v[i], d); /* owner-only slot */
    else
        atomic_fetch_add_explicit(&ch->ctr[ch->nslots].v[i], d, memory_order_relaxed);
}

static void ctr_add(kcr_chan *ch, int i, uint64_t d) { ctr_add_slot(ch, my_slot(ch), i, d); }

/* A waiter for ch, named for the coroutine view (kind and id). */
static void chan_waiter(kcr_chan *ch, struct kcr_waiter *w) {
    kcr__waiter_init(w);
    w->kind = KCR_WAIT_CHANNEL;
    w->id = (int32_t)ch->cfg.id;
}

static int sent_ok(kcr_chan *ch) {
    struct kcr_chan_ctr *slot = my_slot(ch);
    ctr_add_slot(ch, slot, C_SENDS, 1);
    ctr_add_slot(ch, slot, C_BYTES_SENT, ch->cfg.elem_size);
    if (ch->cfg.ptr_mode) ctr_add_slot(ch, slot, C_ZC_SENT, 1);
    return 0;
}
static int recv_ok(kcr_chan *ch) {
    struct kcr_chan_ctr *slot = my_slot(ch);
    if (slot) /* release: pairs with the acquire load in kcr_chan_stats (the send was counted first) */
        atomic_store_explicit(&slot->v[C_RECVS], KCR_LOAD(slot->v[C_RECVS]) + 1, memory_order_release);
    else
        atomic_fetch_add_explicit(&ch->ctr[ch->nslots].v[C_RECVS], 1, memory_order_release);
    ctr_add_slot(ch, slot, C_BYTES_RECV, ch->cfg.elem_size);
    if (ch->cfg.ptr_mode) ctr_add_slot(ch, slot, C_ZC_RECV, 1);
    return 0;
}
static int send_fail(kcr_chan *ch, int err) {
    ctr_add(ch, err == EPIPE ? C_SEND_EPIPE : C_SEND_EAGAIN, 1);
    if (ch->cfg.ptr_mode) ctr_add(ch, C_ZC_ABORTED, 1); /* ownership stays with the sender */
    return err;
}
static int recv_fail(kcr_chan *ch, int err) {
    ctr_add(ch, err == EPIPE ? C_RECV_EPIPE : C_RECV_EAGAIN, 1);
    return err;
}

/* ----------------------------------------------------------------- ring */

static inline struct kcr_cell *cell_at(kcr_chan *ch, uint64_t pos) {
    uint64_t i = ch->mask ? (pos & ch->mask) : (pos % ch->ncells);
    return (struct kcr_cell *)(ch->cells + i * ch->stride);
}

static int ring_push(kcr_chan *ch, const void *src) {
    uint64_t pos = atomic_load_explicit(&ch->enq_pos, memory_order_relaxed);
    struct kcr_cell *c;
    for (;;) {
        c = cell_at(ch, pos);
        /* acquire: pairs with the receiver's seq_cst exchange freeing the cell */
        uint64_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
        int64_t dif = (int64_t)(seq - pos);
        if (dif == 0) {
            if (atomic_compare_exchange_weak_explicit(&ch->enq_pos, &pos, pos + 1, memory_order_relaxed,
                                                      memory_order_relaxed))
                break;
        } else if (dif < 0) {
            return 0; /* full */
        } else {
            pos = atomic_load_explicit(&ch->enq_pos, memory_order_relaxed);
        }
    }
    if (ch->data_size == sizeof(void *))
        memcpy((uint8_t *)(c + 1), src, sizeof(void *)); /* pointer mode: one store, no call */
    else
        memcpy((uint8_t *)(c + 1), src, ch->data_size);
    sent_ok(ch); /* before the publish: the receiver counts its receive after it */
    /* seq_cst (release + Dekker): pairs with the acquire in ring_pop and with the
     * seq_cst increment of recv_waiters before a receiver's re-check */
    atomic_exchange_explicit(&c->seq, pos + 1, memory_order_seq_cst);
    return 1;
}

static int ring_pop(kcr_chan *ch, void *dst) {
    uint64_t pos = atomic_load_explicit(&ch->deq_pos, memory_order_relaxed);
    struct kcr_cell *c;
    for (;;) {
        c = cell_at(ch, pos);
        /* acquire: pairs with the sender's seq_cst exchange publishing the cell */
        uint64_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
        int64_t dif = (int64_t)(seq - (pos + 1));
        if (dif == 0) {
            if (atomic_compare_exchange_weak_explicit(&ch->deq_pos, &pos, pos + 1, memory_order_relaxed,
                                                      memory_order_relaxed))
                break;
        } else if (dif < 0) {
            return 0; /* empty */
        } else {
            pos = atomic_load_explicit(&ch->deq_pos, memory_order_relaxed);
        }
    }
    if (ch->data_size == sizeof(void *))
        memcpy(dst, (uint8_t *)(c + 1), sizeof(void *));
    else
        memcpy(dst, (uint8_t *)(c + 1), ch->data_size);
    /* seq_cst (release + Dekker): pairs with the acquire in ring_push and with the
     * seq_cst increment of send_waiters before a sender's re-check */
    atomic_exchange_explicit(&c->seq, pos + ch->ncells, memory_order_seq_cst);
    return 1;
}

/* seq_cst loads: the re-check half of the Dekker pairs above */
static int ring_can_push(kcr_chan *ch) {
    uint64_t pos = atomic_load_explicit(&ch->enq_pos, memory_order_seq_cst);
    uint64_t seq = atomic_load_explicit(&cell_at(ch, pos)->seq, memory_order_seq_cst);
    return (int64_t)(seq - pos) >= 0;
}
static int ring_can_pop(kcr_chan *ch) {
    uint64_t pos = atomic_load_explicit(&ch->deq_pos, memory_order_seq_cst);
    uint64_t seq = atomic_load_explicit(&cell_at(ch, pos)->seq, memory_order_seq_cst);
    return (int64_t)(seq - (pos + 1)) >= 0;
}

/* --------------------------------------------------------------- waiters */

static void q_push(struct kcr_waiter **head, struct kcr_waiter **tail, struct kcr_waiter *w) {
    w->next = NULL;
    if (*tail)
        (*tail)->next = w;
    else
        *head = w;
    *tail = w;
}
static struct kcr_waiter *q_pop(struct kcr_waiter **head, struct kcr_waiter **tail) {
    struct kcr_waiter *w = *head;
    if (w) {
        *head = w->next;
        if (!*head) *tail = NULL;
    }
    return w;
}

static void wake_one(kcr_chan *ch, int receivers) {
    kcr_spin_lock(&ch->lock);
    struct kcr_waiter *w = receivers ? q_pop(&ch->rq_head, &ch->rq_tail) : q_pop(&ch->sq_head, &ch->sq_tail);
    if (w) atomic_fetch_sub_explicit(receivers ? &ch->recv_waiters : &ch->send_waiters, 1, memory_order_relaxed);
    kcr_spin_unlock(&ch->lock);
    if (w) kcr__waiter_wake(w);
}

/* ------------------------------------------------------------- buffered */

static int buf_send(kcr_chan *ch, const void *src, int try_only) {
    for (;;) {
        /* acquire: pairs with the release in kcr_chan_close */
        if (atomic_load_explicit(&ch->closed, memory_order_acquire)) return send_fail(ch, EPIPE);
        if (ring_push(ch, src)) { /* counted in ring_push */
            if (atomic_load_explicit(&ch->recv_waiters, memory_order_seq_cst)) wake_one(ch, 1);
            return 0;
        }
        if (try_only) return send_fail(ch, EAGAIN);
        for (uint32_t i = atomic_load_explicit(&ch->spin, memory_order_relaxed); i && !ring_can_push(ch); i--) kcr_cpu_relax();
        if (ring_can_push(ch)) continue;
        kcr_spin_lock(&ch->lock);
        /* seq_cst: Dekker with the receiver's freeing exchange, see top of file */
        atomic_fetch_add_explicit(&ch->send_waiters, 1, memory_order_seq_cst);
        if (atomic_load_explicit(&ch->closed, memory_order_relaxed) || ring_can_push(ch)) {
            atomic_fetch_sub_explicit(&ch->send_waiters, 1, memory_order_relaxed);
            kcr_spin_unlock(&ch->lock);
            continue;
        }
        struct kcr_waiter w;
        chan_waiter(ch, &w);
        q_push(&ch->sq_head, &ch->sq_tail, &w);
        kcr__waiter_park(&w, &ch->lock);
    }
}

static int buf_recv(kcr_chan *ch, void *dst, int try_only) {
    for (;;) {
        if (ring_pop(ch, dst)) {
            recv_ok(ch);
            if (atomic_load_explicit(&ch->send_waiters, memory_order_seq_cst)) wake_one(ch, 0);
            return 0;
        }
        /* acquire: pairs with the release in kcr_chan_close; then drain once more */
        if (atomic_load_explicit(&ch->closed, memory_order_acquire)) {
            if (ring_pop(ch, dst)) return recv_ok(ch);
            return recv_fail(ch, EPIPE);
        }
        if (try_only) return recv_fail(ch, EAGAIN);
        for (uint32_t i = atomic_load_explicit(&ch->spin, memory_order_relaxed); i && !ring_can_pop(ch); i--) kcr_cpu_relax();
        if (ring_can_pop(ch)) continue;
        kcr_spin_lock(&ch->lock);
        /* seq_cst: Dekker with the sender's publishing exchange */
        atomic_fetch_add_explicit(&ch->recv_waiters, 1, memory_order_seq_cst);
        if (atomic_load_explicit(&ch->closed, memory_order_relaxed) || ring_can_pop(ch)) {
            atomic_fetch_sub_explicit(&ch->recv_waiters, 1, memory_order_relaxed);
            kcr_spin_unlock(&ch->lock);
            continue;
        }
        struct kcr_waiter w;
        chan_waiter(ch, &w);
        q_push(&ch->rq_head, &ch->rq_tail, &w);
        kcr__waiter_park(&w, &ch->lock);
    }
}

/* ------------------------------------------------------------ rendezvous */

static int rv_send(kcr_chan *ch, const void *src, int try_only) {
    kcr_spin_lock(&ch->lock);
    if (atomic_load_explicit(&ch->closed, memory_order_relaxed)) {
        kcr_spin_unlock(&ch->lock);
        return send_fail(ch, EPIPE);
    }
    struct kcr_waiter *r = q_pop(&ch->rq_head, &ch->rq_tail);
    if (r) {
        atomic_fetch_sub_explicit(&ch->recv_waiters, 1, memory_order_relaxed);
        memcpy(r->buf, src, ch->data_size);
        sent_ok(ch); /* before the receiver can run and count its receive */
        r->result = 0;
        kcr_spin_unlock(&ch->lock);
        kcr__waiter_wake(r);
        ctr_add(ch, C_RV_MATCHES, 1);
        return 0;
    }
    if (try_only) {
        kcr_spin_unlock(&ch->lock);
        return send_fail(ch, EAGAIN);
    }
    struct kcr_waiter w;
    chan_waiter(ch, &w);
    w.buf = (void *)(uintptr_t)src;
    w.result = EPIPE;
    atomic_fetch_add_explicit(&ch->send_waiters, 1, memory_order_relaxed);
    q_push(&ch->sq_head, &ch->sq_tail, &w);
    kcr__waiter_park(&w, &ch->lock);
    if (w.result == 0) return 0; /* counted by the receiver that matched us (rv_recv) */
    ctr_add(ch, C_RV_CANCELS, 1);
    return send_fail(ch, EPIPE);
}

static int rv_recv(kcr_chan *ch, void *dst, int try_only) {
    kcr_spin_lock(&ch->lock);
    struct kcr_waiter *s = q_pop(&ch->sq_head, &ch->sq_tail);
    if (s) {
        atomic_fetch_sub_explicit(&ch->send_waiters, 1, memory_order_relaxed);
        memcpy(dst, s->buf, ch->data_size);
        sent_ok(ch); /* the parked sender's send, counted here (this slot) before our receive */
        s->result = 0;
        kcr_spin_unlock(&ch->lock);
        kcr__waiter_wake(s);
        ctr_add(ch, C_RV_MATCHES, 1);
        return recv_ok(ch);
    }
    if (atomic_load_explicit(&ch->closed, memory_order_relaxed)) {
        kcr_spin_unlock(&ch->lock);
        return recv_fail(ch, EPIPE);
    }
    if (try_only) {
        kcr_spin_unlock(&ch->lock);
        return recv_fail(ch, EAGAIN);
    }
    struct kcr_waiter w;
    chan_waiter(ch, &w);
    w.buf = dst;
    w.result = EPIPE;
    atomic_fetch_add_explicit(&ch->recv_waiters, 1, memory_order_relaxed);
    q_push(&ch->rq_head, &ch->rq_tail, &w);
    kcr__waiter_park(&w, &ch->lock);
    if (w.result == 0) return recv_ok(ch);
    ctr_add(ch, C_RV_CANCELS, 1);
    return recv_fail(ch, EPIPE);
}

/* ------------------------------------------------------------------ API */

kcr_chan *kcr_chan_create(const struct kcr_chan_config *cfg) {
    if (!cfg || cfg->elem_size == 0) {
        errno = EINVAL;
        return NULL;
    }
    kcr__clock_init();
    kcr_chan *ch = (kcr_chan *)aligned_alloc(KCR_CACHE_LINE, sizeof *ch);
    if (!ch) return NULL;
    memset(ch, 0, sizeof *ch);
    ch->cfg = *cfg;
    atomic_init(&ch->spin, cfg->spin);
    ch->kind = cfg->capacity ? KCR_CHAN_BUFFERED : KCR_CHAN_RENDEZVOUS;
    ch->data_size = cfg->ptr_mode ? (uint32_t)sizeof(void *) : cfg->elem_size;
    ch->nslots = cfg->total_slots;
    ch->ctr = (struct kcr_chan_ctr *)aligned_alloc(KCR_CACHE_LINE, sizeof(struct kcr_chan_ctr) * (ch->nslots + 1));
    if (!ch->ctr) {
        free(ch);
        return NULL;
    }
    memset(ch->ctr, 0, sizeof(struct kcr_chan_ctr) * (ch->nslots + 1));
    if (cfg->capacity) {
        ch->ncells = cfg->capacity;
        ch->mask = (ch->ncells & (ch->ncells - 1)) == 0 ? ch->ncells - 1 : 0;
        if (ch->ncells == 1) ch->mask = 0; /* pos % 1 */
        ch->stride = sizeof(struct kcr_cell) + ((ch->data_size + 7u) & ~(size_t)7u);
        size_t bytes = (ch->stride * ch->ncells + KCR_CACHE_LINE - 1) & ~(size_t)(KCR_CACHE_LINE - 1);
        ch->cells = (uint8_t *)aligned_alloc(KCR_CACHE_LINE, bytes);
        if (!ch->cells) {
            free(ch->ctr);
            free(ch);
            return NULL;
        }
        memset(ch->cells, 0, bytes);
        for (uint64_t i = 0; i < ch->ncells; i++) atomic_init(&cell_at(ch, i)->seq, i);
    }
    return ch;
}

void kcr_chan_destroy(kcr_chan *ch) {
    if (!ch) return;
    free(ch->cells);
    free(ch->ctr);
    free(ch);
}

static int op_send(kcr_chan *ch, const void *src, int try_only) {
    return ch->kind == KCR_CHAN_BUFFERED ? buf_send(ch, src, try_only) : rv_send(ch, src, try_only);
}
static int op_recv(kcr_chan *ch, void *dst, int try_only) {
    return ch->kind == KCR_CHAN_BUFFERED ? buf_recv(ch, dst, try_only) : rv_recv(ch, dst, try_only);
}

int kcr_chan_send(kcr_chan *ch, const void *src) { return ch->cfg.ptr_mode ? EINVAL : op_send(ch, src, 0); }
int kcr_chan_recv(kcr_chan *ch, void *dst) { return ch->cfg.ptr_mode ? EINVAL : op_recv(ch, dst, 0); }
int kcr_chan_try_send(kcr_chan *ch, const void *src) {
    return ch->cfg.ptr_mode ? EINVAL : op_send(ch, src, 1);
}
int kcr_chan_try_recv(kcr_chan *ch, void *dst) { return ch->cfg.ptr_mode ? EINVAL : op_recv(ch, dst, 1); }
int kcr_chan_send_ptr(kcr_chan *ch, void *p) { return ch->cfg.ptr_mode ? op_send(ch, &p, 0) : EINVAL; }
int kcr_chan_recv_ptr(kcr_chan *ch, void **p) { return ch->cfg.ptr_mode ? op_recv(ch, p, 0) : EINVAL; }
int kcr_chan_try_send_ptr(kcr_chan *ch, void *p) { return ch->cfg.ptr_mode ? op_send(ch, &p, 1) : EINVAL; }
int kcr_chan_try_recv_ptr(kcr_chan *ch, void **p) { return ch->cfg.ptr_mode ? op_recv(ch, p, 1) : EINVAL; }

void kcr_chan_set_spin(kcr_chan *ch, uint32_t spin) {
    atomic_store_explicit(&ch->spin, spin, memory_order_relaxed);
}

int kcr_chan_close(kcr_chan *ch) {
    kcr_spin_lock(&ch->lock);
    if (atomic_load_explicit(&ch->closed, memory_order_relaxed)) {
        kcr_spin_unlock(&ch->lock);
        return EPIPE;
    }
    /* release: pairs with the acquire loads of closed in the operations */
    atomic_store_explicit(&ch->closed, 1, memory_order_seq_cst);
    struct kcr_waiter *s = ch->sq_head, *r = ch->rq_head;
    ch->sq_head = ch->sq_tail = ch->rq_head = ch->rq_tail = NULL;
    atomic_store_explicit(&ch->send_waiters, 0, memory_order_relaxed);
    atomic_store_explicit(&ch->recv_waiters, 0, memory_order_relaxed);
    kcr_spin_unlock(&ch->lock);
    /* rendezvous waiters keep result = EPIPE; buffered ones retry and see closed */
    while (s) {
        struct kcr_waiter *next = s->next;
        kcr__waiter_wake(s);
        s = next;
    }
    while (r) {
        struct kcr_waiter *next = r->next;
        kcr__waiter_wake(r);
        r = next;
    }
    return 0;
}

void kcr_chan_stats(kcr_chan *ch, struct kcr_chan_stats *o) {
    memset(o, 0, sizeof *o);
    o->channel = ch->cfg.id;
    o->pool = ch->cfg.pool;
    o->kind = ch->kind;
    o->flags = (atomic_load_explicit(&ch->closed, memory_order_relaxed) ? KCR_CHAN_FLAG_CLOSED : 0u) |
               (ch->cfg.ptr_mode ? KCR_CHAN_FLAG_PTR : 0u);
    o->capacity = ch->cfg.capacity;
    o->elem_size = ch->cfg.elem_size;
    uint64_t sum[C_NCOUNTERS] = {0};
    /* receive-side counters first: a message is sent before it is received,
     * so a snapshot never shows recvs > sends */
    static const int order[C_NCOUNTERS] = {C_RECVS,        C_BYTES_RECV,    C_ZC_RECV,     C_RECV_EAGAIN,
                                           C_RECV_EPIPE,   C_RECV_TIMEOUTS, C_RV_MATCHES,  C_RV_CANCELS,
                                           C_SENDS,        C_BYTES_SENT,    C_ZC_SENT,     C_SEND_EAGAIN,
                                           C_SEND_EPIPE,   C_SEND_TIMEOUTS, C_ZC_ABORTED};
    for (int k = 0; k < C_NCOUNTERS; k++) {
        int i = order[k];
        for (uint32_t s = 0; s <= ch->nslots; s++)
            /* acquire for recvs: pairs with the release in recv_ok; the sends counted
             * before those receives are then visible to the send-side loads below */
            sum[i] += atomic_load_explicit(&ch->ctr[s].v[i], i == C_RECVS ? memory_order_acquire
                                                                          : memory_order_relaxed);
    }
    if (ch->kind == KCR_CHAN_BUFFERED) {
        uint64_t d = atomic_load_explicit(&ch->deq_pos, memory_order_relaxed);
        uint64_t e = atomic_load_explicit(&ch->enq_pos, memory_order_relaxed);
        o->depth = e > d ? e - d : 0;
        if (o->depth > ch->ncells) o->depth = ch->ncells;
    } else {
        o->depth = atomic_load_explicit(&ch->send_waiters, memory_order_relaxed);
    }
    o->sends = sum[C_SENDS];
    o->recvs = sum[C_RECVS];
    o->bytes_sent = sum[C_BYTES_SENT];
    o->bytes_recv = sum[C_BYTES_RECV];
    o->send_eagain = sum[C_SEND_EAGAIN];
    o->recv_eagain = sum[C_RECV_EAGAIN];
    o->send_epipe = sum[C_SEND_EPIPE];
    o->recv_epipe = sum[C_RECV_EPIPE];
    o->send_timeouts = sum[C_SEND_TIMEOUTS];
    o->recv_timeouts = sum[C_RECV_TIMEOUTS];
    o->zc_sent = sum[C_ZC_SENT];
    o->zc_recv = sum[C_ZC_RECV];
    o->zc_aborted = sum[C_ZC_ABORTED];
    o->rv_matches = sum[C_RV_MATCHES];
    o->rv_cancels = sum[C_RV_CANCELS];
}

const char *kcr_chan_name(const kcr_chan *ch) { return ch->cfg.name ? ch->cfg.name : ""; }

/* A waiter's coroutine id: written before the parker's worker released ch->lock
 * (view.c), read here under the same lock. */
static size_t waiter_ids(const struct kcr_waiter *q, uint64_t *ids, size_t max) {
    size_t n = 0;
    for (; q; q = q->next, n++)
        if (n < max) ids[n] = q->coro ? q->coro->v.id : 0;
    return n;
}

void kcr_chan_waiters(kcr_chan *ch, uint64_t *send_ids, size_t *nsend, uint64_t *recv_ids,
                      size_t *nrecv, size_t max) {
    kcr_spin_lock(&ch->lock);
    *nsend = waiter_ids(ch->sq_head, send_ids, max);
    *nrecv = waiter_ids(ch->rq_head, recv_ids, max);
    kcr_spin_unlock(&ch->lock);
}
