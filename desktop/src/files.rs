//! The upload panel's cards: files dropped or picked, their checks, and their uploads.
//!
//! Checks run on the blocking pool, one per core, and each card is reported as soon as
//! its own check ends, so a drop of hundreds of files shows its first previews at once
//! and the window never waits. Uploads run at most [`UPLOAD_SLOTS`] at a time. A network
//! failure (or a 429/503 from the server) is retried with back-off; a refusal is not.
//! Only cards that passed their check and were never queued are queued, so a card that
//! got its 201 is never sent twice; a cancelled or failed card is dropped again to retry.
//! Every final state is decided and reported under one lock, so a cancel racing a 201
//! cannot leave the view and the queue disagreeing.
//!
//! What is queued is written to the [`Journal`] first, and [`Files::resume`] queues it
//! again when the same session is restored after a restart or a crash.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tauri::async_runtime::{JoinHandle, spawn, spawn_blocking};
use tokio::sync::Semaphore;

use crate::events::{BatchEvent, CardCheck, CardEvent, Events, UploadEvent, UploadState};
use crate::intake::{self, Verdict};
use crate::journal::{Entry, Journal};
use crate::session::{Active, Session};

/// Uploads in flight at once: the server's default `UPLOADS_PER_USER` (more would only
/// be answered 429 and retried).
pub const UPLOAD_SLOTS: usize = 2;
/// Attempts per upload when the network or the server's capacity fails.
pub const MAX_ATTEMPTS: u32 = 5;
/// Longest wait between attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Where a card stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Checking,
    Accepted,
    Refused,
    Queued,
    Done,
    Failed,
    Cancelled,
}

struct Card {
    path: PathBuf,
    size: u64,
    stage: Stage,
    task: Option<JoinHandle<()>>,
    /// SHA-256 of the file as checked.
    digest: Option<String>,
    /// Its entry in the journal while it is queued.
    journal_id: Option<String>,
}

impl Card {
    /// A new journal entry for this card, remembered as its own.
    fn journal_entry(&mut self) -> Entry {
        let entry = Entry {
            id: uuid::Uuid::new_v4().to_string(),
            path: self.path.clone(),
            size: self.size,
            sha256: self.digest.clone().unwrap_or_default(),
        };
        self.journal_id = Some(entry.id.clone());
        entry
    }
}

/// A card queued as soon as its check passes, for the session given.
struct Auto {
    session: Arc<Session>,
    active: Active,
    from: AutoFrom,
}

/// Why a card queues itself.
enum AutoFrom {
    /// The journal held it when the app started.
    Journal(Entry),
    /// It appeared or changed in a watched folder (named here).
    Folder(String),
}

/// The cards and the work on them.
pub struct Files {
    events: Arc<dyn Events>,
    cards: Mutex<BTreeMap<u64, Card>>,
    next_id: AtomicU64,
    check_slots: Arc<Semaphore>,
    upload_slots: Arc<Semaphore>,
    /// Seconds of the first retry's wait (tests shorten it).
    backoff_unit: Duration,
    journal: Journal,
    /// How the uploads of the batch in the queue have ended so far.
    batch: Mutex<BatchEvent>,
    /// Digests of the files uploaded in this process: a watched folder's copy of one
    /// is not sent again.
    uploaded: Mutex<std::collections::HashSet<String>>,
    /// Whether [`Files::resume`] already ran: the journal is read once per process.
    resumed: std::sync::atomic::AtomicBool,
}

impl Files {
    /// No cards yet; the queue is journaled in `journal`.
    pub fn new(events: Arc<dyn Events>, journal: Journal) -> Self {
        Self::with_backoff(events, journal, Duration::from_secs(1))
    }

