//! A throw-away certificate authority for tests: its certificate and the certificates it
//! issues are written as PEM files in a directory the test owns.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use std::path::{Path, PathBuf};

/// A certificate and its key, as files.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The certificate (PEM).
    pub cert: PathBuf,
    /// Its private key (PEM).
    pub key: PathBuf,
}

/// A test certificate authority.
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    dir: PathBuf,
    name: String,
}

impl TestCa {
    /// A new CA called `name`, its certificate written to `dir/{name}-ca.pem`.
    pub fn new(dir: &Path, name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("no names to check");
        params.distinguished_name.push(DnType::CommonName, format!("{name} test CA"));
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let key = KeyPair::generate().expect("aws-lc-rs makes a key");
        let cert = params.self_signed(&key).expect("a CA certificate signs");
        let ca = TestCa { issuer: Issuer::new(params, key), dir: dir.to_owned(), name: name.to_owned() };
        std::fs::write(ca.ca(), cert.pem()).expect("the test directory is writable");
        ca
    }

    /// The CA certificate's file.
    pub fn ca(&self) -> PathBuf {
        self.dir.join(format!("{}-ca.pem", self.name))
    }

    /// A certificate for `names` (DNS names or IP addresses), good for servers and clients,
    /// written to `dir/{stem}.pem` and `dir/{stem}.key`.
    pub fn issue(&self, stem: &str, names: &[&str]) -> Issued {
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).expect("valid names");
        params.distinguished_name.push(DnType::CommonName, stem);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
        let key = KeyPair::generate().expect("aws-lc-rs makes a key");
        let cert = params.signed_by(&key, &self.issuer).expect("the CA signs");
        let issued = Issued { cert: self.dir.join(format!("{stem}.pem")), key: self.dir.join(format!("{stem}.key")) };
        std::fs::write(&issued.cert, cert.pem()).expect("the test directory is writable");
        std::fs::write(&issued.key, key.serialize_pem()).expect("the test directory is writable");
        issued
    }
}
