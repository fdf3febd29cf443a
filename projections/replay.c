/*
 * replay.c: rebuild the inline state from the log, verifying as it goes.
 *
 * Checks, in order, for every record: its key is the next sequence (gap-free from 1), the record
 * decodes, its seq field equals its key, its hash verifies and chains to the previous record's,
 * and it applies to the state without contradiction. The first failure stops the replay.
 *
 * Two threads, so a replay uses both cores: the reader iterates RocksDB into chunks and recomputes
 * each record's own hash (SHA-256 over its prev_hash and bytes: independent per record); the
 * caller's thread decodes, checks the links (key = expected seq, prev_hash = previous hash) and
 * applies in order. Together that is exactly event_hash_check(record, previous hash) per record.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "projections/projections.h"
#include "store/store.h"

#define CHUNK_RECORDS 4096
#define CHUNKS 3

struct chunk {
    uint8_t *bytes;                 /* CHUNK_RECORDS * LEDGER_RECORD_BYTES_MAX */
    uint32_t len[CHUNK_RECORDS];
    uint64_t key[CHUNK_RECORDS];    /* 0 for a key that is not 8 bytes */
    bool hash_ok[CHUNK_RECORDS];
    size_t n;
    bool last;                      /* the log ends after this chunk */
    bool io_failed;
    bool full;                      /* filled by the reader, not yet consumed */
};

struct pipeline {
    struct store *st;
    struct chunk chunks[CHUNKS];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop; /* the consumer gave up: the reader must end */
};

static void *reader_main(void *arg)
{
    pthread_setname_np(pthread_self(), "ledger-replay"); /* as top -H and perf show it */
    struct pipeline *p = arg;
    struct store_iter *it = store_iter_events_scan(p->st, 1);
    const uint8_t *k, *v;
    size_t kl, vl;
    for (size_t c = 0;; c = (c + 1) % CHUNKS) {
        struct chunk *ch = &p->chunks[c];
        pthread_mutex_lock(&p->mu);
        while (ch->full && !p->stop)
            pthread_cond_wait(&p->cv, &p->mu);
        bool stop = p->stop;
        pthread_mutex_unlock(&p->mu);
        if (stop)
            break;
        ch->n = 0;
        ch->last = false;
        while (ch->n < CHUNK_RECORDS && (ch->last = !store_iter_next(it, &k, &kl, &v, &vl)) == false) {
            size_t n = vl <= LEDGER_RECORD_BYTES_MAX ? vl : 0; /* an oversized record fails decode */
            uint8_t *dst = ch->bytes + ch->n * LEDGER_RECORD_BYTES_MAX;
            memcpy(dst, v, n);
            ch->len[ch->n] = (uint32_t)n;
            ch->key[ch->n] = kl == 8 ? store_be_u64(k) : 0;
            ch->hash_ok[ch->n] = event_hash_check(dst, n, NULL);
            ch->n++;
        }
        ch->io_failed = ch->last && store_iter_failed(it);
        pthread_mutex_lock(&p->mu);
        ch->full = true;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        if (ch->last)
            break;
    }
    store_iter_free(it);
    return NULL;
}

static enum ledger_err replay_fail(uint64_t seq, uint64_t *bad_seq, char *err, size_t err_cap,
                                   const char *why)
{
    *bad_seq = seq;
    snprintf(err, err_cap, "seq %llu: %s", (unsigned long long)seq, why);
    return LEDGER_ERR_DECODE;
}

struct cursor {
    uint64_t expect;
    uint8_t prev[LEDGER_HASH_LEN];
};

/* Checks and applies one record; LEDGER_ERR_OK or the first problem (with bad_seq and err). */
static enum ledger_err replay_one(struct ledger_state *state, struct cursor *cur, const struct chunk *ch,
                                  size_t i, uint64_t *bad_seq, char *err, size_t err_cap)
{
    struct event ev;
    if (ch->key[i] != cur->expect)
        return replay_fail(cur->expect, bad_seq, err, err_cap, "missing (the sequence has a gap)");
    const uint8_t *rec = ch->bytes + i * LEDGER_RECORD_BYTES_MAX;
    if (event_decode(rec, ch->len[i], &ev) != LEDGER_ERR_OK || ev.seq != cur->expect)
        return replay_fail(cur->expect, bad_seq, err, err_cap, "record does not decode or names another seq");
    if (!ch->hash_ok[i] || memcmp(ev.prev_hash, cur->prev, LEDGER_HASH_LEN) != 0)
        return replay_fail(cur->expect, bad_seq, err, err_cap, "hash chain broken (record altered or reordered)");
    if (ledger_state_apply(state, &ev) != LEDGER_ERR_OK)
        return replay_fail(cur->expect, bad_seq, err, err_cap, "event contradicts the state before it");
    ledger_state_commit_undo(state);
    memcpy(cur->prev, ev.hash, LEDGER_HASH_LEN);
    cur->expect++;
    return LEDGER_ERR_OK;
}

static void pipeline_init(struct pipeline *p, struct store *st)
{
    memset(p, 0, sizeof *p);
    p->st = st;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    for (int c = 0; c < CHUNKS; c++) {
        p->chunks[c].bytes = malloc((size_t)CHUNK_RECORDS * LEDGER_RECORD_BYTES_MAX);
        LEDGER_ASSERT(p->chunks[c].bytes != NULL);
    }
}

static void pipeline_release(struct pipeline *p)
{
    for (int c = 0; c < CHUNKS; c++)
        free(p->chunks[c].bytes);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
}

enum ledger_err ledger_replay(struct store *st, struct ledger_state *state, uint64_t *bad_seq, char *err,
                              size_t err_cap, void (*progress)(void *arg, uint64_t seq), void *arg)
{
    struct pipeline p;
    struct cursor cur = {.expect = 1};
    enum ledger_err rc = LEDGER_ERR_OK;
    *bad_seq = 0;
    /* one allocation for the transfer-id index instead of a rehash at every doubling (capped: the
     * head counts every event, not only transfers) */
    uint64_t head = store_head(st).seq;
    ledger_state_reserve_transfers(state, head < (1u << 25) ? head : (1u << 25));
    pipeline_init(&p, st);
    pthread_t reader;
    LEDGER_ASSERT(pthread_create(&reader, NULL, reader_main, &p) == 0);
    for (size_t c = 0;; c = (c + 1) % CHUNKS) {
        struct chunk *ch = &p.chunks[c];
        pthread_mutex_lock(&p.mu);
        while (!ch->full)
            pthread_cond_wait(&p.cv, &p.mu);
        pthread_mutex_unlock(&p.mu);
        for (size_t i = 0; i < ch->n && rc == LEDGER_ERR_OK; i++) {
            rc = replay_one(state, &cur, ch, i, bad_seq, err, err_cap);
            if (rc == LEDGER_ERR_OK && progress != NULL && ((cur.expect - 1) & ((1u << 20) - 1)) == 0)
                progress(arg, cur.expect - 1);
        }
        if (rc == LEDGER_ERR_OK && ch->io_failed)
            rc = replay_fail(cur.expect, bad_seq, err, err_cap, "I/O error while reading the log");
        bool last = ch->last;
        pthread_mutex_lock(&p.mu);
        ch->full = false;
        p.stop = rc != LEDGER_ERR_OK;
        pthread_cond_broadcast(&p.cv);
        pthread_mutex_unlock(&p.mu);
        if (last || rc != LEDGER_ERR_OK)
            break;
    }
    pthread_join(reader, NULL);
    pipeline_release(&p);
    return rc;
}
