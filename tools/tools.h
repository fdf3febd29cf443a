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

/* Applies events 1..upto (UINT64_MAX: all) of src's log to the catch-up projection of dst, which
 * starts from what dst holds (empty for a rebuild), in batches committed with their checkpoint;
 * src and dst may be the same store. *events = events applied. 0, or 1 when an event does not
 * decode or apply (printed). dst must be writable. */
int tool_catchup_build(struct store *src, struct store *dst, enum period_kind kind, uint64_t upto,
                       struct tool_progress *pr, uint64_t *events);

struct store;
/* After opening: adopt the ledger's stored statement configuration (false: flags contradict it). */
bool tool_statement_adopt(int argc, char **argv, struct store *st, enum period_kind *kind);

#endif
