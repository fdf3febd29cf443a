/*
 * codec_cards.c: the data maps of the card events, ids 6-18 (docs/EVENT-FORMAT.md specifies them).
 *
 * Same rules as the account and transfer events in codec.c: a msgpack map with string keys in a
 * fixed order, every value in its smallest form; ids as bin 16, amounts as int, enums as their
 * names, booleans as true/false, MCC and country lists as arrays of at most LEDGER_CARD_LIST_MAX,
 * a merchant and a set of limits as nested maps.
 *
 * Invariant: the encoder and the decoder apply the same value rules (card_data_valid()), so
 * event_encode() never writes a card record that event_decode() refuses, and every record the
 * decoder accepts re-encodes to the same bytes. Shape (keys, order, types, lengths) is checked by
 * the field tables below; values (digits, months, ranges, amounts) by card_data_valid().
 */
#include <string.h>

#include "events/events.h"
#include "events/internal.h"

#define MCC_MAX 9999 /* ISO 18245: four digits */

/* ---- value rules (both directions) --------------------------------------------------------- */

/* Exactly n ASCII digits followed by the NUL (s has at least n+1 bytes). */
static bool digits_exact(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return s[n] == '\0';
}

/* An ISO 3166 alpha-2 code: two upper-case ASCII letters and the NUL. */
static bool country_valid(const char c[3])
{
    return c[0] >= 'A' && c[0] <= 'Z' && c[1] >= 'A' && c[1] <= 'Z' && c[2] == '\0';
}

/* "MMYY" with MM in 01..12. */
static bool expiry_valid(const char e[5])
{
    if (!digits_exact(e, 4))
        return false;
    int month = (e[0] - '0') * 10 + (e[1] - '0');
    return month >= 1 && month <= 12;
}

static bool mcc_list_valid(const uint16_t *mcc, uint8_t n)
{
    if (n > LEDGER_CARD_LIST_MAX)
        return false;
    for (uint8_t i = 0; i < n; i++)
        if (mcc[i] > MCC_MAX)
            return false;
    return true;
}

static bool country_list_valid(const char (*country)[3], uint8_t n)
{
    if (n > LEDGER_CARD_LIST_MAX)
        return false;
    for (uint8_t i = 0; i < n; i++)
        if (!country_valid(country[i]))
            return false;
    return true;
}

/* Amounts and counts: 0 means "no limit"; a negative amount means nothing. */
static bool limits_valid(const struct card_limits *l)
{
    return l->per_auth_max >= 0 && l->day_amount >= 0 && l->week_amount >= 0 && l->month_amount >= 0 &&
           l->atm_day_amount >= 0 && l->atm_month_amount >= 0 &&
           mcc_list_valid(l->allowed_mcc, l->allowed_mcc_n) && mcc_list_valid(l->blocked_mcc, l->blocked_mcc_n) &&
           country_list_valid(l->allowed_country, l->allowed_country_n) &&
           country_list_valid(l->blocked_country, l->blocked_country_n);
}

/* The merchant's country may be unknown (""), else it is an alpha-2 code. */
static bool merchant_valid(const struct merchant *m)
{
    return m->mcc <= MCC_MAX && (m->country[0] == '\0' || country_valid(m->country));
}

static bool card_data_valid(const struct event *ev)
{
    switch ((enum event_type)ev->type) {
    case EVENT_CARD_ISSUED: {
        const struct ev_card_issued *d = &ev->data.card_issued;
        return digits_exact(d->last_four, 4) && expiry_valid(d->expiry) && limits_valid(&d->limits);
    }
    case EVENT_CARD_ACTIVATED:
    case EVENT_CARD_DESTROYED: return ev->data.card_action.reason == 0; /* not in the record */
    case EVENT_CARD_BLOCKED:
    case EVENT_CARD_UNBLOCKED: /* the reason's name is checked by the packer and the parser */
    case EVENT_CARD_REPLACED: return true;
    case EVENT_CARD_LIMITS_CHANGED: return limits_valid(&ev->data.card_limits.limits);
    case EVENT_CARD_AUTHORIZED:
    case EVENT_CARD_DECLINED: {
        const struct ev_card_decision *d = &ev->data.card_decision;
        return d->amount_requested > 0 && d->amount_approved >= 0 && digits_exact(d->response_code, 2) &&
               merchant_valid(&d->merchant);
    }
    case EVENT_CARD_CAPTURED:
    case EVENT_CARD_REVERSED:
    case EVENT_CARD_HOLD_EXPIRED: return ev->data.card_hold.amount >= 0 && ev->data.card_hold.released >= 0;
    case EVENT_CARD_REFUNDED:
        return ev->data.card_refund.amount > 0 && merchant_valid(&ev->data.card_refund.merchant);
    default: return false;
    }
}

