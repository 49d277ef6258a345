/* sfu_loop: a simulcast SFU in C on rtmedia.h alone: three threads on loopback UDP.
 *
 *   publisher --SRTP, SRTCP SRs (key A, AES-CM)--> SFU --SRTP (key B, AES-CM, paced)--> subscriber
 *             <----- SRTCP PLIs (key C, AES-CM) --     <-- SRTCP NACKs, RFC 8888 feedback (key D) --
 *
 * - publisher: hand-built VP8 simulcast, one SSRC per layer with its own seq/timestamp/PictureID
 *   bases (all about to wrap), 1-3 packets a frame with an RFC 7741 descriptor (15-bit PictureID,
 *   TL0PICIDX, TID/Y, KEYIDX), TIDs 0,2,1,2 (L1T3) from each keyframe, one sender report per
 *   layer. Keyframes at frame 0 and when a PLI asks, never periodically.
 * - SFU: a socket per leg (the subscriber's feedback is read first: it never waits behind
 *   media), one rtm_track_t for the published track; the subscriber's transport has an rtm_pacer_t
 *   and an rtm_bwe_t. Publisher: unprotect -> rtm_track_push_publisher_rtcp (SRs) /
 *   rtm_track_push_rtp_copy. Subscriber: unprotect -> rtm_track_push_subscriber_rtcp (NACKs,
 *   PLIs) and rtm_bwe_on_rtcp (congestion feedback). Then rtm_track_poll_output until
 *   RTM_NOTHING_DUE: PLIs to the publisher; packets protected with the subscriber's key into its
 *   pacer, which sends them at the estimate's pacing rate, each stamped into the estimator
 *   (rtm_bwe_on_sent). The estimator's probes are filled, when no media is queued, with
 *   recent packets sent again as RTX (rtm_track_write_probe_padding). Layer 0 first, the top layer from frame SWITCH_FRAME (a host decision here,
 *   so that the subscriber can check it; a real SFU gives the estimate, or its allocator's share,
 *   to rtm_track_set_available_bitrate). The link to the subscriber loses every LOSS_EVERY-th
 *   media packet: NACKed, it comes back as RFC 4588 RTX.
 * - subscriber: unprotect -> VP8 jitter buffer (NACKs, RTX restored) -> complete frames, each
 *   checked: the forwarder's SSRC only, gapless sequence numbers, timestamps +TS_STEP a frame
 *   (across the switch too, thanks to the SRs), all packets there (each carries layer, frame,
 *   index, count after the VP8 header byte), PictureID +1, TL0PICIDX/KEYIDX continuous, TID/Y as
 *   L1T3, frames 0..FRAMES-1 once each, one spatial switch 0 -> top, on a keyframe. Every arrival
 *   goes to an RFC 8888 feedback recorder whose reports drive the SFU's estimator. Exits 1 on
 *   any mismatch.
 *
 * Only rtmedia.h and libc (POSIX sockets, pthreads). Build with
 *   cc -std=c11 -Wall -Wextra sfu_loop.c $(pkg-config --cflags --libs rtmedia) -pthread
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "rtmedia.h"

enum {
    LAYERS = 3,
    FRAMES = 150,
    FRAME_US = 10000,    /* a test: 100 frames a second */
    TS_STEP = 900,       /* 10 ms at 90 kHz */
    SWITCH_FRAME = 50,   /* the SFU heads for the top layer here */
    PAYLOAD_TYPE = 96,
    GCM = 7,             /* SRTP profiles (DTLS-SRTP ids): AEAD_AES_128_GCM, */
    CM_SHA1_80 = 1,      /* AES_CM_128_HMAC_SHA1_80 */
    BUF_CAP = 1500,      /* >= any packet + 1 + RTM_SRTP_MAX_TRAILER_LEN */
    DESC_LEN = 6,        /* X|S|PID, I|L|T|K, PictureID (2), TL0PICIDX, TID|Y|KEYIDX */
    TAG_LEN = 6,         /* VP8 header byte (P bit), layer, frame (2), index, count */
    RTX_PAYLOAD_TYPE = 97,
    LOSS_EVERY = 37,     /* the SFU -> subscriber link loses every 37th media packet */
    SUBSCRIBER = 1,      /* the subscriber's id in the track */
};

static const uint32_t SSRCS[LAYERS] = {0x1a1a0000u, 0x2b2b0000u, 0x3c3c0000u};
static const uint32_t FWD_SSRC = 0x5eed1234u; /* what the subscriber sees */
static const uint32_t RTX_SSRC = 0x5eed5678u; /* its retransmissions (RFC 4588) */
static const uint32_t SFU_SSRC = 0x5f00feedu; /* sender of the PLIs */
static const uint32_t SUB_SSRC = 0x50b50b00u; /* sender of the subscriber's RTCP */
static const uint64_t NTP_BASE = (uint64_t)3900000000u << 32; /* frame 0's capture */
static const uint8_t TIDS[4] = {0, 2, 1, 2};  /* L1T3 */
static const bool SYNC[4] = {false, true, true, false}; /* Y: depends on TL0 only */
/* Valgrind is slow, and slower when runs share the cores: with 4 runs on 2 cores, frames 5-25
 * arrived up to 210 ms later than frame 0 plus their schedule, and a NACK took 100-300 ms more
 * to be answered; at 300 ms the retransmission missed its deadline in most such runs. */
static const uint32_t PLAYOUT_DELAY_US = 1000000;
static const uint64_t STALL_TIMEOUT_US = 5000000;

/* Master key (16 bytes) and salt (GCM 12, else 14) of each leg and direction,
 * made up here; from DTLS in a real SFU (rtm_srtp_split_keying_material). */
static rtm_srtp_t *srtp_ctx(uint16_t profile, char leg) {
    uint8_t km[30];
    for (size_t i = 0; i < sizeof km; i++) km[i] = (uint8_t)(leg * 37 + i * 11);
    rtm_srtp_t *ctx = NULL;
    rtm_status s = rtm_srtp_new(profile, km, 16, km + 16, profile == GCM ? 12 : 14, NULL, &ctx);
    if (s != RTM_OK) fprintf(stderr, "rtm_srtp_new: %s\n", rtm_status_str(s));
    return ctx;
}

