//! Share links: chosen images of an owner's, for people without an account.
//!
//! - The link's token is 256 random bits, stored only as its SHA-256; the link is shown
//!   once, at creation.
//! - A link is dead when unknown, revoked, expired or past its view limit, and every
//!   dead link answers exactly like an unknown one (404), as does an image number the
//!   share does not have.
//! - Opening a link counts a view (atomically against the limit, over every instance)
//!   and hands out an access token for an hour: the images of the share are served only
//!   with it, so the view limit also limits what can be fetched. With a password, the
//!   access comes from the unlock instead (Argon2id, rate limited).
//! - Public answers name images by their number in the share, never by id, and never
//!   show the owner or a filename.
//! - Every creation, opening, unlock, wrong password and revocation is an audit event
//!   about the owner, who sees them in their activity.

use std::net::IpAddr;

use imagevault_common::api::{
    PublicShare, PublicShareItem, ShareCreated, ShareList, ShareRequest, ShareSummary,
};
use secrecy::ExposeSecret;
use time::OffsetDateTime;

use crate::audit::{self, Event, Kind};
use crate::crypto::{hash_token, random_token, same, sign};
use crate::db::ids::{ImageId, ShareId, UserId};
use crate::db::images::ImageRow;
use crate::db::now;
use crate::db::shares::{self as rows, NewShare, Share};
use crate::error::ApiError;
use crate::state::AppState;
use crate::throttle::{self, Limit};

/// Most images one link shows.
pub const MAX_IMAGES: usize = 500;
/// Shortest and longest life of a link, and the default.
const MIN_TTL: i64 = 60;
const MAX_TTL: i64 = 90 * 24 * 3600;
const DEFAULT_TTL: i64 = 7 * 24 * 3600;
/// Longest title.
const MAX_TITLE: usize = 100;
/// A share password's length bounds.
const PASSWORDS: std::ops::RangeInclusive<usize> = 8..=128;
/// Most views a link may be limited to.
const MAX_VIEWS: i64 = 1_000_000;
/// How long one opening (or unlock) lets its images be fetched.
const ACCESS_TTL: i64 = 3600;
/// Openings from one address: each is a database write and an audit row.
const OPEN_PER_IP: Limit = Limit {
    name: "share-open-ip",
    max: 60,
    window: 60,
};
/// Password tries on one link, and from one address.
const UNLOCK_PER_SHARE: Limit = Limit {
    name: "share-unlock",
    max: 10,
    window: 60,
};
const UNLOCK_PER_IP: Limit = Limit {
    name: "share-unlock-ip",
    max: 30,
    window: 60,
};

fn invalid(why: impl Into<String>) -> ApiError {
    ApiError::InvalidShare(why.into())
}

/// The settings of a request, checked.
struct Settings {
    images: Vec<ImageId>,
    title: Option<String>,
    ttl: i64,
    max_views: Option<i64>,
}

fn check(request: &ShareRequest) -> Result<Settings, ApiError> {
    let count = request.image_ids.len();
    if count == 0 || count > MAX_IMAGES {
        return Err(invalid(format!(
            "Choose 1 to {MAX_IMAGES} images to share."
        )));
    }
    let mut images: Vec<ImageId> = Vec::with_capacity(count);
    for id in &request.image_ids {
        let id = ImageId::from(*id);
        if images.contains(&id) {
            return Err(invalid("Each image can be in a link once."));
        }
        images.push(id);
    }
    let title = request
        .title
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned);
    if title
        .as_ref()
        .is_some_and(|t| t.chars().count() > MAX_TITLE || t.chars().any(char::is_control))
    {
        return Err(invalid(format!(
            "The title can have up to {MAX_TITLE} characters, on one line."
        )));
    }
    let ttl = request.expires_in_seconds.unwrap_or(DEFAULT_TTL);
    if !(MIN_TTL..=MAX_TTL).contains(&ttl) {
        return Err(invalid("A link can last from a minute to 90 days."));
    }
    if request
        .max_views
        .is_some_and(|v| !(1..=MAX_VIEWS).contains(&v))
    {
        return Err(invalid(format!("The view limit can be 1 to {MAX_VIEWS}.")));
    }
    if let Some(password) = &request.password
        && !PASSWORDS.contains(&password.expose_secret().chars().count())
    {
        return Err(invalid("A link's password has 8 to 128 characters."));
    }
    Ok(Settings {
        images,
        title,
        ttl,
        max_views: request.max_views,
    })
}

