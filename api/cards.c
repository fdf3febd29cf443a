/*
 * cards.c: the card routes and the card processor's JSON (docs/CARDS.md): card management
 * (issue, activate, block, unblock, replace, destroy, limits), authorizations, advices, captures,
 * reversals and refunds, and the card reads from the RocksDB projection rows.
 *
 * The parsers here are shared by HTTP (routes.c hooks) and the NATS listener (nats_cmd.c): one
 * contract, two transports. They only validate shape and ranges; every business rule is decided
 * by the sequencer (commands/decide_cards.c). The edge chooses what decide must not: card ids
 * (UUIDv7), last four digits, tokens and expiry dates (random / clock), and each authorization's
 * hold lifetime (configuration). Invariant: a parsed command never carries an unterminated or
 * over-long string; processor ids hold only [A-Za-z0-9._:-], so replies print them unescaped.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "api/internal.h"
#include "store/store.h"

#define NS_PER_DAY (86400LL * 1000000000LL)

static int64_t hold_ttl_final_ns = LEDGER_HOLD_EXPIRY_DAYS_DEFAULT * NS_PER_DAY;
static int64_t hold_ttl_pre_ns = LEDGER_PREAUTH_EXPIRY_DAYS_DEFAULT * NS_PER_DAY;

bool api_cards_configure(int hold_expiry_days, int preauth_expiry_days)
{
    if (hold_expiry_days < 1 || hold_expiry_days > API_HOLD_EXPIRY_DAYS_MAX || preauth_expiry_days < 1 ||
        preauth_expiry_days > API_HOLD_EXPIRY_DAYS_MAX)
        return false;
    hold_ttl_final_ns = hold_expiry_days * NS_PER_DAY;
    hold_ttl_pre_ns = preauth_expiry_days * NS_PER_DAY;
    return true;
}

int64_t card_hold_ttl_ns(uint8_t category)
{
    return category == AUTH_PRE ? hold_ttl_pre_ns : hold_ttl_final_ns;
}

const char *card_err_response_code(enum ledger_err err)
{
    switch (err) {
    case LEDGER_ERR_OK: return "00";
    case LEDGER_ERR_AMOUNT_NOT_POSITIVE:
    case LEDGER_ERR_AMOUNT_OUT_OF_RANGE:
    case LEDGER_ERR_AMOUNT_EXCEEDS_HOLD:
    case LEDGER_ERR_BALANCE_OVERFLOW: return "13";
    case LEDGER_ERR_CARD_NOT_FOUND: return "14";
    case LEDGER_ERR_FUNDS_INSUFFICIENT: return "51";
    case LEDGER_ERR_CARD_NOT_ACTIVE:
    case LEDGER_ERR_CARD_FINAL:
    case LEDGER_ERR_ACCOUNT_BLOCKED:
    case LEDGER_ERR_ACCOUNT_CLOSED: return "62";
    case LEDGER_ERR_AUTHORIZATION_ID_REUSED: return "94";
    case LEDGER_ERR_BUSY:
    case LEDGER_ERR_SHUTTING_DOWN: return "91";
    case LEDGER_ERR_INTERNAL:
    case LEDGER_ERR_IO:
    case LEDGER_ERR_DECODE: return "96";
    default: return "12";
    }
}

/* ---- field parsers (each returns OK or the error, with *field the offending key) -------------- */

static _Thread_local char field_buf[96];

/* "prefix.key" in a per-thread buffer (prefix "" gives key). */
static const char *field_name(const char *prefix, const char *key)
{
    if (prefix[0] == '\0')
        return key;
    snprintf(field_buf, sizeof field_buf, "%s.%s", prefix, key);
    return field_buf;
}

#define FAIL(e, f) (*field = (f), (e))

static enum ledger_err get_str(json_t *obj, const char *key, bool required, size_t max, char *out, size_t cap,
                               const char **field)
{
    json_t *v = json_object_get(obj, key);
    out[0] = '\0';
    if (v == NULL || json_is_null(v))
        return required ? FAIL(LEDGER_ERR_FIELD_MISSING, key) : LEDGER_ERR_OK;
    if (!json_is_string(v))
        return FAIL(LEDGER_ERR_FIELD_INVALID, key);
    size_t n = json_string_length(v);
    const char *s = json_string_value(v);
    if (n > max || n >= cap)
        return FAIL(LEDGER_ERR_FIELD_TOO_LONG, key);
    if (memchr(s, '\0', n) != NULL)
        return FAIL(LEDGER_ERR_FIELD_INVALID, key);
    if (required && n == 0)
        return FAIL(LEDGER_ERR_FIELD_MISSING, key);
    memcpy(out, s, n + 1);
    return LEDGER_ERR_OK;
}

bool card_proc_id_valid(const char *s, size_t n)
{
    if (n == 0 || n > LEDGER_AUTH_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
                  ch == '_' || ch == ':' || ch == '-';
        if (!ok)
            return false;
    }
    return true;
}

/* A processor id: 1..64 of [A-Za-z0-9._:-]. */
static enum ledger_err get_proc_id(json_t *obj, const char *key, bool required, char out[LEDGER_AUTH_ID_MAX + 1],
                                   const char **field)
{
    enum ledger_err e = get_str(obj, key, required, LEDGER_AUTH_ID_MAX, out, LEDGER_AUTH_ID_MAX + 1, field);
    if (e != LEDGER_ERR_OK)
        return e;
    if (out[0] != '\0' && !card_proc_id_valid(out, strlen(out))) {
        out[0] = '\0';
        return FAIL(LEDGER_ERR_FIELD_INVALID, key);
    }
    return LEDGER_ERR_OK;
}

