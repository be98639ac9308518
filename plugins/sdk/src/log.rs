//! Logging through the host: each line lands in the daemon's log tagged with the plugin's name.
//! Use the functions, or the `log_info!`-style macros for `format!` arguments.

use crate::bindings::analyzer::pulse::plugin::host::{self, Level};

/// Logs at debug level.
pub fn debug(message: &str) {
    host::log(Level::Debug, message);
}

/// Logs at info level.
pub fn info(message: &str) {
    host::log(Level::Info, message);
}

/// Logs at warn level.
pub fn warn(message: &str) {
    host::log(Level::Warn, message);
}

/// Logs at error level.
pub fn error(message: &str) {
    host::log(Level::Error, message);
}

/// Logs a `format!` message at debug level through the host.
#[macro_export]
macro_rules! log_debug {
    ($($arg:tt)*) => { $crate::debug(&format!($($arg)*)) };
}

/// Logs a `format!` message at info level through the host.
#[macro_export]
macro_rules! log_info {
    ($($arg:tt)*) => { $crate::info(&format!($($arg)*)) };
}

/// Logs a `format!` message at warn level through the host.
#[macro_export]
macro_rules! log_warn {
    ($($arg:tt)*) => { $crate::warn(&format!($($arg)*)) };
}

/// Logs a `format!` message at error level through the host.
#[macro_export]
macro_rules! log_error {
    ($($arg:tt)*) => { $crate::error(&format!($($arg)*)) };
}
