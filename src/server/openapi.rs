//! The OpenAPI 3.1 document of the API, built in code from one table of routes and the
//! JSON Schemas of the wire types (schemars), committed at `schemas/openapi.json` (a test
//! keeps the two equal) and served at `/api/v1/openapi.json`.

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, SchemaGenerator};
use serde_json::{json, Map, Value};

use crate::api;
use crate::model::{AnySpec, Kind, State};

use super::http::resources::resource_path;

/// Where the committed copy lives, relative to the repository root.
pub const COMMITTED_PATH: &str = "schemas/openapi.json";

/// A success answer: status, description, media type and schema.
type Success<'a> = (u16, &'a str, Option<(&'a str, Value)>);

struct Doc {
    gen: SchemaGenerator,
    paths: Map<String, Value>,
}

#[derive(Clone, Copy, PartialEq)]
enum Shape {
    /// A read: no body.
    Read,
    /// A write with a JSON body.
    Write,
    /// A write without a body.
    Action,
}

fn error_codes(shape: Shape) -> &'static [u16] {
    match shape {
        Shape::Read => &[400, 401, 403, 404, 503],
        Shape::Write => &[400, 401, 403, 404, 409, 412, 413, 415, 422, 503],
        Shape::Action => &[400, 401, 403, 404, 409, 412, 422, 503],
    }
}

fn describe(code: u16) -> &'static str {
    match code {
        400 => "Malformed request (path, query, header or JSON syntax)",
        401 => "Missing or unknown bearer token",
        403 => "The token may not do this",
        404 => "No such resource, or not visible to the token",
        409 => "The state's revision moved (`stale_revision`) or a conflict",
        412 => "A resource's version moved (`stale_version`)",
        413 => "The request body is too large",
        415 => "The request body is not `application/json`",
        422 => "Well-formed but invalid: wrong shape (`invalid_body`, `invalid_spec`) or a broken rule (`rule_violation`)",
        503 => "The request timed out",
        _ => "Error",
    }
}

/// An identity key (`[a-z0-9][a-z0-9-]*`, at most 63).
pub const SLUG_PATTERN: &str = "^[a-z0-9][a-z0-9-]{0,62}$";
/// A lower-case e-mail address the platform accepts (a subset of what rule 5 allows).
pub const EMAIL_PATTERN: &str = "^[a-z0-9._%+-]{1,64}@[a-z0-9-]{1,63}(\\.[a-z0-9-]{1,63}){1,4}$";

fn path_param(name: &str) -> Value {
    let email = EMAIL_PATTERN.trim_start_matches('^').trim_end_matches('$');
    let slug = SLUG_PATTERN.trim_start_matches('^').trim_end_matches('$');
    let (description, schema) = match name {
        "email" => (
            "A user's e-mail (lower-case)",
            json!({ "type": "string", "pattern": EMAIL_PATTERN, "maxLength": 254 }),
        ),
        "grantee" => (
            "`role:NAME`, `user:EMAIL` or `tenant`",
            json!({ "type": "string", "pattern": format!("^(tenant|role:{slug}|user:{email})$") }),
        ),
        "id" => (
            "An invitation id",
            json!({ "type": "string", "pattern": "^inv_[0-9a-f]{32}$" }),
        ),
        "role" => (
            "A custom role key (built-in roles cannot be declared)",
            json!({ "type": "string", "pattern": SLUG_PATTERN, "not": { "enum": ["org_admin", "billing_admin", "user_admin", "member"] } }),
        ),
        _ => (
            "An identity key",
            json!({ "type": "string", "pattern": SLUG_PATTERN }),
        ),
    };
    json!({ "name": name, "in": "path", "required": true, "description": description, "schema": schema })
}

fn header_param(name: &str, description: &str) -> Value {
    json!({ "name": name, "in": "header", "required": false, "description": description, "schema": { "type": "string", "maxLength": 200 } })
}

/// What `If-Match` accepts: `*`, or a version, optionally quoted and weak.
pub const IF_MATCH_PATTERN: &str = "^(\\*|(W/)?\"[0-9]{1,18}\"|[0-9]{1,18})$";

fn page_params() -> Vec<Value> {
    vec![
        json!({ "name": "limit", "in": "query", "required": false, "description": "Page size (1 to 1000, default 100)",
                "schema": { "type": "integer", "minimum": 1, "maximum": 1000 } }),
        json!({ "name": "cursor", "in": "query", "required": false, "description": "The `next_cursor` of the previous page",
                "schema": { "type": "string", "minLength": 1 } }),
    ]
}

fn params_of(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(path_param)
        .collect()
}

impl Doc {
    fn schema<T: JsonSchema>(&mut self) -> Value {
        self.gen.subschema_for::<T>().to_value()
    }

