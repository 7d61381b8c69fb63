//! HSPT accelerator for `qemu-system-arm`: a TCG plugin.
//!
//! Load it with `-plugin target/release/libhspt.so[,key=value...]` into a
//! QEMU built with this project's `patches/` (see README.md).
//!
//! Where things are:
//! - [`args`]: plugin arguments;
//! - [`context`]: the key naming a guest process (translation context);
//! - [`hooks`]: the hooks the patched QEMU calls (context switches, TLB
//!   maintenance, QEMU's own flushes) and the per-vCPU attribution of
//!   memory accesses to processes;
//! - [`label`]: naming a process after the program it runs;
//! - [`logger`]: where diagnostics go (stderr, QEMU's log);
//! - [`stats`]: the counters and the exit report (table, JSON);
//! - [`live`]: the live statistics file (`live=FILE`).

#![deny(clippy::undocumented_unsafe_blocks)]

pub mod args;
pub mod context;
pub mod engine;
pub mod hooks;
pub mod label;
pub mod live;
pub mod logger;
pub mod stats;

use qemu_plugin::install::{Args, Info};
use qemu_plugin::plugin::{HasCallbacks, Register};
use qemu_plugin::PluginId;

/// The plugin object the `qemu-plugin` crate drives, for registration only:
/// the crate's default registration would subscribe to every event (and
/// take a global lock in each), and a translation callback alone makes
/// QEMU add code to every guest memory access. [`hooks::install`]
/// registers what is needed; the hooks are plain C calls.
// Unit tests do not load the plugin (no constructor, see the end).
#[cfg_attr(test, allow(dead_code))]
#[derive(Default)]
struct HsptPlugin;

impl Register for HsptPlugin {
    fn register_default(
        &mut self,
        id: PluginId,
        args: &Args,
        info: &Info,
    ) -> qemu_plugin::Result<()> {
        self.register(id, args, info)
    }

    fn register(&mut self, id: PluginId, args: &Args, info: &Info) -> qemu_plugin::Result<()> {
        logger::install();
        let config = match args::parse(&args.raw) {
            Ok(c) => c,
            Err(e) => return refuse(&e.to_string()),
        };
        if info.target_name != "arm" {
            return refuse(&format!(
                "hspt: target '{}' is not supported: HSPT is for qemu-system-arm (32-bit ARM guests)",
                info.target_name
            ));
        }
        let Some(system) = &info.system else {
            return refuse(
                "hspt: user-mode QEMU is not supported: HSPT accelerates system emulation",
            );
        };
        let vcpus = system.max_vcpus.max(1) as usize;
        log::info!("hspt: plugin arguments: {}", args.raw.join(","));
        if let Err(e) = hooks::install(id, config, vcpus) {
            return refuse(&e);
        }
        Ok(())
    }
}

impl HasCallbacks for HsptPlugin {}

/// Refuses to start: says why, then makes `qemu_plugin_install` return
/// QEMU's failure code, so that QEMU's loader reports that the plugin could
/// not be loaded and stops (status 1), never a panic or a core dump. (The
/// crate as published panics on the error: see vendor/README.md.)
#[cfg_attr(test, allow(dead_code))]
fn refuse(msg: &str) -> qemu_plugin::Result<()> {
    log::error!("{msg}");
    Err(anyhow::anyhow!("{msg}").into())
}

/// The `qemu-plugin` crate turns a malformed argument (no `=`) into a panic
/// before our code runs; make that a clear message naming the argument.
#[cfg_attr(test, allow(dead_code))]
fn install_panic_message() {
    std::panic::set_hook(Box::new(|info| {
        let text = info
            .payload()
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| info.payload().downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        // Straight to stderr, not through the logger: a panic may happen
        // anywhere, the signal handler included.
        if let Some(start) = text.find("argument: \"") {
            let rest = &text[start + 11..];
            let arg = rest.split('"').next().unwrap_or(rest);
            eprintln!("hspt: plugin argument '{arg}' is not of the form key=value");
            std::process::exit(1);
        }
        eprintln!(
            "hspt: internal error: {text} ({})",
            info.location().map(|l| l.to_string()).unwrap_or_default()
        );
        std::process::abort();
    }));
}

#[cfg_attr(test, allow(dead_code))]
fn new_plugin() -> HsptPlugin {
    install_panic_message();
    HsptPlugin
}

#[cfg(not(test))]
qemu_plugin::register!(new_plugin());
