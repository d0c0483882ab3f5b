//! What was typed: the clap structs, and nothing else. `commands::settings` resolves them
//! once into what they mean; no library module reads them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Administration as code for multi-tenant SaaS platforms.
///
/// Declare plans, models, roles, tenants, workspaces, grants and users in YAML; validate it,
/// see the plan against the live platform, and apply it.
///
/// With no --endpoint, commands run against an embedded local platform over the SQLite
/// database `.tenantctl/local.db`.
#[derive(Debug, Parser)]
#[command(
    name = "tenantctl",
    version,
    max_term_width = 100,
    after_help = "Examples:\n  tenantctl validate config/\n  tenantctl plan config/ --out tenantctl.plan\n  tenantctl apply --plan tenantctl.plan\n  TENANTCTL_ENDPOINT=https://admin.example.com TENANTCTL_TOKEN=… tenantctl plan config/"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// How to reach the platform: the options of the commands that talk to it.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Platform")]
pub struct PlatformArgs {
    /// Base URL of the platform API (e.g. https://admin.example.com). Without it, an
    /// embedded local platform over `.tenantctl/local.db` is used.
    #[arg(long, env = "TENANTCTL_ENDPOINT", value_name = "URL")]
    pub endpoint: Option<String>,

    /// API token (bearer). Prefer the environment variable: a flag shows in `ps`.
    #[arg(
        long,
        env = "TENANTCTL_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub token: Option<String>,

