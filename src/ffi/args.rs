//! Checked conversions of C arguments. Each returns `RTM_ERR_NULL_POINTER`
//! instead of building a reference from NULL.

use super::rtm_status;

/// A length no object can have (e.g. `(size_t)-1` from a failed `recv()`)
/// is an invalid argument, checked before any slice is formed.
fn check_len<T>(len: usize) -> Result<(), rtm_status> {
    if len > isize::MAX as usize / core::mem::size_of::<T>().max(1) {
        return Err(rtm_status::RTM_ERR_INVALID_ARGUMENT);
    }
    Ok(())
}

/// `(ptr, len)` as a slice. NULL is allowed only with `len == 0`; a length
/// larger than any object gives `RTM_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// A non-NULL `ptr` must be valid for reads of `len` bytes for `'a`.
pub(crate) unsafe fn slice<'a, T>(ptr: *const T, len: usize) -> Result<&'a [T], rtm_status> {
    check_len::<T>(len)?;
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
    check_len::<T>(len)?;
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

/// A struct that may grow in later releases (the header's "growable
/// struct" convention): `#[repr(C)]`, first field `struct_size: usize`, new
/// fields only ever appended past the end of every older layout (never into
/// an older layout's trailing padding). A caller states how big its copy is
/// in `struct_size`; the library reads or writes only that much.
///
/// # Safety
/// Implementors are `#[repr(C)]` structs whose first field is
/// `struct_size: usize`, and every bit pattern of their other fields that a
/// C caller can store is a valid value (integers, floats, `bool` checked by
/// the caller of [`read`], raw pointers).
pub(crate) unsafe trait Versioned: Copy {
    /// Every `sizeof` the struct has had in a release, oldest first (the
    /// first release's layout first, today's last; frozen once released). A caller's `struct_size`
    /// must be one of them, or larger than today's (a newer header): a size
    /// in between would cut a field in two.
    const LAYOUT_SIZES: &'static [usize];

    /// Sets the `struct_size` field.
    fn set_struct_size(&mut self, size: usize);
}

/// Implements [`Versioned`] for structs whose layout is the one of their
/// first release (one layout: today's `sizeof`). When a field is
/// appended, replace the entry by an explicit impl with the old size.
macro_rules! versioned {
    ($($t:ty),* $(,)?) => {$(
        unsafe impl $crate::ffi::args::Versioned for $t {
            const LAYOUT_SIZES: &'static [usize] = &[core::mem::size_of::<$t>()];
            fn set_struct_size(&mut self, size: usize) {
                self.struct_size = size;
            }
        }
    )*};
}
pub(crate) use versioned;

/// Implements [`Versioned`] for a struct that grew after its first release:
/// the first layout ends at the first field appended since, which must
/// equal the old `sizeof` (the new field starts past the old layout's
/// trailing padding: checked at compile time through the alignment).
macro_rules! versioned_grown {
    ($t:ty, first_new_field: $field:ident) => {
        $crate::ffi::args::versioned_grown!($t, first_new_fields_of_each_release: [$field]);
    };
    // A struct that grew in several releases: the first field appended in
    // each, oldest release first; each ends one older layout.
    ($t:ty, first_new_fields_of_each_release: [$($field:ident),+]) => {
        unsafe impl $crate::ffi::args::Versioned for $t {
            const LAYOUT_SIZES: &'static [usize] = &[
                $(core::mem::offset_of!($t, $field),)+
                core::mem::size_of::<$t>(),
            ];
            fn set_struct_size(&mut self, size: usize) {
                self.struct_size = size;
            }
        }
        $(const _: () = assert!(
            core::mem::offset_of!($t, $field) % core::mem::align_of::<$t>() == 0,
            "an appended field must not start inside the old layout's padding"
        );)+
    };
}
pub(crate) use versioned_grown;

/// No growable struct will ever be this big: a larger `struct_size` is
/// garbage (an uninitialised struct), refused before it is used as a length.
const MAX_STRUCT_SIZE: usize = 1 << 16;

