//! A listener served on a thread of its own, stopped by a [`CancellationToken`]: what
//! [`crate::server::spawn`] and [`crate::proxy::spawn`] return, for tests, benches and in-process
//! targets. Dropping the handle stops it.

use std::future::Future;
use std::io;

use tokio_util::sync::CancellationToken;

use crate::addr::Endpoint;
use crate::error::{Error, Result};

/// A server or proxy running on a thread of its own, stopped when this handle drops.
#[derive(Debug)]
pub struct Background {
    endpoint: Endpoint,
    stop: CancellationToken,
    thread: Option<std::thread::JoinHandle<Result<()>>>,
}

impl Background {
    /// Run `serve(stop)` on runtime `rt` on a new thread named `name`; `endpoint` is where it listens.
    pub fn spawn<F, Fut>(name: String, endpoint: Endpoint, rt: tokio::runtime::Runtime, serve: F) -> Result<Self>
    where
        F: FnOnce(CancellationToken) -> Fut + Send + 'static,
        Fut: Future<Output = Result<()>>,
    {
        let stop = CancellationToken::new();
        let token = stop.clone();
        let thread = std::thread::Builder::new().name(name).spawn(move || rt.block_on(serve(token)))?;
        Ok(Background { endpoint, stop, thread: Some(thread) })
    }

    /// Where it listens (the real port when 0 was asked).
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Cancel, let it wind down (the server lets in-flight replies finish), wait for the thread.
    pub fn shutdown(mut self) -> Result<()> {
        self.stop_and_join()
    }

    fn stop_and_join(&mut self) -> Result<()> {
        self.stop.cancel();
        match self.thread.take() {
            Some(t) => t.join().unwrap_or_else(|_| Err(Error::Io(io::Error::other("background thread panicked")))),
            None => Ok(()),
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.stop_and_join();
    }
}
