/*
 * test_store.c: the event log on a real RocksDB in a temp dir (store/store.c).
 *
 * Events are written the way the sequencer writes them: encoded with the chain hash, put with their
 * stream index and the new head in one batch, committed with store_commit(). Every test removes its
 * directory at the end; the fail-stop test removes it before it aborts.
 */
#include <criterion/criterion.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "projections/projections.h"
#include "store/store.h"

#define ERR_CAP 512

struct fixture {
    char dir[64];
    char db[128];
    struct store *st;
};

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

static void rm_rf(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void fixture_open(struct fixture *f)
{
    memset(f, 0, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/ledger-test-XXXXXX");
    cr_assert_not_null(mkdtemp(f->dir));
    snprintf(f->db, sizeof f->db, "%s/db", f->dir);
    char err[ERR_CAP] = "";
    f->st = store_open(f->db, false, err, sizeof err);
    cr_assert_not_null(f->st, "store_open: %s", err);
}

static void fixture_reopen(struct fixture *f, bool read_only)
{
    char err[ERR_CAP] = "";
    store_close(f->st);
    f->st = store_open(f->db, read_only, err, sizeof err);
    cr_assert_not_null(f->st, "reopen: %s", err);
}

static void fixture_close(struct fixture *f)
{
    store_close(f->st);
    f->st = NULL;
    rm_rf(f->dir);
}

static struct ledger_id account_id(uint64_t n)
{
    struct ledger_id id = {{0}};
    store_u64_be(n, id.b);
    id.b[15] = 0xac;
    return id;
}

/* An account.opened event for seq chained to prev; encoded into rec; returns the length. */
static size_t make_event(uint64_t seq, const uint8_t prev[LEDGER_HASH_LEN], struct event *ev, uint8_t *rec)
{
    memset(ev, 0, sizeof *ev);
    ev->seq = seq;
    ev->ts_ns = 1700000000000000000ll + (int64_t)seq;
    ev->type = EVENT_ACCOUNT_OPENED;
    ev->v = 1;
    ev->data.opened.account_id = account_id(seq);
    ev->stream = ev->data.opened.account_id;
    ev->stream_ver = 1;
    ev->cmd_id = account_id(1000 + seq);
    snprintf(ev->actor, sizeof ev->actor, "test");
    ev->data.opened.kind = ACCOUNT_KIND_CUSTOMER;
    snprintf(ev->data.opened.holder_id, sizeof ev->data.opened.holder_id, "holder-%llu",
             (unsigned long long)seq);
    memcpy(ev->data.opened.currency, "EUR", 4);
    snprintf(ev->data.opened.friendly_name, sizeof ev->data.opened.friendly_name, "main");
    memcpy(ev->prev_hash, prev, LEDGER_HASH_LEN);
    size_t len = event_encode(ev, rec, LEDGER_RECORD_BYTES_MAX);
    cr_assert_gt(len, 0);
    return len;
}

/* Appends n events after the current head in one batch (with the head unless set_head is false).
 * recs/lens receive the records (n of them). */
static void append(struct store *st, int n, bool set_head, uint8_t recs[][LEDGER_RECORD_BYTES_MAX],
                   size_t *lens)
{
    struct store_head head = store_head(st);
    struct store_batch *b = store_batch_new(st);
    for (int i = 0; i < n; i++) {
        struct event ev;
        uint64_t seq = head.seq + 1;
        lens[i] = make_event(seq, head.hash, &ev, recs[i]);
        store_batch_put_event(b, seq, recs[i], lens[i]);
        store_batch_put_stream(b, &ev.stream, ev.stream_ver, seq);
        head.seq = seq;
        memcpy(head.hash, ev.hash, LEDGER_HASH_LEN);
    }
    if (set_head)
        store_batch_set_head(b, &head);
    cr_assert_eq(store_batch_count(b), (size_t)(2 * n));
    store_commit(st, b);
    store_batch_free(b);
}

static void assert_event_bytes(struct store *st, uint64_t seq, const uint8_t *rec, size_t len)
{
    uint8_t buf[LEDGER_RECORD_BYTES_MAX];
    size_t got = 0;
    cr_assert_eq(store_get_event(st, seq, buf, sizeof buf, &got), LEDGER_ERR_OK, "seq %llu",
                 (unsigned long long)seq);
    cr_assert_eq(got, len);
    cr_assert_arr_eq(buf, rec, len);
}

/* ---- open, append, read ------------------------------------------------------------------------- */

Test(store, new_directory_is_empty_ledger)
{
    /* Proves opening a new directory gives head seq 0, an all-zero hash, a non-zero ledger id that
     * survives reopening, and no event 1. */
    struct fixture f;
    fixture_open(&f);
    struct store_head h = store_head(f.st);
    static const uint8_t zero[LEDGER_HASH_LEN] = {0};
    cr_assert_eq(h.seq, 0);
    cr_assert_arr_eq(h.hash, zero, LEDGER_HASH_LEN);
    struct ledger_id id = store_ledger_id(f.st);
    cr_assert_not(ledger_id_is_zero(&id));
    uint8_t buf[LEDGER_RECORD_BYTES_MAX];
    size_t len = 0;
    cr_assert_eq(store_get_event(f.st, 1, buf, sizeof buf, &len), LEDGER_ERR_NOT_FOUND);
    fixture_reopen(&f, false);
    struct ledger_id again = store_ledger_id(f.st);
    cr_assert(ledger_id_equal(&id, &again));
    cr_assert_eq(store_head(f.st).seq, 0);
    fixture_close(&f);
}

Test(store, append_read_iterate_reopen)
{
    /* Proves a committed batch of 3 chained events reads back byte for byte, iterates from 2 as
     * 2 then 3, indexes its streams, moves the head, and that all of it survives close + open. */
    struct fixture f;
    fixture_open(&f);
    uint8_t recs[3][LEDGER_RECORD_BYTES_MAX];
    size_t lens[3];
    append(f.st, 3, true, recs, lens);

    struct event last;
    cr_assert_eq(event_decode(recs[2], lens[2], &last), LEDGER_ERR_OK);
    for (int pass = 0; pass < 2; pass++) {
        struct store_head h = store_head(f.st);
        cr_assert_eq(h.seq, 3, "pass %d", pass);
        cr_assert_arr_eq(h.hash, last.hash, LEDGER_HASH_LEN, "pass %d", pass);
        for (uint64_t s = 1; s <= 3; s++) {
            assert_event_bytes(f.st, s, recs[s - 1], lens[s - 1]);
            uint64_t seq = 0;
            struct ledger_id stream = account_id(s);
            cr_assert(store_get_stream(f.st, &stream, 1, &seq));
            cr_assert_eq(seq, s);
            cr_assert_not(store_get_stream(f.st, &stream, 2, &seq));
        }
        uint8_t buf[LEDGER_RECORD_BYTES_MAX];
        size_t len = 0;
        cr_assert_eq(store_get_event(f.st, 4, buf, sizeof buf, &len), LEDGER_ERR_NOT_FOUND);
        cr_assert_eq(store_get_event(f.st, 0, buf, sizeof buf, &len), LEDGER_ERR_NOT_FOUND);
        cr_assert_eq(store_get_event(f.st, 2, buf, lens[1] - 1, &len), LEDGER_ERR_DECODE);

        struct store_iter *it = store_iter_events(f.st, 2);
        const uint8_t *key, *val;
        size_t klen, vlen;
        for (uint64_t want = 2; want <= 3; want++) {
            cr_assert(store_iter_next(it, &key, &klen, &val, &vlen), "iter at %llu", (unsigned long long)want);
            cr_assert_eq(klen, 8);
            cr_assert_eq(store_be_u64(key), want);
            cr_assert_eq(vlen, lens[want - 1]);
            cr_assert_arr_eq(val, recs[want - 1], vlen);
        }
        cr_assert_not(store_iter_next(it, &key, &klen, &val, &vlen));
        cr_assert_not(store_iter_failed(it));
        store_iter_free(it);
        fixture_reopen(&f, false);
    }
    fixture_close(&f);
}

Test(store, second_batch_chains_on_first)
{
    /* Proves two commits leave a gap-free log whose records chain (each prev_hash = the previous
     * record's hash), as ledger_replay would check. */
    struct fixture f;
    fixture_open(&f);
    uint8_t recs[5][LEDGER_RECORD_BYTES_MAX];
    size_t lens[5];
    append(f.st, 2, true, recs, lens);
    append(f.st, 3, true, recs + 2, lens + 2);
    cr_assert_eq(store_head(f.st).seq, 5);
    uint8_t prev[LEDGER_HASH_LEN] = {0};
    struct store_iter *it = store_iter_events(f.st, 1);
    const uint8_t *key, *val;
    size_t klen, vlen;
    uint64_t n = 0;
    while (store_iter_next(it, &key, &klen, &val, &vlen)) {
        struct event ev;
        n++;
        cr_assert_eq(store_be_u64(key), n);
        cr_assert_eq(event_decode(val, vlen, &ev), LEDGER_ERR_OK);
        cr_assert(event_hash_check(val, vlen, prev), "seq %llu", (unsigned long long)n);
        memcpy(prev, ev.hash, LEDGER_HASH_LEN);
    }
    store_iter_free(it);
    cr_assert_eq(n, 5);
    cr_assert_arr_eq(prev, store_head(f.st).hash, LEDGER_HASH_LEN);
    fixture_close(&f);
}

Test(store, two_read_only_handles)
{
    /* Proves a read-only open succeeds while another read-only handle is open, and both see the
     * head and the events. */
    struct fixture f;
    fixture_open(&f);
    uint8_t recs[3][LEDGER_RECORD_BYTES_MAX];
    size_t lens[3];
    append(f.st, 3, true, recs, lens);
    fixture_reopen(&f, true);
    char err[ERR_CAP] = "";
    struct store *other = store_open(f.db, true, err, sizeof err);
    cr_assert_not_null(other, "second read-only open: %s", err);
    cr_assert_eq(store_head(f.st).seq, 3);
    cr_assert_eq(store_head(other).seq, 3);
    struct ledger_id a = store_ledger_id(f.st), b = store_ledger_id(other);
    cr_assert(ledger_id_equal(&a, &b));
    assert_event_bytes(f.st, 3, recs[2], lens[2]);
    assert_event_bytes(other, 1, recs[0], lens[0]);
    store_close(other);
    fixture_close(&f);
}

Test(store, read_only_open_of_missing_directory_fails)
{
    /* Proves a read-only open of a directory that holds no ledger returns NULL with a reason. */
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/ledger-test-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    char db[128], err[ERR_CAP] = "";
    snprintf(db, sizeof db, "%s/none", dir);
    cr_assert_null(store_open(db, true, err, sizeof err));
    cr_assert_neq(err[0], '\0');
    rm_rf(dir);
}

/* ---- start-up checks ---------------------------------------------------------------------------- */

Test(store, event_beyond_head_fails_open)
{
    /* Proves that an event written after the head without moving the head in meta makes the next
     * open fail with a reason that names the head. */
    struct fixture f;
    fixture_open(&f);
    uint8_t recs[4][LEDGER_RECORD_BYTES_MAX];
    size_t lens[4];
    append(f.st, 3, true, recs, lens);
    append(f.st, 1, false, recs + 3, lens + 3);
    cr_assert_eq(store_head(f.st).seq, 3, "a batch without a head leaves the head");
    store_close(f.st);
    char err[ERR_CAP] = "";
    f.st = store_open(f.db, false, err, sizeof err);
    cr_assert_null(f.st);
    cr_assert_not_null(strstr(err, "head"), "reason: %s", err);
    f.st = store_open(f.db, true, err, sizeof err);
    cr_assert_null(f.st, "read-only open must check too");
    fixture_close(&f);
}

Test(store, altered_head_event_fails_open)
{
    /* Proves that a head event whose bytes were altered (one actor byte, rewritten in place under
     * the same key) makes the next open fail with a reason naming that seq. */
    struct fixture f;
    fixture_open(&f);
    uint8_t recs[3][LEDGER_RECORD_BYTES_MAX];
    size_t lens[3];
    append(f.st, 3, true, recs, lens);
    uint8_t bad[LEDGER_RECORD_BYTES_MAX];
    memcpy(bad, recs[2], lens[2]);
    uint8_t *at = memmem(bad, lens[2], "test", 4);
    cr_assert_not_null(at);
    at[0] = 'T';
    struct store_batch *b = store_batch_new(f.st);
    store_batch_put_event(b, 3, bad, lens[2]);
    store_commit(f.st, b);
    store_batch_free(b);
    store_close(f.st);
    char err[ERR_CAP] = "";
    f.st = store_open(f.db, false, err, sizeof err);
    cr_assert_null(f.st);
    cr_assert_not_null(strstr(err, "head event seq 3"), "reason: %s", err);
    fixture_close(&f);
}

Test(store, head_hash_mismatch_fails_open)
{
    /* Proves that a meta head naming the right seq but another hash (a valid, different event 3
     * written over the original) makes open fail. */
    struct fixture f;
    fixture_open(&f);
    uint8_t recs[3][LEDGER_RECORD_BYTES_MAX];
    size_t lens[3];
    append(f.st, 3, true, recs, lens);
    struct event ev, prev_ev;
    cr_assert_eq(event_decode(recs[1], lens[1], &prev_ev), LEDGER_ERR_OK);
    uint8_t other[LEDGER_RECORD_BYTES_MAX];
    make_event(3, prev_ev.hash, &ev, other);
    ev.ts_ns += 1;
    size_t len = event_encode(&ev, other, sizeof other);
    cr_assert_gt(len, 0);
    struct store_batch *b = store_batch_new(f.st);
    store_batch_put_event(b, 3, other, len);
    store_commit(f.st, b);
    store_batch_free(b);
    store_close(f.st);
    char err[ERR_CAP] = "";
    f.st = store_open(f.db, false, err, sizeof err);
    cr_assert_null(f.st);
    cr_assert_neq(err[0], '\0');
    fixture_close(&f);
}

Test(store, unknown_format_fails_open)
{
    /* Proves a data directory whose meta format is not STORE_FORMAT_VERSION is refused. */
    struct fixture f;
    fixture_open(&f);
    uint8_t fmt[8];
    store_u64_be(STORE_FORMAT_VERSION + 1, fmt);
    struct store_batch *b = store_batch_new(f.st);
    store_batch_put(b, STORE_CF_META, "format", 6, fmt, sizeof fmt);
    store_commit(f.st, b);
    store_batch_free(b);
    store_close(f.st);
    char err[ERR_CAP] = "";
    f.st = store_open(f.db, false, err, sizeof err);
    cr_assert_null(f.st);
    cr_assert_not_null(strstr(err, "format"), "reason: %s", err);
    fixture_close(&f);
}

/* ---- meta, get, prefix iteration ---------------------------------------------------------------- */

Test(store, meta_u64_round_trip)
{
    /* Proves store_meta_put_u64/get round-trips 0, 1 and UINT64_MAX, survives reopen, overwrites,
     * and that a missing key is false. */
    struct fixture f;
    fixture_open(&f);
    uint64_t v = 42;
    cr_assert_not(store_meta_get_u64(f.st, "outbox", &v));
    cr_assert_eq(v, 42, "a miss leaves the output alone");
    static const uint64_t values[] = {0, 1, UINT64_MAX, 123456789};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        store_meta_put_u64(f.st, "outbox", values[i]);
        cr_assert(store_meta_get_u64(f.st, "outbox", &v));
        cr_assert_eq(v, values[i]);
    }
    fixture_reopen(&f, false);
    cr_assert(store_meta_get_u64(f.st, "outbox", &v));
    cr_assert_eq(v, 123456789);
    cr_assert_not(store_meta_get_u64(f.st, "head", &v), "head is 40 bytes, not a u64");
    fixture_close(&f);
}

Test(store, get_missing_and_present)
{
    /* Proves store_get is NOT_FOUND for a missing key (in each column family) and OK with the
     * exact value, malloc'd, for a present one. */
    struct fixture f;
    fixture_open(&f);
    char *val = NULL;
    size_t vlen = 0;
    for (int cf = 0; cf < STORE_CF_COUNT; cf++)
        cr_assert_eq(store_get(f.st, (enum store_cf)cf, "nope", 4, &val, &vlen), LEDGER_ERR_NOT_FOUND,
                     "cf %d", cf);
    struct store_batch *b = store_batch_new(f.st);
    store_batch_put(b, STORE_CF_IDEMPOTENCY, "client\0key", 10, "value!", 6);
    store_commit(f.st, b);
    store_batch_free(b);
    cr_assert_eq(store_get(f.st, STORE_CF_IDEMPOTENCY, "client\0key", 10, &val, &vlen), LEDGER_ERR_OK);
    cr_assert_eq(vlen, 6);
    cr_assert_arr_eq(val, "value!", 6);
    free(val);
    cr_assert_eq(store_get(f.st, STORE_CF_IDEMPOTENCY, "client", 6, &val, &vlen), LEDGER_ERR_NOT_FOUND);
    cr_assert_eq(store_get(f.st, STORE_CF_META, "client\0key", 10, &val, &vlen), LEDGER_ERR_NOT_FOUND,
                 "column families are separate");
    fixture_close(&f);
}

Test(store, prefix_iteration_on_holders)
{
    /* Proves store_iter_prefix on proj_holders returns exactly the keys of one holder ("alice\0"),
     * in key order, and not those of "alic", "alice2" or "bob". */
    struct fixture f;
    fixture_open(&f);
    static const char *const holders[] = {"alic", "alice", "alice2", "bob", "alice", "alice", "bob"};
    struct store_batch *b = store_batch_new(f.st);
    for (size_t i = 0; i < sizeof holders / sizeof holders[0]; i++) {
        uint8_t key[LEDGER_HOLDER_ID_MAX + 17];
        struct ledger_id id = account_id(100 - i);
        size_t klen = holder_key(holders[i], &id, key, sizeof key);
        store_batch_put(b, STORE_CF_PROJ_HOLDERS, key, klen, "", 0);
    }
    store_commit(f.st, b);
    store_batch_free(b);

    uint8_t prefix[LEDGER_HOLDER_ID_MAX + 17];
    size_t plen = holder_key("alice", NULL, prefix, sizeof prefix);
    cr_assert_eq(plen, 6);
    struct store_iter *it = store_iter_prefix(f.st, STORE_CF_PROJ_HOLDERS, prefix, plen);
    const uint8_t *key, *val;
    size_t klen, vlen;
    uint8_t last[16] = {0};
    int n = 0;
    while (store_iter_next(it, &key, &klen, &val, &vlen)) {
        cr_assert_eq(klen, 6 + 16);
        cr_assert_arr_eq(key, "alice\0", 6);
        cr_assert_eq(vlen, 0);
        cr_assert_gt(memcmp(key + 6, last, 16), 0, "keys in order");
        memcpy(last, key + 6, 16);
        n++;
    }
    cr_assert_not(store_iter_failed(it));
    store_iter_free(it);
    cr_assert_eq(n, 3);

    it = store_iter_prefix(f.st, STORE_CF_PROJ_HOLDERS, "zed", 3);
    cr_assert_not(store_iter_next(it, &key, &klen, &val, &vlen));
    store_iter_free(it);
    fixture_close(&f);
}

Test(store, batch_clear_drops_puts_and_head)
{
    /* Proves store_batch_clear empties a batch (count 0) and forgets its head: committing it
     * afterwards changes nothing. */
    struct fixture f;
    fixture_open(&f);
    uint8_t rec[LEDGER_RECORD_BYTES_MAX];
    struct event ev;
    static const uint8_t zero[LEDGER_HASH_LEN] = {0};
    size_t len = make_event(1, zero, &ev, rec);
    struct store_batch *b = store_batch_new(f.st);
    store_batch_put_event(b, 1, rec, len);
    struct store_head h = {.seq = 1};
    memcpy(h.hash, ev.hash, LEDGER_HASH_LEN);
    store_batch_set_head(b, &h);
    cr_assert_eq(store_batch_count(b), 1);
    store_batch_clear(b);
    cr_assert_eq(store_batch_count(b), 0);
    store_commit(f.st, b);
    store_batch_free(b);
    cr_assert_eq(store_head(f.st).seq, 0);
    fixture_reopen(&f, false);
    cr_assert_eq(store_head(f.st).seq, 0);
    uint8_t buf[LEDGER_RECORD_BYTES_MAX];
    size_t got;
    cr_assert_eq(store_get_event(f.st, 1, buf, sizeof buf, &got), LEDGER_ERR_NOT_FOUND);
    fixture_close(&f);
}

/* ---- fail-stop ---------------------------------------------------------------------------------- */

Test(store, failed_commit_aborts, .signal = SIGABRT)
{
    /* Proves store_commit aborts the process when its write fails (injected on the next commit).
     * The directory is removed first: nothing runs after the abort. */
    struct fixture f;
    fixture_open(&f);
    rm_rf(f.dir);
    store_fail_commit_after(f.st, 1);
    uint8_t rec[LEDGER_RECORD_BYTES_MAX];
    struct event ev;
    static const uint8_t zero[LEDGER_HASH_LEN] = {0};
    size_t len = make_event(1, zero, &ev, rec);
    struct store_batch *b = store_batch_new(f.st);
    store_batch_put_event(b, 1, rec, len);
    store_commit(f.st, b);
    cr_assert_fail("store_commit returned after a failed write");
}

Test(store, failed_commit_keeps_earlier_commits)
{
    /* Proves, for N = 1..3, that a process whose Nth commit fails dies by SIGABRT and that the
     * next open finds exactly the N-1 commits before it (head and events), nothing of the Nth. */
    for (unsigned n = 1; n <= 3; n++) {
        struct fixture f;
        fixture_open(&f);
        store_close(f.st);
        f.st = NULL;
        fflush(NULL);
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
            char err[ERR_CAP];
            struct store *st = store_open(f.db, false, err, sizeof err);
            if (st == NULL)
                _exit(2);
            store_fail_commit_after(st, n);
            for (unsigned k = 0; k < n; k++) {
                uint8_t recs[2][LEDGER_RECORD_BYTES_MAX];
                size_t lens[2];
                append(st, 2, true, recs, lens);
            }
            _exit(3); /* not reached: the Nth commit aborts */
        }
        int status = 0;
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "n=%u: status 0x%x", n, status);
        fixture_reopen(&f, false);
        cr_assert_eq(store_head(f.st).seq, 2 * (n - 1), "n=%u", n);
        uint8_t buf[LEDGER_RECORD_BYTES_MAX];
        size_t got;
        cr_assert_eq(store_get_event(f.st, 2 * (n - 1) + 1, buf, sizeof buf, &got), LEDGER_ERR_NOT_FOUND);
        fixture_close(&f);
    }
}

