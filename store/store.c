/*
 * store.c: the event log on RocksDB (see store.h for the column families).
 *
 * Invariants:
 *   - events keys are 1..head.seq with no gap; meta "head" = (head.seq, hash of event head.seq);
 *   - every commit is one WriteBatch written with sync=true; nothing else writes events;
 *   - after a failed write the process aborts (fail-stop): in-memory state that the disk does not
 *     have is never used again. Every errptr is checked, logged and freed here and nowhere else.
 */
#include <rocksdb/c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "events/events.h"
#include "store/store.h"

#define STORE_BLOCK_CACHE_BYTES ((size_t)256 << 20)
#define STORE_HASH_SKIPLIST_HEIGHT 12 /* with branching 4: logarithmic up to 4^12 (16M) entries */

/* Families with a hash memtable: the length of the id their keys start with (store_options_init). */
static const uint8_t cf_prefix[STORE_CF_COUNT] = {
    [STORE_CF_STREAMS] = 24,    [STORE_CF_PROJ_BALANCES] = 16,      [STORE_CF_PROJ_CARDS] = 16,
    [STORE_CF_PROJ_AUTHS] = 16, [STORE_CF_PROJ_ACCOUNT_CARDS] = 16, [STORE_CF_PROJ_CARD_AUTHS] = 16,
};

static const char *const cf_names[STORE_CF_COUNT] = {
    "events",    "streams",           "idempotency", "meta",           "proj_accounts", "proj_holders",
    "proj_balances", "proj_cards", "proj_account_cards", "proj_auths", "proj_card_auths",
    "proj_ops", "proj_op_accounts", "proj_pending", "proj_statements", "credentials", "proj_clients",
    "proj_third_parties", "proj_kyc", "proj_statement_ids",
};

struct store {
    rocksdb_t *db;
    rocksdb_options_t *opts;
    rocksdb_options_t *cf_opts[STORE_CF_COUNT];
    rocksdb_column_family_handle_t *cf[STORE_CF_COUNT + 1]; /* + default */
    bool cf_missing[STORE_CF_COUNT]; /* read-only: not in the directory yet; aliases the default */
    rocksdb_writeoptions_t *wo_sync;
    rocksdb_writeoptions_t *wo_async;
    rocksdb_readoptions_t *ro;
    rocksdb_readoptions_t *ro_scan; /* long sequential reads: no block cache fill, readahead */
    rocksdb_readoptions_t *ro_total; /* total-order iteration of a hashed family (cf_prefix) */
    rocksdb_block_based_table_options_t *table;
    rocksdb_filterpolicy_t *bloom; /* owned by table */
    rocksdb_block_based_table_options_t *table_scan; /* no filter: families only read by scans */
    rocksdb_cache_t *block_cache; /* shared by both table factories */
    struct store_head head;
    struct ledger_id ledger_id;
    bool read_only;
    /* Idempotency expiry (store_idempotency_set_horizon): records whose time is before the horizon
     * are dropped by compactions of that family. Atomics: set by the scheduler's purge thread,
     * read by RocksDB's compaction threads. */
    rocksdb_compactionfilter_t *idem_filter;
    int64_t idem_horizon_ns;
    uint64_t idem_purged;
    bool bulk; /* rebuild: vector memtables for projections, their async writes skip the WAL */
    unsigned fail_after;
};

struct store_batch {
    struct store *st; /* the store whose column family handles the puts use */
    rocksdb_writebatch_t *wb;
    struct store_head head;
    bool has_head;
    /* store_batch_divert(): puts to this family go to the callback instead */
    int divert_cf;
    store_put_fn divert;
    void *divert_arg;
};

struct store_iter {
    rocksdb_iterator_t *it;
    uint8_t prefix[64];
    size_t plen;
    bool started;
    bool failed;
};

void store_u64_be(uint64_t v, uint8_t out[8])
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t)v;
        v >>= 8;
    }
}

uint64_t store_be_u64(const uint8_t in[8])
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | in[i];
    return v;
}

/* Logs and frees a RocksDB error; returns true when there was one. */
static bool rocks_failed(char **errptr, const char *what, char *err, size_t err_cap)
{
    if (*errptr == NULL)
        return false;
    fprintf(stderr, "ledgerd: store: %s: %s\n", what, *errptr);
    if (err != NULL)
        snprintf(err, err_cap, "%s: %s", what, *errptr);
    free(*errptr);
    *errptr = NULL;
    return true;
}

