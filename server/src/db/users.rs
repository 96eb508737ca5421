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
    /// Argon2id PHC string; empty for an account made by single sign-on that never set
    /// a password (see [`User::password`]).
    pub password_hash: String,
    /// 1 for administrators.
    pub is_admin: i64,
    /// When the email was verified, if it was.
    pub email_verified_at: Option<i64>,
    /// Creation time.
    pub created_at: i64,
    /// When an administrator disabled the account, if one did.
    pub disabled_at: Option<i64>,
}

const COLUMNS: &str =
    "id, email, password_hash, is_admin, email_verified_at, created_at, disabled_at";

impl User {
    /// The password's hash, if the account has a password: one made by single sign-on
    /// has none until a reset gives it one, and no password matches it.
    pub fn password(&self) -> Option<&str> {
        Some(self.password_hash.as_str()).filter(|hash| !hash.is_empty())
    }

    /// Whether the email address was verified.
    pub fn verified(&self) -> bool {
        self.email_verified_at.is_some()
    }

    /// Whether an administrator disabled the account.
    pub fn disabled(&self) -> bool {
        self.disabled_at.is_some()
    }

    /// Whether the account is an administrator's.
    pub fn admin(&self) -> bool {
        self.is_admin == 1
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

/// Records a sign-in's time, only while the account is enabled; returns whether it is.
pub async fn signed_in(db: impl AnyExecutor<'_>, id: UserId, now: i64) -> Result<bool, DbError> {
    let done =
        sqlx::query("UPDATE users SET last_sign_in_at = $2 WHERE id = $1 AND disabled_at IS NULL")
            .bind(id)
            .bind(now)
            .execute(db)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// Disables (`Some(now)`) or enables (`None`) an account; returns whether it exists.
pub async fn set_disabled(
    db: impl AnyExecutor<'_>,
    id: UserId,
    disabled_at: Option<i64>,
) -> Result<bool, DbError> {
    let done = sqlx::query("UPDATE users SET disabled_at = $2 WHERE id = $1")
        .bind(id)
        .bind(disabled_at)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Sets an account's own quota (`None`: the server's default); returns whether it
/// exists.
pub async fn set_quota(
    db: impl AnyExecutor<'_>,
    id: UserId,
    quota_bytes: Option<i64>,
) -> Result<bool, DbError> {
    let done = sqlx::query("UPDATE users SET quota_bytes = $2 WHERE id = $1")
        .bind(id)
        .bind(quota_bytes)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// The addresses alerts go to: verified administrators not disabled.
pub async fn admin_emails(db: impl AnyExecutor<'_>) -> Result<Vec<String>, DbError> {
    Ok(sqlx::query_scalar(
        "SELECT email FROM users WHERE is_admin = 1 AND email_verified_at IS NOT NULL \
         AND disabled_at IS NULL ORDER BY email",
    )
    .fetch_all(db)
    .await?)
}

/// An account as the admin console shows it: state and usage, never content.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Overview {
    /// Random id.
    pub id: UserId,
    /// Normalised email.
    pub email: String,
    /// Creation time.
    pub created_at: i64,
    /// When the email was verified, if it was.
    pub email_verified_at: Option<i64>,
    /// When the account was disabled, if it is.
    pub disabled_at: Option<i64>,
    /// 1 for administrators.
    pub is_admin: i64,
    /// 1 when two-step sign-in is on.
    pub totp: i64,
    /// Images stored.
    pub image_count: i64,
    /// Bytes stored.
    pub bytes_used: i64,
    /// Its own quota; `None` means the default.
    pub quota_bytes: Option<i64>,
    /// The last sign-in, if recorded.
    pub last_sign_in_at: Option<i64>,
}

const OVERVIEW: &str = "SELECT id, email, created_at, email_verified_at, disabled_at, is_admin, \
     CASE WHEN EXISTS (SELECT 1 FROM totp_secrets t WHERE t.user_id = users.id \
     AND t.confirmed_at IS NOT NULL) THEN 1 ELSE 0 END AS totp, \
     image_count, bytes_used, quota_bytes, last_sign_in_at FROM users";

/// Up to `limit` accounts whose address contains `needle` (lower-case; `%`, `_` and
/// `\` taken literally), in address order after `after`.
pub async fn search(
    db: impl AnyExecutor<'_>,
    needle: &str,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<Overview>, DbError> {
    let escaped: String = needle
        .chars()
        .flat_map(|c| match c {
            '%' | '_' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    let sql = format!(
        "{OVERVIEW} WHERE email LIKE $1 ESCAPE '\\' AND ($2 IS NULL OR email > $2) \
         ORDER BY email LIMIT $3"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(format!("%{escaped}%"))
        .bind(after)
        .bind(limit)
        .fetch_all(db)
        .await?)
}

/// One account's overview.
pub async fn overview(db: impl AnyExecutor<'_>, id: UserId) -> Result<Option<Overview>, DbError> {
    let sql = format!("{OVERVIEW} WHERE id = $1");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(db)
        .await?)
}
