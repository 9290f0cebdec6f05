/*
 * kcs_producer.h — the producer API of the ring (header-only; part of
 * kcoro_stream.h): create or attach a ring, write frames (never blocking: a
 * frame that does not fit is dropped and counted), heartbeat, poll the
 * control area, close; the frame API over the msgpack writer. The layout and
 * the protocols these follow are in kcs_layout.h.
 */
#ifndef KCS_PRODUCER_H
#define KCS_PRODUCER_H

/* POSIX 2008 is needed (clock_gettime, O_CLOEXEC, ftruncate). Include this
 * header first, or build with -D_GNU_SOURCE / -D_POSIX_C_SOURCE=200809L. */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
/* <unistd.h> declares syscall() only under _DEFAULT_SOURCE / _GNU_SOURCE */
long syscall(long number, ...);
#endif

#include "kcs_crc32c.h"
#include "kcs_layout.h"
#include "kcs_msgpack.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ----------------------------------------------------------------- clocks */

static inline uint64_t kcs_now_ns(clockid_t clk) {
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}
static inline uint64_t kcs_monotonic_ns(void) { return kcs_now_ns(CLOCK_MONOTONIC); }

/* ------------------------------------------------------------ ring handle */

struct kcs_ring {
    struct kcs_ring_header *hdr;
    uint8_t *data;
    uint64_t mask;
    size_t map_len;
    uint64_t ctl_applied; /* producer side: last applied control sequence */
};

/* Error text for the last failed call on this thread's ring functions. */
static inline char *kcs_errbuf(void) {
    static _Thread_local char buf[256];
    return buf;
}
static inline const char *kcs_last_error(void) { return kcs_errbuf(); }

static inline int kcs__fail(const char *path, const char *what) {
    snprintf(kcs_errbuf(), 256, "%s: %s", path, what);
    return -1;
}

/* Create a ring file at `path` (e.g. "/dev/shm/kcoro-stream-<random>") with
 * mode 0600, O_EXCL. data_size must be a power of two in [4 KiB, 4 GiB].
 * Returns 0 and fills *r, or -1 with kcs_last_error() set. */
static inline int kcs_ring_create(struct kcs_ring *r, const char *path, uint64_t data_size,
                                  uint64_t interval_ns) {
    memset(r, 0, sizeof *r);
    if (data_size < KCS_MIN_DATA_SIZE || data_size > KCS_MAX_DATA_SIZE ||
        (data_size & (data_size - 1)) != 0)
        return kcs__fail(path, "ring data size must be a power of two between 4 KiB and 4 GiB");
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return kcs__fail(path, strerror(errno));
    size_t len = (size_t)(KCS_HEADER_SIZE + data_size);
    if (ftruncate(fd, (off_t)len) != 0) {
        int e = errno;
        close(fd);
        unlink(path);
        return kcs__fail(path, strerror(e));
    }
    void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED) {
        unlink(path);
        return kcs__fail(path, strerror(errno));
    }
    struct kcs_ring_header *h = (struct kcs_ring_header *)m;
    h->abi_major = KCS_ABI_MAJOR;
    h->abi_minor = KCS_ABI_MINOR;
    h->header_size = KCS_HEADER_SIZE;
    h->data_size = data_size;
    h->created_realtime_ns = kcs_now_ns(CLOCK_REALTIME);
    h->created_monotonic_ns = kcs_monotonic_ns();
    h->initial_interval_ns = interval_ns;
    atomic_store_explicit(&h->heartbeat_ns, h->created_monotonic_ns, memory_order_relaxed);
    /* relaxed: published with the rest by the release fence before magic */
    atomic_store_explicit(&h->producer_abi_minor, KCS_ABI_MINOR, memory_order_relaxed);
    /* relaxed: a producer that creates its own ring is its producer (the monitor's
     * reader clears both stamps again in kcs_reader_create); without the pid an
     * attached monitor could only judge liveness by the heartbeat */
    atomic_store_explicit(&h->producer_pid, (uint32_t)getpid(), memory_order_relaxed);
    /* release: the magic is written last so a reader that sees it sees the rest */
    atomic_thread_fence(memory_order_release);
    h->magic = KCS_MAGIC;
    r->hdr = h;
    r->data = (uint8_t *)m + KCS_HEADER_SIZE;
    r->mask = data_size - 1;
    r->map_len = len;
    return 0;
}

/* Map an existing ring and validate it: magic, major version, header size,
 * data size against the file. Used by producers and readers alike. */
