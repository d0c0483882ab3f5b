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
use crate::config::Desired;
use crate::model::State;
use crate::plan::{self, Identity, Plan, PlanOptions};
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
        .filter(|d| d.severity == crate::diagnostic::Severity::Warning)
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

/// What a plan is made against: the live state and who the token is.
pub struct Live {
    pub state: State,
    pub identity: Identity,
}

/// Reads who we are and the live state.
pub async fn fetch(platform: &Platform) -> miette::Result<Live> {
    let who = platform
        .client
        .whoami()
        .await
        .into_diagnostic()
        .wrap_err("cannot ask the platform who this token is")?;
    let state = platform
        .client
        .state()
        .await
        .into_diagnostic()
        .wrap_err("cannot read the live state")?;
    Ok(Live {
        state,
        identity: Identity {
            user: who.user.map(|u| u.to_lowercase()),
        },
    })
}

/// Checks the targets exist, and diffs.
pub fn diff(desired: &Desired, live: &Live, mut options: PlanOptions) -> miette::Result<Plan> {
    options.identity = live.identity.clone();
    for (kind, key) in &options.targets {
        if !desired.state.contains(*kind, key) && !live.state.contains(*kind, key) {
            return Err(miette!(
                "--target {kind}/{key} matches nothing in the configuration or on the platform"
            ));
        }
    }
    Ok(plan::diff(desired, &live.state, &options))
}

/// Fetches the live state and who we are, checks the targets exist, and diffs.
pub async fn make_plan(
    platform: &Platform,
    desired: &Desired,
    options: PlanOptions,
) -> miette::Result<Plan> {
    let live = fetch(platform).await?;
    diff(desired, &live, options)
}

/// Loads the YAML of `paths` (unless it was loaded already: `early`) and plans it. The YAML
/// is loaded on a thread while the live state is read, as at scale the two take about as
/// long; YAML errors are reported as soon as they are known, without waiting for the
/// platform. `None` when the configuration has errors (already rendered on stderr).
pub async fn load_and_plan(
    platform: &Platform,
    early: Option<Loaded>,
    paths: &[PathBuf],
    options: PlanOptions,
) -> miette::Result<Option<(Loaded, Plan)>> {
    if let Some(loaded) = early {
        let plan = make_plan(platform, &loaded.desired, options).await?;
        return Ok(Some((loaded, plan)));
    }
    let owned = paths.to_vec();
    let mut loading = tokio::task::spawn_blocking(move || load(&owned));
    let mut fetching = std::pin::pin!(fetch(platform));
    let mut live = None;
    let loaded = loop {
        tokio::select! {
            l = &mut loading => break l,
            r = &mut fetching, if live.is_none() => live = Some(r),
        }
    };
    let loaded = loaded.map_err(|e| miette!("loading the configuration failed: {e}"))??;
    let Some(loaded) = loaded else {
        return Ok(None);
    };
    let live = match live {
        Some(r) => r?,
        None => fetching.await?,
    };
    let plan = diff(&loaded.desired, &live, options)?;
    Ok(Some((loaded, plan)))
}

/// The YAML as loaded before connecting, if it was.
pub enum Early {
    /// Loaded and valid.
    Ready(Box<Loaded>),
    /// To be loaded while the live state is read.
    Deferred,
    /// It has errors, already rendered on stderr.
    Invalid,
}

impl Early {
    /// The configuration for [`load_and_plan`]; `None` when it is invalid.
    pub fn valid(self) -> Option<Option<Loaded>> {
        match self {
            Early::Ready(l) => Some(Some(*l)),
            Early::Deferred => Some(None),
            Early::Invalid => None,
        }
    }
}

/// Loads the YAML now when the platform is the embedded one, so that an invalid
/// configuration does not start it; a remote endpoint's plan loads it while fetching.
pub fn load_early(global: &Global, paths: &[PathBuf]) -> miette::Result<Early> {
    if global.endpoint.is_some() {
        return Ok(Early::Deferred);
    }
    Ok(load(paths)?.map_or(Early::Invalid, |l| Early::Ready(Box::new(l))))
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
