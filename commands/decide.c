/*
 * decide.c: business rules, one decide per command. Pure: the state and the command in, events
 * out; time is c->now_ns, assigned by the sequencer. Each produced event is applied to the state
 * at once (command k of a batch sees commands 1..k-1).
 *
 * Transfer checks, in this order (each failure has its own code): currency known, amount > 0,
 * transfer id already used (same content: the original answer; other content: TRANSFER_ID_REUSED),
 * credit account exists (deposits: a customer account, active, same currency), same account on
 * both sides, debit account exists, neither closed, neither blocked, currencies match, balances do
 * not overflow, funds available. A deposit opens its currency's funding account only when it is
 * about to execute (a linked chain opens them up front: an opening cannot be undone).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands/commands.h"
#include "commands/internal.h"

void cmd_release(struct cmd *c)
{
    free(c->idem_body);
    c->idem_body = NULL;
}

size_t decide_events_max(const struct cmd *c)
{
    if (c->type == CMD_SEAL_PERIODS)
        return LEDGER_SEALS_PER_COMMAND_MAX;
    if (c->type >= CMD_CLIENT_REGISTER)
        return 1; /* access control: one event each */
    if (c->type >= CMD_CARD_ISSUE)
        return decide_card_events_max(c);
    if (c->type != CMD_TRANSFERS)
        return 1;
    /* a deposit may open its currency's funding account first */
    return c->u.transfers.count * 2;
}

struct event *decide_event(struct event_sink *sink, const struct cmd *c, uint16_t type,
                           const struct ledger_id *stream, uint64_t stream_ver)
{
    LEDGER_ASSERT(sink->len < sink->cap);
    struct event *ev = &sink->events[sink->len++];
    memset(ev, 0, sizeof *ev);
    ev->seq = sink->next_seq++;
    ev->ts_ns = c->now_ns;
    ev->type = type;
    ev->v = 1;
    ev->stream = *stream;
    ev->stream_ver = stream_ver;
    ev->cmd_id = c->cmd_id;
    memcpy(ev->actor, c->actor, sizeof ev->actor);
    return ev;
}

/* Applies the event just appended; a decided event that does not apply is a programmer error. */
void decide_apply_last(struct ledger_state *st, struct event_sink *sink)
{
    enum ledger_err err = ledger_state_apply(st, &sink->events[sink->len - 1]);
    LEDGER_ASSERT(err == LEDGER_ERR_OK);
}

static void reject(struct cmd *c, enum ledger_err err, const char *field)
{
    c->result = err;
    c->field = field;
}

static void open_account_event(struct ledger_state *st, struct cmd *c, struct event_sink *sink,
                               const struct cmd_open_account *o)
{
    struct event *ev = decide_event(sink, c, EVENT_ACCOUNT_OPENED, &o->account_id, 1);
    struct ev_account_opened *d = &ev->data.opened;
    d->account_id = o->account_id;
    d->kind = o->kind;
    memcpy(d->holder_id, o->holder_id, sizeof d->holder_id);
    memcpy(d->currency, o->currency, sizeof d->currency);
    memcpy(d->friendly_name, o->friendly_name, sizeof d->friendly_name);
    d->overdraft_limit_minor = o->overdraft_limit_minor;
    /* account number: the opening rank, 11 digits; unique by construction */
    char number[12];
    snprintf(number, sizeof number, "%011llu", (unsigned long long)ledger_state_account_count(st) + 1);
    iban_fr_build(LEDGER_IBAN_BANK_CODE, LEDGER_IBAN_BRANCH_CODE, number, d->iban);
    decide_apply_last(st, sink);
}

static void decide_open(struct ledger_state *st, struct cmd *c, struct event_sink *sink)
{
    const struct cmd_open_account *o = &c->u.open;
    if (money_currency_find(o->currency) == NULL)
        return reject(c, LEDGER_ERR_CURRENCY_UNKNOWN, "currency");
    if (o->overdraft_limit_minor < 0)
        return reject(c, LEDGER_ERR_FIELD_INVALID, "overdraft_limit");
    if (strcmp(o->holder_id, LEDGER_INTERNAL_HOLDER) == 0 || o->holder_id[0] == '\0')
        return reject(c, LEDGER_ERR_FIELD_INVALID, "holder_id"); /* reserved for the ledger's own accounts */
    if (ledger_state_account(st, &o->account_id) != NULL)
        return reject(c, LEDGER_ERR_INTERNAL, "id");
    if (ledger_state_account_by_name(st, o->holder_id, o->friendly_name) != NULL)
        return reject(c, LEDGER_ERR_FRIENDLY_NAME_TAKEN, "friendly_name");
    if (ledger_state_account_count(st) >= LEDGER_ACCOUNTS_MAX)
        return reject(c, LEDGER_ERR_BUSY, NULL);
    open_account_event(st, c, sink, o);
    c->account = *ledger_state_account(st, &o->account_id);
}

