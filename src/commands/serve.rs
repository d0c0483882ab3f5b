//! `tenantctl serve`: run the platform API until ctrl-c or SIGTERM, then shut down gracefully.

use miette::IntoDiagnostic;

use super::Exit;
use crate::server::mail::{MailConfig, SmtpSettings, SmtpTls};
use crate::server::sessions::{AuthPolicy, SessionPolicy};
use crate::server::store::ThrottlePolicy;
use crate::server::{start_with, ServeOptions, ServerConfig};

pub fn run(run: super::settings::ServeRun) -> miette::Result<Exit> {
    let args = &run.args;
    init_logs(args.log_json, run.ansi);
    let rt = super::runtime()?;
    let mut mail = MailConfig {
        from: args.mail_from.clone(),
        ..MailConfig::default()
    };
    if let Some(url) = &args.smtp {
        let mut smtp = SmtpSettings::parse(url).into_diagnostic()?;
        smtp.credentials = run.smtp_credentials.clone();
        mail.smtp = Some(smtp);
    }
    let limit = i64::from(args.sign_in_attempts);
    let options = ServeOptions {
        mail,
        public_url: args.public_url.clone(),
        auth: AuthPolicy {
            sessions: SessionPolicy {
                idle_ms: i64::from(args.session_idle_minutes) * 60_000,
                max_ms: i64::from(args.session_max_hours) * 3_600_000,
            },
            throttle: ThrottlePolicy {
                account_limit: limit,
                address_limit: limit * 5,
                ..ThrottlePolicy::default()
            },
        },
        backups: run.backups.clone(),
    };
    rt.block_on(async {
        let server = start_with(
            ServerConfig {
                database_url: args.database.clone(),
                listen: args.listen.clone(),
            },
            options.clone(),
        )
        .await
        .into_diagnostic()?;
        if let Some(token) = &server.bootstrap_token {
            // Shown once: a stdout that cannot take it is a failure, not a panic.
            super::print(&format!("bootstrap token: {token}\n"), Exit::Failure)?;
        }
        eprintln!(
            "tenantctl: serving {} on {} (database {})",
            crate::api::PREFIX,
            server.url(),
            redact(&args.database)
        );
        let counts = server.outbox_counts().await.into_diagnostic()?;
        match &options.mail.smtp {
            Some(smtp) => eprintln!(
                "tenantctl: e-mail through {}:{} ({}), {} message(s) waiting",
                smtp.host,
                smtp.port,
                match smtp.tls {
                    SmtpTls::StartTls => "STARTTLS",
                    SmtpTls::Wrapper => "TLS",
                    SmtpTls::None => "no encryption",
                },
                counts.queued
            ),
            None => eprintln!(
                "tenantctl: no --smtp: e-mail is kept in the outbox and not sent ({} message(s) waiting)",
                counts.queued
            ),
        }
        shutdown_signal().await;
        eprintln!("tenantctl: shutting down");
        server.shutdown().await;
        Ok(Exit::Success)
    })
}

/// The database URL without its password.
pub(super) fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// Logs on stderr: text, coloured only when `ansi` (a terminal), or JSON lines.
fn init_logs(json: bool, ansi: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi && !json)
        .with_writer(std::io::stderr);
    if json {
        let _ = builder.json().try_init();
    } else {
        let _ = builder.try_init();
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
