/*
 * state.c: the inline projection (struct ledger_state), see projections.h.
 *
 * Invariants:
 *   - accounts live in fixed-size chunks, so a struct account pointer stays valid for the life of
 *     the state (decide() holds pointers across applies);
 *   - the three indexes (id -> account, holder+name -> account, transfer id -> seq) use linear
 *     probing at load <= 1/2; nothing is ever deleted except by LIFO rollback, which restores the
 *     exact previous table (an insert only ever fills the first empty slot of its probe path);
 *   - per currency, sum(debits_posted) == sum(credits_posted) after every applied transfer.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/random.h>

#include "events/events.h"
#include "projections/internal.h"

#define CHUNK_ACCOUNTS 4096
#define CHUNKS_MAX (LEDGER_ACCOUNTS_MAX / CHUNK_ACCOUNTS)
#define INDEX_INITIAL 1024

struct transfer_slot {
    struct ledger_id id;
    uint64_t seq; /* 0 = empty */
    uint64_t content;
};

struct undo_entry {
    struct account *account; /* NULL: undo a transfer-id insert at slot */
    size_t slot;
    int64_t debits_posted, credits_posted;
    uint64_t last_seq;
};

struct ledger_state {
    struct account *chunks[CHUNKS_MAX];
    uint64_t count;
    uint32_t *by_id;   /* account index + 1; 0 = empty */
    uint32_t *by_name;
    size_t index_cap;
    struct transfer_slot *transfers;
    size_t transfers_cap, transfers_count;
    struct holder_identification *holder_changes; /* since the last take */
    size_t holder_changes_len, holder_changes_cap;
    int64_t first_ts_ns;     /* the first event's time */
    int64_t sealed_until_ns; /* end of the last sealed statement period */
    struct op_record *ops; /* card operation ids, linear probing, load <= 1/2 */
    size_t ops_cap, ops_count;
    struct undo_entry *undo;
    size_t undo_len, undo_cap;
    struct card_book *cards;
    struct access_book *access; /* clients and third parties (access.c) */
    struct account **dirty;
    uint8_t *dirty_bits;
    size_t dirty_len, dirty_cap;
    uint64_t seed;
};

static uint64_t hash_name(const struct ledger_state *st, const char *holder, const char *name)
{
    uint64_t h = proj_fnv(PROJ_FNV_BASIS ^ st->seed, holder, strlen(holder) + 1);
    return proj_mix64(proj_fnv(h, name, strlen(name)));
}

void *proj_zalloc(size_t n, size_t size)
{
    LEDGER_ASSERT(size == 0 || n <= SIZE_MAX / size);
    void *p = malloc(n * size > 0 ? n * size : 1);
    LEDGER_ASSERT(p != NULL);
    memset(p, 0, n * size);
    return p;
}

struct ledger_state *ledger_state_new(void)
{
    struct ledger_state *st = proj_zalloc(1, sizeof *st);
    if (getrandom(&st->seed, sizeof st->seed, 0) != sizeof st->seed)
        st->seed = 0x5eed;
    st->index_cap = INDEX_INITIAL;
    st->by_id = proj_zalloc(st->index_cap, sizeof *st->by_id);
    st->by_name = proj_zalloc(st->index_cap, sizeof *st->by_name);
    st->transfers_cap = INDEX_INITIAL;
    st->transfers = proj_zalloc(st->transfers_cap, sizeof *st->transfers);
    st->cards = card_book_new();
    st->access = access_book_new();
    st->ops_cap = INDEX_INITIAL;
    st->ops = proj_zalloc(st->ops_cap, sizeof *st->ops);
    return st;
}

struct card_book *ledger_state_card_book(struct ledger_state *st)
{
    return st->cards;
}

struct access_book *ledger_state_access_book(struct ledger_state *st)
{
    return st->access;
}