static atomic_bool stop; /* set by main when the subscriber is done */

static uint64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void sleep_until(uint64_t t) {
    struct timespec ts = {(time_t)(t / 1000000u), (long)(t % 1000000u) * 1000};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
}

/* Prints one error line and counts it in *failures; is false. */
#define FAIL(failures, ...) (fprintf(stderr, __VA_ARGS__), fputc('\n', stderr), ++*(failures) == 0)

/* Payload length of packet k of frame f on layer l (the subscriber checks it). */
static size_t payload_len(unsigned l, uint32_t f, unsigned k) { return 40 + 80 * l + (f * 13 + k * 29) % 60; }

/* A UDP socket on 127.0.0.1, ephemeral port. Returns -1 on error. */
static int udp_socket(uint16_t *port) {
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    int rcvbuf = 1 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf); /* best effort */
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || getsockname(fd, (struct sockaddr *)&a, &alen) != 0)
        return close(fd), -1;
    *port = ntohs(a.sin_port);
    return fd;
}

/* Receives one datagram, waiting at most timeout_ms: its length, 0 on
 * timeout, -1 on error; *from (may be NULL) gets the sender's port. */
static long recv_wait(int fd, uint8_t *buf, size_t cap, int timeout_ms, uint16_t *from) {
    struct pollfd p = {fd, POLLIN, 0};
    int r = poll(&p, 1, timeout_ms);
    if (r <= 0) return r == 0 || errno == EINTR ? 0 : -1;
    struct sockaddr_in a;
    socklen_t alen = sizeof a;
    ssize_t n = recvfrom(fd, buf, cap, 0, (struct sockaddr *)&a, &alen);
    if (from) *from = ntohs(a.sin_port);
    return n < 0 ? -1 : (long)n;
}

/* Milliseconds from now until `at` (µs), between 0 and max_ms. */
static int wait_ms(uint64_t now, uint64_t at, int max_ms) {
    if (at <= now) return 0;
    return at - now >= (uint64_t)max_ms * 1000 ? max_ms : (int)((at - now + 999) / 1000);
}

/* Protects the RTP (or RTCP) packet buf[0..len] (capacity BUF_CAP) in place
 * and sends it to 127.0.0.1:port. */
static bool protect_send(rtm_srtp_t *ctx, bool rtcp, int fd, uint16_t port, uint8_t *buf, size_t len,
                         int *failures) {
    size_t out = 0;
    rtm_status s = rtcp ? rtm_srtcp_protect(ctx, buf, len, BUF_CAP, &out) : rtm_srtp_protect(ctx, buf, len, BUF_CAP, &out);
    if (s != RTM_OK) return FAIL(failures, "protect: %s", rtm_status_str(s));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK), .sin_port = htons(port)};
    if (sendto(fd, buf, out, 0, (struct sockaddr *)&a, sizeof a) != (ssize_t)out)
        return FAIL(failures, "sendto: %s", strerror(errno));
    return true;
}

/* ---- publisher ----------------------------------------------------------- */

struct layer_state {
    uint16_t seq, pid;  /* next sequence number and PictureID (15 bits) */
    uint32_t ts;        /* next frame's timestamp */
    uint8_t tl0, keyidx;
    unsigned pos;       /* frames since the last keyframe: place in L1T3 */
    bool key_wanted;    /* a PLI asked for a keyframe */
};

struct publisher {
    int fd;
    uint16_t sfu_port;
    rtm_srtp_t *srtp, *feedback; /* keys A (protect) and C (unprotect the SFU's PLIs) */
    struct layer_state layer[LAYERS];
    unsigned packets, plis, keyframes[LAYERS];
    int failures;
};

/* Reads the PLIs waiting on the socket: the layers they name key next. */
static void publisher_feedback(struct publisher *p) {
    uint8_t buf[BUF_CAP];
    long n;
    while ((n = recv_wait(p->fd, buf, sizeof buf, 0, NULL)) > 0) {
        size_t len = 0, off = 0;
        rtm_rtcp_info info;
        rtm_status s = rtm_srtcp_unprotect(p->feedback, buf, (size_t)n, &len);
        if (s != RTM_OK) FAIL(&p->failures, "publisher: feedback: %s", rtm_status_str(s));
        while (s == RTM_OK && rtm_rtcp_next(buf, len, &off, &info) == RTM_OK)
            for (unsigned l = 0; l < LAYERS; l++)
                if (info.kind == RTM_RTCP_PLI && info.media_ssrc == SSRCS[l]) p->layer[l].key_wanted = true, p->plis++;
    }
}

/* Sends frame f of layer l. */
static void send_frame(struct publisher *p, unsigned l, uint32_t f) {
    struct layer_state *ls = &p->layer[l];
    bool key = f == 0 || ls->key_wanted;
    if (key) ls->key_wanted = false, ls->pos = 0, ls->keyidx++, p->keyframes[l]++;
    unsigned tid = TIDS[ls->pos % 4];
    if (tid == 0) ls->tl0++;
    unsigned count = key ? 3 : 1 + (f + l) % 3;
    for (unsigned k = 0; k < count; k++) {
        uint8_t payload[BUF_CAP], buf[BUF_CAP];
        size_t n = 0, plen = payload_len(l, f, k), len = 0;
        payload[n++] = 0x80 | (k == 0 ? 0x10 : 0); /* X=1, S on the first packet, PID 0 */
        payload[n++] = 0xf0;                        /* I, L, T, K present */
        payload[n++] = (uint8_t)(0x80 | ls->pid >> 8); /* M=1: 15-bit PictureID */
        payload[n++] = (uint8_t)ls->pid;
        payload[n++] = ls->tl0;
        payload[n++] = (uint8_t)(tid << 6 | (unsigned)SYNC[ls->pos % 4] << 5 | (ls->keyidx & 0x1f));
        payload[n++] = k > 0 ? 0xff : key ? 0x00 : 0x01; /* VP8 header: P=0 for a keyframe */
        const uint8_t tag[] = {(uint8_t)l, (uint8_t)(f >> 8), (uint8_t)f, (uint8_t)k, (uint8_t)count};
        memcpy(payload + n, tag, sizeof tag);
        memset(payload + n + sizeof tag, 0xee, plen - n - sizeof tag);
        rtm_rtp_build_params bp = {.marker = k + 1 == count, .payload_type = PAYLOAD_TYPE,
                                   .sequence_number = ls->seq++, .timestamp = ls->ts, .ssrc = SSRCS[l],
                                   .payload = payload, .payload_len = plen};
        rtm_status s = rtm_rtp_build(&bp, buf, sizeof buf, &len);
        if (s != RTM_OK) FAIL(&p->failures, "publisher: build: %s", rtm_status_str(s));
        else if (protect_send(p->srtp, false, p->fd, p->sfu_port, buf, len, &p->failures)) p->packets++;
    }
    ls->pid = (ls->pid + 1) & 0x7fff;
    ls->ts += TS_STEP;
    ls->pos++;
}

