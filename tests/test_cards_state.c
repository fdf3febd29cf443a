/*
 * test_cards_state.c: the card part of the inline projection (projections/cards.c) against
 * hand-built events applied with ledger_state_apply(), no RocksDB.
 *
 * Every state starts with account.opened for customer account acct(1) (EUR, overdraft 1,000,000)
 * and the EUR card-settlement internal account. Cards are card(n), holds are named by their
 * authorization id ("A", "B", ...) and live at ledger_id_from_name("auth:" + id). Contradictions
 * are a data table driven by one parameterized test; each must leave the state exactly as it was.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events/events.h"
#include "projections/projections.h"

#define NS 1000000000ll
#define DAY_NS (86400ll * NS)
#define SAT_2026_11_21_NS (1795219200ll * NS) /* 2026-11-21 00:00:00 UTC, a Saturday */
#define T0_NS (SAT_2026_11_21_NS + 12 * 3600 * NS)
#define OVERDRAFT 1000000
#define LOG_MAX 4096
#define HEAP_HOLDS 300

/* ---- ids and event builders ------------------------------------------------------------------ */

static struct ledger_id numbered(uint8_t tag, uint32_t n)
{
    struct ledger_id id = {{0}};
    if (n == 0)
        return id; /* number 0 is the zero id */
    id.b[0] = tag;
    for (int i = 0; i < 4; i++)
        id.b[12 + i] = (uint8_t)(n >> (24 - 8 * i));
    return id;
}

static struct ledger_id acct(uint32_t n)
{
    return numbered(0xac, n);
}
static struct ledger_id card(uint32_t n)
{
    return numbered(0xca, n);
}
static struct ledger_id refund_id(uint32_t n)
{
    return numbered(0x7e, n);
}
static struct ledger_id op_id(uint32_t n)
{
    return numbered(0x09, n);
}

static struct ledger_id settlement(const char *currency)
{
    return ledger_internal_account_id("card-settlement", currency);
}

static struct ledger_id hold(const char *auth)
{
    char name[LEDGER_AUTH_ID_MAX + 8];
    snprintf(name, sizeof name, "auth:%s", auth);
    return ledger_id_from_name(name);
}

static void ev_base(struct event *ev, uint16_t type, const struct ledger_id *stream)
{
    memset(ev, 0, sizeof *ev);
    ev->type = type;
    ev->v = 1;
    ev->stream = *stream;
    snprintf(ev->actor, sizeof ev->actor, "test");
}

static void ev_open(struct event *ev, uint32_t n, const char *currency)
{
    struct ledger_id id = acct(n);
    ev_base(ev, EVENT_ACCOUNT_OPENED, &id);
    struct ev_account_opened *d = &ev->data.opened;
    d->account_id = id;
    d->kind = ACCOUNT_KIND_CUSTOMER;
    snprintf(d->holder_id, sizeof d->holder_id, "holder-%u", n);
    memcpy(d->currency, currency, 4);
    snprintf(d->friendly_name, sizeof d->friendly_name, "main");
    d->overdraft_limit_minor = OVERDRAFT;
}

static void ev_open_settlement(struct event *ev, const char *currency)
{
    struct ledger_id id = settlement(currency);
    ev_base(ev, EVENT_ACCOUNT_OPENED, &id);
    struct ev_account_opened *d = &ev->data.opened;
    d->account_id = id;
    d->kind = ACCOUNT_KIND_INTERNAL;
    snprintf(d->holder_id, sizeof d->holder_id, "ledger");
    memcpy(d->currency, currency, 4);
    snprintf(d->friendly_name, sizeof d->friendly_name, "card-settlement:%s", currency);
}

static void ev_close(struct event *ev, uint32_t n)
{
    struct ledger_id id = acct(n);
    ev_base(ev, EVENT_ACCOUNT_CLOSED, &id);
    ev->data.closed.account_id = id;
}

static void default_limits(struct card_limits *l)
{
    memset(l, 0, sizeof *l);
    l->ecom = l->contactless = l->atm = true;
}

static void ev_issue(struct event *ev, uint32_t c, uint32_t a, uint32_t replaces)
{
    struct ledger_id id = card(c);
    ev_base(ev, EVENT_CARD_ISSUED, &id);
    struct ev_card_issued *d = &ev->data.card_issued;
    d->card_id = id;
    d->account_id = acct(a);
    d->type = CARD_TYPE_PHYSICAL;
    snprintf(d->brand, sizeof d->brand, "visa");
    snprintf(d->last_four, sizeof d->last_four, "%04u", 4000 + c);
    snprintf(d->token, sizeof d->token, "tok_%u", c);
    snprintf(d->expiry, sizeof d->expiry, "1229");
    snprintf(d->name_on_card, sizeof d->name_on_card, "A HOLDER");
    d->replaces = card(replaces);
    default_limits(&d->limits);
}

static void ev_action(struct event *ev, uint16_t type, uint32_t c, uint8_t reason)
{
    struct ledger_id id = card(c);
    ev_base(ev, type, &id);
    ev->data.card_action.card_id = id;
    ev->data.card_action.reason = reason;
}

static void ev_limits(struct event *ev, uint32_t c, int64_t day_amount)
{
    struct ledger_id id = card(c);
    ev_base(ev, EVENT_CARD_LIMITS_CHANGED, &id);
    ev->data.card_limits.card_id = id;
    default_limits(&ev->data.card_limits.limits);
    ev->data.card_limits.limits.day_amount = day_amount;
    ev->data.card_limits.limits.blocked_mcc_n = 1;
    ev->data.card_limits.limits.blocked_mcc[0] = 7995;
}

static void ev_replace(struct event *ev, uint32_t c, uint32_t new_card)
{
    struct ledger_id id = card(c);
    ev_base(ev, EVENT_CARD_REPLACED, &id);
    ev->data.card_replaced.card_id = id;
    ev->data.card_replaced.new_card_id = card(new_card);
}

/* card.authorized (approved > 0) or card.declined (approved 0); orig != "" makes it incremental. */
static void ev_decision(struct event *ev, const char *auth, const char *orig, uint32_t c,
                        uint32_t a, int64_t approved, uint8_t channel, int64_t expires_at_ns)
{
    struct ledger_id own = hold(auth);
    ev_base(ev, approved != 0 ? EVENT_CARD_AUTHORIZED : EVENT_CARD_DECLINED, &own);
    struct ev_card_decision *d = &ev->data.card_decision;
    d->hold_id = hold(orig[0] ? orig : auth);
    snprintf(d->authorization_id, sizeof d->authorization_id, "%s", auth);
    snprintf(d->original_authorization_id, sizeof d->original_authorization_id, "%s", orig);
    d->card_id = card(c);
    d->account_id = acct(a);
    d->amount_requested = approved != 0 ? approved : 700;
    d->amount_approved = approved;
    memcpy(d->currency, "EUR", 4);
    snprintf(d->merchant.name, sizeof d->merchant.name, "Cafe %s", auth);
    d->merchant.mcc = 5814;
    memcpy(d->merchant.country, "FR", 3);
    snprintf(d->merchant.id, sizeof d->merchant.id, "m-%s", auth);
    d->channel = channel;
    d->category = AUTH_FINAL;
    snprintf(d->response_code, sizeof d->response_code, "%s", approved != 0 ? "00" : "51");
    snprintf(d->approval_code, sizeof d->approval_code, "%s", approved != 0 ? "123456" : "");
    d->available_after = 4242;
    d->expires_at_ns = approved != 0 ? expires_at_ns : 0;
}

static void ev_hold(struct event *ev, uint16_t type, const char *auth, uint32_t c, uint32_t a,
                    int64_t amount, int64_t released, bool final)
{
    static uint32_t ops;
    struct ledger_id op = op_id(++ops);
    ev_base(ev, type, &op);
    struct ev_card_hold_change *d = &ev->data.card_hold;
    d->hold_id = hold(auth);
    d->card_id = card(c);
    d->account_id = acct(a);
    d->operation_id = type == EVENT_CARD_HOLD_EXPIRED ? numbered(0, 0) : op;
    d->amount = amount;
    d->released = released;
    memcpy(d->currency, "EUR", 4);
    d->final = final;
}

static void ev_refund(struct event *ev, uint32_t n, uint32_t c, uint32_t a, int64_t amount)
{
    struct ledger_id id = refund_id(n);
    ev_base(ev, EVENT_CARD_REFUNDED, &id);
    struct ev_card_refunded *d = &ev->data.card_refund;
    d->refund_id = id;
    d->card_id = card(c);
    d->account_id = acct(a);
    d->amount = amount;
    memcpy(d->currency, "EUR", 4);
    snprintf(d->merchant.name, sizeof d->merchant.name, "Shop");
}

/* ---- fixture --------------------------------------------------------------------------------- */

struct fx {
    struct ledger_state *st;
    uint64_t seq;
    int64_t ts_ns;     /* the next event's time */
    struct event *log; /* every accepted event, for replays */
    size_t log_len;
};

static enum ledger_err fx_try(struct fx *f, struct event *ev)
{
    ev->seq = ++f->seq;
    ev->ts_ns = f->ts_ns;
    f->ts_ns += 1000;
    enum ledger_err rc = ledger_state_apply(f->st, ev);
    if (rc == LEDGER_ERR_OK) {
        cr_assert_lt(f->log_len, LOG_MAX);
        f->log[f->log_len++] = *ev;
    }
    return rc;
}

static void fx_ok(struct fx *f, struct event *ev)
{
    enum ledger_err rc = fx_try(f, ev);
    cr_assert_eq(rc, LEDGER_ERR_OK, "seq %llu type %u refused", (unsigned long long)ev->seq,
                 ev->type);
}

static void fx_init(struct fx *f)
{
    struct event ev;
    memset(f, 0, sizeof *f);
    f->st = ledger_state_new();
    f->ts_ns = T0_NS;
    f->log = calloc(LOG_MAX, sizeof *f->log);
    cr_assert_not_null(f->log);
    ev_open(&ev, 1, "EUR");
    fx_ok(f, &ev);
    ev_open_settlement(&ev, "EUR");
    fx_ok(f, &ev);
}

static void fx_release(struct fx *f)
{
    ledger_state_free(f->st);
    free(f->log);
}

