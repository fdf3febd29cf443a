/*
 * permissions.c: the roles x permissions tables of docs/SECURITY.md.
 *
 * One static row per route: the roles allowed outright, the roles allowed with a restriction
 * (checked by a small function on the parsed command), and for role third_party how the route's
 * resource resolves to an account and which rights (any of them) it needs there.
 *
 * Order (SECURITY.md "Order of checks"): a third party is first scoped to the accounts it is
 * declared on: an undeclared account (or a card, hold, transfer or statement of one, or a resource
 * that does not exist) answers the route's usual 404, exactly as an unknown id does; declared but
 * without the right: 403. Then the role table: 403 FORBIDDEN naming the roles that may.
 *
 * Every check reads RocksDB rows (proj_third_parties, proj_cards, proj_auths, proj_accounts,
 * proj_statements, the log) on each call: a removal takes effect at the next request.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "store/store.h"

#define RB(role) (1u << (role))
#define R_ADMIN RB(ROLE_ADMIN)
#define R_COMPLIANCE RB(ROLE_COMPLIANCE)
#define R_ANTIFRAUD RB(ROLE_ANTIFRAUD)
#define R_ACCOUNTANT RB(ROLE_ACCOUNTANT)
#define R_SUPPORT RB(ROLE_SUPPORT)
#define R_TP RB(ROLE_THIRD_PARTY)
#define R_CP RB(ROLE_CARD_PROCESSOR)
#define R_STAFF (R_ADMIN | R_COMPLIANCE | R_ANTIFRAUD | R_ACCOUNTANT | R_SUPPORT)

/* How a third party's request resolves to the account(s) its rights are checked on. */
enum tp_scope {
    TPS_NONE = 0,      /* not allowed to a third party: 403 */
    TPS_PATH_ACCOUNT,  /* r->path_id is the account */
    TPS_PATH_CARD,     /* r->path_id is a card: its proj_cards row's account */
    TPS_HOLD,          /* r->auth_id: the proj_auths row of ledger_id_from_name("auth:" + id) */
    TPS_TRANSFER,      /* r->path_id is a transfer: its debit or credit account */
    TPS_STATEMENT,     /* r->path_id is a statement: its account */
    TPS_ISSUE_ACCOUNT, /* r->cmd.u.card_issue.account_id */
    TPS_DEBIT_ITEMS,   /* every transfer item's debit account */
    TPS_LIST,          /* allowed; the list is filtered with access_account_visible() */
    TPS_OWN_TP,        /* r->path_text must be its own third party id (404 otherwise) */
    TPS_HIDE_ACCOUNT,  /* refused (403), but 404 when not declared on r->path_id */
    TPS_ALLOW,         /* no token routes (healthz, readyz, oauth/token) */
};

/* Restrictions of a role on a route, checked on the parsed command. */
enum restriction {
    RS_NONE = 0,
    RS_OPEN_INTERNAL,     /* accountant: POST /v1/accounts with kind internal only */
    RS_BLOCK_REASON,      /* compliance: block/unblock with reason SYSTEM or COMPLIANCE only */
    RS_INTERNAL_TRANSFER, /* accountant: every item between two internal accounts */
};

struct perm {
    uint16_t roles;      /* allowed outright */
    uint16_t restricted; /* allowed when the restriction holds */
    uint8_t restriction; /* enum restriction */
    uint8_t tp_scope;    /* enum tp_scope (role third_party) */
    uint8_t tp_rights;   /* enum tp_right bits: any of them suffices */
    bool public_route;   /* no token needed */
};

#define VIEW TP_RIGHT_VIEW
#define MOVE TP_RIGHT_INITIATE_TRANSFERS
#define CARDS TP_RIGHT_MANAGE_CARDS

