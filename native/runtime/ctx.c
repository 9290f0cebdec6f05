/*
 * ctx.c — context switch: x86-64 and aarch64 assembly, ucontext fallback.
 *
 * Stack frame saved by kcr__ctx_switch (lowest address first, at the saved sp):
 *
 *   x86-64  [mxcsr:u32 | x87 cw:u16 | pad] r15 r14 r13 r12 rbx rbp <return address>
 *   aarch64 x19..x28, x29 (fp), x30 (lr), d8..d15, fpcr, pad     (176 bytes)
 *
 * kcr_ctx_make lays out the same frame on a fresh stack with the return
 * address (x30) pointing at kcr__ctx_trampoline, which calls entry(arg) with
 * arg and entry taken from callee-saved registers (r12/r13, x19/x20). The
 * trampoline never returns: entry functions end with a final switch away.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "kcr_ctx.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "kcr.h"

#if defined(__x86_64__)
__asm__(".text\n"
        ".globl kcr__ctx_switch\n"
        ".hidden kcr__ctx_switch\n"
        ".type kcr__ctx_switch,@function\n"
        ".p2align 4\n"
        "kcr__ctx_switch:\n"
        "    pushq %rbp\n"
        "    pushq %rbx\n"
        "    pushq %r12\n"
        "    pushq %r13\n"
        "    pushq %r14\n"
        "    pushq %r15\n"
        "    subq $8, %rsp\n"
        "    stmxcsr (%rsp)\n"
        "    fnstcw 4(%rsp)\n"
        "    movq %rsp, (%rdi)\n"
        "    movq %rsi, %rsp\n"
        "    ldmxcsr (%rsp)\n"
        "    fldcw 4(%rsp)\n"
        "    addq $8, %rsp\n"
        "    popq %r15\n"
        "    popq %r14\n"
        "    popq %r13\n"
        "    popq %r12\n"
        "    popq %rbx\n"
        "    popq %rbp\n"
        "    ret\n"
        ".size kcr__ctx_switch,.-kcr__ctx_switch\n"
        ".globl kcr__ctx_trampoline\n"
        ".hidden kcr__ctx_trampoline\n"
        ".type kcr__ctx_trampoline,@function\n"
        ".p2align 4\n"
        "kcr__ctx_trampoline:\n"
        "    movq %r12, %rdi\n"
        "    callq *%r13\n"
        "    ud2\n"
        ".size kcr__ctx_trampoline,.-kcr__ctx_trampoline\n");
#define KCR_ASM_IMPL "asm-x86_64"
#elif defined(__aarch64__)
__asm__(".text\n"
        ".globl kcr__ctx_switch\n"
        ".hidden kcr__ctx_switch\n"
        ".type kcr__ctx_switch,%function\n"
        ".p2align 4\n"
        "kcr__ctx_switch:\n"
        "    sub sp, sp, #176\n"
        "    stp x19, x20, [sp, #0]\n"
        "    stp x21, x22, [sp, #16]\n"
        "    stp x23, x24, [sp, #32]\n"
        "    stp x25, x26, [sp, #48]\n"
        "    stp x27, x28, [sp, #64]\n"
        "    stp x29, x30, [sp, #80]\n"
        "    stp d8, d9, [sp, #96]\n"
        "    stp d10, d11, [sp, #112]\n"
        "    stp d12, d13, [sp, #128]\n"
        "    stp d14, d15, [sp, #144]\n"
        "    mrs x9, fpcr\n"
        "    str x9, [sp, #160]\n"
        "    mov x9, sp\n"
        "    str x9, [x0]\n"
        "    mov sp, x1\n"
        "    ldp x19, x20, [sp, #0]\n"
        "    ldp x21, x22, [sp, #16]\n"
        "    ldp x23, x24, [sp, #32]\n"
        "    ldp x25, x26, [sp, #48]\n"
        "    ldp x27, x28, [sp, #64]\n"
        "    ldp x29, x30, [sp, #80]\n"
        "    ldp d8, d9, [sp, #96]\n"
        "    ldp d10, d11, [sp, #112]\n"
        "    ldp d12, d13, [sp, #128]\n"
        "    ldp d14, d15, [sp, #144]\n"
        "    ldr x9, [sp, #160]\n"
        "    msr fpcr, x9\n"
        "    add sp, sp, #176\n"
        "    ret\n"
        ".size kcr__ctx_switch,.-kcr__ctx_switch\n"
        ".globl kcr__ctx_trampoline\n"
        ".hidden kcr__ctx_trampoline\n"
        ".type kcr__ctx_trampoline,%function\n"
        ".p2align 4\n"
        "kcr__ctx_trampoline:\n"
        "    mov x0, x19\n"
        "    blr x20\n"
        "    brk #0\n"
        ".size kcr__ctx_trampoline,.-kcr__ctx_trampoline\n");
#define KCR_ASM_IMPL "asm-aarch64"
#endif

#if defined(__x86_64__) || defined(__aarch64__)
void kcr__ctx_trampoline(void) __attribute__((visibility("hidden")));
#endif

const char *kcr_switch_impl(void) {
#if defined(KCR_USE_UCONTEXT) || !defined(KCR_ASM_IMPL)
    return "ucontext";
#else
    return KCR_ASM_IMPL;
#endif
}

void kcr_ctx_init_thread(struct kcr_ctx *c, int use_uc) {
    memset(c, 0, sizeof *c);
    c->use_uc = use_uc;
#ifdef KCR_ASAN
    pthread_attr_t a;
    if (pthread_getattr_np(pthread_self(), &a) == 0) {
        void *addr = NULL;
        size_t size = 0;
        pthread_attr_getstack(&a, &addr, &size);
        c->stack_lo = addr;
        c->stack_size = size;
        pthread_attr_destroy(&a);
    }
#endif
#ifdef KCR_TSAN
    c->tsan_fiber = __tsan_get_current_fiber();
#endif
}

/* ucontext entry: makecontext passes int arguments, so pointers travel in halves. */
static void uc_entry(unsigned int fn_hi, unsigned int fn_lo, unsigned int arg_hi, unsigned int arg_lo) {
    void (*entry)(void *);
    uintptr_t f = ((uintptr_t)fn_hi << 32) | fn_lo;
    uintptr_t a = ((uintptr_t)arg_hi << 32) | arg_lo;
    memcpy(&entry, &f, sizeof entry);
    entry((void *)a);
    abort(); /* entry functions never return */
}

