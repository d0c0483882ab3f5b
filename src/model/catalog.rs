//! The platform's fixed permission catalog and its built-in tenant roles (source documents 002, 003, 004).
//!
//! Document 002 (and 004, the same platform with "sites" for "projects") gives the
//! permission matrix of the geodata actions: projects (workspaces), surveys, files,
//! processing, analytics, annotation, maps and the file library, plus the user management
//! a Manager does. Document 003 gives the organisation, user, workspace, billing and
//! subscription settings and the capability table of the four built-in roles. Document 000
//! gives `models.use` and `models.assign`. The catalog is sorted by name; the tests below
//! keep it so.
//!
//! A permission applies to the tenant or on one workspace ([`On`]). The workspace ones are
//! the project actions of 002 (a project, a site and a workspace are one thing), each with
//! the grant action of document 001 that gives it on a workspace: `read` gives what reads a
//! project, `update` what changes its content, `delete` what deletes, `create` what adds to
//! it. The grant actions themselves are the project permissions on one workspace
//! ([`grant_permission`]). Two 003 permissions stand for several 002 ones ([`IMPLIES`]):
//! managing every workspace is every project action, and seeing every workspace is reading
//! every project.

use super::GrantAction;

/// One permission of the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permission {
    /// Dotted name, e.g. `project.create`.
    pub name: &'static str,
    /// One-line English description.
    pub description: &'static str,
    /// Source document file name it comes from, e.g. `002_becab762aa60eae2.txt`.
    pub source: &'static str,
    /// Where it applies: to the whole tenant, or on one workspace at a time.
    pub on: On,
}

/// Where a permission applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum On {
    /// The tenant as a whole (its settings, its users, its billing, creating projects).
    Tenant,
    /// One workspace at a time: a member holds it on the workspaces its role sees (`all`,
    /// or those its membership lists), and a granular grant of this action on a workspace
    /// (document 001: read, update, delete, create) gives it there too.
    Workspace(GrantAction),
}

/// A built-in tenant role: exists on every platform, cannot be declared or deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuiltinRole {
    /// `org_admin`, `billing_admin`, `user_admin` or `member`.
    pub name: &'static str,
    /// Name shown to users.
    pub display_name: &'static str,
    /// What the role may do, in one line.
    pub description: &'static str,
    /// true: sees every workspace of the tenant (no `workspaces:` list applies).
    pub all_workspaces: bool,
    /// Names of the catalog permissions the role holds, sorted.
    pub permissions: &'static [&'static str],
}

const S000: &str = "000_6dbbf43e3f66ef9b.txt";
const S002: &str = "002_becab762aa60eae2.txt";
const S003: &str = "003_1612d96a578e3342.txt";

const fn p(name: &'static str, description: &'static str, source: &'static str) -> Permission {
    Permission {
        name,
        description,
        source,
        on: On::Tenant,
    }
}

/// A permission that applies on one workspace, given there by a grant of `action`.
const fn w(
    name: &'static str,
    description: &'static str,
    source: &'static str,
    action: GrantAction,
) -> Permission {
    Permission {
        name,
        description,
        source,
        on: On::Workspace(action),
    }
}

use GrantAction::{Create as C, Delete as D, Read as R, Update as U};

