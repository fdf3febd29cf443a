/*
 * commands.h: commands, decide(), and the sequencer, the one public header of commands/.
 *
 * Write path (DESIGN section 4): a caller fills a struct cmd and submits it; the sequencer thread
 * drains the bounded queue in batches, decides each command against the in-memory state (command k
 * sees commands 1..k-1), appends the batch's events, indexes, projection rows, idempotency records
 * and chain head in ONE WriteBatch with sync=true, and only then calls each command's done().
 *
 * Ownership: the caller owns the struct cmd (and its transfer items) until done() is called; the
 * sequencer writes only the result fields. done() runs on the sequencer thread and must not block.
 */
#ifndef LEDGER_COMMANDS_H
#define LEDGER_COMMANDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "events/events.h"
#include "projections/projections.h"

struct store;

/* The bank and branch codes of the IBANs this ledger issues (France, fictitious bank). */
#define LEDGER_IBAN_BANK_CODE "19999"
#define LEDGER_IBAN_BRANCH_CODE "00001"
/* Holder of the internal accounts the ledger opens itself (funding accounts for deposits). */
#define LEDGER_INTERNAL_HOLDER "ledger"

enum cmd_type {
    CMD_OPEN_ACCOUNT = 1,
    CMD_BLOCK_ACCOUNT,
    CMD_UNBLOCK_ACCOUNT,
    CMD_CLOSE_ACCOUNT,
    CMD_TRANSFERS, /* one or more transfers (a deposit is a transfer item of kind deposit) */
    CMD_CARD_ISSUE,
    CMD_CARD_ACTIVATE,
    CMD_CARD_BLOCK,
    CMD_CARD_UNBLOCK,
    CMD_CARD_DESTROY,
    CMD_CARD_LIMITS,
    CMD_CARD_REPLACE,
    CMD_CARD_AUTHORIZE, /* also incremental authorizations and stand-in advices */
    CMD_CARD_CAPTURE,
    CMD_CARD_REVERSE,
    CMD_CARD_REFUND,
    CMD_EXPIRE_HOLDS, /* submitted by the scheduler: one card.hold_expired per lapsed hold */
    CMD_SEAL_PERIODS, /* submitted by the scheduler: one statement.period_closed per ended period */
    CMD_CLIENT_REGISTER, /* access control (commands/decide_access.c): one event each */
    CMD_CLIENT_REVOKE,
    CMD_THIRD_PARTY_DECLARE,
    CMD_THIRD_PARTY_REMOVE,
    CMD_HOLDER_IDENTIFY, /* compliance: a holder identified or unidentified (KYC status) */
};

struct cmd_holder_identify {
    char holder_id[LEDGER_HOLDER_ID_MAX + 1];
    bool identified;
};

#define LEDGER_SEALS_PER_COMMAND_MAX 64

struct cmd_seal_periods {
    uint8_t kind;       /* enum period_kind (projections.h) */
    char time_zone[48]; /* the process's statement zone (TZ), recorded in each seal */
    size_t sealed;      /* result */
};

/* ---- card commands (commands/decide_cards.c; docs/CARDS.md is the processor's contract) ------- */

#define LEDGER_HOLD_EXPIRY_DAYS_DEFAULT 7
#define LEDGER_PREAUTH_EXPIRY_DAYS_DEFAULT 30

struct cmd_card_issue {
    struct ledger_id card_id;    /* chosen at the edge */
    struct ledger_id account_id;
    uint8_t type;                /* enum card_type */
    char brand[LEDGER_CARD_BRAND_MAX + 1];
    char last_four[5];           /* chosen at the edge (the processor holds the PAN) */
    char token[LEDGER_CARD_TOKEN_MAX + 1];
    char expiry[5];              /* MMYY, chosen at the edge */
    char name_on_card[LEDGER_NAME_ON_CARD_MAX + 1];
    bool has_limits;             /* false: the default limits (none, every channel on) */
    struct card_limits limits;
};

struct cmd_card_action { /* activate, block, unblock, destroy */
    struct ledger_id card_id;
    uint8_t reason; /* enum card_block, block/unblock only */
};

struct cmd_card_limits {
    struct ledger_id card_id;
    struct card_limits limits;
};

struct cmd_card_replace {
    struct ledger_id card_id;
    struct ledger_id new_card_id; /* chosen at the edge, with the new last four, token, expiry */
    char last_four[5];
    char token[LEDGER_CARD_TOKEN_MAX + 1];
    char expiry[5];
};

