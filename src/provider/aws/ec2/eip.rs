//! `aws:ec2/Eip` (Terraform `aws_eip`): an Elastic IP allocated in the VPC
//! domain. Its id is the allocation id.

use async_trait::async_trait;
use aws_sdk_ec2::types::{DomainType, ResourceType};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{from_tags, Ec2};
use crate::model::{Output, Resource, ResourceArgs};
use crate::provider::aws::call::Call;
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::aws::tags::Tags;
use crate::provider::aws::validate::one_of;
use crate::provider::schema::{Schema, Tf};
use crate::provider::ProviderError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Eip {
    /// Only `vpc`: EC2-Classic (`standard`) is retired.
    pub domain: String,
    pub tags: Tags,
}

impl Default for Eip {
    fn default() -> Self {
        Eip {
            domain: "vpc".into(),
            tags: Tags::new(),
        }
    }
}

impl Eip {
    pub fn new() -> Self {
        Self::default()
    }
}

impl ResourceArgs for Eip {
    const TYPE: &'static str = "aws:ec2/Eip";
}

impl Resource<Eip> {
    pub fn allocation_id(&self) -> Output<String> {
        self.output("allocation_id")
    }
    pub fn public_ip(&self) -> Output<String> {
        self.output("public_ip")
    }
    pub fn association_id(&self) -> Output<String> {
        self.output("association_id")
    }
}

#[async_trait]
impl AwsResource for Eip {
    type Service = Ec2;
    const SCHEMA: Schema = Schema {
        force_new: &["domain"],
        terraform: &[Tf {
            resource: "aws_eip",
            args: &[("domain", "domain"), ("tags", "tags")],
            import_id: "{id}",
        }],
        ..Schema::NONE
    };

    fn check(&self) -> Result<(), ProviderError> {
        one_of("domain", &self.domain, &["vpc"])
    }

    async fn create(&self, cx: &Call<'_, Ec2>) -> Result<String, ProviderError> {
        // Sent once by the SDK: AllocateAddress has no idempotency token, so
        // a resend could allocate (and bill) a second address; the engine
        // retries after a lookup by URN tag instead.
        let out = cx
            .send("AllocateAddress", |c| {
                c.allocate_address()
                    .domain(DomainType::from(self.domain.as_str()))
                    .tag_specifications(cx.tag_spec(ResourceType::ElasticIp, &self.tags))
                    .customize()
                    .config_override(super::once())
                    .send()
            })
            .await?;
        out.allocation_id()
            .map(str::to_string)
            .ok_or_else(|| cx.fatal("AllocateAddress returned no allocation id"))
    }

    async fn read(
        cx: &Call<'_, Ec2>,
        id: &str,
        _declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError> {
        let Some(a) = cx
            .find("DescribeAddresses", |c| {
                c.describe_addresses().allocation_ids(id).send()
            })
            .await?
            .and_then(|o| o.addresses().first().cloned())
        else {
            return Ok(None);
        };
        let args = Eip {
            domain: a.domain().map_or("vpc", |d| d.as_str()).into(),
            tags: cx.own_tags(&from_tags(a.tags())),
        };
        let outputs = json!({
            "id": id,
            "allocation_id": id,
            "public_ip": a.public_ip(),
            "domain": a.domain().map(|d| d.as_str()),
            "association_id": a.association_id(),
            "network_interface_id": a.network_interface_id(),
            "private_ip": a.private_ip_address(),
            "public_ipv4_pool": a.public_ipv4_pool(),
        });
        Ok(Some(Live { args, outputs }))
    }

    async fn update(&self, old: &Self, cx: &Call<'_, Ec2>, id: &str) -> Result<(), ProviderError> {
        cx.update_tags(id, &old.tags, &self.tags).await
    }

    async fn delete(&self, cx: &Call<'_, Ec2>, id: &str) -> Result<(), ProviderError> {
        cx.send("ReleaseAddress", |c| {
            c.release_address().allocation_id(id).send()
        })
        .await
        .map(drop)
    }

    async fn find(&self, cx: &Call<'_, Ec2>) -> Result<Vec<String>, ProviderError> {
        let out = cx
            .send("DescribeAddresses", |c| {
                c.describe_addresses().filters(cx.urn_filter()).send()
            })
            .await?;
        Ok(out
            .addresses()
            .iter()
            .filter_map(|a| a.allocation_id().map(str::to_string))
            .collect())
    }
}
