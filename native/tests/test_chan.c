/* Channels: try-ops and EAGAIN, close and EPIPE after drain, rendezvous
 * hand-off, many producers and consumers on a small buffer, zero-copy
 * ownership, blocked ops suspending the coroutine (not the worker), and the
 * counter identities recvs == sends, bytes == sends × size. */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "kcr.h"
#include "kt.h"

static kcr_chan *chan(uint32_t cap, uint32_t size, int ptr) {
    struct kcr_chan_config c;
    memset(&c, 0, sizeof c);
    c.capacity = cap;
    c.elem_size = size;
    c.ptr_mode = ptr;
    c.spin = 16;
    c.total_slots = 2;
    kcr_chan *ch = kcr_chan_create(&c);
    CHECK(ch != NULL);
    return ch;
}

static kcr_pool *pool(uint32_t workers) {
    struct kcr_pool_config c;
    memset(&c, 0, sizeof c);
    c.name = "chan";
    c.workers = workers;
    c.total_slots = 2;
    kcr_pool *p = kcr_pool_create(&c);
    CHECK(p != NULL);
    return p;
}

static void try_ops_and_close_from_a_thread(void) {
    kcr_chan *ch = chan(4, 8, 0);
    uint64_t v = 0;
    CHECK_EQ(kcr_chan_try_recv(ch, &v), EAGAIN);
    for (uint64_t i = 1; i <= 4; i++) CHECK_EQ(kcr_chan_try_send(ch, &i), 0);
    uint64_t five = 5;
    CHECK_EQ(kcr_chan_try_send(ch, &five), EAGAIN);
    CHECK_EQ(kcr_chan_recv(ch, &v), 0);
    CHECK_EQ(v, 1);
    CHECK_EQ(kcr_chan_close(ch), 0);
    CHECK_EQ(kcr_chan_close(ch), EPIPE);
    CHECK_EQ(kcr_chan_send(ch, &five), EPIPE);
    for (uint64_t i = 2; i <= 4; i++) { /* drained after close */
        CHECK_EQ(kcr_chan_recv(ch, &v), 0);
        CHECK_EQ(v, i);
    }
    CHECK_EQ(kcr_chan_recv(ch, &v), EPIPE);
    CHECK_EQ(kcr_chan_try_recv(ch, &v), EPIPE);
    struct kcr_chan_stats s;
    kcr_chan_stats(ch, &s);
    CHECK_EQ(s.sends, 4);
    CHECK_EQ(s.recvs, 4);
    CHECK_EQ(s.bytes_sent, 32);
    CHECK_EQ(s.send_eagain, 1);
    CHECK_EQ(s.recv_eagain, 1);
    CHECK_EQ(s.send_epipe, 1);
    CHECK_EQ(s.recv_epipe, 2);
    CHECK_EQ(s.flags & KCR_CHAN_FLAG_CLOSED, KCR_CHAN_FLAG_CLOSED);
    CHECK_EQ(s.kind, KCR_CHAN_BUFFERED);
    CHECK_EQ(kcr_chan_send_ptr(ch, &v), EINVAL); /* copy channel: no pointer ops */
    kcr_chan_destroy(ch);
}

struct pc {
    kcr_chan *ch;
    kcr_wg *wg;
    uint64_t n;
    _Atomic uint64_t *sum;
    _Atomic int *live_senders;
};

static void send_n(void *arg) {
    struct pc *a = (struct pc *)arg;
    for (uint64_t i = 1; i <= a->n; i++) {
        uint64_t buf[2] = {i, ~i};
        CHECK_EQ(kcr_chan_send(a->ch, buf), 0);
    }
    if (atomic_fetch_sub(a->live_senders, 1) == 1) kcr_chan_close(a->ch);
    kcr_wg_done(a->wg);
}

static void recv_all(void *arg) {
    struct pc *a = (struct pc *)arg;
    uint64_t buf[2], local = 0;
    while (kcr_chan_recv(a->ch, buf) == 0) {
        CHECK_EQ(buf[1], ~buf[0]); /* the element arrived whole */
        local += buf[0];
    }
    atomic_fetch_add(a->sum, local);
    kcr_wg_done(a->wg);
}

static void many_producers_and_consumers(uint32_t cap) {
    kcr_pool *p = pool(2);
    kcr_chan *ch = chan(cap, 16, 0);
    kcr_wg wg;
    _Atomic uint64_t sum = 0;
    _Atomic int live = 4;
    kcr_wg_init(&wg, 7);
    struct pc a = {ch, &wg, 5000, &sum, &live};
    for (int i = 0; i < 3; i++) CHECK(kcr_spawn(p, recv_all, &a) == 0);
    for (int i = 0; i < 4; i++) CHECK(kcr_spawn(p, send_n, &a) == 0);
    kcr_wg_wait(&wg);
    kcr_pool_shutdown(p);
    CHECK_EQ(atomic_load(&sum), 4 * (5000ull * 5001 / 2));
    struct kcr_chan_stats s;
    kcr_chan_stats(ch, &s);
    CHECK_EQ(s.sends, 20000);
    CHECK_EQ(s.recvs, s.sends);
    CHECK_EQ(s.bytes_recv, s.sends * 16);
    CHECK_EQ(s.bytes_sent, s.sends * 16);
    CHECK_EQ(s.recv_epipe, 3);
    if (cap == 0) CHECK(s.rv_matches == s.sends);
    kcr_pool_destroy(p);
    kcr_chan_destroy(ch);
}
static void buffered_many_to_many(void) { many_producers_and_consumers(4); }
static void rendezvous_many_to_many(void) { many_producers_and_consumers(0); }

