/* SRTP and SRTCP interoperability with libsrtp (Debian's libsrtp2), both
 * ways, for every profile both implement: rtmedia protects and libsrtp
 * unprotects, libsrtp protects and rtmedia unprotects, and both senders must
 * produce the same bytes (SRTP is deterministic for a given key and index).
 * RTP packets of varied shapes (empty payload, CSRCs, one- and two-byte
 * header extensions, padding) run across a sequence-number wrap (the
 * rollover counter increments) and are delivered reordered; replayed,
 * too-old and tampered packets are rejected by both with matching statuses
 * (also checked differentially over a long random delivery pattern), SRTCP
 * compound packets go both ways, and a failed rtmedia unprotect leaves the
 * buffer unchanged. */
#include "rtmedia.h"

#include <srtp2/srtp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"

/* What the current step is, printed with every failure. */
static char where[160];

static void set_where(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(where, sizeof where, fmt, ap);
    va_end(ap);
}

#define EXPECT(cond, ...)                                                     \
    do {                                                                      \
        if (cond) {                                                           \
            check_passed++;                                                   \
        } else {                                                              \
            check_failed++;                                                   \
            fprintf(stderr, "%s:%d: [%s] CHECK failed: %s: ", __FILE__,       \
                    __LINE__, where, #cond);                                  \
            fprintf(stderr, __VA_ARGS__);                                     \
            fputc('\n', stderr);                                              \
        }                                                                     \
    } while (0)

static void print_hex(const char *label, const uint8_t *p, size_t n) {
    fprintf(stderr, "    %s (%zu bytes):", label, n);
    for (size_t i = 0; i < n; i++) fprintf(stderr, "%s%02x", i % 32 ? "" : "\n      ", p[i]);
    fputc('\n', stderr);
}

static uint32_t rng = 0x2545f491u;

static uint32_t rnd(void) {
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

static void fill_random(uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)(rnd() >> 24);
}

/* A heap copy of exactly n bytes, so ASan/valgrind catch any access past it. */
static uint8_t *dup_exact(const uint8_t *p, size_t n) {
    uint8_t *d = malloc(n ? n : 1);
    if (n) memcpy(d, p, n);
    return d;
}

/* ---- profiles ---------------------------------------------------------- */

static void set_cm128_80(srtp_crypto_policy_t *p) { srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(p); }
static void set_cm128_32(srtp_crypto_policy_t *p) { srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(p); }
static void set_cm256_80(srtp_crypto_policy_t *p) { srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(p); }
static void set_cm256_32(srtp_crypto_policy_t *p) { srtp_crypto_policy_set_aes_cm_256_hmac_sha1_32(p); }
static void set_gcm128(srtp_crypto_policy_t *p) { srtp_crypto_policy_set_aes_gcm_128_16_auth(p); }
static void set_gcm256(srtp_crypto_policy_t *p) { srtp_crypto_policy_set_aes_gcm_256_16_auth(p); }

typedef struct profile {
    uint16_t id;
    const char *name;
    size_t key_len, salt_len;
    size_t rtp_trailer, rtcp_trailer;
    void (*set_rtp)(srtp_crypto_policy_t *);
    /* As libsrtp's srtp_crypto_policy_set_from_profile_for_rtcp: the _32
     * profiles keep the 80-bit tag for RTCP. */
    void (*set_rtcp)(srtp_crypto_policy_t *);
} profile;

static const profile PROFILES[] = {
    {1, "AES128_CM_HMAC_SHA1_80", 16, 14, 10, 14, set_cm128_80, set_cm128_80},
    {2, "AES128_CM_HMAC_SHA1_32", 16, 14, 4, 14, set_cm128_32, set_cm128_80},
    {3, "AES256_CM_HMAC_SHA1_80", 32, 14, 10, 14, set_cm256_80, set_cm256_80},
    {4, "AES256_CM_HMAC_SHA1_32", 32, 14, 4, 14, set_cm256_32, set_cm256_80},
    {7, "AEAD_AES_128_GCM", 16, 12, 16, 20, set_gcm128, set_gcm128},
    {8, "AEAD_AES_256_GCM", 32, 12, 16, 20, set_gcm256, set_gcm256},
};

/* Where the SRTCP E-bit/index word and the tag start in a packet whose RTCP
 * part is n bytes: RFC 3711 puts the index word first, RFC 7714 (AEAD) puts
 * it after the tag. */
static bool is_aead(const profile *p) { return p->id == 7 || p->id == 8; }
static size_t rtcp_index_at(const profile *p, size_t n) { return is_aead(p) ? n + 16 : n; }
static size_t rtcp_tag_at(const profile *p, size_t n) { return is_aead(p) ? n : n + 4; }

/* The four endpoints of one test: a libsrtp sender and receiver, an rtmedia
 * sender and receiver, all with the same master key. */
typedef struct peers {
    const profile *p;
    srtp_t lib_tx, lib_rx;
    rtm_srtp_t *rtm_tx, *rtm_rx;
    uint8_t key[32], salt[14], keysalt[46];
} peers;

static srtp_t lib_session(const peers *s, srtp_ssrc_type_t type) {
    srtp_policy_t pol;
    memset(&pol, 0, sizeof pol);
    s->p->set_rtp(&pol.rtp);
    s->p->set_rtcp(&pol.rtcp);
    pol.ssrc.type = type;
    pol.key = (unsigned char *)s->keysalt;
    pol.window_size = 1024;
    pol.allow_repeat_tx = 1;
    pol.next = NULL;
    srtp_t session = NULL;
    srtp_err_status_t st = srtp_create(&session, &pol);
    EXPECT(st == srtp_err_status_ok && session != NULL, "srtp_create returned %d", (int)st);
    return session;
}

static rtm_srtp_t *rtm_session(const peers *s) {
    rtm_srtp_config cfg;
    rtm_status st = rtm_srtp_config_init(&cfg, sizeof cfg);
    EXPECT(st == RTM_OK, "rtm_srtp_config_init returned %s", rtm_status_str(st));
    cfg.replay_window = 1024;
    rtm_srtp_t *ctx = NULL;
    st = rtm_srtp_new(s->p->id, s->key, s->p->key_len, s->salt, s->p->salt_len, &cfg, &ctx);
    EXPECT(st == RTM_OK && ctx != NULL, "rtm_srtp_new returned %s", rtm_status_str(st));
    return ctx;
}

static bool peers_open(peers *s, const profile *p) {
    memset(s, 0, sizeof *s);
    s->p = p;
    fill_random(s->key, p->key_len);
    fill_random(s->salt, p->salt_len);
    memcpy(s->keysalt, s->key, p->key_len);
    memcpy(s->keysalt + p->key_len, s->salt, p->salt_len);
    s->lib_tx = lib_session(s, ssrc_any_outbound);
    s->lib_rx = lib_session(s, ssrc_any_inbound);
    s->rtm_tx = rtm_session(s);
    s->rtm_rx = rtm_session(s);
    return s->lib_tx && s->lib_rx && s->rtm_tx && s->rtm_rx;
}

static void peers_close(peers *s) {
    if (s->lib_tx) srtp_dealloc(s->lib_tx);
    if (s->lib_rx) srtp_dealloc(s->lib_rx);
    rtm_srtp_free(s->rtm_tx);
    rtm_srtp_free(s->rtm_rx);
}

/* ---- packets ----------------------------------------------------------- */

/* One plaintext packet and what each sender made of it. */
typedef struct sample {
    uint8_t *plain, *rtm_ct, *lib_ct;
    size_t plain_len, rtm_ct_len, lib_ct_len;
    uint16_t seq;
    bool rtm_ok, lib_ok;
} sample;

static void sample_free(sample *x) {
    free(x->plain);
    free(x->rtm_ct);
    free(x->lib_ct);
    memset(x, 0, sizeof *x);
}

/* Writes an RTP packet by hand (RFC 3550, RFC 8285) in one of several
 * shapes; returns its length. `out` must hold 12 + 60 + 32 + payload + 255. */
static size_t build_rtp(uint8_t *out, int shape, uint32_t ssrc, uint16_t seq, uint32_t ts,
                        size_t payload_len) {
    size_t n = 0;
    int csrcs = 0, pad = 0;
    bool one_byte = false, two_byte = false;
    switch (shape % 7) {
    case 0: break;
    case 1: csrcs = 1 + (int)(rnd() % 15); break;
    case 2: one_byte = true; break;
    case 3: pad = 1 + (int)(rnd() % 12); break;
    case 4: csrcs = 2; one_byte = true; pad = 4; break;
    case 5: two_byte = true; break;
    case 6: csrcs = 15; two_byte = true; pad = 1; break;
    }
    out[n++] = (uint8_t)(0x80 | (pad ? 0x20 : 0) | (one_byte || two_byte ? 0x10 : 0) | csrcs);
    out[n++] = (uint8_t)((shape % 5 == 0 ? 0x80 : 0) | (shape & 1 ? 111 : 96));
    out[n++] = (uint8_t)(seq >> 8);
    out[n++] = (uint8_t)seq;
    for (int i = 3; i >= 0; i--) out[n++] = (uint8_t)(ts >> (8 * i));
    for (int i = 3; i >= 0; i--) out[n++] = (uint8_t)(ssrc >> (8 * i));
    for (int c = 0; c < csrcs; c++) {
        fill_random(out + n, 4);
        n += 4;
    }
    if (one_byte) {
        /* audio level (id 1, 1 byte), transport-wide seq (id 3, 2 bytes),
         * abs-send-time (id 5, 3 bytes): 9 bytes, padded to 12. */
        const uint8_t ext[16] = {0xbe, 0xde, 0x00, 0x03, 0x10, 0x9e, 0x31, 0x00,
                                 0x2a, 0x52, 0x01, 0x02, 0x03, 0x00, 0x00, 0x00};
        memcpy(out + n, ext, sizeof ext);
        n += sizeof ext;
    }
    if (two_byte) {
        /* id 200 with 20 bytes, id 2 with 0 bytes: 24 bytes. */
        out[n++] = 0x10;
        out[n++] = 0x00;
        out[n++] = 0x00;
        out[n++] = 0x06;
        out[n++] = 200;
        out[n++] = 20;
        fill_random(out + n, 20);
        n += 20;
        out[n++] = 2;
        out[n++] = 0;
    }
    fill_random(out + n, payload_len);
    n += payload_len;
    if (pad) {
        memset(out + n, 0, (size_t)pad - 1);
        n += (size_t)pad - 1;
        out[n++] = (uint8_t)pad;
    }
    return n;
}

/* Protects `x->plain` with both senders and compares their output. */
static void protect_both(peers *s, sample *x) {
    const profile *p = s->p;
    size_t cap = x->plain_len + p->rtp_trailer;
    x->rtm_ct = malloc(cap);
    memcpy(x->rtm_ct, x->plain, x->plain_len);
    size_t out_len = 0;
    rtm_status st = rtm_srtp_protect(s->rtm_tx, x->rtm_ct, x->plain_len, cap, &out_len);
    EXPECT(st == RTM_OK, "rtm_srtp_protect returned %s", rtm_status_str(st));
    x->rtm_ok = st == RTM_OK;
    if (x->rtm_ok) {
        EXPECT(out_len == cap, "rtm protected length %zu, want %zu", out_len, cap);
        x->rtm_ct_len = out_len;
    }

    x->lib_ct = malloc(x->plain_len + SRTP_MAX_TRAILER_LEN);
    memcpy(x->lib_ct, x->plain, x->plain_len);
    int len = (int)x->plain_len;
    srtp_err_status_t ls = srtp_protect(s->lib_tx, x->lib_ct, &len);
    EXPECT(ls == srtp_err_status_ok, "srtp_protect returned %d", (int)ls);
    x->lib_ok = ls == srtp_err_status_ok;
    if (x->lib_ok) {
        EXPECT((size_t)len == cap, "libsrtp protected length %d, want %zu", len, cap);
        x->lib_ct_len = (size_t)len;
    }

    if (x->rtm_ok && x->lib_ok) {
        bool same = x->rtm_ct_len == x->lib_ct_len && memcmp(x->rtm_ct, x->lib_ct, x->lib_ct_len) == 0;
        EXPECT(same, "rtmedia and libsrtp ciphertexts differ");
        if (!same) {
            print_hex("plaintext", x->plain, x->plain_len);
            print_hex("rtmedia", x->rtm_ct, x->rtm_ct_len);
            print_hex("libsrtp", x->lib_ct, x->lib_ct_len);
        }
    }
}

/* libsrtp unprotects `ct` (a copy in an exactly sized buffer); on success the
 * result must equal `plain`. Returns libsrtp's status. */
static srtp_err_status_t lib_unprotect(srtp_t rx, bool rtcp, const uint8_t *ct, size_t ct_len,
                                       const uint8_t *plain, size_t plain_len) {
    uint8_t *buf = dup_exact(ct, ct_len);
    int len = (int)ct_len;
    srtp_err_status_t st = rtcp ? srtp_unprotect_rtcp(rx, buf, &len) : srtp_unprotect(rx, buf, &len);
    if (st == srtp_err_status_ok) {
        bool same = (size_t)len == plain_len && memcmp(buf, plain, plain_len) == 0;
        EXPECT(same, "libsrtp's unprotect of rtmedia's packet differs from the original");
        if (!same) {
            print_hex("original", plain, plain_len);
            print_hex("rtmedia protected", ct, ct_len);
            print_hex("libsrtp unprotected", buf, (size_t)len);
        }
    }
    free(buf);
    return st;
}

/* rtmedia unprotects `ct` (a copy in an exactly sized buffer). On success the
 * result must equal `plain`; on failure the buffer and `*out_len` must be
 * untouched. Returns rtmedia's status. */
static rtm_status rtm_unprotect(rtm_srtp_t *rx, bool rtcp, const uint8_t *ct, size_t ct_len,
                                const uint8_t *plain, size_t plain_len) {
    uint8_t *buf = dup_exact(ct, ct_len);
    size_t out_len = 0xdeadbeef;
    rtm_status st = rtcp ? rtm_srtcp_unprotect(rx, buf, ct_len, &out_len)
                         : rtm_srtp_unprotect(rx, buf, ct_len, &out_len);
    if (st == RTM_OK) {
        bool same = out_len == plain_len && memcmp(buf, plain, plain_len) == 0;
        EXPECT(same, "rtmedia's unprotect of libsrtp's packet differs from the original");
        if (!same) {
            print_hex("original", plain, plain_len);
            print_hex("libsrtp protected", ct, ct_len);
            print_hex("rtmedia unprotected", buf, out_len <= ct_len ? out_len : ct_len);
        }
    } else {
        EXPECT(memcmp(buf, ct, ct_len) == 0, "failed unprotect (%s) changed the buffer",
               rtm_status_str(st));
        EXPECT(out_len == 0xdeadbeef, "failed unprotect (%s) wrote *out_len", rtm_status_str(st));
    }
    free(buf);
    return st;
}

/* Delivers sample x to both receivers (rtmedia's ciphertext to libsrtp,
 * libsrtp's to rtmedia) and checks each status. */
static void deliver(peers *s, bool rtcp, const sample *x, srtp_err_status_t want_lib, rtm_status want_rtm,
                    const char *what) {
    if (x->rtm_ok) {
        srtp_err_status_t ls = lib_unprotect(s->lib_rx, rtcp, x->rtm_ct, x->rtm_ct_len, x->plain, x->plain_len);
        EXPECT(ls == want_lib, "%s seq %u: libsrtp unprotect of rtmedia's packet returned %d, want %d", what,
               x->seq, (int)ls, (int)want_lib);
        if (ls != want_lib) print_hex("rtmedia protected", x->rtm_ct, x->rtm_ct_len);
    }
    if (x->lib_ok) {
        rtm_status rs = rtm_unprotect(s->rtm_rx, rtcp, x->lib_ct, x->lib_ct_len, x->plain, x->plain_len);
        EXPECT(rs == want_rtm, "%s seq %u: rtmedia unprotect of libsrtp's packet returned %s, want %s", what,
               x->seq, rtm_status_str(rs), rtm_status_str(want_rtm));
        if (rs != want_rtm) print_hex("libsrtp protected", x->lib_ct, x->lib_ct_len);
    }
}

/* Delivers a modified copy of a packet to both receivers: both must reject it
 * with the given statuses (rtmedia without touching the buffer). */
static void deliver_modified(peers *s, bool rtcp, const sample *x, size_t offset, uint8_t xor_mask,
                             srtp_err_status_t want_lib, rtm_status want_rtm, const char *what) {
    if (x->rtm_ok && offset < x->rtm_ct_len) {
        uint8_t *t = dup_exact(x->rtm_ct, x->rtm_ct_len);
        t[offset] ^= xor_mask;
        srtp_err_status_t ls = lib_unprotect(s->lib_rx, rtcp, t, x->rtm_ct_len, x->plain, x->plain_len);
        EXPECT(ls == want_lib, "%s: libsrtp returned %d, want %d", what, (int)ls, (int)want_lib);
        free(t);
    }
    if (x->lib_ok && offset < x->lib_ct_len) {
        uint8_t *t = dup_exact(x->lib_ct, x->lib_ct_len);
        t[offset] ^= xor_mask;
        rtm_status rs = rtm_unprotect(s->rtm_rx, rtcp, t, x->lib_ct_len, x->plain, x->plain_len);
        EXPECT(rs == want_rtm, "%s: rtmedia returned %s, want %s", what, rtm_status_str(rs),
               rtm_status_str(want_rtm));
        free(t);
    }
}

/* Both must fail authentication. */
static void deliver_tampered(peers *s, bool rtcp, const sample *x, size_t offset, uint8_t xor_mask,
                             const char *what) {
    deliver_modified(s, rtcp, x, offset, xor_mask, srtp_err_status_auth_fail, RTM_ERR_AUTH_FAILED, what);
}

/* ---- SRTP -------------------------------------------------------------- */

#define WRAP_COUNT 200
#define WRAP_START 65500

static const size_t PAYLOAD_SIZES[] = {0, 1, 3, 17, 160, 480, 1000, 1200, 0, 57, 13};

/* 200 packets from sequence number 65500 (so the ROC goes 0 -> 1 at packet
 * 36), reordered on delivery, then replays and tampering. */
static void test_rtp_wrap(const profile *p) {
    peers s;
    if (!peers_open(&s, p)) {
        peers_close(&s);
        return;
    }
    const uint32_t ssrc = 0x1234abcd;
    sample xs[WRAP_COUNT];
    memset(xs, 0, sizeof xs);
    uint8_t tmp[12 + 60 + 32 + 1200 + 255];
    for (int i = 0; i < WRAP_COUNT; i++) {
        uint16_t seq = (uint16_t)(WRAP_START + i);
        size_t payload = PAYLOAD_SIZES[(size_t)i % (sizeof PAYLOAD_SIZES / sizeof PAYLOAD_SIZES[0])];
        if (i == WRAP_COUNT - 1) payload = 100; /* held back for tampering */
        size_t n = build_rtp(tmp, i, ssrc, seq, 3000u + 960u * (uint32_t)i, payload);
        xs[i].plain = dup_exact(tmp, n);
        xs[i].plain_len = n;
        xs[i].seq = seq;
        set_where("%s rtp wrap protect #%d seq %u shape %d", p->name, i, seq, i % 7);
        protect_both(&s, &xs[i]);
    }

    /* Delivery order: shuffled within blocks of 8, and the block holding the
     * wrap (packets 32..39, sequence numbers 65532..3) reversed, so packets
     * with ROC 1 arrive before the last ones with ROC 0. The last packet is
     * held back for the tamper checks. */
    int order[WRAP_COUNT - 1];
    for (int i = 0; i < WRAP_COUNT - 1; i++) order[i] = i;
    for (int b = 0; b < WRAP_COUNT - 1; b += 8) {
        int end = b + 8 < WRAP_COUNT - 1 ? b + 8 : WRAP_COUNT - 1;
        if (b == 32) {
            for (int i = 0; i < 4; i++) {
                int t = order[b + i];
                order[b + i] = order[b + 7 - i];
                order[b + 7 - i] = t;
            }
            continue;
        }
        for (int i = end - 1; i > b; i--) {
            int j = b + (int)(rnd() % (uint32_t)(i - b + 1));
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
    }
    for (int k = 0; k < WRAP_COUNT - 1; k++) {
        const sample *x = &xs[order[k]];
        set_where("%s rtp wrap deliver #%d (packet %d)", p->name, k, order[k]);
        deliver(&s, false, x, srtp_err_status_ok, RTM_OK, "in order/reordered");
    }

    /* Replays: a recent packet, the last one before the wrap (ROC 0), the
     * first one after it (ROC 1), the very first one. */
    const int replays[] = {150, 35, 36, 0};
    for (size_t r = 0; r < sizeof replays / sizeof replays[0]; r++) {
        set_where("%s rtp replay packet %d", p->name, replays[r]);
        deliver(&s, false, &xs[replays[r]], srtp_err_status_replay_fail, RTM_ERR_REPLAYED, "replay");
    }

    /* Tampering with the held-back packet: payload, tag, header fields.
     * None may move the replay window or the ROC. */
    sample *h = &xs[WRAP_COUNT - 1];
    size_t ct_len = h->lib_ct_len ? h->lib_ct_len : h->rtm_ct_len;
    set_where("%s rtp tamper seq %u", p->name, h->seq);
    deliver_tampered(&s, false, h, ct_len - p->rtp_trailer - 1, 0x01, "payload bit flipped");
    deliver_tampered(&s, false, h, ct_len - p->rtp_trailer - 100, 0x80, "first payload byte flipped");
    deliver_tampered(&s, false, h, ct_len - 1, 0x40, "tag bit flipped");
    deliver_tampered(&s, false, h, ct_len - p->rtp_trailer, 0x01, "first tag byte flipped");
    deliver_tampered(&s, false, h, 1, 0x80, "marker bit flipped");
    deliver_tampered(&s, false, h, 2, 0x40, "sequence number moved ahead by 0x4000");
    /* Moved by 0x8000 the index guess lands a ROC back, far below the
     * window: the replay check comes before authentication in both. */
    deliver_modified(&s, false, h, 2, 0x80, srtp_err_status_replay_old, RTM_ERR_REPLAY_TOO_OLD,
                     "sequence number moved by 0x8000 (guessed ROC 0)");
    deliver_tampered(&s, false, h, 7, 0x01, "timestamp bit flipped");
    set_where("%s rtp genuine after tampering seq %u", p->name, h->seq);
    deliver(&s, false, h, srtp_err_status_ok, RTM_OK, "genuine after tampering");
    deliver(&s, false, h, srtp_err_status_replay_fail, RTM_ERR_REPLAYED, "genuine replayed");

    for (int i = 0; i < WRAP_COUNT; i++) sample_free(&xs[i]);
    peers_close(&s);
}

/* The edge of a 1024-packet window: after index H, H-1023 is accepted and
 * H-1024 is too old (libsrtp and RFC 3711 agree), whether or not it was
 * received before. */
static void test_rtp_too_old(const profile *p) {
    peers s;
    if (!peers_open(&s, p)) {
        peers_close(&s);
        return;
    }
    const uint32_t ssrc = 0x0badcafe;
    const uint16_t seqs[4] = {1000, 1001, 1002, 1000 + 1025};
    sample xs[4];
    memset(xs, 0, sizeof xs);
    uint8_t tmp[12 + 60 + 32 + 1200 + 255];
    for (int i = 0; i < 4; i++) {
        size_t n = build_rtp(tmp, i, ssrc, seqs[i], 160u * seqs[i], 20);
        xs[i].plain = dup_exact(tmp, n);
        xs[i].plain_len = n;
        xs[i].seq = seqs[i];
        set_where("%s too-old protect seq %u", p->name, seqs[i]);
        protect_both(&s, &xs[i]);
    }
    set_where("%s too-old", p->name);
    deliver(&s, false, &xs[0], srtp_err_status_ok, RTM_OK, "first");
    deliver(&s, false, &xs[3], srtp_err_status_ok, RTM_OK, "jump ahead by 1025");
    deliver(&s, false, &xs[2], srtp_err_status_ok, RTM_OK, "1023 behind (inside window)");
    deliver(&s, false, &xs[1], srtp_err_status_replay_old, RTM_ERR_REPLAY_TOO_OLD, "1024 behind");
    deliver(&s, false, &xs[0], srtp_err_status_replay_old, RTM_ERR_REPLAY_TOO_OLD, "1025 behind");
    deliver(&s, false, &xs[2], srtp_err_status_replay_fail, RTM_ERR_REPLAYED, "1023 behind again");
    for (int i = 0; i < 4; i++) sample_free(&xs[i]);
    peers_close(&s);
}

static rtm_status map_lib_status(srtp_err_status_t st) {
    switch (st) {
    case srtp_err_status_ok: return RTM_OK;
    case srtp_err_status_auth_fail: return RTM_ERR_AUTH_FAILED;
    case srtp_err_status_replay_fail: return RTM_ERR_REPLAYED;
    case srtp_err_status_replay_old: return RTM_ERR_REPLAY_TOO_OLD;
    default: return RTM_ERR_PANIC; /* nothing rtmedia should ever match */
    }
}

#define DIFF_COUNT 3000

/* Differential replay check: the same stream of deliveries (mostly forward,
 * skipping some, going back up to 1400 packets, repeating recent ones, one
 * jump of 1100 ahead, across a wrap) into libsrtp and rtmedia receivers must
 * get the same verdict for every packet. */
static void test_rtp_replay_differential(const profile *p) {
    peers s;
    if (!peers_open(&s, p)) {
        peers_close(&s);
        return;
    }
    const uint32_t ssrc = 0x5eed5eed;
    sample *xs = calloc(DIFF_COUNT, sizeof *xs);
    uint8_t tmp[12 + 60 + 32 + 1200 + 255];
    for (int i = 0; i < DIFF_COUNT; i++) {
        uint16_t seq = (uint16_t)(64000 + i);
        size_t n = build_rtp(tmp, i, ssrc, seq, 160u * (uint32_t)i, rnd() % 48);
        xs[i].plain = dup_exact(tmp, n);
        xs[i].plain_len = n;
        xs[i].seq = seq;
        set_where("%s differential protect #%d seq %u", p->name, i, seq);
        protect_both(&s, &xs[i]);
    }
    int counts[4] = {0, 0, 0, 0}; /* ok, replayed, too old, other */
    bool jumped = false;
    int cursor = 0;
    for (int step = 0; cursor < DIFF_COUNT; step++) {
        uint32_t r = rnd() % 100;
        int k;
        if (!jumped && cursor > 700) {
            cursor += 1100;
            jumped = true;
            k = cursor;
        } else if (r < 70) {
            k = cursor;
            cursor += 1 + (int)(rnd() % 2);
        } else if (r < 85) {
            k = cursor - 1 - (int)(rnd() % 1400);
        } else {
            k = cursor - (int)(rnd() % 20);
        }
        if (k < 0 || k >= DIFF_COUNT) continue;
        const sample *x = &xs[k];
        if (!x->rtm_ok || !x->lib_ok) continue;
        set_where("%s differential step %d packet %d seq %u", p->name, step, k, x->seq);
        srtp_err_status_t ls = lib_unprotect(s.lib_rx, false, x->rtm_ct, x->rtm_ct_len, x->plain, x->plain_len);
        rtm_status rs = rtm_unprotect(s.rtm_rx, false, x->lib_ct, x->lib_ct_len, x->plain, x->plain_len);
        EXPECT(map_lib_status(ls) == rs, "libsrtp returned %d, rtmedia %s", (int)ls, rtm_status_str(rs));
        counts[rs == RTM_OK ? 0 : rs == RTM_ERR_REPLAYED ? 1 : rs == RTM_ERR_REPLAY_TOO_OLD ? 2 : 3]++;
    }
    set_where("%s differential totals", p->name);
    EXPECT(counts[0] > 1000 && counts[1] > 50 && counts[2] > 20 && counts[3] == 0,
           "ok %d, replayed %d, too old %d, other %d", counts[0], counts[1], counts[2], counts[3]);
    for (int i = 0; i < DIFF_COUNT; i++) sample_free(&xs[i]);
    free(xs);
    peers_close(&s);
}

/* Three SSRCs interleaved in one session, one of them wrapping. */
static void test_rtp_multi_ssrc(const profile *p) {
    peers s;
    if (!peers_open(&s, p)) {
        peers_close(&s);
        return;
    }
    const uint32_t ssrcs[3] = {0x11111111, 0x22222222, 0xfffffffe};
    const uint16_t starts[3] = {0, 65530, 31000};
    enum { PER = 30 };
    sample xs[3 * PER];
    memset(xs, 0, sizeof xs);
    uint8_t tmp[12 + 60 + 32 + 1200 + 255];
    for (int i = 0; i < 3 * PER; i++) {
        int k = i % 3;
        uint16_t seq = (uint16_t)(starts[k] + i / 3);
        size_t n = build_rtp(tmp, i, ssrcs[k], seq, 90u * (uint32_t)i, 40 + (size_t)(rnd() % 300));
        xs[i].plain = dup_exact(tmp, n);
        xs[i].plain_len = n;
        xs[i].seq = seq;
        set_where("%s multi-ssrc protect ssrc %08x seq %u", p->name, ssrcs[k], seq);
        protect_both(&s, &xs[i]);
    }
    for (int i = 0; i < 3 * PER; i++) {
        set_where("%s multi-ssrc deliver ssrc %08x seq %u", p->name, ssrcs[i % 3], xs[i].seq);
        deliver(&s, false, &xs[i], srtp_err_status_ok, RTM_OK, "interleaved");
    }
    set_where("%s multi-ssrc replay", p->name);
    deliver(&s, false, &xs[3 * PER - 2], srtp_err_status_replay_fail, RTM_ERR_REPLAYED, "replay");
    for (int i = 0; i < 3 * PER; i++) sample_free(&xs[i]);
    peers_close(&s);
}

/* A packet whose extension block says cryptex (RFC 9335, 0xC0DE/0xC2DE),
 * authentic under the key, reaches an rtmedia context with cryptex off:
 * RTM_ERR_UNSUPPORTED and the buffer untouched. */
static void test_cryptex_off(const profile *p) {
    peers s;
    if (!peers_open(&s, p)) {
        peers_close(&s);
        return;
    }
    const uint16_t profiles[2] = {0xc0de, 0xc2de};
    for (int i = 0; i < 2; i++) {
        uint8_t pkt[12 + 8 + 20];
        const uint8_t head[20] = {0x90, 0x60, 0x00, (uint8_t)(7 + i), 0, 0, 0x10, 0, 0x44, 0x55, 0x66, 0x77,
                                  (uint8_t)(profiles[i] >> 8), (uint8_t)profiles[i], 0x00, 0x01,
                                  0x10, 0xaa, 0x00, 0x00};
        memcpy(pkt, head, sizeof head);
        fill_random(pkt + 20, 20);
        sample x;
        memset(&x, 0, sizeof x);
        x.plain = dup_exact(pkt, sizeof pkt);
        x.plain_len = sizeof pkt;
        x.seq = (uint16_t)(7 + i);
        x.lib_ct = malloc(sizeof pkt + SRTP_MAX_TRAILER_LEN);
        memcpy(x.lib_ct, pkt, sizeof pkt);
        int len = (int)sizeof pkt;
        set_where("%s cryptex profile %04x with cryptex off", p->name, profiles[i]);
        srtp_err_status_t ls = srtp_protect(s.lib_tx, x.lib_ct, &len);
        EXPECT(ls == srtp_err_status_ok, "srtp_protect returned %d", (int)ls);
        if (ls == srtp_err_status_ok) {
            rtm_status rs = rtm_unprotect(s.rtm_rx, false, x.lib_ct, (size_t)len, x.plain, x.plain_len);
            EXPECT(rs == RTM_ERR_UNSUPPORTED, "rtmedia returned %s, want RTM_ERR_UNSUPPORTED",
                   rtm_status_str(rs));
        }
        sample_free(&x);
    }
    peers_close(&s);
}

/* ---- SRTCP ------------------------------------------------------------- */

static size_t build_compound(uint8_t *out, size_t cap, int kind, uint32_t ssrc) {
    rtm_rtcp_report_block blocks[2];
    memset(blocks, 0, sizeof blocks);
    blocks[0].ssrc = 0x1234abcd;
    blocks[0].fraction_lost = 12;
    blocks[0].cumulative_lost = -3;
    blocks[0].extended_highest_seq = 0x0001ffff;
    blocks[0].jitter = 77;
    blocks[0].last_sr = 0x11223344;
    blocks[0].delay_since_last_sr = 6553;
    blocks[1] = blocks[0];
    blocks[1].ssrc = 0x0badcafe;
    size_t n = 0, m = 0;
    rtm_status st = RTM_OK;
    static const uint8_t cname[] = "alice@rtmedia.example";
    if (kind == 0) {
        st = rtm_rtcp_build_sr(ssrc, 0xe2287bfabf4e2d51ull, 0x0a609371, 32 + rnd() % 100, 0x49e0, blocks, 2, out,
                               cap, &n);
    } else {
        st = rtm_rtcp_build_rr(ssrc, blocks, kind == 1 ? 1 : 0, out, cap, &n);
    }
    EXPECT(st == RTM_OK, "building SR/RR: %s", rtm_status_str(st));
    st = rtm_rtcp_build_sdes_cname(ssrc, cname, sizeof cname - 1, out + n, cap - n, &m);
    EXPECT(st == RTM_OK, "building SDES: %s", rtm_status_str(st));
    n += m;
    if (kind == 2) {
        static const uint8_t reason[] = "leaving";
        st = rtm_rtcp_build_bye(&ssrc, 1, reason, sizeof reason - 1, out + n, cap - n, &m);
        EXPECT(st == RTM_OK, "building BYE: %s", rtm_status_str(st));
        n += m;
    }
    return n;
}

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

#define RTCP_COUNT 16

/* SRTCP packets whose rtmedia and libsrtp bytes were compared at one index,
 * and the first SRTCP index each used (reported, not checked: RFC 3711
 * starts at 0, libsrtp at 1; either interoperates). */
static int rtcp_compared;
static uint32_t rtcp_first_rtm, rtcp_first_lib;

/* Protects one compound RTCP packet with an rtmedia context (exact capacity). */
static bool rtm_protect_rtcp(rtm_srtp_t *tx, const profile *p, const uint8_t *plain, size_t plain_len,
                             uint8_t **ct, size_t *ct_len) {
    size_t cap = plain_len + p->rtcp_trailer;
    *ct = malloc(cap);
    memcpy(*ct, plain, plain_len);
    size_t out_len = 0;
    rtm_status st = rtm_srtcp_protect(tx, *ct, plain_len, cap, &out_len);
    EXPECT(st == RTM_OK, "rtm_srtcp_protect returned %s", rtm_status_str(st));
    if (st != RTM_OK) return false;
    EXPECT(out_len == cap, "rtm SRTCP length %zu, want %zu", out_len, cap);
    *ct_len = out_len;
    return true;
}

static bool lib_protect_rtcp(srtp_t tx, const profile *p, const uint8_t *plain, size_t plain_len, uint8_t **ct,
                             size_t *ct_len) {
    *ct = malloc(plain_len + SRTP_MAX_TRAILER_LEN + 4);
    memcpy(*ct, plain, plain_len);
    int len = (int)plain_len;
    srtp_err_status_t st = srtp_protect_rtcp(tx, *ct, &len);
    EXPECT(st == srtp_err_status_ok, "srtp_protect_rtcp returned %d", (int)st);
    if (st != srtp_err_status_ok) return false;
    EXPECT((size_t)len == plain_len + p->rtcp_trailer, "libsrtp SRTCP length %d, want %zu", len,
           plain_len + p->rtcp_trailer);
    *ct_len = (size_t)len;
    return true;
}

static void test_rtcp(const profile *p) {
    peers s;
    if (!peers_open(&s, p)) {
        peers_close(&s);
        return;
    }
    rtcp_compared = 0;
    const uint32_t ssrcs[2] = {0xa1a1a1a1, 0xb2b2b2b2};
    sample xs[RTCP_COUNT];
    memset(xs, 0, sizeof xs);
    uint8_t tmp[1500];
    /* First SRTCP index each implementation used per SSRC, and the last. */
    uint32_t rtm_first[2] = {0, 0}, lib_first[2] = {0, 0}, rtm_last[2] = {0, 0}, lib_last[2] = {0, 0};
    for (int i = 0; i < RTCP_COUNT; i++) {
        int k = i % 2;
        size_t n = build_compound(tmp, sizeof tmp, i % 3, ssrcs[k]);
        xs[i].plain = dup_exact(tmp, n);
        xs[i].plain_len = n;
        xs[i].seq = (uint16_t)i;
        set_where("%s srtcp protect #%d kind %d", p->name, i, i % 3);
        xs[i].rtm_ok = rtm_protect_rtcp(s.rtm_tx, p, xs[i].plain, n, &xs[i].rtm_ct, &xs[i].rtm_ct_len);
        xs[i].lib_ok = lib_protect_rtcp(s.lib_tx, p, xs[i].plain, n, &xs[i].lib_ct, &xs[i].lib_ct_len);
        if (xs[i].rtm_ok) {
            /* Header and sender SSRC in the clear, E bit set, index per SSRC
             * counting up by one. */
            EXPECT(memcmp(xs[i].rtm_ct, xs[i].plain, 8) == 0, "first 8 bytes must stay in the clear");
            uint32_t w = be32(xs[i].rtm_ct + rtcp_index_at(p, n));
            EXPECT(w & 0x80000000u, "E bit clear in rtmedia's SRTCP word %08x", w);
            uint32_t idx = w & 0x7fffffffu;
            if (i < 2) rtm_first[k] = idx;
            else EXPECT(idx == rtm_last[k] + 1, "rtmedia SRTCP index %u after %u", idx, rtm_last[k]);
            rtm_last[k] = idx;
        }
        if (xs[i].lib_ok) {
            uint32_t w = be32(xs[i].lib_ct + rtcp_index_at(p, n));
            EXPECT(w & 0x80000000u, "E bit clear in libsrtp's SRTCP word %08x", w);
            uint32_t idx = w & 0x7fffffffu;
            if (i < 2) lib_first[k] = idx;
            lib_last[k] = idx;
        }
        if (xs[i].rtm_ok && xs[i].lib_ok && rtm_last[k] == lib_last[k]) {
            rtcp_compared++;
            bool same = xs[i].rtm_ct_len == xs[i].lib_ct_len &&
                        memcmp(xs[i].rtm_ct, xs[i].lib_ct, xs[i].lib_ct_len) == 0;
            EXPECT(same, "rtmedia and libsrtp SRTCP differ at the same index %u", rtm_last[k]);
            if (!same) {
                print_hex("plaintext", xs[i].plain, n);
                print_hex("rtmedia", xs[i].rtm_ct, xs[i].rtm_ct_len);
                print_hex("libsrtp", xs[i].lib_ct, xs[i].lib_ct_len);
            }
        }
    }

    /* libsrtp starts the SRTCP index at 1; RFC 3711 says 0. If rtmedia
     * starts elsewhere, line the two up with extra packets on a second
     * sender so the bytes can still be compared. */
    if (rtm_first[0] != lib_first[0]) {
        set_where("%s srtcp aligned byte comparison (rtm first index %u, libsrtp %u)", p->name, rtm_first[0],
                  lib_first[0]);
        bool rtm_behind = rtm_first[0] < lib_first[0];
        uint32_t gap = rtm_behind ? lib_first[0] - rtm_first[0] : rtm_first[0] - lib_first[0];
        rtm_srtp_t *rtm2 = rtm_behind ? rtm_session(&s) : NULL;
        srtp_t lib2 = rtm_behind ? NULL : lib_session(&s, ssrc_any_outbound);
        for (int k = 0; k < 2 && gap < 8; k++) {
            for (uint32_t g = 0; g < gap; g++) {
                size_t n = build_compound(tmp, sizeof tmp, 1, ssrcs[k]);
                uint8_t *ct = NULL;
                size_t ct_len = 0;
                if (rtm2) rtm_protect_rtcp(rtm2, p, tmp, n, &ct, &ct_len);
                else lib_protect_rtcp(lib2, p, tmp, n, &ct, &ct_len);
                free(ct);
            }
        }
        for (int i = 0; gap < 8 && i < RTCP_COUNT; i++) {
            uint8_t *ct = NULL;
            size_t ct_len = 0;
            bool ok = rtm2 ? rtm_protect_rtcp(rtm2, p, xs[i].plain, xs[i].plain_len, &ct, &ct_len)
                           : lib_protect_rtcp(lib2, p, xs[i].plain, xs[i].plain_len, &ct, &ct_len);
            const uint8_t *other = rtm2 ? xs[i].lib_ct : xs[i].rtm_ct;
            size_t other_len = rtm2 ? xs[i].lib_ct_len : xs[i].rtm_ct_len;
            if (ok && other_len) {
                rtcp_compared++;
                bool same = ct_len == other_len && memcmp(ct, other, ct_len) == 0;
                EXPECT(same, "packet %d: rtmedia and libsrtp SRTCP differ at the same index", i);
                if (!same) {
                    print_hex("plaintext", xs[i].plain, xs[i].plain_len);
                    print_hex(rtm2 ? "rtmedia" : "libsrtp", ct, ct_len);
                    print_hex(rtm2 ? "libsrtp" : "rtmedia", other, other_len);
                }
            }
            free(ct);
        }
        rtm_srtp_free(rtm2);
        if (lib2) srtp_dealloc(lib2);
    }

    rtcp_first_rtm = rtm_first[0];
    rtcp_first_lib = lib_first[0];
    EXPECT(rtcp_compared == RTCP_COUNT, "only %d of %d SRTCP packets compared byte for byte "
           "(rtmedia first index %u, libsrtp %u)", rtcp_compared, RTCP_COUNT, rtm_first[0], lib_first[0]);

    /* Deliver all but the last, adjacent pairs swapped. */
    for (int i = 0; i + 1 < RTCP_COUNT - 1; i += 2) {
        set_where("%s srtcp deliver #%d", p->name, i + 1);
        deliver(&s, true, &xs[i + 1], srtp_err_status_ok, RTM_OK, "srtcp");
        set_where("%s srtcp deliver #%d", p->name, i);
        deliver(&s, true, &xs[i], srtp_err_status_ok, RTM_OK, "srtcp");
    }
    if ((RTCP_COUNT - 1) % 2) {
        set_where("%s srtcp deliver #%d", p->name, RTCP_COUNT - 2);
        deliver(&s, true, &xs[RTCP_COUNT - 2], srtp_err_status_ok, RTM_OK, "srtcp");
    }
    set_where("%s srtcp replay", p->name);
    deliver(&s, true, &xs[3], srtp_err_status_replay_fail, RTM_ERR_REPLAYED, "srtcp replay");
    deliver(&s, true, &xs[RTCP_COUNT - 2], srtp_err_status_replay_fail, RTM_ERR_REPLAYED, "srtcp replay");

    sample *h = &xs[RTCP_COUNT - 1];
    size_t n = h->plain_len;
    set_where("%s srtcp tamper", p->name);
    deliver_tampered(&s, true, h, 8, 0x01, "first encrypted byte flipped");
    deliver_tampered(&s, true, h, n - 1, 0x80, "last encrypted byte flipped");
    deliver_tampered(&s, true, h, 4, 0x01, "sender SSRC flipped");
    size_t idx_at = rtcp_index_at(p, n), tag_at = rtcp_tag_at(p, n), tag_len = p->rtcp_trailer - 4;
    deliver_tampered(&s, true, h, idx_at + 3, 0x10, "SRTCP index moved ahead by 16");
    deliver_tampered(&s, true, h, idx_at, 0x40, "SRTCP index moved ahead by 2^30");
    /* An unencrypted-looking packet: libsrtp refuses it against its
     * policy before checking (cant_check) in counter mode. */
    deliver_modified(&s, true, h, idx_at, 0x80, is_aead(p) ? srtp_err_status_auth_fail : srtp_err_status_cant_check,
                     RTM_ERR_AUTH_FAILED, "E bit cleared");
    deliver_tampered(&s, true, h, tag_at + tag_len - 1, 0x01, "last tag bit flipped");
    deliver_tampered(&s, true, h, tag_at, 0x80, "first tag byte flipped");
    set_where("%s srtcp genuine after tampering", p->name);
    deliver(&s, true, h, srtp_err_status_ok, RTM_OK, "genuine after tampering");
    deliver(&s, true, h, srtp_err_status_replay_fail, RTM_ERR_REPLAYED, "genuine replayed");

    for (int i = 0; i < RTCP_COUNT; i++) sample_free(&xs[i]);
    peers_close(&s);
}

int main(void) {
    srtp_err_status_t st = srtp_init();
    CHECK(st == srtp_err_status_ok);
    if (st != srtp_err_status_ok) return check_report("test_srtp_interop");

    for (size_t i = 0; i < sizeof PROFILES / sizeof PROFILES[0]; i++) {
        const profile *p = &PROFILES[i];
        size_t rtp_trailer = 0, rtcp_trailer = 0;
        set_where("%s overhead", p->name);
        CHECK_STATUS(rtm_srtp_profile_overhead(p->id, &rtp_trailer, &rtcp_trailer), RTM_OK);
        EXPECT(rtp_trailer == p->rtp_trailer && rtcp_trailer == p->rtcp_trailer, "rtm says %zu/%zu",
               rtp_trailer, rtcp_trailer);
        int failed_before = check_failed;
        test_rtp_wrap(p);
        test_rtp_too_old(p);
        test_rtp_replay_differential(p);
        test_rtp_multi_ssrc(p);
        test_cryptex_off(p);
        test_rtcp(p);
        printf("  %-24s %s (first SRTCP index: rtmedia %u, libsrtp %u)\n", p->name,
               check_failed == failed_before ? "ok" : "FAILED", rtcp_first_rtm, rtcp_first_lib);
    }

    CHECK(srtp_shutdown() == srtp_err_status_ok);
    return check_report("test_srtp_interop");
}
