/*
 * cards.c: cards and authorizations in the inline state (struct card_book, the card part of a
 * struct ledger_state), see the cards section of projections.h.
 *
 * Card states (apply_issued, apply_card_action, apply_replaced):
 *   issued -> INACTIVE -activated-> ACTIVE; INACTIVE|ACTIVE -replaced-> REPLACED;
 *   any but DESTROYED -destroyed-> DESTROYED. Block reasons are bits beside the state, set and
 *   cleared on INACTIVE or ACTIVE cards; LOST and STOLEN are never cleared.
 * Authorization states (apply_authorized, apply_declined, apply_hold_change):
 *   authorized -> PENDING -captured/reversed-> PENDING (partial) or CAPTURED / REVERSED,
 *   PENDING -hold_expired-> EXPIRED; declined -> DECLINED (never held).
 *
 * Invariants:
 *   - cards and authorizations live in fixed-size chunks that never move: pointers stay valid for
 *     the life of the state (decide() keeps them across applies);
 *   - both id indexes use linear probing at load <= 1/2 and are never deleted from;
 *   - the expiry heap holds exactly the PENDING authorizations, ordered by (expires_at_ns,
 *     first_seq), and each node knows its position in it;
 *   - a PENDING authorization has held > 0; held moves the account's debits_pending and the
 *     settlement account's credits_pending by the same amount, captures and refunds move the
 *     posted counters by the same amount, so per currency sum(debits) == sum(credits) holds for
 *     pending and posted alike;
 *   - an event that is refused (LEDGER_ERR_DECODE) has changed nothing.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "events/events.h"
#include "projections/internal.h"

#define CARDS_PER_CHUNK 1024
#define AUTHS_PER_CHUNK 4096
/* The indexes hold uint32 positions at load <= 1/2 (no LEDGER_CARDS_MAX in limits.h yet). */
#define CARD_BOOK_CARDS_MAX (1u << 26)
#define CARD_BOOK_AUTHS_MAX (1u << 30)
#define CARD_INDEX_INITIAL 1024
#define SETTLEMENT_CACHE_MAX 16
#define SETTLEMENT_KIND "card-settlement"
#define CARD_ROW_VERSION 1u
#define AUTH_ROW_VERSION 1u

/* An authorization and its place in the expiry heap; a struct authorization * is its node. */
struct auth_node {
    struct authorization auth;
    size_t heap_pos; /* SIZE_MAX when not PENDING */
};

/* Both element types start with their 16-byte id: the pool code reads it at offset 0. */
_Static_assert(offsetof(struct card, id) == 0, "card id first");
_Static_assert(offsetof(struct auth_node, auth) == 0 &&
                   offsetof(struct authorization, hold_id) == 0,
               "hold id first");

/* Chunked storage of fixed-size elements with an id -> position index. */
struct pool {
    char **chunks;
    size_t chunks_cap;
    size_t elem_size, per_chunk;
    uint32_t count, max;
    uint32_t *index; /* position + 1; 0 = empty */
    size_t index_cap;
};

struct settlement_entry {
    char currency[4];
    struct account *account;
};

struct card_book {
    struct pool cards, auths;
    uint64_t seed;
    struct auth_node **heap;
    size_t heap_len, heap_cap;
    size_t *scan; /* ledger_state_expired_holds: frontier of heap positions */
    size_t scan_cap;
    struct card **dirty_cards;
    size_t dirty_cards_len, dirty_cards_cap;
    struct authorization **dirty_auths;
    size_t dirty_auths_len, dirty_auths_cap;
    struct settlement_entry settlement[SETTLEMENT_CACHE_MAX]; /* accounts never move nor vanish */
    size_t settlement_len;
};

/* Returns p (an array of *cap elements of size) grown to hold at least need elements. */
static void *reserve(void *p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return p;
    size_t n = *cap ? *cap : 64;
    while (n < need)
        n *= 2;
    void *q = realloc(p, n * size);
    LEDGER_ASSERT(q != NULL);
    *cap = n;
    return q;
}

/* ---- pools ----------------------------------------------------------------------------------- */

static void pool_init(struct pool *p, size_t elem_size, size_t per_chunk, uint32_t max)
{
    memset(p, 0, sizeof *p);
    p->elem_size = elem_size;
    p->per_chunk = per_chunk;
    p->max = max;
    p->index_cap = CARD_INDEX_INITIAL;
    p->index = proj_zalloc(p->index_cap, sizeof *p->index);
}

static void pool_release(struct pool *p)
{
    for (size_t i = 0; i * p->per_chunk < p->count; i++)
        free(p->chunks[i]);
    free(p->chunks);
    free(p->index);
}

static void *pool_at(const struct pool *p, uint32_t i)
{
    LEDGER_ASSERT(i < p->count);
    return p->chunks[i / p->per_chunk] + (i % p->per_chunk) * p->elem_size;
}

