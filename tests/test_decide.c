/*
 * test_decide.c: the business rules of decide() against an in-memory ledger_state, no store.
 *
 * Every single-command rule is one row of the `rules` table, run by one parameterized test: each
 * row starts from the same fixture (customer accounts A funded with 1000 EUR, B and O empty, O with
 * a 500 overdraft, U in USD, internal accounts I1 and I2), runs its setup commands (each must
 * succeed), then its command, and checks the result code, the offending field, the number of
 * events, and the generic effects (balances moved by exactly the amount on success, nothing
 * appended and nothing changed on a rejection, the log replays to the same state). Batches,
 * linked batches and determinism need several commands at once and have their own tests below.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands/commands.h"

#define LOG_EVENTS_MAX 4096
#define START_NS 1700000000000000000ll
#define SETUP_OPS_MAX 3
#define BATCH_ITEMS_MAX 8

/* ---- fixture: a state, the log of every event decided so far, the clock ----------------------- */

struct fx {
    struct ledger_state *st;
    struct event *log; /* LOG_EVENTS_MAX */
    size_t log_len;
    uint64_t next_seq;
    int64_t now_ns;
    unsigned cmd_counter;
    unsigned fresh_transfer_counter;
    uint64_t tid_seq[16]; /* seq of the transfer.executed of each numbered transfer id */
};

enum acct { ACC_NONE, ACC_A, ACC_B, ACC_O, ACC_U, ACC_I1, ACC_I2, ACC_FUND_EUR, ACC_FUND_USD, ACC_NEW, ACC_GHOST };

static struct ledger_id acct_id(enum acct a)
{
    static const char *const names[] = {
        [ACC_NONE] = "test:none", [ACC_A] = "test:A",   [ACC_B] = "test:B",
        [ACC_O] = "test:O",       [ACC_U] = "test:U",   [ACC_I1] = "test:I1",
        [ACC_I2] = "test:I2",     [ACC_NEW] = "test:new", [ACC_GHOST] = "test:ghost",
        [ACC_FUND_EUR] = "internal:funding:EUR", [ACC_FUND_USD] = "internal:funding:USD",
    };
    return ledger_id_from_name(names[a]);
}

static struct account *acct(struct fx *fx, enum acct a)
{
    struct ledger_id id = acct_id(a);
    return ledger_state_account(fx->st, &id);
}

/* Runs c through decide() with the next time, a fresh cmd id, and a sink exactly as large as
 * decide_events_max(c) (so ASan sees any overrun); appends the events to the fixture log. */
static void run(struct fx *fx, struct cmd *c)
{
    char name[64];
    snprintf(name, sizeof name, "test:cmd:%u", fx->cmd_counter++);
    c->cmd_id = ledger_id_from_name(name);
    snprintf(c->actor, sizeof c->actor, "%s", "tester");
    c->now_ns = ++fx->now_ns;
    size_t cap = decide_events_max(c);
    struct event *events = calloc(cap, sizeof *events);
    cr_assert_not_null(events);
    struct event_sink sink = {.events = events, .len = 0, .cap = cap, .next_seq = fx->next_seq};
    decide(fx->st, c, &sink);
    cr_assert_leq(fx->log_len + sink.len, LOG_EVENTS_MAX);
    memcpy(fx->log + fx->log_len, events, sink.len * sizeof *events);
    fx->log_len += sink.len;
    cr_assert_eq(sink.next_seq, fx->next_seq + sink.len, "seqs are gap-free");
    fx->next_seq = sink.next_seq;
    free(events);
}

/* ---- operations: the data a table row is made of ---------------------------------------------- */

enum test_op_kind { OP_NONE, OP_OPEN, OP_BLOCK, OP_UNBLOCK, OP_CLOSE, OP_TRANSFER, OP_DEPOSIT };

struct op {
    enum test_op_kind kind;
    enum acct acct;   /* open: the new id; block, unblock, close: the account; transfer: debit; deposit: credit */
    enum acct credit; /* transfer */
    int64_t amount;   /* transfer, deposit; open: the overdraft limit */
    const char *currency;
    uint8_t reason;   /* block, unblock; open: the account kind */
    const char *holder, *name; /* open */
    int tid;          /* transfer id number (1..15); 0 = a fresh id */
    const char *reference;
};

#define OPEN(a, h, n, cur, od) \
    {.kind = OP_OPEN, .acct = a, .holder = h, .name = n, .currency = cur, .amount = od, .reason = ACCOUNT_KIND_CUSTOMER}
#define OPEN_INTERNAL(a, h, n) \
    {.kind = OP_OPEN, .acct = a, .holder = h, .name = n, .currency = "EUR", .reason = ACCOUNT_KIND_INTERNAL}
#define BLOCK(a, r) {.kind = OP_BLOCK, .acct = a, .reason = r}
#define UNBLOCK(a, r) {.kind = OP_UNBLOCK, .acct = a, .reason = r}
#define CLOSE(a) {.kind = OP_CLOSE, .acct = a}
#define XFER(dr, cr, amt) {.kind = OP_TRANSFER, .acct = dr, .credit = cr, .amount = amt, .currency = "EUR"}
#define XFER_CUR(dr, cr, amt, cur) {.kind = OP_TRANSFER, .acct = dr, .credit = cr, .amount = amt, .currency = cur}
#define XFER_ID(dr, cr, amt, id, ref) \
    {.kind = OP_TRANSFER, .acct = dr, .credit = cr, .amount = amt, .currency = "EUR", .tid = id, .reference = ref}
#define DEPOSIT(a, amt, cur) {.kind = OP_DEPOSIT, .acct = a, .amount = amt, .currency = cur}

static struct ledger_id transfer_id(struct fx *fx, int tid)
{
    char name[64];
    if (tid == 0)
        snprintf(name, sizeof name, "test:transfer:fresh:%u", fx->fresh_transfer_counter++);
    else
        snprintf(name, sizeof name, "test:transfer:%d", tid);
    return ledger_id_from_name(name);
}

static void item_from_op(struct fx *fx, const struct op *op, struct transfer_item *t)
{
    memset(t, 0, sizeof *t);
    t->id = transfer_id(fx, op->tid);
    t->kind = op->kind == OP_DEPOSIT ? TRANSFER_KIND_DEPOSIT : TRANSFER_KIND_TRANSFER;
    if (op->kind == OP_TRANSFER)
        t->debit_account_id = acct_id(op->acct);
    t->credit_account_id = acct_id(op->kind == OP_DEPOSIT ? op->acct : op->credit);
    t->amount_minor = op->amount;
    snprintf(t->currency, sizeof t->currency, "%s", op->currency);
    snprintf(t->reference, sizeof t->reference, "%s", op->reference ? op->reference : "");
    t->result = LEDGER_ERR_INTERNAL; /* decide must overwrite it */
}

/* Fills c (and item, for transfers) from op. */
static void cmd_from_op(struct fx *fx, const struct op *op, struct cmd *c, struct transfer_item *item)
{
    memset(c, 0, sizeof *c);
    c->result = LEDGER_ERR_INTERNAL; /* decide must overwrite it */
    switch (op->kind) {
    case OP_OPEN:
        c->type = CMD_OPEN_ACCOUNT;
        c->u.open.account_id = acct_id(op->acct);
        c->u.open.kind = op->reason;
        snprintf(c->u.open.holder_id, sizeof c->u.open.holder_id, "%s", op->holder);
        snprintf(c->u.open.currency, sizeof c->u.open.currency, "%s", op->currency);
        snprintf(c->u.open.friendly_name, sizeof c->u.open.friendly_name, "%s", op->name);
        c->u.open.overdraft_limit_minor = op->amount;
        break;
    case OP_BLOCK:
    case OP_UNBLOCK:
    case OP_CLOSE:
        c->type = op->kind == OP_BLOCK ? CMD_BLOCK_ACCOUNT
                  : op->kind == OP_UNBLOCK ? CMD_UNBLOCK_ACCOUNT : CMD_CLOSE_ACCOUNT;
        c->u.action.account_id = acct_id(op->acct);
        c->u.action.reason = op->reason;
        break;
    case OP_TRANSFER:
    case OP_DEPOSIT:
        c->type = CMD_TRANSFERS;
        item_from_op(fx, op, item);
        c->u.transfers.items = item;
        c->u.transfers.count = 1;
        break;
    case OP_NONE:
        cr_assert_fail("empty op");
    }
}

