//! `aws:s3/Bucket`: a general purpose bucket with the configurations
//! Terraform splits into resources of their own (`aws_s3_bucket_versioning`,
//! `_server_side_encryption_configuration`, `_public_access_block`,
//! `_ownership_controls`, `_lifecycle_configuration`, `_logging`, `_policy`). The name is
//! global and forces a replacement (deleted first); everything else changes
//! in place, one S3 call per configuration.

use async_trait::async_trait;
use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, BucketLocationConstraint,
    BucketLoggingStatus, BucketVersioningStatus, CreateBucketConfiguration, Delete,
    ExpirationStatus, LifecycleExpiration, LifecycleRule as S3Rule, LifecycleRuleFilter,
    LoggingEnabled, NoncurrentVersionExpiration, ObjectIdentifier, ObjectOwnership,
    OwnershipControls, OwnershipControlsRule, PublicAccessBlockConfiguration, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    Transition, TransitionStorageClass, VersioningConfiguration,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{check_bucket_name, live_tags, optional, put_tags, to_tags, S3};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::call::{Call, Failure, Retry};
use crate::provider::aws::iam::{check_policy, normal_policy};
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::aws::tags::{Tags, URN_TAG};
use crate::provider::aws::validate::{in_range, one_of};
use crate::provider::aws::wait::{Seen, Wait};
use crate::provider::schema::{Conv, Norm, Schema, Tf};
use crate::provider::{field_diff, Diff, ProviderError};

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Bucket {
    /// The bucket name, unique across all of AWS.
    pub bucket: String,
    /// Delete every object (and version) on destroy; without it a bucket
    /// that holds objects is refused.
    pub force_destroy: bool,
    /// `Enabled` or `Suspended`; a versioned bucket can only be suspended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub versioning: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_side_encryption: Option<Encryption>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_access_block: Option<PublicAccessBlock>,
    /// `BucketOwnerEnforced` (ACLs off), `BucketOwnerPreferred` or `ObjectWriter`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_ownership: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lifecycle_rules: Vec<LifecycleRule>,
    /// The bucket policy, a JSON document (compared parsed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<Input<String>>,
    /// Server access logs, delivered into another bucket; unset, none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logging: Option<Logging>,
    pub tags: Tags,
}

