/*
 * events.h: the vocabulary of the ledger, the one public header of events/.
 *
 *   - errors:   one enum for business rejections, validation and operating errors (X-macro table);
 *   - money:    ISO 4217 currencies with minor units (compiled in), overflow-checked arithmetic;
 *   - ids:      16-byte identifiers, UUIDv7 generation and text form;
 *   - iban:     ISO 13616 validation for every SWIFT-registry country, French IBAN generation;
 *   - events:   the event catalogue (stable numeric ids), the envelope, the msgpack record codec and
 *               the SHA-256 hash chain (docs/EVENT-FORMAT.md specifies the bytes).
 *
 * Everything here is pure and thread-safe unless a function says otherwise. Nothing here does I/O
 * except ledger_id_new_v7() (reads the clock and the kernel's random source).
 */
#ifndef LEDGER_EVENTS_H
#define LEDGER_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "events/limits.h"

/* ---------------------------------------------------------------------------------------------
 * Assertions (STYLE: always on for cheap invariants; never on input).
 */
void ledger_assert_fail(const char *expr, const char *file, int line) __attribute__((noreturn));
#define LEDGER_ASSERT(e) ((e) ? (void)0 : ledger_assert_fail(#e, __FILE__, __LINE__))

/* ---------------------------------------------------------------------------------------------
 * Errors. X(name, stable number, HTTP status, message). Numbers are append-only: never renumber,
 * never reuse; a retired code keeps its slot. The name is the machine code clients see.
 */
