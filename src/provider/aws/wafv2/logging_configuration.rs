//! `aws:wafv2/LoggingConfiguration` (Terraform
//! `aws_wafv2_web_acl_logging_configuration`): where a web ACL sends its
//! request logs (a CloudWatch Logs group, S3 bucket or Firehose stream whose
//! name begins `aws-waf-logs-`). The web ACL forces a replacement; the
//! destination changes in place (PutLoggingConfiguration again). The id is
//! the web ACL's ARN: an ACL has one logging configuration, found again by
//! its ACL.

use async_trait::async_trait;
use aws_sdk_wafv2::types::LoggingConfiguration as WireConfig;
use serde::{Deserialize, Serialize};
use serde_json::json;

use std::time::Duration;

use super::{check_acl_arn, Wafv2, UNAVAILABLE};
use crate::model::{Input, ResourceArgs};
use crate::provider::aws::call::{Call, Retry};
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::schema::{Schema, Tf};
use crate::provider::ProviderError;

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoggingConfiguration {
    /// `Resource<WebAcl>::arn()`.
    pub resource_arn: Input<String>,
    /// Exactly one destination ARN (`Resource<LogGroup>::arn()`, without
    /// DescribeLogGroups' `:*`).
    pub log_destination_configs: Vec<Input<String>>,
}

impl LoggingConfiguration {
    pub fn new(
        web_acl_arn: impl Into<Input<String>>,
        destination: impl Into<Input<String>>,
    ) -> Self {
        LoggingConfiguration {
            resource_arn: web_acl_arn.into(),
            log_destination_configs: vec![destination.into()],
        }
    }
}

impl ResourceArgs for LoggingConfiguration {
    const TYPE: &'static str = "aws:wafv2/LoggingConfiguration";
}

/// Another change of the web ACL's logging under way.
const BUSY: Retry = Retry::conflict(&["WAFOptimisticLockException"], Duration::from_secs(60));

/// WAF delivers only to destinations named `aws-waf-logs-…`.
const PREFIX: &str = "aws-waf-logs-";

fn check_destination(field: &str, arn: &str) -> Result<(), ProviderError> {
    let p: Vec<&str> = arn.splitn(6, ':').collect();
    let name = match p.as_slice() {
        ["arn", _, "logs", _, _, rest] => rest.strip_prefix("log-group:"),
        ["arn", _, "s3", "", "", bucket] => Some(*bucket),
        ["arn", _, "firehose", _, _, rest] => rest.strip_prefix("deliverystream/"),
        _ => None,
    };
    let reason = match name {
        None => {
            "expected the ARN of a CloudWatch Logs group, S3 bucket or Firehose delivery stream"
        }
        Some(n) if n.ends_with(":*") => {
            "a log group ARN without DescribeLogGroups' ':*' (WAF answers it without)"
        }
        Some(n) if !n.starts_with(PREFIX) => "the destination's name must begin with aws-waf-logs-",
        Some(_) => return Ok(()),
    };
    Err(ProviderError::invalid(field, format!("{arn:?}"), reason))
}

fn wire(acl: &str, destinations: &[String]) -> Result<WireConfig, ProviderError> {
    WireConfig::builder()
        .resource_arn(acl)
        .set_log_destination_configs(Some(destinations.to_vec()))
        .build()
        .map_err(|e| ProviderError::Fatal(e.to_string()))
}

async fn current(cx: &Call<'_, Wafv2>, acl: &str) -> Result<Option<Vec<String>>, ProviderError> {
    Ok(cx
        .find("GetLoggingConfiguration", |c| {
            c.get_logging_configuration().resource_arn(acl).send()
        })
        .await?
        .and_then(|o| {
            o.logging_configuration()
                .map(|l| l.log_destination_configs().to_vec())
        }))
}

impl LoggingConfiguration {
    async fn put(&self, cx: &Call<'_, Wafv2>) -> Result<String, ProviderError> {
        let acl = self.resource_arn.require("resource_arn")?;
        let mut destinations = Vec::new();
        for (i, d) in self.log_destination_configs.iter().enumerate() {
            destinations.push(
                d.require(&format!("log_destination_configs[{i}]"))?
                    .to_string(),
            );
        }
        let config = wire(acl, &destinations)?;
        cx.send_retrying("PutLoggingConfiguration", &[UNAVAILABLE, BUSY], |c| {
            c.put_logging_configuration()
                .logging_configuration(config.clone())
                .send()
        })
        .await?;
        Ok(acl.to_string())
    }
}

