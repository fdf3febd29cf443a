/*
 * catchup.c: the catch-up projection (operations, pending holds, statements) and the projector
 * thread that feeds it from the committed log (projections.h).
 *
 * Invariants:
 *   - every row written for event seq is in the same WriteBatch as the checkpoint "catchup_seq" =
 *     the last applied seq, so a restart resumes exactly after the last written batch;
 *   - an account's running balance advances only through its operations: the balance_after of its
 *     last operation equals its posted balance in the inline state (ledgerctl verify checks it);
 *   - a statement is written once, when its period is sealed, from the per-period totals; later
 *     events belong to later periods (their time is at or after the seal's), so it never changes.
 * The in-memory maps (accounts, open holds) are caches of the column families, loaded at start.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "projections/internal.h"
#include "store/store.h"

#define ROW_VERSION 1u
#define CHECKPOINT_KEY "catchup_seq"
#define FORMAT_KEY "catchup_format" /* the operation row format the projection was written with */
#define PROJECTOR_BATCH_EVENTS 8192
/* A projector that finds fewer than PROJECTOR_LINGER_EVENTS new events waits up to
 * PROJECTOR_LINGER_MS for more before applying them (unless a reader waits for a min_seq): under a
 * steady stream of small commits it wakes once per linger instead of once per commit, and applies
 * (and writes) more per step. Reads without min_seq are eventually consistent anyway. */
#define PROJECTOR_LINGER_EVENTS 1024
#define PROJECTOR_LINGER_MS 2
#define PROJECTOR_NICE 5 /* off the answer path: commands and HTTP answers go first on busy cores */

const int catchup_cfs[CATCHUP_CF_COUNT] = {STORE_CF_PROJ_OPS, STORE_CF_PROJ_OP_ACCOUNTS, STORE_CF_PROJ_PENDING,
                                           STORE_CF_PROJ_STATEMENTS, STORE_CF_PROJ_STATEMENT_IDS};

struct hold {
    struct ledger_id hold_id;
    struct ledger_id account_id;
    uint64_t first_seq; /* 0 = empty slot */
    int64_t held;
    char merchant[LEDGER_MERCHANT_NAME_MAX + 1];
};

struct catchup {
    struct store *st;
    enum period_kind kind;
    struct op_account *accounts; /* dense, in the order first seen */
    bool *dirty;
    size_t count, cap;
    uint32_t *index; /* account index + 1 by id, linear probing */
    size_t index_cap;
    struct hold *holds; /* open holds by hold id, linear probing */
    size_t holds_cap, holds_count;
    /* the period of the last booking: consecutive events almost always share it, and computing
     * one costs a localtime and two mktime calls */
    int64_t period_start, period_end;
    char period_label[LEDGER_PERIOD_LABEL_MAX + 1];
};

static const char *period_label_of(struct catchup *c, int64_t ts_ns)
{
    if (ts_ns < c->period_start || ts_ns >= c->period_end)
        statement_period_of(ts_ns, c->kind, &c->period_start, &c->period_end, c->period_label);
    return c->period_label;
}

/* ---- small helpers ---------------------------------------------------------------------------- */

static void put_row(struct store_batch *b, enum store_cf cf, const void *key, size_t klen, const void *value,
                    size_t vlen)
{
    uint8_t row[4 + sizeof(struct statement) + sizeof(struct op_account)];
    LEDGER_ASSERT(vlen + 4 <= sizeof row);
    row_put(ROW_VERSION, value, vlen, ROW_NO_DIRTY, row);
    store_batch_put(b, cf, key, klen, row, vlen + 4);
}

static bool get_row(const void *row, size_t len, void *out, size_t size)
{
    return row_get(ROW_VERSION, row, len, out, size);
}

/* ---- operation rows (format 2: variable length, docs/STATEMENTS.md) ---------------------------- */

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

static uint64_t zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static int64_t unzigzag(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/* A reader over one row: every get fails once the row is short, and stays failed. */
struct row_reader {
    const uint8_t *p, *end;
    bool bad;
};

static uint64_t get_varint(struct row_reader *r)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end)
            break;
        uint8_t byte = *r->p++;
        v |= (uint64_t)(byte & 0x7f) << shift;
        if ((byte & 0x80) == 0)
            return v;
    }
    r->bad = true;
    return 0;
}

