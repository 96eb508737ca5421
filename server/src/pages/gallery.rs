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

use super::{redirect, render_html};
use crate::db::images::{After, ImageRow};
use crate::error::ApiError;
use crate::http::auth::{Caller, authenticate, authenticate_upload, csrf_token};
use crate::http::upload::UploadReader;
use crate::images;
use crate::state::AppState;

/// Images per gallery page.
const PAGE: i64 = 60;

pub(super) fn router() -> Router {
    Router::new()
        .push(
            Router::with_path("upload")
                .get(upload_page)
                .post(upload_submit),
        )
        .push(
            Router::with_path("images/{id}")
                .get(image_page)
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

/// The signed-in caller, or a redirect to the sign-in page.
pub(super) async fn signed_in(
    req: &mut Request,
    state: &AppState,
    res: &mut Response,
) -> Option<Caller> {
    if let Ok(caller) = authenticate(req, state).await {
        Some(caller)
    } else {
        redirect(res, "/login");
        None
    }
}

/// `GET /`: the newest images, or the page after `?cursor=`.
pub(super) async fn gallery(
    req: &mut Request,
    state: &AppState,
    caller: &Caller,
    res: &mut Response,
) -> Result<(), ApiError> {
    let user = state
        .db
        .user_by_id(&caller.user_id)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    let cursor = req.query::<String>("cursor");
    let (page, next) = images::list(state, &caller.user_id, Some(PAGE), cursor.as_deref()).await?;
    let rows: Vec<Tile> = page.iter().map(Tile::new).collect();
    render_html(
        res,
        &GalleryPage {
            csrf: &csrf_token(state, &caller.token_hash),
            email: &user.email,
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
    width: i64,
    height: i64,
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
fn size_text(bytes: i64) -> String {
    if bytes < 1024 {
        format!("{bytes} bytes")
    } else if bytes < 1024 * 1024 {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    } else {
        format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
    }
}

fn details(row: &ImageRow) -> ImageDetails {
    let object = images::object(row);
    let created = object.created_at;
    ImageDetails {
        id: row.id.clone(),
        filename: row.filename.clone(),
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
async fn image_page(
    req: &mut Request,
    depot: &mut Depot,
    res: &mut Response,
) -> Result<(), ApiError> {
    let state = AppState::from_depot(depot).clone();
    let Some(caller) = signed_in(req, &state, res).await else {
        return Ok(());
    };
    let id = req.param::<String>("id").unwrap_or_default();
    let row = images::get(&state, &caller.user_id, &id).await?;
    let at = After {
        created_us: row.created_us,
        id: row.id.clone(),
    };
    let (newer, older) = state.db.image_neighbours(&caller.user_id, &at).await?;
    render_html(
        res,
        &ImagePage {
            csrf: &csrf_token(&state, &caller.token_hash),
            image: details(&row),
            newer,
            older,
        },
    )
}

#[derive(Template)]
#[template(path = "upload.html")]
struct UploadPage<'a> {
    csrf: &'a str,
    error: Option<&'a str>,
}

#[handler]
async fn upload_page(
    req: &mut Request,
    depot: &mut Depot,
    res: &mut Response,
) -> Result<(), ApiError> {
    let state = AppState::from_depot(depot).clone();
    let Some(caller) = signed_in(req, &state, res).await else {
        return Ok(());
    };
    render_html(
        res,
        &UploadPage {
            csrf: &csrf_token(&state, &caller.token_hash),
            error: None,
        },
    )
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
    req: &mut Request,
    depot: &mut Depot,
    res: &mut Response,
) -> Result<(), ApiError> {
    let state = AppState::from_depot(depot).clone();
    let Ok((caller, csrf)) = authenticate_upload(req, &state).await else {
        redirect(res, "/login");
        return Ok(());
    };
    let _slot = state
        .upload_slots
        .acquire()
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let csrf_field = csrf_token(&state, &caller.token_hash);
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
            let stored = images::upload(&state, &caller.user_id, file.filename, file.bytes).await;
            outcomes.push(match stored {
                Ok(object) => Outcome {
                    filename: object.filename,
                    image_id: Some(object.id.to_string()),
                    error: None,
                },
                Err(e) if e.status().is_client_error() => Outcome {
                    filename,
                    image_id: None,
                    error: Some(e.to_string()),
                },
                Err(e) => return Err(e),
            });
        }
        Ok(())
    };
    let finished: Result<(), ApiError> = read.await;
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
    render_html(
        res,
        &UploadPage {
            csrf,
            error: Some(message),
        },
    )
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
    req: &mut Request,
    depot: &mut Depot,
    res: &mut Response,
) -> Result<(), ApiError> {
    let state = AppState::from_depot(depot).clone();
    let caller = authenticate(req, &state).await?;
    let id = req.param::<String>("id").unwrap_or_default();
    let form: DeleteForm = super::read_form(req).await?;
    if form.confirmed == "yes" {
        images::delete(&state, &caller.user_id, &id).await?;
        redirect(res, "/");
        return Ok(());
    }
    let row = images::get(&state, &caller.user_id, &id).await?;
    render_html(
        res,
        &ConfirmDeletePage {
            csrf: &csrf_token(&state, &caller.token_hash),
            id: &row.id,
            filename: &row.filename,
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
