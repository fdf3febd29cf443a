/*
 * verify.c: `ledgerctl verify` and `ledgerctl replay`.
 *
 * verify reads the log through a read-only RocksDB handle (it may run beside ledgerd) and checks:
 *   1. every record decodes, the sequence is gap-free from 1, every hash chains (ledger_replay);
 *   2. the chain head in meta names the last event (store_open);
 *   3. double entry: per currency, sum of debits = sum of credits, posted and pending;
 *   4. every stored account row (proj_accounts) equals the account replayed from the events;
 *   5. the catch-up projection (operations, pending holds, statements): its digest, the last
 *      balance_after of every account = its replayed posted balance (when the projection has
 *      reached the head), and, unless --skip-projections, the digest equals that of the same
 *      projection rebuilt from the log into a temporary directory (up to the same checkpoint).
 * It prints what it checked and exits 1 naming the first bad sequence.
 *
 * replay prints events as JSON lines, filtered by --from SEQ, --account ID, --type NAME
 * ("transfer.executed", or a category: "card"), --from-time / --to-time (RFC 3339, [from, to)).
 */
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
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

/* Counts the keys of a family (bounded by what is there). */
static uint64_t cf_rows(struct store *st, enum store_cf cf)
{
    struct store_iter *it = store_iter_prefix(st, cf, "", 0);
    const uint8_t *k, *v;
    size_t kl, vl;
    uint64_t n = 0;
    while (store_iter_next(it, &k, &kl, &v, &vl))
        n++;
    store_iter_free(it);
    return n;
}

/* One stored row must equal, byte for byte, the row encoded from the replayed state. */
static bool row_equals(struct store *st, enum store_cf cf, const void *key, size_t klen, const uint8_t *want,
                       size_t wlen)
{
    char *val = NULL;
    size_t vlen = 0;
    bool ok = store_get(st, cf, key, klen, &val, &vlen) == LEDGER_ERR_OK && vlen == wlen &&
              memcmp(val, want, wlen) == 0;
    free(val);
    return ok;
}

/* Card and authorization rows are compared by what they hold: a row written before rows were
 * packed holds the same state in the plain layout, so the stored row is decoded (into scratch) and
 * encoded again (an undecodable row never matches). */
typedef size_t row_encode_fn(const void *state, uint8_t *out);
typedef bool row_decode_fn(const void *row, size_t len, void *state);
static size_t card_encode(const void *c, uint8_t *out) { return card_row_encode(c, out); }
static bool card_decode(const void *row, size_t len, void *c) { return card_row_decode(row, len, c); }
static size_t auth_encode(const void *a, uint8_t *out) { return auth_row_encode(a, out); }
static bool auth_decode(const void *row, size_t len, void *a) { return auth_row_decode(row, len, a); }

static bool row_matches(struct store *st, enum store_cf cf, const struct ledger_id *key, const void *state,
                        void *scratch, row_encode_fn *encode, row_decode_fn *decode)
{
    static uint8_t want[CARD_ROW_BYTES + AUTH_ROW_BYTES], again[CARD_ROW_BYTES + AUTH_ROW_BYTES];
    size_t wlen = encode(state, want);
    char *val = NULL;
    size_t vlen = 0;
    bool ok = store_get(st, cf, key->b, 16, &val, &vlen) == LEDGER_ERR_OK && decode(val, vlen, scratch) &&
              encode(scratch, again) == wlen && memcmp(again, want, wlen) == 0;
    free(val);
    return ok;
}

