/*
 * kcs_crc32c.h — CRC32C (Castagnoli), the checksum of every frame in the ring
 * and of every record in the event log: SSE4.2 where the CPU has it, an
 * 8-table slice otherwise (header-only; part of kcoro_stream.h).
 */
#ifndef KCS_CRC32C_H
#define KCS_CRC32C_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

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

#ifdef __cplusplus
}
#endif
#endif /* KCS_CRC32C_H */
