//! Test support for sockcheck, not part of the tool: an in-memory stream driven by a script, the
//! oracles that the property tests (`harness/tests/integration/properties.rs`) and the fuzz targets (`fuzz/`)
//! share, and the deliberately broken loops that show the oracles catch real bugs.
//!
//! It depends on the protocol core alone, so a fuzz target links nothing else (libFuzzer's cost per
//! run grows with every instrumented line linked in). The `tokio` feature adds the tokio stream
//! traits and the check of `sockcheck`'s async drivers, for the harness's property tests.
//!
//! # Layout
//! - [`script`]: the peer's part, a [`Script`] (what it sends, how each read and write call goes,
//!   as [`Step`]s), and the [`ScriptedStream`] that follows it and checks every byte written.
//! - [`echo`]: the echo oracle, [`check_echo`] / [`check_echo_with`], and its [`Outcome`].
//! - [`reply`]: the client's reply reassembly oracle, [`check_reply`].
//! - [`broken`]: a loop with the classic `send()` bug, [`serve_dropping_short_write_tail`].
//! - `async_io` (feature `tokio`): `AsyncRead`/`AsyncWrite` for [`ScriptedStream`] and
//!   `check_echo_async` for `sockcheck::proto::serve_async` and `serve_async_lean`.

#[cfg(feature = "tokio")]
mod async_io;
pub mod broken;
pub mod echo;
pub mod reply;
pub mod script;

#[cfg(feature = "tokio")]
pub use async_io::check_echo_async;
pub use broken::serve_dropping_short_write_tail;
pub use echo::{check_echo, check_echo_with, Outcome};
pub use reply::check_reply;
pub use script::{Script, ScriptedStream, Step, Violation};
