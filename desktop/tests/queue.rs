//! The upload queue against a real server on loopback (inside a real Secret Service,
//! since signing in stores the token there): checks stream in, only accepted files are
//! sent, each exactly once, with progress; network loss is retried until the server is
//! back; an answer lost after the server stored the photo is retried without storing it
//! twice; cancelled and changed files are not sent; a session's queued uploads never go
//! to the next account signed in.

mod support;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use imagevault_common::api::ImageList;
use imagevault_desktop::events::UploadState;
use imagevault_desktop::files::Files;
use imagevault_desktop::journal::Journal;
use imagevault_desktop::session::Session;
use imagevault_desktop::settings::SettingsFile;
use imagevault_desktop::watch::Watch;
use support::proxy::Proxy;
use support::recorder::Recorder;
use support::secret_service::enter;
use support::server::images::{jpeg, jpeg_with_metadata, png};
use support::server::{Engine, TestApp};

struct Desk {
    app: TestApp,
    proxy: Option<Proxy>,
    token: String,
    session: Arc<Session>,
    files: Arc<Files>,
    events: Arc<Recorder>,
    photos: PathBuf,
}

/// A server, a verified user, and the desktop's session signed in to it (directly, or
/// through a proxy that can cut the network).
async fn desk(email: &str, through_proxy: bool) -> Desk {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let token = app.signed_up_user(email).await;
    let events = Arc::new(Recorder::default());
    let session = Arc::new(Session::new(
        SettingsFile::in_dir(&app.dir.join("config")),
        events.clone(),
    ));
    let proxy = if through_proxy {
        Some(Proxy::start(app.addr).await)
    } else {
        None
    };
    let base = proxy
        .as_ref()
        .map_or_else(|| app.base.clone(), |p| format!("http://{}", p.addr));
    session.save_server(&base).await.unwrap();
    support::sign_in(&session, email).await;
    let files = Arc::new(Files::with_backoff(
        events.clone(),
        Journal::in_dir(&app.dir.join("config")),
        Duration::from_millis(300),
    ));
    let photos = app.dir.join("photos");
    std::fs::create_dir_all(&photos).unwrap();
    Desk {
        app,
        proxy,
        token,
        session,
        files,
        events,
        photos,
    }
}

impl Desk {
    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.photos.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    async fn stored(&self) -> ImageList {
        serde_json::from_value(self.app.listed(&self.token).await).unwrap()
    }

    async fn checked(&self, n: usize) {
        self.events
            .until("checks", |e| {
                e.checked("accepted").len() + e.checked("refused").len() == n
            })
            .await;
    }

    /// Queues the accepted cards for the current session, as "Upload N photos" does.
    fn upload_accepted(&self) -> usize {
        self.files
            .upload_accepted(&self.session, &self.session.active().unwrap())
    }

