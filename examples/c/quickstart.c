/* The README's C quick start: an SFU's per-packet path through rtmedia.h.
 * SRTP in, parse once per source, one forwarder per subscriber, SRTP out.
 * Built and run by `make test` against the installed library. */
#include <rtmedia.h>
#include <stdio.h>

#define TRY(call) do { rtm_status s_ = (call); if (RTM_FAILED(s_)) { \
    fprintf(stderr, "%s: %s\n", #call, rtm_status_str(s_)); return 1; } } while (0)

int main(void) {
    const uint8_t key[16] = {7}, salt[12] = {9}, sub_key[16] = {1}, sub_salt[12] = {2};
    const uint32_t layers[3] = {0x1111, 0x2222, 0x3333}; /* simulcast SSRCs, lowest first */
    rtm_srtp_t *browser, *from_publisher, *to_subscriber; /* keys: from DTLS-SRTP */
    TRY(rtm_srtp_new(7, key, 16, salt, 12, NULL, &browser)); /* 7: AEAD_AES_128_GCM */
    TRY(rtm_srtp_new(7, key, 16, salt, 12, NULL, &from_publisher));
    TRY(rtm_srtp_new(7, sub_key, 16, sub_salt, 12, NULL, &to_subscriber));
    rtm_forwarder_config forwarder_config;
    TRY(rtm_forwarder_config_init(&forwarder_config, sizeof forwarder_config)); /* the defaults */
    forwarder_config.ssrc = 0xabcd; /* what this subscriber sees */
    rtm_source_t *source; rtm_forwarder_t *forwarder;
    TRY(rtm_source_new(NULL, layers, 3, &source)); /* NULL config: the defaults (VP8, 90 kHz) */
    TRY(rtm_forwarder_new(&forwarder_config, &forwarder));
    TRY(rtm_forwarder_set_target(forwarder, 0, 2)); /* or set_available_bitrate, an allocator */

    /* What a browser sends: a VP8 keyframe packet on the lowest layer, protected. */
    const uint8_t vp8[] = {0x90, 0x80, 0x80, 0x01, 0x00, 0x9d, 0x01, 0x2a};
    rtm_rtp_build_params rtp = {.marker = true, .payload_type = 96, .sequence_number = 1,
                                .timestamp = 3000, .ssrc = 0x1111, .payload = vp8,
                                .payload_len = sizeof vp8};
    uint8_t wire[1500], out[1500 + 1 + RTM_SRTP_MAX_TRAILER_LEN];
    size_t len, n;
    TRY(rtm_rtp_build(&rtp, wire, sizeof wire, &len));
    TRY(rtm_srtp_protect(browser, wire, len, sizeof wire, &len));

    /* The SFU: decrypt in place, parse once (copied into a pooled buffer, kept for
     * NACKs), write this subscriber's copy, encrypt it in place, send. */
    uint64_t now_us = 1000000;
    TRY(rtm_srtp_unprotect(from_publisher, wire, len, &len));
    TRY(rtm_source_push_copy(source, wire, len, now_us, NULL));
    rtm_drop_reason dropped;
    TRY(rtm_forwarder_forward(forwarder, source, out, sizeof out, now_us, &n, &dropped));
    /* Then backfill (a switch held back starts from the history) whether the forward
     * sent (n > 0) or dropped (n = 0) the packet, until RTM_NOTHING_DUE (not a failure). */
    for (rtm_status more = RTM_OK; more == RTM_OK;) {
        if (n > 0) {
            TRY(rtm_srtp_protect(to_subscriber, out, n, sizeof out, &n));
            printf("sent %zu bytes to the subscriber\n", n); /* sendto(...) */
        }
        TRY(more = rtm_forwarder_backfill(forwarder, source, out, sizeof out, now_us, &n));
    }
    uint8_t spatial; uint32_t pli_ssrc;
    if (rtm_forwarder_poll_keyframe_request(forwarder, &spatial) == RTM_OK)
        TRY(rtm_source_request_keyframe(source, spatial));
    while (rtm_source_poll_keyframe_request(source, now_us, &pli_ssrc) == RTM_OK)
        printf("send a PLI for SSRC %#x\n", (unsigned)pli_ssrc);

    rtm_forwarder_free(forwarder); rtm_source_free(source);
    rtm_srtp_free(browser); rtm_srtp_free(from_publisher); rtm_srtp_free(to_subscriber);
    return 0;
}
