/*
 * outbox.c: the thread that copies the committed log, in order, into the JetStream stream LEDGER.
 *
 * States of the outbox thread (outbox_main moves between them):
 *   DISCONNECTED  nc == NULL. outbox_connect() connects (auto-reconnect off, 1 s timeout) and
 *                 reconciles; on failure outbox_backoff_wait() sleeps 100 ms doubling to
 *                 LEDGER_OUTBOX_RETRY_MS_MAX.
 *   CONNECTED     nc != NULL, next_seq = the first ledger seq the stream lacks. While
 *                 next_seq <= committed_seq, outbox_publish_window() publishes up to
 *                 LEDGER_OUTBOX_WINDOW_MAX events asynchronously and waits for the ack of the last
 *                 (which vouches for the window: see outbox_publish_window); any publish
 *                 error, refused ack or ack timeout drops the connection (back to DISCONNECTED), so the
 *                 next reconcile decides again from what the stream really holds. When caught up it
 *                 waits on the condvar (at most OUTBOX_IDLE_WAIT_MS) for outbox_notify().
 *   STOPPING      outbox_stop() set stopping: the loop goes on until caught up or the stop deadline
 *                 (at once when the stream was refused: waiting would not change it).
 *
 * Invariants: next_seq - 1 is the Ledger-Seq of the stream's last message as far as this thread
 * knows (read at reconcile, advanced only after a fully acked window). Every message names its
 * predecessor, so the server refuses anything that would leave a gap or reorder the stream: the
 * first message of a connection carries Nats-Expected-Last-Sequence (the stream seq found at
 * reconcile, whose message was checked to be ours), every later one Nats-Expected-Last-Msg-Id.
 * outbox_notify() takes only ob->mu, which the outbox thread never holds across NATS or store
 * calls.
 */
#include <errno.h>
#include <inttypes.h>
#include <nats/nats.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/nats_retire.h"
#include "store/outbox.h"

#define OUTBOX_CONNECT_TIMEOUT_MS 1000 /* natsOptions_SetTimeout: TCP connect + INFO/CONNECT */
#define OUTBOX_API_WAIT_MS 1000        /* JetStream API requests (stream info, add, get msg) */
#define OUTBOX_PING_INTERVAL_MS 2000   /* notices a silently dead server within ~6 s */
#define OUTBOX_PINGS_OUT_MAX 2
#define OUTBOX_IDLE_WAIT_MS 200        /* idle poll: notices a closed connection */
#define OUTBOX_ACK_SLICE_MS 50         /* ack waits are sliced to notice errors and stop early */
#define OUTBOX_RETRY_MS_MIN 100
#define OUTBOX_MSG_ID_MAX 64           /* 36-char UUID + ':' + 20 digits + NUL */
#define OUTBOX_PROBLEM_MAX 1024 /* holds the connect line with the longest URL */
/* Fewer than OUTBOX_LINGER_EVENTS unpublished events wait up to OUTBOX_LINGER_MS for more: under a
 * steady stream of small commits the outbox wakes, publishes and waits for acks once per linger
 * instead of once per commit (the stream is a replica; a few milliseconds do not matter to it). */
#define OUTBOX_LINGER_EVENTS 1024
#define OUTBOX_LINGER_MS 2
#define OUTBOX_WATERMARK_EVERY_MS 1000 /* while never caught up, the watermark is written this often */

_Static_assert(LEDGER_ID_TEXT_LEN + 1 + 20 + 1 <= OUTBOX_MSG_ID_MAX, "msg id fits its buffer");
_Static_assert(OUTBOX_RETRY_MS_MIN <= LEDGER_OUTBOX_RETRY_MS_MAX, "back-off starts below its ceiling");
_Static_assert(OUTBOX_ACK_SLICE_MS < LEDGER_OUTBOX_ACK_WAIT_MS, "an ack wait holds several slices");

struct outbox {
    struct store *st;
    struct nats_msg_retire retired; /* published messages; empty outside outbox_publish_window */
    bool enabled;
    char *url;
    char url_shown[256]; /* the URL for logs, credentials redacted */
    char ledger_text[LEDGER_ID_TEXT_LEN + 1];
    pthread_t thread;

    pthread_mutex_t mu; /* guards the fields down to ack_err; never held across NATS or store calls */
    pthread_cond_t cv;  /* CLOCK_MONOTONIC; signalled by notify and stop */
    uint64_t committed_seq;
    uint64_t linger_from; /* lingering: the first unpublished seq (notify wakes only past the linger) */
    bool lingering;
    bool stopping;
    int64_t stop_deadline_ms;
    struct outbox_metrics m;
    bool ack_failed; /* set by the nats.c delivery thread (outbox_on_ack_err) */
    char ack_err[OUTBOX_PROBLEM_MAX];

