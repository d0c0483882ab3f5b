//! Passwords: the rules a new password must meet, and argon2id hashing and verification
//! (PHC strings, a random salt each). Hashing is slow on purpose: callers run it off the
//! async threads ([`hash`] and [`verify`] do).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::RngCore;

/// The shortest password accepted.
pub const MIN_LEN: usize = 10;
/// The longest password accepted (hashing cost does not depend on it, but a bound is sane).
pub const MAX_LEN: usize = 256;

/// Why a password is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WeakPassword {
    #[error("the password is shorter than {MIN_LEN} characters")]
    TooShort,
    #[error("the password is longer than {MAX_LEN} characters")]
    TooLong,
    #[error("the password is the e-mail address")]
    IsEmail,
}

/// Checks a new password for the user `email`.
pub fn check(password: &str, email: &str) -> Result<(), WeakPassword> {
    let n = password.chars().count();
    if n < MIN_LEN {
        return Err(WeakPassword::TooShort);
    }
    if n > MAX_LEN {
        return Err(WeakPassword::TooLong);
    }
    if password.trim().eq_ignore_ascii_case(email) {
        return Err(WeakPassword::IsEmail);
    }
    Ok(())
}

/// The argon2id PHC string of `password` (default parameters: 19 MiB, 2 passes).
pub fn hash_blocking(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Whether `password` matches the PHC string `phc`.
pub fn verify_blocking(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(h) => Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok(),
        Err(_) => false,
    }
}

/// [`hash_blocking`] on the blocking pool.
pub async fn hash(password: String) -> Result<String, String> {
    tokio::task::spawn_blocking(move || hash_blocking(&password))
        .await
        .map_err(|e| e.to_string())?
}

/// [`verify_blocking`] on the blocking pool.
pub async fn verify(password: String, phc: String) -> bool {
    tokio::task::spawn_blocking(move || verify_blocking(&password, &phc))
        .await
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2id_hashes_verify_and_differ() {
        let a = hash_blocking("correct horse battery").unwrap();
        let b = hash_blocking("correct horse battery").unwrap();
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert_ne!(a, b, "a fresh salt each time");
        assert!(verify_blocking("correct horse battery", &a));
        assert!(!verify_blocking("correct horse batterz", &a));
        assert!(!verify_blocking("x", "not a hash"));
    }

    #[test]
    fn weak_passwords() {
        assert_eq!(check("short", "a@b.example"), Err(WeakPassword::TooShort));
        assert_eq!(
            check("A@B.example", "a@b.example").unwrap_err(),
            WeakPassword::IsEmail
        );
        assert_eq!(
            check(&"x".repeat(257), "a@b.example"),
            Err(WeakPassword::TooLong)
        );
        assert_eq!(check("a long enough one", "a@b.example"), Ok(()));
    }
}
