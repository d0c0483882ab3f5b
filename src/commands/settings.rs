//! Settings resolved once, right after parsing (ripgrep's low and high arguments): `cli.rs`
//! is what was typed, [`Settings`] and [`Run`] are what it means — the platform to reach, one
//! colour decision, one "interactive" decision, and each command's flags in the library's own
//! types (parsed targets, formats, apply mode). Commands read these, never the environment.

use std::io::IsTerminal;
use std::path::PathBuf;

use miette::miette;

use crate::apply::saved::SavedOptions;
use crate::apply::{Mode, Progress};
use crate::cli::{
    ApplyArgs, BackupArgs, BackupCommand, BackupVerifyArgs, Cli, Command, CompletionsArgs,
    DiagnosticFormat, ExplainArgs, ExplainUserArgs, ExplainWhat, ExportArgs, ManArgs, PlanArgs,
    PlanFlags, PlanFormat, PlatformArgs, RestoreArgs, ServeArgs, ShowArgs, TokenArgs, TokenCommand,
    TokenCreateArgs, TokenListArgs, TokenRevokeArgs, UsersArgs, UsersCommand, UsersExportArgs,
    ValidateArgs,
};
use crate::connect::Connection;
use crate::plan::{self, PlanOptions};
use crate::server::backup::schedule::Schedule;
use crate::{render, validate};

/// What every command may need, decided once.
#[derive(Debug, Clone)]
pub struct Settings {
    pub connection: Connection,
    /// Whether output is coloured: stdout is a terminal (or `CLICOLOR_FORCE` is set) and
    /// `NO_COLOR` is not. Diagnostics on stderr follow the same decision.
    pub color: bool,
    /// Whether a human can be asked: stdin and stderr are terminals.
    pub interactive: bool,
    /// How progress is shown: a bar when stderr is a terminal, lines in a log otherwise.
    pub progress: Progress,
}

/// A command with its flags resolved.
#[derive(Debug)]
pub enum Run {
    Validate(ValidateRun),
    Plan(PlanRun),
    Apply(ApplyRun),
    Show(ShowRun),
    Export(ExportArgs),
    Explain(ExplainUserArgs),
    UsersExport(UsersExportArgs),
    Schema,
    Serve(ServeRun),
    TokenCreate(TokenCreateArgs),
    TokenList(TokenListArgs),
    TokenRevoke(TokenRevokeArgs),
    Backup(BackupRun),
    BackupVerify(PathBuf),
    Restore(RestoreArgs),
    Completions(clap_complete::Shell),
    /// `man`, with the directory to write the pages to.
    Man(Option<PathBuf>),
}

/// `serve`.
#[derive(Debug)]
pub struct ServeRun {
    pub args: ServeArgs,
    /// The SMTP user name and password, from TENANTCTL_SMTP_USERNAME and
    /// TENANTCTL_SMTP_PASSWORD (never the command line).
    pub smtp_credentials: Option<(String, String)>,
    /// Whether logs are coloured: stderr is a terminal (and `NO_COLOR` is not set). A log
    /// file gets no escape sequences.
    pub ansi: bool,
    /// Scheduled backups (`--backup-dir`, `--backup-at`, `--backup-keep`).
    pub backups: Option<Schedule>,
}

/// `backup --out FILE`.
#[derive(Debug)]
pub struct BackupRun {
    pub database: String,
    pub out: PathBuf,
}

/// `validate`.
#[derive(Debug)]
pub struct ValidateRun {
    pub paths: Vec<PathBuf>,
    pub format: validate::Format,
}

/// `plan`.
#[derive(Debug)]
pub struct PlanRun {
    pub paths: Vec<PathBuf>,
    pub options: PlanOptions,
    /// The options as typed, recorded in a saved plan.
    pub saved_options: SavedOptions,
    pub out: Option<PathBuf>,
    pub format: render::Format,
    /// Where to write the plan as pull-request comments.
    pub comment_dir: Option<PathBuf>,
    pub detailed_exitcode: bool,
}

/// `show`.
#[derive(Debug)]
pub struct ShowRun {
    pub plan: PathBuf,
    pub format: render::Format,
    pub comment_dir: Option<PathBuf>,
}