void ledger_state_free(struct ledger_state *st)
{
    if (st == NULL)
        return;
    for (size_t i = 0; i < CHUNKS_MAX && st->chunks[i]; i++)
        free(st->chunks[i]);
    free(st->by_id);
    free(st->by_name);
    free(st->transfers);
    free(st->ops);
    free(st->holder_changes);
    free(st->undo);
    free(st->dirty);
    free(st->dirty_bits);
    card_book_free(st->cards);
    access_book_free(st->access);
    free(st);
}

struct account *ledger_state_account_at(struct ledger_state *st, uint64_t i)
{
    LEDGER_ASSERT(i < st->count);
    return &st->chunks[i / CHUNK_ACCOUNTS][i % CHUNK_ACCOUNTS];
}

uint64_t ledger_state_account_count(const struct ledger_state *st)
{
    return st->count;
}

struct account *ledger_state_account(struct ledger_state *st, const struct ledger_id *id)
{
    size_t mask = st->index_cap - 1;
    for (size_t i = proj_hash_id(st->seed, id) & mask;; i = (i + 1) & mask) {
        uint32_t v = st->by_id[i];
        if (v == 0)
            return NULL;
        struct account *a = ledger_state_account_at(st, v - 1);
        if (ledger_id_equal(&a->id, id))
            return a;
    }
}

struct account *ledger_state_account_by_name(struct ledger_state *st, const char *holder_id, const char *name)
{
    size_t mask = st->index_cap - 1;
    for (size_t i = hash_name(st, holder_id, name) & mask;; i = (i + 1) & mask) {
        uint32_t v = st->by_name[i];
        if (v == 0)
            return NULL;
        struct account *a = ledger_state_account_at(st, v - 1);
        if (strcmp(a->holder_id, holder_id) == 0 && strcmp(a->friendly_name, name) == 0)
            return a;
    }
}

static void index_insert(struct ledger_state *st, uint32_t *table, uint64_t h, uint32_t value)
{
    size_t mask = st->index_cap - 1;
    size_t i = h & mask;
    while (table[i] != 0)
        i = (i + 1) & mask;
    table[i] = value;
}

static void index_grow(struct ledger_state *st)
{
    free(st->by_id);
    free(st->by_name);
    st->index_cap *= 2;
    st->by_id = proj_zalloc(st->index_cap, sizeof *st->by_id);
    st->by_name = proj_zalloc(st->index_cap, sizeof *st->by_name);
    for (uint64_t i = 0; i < st->count; i++) {
        struct account *a = ledger_state_account_at(st, i);
        index_insert(st, st->by_id, proj_hash_id(st->seed, &a->id), (uint32_t)i + 1);
        index_insert(st, st->by_name, hash_name(st, a->holder_id, a->friendly_name), (uint32_t)i + 1);
    }
}

void ledger_state_mark_dirty(struct ledger_state *st, struct account *a, uint64_t seq, uint8_t bits)
{
    a->last_seq = seq;
    if ((a->dirty | bits) == a->dirty)
        return;
    if (a->dirty == 0) {
        if (st->dirty_len == st->dirty_cap) {
            st->dirty_cap = st->dirty_cap ? st->dirty_cap * 2 : 1024;
            st->dirty = realloc(st->dirty, st->dirty_cap * sizeof *st->dirty);
            LEDGER_ASSERT(st->dirty != NULL);
        }
        st->dirty[st->dirty_len++] = a;
    }
    a->dirty |= bits;
}

struct account **ledger_state_take_dirty(struct ledger_state *st, const uint8_t **dirty_bits, size_t *n)
{
    *n = st->dirty_len;
    if (st->dirty_len > 0) {
        st->dirty_bits = realloc(st->dirty_bits, st->dirty_cap);
        LEDGER_ASSERT(st->dirty_bits != NULL);
    }
    for (size_t i = 0; i < st->dirty_len; i++) {
        st->dirty_bits[i] = st->dirty[i]->dirty;
        st->dirty[i]->dirty = 0;
    }
    st->dirty_len = 0;
    *dirty_bits = st->dirty_bits;
    return st->dirty;
}

