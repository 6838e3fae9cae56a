//! docs/operations.md's configuration reference and the code agree: every `FLUXBRAIN_*`
//! variable any crate reads is documented, and every documented one is read somewhere.

use std::collections::BTreeSet;
use std::path::Path;

use crate::repo;

/// `"FLUXBRAIN_..."` string literals in the Rust sources under `dir`.
fn variables_in_code(dir: &Path, out: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            variables_in_code(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            for piece in text.split("\"FLUXBRAIN_").skip(1) {
                let name: String = piece
                    .chars()
                    .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                    .collect();
                // A literal that is the whole name (not a prefix being built, not prose).
                if piece[name.len()..].starts_with('"') && !name.is_empty() {
                    out.insert(format!("FLUXBRAIN_{name}"));
                }
            }
        }
    }
}

#[test]
fn every_variable_in_the_code_is_in_the_reference_and_back() {
    let mut code = BTreeSet::new();
    for krate in [
        "fluxbrain-core/src",
        "fluxbrain-kube/src",
        "fluxbrain-notify/src",
        "fluxbrain-cli/src",
    ] {
        variables_in_code(&repo().join(krate), &mut code);
    }
    let reference = std::fs::read_to_string(repo().join("docs/operations.md")).unwrap();
    let documented: BTreeSet<String> = reference
        .lines()
        .filter_map(|line| line.strip_prefix("| `FLUXBRAIN_"))
        .map(|rest| format!("FLUXBRAIN_{}", rest.split('`').next().unwrap()))
        .collect();
    assert!(code.len() >= 40, "the scan found only {code:?}");
    let undocumented: Vec<&String> = code.difference(&documented).collect();
    let unknown: Vec<&String> = documented.difference(&code).collect();
    assert!(
        undocumented.is_empty() && unknown.is_empty(),
        "read by the code but not in docs/operations.md: {undocumented:?}; \
         documented but read nowhere: {unknown:?}"
    );
}
