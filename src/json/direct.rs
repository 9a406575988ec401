//! The direct transcoder: protobuf bytes to proto3 JSON bytes and back in
//! one pass each, with no intermediate prost message.
//!
//! The generator describes every message by a static [`Table`] (its fields'
//! numbers, names, types and cardinality); one interpreter here walks it.
//! Scalars are read by the same [`Kind`]s the serde impls use (the same
//! JSON, the same errors) and printed straight into the output by
//! `Print` (tested against [`Kind::ser`]); well-known types go through their
//! serde impls ([`Opaque`]), except `Timestamp` and `Duration`, printed
//! from the wire.
//!
//! Printing is one pass when fields arrive in number order (as encoders
//! write them) and the table prints in number order ([`Table::in_order`]);
//! otherwise a first pass finds each field and a second prints them in the
//! serde impl's order.
//!
//! The direct path only ever has to be right when it succeeds: whatever it
//! cannot do as the serde path would (a singular message twice on the wire,
//! a group, any error at all) makes it give up, and the caller runs the
//! serde path, which gives the answer or the error, with its field path.
//! So errors cost a second pass, and success costs one.

use std::any::TypeId;
use std::fmt;

use bytes::{BufMut, BytesMut};
use prost::encoding::{decode_varint, encode_varint};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::Serializer as _;
use serde_json::value::RawValue;

use super::{
    Bool, Bytes, F32, F64, I32, I64, JsonOptions, Kind, MapKey, NullValue, Seen, U32, U64, charge,
    enum_read, heap, nested,
};
use crate::types::{Duration, Timestamp};

/// A message the generator gave a [`Table`].
pub trait Direct {
    /// The message's table.
    fn table() -> &'static Table;
}

/// One message: its fields in declaration order, and the orders the
/// interpreter needs.
#[derive(Debug)]
pub struct Table {
    /// The fields, in declaration order (the order of `names`).
    pub fields: &'static [Field],
    /// (JSON name, proto name) of each field, as [`FieldKey`](super::FieldKey) reads them.
    pub names: &'static [(&'static str, &'static str)],
    /// Field indexes in the order the serde impl prints them (fields
    /// outside oneofs, then each oneof's members).
    pub print: &'static [u16],
    /// The names of the real oneofs ([`Field::oneof`] indexes them).
    pub oneofs: &'static [&'static str],
    /// (number, field index), sorted by number.
    pub by_number: &'static [(u32, u16)],
    /// `print` is in number order and no field is [`Card::Always`]: a
    /// message whose fields arrive in number order prints in one pass.
    pub in_order: bool,
    /// The field a JSON name (either) names.
    pub index: fn(&str) -> Option<usize>,
}

/// One field of a [`Table`].
#[derive(Debug)]
pub struct Field {
    /// The field number.
    pub number: u32,
    /// The proto3 JSON name.
    pub json: &'static str,
    /// The proto name.
    pub proto: &'static str,
    /// `"json":` and `"proto":` as written, or empty when a name needs
    /// escaping (it is escaped as it is written).
    pub keys: (&'static str, &'static str),
    /// The value type (of the elements, of a map's values).
    pub ty: Ty,
    /// How many values it holds, and when it is printed.
    pub card: Card,
    /// The oneof it is a member of.
    pub oneof: Option<u16>,
    /// A repeated scalar written packed.
    pub packed: bool,
    /// A singular message prost holds in a `Box` (its size is counted
    /// against the decode budget, as the serde path counts it).
    pub boxed: bool,
}

/// How many values a field holds, and when it is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Card {
    /// No presence: printed unless default (or with `emit_unpopulated`).
    Implicit,
    /// Presence: printed when set.
    Explicit,
    /// A proto2 `required` field: always printed (prost cannot tell it
    /// unset).
    Always,
    /// Repeated.
    Repeated,
    /// A map with keys of this type (the value type is [`Field::ty`]).
    Map(Ty),
}

/// A value type.
#[derive(Clone, Copy)]
#[allow(missing_docs)]
pub enum Ty {
    Double,
    Float,
    Int32,
    Sint32,
    Sfixed32,
    Int64,
    Sint64,
    Sfixed64,
    Uint32,
    Fixed32,
    Uint64,
    Fixed64,
    Bool,
    String,
    Bytes,
    /// An enum: its value names by number, and numbers by name.
    Enum(fn(i32) -> Option<&'static str>, fn(&str) -> Option<i32>),
    /// `google.protobuf.NullValue`.
    Null,
    /// A message with a table, and `size_of` its Rust type.
    Message(fn() -> &'static Table, usize),
    /// A well-known type, transcoded through its serde impl.
    Opaque(&'static Opaque),
    /// A proto2 group: the serde path transcodes a message with one set.
    Group,
}

impl PartialEq for Ty {
    fn eq(&self, other: &Self) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
    }
}

impl Eq for Ty {}

impl fmt::Debug for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Ty::Enum(..) => "Enum",
            Ty::Message(..) => "Message",
            Ty::Opaque(_) => "Opaque",
            Ty::Group => "Group",
            _ => "Scalar",
        })
    }
}

/// A well-known type's codecs (its prost and serde impls, through kind `K`).
pub struct Opaque {
    print: fn(&[u8], &mut Vec<u8>) -> bool,
    read: fn(&str, &mut BytesMut, u32, bool) -> Result<bool, String>,
    size: usize,
}

impl fmt::Debug for Opaque {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Opaque")
    }
}

impl Opaque {
    /// The codecs of kind `K` (`Msg<Timestamp>`, `ValueMsg<Value>`, ...).
    pub const fn of<K>() -> Self
    where
        K: Kind<T: prost::Message + Default + 'static>,
    {
        Self {
            print: opaque_print::<K>,
            read: opaque_read::<K>,
            size: size_of::<K::T>(),
        }
    }
}

