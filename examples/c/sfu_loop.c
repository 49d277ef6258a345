/* sfu_loop: embedding rtmedia in a C program, three threads on loopback UDP.
 *
 *   publisher --SRTP(key A)--> SFU --SRTP(key B)--> subscriber
 *
 * - publisher: builds RTP packets (rtm_rtp_build) of a 5 ms Opus-like
 *   stream, protects them with AEAD_AES_128_GCM under key A and sends one
 *   every 5 ms;
 * - SFU: unprotects with key A, runs the forwarding stage (`sfu_forward`,
 *   today a pass-through: the place where simulcast layer selection and
 *   header rewriting go), protects again with the subscriber's key B and
 *   sends on;
 * - subscriber: unprotects with key B, pushes into an audio jitter buffer
 *   (rtm_jitter_*) with its arrival time, pops what is due and checks that
 *   every payload arrives intact, once, in order, with nothing lost.
 *
 * Exits 0 when every packet was played out intact and in order, 1 otherwise.
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
    PACKETS = 200,           /* 1 s of 5 ms frames */
    PACKET_INTERVAL_US = 5000,
    TS_STEP = 240,           /* 5 ms at 48 kHz */
    PAYLOAD_TYPE = 111,
    PROFILE = 7,             /* AEAD_AES_128_GCM (DTLS-SRTP id) */
    BUF_CAP = 1500,
};

static const uint16_t SEQ0 = 65400;        /* wraps after 136 packets */
static const uint32_t TS0 = 0xffff0000u;   /* and the timestamp wraps too */
static const uint32_t SSRC = 0x5eed1234u;
/* Fixed playout delay: generous, so a slow run (valgrind) loses nothing. */
static const uint32_t PLAYOUT_DELAY_US = 250000;
/* The subscriber gives up if nothing is played for this long. */
static const uint64_t STALL_TIMEOUT_US = 5000000;

/* Master keys and salts (GCM: 16-byte key, 12-byte salt). In a real SFU
 * each leg gets its own from its DTLS handshake
 * (rtm_srtp_split_keying_material). */
static const uint8_t KEY_A[16] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
                                  0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10};
static const uint8_t SALT_A[12] = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab};
static const uint8_t KEY_B[16] = {0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe,
                                  0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01};
static const uint8_t SALT_B[12] = {0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xbb};

/* Set by main when the subscriber is done: the other threads stop. */
static atomic_bool stop;

