use super::*;

#[test]
fn last_lines_keep_whole_lines_cut_short() {
    let mut bytes = vec![];
    for i in 0..100 {
        bytes.extend_from_slice(format!("line {i}\n").as_bytes());
    }
    bytes.extend_from_slice(b"split across pushes\r\n");
    bytes.extend_from_slice(&[b'x'; 10_000]);
    bytes.extend_from_slice(b"\nunfinished");
    let lines = last_lines(&bytes, 21, 300);
    assert_eq!(lines.len(), 21, "{lines:?}");
    assert_eq!(lines[17], "line 99");
    assert_eq!(lines[18], "split across pushes");
    assert_eq!(lines[19].len(), 300);
    assert_eq!(lines[20], "unfinished");
    assert!(last_lines(b"", 5, 10).is_empty());
}

#[test]
fn exit_statuses_read_well() {
    assert_eq!(describe_status(ExitStatus::from_raw(3 << 8)), "status 3");
    assert_eq!(describe_status(ExitStatus::from_raw(9)), "killed by SIGKILL");
}

/// `XmY.YYYYs`, as the shell's `times` prints a duration.
fn shell_duration(text: &str) -> Duration {
    let (min, sec) = text.trim_end_matches('s').split_once('m').expect("XmYs");
    Duration::from_secs_f64(min.parse::<f64>().unwrap() * 60.0 + sec.parse::<f64>().unwrap())
}

#[test]
fn group_cpu_is_what_the_group_and_its_reaped_children_used_and_nothing_else() {
    // The shell spins itself, then waits for a spinning child, then prints what times(2) says both
    // used (itself; its children) and stays in the group as `sleep` (exec keeps both counts).
    let mut busy = Spawned::start(
        "i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done; \
         timeout 0.3 sh -c 'while :; do :; done'; times; exec sleep 60",
        Stdin::Null,
        Keep { stdout: None, stderr: None },
    )
    .unwrap();
    let mut idle = Spawned::start("exec sleep 60", Stdin::Null, Keep { stdout: None, stderr: None }).unwrap();
    let until = Instant::now() + DEADLINE;
    let mut st = busy.stdout.lock();
    while st.bytes.iter().filter(|&&b| b == b'\n').count() < 2 && !st.closed && Instant::now() < until {
        st = busy.stdout.wait(st, Duration::from_millis(50));
    }
    let times = String::from_utf8_lossy(&st.bytes).into_owned();
    drop(st);
    let lines: Vec<Vec<Duration>> = times.lines().map(|l| l.split_whitespace().map(shell_duration).collect()).collect();
    assert_eq!(lines.len(), 2, "times printed {times:?}");
    let (own, children) = (lines[0].iter().sum::<Duration>(), lines[1].iter().sum::<Duration>());
    // Both parts really used CPU, so leaving either out of the sum shows.
    assert!(own >= Duration::from_millis(20) && children >= Duration::from_millis(20), "{times:?}");
    // One tick either way for rounding, one for what `sleep` used starting up.
    let tick = Duration::from_millis(10);
    let measured = busy.cpu();
    assert!(
        measured + tick >= own + children && measured <= own + children + 2 * tick,
        "group_cpu {measured:?}, times(2) {own:?} + {children:?}"
    );
    // A group that only sleeps used (almost) nothing, whatever the groups around it use.
    assert!(idle.cpu() <= 2 * tick, "{:?}", idle.cpu());
    assert_eq!(group_cpu(i32::MAX - 1), Duration::ZERO);
    busy.stop(Duration::from_secs(1)).unwrap();
    idle.stop(Duration::from_secs(1)).unwrap();
}

#[test]
fn output_since_a_mark() {
    let out = Output::default();
    out.lock().bytes.extend_from_slice(b"before\n");
    let mark = out.mark();
    out.lock().bytes.extend_from_slice(b"after\n");
    assert_eq!(out.since(mark), b"after\n");
}

const DEADLINE: Duration = Duration::from_secs(10);

/// Wait (at most [`DEADLINE`]) until `out` holds `n` bytes or is closed; its bytes.
fn wait_for(out: &Output, n: usize) -> Vec<u8> {
    let until = Instant::now() + DEADLINE;
    let mut st = out.lock();
    while st.bytes.len() < n && !st.closed && Instant::now() < until {
        st = out.wait(st, Duration::from_millis(50));
    }
    st.bytes.clone()
}

/// `command` with stdin from /dev/null, its output kept from its first byte.
fn whole_output(command: &str) -> Spawned {
    Spawned::start(command, Stdin::Null, Keep { stdout: None, stderr: None }).expect("spawn")
}

