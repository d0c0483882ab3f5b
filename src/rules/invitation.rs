//! Rule 8, invitations: at most 100 e-mails a batch and 10 workspaces assigned at
//! invitation; every e-mail valid, listed once, not already a member nor already invited;
//! the role and workspaces exist. Who may invite whom is the access decision's
//! ([`super::access::may_give_role`]); the server's `invite` and `accept` endpoints call
//! both.

use std::collections::BTreeSet;

use crate::model::{keys, Kind, State};

use super::{is_valid_email, role_exists, Severity, Violation};

/// At most this many workspaces are assigned at invitation (rule 8).
pub const MAX_INVITATION_WORKSPACES: usize = 10;
/// At most this many e-mails per invitation batch (rule 8).
pub const MAX_INVITATION_BATCH: usize = 100;

/// An invitation as asked: e-mails (normalised, see [`normalise_emails`]) invited into
/// `tenant` with `role` and `workspaces`.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub tenant: &'a str,
    pub role: &'a str,
    pub workspaces: &'a [String],
    pub emails: &'a [String],
}

/// The e-mails of an invitation as compared: trimmed, lower-case, empty entries dropped.
pub fn normalise_emails(raw: &[String]) -> Vec<String> {
    raw.iter()
        .map(|e| e.trim().to_lowercase())
        .filter(|e| !e.is_empty())
        .collect()
}

fn violation(
    code: &'static str,
    kind: Kind,
    key: &str,
    field: Option<&str>,
    message: String,
    help: Option<&str>,
) -> Violation {
    Violation {
        code,
        severity: Severity::Error,
        kind,
        key: key.to_string(),
        field: field.map(str::to_string),
        message,
        help: help.map(str::to_string),
    }
}

/// What is wrong with the request itself, whatever the platform holds: no e-mail, too many
/// e-mails or workspaces, an invalid or repeated e-mail.
pub fn check_request(req: &Request) -> Vec<Violation> {
    let t = req.tenant;
    let mut problems = Vec::new();
    if req.emails.is_empty() {
        problems.push(violation(
            "invitation_empty",
            Kind::Tenant,
            t,
            Some("emails"),
            "the invitation names no e-mail".into(),
            None,
        ));
    }
    if req.emails.len() > MAX_INVITATION_BATCH {
        problems.push(violation(
            "invitation_batch",
            Kind::Tenant,
            t,
            Some("emails"),
            format!(
                "{} e-mails: at most {MAX_INVITATION_BATCH} per invitation",
                req.emails.len()
            ),
            Some("send the invitations in batches of at most 100"),
        ));
    }
    if req.workspaces.len() > MAX_INVITATION_WORKSPACES {
        problems.push(violation(
            "invitation_workspaces",
            Kind::Tenant,
            t,
            Some("workspaces"),
            format!(
                "{} workspaces: at most {MAX_INVITATION_WORKSPACES} are assigned at invitation",
                req.workspaces.len()
            ),
            Some("assign the rest after the invitation is accepted"),
        ));
    }
    let mut seen = BTreeSet::new();
    for (i, e) in req.emails.iter().enumerate() {
        if !is_valid_email(e) {
            problems.push(violation(
                "invalid_email",
                Kind::User,
                e,
                Some(&format!("emails/{i}")),
                format!("`{e}` is not a valid e-mail address"),
                None,
            ));
        } else if !seen.insert(e.as_str()) {
            problems.push(violation(
                "duplicate_email",
                Kind::User,
                e,
                Some(&format!("emails/{i}")),
                format!("`{e}` is listed twice"),
                None,
            ));
        }
    }
    problems
}

/// What is wrong with the request on `state`: an unknown role or workspace, an e-mail
/// already a member of the tenant, or one of `pending` (the e-mails with a pending
/// invitation to the tenant).
pub fn check_against(state: &State, req: &Request, pending: &BTreeSet<String>) -> Vec<Violation> {
    let t = req.tenant;
    let mut problems = Vec::new();
    if !role_exists(state, req.role) {
        problems.push(violation(
            "unknown_role",
            Kind::Tenant,
            t,
            Some("role"),
            format!("role `{}` does not exist", req.role),
            None,
        ));
    }
    for (i, w) in req.workspaces.iter().enumerate() {
        if !state.workspaces.contains_key(&keys::join(&[t, w])) {
            problems.push(violation(
                "unknown_workspace",
                Kind::Tenant,
                t,
                Some(&format!("workspaces/{i}")),
                format!("workspace `{w}` does not exist in tenant `{t}`"),
                None,
            ));
        }
    }
    for e in req.emails {
        let key = keys::join(&[e, t]);
        if state.memberships.contains_key(&key) {
            problems.push(violation(
                "already_member",
                Kind::Membership,
                &key,
                None,
                format!("`{e}` is already a member of `{t}`"),
                None,
            ));
        } else if pending.contains(e) {
            problems.push(violation(
                "already_invited",
                Kind::User,
                e,
                None,
                format!("`{e}` already has a pending invitation to `{t}`"),
                None,
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_checked_whole() {
        let emails = normalise_emails(&[
            " Eve@Acme.example".into(),
            "".into(),
            "eve@acme.example".into(),
            "not-an-email".into(),
        ]);
        assert_eq!(
            emails,
            ["eve@acme.example", "eve@acme.example", "not-an-email"]
        );
        let workspaces: Vec<String> = (0..11).map(|i| format!("w{i}")).collect();
        let req = Request {
            tenant: "acme",
            role: "member",
            workspaces: &workspaces,
            emails: &emails,
        };
        let codes: Vec<&str> = check_request(&req).iter().map(|v| v.code).collect();
        assert_eq!(
            codes,
            ["invitation_workspaces", "duplicate_email", "invalid_email"]
        );
        let codes: Vec<&str> = check_against(&State::default(), &req, &BTreeSet::new())
            .iter()
            .map(|v| v.code)
            .collect();
        assert_eq!(codes, ["unknown_workspace"; 11]);
    }
}
