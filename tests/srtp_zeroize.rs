//! Issue 20: no SRTP key is left in heap memory that rtmedia frees.
//!
//! A poisoning, scanning global allocator: every block is filled with a
//! poison byte when allocated (so that every byte read back is initialised)
//! and, while the scan is armed, every block freed is searched for the
//! master key and salt, the session keys and salts derived from them (RFC
//! 3711 KDF, computed here with the `aes` crate and checked against the RFC's
//! vector), and the HMAC-SHA1 inner and outer pad states (computed with the
//! SHA-1 compression function). The contexts live in a `Box`, as the C layer
//! keeps them, so their own memory is scanned when they are dropped.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use rtmedia::srtp::Profile;

#[path = "srtp_zeroize/secrets.rs"]
mod secrets;
use secrets::{bytes, session};

const MAX_NEEDLES: usize = 16;
const MAX_HITS: usize = 32;
const POISON: u8 = 0xa5;

struct Needles {
    bytes: [[u8; 32]; MAX_NEEDLES],
    lens: [usize; MAX_NEEDLES],
    names: [&'static str; MAX_NEEDLES],
    count: usize,
}

#[derive(Clone, Copy)]
struct Hit {
    needle: &'static str,
    block_size: usize,
    offset: usize,
}

static NEEDLES: Mutex<Needles> = Mutex::new(Needles {
    bytes: [[0; 32]; MAX_NEEDLES],
    lens: [0; MAX_NEEDLES],
    names: [""; MAX_NEEDLES],
    count: 0,
});
static HITS: Mutex<([Option<Hit>; MAX_HITS], usize)> = Mutex::new(([None; MAX_HITS], 0));
static ARMED: AtomicBool = AtomicBool::new(false);
static BLOCKS_SCANNED: AtomicUsize = AtomicUsize::new(0);
/// Serialises the tests of this file: the needles are global.
static SERIAL: Mutex<()> = Mutex::new(());

struct Scanning;

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

unsafe impl GlobalAlloc for Scanning {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            std::ptr::write_bytes(p, POISON, layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if ARMED.load(Ordering::SeqCst) {
            // try_lock: never block (or re-enter) inside the allocator.
            if let Ok(needles) = NEEDLES.try_lock() {
                // SAFETY: the block is live until System.dealloc below, and
                // every byte was initialised (poisoned) at allocation.
                let block = std::slice::from_raw_parts(ptr, layout.size());
                BLOCKS_SCANNED.fetch_add(1, Ordering::SeqCst);
                for i in 0..needles.count {
                    let needle = &needles.bytes[i][..needles.lens[i]];
                    if let Some(offset) = find(block, needle) {
                        if let Ok(mut hits) = HITS.try_lock() {
                            let n = hits.1;
                            if n < MAX_HITS {
                                hits.0[n] = Some(Hit {
                                    needle: needles.names[i],
                                    block_size: layout.size(),
                                    offset,
                                });
                            }
                            hits.1 += 1;
                        }
                    }
                }
            }
        }
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static GLOBAL: Scanning = Scanning;

fn set_needles(list: &[(&'static str, Vec<u8>)]) {
    let mut n = NEEDLES.lock().unwrap();
    assert!(list.len() <= MAX_NEEDLES);
    for (i, (name, bytes)) in list.iter().enumerate() {
        n.bytes[i][..bytes.len()].copy_from_slice(bytes);
        n.lens[i] = bytes.len();
        n.names[i] = name;
    }
    n.count = list.len();
}

/// Runs `f` with the scan armed; returns the hits (needle, block size, offset).
fn scan_frees(f: impl FnOnce()) -> (Vec<(String, usize, usize)>, usize) {
    *HITS.lock().unwrap() = ([None; MAX_HITS], 0);
    let before = BLOCKS_SCANNED.load(Ordering::SeqCst);
    ARMED.store(true, Ordering::SeqCst);
    f();
    ARMED.store(false, Ordering::SeqCst);
    let scanned = BLOCKS_SCANNED.load(Ordering::SeqCst) - before;
    let hits = HITS.lock().unwrap();
    let list = hits.0[..hits.1.min(MAX_HITS)]
        .iter()
        .flatten()
        .map(|h| (h.needle.to_string(), h.block_size, h.offset))
        .collect();
    (list, scanned)
}

/// The needle computation is right: RFC 3711 Appendix B.3.
#[test]
fn kdf_matches_rfc_3711_b3() {
    let key = secrets::hex("E1F97A0D3E018BE0D64FA32C06DE4139");
    let salt = secrets::hex("0EC675AD498AFEEBB6960B3AABE6");
    assert_eq!(
        secrets::kdf(&key, &salt, 0, 16),
        secrets::hex("C61E7A93744F39EE10734AFE3FF7A087")
    );
    assert_eq!(
        secrets::kdf(&key, &salt, 2, 14),
        secrets::hex("30CBBC08863D8C85D49DB34A9AE1")
    );
    assert_eq!(
        secrets::kdf(&key, &salt, 1, 20),
        secrets::hex("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4")
    );
}

/// The allocator does find a key in a freed block (the test can fail).
#[test]
fn scanner_finds_a_key_in_a_freed_block() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let key = bytes(99, 16);
    set_needles(&[("master key", key.clone())]);
    let (hits, scanned) = scan_frees(|| {
        let mut copy = vec![0u8; 64];
        copy[17..33].copy_from_slice(&key);
        drop(std::hint::black_box(copy));
    });
    assert!(scanned >= 1);
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0].2, 17);
}

#[test]
fn no_key_in_freed_memory_for_any_profile() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut failures = Vec::new();
    let mut total_scanned = 0;
    for (seed, profile) in Profile::ALL.into_iter().enumerate() {
        for (cryptex, by_value) in [(false, false), (true, false), (false, true)] {
            let key = bytes(2 * seed as u64 + 1, profile.key_len());
            let salt = bytes(2 * seed as u64 + 2, profile.salt_len());
            set_needles(&secrets::secrets(profile, &key, &salt));
            let (hits, scanned) = scan_frees(|| session(profile, &key, &salt, cryptex, by_value));
            total_scanned += scanned;
            assert!(scanned >= 2, "the two contexts were freed and scanned");
            if !hits.is_empty() {
                failures.push(format!(
                    "{profile:?} cryptex={cryptex} by_value={by_value}: {hits:?}"
                ));
            }
        }
    }
    eprintln!("{total_scanned} freed blocks scanned");
    assert!(
        failures.is_empty(),
        "key material in freed blocks ({total_scanned} blocks scanned):\n{}",
        failures.join("\n")
    );
}
