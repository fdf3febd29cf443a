/*
 * routes.c: the JSON contract of each route: parse and validate requests into commands, render
 * results, and serve reads from RocksDB (projection rows and the log).
 *
 * Validation errors are 422 with the offending field; malformed JSON is 400; business rejections
 * carry their stable code (events.h LEDGER_ERR_MAP). Amounts are JSON integers in minor units.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api/internal.h"
#include "store/store.h"


/* ---- replies ---------------------------------------------------------------------------------- */

void reply_text(struct reply *rep, int status, const char *content_type, char *body, size_t len)
{
    free(rep->body);
    rep->status = status;
    rep->body = body;
    rep->len = len;
    rep->content_type = content_type;
}

/* A document that could not be built or dumped (a string that is not UTF-8) is answered with a
 * fixed 500 body: input must never be able to stop the server. */
json_t *api_str_or_null(const char *s)
{
    return s[0] != '\0' ? json_string(s) : json_null();
}

const char *api_query_arg(struct request *r, const char *name)
{
    const char *v = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
    return v != NULL && v[0] != '\0' ? v : NULL;
}

bool api_iter_close(struct request *r, struct store_iter *it, json_t *drop1, json_t *drop2)
{
    bool failed = store_iter_failed(it);
    store_iter_free(it);
    if (!failed)
        return true;
    json_decref(drop1);
    json_decref(drop2);
    reply_error(&r->reply, LEDGER_ERR_IO, NULL, "a read of the store failed; the answer would be incomplete");
    return false;
}

void reply_json(struct reply *rep, int status, json_t *doc)
{
    char *text = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (text == NULL) {
        static const char fallback[] = "{\"error\":{\"code\":\"INTERNAL\",\"message\":\"the answer could not be "
                                       "rendered\",\"field\":null}}";
        text = strdup(fallback);
        LEDGER_ASSERT(text != NULL);
        status = 500;
    }
    reply_text(rep, status, "application/json", text, strlen(text));
}

/* The error shape. message and field may quote client input (jansson's parse errors do): when one
 * is not valid UTF-8 the stable message of the code is used instead, and the field is dropped. */
json_t *api_error_doc(enum ledger_err err, const char *field, const char *message)
{
    json_t *msg = message ? json_string(message) : NULL;
    json_t *fld = field ? json_string(field) : NULL;
    json_t *e = json_object();
    json_object_set_new(e, "code", json_string(ledger_err_name(err)));
    json_object_set_new(e, "message", msg ? msg : json_string(ledger_err_message(err)));
    json_object_set_new(e, "field", fld ? fld : json_null());
    json_t *doc = json_object();
    json_object_set_new(doc, "error", e);
    return doc;
}

void reply_error(struct reply *rep, enum ledger_err err, const char *field, const char *message)
{
    reply_json(rep, ledger_err_http_status(err), api_error_doc(err, field, message));
}

/* ---- request parsing -------------------------------------------------------------------------- */

struct parse_error {
    enum ledger_err err;
    const char *field;
};

#define PARSE_FAIL(pe, e, f) ((pe)->err = (e), (pe)->field = (f), false)

static bool get_string(json_t *obj, const char *key, bool required, size_t max, char *out, size_t cap,
                       struct parse_error *pe)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL || json_is_null(v)) {
        out[0] = '\0';
        return required ? PARSE_FAIL(pe, LEDGER_ERR_FIELD_MISSING, key) : true;
    }
    if (!json_is_string(v))
        return PARSE_FAIL(pe, LEDGER_ERR_FIELD_INVALID, key);
    size_t n = json_string_length(v);
    if (n > max || n >= cap)
        return PARSE_FAIL(pe, LEDGER_ERR_FIELD_TOO_LONG, key);
    const char *s = json_string_value(v);
    if (memchr(s, '\0', n) != NULL)
        return PARSE_FAIL(pe, LEDGER_ERR_FIELD_INVALID, key);
    if (required && n == 0)
        return PARSE_FAIL(pe, LEDGER_ERR_FIELD_MISSING, key);
    memcpy(out, s, n + 1);
    return true;
}