static void *pool_find(const struct pool *p, uint64_t seed, const struct ledger_id *id)
{
    size_t mask = p->index_cap - 1;
    for (size_t i = proj_hash_id(seed, id) & mask;; i = (i + 1) & mask) {
        if (p->index[i] == 0)
            return NULL;
        void *e = pool_at(p, p->index[i] - 1);
        if (ledger_id_equal(e, id))
            return e;
    }
}

static void index_put(struct pool *p, uint64_t seed, const struct ledger_id *id, uint32_t value)
{
    size_t mask = p->index_cap - 1;
    size_t i = proj_hash_id(seed, id) & mask;
    while (p->index[i] != 0)
        i = (i + 1) & mask;
    p->index[i] = value;
}

static void index_grow(struct pool *p, uint64_t seed)
{
    free(p->index);
    p->index_cap *= 2;
    p->index = proj_zalloc(p->index_cap, sizeof *p->index);
    for (uint32_t i = 0; i < p->count; i++)
        index_put(p, seed, pool_at(p, i), i + 1);
}

/* A new zeroed element with this id (not yet present), or NULL when the pool is full. */
static void *pool_add(struct pool *p, uint64_t seed, const struct ledger_id *id)
{
    if (p->count >= p->max)
        return NULL;
    if (p->count % p->per_chunk == 0) {
        size_t chunk = p->count / p->per_chunk;
        p->chunks = reserve(p->chunks, &p->chunks_cap, chunk + 1, sizeof *p->chunks);
        p->chunks[chunk] = proj_zalloc(p->per_chunk, p->elem_size);
    }
    uint32_t pos = p->count++;
    void *e = pool_at(p, pos);
    memset(e, 0, p->elem_size);
    memcpy(e, id, sizeof *id);
    if ((size_t)p->count * 2 > p->index_cap)
        index_grow(p, seed);
    else
        index_put(p, seed, id, pos + 1);
    LEDGER_ASSERT(pool_find(p, seed, id) == e);
    return e;
}

/* ---- book ------------------------------------------------------------------------------------ */

struct card_book *card_book_new(void)
{
    struct card_book *b = proj_zalloc(1, sizeof *b);
    if (getrandom(&b->seed, sizeof b->seed, 0) != sizeof b->seed)
        b->seed = 0xca4d5eed;
    pool_init(&b->cards, sizeof(struct card), CARDS_PER_CHUNK, CARD_BOOK_CARDS_MAX);
    pool_init(&b->auths, sizeof(struct auth_node), AUTHS_PER_CHUNK, CARD_BOOK_AUTHS_MAX);
    return b;
}

void card_book_free(struct card_book *cs)
{
    if (cs == NULL)
        return;
    pool_release(&cs->cards);
    pool_release(&cs->auths);
    free(cs->heap);
    free(cs->scan);
    free(cs->dirty_cards);
    free(cs->dirty_auths);
    free(cs);
}

struct card *ledger_state_card(struct ledger_state *st, const struct ledger_id *id)
{
    struct card_book *b = ledger_state_card_book(st);
    return pool_find(&b->cards, b->seed, id);
}

static struct auth_node *auth_find(struct card_book *b, const struct ledger_id *hold_id)
{
    return pool_find(&b->auths, b->seed, hold_id);
}

struct authorization *ledger_state_authorization(struct ledger_state *st,
                                                 const struct ledger_id *hold_id)
{
    struct auth_node *n = auth_find(ledger_state_card_book(st), hold_id);
    return n ? &n->auth : NULL;
}

static void card_touch(struct card_book *b, struct card *c, uint64_t seq)
{
    c->last_seq = seq;
    if (c->dirty)
        return;
    b->dirty_cards = reserve(b->dirty_cards, &b->dirty_cards_cap, b->dirty_cards_len + 1,
                             sizeof *b->dirty_cards);
    b->dirty_cards[b->dirty_cards_len++] = c;
    c->dirty = 1;
}

static void auth_touch(struct card_book *b, struct authorization *a, uint64_t seq)
{
    a->last_seq = seq;
    if (a->dirty)
        return;
    b->dirty_auths = reserve(b->dirty_auths, &b->dirty_auths_cap, b->dirty_auths_len + 1,
                             sizeof *b->dirty_auths);
    b->dirty_auths[b->dirty_auths_len++] = a;
    a->dirty = 1;
}

struct card **ledger_state_take_dirty_cards(struct ledger_state *st, size_t *n)
{
    struct card_book *b = ledger_state_card_book(st);
    *n = b->dirty_cards_len;
    for (size_t i = 0; i < b->dirty_cards_len; i++)
        b->dirty_cards[i]->dirty = 0;
    b->dirty_cards_len = 0;
    return b->dirty_cards;
}

struct authorization **ledger_state_take_dirty_auths(struct ledger_state *st, size_t *n)
{
    struct card_book *b = ledger_state_card_book(st);
    *n = b->dirty_auths_len;
    for (size_t i = 0; i < b->dirty_auths_len; i++)
        b->dirty_auths[i]->dirty = 0;
    b->dirty_auths_len = 0;
    return b->dirty_auths;
}

