//! `tenantctl token create|list|revoke`: mint an API token, directly in a database
//! (`--database`) or through `POST /api/v1/tokens` with a system token, optionally expiring;
//! list the platform's tokens (never their secrets); revoke one by its id. A minted token is
//! printed alone on stdout.

use std::fmt::Write as _;

use miette::{miette, IntoDiagnostic, WrapErr};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::{print, with_platform, Exit, Settings};
use crate::api::{TokenInfo, TokenRequest};
use crate::cli::{ListFormat, TokenCreateArgs, TokenListArgs, TokenRevokeArgs};
use crate::client::{Client, ClientConfig};

/// `90d`, `12h`, `30m`: a positive number of days, hours or minutes.
pub fn parse_duration(s: &str) -> Option<time::Duration> {
    let s = s.trim();
    let unit = s.chars().last()?;
    let n: i64 = s[..s.len() - unit.len_utf8()]
        .parse()
        .ok()
        .filter(|n| *n > 0)?;
    match unit {
        'd' => n.checked_mul(86_400),
        'h' => n.checked_mul(3_600),
        'm' => n.checked_mul(60),
        _ => None,
    }
    .map(time::Duration::seconds)
}

/// The expiry the flags ask for, as RFC 3339 (the platform checks it is in the future).
fn expiry(a: &TokenCreateArgs) -> miette::Result<Option<String>> {
    if let Some(at) = &a.expires_at {
        return Ok(Some(at.clone()));
    }
    let Some(d) = &a.expires_in else {
        return Ok(None);
    };
    let d = parse_duration(d).ok_or_else(|| {
        miette!(
            help =
                "a positive number followed by d (days), h (hours) or m (minutes): 90d, 12h, 30m",
            "--expires-in `{d}` is not a duration"
        )
    })?;
    let at = OffsetDateTime::now_utc()
        .checked_add(d)
        .ok_or_else(|| miette!("--expires-in is too far in the future"))?
        .replace_nanosecond(0)
        .into_diagnostic()?;
    at.format(&Rfc3339).map(Some).into_diagnostic()
}

pub fn run(a: TokenCreateArgs, settings: &Settings) -> miette::Result<Exit> {
    let connection = &settings.connection;
    let expires_at = expiry(&a)?;
    let rt = super::runtime()?;
    let token = rt.block_on(async {
        if let Some(db) = &a.database {
            return crate::server::mint_token(
                db,
                &a.scope,
                a.role.as_deref(),
                a.user.as_deref(),
                a.description.as_deref(),
                expires_at.as_deref(),
            )
            .await
            .into_diagnostic();
        }
        let Some(endpoint) = &connection.endpoint else {
            return Err(miette!(
                help = "pass --database URL to mint in a database, or --endpoint URL and --token TOKEN (a system token)",
                "no platform to mint the token on"
            ));
        };
        let Some(bearer) = &connection.token else {
            return Err(miette!(
                help = "set TENANTCTL_TOKEN or pass --token with a system token",
                "minting a token through the API needs a system token"
            ));
        };
        let mut config = ClientConfig::new(endpoint, Some(bearer.clone()));
        config.timeout = connection.timeout;
        let client = Client::new(config).into_diagnostic()?;
        let request = TokenRequest {
            scope: a.scope.clone(),
            role: a.role.clone(),
            user: a.user.clone(),
            description: a.description.clone(),
            expires_at: expires_at.clone(),
        };
        let created = client.create_token(&request).await.into_diagnostic()?;
        Ok(created.token)
    })?;
    print(&format!("{token}\n"), Exit::Failure)?;
    Ok(Exit::Success)
}

/// An RFC 3339 time to the second, for a table (as given if it does not parse).
fn to_the_second(t: &str) -> String {
    OffsetDateTime::parse(t, &Rfc3339)
        .ok()
        .and_then(|t| t.replace_nanosecond(0).ok())
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| t.to_string())
}

/// The tokens as an aligned table, one line each.
pub fn table(tokens: &[TokenInfo]) -> String {
    let rows: Vec<[String; 7]> = tokens
        .iter()
        .map(|t| {
            [
                t.id.clone(),
                t.scope.clone(),
                t.role.clone().unwrap_or_else(|| "-".into()),
                t.user.clone().unwrap_or_else(|| "-".into()),
                t.status.as_str().to_string(),
                t.revoked_at
                    .as_deref()
                    .or(t.expires_at.as_deref())
                    .map_or_else(|| "never".into(), to_the_second),
                t.description.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let head = [
        "ID",
        "SCOPE",
        "ROLE",
        "USER",
        "STATUS",
        "EXPIRES/REVOKED",
        "DESCRIPTION",
    ];
    let mut widths = head.map(str::len);
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[&str]| {
        let mut l = String::new();
        for (i, (c, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                l.push_str(c);
            } else {
                let _ = write!(l, "{c:<w$}  ");
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(&head);
    for r in &rows {
        line(&r.each_ref().map(String::as_str));
    }
    out
}

pub fn list(a: TokenListArgs, settings: &Settings) -> miette::Result<Exit> {
    let list = with_platform(settings, async |p| {
        p.client
            .list_tokens()
            .await
            .into_diagnostic()
            .wrap_err("cannot list the tokens")
    })?;
    let text = match a.format {
        ListFormat::Table => table(&list.tokens),
        ListFormat::Json => {
            let mut s = serde_json::to_string_pretty(&list.tokens).into_diagnostic()?;
            s.push('\n');
            s
        }
    };
    print(&text, Exit::Success)?;
    Ok(Exit::Success)
}

pub fn revoke(a: TokenRevokeArgs, settings: &Settings) -> miette::Result<Exit> {
    with_platform(settings, async |p| {
        p.client
            .revoke_token(&a.id)
            .await
            .into_diagnostic()
            .wrap_err_with(|| format!("cannot revoke token `{}`", a.id))
    })?;
    eprintln!("Revoked token {}.", a.id);
    Ok(Exit::Success)
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations_are_days_hours_or_minutes() {
        assert_eq!(parse_duration("90d"), Some(time::Duration::days(90)));
        assert_eq!(parse_duration("12h"), Some(time::Duration::hours(12)));
        assert_eq!(parse_duration("30m"), Some(time::Duration::minutes(30)));
        for bad in [
            "",
            "d",
            "0d",
            "-1d",
            "5",
            "5s",
            "1.5h",
            "99999999999999999d",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }
}
