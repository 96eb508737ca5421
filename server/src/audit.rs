//! The audit log: every security event, as a row of an append-only table whose rows are
//! chained by MAC, so a row deleted, edited or moved is found by [`verify`].
//!
//! `mac(n) = HMAC-SHA256(audit key, mac(n-1) ‖ encode(row n))`, where the audit key is
//! derived from a master key (see [`crate::vault::keyring::Keyring::audit_key`]): someone
//! who can write the database but has no key file cannot forge a row. The head row
//! (`audit_head`) holds the last `seq` and `mac`, so rows cut off the end show too — unless
//! the head is rewritten with them, which only an export kept elsewhere can reveal.
//! Appends take turns through that head row, so any number of instances keep one chain.
//!
//! Events hold ids, kinds and coarse addresses — never an email address, a secret or
//! a filename — so the log can be shown to administrators and kept after an account
//! is deleted.

use std::net::IpAddr;

use serde_json::{Map, Value};

use crate::db::audit::{self as rows, Filter, Row};
use crate::db::ids::UserId;
use crate::db::{Db, DbError, now};
use crate::http::client::address_hint;
use crate::state::AppState;
use crate::vault::keyring::AuditKey;
use crate::vault::{MasterKeys, VaultError};

macro_rules! kinds {
    ($($variant:ident = $name:literal: $doc:literal,)*) => {
        /// What happened. The names are the `kind` of the API and the filter's values.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Kind {
            $(#[doc = $doc] $variant,)*
        }

        impl Kind {
            /// Every kind, in the order the admin page offers them.
            pub const ALL: &[Kind] = &[$(Kind::$variant,)*];

            /// The stored name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)*
                }
            }

            /// A sentence saying what happened, for people.
            pub fn describe(self) -> &'static str {
                match self {
                    $(Self::$variant => $doc,)*
                }
            }

            /// A stored name back as a kind.
            pub fn parse(name: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|k| k.as_str() == name)
            }
        }
    };
}

kinds! {
    SignIn = "sign_in": "A sign-in succeeded (password, code, passkey or single sign-on).",
    SignInFailed = "sign_in_failed": "A wrong password or code for an account.",
    Lockout = "lockout": "Too many failures locked sign-in from unknown devices.",
    DeviceUnlocked = "device_unlocked": "The emailed link made a browser a known device.",
    SignOut = "sign_out": "A session signed out.",
    SignOutEverywhere = "sign_out_everywhere": "Every session of the account ended.",
    SessionRevoked = "session_revoked": "The owner ended one session from the list.",
    Registered = "registered": "An account was created.",
    EmailVerified = "email_verified": "The email address was confirmed.",
    PasswordReset = "password_reset": "The password was reset through the emailed link.",
    PasswordRecheckFailed = "password_recheck_failed": "A wrong password before a drastic change.",
    TwoStepOn = "two_step_on": "Two-step sign-in was turned on.",
    TwoStepOff = "two_step_off": "Two-step sign-in was turned off.",
    RecoveryCodesReplaced = "recovery_codes_replaced": "New recovery codes were made.",
    RecoveryCodeUsed = "recovery_code_used": "A recovery code was used to sign in.",
    PasskeyAdded = "passkey_added": "A passkey was added.",
    PasskeyRemoved = "passkey_removed": "A passkey was removed.",
    AccountDeleted = "account_deleted": "The owner deleted the account.",
    AccountCreatedByOperator = "account_created_by_operator": "The operator made the account from the command line.",
    AdminDisabled = "admin_disabled": "An administrator disabled the account.",
    AdminEnabled = "admin_enabled": "An administrator enabled the account again.",
    AdminQuotaSet = "admin_quota_set": "An administrator set the account's quota.",
    AdminSignedOut = "admin_signed_out": "An administrator ended every session of the account.",
    IntegrityFailure = "integrity_failure": "Stored data failed its integrity check.",
    KeyRotation = "key_rotation": "A master-key version was added and user keys rewrapped.",
    UserKeyRotated = "user_key_rotated": "The account's data key was replaced and its images re-encrypted.",
    ShareCreated = "share_created": "A share link was made.",
    ShareOpened = "share_opened": "Someone opened a share link.",
    ShareUnlocked = "share_unlocked": "Someone entered a share link's password.",
    ShareWrongPassword = "share_wrong_password": "A wrong password was tried on a share link.",
    ShareRevoked = "share_revoked": "A share link was revoked.",
    SsoLinked = "sso_linked": "The account was linked to an identity at the single sign-on provider.",
    SsoUnlinked = "sso_unlinked": "The owner removed the account's single sign-on link.",
    SsoRefused = "sso_refused": "A single sign-on was refused (a bad state, code or ID token, or an unverified email).",
}