    /// Directory of the embedded local platform's database.
    #[arg(
        long,
        env = "TENANTCTL_LOCAL_DIR",
        value_name = "DIR",
        default_value = ".tenantctl"
    )]
    pub local_dir: PathBuf,

    /// Client-side limit on API requests per second (0: unlimited).
    #[arg(long, env = "TENANTCTL_MAX_RPS", value_name = "N", default_value_t = 0)]
    pub max_rps: u32,

    /// Timeout of one API request, in seconds.
    #[arg(
        long,
        env = "TENANTCTL_TIMEOUT",
        value_name = "SECONDS",
        default_value_t = 60
    )]
    pub timeout: u64,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check YAML against the JSON Schema and the platform's rules (no network).
    #[command(
        after_help = "Examples:\n  tenantctl validate config/\n  tenantctl validate config/ --format github   # annotations in a GitHub workflow"
    )]
    Validate(ValidateArgs),
    /// Show what apply would change on the platform.
    #[command(
        after_help = "Examples:\n  tenantctl plan config/\n  tenantctl plan config/ --format markdown --out tenantctl.plan > plan.md\n  tenantctl plan config/ --detailed-exitcode   # exit 0: no changes, 2: changes, 1: error\n  tenantctl plan config/ --target tenant/acme"
    )]
    Plan(PlanArgs),
    /// Apply the YAML (or a saved plan) to the platform.
    #[command(
        after_help = "Examples:\n  tenantctl apply config/\n  tenantctl apply --plan tenantctl.plan --auto-approve\n  tenantctl apply config/ --auto-approve --parallelism 8   # resource by resource"
    )]
    Apply(ApplyArgs),
    /// Print a plan saved by `plan --out`, as it will be applied.
    #[command(
        after_help = "Examples:\n  tenantctl show tenantctl.plan\n  tenantctl show tenantctl.plan --format markdown --comment-dir comments"
    )]
    Show(ShowArgs),
    /// Write the platform's live state as YAML.
    #[command(
        after_help = "Examples:\n  tenantctl export > platform.yaml\n  tenantctl export --out config/ --layout tenant --clean"
    )]
    Export(ExportArgs),
    /// Explain why a user can or cannot do something, step by step.
    #[command(
        after_help = "Examples:\n  tenantctl explain user alice@acme.example --model sneaker-v2\n  tenantctl explain user alice@acme.example --permission read --workspace paris --path config/"
    )]
    Explain(ExplainArgs),
    /// User reports.
    #[command(after_help = "Example:\n  tenantctl users export --out users.csv")]
    Users(UsersArgs),
    /// Print the JSON Schema (draft 2020-12) of the YAML configuration.
    #[command(
        after_help = "Example:\n  tenantctl schema > tenantctl.schema.json   # then `# yaml-language-server: $schema=tenantctl.schema.json`"
    )]
    Schema,
    /// Run the platform API.
    #[command(
        after_help = "Examples:\n  tenantctl serve --listen 0.0.0.0:8080 --database sqlite:///var/lib/tenantctl/platform.db\n  TENANTCTL_DATABASE_URL=postgres://tenantctl@db/tenantctl tenantctl serve --log-json"
    )]
    Serve(ServeArgs),
    /// Manage API tokens.
    Token(TokenArgs),
    /// Back up the whole platform to one file, or verify a backup.
    #[command(
        args_conflicts_with_subcommands = true,
        subcommand_negates_reqs = true,
        after_help = "Examples:\n  tenantctl backup --database sqlite:///var/lib/tenantctl/platform.db --out platform.backup\n  TENANTCTL_DATABASE_URL=postgres://tenantctl@db/tenantctl tenantctl backup --out platform.backup\n  tenantctl backup verify platform.backup\n\nThe file holds every table in one consistent snapshot, compressed, with a SHA-256\nchecksum; it holds password and token hashes: keep it private (it is written 0600).\nScheduled backups: `tenantctl serve --backup-dir DIR` (daily at 02:00 UTC, kept 30 days)."
    )]
    Backup(BackupArgs),
    /// Restore a backup into a new, empty database (SQLite or PostgreSQL, either way).
    #[command(
        after_help = "Examples:\n  tenantctl restore --database sqlite:///var/lib/tenantctl/restored.db platform.backup\n  tenantctl restore --database postgres://db.internal/tenantctl platform.backup   # to PostgreSQL\n\nThe checksum is verified first; the database must be empty (a SQLite path that does not\nexist yet, or a new PostgreSQL database); every row is loaded in one transaction, committed\nonly if each table has the rows the backup says and the platform's rule check finds what\nit found when the backup was taken."
    )]
    Restore(RestoreArgs),
    /// Print a shell completion script.
    #[command(
        after_help = "Examples:\n  tenantctl completions bash > ~/.local/share/bash-completion/completions/tenantctl\n  tenantctl completions zsh > ~/.zfunc/_tenantctl\n  tenantctl completions fish > ~/.config/fish/completions/tenantctl.fish"
    )]
    Completions(CompletionsArgs),
    /// Print the man page, or write one page per command to a directory.
    #[command(
        after_help = "Examples:\n  tenantctl man | man -l -\n  tenantctl man --out ~/.local/share/man/man1"
    )]
    Man(ManArgs),
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write `tenantctl.1` and one page per command (`tenantctl-plan.1`, …) to DIR instead
    /// of printing `tenantctl.1`.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// Output format of diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum DiagnosticFormat {
    /// Annotated source excerpts, coloured on a terminal.
    #[default]
    Human,
    /// A JSON array of {code, severity, message, file, line, column, help}.
    Json,
    /// GitHub Actions workflow annotations (`::error file=…,line=…::`).
    Github,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// YAML files or directories (read recursively, `*.yaml`/`*.yml`, sorted).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t)]
    pub format: DiagnosticFormat,
}

/// Output format of a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum PlanFormat {
    /// Terraform-like blocks, coloured on a terminal.
    #[default]
    Human,
    /// A pull-request comment: summary table, details per kind.
    Markdown,
    /// The stable JSON plan (`format_version` 1).
    Json,
}

