/*
 * kcoro_stream.h — the kcoro-stream shared-memory ring, ABI v1.1 (header-only).
 *
 * One header holds the whole contract between a producer (a coroutine runtime
 * emitting counters) and the kcoro-stream ingester:
 *
 *   - the ring layout (header page + byte ring of frames),
 *   - the producer emit API (create/attach, begin/commit a frame, close),
 *   - a small msgpack writer for event arrays `[tag, ts_ns, source, ...]`,
 *   - CRC32C (Castagnoli), used by frames in the ring and in the event log.
 *
 * The events themselves are not written down here: kcs_events.h (the tags,
 * one struct and one typed kcs_emit_* helper per event) and kcs_hist.h (the
 * latency bucket scheme) are generated from kcoro_stream/events.py and
 * kcoro_stream/histo.py. Producers include kcs_events.h, which includes this
 * header; the kcs_mp_* functions below are the layer those helpers use.
 *
 * Layout of the shared-memory object (all little-endian):
 *
 *   offset 0      struct kcs_ring_header   (KCS_HEADER_SIZE = 4096 bytes)
 *                   line 0  identity: magic, abi, sizes, clocks, pid, flags
 *                   line 1  producer-written: write_pos, counters, heartbeat,
 *                           producer_abi_minor
 *                   line 2  consumer-written: read_pos, consumer pid, waiting
 *                   line 3+ control area (consumer writes, producer polls)
 *                   reserved up to 4096
 *   offset 4096   data[data_size]          (data_size is a power of two)
 *
 * A frame in `data` (and, byte for byte, a record in the event log):
 *
 *   u32 len | u32 crc32c(payload) | u64 seq | payload[len] | pad to 8 bytes
 *
 * `len` with KCS_FRAME_PAD set marks a pad frame: the rest of the ring up to
 * its end is unused and the reader continues at offset 0. When fewer than
 * KCS_FRAME_HDR bytes remain before the end, the pad is implicit. A frame
 * never wraps. Positions are free-running u64 byte counts, masked on use.
 *
 * Reader protocol (see kcs_ring_reader_* in native/reader/kcs_reader.c):
 *   1. acquire-load write_pos        (pairs with the release in kcs_ring_commit)
 *   2. read frames in [read_pos, write_pos)
 *   3. release-store read_pos        (pairs with the acquire in kcs_ring_commit's
 *                                     free-space check)
 * The producer never blocks: a frame that does not fit is dropped, counted in
 * frames_dropped/bytes_dropped, and its sequence number is still consumed, so
 * the reader sees a gap in `seq` and reports it as a RingLoss event.
 *
 * Wake-up protocol (ABI 1.1; kcs_reader_wait in native/reader/kcs_reader.c),
 * so an idle reader sleeps instead of polling. `waiting` is a futex word in
 * the consumer's line; the producer only ever clears it.
 *   consumer:  W  store waiting = 1
 *              F1 seq_cst fence
 *              R  load write_pos and flags; anything new: waiting = 0, return
 *              FUTEX_WAIT(&waiting, 1, bounded timeout); waiting = 0
 *   producer (after the release store of write_pos in kcs_ring_write, or of
 *   CLOSED in kcs_ring_close):
 *              F2 seq_cst fence
 *              R  load waiting; if != 0 and exchange(waiting, 0) != 0: FUTEX_WAKE
 * F1 pairs with F2 (the store-buffering pattern): of the two stores
 * (waiting = 1, write_pos/flags) at least one is seen by the other side's load
 * after its fence. Either the consumer sees the new frame and never sleeps, or
 * the producer sees waiting = 1, clears it and wakes; FUTEX_WAIT sleeps only
 * while the word is still 1, checked atomically in the kernel, so a wake that
 * lands between the consumer's check and its sleep makes the wait return at
 * once. No wake-up is lost; a spurious one only costs a re-check. The futex
 * is shared (FUTEX_WAIT, not _PRIVATE): the two sides are different
 * processes mapping the same file. The heartbeat does not wake the reader:
 * a frame or the close flag is what it waits for, and its bounded timeout
 * is what bounds how late it notices a stalled heartbeat.
 * Producers older than 1.1 never wake; they leave producer_abi_minor 0
 * (stamped by kcs_ring_attach/kcs_ring_create from 1.1 on; the header's
 * abi_minor names whoever created the ring, which may be the reader), and
 * the reader then simply sleeps its timeout.
 *
 * Control protocol (consumer → producer, a seqlock with one writer):
 *   consumer: ctl_seq = odd (release); write fields; ctl_seq = even (release)
 *   producer (once per tick): s1 = acquire ctl_seq; if odd or == last applied,
 *   skip; copy fields; acquire fence; s2 = relaxed ctl_seq; if s1 == s2 apply
 *   and release-store ctl_ack = s1.
 */
