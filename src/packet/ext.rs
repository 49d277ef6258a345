//! RFC 8285 header extension elements: iteration, lookup, and growing or
//! shrinking the extension block in place.

use core::ops::Range;

use super::error::WriteError;
use super::rtp::RtpLayout;

/// Profile value of a one-byte-element block.
pub const ONE_BYTE_PROFILE: u16 = 0xBEDE;
/// Profile value of a two-byte-element block (low 4 bits are "appbits").
pub const TWO_BYTE_PROFILE: u16 = 0x1000;

/// The two RFC 8285 element encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtensionForm {
    /// One header byte per element: id 1–14, value 1–16 bytes.
    OneByte,
    /// Two header bytes per element: id 1–255, value 0–255 bytes.
    TwoByte { app_bits: u8 },
}

impl ExtensionForm {
    /// The form a block's profile field announces, if it is RFC 8285.
    #[inline]
    pub fn from_profile(profile: u16) -> Option<Self> {
        if profile == ONE_BYTE_PROFILE {
            Some(Self::OneByte)
        } else if profile & 0xfff0 == TWO_BYTE_PROFILE {
            Some(Self::TwoByte {
                app_bits: (profile & 0x0f) as u8,
            })
        } else {
            None
        }
    }

    /// The block profile field for this form.
    pub fn profile(self) -> u16 {
        match self {
            Self::OneByte => ONE_BYTE_PROFILE,
            Self::TwoByte { app_bits } => TWO_BYTE_PROFILE | u16::from(app_bits & 0x0f),
        }
    }

    /// Whether an element with this id and value length can be written.
    pub fn allows(self, id: u8, value_len: usize) -> bool {
        match self {
            Self::OneByte => (1..=14).contains(&id) && (1..=16).contains(&value_len),
            Self::TwoByte { .. } => id >= 1 && value_len <= 255,
        }
    }

    /// Encoded size of an element with a value of `value_len` bytes.
    pub fn element_len(self, value_len: usize) -> usize {
        match self {
            Self::OneByte => 1 + value_len,
            Self::TwoByte { .. } => 2 + value_len,
        }
    }

    /// Writes one element at the start of `out` (the caller has checked
    /// `allows` and the room); returns its size.
    pub(crate) fn write_element(self, out: &mut [u8], id: u8, value: &[u8]) -> usize {
        let head = match self {
            Self::OneByte => {
                out[0] = (id << 4) | (value.len() as u8 - 1);
                1
            }
            Self::TwoByte { .. } => {
                out[0] = id;
                out[1] = value.len() as u8;
                2
            }
        };
        out[head..head + value.len()].copy_from_slice(value);
        head + value.len()
    }
}

/// One RFC 8285 element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extension<'a> {
    pub id: u8,
    pub data: &'a [u8],
}

/// Position of one element inside the extension data.
#[derive(Debug, Clone)]
struct Element {
    id: u8,
    /// First byte of the element header.
    start: usize,
    value: Range<usize>,
}

/// Why scanning stopped.
enum ScanEnd {
    /// Ran to the end of the block (possibly through trailing padding).
    Clean,
    /// Hit an element that runs past the block or a reserved id 15.
    Malformed,
}

/// Random access to extension data: the bytes themselves, or a view of
/// them with one element cut out (to predict a replace without writing).
trait Data {
    fn len(&self) -> usize;
    fn at(&self, i: usize) -> Option<u8>;
}

impl Data for [u8] {
    #[inline(always)]
    fn len(&self) -> usize {
        <[u8]>::len(self)
    }
    #[inline(always)]
    fn at(&self, i: usize) -> Option<u8> {
        self.get(i).copied()
    }
}

/// `data` as [`remove`] leaves it before shrinking: the element at
/// `start..start + removed` cut out and the tail zero-filled.
struct Cut<'a> {
    data: &'a [u8],
    start: usize,
    removed: usize,
}

impl Data for Cut<'_> {
    fn len(&self) -> usize {
        self.data.len()
    }
    fn at(&self, i: usize) -> Option<u8> {
        if i >= self.data.len() {
            None
        } else if i < self.start {
            Some(self.data[i])
        } else {
            Some(self.data.get(i + self.removed).copied().unwrap_or(0))
        }
    }
}

/// Next element at or after `pos`, skipping padding bytes (id 0).
#[inline]
fn next_element<D: Data + ?Sized>(
    form: ExtensionForm,
    data: &D,
    mut pos: usize,
) -> Result<Element, ScanEnd> {
    loop {
        let Some(first) = data.at(pos) else {
            return Err(ScanEnd::Clean);
        };
        if first == 0 {
            pos += 1;
            continue;
        }
        let (id, value_start, value_len) = match form {
            ExtensionForm::OneByte => {
                let id = first >> 4;
                if id == 15 {
                    return Err(ScanEnd::Malformed);
                }
                (id, pos + 1, usize::from(first & 0x0f) + 1)
            }
            ExtensionForm::TwoByte { .. } => {
                let Some(len) = data.at(pos + 1) else {
                    return Err(ScanEnd::Malformed);
                };
                (first, pos + 2, usize::from(len))
            }
        };
        let value_end = value_start + value_len;
        if value_end > data.len() {
            return Err(ScanEnd::Malformed);
        }
        return Ok(Element {
            id,
            start: pos,
            value: value_start..value_end,
        });
    }
}