static const struct perm perms[] = {
    [ROUTE_ACCOUNTS_CREATE] = {R_ADMIN, R_ACCOUNTANT, RS_OPEN_INTERNAL, TPS_NONE, 0, false},
    [ROUTE_ACCOUNTS_LIST] = {R_STAFF | R_TP, 0, RS_NONE, TPS_LIST, VIEW, false},
    [ROUTE_ACCOUNT_GET] = {R_STAFF, 0, RS_NONE, TPS_PATH_ACCOUNT, VIEW, false},
    [ROUTE_ACCOUNT_BLOCK] = {R_ADMIN | R_ANTIFRAUD, R_COMPLIANCE, RS_BLOCK_REASON, TPS_HIDE_ACCOUNT, 0, false},
    [ROUTE_ACCOUNT_UNBLOCK] = {R_ADMIN | R_ANTIFRAUD, R_COMPLIANCE, RS_BLOCK_REASON, TPS_HIDE_ACCOUNT, 0, false},
    [ROUTE_ACCOUNT_CLOSE] = {R_ADMIN, 0, RS_NONE, TPS_HIDE_ACCOUNT, 0, false},
    [ROUTE_ACCOUNT_BALANCE] = {R_STAFF, 0, RS_NONE, TPS_PATH_ACCOUNT, VIEW, false},
    [ROUTE_DEPOSITS] = {R_ADMIN | R_ACCOUNTANT, 0, RS_NONE, TPS_NONE, 0, false},
    [ROUTE_TRANSFERS_CREATE] = {R_ADMIN, R_ACCOUNTANT, RS_INTERNAL_TRANSFER, TPS_DEBIT_ITEMS, MOVE, false},
    [ROUTE_TRANSFERS_BATCH] = {R_ADMIN, R_ACCOUNTANT, RS_INTERNAL_TRANSFER, TPS_DEBIT_ITEMS, MOVE, false},
    [ROUTE_TRANSFER_GET] = {R_STAFF, 0, RS_NONE, TPS_TRANSFER, VIEW, false},
    [ROUTE_EVENTS] = {R_ADMIN | R_COMPLIANCE | R_ANTIFRAUD | R_ACCOUNTANT, 0, RS_NONE, TPS_NONE, 0, false},
    [ROUTE_HEALTHZ] = {0, 0, RS_NONE, TPS_ALLOW, 0, true},
    [ROUTE_READYZ] = {0, 0, RS_NONE, TPS_ALLOW, 0, true},
    [ROUTE_METRICS] = {R_STAFF, 0, RS_NONE, TPS_NONE, 0, false},
    [ROUTE_CARDS_ISSUE] = {R_ADMIN | R_CP, 0, RS_NONE, TPS_ISSUE_ACCOUNT, CARDS, false},
    [ROUTE_CARD_GET] = {R_STAFF | R_CP, 0, RS_NONE, TPS_PATH_CARD, VIEW | CARDS, false},
    [ROUTE_CARD_ACTIVATE] = {R_ADMIN | R_CP, 0, RS_NONE, TPS_PATH_CARD, CARDS, false},
    [ROUTE_CARD_BLOCK] = {R_ADMIN | R_ANTIFRAUD | R_CP, 0, RS_NONE, TPS_PATH_CARD, CARDS, false},
    [ROUTE_CARD_UNBLOCK] = {R_ADMIN | R_ANTIFRAUD | R_CP, 0, RS_NONE, TPS_PATH_CARD, CARDS, false},
    [ROUTE_CARD_REPLACE] = {R_ADMIN | R_CP, 0, RS_NONE, TPS_PATH_CARD, CARDS, false},
    [ROUTE_CARD_DESTROY] = {R_ADMIN | R_CP, 0, RS_NONE, TPS_PATH_CARD, CARDS, false},
    [ROUTE_CARD_LIMITS] = {R_ADMIN | R_CP, 0, RS_NONE, TPS_PATH_CARD, CARDS, false},
    [ROUTE_CARD_AUTHS_LIST] = {R_STAFF | R_CP, 0, RS_NONE, TPS_PATH_CARD, VIEW, false},
    [ROUTE_ACCOUNT_CARDS] = {R_STAFF | R_CP, 0, RS_NONE, TPS_PATH_ACCOUNT, VIEW | CARDS, false},
    [ROUTE_CARD_AUTHORIZE] = {R_ADMIN | R_CP, 0, RS_NONE, TPS_NONE, 0, false},
    [ROUTE_CARD_ADVICE] = {R_ADMIN | R_CP, 0, RS_NONE, TPS_NONE, 0, false},
    [ROUTE_CARD_AUTH_GET] = {R_STAFF | R_CP, 0, RS_NONE, TPS_HOLD, VIEW, false},
    [ROUTE_CARD_CAPTURE] = {R_ADMIN | R_CP, 0, RS_NONE, TPS_NONE, 0, false},
    [ROUTE_CARD_REVERSE] = {R_ADMIN | R_CP, 0, RS_NONE, TPS_NONE, 0, false},
    [ROUTE_CARD_REFUND] = {R_ADMIN | R_CP, 0, RS_NONE, TPS_NONE, 0, false},
    [ROUTE_ACCOUNT_OPERATIONS] = {R_STAFF, 0, RS_NONE, TPS_PATH_ACCOUNT, VIEW, false},
    [ROUTE_ACCOUNT_STATEMENTS] = {R_STAFF, 0, RS_NONE, TPS_PATH_ACCOUNT, VIEW, false},
    [ROUTE_ACCOUNT_STATEMENT_GET] = {R_STAFF, 0, RS_NONE, TPS_PATH_ACCOUNT, VIEW, false},
    [ROUTE_STATEMENT_GET] = {R_STAFF, 0, RS_NONE, TPS_STATEMENT, VIEW, false},
    [ROUTE_ADMIN_CLOCK] = {R_ADMIN | R_ACCOUNTANT, 0, RS_NONE, TPS_NONE, 0, false}, /* POST: admin (below) */
    [ROUTE_OAUTH_TOKEN] = {0, 0, RS_NONE, TPS_ALLOW, 0, true},
    [ROUTE_CLIENTS_CREATE] = {R_ADMIN, 0, RS_NONE, TPS_NONE, 0, false},
    [ROUTE_CLIENTS_LIST] = {R_ADMIN, 0, RS_NONE, TPS_NONE, 0, false},
    [ROUTE_CLIENT_REVOKE] = {R_ADMIN, 0, RS_NONE, TPS_NONE, 0, false},
    [ROUTE_TP_DECLARE] = {R_ADMIN, 0, RS_NONE, TPS_NONE, 0, false},
    [ROUTE_TP_REMOVE] = {R_ADMIN, 0, RS_NONE, TPS_NONE, 0, false},
    [ROUTE_TP_ACCOUNTS] = {R_ADMIN | R_COMPLIANCE | R_ANTIFRAUD | R_SUPPORT, 0, RS_NONE, TPS_OWN_TP, 0, false},
    [ROUTE_AUDIT] = {R_ADMIN | R_COMPLIANCE | R_ANTIFRAUD, 0, RS_NONE, TPS_NONE, 0, false},
    [ROUTE_HOLDER_ID_SET] = {R_ADMIN | R_COMPLIANCE, 0, RS_NONE, TPS_NONE, 0, false},
    [ROUTE_HOLDER_ID_GET] = {R_STAFF, 0, RS_NONE, TPS_NONE, 0, false},
};
_Static_assert(sizeof perms / sizeof perms[0] == ROUTE_LAST + 1, "one row per route");
_Static_assert(LEDGER_CLIENT_ID_MAX <= LEDGER_HOLDER_ID_MAX && LEDGER_THIRD_PARTY_ID_MAX <= LEDGER_HOLDER_ID_MAX,
               "path_text holds every id named by a path");