/// One event to record.
#[derive(Debug, Clone)]
pub struct Event {
    kind: Kind,
    user: Option<UserId>,
    address: Option<IpAddr>,
    detail: Map<String, Value>,
}

impl Event {
    /// An event of `kind`, about no one yet.
    pub fn new(kind: Kind) -> Self {
        Self {
            kind,
            user: None,
            address: None,
            detail: Map::new(),
        }
    }

    /// About this account.
    #[must_use]
    pub fn user(mut self, user: UserId) -> Self {
        self.user = Some(user);
        self
    }

    /// From this client (kept only as its coarse hint).
    #[must_use]
    pub fn from(mut self, ip: IpAddr) -> Self {
        self.address = Some(ip);
        self
    }

    /// With this particular (an id, a count, a reason: never a secret or a filename).
    #[must_use]
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.detail.insert(key.to_owned(), value.into());
        self
    }

    /// What happened.
    pub fn kind(&self) -> Kind {
        self.kind
    }
}

/// Why the log could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The key file failed, or names no key for a row's version.
    #[error("audit key: {0}")]
    Vault(#[from] VaultError),
}

/// Records `event` and logs it; then, for a lockout, checks for a storm (see
/// [`crate::alerts`]). A failure to record is logged loudly but does not fail the
/// request that caused the event: the event already happened.
pub async fn record(state: &AppState, event: Event) {
    let kind = event.kind;
    state.metrics.security_event(kind);
    let user = event.user.map(|u| u.to_string());
    let ip = event.address.map(|ip| ip.to_string());
    let detail = Value::Object(event.detail.clone()).to_string();
    tracing::info!(target: "security", event = kind.as_str(), user.id = user.as_deref(),
        ip = ip.as_deref(), detail, "{}", kind.describe());
    if let Err(e) = append(&state.db, &state.keyring, &event).await {
        tracing::error!(target: "security", event = kind.as_str(), error = %e,
            "security event NOT written to the audit log");
        return;
    }
    if kind == Kind::Lockout {
        crate::alerts::after_lockout(state).await;
    }
}

/// Appends `event` as the chain's next row; returns its `seq`.
pub async fn append(db: &Db, keys: &MasterKeys, event: &Event) -> Result<i64, AuditError> {
    // The key comes first: a missing key file must not leave the head claimed.
    let (version, key) = keys.current_audit_key()?;
    let mut tx = db.begin().await?;
    let (seq, previous) = rows::claim_next(&mut tx).await?;
    let mut row = Row {
        seq,
        at: now(),
        kind: event.kind.as_str().to_owned(),
        user_id: event.user.map(|u| u.to_string()),
        address_hint: event.address.map(address_hint),
        detail: Value::Object(event.detail.clone()).to_string(),
        key_version: i64::from(version),
        mac: String::new(),
    };
    row.mac = hex::encode(key.chain(previous.as_bytes(), &encode(&row)));
    rows::append(&mut tx, &row).await?;
    tx.commit().await.map_err(DbError::from)?;
    Ok(seq)
}

