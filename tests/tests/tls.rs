//! TLS against a real server with a test CA: verify-full passes with the right CA file, a wrong
//! CA, a host name the certificate does not list and a server without TLS are each refused with
//! the check that failed and its fix, in the core and as one CLI line (exit 7).

use std::path::Path;
use std::process::Command;

use ncy_core::db::{ConnectOptions, Db, Target};
use ncy_core::Error;
use ncy_tests::cli::{fails, Cli};
use ncy_tests::cluster::{Cluster, Options};

struct Stop(Cluster);

impl Drop for Stop {
    fn drop(&mut self) {
        self.0.stop();
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, a second unrelated CA, and a server certificate for `localhost` signed by the first.
fn certificates(dir: &Path) {
    for ca in ["ca", "other"] {
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                &format!("/CN=ncy test {ca}"),
                "-keyout",
                &format!("{ca}.key"),
                "-out",
                &format!("{ca}.pem"),
            ],
        );
    }
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ],
    );
    std::fs::write(dir.join("san.ext"), "subjectAltName=DNS:localhost\n").expect("ext");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "san.ext",
            "-out",
            "server.crt",
        ],
    );
}

async fn connect(url: &str) -> ncy_core::Result<Db> {
    Db::connect(
        &Target::Postgres(url.to_owned()),
        &ConnectOptions {
            max_connections: 2,
            ..ConnectOptions::default()
        },
    )
    .await
}

fn unreachable_reason(r: ncy_core::Result<Db>) -> String {
    match r {
        Err(Error::ServerUnreachable { reason, source, .. }) => {
            assert!(source.is_some(), "the driver's error is kept as the source");
            reason
        }
        Err(e) => panic!("expected a TLS refusal, got {e:?}"),
        Ok(_) => panic!("expected a TLS refusal, got a connection"),
    }
}

#[tokio::test]
async fn verify_full_with_a_test_ca_and_each_failed_check_named() {
    let c = Stop(
        Cluster::start(Options {
            stat_statements: false,
            archive: false,
            fast: true,
        })
        .expect("cluster"),
    );
    let certs = tempfile::tempdir().expect("tempdir");
    certificates(certs.path());
    // The server's key and certificate, owned by the server's user.
    for f in ["server.crt", "server.key"] {
        std::fs::copy(certs.path().join(f), c.0.dir.join(f)).expect("copy");
    }
    if unsafe { libc::geteuid() } == 0 {
        let st = Command::new("chown")
            .args(["postgres:postgres"])
            .arg(c.0.dir.join("server.crt"))
            .arg(c.0.dir.join("server.key"))
            .status()
            .expect("chown");
        assert!(st.success());
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        c.0.dir.join("server.key"),
        std::fs::Permissions::from_mode(0o600),
    )
    .expect("chmod");
    {
        use sqlx::Connection as _;
        let mut conn = sqlx::PgConnection::connect(&c.0.url("postgres"))
            .await
            .expect("superuser");
        for sql in [
            format!(
                "ALTER SYSTEM SET ssl_cert_file = '{}'",
                c.0.dir.join("server.crt").display()
            ),
            format!(
                "ALTER SYSTEM SET ssl_key_file = '{}'",
                c.0.dir.join("server.key").display()
            ),
            "ALTER SYSTEM SET ssl = on".into(),
            "SELECT pg_reload_conf()".into(),
        ] {
            sqlx::raw_sql(&sql).execute(&mut conn).await.expect(&sql);
        }
        // The reload is asynchronous: wait until a new session sees TLS on.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let mut fresh = sqlx::PgConnection::connect(&c.0.url("postgres"))
                .await
                .expect("connect");
            let on: (String,) = sqlx::query_as("SHOW ssl")
                .fetch_one(&mut fresh)
                .await
                .expect("show ssl");
            if on.0 == "on" {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "ssl never turned on");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
    let ca = certs.path().join("ca.pem");
    let other = certs.path().join("other.pem");
    let url = |host: &str, ca: &Path| {
        format!(
            "postgres://postgres@{host}:{}/postgres?sslmode=verify-full&sslrootcert={}",
            c.0.port,
            ca.display()
        )
    };

    // The right CA and a host the certificate names: connected, and over TLS.
    let db = connect(&url("localhost", &ca)).await.expect("verify-full");
    let r = db
        .query(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .expect("pg_stat_ssl");
    assert!(r[0].bool("ssl").expect("ssl"), "the session is encrypted");
    db.close().await;

    // Another CA: the issuer check fails, and the fix names sslrootcert.
    let why = unreachable_reason(connect(&url("localhost", &other)).await);
    assert!(
        why.contains("issuer") && why.contains("sslrootcert"),
        "{why}"
    );

    // A host the certificate does not list.
    let why = unreachable_reason(connect(&url("127.0.0.1", &ca)).await);
    assert!(
        why.contains("host name") && why.contains("verify-ca"),
        "{why}"
    );

    // A server without TLS, asked for verify-full.
    let plain = Stop(
        Cluster::start(Options {
            stat_statements: false,
            archive: false,
            fast: true,
        })
        .expect("plain cluster"),
    );
    let why = unreachable_reason(
        connect(&format!(
            "postgres://postgres@localhost:{}/postgres?sslmode=verify-full",
            plain.0.port
        ))
        .await,
    );
    assert!(
        why.contains("does not offer TLS") && why.contains("sslmode=disable"),
        "{why}"
    );

    // The CLI: one line, exit 7.
    let cli = Cli::new(vec!["--database-url".into(), url("localhost", &other)]);
    fails(&cli.run(&["users", "list"]), 7, "issuer");
}