static void decide_account_action(struct ledger_state *st, struct cmd *c, struct event_sink *sink)
{
    const struct cmd_account_action *a = &c->u.action;
    struct account *acc = ledger_state_account(st, &a->account_id);
    if (acc == NULL)
        return reject(c, LEDGER_ERR_ACCOUNT_NOT_FOUND, "account_id");
    if (acc->state == ACCOUNT_STATE_CLOSED)
        return reject(c, LEDGER_ERR_ACCOUNT_CLOSED, "account_id");
    uint16_t type;
    if (c->type == CMD_BLOCK_ACCOUNT) {
        if (acc->blocks & a->reason)
            return reject(c, LEDGER_ERR_ACCOUNT_ALREADY_BLOCKED, "reason");
        type = EVENT_ACCOUNT_BLOCKED;
    } else if (c->type == CMD_UNBLOCK_ACCOUNT) {
        if (!(acc->blocks & a->reason))
            return reject(c, LEDGER_ERR_ACCOUNT_NOT_BLOCKED, "reason");
        type = EVENT_ACCOUNT_UNBLOCKED;
    } else {
        if (acc->debits_pending != 0 || acc->credits_pending != 0)
            return reject(c, LEDGER_ERR_ACCOUNT_HAS_PENDING, "account_id");
        if (acc->debits_posted != acc->credits_posted)
            return reject(c, LEDGER_ERR_BALANCE_NOT_ZERO, "account_id");
        type = EVENT_ACCOUNT_CLOSED;
    }
    struct event *ev = decide_event(sink, c, type, &acc->id, acc->version + 1);
    if (type == EVENT_ACCOUNT_CLOSED) {
        ev->data.closed.account_id = acc->id;
    } else {
        ev->data.blocked.account_id = acc->id;
        ev->data.blocked.reason = a->reason;
    }
    decide_apply_last(st, sink);
    c->account = *acc;
}

static struct ledger_id funding_id(const char *currency)
{
    return ledger_internal_account_id("funding", currency);
}

struct account *decide_internal_account(struct ledger_state *st, struct cmd *c, struct event_sink *sink,
                                        const char *kind, const char *currency)
{
    struct ledger_id id = ledger_internal_account_id(kind, currency);
    struct account *a = ledger_state_account(st, &id);
    if (a != NULL)
        return a;
    struct cmd_open_account o = {.account_id = id, .kind = ACCOUNT_KIND_INTERNAL, .overdraft_limit_minor = 0};
    snprintf(o.holder_id, sizeof o.holder_id, "%s", LEDGER_INTERNAL_HOLDER);
    memcpy(o.currency, currency, 4);
    snprintf(o.friendly_name, sizeof o.friendly_name, "%s-%s", kind, currency);
    open_account_event(st, c, sink, &o);
    return ledger_state_account(st, &id);
}

/* The internal funding account of a currency, opened on first use. */
static struct account *funding_account(struct ledger_state *st, struct cmd *c, struct event_sink *sink,
                                       const char *currency)
{
    return decide_internal_account(st, c, sink, "funding", currency);
}

static enum ledger_err check_party(const struct account *a, const char *currency)
{
    if (a->state == ACCOUNT_STATE_CLOSED)
        return LEDGER_ERR_ACCOUNT_CLOSED;
    if (a->blocks != 0)
        return LEDGER_ERR_ACCOUNT_BLOCKED;
    if (memcmp(a->currency, currency, 4) != 0)
        return LEDGER_ERR_CURRENCY_MISMATCH;
    return LEDGER_ERR_OK;
}

/* Funds and overflow: internal accounts may go negative; customer accounts down to -overdraft. */
static enum ledger_err check_amounts(const struct account *dr, const struct account *cr, int64_t amount)
{
    int64_t sum;
    if (!money_add(dr->debits_posted, amount, &sum) || !money_add(cr->credits_posted, amount, &sum))
        return LEDGER_ERR_BALANCE_OVERFLOW;
    if (dr->kind != ACCOUNT_KIND_CUSTOMER)
        return LEDGER_ERR_OK;
    struct balance b;
    if (!account_balance(dr, &b))
        return LEDGER_ERR_BALANCE_OVERFLOW;
    return b.available >= amount ? LEDGER_ERR_OK : LEDGER_ERR_FUNDS_INSUFFICIENT;
}

void transfer_item_event(const struct transfer_item *t, struct ev_transfer_executed *d)
{
    memset(d, 0, sizeof *d);
    d->transfer_id = t->id;
    d->debit_account_id = t->debit_account_id;
    d->credit_account_id = t->credit_account_id;
    d->amount_minor = t->amount_minor;
    memcpy(d->currency, t->currency, 4);
    d->kind = t->kind;
    memcpy(d->reference, t->reference, sizeof d->reference);
}

