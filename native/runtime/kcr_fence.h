/*
 * kcr_fence.h — fences the runtime uses (internal).
 *
 * ThreadSanitizer does not model atomic_thread_fence (gcc says so with
 * -Wtsan). Under TSan every runtime fence becomes a seq_cst read-modify-write
 * of one shared word: at least as strong on the hardware, and something TSan
 * understands (it may hide a race between two fencing threads, never invent one).
 */
#ifndef KCR_FENCE_H
#define KCR_FENCE_H

#include <stdatomic.h>
#include <stdint.h>

#include "kcr_ctx.h" /* KCR_TSAN */

#ifdef KCR_TSAN
extern _Atomic uint64_t kcr__fence_word;
#define kcr_fence(mo) ((void)(mo), (void)atomic_fetch_add_explicit(&kcr__fence_word, 0, memory_order_seq_cst))
#else
#define kcr_fence(mo) atomic_thread_fence(mo)
#endif

#endif