fn on_pty(command: &str) -> Spawned {
    Spawned::start(command, Stdin::Pty, Keep { stdout: None, stderr: None }).expect("spawn on a pty")
}

#[test]
fn pty_is_stdin_and_stdout_and_the_controlling_terminal_but_not_stderr() {
    let p = on_pty(
        "test -t 0 && echo in; test -t 1 && echo out; test -t 2 || echo err-is-a-pipe; exec 3</dev/tty && echo ctty",
    );
    let out = wait_for(&p.stdout, usize::MAX);
    assert_eq!(out, b"in\nout\nerr-is-a-pipe\nctty\n", "{:?}", String::from_utf8_lossy(&out));
}

#[test]
fn typed_lines_arrive_exactly_without_echo_and_printed_bytes_are_unchanged() {
    let mut p = on_pty("od -An -v -tx1");
    // Control characters that a terminal would act on (Ctrl-C, Ctrl-D, Ctrl-U, DEL, Ctrl-V, CR).
    p.type_in(b"a\x03\x04\x15\x7f\x16\rb\n".to_vec()).unwrap();
    p.end_input();
    let out = String::from_utf8(wait_for(&p.stdout, usize::MAX)).unwrap();
    let hex: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(hex, ["61", "03", "04", "15", "7f", "16", "0d", "62", "0a"], "{out:?}");
    // `od` ended its lines with `\n`, not the terminal's `\r\n`.
    assert!(!out.contains('\r'), "{out:?}");
    assert_eq!(wait_exit(&mut p), Some(true));
}

