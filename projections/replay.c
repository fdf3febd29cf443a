/*
 * replay.c: rebuild the inline state from the log, verifying as it goes.
 *
 * Checks, in order, for every record: its key is the next sequence (gap-free from 1), the record
 * decodes, its seq field equals its key, its hash verifies and chains to the previous record's,
 * and it applies to the state without contradiction. The first failure stops the replay.
 */
#include <stdio.h>
#include <string.h>

#include "projections/projections.h"
#include "store/store.h"

static enum ledger_err replay_fail(uint64_t seq, uint64_t *bad_seq, char *err, size_t err_cap,
                                   const char *why)
{
    *bad_seq = seq;
    snprintf(err, err_cap, "seq %llu: %s", (unsigned long long)seq, why);
    return LEDGER_ERR_DECODE;
}

enum ledger_err ledger_replay(struct store *st, struct ledger_state *state, uint64_t *bad_seq, char *err,
                              size_t err_cap, void (*progress)(void *arg, uint64_t seq), void *arg)
{
    uint8_t prev[LEDGER_HASH_LEN] = {0};
    uint64_t expect = 1;
    struct store_iter *it = store_iter_events(st, 1);
    const uint8_t *key, *val;
    size_t klen, vlen;
    enum ledger_err rc = LEDGER_ERR_OK;
    struct event ev;
    *bad_seq = 0;
    while (store_iter_next(it, &key, &klen, &val, &vlen)) {
        uint64_t seq = klen == 8 ? store_be_u64(key) : 0;
        if (seq != expect) {
            rc = replay_fail(expect, bad_seq, err, err_cap, "missing (the sequence has a gap)");
            break;
        }
        if (event_decode(val, vlen, &ev) != LEDGER_ERR_OK || ev.seq != seq) {
            rc = replay_fail(seq, bad_seq, err, err_cap, "record does not decode or names another seq");
            break;
        }
        if (!event_hash_check(val, vlen, prev)) {
            rc = replay_fail(seq, bad_seq, err, err_cap, "hash chain broken (record altered or reordered)");
            break;
        }
        if (ledger_state_apply(state, &ev) != LEDGER_ERR_OK) {
            rc = replay_fail(seq, bad_seq, err, err_cap, "event contradicts the state before it");
            break;
        }
        ledger_state_commit_undo(state);
        memcpy(prev, ev.hash, LEDGER_HASH_LEN);
        if (progress != NULL && (seq & ((1u << 20) - 1)) == 0)
            progress(arg, seq);
        expect++;
    }
    if (rc == LEDGER_ERR_OK && store_iter_failed(it))
        rc = replay_fail(expect, bad_seq, err, err_cap, "I/O error while reading the log");
    store_iter_free(it);
    return rc;
}
