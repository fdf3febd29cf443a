/*
 * cards.c: cards and authorizations in the inline state. STUB: to be written.
 */
#include <stdlib.h>

#include "projections/internal.h"

struct card_book {
    int unused;
};

struct card_book *card_book_new(void)
{
    return calloc(1, sizeof(struct card_book));
}

void card_book_free(struct card_book *cs)
{
    free(cs);
}

enum ledger_err card_book_apply(struct ledger_state *st, const struct event *ev)
{
    (void)st;
    (void)ev;
    return LEDGER_ERR_DECODE;
}
