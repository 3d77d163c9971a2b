//! SQLCipher's page crypto through RustCrypto instead of OpenSSL 3.
//!
//! SQLCipher encrypts each page with AES-256-CBC and authenticates it with an HMAC; it asks a
//! *crypto provider* for both, page by page. Its OpenSSL provider, on OpenSSL 3, looks the HMAC
//! and the digest up in OpenSSL's global store by name, allocates their contexts and frees them
//! again for every page (and the cipher's the same way), and draws each page's IV under a
//! global mutex: a large part of a page's cost, and a pull of 1 000 scattered changes decrypts
//! and re-encrypts about a thousand 1 KiB pages (BENCHMARKS.md, issue 17). This provider does
//! the same computations (AES-256-CBC without padding, HMAC-SHA1/256/512, PBKDF2-HMAC) with the
//! RustCrypto crates (AES-NI and SHA extensions detected at run time), with IVs from a CSPRNG
//! the OS seeds, so files read and write exactly as before: the two providers are
//! interchangeable on any file (tested).
//!
//! SQLCipher registers a provider process-wide (`sqlcipher_register_provider`, its extension
//! point for custom providers) and each keyed connection copies the registered one when its key
//! is set. SQLCipher frees the registered provider and its mutexes when the last keyed connection
//! closes, then falls back to OpenSSL, so [`install`] registers ours once, while a keyed
//! in-memory connection it keeps open for the life of the process holds SQLCipher active.

use std::ffi::{c_char, c_int, c_void};
use std::sync::{Mutex, OnceLock};

use aes::cipher::{block_padding::NoPadding, BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use hmac::{Hmac, Mac};

const SQLITE_OK: c_int = 0;
const SQLITE_ERROR: c_int = 1;
/// SQLCipher's `CIPHER_ENCRYPT` (decrypt is 0).
const ENCRYPT: c_int = 1;
/// SQLCipher's algorithm numbers, for the page HMAC and for PBKDF2 alike.
const SHA1: c_int = 0;
const SHA256: c_int = 1;
const SHA512: c_int = 2;
const KEY_SZ: usize = 32;
const IV_SZ: usize = 16;
const BLOCK_SZ: usize = 16;

/// The name `PRAGMA cipher_provider` reports.
pub const PROVIDER_NAME: &std::ffi::CStr = c"rustcrypto";

type Ctx = *mut c_void;

/// SQLCipher's `sqlcipher_provider` (sqlcipher.h), field for field.
#[repr(C)]
struct Provider {
    activate: unsafe extern "C" fn(Ctx) -> c_int,
    deactivate: unsafe extern "C" fn(Ctx) -> c_int,
    get_provider_name: unsafe extern "C" fn(Ctx) -> *const c_char,
    add_random: unsafe extern "C" fn(Ctx, *mut c_void, c_int) -> c_int,
    random: unsafe extern "C" fn(Ctx, *mut c_void, c_int) -> c_int,
    #[allow(clippy::type_complexity)]
    hmac: unsafe extern "C" fn(
        Ctx,
        c_int,
        *mut u8,
        c_int,
        *mut u8,
        c_int,
        *mut u8,
        c_int,
        *mut u8,
    ) -> c_int,
    #[allow(clippy::type_complexity)]
    kdf: unsafe extern "C" fn(
        Ctx,
        c_int,
        *const u8,
        c_int,
        *mut u8,
        c_int,
        c_int,
        c_int,
        *mut u8,
    ) -> c_int,
    #[allow(clippy::type_complexity)]
    cipher:
        unsafe extern "C" fn(Ctx, c_int, *mut u8, c_int, *mut u8, *mut u8, c_int, *mut u8) -> c_int,
    get_cipher: unsafe extern "C" fn(Ctx) -> *const c_char,
    get_key_sz: unsafe extern "C" fn(Ctx) -> c_int,
    get_iv_sz: unsafe extern "C" fn(Ctx) -> c_int,
    get_block_sz: unsafe extern "C" fn(Ctx) -> c_int,
    get_hmac_sz: unsafe extern "C" fn(Ctx, c_int) -> c_int,
    ctx_init: unsafe extern "C" fn(*mut Ctx) -> c_int,
    ctx_free: unsafe extern "C" fn(*mut Ctx) -> c_int,
    fips_status: unsafe extern "C" fn(Ctx) -> c_int,
    get_provider_version: unsafe extern "C" fn(Ctx) -> *const c_char,
}

extern "C" {
    fn sqlcipher_register_provider(p: *mut Provider) -> c_int;
    fn sqlcipher_malloc(n: u64) -> *mut c_void;
}

unsafe extern "C" fn ok(_: Ctx) -> c_int {
    SQLITE_OK
}

unsafe extern "C" fn name(_: Ctx) -> *const c_char {
    PROVIDER_NAME.as_ptr()
}

unsafe extern "C" fn version(_: Ctx) -> *const c_char {
    c"aes 0.8, cbc 0.1, hmac 0.12, sha1/sha2 0.10, pbkdf2 0.12".as_ptr()
}

unsafe extern "C" fn cipher_name(_: Ctx) -> *const c_char {
    c"AES-256-CBC".as_ptr()
}

unsafe extern "C" fn add_random(_: Ctx, _: *mut c_void, _: c_int) -> c_int {
    // The OS generator needs no seeding from SQLCipher.
    SQLITE_OK
}

/// `len` bytes at `p` as a slice, or `None` for a null pointer or a negative length.
///
/// # Safety
/// `p` must point to `len` readable bytes that nothing else writes meanwhile.
unsafe fn bytes<'a>(p: *const u8, len: c_int) -> Option<&'a [u8]> {
    let len = usize::try_from(len).ok()?;
    if p.is_null() {
        return (len == 0).then_some(&[]);
    }
    Some(std::slice::from_raw_parts(p, len))
}

/// # Safety
/// `p` must point to `len` writable bytes that nothing else reads or writes meanwhile.
unsafe fn bytes_mut<'a>(p: *mut u8, len: c_int) -> Option<&'a mut [u8]> {
    let len = usize::try_from(len).ok()?;
    if p.is_null() {
        return None;
    }
    Some(std::slice::from_raw_parts_mut(p, len))
}

unsafe extern "C" fn random(_: Ctx, buf: *mut c_void, len: c_int) -> c_int {
    use rand::RngCore;
    let Some(out) = bytes_mut(buf.cast(), len) else {
        return SQLITE_ERROR;
    };
    // `thread_rng` panics if the OS cannot seed it: an error for SQLCipher, not an abort.
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rand::thread_rng().try_fill_bytes(out)
    })) {
        Ok(Ok(())) => SQLITE_OK,
        _ => SQLITE_ERROR,
    }
}

