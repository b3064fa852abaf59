//! Edge component (R10): the React SPA in a private S3 bucket served on
//! `<domain>` by CloudFront, which alone may read it (an origin access
//! control, AWS's replacement for the seed's origin access identity), over
//! HTTPS only with a us-east-1 certificate; `/index.html` is never cached
//! and 403/404 answer it with 200 (client-side routing). A second private
//! bucket holds CSV exports, archived to Glacier after 90 days and expired
//! after 365 (R10.6). The ALB serves `api.<domain>` (alb.rs). Every
//! response carries AWS's managed security headers; both buckets log their
//! server access into the ALB's log bucket. A deploy syncs the built site
//! into the bucket (`frontend.site_dir`, R14.7).

use std::collections::BTreeMap;

use morket_stack::model::{HasUrn, Input, ModelError, Resource, ResourceOptions, Scope};
use morket_stack::provider::aws::acm::certificate::{self, Certificate};
use morket_stack::provider::aws::cloudfront::distribution::{
    CacheBehavior, CustomErrorResponse, Distribution, Origin, ViewerCertificate,
};
use morket_stack::provider::aws::cloudfront::get_response_headers_policy::GetResponseHeadersPolicy;
use morket_stack::provider::aws::cloudfront::origin_access_control::OriginAccessControl;
use morket_stack::provider::aws::iam::policy::{PolicyDocument, Statement};
use morket_stack::provider::aws::route53::get_zone::GetZone;
use morket_stack::provider::aws::route53::record::Record;
use morket_stack::provider::aws::s3::bucket::{
    Bucket, LifecycleRule, LifecycleTransition, Logging,
};
use morket_stack::provider::aws::s3::bucket_policy::BucketPolicy;
use morket_stack::provider::aws::s3::site_sync::{manifest, SiteFile, SiteSync};

use super::super::{ConfigFile, StackError};
use super::alb::s3_log_prefix;
use super::config::MorketConfig;
use super::network::name_tag;
use super::Outputs;

/// CloudFront takes viewer certificates from this region only.
pub const CERTIFICATE_REGION: &str = "us-east-1";
/// R10.3: viewers on plain HTTP get 403, never content or a redirect.
pub const VIEWER_PROTOCOL: &str = "https-only";
/// R10.5: static assets are cached a day.
pub const ASSET_TTL: i64 = 86400;
pub const INDEX: &str = "/index.html";
/// R10.6.
pub const EXPORTS_GLACIER_DAYS: i32 = 90;
pub const EXPORTS_EXPIRE_DAYS: i32 = 365;
/// Overwritten or expired versions stay recoverable this long.
pub const NONCURRENT_DAYS: i32 = 30;
pub const ABORT_UPLOAD_DAYS: i32 = 7;
const ORIGIN_ID: &str = "s3-frontend";

pub struct Edge {
    pub frontend: Resource<Bucket>,
    pub exports: Resource<Bucket>,
    pub distribution: Resource<Distribution>,
}

impl Edge {
    /// R10.7.
    pub fn outputs(&self, out: &mut Outputs) {
        out.add("cloudfront_domain_name", &self.distribution, "domain_name");
        out.add("cloudfront_distribution_id", &self.distribution, "id");
        out.add("frontend_bucket", &self.frontend, "bucket");
        out.add("exports_bucket", &self.exports, "bucket");
    }
}

/// The buckets whose server access logs go to the ALB's log bucket (who
/// read the site's files and the users' exports).
pub fn access_logged(cfg: &MorketConfig) -> Vec<String> {
    ["frontend", "exports"].map(|w| cfg.name(w)).to_vec()
}

/// A private, versioned, SSE-S3 bucket with server access logs; staging's
/// are emptied on destroy.
fn private_bucket(
    cfg: &MorketConfig,
    what: &str,
    rules: Vec<LifecycleRule>,
    logs: &Resource<Bucket>,
) -> Bucket {
    let mut b = Bucket::private(&cfg.name(what));
    b.lifecycle_rules = rules;
    b.logging = Some(Logging {
        target_bucket: logs.bucket().into(),
        target_prefix: s3_log_prefix(&b.bucket),
    });
    b.force_destroy = !cfg.is_production();
    b.tags = name_tag(cfg, what);
    b
}

