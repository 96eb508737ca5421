//! Share links and the images they show. Owner queries are scoped to the owner; public
//! ones find a share by its token's hash only, and the service decides whether it is
//! still live.

use super::ids::{ImageId, ShareId, UserId};
use super::images::ImageRow;
use super::{AnyExecutor, DbError, Tx};

/// A stored share.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Share {
    /// Random id (the owner's handle on it).
    pub id: ShareId,
    /// Whose images it shows.
    pub owner_id: UserId,
    /// The owner's title, if any.
    pub title: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds; dead from then on.
    pub expires_at: i64,
    /// Argon2id PHC string, when a password is set.
    pub password_hash: Option<String>,
    /// Openings allowed, if limited.
    pub max_views: Option<i64>,
    /// Openings so far.
    pub views: i64,
    /// 1 when the stored image may be downloaded.
    pub allow_download: i64,
    /// 1 when renderings carry the watermark.
    pub watermark: i64,
    /// When the owner revoked it.
    pub revoked_at: Option<i64>,
}

const COLUMNS: &str = "id, owner_id, title, created_at, expires_at, password_hash, max_views, \
     views, allow_download, watermark, revoked_at";

/// A share to insert.
pub struct NewShare<'a> {
    /// The owner.
    pub owner_id: UserId,
    /// SHA-256 of the token.
    pub token_hash: &'a str,
    /// Title, if any.
    pub title: Option<&'a str>,
    /// Creation time.
    pub now: i64,
    /// Expiry.
    pub expires_at: i64,
    /// Argon2id PHC string, if a password is set.
    pub password_hash: Option<&'a str>,
    /// View limit, if any.
    pub max_views: Option<i64>,
    /// Downloads allowed.
    pub allow_download: bool,
    /// Watermark renderings.
    pub watermark: bool,
}

/// Inserts the share and its images (numbered from 1 in the given order), in the
/// caller's transaction. Returns `None` when an image is not the owner's (nothing is
/// written then: the caller rolls back).
pub async fn insert(
    tx: &mut Tx,
    new: &NewShare<'_>,
    images: &[ImageId],
) -> Result<Option<ShareId>, DbError> {
    let id = ShareId::random();
    sqlx::query(
        "INSERT INTO shares (id, owner_id, token_hash, title, created_at, expires_at, \
         password_hash, max_views, allow_download, watermark) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(id)
    .bind(new.owner_id)
    .bind(new.token_hash)
    .bind(new.title)
    .bind(new.now)
    .bind(new.expires_at)
    .bind(new.password_hash)
    .bind(new.max_views)
    .bind(i64::from(new.allow_download))
    .bind(i64::from(new.watermark))
    .execute(&mut **tx)
    .await?;
    for (n, image) in (1_i64..).zip(images) {
        // Only the owner's own image is copied in: another's id inserts nothing.
        let done = sqlx::query(
            "INSERT INTO share_images (share_id, n, image_id) \
             SELECT $1, $2, id FROM images WHERE id = $3 AND owner_id = $4",
        )
        .bind(id)
        .bind(n)
        .bind(*image)
        .bind(new.owner_id)
        .execute(&mut **tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(None);
        }
    }
    Ok(Some(id))
}

/// The owner's shares, newest first, with how many images each still shows.
pub async fn list(db: impl AnyExecutor<'_>, owner: UserId) -> Result<Vec<(Share, i64)>, DbError> {
    let sql = format!(
        "SELECT {COLUMNS}, (SELECT COUNT(*) FROM share_images i WHERE i.share_id = shares.id) \
         AS image_count FROM shares WHERE owner_id = $1 ORDER BY created_at DESC, id DESC"
    );
    let rows: Vec<ShareWithCount> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(owner)
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(|r| (r.share, r.image_count)).collect())
}

#[derive(sqlx::FromRow)]
struct ShareWithCount {
    #[sqlx(flatten)]
    share: Share,
    image_count: i64,
}

/// Revokes the owner's share; `false` when it is not theirs or already revoked.
pub async fn revoke(
    db: impl AnyExecutor<'_>,
    owner: UserId,
    id: ShareId,
    now: i64,
) -> Result<bool, DbError> {
    let done = sqlx::query(
        "UPDATE shares SET revoked_at = $3 WHERE id = $1 AND owner_id = $2 AND revoked_at IS NULL",
    )
    .bind(id)
    .bind(owner)
    .bind(now)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The share whose token hashes to `token_hash`, live or not.
pub async fn by_token(
    db: impl AnyExecutor<'_>,
    token_hash: &str,
) -> Result<Option<Share>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM shares WHERE token_hash = $1");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(token_hash)
        .fetch_optional(db)
        .await?)
}

/// Counts one opening, only while the share is live and under its view limit; returns
/// whether it was counted (so the limit holds across instances and racing viewers).
pub async fn count_view(db: impl AnyExecutor<'_>, id: ShareId, now: i64) -> Result<bool, DbError> {
    let done = sqlx::query(
        "UPDATE shares SET views = views + 1 WHERE id = $1 AND revoked_at IS NULL \
         AND expires_at > $2 AND (max_views IS NULL OR views < max_views)",
    )
    .bind(id)
    .bind(now)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The share's images in order, with their numbers.
pub async fn images(
    db: impl AnyExecutor<'_>,
    id: ShareId,
) -> Result<Vec<(i64, ImageRow)>, DbError> {
    let sql = format!(
        "SELECT s.n, {} FROM share_images s JOIN images i ON i.id = s.image_id \
         WHERE s.share_id = $1 ORDER BY s.n",
        super::images::columns_of("i")
    );
    let rows: Vec<Numbered> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(|r| (r.n, r.image)).collect())
}

/// The share's image number `n`, if it still exists.
pub async fn image(
    db: impl AnyExecutor<'_>,
    id: ShareId,
    n: i64,
) -> Result<Option<ImageRow>, DbError> {
    let sql = format!(
        "SELECT s.n, {} FROM share_images s JOIN images i ON i.id = s.image_id \
         WHERE s.share_id = $1 AND s.n = $2",
        super::images::columns_of("i")
    );
    let row: Option<Numbered> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(n)
        .fetch_optional(db)
        .await?;
    Ok(row.map(|r| r.image))
}

#[derive(sqlx::FromRow)]
struct Numbered {
    n: i64,
    #[sqlx(flatten)]
    image: ImageRow,
}