/* The result of a one-op command: the item's for transfers, the command's otherwise. */
static enum ledger_err op_result(const struct cmd *c, const struct transfer_item *item, const char **field)
{
    if (c->type == CMD_TRANSFERS)
        cr_assert_eq(c->result, LEDGER_ERR_OK, "decide never fails a transfers command as a whole");
    *field = c->type == CMD_TRANSFERS ? item->field : c->field;
    return c->type == CMD_TRANSFERS ? item->result : c->result;
}

static void run_op(struct fx *fx, const struct op *op, struct cmd *c, struct transfer_item *item)
{
    cmd_from_op(fx, op, c, item);
    run(fx, c);
    if (c->type == CMD_TRANSFERS && op->tid != 0 && item->result == LEDGER_ERR_OK && !item->replayed)
        fx->tid_seq[op->tid] = item->seq;
}

/* Runs op and asserts it succeeded (fixture and setup steps). */
static void must(struct fx *fx, const struct op *op, const char *what)
{
    struct cmd c;
    struct transfer_item item;
    run_op(fx, op, &c, &item);
    const char *field;
    enum ledger_err err = op_result(&c, &item, &field);
    cr_assert_eq(err, LEDGER_ERR_OK, "%s: setup step failed with %s (field %s)", what, ledger_err_name(err),
                 field ? field : "-");
}

static void fx_init(struct fx *fx)
{
    memset(fx, 0, sizeof *fx);
    fx->st = ledger_state_new();
    fx->log = calloc(LOG_EVENTS_MAX, sizeof *fx->log);
    cr_assert_not_null(fx->log);
    fx->next_seq = 1;
    fx->now_ns = START_NS;
    static const struct op base[] = {
        OPEN(ACC_A, "holder-1", "main", "EUR", 0),
        OPEN(ACC_B, "holder-2", "main", "EUR", 0),
        OPEN(ACC_O, "holder-3", "main", "EUR", 500),
        OPEN(ACC_U, "holder-1", "dollars", "USD", 0),
        OPEN_INTERNAL(ACC_I1, "bank", "internal-1"),
        OPEN_INTERNAL(ACC_I2, "bank", "internal-2"),
        DEPOSIT(ACC_A, 1000, "EUR"),
    };
    for (size_t i = 0; i < sizeof base / sizeof base[0]; i++)
        must(fx, &base[i], "fixture");
}

static void fx_release(struct fx *fx)
{
    ledger_state_free(fx->st);
    free(fx->log);
}

/* Replays the fixture's whole log into a fresh state: every event applies and the digest equals
 * the live state's (decide's state and the log never disagree). */
static void assert_log_replays(struct fx *fx, const char *what)
{
    struct ledger_state *fresh = ledger_state_new();
    for (size_t i = 0; i < fx->log_len; i++) {
        cr_assert_eq(fx->log[i].seq, i + 1, "%s: log seq", what);
        enum ledger_err err = ledger_state_apply(fresh, &fx->log[i]);
        cr_assert_eq(err, LEDGER_ERR_OK, "%s: event %zu (%s) does not replay: %s", what, i + 1,
                     event_type_name(fx->log[i].type), ledger_err_name(err));
        ledger_state_commit_undo(fresh);
    }
    uint8_t live[LEDGER_HASH_LEN], replayed[LEDGER_HASH_LEN];
    ledger_state_digest(fx->st, live);
    ledger_state_digest(fresh, replayed);
    cr_assert_arr_eq(live, replayed, LEDGER_HASH_LEN, "%s: replayed digest differs from the live one", what);
    cr_assert_eq(ledger_state_account_count(fresh), ledger_state_account_count(fx->st),
                 "%s: replayed account count differs", what);
    ledger_state_free(fresh);
}

/* ---- the rules table -------------------------------------------------------------------------- */

struct rule;
struct outcome {
    const struct cmd *c;
    const struct transfer_item *item;
    const struct event *events; /* what the command appended */
    size_t n_events;
};

struct rule {
    const char *what;
    struct op setup[SETUP_OPS_MAX];
    struct op op;
    enum ledger_err expect;
    const char *field; /* expected offending field, NULL for none */
    size_t events;     /* events the command appends */
    bool replayed;     /* transfer: expected item.replayed */
    void (*check)(struct fx *fx, const struct rule *r, const struct outcome *o);
};

static void check_compliance_remains(struct fx *fx, const struct rule *r, const struct outcome *o)
{
    (void)o;
    struct account *a = acct(fx, ACC_A);
    cr_assert_eq(a->blocks, BLOCK_COMPLIANCE, "%s", r->what);
    cr_assert(account_is_blocked(a), "%s", r->what);
    cr_assert_str_eq(account_state_name(a), "blocked", "%s", r->what);
    /* and money still does not move */
    struct op out = XFER(ACC_A, ACC_B, 1), in = XFER(ACC_B, ACC_A, 1);
    struct cmd c;
    struct transfer_item item;
    run_op(fx, &out, &c, &item);
    cr_assert_eq(item.result, LEDGER_ERR_ACCOUNT_BLOCKED, "%s: debit", r->what);
    cr_assert_str_eq(item.field, "debit_account_id");
    must(fx, &(struct op)DEPOSIT(ACC_B, 1, "EUR"), r->what);
    run_op(fx, &in, &c, &item);
    cr_assert_eq(item.result, LEDGER_ERR_ACCOUNT_BLOCKED, "%s: credit", r->what);
    cr_assert_str_eq(item.field, "credit_account_id");
}

static void check_unblocked_moves_money(struct fx *fx, const struct rule *r, const struct outcome *o)
{
    (void)o;
    cr_assert_eq(acct(fx, ACC_A)->blocks, 0, "%s", r->what);
    cr_assert_str_eq(account_state_name(acct(fx, ACC_A)), "active");
    must(fx, &(struct op)XFER(ACC_A, ACC_B, 1000), r->what);
}

static void check_first_deposit_opens_funding(struct fx *fx, const struct rule *r, const struct outcome *o)
{
    cr_assert_eq(o->events[0].type, EVENT_ACCOUNT_OPENED, "%s", r->what);
    const struct ev_account_opened *d = &o->events[0].data.opened;
    struct ledger_id fund = acct_id(ACC_FUND_USD);
    cr_assert(ledger_id_equal(&d->account_id, &fund), "%s: the funding id is derived from the currency", r->what);
    cr_assert_eq(d->kind, ACCOUNT_KIND_INTERNAL);
    cr_assert_str_eq(d->holder_id, LEDGER_INTERNAL_HOLDER);
    cr_assert_str_eq(d->currency, "USD");
    cr_assert_eq(o->events[1].type, EVENT_TRANSFER_EXECUTED);
    cr_assert(ledger_id_equal(&o->events[1].data.transfer.debit_account_id, &fund));
    struct balance b;
    cr_assert(account_balance(acct(fx, ACC_FUND_USD), &b));
    cr_assert_eq(b.posted, -250, "%s: the funding account carries the deposits as a debit", r->what);
}

static void check_overdraft_used(struct fx *fx, const struct rule *r, const struct outcome *o)
{
    (void)o;
    struct balance b;
    cr_assert(account_balance(acct(fx, ACC_O), &b));
    cr_assert_eq(b.posted, -500, "%s", r->what);
    cr_assert_eq(b.available, 0, "%s", r->what);
}

static void check_internal_negative(struct fx *fx, const struct rule *r, const struct outcome *o)
{
    (void)o;
    struct balance b;
    cr_assert(account_balance(acct(fx, ACC_I1), &b));
    cr_assert_eq(b.posted, -1000000, "%s", r->what);
}

static void check_credits_at_max(struct fx *fx, const struct rule *r, const struct outcome *o)
{
    (void)o;
    cr_assert_eq(acct(fx, ACC_B)->credits_posted, INT64_MAX, "%s", r->what);
}

