//! One module per command. Each takes the parsed arguments and the resolved global settings
//! and returns an [`Exit`]; errors are `miette` reports rendered by `main`.

use std::process::ExitCode;

use crate::cli::{Cli, Command};

pub mod apply;
pub mod explain;
pub mod export;
pub mod plan;
pub mod platform;
pub mod schema;
pub mod serve;
pub mod token;
pub mod users;
pub mod validate;

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

/// Global settings resolved from flags, environment and defaults.
#[derive(Debug, Clone)]
pub struct Global {
    pub endpoint: Option<String>,
    pub token: Option<String>,
    pub local_dir: std::path::PathBuf,
    pub max_rps: u32,
    pub timeout: std::time::Duration,
}

impl Global {
    fn from_cli(cli: &Cli) -> Global {
        Global {
            endpoint: cli.endpoint.clone().filter(|s| !s.is_empty()),
            token: cli.token.clone().filter(|s| !s.is_empty()),
            local_dir: cli.local_dir.clone(),
            max_rps: cli.max_rps,
            timeout: std::time::Duration::from_secs(cli.timeout.max(1)),
        }
    }
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> miette::Result<Exit> {
    let global = Global::from_cli(&cli);
    match cli.command {
        Command::Validate(args) => validate::run(args, &global),
        Command::Plan(args) => plan::run(args, &global),
        Command::Apply(args) => apply::run(args, &global),
        Command::Export(args) => export::run(args, &global),
        Command::Explain(args) => explain::run(args, &global),
        Command::Users(args) => users::run(args, &global),
        Command::Schema => schema::run(&global),
        Command::Serve(args) => serve::run(args, &global),
        Command::Token(args) => token::run(args, &global),
    }
}

/// Renders an error report on stderr.
pub fn print_error(report: &miette::Report) {
    eprintln!("{report:?}");
}

/// A tokio runtime for commands that do I/O.
pub fn runtime() -> miette::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| miette::miette!("cannot start the async runtime: {e}"))
}
