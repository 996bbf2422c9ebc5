//! The two doors are the only ones used: every in-tree connector reaches the core through
//! `keymanager::connector_kit`, every example through `keymanager::gateway_kit` (ARCHITECTURE.md). A new import
//! that reaches past them fails here, naming the file and line.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every `keymanager::NAME` in code (not in comments) whose NAME is not the door.
fn reaching_past(files: &[PathBuf], door: &str) -> Vec<String> {
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            let mut rest = code;
            while let Some(at) = rest.find("keymanager::") {
                let before = rest[..at].chars().last();
                let after = &rest[at + "keymanager::".len()..];
                let name: String = after.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                if !matches!(before, Some(c) if c.is_alphanumeric() || c == '_') && name != door {
                    found.push(format!("{}:{}: keymanager::{name}", file.display(), n + 1));
                }
                rest = after;
            }
        }
    }
    found
}

#[test]
fn connectors_and_examples_use_only_their_kit() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut connectors = Vec::new();
    for entry in std::fs::read_dir(root.join("connectors"))
        .expect("connectors/")
        .flatten()
    {
        rust_files(&entry.path().join("src"), &mut connectors);
    }
    let mut examples = Vec::new();
    rust_files(&root.join("examples"), &mut examples);
    assert!(
        connectors.len() > 20 && examples.len() >= 5,
        "the scan found the sources"
    );
    let mut past = reaching_past(&connectors, "connector_kit");
    past.extend(reaching_past(&examples, "gateway_kit"));
    assert!(past.is_empty(), "imports that reach past the kit:\n{}", past.join("\n"));
}

#[test]
fn the_scan_sees_an_import_past_the_door() {
    let dir = std::env::temp_dir().join(format!("doors-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("x.rs");
    std::fs::write(&file, "use keymanager::connector_kit::model;\n// keymanager::sql in a comment\nuse keymanager::sql::changes;\nuse other_keymanager::x;\n").expect("write");
    let past = reaching_past(&[file], "connector_kit");
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(past.len(), 1, "{past:?}");
    assert!(past[0].ends_with(":3: keymanager::sql"), "{past:?}");
}
