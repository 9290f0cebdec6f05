/* The wake-up protocol (kcoro_stream.h, ABI 1.1) against kcs_reader_wait: a
 * waiting reader is woken promptly by a commit or a close in another thread,
 * no wake-up is lost under a stress loop, data or a closed ring returns at
 * once, kcs_reader_wake ends a wait, and a ring whose producer is older than
 * 1.1 (never wakes) makes the reader sleep the timeout instead.
 *
 * No test sleeps to synchronise: the producer side spins until the reader's
 * `waiting` word is 1, i.e. until the reader is committed to blocking. */
#include "kcs_events.h"

#include <poll.h>
#include <pthread.h>
#include <sched.h>

#include "kt_ring.h"

#define LONG_NS UINT64_C(10000000000) /* 10 s: "forever" for a wait that must be woken */

static kcs_reader *fresh(uint64_t size) { return kt_fresh_ring("wait", size); }

static uint8_t g_out[1 << 16];
static uint32_t g_off[256], g_len[256];
static uint64_t g_seq[256], g_ts[256];
static kcs_read_result g_res;

static int read_all(kcs_reader *r) {
    int n = kcs_reader_read(r, g_out, sizeof g_out, g_off, g_len, g_seq, g_ts, 256, &g_res);
    CHECK(n >= 0);
    return n;
}

static kcs_ring_info info(kcs_reader *r) {
    kcs_ring_info i;
    kcs_reader_info(r, &i);
    return i;
}

/* Spin until the reader has announced it is about to block. */
static void until_waiting(struct kcs_ring *w) {
    /* relaxed: a test probe; the protocol's own fences order the real accesses */
    while (atomic_load_explicit(&w->hdr->waiting, memory_order_relaxed) == 0) sched_yield();
}

struct producer {
    struct kcs_ring w;
    int frames;      /* frames to commit */
    int force_every; /* every n-th frame waits for a blocked reader first (0: never) */
    int close;       /* close instead of committing (frames == 0) */
};

static void *produce(void *arg) {
    struct producer *p = (struct producer *)arg;
    uint8_t payload[24] = {0x90};
    for (int i = 0; i < p->frames; i++) {
        if (p->force_every && i % p->force_every == 0) until_waiting(&p->w);
        memcpy(payload + 8, &i, sizeof i);
        kcs_ring_write(&p->w, payload, (uint32_t)(8 + i % 16));
    }
    if (p->close) {
        if (p->frames == 0) until_waiting(&p->w);
        kcs_ring_close(&p->w);
    }
    return NULL;
}

static void data_or_close_returns_at_once(void) {
    kcs_reader *r = fresh(1 << 16);
    struct kcs_ring w;
    CHECK(kcs_ring_attach(&w, g_path) == 0);
    CHECK_EQ(info(r).producer_wakes, 1);
    CHECK_EQ(info(r).producer_abi_minor, KCS_ABI_MINOR);
    CHECK_EQ(kcs_reader_wait(r, 0), 0); /* zero timeout: a poll */
    uint8_t p[8] = {0};
    CHECK_EQ(kcs_ring_write(&w, p, sizeof p), 1);
    CHECK_EQ(kcs_reader_wait(r, LONG_NS), 1);
    CHECK_EQ(read_all(r), 1);
    kcs_ring_close(&w);
    CHECK_EQ(kcs_reader_wait(r, LONG_NS), 1);
    CHECK_EQ(info(r).waits, 0); /* none of these blocked */
    kcs_reader_close(r);
    unlink(g_path);
}

static void commit_wakes_a_waiting_reader(void) {
    kcs_reader *r = fresh(1 << 16);
    struct producer p = {.frames = 1, .force_every = 1};
    CHECK(kcs_ring_attach(&p.w, g_path) == 0);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, produce, &p) == 0);
    uint64_t t0 = kcs_monotonic_ns();
    CHECK_EQ(kcs_reader_wait(r, LONG_NS), 1);
    uint64_t waited = kcs_monotonic_ns() - t0;
    CHECK(waited < LONG_NS / 2); /* woken, not timed out */
    pthread_join(th, NULL);
    kcs_ring_info i = info(r);
    CHECK_EQ(i.waits, 1);
    CHECK_EQ(i.wait_timeouts, 0);
    CHECK_EQ(read_all(r), 1);
    kcs_ring_close(&p.w);
    kcs_reader_close(r);
    unlink(g_path);
}