#define LEDGER_ERR_MAP(X)                                                                          \
    X(OK, 0, 200, "ok")                                                                            \
    X(MALFORMED_JSON, 1, 400, "the body is not valid JSON")                                        \
    X(FIELD_MISSING, 2, 422, "a required field is missing")                                        \
    X(FIELD_INVALID, 3, 422, "a field has the wrong type or format")                               \
    X(FIELD_TOO_LONG, 4, 422, "a field is longer than allowed")                                    \
    X(AMOUNT_NOT_POSITIVE, 5, 422, "the amount must be a positive integer in minor units")         \
    X(AMOUNT_OUT_OF_RANGE, 6, 422, "the amount does not fit a signed 64-bit integer")              \
    X(CURRENCY_UNKNOWN, 7, 422, "the currency is not an ISO 4217 code with minor units")           \
    X(SAME_ACCOUNT, 8, 422, "source and destination must be different accounts")                   \
    X(ACCOUNT_NOT_FOUND, 9, 404, "no such account")                                                \
    X(CURRENCY_MISMATCH, 10, 409, "the currency differs from the account's currency")              \
    X(ACCOUNT_BLOCKED, 11, 409, "the account is blocked and moves no funds")                       \
    X(ACCOUNT_CLOSED, 12, 409, "the account is closed")                                            \
    X(FUNDS_INSUFFICIENT, 13, 409, "the available balance does not cover the amount")              \
    X(BALANCE_NOT_ZERO, 14, 409, "an account must have a zero balance to be closed")               \
    X(ACCOUNT_HAS_PENDING, 15, 409, "the account has pending holds")                               \
    X(ACCOUNT_ALREADY_BLOCKED, 16, 409, "the account is already blocked for this reason")          \
    X(ACCOUNT_NOT_BLOCKED, 17, 409, "the account is not blocked for this reason")                  \
    X(FRIENDLY_NAME_TAKEN, 18, 409, "the holder already has an account with this friendly name")   \
    X(TRANSFER_ID_REUSED, 19, 409, "a different transfer already has this id")                     \
    X(IDEMPOTENCY_KEY_REUSED, 20, 409, "the idempotency key was used with a different request")    \
    X(LINKED_TRANSFER_FAILED, 21, 409, "a transfer linked with this one failed")                   \
    X(BALANCE_OVERFLOW, 22, 409, "the transfer would overflow a balance")                          \
    X(BATCH_EMPTY, 23, 422, "the batch holds no transfer")                                         \
    X(BATCH_TOO_LARGE, 24, 422, "the batch holds more transfers than allowed")                     \
    X(ACCOUNT_KIND_INVALID, 25, 409, "the operation is not allowed on this kind of account")       \
    X(NOT_FOUND, 26, 404, "no such resource")                                                      \
    X(METHOD_NOT_ALLOWED, 27, 405, "the method is not allowed on this resource")                   \
    X(BODY_TOO_LARGE, 28, 413, "the body is larger than allowed")                                  \
    X(BUSY, 29, 503, "the ledger is busy; retry later")                                            \
    X(INTERNAL, 30, 500, "internal error")                                                         \
    X(IO, 31, 500, "storage error")                                                                \
    X(DECODE, 32, 500, "a record could not be decoded")                                            \
    X(SHUTTING_DOWN, 33, 503, "the ledger is shutting down")                                       \
    X(TRANSFER_NOT_FOUND, 34, 404, "no such transfer")                                             \
    X(UNSUPPORTED_MEDIA_TYPE, 35, 415, "the body must be application/json")                        \
    X(CARD_NOT_FOUND, 36, 404, "no such card")                                                     \
    X(CARD_ALREADY_ACTIVE, 37, 409, "the card is already active")                                  \
    X(CARD_NOT_ACTIVE, 38, 409, "the card is not active")                                          \
    X(CARD_FINAL, 39, 409, "the card is lost, stolen, replaced or destroyed: final")               \
    X(CARD_ALREADY_BLOCKED, 40, 409, "the card is already blocked for this reason")                \
    X(CARD_NOT_BLOCKED, 41, 409, "the card is not blocked for this reason")                        \
    X(AUTHORIZATION_NOT_FOUND, 42, 404, "no such authorization")                                   \
    X(AUTHORIZATION_CLOSED, 43, 409, "the authorization has no open hold")                         \
    X(AMOUNT_EXCEEDS_HOLD, 44, 409, "the amount exceeds what the hold still reserves")             \
    X(AUTHORIZATION_ID_REUSED, 45, 409, "the authorization id was used with another request")      \
    X(CLOCK_NOT_MANUAL, 46, 409, "the clock can be set only when ledgerd runs with --clock manual") \
    X(CLOCK_BACKWARDS, 47, 422, "the business clock moves forward only")                           \
    X(PROJECTION_LAGGING, 48, 503, "the read model has not reached min_seq in time; retry")        \
    X(STATEMENT_NOT_FOUND, 49, 404, "no such statement")                                          \
    X(CLIENT_NOT_FOUND, 50, 404, "no such client")                                                 \
    X(CLIENT_REVOKED, 51, 409, "the client is revoked")                                            \
    X(CLIENT_ID_TAKEN, 52, 409, "a client already has this id")                                    \
    X(ROLE_UNKNOWN, 53, 422, "the role is not one of the roles in docs/SECURITY.md")              \
    X(THIRD_PARTY_ID_REQUIRED, 54, 422, "a client of role third_party needs a third_party_id")     \
    X(THIRD_PARTY_NOT_DECLARED, 55, 404, "the third party is not declared on this account")        \
    X(RIGHTS_EMPTY, 56, 422, "declare at least one right")                                         \
    X(UNAUTHENTICATED, 57, 401, "missing, expired or invalid credentials")                         \
    X(FORBIDDEN, 58, 403, "the client's role does not allow this")

enum ledger_err {
#define LEDGER_ERR_ENUM(name, num, http, msg) LEDGER_ERR_##name = num,
    LEDGER_ERR_MAP(LEDGER_ERR_ENUM)
#undef LEDGER_ERR_ENUM
};

/* The machine code ("FUNDS_INSUFFICIENT"); "UNKNOWN" for a value outside the table. Static. */
const char *ledger_err_name(enum ledger_err err);
/* A one-line English message. Static. */
const char *ledger_err_message(enum ledger_err err);
/* The HTTP status the edge answers with. */
int ledger_err_http_status(enum ledger_err err);

/* ---------------------------------------------------------------------------------------------
 * Money. Amounts are int64 minor units; a currency is its 3-letter ISO 4217 code.
 */
struct currency_info {
    char code[4];         /* "EUR", NUL-terminated */
    uint16_t numeric;     /* ISO 4217 numeric code, 978 */
    uint8_t minor_units;  /* 2 for EUR, 0 for JPY, 3 for KWD */
};

/* Looks up an ISO 4217 code (exactly 3 upper-case letters). Returns NULL when unknown or when the
 * currency has no minor unit ("-" in the standard: XAU, XXX...), which the ledger does not carry. */
