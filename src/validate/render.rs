//! Rendering diagnostics: human (miette excerpts with the span underlined, coloured when the
//! caller decided so), JSON (a stable array), and GitHub workflow annotations.

use std::collections::HashSet;
use std::fmt;
use std::io::Write;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan};
use serde::Serialize;

use super::Diagnostic;
use crate::diagnostic::Severity;

/// How diagnostics are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Annotated source excerpts (miette), coloured when the caller says so.
    #[default]
    Human,
    /// A JSON array of {code, severity, message, file, line, column, help}.
    Json,
    /// GitHub Actions workflow annotations (`::error file=…,line=…::`).
    Github,
}

/// Writes diagnostics in `format`; `color` (decided once by the caller) styles human output.
/// Human output ends with a summary line.
pub fn render(
    diagnostics: &[Diagnostic],
    format: Format,
    color: bool,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    match format {
        Format::Json => {
            let rows: Vec<JsonDiagnostic<'_>> =
                diagnostics.iter().map(JsonDiagnostic::from).collect();
            serde_json::to_writer_pretty(&mut *out, &rows)?;
            writeln!(out)
        }
        Format::Github => {
            for d in diagnostics {
                writeln!(out, "{}", github(d))?;
            }
            Ok(())
        }
        Format::Human => {
            let theme = if color {
                GraphicalTheme::unicode()
            } else {
                GraphicalTheme::none()
            };
            let handler = GraphicalReportHandler::new_themed(theme)
                .with_width(100)
                .with_links(false)
                .with_context_lines(1);
            let mut buf = String::new();
            for (i, d) in diagnostics.iter().enumerate() {
                buf.clear();
                if i > 0 {
                    buf.push('\n');
                }
                let report = Report::new(d);
                if handler.render_report(&mut buf, &report).is_err() {
                    buf = format!(
                        "{}: {} [{}]\n",
                        severity_word(d.severity),
                        d.message,
                        d.code
                    );
                }
                out.write_all(buf.as_bytes())?;
            }
            if let Some(line) = summary(diagnostics) {
                writeln!(out, "\n{line}")?;
            }
            Ok(())
        }
    }
}

fn severity_word(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

/// `error: 3 errors, 1 warning in 2 files`, or `None` without diagnostics.
pub fn summary(diagnostics: &[Diagnostic]) -> Option<String> {
    if diagnostics.is_empty() {
        return None;
    }
    let errors = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = diagnostics.len() - errors;
    let files: HashSet<_> = diagnostics.iter().filter_map(|d| d.file.as_ref()).collect();
    let mut parts = Vec::new();
    if errors > 0 {
        parts.push(plural(errors, "error"));
    }
    if warnings > 0 {
        parts.push(plural(warnings, "warning"));
    }
    let head = if errors > 0 { "error" } else { "warning" };
    let mut line = format!("{head}: {}", parts.join(", "));
    if !files.is_empty() {
        line.push_str(&format!(" in {}", plural(files.len(), "file")));
    }
    Some(line)
}

/// The published JSON form of a diagnostic.
#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    code: &'a str,
    severity: Severity,
    message: String,
    file: Option<String>,
    line: Option<usize>,
    column: Option<usize>,
    help: Option<&'a str>,
}

impl<'a> From<&'a Diagnostic> for JsonDiagnostic<'a> {
    fn from(d: &'a Diagnostic) -> Self {
        JsonDiagnostic {
            code: &d.code,
            severity: d.severity,
            message: message_with_related(d),
            file: d.file.as_ref().map(|f| f.display().to_string()),
            line: d.line,
            column: d.column,
            help: d.help.as_deref(),
        }
    }
}

/// The message, with the related place appended for formats that show no excerpt.
fn message_with_related(d: &Diagnostic) -> String {
    match d.related.as_deref() {
        Some(r) => match (&r.file, r.line, r.column) {
            (Some(f), Some(l), Some(c)) => {
                format!("{} ({} at {}:{l}:{c})", d.message, r.message, f.display())
            }
            _ => d.message.clone(),
        },
        None => d.message.clone(),
    }
}

fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// `::error file=…,line=…,col=…,title=…::message`.
fn github(d: &Diagnostic) -> String {
    let mut props = Vec::new();
    if let Some(f) = &d.file {
        props.push(format!(
            "file={}",
            escape_property(&f.display().to_string())
        ));
    }
    if let Some(l) = d.line {
        props.push(format!("line={l}"));
    }
    if let Some(c) = d.column {
        props.push(format!("col={c}"));
    }
    props.push(format!("title={}", escape_property(&d.code)));
    let mut message = message_with_related(d);
    if let Some(h) = &d.help {
        message.push_str("\nhelp: ");
        message.push_str(h);
    }
    format!(
        "::{} {}::{}",
        severity_word(d.severity),
        props.join(","),
        escape_data(&message)
    )
}

/// A [`Diagnostic`] seen by miette.
struct Report<'a> {
    d: &'a Diagnostic,
    /// Rendered as a note attached to another diagnostic.
    advice: bool,
    /// The related place when it is in another file: its own excerpt.
    other: Option<Box<Report<'a>>>,
}

impl<'a> Report<'a> {
    fn new(d: &'a Diagnostic) -> Report<'a> {
        let other = match &d.related {
            Some(r) if !same_source(d, r) && r.source.is_some() && r.span.is_some() => {
                Some(Box::new(Report {
                    d: r,
                    advice: true,
                    other: None,
                }))
            }
            _ => None,
        };
        Report {
            d,
            advice: false,
            other,
        }
    }
}

impl fmt::Debug for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.d.message)
    }
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.d.message)
    }
}

impl std::error::Error for Report<'_> {}

impl miette::Diagnostic for Report<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        (!self.advice).then(|| Box::new(&self.d.code) as Box<dyn fmt::Display>)
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match (self.advice, self.d.severity) {
            (true, _) => miette::Severity::Advice,
            (false, Severity::Error) => miette::Severity::Error,
            (false, Severity::Warning) => miette::Severity::Warning,
        })
    }

    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.d
            .help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        if self.d.span.is_some() {
            self.d
                .source
                .as_deref()
                .map(|s| s as &dyn miette::SourceCode)
        } else {
            None
        }
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let span = self.d.span.clone()?;
        self.d.source.as_ref()?;
        let mut labels = vec![LabeledSpan::new_primary_with_span(
            self.d.label.clone(),
            (span.start, span.end - span.start),
        )];
        // A related place in the same file is a second label of the same excerpt.
        if let Some(r) = &self.d.related {
            if let (Some(rs), true) = (&r.span, same_source(self.d, r)) {
                labels.push(LabeledSpan::new_with_span(
                    r.label.clone(),
                    (rs.start, rs.end - rs.start),
                ));
            }
        }
        Some(Box::new(labels.into_iter()))
    }

    fn related<'b>(&'b self) -> Option<Box<dyn Iterator<Item = &'b dyn miette::Diagnostic> + 'b>> {
        let other = self.other.as_deref()?;
        Some(Box::new(std::iter::once(other as &dyn miette::Diagnostic)))
    }
}

fn same_source(a: &Diagnostic, b: &Diagnostic) -> bool {
    match (&a.source, &b.source) {
        (Some(x), Some(y)) => std::sync::Arc::ptr_eq(x, y),
        _ => false,
    }
}
