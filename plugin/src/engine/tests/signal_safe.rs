//! The signal-safe helpers.

use super::*;

#[test]
fn decimal_formats_errno() {
    let mut buf = [0u8; 10];
    assert_eq!(decimal(0, &mut buf), b"0");
    assert_eq!(decimal(12, &mut buf), b"12");
    assert_eq!(decimal(u32::MAX, &mut buf), b"4294967295");
}