static uint64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void sleep_until(uint64_t t) {
    uint64_t now = now_us();
    if (t <= now) return;
    struct timespec ts = {(time_t)((t - now) / 1000000u), (long)((t - now) % 1000000u) * 1000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Payload of packet `i`: its length and bytes follow from `i`, so the
 * subscriber can check them without sharing state with the publisher. */
static size_t payload_len(uint32_t i) { return 40 + (i * 37u) % 160u; }
static uint8_t payload_byte(uint32_t i, size_t j) { return (uint8_t)(i * 131u + j * 7u + 0x5au); }

/* A UDP socket bound to 127.0.0.1 on an ephemeral port, with a receive
 * timeout so that threads notice `stop`. Returns -1 on error. */
static int udp_socket(uint16_t *port) {
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    int rcvbuf = 1 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf); /* best effort */
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || getsockname(fd, (struct sockaddr *)&a, &alen) != 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

/* Sends to 127.0.0.1:port. */
static bool send_to(int fd, uint16_t port, const uint8_t *buf, size_t len) {
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    return sendto(fd, buf, len, 0, (struct sockaddr *)&a, sizeof a) == (ssize_t)len;
}

/* Receives one datagram, waiting at most timeout_ms. Returns its length,
 * 0 on timeout, -1 on error. */
static long recv_wait(int fd, uint8_t *buf, size_t cap, int timeout_ms) {
    struct pollfd p = {fd, POLLIN, 0};
    int r = poll(&p, 1, timeout_ms);
    if (r <= 0) return r == 0 || errno == EINTR ? 0 : -1;
    ssize_t n = recv(fd, buf, cap, 0);
    return n < 0 ? -1 : (long)n;
}

static rtm_srtp_t *srtp_ctx(const uint8_t *key, const uint8_t *salt) {
    rtm_srtp_t *ctx = NULL;
    rtm_status s = rtm_srtp_new(PROFILE, key, 16, salt, 12, NULL, &ctx);
    if (s != RTM_OK) {
        fprintf(stderr, "rtm_srtp_new: %s\n", rtm_status_str(s));
        return NULL;
    }
    return ctx;
}

/* ---- publisher ----------------------------------------------------------- */

struct publisher {
    int fd;
    uint16_t sfu_port;
    rtm_srtp_t *srtp; /* key A, protect */
    int failures;
};

static void *publisher_main(void *arg) {
    struct publisher *p = arg;
    uint8_t payload[BUF_CAP];
    uint8_t buf[BUF_CAP];
    uint64_t start = now_us();
    for (uint32_t i = 0; i < PACKETS && !atomic_load(&stop); i++) {
        size_t plen = payload_len(i);
        for (size_t j = 0; j < plen; j++) payload[j] = payload_byte(i, j);
        rtm_rtp_build_params params;
        memset(&params, 0, sizeof params);
        params.marker = i == 0;
        params.payload_type = PAYLOAD_TYPE;
        params.sequence_number = (uint16_t)(SEQ0 + i);
        params.timestamp = TS0 + i * TS_STEP;
        params.ssrc = SSRC;
        params.payload = payload;
        params.payload_len = plen;
        size_t len = 0, protected_len = 0;
        rtm_status s = rtm_rtp_build(&params, buf, sizeof buf, &len);
        if (s == RTM_OK) s = rtm_srtp_protect(p->srtp, buf, len, sizeof buf, &protected_len);
        if (s != RTM_OK) {
            fprintf(stderr, "publisher: packet %u: %s\n", i, rtm_status_str(s));
            p->failures++;
            continue;
        }
        if (!send_to(p->fd, p->sfu_port, buf, protected_len)) {
            perror("publisher: sendto");
            p->failures++;
        }
        sleep_until(start + (uint64_t)(i + 1) * PACKET_INTERVAL_US);
    }
    return NULL;
}

/* ---- SFU ----------------------------------------------------------------- */

struct sfu {
    int fd;
    uint16_t subscriber_port;
    rtm_srtp_t *from_publisher; /* key A, unprotect */
    rtm_srtp_t *to_subscriber;  /* key B, protect */
    unsigned forwarded;
    int failures;
};

/* The forwarding stage, on the plaintext RTP packet `buf[0..*len]` (buffer
 * capacity `cap`): decides whether this subscriber gets the packet and may
 * rewrite it in place (SSRC, sequence number, timestamp, extensions).
 * Today every packet passes unchanged; the simulcast forwarder goes here. */
static bool sfu_forward(struct sfu *s, uint8_t *buf, size_t *len, size_t cap) {
    (void)s;
    (void)buf;
    (void)len;
    (void)cap;
    return true;
}

static void *sfu_main(void *arg) {
    struct sfu *s = arg;
    uint8_t buf[BUF_CAP];
    while (!atomic_load(&stop)) {
        long n = recv_wait(s->fd, buf, sizeof buf, 20);
        if (n <= 0) {
            if (n < 0) {
                perror("sfu: recv");
                s->failures++;
                break;
            }
            continue;
        }
        size_t len = 0, out_len = 0;
        rtm_status st = rtm_srtp_unprotect(s->from_publisher, buf, (size_t)n, &len);
        if (st != RTM_OK) {
            fprintf(stderr, "sfu: unprotect: %s\n", rtm_status_str(st));
            s->failures++;
            continue;
        }
        if (!sfu_forward(s, buf, &len, sizeof buf)) continue;
        st = rtm_srtp_protect(s->to_subscriber, buf, len, sizeof buf, &out_len);
        if (st != RTM_OK) {
            fprintf(stderr, "sfu: protect: %s\n", rtm_status_str(st));
            s->failures++;
            continue;
        }
        if (!send_to(s->fd, s->subscriber_port, buf, out_len)) {
            perror("sfu: sendto");
            s->failures++;
            continue;
        }
        s->forwarded++;
    }
    return NULL;
}

/* ---- subscriber ---------------------------------------------------------- */

struct subscriber {
    int fd;
    rtm_srtp_t *srtp; /* key B, unprotect */
    rtm_jitter_t *jb;
    unsigned played;
    unsigned lost;
    unsigned rejected; /* duplicates, too late, resets */
    int failures;
    int64_t last_seq;
};

/* Checks one packet the jitter buffer released. */
static void check_played(struct subscriber *sub, const rtm_jitter_event *ev) {
    rtm_rtp_header h;
    rtm_status s = rtm_rtp_parse(ev->data, ev->len, &h);
    uint32_t i = (uint16_t)(h.sequence_number - SEQ0);
    bool ok = s == RTM_OK && h.ssrc == SSRC && h.payload_type == PAYLOAD_TYPE && i == sub->played &&
              h.timestamp == TS0 + i * TS_STEP && h.payload_len == payload_len(i) &&
              (sub->played == 0 || ev->seq == sub->last_seq + 1);
    for (size_t j = 0; ok && j < h.payload_len; j++) ok = ev->data[h.payload_offset + j] == payload_byte(i, j);
    if (!ok) {
        fprintf(stderr, "subscriber: packet %u (seq %lld) wrong or out of order\n", sub->played,
                (long long)ev->seq);
        sub->failures++;
    }
    sub->last_seq = ev->seq;
    sub->played++;
}

/* Pops everything due at `now`. */
static void drain(struct subscriber *sub, uint64_t now) {
    rtm_jitter_event ev;
    while (rtm_jitter_pop(sub->jb, now, &ev) == RTM_OK) {
        if (ev.kind == RTM_JITTER_EVENT_PACKET) {
            check_played(sub, &ev);
        } else {
            fprintf(stderr, "subscriber: lost seq %lld\n", (long long)ev.seq);
            sub->lost++;
        }
    }
}

static void *subscriber_main(void *arg) {
    struct subscriber *sub = arg;
    uint8_t buf[BUF_CAP];
    uint64_t last_progress = now_us();
    while (sub->played + sub->lost < PACKETS && sub->failures == 0) {
        uint64_t now = now_us();
        if (now - last_progress > STALL_TIMEOUT_US) {
            fprintf(stderr, "subscriber: stalled after %u packets\n", sub->played);
            sub->failures++;
            break;
        }
        /* Sleep until a packet arrives or the jitter buffer has work. */
        int timeout_ms = 10;
        uint64_t wake = 0;
        if (rtm_jitter_next_wakeup(sub->jb, &wake) == RTM_OK) {
            timeout_ms = wake <= now ? 0 : (int)((wake - now + 999) / 1000);
            if (timeout_ms > 10) timeout_ms = 10;
        }
        long n = recv_wait(sub->fd, buf, sizeof buf, timeout_ms);
        now = now_us();
        if (n < 0) {
            perror("subscriber: recv");
            sub->failures++;
            break;
        }
        if (n > 0) {
            size_t len = 0;
            int32_t result = -1;
            rtm_status s = rtm_srtp_unprotect(sub->srtp, buf, (size_t)n, &len);
            if (s == RTM_OK) s = rtm_jitter_push_copy(sub->jb, buf, len, now, &result);
            if (s != RTM_OK) {
                fprintf(stderr, "subscriber: %s\n", rtm_status_str(s));
                sub->failures++;
            } else if (result != RTM_JITTER_STORED) {
                fprintf(stderr, "subscriber: push result %d\n", (int)result);
                sub->rejected++;
            }
        }
        unsigned before = sub->played + sub->lost;
        drain(sub, now);
        if (sub->played + sub->lost != before) last_progress = now;
    }
    return NULL;
}

/* ---- main ---------------------------------------------------------------- */

int main(void) {
    if (rtm_version() != RTM_VERSION_NUMBER) {
        fprintf(stderr, "header version %06x, library %06x\n", (unsigned)RTM_VERSION_NUMBER,
                (unsigned)rtm_version());
        return 1;
    }
    struct publisher pub = {0};
    struct sfu sfu = {0};
    struct subscriber sub = {0};
    uint16_t pub_port = 0, sub_port = 0;
    pub.fd = udp_socket(&pub_port);
    sfu.fd = udp_socket(&pub.sfu_port);
    sub.fd = udp_socket(&sub_port);
    sfu.subscriber_port = sub_port;
    if (pub.fd < 0 || sfu.fd < 0 || sub.fd < 0) {
        perror("socket");
        return 1;
    }

    pub.srtp = srtp_ctx(KEY_A, SALT_A);
    sfu.from_publisher = srtp_ctx(KEY_A, SALT_A);
    sfu.to_subscriber = srtp_ctx(KEY_B, SALT_B);
    sub.srtp = srtp_ctx(KEY_B, SALT_B);
    rtm_jitter_config jc = rtm_jitter_config_default(RTM_JITTER_AUDIO);
    jc.fixed_delay_us = PLAYOUT_DELAY_US;
    jc.max_delay_us = PLAYOUT_DELAY_US;
    jc.nack_enabled = false; /* nobody retransmits in this example */
    rtm_status s = rtm_jitter_new(&jc, &sub.jb);
    if (!pub.srtp || !sfu.from_publisher || !sfu.to_subscriber || !sub.srtp || s != RTM_OK) {
        fprintf(stderr, "setup failed: %s\n", rtm_status_str(s));
        return 1;
    }

    pthread_t t_pub, t_sfu, t_sub;
    if (pthread_create(&t_sub, NULL, subscriber_main, &sub) != 0 ||
        pthread_create(&t_sfu, NULL, sfu_main, &sfu) != 0 ||
        pthread_create(&t_pub, NULL, publisher_main, &pub) != 0) {
        fprintf(stderr, "pthread_create failed\n");
        return 1;
    }
    pthread_join(t_sub, NULL);
    atomic_store(&stop, true);
    pthread_join(t_pub, NULL);
    pthread_join(t_sfu, NULL);

    rtm_srtp_stats st;
    memset(&st, 0, sizeof st);
    rtm_srtp_get_stats(sub.srtp, &st, sizeof st);
    printf("sfu_loop: %u sent, %u forwarded, %u played in order, %u lost, %u rejected; "
           "subscriber unprotected %llu packets\n",
           (unsigned)PACKETS, sfu.forwarded, sub.played, sub.lost, sub.rejected,
           (unsigned long long)st.rtp_unprotected);
    bool ok = pub.failures == 0 && sfu.failures == 0 && sub.failures == 0 && sub.lost == 0 &&
              sub.rejected == 0 && sub.played == PACKETS && sfu.forwarded == PACKETS &&
              st.rtp_unprotected == PACKETS;

    rtm_jitter_free(sub.jb);
    rtm_srtp_free(pub.srtp);
    rtm_srtp_free(sfu.from_publisher);
    rtm_srtp_free(sfu.to_subscriber);
    rtm_srtp_free(sub.srtp);
    close(pub.fd);
    close(sfu.fd);
    close(sub.fd);
    if (!ok) fprintf(stderr, "sfu_loop: FAILED\n");
    return ok ? 0 : 1;
}
