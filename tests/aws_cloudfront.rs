//! aws:cloudfront/OriginAccessControl and aws:cloudfront/Distribution
//! through the engine against moto: the Morket frontend (R10) — an S3 bucket
//! behind an OAC, HTTPS by redirect, 403/404 answered with /index.html,
//! assets cached a day and /index.html not at all, aliases with an ACM
//! certificate from us-east-1 — read back as CloudFront stores it; updates
//! in place; drift; no-op preview; destroy (disable, then delete);
//! validation before any call; interrupted creates found again. What moto
//! cannot show (stale ETags, a delete refused while the disable deploys, an
//! OAC still in use) runs against aws-smithy-mocks. The static site sync
//! (aws:s3/SiteSync) uploads by content hash and invalidates once.
// The TTL accessors are the SDK's legacy (deprecated) cache settings, which
// the distribution type uses on purpose.
#![allow(deprecated)]

mod support;

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use aws_sdk_cloudfront::types::{Method, ViewerProtocolPolicy};
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use morket_stack::model::{HasUrn, Resource, ResourceArgs, Stack, Urn};
use morket_stack::plan::{Action, PlanOptions};
use morket_stack::provider::aws::cloudfront::distribution::{
    CacheBehavior, CustomErrorResponse, CustomOriginConfig, Distribution, Origin,
    ViewerCertificate, HOSTED_ZONE_ID,
};
use morket_stack::provider::aws::cloudfront::origin_access_control::OriginAccessControl;
use morket_stack::provider::aws::s3::bucket::Bucket;
use morket_stack::provider::aws::s3::site_sync::{manifest, SiteSync};
use morket_stack::provider::aws::Aws;
use morket_stack::state::StateStore;
use serde_json::json;
use support::aws::{self as shared, ctx, registry, settings, step, tag_urn, STACK};

const ACCOUNT: &str = "123456789012";
const BUCKET: &str = "morket-frontend-staging";
const ORIGIN: &str = "s3-frontend";

struct Env {
    h: shared::Env,
    cf: aws_sdk_cloudfront::Client,
    acm: aws_sdk_acm::Client,
}

impl Deref for Env {
    type Target = shared::Env;
    fn deref(&self) -> &shared::Env {
        &self.h
    }
}

impl DerefMut for Env {
    fn deref_mut(&mut self) -> &mut shared::Env {
        &mut self.h
    }
}

async fn env() -> Env {
    let h = shared::Env::new(settings()).await;
    let e = Env {
        cf: aws_sdk_cloudfront::Client::new(&h.conf),
        acm: aws_sdk_acm::Client::new(&h.conf),
        h,
    };
    // Seen with moto 5.2.5: when its S3 and CloudFront backends are first
    // used at once (the bucket and the OAC are created in parallel), an S3
    // answer comes back garbled (GetBucketVersioning: an error without a
    // code). Build both backends before the engine runs.
    e.cf.list_distributions().send().await.unwrap();
    let s3 = aws_sdk_s3::config::Builder::from(&e.h.conf)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(s3)
        .list_buckets()
        .send()
        .await
        .unwrap();
    e
}

impl Env {
    /// An ACM certificate for `domain` in us-east-1 (a fixture).
    async fn certificate(&self, domain: &str) -> String {
        self.acm
            .request_certificate()
            .domain_name(domain)
            .send()
            .await
            .unwrap()
            .certificate_arn()
            .unwrap()
            .to_string()
    }

    /// The configuration CloudFront stores, and its ETag.
    async fn config(&self, id: &str) -> (aws_sdk_cloudfront::types::DistributionConfig, String) {
        let o = self
            .cf
            .get_distribution_config()
            .id(id)
            .send()
            .await
            .unwrap();
        (
            o.distribution_config().unwrap().clone(),
            o.e_tag().unwrap().to_string(),
        )
    }

    async fn distributions(&self) -> Vec<String> {
        self.cf
            .list_distributions()
            .send()
            .await
            .unwrap()
            .distribution_list()
            .map(|l| l.items().iter().map(|d| d.id().to_string()).collect())
            .unwrap_or_default()
    }

    async fn oacs(&self) -> Vec<String> {
        self.cf
            .list_origin_access_controls()
            .send()
            .await
            .unwrap()
            .origin_access_control_list()
            .map(|l| l.items().iter().map(|o| o.name().to_string()).collect())
            .unwrap_or_default()
    }