static const struct rule rules[] = {
    /* open account */
    {"open: ok", {{0}}, OPEN(ACC_NEW, "holder-9", "savings", "EUR", 0), LEDGER_ERR_OK, NULL, 1, false, NULL},
    {"open: ok in JPY (0 minor units)", {{0}}, OPEN(ACC_NEW, "holder-9", "yen", "JPY", 0), LEDGER_ERR_OK, NULL, 1,
     false, NULL},
    {"open: ok with an overdraft", {{0}}, OPEN(ACC_NEW, "holder-9", "od", "EUR", 1), LEDGER_ERR_OK, NULL, 1, false,
     NULL},
    {"open: unknown currency", {{0}}, OPEN(ACC_NEW, "holder-9", "x", "ABC", 0), LEDGER_ERR_CURRENCY_UNKNOWN,
     "currency", 0, false, NULL},
    {"open: currency without minor unit", {{0}}, OPEN(ACC_NEW, "holder-9", "x", "XAU", 0),
     LEDGER_ERR_CURRENCY_UNKNOWN, "currency", 0, false, NULL},
    {"open: lower-case currency", {{0}}, OPEN(ACC_NEW, "holder-9", "x", "eur", 0), LEDGER_ERR_CURRENCY_UNKNOWN,
     "currency", 0, false, NULL},
    {"open: empty currency", {{0}}, OPEN(ACC_NEW, "holder-9", "x", "", 0), LEDGER_ERR_CURRENCY_UNKNOWN, "currency", 0,
     false, NULL},
    {"open: overdraft -1", {{0}}, OPEN(ACC_NEW, "holder-9", "x", "EUR", -1), LEDGER_ERR_FIELD_INVALID,
     "overdraft_limit", 0, false, NULL},
    {"open: overdraft INT64_MIN", {{0}}, OPEN(ACC_NEW, "holder-9", "x", "EUR", INT64_MIN), LEDGER_ERR_FIELD_INVALID,
     "overdraft_limit", 0, false, NULL},
    {"open: same holder, same friendly name", {{0}}, OPEN(ACC_NEW, "holder-1", "main", "EUR", 0),
     LEDGER_ERR_FRIENDLY_NAME_TAKEN, "friendly_name", 0, false, NULL},
    {"open: same holder, same name, other currency", {{0}}, OPEN(ACC_NEW, "holder-1", "main", "USD", 0),
     LEDGER_ERR_FRIENDLY_NAME_TAKEN, "friendly_name", 0, false, NULL},
    {"open: other holder, same friendly name", {{0}}, OPEN(ACC_NEW, "holder-9", "main", "EUR", 0), LEDGER_ERR_OK,
     NULL, 1, false, NULL},
    {"open: same holder, other friendly name", {{0}}, OPEN(ACC_NEW, "holder-1", "second", "EUR", 0), LEDGER_ERR_OK,
     NULL, 1, false, NULL},
    {"open: an id already in use", {{0}}, OPEN(ACC_A, "holder-9", "x", "EUR", 0), LEDGER_ERR_INTERNAL, "id", 0,
     false, NULL},

    /* block, unblock, close */
    {"block: unknown account", {{0}}, BLOCK(ACC_GHOST, BLOCK_USER), LEDGER_ERR_ACCOUNT_NOT_FOUND, "account_id", 0,
     false, NULL},
    {"unblock: unknown account", {{0}}, UNBLOCK(ACC_GHOST, BLOCK_USER), LEDGER_ERR_ACCOUNT_NOT_FOUND, "account_id",
     0, false, NULL},
    {"close: unknown account", {{0}}, CLOSE(ACC_GHOST), LEDGER_ERR_ACCOUNT_NOT_FOUND, "account_id", 0, false, NULL},
    {"block: USER ok", {{0}}, BLOCK(ACC_A, BLOCK_USER), LEDGER_ERR_OK, NULL, 1, false, NULL},
    {"block: USER twice", {BLOCK(ACC_A, BLOCK_USER)}, BLOCK(ACC_A, BLOCK_USER), LEDGER_ERR_ACCOUNT_ALREADY_BLOCKED,
     "reason", 0, false, NULL},
    {"block: SYSTEM twice", {BLOCK(ACC_A, BLOCK_SYSTEM)}, BLOCK(ACC_A, BLOCK_SYSTEM),
     LEDGER_ERR_ACCOUNT_ALREADY_BLOCKED, "reason", 0, false, NULL},
    {"block: SYSTEM on top of USER", {BLOCK(ACC_A, BLOCK_USER)}, BLOCK(ACC_A, BLOCK_SYSTEM), LEDGER_ERR_OK, NULL, 1,
     false, NULL},
    {"block: an internal account", {{0}}, BLOCK(ACC_I1, BLOCK_SYSTEM), LEDGER_ERR_OK, NULL, 1, false, NULL},
    {"unblock: not blocked at all", {{0}}, UNBLOCK(ACC_A, BLOCK_USER), LEDGER_ERR_ACCOUNT_NOT_BLOCKED, "reason", 0,
     false, NULL},
    {"unblock: SYSTEM when blocked USER", {BLOCK(ACC_A, BLOCK_USER)}, UNBLOCK(ACC_A, BLOCK_SYSTEM),
     LEDGER_ERR_ACCOUNT_NOT_BLOCKED, "reason", 0, false, NULL},
    {"unblock: USER when blocked SYSTEM", {BLOCK(ACC_A, BLOCK_SYSTEM)}, UNBLOCK(ACC_A, BLOCK_USER),
     LEDGER_ERR_ACCOUNT_NOT_BLOCKED, "reason", 0, false, NULL},
    {"unblock: USER twice", {BLOCK(ACC_A, BLOCK_USER), UNBLOCK(ACC_A, BLOCK_USER)}, UNBLOCK(ACC_A, BLOCK_USER),
     LEDGER_ERR_ACCOUNT_NOT_BLOCKED, "reason", 0, false, NULL},
    {"unblock: USER lifts a USER block, money moves again", {BLOCK(ACC_A, BLOCK_USER)}, UNBLOCK(ACC_A, BLOCK_USER),
     LEDGER_ERR_OK, NULL, 1, false, check_unblocked_moves_money},
    {"unblock: USER leaves a COMPLIANCE block in place", {BLOCK(ACC_A, BLOCK_USER), BLOCK(ACC_A, BLOCK_COMPLIANCE)},
     UNBLOCK(ACC_A, BLOCK_USER), LEDGER_ERR_OK, NULL, 1, false, check_compliance_remains},
    {"close: balance 1000", {{0}}, CLOSE(ACC_A), LEDGER_ERR_BALANCE_NOT_ZERO, "account_id", 0, false, NULL},
    {"close: balance 1", {XFER(ACC_A, ACC_B, 1)}, CLOSE(ACC_B), LEDGER_ERR_BALANCE_NOT_ZERO, "account_id", 0, false,
     NULL},
    {"close: balance -1 (overdraft used)", {XFER(ACC_O, ACC_B, 1)}, CLOSE(ACC_O), LEDGER_ERR_BALANCE_NOT_ZERO,
     "account_id", 0, false, NULL},
    {"close: never used, balance 0", {{0}}, CLOSE(ACC_B), LEDGER_ERR_OK, NULL, 1, false, NULL},
    {"close: back to 0 after activity", {XFER(ACC_A, ACC_B, 1000)}, CLOSE(ACC_A), LEDGER_ERR_OK, NULL, 1, false,
     NULL},
    {"close: a blocked account at 0", {BLOCK(ACC_B, BLOCK_USER)}, CLOSE(ACC_B), LEDGER_ERR_OK, NULL, 1, false, NULL},
    {"close: already closed", {CLOSE(ACC_B)}, CLOSE(ACC_B), LEDGER_ERR_ACCOUNT_CLOSED, "account_id", 0, false, NULL},
    {"block: closed account", {CLOSE(ACC_B)}, BLOCK(ACC_B, BLOCK_USER), LEDGER_ERR_ACCOUNT_CLOSED, "account_id", 0,
     false, NULL},
    {"unblock: closed account", {BLOCK(ACC_B, BLOCK_USER), CLOSE(ACC_B)}, UNBLOCK(ACC_B, BLOCK_USER),
     LEDGER_ERR_ACCOUNT_CLOSED, "account_id", 0, false, NULL},
    {"transfer: to a closed account", {CLOSE(ACC_B)}, XFER(ACC_A, ACC_B, 1), LEDGER_ERR_ACCOUNT_CLOSED,
     "credit_account_id", 0, false, NULL},
    {"transfer: from a closed account", {CLOSE(ACC_B)}, XFER(ACC_B, ACC_A, 1), LEDGER_ERR_ACCOUNT_CLOSED,
     "debit_account_id", 0, false, NULL},
    {"deposit: to a closed account", {CLOSE(ACC_B)}, DEPOSIT(ACC_B, 1, "EUR"), LEDGER_ERR_ACCOUNT_CLOSED,
     "account_id", 0, false, NULL},

    /* transfers */
    {"transfer: ok, exactly the available balance", {{0}}, XFER(ACC_A, ACC_B, 1000), LEDGER_ERR_OK, NULL, 1, false,
     NULL},
    {"transfer: ok, 1", {{0}}, XFER(ACC_A, ACC_B, 1), LEDGER_ERR_OK, NULL, 1, false, NULL},
    {"transfer: available + 1", {{0}}, XFER(ACC_A, ACC_B, 1001), LEDGER_ERR_FUNDS_INSUFFICIENT, "amount", 0, false,
     NULL},
    {"transfer: INT64_MAX from a customer", {{0}}, XFER(ACC_A, ACC_B, INT64_MAX), LEDGER_ERR_FUNDS_INSUFFICIENT,
     "amount", 0, false, NULL},
    {"transfer: 1 from an empty account", {{0}}, XFER(ACC_B, ACC_A, 1), LEDGER_ERR_FUNDS_INSUFFICIENT, "amount", 0,
     false, NULL},
    {"transfer: amount 0", {{0}}, XFER(ACC_A, ACC_B, 0), LEDGER_ERR_AMOUNT_NOT_POSITIVE, "amount", 0, false, NULL},
    {"transfer: amount -1", {{0}}, XFER(ACC_A, ACC_B, -1), LEDGER_ERR_AMOUNT_NOT_POSITIVE, "amount", 0, false, NULL},
    {"transfer: amount INT64_MIN", {{0}}, XFER(ACC_A, ACC_B, INT64_MIN), LEDGER_ERR_AMOUNT_NOT_POSITIVE, "amount", 0,
     false, NULL},
    {"transfer: unknown currency", {{0}}, XFER_CUR(ACC_A, ACC_B, 1, "ABC"), LEDGER_ERR_CURRENCY_UNKNOWN, "currency",
     0, false, NULL},
    {"transfer: currency differs from both accounts", {{0}}, XFER_CUR(ACC_A, ACC_B, 1, "USD"),
     LEDGER_ERR_CURRENCY_MISMATCH, "debit_account_id", 0, false, NULL},
    {"transfer: currency differs from the credit account", {{0}}, XFER(ACC_A, ACC_U, 1), LEDGER_ERR_CURRENCY_MISMATCH,
     "credit_account_id", 0, false, NULL},
    {"transfer: USD from a USD account to a EUR account", {DEPOSIT(ACC_U, 10, "USD")}, XFER_CUR(ACC_U, ACC_B, 1, "USD"),
     LEDGER_ERR_CURRENCY_MISMATCH, "credit_account_id", 0, false, NULL},
    {"transfer: debit == credit", {{0}}, XFER(ACC_A, ACC_A, 1), LEDGER_ERR_SAME_ACCOUNT, "credit_account_id", 0,
     false, NULL},
    {"transfer: unknown debit account", {{0}}, XFER(ACC_GHOST, ACC_B, 1), LEDGER_ERR_ACCOUNT_NOT_FOUND,
     "debit_account_id", 0, false, NULL},
    {"transfer: unknown credit account", {{0}}, XFER(ACC_A, ACC_GHOST, 1), LEDGER_ERR_ACCOUNT_NOT_FOUND,
     "credit_account_id", 0, false, NULL},
    {"transfer: debit blocked USER", {BLOCK(ACC_A, BLOCK_USER)}, XFER(ACC_A, ACC_B, 1), LEDGER_ERR_ACCOUNT_BLOCKED,
     "debit_account_id", 0, false, NULL},
    {"transfer: debit blocked SYSTEM", {BLOCK(ACC_A, BLOCK_SYSTEM)}, XFER(ACC_A, ACC_B, 1),
     LEDGER_ERR_ACCOUNT_BLOCKED, "debit_account_id", 0, false, NULL},
    {"transfer: debit blocked LOST", {BLOCK(ACC_A, BLOCK_LOST)}, XFER(ACC_A, ACC_B, 1), LEDGER_ERR_ACCOUNT_BLOCKED,
     "debit_account_id", 0, false, NULL},
    {"transfer: credit blocked USER", {BLOCK(ACC_B, BLOCK_USER)}, XFER(ACC_A, ACC_B, 1), LEDGER_ERR_ACCOUNT_BLOCKED,
     "credit_account_id", 0, false, NULL},
    {"transfer: credit blocked COMPLIANCE", {BLOCK(ACC_B, BLOCK_COMPLIANCE)}, XFER(ACC_A, ACC_B, 1),
     LEDGER_ERR_ACCOUNT_BLOCKED, "credit_account_id", 0, false, NULL},
    {"transfer: from a blocked internal account", {BLOCK(ACC_I1, BLOCK_SYSTEM)}, XFER(ACC_I1, ACC_B, 1),
     LEDGER_ERR_ACCOUNT_BLOCKED, "debit_account_id", 0, false, NULL},
    {"overdraft: 500 of 500 from balance 0", {{0}}, XFER(ACC_O, ACC_B, 500), LEDGER_ERR_OK, NULL, 1, false,
     check_overdraft_used},
    {"overdraft: 501 of 500 from balance 0", {{0}}, XFER(ACC_O, ACC_B, 501), LEDGER_ERR_FUNDS_INSUFFICIENT, "amount",
     0, false, NULL},
    {"overdraft: 1 more once the 500 are used", {XFER(ACC_O, ACC_B, 500)}, XFER(ACC_O, ACC_B, 1),
     LEDGER_ERR_FUNDS_INSUFFICIENT, "amount", 0, false, NULL},
    {"overdraft: balance 10 + overdraft 500 sends 510", {XFER(ACC_A, ACC_O, 10)}, XFER(ACC_O, ACC_B, 510),
     LEDGER_ERR_OK, NULL, 1, false, NULL},
    {"overdraft: balance 10 + overdraft 500 cannot send 511", {XFER(ACC_A, ACC_O, 10)}, XFER(ACC_O, ACC_B, 511),
     LEDGER_ERR_FUNDS_INSUFFICIENT, "amount", 0, false, NULL},
    {"internal: may go negative", {{0}}, XFER(ACC_I1, ACC_B, 1000000), LEDGER_ERR_OK, NULL, 1, false,
     check_internal_negative},
    {"internal: INT64_MAX in one transfer", {{0}}, XFER(ACC_I1, ACC_B, INT64_MAX), LEDGER_ERR_OK, NULL, 1, false,
     check_credits_at_max},
    {"overflow: credits reach INT64_MAX exactly", {XFER(ACC_I1, ACC_B, INT64_MAX - 1)}, XFER(ACC_I2, ACC_B, 1),
     LEDGER_ERR_OK, NULL, 1, false, check_credits_at_max},
    {"overflow: credits past INT64_MAX", {XFER(ACC_I1, ACC_B, INT64_MAX)}, XFER(ACC_I2, ACC_B, 1),
     LEDGER_ERR_BALANCE_OVERFLOW, "amount", 0, false, NULL},
    {"overflow: credits past INT64_MAX by a large amount", {XFER(ACC_I1, ACC_B, INT64_MAX - 5)},
     XFER(ACC_I2, ACC_B, 6), LEDGER_ERR_BALANCE_OVERFLOW, "amount", 0, false, NULL},
    {"overflow: debits past INT64_MAX", {XFER(ACC_I1, ACC_B, INT64_MAX)}, XFER(ACC_I1, ACC_A, 1),
     LEDGER_ERR_BALANCE_OVERFLOW, "amount", 0, false, NULL},
    {"overflow: a customer holding INT64_MAX can spend it", {XFER(ACC_I1, ACC_B, INT64_MAX)},
     XFER(ACC_B, ACC_I2, INT64_MAX), LEDGER_ERR_OK, NULL, 1, false, NULL},

    /* deposits */
    {"deposit: first in a currency opens its funding account", {{0}}, DEPOSIT(ACC_U, 250, "USD"), LEDGER_ERR_OK,
     NULL, 2, false, check_first_deposit_opens_funding},
    {"deposit: second in a currency appends one event", {DEPOSIT(ACC_U, 1, "USD")}, DEPOSIT(ACC_U, 250, "USD"),
     LEDGER_ERR_OK, NULL, 1, false, NULL},
    {"deposit: INT64_MAX into an empty account", {{0}}, DEPOSIT(ACC_B, INT64_MAX, "EUR"), LEDGER_ERR_BALANCE_OVERFLOW,
     "amount", 0, false, NULL},
    {"deposit: up to INT64_MAX funding debits", {{0}}, DEPOSIT(ACC_B, INT64_MAX - 1000, "EUR"), LEDGER_ERR_OK, NULL,
     1, false, NULL},
    {"deposit: to an internal account", {{0}}, DEPOSIT(ACC_I1, 1, "EUR"), LEDGER_ERR_ACCOUNT_KIND_INVALID,
     "account_id", 0, false, NULL},
    {"deposit: to the funding account itself", {{0}}, DEPOSIT(ACC_FUND_EUR, 1, "EUR"),
     LEDGER_ERR_ACCOUNT_KIND_INVALID, "account_id", 0, false, NULL},
    {"deposit: to an unknown account", {{0}}, DEPOSIT(ACC_GHOST, 1, "EUR"), LEDGER_ERR_ACCOUNT_NOT_FOUND,
     "account_id", 0, false, NULL},
    {"deposit: amount 0", {{0}}, DEPOSIT(ACC_B, 0, "EUR"), LEDGER_ERR_AMOUNT_NOT_POSITIVE, "amount", 0, false, NULL},
    {"deposit: amount -1", {{0}}, DEPOSIT(ACC_B, -1, "EUR"), LEDGER_ERR_AMOUNT_NOT_POSITIVE, "amount", 0, false,
     NULL},
    {"deposit: unknown currency", {{0}}, DEPOSIT(ACC_B, 1, "ABC"), LEDGER_ERR_CURRENCY_UNKNOWN, "currency", 0, false,
     NULL},
    {"deposit: currency differs from the account", {{0}}, DEPOSIT(ACC_U, 1, "EUR"), LEDGER_ERR_CURRENCY_MISMATCH,
     "account_id", 0, false, NULL},
    {"deposit: to a blocked account", {BLOCK(ACC_B, BLOCK_SYSTEM)}, DEPOSIT(ACC_B, 1, "EUR"),
     LEDGER_ERR_ACCOUNT_BLOCKED, "account_id", 0, false, NULL},

    /* transfer ids */
    {"transfer id: same id, same content", {XFER_ID(ACC_A, ACC_B, 10, 1, "rent")}, XFER_ID(ACC_A, ACC_B, 10, 1, "rent"),
     LEDGER_ERR_OK, NULL, 0, true, NULL},
    {"transfer id: same content replays even without the funds now", {XFER_ID(ACC_A, ACC_B, 1000, 1, "all")},
     XFER_ID(ACC_A, ACC_B, 1000, 1, "all"), LEDGER_ERR_OK, NULL, 0, true, NULL},
    {"transfer id: same id, other amount", {XFER_ID(ACC_A, ACC_B, 10, 1, "rent")}, XFER_ID(ACC_A, ACC_B, 11, 1, "rent"),
     LEDGER_ERR_TRANSFER_ID_REUSED, "id", 0, false, NULL},
    {"transfer id: same id, other reference", {XFER_ID(ACC_A, ACC_B, 10, 1, "rent")},
     XFER_ID(ACC_A, ACC_B, 10, 1, "food"), LEDGER_ERR_TRANSFER_ID_REUSED, "id", 0, false, NULL},
    {"transfer id: same id, other credit account", {XFER_ID(ACC_A, ACC_B, 10, 1, "rent")},
     XFER_ID(ACC_A, ACC_O, 10, 1, "rent"), LEDGER_ERR_TRANSFER_ID_REUSED, "id", 0, false, NULL},
    {"transfer id: same id, swapped direction", {XFER_ID(ACC_A, ACC_B, 10, 1, "rent")},
     XFER_ID(ACC_B, ACC_A, 10, 1, "rent"), LEDGER_ERR_TRANSFER_ID_REUSED, "id", 0, false, NULL},
};

