//! Password hashing: argon2id with OWASP's parameters (19 MiB, t=2, p=1) in PHC strings, and
//! verification of the platform's legacy bcrypt hashes (flagged for upgrade on next login).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::Rng;

use crate::error::{Error, Result};

/// Longest accepted password (bytes); longer input is refused, not silently truncated.
pub const MAX_PASSWORD_LEN: usize = 1024;
/// Shortest password an administrator may set.
pub const MIN_PASSWORD_LEN: usize = 8;

fn argon2() -> Argon2<'static> {
    // OWASP Password Storage Cheat Sheet: argon2id, m=19456 KiB, t=2, p=1.
    let params = Params::new(19 * 1024, 2, 1, None).expect("static argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password with argon2id into a PHC string.
pub fn hash_password(password: &str) -> Result<String> {
    if password.len() > MAX_PASSWORD_LEN {
        return Err(Error::invalid(
            "password",
            format!("longer than {MAX_PASSWORD_LEN} bytes"),
        ));
    }
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill(&mut bytes);
    let salt =
        SaltString::encode_b64(&bytes).map_err(|e| Error::db(format!("argon2 salt: {e}")))?;
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::db(format!("argon2 hashing failed: {e}")))
}

/// Checks a new password against the policy (length only; the platform has no other rule).
pub fn validate_new_password(password: &str) -> Result<()> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(Error::invalid(
            "password",
            format!("must be at least {MIN_PASSWORD_LEN} characters"),
        ));
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Err(Error::invalid(
            "password",
            format!("must be at most {MAX_PASSWORD_LEN} bytes"),
        ));
    }
    Ok(())
}

/// Outcome of a successful verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    /// The hash is current argon2id with our parameters.
    Current,
    /// The password is right but the hash is legacy (bcrypt) or weaker: rehash it now.
    NeedsUpgrade,
}

/// Verifies a password against a stored hash (argon2id PHC or bcrypt `$2a$/$2b$/$2y$`).
/// Returns `None` for a wrong password or an unusable hash (never panics).
pub fn verify_password(password: &str, stored: &str) -> Option<Verified> {
    if password.len() > MAX_PASSWORD_LEN {
        return None;
    }
    if stored.starts_with("$2a$") || stored.starts_with("$2b$") || stored.starts_with("$2y$") {
        return match bcrypt::verify(password, stored) {
            Ok(true) => Some(Verified::NeedsUpgrade),
            _ => None,
        };
    }
    let parsed = PasswordHash::new(stored).ok()?;
    // Verify with the parameters recorded in the hash itself.
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .ok()?;
    let current = parsed.algorithm.as_str() == "argon2id"
        && Params::try_from(&parsed)
            .map(|p| p.m_cost() >= 19 * 1024 && p.t_cost() >= 2)
            .unwrap_or(false);
    Some(if current {
        Verified::Current
    } else {
        Verified::NeedsUpgrade
    })
}

/// True when a stored hash is a legacy bcrypt hash.
pub fn is_legacy_hash(stored: &str) -> bool {
    stored.starts_with("$2")
}

/// A strong random password (20 characters from an unambiguous alphabet), shown once.
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789-_.!";
    let mut rng = rand::thread_rng();
    (0..20)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// A hash no password can match (used for invalidated accounts).
pub const INVALID_HASH: &str = "!invalidated";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2id_round_trip_with_owasp_parameters() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert_eq!(
            verify_password("correct horse", &h),
            Some(Verified::Current)
        );
        assert_eq!(verify_password("wrong horse", &h), None);
    }

    #[test]
    fn bcrypt_legacy_hashes_verify_and_need_upgrade() {
        // Cost 4 keeps the test fast; the platform uses 12 and verification is the same code.
        let h = bcrypt::hash("admin123", 4).unwrap();
        assert_eq!(
            verify_password("admin123", &h),
            Some(Verified::NeedsUpgrade)
        );
        assert_eq!(verify_password("admin124", &h), None);
        assert!(is_legacy_hash(&h));
        // A known bcrypt hash of cost 12 for "admin123", as the platform's seed writes them.
        let platform = bcrypt::hash_with_salt("admin123", 12, [7u8; 16])
            .unwrap()
            .format_for_version(bcrypt::Version::TwoB);
        assert_eq!(
            verify_password("admin123", &platform),
            Some(Verified::NeedsUpgrade)
        );
    }

    #[test]
    fn garbage_hashes_and_oversize_input_are_rejected_without_panic() {
        assert_eq!(verify_password("x", ""), None);
        assert_eq!(verify_password("x", INVALID_HASH), None);
        assert_eq!(verify_password("x", "$2b$12$short"), None);
        assert_eq!(
            verify_password(&"x".repeat(5000), "$argon2id$v=19$m=19456,t=2,p=1$abc$def"),
            None
        );
        assert!(hash_password(&"x".repeat(5000)).is_err());
    }

    #[test]
    fn generated_passwords_are_strong_and_valid() {
        let p = generate_password();
        assert_eq!(p.len(), 20);
        validate_new_password(&p).unwrap();
        assert_ne!(p, generate_password());
    }
}
