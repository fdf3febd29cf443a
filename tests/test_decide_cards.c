/*
 * test_decide_cards.c: the card authorization rules of commands/decide_cards.c against an
 * in-memory state: every ISO 8583 response code, holds and balances, captures, reversals, refunds,
 * incremental authorizations, stand-in, expiry, idempotency, and double entry throughout.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "commands/commands.h"

#define NOW0 1795238400000000000ll /* 2026-11-20T00:00:00Z */
#define DAY_NS 86400000000000ll

#define SINK_EVENTS (LEDGER_HOLDS_EXPIRED_PER_COMMAND_MAX + 8)
static struct event sink_events[SINK_EVENTS];

struct fx {
    struct ledger_state *st;
    uint64_t next_seq;
    int64_t now;
    struct ledger_id account, card;
};

static struct fx fx;

static void run(struct cmd *c)
{
    struct event_sink sink = {sink_events, 0, SINK_EVENTS, fx.next_seq};
    fx.now += 1000;
    c->now_ns = fx.now;
    snprintf(c->actor, sizeof c->actor, "test");
    decide(fx.st, c, &sink);
    fx.next_seq = sink.next_seq;
}

static struct ledger_id open_account(const char *holder, const char *currency, int64_t fund)
{
    struct cmd c = {.type = CMD_OPEN_ACCOUNT};
    c.u.open.account_id = ledger_id_new_v7();
    c.u.open.kind = ACCOUNT_KIND_CUSTOMER;
    snprintf(c.u.open.holder_id, sizeof c.u.open.holder_id, "%s", holder);
    snprintf(c.u.open.friendly_name, sizeof c.u.open.friendly_name, "main");
    memcpy(c.u.open.currency, currency, 4);
    run(&c);
    cr_assert_eq(c.result, LEDGER_ERR_OK);
    if (fund > 0) {
        struct transfer_item t = {.id = ledger_id_new_v7(), .credit_account_id = c.u.open.account_id,
                                  .amount_minor = fund, .kind = TRANSFER_KIND_DEPOSIT};
        memcpy(t.currency, currency, 4);
        struct cmd d = {.type = CMD_TRANSFERS};
        d.u.transfers.items = &t;
        d.u.transfers.count = 1;
        run(&d);
        cr_assert_eq(t.result, LEDGER_ERR_OK);
    }
    return c.u.open.account_id;
}

static struct ledger_id issue_card(const struct ledger_id *account, const char *expiry, bool activate)
{
    struct cmd c = {.type = CMD_CARD_ISSUE};
    c.u.card_issue.card_id = ledger_id_new_v7();
    c.u.card_issue.account_id = *account;
    c.u.card_issue.type = CARD_TYPE_VIRTUAL;
    snprintf(c.u.card_issue.brand, sizeof c.u.card_issue.brand, "VISA");
    snprintf(c.u.card_issue.last_four, sizeof c.u.card_issue.last_four, "4242");
    snprintf(c.u.card_issue.token, sizeof c.u.card_issue.token, "tok_test");
    snprintf(c.u.card_issue.expiry, sizeof c.u.card_issue.expiry, "%s", expiry);
    snprintf(c.u.card_issue.name_on_card, sizeof c.u.card_issue.name_on_card, "A HOLDER");
    run(&c);
    cr_assert_eq(c.result, LEDGER_ERR_OK, "%s", ledger_err_name(c.result));
    if (activate) {
        struct cmd a = {.type = CMD_CARD_ACTIVATE};
        a.u.card_action.card_id = c.u.card_issue.card_id;
        run(&a);
        cr_assert_eq(a.result, LEDGER_ERR_OK);
    }
    return c.u.card_issue.card_id;
}

static void setup(void)
{
    memset(&fx, 0, sizeof fx);
    fx.st = ledger_state_new();
    fx.next_seq = 1;
    fx.now = NOW0;
    fx.account = open_account("cardholder", "EUR", 10000);
    fx.card = issue_card(&fx.account, "1129", true);
}

static void teardown(void)
{
    ledger_state_free(fx.st);
}

