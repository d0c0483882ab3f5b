//! The differential test of [`crate::config::direct`]: over the examples, a document that
//! uses every field, and thousands of random mutations of them, whenever the direct path
//! types a file, the full path (JSON value, schema check, typing) finds no problem in it and
//! types it the same.

use std::path::Path;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::schema_and_type;
use crate::config::direct;
use crate::config::load;

/// A document with every field of every section, valid as written.
const EVERY_FIELD: &str = r#"# every field
plans:
  basic:
    display_name: Basic
    description: "The plan: basic"
    limits: { workspaces: 3, registries: 10, records: 1000, users: 5 }
    price: { amount: 19900, currency: EUR, interval: year }
  free: {}
models:
  flux-1:
    display_name: Flux
    description: 'It''s a model'
    deployment_id: cd-8f3a21
    defaults:
      lora_weight: 0.75
      guidance: 30
      prompts: { generation: "a cat", upscale: sharp }
roles:
  contributor:
    display_name: Contributor
    workspaces: all
    permissions: [registers.read, records.create]
  reviewer:
    workspaces: selected
    permissions:
      - records.read
tenants:
  acme:
    display_name: Acme
    description: The first tenant
    contact: { email: ops@acme.example, phone: "+33 1 23 45 67 89", name: Ops }
    plan: basic
    limits: { users: 4 }
    status: suspended
    protected: true
    previously: acme-old
    workspaces:
      paris: { display_name: Paris, description: HQ, protected: true, previously: lutece }
      lyon: {}
    models:
      flux-1: { admin_only: true, defaults: { lora_weight: 5, guidance: 0 } }
    grants:
      - { workspace: paris, to: { role: contributor }, actions: [read, update] }
      - workspace: lyon
        to: { user: bob@acme.example }
        actions: [read, create, delete]
      - { workspace: lyon, to: { tenant: true }, actions: [read] }
users:
  alice@acme.example:
    first_name: Alice
    last_name: Martin
    language: fr
    date_format: MM/dd/yyyy
    status: blocked
    system_role: super_admin
    protected: true
    previously: alice@old.example
    memberships:
      acme: { role: contributor, workspaces: [paris, lyon] }
    models:
      flux-1: allow
  Bob@Acme.example:
    memberships:
      acme:
        role: tenant_admin
    models: { flux-1: deny }
"#;

/// Values a mutation writes in place of a value.
const VALUES: &[&str] = &[
    "~",
    "null",
    "''",
    "x",
    "1",
    "-1",
    "0",
    "1.5",
    "2",
    "5.5",
    "-0.5",
    "31",
    "true",
    "false",
    "yes",
    "0x10",
    ".inf",
    "4294967295",
    "4294967296",
    "18446744073709551616",
    "[a, b]",
    "[]",
    "{}",
    "{ role: admin }",
    "{ tenant: true }",
    "{ user: a@b.example }",
    "\"A@b.example\"",
    "a@b.example",
    "bad key",
    "USD",
    "usd",
    "EURO",
    "\"x: y\"",
    "'${env:HOME}'",
    "all",
    "selected",
    "read",
    "month",
    "suspended",
    "blocked",
    "super_admin",
    "fr",
    "dd/MM/yyyy",
    "admin",
    "member",
    "\"é@b.example\"",
    "\"a\\u0085b@c.example\"",
    "\"\\t\"",
    "allow",
    "[read, read]",
    "{ a: 1, a: 2 }",
    "!!str 12",
    "&a x",
    "|",
    "'it''s'",
    "\"\"",
    "30.5",
    "5.01",
    "-0.0",
    "1e3",
    "0o7",
    "'0'",
    "\"EUR\"",
    "ops@Acme.example",
    "a@b",
    "Alice",
];

/// Keys a mutation writes in place of a key.
const KEYS: &[&str] = &[
    "extra",
    "display_name",
    "description",
    "Tenant-X",
    "t_1",
    "limits",
    "price",
    "plan",
    "workspaces",
    "contact",
    "email",
    "lora_weight",
    "guidance",
    "1",
    "acknowledge",
    "users",
    "\"Ü@x.example\"",
    "USER@X.EXAMPLE",
    "role",
    "to",
    "actions",
    "a-b",
    "-a",
    "tenants",
    "memberships",
    "models",
    "protected",
    "previously",
    "0x1",
    "'quoted'",
    "status",
];

