//! PLACEHOLDER — helper is writing the real catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permission {
    pub name: &'static str,
    pub description: &'static str,
    pub source: &'static str,
}
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuiltinRole {
    pub name: &'static str,
    pub display_name: &'static str,
    pub description: &'static str,
    pub all_workspaces: bool,
    pub permissions: &'static [&'static str],
}
pub const PERMISSIONS: &[Permission] = &[];
pub const BUILTIN_ROLES: &[BuiltinRole] = &[
    BuiltinRole {
        name: "org_admin",
        display_name: "Organisation Admin",
        description: "",
        all_workspaces: true,
        permissions: &[],
    },
    BuiltinRole {
        name: "billing_admin",
        display_name: "Billing Admin",
        description: "",
        all_workspaces: false,
        permissions: &[],
    },
    BuiltinRole {
        name: "user_admin",
        display_name: "User Admin",
        description: "",
        all_workspaces: false,
        permissions: &[],
    },
    BuiltinRole {
        name: "member",
        display_name: "Member",
        description: "",
        all_workspaces: false,
        permissions: &[],
    },
];
pub fn permission(name: &str) -> Option<&'static Permission> {
    PERMISSIONS.iter().find(|p| p.name == name)
}
pub fn builtin_role(name: &str) -> Option<&'static BuiltinRole> {
    BUILTIN_ROLES.iter().find(|r| r.name == name)
}