static struct card *issue_active(struct fx *f, uint32_t c, uint32_t a)
{
    struct event ev;
    ev_issue(&ev, c, a, 0);
    fx_ok(f, &ev);
    ev_action(&ev, EVENT_CARD_ACTIVATED, c, 0);
    fx_ok(f, &ev);
    struct ledger_id id = card(c);
    return ledger_state_card(f->st, &id);
}

static struct authorization *authorize(struct fx *f, const char *auth, const char *orig, uint32_t c,
                                       int64_t amount, int64_t expires_at_ns)
{
    struct event ev;
    ev_decision(&ev, auth, orig, c, 1, amount, CHANNEL_POS, expires_at_ns);
    fx_ok(f, &ev);
    struct ledger_id id = hold(orig[0] ? orig : auth);
    return ledger_state_authorization(f->st, &id);
}

static void hold_ok(struct fx *f, uint16_t type, const char *auth, int64_t amount, int64_t released,
                    bool final)
{
    struct event ev;
    ev_hold(&ev, type, auth, 1, 1, amount, released, final);
    fx_ok(f, &ev);
}

static struct account *account_of(struct fx *f, uint32_t n)
{
    struct ledger_id id = acct(n);
    struct account *a = ledger_state_account(f->st, &id);
    cr_assert_not_null(a);
    return a;
}

static struct account *settlement_of(struct fx *f)
{
    struct ledger_id id = settlement("EUR");
    struct account *a = ledger_state_account(f->st, &id);
    cr_assert_not_null(a);
    return a;
}

static int64_t available(const struct account *a)
{
    struct balance b;
    cr_assert(account_balance(a, &b));
    return b.available;
}

/* Per currency, the debits equal the credits, pending and posted, over all accounts. */
static void assert_double_entry(struct ledger_state *st)
{
    const char *currencies[] = {"EUR", "GBP", "USD"};
    for (size_t k = 0; k < 3; k++) {
        __int128 dp = 0, cp = 0, dq = 0, cq = 0;
        for (uint64_t i = 0; i < ledger_state_account_count(st); i++) {
            const struct account *a = ledger_state_account_at(st, i);
            if (strcmp(a->currency, currencies[k]) != 0)
                continue;
            dp += a->debits_pending, cp += a->credits_pending;
            dq += a->debits_posted, cq += a->credits_posted;
        }
        cr_assert(dp == cp, "%s: pending debits != pending credits", currencies[k]);
        cr_assert(dq == cq, "%s: posted debits != posted credits", currencies[k]);
    }
}

static void assert_counters(const struct account *a, int64_t dpost, int64_t cpost, int64_t dpend,
                            int64_t cpend)
{
    cr_assert_eq(a->debits_posted, dpost, "debits_posted %lld", (long long)a->debits_posted);
    cr_assert_eq(a->credits_posted, cpost, "credits_posted %lld", (long long)a->credits_posted);
    cr_assert_eq(a->debits_pending, dpend, "debits_pending %lld", (long long)a->debits_pending);
    cr_assert_eq(a->credits_pending, cpend, "credits_pending %lld", (long long)a->credits_pending);
}

static void drain_dirty(struct ledger_state *st)
{
    size_t n;
    const uint8_t *bits;
    ledger_state_take_dirty(st, &bits, &n);
    ledger_state_take_dirty_cards(st, &n);
    ledger_state_take_dirty_auths(st, &n);
}

/* ---- card lifecycle -------------------------------------------------------------------------- */

Test(cards, issued_fills_the_card)
{
    /* Proves card.issued creates an INACTIVE card with every identity field, the limits, version 1,
     * issued seq/ts and last_seq, findable by id, and reports it once as dirty. */
    struct fx f;
    fx_init(&f);
    drain_dirty(f.st);
    struct event ev;
    ev_issue(&ev, 1, 1, 0);
    ev.data.card_issued.limits.day_amount = 50000;
    fx_ok(&f, &ev);
    struct ledger_id id = card(1);
    struct card *c = ledger_state_card(f.st, &id);
    cr_assert_not_null(c);
    cr_assert(ledger_id_equal(&c->id, &id));
    struct ledger_id a = acct(1);
    cr_assert(ledger_id_equal(&c->account_id, &a));
    cr_assert_eq(c->type, CARD_TYPE_PHYSICAL);
    cr_assert_eq(c->state, CARD_STATE_INACTIVE);
    cr_assert_eq(c->blocks, 0);
    cr_assert_str_eq(c->brand, "visa");
    cr_assert_str_eq(c->last_four, "4001");
    cr_assert_str_eq(c->token, "tok_1");
    cr_assert_str_eq(c->expiry, "1229");
    cr_assert_str_eq(c->name_on_card, "A HOLDER");
    cr_assert(ledger_id_is_zero(&c->replaces));
    cr_assert(ledger_id_is_zero(&c->replaced_by));
    cr_assert_eq(c->limits.day_amount, 50000);
    cr_assert(c->limits.ecom && c->limits.contactless && c->limits.atm);
    cr_assert_eq(c->version, 1);
    cr_assert_eq(c->issued_seq, ev.seq);
    cr_assert_eq(c->issued_ts_ns, ev.ts_ns);
    cr_assert_eq(c->last_seq, ev.seq);
    size_t n;
    struct card **dirty = ledger_state_take_dirty_cards(f.st, &n);
    cr_assert_eq(n, 1);
    cr_assert_eq(dirty[0], c);
    cr_assert_eq(c->dirty, 0);
    ledger_state_take_dirty_cards(f.st, &n);
    cr_assert_eq(n, 0, "taken once");
    struct ledger_id missing = card(2);
    cr_assert_null(ledger_state_card(f.st, &missing));
    fx_release(&f);
}

Test(cards, lifecycle_transitions)
{
    /* Proves the allowed transitions: activate, block/unblock a reason (several held at once),
     * limits replaced, replaced -> REPLACED with replaced_by and the new card issued with replaces,
     * destroyed from REPLACED; each bumps version and last_seq and marks the card dirty. */
    struct fx f;
    fx_init(&f);
    struct event ev;
    struct card *c = issue_active(&f, 1, 1);
    cr_assert_eq(c->state, CARD_STATE_ACTIVE);
    cr_assert_eq(c->version, 2);
    ev_action(&ev, EVENT_CARD_BLOCKED, 1, CARD_BLOCK_USER);
    fx_ok(&f, &ev);
    ev_action(&ev, EVENT_CARD_BLOCKED, 1, CARD_BLOCK_SYSTEM);
    fx_ok(&f, &ev);
    cr_assert_eq(c->blocks, CARD_BLOCK_USER | CARD_BLOCK_SYSTEM);
    cr_assert_eq(c->state, CARD_STATE_ACTIVE, "a block is a bit beside the state");
    ev_action(&ev, EVENT_CARD_UNBLOCKED, 1, CARD_BLOCK_USER);
    fx_ok(&f, &ev);
    cr_assert_eq(c->blocks, CARD_BLOCK_SYSTEM);
    ev_limits(&ev, 1, 12345);
    fx_ok(&f, &ev);
    cr_assert_eq(c->limits.day_amount, 12345);
    cr_assert_eq(c->limits.blocked_mcc_n, 1);
    cr_assert_eq(c->limits.blocked_mcc[0], 7995);
    ev_action(&ev, EVENT_CARD_BLOCKED, 1, CARD_BLOCK_LOST);
    fx_ok(&f, &ev);
    drain_dirty(f.st);
    ev_replace(&ev, 1, 2);
    fx_ok(&f, &ev);
    cr_assert_eq(c->state, CARD_STATE_REPLACED);
    struct ledger_id id2 = card(2), id1 = card(1);
    cr_assert(ledger_id_equal(&c->replaced_by, &id2));
    ev_issue(&ev, 2, 1, 1);
    fx_ok(&f, &ev);
    struct card *c2 = ledger_state_card(f.st, &id2);
    cr_assert_not_null(c2);
    cr_assert(ledger_id_equal(&c2->replaces, &id1));
    cr_assert_eq(c2->state, CARD_STATE_INACTIVE);
    size_t n;
    ledger_state_take_dirty_cards(f.st, &n);
    cr_assert_eq(n, 2, "the replaced and the new card");
    ev_action(&ev, EVENT_CARD_DESTROYED, 1, 0);
    fx_ok(&f, &ev);
    cr_assert_eq(c->state, CARD_STATE_DESTROYED);
    cr_assert_eq(c->version, 9);
    cr_assert_eq(c->last_seq, ev.seq);
    ev_action(&ev, EVENT_CARD_DESTROYED, 2, 0);
    fx_ok(&f, &ev);
    cr_assert_eq(c2->state, CARD_STATE_DESTROYED, "an inactive card can be destroyed");
    fx_release(&f);
}

/* ---- contradictions: one table, one parameterized test --------------------------------------- */

enum tweak { T_NONE, T_LIST, T_NEG_LIMIT, T_HOLD_A };

struct bad_case {
    char name[64];
    uint16_t type;
    uint32_t card, account, other; /* issued: other = replaces; replaced: other = new card */
    char auth[8], orig[8];         /* decisions, hold changes */
    int64_t amount, released;      /* approved / posted / refunded; released */
    uint8_t reason;                /* blocked/unblocked reason; issued: card type */
    bool final;
    char currency[4]; /* "" = EUR */
    enum tweak tweak;
};

/*
 * The base state: accounts 1 (EUR), 2 (EUR), 3 (GBP, no GBP settlement), 4 (EUR, closed) and the
 * EUR settlement account. Cards: 1 active (acct 1), 2 inactive, 3 replaced by 7 (7 issued),
 * 4 USER-blocked then destroyed, 5 inactive LOST+STOLEN, 6 active on acct 3, 8 active on acct 4,
 * 9 active on acct 2. Holds on card 1: "A" pending 5000, "C" captured 1000, "D" declined.
 * Refund 1 of 100 on card 1.
 */
