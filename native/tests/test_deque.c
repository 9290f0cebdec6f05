/* Chase-Lev deque: owner LIFO, thieves FIFO, capacity, and no item lost or
 * duplicated when one owner and two thieves race. */
#include <pthread.h>
#include <stdatomic.h>

#include "kcr_deque.h"
#include "kt.h"

#define ITEM(i) ((struct kcr_coro *)(uintptr_t)(((uintptr_t)(i) + 2) << 4))
#define INDEX(p) ((((uintptr_t)(p)) >> 4) - 2)

static void owner_is_lifo_thief_is_fifo(void) {
    struct kcr_deque d;
    CHECK(kcr_deque_init(&d, 8) == 0);
    for (int i = 0; i < 4; i++) CHECK(kcr_deque_push(&d, ITEM(i)));
    CHECK(kcr_deque_steal(&d) == ITEM(0));
    CHECK(kcr_deque_pop(&d) == ITEM(3));
    CHECK(kcr_deque_pop(&d) == ITEM(2));
    CHECK(kcr_deque_steal(&d) == ITEM(1));
    CHECK(kcr_deque_pop(&d) == NULL);
    CHECK(kcr_deque_steal(&d) == KCR_DEQUE_EMPTY);
    kcr_deque_free(&d);
}

static void full_deque_refuses_push(void) {
    struct kcr_deque d;
    CHECK(kcr_deque_init(&d, 4) == 0);
    for (int i = 0; i < 4; i++) CHECK(kcr_deque_push(&d, ITEM(i)));
    CHECK(!kcr_deque_push(&d, ITEM(9)));
    CHECK_EQ(kcr_deque_size(&d), 4);
    CHECK(kcr_deque_steal(&d) == ITEM(0));
    CHECK(kcr_deque_push(&d, ITEM(9))); /* the freed slot wraps around */
    kcr_deque_free(&d);
}

#define N 200000
static struct kcr_deque g_d;
static _Atomic uint32_t g_seen[N];
static _Atomic int g_done;
static _Atomic uint64_t g_stolen;

static void *thief(void *arg) {
    (void)arg;
    for (;;) {
        struct kcr_coro *x = kcr_deque_steal(&g_d);
        if (x == KCR_DEQUE_EMPTY) {
            if (atomic_load(&g_done)) break;
            continue;
        }
        if (x == KCR_DEQUE_ABORT) continue;
        atomic_fetch_add(&g_seen[INDEX(x)], 1);
        atomic_fetch_add(&g_stolen, 1);
    }
    return NULL;
}

static void concurrent_steal_loses_nothing(void) {
    CHECK(kcr_deque_init(&g_d, 1024) == 0);
    pthread_t t[2];
    for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, thief, NULL);
    uint64_t popped = 0;
    for (int i = 0; i < N; i++) {
        while (!kcr_deque_push(&g_d, ITEM(i))) {
            struct kcr_coro *x = kcr_deque_pop(&g_d);
            if (x) {
                atomic_fetch_add(&g_seen[INDEX(x)], 1);
                popped++;
            }
        }
        if (i % 3 == 0) {
            struct kcr_coro *x = kcr_deque_pop(&g_d);
            if (x) {
                atomic_fetch_add(&g_seen[INDEX(x)], 1);
                popped++;
            }
        }
    }
    struct kcr_coro *x;
    while ((x = kcr_deque_pop(&g_d))) {
        atomic_fetch_add(&g_seen[INDEX(x)], 1);
        popped++;
    }
    atomic_store(&g_done, 1);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < N; i++) CHECK_EQ(atomic_load(&g_seen[i]), 1);
    CHECK_EQ(popped + atomic_load(&g_stolen), N);
    kcr_deque_free(&g_d);
}

int main(void) {
    printf("test_deque\n");
    RUN(owner_is_lifo_thief_is_fifo);
    RUN(full_deque_refuses_push);
    RUN(concurrent_steal_loses_nothing);
    return 0;
}