static bool get_id(json_t *obj, const char *key, bool required, struct ledger_id *out, bool *present,
                   struct parse_error *pe)
{
    char text[LEDGER_ID_TEXT_LEN + 2];
    if (!get_string(obj, key, required, LEDGER_ID_TEXT_LEN + 1, text, sizeof text, pe))
        return pe->err == LEDGER_ERR_FIELD_TOO_LONG ? PARSE_FAIL(pe, LEDGER_ERR_FIELD_INVALID, key) : false;
    if (present != NULL)
        *present = text[0] != '\0';
    if (text[0] == '\0')
        return true;
    if (!ledger_id_parse(text, strlen(text), out))
        return PARSE_FAIL(pe, LEDGER_ERR_FIELD_INVALID, key);
    return true;
}

static bool get_amount(json_t *obj, const char *key, bool required, bool positive, int64_t *out,
                       struct parse_error *pe)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL || json_is_null(v)) {
        *out = 0;
        return required ? PARSE_FAIL(pe, LEDGER_ERR_FIELD_MISSING, key) : true;
    }
    if (!json_is_integer(v))
        return PARSE_FAIL(pe, LEDGER_ERR_FIELD_INVALID, key);
    *out = (int64_t)json_integer_value(v);
    if (positive ? *out <= 0 : *out < 0)
        return PARSE_FAIL(pe, positive ? LEDGER_ERR_AMOUNT_NOT_POSITIVE : LEDGER_ERR_FIELD_INVALID, key);
    return true;
}

static bool get_currency(json_t *obj, char out[4], struct parse_error *pe)
{
    char text[8];
    if (!get_string(obj, "currency", true, 3, text, sizeof text, pe))
        return pe->err == LEDGER_ERR_FIELD_TOO_LONG ? PARSE_FAIL(pe, LEDGER_ERR_CURRENCY_UNKNOWN, "currency")
                                                     : false;
    if (money_currency_find(text) == NULL)
        return PARSE_FAIL(pe, LEDGER_ERR_CURRENCY_UNKNOWN, "currency");
    memcpy(out, text, 4);
    return true;
}

/* The key whose value sits at byte pos of body (for errors jansson reports by position). */
static const char *field_at(const char *body, size_t pos, char *out, size_t cap)
{
    out[0] = '\0';
    size_t i = pos;
    while (i > 0 && body[i - 1] != ':')
        i--;
    if (i == 0)
        return NULL;
    i--;
    while (i > 0 && body[i - 1] != '"')
        i--;
    size_t end = i > 0 ? i - 1 : 0;
    size_t start = end;
    while (start > 0 && body[start - 1] != '"')
        start--;
    if (end <= start || end - start >= cap)
        return NULL;
    memcpy(out, body + start, end - start);
    out[end - start] = '\0';
    return out;
}

/* Parses the body as a JSON object; on failure sets the reply (400, or 422 for an integer that
 * does not fit int64) and returns NULL. */
static json_t *parse_body(struct request *r)
{
    json_error_t je;
    const char *body = r->body ? r->body : "";
    json_t *doc = json_loadb(body, r->body_len, JSON_REJECT_DUPLICATES, &je);
    if (doc == NULL) {
        if (json_error_code(&je) == json_error_numeric_overflow) {
            static _Thread_local char field[64];
            reply_error(&r->reply, LEDGER_ERR_AMOUNT_OUT_OF_RANGE,
                        field_at(body, (size_t)je.position, field, sizeof field), NULL);
        } else {
            char msg[256];
            snprintf(msg, sizeof msg, "the body is not valid JSON: %s (line %d, column %d)", je.text, je.line,
                     je.column);
            reply_error(&r->reply, LEDGER_ERR_MALFORMED_JSON, NULL, msg);
        }
        return NULL;
    }
    if (!json_is_object(doc)) {
        json_decref(doc);
        reply_error(&r->reply, LEDGER_ERR_MALFORMED_JSON, NULL, "the body must be a JSON object");
        return NULL;
    }
    return doc;
}

/* ---- writes: body -> command ------------------------------------------------------------------ */

