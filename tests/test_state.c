/*
 * test_state.c: the inline projection (projections/state.c) against hand-built events, no RocksDB.
 *
 * Accounts are numbered: acct(n) is a deterministic id, "holder-<n / 10>" its holder. Rejections
 * are a data table driven by one parameterized test; every rejection must also leave the state
 * exactly as it was (digest, count, last_seq).
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events/events.h"
#include "projections/projections.h"

#define GROWTH_ACCOUNTS 5000
#define GROWTH_TRANSFERS 200000
#define ROLLBACK_TRANSFERS 300

static struct ledger_id acct(uint32_t n)
{
    struct ledger_id id = {{0}};
    id.b[0] = 0xac;
    for (int i = 0; i < 4; i++)
        id.b[12 + i] = (uint8_t)(n >> (24 - 8 * i));
    return id;
}

static struct ledger_id xfer(uint32_t n)
{
    struct ledger_id id = acct(n);
    id.b[0] = 0x7f;
    return id;
}

static void base_event(struct event *ev, uint64_t seq, uint16_t type)
{
    memset(ev, 0, sizeof *ev);
    ev->seq = seq;
    ev->ts_ns = 1700000000000000000ll + (int64_t)seq;
    ev->type = type;
    ev->v = 1;
}

static void ev_open(struct event *ev, uint64_t seq, uint32_t n, uint8_t kind, const char *currency,
                    const char *name, int64_t overdraft)
{
    base_event(ev, seq, EVENT_ACCOUNT_OPENED);
    struct ev_account_opened *d = &ev->data.opened;
    d->account_id = acct(n);
    ev->stream = d->account_id;
    d->kind = kind;
    snprintf(d->holder_id, sizeof d->holder_id, "holder-%u", n / 10);
    memcpy(d->currency, currency, 4);
    snprintf(d->friendly_name, sizeof d->friendly_name, "%s", name);
    snprintf(d->iban, sizeof d->iban, "FR76300060000112345678901%02u", n % 100);
    d->overdraft_limit_minor = overdraft;
}

static void ev_block(struct event *ev, uint64_t seq, uint16_t type, uint32_t n, uint8_t reason)
{
    base_event(ev, seq, type);
    if (type == EVENT_ACCOUNT_CLOSED) {
        ev->data.closed.account_id = acct(n);
    } else {
        ev->data.blocked.account_id = acct(n);
        ev->data.blocked.reason = reason;
    }
}

static void ev_transfer(struct event *ev, uint64_t seq, uint32_t t, uint32_t dr, uint32_t cr, int64_t amount,
                        const char *currency)
{
    base_event(ev, seq, EVENT_TRANSFER_EXECUTED);
    struct ev_transfer_executed *d = &ev->data.transfer;
    d->transfer_id = xfer(t);
    d->debit_account_id = acct(dr);
    d->credit_account_id = acct(cr);
    d->amount_minor = amount;
    memcpy(d->currency, currency, 4);
    d->kind = TRANSFER_KIND_TRANSFER;
    snprintf(d->reference, sizeof d->reference, "ref %u", t);
}

static void apply_ok(struct ledger_state *st, const struct event *ev)
{
    cr_assert_eq(ledger_state_apply(st, ev), LEDGER_ERR_OK, "seq %llu type %u rejected",
                 (unsigned long long)ev->seq, ev->type);
}

static void open_ok(struct ledger_state *st, uint64_t seq, uint32_t n, uint8_t kind, const char *currency,
                    const char *name, int64_t overdraft)
{
    struct event ev;
    ev_open(&ev, seq, n, kind, currency, name, overdraft);
    apply_ok(st, &ev);
}

static void transfer_ok(struct ledger_state *st, uint64_t seq, uint32_t t, uint32_t dr, uint32_t cr, int64_t amount)
{
    struct event ev;
    ev_transfer(&ev, seq, t, dr, cr, amount, "EUR");
    apply_ok(st, &ev);
}

static struct account *get(struct ledger_state *st, uint32_t n)
{
    struct ledger_id id = acct(n);
    struct account *a = ledger_state_account(st, &id);
    cr_assert_not_null(a, "account %u missing", n);
    return a;
}

static struct balance balance_of(const struct account *a)
{
    struct balance b;
    cr_assert(account_balance(a, &b));
    return b;
}

/* ---- apply ------------------------------------------------------------------------------------ */