static void get_bytes(struct row_reader *r, void *out, size_t n)
{
    if (r->bad || (size_t)(r->end - r->p) < n) {
        r->bad = true;
        return;
    }
    memcpy(out, r->p, n);
    r->p += n;
}

/* A length-prefixed string into out (cap bytes with its NUL). */
static void get_text(struct row_reader *r, char *out, size_t cap)
{
    uint8_t n = 0;
    get_bytes(r, &n, 1);
    if (r->bad || n >= cap) {
        r->bad = true;
        out[0] = '\0';
        return;
    }
    get_bytes(r, out, n);
    out[r->bad ? 0 : n] = '\0';
}

static uint8_t *put_text(uint8_t *p, const char *text, size_t max)
{
    size_t n = strnlen(text, max);
    *p++ = (uint8_t)n;
    memcpy(p, text, n);
    return p + n;
}

size_t operation_row_encode(const struct operation *op, uint8_t out[OPERATION_ROW_MAX])
{
    uint8_t *p = out;
    *p++ = OPERATION_ROW_VERSION;
    *p++ = op->direction;
    *p++ = op->kind;
    p = put_varint(p, (uint64_t)op->amount);
    p = put_varint(p, zigzag(op->balance_after));
    p = put_varint(p, zigzag(op->value_ns - op->booked_ns));
    memcpy(p, op->currency, 3);
    p += 3;
    memcpy(p, op->operation_id.b, 16);
    memcpy(p + 16, op->counterparty_account_id.b, 16);
    p += 32;
    p = put_text(p, op->counterparty_iban, LEDGER_IBAN_MAX);
    p = put_text(p, op->reference, LEDGER_REFERENCE_MAX);
    p = put_text(p, op->period, LEDGER_PERIOD_LABEL_MAX);
    return (size_t)(p - out);
}

bool operation_row_decode(const void *key, size_t klen, const void *row, size_t len, struct operation *out)
{
    if (klen != OPERATION_KEY_BYTES || len < 3 || ((const uint8_t *)row)[0] != OPERATION_ROW_VERSION)
        return false;
    const uint8_t *k = key;
    struct row_reader r = {(const uint8_t *)row + 1, (const uint8_t *)row + len, false};
    memset(out, 0, sizeof *out);
    memcpy(out->account_id.b, k, 16);
    out->booked_ns = (int64_t)store_be_u64(k + 16);
    out->seq = store_be_u64(k + 24);
    out->leg = k[32];
    get_bytes(&r, &out->direction, 1);
    get_bytes(&r, &out->kind, 1);
    uint64_t amount = get_varint(&r);
    out->balance_after = unzigzag(get_varint(&r));
    int64_t value_delta = unzigzag(get_varint(&r));
    get_bytes(&r, out->currency, 3);
    get_bytes(&r, out->operation_id.b, 16);
    get_bytes(&r, out->counterparty_account_id.b, 16);
    get_text(&r, out->counterparty_iban, sizeof out->counterparty_iban);
    get_text(&r, out->reference, sizeof out->reference);
    get_text(&r, out->period, sizeof out->period);
    if (r.bad || r.p != r.end || amount == 0 || amount > INT64_MAX || out->leg > 1 ||
        (out->direction != OP_DEBIT && out->direction != OP_CREDIT) || out->kind < OP_KIND_TRANSFER ||
        out->kind > OP_KIND_CARD_REFUND)
        return false;
    out->amount = (int64_t)amount;
    out->value_ns = out->booked_ns + value_delta;
    return true;
}

bool catchup_format_current(struct store *st)
{
    /* written with every checkpoint: absent on a new ledger (clearing its empty families is
     * instant), on one from before format 2, and after a rebuild that did not finish; 2 on one
     * from before the statement id index */
    uint64_t format = 0;
    return store_meta_get_u64(st, FORMAT_KEY, &format) && format == CATCHUP_FORMAT_VERSION;
}

bool catchup_reset_stale(struct store *st)
{
    if (catchup_format_current(st))
        return false;
    bool had_rows = catchup_checkpoint(st) > 0;
    for (size_t i = 0; !had_rows && i < sizeof catchup_cfs / sizeof catchup_cfs[0]; i++) {
        struct store_iter *it = store_iter_prefix(st, (enum store_cf)catchup_cfs[i], "", 0);
        const uint8_t *k, *v;
        size_t kl, vl;
        had_rows = store_iter_next(it, &k, &kl, &v, &vl);
        store_iter_free(it);
    }
    catchup_clear(st);
    return had_rows;
}

