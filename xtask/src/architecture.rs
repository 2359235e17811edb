//! The invariants of `ARCHITECTURE.md` that the crate graph can show, checked against `cargo
//! metadata`: each crate depends only on crates of a lower layer (an entity never on another,
//! a reference point's trait never on either side), only `lso-store` depends on a SQL client,
//! `lso-model` needs nothing that does IO, the API crates reach no store, and only the command
//! line depends on the demo. `cargo xtask architecture` prints what breaks them; a test keeps
//! them.

use serde_json::Value;

/// The layers, lowest first: a crate may depend on crates of lower layers only.
const LAYERS: &[&[&str]] = &[
    &["lso-model", "lso-adagio", "lso-geo", "lso-transport", "lso-metrics"],
    &["lso-store", "lso-spec", "lso-mef-product", "lso-legato", "lso-presto"],
    &["lso-jobs"],
    &["lso-notify", "lso-http", "lso-ecm", "lso-icm"],
    &["lso-bus", "lso-sof"],
    &["lso-api-product", "lso-api-legato", "lso-api-presto", "lso-api-adagio"],
    &["lso-api-admin", "lso-api-allegro"],
    &["lso-partners"],
    &["lso-server"],
    &["lso-lab"],
    &["lso-demo"],
    &["lso", "xtask"],
];

/// Clients of SQL databases.
const SQL: &[&str] =
    &["rusqlite", "tokio-postgres", "postgres", "deadpool-postgres", "sqlx", "diesel", "libsqlite3-sys"];

/// Who may use them: `lso-store`, and the benchmarks' bare handler, the ceiling `lso` is
/// measured against, which writes to SQLite itself.
const SQL_USERS: &[&str] = &["lso-store", "xtask"];

/// What `lso-model` may use: nothing that reads or writes outside the process.
const MODEL_MAY_USE: &[&str] = &["thiserror", "chrono"];

/// Names in `lso-model`'s source that would be IO.
const IO_PATHS: &[&str] = &["std::fs", "std::net", "std::process", "std::io", "tokio", "reqwest"];

/// The crates that serve or call HTTP: they reach the store only through an entity.
const HTTP_CRATES: &[&str] = &[
    "lso-http",
    "lso-api-product",
    "lso-api-legato",
    "lso-api-presto",
    "lso-api-adagio",
    "lso-api-admin",
    "lso-api-allegro",
];

/// The crates that may depend on the demo: the command line.
const DEMO_USERS: &[&str] = &["lso"];

fn layer(name: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&name))
}

/// The normal (not dev, not build) dependencies of each workspace member, by name.
fn members(metadata: &Value) -> Vec<(String, Vec<String>)> {
    let packages = metadata["packages"].as_array().into_iter().flatten();
    packages
        .map(|p| {
            let deps = p["dependencies"].as_array().into_iter().flatten();
            let normal = deps.filter(|d| d["kind"].is_null()).filter_map(|d| d["name"].as_str()).map(str::to_owned);
            (p["name"].as_str().unwrap_or_default().to_owned(), normal.collect())
        })
        .collect()
}

/// What in `metadata` (of `cargo metadata --no-deps`) breaks the invariants, in words.
pub fn violations(metadata: &Value) -> Vec<String> {
    let mut found = Vec::new();
    for (name, deps) in members(metadata) {
        let Some(own) = layer(&name) else {
            found.push(format!("{name} is in no layer: place it in LAYERS of xtask/src/architecture.rs"));
            continue;
        };
        for dep in &deps {
            if let Some(theirs) = layer(dep)
                && theirs >= own
            {
                found.push(format!("{name} (layer {own}) depends on {dep} (layer {theirs}), not a lower layer"));
            }
            if SQL.contains(&dep.as_str()) && !SQL_USERS.contains(&name.as_str()) {
                found.push(format!("{name} depends on the SQL client {dep}: only lso-store knows SQL"));
            }
            if name == "lso-model" && !MODEL_MAY_USE.contains(&dep.as_str()) {
                found.push(format!("lso-model depends on {dep}: it does no IO and needs only {MODEL_MAY_USE:?}"));
            }
            if HTTP_CRATES.contains(&name.as_str()) && dep == "lso-store" {
                found.push(format!("{name} depends on lso-store: HTTP code reaches the store through an entity"));
            }
            if dep == "lso-demo" && !DEMO_USERS.contains(&name.as_str()) {
                found.push(format!("{name} depends on lso-demo: only the command line does"));
            }
        }
    }
    found
}

/// The Rust sources under `dir` (not `target`), concatenated.
fn sources(dir: &std::path::Path) -> std::io::Result<String> {
    let mut text = String::new();
    let mut dirs = vec![dir.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() && path.file_name().is_none_or(|n| n != "target") {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                text.push_str(&std::fs::read_to_string(&path)?);
            }
        }
    }
    Ok(text)
}

