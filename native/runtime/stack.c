/*
 * stack.c — coroutine blocks: the stack pool.
 *
 * A coroutine lives in one mmap'ed block, [guard page][stack ...][struct
 * kcr_coro], so its descriptor and its stack come and go together. Blocks are
 * recycled through a per-worker cache (up to KCR_CACHE_MAX) and the pool's
 * free list (under free_mu, touched in batches of KCR_CACHE_MAX / 2), so a
 * spawn normally costs no system call. Every block is also on the pool's
 * `all` list, which kcr_pool_destroy unmaps.
 *
 * Colouring: blocks are page-aligned and all the same size, so without care
 * every coroutine's descriptor and stack top sit at one offset within a page:
 * the same few L1 sets (an 8-way, 32 KiB L1 indexes by bits 6-11). A batch of
 * 64 live coroutines on one core then evicts itself, and two workers on SMT
 * siblings (which a VM's two vCPUs can be, now and then) share that L1: tasks
 * mode ran at 19-21 M tasks/s on 2 workers, about one worker's rate. Each block
 * puts its descriptor (and so its stack top) KCR_COLOURS lines lower than the
 * last one, cycling through a page: 30-33 M tasks/s on the same machine
 * (benchmarks/native_tasks.py; docs/runtime.md).
 */
#include "kcr_internal.h"

#include <string.h>
#include <sys/mman.h>

static size_t g_page_size;

void kcr__stack_init(void) {
    if (!g_page_size) {
        long pg = sysconf(_SC_PAGESIZE);
        g_page_size = pg > 0 ? (size_t)pg : 4096; /* same value from every racing writer */
    }
}

static size_t page_size(void) { return g_page_size; }

static size_t coro_hdr_size(void) { return (sizeof(struct kcr_coro) + 63u) & ~(size_t)63u; }

/* The block's colour: how far below the block's end its descriptor starts. */
static size_t next_colour(void) {
    static _Atomic uint32_t n; /* relaxed: any spread of colours will do */
    return (size_t)(atomic_fetch_add_explicit(&n, 1, memory_order_relaxed) % KCR_COLOURS) * KCR_CACHE_LINE;
}

static struct kcr_coro *block_new(kcr_pool *p) {
    size_t pg = page_size();
    size_t colour = next_colour(); /* < 4096: one extra page of slack below the stack keeps stack_size */
    size_t total = pg + ((p->stack_size + coro_hdr_size() + 4096 + pg - 1) & ~(pg - 1));
    void *mem = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                     -1, 0);
    if (mem == MAP_FAILED) return NULL;
    if (mprotect(mem, pg, PROT_NONE) != 0) { /* the guard page */
        munmap(mem, total);
        return NULL;
    }
    struct kcr_coro *c = (struct kcr_coro *)((char *)mem + total - coro_hdr_size() - colour);
    memset(c, 0, sizeof *c);
    c->block = mem;
    c->block_size = total;
    pthread_mutex_lock(&p->free_mu);
    c->all_next = p->all;
    p->all = c;
    pthread_mutex_unlock(&p->free_mu);
    atomic_fetch_add_explicit(&p->stack_bytes, total, memory_order_relaxed);
    return c;
}

/* Move the first block of the free list `from` to the front of `to`. */
static void move_first(struct kcr_coro **from, struct kcr_coro **to) {
    struct kcr_coro *x = *from;
    *from = x->free_next;
    x->free_next = *to;
    *to = x;
}

static struct kcr_coro *coro_alloc(kcr_pool *p, struct kcr_worker *w) {
    struct kcr_coro *c;
    if (w && w->cache) {
        c = w->cache;
        w->cache = c->free_next;
        w->ncache--;
        return c;
    }
    pthread_mutex_lock(&p->free_mu);
    c = p->free_list;
    if (c) {
        p->free_list = c->free_next;
        p->nfree--;
        /* refill the worker cache with up to half its capacity */
        while (w && p->free_list && w->ncache < KCR_CACHE_MAX / 2) {
            move_first(&p->free_list, &w->cache);
            p->nfree--;
            w->ncache++;
        }
    }
    pthread_mutex_unlock(&p->free_mu);
    return c ? c : block_new(p);
}

void kcr__coro_free(kcr_pool *p, struct kcr_worker *w, struct kcr_coro *c) {
    c->free_next = w->cache;
    w->cache = c;
    if (++w->ncache <= KCR_CACHE_MAX) return;
    /* spill half of the cache to the pool */
    pthread_mutex_lock(&p->free_mu);
    while (w->ncache > KCR_CACHE_MAX / 2) {
        move_first(&w->cache, &p->free_list);
        w->ncache--;
        p->nfree++;
    }
    pthread_mutex_unlock(&p->free_mu);
}

void kcr__stack_cache_return(kcr_pool *p, struct kcr_worker *w) {
    pthread_mutex_lock(&p->free_mu);
    while (w->cache) move_first(&w->cache, &p->free_list);
    w->ncache = 0;
    pthread_mutex_unlock(&p->free_mu);
}

void kcr__stacks_release(kcr_pool *p) {
    struct kcr_coro *c = p->all;
    while (c) {
        struct kcr_coro *next = c->all_next;
        kcr_ctx_release(&c->ctx);
        munmap(c->block, c->block_size);
        c = next;
    }
}

/* A coroutine's first and last moments: run fn(arg), then hand the block back
 * to the worker's scheduler context as done (it is freed from there). */
static void coro_entry(void *arg) {
    struct kcr_coro *c = (struct kcr_coro *)arg;
    kcr_ctx_started();
    c->fn(c->arg);
    struct kcr_worker *w = kcr__self();
    w->after = KCR_AFTER_DONE;
    kcr_ctx_swap(&c->ctx, &w->sched, 1);
    __builtin_unreachable();
}

struct kcr_coro *kcr__coro_new(kcr_pool *p, struct kcr_worker *w, kcr_fn fn, void *arg, int32_t pin) {
    struct kcr_coro *c = coro_alloc(p, w);
    if (!c) return NULL;
    c->fn = fn;
    c->arg = arg;
    c->pool = p;
    c->pinned = pin;
    c->started = 0;
    c->free_next = NULL;
    char *lo = (char *)c->block + page_size();
    kcr_ctx_make(&c->ctx, lo, (size_t)((char *)c - lo), coro_entry, c, p->use_uc);
    return c;
}