    /* Outbox thread only. */
    natsConnection *nc;
    jsCtx *js;
    uint64_t next_seq;
    uint64_t anchor_seq;        /* the first ledger seq published on this connection ... */
    uint64_t anchor_stream_seq; /* ... carries Nats-Expected-Last-Sequence = this stream seq */
    uint64_t watermark; /* the persisted outbox_watermark (advisory: only for the log line) */
    int64_t watermark_ms; /* when it was last written */
    int64_t backoff_ms;
    bool ever_connected;
    bool refused; /* the last attempt found a stream that is not ours: stop does not wait for it */
    char problem[OUTBOX_PROBLEM_MAX]; /* the last problem logged, to log each one once */
    char connect_line[OUTBOX_PROBLEM_MAX]; /* the last connect line logged, idem */
};

enum outbox_step { STEP_OK, STEP_RETRY, STEP_REFUSED };

static int64_t mono_ms(void)
{
    return ledger_mono_us() / 1000;
}

static void cond_wait_until(struct outbox *ob, int64_t until_ms)
{
    struct timespec ts = {.tv_sec = until_ms / 1000, .tv_nsec = (until_ms % 1000) * 1000000};
    int rc = pthread_cond_timedwait(&ob->cv, &ob->mu, &ts);
    LEDGER_ASSERT(rc == 0 || rc == ETIMEDOUT);
}

/* Logs text unless it is the last text logged in this slot: an outage retried every 2 s, or a
 * connect that keeps failing the same way, is logged once. outbox_healthy() clears the slots. */
static void outbox_log_once(char slot[OUTBOX_PROBLEM_MAX], const char *text)
{
    if (strcmp(text, slot) == 0)
        return;
    snprintf(slot, OUTBOX_PROBLEM_MAX, "%s", text);
    fprintf(stderr, "ledgerd: outbox: %s\n", text);
}