/* ---- expiry heap ----------------------------------------------------------------------------- */

static bool expires_before(const struct auth_node *x, const struct auth_node *y)
{
    if (x->auth.expires_at_ns != y->auth.expires_at_ns)
        return x->auth.expires_at_ns < y->auth.expires_at_ns;
    return x->auth.first_seq < y->auth.first_seq;
}

static void heap_set(struct card_book *b, size_t pos, struct auth_node *n)
{
    b->heap[pos] = n;
    n->heap_pos = pos;
}

static void heap_sift_up(struct card_book *b, size_t pos)
{
    struct auth_node *n = b->heap[pos];
    while (pos > 0 && expires_before(n, b->heap[(pos - 1) / 2])) {
        heap_set(b, pos, b->heap[(pos - 1) / 2]);
        pos = (pos - 1) / 2;
    }
    heap_set(b, pos, n);
}

static void heap_sift_down(struct card_book *b, size_t pos)
{
    struct auth_node *n = b->heap[pos];
    for (;;) {
        size_t child = 2 * pos + 1;
        if (child >= b->heap_len)
            break;
        if (child + 1 < b->heap_len && expires_before(b->heap[child + 1], b->heap[child]))
            child++;
        if (!expires_before(b->heap[child], n))
            break;
        heap_set(b, pos, b->heap[child]);
        pos = child;
    }
    heap_set(b, pos, n);
}

static void heap_push(struct card_book *b, struct auth_node *n)
{
    b->heap = reserve(b->heap, &b->heap_cap, b->heap_len + 1, sizeof *b->heap);
    heap_set(b, b->heap_len++, n);
    heap_sift_up(b, n->heap_pos);
}

static void heap_remove(struct card_book *b, struct auth_node *n)
{
    size_t pos = n->heap_pos;
    LEDGER_ASSERT(pos < b->heap_len && b->heap[pos] == n);
    struct auth_node *last = b->heap[--b->heap_len];
    if (last != n) {
        heap_set(b, pos, last);
        heap_sift_down(b, pos);
        heap_sift_up(b, last->heap_pos);
    }
    n->heap_pos = SIZE_MAX;
}

/* Moves a node whose expires_at_ns changed to its new place. */
static void heap_update(struct card_book *b, struct auth_node *n)
{
    LEDGER_ASSERT(n->heap_pos < b->heap_len && b->heap[n->heap_pos] == n);
    heap_sift_up(b, n->heap_pos);
    heap_sift_down(b, n->heap_pos);
}

/* The scan frontier is itself a small binary heap of positions in b->heap. */
static void scan_push(struct card_book *b, size_t *len, size_t pos)
{
    size_t i = (*len)++;
    while (i > 0 && expires_before(b->heap[pos], b->heap[b->scan[(i - 1) / 2]])) {
        b->scan[i] = b->scan[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    b->scan[i] = pos;
}

static size_t scan_pop(struct card_book *b, size_t *len)
{
    size_t top = b->scan[0], last = b->scan[--*len], i = 0;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= *len)
            break;
        if (child + 1 < *len &&
            expires_before(b->heap[b->scan[child + 1]], b->heap[b->scan[child]]))
            child++;
        if (!expires_before(b->heap[b->scan[child]], b->heap[last]))
            break;
        b->scan[i] = b->scan[child];
        i = child;
    }
    if (*len > 0)
        b->scan[i] = last;
    return top;
}

/* Best-first walk of the heap without taking anything out: O(max log max). */
size_t ledger_state_expired_holds(struct ledger_state *st, int64_t now_ns,
                                  struct authorization **out, size_t max)
{
    struct card_book *b = ledger_state_card_book(st);
    size_t n = 0, len = 0;
    if (max == 0 || b->heap_len == 0)
        return 0;
    if (max > b->heap_len)
        max = b->heap_len;
    b->scan = reserve(b->scan, &b->scan_cap, max + 2, sizeof *b->scan);
    scan_push(b, &len, 0);
    while (n < max && len > 0) {
        size_t pos = scan_pop(b, &len);
        struct auth_node *node = b->heap[pos];
        if (node->auth.expires_at_ns > now_ns)
            break; /* every other candidate expires later still */
        LEDGER_ASSERT(node->auth.state == AUTH_STATE_PENDING);
        out[n++] = &node->auth;
        for (size_t child = 2 * pos + 1; child <= 2 * pos + 2 && child < b->heap_len; child++)
            scan_push(b, &len, child);
    }
    return n;
}

/* ---- helpers shared by the apply functions --------------------------------------------------- */

/* Copies a NUL-terminated string of at most cap - 1 bytes and zeroes the rest of dst, so rows are
 * the same bytes whatever followed the NUL in the event. */
static void str_copy(char *dst, const char *src, size_t cap)
{
    size_t n = strnlen(src, cap - 1);
    memset(dst, 0, cap);
    memcpy(dst, src, n);
}

