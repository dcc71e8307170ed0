//! sockcheck proves a server or client of the tutorial's uppercase-echo protocol right or wrong,
//! over TCP and Unix sockets, in any language.
//!
//! # Layout
//! - [`proto`]: the protocol: the I/O-free core of the `sockcheck-proto` crate (the transform, the
//!   server's communication loop as a state machine, client reply assembly), plus its tokio drivers.
//! - [`addr`]: endpoints (`HOST:PORT`, Unix paths, `@abstract` names) and their parsing.
//! - [`net`]: binding listeners and connecting with deadlines; Unix socket file safety.
//! - [`server`]: the reference server, sequential (the tutorial) or concurrent.
//! - [`background`]: a server or proxy on a thread of its own, stopped when its handle drops.
//! - [`client`]: the reference client.
//! - [`client_check`]: checking any client: sockcheck plays the server (`sockcheck check-client`).
//! - [`proxy`]: a fault-injecting proxy (slices, delays, resets, closes) between a client and a server.
//! - [`spawn`]: programs under test started from a command with `{port}`/`{path}` placeholders.
//! - [`scenario`]: the scenario DSL (a check written as the conversation it checks).
//! - [`target`]: what scenarios run against: the built-in server, a running address, a closure.
//! - [`runner`]: plays a scenario against a target, with deadlines and a transcript.
//! - [`check`]: the catalogue against targets, and the human report (`sockcheck check`).
//! - [`report`]: reports of a check: human, JSON, JUnit XML; the progress line.
//! - [`catalogue`]: the conformance catalogue (its source lives in `scenarios/src/catalogue.rs`).
//! - [`client_catalogue`]: the client catalogue (`scenarios/src/client_catalogue.rs`).
//! - [`bench`](mod@bench): the `sockcheck bench` load generator.
//! - [`error`]: the library's error type.

// Lets the catalogue, compiled into this crate, say `sockcheck::` like any other user of it.
extern crate self as sockcheck;

pub mod addr;
pub mod background;
pub mod bench;
pub mod check;
pub mod client;
pub mod client_check;
pub mod error;
pub mod net;
pub mod proto;
pub mod proxy;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod server;
pub mod spawn;
pub mod target;

/// The conformance catalogue. Its source is in the `scenarios/` directory, next to the test
/// harness that runs it; it is compiled into this crate so that `sockcheck check` carries it.
#[path = "../../scenarios/src/catalogue.rs"]
pub mod catalogue;

/// The client catalogue, run by `sockcheck check-client`; its source is in `scenarios/`.
#[path = "../../scenarios/src/client_catalogue.rs"]
pub mod client_catalogue;

pub use addr::{Endpoint, Transport};
pub use error::{Error, Result};
pub use proto::Transform;
pub use server::{Mode, ServerConfig};
