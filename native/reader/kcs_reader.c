/*
 * kcs_reader.c — consumer side of the kcoro-stream ring (see kcoro_stream.h
 * for the protocols: reading, control, wake-ups). Compiled into the cffi
 * module kcoro_stream._native. Linux: kcs_reader_wait uses futex(2).
 */
#include "kcoro_stream.h"

#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>

#include "kcs_reader.h"

struct kcs_reader {
    struct kcs_ring ring;
    uint64_t rpos;          /* local copy of read_pos; we are its only writer */
    uint64_t expected_seq;  /* next sequence number we expect */
    int have_seq;           /* expected_seq is known (always for a ring we created) */
    /* Corrupt records since the last good frame. Their own sequence field is
     * not trusted (the CRC failed), so they are matched against the gap the
     * next good frame reveals: the reader reports every lost number once. */
    uint64_t pend_corrupt, pend_corrupt_bytes;
    uint64_t dropped_bytes_seen; /* header bytes_dropped already attributed */
    /* kcs_reader_wait's account; relaxed atomics so kcs_reader_info may read
     * them from another thread while a wait runs */
    _Atomic uint64_t waits, wakeups, wait_timeouts;
    _Atomic uint32_t interrupt; /* set by kcs_reader_wake, consumed by kcs_reader_wait */
    /* The notifier (kcs_reader_notifier_start): a C thread that runs one
     * kcs_reader_wait per kcs_reader_arm and then writes the eventfd, so an
     * event loop waits on a file descriptor. `armed` is its futex word:
     * idle, armed (a wait is requested) or stop (see notifier_main). */
    int notify_fd;
    int notifier_running;
    /* The ring file, kept open to notice it shrinking under us: a mapping past
     * the end of a truncated file faults (SIGBUS) on the next access. */
    int map_fd;
    pthread_t notifier;
    _Atomic uint32_t armed;
    _Atomic uint64_t arm_timeout_ns, arm_hold_ns, arm_min_bytes;
};

static void set_err(char *err, size_t errlen, const char *msg) {
    if (err && errlen) snprintf(err, errlen, "%s", msg);
}

static kcs_reader *wrap(struct kcs_ring *ring) {
    kcs_reader *r = (kcs_reader *)calloc(1, sizeof *r);
    if (!r) return NULL;
    r->notify_fd = -1;
    r->map_fd = -1;
    r->ring = *ring;
    /* acquire: pairs with our own earlier release stores when re-attaching */
    r->rpos = atomic_load_explicit(&ring->hdr->read_pos, memory_order_acquire);
    atomic_store_explicit(&ring->hdr->consumer_pid, (uint32_t)getpid(), memory_order_relaxed);
    return r;
}

/* The ring file got shorter than our mapping (someone truncated it): touching
 * the mapping now would raise SIGBUS, so every entry point checks first. This
 * narrows the window to the instants between a check and the accesses after
 * it; closing it fully would need a SIGBUS handler, which a library must not
 * install behind its host's back. */
static int truncated(kcs_reader *r) {
    struct stat st;
    return r->map_fd >= 0 && fstat(r->map_fd, &st) == 0 && (uint64_t)st.st_size < r->ring.map_len;
}

static void keep_fd(kcs_reader *r, const char *path) {
    r->map_fd = open(path, O_RDONLY | O_CLOEXEC);
}

kcs_reader *kcs_reader_open(const char *path, char *err, size_t errlen) {
    struct kcs_ring ring;
    if (kcs_ring_map(&ring, path) != 0) {
        set_err(err, errlen, kcs_last_error());
        return NULL;
    }
    kcs_reader *r = wrap(&ring);
    if (!r) {
        set_err(err, errlen, "out of memory");
        return NULL;
    }
    /* Nothing read yet: frames start at sequence 0, so early drops are gaps too. */
    if (r->rpos == 0) r->have_seq = 1;
    keep_fd(r, path);
    return r;
}

