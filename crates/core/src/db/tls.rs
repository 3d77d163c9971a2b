//! TLS by default: a URL to a host off this machine that names no `sslmode` connects with
//! `sslmode=verify-full` against the system CA store (or the URL's `sslrootcert`); an explicit
//! `disable`, `allow` or `prefer` to such a host is honoured with a warning; certificate
//! failures say which check failed and how to fix it.

use std::net::IpAddr;

use crate::error::Error;

/// The `sslmode` values that may send the password and data in clear text, or to an impostor.
const WEAK: &[&str] = &["disable", "allow", "prefer"];

/// True for a host on this machine: loopback addresses, `localhost`, a unix-socket directory.
pub fn is_local_host(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.is_empty()
        || h.starts_with('/')
        || h.eq_ignore_ascii_case("localhost")
        || h.parse::<IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

fn host_and_mode(u: &url::Url) -> (String, Option<String>) {
    let mut host = u.host_str().unwrap_or_default().to_owned();
    let mut mode = None;
    for (k, v) in u.query_pairs() {
        match k.as_ref() {
            "sslmode" => mode = Some(v.into_owned()),
            // libpq's `host=/run/postgresql` query form for unix sockets.
            "host" => host = v.into_owned(),
            _ => {}
        }
    }
    (host, mode)
}

/// The URL with the TLS default applied: `sslmode=verify-full` added when the host is not on
/// this machine and the URL names no `sslmode`.
pub fn with_default_sslmode(url: &str) -> String {
    let Ok(mut u) = url::Url::parse(url) else {
        return url.to_owned();
    };
    let (host, mode) = host_and_mode(&u);
    if mode.is_some() || is_local_host(&host) {
        return url.to_owned();
    }
    u.query_pairs_mut().append_pair("sslmode", "verify-full");
    u.to_string()
}

/// A warning for a URL that explicitly lets a remote connection go without verified TLS.
pub fn weak_tls_warning(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    let (host, mode) = host_and_mode(&u);
    let mode = mode?;
    if is_local_host(&host) || !WEAK.contains(&mode.as_str()) {
        return None;
    }
    Some(format!(
        "sslmode={mode} to {host}: the connection may be unencrypted or reach an impostor, and \
         the database password crosses the network unprotected; use sslmode=verify-full (the \
         default) with sslrootcert=CA.pem if the server's CA is not in the system store"
    ))
}

/// Explains a TLS failure: which check failed and how to fix it.
pub fn explain(reason: &str, host: &str) -> String {
    let r = reason.to_ascii_lowercase();
    if r.contains("unknownissuer") || r.contains("unknown issuer") || r.contains("unknownca") {
        format!(
            "TLS check failed: issuer. The server's certificate is not signed by a certificate \
             authority this client trusts ({reason}). Add sslrootcert=/path/to/ca.pem to the URL \
             (the CA that signed the server's certificate; hosted providers publish theirs), or \
             install that CA in the system store"
        )
    } else if r.contains("notvalidforname") || r.contains("not valid for name") {
        format!(
            "TLS check failed: host name. The server's certificate does not name {host} \
             ({reason}). Connect with a host name its certificate lists, or use sslmode=verify-ca \
             to check the CA but not the name"
        )
    } else if r.contains("expired") || r.contains("notvalidyet") {
        format!(
            "TLS check failed: validity period. The server's certificate is expired or not yet \
             valid ({reason}). Renew the server's certificate, or check this machine's clock"
        )
    } else if r.contains("does not support tls") || r.contains("not support ssl") {
        format!(
            "TLS check failed: the server at {host} does not offer TLS, which sslmode=verify-full \
             (the default for remote hosts) requires. Turn on ssl in the server's \
             postgresql.conf, or accept an unencrypted connection explicitly with sslmode=disable"
        )
    } else if r.contains("no such file") || r.contains("sslrootcert") || r.contains("pem") {
        format!(
            "TLS: the CA file could not be read ({reason}). Check the sslrootcert path in the URL"
        )
    } else {
        format!("TLS: {reason}")
    }
}

/// Rewrites a connection error that came from TLS (sqlx reports certificate failures as I/O
/// errors of the handshake) into [`explain`]'s words.
pub(super) fn map_tls(e: Error, host: &str) -> Error {
    match e {
        Error::ServerUnreachable {
            target,
            reason,
            source,
        } => {
            let r = reason.to_ascii_lowercase();
            let tls = r.starts_with("tls")
                || r.contains("certificate")
                || r.contains("does not support tls")
                || r.contains("handshake");
            Error::ServerUnreachable {
                target,
                reason: if tls {
                    explain(reason.trim_start_matches("TLS: "), host)
                } else {
                    reason
                },
                source,
            }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_hosts_default_to_verify_full_and_local_ones_do_not() {
        assert_eq!(
            with_default_sslmode("postgres://u:p@db.example.com:5432/ncy8"),
            "postgres://u:p@db.example.com:5432/ncy8?sslmode=verify-full"
        );
        assert_eq!(
            with_default_sslmode("postgres://u@10.1.2.3/ncy8?connect_timeout=3"),
            "postgres://u@10.1.2.3/ncy8?connect_timeout=3&sslmode=verify-full"
        );
        for local in [
            "postgres://u@localhost/db",
            "postgres://u@127.0.0.1:5433/db",
            "postgres://u@[::1]/db",
            "postgres://u@/db?host=/run/postgresql",
        ] {
            assert_eq!(with_default_sslmode(local), local);
        }
        let explicit = "postgres://u@db.example.com/db?sslmode=require";
        assert_eq!(with_default_sslmode(explicit), explicit);
    }

    #[test]
    fn weak_modes_to_remote_hosts_warn() {
        for m in ["disable", "allow", "prefer"] {
            let w = weak_tls_warning(&format!("postgres://u@db.example.com/db?sslmode={m}"))
                .expect("a warning");
            assert!(w.contains(m) && w.contains("verify-full"), "{w}");
        }
        assert!(weak_tls_warning("postgres://u@db.example.com/db?sslmode=verify-ca").is_none());
        assert!(weak_tls_warning("postgres://u@db.example.com/db").is_none());
        assert!(weak_tls_warning("postgres://u@127.0.0.1/db?sslmode=disable").is_none());
    }

    #[test]
    fn certificate_failures_name_the_check() {
        assert!(explain("invalid peer certificate: UnknownIssuer", "h").contains("issuer"));
        assert!(explain("invalid peer certificate: NotValidForName", "h").contains("host name"));
        assert!(explain("invalid peer certificate: Expired", "h").contains("validity"));
    }
}
