/*
 * access.c: the access-control part of the inline projection (projections.h, docs/SECURITY.md).
 *
 * What it keeps: every API client (struct client, registration order) and every third-party
 * declaration (struct tp_grant), grouped per third party (struct third_party: its stream version
 * and its declarations in first-declaration order). Three hash indexes: client id -> client,
 * third party id -> third party, (third party id, account) -> declaration.
 *
 * Invariants:
 *   - every client, third party and declaration is allocated once (zeroed, so row bytes are
 *     deterministic) and never freed before the book: pointers stay valid for its life;
 *   - nothing is ever removed from an index: a revoked client stays (revoked), a removed
 *     declaration stays with rights 0 (a later declaration reuses it);
 *   - indexes use linear probing at load <= 1/2; each slot keeps its full hash, so growing never
 *     re-reads the items.
 */
#include <stdlib.h>
#include <string.h>

#include "projections/internal.h"
#include "store/store.h"

#define INDEX_INITIAL 64
#define CLIENT_ROW_VERSION 1u
#define TP_ROW_VERSION 1u

struct third_party {
    char id[LEDGER_THIRD_PARTY_ID_MAX + 1];
    uint64_t version;
    struct tp_grant **grants;
    size_t grants_n, grants_cap;
};

struct slot {
    uint64_t h;
    void *item; /* NULL: empty */
};

struct index {
    struct slot *slots;
    size_t cap, count;
};

struct access_book {
    struct client **clients;
    size_t clients_n, clients_cap;
    struct third_party **tps;
    size_t tps_n, tps_cap;
    struct tp_grant **grants;
    size_t grants_n, grants_cap;
    struct index by_client, by_tp, by_grant;
    struct client **dirty_clients, **dirty_clients_out;
    size_t dirty_clients_n, dirty_clients_cap;
    struct tp_grant **dirty_grants, **dirty_grants_out;
    size_t dirty_grants_n, dirty_grants_cap;
};

/* ---- small helpers ---------------------------------------------------------------------------- */

/* Makes room for one more element in an array of n elements of elem bytes (capacity *cap). */
static void *grow(void *p, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return p;
    *cap = *cap ? *cap * 2 : 16;
    p = realloc(p, *cap * elem);
    LEDGER_ASSERT(p != NULL);
    return p;
}

static uint64_t hash_str(const char *s)
{
    return proj_mix64(proj_fnv(PROJ_FNV_BASIS, s, strlen(s)));
}

static uint64_t hash_grant(const char *tp, const struct ledger_id *account)
{
    return proj_mix64(proj_fnv(proj_fnv(PROJ_FNV_BASIS, tp, strlen(tp) + 1), account->b, 16));
}

/* ---- indexes ---------------------------------------------------------------------------------- */

struct grant_key {
    const char *tp;
    const struct ledger_id *account;
};

static bool client_eq(const void *item, const void *key)
{
    return strcmp(((const struct client *)item)->id, key) == 0;
}

static bool tp_eq(const void *item, const void *key)
{
    return strcmp(((const struct third_party *)item)->id, key) == 0;
}

static bool grant_eq(const void *item, const void *key)
{
    const struct tp_grant *g = item;
    const struct grant_key *k = key;
    return strcmp(g->third_party_id, k->tp) == 0 && ledger_id_equal(&g->account_id, k->account);
}

static void index_init(struct index *ix)
{
    ix->cap = INDEX_INITIAL;
    ix->count = 0;
    ix->slots = proj_zalloc(ix->cap, sizeof *ix->slots);
}

static void *index_find(const struct index *ix, uint64_t h, bool (*eq)(const void *item, const void *key),
                        const void *key)
{
    size_t mask = ix->cap - 1;
    for (size_t i = h & mask; ix->slots[i].item != NULL; i = (i + 1) & mask)
        if (ix->slots[i].h == h && eq(ix->slots[i].item, key))
            return ix->slots[i].item;
    return NULL;
}

static void index_place(struct slot *slots, size_t cap, uint64_t h, void *item)
{
    size_t i = h & (cap - 1);
    while (slots[i].item != NULL)
        i = (i + 1) & (cap - 1);
    slots[i] = (struct slot){h, item};
}