    /// With a given first back-off (doubling per attempt).
    pub fn with_backoff(events: Arc<dyn Events>, journal: Journal, backoff_unit: Duration) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Self {
            events,
            cards: Mutex::default(),
            next_id: AtomicU64::new(1),
            check_slots: Arc::new(Semaphore::new(cores)),
            upload_slots: Arc::new(Semaphore::new(UPLOAD_SLOTS)),
            backoff_unit,
            journal,
            batch: Mutex::default(),
            uploaded: Mutex::default(),
            resumed: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Queues again what the journal holds for the restored session `active`: each
    /// file is checked as it is now (a file gone or no longer acceptable is dropped
    /// with its reason; a changed one says so) and uploaded. Anything journaled by
    /// another session is dropped unsent. Runs once per process; returns how many
    /// files it took up.
    pub async fn resume(self: &Arc<Self>, session: &Arc<Session>, active: &Active) -> usize {
        if self.resumed.swap(true, Ordering::SeqCst) {
            return 0;
        }
        let this = Arc::clone(self);
        let owner = journal_session(active);
        let entries = spawn_blocking(move || this.journal.open(&owner))
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())))
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "the upload queue's journal could not be read");
                Vec::new()
            });
        let count = entries.len();
        for entry in entries {
            let (path, size) = (entry.path.clone(), entry.size);
            let auto = Auto {
                session: Arc::clone(session),
                active: active.clone(),
                from: AutoFrom::Journal(entry),
            };
            self.add_one(path, size, Some(auto));
        }
        if count > 0 {
            tracing::info!(count, "uploads resumed from the journal");
        }
        count
    }

    /// Adds a file that appeared or changed in the watched folder `origin`, for the
    /// session `active`: checked, then uploaded if it passes, unless the same content
    /// was uploaded before in this run. A file whose card is still on its way is left
    /// to it. Returns whether a card was added.
    pub fn add_watched(
        self: &Arc<Self>,
        path: PathBuf,
        size: u64,
        origin: String,
        session: &Arc<Session>,
        active: &Active,
    ) -> bool {
        let on_its_way = self.cards.lock().unwrap().values().any(|c| {
            c.path == path && matches!(c.stage, Stage::Checking | Stage::Accepted | Stage::Queued)
        });
        if on_its_way {
            return false;
        }
        let auto = Auto {
            session: Arc::clone(session),
            active: active.clone(),
            from: AutoFrom::Folder(origin),
        };
        self.add_one(path, size, Some(auto));
        true
    }

    /// Adds dropped or picked paths (folders walked) and starts checking them. Returns
    /// the number of files added, and whether the per-drop cap cut some off.
    pub async fn add(self: &Arc<Self>, paths: Vec<PathBuf>) -> (usize, bool) {
        // Walking and stat-ing hundreds of files is blocking I/O: off the async threads.
        let (files, truncated) = spawn_blocking(move || {
            let (files, truncated) = intake::expand(&paths);
            let sized: Vec<(PathBuf, u64)> = files
                .into_iter()
                .map(|p| {
                    let size = std::fs::metadata(&p).map_or(0, |m| m.len());
                    (p, size)
                })
                .collect();
            (sized, truncated)
        })
        .await
        .unwrap_or_default();
        let count = files.len();
        for (path, size) in files {
            self.add_one(path, size, None);
        }
        (count, truncated)
    }

    fn add_one(self: &Arc<Self>, path: PathBuf, size: u64, auto: Option<Auto>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let name = intake::display_name(&path);
        let (journal_id, origin) = match auto.as_ref().map(|a| &a.from) {
            Some(AutoFrom::Journal(entry)) => (Some(entry.id.clone()), None),
            Some(AutoFrom::Folder(folder)) => (None, Some(folder.clone())),
            None => (None, None),
        };
        self.cards.lock().unwrap().insert(
            id,
            Card {
                path: path.clone(),
                size,
                stage: Stage::Checking,
                task: None,
                digest: None,
                journal_id,
            },
        );
        self.events.card(CardEvent {
            id,
            name: name.clone(),
            size,
            origin: origin.clone(),
            check: CardCheck::CHECKING,
        });
        let this = Arc::clone(self);
        spawn(async move {
            let Ok(_permit) = this.check_slots.acquire().await else {
                return;
            };
            let (verdict, digest) = spawn_blocking(move || intake::check_with_digest(&path))
                .await
                .unwrap_or_else(|_| {
                    let reason = "The file could not be checked.".into();
                    (Verdict::Refused { reason }, None)
                });
            let stage = match verdict {
                Verdict::Accepted { .. } => Stage::Accepted,
                Verdict::Refused { .. } => Stage::Refused,
            };
            if !this.checked(id, stage, digest.clone()) {
                return; // removed meanwhile
            }
            this.events.card(CardEvent {
                id,
                name,
                size,
                origin,
                check: CardCheck::Done(verdict),
            });
            if let Some(auto) = auto {
                this.auto_queue(id, stage, digest.as_deref(), &auto);
            }
        });
    }

    /// A resumed or watched card after its check: queued when it passes; otherwise its
    /// journal entry is settled (the card says why it was refused). A watched file
    /// whose content was uploaded before in this run is not sent again.
    fn auto_queue(self: &Arc<Self>, id: u64, stage: Stage, digest: Option<&str>, auto: &Auto) {
        if stage != Stage::Accepted {
            if let AutoFrom::Journal(entry) = &auto.from {
                self.journal_settled(&entry.id);
            }
            return;
        }
        let mut cards = self.cards.lock().unwrap();
        let Some(card) = cards.get_mut(&id).filter(|c| c.stage == Stage::Accepted) else {
            return;
        };
        let message = match &auto.from {
            AutoFrom::Journal(entry) if digest == Some(entry.sha256.as_str()) => {
                Some("Resumed after the app was closed.")
            }
            AutoFrom::Journal(_) => Some("Changed since it was queued: checked again and queued."),
            AutoFrom::Folder(_) => {
                let seen = digest.is_some_and(|d| self.uploaded.lock().unwrap().contains(d));
                if seen {
                    card.stage = Stage::Done;
                    let message = "Already uploaded: the same photo was sent before.";
                    self.report(id, UploadState::Done, Some(message.into()));
                    return;
                }
                self.journal_queued(&auto.active, &[card.journal_entry()]);
                None
            }
        };
        self.queue(id, card, &auto.session, &auto.active);
        self.report(id, UploadState::Queued, message.map(str::to_owned));
    }

    /// Records a card's check, unless it was removed meanwhile.
    fn checked(&self, id: u64, stage: Stage, digest: Option<String>) -> bool {
        match self.cards.lock().unwrap().get_mut(&id) {
            Some(card) if card.stage == Stage::Checking => {
                card.stage = stage;
                card.digest = digest;
                true
            }
            _ => false,
        }
    }

    /// Queues every card that passed its check and has not been queued yet, for the
    /// signed-in session `active` (each job keeps that session's token, so a later
    /// sign-in as someone else can never receive it). Returns how many were queued.
    pub fn upload_accepted(self: &Arc<Self>, session: &Arc<Session>, active: &Active) -> usize {
        let mut cards = self.cards.lock().unwrap();
        let accepted: Vec<u64> = cards
            .iter()
            .filter(|(_, c)| c.stage == Stage::Accepted)
            .map(|(&id, _)| id)
            .collect();
        // Journaled before any starts (one fsync for the batch), so a crash at any
        // point after leaves them to resume.
        let mut entries = Vec::new();
        for id in &accepted {
            let card = cards.get_mut(id).expect("listed under the lock");
            entries.push(card.journal_entry());
        }
        self.journal_queued(active, &entries);
        for id in &accepted {
            let card = cards.get_mut(id).expect("listed under the lock");
            self.queue(*id, card, session, active);
            self.report(*id, UploadState::Queued, None);
        }
        accepted.len()
    }

    /// Starts a card's upload job (under the cards' lock).
    fn queue(self: &Arc<Self>, id: u64, card: &mut Card, session: &Arc<Session>, active: &Active) {
        card.stage = Stage::Queued;
        let job = Job {
            files: Arc::clone(self),
            session: Arc::clone(session),
            active: active.clone(),
            id,
            path: card.path.clone(),
        };
        card.task = Some(spawn(job.run()));
    }

    /// Stops an upload that has not finished. If its 201 won the race, the card stays
    /// done: the decision and its event are made under the lock.
    pub fn cancel(&self, id: u64) {
        let mut cards = self.cards.lock().unwrap();
        if let Some(card) = cards.get_mut(&id)
            && card.stage == Stage::Queued
        {
            if let Some(task) = card.task.take() {
                task.abort();
            }
            card.stage = Stage::Cancelled;
            if let Some(entry) = card.journal_id.take() {
                self.journal_settled(&entry);
            }
            self.report(id, UploadState::Cancelled, Some("Cancelled.".into()));
            self.count_ended(&cards, Stage::Cancelled);
        }
    }

    /// Counts an upload that ended in `stage`; when none is left in the queue, reports
    /// how the batch ended and starts counting the next one. Called under the cards'
    /// lock, so two uploads ending at once cannot both miss (or both report) the end.
    fn count_ended(&self, cards: &BTreeMap<u64, Card>, stage: Stage) {
        let mut batch = self.batch.lock().unwrap();
        match stage {
            Stage::Done => batch.uploaded += 1,
            Stage::Failed => batch.failed += 1,
            _ => batch.cancelled += 1,
        }
        if !cards.values().any(|c| c.stage == Stage::Queued) {
            self.events.batch(std::mem::take(&mut *batch));
        }
    }

    /// Stops every unfinished upload.
    pub fn cancel_all(&self) {
        let ids: Vec<u64> = self.cards.lock().unwrap().keys().copied().collect();
        for id in ids {
            self.cancel(id);
        }
    }

    /// Removes a card that is not being uploaded. Returns whether it was removed.
    pub fn remove(&self, id: u64) -> bool {
        let mut cards = self.cards.lock().unwrap();
        if cards.get(&id).is_some_and(|c| c.stage != Stage::Queued) {
            // A resumed card removed before its check ends is not resumed again.
            if let Some(entry) = cards.remove(&id).and_then(|c| c.journal_id) {
                self.journal_settled(&entry);
            }
            true
        } else {
            false
        }
    }

    /// Removes finished cards: uploaded, refused, failed or cancelled.
    pub fn clear_finished(&self) {
        self.cards
            .lock()
            .unwrap()
            .retain(|_, c| matches!(c.stage, Stage::Checking | Stage::Accepted | Stage::Queued));
    }

    /// Cancels everything and forgets all cards and the journal (on sign-out and before
    /// a sign-in): nothing queued in one session is sent in another.
    pub fn reset(&self) {
        self.cancel_all();
        self.cards.lock().unwrap().clear();
        if let Err(e) = self.journal.clear() {
            tracing::warn!(error = %e, "the upload queue's journal could not be removed");
        }
    }

    fn journal_queued(&self, active: &Active, entries: &[Entry]) {
        if let Err(e) = self.journal.queued(&journal_session(active), entries) {
            tracing::warn!(error = %e, "the upload queue could not be journaled; it will not survive a restart");
        }
    }

    fn journal_settled(&self, entry: &str) {
        if let Err(e) = self.journal.settled(entry) {
            tracing::warn!(error = %e, "an upload's end could not be journaled; it may be sent again, and the server recognises it");
        }
    }

    /// Reports progress of a card that is still in the queue (not after a cancel).
    fn report_queued(&self, event: UploadEvent) {
        let cards = self.cards.lock().unwrap();
        if cards
            .get(&event.id)
            .is_some_and(|c| c.stage == Stage::Queued)
        {
            self.events.upload(event);
        }
    }

    /// Moves a card to a final stage and reports it, under the lock, unless it has
    /// left the queue meanwhile; a 201 (`Done`) always wins, since the server has the
    /// file whatever the person clicked.
    fn settle(&self, id: u64, stage: Stage, event: UploadEvent) {
        let mut cards = self.cards.lock().unwrap();
        let Some(card) = cards.get_mut(&id) else {
            return;
        };
        if card.stage == Stage::Queued || stage == Stage::Done {
            card.stage = stage;
            card.task = None;
            if let Some(entry) = card.journal_id.take() {
                self.journal_settled(&entry);
            }
            if let (Stage::Done, Some(digest)) = (stage, &card.digest) {
                self.uploaded.lock().unwrap().insert(digest.clone());
            }
            self.events.upload(event);
            self.count_ended(&cards, stage);
        }
    }

    fn report(&self, id: u64, state: UploadState, message: Option<String>) {
        self.events
            .upload(UploadEvent::new(id, state, 0, 0, message));
    }
}