/* ---- answers ---------------------------------------------------------------------------------- */

/* 403 FORBIDDEN naming the roles that may (and, when given, what restricts them). */
static bool forbid(struct request *r, const struct perm *p, const char *why)
{
    char msg[256];
    size_t n = (size_t)snprintf(msg, sizeof msg, "role %s may not do this", client_role_name(r->who.role));
    if (why != NULL) {
        snprintf(msg + n, sizeof msg - n, ": %s", why);
    } else {
        const char *sep = "; allowed: ";
        unsigned all = p->roles | p->restricted;
        for (unsigned role = ROLE_ADMIN; role <= ROLE_CARD_PROCESSOR && n < sizeof msg; role++) {
            if ((all & RB(role)) == 0)
                continue;
            n += (size_t)snprintf(msg + n, sizeof msg - n, "%s%s", sep, client_role_name(role));
            sep = ", ";
        }
        if (n < sizeof msg && p->tp_rights != 0 && p->tp_scope != TPS_LIST)
            snprintf(msg + n, sizeof msg - n, "; a third party with the right on the account");
    }
    reply_error(&r->reply, LEDGER_ERR_FORBIDDEN, NULL, msg);
    return false;
}

/* 403 for a third party declared on the account without the right the route needs. */
static bool forbid_right(struct request *r, const struct perm *p)
{
    char why[128];
    size_t n = (size_t)snprintf(why, sizeof why, "the third party needs the right ");
    const char *sep = "";
    for (unsigned bit = TP_RIGHT_VIEW; bit <= TP_RIGHT_MANAGE_CARDS && n < sizeof why; bit <<= 1) {
        if ((p->tp_rights & bit) == 0)
            continue;
        n += (size_t)snprintf(why + n, sizeof why - n, "%s%s", sep, tp_right_name((enum tp_right)bit));
        sep = " or ";
    }
    if (n < sizeof why)
        snprintf(why + n, sizeof why - n, " on the account");
    return forbid(r, p, why);
}