#ifndef KCORO_STREAM_H
#define KCORO_STREAM_H

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

#include "kcs_hist.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KCS_MAGIC UINT64_C(0x31474E495253434B) /* "KCSRING1" little-endian */
#define KCS_ABI_MAJOR 1u
#define KCS_ABI_MINOR 1u      /* 1: waiting / producer_abi_minor, wake-ups */
#define KCS_ABI_MINOR_WAKE 1u /* first minor whose producers wake a waiting reader */
#define KCS_HEADER_SIZE 4096u
#define KCS_CACHE_LINE 64u
#define KCS_FRAME_HDR 16u
#define KCS_FRAME_PAD 0x80000000u
#define KCS_FRAME_MAX_PAYLOAD (1u << 24)       /* 16 MiB: larger is corrupt */
#define KCS_MIN_DATA_SIZE (1u << 12)
#define KCS_MAX_DATA_SIZE (UINT64_C(1) << 32)
#define KCS_CTL_CMD_MAX 192u

#define KCS_FLAG_CLOSED 1u /* producer finished; no more frames */

/* ------------------------------------------------------------------ layout */

struct kcs_ring_header {
    /* line 0: identity, written once by the creator before anyone maps it */
    uint64_t magic;
    uint16_t abi_major;
    uint16_t abi_minor;
    uint32_t header_size;
    uint64_t data_size;
    uint64_t created_realtime_ns;
    uint64_t created_monotonic_ns;
    _Atomic uint32_t producer_pid; /* relaxed: informational, set on attach */
    _Atomic uint32_t flags;        /* release by kcs_ring_close; acquire by reader */
    uint64_t initial_interval_ns;
    uint8_t reserved0[KCS_CACHE_LINE - 56];

    /* line 1: producer-written */
    _Atomic uint64_t write_pos;      /* release: pairs with the acquire in kcs_reader_read */
    _Atomic uint64_t frames_written; /* relaxed: statistics */
    _Atomic uint64_t frames_dropped; /* relaxed: statistics, gap also visible in seq */
    _Atomic uint64_t bytes_dropped;  /* relaxed: statistics */
    _Atomic uint64_t heartbeat_ns;   /* relaxed: liveness, CLOCK_MONOTONIC */
    _Atomic uint64_t next_seq;       /* relaxed: only the producer uses it */
    _Atomic uint64_t ctl_ack;        /* release: pairs with acquire in kcs_reader_ctl_ack */
    /* relaxed: the producer's KCS_ABI_MINOR (0 = older than 1.1: never wakes), stored
     * by kcs_ring_attach/create, loaded by kcs_reader_wait to pick futex or sleep */
    _Atomic uint32_t producer_abi_minor;
    uint32_t reserved1a;

    /* line 2: consumer-written */
    _Atomic uint64_t read_pos;     /* release: pairs with the acquire in kcs_ring_commit */
    _Atomic uint32_t consumer_pid; /* relaxed: informational */
    /* futex word, 1 while the consumer may sleep (wake-up protocol, top of file):
     * set by kcs_reader_wait before its seq_cst fence (pairs with the producer's
     * fence in kcs__wake_consumer); cleared by the producer's exchange there */
    _Atomic uint32_t waiting;
    uint8_t reserved2[KCS_CACHE_LINE - 16];

    /* line 3+: control area, consumer-written seqlock (see top of file) */
    _Atomic uint64_t ctl_seq;         /* release by writer; acquire by kcs_ring_poll_control */
    _Atomic uint64_t ctl_interval_ns; /* 0 = unchanged */
    _Atomic uint32_t ctl_paused;      /* 1 = pause sampling output, 0 = run */
    _Atomic uint32_t ctl_stop;        /* 1 = producer should stop the run */
    _Atomic uint32_t ctl_cmd_len;
    uint32_t reserved3a;
    uint8_t ctl_cmd[KCS_CTL_CMD_MAX]; /* msgpack blob, producer-defined commands */

    uint8_t reserved[KCS_HEADER_SIZE - 3 * KCS_CACHE_LINE - 32 - KCS_CTL_CMD_MAX];
};

_Static_assert(sizeof(struct kcs_ring_header) == KCS_HEADER_SIZE, "header is one page");
_Static_assert(offsetof(struct kcs_ring_header, write_pos) == 1 * KCS_CACHE_LINE, "producer line");
_Static_assert(offsetof(struct kcs_ring_header, read_pos) == 2 * KCS_CACHE_LINE, "consumer line");
_Static_assert(offsetof(struct kcs_ring_header, ctl_seq) == 3 * KCS_CACHE_LINE, "control line");
_Static_assert(offsetof(struct kcs_ring_header, producer_abi_minor) == 1 * KCS_CACHE_LINE + 56,
               "1.1 field in line 1's former reserved space");