static enum ledger_err apply_opened(struct ledger_state *st, const struct event *ev)
{
    const struct ev_account_opened *d = &ev->data.opened;
    if (st->count >= LEDGER_ACCOUNTS_MAX || ledger_state_account(st, &d->account_id) != NULL ||
        ledger_state_account_by_name(st, d->holder_id, d->friendly_name) != NULL)
        return LEDGER_ERR_DECODE;
    if (st->count % CHUNK_ACCOUNTS == 0)
        st->chunks[st->count / CHUNK_ACCOUNTS] = proj_zalloc(CHUNK_ACCOUNTS, sizeof(struct account));
    uint64_t index = st->count++;
    struct account *a = ledger_state_account_at(st, index);
    memset(a, 0, sizeof *a);
    a->id = d->account_id;
    a->kind = d->kind;
    a->state = ACCOUNT_STATE_ACTIVE;
    memcpy(a->currency, d->currency, sizeof a->currency);
    memcpy(a->holder_id, d->holder_id, sizeof a->holder_id);
    memcpy(a->friendly_name, d->friendly_name, sizeof a->friendly_name);
    memcpy(a->iban, d->iban, sizeof a->iban);
    a->overdraft_limit_minor = d->overdraft_limit_minor;
    a->version = 1;
    a->opened_seq = ev->seq;
    a->opened_ts_ns = ev->ts_ns;
    if (st->count * 2 > st->index_cap) {
        index_grow(st);
    } else {
        index_insert(st, st->by_id, proj_hash_id(st->seed, &a->id), (uint32_t)index + 1);
        index_insert(st, st->by_name, hash_name(st, a->holder_id, a->friendly_name), (uint32_t)index + 1);
    }
    ledger_state_mark_dirty(st, a, ev->seq, DIRTY_ACCOUNT | DIRTY_BALANCE);
    return LEDGER_ERR_OK;
}

static enum ledger_err apply_account_change(struct ledger_state *st, const struct event *ev)
{
    const struct ledger_id *id = ev->type == EVENT_ACCOUNT_CLOSED ? &ev->data.closed.account_id
                                                                  : &ev->data.blocked.account_id;
    struct account *a = ledger_state_account(st, id);
    if (a == NULL || a->state == ACCOUNT_STATE_CLOSED)
        return LEDGER_ERR_DECODE;
    uint8_t bit = ev->data.blocked.reason;
    switch (ev->type) {
    case EVENT_ACCOUNT_BLOCKED:
        if (a->blocks & bit)
            return LEDGER_ERR_DECODE;
        a->blocks |= bit;
        break;
    case EVENT_ACCOUNT_UNBLOCKED:
        if (!(a->blocks & bit))
            return LEDGER_ERR_DECODE;
        a->blocks &= (uint8_t)~bit;
        break;
    default:
        a->state = ACCOUNT_STATE_CLOSED;
        break;
    }
    a->version++;
    ledger_state_mark_dirty(st, a, ev->seq, DIRTY_ACCOUNT | DIRTY_BALANCE);
    return LEDGER_ERR_OK;
}

uint64_t transfer_content_digest(const struct ev_transfer_executed *t)
{
    uint64_t h = proj_fnv(PROJ_FNV_BASIS, t->debit_account_id.b, 16);
    h = proj_fnv(h, t->credit_account_id.b, 16);
    h = proj_fnv(h, &t->amount_minor, sizeof t->amount_minor);
    h = proj_fnv(h, t->currency, 3);
    h = proj_fnv(h, &t->kind, 1);
    return proj_mix64(proj_fnv(h, t->reference, strlen(t->reference)));
}

static size_t transfer_probe(const struct ledger_state *st, const struct ledger_id *id)
{
    size_t mask = st->transfers_cap - 1;
    size_t i = proj_hash_id(st->seed, id) & mask;
    /* NOLINTNEXTLINE(clang-analyzer-core.UndefinedBinaryOperatorResult): proj_zalloc zeroed the table */
    while (st->transfers[i].seq != 0 && !ledger_id_equal(&st->transfers[i].id, id))
        i = (i + 1) & mask;
    return i;
}

