//! `aws:cloudfront/Distribution` (Terraform `aws_cloudfront_distribution`):
//! a CDN distribution with S3 (through an origin access control) or custom
//! origins, legacy TTL cache behaviors, custom error responses and an ACM
//! certificate. Everything changes in place: an update sends the whole
//! configuration with the ETag read just before. As Terraform's provider:
//! create and update wait for `Deployed` unless `wait_for_deployment` is off;
//! delete disables, waits for `Deployed`, then deletes with the new ETag.
//!
//! The cache settings are the legacy ones (TTLs and forwarded values in the
//! behavior, deprecated in the SDK in favour of cache policies): R10.5
//! states TTLs per path, which they express without a second resource type.
#![allow(deprecated)]

use std::collections::BTreeSet;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_cloudfront::types::{
    Aliases, AllowedMethods, CacheBehavior as CfCacheBehavior, CacheBehaviors, CachedMethods,
    CookiePreference, CustomErrorResponse as CfErrorResponse, CustomErrorResponses,
    CustomOriginConfig as CfCustomOriginConfig, DefaultCacheBehavior,
    Distribution as CfDistribution, DistributionConfig, DistributionConfigWithTags,
    ForwardedValues as CfForwardedValues, GeoRestriction as CfGeoRestriction, GeoRestrictionType,
    HttpVersion, ItemSelection, Method, MinimumProtocolVersion, Origin as CfOrigin,
    OriginProtocolPolicy, OriginSslProtocols, Origins, PriceClass, Restrictions as CfRestrictions,
    S3OriginConfig, SslProtocol, SslSupportMethod, ViewerCertificate as CfViewerCertificate,
    ViewerProtocolPolicy,
};
use aws_smithy_types::error::operation::BuildError;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use super::{as_declared, found, is_gone, live_tags, to_tags, CloudFront};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::call::{backoff, Call, Retry};
use crate::provider::aws::check_arn;
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::aws::tags::{Tags, URN_TAG};
use crate::provider::aws::validate::{in_range, one_of};
use crate::provider::aws::wait::{Seen, Wait};
use crate::provider::schema::{Conv, Norm, Schema, Tf};
use crate::provider::ProviderError;

/// The Route 53 hosted zone of every CloudFront domain (alias records).
pub const HOSTED_ZONE_ID: &str = "Z2FDTNDATAQYW2";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Distribution {
    pub enabled: bool,
    /// Up to 128 characters.
    pub comment: String,
    /// Alternate domain names (CNAMEs); they need a certificate of their own.
    pub aliases: Vec<String>,
    /// The object served for `/` (`index.html`, no leading `/`).
    pub default_root_object: String,
    /// `PriceClass_100`, `PriceClass_200` or `PriceClass_All`.
    pub price_class: String,
    /// `http1.1`, `http2`, `http3` or `http2and3`.
    pub http_version: String,
    pub is_ipv6_enabled: bool,
    pub origins: Vec<Origin>,
    /// The behavior of requests no ordered behavior matches (no path pattern).
    pub default_cache_behavior: CacheBehavior,
    /// Behaviors by path pattern, first match wins.
    pub ordered_cache_behaviors: Vec<CacheBehavior>,
    pub custom_error_responses: Vec<CustomErrorResponse>,
    pub viewer_certificate: ViewerCertificate,
    pub restrictions: Restrictions,
    /// Wait until CloudFront reports the change `Deployed` (minutes on
    /// AWS); not an AWS setting.
    pub wait_for_deployment: bool,
    pub tags: Tags,
}

