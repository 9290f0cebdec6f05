/*
 * kcs_layout.h — the kcoro-stream shared-memory ring, ABI v1.1: the layout
 * of the shared object and of a frame, and the protocols both sides follow
 * (header-only; part of kcoro_stream.h, the header users include).
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
 * Reader protocol (kcs_reader_* in native/reader/kcs_reader.c):
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
#ifndef KCS_LAYOUT_H
#define KCS_LAYOUT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

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

/* A frame's payload is padded to 8 bytes in the ring and in the event log. */
static inline uint32_t kcs_align8(uint32_t n) { return (n + 7u) & ~7u; }

#ifdef __cplusplus
}
#endif
#endif /* KCS_LAYOUT_H */
