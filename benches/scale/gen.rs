//! Synthetic platforms of a named size, written as YAML files the way an ops team would lay
//! them out: `platform.yaml` (plans, models, roles), `tenants/NNNN.yaml` (100 tenants a file),
//! `users/NNNN.yaml` (5,000 users a file). `edit = true` writes the same platform with about
//! 1 % of every kind changed.

use std::fmt::Write as _;
use std::path::Path;

/// Counts of every kind in a synthetic platform.
#[derive(Debug, Clone, Copy)]
pub struct Size {
    pub name: &'static str,
    pub tenants: usize,
    pub users: usize,
    /// Users with a second membership (memberships = users + this).
    pub second_memberships: usize,
    pub workspaces: usize,
    pub tenant_models: usize,
    pub grants: usize,
    pub models: usize,
    pub plans: usize,
    pub roles: usize,
    pub user_models: usize,
}

impl Size {
    pub const LARGE: Size = Size {
        name: "large",
        tenants: 2_000,
        users: 100_000,
        second_memberships: 50_000,
        workspaces: 5_000,
        tenant_models: 20_000,
        grants: 10_000,
        models: 200,
        plans: 5,
        roles: 10,
        user_models: 2_000,
    };

    /// A million users in 10,000 tenants: `LARGE` times ten, tenants times five.
    pub const XLARGE: Size = Size {
        name: "xlarge",
        tenants: 10_000,
        users: 1_000_000,
        second_memberships: 500_000,
        workspaces: 50_000,
        tenant_models: 200_000,
        grants: 100_000,
        models: 2_000,
        plans: 5,
        roles: 10,
        user_models: 20_000,
    };

    /// `LARGE` divided by `factor` (plans and roles kept).
    pub const fn scaled(name: &'static str, factor: usize) -> Size {
        let l = Size::LARGE;
        Size {
            name,
            tenants: l.tenants / factor,
            users: l.users / factor,
            second_memberships: l.second_memberships / factor,
            workspaces: l.workspaces / factor,
            tenant_models: l.tenant_models / factor,
            grants: l.grants / factor,
            models: l.models / factor,
            plans: l.plans,
            roles: l.roles,
            user_models: l.user_models / factor,
        }
    }

    pub fn by_name(name: &str) -> Option<Size> {
        match name {
            "small" => Some(Size::scaled("small", 100)),
            "medium" => Some(Size::scaled("medium", 10)),
            "large" => Some(Size::LARGE),
            "xlarge" => Some(Size::XLARGE),
            _ => None,
        }
    }

    pub fn memberships(&self) -> usize {
        self.users + self.second_memberships
    }

    /// Resources of every kind together.
    pub fn resources(&self) -> usize {
        self.tenants
            + self.users
            + self.memberships()
            + self.workspaces
            + self.tenant_models
            + self.grants
            + self.models
            + self.plans
            + self.roles
            + self.user_models
    }
}

/// Whether item `i` of a kind is among the ~1 % edited.
fn edited(edit: bool, i: usize) -> bool {
    edit && i % 100 == 7
}

pub fn email(u: usize) -> String {
    format!("user{u:06}@tenant{:04}.example", u % 9973)
}

/// The tenant of user `u`'s first and (for the first `second_memberships` users) second membership.
fn tenants_of(size: &Size, u: usize) -> (usize, Option<usize>) {
    let first = u % size.tenants;
    let second = (u < size.second_memberships).then(|| (u + size.tenants / 2 + 1) % size.tenants);
    (first, second.filter(|s| *s != first))
}

