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


/* ---- cards and authorizations (projections/cards.c) ------------------------------------------ */

enum card_state { CARD_STATE_INACTIVE = 1, CARD_STATE_ACTIVE, CARD_STATE_REPLACED, CARD_STATE_DESTROYED };

/* Spending in one calendar window (UTC): the window's key and what was approved in it. */
struct spend_window {
    uint32_t key;
    int64_t amount;
    uint32_t count;
};

struct card {
    struct ledger_id id;
    struct ledger_id account_id;
    uint8_t type;   /* enum card_type */
    uint8_t state;  /* enum card_state */
    uint8_t blocks; /* enum card_block bits */
    char brand[LEDGER_CARD_BRAND_MAX + 1];
    char last_four[5];
    char token[LEDGER_CARD_TOKEN_MAX + 1];
    char expiry[5]; /* MMYY */
    char name_on_card[LEDGER_NAME_ON_CARD_MAX + 1];
    struct ledger_id replaces, replaced_by;
    struct card_limits limits;
    struct spend_window day, week, month, atm_day, atm_month;
    uint64_t version, issued_seq, last_seq;
    int64_t issued_ts_ns;
    uint8_t dirty; /* changed since ledger_state_take_dirty_cards() */
    /* Zero in the row, like dirty. New since its account-card index row was written: set at
     * issue, cleared by the writer of that row, so a card's change rewrites only its own row. */
    uint8_t index_pending;
};

enum auth_state {
    AUTH_STATE_PENDING = 1, /* the hold is open */
    AUTH_STATE_CAPTURED,    /* closed by a final (or full) capture */
    AUTH_STATE_REVERSED,    /* fully released by reversals */
    AUTH_STATE_EXPIRED,     /* released by the scheduler */
    AUTH_STATE_DECLINED,    /* never held */
};
const char *auth_state_name(enum auth_state s); /* "pending" "captured" "reversed" "expired" "declined" */

struct authorization {
    struct ledger_id hold_id; /* ledger_id_from_name("auth:" + authorization_id) */
    char authorization_id[LEDGER_AUTH_ID_MAX + 1];
    struct ledger_id card_id;
    struct ledger_id account_id;
    char currency[4];
    uint8_t state;    /* enum auth_state */
    uint8_t channel;  /* enum card_channel */
    uint8_t category; /* enum auth_category */
    bool stand_in;
    struct merchant merchant;
    int64_t requested;      /* the first request's amount */
    int64_t approved_total; /* approvals, incremental ones included */
    int64_t held;           /* still reserved on the account (pending debit) */
    int64_t captured_total; /* posted by captures */
    int64_t expires_at_ns;
    /* the first decision, answered again to a repeated request */
    char response_code[3];
    char approval_code[7];
    int64_t approved_amount;
    int64_t available_after;
    uint64_t first_seq, last_seq;
    int64_t created_ts_ns;
    uint8_t dirty; /* changed since ledger_state_take_dirty_auths() */
    uint8_t index_pending; /* zero in the row: its card-authorization index row is still to be written */
};

struct card *ledger_state_card(struct ledger_state *st, const struct ledger_id *id);
struct authorization *ledger_state_authorization(struct ledger_state *st, const struct ledger_id *hold_id);
/* Open holds with expires_at_ns <= now_ns, earliest first, at most max, into out. Pure lookup. */
size_t ledger_state_expired_holds(struct ledger_state *st, int64_t now_ns, struct authorization **out, size_t max);
/* Cards / authorizations changed since the last call (owned by st, valid until the next apply). */
struct card **ledger_state_take_dirty_cards(struct ledger_state *st, size_t *n);
struct authorization **ledger_state_take_dirty_auths(struct ledger_state *st, size_t *n);

/* Operations identified by the processor (captures, reversals, refunds, incremental
 * authorizations): the event that executed each, a digest of its content, and for incremental
 * authorizations the answer given, so a repeated request gets the original answer. Kept by
 * ledger_state_apply() for every card event that carries such an id. */