static inline int kcs_ring_map(struct kcs_ring *r, const char *path) {
    memset(r, 0, sizeof *r);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) return kcs__fail(path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || (uint64_t)st.st_size < KCS_HEADER_SIZE) {
        close(fd);
        return kcs__fail(path, "truncated ring header (file smaller than 4096 bytes)");
    }
    void *m = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED) return kcs__fail(path, strerror(errno));
    struct kcs_ring_header *h = (struct kcs_ring_header *)m;
    char bad[160] = "";
    atomic_thread_fence(memory_order_acquire); /* acquire: pairs with the release before magic */
    if (h->magic != KCS_MAGIC)
        snprintf(bad, sizeof bad, "bad ring magic 0x%016llx (not a kcoro-stream ring)",
                 (unsigned long long)h->magic);
    else if (h->abi_major != KCS_ABI_MAJOR)
        snprintf(bad, sizeof bad, "ring ABI %u.%u is not supported (this side speaks %u.x)",
                 h->abi_major, h->abi_minor, KCS_ABI_MAJOR);
    else if (h->header_size != KCS_HEADER_SIZE)
        snprintf(bad, sizeof bad, "bad ring header size %u (expected %u)", h->header_size,
                 KCS_HEADER_SIZE);
    else if (h->data_size < KCS_MIN_DATA_SIZE || (h->data_size & (h->data_size - 1)) != 0 ||
             (uint64_t)st.st_size != KCS_HEADER_SIZE + h->data_size)
        snprintf(bad, sizeof bad, "ring data size %llu does not match the file size %llu",
                 (unsigned long long)h->data_size, (unsigned long long)st.st_size);
    if (bad[0]) {
        munmap(m, (size_t)st.st_size);
        return kcs__fail(path, bad);
    }
    r->hdr = h;
    r->data = (uint8_t *)m + KCS_HEADER_SIZE;
    r->mask = h->data_size - 1;
    r->map_len = (size_t)st.st_size;
    return 0;
}

/* Map an existing ring for producing (the ingester created it and passed us
 * the path) and stamp our pid into it. */
static inline int kcs_ring_attach(struct kcs_ring *r, const char *path) {
    if (kcs_ring_map(r, path) != 0) return -1;
    atomic_store_explicit(&r->hdr->producer_pid, (uint32_t)getpid(), memory_order_relaxed);
    atomic_store_explicit(&r->hdr->heartbeat_ns, kcs_monotonic_ns(), memory_order_relaxed);
    /* relaxed: a reader that loads a stale 0 just sleeps its timeout once more */
    atomic_store_explicit(&r->hdr->producer_abi_minor, KCS_ABI_MINOR, memory_order_relaxed);
    return 0;
}

/* futex(2) on a word of the shared mapping. Not _PRIVATE: the reader and the
 * producer are different processes. timeout NULL = none (only for WAKE). */
static inline long kcs__futex(_Atomic uint32_t *word, int op, uint32_t val, const struct timespec *timeout) {
#ifdef __linux__
    return syscall(SYS_futex, (uint32_t *)word, op, val, timeout, NULL, 0);
#else
    (void)word, (void)op, (void)val, (void)timeout;
    errno = ENOSYS;
    return -1;
#endif
}

/* Producer half of the wake-up protocol (kcs_layout.h): call after a release
 * store the reader waits for (write_pos, flags). */
static inline void kcs__wake_consumer(struct kcs_ring_header *h) {
    /* seq_cst fence F2: pairs with F1 in kcs_reader_wait; orders our store of
     * write_pos/flags before the load of waiting below */
    atomic_thread_fence(memory_order_seq_cst);
    /* relaxed: the fence above orders it; the common case (nobody waiting)
     * costs this load only, no syscall and no write to the consumer's line */
    if (atomic_load_explicit(&h->waiting, memory_order_relaxed) == 0) return;
    /* relaxed: the futex syscall orders it; 0 here means the consumer already
     * reset the word itself (timeout) or another wake took it: no syscall */
    if (atomic_exchange_explicit(&h->waiting, 0, memory_order_relaxed) != 0) {
#ifdef __linux__
        kcs__futex(&h->waiting, FUTEX_WAKE, INT_MAX, NULL);
#endif
    }
}

static inline void kcs__count_drop(struct kcs_ring_header *h, uint64_t len) {
    atomic_fetch_add_explicit(&h->frames_dropped, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->bytes_dropped, len, memory_order_relaxed);
}

/* Publish one frame. Never blocks: returns 1 when written, 0 when dropped
 * (ring full; counted, and the sequence number is consumed). */
