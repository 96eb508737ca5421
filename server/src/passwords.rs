//! Password hashing with Argon2id, off the async runtime and under a concurrency bound.
//!
//! Each hash costs ~19 MiB and tens of milliseconds of one core by design. Run on the
//! async workers, a burst of logins would stall every other request; unbounded on the
//! blocking pool, it would exhaust memory. So hashes run on the blocking pool, at most
//! one per core at a time, and the rest queue.
//!
//! Unknown emails are verified against a dummy hash with the same parameters, so the
//! answer takes as long whether or not the account exists.

use std::sync::Arc;

use argon2::{Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version};
use tokio::sync::Semaphore;
use zeroize::Zeroizing;

/// OWASP's Argon2id recommendation: 19 MiB, 2 passes, 1 lane.
const MEMORY_KIB: u32 = 19 * 1024;
const PASSES: u32 = 2;
const LANES: u32 = 1;

/// Hashing failed for a reason that is ours, not the user's.
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

/// The shared hasher.
#[derive(Clone)]
pub struct Hasher {
    argon: Argon2<'static>,
    permits: Arc<Semaphore>,
    dummy: Arc<str>,
}

impl Hasher {
    /// A hasher allowing `concurrency` hashes at once (use the core count).
    pub fn new(concurrency: usize) -> Self {
        let params =
            Params::new(MEMORY_KIB, PASSES, LANES, None).expect("constant parameters are valid");
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let dummy = argon
            .hash_password(b"dummy password for unknown accounts")
            .expect("hashing a constant works")
            .to_string();
        Self {
            argon,
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            dummy: dummy.into(),
        }
    }

    /// Hashes a password (already checked against the policy) into a PHC string.
    pub async fn hash(&self, password: &str) -> Result<String, HashError> {
        let password = Zeroizing::new(password.to_owned());
        let argon = self.argon.clone();
        self.run(move || {
            argon
                .hash_password(password.as_bytes())
                .map(|h| h.to_string())
                .map_err(|e| HashError(e.to_string()))
        })
        .await?
    }

    /// Whether `password` matches `stored`; with `None` (no such account) the dummy hash
    /// is checked instead and the answer is always `false`.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> Result<bool, HashError> {
        let exists = stored.is_some();
        let phc = stored.map_or_else(|| self.dummy.to_string(), str::to_owned);
        let password = Zeroizing::new(password.to_owned());
        let argon = self.argon.clone();
        let matched = self
            .run(move || {
                PasswordHash::new(&phc)
                    .is_ok_and(|hash| argon.verify_password(password.as_bytes(), &hash).is_ok())
            })
            .await?;
        Ok(exists && matched)
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        // The permit travels with the blocking job: if the client goes away and this
        // future is dropped, the hash still holds its slot until it really ends.
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|e| HashError(e.to_string()))?;
        tokio::task::spawn_blocking(move || {
            let result = work();
            drop(permit);
            result
        })
        .await
        .map_err(|e| HashError(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_wrong_passwords_do_not() {
        let hasher = Hasher::new(2);
        let phc = hasher.hash("Correct-Horse-7-Battery").await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(
            hasher
                .verify("Correct-Horse-7-Battery", Some(&phc))
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify("correct-horse-7-battery", Some(&phc))
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn unknown_accounts_never_verify_even_with_the_dummy_password() {
        let hasher = Hasher::new(1);
        let dummy = "dummy password for unknown accounts";
        assert!(!hasher.verify(dummy, None).await.unwrap());
    }

    #[tokio::test]
    async fn a_corrupt_stored_hash_is_a_mismatch_not_a_panic() {
        let hasher = Hasher::new(1);
        assert!(!hasher.verify("x", Some("not a phc string")).await.unwrap());
    }
}