/* ---- encoding -------------------------------------------------------------------------------- */

static void pack_id(msgpack_packer *pk, const char *key, const struct ledger_id *id)
{
    codec_pack_bin(pk, key, id->b, sizeof id->b);
}

static void pack_merchant(msgpack_packer *pk, const struct merchant *m)
{
    codec_pack_key(pk, "merchant");
    msgpack_pack_map(pk, 4);
    codec_pack_str(pk, "name", m->name);
    codec_pack_u64(pk, "mcc", m->mcc);
    codec_pack_str(pk, "country", m->country);
    codec_pack_str(pk, "id", m->id);
}

static void pack_mcc_list(msgpack_packer *pk, const char *key, const uint16_t *mcc, uint8_t n)
{
    LEDGER_ASSERT(n <= LEDGER_CARD_LIST_MAX);
    codec_pack_key(pk, key);
    msgpack_pack_array(pk, n);
    for (uint8_t i = 0; i < n; i++)
        msgpack_pack_uint16(pk, mcc[i]);
}

static void pack_country_list(msgpack_packer *pk, const char *key, const char (*country)[3], uint8_t n)
{
    LEDGER_ASSERT(n <= LEDGER_CARD_LIST_MAX);
    codec_pack_key(pk, key);
    msgpack_pack_array(pk, n);
    for (uint8_t i = 0; i < n; i++)
        codec_pack_str(pk, NULL, country[i]);
}

static void pack_limits(msgpack_packer *pk, const struct card_limits *l)
{
    codec_pack_key(pk, "limits");
    msgpack_pack_map(pk, 16);
    codec_pack_i64(pk, "per_auth_max", l->per_auth_max);
    codec_pack_i64(pk, "day_amount", l->day_amount);
    codec_pack_i64(pk, "week_amount", l->week_amount);
    codec_pack_i64(pk, "month_amount", l->month_amount);
    codec_pack_u64(pk, "day_count", l->day_count);
    codec_pack_u64(pk, "week_count", l->week_count);
    codec_pack_u64(pk, "month_count", l->month_count);
    codec_pack_i64(pk, "atm_day_amount", l->atm_day_amount);
    codec_pack_i64(pk, "atm_month_amount", l->atm_month_amount);
    pack_mcc_list(pk, "allowed_mcc", l->allowed_mcc, l->allowed_mcc_n);
    pack_mcc_list(pk, "blocked_mcc", l->blocked_mcc, l->blocked_mcc_n);
    pack_country_list(pk, "allowed_countries", l->allowed_country, l->allowed_country_n);
    pack_country_list(pk, "blocked_countries", l->blocked_country, l->blocked_country_n);
    codec_pack_bool(pk, "ecom", l->ecom);
    codec_pack_bool(pk, "contactless", l->contactless);
    codec_pack_bool(pk, "atm", l->atm);
}

static void pack_issued(msgpack_packer *pk, const struct ev_card_issued *d)
{
    msgpack_pack_map(pk, 10);
    pack_id(pk, "card_id", &d->card_id);
    pack_id(pk, "account_id", &d->account_id);
    codec_pack_enum(pk, "type", card_type_name(d->type));
    codec_pack_str(pk, "brand", d->brand);
    codec_pack_str(pk, "last_four", d->last_four);
    codec_pack_str(pk, "token", d->token);
    codec_pack_str(pk, "expiry", d->expiry);
    codec_pack_str(pk, "name_on_card", d->name_on_card);
    pack_id(pk, "replaces", &d->replaces);
    pack_limits(pk, &d->limits);
}

