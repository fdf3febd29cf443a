/*
 * api.h: the HTTP API of ledgerd (libmicrohttpd), the one public header of api/.
 *
 * Threads: libmicrohttpd runs its own epoll thread pool. Handlers parse, validate and enqueue;
 * they never touch ledger state. A write suspends its connection, the sequencer's done() resumes
 * it after the events are durable, and the response is queued on the handler's next call. Reads
 * go to RocksDB (projection rows, the log), never to the sequencer's memory.
 */
#ifndef LEDGER_API_H
#define LEDGER_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;
struct sequencer;
struct outbox;
struct api_server;

/* HTTPS: reads the PEM certificate (chain) and private key once; api_start() then serves TLS only.
 * Process-wide; call before api_start(). false with a reason in err when a file cannot be read. */
bool api_tls_configure(const char *cert_file, const char *key_file, char *err, size_t err_cap);

/* Loads the token signing keys of the data directory (<data_dir>/jwt-keys, created with one key
 * when absent; reloaded when `ledgerctl keys rotate` changes it). Before api_start(). false with a
 * reason in err. */
bool api_auth_configure(const char *data_dir, char *err, size_t err_cap);

/* Starts serving on listen ("HOST:PORT"; port 0 picks a free one, see api_port). The store,
 * sequencer and outbox (NULL allowed) must outlive the server. NULL + reason in err on failure. */
struct api_server *api_start(const char *listen, struct store *st, struct sequencer *seq, struct outbox *ob,
                             char *err, size_t err_cap);
uint16_t api_port(const struct api_server *srv);
/* Stops accepting new connections (SIGTERM, first step); requests in flight complete. */
void api_quiesce(struct api_server *srv);
/* Closes every connection and frees. */
void api_stop(struct api_server *srv);
/* Marks the server not ready (/readyz answers 503) while shutting down. */
void api_set_ready(struct api_server *srv, bool ready);

/* ---- cards (api/cards.c, docs/CARDS.md) ----------------------------------------------------- */

/* How long an approved authorization holds funds before the scheduler releases it, in days:
 * FINAL_AUTH (ledgerd --hold-expiry-days, default LEDGER_HOLD_EXPIRY_DAYS_DEFAULT) and PRE_AUTH
 * (--preauth-expiry-days, default LEDGER_PREAUTH_EXPIRY_DAYS_DEFAULT). Each 1..API_HOLD_EXPIRY_DAYS_MAX.
 * Process-wide; call once before api_start() and nats_cmd_start(); false (nothing changed) when a
 * value is out of range. */
#define API_HOLD_EXPIRY_DAYS_MAX 365
bool api_cards_configure(int hold_expiry_days, int preauth_expiry_days);

/* ---- the read side and the business clock (api/reads.c, docs/API.md "Read side") ----------- */

struct projector;
struct ledger_clock;
struct scheduler;
/* Gives the read routes the catch-up projector (?min_seq=, the "seq" of read answers), the
 * business clock (GET/POST /v1/admin/clock) and the scheduler (kicked after the clock moved).
 * Process-wide; main thread; may be called again (e.g. once the scheduler runs); NULL is allowed
 * for each (no projector: ?min_seq= > 0 answers 503 PROJECTION_LAGGING; no clock: the clock
 * routes answer 409 CLOCK_NOT_MANUAL). The objects must outlive the HTTP server's requests. */
void api_reads_configure(struct projector *projector, struct ledger_clock *clock, struct scheduler *scheduler);
/* Parses an RFC 3339 date-time ("2026-12-01T00:00:00+01:00", "2026-11-20T10:00:00.5Z") into Unix
 * ns; false on anything else (bad syntax, impossible date, before 1970). Pure, any thread. */
bool api_time_parse(const char *text, int64_t *out_ns);
/* Formats Unix ns as RFC 3339 UTC with nanoseconds ("2026-11-20T10:00:00.000000000Z"). */
#define API_TIME_TEXT_MAX 48
void api_time_format(int64_t ts_ns, char out[API_TIME_TEXT_MAX]);

/* ---- the NATS command listener (api/nats_cmd.c) ---------------------------------------------- */

/* Card processor requests over NATS request-reply: subscribes ledger.cmd.card.> in queue group
 * "ledgerd" on its own connection, parses and validates each message on the nats.c delivery
 * thread, submits it to the sequencer (never blocks) and publishes the reply from the command's
 * done(), after the decision is durable. Subjects and JSON: docs/CARDS.md. */
struct nats_cmd;

/* Connects to url (nats://HOST:PORT) and subscribes. Never waits for NATS: when the server is
 * down the connection keeps retrying in the background (forever) and the subscription starts
 * when it is up. The sequencer must outlive the listener. NULL + reason in err on a bad URL or an
 * out-of-memory; the caller owns the result. Main thread. */
struct nats_cmd *nats_cmd_start(const char *url, struct sequencer *seq, char *err, size_t err_cap);
/* Stops submitting: every message from now on is answered "91" (shutting down). Call before
 * sequencer_stop(); returns once no message is being submitted. NULL is a no-op. */
void nats_cmd_quiesce(struct nats_cmd *nc);
/* Flushes the replies (bounded), closes the connection and frees. Call after sequencer_stop()
 * (every command submitted by the listener has completed). NULL is a no-op. */
void nats_cmd_stop(struct nats_cmd *nc);
/* The ledger's share of each card command answered over NATS: from taking its message off the
 * connection to the publish of its reply (decision durable), refusals included. Any thread. */
struct latency_histogram;
void nats_cmd_latency_read(const struct nats_cmd *nc, struct latency_histogram *out);
/* Gives GET /metrics the listener's ledger_card_command_seconds; NULL (the default) leaves it out.
 * Main thread; the listener must outlive the server's requests. */
void api_metrics_card_commands(struct api_server *srv, const struct nats_cmd *nc);

#endif