static int holder_order(const void *a, const void *b)
{
    const struct holder_identification *x = a, *y = b;
    int c = strcmp(x->holder_id, y->holder_id);
    return c != 0 ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

/* Holder identifications: the latest change of each holder must be its proj_kyc row, and the
 * family must hold no other row. Returns the number of holders, or sets *bad. */
static uint64_t check_holder_rows(struct store *st, struct ledger_state *state, bool *bad)
{
    size_t n = 0, holders = 0;
    const struct holder_identification *changes = ledger_state_take_holder_changes(state, &n);
    struct holder_identification *h = n ? malloc(n * sizeof *h) : NULL;
    LEDGER_ASSERT(n == 0 || h != NULL);
    if (n)
        memcpy(h, changes, n * sizeof *h);
    if (n > 1)
        qsort(h, n, sizeof *h, holder_order);
    for (size_t i = 0; i < n && !*bad; i++) {
        if (i + 1 < n && strcmp(h[i].holder_id, h[i + 1].holder_id) == 0)
            continue; /* a later change of the same holder */
        uint8_t row[HOLDER_ROW_BYTES];
        holder_row_encode(&h[i], row);
        holders++;
        if (!row_equals(st, STORE_CF_PROJ_KYC, h[i].holder_id, strlen(h[i].holder_id), row, sizeof row)) {
            printf("verify: FAIL: the stored identification of holder %s differs from the events\n", h[i].holder_id);
            *bad = true;
        }
    }
    free(h);
    if (!*bad && cf_rows(st, STORE_CF_PROJ_KYC) != holders) {
        printf("verify: FAIL: the holder identification rows hold a row no event explains\n");
        *bad = true;
    }
    return holders;
}

/* Cards, authorizations and clients: after a fresh replay every one of them is "changed", so the
 * dirty lists enumerate them all. Each stored row must equal the replayed one and the families
 * must hold no other row. Returns the number of rows checked, or prints what differs and sets *bad. */
static uint64_t check_other_rows(struct store *st, struct ledger_state *state, bool *bad)
{
    static uint8_t row[CLIENT_ROW_BYTES];
    size_t n_cards = 0, n_auths = 0, n_clients = 0;
    struct card **cards = ledger_state_take_dirty_cards(state, &n_cards);
    for (size_t i = 0; i < n_cards && !*bad; i++) {
        struct card stored;
        if (!row_matches(st, STORE_CF_PROJ_CARDS, &cards[i]->id, cards[i], &stored, card_encode, card_decode)) {
            printf("verify: FAIL: the stored card row differs from the events (last event seq %" PRIu64 ")\n",
                   cards[i]->last_seq);
            *bad = true;
        }
    }
    struct authorization **auths = ledger_state_take_dirty_auths(state, &n_auths);
    for (size_t i = 0; i < n_auths && !*bad; i++) {
        struct authorization stored;
        if (!row_matches(st, STORE_CF_PROJ_AUTHS, &auths[i]->hold_id, auths[i], &stored, auth_encode, auth_decode)) {
            printf("verify: FAIL: the stored authorization row differs from the events (last event seq %" PRIu64
                   ")\n", auths[i]->last_seq);
            *bad = true;
        }
    }
    struct client **clients = ledger_state_take_dirty_clients(state, &n_clients);
    for (size_t i = 0; i < n_clients && !*bad; i++) {
        client_row_encode(clients[i], row);
        if (!row_equals(st, STORE_CF_PROJ_CLIENTS, clients[i]->id, strlen(clients[i]->id), row, CLIENT_ROW_BYTES)) {
            printf("verify: FAIL: the stored row of client %s differs from the events\n", clients[i]->id);
            *bad = true;
        }
    }
    if (!*bad && (cf_rows(st, STORE_CF_PROJ_CARDS) != n_cards || cf_rows(st, STORE_CF_PROJ_AUTHS) != n_auths ||
                  cf_rows(st, STORE_CF_PROJ_CLIENTS) != n_clients)) {
        printf("verify: FAIL: the card, authorization or client rows hold a row no event explains\n");
        *bad = true;
    }
    return n_cards + n_auths + n_clients + check_holder_rows(st, state, bad);
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

/* The last operation of every account carries its posted balance (once the projection has
 * reached the head: it follows the log). Returns the number of mismatches (printed). */
static int check_last_operations(struct store *st, struct ledger_state *state)
{
    int bad = 0;
    for (uint64_t i = 0; i < ledger_state_account_count(state); i++) {
        const struct account *a = ledger_state_account_at(state, i);
        uint8_t key[OPERATION_KEY_BYTES], row[OPERATION_ROW_MAX];
        size_t rlen = 0;
        struct operation op = {.balance_after = 0};
        operation_key(&a->id, INT64_MAX, UINT64_MAX, 255, key);
        if (store_seek_last_le(st, STORE_CF_PROJ_OPS, a->id.b, 16, key, sizeof key, row, sizeof row, &rlen) &&
            !operation_row_decode(key, sizeof key, row, rlen, &op))
            op.balance_after = INT64_MIN;
        if (op.balance_after != a->credits_posted - a->debits_posted) {
            char id[LEDGER_ID_TEXT_LEN + 1];
            ledger_id_format(&a->id, id);
            printf("verify: FAIL: operations projection: last balance_after of account %s is %" PRId64
                   ", the events give %" PRId64 "\n", id, op.balance_after, a->credits_posted - a->debits_posted);
            if (++bad >= 10)
                break;
        }
    }
    return bad;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Rebuilds the catch-up projection of st up to seq upto into a fresh temporary store and puts its
 * digest into out. 0, or 1 (printed). */
static int rebuilt_digest(struct store *st, enum period_kind kind, uint64_t upto, uint8_t out[LEDGER_HASH_LEN])
{
    char dir[64], err[512];
    snprintf(dir, sizeof dir, "/tmp/ledgerctl-verify-XXXXXX");
    if (mkdtemp(dir) == NULL) {
        printf("verify: FAIL: cannot create a temporary directory for the projection rebuild\n");
        return 1;
    }
    struct store *tmp = store_open(dir, false, err, sizeof err);
    int status = 1;
    if (tmp == NULL) {
        printf("verify: FAIL: cannot open a temporary store in %s: %s\n", dir, err);
    } else {
        struct tool_progress pr;
        uint64_t events = 0;
        tool_progress_init(&pr, "verify: rebuilding the operations projection", upto);
        status = tool_catchup_build(st, tmp, dir, kind, upto, &pr, &events);
        catchup_digest(tmp, out);
        store_close(tmp);
    }
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return status;
}

/* Check 5: the catch-up projection. */
static int check_projection(struct store *st, struct ledger_state *state, enum period_kind kind, bool skip_rebuild)
{
    uint8_t live[LEDGER_HASH_LEN], rebuilt[LEDGER_HASH_LEN];
    char hex[2 * LEDGER_HASH_LEN + 1];
    uint64_t checkpoint = catchup_checkpoint(st), head = store_head(st).seq;
    catchup_digest(st, live);
    ledger_hex(live, LEDGER_HASH_LEN, hex);
    printf("verify: operations projection at seq %" PRIu64 " of %" PRIu64 ", digest %s\n", checkpoint, head, hex);
    int status = 0;
    if (checkpoint > head) {
        printf("verify: FAIL: operations projection checkpoint %" PRIu64 " is past the head\n", checkpoint);
        return 1;
    }
    if (checkpoint > 0 && !catchup_format_current(st)) {
        /* rows of an older format (or of a rebuild cut short) cannot equal a rebuild in today's
         * format; they are derived data, not the log, and ledgerd rebuilds them when it starts */
        printf("verify: operations projection is in an older format; not compared. ledgerd rebuilds it "
               "from the log when it starts ('ledgerctl rebuild --projection operations' does it now)\n");
        return 0;
    }
    if (checkpoint == head && check_last_operations(st, state) != 0)
        status = 1;
    if (skip_rebuild)
        return status;
    if (rebuilt_digest(st, kind, checkpoint, rebuilt) != 0)
        return 1;
    if (memcmp(live, rebuilt, LEDGER_HASH_LEN) != 0) {
        ledger_hex(rebuilt, LEDGER_HASH_LEN, hex);
        printf("verify: FAIL: operations projection digest differs from the projection rebuilt from the log "
               "(rebuilt %s); run 'ledgerctl rebuild --projection operations' on the stopped ledger\n", hex);
        return 1;
    }
    printf("verify: operations projection = projection rebuilt from the log\n");
    return status;
}

static void progress(void *arg, uint64_t seq)
{
    double t0 = *(double *)arg;
    fprintf(stderr, "\rverify: %" PRIu64 " events, %.0f events/s", seq, (double)seq / (tool_now_s() - t0));
}

static void print_ok(struct store *st, struct ledger_state *state, uint64_t rows)
{
    uint8_t digest[LEDGER_HASH_LEN];
    char hex[2 * LEDGER_HASH_LEN + 1];
    struct store_head head = store_head(st);
    ledger_state_digest(state, digest);
    ledger_hex(digest, LEDGER_HASH_LEN, hex);
    printf("verify: %" PRIu64 " accounts, stored balances = replayed balances\n", rows);
    printf("verify: balances digest %s\n", hex);
    ledger_hex(head.hash, LEDGER_HASH_LEN, hex);
    printf("verify: OK, head seq %" PRIu64 " hash %s\n", head.seq, hex);
}

int cmd_verify(int argc, char **argv)
{
    bool bad_flag = false, skip = false;
    enum period_kind kind;
    const char *dir = tool_flag(argc, argv, "--data", &bad_flag);
    for (int i = 0; i < argc; i++)
        skip |= strcmp(argv[i], "--skip-projections") == 0;
    if (!tool_statement_config(argc, argv, &kind, &bad_flag) || dir == NULL || bad_flag) {
        fprintf(stderr, "usage: ledgerctl verify --data DIR [--skip-projections]\n"
                        "                        [--statement-period daily|weekly|monthly] [--statement-tz ZONE]\n");
        return 2;
    }
    char err[512];
    struct store *st = store_open(dir, true, err, sizeof err);
    if (st == NULL) {
        printf("verify: FAIL: cannot open %s: %s\n", dir, err);
        return 1;
    }
    if (!tool_statement_adopt(argc, argv, st, &kind)) {
        store_close(st);
        return 2;
    }
    struct ledger_state *state = ledger_state_new();
    uint64_t bad = 0, rows = 0;
    double t0 = tool_now_s();
    enum ledger_err rc = ledger_replay(st, state, &bad, err, sizeof err, isatty(2) ? progress : NULL, &t0);
    double secs = tool_now_s() - t0;
    uint64_t head_seq = store_head(st).seq;
    int status = 0;
    if (rc != LEDGER_ERR_OK) {
        printf("verify: FAIL at seq %" PRIu64 ": %s\n", bad, err);
        status = 1;
    } else {
        printf("verify: %" PRIu64 " events, hash chain and sequence ok (%.3f s, %.0f events/s)\n", head_seq, secs,
               secs > 0 ? (double)head_seq / secs : 0.0);
        if (check_double_entry(state) != 0)
            status = 1;
        if ((bad = check_rows(st, state, &rows)) != 0) {
            printf("verify: FAIL at seq %" PRIu64 "\n", bad);
            status = 1;
        }
        bool other_bad = false;
        uint64_t others = check_other_rows(st, state, &other_bad);
        if (other_bad)
            status = 1;
        else
            printf("verify: %" PRIu64 " card, authorization, client and holder rows = replayed\n", others);
        status |= check_projection(st, state, kind, skip);
    }
    if (status == 0)
        print_ok(st, state, rows);
    ledger_state_free(state);
    store_close(st);
    return status;
}

/* replay's filters; an absent filter passes everything. */
struct replay_filter {
    bool has_account;
    struct ledger_id account;
    const char *type; /* "transfer.executed" or a category "transfer" */
    int64_t from_ns, to_ns;
};

static bool replay_filter_parse(int argc, char **argv, struct replay_filter *f, bool *bad)
{
    const char *account = tool_flag(argc, argv, "--account", bad);
    const char *from = tool_flag(argc, argv, "--from-time", bad);
    const char *to = tool_flag(argc, argv, "--to-time", bad);
    f->type = tool_flag(argc, argv, "--type", bad);
    f->has_account = account != NULL;
    f->from_ns = 0;
    f->to_ns = INT64_MAX;
    if (account != NULL && !ledger_id_parse(account, strlen(account), &f->account))
        return false;
    if ((from != NULL && !api_time_parse(from, &f->from_ns)) || (to != NULL && !api_time_parse(to, &f->to_ns)))
        return false;
    return true;
}

static bool replay_filter_pass(const struct replay_filter *f, const struct event *ev)
{
    if (ev->ts_ns < f->from_ns || ev->ts_ns >= f->to_ns)
        return false;
    if (f->type != NULL) {
        const char *name = event_type_name(ev->type), *cat = event_type_category(ev->type);
        if ((name == NULL || strcmp(name, f->type) != 0) && (cat == NULL || strcmp(cat, f->type) != 0))
            return false;
    }
    return !f->has_account || event_touches_account(ev, &f->account);
}

int cmd_replay(int argc, char **argv)
{
    bool bad_flag = false;
    const char *dir = tool_flag(argc, argv, "--data", &bad_flag);
    const char *from = tool_flag(argc, argv, "--from", &bad_flag);
    struct replay_filter filter;
    char *end = NULL;
    uint64_t from_seq = from ? strtoull(from, &end, 10) : 1;
    if (!replay_filter_parse(argc, argv, &filter, &bad_flag) || dir == NULL || bad_flag || (from && *end != '\0')) {
        fprintf(stderr, "usage: ledgerctl replay --data DIR [--from SEQ] [--account UUID] [--type NAME]\n"
                        "                        [--from-time RFC3339] [--to-time RFC3339]\n");
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
    char json[LEDGER_EVENT_JSON_MAX];
    int status = 0;
    struct event ev;
    while (store_iter_next(it, &k, &kl, &v, &vl)) {
        if (event_decode(v, vl, &ev) != LEDGER_ERR_OK || event_to_json(&ev, json, sizeof json) == 0) {
            fprintf(stderr, "replay: seq %" PRIu64 " does not decode\n", kl == 8 ? store_be_u64(k) : 0);
            status = 1;
            break;
        }
        if (replay_filter_pass(&filter, &ev))
            printf("%s\n", json);
    }
    store_iter_free(it);
    store_close(st);
    return status;
}