static bool parse_open(json_t *doc, struct cmd *c, struct parse_error *pe)
{
    struct cmd_open_account *o = &c->u.open;
    char kind[16];
    o->account_id = ledger_id_new_v7();
    o->kind = ACCOUNT_KIND_CUSTOMER;
    if (!get_string(doc, "holder_id", true, LEDGER_HOLDER_ID_MAX, o->holder_id, sizeof o->holder_id, pe) ||
        !get_currency(doc, o->currency, pe) ||
        !get_string(doc, "friendly_name", true, LEDGER_FRIENDLY_NAME_MAX, o->friendly_name,
                    sizeof o->friendly_name, pe) ||
        !get_amount(doc, "overdraft_limit", false, false, &o->overdraft_limit_minor, pe) ||
        !get_string(doc, "kind", false, 15, kind, sizeof kind, pe))
        return false;
    enum account_kind k;
    if (kind[0] != '\0') {
        if (!account_kind_parse(kind, &k))
            return PARSE_FAIL(pe, LEDGER_ERR_FIELD_INVALID, "kind");
        o->kind = (uint8_t)k;
    }
    if (strcmp(o->holder_id, LEDGER_INTERNAL_HOLDER) == 0)
        return PARSE_FAIL(pe, LEDGER_ERR_FIELD_INVALID, "holder_id"); /* reserved for the ledger */
    return true;
}

static bool parse_action(json_t *doc, struct request *r, struct parse_error *pe)
{
    struct cmd_account_action *a = &r->cmd.u.action;
    a->account_id = r->path_id;
    if (r->route == ROUTE_ACCOUNT_CLOSE)
        return true;
    char reason[16];
    if (!get_string(doc, "reason", true, 15, reason, sizeof reason, pe))
        return false;
    enum block_reason br;
    if (!block_reason_parse(reason, &br))
        return PARSE_FAIL(pe, LEDGER_ERR_FIELD_INVALID, "reason");
    a->reason = (uint8_t)br;
    return true;
}

/* One transfer object; prefix names fields of batch items ("transfers[3].amount"). */
static bool parse_transfer(json_t *doc, struct transfer_item *t, bool deposit, struct parse_error *pe)
{
    bool has_id = false;
    memset(t, 0, sizeof *t);
    t->kind = deposit ? TRANSFER_KIND_DEPOSIT : TRANSFER_KIND_TRANSFER;
    if (!get_id(doc, "id", false, &t->id, &has_id, pe))
        return false;
    if (!has_id)
        t->id = ledger_id_new_v7();
    if (deposit) {
        if (!get_id(doc, "account_id", true, &t->credit_account_id, NULL, pe))
            return false;
    } else if (!get_id(doc, "debit_account_id", true, &t->debit_account_id, NULL, pe) ||
               !get_id(doc, "credit_account_id", true, &t->credit_account_id, NULL, pe)) {
        return false;
    }
    if (!get_amount(doc, "amount", true, true, &t->amount_minor, pe) || !get_currency(doc, t->currency, pe) ||
        !get_string(doc, "reference", false, LEDGER_REFERENCE_MAX, t->reference, sizeof t->reference, pe))
        return false;
    if (!deposit && ledger_id_equal(&t->debit_account_id, &t->credit_account_id))
        return PARSE_FAIL(pe, LEDGER_ERR_SAME_ACCOUNT, "credit_account_id");
    return true;
}

static bool parse_batch(json_t *doc, struct cmd *c, struct parse_error *pe, char *field, size_t field_cap)
{
    json_t *arr = json_object_get(doc, "transfers");
    json_t *linked = json_object_get(doc, "linked");
    if (arr == NULL)
        return PARSE_FAIL(pe, LEDGER_ERR_FIELD_MISSING, "transfers");
    if (!json_is_array(arr))
        return PARSE_FAIL(pe, LEDGER_ERR_FIELD_INVALID, "transfers");
    if (linked != NULL && !json_is_boolean(linked) && !json_is_null(linked))
        return PARSE_FAIL(pe, LEDGER_ERR_FIELD_INVALID, "linked");
    size_t n = json_array_size(arr);
    if (n == 0)
        return PARSE_FAIL(pe, LEDGER_ERR_BATCH_EMPTY, "transfers");
    if (n > LEDGER_BATCH_TRANSFERS_MAX)
        return PARSE_FAIL(pe, LEDGER_ERR_BATCH_TOO_LARGE, "transfers");
    struct transfer_item *items = calloc(n, sizeof *items);
    LEDGER_ASSERT(items != NULL);
    c->u.transfers.items = items;
    c->u.transfers.count = n;
    c->u.transfers.linked = json_is_true(linked);
    for (size_t i = 0; i < n; i++) {
        json_t *item = json_array_get(arr, i);
        if (!json_is_object(item)) {
            snprintf(field, field_cap, "transfers[%zu]", i);
            return PARSE_FAIL(pe, LEDGER_ERR_FIELD_INVALID, field);
        }
        if (!parse_transfer(item, &items[i], false, pe)) {
            snprintf(field, field_cap, "transfers[%zu].%s", i, pe->field);
            pe->field = field;
            return false;
        }
    }
    return true;
}