static enum ledger_err get_uuid(json_t *obj, const char *key, struct ledger_id *out, const char **field)
{
    char text[LEDGER_ID_TEXT_LEN + 2];
    enum ledger_err e = get_str(obj, key, true, LEDGER_ID_TEXT_LEN + 1, text, sizeof text, field);
    if (e == LEDGER_ERR_FIELD_TOO_LONG || (e == LEDGER_ERR_OK && !ledger_id_parse(text, strlen(text), out)))
        return FAIL(LEDGER_ERR_FIELD_INVALID, key);
    return e;
}

/* A positive amount in minor units (required), or >= 0 where 0 means "none" (min 0). */
static enum ledger_err get_int(json_t *obj, const char *key, bool required, int64_t min, int64_t max,
                               int64_t *out, const char **field)
{
    json_t *v = json_object_get(obj, key);
    *out = 0;
    if (v == NULL || json_is_null(v))
        return required ? FAIL(LEDGER_ERR_FIELD_MISSING, key) : LEDGER_ERR_OK;
    if (!json_is_integer(v))
        return FAIL(LEDGER_ERR_FIELD_INVALID, key);
    json_int_t n = json_integer_value(v);
    if (n < min)
        return FAIL(min > 0 ? LEDGER_ERR_AMOUNT_NOT_POSITIVE : LEDGER_ERR_FIELD_INVALID, key);
    if (n > max)
        return FAIL(LEDGER_ERR_FIELD_INVALID, key);
    *out = (int64_t)n;
    return LEDGER_ERR_OK;
}

static enum ledger_err get_amount(json_t *obj, const char *key, bool required, int64_t *out, const char **field)
{
    return get_int(obj, key, required, 1, INT64_MAX, out, field);
}

static enum ledger_err get_bool(json_t *obj, const char *key, bool dflt, bool *out, const char **field)
{
    json_t *v = json_object_get(obj, key);
    *out = dflt;
    if (v == NULL || json_is_null(v))
        return LEDGER_ERR_OK;
    if (!json_is_boolean(v))
        return FAIL(LEDGER_ERR_FIELD_INVALID, key);
    *out = json_is_true(v);
    return LEDGER_ERR_OK;
}

static enum ledger_err get_currency(json_t *obj, char out[4], const char **field)
{
    char text[8];
    enum ledger_err e = get_str(obj, "currency", true, 3, text, sizeof text, field);
    if (e == LEDGER_ERR_FIELD_TOO_LONG || (e == LEDGER_ERR_OK && money_currency_find(text) == NULL))
        return FAIL(LEDGER_ERR_CURRENCY_UNKNOWN, "currency");
    if (e == LEDGER_ERR_OK)
        memcpy(out, text, 4);
    return e;
}

static bool country_valid(const char *s)
{
    return strlen(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z';
}

/* The merchant object: name?, mcc (0..9999), country (ISO 3166 alpha-2), id?. */
static enum ledger_err get_merchant(json_t *doc, bool required, struct merchant *m, const char **field)
{
    json_t *o = json_object_get(doc, "merchant");
    memset(m, 0, sizeof *m);
    if (o == NULL || json_is_null(o))
        return required ? FAIL(LEDGER_ERR_FIELD_MISSING, "merchant") : LEDGER_ERR_OK;
    if (!json_is_object(o))
        return FAIL(LEDGER_ERR_FIELD_INVALID, "merchant");
    int64_t mcc = 0;
    char country[8];
    const char *f = NULL;
    enum ledger_err e = get_str(o, "name", false, LEDGER_MERCHANT_NAME_MAX, m->name, sizeof m->name, &f);
    if (e == LEDGER_ERR_OK)
        e = get_int(o, "mcc", true, 0, 9999, &mcc, &f);
    if (e == LEDGER_ERR_OK)
        e = get_str(o, "country", true, 2, country, sizeof country, &f);
    if (e == LEDGER_ERR_OK && !country_valid(country))
        e = LEDGER_ERR_FIELD_INVALID, f = "country";
    if (e == LEDGER_ERR_OK)
        e = get_str(o, "id", false, LEDGER_MERCHANT_ID_MAX, m->id, sizeof m->id, &f);
    if (e != LEDGER_ERR_OK)
        return FAIL(e, field_name("merchant", f));
    m->mcc = (uint16_t)mcc;
    memcpy(m->country, country, 3);
    return LEDGER_ERR_OK;
}

/* ---- limits ----------------------------------------------------------------------------------- */

static enum ledger_err get_mcc_list(json_t *o, const char *key, uint16_t *out, uint8_t *n, const char **field)
{
    json_t *arr = json_object_get(o, key);
    *n = 0;
    if (arr == NULL || json_is_null(arr))
        return LEDGER_ERR_OK;
    if (!json_is_array(arr) || json_array_size(arr) > LEDGER_CARD_LIST_MAX)
        return FAIL(LEDGER_ERR_FIELD_INVALID, key);
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *v = json_array_get(arr, i);
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 9999)
            return FAIL(LEDGER_ERR_FIELD_INVALID, key);
        out[(*n)++] = (uint16_t)json_integer_value(v);
    }
    return LEDGER_ERR_OK;
}

static enum ledger_err get_country_list(json_t *o, const char *key, char (*out)[3], uint8_t *n, const char **field)
{
    json_t *arr = json_object_get(o, key);
    *n = 0;
    if (arr == NULL || json_is_null(arr))
        return LEDGER_ERR_OK;
    if (!json_is_array(arr) || json_array_size(arr) > LEDGER_CARD_LIST_MAX)
        return FAIL(LEDGER_ERR_FIELD_INVALID, key);
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *v = json_array_get(arr, i);
        if (!json_is_string(v) || !country_valid(json_string_value(v)))
            return FAIL(LEDGER_ERR_FIELD_INVALID, key);
        memcpy(out[(*n)++], json_string_value(v), 3);
    }
    return LEDGER_ERR_OK;
}

