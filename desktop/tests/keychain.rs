//! The session token in a real Secret Service (GNOME Keyring in a private D-Bus session):
//! stored, found by the platform's own tool, read back, replaced, deleted; and the whole
//! sign-in → restart → sign-out cycle against a real server.

mod support;

use std::sync::Arc;

use imagevault_desktop::client::Token;
use imagevault_desktop::error::Error;
use imagevault_desktop::keychain::Account;
use imagevault_desktop::session::Session;
use imagevault_desktop::settings::SettingsFile;
use support::recorder::Recorder;
use support::secret_service::{enter, lookup};
use support::server::{Engine, TestApp};
use url::Url;

#[test]
fn the_token_is_stored_read_and_deleted_in_the_secret_service() {
    if enter("the_token_is_stored_read_and_deleted_in_the_secret_service").is_some() {
        return;
    }
    let server = Url::parse("https://photos.example.com/").unwrap();
    let account = Account::new("ann@example.com", &server);
    assert!(account.load().unwrap().is_none());

    account.store(&Token::new("first-token".into())).unwrap();
    assert_eq!(lookup(account.username()).as_deref(), Some("first-token"));
    assert_eq!(
        account.load().unwrap().unwrap().expose_secret(),
        "first-token"
    );

    account.store(&Token::new("second-token".into())).unwrap();
    assert_eq!(lookup(account.username()).as_deref(), Some("second-token"));

    let other = Account::new("bob@example.com", &server);
    assert!(other.load().unwrap().is_none(), "entries are per account");

    account.delete().unwrap();
    assert_eq!(lookup(account.username()), None);
    assert!(account.load().unwrap().is_none());
    account.delete().unwrap(); // deleting twice is fine
}

fn session_in(dir: &std::path::Path, events: Arc<Recorder>) -> Session {
    Session::new(SettingsFile::in_dir(dir), events)
}

#[test]
fn sign_in_survives_a_restart_and_sign_out_revokes_everywhere() {
    if enter("sign_in_survives_a_restart_and_sign_out_revokes_everywhere").is_some() {
        return;
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let app = TestApp::spawn(Engine::Sqlite).await;
        let email = "desk@example.com";
        app.signed_up_user(email).await;
        let config = app.dir.join("desktop-config");
        let events = Arc::new(Recorder::default());

        let first = session_in(&config, Arc::clone(&events));
        first.save_server(&app.base).await.unwrap();
        let wrong = first
            .sign_in(email, "Wrong-Password-123!".into())
            .await
            .unwrap_err();
        assert_eq!(wrong.code(), "invalid_credentials");
        let info = support::sign_in(&first, email).await;
        assert_eq!(info.email, email);
        let username = Account::new(email, &Url::parse(&info.server_url).unwrap())
            .username()
            .to_owned();
        let token = lookup(&username).expect("the token is in the keychain");
        assert_eq!(app.me(&token).await.status(), 200);
        let settings = std::fs::read_to_string(config.join("settings.json")).unwrap();
        assert!(
            !settings.contains(&token),
            "the token is never written to a file"
        );

        // "Restart": a new session object over the same settings signs in silently.
        let second = session_in(&config, Arc::clone(&events));
        assert_eq!(second.restore().await.unwrap(), Some(info.clone()));

        second.sign_out().await.unwrap();
        assert_eq!(
            lookup(&username),
            None,
            "sign-out deletes the keychain entry"
        );
        assert_eq!(
            app.me(&token).await.status(),
            401,
            "sign-out revokes the token"
        );
        assert_eq!(
            session_in(&config, Arc::clone(&events))
                .restore()
                .await
                .unwrap(),
            None
        );
        app.finish().await;
    });
}

#[test]
fn a_revoked_token_sends_the_user_back_to_sign_in_with_a_message() {
    if enter("a_revoked_token_sends_the_user_back_to_sign_in_with_a_message").is_some() {
        return;
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let app = TestApp::spawn(Engine::Sqlite).await;
        let email = "revoked@example.com";
        app.signed_up_user(email).await;
        let config = app.dir.join("desktop-config");
        let events = Arc::new(Recorder::default());
        let session = session_in(&config, Arc::clone(&events));
        session.save_server(&app.base).await.unwrap();
        let info = support::sign_in(&session, email).await;
        let username = Account::new(email, &Url::parse(&info.server_url).unwrap())
            .username()
            .to_owned();
        let token = lookup(&username).unwrap();

        // Revoked elsewhere (the browser's "sign out everywhere" does the same).
        assert_eq!(
            app.post_bearer("/api/v1/auth/logout", &token)
                .await
                .status(),
            204
        );

        // At the next start: a clear message, and the dead token is gone.
        let restarted = session_in(&config, Arc::clone(&events));
        let err = restarted.restore().await.unwrap_err();
        assert!(matches!(err, Error::SessionExpired), "{err:?}");
        assert!(err.to_string().contains("sign in again"), "{err}");
        assert_eq!(lookup(&username), None);

        // While running: the first call that meets the 401 ends the session and says so.
        support::sign_in(&session, email).await;
        let token = lookup(&username).unwrap();
        assert_eq!(
            app.post_bearer("/api/v1/auth/logout", &token)
                .await
                .status(),
            204
        );
        let err = session
            .call(|s| async move { s.api.list_images(&s.token, None).await })
            .await
            .unwrap_err();
        assert_eq!(err.code(), "session_expired");
        assert!(session.active().is_err());
        assert_eq!(lookup(&username), None);
        assert_eq!(events.signed_out.lock().unwrap().len(), 1);
        app.finish().await;
    });
}