kcs_reader *kcs_reader_create(const char *path, uint64_t data_size, uint64_t interval_ns, char *err,
                              size_t errlen) {
    struct kcs_ring ring;
    if (kcs_ring_create(&ring, path, data_size, interval_ns) != 0) {
        set_err(err, errlen, kcs_last_error());
        return NULL;
    }
    /* kcs_ring_create stamped our minor as the producer's; no producer has
     * attached yet (the path is not handed out until we return), so clear it.
     * relaxed: the producer maps the file later, after this store */
    atomic_store_explicit(&ring.hdr->producer_abi_minor, 0, memory_order_relaxed);
    atomic_store_explicit(&ring.hdr->producer_pid, 0, memory_order_relaxed); /* likewise: not ours */
    kcs_reader *r = wrap(&ring);
    if (!r) {
        set_err(err, errlen, "out of memory");
        return NULL;
    }
    r->have_seq = 1; /* a new ring: the first frame is sequence 0 */
    keep_fd(r, path);
    return r;
}

void kcs_reader_close(kcs_reader *r) {
    if (!r) return;
    kcs_reader_notifier_stop(r); /* no thread may wait on a ring we unmap */
    munmap(r->ring.hdr, r->ring.map_len);
    if (r->map_fd >= 0) close(r->map_fd);
    free(r);
}

void kcs_reader_info(kcs_reader *r, kcs_ring_info *o) {
    struct kcs_ring_header *h = r->ring.hdr;
    memset(o, 0, sizeof *o);
    if (truncated(r)) {
        o->truncated = 1;
        return;
    }
    o->magic = h->magic;
    o->abi_major = h->abi_major;
    o->abi_minor = h->abi_minor;
    o->header_size = h->header_size;
    o->data_size = h->data_size;
    o->created_realtime_ns = h->created_realtime_ns;
    o->created_monotonic_ns = h->created_monotonic_ns;
    o->producer_pid = atomic_load_explicit(&h->producer_pid, memory_order_relaxed);
    o->consumer_pid = atomic_load_explicit(&h->consumer_pid, memory_order_relaxed);
    /* acquire: pairs with the release in kcs_ring_close */
    o->flags = atomic_load_explicit(&h->flags, memory_order_acquire);
    o->initial_interval_ns = h->initial_interval_ns;
    /* acquire: pairs with the release in kcs_ring_write */
    o->write_pos = atomic_load_explicit(&h->write_pos, memory_order_acquire);
    o->read_pos = r->rpos;
    o->frames_written = atomic_load_explicit(&h->frames_written, memory_order_relaxed);
    o->frames_dropped = atomic_load_explicit(&h->frames_dropped, memory_order_relaxed);
    o->bytes_dropped = atomic_load_explicit(&h->bytes_dropped, memory_order_relaxed);
    o->heartbeat_ns = atomic_load_explicit(&h->heartbeat_ns, memory_order_relaxed);
    o->next_seq = atomic_load_explicit(&h->next_seq, memory_order_relaxed);
    o->ctl_seq = atomic_load_explicit(&h->ctl_seq, memory_order_relaxed);
    /* acquire: pairs with the release in kcs_ring_poll_control */
    o->ctl_ack = atomic_load_explicit(&h->ctl_ack, memory_order_acquire);
    /* relaxed: informational, stored once by kcs_ring_attach / kcs_ring_create */
    o->producer_abi_minor = atomic_load_explicit(&h->producer_abi_minor, memory_order_relaxed);
    o->producer_wakes = o->producer_abi_minor >= KCS_ABI_MINOR_WAKE;
    /* relaxed: statistics of this reader */
    o->waits = atomic_load_explicit(&r->waits, memory_order_relaxed);
    o->wakeups = atomic_load_explicit(&r->wakeups, memory_order_relaxed);
    o->wait_timeouts = atomic_load_explicit(&r->wait_timeouts, memory_order_relaxed);
}