/// The bytes a row's MAC covers: every column but the MAC, each length-prefixed (and
/// absent values marked apart from empty ones), so no two rows encode alike.
fn encode(row: &Row) -> Vec<u8> {
    fn field(out: &mut Vec<u8>, value: Option<&[u8]>) {
        match value {
            None => out.push(0),
            Some(bytes) => {
                out.push(1);
                out.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
                out.extend_from_slice(bytes);
            }
        }
    }
    let mut out = b"imagevault audit row v1".to_vec();
    field(&mut out, Some(&row.seq.to_be_bytes()));
    field(&mut out, Some(&row.at.to_be_bytes()));
    field(&mut out, Some(row.kind.as_bytes()));
    field(&mut out, row.user_id.as_deref().map(str::as_bytes));
    field(&mut out, row.address_hint.as_deref().map(str::as_bytes));
    field(&mut out, Some(row.detail.as_bytes()));
    field(&mut out, Some(&row.key_version.to_be_bytes()));
    out
}

/// Where the chain first fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    /// The first `seq` that is missing, out of place or altered.
    pub seq: i64,
    /// What is wrong there.
    pub reason: String,
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Rows that checked out before the first break (all of them when unbroken).
    pub rows: i64,
    /// The first break, if any.
    pub broken: Option<Broken>,
}

/// Rows read at a time while verifying or exporting.
const BATCH: i64 = 1000;

/// Walks the whole chain and reports the first row that is missing, out of place (a
/// number below 1 or repeated), or does not carry the MAC its content and predecessor
/// call for; then checks that the head names the last row. The head is read first, so
/// rows appended while the walk runs are beyond it and not judged.
pub async fn verify(db: &Db, keys: &MasterKeys) -> Result<Verified, AuditError> {
    let (head_seq, head_mac) = rows::head(db.pool()).await?;
    let mut walk = Walk {
        previous: String::new(),
        expected: 1,
        key: None,
    };
    let mut after = i64::MIN;
    while after < head_seq {
        let batch = rows::after(db.pool(), after, BATCH).await?;
        let Some(last) = batch.last() else {
            break;
        };
        after = last.seq;
        for row in batch.iter().take_while(|r| r.seq <= head_seq) {
            if let Some(broken) = walk.check(row, keys)? {
                return Ok(Verified {
                    rows: walk.expected - 1,
                    broken: Some(broken),
                });
            }
        }
    }
    let rows = walk.expected - 1;
    if rows != head_seq || walk.previous != head_mac {
        // Rows were cut off the end (or the head was edited).
        return Ok(Verified {
            rows,
            broken: Some(Broken {
                seq: rows + 1,
                reason: format!("the log ends at row {rows}, but {head_seq} were written"),
            }),
        });
    }
    Ok(Verified { rows, broken: None })
}

/// Where [`verify`] has got to.
struct Walk {
    /// The MAC of the last row that checked out.
    previous: String,
    /// The `seq` the next row must have.
    expected: i64,
    /// The audit key of the last row's master-key version.
    key: Option<(i64, AuditKey)>,
}