#define RULES_COUNT (sizeof rules / sizeof rules[0])

struct snapshot {
    uint8_t digest[LEDGER_HASH_LEN];
    uint64_t accounts;
    struct account dr, cr;
    bool has_dr, has_cr;
};

static void take_snapshot(struct fx *fx, const struct op *op, struct snapshot *s)
{
    memset(s, 0, sizeof *s);
    ledger_state_digest(fx->st, s->digest);
    s->accounts = ledger_state_account_count(fx->st);
    enum acct dr = op->kind == OP_DEPOSIT ? (strcmp(op->currency, "USD") == 0 ? ACC_FUND_USD : ACC_FUND_EUR)
                   : op->kind == OP_TRANSFER ? op->acct : ACC_NONE;
    enum acct cr = op->kind == OP_DEPOSIT ? op->acct : op->kind == OP_TRANSFER ? op->credit : ACC_NONE;
    struct account *a = dr != ACC_NONE ? acct(fx, dr) : NULL;
    if (a != NULL)
        s->dr = *a, s->has_dr = true;
    if (cr != ACC_NONE && (a = acct(fx, cr)) != NULL)
        s->cr = *a, s->has_cr = true;
}

/* The effects every successful command must have, by kind. */
static void check_ok_effects(struct fx *fx, const struct rule *r, const struct outcome *o, const struct snapshot *s)
{
    const struct op *op = &r->op;
    cr_assert_gt(o->n_events, 0, "%s: a success appends", r->what);
    const struct event *last = &o->events[o->n_events - 1];
    if (op->kind == OP_OPEN) {
        cr_assert_eq(last->type, EVENT_ACCOUNT_OPENED, "%s", r->what);
        const char *iban = last->data.opened.iban;
        cr_assert(iban_is_valid(iban), "%s: IBAN %s is not valid", r->what, iban);
        cr_assert_eq(strlen(iban), 27, "%s", r->what);
        cr_assert_eq(strncmp(iban, "FR", 2), 0, "%s", r->what);
        struct account *a = acct(fx, op->acct);
        cr_assert_not_null(a, "%s", r->what);
        cr_assert_str_eq(a->iban, iban);
        cr_assert_str_eq(o->c->account.iban, iban, "the command carries the account snapshot");
        cr_assert_eq(a->overdraft_limit_minor, op->amount);
        cr_assert_eq(a->state, ACCOUNT_STATE_ACTIVE);
        for (uint64_t i = 0; i + 1 < ledger_state_account_count(fx->st); i++)
            cr_assert_str_neq(ledger_state_account_at(fx->st, i)->iban, iban, "%s: IBANs are distinct", r->what);
        cr_assert_eq(ledger_state_account_by_name(fx->st, op->holder, op->name), a);
    } else if (op->kind == OP_BLOCK || op->kind == OP_UNBLOCK) {
        cr_assert_eq(last->type, op->kind == OP_BLOCK ? EVENT_ACCOUNT_BLOCKED : EVENT_ACCOUNT_UNBLOCKED);
        cr_assert_eq(last->data.blocked.reason, op->reason);
        uint8_t blocks = acct(fx, op->acct)->blocks;
        cr_assert_eq(!!(blocks & op->reason), op->kind == OP_BLOCK, "%s", r->what);
    } else if (op->kind == OP_CLOSE) {
        cr_assert_eq(last->type, EVENT_ACCOUNT_CLOSED);
        cr_assert_eq(acct(fx, op->acct)->state, ACCOUNT_STATE_CLOSED, "%s", r->what);
        cr_assert_str_eq(account_state_name(acct(fx, op->acct)), "closed");
    } else {
        int64_t moved = op->amount;
        const struct account *dr = acct(fx, op->kind == OP_DEPOSIT ? (strcmp(op->currency, "USD") == 0
                                                                          ? ACC_FUND_USD : ACC_FUND_EUR)
                                                                   : op->acct);
        const struct account *cr = acct(fx, op->kind == OP_DEPOSIT ? op->acct : op->credit);
        int64_t dr_before = s->has_dr ? s->dr.debits_posted : 0;
        cr_assert_eq(dr->debits_posted - dr_before, moved, "%s: debit side moved", r->what);
        cr_assert_eq(cr->credits_posted - s->cr.credits_posted, moved, "%s: credit side moved", r->what);
        cr_assert_eq(dr->credits_posted, s->has_dr ? s->dr.credits_posted : 0, "%s", r->what);
        cr_assert_eq(cr->debits_posted, s->cr.debits_posted, "%s", r->what);
        cr_assert_eq(last->type, EVENT_TRANSFER_EXECUTED, "%s", r->what);
        cr_assert_eq(last->data.transfer.amount_minor, op->amount);
        cr_assert_eq(o->item->seq, last->seq, "%s: the item names its event", r->what);
        cr_assert_eq(o->item->ts_ns, o->c->now_ns);
        cr_assert_eq(cr->last_seq, last->seq);
    }
}

