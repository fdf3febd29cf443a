/*
 * decide_cards.c: card management and real-time card authorization (docs/CARDS.md).
 *
 * Authorization checks, in this order; the first failure decides the ISO 8583 response code:
 *   1. card known                                 14 invalid card
 *   2. card lost / stolen                         41 / 43
 *   3. card replaced or destroyed                 14
 *   4. card not activated, or blocked             62 restricted card
 *   5. card expired (MMYY before this month)      54
 *   6. account active, same currency              05 do not honor
 *   7. channel switch, MCC and country lists      57 not permitted to cardholder
 *   8. per-authorization maximum, day/week/month (and ATM) amounts   61
 *   9. day/week/month counts                      65
 *  10. available balance                          51, or 10 with a partial approval when allowed
 * Approved: a hold (pending debit on the account, pending credit on the currency's card-settlement
 * account) that lapses after hold_ttl_ns. Every decision, declines included, is an event; a
 * repeated authorization id gets the original answer and appends nothing. A stand-in advice skips
 * checks 2-10 (the network approved already): for any known card it is recorded and held, even on
 * a lost or blocked card and even if it overdraws.
 */
#include <stdio.h>
#include <string.h>

#include "commands/internal.h"

#define SETTLEMENT "card-settlement"

size_t decide_card_events_max(const struct cmd *c)
{
    switch (c->type) {
    case CMD_CARD_REPLACE: return 2;                     /* replaced + issued */
    case CMD_CARD_AUTHORIZE: case CMD_CARD_REFUND: return 2; /* settlement account opened + decision */
    case CMD_EXPIRE_HOLDS: return LEDGER_HOLDS_EXPIRED_PER_COMMAND_MAX;
    default: return 1;
    }
}

static void reject(struct cmd *c, enum ledger_err err, const char *field)
{
    c->result = err;
    c->field = field;
}

/* ---- card management -------------------------------------------------------------------------- */

static struct card_limits default_limits(void)
{
    struct card_limits l;
    memset(&l, 0, sizeof l);
    l.ecom = l.contactless = l.atm = true;
    return l;
}

static void issue_event(struct ledger_state *st, struct cmd *c, struct event_sink *sink,
                        const struct cmd_card_issue *o, const struct ledger_id *replaces)
{
    struct event *ev = decide_event(sink, c, EVENT_CARD_ISSUED, &o->card_id, 1);
    struct ev_card_issued *d = &ev->data.card_issued;
    d->card_id = o->card_id;
    d->account_id = o->account_id;
    d->type = o->type;
    memcpy(d->brand, o->brand, sizeof d->brand);
    memcpy(d->last_four, o->last_four, sizeof d->last_four);
    memcpy(d->token, o->token, sizeof d->token);
    memcpy(d->expiry, o->expiry, sizeof d->expiry);
    memcpy(d->name_on_card, o->name_on_card, sizeof d->name_on_card);
    if (replaces != NULL)
        d->replaces = *replaces;
    d->limits = o->has_limits ? o->limits : default_limits();
    decide_apply_last(st, sink);
}

static void decide_issue(struct ledger_state *st, struct cmd *c, struct event_sink *sink)
{
    const struct cmd_card_issue *o = &c->u.card_issue;
    struct account *a = ledger_state_account(st, &o->account_id);
    if (a == NULL)
        return reject(c, LEDGER_ERR_ACCOUNT_NOT_FOUND, "account_id");
    if (a->kind != ACCOUNT_KIND_CUSTOMER)
        return reject(c, LEDGER_ERR_ACCOUNT_KIND_INVALID, "account_id");
    if (a->state == ACCOUNT_STATE_CLOSED)
        return reject(c, LEDGER_ERR_ACCOUNT_CLOSED, "account_id");
    if (ledger_state_card(st, &o->card_id) != NULL)
        return reject(c, LEDGER_ERR_INTERNAL, "id");
    issue_event(st, c, sink, o, NULL);
    c->card = *ledger_state_card(st, &o->card_id);
}

