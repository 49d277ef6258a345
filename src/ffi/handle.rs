//! Opaque C handles: boxed Rust objects that are poisoned after a panic.
//!
//! Each C handle type is a plain Rust struct (opaque to cbindgen because it is
//! not `repr(C)`) holding the Rust object and a `poisoned` flag:
//!
//! ```ignore
//! pub struct rtm_thing { thing: Thing, poisoned: bool }
//! handle::poison_flag!(rtm_thing);
//! ```
//!
//! Calls that change the object take `rtm_thing_t *` and run in [`with`];
//! calls that only read it take `const rtm_thing_t *` and run in
//! [`with_shared`].

use std::panic::{catch_unwind, AssertUnwindSafe};

use super::{args, rtm_status};

/// A C handle that remembers whether a call on it panicked: after a panic the
/// object may be half-updated, so every later call fails with `RTM_ERR_PANIC`.
pub(crate) trait Poison {
    fn poisoned(&mut self) -> &mut bool;
    fn is_poisoned(&self) -> bool;
}

/// Implements [`Poison`] for a handle struct with a `poisoned: bool` field.
macro_rules! poison_flag {
    ($t:ty) => {
        impl $crate::ffi::handle::Poison for $t {
            fn poisoned(&mut self) -> &mut bool {
                &mut self.poisoned
            }
            fn is_poisoned(&self) -> bool {
                self.poisoned
            }
        }
    };
}
pub(crate) use poison_flag;

/// Boxes `handle` and gives its ownership to C.
pub(crate) fn into_raw<T>(handle: T) -> *mut T {
    Box::into_raw(Box::new(handle))
}

/// Runs `body` on the handle behind `ptr`: NULL gives `RTM_ERR_NULL_POINTER`,
/// a poisoned handle `RTM_ERR_PANIC`, and a panic in `body` poisons it.
///
/// # Safety
/// `ptr` is NULL or came from [`into_raw`], was not freed, and no other thread
/// uses it during the call.
pub(crate) unsafe fn with<T: Poison>(
    ptr: *mut T,
    body: impl FnOnce(&mut T) -> Result<(), rtm_status>,
) -> rtm_status {
    let Some(handle) = ptr.as_mut() else {
        return rtm_status::RTM_ERR_NULL_POINTER;
    };
    if *handle.poisoned() {
        return rtm_status::RTM_ERR_PANIC;
    }
    match catch_unwind(AssertUnwindSafe(|| body(&mut *handle))) {
        Ok(Ok(())) => rtm_status::RTM_OK,
        Ok(Err(status)) => status,
        Err(_) => {
            *handle.poisoned() = true;
            rtm_status::RTM_ERR_PANIC
        }
    }
}

/// [`with`] for a call that only reads the handle (`const` in C): NULL gives
/// `RTM_ERR_NULL_POINTER`, a poisoned handle `RTM_ERR_PANIC`. A panic in
/// `body` returns `RTM_ERR_PANIC` but cannot poison the handle (nothing was
/// changed).
///
/// # Safety
/// `ptr` is NULL or came from [`into_raw`] and was not freed, and no other
/// thread changes it during the call.
pub(crate) unsafe fn with_shared<T: Poison>(
    ptr: *const T,
    body: impl FnOnce(&T) -> Result<(), rtm_status>,
) -> rtm_status {
    let Some(handle) = ptr.as_ref() else {
        return rtm_status::RTM_ERR_NULL_POINTER;
    };
    if handle.is_poisoned() {
        return rtm_status::RTM_ERR_PANIC;
    }
    match catch_unwind(AssertUnwindSafe(|| body(handle))) {
        Ok(Ok(())) => rtm_status::RTM_OK,
        Ok(Err(status)) => status,
        Err(_) => rtm_status::RTM_ERR_PANIC,
    }
}

/// [`with_shared`] for a call that answers through the out-pointer `out`.
///
/// # Safety
/// As for [`with_shared`]; a non-NULL `out` must be valid for writes of a `V`.
pub(crate) unsafe fn with_shared_out<T: Poison, V>(
    ptr: *const T,
    out: *mut V,
    body: impl FnOnce(&T) -> Result<V, rtm_status>,
) -> rtm_status {
    with_shared(ptr, |h| {
        let out = args::out(out)?;
        *out = body(h)?;
        Ok(())
    })
}

/// [`with`] for a poll: `Some(v)` is written to `out` and gives `RTM_OK`;
/// `None` gives `RTM_NOTHING_DUE` and leaves `out` alone.
///
/// # Safety
/// As for [`with`]; a non-NULL `out` must be valid for writes of a `V`.
pub(crate) unsafe fn poll_out<T: Poison, V>(
    ptr: *mut T,
    out: *mut V,
    body: impl FnOnce(&mut T) -> Result<Option<V>, rtm_status>,
) -> rtm_status {
    let mut due = true;
    let status = with(ptr, |h| {
        let out = args::out(out)?;
        match body(h)? {
            Some(v) => *out = v,
            None => due = false,
        }
        Ok(())
    });
    if status == rtm_status::RTM_OK && !due {
        rtm_status::RTM_NOTHING_DUE
    } else {
        status
    }
}

/// Drops the handle; NULL is a no-op. A panic in a destructor is swallowed.
///
/// # Safety
/// As for [`with`]; `ptr` is not used again.
pub(crate) unsafe fn free<T>(ptr: *mut T) {
    if !ptr.is_null() {
        let _ = catch_unwind(AssertUnwindSafe(|| drop(Box::from_raw(ptr))));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Probe {
        calls: u32,
        poisoned: bool,
    }

    poison_flag!(Probe);

    #[test]
    fn panic_poisons_the_handle() {
        let ptr = into_raw(Probe {
            calls: 0,
            poisoned: false,
        });
        unsafe {
            assert_eq!(
                with(ptr, |p| {
                    p.calls += 1;
                    Ok(())
                }),
                rtm_status::RTM_OK
            );
            assert_eq!(with(ptr, |_| panic!("injected")), rtm_status::RTM_ERR_PANIC);
            assert_eq!(
                with(ptr, |p| {
                    p.calls += 1;
                    Ok(())
                }),
                rtm_status::RTM_ERR_PANIC
            );
            assert_eq!((*ptr).calls, 1);
            assert_eq!(
                with(core::ptr::null_mut::<Probe>(), |_| Ok(())),
                rtm_status::RTM_ERR_NULL_POINTER
            );
            free(ptr);
            free(core::ptr::null_mut::<Probe>());
        }
    }
}
