//! Fuzzes the whole `validate` path on one file: YAML composition, `${env:}` substitution,
//! the JSON Schema, merging, the rules, span lookup and the human and JSON renderings. Any
//! input must give diagnostics, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tenantctl::cli::DiagnosticFormat;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // The fast YAML path answers only what the full parser answers.
    if let Some(fast) = tenantctl::config::yaml::fast::parse(&text) {
        assert_eq!(tenantctl::config::yaml::compose::compose(&text).ok(), Some(fast));
    }
    let checked = tenantctl::validate::check_str("fuzz.yaml", &text);
    let mut out = Vec::new();
    let _ = tenantctl::validate::render_styled(
        &checked.diagnostics,
        DiagnosticFormat::Human,
        false,
        &mut out,
    );
    let _ = tenantctl::validate::render_styled(
        &checked.diagnostics,
        DiagnosticFormat::Json,
        false,
        &mut out,
    );
    for d in &checked.diagnostics {
        // Every diagnostic in a file has a position inside it.
        if let (Some(line), Some(span)) = (d.line, &d.span) {
            assert!(
                line >= 1 && span.start <= text.len() && span.end <= text.len(),
                "{d:?}"
            );
        }
    }
});
