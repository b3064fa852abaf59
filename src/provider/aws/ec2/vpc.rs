//! `aws:ec2/Vpc` (Terraform `aws_vpc`).

use async_trait::async_trait;
use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType, Tenancy, VpcAttributeName};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{filter, from_tags, Ec2};
use crate::model::{Output, Resource, ResourceArgs};
use crate::provider::aws::call::{Call, Retry};
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::aws::tags::Tags;
use crate::provider::aws::validate::{check_cidr, one_of, requires};
use crate::provider::aws::wait::{Seen, Wait};
use crate::provider::schema::{Schema, Tf};
use crate::provider::ProviderError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Vpc {
    /// IPv4 CIDR, /16 to /28.
    pub cidr_block: String,
    pub enable_dns_support: bool,
    pub enable_dns_hostnames: bool,
    /// `default` or `dedicated`.
    pub instance_tenancy: String,
    pub tags: Tags,
}

impl Default for Vpc {
    fn default() -> Self {
        Vpc {
            cidr_block: String::new(),
            enable_dns_support: true,
            enable_dns_hostnames: true,
            instance_tenancy: "default".into(),
            tags: Tags::new(),
        }
    }
}

impl Vpc {
    pub fn new(cidr_block: &str) -> Self {
        Vpc {
            cidr_block: cidr_block.into(),
            ..Default::default()
        }
    }
}

impl ResourceArgs for Vpc {
    const TYPE: &'static str = "aws:ec2/Vpc";
}

impl Resource<Vpc> {
    pub fn cidr_block(&self) -> Output<String> {
        self.output("cidr_block")
    }
    pub fn default_security_group_id(&self) -> Output<String> {
        self.output("default_security_group_id")
    }
    pub fn main_route_table_id(&self) -> Output<String> {
        self.output("main_route_table_id")
    }
}

#[async_trait]
impl AwsResource for Vpc {
    type Service = Ec2;
    const SCHEMA: Schema = Schema {
        force_new: &["cidr_block"],
        terraform: &[Tf {
            resource: "aws_vpc",
            args: &[
                ("cidr_block", "cidr_block"),
                ("enable_dns_support", "enable_dns_support"),
                ("enable_dns_hostnames", "enable_dns_hostnames"),
                ("instance_tenancy", "instance_tenancy"),
                ("tags", "tags"),
            ],
            import_id: "{id}",
        }],
        ..Schema::NONE
    };

    fn check(&self) -> Result<(), ProviderError> {
        check_cidr("cidr_block", &self.cidr_block, 16..=28)?;
        one_of(
            "instance_tenancy",
            &self.instance_tenancy,
            &["default", "dedicated"],
        )?;
        requires(
            ("enable_dns_hostnames", self.enable_dns_hostnames),
            ("enable_dns_support", self.enable_dns_support),
        )
    }

    // Tenancy goes dedicated -> default in place (ModifyVpcTenancy); the
    // reverse needs a new VPC, as Terraform's CustomizeDiff says.
    fn diff(old: &serde_json::Value, new: &serde_json::Value) -> crate::provider::Diff {
        let mut d = crate::provider::field_diff(old, new, Self::SCHEMA.force_new);
        if d.changed.iter().any(|f| f == "instance_tenancy")
            && new.get("instance_tenancy").and_then(|v| v.as_str()) != Some("default")
        {
            d.replace.push("instance_tenancy".into());
        }
        d
    }

    async fn create(&self, cx: &Call<'_, Ec2>) -> Result<String, ProviderError> {
        // Sent once by the SDK: CreateVpc has no idempotency token, so the
        // engine retries after a lookup by URN tag instead.
        let out = cx
            .send("CreateVpc", |c| {
                c.create_vpc()
                    .cidr_block(&self.cidr_block)
                    .instance_tenancy(Tenancy::from(self.instance_tenancy.as_str()))
                    .tag_specifications(cx.tag_spec(ResourceType::Vpc, &self.tags))
                    .customize()
                    .config_override(super::once())
                    .send()
            })
            .await?;
        out.vpc()
            .and_then(|v| v.vpc_id())
            .map(str::to_string)
            .ok_or_else(|| cx.fatal("CreateVpc returned no VPC id"))
    }

    async fn after_create(&self, cx: &Call<'_, Ec2>, id: &str) -> Result<(), ProviderError> {
        // A new VPC has DNS support on and hostnames off.
        let fresh = Vpc {
            enable_dns_support: true,
            enable_dns_hostnames: false,
            ..self.clone()
        };
        self.update(&fresh, cx, id).await?;
        // Its default security group and main route table are outputs; AWS
        // makes them with the VPC, but they show up a moment later.
        Wait::new(
            "the VPC's default security group and main route table",
            &[],
            &["visible"],
        )
        .after_create()
        .until(cx.settings(), || async {
            Ok(match defaults(cx, id).await? {
                (Some(_), Some(_)) => Seen::State("visible".into(), ()),
                _ => Seen::Gone,
            })
        })
        .await
    }

