//! Import of an official MEF product-schema tree (e.g. `Sonata/productSchema`).
//!
//! The MEF files give each product schema an opaque URN `$id` and then refer to other files by
//! relative path, which no conforming resolver can combine. The import drops the URN `$id`s so
//! that references resolve against the file's own location, repairs a few defects of the
//! published files, compiles every schema that has a URN, and copies the repaired tree into the
//! data directory so the specifications can be loaded again at start-up.

use crate::{Catalog, ProductSpec, SpecError};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What an import found.
#[derive(Debug, Default)]
pub struct ImportReport {
    /// Files read.
    pub files: usize,
    /// Repairs made to the published files, one line each.
    pub repairs: Vec<String>,
    /// Specifications that compiled: their `@type` URN.
    pub compiled: Vec<String>,
    /// Specifications that did not: URN and reason.
    pub failed: Vec<(String, String)>,
}

/// A tree of schema documents, repaired, by path relative to the tree's root.
#[derive(Debug, Default)]
pub struct SchemaTree {
    root: PathBuf,
    documents: BTreeMap<PathBuf, Value>,
}

/// Reads every `.yaml`/`.yml`/`.json` file under `root` and applies the repair pass.
pub fn read_tree(root: &Path, report: &mut ImportReport) -> Result<SchemaTree, SpecError> {
    let root = root.canonicalize().map_err(|e| invalid(root, e))?;
    let mut tree = SchemaTree { root: root.clone(), documents: BTreeMap::new() };
    let mut pending = vec![root.clone()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).map_err(|e| invalid(&dir, e))? {
            let path = entry.map_err(|e| invalid(&dir, e))?.path();
            if path.is_dir() {
                pending.push(path);
            } else if is_schema_file(&path) {
                let mut doc = parse_file(&path)?;
                let relative = path.strip_prefix(&root).unwrap_or(&path).to_owned();
                repair(&mut doc, &relative.display().to_string(), "", report);
                report.files += 1;
                tree.documents.insert(relative, doc);
            }
        }
    }
    Ok(tree)
}

/// Compiles every specification of `tree` (documents with a URN `$id`) into `catalog`.
pub fn compile_tree(tree: &SchemaTree, catalog: &mut Catalog, report: &mut ImportReport) {
    let documents = Arc::new(
        tree.documents.iter().map(|(path, doc)| (tree.root.join(path), without_id(doc))).collect::<BTreeMap<_, _>>(),
    );
    for (relative, doc) in &tree.documents {
        let Some(id) = doc.get("$id").and_then(Value::as_str).filter(|id| id.starts_with("urn:")) else {
            continue;
        };
        let path = tree.root.join(relative);
        let schema = documents.get(&path).cloned().unwrap_or(Value::Null);
        let retriever = TreeRetriever(documents.clone());
        let compiled = jsonschema_with_base(id, &schema, &path, retriever);
        match compiled {
            Ok(validator) => {
                report.compiled.push(id.to_owned());
                catalog.add(ProductSpec {
                    id: id.to_owned(),
                    aliases: Vec::new(),
                    name: doc.get("title").and_then(Value::as_str).unwrap_or(id).trim().to_owned(),
                    short_name: short_name(id),
                    interfaces: interfaces(id),
                    required_place_roles: Vec::new(),
                    orderable: !id.ends_with(":inventory"),
                    required_product_relationships: Vec::new(),
                    max_term_months: 60,
                    provisioning_seconds: 0,
                    realised_by: match crate::realisation::of(id) {
                        Some(crate::realisation::Realisation::Service(service)) => Some(service.to_owned()),
                        _ => None,
                    },
                    example: Value::Object(Default::default()),
                    schema: doc.clone(),
                    pricing: crate::Pricing::default(),
                    origin: relative.display().to_string(),
                    validator: Arc::new(validator),
                    official: None,
                });
            }
            Err(err) => report.failed.push((id.to_owned(), err.to_string())),
        }
    }
}

/// Reads, repairs and compiles the tree at `root`, adding its specifications to `catalog`.
pub fn import_tree(root: &Path, catalog: &mut Catalog) -> Result<(SchemaTree, ImportReport), SpecError> {
    let mut report = ImportReport::default();
    let tree = read_tree(root, &mut report)?;
    compile_tree(&tree, catalog, &mut report);
    Ok((tree, report))
}

/// The built-in specifications and those of every tree saved under `root` (by `lso catalog
/// import`); a built-in one stays what is sold where an imported one has the same id, with the
/// imported (official) schema validating its configurations first. With the specifications of
/// the trees that did not compile, and why.
pub fn built_in_and_saved(root: &Path) -> Result<(Catalog, Vec<(String, String)>), SpecError> {
    let mut catalog = Catalog::built_in()?;
    let mut failed = Vec::new();
    if !root.exists() {
        return Ok((catalog, failed));
    }
    let entries = std::fs::read_dir(root).map_err(|e| invalid(root, e))?;
    let mut trees: Vec<std::path::PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    trees.sort();
    for tree in trees.into_iter().filter(|p| p.is_dir()) {
        let mut imported = Catalog::default();
        let (_, report) = import_tree(&tree, &mut imported)?;
        failed.extend(report.failed);
        add_imported(&mut catalog, &imported);
    }
    Ok((catalog, failed))
}