bool ledger_state_transfer(const struct ledger_state *st, const struct ledger_id *id, uint64_t *seq,
                           uint64_t *content)
{
    const struct transfer_slot *s = &st->transfers[transfer_probe(st, id)];
    if (s->seq == 0)
        return false;
    *seq = s->seq;
    *content = s->content;
    return true;
}

static void transfers_grow(struct ledger_state *st, size_t need)
{
    size_t cap = st->transfers_cap;
    while ((st->transfers_count + need) * 2 > cap)
        cap *= 2;
    if (cap == st->transfers_cap)
        return;
    struct transfer_slot *old = st->transfers;
    size_t old_cap = st->transfers_cap;
    st->transfers = proj_zalloc(cap, sizeof *st->transfers);
    st->transfers_cap = cap;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].seq != 0)
            st->transfers[transfer_probe(st, &old[i].id)] = old[i];
    free(old);
}

void ledger_state_reserve_transfers(struct ledger_state *st, size_t n)
{
    transfers_grow(st, n);
}

static void undo_push(struct ledger_state *st, struct account *a, size_t slot)
{
    if (st->undo_len == st->undo_cap) {
        st->undo_cap = st->undo_cap ? st->undo_cap * 2 : 1024;
        st->undo = realloc(st->undo, st->undo_cap * sizeof *st->undo);
        LEDGER_ASSERT(st->undo != NULL);
    }
    struct undo_entry *u = &st->undo[st->undo_len++];
    u->account = a;
    u->slot = slot;
    if (a != NULL) {
        u->debits_posted = a->debits_posted;
        u->credits_posted = a->credits_posted;
        u->last_seq = a->last_seq;
    }
}

static enum ledger_err apply_transfer(struct ledger_state *st, const struct event *ev)
{
    const struct ev_transfer_executed *t = &ev->data.transfer;
    struct account *dr = ledger_state_account(st, &t->debit_account_id);
    struct account *cr = ledger_state_account(st, &t->credit_account_id);
    int64_t new_dr, new_cr;
    /* closed accounts never move (blocked ones may: a later clearing of an earlier hold posts) */
    if (dr == NULL || cr == NULL || dr == cr || t->amount_minor <= 0 || dr->state == ACCOUNT_STATE_CLOSED ||
        cr->state == ACCOUNT_STATE_CLOSED ||
        memcmp(dr->currency, t->currency, 4) != 0 || memcmp(cr->currency, t->currency, 4) != 0 ||
        !money_add(dr->debits_posted, t->amount_minor, &new_dr) ||
        !money_add(cr->credits_posted, t->amount_minor, &new_cr))
        return LEDGER_ERR_DECODE;
    transfers_grow(st, 1);
    size_t slot = transfer_probe(st, &t->transfer_id);
    if (st->transfers[slot].seq != 0)
        return LEDGER_ERR_DECODE;
    undo_push(st, NULL, slot);
    undo_push(st, dr, 0);
    undo_push(st, cr, 0);
    st->transfers[slot] = (struct transfer_slot){t->transfer_id, ev->seq, transfer_content_digest(t)};
    st->transfers_count++;
    dr->debits_posted = new_dr;
    cr->credits_posted = new_cr;
    ledger_state_mark_dirty(st, dr, ev->seq, DIRTY_BALANCE);
    ledger_state_mark_dirty(st, cr, ev->seq, DIRTY_BALANCE);
    return LEDGER_ERR_OK;
}

/* ---- card operation ids --------------------------------------------------------------------- */

struct ledger_id card_operation_id(const struct event *ev)
{
    struct ledger_id zero = {{0}};
    switch ((enum event_type)ev->type) {
    case EVENT_CARD_AUTHORIZED:
    case EVENT_CARD_DECLINED: {
        const struct ev_card_decision *d = &ev->data.card_decision;
        if (d->original_authorization_id[0] == '\0')
            return zero; /* a first authorization is its own hold: struct authorization keeps it */
        char name[LEDGER_AUTH_ID_MAX + 8];
        snprintf(name, sizeof name, "auth:%s", d->authorization_id);
        return ledger_id_from_name(name);
    }
    case EVENT_CARD_CAPTURED:
    case EVENT_CARD_REVERSED: return ev->data.card_hold.operation_id;
    case EVENT_CARD_REFUNDED: return ev->data.card_refund.refund_id;
    default: return zero;
    }
}