const struct currency_info *money_currency_find(const char *code);
/* Number of currencies in the compiled-in table, and the i-th (for tests and tools). */
size_t money_currency_count(void);
const struct currency_info *money_currency_at(size_t i);
/* *out = a + b; false on overflow (out untouched). */
bool money_add(int64_t a, int64_t b, int64_t *out);
/* *out = a - b; false on overflow (out untouched). */
bool money_sub(int64_t a, int64_t b, int64_t *out);

/* ---------------------------------------------------------------------------------------------
 * Ids: 16 bytes, printed as the canonical 36-character UUID text (lower-case hex, 8-4-4-4-12).
 */
struct ledger_id {
    uint8_t b[16];
};
#define LEDGER_ID_TEXT_LEN 36

/* A new UUIDv7 (RFC 9562): 48-bit Unix milliseconds, version 7, variant 10, 74 random bits.
 * Monotonic within the process. Thread-safe. Not for decide(): call it at the edge. */
struct ledger_id ledger_id_new_v7(void);
/* A deterministic id (UUIDv8 layout) from a name: SHA-256 of "ledger:" + name, truncated. Pure. */
struct ledger_id ledger_id_from_name(const char *name);
/* Writes 36 characters and a NUL into out (37 bytes). */
void ledger_id_format(const struct ledger_id *id, char out[LEDGER_ID_TEXT_LEN + 1]);
/* Parses the canonical text form (upper or lower case hex). false on anything else. */
bool ledger_id_parse(const char *text, size_t len, struct ledger_id *out);
bool ledger_id_is_zero(const struct ledger_id *id);
bool ledger_id_equal(const struct ledger_id *a, const struct ledger_id *b);

/* ---------------------------------------------------------------------------------------------
 * IBAN (ISO 13616, MOD 97-10).
 */
/* Normalises input to the electronic form: removes spaces, upper-cases. false when the result
 * would exceed LEDGER_IBAN_MAX or holds a character other than A-Z 0-9. out has 35 bytes. */
bool iban_normalize(const char *in, char out[LEDGER_IBAN_MAX + 1]);
/* Validates an electronic-form IBAN: known country, that country's registry length, digits in
 * the check positions, alphanumeric BBAN, MOD 97 = 1. French IBANs also check the RIB key. */
bool iban_is_valid(const char *iban);
/* The registry length for a country code ("FR" -> 27); 0 when the country has no IBAN. */
int iban_country_length(const char country[2]);
/* The French RIB key of bank (5 digits), branch (5 digits) and account (11 alphanumerics). */
int iban_fr_rib_key(const char bank[5], const char branch[5], const char account[11]);
/* Builds a French IBAN from bank (5 digits), branch (5 digits) and account number (11 digits or
 * upper-case letters): RIB key, then MOD 97-10 check digits. out has 35 bytes. Pure. */
void iban_fr_build(const char bank[5], const char branch[5], const char account[11],
                   char out[LEDGER_IBAN_MAX + 1]);
/* MOD 97 of an electronic-form IBAN after the ISO 13616 rearrangement; -1 on a bad character. */
int iban_mod97(const char *iban);

/* ---------------------------------------------------------------------------------------------
 * SHA-256 (OpenSSL 3, digest fetched once per thread).
 */
#define LEDGER_HASH_LEN 32
/* out = SHA-256(a || b). Either part may be empty. Thread-safe. */
void ledger_sha256_2(const void *a, size_t a_len, const void *b, size_t b_len,
                     uint8_t out[LEDGER_HASH_LEN]);
/* Lower-case hex of n bytes into out (2n+1 bytes). */
void ledger_hex(const uint8_t *bytes, size_t n, char *out);

/* ---------------------------------------------------------------------------------------------
 * The event catalogue. Numeric ids and names are append-only (never renumber, never reuse,
 * never change a layout in place: add a version and upcast on read).
 */
