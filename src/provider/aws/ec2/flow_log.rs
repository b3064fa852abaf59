//! `aws:ec2/FlowLog` (Terraform `aws_flow_log`) for a VPC. Everything but the
//! tags forces a replacement, as in Terraform.

use async_trait::async_trait;
use aws_sdk_ec2::types::{FlowLogsResourceType, LogDestinationType, ResourceType, TrafficType};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{filter, from_tags, Ec2};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::call::{Call, Retry};
use crate::provider::aws::error::classify_op;
use crate::provider::aws::logs::check_log_group_name;
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::aws::tags::Tags;
use crate::provider::aws::validate::{check_id, one_of};
use crate::provider::schema::{Conv, Schema, Tf};
use crate::provider::ProviderError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FlowLog {
    /// The VPC whose traffic is logged.
    pub vpc_id: Input<String>,
    /// `ALL`, `ACCEPT` or `REJECT`.
    pub traffic_type: String,
    /// `cloud-watch-logs`, `s3` or `kinesis-data-firehose`.
    pub log_destination_type: String,
    /// CloudWatch Logs group name (cloud-watch-logs only; or give
    /// `log_destination`). A `LogGroup`'s `name()` orders the group first.
    pub log_group_name: Option<Input<String>>,
    /// ARN of the log group, bucket or delivery stream.
    pub log_destination: Option<Input<String>>,
    /// IAM role that publishes to CloudWatch Logs (required there).
    pub deliver_logs_permission_arn: Option<Input<String>>,
    /// Seconds: 60 or 600.
    pub max_aggregation_interval: i32,
    pub tags: Tags,
}

impl Default for FlowLog {
    fn default() -> Self {
        FlowLog {
            vpc_id: Input::default(),
            traffic_type: "ALL".into(),
            log_destination_type: "cloud-watch-logs".into(),
            log_group_name: None,
            log_destination: None,
            deliver_logs_permission_arn: None,
            max_aggregation_interval: 600,
            tags: Tags::new(),
        }
    }
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
            log_group_name: Some(log_group_name.into()),
            deliver_logs_permission_arn: Some(deliver_logs_permission_arn.into()),
            ..Default::default()
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
        if parts.len() != 6 || parts[0] != "arn" || parts[2] != service {
            return Err(ProviderError::invalid(
                field,
                format!("{s:?}"),
                format!(
                    "expected an {service} ARN (arn:partition:service:region:account:resource)"
                ),
            ));
        }
    }
    Ok(())
}

/// A known value for error messages; references are checked when known.
fn shown(v: &Input<String>) -> String {
    v.known()
        .map_or("(known after apply)".to_string(), |s| format!("{s:?}"))
}

/// A client token for one CreateFlowLogs: the SDK does not fill one in
/// (Terraform sends one), and the propagation retries of one attempt send
/// the same one, so a retry of a create AWS did apply returns that flow log.
fn client_token() -> String {
    format!("morket-{:032x}", rand::random::<u128>())
}

/// The CreateFlowLogs request of `f` for the VPC `vpc`.
fn create_request(
    c: &aws_sdk_ec2::Client,
    f: &FlowLog,
    vpc: &str,
    token: &str,
    tags: aws_sdk_ec2::types::TagSpecification,
) -> Result<
    aws_sdk_ec2::operation::create_flow_logs::builders::CreateFlowLogsFluentBuilder,
    ProviderError,
> {
    let known = |field: &str, v: &Option<Input<String>>| {
        v.as_ref().map(|v| v.require(field).cloned()).transpose()
    };
    Ok(c.create_flow_logs()
        .client_token(token)
        .resource_type(FlowLogsResourceType::Vpc)
        .resource_ids(vpc)
        .traffic_type(TrafficType::from(f.traffic_type.as_str()))
        .log_destination_type(LogDestinationType::from(f.log_destination_type.as_str()))
        .set_log_group_name(known("log_group_name", &f.log_group_name)?)
        .set_log_destination(known("log_destination", &f.log_destination)?)
        .set_deliver_logs_permission_arn(known(
            "deliver_logs_permission_arn",
            &f.deliver_logs_permission_arn,
        )?)
        .max_aggregation_interval(f.max_aggregation_interval)
        .tag_specifications(tags))
}

/// A per-item failure in a CreateFlowLogs or DeleteFlowLogs answer (these
/// come back in the body, not as an error).
fn unsuccessful(op: &str, items: &[aws_sdk_ec2::types::UnsuccessfulItem]) -> Option<ProviderError> {
    let e = items.first()?.error();
    Some(classify_op(
        op,
        e.and_then(|e| e.code()).unwrap_or("Unknown"),
        e.and_then(|e| e.message()).unwrap_or(""),
    ))
}

