//! The OpenAPI 3.1 document of the API, built from the route table (`http::routes()`, the
//! same routes the server serves) and the JSON Schemas of the wire types (schemars),
//! committed at `schemas/openapi.json` (a test keeps the two equal) and served at
//! `/api/v1/openapi.json`. The generator also makes it read well to client generators:
//! one component schema per kind (`PlanResource`, `PlanPage`, `PlanPutBody`), rustdoc links
//! turned into plain text, every tag declared; [`lint`] checks the rules it cannot enforce
//! itself (names, operation ids, descriptions), and a test runs it on the document.

mod lint;

pub use lint::{problems, strip_rustdoc_links};

use schemars::generate::SchemaSettings;
use schemars::SchemaGenerator;
use serde_json::{json, Map, Value};

use crate::api;
use crate::model::{AnySpec, Kind};

use super::http::route::{pascal_case, Method, Param, Route, Schema};

/// Where the committed copy lives, relative to the repository root.
pub const COMMITTED_PATH: &str = "schemas/openapi.json";

struct Doc {
    gen: SchemaGenerator,
    paths: Map<String, Value>,
    /// The tags in the order the routes first use them.
    tags: Vec<String>,
}

/// The description of each tag, declared at the top of the document. A route under a tag
/// missing here fails the [`lint`] test: add the tag with a sentence.
const TAGS: &[(&str, &str)] = &[
    ("meta", "The server itself: liveness, this document, who the token is."),
    ("state", "The whole state at once: read it, change it in one atomic batch, list its sensitive fields."),
    ("access", "Questions to the access decision: may this user do this in this tenant, and why."),
    ("apply-lock", "The lease an apply holds so that two applies never interleave."),
    ("plan", "Plans: what a tenant may use and its limits."),
    ("model", "Models of the platform catalog."),
    ("role", "Custom roles: named sets of catalog permissions."),
    ("tenant", "Tenants: the customers of the platform."),
    ("workspace", "Workspaces of a tenant."),
    ("tenant_model", "Models a tenant has enabled, with their settings."),
    ("grant", "Who may do what on a workspace."),
    ("registry", "Registers and records a workspace keeps (document 001): the platform's data, never in the state, counted by the tenant's limits and protected by the workspace's grants."),
    ("user", "Users: their profile, status, password resets and memberships."),
    ("membership", "A user's membership of a tenant: role and workspaces."),
    ("user_model", "A user's own settings of a model."),
    ("tokens", "API tokens."),
    ("sessions", "Signing in with a password: sessions, signing out, who is signed in."),
    ("invitations", "Invitations of e-mails into a tenant."),
    ("reports", "Read-only views for people: dashboard totals, CSV export, the audit log."),
];

/// Where a component schema is referenced from.
fn component_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// What the error answers of an operation depend on.
#[derive(Clone, Copy, PartialEq)]
enum Shape {
    /// A read: no body.
    Read,
    /// A write with a JSON body.
    Write,
    /// A write without a body.
    Action,
    /// A question with a JSON body, which changes nothing.
    Query,
}

fn error_codes(shape: Shape) -> &'static [u16] {
    match shape {
        Shape::Read => &[400, 401, 403, 404, 503],
        Shape::Write => &[400, 401, 403, 404, 409, 412, 413, 415, 422, 503],
        Shape::Action => &[400, 401, 403, 404, 409, 412, 422, 503],
        Shape::Query => &[400, 401, 403, 404, 413, 415, 422, 503],
    }
}