void catchup_clear(struct store *st)
{
    for (size_t i = 0; i < sizeof catchup_cfs / sizeof catchup_cfs[0]; i++)
        store_cf_clear(st, (enum store_cf)catchup_cfs[i]);
    struct store_batch *b = store_batch_new(st);
    store_batch_delete(b, STORE_CF_META, CHECKPOINT_KEY, strlen(CHECKPOINT_KEY)); /* from 0 */
    store_batch_delete(b, STORE_CF_META, FORMAT_KEY, strlen(FORMAT_KEY));
    store_commit_async(st, b);
    store_batch_free(b);
}

bool statement_row_decode(const void *row, size_t len, struct statement *out)
{
    return get_row(row, len, out, sizeof *out);
}

enum ledger_err statement_by_id(struct store *st, const struct ledger_id *id, struct statement *out)
{
    char *key = NULL, *row = NULL;
    size_t klen = 0, rlen = 0;
    enum ledger_err err = store_get(st, STORE_CF_PROJ_STATEMENT_IDS, id->b, 16, &key, &klen);
    if (err == LEDGER_ERR_OK)
        err = klen == STATEMENT_KEY_BYTES ? store_get(st, STORE_CF_PROJ_STATEMENTS, key, klen, &row, &rlen)
                                          : LEDGER_ERR_IO;
    if (err == LEDGER_ERR_OK && !(statement_row_decode(row, rlen, out) && ledger_id_equal(&out->id, id)))
        err = LEDGER_ERR_IO; /* an index row that names another row: damage, not absence */
    free(key);
    free(row);
    return err;
}

void operation_key(const struct ledger_id *account, int64_t ts_ns, uint64_t seq, uint8_t leg,
                   uint8_t out[OPERATION_KEY_BYTES])
{
    memcpy(out, account->b, 16);
    store_u64_be((uint64_t)ts_ns, out + 16);
    store_u64_be(seq, out + 24);
    out[32] = leg;
}

/* ---- accounts ----------------------------------------------------------------------------------- */

static struct op_account *account_find(struct catchup *c, const struct ledger_id *id)
{
    size_t mask = c->index_cap - 1;
    for (size_t i = proj_hash_id(0, id) & mask; c->index[i] != 0; i = (i + 1) & mask)
        if (ledger_id_equal(&c->accounts[c->index[i] - 1].account_id, id))
            return &c->accounts[c->index[i] - 1];
    return NULL;
}

static void index_insert(struct catchup *c, size_t at)
{
    size_t mask = c->index_cap - 1;
    size_t i = proj_hash_id(0, &c->accounts[at].account_id) & mask;
    while (c->index[i] != 0)
        i = (i + 1) & mask;
    c->index[i] = (uint32_t)at + 1;
}

static struct op_account *account_add(struct catchup *c, const struct op_account *a)
{
    if (c->count == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 1024;
        c->accounts = realloc(c->accounts, c->cap * sizeof *c->accounts);
        c->dirty = realloc(c->dirty, c->cap * sizeof *c->dirty);
        LEDGER_ASSERT(c->accounts != NULL && c->dirty != NULL);
    }
    memset(&c->accounts[c->count], 0, sizeof c->accounts[c->count]);
    c->accounts[c->count] = *a;
    c->dirty[c->count] = false;
    c->count++;
    if (c->count * 2 > c->index_cap) {
        free(c->index);
        c->index_cap = c->index_cap ? c->index_cap * 2 : 4096;
        c->index = proj_zalloc(c->index_cap, sizeof *c->index);
        for (size_t i = 0; i < c->count; i++)
            index_insert(c, i);
    } else {
        index_insert(c, c->count - 1);
    }
    return &c->accounts[c->count - 1];
}

static void account_touch(struct catchup *c, struct op_account *a)
{
    c->dirty[a - c->accounts] = true;
}

/* ---- open holds --------------------------------------------------------------------------------- */

static struct hold *hold_slot(struct catchup *c, const struct ledger_id *id)
{
    size_t mask = c->holds_cap - 1;
    size_t i = proj_hash_id(0, id) & mask;
    while (c->holds[i].first_seq != 0 && !ledger_id_equal(&c->holds[i].hold_id, id))
        i = (i + 1) & mask;
    return &c->holds[i];
}

