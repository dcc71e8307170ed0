//! The progress line shown on a terminal while a long scenario runs.

use std::io::{self, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// While a scenario runs, a line on stderr saying which and for how long, redrawn in place:
/// `running slow_reader_loses_nothing over tcp... 3.2s`. Shown after the first second only (quick
/// scenarios leave no trace), and erased before the table's next row is printed.
#[derive(Clone)]
pub struct Progress {
    state: Arc<Mutex<ProgressState>>,
}

struct ProgressState {
    current: Option<(String, Instant)>,
    shown: bool,
    done: bool,
}

impl Progress {
    /// A progress line on stderr, redrawn by a thread of its own until [`Progress::done`].
    pub fn start() -> Progress {
        let state = Arc::new(Mutex::new(ProgressState { current: None, shown: false, done: false }));
        let progress = Progress { state: state.clone() };
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_millis(100));
            let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
            if st.done {
                break;
            }
            if let Some((what, since)) = &st.current {
                let took = since.elapsed();
                if took >= Duration::from_secs(1) {
                    eprint!("\r\x1b[2Krunning {what}... {:.1}s", took.as_secs_f64());
                    let _ = io::stderr().flush();
                    st.shown = true;
                }
            }
        });
        progress
    }

    /// A scenario started.
    pub fn begin(&self, what: String) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).current = Some((what, Instant::now()));
    }

    /// The scenario finished: erase the line.
    pub fn end(&self) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.current = None;
        if st.shown {
            eprint!("\r\x1b[2K");
            let _ = io::stderr().flush();
            st.shown = false;
        }
    }

    /// Stop the thread.
    pub fn done(&self) {
        self.end();
        self.state.lock().unwrap_or_else(|e| e.into_inner()).done = true;
    }
}
