/*
 * tools.h: the subcommands of ledgerctl (one file each), dispatched by ledgerctl.c.
 * Each returns the process exit status: 0 success, 1 a problem found, 2 bad usage.
 */
#ifndef LEDGER_TOOLS_H
#define LEDGER_TOOLS_H

#include <stdbool.h>
#include <stdint.h>

#include "projections/projections.h"

struct store;

int cmd_verify(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_rebuild(int argc, char **argv); /* ledgerctl rebuild (rebuild.c) */
int cmd_bench(int argc, char **argv);
int cmd_bench_cards(int argc, char **argv); /* ledgerctl bench cards (bench_cards.c) */
int cmd_client(int argc, char **argv);      /* ledgerctl client add|list|revoke (clients.c) */
int cmd_keys(int argc, char **argv);        /* ledgerctl keys rotate (clients.c) */

/* Returns the value of --name in argv (or NULL); sets *bad on a flag without its value. */
const char *tool_flag(int argc, char **argv, const char *name, bool *bad);
double tool_now_s(void);
/* "Authorization: Bearer <token>\r\n" from env LEDGER_TOKEN (the benchmarks' HTTP requests), or "". */
const char *tool_auth_header(void);

/* Progress of a long pass, shown on stderr only when it is a terminal (rebuild.c). */
struct tool_progress {
    const char *name;
    uint64_t total; /* events expected (the head seq) */
    double t0, last;
    bool tty;
};
void tool_progress_init(struct tool_progress *p, const char *name, uint64_t total);
/* "\r<name>: done/total events, N events/s, ETA S s", at most every 0.5 s (always when final). */
void tool_progress_show(struct tool_progress *p, uint64_t done, bool final);

/* --statement-period (default monthly) into *kind, and --statement-tz (default Europe/Paris) into
 * TZ (setenv + tzset): statement periods as ledgerd computes them. false (printed) on a bad value;
 * *bad set on a flag without its value. Main thread, before any other thread. */
bool tool_statement_config(int argc, char **argv, enum period_kind *kind, bool *bad);

/* The log of src from seq `from` through upto (UINT64_MAX: the end), read and decoded on a thread
 * of its own (tools/event_feed.c). event_feed_next: the next event in seq order (valid until the
 * next call), NULL at the end; event_feed_end then says why: LEDGER_ERR_OK (the end of the log or
 * upto), LEDGER_ERR_DECODE (*bad_seq: the record that does not decode) or LEDGER_ERR_IO. */
struct event_feed;
struct event_feed *event_feed_start(struct store *src, uint64_t from, uint64_t upto);
const struct event *event_feed_next(struct event_feed *f);
enum ledger_err event_feed_end(struct event_feed *f, uint64_t *bad_seq);
void event_feed_stop(struct event_feed *f);

/* Applies events 1..upto (UINT64_MAX: all) of src's log to the empty catch-up projection of dst
 * (a directory of dst_dir's file system holds the bulk-load files): operation rows bulk loaded,
 * the others in batches, the checkpoint last; src and dst may be the same store. *events =
 * events applied. 0, or 1 when an event does not decode or apply or a load fails (printed; no
 * checkpoint written). dst must be writable; its writes are durable once the caller flushes. */
int tool_catchup_build(struct store *src, struct store *dst, const char *dst_dir, enum period_kind kind,
                       uint64_t upto, struct tool_progress *pr, uint64_t *events);

struct store;
/* After opening: adopt the ledger's stored statement configuration (false: flags contradict it). */
bool tool_statement_adopt(int argc, char **argv, struct store *st, enum period_kind *kind);

#endif