static void holds_grow(struct catchup *c)
{
    struct hold *old = c->holds;
    size_t old_cap = c->holds_cap;
    c->holds_cap = old_cap ? old_cap * 2 : 1024;
    c->holds = proj_zalloc(c->holds_cap, sizeof *c->holds);
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].first_seq != 0)
            *hold_slot(c, &old[i].hold_id) = old[i];
    free(old);
}

/* Removes a hold; re-inserts the rest of its probe run (linear-probing deletion). */
static void hold_remove(struct catchup *c, struct hold *h)
{
    size_t mask = c->holds_cap - 1;
    size_t i = (size_t)(h - c->holds);
    memset(h, 0, sizeof *h);
    c->holds_count--;
    for (size_t j = (i + 1) & mask; c->holds[j].first_seq != 0; j = (j + 1) & mask) {
        struct hold moved = c->holds[j];
        memset(&c->holds[j], 0, sizeof c->holds[j]);
        *hold_slot(c, &moved.hold_id) = moved;
    }
}

static void pending_key(const struct hold *h, uint8_t key[24])
{
    memcpy(key, h->account_id.b, 16);
    store_u64_be(h->first_seq, key + 16);
}

static void pending_put(struct store_batch *b, const struct hold *h)
{
    uint8_t key[24], val[24 + LEDGER_MERCHANT_NAME_MAX];
    pending_key(h, key);
    memcpy(val, h->hold_id.b, 16);
    store_u64_be((uint64_t)h->held, val + 16);
    size_t n = strlen(h->merchant);
    memcpy(val + 24, h->merchant, n);
    store_batch_put(b, STORE_CF_PROJ_PENDING, key, sizeof key, val, 24 + n);
}

/* ---- lifecycle -------------------------------------------------------------------------------- */

static void load_accounts(struct catchup *c)
{
    struct store_iter *it = store_iter_prefix(c->st, STORE_CF_PROJ_OP_ACCOUNTS, "", 0);
    const uint8_t *k, *v;
    size_t kl, vl;
    struct op_account a;
    while (store_iter_next(it, &k, &kl, &v, &vl))
        if (get_row(v, vl, &a, sizeof a))
            account_add(c, &a);
    store_iter_free(it);
}

static void load_holds(struct catchup *c)
{
    struct store_iter *it = store_iter_prefix(c->st, STORE_CF_PROJ_PENDING, "", 0);
    const uint8_t *k, *v;
    size_t kl, vl;
    while (store_iter_next(it, &k, &kl, &v, &vl)) {
        if (kl != 24 || vl < 24 || vl > 24 + LEDGER_MERCHANT_NAME_MAX)
            continue;
        if ((c->holds_count + 1) * 2 > c->holds_cap)
            holds_grow(c);
        struct ledger_id id;
        memcpy(id.b, v, 16);
        struct hold *h = hold_slot(c, &id);
        h->hold_id = id;
        memcpy(h->account_id.b, k, 16);
        h->first_seq = store_be_u64(k + 16);
        h->held = (int64_t)store_be_u64(v + 16);
        memcpy(h->merchant, v + 24, vl - 24);
        h->merchant[vl - 24] = '\0';
        c->holds_count++;
    }
    store_iter_free(it);
}

struct catchup *catchup_new(struct store *st, enum period_kind kind)
{
    struct catchup *c = proj_zalloc(1, sizeof *c);
    c->st = st;
    c->kind = kind;
    c->index_cap = 4096;
    c->index = proj_zalloc(c->index_cap, sizeof *c->index);
    holds_grow(c);
    load_accounts(c);
    load_holds(c);
    return c;
}

void catchup_free(struct catchup *c)
{
    if (c == NULL)
        return;
    free(c->accounts);
    free(c->dirty);
    free(c->index);
    free(c->holds);
    free(c);
}

uint64_t catchup_checkpoint(struct store *st)
{
    uint64_t seq = 0;
    return store_meta_get_u64(st, CHECKPOINT_KEY, &seq) ? seq : 0;
}