/// `apply`.
#[derive(Debug)]
pub struct ApplyRun {
    /// The YAML to plan, or empty with `saved`.
    pub paths: Vec<PathBuf>,
    /// A plan file saved by `plan --out`.
    pub saved: Option<PathBuf>,
    pub options: PlanOptions,
    /// Ask for confirmation (no `--auto-approve`; there is a terminal to ask on).
    pub ask: bool,
    pub mode: Mode,
    pub format: render::Format,
}

impl From<PlanFormat> for render::Format {
    fn from(f: PlanFormat) -> render::Format {
        match f {
            PlanFormat::Human => render::Format::Human,
            PlanFormat::Markdown => render::Format::Markdown,
            PlanFormat::Json => render::Format::Json,
        }
    }
}

impl From<DiagnosticFormat> for validate::Format {
    fn from(f: DiagnosticFormat) -> validate::Format {
        match f {
            DiagnosticFormat::Human => validate::Format::Human,
            DiagnosticFormat::Json => validate::Format::Json,
            DiagnosticFormat::Github => validate::Format::Github,
        }
    }
}

/// Resolves the command line: flags, environment (read by clap) and terminals.
pub fn resolve(cli: Cli) -> miette::Result<(Settings, Run)> {
    let mut connection = connection(platform_args(&cli.command));
    if let Command::Apply(a) = &cli.command {
        connection.lock_ttl = std::time::Duration::from_secs(a.lock_ttl);
    }
    let settings = Settings {
        connection,
        color: anstream::AutoStream::choice(&std::io::stdout()) != anstream::ColorChoice::Never,
        interactive: std::io::stdin().is_terminal() && std::io::stderr().is_terminal(),
        progress: if std::io::stderr().is_terminal() {
            Progress::Bar
        } else {
            Progress::Lines
        },
    };
    let run = match cli.command {
        Command::Validate(ValidateArgs { paths, format }) => Run::Validate(ValidateRun {
            paths,
            format: format.into(),
        }),
        Command::Plan(args) => Run::Plan(plan_run(args)?),
        Command::Apply(args) => Run::Apply(apply_run(args, settings.interactive)?),
        Command::Show(ShowArgs {
            plan,
            format,
            comment_dir,
        }) => Run::Show(ShowRun {
            plan,
            format: format.into(),
            comment_dir,
        }),
        Command::Export(args) => Run::Export(args),
        Command::Explain(ExplainArgs {
            what: ExplainWhat::User(args),
        }) => Run::Explain(args),
        Command::Users(UsersArgs {
            command: UsersCommand::Export(args),
        }) => Run::UsersExport(args),
        Command::Schema => Run::Schema,
        Command::Serve(args) => Run::Serve(ServeRun {
            backups: schedule(&args)?,
            args,
            smtp_credentials: match (
                std::env::var("TENANTCTL_SMTP_USERNAME"),
                std::env::var("TENANTCTL_SMTP_PASSWORD"),
            ) {
                (Ok(u), Ok(p)) if !u.is_empty() => Some((u, p)),
                _ => None,
            },
            ansi: anstream::AutoStream::choice(&std::io::stderr()) != anstream::ColorChoice::Never,
        }),
        Command::Token(TokenArgs { command }) => match command {
            TokenCommand::Create(args) => Run::TokenCreate(args),
            TokenCommand::List(args) => Run::TokenList(args),
            TokenCommand::Revoke(args) => Run::TokenRevoke(args),
        },
        Command::Backup(BackupArgs {
            command: Some(BackupCommand::Verify(BackupVerifyArgs { file })),
            ..
        }) => Run::BackupVerify(file),
        Command::Backup(BackupArgs {
            command: None,
            database,
            out,
        }) => Run::Backup(BackupRun {
            database,
            // clap requires --out without a subcommand.
            out: out.ok_or_else(|| miette!("backup needs --out FILE"))?,
        }),
        Command::Restore(args) => Run::Restore(args),
        Command::Completions(CompletionsArgs { shell }) => Run::Completions(shell),
        Command::Man(ManArgs { out }) => Run::Man(out),
    };
    Ok((settings, run))
}

