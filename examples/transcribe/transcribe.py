#!/usr/bin/env python3
"""Transcript consumer of rtmedia's per-speaker taps (issue 18).

Reads what `cargo run --example transcribe` wrote (meeting.json, the taps,
the originals, the room mix), runs PocketSphinx (its English model ships in
the `pocketsphinx` wheel: nothing is downloaded) on

  * each talker's original audio, before Opus and the network (the floor),
  * the same through Opus alone, decoded by the talker's device without the
    network (what the codec costs, apart from the network and the library),
  * each talker's tap (every word belongs to that talker by construction),
  * the room mix, with each word given to the talker whose voice-activity
    frames cover it (what a service transcribing the mix does today),

prints the word error rate of each against the sentences spoken and the
attribution accuracy, checks the taps' SR-mapped timestamps against the
talkers' capture clocks, and writes the tap transcript as WebVTT (with
<v Speaker> tags) and JSON on the wall clock (tap media time -> the frame's
RTP timestamp -> the talker's RTCP sender reports).

    python3 transcribe.py DIR [--check]

--check exits 1 when a goal is missed: tap WER within 3 points of the floor
for every talker, 100 % of tap words attributed right, timestamps within
20 ms.
"""

import json
import re
import sys
import time
import wave
from datetime import datetime, timezone
from pathlib import Path

from pocketsphinx import Decoder

RATE = 16000
FRAME = 320  # 20 ms at 16 kHz
CONTENT_AUDIO, CONTENT_FEC = 0, 1
ONSET_THRESHOLD = 500  # |sample| of 16-bit audio: the first sound of a turn
SPEECH_RMS = 300  # -40 dBFS: the talkers' noise floor is -58 dBFS
JOIN_S, MARGIN_S = 0.5, 0.3


def read_wav(path):
    with wave.open(str(path)) as w:
        assert w.getframerate() == RATE and w.getnchannels() == 1 and w.getsampwidth() == 2
        return w.readframes(w.getnframes())


def samples(pcm):
    return memoryview(pcm).cast("h")


def speech_regions(pcm):
    """Where `pcm` has speech: 20 ms frames louder than -40 dBFS, joined
    across pauses up to 0.5 s, with 0.3 s of margin (the recognizer needs
    the silence around a word). Energy only, the same for every stream."""
    a = samples(pcm)
    regions = []
    for i in range(0, len(a) - FRAME + 1, FRAME):
        if sum(x * x for x in a[i:i + FRAME]) / FRAME < SPEECH_RMS**2:
            continue
        t = i / RATE
        if regions and t - regions[-1][1] <= JOIN_S:
            regions[-1][1] = t + FRAME / RATE
        else:
            regions.append([t, t + FRAME / RATE])
    return [(max(0.0, s - MARGIN_S), e + MARGIN_S) for s, e in regions]


def recognize(decoder, pcm):
    """Words of `pcm` (16 kHz, 16-bit) as (word, start_s, end_s): each
    speech region decoded as one utterance, the same way for the originals,
    the taps and the mix. Each from the feature pipeline's initial state:
    PocketSphinx carries its cepstral mean from one utterance into the next,
    so without the reset a stream's words depend on the streams decoded
    before it (seed 2: Dan's original read 'near the station' after the
    other talkers, 'nervous patient' alone), which is no comparison."""
    words = []
    frate = int(decoder.config["frate"])
    for start, end in speech_regions(pcm):
        decoder.reinit_feat()
        decoder.start_utt()
        decoder.process_raw(pcm[int(start * RATE) * 2:int(end * RATE) * 2], full_utt=True)
        decoder.end_utt()
        for seg in decoder.seg():
            w = re.sub(r"\(\d+\)$", "", seg.word)
            if not (w.startswith("<") or w.startswith("[") or w.startswith("+")):
                words.append((w, start + seg.start_frame / frate, start + (seg.end_frame + 1) / frate))
    return words


def edit_distance(ref, hyp):
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row = row, [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            row[j] = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (r != h))
    return row[-1]


def wer(ref, hyp):
    return 100.0 * edit_distance(ref, hyp) / max(1, len(ref))