struct op_record {
    struct ledger_id id;
    uint64_t seq;     /* 0 = empty slot */
    uint64_t content; /* card_operation_digest() of the event */
    int64_t approved;
    int64_t available_after;
    char response_code[3];
    char approval_code[7];
};
const struct op_record *ledger_state_operation(const struct ledger_state *st, const struct ledger_id *id);
/* The operation id a card event carries (zero id when none) and the digest of what it asks. */
struct ledger_id card_operation_id(const struct event *ev);
uint64_t card_operation_digest(const struct event *ev);

/* Calendar windows of a time (UTC): day = days since 1970-01-01, week = weeks starting on Monday,
 * month = year * 12 + month - 1. */
void card_spend_keys(int64_t ts_ns, uint32_t *day, uint32_t *week, uint32_t *month);

/* Row layouts (versioned fixed layouts, like the account rows). Keys:
 *   proj_cards          card id (16)                          -> card row
 *   proj_account_cards  account id (16) + card id (16)        -> empty
 *   proj_auths          hold id (16)                          -> authorization row
 *   proj_card_auths     card id (16) + first seq (8, BE)      -> hold id (16) */
#define CARD_ROW_BYTES (4 + sizeof(struct card))
#define AUTH_ROW_BYTES (4 + sizeof(struct authorization))
/* Encoders write packed rows (runs of zeros elided; a card row is 588 bytes unpacked, about a
 * third of that packed) and return the length, at most *_ROW_BYTES; decoders read packed rows and
 * the plain ones written before packing. */
size_t card_row_encode(const struct card *c, uint8_t out[CARD_ROW_BYTES]);
bool card_row_decode(const void *row, size_t len, struct card *out);
size_t auth_row_encode(const struct authorization *a, uint8_t out[AUTH_ROW_BYTES]);
bool auth_row_decode(const void *row, size_t len, struct authorization *out);

/* ---- catch-up projections: operations, pending holds, statements (projections/catchup.c) -------
 * Fed from the committed log on their own thread (live), by ledgerctl rebuild, and later by a
 * replica from NATS: the same catchup_apply() serves all three. Each batch of rows is written with
 * the projector's checkpoint (meta "catchup_seq") in the same RocksDB WriteBatch.
 *
 * Column families and keys:
 *   proj_ops         account (16) + booked ts_ns (8, BE) + seq (8, BE) + leg (1)  -> struct operation row
 *   proj_op_accounts account (16)                                   -> struct op_account (running totals)
 *   proj_pending     account (16) + first seq of the hold (8, BE)   -> hold id (16) + held (8, BE)
 *   proj_statements  account (16) + period start ns (8, BE)         -> struct statement row
 *   proj_statement_ids statement id (16)                            -> its proj_statements key (24)
 * (time-ordered keys: the balance at an instant is one backward seek; a page is one forward scan) */

enum op_direction { OP_DEBIT = 1, OP_CREDIT = 2 };
enum op_kind {
    OP_KIND_TRANSFER = 1,
    OP_KIND_DEPOSIT,
    OP_KIND_CARD_PAYMENT, /* a capture */
    OP_KIND_CARD_REFUND,
};
const char *op_kind_name(enum op_kind k);          /* "transfer" "deposit" "card_payment" "card_refund" */
const char *op_direction_name(enum op_direction d); /* "debit" "credit" */

enum period_kind { PERIOD_DAILY = 1, PERIOD_WEEKLY, PERIOD_MONTHLY };
const char *period_kind_name(enum period_kind k);   /* "daily" "weekly" "monthly" */
bool period_kind_parse(const char *text, enum period_kind *out);

#define LEDGER_PERIOD_LABEL_MAX 15 /* "2026-11", "2026-W47", "2026-11-21" */
#define LEDGER_TIME_ZONE_MAX 47

/* The statement period containing ts_ns in the process's time zone (TZ, set once at start-up from
 * --statement-tz): [start, end) in Unix ns and its label. Pure for a given zone. */
void statement_period_of(int64_t ts_ns, enum period_kind kind, int64_t *start_ns, int64_t *end_ns,
                         char label[LEDGER_PERIOD_LABEL_MAX + 1]);