void kcr_ctx_make(struct kcr_ctx *c, void *stack_lo, size_t size, void (*entry)(void *), void *arg,
                  int use_uc) {
    c->stack_lo = stack_lo;
    c->stack_size = size;
    c->asan_fake = NULL;
#ifdef KCR_ASAN
    /* a pooled stack keeps the poisoning of its previous coroutine's frames */
    __asan_unpoison_memory_region(stack_lo, size);
#endif
#ifdef KCR_TSAN
    if (!c->tsan_fiber) c->tsan_fiber = __tsan_create_fiber(0);
#endif
#ifdef KCR_USE_UCONTEXT
    use_uc = 1;
#endif
    c->use_uc = use_uc;
    if (use_uc) {
        getcontext(&c->uc);
        c->uc.uc_stack.ss_sp = stack_lo;
        c->uc.uc_stack.ss_size = size;
        c->uc.uc_link = NULL;
        uintptr_t f, a = (uintptr_t)arg;
        memcpy(&f, &entry, sizeof f);
        makecontext(&c->uc, (void (*)(void))uc_entry, 4, (unsigned int)(f >> 32), (unsigned int)f,
                    (unsigned int)(a >> 32), (unsigned int)a);
        return;
    }
#if defined(__x86_64__) && !defined(KCR_USE_UCONTEXT)
    uintptr_t top = ((uintptr_t)stack_lo + size) & ~(uintptr_t)15;
    uint64_t *sp = (uint64_t *)(top - 80);
    /* a new coroutine starts with the FP control words of the thread that first
     * made a context here (read once per thread: stmxcsr/fnstcw are not free) */
    static _Thread_local uint64_t fpenv;
    if (!fpenv) {
        uint32_t mx;
        uint16_t cw;
        __asm__ volatile("stmxcsr %0" : "=m"(mx));
        __asm__ volatile("fnstcw %0" : "=m"(cw));
        fpenv = (uint64_t)mx | ((uint64_t)cw << 32);
    }
    sp[0] = fpenv;
    sp[1] = 0;                         /* r15 */
    sp[2] = 0;                         /* r14 */
    sp[3] = (uint64_t)(uintptr_t)entry; /* r13 */
    sp[4] = (uint64_t)(uintptr_t)arg;   /* r12 */
    sp[5] = 0;                         /* rbx */
    sp[6] = 0;                         /* rbp: ends the frame chain */
    sp[7] = (uint64_t)(uintptr_t)kcr__ctx_trampoline;
    c->sp = sp;
#elif defined(__aarch64__) && !defined(KCR_USE_UCONTEXT)
    uintptr_t top = ((uintptr_t)stack_lo + size) & ~(uintptr_t)15;
    uint64_t *sp = (uint64_t *)(top - 176);
    memset(sp, 0, 176);
    uint64_t fpcr;
    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    sp[0] = (uint64_t)(uintptr_t)arg;   /* x19 */
    sp[1] = (uint64_t)(uintptr_t)entry; /* x20 */
    sp[11] = (uint64_t)(uintptr_t)kcr__ctx_trampoline; /* x30 */
    sp[20] = fpcr;
    c->sp = sp;
#endif
}

void kcr_ctx_started(void) {
#ifdef KCR_ASAN
    __sanitizer_finish_switch_fiber(NULL, NULL, NULL);
#endif
}

void kcr_ctx_release(struct kcr_ctx *c) {
#ifdef KCR_TSAN
    if (c->tsan_fiber) __tsan_destroy_fiber(c->tsan_fiber);
#endif
    c->tsan_fiber = NULL;
}

/* ------------------------------------------------------- switch benchmark */

struct bench_pair {
    struct kcr_ctx main, co;
};

static void bench_entry(void *arg) {
    struct bench_pair *b = (struct bench_pair *)arg;
    kcr_ctx_started();
    for (;;) kcr_ctx_swap(&b->co, &b->main, 0);
}

double kcr_switch_bench_ns(uint64_t iterations, int use_uc) {
    size_t size = 256 * 1024;
    void *stack = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (stack == MAP_FAILED) return -1.0;
    struct bench_pair *b = (struct bench_pair *)calloc(1, sizeof *b);
    if (!b) {
        munmap(stack, size);
        return -1.0;
    }
    kcr_ctx_init_thread(&b->main, use_uc);
    kcr_ctx_make(&b->co, stack, size, bench_entry, b, use_uc);
    kcr_ctx_swap(&b->main, &b->co, 0); /* warm up: first entry */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (uint64_t i = 0; i < iterations; i++) kcr_ctx_swap(&b->main, &b->co, 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
    kcr_ctx_release(&b->co);
    free(b);
    munmap(stack, size);
    return iterations ? ns / (2.0 * (double)iterations) : 0.0;
}
