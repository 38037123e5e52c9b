//! Scalar fields written as prost's `encoding::{fixed64, fixed32, double, int32, int64, uint32,
//! bool}::encode` write them, over `Vec<u8>` and inlined: prost's go through `BufMut`, a call per
//! field and a capacity check per byte, which cost more than the few bytes they write.

use prost::encoding::WireType;

use super::write_varint;

/// Writes a field's key: its tag and wire type.
#[inline]
pub(super) fn write_key(tag: u32, wire_type: WireType, buf: &mut Vec<u8>) {
    write_varint(u64::from(tag << 3 | wire_type as u32), buf);
}

/// A `fixed64` field.
#[inline]
pub(super) fn fixed64(tag: u32, value: &u64, buf: &mut Vec<u8>) {
    write_key(tag, WireType::SixtyFourBit, buf);
    buf.extend_from_slice(&value.to_le_bytes());
}

/// A `fixed32` field.
#[inline]
pub(super) fn fixed32(tag: u32, value: &u32, buf: &mut Vec<u8>) {
    write_key(tag, WireType::ThirtyTwoBit, buf);
    buf.extend_from_slice(&value.to_le_bytes());
}

/// A `double` field.
#[inline]
pub(super) fn double(tag: u32, value: &f64, buf: &mut Vec<u8>) {
    write_key(tag, WireType::SixtyFourBit, buf);
    buf.extend_from_slice(&value.to_le_bytes());
}

/// An `int32` field: negative values sign-extended to ten bytes, as protobuf has it.
#[inline]
pub(super) fn int32(tag: u32, value: &i32, buf: &mut Vec<u8>) {
    write_key(tag, WireType::Varint, buf);
    write_varint(i64::from(*value) as u64, buf);
}

/// An `int64` field.
#[inline]
pub(super) fn int64(tag: u32, value: &i64, buf: &mut Vec<u8>) {
    write_key(tag, WireType::Varint, buf);
    write_varint(*value as u64, buf);
}

/// A `uint32` field.
#[inline]
pub(super) fn uint32(tag: u32, value: &u32, buf: &mut Vec<u8>) {
    write_key(tag, WireType::Varint, buf);
    write_varint(u64::from(*value), buf);
}

/// A `bool` field.
#[inline]
pub(super) fn boolean(tag: u32, value: &bool, buf: &mut Vec<u8>) {
    write_key(tag, WireType::Varint, buf);
    write_varint(u64::from(*value), buf);
}

#[cfg(test)]
mod tests {
    use prost::encoding;

    use super::*;

    /// Every writer against prost's, at the edges of each type's range.
    #[test]
    fn scalars_are_written_as_prost_writes_them() {
        fn same<T>(
            values: &[T],
            ours: fn(u32, &T, &mut Vec<u8>),
            prost: fn(u32, &T, &mut Vec<u8>),
        ) {
            for tag in [1, 15, 16, 2047, 2048] {
                for value in values {
                    let (mut mine, mut theirs) = (Vec::new(), Vec::new());
                    ours(tag, value, &mut mine);
                    prost(tag, value, &mut theirs);
                    assert_eq!(mine, theirs, "tag {tag}");
                }
            }
        }
        same(&[0, 1, u64::MAX], fixed64, encoding::fixed64::encode);
        same(&[0, 1, u32::MAX], fixed32, encoding::fixed32::encode);
        same(&[0.0, -1.5, f64::MAX], double, encoding::double::encode);
        same(
            &[0, 127, 128, -1, i32::MIN, i32::MAX],
            int32,
            encoding::int32::encode,
        );
        same(
            &[0, 300, -1, i64::MIN, i64::MAX],
            int64,
            encoding::int64::encode,
        );
        same(&[0, 127, 128, u32::MAX], uint32, encoding::uint32::encode);
        same(&[false, true], boolean, encoding::bool::encode);
    }
}