fn mac<M: Mac + hmac::digest::KeyInit>(key: &[u8], a: &[u8], b: &[u8], out: &mut [u8]) -> bool {
    let Ok(mut m) = <M as Mac>::new_from_slice(key) else {
        return false;
    };
    m.update(a);
    m.update(b);
    let tag = m.finalize().into_bytes();
    if out.len() < tag.len() {
        return false;
    }
    out[..tag.len()].copy_from_slice(&tag);
    true
}

#[allow(clippy::too_many_arguments)]
unsafe extern "C" fn hmac(
    _: Ctx,
    algorithm: c_int,
    key: *mut u8,
    key_sz: c_int,
    a: *mut u8,
    a_sz: c_int,
    b: *mut u8,
    b_sz: c_int,
    out: *mut u8,
) -> c_int {
    if a.is_null() {
        return SQLITE_ERROR;
    }
    let (Some(key), Some(a)) = (bytes(key, key_sz), bytes(a, a_sz)) else {
        return SQLITE_ERROR;
    };
    let b = if b.is_null() {
        Some(&[][..])
    } else {
        bytes(b, b_sz)
    };
    let Some(b) = b else {
        return SQLITE_ERROR;
    };
    let Some(out) = bytes_mut(out, hmac_sz(std::ptr::null_mut(), algorithm)) else {
        return SQLITE_ERROR;
    };
    let done = match algorithm {
        SHA1 => mac::<Hmac<sha1::Sha1>>(key, a, b, out),
        SHA256 => mac::<Hmac<sha2::Sha256>>(key, a, b, out),
        SHA512 => mac::<Hmac<sha2::Sha512>>(key, a, b, out),
        _ => false,
    };
    if done {
        SQLITE_OK
    } else {
        SQLITE_ERROR
    }
}

#[allow(clippy::too_many_arguments)]
unsafe extern "C" fn kdf(
    _: Ctx,
    algorithm: c_int,
    pass: *const u8,
    pass_sz: c_int,
    salt: *mut u8,
    salt_sz: c_int,
    rounds: c_int,
    key_sz: c_int,
    key: *mut u8,
) -> c_int {
    let (Some(pass), Some(salt), Some(key), Ok(rounds)) = (
        bytes(pass, pass_sz),
        bytes(salt, salt_sz),
        bytes_mut(key, key_sz),
        u32::try_from(rounds),
    ) else {
        return SQLITE_ERROR;
    };
    if rounds == 0 {
        return SQLITE_ERROR;
    }
    match algorithm {
        SHA1 => pbkdf2::pbkdf2_hmac::<sha1::Sha1>(pass, salt, rounds, key),
        SHA256 => pbkdf2::pbkdf2_hmac::<sha2::Sha256>(pass, salt, rounds, key),
        SHA512 => pbkdf2::pbkdf2_hmac::<sha2::Sha512>(pass, salt, rounds, key),
        _ => return SQLITE_ERROR,
    }
    SQLITE_OK
}

