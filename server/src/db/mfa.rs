//! Two-step sign-in: each user's sealed TOTP secret, recovery-code hashes, and the
//! challenges that wait between the password step and the code.
//!
//! Every "use once" rule is a single conditional statement, so two concurrent uses of
//! one code, recovery code or challenge cannot both win — on any number of instances.

use super::ids::UserId;
use super::{AnyExecutor, DbError};

/// A user's TOTP secret as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredTotp {
    /// The secret sealed by the vault (base64).
    pub sealed: String,
    /// When a first code confirmed it; `None` while enrolment is pending.
    pub confirmed_at: Option<i64>,
}

/// Stores a new pending secret, replacing an earlier pending one. Returns `false`
/// (and stores nothing) when a confirmed secret exists.
pub async fn put_pending_totp(
    db: impl AnyExecutor<'_>,
    user: UserId,
    sealed: &str,
    now: i64,
) -> Result<bool, DbError> {
    let done = sqlx::query(
        "INSERT INTO totp_secrets (user_id, sealed, confirmed_at, last_step, created_at) \
         VALUES ($1, $2, NULL, -1, $3) \
         ON CONFLICT (user_id) DO UPDATE SET sealed = $2, last_step = -1, created_at = $3 \
         WHERE totp_secrets.confirmed_at IS NULL",
    )
    .bind(user)
    .bind(sealed)
    .bind(now)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Replaces the sealed secret with `new` if it is still `old` (a key rotation sealing it
/// again under the user's next key); `false` when it changed meanwhile.
pub async fn reseal_totp(
    db: impl AnyExecutor<'_>,
    user: UserId,
    old: &str,
    new: &str,
) -> Result<bool, DbError> {
    let done =
        sqlx::query("UPDATE totp_secrets SET sealed = $1 WHERE user_id = $2 AND sealed = $3")
            .bind(new)
            .bind(user)
            .bind(old)
            .execute(db)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// The user's secret, pending or confirmed.
pub async fn totp(db: impl AnyExecutor<'_>, user: UserId) -> Result<Option<StoredTotp>, DbError> {
    Ok(
        sqlx::query_as("SELECT sealed, confirmed_at FROM totp_secrets WHERE user_id = $1")
            .bind(user)
            .fetch_optional(db)
            .await?,
    )
}

/// Records that a code of time step `step` was accepted — only if no code of this or a
/// later step was accepted before (RFC 6238 §5.2: a code is accepted once). Returns
/// whether this call won.
pub async fn accept_step(
    db: impl AnyExecutor<'_>,
    user: UserId,
    step: i64,
) -> Result<bool, DbError> {
    let done =
        sqlx::query("UPDATE totp_secrets SET last_step = $2 WHERE user_id = $1 AND last_step < $2")
            .bind(user)
            .bind(step)
            .execute(db)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// Marks the pending secret confirmed; `false` if it was not pending.
pub async fn confirm_totp(
    db: impl AnyExecutor<'_>,
    user: UserId,
    now: i64,
) -> Result<bool, DbError> {
    let done = sqlx::query(
        "UPDATE totp_secrets SET confirmed_at = $2 WHERE user_id = $1 AND confirmed_at IS NULL",
    )
    .bind(user)
    .bind(now)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Turns two-step sign-in off: the secret and every recovery code go.
pub async fn delete_totp(tx: &mut super::Tx, user: UserId) -> Result<(), DbError> {
    sqlx::query("DELETE FROM totp_secrets WHERE user_id = $1")
        .bind(user)
        .execute(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Whether two-step sign-in is on (a confirmed secret exists).
pub async fn totp_enabled(db: impl AnyExecutor<'_>, user: UserId) -> Result<bool, DbError> {
    let on: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM totp_secrets WHERE user_id = $1 AND confirmed_at IS NOT NULL",
    )
    .bind(user)
    .fetch_optional(db)
    .await?;
    Ok(on.is_some())
}

/// Replaces every recovery code of the user by `hashes`.
pub async fn replace_recovery_codes(
    tx: &mut super::Tx,
    user: UserId,
    hashes: &[String],
) -> Result<(), DbError> {
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user)
        .execute(&mut **tx)
        .await?;
    for hash in hashes {
        sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)")
            .bind(user)
            .bind(hash)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Uses up one recovery code; `false` if it is unknown or was used.
pub async fn use_recovery_code(
    db: impl AnyExecutor<'_>,
    user: UserId,
    hash: &str,
    now: i64,
) -> Result<bool, DbError> {
    let done = sqlx::query(
        "UPDATE recovery_codes SET used_at = $3 \
         WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
    )
    .bind(user)
    .bind(hash)
    .bind(now)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Recovery codes not used yet.
pub async fn recovery_codes_left(db: impl AnyExecutor<'_>, user: UserId) -> Result<i64, DbError> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
    )
    .bind(user)
    .fetch_one(db)
    .await?)
}

/// A second step waiting to be taken.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Challenge {
    /// Whose.
    pub user_id: UserId,
    /// The session kind to issue (`bearer` or `cookie`).
    pub kind: String,
    /// The device that passed the password step.
    pub device_id: String,
    /// 1 when that device had signed in to the account before.
    pub known_device: i64,
}

/// A challenge to store.
pub struct NewChallenge<'a> {
    /// SHA-256 of the `mfa_token`.
    pub token_hash: &'a str,
    /// The challenge itself.
    pub challenge: &'a Challenge,
    /// When it stops working.
    pub expires_at: i64,
}

/// Stores a challenge, dropping the user's expired ones (so they never pile up).
pub async fn insert_challenge(
    tx: &mut super::Tx,
    new: &NewChallenge<'_>,
    now: i64,
) -> Result<(), DbError> {
    sqlx::query("DELETE FROM mfa_challenges WHERE user_id = $1 AND expires_at <= $2")
        .bind(new.challenge.user_id)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO mfa_challenges \
         (token_hash, user_id, kind, device_id, known_device, tries, expires_at) \
         VALUES ($1, $2, $3, $4, $5, 0, $6)",
    )
    .bind(new.token_hash)
    .bind(new.challenge.user_id)
    .bind(&new.challenge.kind)
    .bind(&new.challenge.device_id)
    .bind(new.challenge.known_device)
    .bind(new.expires_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Spends one of the challenge's tries and returns it; `None` when it is unknown,
/// used, expired or out of tries.
pub async fn take_try(
    db: impl AnyExecutor<'_>,
    token_hash: &str,
    max_tries: i64,
    now: i64,
) -> Result<Option<Challenge>, DbError> {
    Ok(sqlx::query_as(
        "UPDATE mfa_challenges SET tries = tries + 1 \
         WHERE token_hash = $1 AND expires_at > $2 AND tries < $3 \
         RETURNING user_id, kind, device_id, known_device",
    )
    .bind(token_hash)
    .bind(now)
    .bind(max_tries)
    .fetch_optional(db)
    .await?)
}

/// Uses the challenge up (it is gone afterwards); `false` if another request did first.
pub async fn finish_challenge(db: impl AnyExecutor<'_>, token_hash: &str) -> Result<bool, DbError> {
    let done = sqlx::query("DELETE FROM mfa_challenges WHERE token_hash = $1")
        .bind(token_hash)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}
