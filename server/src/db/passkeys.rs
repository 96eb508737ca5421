//! Passkeys and the WebAuthn ceremonies waiting for a browser's answer.
//!
//! A ceremony is taken with one `DELETE … RETURNING`, so a challenge is answered at
//! most once even when two instances race for it. A passkey's record (its signature
//! counter) is replaced only if it is still the one the sign-in checked, so two
//! concurrent sign-ins cannot move the counter backwards.

use super::ids::{PasskeyId, UserId};
use super::{AnyExecutor, DbError};

/// A passkey as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredPasskey {
    /// Its id in this database.
    pub id: PasskeyId,
    /// Whose.
    pub user_id: UserId,
    /// The owner's name for it.
    pub name: String,
    /// webauthn-rs's `Passkey` as JSON.
    pub passkey: String,
    /// When it was registered.
    pub created_at: i64,
    /// When it last signed in.
    pub last_used_at: Option<i64>,
}

/// A passkey to store.
pub struct NewPasskey<'a> {
    /// Whose.
    pub user_id: UserId,
    /// The WebAuthn credential id, base64url.
    pub credential_id: &'a str,
    /// The owner's name for it.
    pub name: &'a str,
    /// webauthn-rs's `Passkey` as JSON.
    pub passkey: &'a str,
    /// Now.
    pub created_at: i64,
}

/// Stores a passkey; `None` when its credential id is registered already (to this
/// account or another: a credential belongs to one account only).
pub async fn insert(
    db: impl AnyExecutor<'_>,
    new: &NewPasskey<'_>,
) -> Result<Option<PasskeyId>, DbError> {
    let id = PasskeyId::random();
    let done = sqlx::query(
        "INSERT INTO passkeys (id, user_id, credential_id, name, passkey, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (credential_id) DO NOTHING",
    )
    .bind(id)
    .bind(new.user_id)
    .bind(new.credential_id)
    .bind(new.name)
    .bind(new.passkey)
    .bind(new.created_at)
    .execute(db)
    .await?;
    Ok((done.rows_affected() == 1).then_some(id))
}

/// The user's passkeys, oldest first.
pub async fn list(db: impl AnyExecutor<'_>, user: UserId) -> Result<Vec<StoredPasskey>, DbError> {
    Ok(sqlx::query_as(
        "SELECT id, user_id, name, passkey, created_at, last_used_at FROM passkeys \
         WHERE user_id = $1 ORDER BY created_at, id",
    )
    .bind(user)
    .fetch_all(db)
    .await?)
}

/// How many passkeys the user has.
pub async fn count(db: impl AnyExecutor<'_>, user: UserId) -> Result<i64, DbError> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM passkeys WHERE user_id = $1")
            .bind(user)
            .fetch_one(db)
            .await?,
    )
}

/// The passkey with this credential id, whoever owns it.
pub async fn by_credential(
    db: impl AnyExecutor<'_>,
    credential_id: &str,
) -> Result<Option<StoredPasskey>, DbError> {
    Ok(sqlx::query_as(
        "SELECT id, user_id, name, passkey, created_at, last_used_at FROM passkeys \
         WHERE credential_id = $1",
    )
    .bind(credential_id)
    .fetch_optional(db)
    .await?)
}

/// Records a sign-in: the passkey's new record (its counter) and when it was used —
/// only over the record `checked` against. `false` when it changed meanwhile (another
/// sign-in, or the passkey was removed).
pub async fn record_use(
    db: impl AnyExecutor<'_>,
    id: PasskeyId,
    checked: &str,
    passkey: &str,
    now: i64,
) -> Result<bool, DbError> {
    let done = sqlx::query(
        "UPDATE passkeys SET passkey = $3, last_used_at = $4 WHERE id = $1 AND passkey = $2",
    )
    .bind(id)
    .bind(checked)
    .bind(passkey)
    .bind(now)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Removes one of the user's passkeys; `false` if the user has no such passkey.
pub async fn delete(
    db: impl AnyExecutor<'_>,
    user: UserId,
    id: PasskeyId,
) -> Result<bool, DbError> {
    let done = sqlx::query("DELETE FROM passkeys WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Stores a ceremony's state under `key`, replacing one of the same key, and drops
/// expired ceremonies (so unanswered ones never pile up).
pub async fn put_ceremony(
    tx: &mut super::Tx,
    key: &str,
    user: Option<UserId>,
    state: &str,
    expires_at: i64,
    now: i64,
) -> Result<(), DbError> {
    sqlx::query("DELETE FROM webauthn_ceremonies WHERE expires_at <= $1")
        .bind(now)
        .execute(&mut **tx)
        .await?;
    // An upsert: two starts at once (a double click) must not collide on the key.
    sqlx::query(
        "INSERT INTO webauthn_ceremonies (id, user_id, state, expires_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, state = excluded.state, \
         expires_at = excluded.expires_at",
    )
    .bind(key)
    .bind(user)
    .bind(state)
    .bind(expires_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Takes the ceremony under `key` (it can be answered once), if it has not expired.
pub async fn take_ceremony(
    db: impl AnyExecutor<'_>,
    key: &str,
    now: i64,
) -> Result<Option<String>, DbError> {
    let row: Option<(String, i64)> =
        sqlx::query_as("DELETE FROM webauthn_ceremonies WHERE id = $1 RETURNING state, expires_at")
            .bind(key)
            .fetch_optional(db)
            .await?;
    Ok(row
        .filter(|(_, expires)| *expires > now)
        .map(|(state, _)| state))
}
