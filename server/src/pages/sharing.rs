//! The owner's side of share links in the browser: choosing settings for the images
//! picked in the gallery, the link shown once, and the list of links with their views
//! and a revoke button. Plain forms that work without JavaScript; `share.js` only adds
//! the selection count and the copy button. The rules are [`crate::shares`]'s.

use askama::Template;
use imagevault_common::api::{ShareRequest, ShareSummary};
use imagevault_common::image::thumbnail_size;
use salvo::prelude::*;
use serde::Deserialize;
use time::OffsetDateTime;
use uuid::Uuid;

use super::gallery::date_text;
use super::{read_form, redirect, render_html, signed_in_get};
use crate::db::ids::{ImageId, ShareId};
use crate::error::ApiError;
use crate::http::extract::{AuthUser, PageUser, path_id};
use crate::{audit, images, shares};

/// Chosen images the settings form shows as thumbnails; the rest are counted.
const PREVIEWS: usize = 12;
/// Share events the list page shows under the links.
const EVENTS_SHOWN: usize = 10;

pub(super) fn router() -> Router {
    Router::with_path("shares")
        .push(signed_in_get(list_page))
        .push(
            Router::with_path("new")
                .push(signed_in_get(new_page))
                .push(Router::new().post(create_submit)),
        )
        .push(Router::with_path("{id}/revoke").post(revoke_submit))
}

/// How long a link lasts: the form's choices, in seconds.
const LIFETIMES: [(i64, &str); 5] = [
    (3600, "1 hour"),
    (86_400, "1 day"),
    (7 * 86_400, "7 days"),
    (30 * 86_400, "30 days"),
    (90 * 86_400, "90 days"),
];
const DEFAULT_LIFETIME: i64 = 7 * 86_400;

/// A chosen image on the settings form.
struct Chosen {
    id: String,
    filename: String,
    thumb_width: u32,
    thumb_height: u32,
}

/// What the form was filled with, so a refused form comes back as it was sent.
struct Filled {
    title: String,
    lifetime: i64,
    max_views: String,
    allow_download: bool,
    watermark: bool,
}

impl Default for Filled {
    fn default() -> Self {
        Self {
            title: String::new(),
            lifetime: DEFAULT_LIFETIME,
            max_views: String::new(),
            allow_download: false,
            watermark: true,
        }
    }
}

#[derive(Template)]
#[template(path = "share_new.html")]
struct NewPage<'a> {
    csrf: &'a str,
    error: Option<&'a str>,
    chosen: Vec<Chosen>,
    /// Chosen images beyond the previews.
    more: usize,
    ids: Vec<String>,
    filled: Filled,
    lifetimes: &'static [(i64, &'static str)],
}

/// The first images a form or query names, for their thumbnails: the caller's own, or
/// 404 for any that is not (exactly as for one that does not exist). The rest are
/// checked when the link is made, in one statement, rather than one query each here.
async fn previews(user: &AuthUser, ids: &[String]) -> Result<Vec<Chosen>, ApiError> {
    let mut chosen = Vec::with_capacity(ids.len().min(PREVIEWS));
    for id in ids.iter().take(PREVIEWS) {
        let id: ImageId = path_id(id.trim())?;
        let image = images::get(&user.state, user.caller.user_id, id).await?;
        let (thumb_width, thumb_height) = thumbnail_size(image.row.width, image.row.height);
        chosen.push(Chosen {
            id: image.row.id.to_string(),
            filename: image.filename,
            thumb_width,
            thumb_height,
        });
    }
    Ok(chosen)
}

#[derive(Deserialize, Default)]
struct Selection {
    #[serde(default)]
    image: Vec<String>,
}

/// Without a selection there is nothing to share: back to the gallery, said plainly.
fn nothing_chosen(res: &mut Response) -> Result<(), ApiError> {
    res.status_code(StatusCode::BAD_REQUEST);
    render_html(
        res,
        &super::MessagePage {
            title: "Choose images to share",
            message: "Tick the images you want to share in the gallery, then press \
                      “Share selected…”.",
            link: Some(("/", "Back to the gallery")),
        },
    )
}