/// The caller's `struct_size` of the struct at `ptr`, checked: smaller than
/// the first release's layout means the struct was not initialised.
///
/// # Safety
/// `ptr` is non-NULL and valid for reads of a `usize`.
unsafe fn caller_size<T: Versioned>(ptr: *const T) -> Result<usize, rtm_status> {
    valid_size::<T>(ptr.cast::<usize>().read_unaligned())
}

/// `size` if it is a layout of `T` (see [`Versioned::LAYOUT_SIZES`]).
fn valid_size<T: Versioned>(size: usize) -> Result<usize, rtm_status> {
    let newer = size > core::mem::size_of::<T>() && size <= MAX_STRUCT_SIZE;
    if newer || T::LAYOUT_SIZES.contains(&size) {
        Ok(size)
    } else {
        Err(rtm_status::RTM_ERR_INVALID_ARGUMENT)
    }
}

/// `rtm_<struct>_init(ptr, size)`: writes `value` (the defaults) into the
/// caller's `size` bytes and sets `struct_size = size`. Bytes past the
/// library's own layout (a caller built against a newer header) are zeroed,
/// so that [`read`] can tell whether the caller set fields it does not know.
///
/// # Safety
/// A non-NULL `ptr` is valid for writes of `size` bytes.
pub(crate) unsafe fn init<T: Versioned>(
    ptr: *mut T,
    size: usize,
    mut value: T,
) -> Result<(), rtm_status> {
    if ptr.is_null() {
        return Err(rtm_status::RTM_ERR_NULL_POINTER);
    }
    valid_size::<T>(size)?;
    value.set_struct_size(size);
    let ours = core::mem::size_of::<T>();
    let dst = ptr.cast::<u8>();
    core::ptr::copy_nonoverlapping((&value as *const T).cast::<u8>(), dst, size.min(ours));
    if size > ours {
        core::ptr::write_bytes(dst.add(ours), 0, size - ours);
    }
    Ok(())
}

/// Reads a caller's growable input struct: the fields its `struct_size`
/// covers, `defaults` for the rest. A newer caller's fields this library
/// does not know must be zero (as `init` left them): otherwise
/// `RTM_ERR_UNSUPPORTED`, rather than silently ignoring what was asked.
///
/// # Safety
/// A non-NULL `ptr` is valid for reads of its own `struct_size` bytes.
pub(crate) unsafe fn read<T: Versioned>(ptr: *const T, defaults: T) -> Result<T, rtm_status> {
    if ptr.is_null() {
        return Err(rtm_status::RTM_ERR_NULL_POINTER);
    }
    let size = caller_size(ptr)?;
    read_sized(ptr.cast(), size, defaults)
}

/// [`read`] of `size` bytes at `src` (one element of a caller's array).
unsafe fn read_sized<T: Versioned>(
    src: *const u8,
    size: usize,
    defaults: T,
) -> Result<T, rtm_status> {
    let ours = core::mem::size_of::<T>();
    let mut value = defaults;
    core::ptr::copy_nonoverlapping(src, (&mut value as *mut T).cast::<u8>(), size.min(ours));
    if size > ours
        && core::slice::from_raw_parts(src.add(ours), size - ours)
            .iter()
            .any(|&b| b != 0)
    {
        return Err(rtm_status::RTM_ERR_UNSUPPORTED);
    }
    value.set_struct_size(ours);
    Ok(value)
}

/// A caller's array of `n` growable structs: the stride is the first
/// element's `struct_size` (the caller's `sizeof`), and every element must
/// state the same size. Yields each element as [`read`] does.
///
/// # Safety
/// A non-NULL `ptr` with `n > 0` is valid for reads of `n` elements of the
/// caller's size.
pub(crate) unsafe fn read_array<T: Versioned>(
    ptr: *const T,
    n: usize,
    defaults: T,
) -> Result<impl Iterator<Item = Result<T, rtm_status>>, rtm_status> {
    let stride = if n == 0 {
        0
    } else if ptr.is_null() {
        return Err(rtm_status::RTM_ERR_NULL_POINTER);
    } else {
        caller_size(ptr)?
    };
    let base = ptr.cast::<u8>();
    Ok((0..n).map(move |i| {
        let element = base.add(i * stride);
        if element.cast::<usize>().read_unaligned() != stride {
            return Err(rtm_status::RTM_ERR_INVALID_ARGUMENT);
        }
        read_sized(element, stride, defaults)
    }))
}

