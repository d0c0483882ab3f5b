//! E-mail: the SMTP settings of `serve --smtp`, and the sender that delivers the outbox.
//!
//! Writes queue messages in the `outbox` table in their own transaction; the sender (one
//! task per `serve` process, woken by the writes of its process and polling for the others)
//! claims what is due, renders it in the recipient's language (`templates`), delivers it
//! with lettre, and marks it sent — or records the error and tries again later with a
//! growing delay, so an SMTP outage delays mail and loses none. An invitation's link is made
//! when its e-mail is sent: its secret goes into the message and only its hash into the
//! database. Without SMTP settings nothing is sent and the messages wait in the outbox.

pub mod templates;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use rand::RngCore;
use tokio::task::JoinHandle;

use crate::model::Language;

use super::engine::Engine;
use super::http::extract::hash_secret;
use super::store::{self, now_ms, InvitationStatus, MailRow, KIND_INVITATION, KIND_PASSWORD_RESET};

/// How the connection to the SMTP server is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// `smtp://`: STARTTLS, required (no credential or message goes out in clear).
    StartTls,
    /// `smtps://`: TLS from the first byte.
    Wrapper,
    /// `smtp://…?tls=none`: no encryption at all (a relay on the same host, tests).
    None,
}

/// Where and how to deliver e-mail.
#[derive(Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    /// User name and password (from the environment, never the command line).
    pub credentials: Option<(String, String)>,
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("credentials", &self.credentials.as_ref().map(|(u, _)| u))
            .finish()
    }
}

/// A `--smtp` URL that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmtpUrlError {
    #[error(
        "`{0}` is not an SMTP URL: use `smtp://HOST[:PORT]` (STARTTLS) or `smtps://HOST[:PORT]`"
    )]
    Scheme(String),
    #[error("the SMTP URL carries credentials: give them in TENANTCTL_SMTP_USERNAME and TENANTCTL_SMTP_PASSWORD instead")]
    Credentials,
    #[error("the SMTP URL `{0}` has no host or a bad port")]
    Host(String),
    #[error(
        "unknown `tls` value `{0}` in the SMTP URL: only `tls=none` (no encryption) is accepted"
    )]
    Tls(String),
}

impl SmtpSettings {
    /// Parses `smtp://HOST[:PORT][?tls=none]` (port 587) or `smtps://HOST[:PORT]` (port
    /// 465). A URL with a user or password is refused.
    pub fn parse(url: &str) -> Result<SmtpSettings, SmtpUrlError> {
        let (tls, rest, default_port) = if let Some(r) = url.strip_prefix("smtp://") {
            (SmtpTls::StartTls, r, 587)
        } else if let Some(r) = url.strip_prefix("smtps://") {
            (SmtpTls::Wrapper, r, 465)
        } else {
            return Err(SmtpUrlError::Scheme(url.to_string()));
        };
        let (authority, query) = match rest.split_once('?') {
            Some((a, q)) => (a, Some(q)),
            None => (rest, None),
        };
        let authority = authority.trim_end_matches('/');
        if authority.contains('@') {
            return Err(SmtpUrlError::Credentials);
        }
        let mut tls = tls;
        if let Some(q) = query {
            for pair in q.split('&').filter(|p| !p.is_empty()) {
                match pair.split_once('=') {
                    Some(("tls", "none")) if tls == SmtpTls::StartTls => tls = SmtpTls::None,
                    Some(("tls", v)) => return Err(SmtpUrlError::Tls(v.to_string())),
                    _ => return Err(SmtpUrlError::Tls(pair.to_string())),
                }
            }
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => match p.parse::<u16>() {
                Ok(p) if p > 0 => (h, p),
                _ => return Err(SmtpUrlError::Host(url.to_string())),
            },
            _ => (authority, default_port),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(SmtpUrlError::Host(url.to_string()));
        }
        Ok(SmtpSettings {
            host: host.to_string(),
            port,
            tls,
            credentials: None,
        })
    }
}

