/* test_knobs.c — the control blob's knob command reader (bench/knobs.c):
 * well-formed maps parse; every malformed, truncated or out-of-range blob is
 * refused, and no byte outside the buffer is read (ASan run). */
#include <string.h>

#include "bench.h"
#include "kt.h"

/* {"id": 7, "batch": 1, "spin": 300} as msgspec/msgpack writes it */
static const uint8_t GOOD[] = {0x83, 0xa2, 'i', 'd', 0x07, 0xa5, 'b', 'a', 't', 'c', 'h', 0x01,
                               0xa4, 's',  'p', 'i', 'n', 0xcd, 0x01, 0x2c};

static void parses_a_command(void) {
    struct kcs_knob_cmd c;
    CHECK_EQ(kcs_knob_cmd_parse(GOOD, sizeof GOOD, &c), 0);
    CHECK_EQ(c.id, 7);
    CHECK_EQ(c.n, 2);
    CHECK(!strcmp(kcs_knob_table[c.knob[0]].name, "batch"));
    CHECK_EQ(c.value[0], 1);
    CHECK(!strcmp(kcs_knob_table[c.knob[1]].name, "spin"));
    CHECK_EQ(c.value[1], 300);
}

static void refuses_every_truncation(void) {
    struct kcs_knob_cmd c;
    for (uint32_t n = 0; n < sizeof GOOD; n++) {
        uint8_t *copy = (uint8_t *)malloc(n ? n : 1); /* exact size: ASan sees any overread */
        memcpy(copy, GOOD, n);
        CHECK_EQ(kcs_knob_cmd_parse(copy, n, &c), (uint64_t)-1);
        free(copy);
    }
}

static void refuses_bad_commands(void) {
    struct kcs_knob_cmd c;
    static const uint8_t unknown[] = {0x82, 0xa2, 'i', 'd', 0x01, 0xa3, 'f', 'o', 'o', 0x01};
    static const uint8_t zero_batch[] = {0x82, 0xa2, 'i', 'd', 0x01, 0xa5, 'b', 'a', 't', 'c', 'h', 0x00};
    static const uint8_t no_id[] = {0x81, 0xa5, 'b', 'a', 't', 'c', 'h', 0x01};
    static const uint8_t twice[] = {0x83, 0xa2, 'i', 'd', 0x01, 0xa5, 'b', 'a', 't', 'c', 'h', 0x01,
                                    0xa5, 'b',  'a', 't', 'c', 'h', 0x02};
    static const uint8_t negative[] = {0x82, 0xa2, 'i', 'd', 0x01, 0xa5, 'b', 'a', 't', 'c', 'h', 0xff};
    static const uint8_t not_a_map[] = {0x92, 0x01, 0x02};
    static const uint8_t trailing[] = {0x82, 0xa2, 'i', 'd', 0x01, 0xa5, 'b', 'a', 't', 'c', 'h', 0x01, 0x00};
    static const uint8_t only_id[] = {0x81, 0xa2, 'i', 'd', 0x01};
    CHECK_EQ(kcs_knob_cmd_parse(unknown, sizeof unknown, &c), (uint64_t)-1);
    CHECK_EQ(kcs_knob_cmd_parse(zero_batch, sizeof zero_batch, &c), (uint64_t)-1);
    CHECK_EQ(kcs_knob_cmd_parse(no_id, sizeof no_id, &c), (uint64_t)-1);
    CHECK_EQ(kcs_knob_cmd_parse(twice, sizeof twice, &c), (uint64_t)-1);
    CHECK_EQ(kcs_knob_cmd_parse(negative, sizeof negative, &c), (uint64_t)-1);
    CHECK_EQ(kcs_knob_cmd_parse(not_a_map, sizeof not_a_map, &c), (uint64_t)-1);
    CHECK_EQ(kcs_knob_cmd_parse(trailing, sizeof trailing, &c), (uint64_t)-1);
    CHECK_EQ(kcs_knob_cmd_parse(only_id, sizeof only_id, &c), (uint64_t)-1);
}

static void survives_random_bytes(void) {
    struct kcs_knob_cmd c;
    uint64_t x = 0x9E3779B97F4A7C15u;
    uint8_t buf[64];
    for (int round = 0; round < 20000; round++) {
        uint32_t n = (uint32_t)(x % sizeof buf);
        for (uint32_t i = 0; i < n; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf[i] = (uint8_t)x;
        }
        if (n) buf[0] = (uint8_t)(0x80 | (buf[0] & 0x0f)); /* mostly fixmaps: reach the inner parser */
        int rc = kcs_knob_cmd_parse(buf, n, &c);
        CHECK(rc == 0 || rc == -1);
        if (rc == 0) CHECK(c.n >= 1 && c.n <= KCS_NKNOBS);
    }
}

int main(void) {
    printf("test_knobs\n");
    RUN(parses_a_command);
    RUN(refuses_every_truncation);
    RUN(refuses_bad_commands);
    RUN(survives_random_bytes);
    return 0;
}