static void *publisher_main(void *arg) {
    struct publisher *p = arg;
    uint8_t buf[BUF_CAP];
    for (unsigned l = 0; l < LAYERS; l++) { /* sender reports: frame 0 captured at NTP_BASE */
        size_t len = 0;
        rtm_status s = rtm_rtcp_build_sr(SSRCS[l], NTP_BASE, p->layer[l].ts, 0, 0, NULL, 0, buf, sizeof buf, &len);
        if (s != RTM_OK) FAIL(&p->failures, "publisher: SR: %s", rtm_status_str(s));
        else protect_send(p->srtp, true, p->fd, p->sfu_port, buf, len, &p->failures);
    }
    uint64_t start = now_us();
    for (uint32_t f = 0; f < FRAMES && !atomic_load(&stop); f++) {
        publisher_feedback(p);
        for (unsigned l = LAYERS; l-- > 0;) send_frame(p, l, f);
        sleep_until(start + (uint64_t)(f + 1) * FRAME_US);
    }
    return NULL;
}

/* ---- SFU ----------------------------------------------------------------- */

struct sfu {
    int fd, sub_fd;             /* the publisher's leg, the subscriber's leg */
    uint16_t pub_port, sub_port;
    rtm_srtp_t *from_pub, *to_pub, *to_sub, *from_sub; /* keys A (unprotect), C, B (protect), D */
    rtm_track_t *track;    /* the published track: its source and one forwarder per subscriber */
    rtm_pacer_t *pacer;    /* the subscriber's transport: when each packet leaves, */
    rtm_bwe_t *bwe;        /* and how fast it may */
    uint64_t track_wakeup; /* when rtm_track_poll_output next has work without new input */
    unsigned media, retransmitted, sent, link_lost, reports_used, plis, feedback, layer0_frames;
    unsigned probes, probe_padding; /* probe clusters started; RTX re-sends sent as their padding */
    int failures;
};

/* One datagram from the publisher: sender reports or a media packet into the track. */
static void sfu_from_publisher(struct sfu *s, uint8_t *buf, size_t n, uint64_t now) {
    size_t len = 0, used = 0;
    bool rtcp = n > 1 && buf[1] >= 192 && buf[1] <= 223; /* RFC 5761 demultiplexing */
    rtm_status st = rtcp ? rtm_srtcp_unprotect(s->from_pub, buf, n, &len) : rtm_srtp_unprotect(s->from_pub, buf, n, &len);
    if (st == RTM_OK && rtcp) {
        st = rtm_track_push_publisher_rtcp(s->track, buf, len, &used);
        s->reports_used += (unsigned)used;
    } else if (st == RTM_OK) {
        rtm_source_packet_info info = {.struct_size = sizeof(rtm_source_packet_info)};
        st = rtm_track_push_rtp_copy(s->track, buf, len, now, &info);
        /* Head for the top layer after SWITCH_FRAME frames of layer 0. */
        if (st == RTM_OK && info.spatial == 0 && info.frame_start == 1 && ++s->layer0_frames == SWITCH_FRAME)
            st = rtm_track_set_target(s->track, SUBSCRIBER, LAYERS - 1, 2, now);
    }
    if (st != RTM_OK) FAIL(&s->failures, "sfu: from publisher: %s", rtm_status_str(st));
}

/* One datagram from the subscriber: RTCP for the track (NACKs, PLIs) and the estimator. */
static void sfu_from_subscriber(struct sfu *s, uint8_t *buf, size_t n, uint64_t now) {
    size_t len = 0, used = 0;
    rtm_status st = rtm_srtcp_unprotect(s->from_sub, buf, n, &len);
    if (st == RTM_OK) st = rtm_track_push_subscriber_rtcp(s->track, buf, len, NULL);
    if (st == RTM_OK) st = rtm_bwe_on_rtcp(s->bwe, now, buf, len, &used);
    s->feedback += (unsigned)used;
    /* The round trip, for the track's NACK answers: a packet sent again less than a
     * round trip ago is still on its way, and a repeated NACK for it is not answered. */
    rtm_bwe_estimate e = {.struct_size = sizeof e};
    if (st == RTM_OK && rtm_bwe_get_estimate(s->bwe, &e) == RTM_OK && e.has_rtt)
        st = rtm_track_set_subscriber_rtt(s->track, SUBSCRIBER, e.rtt_us);
    if (st != RTM_OK) FAIL(&s->failures, "sfu: from subscriber: %s", rtm_status_str(st));
}

/* Everything the track wants done now: PLIs to the publisher, packets into the
 * subscriber's pacer (protected first: the pacer's copy is what leaves). */
