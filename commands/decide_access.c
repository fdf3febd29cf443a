/*
 * decide_access.c: API clients and third parties (docs/SECURITY.md). Pure, like decide.c.
 *
 * Checks, in this order; each failure has its own code and field:
 *   client.register  client_id well-formed (FIELD_INVALID), name non-empty UTF-8 without control
 *                    characters (FIELD_INVALID), role known (ROLE_UNKNOWN), role third_party needs
 *                    a third_party_id (THIRD_PARTY_ID_REQUIRED) and only it may carry one
 *                    (FIELD_INVALID), the id is new (CLIENT_ID_TAKEN). Names need not be unique.
 *   client.revoke    client known (CLIENT_NOT_FOUND), not revoked yet (CLIENT_REVOKED).
 *   third_party.declare  third_party_id present (THIRD_PARTY_ID_REQUIRED) and well-formed
 *                    (FIELD_INVALID), rights non-empty (RIGHTS_EMPTY) and known (FIELD_INVALID),
 *                    account known (ACCOUNT_NOT_FOUND), a customer account (ACCOUNT_KIND_INVALID),
 *                    not closed (ACCOUNT_CLOSED). Declaring again replaces the rights.
 *   third_party.remove   account known (ACCOUNT_NOT_FOUND), declared (THIRD_PARTY_NOT_DECLARED).
 * The credential row a registration carries (cmd.rows) is written only when it succeeds.
 */
#include <stdio.h>
#include <string.h>

#include "commands/internal.h"

static void reject(struct cmd *c, enum ledger_err err, const char *field)
{
    c->result = err;
    c->field = field;
}

/* A display name: 1..max bytes of UTF-8 without control characters. */
static bool name_valid(const char *name, size_t cap)
{
    size_t n = strnlen(name, cap);
    if (n == 0 || n == cap || !ledger_utf8_valid(name, n))
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            return false;
    return true;
}

static struct ledger_id named_stream(const char *kind, const char *id)
{
    char name[16 + LEDGER_CLIENT_ID_MAX + LEDGER_THIRD_PARTY_ID_MAX];
    snprintf(name, sizeof name, "%s:%s", kind, id);
    return ledger_id_from_name(name);
}

static void decide_register(struct ledger_state *st, struct cmd *c, struct event_sink *sink)
{
    const struct cmd_client_register *r = &c->u.client_register;
    enum client_role role;
    if (!access_id_valid(r->client_id, LEDGER_CLIENT_ID_MAX))
        return reject(c, LEDGER_ERR_FIELD_INVALID, "client_id");
    if (!name_valid(r->name, sizeof r->name))
        return reject(c, LEDGER_ERR_FIELD_INVALID, "name");
    if (!client_role_parse(client_role_name(r->role), &role))
        return reject(c, LEDGER_ERR_ROLE_UNKNOWN, "role");
    bool has_tp = strnlen(r->third_party_id, sizeof r->third_party_id) > 0;
    if (role == ROLE_THIRD_PARTY && !has_tp)
        return reject(c, LEDGER_ERR_THIRD_PARTY_ID_REQUIRED, "third_party_id");
    if (has_tp && (role != ROLE_THIRD_PARTY || !access_id_valid(r->third_party_id, LEDGER_THIRD_PARTY_ID_MAX)))
        return reject(c, LEDGER_ERR_FIELD_INVALID, "third_party_id");
    if (access_client(st, r->client_id) != NULL)
        return reject(c, LEDGER_ERR_CLIENT_ID_TAKEN, "client_id");
    struct ledger_id stream = named_stream("client", r->client_id);
    struct event *ev = decide_event(sink, c, EVENT_CLIENT_REGISTERED, &stream, 1);
    struct ev_client_registered *d = &ev->data.client_registered;
    /* copies up to the NUL only: the bytes after it stay zero, as a decoded event has them */
    snprintf(d->client_id, sizeof d->client_id, "%s", r->client_id);
    snprintf(d->name, sizeof d->name, "%s", r->name);
    d->role = (uint8_t)role;
    snprintf(d->third_party_id, sizeof d->third_party_id, "%s", r->third_party_id);
    decide_apply_last(st, sink);
}