static void bad_base(struct fx *f)
{
    struct event ev;
    fx_init(f);
    const char *cur[] = {"", "", "EUR", "GBP", "EUR"};
    for (uint32_t n = 2; n <= 4; n++) {
        ev_open(&ev, n, cur[n]);
        fx_ok(f, &ev);
    }
    issue_active(f, 1, 1);
    ev_issue(&ev, 2, 1, 0);
    fx_ok(f, &ev);
    issue_active(f, 3, 1);
    ev_replace(&ev, 3, 7);
    fx_ok(f, &ev);
    ev_issue(&ev, 7, 1, 3);
    fx_ok(f, &ev);
    issue_active(f, 4, 1);
    ev_action(&ev, EVENT_CARD_BLOCKED, 4, CARD_BLOCK_USER);
    fx_ok(f, &ev);
    ev_action(&ev, EVENT_CARD_DESTROYED, 4, 0);
    fx_ok(f, &ev);
    ev_issue(&ev, 5, 1, 0);
    fx_ok(f, &ev);
    ev_action(&ev, EVENT_CARD_BLOCKED, 5, CARD_BLOCK_LOST);
    fx_ok(f, &ev);
    ev_action(&ev, EVENT_CARD_BLOCKED, 5, CARD_BLOCK_STOLEN);
    fx_ok(f, &ev);
    issue_active(f, 6, 3);
    issue_active(f, 8, 4);
    issue_active(f, 9, 2);
    ev_close(&ev, 4);
    fx_ok(f, &ev);
    authorize(f, "A", "", 1, 5000, T0_NS + 3600 * NS);
    authorize(f, "C", "", 1, 1000, T0_NS + 3600 * NS);
    hold_ok(f, EVENT_CARD_CAPTURED, "C", 1000, 1000, true);
    ev_decision(&ev, "D", "", 1, 1, 0, CHANNEL_POS, 0);
    fx_ok(f, &ev);
    ev_refund(&ev, 1, 1, 1, 100);
    fx_ok(f, &ev);
    drain_dirty(f->st);
}

static void bad_event(const struct bad_case *c, struct event *ev)
{
    const char *currency = c->currency[0] ? c->currency : "EUR";
    switch (c->type) {
    case EVENT_CARD_ISSUED:
        ev_issue(ev, c->card, c->account, c->other);
        if (c->reason)
            ev->data.card_issued.type = c->reason;
        break;
    case EVENT_CARD_LIMITS_CHANGED: ev_limits(ev, c->card, 0); break;
    case EVENT_CARD_REPLACED: ev_replace(ev, c->card, c->other); break;
    case EVENT_CARD_AUTHORIZED:
    case EVENT_CARD_DECLINED:
        ev_decision(ev, c->auth, c->orig, c->card, c->account, c->amount, CHANNEL_POS,
                    T0_NS + DAY_NS);
        ev->type = c->type;
        if (c->tweak == T_HOLD_A)
            ev->data.card_decision.hold_id = hold("A");
        memcpy(ev->data.card_decision.currency, currency, 4);
        break;
    case EVENT_CARD_CAPTURED:
    case EVENT_CARD_REVERSED:
    case EVENT_CARD_HOLD_EXPIRED:
        ev_hold(ev, c->type, c->auth, c->card, c->account, c->amount, c->released, c->final);
        memcpy(ev->data.card_hold.currency, currency, 4);
        break;
    case EVENT_CARD_REFUNDED:
        ev_refund(ev, 50, c->card, c->account, c->amount);
        memcpy(ev->data.card_refund.currency, currency, 4);
        break;
    default: ev_action(ev, c->type, c->card, c->reason); break;
    }
    struct card_limits *l =
        c->type == EVENT_CARD_ISSUED ? &ev->data.card_issued.limits : &ev->data.card_limits.limits;
    if (c->tweak == T_LIST)
        l->allowed_country_n = LEDGER_CARD_LIST_MAX + 1;
    if (c->tweak == T_NEG_LIMIT)
        l->week_amount = -1;
}

/* Everything a refused event could have touched, as bytes. */
struct snapshot {
    uint8_t digest[LEDGER_HASH_LEN];
    uint8_t accounts[6][ACCOUNT_ROW_BYTES];
    uint8_t cards[10][CARD_ROW_BYTES];
    uint8_t auths[3][AUTH_ROW_BYTES];
    struct authorization *due[8];
    size_t due_n;
};

static void snapshot_take(struct ledger_state *st, struct snapshot *s)
{
    memset(s, 0, sizeof *s);
    ledger_state_digest(st, s->digest);
    for (uint32_t n = 0; n < 5; n++) {
        struct ledger_id id = n == 0 ? settlement("EUR") : acct(n);
        account_row_encode(ledger_state_account(st, &id), s->accounts[n]);
    }
    for (uint32_t n = 1; n < 10; n++) {
        struct ledger_id id = card(n);
        const struct card *c = ledger_state_card(st, &id);
        if (c != NULL)
            card_row_encode(c, s->cards[n]);
    }
    const char *holds[] = {"A", "C", "D"};
    for (int k = 0; k < 3; k++) {
        struct ledger_id id = hold(holds[k]);
        auth_row_encode(ledger_state_authorization(st, &id), s->auths[k]);
    }
    s->due_n = ledger_state_expired_holds(st, INT64_MAX, s->due, 8);
}

