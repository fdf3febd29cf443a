/*
 * verify.c: `ledgerctl verify` and `ledgerctl replay`.
 *
 * verify reads the log through a read-only RocksDB handle (it may run beside ledgerd) and checks:
 *   1. every record decodes, the sequence is gap-free from 1, every hash chains (ledger_replay);
 *   2. the chain head in meta names the last event (store_open);
 *   3. double entry: per currency, sum of debits = sum of credits, posted and pending;
 *   4. every stored account row (proj_accounts) equals the account replayed from the events.
 * It prints what it checked and exits 1 naming the first bad sequence.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "projections/projections.h"
#include "store/store.h"
#include "tools/tools.h"

struct currency_sum {
    char code[4];
    __int128 debits_posted, credits_posted, debits_pending, credits_pending;
};

static int check_double_entry(struct ledger_state *state)
{
    struct currency_sum sums[256];
    size_t n = 0;
    for (uint64_t i = 0; i < ledger_state_account_count(state); i++) {
        const struct account *a = ledger_state_account_at(state, i);
        size_t k = 0;
        while (k < n && memcmp(sums[k].code, a->currency, 4) != 0)
            k++;
        if (k == n) {
            if (n == 256)
                return 1;
            memset(&sums[n], 0, sizeof sums[n]);
            memcpy(sums[n++].code, a->currency, 4);
        }
        sums[k].debits_posted += a->debits_posted;
        sums[k].credits_posted += a->credits_posted;
        sums[k].debits_pending += a->debits_pending;
        sums[k].credits_pending += a->credits_pending;
    }
    int bad = 0;
    for (size_t k = 0; k < n; k++) {
        bool ok = sums[k].debits_posted == sums[k].credits_posted &&
                  sums[k].debits_pending == sums[k].credits_pending;
        printf("verify: double entry %s: debits = credits = %lld minor units posted: %s\n", sums[k].code,
               (long long)sums[k].debits_posted, ok ? "ok" : "MISMATCH");
        bad |= !ok;
    }
    return bad;
}

/* Compares every stored account row with the replayed account; returns the first bad seq or 0. */
static uint64_t check_rows(struct store *st, struct ledger_state *state, uint64_t *rows)
{
    *rows = 0;
    for (uint64_t i = 0; i < ledger_state_account_count(state); i++) {
        const struct account *a = ledger_state_account_at(state, i);
        char *val = NULL;
        size_t vlen = 0;
        struct account stored;
        bool ok = store_get(st, STORE_CF_PROJ_ACCOUNTS, a->id.b, 16, &val, &vlen) == LEDGER_ERR_OK &&
                  account_row_decode(val, vlen, &stored);
        free(val);
        val = NULL;
        ok = ok && store_get(st, STORE_CF_PROJ_BALANCES, a->id.b, 16, &val, &vlen) == LEDGER_ERR_OK &&
             balance_row_decode(val, vlen, &stored);
        free(val);
        if (!ok || stored.debits_posted != a->debits_posted || stored.credits_posted != a->credits_posted ||
            stored.debits_pending != a->debits_pending || stored.credits_pending != a->credits_pending ||
            stored.state != a->state || stored.blocks != a->blocks || stored.last_seq != a->last_seq) {
            char id[LEDGER_ID_TEXT_LEN + 1];
            ledger_id_format(&a->id, id);
            printf("verify: FAIL: stored balances of account %s differ from the events (last event seq %" PRIu64
                   ")\n", id, a->last_seq);
            return a->last_seq ? a->last_seq : 1;
        }
        (*rows)++;
    }
    return 0;
}

static void progress(void *arg, uint64_t seq)
{
    double t0 = *(double *)arg;
    fprintf(stderr, "\rverify: %" PRIu64 " events, %.0f events/s", seq, (double)seq / (tool_now_s() - t0));
}

int cmd_verify(int argc, char **argv)
{
    bool bad_flag = false;
    const char *dir = tool_flag(argc, argv, "--data", &bad_flag);
    if (dir == NULL || bad_flag) {
        fprintf(stderr, "usage: ledgerctl verify --data DIR\n");
        return 2;
    }
    char err[512];
    struct store *st = store_open(dir, true, err, sizeof err);
    if (st == NULL) {
        printf("verify: FAIL: cannot open %s: %s\n", dir, err);
        return 1;
    }
    struct ledger_state *state = ledger_state_new();
    uint64_t bad = 0, rows = 0;
    double t0 = tool_now_s();
    enum ledger_err rc = ledger_replay(st, state, &bad, err, sizeof err, isatty(2) ? progress : NULL, &t0);
    double secs = tool_now_s() - t0;
    struct store_head head = store_head(st);
    int status = 0;
    if (rc != LEDGER_ERR_OK) {
        printf("verify: FAIL at seq %" PRIu64 ": %s\n", bad, err);
        status = 1;
    } else {
        printf("verify: %" PRIu64 " events, hash chain and sequence ok (%.3f s, %.0f events/s)\n", head.seq, secs,
               secs > 0 ? (double)head.seq / secs : 0.0);
        if (check_double_entry(state) != 0)
            status = 1;
        if ((bad = check_rows(st, state, &rows)) != 0) {
            printf("verify: FAIL at seq %" PRIu64 "\n", bad);
            status = 1;
        }
    }
    if (status == 0) {
        uint8_t digest[LEDGER_HASH_LEN];
        char hex[2 * LEDGER_HASH_LEN + 1];
        ledger_state_digest(state, digest);
        ledger_hex(digest, LEDGER_HASH_LEN, hex);
        printf("verify: %" PRIu64 " accounts, stored balances = replayed balances\n", rows);
        printf("verify: balances digest %s\n", hex);
        ledger_hex(head.hash, LEDGER_HASH_LEN, hex);
        printf("verify: OK, head seq %" PRIu64 " hash %s\n", head.seq, hex);
    }
    ledger_state_free(state);
    store_close(st);
    return status;
}

int cmd_replay(int argc, char **argv)
{
    bool bad_flag = false;
    const char *dir = tool_flag(argc, argv, "--data", &bad_flag);
    const char *from = tool_flag(argc, argv, "--from", &bad_flag);
    const char *account = tool_flag(argc, argv, "--account", &bad_flag);
    struct ledger_id acc;
    char *end = NULL;
    uint64_t from_seq = from ? strtoull(from, &end, 10) : 1;
    if (dir == NULL || bad_flag || (from && *end != '\0') ||
        (account && !ledger_id_parse(account, strlen(account), &acc))) {
        fprintf(stderr, "usage: ledgerctl replay --data DIR [--from SEQ] [--account UUID]\n");
        return 2;
    }
    char err[512];
    struct store *st = store_open(dir, true, err, sizeof err);
    if (st == NULL) {
        fprintf(stderr, "replay: cannot open %s: %s\n", dir, err);
        return 1;
    }
    struct store_iter *it = store_iter_events(st, from_seq ? from_seq : 1);
    const uint8_t *k, *v;
    size_t kl, vl;
    char json[4096];
    int status = 0;
    struct event ev;
    while (store_iter_next(it, &k, &kl, &v, &vl)) {
        if (event_decode(v, vl, &ev) != LEDGER_ERR_OK || event_to_json(&ev, json, sizeof json) == 0) {
            fprintf(stderr, "replay: seq %" PRIu64 " does not decode\n", kl == 8 ? store_be_u64(k) : 0);
            status = 1;
            break;
        }
        if (account == NULL || event_touches_account(&ev, &acc))
            printf("%s\n", json);
    }
    store_iter_free(it);
    store_close(st);
    return status;
}