/* One leg of a posted movement, as the account holder sees it. */
struct operation {
    struct ledger_id account_id;
    uint64_t seq;               /* the event */
    uint8_t leg;                /* 0, or 1 for the second account of the same event */
    uint8_t direction;          /* enum op_direction */
    uint8_t kind;               /* enum op_kind */
    int64_t booked_ns;          /* booking time = the event's ts_ns */
    int64_t value_ns;           /* value date: the same instant for now */
    int64_t amount;             /* > 0 */
    char currency[4];
    int64_t balance_after;      /* posted balance of the account after this leg */
    struct ledger_id operation_id; /* transfer id, capture id or refund id */
    struct ledger_id counterparty_account_id;
    char counterparty_iban[LEDGER_IBAN_MAX + 1];
    char reference[LEDGER_REFERENCE_MAX + 1]; /* transfer reference, or the merchant name */
    char period[LEDGER_PERIOD_LABEL_MAX + 1]; /* the statement period it belongs to */
};

/* What the projector keeps per account between events. */
struct op_account {
    struct ledger_id account_id;
    char currency[4];
    char iban[LEDGER_IBAN_MAX + 1];
    int64_t posted;            /* running posted balance */
    uint64_t operations;       /* legs so far */
    uint32_t statements;       /* statements issued so far (the last statement's number) */
    int64_t period_debits, period_credits; /* in the current, unsealed period */
    uint64_t period_operations;
    int64_t last_closing;      /* closing balance of the last statement (opening of the next) */
};

struct statement {
    struct ledger_id id;        /* ledger_id_from_name("statement:<account hex>:<period label>") */
    struct ledger_id account_id;
    char iban[LEDGER_IBAN_MAX + 1];
    char currency[4];
    uint32_t number;            /* per account, from 1 (camt.053 LglSeqNb) */
    char period[LEDGER_PERIOD_LABEL_MAX + 1];
    uint8_t period_kind;        /* enum period_kind */
    int64_t start_ns, end_ns;   /* [start, end) */
    int64_t opening, closing;   /* booked balances */
    int64_t total_debits, total_credits;
    uint64_t entries;
    uint64_t sealed_seq;        /* the statement.period_closed event */
    int64_t sealed_ns;
};

/* Renders a statement and its entries (in booking order). Return the length written into out
 * (cap bytes), 0 if it does not fit. Pure. JSON: {"id","account_id","iban","currency","number",
 * "period","period_kind","start","end","opening_balance","closing_balance","total_debits",
 * "total_credits","entries":[operation objects]}; CSV: a header line then one line per entry
 * (RFC 4180 quoting); camt.053.001.08: a BkToCstmrStmt document that validates against
 * ../shared/iso20022/xsd/camt.053.001.08.xsd (balances OPBD and CLBD, entries with Amt, CdtDbtInd,
 * Sts/Cd BOOK, BookgDt, ValDt, BkTxCd, and the statement number as LglSeqNb). */
size_t statement_render_json(const struct statement *s, const struct operation *entries, size_t n, char *out,
                             size_t cap);
size_t statement_render_csv(const struct statement *s, const struct operation *entries, size_t n, char *out,
                            size_t cap);
size_t statement_render_camt053(const struct statement *s, const struct operation *entries, size_t n, char *out,
                                size_t cap);
/* One operation as a JSON object (the operations API and the JSON statement share it). */
size_t operation_render_json(const struct operation *op, char *out, size_t cap);

/* ---- the catch-up projector (projections/catchup.c) ------------------------------------------- */

/* The apply side, shared by the live projector, ledgerctl rebuild and (later) a replica: */
struct store;
struct store_batch;
struct catchup;
/* A context over st's projection families, resuming from what they hold (empty after a drop). */
struct catchup *catchup_new(struct store *st, enum period_kind kind);
void catchup_free(struct catchup *c);
/* Applies one committed event: puts its rows into b (operations, pending holds, statements).
 * LEDGER_ERR_DECODE when the event contradicts what the projection holds. */
