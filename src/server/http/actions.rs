//! The endpoints beyond plain resources: identity, tokens, invitations, block and unblock,
//! password resets, removal from several tenants, the dashboard, the users CSV and the audit
//! log.

use std::collections::{BTreeSet, HashMap};

use axum::extract::State as AxState;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use rand::RngCore;
use serde_json::json;

use crate::api::{
    AcceptRequest, AcceptResponse, AuditEntry, AuditPage, Dashboard, Emails, Invitation,
    InvitationList, InvitationRequest, InvitationStatus, PasswordResetResponse, RemovedMemberships,
    TenantUsage, TokenRequest, Usage, WhoAmI,
};
use crate::model::{keys, AnySpec, Kind, MembershipSpec, State, UserSpec, UserStatus};
use crate::rules::{self, Severity, Violation, MAX_INVITATION_BATCH, MAX_INVITATION_WORKSPACES};
use crate::server::authz::{Access, Principal, Role};
use crate::server::engine::{check_key, Effect, Mutation, WriteRequest};
use crate::server::error::{ApiError, ApiResult};
use crate::server::store::{
    self, AuditCtx, AuditOp, AuditRow, AuditSubject, InvitationRow, NewAudit,
};

use super::extract::{hash_secret, AuditHeaders, Auth, JsonBody, Params, QueryPairs};
use super::resources::{json_response, resource_body, visible};
use super::AppState;

pub async fn whoami(Auth(p): Auth) -> Response {
    json_response(
        StatusCode::OK,
        &WhoAmI {
            token_id: p.token_id.clone(),
            scope: p.scope.to_string(),
            role: p.role.as_str().to_string(),
            user: p.user.clone(),
        },
    )
}

pub async fn health() -> Response {
    json_response(
        StatusCode::OK,
        &crate::api::Health {
            status: "ok".into(),
        },
    )
}

pub async fn create_token(
    AxState(app): AxState<AppState>,
    Auth(p): Auth,
    audit: AuditHeaders,
    JsonBody(req): JsonBody<TokenRequest>,
) -> ApiResult<Response> {
    if !p.is_system() {
        return Err(ApiError::forbidden("only a system token can create tokens"));
    }
    let ctx = AuditCtx {
        revision: app.engine.read(|s| s.revision).await?,
        token_id: p.token_id.clone(),
        change_set: audit.change_set,
        commit: audit.commit,
    };
    let token = crate::server::tokens::create(
        &app.engine.db,
        &req.scope,
        &req.role,
        req.user.as_deref(),
        req.description.as_deref(),
        Some(&ctx),
    )
    .await
    .map_err(|e| match e {
        crate::server::ServerError::InvalidToken(m) => {
            ApiError::invalid("invalid_token_request", m, json!({}))
        }
        other => ApiError::Internal(other.to_string()),
    })?;
    Ok(json_response(StatusCode::CREATED, &token))
}

