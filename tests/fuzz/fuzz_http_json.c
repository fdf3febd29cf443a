/*
 * fuzz_http_json.c: libFuzzer target for the HTTP JSON body parsers (untrusted client input).
 * The first byte picks the route; the rest is the body. Every input must be parsed into a
 * command or refused with a status and a stable code, never crash or leak.
 */
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum route routes[] = {ROUTE_ACCOUNTS_CREATE, ROUTE_ACCOUNT_BLOCK, ROUTE_ACCOUNT_UNBLOCK,
                                        ROUTE_ACCOUNT_CLOSE, ROUTE_DEPOSITS, ROUTE_TRANSFERS_CREATE,
                                        ROUTE_TRANSFERS_BATCH};
    if (size == 0 || size > LEDGER_HTTP_BODY_BYTES_MAX)
        return 0;
    struct request *r = calloc(1, sizeof *r);
    r->route = routes[data[0] % (sizeof routes / sizeof routes[0])];
    r->body = malloc(size);
    memcpy(r->body, data + 1, size - 1);
    r->body[size - 1] = '\0';
    r->body_len = size - 1;
    bool ok = route_parse(r);
    LEDGER_ASSERT(ok == (r->reply.status == 0));
    LEDGER_ASSERT(ok || r->reply.body != NULL);
    free(r->reply.body);
    if (r->cmd.type == CMD_TRANSFERS && r->cmd.u.transfers.items != &r->one)
        free(r->cmd.u.transfers.items);
    free(r->body);
    free(r);
    return 0;
}
