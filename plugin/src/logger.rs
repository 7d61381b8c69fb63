//! Diagnostics through the `log` crate, routed to where QEMU's user looks.
//!
//! - warnings and errors go to stderr, as they are written (each message
//!   starts with `hspt: `): users and tests read them there whatever `-d`
//!   says;
//! - info and debug go to QEMU's log through `qemu_plugin_outs`, which
//!   prints only under `-d plugin` (to `-D FILE` if given).
//!
//! Not for the signal path: formatting allocates and stderr takes a lock,
//! neither of which a SIGSEGV handler may do. The exit table is output, not
//! a diagnostic, and is printed directly.

use log::{Level, LevelFilter, Log, Metadata, Record};

struct QemuLogger;

static LOGGER: QemuLogger = QemuLogger;

/// Installs the logger; called once, when QEMU loads the plugin.
pub fn install() {
    // An error means a logger is set already: this library's own `log`
    // statics, so it is this logger (the plugin loaded twice, which
    // `hooks::install` refuses with its own message).
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(LevelFilter::Debug);
    }
}

/// Where a message of each level goes.
#[derive(Debug, PartialEq, Eq)]
enum Destination {
    Stderr,
    /// `qemu_plugin_outs`: QEMU's log, under `-d plugin`.
    QemuLog,
    Nowhere,
}

fn destination(level: Level) -> Destination {
    match level {
        Level::Error | Level::Warn => Destination::Stderr,
        Level::Info | Level::Debug => Destination::QemuLog,
        Level::Trace => Destination::Nowhere,
    }
}

impl Log for QemuLogger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        destination(metadata.level()) != Destination::Nowhere
    }

    fn log(&self, record: &Record) {
        match destination(record.level()) {
            Destination::Stderr => eprintln!("{}", record.args()),
            Destination::QemuLog => {
                // Fails only on a NUL byte inside the message: dropped, as
                // QEMU would have cut it there anyway.
                let _ = qemu_plugin::qemu_plugin_outs(format!("{}\n", record.args()));
            }
            Destination::Nowhere => {}
        }
    }

    fn flush(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_and_errors_reach_stderr_the_rest_qemus_log() {
        assert_eq!(destination(Level::Error), Destination::Stderr);
        assert_eq!(destination(Level::Warn), Destination::Stderr);
        assert_eq!(destination(Level::Info), Destination::QemuLog);
        assert_eq!(destination(Level::Debug), Destination::QemuLog);
        assert_eq!(destination(Level::Trace), Destination::Nowhere);
    }
}
