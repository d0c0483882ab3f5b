//! Schema and rule checks of the desired state → diagnostics placed at their YAML line. No I/O
//! beyond reading the files.
//!
//! INTERIM: a minimal loader without source positions; the full pipeline (spans, JSON Schema,
//! miette rendering) replaces the internals, keeping these signatures.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::cli::DiagnosticFormat;
use crate::rules::{self, Severity};
use crate::spec::{Desired, Document};

/// One problem found in the desired state.
#[derive(Debug, Clone, Serialize)]
pub struct Diagnostic {
    /// `tenantctl::unknown_plan`.
    pub code: String,
    pub severity: Severity,
    pub message: String,
    pub file: Option<PathBuf>,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub help: Option<String>,
}

/// The outcome of loading and checking paths.
#[derive(Debug, Default)]
pub struct Checked {
    /// The desired state, when there is no error.
    pub desired: Option<Desired>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Checked {
    pub fn error_count(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }

    pub fn warning_count(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Warning)
            .count()
    }
}

fn collect(path: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for e in entries {
            if e.is_dir() || matches!(e.extension().and_then(|x| x.to_str()), Some("yaml" | "yml"))
            {
                collect(&e, out)?;
            }
        }
    } else {
        out.push(path.to_path_buf());
    }
    Ok(())
}

fn diag(code: &str, message: String, file: Option<&Path>) -> Diagnostic {
    Diagnostic {
        code: format!("tenantctl::{code}"),
        severity: Severity::Error,
        message,
        file: file.map(Path::to_path_buf),
        line: None,
        column: None,
        help: None,
    }
}

/// Loads YAML files and directories, merges them and checks schema and rules. Never panics.
pub fn check_paths(paths: &[PathBuf]) -> Checked {
    let mut checked = Checked::default();
    let mut files = Vec::new();
    for p in paths {
        if let Err(e) = collect(p, &mut files) {
            checked.diagnostics.push(diag(
                "io",
                format!("cannot read `{}`: {e}", p.display()),
                Some(p),
            ));
        }
    }
    let mut merged = Document::default();
    for f in &files {
        let text = match std::fs::read_to_string(f) {
            Ok(t) => t,
            Err(e) => {
                checked.diagnostics.push(diag(
                    "io",
                    format!("cannot read `{}`: {e}", f.display()),
                    Some(f),
                ));
                continue;
            }
        };
        match serde_saphyr::from_str::<Document>(&text) {
            Ok(doc) => {
                merged.plans.extend(doc.plans);
                merged.models.extend(doc.models);
                merged.roles.extend(doc.roles);
                merged.tenants.extend(doc.tenants);
                merged.users.extend(doc.users);
            }
            Err(e) => checked
                .diagnostics
                .push(diag("yaml", e.to_string(), Some(f))),
        }
    }
    let desired = merged.to_desired();
    for v in rules::check(&desired.state) {
        checked.diagnostics.push(Diagnostic {
            code: format!("tenantctl::{}", v.code),
            severity: v.severity,
            message: v.message,
            file: None,
            line: None,
            column: None,
            help: v.help,
        });
    }
    if checked.error_count() == 0 {
        checked.desired = Some(desired);
    }
    checked
}

/// Writes diagnostics in the chosen format.
pub fn render(
    diagnostics: &[Diagnostic],
    format: DiagnosticFormat,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    match format {
        DiagnosticFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, diagnostics)?;
            writeln!(out)
        }
        _ => {
            for d in diagnostics {
                writeln!(out, "{:?}: {} [{}]", d.severity, d.message, d.code)?;
            }
            Ok(())
        }
    }
}
