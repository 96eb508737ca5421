//! Typed ids, decoded at the database boundary.
//!
//! Every id is a random UUID stored as text (the schema's one portable type). Rows decode
//! straight into these newtypes, so a corrupt id fails the query that read it — as a
//! [`super::DbError`] — instead of surfacing later as a parse error, a panic, or a nil
//! UUID that silently names nothing. Services never parse an id out of a `String`, and a
//! `UserId` cannot be passed where an `ImageId` is meant.

use std::fmt;
use std::str::FromStr;

use sqlx::any::{Any, AnyTypeInfo, AnyValueRef};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::{Database, Decode, Encode, Type};
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh random id.
            #[must_use]
            pub fn random() -> Self {
                Self(Uuid::new_v4())
            }

            /// The UUID inside (for the blob format and the wire types).
            #[must_use]
            pub fn uuid(self) -> Uuid {
                self.0
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::try_parse(s).map(Self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0.hyphenated())
            }
        }

        impl Type<Any> for $name {
            fn type_info() -> AnyTypeInfo {
                <String as Type<Any>>::type_info()
            }
        }

        impl Encode<'_, Any> for $name {
            fn encode_by_ref(
                &self,
                buf: &mut <Any as Database>::ArgumentBuffer,
            ) -> Result<IsNull, BoxDynError> {
                <String as Encode<Any>>::encode(self.to_string(), buf)
            }
        }

        impl<'r> Decode<'r, Any> for $name {
            fn decode(value: AnyValueRef<'r>) -> Result<Self, BoxDynError> {
                let text = <&str as Decode<Any>>::decode(value)?;
                Ok(Self(Uuid::try_parse(text).map_err(|e| {
                    format!("{} {text:?} is not a UUID: {e}", stringify!($name))
                })?))
            }
        }
    };
}

uuid_id!(
    /// An account.
    UserId
);
uuid_id!(
    /// A stored image (its blobs are named after it).
    ImageId
);
uuid_id!(
    /// A sign-in session (bearer token or browser cookie); names it without revealing
    /// its token.
    SessionId
);
uuid_id!(
    /// A registered passkey (not its WebAuthn credential id, which the browser names).
    PasskeyId
);
uuid_id!(
    /// A share link (never its token, which only the link holds).
    ShareId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_print_and_parse_as_hyphenated_uuids() {
        let id = ImageId::random();
        let text = id.to_string();
        assert_eq!(text.len(), 36);
        assert_eq!(text.parse::<ImageId>().unwrap(), id);
        assert!("not-a-uuid".parse::<UserId>().is_err());
        assert!(format!("{id:?}").starts_with("ImageId("));
    }
}