    async fn all_in(&self, ids: &[u64], state: UploadState) {
        self.events
            .until("uploads", |e| {
                ids.iter().all(|id| e.upload_state(*id) == Some(state))
            })
            .await;
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().unwrap()
}

#[test]
fn accepted_files_upload_once_with_progress_and_refused_ones_never_leave() {
    if enter("accepted_files_upload_once_with_progress_and_refused_ones_never_leave").is_some() {
        return;
    }
    runtime().block_on(async {
        let d = desk("queue@example.com", false).await;
        let folder = d.photos.join("trip");
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join("beach.jpg"), jpeg(1200, 800, 1)).unwrap();
        std::fs::write(folder.join("map.png"), png(300, 200, 2)).unwrap();
        d.write("notes.jpg", b"meeting notes, not a photo");
        d.write("gps.jpg", &jpeg_with_metadata("SECRET-GPS-51.5N"));

        let (count, truncated) = d
            .files
            .add(vec![
                folder,
                d.photos.join("notes.jpg"),
                d.photos.join("gps.jpg"),
            ])
            .await;
        assert_eq!((count, truncated), (4, false));
        d.checked(4).await;
        assert_eq!(d.events.checked("refused").len(), 1);
        let refused = d.events.checked("refused")[0];
        let card = serde_json::to_value(d.events.latest_card(refused).unwrap()).unwrap();
        assert_eq!(card["name"], "notes.jpg");
        assert_eq!(
            card["reason"],
            "Only JPEG, PNG and GIF images are accepted."
        );

        let accepted = d.events.checked("accepted");
        assert_eq!(d.upload_accepted(), 3);
        d.all_in(&accepted, UploadState::Done).await;
        assert_eq!(d.upload_accepted(), 0, "nothing is sent twice");
        // One batch, told once (the app shows it as a desktop notification).
        let batches = d.events.batches.lock().unwrap().clone();
        assert_eq!(batches.len(), 1, "{batches:?}");
        assert_eq!((batches[0].uploaded, batches[0].failed), (3, 0));

        let stored = d.stored().await;
        let mut names: Vec<_> = stored.items.iter().map(|i| i.filename.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, ["beach.jpg", "gps.jpg", "map.png"]);
        for id in &accepted {
            let states = d.events.upload_states(*id);
            assert_eq!(
                states,
                [
                    UploadState::Queued,
                    UploadState::Uploading,
                    UploadState::Done
                ]
            );
            let uploads = d.events.uploads.lock().unwrap();
            let mine: Vec<_> = uploads.iter().filter(|u| u.id == *id).collect();
            let done = mine.last().unwrap();
            assert_eq!(done.sent, done.total);
            assert!(
                mine.windows(2)
                    .all(|w| w[0].sent <= w[1].sent || w[1].state != UploadState::Uploading)
            );
        }
        // Metadata is stripped before the file leaves the machine.
        let gps = stored
            .items
            .iter()
            .find(|i| i.filename == "gps.jpg")
            .unwrap();
        let bytes = d
            .app
            .get_bearer(&format!("/api/v1/images/{}/content", gps.id), &d.token)
            .await;
        let bytes = bytes.bytes().await.unwrap();
        assert!(!bytes.windows(16).any(|w| w == b"SECRET-GPS-51.5N"));
        d.app.finish().await;
    });
}

#[test]
fn lost_network_is_retried_until_the_server_is_back_without_duplicates() {
    if enter("lost_network_is_retried_until_the_server_is_back_without_duplicates").is_some() {
        return;
    }
    runtime().block_on(async {
        let mut d = desk("retry@example.com", true).await;
        for i in 0..3 {
            d.write(&format!("p{i}.png"), &png(64, 48, i));
        }
        d.files.add(vec![d.photos.clone()]).await;
        d.checked(3).await;
        let ids = d.events.checked("accepted");

        d.proxy.as_mut().unwrap().stop();
        assert_eq!(d.upload_accepted(), 3);
        // Every upload slot's file is retrying; the third waits for a slot.
        let slots = imagevault_desktop::files::UPLOAD_SLOTS.min(ids.len());
        d.events
            .until("retries", |e| {
                ids.iter()
                    .filter(|id| e.upload_states(**id).contains(&UploadState::Retrying))
                    .count()
                    == slots
            })
            .await;
        let retry = d
            .events
            .uploads
            .lock()
            .unwrap()
            .iter()
            .find(|u| u.state == UploadState::Retrying)
            .cloned()
            .unwrap();
        let message = retry.message.unwrap();
        assert!(
            message.contains("could not be reached") && message.contains("attempt 2 of 5"),
            "{message}"
        );
        assert_eq!(d.stored().await.items.len(), 0);

        d.proxy.as_mut().unwrap().resume().await;
        d.all_in(&ids, UploadState::Done).await;
        assert_eq!(
            d.stored().await.items.len(),
            3,
            "each file stored exactly once"
        );
        d.app.finish().await;
    });
}

#[test]
fn a_lost_answer_is_retried_and_the_photo_is_stored_once() {
    if enter("a_lost_answer_is_retried_and_the_photo_is_stored_once").is_some() {
        return;
    }
    runtime().block_on(async {
        let d = desk("lost@example.com", true).await;
        d.write("once.jpg", &jpeg(640, 480, 3));
        d.files.add(vec![d.photos.clone()]).await;
        d.checked(1).await;
        let ids = d.events.checked("accepted");
        // The server stores the photo; its 201 never reaches the app.
        d.proxy.as_ref().unwrap().lose_answers(1);
        assert_eq!(d.upload_accepted(), 1);
        d.all_in(&ids, UploadState::Done).await;
        assert!(
            d.events
                .upload_states(ids[0])
                .contains(&UploadState::Retrying),
            "the lost answer was retried"
        );
        assert_eq!(
            d.stored().await.items.len(),
            1,
            "the retry's Idempotency-Key gets the stored image back"
        );
        d.app.finish().await;
    });
}

