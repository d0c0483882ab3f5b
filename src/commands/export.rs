//! `tenantctl export`: the live state as YAML that validates and plans to `No changes.`;
//! one document on stdout, or files in `--out DIR` (one per kind, or per tenant).

use std::collections::BTreeMap;
use std::path::Path;

use miette::{miette, IntoDiagnostic, WrapErr};

use super::{print, with_platform, Exit, Settings};
use crate::cli::{ExportArgs, ExportLayout};
use crate::config::Document;

/// How an exported file points an editor at the schema: the schema's location depends on
/// where the user keeps it, so the export says how rather than guessing a path.
const SCHEMA_LINE: &str = "# Editor support: `tenantctl schema > tenantctl.schema.json`, then make the first line\n# `# yaml-language-server: $schema=<path to tenantctl.schema.json>`.";

fn yaml(doc: &Document) -> miette::Result<String> {
    serde_saphyr::to_string(doc).map_err(|e| miette!("cannot write YAML: {e}"))
}

fn header(origin: &str, revision: i64) -> String {
    format!("# Exported by tenantctl from {origin} at revision {revision}.\n{SCHEMA_LINE}\n")
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

fn write(dir: &Path, files: &BTreeMap<String, String>) -> miette::Result<()> {
    for (name, text) in files {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .into_diagnostic()
                .wrap_err_with(|| format!("cannot create `{}`", parent.display()))?;
        }
        std::fs::write(&path, text)
            .into_diagnostic()
            .wrap_err_with(|| format!("cannot write `{}`", path.display()))?;
    }
    Ok(())
}

pub fn run(args: ExportArgs, settings: &Settings) -> miette::Result<Exit> {
    let (state, label) = with_platform(settings, async |p| {
        let state = p
            .client
            .state()
            .await
            .into_diagnostic()
            .wrap_err("cannot read the live state")?;
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
