//! `aws:acm/CertificateValidation` (Terraform
//! `aws_acm_certificate_validation`): no AWS object of its own, the wait
//! until a certificate is issued. Its inputs name the validation records'
//! FQDNs so the graph runs it after them, and dependents (an HTTPS listener,
//! a distribution) take the certificate ARN from it so they wait too. Its id
//! is the certificate ARN; delete does nothing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_acm::types::CertificateStatus;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::Acm;
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::call::Call;
use crate::provider::aws::check_arn;
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::aws::validate;
use crate::provider::aws::wait::{Seen, Wait};
use crate::provider::aws::AwsSettings;
use crate::provider::schema::{Schema, Tf};
use crate::provider::ProviderError;

/// Terraform's create timeout for the validation.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(75 * 60);

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CertificateValidation {
    pub certificate_arn: Input<String>,
    /// The validation records' FQDNs; each name ACM asks for must be among
    /// them (a forgotten record fails at once instead of timing out).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub validation_record_fqdns: Vec<Input<String>>,
    /// The certificate's region, when not the stack's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// How long to wait for the certificate (`75m`, `2h`); default 75 minutes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
}

impl CertificateValidation {
    pub fn new(certificate_arn: impl Into<Input<String>>) -> Self {
        CertificateValidation {
            certificate_arn: certificate_arn.into(),
            ..Default::default()
        }
    }

    fn wait_for(&self) -> Result<Duration, ProviderError> {
        match &self.timeout {
            None => Ok(DEFAULT_TIMEOUT),
            Some(t) => humantime::parse_duration(t).map_err(|e| {
                ProviderError::invalid(
                    "timeout",
                    format!("{t:?}"),
                    format!("expected a duration like 75m or 2h ({e})"),
                )
            }),
        }
    }
}

impl ResourceArgs for CertificateValidation {
    const TYPE: &'static str = "aws:acm/CertificateValidation";
}

impl Resource<CertificateValidation> {
    /// The certificate's ARN, known once it is issued: what a listener or a
    /// distribution should take.
    pub fn certificate_arn(&self) -> Output<String> {
        self.output("certificate_arn")
    }
}

/// What the validation sees of the certificate: its status, why it failed,
/// and the validation record names ACM asks for (no final dot).
#[derive(Debug, Clone)]
struct CertState {
    status: String,
    reason: String,
    record_names: Vec<String>,
}

async fn look(cx: &Call<'_, Acm>, arn: &str) -> Result<Option<CertState>, ProviderError> {
    let Some(out) = cx
        .find("DescribeCertificate", |c| {
            c.describe_certificate().certificate_arn(arn).send()
        })
        .await?
    else {
        return Ok(None);
    };
    let Some(c) = out.certificate() else {
        return Ok(None);
    };
    Ok(Some(CertState {
        status: c
            .status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        reason: c
            .failure_reason()
            .map_or("no reason given".to_string(), |r| r.as_str().to_string()),
        record_names: c
            .domain_validation_options()
            .iter()
            .filter_map(|d| d.resource_record())
            .map(|r| fqdn(r.name()))
            .collect(),
    }))
}

