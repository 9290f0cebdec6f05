/*
 * coroview.c — the coroutine view's snapshots (--coroutines): one frame every
 * --coroutines-every ticks, after that tick's sample frame:
 *
 *   CoroutineState × selected · ChannelWaiters × channels
 *
 * Selected: every coroutine seen running or parked across two snapshots
 * (running_ns or parked_ns > 0: the suspicious ones, longest first, at most
 * KCS_CORO_SUSPICIOUS_PER_TOP × top of them), then the `top` others with the
 * most busy time. The knobs are in RunStarted.config (coroutines_top,
 * coroutines_every, coroutines_sample, coroutines_suspicious_max), so a reader
 * knows what a snapshot leaves out. Only the sampler thread calls this.
 */
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "kcs_run.h"

#define KCS_CORO_WAITERS_MAX 64 /* waiter ids per channel side in a snapshot */

struct kcs_coro_view {
    struct kcr_coro_info *all;
    size_t cap;
    size_t *order;
};

struct kcs_coro_view *kcs_coro_view_new(void) { return (struct kcs_coro_view *)calloc(1, sizeof(struct kcs_coro_view)); }

void kcs_coro_view_free(struct kcs_coro_view *v) {
    if (!v) return;
    free(v->all);
    free(v->order);
    free(v);
}

static uint64_t held(const struct kcr_coro_info *x) { return x->running_ns > x->parked_ns ? x->running_ns : x->parked_ns; }

static const struct kcr_coro_info *sort_base;

/* suspicious first (longest held first), then most busy; the id breaks ties */
static int by_interest(const void *a, const void *b) {
    const struct kcr_coro_info *x = &sort_base[*(const size_t *)a], *y = &sort_base[*(const size_t *)b];
    uint64_t hx = held(x), hy = held(y);
    if (hx != hy) return hx > hy ? -1 : 1;
    if (x->busy_ns != y->busy_ns) return x->busy_ns > y->busy_ns ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Gather every pool's tracked coroutines into v->all; returns how many, or -1 (out of memory). */
static long gather(struct kcs_coro_view *v, struct kcs_workload *wl, uint64_t now) {
    for (;;) {
        size_t n = 0, need = 0;
        for (uint32_t p = 0; p < kcs_workload_npools(wl); p++) {
            size_t room = n < v->cap ? v->cap - n : 0;
            size_t got = kcr_pool_coroutines(kcs_workload_pool(wl, p), now, v->all + n, room);
            need += got;
            n += got < room ? got : room;
        }
        if (need <= v->cap) return (long)need;
        size_t cap = need + need / 2 + 16;
        struct kcr_coro_info *all = (struct kcr_coro_info *)realloc(v->all, cap * sizeof *all);
        if (!all) return -1;
        v->all = all;
        size_t *order = (size_t *)realloc(v->order, cap * sizeof *order);
        if (!order) return -1;
        v->order = order;
        v->cap = cap; /* gather again: the memo of the first pass is reused (same now) */
    }
}

void kcs_coro_view_write(struct kcs_coro_view *v, struct kcs_ring *ring, struct kcs_mp *m,
                         const struct kcs_bench_cfg *cfg, struct kcs_workload *wl, uint64_t now) {
    long n = gather(v, wl, now);
    if (n < 0) return;
    for (long i = 0; i < n; i++) v->order[i] = (size_t)i;
    sort_base = v->all;
    qsort(v->order, (size_t)n, sizeof *v->order, by_interest);
    size_t suspicious = 0, plain = 0, pick = 0;
    size_t max_susp = (size_t)cfg->coroutines_top * KCS_CORO_SUSPICIOUS_PER_TOP;
    for (long i = 0; i < n; i++) {
        const struct kcr_coro_info *x = &v->all[v->order[i]];
        int susp = held(x) > 0;
        if (susp ? suspicious < max_susp : plain < cfg->coroutines_top) {
            v->order[pick++] = v->order[i];
            if (susp)
                suspicious++;
            else
                plain++;
        }
    }
    uint32_t nc = kcs_workload_nchans(wl);
    kcs_frame_begin(m, (uint32_t)pick + nc);
    for (size_t i = 0; i < pick; i++) {
        const struct kcr_coro_info *x = &v->all[v->order[i]];
        kcs_emit_coroutine_state(m, now, 0,
                                 &(struct kcs_coroutine_state){.coroutine = x->id,
                                                               .pool = x->pool,
                                                               .name = x->name,
                                                               .state = x->state,
                                                               .worker = x->worker,
                                                               .wait_kind = x->wait_kind,
                                                               .wait_id = x->wait_id,
                                                               .resumes = x->resumes,
                                                               .parks = x->parks,
                                                               .wakes = x->wakes,
                                                               .self_wakes = x->self_wakes,
                                                               .busy_ns = x->busy_ns,
                                                               .age_ns = x->age_ns,
                                                               .running_ns = x->running_ns,
                                                               .parked_ns = x->parked_ns});
    }
    for (uint32_t c = 0; c < nc; c++) {
        kcr_chan *ch = kcs_workload_chan(wl, c);
        struct kcr_chan_stats st;
        kcr_chan_stats(ch, &st);
        uint64_t sids[KCS_CORO_WAITERS_MAX], rids[KCS_CORO_WAITERS_MAX];
        size_t ns = 0, nr = 0;
        kcr_chan_waiters(ch, sids, &ns, rids, &nr, KCS_CORO_WAITERS_MAX);
        kcs_emit_channel_waiters(m, now, 0,
                                 &(struct kcs_channel_waiters){
                                     .channel = st.channel,
                                     .pool = st.pool,
                                     .name = kcr_chan_name(ch),
                                     .senders = sids,
                                     .senders_len = (uint32_t)(ns < KCS_CORO_WAITERS_MAX ? ns : KCS_CORO_WAITERS_MAX),
                                     .receivers = rids,
                                     .receivers_len = (uint32_t)(nr < KCS_CORO_WAITERS_MAX ? nr : KCS_CORO_WAITERS_MAX),
                                 });
    }
    kcs_frame_commit(ring, m);
}