Test(store, fail_after_zero_never_fails)
{
    /* Proves store_fail_commit_after(st, 0) disarms injection: five commits all succeed. */
    struct fixture f;
    fixture_open(&f);
    store_fail_commit_after(f.st, 2);
    store_fail_commit_after(f.st, 0);
    for (int k = 0; k < 5; k++) {
        uint8_t recs[1][LEDGER_RECORD_BYTES_MAX];
        size_t lens[1];
        append(f.st, 1, true, recs, lens);
    }
    cr_assert_eq(store_head(f.st).seq, 5);
    fixture_close(&f);
}

Test(store, u64_big_endian_helpers)
{
    /* Proves store_u64_be writes big-endian (keys sort numerically) and store_be_u64 inverts it. */
    uint8_t raw[8];
    store_u64_be(0x0102030405060708ull, raw);
    static const uint8_t want[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    cr_assert_arr_eq(raw, want, 8);
    static const uint64_t values[] = {0, 1, 255, 256, UINT64_MAX};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        store_u64_be(values[i], raw);
        cr_assert_eq(store_be_u64(raw), values[i]);
    }
}

/* Families with a hash memtable (card-auth rows by card id, say): a scan by id sees only that
 * id's rows in key order, a full scan sees every row in key order, from memtables and after a
 * reopen (rows recovered from the WAL) alike. */
