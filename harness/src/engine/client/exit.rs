//! Steps about the client process itself: it exits as expected, and it does not spin.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use super::{tail, Exit, Run};
use crate::engine::StepResult;
use crate::process::describe_status;
use crate::report::format_duration;

impl Run<'_> {
    pub(super) fn expect_exit(&mut self, exit: Exit, timeout: Duration) -> StepResult {
        let started = Instant::now();
        let cpu0 = self.proc.cpu();
        let mut cpu = cpu0;
        let mut sampled = Instant::now();
        loop {
            // Read the CPU time before reaping (a reaped child's figures are gone), every 25 ms:
            // a scan of /proc is not free, and this must not load the machine it measures.
            if sampled.elapsed() >= Duration::from_millis(25) {
                cpu = cpu.max(self.proc.cpu());
                sampled = Instant::now();
            }
            if let Some(status) = self.proc.status() {
                let waited = started.elapsed();
                let used = cpu.saturating_sub(cpu0);
                let spin = busy(used, waited);
                let ok = match exit {
                    Exit::Success => status.success(),
                    Exit::Failure => status.code().is_some_and(|c| c != 0),
                };
                let what = format!("{} after {}", describe_status(status), format_duration(waited));
                return match (ok, spin) {
                    (true, false) => {
                        let mut note = format!("{what}, {} of CPU meanwhile", format_duration(used));
                        let stderr = tail(&self.proc.stderr, 5);
                        if !stderr.is_empty() {
                            let _ = write!(note, "; stderr: {stderr}");
                        }
                        Ok(note)
                    }
                    (true, true) => {
                        Err(format!("{what}, but used {} of CPU while waiting (a busy loop)", format_duration(used)))
                    }
                    (false, _) => Err(format!(
                        "{what}; expected {}",
                        if exit == Exit::Success { "exit code 0" } else { "a non-zero exit code" }
                    )),
                };
            }
            let waited = started.elapsed();
            if waited >= timeout {
                let used = cpu.max(self.proc.cpu()).saturating_sub(cpu0);
                // Neither asleep nor spinning: it has not had the CPU to get there yet (a busy
                // machine, an interpreter still loading). Up to three times the deadline for that.
                if waited < timeout * 3 && !busy(used, waited) && !self.proc.asleep() {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                }
                let how = if busy(used, waited) {
                    format!("it used {} of CPU meanwhile: a busy loop", format_duration(used))
                } else {
                    format!("it used {} of CPU meanwhile (blocked, e.g. waiting for input)", format_duration(used))
                };
                return Err(format!("the client did not exit within {}; {how}", format_duration(timeout)));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    pub(super) fn expect_idle(&mut self, d: Duration) -> StepResult {
        let cpu0 = self.proc.cpu();
        let started = Instant::now();
        let until = started + d;
        while Instant::now() < until {
            if let Some(status) = self.proc.status() {
                return Err(format!(
                    "the client ended after {}: {}",
                    format_duration(started.elapsed()),
                    describe_status(status)
                ));
            }
            std::thread::sleep(Duration::from_millis(10).min(until.saturating_duration_since(Instant::now())));
        }
        let used = self.proc.cpu().saturating_sub(cpu0);
        // Ten percent of the time (at least one 10 ms tick), or it is polling, not waiting.
        if used > (d / 10).max(Duration::from_millis(20)) {
            Err(format!("used {} of CPU in {} while it had nothing to do", format_duration(used), format_duration(d)))
        } else {
            Ok(format!("{} of CPU in {}", format_duration(used), format_duration(d)))
        }
    }
}

/// Spinning: more than 300 ms of CPU and more than a quarter of the time waited (a blocked
/// client uses next to nothing; a spinning one a whole core, or what a loaded machine leaves it).
fn busy(used: Duration, waited: Duration) -> bool {
    used > Duration::from_millis(300) && used > waited / 4
}