/* A whole limits object (PUT replaces every limit): absent amounts and counts are 0 (no limit),
 * absent lists are empty, absent channel switches are on. */
static enum ledger_err parse_limits(json_t *o, struct card_limits *l, const char **field)
{
    static const char *const amounts[] = {"per_auth_max", "day_amount", "week_amount", "month_amount",
                                          "atm_day_amount", "atm_month_amount"};
    static const char *const counts[] = {"day_count", "week_count", "month_count"};
    int64_t *amount_out[] = {&l->per_auth_max, &l->day_amount, &l->week_amount, &l->month_amount,
                             &l->atm_day_amount, &l->atm_month_amount};
    uint32_t *count_out[] = {&l->day_count, &l->week_count, &l->month_count};
    memset(l, 0, sizeof *l);
    enum ledger_err e = LEDGER_ERR_OK;
    for (size_t i = 0; i < 6 && e == LEDGER_ERR_OK; i++)
        e = get_int(o, amounts[i], false, 0, INT64_MAX, amount_out[i], field);
    for (size_t i = 0; i < 3 && e == LEDGER_ERR_OK; i++) {
        int64_t n = 0;
        e = get_int(o, counts[i], false, 0, UINT32_MAX, &n, field);
        *count_out[i] = (uint32_t)n;
    }
    if (e == LEDGER_ERR_OK)
        e = get_mcc_list(o, "allowed_mcc", l->allowed_mcc, &l->allowed_mcc_n, field);
    if (e == LEDGER_ERR_OK)
        e = get_mcc_list(o, "blocked_mcc", l->blocked_mcc, &l->blocked_mcc_n, field);
    if (e == LEDGER_ERR_OK)
        e = get_country_list(o, "allowed_countries", l->allowed_country, &l->allowed_country_n, field);
    if (e == LEDGER_ERR_OK)
        e = get_country_list(o, "blocked_countries", l->blocked_country, &l->blocked_country_n, field);
    if (e == LEDGER_ERR_OK)
        e = get_bool(o, "ecom", true, &l->ecom, field);
    if (e == LEDGER_ERR_OK)
        e = get_bool(o, "contactless", true, &l->contactless, field);
    if (e == LEDGER_ERR_OK)
        e = get_bool(o, "atm", true, &l->atm, field);
    return e;
}

/* ---- edge-chosen card data -------------------------------------------------------------------- */

static void random_bytes(void *out, size_t n)
{
    ssize_t got = getrandom(out, n, 0);
    LEDGER_ASSERT(got == (ssize_t)n); /* the kernel's pool is initialised long before ledgerd runs */
}

/* Last four (4 random digits), token ("tok_" + 24 random hex), expiry (this month + 3 years, MMYY). */
static void card_edge_values(char last_four[5], char token[LEDGER_CARD_TOKEN_MAX + 1], char expiry[5])
{
    uint8_t rnd[16];
    random_bytes(rnd, sizeof rnd);
    uint32_t digits = ((uint32_t)rnd[0] << 24 | (uint32_t)rnd[1] << 16 | (uint32_t)rnd[2] << 8 | rnd[3]) % 10000;
    snprintf(last_four, 5, "%04u", (unsigned)digits);
    /* NOLINTNEXTLINE(bugprone-not-null-terminated-result): ledger_hex writes the rest and the NUL */
    memcpy(token, "tok_", 4);
    ledger_hex(rnd + 4, 12, token + 4);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    unsigned month = (unsigned)(tm.tm_mon % 12) + 1, year = (unsigned)(tm.tm_year + 1900 + 3) % 100;
    expiry[0] = (char)('0' + month / 10);
    expiry[1] = (char)('0' + month % 10);
    expiry[2] = (char)('0' + year / 10);
    expiry[3] = (char)('0' + year % 10);
    expiry[4] = '\0';
}

/* ---- commands from JSON ----------------------------------------------------------------------- */

static enum ledger_err parse_issue(json_t *doc, struct cmd_card_issue *o, const char **field)
{
    char type[16];
    enum card_type t;
    enum ledger_err e = get_uuid(doc, "account_id", &o->account_id, field);
    if (e == LEDGER_ERR_OK)
        e = get_str(doc, "type", true, 15, type, sizeof type, field);
    if (e == LEDGER_ERR_FIELD_TOO_LONG || (e == LEDGER_ERR_OK && !card_type_parse(type, &t)))
        return FAIL(LEDGER_ERR_FIELD_INVALID, "type");
    if (e == LEDGER_ERR_OK)
        e = get_str(doc, "brand", true, LEDGER_CARD_BRAND_MAX, o->brand, sizeof o->brand, field);
    if (e == LEDGER_ERR_OK)
        e = get_str(doc, "name_on_card", true, LEDGER_NAME_ON_CARD_MAX, o->name_on_card, sizeof o->name_on_card,
                    field);
    if (e != LEDGER_ERR_OK)
        return e;
    o->type = (uint8_t)t;
    json_t *lim = json_object_get(doc, "limits");
    if (lim != NULL && !json_is_null(lim)) {
        if (!json_is_object(lim))
            return FAIL(LEDGER_ERR_FIELD_INVALID, "limits");
        const char *f = NULL;
        if ((e = parse_limits(lim, &o->limits, &f)) != LEDGER_ERR_OK)
            return FAIL(e, field_name("limits", f));
        o->has_limits = true;
    }
    o->card_id = ledger_id_new_v7();
    card_edge_values(o->last_four, o->token, o->expiry);
    return LEDGER_ERR_OK;
}