fn invitation_wire(r: InvitationRow) -> Invitation {
    Invitation {
        id: r.id,
        email: r.email,
        tenant: r.tenant,
        role: r.role,
        workspaces: r.workspaces,
        message: r.message,
        status: match r.status {
            store::InvitationStatus::Pending => InvitationStatus::Pending,
            store::InvitationStatus::Accepted => InvitationStatus::Accepted,
        },
        invited_by: r.invited_by,
        created_at: r.created_at,
        accepted_at: r.accepted_at,
    }
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

/// Checks that `p` may invite into (or accept for) tenant `t` with `role`.
fn may_invite(p: &Principal, state: &State, t: &str, role: &str) -> Result<(), ApiError> {
    if p.read_access(state, Kind::Tenant, t) == Access::Hidden || !state.tenants.contains_key(t) {
        return Err(ApiError::NotFound {
            message: format!("tenant `{t}` does not exist"),
            details: json!({ "kind": "tenant", "key": t }),
        });
    }
    match (&p.tenant(), p.role) {
        (None, _) | (Some(_), Role::OrgAdmin) => Ok(()),
        (Some(_), Role::UserAdmin) if role == "member" => Ok(()),
        (Some(_), Role::UserAdmin) => Err(ApiError::forbidden(
            "a `user_admin` token can only invite `member`s",
        )),
        _ => Err(ApiError::forbidden(format!(
            "a `{}` token cannot invite",
            p.role.as_str()
        ))),
    }
}

pub async fn invite(
    AxState(app): AxState<AppState>,
    Auth(p): Auth,
    audit: AuditHeaders,
    JsonBody(req): JsonBody<InvitationRequest>,
) -> ApiResult<Response> {
    p.require_admin()?;
    let raw: Vec<String> = match req.emails {
        Emails::List(v) => v,
        Emails::Joined(s) => s.split(';').map(str::to_string).collect(),
    };
    let emails: Vec<String> = raw
        .iter()
        .map(|e| e.trim().to_lowercase())
        .filter(|e| !e.is_empty())
        .collect();
    let t = req.tenant.clone();
    let mut problems = Vec::new();
    if emails.is_empty() {
        problems.push(violation(
            "invitation_empty",
            Kind::Tenant,
            &t,
            Some("emails"),
            "the invitation names no e-mail".into(),
            None,
        ));
    }
    if emails.len() > MAX_INVITATION_BATCH {
        problems.push(violation(
            "invitation_batch",
            Kind::Tenant,
            &t,
            Some("emails"),
            format!(
                "{} e-mails: at most {MAX_INVITATION_BATCH} per invitation",
                emails.len()
            ),
            Some("send the invitations in batches of at most 100"),
        ));
    }
    if req.workspaces.len() > MAX_INVITATION_WORKSPACES {
        problems.push(violation(
            "invitation_workspaces",
            Kind::Tenant,
            &t,
            Some("workspaces"),
            format!(
                "{} workspaces: at most {MAX_INVITATION_WORKSPACES} are assigned at invitation",
                req.workspaces.len()
            ),
            Some("assign the rest after the invitation is accepted"),
        ));
    }
    let mut seen = BTreeSet::new();
    for (i, e) in emails.iter().enumerate() {
        if !rules::is_valid_email(e) {
            problems.push(violation(
                "invalid_email",
                Kind::User,
                e,
                Some(&format!("emails/{i}")),
                format!("`{e}` is not a valid e-mail address"),
                None,
            ));
        } else if !seen.insert(e.clone()) {
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
    let (pending, revision) = {
        let existing = app.engine.db.invitations(Some(&t)).await?;
        let pending: BTreeSet<String> = existing
            .into_iter()
            .filter(|r| r.status == store::InvitationStatus::Pending)
            .map(|r| r.email)
            .collect();
        (pending, app.engine.read(|s| s.revision).await?)
    };
    app.engine
        .read(|s| -> Result<(), ApiError> {
            may_invite(&p, s, &t, &req.role)?;
            if !rules::role_exists(s, &req.role) {
                problems.push(violation(
                    "unknown_role",
                    Kind::Tenant,
                    &t,
                    Some("role"),
                    format!("role `{}` does not exist", req.role),
                    None,
                ));
            }
            for (i, w) in req.workspaces.iter().enumerate() {
                if !s.workspaces.contains_key(&keys::join(&[&t, w])) {
                    problems.push(violation(
                        "unknown_workspace",
                        Kind::Tenant,
                        &t,
                        Some(&format!("workspaces/{i}")),
                        format!("workspace `{w}` does not exist in tenant `{t}`"),
                        None,
                    ));
                }
            }
            for e in &emails {
                if s.memberships.contains_key(&keys::join(&[e, &t])) {
                    problems.push(violation(
                        "already_member",
                        Kind::Membership,
                        &keys::join(&[e, &t]),
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
            Ok(())
        })
        .await??;
    if !problems.is_empty() {
        return Err(ApiError::Rules {
            message: format!(
                "the invitation breaks {} rule(s): {}",
                problems.len(),
                problems[0].message
            ),
            violations: problems,
        });
    }
    let now = store::now();
    let rows: Vec<InvitationRow> = emails
        .iter()
        .map(|e| InvitationRow {
            id: format!("inv_{}", uuid::Uuid::new_v4().simple()),
            email: e.clone(),
            tenant: t.clone(),
            role: req.role.clone(),
            workspaces: req.workspaces.clone(),
            message: req.message.clone(),
            status: store::InvitationStatus::Pending,
            invited_by: p.token_id.clone(),
            created_at: now.clone(),
            accepted_at: None,
        })
        .collect();
    let entries: Vec<NewAudit> = rows
        .iter()
        .map(|r| NewAudit {
            op: AuditOp::Invite,
            subject: AuditSubject::Invitation,
            key: r.id.clone(),
            tenant: Some(t.clone()),
            before: None,
            after: Some(json!({ "email": r.email, "tenant": r.tenant, "role": r.role, "workspaces": r.workspaces, "message": r.message }).to_string()),
        })
        .collect();
    let ctx = AuditCtx {
        revision,
        token_id: p.token_id.clone(),
        change_set: audit.change_set,
        commit: audit.commit,
    };
    app.engine
        .db
        .insert_invitations(&rows, Some((&ctx, &entries)))
        .await?;
    Ok(json_response(
        StatusCode::CREATED,
        &InvitationList {
            items: rows.into_iter().map(invitation_wire).collect(),
        },
    ))
}

pub async fn list_invitations(
    AxState(app): AxState<AppState>,
    Auth(p): Auth,
    q: QueryPairs,
) -> ApiResult<Response> {
    p.require_admin()?;
    q.only(&[])?;
    let rows = app.engine.db.invitations(p.tenant()).await?;
    Ok(json_response(
        StatusCode::OK,
        &InvitationList {
            items: rows.into_iter().map(invitation_wire).collect(),
        },
    ))
}

pub async fn accept(
    AxState(app): AxState<AppState>,
    Auth(p): Auth,
    params: Params,
    audit: AuditHeaders,
    JsonBody(req): JsonBody<AcceptRequest>,
) -> ApiResult<Response> {
    p.require_admin()?;
    let id = params.0.first().cloned().unwrap_or_default();
    let not_found = || ApiError::NotFound {
        message: format!("invitation `{id}` does not exist"),
        details: json!({ "id": id }),
    };
    let well_formed = id
        .strip_prefix("inv_")
        .is_some_and(|h| h.len() == 32 && h.bytes().all(|b| b.is_ascii_hexdigit()));
    if !well_formed {
        return Err(not_found());
    }
    let inv = app.engine.db.invitation(&id).await?.ok_or_else(not_found)?;
    if p.tenant().is_some_and(|t| t != inv.tenant) {
        return Err(not_found());
    }
    if inv.status != store::InvitationStatus::Pending {
        return Err(ApiError::Conflict {
            code: "invitation_not_pending",
            message: format!("invitation `{id}` was already accepted"),
            details: json!({ "id": id }),
        });
    }
    let membership_key = keys::join(&[&inv.email, &inv.tenant]);
    let user_exists = app
        .engine
        .read(|s| -> Result<bool, ApiError> {
            may_invite(&p, s, &inv.tenant, &inv.role)?;
            if s.memberships.contains_key(&membership_key) {
                return Err(ApiError::Conflict {
                    code: "already_member",
                    message: format!("`{}` is already a member of `{}`", inv.email, inv.tenant),
                    details: json!({ "key": membership_key }),
                });
            }
            Ok(s.users.contains_key(&inv.email))
        })
        .await??;
    let mut mutations = Vec::new();
    if !user_exists {
        let spec = UserSpec {
            first_name: req.first_name.clone(),
            last_name: req.last_name.clone(),
            language: req.language.unwrap_or_default(),
            ..UserSpec::default()
        };
        mutations.push(Mutation {
            kind: Kind::User,
            key: inv.email.clone(),
            if_version: Some(0),
            effect: Effect::Put {
                spec: AnySpec::User(spec),
                protected: None,
                managed: Some(false),
            },
        });
    }
    let spec = MembershipSpec {
        role: inv.role.clone(),
        workspaces: inv.workspaces.clone(),
    };
    mutations.push(Mutation {
        kind: Kind::Membership,
        key: membership_key.clone(),
        if_version: Some(0),
        effect: Effect::Put {
            spec: AnySpec::Membership(spec),
            protected: None,
            managed: Some(false),
        },
    });
    let mut w = WriteRequest::new(p.clone(), mutations);
    w.accept_invitation = Some(id.clone());
    w.change_set = audit.change_set;
    w.commit = audit.commit;
    let out = app.engine.write(w).await?;
    let (user, membership) = app
        .engine
        .read(|s| {
            (
                s.get(Kind::User, &inv.email),
                s.get(Kind::Membership, &membership_key),
            )
        })
        .await?;
    let (Some((um, us)), Some((mm, ms))) = (user, membership) else {
        return Err(ApiError::Internal(
            "accepted invitation left no user or membership".into(),
        ));
    };
    Ok(json_response(
        StatusCode::OK,
        &AcceptResponse {
            revision: out.revision,
            user: resource_body(Kind::User, &inv.email, um, &us),
            membership: resource_body(Kind::Membership, &membership_key, mm, &ms),
        },
    ))
}

fn email_param(params: &Params) -> Result<String, ApiError> {
    let email = params.0.first().cloned().unwrap_or_default();
    check_key(Kind::User, &email)?;
    Ok(email)
}

async fn set_status(
    app: AppState,
    p: Principal,
    params: Params,
    audit: AuditHeaders,
    status: UserStatus,
) -> ApiResult<Response> {
    p.require_admin()?;
    let email = email_param(&params)?;
    let (meta, spec) = app
        .engine
        .read(|s| visible(&p, s, Kind::User, &email))
        .await??;
    let AnySpec::User(mut user) = spec else {
        return Err(ApiError::Internal("user spec of another kind".into()));
    };
    if user.status == status {
        return Ok(json_response(
            StatusCode::OK,
            &resource_body(Kind::User, &email, meta, &AnySpec::User(user)),
        ));
    }
    user.status = status;
    let mutation = Mutation {
        kind: Kind::User,
        key: email.clone(),
        if_version: Some(meta.version),
        effect: Effect::Put {
            spec: AnySpec::User(user),
            protected: None,
            managed: None,
        },
    };
    let mut w = WriteRequest::new(p, vec![mutation]);
    w.change_set = audit.change_set;
    w.commit = audit.commit;
    let out = app.engine.write(w).await?;
    let Some((_, Some((meta, spec)))) = out.results.into_iter().next() else {
        return Err(ApiError::Internal("no result".into()));
    };
    Ok(json_response(
        StatusCode::OK,
        &resource_body(Kind::User, &email, meta, &spec),
    ))
}

pub async fn block(
    AxState(app): AxState<AppState>,
    Auth(p): Auth,
    params: Params,
    audit: AuditHeaders,
) -> ApiResult<Response> {
    set_status(app, p, params, audit, UserStatus::Blocked).await
}

pub async fn unblock(
    AxState(app): AxState<AppState>,
    Auth(p): Auth,
    params: Params,
    audit: AuditHeaders,
) -> ApiResult<Response> {
    set_status(app, p, params, audit, UserStatus::Active).await
}

pub async fn password_reset(
    AxState(app): AxState<AppState>,
    Auth(p): Auth,
    params: Params,
    audit: AuditHeaders,
) -> ApiResult<Response> {
    p.require_admin()?;
    let email = email_param(&params)?;
    let revision = app
        .engine
        .read(|s| visible(&p, s, Kind::User, &email).map(|_| s.revision))
        .await??;
    if !p.is_system() && !matches!(p.role, Role::OrgAdmin | Role::UserAdmin) {
        return Err(ApiError::forbidden(format!(
            "a `{}` token cannot reset passwords",
            p.role.as_str()
        )));
    }
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret);
    let expires = time::OffsetDateTime::now_utc() + time::Duration::hours(24);
    let expires_at = expires
        .format(&time::format_description::well_known::Rfc3339)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let id = format!("pwr_{}", uuid::Uuid::new_v4().simple());
    let entry = NewAudit {
        op: AuditOp::PasswordReset,
        subject: AuditSubject::Resource(Kind::User),
        key: email.clone(),
        tenant: None,
        before: None,
        after: Some(json!({ "reset": id, "expires_at": expires_at }).to_string()),
    };
    let ctx = AuditCtx {
        revision,
        token_id: p.token_id.clone(),
        change_set: audit.change_set,
        commit: audit.commit,
    };
    app.engine
        .db
        .insert_password_reset(
            &id,
            &email,
            &hash_secret(&secret),
            &expires_at,
            Some((&ctx, &[entry])),
        )
        .await?;
    let link = format!("{}/reset-password?token={secret}", app.public_url);
    Ok(json_response(
        StatusCode::CREATED,
        &PasswordResetResponse { link, expires_at },
    ))
}

pub async fn remove_memberships(
    AxState(app): AxState<AppState>,
    Auth(p): Auth,
    params: Params,
    q: QueryPairs,
    audit: AuditHeaders,
) -> ApiResult<Response> {
    p.require_admin()?;
    q.only(&["tenant"])?;
    let email = email_param(&params)?;
    let tenants: BTreeSet<String> = q.all("tenant").into_iter().map(str::to_string).collect();
    if tenants.is_empty() {
        return Err(ApiError::bad_request(
            "invalid_query",
            "name the tenants to remove the user from: `?tenant=a&tenant=b`",
        ));
    }
    let mut mutations = Vec::new();
    for t in &tenants {
        let key = keys::join(&[&email, t]);
        check_key(Kind::Membership, &key)?;
        mutations.push(Mutation {
            kind: Kind::Membership,
            key,
            if_version: None,
            effect: Effect::Delete,
        });
    }
    let mut w = WriteRequest::new(p, mutations);
    w.change_set = audit.change_set;
    w.commit = audit.commit;
    let out = app.engine.write(w).await?;
    Ok(json_response(
        StatusCode::OK,
        &RemovedMemberships {
            revision: out.revision,
            removed: tenants.into_iter().collect(),
        },
    ))
}

fn audit_wire(r: AuditRow) -> AuditEntry {
    AuditEntry {
        id: r.id,
        at: r.at,
        revision: r.revision,
        token_id: r.token_id,
        op: r.op.as_str().to_string(),
        kind: r.subject.as_str().to_string(),
        key: r.key,
        tenant: r.tenant,
        before: r.before,
        after: r.after,
        change_set: r.change_set,
        commit: r.commit,
    }
}

pub async fn audit(
    AxState(app): AxState<AppState>,
    Auth(p): Auth,
    q: QueryPairs,
) -> ApiResult<Response> {
    p.require_admin()?;
    let (limit, cursor) = q.page(100, 1000)?;
    let before =
        match cursor {
            None => None,
            Some(c) => Some(c.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                ApiError::BadRequest {
                    code: "invalid_pagination",
                    message: format!(
                        "`cursor` must be the `next_cursor` of a previous page, got `{c}`"
                    ),
                    details: json!({ "parameter": "cursor" }),
                }
            })?),
        };
    let rows = app
        .engine
        .db
        .audit_page(p.tenant(), before, limit as i64)
        .await?;
    let next_cursor = if rows.len() == limit {
        rows.last().map(|r| r.id.to_string())
    } else {
        None
    };
    Ok(json_response(
        StatusCode::OK,
        &AuditPage {
            items: rows.into_iter().map(audit_wire).collect(),
            next_cursor,
        },
    ))
}

pub async fn dashboard(
    AxState(app): AxState<AppState>,
    Auth(p): Auth,
    q: QueryPairs,
) -> ApiResult<Response> {
    p.require_admin()?;
    q.only(&[])?;
    let recent = app.engine.db.audit_page(p.tenant(), None, 20).await?;
    let pending = app
        .engine
        .db
        .invitations(p.tenant())
        .await?
        .into_iter()
        .filter(|r| r.status == store::InvitationStatus::Pending)
        .count() as u64;
    let mut dash = app
        .engine
        .read(|s| {
            let members = rules::members_by_tenant(s);
            let tenants: Vec<&String> = s
                .tenants
                .keys()
                .filter(|t| p.read_access(s, Kind::Tenant, t) == Access::Allowed)
                .collect();
            let mut plan_usage = Vec::new();
            let mut workspaces = 0u64;
            let mut memberships = 0u64;
            let mut users = BTreeSet::new();
            for t in &tenants {
                let Some(e) = s.tenants.get(*t) else { continue };
                let plan_limits = s
                    .plans
                    .get(&e.spec.plan)
                    .map(|p| p.spec.limits.clone())
                    .unwrap_or_default();
                let limits = e.spec.limits.over(&plan_limits);
                let ms = members.get(t.as_str()).map(Vec::as_slice).unwrap_or(&[]);
                let ws = s.keys_in(Kind::Workspace, &format!("{t}/")).count() as u64;
                workspaces += ws;
                memberships += ms.len() as u64;
                users.extend(ms.iter().map(|(u, _)| *u));
                plan_usage.push(TenantUsage {
                    tenant: (*t).clone(),
                    plan: e.spec.plan.clone(),
                    status: serde_json::to_value(e.spec.status)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default(),
                    users: Usage {
                        used: ms.len() as u64,
                        limit: limits.users.map(u64::from),
                    },
                    workspaces: Usage {
                        used: ws,
                        limit: limits.workspaces.map(u64::from),
                    },
                });
            }
            let (user_count, blocked) = if p.is_system() {
                (
                    s.users.len() as u64,
                    s.users
                        .values()
                        .filter(|u| u.spec.status == UserStatus::Blocked)
                        .count() as u64,
                )
            } else {
                let blocked = users
                    .iter()
                    .filter(|u| {
                        s.users
                            .get(**u)
                            .is_some_and(|u| u.spec.status == UserStatus::Blocked)
                    })
                    .count() as u64;
                (users.len() as u64, blocked)
            };
            Dashboard {
                revision: s.revision,
                tenants: tenants.len() as u64,
                users: user_count,
                blocked_users: blocked,
                workspaces,
                memberships,
                pending_invitations: 0,
                plan_usage,
                recent_activity: Vec::new(),
            }
        })
        .await?;
    dash.pending_invitations = pending;
    dash.recent_activity = recent.into_iter().map(audit_wire).collect();
    Ok(json_response(StatusCode::OK, &dash))
}

fn csv_field(out: &mut String, s: &str) {
    if s.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&s.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(s);
    }
}

/// The seed 002/004 users CSV: one row per membership, limited to what the token sees.
pub async fn users_csv(
    AxState(app): AxState<AppState>,
    Auth(p): Auth,
    q: QueryPairs,
) -> ApiResult<Response> {
    p.require_admin()?;
    q.only(&[])?;
    let created: HashMap<String, String> = app.engine.db.user_created().await?;
    let body = app
        .engine
        .read(|s| {
            let mut out =
                String::from("first_name,last_name,email,created,status,language,tenant,role\n");
            for (key, m) in &s.memberships {
                if p.read_access(s, Kind::Membership, key) != Access::Allowed {
                    continue;
                }
                let Some((email, tenant)) = keys::split2(key) else {
                    continue;
                };
                let Some(u) = s.users.get(email) else {
                    continue;
                };
                let status = if u.spec.status == UserStatus::Blocked {
                    "blocked"
                } else {
                    "active"
                };
                let language = serde_json::to_value(u.spec.language)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                let fields = [
                    u.spec.first_name.as_deref().unwrap_or(""),
                    u.spec.last_name.as_deref().unwrap_or(""),
                    email,
                    created.get(email).map(String::as_str).unwrap_or(""),
                    status,
                    &language,
                    tenant,
                    &m.spec.role,
                ];
                for (i, f) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    csv_field(&mut out, f);
                }
                out.push('\n');
            }
            out
        })
        .await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/csv; charset=utf-8"),
        )],
        body,
    )
        .into_response())
}

/// Redeems a password reset link, once: the link's secret is the credential (no token).
pub async fn redeem_password_reset(
    AxState(app): AxState<AppState>,
    JsonBody(req): JsonBody<crate::api::RedeemRequest>,
) -> ApiResult<Response> {
    use store::Redeemed;
    match app
        .engine
        .db
        .redeem_password_reset(&hash_secret(&req.token))
        .await?
    {
        Redeemed::Ok(email) => Ok(json_response(
            StatusCode::OK,
            &crate::api::RedeemResponse { email },
        )),
        Redeemed::Unknown => Err(ApiError::not_found("no such password reset link")),
        Redeemed::Used => Err(ApiError::Conflict {
            code: "reset_used",
            message: "this password reset link was already used".into(),
            details: json!({}),
        }),
        Redeemed::Expired => Err(ApiError::Conflict {
            code: "reset_expired",
            message: "this password reset link has expired".into(),
            details: json!({}),
        }),
    }
}