static void merchant_copy(struct merchant *dst, const struct merchant *src)
{
    memset(dst, 0, sizeof *dst);
    str_copy(dst->name, src->name, sizeof dst->name);
    dst->mcc = src->mcc;
    str_copy(dst->country, src->country, sizeof dst->country);
    str_copy(dst->id, src->id, sizeof dst->id);
}

static bool limits_valid(const struct card_limits *l)
{
    return l->per_auth_max >= 0 && l->day_amount >= 0 && l->week_amount >= 0 &&
           l->month_amount >= 0 && l->atm_day_amount >= 0 && l->atm_month_amount >= 0 &&
           l->allowed_mcc_n <= LEDGER_CARD_LIST_MAX && l->blocked_mcc_n <= LEDGER_CARD_LIST_MAX &&
           l->allowed_country_n <= LEDGER_CARD_LIST_MAX &&
           l->blocked_country_n <= LEDGER_CARD_LIST_MAX;
}

/* Field by field into zeroed memory: padding and unused list entries stay zero. */
static void limits_copy(struct card_limits *dst, const struct card_limits *src)
{
    LEDGER_ASSERT(limits_valid(src));
    memset(dst, 0, sizeof *dst);
    dst->per_auth_max = src->per_auth_max;
    dst->day_amount = src->day_amount;
    dst->week_amount = src->week_amount;
    dst->month_amount = src->month_amount;
    dst->day_count = src->day_count;
    dst->week_count = src->week_count;
    dst->month_count = src->month_count;
    dst->atm_day_amount = src->atm_day_amount;
    dst->atm_month_amount = src->atm_month_amount;
    dst->allowed_mcc_n = src->allowed_mcc_n;
    dst->blocked_mcc_n = src->blocked_mcc_n;
    dst->allowed_country_n = src->allowed_country_n;
    dst->blocked_country_n = src->blocked_country_n;
    memcpy(dst->allowed_mcc, src->allowed_mcc, src->allowed_mcc_n * sizeof src->allowed_mcc[0]);
    memcpy(dst->blocked_mcc, src->blocked_mcc, src->blocked_mcc_n * sizeof src->blocked_mcc[0]);
    for (uint8_t i = 0; i < src->allowed_country_n; i++)
        str_copy(dst->allowed_country[i], src->allowed_country[i], sizeof dst->allowed_country[i]);
    for (uint8_t i = 0; i < src->blocked_country_n; i++)
        str_copy(dst->blocked_country[i], src->blocked_country[i], sizeof dst->blocked_country[i]);
    dst->ecom = src->ecom;
    dst->contactless = src->contactless;
    dst->atm = src->atm;
}

/* The account, when it exists and holds this currency. */
static struct account *account_in(struct ledger_state *st, const struct ledger_id *id,
                                  const char currency[4])
{
    struct account *a = ledger_state_account(st, id);
    return a != NULL && memcmp(a->currency, currency, 4) == 0 ? a : NULL;
}

/* The card-settlement internal account of a currency, or NULL when it was never opened. */
static struct account *settlement_account(struct ledger_state *st, struct card_book *b,
                                          const char currency[4])
{
    for (size_t i = 0; i < b->settlement_len; i++)
        if (memcmp(b->settlement[i].currency, currency, 4) == 0)
            return b->settlement[i].account;
    char code[4];
    str_copy(code, currency, sizeof code);
    struct ledger_id id = ledger_internal_account_id(SETTLEMENT_KIND, code);
    struct account *a = account_in(st, &id, currency);
    if (a != NULL && b->settlement_len < SETTLEMENT_CACHE_MAX) {
        memcpy(b->settlement[b->settlement_len].currency, currency, 4);
        b->settlement[b->settlement_len++].account = a;
    }
    return a;
}

/* A planned double entry: dr's debit counters and cr's credit counters each grow by the same
 * pending and posted deltas (negative pending deltas release holds). */
struct move {
    struct account *dr, *cr;
    int64_t dr_pending, cr_pending, dr_posted, cr_posted; /* the counters after the move */
};

static bool move_plan(struct move *m, struct account *dr, struct account *cr, int64_t pending,
                      int64_t posted)
{
    m->dr = dr;
    m->cr = cr;
    return dr != cr && money_add(dr->debits_pending, pending, &m->dr_pending) &&
           money_add(cr->credits_pending, pending, &m->cr_pending) &&
           money_add(dr->debits_posted, posted, &m->dr_posted) &&
           money_add(cr->credits_posted, posted, &m->cr_posted);
}

static void move_commit(struct ledger_state *st, const struct move *m, uint64_t seq)
{
    LEDGER_ASSERT(m->dr_pending >= 0 && m->cr_pending >= 0);
    m->dr->debits_pending = m->dr_pending;
    m->cr->credits_pending = m->cr_pending;
    m->dr->debits_posted = m->dr_posted;
    m->cr->credits_posted = m->cr_posted;
    ledger_state_mark_dirty(st, m->dr, seq, DIRTY_BALANCE);
    ledger_state_mark_dirty(st, m->cr, seq, DIRTY_BALANCE);
}