/// Every permission of the platform, sorted by name.
pub const PERMISSIONS: &[Permission] = &[
    w("analytics.request", "Request advanced analytics on a project's data (Demander la réalisation d'Analyses avancées)", S002, U),
    w("annotation.access", "Open the annotation tools (Accès aux outils d'Annotation)", S002, R),
    w("annotation.annotate", "Annotate images (Annotation d'images)", S002, U),
    p("billing.manage", "Manage the organisation's billing information and payment details (Gérer les informations de facturation)", S003),
    p("billing.read", "View the organisation's billing information and invoices (Voir les informations de facturation)", S003),
    w("files.delete", "Delete raster or vector files within a survey (Supprimer des fichiers Raster ou Vecteur d'un Relevé)", S002, D),
    w("files.upload", "Upload files to a project (Télécharger des fichiers)", S002, C),
    p("library.download", "Download files from the file library (Télécharger des fichiers depuis la Bibliothèque de fichiers)", S002),
    p("library.read", "Open the file library (Accès à la Bibliothèque de fichiers)", S002),
    w("map.read", "View every map generated in a project (Accès à toutes les Cartes générées)", S002, R),
    p("models.assign", "Grant or deny a model to a user directly, overriding the organisation level, and see the organisation's model grants (Permissions Utilisateur-Modèle)", S000),
    p("models.use", "Generate with the AI models granted to the organisation or to the user directly", S000),
    p("organization.delete", "Delete the organisation (Supprimer l'organisation)", S003),
    p("organization.read", "View the organisation's information (Voir les informations de l'organisation)", S003),
    p("organization.settings", "Open the organisation's settings (Accéder à tous les paramètres de l'organisation)", S003),
    p("organization.update", "Manage the organisation's information (Gérer les informations de l'organisation)", S003),
    w("processing.launch", "Launch image processing (Lancer un traitement d'images)", S002, U),
    w("project.create", "Create a project or site (Créer un Projet)", S002, C),
    w("project.delete", "Delete a project or site (Supprimer un Projet)", S002, D),
    w("project.list", "List the projects of the account, limited to those the member is given (Afficher tous les Projets d'un compte)", S002, R),
    p("project.list_names", "See the name only of every project of the account, to upload to it (Afficher tous les Projets d'un compte, **)", S002),
    w("project.read", "View a project's information (Afficher les informations d'un Projet)", S002, R),
    w("project.rename", "Rename a project or site (Renommer un Projet)", S002, U),
    w("project.update", "Change a project's information (Modifier les informations d'un Projet)", S002, U),
    p("subscription.cancel", "Cancel the organisation's subscription (Annuler l'abonnement)", S003),
    p("subscription.manage", "Change the organisation's subscription (Gérer l'abonnement)", S003),
    w("survey.delete", "Delete a survey (Supprimer un Relevé)", S002, D),
    w("survey.read", "Open the surveys of the projects the member is given (Accès aux Relevés)", S002, R),
    w("survey.rename", "Rename a survey (Renommer un Relevé)", S002, U),
    w("survey.upload", "Upload a survey to a project the member is given (Télécharger un Relevé)", S002, C),
    p("users.assign_workspaces", "Change the workspaces assigned to members, the per-project access list (Modifier les espaces de travail assignés)", S003),
    p("users.block", "Block a user (Bloquer utilisateur)", S002),
    p("users.export", "Export the users of the visible organisations as CSV (Exporter les utilisateurs)", S002),
    p("users.invite", "Invite new users to the organisation (Inviter de nouveaux Utilisateurs)", S002),
    p("users.promote", "Promote or demote a member: change a member's organisation role", S003),
    p("users.read", "View every user of the organisation (Voir tous les utilisateurs)", S003),
    p("users.remove", "Remove users from the organisation (Supprimer des Utilisateurs)", S002),
    p("users.update", "Edit a user's properties and preferences (Modifier un utilisateur)", S003),
    p("workspace.manage", "Manage every workspace of the organisation (Gérer tous les espaces de travail)", S003),
    p("workspace.read", "View every workspace of the organisation (Voir tous les Workspaces)", S003),
];

/// The built-in tenant roles of document 003's capability table.
pub const BUILTIN_ROLES: &[BuiltinRole] = &[
    BuiltinRole {
        name: "org_admin",
        display_name: "Organisation Admin",
        description: "Accesses every workspace and manages the organisation's settings, users, billing and subscription",
        all_workspaces: true,
        permissions: &[
            "analytics.request",
            "annotation.access",
            "annotation.annotate",
            "billing.manage",
            "billing.read",
            "files.delete",
            "files.upload",
            "library.download",
            "library.read",
            "map.read",
            "models.assign",
            "models.use",
            "organization.delete",
            "organization.read",
            "organization.settings",
            "organization.update",
            "processing.launch",
            "project.create",
            "project.delete",
            "project.list",
            "project.list_names",
            "project.read",
            "project.rename",
            "project.update",
            "subscription.cancel",
            "subscription.manage",
            "survey.delete",
            "survey.read",
            "survey.rename",
            "survey.upload",
            "users.assign_workspaces",
            "users.block",
            "users.export",
            "users.invite",
            "users.promote",
            "users.read",
            "users.remove",
            "users.update",
            "workspace.manage",
            "workspace.read",
        ],
    },
    BuiltinRole {
        name: "billing_admin",
        display_name: "Billing Admin",
        description: "Manages billing and the subscription; views the organisation, its users and workspaces, changes nothing else",
        all_workspaces: true,
        permissions: &[
            "billing.manage",
            "billing.read",
            "organization.read",
            "organization.settings",
            "subscription.manage",
            "users.export",
            "users.read",
            "workspace.read",
        ],
    },
    BuiltinRole {
        name: "user_admin",
        display_name: "User Admin",
        description: "Adds and removes members and manages every workspace; cannot promote or demote, nor touch billing",
        all_workspaces: true,
        permissions: &[
            "billing.read",
            "library.download",
            "library.read",
            "map.read",
            "models.use",
            "organization.read",
            "project.list",
            "project.read",
            "survey.read",
            "users.assign_workspaces",
            "users.export",
            "users.invite",
            "users.read",
            "users.remove",
            "users.update",
            "workspace.manage",
            "workspace.read",
        ],
    },
    BuiltinRole {
        name: "member",
        display_name: "Member",
        description: "Works in the workspaces given to them; no access to the organisation's settings",
        all_workspaces: false,
        permissions: &[
            "library.download",
            "library.read",
            "map.read",
            "models.use",
            "project.list",
            "project.read",
            "survey.read",
        ],
    },
];