/* Unread frames, or closed: what kcs_reader_wait waits for. */
static int ready(kcs_reader *r) {
    struct kcs_ring_header *h = r->ring.hdr;
    if (truncated(r)) return 1; /* "ready": the caller's next read reports it */
    /* acquire: pairs with the release store of write_pos in kcs_ring_write */
    if (atomic_load_explicit(&h->write_pos, memory_order_acquire) != r->rpos) return 1;
    /* acquire: pairs with the release in kcs_ring_close */
    return (atomic_load_explicit(&h->flags, memory_order_acquire) & KCS_FLAG_CLOSED) != 0;
}

/* relaxed: statistics, read by kcs_reader_info */
static void count(_Atomic uint64_t *c) { atomic_fetch_add_explicit(c, 1, memory_order_relaxed); }

int kcs_reader_wait(kcs_reader *r, uint64_t timeout_ns) {
    struct kcs_ring_header *h = r->ring.hdr;
    if (ready(r)) return 1;
    if (timeout_ns == 0) return 0;
    count(&r->waits);
    /* relaxed: a stale 0 (a producer attaching right now) costs one sleep */
    uint32_t minor = atomic_load_explicit(&h->producer_abi_minor, memory_order_relaxed);
    if (minor < KCS_ABI_MINOR_WAKE) {
        /* An older producer never looks at `waiting`: sleep the timeout. */
        struct timespec ts = {(time_t)(timeout_ns / 1000000000u), (long)(timeout_ns % 1000000000u)};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        }
        int got = ready(r);
        if (!got) count(&r->wait_timeouts);
        return got;
    }
    uint64_t deadline = kcs_monotonic_ns() + timeout_ns;
    for (;;) {
        if (truncated(r)) return 1; /* the caller's read reports it; the header is gone */
        /* relaxed: ordered before the re-checks by the fence below */
        atomic_store_explicit(&h->waiting, 1, memory_order_relaxed);
        /* seq_cst fence F1: pairs with F2 in kcs__wake_consumer (kcoro_stream.h) and
         * with the fence in kcs_reader_wake: our waiting = 1 is seen by the waker,
         * or we see its write_pos / flags / interrupt below */
        atomic_thread_fence(memory_order_seq_cst);
        int got = ready(r);
        /* relaxed: ordered by the fence above; consumes one kcs_reader_wake */
        int interrupted = !got && atomic_exchange_explicit(&r->interrupt, 0, memory_order_relaxed);
        uint64_t now = kcs_monotonic_ns();
        if (got || interrupted || now >= deadline) {
            /* relaxed: our own word; a waker that saw the 1 finds 0 and skips the syscall,
             * or its FUTEX_WAKE finds nobody (a later wait treats it as spurious) */
            atomic_store_explicit(&h->waiting, 0, memory_order_relaxed);
            if (!got) count(&r->wait_timeouts);
            return got;
        }
        uint64_t left = deadline - now;
        struct timespec ts = {(time_t)(left / 1000000000u), (long)(left % 1000000000u)};
        /* sleeps only while waiting is still 1 (the kernel checks it atomically),
         * at most `left`; 0 = woken, EAGAIN = cleared before we slept */
        long rc = kcs__futex(&h->waiting, FUTEX_WAIT, 1, &ts);
        int woken = rc == 0 || errno == EAGAIN;
        if (truncated(r)) return 1;
        /* relaxed: reset our own word (after a timeout or a signal it is still 1) */
        atomic_store_explicit(&h->waiting, 0, memory_order_relaxed);
        if (ready(r)) {
            if (woken) count(&r->wakeups);
            return 1;
        }
        /* a wake meant for an earlier wait that had already returned, a signal,
         * or the timeout: the loop re-arms, or ends at the deadline */
    }
}

/* Bytes published and not yet read (write_pos and read positions only grow). */
static uint64_t unread_bytes(kcs_reader *r) {
    /* acquire: pairs with the release store of write_pos in kcs_ring_write */
    return atomic_load_explicit(&r->ring.hdr->write_pos, memory_order_acquire) - r->rpos;
}

static int closed_flag(kcs_reader *r) {
    /* acquire: pairs with the release in kcs_ring_close */
    return (atomic_load_explicit(&r->ring.hdr->flags, memory_order_acquire) & KCS_FLAG_CLOSED) != 0;
}

