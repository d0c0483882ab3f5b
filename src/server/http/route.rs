//! The route table. Each endpoint is declared once, as a [`Route`]: its method, path and
//! handler, and what the OpenAPI document says of it (operation id, summary, extra
//! parameters, body, answers, whether it needs a token). Each resource module returns its
//! [`Routes`], under one OpenAPI tag; `http::routes()` merges them, `http::router()` serves
//! them and `openapi::document()` describes them, so the two cannot disagree.

use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::routing::{on, MethodFilter, MethodRouter};
use axum::Router;
use schemars::{JsonSchema, SchemaGenerator};
use serde_json::Value;

use crate::api::PREFIX;
use crate::model::Kind;

use super::AppState;

/// The HTTP method of a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
}

impl Method {
    /// The lower-case name, as OpenAPI writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "get",
            Method::Post => "post",
            Method::Put => "put",
            Method::Delete => "delete",
        }
    }

    fn filter(self) -> MethodFilter {
        match self {
            Method::Get => MethodFilter::GET,
            Method::Post => MethodFilter::POST,
            Method::Put => MethodFilter::PUT,
            Method::Delete => MethodFilter::DELETE,
        }
    }
}

/// The JSON Schema of a body or an answer.
#[derive(Debug, Clone)]
pub enum Schema {
    /// A wire type's schemars schema (a `$ref` into `components/schemas`).
    Type(fn(&mut SchemaGenerator) -> Value),
    /// The body of a PUT of one resource of a kind: its spec and flags (`PlanPutBody`).
    PutBody(Kind),
    /// One resource of a kind as the API returns it, its spec typed (`PlanResource`).
    Resource(Kind),
    /// A page of resources of a kind (`PlanPage`).
    ResourcePage(Kind),
    /// Written out.
    Inline(Value),
}

fn schema_of<T: JsonSchema>(generator: &mut SchemaGenerator) -> Value {
    generator.subschema_for::<T>().to_value()
}

impl Schema {
    /// The schema of wire type `T`.
    pub fn of<T: JsonSchema>() -> Schema {
        Schema::Type(schema_of::<T>)
    }
}

/// `tenant_model` or `tenant-model` as `TenantModel`: how operation ids and schema names
/// spell a kind.
pub fn pascal_case(s: &str) -> String {
    s.split(['_', '-', ' '])
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// A parameter beyond those of the path (which the path names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Param {
    /// `limit` and `cursor` of a list (the cursor is the last key of the previous page).
    Page,
    /// `limit` and `cursor` of the audit log (the cursor is an entry id).
    AuditPage,
    /// `limit` and `cursor` of a list by key (the cursor is a key).
    KeyPage,
    /// `limit` and `cursor` of a list of records (the cursor is a record id).
    RecordPage,
    /// `If-Match`: the version the resource must have.
    IfMatch,
    /// `cascade`: also delete the registers and records held (a workspace, a register).
    Cascade,
    /// `tenant`, once or more: the tenants to remove a user from.
    Tenants,
    /// `status` and `email`: which invitations to list.
    InvitationFilter,
    /// `user`, `tenant`, and `permission` (with `workspace`) or `model`: a question to the
    /// access decision.
    Access,
}

/// A success answer: status, description, and the media type and schema of its body
/// (None: no body).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub description: &'static str,
    pub content: Option<(&'static str, Schema)>,
}

/// One endpoint: how it is served and how it is documented.
pub struct Route {
    pub method: Method,
    /// Under `/api/v1`, unless `root`.
    pub path: String,
    /// Served from the root (`/healthz`), not under `/api/v1`.
    pub root: bool,
    pub operation_id: String,
    /// The OpenAPI tag, set by the [`Routes`] the route is added to.
    pub tag: String,
    pub summary: String,
    /// What the operation does, in a few sentences (the OpenAPI `description`).
    pub description: String,
    /// Whether a bearer token is needed.
    pub auth: bool,
    /// A POST that changes nothing (a question with a body): no audit headers, no
    /// precondition answers.
    pub read_only: bool,
    /// A write the audit log does not record (the platform's data: registers and records),
    /// so it takes no audit headers.
    pub unaudited: bool,
    pub params: Vec<Param>,
    pub body: Option<Schema>,
    pub answers: Vec<Answer>,
    handler: MethodRouter<AppState>,
}