    async fn read(
        cx: &Call<'_, Ec2>,
        id: &str,
        _declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError> {
        let Some(out) = cx
            .find("DescribeVpcs", |c| c.describe_vpcs().vpc_ids(id).send())
            .await?
        else {
            return Ok(None);
        };
        let Some(v) = out.vpcs().first() else {
            return Ok(None);
        };
        let args = Vpc {
            cidr_block: v.cidr_block().unwrap_or_default().into(),
            enable_dns_support: attribute(cx, id, VpcAttributeName::EnableDnsSupport).await?,
            enable_dns_hostnames: attribute(cx, id, VpcAttributeName::EnableDnsHostnames).await?,
            instance_tenancy: v
                .instance_tenancy()
                .map_or("default", |t| t.as_str())
                .into(),
            tags: cx.own_tags(&from_tags(v.tags())),
        };
        let (sg, rt) = defaults(cx, id).await?;
        let outputs = json!({
            "id": id,
            "arn": cx.arn("ec2", v.owner_id().unwrap_or_default(), &format!("vpc/{id}")).await,
            "cidr_block": v.cidr_block(),
            "owner_id": v.owner_id(),
            "default_security_group_id": sg,
            "main_route_table_id": rt,
        });
        Ok(Some(Live { args, outputs }))
    }

    async fn update(&self, old: &Self, cx: &Call<'_, Ec2>, id: &str) -> Result<(), ProviderError> {
        // One attribute per call (the API refuses both at once): hostnames
        // off before support off, support on before hostnames on.
        if old.enable_dns_hostnames && !self.enable_dns_hostnames {
            set_dns(cx, id, VpcAttributeName::EnableDnsHostnames, false).await?;
        }
        if old.enable_dns_support != self.enable_dns_support {
            set_dns(
                cx,
                id,
                VpcAttributeName::EnableDnsSupport,
                self.enable_dns_support,
            )
            .await?;
        }
        if !old.enable_dns_hostnames && self.enable_dns_hostnames {
            set_dns(cx, id, VpcAttributeName::EnableDnsHostnames, true).await?;
        }
        if old.instance_tenancy != self.instance_tenancy {
            cx.send_retrying("ModifyVpcTenancy", &[Retry::NEW_OBJECT], |c| {
                c.modify_vpc_tenancy()
                    .vpc_id(id)
                    .instance_tenancy(self.instance_tenancy.as_str().into())
                    .send()
            })
            .await?;
        }
        cx.update_tags(id, &old.tags, &self.tags).await
    }

    async fn delete(&self, cx: &Call<'_, Ec2>, id: &str) -> Result<(), ProviderError> {
        // Network interfaces of deleted data stores and tasks linger.
        cx.send_retrying("DeleteVpc", &[Retry::dependency(cx.settings())], |c| {
            c.delete_vpc().vpc_id(id).send()
        })
        .await
        .map(drop)
    }

    async fn find(&self, cx: &Call<'_, Ec2>) -> Result<Vec<String>, ProviderError> {
        let out = cx
            .send("DescribeVpcs", |c| {
                c.describe_vpcs().filters(cx.urn_filter()).send()
            })
            .await?;
        Ok(out
            .vpcs()
            .iter()
            .filter_map(|v| v.vpc_id().map(str::to_string))
            .collect())
    }
}

async fn attribute(
    cx: &Call<'_, Ec2>,
    id: &str,
    name: VpcAttributeName,
) -> Result<bool, ProviderError> {
    let out = cx
        .send("DescribeVpcAttribute", |c| {
            c.describe_vpc_attribute()
                .vpc_id(id)
                .attribute(name.clone())
                .send()
        })
        .await?;
    let v = match name {
        VpcAttributeName::EnableDnsHostnames => out.enable_dns_hostnames(),
        _ => out.enable_dns_support(),
    };
    Ok(v.and_then(AttributeBooleanValue::value).unwrap_or(false))
}

async fn set_dns(
    cx: &Call<'_, Ec2>,
    id: &str,
    name: VpcAttributeName,
    on: bool,
) -> Result<(), ProviderError> {
    let value = AttributeBooleanValue::builder().value(on).build();
    // Right after CreateVpc the id may not be visible to this call yet.
    cx.send_retrying("ModifyVpcAttribute", &[Retry::NEW_OBJECT], |c| {
        let call = c.modify_vpc_attribute().vpc_id(id);
        match name {
            VpcAttributeName::EnableDnsHostnames => call.enable_dns_hostnames(value.clone()),
            _ => call.enable_dns_support(value.clone()),
        }
        .send()
    })
    .await
    .map(drop)
}

/// The default security group and main route table AWS made with the VPC.
async fn defaults(
    cx: &Call<'_, Ec2>,
    id: &str,
) -> Result<(Option<String>, Option<String>), ProviderError> {
    let sg = cx
        .send("DescribeSecurityGroups", |c| {
            c.describe_security_groups()
                .filters(filter("vpc-id", [id]))
                .filters(filter("group-name", ["default"]))
                .send()
        })
        .await?;
    let rt = cx
        .send("DescribeRouteTables", |c| {
            c.describe_route_tables()
                .filters(filter("vpc-id", [id]))
                .filters(filter("association.main", ["true"]))
                .send()
        })
        .await?;
    Ok((
        sg.security_groups()
            .first()
            .and_then(|g| g.group_id())
            .map(str::to_string),
        rt.route_tables()
            .first()
            .and_then(|t| t.route_table_id())
            .map(str::to_string),
    ))
}
