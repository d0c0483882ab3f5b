//! Names (rule 5, and rule 1's help): valid identity keys and e-mail addresses, and the
//! did-you-mean for a misspelt reference.

/// [`is_valid_key`] as a JSON Schema `pattern` (with `maxLength` 63), for the schema's
/// `propertyNames`: editors flag a bad key as the CLI does.
pub const KEY_PATTERN: &str = "^[a-z0-9][a-z0-9-]*$";

/// A declared user's key as a JSON Schema `pattern` (with `maxLength` 254): [`is_valid_email`]
/// once the key is read in lower case (upper-case letters only warn, `not_normalised`).
pub const USER_KEY_PATTERN: &str = "^[^\\s/@]{1,64}@[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)+$";

/// [`is_valid_email`] as a JSON Schema `pattern` (with `maxLength` 254), for e-mails that are
/// not keys (a tenant's contact): no upper-case letters.
pub const EMAIL_PATTERN: &str = "^[^\\s/@A-Z]{1,64}@[a-z0-9-]+(\\.[a-z0-9-]+)+$";

/// The message of rule 5 for a bad key (one wording for the rule and the schema check).
pub fn invalid_key_message(kind: impl std::fmt::Display, key: &str) -> String {
    format!("`{key}` is not a valid {kind} key")
}

/// The help of rule 5 for a bad key.
pub const INVALID_KEY_HELP: &str =
    "keys are lower-case letters, digits and `-`, starting with a letter or digit (at most 63)";

/// The message of rule 5 for a bad e-mail.
pub fn invalid_email_message(email: &str) -> String {
    format!("`{email}` is not a valid e-mail address")
}

/// The help of rule 5 for a user keyed by a bad e-mail.
pub const INVALID_USER_HELP: &str =
    "users are keyed by their e-mail address, e.g. `alice@acme.example`";

/// Whether `s` is a valid identity key: `[a-z0-9][a-z0-9-]*`.
pub fn is_valid_key(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'0'..=b'9'))
        && bytes.all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-'))
        && s.len() <= 63
}

/// Whether `s` is a plausible e-mail address: one `@`, a non-empty local part without
/// spaces or `/`, a domain with a dot, lower-case.
pub fn is_valid_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    let ok_char = |c: char| !c.is_whitespace() && !c.is_control() && c != '/' && c != '@';
    !local.is_empty()
        && local.len() <= 64
        && s.len() <= 254
        && local.chars().all(ok_char)
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && domain
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        && !s.chars().any(|c| c.is_uppercase())
}

/// The closest candidate to `wrong`, if close enough to be a likely typo.
pub fn did_you_mean<'a>(
    wrong: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(wrong, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

pub(super) fn suggestion<'a>(
    wrong: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    did_you_mean(wrong, candidates).map(|c| format!("did you mean `{c}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, max: usize, s: &str) -> bool {
        let schema = serde_json::json!({ "type": "string", "pattern": pattern, "maxLength": max });
        jsonschema::validator_for(&schema)
            .expect("the pattern compiles")
            .is_valid(&serde_json::json!(s))
    }

    /// The schema's patterns say what the rule's functions say (the schema lets editors flag
    /// what `validate` reports).
    #[test]
    fn patterns_agree_with_the_rules() {
        let long = "a".repeat(64);
        for key in [
            "acme",
            "a",
            "0-9",
            "a--b",
            "Acme",
            "acme corp",
            "-acme",
            "",
            "é",
            &long,
            "a_b",
        ] {
            assert_eq!(
                matches(KEY_PATTERN, 63, key),
                is_valid_key(key),
                "key {key:?}"
            );
        }
        let long_local = format!("{}@acme.example", "a".repeat(65));
        for email in [
            "alice@acme.example",
            "a.b+c@sub.acme.example",
            "bob@acme",
            "alice@@acme.example",
            "al ice@acme.example",
            "a/b@acme.example",
            "@acme.example",
            "alice@.acme.example",
            "alice@acme..example",
            "alice@acme.example.",
            "alice@acme_x.example",
            "Alice@acme.example",
            &long_local,
        ] {
            assert_eq!(
                matches(EMAIL_PATTERN, 254, email),
                is_valid_email(email),
                "e-mail {email:?}"
            );
            assert_eq!(
                matches(USER_KEY_PATTERN, 254, email),
                is_valid_email(&email.to_lowercase()),
                "user key {email:?}"
            );
        }
    }
}