/* ---- idempotency expiry ------------------------------------------------------------------------
 * A record is (request hash, time, status, body); the sequencer answers from it only while it is at
 * most LEDGER_IDEMPOTENCY_RETENTION_NS old, so one older than the horizon (now minus that) can never
 * answer again. Compactions of the family drop those: a removed record becomes a tombstone, so no
 * older version of its key comes back. */
static unsigned char idem_filter(void *arg, int level, const char *key, size_t klen, const char *val, size_t vlen,
                                 char **new_val, size_t *new_vlen, unsigned char *changed)
{
    (void)level, (void)key, (void)klen, (void)new_val, (void)new_vlen;
    struct store *st = arg;
    *changed = 0;
    if (vlen < STORE_IDEM_TS_AT + 8)
        return 0; /* not a record this code wrote: kept */
    int64_t ts = (int64_t)store_be_u64((const uint8_t *)val + STORE_IDEM_TS_AT);
    if (ts >= __atomic_load_n(&st->idem_horizon_ns, __ATOMIC_ACQUIRE))
        return 0;
    __atomic_add_fetch(&st->idem_purged, 1, __ATOMIC_RELAXED);
    return 1;
}

static void idem_filter_destroy(void *arg)
{
    (void)arg; /* the state is the store, freed by store_close (RocksDB calls this unconditionally) */
}

static const char *idem_filter_name(void *arg)
{
    (void)arg;
    return "ledger.idempotency-expiry";
}

static void store_options_init(struct store *st)
{
    st->opts = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(st->opts, !st->read_only);
    rocksdb_options_set_create_missing_column_families(st->opts, !st->read_only);
    rocksdb_options_set_max_background_jobs(st->opts, 2);
    rocksdb_options_set_allow_concurrent_memtable_write(st->opts, 0); /* one writer; hash memtables need it off */
    rocksdb_options_set_bytes_per_sync(st->opts, 1 << 20);
    rocksdb_options_set_write_buffer_size(st->opts, 64 << 20);
    rocksdb_options_set_compression(st->opts, rocksdb_lz4_compression);
    rocksdb_options_set_max_write_buffer_number(st->opts, 4);
    /* No WAL compression: it is experimental in RocksDB 7.8, and one benchmark run here ended with
     * a log that would not reopen ("Corruption: bad WriteBatch Put") while it was on
     * (docs/DESIGN-NOTES.md). Integrity first. */
    /* Reads (pages, balance at an instant, rows by key) hit recent blocks again and again: a block
     * cache of STORE_BLOCK_CACHE_BYTES instead of RocksDB's 8 MiB default. */
    st->block_cache = rocksdb_cache_create_lru(STORE_BLOCK_CACHE_BYTES);
    st->table = rocksdb_block_based_options_create();
    rocksdb_block_based_options_set_block_cache(st->table, st->block_cache);
    st->bloom = rocksdb_filterpolicy_create_bloom_full(10);
    rocksdb_block_based_options_set_filter_policy(st->table, st->bloom);
    /* Operation rows are only ever read by range scans (pages, balance at an instant, statements):
     * a whole-key Bloom filter would never be consulted, only built. */
    st->table_scan = rocksdb_block_based_options_create();
    rocksdb_block_based_options_set_block_cache(st->table_scan, st->block_cache);
    st->idem_filter = rocksdb_compactionfilter_create(st, idem_filter_destroy, idem_filter, idem_filter_name);
    for (int i = 0; i < STORE_CF_COUNT; i++) {
        st->cf_opts[i] = rocksdb_options_create_copy(st->opts);
        if (i == STORE_CF_IDEMPOTENCY)
            rocksdb_options_set_compaction_filter(st->cf_opts[i], st->idem_filter);
        if (i == STORE_CF_PROJ_OPS)
            rocksdb_options_set_block_based_table_factory(st->cf_opts[i], st->table_scan);
        else if (i != STORE_CF_EVENTS)
            rocksdb_options_set_block_based_table_factory(st->cf_opts[i], st->table);
    }
    /* Families whose keys start with a 16-byte id and that are read by key or by that id: a hash
     * memtable (one small skiplist per id) makes the commit's inserts of random ids O(1) instead
     * of a search through one large skiplist. Balance rows are rewritten for every touched account
     * in every commit; a card authorization writes a stream index entry, its card row and the
     * authorization rows. A scan with a shorter prefix reads in total order (iter_options).
     * The skiplist height also shapes the one sorted list a flush builds from all buckets: at 4
     * (RocksDB's example) a list of a million entries is a linked list with a stride of 64, and
     * building it is quadratic (the flush thread took 86% of a core at the card benchmark's
     * sustained maximum); at STORE_HASH_SKIPLIST_HEIGHT it is logarithmic (51%). */
    for (int i = 0; i < STORE_CF_COUNT; i++) {
        if (cf_prefix[i] == 0)
            continue;
        rocksdb_options_set_prefix_extractor(st->cf_opts[i], rocksdb_slicetransform_create_fixed_prefix(cf_prefix[i]));
        if (!st->bulk)
            rocksdb_options_set_hash_skip_list_rep(st->cf_opts[i], i == STORE_CF_PROJ_BALANCES ? 1 << 20 : 1 << 16,
                                                   STORE_HASH_SKIPLIST_HEIGHT, 4);
    }
    /* A rebuild writes projection rows that nothing reads until it is done: a vector memtable
     * appends (sorted once, at flush) instead of searching a skiplist for every row. */
    for (int i = STORE_CF_PROJ_ACCOUNTS; st->bulk && i < STORE_CF_COUNT; i++)
        if (i != STORE_CF_CREDENTIALS)
            rocksdb_options_set_memtable_vector_rep(st->cf_opts[i]);
    st->wo_sync = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(st->wo_sync, 1);
    st->wo_async = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(st->wo_async, 0);
    rocksdb_writeoptions_disable_WAL(st->wo_async, st->bulk); /* bulk: made durable by store_flush() */
    st->ro = rocksdb_readoptions_create();
    st->ro_scan = rocksdb_readoptions_create();
    rocksdb_readoptions_set_fill_cache(st->ro_scan, 0);
    rocksdb_readoptions_set_readahead_size(st->ro_scan, 4 << 20);
    st->ro_total = rocksdb_readoptions_create();
    rocksdb_readoptions_set_total_order_seek(st->ro_total, 1);
}