#define LEDGER_EVENT_MAP(X)                                                                        \
    X(ACCOUNT_OPENED, 1, "account", "opened")                                                      \
    X(ACCOUNT_BLOCKED, 2, "account", "blocked")                                                    \
    X(ACCOUNT_UNBLOCKED, 3, "account", "unblocked")                                                \
    X(ACCOUNT_CLOSED, 4, "account", "closed")                                                      \
    X(TRANSFER_EXECUTED, 5, "transfer", "executed")                                                \
    X(CARD_ISSUED, 6, "card", "issued")                                                            \
    X(CARD_ACTIVATED, 7, "card", "activated")                                                      \
    X(CARD_BLOCKED, 8, "card", "blocked")                                                          \
    X(CARD_UNBLOCKED, 9, "card", "unblocked")                                                      \
    X(CARD_LIMITS_CHANGED, 10, "card", "limits_changed")                                           \
    X(CARD_REPLACED, 11, "card", "replaced")                                                       \
    X(CARD_DESTROYED, 12, "card", "destroyed")                                                     \
    X(CARD_AUTHORIZED, 13, "card", "authorized")                                                   \
    X(CARD_DECLINED, 14, "card", "declined")                                                       \
    X(CARD_CAPTURED, 15, "card", "captured")                                                       \
    X(CARD_REVERSED, 16, "card", "reversed")                                                       \
    X(CARD_HOLD_EXPIRED, 17, "card", "hold_expired")                                               \
    X(CARD_REFUNDED, 18, "card", "refunded")                                                       \
    X(STATEMENT_PERIOD_CLOSED, 19, "statement", "period_closed")                                   \
    X(CLIENT_REGISTERED, 20, "client", "registered")                                               \
    X(CLIENT_REVOKED, 21, "client", "revoked")                                                     \
    X(THIRD_PARTY_DECLARED, 22, "third_party", "declared")                                         \
    X(THIRD_PARTY_REMOVED, 23, "third_party", "removed")                                           \
    X(HOLDER_IDENTIFICATION_CHANGED, 24, "holder", "identification_changed")

enum event_type {
#define LEDGER_EVENT_ENUM(name, num, cat, verb) EVENT_##name = num,
    LEDGER_EVENT_MAP(LEDGER_EVENT_ENUM)
#undef LEDGER_EVENT_ENUM
};

/* "account", "opened" for a known type; NULL otherwise. */
const char *event_type_category(uint16_t type);
const char *event_type_verb(uint16_t type);
/* "account.opened"; NULL for an unknown type. */
const char *event_type_name(uint16_t type);

enum account_kind { ACCOUNT_KIND_CUSTOMER = 1, ACCOUNT_KIND_INTERNAL = 2 };
/* Block reasons are bits: an account may carry several blocks; each is lifted by its own level. */
enum block_reason {
    BLOCK_USER = 1u << 0,
    BLOCK_SYSTEM = 1u << 1,
    BLOCK_COMPLIANCE = 1u << 2,
    BLOCK_LOST = 1u << 3,
};
enum transfer_kind { TRANSFER_KIND_TRANSFER = 1, TRANSFER_KIND_DEPOSIT = 2 };

const char *account_kind_name(enum account_kind kind);          /* "customer" | "internal" */
bool account_kind_parse(const char *text, enum account_kind *out);
const char *block_reason_name(enum block_reason reason);        /* "USER" ... */
bool block_reason_parse(const char *text, enum block_reason *out);
const char *transfer_kind_name(enum transfer_kind kind);        /* "transfer" | "deposit" */

struct ev_account_opened {
    struct ledger_id account_id;
    uint8_t kind; /* enum account_kind */
    char holder_id[LEDGER_HOLDER_ID_MAX + 1];
    char currency[4];
    char friendly_name[LEDGER_FRIENDLY_NAME_MAX + 1];
    int64_t overdraft_limit_minor; /* >= 0 */
    char iban[LEDGER_IBAN_MAX + 1];
};

struct ev_account_blocked { /* also account.unblocked */
    struct ledger_id account_id;
    uint8_t reason; /* one enum block_reason bit */
};

struct ev_account_closed {
    struct ledger_id account_id;
};

struct ev_transfer_executed {
    struct ledger_id transfer_id;
    struct ledger_id debit_account_id;
    struct ledger_id credit_account_id;
    int64_t amount_minor; /* > 0 */
    char currency[4];
    uint8_t kind; /* enum transfer_kind */
    char reference[LEDGER_REFERENCE_MAX + 1];
};


/* ---- cards ------------------------------------------------------------------------------------
 * A card belongs to one account. Card numbers are never stored: the processor holds the PAN; the
 * ledger keeps the last four digits, an opaque token, the expiry and the name on card. */