_Static_assert(offsetof(struct kcs_ring_header, waiting) == 2 * KCS_CACHE_LINE + 12,
               "1.1 futex word in line 2's former reserved space");
_Static_assert(sizeof(_Atomic uint32_t) == 4, "a futex word is 32 bits");
_Static_assert(sizeof(_Atomic uint64_t) == 8, "lock-free 64-bit atomics expected");

/* --------------------------------------------------------------- CRC32C */

static inline uint32_t kcs_crc32c_sw(uint32_t crc, const void *buf, size_t len) {
    static uint32_t table[8][256];
    static _Atomic int ready; /* acquire/release: table init published once */
    if (!atomic_load_explicit(&ready, memory_order_acquire)) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
            table[0][i] = c;
        }
        for (uint32_t i = 0; i < 256; i++)
            for (int t = 1; t < 8; t++)
                table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xFF];
        /* release: pairs with the acquire above; racing initialisers write equal values */
        atomic_store_explicit(&ready, 1, memory_order_release);
    }
    const uint8_t *p = (const uint8_t *)buf;
    crc = ~crc;
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        w ^= crc;
        crc = table[7][w & 0xFF] ^ table[6][(w >> 8) & 0xFF] ^ table[5][(w >> 16) & 0xFF] ^
              table[4][(w >> 24) & 0xFF] ^ table[3][(w >> 32) & 0xFF] ^
              table[2][(w >> 40) & 0xFF] ^ table[1][(w >> 48) & 0xFF] ^ table[0][w >> 56];
        p += 8;
        len -= 8;
    }
    while (len--) crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xFF];
    return ~crc;
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("sse4.2"))) static inline uint32_t kcs_crc32c_hw(uint32_t crc, const void *buf,
                                                                       size_t len) {
    const uint8_t *p = (const uint8_t *)buf;
    uint64_t c = ~crc;
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c = __builtin_ia32_crc32di(c, w);
        p += 8;
        len -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (len--) c32 = __builtin_ia32_crc32qi(c32, *p++);
    return ~c32;
}
#endif

/* CRC32C of buf, continuing from crc (0 to start). */
static inline uint32_t kcs_crc32c(uint32_t crc, const void *buf, size_t len) {
#if defined(__x86_64__) && defined(__GNUC__)
    static int have_hw = -1; /* benign race: every thread computes the same value */
    if (have_hw < 0) have_hw = __builtin_cpu_supports("sse4.2") ? 1 : 0;
    if (have_hw) return kcs_crc32c_hw(crc, buf, len);
#endif
    return kcs_crc32c_sw(crc, buf, len);
}

/* ----------------------------------------------------------------- clocks */

static inline uint64_t kcs_now_ns(clockid_t clk) {
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}
static inline uint64_t kcs_monotonic_ns(void) { return kcs_now_ns(CLOCK_MONOTONIC); }

static inline uint32_t kcs_align8(uint32_t n) { return (n + 7u) & ~7u; }

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

/* Producer half of the wake-up protocol (top of file): call after a release
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

/* ---------------------------------------------------------- msgpack writer */

/* A growable msgpack buffer. Frames are built here and then copied into the
 * ring by kcs_ring_write (kcs_frame_commit), so a frame's length is known
 * before any byte of the ring is touched. */
struct kcs_mp {
    uint8_t *buf;
    size_t len, cap;
    int oom;
};