static void decide_revoke(struct ledger_state *st, struct cmd *c, struct event_sink *sink)
{
    const struct cmd_client_revoke *r = &c->u.client_revoke;
    if (!access_id_valid(r->client_id, LEDGER_CLIENT_ID_MAX))
        return reject(c, LEDGER_ERR_CLIENT_NOT_FOUND, "client_id");
    const struct client *cl = access_client(st, r->client_id);
    if (cl == NULL)
        return reject(c, LEDGER_ERR_CLIENT_NOT_FOUND, "client_id");
    if (cl->revoked)
        return reject(c, LEDGER_ERR_CLIENT_REVOKED, "client_id");
    struct ledger_id stream = named_stream("client", cl->id);
    struct event *ev = decide_event(sink, c, EVENT_CLIENT_REVOKED, &stream, cl->version + 1);
    memcpy(ev->data.client_revoked.client_id, cl->id, sizeof ev->data.client_revoked.client_id);
    decide_apply_last(st, sink);
}

/* The account checks of a declaration; LEDGER_ERR_OK when tp may be declared on it. */
static enum ledger_err check_declare_account(const struct account *a)
{
    if (a == NULL)
        return LEDGER_ERR_ACCOUNT_NOT_FOUND;
    if (a->kind != ACCOUNT_KIND_CUSTOMER)
        return LEDGER_ERR_ACCOUNT_KIND_INVALID;
    if (a->state == ACCOUNT_STATE_CLOSED)
        return LEDGER_ERR_ACCOUNT_CLOSED;
    return LEDGER_ERR_OK;
}

static void decide_third_party(struct ledger_state *st, struct cmd *c, struct event_sink *sink)
{
    struct cmd_third_party *t = &c->u.third_party;
    bool declare = c->type == CMD_THIRD_PARTY_DECLARE;
    uint8_t rights = 0;
    struct account *a = ledger_state_account(st, &t->account_id);
    if (declare) {
        if (strnlen(t->third_party_id, sizeof t->third_party_id) == 0)
            return reject(c, LEDGER_ERR_THIRD_PARTY_ID_REQUIRED, "third_party_id");
        if (!access_id_valid(t->third_party_id, LEDGER_THIRD_PARTY_ID_MAX))
            return reject(c, LEDGER_ERR_FIELD_INVALID, "third_party_id");
        if (t->rights == 0)
            return reject(c, LEDGER_ERR_RIGHTS_EMPTY, "rights");
        if ((t->rights & ~TP_RIGHTS_ALL) != 0)
            return reject(c, LEDGER_ERR_FIELD_INVALID, "rights");
        enum ledger_err err = check_declare_account(a);
        if (err != LEDGER_ERR_OK)
            return reject(c, err, "account_id");
    } else {
        if (a == NULL)
            return reject(c, LEDGER_ERR_ACCOUNT_NOT_FOUND, "account_id");
        if (!access_id_valid(t->third_party_id, LEDGER_THIRD_PARTY_ID_MAX) ||
            !access_third_party_rights(st, t->third_party_id, &t->account_id, &rights))
            return reject(c, LEDGER_ERR_THIRD_PARTY_NOT_DECLARED, "third_party_id");
    }
    struct ledger_id stream = named_stream("third_party", t->third_party_id);
    uint64_t ver = access_third_party_version(st, t->third_party_id) + 1;
    struct event *ev = decide_event(sink, c, declare ? EVENT_THIRD_PARTY_DECLARED : EVENT_THIRD_PARTY_REMOVED,
                                    &stream, ver);
    struct ev_third_party *d = &ev->data.third_party;
    d->account_id = t->account_id;
    snprintf(d->third_party_id, sizeof d->third_party_id, "%s", t->third_party_id);
    d->rights = declare ? t->rights : 0;
    decide_apply_last(st, sink);
    t->seq = ev->seq;
}

void decide_access(struct ledger_state *st, struct cmd *c, struct event_sink *sink)
{
    switch (c->type) {
    case CMD_CLIENT_REGISTER: decide_register(st, c, sink); break;
    case CMD_CLIENT_REVOKE: decide_revoke(st, c, sink); break;
    case CMD_THIRD_PARTY_DECLARE:
    case CMD_THIRD_PARTY_REMOVE: decide_third_party(st, c, sink); break;
    default: LEDGER_ASSERT(!"decide_access: not an access command");
    }
}
