//! The kernel window's remap counts.

use super::*;

#[test]
fn a_page_unmapped_again_and_again_becomes_volatile() {
    let mut counts = RemapCounts::default();
    let slot = GuestPage::containing(0xffe7_e000);
    for _ in 0..RemapCounts::VOLATILE - 1 {
        counts.note(slot);
    }
    assert!(!counts.is_volatile(slot));
    counts.note(slot);
    assert!(counts.is_volatile(slot));
    assert!(!counts.is_volatile(GuestPage::containing(0xffe7_f000)));
}