#[allow(clippy::too_many_arguments)]
unsafe extern "C" fn cipher(
    _: Ctx,
    mode: c_int,
    key: *mut u8,
    key_sz: c_int,
    iv: *mut u8,
    input: *mut u8,
    len: c_int,
    out: *mut u8,
) -> c_int {
    let (Some(key), Some(iv), Some(input), Some(out)) = (
        bytes(key, key_sz),
        bytes(iv, IV_SZ as c_int),
        bytes(input, len),
        bytes_mut(out, len),
    ) else {
        return SQLITE_ERROR;
    };
    if key.len() != KEY_SZ || input.len() % BLOCK_SZ != 0 {
        return SQLITE_ERROR;
    }
    let done = if mode == ENCRYPT {
        cbc::Encryptor::<aes::Aes256>::new(key.into(), iv.into())
            .encrypt_padded_b2b_mut::<NoPadding>(input, out)
            .is_ok()
    } else {
        cbc::Decryptor::<aes::Aes256>::new(key.into(), iv.into())
            .decrypt_padded_b2b_mut::<NoPadding>(input, out)
            .is_ok()
    };
    if done {
        SQLITE_OK
    } else {
        SQLITE_ERROR
    }
}

unsafe extern "C" fn key_sz(_: Ctx) -> c_int {
    KEY_SZ as c_int
}

unsafe extern "C" fn iv_sz(_: Ctx) -> c_int {
    IV_SZ as c_int
}

unsafe extern "C" fn block_sz(_: Ctx) -> c_int {
    BLOCK_SZ as c_int
}

unsafe extern "C" fn hmac_sz(_: Ctx, algorithm: c_int) -> c_int {
    match algorithm {
        SHA1 => 20,
        SHA256 => 32,
        SHA512 => 64,
        _ => 0,
    }
}

unsafe extern "C" fn ctx_init(ctx: *mut Ctx) -> c_int {
    if !ctx.is_null() {
        *ctx = std::ptr::null_mut();
    }
    SQLITE_OK
}

unsafe extern "C" fn ctx_free(_: *mut Ctx) -> c_int {
    SQLITE_OK
}

unsafe extern "C" fn not_fips(_: Ctx) -> c_int {
    0
}

/// The keyed connection that keeps SQLCipher active (and so our provider registered); `None`
/// when it could not be opened, and SQLCipher keeps its own provider.
static KEEP: OnceLock<Option<Mutex<rusqlite::Connection>>> = OnceLock::new();

/// Makes SQLCipher use this provider for every keyed connection opened from now on, once per
/// process; later calls return at once. Call it before setting a key. If it cannot (the
/// keep-alive connection does not open), SQLCipher keeps its OpenSSL provider, which reads and
/// writes the same files: only slower.
pub fn install() {
    KEEP.get_or_init(|| match keep_alive() {
        Ok(keep) => {
            // SAFETY: SQLCipher is active (the keep-alive connection holds a key, a codec is
            // attached, and it is never closed), so its provider mutex exists and the
            // registration is locked against connections copying the provider meanwhile. The
            // struct is allocated by SQLCipher's allocator, which frees it if another provider
            // is ever registered after it.
            unsafe {
                let p = sqlcipher_malloc(std::mem::size_of::<Provider>() as u64).cast::<Provider>();
                if p.is_null() {
                    tracing::warn!("SQLCipher keeps its OpenSSL provider: out of memory");
                } else {
                    p.write(PROVIDER);
                    sqlcipher_register_provider(p);
                }
            }
            Some(Mutex::new(keep))
        }
        Err(e) => {
            tracing::warn!(error = %e, "SQLCipher keeps its OpenSSL provider");
            None
        }
    });
}

const PROVIDER: Provider = Provider {
    activate: ok,
    deactivate: ok,
    get_provider_name: name,
    add_random,
    random,
    hmac,
    kdf,
    cipher,
    get_cipher: cipher_name,
    get_key_sz: key_sz,
    get_iv_sz: iv_sz,
    get_block_sz: block_sz,
    get_hmac_sz: hmac_sz,
    ctx_init,
    ctx_free,
    fips_status: not_fips,
    get_provider_version: version,
};

/// A keyed in-memory connection with its codec attached (it names SQLCipher's provider): while
/// it is open SQLCipher stays active.
fn keep_alive() -> Result<rusqlite::Connection, String> {
    let c = rusqlite::Connection::open_in_memory().map_err(|e| e.to_string())?;
    c.pragma_update(None, "key", "keep-alive")
        .map_err(|e| e.to_string())?;
    match c.query_row("PRAGMA cipher_provider", [], |r| r.get::<_, String>(0)) {
        Ok(_) => Ok(c),
        Err(e) => Err(format!("no codec on a keyed in-memory connection: {e}")),
    }
}