/// Iterator over the elements of an extension block.
#[derive(Debug, Clone)]
pub struct Extensions<'a> {
    form: ExtensionForm,
    data: &'a [u8],
    pos: usize,
}

impl<'a> Extensions<'a> {
    #[inline]
    pub(crate) fn new(form: ExtensionForm, data: &'a [u8]) -> Self {
        Self { form, data, pos: 0 }
    }

    pub(crate) fn empty() -> Self {
        Self::new(ExtensionForm::OneByte, &[])
    }
}

impl<'a> Iterator for Extensions<'a> {
    type Item = Extension<'a>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        match next_element(self.form, self.data, self.pos) {
            Ok(e) => {
                self.pos = e.value.end;
                Some(Extension {
                    id: e.id,
                    data: &self.data[e.value],
                })
            }
            Err(_) => {
                self.pos = self.data.len();
                None
            }
        }
    }
}

#[inline]
fn find_element(form: ExtensionForm, data: &[u8], id: u8) -> Option<Element> {
    let mut pos = 0;
    while let Ok(e) = next_element(form, data, pos) {
        if e.id == id {
            return Some(e);
        }
        pos = e.value.end;
    }
    None
}

/// Range of element `id`'s value inside the extension data.
#[inline]
pub(crate) fn find_value_range(form: ExtensionForm, data: &[u8], id: u8) -> Option<Range<usize>> {
    find_element(form, data, id).map(|e| e.value)
}

/// End of the last element (trailing padding excluded), or `None` if the
/// block holds a malformed element that appending after would hide.
fn used_len<D: Data + ?Sized>(form: ExtensionForm, data: &D) -> Option<usize> {
    let mut pos = 0;
    let mut used = 0;
    loop {
        match next_element(form, data, pos) {
            Ok(e) => {
                used = e.value.end;
                pos = e.value.end;
            }
            Err(ScanEnd::Clean) => return Some(used),
            Err(ScanEnd::Malformed) => return None,
        }
    }
}

/// The form a set of `(id, value_len)` elements needs: one-byte when all
/// allow it, else two-byte; `None` when there are no elements.
pub(crate) fn form_for(
    mut elements: impl Iterator<Item = (u8, usize)> + Clone,
) -> Result<Option<ExtensionForm>, WriteError> {
    if elements.clone().next().is_none() {
        return Ok(None);
    }
    if elements
        .clone()
        .all(|(id, len)| ExtensionForm::OneByte.allows(id, len))
    {
        return Ok(Some(ExtensionForm::OneByte));
    }
    let two = ExtensionForm::TwoByte { app_bits: 0 };
    if elements.all(|(id, len)| two.allows(id, len)) {
        Ok(Some(two))
    } else {
        Err(WriteError::InvalidArgument(
            "extension id must be 1-255 and value at most 255 bytes",
        ))
    }
}

fn parse_layout(buf: &[u8], len: usize) -> Result<RtpLayout, WriteError> {
    let pkt = buf
        .get(..len)
        .ok_or(WriteError::InvalidArgument("len exceeds buffer"))?;
    RtpLayout::parse(pkt).map_err(WriteError::Malformed)
}

/// Appends element `id` (known to be absent) to the packet in `buf[..len]`.
pub(crate) fn add(buf: &mut [u8], len: usize, id: u8, value: &[u8]) -> Result<usize, WriteError> {
    let layout = parse_layout(buf, len)?;
    let Some(block) = layout.extension else {
        return add_block(buf, &layout, id, value);
    };
    let form = block.form().ok_or(WriteError::InvalidArgument(
        "the packet's header extension is not RFC 8285",
    ))?;
    check_allows(form, id, value)?;
    let data_start = block.data_start;
    let used = used_len(form, &buf[data_start..data_start + block.data_len]).ok_or(MALFORMED)?;
    let needed = used + form.element_len(value.len());
    let new_data_len = needed.next_multiple_of(4).max(block.data_len);
    if new_data_len / 4 > usize::from(u16::MAX) {
        return Err(WriteError::InvalidArgument("extension block too long"));
    }
    let grow = new_data_len - block.data_len;
    let new_len = len + grow;
    if new_len > buf.len() {
        return Err(WriteError::BufferTooSmall { needed: new_len });
    }
    let old_end = data_start + block.data_len;
    buf.copy_within(old_end..len, old_end + grow);
    let at = data_start + used;
    let written = form.write_element(&mut buf[at..], id, value);
    buf[at + written..data_start + new_data_len].fill(0);
    set_block_words(buf, data_start, new_data_len);
    Ok(new_len)
}