static void check_hashed_scans(struct store *st)
{
    for (uint64_t card = 1; card <= 5; card++) {
        struct ledger_id id = account_id(card * 7919);
        struct store_iter *it = store_iter_prefix(st, STORE_CF_PROJ_CARD_AUTHS, id.b, 16);
        const uint8_t *k, *v;
        size_t kl, vl;
        uint64_t n = 0;
        while (store_iter_next(it, &k, &kl, &v, &vl)) {
            cr_assert(kl == 24 && memcmp(k, id.b, 16) == 0);
            cr_assert_eq(store_be_u64(k + 16), n + 1, "card %llu row %llu in order", (unsigned long long)card,
                         (unsigned long long)n);
            n++;
        }
        store_iter_free(it);
        cr_assert_eq(n, card * 3);
    }
    struct store_iter *it = store_iter_prefix(st, STORE_CF_PROJ_CARD_AUTHS, "", 0);
    const uint8_t *k, *v;
    size_t kl, vl, n = 0;
    uint8_t prev[24] = {0};
    while (store_iter_next(it, &k, &kl, &v, &vl)) {
        cr_assert(kl == 24 && (n == 0 || memcmp(prev, k, 24) < 0), "full scan in key order");
        memcpy(prev, k, 24);
        n++;
    }
    cr_assert_not(store_iter_failed(it));
    store_iter_free(it);
    cr_assert_eq(n, 3 * (1 + 2 + 3 + 4 + 5));
}

