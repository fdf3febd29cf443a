/*
 * rebuild.c: `ledgerctl rebuild --data DIR [--projection balances|operations|all]
 *            [--statement-period daily|weekly|monthly] [--statement-tz ZONE]`
 *
 * Rebuilds projections of a stopped ledger from its log, with the same apply code ledgerd runs:
 *   operations  the catch-up projection (proj_ops, proj_op_accounts, proj_pending, proj_statements
 *               and the checkpoint "catchup_seq"): cleared, then every event through
 *               catchup_apply() in batches of TOOL_REBUILD_BATCH_EVENTS, each committed with its
 *               checkpoint; ledgerd resumes from it as if it had written it itself;
 *   balances    the inline rows (accounts, balances, holders, cards, account cards, authorizations,
 *               card authorizations): cleared, then written from ledger_replay() of the whole log.
 * The store is opened read-write, so RocksDB's lock refuses a ledger that ledgerd has open.
 * Statement periods must be the ones ledgerd runs with (same flags, same defaults). On a terminal,
 * progress (events/s, ETA) goes to stderr; the result lines go to stdout:
 *   rebuild: <name> <events> events in <s> s (<events/s> events/s) digest <hex>
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "projections/projections.h"
#include "store/store.h"
#include "tools/tools.h"

#define TOOL_REBUILD_BATCH_EVENTS 8192
#define TOOL_REBUILD_BATCH_ROWS 8192
#define PROGRESS_INTERVAL_S 0.5

/* ---- progress on a terminal ------------------------------------------------------------------- */

void tool_progress_init(struct tool_progress *p, const char *name, uint64_t total)
{
    p->name = name;
    p->total = total;
    p->t0 = tool_now_s();
    p->last = p->t0;
    p->tty = isatty(2);
}

void tool_progress_show(struct tool_progress *p, uint64_t done, bool final)
{
    double now = tool_now_s();
    if (!p->tty || (!final && now - p->last < PROGRESS_INTERVAL_S))
        return;
    p->last = now;
    double rate = now > p->t0 ? (double)done / (now - p->t0) : 0;
    double eta = rate > 0 && p->total > done ? (double)(p->total - done) / rate : 0;
    fprintf(stderr, "\r%s: %" PRIu64 "/%" PRIu64 " events, %.0f events/s, ETA %.0f s   %s", p->name, done, p->total,
            rate, eta, final ? "\n" : "");
}

static void replay_progress(void *arg, uint64_t seq)
{
    tool_progress_show(arg, seq, false);
}

bool tool_statement_config(int argc, char **argv, enum period_kind *kind, bool *bad)
{
    const char *period = tool_flag(argc, argv, "--statement-period", bad);
    const char *zone = tool_flag(argc, argv, "--statement-tz", bad);
    *kind = PERIOD_MONTHLY;
    if (period != NULL && !period_kind_parse(period, kind)) {
        fprintf(stderr, "ledgerctl: --statement-period wants daily, weekly or monthly, got '%s'\n", period);
        return false;
    }
    setenv("TZ", zone != NULL ? zone : "Europe/Paris", 1); /* the same default as ledgerd */
    tzset();
    return true;
}

/* After the store is open: the ledger's own statement configuration wins. Flags that contradict it
 * are an error; without flags the stored values are adopted (TZ set before any local time is used). */
bool tool_statement_adopt(int argc, char **argv, struct store *st, enum period_kind *kind)
{
    bool bad = false;
    bool given = tool_flag(argc, argv, "--statement-period", &bad) != NULL ||
                 tool_flag(argc, argv, "--statement-tz", &bad) != NULL;
    enum period_kind stored;
    char zone[LEDGER_TIME_ZONE_MAX + 1], err[512];
    if (!statement_config_load(st, &stored, zone, sizeof zone))
        return true; /* a ledger from before the setting was kept: the flags (or defaults) stand */
    const char *current = getenv("TZ");
    if (given && !statement_config_check(st, false, *kind, current ? current : "", err, sizeof err)) {
        fprintf(stderr, "ledgerctl: %s\n", err);
        return false;
    }
    *kind = stored;
    setenv("TZ", zone, 1);
    tzset();
    return true;
}

