//! `aws:ec2/FlowLog` (Terraform `aws_flow_log`) for a VPC. Everything but the
//! tags forces a replacement, as in Terraform.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_ec2::types::{FlowLogsResourceType, LogDestinationType, ResourceType, TrafficType};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::route_table::{check_id, ec2_arn, filter, known};
use super::{from_tags, tag_spec, update_tags, urn_filter};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::logs::check_log_group_name;
use crate::provider::aws::tags::{self, Tags};
use crate::provider::aws::{error, Aws};
use crate::provider::{parse, Created, Ctx, Provider, ProviderError, ReadResult};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowLog {
    /// The VPC whose traffic is logged.
    pub vpc_id: Input<String>,
    /// `ALL`, `ACCEPT` or `REJECT`.
    #[serde(default = "all")]
    pub traffic_type: String,
    /// `cloud-watch-logs`, `s3` or `kinesis-data-firehose`.
    #[serde(default = "cwl")]
    pub log_destination_type: String,
    /// CloudWatch Logs group name (cloud-watch-logs only; or give
    /// `log_destination`). A `LogGroup`'s `name()` orders the group first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_group_name: Option<Input<String>>,
    /// ARN of the log group, bucket or delivery stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_destination: Option<Input<String>>,
    /// IAM role that publishes to CloudWatch Logs (required there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deliver_logs_permission_arn: Option<Input<String>>,
    /// Seconds: 60 or 600.
    #[serde(default = "six_hundred")]
    pub max_aggregation_interval: i32,
    #[serde(default)]
    pub tags: Tags,
}

fn all() -> String {
    "ALL".into()
}
fn cwl() -> String {
    "cloud-watch-logs".into()
}
fn six_hundred() -> i32 {
    600
}

impl FlowLog {
    /// All traffic of `vpc_id` to the CloudWatch Logs group `log_group_name`,
    /// published by the IAM role `deliver_logs_permission_arn`.
    pub fn new(
        vpc_id: impl Into<Input<String>>,
        log_group_name: impl Into<Input<String>>,
        deliver_logs_permission_arn: impl Into<Input<String>>,
    ) -> Self {
        FlowLog {
            vpc_id: vpc_id.into(),
            traffic_type: all(),
            log_destination_type: cwl(),
            log_group_name: Some(log_group_name.into()),
            log_destination: None,
            deliver_logs_permission_arn: Some(deliver_logs_permission_arn.into()),
            max_aggregation_interval: six_hundred(),
            tags: Tags::new(),
        }
    }
}

impl ResourceArgs for FlowLog {
    const TYPE: &'static str = "aws:ec2/FlowLog";
}

impl Resource<FlowLog> {
    pub fn arn(&self) -> Output<String> {
        self.output("arn")
    }
    pub fn log_destination(&self) -> Output<String> {
        self.output("log_destination")
    }
}

fn check_arn(field: &str, v: &Input<String>, service: &str) -> Result<(), ProviderError> {
    if let Some(s) = v.known() {
        let parts: Vec<&str> = s.splitn(6, ':').collect();
        if parts.len() != 6 || parts[0] != "arn" || (!service.is_empty() && parts[2] != service) {
            let what = if service.is_empty() {
                "an ARN".to_string()
            } else {
                format!("an {service} ARN")
            };
            return Err(ProviderError::invalid(
                field,
                format!("{s:?}"),
                format!("expected {what} (arn:partition:service:region:account:resource)"),
            ));
        }
    }
    Ok(())
}

pub struct FlowLogProvider {
    aws: Arc<Aws>,
}

impl FlowLogProvider {
    pub fn new(aws: Arc<Aws>) -> Self {
        FlowLogProvider { aws }
    }

    async fn describe(
        &self,
        ctx: &Ctx,
        id: &str,
    ) -> Result<Option<aws_sdk_ec2::types::FlowLog>, ProviderError> {
        self.aws.limits.ec2_describe.acquire().await;
        match self
            .aws
            .ec2()
            .await
            .describe_flow_logs()
            .flow_log_ids(id)
            .send()
            .await
        {
            Ok(out) => Ok(out
                .flow_logs()
                .iter()
                .find(|f| f.flow_log_id() == Some(id))
                .cloned()),
            Err(e) => match error::map(&ctx.urn, "DescribeFlowLogs", e) {
                ProviderError::NotFound(_) => Ok(None),
                other => Err(other),
            },
        }
    }