void catchup_flush(struct catchup *c, struct store_batch *b, uint64_t seq)
{
    for (size_t i = 0; i < c->count; i++) {
        if (!c->dirty[i])
            continue;
        put_row(b, STORE_CF_PROJ_OP_ACCOUNTS, c->accounts[i].account_id.b, 16, &c->accounts[i],
                sizeof c->accounts[i]);
        c->dirty[i] = false;
    }
    uint8_t raw[8];
    store_u64_be(seq, raw);
    store_batch_put(b, STORE_CF_META, CHECKPOINT_KEY, strlen(CHECKPOINT_KEY), raw, 8);
    store_u64_be(CATCHUP_FORMAT_VERSION, raw);
    store_batch_put(b, STORE_CF_META, FORMAT_KEY, strlen(FORMAT_KEY), raw, 8);
}

/* ---- apply ------------------------------------------------------------------------------------ */

struct leg {
    const struct ledger_id *account, *counterparty, *operation_id;
    uint8_t leg, direction, kind;
    int64_t amount;
    const char *currency, *reference;
};

/* Books one leg on its account: running balance, period totals, the operation row. */
static enum ledger_err book(struct catchup *c, const struct event *ev, const struct leg *l, struct store_batch *b)
{
    struct op_account *a = account_find(c, l->account);
    struct op_account *cp = account_find(c, l->counterparty);
    int64_t after;
    bool debit = l->direction == OP_DEBIT;
    if (a == NULL || (debit ? !money_sub(a->posted, l->amount, &after) : !money_add(a->posted, l->amount, &after)))
        return LEDGER_ERR_DECODE;
    struct operation op; /* every field is set below (the row encodes fields, not the struct) */
    op.account_id = *l->account;
    op.seq = ev->seq;
    op.leg = l->leg;
    op.direction = l->direction;
    op.kind = l->kind;
    op.booked_ns = op.value_ns = ev->ts_ns;
    op.amount = l->amount;
    memcpy(op.currency, l->currency, 4);
    op.balance_after = after;
    op.operation_id = *l->operation_id;
    op.counterparty_account_id = *l->counterparty;
    if (cp != NULL)
        memcpy(op.counterparty_iban, cp->iban, sizeof op.counterparty_iban);
    else
        op.counterparty_iban[0] = '\0';
    size_t rn = strnlen(l->reference, LEDGER_REFERENCE_MAX);
    memcpy(op.reference, l->reference, rn);
    op.reference[rn] = '\0';
    memcpy(op.period, period_label_of(c, ev->ts_ns), sizeof op.period);
    uint8_t key[OPERATION_KEY_BYTES], row[OPERATION_ROW_MAX];
    operation_key(l->account, ev->ts_ns, ev->seq, l->leg, key);
    store_batch_put(b, STORE_CF_PROJ_OPS, key, sizeof key, row, operation_row_encode(&op, row));
    a->posted = after;
    a->operations++;
    a->period_operations++;
    if (debit)
        a->period_debits += l->amount;
    else
        a->period_credits += l->amount;
    account_touch(c, a);
    return LEDGER_ERR_OK;
}

/* A movement between two accounts: the debit leg, then the credit leg. */
static enum ledger_err book_pair(struct catchup *c, const struct event *ev, const struct ledger_id *debit,
                                 const struct ledger_id *credit, const struct ledger_id *op_id, uint8_t kind,
                                 int64_t amount, const char *currency, const char *reference, struct store_batch *b)
{
    struct leg d = {debit, credit, op_id, 0, OP_DEBIT, kind, amount, currency, reference};
    struct leg k = {credit, debit, op_id, 1, OP_CREDIT, kind, amount, currency, reference};
    enum ledger_err err = book(c, ev, &d, b);
    return err == LEDGER_ERR_OK ? book(c, ev, &k, b) : err;
}

static enum ledger_err apply_opened(struct catchup *c, const struct event *ev)
{
    const struct ev_account_opened *d = &ev->data.opened;
    if (account_find(c, &d->account_id) != NULL)
        return LEDGER_ERR_DECODE;
    struct op_account a;
    memset(&a, 0, sizeof a);
    a.account_id = d->account_id;
    memcpy(a.currency, d->currency, 4);
    memcpy(a.iban, d->iban, sizeof a.iban);
    account_touch(c, account_add(c, &a));
    return LEDGER_ERR_OK;
}

static enum ledger_err apply_authorized(struct catchup *c, const struct event *ev, struct store_batch *b)
{
    const struct ev_card_decision *d = &ev->data.card_decision;
    if ((c->holds_count + 1) * 2 > c->holds_cap)
        holds_grow(c);
    struct hold *h = hold_slot(c, &d->hold_id);
    if (h->first_seq == 0) { /* a new hold (an incremental one adds to an open hold) */
        h->hold_id = d->hold_id;
        h->account_id = d->account_id;
        h->first_seq = ev->seq;
        snprintf(h->merchant, sizeof h->merchant, "%s", d->merchant.name);
        c->holds_count++;
    }
    if (!money_add(h->held, d->amount_approved, &h->held))
        return LEDGER_ERR_DECODE;
    pending_put(b, h);
    return LEDGER_ERR_OK;
}

