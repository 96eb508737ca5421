//! The gallery in the browser: the grid, one image, upload (a plain multipart form,
//! enhanced by `upload.js` into per-file progress through the JSON API), and delete.
//! Images themselves are only ever served by the authenticated API endpoints.

use askama::Template;
use imagevault_common::api::ImageObject;
use imagevault_common::image::thumbnail_size;
use salvo::http::header::{HeaderValue, LOCATION};
use salvo::prelude::*;
use serde::Deserialize;
use time::OffsetDateTime;
use time::macros::format_description;

use super::{redirect, render_html, signed_in_get};
use crate::accounts;
use crate::error::ApiError;
use crate::http::extract::{AuthUser, PageUser, SignedIn, UploadUser, path_id, sign_in_first};
use crate::http::upload::UploadReader;
use crate::images;
use crate::images::Image;

/// Images per gallery page.
const PAGE: i64 = 60;

pub(super) fn router() -> Router {
    Router::new()
        .push(
            Router::with_path("upload")
                .push(signed_in_get(upload_page))
                .push(
                    Router::new()
                        .hoop(sign_in_first::<UploadUser>())
                        .post(upload_submit),
                ),
        )
        .push(
            Router::with_path("images/{id}")
                .push(signed_in_get(image_page))
                .push(Router::with_path("delete").post(delete_submit)),
        )
}

/// A tile of the grid.
struct Tile {
    id: String,
    filename: String,
    thumb_width: u32,
    thumb_height: u32,
}

impl Tile {
    fn new(image: &ImageObject) -> Self {
        let (thumb_width, thumb_height) = thumbnail_size(image.width, image.height);
        Self {
            id: image.id.to_string(),
            filename: image.filename.clone(),
            thumb_width,
            thumb_height,
        }
    }
}

#[derive(Template)]
#[template(path = "gallery.html")]
struct GalleryPage<'a> {
    csrf: &'a str,
    email: &'a str,
    images: Vec<Tile>,
    paged: bool,
    next_cursor: Option<String>,
}

/// `GET /`: the newest images, or the page after `?cursor=`.
pub(super) async fn gallery(
    req: &mut Request,
    user: &PageUser,
    res: &mut Response,
) -> Result<(), ApiError> {
    let account = accounts::profile(&user.state, user.caller.user_id).await?;
    let cursor = req.query::<String>("cursor");
    let (page, next) = images::list(
        &user.state,
        user.caller.user_id,
        Some(PAGE),
        cursor.as_deref(),
    )
    .await?;
    let rows: Vec<Tile> = page.iter().map(Tile::new).collect();
    render_html(
        res,
        &GalleryPage {
            csrf: &user.csrf(),
            email: &account.email,
            images: rows,
            paged: cursor.is_some(),
            next_cursor: next,
        },
    )
}

/// One image's details for the page.
struct ImageDetails {
    id: String,
    filename: String,
    content_type: String,
    size_text: String,
    width: u32,
    height: u32,
    created_iso: String,
    created_text: String,
}

#[derive(Template)]
#[template(path = "image.html")]
struct ImagePage<'a> {
    csrf: &'a str,
    image: ImageDetails,
    newer: Option<String>,
    older: Option<String>,
}

#[allow(clippy::cast_precision_loss)] // display only
fn size_text(bytes: u64) -> String {
    if bytes < 1024 {
        format!("{bytes} bytes")
    } else if bytes < 1024 * 1024 {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    } else {
        format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
    }
}

fn details(image: &Image) -> ImageDetails {
    let object = images::object(image);
    let created = object.created_at;
    let row = &image.row;
    ImageDetails {
        id: row.id.to_string(),
        filename: image.filename.clone(),
        content_type: row.content_type.clone(),
        size_text: size_text(row.size),
        width: row.width,
        height: row.height,
        created_iso: created
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        created_text: date_text(created),
    }
}

/// `28 Nov 2026, 14:05 UTC`.
pub(super) fn date_text(t: OffsetDateTime) -> String {
    t.format(format_description!(
        "[day padding:none] [month repr:short] [year], [hour]:[minute] UTC"
    ))
    .unwrap_or_default()
}

#[handler]
async fn image_page(user: PageUser, req: &mut Request, res: &mut Response) -> Result<(), ApiError> {
    let id = path_id(&req.param::<String>("id").unwrap_or_default())?;
    let image = images::get(&user.state, user.caller.user_id, id).await?;
    let (newer, older) = images::neighbours(&user.state, &image.row).await?;
    render_html(
        res,
        &ImagePage {
            csrf: &user.csrf(),
            image: details(&image),
            newer: newer.map(|id| id.to_string()),
            older: older.map(|id| id.to_string()),
        },
    )
}

#[derive(Template)]
#[template(path = "upload.html")]
struct UploadPage<'a> {
    csrf: &'a str,
    error: Option<&'a str>,
    /// The size limit the script checks before sending (the server checks it again).
    max_bytes: usize,
}

impl<'a> UploadPage<'a> {
    fn new(csrf: &'a str, error: Option<&'a str>) -> Self {
        Self {
            csrf,
            error,
            max_bytes: imagevault_common::image::MAX_IMAGE_BYTES,
        }
    }
}

#[handler]
async fn upload_page(user: PageUser, res: &mut Response) -> Result<(), ApiError> {
    render_html(res, &UploadPage::new(&user.csrf(), None))
}