/* Inserts an item known to be absent. */
static void index_insert(struct index *ix, uint64_t h, void *item)
{
    if ((ix->count + 1) * 2 > ix->cap) {
        size_t cap = ix->cap * 2;
        struct slot *slots = proj_zalloc(cap, sizeof *slots);
        for (size_t i = 0; i < ix->cap; i++)
            if (ix->slots[i].item != NULL)
                index_place(slots, cap, ix->slots[i].h, ix->slots[i].item);
        free(ix->slots);
        ix->slots = slots;
        ix->cap = cap;
    }
    index_place(ix->slots, ix->cap, h, item);
    ix->count++;
}

/* ---- lifecycle -------------------------------------------------------------------------------- */

struct access_book *access_book_new(void)
{
    struct access_book *b = proj_zalloc(1, sizeof *b);
    index_init(&b->by_client);
    index_init(&b->by_tp);
    index_init(&b->by_grant);
    return b;
}

void access_book_free(struct access_book *b)
{
    if (b == NULL)
        return;
    for (size_t i = 0; i < b->clients_n; i++)
        free(b->clients[i]);
    for (size_t i = 0; i < b->tps_n; i++) {
        free(b->tps[i]->grants);
        free(b->tps[i]);
    }
    for (size_t i = 0; i < b->grants_n; i++)
        free(b->grants[i]);
    free(b->clients);
    free(b->tps);
    free(b->grants);
    free(b->by_client.slots);
    free(b->by_tp.slots);
    free(b->by_grant.slots);
    free(b->dirty_clients);
    free(b->dirty_clients_out);
    free(b->dirty_grants);
    free(b->dirty_grants_out);
    free(b);
}

/* ---- lookups ---------------------------------------------------------------------------------- */

static struct client *client_find(struct access_book *b, const char *id)
{
    return index_find(&b->by_client, hash_str(id), client_eq, id);
}

static struct third_party *tp_find(struct access_book *b, const char *tp)
{
    return index_find(&b->by_tp, hash_str(tp), tp_eq, tp);
}

static struct tp_grant *grant_find(struct access_book *b, const char *tp, const struct ledger_id *account)
{
    struct grant_key k = {tp, account};
    return index_find(&b->by_grant, hash_grant(tp, account), grant_eq, &k);
}

const struct client *access_client(struct ledger_state *st, const char *client_id)
{
    return client_find(ledger_state_access_book(st), client_id);
}

size_t access_client_count(struct ledger_state *st)
{
    return ledger_state_access_book(st)->clients_n;
}

const struct client *access_client_at(struct ledger_state *st, size_t i)
{
    struct access_book *b = ledger_state_access_book(st);
    LEDGER_ASSERT(i < b->clients_n);
    return b->clients[i];
}

bool access_third_party_rights(struct ledger_state *st, const char *tp, const struct ledger_id *account,
                               uint8_t *rights)
{
    const struct tp_grant *g = grant_find(ledger_state_access_book(st), tp, account);
    if (g == NULL || g->rights == 0)
        return false;
    *rights = g->rights;
    return true;
}

size_t access_third_party_grant_count(struct ledger_state *st, const char *tp)
{
    const struct third_party *t = tp_find(ledger_state_access_book(st), tp);
    return t ? t->grants_n : 0;
}

const struct tp_grant *access_third_party_grant_at(struct ledger_state *st, const char *tp, size_t i)
{
    const struct third_party *t = tp_find(ledger_state_access_book(st), tp);
    LEDGER_ASSERT(t != NULL && i < t->grants_n);
    return t->grants[i];
}

uint64_t access_third_party_version(struct ledger_state *st, const char *tp)
{
    const struct third_party *t = tp_find(ledger_state_access_book(st), tp);
    return t ? t->version : 0;
}

/* ---- apply ------------------------------------------------------------------------------------ */

static void client_dirty(struct access_book *b, struct client *c)
{
    if (c->dirty)
        return;
    b->dirty_clients = grow(b->dirty_clients, &b->dirty_clients_cap, b->dirty_clients_n, sizeof *b->dirty_clients);
    b->dirty_clients[b->dirty_clients_n++] = c;
    c->dirty = 1;
}