/* Block until write_pos moves past `seen`, the ring closes, kcs_reader_wake is
 * called (returns 0, consuming it) or `left_ns` passes; the same futex
 * protocol as kcs_reader_wait, with another condition. */
static int wait_for_more(kcs_reader *r, uint64_t seen, uint64_t left_ns) {
    struct kcs_ring_header *h = r->ring.hdr;
    uint64_t deadline = kcs_monotonic_ns() + left_ns;
    for (;;) {
        if (truncated(r)) return 1;
        /* relaxed: ordered before the re-checks by the fence below */
        atomic_store_explicit(&h->waiting, 1, memory_order_relaxed);
        /* seq_cst fence: as F1 in kcs_reader_wait */
        atomic_thread_fence(memory_order_seq_cst);
        /* acquire: pairs with the release store of write_pos in kcs_ring_write */
        int moved = atomic_load_explicit(&h->write_pos, memory_order_acquire) != seen || closed_flag(r);
        /* relaxed: ordered by the fence above; consumes one kcs_reader_wake */
        int interrupted = !moved && atomic_exchange_explicit(&r->interrupt, 0, memory_order_relaxed);
        uint64_t now = kcs_monotonic_ns();
        if (moved || interrupted || now >= deadline) {
            /* relaxed: our own word */
            atomic_store_explicit(&h->waiting, 0, memory_order_relaxed);
            return !interrupted;
        }
        uint64_t left = deadline - now;
        struct timespec ts = {(time_t)(left / 1000000000u), (long)(left % 1000000000u)};
        kcs__futex(&h->waiting, FUTEX_WAIT, 1, &ts);
        /* relaxed: reset our own word (after a timeout or a signal it is still 1) */
        atomic_store_explicit(&h->waiting, 0, memory_order_relaxed);
    }
}

int kcs_reader_wait_batch(kcs_reader *r, uint64_t timeout_ns, uint64_t hold_ns, uint64_t min_bytes) {
    uint64_t start = kcs_monotonic_ns();
    if (!kcs_reader_wait(r, timeout_ns)) return 0;
    if (hold_ns == 0 || truncated(r)) return 1;
    /* relaxed: a stale 0 (a producer attaching right now) ends the hold at once */
    if (atomic_load_explicit(&r->ring.hdr->producer_abi_minor, memory_order_relaxed) < KCS_ABI_MINOR_WAKE)
        return 1; /* an older producer wakes nobody: no waiting for more */
    uint64_t now = kcs_monotonic_ns();
    uint64_t until = now + hold_ns;
    if (timeout_ns > 0 && until > start + timeout_ns) until = start + timeout_ns;
    while (now < until && !truncated(r) && !closed_flag(r) && unread_bytes(r) < min_bytes) {
        /* acquire: pairs with the release store of write_pos in kcs_ring_write */
        uint64_t seen = atomic_load_explicit(&r->ring.hdr->write_pos, memory_order_acquire);
        if (!wait_for_more(r, seen, until - now)) break; /* kcs_reader_wake: deliver what is there now */
        now = kcs_monotonic_ns();
    }
    return 1;
}

void kcs_reader_wake(kcs_reader *r) {
    struct kcs_ring_header *h = r->ring.hdr;
    /* relaxed: ordered before the load of waiting by the fence below */
    atomic_store_explicit(&r->interrupt, 1, memory_order_relaxed);
    /* seq_cst fence: pairs with F1 in kcs_reader_wait (as the producer's F2 does) */
    atomic_thread_fence(memory_order_seq_cst);
    if (truncated(r)) return; /* the header is gone; a waiter re-checks within its loop */
    /* relaxed: the futex syscall orders the rest; 0 = nobody is blocked */
    if (atomic_exchange_explicit(&h->waiting, 0, memory_order_relaxed) != 0)
        kcs__futex(&h->waiting, FUTEX_WAKE, INT_MAX, NULL);
}