ParameterizedTestParameters(cards, apply_refuses_contradictions)
{
    static struct bad_case cases[] = {
        {"issued: duplicate card id", EVENT_CARD_ISSUED, 1, 1, 0, "", "", 0, 0, 0, false, "",
         T_NONE},
        {"issued: unknown account", EVENT_CARD_ISSUED, 20, 99, 0, "", "", 0, 0, 0, false, "",
         T_NONE},
        {"issued: zero card id", EVENT_CARD_ISSUED, 0, 1, 0, "", "", 0, 0, 0, false, "", T_NONE},
        {"issued: unknown card type", EVENT_CARD_ISSUED, 20, 1, 0, "", "", 0, 0, 3, false, "",
         T_NONE},
        {"issued: replaces an active card", EVENT_CARD_ISSUED, 20, 1, 1, "", "", 0, 0, 0, false, "",
         T_NONE},
        {"issued: replaces a card replaced by another", EVENT_CARD_ISSUED, 20, 1, 3, "", "", 0, 0,
         0, false, "", T_NONE},
        {"issued: replaces an unknown card", EVENT_CARD_ISSUED, 20, 1, 50, "", "", 0, 0, 0, false,
         "", T_NONE},
        {"issued: list longer than the maximum", EVENT_CARD_ISSUED, 20, 1, 0, "", "", 0, 0, 0,
         false, "", T_LIST},
        {"issued: negative limit", EVENT_CARD_ISSUED, 20, 1, 0, "", "", 0, 0, 0, false, "",
         T_NEG_LIMIT},
        {"activated: active card", EVENT_CARD_ACTIVATED, 1, 0, 0, "", "", 0, 0, 0, false, "",
         T_NONE},
        {"activated: replaced card", EVENT_CARD_ACTIVATED, 3, 0, 0, "", "", 0, 0, 0, false, "",
         T_NONE},
        {"activated: destroyed card", EVENT_CARD_ACTIVATED, 4, 0, 0, "", "", 0, 0, 0, false, "",
         T_NONE},
        {"activated: lost card", EVENT_CARD_ACTIVATED, 5, 0, 0, "", "", 0, 0, 0, false, "", T_NONE},
        {"activated: unknown card", EVENT_CARD_ACTIVATED, 50, 0, 0, "", "", 0, 0, 0, false, "",
         T_NONE},
        {"blocked: reason already set", EVENT_CARD_BLOCKED, 5, 0, 0, "", "", 0, 0, CARD_BLOCK_LOST,
         false, "", T_NONE},
        {"blocked: no reason", EVENT_CARD_BLOCKED, 1, 0, 0, "", "", 0, 0, 0, false, "", T_NONE},
        {"blocked: two reasons", EVENT_CARD_BLOCKED, 1, 0, 0, "", "", 0, 0,
         CARD_BLOCK_USER | CARD_BLOCK_SYSTEM, false, "", T_NONE},
        {"blocked: unknown reason bit", EVENT_CARD_BLOCKED, 1, 0, 0, "", "", 0, 0, 0x10, false, "",
         T_NONE},
        {"blocked: replaced card", EVENT_CARD_BLOCKED, 3, 0, 0, "", "", 0, 0, CARD_BLOCK_USER,
         false, "", T_NONE},
        {"blocked: destroyed card", EVENT_CARD_BLOCKED, 4, 0, 0, "", "", 0, 0, CARD_BLOCK_SYSTEM,
         false, "", T_NONE},
        {"blocked: unknown card", EVENT_CARD_BLOCKED, 50, 0, 0, "", "", 0, 0, CARD_BLOCK_USER,
         false, "", T_NONE},
        {"unblocked: reason not set", EVENT_CARD_UNBLOCKED, 1, 0, 0, "", "", 0, 0, CARD_BLOCK_USER,
         false, "", T_NONE},
        {"unblocked: lost", EVENT_CARD_UNBLOCKED, 5, 0, 0, "", "", 0, 0, CARD_BLOCK_LOST, false, "",
         T_NONE},
        {"unblocked: stolen", EVENT_CARD_UNBLOCKED, 5, 0, 0, "", "", 0, 0, CARD_BLOCK_STOLEN, false,
         "", T_NONE},
        {"unblocked: destroyed card", EVENT_CARD_UNBLOCKED, 4, 0, 0, "", "", 0, 0, CARD_BLOCK_USER,
         false, "", T_NONE},
        {"unblocked: no reason", EVENT_CARD_UNBLOCKED, 1, 0, 0, "", "", 0, 0, 0, false, "", T_NONE},
        {"limits_changed: unknown card", EVENT_CARD_LIMITS_CHANGED, 50, 0, 0, "", "", 0, 0, 0,
         false, "", T_NONE},
        {"limits_changed: replaced card", EVENT_CARD_LIMITS_CHANGED, 3, 0, 0, "", "", 0, 0, 0,
         false, "", T_NONE},
        {"limits_changed: destroyed card", EVENT_CARD_LIMITS_CHANGED, 4, 0, 0, "", "", 0, 0, 0,
         false, "", T_NONE},
        {"limits_changed: list too long", EVENT_CARD_LIMITS_CHANGED, 1, 0, 0, "", "", 0, 0, 0,
         false, "", T_LIST},
        {"limits_changed: negative limit", EVENT_CARD_LIMITS_CHANGED, 1, 0, 0, "", "", 0, 0, 0,
         false, "", T_NEG_LIMIT},
        {"replaced: replaced card", EVENT_CARD_REPLACED, 3, 0, 21, "", "", 0, 0, 0, false, "",
         T_NONE},
        {"replaced: destroyed card", EVENT_CARD_REPLACED, 4, 0, 21, "", "", 0, 0, 0, false, "",
         T_NONE},
        {"replaced: new id taken", EVENT_CARD_REPLACED, 1, 0, 2, "", "", 0, 0, 0, false, "",
         T_NONE},
        {"replaced: zero new id", EVENT_CARD_REPLACED, 1, 0, 0, "", "", 0, 0, 0, false, "", T_NONE},
        {"replaced: unknown card", EVENT_CARD_REPLACED, 50, 0, 21, "", "", 0, 0, 0, false, "",
         T_NONE},
        {"destroyed: destroyed card", EVENT_CARD_DESTROYED, 4, 0, 0, "", "", 0, 0, 0, false, "",
         T_NONE},
        {"destroyed: unknown card", EVENT_CARD_DESTROYED, 50, 0, 0, "", "", 0, 0, 0, false, "",
         T_NONE},
        {"authorized: unknown card", EVENT_CARD_AUTHORIZED, 50, 1, 0, "N1", "", 100, 0, 0, false,
         "", T_NONE},
        {"authorized: account is not the card's", EVENT_CARD_AUTHORIZED, 1, 2, 0, "N1", "", 100, 0,
         0, false, "", T_NONE},
        {"authorized: unknown account", EVENT_CARD_AUTHORIZED, 1, 99, 0, "N1", "", 100, 0, 0, false,
         "", T_NONE},
        {"authorized: currency differs from the account", EVENT_CARD_AUTHORIZED, 1, 1, 0, "N1", "",
         100, 0, 0, false, "GBP", T_NONE},
        {"authorized: no settlement account", EVENT_CARD_AUTHORIZED, 6, 3, 0, "N1", "", 100, 0, 0,
         false, "GBP", T_NONE},
        {"authorized: zero amount", EVENT_CARD_AUTHORIZED, 1, 1, 0, "N1", "", 0, 0, 0, false, "",
         T_NONE},
        {"authorized: negative amount", EVENT_CARD_AUTHORIZED, 1, 1, 0, "N1", "", -5, 0, 0, false,
         "", T_NONE},
        {"authorized: hold id exists", EVENT_CARD_AUTHORIZED, 1, 1, 0, "A", "", 100, 0, 0, false,
         "", T_NONE},
        {"authorized: hold id exists (declined)", EVENT_CARD_AUTHORIZED, 1, 1, 0, "D", "", 100, 0,
         0, false, "", T_NONE},
        {"authorized: incremental to an unknown hold", EVENT_CARD_AUTHORIZED, 1, 1, 0, "N2", "Z",
         100, 0, 0, false, "", T_NONE},
        {"authorized: incremental to a captured hold", EVENT_CARD_AUTHORIZED, 1, 1, 0, "N2", "C",
         100, 0, 0, false, "", T_NONE},
        {"authorized: incremental to a declined hold", EVENT_CARD_AUTHORIZED, 1, 1, 0, "N2", "D",
         100, 0, 0, false, "", T_NONE},
        {"authorized: incremental from another card", EVENT_CARD_AUTHORIZED, 9, 2, 0, "N2", "A",
         100, 0, 0, false, "", T_NONE},
        {"authorized: incremental names another original", EVENT_CARD_AUTHORIZED, 1, 1, 0, "N2",
         "Q", 100, 0, 0, false, "", T_HOLD_A},
        {"authorized: pending overflows", EVENT_CARD_AUTHORIZED, 1, 1, 0, "N1", "", INT64_MAX, 0, 0,
         false, "", T_NONE},
        {"authorized: incremental overflows the hold", EVENT_CARD_AUTHORIZED, 1, 1, 0, "N2", "A",
         INT64_MAX - 4999, 0, 0, false, "", T_NONE},
        {"declined: an amount approved", EVENT_CARD_DECLINED, 1, 1, 0, "N1", "", 10, 0, 0, false,
         "", T_NONE},
        {"captured: unknown hold", EVENT_CARD_CAPTURED, 1, 1, 0, "Z", "", 100, 100, 0, false, "",
         T_NONE},
        {"captured: closed hold", EVENT_CARD_CAPTURED, 1, 1, 0, "C", "", 100, 0, 0, false, "",
         T_NONE},
        {"captured: declined hold", EVENT_CARD_CAPTURED, 1, 1, 0, "D", "", 100, 0, 0, false, "",
         T_NONE},
        {"captured: released more than held", EVENT_CARD_CAPTURED, 1, 1, 0, "A", "", 100, 5001, 0,
         false, "", T_NONE},
        {"captured: negative release", EVENT_CARD_CAPTURED, 1, 1, 0, "A", "", 100, -1, 0, false, "",
         T_NONE},
        {"captured: negative amount", EVENT_CARD_CAPTURED, 1, 1, 0, "A", "", -1, 100, 0, false, "",
         T_NONE},
        {"captured: final leaves part of the hold", EVENT_CARD_CAPTURED, 1, 1, 0, "A", "", 100, 100,
         0, true, "", T_NONE},
        {"captured: posts and releases nothing", EVENT_CARD_CAPTURED, 1, 1, 0, "A", "", 0, 0, 0,
         false, "", T_NONE},
        {"captured: another card", EVENT_CARD_CAPTURED, 2, 1, 0, "A", "", 100, 100, 0, false, "",
         T_NONE},
        {"captured: another account", EVENT_CARD_CAPTURED, 1, 2, 0, "A", "", 100, 100, 0, false, "",
         T_NONE},
        {"captured: another currency", EVENT_CARD_CAPTURED, 1, 1, 0, "A", "", 100, 100, 0, false,
         "USD", T_NONE},
        {"captured: posted overflows", EVENT_CARD_CAPTURED, 1, 1, 0, "A", "", INT64_MAX, 0, 0,
         false, "", T_NONE},
        {"reversed: posts an amount", EVENT_CARD_REVERSED, 1, 1, 0, "A", "", 10, 10, 0, false, "",
         T_NONE},
        {"reversed: releases nothing", EVENT_CARD_REVERSED, 1, 1, 0, "A", "", 0, 0, 0, false, "",
         T_NONE},
        {"reversed: more than held", EVENT_CARD_REVERSED, 1, 1, 0, "A", "", 0, 5001, 0, false, "",
         T_NONE},
        {"reversed: final leaves part of the hold", EVENT_CARD_REVERSED, 1, 1, 0, "A", "", 0, 10, 0,
         true, "", T_NONE},
        {"reversed: closed hold", EVENT_CARD_REVERSED, 1, 1, 0, "C", "", 0, 1, 0, false, "",
         T_NONE},
        {"hold_expired: partial release", EVENT_CARD_HOLD_EXPIRED, 1, 1, 0, "A", "", 0, 4000, 0,
         true, "", T_NONE},
        {"hold_expired: posts an amount", EVENT_CARD_HOLD_EXPIRED, 1, 1, 0, "A", "", 10, 5000, 0,
         true, "", T_NONE},
        {"hold_expired: closed hold", EVENT_CARD_HOLD_EXPIRED, 1, 1, 0, "C", "", 0, 0, 0, true, "",
         T_NONE},
        {"hold_expired: unknown hold", EVENT_CARD_HOLD_EXPIRED, 1, 1, 0, "Z", "", 0, 0, 0, true, "",
         T_NONE},
        {"refunded: unknown card", EVENT_CARD_REFUNDED, 50, 1, 0, "", "", 100, 0, 0, false, "",
         T_NONE},
        {"refunded: account is not the card's", EVENT_CARD_REFUNDED, 1, 2, 0, "", "", 100, 0, 0,
         false, "", T_NONE},
        {"refunded: zero amount", EVENT_CARD_REFUNDED, 1, 1, 0, "", "", 0, 0, 0, false, "", T_NONE},
        {"refunded: negative amount", EVENT_CARD_REFUNDED, 1, 1, 0, "", "", -1, 0, 0, false, "",
         T_NONE},
        {"refunded: no settlement account", EVENT_CARD_REFUNDED, 6, 3, 0, "", "", 100, 0, 0, false,
         "GBP", T_NONE},
        {"refunded: closed account", EVENT_CARD_REFUNDED, 8, 4, 0, "", "", 100, 0, 0, false, "",
         T_NONE},
        {"refunded: currency differs", EVENT_CARD_REFUNDED, 1, 1, 0, "", "", 100, 0, 0, false,
         "USD", T_NONE},
        {"refunded: overflows", EVENT_CARD_REFUNDED, 1, 1, 0, "", "", INT64_MAX, 0, 0, false, "",
         T_NONE},
        {"unknown event type", 99, 1, 1, 0, "", "", 0, 0, 0, false, "", T_NONE},
    };
    return cr_make_param_array(struct bad_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct bad_case *c, cards, apply_refuses_contradictions)
{
    /* Proves each contradiction in the table is LEDGER_ERR_DECODE and changes nothing: balances
     * digest, every account, card and authorization row (last_seq included), the open holds, no
     * new card or hold, and nothing reported dirty. */
    struct fx f;
    bad_base(&f);
    struct snapshot before, after;
    snapshot_take(f.st, &before);
    struct event ev;
    bad_event(c, &ev);
    enum ledger_err rc = fx_try(&f, &ev);
    cr_expect_eq(rc, LEDGER_ERR_DECODE, "%s: accepted", c->name);
    if (rc != LEDGER_ERR_DECODE) {
        fx_release(&f);
        return;
    }
    snapshot_take(f.st, &after);
    cr_assert_arr_eq(after.digest, before.digest, LEDGER_HASH_LEN, "%s: balances changed", c->name);
    cr_assert_arr_eq(after.accounts, before.accounts, sizeof before.accounts,
                     "%s: an account changed", c->name);
    cr_assert_arr_eq(after.cards, before.cards, sizeof before.cards, "%s: a card changed", c->name);
    cr_assert_arr_eq(after.auths, before.auths, sizeof before.auths, "%s: a hold changed", c->name);
    cr_assert_eq(after.due_n, before.due_n, "%s: open holds changed", c->name);
    const char *fresh_holds[] = {"N1", "N2", "Z", "Q"};
    for (int k = 0; k < 4; k++) {
        struct ledger_id id = hold(fresh_holds[k]);
        cr_assert_null(ledger_state_authorization(f.st, &id), "%s: hold %s created", c->name,
                       fresh_holds[k]);
    }
    struct ledger_id c20 = card(20), c21 = card(21);
    cr_assert_null(ledger_state_card(f.st, &c20), "%s: card created", c->name);
    cr_assert_null(ledger_state_card(f.st, &c21), "%s: card created", c->name);
    size_t n_acc, n_cards, n_auths;
    const uint8_t *bits;
    ledger_state_take_dirty(f.st, &bits, &n_acc);
    ledger_state_take_dirty_cards(f.st, &n_cards);
    ledger_state_take_dirty_auths(f.st, &n_auths);
    cr_assert_eq(n_acc + n_cards + n_auths, 0, "%s: something reported dirty", c->name);
    fx_release(&f);
}

/* ---- holds, captures, reversals, expiry ------------------------------------------------------ */

Test(cards, hold_lowers_available_at_once)
{
    /* Proves card.authorized creates a PENDING authorization with the first answer, raises the
     * account's debits_pending and the settlement account's credits_pending by the approved amount
     * (available drops at once, nothing posted), marks both accounts DIRTY_BALANCE, the card and
     * the authorization dirty, and keeps the double entry. */
    struct fx f;
    fx_init(&f);
    struct card *c = issue_active(&f, 1, 1);
    struct account *a = account_of(&f, 1), *s = settlement_of(&f);
    int64_t before = available(a);
    drain_dirty(f.st);
    struct authorization *h = authorize(&f, "A", "", 1, 3000, T0_NS + DAY_NS);
    cr_assert_not_null(h);
    cr_assert_eq(available(a), before - 3000);
    assert_counters(a, 0, 0, 3000, 0);
    assert_counters(s, 0, 0, 0, 3000);
    assert_double_entry(f.st);
    cr_assert_eq(h->state, AUTH_STATE_PENDING);
    cr_assert_str_eq(auth_state_name(h->state), "pending");
    cr_assert_str_eq(h->authorization_id, "A");
    struct ledger_id cid = card(1), aid = acct(1);
    cr_assert(ledger_id_equal(&h->card_id, &cid));
    cr_assert(ledger_id_equal(&h->account_id, &aid));
    cr_assert_str_eq(h->currency, "EUR");
    cr_assert_eq(h->requested, 3000);
    cr_assert_eq(h->approved_total, 3000);
    cr_assert_eq(h->held, 3000);
    cr_assert_eq(h->captured_total, 0);
    cr_assert_eq(h->expires_at_ns, T0_NS + DAY_NS);
    cr_assert_str_eq(h->response_code, "00");
    cr_assert_str_eq(h->approval_code, "123456");
    cr_assert_eq(h->approved_amount, 3000);
    cr_assert_eq(h->available_after, 4242);
    cr_assert_eq(h->channel, CHANNEL_POS);
    cr_assert_eq(h->category, AUTH_FINAL);
    cr_assert_str_eq(h->merchant.name, "Cafe A");
    cr_assert_eq(h->merchant.mcc, 5814);
    cr_assert_eq(h->first_seq, f.seq);
    cr_assert_eq(h->last_seq, f.seq);
    cr_assert_eq(a->last_seq, f.seq);
    cr_assert_eq(c->last_seq, f.seq);
    size_t n;
    const uint8_t *bits;
    struct account **dirty = ledger_state_take_dirty(f.st, &bits, &n);
    cr_assert_eq(n, 2);
    for (size_t i = 0; i < n; i++) {
        cr_assert(dirty[i] == a || dirty[i] == s);
        cr_assert(bits[i] & DIRTY_BALANCE);
    }
    struct card **dc = ledger_state_take_dirty_cards(f.st, &n);
    cr_assert(n == 1 && dc[0] == c, "the spending windows changed");
    struct authorization **da = ledger_state_take_dirty_auths(f.st, &n);
    cr_assert(n == 1 && da[0] == h);
    fx_release(&f);
}

Test(cards, stand_in_overdraws)
{
    /* Proves a stand-in approval is held even when it takes available below zero (the projection
     * records what the network approved) and is kept as stand_in. */
    struct fx f;
    fx_init(&f);
    issue_active(&f, 1, 1);
    struct event ev;
    ev_decision(&ev, "S", "", 1, 1, OVERDRAFT + 500, CHANNEL_POS, T0_NS + DAY_NS);
    ev.data.card_decision.stand_in = true;
    fx_ok(&f, &ev);
    struct ledger_id id = hold("S");
    struct authorization *h = ledger_state_authorization(f.st, &id);
    cr_assert(h->stand_in);
    cr_assert_eq(available(account_of(&f, 1)), -500);
    assert_double_entry(f.st);
    fx_release(&f);
}

Test(cards, partial_then_final_capture)
{
    /* Proves a partial capture posts its amount and releases what it consumes, leaving the hold
     * PENDING, and a final capture releases the rest and closes it as CAPTURED; posted and pending
     * keep the double entry at every step. */
    struct fx f;
    fx_init(&f);
    issue_active(&f, 1, 1);
    struct account *a = account_of(&f, 1), *s = settlement_of(&f);
    struct authorization *h = authorize(&f, "A", "", 1, 5000, T0_NS + DAY_NS);
    hold_ok(&f, EVENT_CARD_CAPTURED, "A", 2000, 2000, false);
    cr_assert_eq(h->state, AUTH_STATE_PENDING);
    cr_assert_eq(h->held, 3000);
    cr_assert_eq(h->captured_total, 2000);
    assert_counters(a, 2000, 0, 3000, 0);
    assert_counters(s, 0, 2000, 0, 3000);
    assert_double_entry(f.st);
    hold_ok(&f, EVENT_CARD_CAPTURED, "A", 1000, 3000, true);
    cr_assert_eq(h->state, AUTH_STATE_CAPTURED);
    cr_assert_str_eq(auth_state_name(h->state), "captured");
    cr_assert_eq(h->held, 0);
    cr_assert_eq(h->captured_total, 3000);
    cr_assert_eq(h->last_seq, f.seq);
    assert_counters(a, 3000, 0, 0, 0);
    assert_counters(s, 0, 3000, 0, 0);
    assert_double_entry(f.st);
    cr_assert_eq(available(a), OVERDRAFT - 3000);
    fx_release(&f);
}

Test(cards, several_partial_captures)
{
    /* Proves several partial captures each consume part of the hold, and the one that brings held
     * to 0 closes it as CAPTURED even without the final flag. */
    struct fx f;
    fx_init(&f);
    issue_active(&f, 1, 1);
    struct authorization *h = authorize(&f, "A", "", 1, 3000, T0_NS + DAY_NS);
    for (int i = 1; i <= 3; i++) {
        cr_assert_eq(h->state, AUTH_STATE_PENDING);
        hold_ok(&f, EVENT_CARD_CAPTURED, "A", 1000, 1000, false);
        cr_assert_eq(h->held, 3000 - 1000 * i);
        cr_assert_eq(h->captured_total, 1000 * i);
    }
    cr_assert_eq(h->state, AUTH_STATE_CAPTURED);
    assert_counters(account_of(&f, 1), 3000, 0, 0, 0);
    assert_double_entry(f.st);
    struct authorization *due[4];
    cr_assert_eq(ledger_state_expired_holds(f.st, INT64_MAX, due, 4), 0,
                 "closed: not open any more");
    fx_release(&f);
}

Test(cards, over_capture_posts_more_than_held)
{
    /* Proves a capture above the hold (tips, fuel) posts the whole amount while releasing only what
     * was held, and closes the hold. */
    struct fx f;
    fx_init(&f);
    issue_active(&f, 1, 1);
    struct authorization *h = authorize(&f, "A", "", 1, 1000, T0_NS + DAY_NS);
    hold_ok(&f, EVENT_CARD_CAPTURED, "A", 1500, 1000, true);
    cr_assert_eq(h->state, AUTH_STATE_CAPTURED);
    cr_assert_eq(h->captured_total, 1500);
    assert_counters(account_of(&f, 1), 1500, 0, 0, 0);
    assert_counters(settlement_of(&f), 0, 1500, 0, 0);
    assert_double_entry(f.st);
    fx_release(&f);
}

Test(cards, reversal_partial_then_full)
{
    /* Proves a partial reversal releases part of the hold and leaves it PENDING, and a reversal of
     * the rest closes it as REVERSED, posting nothing. */
    struct fx f;
    fx_init(&f);
    issue_active(&f, 1, 1);
    struct account *a = account_of(&f, 1);
    struct authorization *h = authorize(&f, "A", "", 1, 4000, T0_NS + DAY_NS);
    hold_ok(&f, EVENT_CARD_REVERSED, "A", 0, 1000, false);
    cr_assert_eq(h->state, AUTH_STATE_PENDING);
    cr_assert_eq(h->held, 3000);
    assert_counters(a, 0, 0, 3000, 0);
    cr_assert_eq(available(a), OVERDRAFT - 3000);
    hold_ok(&f, EVENT_CARD_REVERSED, "A", 0, 3000, true);
    cr_assert_eq(h->state, AUTH_STATE_REVERSED);
    cr_assert_str_eq(auth_state_name(h->state), "reversed");
    cr_assert_eq(h->held, 0);
    assert_counters(a, 0, 0, 0, 0);
    assert_counters(settlement_of(&f), 0, 0, 0, 0);
    cr_assert_eq(available(a), OVERDRAFT);
    fx_release(&f);
}

Test(cards, reversal_then_capture_of_the_rest)
{
    /* Proves reversals and captures combine on one hold: reverse part, capture the rest. */
    struct fx f;
    fx_init(&f);
    issue_active(&f, 1, 1);
    struct authorization *h = authorize(&f, "A", "", 1, 4000, T0_NS + DAY_NS);
    hold_ok(&f, EVENT_CARD_REVERSED, "A", 0, 1500, false);
    hold_ok(&f, EVENT_CARD_CAPTURED, "A", 2500, 2500, false);
    cr_assert_eq(h->state, AUTH_STATE_CAPTURED);
    assert_counters(account_of(&f, 1), 2500, 0, 0, 0);
    assert_double_entry(f.st);
    fx_release(&f);
}

Test(cards, hold_expiry)
{
    /* Proves card.hold_expired releases the whole hold and closes it as EXPIRED; the hold is then
     * no longer returned by ledger_state_expired_holds. */
    struct fx f;
    fx_init(&f);
    issue_active(&f, 1, 1);
    struct authorization *h = authorize(&f, "A", "", 1, 2500, T0_NS + DAY_NS);
    struct authorization *due[4];
    cr_assert_eq(ledger_state_expired_holds(f.st, T0_NS + DAY_NS - 1, due, 4), 0, "not yet");
    cr_assert_eq(ledger_state_expired_holds(f.st, T0_NS + DAY_NS, due, 4), 1,
                 "expires_at itself is due");
    cr_assert_eq(due[0], h);
    struct event ev;
    ev_hold(&ev, EVENT_CARD_HOLD_EXPIRED, "A", 1, 1, 0, 2500, true);
    fx_ok(&f, &ev);
    cr_assert_eq(h->state, AUTH_STATE_EXPIRED);
    cr_assert_str_eq(auth_state_name(h->state), "expired");
    cr_assert_eq(h->held, 0);
    assert_counters(account_of(&f, 1), 0, 0, 0, 0);
    assert_counters(settlement_of(&f), 0, 0, 0, 0);
    cr_assert_eq(ledger_state_expired_holds(f.st, INT64_MAX, due, 4), 0);
    fx_release(&f);
}

Test(cards, incremental_adds_to_the_hold)
{
    /* Proves an incremental approval (hold id = the original's) adds to held and approved_total,
     * moves the expiry (and the hold's place in the expiry order), keeps the first answer, and
     * counts the amount but not a new use in the spending windows. */
    struct fx f;
    fx_init(&f);
    struct card *c = issue_active(&f, 1, 1);
    struct authorization *h = authorize(&f, "A", "", 1, 2000, T0_NS + DAY_NS);
    authorize(&f, "B", "", 1, 100, T0_NS + 2 * DAY_NS);
    struct authorization *inc = authorize(&f, "A-1", "A", 1, 500, T0_NS + 3 * DAY_NS);
    cr_assert_eq(inc, h, "the same hold");
    cr_assert_eq(h->held, 2500);
    cr_assert_eq(h->approved_total, 2500);
    cr_assert_eq(h->requested, 2000);
    cr_assert_eq(h->approved_amount, 2000, "the first answer");
    cr_assert_str_eq(h->authorization_id, "A");
    cr_assert_eq(h->expires_at_ns, T0_NS + 3 * DAY_NS);
    cr_assert_eq(h->last_seq, f.seq);
    cr_assert_eq(h->first_seq + 2, f.seq);
    assert_counters(account_of(&f, 1), 0, 0, 2600, 0);
    assert_double_entry(f.st);
    cr_assert_eq(c->day.amount, 2600);
    cr_assert_eq(c->day.count, 2, "A and B; the increment is not a new use");
    struct authorization *due[4];
    cr_assert_eq(ledger_state_expired_holds(f.st, T0_NS + DAY_NS, due, 4), 0, "A moved later");
    cr_assert_eq(ledger_state_expired_holds(f.st, T0_NS + 3 * DAY_NS, due, 4), 2);
    cr_assert_str_eq(due[0]->authorization_id, "B");
    cr_assert_eq(due[1], h);
    hold_ok(&f, EVENT_CARD_CAPTURED, "A", 2500, 2500, true);
    cr_assert_eq(h->state, AUTH_STATE_CAPTURED);
    fx_release(&f);
}

Test(cards, declines_hold_nothing)
{
    /* Proves card.declined records a DECLINED authorization with the first answer and no money;
     * a second decline on that hold id changes only last_seq; an incremental decline leaves an
     * open hold as it is (last_seq aside) and never creates the hold it names. */
    struct fx f;
    fx_init(&f);
    issue_active(&f, 1, 1);
    struct event ev;
    ev_decision(&ev, "D", "", 1, 1, 0, CHANNEL_ECOM, 0);
    fx_ok(&f, &ev);
    struct ledger_id did = hold("D");
    struct authorization *d = ledger_state_authorization(f.st, &did);
    cr_assert_not_null(d);
    cr_assert_eq(d->state, AUTH_STATE_DECLINED);
    cr_assert_str_eq(auth_state_name(d->state), "declined");
    cr_assert_str_eq(d->response_code, "51");
    cr_assert_str_eq(d->approval_code, "");
    cr_assert_eq(d->requested, 700);
    cr_assert_eq(d->held, 0);
    cr_assert_eq(d->approved_amount, 0);
    uint64_t first = d->first_seq;
    ev_decision(&ev, "D", "", 1, 1, 0, CHANNEL_POS, 0);
    fx_ok(&f, &ev);
    cr_assert_eq(d->first_seq, first);
    cr_assert_eq(d->last_seq, f.seq);
    cr_assert_eq(d->channel, CHANNEL_ECOM, "the first answer stays");
    struct authorization *h = authorize(&f, "A", "", 1, 1000, T0_NS + DAY_NS);
    ev_decision(&ev, "A-1", "A", 1, 1, 0, CHANNEL_POS, 0);
    fx_ok(&f, &ev);
    cr_assert_eq(h->state, AUTH_STATE_PENDING);
    cr_assert_eq(h->held, 1000);
    cr_assert_eq(h->approved_total, 1000);
    cr_assert_eq(h->last_seq, f.seq);
    ev_decision(&ev, "X-1", "X", 1, 1, 0, CHANNEL_POS, 0);
    fx_ok(&f, &ev);
    struct ledger_id xid = hold("X");
    cr_assert_null(ledger_state_authorization(f.st, &xid),
                   "an incremental decline creates nothing");
    assert_counters(account_of(&f, 1), 0, 0, 1000, 0);
    assert_double_entry(f.st);
    fx_release(&f);
}

Test(cards, refunds_credit_the_account)
{
    /* Proves card.refunded credits the account and debits the settlement account (posted), marks
     * both dirty, and keeps the double entry. */
    struct fx f;
    fx_init(&f);
    issue_active(&f, 1, 1);
    drain_dirty(f.st);
    struct event ev;
    ev_refund(&ev, 1, 1, 1, 750);
    fx_ok(&f, &ev);
    ev_refund(&ev, 2, 1, 1, 250);
    fx_ok(&f, &ev);
    struct account *a = account_of(&f, 1), *s = settlement_of(&f);
    assert_counters(a, 0, 1000, 0, 0);
    assert_counters(s, 1000, 0, 0, 0);
    assert_double_entry(f.st);
    cr_assert_eq(available(a), OVERDRAFT + 1000);
    cr_assert_eq(a->last_seq, f.seq);
    size_t n;
    const uint8_t *bits;
    ledger_state_take_dirty(f.st, &bits, &n);
    cr_assert_eq(n, 2);
    ledger_state_take_dirty_cards(f.st, &n);
    cr_assert_eq(n, 0, "a refund does not change the card");
    fx_release(&f);
}

/* ---- the expiry order ------------------------------------------------------------------------ */

Test(cards, expired_holds_order_and_max)
{
    /* Proves ledger_state_expired_holds returns the open holds due at now, earliest first (ties in
     * authorization order), at most max, without taking them out, and skips closed holds. */
    struct fx f;
    fx_init(&f);
    issue_active(&f, 1, 1);
    const char *names[] = {"h50", "h10", "h40", "h20", "h30", "h20b"};
    const int64_t at[] = {50, 10, 40, 20, 30, 20};
    for (int i = 0; i < 6; i++)
        authorize(&f, names[i], "", 1, 100, T0_NS + at[i] * NS);
    struct authorization *due[8];
    size_t n = ledger_state_expired_holds(f.st, T0_NS + 35 * NS, due, 8);
    cr_assert_eq(n, 4);
    const char *want[] = {"h10", "h20", "h20b", "h30"};
    for (size_t i = 0; i < n; i++)
        cr_assert_str_eq(due[i]->authorization_id, want[i], "position %zu", i);
    cr_assert_eq(ledger_state_expired_holds(f.st, T0_NS + 35 * NS, due, 2), 2, "max");
    cr_assert_str_eq(due[0]->authorization_id, "h10");
    cr_assert_str_eq(due[1]->authorization_id, "h20");
    cr_assert_eq(ledger_state_expired_holds(f.st, T0_NS + 35 * NS, due, 0), 0);
    cr_assert_eq(ledger_state_expired_holds(f.st, T0_NS + 9 * NS, due, 8), 0, "none due");
    cr_assert_eq(ledger_state_expired_holds(f.st, T0_NS + 35 * NS, due, 8), 4,
                 "a lookup takes nothing out");
    hold_ok(&f, EVENT_CARD_CAPTURED, "h20", 100, 100, true);
    hold_ok(&f, EVENT_CARD_REVERSED, "h10", 0, 100, true);
    n = ledger_state_expired_holds(f.st, INT64_MAX, due, 8);
    cr_assert_eq(n, 4);
    const char *rest[] = {"h20b", "h30", "h40", "h50"};
    for (size_t i = 0; i < n; i++)
        cr_assert_str_eq(due[i]->authorization_id, rest[i], "position %zu", i);
    fx_release(&f);
}

static uint64_t lcg(uint64_t *x)
{
    *x = *x * 6364136223846793005ull + 1442695040888963407ull;
    return *x >> 33;
}

static int cmp_due(const void *x, const void *y)
{
    const struct authorization *a = *(struct authorization *const *)x,
                               *b = *(struct authorization *const *)y;
    if (a->expires_at_ns != b->expires_at_ns)
        return a->expires_at_ns < b->expires_at_ns ? -1 : 1;
    return a->first_seq < b->first_seq ? -1 : a->first_seq > b->first_seq;
}

Test(cards, expired_holds_matches_a_sort)
{
    /* Proves the expiry heap against brute force over many holds with colliding expiries, random
     * closes (capture, reversal, expiry) and incremental moves of the expiry: for several (now,
     * max) the answer is the first max of the sorted open holds that are due. */
    struct fx f;
    fx_init(&f);
    issue_active(&f, 1, 1);
    uint64_t x = 42;
    char name[16];
    static struct authorization *all[HEAP_HOLDS];
    for (int i = 0; i < HEAP_HOLDS; i++) {
        snprintf(name, sizeof name, "r%d", i);
        all[i] = authorize(&f, name, "", 1, 10, T0_NS + (int64_t)(lcg(&x) % 60) * NS);
    }
    for (int i = 0; i < HEAP_HOLDS; i++) {
        snprintf(name, sizeof name, "r%d", i);
        uint64_t r = lcg(&x) % 5;
        if (r == 0)
            hold_ok(&f, EVENT_CARD_CAPTURED, name, 10, 10, true);
        else if (r == 1)
            hold_ok(&f, EVENT_CARD_REVERSED, name, 0, 10, true);
        else if (r == 2)
            hold_ok(&f, EVENT_CARD_HOLD_EXPIRED, name, 0, 10, true);
        else if (r == 3) {
            char inc[20];
            snprintf(inc, sizeof inc, "%s+", name);
            authorize(&f, inc, name, 1, 5, T0_NS + (int64_t)(lcg(&x) % 60) * NS);
        }
    }
    static struct authorization *open_due[HEAP_HOLDS], *got[HEAP_HOLDS];
    const int64_t nows[] = {-1, 0, 7, 30, 59, 100};
    const size_t maxes[] = {1, 3, 17, HEAP_HOLDS};
    for (size_t k = 0; k < 6; k++) {
        size_t m = 0;
        for (int i = 0; i < HEAP_HOLDS; i++)
            if (all[i]->state == AUTH_STATE_PENDING &&
                all[i]->expires_at_ns <= T0_NS + nows[k] * NS)
                open_due[m++] = all[i];
        qsort(open_due, m, sizeof open_due[0], cmp_due);
        for (size_t j = 0; j < 4; j++) {
            size_t n = ledger_state_expired_holds(f.st, T0_NS + nows[k] * NS, got, maxes[j]);
            cr_assert_eq(n, m < maxes[j] ? m : maxes[j], "now %lld max %zu", (long long)nows[k],
                         maxes[j]);
            for (size_t i = 0; i < n; i++)
                cr_assert_eq(got[i], open_due[i], "now %lld max %zu position %zu",
                             (long long)nows[k], maxes[j], i);
        }
    }
    assert_double_entry(f.st);
    fx_release(&f);
}

/* ---- spending windows ------------------------------------------------------------------------ */

static void keys_of(int64_t ts_ns, uint32_t *day, uint32_t *week, uint32_t *month)
{
    card_spend_keys(ts_ns, day, week, month);
}

Test(cards, spend_keys_known_dates)
{
    /* Proves card_spend_keys on known dates: days since the epoch, weeks that start on Monday
     * (2026-11-21 is a Saturday, 2026-11-23 a Monday), year*12 + month-1 across month, year and
     * leap-day boundaries, and the whole day maps to one key. */
    uint32_t d, w, m, d2, w2, m2;
    keys_of(0, &d, &w, &m);
    cr_assert(d == 0 && m == 1970 * 12, "1970-01-01");
    keys_of(SAT_2026_11_21_NS, &d, &w, &m);
    cr_assert_eq(d, 20778);
    cr_assert_eq(m, 2026 * 12 + 10);
    keys_of(SAT_2026_11_21_NS + DAY_NS - 1, &d2, &w2, &m2);
    cr_assert(d2 == d && w2 == w && m2 == m, "the last nanosecond of the day");
    keys_of(SAT_2026_11_21_NS + DAY_NS, &d2, &w2, &m2);
    cr_assert(d2 == d + 1 && w2 == w, "Sunday 22: the same week");
    keys_of(1795392000ll * NS, &d2, &w2, &m2);
    cr_assert(d2 == 20780 && w2 == w + 1 && m2 == m, "Monday 23: a new week");
    cr_assert_eq(w2, 20783 / 7, "weeks count from Monday 1969-12-29");
    keys_of(1795996800ll * NS - 1, &d2, &w2, &m2);
    cr_assert(m2 == 2026 * 12 + 10 && w2 == w + 1, "Sunday 2026-11-29, 23:59:59.999999999");
    keys_of(1796083200ll * NS, &d2, &w2, &m2);
    cr_assert(m2 == 2026 * 12 + 11 && w2 == w + 2, "Tuesday 2026-12-01");
    keys_of(1798761600ll * NS, &d2, &w2, &m2);
    cr_assert_eq(m2, 2027 * 12 + 0, "2027-01-01");
    keys_of(1709164800ll * NS, &d2, &w2, &m2);
    cr_assert(d2 == 19782 && m2 == 2024 * 12 + 1, "2024-02-29");
    keys_of(1709251200ll * NS, &d2, &w2, &m2);
    cr_assert_eq(m2, 2024 * 12 + 2, "2024-03-01");
    keys_of(951782400ll * NS, &d2, &w2, &m2);
    cr_assert(d2 == 11016 && m2 == 2000 * 12 + 1, "2000-02-29");
    keys_of(-1, &d2, &w2, &m2);
    cr_assert(d2 == (uint32_t)-1 && m2 == 1969 * 12 + 11, "1969-12-31: floor, not truncation");
}

static void authorize_at(struct fx *f, const char *auth, int64_t ts_ns, int64_t amount,
                         uint8_t channel)
{
    struct event ev;
    f->ts_ns = ts_ns;
    ev_decision(&ev, auth, "", 1, 1, amount, channel, ts_ns + DAY_NS);
    fx_ok(f, &ev);
}

static void assert_window(const struct spend_window *w, uint32_t key, int64_t amount,
                          uint32_t count)
{
    cr_assert_eq(w->key, key, "key %u, want %u", w->key, key);
    cr_assert_eq(w->amount, amount, "amount %lld, want %lld", (long long)w->amount,
                 (long long)amount);
    cr_assert_eq(w->count, count, "count %u, want %u", w->count, count);
}

Test(cards, spend_windows_reset_on_new_periods)
{
    /* Proves approvals add to the day/week/month windows of their time and a window of another
     * period restarts: Saturday and Sunday share a week, Monday starts a new one, December a new
     * month; ATM windows count ATM approvals only. */
    struct fx f;
    fx_init(&f);
    struct card *c = issue_active(&f, 1, 1);
    uint32_t d, w, m;
    int64_t sat = SAT_2026_11_21_NS + 10 * 3600 * NS;
    keys_of(sat, &d, &w, &m);
    authorize_at(&f, "sat", sat, 1000, CHANNEL_POS);
    authorize_at(&f, "sat-atm", sat + NS, 300, CHANNEL_ATM);
    assert_window(&c->day, d, 1300, 2);
    assert_window(&c->week, w, 1300, 2);
    assert_window(&c->month, m, 1300, 2);
    assert_window(&c->atm_day, d, 300, 1);
    assert_window(&c->atm_month, m, 300, 1);
    authorize_at(&f, "sun", sat + DAY_NS, 500, CHANNEL_POS);
    assert_window(&c->day, d + 1, 500, 1);
    assert_window(&c->week, w, 1800, 3);
    assert_window(&c->atm_day, d, 300, 1);
    authorize_at(&f, "mon", sat + 2 * DAY_NS, 200, CHANNEL_ATM);
    assert_window(&c->day, d + 2, 200, 1);
    assert_window(&c->week, w + 1, 200, 1);
    assert_window(&c->month, m, 2000, 4);
    assert_window(&c->atm_day, d + 2, 200, 1);
    assert_window(&c->atm_month, m, 500, 2);
    authorize_at(&f, "dec", 1796083200ll * NS + NS, 70, CHANNEL_POS);
    assert_window(&c->month, m + 1, 70, 1);
    assert_window(&c->week, w + 2, 70, 1);
    assert_window(&c->atm_month, m, 500, 2);
    fx_release(&f);
}

/* ---- rows, dirty lists, replay --------------------------------------------------------------- */

/* Fills n bytes with a seeded pattern: each byte non-zero with probability num/den (xorshift). */
static void sparse_bytes(uint8_t *p, size_t n, uint64_t *seed, unsigned num, unsigned den)
{
    for (size_t i = 0; i < n; i++) {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        p[i] = (unsigned)(*seed % den) < num ? (uint8_t)(1 + (*seed >> 32) % 255) : 0;
    }
}

/* Proves that packing keeps every byte whatever the pattern: runs of zeros longer than one
 * control byte holds (128), literal stretches longer than 128, zeros at either end, rows with no
 * zeros at all (then the plain layout, which must not be longer), and that equal structs give
 * equal rows. */
Test(cards, packed_rows_keep_any_bytes)
{
    static const unsigned density[][2] = {{0, 1}, {1, 200}, {1, 16}, {1, 3}, {1, 1}};
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    static uint8_t row[CARD_ROW_BYTES + AUTH_ROW_BYTES], again[CARD_ROW_BYTES + AUTH_ROW_BYTES];
    for (int round = 0; round < 400; round++) {
        const unsigned *d = density[round % 5];
        struct card c, c2;
        sparse_bytes((uint8_t *)&c, sizeof c, &seed, d[0], d[1]);
        c.state = CARD_STATE_ACTIVE;
        c.dirty = c.index_pending = 0;
        size_t len = card_row_encode(&c, row);
        cr_assert(len >= 5 && len <= CARD_ROW_BYTES, "round %d: %zu bytes", round, len);
        cr_assert(card_row_decode(row, len, &c2), "round %d", round);
        cr_assert_arr_eq(&c2, &c, sizeof c, "round %d", round);
        cr_assert_eq(card_row_encode(&c2, again), len);
        cr_assert_arr_eq(again, row, len, "round %d", round);
        struct authorization a, a2;
        sparse_bytes((uint8_t *)&a, sizeof a, &seed, d[0], d[1]);
        a.state = AUTH_STATE_PENDING;
        a.dirty = a.index_pending = 0;
        len = auth_row_encode(&a, row);
        cr_assert(len >= 5 && len <= AUTH_ROW_BYTES, "round %d: %zu bytes", round, len);
        cr_assert(auth_row_decode(row, len, &a2), "round %d", round);
        cr_assert_arr_eq(&a2, &a, sizeof a, "round %d", round);
    }
}

Test(cards, rows_round_trip)
{
    /* Proves card and authorization rows decode to the same struct (dirty and index_pending
     * bytes zeroed: a new card's row equals the one written later), and that a wrong length,
     * version or state is refused; auth_state_name covers every state. */
    struct fx f;
    fx_init(&f);
    struct card *c = issue_active(&f, 1, 1);
    struct authorization *h = authorize(&f, "A", "", 1, 900, T0_NS + DAY_NS);
    cr_assert_eq(c->dirty, 1);
    static uint8_t row[CARD_ROW_BYTES + AUTH_ROW_BYTES];
    struct card c2;
    size_t len = card_row_encode(c, row);
    cr_assert(len < CARD_ROW_BYTES / 2, "packed: %zu of %zu bytes", len, (size_t)CARD_ROW_BYTES);
    cr_assert(card_row_decode(row, len, &c2));
    cr_assert_eq(c2.dirty, 0);
    cr_assert_eq(c->index_pending, 1, "a new card's index row is still to be written");
    cr_assert_eq(c2.index_pending, 0);
    c2.dirty = c->dirty;
    c2.index_pending = c->index_pending;
    cr_assert_arr_eq(&c2, c, sizeof c2);
    cr_assert_not(card_row_decode(row, len - 1, &c2), "a run cut short");
    row[len] = 0x80;
    cr_assert_not(card_row_decode(row, len + 1, &c2), "a run past the struct");
    row[0] ^= 0xff;
    cr_assert_not(card_row_decode(row, len, &c2), "version");
    row[0] ^= 0xff;
    /* A row in the plain layout (rows written before packing) reads the same. */
    struct card plain_card = *c;
    plain_card.dirty = plain_card.index_pending = 0;
    uint32_t version = 1;
    memcpy(row, &version, 4);
    memcpy(row + 4, &plain_card, sizeof plain_card);
    cr_assert(card_row_decode(row, CARD_ROW_BYTES, &c2));
    cr_assert_eq(c2.last_seq, c->last_seq);
    cr_assert_str_eq(c2.name_on_card, c->name_on_card);
    cr_assert_not(card_row_decode(row, CARD_ROW_BYTES - 1, &c2));
    cr_assert_not(card_row_decode(row, CARD_ROW_BYTES + 1, &c2));
    struct card bad = *c;
    bad.state = 9;
    cr_assert_not(card_row_decode(row, card_row_encode(&bad, row), &c2), "state");
    struct authorization h2;
    len = auth_row_encode(h, row);
    cr_assert(len < AUTH_ROW_BYTES, "packed: %zu of %zu bytes", len, (size_t)AUTH_ROW_BYTES);
    cr_assert(auth_row_decode(row, len, &h2));
    cr_assert_eq(h2.dirty, 0);
    cr_assert_eq(h->index_pending, 1);
    cr_assert_eq(h2.index_pending, 0);
    h2.dirty = h->dirty;
    h2.index_pending = h->index_pending;
    cr_assert_arr_eq(&h2, h, sizeof h2);
    cr_assert_not(auth_row_decode(row, len - 1, &h2));
    row[0] ^= 0xff;
    cr_assert_not(auth_row_decode(row, len, &h2), "version");
    row[0] ^= 0xff;
    struct authorization bad_auth = *h;
    bad_auth.state = 0;
    cr_assert_not(auth_row_decode(row, auth_row_encode(&bad_auth, row), &h2), "state");
    cr_assert_str_eq(auth_state_name(AUTH_STATE_PENDING), "pending");
    cr_assert_str_eq(auth_state_name(AUTH_STATE_CAPTURED), "captured");
    cr_assert_str_eq(auth_state_name(AUTH_STATE_REVERSED), "reversed");
    cr_assert_str_eq(auth_state_name(AUTH_STATE_EXPIRED), "expired");
    cr_assert_str_eq(auth_state_name(AUTH_STATE_DECLINED), "declined");
    fx_release(&f);
}

Test(cards, dirty_lists_report_each_change_once)
{
    /* Proves the dirty card and authorization lists hold each changed entry once however many
     * events changed it, and are empty after being taken. */
    struct fx f;
    fx_init(&f);
    issue_active(&f, 1, 1);
    issue_active(&f, 2, 1);
    drain_dirty(f.st);
    authorize(&f, "A", "", 1, 100, T0_NS + DAY_NS);
    authorize(&f, "A-1", "A", 1, 100, T0_NS + DAY_NS);
    hold_ok(&f, EVENT_CARD_REVERSED, "A", 0, 50, false);
    authorize(&f, "B", "", 1, 100, T0_NS + DAY_NS);
    size_t n;
    struct card **cards = ledger_state_take_dirty_cards(f.st, &n);
    cr_assert_eq(n, 1);
    struct ledger_id c1 = card(1);
    cr_assert(ledger_id_equal(&cards[0]->id, &c1));
    struct authorization **auths = ledger_state_take_dirty_auths(f.st, &n);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(auths[0]->authorization_id, "A");
    cr_assert_str_eq(auths[1]->authorization_id, "B");
    cr_assert_eq(auths[0]->dirty, 0);
    ledger_state_take_dirty_auths(f.st, &n);
    cr_assert_eq(n, 0);
    fx_release(&f);
}

Test(cards, pointers_survive_growth)
{
    /* Proves card and authorization pointers stay valid while thousands more are added (chunked
     * storage) and every one is still found by id after the indexes grew. */
    struct fx f;
    fx_init(&f);
    struct card *first = issue_active(&f, 1, 1);
    struct authorization *h = authorize(&f, "A", "", 1, 1, T0_NS + DAY_NS);
    struct event ev;
    char name[16];
    for (uint32_t n = 2; n <= 2100; n++) {
        ev_issue(&ev, n, 1, 0);
        fx_ok(&f, &ev);
    }
    f.log_len = 0; /* the log is only for replays */
    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof name, "g%d", i);
        ev_decision(&ev, name, "", 1, 1, 0, CHANNEL_POS, 0);
        fx_ok(&f, &ev);
        f.log_len = 0;
    }
    struct ledger_id id = card(1), hid = hold("A");
    cr_assert_eq(ledger_state_card(f.st, &id), first);
    cr_assert_eq(ledger_state_authorization(f.st, &hid), h);
    for (uint32_t n = 1; n <= 2100; n++) {
        id = card(n);
        struct card *c = ledger_state_card(f.st, &id);
        cr_assert(c != NULL && ledger_id_equal(&c->id, &id), "card %u", n);
    }
    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof name, "g%d", i);
        hid = hold(name);
        struct authorization *a = ledger_state_authorization(f.st, &hid);
        cr_assert(a != NULL && strcmp(a->authorization_id, name) == 0, "hold %s", name);
    }
    fx_release(&f);
}

