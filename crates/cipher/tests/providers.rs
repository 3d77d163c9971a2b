//! SQLCipher files read and write the same with SQLCipher's OpenSSL provider and with ours
//! (`ncy_cipher`), both ways, with every cipher setting NCY Admin has used
//! and SQLCipher 3's (HMAC-SHA1, a passphrase through PBKDF2-HMAC-SHA1).
//!
//! One test in its own binary: the provider is process-wide, and the OpenSSL half must run
//! before it is installed.

use rusqlite::Connection;

/// Cipher settings to test: the pragmas after the key, and the key.
const SETTINGS: [(&str, &str, &str); 4] = [
    (
        "ncy-now",
        "PRAGMA cipher_page_size = 1024; PRAGMA cipher_hmac_algorithm = HMAC_SHA256;",
        "x'2DD29CA851E7B56E4697B0E1F08507293D761A05CE4D1B628663F411A8086D99'",
    ),
    (
        "ncy-1k-sha512",
        "PRAGMA cipher_page_size = 1024; PRAGMA cipher_hmac_algorithm = HMAC_SHA512;",
        "x'0F1E2D3C4B5A69788796A5B4C3D2E1F00F1E2D3C4B5A69788796A5B4C3D2E1F0'",
    ),
    ("defaults", "", "a passphrase, through PBKDF2-HMAC-SHA512"),
    (
        "sqlcipher3",
        "PRAGMA cipher_compatibility = 3;",
        "a passphrase, through PBKDF2-HMAC-SHA1",
    ),
];

fn open(path: &std::path::Path, pragmas: &str, key: &str) -> Connection {
    let c = Connection::open(path).expect("open");
    c.pragma_update(None, "key", key).expect("key");
    c.execute_batch(pragmas).expect("cipher pragmas");
    c
}

fn provider(c: &Connection) -> String {
    c.query_row("PRAGMA cipher_provider", [], |r| r.get(0))
        .expect("cipher_provider")
}

/// Adds `n` rows of pseudo-random text (enough for many pages, and overflow pages).
fn write(c: &Connection, tag: &str, n: usize) {
    c.execute_batch(
        "BEGIN; CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, tag TEXT, body TEXT)",
    )
    .expect("table");
    let mut st = c
        .prepare("INSERT INTO t (tag, body) VALUES (?1, ?2)")
        .expect("insert");
    for i in 0..n {
        let body: String = (0..(i * 37 % 3000 + 10))
            .map(|j| char::from(b'a' + ((i * 7 + j * 13) % 26) as u8))
            .collect();
        st.execute(rusqlite::params![tag, body]).expect("row");
    }
    drop(st);
    c.execute_batch("COMMIT").expect("commit");
}

/// Every row, hashed to a short digest of the table's content, and the row count per tag.
fn content(c: &Connection) -> (Vec<(String, i64)>, i64) {
    let tags = c
        .prepare("SELECT tag, count(*) FROM t GROUP BY tag ORDER BY tag")
        .expect("tags")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("tags")
        .collect::<Result<Vec<_>, _>>()
        .expect("tags");
    let sum = c
        .query_row("SELECT sum(length(body) * id) FROM t", [], |r| r.get(0))
        .expect("sum");
    (tags, sum)
}

fn integrity(c: &Connection) {
    let bad: Vec<String> = c
        .prepare("PRAGMA cipher_integrity_check")
        .expect("check")
        .query_map([], |r| r.get(0))
        .expect("check")
        .collect::<Result<_, _>>()
        .expect("check");
    assert!(bad.is_empty(), "pages failing their HMAC: {bad:?}");
    let ok: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity");
    assert_eq!(ok, "ok");
}

#[test]
fn files_read_and_write_the_same_with_either_provider() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = |name: &str| dir.path().join(format!("{name}.db"));

    // OpenSSL writes each file; its connections stay open to read what ours writes later.
    let mut theirs = Vec::new();
    for (name, pragmas, key) in SETTINGS {
        let c = open(&path(name), pragmas, key);
        assert_eq!(provider(&c), "openssl", "before the install");
        write(&c, "openssl", 600);
        theirs.push(c);
    }

    ncy_cipher::install();

    for (i, (name, pragmas, key)) in SETTINGS.into_iter().enumerate() {
        let ours = open(&path(name), pragmas, key);
        assert_eq!(provider(&ours), "rustcrypto", "{name}");
        // Ours reads what OpenSSL wrote, checks every page's HMAC, and writes more.
        assert_eq!(content(&ours), content(&theirs[i]), "{name}");
        integrity(&ours);
        write(&ours, "rustcrypto", 600);
        let after = content(&ours);
        assert_eq!(after.0.len(), 2, "{name}");
        drop(ours);
        // OpenSSL reads what ours wrote (its page cache is dropped: the file changed).
        assert_eq!(content(&theirs[i]), after, "{name}");
        integrity(&theirs[i]);
        // A wrong key still reads as no database.
        let wrong = Connection::open(path(name)).expect("open");
        wrong
            .pragma_update(None, "key", "not the key")
            .expect("key");
        wrong.execute_batch(pragmas).expect("pragmas");
        let e = wrong
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| {
                r.get::<_, i64>(0)
            })
            .expect_err("a wrong key");
        assert_eq!(
            e.sqlite_error_code(),
            Some(rusqlite::ErrorCode::NotADatabase),
            "{name}"
        );
    }

    // Every connection closed: the provider stays (SQLCipher is kept active), and a file
    // made with it from scratch reads back after a reopen.
    drop(theirs);
    let (_, pragmas, key) = SETTINGS[0];
    let fresh = path("fresh");
    let c = open(&fresh, pragmas, key);
    assert_eq!(provider(&c), "rustcrypto");
    write(&c, "fresh", 2000);
    let before = content(&c);
    drop(c);
    let c = open(&fresh, pragmas, key);
    assert_eq!(content(&c), before);
    integrity(&c);
}
