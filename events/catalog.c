/*
 * catalog.c: names of event types and of the enumerations carried in events.
 *
 * These strings reach disk and the wire (event data, NATS subjects, JSON): they never change.
 */
#include <stdio.h>
#include <string.h>

#include "events/events.h"

struct type_names {
    uint16_t type;
    const char *category;
    const char *verb;
    const char *name;
};

static const struct type_names type_table[] = {
#define LEDGER_EVENT_ROW(n, num, cat, verb) {num, cat, verb, cat "." verb},
    LEDGER_EVENT_MAP(LEDGER_EVENT_ROW)
#undef LEDGER_EVENT_ROW
};

static const struct type_names *type_find(uint16_t type)
{
    for (size_t i = 0; i < sizeof type_table / sizeof type_table[0]; i++)
        if (type_table[i].type == type)
            return &type_table[i];
    return NULL;
}

const char *event_type_category(uint16_t type)
{
    const struct type_names *t = type_find(type);
    return t ? t->category : NULL;
}

const char *event_type_verb(uint16_t type)
{
    const struct type_names *t = type_find(type);
    return t ? t->verb : NULL;
}

const char *event_type_name(uint16_t type)
{
    const struct type_names *t = type_find(type);
    return t ? t->name : NULL;
}

const char *account_kind_name(enum account_kind kind)
{
    switch (kind) {
    case ACCOUNT_KIND_CUSTOMER: return "customer";
    case ACCOUNT_KIND_INTERNAL: return "internal";
    }
    return "unknown";
}

bool account_kind_parse(const char *text, enum account_kind *out)
{
    if (strcmp(text, "customer") == 0)
        *out = ACCOUNT_KIND_CUSTOMER;
    else if (strcmp(text, "internal") == 0)
        *out = ACCOUNT_KIND_INTERNAL;
    else
        return false;
    return true;
}

static const struct {
    enum block_reason reason;
    const char *name;
} block_names[] = {
    {BLOCK_USER, "USER"}, {BLOCK_SYSTEM, "SYSTEM"}, {BLOCK_COMPLIANCE, "COMPLIANCE"}, {BLOCK_LOST, "LOST"},
};

const char *block_reason_name(enum block_reason reason)
{
    for (size_t i = 0; i < sizeof block_names / sizeof block_names[0]; i++)
        if (block_names[i].reason == reason)
            return block_names[i].name;
    return "UNKNOWN";
}

bool block_reason_parse(const char *text, enum block_reason *out)
{
    for (size_t i = 0; i < sizeof block_names / sizeof block_names[0]; i++) {
        if (strcmp(block_names[i].name, text) == 0) {
            *out = block_names[i].reason;
            return true;
        }
    }
    return false;
}

const char *transfer_kind_name(enum transfer_kind kind)
{
    switch (kind) {
    case TRANSFER_KIND_TRANSFER: return "transfer";
    case TRANSFER_KIND_DEPOSIT: return "deposit";
    }
    return "unknown";
}

struct ledger_id ledger_internal_account_id(const char *kind, const char *currency)
{
    char name[64];
    snprintf(name, sizeof name, "internal:%s:%s", kind, currency);
    return ledger_id_from_name(name);
}

/* Names of small enumerations: one table each, parse and print from the same rows. */
struct enum_name {
    unsigned value;
    const char *name;
};

static const char *enum_to_name(const struct enum_name *t, size_t n, unsigned v, const char *unknown)
{
    for (size_t i = 0; i < n; i++)
        if (t[i].value == v)
            return t[i].name;
    return unknown;
}

static bool enum_from_name(const struct enum_name *t, size_t n, const char *text, unsigned *out)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(t[i].name, text) == 0) {
            *out = t[i].value;
            return true;
        }
    }
    return false;
}

#define ENUM_FUNCS(prefix, type, table, unknown)                                                   \
    const char *prefix##_name(type v)                                                              \
    {                                                                                              \
        return enum_to_name(table, sizeof table / sizeof table[0], (unsigned)v, unknown);          \
    }                                                                                              \
    bool prefix##_parse(const char *text, type *out)                                               \
    {                                                                                              \
        unsigned v;                                                                                \
        if (!enum_from_name(table, sizeof table / sizeof table[0], text, &v))                      \
            return false;                                                                          \
        *out = (type)v;                                                                            \
        return true;                                                                               \
    }

static const struct enum_name card_type_names[] = {{CARD_TYPE_VIRTUAL, "virtual"}, {CARD_TYPE_PHYSICAL, "physical"}};
static const struct enum_name card_block_names[] = {
    {CARD_BLOCK_USER, "USER"}, {CARD_BLOCK_SYSTEM, "SYSTEM"}, {CARD_BLOCK_LOST, "LOST"}, {CARD_BLOCK_STOLEN, "STOLEN"}};
static const struct enum_name channel_names[] = {
    {CHANNEL_POS, "POS"}, {CHANNEL_ECOM, "ECOM"}, {CHANNEL_ATM, "ATM"}, {CHANNEL_CONTACTLESS, "CONTACTLESS"}};
static const struct enum_name category_names[] = {{AUTH_FINAL, "FINAL_AUTH"}, {AUTH_PRE, "PRE_AUTH"}};

ENUM_FUNCS(card_type, enum card_type, card_type_names, "unknown")
ENUM_FUNCS(card_block, enum card_block, card_block_names, "UNKNOWN")
ENUM_FUNCS(card_channel, enum card_channel, channel_names, "unknown")
ENUM_FUNCS(auth_category, enum auth_category, category_names, "unknown")

/* ---- access control ------------------------------------------------------------------------- */

static const struct enum_name role_names[] = {
    {ROLE_ADMIN, "admin"},       {ROLE_COMPLIANCE, "compliance"},   {ROLE_ANTIFRAUD, "antifraud"},
    {ROLE_ACCOUNTANT, "accountant"}, {ROLE_SUPPORT, "support"},     {ROLE_THIRD_PARTY, "third_party"},
    {ROLE_CARD_PROCESSOR, "card_processor"}};
static const struct enum_name right_names[] = {
    {TP_RIGHT_VIEW, "view"}, {TP_RIGHT_INITIATE_TRANSFERS, "initiate_transfers"}, {TP_RIGHT_MANAGE_CARDS, "manage_cards"}};

ENUM_FUNCS(client_role, enum client_role, role_names, "unknown")
ENUM_FUNCS(tp_right, enum tp_right, right_names, "unknown")

bool access_id_valid(const char *text, size_t max)
{
    size_t n = strnlen(text, max + 1);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = text[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                  c == '_' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

int64_t ledger_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

struct timespec ledger_realtime_after_ms(long ms)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

void ledger_url_redact(const char *url, char *out, size_t cap)
{
    const char *scheme = strstr(url, "://");
    const char *start = scheme ? scheme + 3 : url;
    const char *at = strchr(start, '@');
    const char *slash = strchr(start, '/');
    if (at == NULL || (slash != NULL && slash < at)) {
        snprintf(out, cap, "%s", url);
        return;
    }
    snprintf(out, cap, "%.*s***%s", (int)(start - url), url, at);
}
