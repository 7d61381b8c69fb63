//! One raw table type for the engine's maps: `rows` x `columns` entries of
//! a plain `Copy` type over a private anonymous MAP_NORESERVE mapping
//! ([`AnonRegion`]), so that a table of a gigabyte costs only the pages
//! written. Reads and writes are by value through raw pointers, never
//! through a reference that could outlive `&self`/`&mut self`, and need
//! no allocation or lock: the signal handler uses them.

use std::marker::PhantomData;

use super::inject::injected_failure;
use super::keys::PAGE;
use super::mapping::AnonRegion;

/// A type whose all-zero bytes are a valid value, the table's empty entry.
///
/// # Safety
/// Every all-zero bit pattern must be a valid value of the type, and every
/// value must be `Copy` without drop glue: fresh and cleared rows read as
/// zeros.
pub(super) unsafe trait ZeroIsEmpty: Copy {}

pub(super) struct Table<T: ZeroIsEmpty> {
    region: AnonRegion,
    rows: usize,
    columns: usize,
    entries: PhantomData<T>,
}

impl<T: ZeroIsEmpty> Table<T> {
    /// A table of empty entries; `what` names it in the error.
    pub(super) fn new(rows: usize, columns: usize, what: &str) -> Result<Table<T>, String> {
        let len = rows * columns * std::mem::size_of::<T>();
        let region = AnonRegion::new(len, libc::PROT_READ | libc::PROT_WRITE)
            .map_err(|e| format!("hspt: cannot allocate the {what}: {e}"))?;
        Ok(Table {
            region,
            rows,
            columns,
            entries: PhantomData,
        })
    }

    fn entry(&self, row: usize, column: usize) -> *mut T {
        assert!(
            row < self.rows && column < self.columns,
            "hspt: table entry out of range"
        );
        debug_assert!(std::mem::align_of::<T>() <= PAGE);
        // SAFETY: row < rows and column < columns (asserted), so the entry
        // lies inside the region of rows * columns entries, which is
        // page-aligned (mmap), hence aligned for T.
        unsafe {
            self.region
                .as_ptr()
                .cast::<T>()
                .add(row * self.columns + column)
        }
    }

    pub(super) fn get(&self, row: usize, column: usize) -> T {
        // SAFETY: an in-bounds, aligned entry of our readable region (see
        // `entry`), holding zeros or a T written by `set`/`row_mut`, both
        // valid (ZeroIsEmpty); no reference to it exists while `&self` does
        // not hand one out.
        unsafe { self.entry(row, column).read() }
    }

    pub(super) fn set(&mut self, row: usize, column: usize, value: T) {
        // SAFETY: an in-bounds, aligned entry of our writable region (see
        // `entry`); `&mut self` rules out any other access to it.
        unsafe { self.entry(row, column).write(value) }
    }

    /// Every entry of `row`.
    pub(super) fn row_mut(&mut self, row: usize) -> &mut [T] {
        let first = self.entry(row, 0);
        // SAFETY: the `columns` entries from `first` are row `row`, inside
        // the region (`entry` checked row), readable, writable, aligned and
        // valid Ts (see `get`); the slice borrows `self` mutably, so it is
        // the only reference into the region while it lives.
        unsafe { std::slice::from_raw_parts_mut(first, self.columns) }
    }

    /// Empties `row`: `MADV_DONTNEED` gives its memory back, after which it
    /// reads as zeros; when that cannot be used or fails (or the test hook
    /// fails it), zeros are written.
    pub(super) fn clear_row(&mut self, row: usize) {
        let first = self.entry(row, 0);
        let len = self.columns * std::mem::size_of::<T>();
        // madvise acts on whole pages: only a row of whole pages may use it.
        let whole_pages = (first as usize | len) & (PAGE - 1) == 0;
        let advised = !injected_failure()
            && whole_pages
            // SAFETY: the row lies inside our private anonymous region
            // (`entry` checked row) and covers whole pages; dropping them
            // reads back as zeros, the empty entry (ZeroIsEmpty), and
            // `&mut self` rules out any reference into them.
            && unsafe { libc::madvise(first.cast(), len, libc::MADV_DONTNEED) } == 0;
        if !advised {
            // SAFETY: the same row, writable and in bounds; all-zero bytes
            // are a valid T (ZeroIsEmpty).
            unsafe { std::ptr::write_bytes(first, 0, self.columns) };
        }
    }
}
