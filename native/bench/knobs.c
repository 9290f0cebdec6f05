/*
 * knobs.c — the benchmark's live knobs: their table and the control blob reader.
 *
 * The monitor (kcoro_stream/control, `ctl set_knob`) writes a knob command
 * into the ring's control area as a msgpack map of unsigned integers:
 *
 *     {"id": 7, "batch": 1, "spin": 0}
 *
 * `id` numbers the command: the monitor may rewrite the control record (a
 * pause, a new interval) before the sampler has seen it, repeating the same
 * command, and the sampler applies an id once. The other keys are knobs from
 * kcs_knob_table; the benchmark advertises the table in RunStarted.config
 * ("knobs": {name: [min, max]}), which is what the monitor validates against,
 * so a well-formed command only names known knobs within range. The reader
 * below still refuses anything else (kcs_knob_cmd_parse returns -1) rather
 * than trust the bytes: fixmap/map16 of fixstr/str8 keys and positive fixint
 * or uint8..uint64 values, nothing more.
 */
#include <string.h>

#include "bench.h"

const struct kcs_knob kcs_knob_table[KCS_NKNOBS] = {
    {"batch", 1, 65536},         /* tasks, mixed: tasks submitted per wait */
    {"body_cost", 0, 100000000}, /* tasks, mixed: work units per task body */
    {"body_ns", 0, 1000000000},  /* tasks, mixed: thread CPU ns per task body */
    {"spin", 0, 1000000},        /* channel: polls before a blocked op suspends */
    {"packets", 1, 1000000000},  /* channel: packets per producer per cycle */
    {"packet_cost", 0, 100000000}, /* channel, dual: work units a producer burns per packet */
};

int kcs_knob_index(const char *name) {
    for (int i = 0; i < KCS_NKNOBS; i++)
        if (!strcmp(kcs_knob_table[i].name, name)) return i;
    return -1;
}

struct rd {
    const uint8_t *p, *end;
};

static int rd_bytes(struct rd *r, uint64_t n, const uint8_t **out) {
    if ((uint64_t)(r->end - r->p) < n) return -1;
    *out = r->p;
    r->p += n;
    return 0;
}

static int rd_be(struct rd *r, unsigned n, uint64_t *v) {
    const uint8_t *b;
    if (rd_bytes(r, n, &b)) return -1;
    *v = 0;
    for (unsigned i = 0; i < n; i++) *v = (*v << 8) | b[i];
    return 0;
}

static int rd_uint(struct rd *r, uint64_t *v) {
    const uint8_t *t;
    if (rd_bytes(r, 1, &t)) return -1;
    if (*t <= 0x7f) {
        *v = *t;
        return 0;
    }
    switch (*t) {
    case 0xcc: return rd_be(r, 1, v);
    case 0xcd: return rd_be(r, 2, v);
    case 0xce: return rd_be(r, 4, v);
    case 0xcf: return rd_be(r, 8, v);
    default: return -1;
    }
}

static int rd_str(struct rd *r, char *out, size_t cap) {
    const uint8_t *t, *s;
    uint64_t n;
    if (rd_bytes(r, 1, &t)) return -1;
    if ((*t & 0xe0) == 0xa0)
        n = *t & 0x1f;
    else if (*t == 0xd9) {
        if (rd_be(r, 1, &n)) return -1;
    } else
        return -1;
    if (n >= cap || rd_bytes(r, n, &s)) return -1;
    memcpy(out, s, n);
    out[n] = 0;
    return 0;
}

int kcs_knob_cmd_parse(const uint8_t *buf, uint32_t len, struct kcs_knob_cmd *out) {
    struct rd r = {buf, buf + len};
    const uint8_t *t;
    uint64_t n;
    memset(out, 0, sizeof *out);
    if (rd_bytes(&r, 1, &t)) return -1;
    if ((*t & 0xf0) == 0x80)
        n = *t & 0x0f;
    else if (*t == 0xde) {
        if (rd_be(&r, 2, &n)) return -1;
    } else
        return -1;
    int have_id = 0;
    for (uint64_t i = 0; i < n; i++) {
        char key[32];
        uint64_t v;
        if (rd_str(&r, key, sizeof key) || rd_uint(&r, &v)) return -1;
        if (!strcmp(key, "id")) {
            out->id = v;
            have_id = 1;
            continue;
        }
        int k = kcs_knob_index(key);
        if (k < 0 || v < kcs_knob_table[k].min || v > kcs_knob_table[k].max) return -1;
        for (uint32_t j = 0; j < out->n; j++)
            if (out->knob[j] == k) return -1; /* a knob named twice */
        out->knob[out->n] = k;
        out->value[out->n++] = v;
    }
    if (r.p != r.end || !have_id || !out->n) return -1; /* trailing bytes, no id, nothing to set */
    return 0;
}