static void pack_decision(msgpack_packer *pk, const struct ev_card_decision *d)
{
    msgpack_pack_map(pk, 16);
    pack_id(pk, "hold_id", &d->hold_id);
    codec_pack_str(pk, "authorization_id", d->authorization_id);
    codec_pack_str(pk, "original_authorization_id", d->original_authorization_id);
    pack_id(pk, "card_id", &d->card_id);
    pack_id(pk, "account_id", &d->account_id);
    codec_pack_i64(pk, "amount_requested", d->amount_requested);
    codec_pack_i64(pk, "amount_approved", d->amount_approved);
    codec_pack_str(pk, "currency", d->currency);
    pack_merchant(pk, &d->merchant);
    codec_pack_enum(pk, "channel", card_channel_name(d->channel));
    codec_pack_enum(pk, "category", auth_category_name(d->category));
    codec_pack_str(pk, "response_code", d->response_code);
    codec_pack_str(pk, "approval_code", d->approval_code);
    codec_pack_i64(pk, "available_after", d->available_after);
    codec_pack_i64(pk, "expires_at", d->expires_at_ns);
    codec_pack_bool(pk, "stand_in", d->stand_in);
}

static void pack_hold_change(msgpack_packer *pk, const struct ev_card_hold_change *d)
{
    msgpack_pack_map(pk, 8);
    pack_id(pk, "hold_id", &d->hold_id);
    pack_id(pk, "card_id", &d->card_id);
    pack_id(pk, "account_id", &d->account_id);
    pack_id(pk, "operation_id", &d->operation_id);
    codec_pack_i64(pk, "amount", d->amount);
    codec_pack_i64(pk, "released", d->released);
    codec_pack_str(pk, "currency", d->currency);
    codec_pack_bool(pk, "final", d->final);
}

static void pack_refund(msgpack_packer *pk, const struct ev_card_refunded *d)
{
    msgpack_pack_map(pk, 7);
    pack_id(pk, "refund_id", &d->refund_id);
    pack_id(pk, "card_id", &d->card_id);
    pack_id(pk, "account_id", &d->account_id);
    codec_pack_i64(pk, "amount", d->amount);
    codec_pack_str(pk, "currency", d->currency);
    codec_pack_str(pk, "authorization_id", d->authorization_id);
    pack_merchant(pk, &d->merchant);
}

bool pack_card_data(msgpack_packer *pk, const struct event *ev)
{
    if (!card_data_valid(ev))
        return false;
    switch ((enum event_type)ev->type) {
    case EVENT_CARD_ISSUED: pack_issued(pk, &ev->data.card_issued); return true;
    case EVENT_CARD_ACTIVATED:
    case EVENT_CARD_DESTROYED:
        msgpack_pack_map(pk, 1);
        pack_id(pk, "card_id", &ev->data.card_action.card_id);
        return true;
    case EVENT_CARD_BLOCKED:
    case EVENT_CARD_UNBLOCKED:
        msgpack_pack_map(pk, 2);
        pack_id(pk, "card_id", &ev->data.card_action.card_id);
        codec_pack_enum(pk, "reason", card_block_name(ev->data.card_action.reason));
        return true;
    case EVENT_CARD_LIMITS_CHANGED:
        msgpack_pack_map(pk, 2);
        pack_id(pk, "card_id", &ev->data.card_limits.card_id);
        pack_limits(pk, &ev->data.card_limits.limits);
        return true;
    case EVENT_CARD_REPLACED:
        msgpack_pack_map(pk, 2);
        pack_id(pk, "card_id", &ev->data.card_replaced.card_id);
        pack_id(pk, "new_card_id", &ev->data.card_replaced.new_card_id);
        return true;
    case EVENT_CARD_AUTHORIZED:
    case EVENT_CARD_DECLINED: pack_decision(pk, &ev->data.card_decision); return true;
    case EVENT_CARD_CAPTURED:
    case EVENT_CARD_REVERSED:
    case EVENT_CARD_HOLD_EXPIRED: pack_hold_change(pk, &ev->data.card_hold); return true;
    case EVENT_CARD_REFUNDED: pack_refund(pk, &ev->data.card_refund); return true;
    default: return false;
    }
}

/* ---- decoding -------------------------------------------------------------------------------- */

CODEC_ENUM_PARSER(parse_card_type, enum card_type, card_type_parse)
CODEC_ENUM_PARSER(parse_card_block, enum card_block, card_block_parse)
CODEC_ENUM_PARSER(parse_channel, enum card_channel, card_channel_parse)
CODEC_ENUM_PARSER(parse_category, enum auth_category, auth_category_parse)