enum ledger_err catchup_apply(struct catchup *c, const struct event *ev, struct store_batch *b);
/* Puts the changed per-account rows and the checkpoint seq (meta "catchup_seq") into b. */
void catchup_flush(struct catchup *c, struct store_batch *b, uint64_t seq);
/* The checkpoint stored in st (0 when the projection is empty). */
uint64_t catchup_checkpoint(struct store *st);
/* The column families of the catch-up projection and their digest: a running SHA-256, acc =
 * SHA-256(acc || family index (1) || key length (8, BE) || key || value length (8, BE) || value), from
 * 32 zero bytes, over every pair of each family in key order. Equal for live and rebuilt stores. */
#define CATCHUP_CF_COUNT 5
extern const int catchup_cfs[CATCHUP_CF_COUNT];
void catchup_digest(struct store *st, uint8_t out[LEDGER_HASH_LEN]);

/* The live projector: a thread that follows the committed log. */
struct projector;
struct projector *projector_start(struct store *st, enum period_kind kind, uint64_t committed_seq);
/* Called after each durable commit (sequencer thread: never blocks). */
void projector_notify(struct projector *p, uint64_t committed_seq);
/* The last seq whose rows are written. Any thread. */
uint64_t projector_seq(struct projector *p);
/* Waits (bounded) until the projection has reached min_seq; false on timeout. Any thread. */
bool projector_wait(struct projector *p, uint64_t min_seq, int timeout_ms);
void projector_stop(struct projector *p);

/* Row layouts of the catch-up projection. Accounts and statements: versioned memcpy, like the
 * other rows. Operations, the bulk of the projection (two per transfer), are variable length:
 *   version (1) = 2, direction (1), kind (1), amount (varint), balance_after (zigzag varint),
 *   value_ns - booked_ns (zigzag varint), currency (3), operation id (16), counterparty account
 *   (16), then counterparty IBAN, reference and period label, each a length byte and its bytes;
 * account, booked time, seq and leg are the key's. Typically 70-110 bytes instead of 330. */
#define OPERATION_ROW_VERSION 2u
#define OPERATION_ROW_MAX (3 + 3 * 10 + 3 + 32 + 3 + LEDGER_IBAN_MAX + LEDGER_REFERENCE_MAX + LEDGER_PERIOD_LABEL_MAX)
#define OP_ACCOUNT_ROW_BYTES (4 + sizeof(struct op_account))
#define STATEMENT_ROW_BYTES (4 + sizeof(struct statement))
size_t operation_row_encode(const struct operation *op, uint8_t out[OPERATION_ROW_MAX]);
/* false unless key is an operation key and row a well-formed format 2 row. */
bool operation_row_decode(const void *key, size_t klen, const void *row, size_t len, struct operation *out);
bool statement_row_decode(const void *row, size_t len, struct statement *out);
#define STATEMENT_KEY_BYTES 24 /* account (16) + period start ns (8, BE) */
/* The statement with this id, through proj_statement_ids: one point read each, whatever the number
 * of statements. LEDGER_ERR_OK, NOT_FOUND, or IO (a failed read, or an index row that does not lead
 * to that statement). */
enum ledger_err statement_by_id(struct store *st, const struct ledger_id *id, struct statement *out);
/* What meta "catchup_format" says when the rows are current: 2 = operation rows of format 2;
 * 3 = the same and proj_statement_ids. A projection written in an older format is rebuilt. */
#define CATCHUP_FORMAT_VERSION 3u
/* Whether the projection's rows are in the current format: meta "catchup_format", written with
 * every checkpoint, names it. ledgerd clears a projection that is not (older rows, a rebuild cut
 * short, or a new ledger's empty families) and its projector builds it from the log. */
bool catchup_format_current(struct store *st);
/* Empties the catch-up projection's families and its checkpoint (stopped ledger or start-up). */
void catchup_clear(struct store *st);
/* Clears the projection unless it is current (start-up, before the projector); true when rows
 * were dropped (older format, or a rebuild cut short), false for a current or empty one. */
bool catchup_reset_stale(struct store *st);
/* proj_ops key: account (16) + booked ts (8 BE) + seq (8 BE) + leg (1) = 33 bytes. */
#define OPERATION_KEY_BYTES 33
void operation_key(const struct ledger_id *account, int64_t ts_ns, uint64_t seq, uint8_t leg,
                   uint8_t out[OPERATION_KEY_BYTES]);