static void grant_dirty(struct access_book *b, struct tp_grant *g)
{
    if (g->dirty)
        return;
    b->dirty_grants = grow(b->dirty_grants, &b->dirty_grants_cap, b->dirty_grants_n, sizeof *b->dirty_grants);
    b->dirty_grants[b->dirty_grants_n++] = g;
    g->dirty = 1;
}

static enum ledger_err apply_registered(struct access_book *b, const struct event *ev)
{
    const struct ev_client_registered *d = &ev->data.client_registered;
    if (client_find(b, d->client_id) != NULL)
        return LEDGER_ERR_DECODE;
    struct client *c = proj_zalloc(1, sizeof *c);
    memcpy(c->id, d->client_id, sizeof c->id);
    memcpy(c->name, d->name, sizeof c->name);
    c->role = d->role;
    memcpy(c->third_party_id, d->third_party_id, sizeof c->third_party_id);
    c->version = 1;
    c->registered_seq = ev->seq;
    c->registered_ts_ns = ev->ts_ns;
    b->clients = grow(b->clients, &b->clients_cap, b->clients_n, sizeof *b->clients);
    b->clients[b->clients_n++] = c;
    index_insert(&b->by_client, hash_str(c->id), c);
    client_dirty(b, c);
    return LEDGER_ERR_OK;
}

static enum ledger_err apply_revoked(struct access_book *b, const struct event *ev)
{
    struct client *c = client_find(b, ev->data.client_revoked.client_id);
    if (c == NULL || c->revoked)
        return LEDGER_ERR_DECODE;
    c->revoked = true;
    c->version++;
    c->revoked_seq = ev->seq;
    c->revoked_ts_ns = ev->ts_ns;
    client_dirty(b, c);
    return LEDGER_ERR_OK;
}

static struct third_party *tp_get(struct access_book *b, const char *id)
{
    struct third_party *t = tp_find(b, id);
    if (t != NULL)
        return t;
    t = proj_zalloc(1, sizeof *t);
    memcpy(t->id, id, strnlen(id, LEDGER_THIRD_PARTY_ID_MAX));
    b->tps = grow(b->tps, &b->tps_cap, b->tps_n, sizeof *b->tps);
    b->tps[b->tps_n++] = t;
    index_insert(&b->by_tp, hash_str(t->id), t);
    return t;
}

static struct tp_grant *grant_new(struct access_book *b, struct third_party *t, const struct ledger_id *account)
{
    struct tp_grant *g = proj_zalloc(1, sizeof *g);
    g->account_id = *account;
    memcpy(g->third_party_id, t->id, sizeof g->third_party_id);
    b->grants = grow(b->grants, &b->grants_cap, b->grants_n, sizeof *b->grants);
    b->grants[b->grants_n++] = g;
    t->grants = grow(t->grants, &t->grants_cap, t->grants_n, sizeof *t->grants);
    t->grants[t->grants_n++] = g;
    index_insert(&b->by_grant, hash_grant(g->third_party_id, account), g);
    return g;
}

static enum ledger_err apply_third_party(struct ledger_state *st, struct access_book *b, const struct event *ev)
{
    const struct ev_third_party *d = &ev->data.third_party;
    bool declared = ev->type == EVENT_THIRD_PARTY_DECLARED;
    struct tp_grant *g = grant_find(b, d->third_party_id, &d->account_id);
    if (declared && ledger_state_account(st, &d->account_id) == NULL)
        return LEDGER_ERR_DECODE;
    if (declared ? d->rights == 0 : g == NULL || g->rights == 0)
        return LEDGER_ERR_DECODE;
    struct third_party *t = tp_get(b, d->third_party_id);
    if (g == NULL)
        g = grant_new(b, t, &d->account_id);
    t->version++;
    g->rights = declared ? d->rights : 0;
    g->changed_seq = ev->seq;
    g->changed_ts_ns = ev->ts_ns;
    grant_dirty(b, g);
    return LEDGER_ERR_OK;
}

