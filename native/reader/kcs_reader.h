/*
 * kcs_reader.h — the consumer side of the kcoro-stream ring, compiled into
 * real symbols (native/reader/kcs_reader.c) for the Python cffi module.
 * Python never touches the header layout: it calls these functions, which
 * validate the ring and copy many frames per call with proper atomics.
 * Only plain types cross this boundary, so the cffi cdef is this file.
 */
#ifndef KCS_READER_H
#define KCS_READER_H
#include <stddef.h>
#include <stdint.h>

typedef struct kcs_reader kcs_reader;

/* A snapshot of the ring header (plain fields, atomics loaded). */
typedef struct {
    uint64_t magic;
    uint32_t abi_major, abi_minor, header_size;
    uint64_t data_size;
    uint64_t created_realtime_ns, created_monotonic_ns;
    uint32_t producer_pid, consumer_pid, flags;
    uint64_t initial_interval_ns;
    uint64_t write_pos, read_pos;
    uint64_t frames_written, frames_dropped, bytes_dropped;
    uint64_t heartbeat_ns, next_seq, ctl_seq, ctl_ack;
    /* ABI 1.1: the attached producer's minor (0: older, or none attached yet)
     * and whether kcs_reader_wait can be woken by it (else it sleeps) */
    uint32_t producer_abi_minor, producer_wakes;
    /* this reader's kcs_reader_wait account: calls that blocked (waits), of
     * them woken by the producer (wakeups) and ended by the timeout (timeouts) */
    uint64_t waits, wakeups, wait_timeouts;
    /* the ring file is shorter than the mapping (truncated under us): nothing
     * else in this snapshot was read, and kcs_reader_read returns -3 */
    uint32_t truncated;
} kcs_ring_info;

/* A loss the reader found: sequence numbers that produced no good frame.
 * The reader is the only authority on losses: each lost sequence number is
 * reported exactly once, as "dropped" (the producer found the ring full and
 * consumed the number without writing) or "corrupt" (a record whose length or
 * CRC was wrong). `before` is the index of the good frame it precedes in this
 * call's output (== nframes: after the last one). */
enum { KCS_LOSS_DROPPED = 1, KCS_LOSS_CORRUPT = 2, KCS_READ_MAX_LOSSES = 16 };
typedef struct {
    uint32_t before;
    uint32_t reason;        /* KCS_LOSS_* */
    uint64_t frames;        /* sequence numbers lost (corrupt: records rejected) */
    uint64_t bytes;         /* dropped: bytes the producer could not write; corrupt: bytes skipped */
    uint64_t seq_from;      /* first missing sequence number */
    uint64_t seq_to;        /* first sequence number after the loss */
} kcs_loss;

/* Result of one read call. Frames are copied as-is (16-byte header, payload,
 * padding) into the caller's buffer; off[i]/len[i]/seq[i]/ts[i] describe them. */
typedef struct {
    uint32_t nframes;       /* good frames copied */
    uint64_t bytes;         /* bytes of out[] used */
    uint32_t closed;        /* producer closed and everything was read */
    uint32_t nlosses;
    kcs_loss losses[16]; /* KCS_READ_MAX_LOSSES (a literal: the header is also the cffi cdef) */
} kcs_read_result;

/* Byte offsets of header fields (offsetof in C), for tools and tests that
 * must poke at raw bytes without mirroring the layout. */
typedef struct {
    uint32_t header_size, magic, abi_major, abi_minor, data_size, write_pos, read_pos, flags,
        producer_pid, heartbeat_ns, next_seq, ctl_seq, producer_abi_minor, waiting;
} kcs_ring_layout;
void kcs_layout(kcs_ring_layout *out);

/* Open an existing ring read-only for frames (read_pos is written). Returns
 * NULL and writes a one-line message into err on failure. */
kcs_reader *kcs_reader_open(const char *path, char *err, size_t errlen);
/* Create a ring (mode 0600, O_EXCL) and open it as its reader. */
kcs_reader *kcs_reader_create(const char *path, uint64_t data_size, uint64_t interval_ns, char *err,
                              size_t errlen);
void kcs_reader_close(kcs_reader *r);
void kcs_reader_info(kcs_reader *r, kcs_ring_info *out);
/* Copy up to max_frames frames / out_cap bytes. Never blocks. Returns the
 * frames copied, -2 when out_cap is smaller than the next frame, -3 when the
 * ring file was truncated under us (the mapping can no longer be read). */
