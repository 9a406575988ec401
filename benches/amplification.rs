//! What a hostile JSON body costs in memory: the example server's peak RSS
//! growth for one ~4 MB body (just under the 4 MiB `max_request_bytes`)
//! of each shape, over the body's size, with the layer's decode limits
//! (`max_decoded_bytes`, `max_json_depth`: the defaults) and without them
//! (both set to their maximum, as before they existed), side by side.
//!
//! Last, a long NDJSON stream both ways (`EchoChat`, 1 MiB lines, the
//! answers read and dropped by the client): what a streamed body costs
//! whatever its length; `AMPLIFICATION_STREAM_GIB` sets its size (default 2).
//!
//! `cargo bench --bench amplification` (about 30 s). Each row runs against
//! a fresh server child (the example's `common::serve_with`, one worker
//! thread), so rows do not share an allocator's history: warm-up calls,
//! the baseline `VmRSS`, then `VmHWM` reset (`/proc/PID/clear_refs` = 5),
//! the body (or 16 at once), and the new `VmHWM`. Factor = peak growth /
//! bytes sent. Loopback only, 13 server children in all.
#![allow(missing_docs)]

#[path = "../examples/common/mod.rs"]
mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

const CHILD_ENV: &str = "AMPLIFICATION_CHILD";
const TOKEN_ENV: &str = "AMPLIFICATION_TOKEN";
/// Just under the default `max_request_bytes` (4 MiB).
const BODY: usize = 4_000_000;

fn main() {
    if let Ok(config) = std::env::var(CHILD_ENV) {
        return child(&config);
    }
    let configs = [
        ("limits (defaults)", String::new()),
        (
            "no decode limits",
            format!(
                "[server]\nmax_decoded_bytes = {}\nmax_json_depth = {}\n",
                i64::MAX,
                u32::MAX
            ),
        ),
    ];
    let book = "/library.v1.LibraryService/CreateBook";
    // `shelves/999` does not exist: every body is read, encoded and decoded
    // by tonic, then refused by the handler (nothing is stored).
    let cases: [(&str, &str, String, usize, bool); 6] = [
        ("one 4 MB string", book, one_string(), 1, false),
        ("1.33M empty tags", book, tags(), 1, false),
        ("360k map entries", book, labels(), 1, false),
        (
            "unknown REST field [0,0,...]",
            "/v1/shelves/999/books",
            unknown(),
            1,
            false,
        ),
        ("16 x empty tags at once", book, tags(), 16, false),
        ("empty tags, wrong token", book, tags(), 1, true),
    ];
    println!(
        "{:<30} | {:>28} | {:>28}",
        "body (~4 MB)", configs[0].0, configs[1].0
    );
    println!("{:-<30}-+-{:->28}-+-{:->28}", "", "", "");
    for (name, path, body, at_once, wrong_token) in &cases {
        let mut cells = Vec::new();
        for (_, config) in &configs {
            let server = Server::start(config, *wrong_token);
            let (grown_kib, statuses) = server.peak_growth(|addr| {
                std::thread::scope(|s| {
                    let calls: Vec<_> = (0..*at_once)
                        .map(|_| s.spawn(|| post(addr, path, body, *wrong_token)))
                        .collect();
                    calls.into_iter().map(|c| c.join().unwrap()).collect()
                })
            });
            server.stop();
            let sent = body.len() * at_once;
            let mut codes: Vec<u16> = statuses;
            codes.dedup();
            let codes: Vec<String> = codes.iter().map(u16::to_string).collect();
            cells.push(format!(
                "{:>4} +{:>4} MiB {:>5.1}x",
                codes.join(","),
                grown_kib / 1024,
                (grown_kib * 1024) as f64 / sent as f64
            ));
        }
        println!("{name:<30} | {:>28} | {:>28}", cells[0], cells[1]);
    }
    let gib: u64 = std::env::var("AMPLIFICATION_STREAM_GIB")
        .ok()
        .map(|g| {
            g.parse()
                .expect("AMPLIFICATION_STREAM_GIB: a number of GiB")
        })
        .unwrap_or(2);
    let server = Server::start("", false);
    let started = std::time::Instant::now();
    let (grown_kib, (sent, received)) = server.peak_growth(|addr| stream_both_ways(addr, gib));
    server.stop();
    println!(
        "NDJSON stream both ways: {:.1} GiB sent, {:.1} GiB answered in {:.1} s; peak RSS +{} MiB",
        sent as f64 / (1u64 << 30) as f64,
        received as f64 / (1u64 << 30) as f64,
        started.elapsed().as_secs_f64(),
        grown_kib / 1024
    );
}