struct cmd_card_authorize {
    char authorization_id[LEDGER_AUTH_ID_MAX + 1];
    char original_authorization_id[LEDGER_AUTH_ID_MAX + 1]; /* "" or the hold an incremental adds to */
    struct ledger_id card_id;
    int64_t amount_minor;
    char currency[4];
    struct merchant merchant;
    uint8_t channel;  /* enum card_channel */
    uint8_t category; /* enum auth_category */
    bool partial_allowed;
    bool stand_in;    /* an advice: approved by the network already; posted even if it overdraws */
    int64_t hold_ttl_ns; /* how long an approval holds, set at the edge from the configuration */
    /* result */
    bool approved;
    char response_code[3];
    char approval_code[7];
    int64_t approved_amount;
    int64_t available_after;
    uint64_t seq;
    bool replayed; /* the authorization id was seen before: the original answer */
};

struct cmd_card_capture { /* also reversals: amount released instead of posted */
    char authorization_id[LEDGER_AUTH_ID_MAX + 1];
    struct ledger_id operation_id; /* the processor's capture/reversal id, for idempotency */
    int64_t amount_minor;          /* capture: amount presented; reversal: 0 = the whole hold */
    bool final;                    /* capture: release whatever the hold still reserves */
    /* result */
    int64_t posted, released, held_after;
    uint64_t seq;
    bool replayed;
};

struct cmd_card_refund {
    struct ledger_id refund_id;
    struct ledger_id card_id;
    int64_t amount_minor;
    char currency[4];
    char authorization_id[LEDGER_AUTH_ID_MAX + 1]; /* optional original purchase */
    struct merchant merchant;
    /* result */
    uint64_t seq;
    bool replayed;
};

struct cmd_expire_holds {
    size_t expired; /* result: holds expired by this command */
};

/* ---- access control (commands/decide_access.c, docs/SECURITY.md) -------------------------------
 * CMD_CLIENT_REGISTER carries the client's credential in cmd.rows (STORE_CF_CREDENTIALS, client id
 * -> api/auth.h credential): the secret is never in the command's event. */
struct cmd_client_register {
    char client_id[LEDGER_CLIENT_ID_MAX + 1]; /* chosen at the edge ("cli_" + 24 hex) */
    char name[LEDGER_CLIENT_NAME_MAX + 1];
    uint8_t role;                             /* enum client_role */
    char third_party_id[LEDGER_THIRD_PARTY_ID_MAX + 1]; /* role third_party only */
};

struct cmd_client_revoke {
    char client_id[LEDGER_CLIENT_ID_MAX + 1];
};

struct cmd_third_party { /* declare (rights: the complete new set) and remove (rights ignored) */
    struct ledger_id account_id;
    char third_party_id[LEDGER_THIRD_PARTY_ID_MAX + 1];
    uint8_t rights; /* enum tp_right bits */
    /* result */
    uint64_t seq;
};

struct cmd_open_account {
    struct ledger_id account_id; /* chosen at the edge (UUIDv7) */
    uint8_t kind;                /* enum account_kind */
    char holder_id[LEDGER_HOLDER_ID_MAX + 1];
    char currency[4];
    char friendly_name[LEDGER_FRIENDLY_NAME_MAX + 1];
    int64_t overdraft_limit_minor;
};

struct cmd_account_action { /* block, unblock, close */
    struct ledger_id account_id;
    uint8_t reason; /* enum block_reason, block/unblock only */
};

struct transfer_item {
    /* request */
    struct ledger_id id; /* client-supplied or chosen at the edge */
    struct ledger_id debit_account_id; /* ignored for deposits: the currency's funding account */
    struct ledger_id credit_account_id;
    int64_t amount_minor;
    char currency[4];
    uint8_t kind; /* enum transfer_kind */
    char reference[LEDGER_REFERENCE_MAX + 1];
    /* result */
    enum ledger_err result;
    const char *field; /* the offending field, or NULL */
    uint64_t seq;      /* seq of the transfer.executed event (also for an idempotent replay) */
    int64_t ts_ns;
    bool replayed;     /* the id already existed with the same content: original answer */
};

struct cmd_transfers {
    struct transfer_item *items;
    size_t count; /* 1..LEDGER_BATCH_TRANSFERS_MAX */
    bool linked;  /* all succeed or none */
};

struct cmd_row {
    int cf;
    const void *key;
    size_t klen;
    const void *val;
    size_t vlen;
};