static bool not_found(struct request *r, enum ledger_err code, const char *field)
{
    reply_error(&r->reply, code, field, NULL);
    return false;
}

/* ---- rows ------------------------------------------------------------------------------------- */

/* OK, NOT_FOUND, DECODE or IO. */
static enum ledger_err load_row(struct request *r, int cf, const struct ledger_id *id, void *out,
                                bool (*decode)(const void *, size_t, void *))
{
    char *val = NULL;
    size_t vlen = 0;
    enum ledger_err err = store_get(r->srv->store, (enum store_cf)cf, id->b, 16, &val, &vlen);
    if (err == LEDGER_ERR_OK && !decode(val, vlen, out))
        err = LEDGER_ERR_DECODE;
    free(val);
    return err;
}

static bool dec_account(const void *v, size_t n, void *out) { return account_row_decode(v, n, out); }
static bool dec_card(const void *v, size_t n, void *out) { return card_row_decode(v, n, out); }
static bool dec_auth(const void *v, size_t n, void *out) { return auth_row_decode(v, n, out); }

/* The third party's rights on account: OK with *rights, THIRD_PARTY_NOT_DECLARED, DECODE or IO. */
static enum ledger_err tp_rights_on(struct request *r, const struct ledger_id *account, uint8_t *rights)
{
    *rights = 0;
    return access_store_rights(r->srv->store, r->who.third_party_id, account, rights);
}

/* The account a statement belongs to (its index row, as reads.c find_statement). */
static enum ledger_err statement_account(struct request *r, const struct ledger_id *id, struct ledger_id *account)
{
    struct statement s;
    enum ledger_err err = statement_by_id(r->srv->store, id, &s);
    if (err == LEDGER_ERR_OK)
        *account = s.account_id;
    return err;
}

