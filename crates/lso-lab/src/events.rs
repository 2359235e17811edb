//! Every notification the MEF SDK defines, and a record of the ones the tests receive.
//!
//! The event types are read from the SDK's notification files (`*Notification*` under
//! `Sonata`, `Cantata`, `Legato` and `Interlude`): each listener path of a file is one type,
//! posted under the base path its `servers` URL declares. When `MEF_EVENTS_SEEN` names a
//! directory, the tests' listener appends every event it accepts to a file there
//! ([`record`]), and `cargo xtask events DIR` ([`Tally`]) checks that every type was
//! received and that every event received is valid against its file.

use crate::contract::Contract;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The environment variable naming the directory events are recorded in.
pub const SEEN_VARIABLE: &str = "MEF_EVENTS_SEEN";

/// One notification API file of the SDK.
pub struct NotificationFile {
    /// Its path under `shared/mef`.
    pub name: String,
    /// The base path of its listeners (from its `servers` URL), without a trailing slash.
    pub base: String,
    /// The event types it defines (its listener paths, `/listener/{type}`).
    pub types: Vec<String>,
    /// The file as a contract.
    pub contract: Contract,
}

/// The notification files of the SDK under `mef`, in path order.
pub fn notification_files(mef: &Path) -> Vec<NotificationFile> {
    let mut names = Vec::new();
    for reference_point in ["Sonata", "Cantata", "Legato", "Interlude"] {
        collect(&mef.join(reference_point), &mut names);
    }
    names.sort();
    names
        .into_iter()
        .map(|path| {
            let name = path.strip_prefix(mef).unwrap_or(&path).to_string_lossy().into_owned();
            let contract = Contract::from_file(&path, &name);
            let document = contract.document();
            let base = base_path(&document["servers"][0]);
            let types = document["paths"]
                .as_object()
                .into_iter()
                .flat_map(|paths| paths.keys())
                .filter_map(|path| path.strip_prefix("/listener/"))
                .map(str::to_owned)
                .collect();
            NotificationFile { name, base, types, contract }
        })
        .collect()
}

fn collect(dir: &Path, into: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            collect(&path, into);
        } else if name.contains("Notification") && (name.ends_with(".yaml") || name.ends_with(".yml")) {
            into.push(path);
        }
    }
}

/// The path of a `servers` entry's URL, its variables replaced by their defaults and the host
/// left out.
fn base_path(server: &Value) -> String {
    let mut url = server["url"].as_str().unwrap_or_default().trim().to_owned();
    if let Some(variables) = server["variables"].as_object() {
        for (name, variable) in variables {
            if name != "serverBase" && name != "server" && name != "port" {
                url = url.replace(&format!("{{{name}}}"), variable["default"].as_str().unwrap_or_default());
            }
        }
    }
    let path = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest);
    let path = path.find('/').map_or("", |slash| &path[slash..]);
    path.trim_end_matches('/').to_owned()
}

/// Appends the event `body` received at `path` to this process's file in the directory
/// [`SEEN_VARIABLE`] names, when it names one. Each record is one line written at once.
pub fn record(path: &str, body: &str) {
    let Some(dir) = std::env::var_os(SEEN_VARIABLE) else { return };
    let dir = PathBuf::from(dir);
    let line = json!({"path": path, "body": body}).to_string() + "\n";
    let file = dir.join(format!("{}.jsonl", std::process::id()));
    let appended = std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::OpenOptions::new().create(true).append(true).open(&file)?.write_all(line.as_bytes()));
    if let Err(error) = appended {
        panic!("cannot record the event in {}: {error}", file.display());
    }
}

/// The events recorded in a directory, attributed to the SDK's files.
pub struct Tally {
    /// Per file and event type, how many events were received.
    pub received: BTreeMap<(String, String), usize>,
    /// Events whose path is under no file's base, or whose type the file does not define.
    pub unattributed: Vec<String>,
    /// Events that are not valid against their file, with the reasons.
    pub invalid: Vec<String>,
    /// Every type of every file, with its file.
    pub defined: Vec<(String, String)>,
}