static void outbox_problem(struct outbox *ob, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void outbox_problem(struct outbox *ob, const char *fmt, ...)
{
    char text[OUTBOX_PROBLEM_MAX];
    va_list ap;
    va_start(ap, fmt);
    /* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): va_start above (a false finding of clang 14) */
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    outbox_log_once(ob->problem, text);
}

/* Publishing works: the next problem is logged again and the back-off starts from the bottom. */
static void outbox_healthy(struct outbox *ob)
{
    ob->problem[0] = '\0';
    ob->connect_line[0] = '\0';
    ob->backoff_ms = OUTBOX_RETRY_MS_MIN;
}

static void outbox_msg_id(const struct outbox *ob, uint64_t seq, char out[OUTBOX_MSG_ID_MAX])
{
    snprintf(out, OUTBOX_MSG_ID_MAX, "%s:%" PRIu64, ob->ledger_text, seq);
}

/* ---- pub-ack errors (nats.c delivery thread) --------------------------------------------------- */

/* nats.c reports a refused or failed async publish only through this callback: without it,
 * js_PublishAsyncComplete() returns NATS_OK even when the server refused every message. */
static void outbox_on_ack_err(jsCtx *js, jsPubAckErr *pae, void *closure)
{
    (void)js;
    struct outbox *ob = closure;
    const char *seq_text = NULL;
    if (pae->Msg == NULL || natsMsgHeader_Get(pae->Msg, "Ledger-Seq", &seq_text) != NATS_OK)
        seq_text = "?";
    pthread_mutex_lock(&ob->mu);
    if (!ob->ack_failed) {
        ob->ack_failed = true;
        snprintf(ob->ack_err, sizeof ob->ack_err,
                 "publish of ledger seq %s failed: %s (%s, jetstream error %d)",
                 seq_text, pae->ErrText != NULL ? pae->ErrText : "", natsStatus_GetText(pae->Err),
                 (int)pae->ErrCode);
    }
    pthread_mutex_unlock(&ob->mu);
}

static bool outbox_ack_failed(struct outbox *ob, char *why, size_t cap)
{
    pthread_mutex_lock(&ob->mu);
    bool failed = ob->ack_failed;
    if (failed)
        snprintf(why, cap, "%s", ob->ack_err);
    pthread_mutex_unlock(&ob->mu);
    return failed;
}

/* ---- connection ------------------------------------------------------------------------------ */

static void outbox_set_connected(struct outbox *ob, bool connected)
{
    pthread_mutex_lock(&ob->mu);
    ob->m.connected = connected;
    if (connected) {
        ob->m.published_seq = ob->next_seq - 1;
        if (ob->ever_connected)
            ob->m.reconnects++;
    }
    pthread_mutex_unlock(&ob->mu);
}

static void outbox_disconnect(struct outbox *ob)
{
    outbox_set_connected(ob, false);
    jsCtx_Destroy(ob->js); /* also frees the messages still waiting for an ack */
    natsConnection_Destroy(ob->nc);
    ob->js = NULL;
    ob->nc = NULL;
}

static natsStatus outbox_dial(struct outbox *ob)
{
    natsOptions *opts = NULL;
    natsStatus s = natsOptions_Create(&opts);
    if (s == NATS_OK)
        s = natsOptions_SetURL(opts, ob->url);
    if (s == NATS_OK)
        s = natsOptions_SetTimeout(opts, OUTBOX_CONNECT_TIMEOUT_MS);
    if (s == NATS_OK) /* we reconnect and reconcile ourselves: no hidden reconnect buffer */
        s = natsOptions_SetAllowReconnect(opts, false);
    if (s == NATS_OK)
        s = natsOptions_SetPingInterval(opts, OUTBOX_PING_INTERVAL_MS);
    if (s == NATS_OK)
        s = natsOptions_SetMaxPingsOut(opts, OUTBOX_PINGS_OUT_MAX);
    if (s == NATS_OK)
        s = natsOptions_SetName(opts, "ledgerd-outbox");
    if (s == NATS_OK)
        s = natsConnection_Connect(&ob->nc, opts);
    natsOptions_Destroy(opts);
    if (s != NATS_OK)
        return s;
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = OUTBOX_API_WAIT_MS;
    jo.PublishAsync.MaxPending = LEDGER_OUTBOX_WINDOW_MAX; /* we window ourselves: never stalls */
    jo.PublishAsync.ErrHandler = outbox_on_ack_err;
    jo.PublishAsync.ErrHandlerClosure = ob;
    s = natsConnection_JetStream(&ob->js, ob->nc, &jo);
    if (s != NATS_OK) {
        natsConnection_Destroy(ob->nc);
        ob->nc = NULL;
    }
    return s;
}

/* Reads the stream's last sequence into *stream_last and whether it holds messages into *has_msgs,
 * creating the stream when it is missing (an existing stream is kept as it is). */
static enum outbox_step outbox_stream_last(struct outbox *ob, uint64_t *stream_last, bool *has_msgs)
{
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetStreamInfo(&si, ob->js, OUTBOX_STREAM_NAME, NULL, &jerr);
    if (s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr) {
        const char *subjects[] = {OUTBOX_SUBJECT_PREFIX ">"};
        jsStreamConfig cfg;
        jsStreamConfig_Init(&cfg);
        cfg.Name = OUTBOX_STREAM_NAME;
        cfg.Subjects = subjects;
        cfg.SubjectsLen = 1;
        cfg.Storage = js_FileStorage;
        jerr = 0;
        s = js_AddStream(&si, ob->js, &cfg, NULL, &jerr);
        if (s == NATS_OK)
            fprintf(stderr, "ledgerd: outbox: created stream %s (subjects %s>, file storage)\n",
                    OUTBOX_STREAM_NAME, OUTBOX_SUBJECT_PREFIX);
    }
    if (s != NATS_OK) {
        outbox_problem(ob, "cannot read or create stream %s on %s: %s (jetstream error %d); is JetStream "
                       "enabled (nats-server -js)? retrying", OUTBOX_STREAM_NAME, ob->url_shown,
                       natsStatus_GetText(s), (int)jerr);
        jsStreamInfo_Destroy(si);
        return STEP_RETRY;
    }
    *stream_last = si->State.LastSeq;
    *has_msgs = si->State.Msgs > 0; /* a purged stream keeps its LastSeq but holds nothing */
    jsStreamInfo_Destroy(si);
    return STEP_OK;
}

static bool header_u64(natsMsg *msg, const char *key, uint64_t *out)
{
    const char *text = NULL;
    if (natsMsgHeader_Get(msg, key, &text) != NATS_OK || text == NULL || text[0] < '0' || text[0] > '9')
        return false;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0')
        return false;
    *out = (uint64_t)v;
    return true;
}

/* The stream's last message must be ours: our ledger id, our hash at that seq. */
static enum outbox_step outbox_check_last(struct outbox *ob, natsMsg *msg, uint64_t ledger_seq)
{
    char want_id[OUTBOX_MSG_ID_MAX];
    outbox_msg_id(ob, ledger_seq, want_id);
    const char *msg_id = NULL, *hash_hex = NULL;
    if (natsMsgHeader_Get(msg, "Nats-Msg-Id", &msg_id) != NATS_OK || strcmp(msg_id, want_id) != 0) {
        outbox_problem(ob, "ERROR: stream %s ends with message id '%s', not from this ledger (%s): "
                       "it belongs to another log; not publishing. Point ledgerd at its own NATS or "
                       "delete the stream.",
                       OUTBOX_STREAM_NAME, msg_id != NULL ? msg_id : "(none)", ob->ledger_text);
        return STEP_REFUSED;
    }
    uint8_t rec[LEDGER_RECORD_BYTES_MAX];
    size_t len = 0;
    enum ledger_err e = store_get_event(ob->st, ledger_seq, rec, sizeof rec, &len);
    if (e != LEDGER_ERR_OK) {
        outbox_problem(ob, "cannot read event %" PRIu64 " from the log (%s); retrying", ledger_seq,
                       ledger_err_name(e));
        return STEP_RETRY;
    }
    struct event ev;
    char ours[2 * LEDGER_HASH_LEN + 1] = "";
    if (event_decode(rec, len, &ev) == LEDGER_ERR_OK)
        ledger_hex(ev.hash, LEDGER_HASH_LEN, ours);
    if (natsMsgHeader_Get(msg, "Ledger-Hash", &hash_hex) != NATS_OK || strcmp(hash_hex, ours) != 0) {
        outbox_problem(ob, "ERROR: stream %s holds ledger seq %" PRIu64 " with a hash that differs from the "
                       "log's: the stream holds another history of this ledger (restored from an older "
                       "backup?); not publishing. Run 'ledgerctl verify', then delete or rename the stream.",
                       OUTBOX_STREAM_NAME, ledger_seq);
        return STEP_REFUSED;
    }
    return STEP_OK;
}

/* Finds the first ledger seq the stream lacks, into ob->next_seq, and anchors the first message
 * to the stream's last sequence. Nats-Expected-Last-Msg-Id cannot anchor it: nats-server 2.9
 * rebuilds its "last msg id" after a restart only from messages younger than the stream's
 * duplicate window (2 min by default), so after a restart it would refuse our next message forever;
 * the stream sequence is always recovered. */
static enum outbox_step outbox_reconcile(struct outbox *ob, uint64_t committed)
{
    uint64_t stream_last = 0;
    bool has_msgs = false;
    enum outbox_step step = outbox_stream_last(ob, &stream_last, &has_msgs);
    ob->anchor_stream_seq = stream_last;
    ob->anchor_seq = ob->next_seq = 1;
    if (step != STEP_OK || !has_msgs)
        return step;
    natsMsg *msg = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetMsg(&msg, ob->js, OUTBOX_STREAM_NAME, stream_last, NULL, &jerr);
    if (s != NATS_OK) {
        outbox_problem(ob, "cannot read message %" PRIu64 " of stream %s: %s (jetstream error %d); retrying",
                       stream_last, OUTBOX_STREAM_NAME, natsStatus_GetText(s), (int)jerr);
        return STEP_RETRY;
    }
    uint64_t ledger_seq = 0;
    if (!header_u64(msg, "Ledger-Seq", &ledger_seq)) {
        outbox_problem(ob, "ERROR: the last message of stream %s has no valid Ledger-Seq header: the stream "
                       "was not written by a ledger outbox; not publishing", OUTBOX_STREAM_NAME);
        step = STEP_REFUSED;
    } else if (ledger_seq > committed) {
        outbox_problem(ob, "ERROR: stream %s is at ledger seq %" PRIu64 " but the log ends at %" PRIu64
                       ": the stream belongs to another or newer log; not publishing. Restore the newer log "
                       "or delete the stream.", OUTBOX_STREAM_NAME, ledger_seq, committed);
        step = STEP_REFUSED;
    } else {
        step = outbox_check_last(ob, msg, ledger_seq);
    }
    natsMsg_Destroy(msg);
    ob->anchor_seq = ob->next_seq = ledger_seq + 1;
    return step;
}

static void outbox_log_connected(struct outbox *ob, uint64_t committed)
{
    uint64_t at = ob->next_seq - 1;
    char plan[128];
    if (at == committed)
        snprintf(plan, sizeof plan, "nothing to publish");
    else
        snprintf(plan, sizeof plan, "publishing %" PRIu64 "..%" PRIu64, at + 1, committed);
    char lost[128] = "";
    if (ob->watermark > at)
        snprintf(lost, sizeof lost, " (the stream lost %" PRIu64 "..%" PRIu64 " acked earlier: refilling)",
                 at + 1, ob->watermark);
    char line[OUTBOX_PROBLEM_MAX];
    snprintf(line, sizeof line, "%s %s, stream %s at ledger seq %" PRIu64 ", log at %" PRIu64 ", %s%s",
             ob->ever_connected ? "reconnected to" : "connected to", ob->url_shown, OUTBOX_STREAM_NAME, at,
             committed, plan, lost);
    outbox_log_once(ob->connect_line, line);
}

/* DISCONNECTED -> CONNECTED. STEP_RETRY / STEP_REFUSED leave the outbox disconnected. */
static enum outbox_step outbox_connect(struct outbox *ob, uint64_t committed)
{
    natsStatus s = outbox_dial(ob);
    if (s != NATS_OK) {
        outbox_problem(ob, "cannot connect to NATS at %s: %s; the ledger keeps working, events are published "
                       "when it is back (retrying)", ob->url_shown, natsStatus_GetText(s));
        return STEP_RETRY;
    }
    enum outbox_step step = outbox_reconcile(ob, committed);
    if (step != STEP_OK) {
        outbox_disconnect(ob);
        return step;
    }
    outbox_log_connected(ob, committed);
    outbox_set_connected(ob, true);
    ob->ever_connected = true;
    return STEP_OK;
}

/* ---- publishing ------------------------------------------------------------------------------ */

static natsStatus outbox_set_headers(struct outbox *ob, natsMsg *msg, const struct event *ev)
{
    char msg_id[OUTBOX_MSG_ID_MAX], prev_id[OUTBOX_MSG_ID_MAX], seq_text[24];
    char hash_hex[2 * LEDGER_HASH_LEN + 1];
    outbox_msg_id(ob, ev->seq, msg_id);
    snprintf(seq_text, sizeof seq_text, "%" PRIu64, ev->seq);
    ledger_hex(ev->hash, LEDGER_HASH_LEN, hash_hex);
    natsStatus s = natsMsgHeader_Set(msg, "Nats-Msg-Id", msg_id);
    if (s == NATS_OK && ev->seq == ob->anchor_seq) {
        snprintf(prev_id, sizeof prev_id, "%" PRIu64, ob->anchor_stream_seq);
        s = natsMsgHeader_Set(msg, "Nats-Expected-Last-Sequence", prev_id);
    } else if (s == NATS_OK) {
        LEDGER_ASSERT(ev->seq > 1); /* seq 1 is always the anchor of its connection */
        outbox_msg_id(ob, ev->seq - 1, prev_id);
        s = natsMsgHeader_Set(msg, "Nats-Expected-Last-Msg-Id", prev_id);
    }
    if (s == NATS_OK)
        s = natsMsgHeader_Set(msg, "Ledger-Seq", seq_text);
    if (s == NATS_OK)
        s = natsMsgHeader_Set(msg, "Ledger-Type", event_type_name(ev->type));
    if (s == NATS_OK)
        s = natsMsgHeader_Set(msg, "Ledger-Hash", hash_hex);
    return s;
}

/* Publishes the record of seq: with ack, as a JetStream async publish (a reply subject, an ack
 * awaited by outbox_wait_acks); without, as a plain publish the stream stores without answering.
 * STEP_REFUSED: the record is not a valid event. */
static enum outbox_step outbox_publish_one(struct outbox *ob, uint64_t seq, const uint8_t *rec, size_t len,
                                           bool ack)
{
    struct event ev;
    const char *category = NULL, *verb = NULL;
    if (event_decode(rec, len, &ev) == LEDGER_ERR_OK && ev.seq == seq) {
        category = event_type_category(ev.type);
        verb = event_type_verb(ev.type);
    }
    if (category == NULL || verb == NULL) {
        outbox_problem(ob, "ERROR: event %" PRIu64 " in the log does not decode; not publishing past it. Run "
                       "'ledgerctl verify'.", seq);
        return STEP_REFUSED;
    }
    char subject[LEDGER_SUBJECT_MAX];
    int n = snprintf(subject, sizeof subject, OUTBOX_SUBJECT_PREFIX "%s.%s", category, verb);
    LEDGER_ASSERT(n > 0 && (size_t)n < sizeof subject);
    natsMsg *msg = NULL;
    natsStatus s = natsMsg_Create(&msg, subject, NULL, (const char *)rec, (int)len);
    if (s == NATS_OK)
        s = outbox_set_headers(ob, msg, &ev);
    if (s == NATS_OK)
        s = ack ? js_PublishMsgAsync(ob->js, &msg, NULL) : natsConnection_PublishMsg(ob->nc, msg);
    nats_msg_retire(&ob->retired, msg); /* NULL (a no-op) when the library took it */
    if (s != NATS_OK) {
        outbox_problem(ob, "lost NATS connection while publishing ledger seq %" PRIu64 ": %s; the ledger "
                       "keeps working; reconnecting", seq, natsStatus_GetText(s));
        return STEP_RETRY;
    }
    return STEP_OK;
}

/* Waits for every ack of the window, in slices, for at most LEDGER_OUTBOX_ACK_WAIT_MS (or until
 * the stop deadline). true only when every message was acked without error. */
static bool outbox_wait_acks(struct outbox *ob)
{
    int64_t deadline = mono_ms() + LEDGER_OUTBOX_ACK_WAIT_MS;
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = OUTBOX_ACK_SLICE_MS;
    char why[OUTBOX_PROBLEM_MAX];
    for (;;) {
        natsStatus s = js_PublishAsyncComplete(ob->js, &po);
        if (outbox_ack_failed(ob, why, sizeof why)) {
            outbox_problem(ob, "%s; reconnecting to reconcile", why);
            return false;
        }
        if (s == NATS_OK)
            return true;
        pthread_mutex_lock(&ob->mu);
        int64_t stop_at = ob->stopping ? ob->stop_deadline_ms : INT64_MAX;
        pthread_mutex_unlock(&ob->mu);
        int64_t now = mono_ms();
        bool closed = natsConnection_IsClosed(ob->nc);
        if (s != NATS_TIMEOUT || closed || now >= deadline || now >= stop_at) {
            outbox_problem(ob, "no publish ack from NATS at %s (%s); the ledger keeps working; reconnecting",
                           ob->url_shown, closed ? "connection closed" : natsStatus_GetText(s));
            return false;
        }
    }
}

static void outbox_watermark_put(struct outbox *ob, uint64_t seq)
{
    ob->watermark = seq;
    ob->watermark_ms = mono_ms();
    store_meta_put_u64(ob->st, OUTBOX_WATERMARK_KEY, seq);
}

/* Publishes next_seq..min(committed, next_seq + WINDOW_MAX - 1) and waits for the ack of the
 * last. Only the last asks for one: every message names its predecessor (Nats-Expected-Last-
 * Msg-Id), which the server checks before storing it, so a stored last message proves the whole
 * window stored in order; a message the server drops without a word (no reply subject) makes the
 * next one's check fail, and so on to the last, whose refusal or missing ack sends the outbox back
 * to reconcile. One ack per window instead of per event: no reply subject, no pending-ack entry
 * and no ack message for the others, on both sides of the connection. */
static enum outbox_step outbox_publish_window(struct outbox *ob, uint64_t committed)
{
    uint64_t from = ob->next_seq;
    uint64_t to = committed - from + 1 > LEDGER_OUTBOX_WINDOW_MAX ? from + LEDGER_OUTBOX_WINDOW_MAX - 1
                                                                  : committed;
    LEDGER_ASSERT(from <= to);
    pthread_mutex_lock(&ob->mu);
    ob->ack_failed = false;
    pthread_mutex_unlock(&ob->mu);

    enum outbox_step step = STEP_OK;
    struct store_iter *it = store_iter_events(ob->st, from);
    for (uint64_t seq = from; seq <= to && step == STEP_OK; seq++) {
        const uint8_t *key = NULL, *val = NULL;
        size_t klen = 0, vlen = 0;
        if (!store_iter_next(it, &key, &klen, &val, &vlen) || klen != 8 || store_be_u64(key) != seq) {
            outbox_problem(ob, "ERROR: cannot read event %" PRIu64 " from the log (%s); retrying", seq,
                           store_iter_failed(it) ? "I/O error" : "missing");
            step = STEP_REFUSED;
            break;
        }
        step = outbox_publish_one(ob, seq, val, vlen, seq == to);
    }
    store_iter_free(it);
    nats_msg_retire_flush(&ob->retired); /* the window's messages in one go */
    if (step == STEP_OK && !outbox_wait_acks(ob))
        step = STEP_RETRY;
    if (step != STEP_OK)
        return step;

    ob->next_seq = to + 1;
    pthread_mutex_lock(&ob->mu);
    bool caught_up = ob->committed_seq == to;
    pthread_mutex_unlock(&ob->mu);
    if (caught_up || mono_ms() - ob->watermark_ms >= OUTBOX_WATERMARK_EVERY_MS) /* a write less per window */
        outbox_watermark_put(ob, to);
    pthread_mutex_lock(&ob->mu);
    ob->m.published_seq = to;
    ob->m.published_total += to - from + 1;
    pthread_mutex_unlock(&ob->mu);
    outbox_healthy(ob);
    return STEP_OK;
}

/* ---- the thread ------------------------------------------------------------------------------ */

/* Sleeps the back-off (not cut short by notify: a busy ledger must not turn it into a spin), capped
 * by the stop deadline, then doubles it. STEP_REFUSED waits the ceiling at once. */
static void outbox_backoff_wait(struct outbox *ob, enum outbox_step why)
{
    if (why == STEP_REFUSED)
        ob->backoff_ms = LEDGER_OUTBOX_RETRY_MS_MAX;
    int64_t until = mono_ms() + ob->backoff_ms;
    pthread_mutex_lock(&ob->mu);
    for (int64_t now = mono_ms(); now < until; now = mono_ms()) {
        if (ob->stopping && why == STEP_REFUSED)
            break;
        int64_t limit = ob->stopping && ob->stop_deadline_ms < until ? ob->stop_deadline_ms : until;
        if (now >= limit)
            break;
        cond_wait_until(ob, limit);
    }
    pthread_mutex_unlock(&ob->mu);
    ob->backoff_ms = ob->backoff_ms * 2 > LEDGER_OUTBOX_RETRY_MS_MAX ? LEDGER_OUTBOX_RETRY_MS_MAX
                                                                     : ob->backoff_ms * 2;
}

/* Connected and caught up: healthy; waits for a commit, a stop or the idle timeout. */
static void outbox_idle_wait(struct outbox *ob, uint64_t seen_committed)
{
    outbox_healthy(ob);
    int64_t until = mono_ms() + OUTBOX_IDLE_WAIT_MS;
    pthread_mutex_lock(&ob->mu);
    while (ob->committed_seq == seen_committed && !ob->stopping && mono_ms() < until)
        cond_wait_until(ob, until);
    pthread_mutex_unlock(&ob->mu);
}

/* A small backlog: waits up to OUTBOX_LINGER_MS for more commits (not for a stop); returns the
 * committed seq to publish up to. */
static uint64_t outbox_linger(struct outbox *ob, uint64_t committed)
{
    if (committed - ob->next_seq + 1 >= OUTBOX_LINGER_EVENTS)
        return committed;
    int64_t until = mono_ms() + OUTBOX_LINGER_MS;
    pthread_mutex_lock(&ob->mu);
    ob->linger_from = ob->next_seq;
    ob->lingering = true;
    while (!ob->stopping && ob->committed_seq - ob->next_seq + 1 < OUTBOX_LINGER_EVENTS && mono_ms() < until)
        cond_wait_until(ob, until);
    ob->lingering = false;
    committed = ob->committed_seq;
    pthread_mutex_unlock(&ob->mu);
    return committed;
}

static enum outbox_step outbox_lost(struct outbox *ob)
{
    outbox_problem(ob, "lost NATS connection to %s; the ledger keeps working; reconnecting", ob->url_shown);
    return STEP_RETRY;
}

static void *outbox_main(void *arg)
{
    pthread_setname_np(pthread_self(), "ledger-outbox"); /* as top -H and perf show it */
    /* The replica is off the latency path: when the cores are busy, answers to clients (HTTP
     * threads, sequencer, NATS commands) go first. The outbox catches up when they are idle. */
    if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), LEDGER_OUTBOX_NICE) != 0)
        perror("ledgerd: outbox: setpriority");
    struct outbox *ob = arg;
    for (;;) {
        pthread_mutex_lock(&ob->mu);
        uint64_t committed = ob->committed_seq;
        bool stopping = ob->stopping;
        int64_t stop_at = ob->stop_deadline_ms;
        pthread_mutex_unlock(&ob->mu);
        bool caught_up = ob->nc != NULL && ob->next_seq > committed;
        if (stopping && (caught_up || ob->refused || mono_ms() >= stop_at))
            break;
        enum outbox_step step = STEP_OK;
        if (ob->nc == NULL)
            step = outbox_connect(ob, committed);
        else if (ob->next_seq <= committed)
            step = outbox_publish_window(ob, stopping ? committed : outbox_linger(ob, committed));
        else if (natsConnection_Status(ob->nc) == NATS_CONN_STATUS_CONNECTED)
            outbox_idle_wait(ob, committed);
        else
            step = outbox_lost(ob);
        ob->refused = step == STEP_REFUSED;
        if (step == STEP_OK)
            continue;
        if (ob->nc != NULL)
            outbox_disconnect(ob);
        outbox_backoff_wait(ob, step);
    }
    pthread_mutex_lock(&ob->mu);
    uint64_t committed = ob->committed_seq, published = ob->m.published_seq;
    pthread_mutex_unlock(&ob->mu);
    if (published > ob->watermark)
        outbox_watermark_put(ob, published);
    if (ob->nc != NULL && ob->next_seq <= committed)
        fprintf(stderr, "ledgerd: outbox: stopping with ledger seq %" PRIu64 "..%" PRIu64
                " not yet in stream %s; they are published at the next start\n", ob->next_seq, committed,
                OUTBOX_STREAM_NAME);
    else if (ob->nc == NULL && !ob->refused)
        fprintf(stderr, "ledgerd: outbox: stopping while disconnected from NATS; what the stream lacks is "
                "published at the next start\n");
    if (ob->nc != NULL)
        outbox_disconnect(ob);
    return NULL;
}