/* SHA-256 of method, path and body: what "the same request" means for an idempotency key. */
static void request_hash(struct request *r, const char *url, uint8_t out[LEDGER_HASH_LEN])
{
    char head[API_URL_MAX + 8];
    int n = snprintf(head, sizeof head, "POST %s\n", url);
    ledger_sha256_2(head, (size_t)n, r->body ? r->body : "", r->body_len, out);
}

static bool parse_idempotency(struct request *r, struct parse_error *pe)
{
    const char *key = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Idempotency-Key");
    if (key == NULL)
        return true;
    size_t n = strlen(key), cn = strlen(r->who.client_id); /* keys are scoped by client */
    if (n == 0 || n > LEDGER_IDEMPOTENCY_KEY_MAX)
        return PARSE_FAIL(pe, LEDGER_ERR_FIELD_INVALID, "Idempotency-Key");
    memcpy(r->cmd.idem_key, r->who.client_id, cn);
    r->cmd.idem_key[cn] = 0;
    memcpy(r->cmd.idem_key + cn + 1, key, n);
    r->cmd.idem_key_len = cn + 1 + n;
    r->cmd.has_idempotency = true;
    return true;
}

static bool content_type_ok(struct request *r)
{
    const char *ct = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    return ct == NULL || strncasecmp(ct, "application/json", 16) == 0;
}

static bool build_command(struct request *r, json_t *doc, struct parse_error *pe, char *field, size_t cap)
{
    struct cmd *c = &r->cmd;
    switch (r->route) {
    case ROUTE_ACCOUNTS_CREATE: c->type = CMD_OPEN_ACCOUNT; return parse_open(doc, c, pe);
    case ROUTE_ACCOUNT_BLOCK: c->type = CMD_BLOCK_ACCOUNT; return parse_action(doc, r, pe);
    case ROUTE_ACCOUNT_UNBLOCK: c->type = CMD_UNBLOCK_ACCOUNT; return parse_action(doc, r, pe);
    case ROUTE_ACCOUNT_CLOSE: c->type = CMD_CLOSE_ACCOUNT; return parse_action(doc, r, pe);
    case ROUTE_DEPOSITS:
    case ROUTE_TRANSFERS_CREATE:
        c->type = CMD_TRANSFERS;
        c->u.transfers.items = &r->one;
        c->u.transfers.count = 1;
        return parse_transfer(doc, &r->one, r->route == ROUTE_DEPOSITS, pe);
    case ROUTE_TRANSFERS_BATCH: c->type = CMD_TRANSFERS; return parse_batch(doc, c, pe, field, cap);
    default: return PARSE_FAIL(pe, LEDGER_ERR_NOT_FOUND, NULL);
    }
}

bool route_parse(struct request *r)
{
    if (ROUTE_IS_CARD(r->route))
        return card_route_parse(r);
    bool empty_ok = r->route == ROUTE_ACCOUNT_CLOSE && r->body_len == 0;
    json_t *doc = empty_ok ? json_object() : parse_body(r);
    if (doc == NULL)
        return false;
    struct parse_error pe = {LEDGER_ERR_OK, NULL};
    static _Thread_local char field[64];
    bool ok = build_command(r, doc, &pe, field, sizeof field);
    json_decref(doc);
    if (!ok)
        reply_error(&r->reply, pe.err, pe.field, NULL);
    return ok;
}

void route_write(struct request *r)
{
    if (!content_type_ok(r))
        return reply_error(&r->reply, LEDGER_ERR_UNSUPPORTED_MEDIA_TYPE, "Content-Type", NULL);
    r->cmd.cmd_id = ledger_id_new_v7();
    /* the actor ("<client id>:<role>") is set by the server once access is checked */
    if (!route_parse(r))
        return;
    struct parse_error pe = {LEDGER_ERR_OK, NULL};
    if (!parse_idempotency(r, &pe))
        return reply_error(&r->reply, pe.err, pe.field, NULL);
    request_hash(r, r->url, r->cmd.request_hash);
}

/* ---- rendering -------------------------------------------------------------------------------- */