TestSuite(cards, .init = setup, .fini = teardown);

static struct cmd auth_cmd(const char *id, const struct ledger_id *card, int64_t amount)
{
    struct cmd c = {.type = CMD_CARD_AUTHORIZE};
    struct cmd_card_authorize *a = &c.u.card_auth;
    snprintf(a->authorization_id, sizeof a->authorization_id, "%s", id);
    a->card_id = *card;
    a->amount_minor = amount;
    memcpy(a->currency, "EUR", 4);
    snprintf(a->merchant.name, sizeof a->merchant.name, "SHOP");
    a->merchant.mcc = 5411;
    memcpy(a->merchant.country, "FR", 3);
    a->channel = CHANNEL_POS;
    a->category = AUTH_FINAL;
    a->hold_ttl_ns = 7 * DAY_NS;
    return c;
}

static struct cmd_card_authorize authorize(const char *id, int64_t amount)
{
    struct cmd c = auth_cmd(id, &fx.card, amount);
    run(&c);
    cr_assert_eq(c.result, LEDGER_ERR_OK);
    return c.u.card_auth;
}

static int64_t available(void)
{
    struct balance b;
    cr_assert(account_balance(ledger_state_account(fx.st, &fx.account), &b));
    return b.available;
}

static void assert_double_entry(void)
{
    __int128 dp = 0, cp = 0, dpost = 0, cpost = 0;
    for (uint64_t i = 0; i < ledger_state_account_count(fx.st); i++) {
        const struct account *a = ledger_state_account_at(fx.st, i);
        dp += a->debits_pending;
        cp += a->credits_pending;
        dpost += a->debits_posted;
        cpost += a->credits_posted;
    }
    cr_assert(dp == cp && dpost == cpost, "double entry holds for pending and posted");
}

/* An approval answers 00 with a six-digit approval code, holds the amount at once (available
 * drops, posted does not) and keeps double entry. */
Test(cards, approve_holds_funds)
{
    struct cmd_card_authorize a = authorize("A1", 2500);
    cr_expect(a.approved);
    cr_expect_str_eq(a.response_code, "00");
    cr_expect_eq(strlen(a.approval_code), 6);
    cr_expect_eq(a.approved_amount, 2500);
    cr_expect_eq(a.available_after, 7500);
    cr_expect_eq(available(), 7500);
    struct balance b;
    account_balance(ledger_state_account(fx.st, &fx.account), &b);
    cr_expect_eq(b.posted, 10000, "a hold is not posted");
    assert_double_entry();
}

/* A repeated authorization id gets the original answer and appends nothing. */
Test(cards, repeated_authorization_id_is_idempotent)
{
    struct cmd_card_authorize a = authorize("A2", 100);
    uint64_t seq = fx.next_seq;
    struct cmd_card_authorize b = authorize("A2", 100);
    cr_expect(b.replayed);
    cr_expect_str_eq(b.approval_code, a.approval_code);
    cr_expect_eq(b.approved_amount, 100);
    cr_expect_eq(fx.next_seq, seq, "no event appended");
    cr_expect_eq(available(), 9900, "held once");
}

struct code_case {
    const char *what;
    const char *code;
};

static void expect_decline(const char *id, int64_t amount, const char *code, const char *what)
{
    uint64_t seq = fx.next_seq;
    struct cmd_card_authorize a = authorize(id, amount);
    cr_expect(!a.approved, "%s", what);
    cr_expect_str_eq(a.response_code, code, "%s", what);
    cr_expect_eq(a.approved_amount, 0, "%s", what);
    cr_expect_eq(fx.next_seq, seq + 1, "%s: the decline is an event", what);
}

static void card_cmd(enum cmd_type type, uint8_t reason)
{
    struct cmd c = {.type = type};
    c.u.card_action.card_id = fx.card;
    c.u.card_action.reason = reason;
    run(&c);
    cr_assert_eq(c.result, LEDGER_ERR_OK, "%s", ledger_err_name(c.result));
}

