//! sockcheck proves a server or client of the tutorial's uppercase-echo protocol right or wrong,
//! over TCP and Unix sockets, in any language.
//!
//! # Layout
//! - [`proto`]: the protocol without I/O: the transform, the server's communication loop as a
//!   state machine with blocking and tokio drivers, and client reply assembly.
//! - [`addr`]: endpoints (`HOST:PORT`, Unix paths, `@abstract` names) and their parsing.
//! - [`net`]: binding listeners and connecting with deadlines; Unix socket file safety.
//! - [`server`]: the reference server, sequential (the tutorial) or concurrent.
//! - [`client`]: the reference client.
//! - [`bench`]: the `sockcheck bench` load generator.
//! - [`error`]: the library's error type.

pub mod addr;
pub mod bench;
pub mod client;
pub mod error;
pub mod net;
pub mod proto;
pub mod server;

pub use addr::{Endpoint, Transport};
pub use error::{Error, Result};
pub use proto::Transform;
pub use server::{Mode, ServerConfig};