uint64_t card_operation_digest(const struct event *ev)
{
    uint64_t h = PROJ_FNV_BASIS ^ ev->type;
    switch ((enum event_type)ev->type) {
    case EVENT_CARD_AUTHORIZED:
    case EVENT_CARD_DECLINED:
        h = proj_fnv(h, ev->data.card_decision.hold_id.b, 16);
        h = proj_fnv(h, &ev->data.card_decision.amount_requested, 8);
        break;
    case EVENT_CARD_CAPTURED:
    case EVENT_CARD_REVERSED:
        h = proj_fnv(h, ev->data.card_hold.hold_id.b, 16);
        if (ev->type == EVENT_CARD_CAPTURED)
            h = proj_fnv(h, &ev->data.card_hold.amount, 8);
        break;
    case EVENT_CARD_REFUNDED:
        h = proj_fnv(h, ev->data.card_refund.card_id.b, 16);
        h = proj_fnv(h, &ev->data.card_refund.amount, 8);
        h = proj_fnv(h, ev->data.card_refund.currency, 3);
        break;
    default: break;
    }
    return proj_mix64(h);
}

static size_t ops_probe(const struct ledger_state *st, const struct ledger_id *id)
{
    size_t mask = st->ops_cap - 1;
    size_t i = proj_hash_id(st->seed, id) & mask;
    /* NOLINTNEXTLINE(clang-analyzer-core.UndefinedBinaryOperatorResult): proj_zalloc zeroed the table */
    while (st->ops[i].seq != 0 && !ledger_id_equal(&st->ops[i].id, id))
        i = (i + 1) & mask;
    return i;
}

const struct op_record *ledger_state_operation(const struct ledger_state *st, const struct ledger_id *id)
{
    const struct op_record *r = &st->ops[ops_probe(st, id)];
    return r->seq != 0 ? r : NULL;
}

static void ops_grow(struct ledger_state *st)
{
    struct op_record *old = st->ops;
    size_t old_cap = st->ops_cap;
    st->ops_cap *= 2;
    st->ops = proj_zalloc(st->ops_cap, sizeof *st->ops);
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].seq != 0)
            st->ops[ops_probe(st, &old[i].id)] = old[i];
    free(old);
}

/* Records the operation id a card event carries; a second event with the same id contradicts. */
static enum ledger_err ops_note(struct ledger_state *st, const struct event *ev)
{
    struct ledger_id id = card_operation_id(ev);
    if (ledger_id_is_zero(&id))
        return LEDGER_ERR_OK;
    if ((st->ops_count + 1) * 2 > st->ops_cap)
        ops_grow(st);
    struct op_record *r = &st->ops[ops_probe(st, &id)];
    if (r->seq != 0)
        return LEDGER_ERR_DECODE;
    memset(r, 0, sizeof *r);
    r->id = id;
    r->seq = ev->seq;
    r->content = card_operation_digest(ev);
    if (ev->type == EVENT_CARD_AUTHORIZED || ev->type == EVENT_CARD_DECLINED) {
        const struct ev_card_decision *d = &ev->data.card_decision;
        r->approved = d->amount_approved;
        r->available_after = d->available_after;
        memcpy(r->response_code, d->response_code, sizeof r->response_code);
        memcpy(r->approval_code, d->approval_code, sizeof r->approval_code);
    }
    st->ops_count++;
    return LEDGER_ERR_OK;
}

