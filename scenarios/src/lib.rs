//! The sockcheck conformance catalogue.
//!
//! The scenarios are written in `src/catalogue.rs` with the DSL of [`sockcheck::scenario`]; that
//! file is compiled into the `sockcheck` crate, so the `sockcheck check` command carries the same
//! catalogue that `cargo test` runs here (`tests/conformance.rs`: one named test per scenario,
//! transport and serving model, against the built-in reference server).
//!
//! # Layout
//! - `src/catalogue.rs`: the scenarios.
//! - `src/client_catalogue.rs`: the client scenarios (`sockcheck check-client`), also compiled into
//!   `sockcheck` and run against the reference client by `harness/tests/client_catalogue.rs`.
//! - `tests/conformance.rs`: the catalogue as named tests (`cargo test large_send`, `-- --list`).
//! - `tests/broken_servers.rs`: deliberately broken servers, each caught by the scenarios meant for it.

pub use sockcheck::catalogue::{all, find};
pub use sockcheck::client_catalogue;
