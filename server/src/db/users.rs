//! Accounts and their login-failure counters.

use uuid::Uuid;

use super::{Db, DbError};

/// A stored account.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct User {
    /// Random id (UUID text).
    pub id: String,
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

impl Db {
    /// Inserts an account; a duplicate email is a unique violation for the caller to map.
    pub async fn insert_user(&self, user: &NewUser<'_>) -> Result<String, sqlx::Error> {
        let id = Uuid::new_v4().to_string();
        sqlx::query(
            "INSERT INTO users (id, email, password_hash, is_admin, email_verified_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&id)
        .bind(user.email)
        .bind(user.password_hash)
        .bind(i64::from(user.is_admin))
        .bind(user.verified_at)
        .bind(user.now)
        .execute(self.pool())
        .await?;
        Ok(id)
    }

    /// The account with this normalised email.
    pub async fn user_by_email(&self, email: &str) -> Result<Option<User>, DbError> {
        let sql = format!("SELECT {COLUMNS} FROM users WHERE email = $1");
        Ok(sqlx::query_as::<_, User>(sqlx::AssertSqlSafe(sql))
            .bind(email)
            .fetch_optional(self.pool())
            .await?)
    }

    /// The account with this id.
    pub async fn user_by_id(&self, id: &str) -> Result<Option<User>, DbError> {
        let sql = format!("SELECT {COLUMNS} FROM users WHERE id = $1");
        Ok(sqlx::query_as::<_, User>(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(self.pool())
            .await?)
    }

    /// Marks the email verified (idempotent).
    pub async fn mark_verified(&self, user_id: &str, now: i64) -> Result<(), DbError> {
        sqlx::query(
            "UPDATE users SET email_verified_at = COALESCE(email_verified_at, $2) WHERE id = $1",
        )
        .bind(user_id)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Replaces the password.
    pub async fn set_password(&self, user_id: &str, password_hash: &str) -> Result<(), DbError> {
        sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
            .bind(user_id)
            .bind(password_hash)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}

impl Db {
    /// Deletes an account; its sessions, tokens and image rows go with it (cascade).
    pub async fn delete_user(&self, user_id: &str) -> Result<(), DbError> {
        sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(user_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
