/* Ring writer (kcoro_stream.h) against the C reader: frames round-trip with
 * CRC and sequence, pad frames at the wrap, drops are counted and show up as a
 * sequence gap, an out-of-memory frame consumes its sequence number, the
 * control seqlock reaches the producer, close is seen after the last frame. */
#include "kcs_events.h"

#include "kt_ring.h"

static kcs_reader *fresh(uint64_t size) { return kt_fresh_ring("ring", size); }

struct batch {
    uint8_t out[1 << 16];
    uint32_t off[256], len[256];
    uint64_t seq[256], ts[256];
    kcs_read_result res;
};
static struct batch b;

static int read_all(kcs_reader *r) {
    int n = kcs_reader_read(r, b.out, sizeof b.out, b.off, b.len, b.seq, b.ts, 256, &b.res);
    CHECK(n >= 0);
    return n;
}

static void fill(uint8_t *p, uint32_t len, uint32_t salt) {
    for (uint32_t i = 0; i < len; i++) p[i] = (uint8_t)(i * 31u + salt);
}

static void frames_round_trip(void) {
    kcs_reader *r = fresh(1 << 16);
    struct kcs_ring w;
    CHECK(kcs_ring_attach(&w, g_path) == 0);
    uint8_t p[100];
    for (uint32_t i = 0; i < 10; i++) {
        fill(p, 13 + i, i);
        CHECK_EQ(kcs_ring_write(&w, p, 13 + i), 1);
    }
    CHECK_EQ(read_all(r), 10);
    for (uint32_t i = 0; i < 10; i++) {
        fill(p, 13 + i, i);
        CHECK_EQ(b.len[i], 13 + i);
        CHECK_EQ(b.seq[i], i);
        CHECK(memcmp(b.out + b.off[i], p, 13 + i) == 0);
    }
    CHECK_EQ(b.res.nlosses, 0);
    kcs_ring_close(&w);
    CHECK_EQ(read_all(r), 0);
    CHECK_EQ(b.res.closed, 1);
    kcs_reader_close(r);
    unlink(g_path);
}

static void wrap_writes_pad_frames(void) {
    kcs_reader *r = fresh(4096);
    struct kcs_ring w;
    CHECK(kcs_ring_attach(&w, g_path) == 0);
    uint8_t p[1000], q[1000];
    uint64_t next = 0;
    for (uint32_t i = 0; i < 400; i++) { /* ~100 trips around a 4 KiB ring */
        uint32_t len = 1 + (i * 37u) % 900;
        fill(p, len, i);
        CHECK_EQ(kcs_ring_write(&w, p, len), 1);
        CHECK_EQ(read_all(r), 1);
        CHECK_EQ(b.len[0], len);
        CHECK_EQ(b.seq[0], next++);
        fill(q, len, i);
        CHECK(memcmp(b.out + b.off[0], q, len) == 0);
        CHECK_EQ(b.res.nlosses, 0);
    }
    kcs_ring_info info;
    kcs_reader_info(r, &info);
    CHECK(info.write_pos > 4 * 4096); /* it really wrapped */
    CHECK_EQ(info.frames_dropped, 0);
    kcs_ring_close(&w);
    kcs_reader_close(r);
    unlink(g_path);
}

static void full_ring_drops_and_counts(void) {
    kcs_reader *r = fresh(4096);
    struct kcs_ring w;
    CHECK(kcs_ring_attach(&w, g_path) == 0);
    uint8_t p[500];
    fill(p, sizeof p, 7);
    int written = 0, dropped = 0;
    for (int i = 0; i < 20; i++) {
        if (kcs_ring_write(&w, p, sizeof p))
            written++;
        else
            dropped++;
    }
    CHECK(written > 0 && dropped > 0);
    kcs_ring_info info;
    kcs_reader_info(r, &info);
    CHECK_EQ(info.frames_dropped, (uint64_t)dropped);
    CHECK_EQ(info.bytes_dropped, (uint64_t)dropped * sizeof p);
    CHECK_EQ(read_all(r), written);
    CHECK_EQ(kcs_ring_write(&w, p, sizeof p), 1); /* room again after the read */
    CHECK_EQ(read_all(r), 1);
    CHECK_EQ(b.res.nlosses, 1); /* the reader sees the drops as one gap */
    CHECK_EQ(b.res.losses[0].reason, KCS_LOSS_DROPPED);
    CHECK_EQ(b.res.losses[0].before, 0);
    CHECK_EQ(b.res.losses[0].frames, (uint64_t)dropped);
    CHECK_EQ(b.res.losses[0].bytes, (uint64_t)dropped * sizeof p);
    CHECK_EQ(b.res.losses[0].seq_from, (uint64_t)written);
    CHECK_EQ(b.res.losses[0].seq_to, (uint64_t)(written + dropped));
    /* a frame that could not be built (out of memory) still consumes a sequence number */
    struct kcs_mp m;
    kcs_mp_init(&m);
    kcs_frame_begin(&m, 0);
    m.oom = 1;
    CHECK_EQ(kcs_frame_commit(&w, &m), -1);
    kcs_mp_reset(&m);
    kcs_frame_begin(&m, 1);
    kcs_emit_mark(&m, 123, 0, &(struct kcs_mark){.name = "x", .detail = "y"});
    CHECK_EQ(kcs_frame_commit(&w, &m), 1);
    CHECK_EQ(read_all(r), 1);
    CHECK_EQ(b.res.nlosses, 1);
    CHECK_EQ(b.res.losses[0].frames, 1);
    /* [[8, 123, 0, "x", "y"]] */
    static const uint8_t want[] = {0x91, 0x95, 0x08, 0x7b, 0x00, 0xa1, 'x', 0xa1, 'y'};
    CHECK_EQ(b.len[0], sizeof want);
    CHECK(memcmp(b.out + b.off[0], want, sizeof want) == 0);
    kcs_mp_free(&m);
    kcs_ring_close(&w);
    kcs_reader_close(r);
    unlink(g_path);
}