fn opaque_print<K: Kind<T: prost::Message + Default + 'static>>(
    bytes: &[u8],
    out: &mut Vec<u8>,
) -> bool {
    // The two most common, straight from the wire (a third of a `Book`'s
    // printing went to decoding and printing its timestamp).
    let text = if TypeId::of::<K::T>() == TypeId::of::<Timestamp>() {
        seconds_nanos(bytes).map(|(seconds, nanos)| Timestamp { seconds, nanos }.to_rfc3339())
    } else if TypeId::of::<K::T>() == TypeId::of::<Duration>() {
        seconds_nanos(bytes).map(|(seconds, nanos)| Duration { seconds, nanos }.to_json())
    } else {
        let Ok(value) = <K::T as prost::Message>::decode(bytes) else {
            return false;
        };
        return K::ser(&value, &mut json_writer(out)).is_ok();
    };
    let Some(Ok(text)) = text else {
        return false;
    };
    // Digits and `-.:TZs`: nothing to escape.
    out.push(b'"');
    out.extend_from_slice(text.as_bytes());
    out.push(b'"');
    true
}

/// `seconds` (1, int64) and `nanos` (2, int32) of a `Timestamp` or
/// `Duration`, read as prost reads them (the last of each wins, unknown
/// fields are skipped); `None` where prost would fail.
fn seconds_nanos(mut bytes: &[u8]) -> Option<(i64, i32)> {
    let (mut seconds, mut nanos) = (0, 0);
    while !bytes.is_empty() {
        let (number, wire) = get_key(&mut bytes).ok()?;
        let mut raw = get_value(&mut bytes, wire).ok()?;
        match (number, wire) {
            (1, VARINT) => seconds = CInt64::get(&mut raw)?,
            (2, VARINT) => nanos = CInt32::get(&mut raw)?,
            (1 | 2, _) => return None,
            _ => {}
        }
    }
    Some((seconds, nanos))
}

/// Reads `raw` (one JSON value) as kind `K` and writes it as field
/// `number` (`0`: without a key, a map entry's value is framed by the
/// caller): `Ok(false)` when there was nothing to write (`null`).
fn opaque_read<K: Kind<T: prost::Message + Default>>(
    raw: &str,
    out: &mut BytesMut,
    number: u32,
    element: bool,
) -> Result<bool, String> {
    let value = if raw == "null" {
        match K::null() {
            Some(value) => value,
            None if element => return Err("null is not allowed here".into()),
            None => return Ok(false),
        }
    } else {
        let mut de = serde_json::Deserializer::from_str(raw);
        K::de(&mut de).map_err(|e| e.to_string())?
    };
    put_message(out, number, |out| {
        prost::Message::encode_raw(&value, out);
        Ok::<(), String>(())
    })?;
    Ok(true)
}

fn json_writer(
    out: &mut Vec<u8>,
) -> serde_json::Serializer<&mut Vec<u8>, crate::json::float::Formatter> {
    serde_json::Serializer::with_formatter(out, crate::json::float::Formatter)
}

/// Nested messages deeper than this give up, well within prost's
/// recursion limit (100): the serde path then answers as prost does.
const MAX_DEPTH: u32 = 64;

/// The direct path could not do it: run the serde path.
#[derive(Debug)]
pub(crate) struct GiveUp;

// ---------------------------------------------------------------------------
// Wire codecs of the scalar types

const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;
const FIXED32: u8 = 5;

/// Prints a scalar kind's JSON straight into the output (what its
/// [`Kind::ser`] writes, without a `Serializer`; the tests compare them).
trait Print: Kind {
    fn print(value: Self::T, out: &mut Vec<u8>);
}

macro_rules! print_int {
    ($kind:ty, $quoted:expr) => {
        impl Print for $kind {
            #[inline]
            fn print(value: Self::T, out: &mut Vec<u8>) {
                let mut digits = itoa::Buffer::new();
                let digits = digits.format(value).as_bytes();
                if $quoted {
                    out.reserve(digits.len() + 2);
                    out.push(b'"');
                    out.extend_from_slice(digits);
                    out.push(b'"');
                } else {
                    out.extend_from_slice(digits);
                }
            }
        }
    };
}

print_int!(I32, false);
print_int!(U32, false);
print_int!(I64, true);
print_int!(U64, true);

impl Print for Bool {
    #[inline]
    fn print(value: bool, out: &mut Vec<u8>) {
        out.extend_from_slice(if value { b"true" } else { b"false" });
    }
}

impl Print for F64 {
    #[inline]
    fn print(value: f64, out: &mut Vec<u8>) {
        crate::json::float::append_f64(value, out);
    }
}

impl Print for F32 {
    #[inline]
    fn print(value: f32, out: &mut Vec<u8>) {
        crate::json::float::append_f32(value, out);
    }
}

/// One scalar type's wire form, with the [`Kind`] of its JSON form.
trait Codec {
    type K: Kind<T: Copy> + Print;
    const WIRE: u8;
    fn put(value: <Self::K as Kind>::T, out: &mut BytesMut);
    fn get(bytes: &mut &[u8]) -> Option<<Self::K as Kind>::T>;
}

macro_rules! varint_codec {
    ($name:ident, $kind:ty, |$v:ident| $put:expr, |$x:ident| $get:expr) => {
        enum $name {}
        impl Codec for $name {
            type K = $kind;
            const WIRE: u8 = VARINT;
            #[inline]
            fn put($v: <$kind as Kind>::T, out: &mut BytesMut) {
                encode_varint($put, out);
            }
            #[inline]
            fn get(bytes: &mut &[u8]) -> Option<<$kind as Kind>::T> {
                let $x = varint(bytes).ok()?;
                Some($get)
            }
        }
    };
}

varint_codec!(CInt32, I32, |v| v as i64 as u64, |x| x as i32);
varint_codec!(CInt64, I64, |v| v as u64, |x| x as i64);
varint_codec!(CUint32, U32, |v| u64::from(v), |x| x as u32);
varint_codec!(CUint64, U64, |v| v, |x| x);
varint_codec!(
    CSint32,
    I32,
    |v| ((v << 1) ^ (v >> 31)) as u32 as u64,
    |x| {
        let x = x as u32;
        ((x >> 1) as i32) ^ (-((x & 1) as i32))
    }
);
varint_codec!(CSint64, I64, |v| ((v << 1) ^ (v >> 63)) as u64, |x| {
    ((x >> 1) as i64) ^ (-((x & 1) as i64))
});
varint_codec!(CBool, Bool, |v| u64::from(v), |x| x != 0);