fn too_many(res: &mut Response) -> Result<(), ApiError> {
    res.status_code(StatusCode::UNPROCESSABLE_ENTITY);
    let message = format!(
        "A link can show up to {} images. Choose fewer in the gallery.",
        shares::MAX_IMAGES
    );
    render_html(
        res,
        &super::MessagePage {
            title: "Too many images",
            message: &message,
            link: Some(("/", "Back to the gallery")),
        },
    )
}

async fn render_new(
    user: &AuthUser,
    ids: Vec<String>,
    filled: Filled,
    error: Option<&str>,
    res: &mut Response,
) -> Result<(), ApiError> {
    if ids.is_empty() {
        return nothing_chosen(res);
    }
    if ids.len() > shares::MAX_IMAGES {
        return too_many(res);
    }
    let chosen = previews(user, &ids).await?;
    render_html(
        res,
        &NewPage {
            csrf: &user.csrf(),
            error,
            more: ids.len().saturating_sub(chosen.len()),
            chosen,
            ids,
            filled,
            lifetimes: &LIFETIMES,
        },
    )
}

/// `GET /shares/new?image=…&image=…`: the settings for a link to the chosen images.
#[handler]
async fn new_page(user: PageUser, req: &mut Request, res: &mut Response) -> Result<(), ApiError> {
    let selection: Selection = req.parse_queries().unwrap_or_default();
    render_new(&user, selection.image, Filled::default(), None, res).await
}

#[derive(Deserialize)]
struct CreateForm {
    #[serde(default)]
    image: Vec<String>,
    #[serde(default)]
    title: String,
    #[serde(default)]
    expires_in_seconds: String,
    #[serde(default)]
    password: secrecy::SecretString,
    #[serde(default)]
    max_views: String,
    #[serde(default)]
    allow_download: Option<String>,
    #[serde(default)]
    watermark: Option<String>,
}

impl CreateForm {
    fn filled(&self) -> Filled {
        Filled {
            title: self.title.clone(),
            lifetime: self
                .expires_in_seconds
                .trim()
                .parse()
                .unwrap_or(DEFAULT_LIFETIME),
            max_views: self.max_views.clone(),
            allow_download: self.allow_download.is_some(),
            watermark: self.watermark.is_some(),
        }
    }

    /// The ids of the chosen images; one that is not an id at all is the same 404 as an
    /// image that does not exist (only a forged form sends one).
    fn image_ids(&self) -> Result<Vec<Uuid>, ApiError> {
        self.image
            .iter()
            .map(|id| Uuid::parse_str(id.trim()).map_err(|_| ApiError::NotFound))
            .collect()
    }

    /// The API request this form stands for; `Err` says which field is wrong.
    fn request(&self, image_ids: Vec<Uuid>) -> Result<ShareRequest, &'static str> {
        use secrecy::ExposeSecret;
        let number = |text: &str| -> Result<Option<i64>, ()> {
            let text = text.trim();
            if text.is_empty() {
                Ok(None)
            } else {
                text.parse().map(Some).map_err(|_| ())
            }
        };
        let expires_in_seconds = number(&self.expires_in_seconds)
            .map_err(|()| "Choose how long the link lasts from the list.")?;
        let max_views = number(&self.max_views)
            .map_err(|()| "The view limit is a whole number, or empty for no limit.")?;
        let title = self.title.trim();
        let password = self.password.expose_secret();
        Ok(ShareRequest {
            image_ids,
            title: (!title.is_empty()).then(|| title.to_owned()),
            expires_in_seconds,
            password: (!password.is_empty()).then(|| password.into()),
            max_views,
            allow_download: self.allow_download.is_some(),
            watermark: self.watermark.is_some(),
        })
    }
}

#[derive(Template)]
#[template(path = "share_created.html")]
struct CreatedPage<'a> {
    csrf: &'a str,
    url: &'a str,
    link: LinkRow,
}