Test(state, opened_fills_the_account)
{
    /* Proves account.opened creates an active account with every identity field, zero counters,
     * version 1, opened seq/ts, and makes it findable by id, by holder+name and by position. */
    struct ledger_state *st = ledger_state_new();
    struct event ev;
    ev_open(&ev, 7, 12, ACCOUNT_KIND_CUSTOMER, "EUR", "main", 5000);
    apply_ok(st, &ev);
    struct account *a = get(st, 12);
    cr_assert(ledger_id_equal(&a->id, &ev.data.opened.account_id));
    cr_assert_eq(a->kind, ACCOUNT_KIND_CUSTOMER);
    cr_assert_eq(a->state, ACCOUNT_STATE_ACTIVE);
    cr_assert_eq(a->blocks, 0);
    cr_assert_str_eq(a->currency, "EUR");
    cr_assert_str_eq(a->holder_id, "holder-1");
    cr_assert_str_eq(a->friendly_name, "main");
    cr_assert_str_eq(a->iban, ev.data.opened.iban);
    cr_assert_eq(a->overdraft_limit_minor, 5000);
    cr_assert_eq(a->debits_posted, 0);
    cr_assert_eq(a->credits_posted, 0);
    cr_assert_eq(a->debits_pending, 0);
    cr_assert_eq(a->credits_pending, 0);
    cr_assert_eq(a->version, 1);
    cr_assert_eq(a->opened_seq, 7);
    cr_assert_eq(a->opened_ts_ns, ev.ts_ns);
    cr_assert_eq(a->last_seq, 7);
    cr_assert_str_eq(account_state_name(a), "active");
    cr_assert_not(account_is_blocked(a));
    cr_assert_eq(ledger_state_account_count(st), 1);
    cr_assert_eq(ledger_state_account_at(st, 0), a);
    cr_assert_eq(ledger_state_account_by_name(st, "holder-1", "main"), a);
    cr_assert_null(ledger_state_account_by_name(st, "holder-1", "other"));
    cr_assert_null(ledger_state_account_by_name(st, "holder-2", "main"));
    struct ledger_id missing = acct(13);
    cr_assert_null(ledger_state_account(st, &missing));
    struct balance b = balance_of(a);
    cr_assert_eq(b.posted, 0);
    cr_assert_eq(b.pending, 0);
    cr_assert_eq(b.available, 5000, "customer: available includes the overdraft");
    ledger_state_free(st);
}

Test(state, block_unblock_close)
{
    /* Proves blocked/unblocked set and clear one reason bit each (several may be held), bump the
     * version and last_seq, and closed makes the account closed. */
    struct ledger_state *st = ledger_state_new();
    struct event ev;
    open_ok(st, 1, 1, ACCOUNT_KIND_CUSTOMER, "EUR", "main", 0);
    ev_block(&ev, 2, EVENT_ACCOUNT_BLOCKED, 1, BLOCK_USER);
    apply_ok(st, &ev);
    struct account *a = get(st, 1);
    cr_assert_eq(a->blocks, BLOCK_USER);
    cr_assert(account_is_blocked(a));
    cr_assert_str_eq(account_state_name(a), "blocked");
    cr_assert_eq(a->version, 2);
    cr_assert_eq(a->last_seq, 2);
    ev_block(&ev, 3, EVENT_ACCOUNT_BLOCKED, 1, BLOCK_COMPLIANCE);
    apply_ok(st, &ev);
    cr_assert_eq(a->blocks, BLOCK_USER | BLOCK_COMPLIANCE);
    ev_block(&ev, 4, EVENT_ACCOUNT_UNBLOCKED, 1, BLOCK_USER);
    apply_ok(st, &ev);
    cr_assert_eq(a->blocks, BLOCK_COMPLIANCE);
    cr_assert(account_is_blocked(a));
    ev_block(&ev, 5, EVENT_ACCOUNT_UNBLOCKED, 1, BLOCK_COMPLIANCE);
    apply_ok(st, &ev);
    cr_assert_eq(a->blocks, 0);
    cr_assert_str_eq(account_state_name(a), "active");
    cr_assert_eq(a->version, 5);
    ev_block(&ev, 6, EVENT_ACCOUNT_CLOSED, 1, 0);
    apply_ok(st, &ev);
    cr_assert_eq(a->state, ACCOUNT_STATE_CLOSED);
    cr_assert_str_eq(account_state_name(a), "closed");
    cr_assert_not(account_is_blocked(a));
    cr_assert_eq(a->version, 6);
    cr_assert_eq(a->last_seq, 6);
    ledger_state_free(st);
}

Test(state, transfer_moves_balances)
{
    /* Proves transfer.executed adds the amount to debits_posted of the debit side and
     * credits_posted of the credit side, indexes the transfer id with its seq and content digest,
     * and the balances follow: posted = credits - debits, available adds the overdraft of customer
     * accounts only. */
    struct ledger_state *st = ledger_state_new();
    open_ok(st, 1, 1, ACCOUNT_KIND_CUSTOMER, "EUR", "main", 10000);
    open_ok(st, 2, 2, ACCOUNT_KIND_INTERNAL, "EUR", "bank", 7777);
    open_ok(st, 3, 3, ACCOUNT_KIND_CUSTOMER, "EUR", "other", 0);
    struct event ev;
    ev_transfer(&ev, 4, 1, 2, 1, 2500, "EUR");
    ev.data.transfer.kind = TRANSFER_KIND_DEPOSIT;
    apply_ok(st, &ev);
    transfer_ok(st, 5, 2, 1, 3, 4000);
    transfer_ok(st, 6, 3, 1, 3, 500);

    struct account *c = get(st, 1), *bank = get(st, 2), *o = get(st, 3);
    cr_assert_eq(c->debits_posted, 4500);
    cr_assert_eq(c->credits_posted, 2500);
    cr_assert_eq(bank->debits_posted, 2500);
    cr_assert_eq(bank->credits_posted, 0);
    cr_assert_eq(o->credits_posted, 4500);
    cr_assert_eq(c->last_seq, 6);
    cr_assert_eq(bank->last_seq, 4);
    cr_assert_eq(c->version, 1, "transfers are not in the account's stream");

    struct balance b = balance_of(c);
    cr_assert_eq(b.posted, -2000);
    cr_assert_eq(b.pending, 0);
    cr_assert_eq(b.available, 8000);
    b = balance_of(bank);
    cr_assert_eq(b.posted, -2500);
    cr_assert_eq(b.available, -2500, "internal accounts have no overdraft");
    b = balance_of(o);
    cr_assert_eq(b.posted, 4500);
    cr_assert_eq(b.available, 4500);

    uint64_t seq = 0, content = 0;
    cr_assert(ledger_state_transfer(st, &ev.data.transfer.transfer_id, &seq, &content));
    cr_assert_eq(seq, 4);
    cr_assert_eq(content, transfer_content_digest(&ev.data.transfer));
    struct ledger_id t2 = xfer(2), t9 = xfer(9);
    cr_assert(ledger_state_transfer(st, &t2, &seq, &content));
    cr_assert_eq(seq, 5);
    cr_assert_not(ledger_state_transfer(st, &t9, &seq, &content));
    ledger_state_free(st);
}

