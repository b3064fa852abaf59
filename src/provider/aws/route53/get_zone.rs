//! `aws:route53/getZone` (Terraform `data "aws_route53_zone"`): a hosted
//! zone by name, public or private, such as the Morket zone that exists
//! before any stack. Outputs its id, name and name servers.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{clean_zone_id, normalize_name, Route53};
use crate::model::{Output, Resource, ResourceArgs};
use crate::provider::aws::call::Call;
use crate::provider::aws::lookup::AwsLookup;
use crate::provider::schema::Tf;
use crate::provider::ProviderError;

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GetZone {
    /// The zone's name (`morket.io`, a final dot or not).
    pub name: String,
    /// A private zone (one attached to VPCs) rather than a public one.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub private_zone: bool,
}

impl GetZone {
    pub fn public(name: &str) -> Self {
        GetZone {
            name: name.into(),
            private_zone: false,
        }
    }
}

impl ResourceArgs for GetZone {
    const TYPE: &'static str = "aws:route53/getZone";
}

impl Resource<GetZone> {
    /// The zone id (`Z...`), what records take.
    pub fn zone_id(&self) -> Output<String> {
        self.output("zone_id")
    }
    /// The name, without the final dot.
    pub fn name(&self) -> Output<String> {
        self.output("name")
    }
    pub fn name_servers(&self) -> Output<Vec<String>> {
        self.output("name_servers")
    }
    pub fn arn(&self) -> Output<String> {
        self.output("arn")
    }
}

#[async_trait]
impl AwsLookup for GetZone {
    type Service = Route53;
    const TERRAFORM: &'static [Tf] = &[Tf {
        resource: "aws_route53_zone",
        args: &[("name", "name"), ("private_zone", "private_zone")],
        import_id: "",
    }];

    fn check(&self) -> Result<(), ProviderError> {
        let n = self.name.trim_end_matches('.');
        let ok = (1..=253).contains(&n.len())
            && n.split('.').all(|l| {
                (1..=63).contains(&l.len())
                    && l.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            });
        if ok {
            Ok(())
        } else {
            Err(ProviderError::invalid(
                "name",
                format!("{:?}", self.name),
                "expected a zone name like example.com",
            ))
        }
    }

    async fn read(&self, cx: &Call<'_, Route53>) -> Result<(String, Value), ProviderError> {
        let want = normalize_name(&self.name);
        // Zones come sorted by name from `dns_name`: read on while the
        // pages still hold this name.
        let mut found = Vec::new();
        let (mut next_name, mut next_id): (Option<String>, Option<String>) =
            (Some(want.clone()), None);
        while let Some(name) = next_name.take() {
            let out = cx
                .send("ListHostedZonesByName", |c| {
                    c.list_hosted_zones_by_name()
                        .dns_name(&name)
                        .set_hosted_zone_id(next_id.clone())
                        .max_items(100)
                        .send()
                })
                .await?;
            let mut past = false;
            for z in out.hosted_zones() {
                if normalize_name(z.name()) != want {
                    past = true;
                    continue;
                }
                let private = z.config().is_some_and(|c| c.private_zone());
                if private == self.private_zone {
                    found.push(clean_zone_id(z.id()));
                }
            }
            if out.is_truncated() && !past {
                next_name = out.next_dns_name().map(str::to_string);
                next_id = out.next_hosted_zone_id().map(str::to_string);
            }
        }
        let kind = if self.private_zone {
            "private"
        } else {
            "public"
        };
        let id = match found.as_slice() {
            [one] => one.clone(),
            [] => {
                return Err(ProviderError::invalid(
                    "name",
                    format!("{:?}", self.name),
                    format!("no {kind} hosted zone of this name"),
                ))
            }
            many => {
                return Err(ProviderError::invalid(
                    "name",
                    format!("{:?}", self.name),
                    format!(
                        "{} {kind} hosted zones have this name: {many:?}",
                        many.len()
                    ),
                ))
            }
        };
        let out = cx
            .send("GetHostedZone", |c| c.get_hosted_zone().id(&id).send())
            .await?;
        let z = out
            .hosted_zone()
            .ok_or_else(|| cx.fatal(format!("GetHostedZone {id} answered no zone")))?;
        let name_servers: Vec<String> = out
            .delegation_set()
            .map(|d| d.name_servers().to_vec())
            .unwrap_or_default();
        Ok((
            id.clone(),
            // Not the record count: the stack's own records change it, and a
            // `--refresh` would then see a new answer after every `up`.
            json!({
                "zone_id": id,
                "name": normalize_name(z.name()),
                "name_servers": name_servers,
                "private_zone": z.config().is_some_and(|c| c.private_zone()),
                "comment": z.config().and_then(|c| c.comment()),
                "arn": format!("arn:aws:route53:::hostedzone/{id}"),
            }),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_before_any_call() {
        assert!(GetZone::public("morket.io").check().is_ok());
        assert!(GetZone::public("morket.io.").check().is_ok());
        let e = GetZone::public("bad name.io")
            .check()
            .unwrap_err()
            .to_string();
        assert!(e.contains("name") && e.contains("bad name.io"), "{e}");
    }
}
