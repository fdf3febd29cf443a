/*
 * fuzz_event_decode.c: libFuzzer target for the event record decoder (bytes from disk or NATS).
 * Any input must decode or be refused, never crash or leak; a decoded record must re-encode to
 * bytes that decode to the same event.
 */
#include <string.h>

#include "events/events.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct event ev, again;
    if (event_decode(data, size, &ev) != LEDGER_ERR_OK)
        return 0;
    (void)event_hash_check(data, size, NULL);
    char json[4096];
    (void)event_to_json(&ev, json, sizeof json);
    uint8_t buf[LEDGER_RECORD_BYTES_MAX];
    size_t len = event_encode(&ev, buf, sizeof buf);
    if (len > 0) {
        LEDGER_ASSERT(event_decode(buf, len, &again) == LEDGER_ERR_OK);
        LEDGER_ASSERT(again.seq == ev.seq && again.type == ev.type && event_hash_check(buf, len, ev.prev_hash));
    }
    return 0;
}