enum ledger_err access_apply(struct ledger_state *st, const struct event *ev)
{
    struct access_book *b = ledger_state_access_book(st);
    switch ((enum event_type)ev->type) {
    case EVENT_CLIENT_REGISTERED: return apply_registered(b, ev);
    case EVENT_CLIENT_REVOKED: return apply_revoked(b, ev);
    case EVENT_THIRD_PARTY_DECLARED:
    case EVENT_THIRD_PARTY_REMOVED: return apply_third_party(st, b, ev);
    default: return LEDGER_ERR_DECODE;
    }
}

struct client **ledger_state_take_dirty_clients(struct ledger_state *st, size_t *n)
{
    struct access_book *b = ledger_state_access_book(st);
    size_t cap = b->dirty_clients_cap;
    *n = b->dirty_clients_n;
    if (cap > 0) { /* the caller's copy, so that marking again cannot move it */
        b->dirty_clients_out = realloc(b->dirty_clients_out, cap * sizeof *b->dirty_clients_out);
        LEDGER_ASSERT(b->dirty_clients_out != NULL);
    }
    for (size_t i = 0; i < *n; i++) {
        b->dirty_clients_out[i] = b->dirty_clients[i];
        b->dirty_clients[i]->dirty = 0;
    }
    b->dirty_clients_n = 0;
    return b->dirty_clients_out;
}

struct tp_grant **ledger_state_take_dirty_grants(struct ledger_state *st, size_t *n)
{
    struct access_book *b = ledger_state_access_book(st);
    size_t cap = b->dirty_grants_cap;
    *n = b->dirty_grants_n;
    if (cap > 0) {
        b->dirty_grants_out = realloc(b->dirty_grants_out, cap * sizeof *b->dirty_grants_out);
        LEDGER_ASSERT(b->dirty_grants_out != NULL);
    }
    for (size_t i = 0; i < *n; i++) {
        b->dirty_grants_out[i] = b->dirty_grants[i];
        b->dirty_grants[i]->dirty = 0;
    }
    b->dirty_grants_n = 0;
    return b->dirty_grants_out;
}

/* ---- rows and keys ---------------------------------------------------------------------------- */

void client_row_encode(const struct client *c, uint8_t out[CLIENT_ROW_BYTES])
{
    row_put(CLIENT_ROW_VERSION, c, sizeof *c, offsetof(struct client, dirty), out);
}

bool client_row_decode(const void *row, size_t len, struct client *out)
{
    if (!row_get(CLIENT_ROW_VERSION, row, len, out, sizeof *out))
        return false;
    /* strings are terminated whatever the bytes say */
    out->id[sizeof out->id - 1] = out->name[sizeof out->name - 1] = '\0';
    out->third_party_id[sizeof out->third_party_id - 1] = '\0';
    return true;
}

void tp_row_encode(const struct tp_grant *g, uint8_t out[TP_ROW_BYTES])
{
    LEDGER_ASSERT(g->rights != 0 && (g->rights & ~TP_RIGHTS_ALL) == 0);
    out[0] = TP_ROW_VERSION;
    out[1] = g->rights;
    store_u64_be(g->changed_seq, out + 2);
    store_u64_be((uint64_t)g->changed_ts_ns, out + 10);
}

bool tp_row_decode(const void *row, size_t len, struct tp_grant *out)
{
    const uint8_t *p = row;
    if (len != TP_ROW_BYTES || p[0] != TP_ROW_VERSION || p[1] == 0 || (p[1] & ~TP_RIGHTS_ALL) != 0)
        return false;
    out->rights = p[1];
    out->changed_seq = store_be_u64(p + 2);
    out->changed_ts_ns = (int64_t)store_be_u64(p + 10);
    return true;
}

size_t tp_account_key(const struct ledger_id *account, const char *tp, uint8_t out[TP_KEY_MAX])
{
    size_t n = strnlen(tp, LEDGER_THIRD_PARTY_ID_MAX + 1);
    LEDGER_ASSERT(n <= LEDGER_THIRD_PARTY_ID_MAX);
    out[0] = 'a';
    memcpy(out + 1, account->b, 16);
    memcpy(out + 17, tp, n);
    return 17 + n;
}

