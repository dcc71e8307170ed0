//! The sockcheck scenarios: the DSL a check is written in, and the catalogues written in it.
//!
//! A scenario is a value: the conversation a check has with a server (sockcheck plays the
//! clients) or with a client (sockcheck plays the server). This crate only describes them; the
//! `sockcheck` crate plays them (`sockcheck check`, `sockcheck check-client`, and `cargo test`,
//! where `harness/tests/conformance.rs` makes one named test per scenario, transport and model).
//!
//! ```
//! use sockcheck_scenarios::dsl::Scenario;
//!
//! let scenario = Scenario::new("two_messages_on_one_connection")
//!     .about("the server answers every message of a connection, not only the first")
//!     .client("a", |c| c.connect().send("hello").expect_reply().send("again").expect_reply().close());
//! assert_eq!(scenario.name(), "two_messages_on_one_connection");
//! assert!(sockcheck_scenarios::find("short_message_is_echoed_upper").is_some());
//! ```
//!
//! # Layout
//! - [`dsl`]: the server-scenario DSL ([`dsl::Scenario`]) and, in [`dsl::client`], the
//!   client-scenario DSL ([`dsl::client::ClientScenario`]).
//! - [`catalogue`]: the server catalogue.
//! - [`datagram_catalogue`]: the datagram scenarios of the server catalogue.
//! - [`client_catalogue`]: the client catalogue.

#![warn(missing_docs)]

pub mod catalogue;
pub mod client_catalogue;
pub mod datagram_catalogue;
pub mod dsl;

pub use catalogue::{all, find};
