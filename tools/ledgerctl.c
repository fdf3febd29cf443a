/*
 * ledgerctl.c: the operator and auditor tool.
 *
 *   ledgerctl verify --data DIR [--skip-projections] [--statement-period P] [--statement-tz ZONE]
 *   ledgerctl replay --data DIR [--from SEQ] [--account ID] [--type NAME] [--from-time T] [--to-time T]
 *   ledgerctl rebuild --data DIR [--projection balances|operations|all] [--statement-period P]
 *                     [--statement-tz ZONE]
 *   ledgerctl client add|list|revoke --data DIR ...; ledgerctl keys rotate --data DIR (clients.c)
 *   ledgerctl bench transfers|http|verify ...   (see ledgerctl bench --help)
 *   ledgerctl bench reads --url HOST:PORT [--rate R] [--seconds S] [--clients C]
 *   ledgerctl bench cards --nats URL --url HOST:PORT [--rate R|max] [--seconds S] [--cards N]
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tools/tools.h"

const char *tool_flag(int argc, char **argv, const char *name, bool *bad)
{
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], name) != 0)
            continue;
        if (i + 1 >= argc) {
            fprintf(stderr, "ledgerctl: %s needs a value\n", name);
            *bad = true;
            return NULL;
        }
        return argv[i + 1];
    }
    return NULL;
}

const char *tool_auth_header(void)
{
    static char header[1200];
    const char *token = getenv("LEDGER_TOKEN");
    if (token == NULL || token[0] == '\0' || strlen(token) > 1100)
        return "";
    if (header[0] == '\0')
        snprintf(header, sizeof header, "Authorization: Bearer %s\r\n", token);
    return header;
}

double tool_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: ledgerctl COMMAND [options]\n"
               "  verify --data DIR [--skip-projections]     hash chain, gap-free sequence, double entry,\n"
               "                                             stored balances = balances replayed from events,\n"
               "                                             operations projection = projection rebuilt\n"
               "  replay --data DIR [--from SEQ] [--account ID] [--type NAME] [--from-time T] [--to-time T]\n"
               "                                             events as JSON lines (times RFC 3339, [from, to))\n"
               "  rebuild --data DIR [--projection balances|operations|all]\n"
               "                                             rebuilds projections of a stopped ledger from its log\n"
               "    (verify and rebuild take --statement-period daily|weekly|monthly and --statement-tz ZONE:\n"
               "     the values ledgerd runs with; defaults monthly, Europe/Paris)\n"
               "  client add --data DIR --name NAME --role ROLE [--third-party ID]\n"
               "                                             registers an API client on a stopped ledger; prints\n"
               "                                             {client_id, client_secret} once\n"
               "  client list --data DIR                     the clients (never their secrets)\n"
               "  client revoke --data DIR --client ID       revokes a client (stopped ledger)\n"
               "  keys rotate --data DIR                     new token-signing key in DIR/jwt-keys\n"
               "  bench reads --url HOST:PORT [--rate R] [--seconds S] [--clients C]\n"
               "                                             operations pages (C connections, default 16)\n"
               "                                             and balance-at lookups\n"
               "  bench transfers|http|verify [options]      benchmarks (ledgerctl bench --help)\n"
               "  bench cards --nats URL --url HOST:PORT [--rate R|max] [--seconds S] [--cards N] [--window W]\n"
               "              [--dump FILE]\n"
               "                                             card authorizations over NATS request-reply\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "verify") == 0)
        return cmd_verify(argc - 2, argv + 2);
    if (strcmp(argv[1], "replay") == 0)
        return cmd_replay(argc - 2, argv + 2);
    if (strcmp(argv[1], "rebuild") == 0)
        return cmd_rebuild(argc - 2, argv + 2);
    if (strcmp(argv[1], "client") == 0)
        return cmd_client(argc - 2, argv + 2);
    if (strcmp(argv[1], "keys") == 0)
        return cmd_keys(argc - 2, argv + 2);
    if (strcmp(argv[1], "bench") == 0 && argc >= 3 && strcmp(argv[2], "cards") == 0)
        return cmd_bench_cards(argc - 3, argv + 3);
    if (strcmp(argv[1], "bench") == 0)
        return cmd_bench(argc - 2, argv + 2);
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "ledgerctl: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
