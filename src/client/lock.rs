//! The platform's apply lock, from the client's side: who holds it (the CI run or
//! `user@host`), and taking, renewing and releasing the lease (`apply::Lease` runs them
//! around an apply).

use std::time::Duration;

use reqwest::{Method, StatusCode};

use crate::api::{ApplyLock, ApplyLockRenewal, ApplyLockRequest};

use super::{Client, ClientError, Repeat};

/// Who runs tenantctl, for the apply lock: `github-actions OWNER/REPO run ID (ACTOR)` in
/// GitHub Actions, `gitlab-ci PROJECT job ID (USER)` in GitLab CI, else `USER@HOST`.
pub fn holder() -> String {
    let var = |n: &str| std::env::var(n).ok().filter(|s| !s.trim().is_empty());
    let who = |n: &str| var(n).map(|u| format!(" ({u})")).unwrap_or_default();
    if let (Some(repo), Some(run)) = (var("GITHUB_REPOSITORY"), var("GITHUB_RUN_ID")) {
        return format!("github-actions {repo} run {run}{}", who("GITHUB_ACTOR"));
    }
    if let (Some(project), Some(job)) = (var("CI_PROJECT_PATH"), var("CI_JOB_ID")) {
        return format!("gitlab-ci {project} job {job}{}", who("GITLAB_USER_LOGIN"));
    }
    let user = var("USER")
        .or_else(|| var("USERNAME"))
        .unwrap_or_else(|| "someone".into());
    let host = var("HOSTNAME")
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_string())
                .filter(|h| !h.is_empty())
        })
        .unwrap_or_else(|| "localhost".into());
    format!("{user}@{host}")
}

impl Client {
    /// Takes the platform's apply lock for `ttl` (409 `apply_locked` while another apply
    /// holds it). Not repeated after a failure whose outcome is unknown; the caller
    /// recognises its own lock by its change set.
    pub async fn acquire_lock(&self, ttl: Duration) -> Result<ApplyLock, ClientError> {
        let req = ApplyLockRequest {
            holder: self.config.holder.chars().take(200).collect(),
            ttl_seconds: Some(ttl.as_secs().clamp(5, 3600) as u32),
            change_set: Some(self.config.change_set.clone()),
        };
        let body = serde_json::to_vec(&req).map_err(|e| ClientError::Decode {
            method: "POST".into(),
            url: self.url(&["apply-lock".into()]).to_string(),
            message: e.to_string(),
        })?;
        self.json(
            Method::POST,
            &["apply-lock".to_string()],
            Some(body),
            None,
            Repeat::Unsafe,
        )
        .await
    }

    /// Extends the lease of lock `id` (409 `apply_lock_lost` when another apply took it).
    pub async fn renew_lock(&self, id: &str) -> Result<ApplyLock, ClientError> {
        let body = serde_json::to_vec(&ApplyLockRenewal::default()).unwrap_or_default();
        self.json(
            Method::PUT,
            &["apply-lock".to_string(), id.to_string()],
            Some(body),
            None,
            Repeat::Safe,
        )
        .await
    }

    /// Releases lock `id`; a lock already gone is not an error.
    pub async fn release_lock(&self, id: &str) -> Result<(), ClientError> {
        let url = self.url(&["apply-lock".to_string(), id.to_string()]);
        let (status, b) = self
            .send(Method::DELETE, url.clone(), None, None, Repeat::Safe)
            .await?;
        if status.is_success() || status == StatusCode::NOT_FOUND {
            Ok(())
        } else {
            Err(Self::error(&Method::DELETE, &url, status, &b))
        }
    }
}