fn mutate(text: &str, rng: &mut StdRng) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    if lines.is_empty() {
        return String::new();
    }
    for _ in 0..rng.random_range(1..=2) {
        let i = rng.random_range(0..lines.len());
        let line = lines[i].clone();
        let colons: Vec<usize> = line.match_indices(": ").map(|(j, _)| j).collect();
        match rng.random_range(0..6) {
            // a value: up to the next `,`, `}`, `]` or the end of the line
            0 | 1 if !colons.is_empty() => {
                let at = colons[rng.random_range(0..colons.len())] + 2;
                let end = line[at..]
                    .find([',', '}', ']'])
                    .map_or(line.len(), |k| at + k);
                let v = VALUES[rng.random_range(0..VALUES.len())];
                lines[i] = format!("{}{v}{}", &line[..at], &line[end..]);
            }
            // a key: the word before a colon
            2 if !colons.is_empty() => {
                let at = colons[rng.random_range(0..colons.len())];
                let start = line[..at].rfind([' ', '{', ',']).map_or(0, |k| k + 1);
                let k = KEYS[rng.random_range(0..KEYS.len())];
                lines[i] = format!("{}{k}{}", &line[..start], &line[at..]);
            }
            3 => {
                lines.remove(i);
                if lines.is_empty() {
                    return String::new();
                }
            }
            4 => lines.insert(i, line),
            _ => {
                let indent = line.len() - line.trim_start().len();
                let k = KEYS[rng.random_range(0..KEYS.len())];
                let v = VALUES[rng.random_range(0..VALUES.len())];
                lines.insert(i, format!("{}{k}: {v}", " ".repeat(indent)));
            }
        }
    }
    lines.join("\n") + "\n"
}

/// Whether the direct path typed `text`; panics when the full path disagrees.
fn agrees(name: &str, text: &str) -> bool {
    let Some(fast) = direct::typed(text) else {
        return false;
    };
    let full = load::load_str_with(name, text, None, &schema_and_type);
    let problems: Vec<_> = full.problems.iter().map(|p| (p.code, &p.message)).collect();
    assert!(
        problems.is_empty(),
        "the direct path typed a file the full path finds problems in: {problems:?}\n{text}"
    );
    let slow = full.values.into_iter().next().flatten();
    assert_eq!(
        Some(format!("{fast:?}")),
        slow.map(|t| format!("{t:?}")),
        "typed differently:\n{text}"
    );
    true
}

fn examples() -> Vec<(String, String)> {
    fn walk(dir: &Path, out: &mut Vec<(String, String)>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for p in paths {
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "yaml") {
                if let Ok(text) = std::fs::read_to_string(&p) {
                    out.push((p.display().to_string(), text));
                }
            }
        }
    }
    let mut out = vec![("every_field.yaml".to_string(), EVERY_FIELD.to_string())];
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"),
        &mut out,
    );
    out
}

#[test]
fn the_direct_path_takes_valid_files_and_types_them_as_the_full_path() {
    assert!(agrees("every_field.yaml", EVERY_FIELD));
    let corpus = examples();
    let taken = corpus.iter().filter(|(n, t)| agrees(n, t)).count();
    // Most examples are valid files in the fast subset; the invalid ones take the full path.
    assert!(
        taken >= 20,
        "only {taken} of {} examples typed directly",
        corpus.len()
    );
    assert!(taken < corpus.len());
}

/// Every value of [`VALUES`] in place of every value of [`EVERY_FIELD`], and every key of
/// [`KEYS`] in place of every key.
#[test]
fn every_single_substitution_in_every_field_agrees() {
    let lines: Vec<&str> = EVERY_FIELD.lines().collect();
    let (mut taken, mut left) = (0, 0);
    for (i, line) in lines.iter().enumerate() {
        for (at, _) in line.match_indices(": ") {
            let start = line[..at].rfind([' ', '{', ',']).map_or(0, |k| k + 1);
            let end = line[at + 2..]
                .find([',', '}', ']'])
                .map_or(line.len(), |k| at + 2 + k);
            let values = VALUES
                .iter()
                .map(|v| format!("{}{v}{}", &line[..at + 2], &line[end..]));
            let keys = KEYS
                .iter()
                .map(|k| format!("{}{k}{}", &line[..start], &line[at..]));
            for changed in values.chain(keys) {
                let mut text = lines.clone();
                text[i] = &changed;
                if agrees("every_field.yaml", &(text.join("\n") + "\n")) {
                    taken += 1;
                } else {
                    left += 1;
                }
            }
        }
    }
    assert!(taken > 300 && left > 3000, "taken {taken}, left {left}");
}

#[test]
fn random_mutations_typed_directly_are_typed_the_same_by_the_full_path() {
    let corpus = examples();
    let mut rng = StdRng::seed_from_u64(15);
    let (mut taken, mut left) = (0, 0);
    for round in 0..20_000 {
        let (name, base) = &corpus[round % corpus.len()];
        let mut text = mutate(base, &mut rng);
        if rng.random_bool(0.3) {
            text = mutate(&text, &mut rng);
        }
        if agrees(name, &text) {
            taken += 1;
        } else {
            left += 1;
        }
    }
    // Both sides are exercised: a mutation mostly breaks a file, but many stay valid.
    assert!(taken > 1000 && left > 10_000, "taken {taken}, left {left}");
}