/// `A.Example.com.` → `a.example.com`.
fn fqdn(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

#[async_trait]
impl AwsResource for CertificateValidation {
    type Service = Acm;
    const SCHEMA: Schema = Schema {
        force_new: &["certificate_arn", "validation_record_fqdns", "region"],
        // Nothing in AWS holds these: they stay as declared.
        write_only: &["validation_record_fqdns", "timeout"],
        optional_computed: &["region"],
        terraform: &[Tf {
            resource: "aws_acm_certificate_validation",
            args: &[
                ("certificate_arn", "certificate_arn"),
                ("validation_record_fqdns", "validation_record_fqdns"),
                ("region", "region"),
                ("timeout", "timeouts.create"),
            ],
            // Terraform cannot import it (it only waits); a plan adds it,
            // creating nothing in AWS.
            import_id: "",
        }],
        ..Schema::NONE
    };

    fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }

    fn check(&self) -> Result<(), ProviderError> {
        if let Some(arn) = self.certificate_arn.known() {
            check_arn(
                "certificate_arn",
                arn,
                "acm",
                "certificate/",
                "an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>)",
            )?;
        }
        if let Some(r) = &self.region {
            validate::check_region("region", r)?;
        }
        let t = self.wait_for()?;
        if t.is_zero() {
            return Err(ProviderError::invalid(
                "timeout",
                format!("{:?}", self.timeout.as_deref().unwrap_or_default()),
                "must be longer than zero",
            ));
        }
        Ok(())
    }

    /// The wait itself: nothing is created, so a wait that fails leaves
    /// nothing behind and the next run waits again.
    async fn create(&self, cx: &Call<'_, Acm>) -> Result<String, ProviderError> {
        let arn = self.certificate_arn.require("certificate_arn")?.clone();
        let declared: Vec<String> = self
            .validation_record_fqdns
            .iter()
            .enumerate()
            .map(|(i, f)| {
                f.require(&format!("validation_record_fqdns[{i}]"))
                    .map(|f| fqdn(f))
            })
            .collect::<Result<_, _>>()?;
        let settings = AwsSettings {
            wait_timeout: self.wait_for()?,
            ..cx.settings().clone()
        };
        let checked = AtomicBool::new(false);
        Wait::new(
            "certificate",
            &[CertificateStatus::PendingValidation.as_str()],
            &[CertificateStatus::Issued.as_str()],
        )
        .after_create()
        .until(&settings, || {
            let (arn, declared, checked) = (&arn, &declared, &checked);
            async move {
                let Some(s) = look(cx, arn).await? else {
                    return Ok(Seen::Gone);
                };
                // Terraform's check: every record ACM asks for is declared
                // (only when the records are given at all).
                if !checked.load(Ordering::Relaxed) && !declared.is_empty() && !s.record_names.is_empty() {
                    checked.store(true, Ordering::Relaxed);
                    if let Some(missing) = s.record_names.iter().find(|n| !declared.contains(n)) {
                        return Err(ProviderError::invalid(
                            "validation_record_fqdns",
                            format!("{declared:?}"),
                            format!("missing the DNS validation record {missing} the certificate asks for"),
                        ));
                    }
                }
                match s.status.as_str() {
                    "FAILED" | "VALIDATION_TIMED_OUT" | "REVOKED" | "EXPIRED" | "INACTIVE" => {
                        Err(ProviderError::Fatal(format!(
                            "certificate {arn} is {} ({}); it will not be issued",
                            s.status, s.reason
                        )))
                    }
                    _ => Ok(Seen::State(s.status, ())),
                }
            }
        })
        .await?;
        Ok(arn)
    }

    async fn read(
        cx: &Call<'_, Acm>,
        arn: &str,
        declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError> {
        // Terraform forgets the validation of a certificate that is gone or
        // no longer issued: the next run waits for it again.
        match look(cx, arn).await? {
            Some(s) if s.status == CertificateStatus::Issued.as_str() => {}
            _ => return Ok(None),
        }
        let args = CertificateValidation {
            certificate_arn: Input::Value(arn.to_string()),
            region: arn.split(':').nth(3).map(str::to_string),
            ..declared.clone()
        };
        Ok(Some(Live {
            args,
            outputs: json!({"id": arn, "certificate_arn": arn}),
        }))
    }

    async fn update(
        &self,
        _old: &Self,
        _cx: &Call<'_, Acm>,
        _id: &str,
    ) -> Result<(), ProviderError> {
        // Only the write-only timeout can change in place.
        Ok(())
    }

    async fn delete(&self, _cx: &Call<'_, Acm>, _id: &str) -> Result<(), ProviderError> {
        Ok(())
    }

    async fn find(&self, cx: &Call<'_, Acm>) -> Result<Vec<String>, ProviderError> {
        // An interrupted wait left nothing behind; an issued certificate is
        // the whole of what it would have made.
        let Some(arn) = self.certificate_arn.known() else {
            return Ok(Vec::new());
        };
        Ok(match look(cx, arn).await? {
            Some(s) if s.status == CertificateStatus::Issued.as_str() => vec![arn.clone()],
            _ => Vec::new(),
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

    fn p() -> Typed<CertificateValidation> {
        Typed::new(Arc::new(Aws::new(Default::default())))
    }

    #[test]
    fn validation_names_field_and_value() {
        let arn = "arn:aws:acm:us-east-1:123456789012:certificate/abc";
        assert!(p()
            .validate(&json!({"certificate_arn": arn, "timeout": "2h", "region": "us-east-1"}))
            .is_ok());
        for (bad, field, value) in [
            (
                json!({"certificate_arn": "arn:aws:iam::1:role/x"}),
                "certificate_arn",
                "role/x",
            ),
            (
                json!({"certificate_arn": arn, "timeout": "soon"}),
                "timeout",
                "soon",
            ),
            (
                json!({"certificate_arn": arn, "timeout": "0s"}),
                "timeout",
                "0s",
            ),
            (
                json!({"certificate_arn": arn, "region": "eu"}),
                "region",
                "eu",
            ),
        ] {
            let e = p().validate(&bad).unwrap_err().to_string();
            assert!(e.contains(field) && e.contains(value), "{e}");
        }
        assert_eq!(
            CertificateValidation::new("x").wait_for().unwrap(),
            DEFAULT_TIMEOUT
        );
    }
}
