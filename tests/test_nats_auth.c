/*
 * test_nats_auth.c: NATS commands are authenticated by the NATS server (docs/SECURITY.md): users
 * with subject permissions; only the card processor's user may publish ledger.cmd.card.>, and
 * ledgerd connects with its own credentials in its --nats URL. A real nats-server with a config.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <nats/nats.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/harness.h"

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    bind(fd, (struct sockaddr *)&sa, sizeof sa);
    getsockname(fd, (struct sockaddr *)&sa, &len);
    close(fd);
    return ntohs(sa.sin_port);
}

/* nats-server with users and permissions; returns its pid once it accepts connections. */
static pid_t start_nats(const char *dir, int port)
{
    char conf[256], store[256], portbuf[16];
    snprintf(conf, sizeof conf, "%s/nats.conf", dir);
    snprintf(store, sizeof store, "%s/nats", dir);
    snprintf(portbuf, sizeof portbuf, "%d", port);
    FILE *f = fopen(conf, "w");
    cr_assert_not_null(f);
    fputs("authorization {\n"
          "  users = [\n"
          "    {user: ledgerd, password: l-secret, permissions: {publish: \">\", subscribe: \">\"}}\n"
          "    {user: processor, password: p-secret,\n"
          "     permissions: {publish: \"ledger.cmd.card.>\", subscribe: \"_INBOX.>\"}}\n"
          "    {user: reader, password: r-secret,\n"
          "     permissions: {publish: \"$JS.API.>\", subscribe: [\"_INBOX.>\", \"ledger.events.>\"]}}\n"
          "  ]\n"
          "}\n", f);
    fclose(f);
    pid_t pid = fork();
    if (pid == 0) {
        execlp("nats-server", "nats-server", "-c", conf, "-a", "127.0.0.1", "-p", portbuf, "-js", "-sd", store,
               (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 250; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        bool up = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
        close(fd);
        if (up)
            return pid;
        usleep(20 * 1000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

/* The processor's user reaches ledgerd (a reply comes back); a user without the publish
 * permission gets no answer; a connection without credentials is refused. */
Test(nats_auth, only_the_processor_may_send_card_commands, .timeout = 90)
{
    char tmp[64], data[128], url[128], purl[128], rurl[128], aurl[128];
    harness_tmpdir(tmp, sizeof tmp);
    snprintf(data, sizeof data, "%s/data", tmp);
    int port = free_port();
    pid_t nats = start_nats(tmp, port);
    cr_assert_gt(nats, 0, "nats-server with authorization starts");
    snprintf(url, sizeof url, "nats://ledgerd:l-secret@127.0.0.1:%d", port);
    snprintf(purl, sizeof purl, "nats://processor:p-secret@127.0.0.1:%d", port);
    snprintf(rurl, sizeof rurl, "nats://reader:r-secret@127.0.0.1:%d", port);
    snprintf(aurl, sizeof aurl, "nats://127.0.0.1:%d", port);
    struct ledgerd d;
    cr_assert(ledgerd_start(&d, data, url));

    natsConnection *pc = NULL, *rc = NULL, *ac = NULL;
    cr_assert_eq(natsConnection_ConnectTo(&pc, purl), NATS_OK);
    natsMsg *reply = NULL;
    natsStatus s = NATS_NO_RESPONDERS;
    for (int i = 0; i < 60 && s != NATS_OK; i++) /* until ledgerd's listener has subscribed */
        if ((s = natsConnection_RequestString(&reply, pc, "ledger.cmd.card.authorize", "{}", 1000)) != NATS_OK)
            usleep(50 * 1000);
    cr_assert_eq(s, NATS_OK, "the processor is answered: %s", natsStatus_GetText(s));
    cr_expect(strstr(natsMsg_GetData(reply), "\"declined\"") != NULL, "bad input is declined: %s",
              natsMsg_GetData(reply));
    natsMsg_Destroy(reply);

    cr_assert_eq(natsConnection_ConnectTo(&rc, rurl), NATS_OK);
    s = natsConnection_RequestString(&reply, rc, "ledger.cmd.card.authorize", "{}", 1000);
    cr_expect_neq(s, NATS_OK, "a user without the permission is not answered");
    if (s == NATS_OK)
        natsMsg_Destroy(reply);
    cr_expect_neq(natsConnection_ConnectTo(&ac, aurl), NATS_OK, "no credentials, no connection");

    natsConnection_Destroy(pc);
    natsConnection_Destroy(rc);
    natsConnection_Destroy(ac);
    ledgerd_stop(&d);
    FILE *log = fopen(d.log_path, "r");
    cr_assert_not_null(log);
    char line[1024];
    bool leaked = false, named = false;
    while (fgets(line, sizeof line, log)) {
        leaked |= strstr(line, "l-secret") != NULL;
        named |= strstr(line, "***@127.0.0.1") != NULL;
    }
    fclose(log);
    cr_expect_not(leaked, "the NATS password never reaches the log");
    cr_expect(named, "the log names the server with its credentials masked");
    kill(nats, SIGTERM);
    waitpid(nats, NULL, 0);
    harness_rmdir(tmp);
}