ParameterizedTestParameters(decide, rules)
{
    static size_t index[RULES_COUNT];
    for (size_t i = 0; i < RULES_COUNT; i++)
        index[i] = i;
    return cr_make_param_array(size_t, index, RULES_COUNT);
}

ParameterizedTest(size_t *index, decide, rules)
{
    /* Proves one business rule (the row's `what`): its result code, offending field, events
     * appended and effects on balances; a rejection appends nothing and changes nothing. */
    const struct rule *r = &rules[*index];
    struct fx fx;
    fx_init(&fx);
    for (size_t i = 0; i < SETUP_OPS_MAX && r->setup[i].kind != OP_NONE; i++)
        must(&fx, &r->setup[i], r->what);
    struct snapshot before;
    take_snapshot(&fx, &r->op, &before);
    size_t log_before = fx.log_len;
    uint64_t seq_before = fx.next_seq;

    struct cmd c;
    struct transfer_item item;
    run_op(&fx, &r->op, &c, &item);
    const char *field;
    enum ledger_err err = op_result(&c, &item, &field);
    cr_assert_eq(err, r->expect, "%s: got %s, expected %s", r->what, ledger_err_name(err),
                 ledger_err_name(r->expect));
    if (r->field == NULL)
        cr_assert_null(field, "%s: field %s", r->what, field);
    else
        cr_assert(field != NULL && strcmp(field, r->field) == 0, "%s: field %s, expected %s", r->what,
                  field ? field : "(null)", r->field);
    size_t appended = fx.log_len - log_before;
    cr_assert_eq(appended, r->events, "%s: %zu events appended, expected %zu", r->what, appended, r->events);
    cr_assert_eq(c.seq, fx.next_seq - 1, "%s: cmd.seq is the last event (or the head)", r->what);
    for (size_t i = 0; i < appended; i++) {
        const struct event *ev = &fx.log[log_before + i];
        cr_assert_eq(ev->seq, seq_before + i);
        cr_assert_eq(ev->ts_ns, c.now_ns, "the command's time stamps its events");
        cr_assert_str_eq(ev->actor, "tester");
        cr_assert(ledger_id_equal(&ev->cmd_id, &c.cmd_id));
    }
    if (c.type == CMD_TRANSFERS)
        cr_assert_eq(item.replayed, r->replayed, "%s: replayed", r->what);
    if (r->replayed)
        cr_assert_eq(item.seq, fx.tid_seq[r->op.tid], "%s: the original seq", r->what);

    uint8_t digest[LEDGER_HASH_LEN];
    ledger_state_digest(fx.st, digest);
    if (r->expect != LEDGER_ERR_OK || r->replayed) {
        cr_assert_arr_eq(digest, before.digest, LEDGER_HASH_LEN, "%s: balances unchanged", r->what);
        cr_assert_eq(ledger_state_account_count(fx.st), before.accounts, "%s: no account opened", r->what);
    } else {
        struct outcome o = {&c, &item, &fx.log[log_before], appended};
        check_ok_effects(&fx, r, &o, &before);
    }
    if (r->check != NULL) {
        struct outcome o = {&c, &item, &fx.log[log_before], appended};
        r->check(&fx, r, &o);
    }
    assert_log_replays(&fx, r->what);
    fx_release(&fx);
}

