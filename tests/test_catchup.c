/*
 * test_catchup.c: the catch-up projection (operations, pending holds, statements) over a real log
 * written by the sequencer with a manual business clock, and its rebuild to an identical digest.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands/commands.h"
#include "store/store.h"
#include "tests/harness.h"

/* 2026-11-20T10:00:00Z */
#define T0 1795168800000000000ll
/* 2026-12-01T00:30:00+01:00 = 2026-11-30T23:30:00Z */
#define DEC1 (T0 + (10ll * 24 * 3600 + 13 * 3600 + 30 * 60) * 1000000000ll)

static char tmp[64], data[128];
static struct store *st;
static struct sequencer *seq;
static struct ledger_clock *clk;
static struct ledger_id a, b, card;

static void exec(struct cmd *c)
{
    snprintf(c->actor, sizeof c->actor, "test");
    c->cmd_id = ledger_id_new_v7();
    cr_assert_eq(sequencer_execute(seq, c), LEDGER_ERR_OK);
    cr_assert_eq(c->result, LEDGER_ERR_OK, "%s", ledger_err_name(c->result));
}

static struct ledger_id open_account(const char *holder)
{
    struct cmd c = {.type = CMD_OPEN_ACCOUNT};
    c.u.open.account_id = ledger_id_new_v7();
    c.u.open.kind = ACCOUNT_KIND_CUSTOMER;
    snprintf(c.u.open.holder_id, sizeof c.u.open.holder_id, "%s", holder);
    snprintf(c.u.open.friendly_name, sizeof c.u.open.friendly_name, "main");
    memcpy(c.u.open.currency, "EUR", 4);
    exec(&c);
    return c.u.open.account_id;
}

static void move(const struct ledger_id *from, const struct ledger_id *to, int64_t amount, uint8_t kind,
                 const char *ref)
{
    struct transfer_item t = {.id = ledger_id_new_v7(), .amount_minor = amount, .currency = "EUR", .kind = kind};
    if (from)
        t.debit_account_id = *from;
    t.credit_account_id = *to;
    snprintf(t.reference, sizeof t.reference, "%s", ref);
    struct cmd c = {.type = CMD_TRANSFERS};
    c.u.transfers.items = &t;
    c.u.transfers.count = 1;
    exec(&c);
    cr_assert_eq(t.result, LEDGER_ERR_OK, "%s", ledger_err_name(t.result));
}

static void card_flow(void)
{
    struct cmd c = {.type = CMD_CARD_ISSUE};
    c.u.card_issue.card_id = card = ledger_id_new_v7();
    c.u.card_issue.account_id = a;
    c.u.card_issue.type = CARD_TYPE_VIRTUAL;
    memcpy(c.u.card_issue.last_four, "4242", 5);
    memcpy(c.u.card_issue.expiry, "1129", 5);
    exec(&c);
    struct cmd act = {.type = CMD_CARD_ACTIVATE};
    act.u.card_action.card_id = card;
    exec(&act);
    struct cmd au = {.type = CMD_CARD_AUTHORIZE};
    snprintf(au.u.card_auth.authorization_id, LEDGER_AUTH_ID_MAX, "auth-1");
    au.u.card_auth.card_id = card;
    au.u.card_auth.amount_minor = 1000;
    memcpy(au.u.card_auth.currency, "EUR", 4);
    snprintf(au.u.card_auth.merchant.name, LEDGER_MERCHANT_NAME_MAX, "Cafe de Flore");
    memcpy(au.u.card_auth.merchant.country, "FR", 3);
    au.u.card_auth.merchant.mcc = 5814;
    au.u.card_auth.channel = CHANNEL_POS;
    au.u.card_auth.category = AUTH_FINAL;
    au.u.card_auth.hold_ttl_ns = 7ll * 86400 * 1000000000ll;
    exec(&au);
    cr_assert_str_eq(au.u.card_auth.response_code, "00");
}