/// Permissions that hold others: a role holding the first holds each of the second too.
/// Document 003 speaks of workspaces as a whole where 002 names each project action.
pub const IMPLIES: &[(&str, &[&str])] = &[
    (
        "workspace.manage",
        &[
            "project.create",
            "project.delete",
            "project.list",
            "project.read",
            "project.rename",
            "project.update",
            "workspace.read",
        ],
    ),
    ("workspace.read", &["project.list", "project.read"]),
];

/// The permission a grant action of document 001 is, on one workspace: `read` is
/// `project.read`, `update` is `project.update`, `delete` is `project.delete`, `create` is
/// `project.create` (each "on this workspace", and on what it holds).
pub fn grant_permission(action: GrantAction) -> &'static str {
    match action {
        GrantAction::Read => "project.read",
        GrantAction::Update => "project.update",
        GrantAction::Delete => "project.delete",
        GrantAction::Create => "project.create",
    }
}

/// The permission named `name`, if the catalog has it.
pub fn permission(name: &str) -> Option<&'static Permission> {
    index(name).map(|i| &PERMISSIONS[i])
}

/// The built-in role named `name`, if there is one.
pub fn builtin_role(name: &str) -> Option<&'static BuiltinRole> {
    BUILTIN_ROLES.iter().find(|r| r.name == name)
}

/// The position of `name` in [`PERMISSIONS`].
pub fn index(name: &str) -> Option<usize> {
    PERMISSIONS.binary_search_by(|p| p.name.cmp(name)).ok()
}

/// A set of catalog permissions (one bit per entry of [`PERMISSIONS`]): what a role holds,
/// compared and intersected without allocating.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct PermSet(u64);

const _: () = assert!(
    PERMISSIONS.len() <= 64,
    "PermSet holds at most 64 permissions"
);

impl PermSet {
    /// No permission.
    pub const EMPTY: PermSet = PermSet(0);

    /// Every permission of the catalog.
    pub fn all() -> PermSet {
        PermSet(if PERMISSIONS.len() == 64 {
            u64::MAX
        } else {
            (1u64 << PERMISSIONS.len()) - 1
        })
    }