const MALFORMED: WriteError =
    WriteError::InvalidArgument("the packet's extension block is malformed");

fn check_allows(form: ExtensionForm, id: u8, value: &[u8]) -> Result<(), WriteError> {
    if form.allows(id, value.len()) {
        return Ok(());
    }
    Err(WriteError::InvalidArgument(match form {
        ExtensionForm::OneByte => "one-byte extension block needs id 1-14 and a 1-16 byte value",
        ExtensionForm::TwoByte { .. } => "extension id must be 1-255 and value at most 255 bytes",
    }))
}

/// What replacing the present element `id` by `value` ([`remove`] then
/// [`add`]) will give: the new length, or the error `add` would return,
/// computed without writing anything, so that a replace that cannot be
/// done leaves the packet as it was. `NotFound` if `id` is absent.
pub(crate) fn replaced_len(
    buf: &[u8],
    len: usize,
    id: u8,
    value: &[u8],
) -> Result<usize, WriteError> {
    let layout = parse_layout(buf, len)?;
    let block = layout.extension.ok_or(WriteError::NotFound)?;
    let form = block.form().ok_or(WriteError::NotFound)?;
    let data = &buf[block.data_start..block.data_start + block.data_len];
    let elem = find_element(form, data, id).ok_or(WriteError::NotFound)?;
    // As add refuses to append to a malformed block, replace refuses to
    // rewrite one: closing the gap could complete a truncated trailing
    // element and give the block a second element `id`.
    used_len(form, data).ok_or(MALFORMED)?;
    let cut = Cut {
        data,
        start: elem.start,
        removed: elem.value.end - elem.start,
    };
    let used = used_len(form, &cut);
    let kept = used.unwrap_or(block.data_len).next_multiple_of(4);
    let new_len = if kept == 0 {
        // remove drops the block; add creates one for this element alone.
        let form = form_for(core::iter::once((id, value.len())))?.expect("one element");
        len - 4 - block.data_len + 4 + form.element_len(value.len()).next_multiple_of(4)
    } else {
        check_allows(form, id, value)?;
        let used = used.ok_or(MALFORMED)?;
        let data_len = (used + form.element_len(value.len()))
            .next_multiple_of(4)
            .max(kept);
        if data_len / 4 > usize::from(u16::MAX) {
            return Err(WriteError::InvalidArgument("extension block too long"));
        }
        len - block.data_len + data_len
    };
    if new_len > buf.len() {
        return Err(WriteError::BufferTooSmall { needed: new_len });
    }
    Ok(new_len)
}

/// Creates an extension block holding one element.
fn add_block(
    buf: &mut [u8],
    layout: &RtpLayout,
    id: u8,
    value: &[u8],
) -> Result<usize, WriteError> {
    let form = form_for(core::iter::once((id, value.len())))?.expect("one element");
    let data_len = form.element_len(value.len()).next_multiple_of(4);
    let grow = 4 + data_len;
    let new_len = layout.len + grow;
    if new_len > buf.len() {
        return Err(WriteError::BufferTooSmall { needed: new_len });
    }
    let at = layout.payload_start;
    buf.copy_within(at..layout.len, at + grow);
    buf[at..at + 2].copy_from_slice(&form.profile().to_be_bytes());
    let data_start = at + 4;
    let written = form.write_element(&mut buf[data_start..], id, value);
    buf[data_start + written..data_start + data_len].fill(0);
    set_block_words(buf, data_start, data_len);
    buf[0] |= 0x10;
    Ok(new_len)
}

fn set_block_words(buf: &mut [u8], data_start: usize, data_len: usize) {
    buf[data_start - 2..data_start].copy_from_slice(&((data_len / 4) as u16).to_be_bytes());
}

/// Removes element `id`, compacting and shrinking the block.
pub(crate) fn remove(buf: &mut [u8], len: usize, id: u8) -> Result<usize, WriteError> {
    let layout = parse_layout(buf, len)?;
    let block = layout.extension.ok_or(WriteError::NotFound)?;
    let form = block.form().ok_or(WriteError::NotFound)?;
    let data_start = block.data_start;
    let old_end = data_start + block.data_len;
    let data = &mut buf[data_start..old_end];
    let elem = find_element(form, data, id).ok_or(WriteError::NotFound)?;
    let removed = elem.value.end - elem.start;
    data.copy_within(elem.value.end.., elem.start);
    let tail = data.len() - removed;
    data[tail..].fill(0);
    // A malformed remainder is kept byte for byte: only trailing padding we
    // can prove empty is released.
    let used = used_len(form, data).unwrap_or(data.len());
    let new_data_len = used.next_multiple_of(4);
    let shrink = if new_data_len == 0 {
        let header = data_start - 4;
        buf.copy_within(old_end..len, header);
        buf[0] &= !0x10;
        4 + block.data_len
    } else {
        buf.copy_within(old_end..len, data_start + new_data_len);
        set_block_words(buf, data_start, new_data_len);
        block.data_len - new_data_len
    };
    Ok(len - shrink)
}
