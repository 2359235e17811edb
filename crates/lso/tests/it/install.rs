//! What an operator installs: the systemd unit passes `systemd-analyze verify` (with the built
//! binary in its place), and the example configuration loads.

use std::path::PathBuf;

fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn the_systemd_unit_verifies() {
    let unit = std::fs::read_to_string(repository().join("deploy/lso.service")).unwrap();
    assert!(unit.contains("ExecStart=/usr/local/bin/lso serve --config /etc/lso/lso.toml"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lso.service");
    std::fs::write(&path, unit.replace("/usr/local/bin/lso", env!("CARGO_BIN_EXE_lso"))).unwrap();
    let verified = std::process::Command::new("systemd-analyze").arg("verify").arg(&path).output().unwrap();
    let said = String::from_utf8_lossy(&verified.stderr);
    assert!(verified.status.success() && said.trim().is_empty(), "{said}");
}

#[test]
fn the_example_configuration_loads() {
    let config = lso_server::Config::load(Some(&repository().join("deploy/lso.toml")), std::iter::empty()).unwrap();
    assert_eq!(config.public_url, "https://lso.example.net");
    assert_eq!(config.trusted_issuers[0].claims.buyers, "lso_buyers");
    assert!(config.tls.server().is_some());
}