impl Tally {
    /// Reads every record in `dir` and checks each against `files`.
    pub fn read(dir: &Path, files: &[NotificationFile]) -> std::io::Result<Tally> {
        let mut tally = Tally {
            received: BTreeMap::new(),
            unattributed: Vec::new(),
            invalid: Vec::new(),
            defined: files.iter().flat_map(|f| f.types.iter().map(|t| (f.name.clone(), t.clone()))).collect(),
        };
        let mut validators = BTreeMap::new();
        for entry in std::fs::read_dir(dir)? {
            for line in std::fs::read_to_string(entry?.path())?.lines() {
                let record: Value = serde_json::from_str(line).map_err(std::io::Error::other)?;
                let received = record["path"].as_str().unwrap_or_default();
                let path = format!("/{}", received.split('?').next().unwrap_or_default().trim_start_matches('/'));
                let Some((file, kind)) = files.iter().find_map(|file| {
                    let listener = format!("{}/listener/", file.base);
                    let kind = path.split_once(&listener)?.1;
                    file.types.iter().any(|t| t == kind).then(|| (file, kind.to_owned()))
                }) else {
                    tally.unattributed.push(path);
                    continue;
                };
                let body: Value =
                    serde_json::from_str(record["body"].as_str().unwrap_or_default()).unwrap_or(Value::Null);
                let validator = validators
                    .entry((file.name.clone(), kind.clone()))
                    .or_insert_with(|| file.contract.request_body(&format!("/listener/{kind}"), "post"));
                let errors: Vec<String> =
                    validator.iter_errors(&body).map(|e| format!("{e} at {}", e.instance_path())).collect();
                if !errors.is_empty() {
                    tally.invalid.push(format!("{kind} ({}): {}", file.name, errors.join("; ")));
                }
                *tally.received.entry((file.name.clone(), kind)).or_default() += 1;
            }
        }
        Ok(tally)
    }

    /// The defined types no event was received of.
    pub fn missing(&self) -> Vec<&(String, String)> {
        self.defined.iter().filter(|key| !self.received.contains_key(*key)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sdk_defines_115_event_types_under_the_bases_of_its_files_and_a_tally_checks_what_came() {
        let files = notification_files(&crate::shared_mef());
        assert_eq!(files.len(), 21);
        assert_eq!(files.iter().map(|f| f.types.len()).sum::<usize>(), 115);
        let base = |name: &str| files.iter().find(|f| f.name.contains(name)).map(|f| f.base.clone()).unwrap();
        assert_eq!(
            base("Sonata/productApi/serviceability/offeringQualification"),
            "/mefApi/sonata/productOfferingQualificationNotification/v7"
        );
        assert_eq!(base("Legato/serviceApi/catalog"), "/mefApi/legato/serviceCatalog/v4");
        assert_eq!(base("Interlude/serviceApi/pm"), "/mefApi/interlude/performanceNotification/v2");

        let dir = tempfile::tempdir().unwrap();
        let records = [
            json!({"path": "mefApi/legato/serviceInventoryNotification/v5/listener/serviceCreateEvent", "body": "{}"}),
            json!({"path": "/somewhere/listener/serviceCreateEvent", "body": "{}"}),
        ];
        let lines: Vec<String> = records.iter().map(Value::to_string).collect();
        std::fs::write(dir.path().join("1.jsonl"), lines.join("\n")).unwrap();
        let tally = Tally::read(dir.path(), &files).unwrap();
        let inventory = "Legato/serviceApi/inventory/serviceInventoryNotification.api.yaml".to_owned();
        assert_eq!(tally.received.get(&(inventory, "serviceCreateEvent".to_owned())), Some(&1));
        assert_eq!(tally.invalid.len(), 1, "an empty event is not valid: {:?}", tally.invalid);
        assert_eq!(tally.unattributed, ["/somewhere/listener/serviceCreateEvent"]);
        assert_eq!(tally.missing().len(), 114);
    }
}