/* ---- several commands and batches ------------------------------------------------------------- */

/* Builds a transfers command over items (count of them). */
static void transfers_cmd(struct cmd *c, struct transfer_item *items, size_t count, bool linked)
{
    memset(c, 0, sizeof *c);
    c->type = CMD_TRANSFERS;
    c->u.transfers.items = items;
    c->u.transfers.count = count;
    c->u.transfers.linked = linked;
}

static int64_t posted(struct fx *fx, enum acct a)
{
    struct balance b;
    cr_assert(account_balance(acct(fx, a), &b));
    return b.posted;
}

Test(decide, iban_distinct_across_many_accounts)
{
    /* Proves 200 successive accounts (customer and internal, several holders) all get valid,
     * distinct French IBANs of 27 characters. */
    struct fx fx;
    fx_init(&fx);
    for (int i = 0; i < 200; i++) {
        char name[32], holder[32];
        snprintf(name, sizeof name, "test:many:%d", i);
        snprintf(holder, sizeof holder, "h%d", i % 7);
        struct cmd c = {.type = CMD_OPEN_ACCOUNT};
        c.u.open.account_id = ledger_id_from_name(name);
        c.u.open.kind = i % 5 == 0 ? ACCOUNT_KIND_INTERNAL : ACCOUNT_KIND_CUSTOMER;
        snprintf(c.u.open.holder_id, sizeof c.u.open.holder_id, "%s", holder);
        snprintf(c.u.open.friendly_name, sizeof c.u.open.friendly_name, "acct-%d", i);
        memcpy(c.u.open.currency, "EUR", 4);
        run(&fx, &c);
        cr_assert_eq(c.result, LEDGER_ERR_OK);
    }
    uint64_t n = ledger_state_account_count(fx.st);
    for (uint64_t i = 0; i < n; i++) {
        const char *iban = ledger_state_account_at(fx.st, i)->iban;
        cr_assert(iban_is_valid(iban), "%s", iban);
        cr_assert_eq(strlen(iban), 27);
        cr_assert_eq(strncmp(iban, "FR", 2), 0);
        for (uint64_t k = 0; k < i; k++)
            cr_assert_str_neq(ledger_state_account_at(fx.st, k)->iban, iban);
    }
    fx_release(&fx);
}

Test(decide, batch_unlinked_items_are_independent)
{
    /* Proves that in an unlinked batch each item gets its own result, failing items append
     * nothing and do not stop the others, and item k sees the effect of items before it. */
    struct fx fx;
    fx_init(&fx);
    struct op ops[] = {
        XFER(ACC_A, ACC_B, 100),    /* ok: A 900 */
        XFER(ACC_A, ACC_B, 0),      /* AMOUNT_NOT_POSITIVE */
        XFER(ACC_A, ACC_GHOST, 5),  /* ACCOUNT_NOT_FOUND */
        XFER(ACC_A, ACC_O, 200),    /* ok: A 700 */
        XFER(ACC_A, ACC_B, 701),    /* FUNDS_INSUFFICIENT: sees the two transfers above */
        XFER(ACC_A, ACC_B, 700),    /* ok: exactly what is left */
        XFER(ACC_B, ACC_A, 800),    /* ok: B received 100 + 700 */
    };
    enum ledger_err want[] = {LEDGER_ERR_OK, LEDGER_ERR_AMOUNT_NOT_POSITIVE, LEDGER_ERR_ACCOUNT_NOT_FOUND, LEDGER_ERR_OK,
                              LEDGER_ERR_FUNDS_INSUFFICIENT, LEDGER_ERR_OK, LEDGER_ERR_OK};
    size_t n = sizeof ops / sizeof ops[0];
    struct transfer_item items[BATCH_ITEMS_MAX];
    for (size_t i = 0; i < n; i++)
        item_from_op(&fx, &ops[i], &items[i]);
    struct cmd c;
    transfers_cmd(&c, items, n, false);
    size_t log_before = fx.log_len;
    run(&fx, &c);
    cr_assert_eq(c.result, LEDGER_ERR_OK);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(items[i].result, want[i], "item %zu: %s", i, ledger_err_name(items[i].result));
        cr_assert_eq(items[i].seq != 0, want[i] == LEDGER_ERR_OK, "item %zu seq", i);
    }
    cr_assert_eq(fx.log_len - log_before, 4, "one event per successful item");
    cr_assert_eq(items[6].seq, fx.next_seq - 1);
    cr_assert_eq(posted(&fx, ACC_A), 1000 - 100 - 200 - 700 + 800);
    cr_assert_eq(posted(&fx, ACC_B), 100 + 700 - 800);
    cr_assert_eq(posted(&fx, ACC_O), 200);
    assert_log_replays(&fx, "unlinked batch");
    fx_release(&fx);
}