    /// The permissions named, with those they imply ([`IMPLIES`]); names not in the catalog
    /// are left out.
    pub fn of<'a>(names: impl IntoIterator<Item = &'a str>) -> PermSet {
        let mut set = PermSet::EMPTY;
        for n in names {
            set.insert(n);
        }
        set
    }

    fn insert(&mut self, name: &str) {
        let Some(i) = index(name) else { return };
        if self.0 & (1 << i) != 0 {
            return;
        }
        self.0 |= 1 << i;
        for (holder, held) in IMPLIES {
            if *holder == name {
                for h in *held {
                    self.insert(h);
                }
            }
        }
    }

    pub fn contains(self, name: &str) -> bool {
        index(name).is_some_and(|i| self.0 & (1 << i) != 0)
    }

    /// The permissions held by both.
    pub fn and(self, other: PermSet) -> PermSet {
        PermSet(self.0 & other.0)
    }

    /// Whether every permission of `self` is in `other`.
    pub fn is_subset(self, other: PermSet) -> bool {
        self.0 & !other.0 == 0
    }

    /// The permissions of `self` missing from `other`, by name.
    pub fn minus(self, other: PermSet) -> PermSet {
        PermSet(self.0 & !other.0)
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The names held, in catalog order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        PERMISSIONS
            .iter()
            .enumerate()
            .filter(move |(i, _)| self.0 & (1 << i) != 0)
            .map(|(_, p)| p.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_valid_name(name: &str) -> bool {
        let part =
            |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
        matches!(name.split_once('.'), Some((area, action)) if part(area) && part(action))
    }

    #[test]
    fn catalog_is_sorted_and_unique() {
        for w in PERMISSIONS.windows(2) {
            assert!(
                w[0].name < w[1].name,
                "`{}` must sort before `{}`",
                w[0].name,
                w[1].name
            );
        }
    }

    #[test]
    fn names_are_area_dot_action() {
        for p in PERMISSIONS {
            assert!(
                is_valid_name(p.name),
                "`{}` is not `area.action` with [a-z_] parts",
                p.name
            );
            assert!(!p.description.is_empty(), "`{}` has no description", p.name);
            assert!(
                p.source.ends_with(".txt") && p.source.len() == "000_0000000000000000.txt".len(),
                "`{}`: bad source",
                p.name
            );
        }
    }

    #[test]
    fn every_builtin_permission_exists() {
        for r in BUILTIN_ROLES {
            for name in r.permissions {
                assert!(
                    permission(name).is_some(),
                    "role `{}`: `{name}` is not in the catalog",
                    r.name
                );
            }
            for w in r.permissions.windows(2) {
                assert!(
                    w[0] < w[1],
                    "role `{}`: permissions must be sorted and unique (`{}`, `{}`)",
                    r.name,
                    w[0],
                    w[1]
                );
            }
        }
    }

    #[test]
    fn builtin_roles_are_the_four_of_document_003() {
        let names: Vec<&str> = BUILTIN_ROLES.iter().map(|r| r.name).collect();
        assert_eq!(
            names,
            ["org_admin", "billing_admin", "user_admin", "member"]
        );
        assert!(builtin_role("org_admin").is_some());
        assert!(builtin_role("manager").is_none());
    }

    #[test]
    fn org_admin_has_every_permission() {
        let all: Vec<&str> = PERMISSIONS.iter().map(|p| p.name).collect();
        assert_eq!(
            builtin_role("org_admin").unwrap().permissions,
            all.as_slice()
        );
    }

    #[test]
    fn capabilities_follow_document_003() {
        let has = |role: &str, perm: &str| builtin_role(role).unwrap().permissions.contains(&perm);
        // User admins add and remove members but cannot promote or demote.
        assert!(has("user_admin", "users.invite") && has("user_admin", "users.remove"));
        assert!(!has("user_admin", "users.promote"));
        assert!(
            !has("user_admin", "subscription.manage")
                && !has("user_admin", "organization.settings")
        );
        // Billing admins only view users (and export what they see); they manage billing
        // and the subscription, and see every workspace.
        assert!(has("billing_admin", "users.read") && has("billing_admin", "workspace.read"));
        assert!(builtin_role("billing_admin")
            .unwrap()
            .permissions
            .iter()
            .all(|p| !p.starts_with("users.") || ["users.read", "users.export"].contains(p)));
        assert!(
            has("billing_admin", "billing.manage") && has("billing_admin", "subscription.manage")
        );
        assert!(
            !has("billing_admin", "subscription.cancel")
                && !has("billing_admin", "organization.delete")
        );
        // Members have no organisation settings at all.
        let member = builtin_role("member").unwrap();
        assert!(!member.all_workspaces);
        assert!(member.permissions.iter().all(|p| ![
            "organization.",
            "billing.",
            "subscription.",
            "users.",
            "workspace."
        ]
        .iter()
        .any(|a| p.starts_with(a))));
        assert!(has("member", "models.use"));
    }

    #[test]
    fn implied_permissions_exist_and_sets_expand() {
        for (holder, held) in IMPLIES {
            assert!(permission(holder).is_some(), "`{holder}`");
            for h in *held {
                assert!(permission(h).is_some(), "`{h}`");
            }
        }
        let ua = PermSet::of(
            builtin_role("user_admin")
                .unwrap()
                .permissions
                .iter()
                .copied(),
        );
        assert!(ua.contains("project.create") && ua.contains("project.rename"));
        let ba = PermSet::of(
            builtin_role("billing_admin")
                .unwrap()
                .permissions
                .iter()
                .copied(),
        );
        assert!(ba.contains("project.read") && !ba.contains("project.update"));
        let member = PermSet::of(builtin_role("member").unwrap().permissions.iter().copied());
        assert!(member.is_subset(ua) && !ua.is_subset(member));
        assert_eq!(
            PermSet::of(PERMISSIONS.iter().map(|p| p.name)),
            PermSet::all()
        );
        assert_eq!(PermSet::of(["nope.nope"]), PermSet::EMPTY);
        assert_eq!(
            PermSet::of(["workspace.read", "users.read"])
                .names()
                .collect::<Vec<_>>(),
            [
                "project.list",
                "project.read",
                "users.read",
                "workspace.read"
            ]
        );
    }

    #[test]
    fn grant_actions_are_project_permissions_on_one_workspace() {
        for a in [
            GrantAction::Read,
            GrantAction::Update,
            GrantAction::Delete,
            GrantAction::Create,
        ] {
            assert_eq!(
                permission(grant_permission(a)).unwrap().on,
                On::Workspace(a)
            );
        }
    }

    #[test]
    fn lookups() {
        assert_eq!(permission("project.create").unwrap().source, S002);
        assert_eq!(permission("models.use").unwrap().source, S000);
        assert!(permission("project.creat").is_none());
        assert!(permission("").is_none());
    }
}
