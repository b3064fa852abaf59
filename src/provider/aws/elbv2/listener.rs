//! `aws:lb/Listener` (Terraform `aws_lb_listener`): a port and protocol of a
//! load balancer and its default action (forward, redirect, fixed
//! response). The load balancer forces a replacement; port, protocol, TLS
//! policy, certificate and action change in place. HTTPS needs a
//! certificate; a new ACM certificate is not visible to ELB at once
//! (`CertificateNotFound`, retried for 5 minutes as Terraform does).

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{Certificate, Listener as SdkListener, ProtocolEnum};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::time::Duration;

use super::{check_elb_arn, own_tags, sdk_tags, tagged_ours, Action, Elbv2};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::call::{Call, Retry};
use crate::provider::aws::check_arn;
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::aws::tags::Tags;
use crate::provider::aws::validate::{in_range, one_of};
use crate::provider::schema::{Schema, Tf};
use crate::provider::ProviderError;

/// The TLS policy of an HTTPS listener that names none: TLS 1.3 and 1.2.
pub const DEFAULT_SSL_POLICY: &str = "ELBSecurityPolicy-TLS13-1-2-2021-06";

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Listener {
    pub load_balancer_arn: Input<String>,
    pub port: i32,
    /// `HTTP` or `HTTPS`.
    pub protocol: String,
    /// HTTPS only; [`DEFAULT_SSL_POLICY`] when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssl_policy: Option<String>,
    /// The default certificate (an ACM ARN); HTTPS only, and required there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate_arn: Option<Input<String>>,
    pub default_action: Action,
    pub tags: Tags,
}

impl Listener {
    pub fn http(load_balancer_arn: impl Into<Input<String>>, port: i32, action: Action) -> Self {
        Listener {
            load_balancer_arn: load_balancer_arn.into(),
            port,
            protocol: "HTTP".into(),
            default_action: action,
            ..Default::default()
        }
    }

    pub fn https(
        load_balancer_arn: impl Into<Input<String>>,
        certificate_arn: impl Into<Input<String>>,
        action: Action,
    ) -> Self {
        Listener {
            load_balancer_arn: load_balancer_arn.into(),
            port: 443,
            protocol: "HTTPS".into(),
            ssl_policy: Some(DEFAULT_SSL_POLICY.into()),
            certificate_arn: Some(certificate_arn.into()),
            default_action: action,
            tags: Tags::new(),
        }
    }

    fn https_parts(&self) -> Result<(Option<String>, Option<Vec<Certificate>>), ProviderError> {
        if self.protocol != "HTTPS" {
            return Ok((None, None));
        }
        let cert = self
            .certificate_arn
            .as_ref()
            .map(|c| c.require("certificate_arn").cloned())
            .transpose()?;
        Ok((
            Some(
                self.ssl_policy
                    .clone()
                    .unwrap_or_else(|| DEFAULT_SSL_POLICY.into()),
            ),
            cert.map(|c| vec![Certificate::builder().certificate_arn(c).build()]),
        ))
    }
}

impl ResourceArgs for Listener {
    const TYPE: &'static str = "aws:lb/Listener";
}

impl Resource<Listener> {
    pub fn arn(&self) -> Output<String> {
        self.output("arn")
    }
}

/// A certificate ACM just issued is not visible to ELB yet (Terraform
/// retries create and modify for their 5-minute timeout). moto names the
/// code with the `Exception` suffix.
const NEW_CERTIFICATE: Retry = Retry::conflict(NEW_CERTIFICATE_CODES, Duration::from_secs(300));

const NEW_CERTIFICATE_CODES: &[&str] = &["CertificateNotFound", "CertificateNotFoundException"];

async fn by_arn(cx: &Call<'_, Elbv2>, arn: &str) -> Result<Option<SdkListener>, ProviderError> {
    Ok(cx
        .find("DescribeListeners", |c| {
            c.describe_listeners().listener_arns(arn).send()
        })
        .await?
        .and_then(|o| o.listeners().first().cloned()))
}