/* Whether the data directory already has column family name (read-only opens only). */
static bool cf_exists(char **existing, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(existing[i], name) == 0)
            return true;
    return false;
}

/* Read-only opens of a directory written by an older build open the families that exist; a family
 * added since reads as empty (its handle is the always-empty default family). */
static bool store_open_db(struct store *st, const char *dir, char *err, size_t err_cap)
{
    const char *names[STORE_CF_COUNT + 1];
    const rocksdb_options_t *cf_opts[STORE_CF_COUNT + 1];
    rocksdb_column_family_handle_t *handles[STORE_CF_COUNT + 1];
    int slot[STORE_CF_COUNT];
    size_t n_existing = 0;
    char *errptr = NULL;
    char **existing = st->read_only ? rocksdb_list_column_families(st->opts, dir, &n_existing, &errptr) : NULL;
    if (rocks_failed(&errptr, "list column families", err, err_cap))
        return false;
    int n = 0;
    for (int i = 0; i < STORE_CF_COUNT; i++) {
        slot[i] = -1;
        if (existing != NULL && !cf_exists(existing, n_existing, cf_names[i]))
            continue;
        slot[i] = n;
        names[n] = cf_names[i];
        cf_opts[n++] = st->cf_opts[i];
    }
    names[n] = "default";
    cf_opts[n] = st->opts;
    if (existing != NULL)
        rocksdb_list_column_families_destroy(existing, n_existing);
    if (st->read_only)
        st->db = rocksdb_open_for_read_only_column_families(st->opts, dir, n + 1, names, cf_opts, handles, 0,
                                                             &errptr);
    else
        st->db = rocksdb_open_column_families(st->opts, dir, n + 1, names, cf_opts, handles, &errptr);
    if (rocks_failed(&errptr, "open", err, err_cap))
        return false;
    st->cf[STORE_CF_COUNT] = handles[n];
    for (int i = 0; i < STORE_CF_COUNT; i++) {
        st->cf_missing[i] = slot[i] < 0;
        st->cf[i] = slot[i] < 0 ? handles[n] : handles[slot[i]];
    }
    return true;
}

static bool meta_get(struct store *st, const char *key, void *out, size_t n)
{
    char *val = NULL;
    size_t vlen = 0;
    if (store_get(st, STORE_CF_META, key, strlen(key), &val, &vlen) != LEDGER_ERR_OK)
        return false;
    bool ok = vlen == n;
    if (ok)
        memcpy(out, val, n);
    free(val);
    return ok;
}