/// Writes `value` into a caller's growable output struct, at most its
/// `struct_size` bytes (set by the caller to its `sizeof` before the call);
/// `struct_size` itself is left as the caller set it.
///
/// # Safety
/// A non-NULL `ptr` is valid for reads and writes of its `struct_size` bytes.
pub(crate) unsafe fn write<T: Versioned>(ptr: *mut T, value: T) -> Result<(), rtm_status> {
    if ptr.is_null() {
        return Err(rtm_status::RTM_ERR_NULL_POINTER);
    }
    let size = caller_size(ptr)?;
    write_sized(ptr.cast(), size, value);
    Ok(())
}

/// Checks a caller's growable output struct before a call changes any
/// state: non-NULL, with a valid `struct_size`.
///
/// # Safety
/// A non-NULL `ptr` is valid for reads of a `usize`.
pub(crate) unsafe fn check_out<T: Versioned>(ptr: *const T) -> Result<(), rtm_status> {
    if ptr.is_null() {
        return Err(rtm_status::RTM_ERR_NULL_POINTER);
    }
    caller_size(ptr).map(|_| ())
}

unsafe fn write_sized<T: Versioned>(dst: *mut u8, size: usize, mut value: T) {
    value.set_struct_size(size);
    let n = size.min(core::mem::size_of::<T>());
    core::ptr::copy_nonoverlapping((&value as *const T).cast::<u8>(), dst, n);
}

/// A caller's output array of growable structs of capacity `cap`: the
/// stride is the first element's `struct_size`, set by the caller; element
/// `i` is written with that size (its `struct_size` included).
pub(crate) struct OutArray<T> {
    base: *mut u8,
    stride: usize,
    cap: usize,
    _type: core::marker::PhantomData<T>,
}

impl<T: Versioned> OutArray<T> {
    /// # Safety
    /// A non-NULL `ptr` with `cap > 0` is valid for writes of `cap`
    /// elements of the size its first element's `struct_size` states.
    pub(crate) unsafe fn new(ptr: *mut T, cap: usize) -> Result<Self, rtm_status> {
        let stride = if cap == 0 {
            0
        } else if ptr.is_null() {
            return Err(rtm_status::RTM_ERR_NULL_POINTER);
        } else {
            caller_size(ptr)?
        };
        Ok(Self {
            base: ptr.cast(),
            stride,
            cap,
            _type: core::marker::PhantomData,
        })
    }

    pub(crate) fn capacity(&self) -> usize {
        self.cap
    }