/* The account checks of a deposit's credit side (a customer account, able to receive). */
static enum ledger_err check_deposit_target(const struct account *cr, const char *currency)
{
    if (cr == NULL)
        return LEDGER_ERR_ACCOUNT_NOT_FOUND;
    if (cr->kind != ACCOUNT_KIND_CUSTOMER)
        return LEDGER_ERR_ACCOUNT_KIND_INVALID;
    return check_party(cr, currency);
}

/* Decides one transfer item; on success appends and applies its event(s). */
static enum ledger_err decide_item(struct ledger_state *st, struct cmd *c, struct event_sink *sink,
                                   struct transfer_item *t)
{
    bool deposit = t->kind == TRANSFER_KIND_DEPOSIT;
    const char *cr_field = deposit ? "account_id" : "credit_account_id";
    t->field = NULL;
    if (money_currency_find(t->currency) == NULL)
        return t->field = "currency", LEDGER_ERR_CURRENCY_UNKNOWN;
    if (t->amount_minor <= 0)
        return t->field = "amount", LEDGER_ERR_AMOUNT_NOT_POSITIVE;
    if (deposit)
        t->debit_account_id = funding_id(t->currency);
    struct ev_transfer_executed d;
    transfer_item_event(t, &d);
    uint64_t seen_seq, seen_content;
    if (ledger_state_transfer(st, &t->id, &seen_seq, &seen_content)) {
        if (seen_content != transfer_content_digest(&d))
            return t->field = "id", LEDGER_ERR_TRANSFER_ID_REUSED;
        t->seq = seen_seq;
        t->replayed = true;
        return LEDGER_ERR_OK;
    }
    struct account *cr = ledger_state_account(st, &t->credit_account_id);
    enum ledger_err err;
    if (deposit && (err = check_deposit_target(cr, t->currency)) != LEDGER_ERR_OK)
        return t->field = cr_field, err;
    if (cr == NULL)
        return t->field = cr_field, LEDGER_ERR_ACCOUNT_NOT_FOUND;
    if (ledger_id_equal(&t->debit_account_id, &t->credit_account_id))
        return t->field = "credit_account_id", LEDGER_ERR_SAME_ACCOUNT;
    struct account *dr = ledger_state_account(st, &t->debit_account_id);
    struct account unopened_funding = {.kind = ACCOUNT_KIND_INTERNAL, .state = ACCOUNT_STATE_ACTIVE};
    if (dr == NULL && deposit)
        memcpy(unopened_funding.currency, t->currency, 4), dr = &unopened_funding;
    if (dr == NULL)
        return t->field = "debit_account_id", LEDGER_ERR_ACCOUNT_NOT_FOUND;
    if ((err = check_party(dr, t->currency)) != LEDGER_ERR_OK)
        return t->field = "debit_account_id", err;
    if ((err = check_party(cr, t->currency)) != LEDGER_ERR_OK)
        return t->field = cr_field, err;
    if ((err = check_amounts(dr, cr, t->amount_minor)) != LEDGER_ERR_OK)
        return t->field = "amount", err;
    if (dr == &unopened_funding)
        funding_account(st, c, sink, t->currency);
    struct event *ev = decide_event(sink, c, EVENT_TRANSFER_EXECUTED, &t->id, 1);
    ev->data.transfer = d;
    decide_apply_last(st, sink);
    t->seq = ev->seq;
    t->ts_ns = ev->ts_ns;
    return LEDGER_ERR_OK;
}

static void decide_transfers(struct ledger_state *st, struct cmd *c, struct event_sink *sink)
{
    struct cmd_transfers *tr = &c->u.transfers;
    ledger_state_reserve_transfers(st, tr->count);
    /* Opening an account cannot be undone: a linked chain opens the funding accounts its deposits
     * need before its undo mark, so a rollback never removes an event whose account stays. */
    for (size_t i = 0; tr->linked && i < tr->count; i++)
        if (tr->items[i].kind == TRANSFER_KIND_DEPOSIT && money_currency_find(tr->items[i].currency))
            funding_account(st, c, sink, tr->items[i].currency);
    size_t mark = ledger_state_mark(st), sink_mark = sink->len;
    uint64_t seq_mark = sink->next_seq;
    for (size_t i = 0; i < tr->count; i++) {
        struct transfer_item *t = &tr->items[i];
        t->replayed = false;
        t->seq = 0;
        t->result = decide_item(st, c, sink, t);
        if (t->result == LEDGER_ERR_OK || !tr->linked)
            continue;
        /* linked: undo everything this command did, report the failing item and its siblings */
        ledger_state_rollback(st, mark);
        sink->len = sink_mark;
        sink->next_seq = seq_mark;
        for (size_t k = 0; k < tr->count; k++) {
            if (k == i)
                continue;
            tr->items[k].result = LEDGER_ERR_LINKED_TRANSFER_FAILED;
            tr->items[k].field = NULL;
            tr->items[k].seq = 0;
            tr->items[k].replayed = false;
        }
        break;
    }
    ledger_state_commit_undo(st);
    c->result = LEDGER_ERR_OK;
}

