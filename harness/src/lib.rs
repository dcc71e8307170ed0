//! sockcheck proves a server or client of the tutorial's uppercase-echo protocol right or wrong,
//! over TCP and Unix sockets, in any language.
//!
//! # Layout
//! - [`proto`]: the protocol: the I/O-free core of the `sockcheck-proto` crate (the transform, the
//!   server's communication loop as a state machine, client reply assembly), plus its tokio drivers.
//! - [`addr`]: endpoints (`HOST:PORT`, Unix paths, `@abstract` names) and their parsing.
//! - [`net`]: sockets: listeners, connections with deadlines, Unix socket file safety; the only
//!   module that touches a raw descriptor.
//! - [`faults`]: paced writes (slices, pauses, split characters), FIN and RST: the one writer of
//!   every played connection and of the proxy.
//! - [`process`]: programs under test: spawn (on pipes or a pseudo-terminal), output, exit status,
//!   stop, Ctrl-C cleanup.
//! - [`server`]: the reference server, sequential (the tutorial) or concurrent.
//! - [`client`]: the reference client.
//! - [`proxy`]: a fault-injecting proxy between a client and a server.
//! - [`background`]: a server or proxy on a thread of its own, stopped when its handle drops.
//! - [`scenario`], [`catalogue`], [`client_catalogue`]: the DSL and the catalogues, from the
//!   `sockcheck-scenarios` crate (`scenarios/`).
//! - [`target`]: what server scenarios run against: the built-in server, a running address, a
//!   command ([`target::spawn`]), a closure.
//! - [`engine`]: plays scenarios of either direction with deadlines and transcripts.
//! - [`report`]: the outcome model and its renderings (human, JSON, JUnit), the progress line.
//! - [`cli`]: the command line's arguments and one function per subcommand.
//! - [`bench`](mod@bench): the `sockcheck bench` load generator.
//! - [`error`]: the library's error type.
//! - [`explore`]: random cases against any server or client, shrunk to the smallest failing one.
//! - [`testing`]: the catalogue inside your own `cargo test` ([`testing::Suite`]).

#![warn(missing_docs)]

pub mod addr;
pub mod background;
pub mod bench;
pub mod cli;
pub mod client;
pub mod engine;
pub mod error;
pub mod explore;
pub mod facts;
pub mod faults;
pub mod net;
pub mod process;
pub mod proto;
pub mod proxy;
pub mod report;
pub mod server;
pub mod target;
pub mod testing;

/// The scenario DSL (crate `sockcheck-scenarios`): [`scenario::Scenario`] for servers,
/// [`scenario::client::ClientScenario`] for clients.
pub use sockcheck_scenarios::dsl as scenario;
/// The catalogues (crate `sockcheck-scenarios`).
pub use sockcheck_scenarios::{catalogue, client_catalogue};

pub use addr::{Endpoint, Transport};
pub use error::{Error, Result};
pub use proto::Transform;
pub use server::{Mode, ServerConfig};