macro_rules! fixed_codec {
    ($name:ident, $kind:ty, $wire:expr, $n:expr, $put:ident, $t:ty) => {
        enum $name {}
        impl Codec for $name {
            type K = $kind;
            const WIRE: u8 = $wire;
            #[inline]
            fn put(value: $t, out: &mut BytesMut) {
                out.$put(value);
            }
            #[inline]
            fn get(bytes: &mut &[u8]) -> Option<$t> {
                let (head, rest) = bytes.split_first_chunk::<$n>()?;
                *bytes = rest;
                Some(<$t>::from_le_bytes(*head))
            }
        }
    };
}

fixed_codec!(CFixed32, U32, FIXED32, 4, put_u32_le, u32);
fixed_codec!(CSfixed32, I32, FIXED32, 4, put_i32_le, i32);
fixed_codec!(CFloat, F32, FIXED32, 4, put_f32_le, f32);
fixed_codec!(CFixed64, U64, FIXED64, 8, put_u64_le, u64);
fixed_codec!(CSfixed64, I64, FIXED64, 8, put_i64_le, i64);
fixed_codec!(CDouble, F64, FIXED64, 8, put_f64_le, f64);

/// Runs `$body` with `$c` the codec of scalar type `$ty`; `$other` for the
/// rest.
macro_rules! with_codec {
    ($ty:expr, $c:ident => $body:expr, $other:pat => $else:expr) => {
        match $ty {
            Ty::Double => {
                type $c = CDouble;
                $body
            }
            Ty::Float => {
                type $c = CFloat;
                $body
            }
            Ty::Int32 => {
                type $c = CInt32;
                $body
            }
            Ty::Sint32 => {
                type $c = CSint32;
                $body
            }
            Ty::Sfixed32 => {
                type $c = CSfixed32;
                $body
            }
            Ty::Int64 => {
                type $c = CInt64;
                $body
            }
            Ty::Sint64 => {
                type $c = CSint64;
                $body
            }
            Ty::Sfixed64 => {
                type $c = CSfixed64;
                $body
            }
            Ty::Uint32 => {
                type $c = CUint32;
                $body
            }
            Ty::Fixed32 => {
                type $c = CFixed32;
                $body
            }
            Ty::Uint64 => {
                type $c = CUint64;
                $body
            }
            Ty::Fixed64 => {
                type $c = CFixed64;
                $body
            }
            Ty::Bool => {
                type $c = CBool;
                $body
            }
            $other => $else,
        }
    };
}

/// The wire type a singular value of `ty` has.
fn wire_of(ty: Ty) -> u8 {
    with_codec!(ty, C => <C as Codec>::WIRE, other => match other {
        Ty::Enum(..) | Ty::Null => VARINT,
        // Never a group's own wire type: it gives up when it meets one.
        _ => LEN,
    })
}

/// Whether a repeated field of `ty` may come packed.
fn packable(ty: Ty) -> bool {
    wire_of(ty) != LEN
}

/// `size_of` the Rust type prost gives a value of `ty`.
fn rust_size(ty: Ty) -> usize {
    match ty {
        Ty::Double | Ty::Int64 | Ty::Sint64 | Ty::Sfixed64 | Ty::Uint64 | Ty::Fixed64 => 8,
        Ty::Float
        | Ty::Int32
        | Ty::Sint32
        | Ty::Sfixed32
        | Ty::Uint32
        | Ty::Fixed32
        | Ty::Enum(..)
        | Ty::Null => 4,
        Ty::Bool => 1,
        Ty::String | Ty::Bytes => size_of::<Vec<u8>>(),
        Ty::Message(_, size) => size,
        Ty::Opaque(opaque) => opaque.size,
        Ty::Group => 0,
    }
}

fn put_key(out: &mut BytesMut, number: u32, wire: u8) {
    encode_varint((u64::from(number) << 3) | u64::from(wire), out);
}

/// Writes field `number` as a length-delimited value `body` writes (no key
/// when `number` is 0).
fn put_message<E>(
    out: &mut BytesMut,
    number: u32,
    body: impl FnOnce(&mut BytesMut) -> Result<(), E>,
) -> Result<(), E> {
    if number != 0 {
        put_key(out, number, LEN);
    }
    let at = out.len();
    out.put_u8(0);
    body(out)?;
    fix_length(out, at);
    Ok(())
}

/// Writes the length of what follows the one-byte placeholder at `at` into
/// it, moving the content when the length needs more bytes: returns by how
/// many bytes the content moved.
fn fix_length(out: &mut BytesMut, at: usize) -> usize {
    let len = out.len() - at - 1;
    if len < 0x80 {
        out[at] = len as u8;
        return 0;
    }
    let mut prefix = [0u8; 10];
    let mut slice = &mut prefix[..];
    encode_varint(len as u64, &mut slice);
    let n = 10 - slice.len();
    out.put_bytes(0, n - 1);
    out.copy_within(at + 1..at + 1 + len, at + n);
    out[at..at + n].copy_from_slice(&prefix[..n]);
    n - 1
}

// ---------------------------------------------------------------------------
// Protobuf -> JSON

/// Appends the proto3 JSON of the message `table` describes, read from
/// `bytes`, to `out`; [`GiveUp`] when the serde path must do it.
pub(crate) fn print(
    table: &Table,
    bytes: &[u8],
    out: &mut Vec<u8>,
    options: &JsonOptions,
) -> Result<(), GiveUp> {
    print_message(table, bytes, out, options, 0)
}

#[derive(Clone, Copy, Default)]
struct Slot {
    /// Offsets of the first and the last occurrence's key.
    first: u32,
    last: u32,
    count: u32,
}

const INLINE_SLOTS: usize = 24;

/// Reads a varint: one byte here (keys, lengths and small numbers),
/// longer ones by prost.
#[inline(always)]
fn varint(bytes: &mut &[u8]) -> Result<u64, GiveUp> {
    match bytes.split_first() {
        Some((&byte, rest)) if byte < 0x80 => {
            *bytes = rest;
            Ok(u64::from(byte))
        }
        _ => decode_varint(bytes).map_err(|_| GiveUp),
    }
}

/// Reads one key: (number, wire type).
#[inline(always)]
fn get_key(bytes: &mut &[u8]) -> Result<(u32, u8), GiveUp> {
    let key = varint(bytes)?;
    let number = key >> 3;
    if number == 0 || number > u64::from(u32::MAX >> 3) {
        return Err(GiveUp);
    }
    Ok((number as u32, (key & 7) as u8))
}

