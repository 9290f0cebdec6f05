/*
 * kcr_ctx.h — execution contexts (internal).
 *
 * A context is a saved stack pointer: kcr__ctx_switch (assembly, ctx.c) pushes
 * the callee-saved registers and the FP control words on the current stack,
 * stores the stack pointer into *from and loads `to`. The portable fallback is
 * ucontext (swapcontext), selected at build time with -DKCR_USE_UCONTEXT or on
 * architectures without an assembly version, and at run time for one context
 * pair by kcr_ctx_make(..., use_uc = 1) (the switch benchmark's baseline).
 *
 * Sanitizers are told about every switch, so ASan checks coroutine stacks and
 * TSan sees each coroutine as a fiber:
 *   ASan: __sanitizer_start_switch_fiber / __sanitizer_finish_switch_fiber
 *   TSan: __tsan_create_fiber / __tsan_switch_to_fiber
 */
#ifndef KCR_CTX_H
#define KCR_CTX_H

#include <stddef.h>
#include <stdint.h>
#include <ucontext.h>

#if defined(__SANITIZE_ADDRESS__)
#define KCR_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__)
#define KCR_TSAN 1
#endif
#if defined(__has_feature)
#if __has_feature(address_sanitizer) && !defined(KCR_ASAN)
#define KCR_ASAN 1
#endif
#if __has_feature(thread_sanitizer) && !defined(KCR_TSAN)
#define KCR_TSAN 1
#endif
#endif

#if !defined(KCR_USE_UCONTEXT) && !defined(__x86_64__) && !defined(__aarch64__)
#define KCR_USE_UCONTEXT 1
#endif

#ifdef KCR_ASAN
void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom, size_t size);
void __sanitizer_finish_switch_fiber(void *fake_stack_save, const void **bottom_old, size_t *size_old);
void __asan_unpoison_memory_region(void const volatile *addr, size_t size);
#endif
#ifdef KCR_TSAN
void *__tsan_get_current_fiber(void);
void *__tsan_create_fiber(unsigned flags);
void __tsan_destroy_fiber(void *fiber);
void __tsan_switch_to_fiber(void *fiber, unsigned flags);
#endif

struct kcr_ctx {
    void *sp;          /* saved stack pointer (assembly switch) */
    int use_uc;        /* this context switches with swapcontext */
    ucontext_t uc;     /* fallback state, when use_uc */
    const void *stack_lo;
    size_t stack_size;
    void *asan_fake;   /* ASan fake-stack handle while switched out */
    void *tsan_fiber;  /* TSan fiber of this context */
};

/* The assembly switch: save callee-saved state on the current stack, store the
 * stack pointer to *from_sp, continue on to_sp. */
void kcr__ctx_switch(void **from_sp, void *to_sp) __attribute__((visibility("hidden")));

/* Describe the calling thread's own stack as a context (the scheduler side). */
void kcr_ctx_init_thread(struct kcr_ctx *c, int use_uc);
/* Prepare c to run entry(arg) on [stack_lo, stack_lo + size) at its first
 * switch. entry must never return; it ends with kcr_ctx_swap(..., final=1). */
void kcr_ctx_make(struct kcr_ctx *c, void *stack_lo, size_t size, void (*entry)(void *), void *arg,
                  int use_uc);
/* Call first thing in a context's entry function (sanitizer bookkeeping). */
void kcr_ctx_started(void);
void kcr_ctx_release(struct kcr_ctx *c); /* drop sanitizer state (TSan fiber) */

static inline void kcr_ctx_swap(struct kcr_ctx *from, struct kcr_ctx *to, int final) {
#ifdef KCR_ASAN
    __sanitizer_start_switch_fiber(final ? NULL : &from->asan_fake, to->stack_lo, to->stack_size);
#else
    (void)final;
#endif
#ifdef KCR_TSAN
    __tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
#ifdef KCR_USE_UCONTEXT
    swapcontext(&from->uc, &to->uc);
#else
    if (__builtin_expect(to->use_uc, 0))
        swapcontext(&from->uc, &to->uc);
    else
        kcr__ctx_switch(&from->sp, to->sp);
#endif
#ifdef KCR_ASAN
    __sanitizer_finish_switch_fiber(from->asan_fake, NULL, NULL);
#endif
}

#endif /* KCR_CTX_H */
