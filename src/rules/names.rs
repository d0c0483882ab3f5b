//! Names (rule 5, and rule 1's help): valid identity keys and e-mail addresses, and the
//! did-you-mean for a misspelt reference.

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