/// The platform options of the command, for those that talk to the platform.
fn platform_args(command: &Command) -> Option<&PlatformArgs> {
    match command {
        Command::Plan(a) => Some(&a.platform),
        Command::Apply(a) => Some(&a.platform),
        Command::Export(a) => Some(&a.platform),
        Command::Explain(ExplainArgs {
            what: ExplainWhat::User(a),
        }) => Some(&a.platform),
        Command::Users(UsersArgs {
            command: UsersCommand::Export(a),
        }) => Some(&a.platform),
        Command::Token(TokenArgs { command }) => Some(match command {
            TokenCommand::Create(a) => &a.platform,
            TokenCommand::List(a) => &a.platform,
            TokenCommand::Revoke(a) => &a.platform,
        }),
        Command::Validate(_)
        | Command::Show(_)
        | Command::Schema
        | Command::Serve(_)
        | Command::Backup(_)
        | Command::Restore(_)
        | Command::Completions(_)
        | Command::Man(_) => None,
    }
}

/// The platform to reach: the command's options, or the embedded platform's defaults.
fn connection(platform: Option<&PlatformArgs>) -> Connection {
    match platform {
        Some(p) => Connection {
            endpoint: p.endpoint.clone().filter(|s| !s.is_empty()),
            token: p.token.clone().filter(|s| !s.is_empty()),
            local_dir: p.local_dir.clone(),
            max_rps: p.max_rps,
            timeout: std::time::Duration::from_secs(p.timeout.max(1)),
            lock_ttl: std::time::Duration::from_secs(60),
        },
        None => Connection {
            endpoint: None,
            token: None,
            local_dir: PathBuf::from(".tenantctl"),
            max_rps: 0,
            timeout: std::time::Duration::from_secs(60),
            lock_ttl: std::time::Duration::from_secs(60),
        },
    }
}

/// The scheduled backups `serve`'s flags ask for.
fn schedule(args: &ServeArgs) -> miette::Result<Option<Schedule>> {
    let Some(dir) = &args.backup_dir else {
        return Ok(None);
    };
    let at = crate::server::backup::schedule::parse_at(&args.backup_at).ok_or_else(|| {
        miette!(
            help = "a time of day, UTC, as HH:MM: 02:00, 23:30",
            "--backup-at `{}` is not a time of day",
            args.backup_at
        )
    })?;
    let keep = super::token::parse_duration(&args.backup_keep).ok_or_else(|| {
        miette!(
            help = "a positive number followed by d (days), h (hours) or m (minutes): 30d, 12h",
            "--backup-keep `{}` is not a duration",
            args.backup_keep
        )
    })?;
    Ok(Some(Schedule {
        dir: dir.clone(),
        at,
        keep,
    }))
}

/// The plan-shaping flags, with `--target` parsed.
fn plan_options(flags: &PlanFlags) -> miette::Result<PlanOptions> {
    let targets = flags
        .target
        .iter()
        .map(|t| plan::parse_target(t).map_err(|e| miette!("invalid --target: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(PlanOptions {
        prune: flags.prune,
        max_delete_percent: flags.max_delete_percent,
        targets,
        allow_limit_below_usage: flags.allow_limit_below_usage,
        ..PlanOptions::default()
    })
}

fn plan_run(args: PlanArgs) -> miette::Result<PlanRun> {
    Ok(PlanRun {
        options: plan_options(&args.options)?,
        saved_options: SavedOptions {
            prune: args.options.prune,
            max_delete_percent: args.options.max_delete_percent,
            targets: args.options.target,
            allow_limit_below_usage: args.options.allow_limit_below_usage,
        },
        paths: args.paths,
        out: args.out,
        format: args.format.into(),
        comment_dir: args.comment_dir,
        detailed_exitcode: args.detailed_exitcode,
    })
}

fn apply_run(args: ApplyArgs, interactive: bool) -> miette::Result<ApplyRun> {
    let ask = !args.auto_approve;
    if ask && !interactive {
        return Err(miette!(
            help = "pass --auto-approve to apply without confirmation (as in CI), or run apply on a terminal",
            "no terminal to ask for confirmation on"
        ));
    }
    let mode = match args.parallelism {
        Some(0) => return Err(miette!("--parallelism must be at least 1")),
        Some(n) => Mode::Resources { parallelism: n },
        None => Mode::Batch,
    };
    if args.plan.is_some() && (args.options.prune || !args.options.target.is_empty()) {
        return Err(miette!(
            help = "run `tenantctl plan --out FILE` again with these options",
            "--prune and --target shape a plan; a saved plan keeps the options it was made with"
        ));
    }
    Ok(ApplyRun {
        options: plan_options(&args.options)?,
        paths: args.paths,
        saved: args.plan,
        ask,
        mode,
        format: args.format.into(),
    })
}
