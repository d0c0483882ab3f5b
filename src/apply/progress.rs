//! Progress of an apply resource by resource, on stderr: on a terminal a bar with the
//! elapsed time, the rate and an estimate; in a log (CI, a pipe) a line every few seconds,
//! `applied 1,000/14,615 (3.1 s, 320/s)`, and one at the end.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::render::thousands;

/// How progress is shown (decided once, by `commands::settings`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// A bar redrawn in place: stderr is a terminal.
    Bar,
    /// A line every [`LINE_EVERY`] and one at the end: stderr is a log.
    Lines,
    /// Nothing (a caller that reports on its own, such as the benches).
    Hidden,
}

/// How often a log gets a progress line.
pub const LINE_EVERY: Duration = Duration::from_secs(2);

/// The progress of one apply.
pub(super) struct Reporter {
    bar: Option<ProgressBar>,
    ticker: Option<tokio::task::JoinHandle<()>>,
    done: Arc<AtomicUsize>,
    total: usize,
    started: Instant,
}

impl Reporter {
    /// Starts reporting `total` writes; must be called on the runtime (the log's ticker is a
    /// task).
    pub(super) fn start(progress: Progress, total: usize) -> Reporter {
        let done = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let (bar, ticker) = match progress {
            Progress::Bar => {
                let style = ProgressStyle::with_template(
                    "{spinner} applying [{bar:30}] {human_pos}/{human_len} {elapsed} {per_sec} eta {eta} {wide_msg}",
                )
                .map(|s| s.progress_chars("=> "));
                let b =
                    ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
                let b = match style {
                    Ok(s) => b.with_style(s),
                    Err(_) => b,
                };
                (Some(b), None)
            }
            Progress::Hidden => (None, None),
            Progress::Lines => {
                let done = done.clone();
                let ticker = tokio::spawn(async move {
                    let mut every = tokio::time::interval(LINE_EVERY);
                    every.tick().await;
                    loop {
                        every.tick().await;
                        say(&line(
                            done.load(Ordering::Relaxed),
                            total,
                            started.elapsed(),
                        ));
                    }
                });
                (None, Some(ticker))
            }
        };
        Reporter {
            bar,
            ticker,
            done,
            total,
            started,
        }
    }

    /// One more write done.
    pub(super) fn inc(&self) {
        self.done.fetch_add(1, Ordering::Relaxed);
        if let Some(b) = &self.bar {
            b.inc(1);
        }
    }

    /// Stops reporting: the bar is cleared; a log gets its last line.
    pub(super) fn finish(self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
        if let Some(t) = &self.ticker {
            t.abort();
            say(&line(
                self.done.load(Ordering::Relaxed),
                self.total,
                self.started.elapsed(),
            ));
        }
    }
}

/// Writes a line on stderr; a stderr that cannot take it is no reason to stop an apply.
fn say(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{text}");
}

/// `applied 1,000/14,615 (3.1 s, 320/s)`.
pub fn line(done: usize, total: usize, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64();
    let rate = if secs > 0.0 {
        (done as f64 / secs).round() as usize
    } else {
        0
    };
    format!(
        "applied {}/{} ({}, {}/s)",
        thousands(done),
        thousands(total),
        seconds(elapsed),
        thousands(rate)
    )
}

/// A duration for people: `0.4 s`, `12.3 s`, `2 min 5 s`.
pub fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 60.0 {
        format!("{s:.1} s")
    } else {
        let whole = d.as_secs();
        format!("{} min {} s", whole / 60, whole % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_read_as_in_a_log() {
        assert_eq!(
            line(1000, 14615, Duration::from_millis(3125)),
            "applied 1,000/14,615 (3.1 s, 320/s)"
        );
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(seconds(Duration::from_secs(125)), "2 min 5 s");
    }
}