static void sfu_drain_track(struct sfu *s, uint64_t now) {
    uint8_t buf[BUF_CAP];
    for (;;) {
        rtm_track_output o = {.struct_size = sizeof o};
        size_t len = 0;
        rtm_status st = rtm_track_poll_output(s->track, now, buf, BUF_CAP - RTM_SRTP_MAX_TRAILER_LEN, &o);
        if (st == RTM_NOTHING_DUE) {
            s->track_wakeup = o.wakeup_us;
            return;
        }
        if (st == RTM_OK && o.kind == RTM_TRACK_OUTPUT_KEYFRAME_REQUEST) {
            if (protect_send(s->to_pub, true, s->fd, s->pub_port, buf, o.len, &s->failures)) s->plis++;
            continue;
        }
        /* RTP for subscriber o.subscriber (one here): its SRTP context, its pacer. */
        if (st == RTM_OK) st = rtm_srtp_protect(s->to_sub, buf, o.len, BUF_CAP, &len);
        if (st == RTM_OK) st = rtm_pacer_push_copy(s->pacer, now, o.ssrc, o.packet_class, buf, len, o.keyframe_start);
        if (st != RTM_OK) {
            FAIL(&s->failures, "sfu: track output: %s", rtm_status_str(st));
            return;
        }
        if (o.rtp_kind == RTM_TRACK_RTP_MEDIA) s->media++;
        else s->retransmitted++;
    }
}

/* Bytes a probe cluster asks for when no media is queued: one recent packet sent again on
 * the subscriber's RTX stream (the track numbers it), the longest that fits, protected and
 * stamped with the cluster; the pacer is told what went out, and asks for the rest at the
 * probe's rate (several at once would be a burst the probe reads as saturation).
 * RTM_NOTHING_DUE when none fits, without RTX or before the first packet (a host sends a
 * padding-only packet then; this example sends nothing, which ends the cluster). */
static rtm_status sfu_probe_padding(struct sfu *s, uint64_t now, size_t bytes, uint32_t cluster) {
    uint8_t buf[BUF_CAP];
    size_t len = 0, protected_len = 0;
    rtm_status st = rtm_track_write_probe_padding(s->track, SUBSCRIBER, bytes, buf,
                                                  BUF_CAP - RTM_SRTP_MAX_TRAILER_LEN, &len);
    if (st == RTM_NOTHING_DUE) return rtm_pacer_padding_sent(s->pacer, bytes, 0);
    if (st == RTM_OK) st = rtm_srtp_protect(s->to_sub, buf, len, BUF_CAP, &protected_len);
    uint16_t seq = (uint16_t)(buf[2] << 8 | buf[3]);
    if (st == RTM_OK) st = rtm_bwe_on_sent(s->bwe, now, RTM_PACKET_ID_RTP, RTX_SSRC, seq, protected_len, cluster);
    if (st == RTM_OK) st = rtm_pacer_padding_sent(s->pacer, bytes, protected_len);
    if (st != RTM_OK) return st;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                            .sin_port = htons(s->sub_port)};
    if (sendto(s->sub_fd, buf, protected_len, 0, (struct sockaddr *)&a, sizeof a) != (ssize_t)protected_len)
        FAIL(&s->failures, "sfu: sendto: %s", strerror(errno));
    s->probe_padding++;
    return RTM_OK;
}

/* The subscriber's transport: the estimate sets the pacing rate and asks for probes;
 * what the pacer releases goes on the wire, stamped into the estimator by SSRC and
 * sequence number (what RFC 8888 feedback names). */
static void sfu_send(struct sfu *s, uint64_t now) {
    rtm_bwe_estimate est = {.struct_size = sizeof est};
    rtm_pacer_output o = {.struct_size = sizeof o};
    rtm_probe_cluster probe = {.struct_size = sizeof probe};
    uint32_t probing = 0;
    rtm_status st = rtm_bwe_handle_timeout(s->bwe, now);
    /* One probe cluster at a time (starting one replaces the one running), and none
     * before media has gone out: its padding is packets sent again (libwebrtc's prober
     * also waits for the first packet). */
    if (st == RTM_OK && s->sent > 0 && rtm_pacer_probing(s->pacer, &probing) == RTM_NOTHING_DUE) {
        st = rtm_bwe_poll_probe(s->bwe, now, &probe);
        if (st == RTM_OK) st = rtm_pacer_start_probe(s->pacer, now, &probe), s->probes++;
        else if (st == RTM_NOTHING_DUE) st = RTM_OK;
    }
    if (st == RTM_OK) st = rtm_bwe_get_estimate(s->bwe, &est);
    if (st == RTM_OK) st = rtm_pacer_set_target_bitrate(s->pacer, est.target_bps);
    while (st == RTM_OK && (st = rtm_pacer_poll(s->pacer, now, &o)) == RTM_OK) {
        if (o.kind == RTM_PACER_OUTPUT_PADDING) {
            st = sfu_probe_padding(s, now, o.len, o.probe_cluster);
            continue;
        }
        uint16_t seq = (uint16_t)(o.data[2] << 8 | o.data[3]);
        st = rtm_bwe_on_sent(s->bwe, now, RTM_PACKET_ID_RTP, o.ssrc, seq, o.len, o.probe_cluster);
        s->sent++;
        if (o.packet_class == RTM_PACKET_CLASS_VIDEO && s->sent % LOSS_EVERY == 0) {
            s->link_lost++; /* the lossy link */
            continue;
        }
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                                .sin_port = htons(s->sub_port)};
        if (sendto(s->sub_fd, o.data, o.len, 0, (struct sockaddr *)&a, sizeof a) != (ssize_t)o.len)
            FAIL(&s->failures, "sfu: sendto: %s", strerror(errno));
    }
    if (RTM_FAILED(st)) FAIL(&s->failures, "sfu: send: %s", rtm_status_str(st));
}