impl Route {
    /// `handler` serving `method` at `path` (under `/api/v1`), with a token.
    pub fn new<H, T>(method: Method, path: impl Into<String>, handler: H) -> Route
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        Route {
            method,
            path: path.into(),
            root: false,
            operation_id: String::new(),
            tag: String::new(),
            summary: String::new(),
            description: String::new(),
            auth: true,
            read_only: false,
            unaudited: false,
            params: Vec::new(),
            body: None,
            answers: Vec::new(),
            handler: on(method.filter(), handler),
        }
    }

    pub fn get<H: Handler<T, AppState>, T: 'static>(path: impl Into<String>, h: H) -> Route {
        Route::new(Method::Get, path, h)
    }

    pub fn post<H: Handler<T, AppState>, T: 'static>(path: impl Into<String>, h: H) -> Route {
        Route::new(Method::Post, path, h)
    }

    pub fn put<H: Handler<T, AppState>, T: 'static>(path: impl Into<String>, h: H) -> Route {
        Route::new(Method::Put, path, h)
    }

    pub fn delete<H: Handler<T, AppState>, T: 'static>(path: impl Into<String>, h: H) -> Route {
        Route::new(Method::Delete, path, h)
    }

    /// Its operation id and one-line summary.
    pub fn doc(mut self, operation_id: impl Into<String>, summary: impl Into<String>) -> Route {
        self.operation_id = operation_id.into();
        self.summary = summary.into();
        self
    }

    /// What it does, for the reader of the document: effects, who may call it, what the
    /// answers mean. Required (a test checks every route has one).
    pub fn about(mut self, description: impl Into<String>) -> Route {
        self.description = description.into();
        self
    }

    /// Needs no token.
    pub fn public(mut self) -> Route {
        self.auth = false;
        self
    }

    /// Changes nothing, whatever its method.
    pub fn read_only(mut self) -> Route {
        self.read_only = true;
        self
    }

    /// A write the audit log does not record: no audit headers.
    pub fn unaudited(mut self) -> Route {
        self.unaudited = true;
        self
    }

    /// Served from the root, not under `/api/v1`.
    pub fn at_root(mut self) -> Route {
        self.root = true;
        self
    }

    pub fn param(mut self, param: Param) -> Route {
        self.params.push(param);
        self
    }

    /// Takes a JSON body of this schema.
    pub fn body(mut self, schema: Schema) -> Route {
        self.body = Some(schema);
        self
    }

    /// Answers `status` with a JSON body of this schema.
    pub fn json(self, status: u16, description: &'static str, schema: Schema) -> Route {
        self.answer(status, description, Some(("application/json", schema)))
    }

    /// Answers `status` with a body of this media type and schema, or none.
    pub fn answer(
        mut self,
        status: u16,
        description: &'static str,
        content: Option<(&'static str, Schema)>,
    ) -> Route {
        self.answers.push(Answer {
            status,
            description,
            content,
        });
        self
    }

    /// Accepts bodies up to `bytes` (instead of the router's default).
    pub fn body_limit(mut self, bytes: usize) -> Route {
        self.handler = self.handler.layer(DefaultBodyLimit::max(bytes));
        self
    }

    /// The path as served: under `/api/v1`, or from the root.
    pub fn full_path(&self) -> String {
        if self.root {
            self.path.clone()
        } else {
            format!("{PREFIX}{}", self.path)
        }
    }
}

/// Routes in the order the OpenAPI document lists them.
#[derive(Default)]
pub struct Routes {
    /// The tag of the routes added with [`Routes::route`].
    tag: String,
    routes: Vec<Route>,
}

impl Routes {
    /// Routes under the OpenAPI tag `tag`.
    pub fn new(tag: impl Into<String>) -> Routes {
        Routes {
            tag: tag.into(),
            routes: Vec::new(),
        }
    }

    pub fn route(mut self, mut route: Route) -> Routes {
        route.tag.clone_from(&self.tag);
        self.routes.push(route);
        self
    }

    /// Adds `other`'s routes (with their tags) after these.
    pub fn merge(mut self, other: Routes) -> Routes {
        self.routes.extend(other.routes);
        self
    }

    pub fn iter(&self) -> impl Iterator<Item = &Route> {
        self.routes.iter()
    }

    /// The axum router: the routes under `/api/v1` nested there, the others at the root.
    pub fn into_router(self) -> Router<AppState> {
        let mut root = Router::new();
        let mut api = Router::new();
        for r in self.routes {
            if r.root {
                root = root.route(&r.path, r.handler);
            } else {
                api = api.route(&r.path, r.handler);
            }
        }
        root.nest(PREFIX, api)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    /// Every route says what it is and what it answers, and operation ids are unique.
    #[test]
    fn every_route_is_documented_once() {
        let routes = super::super::routes();
        let mut ids = BTreeSet::new();
        let mut places = BTreeSet::new();
        for r in routes.iter() {
            let at = format!("{} {}", r.method.as_str(), r.full_path());
            assert!(
                !r.operation_id.is_empty() && !r.tag.is_empty() && !r.summary.is_empty(),
                "{at}: no operation id, tag or summary"
            );
            assert!(
                !r.description.trim().is_empty(),
                "{at}: no description (add `.about(\"…\")` to the route)"
            );
            assert!(!r.answers.is_empty(), "{at}: no answer");
            assert!(ids.insert(r.operation_id.clone()), "{at}: id used twice");
            assert!(places.insert(at.clone()), "{at}: declared twice");
        }
        assert!(ids.len() > 40, "{} routes", ids.len());
    }
}