static void capture(int64_t amount)
{
    struct cmd c = {.type = CMD_CARD_CAPTURE};
    snprintf(c.u.card_capture.authorization_id, LEDGER_AUTH_ID_MAX, "auth-1");
    c.u.card_capture.operation_id = ledger_id_from_name("cap-1");
    c.u.card_capture.amount_minor = amount;
    c.u.card_capture.final = true;
    exec(&c);
}

/* Projects the whole log into st's catch-up families; returns the digest. */
static void project(uint8_t digest[LEDGER_HASH_LEN])
{
    struct catchup *c = catchup_new(st, PERIOD_MONTHLY);
    struct store_batch *bt = store_batch_new(st);
    struct store_iter *it = store_iter_events(st, catchup_checkpoint(st) + 1);
    const uint8_t *k, *v;
    size_t kl, vl;
    uint64_t last = 0;
    struct event ev;
    while (store_iter_next(it, &k, &kl, &v, &vl)) {
        cr_assert_eq(event_decode(v, vl, &ev), LEDGER_ERR_OK);
        cr_assert_eq(catchup_apply(c, &ev, bt), LEDGER_ERR_OK, "seq %llu", (unsigned long long)ev.seq);
        last = ev.seq;
    }
    store_iter_free(it);
    catchup_flush(c, bt, last);
    store_commit_async(st, bt);
    store_batch_free(bt);
    catchup_free(c);
    catchup_digest(st, digest);
}

static size_t ops_of(const struct ledger_id *acc, struct operation *out, size_t max)
{
    struct store_iter *it = store_iter_prefix(st, STORE_CF_PROJ_OPS, acc->b, 16);
    const uint8_t *k, *v;
    size_t kl, vl, n = 0;
    while (n < max && store_iter_next(it, &k, &kl, &v, &vl))
        cr_assert(operation_row_decode(k, kl, v, vl, &out[n++]));
    store_iter_free(it);
    return n;
}

/* Deposits, a transfer and a card payment in November, a seal on 1 December (Paris), a transfer in
 * December: operations carry their running balance and period; the November statement has the
 * right opening, closing, totals and number; a hold is pending until captured; clearing the
 * families and projecting again gives the same digest. */
