/* MPSC inject queue: FIFO per producer, nothing lost with 4 producers, the
 * depth counter returns to zero. */
#include <pthread.h>

#include "kcr_mpsc.h"
#include "kt.h"

struct item {
    struct kcr_node node; /* first member */
    uint32_t producer, seq;
};

#define PRODUCERS 4
#define PER 50000
static struct kcr_mpsc g_q;
static struct item g_items[PRODUCERS][PER];

static void *produce(void *arg) {
    uint32_t p = (uint32_t)(uintptr_t)arg;
    for (uint32_t i = 0; i < PER; i++) {
        g_items[p][i].producer = p;
        g_items[p][i].seq = i;
        kcr_mpsc_push(&g_q, &g_items[p][i].node);
    }
    return NULL;
}

static void empty_queue_pops_null(void) {
    struct kcr_mpsc q;
    kcr_mpsc_init(&q);
    CHECK(kcr_mpsc_pop(&q) == NULL);
    struct item a, b;
    kcr_mpsc_push(&q, &a.node);
    kcr_mpsc_push(&q, &b.node);
    CHECK_EQ(kcr_mpsc_depth(&q), 2);
    CHECK(kcr_mpsc_pop(&q) == &a.node);
    CHECK(kcr_mpsc_pop(&q) == &b.node);
    CHECK(kcr_mpsc_pop(&q) == NULL);
    CHECK_EQ(kcr_mpsc_depth(&q), 0);
}

static void producers_are_fifo_and_nothing_is_lost(void) {
    kcr_mpsc_init(&g_q);
    pthread_t t[PRODUCERS];
    for (uintptr_t i = 0; i < PRODUCERS; i++) pthread_create(&t[i], NULL, produce, (void *)i);
    uint32_t next[PRODUCERS] = {0};
    uint64_t got = 0;
    while (got < (uint64_t)PRODUCERS * PER) {
        struct kcr_node *n = kcr_mpsc_pop(&g_q);
        if (!n) continue; /* empty, or a push half done */
        struct item *it = (struct item *)n;
        CHECK_EQ(it->seq, next[it->producer]);
        next[it->producer]++;
        got++;
    }
    for (int i = 0; i < PRODUCERS; i++) pthread_join(t[i], NULL);
    CHECK(kcr_mpsc_pop(&g_q) == NULL);
    CHECK_EQ(kcr_mpsc_depth(&g_q), 0);
}

int main(void) {
    printf("test_mpsc\n");
    RUN(empty_queue_pops_null);
    RUN(producers_are_fifo_and_nothing_is_lost);
    return 0;
}