/// Files one plain form may carry (read and stored one at a time).
const MAX_FORM_FILES: usize = 20;

/// One file's outcome on the results page.
struct Outcome {
    filename: String,
    image_id: Option<String>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "upload_results.html")]
struct UploadResults<'a> {
    csrf: &'a str,
    outcomes: Vec<Outcome>,
}

/// The no-script upload: the plain form's files, stored one by one. One file leads to
/// its page (or back to the form with the reason); several to a page of outcomes.
#[handler]
async fn upload_submit(
    user: SignedIn<UploadUser>,
    req: &mut Request,
    res: &mut Response,
) -> Result<(), ApiError> {
    let SignedIn(UploadUser {
        state,
        caller,
        csrf,
    }) = user;
    let declared = crate::http::upload::declared_length(req)?;
    let pass = match images::admit(&state, caller.user_id, declared).await {
        Ok(pass) => pass,
        Err(e) => {
            state.metrics.upload(Err(&e));
            return Err(e);
        }
    };
    let csrf_field = crate::http::auth::csrf_token(&state, &caller.token_hash);
    let mut outcomes = Vec::new();
    let read = async {
        let mut reader = UploadReader::new(
            req,
            csrf.as_deref(),
            MAX_FORM_FILES,
            state.config.upload_timeout,
        )?;
        while let Some(file) = reader.next_file().await? {
            let filename = file.filename.clone();
            let stored =
                images::upload(&state, caller.user_id, file.filename, file.bytes, None).await;
            state.metrics.upload(stored.as_ref().map(|_| ()));
            outcomes.push(match stored {
                Ok(object) => Outcome {
                    filename: object.filename,
                    image_id: Some(object.id.to_string()),
                    error: None,
                },
                // Over quota is a 507, but only this file's outcome: earlier ones stay.
                Err(e)
                    if e.status().is_client_error() || matches!(e, ApiError::QuotaExceeded(_)) =>
                {
                    Outcome {
                        filename,
                        image_id: None,
                        error: Some(e.to_string()),
                    }
                }
                Err(e) => return Err(e),
            });
        }
        Ok(())
    };
    let finished: Result<(), ApiError> = read.await;
    pass.release().await;
    match (finished, outcomes.as_slice()) {
        (Ok(()), [one]) if one.image_id.is_some() => {
            res.status_code(StatusCode::SEE_OTHER);
            let to = format!("/images/{}", one.image_id.as_deref().unwrap_or_default());
            if let Ok(to) = HeaderValue::from_str(&to) {
                res.headers_mut().insert(LOCATION, to);
            }
            Ok(())
        }
        (Ok(()), [one]) => {
            let err = one.error.clone().unwrap_or_default();
            upload_error(res, &csrf_field, &err, StatusCode::UNPROCESSABLE_ENTITY)
        }
        (Ok(()), []) => upload_error(
            res,
            &csrf_field,
            "Choose one or more images to upload.",
            StatusCode::BAD_REQUEST,
        ),
        (Ok(()), _) => render_html(
            res,
            &UploadResults {
                csrf: &csrf_field,
                outcomes,
            },
        ),
        (Err(err), _) if err.status().is_client_error() && outcomes.is_empty() => {
            upload_error(res, &csrf_field, &err.to_string(), err.status())
        }
        (Err(err), _) if err.status().is_client_error() => {
            outcomes.push(Outcome {
                filename: "(the rest of the form)".into(),
                image_id: None,
                error: Some(err.to_string()),
            });
            res.status_code(err.status());
            render_html(
                res,
                &UploadResults {
                    csrf: &csrf_field,
                    outcomes,
                },
            )
        }
        (Err(err), _) => Err(err),
    }
}

fn upload_error(
    res: &mut Response,
    csrf: &str,
    message: &str,
    status: StatusCode,
) -> Result<(), ApiError> {
    res.status_code(status);
    render_html(res, &UploadPage::new(csrf, Some(message)))
}

#[derive(Template)]
#[template(path = "confirm_delete.html")]
struct ConfirmDeletePage<'a> {
    csrf: &'a str,
    id: &'a str,
    filename: &'a str,
}

#[derive(Deserialize)]
struct DeleteForm {
    #[serde(default)]
    confirmed: String,
}

/// Deletes once confirmed (by the script's prompt or the confirmation page).
#[handler]
async fn delete_submit(
    user: AuthUser,
    req: &mut Request,
    res: &mut Response,
) -> Result<(), ApiError> {
    let id = path_id(&req.param::<String>("id").unwrap_or_default())?;
    let form: DeleteForm = super::read_form(req).await?;
    if form.confirmed == "yes" {
        images::delete(&user.state, user.caller.user_id, id).await?;
        redirect(res, "/");
        return Ok(());
    }
    let image = images::get(&user.state, user.caller.user_id, id).await?;
    render_html(
        res,
        &ConfirmDeletePage {
            csrf: &user.csrf(),
            id: &image.row.id.to_string(),
            filename: &image.filename,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_a_file_manager() {
        assert_eq!(size_text(512), "512 bytes");
        assert_eq!(size_text(1536), "1.5 KiB");
        assert_eq!(size_text(5 * 1024 * 1024), "5.0 MiB");
    }
}