static bool card_is_final(const struct card *k)
{
    return k->state == CARD_STATE_REPLACED || k->state == CARD_STATE_DESTROYED ||
           (k->blocks & (CARD_BLOCK_LOST | CARD_BLOCK_STOLEN));
}

/* The event type of a management command, or 0 with c->result set. */
static uint16_t card_action_type(struct cmd *c, const struct card *k)
{
    uint8_t bit = c->u.card_action.reason;
    switch (c->type) {
    case CMD_CARD_ACTIVATE:
        if (k->state == CARD_STATE_ACTIVE)
            return reject(c, LEDGER_ERR_CARD_ALREADY_ACTIVE, "card_id"), 0;
        return EVENT_CARD_ACTIVATED;
    case CMD_CARD_BLOCK:
        if (k->blocks & bit)
            return reject(c, LEDGER_ERR_CARD_ALREADY_BLOCKED, "reason"), 0;
        return EVENT_CARD_BLOCKED;
    case CMD_CARD_UNBLOCK:
        if (!(k->blocks & bit))
            return reject(c, LEDGER_ERR_CARD_NOT_BLOCKED, "reason"), 0;
        return EVENT_CARD_UNBLOCKED;
    case CMD_CARD_DESTROY: return EVENT_CARD_DESTROYED;
    case CMD_CARD_LIMITS: return EVENT_CARD_LIMITS_CHANGED;
    case CMD_CARD_REPLACE: return EVENT_CARD_REPLACED;
    default: return reject(c, LEDGER_ERR_INTERNAL, NULL), 0;
    }
}

static void decide_card_change(struct ledger_state *st, struct cmd *c, struct event_sink *sink)
{
    /* every management command starts with the card id */
    const struct ledger_id *id = c->type == CMD_CARD_LIMITS    ? &c->u.card_limits.card_id
                                 : c->type == CMD_CARD_REPLACE ? &c->u.card_replace.card_id
                                                               : &c->u.card_action.card_id;
    struct card *k = ledger_state_card(st, id);
    if (k == NULL)
        return reject(c, LEDGER_ERR_CARD_NOT_FOUND, "card_id");
    if (card_is_final(k) && c->type != CMD_CARD_DESTROY)
        return reject(c, LEDGER_ERR_CARD_FINAL, "card_id");
    if (k->state == CARD_STATE_DESTROYED)
        return reject(c, LEDGER_ERR_CARD_FINAL, "card_id");
    uint16_t type = card_action_type(c, k);
    if (type == 0)
        return;
    struct event *ev = decide_event(sink, c, type, &k->id, k->version + 1);
    if (type == EVENT_CARD_LIMITS_CHANGED) {
        ev->data.card_limits.card_id = k->id;
        ev->data.card_limits.limits = c->u.card_limits.limits;
    } else if (type == EVENT_CARD_REPLACED) {
        ev->data.card_replaced.card_id = k->id;
        ev->data.card_replaced.new_card_id = c->u.card_replace.new_card_id;
    } else {
        ev->data.card_action.card_id = k->id;
        ev->data.card_action.reason = type == EVENT_CARD_BLOCKED || type == EVENT_CARD_UNBLOCKED
                                          ? c->u.card_action.reason : 0;
    }
    decide_apply_last(st, sink);
    if (type == EVENT_CARD_REPLACED) {
        const struct cmd_card_replace *r = &c->u.card_replace;
        struct cmd_card_issue o = {.card_id = r->new_card_id, .account_id = k->account_id, .type = k->type,
                                   .has_limits = true, .limits = k->limits};
        memcpy(o.brand, k->brand, sizeof o.brand);
        memcpy(o.last_four, r->last_four, sizeof o.last_four);
        memcpy(o.token, r->token, sizeof o.token);
        memcpy(o.expiry, r->expiry, sizeof o.expiry);
        memcpy(o.name_on_card, k->name_on_card, sizeof o.name_on_card);
        issue_event(st, c, sink, &o, &k->id);
        k = ledger_state_card(st, &r->new_card_id);
    }
    c->card = *k;
}

/* ---- authorization ---------------------------------------------------------------------------- */