#[test]
fn cancelled_and_changed_files_are_not_sent() {
    if enter("cancelled_and_changed_files_are_not_sent").is_some() {
        return;
    }
    runtime().block_on(async {
        let mut d = desk("cancel@example.com", true).await;
        let keep = d.write("keep.png", &png(40, 30, 1));
        let changed = d.write("changed.png", &png(40, 30, 2));
        d.files.add(vec![keep, changed.clone()]).await;
        d.checked(2).await;
        let (keep_id, changed_id) = (1, 2);

        // After the check, the file is replaced by something that is not an image.
        std::fs::write(&changed, b"now a text file").unwrap();
        d.proxy.as_mut().unwrap().stop();
        d.upload_accepted();
        d.events
            .until("a retry", |e| {
                e.upload_states(keep_id).contains(&UploadState::Retrying)
            })
            .await;
        d.files.cancel(keep_id);
        d.all_in(&[keep_id], UploadState::Cancelled).await;
        d.all_in(&[changed_id], UploadState::Failed).await;
        let failed = d
            .events
            .uploads
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|u| u.id == changed_id)
            .cloned()
            .unwrap();
        assert_eq!(
            failed.message.as_deref(),
            Some("Only JPEG, PNG and GIF images are accepted.")
        );

        let batches = d.events.batches.lock().unwrap().clone();
        assert_eq!(batches.len(), 1, "{batches:?}");
        assert_eq!((batches[0].failed, batches[0].cancelled), (1, 1));
        d.proxy.as_mut().unwrap().resume().await;
        tokio::time::sleep(Duration::from_secs(2)).await; // well past every back-off
        assert_eq!(
            d.stored().await.items.len(),
            0,
            "neither file reached the server"
        );

        // Cancelled and failed cards are not queued again (drop the file again to retry),
        // so "Upload N photos" in the view sends exactly the N it counted.
        assert_eq!(d.upload_accepted(), 0);
        d.app.finish().await;
    });
}

/// Set in the child process of [`a_killed_app_resumes_its_queue_and_stores_each_photo_once`]:
/// the server's address, then the data folder and the photos folder.
const CHILD: &str = "IMAGEVAULT_TEST_QUEUE_CHILD";
const KILLED: &str = "a_killed_app_resumes_its_queue_and_stores_each_photo_once";
const PHOTOS: usize = 30;

