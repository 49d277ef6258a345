/* A program built against an OLDER header (rtmedia_older.h: the jitter and
 * mixer configs without the `max_packet_bytes` field appended since), run
 * against the current library. `make abi-check` links it to the build
 * tree's shared library with a plain rpath and runs it under valgrind.
 *
 * It proves the growth convention: the library reads and writes only the
 * bytes the caller's struct_size covers, and a field the caller does not
 * know gets its default (1500-byte packet limit). */
#include "rtmedia_older.h"

#include <stdio.h>
#include <string.h>

static int failures;
#define CHECK(cond) do { if (!(cond)) { \
    fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

/* The status the newer library returns for an over-long packet; this
 * header does not know its name. */
#define NEWER_ERR_TOO_LARGE (-7)

static size_t rtp_packet(uint8_t *buf, size_t cap, uint16_t seq, size_t payload_len) {
    const uint8_t payload_byte = 0xf8; /* an Opus TOC byte */
    static uint8_t payload[2000];
    memset(payload, payload_byte, sizeof payload);
    rtm_rtp_build_params p = {.payload_type = 111, .sequence_number = seq,
                              .timestamp = 960u * seq, .ssrc = 0x1234,
                              .payload = payload, .payload_len = payload_len};
    size_t len = 0;
    CHECK(rtm_rtp_build(&p, buf, cap, &len) == RTM_OK);
    return len;
}

int main(void) {
    /* The library is newer than this header (same soname). */
    CHECK(rtm_version() >= RTM_VERSION_NUMBER);

    /* Jitter buffer: an old-layout config gets the new field's default. */
    rtm_jitter_config jc;
    CHECK(rtm_jitter_config_init(&jc, sizeof jc, RTM_JITTER_AUDIO) == RTM_OK);
    CHECK(jc.struct_size == sizeof jc);
    rtm_jitter_t *jb = NULL;
    CHECK(rtm_jitter_new(&jc, &jb) == RTM_OK);
    uint8_t pkt[2100];
    size_t len = rtp_packet(pkt, sizeof pkt, 1, 1400 - 12);
    CHECK(rtm_jitter_push_copy(jb, pkt, len, 0, NULL) == RTM_OK);
    len = rtp_packet(pkt, sizeof pkt, 2, 1600 - 12);
    rtm_status s = rtm_jitter_push_copy(jb, pkt, len, 0, NULL);
    CHECK(s == NEWER_ERR_TOO_LARGE);
    CHECK(strcmp(rtm_status_str(s), "packet larger than max_packet_bytes") == 0);
    /* Outputs: an old-layout stats struct gets exactly its own bytes. */
    struct { rtm_jitter_stats stats; uint8_t guard[64]; } st;
    memset(&st, 0xab, sizeof st);
    st.stats.struct_size = sizeof st.stats;
    CHECK(rtm_jitter_get_stats(jb, &st.stats) == RTM_OK);
    CHECK(st.stats.packets_received == 1);
    for (size_t i = 0; i < sizeof st.guard; i++) CHECK(st.guard[i] == 0xab);
    rtm_jitter_free(jb);

    /* The library knows a field past this header's layout: an init with a
     * larger size defaults it (the 1500-byte limit, a size_t right after
     * the old struct) instead of leaving it undefined. */
    struct { rtm_jitter_config old; size_t appended; uint8_t tail[16]; } grown;
    memset(&grown, 0xcd, sizeof grown);
    CHECK(rtm_jitter_config_init(&grown.old, sizeof grown, RTM_JITTER_VIDEO_VP8) == RTM_OK);
    CHECK(grown.appended == 1500);
    for (size_t i = 0; i < sizeof grown.tail; i++) CHECK(grown.tail[i] == 0); /* unknown: zeroed */
    CHECK(grown.old.struct_size == sizeof grown);

    /* Mixer: the same for its config, through a participant's input. */
    rtm_mixer_config mc;
    CHECK(rtm_mixer_config_init(&mc, sizeof mc) == RTM_OK);
    mc.max_participants = 4;
    rtm_mixer_t *mixer = NULL;
    CHECK(rtm_mixer_new(&mc, &mixer) == RTM_OK);
    rtm_mixer_input_t *in = NULL;
    CHECK(rtm_mixer_add_participant(mixer, 1, 0x1234, 0x9999, false, &in) == RTM_OK);
    len = rtp_packet(pkt, sizeof pkt, 1, 100);
    CHECK(rtm_mixer_input_push(in, pkt, len, 0) == RTM_OK);
    len = rtp_packet(pkt, sizeof pkt, 2, 1600 - 12);
    CHECK(rtm_mixer_input_push(in, pkt, len, 0) == NEWER_ERR_TOO_LARGE);
    size_t packets = 0;
    CHECK(rtm_mixer_tick(mixer, 20000, &packets) == RTM_OK);
    CHECK(packets == 1);
    rtm_mixer_stats ms;
    ms.struct_size = sizeof ms;
    CHECK(rtm_mixer_get_stats(mixer, &ms) == RTM_OK);
    CHECK(ms.ticks == 1 && ms.participants == 1);
    rtm_mixer_input_free(in);
    rtm_mixer_free(mixer);

    /* An uninitialised-looking size is refused, not trusted. */
    rtm_jitter_config bad;
    memset(&bad, 0, sizeof bad);
    CHECK(rtm_jitter_new(&bad, &jb) == RTM_ERR_INVALID_ARGUMENT);

    if (failures) {
        fprintf(stderr, "old_caller: %d checks failed\n", failures);
        return 1;
    }
    printf("old_caller: an older-header program works with library %u.%u.%u\n",
           rtm_version() >> 16, (rtm_version() >> 8) & 0xff, rtm_version() & 0xff);
    return 0;
}
