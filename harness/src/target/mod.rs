//! Targets: what a scenario runs against.
//!
//! - [`ReferenceTarget`]: the built-in server, in-process, on a free port or a temp Unix path.
//! - [`AddressTarget`]: something already listening; sockcheck cannot stop or start it.
//! - [`FnTarget`]: any server started by a closure (the deliberately broken servers of the tests).
//! - [`SpawnTarget`]: a command in any language, started with its [`placeholders`] filled in.

pub mod placeholders;
pub mod spawn;

pub use spawn::{probe, probe_greeting, Probe, SpawnOpts, SpawnTarget};

use std::time::{Duration, Instant};

use crate::addr::{Endpoint, Transport};
use crate::net::{fresh_endpoint, ListenOpts};
use crate::proto::Transform;
use crate::server::{self, Mode, ServerConfig, ServerHandle};

/// A server under test.
pub trait Target: Send {
    /// One line for reports, e.g. `built-in server (sequential)`.
    fn describe(&self) -> String;
    /// Where clients connect.
    fn endpoint(&self) -> Endpoint;
    /// The serving model, if known; scenarios that need one are skipped otherwise.
    fn model(&self) -> Option<Mode>;
    /// What it does to bytes: the reply a scenario expects.
    fn transform(&self) -> Transform;
    /// Whether sockcheck can stop and start it.
    fn controllable(&self) -> bool {
        false
    }
    /// Start it if it is not running; `Err` says why it did not come up.
    fn start(&mut self) -> Result<(), String> {
        Ok(())
    }
    /// Stop it (kill). The address stays the same for the next start.
    fn stop(&mut self) -> Result<(), String> {
        Err("sockcheck cannot stop this target".into())
    }
    /// After a scenario: how the target ended, if it did (it is started afresh for the next
    /// scenario). `after_failure`: the scenario failed, perhaps because the target is dying
    /// right now, so it is worth a moment to learn how it ended.
    fn health(&mut self, after_failure: bool) -> Option<crate::facts::TargetEnd> {
        let _ = after_failure;
        None
    }
    /// What the target sends on a connection before it is asked, when known.
    fn greeting(&self) -> Option<Vec<u8>> {
        None
    }
    /// A mark in the target's output (a program's stdout and stderr), for [`Target::output_since`].
    fn output_mark(&self) -> (u64, u64) {
        (0, 0)
    }
    /// What the target wrote since `mark`, as lines for a report (none when it is not a program).
    fn output_since(&self, mark: (u64, u64)) -> Vec<String> {
        let _ = mark;
        vec![]
    }
}

/// The built-in reference server, run in-process.
pub struct ReferenceTarget {
    endpoint: Endpoint,
    cfg: ServerConfig,
    listen: ListenOpts,
    handle: Option<ServerHandle>,
    _dir: Option<tempfile::TempDir>,
}

impl ReferenceTarget {
    /// A reference server of this model on a free loopback port or a fresh temp Unix path.
    pub fn new(transport: Transport, mode: Mode, transform: Transform) -> std::io::Result<Self> {
        let (endpoint, dir) = fresh_endpoint(transport)?;
        let bufsize = if transport.is_datagram() {
            server::datagram::DEFAULT_DGRAM_BUFSIZE
        } else {
            server::default_bufsize(mode)
        };
        let cfg = ServerConfig {
            mode,
            bufsize,
            transform,
            log_errors: false,
            grace: std::time::Duration::from_secs(1),
            ..ServerConfig::default()
        };
        Ok(ReferenceTarget { endpoint, cfg, listen: ListenOpts::default(), handle: None, _dir: dir })
    }

    /// Concurrent mode: how many connections at a time get a thread of their own (0: the event loop serves all).
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.cfg.threads = threads;
        self
    }

    /// Run with this whole configuration (mode, transform, buffer size, ...).
    pub fn with_config(mut self, cfg: ServerConfig) -> Self {
        self.cfg = cfg;
        self
    }
}

