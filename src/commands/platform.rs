//! The platform a command talks to: the `--endpoint` with its token, or the embedded local
//! platform (the same server, in-process on a loopback port over `<local dir>/local.db`).
//! Also the shared steps of `plan` and `apply`: load the YAML, fetch, diff.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

use miette::{miette, IntoDiagnostic, WrapErr};

use super::Global;
use crate::cli::{DiagnosticFormat, PlanFormat, PlanOptions as PlanFlags};
use crate::client::{Client, ClientConfig};
use crate::plan::{self, Identity, Plan, PlanOptions};
use crate::spec::Desired;
use crate::validate;

/// A connected platform. Dropping it stops the embedded server, if any.
pub struct Platform {
    pub client: Arc<Client>,
    /// The endpoint as recorded in saved plans (`embedded:<path>` for the local platform).
    pub label: String,
    embedded: Option<embedded::Embedded>,
}

impl Platform {
    /// Connects to `--endpoint`, or starts the embedded local platform (said on stderr).
    pub async fn connect(global: &Global) -> miette::Result<Platform> {
        match &global.endpoint {
            Some(endpoint) => {
                let client = Client::new(client_config(global, endpoint, global.token.clone()))
                    .into_diagnostic()?;
                Ok(Platform {
                    client: Arc::new(client),
                    label: endpoint.trim_end_matches('/').to_string(),
                    embedded: None,
                })
            }
            None => {
                let e = embedded::Embedded::start(&global.local_dir).await?;
                eprintln!(
                    "using the embedded local platform ({})",
                    e.db_path.display()
                );
                let client = Client::new(client_config(global, &e.url, Some(e.token.clone())))
                    .into_diagnostic()?;
                let label = format!("embedded:{}", e.db_path.display());
                Ok(Platform {
                    client: Arc::new(client),
                    label,
                    embedded: Some(e),
                })
            }
        }
    }

    /// Stops the embedded server cleanly (a no-op for a remote endpoint).
    pub async fn close(self) {
        drop(self.client);
        if let Some(e) = self.embedded {
            e.stop().await;
        }
    }
}

fn client_config(global: &Global, endpoint: &str, token: Option<String>) -> ClientConfig {
    let mut c = ClientConfig::new(endpoint, token);
    c.timeout = global.timeout;
    c.max_rps = global.max_rps;
    c
}

mod embedded {
    //! The embedded local platform.

    use std::path::{Path, PathBuf};

    use miette::{miette, IntoDiagnostic, WrapErr};

    use crate::server::{self, RunningServer, ServerConfig};

    pub struct Embedded {
        pub url: String,
        pub token: String,
        pub db_path: PathBuf,
        server: RunningServer,
    }