fn describe(code: u16) -> &'static str {
    match code {
        400 => "Malformed request (path, query, header or JSON syntax)",
        401 => "Missing or unknown bearer token",
        403 => "The token may not do this",
        404 => "No such resource, or not visible to the token",
        409 => "A conflict: the state's revision moved (`stale_revision`), a protected resource would be deleted (`resource_protected`), another apply holds the apply lock (`apply_locked`, `apply_lock_lost`)",
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
        "record" => (
            "A record id (`rec_…`, as the platform gave it)",
            json!({ "type": "string", "pattern": RECORD_ID_PATTERN }),
        ),
        "session" => (
            "A session id (`ses_…`, as `listUserSessions` answers it)",
            json!({ "type": "string", "pattern": "^ses_[0-9a-z]{1,64}$" }),
        ),
        "token" => (
            "A token id (`tok_…`, as `listTokens` answers it)",
            json!({ "type": "string", "pattern": "^tok_[0-9a-z_]{1,64}$" }),
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

/// A record id as the platform makes them.
pub const RECORD_ID_PATTERN: &str = "^rec_[0-9a-f]{24}$";

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

/// The parameters a route declares beyond its path's.
fn params(param: Param) -> Vec<Value> {
    match param {
        Param::Page => page_params(),
        Param::AuditPage => {
            let mut params = page_params();
            params[1]["schema"] = json!({ "type": "string", "pattern": "^[1-9][0-9]{0,17}$" });
            params
        }
        Param::KeyPage => {
            let mut params = page_params();
            params[1]["schema"] = json!({ "type": "string", "pattern": SLUG_PATTERN });
            params
        }
        Param::RecordPage => {
            let mut params = page_params();
            params[1]["schema"] = json!({ "type": "string", "pattern": RECORD_ID_PATTERN });
            params
        }
        Param::IfMatch => vec![
            json!({ "name": "If-Match", "in": "header", "required": false,
                    "description": "The version the resource must have, e.g. `\"3\"` (`\"0\"`: must not exist)",
                    "schema": { "type": "string", "pattern": IF_MATCH_PATTERN } }),
        ],
        Param::Cascade => vec![json!({ "name": "cascade", "in": "query", "required": false,
                    "description": "Also delete the registers and records it holds (without it, deleting what holds any is refused with 409)",
                    "schema": { "type": "boolean", "default": false } })],
        Param::Access => vec![
            json!({ "name": "user", "in": "query", "required": true, "description": "The user asked about (an e-mail)",
                    "schema": { "type": "string", "minLength": 1, "maxLength": 320 } }),
            json!({ "name": "tenant", "in": "query", "required": true, "description": "The tenant the user acts in",
                    "schema": { "type": "string", "minLength": 1, "maxLength": 63 } }),
            json!({ "name": "permission", "in": "query", "required": false, "description": "A catalog permission (`project.create`) or a grant action (`read`, `update`, `delete`, `create`); give this or `model`",
                    "schema": { "type": "string", "minLength": 1, "maxLength": 100 } }),
            json!({ "name": "workspace", "in": "query", "required": false, "description": "The workspace the permission is asked on",
                    "schema": { "type": "string", "minLength": 1, "maxLength": 63 } }),
            json!({ "name": "model", "in": "query", "required": false, "description": "A model; give this or `permission`",
                    "schema": { "type": "string", "minLength": 1, "maxLength": 63 } }),
        ],
        Param::Tenants => vec![
            json!({ "name": "tenant", "in": "query", "required": true, "description": "A tenant to remove the user from (repeatable)",
                    "style": "form", "explode": true, "schema": { "type": "array", "items": { "type": "string", "pattern": SLUG_PATTERN }, "minItems": 1 } }),
        ],
        Param::InvitationFilter => vec![
            json!({ "name": "status", "in": "query", "required": false, "description": "Only invitations in this status",
                    "schema": { "type": "string", "enum": ["pending", "accepted", "expired", "revoked"] } }),
            json!({ "name": "email", "in": "query", "required": false, "description": "Only invitations of this e-mail",
                    "schema": { "type": "string", "maxLength": 254 } }),
        ],
    }
}

fn params_of(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(path_param)
        .collect()
}

impl Doc {
    fn schema(&mut self, schema: &Schema) -> Value {
        match schema {
            Schema::Type(of) => of(&mut self.gen),
            Schema::PutBody(kind) => {
                let name = format!("{}PutBody", pascal_case(kind.as_str()));
                let spec = AnySpec::schema(*kind, &mut self.gen).to_value();
                let sensitive = self.gen.subschema_for::<api::SensitiveField>().to_value();
                self.component(&name, || json!({
                    "type": "object", "additionalProperties": false, "required": ["spec"],
                    "description": format!("The body of a PUT of one {kind}: its spec and flags."),
                    "properties": {
                        "spec": spec,
                        "protected": { "type": ["boolean", "null"], "description": "Never deleted by a plan (absent: unchanged)." },
                        "managed": { "type": ["boolean", "null"], "description": "Mark the resource as managed by tenantctl." },
                        "sensitive": { "type": ["array", "null"], "maxItems": 100, "items": sensitive,
                                       "description": "The spec's fields whose value is sensitive (from `${env:…}`): kept out of the audit log. Absent: keep what the platform knew; `[]`: none." }
                    }
                }))
            }
            Schema::Resource(kind) => self.resource(*kind),
            Schema::ResourcePage(kind) => {
                let name = format!("{}Page", pascal_case(kind.as_str()));
                let item = self.resource(*kind);
                let mut page = self.definition::<api::ResourcePage>();
                page["properties"]["items"]["items"] = item;
                page["description"] = json!(format!(
                    "A page of {} (`GET /api/v1/{}`).",
                    kind.plural(),
                    kind.plural()
                ));
                self.component(&name, || page)
            }
            Schema::Inline(v) => v.clone(),
        }
    }

    /// The definition (not a reference) of wire type `T`, as schemars writes it.
    fn definition<T: schemars::JsonSchema>(&mut self) -> Value {
        self.gen.subschema_for::<T>();
        self.gen
            .definitions()
            .get(T::schema_name().as_ref())
            .cloned()
            .unwrap_or_else(|| json!({ "type": "object" }))
    }

    /// Declares component `name` (once, with `make`) and answers a reference to it.
    fn component(&mut self, name: &str, make: impl FnOnce() -> Value) -> Value {
        if !self.gen.definitions().contains_key(name) {
            let schema = make();
            self.gen.definitions_mut().insert(name.to_string(), schema);
        }
        component_ref(name)
    }

    /// `PlanResource`: a resource of `kind` as the API returns it, its `spec` typed.
    fn resource(&mut self, kind: Kind) -> Value {
        let name = format!("{}Resource", pascal_case(kind.as_str()));
        let spec = AnySpec::schema(kind, &mut self.gen).to_value();
        let mut body = self.definition::<api::ResourceBody>();
        body["properties"]["spec"] = spec;
        body["properties"]["kind"] = json!({ "type": "string", "const": kind.as_str() });
        body["description"] = json!(format!("One {kind} as the API returns it."));
        self.component(&name, || body)
    }

    /// Adds the operation of `route`.
    fn op(&mut self, route: &Route) {
        let shape = match (route.method, &route.body) {
            (Method::Get, _) => Shape::Read,
            (_, Some(_)) if route.read_only => Shape::Query,
            (_, Some(_)) => Shape::Write,
            (_, None) => Shape::Action,
        };
        let auth = route.auth;
        let mut all = params_of(&route.path);
        all.extend(route.params.iter().flat_map(|p| params(*p)));
        if matches!(shape, Shape::Write | Shape::Action) && auth && !route.unaudited {
            all.push(header_param(
                api::CHANGE_SET_HEADER,
                "Change-set id of an apply, recorded in the audit log",
            ));
            all.push(header_param(
                api::COMMIT_HEADER,
                "VCS commit the change comes from, recorded in the audit log",
            ));
        }
        let body = route.body.as_ref().map(|b| self.schema(b));
        let mut responses = Map::new();
        for answer in &route.answers {
            let mut r = json!({ "description": answer.description });
            if let Some((mime, schema)) = &answer.content {
                r["content"] = json!({ *mime: { "schema": self.schema(schema) } });
            }
            responses.insert(answer.status.to_string(), r);
        }
        let codes: Vec<u16> = error_codes(shape)
            .iter()
            .copied()
            .filter(|c| auth || !matches!(c, 401 | 403))
            .collect();
        for code in codes {
            responses.insert(code.to_string(), json!({ "description": describe(code), "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ErrorBody" } } } }));
        }
        if !self.tags.contains(&route.tag) {
            self.tags.push(route.tag.clone());
        }
        let mut o = json!({ "operationId": route.operation_id, "tags": [route.tag], "summary": route.summary, "description": route.description, "parameters": all, "responses": responses });
        if let Some(b) = body {
            o["requestBody"] =
                json!({ "required": true, "content": { "application/json": { "schema": b } } });
        }
        if !auth {
            o["security"] = json!([]);
        }
        let entry = self
            .paths
            .entry(route.full_path())
            .or_insert_with(|| json!({}));
        entry[route.method.as_str()] = o;
    }
}