impl Target for ReferenceTarget {
    fn describe(&self) -> String {
        format!("built-in server ({}, {})", self.cfg.mode, self.cfg.transform)
    }
    fn endpoint(&self) -> Endpoint {
        self.endpoint.clone()
    }
    fn model(&self) -> Option<Mode> {
        Some(self.cfg.mode)
    }
    fn transform(&self) -> Transform {
        self.cfg.transform
    }
    fn controllable(&self) -> bool {
        true
    }
    fn start(&mut self) -> Result<(), String> {
        if self.handle.is_none() {
            // A restart binds where the last server was. Its socket can outlive it for a moment in
            // a child process that another job of this process is starting (fork keeps every
            // descriptor until exec closes it): "address in use" then is ours, not the server's,
            // and goes away by itself. The built-in server binds with SO_REUSEADDR.
            let deadline = Instant::now() + Duration::from_secs(2);
            let mut pause = Duration::from_millis(1);
            let handle = loop {
                match server::spawn(&self.endpoint, &self.listen, self.cfg.clone()) {
                    Err(crate::error::Error::AddrInUse { .. }) if Instant::now() < deadline => {
                        std::thread::sleep(pause);
                        pause = (pause * 2).min(Duration::from_millis(50));
                    }
                    result => break result.map_err(|e| e.to_string())?,
                }
            };
            self.endpoint = handle.endpoint().clone();
            self.handle = Some(handle);
        }
        Ok(())
    }
    fn stop(&mut self) -> Result<(), String> {
        match self.handle.take() {
            Some(h) => h.shutdown().map_err(|e| e.to_string()),
            None => Ok(()),
        }
    }
}

/// A server that is already running somewhere.
#[derive(Clone, Debug)]
pub struct AddressTarget {
    /// Where it listens.
    pub endpoint: Endpoint,
    /// Its serving model, if known; scenarios that need one are skipped otherwise.
    pub model: Option<Mode>,
    /// What it does to bytes.
    pub transform: Transform,
}

impl Target for AddressTarget {
    fn describe(&self) -> String {
        format!("server at {}", self.endpoint)
    }
    fn endpoint(&self) -> Endpoint {
        self.endpoint.clone()
    }
    fn model(&self) -> Option<Mode> {
        self.model
    }
    fn transform(&self) -> Transform {
        self.transform
    }
}

/// Stops a server started by an [`FnTarget`].
pub type Stopper = Box<dyn FnOnce() + Send>;

type StartFn = Box<dyn FnMut(&Endpoint) -> Result<(Endpoint, Stopper), String> + Send>;

/// A server started by a closure: given the endpoint to listen on, it starts serving and returns
/// the endpoint it really has (the port when 0 was asked) and a function that stops it.
pub struct FnTarget {
    name: String,
    endpoint: Endpoint,
    model: Option<Mode>,
    transform: Transform,
    start_fn: StartFn,
    running: Option<Stopper>,
    _dir: Option<tempfile::TempDir>,
}

impl FnTarget {
    /// `start` serves over `transport`, named `name` in reports, at a fresh free address.
    pub fn new(
        name: impl Into<String>,
        transport: Transport,
        model: Option<Mode>,
        start: impl FnMut(&Endpoint) -> Result<(Endpoint, Stopper), String> + Send + 'static,
    ) -> std::io::Result<Self> {
        let (endpoint, dir) = fresh_endpoint(transport)?;
        Ok(FnTarget {
            name: name.into(),
            endpoint,
            model,
            transform: Transform::Upper,
            start_fn: Box::new(start),
            running: None,
            _dir: dir,
        })
    }
}

impl Target for FnTarget {
    fn describe(&self) -> String {
        self.name.clone()
    }
    fn endpoint(&self) -> Endpoint {
        self.endpoint.clone()
    }
    fn model(&self) -> Option<Mode> {
        self.model
    }
    fn transform(&self) -> Transform {
        self.transform
    }
    fn controllable(&self) -> bool {
        true
    }
    fn start(&mut self) -> Result<(), String> {
        if self.running.is_none() {
            let (endpoint, stop) = (self.start_fn)(&self.endpoint)?;
            self.endpoint = endpoint;
            self.running = Some(stop);
        }
        Ok(())
    }
    fn stop(&mut self) -> Result<(), String> {
        if let Some(stop) = self.running.take() {
            stop();
        }
        Ok(())
    }
}

impl Drop for FnTarget {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}