static struct ledger_id hold_id_of(const char *authorization_id)
{
    char name[LEDGER_AUTH_ID_MAX + 8];
    snprintf(name, sizeof name, "auth:%s", authorization_id);
    return ledger_id_from_name(name);
}

static void answer(struct cmd_card_authorize *a, bool approved, const char *code, const char *approval,
                   int64_t amount, int64_t available)
{
    a->approved = approved;
    snprintf(a->response_code, sizeof a->response_code, "%s", code);
    snprintf(a->approval_code, sizeof a->approval_code, "%s", approval);
    a->approved_amount = amount;
    a->available_after = available;
}

/* True when the card's MMYY expiry is before the month of now. */
static bool card_expired(const struct card *k, int64_t now_ns)
{
    uint32_t day, week, month;
    card_spend_keys(now_ns, &day, &week, &month);
    unsigned mm = (unsigned)(k->expiry[0] - '0') * 10 + (unsigned)(k->expiry[1] - '0');
    unsigned yy = (unsigned)(k->expiry[2] - '0') * 10 + (unsigned)(k->expiry[3] - '0');
    uint32_t last_valid = (2000 + yy) * 12 + (mm - 1);
    return month > last_valid;
}

static bool in_mccs(const uint16_t *list, uint8_t n, uint16_t mcc)
{
    for (uint8_t i = 0; i < n; i++)
        if (list[i] == mcc)
            return true;
    return false;
}

static bool in_countries(const char (*list)[3], uint8_t n, const char *country)
{
    for (uint8_t i = 0; i < n; i++)
        if (memcmp(list[i], country, 2) == 0)
            return true;
    return false;
}

/* Check 7: channel switches and the merchant lists. */
static bool permitted(const struct card_limits *l, const struct cmd_card_authorize *a)
{
    if ((a->channel == CHANNEL_ECOM && !l->ecom) || (a->channel == CHANNEL_CONTACTLESS && !l->contactless) ||
        (a->channel == CHANNEL_ATM && !l->atm))
        return false;
    const struct merchant *m = &a->merchant;
    if (in_mccs(l->blocked_mcc, l->blocked_mcc_n, m->mcc) ||
        (l->allowed_mcc_n > 0 && !in_mccs(l->allowed_mcc, l->allowed_mcc_n, m->mcc)))
        return false;
    return !in_countries(l->blocked_country, l->blocked_country_n, m->country) &&
           (l->allowed_country_n == 0 || in_countries(l->allowed_country, l->allowed_country_n, m->country));
}

/* What a window already holds at key (0 when the window belongs to another period). */
static void window_now(const struct spend_window *w, uint32_t key, int64_t *amount, uint32_t *count)
{
    *amount = w->key == key ? w->amount : 0;
    *count = w->key == key ? w->count : 0;
}

static bool over_amount(const struct spend_window *w, uint32_t key, int64_t limit, int64_t amount)
{
    int64_t spent, total;
    uint32_t n;
    window_now(w, key, &spent, &n);
    return limit > 0 && (!money_add(spent, amount, &total) || total > limit);
}

static bool over_count(const struct spend_window *w, uint32_t key, uint32_t limit)
{
    int64_t spent;
    uint32_t n;
    window_now(w, key, &spent, &n);
    return limit > 0 && n + 1 > limit;
}

/* Checks 8 and 9: "61", "65" or NULL. */
static const char *limits_code(const struct card *k, const struct cmd_card_authorize *a, int64_t now_ns)
{
    const struct card_limits *l = &k->limits;
    uint32_t d, w, m;
    card_spend_keys(now_ns, &d, &w, &m);
    int64_t amt = a->amount_minor;
    if ((l->per_auth_max > 0 && amt > l->per_auth_max) || over_amount(&k->day, d, l->day_amount, amt) ||
        over_amount(&k->week, w, l->week_amount, amt) || over_amount(&k->month, m, l->month_amount, amt))
        return "61";
    if (a->channel == CHANNEL_ATM &&
        (over_amount(&k->atm_day, d, l->atm_day_amount, amt) || over_amount(&k->atm_month, m, l->atm_month_amount, amt)))
        return "61";
    if (over_count(&k->day, d, l->day_count) || over_count(&k->week, w, l->week_count) ||
        over_count(&k->month, m, l->month_count))
        return "65";
    return NULL;
}