Test(state, balance_arithmetic)
{
    /* Proves account_balance on hand-set counters: pending = credits_pending - debits_pending,
     * available = posted - debits_pending (+ overdraft for customers), clamped to int64; false only when
     * posted or pending themselves do not fit. */
    struct account a;
    memset(&a, 0, sizeof a);
    a.kind = ACCOUNT_KIND_CUSTOMER;
    a.credits_posted = 1000;
    a.debits_posted = 300;
    a.debits_pending = 200;
    a.credits_pending = 50;
    a.overdraft_limit_minor = 100;
    struct balance b = balance_of(&a);
    cr_assert_eq(b.posted, 700);
    cr_assert_eq(b.pending, -150);
    cr_assert_eq(b.available, 600);
    a.kind = ACCOUNT_KIND_INTERNAL;
    b = balance_of(&a);
    cr_assert_eq(b.available, 500);

    a.kind = ACCOUNT_KIND_CUSTOMER;
    a.credits_posted = INT64_MAX;
    a.debits_posted = 0;
    a.debits_pending = 0;
    a.overdraft_limit_minor = 0;
    b = balance_of(&a);
    cr_assert_eq(b.available, INT64_MAX);
    a.overdraft_limit_minor = 1;
    cr_assert(account_balance(&a, &b), "available is clamped, not an error");
    cr_assert_eq(b.available, INT64_MAX, "posted + overdraft clamps at INT64_MAX");
    a.overdraft_limit_minor = INT64_MAX;
    cr_assert(account_balance(&a, &b));
    cr_assert_eq(b.available, INT64_MAX, "a huge overdraft limit does not make balances unreadable");
    a.overdraft_limit_minor = 0;
    a.credits_posted = 0;
    a.debits_posted = INT64_MAX;
    a.debits_pending = 2;
    cr_assert(account_balance(&a, &b));
    cr_assert_eq(b.available, INT64_MIN, "posted - debits_pending clamps at INT64_MIN");
    a.credits_posted = INT64_MIN + 1; /* impossible in a real log: counters only grow from 0 */
    a.debits_posted = 2;
    cr_assert_not(account_balance(&a, &b), "posted itself does not fit int64");
}

/* ---- rejections (a data table) ------------------------------------------------------------------ */

enum rej_kind { R_OPEN, R_BLOCK, R_UNBLOCK, R_CLOSE, R_TRANSFER, R_TYPE };

struct reject_case {
    char name[48];
    enum rej_kind kind;
    uint32_t a, b, t;   /* account numbers, transfer number */
    int64_t amount;
    char currency[4];
    char fname[16];     /* friendly name for R_OPEN */
    uint8_t reason;
};

/*
 * The base state: 1 and 2 customers EUR (holder-0 "main"/"savings"), 3 internal USD, 4 closed EUR,
 * 5 blocked USER EUR, 6 and 7 internal EUR with 6 debited INT64_MAX towards 7; transfer 1 done.
 */
static struct ledger_state *reject_base(void)
{
    struct ledger_state *st = ledger_state_new();
    struct event ev;
    open_ok(st, 1, 1, ACCOUNT_KIND_CUSTOMER, "EUR", "main", 0);
    open_ok(st, 2, 2, ACCOUNT_KIND_CUSTOMER, "EUR", "savings", 0);
    open_ok(st, 3, 3, ACCOUNT_KIND_INTERNAL, "USD", "usd", 0);
    open_ok(st, 4, 4, ACCOUNT_KIND_CUSTOMER, "EUR", "closed", 0);
    open_ok(st, 5, 5, ACCOUNT_KIND_CUSTOMER, "EUR", "blocked", 0);
    open_ok(st, 6, 6, ACCOUNT_KIND_INTERNAL, "EUR", "six", 0);
    open_ok(st, 7, 7, ACCOUNT_KIND_INTERNAL, "EUR", "seven", 0);
    ev_block(&ev, 8, EVENT_ACCOUNT_CLOSED, 4, 0);
    apply_ok(st, &ev);
    ev_block(&ev, 9, EVENT_ACCOUNT_BLOCKED, 5, BLOCK_USER);
    apply_ok(st, &ev);
    transfer_ok(st, 10, 1, 1, 2, 100);
    transfer_ok(st, 11, 2, 6, 7, INT64_MAX);
    ledger_state_commit_undo(st);
    return st;
}