/// Flags shared by `plan` and `apply` that shape the plan.
#[derive(Debug, Clone, Args)]
pub struct PlanFlags {
    /// Also delete resources tenantctl never managed (made in a UI, by invitation, …).
    #[arg(long)]
    pub prune: bool,
    /// Refuse a plan deleting more than this percentage of a kind's live resources.
    #[arg(long, value_name = "PERCENT", default_value_t = 25, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub max_delete_percent: u8,
    /// Limit the plan to KIND/KEY and what it depends on (repeatable), e.g. `tenant/acme`.
    #[arg(long, value_name = "KIND/KEY")]
    pub target: Vec<String>,
    /// Accept lowering a tenant's limits below its live usage (recorded in a saved plan;
    /// `acknowledge:` in the configuration approves one tenant at a time, in the reviewed diff).
    #[arg(long)]
    pub allow_limit_below_usage: bool,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// YAML files or directories.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub options: PlanFlags,
    /// Save the plan to FILE, for `apply --plan FILE`.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t)]
    pub format: PlanFormat,
    /// Also write the markdown plan as pull-request comments DIR/plan-1.md, plan-2.md, …,
    /// each under 65,000 characters; the first holds the summary and every risk.
    #[arg(long, value_name = "DIR")]
    pub comment_dir: Option<PathBuf>,
    /// Exit 0 when there are no changes, 2 when there are, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
    #[command(flatten)]
    pub platform: PlatformArgs,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A plan file written by `plan --out`.
    #[arg(value_name = "PLANFILE")]
    pub plan: PathBuf,
    #[arg(long, value_enum, default_value_t)]
    pub format: PlanFormat,
    /// Also write the markdown plan as pull-request comments DIR/plan-1.md, plan-2.md, ….
    #[arg(long, value_name = "DIR")]
    pub comment_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// YAML files or directories (or use --plan).
    #[arg(
        value_name = "PATH",
        required_unless_present = "plan",
        conflicts_with = "plan"
    )]
    pub paths: Vec<PathBuf>,
    /// Apply a plan saved by `plan --out`; refused if the platform changed since.
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,
    #[command(flatten)]
    pub options: PlanFlags,
    /// Apply without asking for confirmation (required when there is no terminal).
    #[arg(long)]
    pub auto_approve: bool,
    /// Apply resource by resource with N concurrent requests, instead of one atomic batch.
    #[arg(long, value_name = "N")]
    pub parallelism: Option<usize>,
    #[arg(long, value_enum, default_value_t)]
    pub format: PlanFormat,
    /// The lease of the platform's apply lock, in seconds, renewed every third of it while
    /// an apply runs: how long a killed apply keeps others out.
    #[arg(
        long,
        env = "TENANTCTL_LOCK_TTL",
        value_name = "SECONDS",
        default_value_t = 60,
        value_parser = clap::value_parser!(u64).range(5..=3600)
    )]
    pub lock_ttl: u64,
    #[command(flatten)]
    pub platform: PlatformArgs,
}

/// How `export` splits the state into files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ExportLayout {
    /// plans.yaml, models.yaml, roles.yaml, tenants.yaml, users.yaml.
    #[default]
    Kind,
    /// platform.yaml (plans, models, roles), one tenants/SLUG.yaml per tenant, users.yaml.
    Tenant,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Directory to write; without it, one YAML document on stdout.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t)]
    pub layout: ExportLayout,
    /// With --out: first remove the files an earlier export left in DIR (tenantctl's own
    /// only, recognised by their first line), such as another layout's.
    #[arg(long, requires = "out")]
    pub clean: bool,
    #[command(flatten)]
    pub platform: PlatformArgs,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    #[command(subcommand)]
    pub what: ExplainWhat,
}

#[derive(Debug, Subcommand)]
pub enum ExplainWhat {
    /// Why a user can or cannot use a model, or hold a permission (exit 0 allowed, 1 denied).
    User(ExplainUserArgs),
}

#[derive(Debug, Args)]
pub struct ExplainUserArgs {
    /// The user's e-mail.
    pub email: String,
    /// The model to explain access to.
    #[arg(long, value_name = "MODEL")]
    pub model: Option<String>,
    /// Restrict to one tenant.
    #[arg(long, value_name = "TENANT")]
    pub tenant: Option<String>,
    /// A catalog permission (`project.create`) or a grant action of a workspace grant
    /// (`read`, `update`, `delete`, `create`: the project permission on one workspace).
    #[arg(long, value_name = "PERMISSION")]
    pub permission: Option<String>,
    /// The workspace the permission is asked on (of --tenant, or of the user's only tenant).
    #[arg(long, value_name = "WORKSPACE")]
    pub workspace: Option<String>,
    /// Explain on the desired state of these YAML paths instead of the live state.
    #[arg(long = "path", value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// `human` (the steps and the verdict) or `json` (the answer of `GET /api/v1/access`).
    #[arg(long, value_enum, default_value_t)]
    pub format: ExplainFormat,
    #[command(flatten)]
    pub platform: PlatformArgs,
}