static enum ledger_err apply_holder_identification(struct ledger_state *st, const struct event *ev)
{
    if (st->holder_changes_len == st->holder_changes_cap) {
        st->holder_changes_cap = st->holder_changes_cap ? st->holder_changes_cap * 2 : 64;
        st->holder_changes = realloc(st->holder_changes, st->holder_changes_cap * sizeof *st->holder_changes);
        LEDGER_ASSERT(st->holder_changes != NULL);
    }
    struct holder_identification *h = &st->holder_changes[st->holder_changes_len++];
    memset(h, 0, sizeof *h);
    memcpy(h->holder_id, ev->data.holder_identification.holder_id, sizeof h->holder_id);
    h->identified = ev->data.holder_identification.identified;
    h->seq = ev->seq;
    h->ts_ns = ev->ts_ns;
    return LEDGER_ERR_OK;
}

const struct holder_identification *ledger_state_take_holder_changes(struct ledger_state *st, size_t *n)
{
    *n = st->holder_changes_len;
    st->holder_changes_len = 0;
    return st->holder_changes;
}

#define HOLDER_ROW_VERSION 1u

void holder_row_encode(const struct holder_identification *h, uint8_t out[HOLDER_ROW_BYTES])
{
    row_put(HOLDER_ROW_VERSION, h, sizeof *h, ROW_NO_DIRTY, out);
}

bool holder_row_decode(const void *row, size_t len, struct holder_identification *out)
{
    return row_get(HOLDER_ROW_VERSION, row, len, out, sizeof *out);
}

int64_t ledger_state_first_ts(const struct ledger_state *st)
{
    return st->first_ts_ns;
}

int64_t ledger_state_sealed_until(const struct ledger_state *st)
{
    return st->sealed_until_ns;
}

/* A seal must follow the previous one without a gap or an overlap. */
static enum ledger_err apply_period_closed(struct ledger_state *st, const struct event *ev)
{
    const struct ev_period_closed *d = &ev->data.period_closed;
    if ((st->sealed_until_ns != 0 && d->start_ns != st->sealed_until_ns) || d->end_ns <= d->start_ns ||
        d->last_seq + 1 != ev->seq || ev->ts_ns < d->end_ns)
        return LEDGER_ERR_DECODE;
    st->sealed_until_ns = d->end_ns;
    return LEDGER_ERR_OK;
}

enum ledger_err ledger_state_apply(struct ledger_state *st, const struct event *ev)
{
    if (st->first_ts_ns == 0)
        st->first_ts_ns = ev->ts_ns;
    switch ((enum event_type)ev->type) {
    case EVENT_STATEMENT_PERIOD_CLOSED: return apply_period_closed(st, ev);
    case EVENT_HOLDER_IDENTIFICATION_CHANGED: return apply_holder_identification(st, ev);
    case EVENT_ACCOUNT_OPENED: return apply_opened(st, ev);
    case EVENT_ACCOUNT_BLOCKED:
    case EVENT_ACCOUNT_UNBLOCKED:
    case EVENT_ACCOUNT_CLOSED: return apply_account_change(st, ev);
    case EVENT_TRANSFER_EXECUTED: return apply_transfer(st, ev);
    case EVENT_CLIENT_REGISTERED:
    case EVENT_CLIENT_REVOKED:
    case EVENT_THIRD_PARTY_DECLARED:
    case EVENT_THIRD_PARTY_REMOVED: return access_apply(st, ev); /* access.c */
    default: break;
    }
    /* a card event: its operation id must be new before anything changes */
    struct ledger_id op = card_operation_id(ev);
    if (!ledger_id_is_zero(&op) && ledger_state_operation(st, &op) != NULL)
        return LEDGER_ERR_DECODE;
    enum ledger_err err = card_book_apply(st, ev); /* cards.c */
    return err == LEDGER_ERR_OK ? ops_note(st, ev) : err;
}

size_t ledger_state_mark(struct ledger_state *st)
{
    return st->undo_len;
}

void ledger_state_rollback(struct ledger_state *st, size_t mark)
{
    LEDGER_ASSERT(mark <= st->undo_len);
    while (st->undo_len > mark) {
        struct undo_entry *u = &st->undo[--st->undo_len];
        if (u->account != NULL) {
            u->account->debits_posted = u->debits_posted;
            u->account->credits_posted = u->credits_posted;
            u->account->last_seq = u->last_seq;
        } else {
            memset(&st->transfers[u->slot], 0, sizeof st->transfers[u->slot]);
            st->transfers_count--;
        }
    }
}

