//! What a request on registers and records needs (document 001: "the permissions of
//! registers and records inherit from the company"): the grant action of the request on
//! their workspace — `read` to list and read, `create` to create, `update` to change,
//! `delete` to delete — decided by [`crate::rules::access`] exactly as `explain user E
//! --tenant T --workspace W --permission ACTION` decides it (the role, and grants to the
//! user, to its role or to the whole tenant). A workspace of another tenant, or one that
//! does not exist, answers 404.

use serde_json::json;

use crate::model::{catalog, keys, GrantAction, State};

use super::{Actor, ApiError};

impl Actor<'_> {
    /// Ok when it may do `action` on the registers and records of workspace `workspace` of
    /// `tenant`; 404 when it cannot see that workspace exists, 403 with the decision's words
    /// when the decision refuses.
    pub fn may_on_data(
        &self,
        state: &State,
        tenant: &str,
        workspace: &str,
        action: GrantAction,
    ) -> Result<(), ApiError> {
        let key = keys::join(&[tenant, workspace]);
        if self.tenant().is_some_and(|t| t != tenant) || !state.workspaces.contains_key(&key) {
            return Err(ApiError::NotFound {
                message: format!("workspace `{key}` does not exist"),
                details: json!({ "kind": "workspace", "key": key }),
            });
        }
        self.require_on(state, catalog::grant_permission(action), Some(workspace))
    }
}