/* ---- spending windows ------------------------------------------------------------------------ */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Howard Hinnant's civil_from_days: days since 1970-01-01 -> year*12 + month-1 (proleptic
 * Gregorian). */
static int64_t month_of_days(int64_t days)
{
    int64_t z = days + 719468;
    int64_t era = floor_div(z, 146097);
    int64_t doe = z - era * 146097;                                      /* [0, 146096] */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100); /* [0, 365], from March 1 */
    int64_t mp = (5 * doy + 2) / 153;                      /* [0, 11], March = 0 */
    int64_t m = mp < 10 ? mp + 3 : mp - 9;                 /* [1, 12] */
    int64_t y = yoe + era * 400 + (m <= 2);
    return y * 12 + m - 1;
}

void card_spend_keys(int64_t ts_ns, uint32_t *day, uint32_t *week, uint32_t *month)
{
    int64_t days = floor_div(ts_ns, 86400LL * 1000000000LL);
    *day = (uint32_t)days;
    /* 1970-01-01 was a Thursday: week 0 began on Monday 1969-12-29 */
    *week = (uint32_t)floor_div(days + 3, 7);
    *month = (uint32_t)month_of_days(days);
}

enum { WIN_DAY, WIN_WEEK, WIN_MONTH, WIN_ATM_DAY, WIN_ATM_MONTH, WIN_COUNT };

/* The windows an approval counts in, with their keys at ts_ns; returns how many apply. */
static size_t spend_windows(struct card *c, int64_t ts_ns, uint8_t channel,
                            struct spend_window *w[WIN_COUNT], uint32_t keys[WIN_COUNT])
{
    uint32_t day, week, month;
    card_spend_keys(ts_ns, &day, &week, &month);
    w[WIN_DAY] = &c->day;
    w[WIN_WEEK] = &c->week;
    w[WIN_MONTH] = &c->month;
    w[WIN_ATM_DAY] = &c->atm_day;
    w[WIN_ATM_MONTH] = &c->atm_month;
    keys[WIN_DAY] = keys[WIN_ATM_DAY] = day;
    keys[WIN_WEEK] = week;
    keys[WIN_MONTH] = keys[WIN_ATM_MONTH] = month;
    return channel == CHANNEL_ATM ? WIN_COUNT : WIN_ATM_DAY;
}

/* Adds amount (and count) to the card's windows, resetting a window of another period first.
 * With commit false only checks that nothing overflows. */
static bool spend_add(struct card *c, int64_t ts_ns, uint8_t channel, int64_t amount,
                      uint32_t count, bool commit)
{
    struct spend_window *w[WIN_COUNT];
    uint32_t keys[WIN_COUNT];
    size_t n = spend_windows(c, ts_ns, channel, w, keys);
    for (size_t i = 0; i < n; i++) {
        bool same = w[i]->key == keys[i];
        int64_t total;
        uint32_t times = same ? w[i]->count : 0;
        if (!money_add(same ? w[i]->amount : 0, amount, &total) || times > UINT32_MAX - count)
            return false;
        if (commit) {
            w[i]->key = keys[i];
            w[i]->amount = total;
            w[i]->count = times + count;
        }
    }
    return true;
}

/* ---- card lifecycle -------------------------------------------------------------------------- */

static bool card_is_live(const struct card *c)
{
    return c->state == CARD_STATE_INACTIVE || c->state == CARD_STATE_ACTIVE;
}

static bool one_block_bit(uint8_t reason)
{
    return reason != 0 && (reason & (reason - 1)) == 0 &&
           (reason &
            ~(CARD_BLOCK_USER | CARD_BLOCK_SYSTEM | CARD_BLOCK_LOST | CARD_BLOCK_STOLEN)) == 0;
}

/* A replacement names a card that was replaced by it, on the same account. */
static bool replaces_ok(struct ledger_state *st, const struct ev_card_issued *d)
{
    if (ledger_id_is_zero(&d->replaces))
        return true;
    const struct card *old = ledger_state_card(st, &d->replaces);
    return old != NULL && old->state == CARD_STATE_REPLACED &&
           ledger_id_equal(&old->replaced_by, &d->card_id) &&
           ledger_id_equal(&old->account_id, &d->account_id);
}