    async fn cf_tags(&self, arn: &str) -> std::collections::BTreeMap<String, String> {
        self.cf
            .list_tags_for_resource()
            .resource(arn)
            .send()
            .await
            .unwrap()
            .tags()
            .map(|t| {
                t.items()
                    .iter()
                    .map(|t| {
                        (
                            t.key().to_string(),
                            t.value().unwrap_or_default().to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The Morket frontend (R10): the bucket, its OAC and the distribution.
struct Site {
    stack: Stack,
    bucket: Resource<Bucket>,
    oac: Resource<OriginAccessControl>,
    cdn: Resource<Distribution>,
}

/// The distribution of R10 over `domain_name` and `oac`.
fn frontend(
    domain_name: impl Into<morket_stack::model::Input<String>>,
    oac: Option<morket_stack::model::Input<String>>,
    cert: &str,
) -> Distribution {
    let mut index = CacheBehavior::to(ORIGIN);
    index.path_pattern = "/index.html".into();
    (index.min_ttl, index.default_ttl, index.max_ttl) = (0, 0, 0);
    let mut d = Distribution {
        comment: "Morket frontend".into(),
        aliases: vec!["app.morket.example".into()],
        default_root_object: "index.html".into(),
        price_class: "PriceClass_100".into(),
        origins: vec![Origin {
            origin_id: ORIGIN.into(),
            domain_name: domain_name.into(),
            origin_access_control_id: oac,
            ..Default::default()
        }],
        default_cache_behavior: CacheBehavior::to(ORIGIN),
        ordered_cache_behaviors: vec![index],
        custom_error_responses: vec![
            CustomErrorResponse::page(403, 200, "/index.html"),
            CustomErrorResponse::page(404, 200, "/index.html"),
        ],
        viewer_certificate: ViewerCertificate::acm(cert),
        ..Default::default()
    };
    d.tags.insert("Name".into(), "frontend".into());
    d
}

fn site(cert: &str, edit: impl FnOnce(&mut OriginAccessControl, &mut Distribution)) -> Site {
    let mut stack = Stack::new(STACK).unwrap();
    let mut root = stack.root();
    let bucket = root.resource("frontend", Bucket::private(BUCKET)).unwrap();
    let mut oac = OriginAccessControl::s3("morket-frontend");
    oac.description = "Morket frontend bucket".into();
    let mut cdn = frontend(bucket.bucket_regional_domain_name(), None, cert);
    edit(&mut oac, &mut cdn);
    let oac = root.resource("frontend", oac).unwrap();
    cdn.origins[0].origin_access_control_id = Some(oac.id().into());
    let cdn = root.resource("frontend", cdn).unwrap();
    Site {
        stack,
        bucket,
        oac,
        cdn,
    }
}

fn methods(m: &[Method]) -> Vec<&str> {
    let mut v: Vec<&str> = m.iter().map(Method::as_str).collect();
    v.sort_unstable();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frontend_distribution_lifecycle() {
    let mut e = env().await;
    let cert = e.certificate("app.morket.example").await;
    let s = site(&cert, |_, _| {});

    // Create: the bucket, then the OAC, then the distribution naming both.
    let plan = e.up_stable(&s.stack).await;
    assert_eq!(plan.counts().create, 3);
    let id = e.id(&s.cdn);
    let oac_id = e.id(&s.oac);
    let out = e.outputs(&s.cdn);
    assert_eq!(
        out["arn"],
        format!("arn:aws:cloudfront::{ACCOUNT}:distribution/{id}")
    );
    assert!(
        out["domain_name"]
            .as_str()
            .unwrap()
            .ends_with(".cloudfront.net"),
        "{out}"
    );
    assert_eq!(out["hosted_zone_id"], HOSTED_ZONE_ID);
    assert_eq!(out["status"], "Deployed", "waited for deployment");
    assert!(!out["etag"].as_str().unwrap().is_empty());

    // As CloudFront stores it.
    let (c, _) = e.config(&id).await;
    assert!(c.enabled());
    assert_eq!(c.comment(), "Morket frontend");
    assert!(c.caller_reference().starts_with("morket-"));
    assert_eq!(c.default_root_object(), Some("index.html"));
    assert_eq!(c.price_class().unwrap().as_str(), "PriceClass_100");
    assert_eq!(c.aliases().unwrap().items(), ["app.morket.example"]);
    let origins = c.origins().unwrap().items();
    assert_eq!(origins.len(), 1);
    assert_eq!(origins[0].id(), ORIGIN);
    assert_eq!(
        origins[0].domain_name(),
        format!("{BUCKET}.s3.us-east-1.amazonaws.com")
    );
    assert_eq!(
        e.outputs(&s.bucket)["bucket_regional_domain_name"],
        origins[0].domain_name(),
        "the bucket's output, resolved"
    );
    // An S3 origin: no custom origin config. (AWS also answers an empty
    // S3OriginConfig, which moto 5.2.5 leaves out.)
    assert!(origins[0].custom_origin_config().is_none());
    // moto 5.2.5 drops OriginAccessControlId from the origin it stores;
    // scripts/moto_server.py keeps it, as AWS does (drift reads it back).
    assert_eq!(
        origins[0].origin_access_control_id().unwrap_or_default(),
        oac_id
    );
    let dcb = c.default_cache_behavior().unwrap();
    assert_eq!(dcb.target_origin_id(), ORIGIN);
    assert_eq!(
        dcb.viewer_protocol_policy(),
        &ViewerProtocolPolicy::RedirectToHttps
    );
    assert_eq!(
        (dcb.min_ttl(), dcb.default_ttl(), dcb.max_ttl()),
        (Some(0), Some(86400), Some(31_536_000))
    );
    assert_eq!(dcb.compress(), Some(true));
    let fv = dcb.forwarded_values().unwrap();
    assert!(!fv.query_string());
    assert_eq!(fv.cookies().unwrap().forward().as_str(), "none");
    let allowed = dcb.allowed_methods().unwrap();
    assert_eq!(methods(allowed.items()), ["GET", "HEAD"]);
    assert_eq!(
        methods(allowed.cached_methods().unwrap().items()),
        ["GET", "HEAD"]
    );
    let ordered = c.cache_behaviors().unwrap().items();
    assert_eq!(ordered.len(), 1);
    assert_eq!(ordered[0].path_pattern(), "/index.html");
    assert_eq!(
        (
            ordered[0].min_ttl(),
            ordered[0].default_ttl(),
            ordered[0].max_ttl()
        ),
        (Some(0), Some(0), Some(0))
    );
    assert_eq!(
        ordered[0].viewer_protocol_policy(),
        &ViewerProtocolPolicy::RedirectToHttps
    );
    let mut errors: Vec<(i32, Option<&str>, Option<&str>)> = c
        .custom_error_responses()
        .unwrap()
        .items()
        .iter()
        .map(|r| (r.error_code(), r.response_code(), r.response_page_path()))
        .collect();
    errors.sort();
    assert_eq!(
        errors,
        [
            (403, Some("200"), Some("/index.html")),
            (404, Some("200"), Some("/index.html"))
        ]
    );
    let vc = c.viewer_certificate().unwrap();
    assert_eq!(vc.acm_certificate_arn(), Some(cert.as_str()));
    assert_eq!(vc.ssl_support_method().unwrap().as_str(), "sni-only");
    assert_eq!(
        vc.minimum_protocol_version().unwrap().as_str(),
        "TLSv1.2_2021"
    );
    assert_eq!(
        c.restrictions()
            .unwrap()
            .geo_restriction()
            .unwrap()
            .restriction_type()
            .as_str(),
        "none"
    );
    let t = e.cf_tags(out["arn"].as_str().unwrap()).await;
    assert_eq!(t["Name"], "frontend");
    assert_eq!(t["Project"], "morket");
    assert_eq!(tag_urn(&t["morket:urn"]), s.cdn.urn().as_str());

    // The OAC as stored.
    let oac =
        e.cf.get_origin_access_control()
            .id(&oac_id)
            .send()
            .await
            .unwrap();
    let oc = oac
        .origin_access_control()
        .unwrap()
        .origin_access_control_config()
        .unwrap();
    assert_eq!(oc.name(), "morket-frontend");
    assert_eq!(oc.description(), Some("Morket frontend bucket"));
    assert_eq!(oc.signing_behavior().as_str(), "always");
    assert_eq!(oc.signing_protocol().as_str(), "sigv4");
    assert_eq!(oc.origin_access_control_origin_type().as_str(), "s3");

    // Update in place: the comment and a TTL; the OAC's description; tags.
    let s2 = site(&cert, |o, d| {
        o.description = "Morket SPA bucket".into();
        d.comment = "Morket frontend (R10)".into();
        d.default_cache_behavior.default_ttl = 3600;
        d.tags.insert("Team".into(), "web".into());
    });
    let plan = e.up_stable(&s2.stack).await;
    assert_eq!(step(&plan, &s.cdn).action, Action::Update);
    assert_eq!(
        step(&plan, &s.cdn).changed,
        vec!["comment", "default_cache_behavior", "tags"]
    );
    assert_eq!(step(&plan, &s.oac).action, Action::Update);
    assert_eq!(e.id(&s.cdn), id, "updated in place");
    let (c2, _) = e.config(&id).await;
    assert_eq!(c2.comment(), "Morket frontend (R10)");
    assert_eq!(
        c2.default_cache_behavior().unwrap().default_ttl(),
        Some(3600)
    );
    assert_eq!(
        c2.caller_reference(),
        c.caller_reference(),
        "same distribution"
    );
    assert_eq!(e.cf_tags(out["arn"].as_str().unwrap()).await["Team"], "web");
    let oc =
        e.cf.get_origin_access_control()
            .id(&oac_id)
            .send()
            .await
            .unwrap();
    assert_eq!(
        oc.origin_access_control()
            .unwrap()
            .origin_access_control_config()
            .unwrap()
            .description(),
        Some("Morket SPA bucket")
    );

    // Drift: a comment changed by hand shows on read; the rest reads back as
    // declared.
    let (mut live, etag) = e.config(&id).await;
    live.comment = "edited by hand".into();
    e.cf.update_distribution()
        .id(&id)
        .if_match(etag)
        .distribution_config(live)
        .send()
        .await
        .unwrap();
    let read = e.read(&s.cdn).await.expect("live");
    let mut expected = e.st.resource(s.cdn.urn()).unwrap().unwrap().inputs;
    expected["comment"] = json!("edited by hand");
    assert_eq!(read, expected);
    let read_oac = e.read(&s.oac).await.expect("live");
    assert_eq!(read_oac["description"], "Morket SPA bucket");

    // The declaration puts it back.
    let plan = e.eng.preview(&s2.stack, &Default::default()).await.unwrap();
    assert!(!plan.has_changes(), "state still holds the declaration");

    // Destroy: the distribution is disabled, then deleted; then the OAC and bucket.
    let (_, report) = e.h.eng.destroy(&s2.stack, &e.h.cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert!(e.distributions().await.is_empty());
    assert!(e.oacs().await.is_empty());
    assert!(e.st.resources().unwrap().is_empty());
}

/// A distribution with nothing to resolve: a load balancer origin.
fn alb_site(comment: &str) -> (Stack, Urn) {
    let mut st = Stack::new(STACK).unwrap();
    let d = Distribution {
        comment: comment.into(),
        origins: vec![Origin {
            origin_id: "alb".into(),
            domain_name: "morket-alb-123.us-east-1.elb.amazonaws.com".into(),
            custom_origin_config: Some(CustomOriginConfig::default()),
            ..Default::default()
        }],
        default_cache_behavior: CacheBehavior {
            allowed_methods: ["GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"]
                .map(String::from)
                .to_vec(),
            default_ttl: 0,
            ..CacheBehavior::to("alb")
        },
        wait_for_deployment: false,
        ..Default::default()
    };
    let u = st.root().resource("api", d).unwrap().urn().clone();
    (st, u)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_origin_reads_back_and_an_interrupted_create_is_found_by_urn() {
    let mut e = env().await;
    let (st, u) = alb_site("api");
    let inputs = st.resources()[0].inputs.clone();
    let made = e.interrupted_create(&u, &inputs).await;
    // The next up finds it by its URN tag: no second distribution.
    let plan = e.up_stable(&st).await;
    assert_eq!(plan.counts().create, 0, "{:?}", plan.steps);
    assert_eq!(e.distributions().await, vec![made.id.clone()]);
    assert_eq!(e.id(&u), made.id);
    assert_eq!(e.find(&u).await, vec![made.id.clone()]);
    let (c, _) = e.config(&made.id).await;
    let o = &c.origins().unwrap().items()[0];
    let co = o.custom_origin_config().unwrap();
    assert_eq!((co.http_port(), co.https_port()), (80, 443));
    assert_eq!(co.origin_protocol_policy().as_str(), "https-only");
    assert_eq!(
        co.origin_ssl_protocols()
            .unwrap()
            .items()
            .iter()
            .map(|p| p.as_str())
            .collect::<Vec<_>>(),
        ["TLSv1.2"]
    );
    assert_eq!(
        methods(
            c.default_cache_behavior()
                .unwrap()
                .allowed_methods()
                .unwrap()
                .items()
        ),
        ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"]
    );
    // Every input reads back as declared (the custom origin keeps nothing moto drops).
    let read = e.read(&u).await.expect("live");
    assert_eq!(read, e.st.resource(&u).unwrap().unwrap().inputs);

    // A retried create (the same request again) carries on with our own.
    let p = e.reg.get(Distribution::TYPE).unwrap();
    let again = p.create(&ctx(&u), &inputs).await.unwrap();
    assert_eq!(again.id, made.id);
    // Another resource's URN does not find it.
    let other = ctx(&Urn::new(STACK, "", Distribution::TYPE, "other"));
    assert!(p.find_by_urn(&other, &inputs).await.unwrap().is_empty());

    let (_, report) = e.h.eng.destroy(&st, &e.h.cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert!(e.distributions().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_oac_create_is_found_by_name_and_configuration() {
    let mut e = env().await;
    let mut st = Stack::new(STACK).unwrap();
    let u = st
        .root()
        .resource("frontend", OriginAccessControl::s3("morket-oac"))
        .unwrap()
        .urn()
        .clone();
    let inputs = st.resources()[0].inputs.clone();
    let made = e.interrupted_create(&u, &inputs).await;
    let plan = e.up_stable(&st).await;
    assert_eq!(plan.counts().create, 0, "{:?}", plan.steps);
    assert_eq!(e.id(&u), made.id);
    assert_eq!(e.oacs().await, vec!["morket-oac".to_string()]);
    // A same-named OAC configured otherwise is not ours.
    let p = e.reg.get(OriginAccessControl::TYPE).unwrap();
    let mut other = OriginAccessControl::s3("morket-oac");
    other.signing_behavior = "no-override".into();
    let other = serde_json::to_value(other).unwrap();
    assert!(p.find_by_urn(&ctx(&u), &other).await.unwrap().is_empty());
}

// ---------------------------------------------------------------- validation

async fn preview_error(d: impl ResourceArgs) -> String {
    shared::preview_error(&mut shared::offline_engine(settings()), d).await
}

const CERT: &str = "arn:aws:acm:us-east-1:123456789012:certificate/abc";

#[tokio::test]
async fn validation_names_field_and_value_before_any_call() {
    let d = || frontend("b.s3.us-east-1.amazonaws.com", None, CERT);
    let cases: Vec<(Distribution, &str, &str)> = vec![
        (
            {
                let mut x = d();
                x.default_cache_behavior.target_origin_id = "nope".into();
                x
            },
            "default_cache_behavior.target_origin_id",
            "nope",
        ),
        (
            {
                let mut x = d();
                x.ordered_cache_behaviors[0].target_origin_id = "gone".into();
                x
            },
            "ordered_cache_behaviors[0].target_origin_id",
            "gone",
        ),
        (
            {
                let mut x = d();
                let o = x.origins[0].clone();
                x.origins.push(o);
                x
            },
            "origins[1].origin_id",
            ORIGIN,
        ),
        (
            {
                let mut x = d();
                x.viewer_certificate = ViewerCertificate::default();
                x
            },
            "aliases",
            "app.morket.example",
        ),
        (
            {
                let mut x = d();
                x.viewer_certificate =
                    ViewerCertificate::acm("arn:aws:acm:eu-west-1:123456789012:certificate/abc");
                x
            },
            "viewer_certificate.acm_certificate_arn",
            "eu-west-1",
        ),
        (
            {
                let mut x = d();
                x.default_cache_behavior.default_ttl = 10;
                x.default_cache_behavior.min_ttl = 60;
                x
            },
            "default_cache_behavior.default_ttl",
            "10",
        ),
        (
            {
                let mut x = d();
                x.ordered_cache_behaviors[0].max_ttl = -1;
                x
            },
            "ordered_cache_behaviors[0].max_ttl",
            "-1",
        ),
        (
            {
                let mut x = d();
                x.custom_error_responses[0].error_code = 418;
                x
            },
            "custom_error_responses[0].error_code",
            "418",
        ),
        (
            {
                let mut x = d();
                x.default_cache_behavior.viewer_protocol_policy = "http-only".into();
                x
            },
            "default_cache_behavior.viewer_protocol_policy",
            "http-only",
        ),
        (
            {
                let mut x = d();
                x.price_class = "PriceClass_300".into();
                x
            },
            "price_class",
            "PriceClass_300",
        ),
        (
            {
                let mut x = d();
                x.default_cache_behavior.allowed_methods = vec!["GET".into(), "POST".into()];
                x
            },
            "default_cache_behavior.allowed_methods",
            "POST",
        ),
    ];
    for (x, field, value) in cases {
        let msg = preview_error(x).await;
        assert!(msg.contains(field) && msg.contains(value), "{field}: {msg}");
    }
    let mut o = OriginAccessControl::s3("frontend");
    o.signing_behavior = "sometimes".into();
    let msg = preview_error(o).await;
    assert!(
        msg.contains("signing_behavior") && msg.contains("sometimes"),
        "{msg}"
    );
    let msg = preview_error(OriginAccessControl::s3("")).await;
    assert!(msg.contains("name"), "{msg}");
}

// ---------------------------------------------------------------- mocks

// moto ignores IfMatch and deletes at once, so the ETag races and waits
// Terraform's provider retries are played with aws-smithy-mocks.

use aws_sdk_cloudfront::operation::delete_distribution::DeleteDistributionError;
use aws_sdk_cloudfront::operation::delete_origin_access_control::DeleteOriginAccessControlError;
use aws_sdk_cloudfront::operation::update_distribution::UpdateDistributionError;
use aws_sdk_cloudfront::types::error::{
    DistributionNotDisabled, OriginAccessControlInUse, PreconditionFailed,
};

const DIST_ID: &str = "E2MOCKED";

/// What AWS's error answer carries: the code the provider decides on.
fn meta(code: &str) -> aws_smithy_types::error::ErrorMetadata {
    aws_smithy_types::error::ErrorMetadata::builder()
        .code(code)
        .message("mocked")
        .build()
}

/// A GetDistribution answer for the distribution of [`alb_site`], `enabled`
/// and in `status`, at ETag `etag`.
fn mocked_get(
    enabled: bool,
    status: &str,
    etag: &str,
) -> aws_sdk_cloudfront::operation::get_distribution::GetDistributionOutput {
    let (st, _) = alb_site("api");
    let d: Distribution = serde_json::from_value(st.resources()[0].inputs.clone()).unwrap();
    let mut config = to_config(&d);
    config.enabled = enabled;
    aws_sdk_cloudfront::operation::get_distribution::GetDistributionOutput::builder()
        .distribution(
            aws_sdk_cloudfront::types::Distribution::builder()
                .id(DIST_ID)
                .arn(format!(
                    "arn:aws:cloudfront::{ACCOUNT}:distribution/{DIST_ID}"
                ))
                .status(status)
                .domain_name("d1.cloudfront.net")
                .last_modified_time(aws_smithy_types::DateTime::from_secs(0))
                .in_progress_invalidation_batches(0)
                .distribution_config(config)
                .build()
                .unwrap(),
        )
        .e_tag(etag)
        .build()
}

/// The configuration the provider sends for `d`, as moto stores it: made by
/// a create against a mocked client that records the request.
fn to_config(d: &Distribution) -> aws_sdk_cloudfront::types::DistributionConfig {
    let origin = aws_sdk_cloudfront::types::Origin::builder()
        .id("alb")
        .domain_name(d.origins[0].domain_name.known().unwrap())
        .build()
        .unwrap();
    aws_sdk_cloudfront::types::DistributionConfig::builder()
        .caller_reference("morket-x")
        .comment(&d.comment)
        .enabled(d.enabled)
        .origins(
            aws_sdk_cloudfront::types::Origins::builder()
                .quantity(1)
                .items(origin)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
}

fn mocked_registry(client: aws_sdk_cloudfront::Client) -> morket_stack::provider::Registry {
    registry(Arc::new(Aws::new(settings()).with_cloudfront(client)))
}

#[tokio::test]
async fn delete_disables_waits_then_retries_until_the_disable_has_deployed() {
    // GetDistribution: enabled; after the disable InProgress, then Deployed
    // (for the wait); the first delete is refused, the second succeeds, then
    // the distribution is gone.
    let get = mock!(aws_sdk_cloudfront::Client::get_distribution)
        .sequence()
        .output(|| mocked_get(true, "Deployed", "E1"))
        .output(|| mocked_get(false, "InProgress", "E2"))
        .output(|| mocked_get(false, "Deployed", "E2"))
        .output(|| mocked_get(false, "Deployed", "E2"))
        .output(|| mocked_get(false, "Deployed", "E2"))
        .error(|| {
            aws_sdk_cloudfront::operation::get_distribution::GetDistributionError::NoSuchDistribution(
                aws_sdk_cloudfront::types::error::NoSuchDistribution::builder()
                    .meta(meta("NoSuchDistribution"))
                    .build(),
            )
        })
        .build();
    let update = mock!(aws_sdk_cloudfront::Client::update_distribution)
        .match_requests(|r| {
            r.if_match() == Some("E1") && r.distribution_config().is_some_and(|c| !c.enabled())
        })
        .then_output(|| {
            aws_sdk_cloudfront::operation::update_distribution::UpdateDistributionOutput::builder()
                .build()
        });
    let delete = mock!(aws_sdk_cloudfront::Client::delete_distribution)
        .match_requests(|r| r.if_match() == Some("E2"))
        .sequence()
        .error(|| {
            DeleteDistributionError::DistributionNotDisabled(
                DistributionNotDisabled::builder()
                    .meta(meta("DistributionNotDisabled"))
                    .build(),
            )
        })
        .output(|| {
            aws_sdk_cloudfront::operation::delete_distribution::DeleteDistributionOutput::builder()
                .build()
        })
        .build();
    let client = mock_client!(
        aws_sdk_cloudfront,
        RuleMode::MatchAny,
        &[&get, &update, &delete]
    );
    let reg = mocked_registry(client);
    let (st, u) = alb_site("api");
    reg.get(Distribution::TYPE)
        .unwrap()
        .delete(&ctx(&u), DIST_ID, &st.resources()[0].inputs, &json!({}))
        .await
        .unwrap();
    assert_eq!(update.num_calls(), 1, "disabled once");
    assert_eq!(delete.num_calls(), 2, "refused once while deploying");
}

#[tokio::test]
async fn an_update_with_a_stale_etag_reads_it_again() {
    let get = mock!(aws_sdk_cloudfront::Client::get_distribution)
        .sequence()
        .output(|| mocked_get(true, "Deployed", "E1"))
        .output(|| mocked_get(true, "Deployed", "E2"))
        .build();
    let stale = mock!(aws_sdk_cloudfront::Client::update_distribution)
        .match_requests(|r| r.if_match() == Some("E1"))
        .then_error(|| {
            UpdateDistributionError::PreconditionFailed(
                PreconditionFailed::builder()
                    .meta(meta("PreconditionFailed"))
                    .build(),
            )
        });
    let fresh = mock!(aws_sdk_cloudfront::Client::update_distribution)
        .match_requests(|r| {
            r.if_match() == Some("E2")
                && r.distribution_config()
                    .is_some_and(|c| c.comment() == "api v2" && c.caller_reference() == "morket-x")
        })
        .then_output(|| {
            aws_sdk_cloudfront::operation::update_distribution::UpdateDistributionOutput::builder()
                .build()
        });
    let read = mock!(aws_sdk_cloudfront::Client::get_distribution)
        .then_output(|| mocked_get(true, "Deployed", "E3"));
    let tags = mock!(aws_sdk_cloudfront::Client::list_tags_for_resource).then_output(|| {
        aws_sdk_cloudfront::operation::list_tags_for_resource::ListTagsForResourceOutput::builder()
            .tags(aws_sdk_cloudfront::types::Tags::builder().build())
            .build()
    });
    let client = mock_client!(
        aws_sdk_cloudfront,
        RuleMode::MatchAny,
        &[&get, &stale, &fresh, &read, &tags]
    );
    let reg = mocked_registry(client);
    let (old, u) = alb_site("api");
    let (new, _) = alb_site("api v2");
    reg.get(Distribution::TYPE)
        .unwrap()
        .update(
            &ctx(&u),
            DIST_ID,
            &old.resources()[0].inputs,
            &new.resources()[0].inputs,
            &json!({}),
        )
        .await
        .unwrap();
    assert_eq!(stale.num_calls(), 1);
    assert_eq!(fresh.num_calls(), 1, "sent again with the new ETag");
}

#[tokio::test]
async fn an_oac_still_in_use_is_deleted_once_it_is_free() {
    let get = mock!(aws_sdk_cloudfront::Client::get_origin_access_control).then_output(|| {
        aws_sdk_cloudfront::operation::get_origin_access_control::GetOriginAccessControlOutput::builder()
            .origin_access_control(
                aws_sdk_cloudfront::types::OriginAccessControl::builder()
                    .id("OAC1")
                    .origin_access_control_config(
                        aws_sdk_cloudfront::types::OriginAccessControlConfig::builder()
                            .name("frontend")
                            .signing_protocol("sigv4".into())
                            .signing_behavior("always".into())
                            .origin_access_control_origin_type("s3".into())
                            .build()
                            .unwrap(),
                    )
                    .build()
                    .unwrap(),
            )
            .e_tag("E1")
            .build()
    });
    let delete = mock!(aws_sdk_cloudfront::Client::delete_origin_access_control)
        .match_requests(|r| r.if_match() == Some("E1"))
        .sequence()
        .error(|| {
            DeleteOriginAccessControlError::OriginAccessControlInUse(
                OriginAccessControlInUse::builder()
                    .meta(meta("OriginAccessControlInUse"))
                    .build(),
            )
        })
        .times(2)
        .output(|| {
            aws_sdk_cloudfront::operation::delete_origin_access_control::DeleteOriginAccessControlOutput::builder()
                .build()
        })
        .build();
    let client = mock_client!(aws_sdk_cloudfront, RuleMode::MatchAny, &[&get, &delete]);
    let reg = mocked_registry(client);
    let u = Urn::new(STACK, "", OriginAccessControl::TYPE, "frontend");
    reg.get(OriginAccessControl::TYPE)
        .unwrap()
        .delete(
            &ctx(&u),
            "OAC1",
            &serde_json::to_value(OriginAccessControl::s3("frontend")).unwrap(),
            &json!({}),
        )
        .await
        .unwrap();
    assert_eq!(delete.num_calls(), 3);
}

/// AWS's managed security headers on every behavior: the policy looked up
/// by name (moto lacks ListResponseHeadersPolicies; moto_server.py answers
/// AWS's managed list, and the paging path runs against recorded answers
/// below), its id on the default and the ordered behavior, read back with no
/// change, then taken off one behavior in place. An unknown name fails the
/// preview naming the field and value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_headers_policy_looked_up_and_attached() {
    use morket_stack::provider::aws::cloudfront::get_response_headers_policy::GetResponseHeadersPolicy;

    let mut e = env().await;
    let cert = e.certificate("app.morket.example").await;
    let stack = |name: &str, on_index: bool| {
        let mut stack = Stack::new(STACK).unwrap();
        let mut root = stack.root();
        let headers = root
            .resource("headers", GetResponseHeadersPolicy::named(name))
            .unwrap();
        let bucket = root.resource("frontend", Bucket::private(BUCKET)).unwrap();
        let mut d = frontend(bucket.bucket_regional_domain_name(), None, &cert);
        d.default_cache_behavior.response_headers_policy_id = Some(headers.id().into());
        if on_index {
            d.ordered_cache_behaviors[0].response_headers_policy_id = Some(headers.id().into());
        }
        let cdn = root.resource("frontend", d).unwrap();
        (stack, cdn)
    };
    const SECURITY: &str = "67f7725c-6f97-4210-82d7-5512b31e9d03";
    let (s1, cdn) = stack("Managed-SecurityHeadersPolicy", true);
    e.up_stable(&s1).await;
    let live = |e: &Env| {
        let (cf, id) = (e.cf.clone(), e.id(&cdn));
        async move {
            let c = cf
                .get_distribution_config()
                .id(id)
                .send()
                .await
                .unwrap()
                .distribution_config
                .unwrap();
            (
                c.default_cache_behavior()
                    .and_then(|b| b.response_headers_policy_id())
                    .map(str::to_string),
                c.cache_behaviors()
                    .and_then(|b| b.items().first())
                    .and_then(|b| b.response_headers_policy_id())
                    .filter(|p| !p.is_empty())
                    .map(str::to_string),
            )
        }
    };
    assert_eq!(
        live(&e).await,
        (Some(SECURITY.to_string()), Some(SECURITY.to_string()))
    );

    let (s2, _) = stack("Managed-SecurityHeadersPolicy", false);
    let plan = e.up_stable(&s2).await;
    assert_eq!(step(&plan, &cdn).changed, vec!["ordered_cache_behaviors"]);
    assert_eq!(live(&e).await, (Some(SECURITY.to_string()), None));

    let (s3, _) = stack("Managed-NoSuchHeaders", false);
    let err = e
        .eng
        .preview(&s3, &Default::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("name") && err.contains("Managed-NoSuchHeaders"),
        "{err}"
    );
}

/// The lookup reads every page (recorded answers: the policy is on the
/// second page, after a NextMarker).
#[tokio::test]
async fn headers_policy_lookup_reads_on_past_the_first_page() {
    use aws_sdk_cloudfront::operation::list_response_headers_policies::ListResponseHeadersPoliciesOutput;
    use aws_sdk_cloudfront::types::{
        ResponseHeadersPolicy, ResponseHeadersPolicyConfig, ResponseHeadersPolicyList,
        ResponseHeadersPolicySummary, ResponseHeadersPolicyType,
    };
    use morket_stack::provider::aws::cloudfront::get_response_headers_policy::GetResponseHeadersPolicy;

    let summary = |name: &str, id: &str| {
        ResponseHeadersPolicySummary::builder()
            .r#type(ResponseHeadersPolicyType::Custom)
            .response_headers_policy(
                ResponseHeadersPolicy::builder()
                    .id(id)
                    .last_modified_time(aws_smithy_types::DateTime::from_secs(0))
                    .response_headers_policy_config(
                        ResponseHeadersPolicyConfig::builder()
                            .name(name)
                            .build()
                            .unwrap(),
                    )
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    };
    let page = |items: Vec<ResponseHeadersPolicySummary>, next: Option<&str>| {
        ListResponseHeadersPoliciesOutput::builder()
            .response_headers_policy_list(
                ResponseHeadersPolicyList::builder()
                    .max_items(1)
                    .quantity(items.len() as i32)
                    .set_items(Some(items))
                    .set_next_marker(next.map(str::to_string))
                    .build()
                    .unwrap(),
            )
            .build()
    };
    let first = page(vec![summary("other", "id-1")], Some("m1"));
    let second = page(vec![summary("morket-headers", "id-2")], None);
    let list = mock!(aws_sdk_cloudfront::Client::list_response_headers_policies)
        .sequence()
        .output(move || first.clone())
        .output(move || second.clone())
        .build();
    let client = mock_client!(aws_sdk_cloudfront, RuleMode::MatchAny, &[&list]);
    // A lookup asks for credentials before any call.
    let conf = aws_config::SdkConfig::builder()
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(
                aws_credential_types::Credentials::new("test", "test", None, None, "test"),
            ),
        )
        .behavior_version(aws_config::BehaviorVersion::latest())
        .build();
    let reg = registry(Arc::new(
        Aws::with_config(settings(), conf).with_cloudfront(client),
    ));
    let urn = Urn::new(STACK, "", GetResponseHeadersPolicy::TYPE, "headers");
    let got = reg
        .get(GetResponseHeadersPolicy::TYPE)
        .unwrap()
        .create(
            &ctx(&urn),
            &serde_json::to_value(GetResponseHeadersPolicy::named("morket-headers")).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(got.id, "id-2");
    assert_eq!(list.num_calls(), 2);
}

/// The site's files in a fresh build directory.
fn build(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (key, text) in files {
        let path = dir.path().join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

/// The Morket frontend with the built site in `dir` synced into it.
fn synced(cert: &str, dir: &std::path::Path) -> (Site, Resource<SiteSync>) {
    let mut stack = Stack::new(STACK).unwrap();
    let mut root = stack.root();
    // Emptied with its versions on destroy, as staging's buckets are.
    let mut bucket = Bucket::private(BUCKET);
    bucket.force_destroy = true;
    let bucket = root.resource("frontend", bucket).unwrap();
    let oac = root
        .resource("frontend", OriginAccessControl::s3("morket-frontend"))
        .unwrap();
    let cdn = frontend(
        bucket.bucket_regional_domain_name(),
        Some(oac.id().into()),
        cert,
    );
    let cdn = root.resource("frontend", cdn).unwrap();
    let mut s = Site {
        stack,
        bucket,
        oac,
        cdn,
    };
    let sync = SiteSync {
        bucket: s.bucket.bucket().into(),
        dir: dir.display().to_string(),
        files: manifest(dir).unwrap(),
        distribution_id: Some(s.cdn.id().into()),
        ..Default::default()
    };
    let r = s.stack.root().resource("site", sync).unwrap();
    (s, r)
}

impl Env {
    /// (object PUTs, DeleteObjects, CreateInvalidation) moto answered.
    fn sync_calls(&self) -> (usize, usize, usize) {
        let reqs = self.moto.requests();
        let count =
            |f: &dyn Fn(&support::moto::PeerRequest) -> bool| reqs.iter().filter(|q| f(q)).count();
        let object = format!("/{BUCKET}/");
        (
            // Sub-resource calls (?versioning, ?delete) go to the bucket's path.
            count(&|q| {
                q.method == "PUT" && q.path.len() > object.len() && q.path.starts_with(&object)
            }),
            count(&|q| q.method == "POST" && q.path.trim_end_matches('/') == format!("/{BUCKET}")),
            count(&|q| q.method == "POST" && q.path.ends_with("/invalidation")),
        )
    }

    async fn object(&self, key: &str) -> Option<(String, Option<String>, String)> {
        let s3 = aws_sdk_s3::config::Builder::from(&self.h.conf)
            .force_path_style(true)
            .build();
        let o = aws_sdk_s3::Client::from_conf(s3)
            .get_object()
            .bucket(BUCKET)
            .key(key)
            .send()
            .await
            .ok()?;
        let ct = o.content_type().unwrap_or_default().to_string();
        let cc = o.cache_control().map(str::to_string);
        let body = o.body.collect().await.unwrap().into_bytes();
        Some((ct, cc, String::from_utf8(body.to_vec()).unwrap()))
    }
}

/// aws:s3/SiteSync against moto (its invalidations read InProgress, then
/// Completed, as scripts/moto_server.py plays them): the first up uploads
/// the site and invalidates /* once; an unchanged site, even built in
/// another directory, plans nothing, uploads nothing and invalidates
/// nothing; one changed file is one upload and one invalidation; a removed
/// file one delete and one invalidation; a file edited in the bucket is
/// drift that `up --refresh` puts back; a file changed between the plan and
/// the apply is refused; destroy empties the bucket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn site_sync_uploads_what_changed_and_invalidates_once() {
    let mut e = env().await;
    let cert = e.certificate("app.morket.example").await;
    let v1 = [
        ("index.html", "<html>v1</html>"),
        ("assets/app.3f2a.js", "let v = 1;"),
        ("robots.txt", "User-agent: *"),
    ];
    let dir = build(&v1);
    let (s1, site) = synced(&cert, dir.path());
    e.moto.clear_requests();
    e.up_stable(&s1.stack).await;
    assert_eq!(e.sync_calls(), (3, 0, 1), "three uploads, one invalidation");
    let (ct, _, body) = e.object("index.html").await.unwrap();
    assert_eq!(
        (ct.as_str(), body.as_str()),
        ("text/html; charset=utf-8", "<html>v1</html>")
    );
    let cdn = e.id(&s1.cdn);
    let list =
        e.cf.list_invalidations()
            .distribution_id(&cdn)
            .send()
            .await
            .unwrap();
    let items = list.invalidation_list().unwrap().items().to_vec();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].status(), "Completed", "the up waited for it");
    assert_eq!(e.outputs(&site)["objects"], json!(3));

    // Unchanged, built again elsewhere: no change, no call.
    let again = build(&v1);
    let (s2, _) = synced(&cert, again.path());
    e.moto.clear_requests();
    e.no_changes(&s2.stack).await;
    e.up(&s2.stack).await;
    assert_eq!(e.sync_calls(), (0, 0, 0));

    // One file changed: one upload, one invalidation.
    let v2 = [
        ("index.html", "<html>v2</html>"),
        ("assets/app.3f2a.js", "let v = 1;"),
        ("robots.txt", "User-agent: *"),
    ];
    let dir2 = build(&v2);
    let (s3, _) = synced(&cert, dir2.path());
    let p = e
        .eng
        .preview(&s3.stack, &PlanOptions::default())
        .await
        .unwrap();
    assert_eq!(step(&p, &site).action, Action::Update);
    assert_eq!(step(&p, &site).changed, ["files"]);
    e.moto.clear_requests();
    e.up_stable(&s3.stack).await;
    assert_eq!(e.sync_calls(), (1, 0, 1));
    assert_eq!(e.object("index.html").await.unwrap().2, "<html>v2</html>");

    // One file removed: one delete, one invalidation.
    let dir3 = build(&v2[..2]);
    let (s4, _) = synced(&cert, dir3.path());
    e.moto.clear_requests();
    e.up_stable(&s4.stack).await;
    assert_eq!(e.sync_calls(), (0, 1, 1));
    assert!(e.object("robots.txt").await.is_none());

    // Edited in the bucket: drift, put back by up --refresh.
    let s3c = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&e.h.conf)
            .force_path_style(true)
            .build(),
    );
    s3c.put_object()
        .bucket(BUCKET)
        .key("index.html")
        .body("<html>defaced</html>".as_bytes().to_vec().into())
        .send()
        .await
        .unwrap();
    let live = e.read(&site).await.unwrap();
    assert_ne!(
        live["files"]["index.html"]["md5"],
        e.st.resource(site.urn()).unwrap().unwrap().inputs["files"]["index.html"]["md5"]
    );
    e.moto.clear_requests();
    let refresh = PlanOptions {
        refresh: true,
        ..Default::default()
    };
    let (_, report) = e.h.eng.up(&s4.stack, &refresh, &e.h.cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert_eq!(e.sync_calls(), (1, 0, 1));
    assert_eq!(e.object("index.html").await.unwrap().2, "<html>v2</html>");

    // Changed after the plan: refused, nothing uploaded.
    let dir5 = build(&[
        ("index.html", "<html>v3</html>"),
        ("assets/app.3f2a.js", "let v = 1;"),
    ]);
    let (s5, _) = synced(&cert, dir5.path());
    let plan = e
        .eng
        .preview(&s5.stack, &PlanOptions::default())
        .await
        .unwrap();
    std::fs::write(dir5.path().join("index.html"), "<html>v4</html>").unwrap();
    e.moto.clear_requests();
    let report = e.h.eng.apply(&s5.stack, &plan, &e.h.cancel).await.unwrap();
    assert!(!report.is_success());
    let why = shared::failures(&report).join("\n");
    assert!(why.contains("changed since the plan"), "{why}");
    assert_eq!(e.sync_calls(), (0, 0, 0));

    let (_, report) = e.h.eng.destroy(&s4.stack, &e.h.cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert!(e.st.resources().unwrap().is_empty());
}