/* Every card state check has its code: 14 unknown, 62 blocked or inactive, 41 lost, 43 stolen. */
Test(cards, card_state_codes)
{
    struct cmd c = auth_cmd("U1", &(struct ledger_id){{1, 2, 3}}, 100);
    run(&c);
    cr_expect_str_eq(c.u.card_auth.response_code, "14", "unknown card");
    card_cmd(CMD_CARD_BLOCK, CARD_BLOCK_USER);
    expect_decline("B1", 100, "62", "blocked card");
    card_cmd(CMD_CARD_UNBLOCK, CARD_BLOCK_USER);
    cr_expect_str_eq(authorize("B2", 100).response_code, "00", "unblocked");
    card_cmd(CMD_CARD_BLOCK, CARD_BLOCK_LOST);
    expect_decline("B3", 100, "41", "lost card");
    struct cmd u = {.type = CMD_CARD_UNBLOCK};
    u.u.card_action.card_id = fx.card;
    u.u.card_action.reason = CARD_BLOCK_LOST;
    run(&u);
    cr_expect_eq(u.result, LEDGER_ERR_CARD_FINAL, "LOST is final");
    fx.card = issue_card(&fx.account, "1129", true);
    card_cmd(CMD_CARD_BLOCK, CARD_BLOCK_STOLEN);
    expect_decline("B4", 100, "43", "stolen card");
    fx.card = issue_card(&fx.account, "1129", false);
    expect_decline("B5", 100, "62", "not activated");
}

/* 54 for an expired card; the card is valid through the last day of its expiry month. */
Test(cards, expired_card)
{
    fx.card = issue_card(&fx.account, "1026", true);
    expect_decline("E1", 100, "54", "expired in October 2026");
    fx.card = issue_card(&fx.account, "1126", true);
    cr_expect_str_eq(authorize("E2", 100).response_code, "00", "valid through November 2026");
}

/* 05 when the account is blocked. */
Test(cards, blocked_account)
{
    struct cmd b = {.type = CMD_BLOCK_ACCOUNT};
    b.u.action.account_id = fx.account;
    b.u.action.reason = BLOCK_COMPLIANCE;
    run(&b);
    expect_decline("X1", 100, "05", "blocked account");
}

static void set_limits(const struct card_limits *l)
{
    struct cmd c = {.type = CMD_CARD_LIMITS};
    c.u.card_limits.card_id = fx.card;
    c.u.card_limits.limits = *l;
    run(&c);
    cr_assert_eq(c.result, LEDGER_ERR_OK);
}

/* 57 for a disabled channel or a refused MCC or country; 61 amount limits; 65 count limits. */
Test(cards, limits_codes)
{
    struct card_limits l = {.ecom = false, .contactless = true, .atm = true, .blocked_mcc_n = 1,
                            .blocked_mcc = {7995}, .blocked_country_n = 1, .blocked_country = {"RU"},
                            .per_auth_max = 5000, .day_amount = 6000, .day_count = 3};
    set_limits(&l);
    struct cmd c = auth_cmd("L1", &fx.card, 100);
    c.u.card_auth.channel = CHANNEL_ECOM;
    run(&c);
    cr_expect_str_eq(c.u.card_auth.response_code, "57", "e-commerce off");
    c = auth_cmd("L2", &fx.card, 100);
    c.u.card_auth.merchant.mcc = 7995;
    run(&c);
    cr_expect_str_eq(c.u.card_auth.response_code, "57", "gambling MCC blocked");
    c = auth_cmd("L3", &fx.card, 100);
    memcpy(c.u.card_auth.merchant.country, "RU", 3);
    run(&c);
    cr_expect_str_eq(c.u.card_auth.response_code, "57", "country blocked");
    expect_decline("L4", 5001, "61", "over the per-authorization maximum");
    cr_expect_str_eq(authorize("L5", 5000).response_code, "00", "exactly the maximum");
    expect_decline("L6", 1001, "61", "day amount 6000 exceeded");
    cr_expect_str_eq(authorize("L7", 1000).response_code, "00", "day amount reached exactly");
    l.day_amount = 0;
    set_limits(&l);
    cr_expect_str_eq(authorize("L8", 1).response_code, "00", "third approval of the day: count 3 reached");
    expect_decline("L9", 1, "65", "a fourth exceeds day_count 3");
}

