/*
 * outbox.h: publishes every committed event of the log, in order, to the NATS JetStream stream
 * LEDGER (subjects ledger.events.<category>.<verb>). The stream is a replica, never the source
 * of truth: the outbox reads the committed log and (re)publishes whatever the stream lacks.
 *
 * Per message: payload = the record's exact bytes from the log; headers
 *   Nats-Msg-Id                 "<ledger id UUID>:<seq>"   (server-side dedupe)
 *   Nats-Expected-Last-Msg-Id   the msg id of seq-1        (no gap, no reordering), except on
 *   Nats-Expected-Last-Sequence the first message of each connection, which names the stream
 *                               sequence found at reconcile instead (0 for an empty stream):
 *                               nats-server 2.9 forgets the last msg id across a restart once
 *                               it is older than the stream's duplicate window (2 min)
 *   Ledger-Seq                  seq in decimal
 *   Ledger-Type                 event_type_name(), e.g. "transfer.executed"
 *   Ledger-Hash                 lower-case hex of the record's chain hash
 *
 * On every (re)connect the outbox reconciles: it reads the stream's last message and resumes from
 * its Ledger-Seq + 1 (not from the persisted watermark: nats-server 2.9 acks without fsync, so
 * after a server crash the stream may lack its tail). A stream that is ahead of the log, or whose
 * last message belongs to another ledger or another history, is reported and never written to.
 *
 * Threads: outbox_start/outbox_stop from the owning thread (ledgerd's main); outbox_notify from the
 * sequencer thread (never blocks on NATS: takes a mutex for a few instructions); outbox_metrics_read
 * from any thread. The outbox runs its own thread and only reads the store (plus the advisory
 * "outbox_watermark" meta key).
 */
#ifndef LEDGER_OUTBOX_H
#define LEDGER_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define OUTBOX_STREAM_NAME "LEDGER"
#define OUTBOX_SUBJECT_PREFIX "ledger.events."
#define OUTBOX_WATERMARK_KEY "outbox_watermark"
#define OUTBOX_STOP_WAIT_MS 3000 /* outbox_stop() tries this long to publish what is committed */

struct outbox;

struct outbox_metrics {
    uint64_t committed_seq;   /* the last value passed to outbox_start/outbox_notify */
    uint64_t published_seq;   /* the last ledger seq known to be in the stream (acked, or found there) */
    uint64_t published_total; /* messages acked by the stream since start */
    uint64_t reconnects;      /* successful connects after the first one */
    bool connected;           /* connected and reconciled with the stream */
};

/* Starts the outbox thread for the log st (which must outlive the outbox). nats_url NULL or
 * "none": disabled, returns a handle that does nothing (notify records the value, stop frees).
 * committed_seq: the log's head at start (0 for an empty log). Never waits for NATS: a server that
 * is down is retried in the background. Returns NULL only when the thread cannot be created (out of
 * memory or threads), with a one-line reason in err. The caller owns the handle: outbox_stop(). */
struct outbox *outbox_start(struct store *st, const char *nats_url, uint64_t committed_seq, char *err,
                            size_t err_cap);

/* Records that the log is durable up to committed_seq and wakes the outbox thread. Called by the
 * sequencer thread after each durable commit; takes a mutex briefly, never blocks on NATS.
 * Values must not go backwards. NULL is fine (no-op). */
void outbox_notify(struct outbox *ob, uint64_t committed_seq);

/* Tries, for at most about OUTBOX_STOP_WAIT_MS, to publish everything committed, then stops the
 * thread, closes the NATS connection and frees ob. NULL is fine. Call after the sequencer stopped
 * (no concurrent outbox_notify). */
void outbox_stop(struct outbox *ob);

/* Copies a consistent snapshot of the counters into out. Any thread. */
void outbox_metrics_read(struct outbox *ob, struct outbox_metrics *out);

#endif