/* Checks 1-9; NULL when the card may be charged. *k and *acc are set when known. */
static const char *card_code(struct ledger_state *st, const struct cmd_card_authorize *a, int64_t now_ns,
                             struct card **k, struct account **acc)
{
    *k = ledger_state_card(st, &a->card_id);
    *acc = *k ? ledger_state_account(st, &(*k)->account_id) : NULL;
    if (*k == NULL || *acc == NULL)
        return "14";
    if (a->stand_in)
        return NULL; /* the network approved already: record it whatever the card's state */
    if ((*k)->blocks & CARD_BLOCK_STOLEN)
        return "43";
    if ((*k)->blocks & CARD_BLOCK_LOST)
        return "41";
    if ((*k)->state == CARD_STATE_REPLACED || (*k)->state == CARD_STATE_DESTROYED)
        return "14";
    if ((*k)->state != CARD_STATE_ACTIVE || (*k)->blocks != 0)
        return "62";
    if (card_expired(*k, now_ns))
        return "54";
    if ((*acc)->state != ACCOUNT_STATE_ACTIVE || (*acc)->blocks != 0 || memcmp((*acc)->currency, a->currency, 4) != 0)
        return "05";
    if (!permitted(&(*k)->limits, a))
        return "57";
    return limits_code(*k, a, now_ns);
}

static int64_t available_of(const struct account *acc)
{
    struct balance b;
    if (acc == NULL || !account_balance(acc, &b))
        return 0;
    return b.available;
}

/* A six-digit approval code derived from the hold and the time: deterministic on replay. */
static void approval_code(const struct ledger_id *hold, int64_t now_ns, char out[7])
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)now_ns;
    for (int i = 0; i < 16; i++)
        h = (h ^ hold->b[i]) * 1099511628211ull;
    snprintf(out, 7, "%06u", (unsigned)(h % 1000000));
}

static void decision_event(struct ledger_state *st, struct cmd *c, struct event_sink *sink,
                           const struct ledger_id *hold, const struct account *acc, int64_t approved)
{
    struct cmd_card_authorize *a = &c->u.card_auth;
    bool approve = a->approved;
    struct ledger_id stream = hold_id_of(a->authorization_id);
    struct event *ev = decide_event(sink, c, approve ? EVENT_CARD_AUTHORIZED : EVENT_CARD_DECLINED, &stream, 1);
    struct ev_card_decision *d = &ev->data.card_decision;
    d->hold_id = *hold;
    memcpy(d->authorization_id, a->authorization_id, sizeof d->authorization_id);
    memcpy(d->original_authorization_id, a->original_authorization_id, sizeof d->original_authorization_id);
    d->card_id = a->card_id;
    if (acc != NULL)
        d->account_id = acc->id;
    d->amount_requested = a->amount_minor;
    d->amount_approved = approved;
    memcpy(d->currency, a->currency, 4);
    d->merchant = a->merchant;
    d->channel = a->channel;
    d->category = a->category;
    memcpy(d->response_code, a->response_code, 3);
    memcpy(d->approval_code, a->approval_code, 7);
    d->expires_at_ns = approve ? c->now_ns + a->hold_ttl_ns : 0;
    d->stand_in = a->stand_in;
    d->available_after = a->available_after;
    decide_apply_last(st, sink);
    a->seq = ev->seq;
}

/* Replays the answer to an authorization id seen before; true when it was. */
static bool authorize_replay(struct ledger_state *st, struct cmd_card_authorize *a, bool incremental)
{
    struct ledger_id own = hold_id_of(a->authorization_id);
    if (incremental) {
        const struct op_record *r = ledger_state_operation(st, &own);
        if (r == NULL)
            return false;
        answer(a, r->approved > 0, r->response_code, r->approval_code, r->approved, r->available_after);
        a->seq = r->seq;
    } else {
        const struct authorization *h = ledger_state_authorization(st, &own);
        if (h == NULL)
            return false;
        answer(a, h->approved_amount > 0, h->response_code, h->approval_code, h->approved_amount,
               h->available_after);
        a->seq = h->first_seq;
    }
    a->replayed = true;
    return true;
}

