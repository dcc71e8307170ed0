//! Steps about the client process itself: it exits as expected, and it does not spin.

use std::time::{Duration, Instant};

use super::{tail, Exit, Run};
use crate::engine::StepResult;
use crate::facts::{Fact, ProcStatus};

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
                let status = ProcStatus::from(status);
                let wanted_success = exit == Exit::Success;
                let ok = match exit {
                    Exit::Success => status.success(),
                    Exit::Failure => matches!(status, ProcStatus::Exited(c) if c != 0),
                };
                let busy = busy(used, waited);
                let fact = Fact::ClientExited {
                    status,
                    after: waited.into(),
                    cpu: used.into(),
                    busy,
                    wanted_success,
                    stderr: tail(&self.proc.stderr, 5),
                };
                return if ok && !busy { Ok(fact) } else { Err(fact) };
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
                return Err(Fact::ClientDidNotExit {
                    within: timeout.into(),
                    cpu: used.into(),
                    busy: busy(used, waited),
                    refused: *self.serve == super::Serve::NothingListening,
                });
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
                return Err(Fact::ClientEndedEarly { status: status.into(), after: started.elapsed().into() });
            }
            std::thread::sleep(Duration::from_millis(10).min(until.saturating_duration_since(Instant::now())));
        }
        let used = self.proc.cpu().saturating_sub(cpu0);
        // Ten percent of the time (at least one 10 ms tick), or it is polling, not waiting.
        let busy = used > (d / 10).max(Duration::from_millis(20));
        let fact = Fact::ClientIdle { cpu: used.into(), waited: d.into(), busy };
        if busy {
            Err(fact)
        } else {
            Ok(fact)
        }
    }
}

/// Spinning: more than 300 ms of CPU and more than a quarter of the time waited (a blocked
/// client uses next to nothing; a spinning one a whole core, or what a loaded machine leaves it).
fn busy(used: Duration, waited: Duration) -> bool {
    used > Duration::from_millis(300) && used > waited / 4
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_is_much_cpu_in_a_large_share_of_the_time_waited() {
        let ms = Duration::from_millis;
        assert!(busy(ms(900), ms(1000)), "a spinner");
        assert!(busy(ms(301), ms(1200)), "a spinner on a loaded machine");
        assert!(!busy(ms(900), ms(4000)), "a quarter of the time or less is waiting");
        assert!(!busy(ms(250), ms(260)), "an interpreter starting up");
    }
}