static inline int kcs_ring_write(struct kcs_ring *r, const void *payload, uint32_t len) {
    struct kcs_ring_header *h = r->hdr;
    uint64_t seq = atomic_load_explicit(&h->next_seq, memory_order_relaxed);
    atomic_store_explicit(&h->next_seq, seq + 1, memory_order_relaxed);
    uint64_t size = r->mask + 1;
    uint32_t need = KCS_FRAME_HDR + kcs_align8(len);
    uint64_t wpos = atomic_load_explicit(&h->write_pos, memory_order_relaxed); /* own field */
    /* acquire: pairs with the release store of read_pos in kcs_reader_read, so the
     * reader has finished copying the bytes we are about to overwrite */
    uint64_t rpos = atomic_load_explicit(&h->read_pos, memory_order_acquire);
    uint64_t free_bytes = size - (wpos - rpos);
    uint64_t off = wpos & r->mask;
    uint64_t tail = size - off;
    uint64_t pad = (tail < need) ? tail : 0;
    if (len > KCS_FRAME_MAX_PAYLOAD || (uint64_t)need + pad > free_bytes) {
        kcs__count_drop(h, len);
        return 0;
    }
    if (pad) {
        if (tail >= KCS_FRAME_HDR) {
            uint32_t pl = KCS_FRAME_PAD | (uint32_t)(tail - KCS_FRAME_HDR);
            uint32_t zero = 0;
            uint64_t zseq = 0;
            memcpy(r->data + off, &pl, 4);
            memcpy(r->data + off + 4, &zero, 4);
            memcpy(r->data + off + 8, &zseq, 8);
        }
        wpos += tail;
        off = 0;
    }
    uint8_t *f = r->data + off;
    uint32_t crc = kcs_crc32c(0, payload, len);
    memcpy(f, &len, 4);
    memcpy(f + 4, &crc, 4);
    memcpy(f + 8, &seq, 8);
    memcpy(f + KCS_FRAME_HDR, payload, len);
    if (kcs_align8(len) != len) memset(f + KCS_FRAME_HDR + len, 0, kcs_align8(len) - len);
    /* release: pairs with the acquire load of write_pos in kcs_reader_read */
    atomic_store_explicit(&h->write_pos, wpos + need, memory_order_release);
    atomic_fetch_add_explicit(&h->frames_written, 1, memory_order_relaxed);
    kcs__wake_consumer(h); /* after the store the reader waits for */
    return 1;
}

/* Liveness: call every sampler tick, even when idle. */
static inline void kcs_ring_heartbeat(struct kcs_ring *r) {
    atomic_store_explicit(&r->hdr->heartbeat_ns, kcs_monotonic_ns(), memory_order_relaxed);
}

struct kcs_control {
    uint64_t seq;
    uint64_t interval_ns; /* 0 = unchanged */
    uint32_t paused;
    uint32_t stop;
    uint32_t cmd_len;
    uint8_t cmd[KCS_CTL_CMD_MAX];
};

/* Producer: poll the control area once per tick. Returns 1 and fills *c when a
 * new, consistent control record is available (and acknowledges it). */
static inline int kcs_ring_poll_control(struct kcs_ring *r, struct kcs_control *c) {
    struct kcs_ring_header *h = r->hdr;
    /* acquire: pairs with the consumer's final release store of ctl_seq */
    uint64_t s1 = atomic_load_explicit(&h->ctl_seq, memory_order_acquire);
    if ((s1 & 1u) || s1 == r->ctl_applied) return 0;
    c->seq = s1;
    c->interval_ns = atomic_load_explicit(&h->ctl_interval_ns, memory_order_relaxed);
    c->paused = atomic_load_explicit(&h->ctl_paused, memory_order_relaxed);
    c->stop = atomic_load_explicit(&h->ctl_stop, memory_order_relaxed);
    c->cmd_len = atomic_load_explicit(&h->ctl_cmd_len, memory_order_relaxed);
    if (c->cmd_len > KCS_CTL_CMD_MAX) c->cmd_len = KCS_CTL_CMD_MAX;
    memcpy(c->cmd, h->ctl_cmd, c->cmd_len);
    /* acquire fence: orders the field reads before the re-check (seqlock read side) */
    atomic_thread_fence(memory_order_acquire);
    if (atomic_load_explicit(&h->ctl_seq, memory_order_relaxed) != s1) return 0;
    r->ctl_applied = s1;
    /* release: pairs with the acquire in kcs_reader_ctl_ack */
    atomic_store_explicit(&h->ctl_ack, s1, memory_order_release);
    return 1;
}

/* Mark the run finished (no more frames) and unmap. The file stays for the
 * reader, which owns its removal. */
static inline void kcs_ring_close(struct kcs_ring *r) {
    if (!r->hdr) return;
    kcs_ring_heartbeat(r);
    /* release: pairs with the acquire of flags in kcs_reader_read; every frame
     * published before close is visible to a reader that sees CLOSED */
    atomic_fetch_or_explicit(&r->hdr->flags, KCS_FLAG_CLOSED, memory_order_release);
    kcs__wake_consumer(r->hdr); /* a waiting reader sees the end at once */
    munmap(r->hdr, r->map_len);
    r->hdr = NULL;
}

/* ------------------------------------------------------------ frame API */

/* A frame is a msgpack array of events. Begin it with the number of events it
 * will hold, write each event with its kcs_emit_* helper, then commit. */
static inline void kcs_frame_begin(struct kcs_mp *m, uint32_t nevents) {
    kcs_mp_reset(m);
    kcs_mp_array(m, nevents);
}
/* Returns 1 written, 0 dropped (ring full), -1 out of memory building it. */
static inline int kcs_frame_commit(struct kcs_ring *r, struct kcs_mp *m) {
    if (m->oom || m->len > KCS_FRAME_MAX_PAYLOAD) {
        /* count the loss and consume a sequence number so the reader sees the gap */
        atomic_fetch_add_explicit(&r->hdr->next_seq, 1, memory_order_relaxed);
        kcs__count_drop(r->hdr, m->len);
        return -1;
    }
    return kcs_ring_write(r, m->buf, (uint32_t)m->len);
}

#ifdef __cplusplus
}
#endif
#endif /* KCS_PRODUCER_H */