/// The OpenAPI document.
pub fn document() -> Value {
    let settings =
        SchemaSettings::draft2020_12().with(|s| s.definitions_path = "/components/schemas".into());
    let mut d = Doc {
        gen: settings.into_generator(),
        paths: Map::new(),
        tags: Vec::new(),
    };
    d.gen.subschema_for::<api::ErrorBody>();
    for route in super::http::routes().iter() {
        d.op(route);
    }
    let mut schemas = Value::Object(d.gen.take_definitions(true));
    super::json_schema::bound_integer_formats(&mut schemas);
    let mut paths = Value::Object(d.paths);
    super::json_schema::bound_integer_formats(&mut paths);
    lint::prune_unreferenced(&mut schemas, &paths);
    let tags: Vec<Value> = d
        .tags
        .iter()
        .filter_map(|t| TAGS.iter().find(|(name, _)| name == t))
        .map(|(name, description)| json!({ "name": name, "description": description }))
        .collect();
    let mut doc = json!({
        "openapi": "3.1.0",
        "info": {
            "title": "tenantctl platform API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The reference platform API served by `tenantctl serve`. Every error answers `{code, message, details}`."
        },
        "servers": [{ "url": "/" }],
        "security": [{ "bearer": [] }],
        "tags": tags,
        "paths": paths,
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": schemas
        }
    });
    lint::plain_descriptions(&mut doc);
    doc
}

/// The document as committed: pretty JSON with a final newline.
pub fn document_text() -> String {
    let mut s = serde_json::to_string_pretty(&document()).unwrap_or_default();
    s.push('\n');
    s
}