/// How long to wait before the attempt after `attempts` failed ones: `base` doubled each
/// time, at most `max`.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff {
            base: Duration::from_secs(2),
            max: Duration::from_secs(300),
        }
    }
}

impl Backoff {
    pub fn delay(&self, attempts: i64) -> Duration {
        let shift = attempts.clamp(0, 20) as u32;
        self.base
            .checked_mul(1u32 << shift.saturating_sub(1))
            .map_or(self.max, |d| d.min(self.max))
    }
}

/// The e-mail settings of a server.
#[derive(Debug, Clone)]
pub struct MailConfig {
    /// None: mail is kept in the outbox.
    pub smtp: Option<SmtpSettings>,
    /// The sender's address (`From:`).
    pub from: String,
    pub backoff: Backoff,
    /// How often the outbox is looked at without a wake-up (other processes' writes).
    pub poll: Duration,
}

impl Default for MailConfig {
    fn default() -> MailConfig {
        MailConfig {
            smtp: None,
            from: "tenantctl <no-reply@localhost>".into(),
            backoff: Backoff::default(),
            poll: Duration::from_secs(5),
        }
    }
}

/// An error setting up the sender.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("invalid sender address `{0}`: {1}")]
    From(String, String),
    #[error("cannot set up TLS for the SMTP server: {0}")]
    Tls(String),
}

/// How long the sender holds a claimed message before another may take it.
const CLAIM_MS: i64 = 120_000;
/// Messages looked at per round.
const BATCH: i64 = 50;

struct Sender {
    engine: Arc<Engine>,
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    public_url: String,
    config: MailConfig,
}

/// Starts the sender of the outbox, if SMTP is configured.
pub fn spawn(
    engine: Arc<Engine>,
    config: &MailConfig,
    public_url: &str,
) -> Result<Option<JoinHandle<()>>, MailError> {
    let Some(smtp) = &config.smtp else {
        return Ok(None);
    };
    let from: Mailbox = config
        .from
        .parse()
        .map_err(|e: lettre::address::AddressError| {
            MailError::From(config.from.clone(), e.to_string())
        })?;
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(smtp.host.clone())
        .port(smtp.port)
        .timeout(Some(Duration::from_secs(30)));
    let params =
        || TlsParameters::new(smtp.host.clone()).map_err(|e| MailError::Tls(e.to_string()));
    builder = match smtp.tls {
        SmtpTls::StartTls => builder.tls(Tls::Required(params()?)),
        SmtpTls::Wrapper => builder.tls(Tls::Wrapper(params()?)),
        SmtpTls::None => builder.tls(Tls::None),
    };
    if let Some((user, password)) = &smtp.credentials {
        builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
    }
    let sender = Sender {
        engine,
        transport: builder.build(),
        from,
        public_url: public_url.trim_end_matches('/').to_string(),
        config: config.clone(),
    };
    Ok(Some(tokio::spawn(sender.run())))
}

