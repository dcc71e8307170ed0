//! A transcript drawn as a sequence diagram (inline SVG).
//!
//! One lifeline per client and one for the server under test; for a client check, stdin, stdout
//! (stderr when looked at), the client under test and the server sockcheck plays. Each step is an
//! arrow (connect, send, reply, FIN, RST, EOF) or a box on a lifeline (waits, silence, target
//! stop/start, exit), with its time offset on the left and its code and note in columns on the
//! right. Sizes are read from the notes, so a 16 MiB transfer is one arrow like any other, and a
//! long transcript is cut in the middle: drawing costs the same for every scenario.

use std::fmt::Write as _;
use std::time::Duration;

use super::html::Esc;
use super::json::to_micros;
use super::{Event, Outcome, Verdict};
use crate::facts::Fact;

const ROW: usize = 26;
const HEAD: usize = 40;
const GUTTER: usize = 64;
/// Space between lifelines: narrower when there are many.
const COL: usize = 128;
const COL_MANY: usize = 108;
/// Longer transcripts show their first and last steps.
const MAX_ROWS: usize = 240;

enum Shape {
    /// From lane, to lane, the label on the arrow, its kind (a CSS class).
    Arrow(usize, usize, String, &'static str),
    /// A box on one lane.
    Box(usize, String),
    /// Across every lane (a wait of the whole scenario, steps not drawn).
    Band(String),
}

struct Row {
    at: Option<Duration>,
    shape: Shape,
    fail: bool,
    code: String,
    note: String,
}

/// The lanes: their names, and which one is under test.
struct Lanes {
    names: Vec<String>,
    subject: usize,
}

impl Lanes {
    fn of(events: &[Event], client_check: bool) -> Lanes {
        if client_check {
            let mut names: Vec<String> = vec!["stdin".into(), "stdout".into()];
            if events.iter().any(|e| e.client == "stderr") {
                names.push("stderr".into());
            }
            names.extend(["client".into(), "server".into()]);
            return Lanes { subject: names.len() - 2, names };
        }
        let mut names: Vec<String> = vec![];
        for e in events {
            if !matches!(e.client.as_str(), "-" | "target" | "scenario" | "sockcheck") && !names.contains(&e.client) {
                names.push(e.client.clone());
            }
        }
        names.push("server".into());
        Lanes { subject: names.len() - 1, names }
    }