static enum ledger_err parse_authorize(json_t *doc, bool advice, struct cmd_card_authorize *a, const char **field)
{
    char channel[16], category[16];
    enum card_channel ch;
    enum auth_category cat = AUTH_FINAL;
    enum ledger_err e = get_proc_id(doc, "authorization_id", true, a->authorization_id, field);
    if (e == LEDGER_ERR_OK)
        e = get_uuid(doc, "card_id", &a->card_id, field);
    if (e == LEDGER_ERR_OK)
        e = get_amount(doc, "amount", true, &a->amount_minor, field);
    if (e == LEDGER_ERR_OK)
        e = get_currency(doc, a->currency, field);
    if (e == LEDGER_ERR_OK)
        e = get_merchant(doc, true, &a->merchant, field);
    if (e == LEDGER_ERR_OK)
        e = get_str(doc, "channel", true, 15, channel, sizeof channel, field);
    if (e == LEDGER_ERR_FIELD_TOO_LONG || (e == LEDGER_ERR_OK && !card_channel_parse(channel, &ch)))
        return FAIL(LEDGER_ERR_FIELD_INVALID, "channel");
    if (e == LEDGER_ERR_OK)
        e = get_str(doc, "category", false, 15, category, sizeof category, field);
    if (e == LEDGER_ERR_FIELD_TOO_LONG ||
        (e == LEDGER_ERR_OK && category[0] != '\0' && !auth_category_parse(category, &cat)))
        return FAIL(LEDGER_ERR_FIELD_INVALID, "category");
    if (e == LEDGER_ERR_OK)
        e = get_bool(doc, "partial_allowed", false, &a->partial_allowed, field);
    if (e == LEDGER_ERR_OK)
        e = get_proc_id(doc, "original_authorization_id", false, a->original_authorization_id, field);
    if (e != LEDGER_ERR_OK)
        return e;
    if (strcmp(a->original_authorization_id, a->authorization_id) == 0)
        return FAIL(LEDGER_ERR_FIELD_INVALID, "original_authorization_id");
    a->channel = (uint8_t)ch;
    a->category = (uint8_t)cat;
    a->stand_in = advice;
    a->hold_ttl_ns = card_hold_ttl_ns(a->category);
    return LEDGER_ERR_OK;
}

/* ledger_id_from_name(kind + ":" + id): the ledger id of a processor operation id. */
static struct ledger_id op_ledger_id(const char *kind, const char *id)
{
    char name[LEDGER_AUTH_ID_MAX + 16];
    snprintf(name, sizeof name, "%s:%s", kind, id);
    return ledger_id_from_name(name);
}

static enum ledger_err parse_hold_change(json_t *doc, bool capture, const char *auth_id,
                                         struct cmd_card_capture *p, char *op_id, const char **field)
{
    enum ledger_err e = LEDGER_ERR_OK;
    if (auth_id != NULL)
        snprintf(p->authorization_id, sizeof p->authorization_id, "%s", auth_id);
    else
        e = get_proc_id(doc, "authorization_id", true, p->authorization_id, field);
    if (e == LEDGER_ERR_OK)
        e = get_proc_id(doc, capture ? "capture_id" : "reversal_id", true, op_id, field);
    if (e == LEDGER_ERR_OK)
        e = get_amount(doc, "amount", capture, &p->amount_minor, field);
    if (e == LEDGER_ERR_OK && capture)
        e = get_bool(doc, "final", true, &p->final, field);
    if (e != LEDGER_ERR_OK)
        return e;
    p->operation_id = op_ledger_id(capture ? "capture" : "reversal", op_id);
    return LEDGER_ERR_OK;
}

static enum ledger_err parse_refund(json_t *doc, struct cmd_card_refund *f, char *op_id, const char **field)
{
    enum ledger_err e = get_proc_id(doc, "refund_id", true, op_id, field);
    if (e == LEDGER_ERR_OK)
        e = get_uuid(doc, "card_id", &f->card_id, field);
    if (e == LEDGER_ERR_OK)
        e = get_amount(doc, "amount", true, &f->amount_minor, field);
    if (e == LEDGER_ERR_OK)
        e = get_currency(doc, f->currency, field);
    if (e == LEDGER_ERR_OK)
        e = get_proc_id(doc, "authorization_id", false, f->authorization_id, field);
    if (e == LEDGER_ERR_OK)
        e = get_merchant(doc, false, &f->merchant, field);
    if (e != LEDGER_ERR_OK)
        return e;
    f->refund_id = op_ledger_id("refund", op_id);
    return LEDGER_ERR_OK;
}

enum ledger_err card_parse_verb(json_t *doc, enum card_verb verb, const char *auth_id, struct cmd *c,
                                char *op_id, const char **field)
{
    op_id[0] = '\0';
    *field = NULL;
    switch (verb) {
    case CARD_VERB_AUTHORIZE:
    case CARD_VERB_ADVICE:
        c->type = CMD_CARD_AUTHORIZE;
        return parse_authorize(doc, verb == CARD_VERB_ADVICE, &c->u.card_auth, field);
    case CARD_VERB_CAPTURE:
    case CARD_VERB_REVERSE:
        c->type = verb == CARD_VERB_CAPTURE ? CMD_CARD_CAPTURE : CMD_CARD_REVERSE;
        return parse_hold_change(doc, verb == CARD_VERB_CAPTURE, auth_id, &c->u.card_capture, op_id, field);
    case CARD_VERB_REFUND: c->type = CMD_CARD_REFUND; return parse_refund(doc, &c->u.card_refund, op_id, field);
    }
    return FAIL(LEDGER_ERR_NOT_FOUND, NULL);
}