/* ---- the catch-up projection ------------------------------------------------------------------ */

int tool_catchup_build(struct store *src, struct store *dst, const char *dst_dir, enum period_kind kind,
                       uint64_t upto, struct tool_progress *pr, uint64_t *events)
{
    struct catchup *c = catchup_new(dst, kind);
    struct store_batch *b = store_batch_new(dst);
    /* Operation rows (two per transfer: nearly all the volume) are bulk loaded; the other rows go
     * through batches. The checkpoint is written last, after every row is in: a rebuild cut short
     * leaves no checkpoint and ledgerd starts the projection again (catchup_format_current). */
    struct store_bulk *ops = store_bulk_new(dst, STORE_CF_PROJ_OPS, dst_dir, 0);
    store_batch_divert(b, STORE_CF_PROJ_OPS, store_bulk_put, ops);
    struct event_feed *feed = event_feed_start(src, 1, upto);
    const struct event *ev;
    uint64_t n = 0, last = 0;
    int status = 0;
    while ((ev = event_feed_next(feed)) != NULL) {
        if (ev->seq != last + 1 || catchup_apply(c, ev, b) != LEDGER_ERR_OK) {
            fprintf(stderr, "%s: event seq %" PRIu64 " does not apply (run ledgerctl verify)\n", pr->name, last + 1);
            status = 1;
            break;
        }
        last = ev->seq;
        if (++n % TOOL_REBUILD_BATCH_EVENTS == 0) {
            store_commit_async(dst, b);
            store_batch_clear(b);
            tool_progress_show(pr, n, false);
        }
    }
    uint64_t bad_seq = 0;
    enum ledger_err end = event_feed_end(feed, &bad_seq);
    if (status == 0 && end != LEDGER_ERR_OK) {
        if (end == LEDGER_ERR_DECODE)
            fprintf(stderr, "%s: event seq %" PRIu64 " does not decode (run ledgerctl verify)\n", pr->name, bad_seq);
        else
            fprintf(stderr, "%s: cannot read the log\n", pr->name);
        status = 1;
    }
    event_feed_stop(feed);
    char err[512];
    if (!store_bulk_finish(ops, err, sizeof err)) {
        fprintf(stderr, "%s: cannot load the operation rows: %s\n", pr->name, err);
        status = 1;
    }
    store_bulk_free(ops);
    store_batch_divert(b, STORE_CF_PROJ_OPS, NULL, NULL);
    if (status == 0)
        catchup_flush(c, b, last);
    store_commit_async(dst, b); /* made durable by the caller (store_flush, or a store it throws away) */
    store_batch_free(b);
    catchup_free(c);
    tool_progress_show(pr, n, true);
    *events = n;
    return status;
}

static void print_result(const char *name, uint64_t events, double secs, const uint8_t digest[LEDGER_HASH_LEN])
{
    char hex[2 * LEDGER_HASH_LEN + 1];
    ledger_hex(digest, LEDGER_HASH_LEN, hex);
    printf("rebuild: %s %" PRIu64 " events in %.3f s (%.0f events/s) digest %s\n", name, events, secs,
           secs > 0 ? (double)events / secs : 0.0, hex);
}

static int rebuild_operations(struct store *st, const char *dir, enum period_kind kind)
{
    catchup_clear(st);
    struct tool_progress pr;
    tool_progress_init(&pr, "rebuild operations", store_head(st).seq);
    uint64_t events = 0;
    int status = tool_catchup_build(st, st, dir, kind, UINT64_MAX, &pr, &events);
    store_flush(st); /* the bulk writes skipped the WAL: the time counts until they are durable */
    double secs = tool_now_s() - pr.t0;
    double t_digest = tool_now_s();
    uint8_t digest[LEDGER_HASH_LEN];
    catchup_digest(st, digest);
    fprintf(stderr, "rebuild: operations digest computed in %.3f s\n", tool_now_s() - t_digest);
    print_result("operations", events, secs, digest);
    return status;
}

