//! Rule 6: the identity that runs a change cannot remove, block or demote itself. One
//! implementation for the plan (a `self_lockout` risk) and the server (a refused write).

use crate::model::{keys, AnySpec, Kind, UserStatus};

use super::ORG_ADMIN;

/// The administrative rank of a tenant role, for demotions: `org_admin` (3) above
/// `billing_admin` and `user_admin` (2) above `member` and custom roles (1).
///
/// From the roles of an organisation (source document 003, PRODUCT.md §2 rules 6 and 10):
/// the organisation admin manages everything, the billing admin and the user admin each
/// administer one part of the tenant (billing; users and workspaces) and neither is above
/// the other, and a member (or a custom role, which only gives permissions inside
/// workspaces) administers nothing. Moving between roles of one rank is not a demotion.
pub fn role_rank(role: &str) -> u8 {
    match role {
        ORG_ADMIN => 3,
        "billing_admin" | "user_admin" => 2,
        _ => 1,
    }
}

/// Whether changing a membership's role from `before` to `after` lowers its rank.
pub fn demotes(before: &str, after: &str) -> bool {
    role_rank(after) < role_rank(before)
}

/// What a change would do to the identity that runs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SelfLockout<'a> {
    /// Deletes the user itself.
    DeleteUser,
    /// Blocks the user itself.
    BlockUser,
    /// Removes the user's own system role.
    DropSystemRole,
    /// Removes one of the user's own memberships.
    RemoveMembership,
    /// Lowers the role of one of the user's own memberships.
    Demote { from: &'a str, to: &'a str },
}

impl SelfLockout<'_> {
    /// The stable code of the server's refusal.
    pub fn code(self) -> &'static str {
        match self {
            SelfLockout::DeleteUser | SelfLockout::RemoveMembership => "self_removal",
            SelfLockout::BlockUser => "self_block",
            SelfLockout::DropSystemRole | SelfLockout::Demote { .. } => "self_demotion",
        }
    }
}

/// Rule 6 on one resource: what changing `kind/key` from `before` to `after` (`None`:
/// absent) does to the user `me` that runs the change, in the order found (a user may be
/// both blocked and stripped of its system role). Empty when the change does not lock `me`
/// out; a creation never does.
pub fn self_lockout<'a>(
    me: &str,
    kind: Kind,
    key: &str,
    before: Option<&'a AnySpec>,
    after: Option<&'a AnySpec>,
) -> Vec<SelfLockout<'a>> {
    let mut out = Vec::new();
    match (kind, before, after) {
        (Kind::User, Some(AnySpec::User(_)), None) if key == me => {
            out.push(SelfLockout::DeleteUser);
        }
        (Kind::User, Some(AnySpec::User(b)), Some(AnySpec::User(a))) if key == me => {
            if b.status == UserStatus::Active && a.status == UserStatus::Blocked {
                out.push(SelfLockout::BlockUser);
            }
            if b.system_role.is_some() && a.system_role.is_none() {
                out.push(SelfLockout::DropSystemRole);
            }
        }
        (Kind::Membership, Some(AnySpec::Membership(b)), a)
            if keys::split2(key).is_some_and(|(u, _)| u == me) =>
        {
            match a {
                Some(AnySpec::Membership(a)) if demotes(&b.role, &a.role) => {
                    out.push(SelfLockout::Demote {
                        from: &b.role,
                        to: &a.role,
                    });
                }
                Some(_) => {}
                None => out.push(SelfLockout::RemoveMembership),
            }
        }
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{MembershipSpec, SystemRole, UserSpec};

    fn membership(role: &str) -> AnySpec {
        AnySpec::Membership(MembershipSpec {
            role: role.into(),
            workspaces: Vec::new(),
        })
    }

    #[test]
    fn the_ranking_of_roles() {
        assert!(demotes("org_admin", "billing_admin"));
        assert!(demotes("org_admin", "user_admin"));
        assert!(demotes("billing_admin", "member"));
        assert!(demotes("user_admin", "member"));
        assert!(demotes("user_admin", "contributor"));
        assert!(!demotes("user_admin", "billing_admin"));
        assert!(!demotes("billing_admin", "user_admin"));
        assert!(!demotes("member", "contributor"));
        assert!(!demotes("member", "org_admin"));
    }

    #[test]
    fn a_billing_admin_demoting_itself_is_locked_out() {
        let (b, a) = (membership("billing_admin"), membership("member"));
        let me = "eve@acme.example";
        assert_eq!(
            self_lockout(
                me,
                Kind::Membership,
                "eve@acme.example/acme",
                Some(&b),
                Some(&a)
            ),
            vec![SelfLockout::Demote {
                from: "billing_admin",
                to: "member"
            }]
        );
        assert!(self_lockout(
            me,
            Kind::Membership,
            "bob@acme.example/acme",
            Some(&b),
            Some(&a)
        )
        .is_empty());
        assert_eq!(
            self_lockout(
                me,
                Kind::Membership,
                "eve@acme.example/acme",
                Some(&b),
                None
            ),
            vec![SelfLockout::RemoveMembership]
        );
        assert!(self_lockout(
            me,
            Kind::Membership,
            "eve@acme.example/acme",
            None,
            Some(&a)
        )
        .is_empty());
    }

    #[test]
    fn a_user_blocking_itself_and_dropping_its_system_role() {
        let b = AnySpec::User(UserSpec {
            system_role: Some(SystemRole::SuperAdmin),
            ..UserSpec::default()
        });
        let a = AnySpec::User(UserSpec {
            status: UserStatus::Blocked,
            ..UserSpec::default()
        });
        let me = "eve@acme.example";
        let found = self_lockout(me, Kind::User, me, Some(&b), Some(&a));
        assert_eq!(
            found,
            vec![SelfLockout::BlockUser, SelfLockout::DropSystemRole]
        );
        assert_eq!(
            found.iter().map(|l| l.code()).collect::<Vec<_>>(),
            ["self_block", "self_demotion"]
        );
        assert_eq!(
            self_lockout(me, Kind::User, me, Some(&b), None),
            vec![SelfLockout::DeleteUser]
        );
    }
}
