//! Alerts: administrators are emailed when something needs a person — stored data that
//! fails its integrity check, a key file that does not match the database, a storm of
//! lockouts. Each kind is sent at most once an hour over every instance (a counter in
//! the database decides who sends), so an attack or a damaged disk cannot flood the
//! administrators' mailboxes.

use crate::audit::{self, Event, Kind};
use crate::db::{Db, audit as rows, now, throttle, users};
use crate::email::Mailer;
use crate::state::AppState;

/// An alert's window: one mail of a kind per hour.
const WINDOW: i64 = 3600;

/// An integrity failure was answered: recorded in the audit log and mailed (in the
/// background: the request that met it has its answer already).
pub fn integrity_failure(state: &AppState, what: &str) {
    let state = state.clone();
    let what = what.to_owned();
    tokio::spawn(async move {
        audit::record(
            &state,
            Event::new(Kind::IntegrityFailure).with("what", what.clone()),
        )
        .await;
        let body = format!(
            "ImageVault refused to serve stored data that failed its integrity check:\n\n\
             {what}\n\nThe data may have been damaged or tampered with. Check the storage \
             and the database, and run `imagevault-server audit verify`. Further failures \
             in the next hour are in the audit log and the server log, not mailed.\n"
        );
        send(
            &state.db,
            &state.mailer,
            "integrity",
            "Integrity failure",
            body,
        )
        .await;
    });
}

/// The key file does not match what the database recorded: the server will not start.
/// Called on the way out, so it sends before returning.
pub async fn master_key_mismatch(db: &Db, mailer: &Mailer, reason: &str) {
    let body = format!(
        "An ImageVault server refused to start because its master key file does not match \
         the database:\n\n{reason}\n\nEvery instance needs the same key file. If no one \
         changed it, treat this as a possible compromise.\n"
    );
    send(db, mailer, "master-key", "Master key mismatch", body).await;
    mailer.settled().await;
}

/// After a lockout: if more lockouts than `ALERT_LOCKOUTS_PER_HOUR` happened in the last
/// hour, over every account, someone is guessing passwords at scale.
pub async fn after_lockout(state: &AppState) {
    let limit = i64::from(state.config.alert_lockouts_per_hour);
    let since = now() - WINDOW;
    let count = match rows::count_since(state.db.pool(), Kind::Lockout.as_str(), since).await {
        Ok(count) => count,
        Err(e) => {
            tracing::warn!(error = %e, "could not count recent lockouts");
            return;
        }
    };
    if count <= limit {
        return;
    }
    let body = format!(
        "{count} sign-in lockouts happened in the last hour (the alert threshold is \
         {limit}): someone may be guessing passwords across many accounts. Owners of \
         locked accounts were emailed; devices they signed in with before still work.\n\n\
         The lockouts are in the admin console's audit view (kind: lockout).\n"
    );
    send(
        &state.db,
        &state.mailer,
        "lockout-storm",
        "Lockout storm",
        body,
    )
    .await;
}

/// Mails `body` to every administrator, unless an alert of `kind` went out in this
/// hour.
async fn send(db: &Db, mailer: &Mailer, kind: &str, title: &str, body: String) {
    let bucket = format!("alert:{kind}");
    match throttle::hit(db.pool(), &bucket, now(), WINDOW).await {
        Ok((1, _)) => {}
        Ok(_) => return,
        Err(e) => tracing::warn!(error = %e, kind, "alert de-duplication failed; sending anyway"),
    }
    let admins = match users::admin_emails(db.pool()).await {
        Ok(admins) => admins,
        Err(e) => {
            tracing::error!(error = %e, kind, "no administrator could be alerted");
            return;
        }
    };
    if admins.is_empty() {
        tracing::warn!(kind, "alert not mailed: there is no administrator");
    }
    tracing::warn!(target: "security", event = "alert", kind, admins = admins.len(), "administrators alerted");
    for to in admins {
        mailer.send_later(mailer.alert(&to, title, &body));
    }
}