static const struct codec_field merchant_fields[] = {
    CODEC_FIELD("name", CODEC_STR, struct merchant, name),
    CODEC_FIELD("mcc", CODEC_U16, struct merchant, mcc),
    CODEC_FIELD("country", CODEC_STR, struct merchant, country),
    CODEC_FIELD("id", CODEC_STR, struct merchant, id),
};

static const struct codec_field limits_fields[] = {
    CODEC_FIELD("per_auth_max", CODEC_I64, struct card_limits, per_auth_max),
    CODEC_FIELD("day_amount", CODEC_I64, struct card_limits, day_amount),
    CODEC_FIELD("week_amount", CODEC_I64, struct card_limits, week_amount),
    CODEC_FIELD("month_amount", CODEC_I64, struct card_limits, month_amount),
    CODEC_FIELD("day_count", CODEC_U32, struct card_limits, day_count),
    CODEC_FIELD("week_count", CODEC_U32, struct card_limits, week_count),
    CODEC_FIELD("month_count", CODEC_U32, struct card_limits, month_count),
    CODEC_FIELD("atm_day_amount", CODEC_I64, struct card_limits, atm_day_amount),
    CODEC_FIELD("atm_month_amount", CODEC_I64, struct card_limits, atm_month_amount),
    CODEC_LIST("allowed_mcc", CODEC_U16_LIST, struct card_limits, allowed_mcc, allowed_mcc_n),
    CODEC_LIST("blocked_mcc", CODEC_U16_LIST, struct card_limits, blocked_mcc, blocked_mcc_n),
    CODEC_LIST("allowed_countries", CODEC_FIXED_LIST, struct card_limits, allowed_country, allowed_country_n),
    CODEC_LIST("blocked_countries", CODEC_FIXED_LIST, struct card_limits, blocked_country, blocked_country_n),
    CODEC_FIELD("ecom", CODEC_BOOL, struct card_limits, ecom),
    CODEC_FIELD("contactless", CODEC_BOOL, struct card_limits, contactless),
    CODEC_FIELD("atm", CODEC_BOOL, struct card_limits, atm),
};

static const struct codec_field issued_fields[] = {
    CODEC_FIELD("card_id", CODEC_ID, struct ev_card_issued, card_id),
    CODEC_FIELD("account_id", CODEC_ID, struct ev_card_issued, account_id),
    CODEC_ENUM("type", struct ev_card_issued, type, parse_card_type),
    CODEC_FIELD("brand", CODEC_STR, struct ev_card_issued, brand),
    CODEC_FIELD("last_four", CODEC_FIXED, struct ev_card_issued, last_four),
    CODEC_FIELD("token", CODEC_STR, struct ev_card_issued, token),
    CODEC_FIELD("expiry", CODEC_FIXED, struct ev_card_issued, expiry),
    CODEC_FIELD("name_on_card", CODEC_STR, struct ev_card_issued, name_on_card),
    CODEC_FIELD("replaces", CODEC_ID, struct ev_card_issued, replaces),
    CODEC_MAP("limits", struct ev_card_issued, limits, limits_fields),
};

static const struct codec_field card_only_fields[] = {
    CODEC_FIELD("card_id", CODEC_ID, struct ev_card_action, card_id),
};

static const struct codec_field card_block_fields[] = {
    CODEC_FIELD("card_id", CODEC_ID, struct ev_card_action, card_id),
    CODEC_ENUM("reason", struct ev_card_action, reason, parse_card_block),
};

static const struct codec_field limits_changed_fields[] = {
    CODEC_FIELD("card_id", CODEC_ID, struct ev_card_limits_changed, card_id),
    CODEC_MAP("limits", struct ev_card_limits_changed, limits, limits_fields),
};

static const struct codec_field replaced_fields[] = {
    CODEC_FIELD("card_id", CODEC_ID, struct ev_card_replaced, card_id),
    CODEC_FIELD("new_card_id", CODEC_ID, struct ev_card_replaced, new_card_id),
};