static void reject_event(const struct reject_case *c, struct event *ev)
{
    switch (c->kind) {
    case R_OPEN: ev_open(ev, 12, c->a, ACCOUNT_KIND_CUSTOMER, "EUR", c->fname, 0); break;
    case R_BLOCK: ev_block(ev, 12, EVENT_ACCOUNT_BLOCKED, c->a, c->reason); break;
    case R_UNBLOCK: ev_block(ev, 12, EVENT_ACCOUNT_UNBLOCKED, c->a, c->reason); break;
    case R_CLOSE: ev_block(ev, 12, EVENT_ACCOUNT_CLOSED, c->a, 0); break;
    case R_TRANSFER: ev_transfer(ev, 12, c->t, c->a, c->b, c->amount, c->currency); break;
    case R_TYPE: ev_block(ev, 12, 99, c->a, 0); break;
    }
}

static void run_reject(const struct reject_case *c)
{
    struct ledger_state *st = reject_base();
    uint8_t before[LEDGER_HASH_LEN], after[LEDGER_HASH_LEN];
    ledger_state_digest(st, before);
    uint64_t count = ledger_state_account_count(st);
    uint64_t last_seq[8], version[8];
    uint8_t blocks[8], state[8];
    for (uint32_t n = 1; n <= 7; n++) {
        struct account *a = get(st, n);
        last_seq[n] = a->last_seq, version[n] = a->version, blocks[n] = a->blocks, state[n] = a->state;
    }
    struct event ev;
    reject_event(c, &ev);
    enum ledger_err rc = ledger_state_apply(st, &ev);
    cr_expect_eq(rc, LEDGER_ERR_DECODE, "%s: accepted", c->name);
    if (rc != LEDGER_ERR_DECODE) {
        ledger_state_free(st); /* no leak report on top of the failure */
        return;
    }
    ledger_state_digest(st, after);
    cr_assert_arr_eq(after, before, LEDGER_HASH_LEN, "%s: balances changed", c->name);
    cr_assert_eq(ledger_state_account_count(st), count, "%s: account count changed", c->name);
    for (uint32_t n = 1; n <= 7; n++) {
        struct account *a = get(st, n);
        cr_assert_eq(a->last_seq, last_seq[n], "%s: last_seq of %u", c->name, n);
        cr_assert_eq(a->version, version[n], "%s: version of %u", c->name, n);
        cr_assert_eq(a->blocks, blocks[n], "%s: blocks of %u", c->name, n);
        cr_assert_eq(a->state, state[n], "%s: state of %u", c->name, n);
    }
    uint64_t seq, content;
    struct ledger_id t = xfer(c->t);
    if (c->kind == R_TRANSFER && c->t >= 100)
        cr_assert_not(ledger_state_transfer(st, &t, &seq, &content), "%s: transfer indexed", c->name);
    ledger_state_free(st);
}

