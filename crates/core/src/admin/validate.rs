//! Input validation shared by every admin operation: each failure names the field and says
//! what is accepted.

use std::sync::OnceLock;

use crate::error::{Error, Result};

/// Normalises and validates an email address (lower-cased, at most 255 characters).
pub fn email(s: &str) -> Result<String> {
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    let re =
        RE.get_or_init(|| regex::Regex::new(r"^[^\s@]+@[^\s@]+\.[^\s@]+$").expect("static regex"));
    let e = s.trim().to_lowercase();
    if e.is_empty() {
        return Err(Error::invalid("email", "is empty"));
    }
    if e.chars().count() > 255 {
        return Err(Error::invalid("email", "is longer than 255 characters"));
    }
    if e.chars().any(|c| c.is_control()) || !re.is_match(&e) {
        return Err(Error::invalid(
            "email",
            format!("{s:?} is not an email address (expected name@domain.tld)"),
        ));
    }
    Ok(e)
}

/// Validates a one-line text field: trimmed, non-empty, at most `max` characters, no control
/// characters.
pub fn text(field: &str, s: &str, max: usize) -> Result<String> {
    let t = s.trim();
    if t.is_empty() {
        return Err(Error::invalid(field, "is empty"));
    }
    let n = t.chars().count();
    if n > max {
        return Err(Error::invalid(
            field,
            format!("is {n} characters long; at most {max} are allowed"),
        ));
    }
    if t.chars().any(|c| c.is_control()) {
        return Err(Error::invalid(field, "contains control characters"));
    }
    Ok(t.to_owned())
}

/// Validates a multi-line free text (descriptions): at most `max` characters, no NUL.
pub fn long_text(field: &str, s: &str, max: usize) -> Result<String> {
    let n = s.chars().count();
    if n > max {
        return Err(Error::invalid(
            field,
            format!("is {n} characters long; at most {max} are allowed"),
        ));
    }
    if s.contains('\0') {
        return Err(Error::invalid(field, "contains a NUL character"));
    }
    Ok(s.to_owned())
}

/// Validates an organization slug: lower-case letters, digits and single hyphens, 2–100 chars.
pub fn slug(s: &str) -> Result<String> {
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    let re =
        RE.get_or_init(|| regex::Regex::new(r"^[a-z0-9]+(?:-[a-z0-9]+)*$").expect("static regex"));
    let t = s.trim();
    if t.len() < 2 || t.len() > 100 || !re.is_match(t) {
        return Err(Error::invalid(
            "slug",
            format!("{s:?} must be 2–100 characters of lower-case letters, digits and single hyphens (e.g. acme-corp)"),
        ));
    }
    Ok(t.to_owned())
}

/// Parses a JSON object (settings, metadata) with a clear error; at most 64 KiB.
pub fn json_object(field: &str, s: &str) -> Result<serde_json::Value> {
    if s.len() > 64 * 1024 {
        return Err(Error::invalid(field, "is larger than 64 KiB"));
    }
    let v: serde_json::Value = serde_json::from_str(s)
        .map_err(|e| Error::invalid(field, format!("is not valid JSON: {e}")))?;
    check_object(field, v)
}

/// Checks that a JSON value is an object.
pub fn check_object(field: &str, v: serde_json::Value) -> Result<serde_json::Value> {
    if !v.is_object() {
        return Err(Error::invalid(field, "must be a JSON object ({...})"));
    }
    if v.to_string().len() > 64 * 1024 {
        return Err(Error::invalid(field, "is larger than 64 KiB"));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(email(" A@B.Co ").unwrap(), "a@b.co");
        for bad in [
            "",
            "a",
            "a@b",
            "a b@c.d",
            "@b.c",
            "a@b\u{7}.c",
            &format!("{}@x.io", "a".repeat(300)),
        ] {
            let e = email(bad).unwrap_err().to_string();
            assert!(e.contains("email"), "{e}");
        }
    }

    #[test]
    fn slugs_and_text() {
        assert!(slug("acme-corp").is_ok());
        for bad in ["A", "a--b", "-a", "a_b", "ä", "x'; DROP TABLE"] {
            assert!(slug(bad).is_err(), "{bad}");
        }
        assert!(text("name", "ok", 5).is_ok());
        assert!(text("name", "toolong", 5)
            .unwrap_err()
            .to_string()
            .contains("name"));
        assert!(text("name", "  ", 5).is_err());
        assert_eq!(text("name", "日本語", 3).unwrap(), "日本語");
    }

    #[test]
    fn json() {
        assert!(json_object("settings", "{\"a\":1}").is_ok());
        assert!(json_object("settings", "[1]")
            .unwrap_err()
            .to_string()
            .contains("object"));
        assert!(json_object("settings", "{broken")
            .unwrap_err()
            .to_string()
            .contains("not valid JSON"));
    }
}