static const struct codec_field decision_fields[] = {
    CODEC_FIELD("hold_id", CODEC_ID, struct ev_card_decision, hold_id),
    CODEC_FIELD("authorization_id", CODEC_STR, struct ev_card_decision, authorization_id),
    CODEC_FIELD("original_authorization_id", CODEC_STR, struct ev_card_decision, original_authorization_id),
    CODEC_FIELD("card_id", CODEC_ID, struct ev_card_decision, card_id),
    CODEC_FIELD("account_id", CODEC_ID, struct ev_card_decision, account_id),
    CODEC_FIELD("amount_requested", CODEC_I64, struct ev_card_decision, amount_requested),
    CODEC_FIELD("amount_approved", CODEC_I64, struct ev_card_decision, amount_approved),
    CODEC_FIELD("currency", CODEC_STR, struct ev_card_decision, currency),
    CODEC_MAP("merchant", struct ev_card_decision, merchant, merchant_fields),
    CODEC_ENUM("channel", struct ev_card_decision, channel, parse_channel),
    CODEC_ENUM("category", struct ev_card_decision, category, parse_category),
    CODEC_FIELD("response_code", CODEC_FIXED, struct ev_card_decision, response_code),
    CODEC_FIELD("approval_code", CODEC_STR, struct ev_card_decision, approval_code),
    CODEC_FIELD("available_after", CODEC_I64, struct ev_card_decision, available_after),
    CODEC_FIELD("expires_at", CODEC_I64, struct ev_card_decision, expires_at_ns),
    CODEC_FIELD("stand_in", CODEC_BOOL, struct ev_card_decision, stand_in),
};

static const struct codec_field hold_change_fields[] = {
    CODEC_FIELD("hold_id", CODEC_ID, struct ev_card_hold_change, hold_id),
    CODEC_FIELD("card_id", CODEC_ID, struct ev_card_hold_change, card_id),
    CODEC_FIELD("account_id", CODEC_ID, struct ev_card_hold_change, account_id),
    CODEC_FIELD("operation_id", CODEC_ID, struct ev_card_hold_change, operation_id),
    CODEC_FIELD("amount", CODEC_I64, struct ev_card_hold_change, amount),
    CODEC_FIELD("released", CODEC_I64, struct ev_card_hold_change, released),
    CODEC_FIELD("currency", CODEC_STR, struct ev_card_hold_change, currency),
    CODEC_FIELD("final", CODEC_BOOL, struct ev_card_hold_change, final),
};

static const struct codec_field refund_fields[] = {
    CODEC_FIELD("refund_id", CODEC_ID, struct ev_card_refunded, refund_id),
    CODEC_FIELD("card_id", CODEC_ID, struct ev_card_refunded, card_id),
    CODEC_FIELD("account_id", CODEC_ID, struct ev_card_refunded, account_id),
    CODEC_FIELD("amount", CODEC_I64, struct ev_card_refunded, amount),
    CODEC_FIELD("currency", CODEC_STR, struct ev_card_refunded, currency),
    CODEC_FIELD("authorization_id", CODEC_STR, struct ev_card_refunded, authorization_id),
    CODEC_MAP("merchant", struct ev_card_refunded, merchant, merchant_fields),
};

static bool decode_shape(const msgpack_object *o, struct event *ev)
{
    switch ((enum event_type)ev->type) {
    case EVENT_CARD_ISSUED: return CODEC_DECODE(o, issued_fields, &ev->data.card_issued);
    case EVENT_CARD_ACTIVATED:
    case EVENT_CARD_DESTROYED: return CODEC_DECODE(o, card_only_fields, &ev->data.card_action);
    case EVENT_CARD_BLOCKED:
    case EVENT_CARD_UNBLOCKED: return CODEC_DECODE(o, card_block_fields, &ev->data.card_action);
    case EVENT_CARD_LIMITS_CHANGED: return CODEC_DECODE(o, limits_changed_fields, &ev->data.card_limits);
    case EVENT_CARD_REPLACED: return CODEC_DECODE(o, replaced_fields, &ev->data.card_replaced);
    case EVENT_CARD_AUTHORIZED:
    case EVENT_CARD_DECLINED: return CODEC_DECODE(o, decision_fields, &ev->data.card_decision);
    case EVENT_CARD_CAPTURED:
    case EVENT_CARD_REVERSED:
    case EVENT_CARD_HOLD_EXPIRED: return CODEC_DECODE(o, hold_change_fields, &ev->data.card_hold);
    case EVENT_CARD_REFUNDED: return CODEC_DECODE(o, refund_fields, &ev->data.card_refund);
    default: return false;
    }
}

bool decode_card_data(const msgpack_object *o, struct event *ev)
{
    return decode_shape(o, ev) && card_data_valid(ev);
}

/* ---- JSON ------------------------------------------------------------------------------------ */

static void json_i64(struct text_buf *tb, const char *key, int64_t v)
{
    codec_tb_fmt(tb, ",\"%s\":%lld", key, (long long)v);
}

