//! A real SMTP server for the tests: `tests/support/smtp_sink.py` (aiosmtpd) on a loopback
//! port, writing each message it receives as JSON into a temp dir; and the serve options
//! that deliver to it quickly (short retry delays).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tenantctl::server::mail::{Backoff, MailConfig, SmtpSettings};
use tenantctl::server::ServeOptions;

/// A running SMTP sink; stopped when dropped.
pub struct SmtpSink {
    child: Child,
    dir: tempfile::TempDir,
}

/// A loopback port nothing listens on (now).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Serve options delivering e-mail to `127.0.0.1:port` without TLS, retrying every few
/// hundred milliseconds, with links under `https://admin.example`.
pub fn mail_options(port: u16) -> ServeOptions {
    let smtp = SmtpSettings::parse(&format!("smtp://127.0.0.1:{port}?tls=none")).unwrap();
    ServeOptions {
        mail: MailConfig {
            smtp: Some(smtp),
            from: "Platform <platform@admin.example>".into(),
            backoff: Backoff {
                base: Duration::from_millis(200),
                max: Duration::from_millis(800),
            },
            poll: Duration::from_millis(500),
        },
        public_url: Some("https://admin.example".into()),
        ..ServeOptions::default()
    }
}

impl SmtpSink {
    /// Starts the sink on `port` and waits until it listens.
    pub fn start(port: u16) -> SmtpSink {
        let dir = tempfile::tempdir().unwrap();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/smtp_sink.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(port.to_string())
            .arg(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs (the SMTP sink needs python3 and `pip install aiosmtpd`)");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        assert_eq!(
            line.trim(),
            "ready",
            "the SMTP sink did not start (is aiosmtpd installed? `pip install aiosmtpd`)"
        );
        SmtpSink { child, dir }
    }

    /// The messages received so far, in no particular order.
    pub fn messages(&self) -> Vec<Value> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(self.dir.path()).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "json") {
                out.push(serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap());
            }
        }
        out
    }

    /// Waits (up to 20 s) until `n` messages have arrived for `to`; returns them.
    pub async fn wait_for(&self, to: &str, n: usize) -> Vec<Value> {
        let start = Instant::now();
        loop {
            let got: Vec<Value> = self
                .messages()
                .into_iter()
                .filter(|m| {
                    m["rcpt_tos"]
                        .as_array()
                        .is_some_and(|a| a.iter().any(|r| r == to))
                })
                .collect();
            if got.len() >= n {
                return got;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "{n} message(s) for {to} did not arrive in 20 s; got {got:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `token` of the one link in an e-mail's text, checking that the HTML has the same.
pub fn link_token(message: &Value) -> String {
    let text = message["text"].as_str().unwrap();
    let start = text
        .find("https://admin.example/accept-invitation?token=")
        .unwrap_or_else(|| panic!("no link in {text}"));
    let link: String = text[start..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
    assert!(
        message["html"].as_str().unwrap().contains(&link),
        "the HTML part carries the same link"
    );
    link.split("token=").nth(1).unwrap().to_string()
}