Test(catchup, operations_statements_and_rebuild, .timeout = 60)
{
    setenv("TZ", "Europe/Paris", 1);
    tzset();
    harness_tmpdir(tmp, sizeof tmp);
    snprintf(data, sizeof data, "%s/data", tmp);
    char err[256];
    cr_assert((st = store_open(data, false, err, sizeof err)) != NULL, "%s", err);
    cr_assert((seq = sequencer_start(st, NULL, NULL, err, sizeof err)) != NULL, "%s", err);
    clk = ledger_clock_new(BUSINESS_CLOCK_MANUAL, T0);
    sequencer_set_clock(seq, ledger_clock_now, clk);
    a = open_account("alice");
    b = open_account("bob");
    move(NULL, &a, 10000, TRANSFER_KIND_DEPOSIT, "top-up");
    move(&a, &b, 2500, TRANSFER_KIND_TRANSFER, "rent");
    card_flow();

    uint8_t d0[LEDGER_HASH_LEN];
    project(d0);
    struct operation ops[16];
    uint8_t key[24];
    memcpy(key, a.b, 16);
    struct store_iter *pit = store_iter_prefix(st, STORE_CF_PROJ_PENDING, a.b, 16);
    const uint8_t *pk, *pv;
    size_t pkl, pvl;
    cr_assert(store_iter_next(pit, &pk, &pkl, &pv, &pvl), "the hold is pending");
    cr_expect_eq((int64_t)store_be_u64(pv + 16), 1000);
    cr_expect(pvl > 24 && memcmp(pv + 24, "Cafe de Flore", 13) == 0);
    store_iter_free(pit);

    capture(600);
    cr_assert_eq(ledger_clock_set(clk, DEC1), LEDGER_ERR_OK);
    struct cmd seal = {.type = CMD_SEAL_PERIODS};
    seal.u.seal.kind = PERIOD_MONTHLY;
    snprintf(seal.u.seal.time_zone, sizeof seal.u.seal.time_zone, "Europe/Paris");
    exec(&seal);
    cr_assert_eq(seal.u.seal.sealed, 1, "November ended");
    exec(&seal);
    cr_assert_eq(seal.u.seal.sealed, 0, "nothing more to seal");
    move(&a, &b, 100, TRANSFER_KIND_TRANSFER, "december");
    sequencer_stop(seq);

    uint8_t d1[LEDGER_HASH_LEN];
    project(d1);
    size_t n = ops_of(&a, ops, 16);
    cr_assert_eq(n, 4, "deposit, transfer, card payment, December transfer");
    int64_t want[4] = {10000, 7500, 6900, 6800};
    for (size_t i = 0; i < n; i++)
        cr_expect_eq(ops[i].balance_after, want[i], "operation %zu", i);
    cr_expect_eq(ops[1].direction, OP_DEBIT);
    char *row = NULL;
    size_t rlen = 0;
    struct account bob;
    cr_assert_eq(store_get(st, STORE_CF_PROJ_ACCOUNTS, b.b, 16, &row, &rlen), LEDGER_ERR_OK);
    cr_assert(account_row_decode(row, rlen, &bob));
    free(row);
    cr_expect_str_eq(ops[1].counterparty_iban, bob.iban, "the counterparty's IBAN");
    cr_expect(ledger_id_equal(&ops[1].counterparty_account_id, &b));
    cr_expect_eq(ops[2].kind, OP_KIND_CARD_PAYMENT);
    cr_expect_str_eq(ops[2].reference, "Cafe de Flore");
    cr_expect_str_eq(ops[2].period, "2026-11");
    cr_expect_str_eq(ops[3].period, "2026-12");
    pit = store_iter_prefix(st, STORE_CF_PROJ_PENDING, a.b, 16);
    cr_expect_not(store_iter_next(pit, &pk, &pkl, &pv, &pvl), "no hold after the final capture");
    store_iter_free(pit);

    struct store_iter *sit = store_iter_prefix(st, STORE_CF_PROJ_STATEMENTS, a.b, 16);
    const uint8_t *sk, *sv;
    size_t skl, svl;
    struct statement s;
    cr_assert(store_iter_next(sit, &sk, &skl, &sv, &svl) && statement_row_decode(sv, svl, &s));
    store_iter_free(sit);
    cr_expect_str_eq(s.period, "2026-11");
    cr_expect_eq(s.number, 1);
    cr_expect_eq(s.opening, 0);
    cr_expect_eq(s.closing, 6900);
    cr_expect_eq(s.total_credits, 10000);
    cr_expect_eq(s.total_debits, 3100);
    cr_expect_eq(s.entries, 3);
    cr_expect_eq(s.opening + s.total_credits - s.total_debits, s.closing);

    struct statement by_id;
    cr_assert_eq(statement_by_id(st, &s.id, &by_id), LEDGER_ERR_OK, "the statement is found by its id");
    cr_expect_eq(memcmp(&by_id, &s, sizeof s), 0);
    struct ledger_id unknown = ledger_id_new_v7();
    cr_expect_eq(statement_by_id(st, &unknown, &by_id), LEDGER_ERR_NOT_FOUND);

    for (size_t f = 0; f < CATCHUP_CF_COUNT; f++)
        store_cf_clear(st, (enum store_cf)catchup_cfs[f]);
    store_meta_put_u64(st, "catchup_seq", 0);
    uint8_t d2[LEDGER_HASH_LEN];
    project(d2);
    cr_expect_eq(memcmp(d1, d2, LEDGER_HASH_LEN), 0, "a rebuild gives the same digest");
    cr_expect_neq(memcmp(d0, d1, LEDGER_HASH_LEN), 0, "the digest follows the content");
    store_close(st);
    ledger_clock_free(clk);
    harness_rmdir(tmp);
}