/// How `explain` prints its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ExplainFormat {
    #[default]
    Human,
    Json,
}

#[derive(Debug, Args)]
pub struct UsersArgs {
    #[command(subcommand)]
    pub command: UsersCommand,
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Export users, one row per membership.
    Export(UsersExportArgs),
}

/// Output format of `users export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum UsersFormat {
    /// first name, last name, e-mail, created, status, language, tenant, role.
    #[default]
    Csv,
}

#[derive(Debug, Args)]
pub struct UsersExportArgs {
    /// The format (CSV, the default): first name, last name, e-mail, created, status,
    /// language, tenant, role; one row per membership.
    #[arg(long, value_enum, default_value_t)]
    pub format: UsersFormat,
    /// The same as `--format csv` (kept for scripts that pass it).
    #[arg(long, hide = true)]
    pub csv: bool,
    /// Write to FILE instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub platform: PlatformArgs,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(
        long,
        env = "TENANTCTL_LISTEN",
        default_value = "127.0.0.1:8080",
        value_name = "ADDR"
    )]
    pub listen: String,
    /// `sqlite://PATH` or `postgres://…`.
    #[arg(
        long,
        env = "TENANTCTL_DATABASE_URL",
        default_value = "sqlite://tenantctl.db",
        value_name = "URL"
    )]
    pub database: String,
    /// Log as JSON lines instead of text.
    #[arg(long)]
    pub log_json: bool,
    /// Deliver e-mail through this SMTP server: `smtp://HOST[:PORT]` (STARTTLS, required),
    /// `smtps://HOST[:PORT]`, or `smtp://HOST:PORT?tls=none` for a relay on the same host.
    /// Credentials come from TENANTCTL_SMTP_USERNAME and TENANTCTL_SMTP_PASSWORD, never the
    /// URL. Without it, e-mail is kept in the outbox.
    #[arg(long, env = "TENANTCTL_SMTP_URL", value_name = "URL")]
    pub smtp: Option<String>,
    /// The sender of e-mail (`From:`).
    #[arg(
        long,
        env = "TENANTCTL_MAIL_FROM",
        default_value = "tenantctl <no-reply@localhost>",
        value_name = "ADDRESS"
    )]
    pub mail_from: String,
    /// The base of every link in an e-mail (`https://admin.example`); by default the
    /// address the server listens on.
    #[arg(long, env = "TENANTCTL_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
    /// A session ends after this many minutes without a request (sliding expiry).
    #[arg(long, default_value_t = 720, value_name = "MINUTES", value_parser = clap::value_parser!(u32).range(1..=43_200))]
    pub session_idle_minutes: u32,
    /// A session ends this many hours after sign-in, whatever happens.
    #[arg(long, default_value_t = 168, value_name = "HOURS", value_parser = clap::value_parser!(u32).range(1..=8_760))]
    pub session_max_hours: u32,
    /// Failed sign-ins per account before it is locked (30 s, doubling with each further
    /// failure up to 15 min); a client address gets five times as many.
    #[arg(long, default_value_t = 10, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1_000))]
    pub sign_in_attempts: u32,
    /// Take a backup of the platform every day into DIR, as
    /// `tenantctl-YYYYMMDDTHHMMSSZ.backup` (the same file as `tenantctl backup`).
    #[arg(
        long,
        env = "TENANTCTL_BACKUP_DIR",
        value_name = "DIR",
        help_heading = "Backups"
    )]
    pub backup_dir: Option<PathBuf>,
    /// The time of day of the scheduled backup, UTC.
    #[arg(
        long,
        env = "TENANTCTL_BACKUP_AT",
        value_name = "HH:MM",
        default_value = "02:00",
        help_heading = "Backups"
    )]
    pub backup_at: String,
    /// Remove scheduled backups older than this: `30d`, `12h` (days, hours, minutes).
    #[arg(
        long,
        env = "TENANTCTL_BACKUP_KEEP",
        value_name = "DURATION",
        default_value = "30d",
        help_heading = "Backups"
    )]
    pub backup_keep: String,
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    #[command(subcommand)]
    pub command: Option<BackupCommand>,
    /// The database to back up: `sqlite://PATH` or `postgres://…`.
    #[arg(
        long,
        env = "TENANTCTL_DATABASE_URL",
        default_value = "sqlite://tenantctl.db",
        value_name = "URL"
    )]
    pub database: String,
    /// The backup file to write (replaced if it exists, only once the backup is complete).
    #[arg(long, value_name = "FILE", required = true)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Check a backup file: format, version, checksum, and that every row reads.
    #[command(
        after_help = "Example:\n  tenantctl backup verify platform.backup   # exit 0: sound, 1: damaged or not a backup"
    )]
    Verify(BackupVerifyArgs),
}