/// Reads a value of wire type `wire`: a length-delimited value's payload,
/// else the varint's or fixed value's own bytes.
#[inline(always)]
fn get_value<'a>(bytes: &mut &'a [u8], wire: u8) -> Result<&'a [u8], GiveUp> {
    let start = *bytes;
    let n = match wire {
        VARINT => {
            varint(bytes)?;
            return Ok(&start[..start.len() - bytes.len()]);
        }
        FIXED64 => 8,
        FIXED32 => 4,
        LEN => usize::try_from(varint(bytes)?).map_err(|_| GiveUp)?,
        _ => return Err(GiveUp),
    };
    if bytes.len() < n {
        return Err(GiveUp);
    }
    let (value, rest) = bytes.split_at(n);
    *bytes = rest;
    Ok(value)
}

#[inline]
fn lookup(table: &Table, number: u32) -> Option<usize> {
    // Fields numbered 1, 2, 3, ... in declaration order: no search.
    let guess = (number as usize).wrapping_sub(1);
    if table.fields.get(guess).is_some_and(|f| f.number == number) {
        return Some(guess);
    }
    table
        .by_number
        .binary_search_by_key(&number, |&(n, _)| n)
        .ok()
        .map(|i| usize::from(table.by_number[i].1))
}

fn print_message(
    table: &Table,
    bytes: &[u8],
    out: &mut Vec<u8>,
    options: &JsonOptions,
    depth: u32,
) -> Result<(), GiveUp> {
    if depth > MAX_DEPTH {
        return Err(GiveUp);
    }
    if table.in_order && !options.emit_unpopulated {
        let mark = out.len();
        if print_in_order(table, bytes, out, options, depth)? {
            return Ok(());
        }
        out.truncate(mark);
    }
    let n = table.fields.len();
    let mut inline = [Slot::default(); INLINE_SLOTS];
    let mut spilled = Vec::new();
    let slots: &mut [Slot] = if n <= INLINE_SLOTS {
        &mut inline[..n]
    } else {
        spilled.resize(n, Slot::default());
        &mut spilled
    };

    // Where each field is.
    let mut rest = bytes;
    while !rest.is_empty() {
        let at = (bytes.len() - rest.len()) as u32;
        let (number, wire) = get_key(&mut rest)?;
        get_value(&mut rest, wire)?;
        let Some(i) = lookup(table, number) else {
            continue;
        };
        check_wire(&table.fields[i], wire)?;
        let slot = &mut slots[i];
        if slot.count == 0 {
            slot.first = at;
        }
        slot.last = at;
        slot.count += 1;
    }

    out.push(b'{');
    let mut empty = true;
    for &i in table.print {
        let i = usize::from(i);
        let field = &table.fields[i];
        let slot = slots[i];
        if let Some(oneof) = field.oneof {
            if slot.count == 0 {
                continue;
            }
            // More than one value for the oneof: prost decodes (and checks)
            // each, the last wins; the serde path does that.
            let set: u32 = table
                .print
                .iter()
                .filter(|&&j| table.fields[usize::from(j)].oneof == Some(oneof))
                .map(|&j| slots[usize::from(j)].count)
                .sum();
            if set > 1 {
                return Err(GiveUp);
            }
        }
        if slot.count == 0 && !options.emit_unpopulated && !matches!(field.card, Card::Always) {
            // Not on the wire, and not printed when unset.
            continue;
        }
        print_field(field, bytes, slot, None, &mut empty, out, options, depth)?;
    }
    out.push(b'}');
    Ok(())
}

/// The one pass: prints each run of a field's values as it ends, while
/// fields arrive in print order (`table.in_order`: number order). `false`
/// (with `out` to be truncated) when one arrives out of order, or a oneof
/// is set twice: the two passes then decide.
fn print_in_order(
    table: &Table,
    bytes: &[u8],
    out: &mut Vec<u8>,
    options: &JsonOptions,
    depth: u32,
) -> Result<bool, GiveUp> {
    out.push(b'{');
    let mut empty = true;
    let mut oneofs = 0u64;
    // The run being read: its field, where it is, and its last value.
    let mut run: Option<(usize, Slot, &[u8])> = None;
    let mut rest = bytes;
    loop {
        let next = if rest.is_empty() {
            None
        } else {
            let at = (bytes.len() - rest.len()) as u32;
            let (number, wire) = get_key(&mut rest)?;
            let value = get_value(&mut rest, wire)?;
            match lookup(table, number) {
                Some(i) => {
                    check_wire(&table.fields[i], wire)?;
                    Some((i, at, value))
                }
                None => continue,
            }
        };
        match (&mut run, next) {
            (Some((current, slot, last)), Some((i, at, value))) if *current == i => {
                slot.last = at;
                slot.count += 1;
                *last = value;
                continue;
            }
            (Some((current, slot, last)), next) => {
                let field = &table.fields[*current];
                if let Some(oneof) = field.oneof {
                    let Some(bit) = 1u64.checked_shl(u32::from(oneof)) else {
                        return Ok(false);
                    };
                    if oneofs & bit != 0 || slot.count > 1 {
                        return Ok(false);
                    }
                    oneofs |= bit;
                }
                let value = (slot.count == 1).then_some(*last);
                print_field(field, bytes, *slot, value, &mut empty, out, options, depth)?;
                if let Some((i, _, _)) = next
                    && table.fields[i].number < field.number
                {
                    return Ok(false);
                }
            }
            (None, _) => {}
        }
        match next {
            Some((i, at, value)) => {
                let slot = Slot {
                    first: at,
                    last: at,
                    count: 1,
                };
                run = Some((i, slot, value));
            }
            None => break,
        }
    }
    out.push(b'}');
    Ok(true)
}

/// A value of wire type `wire` belongs to `field`, or [`GiveUp`].
#[inline]
fn check_wire(field: &Field, wire: u8) -> Result<(), GiveUp> {
    let expected = match field.card {
        Card::Map(_) => LEN,
        _ => wire_of(field.ty),
    };
    if wire == expected
        || (matches!(field.card, Card::Repeated) && wire == LEN && packable(field.ty))
    {
        Ok(())
    } else {
        Err(GiveUp)
    }
}