/* ---- the operation row (format 2) ------------------------------------------------------------- */

static struct operation sample_op(void)
{
    struct operation op;
    memset(&op, 0, sizeof op);
    op.account_id = ledger_id_new_v7();
    op.seq = 123456789;
    op.leg = 1;
    op.direction = OP_CREDIT;
    op.kind = OP_KIND_CARD_REFUND;
    op.booked_ns = T0;
    op.value_ns = T0 - 86400ll * 1000000000ll; /* a value date before the booking */
    op.amount = INT64_MAX;
    memcpy(op.currency, "EUR", 4);
    op.balance_after = -987654321012ll;
    op.operation_id = ledger_id_new_v7();
    op.counterparty_account_id = ledger_id_new_v7();
    snprintf(op.counterparty_iban, sizeof op.counterparty_iban, "FR7630006000011234567890189");
    memset(op.reference, 'r', LEDGER_REFERENCE_MAX); /* the longest reference */
    op.reference[LEDGER_REFERENCE_MAX] = '\0';
    snprintf(op.period, sizeof op.period, "2026-11");
    return op;
}

Test(catchup, operation_row_round_trip)
{
    struct operation op = sample_op(), out;
    uint8_t key[OPERATION_KEY_BYTES], row[OPERATION_ROW_MAX];
    operation_key(&op.account_id, op.booked_ns, op.seq, op.leg, key);
    size_t len = operation_row_encode(&op, row);
    cr_assert(len <= OPERATION_ROW_MAX);
    cr_assert(operation_row_decode(key, sizeof key, row, len, &out));
    cr_assert(memcmp(&op, &out, sizeof op) == 0, "every field survives the round trip");
    /* a typical transfer leg is small: no IBAN, a short reference */
    op.amount = 2500;
    op.balance_after = 10000;
    op.value_ns = op.booked_ns;
    memset(op.counterparty_iban, 0, sizeof op.counterparty_iban);
    memset(op.reference, 0, sizeof op.reference);
    snprintf(op.reference, sizeof op.reference, "rent");
    len = operation_row_encode(&op, row);
    cr_assert_lt(len, 90, "a short row is %zu bytes", len);
    cr_assert(operation_row_decode(key, sizeof key, row, len, &out));
    cr_assert(memcmp(&op, &out, sizeof op) == 0);
}

Test(catchup, operation_row_rejects_damage)
{
    struct operation op = sample_op(), out;
    uint8_t key[OPERATION_KEY_BYTES], row[OPERATION_ROW_MAX];
    operation_key(&op.account_id, op.booked_ns, op.seq, op.leg, key);
    size_t len = operation_row_encode(&op, row);
    for (size_t cut = 0; cut < len; cut++) /* every truncation */
        cr_assert_not(operation_row_decode(key, sizeof key, row, cut, &out), "cut at %zu", cut);
    uint8_t longer[OPERATION_ROW_MAX + 1];
    memcpy(longer, row, len);
    longer[len] = 0;
    cr_assert_not(operation_row_decode(key, sizeof key, longer, len + 1, &out), "a trailing byte");
    cr_assert_not(operation_row_decode(key, sizeof key - 1, row, len, &out), "a short key");
    uint8_t bad[OPERATION_ROW_MAX];
    memcpy(bad, row, len);
    bad[0] = 1; /* the memcpy format of older builds */
    cr_assert_not(operation_row_decode(key, sizeof key, bad, len, &out));
    memcpy(bad, row, len);
    bad[1] = 3; /* no such direction */
    cr_assert_not(operation_row_decode(key, sizeof key, bad, len, &out));
    memcpy(bad, row, len);
    bad[2] = 9; /* no such kind */
    cr_assert_not(operation_row_decode(key, sizeof key, bad, len, &out));
    key[32] = 2; /* no such leg */
    cr_assert_not(operation_row_decode(key, sizeof key, row, len, &out));
}
