/*
 * kcs_msgpack.h — the small msgpack writer frames are built with: a growable
 * buffer (struct kcs_mp) and one kcs_mp_* call per value, plus kcs_mp_event,
 * the prefix of an event array [tag, ts_ns, source, ...]. The generated
 * kcs_emit_* helpers (kcs_events.h) are written with it (header-only; part of
 * kcoro_stream.h).
 */
#ifndef KCS_MSGPACK_H
#define KCS_MSGPACK_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

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

#ifdef __cplusplus
}
#endif
#endif /* KCS_MSGPACK_H */
