//! Who may give which role (document 003, PRODUCT.md §2 rule 10): adding a member with a
//! role, changing a member's role and removing a member all hand a role out or take it
//! back. Anyone who adds or removes members may do it for `member`s; other roles need
//! `users.promote` (a user admin "adds and removes members only and cannot promote or
//! demote"); and nobody hands out, or takes back, a role holding a permission they do not
//! hold themselves (a manager cannot make an organisation admin, nor remove one).

use crate::model::State;

use super::standing::{role_permissions, Standing};

/// The built-in role every admin may give.
pub const MEMBER: &str = "member";

/// Whether the holder of `s` may give `role` to a member or take it back; the refusal in
/// words otherwise. The permission to add (`users.invite`), remove (`users.remove`) or
/// change (`users.promote`) is checked apart.
pub fn may_give_role(state: &State, s: &Standing, role: &str) -> Result<(), String> {
    let Some((perms, _)) = role_permissions(state, role) else {
        return Err(format!("role `{role}` does not exist"));
    };
    if role != MEMBER && !s.holds("users.promote") {
        return Err(format!(
            "{} can add and remove `{MEMBER}`s only: it does not hold `users.promote`",
            s.holder()
        ));
    }
    let missing = perms.minus(s.permissions);
    if !missing.is_empty() {
        let names: Vec<String> = missing.names().map(|n| format!("`{n}`")).collect();
        return Err(format!(
            "role `{role}` holds {} that {} does not hold",
            names.join(", "),
            s.holder()
        ));
    }
    Ok(())
}