/// Prints `field` (key and value, after a comma unless `empty`), whose
/// occurrences `slot` spans; `value`: its one value, when already read.
/// Prints nothing for an implicit field holding its default.
#[allow(clippy::too_many_arguments)]
fn print_field(
    field: &Field,
    bytes: &[u8],
    slot: Slot,
    value: Option<&[u8]>,
    empty: &mut bool,
    out: &mut Vec<u8>,
    options: &JsonOptions,
    depth: u32,
) -> Result<(), GiveUp> {
    let mark = out.len();
    if !*empty {
        out.push(b',');
    }
    let (name, key) = if options.proto_names {
        (field.proto, field.keys.1)
    } else {
        (field.json, field.keys.0)
    };
    if key.is_empty() {
        let _ = json_writer(out).serialize_str(name);
        out.push(b':');
    } else {
        out.extend_from_slice(key.as_bytes());
    }
    let written = match field.card {
        Card::Repeated => print_repeated(field, bytes, slot, out, options, depth)?,
        Card::Map(key) => print_map(field, key, bytes, slot, out, options, depth)?,
        card => {
            if slot.count > 1 && matches!(field.ty, Ty::Message(..) | Ty::Opaque(_) | Ty::String) {
                // prost merges messages, and checks every string it
                // decodes (an earlier one may not be UTF-8).
                return Err(GiveUp);
            }
            let value = if slot.count == 0 {
                match card {
                    Card::Always => Some(&[][..]),
                    Card::Implicit if options.emit_unpopulated => None,
                    _ => {
                        out.truncate(mark);
                        return Ok(());
                    }
                }
            } else if let Some(value) = value {
                Some(value)
            } else {
                let mut at = &bytes[slot.last as usize..];
                let (_, wire) = get_key(&mut at)?;
                Some(get_value(&mut at, wire)?)
            };
            let skip_default = matches!(card, Card::Implicit) && !options.emit_unpopulated;
            print_value(
                field.ty,
                value.unwrap_or(&[]),
                value.is_none(),
                skip_default,
                out,
                options,
                depth,
            )?
        }
    };
    if written {
        *empty = false;
    } else {
        out.truncate(mark);
    }
    Ok(())
}

/// Prints one value of `ty` from `raw` (a varint's or fixed value's bytes,
/// or a length-delimited payload); `absent`: the default value. `false`
/// (nothing printed) when `skip_default` and it is the default.
fn print_value(
    ty: Ty,
    raw: &[u8],
    absent: bool,
    skip_default: bool,
    out: &mut Vec<u8>,
    options: &JsonOptions,
    depth: u32,
) -> Result<bool, GiveUp> {
    with_codec!(ty, C => {
        let value = if absent {
            Default::default()
        } else {
            let mut raw = raw;
            <C as Codec>::get(&mut raw).ok_or(GiveUp)?
        };
        if skip_default && <<C as Codec>::K as Kind>::is_default(&value) {
            return Ok(false);
        }
        <<C as Codec>::K as Print>::print(value, out);
        Ok(true)
    }, other => match other {
        Ty::Enum(name, _) => {
            let value = if absent {
                0
            } else {
                let mut raw = raw;
                CInt32::get(&mut raw).ok_or(GiveUp)?
            };
            if skip_default && value == 0 {
                return Ok(false);
            }
            // As `enum_ser` prints it.
            match name(value).filter(|_| !options.enums_as_ints) {
                Some(name) => {
                    crate::json::escape::append_str(name.as_bytes(), out);
                }
                None => I32::print(value, out),
            }
            Ok(true)
        }
        Ty::Null => {
            if skip_default {
                return Ok(false);
            }
            out.extend_from_slice(b"null");
            Ok(true)
        }
        Ty::String => {
            if skip_default && raw.is_empty() {
                return Ok(false);
            }
            if !crate::json::escape::append_str(raw, out) {
                return Err(GiveUp);
            }
            Ok(true)
        }
        Ty::Bytes => {
            if skip_default && raw.is_empty() {
                return Ok(false);
            }
            crate::json::base64::append_quoted(raw, out);
            Ok(true)
        }
        Ty::Message(table, _) => {
            print_message(table(), raw, out, options, depth + 1)?;
            Ok(true)
        }
        Ty::Opaque(opaque) => {
            if depth >= MAX_DEPTH || !(opaque.print)(raw, out) {
                return Err(GiveUp);
            }
            Ok(true)
        }
        Ty::Group => Err(GiveUp),
        _ => unreachable!("scalars are handled above"),
    })
}

fn print_repeated(
    field: &Field,
    bytes: &[u8],
    slot: Slot,
    out: &mut Vec<u8>,
    options: &JsonOptions,
    depth: u32,
) -> Result<bool, GiveUp> {
    let mut count = 0usize;
    out.push(b'[');
    if slot.count > 0 {
        let mut rest = &bytes[slot.first as usize..];
        let end = bytes.len() - slot.last as usize;
        while rest.len() >= end {
            let (number, wire) = get_key(&mut rest)?;
            let value = get_value(&mut rest, wire)?;
            if number != field.number {
                continue;
            }
            if wire == LEN && packable(field.ty) {
                let mut packed = value;
                while !packed.is_empty() {
                    let one = get_value(&mut packed, wire_of(field.ty))?;
                    element(field.ty, one, &mut count, out, options, depth)?;
                }
            } else {
                element(field.ty, value, &mut count, out, options, depth)?;
            }
        }
    }
    out.push(b']');
    Ok(count > 0 || options.emit_unpopulated)
}

fn element(
    ty: Ty,
    raw: &[u8],
    count: &mut usize,
    out: &mut Vec<u8>,
    options: &JsonOptions,
    depth: u32,
) -> Result<(), GiveUp> {
    if *count > 0 {
        out.push(b',');
    }
    *count += 1;
    print_value(ty, raw, false, false, out, options, depth).map(drop)
}

/// Map entries sorted on the stack; more spill to the heap.
const INLINE_ENTRIES: usize = 16;

/// A map key, ordered as the serde path orders them.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum MapKeyOf<'a> {
    Bool(bool),
    Int(i128),
    Str(&'a str),
}

