//! The reconciler's pipeline, the stages `plan` and `apply` share: **load** the configuration
//! (validate's checks; any error stops here), **fetch** who the token is and the live state,
//! **diff** the two into a [`Plan`]. Loading and fetching overlap. Nothing here prints: the
//! commands render what it returns.

#[cfg(test)]
mod diff_tests;

use std::path::PathBuf;

use crate::api;
use crate::client::ClientError;
use crate::config::Desired;
use crate::connect::Platform;
use crate::diagnostic::Severity;
use crate::model::{Kind, State};
use crate::plan::scope::{KindScope, Reach};
use crate::plan::{self, Identity, Plan, PlanInput, PlanOptions, TokenScope, Warning};
use crate::validate::{self, Diagnostic};

/// A configuration that passed validation: what the plan is made from, and validate's
/// warnings (at their file and line) to show beside the plan.
#[derive(Debug)]
pub struct ValidConfig {
    pub input: PlanInput,
    pub warnings: Vec<Diagnostic>,
    /// The values of the `${env:…}` variables used: secrets, kept out of every output.
    pub secrets: Vec<String>,
}

/// Why no plan was made.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The configuration has errors; `diagnostics` holds every problem found, to render
    /// (secret values masked already); `secrets` the values to keep out of anything else.
    #[error("the configuration has {errors} error(s)")]
    Invalid {
        diagnostics: Vec<Diagnostic>,
        errors: usize,
        secrets: Vec<String>,
    },
    #[error("the configuration could not be loaded")]
    NotLoaded,
    #[error("loading the configuration failed: {0}")]
    Loading(String),
    #[error("cannot ask the platform who this token is")]
    WhoAmI(#[source] ClientError),
    #[error("cannot read the live state")]
    LiveState(#[source] ClientError),
    #[error("--target {kind}/{key} matches nothing in the configuration or on the platform{}", .suggestion.as_ref().map(|s| format!("; did you mean `{s}`?")).unwrap_or_default())]
    NoSuchTarget {
        kind: Kind,
        key: String,
        /// The closest `KIND/KEY` that exists, if close enough to be a likely typo.
        suggestion: Option<String>,
    },
}

/// The plan's input from a loaded configuration: the state, the renames, the rules'
/// warnings, the approvals and the sensitive fields move over; where each resource was
/// declared and the duplicate grants are validate's business and stay behind.
pub fn plan_input(desired: Desired) -> PlanInput {
    let input = PlanInput {
        state: desired.state,
        renames: desired.renames,
        warnings: desired.warnings.map(Warning::of_rules),
        acknowledgements: desired.acknowledgements,
        sensitive: desired.sensitive,
    };
    // Freeing the origins of a large configuration is not on the user's time.
    validate::drop_in_background((desired.origins, desired.duplicate_grants));
    input
}

/// Loads and checks the YAML of `paths`.
pub fn load(paths: &[PathBuf]) -> Result<ValidConfig, PipelineError> {
    let checked = validate::check_paths(paths);
    let errors = checked.error_count();
    if errors > 0 {
        return Err(PipelineError::Invalid {
            diagnostics: checked.diagnostics,
            errors,
            secrets: checked.secrets,
        });
    }
    let desired = checked.desired.ok_or(PipelineError::NotLoaded)?;
    let warnings = checked
        .diagnostics
        .into_iter()
        .filter(|d| d.severity == Severity::Warning)
        .collect();
    Ok(ValidConfig {
        input: plan_input(desired),
        warnings,
        secrets: checked.secrets,
    })
}

/// A configuration on its way: loaded already, or loading on a thread of its own.
pub enum Loading {
    Done(Box<ValidConfig>),
    Running(std::thread::JoinHandle<Result<ValidConfig, PipelineError>>),
}

/// Starts loading the YAML of `paths`. With the embedded platform it is loaded now, so that
/// an invalid configuration does not start it; with a remote endpoint it loads on a thread
/// while the command reaches the platform (building the HTTP client reads the system's
/// root certificates) and reads the live state ([`load_and_plan`]).
pub fn start_loading(embedded: bool, paths: &[PathBuf]) -> Result<Loading, PipelineError> {
    if embedded {
        return load(paths).map(|c| Loading::Done(Box::new(c)));
    }
    let owned = paths.to_vec();
    match std::thread::Builder::new()
        .name("load".into())
        .spawn(move || load(&owned))
    {
        Ok(handle) => Ok(Loading::Running(handle)),
        // No thread to spare: load here, before reaching the platform.
        Err(_) => load(paths).map(|c| Loading::Done(Box::new(c))),
    }
}

/// What a plan is made against: the live state, who the token is and, for a
/// tenant-scoped token, what it reaches.
pub struct Live {
    pub state: State,
    pub identity: Identity,
    pub scope: Option<TokenScope>,
    /// The fields the platform recorded as sensitive (from `${env:…}` at an earlier apply),
    /// so that the plan masks the live side too.
    pub sensitive: plan::SensitiveFields,
}

/// What a tenant-scoped token reaches, from `whoami` (None for a system token, or a
/// platform that does not say).
pub fn token_scope(who: &api::WhoAmI) -> Option<TokenScope> {
    let tenant = who.scope.strip_prefix("tenant:")?;
    if who.access.is_empty() {
        return None;
    }
    let reach = |r: api::Reach| match r {
        api::Reach::All => Reach::All,
        api::Reach::Tenant => Reach::Tenant,
        api::Reach::None => Reach::None,
    };
    Some(TokenScope {
        tenant: tenant.to_string(),
        role: who.role.clone(),
        user: who.user.clone(),
        kinds: who
            .access
            .iter()
            .map(|a| {
                (
                    a.kind,
                    KindScope {
                        read: reach(a.read),
                        write: reach(a.write),
                        note: a.note.clone(),
                    },
                )
            })
            .collect(),
    })
}

/// Reads who we are and the live state.
pub async fn fetch(platform: &Platform) -> Result<Live, PipelineError> {
    let who = platform
        .client
        .whoami()
        .await
        .map_err(PipelineError::WhoAmI)?;
    let (state, sensitive) = tokio::join!(platform.client.state(), live_sensitive(platform));
    let state = state.map_err(PipelineError::LiveState)?;
    Ok(Live {
        state,
        sensitive: sensitive.map_err(PipelineError::LiveState)?,
        scope: token_scope(&who),
        identity: Identity {
            user: who.user.map(|u| u.to_lowercase()),
        },
    })
}

/// The platform's sensitive fields by resource; none from a platform that does not record
/// them (404) or does not tell this token (403): the configuration's side is masked anyway.
async fn live_sensitive(platform: &Platform) -> Result<plan::SensitiveFields, ClientError> {
    let list = match platform.client.sensitive_fields().await {
        Ok(list) => list,
        Err(e) if matches!(e.status(), Some(403 | 404)) => return Ok(plan::SensitiveFields::new()),
        Err(e) => return Err(e),
    };
    let mut out = plan::SensitiveFields::new();
    for e in list.items {
        out.entry((e.kind, e.key))
            .or_default()
            .push((e.pointer, e.source));
    }
    for list in out.values_mut() {
        list.sort();
    }
    Ok(out)
}

/// Checks the targets exist, and diffs.
pub fn diff(
    input: &PlanInput,
    live: &Live,
    mut options: PlanOptions,
) -> Result<Plan, PipelineError> {
    options.identity = live.identity.clone();
    options.scope = live.scope.clone();
    for (kind, key) in &options.targets {
        if !input.state.contains(*kind, key) && !live.state.contains(*kind, key) {
            let known = input.state.keys(*kind).chain(live.state.keys(*kind));
            return Err(PipelineError::NoSuchTarget {
                kind: *kind,
                key: key.clone(),
                suggestion: crate::rules::did_you_mean(key, known).map(|k| format!("{kind}/{k}")),
            });
        }
    }
    Ok(plan::diff_with(
        input,
        &live.state,
        &live.sensitive,
        &options,
    ))
}

/// Plans the configuration `loading`. At scale, loading the YAML and reading the live state
/// take about as long, so they overlap; YAML errors end the run as soon as they are known,
/// without waiting for the platform.
pub async fn load_and_plan(
    platform: &Platform,
    loading: Loading,
    options: PlanOptions,
) -> Result<(ValidConfig, Plan), PipelineError> {
    let handle = match loading {
        Loading::Done(config) => {
            let live = fetch(platform).await?;
            let plan = diff(&config.input, &live, options)?;
            return Ok((*config, plan));
        }
        Loading::Running(handle) => handle,
    };
    let mut loading = tokio::task::spawn_blocking(move || handle.join());
    let mut fetching = std::pin::pin!(fetch(platform));
    let mut live = None;
    let loaded = loop {
        tokio::select! {
            l = &mut loading => break l,
            r = &mut fetching, if live.is_none() => live = Some(r),
        }
    };
    let config = match loaded {
        Ok(Ok(result)) => result?,
        Ok(Err(_)) => return Err(PipelineError::Loading("the loading thread panicked".into())),
        Err(e) => return Err(PipelineError::Loading(e.to_string())),
    };
    let live = match live {
        Some(r) => r?,
        None => fetching.await?,
    };
    let plan = diff(&config.input, &live, options)?;
    Ok((config, plan))
}

/// The warnings of validate that the plan does not already show: the plan carries the rule
/// warnings, and a replace shows an e-mail change.
pub fn other_warnings(plan: &Plan, warnings: &[Diagnostic]) -> Vec<Diagnostic> {
    let shown: std::collections::HashSet<String> = plan
        .warnings
        .iter()
        .map(|w| format!("tenantctl::{}", w.code))
        .collect();
    warnings
        .iter()
        .filter(|d| !shown.contains(&d.code) && d.code != "tenantctl::email_change")
        .cloned()
        .collect()
}
