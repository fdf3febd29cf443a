/*
 * nats_harness.h: a real nats-server with JetStream for integration tests.
 *
 * nats_harness_start() picks a free 127.0.0.1 port (binds port 0, reads it back, closes), runs
 * `nats-server -a 127.0.0.1 -p PORT -js -sd <dir>/nats-PORT` (output in <dir>/nats-PORT.log) and
 * waits, at most NATS_HARNESS_READY_MS, until it accepts TCP connections. The child gets SIGKILL if
 * the test process dies, so a failed test leaves no server behind. stop/kill/restart keep the port
 * and the store dir, for outage and crash tests.
 *
 * The stream helpers read the JetStream stream LEDGER (the outbox's) through one lazily opened
 * nats.c connection kept in the harness (no auto-reconnect: a closed connection is reopened at the
 * next call). Single-threaded: one test thread uses a harness.
 */
#ifndef LEDGER_TESTS_NATS_HARNESS_H
#define LEDGER_TESTS_NATS_HARNESS_H

#include <nats/nats.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define NATS_HARNESS_READY_MS 10000 /* start/restart: wait this long for the port to accept */
#define NATS_HARNESS_STOP_MS 5000   /* SIGTERM, then SIGKILL after this long */
#define NATS_HARNESS_POLL_MS 20
#define NATS_HARNESS_STREAM "LEDGER"
#define NATS_HARNESS_PATH_MAX 512

struct nats_harness {
    pid_t pid; /* 0 while stopped */
    int port;
    char url[64]; /* "nats://127.0.0.1:PORT" */
    char store_dir[NATS_HARNESS_PATH_MAX];
    char log_path[NATS_HARNESS_PATH_MAX];
    natsConnection *nc; /* client for the stream helpers; NULL until used */
    jsCtx *js;
};

/* Starts a server with its store in a new directory inside tmp_dir (which must exist). Returns
 * false (reason on stderr) when the binary is missing, the port is taken or it is not ready in
 * time; h is then stopped. */
bool nats_harness_start(struct nats_harness *h, const char *tmp_dir);
/* Graceful stop (SIGTERM: JetStream flushes its store), SIGKILL after NATS_HARNESS_STOP_MS.
 * Closes the helper client. No-op when stopped. */
void nats_harness_stop(struct nats_harness *h);
/* Crash: SIGKILL at once (what was acked but not flushed may be lost). */
void nats_harness_kill(struct nats_harness *h);
/* Starts the server again on the same port and store dir. false as for start. */
bool nats_harness_restart(struct nats_harness *h);
/* Stops the server and closes the client; h may be started again with nats_harness_start(). */
void nats_harness_release(struct nats_harness *h);

/* Creates stream LEDGER as the outbox does (subjects ledger.events.>, file storage) but with a
 * duplicate window of duplicates_ms (the server's default is 2 min), and with subject instead of
 * ledger.events.> when not NULL. false on any error, including a stream that already exists. */
bool nats_harness_create_stream(struct nats_harness *h, const char *subject, int64_t duplicates_ms);
/* Messages in stream LEDGER into *count (0 when the stream does not exist). false when the server
 * cannot be reached or answers an error. */
bool nats_harness_stream_count(struct nats_harness *h, uint64_t *count);
/* Message stream_seq (1-based) of stream LEDGER; the caller destroys it (natsMsg_Destroy). NULL
 * when absent or unreachable. */
natsMsg *nats_harness_stream_msg(struct nats_harness *h, uint64_t stream_seq);
/* The Ledger-Seq header of message stream_seq, parsed. false when absent or not a number. */
bool nats_harness_ledger_seq(struct nats_harness *h, uint64_t stream_seq, uint64_t *ledger_seq);
/* Polls every NATS_HARNESS_POLL_MS until the stream holds exactly want messages; false after
 * timeout_ms (the last count seen in *seen, if not NULL). */
bool nats_harness_wait_count(struct nats_harness *h, uint64_t want, int timeout_ms, uint64_t *seen);

#endif
