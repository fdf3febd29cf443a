/*
 * projections.h: read models derived from the event log, the one public header of projections/.
 *
 * The inline projection is `struct ledger_state`: every account with its balances (TigerBeetle's
 * four counters), the accounts per holder and friendly name, and the index of transfer ids. The
 * sequencer decides commands against it and applies each event to it the moment it is decided, so
 * command k of a batch sees commands 1..k-1. The same ledger_state_apply() rebuilds it at start-up
 * (replay of the log) and in `ledgerctl verify`, so replay equals live state by construction.
 *
 * Each account also has an on-disk row in the proj_accounts column family, written by the
 * sequencer in the same WriteBatch as the events that changed it (the chain head in meta is the
 * projection's checkpoint). HTTP reads use those rows, never the in-memory state.
 *
 * Threads: a ledger_state belongs to one thread (the sequencer, or a tool). Row encode/decode and
 * the digest helpers are pure.
 */
#ifndef LEDGER_PROJECTIONS_H
#define LEDGER_PROJECTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "events/events.h"

enum account_state { ACCOUNT_STATE_ACTIVE = 1, ACCOUNT_STATE_CLOSED = 2 };

struct account {
    struct ledger_id id;
    uint8_t kind;   /* enum account_kind */
    uint8_t state;  /* enum account_state; blocked = active with blocks != 0 */
    uint8_t blocks; /* enum block_reason bits */
    char currency[4];
    char holder_id[LEDGER_HOLDER_ID_MAX + 1];
    char friendly_name[LEDGER_FRIENDLY_NAME_MAX + 1];
    char iban[LEDGER_IBAN_MAX + 1];
    int64_t overdraft_limit_minor;
    int64_t debits_posted;
    int64_t credits_posted;
    int64_t debits_pending;
    int64_t credits_pending;
    uint64_t version;      /* events in the account's own stream (opened, blocked, ...) */
    uint64_t opened_seq;
    int64_t opened_ts_ns;
    uint64_t last_seq;     /* last event that changed this account */
    uint8_t dirty;         /* DIRTY_* bits: changed since the last ledger_state_take_dirty() */
};

/* Balances in minor units. posted = credits - debits (what the customer owns); available = posted -
 * debits_pending + overdraft for customer accounts, clamped to int64 (a huge overdraft limit makes
 * it INT64_MAX, not an error). Returns false when posted or pending do not fit int64. */
struct balance {
    int64_t posted;
    int64_t pending; /* credits_pending - debits_pending */
    int64_t available;
};
bool account_balance(const struct account *a, struct balance *out);
bool account_is_blocked(const struct account *a);
const char *account_state_name(const struct account *a); /* "active" | "blocked" | "closed" */

struct ledger_state;

struct ledger_state *ledger_state_new(void);
void ledger_state_free(struct ledger_state *st);

/* Applies one committed (or just decided) event. Returns LEDGER_ERR_OK, or LEDGER_ERR_DECODE when
 * the event contradicts the state (unknown account, duplicate id, overflow): the log is then
 * inconsistent, which verify reports and the sequencer treats as a programmer error. */
enum ledger_err ledger_state_apply(struct ledger_state *st, const struct event *ev);

struct account *ledger_state_account(struct ledger_state *st, const struct ledger_id *id);
/* The account of holder with this friendly name, or NULL. */
struct account *ledger_state_account_by_name(struct ledger_state *st, const char *holder_id, const char *name);
uint64_t ledger_state_account_count(const struct ledger_state *st);
/* Accounts in opening order, i < count. */
struct account *ledger_state_account_at(struct ledger_state *st, uint64_t i);

/* Transfer-id index: seq of the transfer.executed event and a digest of its content. */
bool ledger_state_transfer(const struct ledger_state *st, const struct ledger_id *id, uint64_t *seq,
                           uint64_t *content);
uint64_t transfer_content_digest(const struct ev_transfer_executed *t);

/* Undo for linked transfers: mark, then either drop the undo log or roll back to the mark. Only
 * transfer.executed events are undoable; reserve(n) guarantees n more transfer ids fit without
 * rehashing, and must be called before a linked chain. */
size_t ledger_state_mark(struct ledger_state *st);
void ledger_state_rollback(struct ledger_state *st, size_t mark);
void ledger_state_commit_undo(struct ledger_state *st);
void ledger_state_reserve_transfers(struct ledger_state *st, size_t n);

#define DIRTY_ACCOUNT 1u /* identity or state changed: rewrite the proj_accounts row */
#define DIRTY_BALANCE 2u /* balances changed: rewrite the proj_balances row */
/* Accounts changed since the last call, each with its DIRTY_* bits in dirty_bits[i]; both arrays
 * are owned by st and valid until the next apply. */
struct account **ledger_state_take_dirty(struct ledger_state *st, const uint8_t **dirty_bits, size_t *n);

/* Digest over all balances, sorted by account id: a running SHA-256, acc = SHA-256(acc || row) from
 * 32 zero bytes, where row = id (16) and the four counters as big-endian int64. Equal for live,
 * replayed and rebuilt state. */
void ledger_state_digest(struct ledger_state *st, uint8_t out[LEDGER_HASH_LEN]);

/* proj_accounts rows: a versioned fixed layout of struct account. */
#define ACCOUNT_ROW_BYTES (4 + sizeof(struct account))
void account_row_encode(const struct account *a, uint8_t out[ACCOUNT_ROW_BYTES]);
bool account_row_decode(const void *row, size_t len, struct account *out);
/* proj_balances rows: debits_posted, credits_posted, debits_pending, credits_pending, last_seq,
 * each 8 bytes big-endian. decode fills those fields of out and leaves the others. */
#define BALANCE_ROW_BYTES 40
void balance_row_encode(const struct account *a, uint8_t out[BALANCE_ROW_BYTES]);
bool balance_row_decode(const void *row, size_t len, struct account *out);
/* proj_holders key: holder id, 0x00, account id (16). Returns the key length. */
size_t holder_key(const char *holder_id, const struct ledger_id *account_id, uint8_t *out, size_t cap);

struct store;
/* Replays the whole log of st into state (verifying every hash and the gap-free sequence).
 * Returns LEDGER_ERR_OK, or an error with *bad_seq = the first bad sequence and a reason in err.
 * progress, if not NULL, is called every 2^20 events. Used by the sequencer at start-up and by ledgerctl. */
enum ledger_err ledger_replay(struct store *st, struct ledger_state *state, uint64_t *bad_seq, char *err,
                              size_t err_cap, void (*progress)(void *arg, uint64_t seq), void *arg);

#endif
