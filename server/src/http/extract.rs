//! Extractors: what a handler declares in its arguments instead of digging in the
//! depot. [`AuthUser`] authenticates the request once (bearer token or session cookie,
//! with the CSRF check for unsafe cookie requests) and refuses it with the documented
//! 401/403 before the handler runs, so a handler that takes one cannot forget to check.
//! Pages that need a signed-in browser sit behind the [`SignInFirst`] hoop, which sends
//! a signed-out browser to sign in, and take its caller as [`PageUser`];
//! [`UploadUser`] leaves a cookie form's CSRF field to the upload reader, which must see
//! it before the file. Handlers that serve anyone take the [`AppState`] itself.

use std::fmt;

use salvo::extract::{Extractible, Metadata};
use salvo::http::header::{HeaderValue, LOCATION};
use salvo::prelude::*;
use salvo_oapi::{Components, EndpointArgRegister, Operation};

use super::auth::{Caller, authenticate, authenticate_upload, csrf_token};
use crate::accounts::Asker;
use crate::error::ApiError;
use crate::state::AppState;

/// An authenticated caller and the state.
pub struct AuthUser {
    /// The application state.
    pub state: AppState,
    /// Who is asking, through which session.
    pub caller: Caller,
}

/// An authenticated uploader whose cookie form may still owe its CSRF field.
pub struct UploadUser {
    /// The application state.
    pub state: AppState,
    /// Who is asking.
    pub caller: Caller,
    /// The CSRF token the form must carry before its file (cookie sessions without the
    /// CSRF header); `None` when nothing is owed.
    pub csrf: Option<String>,
}

/// An administrator. Everyone else — signed out, signed in without the flag, a
/// disabled administrator, a forged CSRF field — gets 404, so the admin routes do not
/// reveal that they exist.
pub struct Admin {
    /// The application state.
    pub state: AppState,
    /// Who is asking.
    pub caller: Caller,
}

impl Authenticate for Admin {
    async fn authenticate(req: &mut Request, depot: &mut Depot) -> Result<Self, ApiError> {
        let AuthUser { state, caller } = match AuthUser::authenticate(req, depot).await {
            Ok(user) => user,
            Err(ApiError::Unauthorized | ApiError::Forbidden(_)) => return Err(ApiError::NotFound),
            Err(other) => return Err(other),
        };
        let admin = crate::db::users::by_id(state.db.pool(), caller.user_id)
            .await?
            .is_some_and(|u| u.admin() && !u.disabled());
        if !admin {
            return Err(ApiError::NotFound);
        }
        Ok(Self { state, caller })
    }
}

impl Admin {
    /// The administrator as the audit log records their actions.
    pub fn acting(&self, req: &Request) -> crate::admin::Acting {
        crate::admin::Acting {
            admin: self.caller.user_id,
            ip: super::client::client_ip(req, &self.state.config),
        }
    }

    /// The CSRF token the console's forms carry.
    pub fn csrf(&self) -> String {
        csrf_token(&self.state, &self.caller.token_hash)
    }
}

/// A page's caller, left in the depot by the [`SignInFirst`] hoop in front of the page:
/// `T` is an [`AuthUser`] or an [`UploadUser`].
pub struct SignedIn<T>(pub T);

/// A page that needs an authenticated browser.
pub type PageUser = SignedIn<AuthUser>;

impl<T> std::ops::Deref for SignedIn<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl AuthUser {
    /// The CSRF token the caller's forms carry.
    pub fn csrf(&self) -> String {
        csrf_token(&self.state, &self.caller.token_hash)
    }
}

/// The callers an extractor can authenticate, refusing with the API's own error.
pub trait Authenticate: Sized + Send {
    /// Authenticates `req`.
    fn authenticate(
        req: &mut Request,
        depot: &mut Depot,
    ) -> impl Future<Output = Result<Self, ApiError>> + Send;
}

impl Authenticate for AuthUser {
    async fn authenticate(req: &mut Request, depot: &mut Depot) -> Result<Self, ApiError> {
        let state = AppState::from_depot(depot).clone();
        let caller = authenticate(req, &state).await?;
        Ok(Self { state, caller })
    }
}

impl Authenticate for UploadUser {
    async fn authenticate(req: &mut Request, depot: &mut Depot) -> Result<Self, ApiError> {
        let state = AppState::from_depot(depot).clone();
        let (caller, csrf) = authenticate_upload(req, &state).await?;
        Ok(Self {
            state,
            caller,
            csrf,
        })
    }
}