enum card_type { CARD_TYPE_VIRTUAL = 1, CARD_TYPE_PHYSICAL = 2 };
/* Card block reasons are bits; LOST and STOLEN are final (never lifted). */
enum card_block {
    CARD_BLOCK_USER = 1u << 0,
    CARD_BLOCK_SYSTEM = 1u << 1,
    CARD_BLOCK_LOST = 1u << 2,
    CARD_BLOCK_STOLEN = 1u << 3,
};
enum card_channel { CHANNEL_POS = 1, CHANNEL_ECOM = 2, CHANNEL_ATM = 3, CHANNEL_CONTACTLESS = 4 };
enum auth_category { AUTH_FINAL = 1, AUTH_PRE = 2 };

const char *card_type_name(enum card_type t);          /* "virtual" | "physical" */
bool card_type_parse(const char *text, enum card_type *out);
const char *card_block_name(enum card_block b);        /* "USER" "SYSTEM" "LOST" "STOLEN" */
bool card_block_parse(const char *text, enum card_block *out);
const char *card_channel_name(enum card_channel c);    /* "POS" "ECOM" "ATM" "CONTACTLESS" */
bool card_channel_parse(const char *text, enum card_channel *out);
const char *auth_category_name(enum auth_category c);  /* "FINAL_AUTH" "PRE_AUTH" */
bool auth_category_parse(const char *text, enum auth_category *out);

/* Spending limits; an amount or count of 0 means "no limit". Lists: MCCs (ISO 18245, 0..9999) and
 * ISO 3166 alpha-2 countries; an empty allow list allows all. Channel switches default to on. */
struct card_limits {
    int64_t per_auth_max;
    int64_t day_amount, week_amount, month_amount;
    uint32_t day_count, week_count, month_count;
    int64_t atm_day_amount, atm_month_amount;
    uint8_t allowed_mcc_n, blocked_mcc_n, allowed_country_n, blocked_country_n;
    uint16_t allowed_mcc[LEDGER_CARD_LIST_MAX];
    uint16_t blocked_mcc[LEDGER_CARD_LIST_MAX];
    char allowed_country[LEDGER_CARD_LIST_MAX][3];
    char blocked_country[LEDGER_CARD_LIST_MAX][3];
    bool ecom, contactless, atm;
};

struct merchant {
    char name[LEDGER_MERCHANT_NAME_MAX + 1];
    uint16_t mcc;
    char country[3];
    char id[LEDGER_MERCHANT_ID_MAX + 1];
};

struct ev_card_issued {
    struct ledger_id card_id;
    struct ledger_id account_id;
    uint8_t type; /* enum card_type */
    char brand[LEDGER_CARD_BRAND_MAX + 1];
    char last_four[5];
    char token[LEDGER_CARD_TOKEN_MAX + 1];
    char expiry[5]; /* "MMYY" */
    char name_on_card[LEDGER_NAME_ON_CARD_MAX + 1];
    struct ledger_id replaces; /* the card this one replaces; zero for a new card */
    struct card_limits limits;
};

struct ev_card_action { /* card.activated, card.blocked, card.unblocked, card.destroyed */
    struct ledger_id card_id;
    uint8_t reason; /* enum card_block bit for blocked/unblocked; 0 otherwise */
};

struct ev_card_limits_changed {
    struct ledger_id card_id;
    struct card_limits limits;
};

struct ev_card_replaced { /* the old card becomes final; a card.issued follows for the new one */
    struct ledger_id card_id;
    struct ledger_id new_card_id;
};

/* card.authorized and card.declined: every decision is an event. The stream is hold_id, derived
 * from the processor's authorization id (ledger_id_from_name("auth:" + id)). */
struct ev_card_decision {
    struct ledger_id hold_id;
    char authorization_id[LEDGER_AUTH_ID_MAX + 1];
    char original_authorization_id[LEDGER_AUTH_ID_MAX + 1]; /* incremental: the hold it adds to; "" */
    struct ledger_id card_id;    /* as requested (may be unknown for a decline) */
    struct ledger_id account_id; /* zero when the card is unknown */
    int64_t amount_requested;
    int64_t amount_approved;     /* 0 for a decline; < requested for a partial approval (10) */
    char currency[4];
    struct merchant merchant;
    uint8_t channel;  /* enum card_channel */
    uint8_t category; /* enum auth_category */
    char response_code[3];  /* ISO 8583 field 39: "00", "10", "51", ... */
    char approval_code[7];  /* 6 characters on approval, "" on decline */
    int64_t available_after; /* the account's available balance after the decision */
    int64_t expires_at_ns;   /* approvals: when the hold lapses; 0 for declines */
    bool stand_in;           /* approved by the network while we were unreachable (advice) */
};