static enum ledger_err parse_management(json_t *doc, struct request *r, const char **field)
{
    struct cmd *c = &r->cmd;
    char reason[16];
    enum card_block br;
    enum ledger_err e;
    switch (r->route) {
    case ROUTE_CARDS_ISSUE: c->type = CMD_CARD_ISSUE; return parse_issue(doc, &c->u.card_issue, field);
    case ROUTE_CARD_ACTIVATE: c->type = CMD_CARD_ACTIVATE; break;
    case ROUTE_CARD_DESTROY: c->type = CMD_CARD_DESTROY; break;
    case ROUTE_CARD_BLOCK:
    case ROUTE_CARD_UNBLOCK:
        c->type = r->route == ROUTE_CARD_BLOCK ? CMD_CARD_BLOCK : CMD_CARD_UNBLOCK;
        e = get_str(doc, "reason", true, 15, reason, sizeof reason, field);
        if (e == LEDGER_ERR_FIELD_TOO_LONG || (e == LEDGER_ERR_OK && !card_block_parse(reason, &br)))
            return FAIL(LEDGER_ERR_FIELD_INVALID, "reason");
        if (e != LEDGER_ERR_OK)
            return e;
        c->u.card_action.reason = (uint8_t)br;
        break;
    case ROUTE_CARD_REPLACE:
        c->type = CMD_CARD_REPLACE;
        c->u.card_replace.card_id = r->path_id;
        c->u.card_replace.new_card_id = ledger_id_new_v7();
        card_edge_values(c->u.card_replace.last_four, c->u.card_replace.token, c->u.card_replace.expiry);
        return LEDGER_ERR_OK;
    case ROUTE_CARD_LIMITS:
        c->type = CMD_CARD_LIMITS;
        c->u.card_limits.card_id = r->path_id;
        return parse_limits(doc, &c->u.card_limits.limits, field);
    default: return FAIL(LEDGER_ERR_NOT_FOUND, NULL);
    }
    c->u.card_action.card_id = r->path_id;
    return LEDGER_ERR_OK;
}

static json_t *load_doc(struct request *r)
{
    bool empty_ok = r->route == ROUTE_CARD_ACTIVATE || r->route == ROUTE_CARD_DESTROY ||
                    r->route == ROUTE_CARD_REPLACE;
    if (r->body_len == 0 && empty_ok)
        return json_object();
    json_error_t je;
    json_t *doc = json_loadb(r->body ? r->body : "", r->body_len, JSON_REJECT_DUPLICATES, &je);
    if (doc != NULL && json_is_object(doc))
        return doc;
    json_decref(doc);
    if (doc == NULL && json_error_code(&je) == json_error_numeric_overflow) {
        reply_error(&r->reply, LEDGER_ERR_AMOUNT_OUT_OF_RANGE, NULL, NULL);
        return NULL;
    }
    char msg[256];
    if (doc == NULL)
        snprintf(msg, sizeof msg, "the body is not valid JSON: %s (line %d, column %d)", je.text, je.line,
                 je.column);
    else
        snprintf(msg, sizeof msg, "the body must be a JSON object");
    reply_error(&r->reply, LEDGER_ERR_MALFORMED_JSON, NULL, msg);
    return NULL;
}

bool card_route_parse(struct request *r)
{
    json_t *doc = load_doc(r);
    if (doc == NULL)
        return false;
    const char *field = NULL;
    enum ledger_err e;
    switch (r->route) {
    case ROUTE_CARD_AUTHORIZE: e = card_parse_verb(doc, CARD_VERB_AUTHORIZE, NULL, &r->cmd, r->op_id, &field); break;
    case ROUTE_CARD_ADVICE: e = card_parse_verb(doc, CARD_VERB_ADVICE, NULL, &r->cmd, r->op_id, &field); break;
    case ROUTE_CARD_CAPTURE:
        e = card_parse_verb(doc, CARD_VERB_CAPTURE, r->auth_id, &r->cmd, r->op_id, &field);
        break;
    case ROUTE_CARD_REVERSE:
        e = card_parse_verb(doc, CARD_VERB_REVERSE, r->auth_id, &r->cmd, r->op_id, &field);
        break;
    case ROUTE_CARD_REFUND: e = card_parse_verb(doc, CARD_VERB_REFUND, NULL, &r->cmd, r->op_id, &field); break;
    default: e = parse_management(doc, r, &field); break;
    }
    if (e != LEDGER_ERR_OK) {
        /* the field may live in field_buf, which reply_error copies before this thread reuses it */
        reply_error(&r->reply, e, field, NULL);
    }
    json_decref(doc);
    return e == LEDGER_ERR_OK;
}

/* ---- rendering -------------------------------------------------------------------------------- */

static json_t *id_or_null(const struct ledger_id *id)
{
    return ledger_id_is_zero(id) ? json_null() : api_id_json(id);
}


static json_t *error_obj(enum ledger_err err, const char *field)
{
    json_t *e = json_pack("{s:s, s:s}", "code", ledger_err_name(err), "message", ledger_err_message(err));
    json_object_set_new(e, "field", field ? json_string(field) : json_null());
    return e;
}

