/*
 * catalog.c: names of event types and of the enumerations carried in events.
 *
 * These strings reach disk and the wire (event data, NATS subjects, JSON): they never change.
 */
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
