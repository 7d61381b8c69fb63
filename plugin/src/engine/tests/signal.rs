//! Fault-around's run bounds.

use super::run_bounds;

#[test]
fn run_stays_in_its_aligned_block() {
    // Everything continues: the whole block of 16 around page 37.
    assert_eq!(run_bounds(37, 16, |_| true), (32, 16));
    // Nothing continues: the page alone.
    assert_eq!(run_bounds(37, 16, |_| false), (37, 1));
    // around=1 is off.
    assert_eq!(run_bounds(37, 1, |_| true), (37, 1));
}

#[test]
fn run_stops_at_the_first_gap_on_each_side() {
    // Pages 34 and 40 break the run: 35..=39.
    assert_eq!(run_bounds(37, 16, |v| v != 34 && v != 40), (35, 5));
    // A gap further out does not matter once the run stopped.
    assert_eq!(run_bounds(37, 16, |v| v != 36 && v != 33), (37, 11));
}
