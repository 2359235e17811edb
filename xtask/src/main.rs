//! Project automation. `cargo xtask bench order [--seconds N] [--orders N]` measures product
//! order creation and end-to-end fulfilment on a release build of `lso`, next to the machine's
//! ceiling for the same workload (a bare HTTP handler group-committing the same JSON to
//! SQLite), and prints the figures.

mod bench;
mod raw;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["bench", "order", rest @ ..] => bench::order(&bench::Options::parse(rest)?),
        ["raw-server", listen, database] => raw::serve(listen, database),
        _ => {
            eprintln!("usage: cargo xtask bench order [--seconds N] [--orders N] [--buyers N]");
            std::process::exit(2);
        }
    }
}