    /// The account id, from the logged VPC's owner.
    async fn account(&self, ctx: &Ctx, vpc_id: &str) -> Result<String, ProviderError> {
        self.aws.limits.ec2_describe.acquire().await;
        let out = self
            .aws
            .ec2()
            .await
            .describe_vpcs()
            .filters(filter("vpc-id", vpc_id))
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "DescribeVpcs", e))?;
        Ok(out
            .vpcs()
            .first()
            .and_then(|v| v.owner_id())
            .unwrap_or_default()
            .to_string())
    }

    async fn outputs(
        &self,
        ctx: &Ctx,
        f: &aws_sdk_ec2::types::FlowLog,
    ) -> Result<Value, ProviderError> {
        let id = f.flow_log_id().unwrap_or_default();
        let account = self
            .account(ctx, f.resource_id().unwrap_or_default())
            .await?;
        Ok(json!({
            "id": id,
            "arn": ec2_arn(&self.aws, &account, "vpc-flow-log", id).await,
            "log_destination": f.log_destination(),
            "log_format": f.log_format(),
            "deliver_logs_status": f.deliver_logs_status(),
            "flow_log_status": f.flow_log_status(),
        }))
    }

    /// The live view, in the declaration's terms: AWS reports both the log
    /// group name and its ARN, only the one the declaration used is compared.
    fn live_view(&self, f: &aws_sdk_ec2::types::FlowLog, declared: Option<&FlowLog>) -> FlowLog {
        let by_arn = declared.is_some_and(|d| d.log_destination.is_some());
        FlowLog {
            vpc_id: Input::Value(f.resource_id().unwrap_or_default().to_string()),
            traffic_type: f
                .traffic_type()
                .map(|t| t.as_str().to_string())
                .unwrap_or_else(all),
            log_destination_type: f
                .log_destination_type()
                .map(|t| t.as_str().to_string())
                .unwrap_or_else(cwl),
            log_group_name: if by_arn {
                None
            } else {
                f.log_group_name().map(|s| Input::Value(s.to_string()))
            },
            log_destination: if by_arn {
                f.log_destination().map(|s| Input::Value(s.to_string()))
            } else {
                None
            },
            deliver_logs_permission_arn: f
                .deliver_logs_permission_arn()
                .map(|s| Input::Value(s.to_string())),
            max_aggregation_interval: f.max_aggregation_interval().unwrap_or(600),
            tags: tags::own_view(&self.aws.settings.default_tags, &from_tags(f.tags())),
        }
    }
}

