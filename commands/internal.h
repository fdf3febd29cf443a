/*
 * internal.h: declarations shared by the files of commands/ (not a public interface).
 */
#ifndef LEDGER_COMMANDS_INTERNAL_H
#define LEDGER_COMMANDS_INTERNAL_H

#include "commands/commands.h"

/* decide.c: the event-building helpers decide_cards.c shares. */
struct event *decide_event(struct event_sink *sink, const struct cmd *c, uint16_t type,
                           const struct ledger_id *stream, uint64_t stream_ver);
void decide_apply_last(struct ledger_state *st, struct event_sink *sink);
/* The internal account of a kind for a currency, opened (one account.opened) on first use. */
struct account *decide_internal_account(struct ledger_state *st, struct cmd *c, struct event_sink *sink,
                                        const char *kind, const char *currency);

/* decide.c: CMD_SEAL_PERIODS, CMD_HOLDER_IDENTIFY. */
void decide_seal_periods(struct ledger_state *st, struct cmd *c, struct event_sink *sink);
void decide_holder_identify(struct ledger_state *st, struct cmd *c, struct event_sink *sink);

/* decide_cards.c: every card command (CMD_CARD_* and CMD_EXPIRE_HOLDS). */
void decide_card(struct ledger_state *st, struct cmd *c, struct event_sink *sink);
size_t decide_card_events_max(const struct cmd *c);

/* decide_access.c: CMD_CLIENT_REGISTER, CMD_CLIENT_REVOKE, CMD_THIRD_PARTY_DECLARE and _REMOVE. */
void decide_access(struct ledger_state *st, struct cmd *c, struct event_sink *sink);

#endif