/* One damaged record is one loss: "corrupt", its one sequence number, never
 * also counted as a drop when the next good frame shows the gap. */
static void corrupt_frame_is_one_loss(void) {
    kcs_reader *r = fresh(1 << 16);
    struct kcs_ring w;
    CHECK(kcs_ring_attach(&w, g_path) == 0);
    uint8_t p[64];
    fill(p, sizeof p, 3);
    for (int i = 0; i < 4; i++) CHECK_EQ(kcs_ring_write(&w, p, sizeof p), 1);
    /* flip a payload byte of frame 1 (each record: 16-byte header + 64 bytes) */
    w.data[(KCS_FRAME_HDR + sizeof p) * 1 + KCS_FRAME_HDR + 5] ^= 0x40;
    CHECK_EQ(read_all(r), 3);
    CHECK_EQ(b.seq[0], 0);
    CHECK_EQ(b.seq[1], 2);
    CHECK_EQ(b.res.nlosses, 1);
    CHECK_EQ(b.res.losses[0].reason, KCS_LOSS_CORRUPT);
    CHECK_EQ(b.res.losses[0].before, 1);
    CHECK_EQ(b.res.losses[0].frames, 1);
    CHECK_EQ(b.res.losses[0].bytes, sizeof p);
    CHECK_EQ(b.res.losses[0].seq_from, 1);
    CHECK_EQ(b.res.losses[0].seq_to, 2);
    /* a damaged last frame is settled at the end, still once */
    CHECK_EQ(kcs_ring_write(&w, p, sizeof p), 1);
    w.data[(KCS_FRAME_HDR + sizeof p) * 4 + KCS_FRAME_HDR] ^= 0x01;
    CHECK_EQ(read_all(r), 0);
    CHECK_EQ(b.res.nlosses, 0);
    kcs_ring_close(&w);
    CHECK_EQ(read_all(r), 0);
    CHECK_EQ(b.res.closed, 1);
    CHECK_EQ(kcs_reader_finish(r, &b.res), 1);
    CHECK_EQ(b.res.losses[0].reason, KCS_LOSS_CORRUPT);
    CHECK_EQ(b.res.losses[0].frames, 1);
    CHECK_EQ(b.res.losses[0].seq_from, 4);
    CHECK_EQ(b.res.losses[0].seq_to, 5);
    CHECK_EQ(kcs_reader_finish(r, &b.res), 0); /* nothing is reported twice */
    kcs_reader_close(r);
    unlink(g_path);
}

/* Drops after the last good frame are reported by kcs_reader_finish. */
static void trailing_drops_at_finish(void) {
    kcs_reader *r = fresh(4096);
    struct kcs_ring w;
    CHECK(kcs_ring_attach(&w, g_path) == 0);
    uint8_t p[1500];
    fill(p, sizeof p, 9);
    int written = 0, dropped = 0;
    for (int i = 0; i < 6; i++) {
        if (kcs_ring_write(&w, p, sizeof p))
            written++;
        else
            dropped++;
    }
    CHECK(dropped > 0);
    CHECK_EQ(read_all(r), written);
    CHECK_EQ(b.res.nlosses, 0);
    kcs_ring_close(&w);
    CHECK_EQ(read_all(r), 0);
    CHECK_EQ(kcs_reader_finish(r, &b.res), 1);
    CHECK_EQ(b.res.losses[0].reason, KCS_LOSS_DROPPED);
    CHECK_EQ(b.res.losses[0].frames, (uint64_t)dropped);
    CHECK_EQ(b.res.losses[0].bytes, (uint64_t)dropped * sizeof p);
    kcs_reader_close(r);
    unlink(g_path);
}

static void control_reaches_the_producer(void) {
    kcs_reader *r = fresh(4096);
    struct kcs_ring w;
    CHECK(kcs_ring_attach(&w, g_path) == 0);
    struct kcs_control c;
    CHECK_EQ(kcs_ring_poll_control(&w, &c), 0);
    uint64_t seq = kcs_reader_control(r, 20000000, 1, 0, (const uint8_t *)"\x90", 1);
    CHECK_EQ(kcs_ring_poll_control(&w, &c), 1);
    CHECK_EQ(c.interval_ns, 20000000);
    CHECK_EQ(c.paused, 1);
    CHECK_EQ(c.stop, 0);
    CHECK_EQ(c.cmd_len, 1);
    CHECK_EQ(kcs_reader_ctl_ack(r), seq);
    CHECK_EQ(kcs_ring_poll_control(&w, &c), 0); /* applied once */
    kcs_ring_close(&w);
    kcs_reader_close(r);
    unlink(g_path);
}

static void histogram_buckets_are_monotonic(void) {
    uint32_t prev = 0;
    for (uint64_t v = 0; v < 100000; v++) {
        uint32_t bk = kcs_hist_bucket(v);
        CHECK(bk >= prev && bk < KCS_HIST_BUCKETS);
        CHECK(kcs_hist_lower(bk) <= v);
        prev = bk;
    }
    CHECK(kcs_hist_bucket(UINT64_MAX) < KCS_HIST_BUCKETS);
}

int main(void) {
    printf("test_ring\n");
    RUN(frames_round_trip);
    RUN(wrap_writes_pad_frames);
    RUN(full_ring_drops_and_counts);
    RUN(corrupt_frame_is_one_loss);
    RUN(trailing_drops_at_finish);
    RUN(control_reaches_the_producer);
    RUN(histogram_buckets_are_monotonic);
    return 0;
}
