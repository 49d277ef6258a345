# The two commands of the README:
#   make demo   runs the main example (installs what it needs first)
#   make test   runs every check: format, lints, Rust tests, header freshness,
#               C tests under AddressSanitizer+UBSan and under valgrind.
# Both start with `deps`, which installs Debian packages only when missing.

SHELL := /bin/bash
CARGO ?= cargo
CC ?= gcc
APT_PACKAGES := build-essential pkg-config cmake clang libclang-dev libvpx-dev libsrtp2-dev libopus-dev valgrind
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

CFLAGS_TEST := -std=c11 -Wall -Wextra -Werror -g -O1 -Iinclude
FFI_TESTS := $(patsubst ffi-tests/%.c,%,$(wildcard ffi-tests/test_*.c))
STATICLIB := target/debug/librtmedia.a
FFI_OUT := target/ffi-tests
# Rust's std needs these when linked statically into a C program.
RUST_NATIVE_LIBS := $(shell pkg-config --libs opus vpx 2>/dev/null) -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
# libsrtp, for the SRTP interoperability test (test_srtp_interop.c).
SRTP_LIBS := $(shell pkg-config --libs libsrtp2 2>/dev/null || echo -lsrtp2)

.PHONY: demo test deps rust-checks rust-tests ffi-tests ffi-asan ffi-valgrind header bench clean

demo: deps
	$(CARGO) run --release --example packet_tour

test: deps rust-checks rust-tests ffi-tests
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

$(STATICLIB): $(shell find src -name '*.rs') Cargo.toml
	$(CARGO) build --lib

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

# Regenerates include/rtmedia.h with the cbindgen version pinned in Cargo.toml.
header:
	RTM_BLESS=1 $(CARGO) test --test header

bench: deps
	$(CARGO) bench

clean:
	$(CARGO) clean