/* Captures, reversals and expiries release (part of) a hold; a capture also books the payment. */
static enum ledger_err apply_hold_change(struct catchup *c, const struct event *ev, struct store_batch *b)
{
    const struct ev_card_hold_change *d = &ev->data.card_hold;
    struct hold *h = hold_slot(c, &d->hold_id);
    if (h->first_seq == 0 || d->released > h->held)
        return LEDGER_ERR_DECODE;
    char merchant[LEDGER_MERCHANT_NAME_MAX + 1];
    memcpy(merchant, h->merchant, sizeof merchant);
    h->held -= d->released;
    if (d->final || h->held == 0) {
        uint8_t key[24];
        pending_key(h, key);
        store_batch_delete(b, STORE_CF_PROJ_PENDING, key, sizeof key);
        hold_remove(c, h);
    } else {
        pending_put(b, h);
    }
    if (ev->type != EVENT_CARD_CAPTURED || d->amount == 0)
        return LEDGER_ERR_OK;
    struct ledger_id settlement = ledger_internal_account_id("card-settlement", d->currency);
    return book_pair(c, ev, &d->account_id, &settlement, &d->operation_id, OP_KIND_CARD_PAYMENT, d->amount,
                     d->currency, merchant, b);
}

/* Seals the period for every account: one statement row each. */
static enum ledger_err apply_period_closed(struct catchup *c, const struct event *ev, struct store_batch *b)
{
    const struct ev_period_closed *d = &ev->data.period_closed;
    for (size_t i = 0; i < c->count; i++) {
        struct op_account *a = &c->accounts[i];
        struct statement s;
        memset(&s, 0, sizeof s);
        char name[96], hex[33];
        ledger_hex(a->account_id.b, 16, hex);
        snprintf(name, sizeof name, "statement:%s:%s", hex, d->period);
        s.id = ledger_id_from_name(name);
        s.account_id = a->account_id;
        memcpy(s.iban, a->iban, sizeof s.iban);
        memcpy(s.currency, a->currency, 4);
        s.number = ++a->statements;
        memcpy(s.period, d->period, sizeof s.period);
        enum period_kind kind = PERIOD_MONTHLY;
        period_kind_parse(d->kind, &kind);
        s.period_kind = (uint8_t)kind;
        s.start_ns = d->start_ns;
        s.end_ns = d->end_ns;
        s.opening = a->last_closing;
        s.closing = a->posted;
        s.total_debits = a->period_debits;
        s.total_credits = a->period_credits;
        s.entries = a->period_operations;
        s.sealed_seq = ev->seq;
        s.sealed_ns = ev->ts_ns;
        uint8_t key[STATEMENT_KEY_BYTES];
        memcpy(key, a->account_id.b, 16);
        store_u64_be((uint64_t)d->start_ns, key + 16);
        put_row(b, STORE_CF_PROJ_STATEMENTS, key, sizeof key, &s, sizeof s);
        store_batch_put(b, STORE_CF_PROJ_STATEMENT_IDS, s.id.b, 16, key, sizeof key);
        a->last_closing = a->posted;
        a->period_debits = a->period_credits = 0;
        a->period_operations = 0;
        account_touch(c, a);
    }
    return LEDGER_ERR_OK;
}