static int mp_skip_array_header(const uint8_t *p, uint32_t len, uint32_t *pos) {
    if (*pos >= len) return -1;
    uint8_t b = p[*pos];
    if ((b & 0xF0) == 0x90) *pos += 1;
    else if (b == 0xdc) *pos += 3;
    else if (b == 0xdd) *pos += 5;
    else return -1;
    return *pos <= len ? 0 : -1;
}

static int mp_read_uint(const uint8_t *p, uint32_t len, uint32_t *pos, uint64_t *v) {
    if (*pos >= len) return -1;
    uint8_t b = p[(*pos)++];
    int n;
    if (b < 0x80) {
        *v = b;
        return 0;
    }
    switch (b) {
    case 0xcc: n = 1; break;
    case 0xcd: n = 2; break;
    case 0xce: n = 4; break;
    case 0xcf: n = 8; break;
    default: return -1;
    }
    if (*pos + (uint32_t)n > len) return -1;
    uint64_t x = 0;
    for (int i = 0; i < n; i++) x = (x << 8) | p[*pos + (uint32_t)i];
    *pos += (uint32_t)n;
    *v = x;
    return 0;
}

uint64_t kcs_frame_first_ts(const uint8_t *p, uint32_t len) {
    uint32_t pos = 0;
    uint64_t tag, ts;
    if (mp_skip_array_header(p, len, &pos) || mp_skip_array_header(p, len, &pos) ||
        mp_read_uint(p, len, &pos, &tag) || mp_read_uint(p, len, &pos, &ts))
        return 0;
    return ts;
}

_Static_assert(sizeof(((kcs_read_result *)0)->losses) / sizeof(kcs_loss) == KCS_READ_MAX_LOSSES,
               "kcs_read_result.losses holds KCS_READ_MAX_LOSSES entries");

static void add_loss(kcs_read_result *res, uint32_t before, uint32_t reason, uint64_t frames,
                     uint64_t bytes, uint64_t from, uint64_t to) {
    kcs_loss *l = &res->losses[res->nlosses++];
    l->before = before;
    l->reason = reason;
    l->frames = frames;
    l->bytes = bytes;
    l->seq_from = from;
    l->seq_to = to;
}

/* Account for everything between the last good frame and sequence `upto`
 * (the next good frame's number, or the producer's next_seq at the end):
 * corrupt records first, the rest of the gap as drops. Needs two free slots. */
static void settle(kcs_reader *r, kcs_read_result *res, uint32_t before, uint64_t upto) {
    uint64_t from = r->expected_seq;
    uint64_t gap = (r->have_seq && upto > from) ? upto - from : 0;
    uint64_t corrupt = r->pend_corrupt;
    if (r->have_seq && corrupt > gap) corrupt = gap ? gap : corrupt;
    if (corrupt || r->pend_corrupt_bytes) {
        uint64_t to = r->have_seq ? from + (corrupt < gap ? corrupt : gap) : upto;
        add_loss(res, before, KCS_LOSS_CORRUPT, corrupt, r->pend_corrupt_bytes, r->have_seq ? from : upto,
                 to);
    }
    if (gap > corrupt) {
        uint64_t dropped_bytes = atomic_load_explicit(&r->ring.hdr->bytes_dropped, memory_order_relaxed);
        add_loss(res, before, KCS_LOSS_DROPPED, gap - corrupt, dropped_bytes - r->dropped_bytes_seen,
                 from + corrupt, upto);
        r->dropped_bytes_seen = dropped_bytes;
    }
    r->pend_corrupt = r->pend_corrupt_bytes = 0;
}

