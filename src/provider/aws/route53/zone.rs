//! `aws:route53/Zone` (Terraform `aws_route53_zone`): a public hosted zone.
//! The name forces a replacement; the comment and tags change in place.
//! Morket's zone usually exists before any stack ([`super::get_zone`] finds
//! it); this is for zones a stack owns (a staging subdomain).

use async_trait::async_trait;
use aws_sdk_route53::types::{HostedZoneConfig, TagResourceType};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{clean_zone_id, normalize_name, wait_insync, Route53};
use crate::model::{Output, Resource, ResourceArgs};
use crate::provider::aws::call::Call;
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::aws::service::Service;
use crate::provider::aws::tags::{Tags, URN_TAG};
use crate::provider::schema::{Schema, Tf};
use crate::provider::ProviderError;

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Zone {
    /// The domain (`staging.morket.io`).
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    pub tags: Tags,
}

impl Zone {
    pub fn new(name: &str) -> Self {
        Zone {
            name: name.into(),
            ..Default::default()
        }
    }
}

impl ResourceArgs for Zone {
    const TYPE: &'static str = "aws:route53/Zone";
}

impl Resource<Zone> {
    pub fn zone_id(&self) -> Output<String> {
        self.output("zone_id")
    }
    /// The four name servers to delegate to from the parent zone.
    pub fn name_servers(&self) -> Output<Vec<String>> {
        self.output("name_servers")
    }
}

/// The caller reference of this declaration: a resent CreateHostedZone (a
/// timed-out request, a retried create) answers HostedZoneAlreadyExists
/// instead of making a second zone of the same name.
fn caller_reference(urn_tag: &str, name: &str) -> String {
    let mut h = Sha256::new();
    h.update(urn_tag.as_bytes());
    h.update([0]);
    h.update(normalize_name(name).as_bytes());
    format!("morket-{}", &hex::encode(h.finalize())[..32])
}

async fn live_tags(cx: &Call<'_, Route53>, id: &str) -> Result<Tags, ProviderError> {
    let out = cx
        .send("ListTagsForResource", |c| {
            c.list_tags_for_resource()
                .resource_type(TagResourceType::Hostedzone)
                .resource_id(id)
                .send()
        })
        .await?;
    Ok(out
        .resource_tag_set()
        .map(|s| {
            s.tags()
                .iter()
                .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
                .collect()
        })
        .unwrap_or_default())
}

/// Public zones of exactly `name`: (id, caller reference).
async fn zones_named(
    cx: &Call<'_, Route53>,
    name: &str,
) -> Result<Vec<(String, String)>, ProviderError> {
    let want = normalize_name(name);
    let out = cx
        .send("ListHostedZonesByName", |c| {
            c.list_hosted_zones_by_name()
                .dns_name(&want)
                .max_items(100)
                .send()
        })
        .await?;
    Ok(out
        .hosted_zones()
        .iter()
        .filter(|z| normalize_name(z.name()) == want)
        .filter(|z| !z.config().is_some_and(|c| c.private_zone()))
        .map(|z| (clean_zone_id(z.id()), z.caller_reference().to_string()))
        .collect())
}

#[async_trait]
impl AwsResource for Zone {
    type Service = Route53;
    const SCHEMA: Schema = Schema {
        force_new: &["name"],
        optional_computed: &["comment"],
        terraform: &[Tf {
            resource: "aws_route53_zone",
            args: &[("name", "name"), ("comment", "comment"), ("tags", "tags")],
            import_id: "{id}",
        }],
        ..Schema::NONE
    };

    fn check(&self) -> Result<(), ProviderError> {
        crate::provider::aws::acm::check_domain("name", self.name.trim_end_matches('.'))?;
        if self.name.starts_with("*.") {
            return Err(ProviderError::invalid(
                "name",
                format!("{:?}", self.name),
                "a zone name has no wildcard",
            ));
        }
        if let Some(c) = &self.comment {
            if c.len() > 256 {
                return Err(ProviderError::invalid(
                    "comment",
                    c.len(),
                    "at most 256 characters",
                ));
            }
        }
        Ok(())
    }