static enum ledger_err apply_issued(struct ledger_state *st, struct card_book *b,
                                    const struct event *ev)
{
    const struct ev_card_issued *d = &ev->data.card_issued;
    if (ledger_id_is_zero(&d->card_id) || ledger_state_card(st, &d->card_id) != NULL ||
        ledger_state_account(st, &d->account_id) == NULL || !replaces_ok(st, d) ||
        !limits_valid(&d->limits) ||
        (d->type != CARD_TYPE_VIRTUAL && d->type != CARD_TYPE_PHYSICAL))
        return LEDGER_ERR_DECODE;
    struct card *c = pool_add(&b->cards, b->seed, &d->card_id);
    if (c == NULL)
        return LEDGER_ERR_DECODE;
    c->account_id = d->account_id;
    c->type = d->type;
    c->state = CARD_STATE_INACTIVE;
    str_copy(c->brand, d->brand, sizeof c->brand);
    str_copy(c->last_four, d->last_four, sizeof c->last_four);
    str_copy(c->token, d->token, sizeof c->token);
    str_copy(c->expiry, d->expiry, sizeof c->expiry);
    str_copy(c->name_on_card, d->name_on_card, sizeof c->name_on_card);
    c->replaces = d->replaces;
    limits_copy(&c->limits, &d->limits);
    c->version = 1;
    c->issued_seq = ev->seq;
    c->issued_ts_ns = ev->ts_ns;
    c->index_pending = 1;
    card_touch(b, c, ev->seq);
    return LEDGER_ERR_OK;
}

/* card.activated, card.blocked, card.unblocked, card.destroyed. */
static enum ledger_err apply_card_action(struct ledger_state *st, struct card_book *b,
                                         const struct event *ev)
{
    struct card *c = ledger_state_card(st, &ev->data.card_action.card_id);
    uint8_t bit = ev->data.card_action.reason;
    const uint8_t final_blocks = CARD_BLOCK_LOST | CARD_BLOCK_STOLEN;
    if (c == NULL)
        return LEDGER_ERR_DECODE;
    switch (ev->type) {
    case EVENT_CARD_ACTIVATED:
        if (c->state != CARD_STATE_INACTIVE || (c->blocks & final_blocks))
            return LEDGER_ERR_DECODE;
        c->state = CARD_STATE_ACTIVE;
        break;
    case EVENT_CARD_BLOCKED:
        if (!card_is_live(c) || !one_block_bit(bit) || (c->blocks & bit))
            return LEDGER_ERR_DECODE;
        c->blocks |= bit;
        break;
    case EVENT_CARD_UNBLOCKED:
        if (!card_is_live(c) || !one_block_bit(bit) || (bit & final_blocks) || !(c->blocks & bit))
            return LEDGER_ERR_DECODE;
        c->blocks &= (uint8_t)~bit;
        break;
    default: /* EVENT_CARD_DESTROYED */
        if (c->state == CARD_STATE_DESTROYED)
            return LEDGER_ERR_DECODE;
        c->state = CARD_STATE_DESTROYED;
        break;
    }
    c->version++;
    card_touch(b, c, ev->seq);
    return LEDGER_ERR_OK;
}

static enum ledger_err apply_limits(struct ledger_state *st, struct card_book *b,
                                    const struct event *ev)
{
    const struct ev_card_limits_changed *d = &ev->data.card_limits;
    struct card *c = ledger_state_card(st, &d->card_id);
    if (c == NULL || !card_is_live(c) || !limits_valid(&d->limits))
        return LEDGER_ERR_DECODE;
    limits_copy(&c->limits, &d->limits);
    c->version++;
    card_touch(b, c, ev->seq);
    return LEDGER_ERR_OK;
}

static enum ledger_err apply_replaced(struct ledger_state *st, struct card_book *b,
                                      const struct event *ev)
{
    const struct ev_card_replaced *d = &ev->data.card_replaced;
    struct card *c = ledger_state_card(st, &d->card_id);
    if (c == NULL || !card_is_live(c) || ledger_id_is_zero(&d->new_card_id) ||
        ledger_state_card(st, &d->new_card_id) != NULL)
        return LEDGER_ERR_DECODE;
    c->state = CARD_STATE_REPLACED;
    c->replaced_by = d->new_card_id;
    c->version++;
    card_touch(b, c, ev->seq);
    return LEDGER_ERR_OK;
}

/* ---- authorizations -------------------------------------------------------------------------- */

/* A new authorization from the first decision on its hold id. */
static void auth_fill(struct auth_node *n, const struct event *ev, uint8_t state)
{
    const struct ev_card_decision *d = &ev->data.card_decision;
    struct authorization *a = &n->auth;
    LEDGER_ASSERT(ledger_id_equal(&a->hold_id, &d->hold_id));
    str_copy(a->authorization_id, d->authorization_id, sizeof a->authorization_id);
    a->card_id = d->card_id;
    a->account_id = d->account_id;
    str_copy(a->currency, d->currency, sizeof a->currency);
    a->state = state;
    a->channel = d->channel;
    a->category = d->category;
    a->stand_in = d->stand_in;
    merchant_copy(&a->merchant, &d->merchant);
    a->requested = d->amount_requested;
    a->approved_total = d->amount_approved;
    a->held = d->amount_approved;
    a->expires_at_ns = d->expires_at_ns;
    str_copy(a->response_code, d->response_code, sizeof a->response_code);
    str_copy(a->approval_code, d->approval_code, sizeof a->approval_code);
    a->approved_amount = d->amount_approved;
    a->available_after = d->available_after;
    a->first_seq = ev->seq;
    a->created_ts_ns = ev->ts_ns;
    n->heap_pos = SIZE_MAX;
}

