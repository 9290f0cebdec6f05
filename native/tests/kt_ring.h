/* A fresh ring for the reader tests (test_ring, test_wait): created by the C
 * reader at a per-process path under /tmp (g_path, for the producer side to
 * attach to), any leftover of an earlier crashed run removed first. */
#ifndef KT_RING_H
#define KT_RING_H

#include "kcs_reader.h"
#include "kt.h"

static char g_path[128];

static kcs_reader *kt_fresh_ring(const char *name, uint64_t size) {
    snprintf(g_path, sizeof g_path, "/tmp/kcs-test-%s-%d", name, (int)getpid());
    unlink(g_path);
    char err[256];
    kcs_reader *r = kcs_reader_create(g_path, size, 10000000, err, sizeof err);
    if (!r) fprintf(stderr, "%s\n", err);
    CHECK(r != NULL);
    return r;
}

#endif
