//! Re-exported sys API bindings. These bindings should *not* be used directly in most cases.

pub use qemu_plugin_sys::*;