/// Adds the specifications of `imported` to `catalog`: a new one as it is; one of a built-in
/// id as the built-in one validated by the imported (official) schema first.
pub fn add_imported(catalog: &mut Catalog, imported: &Catalog) {
    for spec in imported.specs() {
        match catalog.get(&spec.id) {
            None => catalog.add_shared(spec.clone()),
            Some(built_in) if built_in.official().is_none() => {
                let overlaid = built_in.with_official(spec);
                catalog.add(overlaid);
            }
            Some(_) => {}
        }
    }
}

impl SchemaTree {
    /// Writes the repaired documents as JSON under `target`, keeping names and layout so
    /// relative references still resolve.
    pub fn save(&self, target: &Path) -> Result<(), SpecError> {
        for (relative, doc) in &self.documents {
            let path = target.join(relative);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|e| invalid(parent, e))?;
            }
            let text = serde_json::to_string_pretty(doc).map_err(|e| invalid(&path, e))?;
            std::fs::write(&path, text).map_err(|e| invalid(&path, e))?;
        }
        Ok(())
    }
}

struct TreeRetriever(Arc<BTreeMap<PathBuf, Value>>);

impl jsonschema::Retrieve for TreeRetriever {
    fn retrieve(&self, uri: &jsonschema::Uri<String>) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let path = uri.as_str().strip_prefix("file://").ok_or_else(|| format!("not a file reference: {uri}"))?;
        let path = PathBuf::from(percent_decode(path.split('#').next().unwrap_or(path)));
        self.0.get(&path).cloned().ok_or_else(|| format!("no schema file {}", path.display()).into())
    }
}

fn jsonschema_with_base(
    id: &str,
    schema: &Value,
    path: &Path,
    retriever: TreeRetriever,
) -> Result<jsonschema::Validator, SpecError> {
    let base = format!("file://{}", percent_encode(&path.display().to_string()));
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft7)
        .should_validate_formats(true)
        .with_base_uri(base)
        .with_retriever(retriever)
        .build(schema)
        .map_err(|e| SpecError::Schema { id: id.to_owned(), reason: e.to_string() })
}

fn is_schema_file(path: &Path) -> bool {
    matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml" | "json"))
}

fn parse_file(path: &Path) -> Result<Value, SpecError> {
    let text = std::fs::read_to_string(path).map_err(|e| invalid(path, e))?;
    // Saved trees are JSON, which YAML parsers do not always take (e.g. a raw DEL in a string).
    serde_json::from_str::<Value>(&text)
        .or_else(|_| serde_saphyr::from_str::<Value>(&text))
        .map_err(|e| invalid(path, e))
}

fn invalid(path: &Path, err: impl std::fmt::Display) -> SpecError {
    SpecError::Invalid { name: path.display().to_string(), reason: err.to_string() }
}

fn without_id(doc: &Value) -> Value {
    let mut doc = doc.clone();
    if let Some(map) = doc.as_object_mut() {
        map.remove("$id");
    }
    doc
}

/// Fixes defects of the published MEF files that make a conforming validator refuse them.
fn repair(value: &mut Value, file: &str, pointer: &str, report: &mut ImportReport) {
    match value {
        Value::Object(map) => {
            if map.get("description").is_some_and(|d| !d.is_string()) {
                map.remove("description");
                report.repairs.push(format!("{file}#{pointer}: dropped a `description` that is not text"));
            }
            for keyword in ["properties", "definitions", "items", "additionalProperties", "allOf", "oneOf", "anyOf"] {
                if map.get(keyword).is_some_and(Value::is_null) {
                    map.remove(keyword);
                    report.repairs.push(format!("{file}#{pointer}: dropped an empty `{keyword}`"));
                }
            }
            if let Some(Value::Object(properties)) = map.get_mut("properties") {
                let stray: Vec<String> = properties
                    .iter()
                    .filter(|(_, v)| !v.is_object() && !v.is_boolean())
                    .map(|(k, _)| k.clone())
                    .collect();
                for name in stray {
                    properties.remove(&name);
                    report
                        .repairs
                        .push(format!("{file}#{pointer}/properties: dropped `{name}`, which is not a schema"));
                }
            }
            if let Some(Value::Array(required)) = map.get("required")
                && required.iter().any(|r| !r.is_string())
            {
                let kept: Vec<Value> = required.iter().filter(|r| r.is_string()).cloned().collect();
                map.insert("required".into(), Value::Array(kept));
                report.repairs.push(format!("{file}#{pointer}/required: dropped entries that are not names"));
            }
            for (key, child) in map.iter_mut() {
                repair(child, file, &format!("{pointer}/{key}"), report);
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter_mut().enumerate() {
                repair(child, file, &format!("{pointer}/{index}"), report);
            }
        }
        _ => {}
    }
}

fn short_name(id: &str) -> String {
    id.split(':').nth(5).unwrap_or(id).to_owned()
}

fn interfaces(id: &str) -> Vec<String> {
    let scope = id.split(':').nth(4).unwrap_or_default();
    ["sonata", "cantata"].iter().filter(|irp| scope.contains(*irp)).map(|s| s.to_string()).collect()
}

fn percent_encode(path: &str) -> String {
    path.replace('%', "%25").replace(' ', "%20")
}

fn percent_decode(path: &str) -> String {
    path.replace("%20", " ").replace("%25", "%")
}