/* A mixed history: every card event type, holds in every state, refunds. */
static void mixed_history(struct fx *f)
{
    struct event ev;
    issue_active(f, 1, 1);
    ev_issue(&ev, 2, 1, 0);
    fx_ok(f, &ev);
    ev_limits(&ev, 1, 90000);
    fx_ok(f, &ev);
    ev_action(&ev, EVENT_CARD_BLOCKED, 2, CARD_BLOCK_USER);
    fx_ok(f, &ev);
    ev_action(&ev, EVENT_CARD_UNBLOCKED, 2, CARD_BLOCK_USER);
    fx_ok(f, &ev);
    authorize(f, "A", "", 1, 5000, T0_NS + DAY_NS);
    authorize(f, "A-1", "A", 1, 700, T0_NS + 2 * DAY_NS);
    hold_ok(f, EVENT_CARD_CAPTURED, "A", 2000, 2000, false);
    authorize(f, "B", "", 1, 800, T0_NS + DAY_NS);
    hold_ok(f, EVENT_CARD_REVERSED, "B", 0, 800, true);
    authorize(f, "C", "", 1, 300, T0_NS + DAY_NS);
    ev_hold(&ev, EVENT_CARD_HOLD_EXPIRED, "C", 1, 1, 0, 300, true);
    fx_ok(f, &ev);
    ev_decision(&ev, "D", "", 1, 1, 0, CHANNEL_ECOM, 0);
    fx_ok(f, &ev);
    ev_refund(&ev, 1, 1, 1, 450);
    fx_ok(f, &ev);
    ev_replace(&ev, 1, 3);
    fx_ok(f, &ev);
    ev_issue(&ev, 3, 1, 1);
    fx_ok(f, &ev);
    ev_action(&ev, EVENT_CARD_DESTROYED, 1, 0);
    fx_ok(f, &ev);
}