static json_t *limits_doc(const struct card_limits *l)
{
    json_t *amc = json_array(), *bmc = json_array(), *act = json_array(), *bct = json_array();
    for (unsigned i = 0; i < l->allowed_mcc_n && i < LEDGER_CARD_LIST_MAX; i++)
        json_array_append_new(amc, json_integer(l->allowed_mcc[i]));
    for (unsigned i = 0; i < l->blocked_mcc_n && i < LEDGER_CARD_LIST_MAX; i++)
        json_array_append_new(bmc, json_integer(l->blocked_mcc[i]));
    for (unsigned i = 0; i < l->allowed_country_n && i < LEDGER_CARD_LIST_MAX; i++)
        json_array_append_new(act, json_stringn(l->allowed_country[i], strnlen(l->allowed_country[i], 2)));
    for (unsigned i = 0; i < l->blocked_country_n && i < LEDGER_CARD_LIST_MAX; i++)
        json_array_append_new(bct, json_stringn(l->blocked_country[i], strnlen(l->blocked_country[i], 2)));
    json_t *doc = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:o, s:b, s:b, s:b}",
                            "per_auth_max", (json_int_t)l->per_auth_max, "day_amount", (json_int_t)l->day_amount,
                            "day_count", (json_int_t)l->day_count, "week_amount", (json_int_t)l->week_amount,
                            "week_count", (json_int_t)l->week_count, "month_amount", (json_int_t)l->month_amount,
                            "month_count", (json_int_t)l->month_count, "atm_day_amount",
                            (json_int_t)l->atm_day_amount, "atm_month_amount", (json_int_t)l->atm_month_amount,
                            "allowed_mcc", amc, "blocked_mcc", bmc, "allowed_countries", act, "blocked_countries",
                            bct, "ecom", l->ecom, "contactless", l->contactless, "atm", l->atm);
    LEDGER_ASSERT(doc != NULL);
    return doc;
}

static const char *card_state_text(const struct card *k)
{
    switch (k->state) {
    case CARD_STATE_INACTIVE: return k->blocks ? "blocked" : "inactive";
    case CARD_STATE_ACTIVE: return k->blocks ? "blocked" : "active";
    case CARD_STATE_REPLACED: return "replaced";
    case CARD_STATE_DESTROYED: return "destroyed";
    default: return "unknown";
    }
}

static json_t *card_doc(const struct card *k)
{
    json_t *blocks = json_array();
    for (unsigned bit = CARD_BLOCK_USER; bit <= CARD_BLOCK_STOLEN; bit <<= 1)
        if (k->blocks & bit)
            json_array_append_new(blocks, json_string(card_block_name((enum card_block)bit)));
    json_t *doc = json_pack(
        "{s:o, s:o, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:I, s:I}", "id", api_id_json(&k->id),
        "account_id", api_id_json(&k->account_id), "state", card_state_text(k), "type",
        card_type_name((enum card_type)k->type), "brand", k->brand, "last_four", k->last_four, "expiry", k->expiry,
        "name_on_card", k->name_on_card, "token", k->token, "limits", limits_doc(&k->limits), "blocks", blocks,
        "replaces", id_or_null(&k->replaces), "replaced_by", id_or_null(&k->replaced_by), "created_at",
        api_time_json(k->issued_ts_ns), "version", (json_int_t)k->version, "seq", (json_int_t)k->last_seq);
    LEDGER_ASSERT(doc != NULL);
    return doc;
}

static json_t *merchant_doc(const struct merchant *m)
{
    return json_pack("{s:o, s:i, s:o, s:o}", "name", api_str_or_null(m->name), "mcc", (int)m->mcc, "country",
                     api_str_or_null(m->country), "id", api_str_or_null(m->id));
}

static json_t *auth_doc(const struct authorization *a)
{
    json_t *doc = json_pack(
        "{s:s, s:o, s:o, s:o, s:s, s:s, s:s, s:s, s:b, s:o, s:I, s:I, s:I, s:I, s:s, s:o, s:I, s:I, s:o, s:o, "
        "s:I, s:I}",
        "authorization_id", a->authorization_id, "hold_id", api_id_json(&a->hold_id), "card_id",
        api_id_json(&a->card_id),
        "account_id", id_or_null(&a->account_id), "currency", a->currency, "state",
        auth_state_name((enum auth_state)a->state), "channel", card_channel_name((enum card_channel)a->channel),
        "category", auth_category_name((enum auth_category)a->category), "stand_in", a->stand_in, "merchant",
        merchant_doc(&a->merchant), "requested", (json_int_t)a->requested, "approved",
        (json_int_t)a->approved_total, "held", (json_int_t)a->held, "captured", (json_int_t)a->captured_total,
        "response_code", a->response_code, "approval_code", api_str_or_null(a->approval_code), "approved_amount",
        (json_int_t)a->approved_amount, "available", (json_int_t)a->available_after, "expires_at",
        a->expires_at_ns > 0 ? api_time_json(a->expires_at_ns) : json_null(), "created_at",
        api_time_json(a->created_ts_ns), "first_seq", (json_int_t)a->first_seq, "seq", (json_int_t)a->last_seq);
    LEDGER_ASSERT(doc != NULL);
    return doc;
}

static bool code_printable(const char *s)
{
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z')))
            return false;
    return true;
}

size_t card_auth_reply_render(const struct cmd *c, enum ledger_err err, const char *field, char *out, size_t cap)
{
    const struct cmd_card_authorize *a = &c->u.card_auth;
    LEDGER_ASSERT(c->type == CMD_CARD_AUTHORIZE || err != LEDGER_ERR_OK);
    if (err == LEDGER_ERR_OK && c->result == LEDGER_ERR_OK) { /* the hot path: no allocation */
        char approval[16] = "null";
        if (a->approval_code[0] != '\0' && code_printable(a->approval_code))
            snprintf(approval, sizeof approval, "\"%.6s\"", a->approval_code);
        int n = snprintf(out, cap,
                         "{\"authorization_id\":\"%s\",\"result\":\"%s\",\"response_code\":\"%.2s\","
                         "\"approval_code\":%s,\"approved_amount\":%" PRId64 ",\"available\":%" PRId64
                         ",\"seq\":%" PRIu64 "}",
                         a->authorization_id, a->approved ? "approved" : "declined", a->response_code, approval,
                         a->approved ? a->approved_amount : 0, a->available_after, a->seq ? a->seq : c->seq);
        return n > 0 && (size_t)n < cap ? (size_t)n : 0;
    }
    if (err == LEDGER_ERR_OK) {
        err = c->result;
        field = c->field;
    }
    json_t *doc = json_pack("{s:o, s:s, s:s, s:n, s:i, s:n, s:o}", "authorization_id",
                            api_str_or_null(c->type == CMD_CARD_AUTHORIZE ? a->authorization_id : ""), "result",
                            "declined", "response_code", card_err_response_code(err), "approval_code",
                            "approved_amount", 0, "available", "error", error_obj(err, field));
    LEDGER_ASSERT(doc != NULL);
    if (c->seq > 0)
        json_object_set_new(doc, "seq", json_integer((json_int_t)c->seq));
    size_t n = json_dumpb(doc, out, cap, JSON_COMPACT);
    json_decref(doc);
    return n < cap ? n : 0;
}