struct ev_card_hold_change { /* card.captured, card.reversed, card.hold_expired */
    struct ledger_id hold_id;
    struct ledger_id card_id;
    struct ledger_id account_id;
    struct ledger_id operation_id; /* capture or reversal id (idempotency), zero for expiry */
    int64_t amount;   /* captured: posted (may exceed the hold: over-capture); else 0 */
    int64_t released; /* pending released from the hold */
    char currency[4];
    bool final;       /* the hold is closed after this event */
};

struct ev_card_refunded {
    struct ledger_id refund_id;
    struct ledger_id card_id;
    struct ledger_id account_id;
    int64_t amount;
    char currency[4];
    char authorization_id[LEDGER_AUTH_ID_MAX + 1]; /* the original purchase, may be "" */
    struct merchant merchant;
};

/* statement.period_closed: the scheduler seals a statement period once it has ended. The period
 * covers every event up to last_seq; the chain hash of last_seq is this event's prev_hash. */
struct ev_period_closed {
    char period[16];     /* "2026-11", "2026-W47", "2026-11-21" */
    char kind[8];        /* "monthly" | "weekly" | "daily" */
    char time_zone[48];  /* IANA name, "Europe/Paris" */
    int64_t start_ns;    /* [start, end) */
    int64_t end_ns;
    uint64_t last_seq;
};

/* ---- access control (docs/SECURITY.md) ----------------------------------------------------------
 * API clients (OAuth2 client credentials) with one role each, and third parties declared on
 * accounts with rights. A client's secret is never in an event: only a salted slow hash of it, in
 * the credentials column family, written with the client.registered event. */

enum client_role {
    ROLE_ADMIN = 1,
    ROLE_COMPLIANCE = 2,
    ROLE_ANTIFRAUD = 3,
    ROLE_ACCOUNTANT = 4,
    ROLE_SUPPORT = 5,
    ROLE_THIRD_PARTY = 6,
    ROLE_CARD_PROCESSOR = 7,
};
/* Rights of a third party on an account: bits. */
enum tp_right {
    TP_RIGHT_VIEW = 1u << 0,
    TP_RIGHT_INITIATE_TRANSFERS = 1u << 1,
    TP_RIGHT_MANAGE_CARDS = 1u << 2,
};
#define TP_RIGHTS_ALL (TP_RIGHT_VIEW | TP_RIGHT_INITIATE_TRANSFERS | TP_RIGHT_MANAGE_CARDS)

/* "admin" "compliance" "antifraud" "accountant" "support" "third_party" "card_processor";
 * "unknown" outside the table. parse: false for anything else (exact, case-sensitive). */
const char *client_role_name(enum client_role r);
bool client_role_parse(const char *text, enum client_role *out);
/* One right: "view" "initiate_transfers" "manage_cards"; "unknown" for anything but one bit. */
const char *tp_right_name(enum tp_right r);
bool tp_right_parse(const char *text, enum tp_right *out);
/* Well-formed UTF-8 (no overlong forms, no surrogates, at most U+10FFFF): what the event decoder
 * accepts in a string (codec.c). Pure. */
bool ledger_utf8_valid(const void *s, size_t n);
/* A client id or third party id: 1..max bytes of [A-Za-z0-9._-]. Pure. */
bool access_id_valid(const char *text, size_t max);

struct ev_client_registered { /* stream: ledger_id_from_name("client:" + client_id) */
    char client_id[LEDGER_CLIENT_ID_MAX + 1];
    char name[LEDGER_CLIENT_NAME_MAX + 1];
    uint8_t role; /* enum client_role */
    char third_party_id[LEDGER_THIRD_PARTY_ID_MAX + 1]; /* "" unless role third_party */
};

struct ev_client_revoked {
    char client_id[LEDGER_CLIENT_ID_MAX + 1];
};

/* third_party.declared (rights != 0: the complete new set) and third_party.removed (rights 0).
 * stream: ledger_id_from_name("third_party:" + third_party_id). */
struct ev_third_party {
    struct ledger_id account_id;
    char third_party_id[LEDGER_THIRD_PARTY_ID_MAX + 1];
    uint8_t rights; /* enum tp_right bits */
};

/* holder.identification_changed: compliance marks a holder identified (KYC done) or unidentified.
 * Each change is its own stream (ledger_id_from_name("kyc:" + command id hex)). */