/* ---- the inline rows -------------------------------------------------------------------------- */

static const enum store_cf inline_cfs[] = {STORE_CF_PROJ_ACCOUNTS, STORE_CF_PROJ_BALANCES,
                                           STORE_CF_PROJ_HOLDERS,  STORE_CF_PROJ_CARDS,
                                           STORE_CF_PROJ_ACCOUNT_CARDS, STORE_CF_PROJ_AUTHS,
                                           STORE_CF_PROJ_CARD_AUTHS, STORE_CF_PROJ_CLIENTS,
                                           STORE_CF_PROJ_THIRD_PARTIES, STORE_CF_PROJ_KYC};

/* Commits b asynchronously once it holds TOOL_REBUILD_BATCH_ROWS puts. */
static void rows_maybe_commit(struct store *st, struct store_batch *b)
{
    if (store_batch_count(b) < TOOL_REBUILD_BATCH_ROWS)
        return;
    store_commit_async(st, b);
    store_batch_clear(b);
}

static void put_account_rows(struct store *st, struct store_batch *b, struct ledger_state *state)
{
    size_t n = 0;
    const uint8_t *bits = NULL;
    (void)ledger_state_take_dirty(state, &bits, &n); /* clears the dirty marks the rows would carry */
    for (uint64_t i = 0; i < ledger_state_account_count(state); i++) {
        const struct account *a = ledger_state_account_at(state, i);
        uint8_t row[ACCOUNT_ROW_BYTES], key[LEDGER_HOLDER_ID_MAX + 17];
        account_row_encode(a, row);
        store_batch_put(b, STORE_CF_PROJ_ACCOUNTS, a->id.b, 16, row, ACCOUNT_ROW_BYTES);
        balance_row_encode(a, row);
        store_batch_put(b, STORE_CF_PROJ_BALANCES, a->id.b, 16, row, BALANCE_ROW_BYTES);
        size_t klen = holder_key(a->holder_id, &a->id, key, sizeof key);
        store_batch_put(b, STORE_CF_PROJ_HOLDERS, key, klen, "", 0);
        rows_maybe_commit(st, b);
    }
}

/* Cards and authorizations, keyed as commands/sequencer.c writes them. After a replay, every card
 * and authorization is on the dirty lists exactly once. */
static void put_card_rows(struct store *st, struct store_batch *b, struct ledger_state *state)
{
    static uint8_t row[CARD_ROW_BYTES > AUTH_ROW_BYTES ? CARD_ROW_BYTES : AUTH_ROW_BYTES];
    uint8_t key[32];
    size_t n = 0;
    struct card **cards = ledger_state_take_dirty_cards(state, &n);
    for (size_t i = 0; i < n; i++) {
        size_t len = card_row_encode(cards[i], row);
        store_batch_put(b, STORE_CF_PROJ_CARDS, cards[i]->id.b, 16, row, len);
        memcpy(key, cards[i]->account_id.b, 16);
        memcpy(key + 16, cards[i]->id.b, 16);
        store_batch_put(b, STORE_CF_PROJ_ACCOUNT_CARDS, key, 32, "", 0);
        rows_maybe_commit(st, b);
    }
    struct authorization **auths = ledger_state_take_dirty_auths(state, &n);
    for (size_t i = 0; i < n; i++) {
        size_t len = auth_row_encode(auths[i], row);
        store_batch_put(b, STORE_CF_PROJ_AUTHS, auths[i]->hold_id.b, 16, row, len);
        memcpy(key, auths[i]->card_id.b, 16);
        store_u64_be(auths[i]->first_seq, key + 16);
        store_batch_put(b, STORE_CF_PROJ_CARD_AUTHS, key, 24, auths[i]->hold_id.b, 16);
        rows_maybe_commit(st, b);
    }
}