/// AWS's managed security headers (HSTS, nosniff, frame and referrer
/// policies) on every response of the site.
pub const HEADERS_POLICY: &str = "Managed-SecurityHeadersPolicy";

/// A behaviour toward the bucket: HTTPS only, GET/HEAD, no query strings
/// or cookies in the cache key, the security headers added.
fn behavior(
    path_pattern: &str,
    ttl: (i64, i64, i64),
    headers: &Resource<GetResponseHeadersPolicy>,
) -> CacheBehavior {
    let mut b = CacheBehavior::to(ORIGIN_ID);
    b.path_pattern = path_pattern.into();
    b.response_headers_policy_id = Some(headers.id().into());
    b.viewer_protocol_policy = VIEWER_PROTOCOL.into();
    (b.min_ttl, b.default_ttl, b.max_ttl) = ttl;
    b
}

/// A built site: its directory and its files.
pub type Site = (String, BTreeMap<String, SiteFile>);

/// The built site of `frontend.site_dir`, hashed (the program reads it;
/// the engine only plans from the manifest).
pub fn read_site(file: &ConfigFile, cfg: &MorketConfig) -> Result<Option<Site>, StackError> {
    let Some(dir) = &cfg.frontend.site_dir else {
        return Ok(None);
    };
    let bad = |e: std::io::Error| file.bad("frontend.site_dir", format!("{dir:?}"), &e.to_string());
    let abs = std::fs::canonicalize(dir).map_err(bad)?;
    let mut files = manifest(&abs).map_err(bad)?;
    if !files.contains_key(INDEX.trim_start_matches('/')) {
        return Err(file.bad(
            "frontend.site_dir",
            format!("{dir:?}"),
            "holds no index.html: not a built site",
        ));
    }
    for (key, f) in files.iter_mut() {
        // R10.5: pages are revalidated so a deploy shows at once; Vite's
        // content-hashed assets never change under their name.
        f.cache_control = if key.ends_with(".html") {
            Some("no-cache".into())
        } else if key.starts_with("assets/") {
            Some("public, max-age=31536000, immutable".into())
        } else {
            None
        };
    }
    Ok(Some((abs.to_string_lossy().into_owned(), files)))
}

