/*
 * decide_cards.c: card management and card authorization rules. STUB: being written.
 */
#include "commands/internal.h"

size_t decide_card_events_max(const struct cmd *c)
{
    (void)c;
    return 4;
}

void decide_card(struct ledger_state *st, struct cmd *c, struct event_sink *sink)
{
    (void)st;
    (void)sink;
    c->result = LEDGER_ERR_INTERNAL;
}