int kcs_reader_read(kcs_reader *r, uint8_t *out, uint64_t out_cap, uint32_t *off, uint32_t *len,
                    uint64_t *seq, uint64_t *ts, uint32_t max_frames, kcs_read_result *res) {
    struct kcs_ring_header *h = r->ring.hdr;
    const uint64_t size = r->ring.mask + 1;
    if (truncated(r)) return -3;
    res->nframes = 0;
    res->bytes = 0;
    res->closed = 0;
    res->nlosses = 0;
    /* acquire: pairs with the release in kcs_ring_close. Loaded before write_pos, so
     * a CLOSED flag seen here means every frame is already covered by write_pos. */
    uint32_t flags = atomic_load_explicit(&h->flags, memory_order_acquire);
    /* acquire: pairs with the release store of write_pos in kcs_ring_write */
    uint64_t w = atomic_load_explicit(&h->write_pos, memory_order_acquire);
    uint64_t rpos = r->rpos;
    if (w - rpos > size) { /* impossible unless the header is corrupt */
        r->pend_corrupt++;
        r->pend_corrupt_bytes += w - rpos;
        rpos = w;
    }
    uint64_t used = 0;
    uint32_t n = 0;
    /* Each good frame may settle up to two losses; stop while two slots remain free. */
    while (rpos < w && n < max_frames && res->nlosses + 2u <= (uint32_t)KCS_READ_MAX_LOSSES) {
        uint64_t o = rpos & r->ring.mask;
        uint64_t tail = size - o;
        if (tail < KCS_FRAME_HDR) { /* implicit pad */
            rpos += tail;
            continue;
        }
        const uint8_t *f = r->ring.data + o;
        uint32_t flen, fcrc;
        uint64_t fseq;
        memcpy(&flen, f, 4);
        memcpy(&fcrc, f + 4, 4);
        memcpy(&fseq, f + 8, 8);
        if (flen & KCS_FRAME_PAD) {
            if ((uint64_t)(flen & ~KCS_FRAME_PAD) + KCS_FRAME_HDR != tail) {
                r->pend_corrupt_bytes += tail; /* a damaged pad: bytes, but no sequence number */
            }
            rpos += tail;
            continue;
        }
        uint64_t need = KCS_FRAME_HDR + (uint64_t)kcs_align8(flen);
        if (flen > KCS_FRAME_MAX_PAYLOAD || need > tail || rpos + need > w) {
            /* The framing is broken: nothing after this point can be trusted. */
            r->pend_corrupt++;
            r->pend_corrupt_bytes += w - rpos;
            rpos = w;
            break;
        }
        if (used + need > out_cap) {
            if (n == 0) {
                /* release: nothing consumed; keep read_pos as it was */
                return -2; /* caller's buffer is smaller than one frame */
            }
            break;
        }
        if (kcs_crc32c(0, f + KCS_FRAME_HDR, flen) != fcrc) {
            r->pend_corrupt++;
            r->pend_corrupt_bytes += flen;
            rpos += need;
            continue;
        }
        if (r->pend_corrupt || r->pend_corrupt_bytes || (r->have_seq && fseq > r->expected_seq)) {
            settle(r, res, n, fseq);
        }
        r->expected_seq = fseq + 1;
        r->have_seq = 1;
        memcpy(out + used, f, (size_t)need);
        off[n] = (uint32_t)(used + KCS_FRAME_HDR);
        len[n] = flen;
        seq[n] = fseq;
        ts[n] = kcs_frame_first_ts(f + KCS_FRAME_HDR, flen);
        n++;
        used += need;
        rpos += need;
    }
    r->rpos = rpos;
    /* release: pairs with the acquire of read_pos in kcs_ring_write; the copies
     * above are complete before the producer may reuse the space */
    atomic_store_explicit(&h->read_pos, rpos, memory_order_release);
    res->nframes = n;
    res->bytes = used;
    res->closed = (flags & KCS_FLAG_CLOSED) && rpos == w;
    return (int)n;
}

uint32_t kcs_reader_finish(kcs_reader *r, kcs_read_result *res) {
    res->nframes = 0;
    res->bytes = 0;
    res->nlosses = 0;
    if (truncated(r)) return 0;
    /* relaxed: called once the producer closed the ring (flags acquired by the
     * last read) or is gone; next_seq only counts numbers it consumed */
    uint64_t next = atomic_load_explicit(&r->ring.hdr->next_seq, memory_order_relaxed);
    if (!r->have_seq && !r->pend_corrupt && !r->pend_corrupt_bytes) return 0;
    settle(r, res, 0, r->have_seq && next > r->expected_seq ? next : r->expected_seq);
    if (r->have_seq && next > r->expected_seq) r->expected_seq = next;
    return res->nlosses;
}

