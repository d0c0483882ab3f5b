//! Conversions between the saved plan file's types and the domain [`Plan`]: the one place
//! where the file's shape and the plan's meet.

use super::*;

impl From<&Plan> for FilePlan {
    fn from(p: &Plan) -> FilePlan {
        FilePlan {
            revision: p.revision,
            changes: p.changes.iter().map(FileChange::from).collect(),
            risks: (p.risks.iter())
                .map(|r| FileFinding {
                    acknowledged: r.acknowledged.as_ref().map(|a| match a {
                        Acknowledged::Configuration { reason } => FileAck::Configuration {
                            reason: reason.clone(),
                        },
                        Acknowledged::Flag(flag) => FileAck::Flag { flag: flag.clone() },
                    }),
                    ..FileFinding::new(&r.code, r.kind, &r.key, &r.message)
                })
                .collect(),
            warnings: (p.warnings.iter())
                .map(|w| FileFinding::new(&w.code, w.kind, &w.key, &w.message))
                .collect(),
            unmanaged: p.unmanaged.clone(),
            sensitive: FileSensitivity {
                live: to_file(&p.sensitive.live),
                desired: to_file(&p.sensitive.desired),
            },
            out_of_scope: p.out_of_scope.as_ref().map(|o| FileOutOfScope {
                token: o.token.clone(),
                not_visible: o.not_visible.clone(),
                read_only: o.read_only.clone(),
            }),
            targets: p.targets.clone(),
        }
    }
}

type Pointers = BTreeMap<(Kind, String), std::collections::BTreeSet<String>>;

fn to_file(map: &Pointers) -> Vec<FileSensitiveFields> {
    map.iter()
        .map(|((kind, key), pointers)| FileSensitiveFields {
            kind: *kind,
            key: key.clone(),
            pointers: pointers.iter().cloned().collect(),
        })
        .collect()
}

fn from_file(list: Vec<FileSensitiveFields>) -> Pointers {
    list.into_iter()
        .map(|f| ((f.kind, f.key), f.pointers.into_iter().collect()))
        .collect()
}

impl From<FilePlan> for Plan {
    fn from(p: FilePlan) -> Plan {
        Plan {
            revision: p.revision,
            changes: p.changes.into_iter().map(Change::from).collect(),
            risks: (p.risks.into_iter())
                .map(
                    |FileFinding {
                         code,
                         kind,
                         key,
                         message,
                         acknowledged,
                     }| Risk {
                        code,
                        kind,
                        key,
                        message,
                        acknowledged: acknowledged.map(|a| match a {
                            FileAck::Configuration { reason } => {
                                Acknowledged::Configuration { reason }
                            }
                            FileAck::Flag { flag } => Acknowledged::Flag(flag),
                        }),
                    },
                )
                .collect(),
            warnings: (p.warnings.into_iter())
                .map(
                    |FileFinding {
                         code,
                         kind,
                         key,
                         message,
                         ..
                     }| Warning {
                        code,
                        kind,
                        key,
                        message,
                    },
                )
                .collect(),
            unmanaged: p.unmanaged,
            sensitive: crate::plan::Sensitivity {
                live: from_file(p.sensitive.live),
                desired: from_file(p.sensitive.desired),
            },
            out_of_scope: p.out_of_scope.map(|o| OutOfScope {
                token: o.token,
                not_visible: o.not_visible,
                read_only: o.read_only,
            }),
            targets: p.targets,
        }
    }
}

impl From<&Change> for FileChange {
    fn from(c: &Change) -> FileChange {
        FileChange {
            kind: c.kind,
            key: c.key.clone(),
            action: match c.action {
                Action::Create => FileAction::Create,
                Action::Update => FileAction::Update,
                Action::Replace => FileAction::Replace,
                Action::Delete => FileAction::Delete,
            },
            previous_key: c.previous_key.clone(),
            before: c.before.clone(),
            after: c.after.as_deref().cloned(),
            fields: c
                .fields
                .iter()
                .map(|f| FileField {
                    path: f.path.clone(),
                    before: f.before.clone(),
                    after: f.after.clone(),
                })
                .collect(),
            reason: c.reason.as_ref().map(|r| match r {
                Reason::Email => FileReason::Email,
                Reason::Tenant => FileReason::Tenant,
                Reason::Removed => FileReason::Removed,
                Reason::Pruned => FileReason::Pruned,
                Reason::Cascade { kind, key } => FileReason::Cascade {
                    kind: *kind,
                    key: key.clone(),
                },
                Reason::Renamed { to } => FileReason::Renamed { to: to.clone() },
            }),
            moved: c
                .moved
                .iter()
                .map(|m| FileMoved {
                    kind: m.kind,
                    from: m.from.clone(),
                    to: m.to.clone(),
                })
                .collect(),
            ops: c
                .writes
                .iter()
                .map(|s| FileOp {
                    op: match s.verb {
                        Verb::Put => FileVerb::Put,
                        Verb::Adopt => FileVerb::Adopt,
                        Verb::Delete => FileVerb::Delete,
                    },
                    kind: s.kind,
                    key: s.key.clone(),
                    spec: s.spec.as_deref().cloned(),
                    if_version: s.if_version,
                    protected: s.protected,
                    sensitive: (s.sensitive.iter())
                        .map(|f| FileSensitive {
                            pointer: f.pointer.clone(),
                            source: f.source.clone(),
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

impl From<FileChange> for Change {
    fn from(c: FileChange) -> Change {
        Change {
            kind: c.kind,
            key: c.key,
            action: match c.action {
                FileAction::Create => Action::Create,
                FileAction::Update => Action::Update,
                FileAction::Replace => Action::Replace,
                FileAction::Delete => Action::Delete,
            },
            previous_key: c.previous_key,
            before: c.before,
            after: c.after.map(std::sync::Arc::new),
            fields: c
                .fields
                .into_iter()
                .map(|f| FieldChange {
                    path: f.path,
                    before: f.before,
                    after: f.after,
                })
                .collect(),
            reason: c.reason.map(|r| match r {
                FileReason::Email => Reason::Email,
                FileReason::Tenant => Reason::Tenant,
                FileReason::Removed => Reason::Removed,
                FileReason::Pruned => Reason::Pruned,
                FileReason::Cascade { kind, key } => Reason::Cascade { kind, key },
                FileReason::Renamed { to } => Reason::Renamed { to },
            }),
            moved: c
                .moved
                .into_iter()
                .map(|m| Moved {
                    kind: m.kind,
                    from: m.from,
                    to: m.to,
                })
                .collect(),
            writes: c
                .ops
                .into_iter()
                .map(|o| Write {
                    verb: match o.op {
                        FileVerb::Put => Verb::Put,
                        FileVerb::Adopt => Verb::Adopt,
                        FileVerb::Delete => Verb::Delete,
                    },
                    kind: o.kind,
                    key: o.key,
                    spec: o.spec.map(std::sync::Arc::new),
                    if_version: o.if_version,
                    protected: o.protected,
                    sensitive: (o.sensitive.into_iter())
                        .map(|f| SensitiveField {
                            pointer: f.pointer,
                            source: f.source,
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}