impl Default for Distribution {
    fn default() -> Self {
        Distribution {
            enabled: true,
            comment: String::new(),
            aliases: Vec::new(),
            default_root_object: String::new(),
            price_class: "PriceClass_All".into(),
            http_version: "http2".into(),
            is_ipv6_enabled: true,
            origins: Vec::new(),
            default_cache_behavior: CacheBehavior::default(),
            ordered_cache_behaviors: Vec::new(),
            custom_error_responses: Vec::new(),
            viewer_certificate: ViewerCertificate::default(),
            restrictions: Restrictions::default(),
            wait_for_deployment: true,
            tags: Tags::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Origin {
    /// Unique in the distribution; cache behaviors name it.
    pub origin_id: String,
    /// An S3 bucket's regional domain name, or a load balancer's DNS name.
    pub domain_name: Input<String>,
    /// A path prefix on the origin (`/app`), or empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub origin_path: String,
    /// The origin access control that signs requests to an S3 origin.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin_access_control_id: Option<Input<String>>,
    /// Set for a custom (HTTP) origin; unset makes an S3 origin.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_origin_config: Option<CustomOriginConfig>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CustomOriginConfig {
    pub http_port: i32,
    pub https_port: i32,
    /// `http-only`, `https-only` or `match-viewer`.
    pub origin_protocol_policy: String,
    /// Of `SSLv3`, `TLSv1`, `TLSv1.1`, `TLSv1.2`.
    pub origin_ssl_protocols: Vec<String>,
}

impl Default for CustomOriginConfig {
    /// HTTPS only, TLS 1.2.
    fn default() -> Self {
        CustomOriginConfig {
            http_port: 80,
            https_port: 443,
            origin_protocol_policy: "https-only".into(),
            origin_ssl_protocols: vec!["TLSv1.2".into()],
        }
    }
}

/// A cache behavior with legacy TTL settings (no cache policy).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheBehavior {
    /// The paths it applies to (`/index.html`, `/api/*`); empty for the
    /// default behavior, required for an ordered one.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub path_pattern: String,
    pub target_origin_id: String,
    /// `redirect-to-https`, `https-only` or `allow-all`.
    pub viewer_protocol_policy: String,
    /// `GET, HEAD`; `GET, HEAD, OPTIONS`; or all seven methods.
    pub allowed_methods: Vec<String>,
    /// `GET, HEAD` or `GET, HEAD, OPTIONS`.
    pub cached_methods: Vec<String>,
    pub compress: bool,
    pub min_ttl: i64,
    pub default_ttl: i64,
    pub max_ttl: i64,
    pub forwarded_values: ForwardedValues,
    /// Headers CloudFront adds to responses (security headers, CORS): a
    /// policy id, e.g. from `aws:cloudfront/getResponseHeadersPolicy`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_headers_policy_id: Option<Input<String>>,
}

impl Default for CacheBehavior {
    /// HTTPS by redirect, GET/HEAD, compressed, cached a day by default.
    fn default() -> Self {
        CacheBehavior {
            path_pattern: String::new(),
            target_origin_id: String::new(),
            viewer_protocol_policy: "redirect-to-https".into(),
            allowed_methods: vec!["GET".into(), "HEAD".into()],
            cached_methods: vec!["GET".into(), "HEAD".into()],
            compress: true,
            min_ttl: 0,
            default_ttl: 86400,
            max_ttl: 31_536_000,
            forwarded_values: ForwardedValues::default(),
            response_headers_policy_id: None,
        }
    }
}

impl CacheBehavior {
    /// The default behavior toward `origin_id`.
    pub fn to(origin_id: &str) -> Self {
        CacheBehavior {
            target_origin_id: origin_id.into(),
            ..Default::default()
        }
    }
}

/// What of a request reaches the origin and keys the cache.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ForwardedValues {
    pub query_string: bool,
    /// `none` or `all`.
    pub cookies: String,
}

impl Default for ForwardedValues {
    fn default() -> Self {
        ForwardedValues {
            query_string: false,
            cookies: "none".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CustomErrorResponse {
    /// The origin's HTTP error (one of [`ERROR_CODES`]).
    pub error_code: i32,
    /// The code viewers get instead; set with `response_page_path`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_code: Option<i32>,
    /// The object served instead (`/index.html`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub response_page_path: String,
    /// Seconds CloudFront caches the error (AWS's default: 10).
    pub error_caching_min_ttl: i64,
}

impl Default for CustomErrorResponse {
    fn default() -> Self {
        CustomErrorResponse {
            error_code: 0,
            response_code: None,
            response_page_path: String::new(),
            error_caching_min_ttl: 10,
        }
    }
}

impl CustomErrorResponse {
    /// `error_code` answered with `page` and status `code`.
    pub fn page(error_code: i32, code: i32, page: &str) -> Self {
        CustomErrorResponse {
            error_code,
            response_code: Some(code),
            response_page_path: page.into(),
            ..Default::default()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ViewerCertificate {
    /// The `*.cloudfront.net` certificate; no aliases then.
    pub cloudfront_default_certificate: bool,
    /// An ACM certificate in us-east-1 (CloudFront takes no other region).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acm_certificate_arn: Option<Input<String>>,
    /// `sni-only` (or `vip`, `static-ip`); empty with the default certificate.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ssl_support_method: String,
    /// The TLS security policy (`TLSv1.2_2021`); empty with the default
    /// certificate, for which CloudFront fixes it.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub minimum_protocol_version: String,
}

impl Default for ViewerCertificate {
    fn default() -> Self {
        ViewerCertificate {
            cloudfront_default_certificate: true,
            acm_certificate_arn: None,
            ssl_support_method: String::new(),
            minimum_protocol_version: String::new(),
        }
    }
}

impl ViewerCertificate {
    /// An ACM certificate, SNI, TLS 1.2 (2021 policy).
    pub fn acm(arn: impl Into<Input<String>>) -> Self {
        ViewerCertificate {
            cloudfront_default_certificate: false,
            acm_certificate_arn: Some(arn.into()),
            ssl_support_method: "sni-only".into(),
            minimum_protocol_version: "TLSv1.2_2021".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Restrictions {
    pub geo_restriction: GeoRestriction,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GeoRestriction {
    /// `none`, `whitelist` or `blacklist`.
    pub restriction_type: String,
    /// ISO 3166-1 alpha-2 country codes.
    pub locations: Vec<String>,
}

impl Default for GeoRestriction {
    fn default() -> Self {
        GeoRestriction {
            restriction_type: "none".into(),
            locations: Vec::new(),
        }
    }
}

impl ResourceArgs for Distribution {
    const TYPE: &'static str = "aws:cloudfront/Distribution";
}

impl Resource<Distribution> {
    pub fn arn(&self) -> Output<String> {
        self.output("arn")
    }
    /// `d111111abcdef8.cloudfront.net`.
    pub fn domain_name(&self) -> Output<String> {
        self.output("domain_name")
    }
    /// [`HOSTED_ZONE_ID`], for Route 53 alias records.
    pub fn hosted_zone_id(&self) -> Output<String> {
        self.output("hosted_zone_id")
    }
}

/// The origin errors CloudFront can answer with a custom response.
pub const ERROR_CODES: &[i32] = &[400, 403, 404, 405, 414, 416, 500, 501, 502, 503, 504];
/// The codes a custom error response may return.
const RESPONSE_CODES: &[i32] = &[200, 400, 403, 404, 405, 414, 416, 500, 501, 502, 503, 504];
const PRICE_CLASSES: &[&str] = &["PriceClass_100", "PriceClass_200", "PriceClass_All"];
const HTTP_VERSIONS: &[&str] = &["http1.1", "http2", "http3", "http2and3"];
const VIEWER_POLICIES: &[&str] = &["redirect-to-https", "https-only", "allow-all"];
const ORIGIN_POLICIES: &[&str] = &["http-only", "https-only", "match-viewer"];
const ORIGIN_SSL: &[&str] = &["SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2"];
const SSL_SUPPORT: &[&str] = &["sni-only", "vip", "static-ip"];
const TLS_POLICIES: &[&str] = &[
    "SSLv3",
    "TLSv1",
    "TLSv1_2016",
    "TLSv1.1_2016",
    "TLSv1.2_2018",
    "TLSv1.2_2019",
    "TLSv1.2_2021",
    "TLSv1.2_2025",
    "TLSv1.3_2025",
];
const GEO_TYPES: &[&str] = &["none", "whitelist", "blacklist"];
/// The method sets CloudFront accepts.
const ALLOWED_SETS: &[&[&str]] = &[
    &["GET", "HEAD"],
    &["GET", "HEAD", "OPTIONS"],
    &["GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"],
];
const CACHED_SETS: &[&[&str]] = &[&["GET", "HEAD"], &["GET", "HEAD", "OPTIONS"]];

/// Terraform's retries: ACM certificates are eventually consistent
/// (`InvalidViewerCertificate`), and an update right after another one may
/// be refused (`IllegalUpdate`), for a minute.
const CERT_RETRY: Retry = Retry::conflict(&["InvalidViewerCertificate"], Duration::from_secs(60));
const UPDATE_RETRY: Retry = Retry::conflict(
    &["InvalidViewerCertificate", "IllegalUpdate"],
    Duration::from_secs(60),
);
/// How long a change goes on after a stale ETag (`PreconditionFailed`) or a
/// delete refused while the disable deploys (`DistributionNotDisabled`).
const RETRY_BUDGET: Duration = Duration::from_secs(60);

fn built<T>(r: Result<T, BuildError>) -> Result<T, ProviderError> {
    r.map_err(|e| ProviderError::Fatal(format!("CloudFront distribution config: {e}")))
}

fn methods(m: &[String]) -> Vec<Method> {
    m.iter().map(|m| Method::from(m.as_str())).collect()
}

fn method_set(field: &str, m: &[String], sets: &[&[&str]]) -> Result<(), ProviderError> {
    let got: BTreeSet<&str> = m.iter().map(String::as_str).collect();
    if got.len() == m.len()
        && sets
            .iter()
            .any(|s| s.iter().copied().collect::<BTreeSet<_>>() == got)
    {
        return Ok(());
    }
    let list: Vec<String> = sets.iter().map(|s| format!("[{}]", s.join(", "))).collect();
    Err(ProviderError::invalid(
        field,
        format!("{m:?}"),
        format!("must be one of {}", list.join(", ")),
    ))
}

impl CacheBehavior {
    fn check(&self, field: &str, origins: &[&str]) -> Result<(), ProviderError> {
        if !origins.contains(&self.target_origin_id.as_str()) {
            return Err(ProviderError::invalid(
                &format!("{field}.target_origin_id"),
                format!("{:?}", self.target_origin_id),
                format!("names no origin (origins: {})", origins.join(", ")),
            ));
        }
        one_of(
            &format!("{field}.viewer_protocol_policy"),
            &self.viewer_protocol_policy,
            VIEWER_POLICIES,
        )?;
        method_set(
            &format!("{field}.allowed_methods"),
            &self.allowed_methods,
            ALLOWED_SETS,
        )?;
        method_set(
            &format!("{field}.cached_methods"),
            &self.cached_methods,
            CACHED_SETS,
        )?;
        if let Some(m) = self
            .cached_methods
            .iter()
            .find(|m| !self.allowed_methods.contains(m))
        {
            return Err(ProviderError::invalid(
                &format!("{field}.cached_methods"),
                format!("{m:?}"),
                "must also be an allowed method",
            ));
        }
        in_range(&format!("{field}.min_ttl"), self.min_ttl, 0..=i64::MAX)?;
        if self.default_ttl < self.min_ttl {
            return Err(ProviderError::invalid(
                &format!("{field}.default_ttl"),
                self.default_ttl,
                format!("must be at least min_ttl ({})", self.min_ttl),
            ));
        }
        if self.max_ttl < self.default_ttl {
            return Err(ProviderError::invalid(
                &format!("{field}.max_ttl"),
                self.max_ttl,
                format!("must be at least default_ttl ({})", self.default_ttl),
            ));
        }
        one_of(
            &format!("{field}.forwarded_values.cookies"),
            &self.forwarded_values.cookies,
            &["none", "all"],
        )
    }

    fn forwarded(&self) -> Result<CfForwardedValues, ProviderError> {
        built(
            CfForwardedValues::builder()
                .query_string(self.forwarded_values.query_string)
                .cookies(built(
                    CookiePreference::builder()
                        .forward(ItemSelection::from(self.forwarded_values.cookies.as_str()))
                        .build(),
                )?)
                .build(),
        )
    }

    fn allowed(&self) -> Result<AllowedMethods, ProviderError> {
        built(
            AllowedMethods::builder()
                .quantity(self.allowed_methods.len() as i32)
                .set_items(Some(methods(&self.allowed_methods)))
                .cached_methods(built(
                    CachedMethods::builder()
                        .quantity(self.cached_methods.len() as i32)
                        .set_items(Some(methods(&self.cached_methods)))
                        .build(),
                )?)
                .build(),
        )
    }

    fn to_default(&self) -> Result<DefaultCacheBehavior, ProviderError> {
        built(
            DefaultCacheBehavior::builder()
                .target_origin_id(&self.target_origin_id)
                .viewer_protocol_policy(ViewerProtocolPolicy::from(
                    self.viewer_protocol_policy.as_str(),
                ))
                .allowed_methods(self.allowed()?)
                .compress(self.compress)
                .forwarded_values(self.forwarded()?)
                .min_ttl(self.min_ttl)
                .default_ttl(self.default_ttl)
                .max_ttl(self.max_ttl)
                .set_response_headers_policy_id(self.headers_policy()?)
                .build(),
        )
    }

    fn to_ordered(&self) -> Result<CfCacheBehavior, ProviderError> {
        built(
            CfCacheBehavior::builder()
                .path_pattern(&self.path_pattern)
                .target_origin_id(&self.target_origin_id)
                .viewer_protocol_policy(ViewerProtocolPolicy::from(
                    self.viewer_protocol_policy.as_str(),
                ))
                .allowed_methods(self.allowed()?)
                .compress(self.compress)
                .forwarded_values(self.forwarded()?)
                .min_ttl(self.min_ttl)
                .default_ttl(self.default_ttl)
                .max_ttl(self.max_ttl)
                .set_response_headers_policy_id(self.headers_policy()?)
                .build(),
        )
    }

    fn headers_policy(&self) -> Result<Option<String>, ProviderError> {
        match &self.response_headers_policy_id {
            Some(p) => Ok(Some(p.require("response_headers_policy_id")?.clone())),
            None => Ok(None),
        }
    }

    /// A live behavior; method sets in the declared order when equal.
    #[allow(clippy::too_many_arguments)]
    fn from_live(
        path_pattern: &str,
        target: &str,
        viewer: &str,
        allowed: Option<&AllowedMethods>,
        compress: Option<bool>,
        forwarded: Option<&CfForwardedValues>,
        ttls: (Option<i64>, Option<i64>, Option<i64>),
        headers_policy: Option<&str>,
        declared: Option<&CacheBehavior>,
    ) -> CacheBehavior {
        let names =
            |m: &[Method]| -> Vec<String> { m.iter().map(|m| m.as_str().to_string()).collect() };
        let allowed_methods = allowed.map(|a| names(a.items())).unwrap_or_default();
        let cached_methods = allowed
            .and_then(|a| a.cached_methods())
            .map(|c| names(c.items()))
            .unwrap_or_default();
        let (d_allowed, d_cached) = declared
            .map(|d| (d.allowed_methods.as_slice(), d.cached_methods.as_slice()))
            .unwrap_or_default();
        CacheBehavior {
            path_pattern: path_pattern.to_string(),
            target_origin_id: target.to_string(),
            viewer_protocol_policy: viewer.to_string(),
            allowed_methods: as_declared(allowed_methods, d_allowed),
            cached_methods: as_declared(cached_methods, d_cached),
            compress: compress.unwrap_or(false),
            min_ttl: ttls.0.unwrap_or(0),
            default_ttl: ttls.1.unwrap_or(0),
            max_ttl: ttls.2.unwrap_or(0),
            forwarded_values: ForwardedValues {
                query_string: forwarded.is_some_and(|f| f.query_string()),
                cookies: forwarded
                    .and_then(|f| f.cookies())
                    .map(|c| c.forward().as_str().to_string())
                    .unwrap_or_default(),
            },
            // AWS answers "" for none.
            response_headers_policy_id: headers_policy
                .filter(|p| !p.is_empty())
                .map(|p| Input::Value(p.to_string())),
        }
    }
}

impl Origin {
    fn to_origin(&self, i: usize) -> Result<CfOrigin, ProviderError> {
        let field = |f: &str| format!("origins[{i}].{f}");
        let oac = match &self.origin_access_control_id {
            Some(o) => Some(o.require(&field("origin_access_control_id"))?.clone()),
            None => None,
        };
        let mut o = CfOrigin::builder()
            .id(&self.origin_id)
            .domain_name(self.domain_name.require(&field("domain_name"))?)
            .origin_path(&self.origin_path)
            .set_origin_access_control_id(oac);
        o = match &self.custom_origin_config {
            Some(c) => o.custom_origin_config(built(
                CfCustomOriginConfig::builder()
                    .http_port(c.http_port)
                    .https_port(c.https_port)
                    .origin_protocol_policy(OriginProtocolPolicy::from(
                        c.origin_protocol_policy.as_str(),
                    ))
                    .origin_ssl_protocols(built(
                        OriginSslProtocols::builder()
                            .quantity(c.origin_ssl_protocols.len() as i32)
                            .set_items(Some(
                                c.origin_ssl_protocols
                                    .iter()
                                    .map(|p| SslProtocol::from(p.as_str()))
                                    .collect(),
                            ))
                            .build(),
                    )?)
                    .build(),
            )?),
            // An S3 origin: with an OAC the identity stays empty.
            None => {
                o.s3_origin_config(S3OriginConfig::builder().origin_access_identity("").build())
            }
        };
        built(o.build())
    }

    fn from_live(o: &CfOrigin, declared: Option<&Origin>) -> Origin {
        Origin {
            origin_id: o.id().to_string(),
            domain_name: Input::Value(o.domain_name().to_string()),
            origin_path: o.origin_path().unwrap_or_default().to_string(),
            origin_access_control_id: o
                .origin_access_control_id()
                .filter(|id| !id.is_empty())
                .map(|id| Input::Value(id.to_string())),
            custom_origin_config: o.custom_origin_config().map(|c| {
                let live: Vec<String> = c
                    .origin_ssl_protocols()
                    .map(|p| p.items().iter().map(|p| p.as_str().to_string()).collect())
                    .unwrap_or_default();
                let d = declared
                    .and_then(|d| d.custom_origin_config.as_ref())
                    .map(|d| d.origin_ssl_protocols.as_slice())
                    .unwrap_or_default();
                CustomOriginConfig {
                    http_port: c.http_port(),
                    https_port: c.https_port(),
                    origin_protocol_policy: c.origin_protocol_policy().as_str().to_string(),
                    origin_ssl_protocols: as_declared(live, d),
                }
            }),
        }
    }
}

impl Distribution {
    /// The configuration CloudFront stores, under `caller_reference`.
    fn config(&self, caller_reference: &str) -> Result<DistributionConfig, ProviderError> {
        let origins = self
            .origins
            .iter()
            .enumerate()
            .map(|(i, o)| o.to_origin(i))
            .collect::<Result<Vec<_>, _>>()?;
        let ordered = self
            .ordered_cache_behaviors
            .iter()
            .map(CacheBehavior::to_ordered)
            .collect::<Result<Vec<_>, _>>()?;
        let errors = self
            .custom_error_responses
            .iter()
            .map(|e| {
                built(
                    CfErrorResponse::builder()
                        .error_code(e.error_code)
                        .set_response_code(e.response_code.map(|c| c.to_string()))
                        .set_response_page_path(
                            Some(e.response_page_path.clone()).filter(|p| !p.is_empty()),
                        )
                        .error_caching_min_ttl(e.error_caching_min_ttl)
                        .build(),
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        let vc = &self.viewer_certificate;
        let cert = if vc.cloudfront_default_certificate {
            CfViewerCertificate::builder()
                .cloud_front_default_certificate(true)
                .build()
        } else {
            let arn = match &vc.acm_certificate_arn {
                Some(a) => Some(a.require("viewer_certificate.acm_certificate_arn")?.clone()),
                None => None,
            };
            CfViewerCertificate::builder()
                .cloud_front_default_certificate(false)
                .set_acm_certificate_arn(arn)
                .ssl_support_method(SslSupportMethod::from(vc.ssl_support_method.as_str()))
                .minimum_protocol_version(MinimumProtocolVersion::from(
                    vc.minimum_protocol_version.as_str(),
                ))
                .build()
        };
        let geo = &self.restrictions.geo_restriction;
        let restrictions = CfRestrictions::builder()
            .geo_restriction(built(
                CfGeoRestriction::builder()
                    .restriction_type(GeoRestrictionType::from(geo.restriction_type.as_str()))
                    .quantity(geo.locations.len() as i32)
                    .set_items(Some(geo.locations.clone()).filter(|l| !l.is_empty()))
                    .build(),
            )?)
            .build();
        built(
            DistributionConfig::builder()
                .caller_reference(caller_reference)
                .enabled(self.enabled)
                .comment(&self.comment)
                .aliases(built(
                    Aliases::builder()
                        .quantity(self.aliases.len() as i32)
                        .set_items(Some(self.aliases.clone()).filter(|a| !a.is_empty()))
                        .build(),
                )?)
                .default_root_object(&self.default_root_object)
                .price_class(PriceClass::from(self.price_class.as_str()))
                .http_version(HttpVersion::from(self.http_version.as_str()))
                .is_ipv6_enabled(self.is_ipv6_enabled)
                .origins(built(
                    Origins::builder()
                        .quantity(origins.len() as i32)
                        .set_items(Some(origins))
                        .build(),
                )?)
                .default_cache_behavior(self.default_cache_behavior.to_default()?)
                .cache_behaviors(built(
                    CacheBehaviors::builder()
                        .quantity(ordered.len() as i32)
                        .set_items(Some(ordered).filter(|o| !o.is_empty()))
                        .build(),
                )?)
                .custom_error_responses(built(
                    CustomErrorResponses::builder()
                        .quantity(errors.len() as i32)
                        .set_items(Some(errors).filter(|e| !e.is_empty()))
                        .build(),
                )?)
                .viewer_certificate(cert)
                .restrictions(restrictions)
                .build(),
        )
    }

    /// The declaration's terms of a live configuration; sets in the declared
    /// order when they are equal (CloudFront does not keep it).
    fn from_config(c: &DistributionConfig, declared: &Distribution, tags: Tags) -> Distribution {
        let origins = c
            .origins()
            .map(|o| o.items())
            .unwrap_or_default()
            .iter()
            .map(|o| {
                let d = declared.origins.iter().find(|d| d.origin_id == o.id());
                Origin::from_live(o, d)
            })
            .collect();
        let default_cache_behavior = c
            .default_cache_behavior()
            .map(|b| {
                CacheBehavior::from_live(
                    "",
                    b.target_origin_id(),
                    b.viewer_protocol_policy().as_str(),
                    b.allowed_methods(),
                    b.compress(),
                    b.forwarded_values(),
                    (b.min_ttl(), b.default_ttl(), b.max_ttl()),
                    b.response_headers_policy_id(),
                    Some(&declared.default_cache_behavior),
                )
            })
            .unwrap_or_default();
        let ordered_cache_behaviors = c
            .cache_behaviors()
            .map(|b| b.items())
            .unwrap_or_default()
            .iter()
            .map(|b| {
                let d = declared
                    .ordered_cache_behaviors
                    .iter()
                    .find(|d| d.path_pattern == b.path_pattern());
                CacheBehavior::from_live(
                    b.path_pattern(),
                    b.target_origin_id(),
                    b.viewer_protocol_policy().as_str(),
                    b.allowed_methods(),
                    b.compress(),
                    b.forwarded_values(),
                    (b.min_ttl(), b.default_ttl(), b.max_ttl()),
                    b.response_headers_policy_id(),
                    d,
                )
            })
            .collect();
        let custom_error_responses = c
            .custom_error_responses()
            .map(|e| e.items())
            .unwrap_or_default()
            .iter()
            .map(|e| CustomErrorResponse {
                error_code: e.error_code(),
                response_code: e
                    .response_code()
                    .filter(|c| !c.is_empty())
                    .and_then(|c| c.parse().ok()),
                response_page_path: e.response_page_path().unwrap_or_default().to_string(),
                error_caching_min_ttl: e.error_caching_min_ttl().unwrap_or(10),
            })
            .collect();
        let viewer_certificate = match c.viewer_certificate() {
            Some(v) if v.cloud_front_default_certificate() == Some(true) => {
                ViewerCertificate::default()
            }
            Some(v) => ViewerCertificate {
                cloudfront_default_certificate: false,
                acm_certificate_arn: v
                    .acm_certificate_arn()
                    .filter(|a| !a.is_empty())
                    .map(|a| Input::Value(a.to_string())),
                ssl_support_method: v
                    .ssl_support_method()
                    .map(|m| m.as_str().to_string())
                    .unwrap_or_default(),
                minimum_protocol_version: v
                    .minimum_protocol_version()
                    .map(|m| m.as_str().to_string())
                    .unwrap_or_default(),
            },
            None => ViewerCertificate::default(),
        };
        let geo = c.restrictions().and_then(|r| r.geo_restriction());
        let restrictions = Restrictions {
            geo_restriction: GeoRestriction {
                restriction_type: geo
                    .map(|g| g.restriction_type().as_str().to_string())
                    .unwrap_or_else(|| "none".into()),
                locations: as_declared(
                    geo.map(|g| g.items().to_vec()).unwrap_or_default(),
                    &declared.restrictions.geo_restriction.locations,
                ),
            },
        };
        Distribution {
            enabled: c.enabled(),
            comment: c.comment().to_string(),
            aliases: c.aliases().map(|a| a.items().to_vec()).unwrap_or_default(),
            default_root_object: c.default_root_object().unwrap_or_default().to_string(),
            price_class: c
                .price_class()
                .map(|p| p.as_str().to_string())
                .unwrap_or_default(),
            http_version: c
                .http_version()
                .map(|h| h.as_str().to_string())
                .unwrap_or_default(),
            is_ipv6_enabled: c.is_ipv6_enabled().unwrap_or(false),
            origins,
            default_cache_behavior,
            ordered_cache_behaviors,
            custom_error_responses,
            viewer_certificate,
            restrictions,
            // Not an AWS setting: the schema keeps the declared value.
            wait_for_deployment: true,
            tags,
        }
    }

    /// CreateDistribution's idempotency token, from the URN tag (state
    /// lineage included) and the configuration. AWS answers a repeated
    /// CallerReference with the same configuration by returning the
    /// distribution it made the first time (an SDK resend is harmless) and
    /// with another configuration by `DistributionAlreadyExists`, which
    /// `create` settles by the URN tag of the distribution it names.
    fn caller_reference(&self, urn_tag: &str) -> String {
        let declared = serde_json::to_string(self).expect("inputs serialise");
        let digest = Sha256::digest(format!("{urn_tag}\n{declared}").as_bytes());
        format!("morket-{}", &hex::encode(digest)[..40])
    }

    /// Whether anything but tags and `wait_for_deployment` differs: only
    /// then does the configuration need an UpdateDistribution.
    fn config_differs(&self, other: &Distribution) -> bool {
        let strip = |d: &Distribution| Distribution {
            tags: Tags::new(),
            wait_for_deployment: true,
            ..d.clone()
        };
        strip(self) != strip(other)
    }
}

/// The distribution and its current ETag; `None` when it is gone.
async fn get(
    cx: &Call<'_, CloudFront>,
    id: &str,
) -> Result<Option<(CfDistribution, String)>, ProviderError> {
    let out = found(
        cx.try_send("GetDistribution", |c| c.get_distribution().id(id).send())
            .await,
    )?;
    Ok(out.and_then(|o| {
        let etag = o.e_tag().unwrap_or_default().to_string();
        o.distribution.map(|d| (d, etag))
    }))
}

/// Polls until the distribution's last change is `Deployed` (Terraform:
/// first poll after a minute; 90 minutes at most, here `wait_timeout`).
async fn wait_deployed(
    cx: &Call<'_, CloudFront>,
    id: &str,
    after_create: bool,
) -> Result<(), ProviderError> {
    let mut w = Wait::new("CloudFront distribution", &["InProgress"], &["Deployed"])
        .after_modify(Duration::from_secs(60), 1);
    if after_create {
        w = w.after_create();
    }
    w.until(cx.settings(), || async {
        Ok(match get(cx, id).await? {
            Some((d, _)) => Seen::State(d.status().to_string(), ()),
            None => Seen::Gone,
        })
    })
    .await
}

/// The id in `DistributionAlreadyExists`' message ("... Already exists: ID").
fn existing_id(message: &str) -> Option<&str> {
    message
        .rsplit_once("exists: ")
        .map(|(_, id)| id.trim().trim_end_matches('.'))
        .filter(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric()))
}

async fn carries_urn(cx: &Call<'_, CloudFront>, arn: &str) -> Result<bool, ProviderError> {
    let tags = live_tags(cx, arn).await?;
    Ok(tags.get(URN_TAG).is_some_and(|v| cx.ctx.urn_tag_matches(v)))
}

#[async_trait]
impl AwsResource for Distribution {
    type Service = CloudFront;
    const SCHEMA: Schema = Schema {
        // Terraform: `forwarded_values { cookies { forward = "none" } }`.
        tf_values: &[
            (
                "default_cache_behavior.forwarded_values.cookies",
                Conv::Nest("forward"),
            ),
            (
                "ordered_cache_behaviors.forwarded_values.cookies",
                Conv::Nest("forward"),
            ),
        ],
        computed_on_update: &["etag", "status"],
        write_only: &["wait_for_deployment"],
        normalize: &[
            ("aliases", Norm::Set),
            ("custom_error_responses", Norm::Set),
        ],
        terraform: &[Tf {
            resource: "aws_cloudfront_distribution",
            args: &[
                ("enabled", "enabled"),
                ("comment", "comment"),
                ("aliases", "aliases"),
                ("default_root_object", "default_root_object"),
                ("price_class", "price_class"),
                ("http_version", "http_version"),
                ("is_ipv6_enabled", "is_ipv6_enabled"),
                ("origins", "origin"),
                ("default_cache_behavior", "default_cache_behavior"),
                ("ordered_cache_behaviors", "ordered_cache_behavior"),
                ("custom_error_responses", "custom_error_response"),
                ("viewer_certificate", "viewer_certificate"),
                ("restrictions", "restrictions"),
                ("wait_for_deployment", "wait_for_deployment"),
                ("tags", "tags"),
            ],
            import_id: "{id}",
        }],
        ..Schema::NONE
    };

    fn check(&self) -> Result<(), ProviderError> {
        if self.comment.chars().count() > 128 {
            return Err(ProviderError::invalid(
                "comment",
                format!("{:?}", self.comment),
                "at most 128 characters",
            ));
        }
        if self.default_root_object.starts_with('/') {
            return Err(ProviderError::invalid(
                "default_root_object",
                format!("{:?}", self.default_root_object),
                "an object name without a leading /",
            ));
        }
        one_of("price_class", &self.price_class, PRICE_CLASSES)?;
        one_of("http_version", &self.http_version, HTTP_VERSIONS)?;

        if self.origins.is_empty() {
            return Err(ProviderError::invalid(
                "origins",
                "[]",
                "at least one origin",
            ));
        }
        let mut ids: Vec<&str> = Vec::new();
        for (i, o) in self.origins.iter().enumerate() {
            if o.origin_id.is_empty() || ids.contains(&o.origin_id.as_str()) {
                return Err(ProviderError::invalid(
                    &format!("origins[{i}].origin_id"),
                    format!("{:?}", o.origin_id),
                    "origin ids must be unique and not empty",
                ));
            }
            ids.push(&o.origin_id);
            if o.domain_name.known().is_some_and(|d| d.is_empty()) {
                return Err(ProviderError::invalid(
                    &format!("origins[{i}].domain_name"),
                    "\"\"",
                    "a domain name is required",
                ));
            }
            if !o.origin_path.is_empty()
                && (!o.origin_path.starts_with('/') || o.origin_path.ends_with('/'))
            {
                return Err(ProviderError::invalid(
                    &format!("origins[{i}].origin_path"),
                    format!("{:?}", o.origin_path),
                    "starts with / and does not end with /",
                ));
            }
            if let Some(c) = &o.custom_origin_config {
                let f = |n: &str| format!("origins[{i}].custom_origin_config.{n}");
                in_range(&f("http_port"), c.http_port, 1..=65535)?;
                in_range(&f("https_port"), c.https_port, 1..=65535)?;
                one_of(
                    &f("origin_protocol_policy"),
                    &c.origin_protocol_policy,
                    ORIGIN_POLICIES,
                )?;
                if c.origin_ssl_protocols.is_empty() {
                    return Err(ProviderError::invalid(
                        &f("origin_ssl_protocols"),
                        "[]",
                        "at least one protocol",
                    ));
                }
                for p in &c.origin_ssl_protocols {
                    one_of(&f("origin_ssl_protocols"), p, ORIGIN_SSL)?;
                }
            }
        }

        if !self.default_cache_behavior.path_pattern.is_empty() {
            return Err(ProviderError::invalid(
                "default_cache_behavior.path_pattern",
                format!("{:?}", self.default_cache_behavior.path_pattern),
                "the default behavior has no path pattern",
            ));
        }
        self.default_cache_behavior
            .check("default_cache_behavior", &ids)?;
        let mut patterns: Vec<&str> = Vec::new();
        for (i, b) in self.ordered_cache_behaviors.iter().enumerate() {
            let field = format!("ordered_cache_behaviors[{i}]");
            if b.path_pattern.is_empty() || patterns.contains(&b.path_pattern.as_str()) {
                return Err(ProviderError::invalid(
                    &format!("{field}.path_pattern"),
                    format!("{:?}", b.path_pattern),
                    "path patterns must be unique and not empty",
                ));
            }
            patterns.push(&b.path_pattern);
            b.check(&field, &ids)?;
        }

        let mut codes: Vec<i32> = Vec::new();
        for (i, e) in self.custom_error_responses.iter().enumerate() {
            let f = |n: &str| format!("custom_error_responses[{i}].{n}");
            if !ERROR_CODES.contains(&e.error_code) || codes.contains(&e.error_code) {
                return Err(ProviderError::invalid(
                    &f("error_code"),
                    e.error_code,
                    format!("must be one of {ERROR_CODES:?}, each once"),
                ));
            }
            codes.push(e.error_code);
            if let Some(c) = e.response_code {
                if !RESPONSE_CODES.contains(&c) {
                    return Err(ProviderError::invalid(
                        &f("response_code"),
                        c,
                        format!("must be one of {RESPONSE_CODES:?}"),
                    ));
                }
            }
            let has_page = !e.response_page_path.is_empty();
            if e.response_code.is_some() != has_page {
                return Err(ProviderError::invalid(
                    &f("response_page_path"),
                    format!("{:?}", e.response_page_path),
                    "response_code and response_page_path are set together",
                ));
            }
            if !e.response_page_path.is_empty() && !e.response_page_path.starts_with('/') {
                return Err(ProviderError::invalid(
                    &f("response_page_path"),
                    format!("{:?}", e.response_page_path),
                    "must start with /",
                ));
            }
            in_range(
                &f("error_caching_min_ttl"),
                e.error_caching_min_ttl,
                0..=i64::MAX,
            )?;
        }

        let vc = &self.viewer_certificate;
        if vc.cloudfront_default_certificate {
            if let Some(a) = &vc.acm_certificate_arn {
                return Err(ProviderError::invalid(
                    "viewer_certificate.acm_certificate_arn",
                    format!(
                        "{:?}",
                        a.known().map_or("(known after apply)", |s| s.as_str())
                    ),
                    "set cloudfront_default_certificate = false to use a certificate",
                ));
            }
            for (n, v) in [
                ("ssl_support_method", &vc.ssl_support_method),
                ("minimum_protocol_version", &vc.minimum_protocol_version),
            ] {
                if !v.is_empty() {
                    return Err(ProviderError::invalid(
                        &format!("viewer_certificate.{n}"),
                        format!("{v:?}"),
                        "CloudFront fixes it for its default certificate; leave it empty",
                    ));
                }
            }
            if let Some(a) = self.aliases.first() {
                return Err(ProviderError::invalid(
                    "aliases",
                    format!("{a:?}"),
                    "aliases need a certificate of their own (viewer_certificate.acm_certificate_arn)",
                ));
            }
        } else {
            let Some(arn) = &vc.acm_certificate_arn else {
                return Err(ProviderError::invalid(
                    "viewer_certificate.acm_certificate_arn",
                    "null",
                    "a certificate ARN is required without the default certificate",
                ));
            };
            if let Some(arn) = arn.known() {
                check_arn(
                    "viewer_certificate.acm_certificate_arn",
                    arn,
                    "acm",
                    "certificate/",
                    "an ACM certificate ARN (arn:aws:acm:us-east-1:<account>:certificate/<id>)",
                )?;
                let region = arn.split(':').nth(3).unwrap_or_default();
                if region != "us-east-1" {
                    return Err(ProviderError::invalid(
                        "viewer_certificate.acm_certificate_arn",
                        format!("{arn:?}"),
                        format!("CloudFront takes certificates from us-east-1 only, not {region}"),
                    ));
                }
            }
            one_of(
                "viewer_certificate.ssl_support_method",
                &vc.ssl_support_method,
                SSL_SUPPORT,
            )?;
            one_of(
                "viewer_certificate.minimum_protocol_version",
                &vc.minimum_protocol_version,
                TLS_POLICIES,
            )?;
        }
        for a in &self.aliases {
            let ok = !a.is_empty()
                && a.len() <= 253
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-.*".contains(c));
            if !ok {
                return Err(ProviderError::invalid(
                    "aliases",
                    format!("{a:?}"),
                    "a domain name (letters, digits, '-', '.', a leading '*.')",
                ));
            }
        }

        let geo = &self.restrictions.geo_restriction;
        one_of(
            "restrictions.geo_restriction.restriction_type",
            &geo.restriction_type,
            GEO_TYPES,
        )?;
        if (geo.restriction_type == "none") != geo.locations.is_empty() {
            return Err(ProviderError::invalid(
                "restrictions.geo_restriction.locations",
                format!("{:?}", geo.locations),
                "countries are listed exactly when restriction_type is not \"none\"",
            ));
        }
        for l in &geo.locations {
            if l.len() != 2 || !l.chars().all(|c| c.is_ascii_uppercase()) {
                return Err(ProviderError::invalid(
                    "restrictions.geo_restriction.locations",
                    format!("{l:?}"),
                    "an ISO 3166-1 alpha-2 country code (US, DE)",
                ));
            }
        }
        Ok(())
    }

    async fn create(&self, cx: &Call<'_, CloudFront>) -> Result<String, ProviderError> {
        let config = self.config(&self.caller_reference(&cx.ctx.urn_tag()))?;
        let with_tags = DistributionConfigWithTags::builder()
            .distribution_config(config)
            .tags(to_tags(&cx.all_tags(&self.tags)))
            .build();
        let made = cx
            .try_send_retrying("CreateDistributionWithTags", &[CERT_RETRY], |c| {
                c.create_distribution_with_tags()
                    .distribution_config_with_tags(with_tags.clone())
                    .send()
            })
            .await;
        match made {
            Ok(o) => o
                .distribution()
                .map(|d| d.id().to_string())
                .ok_or_else(|| cx.fatal("CreateDistributionWithTags returned no distribution")),
            // Our own from an earlier attempt with another configuration:
            // carry on with it (the next plan shows the difference).
            Err(f) if f.code == "DistributionAlreadyExists" => {
                let Some(id) = existing_id(&f.message) else {
                    return Err(f.error);
                };
                match get(cx, id).await? {
                    Some((d, _)) if carries_urn(cx, d.arn()).await? => Ok(id.to_string()),
                    _ => Err(f.error),
                }
            }
            Err(f) => Err(f.error),
        }
    }

    async fn after_create(&self, cx: &Call<'_, CloudFront>, id: &str) -> Result<(), ProviderError> {
        if self.wait_for_deployment {
            wait_deployed(cx, id, true).await?;
        }
        Ok(())
    }

    async fn read(
        cx: &Call<'_, CloudFront>,
        id: &str,
        declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError> {
        let Some((d, etag)) = get(cx, id).await? else {
            return Ok(None);
        };
        let Some(config) = d.distribution_config() else {
            return Err(cx.fatal(format!("GetDistribution {id} returned no configuration")));
        };
        let tags = cx.own_tags(&live_tags(cx, d.arn()).await?);
        Ok(Some(Live {
            args: Distribution::from_config(config, declared, tags),
            outputs: json!({
                "id": id,
                "arn": d.arn(),
                "domain_name": d.domain_name(),
                "hosted_zone_id": HOSTED_ZONE_ID,
                "etag": etag,
                "status": d.status(),
            }),
        }))
    }

    async fn update(
        &self,
        old: &Self,
        cx: &Call<'_, CloudFront>,
        id: &str,
    ) -> Result<(), ProviderError> {
        let gone = || ProviderError::NotFound(format!("CloudFront distribution {id}"));
        if self.config_differs(old) {
            let start = Instant::now();
            loop {
                let (d, etag) = get(cx, id).await?.ok_or_else(gone)?;
                let reference = d
                    .distribution_config()
                    .map(|c| c.caller_reference().to_string())
                    .unwrap_or_default();
                let config = self.config(&reference)?;
                let r = cx
                    .try_send_retrying("UpdateDistribution", &[UPDATE_RETRY], |c| {
                        c.update_distribution()
                            .id(id)
                            .if_match(&etag)
                            .distribution_config(config.clone())
                            .send()
                    })
                    .await;
                match r {
                    Ok(_) => break,
                    // Changed since we read the ETag: read it again.
                    Err(f)
                        if f.code == "PreconditionFailed"
                            && start.elapsed() < cx.settings().scaled(RETRY_BUDGET) => {}
                    Err(f) => return Err(f.error),
                }
            }
            if self.wait_for_deployment {
                wait_deployed(cx, id, false).await?;
            }
        }
        if old.tags != self.tags {
            let (d, _) = get(cx, id).await?.ok_or_else(gone)?;
            cx.update_tags(d.arn(), &old.tags, &self.tags).await?;
        }
        Ok(())
    }

    async fn delete(&self, cx: &Call<'_, CloudFront>, id: &str) -> Result<(), ProviderError> {
        // Terraform's order: disable (with the live configuration, whatever
        // it now holds), wait for Deployed, delete naming the new ETag.
        let mut since = Instant::now();
        let mut attempt = 0;
        loop {
            let Some((d, etag)) = get(cx, id).await? else {
                return Ok(());
            };
            let Some(config) = d.distribution_config() else {
                return Err(cx.fatal(format!("GetDistribution {id} returned no configuration")));
            };
            let within = since.elapsed() < cx.settings().scaled(RETRY_BUDGET);
            if config.enabled() {
                let mut off = config.clone();
                off.enabled = false;
                let r = cx
                    .try_send("UpdateDistribution", |c| {
                        c.update_distribution()
                            .id(id)
                            .if_match(&etag)
                            .distribution_config(off.clone())
                            .send()
                    })
                    .await;
                match r {
                    Ok(_) => {}
                    Err(f) if is_gone(&f) => return Ok(()),
                    Err(f) if f.code == "PreconditionFailed" && within => continue,
                    Err(f) => return Err(f.error),
                }
                wait_deployed(cx, id, false).await?;
                since = Instant::now();
                continue;
            }
            if d.status() != "Deployed" {
                wait_deployed(cx, id, false).await?;
                since = Instant::now();
                continue;
            }
            let r = cx
                .try_send("DeleteDistribution", |c| {
                    c.delete_distribution().id(id).if_match(&etag).send()
                })
                .await;
            match r {
                Ok(_) => break,
                Err(f) if is_gone(&f) => return Ok(()),
                // The disable still deploying, or a stale ETag: read again.
                Err(f)
                    if within
                        && [
                            "DistributionNotDisabled",
                            "PreconditionFailed",
                            "InvalidIfMatchVersion",
                        ]
                        .contains(&f.code.as_str()) =>
                {
                    tokio::time::sleep(backoff(cx.settings(), attempt)).await;
                    attempt += 1;
                }
                Err(f) => return Err(f.error),
            }
        }
        Wait::new("CloudFront distribution", &["InProgress", "Deployed"], &[])
            .until_gone(cx.settings(), || async {
                Ok(match get(cx, id).await? {
                    Some((d, _)) => Seen::State(d.status().to_string(), ()),
                    None => Seen::<()>::Gone,
                })
            })
            .await
    }

    async fn find(&self, cx: &Call<'_, CloudFront>) -> Result<Vec<String>, ProviderError> {
        let pages = cx
            .pages(
                "ListDistributions",
                cx.client()
                    .await
                    .list_distributions()
                    .into_paginator()
                    .send(),
            )
            .await?;
        let mut ids = Vec::new();
        for s in pages
            .iter()
            .filter_map(|p| p.distribution_list())
            .flat_map(|l| l.items())
        {
            if carries_urn(cx, s.arn()).await? {
                ids.push(s.id().to_string());
            }
        }
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spa() -> Distribution {
        let mut index = CacheBehavior::to("s3");
        index.path_pattern = "/index.html".into();
        (index.min_ttl, index.default_ttl, index.max_ttl) = (0, 0, 0);
        Distribution {
            aliases: vec!["app.example.com".into()],
            default_root_object: "index.html".into(),
            origins: vec![Origin {
                origin_id: "s3".into(),
                domain_name: "b.s3.us-east-1.amazonaws.com".into(),
                origin_access_control_id: Some("E1OAC".into()),
                ..Default::default()
            }],
            default_cache_behavior: CacheBehavior::to("s3"),
            ordered_cache_behaviors: vec![index],
            custom_error_responses: vec![
                CustomErrorResponse::page(403, 200, "/index.html"),
                CustomErrorResponse::page(404, 200, "/index.html"),
            ],
            viewer_certificate: ViewerCertificate::acm(
                "arn:aws:acm:us-east-1:123456789012:certificate/abc",
            ),
            ..Default::default()
        }
    }

    #[test]
    fn config_reads_back_as_declared() {
        let d = spa();
        d.check().unwrap();
        let c = d.config("ref").unwrap();
        assert_eq!(c.caller_reference(), "ref");
        let back = Distribution::from_config(&c, &d, Tags::new());
        assert_eq!(back, d);
    }

    #[test]
    fn caller_reference_follows_urn_and_configuration() {
        let d = spa();
        let r = d.caller_reference("s::::aws:cloudfront/Distribution::cdn#ab");
        assert!(r.starts_with("morket-") && r.len() <= 128, "{r}");
        assert_eq!(
            r,
            d.caller_reference("s::::aws:cloudfront/Distribution::cdn#ab")
        );
        assert_ne!(
            r,
            d.caller_reference("s::::aws:cloudfront/Distribution::other#ab")
        );
        let mut e = d.clone();
        e.comment = "x".into();
        assert_ne!(
            r,
            e.caller_reference("s::::aws:cloudfront/Distribution::cdn#ab")
        );
    }

    #[test]
    fn the_existing_id_is_the_messages_last_word() {
        let m = "The caller reference that you are using to create a distribution is \
                 associated with another distribution. Already exists: E2ABC123";
        assert_eq!(existing_id(m), Some("E2ABC123"));
        assert_eq!(existing_id("Already exists."), None);
    }
}