static int rebuild_balances(struct store *st)
{
    struct tool_progress pr;
    tool_progress_init(&pr, "rebuild balances", store_head(st).seq);
    struct ledger_state *state = ledger_state_new();
    uint64_t bad = 0;
    char err[512];
    enum ledger_err rc = ledger_replay(st, state, &bad, err, sizeof err, pr.tty ? replay_progress : NULL, &pr);
    if (rc != LEDGER_ERR_OK) {
        fprintf(stderr, "rebuild: balances: the log does not replay at seq %" PRIu64 ": %s (nothing changed)\n", bad,
                err);
        ledger_state_free(state);
        return 1;
    }
    tool_progress_show(&pr, store_head(st).seq, true);
    for (size_t i = 0; i < sizeof inline_cfs / sizeof inline_cfs[0]; i++)
        store_cf_clear(st, inline_cfs[i]);
    struct store_batch *b = store_batch_new(st);
    put_account_rows(st, b, state);
    put_card_rows(st, b, state);
    access_batch_put_rows(state, b); /* clients and third-party grants: every one is new after replay */
    size_t nh = 0;
    const struct holder_identification *h = ledger_state_take_holder_changes(state, &nh);
    for (size_t i = 0; i < nh; i++) { /* in log order: a holder's last change is put last and wins */
        uint8_t row[HOLDER_ROW_BYTES];
        holder_row_encode(&h[i], row);
        store_batch_put(b, STORE_CF_PROJ_KYC, h[i].holder_id, strlen(h[i].holder_id), row, sizeof row);
    }
    store_commit(st, b); /* sync */
    store_batch_free(b);
    double secs = tool_now_s() - pr.t0;
    uint8_t digest[LEDGER_HASH_LEN];
    ledger_state_digest(state, digest);
    print_result("balances", store_head(st).seq, secs, digest);
    ledger_state_free(state);
    return 0;
}

/* ---- the command ------------------------------------------------------------------------------ */

static struct store *open_for_rebuild(const char *dir)
{
    char path[4096], err[512];
    snprintf(path, sizeof path, "%s/CURRENT", dir);
    if (access(path, F_OK) != 0) {
        fprintf(stderr, "ledgerctl rebuild: %s holds no ledger\n", dir);
        return NULL;
    }
    struct store *st = store_open_bulk(dir, err, sizeof err);
    if (st != NULL)
        return st;
    if (strstr(err, "lock") != NULL || strstr(err, "LOCK") != NULL)
        fprintf(stderr, "ledgerctl rebuild: the ledger at %s is in use (is ledgerd running?); stop it first\n", dir);
    else
        fprintf(stderr, "ledgerctl rebuild: cannot open %s: %s\n", dir, err);
    return NULL;
}

int cmd_rebuild(int argc, char **argv)
{
    bool bad = false;
    enum period_kind kind;
    const char *dir = tool_flag(argc, argv, "--data", &bad);
    const char *which = tool_flag(argc, argv, "--projection", &bad);
    bool ok_kind = tool_statement_config(argc, argv, &kind, &bad);
    if (which == NULL)
        which = "all";
    bool ops = strcmp(which, "operations") == 0 || strcmp(which, "all") == 0;
    bool bal = strcmp(which, "balances") == 0 || strcmp(which, "all") == 0;
    if (dir == NULL || bad || !ok_kind || (!ops && !bal)) {
        fprintf(stderr, "usage: ledgerctl rebuild --data DIR [--projection balances|operations|all]\n"
                        "                         [--statement-period daily|weekly|monthly] [--statement-tz ZONE]\n");
        return 2;
    }
    struct store *st = open_for_rebuild(dir);
    if (st == NULL)
        return 1;
    if (!tool_statement_adopt(argc, argv, st, &kind)) {
        store_close(st);
        return 2;
    }
    int status = 0;
    if (bal)
        status |= rebuild_balances(st);
    if (ops && status == 0)
        status |= rebuild_operations(st, dir, kind);
    store_flush(st); /* the bulk writes skipped the WAL: durable from here */
    store_close(st);
    return status;
}