/* proj_pending value: hold id (16) + held (8 BE) + merchant name (the rest, no NUL). */

/* The statement configuration is a property of the ledger, not of a process: the first ledgerd to
 * run writes it to meta ("statement_period", "statement_tz"). statement_config_check() returns true
 * when kind/zone agree with it (writing them when create and absent); false with a message in err
 * naming the stored values otherwise. statement_config_load() reads them (false when absent). */
bool statement_config_check(struct store *st, bool create, enum period_kind kind, const char *zone, char *err,
                            size_t err_cap);
bool statement_config_load(struct store *st, enum period_kind *kind, char *zone, size_t zone_cap);

/* Statement periods: the time of the first event (0 for an empty log) and the end of the last
 * sealed period (0 when none was sealed yet). */
int64_t ledger_state_first_ts(const struct ledger_state *st);
int64_t ledger_state_sealed_until(const struct ledger_state *st);

/* ---- holder identification (KYC status), set by compliance ------------------------------------ */
struct holder_identification {
    char holder_id[LEDGER_HOLDER_ID_MAX + 1];
    bool identified;
    uint64_t seq;   /* the holder.identification_changed event */
    int64_t ts_ns;
};
/* The changes applied since the last call, oldest first (a holder may appear more than once: the
 * last one wins). Owned by st, valid until the next apply. */
const struct holder_identification *ledger_state_take_holder_changes(struct ledger_state *st, size_t *n);
/* proj_kyc rows: holder id -> versioned struct holder_identification. */
#define HOLDER_ROW_BYTES (4 + sizeof(struct holder_identification))
void holder_row_encode(const struct holder_identification *h, uint8_t out[HOLDER_ROW_BYTES]);
bool holder_row_decode(const void *row, size_t len, struct holder_identification *out);

struct store;
/* Replays the whole log of st into state (verifying every hash and the gap-free sequence).
 * Returns LEDGER_ERR_OK, or an error with *bad_seq = the first bad sequence and a reason in err.
 * progress, if not NULL, is called every 2^20 events. Used by the sequencer at start-up and by ledgerctl. */
enum ledger_err ledger_replay(struct store *st, struct ledger_state *state, uint64_t *bad_seq, char *err,
                              size_t err_cap, void (*progress)(void *arg, uint64_t seq), void *arg);

/* ---- access control: clients and third parties (projections/access.c, docs/SECURITY.md) -------
 * The inline projection of events 20-23, part of struct ledger_state (sequencer thread or a tool):
 * API clients by id (role, third party, revoked) and third-party declarations, per account (its
 * rights) and per third party (its accounts). A removal keeps the declaration with rights 0.
 *
 * Rows, written by the sequencer in the batch of the events that changed them:
 *   proj_clients        client id (its bytes)                      -> client row
 *   proj_third_parties  "a" + account id (16) + third party id     -> third-party row
 *                       "t" + third party id + 0x00 + account (16) -> third-party row
 * (a removal deletes both keys). HTTP threads check access from these rows (access_store_*),
 * never from the sequencer's memory. */

struct client {
    char id[LEDGER_CLIENT_ID_MAX + 1];
    char name[LEDGER_CLIENT_NAME_MAX + 1];
    uint8_t role; /* enum client_role */
    bool revoked;
    char third_party_id[LEDGER_THIRD_PARTY_ID_MAX + 1]; /* "" unless role third_party */
    uint64_t version;        /* events in the client's stream: 1 registered, 2 revoked */
    uint64_t registered_seq;
    int64_t registered_ts_ns;
    uint64_t revoked_seq;    /* 0 while active */
    int64_t revoked_ts_ns;
    uint8_t dirty;           /* changed since ledger_state_take_dirty_clients() */
};

/* One third party on one account. */
struct tp_grant {
    struct ledger_id account_id;
    char third_party_id[LEDGER_THIRD_PARTY_ID_MAX + 1];
    uint8_t rights;          /* enum tp_right bits; 0 after third_party.removed */
    uint64_t changed_seq;    /* the last declaration or removal */
    int64_t changed_ts_ns;
    uint8_t dirty;           /* changed since ledger_state_take_dirty_grants() */
};

