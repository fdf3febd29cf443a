/*
 * store.h: the durable event log on RocksDB, the one public header of store/.
 *
 * Column families:
 *   events        u64 BE seq                      -> encoded event record (gap-free from 1)
 *   streams       16-byte stream id + u64 BE ver  -> u64 BE seq
 *   idempotency   client id + 0x00 + key          -> request hash (32) + ts_ns (8) + status (2) + body
 *                                                    (STORE_IDEM_*: the sequencer writes, the purge reads)
 *   meta          ASCII key                       -> value (ledger id, chain head, outbox watermark, format)
 *   proj_accounts 16-byte account id              -> account record: identity, state (projections/)
 *   proj_balances 16-byte account id              -> the four balance counters + last seq (40 bytes)
 *   proj_cards, proj_account_cards, proj_auths, proj_card_auths: cards (projections.h)
 *   proj_ops, proj_op_accounts, proj_pending, proj_statements, proj_statement_ids: the catch-up
 *   projection, written by the projector thread with store_commit_async (projections.h)
 *   proj_holders  holder id + 0x00 + account id   -> empty (accounts per holder)
 *
 * Writes go through a store_batch committed with sync=true; a batch carries its events, their
 * indexes, projection rows and the new chain head together, so the head always names the last
 * event on disk. A failed write or fsync is fatal: store_commit() logs what the operator should do
 * and aborts the process (fail-stop); restart recovers from the log.
 *
 * Threads: one writer (the sequencer) calls store_commit(); any thread may read and iterate. The
 * outbox thread may call store_meta_put_u64() for its watermark; the scheduler's purge thread
 * compacts the idempotency family (store_idempotency_purge).
 */
#ifndef LEDGER_STORE_H
#define LEDGER_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "events/events.h"

struct store;
struct store_batch;
struct store_iter;

enum store_cf {
    STORE_CF_EVENTS = 0,
    STORE_CF_STREAMS,
    STORE_CF_IDEMPOTENCY,
    STORE_CF_META,
    STORE_CF_PROJ_ACCOUNTS,
    STORE_CF_PROJ_HOLDERS,
    STORE_CF_PROJ_BALANCES,
    STORE_CF_PROJ_CARDS,
    STORE_CF_PROJ_ACCOUNT_CARDS,
    STORE_CF_PROJ_AUTHS,
    STORE_CF_PROJ_CARD_AUTHS,
    STORE_CF_PROJ_OPS,
    STORE_CF_PROJ_OP_ACCOUNTS,
    STORE_CF_PROJ_PENDING,
    STORE_CF_PROJ_STATEMENTS,
    STORE_CF_CREDENTIALS,    /* client id -> salted slow hash of its secret (never in an event) */
    STORE_CF_PROJ_CLIENTS,
    STORE_CF_PROJ_THIRD_PARTIES,
    STORE_CF_PROJ_KYC, /* holder id -> identification row */
    STORE_CF_PROJ_STATEMENT_IDS, /* statement id -> its proj_statements key (catch-up, projections.h) */
    STORE_CF_COUNT,
};

#define STORE_FORMAT_VERSION 1

struct store_head {
    uint64_t seq;                  /* last event on disk; 0 for an empty log */
    uint8_t hash[LEDGER_HASH_LEN]; /* its hash; 32 zero bytes for an empty log */
};

/* Opens (creating if missing, unless read_only) the ledger at dir. Start-up checks: format
 * version, the chain head in meta equals the last event key and that event's hash, and the
 * head event's own hash verifies. On failure returns NULL and writes a one-line reason to err. */
struct store *store_open(const char *dir, bool read_only, char *err, size_t err_cap);
/* For ledgerctl rebuild on a stopped ledger: projection families use append-only memtables and
 * store_commit_async() skips the WAL; the caller makes the result durable with store_flush(). */
struct store *store_open_bulk(const char *dir, char *err, size_t err_cap);
/* Flushes every memtable to disk and waits (ends a bulk load). Aborts on failure. */
void store_flush(struct store *st);
/* Flushes nothing (every commit is already durable) and releases the handle. NULL is fine. */
void store_close(struct store *st);

