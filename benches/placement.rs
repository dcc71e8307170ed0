//! Where a bench's client and server threads run: pinned, not left to the scheduler (see
//! `benches/README.md`: left alone, the same server's figures moved by 30 % from run to run).

/// Where a benchmark's client and server run: (client CPU, server CPU), `None` where the scheduler likes.
pub type Placement = (Option<usize>, Option<usize>);

/// The client on the first CPU, the server on the last (anywhere, on a machine of one CPU).
pub fn apart() -> Placement {
    let cpus = allowed_cpus();
    match (cpus.first(), cpus.last()) {
        (Some(&a), Some(&b)) if a != b => (Some(a), Some(b)),
        _ => (None, None),
    }
}

/// Both on the first CPU.
pub fn together() -> Placement {
    let first = allowed_cpus().first().copied();
    (first, first)
}

/// The CPUs this process may run on.
pub fn allowed_cpus() -> Vec<usize> {
    use nix::sched::{sched_getaffinity, CpuSet};
    use nix::unistd::Pid;
    let Ok(set) = sched_getaffinity(Pid::from_raw(0)) else { return vec![] };
    (0..CpuSet::count()).filter(|&i| set.is_set(i).unwrap_or(false)).collect()
}

/// Run `f` with this thread (and every thread it starts) on `cpu` only; `None`: where it was.
pub fn on_cpu<T>(cpu: Option<usize>, f: impl FnOnce() -> T) -> T {
    use nix::sched::{sched_getaffinity, sched_setaffinity, CpuSet};
    use nix::unistd::Pid;
    let old = cpu.and_then(|_| sched_getaffinity(Pid::from_raw(0)).ok());
    if let (Some(cpu), Some(_)) = (cpu, &old) {
        let mut one = CpuSet::new();
        one.set(cpu).expect("CPU number in range");
        sched_setaffinity(Pid::from_raw(0), &one).expect("pin to one CPU");
    }
    let out = f();
    if let Some(old) = old {
        sched_setaffinity(Pid::from_raw(0), &old).expect("restore CPU affinity");
    }
    out
}