uint64_t kcs_reader_control(kcs_reader *r, uint64_t interval_ns, uint32_t paused, uint32_t stop,
                            const uint8_t *cmd, uint32_t cmd_len) {
    struct kcs_ring_header *h = r->ring.hdr;
    if (truncated(r)) return 0; /* nobody can read a control record in a truncated ring */
    if (cmd_len > KCS_CTL_CMD_MAX) cmd_len = KCS_CTL_CMD_MAX;
    uint64_t s = atomic_load_explicit(&h->ctl_seq, memory_order_relaxed); /* single writer */
    atomic_store_explicit(&h->ctl_seq, s + 1, memory_order_relaxed);    /* odd: writing */
    /* release fence: the odd sequence is visible before any field changes (seqlock) */
    atomic_thread_fence(memory_order_release);
    atomic_store_explicit(&h->ctl_interval_ns, interval_ns, memory_order_relaxed);
    atomic_store_explicit(&h->ctl_paused, paused, memory_order_relaxed);
    atomic_store_explicit(&h->ctl_stop, stop, memory_order_relaxed);
    atomic_store_explicit(&h->ctl_cmd_len, cmd_len, memory_order_relaxed);
    if (cmd_len) memcpy(h->ctl_cmd, cmd, cmd_len);
    /* release: pairs with the acquire of ctl_seq in kcs_ring_poll_control */
    atomic_store_explicit(&h->ctl_seq, s + 2, memory_order_release);
    return s + 2;
}

uint64_t kcs_reader_ctl_ack(kcs_reader *r) {
    if (truncated(r)) return 0;
    /* acquire: pairs with the release store of ctl_ack in kcs_ring_poll_control */
    return atomic_load_explicit(&r->ring.hdr->ctl_ack, memory_order_acquire);
}

uint64_t kcs_monotonic_now(void) { return kcs_monotonic_ns(); }
uint64_t kcs_realtime_now(void) { return kcs_now_ns(CLOCK_REALTIME); }
uint32_t kcs_crc32c_buf(uint32_t crc, const uint8_t *buf, size_t len) { return kcs_crc32c(crc, buf, len); }

int kcs_pid_alive(uint32_t pid) {
    if (pid == 0) return 0;
    if (kill((pid_t)pid, 0) == 0) return 1;
    return errno == EPERM;
}

void kcs_layout(kcs_ring_layout *o) {
    o->header_size = KCS_HEADER_SIZE;
    o->magic = (uint32_t)offsetof(struct kcs_ring_header, magic);
    o->abi_major = (uint32_t)offsetof(struct kcs_ring_header, abi_major);
    o->abi_minor = (uint32_t)offsetof(struct kcs_ring_header, abi_minor);
    o->data_size = (uint32_t)offsetof(struct kcs_ring_header, data_size);
    o->write_pos = (uint32_t)offsetof(struct kcs_ring_header, write_pos);
    o->read_pos = (uint32_t)offsetof(struct kcs_ring_header, read_pos);
    o->flags = (uint32_t)offsetof(struct kcs_ring_header, flags);
    o->producer_pid = (uint32_t)offsetof(struct kcs_ring_header, producer_pid);
    o->heartbeat_ns = (uint32_t)offsetof(struct kcs_ring_header, heartbeat_ns);
    o->next_seq = (uint32_t)offsetof(struct kcs_ring_header, next_seq);
    o->ctl_seq = (uint32_t)offsetof(struct kcs_ring_header, ctl_seq);
    o->producer_abi_minor = (uint32_t)offsetof(struct kcs_ring_header, producer_abi_minor);
    o->waiting = (uint32_t)offsetof(struct kcs_ring_header, waiting);
}

/* ------------------------------------------------------------- the notifier */