fn print_map(
    field: &Field,
    key_ty: Ty,
    bytes: &[u8],
    slot: Slot,
    out: &mut Vec<u8>,
    options: &JsonOptions,
    depth: u32,
) -> Result<bool, GiveUp> {
    // (key, value bytes or absent) of every entry: `slot.count` of them,
    // on the stack when few.
    const NONE: (MapKeyOf<'_>, Option<&[u8]>) = (MapKeyOf::Bool(false), None);
    let n = slot.count as usize;
    let mut inline = [NONE; INLINE_ENTRIES];
    let mut spilled = Vec::new();
    let entries = if n <= INLINE_ENTRIES {
        &mut inline[..n]
    } else {
        spilled.resize(n, NONE);
        &mut spilled[..]
    };
    if n > 0 {
        let mut filled = 0;
        let mut rest = &bytes[slot.first as usize..];
        let end = bytes.len() - slot.last as usize;
        while rest.len() >= end {
            let (number, wire) = get_key(&mut rest)?;
            let value = get_value(&mut rest, wire)?;
            if number != field.number {
                continue;
            }
            *entries.get_mut(filled).ok_or(GiveUp)? = map_entry(field.ty, key_ty, value)?;
            filled += 1;
        }
        if filled != n {
            return Err(GiveUp);
        }
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    // A key twice: prost decodes (and checks) every entry and keeps the
    // last; the serde path does that.
    if entries.windows(2).any(|w| w[0].0 == w[1].0) {
        return Err(GiveUp);
    }
    out.push(b'{');
    let mut count = 0;
    for (key, value) in &*entries {
        if count > 0 {
            out.push(b',');
        }
        count += 1;
        // Keys are strings: `true`/`false` and digits need no escaping.
        match key {
            MapKeyOf::Bool(b) => out.extend_from_slice(if *b { b"\"true\"" } else { b"\"false\"" }),
            MapKeyOf::Int(n) => {
                out.push(b'"');
                out.extend_from_slice(itoa::Buffer::new().format(*n).as_bytes());
                out.push(b'"');
            }
            MapKeyOf::Str(s) => {
                crate::json::escape::append_str(s.as_bytes(), out);
            }
        }
        out.push(b':');
        let (raw, absent) = match value {
            Some(raw) => (*raw, false),
            None => (
                &[][..],
                !matches!(
                    field.ty,
                    Ty::Message(..) | Ty::Opaque(_) | Ty::String | Ty::Bytes
                ),
            ),
        };
        print_value(field.ty, raw, absent, false, out, options, depth + 1)?;
    }
    out.push(b'}');
    Ok(count > 0 || options.emit_unpopulated)
}

/// Reads one map entry: its key (the default when absent), its value's
/// bytes (`None` when absent).
fn map_entry<'a>(
    value_ty: Ty,
    key_ty: Ty,
    mut entry: &'a [u8],
) -> Result<(MapKeyOf<'a>, Option<&'a [u8]>), GiveUp> {
    let mut key = None;
    let mut value = None;
    while !entry.is_empty() {
        let (number, wire) = get_key(&mut entry)?;
        let raw = get_value(&mut entry, wire)?;
        match number {
            // A key or value twice in one entry: prost decodes (and checks,
            // or merges) each; the serde path does that.
            1 if wire == wire_of(key_ty) && key.is_none() => key = Some(raw),
            2 if wire == wire_of(value_ty) && value.is_none() => value = Some(raw),
            1 | 2 => return Err(GiveUp),
            _ => {}
        }
    }
    let key = match (key_ty, key) {
        (Ty::String, raw) => {
            MapKeyOf::Str(std::str::from_utf8(raw.unwrap_or(&[])).map_err(|_| GiveUp)?)
        }
        (Ty::Bool, raw) => MapKeyOf::Bool(raw.is_some_and(|r| r.iter().any(|&b| b & 0x7f != 0))),
        (ty, raw) => {
            let mut raw = raw.unwrap_or(&[]);
            let absent = raw.is_empty();
            let int = |raw: &mut &[u8]| -> Result<i128, GiveUp> {
                Ok(match ty {
                    Ty::Int32 => CInt32::get(raw).ok_or(GiveUp)?.into(),
                    Ty::Sint32 => CSint32::get(raw).ok_or(GiveUp)?.into(),
                    Ty::Sfixed32 => CSfixed32::get(raw).ok_or(GiveUp)?.into(),
                    Ty::Int64 => CInt64::get(raw).ok_or(GiveUp)?.into(),
                    Ty::Sint64 => CSint64::get(raw).ok_or(GiveUp)?.into(),
                    Ty::Sfixed64 => CSfixed64::get(raw).ok_or(GiveUp)?.into(),
                    Ty::Uint32 => CUint32::get(raw).ok_or(GiveUp)?.into(),
                    Ty::Fixed32 => CFixed32::get(raw).ok_or(GiveUp)?.into(),
                    Ty::Uint64 => CUint64::get(raw).ok_or(GiveUp)?.into(),
                    Ty::Fixed64 => CFixed64::get(raw).ok_or(GiveUp)?.into(),
                    _ => return Err(GiveUp),
                })
            };
            MapKeyOf::Int(if absent { 0 } else { int(&mut raw)? })
        }
    };
    Ok((key, value))
}

// ---------------------------------------------------------------------------
// JSON -> protobuf

/// Appends the protobuf encoding of `json`, a message `table` describes, to
/// `out`; [`GiveUp`] (with `out` as it may have been left) when the serde
/// path must do it.
pub(crate) fn read(table: &'static Table, json: &[u8], out: &mut BytesMut) -> Result<(), GiveUp> {
    // UTF-8 checked once for the whole text (a byte slice has each string
    // checked as it is read: ~90 instructions a short string); not UTF-8
    // at all, the serde path gives the error.
    let json = std::str::from_utf8(json).map_err(|_| GiveUp)?;
    let mut de = serde_json::Deserializer::from_str(json);
    MessageSeed { table, out }
        .deserialize(&mut de)
        .map_err(|_| GiveUp)?;
    de.end().map_err(|_| GiveUp)
}

struct MessageSeed<'o> {
    table: &'static Table,
    out: &'o mut BytesMut,
}

impl<'de> DeserializeSeed<'de> for MessageSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

/// A field name, looked up with the table's generated `index`: an unknown
/// one is an error, or `None` with `ignore_unknown_fields` (as
/// [`FieldKey`](super::FieldKey) reads them).
struct NameSeed(fn(&str) -> Option<usize>);