json_t *api_id_json(const struct ledger_id *id)
{
    char text[LEDGER_ID_TEXT_LEN + 1];
    ledger_id_format(id, text);
    return json_string(text);
}


static json_t *account_doc(const struct account *a)
{
    json_t *blocks = json_array();
    for (unsigned bit = 1; bit <= BLOCK_LOST; bit <<= 1)
        if (a->blocks & bit)
            json_array_append_new(blocks, json_string(block_reason_name((enum block_reason)bit)));
    json_t *doc = json_pack("{s:o, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:I, s:o, s:I, s:I}", "id", api_id_json(&a->id),
                            "iban", a->iban, "holder_id", a->holder_id, "currency", a->currency,
                            "friendly_name", a->friendly_name, "kind", account_kind_name(a->kind), "state",
                            account_state_name(a), "blocks", blocks, "overdraft_limit",
                            (json_int_t)a->overdraft_limit_minor, "created_at", api_time_json(a->opened_ts_ns),
                            "version", (json_int_t)a->version, "seq", (json_int_t)a->last_seq);
    LEDGER_ASSERT(doc != NULL);
    return doc;
}

/* A transfer; executed_at only when known (reads of the log; a write's answer carries seq). */
static json_t *transfer_doc(const struct ev_transfer_executed *t, uint64_t seq, int64_t ts_ns)
{
    json_t *doc = json_pack("{s:o, s:s, s:s, s:o, s:o, s:I, s:s, s:s, s:I}", "id", api_id_json(&t->transfer_id),
                            "status", "executed", "kind", transfer_kind_name(t->kind), "debit_account_id",
                            api_id_json(&t->debit_account_id), "credit_account_id", api_id_json(&t->credit_account_id),
                            "amount", (json_int_t)t->amount_minor, "currency", t->currency, "reference",
                            t->reference, "seq", (json_int_t)seq);
    LEDGER_ASSERT(doc != NULL);
    if (ts_ns > 0)
        json_object_set_new(doc, "executed_at", api_time_json(ts_ns));
    return doc;
}

static json_t *batch_doc(const struct cmd_transfers *tr)
{
    json_t *results = json_array();
    for (size_t i = 0; i < tr->count; i++) {
        const struct transfer_item *t = &tr->items[i];
        json_t *item = json_pack("{s:I, s:o, s:s}", "index", (json_int_t)i, "id", api_id_json(&t->id), "status",
                                 t->result == LEDGER_ERR_OK ? "executed" : "rejected");
        if (t->result == LEDGER_ERR_OK)
            json_object_set_new(item, "seq", json_integer((json_int_t)t->seq));
        else
        {
            json_t *e = api_error_doc(t->result, t->field, NULL);
            json_object_update(item, e);
            json_decref(e);
        }
        json_array_append_new(results, item);
    }
    return json_pack("{s:b, s:o}", "linked", tr->linked, "results", results);
}

static json_t *result_doc(const struct cmd *c, int *status)
{
    const struct request *r = c->ctx;
    if (c->type >= CMD_CARD_ISSUE && c->type <= CMD_CARD_REFUND)
        return card_result_doc(c, r->op_id, status);
    if (c->result != LEDGER_ERR_OK) {
        *status = ledger_err_http_status(c->result);
        return api_error_doc(c->result, c->field, NULL);
    }
    if (c->type != CMD_TRANSFERS) { /* the account commands: open, block, unblock, close */
        *status = c->type == CMD_OPEN_ACCOUNT ? 201 : 200;
        return account_doc(&c->account);
    }
    if (r->route == ROUTE_TRANSFERS_BATCH) {
        *status = 200;
        return batch_doc(&c->u.transfers);
    }
    const struct transfer_item *t = &c->u.transfers.items[0];
    if (t->result != LEDGER_ERR_OK) {
        *status = ledger_err_http_status(t->result);
        return api_error_doc(t->result, t->field, NULL);
    }
    struct ev_transfer_executed d;
    transfer_item_event(t, &d);
    *status = 201;
    return transfer_doc(&d, t->seq, 0);
}

size_t api_doc_dump(json_t *doc, char *out, size_t cap)
{
    size_t n = json_dumpb(doc, out, cap, JSON_COMPACT);
    json_decref(doc);
    return n <= cap ? n : 0;
}

size_t route_render(const struct cmd *c, int *status, char *out, size_t cap)
{
    return api_doc_dump(result_doc(c, status), out, cap);
}

