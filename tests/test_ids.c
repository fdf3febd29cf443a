/*
 * test_ids.c: UUIDv7 generation (layout, monotonicity, threads), name ids, text form.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "events/events.h"

#define MONOTONIC_IDS 100000
#define THREADS 4
#define THREAD_IDS 20000

static uint64_t id_unix_ms(const struct ledger_id *id)
{
    uint64_t ms = 0;
    for (int i = 0; i < 6; i++)
        ms = (ms << 8) | id->b[i];
    return ms;
}

Test(ids, v7_layout)
{
    /* Proves a v7 id has version 7, variant 10 and the current Unix time in milliseconds. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t before_ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    struct ledger_id id = ledger_id_new_v7();
    cr_assert_eq(id.b[6] >> 4, 7);
    cr_assert_eq(id.b[8] >> 6, 2);
    uint64_t ms = id_unix_ms(&id);
    cr_assert_geq(ms, before_ms);
    cr_assert_lt(ms, before_ms + 5000);
    cr_assert_not(ledger_id_is_zero(&id));

    char text[LEDGER_ID_TEXT_LEN + 1];
    ledger_id_format(&id, text);
    cr_assert_eq(text[14], '7');
    cr_assert(strchr("89ab", text[19]) != NULL);
}

Test(ids, v7_strictly_increasing)
{
    /* Proves 100000 successive ids are strictly increasing bytewise, all v7 (many share a ms). */
    struct ledger_id prev = ledger_id_new_v7();
    for (int i = 0; i < MONOTONIC_IDS; i++) {
        struct ledger_id id = ledger_id_new_v7();
        cr_assert_lt(memcmp(prev.b, id.b, sizeof id.b), 0, "id %d not increasing", i);
        cr_assert_eq(id.b[6] >> 4, 7);
        cr_assert_eq(id.b[8] >> 6, 2);
        prev = id;
    }
}

struct thread_run {
    struct ledger_id ids[THREAD_IDS];
};

static void *generate(void *arg)
{
    struct thread_run *run = arg;
    for (int i = 0; i < THREAD_IDS; i++)
        run->ids[i] = ledger_id_new_v7();
    return NULL;
}

static int id_cmp(const void *a, const void *b)
{
    return memcmp(a, b, sizeof(struct ledger_id));
}

Test(ids, v7_threads_increasing_and_unique)
{
    /* Proves ids from concurrent threads increase within each thread and never collide. */
    static struct thread_run runs[THREADS];
    pthread_t threads[THREADS];
    for (int t = 0; t < THREADS; t++)
        cr_assert_eq(pthread_create(&threads[t], NULL, generate, &runs[t]), 0);
    for (int t = 0; t < THREADS; t++)
        cr_assert_eq(pthread_join(threads[t], NULL), 0);

    static struct ledger_id all[THREADS * THREAD_IDS];
    for (int t = 0; t < THREADS; t++) {
        for (int i = 1; i < THREAD_IDS; i++)
            cr_assert_lt(memcmp(runs[t].ids[i - 1].b, runs[t].ids[i].b, 16), 0);
        memcpy(&all[t * THREAD_IDS], runs[t].ids, sizeof runs[t].ids);
    }
    qsort(all, THREADS * THREAD_IDS, sizeof all[0], id_cmp);
    for (int i = 1; i < THREADS * THREAD_IDS; i++)
        cr_assert_neq(memcmp(all[i - 1].b, all[i].b, 16), 0, "duplicate id");
}

Test(ids, format_parse_round_trip)
{
    /* Proves format gives lower-case 8-4-4-4-12 and parse returns the bytes, zero and ones too. */
    struct ledger_id ids[3];
    ids[0] = ledger_id_new_v7();
    memset(ids[1].b, 0, 16);
    memset(ids[2].b, 0xff, 16);
    for (int k = 0; k < 3; k++) {
        char text[LEDGER_ID_TEXT_LEN + 1];
        memset(text, 'Z', sizeof text);
        ledger_id_format(&ids[k], text);
        cr_assert_eq(strlen(text), LEDGER_ID_TEXT_LEN);
        for (int i = 0; i < LEDGER_ID_TEXT_LEN; i++) {
            if (i == 8 || i == 13 || i == 18 || i == 23)
                cr_assert_eq(text[i], '-');
            else
                cr_assert(strchr("0123456789abcdef", text[i]) != NULL, "%s", text);
        }
        struct ledger_id back;
        cr_assert(ledger_id_parse(text, strlen(text), &back));
        cr_assert(ledger_id_equal(&ids[k], &back));
    }
    char text[LEDGER_ID_TEXT_LEN + 1];
    ledger_id_format(&ids[2], text);
    cr_assert_str_eq(text, "ffffffff-ffff-ffff-ffff-ffffffffffff");
    cr_assert(ledger_id_is_zero(&ids[1]));
    cr_assert_not(ledger_id_is_zero(&ids[2]));
}

