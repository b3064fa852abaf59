//! The S3 object store under [`super::remote::RemoteStore`]: conditional
//! PUT (`If-None-Match: *`, `If-Match`) and conditional DELETE (`If-Match`),
//! which S3 has offered since 2024–2025 and moto implements.
//!
//! The state layer is synchronous (a checkpoint returns only once it is
//! durable), so the SDK's futures run on a small runtime of this blob's own,
//! and callers wait on a channel: that works from plain threads and from
//! inside the engine's runtime alike.

use std::future::Future;
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::remote::{Blob, BlobError, Cond, Object, Version};
use super::StateError;

/// `s3://bucket/prefix?region=eu-west-1`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Url {
    pub bucket: String,
    pub prefix: String,
    pub region: Option<String>,
}

impl S3Url {
    pub fn parse(url: &str) -> Result<S3Url, String> {
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| format!("{url:?} is not an s3:// URL"))?;
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (bucket, prefix) = path.split_once('/').unwrap_or((path, ""));
        let valid = (3..=63).contains(&bucket.len())
            && bucket
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
            && !bucket.starts_with(['-', '.'])
            && !bucket.ends_with(['-', '.']);
        if !valid {
            return Err(format!(
                "{url:?}: bucket {bucket:?} is not a valid S3 bucket name (3-63 lowercase letters, digits, '-' and '.')"
            ));
        }
        let mut region = None;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("region", r)) if !r.is_empty() => region = Some(r.to_string()),
                _ => {
                    return Err(format!(
                        "{url:?}: unknown parameter {pair:?} (known: region=REGION)"
                    ))
                }
            }
        }
        Ok(S3Url {
            bucket: bucket.to_string(),
            prefix: prefix.trim_matches('/').to_string(),
            region,
        })
    }
}

impl std::fmt::Display for S3Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}", self.bucket)?;
        if !self.prefix.is_empty() {
            write!(f, "/{}", self.prefix)?;
        }
        Ok(())
    }
}

pub struct S3Blob {
    rt: Option<tokio::runtime::Runtime>,
    client: aws_sdk_s3::Client,
    url: S3Url,
}

fn runtime() -> Result<tokio::runtime::Runtime, StateError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("morket-state-s3")
        .enable_all()
        .build()
        .map_err(|e| StateError::Db(format!("starting the S3 client runtime: {e}")))
}

/// Runs `f` on `rt` and waits for it from any thread, in a runtime or not.
fn run_on<F>(rt: &tokio::runtime::Runtime, f: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    rt.spawn(async move {
        let _ = tx.send(f.await);
    });
    rx.recv()
        .expect("the S3 client task ended without an answer")
}

impl S3Blob {
    /// A client from the SDK's default chain (environment, profile, IMDS),
    /// in the URL's region when it names one.
    pub fn new(url: S3Url, profile: Option<String>) -> Result<S3Blob, StateError> {
        let rt = runtime()?;
        let region = url.region.clone();
        let config = run_on(&rt, async move {
            let mut loader = aws_config::defaults(BehaviorVersion::latest())
                .retry_config(
                    aws_config::retry::RetryConfig::standard()
                        .with_max_attempts(5)
                        .with_initial_backoff(Duration::from_millis(200)),
                )
                .timeout_config(
                    aws_config::timeout::TimeoutConfig::builder()
                        .operation_attempt_timeout(Duration::from_secs(30))
                        .operation_timeout(Duration::from_secs(120))
                        .connect_timeout(Duration::from_secs(10))
                        .build(),
                );
            if let Some(r) = region {
                loader = loader.region(Region::new(r));
            }
            if let Some(p) = profile {
                loader = loader.profile_name(p);
            }
            loader.load().await
        });
        Ok(Self::build(rt, url, &config))
    }

    /// A client on `config` (tests point it at moto).
    pub fn with_config(url: S3Url, config: &SdkConfig) -> Result<S3Blob, StateError> {
        Ok(Self::build(runtime()?, url, config))
    }

