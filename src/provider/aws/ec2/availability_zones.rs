//! `aws:ec2/getAvailabilityZones` (Terraform `data
//! "aws_availability_zones"`): the region's zones in a state (default
//! `available`). `require` names zones the stack uses: one missing from the
//! answer fails the preview, before anything is created in it.

use async_trait::async_trait;
use aws_sdk_ec2::types::Filter;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::Ec2;
use crate::model::{Output, Resource, ResourceArgs};
use crate::provider::aws::call::Call;
use crate::provider::aws::lookup::AwsLookup;
use crate::provider::aws::validate::{check_az, one_of};
use crate::provider::schema::Tf;
use crate::provider::ProviderError;

pub const STATES: &[&str] = &["available", "information", "impaired", "unavailable"];

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GetAvailabilityZones {
    /// Zones in this state only (one of [`STATES`]); unset: `available`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Zones that must be in the answer (the zones the stack puts subnets in).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub require: Vec<String>,
}

impl GetAvailabilityZones {
    /// The available zones, requiring `zones` among them.
    pub fn requiring(zones: &[String]) -> Self {
        GetAvailabilityZones {
            state: None,
            require: zones.to_vec(),
        }
    }

    fn state(&self) -> &str {
        self.state.as_deref().unwrap_or("available")
    }
}

impl ResourceArgs for GetAvailabilityZones {
    const TYPE: &'static str = "aws:ec2/getAvailabilityZones";
}

impl Resource<GetAvailabilityZones> {
    /// Zone names (`us-east-1a`, ...), sorted.
    pub fn names(&self) -> Output<Vec<String>> {
        self.output("names")
    }
    /// Zone ids (`use1-az1`, ...), the same physical zone in every account.
    pub fn zone_ids(&self) -> Output<Vec<String>> {
        self.output("zone_ids")
    }
}

#[async_trait]
impl AwsLookup for GetAvailabilityZones {
    type Service = Ec2;
    const TERRAFORM: &'static [Tf] = &[Tf {
        resource: "aws_availability_zones",
        args: &[("state", "state")],
        import_id: "",
    }];

    fn check(&self) -> Result<(), ProviderError> {
        one_of("state", self.state(), STATES)?;
        for (i, z) in self.require.iter().enumerate() {
            check_az(&format!("require[{i}]"), z)?;
        }
        Ok(())
    }

    async fn read(&self, cx: &Call<'_, Ec2>) -> Result<(String, Value), ProviderError> {
        let out = cx
            .send("DescribeAvailabilityZones", |c| {
                c.describe_availability_zones()
                    .filters(Filter::builder().name("state").values(self.state()).build())
                    .send()
            })
            .await?;
        let mut zones: Vec<(String, String)> = out
            .availability_zones()
            .iter()
            .filter(|z| z.zone_type().is_none_or(|t| t == "availability-zone"))
            .map(|z| {
                (
                    z.zone_name().unwrap_or_default().to_string(),
                    z.zone_id().unwrap_or_default().to_string(),
                )
            })
            .collect();
        zones.sort();
        let region = out
            .availability_zones()
            .first()
            .and_then(|z| z.region_name())
            .unwrap_or_default()
            .to_string();
        let names: Vec<&String> = zones.iter().map(|(n, _)| n).collect();
        for (i, z) in self.require.iter().enumerate() {
            if !names.contains(&z) {
                return Err(ProviderError::invalid(
                    &format!("require[{i}]"),
                    format!("{z:?}"),
                    format!(
                        "not an {} zone of {region} (zones: {})",
                        self.state(),
                        names
                            .iter()
                            .map(|n| n.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
        }
        Ok((
            region,
            json!({
                "names": names,
                "zone_ids": zones.iter().map(|(_, id)| id).collect::<Vec<_>>(),
            }),
        ))
    }
}
