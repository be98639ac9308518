//! etcd as operators run it: over TLS with client certificates (made here), with
//! authentication on (enabled here through etcd's own API), reached by a user with a password.

use std::path::Path;
use std::time::Duration;

use etcd_client::{Certificate, Client, ConnectOptions, Identity, Permission, TlsOptions};
use pulse_testkit::etcd::{Etcd, EtcdTls};
use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair};

use crate::pair::{leads, one_at_a_time, only_writer_for, BUNDLED};
use pulse_testkit::{plugin_dir, wait_for, Daemon, Memcached};

/// The name etcd's certificate holds besides 127.0.0.1, which the daemons check it against.
const ETCD_NAME: &str = "etcd.test";

/// Writes a CA (`ca.pem`), etcd's certificate for 127.0.0.1 and [`ETCD_NAME`] (`etcd.pem`,
/// `etcd-key.pem`) and a client certificate (`client.pem`, `client-key.pem`) into `dir`.
fn certificates(dir: &Path) {
    let write = |name: &str, pem: String| std::fs::write(dir.join(name), pem).unwrap();
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "pulse test CA");
    write("ca.pem", ca.self_signed(&ca_key).unwrap().pem());
    let issuer = Issuer::new(ca, ca_key);
    let leaves = [
        (
            "etcd",
            vec!["127.0.0.1".to_string(), ETCD_NAME.to_string()],
            ExtendedKeyUsagePurpose::ServerAuth,
        ),
        ("client", vec!["pulse".to_string()], ExtendedKeyUsagePurpose::ClientAuth),
    ];
    for (name, names, usage) in leaves {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(names).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages.push(usage);
        write(&format!("{name}.pem"), params.signed_by(&key, &issuer).unwrap().pem());
        write(&format!("{name}-key.pem"), key.serialize_pem());
    }
}

/// Gives user `pulse` (password `s3cret`) read and write on the keys of election `pulse`, and
/// turns authentication on, as an operator would with etcdctl.
fn enable_auth(etcd: &Etcd, certificates: &Path) {
    let read = |name: &str| std::fs::read(certificates.join(name)).unwrap();
    let tls = TlsOptions::new()
        .ca_certificate(Certificate::from_pem(read("ca.pem")))
        .identity(Identity::from_pem(read("client.pem"), read("client-key.pem")));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let enabled: Result<(), etcd_client::Error> = runtime.block_on(async {
        let options = ConnectOptions::new().with_tls(tls);
        let mut client = Client::connect([etcd.endpoint.as_str()], Some(options)).await?;
        client.role_add("pulse").await?;
        client
            .role_grant_permission("pulse", Permission::read_write("pulse").with_prefix())
            .await?;
        client.user_add("pulse", "s3cret", None).await?;
        client.user_grant_role("pulse", "pulse").await?;
        client.user_add("root", "root-password", None).await?;
        client.user_grant_role("root", "root").await?;
        client.auth_enable().await?;
        Ok(())
    });
    enabled.expect("enable authentication in etcd");
}

/// A daemon named `id` whose config reaches `etcd` over TLS as user `pulse` with `password`.
fn member(plugins: &str, memcached: &Memcached, etcd: &Etcd, certificates: &Path, id: &str, password: &str) -> Daemon {
    let path = |name: &str| certificates.join(name).display().to_string();
    let config = format!(
        r#"
[cache]
write_deadline_ms = 500

[ha]
endpoints = ["{endpoint}"]
id = "{id}"
lease_ttl_s = 2
user = "pulse"
password = "{password}"

[ha.tls]
ca = "{ca}"
cert = "{cert}"
key = "{key}"
domain = "{ETCD_NAME}"
"#,
        endpoint = etcd.endpoint,
        ca = path("ca.pem"),
        cert = path("client.pem"),
        key = path("client-key.pem"),
    );
    let file = certificates.join(format!("pulse-{id}.toml"));
    std::fs::write(&file, config).unwrap();
    Daemon::serve(
        plugins,
        &memcached.addr,
        &["--config", file.to_str().unwrap(), "--interval", "0.5", "--ttl", "5"],
    )
}

#[test]
fn a_daemon_reaches_etcd_over_tls_as_a_user_and_a_wrong_password_is_said_plainly() {
    let _serial = one_at_a_time();
    let certificates_dir = tempfile::tempdir().unwrap();
    let certs = certificates_dir.path();
    certificates(certs);
    let etcd = Etcd::start_tls(EtcdTls {
        ca: certs.join("ca.pem"),
        cert: certs.join("etcd.pem"),
        key: certs.join("etcd-key.pem"),
    });
    enable_auth(&etcd, certs);
    let memcached = Memcached::start();
    let plugins = plugin_dir(&BUNDLED);
    let dir = plugins.path().to_str().unwrap();

    let a = member(dir, &memcached, &etcd, certs, "a", "s3cret");
    leads(&memcached, "a", Duration::from_secs(30));
    assert!(a.log().contains("ha: leader of etcd election \"pulse\""), "{}", a.log());

    // A daemon with the wrong password is refused by etcd, says why, and never writes.
    let b = member(dir, &memcached, &etcd, certs, "b", "wrong");
    let line = wait_for("b to say it was refused", Duration::from_secs(30), || {
        b.log()
            .lines()
            .find(|line| line.contains("ha: etcd: "))
            .map(str::to_string)
    });
    assert!(line.contains("authentication failed"), "{line}");
    only_writer_for(&memcached, "a", Duration::from_secs(2));
}
