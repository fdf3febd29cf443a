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

#endif
