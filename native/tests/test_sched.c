/* Scheduler: counter identities after drain, stealing when all submissions
 * come from one worker, fast-path hits when each task is awaited, yield,
 * pinned coroutines, and busy + idle ≈ elapsed. */
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "kcr.h"
#include "kt.h"

static uint64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static kcr_pool *pool2(const char *name) {
    struct kcr_pool_config c;
    memset(&c, 0, sizeof c);
    c.name = name;
    c.workers = 2;
    c.total_slots = 2;
    c.latency_sample = 1;
    kcr_pool *p = kcr_pool_create(&c);
    CHECK(p != NULL);
    return p;
}

struct sums {
    uint64_t submitted, completed, hits, misses, probes, succ, fail, busy, idle;
    uint64_t w_succ[2], w_hits[2], w_completed[2];
};

static void sum_stats(kcr_pool *p, struct sums *s) {
    memset(s, 0, sizeof *s);
    for (uint32_t i = 0; i < kcr_pool_workers(p); i++) {
        struct kcr_worker_stats w;
        kcr_pool_worker_stats(p, i, &w);
        s->submitted += w.tasks_submitted;
        s->completed += w.tasks_completed;
        s->hits += w.fastpath_hits;
        s->misses += w.fastpath_misses;
        s->probes += w.steal_probes;
        s->succ += w.steal_successes;
        s->fail += w.steal_failures;
        s->busy += w.busy_ns;
        s->idle += w.idle_ns;
        CHECK_EQ(w.steal_probes, w.steal_successes + w.steal_failures);
        if (i < 2) {
            s->w_succ[i] = w.steal_successes;
            s->w_hits[i] = w.fastpath_hits;
            s->w_completed[i] = w.tasks_completed;
        }
    }
}