    async fn create(&self, cx: &Call<'_, Route53>) -> Result<String, ProviderError> {
        let reference = caller_reference(&cx.ctx.urn_tag(), &self.name);
        let config = HostedZoneConfig::builder()
            .set_comment(self.comment.clone())
            .build();
        let made = cx
            .try_send("CreateHostedZone", |c| {
                c.create_hosted_zone()
                    .name(normalize_name(&self.name))
                    .caller_reference(&reference)
                    .hosted_zone_config(config.clone())
                    .send()
            })
            .await;
        let out = match made {
            Ok(o) => o,
            // Our own request sent before: the zone it made.
            Err(f) if f.code == "HostedZoneAlreadyExists" => {
                return zones_named(cx, &self.name)
                    .await?
                    .into_iter()
                    .find(|(_, r)| *r == reference)
                    .map(|(id, _)| id)
                    .ok_or(f.error);
            }
            Err(f) => return Err(f.error),
        };
        let id = out
            .hosted_zone()
            .map(|z| clean_zone_id(z.id()))
            .ok_or_else(|| cx.fatal("CreateHostedZone answered no zone"))?;
        // Terraform waits for the zone's change to reach every name server.
        if let Some(ci) = out.change_info() {
            wait_insync(cx, ci.id()).await?;
        }
        Ok(id)
    }

    async fn after_create(&self, cx: &Call<'_, Route53>, id: &str) -> Result<(), ProviderError> {
        // CreateHostedZone takes no tags: all of them in one call.
        Route53::retag(cx, id, &cx.all_tags(&self.tags), &[]).await
    }

    async fn read(
        cx: &Call<'_, Route53>,
        id: &str,
        declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError> {
        let out = match cx
            .try_send("GetHostedZone", |c| c.get_hosted_zone().id(id).send())
            .await
        {
            Ok(o) => o,
            Err(f) if f.code == "NoSuchHostedZone" => return Ok(None),
            Err(f) => return Err(f.error),
        };
        let Some(z) = out.hosted_zone() else {
            return Ok(None);
        };
        let name = normalize_name(z.name());
        let args = Zone {
            name: if normalize_name(&declared.name) == name {
                declared.name.clone()
            } else {
                name.clone()
            },
            comment: z
                .config()
                .and_then(|c| c.comment())
                .filter(|c| !c.is_empty())
                .map(str::to_string),
            tags: cx.own_tags(&live_tags(cx, id).await?),
        };
        let name_servers: Vec<String> = out
            .delegation_set()
            .map(|d| d.name_servers().to_vec())
            .unwrap_or_default();
        Ok(Some(Live {
            args,
            outputs: json!({
                "id": id,
                "zone_id": id,
                "name": name,
                "name_servers": name_servers,
                "arn": format!("arn:aws:route53:::hostedzone/{id}"),
            }),
        }))
    }

    async fn update(
        &self,
        old: &Self,
        cx: &Call<'_, Route53>,
        id: &str,
    ) -> Result<(), ProviderError> {
        if old.comment != self.comment {
            cx.send("UpdateHostedZoneComment", |c| {
                c.update_hosted_zone_comment()
                    .id(id)
                    .comment(self.comment.clone().unwrap_or_default())
                    .send()
            })
            .await?;
        }
        cx.update_tags(id, &old.tags, &self.tags).await
    }

    async fn delete(&self, cx: &Call<'_, Route53>, id: &str) -> Result<(), ProviderError> {
        match cx
            .try_send("DeleteHostedZone", |c| c.delete_hosted_zone().id(id).send())
            .await
        {
            Ok(_) => Ok(()),
            Err(f) if f.code == "NoSuchHostedZone" => Ok(()),
            Err(f) if f.code == "HostedZoneNotEmpty" => Err(cx.fatal(format!(
                "hosted zone {id} still holds records this stack does not manage; \
                 delete them first ({})",
                f.message
            ))),
            Err(f) => Err(f.error),
        }
    }

    async fn find(&self, cx: &Call<'_, Route53>) -> Result<Vec<String>, ProviderError> {
        let reference = caller_reference(&cx.ctx.urn_tag(), &self.name);
        let mut found = Vec::new();
        for (id, r) in zones_named(cx, &self.name).await? {
            // Ours by caller reference (made, not yet tagged) or by URN tag.
            let ours = r == reference
                || live_tags(cx, &id)
                    .await?
                    .get(URN_TAG)
                    .is_some_and(|v| cx.ctx.urn_tag_matches(v));
            if ours {
                found.push(id);
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_and_caller_reference() {
        assert!(Zone::new("staging.morket.io").check().is_ok());
        let e = Zone::new("*.morket.io").check().unwrap_err().to_string();
        assert!(e.contains("name") && e.contains("*.morket.io"), "{e}");
        let e = Zone::new("bad name.io").check().unwrap_err().to_string();
        assert!(e.contains("name") && e.contains("bad name.io"), "{e}");
        let r = caller_reference("s::::aws:route53/Zone::z", "Morket.io.");
        assert_eq!(r, caller_reference("s::::aws:route53/Zone::z", "morket.io"));
        assert_ne!(r, caller_reference("s::::aws:route53/Zone::y", "morket.io"));
        assert!(r.len() <= 128);
    }
}
