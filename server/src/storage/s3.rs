//! Blobs as objects in an S3-compatible bucket (AWS S3, `MinIO`, Ceph RGW, Garage), through
//! the `object_store` crate. A `PUT` that S3 acknowledges is durable, so `put` returning
//! means the same as for files. TLS is always verified (`object_store` uses rustls with
//! the platform's roots); plain HTTP is possible only where the operator asks for it
//! with `AWS_ALLOW_HTTP`, for an endpoint on a private network.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::TryStreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey};
use object_store::path::Path;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, ObjectStoreExt, RetryConfig};
use secrecy::{ExposeSecret, SecretString};

use super::{BlobName, Listed, StorageError};

/// A prefix in one bucket.
#[derive(Debug, Clone)]
pub struct S3Store {
    store: Arc<AmazonS3>,
    prefix: Path,
}

/// Few, quick retries: a request waiting on a dead store holds a client and a
/// connection, and a fast 503 tells the client more than a long hang.
fn retry() -> RetryConfig {
    RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(1),
            base: 2.0,
        },
        max_retries: 2,
        retry_timeout: Duration::from_secs(5),
    }
}

impl S3Store {
    /// Builds the client; nothing is sent until the first request.
    pub fn open(
        bucket: &str,
        prefix: &str,
        options: &[(&'static str, SecretString)],
    ) -> Result<Self, StorageError> {
        // Client options first: `with_client_options` replaces the whole set, including
        // `AWS_ALLOW_HTTP` if it came before.
        let mut builder = AmazonS3Builder::new()
            .with_client_options(
                ClientOptions::new()
                    .with_connect_timeout(Duration::from_secs(3))
                    .with_timeout(Duration::from_secs(30)),
            )
            .with_retry(retry());
        for (name, value) in options {
            let key: AmazonS3ConfigKey = name
                .to_ascii_lowercase()
                .parse()
                .map_err(|e| StorageError::Config(format!("{name}: {e}")))?;
            builder = builder.with_config(key, value.expose_secret());
        }
        let store = builder
            .with_bucket_name(bucket)
            .build()
            .map_err(|e| StorageError::Config(e.to_string()))?;
        Ok(Self {
            store: Arc::new(store),
            prefix: Path::from(prefix),
        })
    }

    fn path(&self, name: &BlobName) -> Path {
        self.prefix.clone().join(name.shard()).join(name.as_str())
    }

    /// Stores `bytes` under `name`.
    pub async fn put(&self, name: &BlobName, bytes: Vec<u8>) -> Result<(), StorageError> {
        self.store
            .put(&self.path(name), bytes.into())
            .await
            .map(drop)
            .map_err(unavailable)
    }

    /// The blob, or `None` if there is none.
    pub async fn get(&self, name: &BlobName) -> Result<Option<Vec<u8>>, StorageError> {
        let found = match self.store.get(&self.path(name)).await {
            Ok(found) => found,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(unavailable(e)),
        };
        Ok(Some(found.bytes().await.map_err(unavailable)?.to_vec()))
    }

    /// Removes the blob; S3 answers success for a missing key too.
    pub async fn delete(&self, name: &BlobName) -> Result<(), StorageError> {
        match self.store.delete(&self.path(name)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }

    /// Every blob under the prefix that we wrote (other keys are skipped).
    pub async fn list(&self) -> Result<Vec<Listed>, StorageError> {
        let objects: Vec<_> = self
            .store
            .list(Some(&self.prefix))
            .try_collect()
            .await
            .map_err(unavailable)?;
        Ok(objects
            .into_iter()
            .filter_map(|meta| {
                let (name, image, kind) = meta.location.filename().and_then(BlobName::parse)?;
                (meta.location == self.path(&name)).then(|| Listed {
                    name,
                    image,
                    kind,
                    modified: SystemTime::from(meta.last_modified),
                })
            })
            .collect())
    }

    /// Whether the bucket answers: a `HEAD` of a key that never exists must come back
    /// as "not found", which needs working credentials and a reachable endpoint.
    pub async fn ping(&self) -> bool {
        match self.store.head(&self.prefix.clone().join(".readyz")).await {
            Ok(_) | Err(object_store::Error::NotFound { .. }) => true,
            Err(e) => {
                tracing::warn!(error = chain(&e), "object store does not answer");
                false
            }
        }
    }
}

#[allow(clippy::needless_pass_by_value)] // used as `map_err(unavailable)`
fn unavailable(err: object_store::Error) -> StorageError {
    StorageError::Unavailable(chain(&err))
}

/// The error and its causes on one line: `object_store` keeps the useful part (which
/// connection or TLS step failed) in the source chain.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