int kcs_reader_read(kcs_reader *r, uint8_t *out, uint64_t out_cap, uint32_t *off, uint32_t *len,
                    uint64_t *seq, uint64_t *ts, uint32_t max_frames, kcs_read_result *res);
/* End of the run (ring closed and drained, or producer lost): report what is
 * still unaccounted for — sequence numbers the producer consumed after the
 * last good frame, and corrupt records with no good frame after them — as
 * losses with before == 0. Returns the number of losses written. */
uint32_t kcs_reader_finish(kcs_reader *r, kcs_read_result *res);
/* Block until the producer publishes a frame or closes the ring, at most
 * timeout_ns. Returns 1 at once when unread data is there or the ring is
 * closed, 1 after a wait that ended with either, 0 when the timeout passed
 * with neither (or kcs_reader_wake interrupted it). Spurious futex returns
 * are absorbed: it waits again until the deadline. A producer of ABI >= 1.1
 * wakes it through a futex in the ring; with an older one (info
 * producer_wakes == 0) it sleeps the whole timeout, so callers can use it
 * uniformly and pick a short timeout there. Call it from one thread, not
 * concurrently with kcs_reader_read on the same reader. */
int kcs_reader_wait(kcs_reader *r, uint64_t timeout_ns);
/* Coalesced wake-ups: kcs_reader_wait(timeout_ns), and once data is there,
 * keep waiting for more until `hold_ns` has passed (never past timeout_ns from
 * the call), `min_bytes` are unread (a filling ring never waits out the hold),
 * the ring closes or kcs_reader_wake is called. hold_ns 0 is kcs_reader_wait.
 * With a producer older than 1.1 (it wakes nobody) there is no hold. Returns
 * as kcs_reader_wait. One wake-up then hands the caller many frames. */
int kcs_reader_wait_batch(kcs_reader *r, uint64_t timeout_ns, uint64_t hold_ns, uint64_t min_bytes);
/* From another thread: make the current (or, if none is blocked, the next)
 * kcs_reader_wait return 0 now, e.g. at shutdown. Ends futex waits only; the
 * sleep for an older producer runs its timeout. */
void kcs_reader_wake(kcs_reader *r);
/* The notifier, for event loops: a C thread that, after each kcs_reader_arm,
 * runs one kcs_reader_wait(timeout_ns) and then makes the returned eventfd
 * readable (the caller reads 8 bytes to reset it). The caller must not call
 * kcs_reader_read between arming and seeing the eventfd. Start returns the fd
 * (-1 on error); stop (also done by kcs_reader_close) ends and joins the thread. */
int kcs_reader_notifier_start(kcs_reader *r);
void kcs_reader_arm(kcs_reader *r, uint64_t timeout_ns);
/* kcs_reader_arm with kcs_reader_wait_batch's hold and watermark. */
void kcs_reader_arm_batch(kcs_reader *r, uint64_t timeout_ns, uint64_t hold_ns, uint64_t min_bytes);
void kcs_reader_notifier_stop(kcs_reader *r);
/* ts_ns of the first event of a frame payload (msgpack [[tag, ts_ns, ...], ...]),
 * or 0 when the payload does not start that way. Lets the log index frames
 * by time without decoding them. */
uint64_t kcs_frame_first_ts(const uint8_t *payload, uint32_t len);
/* Consumer control write (seqlock writer). interval_ns 0 = unchanged. */
uint64_t kcs_reader_control(kcs_reader *r, uint64_t interval_ns, uint32_t paused, uint32_t stop,
                            const uint8_t *cmd, uint32_t cmd_len);
uint64_t kcs_reader_ctl_ack(kcs_reader *r);
uint64_t kcs_monotonic_now(void);
uint64_t kcs_realtime_now(void);
uint32_t kcs_crc32c_buf(uint32_t crc, const uint8_t *buf, size_t len);
int kcs_pid_alive(uint32_t pid);

/* The scripted test producer (native/testprod/synthetic_producer.c), for tests and
 * `kcoro-stream run --producer synthetic`. argv-style; returns an exit code. */
int kcs_synthetic_main(int argc, char **argv);
#endif