static void json_u64(struct text_buf *tb, const char *key, uint64_t v)
{
    codec_tb_fmt(tb, ",\"%s\":%llu", key, (unsigned long long)v);
}

static void json_bool(struct text_buf *tb, const char *key, bool v)
{
    codec_tb_fmt(tb, ",\"%s\":%s", key, v ? "true" : "false");
}

static void json_mcc_list(struct text_buf *tb, const char *key, const uint16_t *mcc, uint8_t n)
{
    LEDGER_ASSERT(n <= LEDGER_CARD_LIST_MAX);
    codec_tb_fmt(tb, ",\"%s\":[", key);
    for (uint8_t i = 0; i < n; i++)
        codec_tb_fmt(tb, i == 0 ? "%u" : ",%u", (unsigned)mcc[i]);
    codec_tb_add(tb, "]", 1);
}

static void json_country_list(struct text_buf *tb, const char *key, const char (*country)[3], uint8_t n)
{
    LEDGER_ASSERT(n <= LEDGER_CARD_LIST_MAX);
    codec_tb_fmt(tb, ",\"%s\":[", key);
    for (uint8_t i = 0; i < n; i++) {
        if (i > 0)
            codec_tb_add(tb, ",", 1);
        codec_tb_json_str(tb, country[i]);
    }
    codec_tb_add(tb, "]", 1);
}

static void json_merchant(struct text_buf *tb, const struct merchant *m)
{
    codec_tb_fmt(tb, ",\"%s\":{", "merchant");
    size_t open_at = tb->len;
    codec_tb_kv_str(tb, "name", m->name);
    json_u64(tb, "mcc", m->mcc);
    codec_tb_kv_str(tb, "country", m->country);
    codec_tb_kv_str(tb, "id", m->id);
    codec_tb_close_object(tb, open_at);
}

static void json_limits(struct text_buf *tb, const struct card_limits *l)
{
    codec_tb_fmt(tb, ",\"%s\":{", "limits");
    size_t open_at = tb->len;
    json_i64(tb, "per_auth_max", l->per_auth_max);
    json_i64(tb, "day_amount", l->day_amount);
    json_i64(tb, "week_amount", l->week_amount);
    json_i64(tb, "month_amount", l->month_amount);
    json_u64(tb, "day_count", l->day_count);
    json_u64(tb, "week_count", l->week_count);
    json_u64(tb, "month_count", l->month_count);
    json_i64(tb, "atm_day_amount", l->atm_day_amount);
    json_i64(tb, "atm_month_amount", l->atm_month_amount);
    json_mcc_list(tb, "allowed_mcc", l->allowed_mcc, l->allowed_mcc_n);
    json_mcc_list(tb, "blocked_mcc", l->blocked_mcc, l->blocked_mcc_n);
    json_country_list(tb, "allowed_countries", l->allowed_country, l->allowed_country_n);
    json_country_list(tb, "blocked_countries", l->blocked_country, l->blocked_country_n);
    json_bool(tb, "ecom", l->ecom);
    json_bool(tb, "contactless", l->contactless);
    json_bool(tb, "atm", l->atm);
    codec_tb_close_object(tb, open_at);
}

static void json_issued(struct text_buf *tb, const struct ev_card_issued *d)
{
    codec_tb_kv_id(tb, "card_id", &d->card_id);
    codec_tb_kv_id(tb, "account_id", &d->account_id);
    codec_tb_kv_str(tb, "type", card_type_name(d->type));
    codec_tb_kv_str(tb, "brand", d->brand);
    codec_tb_kv_str(tb, "last_four", d->last_four);
    codec_tb_kv_str(tb, "token", d->token);
    codec_tb_kv_str(tb, "expiry", d->expiry);
    codec_tb_kv_str(tb, "name_on_card", d->name_on_card);
    codec_tb_kv_id(tb, "replaces", &d->replaces);
    json_limits(tb, &d->limits);
}