static json_t *hold_change_doc(const struct cmd *c, const char *op_id)
{
    const struct cmd_card_capture *p = &c->u.card_capture;
    bool capture = c->type == CMD_CARD_CAPTURE;
    json_t *doc = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:b, s:I}", "authorization_id", p->authorization_id,
                            capture ? "capture_id" : "reversal_id", op_id, "amount", (json_int_t)p->amount_minor,
                            "posted", (json_int_t)p->posted, "released", (json_int_t)p->released, "held",
                            (json_int_t)p->held_after, "replayed", p->replayed, "seq",
                            (json_int_t)(p->seq ? p->seq : c->seq));
    LEDGER_ASSERT(doc != NULL);
    if (capture)
        json_object_set_new(doc, "final", json_boolean(p->final));
    return doc;
}

static json_t *refund_doc(const struct cmd *c, const char *op_id)
{
    const struct cmd_card_refund *f = &c->u.card_refund;
    json_t *doc = json_pack("{s:s, s:o, s:I, s:s, s:o, s:b, s:I}", "refund_id", op_id, "card_id",
                            api_id_json(&f->card_id), "amount", (json_int_t)f->amount_minor, "currency", f->currency,
                            "authorization_id", api_str_or_null(f->authorization_id), "replayed", f->replayed, "seq",
                            (json_int_t)(f->seq ? f->seq : c->seq));
    LEDGER_ASSERT(doc != NULL);
    return doc;
}

json_t *card_result_doc(const struct cmd *c, const char *op_id, int *status)
{
    if (c->type == CMD_CARD_AUTHORIZE) {
        char buf[1024];
        size_t n = card_auth_reply_render(c, LEDGER_ERR_OK, NULL, buf, sizeof buf);
        *status = c->result == LEDGER_ERR_OK ? 200 : ledger_err_http_status(c->result);
        json_t *doc = n > 0 ? json_loadb(buf, n, 0, NULL) : NULL;
        LEDGER_ASSERT(doc != NULL);
        return doc;
    }
    if (c->result != LEDGER_ERR_OK) {
        *status = ledger_err_http_status(c->result);
        return json_pack("{s:o}", "error", error_obj(c->result, c->field));
    }
    switch (c->type) {
    case CMD_CARD_CAPTURE:
    case CMD_CARD_REVERSE: *status = 201; return hold_change_doc(c, op_id ? op_id : "");
    case CMD_CARD_REFUND: *status = 201; return refund_doc(c, op_id ? op_id : "");
    case CMD_CARD_ISSUE:
    case CMD_CARD_REPLACE: *status = 201; break;
    default: *status = 200; break;
    }
    json_t *doc = card_doc(&c->card);
    json_object_set_new(doc, "seq", json_integer((json_int_t)c->seq));
    return doc;
}

void card_reply_unavailable(struct request *r, enum ledger_err err)
{
    if (r->cmd.type != CMD_CARD_AUTHORIZE)
        return reply_error(&r->reply, err, NULL, NULL);
    char buf[1024];
    size_t n = card_auth_reply_render(&r->cmd, err, NULL, buf, sizeof buf);
    LEDGER_ASSERT(n > 0);
    char *body = malloc(n);
    LEDGER_ASSERT(body != NULL);
    memcpy(body, buf, n);
    reply_text(&r->reply, ledger_err_http_status(err), "application/json", body, n);
}

/* ---- reads (RocksDB projection rows) ---------------------------------------------------------- */

/* OK, NOT_FOUND or IO. */
static enum ledger_err load_card(struct request *r, const struct ledger_id *id, struct card *out)
{
    char *val = NULL;
    size_t vlen = 0;
    enum ledger_err err = store_get(r->srv->store, STORE_CF_PROJ_CARDS, id->b, 16, &val, &vlen);
    if (err == LEDGER_ERR_OK && !card_row_decode(val, vlen, out))
        err = LEDGER_ERR_DECODE;
    free(val);
    return err;
}

static enum ledger_err load_auth(struct request *r, const struct ledger_id *hold_id, struct authorization *out)
{
    char *val = NULL;
    size_t vlen = 0;
    enum ledger_err err = store_get(r->srv->store, STORE_CF_PROJ_AUTHS, hold_id->b, 16, &val, &vlen);
    if (err == LEDGER_ERR_OK && !auth_row_decode(val, vlen, out))
        err = LEDGER_ERR_DECODE;
    free(val);
    return err;
}

static void read_card(struct request *r)
{
    struct card k;
    enum ledger_err err = load_card(r, &r->path_id, &k);
    if (err != LEDGER_ERR_OK)
        return reply_error(&r->reply, err == LEDGER_ERR_NOT_FOUND ? LEDGER_ERR_CARD_NOT_FOUND : err, "card_id", NULL);
    reply_json(&r->reply, 200, card_doc(&k));
}

