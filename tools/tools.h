/*
 * tools.h: the subcommands of ledgerctl (one file each), dispatched by ledgerctl.c.
 * Each returns the process exit status: 0 success, 1 a problem found, 2 bad usage.
 */
#ifndef LEDGER_TOOLS_H
#define LEDGER_TOOLS_H

#include <stdbool.h>

int cmd_verify(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_bench_cards(int argc, char **argv); /* ledgerctl bench cards (bench_cards.c) */

/* Returns the value of --name in argv (or NULL); sets *bad on a flag without its value. */
const char *tool_flag(int argc, char **argv, const char *name, bool *bad);
double tool_now_s(void);

#endif