/* ---- public API ------------------------------------------------------------------------------ */

static bool outbox_sync_init(struct outbox *ob)
{
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca) != 0)
        return false;
    bool ok = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 && pthread_cond_init(&ob->cv, &ca) == 0;
    pthread_condattr_destroy(&ca);
    if (ok && pthread_mutex_init(&ob->mu, NULL) != 0) {
        pthread_cond_destroy(&ob->cv);
        ok = false;
    }
    return ok;
}

struct outbox *outbox_start(struct store *st, const char *nats_url, uint64_t committed_seq, char *err,
                            size_t err_cap)
{
    LEDGER_ASSERT(st != NULL);
    struct outbox *ob = calloc(1, sizeof *ob);
    if (ob == NULL) {
        snprintf(err, err_cap, "outbox: out of memory");
        return NULL;
    }
    ob->st = st;
    ob->committed_seq = committed_seq;
    ob->m.committed_seq = committed_seq;
    ob->enabled = nats_url != NULL && nats_url[0] != '\0' && strcmp(nats_url, "none") != 0;
    if (!outbox_sync_init(ob)) {
        snprintf(err, err_cap, "outbox: cannot create a mutex or condition variable");
        free(ob);
        return NULL;
    }
    if (!ob->enabled)
        return ob;
    struct ledger_id id = store_ledger_id(st);
    ledger_id_format(&id, ob->ledger_text);
    if (store_meta_get_u64(st, OUTBOX_WATERMARK_KEY, &ob->watermark))
        ob->m.published_seq = ob->watermark;
    ob->backoff_ms = OUTBOX_RETRY_MS_MIN;
    LEDGER_ASSERT(nats_url != NULL); /* enabled */
    ob->url = strdup(nats_url);
    ledger_url_redact(nats_url, ob->url_shown, sizeof ob->url_shown);
    int rc = ob->url == NULL ? ENOMEM : pthread_create(&ob->thread, NULL, outbox_main, ob);
    if (rc != 0) {
        snprintf(err, err_cap, "outbox: cannot start its thread: %s", strerror(rc));
        free(ob->url);
        pthread_cond_destroy(&ob->cv);
        pthread_mutex_destroy(&ob->mu);
        free(ob);
        return NULL;
    }
    return ob;
}