#[async_trait]
impl AwsResource for FlowLog {
    type Service = Ec2;
    const SCHEMA: Schema = Schema {
        force_new: &[
            "vpc_id",
            "traffic_type",
            "log_destination_type",
            "log_group_name",
            "log_destination",
            "deliver_logs_permission_arn",
            "max_aggregation_interval",
        ],
        // AWS reports the group both by name and by ARN: only the one
        // declared is compared.
        optional_computed: &["log_group_name", "log_destination"],
        // A group named by the engine is its ARN in Terraform.
        tf_values: &[("log_group_name", Conv::RefAttr("arn"))],
        terraform: &[Tf {
            resource: "aws_flow_log",
            // Terraform 6 names the group by ARN only (log_destination).
            args: &[
                ("vpc_id", "vpc_id"),
                ("traffic_type", "traffic_type"),
                ("log_destination_type", "log_destination_type"),
                ("log_group_name", "log_destination"),
                ("log_destination", "log_destination"),
                ("deliver_logs_permission_arn", "iam_role_arn"),
                ("max_aggregation_interval", "max_aggregation_interval"),
                ("tags", "tags"),
            ],
            import_id: "{id}",
        }],
        ..Schema::NONE
    };

    fn check(&self) -> Result<(), ProviderError> {
        check_id("vpc_id", &self.vpc_id, "vpc")?;
        one_of(
            "traffic_type",
            &self.traffic_type,
            &["ALL", "ACCEPT", "REJECT"],
        )?;
        one_of(
            "log_destination_type",
            &self.log_destination_type,
            &["cloud-watch-logs", "s3", "kinesis-data-firehose"],
        )?;
        one_of(
            "max_aggregation_interval",
            &self.max_aggregation_interval.to_string(),
            &["60", "600"],
        )?;
        let cwl = self.log_destination_type == "cloud-watch-logs";
        if let Some(g) = &self.log_group_name {
            if !cwl {
                return Err(ProviderError::invalid(
                    "log_group_name",
                    shown(g),
                    format!(
                        "only for log_destination_type cloud-watch-logs, not {}",
                        self.log_destination_type
                    ),
                ));
            }
            if let Some(name) = g.known() {
                check_log_group_name("log_group_name", name)?;
            }
        }
        match (&self.log_group_name, &self.log_destination) {
            (Some(g), Some(_)) => {
                return Err(ProviderError::invalid(
                    "log_group_name",
                    shown(g),
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
            (None, Some(d)) => {
                let service = match self.log_destination_type.as_str() {
                    "cloud-watch-logs" => "logs",
                    "s3" => "s3",
                    _ => "firehose",
                };
                check_arn("log_destination", d, service)?
            }
            (Some(_), None) => {}
        }
        match &self.deliver_logs_permission_arn {
            Some(r) => {
                check_arn("deliver_logs_permission_arn", r, "iam")?;
                match r.known() {
                    Some(s) if !s.contains(":role/") => Err(ProviderError::invalid(
                        "deliver_logs_permission_arn",
                        format!("{s:?}"),
                        "expected an IAM role ARN (arn:aws:iam::<account>:role/<name>)",
                    )),
                    _ => Ok(()),
                }
            }
            None if cwl => Err(ProviderError::invalid(
                "deliver_logs_permission_arn",
                "(unset)",
                "required for log_destination_type cloud-watch-logs",
            )),
            None => Ok(()),
        }
    }

    async fn create(&self, cx: &Call<'_, Ec2>) -> Result<String, ProviderError> {
        let vpc = self.vpc_id.require("vpc_id")?;
        let token = client_token();
        let tags = cx.tag_spec(ResourceType::VpcFlowLog, &self.tags);
        let request = create_request(cx.client().await, self, vpc, &token, tags)?;
        // A role made moments ago cannot be assumed yet (IAM propagation,
        // Terraform retries this for 2 minutes).
        let out = cx
            .send_retrying(
                "CreateFlowLogs",
                &[Retry::propagation(
                    "InvalidParameter",
                    "Unable to assume given IAM role",
                )],
                // The one request, sent again as it is: same client token.
                |_| request.clone().send(),
            )
            .await?;
        if let Some(e) = unsuccessful("CreateFlowLogs", out.unsuccessful()) {
            return Err(e);
        }
        out.flow_log_ids()
            .first()
            .cloned()
            .ok_or_else(|| cx.fatal("CreateFlowLogs returned no flow log id"))
    }

    async fn read(
        cx: &Call<'_, Ec2>,
        id: &str,
        _declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError> {
        let Some(out) = cx
            .find("DescribeFlowLogs", |c| {
                c.describe_flow_logs().flow_log_ids(id).send()
            })
            .await?
        else {
            return Ok(None);
        };
        let Some(f) = out.flow_logs().iter().find(|f| f.flow_log_id() == Some(id)) else {
            return Ok(None);
        };
        let s = |v: Option<&str>| v.map(|v| Input::Value(v.to_string()));
        let vpc = f.resource_id().unwrap_or_default();
        let args = FlowLog {
            vpc_id: vpc.to_string().into(),
            traffic_type: f.traffic_type().map_or("ALL", |t| t.as_str()).into(),
            log_destination_type: f
                .log_destination_type()
                .map_or("cloud-watch-logs", |t| t.as_str())
                .into(),
            log_group_name: s(f.log_group_name()),
            log_destination: s(f.log_destination()),
            deliver_logs_permission_arn: s(f.deliver_logs_permission_arn()),
            max_aggregation_interval: f.max_aggregation_interval().unwrap_or(600),
            tags: cx.own_tags(&from_tags(f.tags())),
        };
        // The account is the logged VPC's owner.
        let vpcs = cx
            .send("DescribeVpcs", |c| {
                c.describe_vpcs().filters(filter("vpc-id", [vpc])).send()
            })
            .await?;
        let account = vpcs
            .vpcs()
            .first()
            .and_then(|v| v.owner_id())
            .unwrap_or_default();
        let outputs = json!({
            "id": id,
            "arn": cx.arn("ec2", account, &format!("vpc-flow-log/{id}")).await,
            "log_destination": f.log_destination(),
            "log_format": f.log_format(),
            "deliver_logs_status": f.deliver_logs_status(),
            "flow_log_status": f.flow_log_status(),
        });
        Ok(Some(Live { args, outputs }))
    }

    async fn update(&self, old: &Self, cx: &Call<'_, Ec2>, id: &str) -> Result<(), ProviderError> {
        cx.update_tags(id, &old.tags, &self.tags).await
    }

    async fn delete(&self, cx: &Call<'_, Ec2>, id: &str) -> Result<(), ProviderError> {
        let out = cx
            .send("DeleteFlowLogs", |c| {
                c.delete_flow_logs().flow_log_ids(id).send()
            })
            .await?;
        // A not-found here is "already deleted" to the adapter.
        unsuccessful("DeleteFlowLogs", out.unsuccessful()).map_or(Ok(()), Err)
    }

    async fn find(&self, cx: &Call<'_, Ec2>) -> Result<Vec<String>, ProviderError> {
        let out = cx
            .send("DescribeFlowLogs", |c| {
                c.describe_flow_logs().filter(cx.urn_filter()).send()
            })
            .await?;
        Ok(out
            .flow_logs()
            .iter()
            .filter_map(|f| f.flow_log_id().map(str::to_string))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

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
        serde_json::from_value::<FlowLog>(v)
            .unwrap()
            .check()
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn validation_names_field_and_value() {
        let f: FlowLog = serde_json::from_value(ok()).unwrap();
        f.check().unwrap();
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
        let mut v = ok();
        v["log_group_name"] = crate::value::unknown();
        serde_json::from_value::<FlowLog>(v)
            .unwrap()
            .check()
            .unwrap();
        let e = err(json!({"log_group_name": "bad name"}));
        assert!(
            e.contains("log_group_name") && e.contains("bad name"),
            "{e}"
        );
        let e = err(json!({"log_destination_type": "kafka"}));
        assert!(e.contains("kafka"), "{e}");
    }

    #[test]
    fn the_create_request_carries_a_client_token() {
        let conf = aws_sdk_ec2::Config::builder()
            .behavior_version(aws_sdk_ec2::config::BehaviorVersion::latest())
            .build();
        let client = aws_sdk_ec2::Client::from_conf(conf);
        let f: FlowLog = serde_json::from_value(ok()).unwrap();
        let token = client_token();
        let tags = aws_sdk_ec2::types::TagSpecification::builder().build();
        let req = create_request(&client, &f, "vpc-1", &token, tags).unwrap();
        // Every send of the one request (the propagation retries) carries it.
        assert_eq!(
            req.clone().get_client_token().as_deref(),
            Some(token.as_str())
        );
        assert!(token.len() <= 64, "AWS allows 64 characters: {token}");
        assert_ne!(client_token(), token, "a new token per create");
    }
}