static void *sfu_main(void *arg) {
    struct sfu *s = arg;
    uint8_t buf[BUF_CAP];
    while (!atomic_load(&stop) && s->failures == 0) {
        /* Sleep until a datagram arrives or the track, the pacer or the estimator has work. */
        uint64_t now = now_us(), wake = s->track_wakeup, at;
        if (rtm_pacer_next_wakeup(s->pacer, now, &at) == RTM_OK && at < wake) wake = at;
        if (rtm_bwe_next_wakeup(s->bwe, &at) == RTM_OK && at < wake) wake = at;
        /* Each leg has its own socket: the subscriber's NACKs never wait behind the
         * publisher's media (a starved SFU reads its sockets late; a NACK read 100 ms late
         * is a retransmission 100 ms late). All of the subscriber's feedback first, then one
         * publisher datagram. */
        struct pollfd fds[2] = {{s->sub_fd, POLLIN, 0}, {s->fd, POLLIN, 0}};
        int r = poll(fds, 2, wait_ms(now, wake, 5));
        if (r < 0 && errno != EINTR) FAIL(&s->failures, "sfu: poll: %s", strerror(errno));
        long n = 0, m = 0;
        uint16_t from = 0;
        while (r > 0 && (fds[0].revents & POLLIN) && (n = recv_wait(s->sub_fd, buf, sizeof buf, 0, &from)) > 0)
            if (from == s->sub_port) sfu_from_subscriber(s, buf, (size_t)n, now_us());
        if (r > 0 && (fds[1].revents & POLLIN) && (m = recv_wait(s->fd, buf, sizeof buf, 0, &from)) > 0 &&
            from == s->pub_port)
            sfu_from_publisher(s, buf, (size_t)m, now_us());
        if (n < 0 || m < 0) FAIL(&s->failures, "sfu: recv: %s", strerror(errno));
        now = now_us();
        sfu_drain_track(s, now);
        sfu_send(s, now);
    }
    return NULL;
}

/* ---- subscriber ---------------------------------------------------------- */

struct subscriber {
    int fd;
    uint16_t sfu_port;
    rtm_srtp_t *srtp, *to_sfu; /* keys B (unprotect) and D (its RTCP) */
    rtm_jitter_t *jb;
    rtm_feedback_recorder_t *rec; /* arrivals -> RFC 8888 feedback for the SFU's estimator */
    unsigned frames, packets, keyframes, switches, switch_frame, nacks, feedback, duplicates, late_rtx;
    int failures;
    bool done; /* the last frame was played */
    unsigned layer, frame, pos; /* the previous frame's values, to check continuity */
    uint16_t seq, pid;
    uint32_t ts;
    uint8_t tl0, keyidx;
};

/* Checks one frame the jitter buffer released. */
static bool check_frame(struct subscriber *sub, const rtm_jitter_event *ev) {
    uint8_t d[DESC_LEN + TAG_LEN]; /* the first packet's descriptor and tag */
    uint32_t ts = 0;
    const uint8_t *packets[8]; /* a frame here has 1-3 packets */
    size_t lens[8], count = 0;
    if (rtm_jitter_frame_packets(sub->jb, packets, lens, 8, &count) != RTM_OK || count != ev->packet_count ||
        count == 0)
        return FAIL(&sub->failures, "subscriber: frame %u: %zu packets, %zu read", sub->frames, ev->packet_count, count);
    for (size_t k = 0; k < count; k++) {
        const uint8_t *data = packets[k];
        size_t len = lens[k];
        rtm_rtp_header h;
        if (rtm_rtp_parse(data, len, &h) != RTM_OK || h.payload_len < sizeof d)
            return FAIL(&sub->failures, "subscriber: frame %u: packet %zu unreadable", sub->frames, k);
        const uint8_t *p = data + h.payload_offset;
        if (k == 0) memcpy(d, p, sizeof d), ts = h.timestamp;
        /* Same descriptor but S, same layer and frame, index k of packet_count. */
        bool ok = h.ssrc == FWD_SSRC && h.payload_type == PAYLOAD_TYPE && h.timestamp == ts &&
                  (sub->packets == 0 || h.sequence_number == (uint16_t)(sub->seq + 1)) &&
                  h.marker == (k + 1 == ev->packet_count) && p[0] == (k == 0 ? 0x90 : 0x80) &&
                  memcmp(p + 1, d + 1, DESC_LEN - 1) == 0 && memcmp(p + DESC_LEN + 1, d + DESC_LEN + 1, 3) == 0 &&
                  p[DESC_LEN + 4] == k && p[DESC_LEN + 5] == ev->packet_count &&
                  h.payload_len == payload_len(d[DESC_LEN + 1], (uint32_t)d[DESC_LEN + 2] << 8 | d[DESC_LEN + 3], (unsigned)k);
        sub->seq = h.sequence_number;
        sub->packets++;
        if (!ok) return FAIL(&sub->failures, "subscriber: frame %u: packet %zu (seq %u) wrong", sub->frames, k, h.sequence_number);
    }
    unsigned layer = d[DESC_LEN + 1], frame = (unsigned)d[DESC_LEN + 2] << 8 | d[DESC_LEN + 3];
    uint16_t pid = (uint16_t)((d[2] & 0x7f) << 8 | d[3]);
    uint8_t tl0 = d[4], tid = d[5] >> 6, keyidx = d[5] & 0x1f;
    bool sync = d[5] & 0x20, key = d[DESC_LEN] == 0x00;
    sub->pos = key ? 0 : sub->pos + 1;
    bool switched = sub->frames > 0 && layer != sub->layer;
    const char *err = NULL;
    if (key != ev->keyframe || d[DESC_LEN] > 1 || (d[1] != 0xf0) || (d[2] & 0x80) == 0) err = "descriptor or keyframe flag";
    else if (sub->frames == 0) err = key && layer == 0 && frame == 0 ? NULL : "not starting at a keyframe of layer 0";
    else if (frame != sub->frame + 1) err = "a frame missing or repeated";
    else if (ts != sub->ts + TS_STEP) err = "timestamp not continuous";
    else if (pid != ((sub->pid + 1) & 0x7fff)) err = "PictureID not consecutive";
    else if (tl0 != (uint8_t)(sub->tl0 + (tid == 0))) err = "TL0PICIDX not continuous";
    else if (keyidx != ((sub->keyidx + key) & 0x1f)) err = "KEYIDX not continuous";
    else if (switched && !(key && sub->layer == 0 && layer == LAYERS - 1 && sub->switches == 0))
        err = "a spatial switch other than 0 -> top on a keyframe";
    if (!err && (tid != TIDS[sub->pos % 4] || sync != SYNC[sub->pos % 4])) err = "TID/Y off the L1T3 pattern";
    if (err) FAIL(&sub->failures, "subscriber: frame %u (layer %u, PictureID %u): %s", frame, layer, pid, err);
    if (switched) sub->switches++, sub->switch_frame = frame;
    sub->layer = layer, sub->frame = frame, sub->ts = ts, sub->pid = pid, sub->tl0 = tl0, sub->keyidx = keyidx;
    sub->frames++, sub->keyframes += key, sub->done = frame == FRAMES - 1;
    return err == NULL;
}