static void meta_put_sync(struct store *st, const char *key, const void *val, size_t n)
{
    char *errptr = NULL;
    rocksdb_put_cf(st->db, st->wo_sync, st->cf[STORE_CF_META], key, strlen(key), val, n, &errptr);
    if (rocks_failed(&errptr, "write meta", NULL, 0)) {
        fprintf(stderr, "ledgerd: store: cannot write to the data directory; check disk space and "
                        "permissions, then restart\n");
        abort();
    }
}

/* Creates the meta of a new ledger, or checks the format of an existing one. */
static bool store_init_meta(struct store *st, char *err, size_t err_cap)
{
    uint8_t fmt[8];
    if (!meta_get(st, "format", fmt, 8)) {
        if (st->read_only) {
            snprintf(err, err_cap, "not a ledger data directory (no format in meta)");
            return false;
        }
        st->ledger_id = ledger_id_new_v7();
        meta_put_sync(st, "ledger_id", st->ledger_id.b, 16);
        store_u64_be(STORE_FORMAT_VERSION, fmt);
        meta_put_sync(st, "format", fmt, 8);
        return true;
    }
    if (store_be_u64(fmt) != STORE_FORMAT_VERSION) {
        snprintf(err, err_cap, "data format %llu, this binary reads %d",
                 (unsigned long long)store_be_u64(fmt), STORE_FORMAT_VERSION);
        return false;
    }
    if (!meta_get(st, "ledger_id", st->ledger_id.b, 16)) {
        snprintf(err, err_cap, "meta has no ledger_id");
        return false;
    }
    return true;
}

/* The head in meta must name the last event on disk, and that event's hash must verify. */
static bool store_check_head(struct store *st, char *err, size_t err_cap)
{
    uint8_t raw[8 + LEDGER_HASH_LEN];
    memset(&st->head, 0, sizeof st->head);
    bool has_head = meta_get(st, "head", raw, sizeof raw);
    if (has_head) {
        st->head.seq = store_be_u64(raw);
        memcpy(st->head.hash, raw + 8, LEDGER_HASH_LEN);
    }
    rocksdb_iterator_t *it = rocksdb_create_iterator_cf(st->db, st->ro, st->cf[STORE_CF_EVENTS]);
    rocksdb_iter_seek_to_last(it);
    uint64_t last = 0;
    uint8_t rec[LEDGER_RECORD_BYTES_MAX];
    size_t rec_len = 0;
    if (rocksdb_iter_valid(it)) {
        size_t klen = 0, vlen = 0;
        const char *k = rocksdb_iter_key(it, &klen);
        const char *v = rocksdb_iter_value(it, &vlen);
        if (klen == 8 && vlen <= sizeof rec) {
            last = store_be_u64((const uint8_t *)k);
            memcpy(rec, v, vlen);
            rec_len = vlen;
        }
    }
    rocksdb_iter_destroy(it);
    if (last != st->head.seq) {
        snprintf(err, err_cap, "chain head in meta is seq %llu but the last event is seq %llu: run "
                 "'ledgerctl verify' and restore from a checkpoint", (unsigned long long)st->head.seq,
                 (unsigned long long)last);
        return false;
    }
    if (last == 0)
        return true;
    struct event ev;
    if (event_decode(rec, rec_len, &ev) != LEDGER_ERR_OK || !event_hash_check(rec, rec_len, NULL) ||
        memcmp(ev.hash, st->head.hash, LEDGER_HASH_LEN) != 0 || ev.seq != last) {
        snprintf(err, err_cap, "the head event seq %llu does not verify against meta: run 'ledgerctl "
                 "verify' and restore from a checkpoint", (unsigned long long)last);
        return false;
    }
    return true;
}

static struct store *store_open_mode(const char *dir, bool read_only, bool bulk, char *err, size_t err_cap)
{
    struct store *st = calloc(1, sizeof *st);
    LEDGER_ASSERT(st != NULL);
    st->read_only = read_only;
    st->bulk = bulk;
    if (!read_only)
        mkdir(dir, 0750);
    store_options_init(st);
    if (!store_open_db(st, dir, err, err_cap) || !store_init_meta(st, err, err_cap) ||
        !store_check_head(st, err, err_cap)) {
        store_close(st);
        return NULL;
    }
    return st;
}

struct store *store_open(const char *dir, bool read_only, char *err, size_t err_cap)
{
    return store_open_mode(dir, read_only, false, err, err_cap);
}

struct store *store_open_bulk(const char *dir, char *err, size_t err_cap)
{
    return store_open_mode(dir, false, true, err, err_cap);
}

