//! Project automation. `cargo xtask bench order [--seconds N] [--orders N]` measures product
//! order creation and end-to-end fulfilment on a release build of `lso`, next to the machine's
//! ceiling for the same workload (a bare HTTP handler group-committing the same JSON to
//! SQLite), and prints the figures. `cargo xtask bench path` times ICM path computation and
//! reservation on a generated 1,000-element, 3,000-link topology.

mod bench;
mod path;
mod raw;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["bench", "order", rest @ ..] => bench::order(&bench::Options::parse(rest)?),
        ["bench", "path"] => path::run(1000, 3000, 2000),
        ["raw-server", listen, database] => raw::serve(listen, database),
        _ => {
            eprintln!(
                "usage: cargo xtask bench order [--seconds N] [--orders N] [--buyers N] | cargo xtask bench path"
            );
            std::process::exit(2);
        }
    }
}