Test(decide, batch_same_id_twice_replays_second)
{
    /* Proves that within one batch the second item with the same id and content is an
     * idempotent replay of the first (one event, same seq), and a different content is refused. */
    struct fx fx;
    fx_init(&fx);
    struct op ops[] = {XFER_ID(ACC_A, ACC_B, 10, 3, "x"), XFER_ID(ACC_A, ACC_B, 10, 3, "x"),
                       XFER_ID(ACC_A, ACC_B, 11, 3, "x")};
    struct transfer_item items[3];
    for (size_t i = 0; i < 3; i++)
        item_from_op(&fx, &ops[i], &items[i]);
    struct cmd c;
    transfers_cmd(&c, items, 3, false);
    size_t log_before = fx.log_len;
    run(&fx, &c);
    cr_assert_eq(items[0].result, LEDGER_ERR_OK);
    cr_assert_not(items[0].replayed);
    cr_assert_eq(items[1].result, LEDGER_ERR_OK);
    cr_assert(items[1].replayed);
    cr_assert_eq(items[1].seq, items[0].seq);
    cr_assert_eq(items[2].result, LEDGER_ERR_TRANSFER_ID_REUSED);
    cr_assert_eq(fx.log_len - log_before, 1);
    cr_assert_eq(posted(&fx, ACC_B), 10);
    fx_release(&fx);
}

/* Runs a linked batch in which item `bad` fails with `why`; checks the all-or-nothing outcome.
 * `opened` is the number of funding accounts the batch opens for its deposits: opening an account
 * cannot be undone, so a linked chain opens them before its undo mark and they stay (their
 * account.opened events are the only events a failed chain may append). */
static void linked_fails(struct op *ops, size_t n, size_t bad, enum ledger_err why, const char *why_field,
                         size_t opened)
{
    struct fx fx;
    fx_init(&fx);
    struct transfer_item items[BATCH_ITEMS_MAX];
    for (size_t i = 0; i < n; i++)
        item_from_op(&fx, &ops[i], &items[i]);
    uint8_t before[LEDGER_HASH_LEN], after[LEDGER_HASH_LEN];
    ledger_state_digest(fx.st, before);
    uint64_t accounts = ledger_state_account_count(fx.st);
    struct account *saved = calloc(accounts, sizeof *saved);
    cr_assert_not_null(saved);
    for (uint64_t i = 0; i < accounts; i++)
        saved[i] = *ledger_state_account_at(fx.st, i);
    size_t log_before = fx.log_len;
    uint64_t head = fx.next_seq - 1;
    struct cmd c;
    transfers_cmd(&c, items, n, true);
    run(&fx, &c);
    cr_assert_eq(c.result, LEDGER_ERR_OK);
    for (size_t i = 0; i < n; i++) {
        enum ledger_err want = i == bad ? why : LEDGER_ERR_LINKED_TRANSFER_FAILED;
        cr_assert_eq(items[i].result, want, "item %zu: %s, expected %s", i, ledger_err_name(items[i].result),
                     ledger_err_name(want));
        cr_assert_eq(items[i].seq, 0, "item %zu has no event", i);
        cr_assert_not(items[i].replayed);
    }
    cr_assert_str_eq(items[bad].field, why_field);
    cr_assert_eq(fx.log_len, log_before + opened, "a failed linked batch appends no transfer");
    for (size_t i = log_before; i < fx.log_len; i++) {
        cr_assert_eq(fx.log[i].type, EVENT_ACCOUNT_OPENED);
        cr_assert_eq(fx.log[i].data.opened.kind, ACCOUNT_KIND_INTERNAL);
    }
    cr_assert_eq(c.seq, head + opened, "the command reports the head");
    cr_assert_eq(ledger_state_account_count(fx.st), accounts + opened, "no account but the funding ones");
    for (uint64_t i = 0; i < accounts; i++) {
        const struct account *a = ledger_state_account_at(fx.st, i);
        cr_assert_eq(a->debits_posted, saved[i].debits_posted, "account %llu", (unsigned long long)i);
        cr_assert_eq(a->credits_posted, saved[i].credits_posted, "account %llu", (unsigned long long)i);
        cr_assert_eq(a->last_seq, saved[i].last_seq, "account %llu: last_seq unchanged", (unsigned long long)i);
    }
    for (uint64_t i = accounts; i < accounts + opened; i++) {
        const struct account *a = ledger_state_account_at(fx.st, i);
        cr_assert(a->debits_posted == 0 && a->credits_posted == 0, "a new funding account holds nothing");
    }
    ledger_state_digest(fx.st, after);
    if (opened == 0)
        cr_assert_arr_eq(after, before, LEDGER_HASH_LEN, "balances unchanged");
    free(saved);
    /* the ids of the rolled-back items are free again: reuse them with another content */
    for (size_t i = 0; i < n; i++) {
        if (i == bad || ops[i].kind != OP_TRANSFER)
            continue;
        struct op again = ops[i];
        again.amount = 1;
        again.reference = "again";
        struct cmd c2;
        struct transfer_item it2;
        run_op(&fx, &again, &c2, &it2);
        cr_assert_eq(it2.result, LEDGER_ERR_OK, "item %zu's id can be used again: %s", i,
                     ledger_err_name(it2.result));
        cr_assert_not(it2.replayed);
    }
    assert_log_replays(&fx, "after a failed linked batch");
    fx_release(&fx);
}

Test(decide, linked_last_item_fails)
{
    /* Proves a linked batch whose last item lacks funds (after the first two used them) is
     * refused as a whole: LINKED_TRANSFER_FAILED on the others, nothing appended or changed. */
    struct op ops[] = {XFER_ID(ACC_A, ACC_B, 600, 1, ""), XFER_ID(ACC_A, ACC_O, 300, 2, ""),
                       XFER_ID(ACC_A, ACC_B, 101, 3, "")};
    linked_fails(ops, 3, 2, LEDGER_ERR_FUNDS_INSUFFICIENT, "amount", 0);
}

Test(decide, linked_first_item_fails)
{
    /* Proves a linked batch whose first item fails leaves the later (valid) items unexecuted. */
    struct op ops[] = {XFER_ID(ACC_A, ACC_GHOST, 1, 1, ""), XFER_ID(ACC_A, ACC_B, 10, 2, ""),
                       XFER_ID(ACC_I1, ACC_B, 10, 3, "")};
    linked_fails(ops, 3, 0, LEDGER_ERR_ACCOUNT_NOT_FOUND, "credit_account_id", 0);
}

Test(decide, linked_middle_item_fails)
{
    /* Proves a linked batch whose middle item is blocked rolls back the first item's transfer. */
    struct op ops[] = {XFER_ID(ACC_A, ACC_B, 10, 1, ""), XFER_ID(ACC_A, ACC_A, 10, 2, ""),
                       XFER_ID(ACC_I1, ACC_B, 10, 3, "")};
    linked_fails(ops, 3, 1, LEDGER_ERR_SAME_ACCOUNT, "credit_account_id", 0);
}

Test(decide, linked_with_first_deposit_in_a_currency_fails)
{
    /* Proves a failed linked batch whose first item is the first USD deposit moves no money and
     * leaves state and log in agreement: the USD funding account it opened is in both (its
     * account.opened is the only event appended), the deposit itself is rolled back. */
    struct op ops[] = {DEPOSIT(ACC_U, 50, "USD"), XFER_ID(ACC_A, ACC_B, 5000, 2, "")};
    linked_fails(ops, 2, 1, LEDGER_ERR_FUNDS_INSUFFICIENT, "amount", 1);
}