void store_flush(struct store *st)
{
    rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();
    rocksdb_flushoptions_set_wait(fo, 1);
    for (int i = 0; i < STORE_CF_COUNT; i++) {
        char *errptr = NULL;
        rocksdb_flush_cf(st->db, fo, st->cf[i], &errptr);
        if (rocks_failed(&errptr, "flush", NULL, 0)) {
            fprintf(stderr, "ledgerd: FATAL: cannot flush rebuilt rows; check the disk and rebuild again\n");
            abort();
        }
    }
    rocksdb_flushoptions_destroy(fo);
}

void store_close(struct store *st)
{
    if (st == NULL)
        return;
    if (st->db != NULL) {
        for (int i = 0; i <= STORE_CF_COUNT; i++)
            if (i == STORE_CF_COUNT || !st->cf_missing[i])
                rocksdb_column_family_handle_destroy(st->cf[i]);
        rocksdb_close(st->db);
    }
    for (int i = 0; i < STORE_CF_COUNT; i++)
        rocksdb_options_destroy(st->cf_opts[i]);
    rocksdb_options_destroy(st->opts);
    rocksdb_compactionfilter_destroy(st->idem_filter); /* after close: compactions use it until then */
    rocksdb_block_based_options_destroy(st->table);
    rocksdb_block_based_options_destroy(st->table_scan);
    rocksdb_cache_destroy(st->block_cache);
    rocksdb_writeoptions_destroy(st->wo_sync);
    rocksdb_writeoptions_destroy(st->wo_async);
    rocksdb_readoptions_destroy(st->ro);
    rocksdb_readoptions_destroy(st->ro_scan);
    rocksdb_readoptions_destroy(st->ro_total);
    free(st);
}

struct store_head store_head(const struct store *st)
{
    return st->head;
}

struct ledger_id store_ledger_id(const struct store *st)
{
    return st->ledger_id;
}

/* ---- writes ----------------------------------------------------------------------------------- */

struct store_batch *store_batch_new(struct store *st)
{
    struct store_batch *b = calloc(1, sizeof *b);
    LEDGER_ASSERT(b != NULL);
    b->st = st;
    b->wb = rocksdb_writebatch_create();
    b->divert_cf = -1;
    return b;
}

void store_batch_divert(struct store_batch *b, enum store_cf cf, store_put_fn put, void *arg)
{
    b->divert_cf = put != NULL ? (int)cf : -1;
    b->divert = put;
    b->divert_arg = arg;
}

void store_batch_free(struct store_batch *b)
{
    if (b == NULL)
        return;
    rocksdb_writebatch_destroy(b->wb);
    free(b);
}

void store_batch_clear(struct store_batch *b)
{
    rocksdb_writebatch_clear(b->wb);
    b->has_head = false;
}

size_t store_batch_count(const struct store_batch *b)
{
    return (size_t)rocksdb_writebatch_count(b->wb);
}

void store_batch_put(struct store_batch *b, enum store_cf cf, const void *key, size_t klen,
                     const void *val, size_t vlen)
{
    LEDGER_ASSERT(cf < STORE_CF_COUNT);
    if ((int)cf == b->divert_cf)
        b->divert(b->divert_arg, key, klen, val, vlen);
    else
        rocksdb_writebatch_put_cf(b->wb, b->st->cf[cf], key, klen, val, vlen);
}

void store_batch_put_event(struct store_batch *b, uint64_t seq, const uint8_t *rec, size_t len)
{
    uint8_t key[8];
    store_u64_be(seq, key);
    store_batch_put(b, STORE_CF_EVENTS, key, 8, rec, len);
}

void store_batch_put_stream(struct store_batch *b, const struct ledger_id *stream, uint64_t ver, uint64_t seq)
{
    uint8_t key[24], val[8];
    memcpy(key, stream->b, 16);
    store_u64_be(ver, key + 16);
    store_u64_be(seq, val);
    store_batch_put(b, STORE_CF_STREAMS, key, sizeof key, val, sizeof val);
}

void store_batch_set_head(struct store_batch *b, const struct store_head *head)
{
    b->head = *head;
    b->has_head = true;
}

void store_fail_commit_after(struct store *st, unsigned n)
{
    st->fail_after = n;
}