struct cmd {
    /* request, filled by the caller */
    enum cmd_type type;
    struct ledger_id cmd_id;
    char actor[LEDGER_ACTOR_MAX + 1];
    union {
        struct cmd_open_account open;
        struct cmd_account_action action;
        struct cmd_transfers transfers;
        struct cmd_card_issue card_issue;
        struct cmd_card_action card_action;
        struct cmd_card_limits card_limits;
        struct cmd_card_replace card_replace;
        struct cmd_card_authorize card_auth;
        struct cmd_card_capture card_capture;
        struct cmd_card_refund card_refund;
        struct cmd_expire_holds expire;
        struct cmd_seal_periods seal;
        struct cmd_holder_identify holder_identify;
        struct cmd_client_register client_register;
        struct cmd_client_revoke client_revoke;
        struct cmd_third_party third_party;
    } u;
    /* idempotency: key = client id + 0x00 + Idempotency-Key; hash = SHA-256 of the request */
    bool has_idempotency;
    uint8_t idem_key[LEDGER_CLIENT_ID_MAX + 1 + LEDGER_IDEMPOTENCY_KEY_MAX];
    size_t idem_key_len;
    uint8_t request_hash[LEDGER_HASH_LEN];
    /* Renders the response the caller will send (status + body) from the result fields; called on
     * the sequencer thread for commands with an idempotency key, so that the same key gets the
     * same bytes later. Returns the body length written into out (cap bytes), 0 if it does not fit. */
    size_t (*render)(const struct cmd *c, int *status, char *out, size_t cap);
    /* Rows written in the same WriteBatch as the command's events when it succeeds (result OK):
     * data that must be durable with the events but must not be IN them (a client's secret hash).
     * cf is an enum store_cf. The caller owns the memory until done(). */
    const struct cmd_row *rows;
    size_t rows_n;
    /* Completion, on the sequencer thread, after the batch is durable. */
    void (*done)(struct cmd *c);
    void *ctx;

    /* result, filled by the sequencer */
    enum ledger_err result; /* for CMD_TRANSFERS: OK unless the whole command failed */
    const char *field;
    uint64_t seq;    /* last event seq of this command, or the head when it appended nothing */
    int64_t now_ns;  /* the command's time */
    struct account account; /* snapshot after the command (account commands) */
    struct card card;       /* snapshot after the command (card management commands) */
    /* set when the idempotency key was seen before with the same request: the stored answer */
    bool idem_replayed;
    int idem_status;
    char *idem_body; /* malloc'd; freed by cmd_release() */
    size_t idem_body_len;
};

/* Frees what the sequencer attached to a command (a replayed idempotent body). */
void cmd_release(struct cmd *c);

/* ---- decide (pure: state in, events out; no clock, no I/O) ------------------------------------ */

/* Where decide() puts the events it produces; apply happens in the sequencer. */
struct event_sink {
    struct event *events;
    size_t len;
    size_t cap;
    uint64_t next_seq; /* seq of the next event */
};

/* Decides c against st at time c->now_ns with actor c->actor: appends events to sink AND applies
 * each to st, so the state reflects the command on return. Sets c->result/field (and per-item
 * results). On a rejection nothing is appended and st is unchanged. */
void decide(struct ledger_state *st, struct cmd *c, struct event_sink *sink);
/* The transfer.executed payload an item describes (for rendering answers). Pure. */
void transfer_item_event(const struct transfer_item *t, struct ev_transfer_executed *d);
/* The most events decide() may append for c (for batch budgeting). */
size_t decide_events_max(const struct cmd *c);

/* ---- the sequencer ---------------------------------------------------------------------------- */

struct sequencer;

/* A latency histogram in microseconds over LATENCY_BOUNDS bounds (le[k]: at most latency_us_bounds[k],
 * above the one before; le[LATENCY_BOUNDS]: above the last), with the sum; added to by any thread
 * with relaxed atomics (latency_histogram_add), copied with latency_histogram_read. */
#define LATENCY_BOUNDS 11
extern const unsigned latency_us_bounds[LATENCY_BOUNDS]; /* 50, 100, 250, 500, 750, 1000, 1500, 2000, 2500, 5000, 10000 */
struct latency_histogram {
    uint64_t le[LATENCY_BOUNDS + 1];
    uint64_t sum_us;
};
void latency_histogram_add(struct latency_histogram *h, int64_t us);
void latency_histogram_read(const struct latency_histogram *h, struct latency_histogram *out);
/* The least bound under which at least q (0..1) of the counts fall; 0 when empty, UINT_MAX when
 * that is above the last bound. */
