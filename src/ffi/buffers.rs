//! Packet buffers handed in from C, shared by the jitter buffer, the
//! simulcast source and the mixer's inputs: the ownership record of a
//! zero-copy push, and the recycled buffers of a copying push.

use core::ffi::c_void;

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};

use super::jitter::rtm_release_fn;
use super::rtm_status;

/// A caller's buffer owned by a `Bytes` until the release callback runs.
pub(super) struct CallerBuffer {
    data: *mut u8,
    len: usize,
    release: rtm_release_fn,
    userdata: *mut c_void,
}

// The host promises in the header that the buffer and the callback may be
// used from the thread that drops the packet.
unsafe impl Send for CallerBuffer {}

impl AsRef<[u8]> for CallerBuffer {
    fn as_ref(&self) -> &[u8] {
        if self.len == 0 {
            // NULL is allowed with length 0, but not in a slice.
            return &[];
        }
        // SAFETY: the host handed over `data[0..len]` until release.
        unsafe { core::slice::from_raw_parts(self.data, self.len) }
    }
}

impl Drop for CallerBuffer {
    fn drop(&mut self) {
        if let Some(release) = self.release {
            // SAFETY: the host's callback, called exactly once.
            unsafe { release(self.userdata, self.data, self.len) }
        }
    }
}

impl CallerBuffer {
    /// Takes over the caller's `data[0..len]` for a zero-copy push into
    /// `handle`: `Bytes` that call `release(userdata, data, len)` once
    /// dropped (one small allocation, the ownership record). For a NULL
    /// `handle`, or a NULL `data` with a length, RTM_ERR_NULL_POINTER and
    /// the buffer is released at once.
    pub(super) fn adopt<T>(
        handle: *const T,
        data: *mut u8,
        len: usize,
        release: rtm_release_fn,
        userdata: *mut c_void,
    ) -> Result<Bytes, rtm_status> {
        let owner = CallerBuffer {
            data,
            len,
            release,
            userdata,
        };
        if handle.is_null() || (data.is_null() && len > 0) {
            // `owner` drops here and releases the buffer.
            return Err(rtm_status::RTM_ERR_NULL_POINTER);
        }
        if len > isize::MAX as usize {
            // No buffer is this long (a failed `recv()`'s -1): released at once.
            return Err(rtm_status::RTM_ERR_INVALID_ARGUMENT);
        }
        Ok(Bytes::from_owner(owner))
    }
}

/// Empty buffers for a copying push, taken back once nothing holds their
/// packet any more: no allocation in steady state.
pub(super) struct BufferPool {
    free: Vec<BytesMut>,
    limit: usize,
    new_buffer: fn() -> BytesMut,
}

impl BufferPool {
    /// A pool of at most `limit` free buffers; `new_buffer` makes one when
    /// none is free.
    pub(super) fn new(limit: usize, new_buffer: fn() -> BytesMut) -> Self {
        Self {
            free: Vec::with_capacity(limit),
            limit,
            new_buffer,
        }
    }

    /// `data` copied into a free buffer (a new one if none is).
    pub(super) fn copy(&mut self, data: &[u8]) -> Bytes {
        let mut buf = self.free.pop().unwrap_or_else(self.new_buffer);
        buf.extend_from_slice(data);
        buf.freeze()
    }

    /// Takes `packet`'s buffer back (emptied, while fewer than the limit
    /// are free; otherwise it is dropped) if nothing else holds it; gives
    /// `packet` back if something does.
    pub(super) fn recycle(&mut self, packet: Bytes) -> Result<(), Bytes> {
        let mut buf = packet.try_into_mut()?;
        if self.free.len() < self.limit {
            buf.clear();
            self.free.push(buf);
        }
        Ok(())
    }
}

/// A new buffer already in the reference-counted representation: its
/// `Bytes` can then be cloned (e.g. into a history) and turned back into a
/// `BytesMut` for the pool without allocating. (A plain `BytesMut` would
/// allocate its shared header at the first clone of every packet, and give
/// it up again when recycled.)
pub(super) fn shared_buffer() -> BytesMut {
    let mut buf = BytesMut::with_capacity(1500);
    let capacity = buf.capacity();
    drop(buf.split_off(capacity));
    buf
}

/// A copying push's buffers when the packets go somewhere this layer cannot
/// see them come back from (a queue into another object): the packets
/// issued are remembered in order, and each copy first takes back the
/// oldest ones nothing holds any more. A packet still held after `limit`
/// newer ones is forgotten (freed normally when its holder drops it), so a
/// stuck packet costs one allocation later, never unbounded memory.
pub(super) struct IssuedPool {
    pool: BufferPool,
    issued: VecDeque<Bytes>,
    limit: usize,
}

impl IssuedPool {
    /// Remembers at most `limit` issued packets (reserved here).
    pub(super) fn new(limit: usize) -> Self {
        Self {
            pool: BufferPool::new(limit, shared_buffer),
            issued: VecDeque::with_capacity(limit + 1),
            limit,
        }
    }

    /// `data` copied into a recycled buffer when one is free again.
    pub(super) fn copy(&mut self, data: &[u8]) -> Bytes {
        while let Some(front) = self.issued.pop_front() {
            if let Err(still_held) = self.pool.recycle(front) {
                if self.issued.len() + 1 < self.limit {
                    self.issued.push_front(still_held);
                    break;
                }
            }
        }
        let packet = self.pool.copy(data);
        self.issued.push_back(packet.clone());
        packet
    }
}
