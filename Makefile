# The two commands of the README:
#   make demo   runs the main example (installs what it needs first)
#   make test   runs every check: format, lints, Rust tests, header freshness,
#               C tests under AddressSanitizer+UBSan and under valgrind.
# Both start with `deps`, which installs Debian packages only when missing.
#   make transcribe  the transcription example at full size (issue 18):
#               taps vs originals vs the room mix through PocketSphinx
#   make install [PREFIX=/usr/local] [DESTDIR=]
#               installs the C library (static and shared), the header and
#               rtmedia.pc; `make test` checks it through `install-test`.

SHELL := /bin/bash
CARGO ?= cargo
CC ?= gcc
APT_PACKAGES := build-essential pkg-config cmake clang libclang-dev libvpx-dev libsrtp2-dev libopus-dev valgrind abigail-tools \
	flite python3-venv
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

CFLAGS_TEST := -std=c11 -Wall -Wextra -Werror -g -O1 -Iinclude
FFI_TESTS := $(patsubst ffi-tests/%.c,%,$(wildcard ffi-tests/test_*.c))
STATICLIB := target/debug/librtmedia.a
FFI_OUT := target/ffi-tests
# Rust's std needs these when linked statically into a C program (the C
# library needs libopus, not libvpx: only the simulator uses libvpx).
RUST_NATIVE_LIBS := $(shell pkg-config --libs opus 2>/dev/null) -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
# libsrtp, for the SRTP interoperability test (test_srtp_interop.c).
SRTP_LIBS := $(shell pkg-config --libs libsrtp2 2>/dev/null || echo -lsrtp2)

.PHONY: demo test deps rust-checks rust-tests ffi-tests ffi-asan ffi-valgrind header bench clean \
	lib release-lib install install-test abi-check abi-baseline rust-user-check fuzz \
	transcribe transcribe-check

# ---- Installation (C library, header, pkg-config file).
PREFIX ?= /usr/local
DESTDIR ?=
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
VERSION := $(shell sed -n 's/^version = "\(.*\)"$$/\1/p' Cargo.toml | head -n1)
VERSION_MAJOR := $(word 1,$(subst ., ,$(VERSION)))
VERSION_MINOR := $(word 2,$(subst ., ,$(VERSION)))
# The soname's version, as build.rs sets it: major.minor for 0.x (cargo-c's
# convention, where a minor release may break), else the major.
SO_VERSION := $(if $(filter 0,$(VERSION_MAJOR)),$(VERSION_MAJOR).$(VERSION_MINOR),$(VERSION_MAJOR))
DESCRIPTION := $(shell sed -n 's/^description = "\(.*\)"$$/\1/p' Cargo.toml | head -n1)

demo: deps
	$(CARGO) run --release --example conference

test: deps rust-checks rust-tests transcribe-check ffi-tests install-test abi-check rust-user-check
	@echo "make test: all checks passed"

deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

rust-checks:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

rust-tests:
	$(CARGO) test --all-targets
	$(CARGO) test --doc
	# The main job at CI size: exits non-zero if a quality goal is missed.
	$(CARGO) run --example conference -- --out target/conference-ci

# ---- Transcription from the per-speaker taps (issue 18): talkers' speech
# synthesized by flite (Debian), recognized by PocketSphinx, whose English
# model ships inside its PyPI wheel (nothing is downloaded at run time), in
# a virtualenv under target/. `transcribe-check` runs the short meeting
# (4 turns, debug build) and fails when a goal is missed: tap WER within 3
# points of the floor per talker, every tap word on its talker, tap
# timestamps within 20 ms of the capture clock.
TRANSCRIBE_VENV := $(TARGET_DIR)/transcribe-venv
POCKETSPHINX := pocketsphinx==5.1.1
$(TRANSCRIBE_VENV)/ready:
	rm -rf $(TRANSCRIBE_VENV)
	python3 -m venv $(TRANSCRIBE_VENV)
	$(TRANSCRIBE_VENV)/bin/pip install --quiet --disable-pip-version-check $(POCKETSPHINX)
	touch $@

transcribe-check: $(TRANSCRIBE_VENV)/ready
	$(CARGO) run --example transcribe -- --short --out $(TARGET_DIR)/transcribe-short
	$(TRANSCRIBE_VENV)/bin/python examples/transcribe/transcribe.py $(TARGET_DIR)/transcribe-short --check

