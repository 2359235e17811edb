//! Project automation. `cargo xtask bench order [--seconds N] [--orders N]` measures product
//! order creation and end-to-end fulfilment on a release build of `lso`, next to the machine's
//! ceiling for the same workload (a bare HTTP handler group-committing the same JSON to
//! SQLite), and prints the figures; with `--tls`, creation over HTTPS against plain HTTP on
//! two fresh Sellers, and the ratio; with `--postgres [--nodes N]`, creation on PostgreSQL
//! (a throw-away cluster) against a bare handler inserting the same JSON there, on 1 to N nodes; with `--tokens`, creation with RS256 and ES256 tokens of a
//! JWKS issuer against HS256 tokens of a shared-secret one; with `--traces`, creation with every
//! span exported over OTLP against none. `cargo xtask bench path` times ICM path computation and
//! reservation on a generated 1,000-element, 3,000-link topology. `cargo xtask bench evpl
//! [--orders N]` and `cargo xtask bench evpl-concurrent [--orders N] [--elements N]` time EVPL
//! orders through every layer onto Open vSwitch elements (root needed). `cargo xtask bench
//! address [--thousands N]` times address validation against a generated book of N thousand
//! addresses (a million by default). `cargo xtask bench poq` measures qualifications per second.
//! `cargo xtask bench billing [--thousands N]` times a billing run over N thousand products.
//! `cargo xtask bench inventory [--thousands N] [--postgres]` times listing, filtering and
//! retrieving in a Buyer's inventory of N thousand products (a million by default).
//! `cargo xtask bench internet [--orders N] [--services N]` times Basic Internet Access orders
//! until the customer reaches the Internet host through an FRRouting router, and the router's
//! read-back with N services (root needed). `cargo xtask bench allegro [--changes N]` times a customer's CIR changes over Allegro onto
//! Open vSwitch elements (root needed). `cargo xtask bench multi-domain [--orders N]
//! [--concurrent N]` times EVPLs bought across two providers' Open vSwitch networks.
//! `cargo xtask bench soak [--minutes N]` loads `lso` at half its measured maximum for N minutes
//! (30 by default) and prints its resident memory at the start and the end, and every error.
//! `cargo xtask architecture` checks the crate graph against the invariants of `ARCHITECTURE.md`.
//! `cargo xtask events DIR` counts the notifications the test suite received per SDK event type
//! and fails on any type never received or any event not valid against its file.

mod address;
mod architecture;
mod bench;
mod billing;
mod events;
mod inventory;
mod network;
mod path;
mod pg;
mod poq;
mod raw;
mod soak;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["bench", "order", rest @ ..] => bench::order(&bench::Options::parse(rest)?),
        ["bench", "path"] => path::run(1000, 3000, 2000),
        ["bench", "billing", rest @ ..] => {
            runtime()?.block_on(billing::run(usize::from(flag(rest, "--thousands", 100)?) * 1000))
        }
        ["bench", "poq", rest @ ..] => runtime()?
            .block_on(poq::run(u64::from(flag(rest, "--seconds", 20)?), usize::from(flag(rest, "--clients", 16)?))),
        ["bench", "inventory", rest @ ..] => {
            let count = usize::from(flag(rest, "--thousands", 1000)?) * 1000;
            runtime()?.block_on(inventory::run(count, rest.contains(&"--postgres")))
        }
        ["bench", "soak", rest @ ..] => runtime()?.block_on(soak::run(u64::from(flag(rest, "--minutes", 30)?))),
        ["bench", "address", rest @ ..] => address::run(usize::from(flag(rest, "--thousands", 1000)?) * 1000, 30_000),
        ["bench", "evpl", rest @ ..] => runtime()?.block_on(network::evpl_one_by_one(flag(rest, "--orders", 20)?)),
        ["bench", "multi-domain", rest @ ..] => {
            runtime()?.block_on(network::multi_domain(flag(rest, "--orders", 10)?, flag(rest, "--concurrent", 100)?))
        }
        ["bench", "internet", rest @ ..] => {
            runtime()?.block_on(network::internet(flag(rest, "--orders", 20)?, flag(rest, "--services", 1000)?))
        }
        ["bench", "allegro", rest @ ..] => runtime()?.block_on(network::allegro_changes(flag(rest, "--changes", 40)?)),
        ["bench", "evpl-concurrent", rest @ ..] => runtime()?.block_on(network::evpl_concurrent(
            flag(rest, "--orders", 200)?,
            usize::from(flag(rest, "--elements", 10)?),
        )),
        ["raw-server", listen, database] => raw::serve(listen, database),
        ["raw-server-postgres", listen, url] => raw::serve_postgres(listen, url),
        ["architecture"] => architecture::run(),
        ["events", dir] => events::run(dir),
        _ => {
            eprintln!(
                "usage: cargo xtask bench order [--seconds N] [--orders N] [--buyers N] [--tls | --tokens | --traces | --postgres [--nodes N]]\n       \
                 cargo xtask bench path\n       \
                 cargo xtask bench evpl [--orders N] | cargo xtask bench evpl-concurrent [--orders N] [--elements N]\n       \
                 cargo xtask bench address [--thousands N] | cargo xtask bench poq [--seconds N] [--clients N]\n       \
                 cargo xtask bench billing [--thousands N] | cargo xtask bench allegro [--changes N]\n       \
                 cargo xtask bench inventory [--thousands N] [--postgres] | cargo xtask bench soak [--minutes N]\n       \
                 cargo xtask bench internet [--orders N] [--services N]\n       \
                 cargo xtask bench multi-domain [--orders N] [--concurrent N] | cargo xtask architecture\n       \
                 cargo xtask events DIR"
            );
            std::process::exit(2);
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

/// The value of `--name N` in `args`, or `default`.
fn flag(args: &[&str], name: &str, default: u16) -> anyhow::Result<u16> {
    match args.iter().position(|a| *a == name) {
        Some(i) => Ok(args.get(i + 1).ok_or_else(|| anyhow::anyhow!("{name} needs a value"))?.parse()?),
        None => Ok(default),
    }
}