void ledger_state_commit_undo(struct ledger_state *st)
{
    st->undo_len = 0;
}

/* ---- balances, digest, rows ------------------------------------------------------------------- */

/* 128-bit arithmetic, then clamped: a huge overdraft limit must not make balances unreadable. */
static int64_t clamp64(__int128 v)
{
    return v > INT64_MAX ? INT64_MAX : v < INT64_MIN ? INT64_MIN : (int64_t)v;
}

bool account_balance(const struct account *a, struct balance *out)
{
    __int128 overdraft = a->kind == ACCOUNT_KIND_CUSTOMER ? a->overdraft_limit_minor : 0;
    __int128 posted = (__int128)a->credits_posted - a->debits_posted;
    __int128 pending = (__int128)a->credits_pending - a->debits_pending;
    __int128 available = posted - a->debits_pending + overdraft;
    out->posted = clamp64(posted);
    out->pending = clamp64(pending);
    out->available = clamp64(available);
    return out->posted == posted && out->pending == pending;
}

bool account_is_blocked(const struct account *a)
{
    return a->state == ACCOUNT_STATE_ACTIVE && a->blocks != 0;
}

const char *account_state_name(const struct account *a)
{
    if (a->state == ACCOUNT_STATE_CLOSED)
        return "closed";
    return a->blocks ? "blocked" : "active";
}

static int cmp_account_ptr(const void *x, const void *y)
{
    const struct account *a = *(const struct account *const *)x;
    const struct account *b = *(const struct account *const *)y;
    return memcmp(a->id.b, b->id.b, 16);
}

void ledger_state_digest(struct ledger_state *st, uint8_t out[LEDGER_HASH_LEN])
{
    struct account **sorted = proj_zalloc(st->count ? st->count : 1, sizeof *sorted);
    for (uint64_t i = 0; i < st->count; i++)
        sorted[i] = ledger_state_account_at(st, i);
    qsort(sorted, st->count, sizeof *sorted, cmp_account_ptr);
    uint8_t acc[LEDGER_HASH_LEN] = {0};
    for (uint64_t i = 0; i < st->count; i++) {
        uint8_t rec[16 + 4 * 8];
        const struct account *a = sorted[i];
        memcpy(rec, a->id.b, 16);
        int64_t v[4] = {a->debits_posted, a->credits_posted, a->debits_pending, a->credits_pending};
        for (int k = 0; k < 4; k++) {
            uint64_t u = (uint64_t)v[k];
            for (int j = 0; j < 8; j++)
                rec[16 + 8 * k + j] = (uint8_t)(u >> (56 - 8 * j));
        }
        ledger_sha256_2(acc, sizeof acc, rec, sizeof rec, acc); /* running hash over sorted rows */
    }
    memcpy(out, acc, LEDGER_HASH_LEN);
    free(sorted);
}

#define ACCOUNT_ROW_VERSION 1u

void row_put(uint32_t version, const void *src, size_t size, size_t dirty_offset, uint8_t *out)
{
    memcpy(out, &version, 4);
    memcpy(out + 4, src, size);
    if (dirty_offset != ROW_NO_DIRTY)
        out[4 + dirty_offset] = 0;
}

/* Zero bytes at s[i..], counted up to max. */
static size_t zeros_at(const uint8_t *s, size_t i, size_t size, size_t max)
{
    size_t n = 0;
    while (i + n < size && n < max && s[i + n] == 0)
        n++;
    return n;
}

