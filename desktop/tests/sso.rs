//! Single sign-on from the app (RFC 8252) against the real server and a real OpenID
//! Provider (`oidc-provider` on loopback), inside a real Secret Service: the start page
//! goes to "the system browser" — here a cookie-keeping HTTP client that fills in the
//! provider's own login and consent pages — which the provider sends back to the app's
//! loopback listener with the code; the app exchanges it with its PKCE verifier and
//! keeps the token in the keychain as after a password. Also: an account that must be
//! linked with its password first, a denied consent, and a stray visit to the listener.

mod support;

use std::sync::Arc;

use imagevault_desktop::error::Error;
use imagevault_desktop::session::{Session, SignInOutcome};
use imagevault_desktop::settings::SettingsFile;
use support::recorder::Recorder;
use support::secret_service::{enter, lookup};
use support::server::oidc::{Consent, OidcProvider, Person};
use support::server::{Engine, PASSWORD, TestApp};

/// The app's session core pointed at `app`.
async fn session(app: &TestApp, name: &str) -> Session {
    let events = Arc::new(Recorder::default());
    let session = Session::new(SettingsFile::in_dir(&app.dir.join(name)), events);
    session.save_server(&app.base).await.unwrap();
    session
}

/// Signs in through the provider as `who`: "the system browser" follows the start
/// page through the provider's pages and back to the app's loopback listener.
async fn sso(
    session: &Session,
    provider: &Arc<OidcProvider>,
    who: &'static str,
    consent: Consent,
) -> Result<SignInOutcome, Error> {
    let provider = Arc::clone(provider);
    session
        .sign_in_sso(move |url| {
            let start = url.to_string();
            let loopback = url
                .query_pairs()
                .find(|(key, _)| key == "redirect_uri")
                .map(|(_, value)| value.into_owned())
                .expect("the start page names the app's loopback redirect");
            assert!(loopback.starts_with("http://127.0.0.1:"), "{loopback}");
            tokio::spawn(async move {
                let browser = support::server::browser();
                let back = provider
                    .authorize(&browser, &start, who, consent, &loopback)
                    .await;
                // A stray visit first: another state on the listener changes nothing.
                let stray = back.split('?').next().unwrap().to_owned() + "?code=x&state=forged";
                let _ = browser.get(stray).send().await;
                browser.get(back).send().await.unwrap();
            });
            Ok(())
        })
        .await
}

#[test]
fn the_app_signs_in_through_the_system_browser_and_a_loopback_redirect() {
    if enter("the_app_signs_in_through_the_system_browser_and_a_loopback_redirect").is_some() {
        return;
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let provider = Arc::new(OidcProvider::start(&[
            Person::verified("jo", "jo@example.com"),
            Person::verified("kim", "kim@example.com"),
        ]));
        let app = provider.app(Engine::Sqlite, &[]).await;

        // A new person: signed in, the token in the keychain.
        let desk = session(&app, "jo").await;
        let outcome = sso(&desk, &provider, "jo", Consent::Allow).await.unwrap();
        let SignInOutcome::SignedIn { account } = outcome else {
            panic!("signed in: {outcome:?}");
        };
        assert_eq!(account.email, "jo@example.com");
        let stored = lookup(&support::keychain_name(&app.base, "jo@example.com"))
            .expect("the token is in the keychain");
        assert_eq!(app.me(&stored).await.status(), 200);

        // Denied consent: the provider's reason, no session.
        let denied = session(&app, "denied").await;
        let err = sso(&denied, &provider, "jo", Consent::Deny)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::SsoRefused(why) if why.contains("did not allow")),
            "{err:?}"
        );
        assert!(denied.active().is_err());

        // An account that exists already: linked with its password once.
        support::server::create_verified_user(&app.state, "kim@example.com").await;
        let kim = session(&app, "kim").await;
        let outcome = sso(&kim, &provider, "kim", Consent::Allow).await.unwrap();
        assert_eq!(outcome, SignInOutcome::LinkNeeded);
        let err = kim
            .sign_in_sso_link("Not-Kims-Password-1!".into(), "")
            .await
            .unwrap_err();
        assert_eq!(err.code(), "invalid_credentials", "{err:?}");
        let account = kim.sign_in_sso_link(PASSWORD.into(), "").await.unwrap();
        assert_eq!(account.email, "kim@example.com");
        // Linked: the next sign-in needs no password.
        kim.sign_out().await.unwrap();
        let outcome = sso(&kim, &provider, "kim", Consent::Allow).await.unwrap();
        assert!(
            matches!(outcome, SignInOutcome::SignedIn { .. }),
            "{outcome:?}"
        );
        app.finish().await;
    });
}