/* The debit and credit accounts of a transfer (from its transfer.executed event). */
static enum ledger_err transfer_accounts(struct request *r, const struct ledger_id *id, struct ledger_id acc[2])
{
    uint64_t seq;
    uint8_t rec[LEDGER_RECORD_BYTES_MAX];
    size_t len = 0;
    struct event ev;
    if (!store_get_stream(r->srv->store, id, 1, &seq))
        return LEDGER_ERR_NOT_FOUND;
    enum ledger_err err = store_get_event(r->srv->store, seq, rec, sizeof rec, &len);
    if (err != LEDGER_ERR_OK)
        return err;
    if (event_decode(rec, len, &ev) != LEDGER_ERR_OK || ev.type != EVENT_TRANSFER_EXECUTED)
        return LEDGER_ERR_NOT_FOUND;
    acc[0] = ev.data.transfer.debit_account_id;
    acc[1] = ev.data.transfer.credit_account_id;
    return LEDGER_ERR_OK;
}

/* ---- third parties ---------------------------------------------------------------------------- */

/* The resource of a third party's request: its account(s) (*n of them, 0 when the resource does
 * not exist), and the route's not-found code and field. DECODE/IO on a storage error. */
static enum ledger_err tp_resolve(struct request *r, enum tp_scope scope, struct ledger_id acc[2], size_t *n,
                                  enum ledger_err *code, const char **field)
{
    struct card card;
    struct authorization auth;
    enum ledger_err err = LEDGER_ERR_OK;
    *n = 1;
    *code = LEDGER_ERR_ACCOUNT_NOT_FOUND;
    *field = "account_id";
    switch (scope) {
    case TPS_PATH_ACCOUNT:
    case TPS_HIDE_ACCOUNT: acc[0] = r->path_id; return LEDGER_ERR_OK;
    case TPS_ISSUE_ACCOUNT: acc[0] = r->cmd.u.card_issue.account_id; return LEDGER_ERR_OK;
    case TPS_PATH_CARD:
        *code = LEDGER_ERR_CARD_NOT_FOUND, *field = "card_id";
        err = load_row(r, STORE_CF_PROJ_CARDS, &r->path_id, &card, dec_card);
        if (err == LEDGER_ERR_OK)
            acc[0] = card.account_id;
        break;
    case TPS_HOLD: {
        char name[LEDGER_AUTH_ID_MAX + 8];
        snprintf(name, sizeof name, "auth:%s", r->auth_id);
        struct ledger_id hold = ledger_id_from_name(name);
        *code = LEDGER_ERR_AUTHORIZATION_NOT_FOUND, *field = "authorization_id";
        err = load_row(r, STORE_CF_PROJ_AUTHS, &hold, &auth, dec_auth);
        if (err == LEDGER_ERR_OK)
            acc[0] = auth.account_id;
        break;
    }
    case TPS_TRANSFER:
        *code = LEDGER_ERR_TRANSFER_NOT_FOUND, *field = "id";
        err = transfer_accounts(r, &r->path_id, acc);
        *n = 2;
        break;
    case TPS_STATEMENT:
        *code = LEDGER_ERR_STATEMENT_NOT_FOUND, *field = "statement_id"; /* as reads.c answers */
        err = statement_account(r, &r->path_id, &acc[0]);
        break;
    default: *n = 0; return LEDGER_ERR_OK;
    }
    if (err == LEDGER_ERR_NOT_FOUND)
        *n = 0;
    return err == LEDGER_ERR_NOT_FOUND ? LEDGER_ERR_OK : err;
}

/* One account: 404 (code, field) when not declared, 403 without any of p->tp_rights, else true. */
static bool tp_check_account(struct request *r, const struct perm *p, const struct ledger_id *account,
                             enum ledger_err code, const char *field)
{
    uint8_t rights = 0;
    enum ledger_err err = tp_rights_on(r, account, &rights);
    if (err == LEDGER_ERR_THIRD_PARTY_NOT_DECLARED)
        return not_found(r, code, field);
    if (err != LEDGER_ERR_OK)
        return not_found(r, err, NULL);
    if ((rights & p->tp_rights) == 0)
        return forbid_right(r, p);
    return true;
}