/* GET /v1/accounts/{id}/cards?limit=&cursor=: proj_account_cards keys account id + card id. */
static void read_account_cards(struct request *r)
{
    const char *cursor = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "cursor");
    struct ledger_id after;
    uint64_t limit;
    if (cursor != NULL && cursor[0] != '\0' && !ledger_id_parse(cursor, strlen(cursor), &after))
        return reply_error(&r->reply, LEDGER_ERR_FIELD_INVALID, "cursor", NULL);
    if (!api_query_u64(r, "limit", 100, 1, API_CARDS_PAGE_MAX, &limit))
        return;
    char *val = NULL;
    size_t vlen = 0;
    enum ledger_err err = store_get(r->srv->store, STORE_CF_PROJ_ACCOUNTS, r->path_id.b, 16, &val, &vlen);
    free(val);
    if (err != LEDGER_ERR_OK)
        return reply_error(&r->reply, err == LEDGER_ERR_NOT_FOUND ? LEDGER_ERR_ACCOUNT_NOT_FOUND : err,
                           "account_id", NULL);
    struct store_iter *it = store_iter_prefix(r->srv->store, STORE_CF_PROJ_ACCOUNT_CARDS, r->path_id.b, 16);
    const uint8_t *k, *v;
    size_t kl, vl;
    bool skipping = cursor != NULL && cursor[0] != '\0';
    json_t *list = json_array(), *next = json_null();
    struct ledger_id prev = {{0}};
    while (store_iter_next(it, &k, &kl, &v, &vl)) {
        struct ledger_id id;
        struct card card;
        if (kl != 32)
            continue;
        memcpy(id.b, k + 16, 16);
        if (skipping) {
            skipping = !ledger_id_equal(&id, &after);
            continue;
        }
        if (json_array_size(list) == limit) {
            json_decref(next);
            next = api_id_json(&prev);
            break;
        }
        if (load_card(r, &id, &card) == LEDGER_ERR_OK)
            json_array_append_new(list, card_doc(&card));
        prev = id;
    }
    if (!api_iter_close(r, it, list, next))
        return;
    reply_json(&r->reply, 200, json_pack("{s:o, s:o}", "cards", list, "next_cursor", next));
}

/* GET /v1/cards/{id}/authorizations?limit=&after_seq=: proj_card_auths keys card id + first seq. */
static void read_card_auths(struct request *r)
{
    uint64_t limit, after;
    if (!api_query_u64(r, "limit", 100, 1, API_CARDS_PAGE_MAX, &limit) ||
        !api_query_u64(r, "after_seq", 0, 0, UINT64_MAX - 1, &after))
        return;
    struct card card;
    enum ledger_err err = load_card(r, &r->path_id, &card);
    if (err != LEDGER_ERR_OK)
        return reply_error(&r->reply, err == LEDGER_ERR_NOT_FOUND ? LEDGER_ERR_CARD_NOT_FOUND : err, "card_id", NULL);
    struct store_iter *it = store_iter_prefix(r->srv->store, STORE_CF_PROJ_CARD_AUTHS, r->path_id.b, 16);
    const uint8_t *k, *v;
    size_t kl, vl;
    json_t *list = json_array(), *next = json_null();
    uint64_t last = 0;
    while (store_iter_next(it, &k, &kl, &v, &vl)) {
        if (kl != 24 || vl != 16)
            continue;
        uint64_t seq = store_be_u64(k + 16);
        if (seq <= after)
            continue;
        if (json_array_size(list) == limit) {
            json_decref(next);
            next = json_integer((json_int_t)last);
            break;
        }
        struct ledger_id hold;
        struct authorization a;
        memcpy(hold.b, v, 16);
        if (load_auth(r, &hold, &a) == LEDGER_ERR_OK)
            json_array_append_new(list, auth_doc(&a));
        last = seq;
    }
    if (!api_iter_close(r, it, list, next))
        return;
    reply_json(&r->reply, 200, json_pack("{s:o, s:o}", "authorizations", list, "next_after_seq", next));
}

static void read_auth(struct request *r)
{
    struct authorization a;
    struct ledger_id hold = op_ledger_id("auth", r->auth_id);
    enum ledger_err err = load_auth(r, &hold, &a);
    if (err != LEDGER_ERR_OK)
        return reply_error(&r->reply, err == LEDGER_ERR_NOT_FOUND ? LEDGER_ERR_AUTHORIZATION_NOT_FOUND : err,
                           "authorization_id", NULL);
    reply_json(&r->reply, 200, auth_doc(&a));
}

void card_route_read(struct request *r)
{
    switch (r->route) {
    case ROUTE_CARD_GET: return read_card(r);
    case ROUTE_ACCOUNT_CARDS: return read_account_cards(r);
    case ROUTE_CARD_AUTHS_LIST: return read_card_auths(r);
    case ROUTE_CARD_AUTH_GET: return read_auth(r);
    default: return reply_error(&r->reply, LEDGER_ERR_NOT_FOUND, NULL, NULL);
    }
}

size_t card_nats_reply_render(const struct cmd *c, int verb, const char *op_id, enum ledger_err err,
                              const char *field, char *out, size_t cap)
{
    if (verb == CARD_VERB_AUTHORIZE || verb == CARD_VERB_ADVICE)
        return card_auth_reply_render(c, err, field, out, cap);
    json_t *doc = NULL;
    if (err == LEDGER_ERR_OK) {
        int status = 0;
        doc = card_result_doc(c, op_id, &status);
        err = c->result;
    } else {
        doc = json_pack("{s:o}", "error", error_obj(err, field));
    }
    LEDGER_ASSERT(doc != NULL);
    json_object_set_new(doc, "result", json_string(err == LEDGER_ERR_OK ? "accepted" : "rejected"));
    if (err != LEDGER_ERR_OK)
        json_object_set_new(doc, "response_code", json_string(card_err_response_code(err)));
    size_t n = json_dumpb(doc, out, cap, JSON_COMPACT);
    json_decref(doc);
    return n < cap ? n : 0;
}