#[async_trait]
impl AwsResource for LoggingConfiguration {
    type Service = Wafv2;
    const SCHEMA: Schema = Schema {
        force_new: &["resource_arn"],
        terraform: &[Tf {
            resource: "aws_wafv2_web_acl_logging_configuration",
            args: &[
                ("resource_arn", "resource_arn"),
                ("log_destination_configs", "log_destination_configs"),
            ],
            import_id: "{resource_arn}",
        }],
        ..Schema::NONE
    };

    fn check(&self) -> Result<(), ProviderError> {
        if let Some(a) = self.resource_arn.known() {
            check_acl_arn("resource_arn", a)?;
        }
        if self.log_destination_configs.len() != 1 {
            return Err(ProviderError::invalid(
                "log_destination_configs",
                format!("{} destinations", self.log_destination_configs.len()),
                "exactly one destination",
            ));
        }
        for (i, d) in self.log_destination_configs.iter().enumerate() {
            if let Some(d) = d.known() {
                check_destination(&format!("log_destination_configs[{i}]"), d)?;
            }
        }
        Ok(())
    }

    async fn create(&self, cx: &Call<'_, Wafv2>) -> Result<String, ProviderError> {
        self.put(cx).await
    }

    async fn read(
        cx: &Call<'_, Wafv2>,
        acl: &str,
        _declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError> {
        let Some(destinations) = current(cx, acl).await? else {
            return Ok(None);
        };
        Ok(Some(Live {
            args: LoggingConfiguration {
                resource_arn: Input::Value(acl.to_string()),
                log_destination_configs: destinations.into_iter().map(Input::Value).collect(),
            },
            outputs: json!({"id": acl}),
        }))
    }

    async fn update(
        &self,
        old: &Self,
        cx: &Call<'_, Wafv2>,
        _acl: &str,
    ) -> Result<(), ProviderError> {
        if old.log_destination_configs != self.log_destination_configs {
            self.put(cx).await?;
        }
        Ok(())
    }

    async fn delete(&self, cx: &Call<'_, Wafv2>, acl: &str) -> Result<(), ProviderError> {
        cx.send_retrying("DeleteLoggingConfiguration", &[BUSY], |c| {
            c.delete_logging_configuration().resource_arn(acl).send()
        })
        .await
        .map(drop)
    }

    async fn find(&self, cx: &Call<'_, Wafv2>) -> Result<Vec<String>, ProviderError> {
        let Some(acl) = self.resource_arn.known() else {
            return Ok(Vec::new());
        };
        let declared: Vec<Option<&String>> = self
            .log_destination_configs
            .iter()
            .map(Input::known)
            .collect();
        // Only a configuration that sends where this one does is ours.
        Ok(match current(cx, acl).await? {
            Some(now) if now.iter().map(Some).eq(declared.iter().copied()) => {
                vec![acl.to_string()]
            }
            _ => Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACL: &str = "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/morket/abc";

    #[test]
    fn destinations_are_checked_before_any_call() {
        let group = "arn:aws:logs:eu-west-1:123456789012:log-group:aws-waf-logs-morket";
        LoggingConfiguration::new(ACL, group).check().unwrap();
        LoggingConfiguration::new(ACL, "arn:aws:s3:::aws-waf-logs-morket")
            .check()
            .unwrap();
        let e = LoggingConfiguration::new(ACL, format!("{group}:*").as_str())
            .check()
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("log_destination_configs[0]") && e.contains(":*"),
            "{e}"
        );
        let e = LoggingConfiguration::new(
            ACL,
            "arn:aws:logs:eu-west-1:123456789012:log-group:/morket/waf",
        )
        .check()
        .unwrap_err()
        .to_string();
        assert!(e.contains("aws-waf-logs-"), "{e}");
        let mut two = LoggingConfiguration::new(ACL, group);
        two.log_destination_configs.push(group.to_string().into());
        let e = two.check().unwrap_err().to_string();
        assert!(
            e.contains("log_destination_configs = 2 destinations"),
            "{e}"
        );
        let e = LoggingConfiguration::new("morket", group)
            .check()
            .unwrap_err()
            .to_string();
        assert!(e.contains("resource_arn = \"morket\""), "{e}");
    }
}
