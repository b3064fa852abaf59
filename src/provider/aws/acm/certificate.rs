//! `aws:acm/Certificate` (Terraform `aws_acm_certificate`): a public
//! certificate ACM issues once DNS validation records exist. Everything but
//! the tags forces a replacement (create-before-delete: listeners and
//! distributions move to the new one before the old is deleted). A
//! `region` puts it outside the stack's region (CloudFront's certificate is
//! in us-east-1). The validation records are read from the outputs
//! ([`validation_records`] declares them in a Route 53 zone).

use std::collections::BTreeSet;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_acm::types::{
    CertificateDetail, CertificateStatus, Filters, KeyAlgorithm, ValidationMethod,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::certificate_validation::CertificateValidation;
use super::{check_domain, live_tags, to_tags, Acm};
use crate::model::{Input, ModelError, Output, Resource, ResourceArgs, Scope};
use crate::provider::aws::call::{Call, Retry};
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::aws::route53::record::Record;
use crate::provider::aws::tags::{Tags, URN_TAG};
use crate::provider::aws::validate;
use crate::provider::aws::wait::{Seen, Wait};
use crate::provider::schema::{Norm, Schema, Tf};
use crate::provider::ProviderError;

/// Key algorithms RequestCertificate accepts.
pub const KEY_ALGORITHMS: &[&str] = &["RSA_2048", "EC_prime256v1", "EC_secp384r1"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Certificate {
    /// The certificate's main name (`app.example.com`, `*.example.com`).
    pub domain_name: String,
    /// More names on the certificate (ACM adds `domain_name` itself).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subject_alternative_names: Vec<String>,
    /// `DNS` (the only method supported: EMAIL needs a person).
    pub validation_method: String,
    /// One of [`KEY_ALGORITHMS`]; ACM's default is RSA_2048.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_algorithm: Option<String>,
    pub tags: Tags,
    /// The region the certificate lives in, when not the stack's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

impl Default for Certificate {
    fn default() -> Self {
        Certificate {
            domain_name: String::new(),
            subject_alternative_names: Vec::new(),
            validation_method: "DNS".into(),
            key_algorithm: None,
            tags: Tags::new(),
            region: None,
        }
    }
}

impl Certificate {
    /// A DNS-validated certificate for `domain_name`.
    pub fn dns(domain_name: &str) -> Self {
        Certificate {
            domain_name: domain_name.into(),
            ..Default::default()
        }
    }

    /// The names to validate: the domain and the alternative names, each once.
    pub fn domains(&self) -> Vec<String> {
        let mut seen = BTreeSet::new();
        std::iter::once(&self.domain_name)
            .chain(&self.subject_alternative_names)
            .filter(|d| seen.insert(d.as_str()))
            .cloned()
            .collect()
    }
}

impl ResourceArgs for Certificate {
    const TYPE: &'static str = "aws:acm/Certificate";
}

/// One entry of `domain_validation_options`: the DNS record that proves
/// control of `domain_name`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DomainValidationOption {
    pub domain_name: String,
    pub resource_record_name: String,
    pub resource_record_type: String,
    pub resource_record_value: String,
}

/// The flat output holding one part (`name`, `type`, `value`) of the
/// validation record of `domain`: references name top-level outputs only.
pub fn validation_output(part: &str, domain: &str) -> String {
    format!("validation_record_{part}:{domain}")
}

impl Resource<Certificate> {
    pub fn arn(&self) -> Output<String> {
        self.output("arn")
    }
    /// `PENDING_VALIDATION`, `ISSUED`, ... as last read.
    pub fn status(&self) -> Output<String> {
        self.output("status")
    }
    /// The validation records, one per name ([`DomainValidationOption`]).
    pub fn domain_validation_options(&self) -> Output<Vec<DomainValidationOption>> {
        self.output("domain_validation_options")
    }
    /// The validation record's name for `domain` (with its final dot).
    pub fn validation_record_name(&self, domain: &str) -> Output<String> {
        self.output(&validation_output("name", domain))
    }
    /// The validation record's type for `domain` (`CNAME`).
    pub fn validation_record_type(&self, domain: &str) -> Output<String> {
        self.output(&validation_output("type", domain))
    }
    /// The validation record's value for `domain`.
    pub fn validation_record_value(&self, domain: &str) -> Output<String> {
        self.output(&validation_output("value", domain))
    }
}

/// Declares in `zone_id` the DNS validation records of `cert` (declared
/// from `args`), one per distinct record: `x` and `*.x` share one. They are
/// named `<name>-<domain>` and may overwrite a leftover record of the same
/// name (as Terraform's documented pattern does with `allow_overwrite`).
pub fn validation_records(
    scope: &mut Scope<'_>,
    name: &str,
    cert: &Resource<Certificate>,
    args: &Certificate,
    zone_id: impl Into<Input<String>>,
) -> Result<Vec<Resource<Record>>, ModelError> {
    let zone_id = zone_id.into();
    let mut bases = BTreeSet::new();
    let mut out = Vec::new();
    for d in args.domains() {
        let base = d.strip_prefix("*.").unwrap_or(&d).to_string();
        if !bases.insert(base.clone()) {
            continue;
        }
        let r = Record {
            zone_id: zone_id.clone(),
            name: cert.validation_record_name(&d).into(),
            r#type: "CNAME".into(),
            ttl: Some(60),
            records: vec![cert.validation_record_value(&d).into()],
            allow_overwrite: true,
            ..Default::default()
        };
        out.push(scope.resource(&format!("{name}-{base}"), r)?);
    }
    Ok(out)
}

/// [`validation_records`] and the [`CertificateValidation`] that waits for
/// `cert` to be issued once they exist (`<name>` is its resource name).
pub fn validated(
    scope: &mut Scope<'_>,
    name: &str,
    cert: &Resource<Certificate>,
    args: &Certificate,
    zone_id: impl Into<Input<String>>,
) -> Result<Resource<CertificateValidation>, ModelError> {
    let records = validation_records(scope, name, cert, args, zone_id)?;
    scope.resource(
        name,
        CertificateValidation {
            certificate_arn: cert.arn().into(),
            validation_record_fqdns: records.iter().map(|r| r.fqdn().into()).collect(),
            region: args.region.clone(),
            ..Default::default()
        },
    )
}

/// ACM's `RSA-2048` as RequestCertificate names it (`RSA_2048`).
fn key_algorithm_name(k: &KeyAlgorithm) -> String {
    let live = k.as_str().replace('-', "_");
    KeyAlgorithm::values()
        .iter()
        .find(|v| v.replace('-', "_") == live)
        .map_or(live, |v| v.to_string())
}

/// A token that makes a resent RequestCertificate of this declaration (the
/// SDK's retry of a timed-out request, the engine's of a failed create)
/// answer the same certificate. Within the hour AWS keeps tokens, inputs
/// that differ (a replacement) must get another certificate: they are in it.
fn idempotency_token(urn_tag: &str, c: &Certificate) -> String {
    let mut sans = c.subject_alternative_names.clone();
    sans.sort();
    let mut h = Sha256::new();
    for part in [
        urn_tag,
        &c.domain_name,
        &sans.join(","),
        &c.validation_method,
        c.key_algorithm.as_deref().unwrap_or(""),
    ] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    // 32 characters of \w, ACM's limit.
    hex::encode(h.finalize())[..32].to_string()
}

async fn describe(
    cx: &Call<'_, Acm>,
    arn: &str,
) -> Result<Option<CertificateDetail>, ProviderError> {
    Ok(cx
        .find("DescribeCertificate", |c| {
            c.describe_certificate().certificate_arn(arn).send()
        })
        .await?
        .and_then(|o| o.certificate().cloned()))
}

/// The validation options that name their record (AWS adds the records a
/// few seconds after the request), sorted by domain.
fn validation_options(c: &CertificateDetail) -> Vec<DomainValidationOption> {
    let mut v: Vec<DomainValidationOption> = c
        .domain_validation_options()
        .iter()
        .filter_map(|d| {
            let r = d.resource_record()?;
            Some(DomainValidationOption {
                domain_name: d.domain_name().to_string(),
                resource_record_name: r.name().to_string(),
                resource_record_type: r.r#type().as_str().to_string(),
                resource_record_value: r.value().to_string(),
            })
        })
        .collect();
    v.sort_by(|a, b| a.domain_name.cmp(&b.domain_name));
    v
}

/// The region part of an ARN.
fn arn_region(arn: &str) -> Option<String> {
    arn.split(':')
        .nth(3)
        .filter(|r| !r.is_empty())
        .map(str::to_string)
}

#[async_trait]
impl AwsResource for Certificate {
    type Service = Acm;
    const SCHEMA: Schema = Schema {
        tf_attrs: &[
            (
                "validation_record_name:",
                "domain_validation_options[domain_name].resource_record_name",
            ),
            (
                "validation_record_type:",
                "domain_validation_options[domain_name].resource_record_type",
            ),
            (
                "validation_record_value:",
                "domain_validation_options[domain_name].resource_record_value",
            ),
        ],
        force_new: &[
            "domain_name",
            "subject_alternative_names",
            "validation_method",
            "key_algorithm",
            "region",
        ],
        optional_computed: &["key_algorithm", "region"],
        normalize: &[("subject_alternative_names", Norm::Set)],
        terraform: &[Tf {
            resource: "aws_acm_certificate",
            args: &[
                ("domain_name", "domain_name"),
                ("subject_alternative_names", "subject_alternative_names"),
                ("validation_method", "validation_method"),
                ("key_algorithm", "key_algorithm"),
                ("tags", "tags"),
                ("region", "region"),
            ],
            import_id: "{id}",
        }],
        ..Schema::NONE
    };

    fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }

    fn check(&self) -> Result<(), ProviderError> {
        check_domain("domain_name", &self.domain_name)?;
        for (i, san) in self.subject_alternative_names.iter().enumerate() {
            check_domain(&format!("subject_alternative_names[{i}]"), san)?;
        }
        if self.domains().len() > 100 {
            return Err(ProviderError::invalid(
                "subject_alternative_names",
                self.subject_alternative_names.len(),
                "a certificate holds at most 100 names",
            ));
        }
        validate::one_of("validation_method", &self.validation_method, &["DNS"])?;
        if let Some(k) = &self.key_algorithm {
            validate::one_of("key_algorithm", k, KEY_ALGORITHMS)?;
        }
        if let Some(r) = &self.region {
            validate::check_region("region", r)?;
        }
        Ok(())
    }

    async fn create(&self, cx: &Call<'_, Acm>) -> Result<String, ProviderError> {
        let token = idempotency_token(&cx.ctx.urn_tag(), self);
        let sans = (!self.subject_alternative_names.is_empty())
            .then(|| self.subject_alternative_names.clone());
        let out = cx
            .send("RequestCertificate", |c| {
                c.request_certificate()
                    .domain_name(&self.domain_name)
                    .set_subject_alternative_names(sans.clone())
                    .validation_method(ValidationMethod::from(self.validation_method.as_str()))
                    .set_key_algorithm(self.key_algorithm.as_deref().map(KeyAlgorithm::from))
                    .idempotency_token(&token)
                    .set_tags(Some(to_tags(&cx.all_tags(&self.tags))))
                    .send()
            })
            .await?;
        out.certificate_arn()
            .map(str::to_string)
            .ok_or_else(|| cx.fatal("RequestCertificate answered no certificate ARN"))
    }

    async fn after_create(&self, cx: &Call<'_, Acm>, arn: &str) -> Result<(), ProviderError> {
        // AWS names the validation records a few seconds after the request;
        // the records declared from them need every one (Terraform waits 5
        // minutes for them).
        let want = self.domains().len();
        let settings = crate::provider::aws::AwsSettings {
            wait_timeout: cx.settings().wait_timeout.min(Duration::from_secs(300)),
            ..cx.settings().clone()
        };
        Wait::new(
            "certificate's DNS validation records",
            &["pending"],
            &["named"],
        )
        .after_create()
        .until(&settings, || async {
            Ok(match describe(cx, arn).await? {
                None => Seen::Gone,
                Some(c) if validation_options(&c).len() >= want => Seen::State("named".into(), ()),
                Some(c) if c.status() == Some(&CertificateStatus::Failed) => {
                    return Err(cx.fatal(format!(
                        "certificate {arn} failed: {}",
                        c.failure_reason().map_or("no reason given", |r| r.as_str())
                    )))
                }
                Some(_) => Seen::State("pending".into(), ()),
            })
        })
        .await
    }

    async fn read(
        cx: &Call<'_, Acm>,
        arn: &str,
        declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError> {
        let Some(c) = describe(cx, arn).await? else {
            return Ok(None);
        };
        let status = c
            .status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default();
        // Terraform forgets a certificate whose validation timed out: it
        // never becomes usable, so a new one is requested.
        if status == CertificateStatus::ValidationTimedOut.as_str() {
            return Ok(None);
        }
        let domain = c.domain_name().unwrap_or_default().to_string();
        // ACM lists the domain among the alternative names; so does the
        // declaration only if it says so.
        let sans: Vec<String> = c
            .subject_alternative_names()
            .iter()
            .filter(|s| **s != domain || declared.subject_alternative_names.contains(s))
            .cloned()
            .collect();
        let method = c
            .domain_validation_options()
            .first()
            .and_then(|d| d.validation_method())
            .map_or(declared.validation_method.clone(), |m| {
                m.as_str().to_string()
            });
        let dvos = validation_options(&c);
        let mut outputs = json!({
            "id": arn,
            "arn": arn,
            "status": status,
            "domain_validation_options": dvos,
            "type": c.r#type().map(|t| t.as_str()),
            "not_after": c.not_after().map(|t| t.to_string()),
            "in_use_by": c.in_use_by(),
        });
        for d in &dvos {
            for (part, v) in [
                ("name", &d.resource_record_name),
                ("type", &d.resource_record_type),
                ("value", &d.resource_record_value),
            ] {
                outputs[validation_output(part, &d.domain_name)] = Value::String(v.clone());
            }
        }
        let args = Certificate {
            domain_name: domain,
            subject_alternative_names: sans,
            validation_method: method,
            key_algorithm: c.key_algorithm().map(key_algorithm_name),
            tags: cx.own_tags(&live_tags(cx, arn).await?),
            region: arn_region(arn),
        };
        Ok(Some(Live { args, outputs }))
    }

    async fn update(&self, old: &Self, cx: &Call<'_, Acm>, arn: &str) -> Result<(), ProviderError> {
        cx.update_tags(arn, &old.tags, &self.tags).await
    }

    async fn delete(&self, cx: &Call<'_, Acm>, arn: &str) -> Result<(), ProviderError> {
        // A load balancer listener or a distribution lets go of a replaced
        // certificate some minutes after it moved to the new one (Terraform
        // retries for 20 minutes). DeleteCertificate is synchronous.
        cx.send_retrying(
            "DeleteCertificate",
            &[Retry::conflict(
                &["ResourceInUseException"],
                Duration::from_secs(20 * 60),
            )],
            |c| c.delete_certificate().certificate_arn(arn).send(),
        )
        .await
        .map(drop)
    }

    async fn find(&self, cx: &Call<'_, Acm>) -> Result<Vec<String>, ProviderError> {
        // ListCertificates shows RSA_2048 certificates only unless asked
        // for every key type.
        let every_key = Filters::builder()
            .set_key_types(Some(
                KeyAlgorithm::values()
                    .iter()
                    .map(|k| KeyAlgorithm::from(*k))
                    .collect(),
            ))
            .build();
        let pages = cx
            .pages(
                "ListCertificates",
                cx.client()
                    .await
                    .list_certificates()
                    .includes(every_key)
                    .into_paginator()
                    .send(),
            )
            .await?;
        let mut found = Vec::new();
        for s in pages.iter().flat_map(|p| p.certificate_summary_list()) {
            let (Some(arn), Some(domain)) = (s.certificate_arn(), s.domain_name()) else {
                continue;
            };
            if domain != self.domain_name {
                continue;
            }
            let tags = live_tags(cx, arn).await?;
            if tags.get(URN_TAG).is_some_and(|v| cx.ctx.urn_tag_matches(v)) {
                found.push(arn.to_string());
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::model::HasUrn;
    use crate::provider::aws::resource::Typed;
    use crate::provider::aws::Aws;
    use crate::provider::Provider;
    use std::sync::Arc;

    fn p() -> Typed<Certificate> {
        Typed::new(Arc::new(Aws::new(Default::default())))
    }

    #[test]
    fn validation_names_field_and_value() {
        let ok = json!({"domain_name": "morket.io", "subject_alternative_names": ["*.morket.io"],
            "validation_method": "DNS", "region": "us-east-1", "key_algorithm": "EC_prime256v1"});
        assert!(p().validate(&ok).is_ok());
        for (bad, field, value) in [
            (
                json!({"domain_name": "morket.io."}),
                "domain_name",
                "morket.io.",
            ),
            (
                json!({"domain_name": "morket.io", "subject_alternative_names": ["a b.io"]}),
                "subject_alternative_names[0]",
                "a b.io",
            ),
            (
                json!({"domain_name": "morket.io", "validation_method": "EMAIL"}),
                "validation_method",
                "EMAIL",
            ),
            (
                json!({"domain_name": "morket.io", "key_algorithm": "RSA_1024"}),
                "key_algorithm",
                "RSA_1024",
            ),
            (
                json!({"domain_name": "morket.io", "region": "us-east"}),
                "region",
                "us-east",
            ),
        ] {
            let e = p().validate(&bad).unwrap_err().to_string();
            assert!(e.contains(field) && e.contains(value), "{e}");
        }
    }

    #[test]
    fn token_follows_urn_and_inputs() {
        let c = Certificate::dns("morket.io");
        let t = idempotency_token("s::::aws:acm/Certificate::c", &c);
        assert_eq!(t.len(), 32);
        assert!(t.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(t, idempotency_token("s::::aws:acm/Certificate::c", &c));
        assert_ne!(t, idempotency_token("s::::aws:acm/Certificate::d", &c));
        let other = Certificate::dns("app.morket.io");
        assert_ne!(t, idempotency_token("s::::aws:acm/Certificate::c", &other));
    }

    #[test]
    fn validated_declares_one_record_per_distinct_name_then_the_wait() {
        let mut st = crate::model::Stack::new("s").unwrap();
        let mut args = Certificate::dns("morket.io");
        args.subject_alternative_names = vec!["*.morket.io".into(), "api.morket.io".into()];
        args.region = Some("us-east-1".into());
        let v = {
            let mut root = st.root();
            let cert = root.resource("cert", args.clone()).unwrap();
            validated(&mut root, "cert-ok", &cert, &args, "Z1").unwrap()
        };
        let names: Vec<&str> = st.resources().iter().map(|d| d.urn.name()).collect();
        assert_eq!(
            names,
            [
                "cert",
                "cert-ok-morket.io",
                "cert-ok-api.morket.io",
                "cert-ok"
            ]
        );
        let rec = &st.resources()[1].inputs;
        assert_eq!(rec["type"], "CNAME");
        assert_eq!(rec["allow_overwrite"], true);
        assert!(
            rec["name"]
                .to_string()
                .contains("validation_record_name:morket.io"),
            "{rec}"
        );
        let val = &st.get(v.urn()).unwrap().inputs;
        assert_eq!(val["region"], "us-east-1");
        assert_eq!(val["validation_record_fqdns"].as_array().unwrap().len(), 2);
        assert!(val["certificate_arn"].to_string().contains("arn"), "{val}");
    }

    #[test]
    fn key_algorithms_read_as_requested() {
        assert_eq!(
            key_algorithm_name(&KeyAlgorithm::from("RSA-2048")),
            "RSA_2048"
        );
        assert_eq!(
            key_algorithm_name(&KeyAlgorithm::from("EC-prime256v1")),
            "EC_prime256v1"
        );
        assert_eq!(
            arn_region("arn:aws:acm:us-east-1:1:certificate/x").as_deref(),
            Some("us-east-1")
        );
    }
}