/// The final failure of a create or modify: a certificate still unknown
/// after the retries is the declaration's mistake, not a missing listener.
fn certificate_error(f: crate::provider::aws::call::Failure) -> ProviderError {
    if NEW_CERTIFICATE_CODES.contains(&f.code.as_str()) {
        ProviderError::invalid(
            "certificate_arn",
            "(not found by ELB)",
            format!("no such certificate after 5 minutes: {}", f.message),
        )
    } else {
        f.error
    }
}

#[async_trait]
impl AwsResource for Listener {
    type Service = Elbv2;
    const SCHEMA: Schema = Schema {
        force_new: &["load_balancer_arn"],
        optional_computed: &["ssl_policy"],
        terraform: &[Tf {
            resource: "aws_lb_listener",
            args: &[
                ("load_balancer_arn", "load_balancer_arn"),
                ("port", "port"),
                ("protocol", "protocol"),
                ("ssl_policy", "ssl_policy"),
                ("certificate_arn", "certificate_arn"),
                ("default_action", "default_action"),
                ("tags", "tags"),
            ],
            import_id: "{id}",
        }],
        ..Schema::NONE
    };

    fn check(&self) -> Result<(), ProviderError> {
        check_elb_arn(
            "load_balancer_arn",
            &self.load_balancer_arn,
            "loadbalancer/app/",
            "an application load balancer ARN",
        )?;
        in_range("port", self.port, 1..=65535)?;
        one_of("protocol", &self.protocol, &["HTTP", "HTTPS"])?;
        let https = self.protocol == "HTTPS";
        match (&self.certificate_arn, https) {
            (None, true) => {
                return Err(ProviderError::invalid(
                    "certificate_arn",
                    "(unset)",
                    "an HTTPS listener needs a certificate",
                ))
            }
            (Some(_), false) => {
                return Err(ProviderError::invalid(
                    "certificate_arn",
                    "(set)",
                    format!(
                        "only an HTTPS listener takes a certificate, not {}",
                        self.protocol
                    ),
                ))
            }
            (Some(c), true) => {
                if let Some(c) = c.known() {
                    check_arn(
                        "certificate_arn",
                        c,
                        "acm",
                        "certificate/",
                        "an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>)",
                    )?;
                }
            }
            (None, false) => {}
        }
        if let Some(p) = &self.ssl_policy {
            if !https {
                return Err(ProviderError::invalid(
                    "ssl_policy",
                    format!("{p:?}"),
                    "only an HTTPS listener takes a TLS policy",
                ));
            }
            if !p.starts_with("ELBSecurityPolicy-") {
                return Err(ProviderError::invalid(
                    "ssl_policy",
                    format!("{p:?}"),
                    format!("an ELB security policy name such as {DEFAULT_SSL_POLICY}"),
                ));
            }
        }
        self.default_action.check("default_action")
    }

    async fn create(&self, cx: &Call<'_, Elbv2>) -> Result<String, ProviderError> {
        let lb = self.load_balancer_arn.require("load_balancer_arn")?;
        let action = self.default_action.to_sdk("default_action")?;
        let (policy, certs) = self.https_parts()?;
        let out = cx
            .try_send_retrying(
                "CreateListener",
                // The load balancer or target group may be new too.
                &[NEW_CERTIFICATE, Retry::NEW_OBJECT],
                |c| {
                    c.create_listener()
                        .load_balancer_arn(lb)
                        .port(self.port)
                        .protocol(ProtocolEnum::from(self.protocol.as_str()))
                        .set_ssl_policy(policy.clone())
                        .set_certificates(certs.clone())
                        .default_actions(action.clone())
                        .set_tags(Some(sdk_tags(&cx.all_tags(&self.tags))))
                        .send()
                },
            )
            .await
            .map_err(certificate_error)?;
        out.listeners()
            .first()
            .and_then(|l| l.listener_arn())
            .map(str::to_string)
            .ok_or_else(|| cx.fatal("CreateListener returned no listener ARN"))
    }