static void json_decision(struct text_buf *tb, const struct ev_card_decision *d)
{
    codec_tb_kv_id(tb, "hold_id", &d->hold_id);
    codec_tb_kv_str(tb, "authorization_id", d->authorization_id);
    codec_tb_kv_str(tb, "original_authorization_id", d->original_authorization_id);
    codec_tb_kv_id(tb, "card_id", &d->card_id);
    codec_tb_kv_id(tb, "account_id", &d->account_id);
    json_i64(tb, "amount_requested", d->amount_requested);
    json_i64(tb, "amount_approved", d->amount_approved);
    codec_tb_kv_str(tb, "currency", d->currency);
    json_merchant(tb, &d->merchant);
    codec_tb_kv_str(tb, "channel", card_channel_name(d->channel));
    codec_tb_kv_str(tb, "category", auth_category_name(d->category));
    codec_tb_kv_str(tb, "response_code", d->response_code);
    codec_tb_kv_str(tb, "approval_code", d->approval_code);
    json_i64(tb, "available_after", d->available_after);
    json_i64(tb, "expires_at", d->expires_at_ns);
    json_bool(tb, "stand_in", d->stand_in);
}

static void json_hold_change(struct text_buf *tb, const struct ev_card_hold_change *d)
{
    codec_tb_kv_id(tb, "hold_id", &d->hold_id);
    codec_tb_kv_id(tb, "card_id", &d->card_id);
    codec_tb_kv_id(tb, "account_id", &d->account_id);
    codec_tb_kv_id(tb, "operation_id", &d->operation_id);
    json_i64(tb, "amount", d->amount);
    json_i64(tb, "released", d->released);
    codec_tb_kv_str(tb, "currency", d->currency);
    json_bool(tb, "final", d->final);
}

static void json_refund(struct text_buf *tb, const struct ev_card_refunded *d)
{
    codec_tb_kv_id(tb, "refund_id", &d->refund_id);
    codec_tb_kv_id(tb, "card_id", &d->card_id);
    codec_tb_kv_id(tb, "account_id", &d->account_id);
    json_i64(tb, "amount", d->amount);
    codec_tb_kv_str(tb, "currency", d->currency);
    codec_tb_kv_str(tb, "authorization_id", d->authorization_id);
    json_merchant(tb, &d->merchant);
}

void card_data_to_json(struct text_buf *tb, const struct event *ev)
{
    switch ((enum event_type)ev->type) {
    case EVENT_CARD_ISSUED: json_issued(tb, &ev->data.card_issued); break;
    case EVENT_CARD_ACTIVATED:
    case EVENT_CARD_DESTROYED: codec_tb_kv_id(tb, "card_id", &ev->data.card_action.card_id); break;
    case EVENT_CARD_BLOCKED:
    case EVENT_CARD_UNBLOCKED:
        codec_tb_kv_id(tb, "card_id", &ev->data.card_action.card_id);
        codec_tb_kv_str(tb, "reason", card_block_name(ev->data.card_action.reason));
        break;
    case EVENT_CARD_LIMITS_CHANGED:
        codec_tb_kv_id(tb, "card_id", &ev->data.card_limits.card_id);
        json_limits(tb, &ev->data.card_limits.limits);
        break;
    case EVENT_CARD_REPLACED:
        codec_tb_kv_id(tb, "card_id", &ev->data.card_replaced.card_id);
        codec_tb_kv_id(tb, "new_card_id", &ev->data.card_replaced.new_card_id);
        break;
    case EVENT_CARD_AUTHORIZED:
    case EVENT_CARD_DECLINED: json_decision(tb, &ev->data.card_decision); break;
    case EVENT_CARD_CAPTURED:
    case EVENT_CARD_REVERSED:
    case EVENT_CARD_HOLD_EXPIRED: json_hold_change(tb, &ev->data.card_hold); break;
    case EVENT_CARD_REFUNDED: json_refund(tb, &ev->data.card_refund); break;
    default: break;
    }
}

bool card_event_touches_account(const struct event *ev, const struct ledger_id *account_id)
{
    switch ((enum event_type)ev->type) {
    case EVENT_CARD_ISSUED: return ledger_id_equal(&ev->data.card_issued.account_id, account_id);
    case EVENT_CARD_AUTHORIZED:
    case EVENT_CARD_DECLINED: return ledger_id_equal(&ev->data.card_decision.account_id, account_id);
    case EVENT_CARD_CAPTURED:
    case EVENT_CARD_REVERSED:
    case EVENT_CARD_HOLD_EXPIRED: return ledger_id_equal(&ev->data.card_hold.account_id, account_id);
    case EVENT_CARD_REFUNDED: return ledger_id_equal(&ev->data.card_refund.account_id, account_id);
    default: return false;
    }
}
