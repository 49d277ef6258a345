//! Checked conversions of C arguments. Each returns `RTM_ERR_NULL_POINTER`
//! instead of building a reference from NULL.

use super::rtm_status;

/// `(ptr, len)` as a slice. NULL is allowed only with `len == 0`.
///
/// # Safety
/// A non-NULL `ptr` must be valid for reads of `len` bytes for `'a`.
pub(crate) unsafe fn slice<'a, T>(ptr: *const T, len: usize) -> Result<&'a [T], rtm_status> {
    if ptr.is_null() {
        return if len == 0 {
            Ok(&[])
        } else {
            Err(rtm_status::RTM_ERR_NULL_POINTER)
        };
    }
    Ok(core::slice::from_raw_parts(ptr, len))
}

/// `(ptr, len)` as a mutable slice. NULL is allowed only with `len == 0`.
///
/// # Safety
/// A non-NULL `ptr` must be valid for reads and writes of `len` bytes for
/// `'a`, with no other live reference to them.
pub(crate) unsafe fn slice_mut<'a, T>(ptr: *mut T, len: usize) -> Result<&'a mut [T], rtm_status> {
    if ptr.is_null() {
        return if len == 0 {
            Ok(&mut [])
        } else {
            Err(rtm_status::RTM_ERR_NULL_POINTER)
        };
    }
    Ok(core::slice::from_raw_parts_mut(ptr, len))
}

/// A required out-parameter.
///
/// # Safety
/// A non-NULL `ptr` must be valid for writes of a `T`.
pub(crate) unsafe fn out<'a, T>(ptr: *mut T) -> Result<&'a mut T, rtm_status> {
    ptr.as_mut().ok_or(rtm_status::RTM_ERR_NULL_POINTER)
}

/// A required input pointer.
///
/// # Safety
/// A non-NULL `ptr` must be valid for reads of a `T`.
pub(crate) unsafe fn input<'a, T>(ptr: *const T) -> Result<&'a T, rtm_status> {
    ptr.as_ref().ok_or(rtm_status::RTM_ERR_NULL_POINTER)
}

/// An in-place packet: `len` bytes of data in a buffer of `capacity` bytes.
///
/// # Safety
/// As [`slice_mut`] for `capacity` bytes.
pub(crate) unsafe fn packet_buffer<'a>(
    ptr: *mut u8,
    len: usize,
    capacity: usize,
) -> Result<&'a mut [u8], rtm_status> {
    if len > capacity {
        return Err(rtm_status::RTM_ERR_INVALID_ARGUMENT);
    }
    slice_mut(ptr, capacity)
}

/// Copies `value` into `*out`, but at most `size` bytes: a struct that only
/// ever grows at its end, written for a caller built against an older (and
/// smaller) version of it, which passes its own `sizeof`.
///
/// # Safety
/// `out` is non-NULL and valid for writes of `size.min(size_of::<T>())` bytes.
pub(crate) unsafe fn write_versioned<T: Copy>(value: &T, out: *mut T, size: usize) {
    let n = size.min(core::mem::size_of::<T>());
    core::ptr::copy_nonoverlapping((value as *const T).cast::<u8>(), out.cast::<u8>(), n);
}
