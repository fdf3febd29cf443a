/*
 * test_outbox.c: the NATS outbox against a real nats-server (tests/nats_harness.c) and a real
 * RocksDB log in a temp dir. Events are written the way the sequencer writes them (encode with the
 * chain hash, one WriteBatch with the new head, store_commit), then the stream is read back.
 */
#include <criterion/criterion.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/nats_retire.h"
#include "store/outbox.h"
#include "store/store.h"
#include "tests/nats_harness.h"

#define POLL_MS 20
#define CATCH_UP_MS 15000
#define COMMIT_EVENTS_MAX 1000

struct fixture {
    char dir[64];
    struct store *st;
    struct store_head head;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

static void fixture_open(struct fixture *f)
{
    memset(f, 0, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/ledger-outbox-XXXXXX");
    cr_assert_not_null(mkdtemp(f->dir));
    char db[128], err[256];
    snprintf(db, sizeof db, "%s/db", f->dir);
    f->st = store_open(db, false, err, sizeof err);
    cr_assert_not_null(f->st, "store_open: %s", err);
    f->head = store_head(f->st);
}

static void fixture_close(struct fixture *f)
{
    store_close(f->st);
    f->st = NULL;
    nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static uint64_t blocked_seq; /* this seq is an account.blocked event instead (0: none) */

/* One account.opened event for seq: distinct account id and friendly name per seq. */
static void event_fill(struct event *ev, uint64_t seq)
{
    char name[64];
    memset(ev, 0, sizeof *ev);
    ev->seq = seq;
    ev->ts_ns = 1700000000000000000ll + (int64_t)seq * 1000;
    ev->type = EVENT_ACCOUNT_OPENED;
    ev->v = 1;
    snprintf(name, sizeof name, "account-%" PRIu64, seq);
    ev->stream = ledger_id_from_name(name);
    ev->stream_ver = 1;
    snprintf(name, sizeof name, "cmd-%" PRIu64, seq);
    ev->cmd_id = ledger_id_from_name(name);
    snprintf(ev->actor, sizeof ev->actor, "test");
    struct ev_account_opened *d = &ev->data.opened;
    d->account_id = ev->stream;
    d->kind = ACCOUNT_KIND_CUSTOMER;
    snprintf(d->holder_id, sizeof d->holder_id, "holder-%" PRIu64, seq % 7);
    snprintf(d->currency, sizeof d->currency, "EUR");
    snprintf(d->friendly_name, sizeof d->friendly_name, "Account %" PRIu64, seq);
    char account[12];
    snprintf(account, sizeof account, "%011" PRIu64, seq);
    iban_fr_build("30004", "00001", account, d->iban);
    if (seq == blocked_seq) {
        ev->type = EVENT_ACCOUNT_BLOCKED;
        memset(&ev->data, 0, sizeof ev->data);
        ev->data.blocked.account_id = ev->stream;
        ev->data.blocked.reason = BLOCK_USER;
    }
}

/* Appends n events in commits of at most COMMIT_EVENTS_MAX, like the sequencer. */
static void append_events(struct fixture *f, uint64_t n)
{
    struct store_batch *b = store_batch_new(f->st);
    uint8_t rec[LEDGER_RECORD_BYTES_MAX];
    while (n > 0) {
        uint64_t k = n < COMMIT_EVENTS_MAX ? n : COMMIT_EVENTS_MAX;
        store_batch_clear(b);
        for (uint64_t i = 0; i < k; i++) {
            struct event ev;
            event_fill(&ev, f->head.seq + 1);
            memcpy(ev.prev_hash, f->head.hash, LEDGER_HASH_LEN);
            size_t len = event_encode(&ev, rec, sizeof rec);
            cr_assert_gt(len, 0);
            store_batch_put_event(b, ev.seq, rec, len);
            store_batch_put_stream(b, &ev.stream, ev.stream_ver, ev.seq);
            f->head.seq = ev.seq;
            memcpy(f->head.hash, ev.hash, LEDGER_HASH_LEN);
        }
        store_batch_set_head(b, &f->head);
        store_commit(f->st, b);
        n -= k;
    }
    store_batch_free(b);
}

static struct outbox *start_outbox(struct fixture *f, const char *url, uint64_t committed)
{
    char err[256] = "";
    struct outbox *ob = outbox_start(f->st, url, committed, err, sizeof err);
    cr_assert_not_null(ob, "outbox_start: %s", err);
    return ob;
}

/* Polls the outbox's metrics until pred holds or timeout_ms passes. */
typedef bool metrics_pred(const struct outbox_metrics *m, uint64_t arg);

static bool wait_metrics(struct outbox *ob, metrics_pred *pred, uint64_t arg, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    struct outbox_metrics m;
    for (;;) {
        outbox_metrics_read(ob, &m);
        if (pred(&m, arg))
            return true;
        if (now_ms() >= deadline)
            return false;
        sleep_ms(POLL_MS);
    }
}

static bool published_at(const struct outbox_metrics *m, uint64_t seq)
{
    return m->connected && m->published_seq == seq;
}

static void assert_count(struct nats_harness *h, uint64_t want)
{
    uint64_t seen = 0;
    cr_assert(nats_harness_wait_count(h, want, CATCH_UP_MS, &seen),
              "stream holds %" PRIu64 " messages, want %" PRIu64, seen, want);
}

/* Message i of the stream is ledger seq i for every i: no gap, no duplicate, in order. */
static void assert_stream_is_log_prefix(struct nats_harness *h, uint64_t n)
{
    uint64_t count = 0;
    cr_assert(nats_harness_stream_count(h, &count));
    cr_assert_eq(count, n);
    for (uint64_t i = 1; i <= n; i++) {
        uint64_t seq = 0;
        cr_assert(nats_harness_ledger_seq(h, i, &seq), "stream message %" PRIu64 " unreadable", i);
        cr_assert_eq(seq, i, "stream message %" PRIu64 " holds ledger seq %" PRIu64, i, seq);
    }
}

/* Every header and the payload of message i match record i of the log. */
static void assert_message_matches_log(struct fixture *f, struct nats_harness *h, uint64_t i)
{
    natsMsg *msg = nats_harness_stream_msg(h, i);
    cr_assert_not_null(msg, "stream message %" PRIu64 " missing", i);
    uint8_t rec[LEDGER_RECORD_BYTES_MAX];
    size_t len = 0;
    cr_assert_eq(store_get_event(f->st, i, rec, sizeof rec, &len), LEDGER_ERR_OK);
    cr_assert_eq((size_t)natsMsg_GetDataLength(msg), len);
    cr_assert(memcmp(natsMsg_GetData(msg), rec, len) == 0, "payload of %" PRIu64 " differs from the log", i);
    cr_assert_str_eq(natsMsg_GetSubject(msg), "ledger.events.account.opened");

    struct event ev;
    cr_assert_eq(event_decode(rec, len, &ev), LEDGER_ERR_OK);
    char want[128], hex[2 * LEDGER_HASH_LEN + 1], ledger[LEDGER_ID_TEXT_LEN + 1];
    struct ledger_id id = store_ledger_id(f->st);
    ledger_id_format(&id, ledger);
    const char *v = NULL;
    snprintf(want, sizeof want, "%s:%" PRIu64, ledger, i);
    cr_assert_eq(natsMsgHeader_Get(msg, "Nats-Msg-Id", &v), NATS_OK);
    cr_assert_str_eq(v, want);
    cr_assert_eq(natsMsgHeader_Get(msg, "Ledger-Seq", &v), NATS_OK);
    snprintf(want, sizeof want, "%" PRIu64, i);
    cr_assert_str_eq(v, want);
    cr_assert_eq(natsMsgHeader_Get(msg, "Ledger-Type", &v), NATS_OK);
    cr_assert_str_eq(v, "account.opened");
    cr_assert_eq(natsMsgHeader_Get(msg, "Ledger-Hash", &v), NATS_OK);
    ledger_hex(ev.hash, LEDGER_HASH_LEN, hex);
    cr_assert_str_eq(v, hex);
    /* The predecessor: by msg id, or (first message of a connection) by stream seq; in these tests
     * stream seq i holds ledger seq i. */
    if (natsMsgHeader_Get(msg, "Nats-Expected-Last-Sequence", &v) == NATS_OK) {
        snprintf(want, sizeof want, "%" PRIu64, i - 1);
        cr_assert_str_eq(v, want);
        cr_assert_eq(natsMsgHeader_Get(msg, "Nats-Expected-Last-Msg-Id", &v), NATS_NOT_FOUND);
    } else {
        cr_assert_gt(i, 1, "message 1 must name stream seq 0 as its predecessor");
        cr_assert_eq(natsMsgHeader_Get(msg, "Nats-Expected-Last-Msg-Id", &v), NATS_OK);
        snprintf(want, sizeof want, "%s:%" PRIu64, ledger, i - 1);
        cr_assert_str_eq(v, want);
    }
    natsMsg_Destroy(msg);
}

Test(outbox, publishes_every_event_in_order, .timeout = 60)
{
    /* Proves that every committed event reaches stream LEDGER once, in order, across more than one
     * publish window: message i carries Ledger-Seq i, the record's exact bytes as payload, the
     * subject of its type and all headers; and that the watermark and metrics follow. */
    struct fixture f;
    struct nats_harness h;
    fixture_open(&f);
    cr_assert(nats_harness_start(&h, f.dir));
    uint64_t n = LEDGER_OUTBOX_WINDOW_MAX + 904; /* two windows */
    append_events(&f, 100);
    struct outbox *ob = start_outbox(&f, h.url, f.head.seq);
    append_events(&f, n - 100);
    outbox_notify(ob, f.head.seq);
    assert_count(&h, n);
    cr_assert(wait_metrics(ob, published_at, n, CATCH_UP_MS));
    for (uint64_t i = 1; i <= n; i++)
        assert_message_matches_log(&f, &h, i);

    struct outbox_metrics m;
    outbox_metrics_read(ob, &m);
    cr_assert_eq(m.committed_seq, n);
    cr_assert_eq(m.published_total, n);
    cr_assert_eq(m.reconnects, 0);
    uint64_t watermark = 0;
    cr_assert(store_meta_get_u64(f.st, OUTBOX_WATERMARK_KEY, &watermark));
    cr_assert_eq(watermark, n);
    outbox_stop(ob);
    nats_harness_release(&h);
    fixture_close(&f);
}

Test(outbox, nats_outage_never_blocks_and_catches_up, .timeout = 60)
{
    /* Proves that with NATS down the ledger side never waits (outbox_notify returns at once while
     * commits go on), and that once the server is back on the same port and store the stream
     * catches up: every seq exactly once, no gap, no duplicate. Twice: NATS down from the start,
     * then NATS stopped after the outbox had published. */
    struct fixture f;
    struct nats_harness h;
    fixture_open(&f);
    cr_assert(nats_harness_start(&h, f.dir));
    nats_harness_stop(&h);

    append_events(&f, 50);
    struct outbox *ob = start_outbox(&f, h.url, f.head.seq);
    int64_t notify_us_max = 0;
    for (int round = 0; round < 20; round++) {
        append_events(&f, 10);
        int64_t t0 = now_us();
        outbox_notify(ob, f.head.seq);
        int64_t dt = now_us() - t0;
        notify_us_max = dt > notify_us_max ? dt : notify_us_max;
        sleep_ms(10);
    }
    cr_assert_lt(notify_us_max, 20000, "outbox_notify took %" PRId64 " us with NATS down", notify_us_max);
    struct outbox_metrics m;
    outbox_metrics_read(ob, &m);
    cr_assert_not(m.connected);
    cr_assert_eq(m.committed_seq, 250);

    cr_assert(nats_harness_restart(&h));
    assert_count(&h, 250);
    cr_assert(wait_metrics(ob, published_at, 250, CATCH_UP_MS));
    assert_stream_is_log_prefix(&h, 250);

    /* Outage after publishing: the stream survives a graceful stop; the rest is added once. */
    nats_harness_stop(&h);
    for (int round = 0; round < 10; round++) {
        append_events(&f, 15);
        int64_t t0 = now_us();
        outbox_notify(ob, f.head.seq);
        cr_assert_lt(now_us() - t0, 20000);
        sleep_ms(20);
    }
    cr_assert(nats_harness_restart(&h));
    assert_count(&h, 400);
    cr_assert(wait_metrics(ob, published_at, 400, CATCH_UP_MS));
    assert_stream_is_log_prefix(&h, 400);
    outbox_metrics_read(ob, &m);
    cr_assert_geq(m.reconnects, 1);
    assert_message_matches_log(&f, &h, 400);
    outbox_stop(ob);
    nats_harness_release(&h);
    fixture_close(&f);
}

static bool published_some(const struct outbox_metrics *m, uint64_t seq)
{
    return m->published_seq >= seq;
}

Test(outbox, server_crash_mid_publish_leaves_no_gap_or_duplicate, .timeout = 60)
{
    /* Proves that a nats-server killed (SIGKILL, no flush) while windows are in flight, then
     * restarted on the same store, ends up holding every seq exactly once in order: the outbox
     * reconciles from what the restarted stream really holds, whatever the crash lost. */
    struct fixture f;
    struct nats_harness h;
    fixture_open(&f);
    const uint64_t n = 6 * LEDGER_OUTBOX_WINDOW_MAX;
    append_events(&f, n);
    cr_assert(nats_harness_start(&h, f.dir));
    struct outbox *ob = start_outbox(&f, h.url, n);
    cr_assert(wait_metrics(ob, published_some, 1, CATCH_UP_MS));
    nats_harness_kill(&h);
    cr_assert(nats_harness_restart(&h));
    assert_count(&h, n);
    cr_assert(wait_metrics(ob, published_at, n, CATCH_UP_MS));
    assert_stream_is_log_prefix(&h, n);
    struct outbox_metrics m;
    outbox_metrics_read(ob, &m);
    cr_assert_geq(m.reconnects, 1);
    outbox_stop(ob);
    nats_harness_release(&h);
    fixture_close(&f);
}

Test(outbox, refills_a_stream_that_lost_its_tail, .timeout = 60)
{
    /* Proves that reconciliation follows the stream, not the watermark: an outbox that published
     * 1..N to one server, pointed at a server whose stream ends at K < N (a server that lost its
     * unflushed tail), publishes exactly K+1..N; pointed at an empty server it publishes 1..N; and a
     * restart against a complete stream publishes nothing twice (N stays N, then N+M after M more). */
    struct fixture f;
    struct nats_harness a, b, c;
    fixture_open(&f);
    const uint64_t n = 300, k = 120, more = 40;
    append_events(&f, n);
    cr_assert(nats_harness_start(&a, f.dir));
    struct outbox *ob = start_outbox(&f, a.url, n);
    assert_count(&a, n);
    cr_assert(wait_metrics(ob, published_at, n, CATCH_UP_MS));
    outbox_stop(ob);
    nats_harness_release(&a);

    /* Server b holds only 1..k (an outbox that had seen only k commits wrote it). */
    cr_assert(nats_harness_start(&b, f.dir));
    ob = start_outbox(&f, b.url, k);
    assert_count(&b, k);
    cr_assert(wait_metrics(ob, published_at, k, CATCH_UP_MS));
    outbox_stop(ob);
    uint64_t watermark = 0;
    store_meta_put_u64(f.st, OUTBOX_WATERMARK_KEY, n); /* as if 1..n had been acked by b */
    ob = start_outbox(&f, b.url, n);
    assert_count(&b, n);
    cr_assert(wait_metrics(ob, published_at, n, CATCH_UP_MS));
    assert_stream_is_log_prefix(&b, n);
    outbox_stop(ob);
    cr_assert(store_meta_get_u64(f.st, OUTBOX_WATERMARK_KEY, &watermark));
    cr_assert_eq(watermark, n);

    /* A fresh server: everything from 1. */
    cr_assert(nats_harness_start(&c, f.dir));
    ob = start_outbox(&f, c.url, n);
    assert_count(&c, n);
    cr_assert(wait_metrics(ob, published_at, n, CATCH_UP_MS));
    assert_stream_is_log_prefix(&c, n);
    outbox_stop(ob);

    /* Complete stream: nothing is published twice; new commits are appended. */
    ob = start_outbox(&f, c.url, n);
    cr_assert(wait_metrics(ob, published_at, n, CATCH_UP_MS));
    sleep_ms(300);
    uint64_t count = 0;
    cr_assert(nats_harness_stream_count(&c, &count));
    cr_assert_eq(count, n);
    struct outbox_metrics m;
    outbox_metrics_read(ob, &m);
    cr_assert_eq(m.published_total, 0);
    append_events(&f, more);
    outbox_notify(ob, f.head.seq);
    assert_count(&c, n + more);
    cr_assert(wait_metrics(ob, published_at, n + more, CATCH_UP_MS));
    assert_stream_is_log_prefix(&c, n + more);
    assert_message_matches_log(&f, &c, n + more);
    outbox_stop(ob);
    nats_harness_release(&b);
    nats_harness_release(&c);
    fixture_close(&f);
}

Test(outbox, resumes_after_restart_beyond_the_duplicate_window, .timeout = 30)
{
    /* Proves that the outbox resumes on a restarted server whose last message is older than the
     * stream's duplicate window: nats-server 2.9 then no longer knows its last msg id and would
     * refuse a Nats-Expected-Last-Msg-Id forever, so the first message of a connection names its
     * predecessor by stream sequence (Nats-Expected-Last-Sequence) instead. */
    struct fixture f;
    struct nats_harness h;
    fixture_open(&f);
    cr_assert(nats_harness_start(&h, f.dir));
    cr_assert(nats_harness_create_stream(&h, NULL, 500));
    append_events(&f, 20);
    struct outbox *ob = start_outbox(&f, h.url, 20);
    assert_count(&h, 20);
    cr_assert(wait_metrics(ob, published_at, 20, CATCH_UP_MS));
    nats_harness_stop(&h);
    sleep_ms(800); /* the last message is now older than the 500 ms window */
    cr_assert(nats_harness_restart(&h));
    append_events(&f, 15);
    outbox_notify(ob, f.head.seq);
    assert_count(&h, 35);
    cr_assert(wait_metrics(ob, published_at, 35, CATCH_UP_MS));
    assert_stream_is_log_prefix(&h, 35);
    for (uint64_t i = 1; i <= 35; i++)
        assert_message_matches_log(&f, &h, i);
    outbox_stop(ob);

    /* The same from a fresh outbox (ledgerd restarted too). */
    nats_harness_stop(&h);
    sleep_ms(800);
    cr_assert(nats_harness_restart(&h));
    append_events(&f, 5);
    ob = start_outbox(&f, h.url, f.head.seq);
    assert_count(&h, 40);
    cr_assert(wait_metrics(ob, published_at, 40, CATCH_UP_MS));
    assert_stream_is_log_prefix(&h, 40);
    outbox_stop(ob);
    nats_harness_release(&h);
    fixture_close(&f);
}

static bool reconnected(const struct outbox_metrics *m, uint64_t times)
{
    return m->reconnects >= times;
}

Test(outbox, a_message_dropped_mid_window_leaves_no_gap, .timeout = 60)
{
    /* Proves that only the last message of a window needs an ack: a stream that takes only
     * account.opened drops event 11 (account.blocked) without a word, as the server does with any
     * message published without a reply subject that it cannot store; events 12..30 name 11 as
     * their predecessor and are refused, the last one's ack says so, and the outbox reconciles and
     * tries again. The stream never holds anything past the gap. */
    struct fixture f;
    struct nats_harness h;
    fixture_open(&f);
    cr_assert(nats_harness_start(&h, f.dir));
    cr_assert(nats_harness_create_stream(&h, "ledger.events.account.opened", 0));
    blocked_seq = 11;
    append_events(&f, 30);
    blocked_seq = 0;
    struct outbox *ob = start_outbox(&f, h.url, 30);
    assert_count(&h, 10);
    cr_assert(wait_metrics(ob, reconnected, 2, CATCH_UP_MS), "the refused window is noticed and retried");
    uint64_t count = 0;
    cr_assert(nats_harness_stream_count(&h, &count));
    cr_assert_eq(count, 10, "nothing past the dropped event: %" PRIu64 " messages", count);
    assert_stream_is_log_prefix(&h, 10);
    struct outbox_metrics m;
    outbox_metrics_read(ob, &m);
    cr_assert_eq(m.published_seq, 10);
    cr_assert_eq(m.committed_seq, 30);
    outbox_stop(ob);
    nats_harness_release(&h);
    fixture_close(&f);
}

static bool refused(const struct outbox_metrics *m, uint64_t unused)
{
    (void)unused;
    return !m->connected;
}

Test(outbox, refuses_a_stream_ahead_of_the_log_or_from_another_ledger, .timeout = 60)
{
    /* Proves that the outbox never writes to a stream it does not own: a stream whose last ledger
     * seq is beyond the log's committed seq, or whose messages carry another ledger's id, is left
     * untouched (count unchanged, not connected), and outbox_stop returns promptly. */
    struct fixture f, other;
    struct nats_harness h;
    fixture_open(&f);
    fixture_open(&other);
    cr_assert(nats_harness_start(&h, f.dir));
    append_events(&f, 30);
    struct outbox *ob = start_outbox(&f, h.url, 30);
    assert_count(&h, 30);
    cr_assert(wait_metrics(ob, published_at, 30, CATCH_UP_MS));
    outbox_stop(ob);

    ob = start_outbox(&f, h.url, 20); /* the log "ends" at 20: the stream is ahead */
    sleep_ms(500);
    cr_assert(wait_metrics(ob, refused, 0, 1000));
    int64_t t0 = now_ms();
    outbox_stop(ob);
    cr_assert_lt(now_ms() - t0, 1000);

    append_events(&other, 40); /* another ledger, longer than the stream */
    ob = start_outbox(&other, h.url, 40);
    sleep_ms(500);
    struct outbox_metrics m;
    outbox_metrics_read(ob, &m);
    cr_assert_not(m.connected);
    cr_assert_eq(m.published_total, 0);
    outbox_stop(ob);
    assert_stream_is_log_prefix(&h, 30);
    nats_harness_release(&h);
    fixture_close(&other);
    fixture_close(&f);
}

Test(outbox, disabled_does_nothing, .timeout = 10)
{
    /* Proves that "none" and NULL give a handle that only records commits (never connected, nothing
     * published, no watermark) and that outbox_stop returns at once. */
    struct fixture f;
    fixture_open(&f);
    append_events(&f, 5);
    const char *urls[] = {"none", NULL};
    for (size_t i = 0; i < 2; i++) {
        struct outbox *ob = start_outbox(&f, urls[i], 5);
        outbox_notify(ob, 5);
        struct outbox_metrics m;
        outbox_metrics_read(ob, &m);
        cr_assert_eq(m.committed_seq, 5);
        cr_assert_eq(m.published_seq, 0);
        cr_assert_eq(m.published_total, 0);
        cr_assert_not(m.connected);
        int64_t t0 = now_ms();
        outbox_stop(ob);
        cr_assert_lt(now_ms() - t0, 50);
    }
    uint64_t watermark = 0;
    cr_assert_not(store_meta_get_u64(f.st, OUTBOX_WATERMARK_KEY, &watermark));
    fixture_close(&f);
}

Test(outbox, stop_is_bounded_when_nats_is_unreachable, .timeout = 15)
{
    /* Proves that outbox_stop with NATS unreachable and events unpublished gives up after about
     * OUTBOX_STOP_WAIT_MS instead of hanging, and that start never waits for NATS. */
    struct fixture f;
    struct nats_harness h;
    fixture_open(&f);
    cr_assert(nats_harness_start(&h, f.dir));
    nats_harness_stop(&h); /* a port with nothing behind it */
    append_events(&f, 10);
    int64_t t0 = now_ms();
    struct outbox *ob = start_outbox(&f, h.url, 10);
    cr_assert_lt(now_ms() - t0, 100);
    sleep_ms(200);
    t0 = now_ms();
    outbox_stop(ob);
    int64_t took = now_ms() - t0;
    cr_assert_geq(took, OUTBOX_STOP_WAIT_MS - 100);
    cr_assert_lt(took, OUTBOX_STOP_WAIT_MS + 1500, "outbox_stop took %" PRId64 " ms", took);
    nats_harness_release(&h);
    fixture_close(&f);
}

Test(outbox, retired_messages_are_destroyed_in_batches)
{
    /* Proves the retire list keeps what it is given until NATS_MSG_RETIRE_MAX are held, destroys
     * them all at once then (the list is empty again), ignores NULL (a message the library took),
     * and destroys the rest on flush; under ASan, every message is freed exactly once. */
    cr_assert_eq(nats_Open(-1), NATS_OK); /* the library's collector thread destroys them */
    struct nats_msg_retire r = {0};
    for (int i = 0; i < 2 * NATS_MSG_RETIRE_MAX + 3; i++) {
        natsMsg *m = NULL;
        cr_assert_eq(natsMsg_Create(&m, "ledger.events.test.retired", NULL, "x", 1), NATS_OK);
        nats_msg_retire(&r, m);
        nats_msg_retire(&r, NULL);
        cr_assert_eq(r.n, (size_t)(i + 1) % NATS_MSG_RETIRE_MAX, "after %d messages", i + 1);
    }
    cr_assert_eq(r.n, 3);
    nats_msg_retire_flush(&r);
    cr_assert_eq(r.n, 0);
    nats_msg_retire_flush(&r); /* nothing held: a no-op */
    cr_assert_eq(r.n, 0);
    nats_Close();
}