/// Where S3 writes a bucket's server access logs. The target bucket's
/// policy must let `logging.s3.amazonaws.com` put objects under the prefix
/// (S3 refuses the configuration otherwise), and it must be in the same
/// region and account.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Logging {
    pub target_bucket: Input<String>,
    /// Key prefix of the log objects, e.g. `s3/<bucket>/`.
    pub target_prefix: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Encryption {
    /// `AES256` (SSE-S3), `aws:kms` or `aws:kms:dsse`.
    pub sse_algorithm: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_master_key_id: Option<Input<String>>,
    pub bucket_key_enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PublicAccessBlock {
    pub block_public_acls: bool,
    pub block_public_policy: bool,
    pub ignore_public_acls: bool,
    pub restrict_public_buckets: bool,
}

impl Default for PublicAccessBlock {
    /// Everything blocked, as AWS sets for new buckets.
    fn default() -> Self {
        PublicAccessBlock {
            block_public_acls: true,
            block_public_policy: true,
            ignore_public_acls: true,
            restrict_public_buckets: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LifecycleRule {
    pub id: String,
    /// Off keeps the rule without applying it.
    pub enabled: bool,
    /// Objects under this key prefix (empty: the whole bucket).
    pub prefix: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration_days: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub noncurrent_version_expiration_days: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub abort_incomplete_multipart_upload_days: Option<i32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub transitions: Vec<LifecycleTransition>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LifecycleTransition {
    pub days: i32,
    /// `STANDARD_IA`, `ONEZONE_IA`, `INTELLIGENT_TIERING`, `GLACIER_IR`,
    /// `GLACIER` or `DEEP_ARCHIVE`.
    pub storage_class: String,
}

const STORAGE_CLASSES: &[&str] = &[
    "STANDARD_IA",
    "ONEZONE_IA",
    "INTELLIGENT_TIERING",
    "GLACIER_IR",
    "GLACIER",
    "DEEP_ARCHIVE",
];

impl Bucket {
    pub fn new(name: &str) -> Self {
        Bucket {
            bucket: name.into(),
            ..Default::default()
        }
    }

    /// The private default a production bucket wants: versioned, SSE-S3,
    /// public access blocked, ACLs off.
    pub fn private(name: &str) -> Self {
        Bucket {
            bucket: name.into(),
            versioning: Some("Enabled".into()),
            server_side_encryption: Some(Encryption {
                sse_algorithm: "AES256".into(),
                ..Default::default()
            }),
            public_access_block: Some(PublicAccessBlock::default()),
            object_ownership: Some("BucketOwnerEnforced".into()),
            ..Default::default()
        }
    }
}

impl ResourceArgs for Bucket {
    const TYPE: &'static str = "aws:s3/Bucket";
}

impl Resource<Bucket> {
    pub fn bucket(&self) -> Output<String> {
        self.output("bucket")
    }
    pub fn arn(&self) -> Output<String> {
        self.output("arn")
    }
    /// `<name>.s3.<region>.amazonaws.com`, what a CloudFront origin takes.
    pub fn bucket_regional_domain_name(&self) -> Output<String> {
        self.output("bucket_regional_domain_name")
    }
}

/// Inputs with the policy parsed, so formatting is no change.
fn normalized(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(s) = v.get("policy").and_then(Value::as_str) {
        v["policy"] = normal_policy(s);
    }
    v
}

fn build_err(field: &str, e: impl std::fmt::Display) -> ProviderError {
    ProviderError::invalid(field, "(see reason)", e.to_string())
}

fn encryption(e: &Encryption) -> Result<ServerSideEncryptionConfiguration, ProviderError> {
    let kms = match &e.kms_master_key_id {
        Some(k) => Some(
            k.require("server_side_encryption.kms_master_key_id")?
                .clone(),
        ),
        None => None,
    };
    let default = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(ServerSideEncryption::from(e.sse_algorithm.as_str()))
        .set_kms_master_key_id(kms)
        .build()
        .map_err(|e| build_err("server_side_encryption", e))?;
    ServerSideEncryptionConfiguration::builder()
        .rules(
            ServerSideEncryptionRule::builder()
                .apply_server_side_encryption_by_default(default)
                .bucket_key_enabled(e.bucket_key_enabled)
                .build(),
        )
        .build()
        .map_err(|e| build_err("server_side_encryption", e))
}

fn lifecycle(rules: &[LifecycleRule]) -> Result<BucketLifecycleConfiguration, ProviderError> {
    let mut out = Vec::new();
    for r in rules {
        let status = if r.enabled {
            ExpirationStatus::Enabled
        } else {
            ExpirationStatus::Disabled
        };
        let rule = S3Rule::builder()
            .id(&r.id)
            .status(status)
            .filter(LifecycleRuleFilter::builder().prefix(&r.prefix).build())
            .set_expiration(
                r.expiration_days
                    .map(|d| LifecycleExpiration::builder().days(d).build()),
            )
            .set_noncurrent_version_expiration(r.noncurrent_version_expiration_days.map(|d| {
                NoncurrentVersionExpiration::builder()
                    .noncurrent_days(d)
                    .build()
            }))
            .set_abort_incomplete_multipart_upload(r.abort_incomplete_multipart_upload_days.map(
                |d| {
                    AbortIncompleteMultipartUpload::builder()
                        .days_after_initiation(d)
                        .build()
                },
            ))
            .set_transitions(Some(
                r.transitions
                    .iter()
                    .map(|t| {
                        Transition::builder()
                            .days(t.days)
                            .storage_class(TransitionStorageClass::from(t.storage_class.as_str()))
                            .build()
                    })
                    .collect(),
            ))
            .build()
            .map_err(|e| build_err("lifecycle_rules", e))?;
        out.push(rule);
    }
    BucketLifecycleConfiguration::builder()
        .set_rules(Some(out))
        .build()
        .map_err(|e| build_err("lifecycle_rules", e))
}

fn read_rule(r: &S3Rule) -> LifecycleRule {
    LifecycleRule {
        id: r.id().unwrap_or_default().to_string(),
        enabled: *r.status() == ExpirationStatus::Enabled,
        prefix: r
            .filter()
            .and_then(|f| f.prefix())
            .unwrap_or_default()
            .to_string(),
        expiration_days: r.expiration().and_then(|e| e.days()),
        noncurrent_version_expiration_days: r
            .noncurrent_version_expiration()
            .and_then(|n| n.noncurrent_days()),
        abort_incomplete_multipart_upload_days: r
            .abort_incomplete_multipart_upload()
            .and_then(|a| a.days_after_initiation()),
        transitions: r
            .transitions()
            .iter()
            .map(|t| LifecycleTransition {
                days: t.days().unwrap_or_default(),
                storage_class: t
                    .storage_class()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
            })
            .collect(),
    }
}

/// Whether a bucket of this name exists (HeadBucket: 404 none; 403 another
/// account's, which S3 will not describe).
async fn exists(cx: &Call<'_, S3>, name: &str) -> Result<bool, ProviderError> {
    match cx
        .try_send("HeadBucket", |c| c.head_bucket().bucket(name).send())
        .await
    {
        Ok(_) => Ok(true),
        Err(f) if matches!(f.error, ProviderError::NotFound(_)) => Ok(false),
        Err(f) if FORBIDDEN.contains(&f.code.as_str()) => Ok(true),
        Err(f) => Err(f.error),
    }
}

/// A bucket name just deleted is briefly held by S3.
const NAME_HELD: [Retry; 1] = [Retry::conflict(
    &["OperationAborted"],
    std::time::Duration::from_secs(120),
)];

/// What S3 answers for another account's bucket.
const FORBIDDEN: &[&str] = &["Forbidden", "AccessDenied", "403"];

/// `aws`, `aws-cn` or `aws-us-gov`, and the DNS suffix of S3 there.
fn partition(region: &str) -> (&'static str, &'static str) {
    if region.starts_with("cn-") {
        ("aws-cn", "amazonaws.com.cn")
    } else if region.starts_with("us-gov-") {
        ("aws-us-gov", "amazonaws.com")
    } else {
        ("aws", "amazonaws.com")
    }
}

impl Bucket {
    async fn put_versioning(&self, cx: &Call<'_, S3>, name: &str) -> Result<(), ProviderError> {
        let status = match self.versioning.as_deref() {
            Some("Enabled") => BucketVersioningStatus::Enabled,
            // Versioning once on can only be suspended.
            _ => BucketVersioningStatus::Suspended,
        };
        let conf = VersioningConfiguration::builder().status(status).build();
        cx.send_retrying("PutBucketVersioning", &[Retry::NEW_OBJECT], |c| {
            c.put_bucket_versioning()
                .bucket(name)
                .versioning_configuration(conf.clone())
                .send()
        })
        .await
        .map(drop)
    }

    async fn put_encryption(&self, cx: &Call<'_, S3>, name: &str) -> Result<(), ProviderError> {
        match &self.server_side_encryption {
            Some(e) => {
                let conf = encryption(e)?;
                cx.send_retrying("PutBucketEncryption", &[Retry::NEW_OBJECT], |c| {
                    c.put_bucket_encryption()
                        .bucket(name)
                        .server_side_encryption_configuration(conf.clone())
                        .send()
                })
                .await
                .map(drop)
            }
            // Back to the SSE-S3 default every bucket has.
            None => cx
                .send("DeleteBucketEncryption", |c| {
                    c.delete_bucket_encryption().bucket(name).send()
                })
                .await
                .map(drop),
        }
    }

    async fn put_public_access_block(
        &self,
        cx: &Call<'_, S3>,
        name: &str,
    ) -> Result<(), ProviderError> {
        match &self.public_access_block {
            Some(p) => {
                let conf = PublicAccessBlockConfiguration::builder()
                    .block_public_acls(p.block_public_acls)
                    .block_public_policy(p.block_public_policy)
                    .ignore_public_acls(p.ignore_public_acls)
                    .restrict_public_buckets(p.restrict_public_buckets)
                    .build();
                cx.send_retrying("PutPublicAccessBlock", &[Retry::NEW_OBJECT], |c| {
                    c.put_public_access_block()
                        .bucket(name)
                        .public_access_block_configuration(conf.clone())
                        .send()
                })
                .await
                .map(drop)
            }
            None => cx
                .send("DeletePublicAccessBlock", |c| {
                    c.delete_public_access_block().bucket(name).send()
                })
                .await
                .map(drop),
        }
    }

    async fn put_ownership(&self, cx: &Call<'_, S3>, name: &str) -> Result<(), ProviderError> {
        match &self.object_ownership {
            Some(o) => {
                let conf = OwnershipControls::builder()
                    .rules(
                        OwnershipControlsRule::builder()
                            .object_ownership(ObjectOwnership::from(o.as_str()))
                            .build()
                            .map_err(|e| build_err("object_ownership", e))?,
                    )
                    .build()
                    .map_err(|e| build_err("object_ownership", e))?;
                cx.send_retrying("PutBucketOwnershipControls", &[Retry::NEW_OBJECT], |c| {
                    c.put_bucket_ownership_controls()
                        .bucket(name)
                        .ownership_controls(conf.clone())
                        .send()
                })
                .await
                .map(drop)
            }
            None => cx
                .send("DeleteBucketOwnershipControls", |c| {
                    c.delete_bucket_ownership_controls().bucket(name).send()
                })
                .await
                .map(drop),
        }
    }

    async fn put_lifecycle(&self, cx: &Call<'_, S3>, name: &str) -> Result<(), ProviderError> {
        if self.lifecycle_rules.is_empty() {
            return cx
                .send("DeleteBucketLifecycle", |c| {
                    c.delete_bucket_lifecycle().bucket(name).send()
                })
                .await
                .map(drop);
        }
        let conf = lifecycle(&self.lifecycle_rules)?;
        cx.send_retrying(
            "PutBucketLifecycleConfiguration",
            &[Retry::NEW_OBJECT],
            |c| {
                c.put_bucket_lifecycle_configuration()
                    .bucket(name)
                    .lifecycle_configuration(conf.clone())
                    .send()
            },
        )
        .await
        .map(drop)
    }

    async fn put_logging(&self, cx: &Call<'_, S3>, name: &str) -> Result<(), ProviderError> {
        // An empty status turns logging off.
        let status = match &self.logging {
            Some(l) => BucketLoggingStatus::builder()
                .logging_enabled(
                    LoggingEnabled::builder()
                        .target_bucket(l.target_bucket.require("logging.target_bucket")?)
                        .target_prefix(&l.target_prefix)
                        .build()
                        .map_err(|e| build_err("logging", e))?,
                )
                .build(),
            None => BucketLoggingStatus::builder().build(),
        };
        cx.send_retrying("PutBucketLogging", &[Retry::NEW_OBJECT], |c| {
            c.put_bucket_logging()
                .bucket(name)
                .bucket_logging_status(status.clone())
                .send()
        })
        .await
        .map(drop)
    }

    async fn put_policy(&self, cx: &Call<'_, S3>, name: &str) -> Result<(), ProviderError> {
        match &self.policy {
            Some(p) => {
                let doc = p.require("policy")?.clone();
                // A principal just created (a role, a log-delivery grant) can
                // take a while to be accepted, as Terraform retries.
                cx.send_retrying(
                    "PutBucketPolicy",
                    &[
                        Retry::NEW_OBJECT,
                        Retry::propagation("MalformedPolicy", "Invalid principal"),
                    ],
                    |c| c.put_bucket_policy().bucket(name).policy(&doc).send(),
                )
                .await
                .map(drop)
            }
            None => cx
                .send("DeleteBucketPolicy", |c| {
                    c.delete_bucket_policy().bucket(name).send()
                })
                .await
                .map(drop),
        }
    }

    /// Deletes every object version and delete marker, a page at a time.
    async fn empty(&self, cx: &Call<'_, S3>, name: &str) -> Result<(), ProviderError> {
        loop {
            let page = cx
                .send("ListObjectVersions", |c| {
                    c.list_object_versions().bucket(name).max_keys(1000).send()
                })
                .await?;
            let ids: Vec<ObjectIdentifier> = page
                .versions()
                .iter()
                .map(|v| (v.key(), v.version_id()))
                .chain(
                    page.delete_markers()
                        .iter()
                        .map(|m| (m.key(), m.version_id())),
                )
                .filter_map(|(k, v)| {
                    ObjectIdentifier::builder()
                        .set_key(k.map(str::to_string))
                        .set_version_id(v.map(str::to_string))
                        .build()
                        .ok()
                })
                .collect();
            if ids.is_empty() {
                return Ok(());
            }
            let del = Delete::builder()
                .set_objects(Some(ids))
                .quiet(true)
                .build()
                .map_err(|e| build_err("force_destroy", e))?;
            let out = cx
                .send("DeleteObjects", |c| {
                    c.delete_objects().bucket(name).delete(del.clone()).send()
                })
                .await?;
            if let Some(e) = out.errors().first() {
                return Err(ProviderError::Fatal(format!(
                    "emptying bucket {name}: {} {}: {}",
                    e.key().unwrap_or_default(),
                    e.code().unwrap_or_default(),
                    e.message().unwrap_or_default()
                )));
            }
        }
    }
}

#[async_trait]
impl AwsResource for Bucket {
    type Service = S3;
    const SCHEMA: Schema = Schema {
        force_new: &["bucket"],
        unique_name: &["bucket"],
        // New buckets come with SSE-S3, public access blocked and ACLs off:
        // left undeclared, those are AWS's to keep.
        optional_computed: &[
            "versioning",
            "server_side_encryption",
            "public_access_block",
            "object_ownership",
            // Or declared as an `aws:s3/BucketPolicy` of its own.
            "policy",
        ],
        write_only: &["force_destroy"],
        normalize: &[("policy", Norm::Json)],
        tf_values: &[("lifecycle_rules.enabled", Conv::EnabledDisabled)],
        terraform: &[
            Tf {
                resource: "aws_s3_bucket",
                args: &[
                    ("bucket", "bucket"),
                    ("force_destroy", "force_destroy"),
                    ("tags", "tags"),
                ],
                import_id: "{bucket}",
            },
            Tf {
                resource: "aws_s3_bucket_versioning",
                args: &[
                    ("$id", "bucket"),
                    ("versioning", "versioning_configuration.status"),
                ],
                import_id: "{bucket}",
            },
            Tf {
                resource: "aws_s3_bucket_server_side_encryption_configuration",
                args: &[
                    ("$id", "bucket"),
                    (
                        "server_side_encryption.sse_algorithm",
                        "rule.apply_server_side_encryption_by_default.sse_algorithm",
                    ),
                    (
                        "server_side_encryption.kms_master_key_id",
                        "rule.apply_server_side_encryption_by_default.kms_master_key_id",
                    ),
                    (
                        "server_side_encryption.bucket_key_enabled",
                        "rule.bucket_key_enabled",
                    ),
                ],
                import_id: "{bucket}",
            },
            Tf {
                resource: "aws_s3_bucket_public_access_block",
                args: &[
                    ("$id", "bucket"),
                    ("public_access_block.block_public_acls", "block_public_acls"),
                    (
                        "public_access_block.block_public_policy",
                        "block_public_policy",
                    ),
                    (
                        "public_access_block.ignore_public_acls",
                        "ignore_public_acls",
                    ),
                    (
                        "public_access_block.restrict_public_buckets",
                        "restrict_public_buckets",
                    ),
                ],
                import_id: "{bucket}",
            },
            Tf {
                resource: "aws_s3_bucket_ownership_controls",
                args: &[
                    ("$id", "bucket"),
                    ("object_ownership", "rule.object_ownership"),
                ],
                import_id: "{bucket}",
            },
            Tf {
                resource: "aws_s3_bucket_lifecycle_configuration",
                args: &[
                    ("$id", "bucket"),
                    ("lifecycle_rules.id", "rule.id"),
                    ("lifecycle_rules.enabled", "rule.status"),
                    ("lifecycle_rules.prefix", "rule.filter.prefix"),
                    ("lifecycle_rules.expiration_days", "rule.expiration.days"),
                    (
                        "lifecycle_rules.noncurrent_version_expiration_days",
                        "rule.noncurrent_version_expiration.noncurrent_days",
                    ),
                    (
                        "lifecycle_rules.abort_incomplete_multipart_upload_days",
                        "rule.abort_incomplete_multipart_upload.days_after_initiation",
                    ),
                    ("lifecycle_rules.transitions.days", "rule.transition.days"),
                    (
                        "lifecycle_rules.transitions.storage_class",
                        "rule.transition.storage_class",
                    ),
                ],
                import_id: "{bucket}",
            },
            Tf {
                resource: "aws_s3_bucket_policy",
                args: &[("$id", "bucket"), ("policy", "policy")],
                import_id: "{bucket}",
            },
            Tf {
                resource: "aws_s3_bucket_logging",
                args: &[
                    ("$id", "bucket"),
                    ("logging.target_bucket", "target_bucket"),
                    ("logging.target_prefix", "target_prefix"),
                ],
                import_id: "{bucket}",
            },
        ],
        ..Schema::NONE
    };

    fn check(&self) -> Result<(), ProviderError> {
        check_bucket_name("bucket", &self.bucket)?;
        if let Some(v) = &self.versioning {
            one_of("versioning", v, &["Enabled", "Suspended"])?;
        }
        if let Some(e) = &self.server_side_encryption {
            one_of(
                "server_side_encryption.sse_algorithm",
                &e.sse_algorithm,
                &["AES256", "aws:kms", "aws:kms:dsse"],
            )?;
            if e.sse_algorithm == "AES256" && e.kms_master_key_id.is_some() {
                return Err(ProviderError::invalid(
                    "server_side_encryption.kms_master_key_id",
                    "(set)",
                    "only with sse_algorithm aws:kms or aws:kms:dsse",
                ));
            }
        }
        if let Some(o) = &self.object_ownership {
            one_of(
                "object_ownership",
                o,
                &[
                    "BucketOwnerEnforced",
                    "BucketOwnerPreferred",
                    "ObjectWriter",
                ],
            )?;
        }
        let mut ids = std::collections::BTreeSet::new();
        for (i, r) in self.lifecycle_rules.iter().enumerate() {
            let f = |n: &str| format!("lifecycle_rules[{i}].{n}");
            if r.id.is_empty() || r.id.len() > 255 {
                return Err(ProviderError::invalid(
                    &f("id"),
                    format!("{:?}", r.id),
                    "1 to 255 characters",
                ));
            }
            if !ids.insert(&r.id) {
                return Err(ProviderError::invalid(
                    &f("id"),
                    format!("{:?}", r.id),
                    "rule ids must be unique",
                ));
            }
            for (n, d) in [
                ("expiration_days", r.expiration_days),
                (
                    "noncurrent_version_expiration_days",
                    r.noncurrent_version_expiration_days,
                ),
                (
                    "abort_incomplete_multipart_upload_days",
                    r.abort_incomplete_multipart_upload_days,
                ),
            ] {
                if let Some(d) = d {
                    in_range(&f(n), d, 1..=i32::MAX)?;
                }
            }
            let has_action = r.expiration_days.is_some()
                || r.noncurrent_version_expiration_days.is_some()
                || r.abort_incomplete_multipart_upload_days.is_some()
                || !r.transitions.is_empty();
            if !has_action {
                return Err(ProviderError::invalid(
                    &f("id"),
                    format!("{:?}", r.id),
                    "a rule needs an expiration, a transition or an abort of incomplete uploads",
                ));
            }
            for (j, t) in r.transitions.iter().enumerate() {
                let tf = |n: &str| format!("lifecycle_rules[{i}].transitions[{j}].{n}");
                one_of(&tf("storage_class"), &t.storage_class, STORAGE_CLASSES)?;
                in_range(&tf("days"), t.days, 0..=i32::MAX)?;
                // S3 refuses the IA classes before 30 days.
                if t.storage_class.ends_with("_IA") && t.days < 30 {
                    return Err(ProviderError::invalid(
                        &tf("days"),
                        t.days,
                        format!("{} needs at least 30 days", t.storage_class),
                    ));
                }
            }
        }
        if let Some(p) = self.policy.as_ref().and_then(Input::known) {
            check_policy("policy", p)?;
        }
        if let Some(l) = &self.logging {
            if let Some(t) = l.target_bucket.known() {
                check_bucket_name("logging.target_bucket", t)?;
                if *t == self.bucket {
                    // S3 takes it, then logs its own log writes for ever.
                    return Err(ProviderError::invalid(
                        "logging.target_bucket",
                        format!("{t:?}"),
                        "is the bucket itself; log into another bucket",
                    ));
                }
            }
            if l.target_prefix.len() > 1024 {
                return Err(ProviderError::invalid(
                    "logging.target_prefix",
                    format!("{:?}", l.target_prefix),
                    "at most 1024 characters",
                ));
            }
        }
        Ok(())
    }

    fn diff(old: &Value, new: &Value) -> Diff {
        field_diff(&normalized(old), &normalized(new), Self::SCHEMA.force_new)
    }

    async fn create(&self, cx: &Call<'_, S3>) -> Result<String, ProviderError> {
        let region = cx
            .aws
            .config()
            .await
            .region()
            .map(|r| r.to_string())
            .unwrap_or_default();
        // us-east-1 takes no location constraint; tags go in the create so a
        // bucket is never untagged (S3 adopted tags on CreateBucket in 2025).
        let conf = |tags: bool| {
            CreateBucketConfiguration::builder()
                .set_location_constraint(
                    (!region.is_empty() && region != "us-east-1")
                        .then(|| BucketLocationConstraint::from(region.as_str())),
                )
                .set_tags(tags.then(|| to_tags(&cx.all_tags(&self.tags))))
                .build()
        };
        // In us-east-1 CreateBucket of a bucket this account owns succeeds
        // (S3's legacy answer) instead of BucketAlreadyOwnedByYou: look first.
        let made = if exists(cx, &self.bucket).await? {
            Err(Failure {
                code: "BucketAlreadyOwnedByYou".into(),
                message: String::new(),
                error: ProviderError::Fatal(String::new()),
            })
        } else {
            let send = |conf: CreateBucketConfiguration| {
                cx.try_send_retrying(
                    "CreateBucket",
                    // A name just deleted is briefly held by S3.
                    &NAME_HELD,
                    move |c| {
                        c.create_bucket()
                            .bucket(&self.bucket)
                            .create_bucket_configuration(conf.clone())
                            .send()
                    },
                )
            };
            match send(conf(true)).await {
                // Tags on CreateBucket need s3:TagResource, which a deployer
                // policy written for PutBucketTagging may lack: tag after.
                Err(f) if f.code == "AccessDenied" => send(conf(false)).await,
                r => r,
            }
        };
        match made {
            Ok(_) => Ok(self.bucket.clone()),
            // Ours from an earlier attempt (by its URN tag): carry on.
            Err(f) if f.code == "BucketAlreadyOwnedByYou" => {
                if self.find(cx).await?.is_empty() {
                    Err(ProviderError::invalid(
                        "bucket",
                        format!("{:?}", self.bucket),
                        "a bucket of this name already exists and is not this resource's (another account's, or this account's without this resource's morket:urn tag); import it or choose another name",
                    ))
                } else {
                    Ok(self.bucket.clone())
                }
            }
            Err(f) if f.code == "BucketAlreadyExists" => Err(ProviderError::invalid(
                "bucket",
                format!("{:?}", self.bucket),
                "the name is taken by another AWS account (bucket names are global)",
            )),
            Err(f) => Err(f.error),
        }
    }

    async fn after_create(&self, cx: &Call<'_, S3>, name: &str) -> Result<(), ProviderError> {
        // Wait until S3 answers for the new bucket everywhere, as Terraform
        // does (bucketPropagationTimeout).
        Wait::new("S3 bucket", &[], &["exists"])
            .after_create()
            .until(cx.settings(), || async {
                Ok(if exists(cx, name).await? {
                    Seen::State("exists".to_string(), ())
                } else {
                    Seen::Gone
                })
            })
            .await?;
        // Tags again: not every S3 endpoint takes them on CreateBucket.
        put_tags(cx, name, &cx.all_tags(&self.tags)).await?;
        if self.versioning.is_some() {
            self.put_versioning(cx, name).await?;
        }
        if self.server_side_encryption.is_some() {
            self.put_encryption(cx, name).await?;
        }
        if self.public_access_block.is_some() {
            self.put_public_access_block(cx, name).await?;
        }
        if self.object_ownership.is_some() {
            self.put_ownership(cx, name).await?;
        }
        if !self.lifecycle_rules.is_empty() {
            self.put_lifecycle(cx, name).await?;
        }
        if self.policy.is_some() {
            self.put_policy(cx, name).await?;
        }
        if self.logging.is_some() {
            self.put_logging(cx, name).await?;
        }
        Ok(())
    }

    async fn read(
        cx: &Call<'_, S3>,
        name: &str,
        declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError> {
        if !exists(cx, name).await? {
            return Ok(None);
        }
        let versioning = cx
            .send("GetBucketVersioning", |c| {
                c.get_bucket_versioning().bucket(name).send()
            })
            .await?
            .status()
            .map(|s| s.as_str().to_string());
        let server_side_encryption = optional(
            cx.try_send("GetBucketEncryption", |c| {
                c.get_bucket_encryption().bucket(name).send()
            })
            .await,
            "ServerSideEncryptionConfigurationNotFoundError",
        )?
        .and_then(|o| {
            let rule = o
                .server_side_encryption_configuration()?
                .rules()
                .first()?
                .clone();
            let d = rule.apply_server_side_encryption_by_default()?;
            Some(Encryption {
                sse_algorithm: d.sse_algorithm().as_str().to_string(),
                kms_master_key_id: d.kms_master_key_id().map(|k| Input::Value(k.to_string())),
                bucket_key_enabled: rule.bucket_key_enabled().unwrap_or(false),
            })
        });
        let public_access_block = optional(
            cx.try_send("GetPublicAccessBlock", |c| {
                c.get_public_access_block().bucket(name).send()
            })
            .await,
            "NoSuchPublicAccessBlockConfiguration",
        )?
        .and_then(|o| {
            let p = o.public_access_block_configuration()?;
            Some(PublicAccessBlock {
                block_public_acls: p.block_public_acls().unwrap_or(false),
                block_public_policy: p.block_public_policy().unwrap_or(false),
                ignore_public_acls: p.ignore_public_acls().unwrap_or(false),
                restrict_public_buckets: p.restrict_public_buckets().unwrap_or(false),
            })
        });
        let object_ownership = optional(
            cx.try_send("GetBucketOwnershipControls", |c| {
                c.get_bucket_ownership_controls().bucket(name).send()
            })
            .await,
            "OwnershipControlsNotFoundError",
        )?
        .and_then(|o| {
            o.ownership_controls()?
                .rules()
                .first()
                .map(|r| r.object_ownership().as_str().to_string())
        });
        let lifecycle_rules = optional(
            cx.try_send("GetBucketLifecycleConfiguration", |c| {
                c.get_bucket_lifecycle_configuration().bucket(name).send()
            })
            .await,
            "NoSuchLifecycleConfiguration",
        )?
        .map(|o| o.rules().iter().map(read_rule).collect())
        .unwrap_or_default();
        let policy = optional(
            cx.try_send("GetBucketPolicy", |c| {
                c.get_bucket_policy().bucket(name).send()
            })
            .await,
            "NoSuchBucketPolicy",
        )?
        .and_then(|o| o.policy().map(|p| Input::Value(p.to_string())));
        let logging = cx
            .send("GetBucketLogging", |c| {
                c.get_bucket_logging().bucket(name).send()
            })
            .await?
            .logging_enabled()
            .map(|l| Logging {
                target_bucket: Input::Value(l.target_bucket().to_string()),
                target_prefix: l.target_prefix().to_string(),
            });
        let region = cx
            .aws
            .config()
            .await
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "us-east-1".into());
        let args = Bucket {
            bucket: name.to_string(),
            force_destroy: declared.force_destroy,
            versioning,
            server_side_encryption,
            public_access_block,
            object_ownership,
            lifecycle_rules,
            policy,
            logging,
            tags: cx.own_tags(&live_tags(cx, name).await?),
        };
        Ok(Some(Live {
            args,
            outputs: json!({
                "id": name,
                "bucket": name,
                "arn": format!("arn:{}:s3:::{name}", partition(&region).0),
                "region": region,
                "bucket_domain_name": format!("{name}.s3.{}", partition(&region).1),
                "bucket_regional_domain_name": format!("{name}.s3.{region}.{}", partition(&region).1),
            }),
        }))
    }

    async fn update(&self, old: &Self, cx: &Call<'_, S3>, name: &str) -> Result<(), ProviderError> {
        if old.versioning != self.versioning {
            self.put_versioning(cx, name).await?;
        }
        if old.server_side_encryption != self.server_side_encryption {
            self.put_encryption(cx, name).await?;
        }
        if old.public_access_block != self.public_access_block {
            self.put_public_access_block(cx, name).await?;
        }
        if old.object_ownership != self.object_ownership {
            self.put_ownership(cx, name).await?;
        }
        if old.lifecycle_rules != self.lifecycle_rules {
            self.put_lifecycle(cx, name).await?;
        }
        let (op, np) = (
            old.policy
                .as_ref()
                .and_then(Input::known)
                .map(|p| normal_policy(p)),
            self.policy
                .as_ref()
                .and_then(Input::known)
                .map(|p| normal_policy(p)),
        );
        if op != np || (self.policy.is_some() && np.is_none()) {
            self.put_policy(cx, name).await?;
        }
        if old.logging != self.logging {
            self.put_logging(cx, name).await?;
        }
        if old.tags != self.tags {
            cx.update_tags(name, &old.tags, &self.tags).await?;
        }
        Ok(())
    }

    async fn delete(&self, cx: &Call<'_, S3>, name: &str) -> Result<(), ProviderError> {
        // A forced delete empties the bucket again when objects arrive
        // meanwhile (an ALB's last access logs land after it is gone).
        let mut tries = if self.force_destroy { 5 } else { 1 };
        loop {
            if self.force_destroy {
                self.empty(cx, name).await?;
            }
            tries -= 1;
            match cx
                .try_send("DeleteBucket", |c| c.delete_bucket().bucket(name).send())
                .await
            {
                Ok(_) => break,
                Err(f) if f.code == "BucketNotEmpty" && tries > 0 => {}
                Err(f) if f.code == "BucketNotEmpty" => {
                    return Err(ProviderError::Fatal(if self.force_destroy {
                        format!(
                            "bucket {name} kept receiving objects while being emptied; run again"
                        )
                    } else {
                        format!(
                            "bucket {name} still holds objects; empty it or set force_destroy = true (then run again)"
                        )
                    }))
                }
                Err(f) => return Err(f.error),
            }
        }
        Wait::new("S3 bucket", &["exists"], &[])
            .until_gone(cx.settings(), || async {
                Ok(if exists(cx, name).await? {
                    Seen::State("exists".to_string(), ())
                } else {
                    Seen::<()>::Gone
                })
            })
            .await
    }

    async fn find(&self, cx: &Call<'_, S3>) -> Result<Vec<String>, ProviderError> {
        // The name is the identity: the bucket of that name carrying our URN tag.
        if !exists(cx, &self.bucket).await? {
            return Ok(Vec::new());
        }
        let tags = match live_tags(cx, &self.bucket).await {
            Ok(t) => t,
            // Another account's bucket: not ours.
            Err(e) if FORBIDDEN.iter().any(|c| e.to_string().contains(c)) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let ours = tags.get(URN_TAG).is_some_and(|v| cx.ctx.urn_tag_matches(v));
        Ok(if ours {
            vec![self.bucket.clone()]
        } else {
            Vec::new()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::provider::aws::resource::Typed;
    use crate::provider::aws::Aws;
    use crate::provider::Provider;
    use std::sync::Arc;

    fn p() -> Typed<Bucket> {
        Typed::new(Arc::new(Aws::new(Default::default())))
    }

    fn err(v: Value) -> String {
        p().validate(&v).unwrap_err().to_string()
    }

    #[test]
    fn validation_names_field_and_value() {
        let ok = serde_json::to_value(Bucket::private("morket-alb-logs")).unwrap();
        assert!(p().validate(&ok).is_ok());
        let e = err(json!({"bucket": "Bad_Name"}));
        assert!(e.contains("bucket") && e.contains("Bad_Name"), "{e}");
        let e = err(json!({"bucket": "abc", "versioning": "On"}));
        assert!(e.contains("versioning") && e.contains("On"), "{e}");
        let e = err(json!({"bucket": "abc", "server_side_encryption": {"sse_algorithm": "des"}}));
        assert!(
            e.contains("server_side_encryption.sse_algorithm") && e.contains("des"),
            "{e}"
        );
        let e = err(json!({"bucket": "abc", "lifecycle_rules": [
            {"id": "a", "enabled": true, "transitions": [{"days": 10, "storage_class": "STANDARD_IA"}]}
        ]}));
        assert!(
            e.contains("lifecycle_rules[0].transitions[0].days") && e.contains("10"),
            "{e}"
        );
        let e = err(json!({"bucket": "abc", "lifecycle_rules": [{"id": "a", "enabled": true}]}));
        assert!(
            e.contains("lifecycle_rules[0]") && e.contains("expiration"),
            "{e}"
        );
        let e = err(json!({"bucket": "abc", "lifecycle_rules": [
            {"id": "a", "expiration_days": 1}, {"id": "a", "expiration_days": 2}
        ]}));
        assert!(
            e.contains("lifecycle_rules[1].id") && e.contains("unique"),
            "{e}"
        );
        let e = err(json!({"bucket": "abc", "policy": "{not json"}));
        assert!(e.contains("policy") && e.contains("{not json"), "{e}");
        let e = err(json!({"bucket": "abc", "object_ownership": "Me"}));
        assert!(e.contains("object_ownership") && e.contains("Me"), "{e}");
    }

    #[test]
    fn policy_formatting_is_no_change() {
        let a = json!({"bucket": "abc", "policy": "{\"Statement\": []}"});
        let b = json!({"bucket": "abc", "policy": "{\n  \"Statement\" : [ ]\n}"});
        assert!(Bucket::diff(&a, &b).changed.is_empty());
    }
}