/// The hoop in front of pages that need a signed-in browser: authenticates the request
/// once (as `T`) and leaves the caller in the depot for the handler's [`SignedIn`]
/// argument. A browser with no session is sent to `/login` instead of getting an error
/// body; other refusals (a wrong CSRF field, the database down) are answered as usual.
/// (A hoop, because an extractor's refusal always ends as a 4xx, never a redirect.)
pub struct SignInFirst<T>(std::marker::PhantomData<fn() -> T>);

/// [`SignInFirst`] for callers of kind `T`.
pub fn sign_in_first<T>() -> SignInFirst<T> {
    SignInFirst(std::marker::PhantomData)
}

#[async_trait]
impl<T: Authenticate + Sync + 'static> Handler for SignInFirst<T> {
    async fn handle(
        &self,
        req: &mut Request,
        depot: &mut Depot,
        res: &mut Response,
        ctrl: &mut FlowCtrl,
    ) {
        match T::authenticate(req, depot).await {
            Ok(user) => {
                depot.insert_typed(user);
            }
            Err(ApiError::Unauthorized) => {
                res.status_code(StatusCode::SEE_OTHER);
                res.headers_mut()
                    .insert(LOCATION, HeaderValue::from_static("/login"));
                ctrl.skip_rest();
            }
            Err(other) => {
                other.render(depot, res);
                ctrl.skip_rest();
            }
        }
    }
}

// The extractors name their error type (the API's own) instead of salvo's
// `impl Writer`: a deliberate refinement of the trait's signature.
macro_rules! metadata {
    ($name:expr) => {{
        static METADATA: Metadata = Metadata::new($name);
        &METADATA
    }};
}

#[allow(refining_impl_trait)]
impl<'ex> Extractible<'ex> for AppState {
    fn metadata() -> &'static Metadata {
        metadata!("AppState")
    }

    async fn extract(_req: &'ex mut Request, depot: &'ex mut Depot) -> Result<Self, ApiError> {
        Ok(AppState::from_depot(depot).clone())
    }
}

/// The API's callers: refused with the API's own 401/403.
macro_rules! authenticated {
    ($($ty:ident),*) => {$(
        #[allow(refining_impl_trait)]
        impl<'ex> Extractible<'ex> for $ty {
            fn metadata() -> &'static Metadata {
                metadata!(stringify!($ty))
            }

            async fn extract(
                req: &'ex mut Request,
                depot: &'ex mut Depot,
            ) -> Result<Self, ApiError> {
                Self::authenticate(req, depot).await
            }
        }
    )*};
}
authenticated!(AuthUser, UploadUser, Admin);

#[allow(refining_impl_trait)]
impl<'ex, T: Authenticate + Sync + 'static> Extractible<'ex> for SignedIn<T> {
    fn metadata() -> &'static Metadata {
        metadata!("SignedIn")
    }

    /// Takes the caller [`SignInFirst`] left; a route that forgot the hoop fails closed.
    async fn extract(_req: &'ex mut Request, depot: &'ex mut Depot) -> Result<Self, ApiError> {
        depot
            .remove_typed::<T>()
            .map(Self)
            .map_err(|_| ApiError::Unauthorized)
    }
}

/// The security requirement is documented on each endpoint; these arguments add no
/// parameters of their own.
macro_rules! no_parameters {
    ($($ty:ty),*) => {$(
        impl EndpointArgRegister for $ty {
            fn register(_: &mut Components, _: &mut Operation, _: &str) {}
        }
    )*};
}
no_parameters!(AppState, AuthUser, UploadUser, Admin);

/// An id (image, session, passkey) from a path: anything that is not a UUID names
/// nothing (404, like someone else's).
pub fn path_id<T: std::str::FromStr>(raw: &str) -> Result<T, ApiError> {
    raw.parse().map_err(|_| ApiError::NotFound)
}

impl AuthUser {
    /// The caller as a drastic change's password re-check counts it: the account, the
    /// session's device, the client address.
    pub fn asker(&self, req: &Request) -> Asker<'_> {
        Asker {
            user_id: self.caller.user_id,
            device_id: self.caller.device_id.as_deref(),
            ip: super::client::client_ip(req, &self.state.config),
        }
    }
}

impl fmt::Debug for AuthUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthUser")
            .field("caller", &self.caller)
            .finish_non_exhaustive()
    }
}