void reply_rendered(struct request *r)
{
    int status = 0;
    json_t *doc = result_doc(&r->cmd, &status);
    reply_json(&r->reply, status, doc);
}

/* ---- reads ------------------------------------------------------------------------------------ */

/* An unsigned query argument in [min, max] (dflt when absent or empty); false with r->reply set
 * (422 FIELD_INVALID naming it) otherwise. */
bool api_query_u64(struct request *r, const char *name, uint64_t dflt, uint64_t min, uint64_t max, uint64_t *out)
{
    const char *v = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
    *out = dflt;
    if (v == NULL || v[0] == '\0')
        return true;
    char *end = NULL;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno != 0 || *end != '\0' || v[0] < '0' || v[0] > '9' || n < min || n > max) {
        reply_error(&r->reply, LEDGER_ERR_FIELD_INVALID, name, NULL);
        return false;
    }
    *out = n;
    return true;
}

static bool load_account(struct request *r, const struct ledger_id *id, struct account *out)
{
    char *val = NULL;
    size_t vlen = 0;
    enum ledger_err err = store_get(r->srv->store, STORE_CF_PROJ_ACCOUNTS, id->b, 16, &val, &vlen);
    bool ok = err == LEDGER_ERR_OK && account_row_decode(val, vlen, out);
    free(val);
    val = NULL;
    if (ok) { /* balances live in their own row; both are written in the same batch */
        err = store_get(r->srv->store, STORE_CF_PROJ_BALANCES, id->b, 16, &val, &vlen);
        ok = err == LEDGER_ERR_OK && balance_row_decode(val, vlen, out);
        free(val);
    }
    if (!ok)
        reply_error(&r->reply, err == LEDGER_ERR_IO ? LEDGER_ERR_IO : LEDGER_ERR_ACCOUNT_NOT_FOUND, "account_id",
                    NULL);
    return ok;
}

static void read_balance(struct request *r)
{
    struct account a;
    struct balance b;
    if (!load_account(r, &r->path_id, &a))
        return;
    if (!account_balance(&a, &b))
        return reply_error(&r->reply, LEDGER_ERR_BALANCE_OVERFLOW, NULL, NULL);
    reply_json(&r->reply, 200,
               json_pack("{s:o, s:s, s:I, s:I, s:I, s:I}", "account_id", api_id_json(&a.id), "currency", a.currency,
                         "posted", (json_int_t)b.posted, "pending", (json_int_t)b.pending, "available",
                         (json_int_t)b.available, "seq", (json_int_t)a.last_seq));
}

static void read_accounts(struct request *r)
{
    const char *holder = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "holder_id");
    const char *cursor = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "cursor");
    uint64_t limit;
    struct ledger_id after;
    if (holder == NULL || holder[0] == '\0')
        return reply_error(&r->reply, LEDGER_ERR_FIELD_MISSING, "holder_id", NULL);
    if (strlen(holder) > LEDGER_HOLDER_ID_MAX)
        return reply_error(&r->reply, LEDGER_ERR_FIELD_TOO_LONG, "holder_id", NULL);
    if (cursor != NULL && cursor[0] != '\0' && !ledger_id_parse(cursor, strlen(cursor), &after))
        return reply_error(&r->reply, LEDGER_ERR_FIELD_INVALID, "cursor", NULL);
    if (!api_query_u64(r, "limit", 100, 1, LEDGER_ACCOUNTS_PAGE_MAX, &limit))
        return;
    uint8_t prefix[LEDGER_HOLDER_ID_MAX + 17];
    size_t plen = holder_key(holder, NULL, prefix, sizeof prefix);
    struct store_iter *it = store_iter_prefix(r->srv->store, STORE_CF_PROJ_HOLDERS, prefix, plen);
    const uint8_t *k, *v;
    size_t kl, vl;
    bool skipping = cursor != NULL && cursor[0] != '\0';
    json_t *list = json_array();
    json_t *next = json_null();
    struct ledger_id prev = {{0}};
    while (store_iter_next(it, &k, &kl, &v, &vl)) {
        struct ledger_id id;
        if (kl != plen + 16)
            continue;
        memcpy(id.b, k + plen, 16);
        if (skipping) {
            skipping = !ledger_id_equal(&id, &after);
            continue;
        }
        if (!access_account_visible(r, &id))
            continue; /* a third party lists only the accounts it is declared on */
        if (json_array_size(list) == limit) {
            json_decref(next);
            next = api_id_json(&prev);
            break;
        }
        struct account a;
        if (load_account(r, &id, &a))
            json_array_append_new(list, account_doc(&a));
        prev = id;
    }
    free(r->reply.body); /* an account that did not load left its error there */
    r->reply = (struct reply){.body = NULL};
    if (!api_iter_close(r, it, list, next))
        return;
    reply_json(&r->reply, 200, json_pack("{s:o, s:o}", "accounts", list, "next_cursor", next));
}