    fn build(rt: tokio::runtime::Runtime, url: S3Url, config: &SdkConfig) -> S3Blob {
        // A local endpoint (the test peer) has no per-bucket DNS names.
        let local = config.endpoint_url().is_some();
        let mut b = aws_sdk_s3::config::Builder::from(config).force_path_style(local);
        if let Some(r) = &url.region {
            b = b.region(Region::new(r.clone()));
        }
        S3Blob {
            rt: Some(rt),
            client: aws_sdk_s3::Client::from_conf(b.build()),
            url,
        }
    }

    pub fn url(&self) -> &S3Url {
        &self.url
    }

    /// What a request future owns: the client, the bucket and the key.
    fn parts(&self, key: &str) -> (aws_sdk_s3::Client, String, String) {
        (
            self.client.clone(),
            self.url.bucket.clone(),
            key.to_string(),
        )
    }

    fn run<F>(&self, f: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        run_on(self.rt.as_ref().expect("runtime until drop"), f)
    }
}

impl Drop for S3Blob {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which panics inside another runtime.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// Maps an SDK error by HTTP status: the condition answers are 412 and 404.
fn sdk_err<E>(
    e: aws_sdk_s3::error::SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> BlobError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match e.raw_response().map(|r| r.status().as_u16()) {
        Some(412) => BlobError::PreconditionFailed,
        Some(404) => BlobError::NotFound,
        Some(403) => BlobError::Other(format!(
            "access denied (HTTP 403{}): these credentials may not use this bucket, or its policy refuses the request (the state bucket's policy requires TLS)",
            e.code().map(|c| format!(" {c}")).unwrap_or_default()
        )),
        _ => {
            let code = e.code().unwrap_or("").to_string();
            let msg = aws_smithy_types::error::display::DisplayErrorContext(&e).to_string();
            BlobError::Other(if code.is_empty() || msg.contains(&code) {
                msg
            } else {
                format!("{code}: {msg}")
            })
        }
    }
}

async fn read_body(
    out: aws_sdk_s3::operation::get_object::GetObjectOutput,
) -> Result<Object, BlobError> {
    let etag = out.e_tag().unwrap_or_default().to_string();
    let bytes = out
        .body
        .collect()
        .await
        .map_err(|e| BlobError::Other(format!("reading the body: {e}")))?
        .into_bytes()
        .to_vec();
    Ok(Object { bytes, etag })
}

impl Blob for S3Blob {
    fn location(&self) -> String {
        self.url.to_string()
    }

    fn get(&self, key: &str) -> Result<Option<Object>, BlobError> {
        let (c, bucket, key) = self.parts(key);
        self.run(async move {
            match c.get_object().bucket(bucket).key(key).send().await {
                Ok(out) => read_body(out).await.map(Some),
                Err(e) => match sdk_err(e) {
                    BlobError::NotFound => Ok(None),
                    other => Err(other),
                },
            }
        })
    }

    fn get_if_changed(&self, key: &str, etag: &str) -> Result<Option<Object>, BlobError> {
        let (c, bucket, key) = self.parts(key);
        let etag = etag.to_string();
        self.run(async move {
            let out = match c
                .get_object()
                .bucket(bucket)
                .key(key)
                .if_none_match(etag)
                .send()
                .await
            {
                Ok(out) => out,
                Err(e) if e.raw_response().map(|r| r.status().as_u16()) == Some(304) => {
                    return Ok(None)
                }
                Err(e) => return Err(sdk_err(e)),
            };
            read_body(out).await.map(Some)
        })
    }

    fn put(&self, key: &str, bytes: &[u8], cond: Cond) -> Result<String, BlobError> {
        let (c, bucket, key) = self.parts(key);
        let body = bytes.to_vec();
        self.run(async move {
            let mut req = c
                .put_object()
                .bucket(bucket)
                .key(key)
                .body(ByteStream::from(body));
            req = match cond {
                Cond::Absent => req.if_none_match("*"),
                Cond::Match(etag) => req.if_match(etag),
            };
            let out = req.send().await.map_err(sdk_err)?;
            Ok(out.e_tag().unwrap_or_default().to_string())
        })
    }