#[async_trait]
impl Provider for FlowLogProvider {
    fn type_name(&self) -> &'static str {
        FlowLog::TYPE
    }

    fn force_new(&self) -> &'static [&'static str] {
        &[
            "vpc_id",
            "traffic_type",
            "log_destination_type",
            "log_group_name",
            "log_destination",
            "deliver_logs_permission_arn",
            "max_aggregation_interval",
        ]
    }

    fn concurrency(&self) -> Option<(&'static str, usize)> {
        Some(("ec2", 20))
    }

    fn validate(&self, inputs: &Value) -> Result<(), ProviderError> {
        let f: FlowLog = parse(inputs)?;
        check_id("vpc_id", &f.vpc_id, &["vpc-"])?;
        if !matches!(f.traffic_type.as_str(), "ALL" | "ACCEPT" | "REJECT") {
            return Err(ProviderError::invalid(
                "traffic_type",
                format!("{:?}", f.traffic_type),
                "must be ALL, ACCEPT or REJECT",
            ));
        }
        let cwl = match f.log_destination_type.as_str() {
            "cloud-watch-logs" => true,
            "s3" | "kinesis-data-firehose" => false,
            other => {
                return Err(ProviderError::invalid(
                    "log_destination_type",
                    format!("{other:?}"),
                    "must be cloud-watch-logs, s3 or kinesis-data-firehose",
                ))
            }
        };
        if ![60, 600].contains(&f.max_aggregation_interval) {
            return Err(ProviderError::invalid(
                "max_aggregation_interval",
                f.max_aggregation_interval,
                "must be 60 or 600 (seconds)",
            ));
        }
        let group = f.log_group_name.as_ref().map(|g| match g.known() {
            Some(g) => format!("{g:?}"),
            None => "(known after apply)".to_string(),
        });
        if let Some(g) = &group {
            if !cwl {
                return Err(ProviderError::invalid(
                    "log_group_name",
                    g,
                    format!(
                        "only for log_destination_type cloud-watch-logs, not {}",
                        f.log_destination_type
                    ),
                ));
            }
        }
        if let Some(g) = f.log_group_name.as_ref().and_then(Input::known) {
            check_log_group_name("log_group_name", g)?;
        }
        match (&group, &f.log_destination) {
            (Some(g), Some(_)) => {
                return Err(ProviderError::invalid(
                    "log_group_name",
                    g,
                    "give log_group_name or log_destination, not both",
                ))
            }
            (None, None) => {
                return Err(ProviderError::invalid(
                    "log_destination",
                    "(unset)",
                    if cwl {
                        "give log_group_name or log_destination"
                    } else {
                        "required for s3 and kinesis-data-firehose"
                    },
                ))
            }
            (None, Some(d)) => check_arn(
                "log_destination",
                d,
                match f.log_destination_type.as_str() {
                    "cloud-watch-logs" => "logs",
                    "s3" => "s3",
                    _ => "firehose",
                },
            )?,
            (Some(_), None) => {}
        }
        match &f.deliver_logs_permission_arn {
            Some(r) => {
                check_arn("deliver_logs_permission_arn", r, "iam")?;
                if let Some(s) = r.known() {
                    if !s.contains(":role/") {
                        return Err(ProviderError::invalid(
                            "deliver_logs_permission_arn",
                            format!("{s:?}"),
                            "expected an IAM role ARN (arn:aws:iam::<account>:role/<name>)",
                        ));
                    }
                }
            }
            None if cwl => {
                return Err(ProviderError::invalid(
                    "deliver_logs_permission_arn",
                    "(unset)",
                    "required for log_destination_type cloud-watch-logs",
                ))
            }
            None => {}
        }
        tags::validate(&f.tags)
    }

    async fn create(&self, ctx: &Ctx, inputs: &Value) -> Result<Created, ProviderError> {
        let f: FlowLog = parse(inputs)?;
        let vpc = known(ctx, "vpc_id", &f.vpc_id)?;
        let group = f
            .log_group_name
            .as_ref()
            .map(|g| known(ctx, "log_group_name", g))
            .transpose()?;
        let dest = f
            .log_destination
            .as_ref()
            .map(|d| known(ctx, "log_destination", d))
            .transpose()?;
        let role = f
            .deliver_logs_permission_arn
            .as_ref()
            .map(|d| known(ctx, "deliver_logs_permission_arn", d))
            .transpose()?;
        self.aws.limits.ec2_mutating.acquire().await;
        let out = self
            .aws
            .ec2()
            .await
            .create_flow_logs()
            .resource_type(FlowLogsResourceType::Vpc)
            .resource_ids(vpc)
            .traffic_type(TrafficType::from(f.traffic_type.as_str()))
            .log_destination_type(LogDestinationType::from(f.log_destination_type.as_str()))
            .set_log_group_name(group.map(str::to_string))
            .set_log_destination(dest.map(str::to_string))
            .set_deliver_logs_permission_arn(role.map(str::to_string))
            .max_aggregation_interval(f.max_aggregation_interval)
            .tag_specifications(tag_spec(&self.aws, ctx, ResourceType::VpcFlowLog, &f.tags))
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "CreateFlowLogs", e))?;
        if let Some(u) = out.unsuccessful().first() {
            let (code, msg) = u
                .error()
                .map(|e| (e.code().unwrap_or("Unknown"), e.message().unwrap_or("")))
                .unwrap_or(("Unknown", ""));
            return Err(error::classify(&ctx.urn, "CreateFlowLogs", code, msg));
        }
        let id = out
            .flow_log_ids()
            .first()
            .ok_or_else(|| {
                ProviderError::Fatal(format!("{}: CreateFlowLogs returned no id", ctx.urn))
            })?
            .to_string();
        let live = self.describe(ctx, &id).await?.ok_or_else(|| {
            ProviderError::Fatal(format!(
                "{}: flow log {id} not found after CreateFlowLogs",
                ctx.urn
            ))
        })?;
        let outputs = self.outputs(ctx, &live).await?;
        Ok(Created { id, outputs })
    }

    async fn read(
        &self,
        ctx: &Ctx,
        id: &str,
        inputs: &Value,
        _outputs: &Value,
    ) -> Result<Option<ReadResult>, ProviderError> {
        let Some(f) = self.describe(ctx, id).await? else {
            return Ok(None);
        };
        let declared: Option<FlowLog> = parse(inputs).ok();
        Ok(Some(ReadResult {
            inputs: serde_json::to_value(self.live_view(&f, declared.as_ref()))
                .expect("serializable"),
            outputs: self.outputs(ctx, &f).await?,
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
        let (o, n): (FlowLog, FlowLog) = (parse(old_inputs)?, parse(new_inputs)?);
        update_tags(&self.aws, ctx, id, &o.tags, &n.tags).await?;
        match self.describe(ctx, id).await? {
            Some(f) => self.outputs(ctx, &f).await,
            None => Err(ProviderError::NotFound(format!(
                "{}: flow log {id} disappeared during update",
                ctx.urn
            ))),
        }
    }

    async fn delete(
        &self,
        ctx: &Ctx,
        id: &str,
        _inputs: &Value,
        _outputs: &Value,
    ) -> Result<(), ProviderError> {
        self.aws.limits.ec2_mutating.acquire().await;
        let out = match self
            .aws
            .ec2()
            .await
            .delete_flow_logs()
            .flow_log_ids(id)
            .send()
            .await
        {
            Ok(o) => o,
            Err(e) => {
                return match error::map(&ctx.urn, "DeleteFlowLogs", e) {
                    ProviderError::NotFound(_) => Ok(()),
                    other => Err(other),
                }
            }
        };
        // Failures per id come back in the body, not as an error.
        match out.unsuccessful().first().and_then(|u| u.error()) {
            None => Ok(()),
            Some(e) => match error::classify(
                &ctx.urn,
                "DeleteFlowLogs",
                e.code().unwrap_or("Unknown"),
                e.message().unwrap_or(""),
            ) {
                ProviderError::NotFound(_) => Ok(()),
                other => Err(other),
            },
        }
    }

    async fn find_by_urn(&self, ctx: &Ctx, _inputs: &Value) -> Result<Vec<Created>, ProviderError> {
        self.aws.limits.ec2_describe.acquire().await;
        let out = self
            .aws
            .ec2()
            .await
            .describe_flow_logs()
            .filter(urn_filter(ctx))
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "DescribeFlowLogs", e))?;
        let mut found = Vec::new();
        for f in out.flow_logs() {
            found.push(Created {
                id: f.flow_log_id().unwrap_or_default().to_string(),
                outputs: self.outputs(ctx, f).await?,
            });
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> FlowLogProvider {
        FlowLogProvider::new(Arc::new(Aws::new(Default::default())))
    }

    fn ok() -> Value {
        json!({"vpc_id": "vpc-1", "log_group_name": "/vpc/flow",
               "deliver_logs_permission_arn": "arn:aws:iam::123456789012:role/flow"})
    }

    fn err(patch: Value) -> String {
        let mut v = ok();
        for (k, x) in patch.as_object().unwrap() {
            if x.is_null() {
                v.as_object_mut().unwrap().remove(k);
            } else {
                v[k] = x.clone();
            }
        }
        p().validate(&v).unwrap_err().to_string()
    }

    #[test]
    fn validation_names_field_and_value() {
        assert!(p().validate(&ok()).is_ok());
        let e = err(json!({"traffic_type": "SOME"}));
        assert!(e.contains("traffic_type") && e.contains("SOME"), "{e}");
        let e = err(json!({"max_aggregation_interval": 300}));
        assert!(
            e.contains("max_aggregation_interval") && e.contains("300"),
            "{e}"
        );
        let e = err(json!({"deliver_logs_permission_arn": null}));
        assert!(e.contains("deliver_logs_permission_arn"), "{e}");
        let e = err(json!({"deliver_logs_permission_arn": "arn:aws:iam::1:user/x"}));
        assert!(e.contains("user/x"), "{e}");
        let e = err(json!({"log_group_name": null}));
        assert!(e.contains("log_destination"), "{e}");
        let e = err(json!({"log_destination": "arn:aws:logs:us-east-1:1:log-group:x"}));
        assert!(e.contains("not both"), "{e}");
        let e = err(json!({"log_destination_type": "s3"}));
        assert!(e.contains("log_group_name"), "{e}");
        // A reference to a LogGroup's name is checked once known.
        assert!(p()
            .validate(&{
                let mut v = ok();
                v["log_group_name"] = crate::value::unknown();
                v
            })
            .is_ok());
        let e = err(json!({"log_group_name": "bad name"}));
        assert!(
            e.contains("log_group_name") && e.contains("bad name"),
            "{e}"
        );
        let e = err(json!({"log_destination_type": "kafka"}));
        assert!(e.contains("kafka"), "{e}");
    }
}