Test(store, hashed_family_scans)
{
    struct fixture f;
    fixture_open(&f);
    struct store_batch *b = store_batch_new(f.st);
    for (uint64_t round = 1; round <= 15; round++) /* the cards' rows interleaved */
        for (uint64_t card = 5; card >= 1; card--) {
            if (round > card * 3)
                continue;
            struct ledger_id id = account_id(card * 7919);
            uint8_t key[24];
            memcpy(key, id.b, 16);
            store_u64_be(round, key + 16);
            store_batch_put(b, STORE_CF_PROJ_CARD_AUTHS, key, sizeof key, id.b, 16);
        }
    store_commit_async(f.st, b);
    store_batch_free(b);
    check_hashed_scans(f.st);
    fixture_reopen(&f, false);
    check_hashed_scans(f.st);
    fixture_reopen(&f, true);
    check_hashed_scans(f.st);
    fixture_close(&f);
}

/* An idempotency record as the sequencer writes it: request hash (32), time (8, BE), status, body. */
static void put_idem_record(struct store_batch *b, const char *key, int64_t ts_ns)
{
    uint8_t val[STORE_IDEM_HEADER_BYTES + 4] = {0};
    store_u64_be((uint64_t)ts_ns, val + STORE_IDEM_TS_AT);
    val[STORE_IDEM_STATUS_AT] = 201 >> 8;
    val[STORE_IDEM_STATUS_AT + 1] = 201 & 0xff;
    memcpy(val + STORE_IDEM_HEADER_BYTES, "body", 4);
    store_batch_put(b, STORE_CF_IDEMPOTENCY, key, strlen(key), val, sizeof val);
}