void outbox_notify(struct outbox *ob, uint64_t committed_seq)
{
    if (ob == NULL)
        return;
    pthread_mutex_lock(&ob->mu);
    LEDGER_ASSERT(committed_seq >= ob->committed_seq);
    ob->committed_seq = committed_seq;
    ob->m.committed_seq = committed_seq;
    bool wake = !ob->lingering || committed_seq - ob->linger_from + 1 >= OUTBOX_LINGER_EVENTS;
    pthread_mutex_unlock(&ob->mu);
    if (wake)
        pthread_cond_signal(&ob->cv);
}

void outbox_stop(struct outbox *ob)
{
    if (ob == NULL)
        return;
    if (ob->enabled) {
        pthread_mutex_lock(&ob->mu);
        ob->stopping = true;
        ob->stop_deadline_ms = mono_ms() + OUTBOX_STOP_WAIT_MS;
        pthread_mutex_unlock(&ob->mu);
        pthread_cond_signal(&ob->cv);
        int rc = pthread_join(ob->thread, NULL);
        LEDGER_ASSERT(rc == 0);
    }
    free(ob->url);
    pthread_cond_destroy(&ob->cv);
    pthread_mutex_destroy(&ob->mu);
    free(ob);
}

void outbox_metrics_read(struct outbox *ob, struct outbox_metrics *out)
{
    LEDGER_ASSERT(ob != NULL && out != NULL);
    pthread_mutex_lock(&ob->mu);
    *out = ob->m;
    pthread_mutex_unlock(&ob->mu);
}