static inline void kcs_mp_init(struct kcs_mp *m) { memset(m, 0, sizeof *m); }
static inline void kcs_mp_free(struct kcs_mp *m) {
    free(m->buf);
    memset(m, 0, sizeof *m);
}
static inline void kcs_mp_reset(struct kcs_mp *m) {
    m->len = 0;
    m->oom = 0;
}
static inline uint8_t *kcs_mp_reserve(struct kcs_mp *m, size_t n) {
    if (m->oom) return NULL;
    if (m->len + n > m->cap) {
        size_t nc = m->cap ? m->cap * 2 : 1024;
        while (nc < m->len + n) nc *= 2;
        uint8_t *nb = (uint8_t *)realloc(m->buf, nc);
        if (!nb) {
            m->oom = 1;
            return NULL;
        }
        m->buf = nb;
        m->cap = nc;
    }
    uint8_t *p = m->buf + m->len;
    m->len += n;
    return p;
}
static inline void kcs_mp_be(uint8_t *p, uint64_t v, int n) {
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (uint8_t)(v & 0xFF);
        v >>= 8;
    }
}
static inline void kcs_mp_head(struct kcs_mp *m, uint8_t tag, uint64_t v, int n) {
    uint8_t *p = kcs_mp_reserve(m, (size_t)(1 + n));
    if (!p) return;
    p[0] = tag;
    kcs_mp_be(p + 1, v, n);
}
static inline void kcs_mp_uint(struct kcs_mp *m, uint64_t v) {
    if (v < 128) kcs_mp_head(m, (uint8_t)v, 0, 0);
    else if (v <= 0xFF) kcs_mp_head(m, 0xcc, v, 1);
    else if (v <= 0xFFFF) kcs_mp_head(m, 0xcd, v, 2);
    else if (v <= 0xFFFFFFFFu) kcs_mp_head(m, 0xce, v, 4);
    else kcs_mp_head(m, 0xcf, v, 8);
}
static inline void kcs_mp_int(struct kcs_mp *m, int64_t v) {
    if (v >= 0) {
        kcs_mp_uint(m, (uint64_t)v);
        return;
    }
    if (v >= -32) kcs_mp_head(m, (uint8_t)(0xe0 | (uint8_t)(v + 32)), 0, 0);
    else if (v >= INT8_MIN) kcs_mp_head(m, 0xd0, (uint8_t)(int8_t)v, 1);
    else if (v >= INT16_MIN) kcs_mp_head(m, 0xd1, (uint16_t)(int16_t)v, 2);
    else if (v >= INT32_MIN) kcs_mp_head(m, 0xd2, (uint32_t)(int32_t)v, 4);
    else kcs_mp_head(m, 0xd3, (uint64_t)v, 8);
}
static inline void kcs_mp_nil(struct kcs_mp *m) { kcs_mp_head(m, 0xc0, 0, 0); }
static inline void kcs_mp_bool(struct kcs_mp *m, int b) { kcs_mp_head(m, b ? 0xc3 : 0xc2, 0, 0); }
static inline void kcs_mp_double(struct kcs_mp *m, double d) {
    uint64_t bits;
    memcpy(&bits, &d, 8);
    kcs_mp_head(m, 0xcb, bits, 8);
}
static inline void kcs_mp_array(struct kcs_mp *m, uint32_t n) {
    if (n < 16) kcs_mp_head(m, (uint8_t)(0x90 | n), 0, 0);
    else if (n <= 0xFFFF) kcs_mp_head(m, 0xdc, n, 2);
    else kcs_mp_head(m, 0xdd, n, 4);
}
static inline void kcs_mp_map(struct kcs_mp *m, uint32_t n) {
    if (n < 16) kcs_mp_head(m, (uint8_t)(0x80 | n), 0, 0);
    else if (n <= 0xFFFF) kcs_mp_head(m, 0xde, n, 2);
    else kcs_mp_head(m, 0xdf, n, 4);
}
static inline void kcs_mp_strn(struct kcs_mp *m, const char *s, uint32_t n) {
    if (n < 32) kcs_mp_head(m, (uint8_t)(0xa0 | n), 0, 0);
    else if (n <= 0xFF) kcs_mp_head(m, 0xd9, n, 1);
    else if (n <= 0xFFFF) kcs_mp_head(m, 0xda, n, 2);
    else kcs_mp_head(m, 0xdb, n, 4);
    uint8_t *p = kcs_mp_reserve(m, n);
    if (p) memcpy(p, s, n);
}
static inline void kcs_mp_str(struct kcs_mp *m, const char *s) {
    kcs_mp_strn(m, s ? s : "", (uint32_t)strlen(s ? s : ""));
}
/* Bytes that already are msgpack (e.g. a map encoded into another kcs_mp),
 * copied verbatim. */
static inline void kcs_mp_raw(struct kcs_mp *m, const void *p, size_t n) {
    uint8_t *d = kcs_mp_reserve(m, n);
    if (d && n) memcpy(d, p, n);
}
/* Event prefix: array header of `nfields + 3` then tag, ts_ns, source. The
 * generated kcs_emit_* helpers (kcs_events.h) call it with the right count;
 * use it directly only for an event the generator does not know. */
static inline void kcs_mp_event(struct kcs_mp *m, uint32_t nfields, uint32_t tag, uint64_t ts_ns,
                                uint32_t source) {
    kcs_mp_array(m, nfields + 3);
    kcs_mp_uint(m, (uint64_t)tag);
    kcs_mp_uint(m, ts_ns);
    kcs_mp_uint(m, source);
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
#endif /* KCORO_STREAM_H */
