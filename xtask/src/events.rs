//! `cargo xtask events DIR`: the count of the notifications the test suite received (recorded
//! in `DIR` by the tests' listener, see `lso_lab::events`), per type each SDK notification file
//! defines. Fails when a type was never received, when an event is not valid against its file,
//! or when an event was posted where no file defines it.

use lso_lab::events::{Tally, notification_files};
use std::path::Path;

/// Whether an event posted at `path` is one of `lso`'s own, outside the SDK: Allegro's
/// notifications (an API `lso` defines), Product Inventory's (MEF 116 defines none) and the
/// threshold crossing alert, sent only to the hubs that ask for it (`docs/events.md`).
fn lso_own(path: &str) -> bool {
    path.starts_with("/mefApi/allegro/")
        || path.contains("/productInventoryNotification/")
        || path.ends_with("/listener/performanceThresholdCrossingEvent")
}

pub fn run(dir: &str) -> anyhow::Result<()> {
    let files = notification_files(&lso_lab::shared_mef());
    let tally = Tally::read(Path::new(dir), &files)?;
    let mut previous = "";
    for (file, kind) in &tally.defined {
        if file != previous {
            println!("{file}");
            previous = file;
        }
        let count = tally.received.get(&(file.clone(), kind.clone())).copied().unwrap_or(0);
        println!("  {count:>6}  {kind}");
    }
    let missing = tally.missing();
    let received: usize = tally.received.values().sum();
    println!(
        "{} event types defined in {} files; {} received at least once ({received} events); {} missing",
        tally.defined.len(),
        files.len(),
        tally.defined.len() - missing.len(),
        missing.len()
    );
    let mut faults = Vec::new();
    faults.extend(missing.iter().map(|(file, kind)| format!("never received: {kind} ({file})")));
    faults.extend(tally.invalid.iter().map(|reason| format!("not valid: {reason}")));
    let (own, unattributed): (Vec<&String>, Vec<&String>) = tally.unattributed.iter().partition(|p| lso_own(p));
    println!("{} events of lso's own (Allegro, Product Inventory, threshold crossing alerts)", own.len());
    faults.extend(unattributed.iter().map(|path| format!("posted where no file defines it: {path}")));
    for fault in &faults {
        eprintln!("{fault}");
    }
    anyhow::ensure!(faults.is_empty(), "{} faults in the notifications", faults.len());
    Ok(())
}
