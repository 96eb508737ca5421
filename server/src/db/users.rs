//! Accounts.

use super::ids::UserId;
use super::{AnyExecutor, DbError};

/// A stored account.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct User {
    /// Random id.
    pub id: UserId,
    /// Normalised email.
    pub email: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// 1 for administrators.
    pub is_admin: i64,
    /// When the email was verified, if it was.
    pub email_verified_at: Option<i64>,
    /// Creation time.
    pub created_at: i64,
}

const COLUMNS: &str = "id, email, password_hash, is_admin, email_verified_at, created_at";

impl User {
    /// Whether the email address was verified.
    pub fn verified(&self) -> bool {
        self.email_verified_at.is_some()
    }
}

/// A new account to insert.
pub struct NewUser<'a> {
    /// Normalised email.
    pub email: &'a str,
    /// Argon2id PHC string.
    pub password_hash: &'a str,
    /// Administrator?
    pub is_admin: bool,
    /// Verified at creation (the `create-user` command) or not (registration).
    pub verified_at: Option<i64>,
    /// Creation time.
    pub now: i64,
}

/// Inserts an account; a duplicate email is a unique violation for the caller to map
/// (see [`super::is_unique_violation`]).
pub async fn insert(db: impl AnyExecutor<'_>, user: &NewUser<'_>) -> Result<UserId, DbError> {
    let id = UserId::random();
    sqlx::query(
        "INSERT INTO users (id, email, password_hash, is_admin, email_verified_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(user.email)
    .bind(user.password_hash)
    .bind(i64::from(user.is_admin))
    .bind(user.verified_at)
    .bind(user.now)
    .execute(db)
    .await?;
    Ok(id)
}

/// The account with this normalised email.
pub async fn by_email(db: impl AnyExecutor<'_>, email: &str) -> Result<Option<User>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE email = $1");
    Ok(sqlx::query_as::<_, User>(sqlx::AssertSqlSafe(sql))
        .bind(email)
        .fetch_optional(db)
        .await?)
}

/// The account with this id.
pub async fn by_id(db: impl AnyExecutor<'_>, id: UserId) -> Result<Option<User>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE id = $1");
    Ok(sqlx::query_as::<_, User>(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(db)
        .await?)
}

/// Marks the email verified (idempotent).
pub async fn mark_verified(db: impl AnyExecutor<'_>, id: UserId, now: i64) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE users SET email_verified_at = COALESCE(email_verified_at, $2) WHERE id = $1",
    )
    .bind(id)
    .bind(now)
    .execute(db)
    .await?;
    Ok(())
}

/// Replaces the password.
pub async fn set_password(
    db: impl AnyExecutor<'_>,
    id: UserId,
    password_hash: &str,
) -> Result<(), DbError> {
    sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
        .bind(id)
        .bind(password_hash)
        .execute(db)
        .await?;
    Ok(())
}

/// Deletes an account; its sessions, tokens, key and image rows go with it (cascade).
pub async fn delete(db: impl AnyExecutor<'_>, id: UserId) -> Result<(), DbError> {
    sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}
