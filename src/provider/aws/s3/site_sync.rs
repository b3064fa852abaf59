//! `aws:s3/SiteSync`: a built static site kept in a bucket object by object
//! by content hash, with a CloudFront invalidation when anything changed
//! (seed 000 R14.7).
//!
//! The stack program hashes the directory ([`manifest`]) and passes the
//! manifest in, so planning does no IO and an unchanged site plans nothing.
//! An apply uploads exactly the files whose hash the bucket does not hold
//! (or whose headers changed), deletes the keys the site no longer has, and
//! invalidates once. The hash is the MD5 that S3 reports as the ETag of a
//! single-part upload to an SSE-S3 bucket (Terraform's `etag = filemd5()`
//! on `aws_s3_object`), so one listing reads the whole live site. A file
//! that changed between the plan and the upload is refused, not uploaded.
//! Terraform manages the bucket, not the build output: the export leaves
//! this out (`export::terraform::ENGINE_ONLY`).

use std::collections::BTreeMap;
use std::path::Path;

use async_trait::async_trait;
use aws_sdk_cloudfront::types::{InvalidationBatch, Paths};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use base64::Engine as _;
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::S3;
use crate::model::{Input, ResourceArgs};
use crate::provider::aws::call::Call;
use crate::provider::aws::cloudfront::CloudFront;
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::aws::wait::{Seen, Wait};
use crate::provider::schema::Schema;
use crate::provider::{Diff, ProviderError};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SiteSync {
    pub bucket: Input<String>,
    /// Key prefix in the bucket: "" (the root) or ending in `/`.
    pub prefix: String,
    /// The local directory the files are read from at apply time. Not a
    /// change by itself (each CI run builds somewhere else): the hashes are.
    pub dir: String,
    /// Object key below `prefix` → the file.
    pub files: BTreeMap<String, SiteFile>,
    /// The CloudFront distribution invalidated when anything changed.
    pub distribution_id: Option<Input<String>>,
    /// What is invalidated (R14.7: everything, `/*`: one path to pay for).
    pub invalidation_paths: Vec<String>,
    /// Deletes objects under `prefix` the site no longer has.
    pub delete_removed: bool,
    /// Waits until the invalidation completed, so a deploy that ends has
    /// the new site on the edge.
    pub wait_for_invalidation: bool,
}

impl Default for SiteSync {
    fn default() -> Self {
        SiteSync {
            bucket: Input::default(),
            prefix: String::new(),
            dir: String::new(),
            files: BTreeMap::new(),
            distribution_id: None,
            invalidation_paths: vec!["/*".into()],
            delete_removed: true,
            wait_for_invalidation: true,
        }
    }
}

/// One file of the site.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SiteFile {
    /// Hex MD5 of the content.
    pub md5: String,
    pub content_type: String,
    pub cache_control: Option<String>,
}

impl ResourceArgs for SiteSync {
    const TYPE: &'static str = "aws:s3/SiteSync";
}

/// The files under `dir` (recursively; a link to a file is followed, a link
/// to a directory is not, so a loop cannot recurse), keyed by their path
/// with `/` separators, hashed, typed by extension. Hidden entries (`.env`,
/// `.git`, a bundler's `.vite/`) are left out of a public site, except
/// `.well-known/`. Called by stack programs, which may read files; the
/// engine never does while planning.
pub fn manifest(dir: &Path) -> std::io::Result<BTreeMap<String, SiteFile>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, SiteFile>) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') && name != ".well-known" {
                continue;
            }
            let path = entry.path();
            let link = entry.file_type()?.is_symlink();
            let meta = std::fs::metadata(&path)?;
            if meta.is_dir() && !link {
                walk(root, &path, out)?;
            } else if meta.is_file() {
                let rel = path.strip_prefix(root).expect("under the root");
                let key = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                out.insert(
                    key.clone(),
                    SiteFile {
                        md5: md5_hex(&std::fs::read(&path)?),
                        content_type: content_type(&key).into(),
                        cache_control: None,
                    },
                );
            }
        }
        Ok(())
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out)?;
    Ok(out)
}