/* Transfers: initiate_transfers on every item's debit account; the first failing item decides. */
static bool tp_check_items(struct request *r, const struct perm *p)
{
    const struct cmd_transfers *tr = &r->cmd.u.transfers;
    static _Thread_local char field[64];
    for (size_t i = 0; i < tr->count; i++) {
        if (r->route == ROUTE_TRANSFERS_BATCH)
            snprintf(field, sizeof field, "transfers[%zu].debit_account_id", i);
        else
            snprintf(field, sizeof field, "debit_account_id");
        if (!tp_check_account(r, p, &tr->items[i].debit_account_id, LEDGER_ERR_ACCOUNT_NOT_FOUND, field))
            return false;
    }
    return true;
}

/* The transfer's debit or credit account with view; 404 when declared on neither. */
static bool tp_check_any(struct request *r, const struct perm *p, const struct ledger_id acc[2], size_t n,
                         enum ledger_err code, const char *field)
{
    bool declared = false;
    for (size_t i = 0; i < n; i++) {
        uint8_t rights = 0;
        enum ledger_err err = tp_rights_on(r, &acc[i], &rights);
        if (err != LEDGER_ERR_OK && err != LEDGER_ERR_THIRD_PARTY_NOT_DECLARED)
            return not_found(r, err, NULL);
        if (err == LEDGER_ERR_OK && (rights & p->tp_rights) != 0)
            return true;
        declared |= err == LEDGER_ERR_OK;
    }
    return declared ? forbid_right(r, p) : not_found(r, code, field);
}

static bool tp_check(struct request *r, const struct perm *p)
{
    enum tp_scope scope = (enum tp_scope)p->tp_scope;
    switch (scope) {
    case TPS_NONE: return forbid(r, p, NULL);
    case TPS_LIST:
    case TPS_ALLOW: return true;
    case TPS_DEBIT_ITEMS: return tp_check_items(r, p);
    case TPS_OWN_TP:
        if (strcmp(r->path_text, r->who.third_party_id) != 0)
            return not_found(r, LEDGER_ERR_NOT_FOUND, "third_party_id");
        return true;
    default: break;
    }
    struct ledger_id acc[2];
    size_t n = 0;
    enum ledger_err code;
    const char *field;
    enum ledger_err err = tp_resolve(r, scope, acc, &n, &code, &field);
    if (err != LEDGER_ERR_OK)
        return not_found(r, err, NULL);
    if (n == 0)
        return not_found(r, code, field);
    if (scope == TPS_HIDE_ACCOUNT) { /* refused, but only an account it knows may say so */
        uint8_t rights = 0;
        err = tp_rights_on(r, &acc[0], &rights);
        if (err == LEDGER_ERR_THIRD_PARTY_NOT_DECLARED)
            return not_found(r, code, field);
        return err == LEDGER_ERR_OK ? forbid(r, p, NULL) : not_found(r, err, NULL);
    }
    return n == 2 ? tp_check_any(r, p, acc, n, code, field) : tp_check_account(r, p, &acc[0], code, field);
}

/* ---- restrictions ----------------------------------------------------------------------------- */

/* true when account is an internal account; an unknown account is left to decide() (it answers
 * ACCOUNT_NOT_FOUND; ids of customer accounts are chosen by the ledger, never guessed ahead). */
static bool internal_or_unknown(struct request *r, const struct ledger_id *id, enum ledger_err *err)
{
    struct account a;
    enum ledger_err e = load_row(r, STORE_CF_PROJ_ACCOUNTS, id, &a, dec_account);
    if (e == LEDGER_ERR_NOT_FOUND)
        return true;
    *err = e;
    return e == LEDGER_ERR_OK && a.kind == ACCOUNT_KIND_INTERNAL;
}

