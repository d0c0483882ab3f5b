//! `tenantctl export`: the live state as YAML that validates and plans to `No changes.`;
//! one document on stdout, or files in `--out DIR` (one per kind, or per tenant). A value that
//! came from `${env:…}` is written back as that placeholder, never as the secret.

use std::collections::BTreeMap;
use std::path::Path;

use miette::{miette, IntoDiagnostic, WrapErr};

use super::{print, with_platform, Exit, Settings};
use crate::api::SensitiveEntry;
use crate::cli::{ExportArgs, ExportLayout};
use crate::config::Document;
use crate::model::{AnySpec, State};

/// How an exported file points an editor at the schema: the schema's location depends on
/// where the user keeps it, so the export says how rather than guessing a path.
const SCHEMA_LINE: &str = "# Editor support: `tenantctl schema > tenantctl.schema.json`, then make the first line\n# `# yaml-language-server: $schema=<path to tenantctl.schema.json>`.";

fn yaml(doc: &Document) -> miette::Result<String> {
    serde_saphyr::to_string(doc).map_err(|e| miette!("cannot write YAML: {e}"))
}

fn header(origin: &str, revision: i64) -> String {
    format!("{HEADER_START}from {origin} at revision {revision}.\n{SCHEMA_LINE}\n")
}

/// The files of an export, by relative path.
pub fn files(
    doc: &Document,
    layout: ExportLayout,
    origin: &str,
    revision: i64,
) -> miette::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let head = header(origin, revision);
    let mut put = |name: String, d: Document| -> miette::Result<()> {
        if d != Document::default() {
            out.insert(name, format!("{head}{}", yaml(&d)?));
        }
        Ok(())
    };
    match layout {
        ExportLayout::Kind => {
            put(
                "plans.yaml".into(),
                Document {
                    plans: doc.plans.clone(),
                    ..Document::default()
                },
            )?;
            put(
                "models.yaml".into(),
                Document {
                    models: doc.models.clone(),
                    ..Document::default()
                },
            )?;
            put(
                "roles.yaml".into(),
                Document {
                    roles: doc.roles.clone(),
                    ..Document::default()
                },
            )?;
            put(
                "tenants.yaml".into(),
                Document {
                    tenants: doc.tenants.clone(),
                    ..Document::default()
                },
            )?;
            put(
                "users.yaml".into(),
                Document {
                    users: doc.users.clone(),
                    ..Document::default()
                },
            )?;
        }
        ExportLayout::Tenant => {
            put(
                "platform.yaml".into(),
                Document {
                    plans: doc.plans.clone(),
                    models: doc.models.clone(),
                    roles: doc.roles.clone(),
                    ..Document::default()
                },
            )?;
            for (slug, t) in &doc.tenants {
                let mut d = Document::default();
                d.tenants.insert(slug.clone(), t.clone());
                put(format!("tenants/{slug}.yaml"), d)?;
            }
            put(
                "users.yaml".into(),
                Document {
                    users: doc.users.clone(),
                    ..Document::default()
                },
            )?;
        }
    }
    Ok(out)
}

/// The first line of every file an export writes: how an earlier export's files are told
/// apart from the user's own.
const HEADER_START: &str = "# Exported by tenantctl ";

/// The YAML files already in an export directory, relative to it: those an earlier export
/// wrote, and the others.
#[derive(Debug, Default)]
struct Existing {
    ours: Vec<String>,
    theirs: Vec<String>,
}

fn existing(dir: &Path) -> miette::Result<Existing> {
    fn walk(root: &Path, dir: &Path, out: &mut Existing, depth: usize) -> std::io::Result<()> {
        if depth > 8 {
            return Ok(());
        }
        let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = e.file_name();
            if name.to_string_lossy().starts_with('.') {
                continue;
            }
            let path = e.path();
            let meta = std::fs::metadata(&path)?;
            if meta.is_dir() {
                walk(root, &path, out, depth + 1)?;
                continue;
            }
            let yaml = matches!(
                path.extension().and_then(|x| x.to_str()),
                Some("yaml" | "yml")
            );
            if !yaml || !meta.is_file() {
                continue;
            }
            let relative = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .replace('\\', "/");
            let mut head = [0u8; HEADER_START.len()];
            let ours = std::fs::File::open(&path)
                .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
                .is_ok()
                && head == HEADER_START.as_bytes();
            if ours {
                out.ours.push(relative);
            } else {
                out.theirs.push(relative);
            }
        }
        Ok(())
    }
    let mut out = Existing::default();
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => walk(dir, dir, &mut out, 0)
            .into_diagnostic()
            .wrap_err_with(|| format!("cannot read `{}`", dir.display()))?,
        Ok(_) => return Err(miette!("`{}` exists and is not a directory", dir.display())),
        Err(_) => {}
    }
    Ok(out)
}

fn list(names: &[String]) -> String {
    let shown: Vec<String> = names.iter().take(5).map(|n| format!("`{n}`")).collect();
    match names.len() {
        n if n > 5 => format!("{}, and {} more", shown.join(", "), n - 5),
        _ => shown.join(", "),
    }
}