/* The chain head as of open or the last commit. Writer thread only (or before it starts). */
struct store_head store_head(const struct store *st);
/* The ledger's id, 16 random bytes chosen when the log was created. */
struct ledger_id store_ledger_id(const struct store *st);

/* ---- writes ----------------------------------------------------------------------------------- */
/* A batch bound to st (its column families). */
struct store_batch *store_batch_new(struct store *st);
void store_batch_free(struct store_batch *b);
void store_batch_clear(struct store_batch *b);
size_t store_batch_count(const struct store_batch *b);
void store_batch_put_event(struct store_batch *b, uint64_t seq, const uint8_t *rec, size_t len);
void store_batch_put_stream(struct store_batch *b, const struct ledger_id *stream, uint64_t ver, uint64_t seq);
void store_batch_put(struct store_batch *b, enum store_cf cf, const void *key, size_t klen,
                     const void *val, size_t vlen);
/* Sends the batch's puts to family cf to put(arg, ...) instead of the batch (put NULL: back to
 * the batch). A bulk load sorts them itself and ingests them as table files (store_sst_*);
 * deletes in that family are not diverted. */
typedef void (*store_put_fn)(void *arg, const void *key, size_t klen, const void *val, size_t vlen);
void store_batch_divert(struct store_batch *b, enum store_cf cf, store_put_fn put, void *arg);
/* A table file of family cf's format at path, written in ascending key order (store_sst_put;
 * a failure is kept and reported by finish), then moved into the family by store_ingest() (files
 * of one call must not overlap; a later call may overlap earlier ones). Bulk loads only. */
struct store_sst;
struct store_sst *store_sst_create(struct store *st, enum store_cf cf, const char *path, char *err, size_t err_cap);
void store_sst_put(struct store_sst *s, const void *key, size_t klen, const void *val, size_t vlen);
bool store_sst_finish(struct store_sst *s, char *err, size_t err_cap); /* frees s */
bool store_ingest(struct store *st, enum store_cf cf, const char *const *paths, size_t n, char *err, size_t err_cap);
/* A bulk load of family cf (store/bulk.c): rows whose keys start with a 16-byte group, put in
 * any order (fastest when each group's rows come in key order), sorted in memory and written as
 * table files in tmp_dir (a directory on the store's file system), then ingested. Memory is
 * bounded: past arena_max bytes of rows (0: 1 GiB) a step is written and ingested before more
 * are taken. A key must
 * not be put twice. store_bulk_put is a store_put_fn (for store_batch_divert). store_bulk_finish
 * writes what is left; false with the reason in err if any step failed (rows may be missing). */
struct store_bulk;
struct store_bulk *store_bulk_new(struct store *st, enum store_cf cf, const char *tmp_dir, size_t arena_max);
void store_bulk_put(void *arg, const void *key, size_t klen, const void *val, size_t vlen);
bool store_bulk_finish(struct store_bulk *b, char *err, size_t err_cap);
void store_bulk_free(struct store_bulk *b);
/* Records the new chain head (written to meta in the same batch). */
void store_batch_set_head(struct store_batch *b, const struct store_head *head);
/* Writes the batch atomically with sync=true. Returns only on success; aborts the process on any
 * write or fsync error (after logging it). Writer thread only. */
void store_commit(struct store *st, struct store_batch *b);

/* Deletes a key in the batch. */
void store_batch_delete(struct store_batch *b, enum store_cf cf, const void *key, size_t klen);
/* Writes a batch of derived rows atomically WITHOUT fsync and without touching the chain head
 * (projections: rebuildable from the log). Aborts the process on a write error. */
void store_commit_async(struct store *st, struct store_batch *b);
/* Empties cf at once (drops and recreates the family; rebuild). Writer only, not read-only. */
void store_cf_clear(struct store *st, enum store_cf cf);

/* Test hook: make the Nth next commit fail as if the disk had (0 = never). */
void store_fail_commit_after(struct store *st, unsigned n);

/* ---- reads ------------------------------------------------------------------------------------ */
/* Reads a value. Returns LEDGER_ERR_OK with *val malloc'd (caller frees), LEDGER_ERR_NOT_FOUND,
 * or LEDGER_ERR_IO (logged). */
