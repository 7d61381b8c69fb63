//! The plugin calls QEMU's plugin API, whose symbols only exist inside
//! qemu-system-arm. A cdylib may leave them undefined; the unit-test binary
//! must be told to, too (tests never call them).
fn main() {
    println!("cargo:rustc-link-arg=-Wl,--unresolved-symbols=ignore-all");
    println!("cargo:rustc-link-arg=-Wl,-z,lazy");
}