/* The subscriber's RTCP to the SFU: NACKs for what is missing, congestion feedback when due. */
static void subscriber_rtcp(struct subscriber *sub, uint64_t now) {
    uint8_t buf[BUF_CAP];
    uint16_t lost[64];
    size_t count = 0, len = 0;
    rtm_status s = rtm_jitter_nack_list(sub->jb, now, lost, 64, &count);
    if (s == RTM_OK && count > 0) {
        s = rtm_rtcp_build_nack(SUB_SSRC, FWD_SSRC, lost, count < 64 ? count : 64, buf, sizeof buf, &len);
        if (s == RTM_OK && protect_send(sub->to_sfu, true, sub->fd, sub->sfu_port, buf, len, &sub->failures)) sub->nacks++;
    }
    while (s == RTM_OK && (s = rtm_feedback_recorder_poll(sub->rec, now, buf, BUF_CAP - RTM_SRTP_MAX_TRAILER_LEN, &len)) == RTM_OK)
        if (protect_send(sub->to_sfu, true, sub->fd, sub->sfu_port, buf, len, &sub->failures)) sub->feedback++;
    if (RTM_FAILED(s)) FAIL(&sub->failures, "subscriber: RTCP: %s", rtm_status_str(s));
}

static void *subscriber_main(void *arg) {
    struct subscriber *sub = arg;
    uint8_t buf[BUF_CAP];
    uint64_t last_progress = now_us();
    while (!sub->done && sub->failures == 0) {
        uint64_t now = now_us(), wake = UINT64_MAX, at;
        if (now - last_progress > STALL_TIMEOUT_US) FAIL(&sub->failures, "subscriber: stalled after %u frames", sub->frames);
        /* Sleep until a packet arrives or the jitter buffer or the recorder has work. */
        if (rtm_jitter_next_wakeup(sub->jb, &at) == RTM_OK) wake = at;
        if (rtm_feedback_recorder_next_wakeup(sub->rec, &at) == RTM_OK && at < wake) wake = at;
        long n = recv_wait(sub->fd, buf, sizeof buf, wait_ms(now, wake, 10), NULL);
        now = now_us();
        if (n < 0) FAIL(&sub->failures, "subscriber: recv: %s", strerror(errno));
        if (n > 12) {
            size_t len = 0;
            rtm_jitter_push_result result = -1;
            uint32_t ssrc = (uint32_t)buf[8] << 24 | (uint32_t)buf[9] << 16 | (uint32_t)buf[10] << 8 | buf[11];
            rtm_status s = rtm_feedback_recorder_on_rtp_packet(sub->rec, ssrc, (uint16_t)(buf[2] << 8 | buf[3]), (size_t)n, 0, now);
            if (s == RTM_OK) s = rtm_srtp_unprotect(sub->srtp, buf, (size_t)n, &len);
            if (s == RTM_OK) s = rtm_jitter_push_copy(sub->jb, buf, len, now, &result); /* RTX restored */
            sub->duplicates += result == RTM_JITTER_DUPLICATE;
            /* An RTX packet can come after its frame's playout time: the answer to a NACK
             * repeated before the first answer came, or a probe's re-send of a packet already
             * held, behind a frame that waits for a lost one. The jitter buffer reports it
             * TOO_LATE (also when it already released that packet). Not a failure by itself:
             * if it was the only copy, the frame is incomplete or missing, and check_frame
             * (gapless, complete) and js.packets_lost catch that. A late media packet is. */
            bool late_rtx = s == RTM_OK && result == RTM_JITTER_TOO_LATE && ssrc == RTX_SSRC;
            sub->late_rtx += late_rtx;
            if (s != RTM_OK || (result != RTM_JITTER_STORED && result != RTM_JITTER_DUPLICATE && !late_rtx))
                FAIL(&sub->failures, "subscriber: %s, push result %d (SSRC %08x, seq %u)", rtm_status_str(s),
                     (int)result, ssrc, (unsigned)(buf[2] << 8 | buf[3]));
        }
        rtm_jitter_event ev = {.struct_size = sizeof(rtm_jitter_event)};
        rtm_status ps;
        while ((ps = rtm_jitter_pop(sub->jb, now, &ev)) == RTM_OK) { /* until RTM_NOTHING_DUE */
            if (ev.kind == RTM_JITTER_EVENT_FRAME) check_frame(sub, &ev);
            else FAIL(&sub->failures, "subscriber: jitter event %d", (int)ev.kind);
            last_progress = now;
        }
        if (RTM_FAILED(ps)) FAIL(&sub->failures, "subscriber: pop: %s", rtm_status_str(ps));
        subscriber_rtcp(sub, now);
    }
    return NULL;
}

/* ---- main ---------------------------------------------------------------- */