    fn index(&self, name: &str) -> usize {
        self.names.iter().position(|n| n == name).unwrap_or(self.subject)
    }
}

/// The diagram of an outcome's transcript; empty when there is nothing to draw.
pub fn svg(o: &Outcome) -> String {
    let events = &o.transcript;
    let failed_in_transcript = events.iter().any(|e| !e.ok);
    if events.is_empty() && o.failure.is_none() {
        return String::new();
    }
    let client_check = events.iter().any(|e| matches!(e.client.as_str(), "stdin" | "stdout" | "stderr" | "process"))
        || events.first().is_some_and(|e| e.client == "sockcheck");
    let lanes = Lanes::of(events, client_check);
    let mut rows: Vec<Row> = vec![];
    let drawn: Vec<&Event> = if events.len() > MAX_ROWS {
        let tail = MAX_ROWS / 3;
        events[..MAX_ROWS - tail].iter().chain(&events[events.len() - tail..]).collect()
    } else {
        events.iter().collect()
    };
    for (i, e) in drawn.iter().enumerate() {
        if events.len() > MAX_ROWS && i == MAX_ROWS - MAX_ROWS / 3 {
            let label = format!("{} steps not drawn", events.len() - MAX_ROWS);
            let note = "every step is in the JSON report".to_string();
            rows.push(Row { at: None, shape: Shape::Band(label), fail: false, code: String::new(), note });
        }
        let shape = if client_check { client_shape(e, &lanes) } else { server_shape(e, &lanes) };
        rows.push(Row { at: Some(e.at), shape, fail: !e.ok, code: e.step.clone(), note: e.fact.to_string() });
    }
    // A failure outside the transcript: the target died afterwards, the scenario ran out of time.
    if let (Some(f), false, Verdict::Fail | Verdict::Flaky) = (&o.failure, failed_in_transcript, &o.verdict) {
        let on = lanes.index(&f.client);
        rows.push(Row {
            at: None,
            shape: Shape::Box(on, "✗".into()),
            fail: true,
            code: f.step.clone(),
            note: f.message(),
        });
    }
    draw(&lanes, &rows, &o.scenario)
}

/// A label for the bytes a step moved, or `…`.
fn moved(e: &Event) -> String {
    e.fact.bytes_moved().map_or_else(|| "…".into(), size)
}

/// `1 MiB` for a whole reply, `1 KiB of 1 MiB` for a cut one, `✗` for wrong bytes.
fn reply_label(e: &Event) -> String {
    match e.fact.inner() {
        Fact::NoReply { got, expected, .. } | Fact::ConnectionEnded { got, expected, .. } => {
            format!("{} of {}", size(*got), size(*expected))
        }
        _ if e.ok => moved(e),
        _ => "✗".into(),
    }
}

fn server_shape(e: &Event, lanes: &Lanes) -> Shape {
    let (c, s) = (lanes.index(&e.client), lanes.subject);
    if e.client == "-" {
        return Shape::Band(format!("wait {}", e.took.as_millis()));
    }
    if e.client == "target" {
        let label = match &e.fact {
            Fact::TargetStopped => "stop",
            Fact::TargetStarted { .. } | Fact::TargetDidNotStart { .. } => "start",
            Fact::RefusedToStart { .. } | Fact::StartedAnyway { .. } => "start?",
            Fact::PutAtPath { .. } => "put file",
            Fact::PathAsItWas { .. } | Fact::PathChanged { .. } => "check path",
            Fact::PathCleared { .. } => "clear path",
            _ => "✗",
        };
        return Shape::Box(s, label.into());
    }
    match e.fact.inner() {
        Fact::Repeated { count, shown } => Shape::Arrow(c, s, format!("{} more", count - shown), "ctl"),
        Fact::Connected { .. } | Fact::ConnectFailed { .. } => Shape::Arrow(c, s, "connect".into(), "ctl"),
        Fact::Queued { .. } | Fact::DatagramSent { .. } => Shape::Arrow(c, s, moved(e), "send"),
        Fact::Sent { .. } | Fact::SendFailed { .. } | Fact::SendStalled { .. } => {
            Shape::Arrow(c, s, "flush".into(), "send")
        }
        Fact::ClosedByServer { .. } | Fact::NotClosed { .. } | Fact::MoreBeforeClose { .. } => {
            Shape::Arrow(s, c, "EOF".into(), "ctl")
        }
        Fact::HalfClosed { .. } => Shape::Arrow(c, s, "FIN".into(), "ctl"),
        Fact::Closed => Shape::Arrow(c, s, "close".into(), "ctl"),
        Fact::Reset => Shape::Arrow(c, s, "RST".into(), "rst"),
        Fact::Quiet { waited } => Shape::Box(c, format!("silent {}ms", waited.duration().as_millis())),
        Fact::NotQuiet { .. } | Fact::Unasked { .. } | Fact::UnexpectedDatagram { .. } => {
            Shape::Arrow(s, c, "✗".into(), "reply")
        }
        Fact::Nothing => Shape::Box(c, format!("wait {}ms", e.took.as_millis())),
        Fact::SocketClosed { .. } => Shape::Box(c, "close".into()),
        Fact::Burst { sent, .. } => Shape::Arrow(c, s, format!("{sent} datagrams"), "send"),
        Fact::Misuse { .. } | Fact::Setup { .. } => Shape::Box(c, "✗".into()),
        _ => Shape::Arrow(s, c, reply_label(e), "reply"),
    }
}

fn client_shape(e: &Event, lanes: &Lanes) -> Shape {
    let p = lanes.subject;
    let lane = |n: &str| lanes.index(n);
    match (e.client.as_str(), &e.fact) {
        ("stdin", Fact::InputEnded { .. }) => Shape::Arrow(lane("stdin"), p, "EOF".into(), "ctl"),
        ("stdin", _) => Shape::Arrow(lane("stdin"), p, moved(e), "send"),
        ("stdout", Fact::PrintedAsExpected { lines, .. }) => {
            let label = format!("{lines} line{}", if *lines == 1 { "" } else { "s" });
            Shape::Arrow(p, lane("stdout"), label, "reply")
        }
        ("stdout", Fact::Prompt { .. }) => Shape::Arrow(p, lane("stdout"), "prompt".into(), "reply"),
        ("stdout", _) => Shape::Arrow(p, lane("stdout"), "✗".into(), "reply"),
        ("stderr", _) => Shape::Arrow(p, lane("stderr"), moved(e), "reply"),
        ("server", Fact::ServerLog { .. }) => Shape::Arrow(lane("server"), p, moved(e), "reply"),
        ("server", _) => Shape::Arrow(p, lane("server"), moved(e), "send"),
        ("process", Fact::ClientIdle { waited, .. }) => {
            Shape::Box(p, format!("idle {}ms", waited.duration().as_millis()))
        }
        ("process", _) => Shape::Box(p, "exit".into()),
        ("sockcheck", _) => Shape::Box(p, "start".into()),
        _ => Shape::Box(p, "✗".into()),
    }
}

/// `12 B`, `64 KiB`, `1.5 MiB`.
pub fn size(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 || v.fract() == 0.0 {
        format!("{v} {}", UNITS[u])
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// At most `n` characters, `…` when cut.
fn cut(s: &str, n: usize) -> (String, bool) {
    match s.char_indices().nth(n) {
        None => (s.to_string(), false),
        Some((i, _)) => (format!("{}…", &s[..i]), true),
    }
}

/// `<text>` with a tooltip holding the whole text when it had to be cut.
fn text(svg: &mut String, class: &str, x: usize, s: &str, max: usize) {
    let (shown, was_cut) = cut(s, max);
    let _ = write!(svg, r#"<text class="{class}" x="{x}" y="17">{}"#, Esc(&shown));
    if was_cut {
        let _ = write!(svg, "<title>{}</title>", Esc(s));
    }
    svg.push_str("</text>");
}

const CODE_CHARS: usize = 44;
/// Notes fit a diagram this wide when they can (a page's width); never fewer characters than
/// [`MIN_NOTE_CHARS`].
const FIT_WIDTH: usize = 1140;
const MIN_NOTE_CHARS: usize = 32;

fn draw(lanes: &Lanes, rows: &[Row], scenario: &str) -> String {
    let col = if lanes.names.len() > 3 { COL_MANY } else { COL };
    let x = |lane: usize| GUTTER + col / 2 + lane * col;
    let code_chars = rows.iter().map(|r| r.code.chars().count()).max().unwrap_or(0).min(CODE_CHARS);
    let code_x = GUTTER + lanes.names.len() * col + 12;
    let note_x = code_x + code_chars * 7 + 24;
    let note_max = (FIT_WIDTH.saturating_sub(note_x + 16) * 10 / 66).max(MIN_NOTE_CHARS);
    let note_chars = rows.iter().map(|r| r.note.chars().count()).max().unwrap_or(0).min(note_max);
    let width = note_x + note_chars * 66 / 10 + 16;
    let height = HEAD + 8 + rows.len() * ROW + 8;
    let mut svg = String::with_capacity(1024 + rows.len() * 400);
    let _ = write!(
        svg,
        r#"<svg class="seq" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="sequence diagram of {}">"#,
        Esc(scenario)
    );
    for (i, name) in lanes.names.iter().enumerate() {
        let (x, class) = (x(i), if i == lanes.subject { "hd subject" } else { "hd" });
        let _ = write!(
            svg,
            r#"<line class="ll" x1="{x}" y1="{HEAD}" x2="{x}" y2="{}"/><g class="{class}"><rect x="{}" y="6" width="{}" height="26" rx="5"/>"#,
            height - 6,
            x - col / 2 + 8,
            col - 16
        );
        let (shown, _) = cut(name, (col - 20) / 8);
        let _ = write!(svg, r#"<text x="{x}" y="23">{}</text></g>"#, Esc(&shown));
    }
    let _ = write!(
        svg,
        r#"<text class="colhd end" x="{}" y="23">time</text><text class="colhd" x="{code_x}" y="23">step</text><text class="colhd" x="{note_x}" y="23">what happened</text>"#,
        GUTTER - 8
    );
    for (r, row) in rows.iter().enumerate() {
        let y = HEAD + 8 + r * ROW;
        let class = if row.fail { "row step-fail" } else { "row" };
        let _ = write!(svg, r#"<g class="{class}" transform="translate(0,{y})">"#);
        if row.fail {
            let _ = write!(svg, r#"<rect class="bg" x="0" y="1" width="{width}" height="{}" rx="3"/>"#, ROW - 2);
        }
        if let Some(at) = row.at {
            let _ =
                write!(svg, r#"<text class="t" x="{}" y="17">{:.3}s</text>"#, GUTTER - 8, to_micros(at).as_secs_f64());
        }
        shape(&mut svg, &row.shape, x, col, lanes.names.len());
        text(&mut svg, "c", code_x, &row.code, CODE_CHARS);
        text(&mut svg, "n", note_x, &row.note, note_chars);
        svg.push_str("</g>");
    }
    svg.push_str("</svg>");
    svg
}

/// A row's arrow, box or band, between the lanes at `x(lane)`, `col` apart.
fn shape(svg: &mut String, shape: &Shape, x: impl Fn(usize) -> usize, col: usize, lanes: usize) {
    match shape {
        Shape::Arrow(from, to, label, kind) => {
            let (x1, x2) = (x(*from), x(*to));
            let dir: isize = if x2 >= x1 { 1 } else { -1 };
            let tip = x2 as isize - dir * 2;
            let _ = write!(
                svg,
                r#"<line class="a {kind}" x1="{x1}" y1="19" x2="{tip}" y2="19"/><path class="h {kind}" d="M{tip} 19l{} -4v8z"/>"#,
                -dir * 8
            );
            let (shown, _) = cut(label, 18);
            let _ = write!(svg, r#"<text class="l" x="{}" y="14">{}</text>"#, (x1 + x2) / 2, Esc(&shown));
        }
        Shape::Box(on, label) => {
            let (shown, _) = cut(label, 12);
            let _ = write!(
                svg,
                r#"<rect class="bx" x="{}" y="5" width="{}" height="17" rx="3"/><text class="bl" x="{}" y="17">{}</text>"#,
                x(*on) - col / 2 + 14,
                col - 28,
                x(*on),
                Esc(&shown)
            );
        }
        Shape::Band(label) => {
            let (left, right) = (x(0) - 20, x(lanes - 1) + 20);
            let _ = write!(
                svg,
                r#"<line class="band" x1="{left}" y1="13" x2="{right}" y2="13"/><text class="bl band" x="{}" y="17">{}</text>"#,
                (left + right) / 2,
                Esc(label)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addr::Transport;

    fn event(client: &str, fact: Fact) -> Event {
        let (at, took) = (Duration::ZERO, Duration::from_millis(250));
        Event { at, took, client: client.into(), step: "step".into(), ok: true, fact }
    }

    fn outcome(events: Vec<Event>) -> Outcome {
        let mut o = Outcome::new("s", "", Transport::Tcp, "target".into());
        o.transcript = events;
        o
    }

    /// The `x` of each lifeline, in order, read from the SVG.
    fn lifelines(svg: &str) -> Vec<usize> {
        svg.split(r#"<line class="ll" x1=""#).skip(1).map(|s| s[..s.find('"').unwrap()].parse().unwrap()).collect()
    }

    /// The lane headings, in order.
    fn headings(svg: &str) -> Vec<String> {
        svg.split(r#"" y="23">"#).skip(1).map(|s| s[..s.find('<').unwrap()].to_string()).collect()
    }

    #[test]
    fn a_server_check_has_one_lane_per_client_in_order_of_appearance_then_the_server() {
        let to = || Fact::Connected { to: "127.0.0.1:1".into() };
        let events = vec![
            event("target", Fact::TargetStopped),
            event("c2", to()),
            event("-", Fact::Nothing),
            event("c1", to()),
            event("c2", Fact::Closed),
            event("scenario", Fact::Nothing),
        ];
        let svg = svg(&outcome(events));
        assert_eq!(headings(&svg)[..3], ["c2", "c1", "server"]);
        assert_eq!(lifelines(&svg), [GUTTER + COL / 2, GUTTER + COL / 2 + COL, GUTTER + COL / 2 + 2 * COL]);
        let subject = format!(r#"<g class="hd subject"><rect x="{}""#, GUTTER + 2 * COL + 8);
        assert!(svg.contains(&subject), "the server is the subject: {svg}");
    }

    #[test]
    fn a_wait_of_the_whole_scenario_is_a_band_across_every_lane() {
        let events = vec![event("c1", Fact::Closed), event("-", Fact::Nothing)];
        let svg = svg(&outcome(events));
        let (first, last) = (GUTTER + COL / 2, GUTTER + COL / 2 + COL);
        let band = format!(r#"<line class="band" x1="{}" y1="13" x2="{}" y2="13"/>"#, first - 20, last + 20);
        assert!(svg.contains(&band), "{band} not in {svg}");
        assert!(svg.contains(">wait 250</text>"), "{svg}");
    }

    #[test]
    fn an_arrow_runs_between_its_lanes_with_its_head_at_the_receiver() {
        let svg = svg(&outcome(vec![event("c1", Fact::Queued { bytes: 12 })]));
        let (c1, server) = (GUTTER + COL / 2, GUTTER + COL / 2 + COL);
        let arrow = format!(r#"<line class="a send" x1="{c1}" y1="19" x2="{}" y2="19"/>"#, server - 2);
        let head = format!(r#"<path class="h send" d="M{} 19l-8 -4v8z"/>"#, server - 2);
        assert!(svg.contains(&arrow) && svg.contains(&head), "{arrow}{head} not in {svg}");
        assert!(svg.contains(&format!(r#"<text class="l" x="{}" y="14">12 B</text>"#, (c1 + server) / 2)), "{svg}");
        // A reply points the other way.
        let svg = super::svg(&outcome(vec![event("c1", Fact::Reset)]));
        assert!(svg.contains(&format!(r#"x1="{c1}" y1="19" x2="{}""#, server - 2)), "{svg}");
        let svg = super::svg(&outcome(vec![event("c1", Fact::ClosedByServer { after: crate::facts::Micros(5) })]));
        let back = format!(r#"<line class="a ctl" x1="{server}" y1="19" x2="{}" y2="19"/>"#, c1 + 2);
        assert!(svg.contains(&back) && svg.contains(&format!(r#"d="M{} 19l8 -4v8z""#, c1 + 2)), "{back} not in {svg}");
    }

    #[test]
    fn a_client_check_draws_typed_lines_from_stdin_to_the_client() {
        let events = vec![
            event("sockcheck", Fact::Nothing),
            event("stdin", Fact::Typed { bytes: 6 }),
            event("stdin", Fact::InputEnded { pty: false }),
            event("process", Fact::Nothing),
        ];
        let svg = svg(&outcome(events));
        assert_eq!(headings(&svg)[..4], ["stdin", "stdout", "client", "server"]);
        let col = COL_MANY;
        let (stdin, client) = (GUTTER + col / 2, GUTTER + col / 2 + 2 * col);
        let typed = format!(r#"<line class="a send" x1="{stdin}" y1="19" x2="{}" y2="19"/>"#, client - 2);
        assert!(svg.contains(&typed), "{typed} not in {svg}");
        assert!(svg.contains(">6 B</text>") && svg.contains(">EOF</text>"), "{svg}");
        assert!(svg.contains(">start</text>") && svg.contains(">exit</text>"), "{svg}");
        assert!(!svg.contains("✗"), "{svg}");
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(size(12), "12 B");
        assert_eq!(size(1 << 16), "64 KiB");
        assert_eq!(size(1 << 24), "16 MiB");
        assert_eq!(size(1536), "1.5 KiB");
    }
}