impl<'de> DeserializeSeed<'de> for NameSeed {
    type Value = Option<usize>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<usize>, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for NameSeed {
    type Value = Option<usize>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<usize>, E> {
        match (self.0)(v) {
            Some(i) => Ok(Some(i)),
            None if super::options().ignore_unknown_fields => Ok(None),
            None => Err(E::custom(format_args!("unknown field `{v}`"))),
        }
    }
}

impl<'de> Visitor<'de> for MessageSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let table = self.table;
        let mut seen = Seen::default();
        while let Some(key) = map.next_key_seed(NameSeed(table.index))? {
            let Some(i) = key else {
                map.next_value::<de::IgnoredAny>()?;
                continue;
            };
            seen.field(table.names, i)?;
            let field = &table.fields[i];
            match field.card {
                Card::Repeated => map.next_value_seed(RepeatedSeed {
                    field,
                    out: &mut *self.out,
                })?,
                Card::Map(key) => map.next_value_seed(MapSeed {
                    field,
                    key,
                    out: &mut *self.out,
                })?,
                card => {
                    let set = if let Ty::Opaque(opaque) = field.ty {
                        let raw: &RawValue = map.next_value()?;
                        (opaque.read)(raw.get(), self.out, field.number, false)
                            .map_err(de::Error::custom)?
                    } else {
                        map.next_value_seed(ValueSeed {
                            ty: field.ty,
                            number: field.number,
                            skip_default: matches!(card, Card::Implicit) && field.oneof.is_none(),
                            boxed: field.boxed,
                            element: false,
                            out: &mut *self.out,
                        })?
                    };
                    if let (Some(oneof), true) = (field.oneof, set) {
                        let oneof = usize::from(oneof);
                        seen.oneof(table.fields.len() + oneof, table.oneofs[oneof])?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// One value of `ty`, written as field `number` (`0`: no key): `true` when
/// set (not `null`, not a dropped unknown enum name).
struct ValueSeed<'o> {
    ty: Ty,
    number: u32,
    /// Leave the default value off the wire (a field without presence).
    skip_default: bool,
    boxed: bool,
    /// An element or a map value: `null` is an error, unless the type reads
    /// it as a value.
    element: bool,
    out: &'o mut BytesMut,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a value or null")
    }
    fn visit_none<E: de::Error>(self) -> Result<bool, E> {
        match self.ty {
            Ty::Null => {
                if !self.skip_default {
                    if self.number != 0 {
                        put_key(self.out, self.number, VARINT);
                    }
                    self.out.put_u8(0);
                }
                Ok(true)
            }
            _ if self.element => Err(E::custom(
                "null is not allowed in a repeated field or map value",
            )),
            _ => Ok(false),
        }
    }
    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        self.visit_none()
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        let ValueSeed {
            ty,
            number,
            skip_default,
            boxed,
            out,
            ..
        } = self;
        with_codec!(ty, C => {
            let Some(value) = <<C as Codec>::K as Kind>::de_or_skip(deserializer)? else {
                return Ok(false);
            };
            if !(skip_default && <<C as Codec>::K as Kind>::is_default(&value)) {
                if number != 0 {
                    put_key(out, number, <C as Codec>::WIRE);
                }
                <C as Codec>::put(value, out);
            }
            Ok(true)
        }, other => match other {
            Ty::Enum(_, by_name) => {
                let Some(value) = enum_read(by_name, deserializer)? else {
                    return Ok(false);
                };
                if !(skip_default && value == 0) {
                    if number != 0 {
                        put_key(out, number, VARINT);
                    }
                    CInt32::put(value, out);
                }
                Ok(true)
            }
            Ty::Null => {
                let value = NullValue::de(deserializer)?;
                if !skip_default {
                    if number != 0 {
                        put_key(out, number, VARINT);
                    }
                    CInt32::put(value, out);
                }
                Ok(true)
            }
            Ty::String => deserializer.deserialize_str(StrSeed { number, skip_default, out }),
            Ty::Bytes => {
                let value = Bytes::de(deserializer)?;
                if !(skip_default && value.is_empty()) {
                    if number != 0 {
                        put_key(out, number, LEN);
                    }
                    encode_varint(value.len() as u64, out);
                    out.put_slice(&value);
                }
                Ok(true)
            }
            Ty::Message(table, size) => {
                if boxed {
                    charge::<D::Error>(size)?;
                }
                nested(1, || {
                    put_message(out, number, |out| {
                        deserializer.deserialize_map(MessageSeed { table: table(), out })
                    })
                })?;
                Ok(true)
            }
            Ty::Opaque(_) | Ty::Group => Err(de::Error::custom("left to the serde path")),
            _ => unreachable!("scalars are handled above"),
        })
    }
}

struct StrSeed<'o> {
    number: u32,
    skip_default: bool,
    out: &'o mut BytesMut,
}

impl Visitor<'_> for StrSeed<'_> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        charge::<E>(heap(v.len()))?;
        if !(self.skip_default && v.is_empty()) {
            if self.number != 0 {
                put_key(self.out, self.number, LEN);
            }
            encode_varint(v.len() as u64, self.out);
            self.out.put_slice(v.as_bytes());
        }
        Ok(true)
    }
}

struct RepeatedSeed<'o> {
    field: &'static Field,
    out: &'o mut BytesMut,
}

impl<'de> DeserializeSeed<'de> for RepeatedSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for RepeatedSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array or null")
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let field = self.field;
        let out = self.out;
        let packed = field.packed && packable(field.ty);
        let start = out.len();
        let size = rust_size(field.ty).max(1);
        let (mut len, mut capacity) = (0usize, 0usize);
        let mut grow = |set: bool| {
            // The serde path's vector growth, paid as it pays it.
            if len == capacity {
                let more = capacity.max(4);
                charge::<A::Error>(more * size)?;
                capacity += more;
            }
            len += usize::from(set);
            Ok::<(), A::Error>(())
        };
        let number = if packed { 0 } else { field.number };
        let mut body = |out: &mut BytesMut| {
            loop {
                let set = if let Ty::Opaque(opaque) = field.ty {
                    let Some(raw) = seq.next_element::<&RawValue>()? else {
                        break;
                    };
                    (opaque.read)(raw.get(), out, number, true).map_err(de::Error::custom)?
                } else {
                    let seed = ValueSeed {
                        ty: field.ty,
                        number,
                        skip_default: false,
                        boxed: false,
                        element: true,
                        out: &mut *out,
                    };
                    match seq.next_element_seed(seed)? {
                        Some(set) => set,
                        None => break,
                    }
                };
                grow(set)?;
            }
            Ok::<(), A::Error>(())
        };
        if packed {
            put_message(out, field.number, &mut body)?;
            if len == 0 {
                out.truncate(start);
            }
        } else {
            body(out)?;
        }
        Ok(())
    }
}