/* 51 without partial approval; 10 with the available amount when partial approval is allowed. */
Test(cards, insufficient_and_partial)
{
    expect_decline("F1", 10001, "51", "insufficient funds");
    struct cmd c = auth_cmd("F2", &fx.card, 12000);
    c.u.card_auth.partial_allowed = true;
    run(&c);
    cr_expect(c.u.card_auth.approved);
    cr_expect_str_eq(c.u.card_auth.response_code, "10");
    cr_expect_eq(c.u.card_auth.approved_amount, 10000);
    cr_expect_eq(available(), 0);
    expect_decline("F3", 1, "51", "nothing left");
}

static struct cmd hold_cmd(enum cmd_type type, const char *auth, const char *op, int64_t amount, bool final)
{
    struct cmd c = {.type = type};
    snprintf(c.u.card_capture.authorization_id, sizeof c.u.card_capture.authorization_id, "%s", auth);
    c.u.card_capture.operation_id = ledger_id_from_name(op);
    c.u.card_capture.amount_minor = amount;
    c.u.card_capture.final = final;
    run(&c);
    return c;
}

/* Partial captures post what is presented and release as much of the hold; a final capture
 * releases the rest; the hold then refuses further captures. */
Test(cards, partial_and_final_capture)
{
    authorize("C1", 3000);
    struct cmd c = hold_cmd(CMD_CARD_CAPTURE, "C1", "cap-1", 1000, false);
    cr_assert_eq(c.result, LEDGER_ERR_OK);
    cr_expect_eq(c.u.card_capture.released, 1000);
    cr_expect_eq(c.u.card_capture.held_after, 2000);
    cr_expect_eq(available(), 7000);
    c = hold_cmd(CMD_CARD_CAPTURE, "C1", "cap-2", 500, true);
    cr_expect_eq(c.u.card_capture.released, 2000, "final releases the rest");
    struct balance b;
    account_balance(ledger_state_account(fx.st, &fx.account), &b);
    cr_expect_eq(b.posted, 8500);
    cr_expect_eq(b.available, 8500);
    c = hold_cmd(CMD_CARD_CAPTURE, "C1", "cap-3", 1, false);
    cr_expect_eq(c.result, LEDGER_ERR_AUTHORIZATION_CLOSED);
    c = hold_cmd(CMD_CARD_CAPTURE, "C1", "cap-1", 1000, false);
    cr_expect(c.u.card_capture.replayed, "a repeated capture id is answered, not applied");
    assert_double_entry();
}

/* Over-capture (tips, fuel) is posted as presented, even beyond the hold. */
Test(cards, over_capture)
{
    authorize("O1", 1000);
    struct cmd c = hold_cmd(CMD_CARD_CAPTURE, "O1", "ocap", 1200, false);
    cr_assert_eq(c.result, LEDGER_ERR_OK);
    cr_expect_eq(c.u.card_capture.posted, 1200);
    cr_expect_eq(c.u.card_capture.released, 1000);
    cr_expect_eq(available(), 8800);
    assert_double_entry();
}

/* Reversals release part or all of a hold; more than held is refused. */
Test(cards, reversals)
{
    authorize("R1", 2000);
    struct cmd c = hold_cmd(CMD_CARD_REVERSE, "R1", "rev-1", 2001, false);
    cr_expect_eq(c.result, LEDGER_ERR_AMOUNT_EXCEEDS_HOLD);
    c = hold_cmd(CMD_CARD_REVERSE, "R1", "rev-2", 500, false);
    cr_expect_eq(c.u.card_capture.held_after, 1500);
    cr_expect_eq(available(), 8500);
    c = hold_cmd(CMD_CARD_REVERSE, "R1", "rev-3", 0, false);
    cr_expect_eq(c.u.card_capture.released, 1500, "0 = the whole remaining hold");
    cr_expect_eq(available(), 10000);
    c = hold_cmd(CMD_CARD_REVERSE, "NOPE", "rev-4", 0, false);
    cr_expect_eq(c.result, LEDGER_ERR_AUTHORIZATION_NOT_FOUND);
}