enum ledger_err store_get(struct store *st, enum store_cf cf, const void *key, size_t klen, char **val,
                          size_t *vlen);
/* Reads the record of event seq into buf (cap bytes). OK, NOT_FOUND, DECODE (too large) or IO. */
enum ledger_err store_get_event(struct store *st, uint64_t seq, uint8_t *buf, size_t cap, size_t *len);
/* Looks up the seq of version ver of a stream. false when absent. */
bool store_get_stream(struct store *st, const struct ledger_id *stream, uint64_t ver, uint64_t *seq);

/* Iterates events from seq (inclusive) upward. */
struct store_iter *store_iter_events(struct store *st, uint64_t from_seq);
/* The same for a read of the whole log (replay, rebuild, verify): blocks read ahead 4 MiB at a
 * time and kept out of the block cache, which they would only flush. */
struct store_iter *store_iter_events_scan(struct store *st, uint64_t from_seq);
/* Iterates the keys of cf that start with prefix (plen bytes). */
struct store_iter *store_iter_prefix(struct store *st, enum store_cf cf, const void *prefix, size_t plen);
/* Next entry; false at the end (or on an I/O error, logged: see store_iter_failed). The pointers
 * stay valid until the next call. For events, *key is the 8-byte BE seq. */
bool store_iter_next(struct store_iter *it, const uint8_t **key, size_t *klen, const uint8_t **val,
                     size_t *vlen);
bool store_iter_failed(const struct store_iter *it);
/* The last key of cf that starts with prefix (plen bytes) and is <= key (klen bytes), of the same
 * length: key is overwritten with it and its value copied into val (cap bytes, *vlen set). false
 * (key untouched) when there is none or it does not fit. */
bool store_seek_last_le(struct store *st, enum store_cf cf, const void *prefix, size_t plen, void *key,
                        size_t klen, void *val, size_t cap, size_t *vlen);
/* Iterates keys of cf that start with prefix, from the first key >= from (flen bytes). */
struct store_iter *store_iter_from(struct store *st, enum store_cf cf, const void *prefix, size_t plen,
                                   const void *from, size_t flen);
void store_iter_free(struct store_iter *it);

/* ---- meta ------------------------------------------------------------------------------------- */
/* Writes a u64 meta value without sync (advisory values such as the outbox watermark). */
void store_meta_put_u64(struct store *st, const char *key, uint64_t value);
bool store_meta_get_u64(struct store *st, const char *key, uint64_t *value);
/* A short string in meta (NUL-terminated into out, cap bytes); false when absent or too long. */
bool store_meta_get_str(struct store *st, const char *key, char *out, size_t cap);
/* Writes a string to meta with sync=true (configuration that must survive a crash). */
void store_meta_put_str(struct store *st, const char *key, const char *value);

/* ---- helpers ---------------------------------------------------------------------------------- */
void store_u64_be(uint64_t v, uint8_t out[8]);
uint64_t store_be_u64(const uint8_t in[8]);

/* An idempotency record's value: the request's hash, the time of the answer (Unix ns, BE), its
 * HTTP status (BE), then its body. */
#define STORE_IDEM_TS_AT LEDGER_HASH_LEN
#define STORE_IDEM_STATUS_AT (LEDGER_HASH_LEN + 8)
#define STORE_IDEM_HEADER_BYTES (LEDGER_HASH_LEN + 8 + 2)

/* ---- idempotency expiry ----
 * Records of the idempotency family older than the horizon (Unix ns) can never answer again (the
 * sequencer ignores a record more than LEDGER_IDEMPOTENCY_RETENTION_NS old); compactions of that
 * family drop them. The horizon only moves forward (a smaller value is ignored); it starts at 0, so
 * nothing is dropped until it is set. Any thread. */
void store_idempotency_set_horizon(struct store *st, int64_t horizon_ns);
/* Compacts the whole idempotency family now (memtable flushed first), dropping the records before
 * the horizon. Blocks for as long as that takes: call it off the write path. Not on read-only. */
void store_idempotency_purge(struct store *st);
/* Makes a purge under way end early and later ones return at once (shutdown). */
void store_idempotency_purge_stop(struct store *st);
/* Records dropped by the filter since open. */
uint64_t store_idempotency_purged(const struct store *st);

#endif