/* An incremental approval adds to an open hold of the same card, named by its original id. */
static bool incremental_ok(const struct auth_node *n, const struct ev_card_decision *d,
                           int64_t *held, int64_t *total)
{
    const struct authorization *a = &n->auth;
    return a->state == AUTH_STATE_PENDING && ledger_id_equal(&a->card_id, &d->card_id) &&
           memcmp(a->currency, d->currency, 4) == 0 &&
           strncmp(a->authorization_id, d->original_authorization_id, sizeof a->authorization_id) ==
               0 &&
           money_add(a->held, d->amount_approved, held) &&
           money_add(a->approved_total, d->amount_approved, total);
}

static enum ledger_err apply_authorized(struct ledger_state *st, struct card_book *b,
                                        const struct event *ev)
{
    const struct ev_card_decision *d = &ev->data.card_decision;
    struct card *c = ledger_state_card(st, &d->card_id);
    struct account *a = account_in(st, &d->account_id, d->currency);
    struct account *s = settlement_account(st, b, d->currency);
    struct auth_node *n = auth_find(b, &d->hold_id);
    bool incremental = d->original_authorization_id[0] != '\0';
    int64_t held = 0, total = 0;
    struct move m;
    if (c == NULL || a == NULL || s == NULL || !ledger_id_equal(&c->account_id, &a->id) ||
        d->amount_approved <= 0 || d->amount_requested < 0 || incremental != (n != NULL) ||
        (n != NULL && !incremental_ok(n, d, &held, &total)) ||
        !move_plan(&m, a, s, d->amount_approved, 0) ||
        !spend_add(c, ev->ts_ns, d->channel, d->amount_approved, incremental ? 0 : 1, false))
        return LEDGER_ERR_DECODE;
    if (n == NULL) {
        n = pool_add(&b->auths, b->seed, &d->hold_id);
        if (n == NULL)
            return LEDGER_ERR_DECODE;
        auth_fill(n, ev, AUTH_STATE_PENDING);
        n->auth.index_pending = 1;
        heap_push(b, n);
    } else {
        n->auth.held = held;
        n->auth.approved_total = total;
        n->auth.expires_at_ns = d->expires_at_ns;
        heap_update(b, n);
    }
    move_commit(st, &m, ev->seq);
    spend_add(c, ev->ts_ns, d->channel, d->amount_approved, incremental ? 0 : 1, true);
    card_touch(b, c, ev->seq);
    auth_touch(b, &n->auth, ev->seq);
    return LEDGER_ERR_OK;
}

/* A decline holds nothing. A first request's decline is kept under its hold id so a repeated
 * request gets the same answer; an incremental decline (hold id = the original's) never creates
 * the original, and against an existing hold changes nothing but last_seq. */
static enum ledger_err apply_declined(struct ledger_state *st, struct card_book *b,
                                      const struct event *ev)
{
    (void)st;
    const struct ev_card_decision *d = &ev->data.card_decision;
    struct auth_node *n = auth_find(b, &d->hold_id);
    if (d->amount_approved != 0)
        return LEDGER_ERR_DECODE;
    if (n == NULL && d->original_authorization_id[0] != '\0')
        return LEDGER_ERR_OK;
    if (n == NULL) {
        n = pool_add(&b->auths, b->seed, &d->hold_id);
        if (n == NULL)
            return LEDGER_ERR_DECODE;
        auth_fill(n, ev, AUTH_STATE_DECLINED);
        n->auth.index_pending = 1;
    }
    auth_touch(b, &n->auth, ev->seq);
    return LEDGER_ERR_OK;
}

/* The state a hold change leaves the authorization in (PENDING when it stays open), or 0 when the
 * change contradicts the hold. */
static uint8_t hold_change_state(uint16_t type, const struct ev_card_hold_change *h,
                                 const struct authorization *a)
{
    bool closes = h->released == a->held;
    if (h->released < 0 || h->released > a->held || h->amount < 0 || (h->final && !closes))
        return 0;
    switch (type) {
    case EVENT_CARD_CAPTURED:
        if (h->amount == 0 && h->released == 0)
            return 0;
        return closes ? AUTH_STATE_CAPTURED : AUTH_STATE_PENDING;
    case EVENT_CARD_REVERSED:
        if (h->amount != 0 || h->released == 0)
            return 0;
        return closes ? AUTH_STATE_REVERSED : AUTH_STATE_PENDING;
    default: /* EVENT_CARD_HOLD_EXPIRED */ return h->amount == 0 && closes ? AUTH_STATE_EXPIRED : 0;
    }
}