    /// Writes element `i < capacity`.
    pub(crate) fn set(&mut self, i: usize, value: T) {
        assert!(i < self.cap);
        // SAFETY: `i < cap`, and `new`'s contract covers `cap` elements.
        unsafe { write_sized(self.base.add(i * self.stride), self.stride, value) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Version 2 of a struct whose version 1 ended before `added`.
    #[repr(C)]
    #[derive(Debug, Clone, Copy, PartialEq)]
    struct Grown {
        struct_size: usize,
        a: u32,
        b: u32,
        added: u64,
    }
    versioned_grown!(Grown, first_new_field: added);

    #[repr(C)]
    #[derive(Debug, Clone, Copy)]
    struct V1 {
        struct_size: usize,
        a: u32,
        b: u32,
    }

    const DEFAULTS: Grown = Grown {
        struct_size: 0,
        a: 1,
        b: 2,
        added: 3,
    };

    #[test]
    fn an_older_caller_gets_defaults_for_what_it_lacks() {
        assert_eq!(
            <Grown as Versioned>::LAYOUT_SIZES,
            &[size_of::<V1>(), size_of::<Grown>()]
        );
        let mut old = V1 {
            struct_size: 0,
            a: 0,
            b: 0,
        };
        let p = (&mut old as *mut V1).cast::<Grown>();
        unsafe {
            init(p, size_of::<V1>(), DEFAULTS).unwrap();
            let v1 = p.cast::<V1>();
            assert_eq!(
                ((*v1).struct_size, (*v1).a, (*v1).b),
                (size_of::<V1>(), 1, 2)
            );
            (*v1).a = 10;
            let read_back = read(p, DEFAULTS).unwrap();
            assert_eq!((read_back.a, read_back.b, read_back.added), (10, 2, 3));
            // Output: only the old caller's bytes are written.
            let mut out = (
                V1 {
                    struct_size: size_of::<V1>(),
                    a: 0,
                    b: 0,
                },
                [0xabu8; 16],
            );
            let value = Grown {
                struct_size: 0,
                a: 7,
                b: 8,
                added: 9,
            };
            write((&mut out.0 as *mut V1).cast::<Grown>(), value).unwrap();
            assert_eq!((out.0.a, out.0.b), (7, 8));
            assert_eq!(out.1, [0xab; 16], "nothing past the caller's struct");
        }
    }

    #[test]
    fn a_newer_callers_unknown_fields_must_be_zero() {
        let mut newer = [0u64; 6]; // a Grown and 16 more bytes
        let p = newer.as_mut_ptr().cast::<Grown>();
        unsafe {
            init(p, 48, DEFAULTS).unwrap();
            let words = core::slice::from_raw_parts(p.cast::<u64>(), 6);
            assert_eq!(words[0], 48);
            assert_eq!(&words[4..], &[0, 0], "unknown tail zeroed");
            assert_eq!(read(p, DEFAULTS).unwrap().added, 3);
            // A field this library does not know, set.
            p.cast::<u64>().add(5).write(1);
            assert_eq!(read(p, DEFAULTS), Err(rtm_status::RTM_ERR_UNSUPPORTED));
        }
    }

    #[test]
    fn sizes_below_the_first_layout_or_absurd_are_refused() {
        let mut g = DEFAULTS;
        let p = &mut g as *mut Grown;
        unsafe {
            assert_eq!(
                init(p, 8, DEFAULTS),
                Err(rtm_status::RTM_ERR_INVALID_ARGUMENT)
            );
            (*p).struct_size = 4;
            assert_eq!(read(p, DEFAULTS), Err(rtm_status::RTM_ERR_INVALID_ARGUMENT));
            (*p).struct_size = usize::MAX;
            assert_eq!(read(p, DEFAULTS), Err(rtm_status::RTM_ERR_INVALID_ARGUMENT));
            assert_eq!(
                write(p, DEFAULTS),
                Err(rtm_status::RTM_ERR_INVALID_ARGUMENT)
            );
            assert_eq!(
                init(core::ptr::null_mut::<Grown>(), 24, DEFAULTS),
                Err(rtm_status::RTM_ERR_NULL_POINTER)
            );
        }
        assert_eq!(
            unsafe { slice(core::ptr::null::<u8>(), usize::MAX) },
            Err(rtm_status::RTM_ERR_INVALID_ARGUMENT)
        );
    }

    #[test]
    fn arrays_use_the_callers_stride() {
        // Three old-layout elements, then an output array of two.
        let mut tracks = [V1 {
            struct_size: size_of::<V1>(),
            a: 5,
            b: 6,
        }; 3];
        tracks[1].a = 50;
        let items: Vec<_> = unsafe { read_array(tracks.as_ptr().cast::<Grown>(), 3, DEFAULTS) }
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            items.iter().map(|g| (g.a, g.added)).collect::<Vec<_>>(),
            [(5, 3), (50, 3), (5, 3)]
        );
        tracks[2].struct_size = 24;
        let mut it = unsafe { read_array(tracks.as_ptr().cast::<Grown>(), 3, DEFAULTS) }.unwrap();
        assert!(it.nth(2).unwrap().is_err(), "mixed element sizes");
        let mut out = [V1 {
            struct_size: 0,
            a: 0,
            b: 0,
        }; 2];
        out[0].struct_size = size_of::<V1>();
        let mut arr = unsafe { OutArray::new(out.as_mut_ptr().cast::<Grown>(), 2) }.unwrap();
        arr.set(
            1,
            Grown {
                struct_size: 0,
                a: 1,
                b: 1,
                added: 1,
            },
        );
        assert_eq!((out[1].struct_size, out[1].a), (size_of::<V1>(), 1));
    }
}