/* `armed` states: the owner moves IDLE -> ARMED (kcs_reader_arm) and anything
 * -> STOP (kcs_reader_notifier_stop); the notifier moves ARMED -> IDLE after a
 * wait, by compare-exchange, so a STOP stored while it waited is never
 * overwritten (a plain store of IDLE lost it, and pthread_join then hung). */
enum { NOTIFIER_IDLE = 0, NOTIFIER_ARMED = 1, NOTIFIER_STOP = 2 };

static void *notifier_main(void *arg) {
    kcs_reader *r = (kcs_reader *)arg;
    for (;;) {
        uint32_t state;
        /* acquire: pairs with the release stores in kcs_reader_arm /
         * kcs_reader_notifier_stop, so the timeout is seen */
        while ((state = atomic_load_explicit(&r->armed, memory_order_acquire)) == NOTIFIER_IDLE)
            syscall(SYS_futex, &r->armed, FUTEX_WAIT_PRIVATE, NOTIFIER_IDLE, NULL, NULL, 0);
        if (state == NOTIFIER_STOP) return NULL;
        /* relaxed: published by the release store of armed in kcs_reader_arm_batch */
        kcs_reader_wait_batch(r, atomic_load_explicit(&r->arm_timeout_ns, memory_order_relaxed),
                              atomic_load_explicit(&r->arm_hold_ns, memory_order_relaxed),
                              atomic_load_explicit(&r->arm_min_bytes, memory_order_relaxed));
        /* release: our reads of the ring happen before the caller's next read,
         * which it starts only after seeing the eventfd below; fails only when
         * the owner asked us to stop meanwhile */
        uint32_t expected = NOTIFIER_ARMED;
        if (!atomic_compare_exchange_strong_explicit(&r->armed, &expected, NOTIFIER_IDLE, memory_order_release,
                                                     memory_order_relaxed))
            return NULL;
        uint64_t one = 1;
        if (write(r->notify_fd, &one, sizeof one) < 0) { /* an eventfd write cannot fail here */
        }
    }
}

int kcs_reader_notifier_start(kcs_reader *r) {
    if (r->notifier_running) return r->notify_fd;
    r->notify_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (r->notify_fd < 0) return -1;
    atomic_store_explicit(&r->armed, NOTIFIER_IDLE, memory_order_relaxed);
    if (pthread_create(&r->notifier, NULL, notifier_main, r) != 0) {
        close(r->notify_fd);
        r->notify_fd = -1;
        return -1;
    }
    r->notifier_running = 1;
    return r->notify_fd;
}

void kcs_reader_arm(kcs_reader *r, uint64_t timeout_ns) { kcs_reader_arm_batch(r, timeout_ns, 0, 0); }

void kcs_reader_arm_batch(kcs_reader *r, uint64_t timeout_ns, uint64_t hold_ns, uint64_t min_bytes) {
    atomic_store_explicit(&r->arm_timeout_ns, timeout_ns, memory_order_relaxed);
    atomic_store_explicit(&r->arm_hold_ns, hold_ns, memory_order_relaxed);
    atomic_store_explicit(&r->arm_min_bytes, min_bytes, memory_order_relaxed);
    /* release: pairs with the acquire load of armed in notifier_main */
    atomic_store_explicit(&r->armed, NOTIFIER_ARMED, memory_order_release);
    syscall(SYS_futex, &r->armed, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

void kcs_reader_notifier_stop(kcs_reader *r) {
    if (!r->notifier_running) return;
    /* release: pairs with the acquire in notifier_main; STOP (not IDLE) also
     * keeps a notifier that has not reached its futex wait yet from sleeping */
    atomic_store_explicit(&r->armed, NOTIFIER_STOP, memory_order_release);
    kcs_reader_wake(r); /* end a wait in progress (or the next one, at once) */
    syscall(SYS_futex, &r->armed, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    pthread_join(r->notifier, NULL);
    close(r->notify_fd);
    r->notify_fd = -1;
    r->notifier_running = 0;
}
