/* test_pause.c — the benchmark workload's real pause and live knobs (bench/workload.c):
 * paused, no counter moves; resumed, work goes on; a knob changed while running
 * takes effect; a stop while paused ends (the gate opens). Run plain and under
 * ASan and TSan, so the gate and the knobs are checked for races too. */
#include <string.h>
#include <time.h>

#include "bench.h"
#include "kt.h"

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static struct kcs_workload *start(struct kcs_bench_cfg *cfg, const char *mode) {
    char *argv[] = {"test_pause", "--no-ring", "--mode", (char *)mode, "--workers", "2", NULL};
    CHECK_EQ(kcs_bench_parse(6, argv, cfg), 0);
    char err[256] = "";
    struct kcs_workload *wl = kcs_workload_start(cfg, err, sizeof err);
    if (!wl) fprintf(stderr, "%s\n", err);
    CHECK(wl != NULL);
    return wl;
}

static uint64_t done(struct kcs_workload *wl) {
    struct kcs_totals t;
    kcs_workload_totals(wl, &t);
    return t.tasks_completed + t.recvs;
}

/* Poll (sanitizers and a loaded machine are slow; bounded at 20 s) until done(wl) > than. */
static uint64_t wait_beyond(struct kcs_workload *wl, uint64_t than) {
    for (int i = 0; i < 2000; i++) {
        uint64_t d = done(wl);
        if (d > than) return d;
        sleep_ms(10);
    }
    CHECK(!"no progress within 20 s");
    return 0;
}

/* Poll until two reads 100 ms apart agree (the batch or packets in flight have finished). */
static uint64_t wait_still(struct kcs_workload *wl) {
    uint64_t a = done(wl);
    for (int i = 0; i < 200; i++) {
        sleep_ms(100);
        uint64_t b = done(wl);
        if (a == b) return a;
        a = b;
    }
    CHECK(!"counters still moving 20 s after the pause");
    return 0;
}

static void paused_counters_stand_still(const char *mode) {
    struct kcs_bench_cfg cfg;
    struct kcs_workload *wl = start(&cfg, mode);
    wait_beyond(wl, 0);
    kcs_workload_pause(wl, 1);
    kcs_workload_pause(wl, 1); /* idempotent */
    uint64_t a = wait_still(wl);
    sleep_ms(200);
    CHECK_EQ(done(wl), a); /* and it stays so */
    kcs_workload_pause(wl, 0);
    wait_beyond(wl, a);
    kcs_workload_pause(wl, 1);
    kcs_workload_stop(wl); /* stop while paused: the gate opens, the roots finish */
    kcs_workload_destroy(wl);
}

static void pause_tasks(void) { paused_counters_stand_still("tasks"); }
static void pause_channel(void) { paused_counters_stand_still("channel"); }
static void pause_mixed(void) { paused_counters_stand_still("mixed"); }
static void pause_dual(void) { paused_counters_stand_still("dual"); }

static void knobs_change_while_running(void) {
    struct kcs_bench_cfg cfg;
    struct kcs_workload *wl = start(&cfg, "mixed");
    int batch = kcs_knob_index("batch"), spin = kcs_knob_index("spin"), cost = kcs_knob_index("body_cost");
    CHECK(batch >= 0 && spin >= 0 && cost >= 0 && kcs_knob_index("nope") < 0);
    CHECK_EQ(kcs_workload_knob(wl, batch), 64);
    CHECK_EQ(kcs_workload_set_knob(wl, batch, 1), 64);
    CHECK_EQ(kcs_workload_set_knob(wl, spin, 0), 64);
    CHECK_EQ(kcs_workload_set_knob(wl, cost, 100), 0);
    wait_beyond(wl, done(wl)); /* still working with the new values */
    CHECK_EQ(kcs_workload_knob(wl, batch), 1);
    kcs_workload_stop(wl);
    kcs_workload_destroy(wl);
}

/* --packet-cost: every packet costs its producer that many xorshift steps (>= 6 dependent ALU ops,
 * so >= 1 ns each at any clock below 6 GHz): with 100000 units one producer sends at most one packet
 * per 100 us, however fast the rest; and the knob is live (read at the next cycle, -N 1: every packet). */
static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void packet_cost_paces_the_producer(void) {
    struct kcs_bench_cfg cfg;
    char *argv[] = {"test_pause", "--no-ring", "--mode", "channel", "--workers", "2",
                    "-N", "1", "--packet-cost", "100000", NULL};
    CHECK_EQ(kcs_bench_parse(10, argv, &cfg), 0);
    CHECK_EQ(cfg.packet_cost, 100000);
    char err[256] = "";
    uint64_t t0 = now_ns();
    struct kcs_workload *wl = kcs_workload_start(&cfg, err, sizeof err);
    CHECK(wl != NULL);
    int cost = kcs_knob_index("packet_cost");
    CHECK(cost >= 0);
    CHECK_EQ(kcs_workload_knob(wl, cost), 100000);
    uint64_t got = wait_beyond(wl, 3);
    uint64_t elapsed = now_ns() - t0;
    CHECK(got <= elapsed / 100000 + 2); /* at most one packet per 100 us (+ the one in flight) */
    CHECK_EQ(kcs_workload_set_knob(wl, cost, 0), 100000);
    uint64_t t1 = now_ns();
    wait_beyond(wl, got + 50000);
    CHECK(now_ns() - t1 < UINT64_C(4000000000)); /* free packets again: at 100 us each, 50k take >= 5 s */
    kcs_workload_stop(wl);
    kcs_workload_destroy(wl);
}

int main(void) {
    printf("test_pause\n");
    RUN(pause_tasks);
    RUN(pause_channel);
    RUN(pause_mixed);
    RUN(pause_dual);
    RUN(knobs_change_while_running);
    RUN(packet_cost_paces_the_producer);
    return 0;
}