Test(decide, deposit_after_rolled_back_first_deposit_replays)
{
    /* Proves that after a failed linked batch whose first item was the first USD deposit, the
     * next USD deposit is one transfer.executed on a funding account the log itself opened, so
     * the whole log replays to the live state. */
    struct op ops[] = {DEPOSIT(ACC_U, 50, "USD"), XFER_ID(ACC_A, ACC_B, 5000, 2, "")};
    struct fx fx;
    fx_init(&fx);
    struct transfer_item items[2];
    for (size_t i = 0; i < 2; i++)
        item_from_op(&fx, &ops[i], &items[i]);
    struct cmd c;
    transfers_cmd(&c, items, 2, true);
    run(&fx, &c);
    must(&fx, &(struct op)DEPOSIT(ACC_U, 70, "USD"), "later deposit");
    cr_assert_eq(posted(&fx, ACC_U), 70);
    assert_log_replays(&fx, "deposit after a rolled-back first deposit");
    fx_release(&fx);
}

Test(decide, linked_all_succeed)
{
    /* Proves a linked batch whose items all pass executes every one, in order, one event each. */
    struct fx fx;
    fx_init(&fx);
    struct op ops[] = {XFER(ACC_A, ACC_B, 600), XFER(ACC_B, ACC_O, 600), XFER(ACC_O, ACC_A, 1100),
                       DEPOSIT(ACC_O, 600, "EUR")};
    struct transfer_item items[4];
    for (size_t i = 0; i < 4; i++)
        item_from_op(&fx, &ops[i], &items[i]);
    struct cmd c;
    transfers_cmd(&c, items, 4, true);
    size_t log_before = fx.log_len;
    run(&fx, &c);
    for (size_t i = 0; i < 4; i++) {
        cr_assert_eq(items[i].result, LEDGER_ERR_OK, "item %zu: %s", i, ledger_err_name(items[i].result));
        cr_assert_eq(items[i].seq, fx.log[log_before + i].seq);
    }
    cr_assert_eq(fx.log_len - log_before, 4);
    cr_assert_eq(posted(&fx, ACC_A), 1000 - 600 + 1100);
    cr_assert_eq(posted(&fx, ACC_B), 0);
    cr_assert_eq(posted(&fx, ACC_O), 600 - 1100 + 600);
    assert_log_replays(&fx, "linked ok");
    fx_release(&fx);
}

Test(decide, command_sees_previous_commands)
{
    /* Proves command k is decided against the effects of commands 1..k-1: two transfers that
     * each fit the balance but together exceed it: the second is FUNDS_INSUFFICIENT. */
    struct fx fx;
    fx_init(&fx);
    struct op first = XFER(ACC_A, ACC_B, 600), second = XFER(ACC_A, ACC_O, 600);
    struct cmd c;
    struct transfer_item item;
    run_op(&fx, &first, &c, &item);
    cr_assert_eq(item.result, LEDGER_ERR_OK);
    run_op(&fx, &second, &c, &item);
    cr_assert_eq(item.result, LEDGER_ERR_FUNDS_INSUFFICIENT);
    cr_assert_str_eq(item.field, "amount");
    cr_assert_eq(posted(&fx, ACC_A), 400);
    /* a block is seen by the very next command too */
    must(&fx, &(struct op)BLOCK(ACC_B, BLOCK_USER), "block");
    run_op(&fx, &(struct op)XFER(ACC_A, ACC_B, 1), &c, &item);
    cr_assert_eq(item.result, LEDGER_ERR_ACCOUNT_BLOCKED);
    fx_release(&fx);
}

/* ---- determinism ------------------------------------------------------------------------------ */

static const struct op script[] = {
    OPEN(ACC_NEW, "holder-7", "spare", "EUR", 100),
    DEPOSIT(ACC_B, 5000, "EUR"),
    DEPOSIT(ACC_U, 700, "USD"),
    XFER_ID(ACC_B, ACC_NEW, 1200, 4, "gift"),
    XFER(ACC_NEW, ACC_O, 1300),
    XFER(ACC_NEW, ACC_O, 1),             /* refused: funds */
    BLOCK(ACC_O, BLOCK_LOST),
    XFER(ACC_A, ACC_O, 1),               /* refused: blocked */
    UNBLOCK(ACC_O, BLOCK_LOST),
    XFER_ID(ACC_B, ACC_NEW, 1200, 4, "gift"), /* replay */
    XFER(ACC_I1, ACC_I2, 123456789),
    XFER_CUR(ACC_U, ACC_A, 1, "USD"),    /* refused: currency */
    CLOSE(ACC_U),                        /* refused: balance */
};

/* Runs the script plus one linked batch on a fresh fixture. */
static void run_script(struct fx *fx)
{
    fx_init(fx);
    for (size_t i = 0; i < sizeof script / sizeof script[0]; i++) {
        struct cmd c;
        struct transfer_item item;
        run_op(fx, &script[i], &c, &item);
    }
    struct op linked[] = {XFER(ACC_A, ACC_B, 100), XFER(ACC_B, ACC_A, 50)};
    struct transfer_item items[2];
    for (size_t i = 0; i < 2; i++)
        item_from_op(fx, &linked[i], &items[i]);
    struct cmd c;
    transfers_cmd(&c, items, 2, true);
    run(fx, &c);
}

/* Chains and encodes the log into one byte string; returns its length. */
static size_t encode_log(struct fx *fx, uint8_t *out, size_t cap)
{
    uint8_t prev[LEDGER_HASH_LEN] = {0};
    size_t len = 0;
    for (size_t i = 0; i < fx->log_len; i++) {
        memcpy(fx->log[i].prev_hash, prev, LEDGER_HASH_LEN);
        size_t n = event_encode(&fx->log[i], out + len, cap - len);
        cr_assert_gt(n, 0, "event %zu encodes", i + 1);
        len += n;
        memcpy(prev, fx->log[i].hash, LEDGER_HASH_LEN);
    }
    return len;
}

Test(decide, deterministic)
{
    /* Proves decide is a function of state and command: the same commands on two fresh states
     * (different hash seeds) give byte-identical encoded events and equal digests, and applying
     * those events to a third fresh state gives the same digest. */
    struct fx one, two;
    run_script(&one);
    run_script(&two);
    cr_assert_eq(one.log_len, two.log_len);
    cr_assert_gt(one.log_len, 15);
    size_t cap = one.log_len * LEDGER_RECORD_BYTES_MAX;
    uint8_t *a = malloc(cap), *b = malloc(cap);
    cr_assert(a != NULL && b != NULL);
    size_t alen = encode_log(&one, a, cap), blen = encode_log(&two, b, cap);
    cr_assert_eq(alen, blen);
    cr_assert_eq(memcmp(a, b, alen), 0, "encoded events differ");
    cr_assert_arr_eq(one.log[one.log_len - 1].hash, two.log[two.log_len - 1].hash, LEDGER_HASH_LEN);

    uint8_t d1[LEDGER_HASH_LEN], d2[LEDGER_HASH_LEN], d3[LEDGER_HASH_LEN];
    ledger_state_digest(one.st, d1);
    ledger_state_digest(two.st, d2);
    cr_assert_arr_eq(d1, d2, LEDGER_HASH_LEN);
    struct ledger_state *third = ledger_state_new();
    size_t off = 0;
    uint8_t prev[LEDGER_HASH_LEN] = {0};
    for (size_t i = 0; i < one.log_len; i++) {
        struct event ev;
        /* decode each record back from the bytes, so the replay uses what would be on disk */
        size_t n = event_encode(&one.log[i], a + off, cap - off);
        cr_assert(event_hash_check(a + off, n, prev), "event %zu chains", i + 1);
        cr_assert_eq(event_decode(a + off, n, &ev), LEDGER_ERR_OK);
        cr_assert_eq(ledger_state_apply(third, &ev), LEDGER_ERR_OK, "event %zu applies", i + 1);
        ledger_state_commit_undo(third);
        memcpy(prev, ev.hash, LEDGER_HASH_LEN);
        off += n;
    }
    ledger_state_digest(third, d3);
    cr_assert_arr_eq(d1, d3, LEDGER_HASH_LEN, "replayed digest differs");
    ledger_state_free(third);
    free(a);
    free(b);
    fx_release(&one);
    fx_release(&two);
}