Test(cards, replay_gives_the_same_state)
{
    /* Proves replaying the same events into a fresh state gives the same balances digest and
     * byte-identical card and authorization rows (the projection is a function of the log). */
    struct fx f;
    fx_init(&f);
    mixed_history(&f);
    assert_double_entry(f.st);
    struct ledger_state *again = ledger_state_new();
    for (size_t i = 0; i < f.log_len; i++)
        cr_assert_eq(ledger_state_apply(again, &f.log[i]), LEDGER_ERR_OK, "event %zu", i);
    uint8_t d1[LEDGER_HASH_LEN], d2[LEDGER_HASH_LEN];
    ledger_state_digest(f.st, d1);
    ledger_state_digest(again, d2);
    cr_assert_arr_eq(d1, d2, LEDGER_HASH_LEN);
    static uint8_t r1[CARD_ROW_BYTES + AUTH_ROW_BYTES], r2[CARD_ROW_BYTES + AUTH_ROW_BYTES];
    for (uint32_t n = 1; n <= 3; n++) {
        struct ledger_id id = card(n);
        size_t l1 = card_row_encode(ledger_state_card(f.st, &id), r1);
        size_t l2 = card_row_encode(ledger_state_card(again, &id), r2);
        cr_assert(l1 == l2 && memcmp(r1, r2, l1) == 0, "card %u", n);
    }
    const char *holds[] = {"A", "B", "C", "D"};
    for (int k = 0; k < 4; k++) {
        struct ledger_id id = hold(holds[k]);
        size_t l1 = auth_row_encode(ledger_state_authorization(f.st, &id), r1);
        size_t l2 = auth_row_encode(ledger_state_authorization(again, &id), r2);
        cr_assert(l1 == l2 && memcmp(r1, r2, l1) == 0, "hold %s", holds[k]);
    }
    struct authorization *due1[4], *due2[4];
    size_t n1 = ledger_state_expired_holds(f.st, INT64_MAX, due1, 4);
    size_t n2 = ledger_state_expired_holds(again, INT64_MAX, due2, 4);
    cr_assert(n1 == 1 && n2 == 1 &&
              strcmp(due1[0]->authorization_id, due2[0]->authorization_id) == 0);
    ledger_state_free(again);
    fx_release(&f);
}