/// `POST /shares/new`: makes the link and shows it, this once.
#[handler]
async fn create_submit(
    user: AuthUser,
    req: &mut Request,
    res: &mut Response,
) -> Result<(), ApiError> {
    let form: CreateForm = read_form(req).await?;
    if form.image.is_empty() {
        return nothing_chosen(res);
    }
    let refused = |res: &mut Response, why: &str| {
        res.status_code(StatusCode::UNPROCESSABLE_ENTITY);
        why.to_owned()
    };
    let request = match form.request(form.image_ids()?) {
        Ok(request) => request,
        Err(why) => {
            let why = refused(res, why);
            return render_new(&user, form.image.clone(), form.filled(), Some(&why), res).await;
        }
    };
    match shares::create(&user.state, user.caller.user_id, &request).await {
        Ok(created) => render_html(
            res,
            &CreatedPage {
                csrf: &user.csrf(),
                url: &created.url,
                link: LinkRow::new(&created.share, OffsetDateTime::now_utc()),
            },
        ),
        Err(ApiError::InvalidShare(why)) => {
            let why = refused(res, &why);
            render_new(&user, form.image.clone(), form.filled(), Some(&why), res).await
        }
        Err(other) => Err(other),
    }
}

/// One link as the list shows it.
struct LinkRow {
    id: String,
    title: String,
    images: u64,
    created: String,
    expires: String,
    views: String,
    /// The view limit in words.
    limit: String,
    settings: String,
    status: &'static str,
    /// Whether revoking would still change something: not yet revoked or expired. (A link
    /// at its view limit still serves the openings already counted, for an hour.)
    revocable: bool,
}

impl LinkRow {
    fn new(share: &ShareSummary, now: OffsetDateTime) -> Self {
        let used_up = share.max_views.is_some_and(|max| share.views >= max);
        let status = if share.revoked {
            "Revoked"
        } else if share.expires_at <= now {
            "Expired"
        } else if used_up {
            "View limit reached"
        } else {
            "Active"
        };
        let mut settings = vec![if share.allow_download {
            "downloads allowed"
        } else {
            "view only"
        }];
        if share.watermark {
            settings.push("watermarked");
        }
        if share.has_password {
            settings.push("password");
        }
        Self {
            id: share.id.to_string(),
            title: share.title.clone().unwrap_or_else(|| "Untitled".into()),
            images: share.image_count,
            created: date_text(share.created_at),
            expires: date_text(share.expires_at),
            views: match share.max_views {
                Some(max) => format!("{} of {max}", share.views),
                None => share.views.to_string(),
            },
            limit: share
                .max_views
                .map_or_else(|| "none".into(), |max| max.to_string()),
            settings: settings.join(", "),
            status,
            revocable: !share.revoked && share.expires_at > now,
        }
    }
}

/// A share event under the list.
struct EventRow {
    at: String,
    what: &'static str,
    link: String,
    address: String,
}

#[derive(Template)]
#[template(path = "shares.html")]
struct ListPage<'a> {
    csrf: &'a str,
    links: Vec<LinkRow>,
    events: Vec<EventRow>,
    notice: Option<&'a str>,
}

/// `GET /shares`: the caller's links, newest first, and what happened to them lately.
#[handler]
async fn list_page(user: PageUser, req: &mut Request, res: &mut Response) -> Result<(), ApiError> {
    let list = shares::list(&user.state, user.caller.user_id).await?;
    let now = OffsetDateTime::now_utc();
    let title_of = |id: &str| {
        list.items
            .iter()
            .find(|s| s.id.to_string() == id)
            .map_or_else(String::new, |s| {
                s.title.clone().unwrap_or_else(|| "Untitled".into())
            })
    };
    let events = crate::admin::share_activity(&user.state, user.caller.user_id)
        .await?
        .items
        .into_iter()
        .take(EVENTS_SHOWN)
        .map(|e| EventRow {
            at: date_text(e.at),
            what: audit::Kind::parse(&e.kind).map_or("", audit::Kind::describe),
            link: title_of(e.detail["share"].as_str().unwrap_or_default()),
            address: e.address_hint.unwrap_or_default(),
        })
        .collect();
    let notice = req
        .query::<String>("revoked")
        .is_some()
        .then_some("The link was revoked: it no longer opens.");
    render_html(
        res,
        &ListPage {
            csrf: &user.csrf(),
            links: list.items.iter().map(|s| LinkRow::new(s, now)).collect(),
            events,
            notice,
        },
    )
}

#[derive(Template)]
#[template(path = "share_revoke.html")]
struct RevokePage<'a> {
    csrf: &'a str,
    link: LinkRow,
}

#[derive(Deserialize)]
struct RevokeForm {
    #[serde(default)]
    confirmed: String,
}