    #[allow(clippy::too_many_arguments)]
    fn op(
        &mut self,
        method: &str,
        path: &str,
        id: &str,
        tag: &str,
        summary: &str,
        shape: Shape,
        mut params: Vec<Value>,
        body: Option<Value>,
        ok: Vec<Success<'_>>,
        auth: bool,
    ) {
        let mut all = params_of(path);
        all.append(&mut params);
        if matches!(shape, Shape::Write | Shape::Action) && auth {
            all.push(header_param(
                api::CHANGE_SET_HEADER,
                "Change-set id of an apply, recorded in the audit log",
            ));
            all.push(header_param(
                api::COMMIT_HEADER,
                "VCS commit the change comes from, recorded in the audit log",
            ));
        }
        let mut responses = Map::new();
        for (code, desc, content) in ok {
            let mut r = json!({ "description": desc });
            if let Some((mime, schema)) = content {
                r["content"] = json!({ mime: { "schema": schema } });
            }
            responses.insert(code.to_string(), r);
        }
        let codes: Vec<u16> = error_codes(shape)
            .iter()
            .copied()
            .filter(|c| auth || !matches!(c, 401 | 403))
            .collect();
        for code in codes {
            responses.insert(code.to_string(), json!({ "description": describe(code), "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ErrorBody" } } } }));
        }
        let mut o = json!({ "operationId": id, "tags": [tag], "summary": summary, "parameters": all, "responses": responses });
        if let Some(b) = body {
            o["requestBody"] =
                json!({ "required": true, "content": { "application/json": { "schema": b } } });
        }
        if !auth {
            o["security"] = json!([]);
        }
        let full = if path == "/healthz" {
            path.to_string()
        } else {
            format!("{}{path}", api::PREFIX)
        };
        let entry = self.paths.entry(full).or_insert_with(|| json!({}));
        entry[method] = o;
    }
}