enum ledger_err catchup_apply(struct catchup *c, const struct event *ev, struct store_batch *b)
{
    switch ((enum event_type)ev->type) {
    case EVENT_ACCOUNT_OPENED: return apply_opened(c, ev);
    case EVENT_TRANSFER_EXECUTED: {
        const struct ev_transfer_executed *t = &ev->data.transfer;
        uint8_t kind = t->kind == TRANSFER_KIND_DEPOSIT ? OP_KIND_DEPOSIT : OP_KIND_TRANSFER;
        return book_pair(c, ev, &t->debit_account_id, &t->credit_account_id, &t->transfer_id, kind,
                         t->amount_minor, t->currency, t->reference, b);
    }
    case EVENT_CARD_AUTHORIZED: return apply_authorized(c, ev, b);
    case EVENT_CARD_CAPTURED:
    case EVENT_CARD_REVERSED:
    case EVENT_CARD_HOLD_EXPIRED: return apply_hold_change(c, ev, b);
    case EVENT_CARD_REFUNDED: {
        const struct ev_card_refunded *r = &ev->data.card_refund;
        struct ledger_id settlement = ledger_internal_account_id("card-settlement", r->currency);
        return book_pair(c, ev, &settlement, &r->account_id, &r->refund_id, OP_KIND_CARD_REFUND, r->amount,
                         r->currency, r->merchant.name, b);
    }
    case EVENT_STATEMENT_PERIOD_CLOSED: return apply_period_closed(c, ev, b);
    default: return LEDGER_ERR_OK; /* no operation: blocks, card management, declines */
    }
}

/* ---- digest ----------------------------------------------------------------------------------- */

void catchup_digest(struct store *st, uint8_t out[LEDGER_HASH_LEN])
{
    uint8_t acc[LEDGER_HASH_LEN] = {0};
    static _Thread_local uint8_t entry[8 + 64 + 4 + sizeof(struct statement) + sizeof(struct op_account)];
    for (size_t f = 0; f < sizeof catchup_cfs / sizeof catchup_cfs[0]; f++) {
        struct store_iter *it = store_iter_prefix(st, (enum store_cf)catchup_cfs[f], "", 0);
        const uint8_t *k, *v;
        size_t kl, vl;
        while (store_iter_next(it, &k, &kl, &v, &vl)) {
            if (kl > 64 || vl > sizeof entry - 72)
                continue;
            uint8_t *p = entry;
            p[0] = (uint8_t)f;
            store_u64_be(kl, p + 1);
            memcpy(p + 9, k, kl);
            store_u64_be(vl, p + 9 + kl);
            memcpy(p + 17 + kl, v, vl);
            ledger_sha256_2(acc, sizeof acc, entry, 17 + kl + vl, acc);
        }
        store_iter_free(it);
    }
    memcpy(out, acc, LEDGER_HASH_LEN);
}

/* ---- the live projector ---------------------------------------------------------------------- */

struct projector {
    struct store *st;
    struct catchup *c;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t work;     /* committed moved, or stop */
    pthread_cond_t progress; /* applied moved */
    uint64_t committed, applied;
    unsigned waiters; /* readers in projector_wait: a linger ends for them */
    bool lingering;   /* notify signals only past PROJECTOR_LINGER_EVENTS */
    bool stopping, failed;
};

/* Applies committed events after `from` up to `to` (at most one batch); returns the last applied
 * seq, or `from` when an event contradicts the projection (logged once; the projection stops). */
static uint64_t projector_step(struct projector *p, uint64_t from, uint64_t to, struct store_batch *b)
{
    struct store_iter *it = store_iter_events(p->st, from + 1);
    const uint8_t *k, *v;
    size_t kl, vl;
    uint64_t last = from, n = 0;
    struct event ev;
    store_batch_clear(b);
    while (last < to && n < PROJECTOR_BATCH_EVENTS && store_iter_next(it, &k, &kl, &v, &vl)) {
        if (event_decode(v, vl, &ev) != LEDGER_ERR_OK || ev.seq != last + 1 ||
            catchup_apply(p->c, &ev, b) != LEDGER_ERR_OK) {
            fprintf(stderr, "ledgerd: projector: event seq %llu does not apply to the operations projection; "
                            "it stops here (reads answer PROJECTION_LAGGING). Run 'ledgerctl verify', then "
                            "'ledgerctl rebuild --projection operations' on the stopped ledger\n",
                    (unsigned long long)last + 1);
            p->failed = true;
            store_iter_free(it);
            return from;
        }
        last = ev.seq;
        n++;
    }
    store_iter_free(it);
    if (last > from) {
        catchup_flush(p->c, b, last);
        store_commit_async(p->st, b);
    }
    return last;
}

/* With p->mu held and a small backlog: waits up to PROJECTOR_LINGER_MS for more commits. */
static void projector_linger(struct projector *p)
{
    struct timespec until = ledger_realtime_after_ms(PROJECTOR_LINGER_MS);
    p->lingering = true;
    while (!p->stopping && p->waiters == 0 && p->committed - p->applied < PROJECTOR_LINGER_EVENTS)
        if (pthread_cond_timedwait(&p->work, &p->mu, &until) != 0)
            break;
    p->lingering = false;
}