void store_commit(struct store *st, struct store_batch *b)
{
    LEDGER_ASSERT(!st->read_only && b->st == st);
    if (b->has_head) {
        uint8_t raw[8 + LEDGER_HASH_LEN];
        store_u64_be(b->head.seq, raw);
        memcpy(raw + 8, b->head.hash, LEDGER_HASH_LEN);
        rocksdb_writebatch_put_cf(b->wb, st->cf[STORE_CF_META], "head", 4, (const char *)raw, sizeof raw);
    }
    char *errptr = NULL;
    if (st->fail_after > 0 && --st->fail_after == 0)
        errptr = strdup("injected write failure (test)");
    else
        rocksdb_write(st->db, st->wo_sync, b->wb, &errptr);
    if (rocks_failed(&errptr, "commit (WriteBatch, sync=true)", NULL, 0)) {
        fprintf(stderr, "ledgerd: FATAL: a durable write failed; stopping so that nothing is acknowledged "
                        "that the disk lacks. Check the disk and restart: recovery replays the log.\n");
        abort();
    }
    if (b->has_head)
        st->head = b->head;
}

/* ---- reads ------------------------------------------------------------------------------------ */

enum ledger_err store_get(struct store *st, enum store_cf cf, const void *key, size_t klen, char **val,
                          size_t *vlen)
{
    char *errptr = NULL;
    *val = rocksdb_get_cf(st->db, st->ro, st->cf[cf], key, klen, vlen, &errptr);
    if (rocks_failed(&errptr, "get", NULL, 0))
        return LEDGER_ERR_IO;
    return *val ? LEDGER_ERR_OK : LEDGER_ERR_NOT_FOUND;
}

enum ledger_err store_get_event(struct store *st, uint64_t seq, uint8_t *buf, size_t cap, size_t *len)
{
    uint8_t key[8];
    store_u64_be(seq, key);
    char *val = NULL;
    size_t vlen = 0;
    enum ledger_err err = store_get(st, STORE_CF_EVENTS, key, 8, &val, &vlen);
    if (err != LEDGER_ERR_OK)
        return err;
    if (vlen > cap) {
        free(val);
        return LEDGER_ERR_DECODE;
    }
    memcpy(buf, val, vlen);
    *len = vlen;
    free(val);
    return LEDGER_ERR_OK;
}

bool store_get_stream(struct store *st, const struct ledger_id *stream, uint64_t ver, uint64_t *seq)
{
    uint8_t key[24];
    memcpy(key, stream->b, 16);
    store_u64_be(ver, key + 16);
    char *val = NULL;
    size_t vlen = 0;
    if (store_get(st, STORE_CF_STREAMS, key, sizeof key, &val, &vlen) != LEDGER_ERR_OK)
        return false;
    bool ok = vlen == 8;
    if (ok)
        *seq = store_be_u64((const uint8_t *)val);
    free(val);
    return ok;
}

static struct store_iter *iter_events(struct store *st, const rocksdb_readoptions_t *ro, uint64_t from_seq)
{
    struct store_iter *it = calloc(1, sizeof *it);
    LEDGER_ASSERT(it != NULL);
    it->it = rocksdb_create_iterator_cf(st->db, ro, st->cf[STORE_CF_EVENTS]);
    uint8_t key[8];
    store_u64_be(from_seq, key);
    rocksdb_iter_seek(it->it, (const char *)key, 8);
    return it;
}

struct store_iter *store_iter_events(struct store *st, uint64_t from_seq)
{
    return iter_events(st, st->ro, from_seq);
}

struct store_iter *store_iter_events_scan(struct store *st, uint64_t from_seq)
{
    return iter_events(st, st->ro_scan, from_seq);
}

/* Iterating a hashed family by less than its id (a full scan) needs total order: a prefix-mode
 * iterator only sees the bucket of the id it was sought with. */
static const rocksdb_readoptions_t *iter_options(const struct store *st, enum store_cf cf, size_t plen)
{
    return plen < cf_prefix[cf] ? st->ro_total : st->ro;
}

struct store_iter *store_iter_prefix(struct store *st, enum store_cf cf, const void *prefix, size_t plen)
{
    struct store_iter *it = calloc(1, sizeof *it);
    LEDGER_ASSERT(it != NULL && plen <= sizeof it->prefix);
    it->it = rocksdb_create_iterator_cf(st->db, iter_options(st, cf, plen), st->cf[cf]);
    memcpy(it->prefix, prefix, plen);
    it->plen = plen;
    rocksdb_iter_seek(it->it, prefix, plen);
    return it;
}