/// The OpenAPI document.
pub fn document() -> Value {
    let settings =
        SchemaSettings::draft2020_12().with(|s| s.definitions_path = "/components/schemas".into());
    let mut d = Doc {
        gen: settings.into_generator(),
        paths: Map::new(),
    };
    let error = d.schema::<api::ErrorBody>();
    let _ = error;
    let json_of = |v: Value| Some(("application/json", v));

    d.op(
        "get",
        "/healthz",
        "health",
        "meta",
        "Liveness probe",
        Shape::Read,
        vec![],
        None,
        vec![(
            200,
            "Alive",
            json_of(json!({ "$ref": "#/components/schemas/Health" })),
        )],
        false,
    );
    let _ = d.schema::<api::Health>();
    d.op(
        "get",
        "/openapi.json",
        "openapi",
        "meta",
        "This document",
        Shape::Read,
        vec![],
        None,
        vec![(
            200,
            "The OpenAPI document",
            json_of(json!({ "type": "object" })),
        )],
        false,
    );
    let s = d.schema::<api::WhoAmI>();
    d.op(
        "get",
        "/whoami",
        "whoami",
        "meta",
        "The token's identity",
        Shape::Read,
        vec![],
        None,
        vec![(200, "The token", json_of(s))],
        true,
    );
    let s = d.schema::<State>();
    d.op(
        "get",
        "/state",
        "getState",
        "state",
        "The whole state visible to the token, with its revision",
        Shape::Read,
        vec![],
        None,
        vec![(200, "The state", json_of(s))],
        true,
    );
    let req = d.schema::<api::BatchRequest>();
    let res = d.schema::<api::BatchResponse>();
    d.op(
        "post",
        "/batch",
        "batch",
        "state",
        "Apply many operations in one transaction, all or none",
        Shape::Write,
        vec![],
        Some(req),
        vec![(200, "Applied", json_of(res))],
        true,
    );

    let page = d.schema::<api::ResourcePage>();
    let resource = d.schema::<api::ResourceBody>();
    for &kind in Kind::ALL {
        let plural = kind.plural();
        let name = kind.as_str();
        d.op(
            "get",
            &format!("/{plural}"),
            &format!("list_{plural}"),
            name,
            &format!("List {plural}"),
            Shape::Read,
            page_params(),
            None,
            vec![(200, "A page", json_of(page.clone()))],
            true,
        );
        let path = resource_path(kind);
        d.op(
            "get",
            path,
            &format!("get_{name}"),
            name,
            &format!("Read one {name}"),
            Shape::Read,
            vec![],
            None,
            vec![(200, "The resource", json_of(resource.clone()))],
            true,
        );
        let spec = AnySpec::schema(kind, &mut d.gen).to_value();
        let body = json!({
            "type": "object", "additionalProperties": false, "required": ["spec"],
            "properties": { "spec": spec, "protected": { "type": ["boolean", "null"] }, "managed": { "type": ["boolean", "null"] } }
        });
        let if_match = || {
            json!({ "name": "If-Match", "in": "header", "required": false,
                    "description": "The version the resource must have, e.g. `\"3\"` (`\"0\"`: must not exist)",
                    "schema": { "type": "string", "pattern": IF_MATCH_PATTERN } })
        };
        d.op(
            "put",
            path,
            &format!("put_{name}"),
            name,
            &format!("Create or update one {name}"),
            Shape::Write,
            vec![if_match()],
            Some(body),
            vec![
                (200, "Updated", json_of(resource.clone())),
                (201, "Created", json_of(resource.clone())),
            ],
            true,
        );
        d.op(
            "delete",
            path,
            &format!("delete_{name}"),
            name,
            &format!("Delete one {name} and what depends on it"),
            Shape::Action,
            vec![if_match()],
            None,
            vec![(204, "Deleted", None)],
            true,
        );
    }

    let req = d.schema::<api::TokenRequest>();
    let res = d.schema::<api::TokenResponse>();
    d.op(
        "post",
        "/tokens",
        "createToken",
        "tokens",
        "Mint a token (system tokens only); the secret is shown once",
        Shape::Write,
        vec![],
        Some(req),
        vec![(201, "Created", json_of(res))],
        true,
    );
    let req = d.schema::<api::InvitationRequest>();
    let list = d.schema::<api::InvitationList>();
    d.op(
        "post",
        "/invitations",
        "invite",
        "invitations",
        "Invite up to 100 e-mails into a tenant",
        Shape::Write,
        vec![],
        Some(req),
        vec![(201, "Pending invitations", json_of(list.clone()))],
        true,
    );
    d.op(
        "get",
        "/invitations",
        "listInvitations",
        "invitations",
        "Invitations visible to the token",
        Shape::Read,
        vec![],
        None,
        vec![(200, "Invitations", json_of(list))],
        true,
    );
    let req = d.schema::<api::AcceptRequest>();
    let res = d.schema::<api::AcceptResponse>();
    d.op(
        "post",
        "/invitations/{id}/accept",
        "acceptInvitation",
        "invitations",
        "Accept an invitation: creates the user and its membership",
        Shape::Write,
        vec![],
        Some(req),
        vec![(200, "Accepted", json_of(res))],
        true,
    );
    d.op(
        "post",
        "/users/{email}/block",
        "blockUser",
        "user",
        "Block a user",
        Shape::Action,
        vec![],
        None,
        vec![(200, "The user", json_of(resource.clone()))],
        true,
    );
    d.op(
        "post",
        "/users/{email}/unblock",
        "unblockUser",
        "user",
        "Unblock a user",
        Shape::Action,
        vec![],
        None,
        vec![(200, "The user", json_of(resource.clone()))],
        true,
    );
    let res = d.schema::<api::PasswordResetResponse>();
    d.op(
        "post",
        "/users/{email}/password-reset",
        "passwordReset",
        "user",
        "A one-time password reset link (only a hash is stored)",
        Shape::Action,
        vec![],
        None,
        vec![(201, "The link", json_of(res))],
        true,
    );
    let req = d.schema::<api::RedeemRequest>();
    let res = d.schema::<api::RedeemResponse>();
    d.op(
        "post",
        "/password-resets/redeem",
        "redeemPasswordReset",
        "user",
        "Redeem a password reset link, once (the link's secret is the credential)",
        Shape::Write,
        vec![],
        Some(req),
        vec![(200, "Redeemed", json_of(res))],
        false,
    );
    let res = d.schema::<api::RemovedMemberships>();
    let tenants = json!({ "name": "tenant", "in": "query", "required": true, "description": "A tenant to remove the user from (repeatable)",
        "style": "form", "explode": true, "schema": { "type": "array", "items": { "type": "string", "pattern": SLUG_PATTERN }, "minItems": 1 } });
    d.op(
        "delete",
        "/users/{email}/memberships",
        "removeMemberships",
        "user",
        "Remove a user from one or several tenants",
        Shape::Action,
        vec![tenants],
        None,
        vec![(200, "Removed", json_of(res))],
        true,
    );
    let res = d.schema::<api::Dashboard>();
    d.op(
        "get",
        "/dashboard",
        "dashboard",
        "reports",
        "Totals for a dashboard",
        Shape::Read,
        vec![],
        None,
        vec![(200, "Totals", json_of(res))],
        true,
    );
    d.op(
        "get",
        "/exports/users.csv",
        "usersCsv",
        "reports",
        "Users CSV: one row per membership",
        Shape::Read,
        vec![],
        None,
        vec![(
            200,
            "first_name,last_name,email,created,status,language,tenant,role",
            Some(("text/csv", json!({ "type": "string" }))),
        )],
        true,
    );
    let res = d.schema::<api::AuditPage>();
    let mut audit_params = page_params();
    audit_params[1]["schema"] = json!({ "type": "string", "pattern": "^[1-9][0-9]{0,17}$" });
    d.op(
        "get",
        "/audit",
        "audit",
        "reports",
        "The audit log, newest first",
        Shape::Read,
        audit_params,
        None,
        vec![(200, "A page", json_of(res))],
        true,
    );

    let mut schemas = Value::Object(d.gen.take_definitions(true));
    super::specs::bound_integer_formats(&mut schemas);
    let mut paths = Value::Object(d.paths);
    super::specs::bound_integer_formats(&mut paths);
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "tenantctl platform API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The reference platform API served by `tenantctl serve`. Every error answers `{code, message, details}`."
        },
        "servers": [{ "url": "/" }],
        "security": [{ "bearer": [] }],
        "paths": paths,
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": schemas
        }
    })
}

/// The document as committed: pretty JSON with a final newline.
pub fn document_text() -> String {
    let mut s = serde_json::to_string_pretty(&document()).unwrap_or_default();
    s.push('\n');
    s
}