/// The exit status, waited for (at most [`DEADLINE`]).
fn wait_exit(p: &mut Spawned) -> Option<bool> {
    let until = Instant::now() + DEADLINE;
    loop {
        if let Some(s) = p.status() {
            return Some(s.success());
        }
        if Instant::now() >= until {
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_line_longer_than_the_terminal_buffer_arrives_whole_and_ctrl_d_ends_input() {
    let mut p = on_pty("wc -c; echo done");
    let mut line = vec![b'x'; 100 << 10];
    line.push(b'\n');
    p.type_in(line).unwrap();
    p.type_in(b"end\n".to_vec()).unwrap();
    p.end_input();
    let out = String::from_utf8(wait_for(&p.stdout, usize::MAX)).unwrap();
    assert_eq!(out.split_whitespace().collect::<Vec<_>>(), ["102405", "done"], "{out:?}");
    assert_eq!(wait_exit(&mut p), Some(true));
}

#[test]
fn a_program_on_a_pty_is_stopped_with_its_group() {
    let mut p = on_pty("sleep 30 & sleep 30");
    let pgid = p.pid() as i32;
    // The shell forks its background child right after it starts: asleep means asleep three polls in
    // a row, not one moment between two forks.
    let until = Instant::now() + DEADLINE;
    let mut in_a_row = 0;
    while in_a_row < 3 && Instant::now() < until {
        in_a_row = if group_asleep(pgid) { in_a_row + 1 } else { 0 };
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(in_a_row == 3 && p.asleep(), "a program waiting for a timer is asleep");
    p.stop(Duration::from_millis(500)).unwrap();
    assert!(!group_alive(pgid));
    // The terminal's master reads EIO once everything on the slave is gone: stdout closes.
    p.stdout.wait_closed(DEADLINE);
    assert!(p.stdout.lock().closed);
}

#[test]
fn tty_keys_escape_control_characters_and_cut_long_lines() {
    let mut k = TtyKeys::default();
    assert_eq!(k.keys(b"a\tb\x04\n"), b"a\tb\x16\x04\n");
    let keys = k.keys(&[b'y'; 2500]);
    assert_eq!(keys.iter().filter(|&&b| b == VEOF).count(), 2);
    assert_eq!(keys[TtyKeys::PIECE], VEOF);
    // An unfinished line is handed over first, then input ends.
    assert_eq!(k.end(), [VEOF, VEOF]);
    assert_eq!(k.end(), [VEOF]);
}

/// A program blocked reading its terminal, with its prompt read by sockcheck, is seen as both:
/// what prompt detection's short path needs.
#[test]
fn a_program_reading_its_terminal_is_seen_reading_with_its_output_drained() {
    let mut p = on_pty("printf '>>: '; exec head -n 1");
    // The prompt in hand first: a terminal's master can say "nothing unread" (FIONREAD 0) for a
    // moment after the program wrote, while the kernel moves the bytes across (the pty's flip
    // buffer); once they are here nothing more comes, so both states hold for good.
    assert_eq!(wait_for(&p.stdout, 4), b">>: ");
    let until = Instant::now() + DEADLINE;
    while !(p.reading_stdin() && p.output_drained()) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(p.reading_stdin(), "not seen reading its stdin");
    assert!(p.output_drained());
    assert_eq!(p.stdout.bytes(), b">>: ");
    // A program asleep in something else is not reading its stdin.
    let mut q = on_pty("exec sleep 30");
    let until = Instant::now() + DEADLINE;
    while !q.asleep() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(q.asleep() && !q.reading_stdin());
    p.type_in(b"x\n".to_vec()).unwrap();
    assert_eq!(wait_exit(&mut p), Some(true));
    let _ = q.stop(Duration::from_millis(100));
}

#[test]
fn output_kept_from_its_first_byte_keeps_a_bounded_head_and_tail_and_says_what_was_left_out() {
    let mut st = OutputState::default();
    let chunk = vec![b'x'; 1 << 20];
    for _ in 0..40 {
        st.bytes.extend_from_slice(&chunk);
        st.bound(None);
    }
    st.bytes.extend_from_slice(b"the end");
    st.bound(None);
    assert!(st.bytes.len() <= HEAD + 2 * TAIL, "{} bytes kept", st.bytes.len());
    assert_eq!(st.total(), (40 << 20) + 7);
    assert!(st.bytes.ends_with(b"the end"));
    let lines = st.excerpt_since(0, 2, 2, 80);
    assert!(st.left_out > 0);
    assert_eq!(
        lines[0],
        format!("… ({} bytes of it left out: sockcheck keeps a bounded part of what a program prints)", st.left_out)
    );
    // From a mark in the kept tail on, nothing is left out.
    assert_eq!(st.excerpt_since(st.total() - 7, 2, 2, 80), ["the end"]);
    // The last part only: what was dropped from the front.
    let mut last = OutputState::default();
    last.bytes.extend_from_slice(&[b'y'; 100]);
    last.bound(Some(10));
    assert_eq!(last.bytes.len(), 10);
    assert!(last.excerpt_since(0, 2, 2, 80)[0].starts_with("… (90 bytes of it left out"));
    assert_eq!(last.excerpt_since(95, 2, 2, 80), ["yyyyy"]);
}

#[test]
fn a_program_printing_megabytes_without_a_newline_does_not_grow_what_is_kept() {
    let mut p = whole_output("head -c 40000000 /dev/zero | tr '\\0' x; printf END");
    p.stdout.wait_closed(DEADLINE);
    let st = p.stdout.lock();
    assert!(st.closed);
    assert!(st.bytes.len() <= HEAD + 2 * TAIL, "{} bytes kept", st.bytes.len());
    assert_eq!(st.total(), 40_000_003);
    assert!(st.bytes.ends_with(b"xEND"));
    drop(st);
    let tail = p.stdout.since(p.stdout.mark() - 3);
    assert_eq!(tail, b"END");
    let _ = p.stop(Duration::from_secs(1));
}

#[test]
fn proc_stat_is_read_past_a_command_name_with_spaces_and_parentheses() {
    let text = "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 100 0 0 0 7 3 2 1 20 0 1 0 100 1000 10";
    let st = ProcStat::parse(text).unwrap();
    assert_eq!((st.pid, st.state, st.ppid, st.pgrp, st.cpu_ticks), (4242, 'S', 1, 4242, 13));
    assert!(!st.zombie());
    assert_eq!(ProcStat::parse("garbage"), None);
    let me = stat(std::process::id() as i32).unwrap();
    assert_eq!(me.pid, std::process::id() as i32);
}

#[test]
fn a_process_that_leaves_the_group_is_found_stopped_and_reported() {
    let mut p = whole_output("setsid sleep 300 & echo started; exec sleep 300");
    let until = Instant::now() + DEADLINE;
    // The escapee is below us: wait until it has left the group.
    while Instant::now() < until
        && !descendants(std::process::id() as i32).iter().any(|d| d.pgrp != p.pgid && has_marker(d.pid, &p.marker))
    {
        std::thread::sleep(Duration::from_millis(5));
    }
    p.stop(Duration::from_secs(1)).unwrap();
    assert_eq!(p.escaped().len(), 1, "{:?}", p.escaped());
    let e = &p.escaped()[0];
    assert_eq!(e.cmd, "sleep 300");
    assert_eq!(e.listening, None);
    assert!(stat(e.pid as i32).is_none_or(|s| s.zombie()), "pid {} still runs", e.pid);
    assert_eq!(
        e.describe(),
        format!("a process that left the process group was still running: pid {}, `sleep 300`; stopped", e.pid)
    );
}