transcribe: deps $(TRANSCRIBE_VENV)/ready
	$(CARGO) run --release --example transcribe -- --out $(TARGET_DIR)/transcribe
	$(TRANSCRIBE_VENV)/bin/python examples/transcribe/transcribe.py $(TARGET_DIR)/transcribe --check

# The C libraries are built only here, with the `capi` feature: a Rust
# program that depends on rtmedia builds neither (Cargo.toml's crate-type
# is just "lib").
C_CRATE := $(CARGO) rustc --lib --features capi
$(STATICLIB): $(shell find src -name '*.rs') Cargo.toml
	$(C_CRATE) --crate-type staticlib

ffi-tests: ffi-asan ffi-valgrind

ffi-asan: $(STATICLIB)
	@mkdir -p $(FFI_OUT)
	@set -e; for t in $(FFI_TESTS); do \
	  $(CC) $(CFLAGS_TEST) -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
	    ffi-tests/$$t.c $(STATICLIB) $(SRTP_LIBS) $(RUST_NATIVE_LIBS) -o $(FFI_OUT)/$$t-asan; \
	  echo "== $$t (ASan+UBSan)"; \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 $(FFI_OUT)/$$t-asan; \
	done

ffi-valgrind: $(STATICLIB)
	@mkdir -p $(FFI_OUT)
	@set -e; for t in $(FFI_TESTS); do \
	  $(CC) $(CFLAGS_TEST) ffi-tests/$$t.c $(STATICLIB) $(SRTP_LIBS) $(RUST_NATIVE_LIBS) -o $(FFI_OUT)/$$t; \
	  echo "== $$t (valgrind)"; \
	  valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect,possible $(FFI_OUT)/$$t; \
	done

# target/release/librtmedia.{a,so}, the shared one with its soname
# (librtmedia.so.MAJOR.MINOR for 0.x, as cargo-c does) and a link of that
# name beside it, so that a program linked in the build tree with
# `-L target/release -lrtmedia -Wl,-rpath,$PWD/target/release` loads.
# Full debug information for this crate (not its dependencies) describes
# the C types to the ABI check (abidw).
lib release-lib:
	$(C_CRATE) --release --crate-type staticlib,cdylib -- -C debuginfo=2 \
	  -C link-arg=-Wl,-soname,librtmedia.so.$(SO_VERSION)
	ln -sf librtmedia.so $(TARGET_DIR)/release/librtmedia.so.$(SO_VERSION)

$(TARGET_DIR)/rtmedia.pc: rtmedia.pc.in Cargo.toml Makefile
	@mkdir -p $(@D)
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
	    -e 's|@VERSION@|$(VERSION)|' -e 's|@DESCRIPTION@|$(DESCRIPTION)|' $< > $@

# Always regenerated: PREFIX may differ from the last run.
.PHONY: $(TARGET_DIR)/rtmedia.pc

install: release-lib $(TARGET_DIR)/rtmedia.pc
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)
	install -m 644 $(TARGET_DIR)/release/librtmedia.a $(DESTDIR)$(LIBDIR)/librtmedia.a
	install -m 755 $(TARGET_DIR)/release/librtmedia.so $(DESTDIR)$(LIBDIR)/librtmedia.so.$(VERSION)
	ln -sf librtmedia.so.$(VERSION) $(DESTDIR)$(LIBDIR)/librtmedia.so.$(SO_VERSION)
	ln -sf librtmedia.so.$(SO_VERSION) $(DESTDIR)$(LIBDIR)/librtmedia.so
	install -m 644 include/rtmedia.h $(DESTDIR)$(INCLUDEDIR)/rtmedia.h
	install -m 644 $(TARGET_DIR)/rtmedia.pc $(DESTDIR)$(LIBDIR)/pkgconfig/rtmedia.pc

