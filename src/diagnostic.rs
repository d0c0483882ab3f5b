//! The diagnostic primitives shared by loading, the rules and `validate`: how bad a problem
//! is ([`Severity`]), where it is ([`Place`]: a path, a byte range, or a JSON pointer into a
//! file, resolved to a line and column only when reported), and the problem itself
//! ([`Problem`]) before `validate` places it on a line; and the [`Redactor`] that keeps
//! secret values out of any text shown.

use std::ops::Range;
use std::path::PathBuf;

use serde::Serialize;

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Warning,
    Error,
}

/// Index of a file in the list of files read (`Loaded::files`).
pub type FileId = usize;

/// Which part of a pointed node a problem underlines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The mapping key (`acme:`), or the value when the node has no key.
    Key,
    /// The value.
    Value,
}

/// Where a problem is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// Not in any file (an empty set of paths).
    Nowhere,
    /// A path that could not be read.
    Path(PathBuf),
    /// A byte range of a file.
    Bytes(FileId, Range<usize>),
    /// A node of a file, by JSON pointer; resolved to a span when diagnostics are made.
    Pointer(FileId, String, Target),
}

/// A problem found while loading or checking, before it is placed on a line.
#[derive(Debug, Clone)]
pub struct Problem {
    /// Stable code without the `tenantctl::` prefix.
    pub code: &'static str,
    pub severity: Severity,
    pub message: String,
    pub help: Option<String>,
    pub place: Place,
    /// Text under the primary span.
    pub label: Option<String>,
    /// A second place that explains the first (the other declaration of a duplicate).
    pub related: Option<(Place, String)>,
}

impl Problem {
    pub fn error(code: &'static str, place: Place, message: impl Into<String>) -> Problem {
        Problem {
            code,
            severity: Severity::Error,
            message: message.into(),
            help: None,
            place,
            label: None,
            related: None,
        }
    }

    pub fn warning(code: &'static str, place: Place, message: impl Into<String>) -> Problem {
        Problem {
            severity: Severity::Warning,
            ..Problem::error(code, place, message)
        }
    }

    pub fn help(mut self, help: impl Into<String>) -> Problem {
        self.help = Some(help.into());
        self
    }

    pub fn maybe_help(mut self, help: Option<String>) -> Problem {
        self.help = help;
        self
    }

    pub fn label(mut self, label: impl Into<String>) -> Problem {
        self.label = Some(label.into());
        self
    }

    pub fn related(mut self, place: Place, label: impl Into<String>) -> Problem {
        self.related = Some((place, label.into()));
        self
    }
}

/// Keeps secret values (those of `${env:…}` variables) out of text: each occurrence becomes
/// `(sensitive)`. A backstop behind the structured masking of plans: any message that quotes
/// a value (a schema error, a platform's refusal) goes through it. Values shorter than
/// [`Redactor::MIN_LEN`] characters are not looked for: they would mask ordinary words.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    pub const MIN_LEN: usize = 4;

    pub fn new(mut secrets: Vec<String>) -> Redactor {
        secrets.retain(|s| s.chars().count() >= Self::MIN_LEN);
        // The longest first, so that a secret containing another is masked whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Redactor { secrets }
    }

    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// `text` with every secret replaced by `(sensitive)`.
    pub fn redact<'a>(&self, text: &'a str) -> std::borrow::Cow<'a, str> {
        let mut out = std::borrow::Cow::Borrowed(text);
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = std::borrow::Cow::Owned(out.replace(s.as_str(), "(sensitive)"));
            }
        }
        out
    }
}