size_t row_pack(uint32_t version, const void *src, size_t size, uint8_t *out)
{
    const uint8_t *s = src;
    const uint32_t tagged = version | ROW_PACKED;
    size_t o = 4, i = 0;
    memcpy(out, &tagged, 4);
    while (i < size) {
        size_t n = zeros_at(s, i, size, ROW_RUN_MAX);
        if (n >= ROW_ZERO_RUN_MIN) {
            if (o + 1 >= 4 + size)
                goto plain;
            out[o++] = (uint8_t)(0x80u | (n - 1));
            i += n;
            continue;
        }
        /* literal bytes up to the next ROW_ZERO_RUN_MIN zeros (left for the next run) */
        size_t start = i, zeros = 0;
        for (n = 0; i < size && n < ROW_RUN_MAX;) {
            zeros = s[i++] == 0 ? zeros + 1 : 0;
            n++;
            if (zeros == ROW_ZERO_RUN_MIN) {
                i -= ROW_ZERO_RUN_MIN;
                n -= ROW_ZERO_RUN_MIN;
                break;
            }
        }
        if (o + 1 + n >= 4 + size)
            goto plain;
        out[o++] = (uint8_t)(n - 1);
        memcpy(out + o, s + start, n);
        o += n;
    }
    return o;
plain: /* runs no shorter than the struct: the plain layout */
    memcpy(out, &version, 4);
    memcpy(out + 4, src, size);
    return 4 + size;
}

/* The runs of a packed row into exactly size bytes; false on any run that overflows either side. */
static bool row_unpack(const uint8_t *p, size_t len, uint8_t *out, size_t size)
{
    size_t i = 0, o = 0;
    while (i < len) {
        uint8_t c = p[i++];
        size_t n = (size_t)(c & 0x7fu) + 1;
        if (o + n > size)
            return false;
        if (c & 0x80u) {
            memset(out + o, 0, n);
        } else {
            if (n > len - i)
                return false;
            memcpy(out + o, p + i, n);
            i += n;
        }
        o += n;
    }
    return o == size;
}

bool row_get(uint32_t version, const void *row, size_t len, void *out, size_t size)
{
    uint32_t stored;
    if (len < 4)
        return false;
    memcpy(&stored, row, 4);
    if (stored == (version | ROW_PACKED))
        return row_unpack((const uint8_t *)row + 4, len - 4, out, size);
    if (len != 4 + size || stored != version)
        return false;
    memcpy(out, (const uint8_t *)row + 4, size);
    return true;
}

void account_row_encode(const struct account *a, uint8_t out[ACCOUNT_ROW_BYTES])
{
    row_put(ACCOUNT_ROW_VERSION, a, sizeof *a, offsetof(struct account, dirty), out);
}

bool account_row_decode(const void *row, size_t len, struct account *out)
{
    return row_get(ACCOUNT_ROW_VERSION, row, len, out, sizeof *out);
}

void balance_row_encode(const struct account *a, uint8_t out[BALANCE_ROW_BYTES])
{
    uint64_t v[5] = {(uint64_t)a->debits_posted, (uint64_t)a->credits_posted, (uint64_t)a->debits_pending,
                     (uint64_t)a->credits_pending, a->last_seq};
    for (int k = 0; k < 5; k++)
        for (int j = 0; j < 8; j++)
            out[8 * k + j] = (uint8_t)(v[k] >> (56 - 8 * j));
}

bool balance_row_decode(const void *row, size_t len, struct account *out)
{
    if (len != BALANCE_ROW_BYTES)
        return false;
    const uint8_t *p = row;
    uint64_t v[5] = {0};
    for (int k = 0; k < 5; k++)
        for (int j = 0; j < 8; j++)
            v[k] = (v[k] << 8) | p[8 * k + j];
    out->debits_posted = (int64_t)v[0];
    out->credits_posted = (int64_t)v[1];
    out->debits_pending = (int64_t)v[2];
    out->credits_pending = (int64_t)v[3];
    out->last_seq = v[4];
    return true;
}

size_t holder_key(const char *holder_id, const struct ledger_id *account_id, uint8_t *out, size_t cap)
{
    size_t n = strlen(holder_id);
    LEDGER_ASSERT(n + 17 <= cap);
    memcpy(out, holder_id, n);
    out[n] = 0;
    if (account_id != NULL)
        memcpy(out + n + 1, account_id->b, 16);
    return account_id != NULL ? n + 17 : n + 1;
}
