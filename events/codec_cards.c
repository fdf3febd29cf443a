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
 * decoder accepts re-encodes to the same bytes. Shape (keys, order, types, lengths) is stated by
 * the field tables below, which codec.c walks to write, read and render each map; values (digits,
 * months, ranges, amounts) by card_data_valid().
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

bool card_data_valid(const struct event *ev)
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

/* ---- field tables ---------------------------------------------------------------------------- */

CODEC_ENUM_FUNCS(card_type_field, enum card_type, card_type_parse, card_type_name)
CODEC_ENUM_FUNCS(card_block_field, enum card_block, card_block_parse, card_block_name)
CODEC_ENUM_FUNCS(channel_field, enum card_channel, card_channel_parse, card_channel_name)
CODEC_ENUM_FUNCS(category_field, enum auth_category, auth_category_parse, auth_category_name)

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
    CODEC_ENUM("type", struct ev_card_issued, type, card_type_field),
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
    CODEC_ENUM("reason", struct ev_card_action, reason, card_block_field),
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
    CODEC_ENUM("channel", struct ev_card_decision, channel, channel_field),
    CODEC_ENUM("category", struct ev_card_decision, category, category_field),
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

static const struct codec_table card_tables[] = {
    [EVENT_CARD_ISSUED] = CODEC_TABLE(issued_fields),
    [EVENT_CARD_ACTIVATED] = CODEC_TABLE(card_only_fields),
    [EVENT_CARD_BLOCKED] = CODEC_TABLE(card_block_fields),
    [EVENT_CARD_UNBLOCKED] = CODEC_TABLE(card_block_fields),
    [EVENT_CARD_LIMITS_CHANGED] = CODEC_TABLE(limits_changed_fields),
    [EVENT_CARD_REPLACED] = CODEC_TABLE(replaced_fields),
    [EVENT_CARD_DESTROYED] = CODEC_TABLE(card_only_fields),
    [EVENT_CARD_AUTHORIZED] = CODEC_TABLE(decision_fields),
    [EVENT_CARD_DECLINED] = CODEC_TABLE(decision_fields),
    [EVENT_CARD_CAPTURED] = CODEC_TABLE(hold_change_fields),
    [EVENT_CARD_REVERSED] = CODEC_TABLE(hold_change_fields),
    [EVENT_CARD_HOLD_EXPIRED] = CODEC_TABLE(hold_change_fields),
    [EVENT_CARD_REFUNDED] = CODEC_TABLE(refund_fields),
};

const struct codec_table *card_data_table(uint16_t type)
{
    if (type < sizeof card_tables / sizeof card_tables[0] && card_tables[type].fields != NULL)
        return &card_tables[type];
    return NULL;
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