    fn delete_if(&self, key: &str, etag: &str) -> Result<(), BlobError> {
        let (c, bucket, key) = self.parts(key);
        let etag = etag.to_string();
        self.run(async move {
            c.delete_object()
                .bucket(bucket)
                .key(key)
                .if_match(etag)
                .send()
                .await
                .map_err(sdk_err)?;
            Ok(())
        })
    }

    fn versions(&self, key: &str) -> Result<Vec<Version>, BlobError> {
        let (c, bucket, key) = self.parts(key);
        self.run(async move {
            let mut out = Vec::new();
            let (mut key_marker, mut version_marker) = (None, None);
            let time = |t: Option<&aws_smithy_types::DateTime>| {
                t.and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok())
                    .unwrap_or_default()
            };
            loop {
                let page = c
                    .list_object_versions()
                    .bucket(&bucket)
                    .prefix(&key)
                    .set_key_marker(key_marker.take())
                    .set_version_id_marker(version_marker.take())
                    .send()
                    .await
                    .map_err(sdk_err)?;
                for v in page.versions() {
                    if v.key() == Some(key.as_str()) {
                        out.push(Version {
                            id: v.version_id().unwrap_or("null").to_string(),
                            modified: time(v.last_modified()),
                            size: v.size().unwrap_or(0).max(0) as u64,
                            latest: v.is_latest().unwrap_or(false),
                            deleted: false,
                        });
                    }
                }
                for m in page.delete_markers() {
                    if m.key() == Some(key.as_str()) {
                        out.push(Version {
                            id: m.version_id().unwrap_or("null").to_string(),
                            modified: time(m.last_modified()),
                            size: 0,
                            latest: m.is_latest().unwrap_or(false),
                            deleted: true,
                        });
                    }
                }
                if !page.is_truncated().unwrap_or(false) {
                    break;
                }
                key_marker = page.next_key_marker().map(str::to_string);
                version_marker = page.next_version_id_marker().map(str::to_string);
            }
            // Newest first by time (not by its text: "…:18Z" is later than
            // "…:18.5Z" as a string); the latest first among equal times,
            // and S3's own order (newest first) otherwise.
            let when = |v: &Version| humantime::parse_rfc3339(&v.modified).ok();
            out.sort_by(|a, b| when(b).cmp(&when(a)).then(b.latest.cmp(&a.latest)));
            Ok(out)
        })
    }

    fn get_version(&self, key: &str, version: &str) -> Result<Object, BlobError> {
        let (c, bucket, key) = self.parts(key);
        let version = version.to_string();
        self.run(async move {
            let out = c
                .get_object()
                .bucket(bucket)
                .key(key)
                .version_id(version)
                .send()
                .await
                .map_err(sdk_err)?;
            read_body(out).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_and_bad_ones_name_the_part() {
        let u = S3Url::parse("s3://morket-state/stacks/?region=eu-west-1").unwrap();
        assert_eq!(u.bucket, "morket-state");
        assert_eq!(u.prefix, "stacks");
        assert_eq!(u.region.as_deref(), Some("eu-west-1"));
        assert_eq!(u.to_string(), "s3://morket-state/stacks");
        let u = S3Url::parse("s3://b12").unwrap();
        assert_eq!((u.prefix.as_str(), u.region), ("", None));
        let e = S3Url::parse("s3://Bad_Bucket/x").unwrap_err();
        assert!(e.contains("\"Bad_Bucket\""), "{e}");
        let e = S3Url::parse("s3://bucket/x?acl=private").unwrap_err();
        assert!(e.contains("acl=private"), "{e}");
        assert!(S3Url::parse("gs://bucket").is_err());
    }
}
