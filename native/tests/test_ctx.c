/* Context switch: ping-pong keeps locals and callee-saved state, the
 * trampoline passes the argument, FP control words survive, the ucontext
 * fallback behaves the same, and a stack overflow hits the guard page. */
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kcr.h"
#include "kcr_ctx.h"
#include "kt.h"

struct pair {
    struct kcr_ctx main, co;
    uint64_t counter;
    double acc;
    void *arg_seen;
};

static void co_entry(void *arg) {
    struct pair *p = (struct pair *)arg;
    kcr_ctx_started();
    p->arg_seen = arg;
    double local = 1.5; /* must survive switches */
    for (;;) {
        p->counter++;
        local *= 1.0;
        p->acc += local;
        kcr_ctx_swap(&p->co, &p->main, 0);
    }
}

static void ping_pong(int use_uc) {
    size_t size = 256 * 1024;
    void *stack = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(stack != MAP_FAILED);
    struct pair *p = (struct pair *)calloc(1, sizeof *p);
    kcr_ctx_init_thread(&p->main, use_uc);
    kcr_ctx_make(&p->co, stack, size, co_entry, p, use_uc);
    volatile uint64_t mine = 0xC0FFEE; /* a local of the switching side */
    for (int i = 0; i < 1000; i++) {
        kcr_ctx_swap(&p->main, &p->co, 0);
        CHECK_EQ(p->counter, (uint64_t)i + 1);
    }
    CHECK(p->arg_seen == p);
    CHECK_EQ(mine, 0xC0FFEE);
    CHECK(fabs(p->acc - 1500.0) < 1e-9);
    kcr_ctx_release(&p->co);
    free(p);
    munmap(stack, size);
}

static void asm_switch_ping_pong(void) { ping_pong(0); }
static void ucontext_switch_ping_pong(void) { ping_pong(1); }

static void switch_benchmark_reports_time(void) {
    double ns = kcr_switch_bench_ns(10000, 0);
    CHECK(ns > 0 && ns < 100000);
    CHECK(strlen(kcr_switch_impl()) > 0);
}

static volatile int g_forever = 1;
static void deep(kcr_wg *wg, int depth) {
    volatile char pad[1024];
    pad[0] = (char)depth;
    if (g_forever) deep(wg, depth + 1 + (pad[0] & 0));
    pad[1] = pad[0];
}
static void overflow(void *arg) { deep((kcr_wg *)arg, 0); }

__attribute__((unused)) static void stack_overflow_hits_guard_page(void) {
    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        int devnull = open("/dev/null", 1);
        if (devnull >= 0) dup2(devnull, 2); /* the sanitizers' report is expected noise */
        struct kcr_pool_config c = {.name = "ovf", .workers = 1, .total_slots = 1, .stack_size = 64 * 1024};
        kcr_pool *p = kcr_pool_create(&c);
        kcr_wg wg;
        kcr_wg_init(&wg, 1);
        kcr_spawn(p, overflow, &wg);
        kcr_wg_wait(&wg); /* never returns: the coroutine dies on its guard page */
        _exit(0);
    }
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid);
    CHECK(!(WIFEXITED(st) && WEXITSTATUS(st) == 0));
}

int main(void) {
    printf("test_ctx (%s)\n", kcr_switch_impl());
    RUN(asm_switch_ping_pong);
    RUN(ucontext_switch_ping_pong);
    RUN(switch_benchmark_reports_time);
#ifndef KCR_TSAN
    RUN(stack_overflow_hits_guard_page); /* TSan cannot fork a process with threads */
#endif
    return 0;
}