/// `POST /shares/{id}/revoke`: revokes once confirmed (by the script's prompt or the
/// confirmation page), then back to the list.
#[handler]
async fn revoke_submit(
    user: AuthUser,
    req: &mut Request,
    res: &mut Response,
) -> Result<(), ApiError> {
    let id: ShareId = path_id(&req.param::<String>("id").unwrap_or_default())?;
    let form: RevokeForm = read_form(req).await?;
    let link = shares::list(&user.state, user.caller.user_id)
        .await?
        .items
        .into_iter()
        .find(|s| s.id == id.uuid())
        .ok_or(ApiError::NotFound)?;
    // A second press (or a resubmitted form) finds the work done: said, not an error.
    if form.confirmed == "yes" || link.revoked {
        if !link.revoked {
            shares::revoke(&user.state, user.caller.user_id, id).await?;
        }
        redirect(res, "/shares?revoked=1");
        return Ok(());
    }
    render_html(
        res,
        &RevokePage {
            csrf: &user.csrf(),
            link: LinkRow::new(&link, OffsetDateTime::now_utc()),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> CreateForm {
        let field = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        };
        CreateForm {
            image: pairs
                .iter()
                .filter(|(k, _)| *k == "image")
                .map(|(_, v)| (*v).to_owned())
                .collect(),
            title: field("title").unwrap_or_default(),
            expires_in_seconds: field("expires_in_seconds").unwrap_or_default(),
            password: field("password").unwrap_or_default().into(),
            max_views: field("max_views").unwrap_or_default(),
            allow_download: field("allow_download"),
            watermark: field("watermark"),
        }
    }

    #[test]
    fn an_empty_field_means_the_default_and_a_ticked_box_means_on() {
        let id = Uuid::new_v4().to_string();
        let form = form(&[
            ("image", &id),
            ("title", "  "),
            ("expires_in_seconds", "3600"),
            ("max_views", ""),
            ("watermark", "on"),
        ]);
        let request = form.request(form.image_ids().unwrap()).unwrap();
        assert_eq!(request.image_ids, vec![Uuid::parse_str(&id).unwrap()]);
        assert_eq!(request.title, None);
        assert_eq!(request.expires_in_seconds, Some(3600));
        assert_eq!(request.max_views, None);
        assert!(request.password.is_none());
        assert!(request.watermark);
        assert!(!request.allow_download);
    }

    #[test]
    fn hostile_fields_are_named_not_guessed() {
        let forged = form(&[("image", "../etc/passwd")]).image_ids();
        assert!(matches!(forged, Err(ApiError::NotFound)), "{forged:?}");
        let id = Uuid::new_v4().to_string();
        for (pairs, why) in [
            (
                vec![("image", id.as_str()), ("max_views", "ten")],
                "whole number",
            ),
            (
                vec![("image", id.as_str()), ("max_views", "1e9")],
                "whole number",
            ),
            (
                vec![("image", id.as_str()), ("expires_in_seconds", "forever")],
                "how long",
            ),
        ] {
            let form = form(&pairs);
            let refused = form.request(form.image_ids().unwrap()).unwrap_err();
            assert!(refused.contains(why), "{pairs:?}: {refused}");
        }
    }

    #[test]
    fn the_status_says_why_a_link_no_longer_opens() {
        let now = OffsetDateTime::now_utc();
        let share = ShareSummary {
            id: Uuid::new_v4(),
            title: None,
            image_count: 2,
            created_at: now - time::Duration::days(1),
            expires_at: now + time::Duration::days(1),
            views: 3,
            max_views: Some(3),
            allow_download: false,
            watermark: true,
            has_password: true,
            revoked: false,
        };
        let row = LinkRow::new(&share, now);
        assert_eq!(row.status, "View limit reached");
        assert_eq!(row.views, "3 of 3");
        assert_eq!(row.settings, "view only, watermarked, password");
        assert!(row.revocable);
        let expired = ShareSummary {
            expires_at: now - time::Duration::seconds(1),
            ..share.clone()
        };
        assert_eq!(LinkRow::new(&expired, now).status, "Expired");
        assert!(!LinkRow::new(&expired, now).revocable);
        let revoked = ShareSummary {
            revoked: true,
            ..share
        };
        assert_eq!(LinkRow::new(&revoked, now).status, "Revoked");
    }
}