#[derive(Debug, Args)]
pub struct BackupVerifyArgs {
    /// The backup file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The empty database to restore into: `sqlite://PATH` (created) or `postgres://…`.
    #[arg(long, env = "TENANTCTL_DATABASE_URL", value_name = "URL")]
    pub database: String,
    /// The backup file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

#[derive(Debug, Args)]
pub struct TokenArgs {
    #[command(subcommand)]
    pub command: TokenCommand,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Mint an API token; it is printed once, alone on stdout.
    #[command(
        after_help = "Examples:\n  tenantctl token create --scope system --description ci --expires-in 90d\n  tenantctl token create --scope tenant:acme --role user_admin --user alice@acme.example\n  tenantctl token create --scope system --database sqlite://platform.db   # the first token"
    )]
    Create(TokenCreateArgs),
    /// List the platform's tokens (never their secrets).
    #[command(after_help = "Example:\n  tenantctl token list --format json")]
    List(TokenListArgs),
    /// Revoke a token by its id (`tok_…`, from `token list`).
    #[command(after_help = "Example:\n  tenantctl token revoke tok_4f1c2a9e8b7d6c5a")]
    Revoke(TokenRevokeArgs),
}

/// Output format of `token list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ListFormat {
    /// One aligned line per token.
    #[default]
    Table,
    /// A JSON array of {id, scope, role, user, description, created_at, expires_at}.
    Json,
}

#[derive(Debug, Args)]
pub struct TokenListArgs {
    #[arg(long, value_enum, default_value_t)]
    pub format: ListFormat,
    #[command(flatten)]
    pub platform: PlatformArgs,
}

#[derive(Debug, Args)]
pub struct TokenRevokeArgs {
    /// The token's id.
    #[arg(value_name = "ID")]
    pub id: String,
    #[command(flatten)]
    pub platform: PlatformArgs,
}

#[derive(Debug, Args)]
pub struct TokenCreateArgs {
    /// `system` or `tenant:SLUG`.
    #[arg(long, value_name = "SCOPE")]
    pub scope: String,
    /// The token's own role: a built-in role (org_admin, user_admin, billing_admin, member)
    /// or a custom one. A tenant token without --user acts with it; with --user, it can
    /// only narrow the user's access.
    #[arg(long, value_name = "ROLE")]
    pub role: Option<String>,
    /// The user the token acts as: with --scope tenant:SLUG and no --role, exactly that
    /// user's access in the tenant; with --scope system, the user must be a super_admin.
    /// It cannot remove, block or demote that user (rule 6).
    #[arg(long, value_name = "EMAIL")]
    pub user: Option<String>,
    /// A note stored with the token.
    #[arg(long, value_name = "TEXT")]
    pub description: Option<String>,
    /// The token expires after this long: `90d`, `12h`, `30m` (days, hours, minutes).
    #[arg(long, value_name = "DURATION", conflicts_with = "expires_at")]
    pub expires_in: Option<String>,
    /// The token expires at this time (RFC 3339, e.g. `2027-01-01T00:00:00Z`).
    #[arg(long, value_name = "TIME")]
    pub expires_at: Option<String>,
    /// Mint directly in this database instead of through the API.
    #[arg(long, value_name = "URL")]
    pub database: Option<String>,
    #[command(flatten)]
    pub platform: PlatformArgs,
}