pub fn declare(
    scope: &mut Scope<'_>,
    cfg: &MorketConfig,
    zone: &Resource<GetZone>,
    logs: &Resource<Bucket>,
    site: Option<Site>,
) -> Result<Edge, ModelError> {
    let mut c = scope.component("morket:Edge", "edge")?;
    let domain = &cfg.domain_name;
    // The buckets hold the site and users' exports: kept in production.
    let keep = || ResourceOptions::new().protect(cfg.is_production());

    // R10.1. The versions a deploy overwrites go after a while.
    let frontend = private_bucket(
        cfg,
        "frontend",
        vec![LifecycleRule {
            id: "noncurrent-versions".into(),
            enabled: true,
            noncurrent_version_expiration_days: Some(NONCURRENT_DAYS),
            abort_incomplete_multipart_upload_days: Some(ABORT_UPLOAD_DAYS),
            ..Default::default()
        }],
        logs,
    );
    let frontend = c.resource_with("frontend", frontend, keep())?;

    // R10.6.
    let exports = private_bucket(
        cfg,
        "exports",
        vec![LifecycleRule {
            id: "glacier-then-expire".into(),
            enabled: true,
            transitions: vec![LifecycleTransition {
                days: EXPORTS_GLACIER_DAYS,
                storage_class: "GLACIER".into(),
            }],
            expiration_days: Some(EXPORTS_EXPIRE_DAYS),
            noncurrent_version_expiration_days: Some(NONCURRENT_DAYS),
            abort_incomplete_multipart_upload_days: Some(ABORT_UPLOAD_DAYS),
            ..Default::default()
        }],
        logs,
    );
    let exports = c.resource_with("exports", exports, keep())?;

    // R10.3: the certificate, in us-east-1 whatever the stack's region; the
    // distribution takes its ARN from the validation so it waits for issue.
    let mut cert = Certificate::dns(domain);
    cert.region = Some(CERTIFICATE_REGION.into());
    cert.tags = name_tag(cfg, "cloudfront");
    let cert_res = c.resource("certificate", cert.clone())?;
    let validation = certificate::validated(
        &mut c,
        "certificate-validation",
        &cert_res,
        &cert,
        zone.zone_id(),
    )?;

    // R10.2.
    let oac = c.resource("oac", OriginAccessControl::s3(&cfg.name("frontend")))?;
    let headers = c.resource(
        "security-headers",
        GetResponseHeadersPolicy::named(HEADERS_POLICY),
    )?;

    // R10.4: client-side routes are objects S3 does not have (403 without
    // s3:ListBucket, 404 with it). Not cached either, like /index.html.
    let errors = [403, 404]
        .into_iter()
        .map(|code| CustomErrorResponse {
            error_caching_min_ttl: 0,
            ..CustomErrorResponse::page(code, 200, INDEX)
        })
        .collect();
    let d = Distribution {
        comment: format!("{} frontend", cfg.name("")),
        aliases: vec![domain.clone()],
        default_root_object: INDEX.trim_start_matches('/').into(),
        // The AAAA record below needs it.
        is_ipv6_enabled: true,
        origins: vec![Origin {
            origin_id: ORIGIN_ID.into(),
            domain_name: frontend.bucket_regional_domain_name().into(),
            origin_access_control_id: Some(oac.id().into()),
            ..Default::default()
        }],
        // R10.5: assets a day (up to a year if the object says so);
        // `/index.html` never, so a deploy shows at once.
        default_cache_behavior: behavior("", (0, ASSET_TTL, 31_536_000), &headers),
        ordered_cache_behaviors: vec![behavior(INDEX, (0, 0, 0), &headers)],
        custom_error_responses: errors,
        viewer_certificate: ViewerCertificate::acm(validation.certificate_arn()),
        tags: name_tag(cfg, "cloudfront"),
        ..Default::default()
    };
    let distribution = c.resource("distribution", d)?;

    // R10.2: only this distribution may read the bucket.
    let policy = PolicyDocument::new(vec![Statement::allow(
        &["s3:GetObject"],
        vec![Input::interpolate(
            "{arn}/*",
            &[("arn", frontend.arn().into())],
        )],
    )
    .sid("CloudFrontReadsTheSite")
    .principal("Service", vec!["cloudfront.amazonaws.com".into()])
    .condition(
        "StringEquals",
        "AWS:SourceArn",
        vec![distribution.arn().into()],
    )]);
    let policy = c.resource(
        "frontend-policy",
        BucketPolicy::new(frontend.bucket(), policy.to_input()),
    )?;

    // R14.7: the built site, by content hash, and one invalidation of /*
    // when anything changed; after the policy, so it is served at once. A
    // deploy without `frontend.site_dir` (infrastructure only) forgets the
    // site and leaves its files served: retained, never emptied; the next
    // site deploy compares with what the bucket holds.
    if let Some((dir, files)) = site {
        let sync = SiteSync {
            bucket: frontend.bucket().into(),
            dir,
            files,
            distribution_id: Some(distribution.id().into()),
            ..Default::default()
        };
        c.resource_with(
            "site",
            sync,
            ResourceOptions::new()
                .depends_on(policy.urn())
                .retain_on_delete(true),
        )?;
    }

    // The domain (IPv4 and, the distribution having IPv6, IPv6) → CloudFront.
    for ty in ["A", "AAAA"] {
        c.resource(
            &format!("alias-{}", ty.to_lowercase()),
            Record::alias(
                zone.zone_id(),
                domain.as_str(),
                ty,
                distribution.domain_name(),
                distribution.hosted_zone_id(),
            ),
        )?;
    }

    Ok(Edge {
        frontend,
        exports,
        distribution,
    })
}