/// `gib` GiB of 1 MiB NDJSON lines to `EchoChat` over one HTTP/1.1
/// connection (chunked), the answers read as they come and dropped: bytes
/// sent and received.
fn stream_both_ways(addr: SocketAddr, gib: u64) -> (u64, u64) {
    let mut stream = TcpStream::connect(addr).unwrap();
    let mut reader = stream.try_clone().unwrap();
    let receiving = std::thread::spawn(move || {
        let mut buf = vec![0; 1 << 16];
        let mut total = 0u64;
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            total += n as u64;
        }
        total
    });
    let line = format!("{{\"message\":\"{}\"}}\n", "x".repeat((1 << 20) - 16));
    stream
        .write_all(
            b"POST /echo.v1.EchoService/EchoChat HTTP/1.1\r\nhost: bench\r\n\
              content-type: application/x-ndjson\r\ntransfer-encoding: chunked\r\n\
              connection: close\r\n\r\n",
        )
        .unwrap();
    let mut sent = 0u64;
    for _ in 0..gib * 1024 {
        let chunk = format!("{:x}\r\n{line}\r\n", line.len());
        stream.write_all(chunk.as_bytes()).unwrap();
        sent += line.len() as u64;
    }
    stream.write_all(b"0\r\n\r\n").unwrap();
    let received = receiving.join().unwrap();
    (sent, received)
}

fn one_string() -> String {
    let text = "x".repeat(BODY - 60);
    format!(r#"{{"parent":"shelves/999","book":{{"title":"{text}"}}}}"#)
}

fn tags() -> String {
    let n = (BODY - 60) / 3;
    let mut tags = String::with_capacity(BODY);
    for i in 0..n {
        tags.push_str(if i == 0 { r#""""# } else { r#","""# });
    }
    format!(r#"{{"parent":"shelves/999","book":{{"tags":[{tags}]}}}}"#)
}

fn labels() -> String {
    let mut entries = String::with_capacity(BODY);
    let mut i = 0u64;
    while entries.len() < BODY - 80 {
        if i > 0 {
            entries.push(',');
        }
        entries.push_str(&format!(r#""{i}":"""#));
        i += 1;
    }
    format!(r#"{{"parent":"shelves/999","book":{{"labels":{{{entries}}}}}}}"#)
}

fn unknown() -> String {
    let zeros = vec!["0"; (BODY - 20) / 2].join(",");
    format!(r#"{{"unknown":[{zeros}]}}"#)
}

/// One HTTP/1.1 POST on its own connection; the status (0: no answer).
fn post(addr: SocketAddr, path: &str, body: &str, token: bool) -> u16 {
    let Ok(mut stream) = TcpStream::connect(addr) else {
        return 0;
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let auth = if token {
        "authorization: Bearer wrong\r\n"
    } else {
        ""
    };
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: bench\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n{auth}connection: close\r\n\r\n",
        body.len()
    );
    // The server may answer (and stop reading) early: a failed write is
    // not an error here; the answer is.
    let _ = stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body.as_bytes()));
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    text.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

/// The example server (the child), until its stdin closes.
fn child(config: &str) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let config = dual_protocol::Config::from_toml(config).unwrap();
    let token = std::env::var(TOKEN_ENV).ok();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    println!("{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let mut sink = String::new();
        let _ = std::io::stdin().read_to_string(&mut sink);
        let _ = stop.send(());
    });
    runtime
        .block_on(common::serve_with(
            listener,
            &config,
            token,
            common::serve::Limits::default(),
            async {
                let _ = stopped.await;
            },
        ))
        .unwrap();
}

struct Server {
    child: std::process::Child,
    addr: SocketAddr,
}

impl Server {
    fn start(config: &str, token: bool) -> Self {
        let mut command = std::process::Command::new(std::env::current_exe().unwrap());
        command
            .env(CHILD_ENV, config)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped());
        if token {
            command.env(TOKEN_ENV, "right");
        }
        let mut child = command.spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line.trim().parse().expect("the child's address");
        Self { child, addr }
    }

    fn status_kib(&self, field: &str) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default()
            .lines()
            .find_map(|line| line.strip_prefix(field))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("the child's /proc status")
    }

    /// Runs `load` after warming up; the peak RSS growth (KiB) it caused
    /// and what it returned.
    fn peak_growth<T>(&self, load: impl FnOnce(SocketAddr) -> T) -> (u64, T) {
        for _ in 0..20 {
            post(
                self.addr,
                "/library.v1.LibraryService/CreateBook",
                r#"{"parent":"shelves/999","book":{"title":"warm","tags":["a"]}}"#,
                false,
            );
        }
        std::thread::sleep(Duration::from_millis(200));
        let baseline = self.status_kib("VmRSS:");
        std::fs::write(format!("/proc/{}/clear_refs", self.child.id()), "5")
            .expect("reset the child's VmHWM");
        let out = load(self.addr);
        std::thread::sleep(Duration::from_millis(100));
        let peak = self.status_kib("VmHWM:");
        (peak.saturating_sub(baseline), out)
    }

    fn stop(mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}
