//! Issue 20, stack side: after a whole SRTP session (new → protect/unprotect
//! RTP and RTCP → drop) has returned, the dead stack below the caller holds
//! no master key, salt or session key.
//!
//! The region below the stack pointer is copied out with `rep movsb` in
//! inline assembly (x86_64 only), so that no Rust code reads memory it does
//! not own. What this can see: every stack temporary rtmedia and its crypto
//! dependencies left in the frames of that session.

#![cfg(target_arch = "x86_64")]

use rtmedia::srtp::Profile;

#[path = "srtp_zeroize/secrets.rs"]
#[allow(dead_code)]
mod secrets;
use secrets::{bytes, secrets, session};

/// Bytes of dead stack examined below the caller's frame.
const DEPTH: usize = 256 * 1024;

/// Copies the `DEPTH` bytes below the current stack pointer into `out`.
#[inline(always)]
fn copy_dead_stack(out: &mut [u8; DEPTH]) {
    // SAFETY: reads the thread's own mapped stack (the thread has 4 MiB),
    // writes only `out`; no Rust-visible memory is read.
    unsafe {
        core::arch::asm!(
            "mov rsi, rsp",
            "sub rsi, {depth}",
            "rep movsb",
            depth = const DEPTH,
            inout("rdi") out.as_mut_ptr() => _,
            inout("rcx") DEPTH => _,
            out("rsi") _,
        );
    }
}

/// Runs `f` in a fresh thread and returns the dead stack it left below.
fn dead_stack_after(f: impl FnOnce() + Send + 'static) -> Vec<u8> {
    std::thread::Builder::new()
        .stack_size(4 << 20)
        .spawn(move || {
            let mut dump = Box::new([0u8; DEPTH]);
            run_deeper(f);
            copy_dead_stack(&mut dump);
            dump.to_vec()
        })
        .unwrap()
        .join()
        .unwrap()
}

#[inline(never)]
fn run_deeper(f: impl FnOnce()) {
    f();
    std::hint::black_box(());
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The dump does see a key a callee left on its stack (the test can fail).
#[test]
fn dump_sees_a_callee_temporary() {
    #[inline(never)]
    fn leaves_key(key: [u8; 16]) {
        let copy = std::hint::black_box(key);
        std::hint::black_box(&copy);
    }
    let key = *b"\x13\x37stack-canary\x42\x42";
    let dump = dead_stack_after(move || leaves_key(key));
    assert!(find(&dump, &key).is_some());
}

#[test]
fn no_key_on_the_dead_stack_for_any_profile() {
    let mut failures = Vec::new();
    for (seed, profile) in Profile::ALL.into_iter().enumerate() {
        for cryptex in [false, true] {
            let key = bytes(2 * seed as u64 + 101, profile.key_len());
            let salt = bytes(2 * seed as u64 + 102, profile.salt_len());
            let needles = secrets(profile, &key, &salt);
            let (k, s) = (key.clone(), salt.clone());
            let dump = dead_stack_after(move || session(profile, &k, &s, cryptex, false));
            let found: Vec<_> = needles
                .iter()
                .filter_map(|(name, n)| find(&dump, n).map(|at| (*name, DEPTH - at)))
                .collect();
            if !found.is_empty() {
                failures.push(format!(
                    "{profile:?} cryptex={cryptex}: (name, bytes below sp) {found:?}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