    fn write_token(path: &Path, token: &str) -> miette::Result<()> {
        std::fs::write(path, format!("{token}\n"))
            .into_diagnostic()
            .wrap_err_with(|| format!("cannot write `{}`", path.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                .into_diagnostic()?;
        }
        Ok(())
    }

    impl Embedded {
        pub async fn start(dir: &Path) -> miette::Result<Embedded> {
            std::fs::create_dir_all(dir)
                .into_diagnostic()
                .wrap_err_with(|| format!("cannot create `{}`", dir.display()))?;
            let db_path = dir.join("local.db");
            let token_path = dir.join("local.token");
            let database_url = format!("sqlite://{}", db_path.display());
            let server = server::start(ServerConfig {
                database_url: database_url.clone(),
                listen: "127.0.0.1:0".into(),
            })
            .await
            .map_err(|e| {
                miette!(
                    "cannot start the embedded local platform over `{}`: {e}",
                    db_path.display()
                )
            })?;
            let token = match (
                &server.bootstrap_token,
                std::fs::read_to_string(&token_path),
            ) {
                (Some(t), _) => {
                    write_token(&token_path, t)?;
                    t.clone()
                }
                (None, Ok(t)) if !t.trim().is_empty() => t.trim().to_string(),
                (None, _) => {
                    let t = server::mint_token(
                        &database_url,
                        "system",
                        "org_admin",
                        None,
                        Some("embedded local platform"),
                    )
                    .await
                    .map_err(|e| {
                        miette!("cannot mint a token for the embedded local platform: {e}")
                    })?;
                    write_token(&token_path, &t)?;
                    t
                }
            };
            Ok(Embedded {
                url: server.url(),
                token,
                db_path,
                server,
            })
        }

        pub async fn stop(self) {
            self.server.shutdown().await;
        }
    }
}

/// The desired state and the warnings of `validate`.
pub struct Loaded {
    pub desired: Desired,
    pub warnings: Vec<validate::Diagnostic>,
}

/// Loads and checks the YAML; on errors, renders the diagnostics on stderr and returns `None`.
pub fn load(paths: &[PathBuf]) -> miette::Result<Option<Loaded>> {
    let checked = validate::check_paths(paths);
    if checked.error_count() > 0 {
        let mut err = std::io::stderr();
        validate::render(&checked.diagnostics, DiagnosticFormat::Human, &mut err)
            .into_diagnostic()?;
        eprintln!(
            "error: the configuration has {} error(s); nothing was planned",
            checked.error_count()
        );
        return Ok(None);
    }
    let warnings = checked
        .diagnostics
        .into_iter()
        .filter(|d| d.severity == crate::rules::Severity::Warning)
        .collect();
    match checked.desired {
        Some(desired) => Ok(Some(Loaded { desired, warnings })),
        None => Err(miette!("the configuration could not be loaded")),
    }
}

/// Prints on stderr the warnings of `validate` the plan does not already show: the plan
/// carries the rule warnings, and a replace shows an e-mail change.
pub fn print_other_warnings(plan: &Plan, warnings: &[validate::Diagnostic]) -> miette::Result<()> {
    let shown: std::collections::HashSet<String> = plan
        .warnings
        .iter()
        .map(|w| format!("tenantctl::{}", w.code))
        .collect();
    let rest: Vec<validate::Diagnostic> = warnings
        .iter()
        .filter(|d| !shown.contains(&d.code) && d.code != "tenantctl::email_change")
        .cloned()
        .collect();
    if !rest.is_empty() {
        validate::render(&rest, DiagnosticFormat::Human, &mut std::io::stderr())
            .into_diagnostic()?;
    }
    Ok(())
}

/// Resolves the plan-shaping flags.
pub fn plan_options(flags: &PlanFlags) -> miette::Result<PlanOptions> {
    let targets = flags
        .target
        .iter()
        .map(|t| plan::parse_target(t).map_err(|e| miette!("invalid --target: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(PlanOptions {
        prune: flags.prune,
        max_delete_percent: flags.max_delete_percent,
        targets,
        identity: Identity::default(),
    })
}

/// Fetches the live state and who we are, checks the targets exist, and diffs.
pub async fn make_plan(
    platform: &Platform,
    desired: &Desired,
    mut options: PlanOptions,
) -> miette::Result<Plan> {
    let who = platform
        .client
        .whoami()
        .await
        .into_diagnostic()
        .wrap_err("cannot ask the platform who this token is")?;
    options.identity = Identity {
        user: who.user.map(|u| u.to_lowercase()),
    };
    let live = platform
        .client
        .state()
        .await
        .into_diagnostic()
        .wrap_err("cannot read the live state")?;
    for (kind, key) in &options.targets {
        if !desired.state.contains(*kind, key) && !live.contains(*kind, key) {
            return Err(miette!(
                "--target {kind}/{key} matches nothing in the configuration or on the platform"
            ));
        }
    }
    Ok(plan::diff(desired, &live, &options))
}

/// Whether stdout is a terminal that takes colour (`NO_COLOR` and `CLICOLOR_FORCE` honoured).
pub fn stdout_color() -> bool {
    anstream::AutoStream::choice(&std::io::stdout()) != anstream::ColorChoice::Never
}

/// Renders a plan in the chosen format.
pub fn render(plan: &Plan, format: PlanFormat) -> String {
    match format {
        PlanFormat::Human => crate::render::human(plan, stdout_color()),
        PlanFormat::Markdown => crate::render::markdown(plan),
        PlanFormat::Json => crate::render::json::json(plan),
    }
}

/// Whether both stdin and stderr are terminals (a human can be asked).
pub fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}