static void *projector_main(void *arg)
{
    pthread_setname_np(pthread_self(), "ledger-project"); /* as top -H and perf show it */
    if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), PROJECTOR_NICE) != 0)
        perror("ledgerd: projector: setpriority");
    struct projector *p = arg;
    struct store_batch *b = store_batch_new(p->st);
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stopping && (p->committed <= p->applied || p->failed)) {
            struct timespec until = ledger_realtime_after_ms(200);
            pthread_cond_timedwait(&p->work, &p->mu, &until);
        }
        if (p->failed || p->committed <= p->applied) /* stopping and caught up (or failed) */
            break;
        if (p->committed - p->applied < PROJECTOR_LINGER_EVENTS && p->waiters == 0 && !p->stopping)
            projector_linger(p);
        uint64_t from = p->applied, to = p->committed;
        pthread_mutex_unlock(&p->mu);
        uint64_t last = projector_step(p, from, to, b);
        pthread_mutex_lock(&p->mu);
        p->applied = last;
        pthread_cond_broadcast(&p->progress);
    }
    pthread_mutex_unlock(&p->mu);
    store_batch_free(b);
    return NULL;
}

struct projector *projector_start(struct store *st, enum period_kind kind, uint64_t committed_seq)
{
    struct projector *p = proj_zalloc(1, sizeof *p);
    p->st = st;
    p->c = catchup_new(st, kind);
    p->applied = catchup_checkpoint(st);
    p->committed = committed_seq;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->progress, NULL);
    LEDGER_ASSERT(pthread_create(&p->thread, NULL, projector_main, p) == 0);
    return p;
}

void projector_notify(struct projector *p, uint64_t committed_seq)
{
    pthread_mutex_lock(&p->mu);
    if (committed_seq > p->committed) {
        p->committed = committed_seq;
        if (!p->lingering || committed_seq - p->applied >= PROJECTOR_LINGER_EVENTS)
            pthread_cond_signal(&p->work);
    }
    pthread_mutex_unlock(&p->mu);
}

uint64_t projector_seq(struct projector *p)
{
    pthread_mutex_lock(&p->mu);
    uint64_t seq = p->applied;
    pthread_mutex_unlock(&p->mu);
    return seq;
}

bool projector_wait(struct projector *p, uint64_t min_seq, int timeout_ms)
{
    struct timespec until = ledger_realtime_after_ms(timeout_ms);
    pthread_mutex_lock(&p->mu);
    if (p->applied < min_seq) {
        p->waiters++;
        if (p->lingering)
            pthread_cond_signal(&p->work); /* a reader waits: apply now */
        while (p->applied < min_seq)
            if (pthread_cond_timedwait(&p->progress, &p->mu, &until) != 0)
                break;
        p->waiters--;
    }
    bool ok = p->applied >= min_seq;
    pthread_mutex_unlock(&p->mu);
    return ok;
}

void projector_stop(struct projector *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    p->stopping = true;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);
    catchup_free(p->c);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->progress);
    free(p);
}

/* ---- the ledger's statement configuration ----------------------------------------------------- */

bool statement_config_load(struct store *st, enum period_kind *kind, char *zone, size_t zone_cap)
{
    char period[16];
    return store_meta_get_str(st, "statement_period", period, sizeof period) &&
           store_meta_get_str(st, "statement_tz", zone, zone_cap) && period_kind_parse(period, kind);
}

bool statement_config_check(struct store *st, bool create, enum period_kind kind, const char *zone, char *err,
                            size_t err_cap)
{
    enum period_kind stored_kind;
    char stored_zone[LEDGER_TIME_ZONE_MAX + 1];
    if (!statement_config_load(st, &stored_kind, stored_zone, sizeof stored_zone)) {
        if (create) {
            store_meta_put_str(st, "statement_tz", zone);
            store_meta_put_str(st, "statement_period", period_kind_name(kind));
        }
        return true;
    }
    if (stored_kind == kind && strcmp(stored_zone, zone) == 0)
        return true;
    snprintf(err, err_cap,
             "this ledger's statement periods are %s in %s (set when it was created); run with "
             "--statement-period %s --statement-tz %s",
             period_kind_name(stored_kind), stored_zone, period_kind_name(stored_kind), stored_zone);
    return false;
}