bool store_iter_next(struct store_iter *it, const uint8_t **key, size_t *klen, const uint8_t **val,
                     size_t *vlen)
{
    if (it->started)
        rocksdb_iter_next(it->it);
    it->started = true;
    if (!rocksdb_iter_valid(it->it)) {
        char *errptr = NULL;
        rocksdb_iter_get_error(it->it, &errptr);
        it->failed = rocks_failed(&errptr, "iterate", NULL, 0);
        return false;
    }
    *key = (const uint8_t *)rocksdb_iter_key(it->it, klen);
    if (*klen < it->plen || memcmp(*key, it->prefix, it->plen) != 0)
        return false;
    *val = (const uint8_t *)rocksdb_iter_value(it->it, vlen);
    return true;
}

bool store_iter_failed(const struct store_iter *it)
{
    return it->failed;
}

void store_iter_free(struct store_iter *it)
{
    if (it == NULL)
        return;
    rocksdb_iter_destroy(it->it);
    free(it);
}

/* ---- meta ------------------------------------------------------------------------------------- */

void store_meta_put_u64(struct store *st, const char *key, uint64_t value)
{
    uint8_t raw[8];
    store_u64_be(value, raw);
    char *errptr = NULL;
    rocksdb_put_cf(st->db, st->wo_async, st->cf[STORE_CF_META], key, strlen(key), (const char *)raw, 8,
                   &errptr);
    if (rocks_failed(&errptr, "write meta", NULL, 0)) {
        fprintf(stderr, "ledgerd: FATAL: cannot write meta; check the disk and restart\n");
        abort();
    }
}

bool store_meta_get_u64(struct store *st, const char *key, uint64_t *value)
{
    uint8_t raw[8];
    if (!meta_get(st, key, raw, 8))
        return false;
    *value = store_be_u64(raw);
    return true;
}

/* ---- projections: derived rows ---------------------------------------------------------------- */

void store_batch_delete(struct store_batch *b, enum store_cf cf, const void *key, size_t klen)
{
    LEDGER_ASSERT(cf < STORE_CF_COUNT && (int)cf != b->divert_cf);
    rocksdb_writebatch_delete_cf(b->wb, b->st->cf[cf], key, klen);
}

/* ---- bulk loads: sorted table files, ingested ---------------------------------------------------- */

struct store_sst {
    rocksdb_envoptions_t *env;
    rocksdb_sstfilewriter_t *w;
    bool failed;
    char err[256];
};

struct store_sst *store_sst_create(struct store *st, enum store_cf cf, const char *path, char *err, size_t err_cap)
{
    LEDGER_ASSERT(!st->read_only && cf < STORE_CF_COUNT);
    struct store_sst *s = calloc(1, sizeof *s);
    LEDGER_ASSERT(s != NULL);
    s->env = rocksdb_envoptions_create();
    s->w = rocksdb_sstfilewriter_create(s->env, st->cf_opts[cf]);
    char *errptr = NULL;
    rocksdb_sstfilewriter_open(s->w, path, &errptr);
    if (rocks_failed(&errptr, "open table file", err, err_cap)) {
        rocksdb_sstfilewriter_destroy(s->w);
        rocksdb_envoptions_destroy(s->env);
        free(s);
        return NULL;
    }
    return s;
}

void store_sst_put(struct store_sst *s, const void *key, size_t klen, const void *val, size_t vlen)
{
    if (s->failed)
        return;
    char *errptr = NULL;
    rocksdb_sstfilewriter_put(s->w, key, klen, val, vlen, &errptr);
    s->failed = rocks_failed(&errptr, "table file put", s->err, sizeof s->err);
}

bool store_sst_finish(struct store_sst *s, char *err, size_t err_cap)
{
    char *errptr = NULL;
    if (!s->failed) {
        rocksdb_sstfilewriter_finish(s->w, &errptr);
        s->failed = rocks_failed(&errptr, "finish table file", s->err, sizeof s->err);
    }
    bool ok = !s->failed;
    if (!ok)
        snprintf(err, err_cap, "%s", s->err);
    rocksdb_sstfilewriter_destroy(s->w);
    rocksdb_envoptions_destroy(s->env);
    free(s);
    return ok;
}

bool store_ingest(struct store *st, enum store_cf cf, const char *const *paths, size_t n, char *err, size_t err_cap)
{
    LEDGER_ASSERT(!st->read_only && cf < STORE_CF_COUNT);
    rocksdb_ingestexternalfileoptions_t *io = rocksdb_ingestexternalfileoptions_create();
    rocksdb_ingestexternalfileoptions_set_move_files(io, 1);
    char *errptr = NULL;
    rocksdb_ingest_external_file_cf(st->db, st->cf[cf], paths, n, io, &errptr);
    rocksdb_ingestexternalfileoptions_destroy(io);
    return !rocks_failed(&errptr, "ingest table files", err, err_cap);
}