/// `POST /shares`: a new link to `owner`'s images. 404 when one of them is not theirs
/// (exactly as for an image that does not exist); nothing is stored then.
pub async fn create(
    state: &AppState,
    owner: UserId,
    request: &ShareRequest,
) -> Result<ShareCreated, ApiError> {
    let settings = check(request)?;
    let password_hash = match &request.password {
        Some(password) => Some(state.hasher.hash(password.expose_secret()).await?),
        None => None,
    };
    let token = random_token();
    let now = now();
    let new = NewShare {
        owner_id: owner,
        token_hash: &hash_token(&token),
        title: settings.title.as_deref(),
        now,
        expires_at: now + settings.ttl,
        password_hash: password_hash.as_deref(),
        max_views: settings.max_views,
        allow_download: request.allow_download,
        watermark: request.watermark,
    };
    let mut tx = state.db.begin().await?;
    let id = rows::insert(&mut tx, &new, &settings.images)
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    let event = Event::new(Kind::ShareCreated).user(owner);
    let event = event
        .with("share", id.to_string())
        .with("images", settings.images.len());
    audit::record(state, event).await;
    // What was just stored, as the list will show it (no need to read it back).
    let share = Share {
        id,
        owner_id: owner,
        title: settings.title.clone(),
        created_at: now,
        expires_at: new.expires_at,
        password_hash: password_hash.clone(),
        max_views: settings.max_views,
        views: 0,
        allow_download: i64::from(request.allow_download),
        watermark: i64::from(request.watermark),
        revoked_at: None,
    };
    let image_count = i64::try_from(settings.images.len()).unwrap_or(i64::MAX);
    Ok(ShareCreated {
        url: format!("{}/s/{token}", state.config.public_url),
        share: summary(&share, image_count),
    })
}

/// `GET /shares`: the owner's links, newest first.
pub async fn list(state: &AppState, owner: UserId) -> Result<ShareList, ApiError> {
    let items = rows::list(state.db.pool(), owner).await?;
    Ok(ShareList {
        items: items.iter().map(|(s, n)| summary(s, *n)).collect(),
    })
}

/// `DELETE /shares/{id}`: the link is dead at once, on every instance.
pub async fn revoke(state: &AppState, owner: UserId, id: ShareId) -> Result<(), ApiError> {
    if !rows::revoke(state.db.pool(), owner, id, now()).await? {
        return Err(ApiError::NotFound);
    }
    let event = Event::new(Kind::ShareRevoked).user(owner);
    audit::record(state, event.with("share", id.to_string())).await;
    Ok(())
}

fn time_of(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(seconds).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn summary(share: &Share, image_count: i64) -> ShareSummary {
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    ShareSummary {
        id: share.id.uuid(),
        title: share.title.clone(),
        image_count: count(image_count),
        created_at: time_of(share.created_at),
        expires_at: time_of(share.expires_at),
        views: count(share.views),
        max_views: share.max_views.map(count),
        allow_download: share.allow_download == 1,
        watermark: share.watermark == 1,
        has_password: share.password_hash.is_some(),
        revoked: share.revoked_at.is_some(),
    }
}

/// The live share a token names; every dead or unknown one is the same 404. A share
/// that reached its view limit is dead for new openings but still serves the images of
/// openings already counted (their access tokens), so `views == max_views` is live here.
async fn live(state: &AppState, token: &str) -> Result<Share, ApiError> {
    let token = token.trim();
    if token.is_empty() || token.len() > 128 {
        return Err(ApiError::NotFound);
    }
    let share = rows::by_token(state.db.pool(), &hash_token(token))
        .await?
        .ok_or(ApiError::NotFound)?;
    if share.revoked_at.is_some() || share.expires_at <= now() {
        return Err(ApiError::NotFound);
    }
    Ok(share)
}

/// What an access token proves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// The password was right; the opening is still to be counted.
    Unlocked,
    /// An opening was counted: its pages and images need no new count.
    Opened,
}

impl Access {
    fn tag(self) -> &'static str {
        match self {
            Self::Unlocked => "u",
            Self::Opened => "o",
        }
    }
}

/// An access token: what it proves, the share and an expiry, signed under `SECRET_KEY`
/// (stateless, so any instance can check it).
fn access_for(state: &AppState, share: ShareId, access: Access, until: i64) -> String {
    let tag = access.tag();
    let signature = sign(
        state.secret_key.expose_secret().as_bytes(),
        format!("share-access:{share}:{tag}:{until}").as_bytes(),
    );
    format!("{tag}.{until}.{signature}")
}

/// What a presented access token proves for this share, if it is genuine and current.
pub fn access_of(state: &AppState, share: &Share, access: Option<&str>) -> Option<Access> {
    let presented = access?;
    let mut parts = presented.splitn(3, '.');
    let kind = match parts.next()? {
        "u" => Access::Unlocked,
        "o" => Access::Opened,
        _ => return None,
    };
    let until = parts.next()?.parse::<i64>().ok()?;
    let genuine = same(presented, &access_for(state, share.id, kind, until));
    (until > now() && genuine).then_some(kind)
}