/// Writes the platform to `dir` (which must exist and be empty).
pub fn write(dir: &Path, size: &Size, edit: bool) -> std::io::Result<()> {
    let modeline = "# yaml-language-server: $schema=../schemas/tenantctl.schema.json\n";
    let mut s = String::from(modeline);
    s.push_str("plans:\n");
    for p in 0..size.plans {
        let price = if edited(edit, p + 7) {
            5900 + p * 1000
        } else {
            4900 + p * 1000
        };
        writeln!(s, "  plan-{p}:\n    display_name: Plan {p}\n    limits: {{ workspaces: 100, registries: 500, records: 20000, users: 1000 }}\n    price: {{ amount: {price}, currency: EUR, interval: month }}").ok();
    }
    s.push_str("models:\n");
    for m in 0..size.models {
        let guidance = if edited(edit, m) { "4.5" } else { "3.5" };
        writeln!(s, "  model-{m:03}:\n    display_name: Model {m}\n    deployment_id: cd-{m:06x}\n    defaults: {{ lora_weight: 0.8, guidance: {guidance}, prompts: {{ generation: \"a product photo, studio light, model {m}\" }} }}").ok();
    }
    s.push_str("roles:\n");
    for r in 0..size.roles {
        let extra = if edited(edit, r + 7) {
            ", files.upload"
        } else {
            ""
        };
        writeln!(s, "  role-{r}:\n    display_name: Role {r}\n    workspaces: selected\n    permissions: [models.use{extra}]").ok();
    }
    std::fs::write(dir.join("platform.yaml"), s)?;

    // Members per tenant, to place grants to users and to pick org admins.
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); size.tenants];
    for u in 0..size.users {
        let (a, b) = tenants_of(size, u);
        members[a].push(u);
        if let Some(b) = b {
            members[b].push(u);
        }
    }
    let ws_per_tenant = size.workspaces.div_ceil(size.tenants).max(1);
    let tm_per_tenant = (size.tenant_models / size.tenants).clamp(1, size.models);
    let grants_per_tenant = (size.grants / size.tenants).max(1);
    std::fs::create_dir_all(dir.join("tenants"))?;
    let mut ws_count = 0;
    for chunk in (0..size.tenants).collect::<Vec<_>>().chunks(100) {
        let mut s = String::from(
            "# yaml-language-server: $schema=../../schemas/tenantctl.schema.json\ntenants:\n",
        );
        for &t in chunk {
            let name = if edited(edit, t) {
                format!("Tenant {t} (renamed)")
            } else {
                format!("Tenant {t}")
            };
            writeln!(s, "  tenant-{t:04}:\n    display_name: {name}\n    contact: {{ email: ops@tenant{t:04}.example }}\n    plan: plan-{}\n    workspaces:", t % size.plans).ok();
            let n_ws = ws_per_tenant
                .min(size.workspaces.saturating_sub(ws_count))
                .max(1);
            for w in 0..n_ws {
                let desc = if edited(edit, ws_count) {
                    "\"Main site, renovated\""
                } else {
                    "Main site"
                };
                writeln!(
                    s,
                    "      ws-{w}: {{ display_name: Site {w}, description: {desc} }}"
                )
                .ok();
                ws_count += 1;
            }
            s.push_str("    models:\n");
            for k in 0..tm_per_tenant {
                let i = t * tm_per_tenant + k;
                let admin_only = edited(edit, i) != (k == 0);
                writeln!(
                    s,
                    "      model-{:03}: {{ admin_only: {admin_only} }}",
                    (t + k) % size.models
                )
                .ok();
            }
            s.push_str("    grants:\n");
            for g in 0..grants_per_tenant {
                let i = t * grants_per_tenant + g;
                let actions = if edited(edit, i) {
                    "[read, update, create]"
                } else {
                    "[read, update]"
                };
                // One grantee per grant of a tenant, so grant keys never collide.
                let to = match (g, members[t].get(2)) {
                    (0, _) => "{ tenant: true }".to_string(),
                    (2, Some(u)) => format!("{{ user: {} }}", email(*u)),
                    _ => format!("{{ role: role-{} }}", g % size.roles),
                };
                writeln!(
                    s,
                    "      - {{ workspace: ws-{}, to: {to}, actions: {actions} }}",
                    g % n_ws
                )
                .ok();
            }
        }
        std::fs::write(dir.join(format!("tenants/{:04}.yaml", chunk[0] / 100)), s)?;
    }

    std::fs::create_dir_all(dir.join("users"))?;
    let langs = ["en", "fr", "ja"];
    let mut membership_i = 0;
    for chunk in (0..size.users).collect::<Vec<_>>().chunks(5_000) {
        let mut s = String::from(
            "# yaml-language-server: $schema=../../schemas/tenantctl.schema.json\nusers:\n",
        );
        for &u in chunk {
            let lang = langs[(u + usize::from(edited(edit, u))) % 3];
            writeln!(s, "  {}:\n    first_name: First{u}\n    last_name: Last{u}\n    language: {lang}\n    memberships:", email(u)).ok();
            let (a, b) = tenants_of(size, u);
            for t in [Some(a), b].into_iter().flatten() {
                // The first two members of each tenant are its org admins.
                let rank = members[t]
                    .iter()
                    .position(|m| *m == u)
                    .unwrap_or(usize::MAX);
                let role = if rank < 2 {
                    "org_admin".to_string()
                } else if edited(edit, membership_i) {
                    "member".to_string()
                } else {
                    format!("role-{}", u % size.roles)
                };
                if role.starts_with("role-") {
                    writeln!(
                        s,
                        "      tenant-{t:04}: {{ role: {role}, workspaces: [ws-0] }}"
                    )
                    .ok();
                } else {
                    writeln!(s, "      tenant-{t:04}: {{ role: {role} }}").ok();
                }
                membership_i += 1;
            }
            if u < size.user_models {
                let access = if (u % 2 == 0) != edited(edit, u) {
                    "allow"
                } else {
                    "deny"
                };
                writeln!(
                    s,
                    "    models: {{ model-{:03}: {access} }}",
                    u % size.models
                )
                .ok();
            }
        }
        std::fs::write(dir.join(format!("users/{:04}.yaml", chunk[0] / 5_000)), s)?;
    }
    Ok(())
}