Test(ids, parse_known_value_any_case)
{
    /* Proves parse reads upper- and lower-case hex to the same bytes, and reads only len bytes. */
    static const uint8_t want[16] = {0x01, 0x8f, 0x3a, 0x4b, 0x5c, 0x6d, 0x7e, 0x8f,
                                     0x9a, 0xab, 0xbc, 0xcd, 0xde, 0xef, 0xf0, 0x01};
    struct ledger_id lower, upper, unterminated;
    cr_assert(ledger_id_parse("018f3a4b-5c6d-7e8f-9aab-bccddeeff001", 36, &lower));
    cr_assert(ledger_id_parse("018F3A4B-5C6D-7E8F-9AAB-BCCDDEEFF001", 36, &upper));
    cr_assert(ledger_id_parse("018f3a4b-5c6d-7e8f-9aab-bccddeeff001 trailing", 36, &unterminated));
    cr_assert_eq(memcmp(lower.b, want, 16), 0);
    cr_assert(ledger_id_equal(&lower, &upper));
    cr_assert(ledger_id_equal(&lower, &unterminated));
}

Test(ids, parse_rejections)
{
    /* Proves parse refuses wrong lengths, bad hyphens and non-hex, leaving the output untouched. */
    static const char *const bad[] = {
        "018f3a4b-5c6d-7e8f-9aab-bccddeeff00",   /* 35 */
        "018f3a4b-5c6d-7e8f-9aab-bccddeeff0011", /* 37 */
        "",
        "018f3a4b5c6d-7e8f-9aab-bccddeeff0011",  /* no hyphen at 8 */
        "018f3a4-b5c6d-7e8f-9aab-bccddeeff001",  /* hyphen at 7 */
        "018f3a4b-5c6d7e8f--9aab-bccddeeff001",  /* hyphen at 17 */
        "018f3a4b-5c6d-7e8f-9aab_bccddeeff001",  /* underscore at 23 */
        "018f3a4b-5c6d-7e8f-9aab-bccddeeff00g",  /* non-hex last */
        "g18f3a4b-5c6d-7e8f-9aab-bccddeeff001",  /* non-hex first */
        "018f3a4b-5c6d-7e8f-9aab-bccddeeff0 1",  /* space */
        "{18f3a4b-5c6d-7e8f-9aab-bccddeeff001",
        "018f3a4b-5c6d-7e8f-9aab-bccddeeff-01",  /* extra hyphen */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct ledger_id out;
        memset(out.b, 0x5a, 16);
        cr_assert_not(ledger_id_parse(bad[i], strlen(bad[i]), &out), "'%s' refused", bad[i]);
        for (int k = 0; k < 16; k++)
            cr_assert_eq(out.b[k], 0x5a);
    }
    struct ledger_id out;
    const char *good = "018f3a4b-5c6d-7e8f-9aab-bccddeeff001";
    cr_assert_not(ledger_id_parse(good, 35, &out));
    cr_assert_not(ledger_id_parse(good, 37, &out));
    cr_assert_not(ledger_id_parse(NULL, 36, &out));
}

Test(ids, from_name_deterministic_and_distinct)
{
    /* Proves name ids are stable, differ between names, and carry version 8 and variant 10. */
    struct ledger_id a1 = ledger_id_from_name("account:funding:EUR");
    struct ledger_id a2 = ledger_id_from_name("account:funding:EUR");
    struct ledger_id b = ledger_id_from_name("account:funding:USD");
    struct ledger_id e = ledger_id_from_name("");
    cr_assert(ledger_id_equal(&a1, &a2));
    cr_assert_not(ledger_id_equal(&a1, &b));
    cr_assert_not(ledger_id_equal(&a1, &e));
    cr_assert_not(ledger_id_equal(&b, &e));
    const struct ledger_id *all[] = {&a1, &b, &e};
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(all[i]->b[6] >> 4, 8);
        cr_assert_eq(all[i]->b[8] >> 6, 2);
    }
}

Test(ids, from_name_known_vector)
{
    /* Proves the name id is SHA-256("ledger:" + name) truncated, version and variant set. */
    /* printf 'ledger:abc' | sha256sum = 66990bf6 df1a e477 8336 920b02ec8aec ... */
    struct ledger_id id = ledger_id_from_name("abc");
    char text[LEDGER_ID_TEXT_LEN + 1];
    ledger_id_format(&id, text);
    cr_assert_str_eq(text, "66990bf6-df1a-8477-8336-920b02ec8aec");
}

Test(ids, equal_and_zero)
{
    /* Proves equality looks at all 16 bytes (first and last) and zero means all bytes zero. */
    struct ledger_id a, b;
    memset(a.b, 0, 16);
    memcpy(&b, &a, sizeof b);
    cr_assert(ledger_id_equal(&a, &b));
    cr_assert(ledger_id_is_zero(&a));
    b.b[15] = 1;
    cr_assert_not(ledger_id_equal(&a, &b));
    cr_assert_not(ledger_id_is_zero(&b));
    b.b[15] = 0;
    b.b[0] = 0x80;
    cr_assert_not(ledger_id_equal(&a, &b));
    cr_assert_not(ledger_id_is_zero(&b));
}