static void read_transfer(struct request *r)
{
    uint64_t seq;
    uint8_t rec[LEDGER_RECORD_BYTES_MAX];
    size_t len = 0;
    struct event ev;
    if (!store_get_stream(r->srv->store, &r->path_id, 1, &seq) ||
        store_get_event(r->srv->store, seq, rec, sizeof rec, &len) != LEDGER_ERR_OK ||
        event_decode(rec, len, &ev) != LEDGER_ERR_OK || ev.type != EVENT_TRANSFER_EXECUTED)
        return reply_error(&r->reply, LEDGER_ERR_TRANSFER_NOT_FOUND, "id", NULL);
    reply_json(&r->reply, 200, transfer_doc(&ev.data.transfer, ev.seq, ev.ts_ns));
}

static void read_events(struct request *r)
{
    uint64_t after, limit;
    if (!api_query_u64(r, "after_seq", 0, 0, UINT64_MAX - 1, &after) ||
        !api_query_u64(r, "limit", 100, 1, LEDGER_EVENTS_PAGE_MAX, &limit))
        return;
    char *buf = NULL;
    size_t blen = 0;
    FILE *f = open_memstream(&buf, &blen);
    LEDGER_ASSERT(f != NULL);
    fputs("{\"events\":[", f);
    struct store_iter *it = store_iter_events(r->srv->store, after + 1);
    const uint8_t *k, *v;
    size_t kl, vl;
    uint64_t n = 0, last = after;
    char json[LEDGER_EVENT_JSON_MAX];
    struct event ev;
    bool decoded = true;
    while (n < limit && store_iter_next(it, &k, &kl, &v, &vl)) {
        if (!(decoded = event_decode(v, vl, &ev) == LEDGER_ERR_OK && event_to_json(&ev, json, sizeof json) > 0))
            break; /* never a silent stop: the reader would ask for the same page forever */
        fprintf(f, "%s%s", n ? "," : "", json);
        last = ev.seq;
        n++;
    }
    fprintf(f, "],\"next_after_seq\":%" PRIu64 "}", last);
    fclose(f);
    if (!api_iter_close(r, it, NULL, NULL))
        return free(buf);
    if (!decoded) {
        free(buf);
        return reply_error(&r->reply, LEDGER_ERR_DECODE, NULL,
                           "an event of the log does not decode: run ledgerctl verify");
    }
    reply_text(&r->reply, 200, "application/json", buf, blen);
}

void route_read(struct request *r)
{
    struct account a;
    switch (r->route) {
    case ROUTE_ACCOUNT_GET:
        if (load_account(r, &r->path_id, &a))
            reply_json(&r->reply, 200, account_doc(&a));
        return;
    case ROUTE_ACCOUNTS_LIST: return read_accounts(r);
    case ROUTE_ACCOUNT_BALANCE:
        if (reads_balance(r)) /* ?at= and ?min_seq= (api/reads.c) */
            return;
        return read_balance(r);
    case ROUTE_TRANSFER_GET: return read_transfer(r);
    case ROUTE_EVENTS: return read_events(r);
    case ROUTE_HEALTHZ: return reply_json(&r->reply, 200, json_pack("{s:s}", "status", "ok"));
    case ROUTE_READYZ: {
        bool ready = __atomic_load_n(&r->srv->ready, __ATOMIC_RELAXED); /* api_set_ready, api_quiesce */
        return reply_json(&r->reply, ready ? 200 : 503, json_pack("{s:s}", "status", ready ? "ready" : "not ready"));
    }
    case ROUTE_METRICS: return metrics_render(r->srv, &r->reply);
    default:
        if (ROUTE_IS_CARD(r->route))
            return card_route_read(r);
        if (ROUTE_IS_READS(r->route))
            return reads_route_read(r);
        return reply_error(&r->reply, LEDGER_ERR_NOT_FOUND, NULL, NULL);
    }
}
