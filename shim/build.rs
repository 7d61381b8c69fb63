//! Generates the Rust side of the ABI from the one C header.
use std::path::PathBuf;

fn main() {
    let header = "include/hspt-abi.h";
    println!("cargo:rerun-if-changed={header}");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    bindgen::Builder::default()
        .header(header)
        .allowlist_item("hspt_.*|HSPT_.*|qemu_plugin_hspt_register")
        .default_enum_style(bindgen::EnumVariation::Consts)
        .prepend_enum_name(false)
        .derive_default(true)
        .layout_tests(true)
        .generate()
        .expect("bindgen could not parse shim/include/hspt-abi.h")
        .write_to_file(out.join("bindings.rs"))
        .expect("write bindings.rs");
}