static uint64_t burn(uint64_t n) {
    uint64_t x = n | 1;
    for (uint64_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    return x;
}

struct gen {
    kcr_pool *pool;
    kcr_wg *all;
    uint32_t batches, batch, cost;
};
struct batch {
    kcr_wg wg;
    uint32_t cost;
};
static _Atomic uint64_t g_sink;

static void task(void *arg) {
    struct batch *b = (struct batch *)arg;
    if (b->cost) atomic_fetch_add_explicit(&g_sink, burn(b->cost) & 1, memory_order_relaxed);
    kcr_wg_done(&b->wg);
}

static void generator(void *arg) {
    struct gen *g = (struct gen *)arg;
    struct batch b;
    kcr_wg_init(&b.wg, 0);
    b.cost = g->cost;
    for (uint32_t i = 0; i < g->batches; i++) {
        kcr_wg_add(&b.wg, g->batch);
        for (uint32_t k = 0; k < g->batch; k++) CHECK(kcr_spawn(g->pool, task, &b) == 0);
        kcr_wg_wait(&b.wg);
    }
    kcr_wg_done(g->all);
}

static void run_generators(kcr_pool *p, int imbalanced, uint32_t batches, uint32_t batch, uint32_t cost) {
    kcr_wg all;
    kcr_wg_init(&all, 2);
    struct gen g = {p, &all, batches, batch, cost};
    CHECK(kcr_spawn_pinned(p, 0, generator, &g) == 0);
    CHECK(kcr_spawn_pinned(p, imbalanced ? 0 : 1, generator, &g) == 0);
    kcr_wg_wait(&all); /* from a plain thread: futex */
}

static void counters_balance_after_drain(void) {
    kcr_pool *p = pool2("ident");
    uint64_t t0 = mono_ns();
    run_generators(p, 0, 200, 64, 0);
    kcr_pool_shutdown(p);
    uint64_t elapsed = mono_ns() - t0;
    struct sums s;
    sum_stats(p, &s);
    CHECK_EQ(s.completed, 2 + 2 * 200 * 64);
    CHECK_EQ(s.submitted, s.completed);
    CHECK_EQ(s.hits + s.misses, s.completed); /* every task started exactly once */
    CHECK_EQ(s.probes, s.succ + s.fail);
    /* busy + idle covers the workers' lifetime: at least the run, at most a bit more */
    CHECK(s.busy + s.idle >= elapsed);
    CHECK(s.busy + s.idle <= 2 * (elapsed + 200000000u));
    struct kcr_pool_gauges g;
    kcr_pool_gauges(p, &g);
    CHECK_EQ(g.live_coroutines, 0);
    CHECK_EQ(g.ready_coroutines, 0);
    CHECK(g.stack_bytes > 0);
    uint64_t counts[252] = {0}, total = 0, n = 0;
    kcr_pool_hist(p, KCR_HIST_TASK_START, counts, &total);
    for (int i = 0; i < 252; i++) n += counts[i];
    CHECK_EQ(n, s.completed); /* latency_sample = 1: every start is timed */
    kcr_pool_destroy(p);
}

static void imbalanced_submissions_are_stolen(void) {
    kcr_pool *p = pool2("imb");
    run_generators(p, 1, 50, 64, 20000); /* ~20 µs per task */
    kcr_pool_shutdown(p);
    struct sums s;
    sum_stats(p, &s);
    CHECK(s.w_succ[1] > 0);       /* worker 1 only gets work by stealing */
    CHECK(s.w_completed[1] > 0);
    CHECK_EQ(s.submitted, s.completed);
    kcr_pool_destroy(p);
}

static void awaited_tasks_take_the_fast_path(void) {
    kcr_pool *p = pool2("lifo");
    run_generators(p, 0, 2000, 1, 0);
    kcr_pool_shutdown(p);
    struct sums s;
    sum_stats(p, &s);
    CHECK_EQ(s.hits + s.misses, s.completed);
    CHECK(s.hits * 10 >= s.completed * 9); /* >= 90 % from the LIFO slot */
    kcr_pool_destroy(p);
}

static _Atomic int g_order[8];
static _Atomic int g_pos;
struct yarg {
    int id;
    kcr_wg *wg;
};
static _Atomic int g_arrived;
static void yielder(void *arg) {
    struct yarg *y = (struct yarg *)arg;
    atomic_fetch_add(&g_arrived, 1);
    while (atomic_load(&g_arrived) < 2) kcr_yield(); /* both exist before we record */
    for (int i = 0; i < 3; i++) {
        g_order[atomic_fetch_add(&g_pos, 1) % 8] = y->id;
        kcr_yield();
    }
    CHECK(kcr_in_coroutine());
    kcr_wg_done(y->wg);
}

static void yield_lets_others_run(void) {
    struct kcr_pool_config c = {.name = "y", .workers = 1, .total_slots = 1};
    kcr_pool *p = kcr_pool_create(&c);
    kcr_wg wg;
    kcr_wg_init(&wg, 2);
    struct yarg a = {1, &wg}, b = {2, &wg};
    kcr_spawn(p, yielder, &a);
    kcr_spawn(p, yielder, &b);
    kcr_wg_wait(&wg);
    kcr_pool_shutdown(p);
    int switches = 0;
    for (int i = 1; i < 6; i++) switches += g_order[i] != g_order[i - 1];
    CHECK(switches >= 2); /* interleaved, not run to completion one after the other */
    CHECK(!kcr_in_coroutine());
    kcr_pool_destroy(p);
}

static _Atomic int g_pin_ok;
static void pinned(void *arg) {
    kcr_wg *wg = (kcr_wg *)arg;
    int ok = 1;
    for (int i = 0; i < 50; i++) {
        if (kcr_worker_id() != 1) ok = 0;
        kcr_yield();
    }
    if (ok) atomic_fetch_add(&g_pin_ok, 1);
    kcr_wg_done(wg);
}

static void pinned_coroutines_stay_on_their_worker(void) {
    kcr_pool *p = pool2("pin");
    kcr_wg wg;
    kcr_wg_init(&wg, 4);
    for (int i = 0; i < 4; i++) CHECK(kcr_spawn_pinned(p, 1, pinned, &wg) == 0);
    kcr_wg_wait(&wg);
    kcr_pool_shutdown(p);
    CHECK_EQ(atomic_load(&g_pin_ok), 4);
    CHECK(kcr_spawn_pinned(p, 7, pinned, &wg) != 0);
    kcr_pool_destroy(p);
}

/* Colouring (stack.c): live coroutines' stacks do not all start at one offset within a page. */
#define NCOL 64
static _Atomic uint32_t g_offsets[NCOL];
static _Atomic int g_col_n;
struct colour_arg {
    kcr_wg *gate, *done;
};
static void colour_probe(void *arg) {
    struct colour_arg *a = (struct colour_arg *)arg;
    volatile char here = 0;
    g_offsets[atomic_fetch_add(&g_col_n, 1)] = (uint32_t)((uintptr_t)&here % 4096);
    kcr_wg_wait(a->gate); /* stay alive: every probe has its own block */
    kcr_wg_done(a->done);
}

static void live_stacks_are_coloured(void) {
    struct kcr_pool_config c = {.name = "col", .workers = 1, .total_slots = 1};
    kcr_pool *p = kcr_pool_create(&c);
    CHECK(p != NULL);
    kcr_wg gate, done;
    kcr_wg_init(&gate, 1);
    kcr_wg_init(&done, NCOL);
    struct colour_arg a = {&gate, &done};
    for (int i = 0; i < NCOL; i++) CHECK(kcr_spawn(p, colour_probe, &a) == 0);
    while (atomic_load(&g_col_n) < NCOL) sched_yield();
    kcr_wg_done(&gate);
    kcr_wg_wait(&done);
    kcr_pool_shutdown(p);
    int distinct = 0;
    for (int i = 0; i < NCOL; i++) {
        int seen = 0;
        for (int j = 0; j < i; j++) seen |= g_offsets[j] == g_offsets[i];
        distinct += !seen;
    }
    CHECK(distinct >= NCOL / 2); /* uncoloured: 1 */
    kcr_pool_destroy(p);
}

int main(void) {
    printf("test_sched\n");
    RUN(counters_balance_after_drain);
    RUN(imbalanced_submissions_are_stolen);
    RUN(awaited_tasks_take_the_fast_path);
    RUN(yield_lets_others_run);
    RUN(pinned_coroutines_stay_on_their_worker);
    RUN(live_stacks_are_coloured);
    return 0;
}