    async fn read(
        cx: &Call<'_, Elbv2>,
        arn: &str,
        _declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError> {
        let Some(l) = by_arn(cx, arn).await? else {
            return Ok(None);
        };
        let certificate_arn = l
            .certificates()
            .iter()
            .find(|c| c.is_default() != Some(false))
            .and_then(|c| c.certificate_arn())
            .map(|c| Input::Value(c.to_string()));
        let args = Listener {
            load_balancer_arn: Input::Value(l.load_balancer_arn().unwrap_or_default().to_string()),
            port: l.port().unwrap_or_default(),
            protocol: l.protocol().map_or("", |p| p.as_str()).to_string(),
            ssl_policy: l.ssl_policy().map(str::to_string),
            certificate_arn,
            default_action: l
                .default_actions()
                .first()
                .map(Action::from_sdk)
                .unwrap_or_default(),
            tags: own_tags(cx, arn).await?,
        };
        Ok(Some(Live {
            args,
            outputs: json!({"id": arn, "arn": arn}),
        }))
    }

    async fn update(
        &self,
        old: &Self,
        cx: &Call<'_, Elbv2>,
        arn: &str,
    ) -> Result<(), ProviderError> {
        let mut changed = old.clone();
        changed.tags.clone_from(&self.tags);
        if &changed != self {
            // ModifyListener takes the whole listener.
            let action = self.default_action.to_sdk("default_action")?;
            let (policy, certs) = self.https_parts()?;
            cx.try_send_retrying(
                "ModifyListener",
                &[NEW_CERTIFICATE, Retry::NEW_OBJECT],
                |c| {
                    c.modify_listener()
                        .listener_arn(arn)
                        .port(self.port)
                        .protocol(ProtocolEnum::from(self.protocol.as_str()))
                        .set_ssl_policy(policy.clone())
                        .set_certificates(certs.clone())
                        .default_actions(action.clone())
                        .send()
                },
            )
            .await
            .map_err(certificate_error)?;
        }
        cx.update_tags(arn, &old.tags, &self.tags).await
    }

    async fn delete(&self, cx: &Call<'_, Elbv2>, arn: &str) -> Result<(), ProviderError> {
        cx.send("DeleteListener", |c| {
            c.delete_listener().listener_arn(arn).send()
        })
        .await
        .map(drop)
    }

    async fn find(&self, cx: &Call<'_, Elbv2>) -> Result<Vec<String>, ProviderError> {
        // The listeners of the load balancer, those tagged with our URN.
        let Some(lb) = self.load_balancer_arn.known() else {
            return Ok(Vec::new());
        };
        let Some(out) = cx
            .find("DescribeListeners", |c| {
                c.describe_listeners().load_balancer_arn(lb).send()
            })
            .await?
        else {
            return Ok(Vec::new());
        };
        let arns = out
            .listeners()
            .iter()
            .filter_map(|l| l.listener_arn().map(str::to_string))
            .collect();
        tagged_ours(cx, arns).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::aws::resource::Typed;
    use crate::provider::aws::Aws;
    use crate::provider::Provider;
    use std::sync::Arc;

    const LB: &str =
        "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/web/50dc6c495c0c9188";
    const CERT: &str = "arn:aws:acm:us-east-1:1:certificate/abc";

    fn p() -> Typed<Listener> {
        Typed::new(Arc::new(Aws::new(Default::default())))
    }

    fn err(l: &Listener) -> String {
        p().validate(&serde_json::to_value(l).unwrap())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn https_needs_a_certificate_and_http_takes_none() {
        let ok = Listener::https(LB, CERT, Action::fixed_response("404", "text/plain", None));
        assert!(p().validate(&serde_json::to_value(&ok).unwrap()).is_ok());
        let mut l = ok.clone();
        l.certificate_arn = None;
        assert!(err(&l).contains("certificate_arn"), "{}", err(&l));
        let mut l = Listener::http(LB, 80, Action::redirect_to_https());
        assert!(p().validate(&serde_json::to_value(&l).unwrap()).is_ok());
        l.ssl_policy = Some(DEFAULT_SSL_POLICY.into());
        assert!(err(&l).contains("ssl_policy"), "{}", err(&l));
        let mut l = ok.clone();
        l.certificate_arn = Some("arn:aws:iam::1:server-certificate/x".into());
        assert!(err(&l).contains("server-certificate/x"), "{}", err(&l));
        let mut l = ok;
        l.port = 0;
        assert!(err(&l).contains("port = 0"), "{}", err(&l));
    }
}