unsigned latency_histogram_quantile_us(const struct latency_histogram *h, double q);

struct sequencer_metrics {
    uint64_t events_appended;
    uint64_t commits;
    uint64_t commands;
    uint64_t queue_depth;
    uint64_t committed_seq;
    /* batch size (events per commit) histogram: <=1, 2, 4, ... <=2^15 */
    uint64_t batch_events_le[16];
    struct latency_histogram commit; /* the durable write (WriteBatch with sync=true), fsync included */
};

/* Called after each durable commit with the last committed seq (sequencer thread; must not block). */
typedef void (*sequencer_commit_fn)(void *arg, uint64_t committed_seq);

/* Replays the log of st into a fresh state (verifying the hash chain) and starts the sequencer
 * thread. Returns NULL and writes a reason to err when the log does not replay. */
struct sequencer *sequencer_start(struct store *st, sequencer_commit_fn on_commit, void *arg, char *err,
                                  size_t err_cap);
/* Enqueues c. LEDGER_ERR_OK, LEDGER_ERR_BUSY (queue full) or LEDGER_ERR_SHUTTING_DOWN. Any thread. */
enum ledger_err sequencer_submit(struct sequencer *s, struct cmd *c);
/* Submits and waits for completion (for tools and tests; c->done and c->ctx are overwritten). */
enum ledger_err sequencer_execute(struct sequencer *s, struct cmd *c);
/* Stops accepting, decides and commits everything queued, joins the thread, frees. */
void sequencer_stop(struct sequencer *s);
void sequencer_metrics_read(struct sequencer *s, struct sequencer_metrics *out);
/* Replay at start-up: events and time it took. */
void sequencer_replay_stats(struct sequencer *s, uint64_t *events, double *seconds);
/* The time the sequencer gave its latest command (Unix ns; the last event's at start-up, 0 for an
 * empty log). It never goes back. Any thread. */
int64_t sequencer_now(struct sequencer *s);
/* Sets a clock for tests (Unix ns); NULL = CLOCK_REALTIME. Before any submit. */
void sequencer_set_clock(struct sequencer *s, int64_t (*now_ns)(void *arg), void *arg);

/* ---- the business clock ------------------------------------------------------------------------
 * Time enters the ledger through one clock, read by the sequencer for each command. realtime: the
 * system clock. manual: starts at a given instant and moves only forward, when an admin sets it
 * (core-banking business date); statements, hold expiry and schedules are tested with it. */
enum clock_mode { BUSINESS_CLOCK_REALTIME = 1, BUSINESS_CLOCK_MANUAL = 2 };
struct ledger_clock;
struct ledger_clock *ledger_clock_new(enum clock_mode mode, int64_t start_ns);
void ledger_clock_free(struct ledger_clock *c);
/* The clock's time in Unix ns; arg is a struct ledger_clock (the sequencer_set_clock signature). */
int64_t ledger_clock_now(void *arg);
bool ledger_clock_is_manual(const struct ledger_clock *c);
/* Manual clocks only, forward only: LEDGER_ERR_OK, CLOCK_NOT_MANUAL or CLOCK_BACKWARDS. */
enum ledger_err ledger_clock_set(struct ledger_clock *c, int64_t now_ns);

/* ---- the scheduler ---------------------------------------------------------------------------- */

/* Submits CMD_EXPIRE_HOLDS and CMD_SEAL_PERIODS every interval_ms (each with at most one command
 * in flight; a busy queue is retried at the next tick). Both are decided by the sequencer at the
 * command's time, so they are deterministic and resume after a restart. period_kind and time_zone
 * configure statement periods (the zone must be the process's TZ).
 * With st (NULL: none), a second thread expires idempotency records: at every tick it sets st's
 * horizon to sequencer_now() - LEDGER_IDEMPOTENCY_RETENTION_NS and, each time that horizon has
 * moved LEDGER_IDEMPOTENCY_PURGE_EVERY_NS past the last purge's (or the first it saw: none at
 * start-up), runs store_idempotency_purge()
 * (a compaction: on its own thread so that expiries and seals never wait for it). */
struct scheduler;
struct scheduler *scheduler_start(struct sequencer *s, struct store *st, unsigned interval_ms, uint8_t period_kind,
                                  const char *time_zone);
/* Wakes the scheduler now (after the business clock moved). */
void scheduler_kick(struct scheduler *sc);
/* Stops the thread and waits for its command in flight. Before sequencer_stop(). NULL is fine. */
void scheduler_stop(struct scheduler *sc);

#endif