int main(void) {
    if (rtm_version() != RTM_VERSION_NUMBER) {
        fprintf(stderr, "header version %06x, library %06x\n", (unsigned)RTM_VERSION_NUMBER, (unsigned)rtm_version());
        return 1;
    }
    struct publisher pub = {0};
    struct sfu sfu = {.track_wakeup = RTM_NO_WAKEUP};
    struct subscriber sub = {0};
    pub.fd = udp_socket(&sfu.pub_port);
    sfu.fd = udp_socket(&pub.sfu_port);
    sfu.sub_fd = udp_socket(&sub.sfu_port);
    sub.fd = udp_socket(&sfu.sub_port);
    if (pub.fd < 0 || sfu.fd < 0 || sfu.sub_fd < 0 || sub.fd < 0) {
        perror("socket");
        return 1;
    }
    for (unsigned l = 0; l < LAYERS; l++) /* each layer numbered on its own, all about to wrap */
        pub.layer[l] = (struct layer_state){.seq = (uint16_t)(65400 + 37 * l), .pid = (uint16_t)(0x7fc0 + 5 * l),
                                            .ts = 0xfffe0000u + 12345 * l, .tl0 = (uint8_t)(250 + l), .keyidx = (uint8_t)(30 + l)};

    /* Every leg is AES-CM/HMAC here (AES-GCM works the same way, profile GCM): under
     * valgrind, ring's AES-GCM assembly (BoringSSL's, as OpenSSL's: openssl/openssl#19719)
     * yields tags memcheck calls uninitialised, depending on what the thread's stack held
     * before: a false positive (the peer authenticates every packet;
     * AddressSanitizer and the GCM tests of ffi-tests/ are clean). */
    pub.srtp = srtp_ctx(CM_SHA1_80, 'A'), sfu.from_pub = srtp_ctx(CM_SHA1_80, 'A');  /* publisher -> SFU */
    sfu.to_pub = srtp_ctx(CM_SHA1_80, 'C'), pub.feedback = srtp_ctx(CM_SHA1_80, 'C'); /* SFU -> publisher */
    sfu.to_sub = srtp_ctx(CM_SHA1_80, 'B'), sub.srtp = srtp_ctx(CM_SHA1_80, 'B');     /* SFU -> subscriber */
    sub.to_sfu = srtp_ctx(CM_SHA1_80, 'D'), sfu.from_sub = srtp_ctx(CM_SHA1_80, 'D'); /* subscriber -> SFU */

    /* The SFU: a track (defaults: VP8, 90 kHz, history for NACKs and joins) whose PLIs come
     * from SFU_SSRC; the subscriber on FWD_SSRC with RTX negotiated, starting on layer 0. */
    rtm_track_config tc;
    rtm_track_subscriber_config sc;
    rtm_pacer_config pc;
    rtm_bwe_config bc;
    rtm_status s = rtm_track_config_init(&tc, sizeof tc);
    tc.rtcp_ssrc = SFU_SSRC;
    if (s == RTM_OK) s = rtm_track_new(&tc, SSRCS, LAYERS, &sfu.track);
    if (s == RTM_OK) s = rtm_track_subscriber_config_init(&sc, sizeof sc);
    sc.ssrc = FWD_SSRC, sc.rtx_ssrc = RTX_SSRC, sc.rtx_payload_type = RTX_PAYLOAD_TYPE;
    sc.target = (rtm_layer){.spatial = 0, .temporal = 2}; /* low layer, all TIDs */
    if (s == RTM_OK) s = rtm_track_add_subscriber(sfu.track, SUBSCRIBER, &sc, now_us());
    /* Its transport: a pacer whose retransmissions may overdraw its budget by 20 ms (a
     * receiver waits for them; behind one video packet's debt at a low rate they would
     * arrive late), and an estimator with its default probes (at start and periodically),
     * filled by the track's RTX re-sends of recent packets when no media is queued. */
    if (s == RTM_OK) s = rtm_pacer_config_init(&pc, sizeof pc);
    pc.retransmission_overdraft_us = 20000;
    if (s == RTM_OK) s = rtm_pacer_new(&pc, &sfu.pacer);
    if (s == RTM_OK) s = rtm_bwe_config_init(&bc, sizeof bc);
    bc.start_bps = 2000000;
    if (s == RTM_OK) s = rtm_bwe_new(&bc, now_us(), &sfu.bwe);

    /* The subscriber: a VP8 jitter buffer that NACKs and restores RTX, and a recorder of
     * arrivals for RFC 8888 feedback (keyed by SSRC and sequence number: nothing to stamp). */
    rtm_jitter_config jc;
    rtm_feedback_recorder_config rc;
    if (s == RTM_OK) s = rtm_jitter_config_init(&jc, sizeof jc, RTM_JITTER_VIDEO_VP8);
    jc.fixed_delay_us = PLAYOUT_DELAY_US;
    jc.nack_enabled = true;
    jc.rtx_enabled = true, jc.rtx_ssrc = RTX_SSRC, jc.media_ssrc = FWD_SSRC, jc.media_payload_type = PAYLOAD_TYPE;
    if (s == RTM_OK) s = rtm_jitter_new(&jc, &sub.jb);
    if (s == RTM_OK) s = rtm_feedback_recorder_config_init(&rc, sizeof rc);
    rc.format = RTM_CC_FEEDBACK_CCFB, rc.sender_ssrc = SUB_SSRC, rc.interval_us = 50000;
    if (s == RTM_OK) s = rtm_feedback_recorder_new(&rc, &sub.rec);
    if (!pub.srtp || !pub.feedback || !sfu.from_pub || !sfu.to_pub || !sfu.to_sub || !sub.srtp || !sub.to_sfu ||
        !sfu.from_sub || s != RTM_OK) {
        fprintf(stderr, "setup failed: %s\n", rtm_status_str(s));
        return 1;
    }

    pthread_t t_pub, t_sfu, t_sub;
    if (pthread_create(&t_sub, NULL, subscriber_main, &sub) != 0 || pthread_create(&t_sfu, NULL, sfu_main, &sfu) != 0 ||
        pthread_create(&t_pub, NULL, publisher_main, &pub) != 0) {
        fprintf(stderr, "pthread_create failed\n");
        return 1;
    }
    pthread_join(t_sub, NULL);
    atomic_store(&stop, true);
    pthread_join(t_pub, NULL);
    pthread_join(t_sfu, NULL);
    /* What the SFU sent after the subscriber was done (retransmissions answering its last
     * NACKs, probe padding): still to be read, authenticated and counted. */
    uint8_t buf[BUF_CAP];
    for (long n; (n = recv_wait(sub.fd, buf, sizeof buf, 0, NULL)) > 0;) {
        size_t len = 0;
        if (rtm_srtp_unprotect(sub.srtp, buf, (size_t)n, &len) != RTM_OK) FAIL(&sub.failures, "subscriber: unprotect after the end");
    }

    rtm_srtp_stats ss = {.struct_size = sizeof ss};
    rtm_track_stats ts = {.struct_size = sizeof ts};
    rtm_forwarder_stats fs = {.struct_size = sizeof fs};
    rtm_pacer_stats ps = {.struct_size = sizeof ps};
    rtm_bwe_stats bs = {.struct_size = sizeof bs};
    rtm_bwe_estimate est = {.struct_size = sizeof est};
    rtm_jitter_stats js = {.struct_size = sizeof js};
    bool stats_ok = rtm_srtp_get_stats(sub.srtp, &ss) == RTM_OK && rtm_track_get_stats(sfu.track, &ts) == RTM_OK &&
                    rtm_track_get_forwarder_stats(sfu.track, SUBSCRIBER, &fs) == RTM_OK &&
                    rtm_pacer_get_stats(sfu.pacer, &ps) == RTM_OK && rtm_bwe_get_stats(sfu.bwe, &bs) == RTM_OK &&
                    rtm_bwe_get_estimate(sfu.bwe, &est) == RTM_OK && rtm_jitter_get_stats(sub.jb, &js) == RTM_OK;
    uint64_t expired = 0;
    for (size_t c = 0; c < RTM_PACKET_CLASSES; c++) expired += ps.expired[c];
    uint64_t probe_at = 0, probe_bps = 0;
    /* A probe result depends on timing (none under valgrind): printed, not checked. */
    (void)rtm_bwe_last_probe_result(sfu.bwe, &probe_at, &probe_bps);
    printf("sfu_loop: %u layers x %u frames (%u packets, %u PLIs -> %u extra top-layer keyframes); SFU: %u sender "
           "reports, %u forwarded, %u paced out, %u lost on the link, %u NACKed -> %u RTX, %u probes -> %u RTX "
           "re-sends as padding (last result %llu bit/s), %u feedback reports -> estimate %llu bit/s, %u spatial "
           "switch; subscriber: %u frames gapless and complete, %u keyframes, layer 0 -> %u at frame %u on a keyframe, "
           "%llu unprotected, %u RTX after their playout time\n",
           (unsigned)LAYERS, (unsigned)FRAMES, pub.packets, sfu.plis, pub.keyframes[LAYERS - 1] - 1, sfu.reports_used,
           sfu.media, sfu.sent, sfu.link_lost, (unsigned)ts.nacked, sfu.retransmitted, sfu.probes, sfu.probe_padding,
           (unsigned long long)probe_bps, sfu.feedback,
           (unsigned long long)est.target_bps, (unsigned)fs.spatial_switches, sub.frames, sub.keyframes, sub.layer,
           sub.switch_frame, (unsigned long long)ss.rtp_unprotected, sub.late_rtx);
    bool ok = true; /* each check that fails is named */
#define EXPECT(cond) (ok = ((cond) || (fprintf(stderr, "sfu_loop: expected %s\n", #cond), false)) && ok)
    EXPECT(stats_ok && pub.failures == 0 && sfu.failures == 0 && sub.failures == 0);
    EXPECT(sub.done && sub.frames == FRAMES);
    EXPECT(sub.switches == 1 && sub.switch_frame >= SWITCH_FRAME && fs.spatial_switches == 1 && fs.cut_frames == 0);
    EXPECT(sfu.reports_used == LAYERS && sfu.plis > 0 && pub.plis > 0 && pub.keyframes[LAYERS - 1] >= 2);
    /* every media packet played once, the lost ones through RTX; the pacer dropped none (what it
     * still held when the subscriber was done - a retransmission answering a repeated NACK - is
     * counted as queued) */
    EXPECT(sub.packets == sfu.media && expired == 0 && ps.superseded == 0);
    EXPECT(sfu.sent + ps.queued_packets == sfu.media + sfu.retransmitted);
    /* everything sent reached the subscriber and authenticated (what came after it was done too) */
    EXPECT(ss.rtp_unprotected == sfu.sent + sfu.probe_padding - sfu.link_lost);
    /* probes ran, their padding RTX re-sends of packets the subscriber had */
    EXPECT(sfu.probes > 0 && sfu.probe_padding > 0 && ts.probe_padding_sent == sfu.probe_padding);
    EXPECT(sfu.link_lost > 0 && sub.nacks > 0);
    /* a lost packet comes back by NACK and RTX, or earlier as a probe's RTX re-send (then
     * nobody asks for it): at least one by NACK, and none missing (js.packets_lost) */
    EXPECT(sfu.retransmitted > 0 && sfu.retransmitted <= ts.nacked && ts.rtx_sent == sfu.retransmitted);
    EXPECT(js.frames_dropped == 0 && js.packets_lost == 0);
    EXPECT(sub.feedback > 0 && sfu.feedback > 0 && bs.packets_received > 0);
#undef EXPECT

    rtm_feedback_recorder_free(sub.rec);
    rtm_jitter_free(sub.jb);
    rtm_bwe_free(sfu.bwe);
    rtm_pacer_free(sfu.pacer);
    rtm_track_free(sfu.track);
    rtm_srtp_t *ctxs[] = {pub.srtp, pub.feedback, sfu.from_pub, sfu.to_pub, sfu.to_sub, sub.srtp, sub.to_sfu, sfu.from_sub};
    for (size_t i = 0; i < sizeof ctxs / sizeof ctxs[0]; i++) rtm_srtp_free(ctxs[i]);
    close(pub.fd);
    close(sfu.fd);
    close(sfu.sub_fd);
    close(sub.fd);
    if (!ok) fprintf(stderr, "sfu_loop: FAILED\n");
    return ok ? 0 : 1;
}