void store_commit_async(struct store *st, struct store_batch *b)
{
    LEDGER_ASSERT(!st->read_only && b->st == st && !b->has_head);
    char *errptr = NULL;
    rocksdb_write(st->db, st->wo_async, b->wb, &errptr);
    if (rocks_failed(&errptr, "write projection rows", NULL, 0)) {
        fprintf(stderr, "ledgerd: FATAL: cannot write projection rows; check the disk and restart\n");
        abort();
    }
}

/* Drops the family and creates it again, empty: instant, whatever it held. */
void store_cf_clear(struct store *st, enum store_cf cf)
{
    LEDGER_ASSERT(!st->read_only && cf < STORE_CF_COUNT && !st->cf_missing[cf]);
    char *errptr = NULL;
    rocksdb_drop_column_family(st->db, st->cf[cf], &errptr);
    if (!rocks_failed(&errptr, "drop column family", NULL, 0)) {
        rocksdb_column_family_handle_destroy(st->cf[cf]);
        st->cf[cf] = rocksdb_create_column_family(st->db, st->cf_opts[cf], cf_names[cf], &errptr);
    }
    if (rocks_failed(&errptr, "create column family", NULL, 0)) {
        fprintf(stderr, "ledgerd: FATAL: cannot recreate column family %s; restore the data directory\n",
                cf_names[cf]);
        abort();
    }
}

bool store_seek_last_le(struct store *st, enum store_cf cf, const void *prefix, size_t plen, void *key,
                        size_t klen, void *val, size_t cap, size_t *vlen)
{
    rocksdb_iterator_t *it = rocksdb_create_iterator_cf(st->db, iter_options(st, cf, plen), st->cf[cf]);
    rocksdb_iter_seek_for_prev(it, key, klen);
    bool found = false;
    if (rocksdb_iter_valid(it)) {
        size_t kl, vl;
        const char *k = rocksdb_iter_key(it, &kl);
        const char *v = rocksdb_iter_value(it, &vl);
        if (kl == klen && kl >= plen && memcmp(k, prefix, plen) == 0 && vl <= cap) {
            memcpy(key, k, kl);
            memcpy(val, v, vl);
            *vlen = vl;
            found = true;
        }
    }
    rocksdb_iter_destroy(it);
    return found;
}

struct store_iter *store_iter_from(struct store *st, enum store_cf cf, const void *prefix, size_t plen,
                                   const void *from, size_t flen)
{
    struct store_iter *it = store_iter_prefix(st, cf, prefix, plen);
    rocksdb_iter_seek(it->it, from, flen);
    return it;
}

bool store_meta_get_str(struct store *st, const char *key, char *out, size_t cap)
{
    char *val = NULL;
    size_t vlen = 0;
    if (store_get(st, STORE_CF_META, key, strlen(key), &val, &vlen) != LEDGER_ERR_OK)
        return false;
    bool ok = vlen < cap;
    if (ok) {
        memcpy(out, val, vlen);
        out[vlen] = '\0';
    }
    free(val);
    return ok;
}

void store_meta_put_str(struct store *st, const char *key, const char *value)
{
    meta_put_sync(st, key, value, strlen(value));
}

void store_idempotency_set_horizon(struct store *st, int64_t horizon_ns)
{
    int64_t cur = __atomic_load_n(&st->idem_horizon_ns, __ATOMIC_ACQUIRE);
    while (horizon_ns > cur &&
           !__atomic_compare_exchange_n(&st->idem_horizon_ns, &cur, horizon_ns, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE))
        ;
}

void store_idempotency_purge(struct store *st)
{
    LEDGER_ASSERT(!st->read_only);
    /* The whole family: its keys are (client, key), not ordered by time. RocksDB flushes the
     * memtable first and, the family having a compaction filter, rewrites the last level too. */
    rocksdb_compact_range_cf(st->db, st->cf[STORE_CF_IDEMPOTENCY], NULL, 0, NULL, 0);
}

void store_idempotency_purge_stop(struct store *st)
{
    rocksdb_disable_manual_compaction(st->db); /* a purge under way ends early; later ones return */
}

uint64_t store_idempotency_purged(const struct store *st)
{
    return __atomic_load_n(&st->idem_purged, __ATOMIC_RELAXED);
}
