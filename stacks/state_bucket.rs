//! `state-bucket`: the S3 bucket that holds stacks' state (the bootstrap:
//! its own state stays local). Versioned (for `state versions` and
//! `state rollback`), encrypted with SSE-KMS, public access blocked, owner
//! enforced, TLS required by its policy, and old versions expired after a
//! while. See README "Team state in S3".

use std::collections::BTreeMap;
use std::sync::Arc;

use morket_stack::model::{HasUrn, ResourceOptions, Stack};
use morket_stack::provider::aws::iam::policy::{Effect, PolicyDocument, Statement};
use morket_stack::provider::aws::s3::bucket::{Bucket, Encryption, LifecycleRule};
use morket_stack::provider::aws::{self, Aws};
use morket_stack::provider::Registry;
use serde::Deserialize;

use super::{ConfigFile, Loaded, StackEnv, StackError};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateBucketConfig {
    /// The bucket's name (globally unique; e.g. `<org>-morket-stack-state`).
    pub bucket: String,
    pub region: String,
    /// A customer-managed KMS key (ARN or alias ARN); default: the
    /// AWS-managed `aws/s3` key.
    #[serde(default)]
    pub kms_key_id: Option<String>,
    /// Days an overwritten state version is kept (the rollback window).
    #[serde(default = "default_days")]
    pub noncurrent_version_days: i32,
    /// Refuse `destroy` (and replacement) of the bucket.
    #[serde(default = "yes")]
    pub protect: bool,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

fn default_days() -> i32 {
    90
}

fn yes() -> bool {
    true
}

pub fn build(name: &str, file: &ConfigFile, env: &StackEnv) -> Result<Loaded, StackError> {
    let cfg: StateBucketConfig = file.parse()?;
    if let Err(e) = morket_stack::state::s3::S3Url::parse(&format!("s3://{}", cfg.bucket)) {
        return Err(file.bad("bucket", format!("{:?}", cfg.bucket), &e));
    }
    if !(1..=3650).contains(&cfg.noncurrent_version_days) {
        return Err(file.bad(
            "noncurrent_version_days",
            cfg.noncurrent_version_days,
            "must be between 1 and 3650",
        ));
    }
    let mut settings = super::settings_in(file, env, &cfg.region)?;
    let mut tags = BTreeMap::from([
        ("Purpose".to_string(), "morket-stack-state".to_string()),
        ("ManagedBy".to_string(), "morket-stack".to_string()),
    ]);
    tags.extend(cfg.tags.clone());
    settings.default_tags = tags;
    let mut registry = Registry::builtin();
    aws::register(&mut registry, Arc::new(Aws::new(settings.clone())));

    let arn = format!("arn:aws:s3:::{}", cfg.bucket);
    // Anything but TLS is refused, whoever asks.
    let mut tls_only = Statement::allow(
        &["s3:*"],
        vec![arn.clone().into(), format!("{arn}/*").into()],
    )
    .sid("DenyInsecureTransport")
    .principal("AWS", vec!["*".into()])
    .condition("Bool", "aws:SecureTransport", vec!["false".into()]);
    tls_only.effect = Effect::Deny;
    let mut b = Bucket::private(&cfg.bucket);
    b.server_side_encryption = Some(Encryption {
        sse_algorithm: "aws:kms".into(),
        kms_master_key_id: cfg.kms_key_id.clone().map(Into::into),
        bucket_key_enabled: true,
    });
    b.lifecycle_rules = vec![LifecycleRule {
        id: "old-state-versions".into(),
        enabled: true,
        noncurrent_version_expiration_days: Some(cfg.noncurrent_version_days),
        abort_incomplete_multipart_upload_days: Some(1),
        ..Default::default()
    }];
    b.policy = Some(PolicyDocument::new(vec![tls_only]).to_input());

    let mut stack = Stack::new(name)?;
    let mut root = stack.root();
    let bucket = root.resource_with("bucket", b, ResourceOptions::new().protect(cfg.protect))?;
    let urn = bucket.urn().clone();
    Ok(Loaded {
        stack,
        aws: Some(settings),
        registry,
        outputs: vec![("bucket_arn".into(), urn, "arn".into())],
        values: vec![(
            "backend_url".into(),
            serde_json::Value::String(format!("s3://{}/stacks", cfg.bucket)),
        )],
    })
}
