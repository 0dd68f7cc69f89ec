//! The layering the README's "Layout" describes, held by a test: the command line reaches
//! the web crate only to serve (`serve`, which `demo` runs); every other command calls the
//! application layer (`accesslog-app`), which knows nothing of HTTP.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("a source folder") {
        let path = entry.expect("a folder entry").path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

#[test]
fn only_serve_uses_the_web_crate() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let users: Vec<String> = rust_files(&src)
        .into_iter()
        .filter(|f| {
            std::fs::read_to_string(f)
                .expect("a source file")
                .contains("accesslog_server")
        })
        .map(|f| f.strip_prefix(&src).unwrap().display().to_string())
        .collect();
    assert_eq!(
        users,
        ["commands/serve.rs"],
        "only `serve` may call the web crate"
    );
}

#[test]
fn the_application_layer_knows_no_http() {
    let app = Path::new(env!("CARGO_MANIFEST_DIR")).join("../app");
    let manifest = std::fs::read_to_string(app.join("Cargo.toml")).expect("the app's manifest");
    for web in ["axum", "tower", "hyper", "accesslog-server"] {
        assert!(!manifest.contains(web), "accesslog-app depends on {web}");
    }
    for file in rust_files(&app.join("src")) {
        let text = std::fs::read_to_string(&file).expect("a source file");
        assert!(!text.contains("axum::"), "{} uses axum", file.display());
    }
}

#[test]
fn the_store_crates_have_no_macros() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for name in ["store", "store-sqlite", "store-postgres"] {
        for file in rust_files(&crates.join(name).join("src")) {
            let text = std::fs::read_to_string(&file).expect("a source file");
            assert!(
                !text.contains("macro_rules!"),
                "{} defines a macro: write the SQL as plain (generic) code",
                file.display()
            );
        }
    }
}
