/*
 * kcoro_stream.h — the kcoro-stream shared-memory ring, ABI v1.1 (header-only).
 *
 * The one header a producer includes for the whole contract between it (a
 * coroutine runtime emitting counters) and the kcoro-stream ingester. It is
 * an umbrella over one header per concern:
 *
 *   kcs_layout.h    the ring layout (header page + byte ring of frames), the
 *                   frame format and the reader, wake-up and control protocols
 *   kcs_producer.h  the producer API (create/attach, write, heartbeat,
 *                   control, close; begin/commit a frame)
 *   kcs_msgpack.h   a small msgpack writer for event arrays `[tag, ts_ns, source, ...]`
 *   kcs_crc32c.h    CRC32C (Castagnoli), used by frames in the ring and in the event log
 *
 * The events themselves are not written down here: kcs_events.h (the tags,
 * one struct and one typed kcs_emit_* helper per event) and kcs_hist.h (the
 * latency bucket scheme) are generated from kcoro_stream/events.py and
 * kcoro_stream/histo.py. Producers include kcs_events.h, which includes this
 * header; the kcs_mp_* functions are the layer those helpers use.
 */
#ifndef KCORO_STREAM_H
#define KCORO_STREAM_H

/* POSIX 2008 is needed (clock_gettime, O_CLOEXEC, ftruncate). Include this
 * header first, or build with -D_GNU_SOURCE / -D_POSIX_C_SOURCE=200809L. */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include "kcs_layout.h"   /* the ring layout and its protocols */
#include "kcs_crc32c.h"   /* the frame checksum */
#include "kcs_msgpack.h"  /* the msgpack writer */
#include "kcs_producer.h" /* create/attach, write, heartbeat, control, close, frames */
#include "kcs_hist.h"     /* the latency bucket scheme (generated) */

#endif /* KCORO_STREAM_H */