static bool restriction_holds(struct request *r, const struct perm *p)
{
    switch ((enum restriction)p->restriction) {
    case RS_OPEN_INTERNAL:
        if (r->cmd.type == CMD_OPEN_ACCOUNT && r->cmd.u.open.kind == ACCOUNT_KIND_INTERNAL)
            return true;
        return forbid(r, p, "the accountant may open internal accounts only (kind \"internal\")");
    case RS_BLOCK_REASON: {
        uint8_t reason = r->cmd.u.action.reason;
        if ((r->cmd.type == CMD_BLOCK_ACCOUNT || r->cmd.type == CMD_UNBLOCK_ACCOUNT) &&
            (reason == BLOCK_SYSTEM || reason == BLOCK_COMPLIANCE))
            return true;
        return forbid(r, p, "compliance may block and unblock for the reasons SYSTEM and COMPLIANCE only");
    }
    case RS_INTERNAL_TRANSFER: {
        const struct cmd_transfers *tr = &r->cmd.u.transfers;
        if (r->cmd.type != CMD_TRANSFERS)
            return forbid(r, p, NULL);
        for (size_t i = 0; i < tr->count; i++) {
            enum ledger_err err = LEDGER_ERR_OK;
            bool ok = internal_or_unknown(r, &tr->items[i].debit_account_id, &err) &&
                      internal_or_unknown(r, &tr->items[i].credit_account_id, &err);
            if (err != LEDGER_ERR_OK)
                return not_found(r, err, NULL);
            if (!ok)
                return forbid(r, p, "the accountant may transfer between internal accounts only");
        }
        return true;
    }
    default: return forbid(r, p, NULL);
    }
}

/* ---- entry points ----------------------------------------------------------------------------- */

bool access_check(struct request *r)
{
    if (r->route <= ROUTE_NONE || r->route > ROUTE_LAST)
        return true; /* unknown routes answer 404 on their own */
    const struct perm *p = &perms[r->route];
    if (p->public_route)
        return true;
    if (!r->who.authenticated) {
        reply_error(&r->reply, LEDGER_ERR_UNAUTHENTICATED, NULL, NULL);
        return false;
    }
    unsigned role = r->who.role;
    if (role < ROLE_ADMIN || role > ROLE_CARD_PROCESSOR)
        return forbid(r, p, "unknown role");
    if (role == ROLE_THIRD_PARTY) /* scope first: an undeclared account is 404, whatever the route */
        return tp_check(r, p);
    if (r->route == ROUTE_ADMIN_CLOCK && r->is_post && role != ROLE_ADMIN)
        return forbid(r, p, "only admin may set the business clock");
    if (p->roles & RB(role))
        return true;
    if (p->restricted & RB(role))
        return restriction_holds(r, p);
    return forbid(r, p, NULL);
}

bool access_check_role(struct request *r)
{
    if (r->route <= ROUTE_NONE || r->route > ROUTE_LAST)
        return true;
    const struct perm *p = &perms[r->route];
    unsigned role = r->who.role;
    if (p->public_route || !r->who.authenticated)
        return true; /* access_check() answers these */
    if (role < ROLE_ADMIN || role > ROLE_CARD_PROCESSOR)
        return forbid(r, p, "unknown role");
    if (role == ROLE_THIRD_PARTY) { /* scopes named by the path are checked now; by the body, later */
        enum tp_scope scope = (enum tp_scope)p->tp_scope;
        return scope == TPS_ISSUE_ACCOUNT || scope == TPS_DEBIT_ITEMS || tp_check(r, p);
    }
    if ((p->roles | p->restricted) & RB(role))
        return true; /* a restriction is checked on the parsed request */
    return forbid(r, p, NULL);
}

bool access_account_visible(struct request *r, const struct ledger_id *account)
{
    if (!r->who.authenticated)
        return false;
    if (r->who.role != ROLE_THIRD_PARTY)
        return r->who.role >= ROLE_ADMIN && r->who.role <= ROLE_CARD_PROCESSOR &&
               (perms[ROUTE_ACCOUNTS_LIST].roles & RB(r->who.role)) != 0;
    uint8_t rights = 0;
    return tp_rights_on(r, account, &rights) == LEDGER_ERR_OK && (rights & TP_RIGHT_VIEW) != 0;
}