void decide(struct ledger_state *st, struct cmd *c, struct event_sink *sink)
{
    LEDGER_ASSERT(sink->cap - sink->len >= decide_events_max(c));
    c->result = LEDGER_ERR_OK;
    c->field = NULL;
    switch (c->type) {
    case CMD_OPEN_ACCOUNT: decide_open(st, c, sink); break;
    case CMD_BLOCK_ACCOUNT:
    case CMD_UNBLOCK_ACCOUNT:
    case CMD_CLOSE_ACCOUNT: decide_account_action(st, c, sink); break;
    case CMD_TRANSFERS: decide_transfers(st, c, sink); break;
    case CMD_SEAL_PERIODS: decide_seal_periods(st, c, sink); break;
    case CMD_HOLDER_IDENTIFY: decide_holder_identify(st, c, sink); break;
    case CMD_CLIENT_REGISTER:
    case CMD_CLIENT_REVOKE:
    case CMD_THIRD_PARTY_DECLARE:
    case CMD_THIRD_PARTY_REMOVE: decide_access(st, c, sink); break; /* decide_access.c */
    default: decide_card(st, c, sink); break; /* decide_cards.c */
    }
    c->seq = sink->next_seq - 1;
}

/* Seals every statement period that has ended by c->now_ns, oldest first: the first period is the
 * one containing the first event; each seal starts where the previous one ended. */
void decide_seal_periods(struct ledger_state *st, struct cmd *c, struct event_sink *sink)
{
    struct cmd_seal_periods *p = &c->u.seal;
    p->sealed = 0;
    int64_t cursor = ledger_state_sealed_until(st);
    if (cursor == 0) {
        if (ledger_state_first_ts(st) == 0)
            return; /* an empty log has no period yet */
        cursor = ledger_state_first_ts(st);
    }
    while (p->sealed < LEDGER_SEALS_PER_COMMAND_MAX) {
        int64_t start, end;
        char label[LEDGER_PERIOD_LABEL_MAX + 1];
        statement_period_of(cursor, (enum period_kind)p->kind, &start, &end, label);
        if (ledger_state_sealed_until(st) != 0)
            start = ledger_state_sealed_until(st); /* continuous even if the zone's offsets moved */
        if (end > c->now_ns)
            break;
        char name[64];
        snprintf(name, sizeof name, "period:%s:%s", period_kind_name((enum period_kind)p->kind), label);
        struct ledger_id stream = ledger_id_from_name(name); /* each period is its own aggregate */
        struct event *ev = decide_event(sink, c, EVENT_STATEMENT_PERIOD_CLOSED, &stream, 1);
        struct ev_period_closed *d = &ev->data.period_closed;
        snprintf(d->period, sizeof d->period, "%s", label);
        snprintf(d->kind, sizeof d->kind, "%s", period_kind_name((enum period_kind)p->kind));
        snprintf(d->time_zone, sizeof d->time_zone, "%s", p->time_zone);
        d->start_ns = start;
        d->end_ns = end;
        d->last_seq = ev->seq - 1;
        decide_apply_last(st, sink);
        p->sealed++;
        cursor = end;
    }
}

/* A holder's identification (KYC) status: any holder id but the ledger's own; each change is one
 * event, its own stream (the command id names it). */
void decide_holder_identify(struct ledger_state *st, struct cmd *c, struct event_sink *sink)
{
    const struct cmd_holder_identify *h = &c->u.holder_identify;
    if (h->holder_id[0] == '\0' || strcmp(h->holder_id, LEDGER_INTERNAL_HOLDER) == 0 ||
        !ledger_utf8_valid(h->holder_id, strlen(h->holder_id)))
        return reject(c, LEDGER_ERR_FIELD_INVALID, "holder_id");
    char name[64], hex[33];
    ledger_hex(c->cmd_id.b, 16, hex);
    snprintf(name, sizeof name, "kyc:%s", hex);
    struct ledger_id stream = ledger_id_from_name(name);
    struct event *ev = decide_event(sink, c, EVENT_HOLDER_IDENTIFICATION_CHANGED, &stream, 1);
    memcpy(ev->data.holder_identification.holder_id, h->holder_id, sizeof ev->data.holder_identification.holder_id);
    ev->data.holder_identification.identified = h->identified;
    decide_apply_last(st, sink);
}