/// The dependencies (of any kind) no source of their package names, as
/// `package depends on dep and never uses it`: what `cargo machete` finds, without installing it.
pub fn unused_dependencies(metadata: &Value) -> std::io::Result<Vec<String>> {
    let mut found = Vec::new();
    for package in metadata["packages"].as_array().into_iter().flatten() {
        let name = package["name"].as_str().unwrap_or_default();
        let Some(dir) = package["manifest_path"].as_str().and_then(|p| std::path::Path::new(p).parent()) else {
            continue;
        };
        let text = sources(dir)?;
        for dep in package["dependencies"].as_array().into_iter().flatten() {
            let dep_name = dep["rename"].as_str().or(dep["name"].as_str()).unwrap_or_default();
            let ident = dep_name.replace('-', "_");
            let used =
                [format!("{ident}::"), format!("use {ident}"), format!("{ident}!")].iter().any(|p| text.contains(p));
            if !used {
                found.push(format!("{name} depends on {dep_name} and never uses it"));
            }
        }
    }
    found.sort();
    found.dedup();
    Ok(found)
}

/// What of `IO_PATHS` the source files under `root` name, as `file: path`.
pub fn io_in_source(root: &std::path::Path) -> std::io::Result<Vec<String>> {
    let mut found = Vec::new();
    let mut dirs = vec![root.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path)?;
                for io in IO_PATHS.iter().filter(|io| text.contains(*io)) {
                    found.push(format!("{}: {io}", path.display()));
                }
            }
        }
    }
    Ok(found)
}

/// The workspace's metadata, without its dependencies' packages.
pub fn workspace_metadata() -> anyhow::Result<Value> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = std::process::Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()?;
    anyhow::ensure!(output.status.success(), "cargo metadata failed: {}", String::from_utf8_lossy(&output.stderr));
    Ok(serde_json::from_slice(&output.stdout)?)
}

/// `cargo xtask architecture`: prints what breaks the invariants; fails if anything does.
pub fn run() -> anyhow::Result<()> {
    let mut found = violations(&workspace_metadata()?);
    let model = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/lso-model/src");
    found.extend(io_in_source(&model)?.into_iter().map(|io| format!("lso-model names {io}")));
    found.extend(unused_dependencies(&workspace_metadata()?)?);
    for violation in &found {
        println!("{violation}");
    }
    anyhow::ensure!(found.is_empty(), "{} invariants broken", found.len());
    println!("the crate graph keeps every invariant of ARCHITECTURE.md it can show");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_workspace_keeps_the_invariants() {
        let found = violations(&workspace_metadata().unwrap());
        assert!(found.is_empty(), "{found:#?}");
        let model = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/lso-model/src");
        assert_eq!(io_in_source(&model).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn every_dependency_is_used() {
        assert_eq!(unused_dependencies(&workspace_metadata().unwrap()).unwrap(), Vec::<String>::new());
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("src")).unwrap();
        std::fs::write(dir.path().join("src/lib.rs"), "use serde_json::Value;\n").unwrap();
        let manifest = dir.path().join("Cargo.toml").display().to_string();
        let metadata = json!({"packages": [{"name": "p", "manifest_path": manifest,
            "dependencies": [{"name": "serde_json"}, {"name": "tokio-util"}]}]});
        assert_eq!(unused_dependencies(&metadata).unwrap(), ["p depends on tokio-util and never uses it"]);
    }

    fn package(name: &str, deps: &[(&str, Option<&str>)]) -> Value {
        let deps: Vec<Value> = deps.iter().map(|(d, kind)| json!({"name": d, "kind": kind})).collect();
        json!({"name": name, "dependencies": deps})
    }

    #[test]
    fn each_kind_of_forbidden_dependency_is_named() {
        let metadata = json!({"packages": [
            package("lso-bus", &[("lso-sof", None), ("rusqlite", None), ("tempfile", Some("dev"))]),
            package("lso-model", &[("tokio", None), ("proptest", Some("dev"))]),
            package("lso-http", &[("lso-store", None)]),
            package("lso-server", &[("lso-demo", None)]),
            package("lso-icm", &[("lso-ecm", None), ("lso-ecm", Some("dev"))]),
            package("lso-new", &[]),
        ]});
        let found = violations(&metadata);
        for expected in [
            "lso-bus (layer 4) depends on lso-sof (layer 4), not a lower layer",
            "lso-bus depends on the SQL client rusqlite: only lso-store knows SQL",
            "lso-model depends on tokio: it does no IO",
            "lso-http depends on lso-store: HTTP code reaches the store through an entity",
            "lso-server (layer 8) depends on lso-demo (layer 10), not a lower layer",
            "lso-server depends on lso-demo: only the command line does",
            "lso-icm (layer 3) depends on lso-ecm (layer 3), not a lower layer",
            "lso-new is in no layer",
        ] {
            assert!(found.iter().any(|f| f.starts_with(expected)), "{expected} in {found:#?}");
        }
        assert_eq!(found.len(), 8, "dev-dependencies are tests' own: {found:#?}");
    }

    #[test]
    fn io_in_the_model_source_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pure.rs"), "pub fn add(a: i64, b: i64) -> i64 { a + b }\n").unwrap();
        assert!(io_in_source(dir.path()).unwrap().is_empty());
        std::fs::write(dir.path().join("impure.rs"), "pub fn read() { let _ = std::fs::read(\"x\"); }\n").unwrap();
        assert_eq!(io_in_source(dir.path()).unwrap(), [format!("{}: std::fs", dir.path().join("impure.rs").display())]);
    }
}