ParameterizedTestParameters(state, apply_rejects_contradictions)
{
    static struct reject_case cases[] = {
        {"duplicate account id", R_OPEN, 1, 0, 0, 0, "", "fresh", 0},
        {"duplicate holder + friendly name", R_OPEN, 8, 0, 0, 0, "", "main", 0},
        {"transfer to an unknown account", R_TRANSFER, 1, 99, 100, 10, "EUR", "", 0},
        {"transfer from an unknown account", R_TRANSFER, 99, 1, 101, 10, "EUR", "", 0},
        {"same account both sides", R_TRANSFER, 1, 1, 102, 10, "EUR", "", 0},
        {"currency differs from credit side", R_TRANSFER, 1, 3, 103, 10, "EUR", "", 0},
        {"currency differs from debit side", R_TRANSFER, 3, 1, 104, 10, "USD", "", 0},
        {"currency differs from both sides", R_TRANSFER, 1, 2, 105, 10, "USD", "", 0},
        {"duplicate transfer id", R_TRANSFER, 2, 1, 1, 10, "EUR", "", 0},
        {"duplicate transfer id, same content", R_TRANSFER, 1, 2, 1, 100, "EUR", "", 0},
        {"overflow of debits_posted", R_TRANSFER, 6, 1, 106, 1, "EUR", "", 0},
        {"overflow of credits_posted", R_TRANSFER, 1, 7, 107, 1, "EUR", "", 0},
        {"amount zero", R_TRANSFER, 1, 2, 108, 0, "EUR", "", 0},
        {"amount negative", R_TRANSFER, 1, 2, 109, -5, "EUR", "", 0},
        {"block with the reason already set", R_BLOCK, 5, 0, 0, 0, "", "", BLOCK_USER},
        {"unblock of a reason not set", R_UNBLOCK, 5, 0, 0, 0, "", "", BLOCK_SYSTEM},
        {"unblock of an unblocked account", R_UNBLOCK, 1, 0, 0, 0, "", "", BLOCK_USER},
        {"block of an unknown account", R_BLOCK, 99, 0, 0, 0, "", "", BLOCK_USER},
        {"close of an unknown account", R_CLOSE, 99, 0, 0, 0, "", "", 0},
        {"block of a closed account", R_BLOCK, 4, 0, 0, 0, "", "", BLOCK_USER},
        {"unblock of a closed account", R_UNBLOCK, 4, 0, 0, 0, "", "", BLOCK_USER},
        {"close of a closed account", R_CLOSE, 4, 0, 0, 0, "", "", 0},
        {"reopen of a closed account id", R_OPEN, 4, 0, 0, 0, "", "again", 0},
        {"unknown event type", R_TYPE, 1, 0, 0, 0, "", "", 0},
    };
    return cr_make_param_array(struct reject_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct reject_case *c, state, apply_rejects_contradictions)
{
    /* Proves each contradiction in the table is LEDGER_ERR_DECODE and leaves the state unchanged
     * (digest, account count, every account's last_seq, version, blocks, state). */
    run_reject(c);
}

ParameterizedTestParameters(state, apply_rejects_transfer_on_closed_account)
{
    static struct reject_case cases[] = {
        {"transfer to a closed account", R_TRANSFER, 1, 4, 110, 10, "EUR", "", 0},
        {"transfer from a closed account", R_TRANSFER, 4, 1, 111, 10, "EUR", "", 0},
    };
    return cr_make_param_array(struct reject_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct reject_case *c, state, apply_rejects_transfer_on_closed_account)
{
    /* Proves a transfer.executed with a closed account on either side is a contradiction (decide()
     * rejects it with ACCOUNT_CLOSED, so such an event in the log means the log is inconsistent):
     * LEDGER_ERR_DECODE, state unchanged. */
    run_reject(c);
}

/* ---- rollback ------------------------------------------------------------------------------------ */

struct snapshot {
    int64_t debits[10], credits[10];
    uint64_t last_seq[10];
    uint8_t digest[LEDGER_HASH_LEN];
};

static void take_snapshot(struct ledger_state *st, struct snapshot *s)
{
    for (uint32_t n = 0; n < 10; n++) {
        struct account *a = get(st, n);
        s->debits[n] = a->debits_posted, s->credits[n] = a->credits_posted, s->last_seq[n] = a->last_seq;
    }
    ledger_state_digest(st, s->digest);
}

static void assert_snapshot(struct ledger_state *st, const struct snapshot *s)
{
    for (uint32_t n = 0; n < 10; n++) {
        struct account *a = get(st, n);
        cr_assert_eq(a->debits_posted, s->debits[n], "account %u debits", n);
        cr_assert_eq(a->credits_posted, s->credits[n], "account %u credits", n);
        cr_assert_eq(a->last_seq, s->last_seq[n], "account %u last_seq", n);
    }
    uint8_t d[LEDGER_HASH_LEN];
    ledger_state_digest(st, d);
    cr_assert_arr_eq(d, s->digest, LEDGER_HASH_LEN);
}

static void apply_range(struct ledger_state *st, uint32_t first, uint32_t n, uint64_t seq0)
{
    for (uint32_t i = 0; i < n; i++) {
        uint32_t t = first + i;
        transfer_ok(st, seq0 + i, t, t % 10, (t * 3 + 1) % 10 == t % 10 ? (t + 1) % 10 : (t * 3 + 1) % 10,
                    1 + t % 97);
    }
}

static void assert_transfers(struct ledger_state *st, uint32_t first, uint32_t n, bool present, uint64_t seq0)
{
    for (uint32_t i = 0; i < n; i++) {
        uint64_t seq = 0, content = 0;
        struct ledger_id id = xfer(first + i);
        bool found = ledger_state_transfer(st, &id, &seq, &content);
        cr_assert_eq(found, present, "transfer %u", first + i);
        if (present)
            cr_assert_eq(seq, seq0 + i, "transfer %u seq", first + i);
    }
}

Test(state, rollback_restores_exactly)
{
    /* Proves mark -> 300 transfers -> rollback restores every balance, last_seq and the digest,
     * removes the 300 ids from the transfer index (earlier ids stay), and that the same transfers
     * then apply again; a nested mark rolls back only its own part. */
    struct ledger_state *st = ledger_state_new();
    for (uint32_t n = 0; n < 10; n++) {
        char name[16];
        snprintf(name, sizeof name, "acct-%u", n);
        open_ok(st, n + 1, n, ACCOUNT_KIND_INTERNAL, "EUR", name, 0);
    }
    apply_range(st, 1, 50, 11);
    ledger_state_commit_undo(st);
    struct snapshot snap;
    take_snapshot(st, &snap);

    ledger_state_reserve_transfers(st, ROLLBACK_TRANSFERS);
    size_t mark = ledger_state_mark(st);
    apply_range(st, 1000, ROLLBACK_TRANSFERS, 100);
    assert_transfers(st, 1000, ROLLBACK_TRANSFERS, true, 100);
    ledger_state_rollback(st, mark);
    assert_snapshot(st, &snap);
    assert_transfers(st, 1000, ROLLBACK_TRANSFERS, false, 100);
    assert_transfers(st, 1, 50, true, 11);

    ledger_state_reserve_transfers(st, ROLLBACK_TRANSFERS);
    mark = ledger_state_mark(st);
    apply_range(st, 1000, ROLLBACK_TRANSFERS, 100);
    assert_transfers(st, 1000, ROLLBACK_TRANSFERS, true, 100);
    struct snapshot mid;
    take_snapshot(st, &mid);
    size_t inner = ledger_state_mark(st);
    apply_range(st, 5000, 20, 1000);
    ledger_state_rollback(st, inner);
    assert_snapshot(st, &mid);
    assert_transfers(st, 5000, 20, false, 1000);
    assert_transfers(st, 1000, ROLLBACK_TRANSFERS, true, 100);
    ledger_state_rollback(st, mark);
    assert_snapshot(st, &snap);
    ledger_state_free(st);
}

Test(state, rollback_after_commit_undo_is_noop)
{
    /* Proves ledger_state_commit_undo drops the undo log: a later rollback to mark 0 keeps the
     * committed transfers. */
    struct ledger_state *st = ledger_state_new();
    for (uint32_t n = 0; n < 10; n++) {
        char name[16];
        snprintf(name, sizeof name, "acct-%u", n);
        open_ok(st, n + 1, n, ACCOUNT_KIND_INTERNAL, "EUR", name, 0);
    }
    apply_range(st, 1, 20, 11);
    ledger_state_commit_undo(st);
    cr_assert_eq(ledger_state_mark(st), 0);
    struct snapshot snap;
    take_snapshot(st, &snap);
    ledger_state_rollback(st, 0);
    assert_snapshot(st, &snap);
    assert_transfers(st, 1, 20, true, 11);
    ledger_state_free(st);
}

/* ---- growth and digest ----------------------------------------------------------------------------- */

Test(state, growth_keeps_every_lookup)
{
    /* Proves 5000 accounts and 200000 transfers (several index and table doublings) keep every
     * account findable by id and by holder+name, every transfer id with its seq, and every counter
     * equal to an independent tally. */
    struct ledger_state *st = ledger_state_new();
    static int64_t debits[GROWTH_ACCOUNTS], credits[GROWTH_ACCOUNTS];
    struct account *first = NULL;
    uint64_t seq = 1;
    for (uint32_t n = 0; n < GROWTH_ACCOUNTS; n++) {
        char name[16];
        snprintf(name, sizeof name, "a%u", n % 10);
        open_ok(st, seq++, n, ACCOUNT_KIND_INTERNAL, "EUR", name, 0);
        if (n == 0)
            first = get(st, 0);
    }
    uint64_t tseq0 = seq;
    for (uint32_t t = 0; t < GROWTH_TRANSFERS; t++) {
        uint32_t dr = t % GROWTH_ACCOUNTS, cr = (uint32_t)((t * 7919ull + 13) % GROWTH_ACCOUNTS);
        if (cr == dr)
            cr = (dr + 1) % GROWTH_ACCOUNTS;
        int64_t amount = 1 + t % 1000;
        transfer_ok(st, seq++, t, dr, cr, amount);
        debits[dr] += amount;
        credits[cr] += amount;
        if (t % 4096 == 0)
            ledger_state_commit_undo(st);
    }
    ledger_state_commit_undo(st);
    cr_assert_eq(ledger_state_account_count(st), GROWTH_ACCOUNTS);
    cr_assert_eq(get(st, 0), first, "account pointers stay valid across growth");
    for (uint32_t n = 0; n < GROWTH_ACCOUNTS; n++) {
        struct account *a = get(st, n);
        cr_assert_eq(ledger_state_account_at(st, n), a, "position %u", n);
        char name[16];
        snprintf(name, sizeof name, "a%u", n % 10);
        cr_assert_eq(ledger_state_account_by_name(st, a->holder_id, name), a, "name of %u", n);
        cr_assert_eq(a->debits_posted, debits[n], "debits of %u", n);
        cr_assert_eq(a->credits_posted, credits[n], "credits of %u", n);
    }
    struct ledger_id missing = acct(GROWTH_ACCOUNTS);
    cr_assert_null(ledger_state_account(st, &missing));
    for (uint32_t t = 0; t < GROWTH_TRANSFERS; t++) {
        uint64_t s = 0, content = 0;
        struct ledger_id id = xfer(t);
        cr_assert(ledger_state_transfer(st, &id, &s, &content), "transfer %u lost", t);
        cr_assert_eq(s, tseq0 + t, "transfer %u seq", t);
    }
    struct ledger_id none = xfer(GROWTH_TRANSFERS);
    uint64_t s, content;
    cr_assert_not(ledger_state_transfer(st, &none, &s, &content));
    ledger_state_free(st);
}

static struct ledger_state *digest_state(bool reverse)
{
    struct ledger_state *st = ledger_state_new();
    uint64_t seq = 1;
    for (uint32_t i = 0; i < 100; i++) {
        uint32_t n = reverse ? 99 - i : i;
        char name[16];
        snprintf(name, sizeof name, "d%u", n);
        open_ok(st, seq++, n, ACCOUNT_KIND_INTERNAL, "EUR", name, 0);
    }
    for (uint32_t i = 0; i < 300; i++) {
        uint32_t t = reverse ? 299 - i : i;
        transfer_ok(st, seq++, t, t % 100, (t + 37) % 100, 10 + t);
    }
    ledger_state_commit_undo(st);
    return st;
}

Test(state, digest_is_order_independent_and_sensitive)
{
    /* Proves two states with the same accounts and counters reached in different orders have the
     * same digest, and one more transfer of 1 (or a pending counter change) changes it. */
    struct ledger_state *a = digest_state(false), *b = digest_state(true);
    uint8_t da[LEDGER_HASH_LEN], db[LEDGER_HASH_LEN];
    ledger_state_digest(a, da);
    ledger_state_digest(b, db);
    cr_assert_arr_eq(da, db, LEDGER_HASH_LEN);
    cr_assert_neq(ledger_state_account_at(a, 0), NULL);
    cr_assert_not(ledger_id_equal(&ledger_state_account_at(a, 0)->id, &ledger_state_account_at(b, 0)->id),
                  "the two states really differ in order");

    transfer_ok(b, 1000, 5000, 1, 2, 1);
    ledger_state_digest(b, db);
    cr_assert(memcmp(da, db, LEDGER_HASH_LEN) != 0, "a transfer of 1 left the digest unchanged");

    uint8_t before[LEDGER_HASH_LEN], after[LEDGER_HASH_LEN];
    ledger_state_digest(a, before);
    get(a, 50)->credits_pending += 1;
    ledger_state_digest(a, after);
    cr_assert(memcmp(before, after, LEDGER_HASH_LEN) != 0, "credits_pending is not in the digest");
    get(a, 50)->credits_pending -= 1;
    get(a, 50)->debits_pending += 1;
    ledger_state_digest(a, after);
    cr_assert(memcmp(before, after, LEDGER_HASH_LEN) != 0, "debits_pending is not in the digest");

    struct ledger_state *empty = ledger_state_new();
    uint8_t de[LEDGER_HASH_LEN];
    ledger_state_digest(empty, de);
    open_ok(empty, 1, 1, ACCOUNT_KIND_INTERNAL, "EUR", "x", 0);
    ledger_state_digest(empty, db);
    cr_assert(memcmp(de, db, LEDGER_HASH_LEN) != 0, "an account with zero counters left the digest unchanged");
    ledger_state_free(empty);
    ledger_state_free(a);
    ledger_state_free(b);
}

/* ---- dirty tracking ------------------------------------------------------------------------------- */

static uint8_t dirty_bits_of(struct account **list, const uint8_t *bits, size_t n, const struct account *a)
{
    uint8_t found = 0;
    int times = 0;
    for (size_t i = 0; i < n; i++) {
        if (list[i] == a) {
            found = bits[i];
            times++;
        }
    }
    cr_assert_leq(times, 1, "account listed %d times", times);
    return found;
}

Test(state, dirty_tracking)
{
    /* Proves take_dirty lists each changed account exactly once: DIRTY_ACCOUNT for opened and
     * blocked, DIRTY_BALANCE alone for transfers; a second take is empty and clears the flags. */
    struct ledger_state *st = ledger_state_new();
    open_ok(st, 1, 1, ACCOUNT_KIND_CUSTOMER, "EUR", "one", 0);
    open_ok(st, 2, 2, ACCOUNT_KIND_CUSTOMER, "EUR", "two", 0);
    open_ok(st, 3, 3, ACCOUNT_KIND_CUSTOMER, "EUR", "three", 0);
    const uint8_t *bits = NULL;
    size_t n = 0;
    struct account **list = ledger_state_take_dirty(st, &bits, &n);
    cr_assert_eq(n, 3);
    for (uint32_t k = 1; k <= 3; k++)
        cr_assert(dirty_bits_of(list, bits, n, get(st, k)) & DIRTY_ACCOUNT, "opened %u", k);
    list = ledger_state_take_dirty(st, &bits, &n);
    cr_assert_eq(n, 0);
    cr_assert_eq(get(st, 1)->dirty, 0);

    transfer_ok(st, 4, 1, 1, 2, 10);
    transfer_ok(st, 5, 2, 1, 2, 20);
    transfer_ok(st, 6, 3, 2, 1, 5);
    list = ledger_state_take_dirty(st, &bits, &n);
    cr_assert_eq(n, 2);
    cr_assert_eq(dirty_bits_of(list, bits, n, get(st, 1)), DIRTY_BALANCE);
    cr_assert_eq(dirty_bits_of(list, bits, n, get(st, 2)), DIRTY_BALANCE);
    cr_assert_eq(dirty_bits_of(list, bits, n, get(st, 3)), 0);

    struct event ev;
    ev_block(&ev, 7, EVENT_ACCOUNT_BLOCKED, 3, BLOCK_LOST);
    apply_ok(st, &ev);
    transfer_ok(st, 8, 4, 1, 2, 1);
    list = ledger_state_take_dirty(st, &bits, &n);
    cr_assert_eq(n, 3);
    cr_assert(dirty_bits_of(list, bits, n, get(st, 3)) & DIRTY_ACCOUNT);
    cr_assert_eq(dirty_bits_of(list, bits, n, get(st, 1)), DIRTY_BALANCE);
    list = ledger_state_take_dirty(st, &bits, &n);
    cr_assert_eq(n, 0);
    (void)list;
    ledger_state_free(st);
}

/* ---- rows ----------------------------------------------------------------------------------------- */

Test(state, account_row_round_trip)
{
    /* Proves account_row_encode/decode round-trips every field of a real account (dirty excepted:
     * stored as 0), and rejects lengths ACCOUNT_ROW_BYTES - 1, + 1, 0 and another row version. */
    struct ledger_state *st = ledger_state_new();
    open_ok(st, 1, 1, ACCOUNT_KIND_CUSTOMER, "EUR", "main", 1234);
    open_ok(st, 2, 2, ACCOUNT_KIND_INTERNAL, "EUR", "bank", 0);
    transfer_ok(st, 3, 1, 2, 1, 999);
    struct event ev;
    ev_block(&ev, 4, EVENT_ACCOUNT_BLOCKED, 1, BLOCK_SYSTEM);
    apply_ok(st, &ev);
    struct account *a = get(st, 1);
    cr_assert_neq(a->dirty, 0);
    uint8_t row[ACCOUNT_ROW_BYTES + 1];
    account_row_encode(a, row);
    struct account back;
    memset(&back, 0xee, sizeof back);
    cr_assert(account_row_decode(row, ACCOUNT_ROW_BYTES, &back));
    cr_assert(ledger_id_equal(&back.id, &a->id));
    cr_assert_eq(back.kind, a->kind);
    cr_assert_eq(back.state, a->state);
    cr_assert_eq(back.blocks, BLOCK_SYSTEM);
    cr_assert_str_eq(back.currency, "EUR");
    cr_assert_str_eq(back.holder_id, a->holder_id);
    cr_assert_str_eq(back.friendly_name, "main");
    cr_assert_str_eq(back.iban, a->iban);
    cr_assert_eq(back.overdraft_limit_minor, 1234);
    cr_assert_eq(back.credits_posted, 999);
    cr_assert_eq(back.debits_posted, 0);
    cr_assert_eq(back.version, 2);
    cr_assert_eq(back.opened_seq, 1);
    cr_assert_eq(back.opened_ts_ns, a->opened_ts_ns);
    cr_assert_eq(back.last_seq, 4);
    cr_assert_eq(back.dirty, 0);

    cr_assert_not(account_row_decode(row, ACCOUNT_ROW_BYTES - 1, &back));
    cr_assert_not(account_row_decode(row, ACCOUNT_ROW_BYTES + 1, &back));
    cr_assert_not(account_row_decode(row, 0, &back));
    row[0] ^= 0x40;
    cr_assert_not(account_row_decode(row, ACCOUNT_ROW_BYTES, &back), "another row version");
    ledger_state_free(st);
}

Test(state, balance_row_round_trip)
{
    /* Proves balance_row_encode writes the five counters big-endian, decode restores them (0, 1,
     * INT64_MAX, UINT64_MAX last_seq) and leaves other fields, and wrong lengths are refused. */
    struct account a, back;
    memset(&a, 0, sizeof a);
    a.debits_posted = 0x0102030405060708ll;
    a.credits_posted = INT64_MAX;
    a.debits_pending = 0;
    a.credits_pending = 1;
    a.last_seq = UINT64_MAX;
    uint8_t row[BALANCE_ROW_BYTES + 1];
    balance_row_encode(&a, row);
    static const uint8_t first[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    cr_assert_arr_eq(row, first, 8);
    cr_assert_eq(row[8], 0x7f);
    cr_assert_eq(row[31], 1);
    memset(&back, 0, sizeof back);
    back.overdraft_limit_minor = 77;
    back.version = 9;
    snprintf(back.friendly_name, sizeof back.friendly_name, "keep");
    cr_assert(balance_row_decode(row, BALANCE_ROW_BYTES, &back));
    cr_assert_eq(back.debits_posted, a.debits_posted);
    cr_assert_eq(back.credits_posted, INT64_MAX);
    cr_assert_eq(back.debits_pending, 0);
    cr_assert_eq(back.credits_pending, 1);
    cr_assert_eq(back.last_seq, UINT64_MAX);
    cr_assert_eq(back.overdraft_limit_minor, 77);
    cr_assert_eq(back.version, 9);
    cr_assert_str_eq(back.friendly_name, "keep");
    cr_assert_not(balance_row_decode(row, BALANCE_ROW_BYTES - 1, &back));
    cr_assert_not(balance_row_decode(row, BALANCE_ROW_BYTES + 1, &back));
    cr_assert_not(balance_row_decode(row, 0, &back));
}

Test(state, holder_key_layout)
{
    /* Proves holder_key is holder id, 0x00, then the 16-byte account id (or just the prefix). */
    uint8_t key[LEDGER_HOLDER_ID_MAX + 17];
    struct ledger_id id = acct(5);
    size_t n = holder_key("bob", &id, key, sizeof key);
    cr_assert_eq(n, 3 + 1 + 16);
    cr_assert_arr_eq(key, "bob\0", 4);
    cr_assert_arr_eq(key + 4, id.b, 16);
    cr_assert_eq(holder_key("bob", NULL, key, sizeof key), 4);
}