/* The access part of a ledger_state: created and freed with it (state.c). */
struct access_book;
struct access_book *access_book_new(void);
void access_book_free(struct access_book *b);
struct access_book *ledger_state_access_book(struct ledger_state *st); /* state.c */
/* Applies client.registered/revoked, third_party.declared/removed. LEDGER_ERR_DECODE when the event
 * contradicts the state: a client id registered twice, revoking an unknown or revoked client,
 * declaring on an unknown account, removing what is not declared. */
enum ledger_err access_apply(struct ledger_state *st, const struct event *ev);

/* The client with this id, or NULL. Owned by st, valid for its life. */
const struct client *access_client(struct ledger_state *st, const char *client_id);
/* Clients in registration order, i < count. */
size_t access_client_count(struct ledger_state *st);
const struct client *access_client_at(struct ledger_state *st, size_t i);
/* true and *rights (non-zero) when tp is declared on account; false (rights untouched) otherwise. */
bool access_third_party_rights(struct ledger_state *st, const char *tp, const struct ledger_id *account,
                               uint8_t *rights);
/* The declarations of tp in first-declaration order (removed ones included, rights 0), i < count. */
size_t access_third_party_grant_count(struct ledger_state *st, const char *tp);
const struct tp_grant *access_third_party_grant_at(struct ledger_state *st, const char *tp, size_t i);
/* Events in tp's stream so far (declarations and removals on every account). */
uint64_t access_third_party_version(struct ledger_state *st, const char *tp);
/* Clients / declarations changed since the last call (owned by st, valid until the next apply). */
struct client **ledger_state_take_dirty_clients(struct ledger_state *st, size_t *n);
struct tp_grant **ledger_state_take_dirty_grants(struct ledger_state *st, size_t *n);

/* proj_clients rows: a versioned fixed layout of struct client (dirty written as 0). */
#define CLIENT_ROW_BYTES (4 + sizeof(struct client))
void client_row_encode(const struct client *c, uint8_t out[CLIENT_ROW_BYTES]);
bool client_row_decode(const void *row, size_t len, struct client *out);
/* proj_third_parties rows: version (1) = 1, rights (1), changed seq (8, BE), changed ts_ns (8, BE). */
#define TP_ROW_BYTES 18
void tp_row_encode(const struct tp_grant *g, uint8_t out[TP_ROW_BYTES]);
/* Fills rights, changed_seq and changed_ts_ns of out; false for a row of another size or version,
 * or with rights 0 or unknown bits. */
bool tp_row_decode(const void *row, size_t len, struct tp_grant *out);
/* Keys of proj_third_parties; both return the key length. account NULL in tp_key: the prefix of
 * every key of tp ("t" + tp + 0x00), for listing its accounts. */
#define TP_KEY_MAX (1 + LEDGER_THIRD_PARTY_ID_MAX + 1 + 16)
size_t tp_account_key(const struct ledger_id *account, const char *tp, uint8_t out[TP_KEY_MAX]);
size_t tp_key(const char *tp, const struct ledger_id *account, uint8_t out[TP_KEY_MAX]);
/* The account id at the end of a "t" key; false for another shape. */
bool tp_key_account(const void *key, size_t klen, struct ledger_id *account);

/* Puts the rows of the clients and declarations changed since the last call into b (a removal
 * deletes both keys). Sequencer thread (or a tool rebuilding the rows). */
struct store_batch;
void access_batch_put_rows(struct ledger_state *st, struct store_batch *b);

/* Reads for HTTP threads (any thread, RocksDB rows only):
 * access_store_client: LEDGER_ERR_OK with *out, CLIENT_NOT_FOUND, DECODE (bad row) or IO.
 * access_store_rights: LEDGER_ERR_OK with *rights (non-zero), THIRD_PARTY_NOT_DECLARED, DECODE or IO. */
struct store;
enum ledger_err access_store_client(struct store *s, const char *client_id, struct client *out);
enum ledger_err access_store_rights(struct store *s, const char *tp, const struct ledger_id *account,
                                    uint8_t *rights);

#endif