impl Walk {
    /// Checks the next row; `Some` says how the chain breaks there.
    fn check(&mut self, row: &Row, keys: &MasterKeys) -> Result<Option<Broken>, AuditError> {
        let at = |seq, reason: String| Ok(Some(Broken { seq, reason }));
        if row.seq < self.expected {
            return at(
                row.seq,
                format!(
                    "row {} is out of place: rows are numbered from 1, once each",
                    row.seq
                ),
            );
        }
        if row.seq > self.expected {
            let expected = self.expected;
            return at(
                expected,
                format!("row {expected} is missing (the next row is {})", row.seq),
            );
        }
        if self.key.as_ref().is_none_or(|(v, _)| *v != row.key_version) {
            let key = u32::try_from(row.key_version)
                .ok()
                .map(|version| keys.audit_key(version));
            match key {
                Some(Ok(key)) => self.key = Some((row.key_version, key)),
                Some(Err(VaultError::UnknownKeyVersion(_))) | None => {
                    let version = row.key_version;
                    return at(
                        row.seq,
                        format!(
                            "it names master key version {version}, which the key file does not hold"
                        ),
                    );
                }
                Some(Err(e)) => return Err(e.into()),
            }
        }
        let (_, key) = self.key.as_ref().expect("just filled");
        let mac = hex::decode(&row.mac).unwrap_or_default();
        if !key.verify(self.previous.as_bytes(), &encode(row), &mac) {
            return at(
                row.seq,
                "its MAC does not match its content and the row before it".into(),
            );
        }
        self.previous.clone_from(&row.mac);
        self.expected += 1;
        Ok(None)
    }
}

/// Writes every row, oldest first, as JSON lines; returns how many.
pub async fn export(db: &Db, out: &mut impl std::io::Write) -> Result<i64, ExportError> {
    let mut after = 0;
    let mut written = 0;
    loop {
        let batch = rows::after(db.pool(), after, BATCH).await?;
        let Some(last) = batch.last() else {
            return Ok(written);
        };
        after = last.seq;
        for row in &batch {
            serde_json::to_writer(&mut *out, &exported(row))?;
            out.write_all(b"\n")?;
            written += 1;
        }
    }
}

/// Why an export stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The output could not be written.
    #[error("writing the export: {0}")]
    Io(#[from] std::io::Error),
    /// A row could not be encoded.
    #[error("encoding a row: {0}")]
    Json(#[from] serde_json::Error),
}

/// A row with its detail as the JSON object it is (a string only if edited into one).
fn exported(row: &Row) -> Value {
    serde_json::json!({
        "seq": row.seq,
        "at": row.at,
        "kind": row.kind,
        "user_id": row.user_id,
        "address_hint": row.address_hint,
        "detail": detail(row),
        "key_version": row.key_version,
        "mac": row.mac,
    })
}

/// A row's detail as JSON.
pub fn detail(row: &Row) -> Value {
    serde_json::from_str(&row.detail).unwrap_or_else(|_| Value::String(row.detail.clone()))
}

/// Events shown per page.
pub const PAGE: i64 = 50;

/// One page of events, newest first, and the cursor of the next (older) page.
pub async fn page(db: &Db, filter: &Filter<'_>) -> Result<(Vec<Row>, Option<i64>), DbError> {
    let mut rows = rows::newest(db.pool(), filter, PAGE + 1).await?;
    let more = rows.len() > usize::try_from(PAGE).unwrap_or(usize::MAX);
    rows.truncate(usize::try_from(PAGE).unwrap_or(usize::MAX));
    let next = if more {
        rows.last().map(|r| r.seq)
    } else {
        None
    };
    Ok((rows, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> Row {
        Row {
            seq: 1,
            at: 2,
            kind: "sign_in".into(),
            user_id: None,
            address_hint: Some(String::new()),
            detail: "{}".into(),
            key_version: 1,
            mac: String::new(),
        }
    }

    #[test]
    fn absent_and_empty_values_encode_apart() {
        let mut other = row();
        other.user_id = Some(String::new());
        other.address_hint = None;
        assert_ne!(encode(&row()), encode(&other));
    }

    #[test]
    fn fields_cannot_borrow_bytes_from_each_other() {
        let mut a = row();
        a.kind = "ab".into();
        a.detail = "c".into();
        let mut b = row();
        b.kind = "a".into();
        b.detail = "bc".into();
        assert_ne!(encode(&a), encode(&b));
    }

    #[test]
    fn every_kind_parses_back_from_its_name() {
        for kind in Kind::ALL {
            assert_eq!(Kind::parse(kind.as_str()), Some(*kind));
        }
        assert_eq!(Kind::parse("sign_in "), None);
    }
}
