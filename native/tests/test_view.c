/* The coroutine view (runtime/view.c): a named coroutine parked on a channel
 * is reported with its name, state, the channel's id and as the channel's
 * waiter; yields count as self-wakes; a coroutine seen parked twice gets a
 * parked span; one that finished leaves the table; tasks that run once never
 * enter it; with the view off nothing is tracked. Waits spin on the view
 * itself (no sleeps). */
#include <sched.h>
#include <string.h>

#include "kcr.h"
#include "kt.h"

static kcr_chan *g_ch;
static kcr_wg g_gate, g_done;

static void rx(void *arg) {
    (void)arg;
    uint64_t x;
    CHECK_EQ(kcr_chan_recv(g_ch, &x), 0);
    CHECK_EQ(x, 42);
    kcr_wg_done(&g_done);
}

static void yielder(void *arg) {
    (void)arg;
    for (int i = 0; i < 5; i++) kcr_yield();
    kcr_wg_wait(&g_gate);
    kcr_wg_done(&g_done);
}

static void once(void *arg) {
    (void)arg;
    kcr_wg_done(&g_done);
}

static kcr_pool *pool(uint32_t view) {
    struct kcr_pool_config c = {.name = "view", .workers = 2, .total_slots = 2, .coroutines_sample = view};
    kcr_pool *p = kcr_pool_create(&c);
    CHECK(p);
    return p;
}

/* Spin until the coroutine whose name contains `name` is parked (on wait kind `kind`); its info in *out. */
static void until_parked(kcr_pool *p, const char *name, uint32_t kind, struct kcr_coro_info *out) {
    struct kcr_coro_info all[16];
    for (long spins = 0;; spins++) {
        CHECK(spins < 100000000);
        size_t n = kcr_pool_coroutines(p, kcr_now_ns(), all, 16);
        for (size_t i = 0; i < n && i < 16; i++)
            if (strstr(all[i].name, name) && all[i].state == KCR_CORO_PARKED &&
                all[i].wait_kind == kind) {
                *out = all[i];
                return;
            }
        sched_yield();
    }
}

static void parked_on_a_channel_is_named_with_the_channel(void) {
    kcr_pool *p = pool(1);
    struct kcr_chan_config cc = {.id = 7, .elem_size = 8, .total_slots = 2, .name = "seven"};
    g_ch = kcr_chan_create(&cc);
    CHECK(g_ch);
    CHECK(!strcmp(kcr_chan_name(g_ch), "seven"));
    kcr_wg_init(&g_done, 1);
    CHECK_EQ(kcr_spawn_named(p, "rx", rx, NULL), 0);
    struct kcr_coro_info x;
    until_parked(p, "rx", KCR_WAIT_CHANNEL, &x);
    CHECK(x.id != 0);
    CHECK_EQ(x.wait_id, 7);
    CHECK(x.worker == -1);
    CHECK_EQ(x.parks, 1);
    CHECK_EQ(x.resumes, 1);
    uint64_t s[4], r[4];
    size_t ns = 9, nr = 9;
    kcr_chan_waiters(g_ch, s, &ns, r, &nr, 4);
    CHECK_EQ(ns, 0);
    CHECK_EQ(nr, 1);
    CHECK_EQ(r[0], x.id);
    /* seen parked with the same park count again: the span grows with the caller's clock */
    struct kcr_coro_info again[4];
    uint64_t now = kcr_now_ns();
    CHECK_EQ(kcr_pool_coroutines(p, now, again, 4), 1);
    uint64_t first = again[0].parked_ns;
    CHECK(first > 0); /* until_parked saw it parked before */
    CHECK_EQ(kcr_pool_coroutines(p, now + 5000000, again, 4), 1);
    CHECK_EQ(again[0].parked_ns - first, 5000000);
    CHECK_EQ(again[0].running_ns, 0);
    uint64_t v = 42;
    CHECK_EQ(kcr_chan_send(g_ch, &v), 0);
    kcr_wg_wait(&g_done);
    for (long spins = 0; kcr_pool_coroutines(p, kcr_now_ns(), again, 4) != 0; spins++) {
        CHECK(spins < 100000000); /* done: it leaves the table once its worker switched back */
        sched_yield();
    }
    kcr_pool_shutdown(p);
    kcr_pool_destroy(p);
    kcr_chan_destroy(g_ch);
}

static void yields_are_self_wakes_and_the_spawn_site_names_it(void) {
    kcr_pool *p = pool(1);
    kcr_wg_init(&g_gate, 1);
    kcr_wg_init(&g_done, 1);
    CHECK_EQ(KCR_SPAWN_HERE(p, yielder, NULL), 0);
    struct kcr_coro_info x;
    until_parked(p, "test_view.c:", KCR_WAIT_GROUP, &x); /* "...test_view.c:NN" */
    CHECK(strstr(x.name, "test_view.c:"));
    CHECK_EQ(x.self_wakes, 5);
    CHECK_EQ(x.wakes, 5);
    CHECK_EQ(x.parks, 1);
    CHECK_EQ(x.resumes, 6);
    CHECK(x.busy_ns > 0); /* every resume timed (coroutines_sample 1) */
    kcr_wg_done(&g_gate);
    kcr_wg_wait(&g_done);
    kcr_pool_shutdown(p);
    kcr_pool_destroy(p);
}

static void tasks_that_run_once_never_enter_it_and_off_tracks_nothing(void) {
    for (uint32_t view = 0; view <= 1; view++) {
        kcr_pool *p = pool(view);
        kcr_wg_init(&g_done, 1000);
        for (int i = 0; i < 1000; i++) CHECK_EQ(kcr_spawn(p, once, NULL), 0);
        kcr_wg_wait(&g_done);
        struct kcr_coro_info all[4];
        CHECK_EQ(kcr_pool_coroutines(p, kcr_now_ns(), all, 4), 0);
        if (!view) { /* off: even a named, parked coroutine is not tracked */
            kcr_wg_init(&g_gate, 1);
            kcr_wg_init(&g_done, 1);
            CHECK_EQ(kcr_spawn_named(p, "y", yielder, NULL), 0);
            kcr_wg_done(&g_gate);
            kcr_wg_wait(&g_done);
            CHECK_EQ(kcr_pool_coroutines(p, kcr_now_ns(), all, 4), 0);
        }
        kcr_pool_shutdown(p);
        kcr_pool_destroy(p);
    }
}

int main(void) {
    printf("test_view\n");
    RUN(parked_on_a_channel_is_named_with_the_channel);
    RUN(yields_are_self_wakes_and_the_spawn_site_names_it);
    RUN(tasks_that_run_once_never_enter_it_and_off_tracks_nothing);
    return 0;
}