static void close_wakes_a_waiting_reader(void) {
    kcs_reader *r = fresh(1 << 16);
    struct producer p = {.frames = 0, .close = 1};
    CHECK(kcs_ring_attach(&p.w, g_path) == 0);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, produce, &p) == 0);
    uint64_t t0 = kcs_monotonic_ns();
    CHECK_EQ(kcs_reader_wait(r, LONG_NS), 1);
    CHECK(kcs_monotonic_ns() - t0 < LONG_NS / 2);
    pthread_join(th, NULL);
    CHECK_EQ(read_all(r), 0);
    CHECK_EQ(g_res.closed, 1);
    kcs_reader_close(r);
    unlink(g_path);
}

/* Many commits racing with the reader entering and leaving its wait: every
 * wait must end because of data or the close, never by the (long) timeout. */
static void no_lost_wakeup_under_stress(void) {
    enum { FRAMES = 20000 };
    kcs_reader *r = fresh(1 << 20);
    struct producer p = {.frames = FRAMES, .force_every = 3, .close = 1};
    CHECK(kcs_ring_attach(&p.w, g_path) == 0);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, produce, &p) == 0);
    uint64_t got = 0, gaps = 0;
    for (;;) {
        int ready = kcs_reader_wait(r, LONG_NS);
        CHECK_EQ(ready, 1); /* a lost wake-up shows up as a 10 s timeout */
        got += (uint64_t)read_all(r);
        for (uint32_t k = 0; k < g_res.nlosses; k++) gaps += g_res.losses[k].frames;
        if (g_res.closed) break;
    }
    pthread_join(th, NULL);
    kcs_ring_info i = info(r);
    CHECK_EQ(got + gaps, FRAMES);
    CHECK_EQ(got + i.frames_dropped, FRAMES);
    CHECK_EQ(i.wait_timeouts, 0);
    CHECK(i.waits >= FRAMES / 3); /* the blocking path really ran */
    CHECK(i.wakeups > 0 && i.wakeups <= i.waits);
    printf("    %llu waits, %llu woken by the producer, %llu frames\n", (unsigned long long)i.waits,
           (unsigned long long)i.wakeups, (unsigned long long)got);
    kcs_reader_close(r);
    unlink(g_path);
}

struct waker {
    kcs_reader *r;
    struct kcs_ring w;
};

static void *wake_it(void *arg) {
    struct waker *k = (struct waker *)arg;
    until_waiting(&k->w);
    kcs_reader_wake(k->r);
    return NULL;
}

static void reader_wake_ends_a_wait(void) {
    struct waker k = {.r = fresh(1 << 16)};
    CHECK(kcs_ring_attach(&k.w, g_path) == 0);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, wake_it, &k) == 0);
    uint64_t t0 = kcs_monotonic_ns();
    CHECK_EQ(kcs_reader_wait(k.r, LONG_NS), 0); /* nothing new: 0, but promptly */
    CHECK(kcs_monotonic_ns() - t0 < LONG_NS / 2);
    pthread_join(th, NULL);
    kcs_ring_close(&k.w);
    kcs_reader_close(k.r);
    unlink(g_path);
}

/* A ring made and fed by a producer older than 1.1: its minor is 0 and it
 * never stamps producer_abi_minor, so the reader must not count on a wake. */
static void old_minor_ring_sleeps_the_timeout(void) {
    kcs_reader *r = fresh(1 << 16);
    struct kcs_ring w;
    CHECK(kcs_ring_attach(&w, g_path) == 0);
    w.hdr->abi_minor = 0;
    atomic_store(&w.hdr->producer_abi_minor, 0); /* what a 1.0 producer leaves there */
    CHECK_EQ(info(r).producer_wakes, 0);
    const uint64_t timeout = 50000000; /* 50 ms */
    uint64_t t0 = kcs_monotonic_ns();
    CHECK_EQ(kcs_reader_wait(r, timeout), 0);
    CHECK(kcs_monotonic_ns() - t0 >= timeout);
    CHECK_EQ(atomic_load(&w.hdr->waiting), 0); /* the futex word was left alone */
    uint8_t p[8] = {0};
    CHECK_EQ(kcs_ring_write(&w, p, sizeof p), 1);
    CHECK_EQ(kcs_reader_wait(r, timeout), 1); /* data is still seen at once */
    kcs_ring_info i = info(r);
    CHECK_EQ(i.waits, 1);
    CHECK_EQ(i.wait_timeouts, 1);
    CHECK_EQ(i.wakeups, 0);
    kcs_ring_close(&w);
    kcs_reader_close(r);
    unlink(g_path);
}

