//! `bench path`: path computation and reservation on a generated topology of `--nodes`
//! elements and `--links` links (a random spanning tree plus random links, 10 Gbit/s each,
//! one UNI per element), timed per request.

use lso_icm::{Network, Request, Topology};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::Instant;

/// Generates the topology, reserves `requests` random EVPL-like services of 10 Mbit/s one by
/// one, then releases them, and prints the time per request.
pub fn run(nodes: usize, links: usize, requests: usize) -> anyhow::Result<()> {
    let mut rng = StdRng::seed_from_u64(7);
    let mut ports: Vec<Vec<String>> = (0..nodes).map(|_| vec!["uni".to_owned()]).collect();
    let mut text = String::new();
    for link in 0..links.max(nodes - 1) {
        let (a, z) = if link < nodes - 1 {
            (rng.random_range(0..=link), link + 1)
        } else {
            let a = rng.random_range(0..nodes);
            let z = (a + rng.random_range(1..nodes)) % nodes;
            (a, z)
        };
        let (pa, pz) = (format!("p{}", ports[a].len()), format!("p{}", ports[z].len()));
        ports[a].push(pa.clone());
        ports[z].push(pz.clone());
        text.push_str(&format!("[[link]]\na = \"n{a}:{pa}\"\nz = \"n{z}:{pz}\"\ncapacity_mbps = 10000\n"));
    }
    for (i, element_ports) in ports.iter().enumerate() {
        text.push_str(&format!("[[element]]\nname = \"n{i}\"\nports = {element_ports:?}\n"));
        text.push_str(&format!(
            "[[interface]]\nname = \"u{i}\"\nport = \"n{i}:uni\"\nkind = \"uni\"\ncapacity_mbps = 100000\n"
        ));
    }
    let mut network = Network::new(Topology::parse(&text)?);
    let mut times = Vec::with_capacity(requests);
    let mut hops = 0;
    for service in 0..requests {
        let a = rng.random_range(0..nodes);
        let z = (a + rng.random_range(1..nodes)) % nodes;
        let request = Request {
            service: format!("s{service}"),
            interfaces: vec![format!("u{a}"), format!("u{z}")],
            bandwidth_mbps: 10,
            vlans: Default::default(),
            routed: Default::default(),
            leaves: Default::default(),
        };
        let started = Instant::now();
        let reservation = network.reserve(&request)?;
        times.push(started.elapsed());
        hops += reservation.hops.len();
    }
    let release = Instant::now();
    for service in 0..requests {
        network.release(&format!("s{service}"));
    }
    let release = release.elapsed();
    anyhow::ensure!(network.is_empty(), "release did not return the network to its initial state");
    times.sort_unstable();
    let at = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
    let mean = times.iter().sum::<std::time::Duration>() / times.len() as u32;
    println!(
        "path computation + reservation on {nodes} elements, {} links: {requests} requests, {:.1} hops on average; \
         mean {:.3} ms, p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms; release of all {:.1} ms",
        network.topology().links.len(),
        hops as f64 / requests as f64,
        mean.as_secs_f64() * 1e3,
        at(0.5).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        at(1.0).as_secs_f64() * 1e3,
        release.as_secs_f64() * 1e3
    );
    Ok(())
}