/// The app is killed (`SIGKILL`) mid-queue (a child process: the real session, keychain and
/// journal, no mocks); started again, it restores the session, resumes the journal, and
/// every photo ends stored exactly once, including one whose 201 the kill may have cut.
#[test]
fn a_killed_app_resumes_its_queue_and_stores_each_photo_once() {
    if let Ok(child) = std::env::var(CHILD) {
        return runtime().block_on(upload_until_killed(&child));
    }
    if enter(KILLED).is_some() {
        return;
    }
    runtime().block_on(async {
        let app = TestApp::spawn(Engine::Sqlite).await;
        let email = "killed@example.com";
        let token = app.signed_up_user(email).await;
        let (dir, photos) = (app.dir.join("desk"), app.dir.join("photos"));
        std::fs::create_dir_all(&photos).unwrap();
        for i in 0..PHOTOS {
            let seed = u32::try_from(i).unwrap();
            std::fs::write(photos.join(format!("p{i:02}.jpg")), jpeg(800, 600, seed)).unwrap();
        }
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([KILLED, "--exact", "--nocapture"])
            .env(
                CHILD,
                format!("{}\n{}\n{}", app.base, dir.display(), photos.display()),
            )
            .spawn()
            .unwrap();
        // Killed once a few photos are stored, so others are queued or mid-upload.
        let stored_at_kill = loop {
            let stored = stored_count(&app).await;
            if stored >= 3 {
                child.kill().unwrap(); // SIGKILL: nothing of the app's runs after it
                child.wait().unwrap();
                break stored_count(&app).await;
            }
            assert!(
                child.try_wait().unwrap().is_none(),
                "the app ended before it was killed"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        assert!(
            stored_at_kill < PHOTOS,
            "killed after the last upload: nothing left to resume"
        );

        // The app starts again on the same folders and keychain.
        let events = Arc::new(Recorder::default());
        let session = Arc::new(Session::new(SettingsFile::in_dir(&dir), events.clone()));
        let account = session
            .restore()
            .await
            .unwrap()
            .expect("the token is in the keychain");
        assert_eq!(account.email, email);
        let files = Arc::new(Files::with_backoff(
            events.clone(),
            Journal::in_dir(&dir),
            Duration::from_millis(300),
        ));
        let active = session.active().unwrap();
        let resumed = files.resume(&session, &active).await;
        assert!(
            resumed >= PHOTOS - stored_at_kill,
            "{resumed} resumed, {stored_at_kill} stored"
        );
        assert_eq!(
            files.resume(&session, &active).await,
            0,
            "the journal is read once"
        );
        let ids: Vec<u64> = (1..=resumed as u64).collect();
        events
            .until("resumed uploads", |e| {
                ids.iter()
                    .all(|id| e.upload_state(*id) == Some(UploadState::Done))
            })
            .await;

        let list: ImageList = serde_json::from_value(app.listed(&token).await).unwrap();
        let mut names: Vec<String> = list.items.into_iter().map(|i| i.filename).collect();
        names.sort();
        let expected: Vec<String> = (0..PHOTOS).map(|i| format!("p{i:02}.jpg")).collect();
        assert_eq!(names, expected, "each photo stored exactly once");
        // Settled: a third start has nothing to resume.
        let again = Arc::new(Files::new(events.clone(), Journal::in_dir(&dir)));
        assert_eq!(again.resume(&session, &active).await, 0);
        app.finish().await;
    });
}

/// The killed app: signs in (the token goes to the keychain), queues every photo and
/// uploads until it is killed.
async fn upload_until_killed(child: &str) {
    let mut parts = child.split('\n');
    let (server, dir, photos) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let events = Arc::new(Recorder::default());
    let session = Arc::new(Session::new(
        SettingsFile::in_dir(dir.as_ref()),
        events.clone(),
    ));
    session.save_server(server).await.unwrap();
    support::sign_in(&session, "killed@example.com").await;
    let files = Arc::new(Files::with_backoff(
        events.clone(),
        Journal::in_dir(dir.as_ref()),
        Duration::from_millis(300),
    ));
    files.add(vec![PathBuf::from(photos)]).await;
    events
        .until("checks", |e| e.checked("accepted").len() == PHOTOS)
        .await;
    assert_eq!(
        files.upload_accepted(&session, &session.active().unwrap()),
        PHOTOS
    );
    tokio::time::sleep(Duration::from_mins(2)).await;
    panic!("the parent test should have killed this process");
}

async fn stored_count(app: &TestApp) -> usize {
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM images")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    usize::try_from(count).unwrap()
}

/// A watched folder (real inotify through `notify`): new photos, in subfolders too,
/// are uploaded once they settle, marked with their folder; the same photos copied in
/// again under other names are recognised and not sent; while paused nothing is
/// taken, and resuming takes up what arrived meanwhile.
#[test]
fn watched_folders_upload_new_photos_once() {
    if enter("watched_folders_upload_new_photos_once").is_some() {
        return;
    }
    runtime().block_on(async {
        let d = desk("watch@example.com", false).await;
        let camera = d.photos.join("Camera");
        std::fs::create_dir_all(camera.join("2026")).unwrap();
        let watch = Watch::default();
        // A folder that is not there (a settings file edited by hand, a drive unplugged):
        // a sentence naming it, and the others are still watched.
        let missing = d.photos.join("unplugged");
        let settings = d
            .session
            .save_watching(vec![missing.clone(), camera.clone()], false)
            .unwrap();
        let problems = watch.apply(&settings, &d.files, &d.session);
        assert_eq!(problems.len(), 1, "{problems:?}");
        let named = format!("{} cannot be watched", missing.display());
        assert!(problems[0].starts_with(&named), "{problems:?}");

        let photos = [
            camera.join("IMG_1.jpg"),
            camera.join("IMG_2.png"),
            camera.join("2026").join("IMG_3.jpg"),
        ];
        std::fs::write(&photos[0], jpeg(640, 480, 1)).unwrap();
        std::fs::write(&photos[1], png(320, 240, 2)).unwrap();
        std::fs::write(&photos[2], jpeg(480, 640, 3)).unwrap();
        std::fs::write(camera.join("notes.txt"), b"not a photo").unwrap();
        std::fs::write(camera.join(".hidden.jpg"), jpeg(10, 10, 4)).unwrap();
        d.events
            .until("three uploads", |e| done(e).len() == 3)
            .await;
        assert_eq!(d.stored().await.items.len(), 3);
        for card in d.events.cards.lock().unwrap().iter() {
            assert_eq!(card.origin.as_deref(), Some("Camera"), "{card:?}");
        }

        // Copied in again under other names: recognised, and nothing is sent.
        for (i, photo) in photos.iter().enumerate() {
            let name = photo.file_name().unwrap().to_str().unwrap();
            std::fs::copy(photo, camera.join(format!("copy-{i}-{name}"))).unwrap();
        }
        d.events
            .until("three more cards", |e| done(e).len() == 6)
            .await;
        let already = d
            .events
            .uploads
            .lock()
            .unwrap()
            .iter()
            .filter(|u| {
                u.message
                    .as_deref()
                    .is_some_and(|m| m.starts_with("Already uploaded"))
            })
            .count();
        assert_eq!(already, 3);
        assert_eq!(d.stored().await.items.len(), 3, "nothing new stored");

        // Paused: a new photo waits; resuming takes it up.
        let paused = d.session.save_watching(vec![camera.clone()], true).unwrap();
        assert!(watch.apply(&paused, &d.files, &d.session).is_empty());
        std::fs::write(camera.join("IMG_4.jpg"), jpeg(300, 200, 5)).unwrap();
        tokio::time::sleep(imagevault_desktop::watch::QUIET * 2).await;
        assert_eq!(
            d.events
                .cards
                .lock()
                .unwrap()
                .iter()
                .filter(|c| c.name == "IMG_4.jpg")
                .count(),
            0
        );
        let resumed = d
            .session
            .save_watching(vec![camera.clone()], false)
            .unwrap();
        assert!(watch.apply(&resumed, &d.files, &d.session).is_empty());
        d.events
            .until("the photo of the pause", |e| done(e).len() == 7)
            .await;
        assert_eq!(d.stored().await.items.len(), 4);
        watch.stop();
        d.app.finish().await;
    });
}

/// Ids of the cards whose upload is done.
fn done(events: &Recorder) -> Vec<u64> {
    let mut ids: Vec<u64> = events
        .uploads
        .lock()
        .unwrap()
        .iter()
        .filter(|u| u.state == UploadState::Done)
        .map(|u| u.id)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

#[test]
fn queued_uploads_never_go_to_the_next_account() {
    if enter("queued_uploads_never_go_to_the_next_account").is_some() {
        return;
    }
    runtime().block_on(async {
        let mut d = desk("first@example.com", true).await;
        let second = d.app.signed_up_user("second@example.com").await;
        for i in 0..2 {
            d.write(&format!("p{i}.png"), &png(40, 30, i));
        }
        d.files.add(vec![d.photos.clone()]).await;
        d.checked(2).await;
        let ids = d.events.checked("accepted");
        d.proxy.as_mut().unwrap().stop();
        let first = d.session.active().unwrap();
        assert_eq!(d.files.upload_accepted(&d.session, &first), 2);
        d.events
            .until("retries", |e| {
                ids.iter()
                    .all(|id| e.upload_states(*id).contains(&UploadState::Retrying))
            })
            .await;

        // The first account's token is revoked while its uploads wait; someone else
        // signs in on the same app.
        let revoked = d
            .app
            .post_bearer("/api/v1/auth/logout", first.token.expose_secret())
            .await;
        assert_eq!(revoked.status(), 204);
        let _ = d.session.sign_out().await; // the server is unreachable: local only
        d.proxy.as_mut().unwrap().resume().await;
        support::sign_in(&d.session, "second@example.com").await;

        d.all_in(&ids, UploadState::Failed).await;
        let failed = d.events.uploads.lock().unwrap().last().cloned().unwrap();
        assert!(
            failed.message.unwrap().contains("session has ended"),
            "the waiting uploads kept the first account's token and were refused with it"
        );
        assert_eq!(d.app.listed(&second).await["items"], serde_json::json!([]));
        assert_eq!(
            d.session.active().unwrap().info.email,
            "second@example.com",
            "a late 401 for the old token does not end the new session"
        );
        d.app.finish().await;
    });
}