fn md5_hex(data: &[u8]) -> String {
    hex::encode(Md5::digest(data))
}

/// The Content-Type of a site file, by extension.
pub fn content_type(key: &str) -> &'static str {
    let ext = key.rsplit_once('.').map_or("", |(_, e)| e);
    match ext.to_ascii_lowercase().as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "txt" => "text/plain; charset=utf-8",
        "xml" => "application/xml",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "ico" => "image/x-icon",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "ttf" => "font/ttf",
        "otf" => "font/otf",
        "wasm" => "application/wasm",
        "pdf" => "application/pdf",
        _ => "application/octet-stream",
    }
}

/// The id: the bucket, and the prefix when there is one.
fn id_of(bucket: &str, prefix: &str) -> String {
    if prefix.is_empty() {
        bucket.to_string()
    } else {
        format!("{bucket}/{prefix}")
    }
}

fn split_id(id: &str) -> (&str, &str) {
    id.split_once('/').unwrap_or((id, ""))
}

/// Key (below the prefix) → hex MD5 of every object under `prefix`;
/// `None` when the bucket does not exist.
async fn live(
    cx: &Call<'_, S3>,
    bucket: &str,
    prefix: &str,
) -> Result<Option<BTreeMap<String, String>>, ProviderError> {
    let pages = cx
        .pages(
            "ListObjectsV2",
            cx.client()
                .await
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .into_paginator()
                .send(),
        )
        .await;
    // NoSuchBucket maps to NotFound (error.rs).
    let pages = match pages {
        Ok(p) => p,
        Err(ProviderError::NotFound(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut out = BTreeMap::new();
    for o in pages.iter().flat_map(|p| p.contents()) {
        if let (Some(key), Some(etag)) = (o.key(), o.e_tag()) {
            let rel = key.strip_prefix(prefix).unwrap_or(key);
            out.insert(rel.to_string(), etag.trim_matches('"').to_ascii_lowercase());
        }
    }
    Ok(Some(out))
}

/// DeleteObjects, 1,000 keys a request; an error on any key fails.
async fn delete_keys(
    cx: &Call<'_, S3>,
    bucket: &str,
    keys: &[String],
) -> Result<(), ProviderError> {
    for chunk in keys.chunks(1000) {
        let objects = chunk
            .iter()
            .map(|k| ObjectIdentifier::builder().key(k).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ProviderError::Fatal(e.to_string()))?;
        let delete = Delete::builder()
            .set_objects(Some(objects))
            .quiet(true)
            .build()
            .map_err(|e| ProviderError::Fatal(e.to_string()))?;
        let out = cx
            .send("DeleteObjects", |c| {
                c.delete_objects()
                    .bucket(bucket)
                    .delete(delete.clone())
                    .send()
            })
            .await?;
        if let Some(e) = out.errors().first() {
            return Err(ProviderError::Fatal(format!(
                "deleting s3://{bucket}/{}: {} {}",
                e.key().unwrap_or_default(),
                e.code().unwrap_or_default(),
                e.message().unwrap_or_default()
            )));
        }
    }
    Ok(())
}

impl SiteSync {
    /// Puts the bucket in line with the manifest; `old` is the manifest
    /// last applied (a header change uploads the file again).
    async fn sync(&self, cx: &Call<'_, S3>, old: Option<&SiteSync>) -> Result<(), ProviderError> {
        let bucket = self.bucket.require("bucket")?;
        let Some(live) = live(cx, bucket, &self.prefix).await? else {
            return Err(ProviderError::NotFound(format!("bucket {bucket}")));
        };
        let mut uploaded = 0;
        // A listed ETag that is no MD5 (SSE-KMS, a multipart upload) would
        // upload everything on every apply.
        if let Some((key, etag)) = live
            .iter()
            .find(|(_, e)| e.len() != 32 || !e.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return Err(ProviderError::Fatal(format!(
                "s3://{bucket}/{}{key} has ETag {etag}, not an MD5: the site bucket must use \
                 SSE-S3 and single-part uploads",
                self.prefix
            )));
        }
        // Pages last: a page never names an asset not yet uploaded.
        let mut order: Vec<(&String, &SiteFile)> = self.files.iter().collect();
        order.sort_by_key(|(k, _)| k.ends_with(".html"));
        for (key, f) in order {
            let same_headers = old.and_then(|o| o.files.get(key)).is_none_or(|o| {
                o.content_type == f.content_type && o.cache_control == f.cache_control
            });
            if live.get(key) == Some(&f.md5) && same_headers {
                continue;
            }
            let path = Path::new(&self.dir).join(key);
            let data = std::fs::read(&path)
                .map_err(|e| ProviderError::Fatal(format!("reading {}: {e}", path.display())))?;
            let md5 = Md5::digest(&data);
            if hex::encode(md5) != f.md5 {
                return Err(ProviderError::Fatal(format!(
                    "{} changed since the plan (MD5 {}, planned {}): preview again",
                    path.display(),
                    hex::encode(md5),
                    f.md5
                )));
            }
            let content_md5 = base64::engine::general_purpose::STANDARD.encode(md5);
            let full = format!("{}{key}", self.prefix);
            cx.send("PutObject", |c| {
                c.put_object()
                    .bucket(bucket)
                    .key(&full)
                    .body(ByteStream::from(data.clone()))
                    .content_type(&f.content_type)
                    .set_cache_control(f.cache_control.clone())
                    .content_md5(&content_md5)
                    .send()
            })
            .await?;
            uploaded += 1;
        }
        let gone: Vec<String> = if self.delete_removed {
            live.keys()
                .filter(|k| !self.files.contains_key(*k))
                .map(|k| format!("{}{k}", self.prefix))
                .collect()
        } else {
            Vec::new()
        };
        // Invalidated when this call changed anything, and whenever the
        // manifest moved: a retry after a failed invalidation has nothing
        // left to upload but must still invalidate.
        if uploaded > 0 || !gone.is_empty() || old.is_none_or(|o| o.files != self.files) {
            self.invalidate(cx).await?;
        }
        // Removed files go after the invalidation: a page still cached at
        // the edge may name them until then.
        delete_keys(cx, bucket, &gone).await
    }

    /// One invalidation of `invalidation_paths`, waited for when asked.
    async fn invalidate(&self, cx: &Call<'_, S3>) -> Result<(), ProviderError> {
        let Some(dist) = &self.distribution_id else {
            return Ok(());
        };
        let dist = dist.require("distribution_id")?;
        let cf = cx.with::<CloudFront>();
        // Retries send the same reference, so CloudFront makes one.
        let reference = format!("morket-stack-{:032x}", rand::random::<u128>());
        let batch = InvalidationBatch::builder()
            .paths(
                Paths::builder()
                    .quantity(self.invalidation_paths.len() as i32)
                    .set_items(Some(self.invalidation_paths.clone()))
                    .build()
                    .map_err(|e| ProviderError::Fatal(e.to_string()))?,
            )
            .caller_reference(&reference)
            .build()
            .map_err(|e| ProviderError::Fatal(e.to_string()))?;
        let out = cf
            .send("CreateInvalidation", |c| {
                c.create_invalidation()
                    .distribution_id(dist)
                    .invalidation_batch(batch.clone())
                    .send()
            })
            .await?;
        let id = out
            .invalidation()
            .map(|i| i.id().to_string())
            .ok_or_else(|| cx.fatal("CreateInvalidation returned no invalidation"))?;
        if !self.wait_for_invalidation {
            return Ok(());
        }
        Wait::new("the invalidation", &["InProgress"], &["Completed"])
            .after_create()
            .until(cx.settings(), || async {
                let got = cf
                    .find("GetInvalidation", |c| {
                        c.get_invalidation().distribution_id(dist).id(&id).send()
                    })
                    .await?;
                Ok(match got.and_then(|g| g.invalidation) {
                    Some(i) => Seen::State(i.status, ()),
                    None => Seen::Gone,
                })
            })
            .await
    }
}

#[async_trait]
impl AwsResource for SiteSync {
    type Service = S3;
    const SCHEMA: Schema = Schema {
        force_new: &["bucket", "prefix"],
        write_only: &[
            "dir",
            "distribution_id",
            "invalidation_paths",
            "wait_for_invalidation",
        ],
        ..Schema::NONE
    };

    /// Fields, less `dir`: where this run built the site is not a change.
    fn diff(old: &Value, new: &Value) -> Diff {
        let mut d = crate::provider::field_diff(old, new, Self::SCHEMA.force_new);
        d.changed.retain(|f| f != "dir");
        d
    }

    fn check(&self) -> Result<(), ProviderError> {
        if !self.prefix.is_empty() && (!self.prefix.ends_with('/') || self.prefix.starts_with('/'))
        {
            return Err(ProviderError::invalid(
                "prefix",
                format!("{:?}", self.prefix),
                "\"\" or a key prefix ending in / (not starting with one)",
            ));
        }
        if !self.files.is_empty() && self.dir.is_empty() {
            return Err(ProviderError::invalid(
                "dir",
                "\"\"",
                "the directory the files are read from",
            ));
        }
        for (key, f) in &self.files {
            let field = format!("files.{key}");
            if key.is_empty() || key.starts_with('/') || key.len() + self.prefix.len() > 1024 {
                return Err(ProviderError::invalid(
                    "files",
                    format!("{key:?}"),
                    "a key is 1 to 1,024 bytes with its prefix, not starting with /",
                ));
            }
            if f.md5.len() != 32 || !f.md5.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(ProviderError::invalid(
                    &format!("{field}.md5"),
                    format!("{:?}", f.md5),
                    "the content's MD5 in hex (32 characters)",
                ));
            }
            if f.content_type.is_empty() {
                return Err(ProviderError::invalid(
                    &format!("{field}.content_type"),
                    "\"\"",
                    "required",
                ));
            }
        }
        // CloudFront: up to 3,000 paths in progress, 15 of them wildcards.
        if self.invalidation_paths.is_empty() || self.invalidation_paths.len() > 3000 {
            return Err(ProviderError::invalid(
                "invalidation_paths",
                self.invalidation_paths.len(),
                "1 to 3,000 paths",
            ));
        }
        let wildcards = self
            .invalidation_paths
            .iter()
            .filter(|p| p.contains('*'))
            .count();
        if wildcards > 15 {
            return Err(ProviderError::invalid(
                "invalidation_paths",
                wildcards,
                "at most 15 wildcard paths",
            ));
        }
        for p in &self.invalidation_paths {
            if !p.starts_with('/') {
                return Err(ProviderError::invalid(
                    "invalidation_paths",
                    format!("{p:?}"),
                    "a path starts with /",
                ));
            }
        }
        Ok(())
    }

    /// The bucket must exist; the sync is the rest of the create.
    async fn create(&self, cx: &Call<'_, S3>) -> Result<String, ProviderError> {
        let bucket = self.bucket.require("bucket")?;
        if live(cx, bucket, &self.prefix).await?.is_none() {
            return Err(ProviderError::NotFound(format!("bucket {bucket}")));
        }
        Ok(id_of(bucket, &self.prefix))
    }

    async fn after_create(&self, cx: &Call<'_, S3>, _id: &str) -> Result<(), ProviderError> {
        self.sync(cx, None).await
    }

    /// The live site: declared files the bucket holds unchanged keep their
    /// headers (a listing has none); others read with their live hash; keys
    /// the site does not have are the live extras when this resource
    /// deletes removed ones.
    async fn read(
        cx: &Call<'_, S3>,
        id: &str,
        declared: &SiteSync,
    ) -> Result<Option<Live<SiteSync>>, ProviderError> {
        let (bucket, prefix) = split_id(id);
        let Some(live) = live(cx, bucket, prefix).await? else {
            return Ok(None);
        };
        let mut args = declared.clone();
        args.files = BTreeMap::new();
        for (key, md5) in &live {
            match declared.files.get(key) {
                Some(f) if &f.md5 == md5 => {
                    args.files.insert(key.clone(), f.clone());
                }
                Some(f) => {
                    let mut f = f.clone();
                    f.md5 = md5.clone();
                    args.files.insert(key.clone(), f);
                }
                None if declared.delete_removed => {
                    args.files.insert(
                        key.clone(),
                        SiteFile {
                            md5: md5.clone(),
                            content_type: content_type(key).into(),
                            cache_control: None,
                        },
                    );
                }
                None => {}
            }
        }
        let outputs = json!({ "bucket": bucket, "objects": args.files.len() });
        Ok(Some(Live { args, outputs }))
    }

    async fn update(
        &self,
        old: &SiteSync,
        cx: &Call<'_, S3>,
        _id: &str,
    ) -> Result<(), ProviderError> {
        self.sync(cx, Some(old)).await
    }

    /// Deletes the site's objects (the extras too when it deletes removed
    /// ones); the bucket stays.
    async fn delete(&self, cx: &Call<'_, S3>, id: &str) -> Result<(), ProviderError> {
        let (bucket, prefix) = split_id(id);
        let Some(live) = live(cx, bucket, prefix).await? else {
            return Ok(());
        };
        let keys: Vec<String> = live
            .keys()
            .filter(|k| self.delete_removed || self.files.contains_key(*k))
            .map(|k| format!("{prefix}{k}"))
            .collect();
        delete_keys(cx, bucket, &keys).await?;
        if !keys.is_empty() {
            self.invalidate(cx).await?;
        }
        Ok(())
    }

    /// A site has no tags: it is found by its bucket and prefix.
    async fn find(&self, cx: &Call<'_, S3>) -> Result<Vec<String>, ProviderError> {
        let bucket = self.bucket.require("bucket")?;
        Ok(match live(cx, bucket, &self.prefix).await? {
            Some(_) => vec![id_of(bucket, &self.prefix)],
            None => Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> SiteSync {
        SiteSync {
            bucket: "site".into(),
            dir: "/tmp/dist".into(),
            files: [(
                "index.html".to_string(),
                SiteFile {
                    md5: md5_hex(b"<html></html>"),
                    content_type: "text/html; charset=utf-8".into(),
                    cache_control: Some("no-cache".into()),
                },
            )]
            .into(),
            ..Default::default()
        }
    }

    #[test]
    fn bad_inputs_name_the_field() {
        assert!(site().check().is_ok());
        let field = |s: SiteSync| match s.check().unwrap_err() {
            ProviderError::InvalidInput { field, .. } => field,
            e => panic!("{e}"),
        };
        let mut s = site();
        s.prefix = "www".into();
        assert_eq!(field(s), "prefix");
        let mut s = site();
        s.files.get_mut("index.html").unwrap().md5 = "abc".into();
        assert_eq!(field(s), "files.index.html.md5");
        let mut s = site();
        s.invalidation_paths = vec!["index.html".into()];
        assert_eq!(field(s), "invalidation_paths");
        let mut s = site();
        s.dir = String::new();
        assert_eq!(field(s), "dir");
    }

    #[test]
    fn a_new_build_directory_alone_is_no_change() {
        let old = serde_json::to_value(site()).unwrap();
        let mut moved = site();
        moved.dir = "/home/runner/work/dist".into();
        assert!(SiteSync::diff(&old, &serde_json::to_value(&moved).unwrap()).is_empty());
        moved.files.get_mut("index.html").unwrap().md5 = md5_hex(b"<html>2</html>");
        let d = SiteSync::diff(&old, &serde_json::to_value(&moved).unwrap());
        assert_eq!(d.changed, ["files"]);
        assert!(d.replace.is_empty());
    }

    #[test]
    fn the_manifest_hashes_and_types_every_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("assets")).unwrap();
        std::fs::write(dir.path().join("index.html"), b"<html></html>").unwrap();
        std::fs::write(dir.path().join("assets/app.3f2a.js"), b"let a = 1;").unwrap();
        let m = manifest(dir.path()).unwrap();
        assert_eq!(
            m.keys().collect::<Vec<_>>(),
            ["assets/app.3f2a.js", "index.html"]
        );
        assert_eq!(m["index.html"].md5, md5_hex(b"<html></html>"));
        assert_eq!(
            m["assets/app.3f2a.js"].content_type,
            "text/javascript; charset=utf-8"
        );
        // MD5 as S3 reports it in the ETag of a single-part upload.
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
    }
}