class Talker:
    """One talker's tap metadata and its RTP -> wall clock mapping."""

    def __init__(self, meta, epoch):
        self.meta = meta
        self.name = meta["name"]
        f = meta["frames"]
        self.media = f["media_time"]
        self.rtp = f["rtp_timestamp"]
        self.voice = f["voice"]
        self.content = f["content"]
        self.reports = meta["sender_reports"]  # [arrival_s, wall_s, rtp]
        # The talker's own clock: epoch + its offset (what its SRs say).
        self.clock0 = epoch + meta["clock_offset_ms"] / 1e3
        self.media0 = self.media[0]

    def frame_at(self, media_time):
        i = int((media_time - self.media0) // FRAME)
        return i if 0 <= i < len(self.media) else None

    def rtp_to_wall(self, rtp):
        """The sender report nearest in RTP time maps `rtp` to its wall clock."""
        if not self.reports:
            return None

        def diff(a, b):  # a - b on the 32-bit RTP clock
            return ((a - b + 2**31) % 2**32) - 2**31

        sr = min(self.reports, key=lambda r: abs(diff(rtp, r[2])))
        return sr[1] + diff(rtp, sr[2]) / 48000.0

    def media_to_wall(self, media_time):
        """Wall-clock time of a tap sample at `media_time` (16 kHz), if its
        frame carries the talker's audio at a known RTP time."""
        i = self.frame_at(media_time)
        if i is None or self.rtp[i] is None:
            return None
        offset = media_time - self.media[i]
        return self.rtp_to_wall((self.rtp[i] + 3 * int(round(offset))) % 2**32)

    def wall_to_media(self, wall):
        """Inverse of media_to_wall through the nearest mapped frame."""
        best = None
        for i in range(len(self.media)):
            if self.rtp[i] is None:
                continue
            w = self.rtp_to_wall(self.rtp[i])
            if best is None or abs(w - wall) < abs(best[0] - wall):
                best = (w, self.media[i])
        return None if best is None else best[1] + (wall - best[0]) * RATE

    def voiced(self, a, b):
        """Seconds of voice activity between media times a and b (samples)."""
        total = 0
        for i in range(max(0, self.frame_at(a) or 0), len(self.media)):
            start = self.media[i]
            if start >= b:
                break
            if self.voice[i]:
                total += max(0, min(b, start + FRAME) - max(a, start))
        return total / RATE


def true_talker(word, mid, utterances):
    """Who said `word` at media time `mid`: the talker of the utterance
    around it (with 300 ms of slack) whose text holds the word; None when
    no utterance or several talkers' do (a misrecognized word, or one both
    overlapping talkers said: it has no single right answer)."""
    near = [u for u in utterances if u["m0"] - 0.3 * RATE <= mid <= u["m1"] + 0.3 * RATE]
    talkers = {u["talker"] for u in near if word in u["text"].split()}
    return talkers.pop() if len(talkers) == 1 else None


def iso(t):
    return datetime.fromtimestamp(round(t, 3), timezone.utc).isoformat(timespec="milliseconds")


def vtt_time(t):
    ms = int(round(t * 1000))
    return "%02d:%02d:%02d.%03d" % (ms // 3600000, ms // 60000 % 60, ms // 1000 % 60, ms % 1000)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    check = "--check" in sys.argv
    out = Path(args[0] if args else "target/transcribe")
    meeting = json.loads((out / "meeting.json").read_text())
    epoch = meeting["epoch_unix_s"]
    talkers = [Talker(t, epoch) for t in meeting["talkers"]]
    utterances = meeting["utterances"]
    for u in utterances:
        t = talkers[u["talker"]]
        u["m0"] = t.wall_to_media(t.clock0 + u["start_s"])
        u["m1"] = t.wall_to_media(t.clock0 + u["end_s"])
    decoder = Decoder(samprate=RATE, loglevel="FATAL")
    started = time.time()
    audio_s = 0.0

    refs = {i: [] for i in range(len(talkers))}
    for u in utterances:
        refs[u["talker"]] += u["text"].split()

    rows, tap_words, attributed_ok, attributed_n = [], [], 0, 0
    # The original through Opus alone (no network): what the codec costs.
    codec_wer = {}
    # Words said while another talker spoke too, as heard in the originals
    # (talker, word, media time), and what each method made of them.
    overlap_words, mix_words = [], []
    spans = [(u["talker"], u["m0"], u["m1"]) for u in utterances]

    def overlapped(i, m):
        return any(k != i and a <= m <= b for k, a, b in spans)

    for i, t in enumerate(talkers):
        floor_pcm = read_wav(out / t.meta["original_wav"])
        tap_pcm = read_wav(out / t.meta["tap_wav"])
        audio_s += (len(floor_pcm) + len(tap_pcm)) / 2 / RATE
        floor = recognize(decoder, floor_pcm)
        tap = recognize(decoder, tap_pcm)
        for w, a, b in floor:
            m = t.wall_to_media(t.clock0 + (a + b) / 2)
            if w in refs[i] and m is not None and overlapped(i, m):
                overlap_words.append((i, w, m))
        for w, a, b in tap:
            m0, m1 = t.media0 + a * RATE, t.media0 + b * RATE
            who = true_talker(w, (m0 + m1) / 2, utterances)
            if who is not None:
                attributed_n += 1
                attributed_ok += who == i
            tap_words.append((i, w, m0, m1))
        rows.append([t.name, wer(refs[i], [w for w, _, _ in floor]), wer(refs[i], [w for w, _, _ in tap])])
        codec_pcm = read_wav(out / t.meta["codec_wav"])
        audio_s += len(codec_pcm) / 2 / RATE
        codec_wer[i] = wer(refs[i], [w for w, _, _ in recognize(decoder, codec_pcm)])

    # The room mix, words given to the talker with the most voice activity
    # over each word (the last one voiced before it if nobody is).
    mix_pcm = read_wav(out / meeting["mix_wav"])
    audio_s += len(mix_pcm) / 2 / RATE
    mix0 = meeting["mix_media_time0"]
    by_talker = {i: [] for i in range(len(talkers))}
    mix_ok = mix_n = 0
    for w, a, b in recognize(decoder, mix_pcm):
        m0, m1 = mix0 + a * RATE, mix0 + b * RATE
        scores = [t.voiced(m0, m1) for t in talkers]
        if max(scores) > 0:
            who = max(range(len(talkers)), key=lambda k: scores[k])
        else:
            who = max(range(len(talkers)), key=lambda k: talkers[k].voiced(m0 - 5 * RATE, m0))
        by_talker[who].append(w)
        mix_words.append((who, w, (m0 + m1) / 2))
        truth = true_talker(w, (m0 + m1) / 2, utterances)
        if truth is not None:
            mix_n += 1
            mix_ok += truth == who
    for i, row in enumerate(rows):
        row.append(wer(refs[i], by_talker[i]))

    def found(words, i, w, m):
        return any(k == i and x == w and abs(y - m) < 0.3 * RATE for k, x, y in words)

    taps_mid = [(i, w, (a + b) / 2) for i, w, a, b in tap_words]
    overlap_taps = sum(found(taps_mid, *o) for o in overlap_words)
    overlap_mix = sum(found(mix_words, *o) for o in overlap_words)

    # Timestamps: each turn's first sound in the tap, mapped through the
    # sender reports, against its first sound on the talker's capture clock.
    errors = []
    for u in utterances:
        t = talkers[u["talker"]]
        orig = samples(read_wav(out / t.meta["original_wav"]))
        tap = samples(read_wav(out / t.meta["tap_wav"]))
        k = int(u["start_s"] * RATE)
        while k < len(orig) and abs(orig[k]) < ONSET_THRESHOLD:
            k += 1
        captured = t.clock0 + k / RATE
        j = max(0, int(u["m0"] - t.media0 - 0.5 * RATE))
        while j < len(tap) and abs(tap[j]) < ONSET_THRESHOLD:
            j += 1
        mapped = t.media_to_wall(t.media0 + j)
        if mapped is not None:
            errors.append((mapped - captured) * 1e3)

    elapsed = time.time() - started
    print("\nPocketSphinx on %.1f s of audio in %.1f s" % (audio_s, elapsed))
    print("%-6s %8s %8s %8s %22s" % ("WER %", "floor", "codec", "taps", "mix (VAD-attributed)"))
    for i, (name, f, t, m) in enumerate(rows):
        print("%-6s %8.1f %8.1f %8.1f %22.1f" % (name, f, codec_wer[i], t, m))
    n = [len(refs[i]) for i in range(len(talkers))]
    avg = lambda col: sum(r[col] * k for r, k in zip(rows, n)) / sum(n)
    codec_avg = sum(codec_wer[i] * k for i, k in enumerate(n)) / sum(n)
    print("%-6s %8.1f %8.1f %8.1f %22.1f" % ("all", avg(1), codec_avg, avg(2), avg(3)))
    print("(floor: the original before Opus; codec: the original through Opus alone, no network)")
    tap_attr = 100.0 * attributed_ok / max(1, attributed_n)
    mix_attr = 100.0 * mix_ok / max(1, mix_n)
    print("attribution: taps %.1f %% of %d words, mix by voice activity %.1f %% of %d words"
          % (tap_attr, attributed_n, mix_attr, mix_n))
    print("overlapping speech: of %d words the floor heard while two talkers spoke, the taps have %d, "
          "the mix %d (same word, same talker, within 0.3 s)" % (len(overlap_words), overlap_taps, overlap_mix))
    worst = max((abs(e) for e in errors), default=float("nan"))
    print("timestamps: tap onset (SR-mapped) - capture onset: %s ms (worst %.1f ms)"
          % (" ".join("%+.1f" % e for e in errors), worst))

    write_transcript(out, talkers, tap_words, epoch)

    if check:
        missed = [r[0] for r in rows if r[2] > r[1] + 3.0]
        goals = [
            ("tap WER within 3 points of the floor for every talker", not missed),
            ("100 % of tap words attributed to their talker", attributed_ok == attributed_n and attributed_n > 0),
            ("tap timestamps within 20 ms of the capture clock", errors and worst <= 20.0),
        ]
        for goal, ok in goals:
            print("%s %s" % ("ok  " if ok else "MISS", goal))
        if not all(ok for _, ok in goals):
            return 1
    return 0


def write_transcript(out, talkers, tap_words, epoch):
    """WebVTT (a cue per phrase, <v Speaker>) and JSON (a record per word),
    on the wall clock through each talker's sender reports."""
    words = []
    for i, w, m0, m1 in tap_words:
        t = talkers[i]
        a, b = t.media_to_wall(m0), t.media_to_wall(m1)
        if a is None or b is None:
            continue
        words.append({"speaker": t.name, "participant": t.meta["participant"], "ssrc": t.meta["ssrc"],
                      "word": w, "start": iso(a), "end": iso(b), "start_unix_s": round(a, 3),
                      "end_unix_s": round(b, 3), "media_time_s": round(m0 / RATE, 3)})
    words.sort(key=lambda w: w["start_unix_s"])
    (out / "transcript.json").write_text(json.dumps({"epoch_unix_s": epoch, "words": words}, indent=1))
    phrases = []
    for w in words:
        last = next((p for p in reversed(phrases) if p["speaker"] == w["speaker"]), None)
        if last and w["start_unix_s"] - last["end"] < 0.8:
            last["words"].append(w["word"])
            last["end"] = w["end_unix_s"]
        else:
            phrases.append({"speaker": w["speaker"], "start": w["start_unix_s"], "end": w["end_unix_s"],
                            "words": [w["word"]]})
    phrases.sort(key=lambda p: p["start"])
    lines = ["WEBVTT", ""]
    for p in phrases:
        lines += ["%s --> %s" % (vtt_time(p["start"] - epoch), vtt_time(p["end"] - epoch)),
                  "<v %s>%s" % (p["speaker"], " ".join(p["words"])), ""]
    (out / "transcript.vtt").write_text("\n".join(lines))
    print("wrote %s and %s" % (out / "transcript.vtt", out / "transcript.json"))


if __name__ == "__main__":
    sys.exit(main())
