//! Clearing key material when it is no longer needed (issue 20).
//!
//! RustCrypto's AES clears its round keys on drop (its `zeroize` feature),
//! but neither `hmac`/`sha1` (the precomputed pad states) nor ring's
//! `LessSafeKey` (the AES-GCM key schedule and GHASH table) clear anything.
//! None of them owns heap memory: their state lies inline wherever rtmedia
//! keeps them. [`Wiped`] owns such a value and, when dropped, first drops it
//! and then overwrites every byte of its storage (fields, enum tails and
//! padding alike, which may hold stack garbage copied in when the value was
//! moved into place) with zeros through `zeroize`'s volatile writes.

use core::mem::{size_of, ManuallyDrop, MaybeUninit};
use core::ops::{Deref, DerefMut};

use zeroize::Zeroize;

/// A value whose memory is zeroed when it is dropped.
pub(crate) struct Wiped<T>(ManuallyDrop<T>);

impl<T> Wiped<T> {
    pub fn new(value: T) -> Self {
        Self(ManuallyDrop::new(value))
    }
}

impl<T> Deref for Wiped<T> {
    type Target = T;
    #[inline(always)]
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for Wiped<T> {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T> Drop for Wiped<T> {
    fn drop(&mut self) {
        let storage: *mut ManuallyDrop<T> = &mut self.0;
        // SAFETY: the value is dropped exactly once, here, and never used
        // again; its storage is then only written to, as uninitialised bytes
        // (which any bit pattern, zeros included, may be).
        unsafe {
            ManuallyDrop::drop(&mut self.0);
            let bytes =
                core::slice::from_raw_parts_mut(storage.cast::<MaybeUninit<u8>>(), size_of::<T>());
            bytes.zeroize();
        }
    }
}

/// Bytes of stack [`burn_stack`] overwrites: deeper than key setup goes
/// (AES and GCM key expansion, HMAC pad hashing, and the moves of their
/// results). Measured with `tests/srtp_zeroize_stack.rs`: in a release
/// build the deepest copy (ring's AES-GCM key setup) lay 17.7 KiB below
/// the caller, so 16 KiB missed it and 32 KiB does not; key setup already
/// needs about that much stack. Unoptimised builds use bigger frames.
#[cfg(not(debug_assertions))]
const BURN_BYTES: usize = 32 * 1024;
#[cfg(debug_assertions)]
const BURN_BYTES: usize = 48 * 1024;

/// Overwrites the stack below the caller with zeros, as libgcrypt's
/// `_gcry_burn_stack` does: call it right after a call that left key
/// material in its (now dead) frames.
#[inline(never)]
pub(crate) fn burn_stack() {
    let mut area = [0u64; BURN_BYTES / 8];
    area.zeroize();
    core::hint::black_box(&area);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_is_zero_after_drop() {
        let mut slot = MaybeUninit::<Wiped<[u8; 40]>>::uninit();
        slot.write(Wiped::new([0x5a; 40]));
        // SAFETY: initialised just above; dropped once; then read as bytes
        // that the drop wrote.
        unsafe {
            core::ptr::drop_in_place(slot.as_mut_ptr());
            let bytes = core::slice::from_raw_parts(slot.as_ptr().cast::<u8>(), 40);
            assert!(bytes.iter().all(|&b| b == 0));
        }
    }
}