struct ev_holder_identification {
    char holder_id[LEDGER_HOLDER_ID_MAX + 1];
    bool identified;
};

/* One event: envelope + payload. A plain value; callers fill it. */
struct event {
    uint64_t seq;        /* global sequence, gap-free, starts at 1 */
    int64_t ts_ns;       /* Unix nanoseconds, assigned by the sequencer, strictly increasing per command */
    uint16_t type;       /* enum event_type */
    uint16_t v;          /* schema version of data, 1 */
    struct ledger_id stream;  /* aggregate id: account, transfer, card, hold (first decision), or the
                                 processor's operation (capture, reversal, refund, increment) */
    uint64_t stream_ver;      /* 1-based version of the event within its stream */
    struct ledger_id cmd_id;  /* the command that produced it */
    char actor[LEDGER_ACTOR_MAX + 1];
    union {
        struct ev_account_opened opened;
        struct ev_account_blocked blocked;
        struct ev_account_closed closed;
        struct ev_transfer_executed transfer;
        struct ev_card_issued card_issued;
        struct ev_card_action card_action;
        struct ev_card_limits_changed card_limits;
        struct ev_card_replaced card_replaced;
        struct ev_card_decision card_decision;
        struct ev_card_hold_change card_hold;
        struct ev_card_refunded card_refund;
        struct ev_period_closed period_closed;
        struct ev_client_registered client_registered;
        struct ev_client_revoked client_revoked;
        struct ev_third_party third_party;
        struct ev_holder_identification holder_identification;
    } data;
    uint8_t prev_hash[LEDGER_HASH_LEN];
    uint8_t hash[LEDGER_HASH_LEN];
};

/* Encodes ev (all fields but hash, which it computes) into out and writes the chain hash
 * SHA-256(ev->prev_hash || record bytes without the hash field) into ev->hash.
 * Returns the record length in bytes, or 0 when the event does not fit cap or is invalid
 * (unknown type, over-long string): a programmer error at the caller. Pure. */
size_t event_encode(struct event *ev, uint8_t *out, size_t cap);

/* Decodes a record. Returns LEDGER_ERR_OK, or LEDGER_ERR_DECODE for truncated, oversized,
 * trailing, wrongly typed or unknown input (never crashes). Does NOT check the hash: call
 * event_hash_check(). */
enum ledger_err event_decode(const uint8_t *buf, size_t len, struct event *out);

/* Recomputes the chain hash of an encoded record from its bytes: true when it matches the hash
 * stored in the record and the record's prev_hash equals expected_prev (NULL skips that check). */
bool event_hash_check(const uint8_t *buf, size_t len, const uint8_t *expected_prev);

/* Renders ev as one JSON object (no newline) into out; returns the length, or 0 if cap is too
 * small. Ids as UUID text, hashes as hex, data with string keys. LEDGER_EVENT_JSON_MAX always
 * suffices: no msgpack byte renders as more than 6 characters (a control byte in a string as
 * \u00XX; false, a key, an integer or an id less), plus the envelope's names and hashes. */
#define LEDGER_EVENT_JSON_MAX 16384
_Static_assert(LEDGER_EVENT_JSON_MAX >= 6 * LEDGER_RECORD_BYTES_MAX + 512, "every event renders");
size_t event_to_json(const struct event *ev, char *out, size_t cap);

/* A URL for logs: the "user:pass" of "scheme://user:pass@host:port" is replaced by three
 * asterisks (credentials never reach a log). out has cap bytes; always NUL-terminated. */
void ledger_url_redact(const char *url, char *out, size_t cap);

/* The CLOCK_REALTIME instant ms milliseconds from now: the deadline of a pthread_cond_timedwait
 * on a condition variable with the default clock. */
struct timespec ledger_realtime_after_ms(long ms);
/* CLOCK_MONOTONIC in microseconds: durations (metrics), never instants of the business. */
int64_t ledger_mono_us(void);

/* The id of the internal account of a kind ("funding", "card-settlement") for a currency:
 * ledger_id_from_name("internal:<kind>:<currency>"). */
struct ledger_id ledger_internal_account_id(const char *kind, const char *currency);

/* True when the event moves money on or changes the account (for replay --account filters). */
bool event_touches_account(const struct event *ev, const struct ledger_id *account_id);

#endif