/// What became of one message.
enum Outcome {
    Sent,
    /// Not to be sent any more (why).
    Dropped(&'static str),
    /// Try again (the error).
    Failed(String),
}

impl Sender {
    async fn run(self) {
        let wake = self.engine.mail_wakeup();
        loop {
            let next = match self.round().await {
                Ok(next) => next,
                Err(e) => {
                    tracing::warn!(error = %e, "outbox: cannot read the outbox");
                    Some(self.config.backoff.base)
                }
            };
            let wait = next.map_or(self.config.poll, |n| n.min(self.config.poll));
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Delivers what is due; returns how soon a retry is due, if one failed.
    async fn round(&self) -> Result<Option<Duration>, store::StoreError> {
        let mut retry: Option<Duration> = None;
        loop {
            let now = now_ms();
            let due = self.engine.db.due_mail(now, BATCH).await?;
            let mut any = false;
            for m in &due {
                if !self
                    .engine
                    .db
                    .claim_mail(&m.id, now, now + CLAIM_MS)
                    .await?
                {
                    continue;
                }
                any = true;
                let attempts = m.attempts + 1;
                match self.deliver(m).await {
                    Outcome::Sent => {
                        tracing::info!(mail = %m.id, kind = %m.kind, attempts, "outbox: sent");
                        self.engine.db.mail_sent(&m.id, attempts).await?;
                    }
                    Outcome::Dropped(why) => {
                        tracing::info!(mail = %m.id, why, "outbox: dropped");
                        self.engine.db.mail_cancelled(&m.id, why).await?;
                    }
                    Outcome::Failed(error) => {
                        let delay = self.config.backoff.delay(attempts);
                        tracing::warn!(mail = %m.id, attempts, %error, retry_in_ms = delay.as_millis() as u64, "outbox: not sent, will retry");
                        let next = now_ms() + delay.as_millis() as i64;
                        self.engine
                            .db
                            .mail_failed(&m.id, attempts, next, &error)
                            .await?;
                        retry = Some(retry.map_or(delay, |r| r.min(delay)));
                    }
                }
            }
            if !any || (due.len() as i64) < BATCH {
                return Ok(retry);
            }
        }
    }

    async fn deliver(&self, m: &MailRow) -> Outcome {
        match m.kind.as_str() {
            KIND_INVITATION => self.deliver_invitation(m).await,
            KIND_PASSWORD_RESET => self.deliver_reset(m).await,
            _ => Outcome::Dropped("unknown kind of message"),
        }
    }

    async fn deliver_invitation(&self, m: &MailRow) -> Outcome {
        let inv = match self.engine.db.invitation(&m.reference).await {
            Ok(Some(inv)) => inv,
            Ok(None) => return Outcome::Dropped("the invitation is gone"),
            Err(e) => return Outcome::Failed(e.to_string()),
        };
        if inv.link_seq != m.seq {
            return Outcome::Dropped("the invitation was resent");
        }
        if inv.status_at(now_ms()) != InvitationStatus::Pending {
            return Outcome::Dropped("the invitation is no longer pending");
        }
        let secret = new_secret();
        match self
            .engine
            .db
            .set_invitation_link(&inv.id, inv.link_seq, &hash_secret(&secret))
            .await
        {
            Ok(true) => {}
            Ok(false) => return Outcome::Dropped("the invitation changed meanwhile"),
            Err(e) => return Outcome::Failed(e.to_string()),
        }
        let codes: Vec<String> = inv.tenants.iter().map(|t| t.tenant.clone()).collect();
        let (tenants, language) = match self
            .engine
            .read(|s| {
                let names: Vec<String> = codes
                    .iter()
                    .map(|t| {
                        s.tenants
                            .get(t)
                            .and_then(|x| x.spec.display_name.clone())
                            .unwrap_or_else(|| t.clone())
                    })
                    .collect();
                let lang = s.users.get(&inv.email).map(|u| u.spec.language);
                (names, lang)
            })
            .await
        {
            Ok(v) => v,
            Err(e) => return Outcome::Failed(e.to_string()),
        };
        let language = language.unwrap_or_else(|| parse_language(&m.language));
        let link = format!("{}/accept-invitation?token={secret}", self.public_url);
        let expires = store::ms_to_rfc3339(inv.expires_ms);
        let rendered = templates::invitation(
            language,
            &templates::InvitationMail {
                tenants: &tenants,
                message: inv.message.as_deref(),
                link: &link,
                expires: &expires,
            },
        );
        self.send(&m.recipient, rendered).await
    }

    /// A password reset link: its secret is made now (only its hash is stored), so a
    /// retried e-mail carries a new one and the older is never usable.
    async fn deliver_reset(&self, m: &MailRow) -> Outcome {
        let reset = match self.engine.db.password_reset(&m.reference).await {
            Ok(Some(r)) => r,
            Ok(None) => return Outcome::Dropped("the reset is gone"),
            Err(e) => return Outcome::Failed(e.to_string()),
        };
        if reset.used_at.is_some() {
            return Outcome::Dropped("the reset was used or replaced");
        }
        match reset.expired(time::OffsetDateTime::now_utc()) {
            Ok(false) => {}
            Ok(true) => return Outcome::Dropped("the reset expired before it was sent"),
            Err(e) => return Outcome::Failed(e.to_string()),
        }
        let incident = m.seq == store::RESET_SEQ_INCIDENT;
        let language = match self
            .engine
            .read(|s| s.users.get(&reset.email).map(|u| u.spec.language))
            .await
        {
            Ok(Some(l)) => l,
            Ok(None) => return Outcome::Dropped("the user is gone"),
            Err(e) => return Outcome::Failed(e.to_string()),
        };
        let secret = new_secret();
        match self
            .engine
            .db
            .set_password_reset_link(&reset.id, &hash_secret(&secret))
            .await
        {
            Ok(true) => {}
            Ok(false) => return Outcome::Dropped("the reset was used meanwhile"),
            Err(e) => return Outcome::Failed(e.to_string()),
        }
        let link = format!("{}/reset-password?token={secret}", self.public_url);
        let rendered = templates::password_reset(
            language,
            &templates::ResetMail {
                link: &link,
                expires: &reset.expires_at,
                incident,
            },
        );
        self.send(&m.recipient, rendered).await
    }

    async fn send(&self, to: &str, r: templates::Rendered) -> Outcome {
        let to: Mailbox = match to.parse() {
            Ok(a) => a,
            Err(_) => return Outcome::Dropped("the recipient is not a valid address"),
        };
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(r.subject)
            .multipart(MultiPart::alternative_plain_html(r.text, r.html));
        let message = match message {
            Ok(m) => m,
            Err(e) => return Outcome::Failed(format!("cannot build the message: {e}")),
        };
        match self.transport.send(message).await {
            Ok(_) => Outcome::Sent,
            Err(e) => Outcome::Failed(e.to_string()),
        }
    }
}

/// A new random link secret (32 bytes, base64url): only its hash is ever stored.
pub fn new_secret() -> String {
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
}

/// A stored language name (`en`, `fr`, `ja`); English for anything else.
pub fn parse_language(s: &str) -> Language {
    serde_json::from_value(serde_json::Value::String(s.to_string())).unwrap_or_default()
}

/// The stored name of a language.
pub fn language_name(l: Language) -> &'static str {
    match l {
        Language::En => "en",
        Language::Fr => "fr",
        Language::Ja => "ja",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls() {
        let s = SmtpSettings::parse("smtp://mail.example").unwrap();
        assert_eq!(
            (s.host.as_str(), s.port, s.tls),
            ("mail.example", 587, SmtpTls::StartTls)
        );
        let s = SmtpSettings::parse("smtps://mail.example:2465").unwrap();
        assert_eq!((s.port, s.tls), (2465, SmtpTls::Wrapper));
        let s = SmtpSettings::parse("smtp://127.0.0.1:2525?tls=none").unwrap();
        assert_eq!(
            (s.host.as_str(), s.port, s.tls),
            ("127.0.0.1", 2525, SmtpTls::None)
        );
        assert_eq!(
            SmtpSettings::parse("smtp://bob:secret@mail.example").unwrap_err(),
            SmtpUrlError::Credentials
        );
        assert!(SmtpSettings::parse("http://mail.example").is_err());
        assert!(SmtpSettings::parse("smtps://mail.example?tls=none").is_err());
        assert!(SmtpSettings::parse("smtp://mail.example:0").is_err());
    }

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let b = Backoff {
            base: Duration::from_secs(2),
            max: Duration::from_secs(60),
        };
        let d: Vec<u64> = (1..=7).map(|a| b.delay(a).as_secs()).collect();
        assert_eq!(d, [2, 4, 8, 16, 32, 60, 60]);
    }
}
