/*
 * limits.h: every bound of the ledger in one place (TigerBeetle constants.zig).
 *
 * Every queue, buffer, body, string, loop and retry has a named maximum here; the static assertions
 * at the bottom state how the limits relate, so changing one cannot silently break another.
 */
#ifndef LEDGER_LIMITS_H
#define LEDGER_LIMITS_H

/* Strings carried in events (bytes, without the terminating NUL). */
#define LEDGER_HOLDER_ID_MAX 64
#define LEDGER_FRIENDLY_NAME_MAX 64
#define LEDGER_REFERENCE_MAX 140 /* SEPA unstructured remittance information */
#define LEDGER_ACTOR_MAX 96 /* "<client id>:<role>" */
#define LEDGER_IBAN_MAX 34
#define LEDGER_CURRENCY_LEN 3
#define LEDGER_IDEMPOTENCY_KEY_MAX 128
#define LEDGER_CLIENT_ID_MAX 64
#define LEDGER_CLIENT_NAME_MAX 64
#define LEDGER_THIRD_PARTY_ID_MAX 64

/* Cards. */
#define LEDGER_CARD_BRAND_MAX 16
#define LEDGER_CARD_TOKEN_MAX 64
#define LEDGER_NAME_ON_CARD_MAX 26        /* embossing line */
#define LEDGER_MERCHANT_NAME_MAX 64
#define LEDGER_MERCHANT_ID_MAX 32
#define LEDGER_AUTH_ID_MAX 64             /* the processor's authorization id */
#define LEDGER_CARD_LIST_MAX 16           /* MCCs / countries per allow or block list */
#define LEDGER_HOLDS_EXPIRED_PER_COMMAND_MAX 4096
#define LEDGER_SCHEDULER_TICK_MS 1000     /* how often the scheduler submits time-driven commands */

/* One encoded event record (msgpack). The largest event is card.issued with every list full. */
#define LEDGER_RECORD_BYTES_MAX 2048

/* Sequencer. */
#define LEDGER_QUEUE_COMMANDS_MAX 8192   /* commands waiting for the sequencer; full = busy */
#define LEDGER_BATCH_TRANSFERS_MAX 8190  /* transfers in one POST /v1/transfers/batch */
#define LEDGER_COMMIT_EVENTS_MAX 32768   /* events in one group commit (one WriteBatch) */
#define LEDGER_COMMIT_COMMANDS_MAX 4096  /* commands decided in one group commit */
#define LEDGER_ACCOUNTS_MAX (1u << 24)   /* accounts the in-memory state can hold */
#define LEDGER_TRANSFERS_MAX (1u << 27)  /* transfer ids the in-memory dedupe index can hold */

/* HTTP. */
#define LEDGER_HTTP_BODY_BYTES_MAX (4u << 20)  /* a batch of 8190 transfers is about 2 MiB */
#define LEDGER_HTTP_RESPONSE_BYTES_MAX (8u << 20)
#define LEDGER_HTTP_THREADS 2
#define LEDGER_HTTP_CONNECTIONS_MAX 1024
#define LEDGER_HTTP_CONNECTION_TIMEOUT_S 60
#define LEDGER_TLS_PEM_BYTES_MAX (64u << 10) /* a certificate chain or key file */
#define LEDGER_EVENTS_PAGE_MAX 1000      /* GET /v1/events?limit= */
#define LEDGER_ACCOUNTS_PAGE_MAX 1000    /* GET /v1/accounts?holder_id= */

/* Idempotency records are kept at least this long (nanoseconds). */
#define LEDGER_IDEMPOTENCY_RETENTION_NS (24LL * 3600 * 1000000000LL)
/* ... and purged (a compaction of their family) each time another hour of them has expired. */
#define LEDGER_IDEMPOTENCY_PURGE_EVERY_NS (3600LL * 1000000000LL)

/* Outbox. */
#define LEDGER_OUTBOX_WINDOW_MAX 4096    /* async publishes in flight before waiting for acks */
#define LEDGER_OUTBOX_ACK_WAIT_MS 5000
#define LEDGER_OUTBOX_RETRY_MS_MAX 2000  /* back-off ceiling while NATS is unreachable */
#define LEDGER_OUTBOX_NICE 10            /* the outbox thread's nice value: it yields to answers */
#define LEDGER_SUBJECT_MAX 128

_Static_assert(LEDGER_BATCH_TRANSFERS_MAX * 2 <= LEDGER_COMMIT_EVENTS_MAX,
               "one full transfer batch (plus a funding account per deposit) must fit one commit");
_Static_assert(LEDGER_COMMIT_COMMANDS_MAX <= LEDGER_QUEUE_COMMANDS_MAX,
               "a commit drains at most one queue's worth of commands");
_Static_assert(LEDGER_HOLDS_EXPIRED_PER_COMMAND_MAX <= LEDGER_COMMIT_EVENTS_MAX,
               "one expiry command fits one commit");
_Static_assert(LEDGER_HOLDER_ID_MAX + LEDGER_FRIENDLY_NAME_MAX + LEDGER_IBAN_MAX + LEDGER_ACTOR_MAX +
                       LEDGER_REFERENCE_MAX + 256 <=
                   LEDGER_RECORD_BYTES_MAX,
               "the largest event must fit one record buffer");

_Static_assert(LEDGER_CARD_BRAND_MAX + LEDGER_CARD_TOKEN_MAX + LEDGER_NAME_ON_CARD_MAX + LEDGER_ACTOR_MAX +
                       LEDGER_CARD_LIST_MAX * (2 * 3 + 2 * 3) + 512 <=
                   LEDGER_RECORD_BYTES_MAX,
               "the largest card event (card.issued with full lists, 974 bytes measured) must fit");

#endif
