/*
 * errors.c: names, messages and HTTP statuses of enum ledger_err, and the assertion handler.
 *
 * Everything is generated from LEDGER_ERR_MAP (events.h), so a code cannot exist without its name,
 * message and status. A value outside the table answers "UNKNOWN" / "unknown error" / 500 rather
 * than crashing: error values may come from decoded bytes. The strings returned are static.
 */
#include <stdio.h>
#include <stdlib.h>

#include "events/events.h"

const char *ledger_err_name(enum ledger_err err)
{
    switch (err) {
#define LEDGER_ERR_NAME_CASE(name, num, http, msg) \
    case LEDGER_ERR_##name:                        \
        return #name;
        LEDGER_ERR_MAP(LEDGER_ERR_NAME_CASE)
#undef LEDGER_ERR_NAME_CASE
    }
    return "UNKNOWN";
}

const char *ledger_err_message(enum ledger_err err)
{
    switch (err) {
#define LEDGER_ERR_MESSAGE_CASE(name, num, http, msg) \
    case LEDGER_ERR_##name:                           \
        return msg;
        LEDGER_ERR_MAP(LEDGER_ERR_MESSAGE_CASE)
#undef LEDGER_ERR_MESSAGE_CASE
    }
    return "unknown error";
}

int ledger_err_http_status(enum ledger_err err)
{
    switch (err) {
#define LEDGER_ERR_HTTP_CASE(name, num, http, msg) \
    case LEDGER_ERR_##name:                        \
        return http;
        LEDGER_ERR_MAP(LEDGER_ERR_HTTP_CASE)
#undef LEDGER_ERR_HTTP_CASE
    }
    return 500;
}

void ledger_assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "ledgerd: assertion failed: %s at %s:%d\n", expr, file, line);
    fflush(stderr);
    abort();
}