static bool idem_present(struct store *st, const char *key)
{
    char *val = NULL;
    size_t vlen = 0;
    enum ledger_err e = store_get(st, STORE_CF_IDEMPOTENCY, key, strlen(key), &val, &vlen);
    free(val);
    return e == LEDGER_ERR_OK;
}

Test(store, idempotency_records_before_the_horizon_are_purged)
{
    /* Proves a purge drops exactly the records whose time is before the horizon (memtable and
     * table files alike), keeps the rest and values too short to be records, that the horizon
     * never moves back, that nothing is dropped before a horizon is set, and that the records
     * dropped are counted. */
    struct fixture f;
    fixture_open(&f);
    struct store_batch *b = store_batch_new(f.st);
    put_idem_record(b, "client/old", 1000);
    put_idem_record(b, "client/edge", 2000);
    put_idem_record(b, "client/new", 5000);
    store_batch_put(b, STORE_CF_IDEMPOTENCY, "client/short", 12, "x", 1);
    store_commit(f.st, b);
    store_idempotency_purge(f.st); /* no horizon yet: a compaction that drops nothing */
    cr_assert(idem_present(f.st, "client/old"));
    cr_assert_eq(store_idempotency_purged(f.st), 0);

    store_batch_clear(b);
    put_idem_record(b, "client/mem", 1500); /* in the memtable when the purge starts */
    store_commit(f.st, b);
    store_batch_free(b);
    store_idempotency_set_horizon(f.st, 2000);
    store_idempotency_set_horizon(f.st, 100); /* ignored: the horizon only moves forward */
    store_idempotency_purge(f.st);
    cr_assert_not(idem_present(f.st, "client/old"));
    cr_assert_not(idem_present(f.st, "client/mem"));
    cr_assert(idem_present(f.st, "client/edge"), "a record at the horizon is kept");
    cr_assert(idem_present(f.st, "client/new"));
    char *val = NULL;
    size_t vlen = 0;
    cr_assert_eq(store_get(f.st, STORE_CF_IDEMPOTENCY, "client/short", 12, &val, &vlen), LEDGER_ERR_OK);
    free(val);
    cr_assert_eq(store_idempotency_purged(f.st), 2);
    fixture_close(&f);
}