# Installs into a scratch prefix and builds the C example against it only
# through pkg-config, linked shared and static, each run under ASan+UBSan
# and under valgrind. Also checks the soname, that only rtm_* symbols are
# exported, and that DESTDIR stages without changing the recorded prefix.
INSTALL_TEST := $(abspath $(TARGET_DIR))/install-test
EXAMPLES_C := $(patsubst examples/c/%.c,%,$(wildcard examples/c/*.c))
CFLAGS_EXAMPLE := -std=c11 -Wall -Wextra -Werror -g -O1
ASAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
install-test:
	rm -rf $(INSTALL_TEST)
	$(MAKE) --no-print-directory install PREFIX=$(INSTALL_TEST)/usr
	@set -e; lib=$(INSTALL_TEST)/usr/lib; out=$(INSTALL_TEST)/bin; mkdir -p $$out; \
	export PKG_CONFIG_PATH=$$lib/pkgconfig; \
	echo "== installed: $$(cd $(INSTALL_TEST)/usr && find . ! -type d | sort | tr '\n' ' ')"; \
	test "$$(pkg-config --modversion rtmedia)" = "$(VERSION)"; \
	readelf -d $$lib/librtmedia.so.$(VERSION) | grep -q 'SONAME.*\[librtmedia\.so\.$(SO_VERSION)\]' \
	  || { echo "wrong or missing SONAME"; readelf -d $$lib/librtmedia.so.$(VERSION); exit 1; }; \
	leaked=$$(nm -D --defined-only $$lib/librtmedia.so | awk '$$3 !~ /^rtm_/ {print $$3}'); \
	test -z "$$leaked" || { echo "exported symbols besides rtm_*: $$leaked"; exit 1; }; \
	echo "== soname librtmedia.so.$(SO_VERSION), $$(nm -D --defined-only $$lib/librtmedia.so | wc -l) exported symbols, all rtm_*"; \
	shared_libs="$$(pkg-config --libs rtmedia)"; \
	static_libs="$$(pkg-config --static --libs rtmedia | sed 's/-lrtmedia\b/-l:librtmedia.a/')"; \
	cflags="$$(pkg-config --cflags rtmedia)"; \
	vg="valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect,possible"; \
	for ex in $(EXAMPLES_C); do \
	  src=examples/c/$$ex.c; \
	  $(CC) $(CFLAGS_EXAMPLE) $(ASAN_FLAGS) $$cflags $$src $$shared_libs -pthread -o $$out/$$ex-shared-asan; \
	  $(CC) $(CFLAGS_EXAMPLE) $$cflags $$src $$shared_libs -pthread -o $$out/$$ex-shared; \
	  $(CC) $(CFLAGS_EXAMPLE) $(ASAN_FLAGS) $$cflags $$src $$static_libs -pthread -o $$out/$$ex-static-asan; \
	  $(CC) $(CFLAGS_EXAMPLE) $$cflags $$src $$static_libs -pthread -o $$out/$$ex-static; \
	  readelf -d $$out/$$ex-shared | grep -q 'NEEDED.*\[librtmedia\.so\.$(SO_VERSION)\]' \
	    || { echo "the shared build does not need librtmedia.so.$(SO_VERSION)"; exit 1; }; \
	  ! readelf -d $$out/$$ex-static | grep -q 'NEEDED.*librtmedia' \
	    || { echo "the static build needs librtmedia.so"; exit 1; }; \
	  echo "== $$ex shared (ASan+UBSan)"; \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 LD_LIBRARY_PATH=$$lib $$out/$$ex-shared-asan; \
	  echo "== $$ex static (ASan+UBSan)"; \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 $$out/$$ex-static-asan; \
	  echo "== $$ex shared (valgrind)"; LD_LIBRARY_PATH=$$lib $$vg $$out/$$ex-shared; \
	  echo "== $$ex static (valgrind)"; $$vg $$out/$$ex-static; \
	done
	@set -e; stage=$(INSTALL_TEST)/stage; \
	$(MAKE) --no-print-directory install DESTDIR=$$stage PREFIX=/opt/rtmedia >/dev/null; \
	test -L $$stage/opt/rtmedia/lib/librtmedia.so && test -f $$stage/opt/rtmedia/include/rtmedia.h; \
	grep -qx 'prefix=/opt/rtmedia' $$stage/opt/rtmedia/lib/pkgconfig/rtmedia.pc; \
	echo "== DESTDIR staging: ok"

# ---- ABI compatibility (libabigail). The committed baseline describes the
# ABI of the current soname (librtmedia.so.MAJOR.MINOR); a build must stay
# compatible with it: no function removed or changed, no struct changed
# except fields appended to the growable structs (abi/suppressions.ini).
# When a break is intended, bump the version (a new soname) and run
# `make abi-baseline`, which writes the baseline of the new soname.
# Also runs a program compiled against a frozen older header
# (ffi-tests/abi/) against the build tree's shared library, linked with a
# plain rpath, under valgrind.
ABI_BASELINE := abi/librtmedia.so.$(SO_VERSION).abi
ABIDW := abidw --no-show-locs --no-corpus-path --no-comp-dir-path --drop-undefined-syms
abi-check: lib
	@test -f $(ABI_BASELINE) || { echo "no ABI baseline $(ABI_BASELINE): run make abi-baseline"; exit 1; }
	@set -e; status=0; \
	abidiff --no-added-syms --suppressions abi/suppressions.ini $(ABI_BASELINE) $(TARGET_DIR)/release/librtmedia.so \
	  > $(TARGET_DIR)/abidiff.txt || status=$$?; \
	if [ $$status -ne 0 ]; then cat $(TARGET_DIR)/abidiff.txt; \
	  echo "ABI check failed (abidiff status $$status) against $(ABI_BASELINE)"; exit 1; fi; \
	echo "== abidiff: compatible with $(ABI_BASELINE)"
	@mkdir -p $(FFI_OUT)
	$(CC) $(CFLAGS_TEST) -Iffi-tests/abi ffi-tests/abi/old_caller.c -L$(TARGET_DIR)/release -lrtmedia \
	  -Wl,-rpath,$(abspath $(TARGET_DIR))/release -o $(FFI_OUT)/old_caller
	valgrind -q --error-exitcode=1 --leak-check=full $(FFI_OUT)/old_caller

abi-baseline: lib
	@mkdir -p abi
	$(ABIDW) --out-file $(ABI_BASELINE) $(TARGET_DIR)/release/librtmedia.so
	@echo "wrote $(ABI_BASELINE): commit it"

# A Rust program that depends on rtmedia gets the Rust library only: no
# librtmedia.a or .so is built for it, and neither the C layer nor the
# simulator is compiled in (checked from cargo's own list of artifacts).
RUST_USER := $(TARGET_DIR)/rust-user
rust-user-check:
	@rm -rf $(RUST_USER) && mkdir -p $(RUST_USER)/src
	@printf '[package]\nname = "rust-user"\nversion = "0.0.0"\nedition = "2021"\npublish = false\n[workspace]\n[dependencies]\nrtmedia = { path = "%s" }\n' \
	  "$(CURDIR)" > $(RUST_USER)/Cargo.toml
	@printf 'fn main() {\n    let p = rtmedia::srtp::Profile::AeadAes128Gcm;\n    println!("{p:?}");\n}\n' > $(RUST_USER)/src/main.rs
	@cp Cargo.lock $(RUST_USER)/
	@CARGO_TARGET_DIR=$(abspath $(TARGET_DIR))/rust-user-target $(CARGO) build --quiet --manifest-path $(RUST_USER)/Cargo.toml \
	  --message-format=json > $(RUST_USER)/artifacts.json
	@python3 -c 'import json,sys; \
	arts=[json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]; \
	mine=[a for a in arts if a.get("reason")=="compiler-artifact" and a["target"]["name"]=="rtmedia"]; \
	files=[f for a in mine for f in a["filenames"]]; \
	feats=sorted({f for a in mine for f in a.get("features",[])}); \
	bad=[f for f in files if f.endswith((".a",".so"))]; \
	assert mine, "rtmedia was not built"; \
	assert not bad, "C libraries built for a Rust user: %s" % bad; \
	assert not feats, "features on by default: %s" % feats; \
	print("== a Rust dependent builds only", ", ".join(sorted({f.rsplit(".",1)[1] for f in files})), "of rtmedia, features: none")' \
	  $(RUST_USER)/artifacts.json

# Longer fuzzing (libFuzzer through cargo-fuzz, on the stable toolchain with
# RUSTC_BOOTSTRAP): every target of fuzz/ for FUZZ_SECONDS each, from the
# checked-in seeds (fuzz/corpus/, replayed by `make test` through
# tests/fuzz_corpus.rs) plus what earlier runs found (fuzz/target/corpus/).
FUZZ_SECONDS ?= 600
FUZZ_TARGETS := rtp_parse rtcp_compound srtp codec jitter source mixer
fuzz:
	command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	cd fuzz && for t in $(FUZZ_TARGETS); do mkdir -p target/corpus/$$t && \
	  RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run -O --debug-assertions $$t target/corpus/$$t corpus/$$t -- \
	  -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -print_final_stats=1 || exit 1; done

# Regenerates include/rtmedia.h with the cbindgen version pinned in Cargo.toml.
header:
	RTM_BLESS=1 $(CARGO) test --test header

bench: deps
	$(CARGO) bench

clean:
	$(CARGO) clean