/// `GET /public/shares/{token}`: one opening. With a password, the access of an unlock
/// is needed first (401 `password_required`, nothing counted). The view is counted —
/// or, past the limit, the link is dead (404) — unless the request carries the access of
/// an opening already counted (a visitor going back to the gallery page).
pub async fn open(
    state: &AppState,
    token: &str,
    access: Option<&str>,
    ip: IpAddr,
) -> Result<PublicShare, ApiError> {
    throttle::check(&state.db, OPEN_PER_IP, &throttle::ip_key(ip)).await?;
    let share = live(state, token).await?;
    let presented = access_of(state, &share, access);
    if share.password_hash.is_some() && presented.is_none() {
        return Err(ApiError::PasswordRequired);
    }
    let access = if presented == Some(Access::Opened) {
        // Back to a page of an opening already counted.
        access.unwrap_or_default().to_owned()
    } else {
        if !rows::count_view(state.db.pool(), share.id, now()).await? {
            return Err(ApiError::NotFound);
        }
        let event = Event::new(Kind::ShareOpened).user(share.owner_id).from(ip);
        audit::record(state, event.with("share", share.id.to_string())).await;
        access_for(state, share.id, Access::Opened, now() + ACCESS_TTL)
    };
    let items = rows::images(state.db.pool(), share.id).await?;
    Ok(PublicShare {
        title: share.title.clone(),
        expires_at: time_of(share.expires_at),
        allow_download: share.allow_download == 1,
        items: items
            .iter()
            .map(|(n, row)| PublicShareItem {
                n: u64::try_from(*n).unwrap_or(0),
                width: row.width,
                height: row.height,
                content_type: row.content_type.clone(),
            })
            .collect(),
        access,
    })
}

/// `POST /public/shares/{token}/unlock`: the password, rate limited per link and per
/// address, for an access token.
pub async fn unlock(
    state: &AppState,
    token: &str,
    password: &str,
    ip: IpAddr,
) -> Result<String, ApiError> {
    throttle::check(&state.db, UNLOCK_PER_IP, &throttle::ip_key(ip)).await?;
    let share = live(state, token).await?;
    throttle::check(&state.db, UNLOCK_PER_SHARE, &share.id.to_string()).await?;
    let Some(stored) = share.password_hash.as_deref() else {
        // Nothing to unlock: any password is "right", and the opening counts as usual.
        return Ok(access_for(
            state,
            share.id,
            Access::Unlocked,
            now() + ACCESS_TTL,
        ));
    };
    let about = |kind| {
        Event::new(kind)
            .user(share.owner_id)
            .from(ip)
            .with("share", share.id.to_string())
    };
    if !state.hasher.verify(password, Some(stored)).await? {
        audit::record(state, about(Kind::ShareWrongPassword)).await;
        return Err(ApiError::InvalidCredentials);
    }
    audit::record(state, about(Kind::ShareUnlocked)).await;
    Ok(access_for(
        state,
        share.id,
        Access::Unlocked,
        now() + ACCESS_TTL,
    ))
}

/// Whether the stored image itself is asked for, or only something to look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// The thumbnail.
    Thumbnail,
    /// A rendering (at most 2048 px, re-encoded, watermarked when set).
    View,
    /// The stored image, as a download (only when the owner allowed downloads).
    Download,
}

/// Image `n` of a live share, for the holder of an opening's access: the row to serve
/// from. A number the share does not have is the same 404 as a dead link.
pub async fn image(
    state: &AppState,
    token: &str,
    n: &str,
    access: Option<&str>,
    want: Want,
) -> Result<(Share, ImageRow), ApiError> {
    let share = live(state, token).await?;
    let n: i64 = n.parse().map_err(|_| ApiError::NotFound)?;
    if access_of(state, &share, access) != Some(Access::Opened) {
        return Err(if share.password_hash.is_some() {
            ApiError::PasswordRequired
        } else {
            ApiError::NotFound
        });
    }
    if want == Want::Download && share.allow_download != 1 {
        return Err(ApiError::NotFound);
    }
    let row = rows::image(state.db.pool(), share.id, n)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok((share, row))
}

/// The rendering of a share's image: decoded, scaled, watermarked when the owner asked
/// (the title, or "Shared via ImageVault", and today's date), re-encoded. Made on the
/// blocking pool under the same bound as uploads' decoding.
pub async fn rendering(
    state: &AppState,
    share: &Share,
    row: &ImageRow,
) -> Result<Vec<u8>, ApiError> {
    let stored = crate::images::content(state, row, crate::vault::blob::BlobKind::Image)
        .await?
        .bytes();
    let watermark = (share.watermark == 1).then(|| {
        let what = share.title.as_deref().unwrap_or("Shared via ImageVault");
        let today = OffsetDateTime::now_utc().date();
        format!("{what} · {today}")
    });
    crate::images::on_image_pool(state, move || {
        crate::rendering::render(&stored, watermark.as_deref())
    })
    .await?
    .map_err(ApiError::internal)
}

/// The numbers of a live share's images, for the holder of an opening's access (the
/// public image page's previous and next).
pub async fn numbers(
    state: &AppState,
    token: &str,
    access: Option<&str>,
) -> Result<(Share, Vec<i64>), ApiError> {
    let share = live(state, token).await?;
    if access_of(state, &share, access) != Some(Access::Opened) {
        return Err(ApiError::NotFound);
    }
    let numbers = rows::images(state.db.pool(), share.id)
        .await?
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    Ok((share, numbers))
}