struct MapSeed<'o> {
    field: &'static Field,
    key: Ty,
    out: &'o mut BytesMut,
}

impl<'de> DeserializeSeed<'de> for MapSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for MapSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object or null")
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<(), A::Error> {
        let MapSeed { field, key, out } = self;
        let entry_size = rust_size(key) + rust_size(field.ty) + 1;
        let (mut len, mut capacity) = (0usize, 0usize);
        // Where each written key is, to refuse a key written twice.
        let mut keys: Vec<(usize, usize)> = Vec::new();
        loop {
            let entry = out.len();
            put_key(out, field.number, LEN);
            let at = out.len();
            out.put_u8(0);
            let key_start = out.len();
            if access
                .next_key_seed(KeySeed {
                    ty: key,
                    out: &mut *out,
                })?
                .is_none()
            {
                out.truncate(entry);
                break;
            }
            let key_end = out.len();
            if len == capacity {
                // hashbrown's growth, as the serde path pays it.
                let slots = (capacity.max(3) + 1) * 2 * 8 / 7;
                charge::<A::Error>(slots * entry_size)?;
                capacity = match capacity {
                    0 => 3,
                    3 => 7,
                    _ => capacity * 2,
                };
            }
            let set = nested(1, || {
                if let Ty::Opaque(opaque) = field.ty {
                    let raw: &RawValue = access.next_value()?;
                    (opaque.read)(raw.get(), out, 2, true).map_err(de::Error::custom)
                } else {
                    access.next_value_seed(ValueSeed {
                        ty: field.ty,
                        number: 2,
                        skip_default: !matches!(field.ty, Ty::Message(..)),
                        boxed: false,
                        element: true,
                        out: &mut *out,
                    })
                }
            })?;
            if !set {
                out.truncate(entry);
                continue;
            }
            len += 1;
            let shift = fix_length(out, at);
            keys.push((key_start + shift, key_end + shift));
        }
        if keys.len() > 1 {
            let mut written: Vec<&[u8]> = keys.iter().map(|&(a, b)| &out[a..b]).collect();
            written.sort_unstable();
            if written.windows(2).any(|w| w[0] == w[1]) {
                return Err(de::Error::custom("duplicate map key"));
            }
        }
        Ok(())
    }
}

/// A map key: written as the entry's field 1 (left off when default).
struct KeySeed<'o> {
    ty: Ty,
    out: &'o mut BytesMut,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for KeySeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map key")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        charge::<E>(heap(v.len()))?;
        let out = self.out;
        match self.ty {
            Ty::String => {
                put_key(out, 1, LEN);
                encode_varint(v.len() as u64, out);
                out.put_slice(v.as_bytes());
            }
            Ty::Bool => {
                let value = <Bool as MapKey>::from_key(v).map_err(E::custom)?;
                put_key(out, 1, VARINT);
                CBool::put(value, out);
            }
            Ty::Int32 => put_map_key::<CInt32, E>(v, out)?,
            Ty::Sint32 => put_map_key::<CSint32, E>(v, out)?,
            Ty::Sfixed32 => put_map_key::<CSfixed32, E>(v, out)?,
            Ty::Int64 => put_map_key::<CInt64, E>(v, out)?,
            Ty::Sint64 => put_map_key::<CSint64, E>(v, out)?,
            Ty::Sfixed64 => put_map_key::<CSfixed64, E>(v, out)?,
            Ty::Uint32 => put_map_key::<CUint32, E>(v, out)?,
            Ty::Fixed32 => put_map_key::<CFixed32, E>(v, out)?,
            Ty::Uint64 => put_map_key::<CUint64, E>(v, out)?,
            Ty::Fixed64 => put_map_key::<CFixed64, E>(v, out)?,
            _ => return Err(E::custom("not a map key type")),
        }
        Ok(())
    }
}

/// Parses an integer map key as its kind does, and writes it.
fn put_map_key<C: Codec<K: MapKey>, E: de::Error>(key: &str, out: &mut BytesMut) -> Result<(), E> {
    let value = <<C as Codec>::K as MapKey>::from_key(key).map_err(E::custom)?;
    put_key(out, 1, <C as Codec>::WIRE);
    <C as Codec>::put(value, out);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both<K: Print<T: Copy>>(value: K::T) -> (String, String) {
        let (mut ours, mut serde) = (Vec::new(), Vec::new());
        K::print(value, &mut ours);
        K::ser(&value, &mut json_writer(&mut serde)).unwrap();
        (
            String::from_utf8(ours).unwrap(),
            String::from_utf8(serde).unwrap(),
        )
    }

    #[test]
    fn scalars_print_as_their_serde_impls_do() {
        for v in [0, 1, -1, i32::MIN, i32::MAX] {
            let (ours, serde) = both::<I32>(v);
            assert_eq!(ours, serde);
        }
        for v in [0, 1, -1, i64::MIN, i64::MAX] {
            let (ours, serde) = both::<I64>(v);
            assert_eq!(ours, serde);
        }
        for v in [0, 1, u32::MAX] {
            let (ours, serde) = both::<U32>(v);
            assert_eq!(ours, serde);
        }
        for v in [0, 1, u64::MAX] {
            let (ours, serde) = both::<U64>(v);
            assert_eq!(ours, serde);
        }
        for v in [false, true] {
            let (ours, serde) = both::<Bool>(v);
            assert_eq!(ours, serde);
        }
        for v in [0.0, -0.0, 4.5, 1e300, f64::NAN, f64::NEG_INFINITY] {
            let (ours, serde) = both::<F64>(v);
            assert_eq!(ours, serde);
        }
        for v in [0.1f32, -0.0, f32::INFINITY] {
            let (ours, serde) = both::<F32>(v);
            assert_eq!(ours, serde);
        }
    }
}