static void layout_of_the_new_fields(void) {
    kcs_ring_layout l;
    kcs_layout(&l);
    CHECK_EQ(l.producer_abi_minor, 1 * KCS_CACHE_LINE + 56); /* producer's line */
    CHECK_EQ(l.waiting, 2 * KCS_CACHE_LINE + 12);            /* consumer's line */
    CHECK_EQ(l.read_pos, 2 * KCS_CACHE_LINE);                /* existing fields unmoved */
    CHECK_EQ(l.write_pos, 1 * KCS_CACHE_LINE);
}

/* Wait for the notifier's eventfd to become readable (poll), at most ms. */
static int readable_within(int fd, int ms) {
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int n = poll(&pfd, 1, ms);
    if (n == 1) {
        uint64_t v;
        CHECK(read(fd, &v, sizeof v) == (ssize_t)sizeof v);
    }
    return n == 1;
}

/* The notifier turns each armed wait into an eventfd event: a commit in
 * another thread makes it readable promptly; an unarmed notifier stays
 * quiet; a timeout is an event too; close stops and joins the thread. */
static void notifier_turns_waits_into_an_eventfd(void) {
    kcs_reader *r = fresh(1 << 16);
    int fd = kcs_reader_notifier_start(r);
    CHECK(fd >= 0);
    CHECK_EQ(kcs_reader_notifier_start(r), fd); /* idempotent */
    struct producer p = {.frames = 1, .force_every = 1};
    CHECK(kcs_ring_attach(&p.w, g_path) == 0);
    CHECK(!readable_within(fd, 50)); /* not armed: nothing */
    pthread_t th;
    CHECK(pthread_create(&th, NULL, produce, &p) == 0);
    kcs_reader_arm(r, LONG_NS);
    CHECK(readable_within(fd, 5000)); /* woken by the commit, not the 10 s timeout */
    pthread_join(th, NULL);
    CHECK_EQ(read_all(r), 1);
    kcs_reader_arm(r, 20000000); /* 20 ms, nothing comes: the timeout ends the wait */
    CHECK(readable_within(fd, 5000));
    CHECK_EQ(info(r).wait_timeouts, 1);
    kcs_reader_arm(r, LONG_NS); /* armed at close: close must still return at once */
    uint64_t t0 = kcs_monotonic_ns();
    kcs_ring_close(&p.w);
    kcs_reader_close(r);
    CHECK(kcs_monotonic_ns() - t0 < LONG_NS / 2);
    unlink(g_path);
}

/* Stopping the notifier while it finishes a wait: the ring is closed, so every
 * armed wait returns at once and races the stop. A stop lost to that race
 * (the notifier went back to sleep) would hang here in pthread_join. */
static void stop_races_a_finishing_wait(void) {
    kcs_reader *r = fresh(1 << 16);
    struct kcs_ring w;
    CHECK(kcs_ring_attach(&w, g_path) == 0);
    kcs_ring_close(&w);
    for (int i = 0; i < 20000; i++) {
        CHECK(kcs_reader_notifier_start(r) >= 0);
        kcs_reader_arm(r, LONG_NS);
        for (int spin = 0; spin < i % 64; spin++) sched_yield();
        kcs_reader_notifier_stop(r);
    }
    kcs_reader_close(r);
    unlink(g_path);
}

/* A producer committing one frame every `gap_ns` (no synchronisation with the reader). */
struct paced {
    struct kcs_ring w;
    int frames;
    uint64_t gap_ns;
};