static void decide_authorize(struct ledger_state *st, struct cmd *c, struct event_sink *sink)
{
    struct cmd_card_authorize *a = &c->u.card_auth;
    bool incremental = a->original_authorization_id[0] != '\0';
    a->replayed = false;
    if (authorize_replay(st, a, incremental))
        return;
    struct ledger_id hold = hold_id_of(incremental ? a->original_authorization_id : a->authorization_id);
    struct card *k;
    struct account *acc;
    const char *code = card_code(st, a, c->now_ns, &k, &acc);
    struct authorization *orig = incremental ? ledger_state_authorization(st, &hold) : NULL;
    if (code == NULL && incremental &&
        (orig == NULL || orig->state != AUTH_STATE_PENDING || !ledger_id_equal(&orig->card_id, &a->card_id)))
        code = "12"; /* invalid transaction: nothing open to add to */
    int64_t available = available_of(acc), approved = a->amount_minor;
    if (code == NULL && !a->stand_in && available < a->amount_minor) {
        if (a->partial_allowed && available > 0)
            approved = available, code = "10";
        else
            code = "51";
    }
    bool ok = code == NULL || strcmp(code, "10") == 0;
    if (ok) {
        decide_internal_account(st, c, sink, SETTLEMENT, a->currency);
        char approval[7];
        approval_code(&hold, c->now_ns, approval);
        answer(a, true, code ? code : "00", approval, approved, available - approved);
    } else {
        answer(a, false, code, "", 0, available);
    }
    decision_event(st, c, sink, &hold, acc, ok ? approved : 0);
}

/* ---- captures, reversals, refunds, expiry ---------------------------------------------------- */

static void decide_hold_change(struct ledger_state *st, struct cmd *c, struct event_sink *sink)
{
    struct cmd_card_capture *p = &c->u.card_capture;
    bool capture = c->type == CMD_CARD_CAPTURE;
    p->replayed = false;
    struct ledger_id hold_id = hold_id_of(p->authorization_id);
    const struct op_record *seen = ledger_state_operation(st, &p->operation_id);
    if (seen != NULL) {
        struct authorization *h = ledger_state_authorization(st, &hold_id);
        p->replayed = true;
        p->seq = seen->seq;
        p->held_after = h ? h->held : 0;
        return;
    }
    struct authorization *h = ledger_state_authorization(st, &hold_id);
    if (h == NULL || h->state == AUTH_STATE_DECLINED)
        return reject(c, LEDGER_ERR_AUTHORIZATION_NOT_FOUND, "authorization_id");
    if (h->state != AUTH_STATE_PENDING)
        return reject(c, LEDGER_ERR_AUTHORIZATION_CLOSED, "authorization_id");
    if (p->amount_minor < 0 || (capture && p->amount_minor == 0))
        return reject(c, LEDGER_ERR_AMOUNT_NOT_POSITIVE, "amount");
    int64_t release;
    if (capture) /* a capture releases what it consumes; final (or more than held) releases the rest */
        release = p->final || p->amount_minor >= h->held ? h->held : p->amount_minor;
    else if (p->amount_minor > h->held)
        return reject(c, LEDGER_ERR_AMOUNT_EXCEEDS_HOLD, "amount");
    else
        release = p->amount_minor == 0 ? h->held : p->amount_minor;
    struct event *ev = decide_event(sink, c, capture ? EVENT_CARD_CAPTURED : EVENT_CARD_REVERSED, &p->operation_id, 1);
    struct ev_card_hold_change *d = &ev->data.card_hold;
    d->hold_id = h->hold_id;
    d->card_id = h->card_id;
    d->account_id = h->account_id;
    d->operation_id = p->operation_id;
    d->amount = capture ? p->amount_minor : 0;
    d->released = release;
    memcpy(d->currency, h->currency, 4);
    d->final = release == h->held;
    decide_apply_last(st, sink);
    p->posted = d->amount;
    p->released = release;
    p->held_after = h->held;
    p->seq = ev->seq;
}

