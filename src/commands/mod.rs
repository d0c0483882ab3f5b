//! One module per command. [`run`] resolves the command line once into [`Settings`] and a
//! [`Run`]; each command takes its resolved flags and the settings and returns an [`Exit`].
//! Errors are `miette` reports rendered by `main`; stdout goes through [`print`], so that a
//! reader that went away is told apart from a failure ([`StdoutError`]).

use std::io::Write;
use std::process::ExitCode;

use miette::IntoDiagnostic;

use crate::cli::Cli;
use crate::connect::Platform;
use crate::pipeline::PipelineError;

pub mod apply;
pub mod backup;
pub mod docs;
pub mod explain;
pub mod export;
pub mod plan;
pub mod schema;
pub mod serve;
pub mod settings;
pub mod show;
pub mod token;
pub mod users;
pub mod validate;

pub use settings::{Run, Settings};

/// The process exit status (PRODUCT.md §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Success; with `--detailed-exitcode`, also "no changes".
    Success,
    /// An error of any kind, validation included.
    Failure,
    /// Changes present (only with `--detailed-exitcode`).
    Changes,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        match e {
            Exit::Success => ExitCode::SUCCESS,
            Exit::Failure => ExitCode::from(1),
            Exit::Changes => ExitCode::from(2),
        }
    }
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> miette::Result<Exit> {
    let (settings, run) = settings::resolve(cli)?;
    match run {
        Run::Validate(r) => validate::run(r, &settings),
        Run::Plan(r) => plan::run(r, &settings),
        Run::Apply(r) => apply::run(r, &settings),
        Run::Show(r) => show::run(r, &settings),
        Run::Export(args) => export::run(args, &settings),
        Run::Explain(args) => explain::run(args, &settings),
        Run::UsersExport(args) => users::run(args, &settings),
        Run::Schema => schema::run(),
        Run::Serve(run) => serve::run(run),
        Run::TokenCreate(args) => token::run(args, &settings),
        Run::TokenList(args) => token::list(args, &settings),
        Run::TokenRevoke(args) => token::revoke(args, &settings),
        Run::Backup(run) => backup::backup(run, &settings),
        Run::BackupVerify(file) => backup::verify(&file),
        Run::Restore(args) => backup::restore(args, &settings),
        Run::Completions(shell) => docs::completions(shell),
        Run::Man(out) => docs::man(out.as_deref()),
    }
}

/// Ends a command line clap refused, or `--help`/`--version`: prints clap's text and exits
/// 0 for help and version, 1 for a usage error (clap's own 2 would read as "changes present"
/// to a `plan --detailed-exitcode` job). Help that cannot be written is a failure, except
/// to a reader that went away.
pub fn usage_error(e: &clap::Error) -> ExitCode {
    let exit = if e.use_stderr() {
        Exit::Failure
    } else {
        Exit::Success
    };
    if let Err(source) = e.print() {
        if source.kind() != std::io::ErrorKind::BrokenPipe {
            print_error(&StdoutError { source, exit }.into());
            return Exit::Failure.into();
        }
    }
    exit.into()
}

/// Writing to stdout failed. When its reader went away (`tenantctl … | head`), `main` ends
/// quietly with `exit`, the status the command had reached; any other failure is reported.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("cannot write to stdout")]
pub struct StdoutError {
    pub source: std::io::Error,
    /// The exit status if the reader went away.
    pub exit: Exit,
}

impl StdoutError {
    /// The status to end with, when this is a reader that went away rather than a failure.
    pub fn broken_pipe(&self) -> Option<Exit> {
        (self.source.kind() == std::io::ErrorKind::BrokenPipe).then_some(self.exit)
    }
}

/// The outcome of writing to stdout; `exit` is the status to end with if its reader went away.
pub fn written(result: std::io::Result<()>, exit: Exit) -> miette::Result<()> {
    result.map_err(|source| StdoutError { source, exit }.into())
}

/// The values of the `${env:…}` variables this run has seen (the configuration's, and the
/// platform's sensitive fields): every text this command prints goes through them.
static SECRETS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Adds secret values to keep out of everything printed from now on.
pub fn keep_secret(values: &[String]) {
    if values.is_empty() {
        return;
    }
    if let Ok(mut s) = SECRETS.lock() {
        s.extend(values.iter().cloned());
    }
}

/// `text` with the secrets seen so far masked.
pub fn redact(text: &str) -> std::borrow::Cow<'_, str> {
    let secrets = SECRETS.lock().map(|s| s.clone()).unwrap_or_default();
    if secrets.is_empty() {
        return std::borrow::Cow::Borrowed(text);
    }
    match crate::diagnostic::Redactor::new(secrets).redact(text) {
        std::borrow::Cow::Borrowed(_) => std::borrow::Cow::Borrowed(text),
        std::borrow::Cow::Owned(s) => std::borrow::Cow::Owned(s),
    }
}

/// Writes `text` on stdout (secrets masked) and flushes it; see [`written`] for `exit`.
pub fn print(text: &str, exit: Exit) -> miette::Result<()> {
    let text = redact(text);
    let mut out = std::io::stdout().lock();
    written(
        out.write_all(text.as_bytes()).and_then(|()| out.flush()),
        exit,
    )
}

/// Renders an error report on stderr, secrets masked.
pub fn print_error(report: &miette::Report) {
    eprintln!("{}", redact(&format!("{report:?}")));
}

/// A tokio runtime for commands that do I/O.
pub fn runtime() -> miette::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| miette::miette!("cannot start the async runtime: {e}"))
}

/// Connects to the platform of the settings (said on stderr when it is the embedded one),
/// runs `work` against it on a fresh runtime, and closes it whatever the outcome.
pub fn with_platform<T>(
    settings: &Settings,
    work: impl AsyncFnOnce(&Platform) -> miette::Result<T>,
) -> miette::Result<T> {
    runtime()?.block_on(async {
        let p = Platform::connect(&settings.connection)
            .await
            .into_diagnostic()?;
        if let Some(db) = p.embedded_db() {
            eprintln!("using the embedded local platform ({})", db.display());
        }
        let r = work(&p).await;
        p.close().await;
        r
    })
}

/// A pipeline outcome for a command: an invalid configuration is rendered on stderr and
/// gives `None`; any other failure is an error report.
pub fn configured<T>(
    result: Result<T, PipelineError>,
    settings: &Settings,
) -> miette::Result<Option<T>> {
    match result {
        Ok(t) => Ok(Some(t)),
        Err(PipelineError::Invalid {
            diagnostics,
            errors,
            secrets,
        }) => {
            keep_secret(&secrets);
            show_diagnostics(&diagnostics, settings)?;
            eprintln!("error: the configuration has {errors} error(s); nothing was planned");
            Ok(None)
        }
        Err(e) => Err(e).into_diagnostic(),
    }
}

/// Renders diagnostics for humans on stderr.
pub fn show_diagnostics(
    diagnostics: &[crate::validate::Diagnostic],
    settings: &Settings,
) -> miette::Result<()> {
    if diagnostics.is_empty() {
        return Ok(());
    }
    crate::validate::render(
        diagnostics,
        crate::validate::Format::Human,
        settings.color,
        &mut std::io::stderr(),
    )
    .into_diagnostic()
}