/// Checks an export directory before anything is written: an earlier export's files that
/// this one would not overwrite (another layout, a tenant deleted since) are removed with
/// `clean`, refused otherwise, since validating the directory would read both; a file of
/// the user's is never overwritten, and others are mentioned.
fn prepare(dir: &Path, files: &BTreeMap<String, String>, clean: bool) -> miette::Result<()> {
    let found = existing(dir)?;
    let clobbered: Vec<String> = found
        .theirs
        .iter()
        .filter(|f| files.contains_key(*f))
        .cloned()
        .collect();
    if !clobbered.is_empty() {
        return Err(miette!(
            help = "move them away, or export to another directory",
            "{} in `{}` were not written by tenantctl; nothing was exported",
            list(&clobbered),
            dir.display()
        ));
    }
    let stale: Vec<String> = found
        .ours
        .iter()
        .filter(|f| !files.contains_key(*f))
        .cloned()
        .collect();
    if !stale.is_empty() {
        if !clean {
            return Err(miette!(
                help = "pass --clean to remove tenantctl's own files first, or export to an empty directory",
                "`{}` holds {} file(s) of an earlier export that this one would not overwrite ({}): read with the new files, they would declare resources twice; nothing was exported",
                dir.display(),
                stale.len(),
                list(&stale)
            ));
        }
        for f in &stale {
            let path = dir.join(f);
            std::fs::remove_file(&path)
                .into_diagnostic()
                .wrap_err_with(|| format!("cannot remove `{}`", path.display()))?;
            if let Some(parent) = path.parent().filter(|p| *p != dir) {
                // Empty once its files are gone (`tenants/`): best effort.
                let _ = std::fs::remove_dir(parent);
            }
        }
        eprintln!(
            "Removed {} file(s) of an earlier export from {}.",
            stale.len(),
            dir.display()
        );
    }
    let others: Vec<String> = found
        .theirs
        .into_iter()
        .filter(|f| !files.contains_key(f))
        .collect();
    if !others.is_empty() {
        eprintln!(
            "warning: `{}` also holds YAML that tenantctl did not write ({}); `tenantctl validate {}` reads it with the export",
            dir.display(),
            list(&others),
            dir.display()
        );
    }
    Ok(())
}

fn write(dir: &Path, files: &BTreeMap<String, String>) -> miette::Result<()> {
    for (name, text) in files {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .into_diagnostic()
                .wrap_err_with(|| format!("cannot create `{}`", parent.display()))?;
        }
        crate::output_file::write(&path, text.as_bytes(), crate::output_file::Access::AsBefore)
            .into_diagnostic()?;
    }
    Ok(())
}

pub fn run(args: ExportArgs, settings: &Settings) -> miette::Result<Exit> {
    let (state, label) = with_platform(settings, async |p| {
        let (state, sensitive) = tokio::join!(p.client.state(), p.client.sensitive_fields());
        let mut state = state
            .into_diagnostic()
            .wrap_err("cannot read the live state")?;
        match sensitive {
            Ok(list) => placeholders(&mut state, list.items),
            // A platform that does not record sensitive fields, or not for this token.
            Err(e) if matches!(e.status(), Some(403 | 404)) => {}
            Err(e) => {
                return Err(e)
                    .into_diagnostic()
                    .wrap_err("cannot read the platform's sensitive fields")
            }
        }
        Ok((state, p.label.clone()))
    })?;
    let doc = state.to_document();
    match &args.out {
        None => print(
            &format!("{}{}", header(&label, state.revision), yaml(&doc)?),
            Exit::Success,
        )?,
        Some(dir) => {
            let files = files(&doc, args.layout, &label, state.revision)?;
            prepare(dir, &files, args.clean)?;
            write(dir, &files)?;
            eprintln!(
                "Exported {} resources at revision {} to {} file(s) in {}.",
                state.len(),
                state.revision,
                files.len(),
                dir.display()
            );
        }
    }
    Ok(Exit::Success)
}

/// Puts back, in place of each value that came from `${env:…}`, the text it was written as
/// (`${env:ACME_PHONE}`): the export holds no secret, and plans to no change where the
/// variables are set.
fn placeholders(state: &mut State, fields: Vec<SensitiveEntry>) {
    for f in fields {
        let Some((meta, spec)) = state.get(f.kind, &f.key) else {
            continue;
        };
        let mut value = spec.to_value();
        match value.pointer_mut(&f.pointer) {
            Some(slot @ serde_json::Value::String(_)) => {
                *slot = serde_json::Value::String(f.source)
            }
            _ => continue,
        }
        if let Ok(spec) = AnySpec::from_value(f.kind, value) {
            state.insert(f.key, meta, spec);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Document;

    #[test]
    fn export_yaml_round_trips_tricky_strings() {
        let mut doc = Document::default();
        for (i, name) in [
            "yes",
            "no",
            "on",
            "off",
            "true",
            "null",
            "~",
            "123",
            "0x1F",
            "1e3",
            "-",
            "a: b",
            "# not a comment",
            "'quoted'",
            "\"dq\"",
            "multi\nline",
            " lead",
            "trail ",
            "",
            "Норвегия",
            "@at",
            "*star",
            "&amp",
            "!bang",
            "%pct",
            "{x}",
            "[y]",
            "2026-11-23",
        ]
        .iter()
        .enumerate()
        {
            doc.plans.insert(
                format!("p{i}"),
                crate::model::PlanSpec {
                    display_name: Some(name.to_string()),
                    ..Default::default()
                },
            );
        }
        let text = serde_saphyr::to_string(&doc).expect("yaml");
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("export.yaml");
        std::fs::write(&path, &text).expect("write");
        let checked = crate::validate::check_paths(&[path]);
        assert_eq!(
            checked.error_count(),
            0,
            "{text}\n{:?}",
            checked.diagnostics
        );
        let back = checked.desired.expect("desired").state;
        assert_eq!(back.plans.len(), doc.plans.len());
        for (k, p) in &doc.plans {
            assert_eq!(
                back.plans[k].spec.display_name, p.display_name,
                "{k}\n{text}"
            );
        }
    }
}