static void decide_refund(struct ledger_state *st, struct cmd *c, struct event_sink *sink)
{
    struct cmd_card_refund *r = &c->u.card_refund;
    r->replayed = false;
    const struct op_record *seen = ledger_state_operation(st, &r->refund_id);
    if (seen != NULL) {
        r->replayed = true;
        r->seq = seen->seq;
        return;
    }
    struct card *k = ledger_state_card(st, &r->card_id);
    if (k == NULL)
        return reject(c, LEDGER_ERR_CARD_NOT_FOUND, "card_id");
    struct account *acc = ledger_state_account(st, &k->account_id);
    if (r->amount_minor <= 0)
        return reject(c, LEDGER_ERR_AMOUNT_NOT_POSITIVE, "amount");
    if (acc == NULL || memcmp(acc->currency, r->currency, 4) != 0)
        return reject(c, LEDGER_ERR_CURRENCY_MISMATCH, "currency");
    if (acc->state == ACCOUNT_STATE_CLOSED)
        return reject(c, LEDGER_ERR_ACCOUNT_CLOSED, "card_id");
    int64_t sum;
    if (!money_add(acc->credits_posted, r->amount_minor, &sum))
        return reject(c, LEDGER_ERR_BALANCE_OVERFLOW, "amount");
    decide_internal_account(st, c, sink, SETTLEMENT, r->currency);
    struct event *ev = decide_event(sink, c, EVENT_CARD_REFUNDED, &r->refund_id, 1);
    struct ev_card_refunded *d = &ev->data.card_refund;
    d->refund_id = r->refund_id;
    d->card_id = k->id;
    d->account_id = acc->id;
    d->amount = r->amount_minor;
    memcpy(d->currency, r->currency, 4);
    memcpy(d->authorization_id, r->authorization_id, sizeof d->authorization_id);
    d->merchant = r->merchant;
    decide_apply_last(st, sink);
    r->seq = ev->seq;
}

static void decide_expire(struct ledger_state *st, struct cmd *c, struct event_sink *sink)
{
    static _Thread_local struct authorization *due[LEDGER_HOLDS_EXPIRED_PER_COMMAND_MAX];
    size_t n = ledger_state_expired_holds(st, c->now_ns, due, LEDGER_HOLDS_EXPIRED_PER_COMMAND_MAX);
    for (size_t i = 0; i < n; i++) {
        struct authorization *h = due[i];
        char name[64];
        char hex[33];
        ledger_hex(h->hold_id.b, 16, hex);
        snprintf(name, sizeof name, "expiry:%s", hex);
        struct ledger_id stream = ledger_id_from_name(name);
        struct event *ev = decide_event(sink, c, EVENT_CARD_HOLD_EXPIRED, &stream, 1);
        struct ev_card_hold_change *d = &ev->data.card_hold;
        d->hold_id = h->hold_id;
        d->card_id = h->card_id;
        d->account_id = h->account_id;
        d->released = h->held;
        memcpy(d->currency, h->currency, 4);
        d->final = true;
        decide_apply_last(st, sink);
    }
    c->u.expire.expired = n;
}

void decide_card(struct ledger_state *st, struct cmd *c, struct event_sink *sink)
{
    switch (c->type) {
    case CMD_CARD_ISSUE: return decide_issue(st, c, sink);
    case CMD_CARD_ACTIVATE:
    case CMD_CARD_BLOCK:
    case CMD_CARD_UNBLOCK:
    case CMD_CARD_DESTROY:
    case CMD_CARD_LIMITS:
    case CMD_CARD_REPLACE: return decide_card_change(st, c, sink);
    case CMD_CARD_AUTHORIZE: return decide_authorize(st, c, sink);
    case CMD_CARD_CAPTURE:
    case CMD_CARD_REVERSE: return decide_hold_change(st, c, sink);
    case CMD_CARD_REFUND: return decide_refund(st, c, sink);
    case CMD_EXPIRE_HOLDS: return decide_expire(st, c, sink);
    default: return reject(c, LEDGER_ERR_INTERNAL, NULL);
    }
}
