//! `bench order --postgres [--nodes N]`: order creation on PostgreSQL, on a throw-away cluster
//! (`scripts/postgres`, with fsync on, as a production database runs):
//!
//! 1. ceiling: a bare handler inserting each POSTed body into PostgreSQL (one committed INSERT
//!    per request on a pool of 16 connections, as `lso`'s store has), loaded like `lso`;
//! 2. `lso serve` on 1, 2, … `N` nodes sharing one fresh database, the Buyers spread over the
//!    nodes, each count measured for the same time; the ratio of each to the ceiling.

use crate::bench::{Load, Options, Process, Run, bare, bench_dir, start_node, workspace};
use anyhow::Context;
use axum::body::Bytes;
use std::process::Command;
use std::time::{Duration, Instant};

/// The throw-away cluster, stopped when dropped.
pub(crate) struct Cluster {
    dir: String,
    server: String,
}

impl Cluster {
    pub(crate) fn start() -> anyhow::Result<Cluster> {
        let output = Command::new(workspace().join("scripts/postgres")).env("LSO_POSTGRES_FSYNC", "on").output()?;
        anyhow::ensure!(
            output.status.success(),
            "PostgreSQL did not start: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let line = String::from_utf8(output.stdout)?;
        let (dir, server) = line.trim().split_once(' ').context("scripts/postgres printed no connection")?;
        Ok(Cluster { dir: dir.to_owned(), server: server.to_owned() })
    }

    /// Vacuums and analyses the database `url` (what autovacuum does to a table that has held
    /// its rows a while: statistics, and index-only reads without visiting each row).
    pub(crate) async fn vacuum(url: &str) -> anyhow::Result<()> {
        let connection = lso_transport::postgres::connection(url, None)?;
        let (client, connection) = tokio_postgres::connect(&connection.url, connection.tls).await?;
        tokio::spawn(connection);
        client.batch_execute("VACUUM (ANALYZE)").await?;
        Ok(())
    }

    pub(crate) async fn database(&self, name: &str) -> anyhow::Result<String> {
        Ok(lso_store::PgStore::scratch_database(&self.server, name).await?)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(workspace().join("scripts/postgres")).args(["stop", &self.dir]).status();
    }
}

/// Runs the ceiling and `lso` on 1 ..= `options.nodes` nodes, and prints the figures.
pub async fn order(options: &Options, body: Bytes) -> anyhow::Result<()> {
    let cluster = Cluster::start()?;
    let url = cluster.database("bench_raw").await?;
    let ceiling =
        bare(options, body.clone(), &["raw-server-postgres".as_ref(), "127.0.0.1:0".as_ref(), url.as_ref()]).await?;
    ceiling.print("ceiling: bare handler + PostgreSQL INSERT");
    let mut curve = Vec::new();
    for nodes in 1..=options.nodes.max(1) {
        let run = on_nodes(options, body.clone(), &cluster, nodes).await?;
        run.print(&format!("lso on PostgreSQL, {nodes} node(s): POST /productOrder"));
        println!(
            "  ratio to the ceiling: throughput {:.2}, p99 {:.2}",
            run.throughput() / ceiling.throughput(),
            run.percentile(0.99).as_secs_f64() / ceiling.percentile(0.99).as_secs_f64()
        );
        curve.push(format!("{nodes}: {:.0}/s", run.throughput()));
    }
    println!("nodes → orders/s: {}", curve.join(", "));
    Ok(())
}

/// `nodes` fresh `lso serve` processes on one fresh database, loaded for `options.seconds`.
async fn on_nodes(options: &Options, body: Bytes, cluster: &Cluster, nodes: usize) -> anyhow::Result<Run> {
    let url = cluster.database(&format!("bench_{nodes}_nodes")).await?;
    let settings = [("LSO_DATABASE_URL", url)];
    let (first, address, tokens, _) = start_node(&format!("pg-{nodes}-0"), options.buyers, &settings, None, None)?;
    let keys = std::fs::read(bench_dir(&format!("pg-{nodes}-0")).join("signing-keys.json"))?;
    let mut running: Vec<Process> = vec![first];
    let mut urls = vec![address];
    for n in 1..nodes {
        let (process, address, _, _) = start_node(&format!("pg-{nodes}-{n}"), 0, &settings, None, Some(&keys))?;
        running.push(process);
        urls.push(address);
    }
    let path = "/mefApi/sonata/productOrderingManagement/v10/productOrder";
    let urls: Vec<String> = urls.iter().map(|address| format!("http://{address}{path}")).collect();
    let deadline = Instant::now() + Duration::from_secs(options.seconds);
    let (run, _) = Load { urls: &urls, tokens: &tokens, body, deadline, budget: usize::MAX, every: None }.run().await;
    drop(running);
    Ok(run)
}