/* An incremental authorization adds to an open hold; its own id is idempotent; on a closed hold
 * it is declined 12. */
Test(cards, incremental)
{
    authorize("I1", 1000);
    struct cmd c = auth_cmd("I1-inc", &fx.card, 500);
    snprintf(c.u.card_auth.original_authorization_id, LEDGER_AUTH_ID_MAX, "I1");
    run(&c);
    cr_expect_str_eq(c.u.card_auth.response_code, "00");
    cr_expect_eq(available(), 8500);
    struct cmd again = auth_cmd("I1-inc", &fx.card, 500);
    snprintf(again.u.card_auth.original_authorization_id, LEDGER_AUTH_ID_MAX, "I1");
    run(&again);
    cr_expect(again.u.card_auth.replayed);
    cr_expect_eq(available(), 8500, "not held twice");
    struct cmd cap = hold_cmd(CMD_CARD_CAPTURE, "I1", "inc-cap", 1500, false);
    cr_expect_eq(cap.u.card_capture.released, 1500, "the capture consumes the whole increased hold");
    struct cmd late = auth_cmd("I1-inc2", &fx.card, 100);
    snprintf(late.u.card_auth.original_authorization_id, LEDGER_AUTH_ID_MAX, "I1");
    run(&late);
    cr_expect_str_eq(late.u.card_auth.response_code, "12", "nothing open to add to");
}

/* A stand-in advice is recorded and held even if it overdraws. */
Test(cards, stand_in_advice_overdraws)
{
    struct cmd c = auth_cmd("S1", &fx.card, 15000);
    c.u.card_auth.stand_in = true;
    run(&c);
    cr_expect(c.u.card_auth.approved);
    cr_expect_eq(available(), -5000);
    assert_double_entry();
}

/* Refunds credit the account; a repeated refund id is not applied twice. */
Test(cards, refunds)
{
    struct cmd c = {.type = CMD_CARD_REFUND};
    c.u.card_refund.refund_id = ledger_id_from_name("refund-1");
    c.u.card_refund.card_id = fx.card;
    c.u.card_refund.amount_minor = 700;
    memcpy(c.u.card_refund.currency, "EUR", 4);
    run(&c);
    cr_assert_eq(c.result, LEDGER_ERR_OK);
    cr_expect_eq(available(), 10700);
    struct cmd d = c;
    run(&d);
    cr_expect(d.u.card_refund.replayed);
    cr_expect_eq(available(), 10700);
    assert_double_entry();
}

/* Holds expire at their time, one event each, deterministically; closed holds never expire. */
Test(cards, expiry)
{
    authorize("X1", 100);
    authorize("X2", 200);
    struct cmd p = auth_cmd("X3", &fx.card, 300);
    p.u.card_auth.category = AUTH_PRE;
    p.u.card_auth.hold_ttl_ns = 30 * DAY_NS;
    run(&p);
    hold_cmd(CMD_CARD_REVERSE, "X2", "x2-rev", 0, false);
    cr_expect_eq(available(), 9600);
    struct cmd e = {.type = CMD_EXPIRE_HOLDS};
    run(&e);
    cr_expect_eq(e.u.expire.expired, 0, "nothing due yet");
    fx.now += 8 * DAY_NS;
    uint64_t seq = fx.next_seq;
    run(&e);
    cr_expect_eq(e.u.expire.expired, 1, "X1 only (X2 reversed, X3 is a 30-day pre-authorization)");
    cr_expect_eq(fx.next_seq, seq + 1);
    cr_expect_eq(available(), 9700);
    fx.now += 30 * DAY_NS;
    run(&e);
    cr_expect_eq(e.u.expire.expired, 1);
    cr_expect_eq(available(), 10000);
    run(&e);
    cr_expect_eq(e.u.expire.expired, 0);
    assert_double_entry();
}