size_t tp_key(const char *tp, const struct ledger_id *account, uint8_t out[TP_KEY_MAX])
{
    size_t n = strnlen(tp, LEDGER_THIRD_PARTY_ID_MAX + 1);
    LEDGER_ASSERT(n <= LEDGER_THIRD_PARTY_ID_MAX);
    out[0] = 't';
    memcpy(out + 1, tp, n);
    out[1 + n] = 0;
    if (account == NULL)
        return 2 + n;
    memcpy(out + 2 + n, account->b, 16);
    return 18 + n;
}

bool tp_key_account(const void *key, size_t klen, struct ledger_id *account)
{
    const uint8_t *k = key;
    if (klen < 19 || klen > TP_KEY_MAX || k[0] != 't' || k[klen - 17] != 0)
        return false;
    memcpy(account->b, k + klen - 16, 16);
    return true;
}

void access_batch_put_rows(struct ledger_state *st, struct store_batch *b)
{
    static _Thread_local uint8_t row[CLIENT_ROW_BYTES];
    uint8_t key[TP_KEY_MAX], tp_row[TP_ROW_BYTES];
    size_t n = 0;
    struct client **clients = ledger_state_take_dirty_clients(st, &n);
    for (size_t i = 0; i < n; i++) {
        client_row_encode(clients[i], row);
        store_batch_put(b, STORE_CF_PROJ_CLIENTS, clients[i]->id, strlen(clients[i]->id), row, CLIENT_ROW_BYTES);
    }
    struct tp_grant **grants = ledger_state_take_dirty_grants(st, &n);
    for (size_t i = 0; i < n; i++) {
        const struct tp_grant *g = grants[i];
        size_t ka = tp_account_key(&g->account_id, g->third_party_id, key);
        if (g->rights == 0) {
            store_batch_delete(b, STORE_CF_PROJ_THIRD_PARTIES, key, ka);
            store_batch_delete(b, STORE_CF_PROJ_THIRD_PARTIES, key, tp_key(g->third_party_id, &g->account_id, key));
            continue;
        }
        tp_row_encode(g, tp_row);
        store_batch_put(b, STORE_CF_PROJ_THIRD_PARTIES, key, ka, tp_row, TP_ROW_BYTES);
        size_t kt = tp_key(g->third_party_id, &g->account_id, key);
        store_batch_put(b, STORE_CF_PROJ_THIRD_PARTIES, key, kt, tp_row, TP_ROW_BYTES);
    }
}

/* ---- reads from RocksDB (any thread) ---------------------------------------------------------- */

enum ledger_err access_store_client(struct store *s, const char *client_id, struct client *out)
{
    if (!access_id_valid(client_id, LEDGER_CLIENT_ID_MAX))
        return LEDGER_ERR_CLIENT_NOT_FOUND;
    char *val = NULL;
    size_t vlen = 0;
    enum ledger_err err = store_get(s, STORE_CF_PROJ_CLIENTS, client_id, strlen(client_id), &val, &vlen);
    if (err == LEDGER_ERR_NOT_FOUND)
        return LEDGER_ERR_CLIENT_NOT_FOUND;
    if (err != LEDGER_ERR_OK)
        return err;
    bool ok = client_row_decode(val, vlen, out) && strcmp(out->id, client_id) == 0;
    free(val);
    return ok ? LEDGER_ERR_OK : LEDGER_ERR_DECODE;
}

enum ledger_err access_store_rights(struct store *s, const char *tp, const struct ledger_id *account,
                                    uint8_t *rights)
{
    if (!access_id_valid(tp, LEDGER_THIRD_PARTY_ID_MAX))
        return LEDGER_ERR_THIRD_PARTY_NOT_DECLARED;
    uint8_t key[TP_KEY_MAX];
    size_t klen = tp_account_key(account, tp, key);
    char *val = NULL;
    size_t vlen = 0;
    enum ledger_err err = store_get(s, STORE_CF_PROJ_THIRD_PARTIES, key, klen, &val, &vlen);
    if (err == LEDGER_ERR_NOT_FOUND)
        return LEDGER_ERR_THIRD_PARTY_NOT_DECLARED;
    if (err != LEDGER_ERR_OK)
        return err;
    struct tp_grant g;
    bool ok = tp_row_decode(val, vlen, &g);
    free(val);
    if (!ok)
        return LEDGER_ERR_DECODE;
    *rights = g.rights;
    return LEDGER_ERR_OK;
}
