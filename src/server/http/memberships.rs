//! Removing a user from one or several tenants at once: one write deleting each membership
//! (and the grants that go with it).

use std::collections::BTreeSet;

use axum::extract::State as AxState;
use axum::http::StatusCode;
use axum::response::Response;

use crate::api::RemovedMemberships;
use crate::model::{keys, Kind};
use crate::server::engine::{check_key, Effect, Mutation};
use crate::server::error::{ApiError, ApiResult};

use super::extract::{AuditHeaders, Auth, Params, QueryPairs};
use super::route::{Param, Route, Routes, Schema};
use super::users::email_param;
use super::{json_response, AppState};

pub fn router() -> Routes {
    Routes::new("user").route(
        Route::delete("/users/{email}/memberships", remove_memberships)
            .doc(
                "removeMemberships",
                "Remove a user from one or several tenants",
            )
            .param(Param::Tenants)
            .json(200, "Removed", Schema::of::<RemovedMemberships>()),
    )
}

async fn remove_memberships(
    AxState(app): AxState<AppState>,
    Auth(p): Auth,
    params: Params,
    q: QueryPairs,
    audit: AuditHeaders,
) -> ApiResult<Response> {
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
    let w = audit.write(p, mutations);
    let out = app.engine.write(w).await?;
    Ok(json_response(
        StatusCode::OK,
        &RemovedMemberships {
            revision: out.revision,
            removed: tenants.into_iter().collect(),
        },
    ))
}
