//! `aws:logs/LogGroup` (Terraform `aws_cloudwatch_log_group`). The name is
//! the identity and forces a replacement; retention and the KMS key change in
//! place.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_cloudwatchlogs::types::LogGroup as CwLogGroup;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{check_log_group_name, create_tags, has_urn, list_tags, update_tags, RETENTION_DAYS};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::error::{self, none_if_gone};
use crate::provider::aws::tags::{self, Tags};
use crate::provider::aws::{check_arn, Aws};
use crate::provider::{parse, Created, Ctx, Provider, ProviderError, ReadResult};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogGroup {
    /// 1 to 512 characters of a-z, A-Z, 0-9 and `._-/#`.
    pub name: String,
    /// Days to keep events (one of [`RETENTION_DAYS`]); unset keeps them forever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_in_days: Option<i32>,
    /// ARN of the KMS key that encrypts the group's data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<Input<String>>,
    #[serde(default)]
    pub tags: Tags,
}

impl LogGroup {
    pub fn new(name: &str) -> Self {
        LogGroup {
            name: name.into(),
            retention_in_days: None,
            kms_key_id: None,
            tags: Tags::new(),
        }
    }
}

impl ResourceArgs for LogGroup {
    const TYPE: &'static str = "aws:logs/LogGroup";
}

impl Resource<LogGroup> {
    /// The group name (what a flow log's `log_group_name` takes).
    pub fn name(&self) -> Output<String> {
        self.output("name")
    }
    /// The group ARN, without the `:*` that DescribeLogGroups appends.
    pub fn arn(&self) -> Output<String> {
        self.output("arn")
    }
}

/// The ARN IAM policies and tagging take: DescribeLogGroups' `arn` ends in
/// `:*` (all streams); `logGroupArn` does not, but older responses lack it.
fn group_arn(g: &CwLogGroup) -> String {
    g.log_group_arn()
        .or(g.arn())
        .map(|a| a.strip_suffix(":*").unwrap_or(a).to_string())
        .unwrap_or_default()
}

fn outputs(g: &CwLogGroup) -> Value {
    let name = g.log_group_name().unwrap_or_default();
    json!({"id": name, "name": name, "arn": group_arn(g)})
}

pub struct LogGroupProvider {
    aws: Arc<Aws>,
}

impl LogGroupProvider {
    pub fn new(aws: Arc<Aws>) -> Self {
        LogGroupProvider { aws }
    }

    /// The group of exactly this name (the API filters by prefix only).
    async fn describe(&self, ctx: &Ctx, name: &str) -> Result<Option<CwLogGroup>, ProviderError> {
        self.aws.limits.logs.acquire().await;
        let mut pages = self
            .aws
            .logs()
            .await
            .describe_log_groups()
            .log_group_name_prefix(name)
            .into_paginator()
            .items()
            .send();
        while let Some(g) = pages.next().await {
            let g = g.map_err(|e| error::map(&ctx.urn, "DescribeLogGroups", e));
            match none_if_gone(g)? {
                Some(g) if g.log_group_name() == Some(name) => return Ok(Some(g)),
                Some(_) => {}
                None => return Ok(None),
            }
        }
        Ok(None)
    }

    /// The live group in the declaration's terms, its outputs and all its tags.
    async fn live(
        &self,
        ctx: &Ctx,
        name: &str,
    ) -> Result<Option<(LogGroup, Value, Tags)>, ProviderError> {
        let Some(g) = self.describe(ctx, name).await? else {
            return Ok(None);
        };
        let live_tags = list_tags(&self.aws, ctx, &group_arn(&g)).await?;
        let live = LogGroup {
            name: name.to_string(),
            retention_in_days: g.retention_in_days(),
            kms_key_id: g.kms_key_id().map(|k| Input::Value(k.to_string())),
            tags: tags::own_view(&self.aws.settings.default_tags, &live_tags),
        };
        Ok(Some((live, outputs(&g), live_tags)))
    }

    /// Moves the group from `o` to `n`.
    async fn reconcile(
        &self,
        ctx: &Ctx,
        arn: &str,
        o: &LogGroup,
        n: &LogGroup,
    ) -> Result<(), ProviderError> {
        let logs = self.aws.logs().await;
        let name = n.name.as_str();
        if o.retention_in_days != n.retention_in_days {
            self.aws.limits.logs.acquire().await;
            match n.retention_in_days {
                Some(days) => logs
                    .put_retention_policy()
                    .log_group_name(name)
                    .retention_in_days(days)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| error::map(&ctx.urn, "PutRetentionPolicy", e))?,
                None => logs
                    .delete_retention_policy()
                    .log_group_name(name)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| error::map(&ctx.urn, "DeleteRetentionPolicy", e))?,
            }
        }
        let (ok, nk) = (
            o.kms_key_id.as_ref().and_then(Input::known),
            n.kms_key_id.as_ref().and_then(Input::known),
        );
        if ok != nk {
            self.aws.limits.logs.acquire().await;
            match nk {
                Some(key) => logs
                    .associate_kms_key()
                    .log_group_name(name)
                    .kms_key_id(key)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| error::map(&ctx.urn, "AssociateKmsKey", e))?,
                None => logs
                    .disassociate_kms_key()
                    .log_group_name(name)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| error::map(&ctx.urn, "DisassociateKmsKey", e))?,
            }
        }
        if o.tags != n.tags {
            update_tags(&self.aws, ctx, arn, &o.tags, &n.tags).await?;
        }
        Ok(())
    }
}