/* card.captured, card.reversed, card.hold_expired. */
static enum ledger_err apply_hold_change(struct ledger_state *st, struct card_book *b,
                                         const struct event *ev)
{
    const struct ev_card_hold_change *h = &ev->data.card_hold;
    struct auth_node *n = auth_find(b, &h->hold_id);
    struct authorization *a = n ? &n->auth : NULL;
    if (a == NULL || a->state != AUTH_STATE_PENDING || !ledger_id_equal(&a->card_id, &h->card_id) ||
        !ledger_id_equal(&a->account_id, &h->account_id) ||
        memcmp(a->currency, h->currency, 4) != 0)
        return LEDGER_ERR_DECODE;
    uint8_t next = hold_change_state(ev->type, h, a);
    struct account *acc = account_in(st, &a->account_id, a->currency);
    struct account *s = settlement_account(st, b, a->currency);
    int64_t captured;
    struct move m;
    if (next == 0 || acc == NULL || s == NULL ||
        !money_add(a->captured_total, h->amount, &captured) ||
        !move_plan(&m, acc, s, -h->released, h->amount))
        return LEDGER_ERR_DECODE;
    move_commit(st, &m, ev->seq);
    a->held -= h->released;
    a->captured_total = captured;
    a->state = next;
    if (next != AUTH_STATE_PENDING)
        heap_remove(b, n);
    LEDGER_ASSERT((a->state == AUTH_STATE_PENDING) == (a->held > 0));
    auth_touch(b, a, ev->seq);
    return LEDGER_ERR_OK;
}

static enum ledger_err apply_refunded(struct ledger_state *st, struct card_book *b,
                                      const struct event *ev)
{
    const struct ev_card_refunded *r = &ev->data.card_refund;
    const struct card *c = ledger_state_card(st, &r->card_id);
    struct account *a = account_in(st, &r->account_id, r->currency);
    struct account *s = settlement_account(st, b, r->currency);
    struct move m;
    if (c == NULL || a == NULL || s == NULL || !ledger_id_equal(&c->account_id, &a->id) ||
        r->amount <= 0 || a->state == ACCOUNT_STATE_CLOSED || !move_plan(&m, s, a, 0, r->amount))
        return LEDGER_ERR_DECODE;
    move_commit(st, &m, ev->seq);
    return LEDGER_ERR_OK;
}

enum ledger_err card_book_apply(struct ledger_state *st, const struct event *ev)
{
    struct card_book *b = ledger_state_card_book(st);
    switch ((enum event_type)ev->type) {
    case EVENT_CARD_ISSUED: return apply_issued(st, b, ev);
    case EVENT_CARD_ACTIVATED:
    case EVENT_CARD_BLOCKED:
    case EVENT_CARD_UNBLOCKED:
    case EVENT_CARD_DESTROYED: return apply_card_action(st, b, ev);
    case EVENT_CARD_LIMITS_CHANGED: return apply_limits(st, b, ev);
    case EVENT_CARD_REPLACED: return apply_replaced(st, b, ev);
    case EVENT_CARD_AUTHORIZED: return apply_authorized(st, b, ev);
    case EVENT_CARD_DECLINED: return apply_declined(st, b, ev);
    case EVENT_CARD_CAPTURED:
    case EVENT_CARD_REVERSED:
    case EVENT_CARD_HOLD_EXPIRED: return apply_hold_change(st, b, ev);
    case EVENT_CARD_REFUNDED: return apply_refunded(st, b, ev);
    default: return LEDGER_ERR_DECODE;
    }
}

/* ---- names and rows -------------------------------------------------------------------------- */

const char *auth_state_name(enum auth_state s)
{
    switch (s) {
    case AUTH_STATE_PENDING: return "pending";
    case AUTH_STATE_CAPTURED: return "captured";
    case AUTH_STATE_REVERSED: return "reversed";
    case AUTH_STATE_EXPIRED: return "expired";
    case AUTH_STATE_DECLINED: return "declined";
    default: return "unknown";
    }
}

size_t card_row_encode(const struct card *c, uint8_t out[CARD_ROW_BYTES])
{
    struct card row;
    memcpy(&row, c, sizeof row); /* padding included: equal cards, equal rows */
    row.dirty = 0;
    row.index_pending = 0; /* bookkeeping of the writer, not of the card */
    return row_pack(CARD_ROW_VERSION, &row, sizeof row, out);
}

bool card_row_decode(const void *row, size_t len, struct card *out)
{
    return row_get(CARD_ROW_VERSION, row, len, out, sizeof *out) && out->state >= CARD_STATE_INACTIVE &&
           out->state <= CARD_STATE_DESTROYED;
}

size_t auth_row_encode(const struct authorization *a, uint8_t out[AUTH_ROW_BYTES])
{
    struct authorization row;
    memcpy(&row, a, sizeof row);
    row.dirty = 0;
    row.index_pending = 0;
    return row_pack(AUTH_ROW_VERSION, &row, sizeof row, out);
}

bool auth_row_decode(const void *row, size_t len, struct authorization *out)
{
    return row_get(AUTH_ROW_VERSION, row, len, out, sizeof *out) && out->state >= AUTH_STATE_PENDING &&
           out->state <= AUTH_STATE_DECLINED;
}