static void *produce_paced(void *arg) {
    struct paced *p = (struct paced *)arg;
    uint8_t payload[24] = {0x90};
    for (int i = 0; i < p->frames; i++) {
        kcs_ring_write(&p->w, payload, sizeof payload);
        struct timespec ts = {0, (long)p->gap_ns};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

/* With a hold, one wait collects the frames committed during the hold. */
static void hold_collects_many_frames_per_wake(void) {
    kcs_reader *r = fresh(1 << 16);
    struct paced p = {.frames = 40, .gap_ns = 1000000}; /* 1 frame per ms */
    CHECK(kcs_ring_attach(&p.w, g_path) == 0);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, produce_paced, &p) == 0);
    uint64_t t0 = kcs_monotonic_ns();
    CHECK_EQ(kcs_reader_wait_batch(r, LONG_NS, 20000000, UINT64_MAX), 1); /* hold 20 ms */
    CHECK(kcs_monotonic_ns() - t0 >= 20000000);
    CHECK(kcs_monotonic_ns() - t0 < LONG_NS / 2);
    CHECK(read_all(r) > 2); /* several frames for one wake-up */
    pthread_join(th, NULL);
    kcs_ring_close(&p.w);
    kcs_reader_close(r);
    unlink(g_path);
}

/* A filling ring ends the hold at the watermark: the 10 s hold is not waited out. */
static void watermark_ends_the_hold(void) {
    kcs_reader *r = fresh(1 << 16);
    struct paced p = {.frames = 200, .gap_ns = 100000}; /* 40 B frames, 0.1 ms apart */
    CHECK(kcs_ring_attach(&p.w, g_path) == 0);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, produce_paced, &p) == 0);
    uint64_t t0 = kcs_monotonic_ns();
    CHECK_EQ(kcs_reader_wait_batch(r, LONG_NS, LONG_NS, 2000), 1);
    CHECK(kcs_monotonic_ns() - t0 < LONG_NS / 2);
    kcs_ring_info i = info(r);
    CHECK(i.write_pos - i.read_pos >= 2000);
    pthread_join(th, NULL);
    kcs_ring_close(&p.w);
    kcs_reader_close(r);
    unlink(g_path);
}

/* kcs_reader_wake and a close end a hold at once, with the data there. */
static void wake_and_close_end_a_hold(void) {
    struct waker k = {.r = fresh(1 << 16)};
    CHECK(kcs_ring_attach(&k.w, g_path) == 0);
    uint8_t one[8] = {0x90};
    CHECK_EQ(kcs_ring_write(&k.w, one, sizeof one), 1);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, wake_it, &k) == 0);
    uint64_t t0 = kcs_monotonic_ns();
    CHECK_EQ(kcs_reader_wait_batch(k.r, LONG_NS, LONG_NS, UINT64_MAX), 1);
    CHECK(kcs_monotonic_ns() - t0 < LONG_NS / 2);
    pthread_join(th, NULL);
    CHECK_EQ(read_all(k.r), 1);
    kcs_ring_close(&k.w);
    kcs_reader_close(k.r);
    unlink(g_path);

    kcs_reader *r = fresh(1 << 16); /* a close during the hold */
    struct producer p = {.frames = 0, .close = 1};
    CHECK(kcs_ring_attach(&p.w, g_path) == 0);
    CHECK_EQ(kcs_ring_write(&p.w, one, sizeof one), 1);
    CHECK(pthread_create(&th, NULL, produce, &p) == 0);
    t0 = kcs_monotonic_ns();
    CHECK_EQ(kcs_reader_wait_batch(r, LONG_NS, LONG_NS, UINT64_MAX), 1);
    CHECK(kcs_monotonic_ns() - t0 < LONG_NS / 2);
    pthread_join(th, NULL);
    kcs_reader_close(r);
    unlink(g_path);
}

int main(void) {
    printf("test_wait\n");
    RUN(data_or_close_returns_at_once);
    RUN(commit_wakes_a_waiting_reader);
    RUN(close_wakes_a_waiting_reader);
    RUN(no_lost_wakeup_under_stress);
    RUN(reader_wake_ends_a_wait);
    RUN(old_minor_ring_sleeps_the_timeout);
    RUN(layout_of_the_new_fields);
    RUN(notifier_turns_waits_into_an_eventfd);
    RUN(stop_races_a_finishing_wait);
    RUN(hold_collects_many_frames_per_wake);
    RUN(watermark_ends_the_hold);
    RUN(wake_and_close_end_a_hold);
    return 0;
}