#[async_trait]
impl Provider for LogGroupProvider {
    fn type_name(&self) -> &'static str {
        LogGroup::TYPE
    }

    fn force_new(&self) -> &'static [&'static str] {
        &["name"]
    }

    fn concurrency(&self) -> Option<(&'static str, usize)> {
        Some(("logs", 5))
    }

    fn validate(&self, inputs: &Value) -> Result<(), ProviderError> {
        let g: LogGroup = parse(inputs)?;
        check_log_group_name("name", &g.name)?;
        if let Some(d) = g.retention_in_days {
            if !RETENTION_DAYS.contains(&d) {
                return Err(ProviderError::invalid(
                    "retention_in_days",
                    d,
                    format!("must be one of {RETENTION_DAYS:?} (or unset to keep events forever)"),
                ));
            }
        }
        if let Some(k) = g.kms_key_id.as_ref().and_then(Input::known) {
            check_arn(
                "kms_key_id",
                k,
                "kms",
                "key/",
                "a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)",
            )?;
        }
        tags::validate(&g.tags)
    }

    async fn create(&self, ctx: &Ctx, inputs: &Value) -> Result<Created, ProviderError> {
        let g: LogGroup = parse(inputs)?;
        let kms = match &g.kms_key_id {
            Some(k) => Some(k.known().cloned().ok_or_else(|| {
                ProviderError::Fatal(format!(
                    "{}: kms_key_id is not known at apply time",
                    ctx.urn
                ))
            })?),
            None => None,
        };
        self.aws.limits.logs.acquire().await;
        let created = self
            .aws
            .logs()
            .await
            .create_log_group()
            .log_group_name(&g.name)
            .set_kms_key_id(kms)
            .set_tags(Some(create_tags(&self.aws, ctx, &g.tags)))
            .send()
            .await;
        // Retention is a second call; a retried create finds its own group
        // (by the URN tag) and carries on from what is live.
        let from = match created {
            Ok(_) => LogGroup {
                retention_in_days: None,
                ..g.clone()
            },
            Err(e) if e.code() == Some("ResourceAlreadyExistsException") => {
                let err = error::map(&ctx.urn, "CreateLogGroup", e);
                match self.live(ctx, &g.name).await? {
                    Some((live, _, t)) if has_urn(ctx, &t) => live,
                    _ => return Err(err),
                }
            }
            Err(e) => return Err(error::map(&ctx.urn, "CreateLogGroup", e)),
        };
        let live = self.describe(ctx, &g.name).await?.ok_or_else(|| {
            ProviderError::Fatal(format!(
                "{}: log group {} not found after CreateLogGroup",
                ctx.urn, g.name
            ))
        })?;
        self.reconcile(ctx, &group_arn(&live), &from, &g).await?;
        Ok(Created {
            id: g.name.clone(),
            outputs: outputs(&live),
        })
    }

    async fn read(
        &self,
        ctx: &Ctx,
        id: &str,
        _inputs: &Value,
        _outputs: &Value,
    ) -> Result<Option<ReadResult>, ProviderError> {
        Ok(self
            .live(ctx, id)
            .await?
            .map(|(live, outputs, _)| ReadResult {
                inputs: serde_json::to_value(live).expect("serializable"),
                outputs,
            }))
    }

    async fn update(
        &self,
        ctx: &Ctx,
        id: &str,
        old_inputs: &Value,
        new_inputs: &Value,
        _old_outputs: &Value,
    ) -> Result<Value, ProviderError> {
        let (o, n): (LogGroup, LogGroup) = (parse(old_inputs)?, parse(new_inputs)?);
        let Some(live) = self.describe(ctx, id).await? else {
            return Err(ProviderError::NotFound(format!(
                "{}: log group {id} disappeared before update",
                ctx.urn
            )));
        };
        self.reconcile(ctx, &group_arn(&live), &o, &n).await?;
        Ok(outputs(&live))
    }

    async fn delete(
        &self,
        ctx: &Ctx,
        id: &str,
        _inputs: &Value,
        _outputs: &Value,
    ) -> Result<(), ProviderError> {
        self.aws.limits.logs.acquire().await;
        let r = self
            .aws
            .logs()
            .await
            .delete_log_group()
            .log_group_name(id)
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "DeleteLogGroup", e));
        none_if_gone(r).map(|_| ())
    }

    async fn find_by_urn(&self, ctx: &Ctx, inputs: &Value) -> Result<Vec<Created>, ProviderError> {
        // The name is the identity: a group of that name carrying our URN tag.
        let g: LogGroup = parse(inputs)?;
        Ok(match self.live(ctx, &g.name).await? {
            Some((_, outputs, t)) if has_urn(ctx, &t) => vec![Created {
                id: g.name,
                outputs,
            }],
            _ => Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> LogGroupProvider {
        LogGroupProvider::new(Arc::new(Aws::new(Default::default())))
    }

    #[test]
    fn validation_names_field_and_value() {
        let ok = json!({"name": "/vpc/flow-logs", "retention_in_days": 30});
        assert!(p().validate(&ok).is_ok());
        let e = p()
            .validate(&json!({"name": "x", "retention_in_days": 31}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("retention_in_days") && e.contains("31"), "{e}");
        let e = p()
            .validate(&json!({"name": "a b"}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("name") && e.contains("a b"), "{e}");
        let e = p()
            .validate(&json!({"name": "x", "kms_key_id": "alias/logs"}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("kms_key_id") && e.contains("alias/logs"), "{e}");
    }

    #[test]
    fn arn_loses_the_streams_suffix() {
        let g = CwLogGroup::builder()
            .log_group_name("/a")
            .arn("arn:aws:logs:us-east-1:1:log-group:/a:*")
            .build();
        assert_eq!(group_arn(&g), "arn:aws:logs:us-east-1:1:log-group:/a");
    }
}