/// The journal's name for `active`'s session (a keyed digest of its token).
fn journal_session(active: &Active) -> String {
    active
        .token
        .keyed_digest(b"imagevault upload queue journal")
}

/// One card's upload, with its retries.
struct Job {
    files: Arc<Files>,
    session: Arc<Session>,
    active: Active,
    id: u64,
    path: PathBuf,
}

impl Job {
    async fn run(self) {
        let Ok(_slot) = self.files.upload_slots.acquire().await else {
            return;
        };
        let path = self.path.clone();
        let checked = match spawn_blocking(move || intake::read_checked(&path)).await {
            Ok(Ok(checked)) => checked,
            Ok(Err(reason)) => return self.fail(reason),
            Err(_) => return self.fail("The file could not be read.".into()),
        };
        let name = checked.filename().to_owned();
        let content_type = checked.format().content_type();
        let data = Bytes::from(checked.into_bytes());
        let total = data.len() as u64;
        for attempt in 1..=MAX_ATTEMPTS {
            self.files.report_queued(UploadEvent::new(
                self.id,
                UploadState::Uploading,
                0,
                total,
                None,
            ));
            let files = Arc::clone(&self.files);
            let id = self.id;
            let progress = move |sent| {
                files.report_queued(UploadEvent::new(
                    id,
                    UploadState::Uploading,
                    sent,
                    total,
                    None,
                ));
            };
            let (data, name) = (data.clone(), name.clone());
            let result = self
                .session
                .run(self.active.clone(), |s| async move {
                    s.api
                        .upload(&s.token, &name, content_type, data, progress)
                        .await
                })
                .await;
            match result {
                Ok(image) => {
                    let mut done = UploadEvent::new(self.id, UploadState::Done, total, total, None);
                    done.image = Some(image);
                    return self.files.settle(self.id, Stage::Done, done);
                }
                Err(e) if e.is_transient() && attempt < MAX_ATTEMPTS => {
                    let wait = self.backoff(attempt, e.retry_after());
                    let message = format!(
                        "{e} Retrying in {} s (attempt {} of {MAX_ATTEMPTS}).",
                        wait.as_secs_f32().ceil(),
                        attempt + 1
                    );
                    self.files.report_queued(UploadEvent::new(
                        self.id,
                        UploadState::Retrying,
                        0,
                        total,
                        Some(message),
                    ));
                    tokio::time::sleep(wait).await;
                }
                Err(e) => return self.fail(e.to_string()),
            }
        }
    }

    fn backoff(&self, attempt: u32, retry_after: Option<u64>) -> Duration {
        let doubling = self.files.backoff_unit * 2u32.pow(attempt - 1);
        retry_after
            .map_or(doubling, Duration::from_secs)
            .min(MAX_BACKOFF)
    }

    fn fail(&self, message: String) {
        let event = UploadEvent::new(self.id, UploadState::Failed, 0, 0, Some(message));
        self.files.settle(self.id, Stage::Failed, event);
    }
}