struct zc {
    kcr_chan *ch;
    kcr_wg *wg;
    _Atomic uint64_t *freed;
};
static void zc_send(void *arg) {
    struct zc *z = (struct zc *)arg;
    for (int i = 0; i < 3000; i++) {
        uint64_t *pkt = (uint64_t *)malloc(64);
        CHECK(pkt);
        pkt[0] = (uint64_t)i;
        CHECK_EQ(kcr_chan_send_ptr(z->ch, pkt), 0); /* ownership moves to the receiver */
    }
    kcr_chan_close(z->ch);
    kcr_wg_done(z->wg);
}
static void zc_recv(void *arg) {
    struct zc *z = (struct zc *)arg;
    void *p;
    uint64_t expect = 0;
    while (kcr_chan_recv_ptr(z->ch, &p) == 0) {
        CHECK_EQ(((uint64_t *)p)[0], expect++); /* one producer: FIFO */
        free(p); /* the receiver owns it: ASan reports a double free or a leak otherwise */
        atomic_fetch_add(z->freed, 1);
    }
    kcr_wg_done(z->wg);
}

static void zero_copy_hands_off_ownership(void) {
    for (uint32_t cap = 0; cap <= 8; cap += 8) {
        kcr_pool *p = pool(2);
        kcr_chan *ch = chan(cap, 64, 1);
        kcr_wg wg;
        _Atomic uint64_t freed = 0;
        kcr_wg_init(&wg, 2);
        struct zc z = {ch, &wg, &freed};
        kcr_spawn(p, zc_recv, &z);
        kcr_spawn(p, zc_send, &z);
        kcr_wg_wait(&wg);
        kcr_pool_shutdown(p);
        /* after close a pointer send fails and the sender keeps the packet */
        void *mine = malloc(64);
        CHECK_EQ(kcr_chan_try_send_ptr(ch, mine), EPIPE);
        free(mine);
        struct kcr_chan_stats s;
        kcr_chan_stats(ch, &s);
        CHECK_EQ(atomic_load(&freed), 3000);
        CHECK_EQ(s.zc_sent, s.sends);
        CHECK_EQ(s.zc_recv, s.recvs);
        CHECK_EQ(s.recvs, 3000);
        CHECK_EQ(s.zc_aborted, 1);
        CHECK_EQ(s.flags & KCR_CHAN_FLAG_PTR, KCR_CHAN_FLAG_PTR);
        kcr_pool_destroy(p);
        kcr_chan_destroy(ch);
    }
}

/* One worker: if a blocked receive blocked the thread, the sender could never run. */
struct pp {
    kcr_chan *ch;
    kcr_wg *wg;
    _Atomic int *got;
};
static void blocked_receiver(void *arg) {
    struct pp *a = (struct pp *)arg;
    uint32_t v = 0;
    CHECK_EQ(kcr_chan_recv(a->ch, &v), 0);
    atomic_store(a->got, (int)v);
    kcr_wg_done(a->wg);
}
static void late_sender(void *arg) {
    struct pp *a = (struct pp *)arg;
    uint32_t v = 42;
    CHECK_EQ(kcr_chan_send(a->ch, &v), 0);
    kcr_wg_done(a->wg);
}
static void blocked_op_suspends_the_coroutine(void) {
    for (uint32_t cap = 0; cap <= 1; cap++) {
        struct kcr_pool_config c = {.name = "one", .workers = 1, .total_slots = 2};
        kcr_pool *p = kcr_pool_create(&c);
        kcr_chan *ch = chan(cap, 4, 0);
        kcr_wg wg;
        _Atomic int got = 0;
        kcr_wg_init(&wg, 2);
        struct pp a = {ch, &wg, &got};
        kcr_spawn(p, blocked_receiver, &a);
        kcr_spawn(p, late_sender, &a);
        kcr_wg_wait(&wg);
        kcr_pool_shutdown(p);
        CHECK_EQ(atomic_load(&got), 42);
        kcr_pool_destroy(p);
        kcr_chan_destroy(ch);
    }
}

static void waiter_on_close(void *arg) {
    struct pp *a = (struct pp *)arg;
    uint32_t v;
    CHECK_EQ(kcr_chan_recv(a->ch, &v), EPIPE);
    atomic_fetch_add(a->got, 1);
    kcr_wg_done(a->wg);
}
static void close_wakes_blocked_receivers(void) {
    for (uint32_t cap = 0; cap <= 2; cap += 2) {
        kcr_pool *p = pool(2);
        kcr_chan *ch = chan(cap, 4, 0);
        kcr_wg wg;
        _Atomic int got = 0;
        kcr_wg_init(&wg, 3);
        struct pp a = {ch, &wg, &got};
        for (int i = 0; i < 3; i++) kcr_spawn(p, waiter_on_close, &a);
        struct timespec d = {0, 20000000};
        nanosleep(&d, NULL); /* let them block (the test is correct either way) */
        kcr_chan_close(ch);
        kcr_wg_wait(&wg);
        kcr_pool_shutdown(p);
        CHECK_EQ(atomic_load(&got), 3);
        struct kcr_chan_stats s;
        kcr_chan_stats(ch, &s);
        CHECK_EQ(s.recv_epipe, 3);
        if (cap == 0) CHECK(s.rv_cancels <= 3);
        kcr_pool_destroy(p);
        kcr_chan_destroy(ch);
    }
}

int main(void) {
    printf("test_chan\n");
    RUN(try_ops_and_close_from_a_thread);
    RUN(buffered_many_to_many);
    RUN(rendezvous_many_to_many);
    RUN(zero_copy_hands_off_ownership);
    RUN(blocked_op_suspends_the_coroutine);
    RUN(close_wakes_blocked_receivers);
    return 0;
}
