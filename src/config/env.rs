//! `${env:NAME}` substitution in the string values of a parsed file: secrets stay out of
//! the YAML and come from the environment that runs tenantctl. A missing variable or a
//! malformed reference is a problem at its node. Every substitution is recorded
//! ([`Substitution`]): the value is sensitive, and is masked wherever it is shown.

use serde_json::Value;

use super::yaml::span::escape;
use crate::diagnostic::{FileId, Place, Problem, Target};

/// One string value made from the environment: where it is in its file, the text as
/// written (`Bearer ${env:API_TOKEN}`), and the values of the variables it used (secrets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Substitution {
    pub pointer: String,
    pub source: String,
    /// The text after substitution.
    pub value: String,
    pub secrets: Vec<String>,
}

/// Replaces `${env:NAME}` in every string value of `v`, reporting missing variables and
/// malformed references at their node, and recording each substitution in `found`.
pub(super) fn substitute_env(
    id: FileId,
    v: &mut Value,
    pointer: &mut String,
    problems: &mut Vec<Problem>,
    found: &mut Vec<Substitution>,
) {
    match v {
        Value::String(s) if s.contains("${env:") => match expand(s) {
            Ok((new, secrets)) => {
                found.push(Substitution {
                    pointer: pointer.clone(),
                    value: new.clone(),
                    source: std::mem::replace(s, new),
                    secrets,
                });
            }
            Err(errs) => {
                for e in errs {
                    let place = Place::Pointer(id, pointer.clone(), Target::Value);
                    problems.push(match e {
                        EnvError::Missing(name) => Problem::error("env_missing", place, format!("environment variable `{name}` is not set"))
                            .label(format!("needs `{name}`"))
                            .help(format!("set `{name}` in the environment that runs tenantctl (secrets never live in the YAML)")),
                        EnvError::NotUnicode(name) => Problem::error("env_missing", place, format!("environment variable `{name}` is not valid UTF-8")),
                        EnvError::Malformed => Problem::error("env_syntax", place, "malformed `${env:…}` reference")
                            .help("write `${env:NAME}` with NAME made of letters, digits and `_`"),
                    });
                }
            }
        },
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&i.to_string());
                substitute_env(id, item, pointer, problems, found);
                pointer.truncate(len);
            }
        }
        Value::Object(map) => {
            for (k, item) in map.iter_mut() {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&escape(k));
                substitute_env(id, item, pointer, problems, found);
                pointer.truncate(len);
            }
        }
        _ => {}
    }
}

#[derive(Debug, PartialEq, Eq)]
enum EnvError {
    Missing(String),
    NotUnicode(String),
    Malformed,
}

/// The expanded text and the values of the variables it used.
type Expanded = (String, Vec<String>);

fn expand(s: &str) -> Result<Expanded, Vec<EnvError>> {
    expand_with(s, |name| std::env::var(name))
}

fn expand_with(
    s: &str,
    lookup: impl Fn(&str) -> Result<String, std::env::VarError>,
) -> Result<Expanded, Vec<EnvError>> {
    let mut out = String::with_capacity(s.len());
    let mut secrets = Vec::new();
    let mut errors = Vec::new();
    let mut rest = s;
    while let Some(at) = rest.find("${env:") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 6..];
        let Some(close) = after.find('}') else {
            errors.push(EnvError::Malformed);
            rest = "";
            break;
        };
        let name = &after[..close];
        let valid = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            errors.push(EnvError::Malformed);
        } else {
            match lookup(name) {
                Ok(v) => {
                    out.push_str(&v);
                    secrets.push(v);
                }
                Err(std::env::VarError::NotPresent) => {
                    errors.push(EnvError::Missing(name.to_string()))
                }
                Err(std::env::VarError::NotUnicode(_)) => {
                    errors.push(EnvError::NotUnicode(name.to_string()))
                }
            }
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    if errors.is_empty() {
        Ok((out, secrets))
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Result<String, std::env::VarError> {
        match name {
            "TOKEN" => Ok("s3cret".into()),
            _ => Err(std::env::VarError::NotPresent),
        }
    }

    #[test]
    fn expands_env_references() {
        let ok = |s: &str, n: usize| Ok((s.to_string(), vec!["s3cret".to_string(); n]));
        assert_eq!(expand_with("a ${env:TOKEN} b", env), ok("a s3cret b", 1));
        assert_eq!(
            expand_with("${env:TOKEN}${env:TOKEN}", env),
            ok("s3crets3cret", 2)
        );
        assert_eq!(
            expand_with("${env:NOPE}", env),
            Err(vec![EnvError::Missing("NOPE".into())])
        );
        assert_eq!(
            expand_with("${env:1X}", env),
            Err(vec![EnvError::Malformed])
        );
        assert_eq!(
            expand_with("${env:TOKEN", env),
            Err(vec![EnvError::Malformed])
        );
        assert_eq!(expand_with("$HOME ${other}", env), ok("$HOME ${other}", 0));
    }
}
