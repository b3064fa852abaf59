//! Route 53 types (records, the hosted-zone lookup) and their shared
//! helpers: zone ids, DNS names as Route 53 writes them, the change wait.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_route53::types::{ChangeStatus, Tag, TagResourceType};

use super::call::Call;
use super::limits::TokenBucket;
use super::lookup::Looked;
use super::resource::Typed;
use super::service::Service;
use super::tags::Tags;
use super::wait::{Seen, Wait};
use super::Aws;
use crate::model::Input;
use crate::provider::{ProviderError, Registry};

pub mod get_zone;
pub mod record;
pub mod zone;

pub fn register(registry: &mut Registry, aws: Arc<Aws>) {
    registry.register(Typed::<record::Record>::new(aws.clone()));
    registry.register(Typed::<zone::Zone>::new(aws.clone()));
    registry.register(Looked::<get_zone::GetZone>::new(aws));
}

/// Route 53 as the call helper sees it; tags go by hosted zone id.
pub struct Route53;

#[async_trait]
impl Service for Route53 {
    type Client = aws_sdk_route53::Client;
    const NAME: &'static str = "route53";
    const CONCURRENCY: usize = 5;

    async fn client(aws: &Aws) -> &aws_sdk_route53::Client {
        aws.route53().await
    }

    fn bucket<'a>(aws: &'a Aws, _op: &str) -> &'a TokenBucket {
        &aws.limits.route53
    }

    async fn retag(
        cx: &Call<'_, Self>,
        zone_id: &str,
        set: &Tags,
        remove: &[String],
    ) -> Result<(), ProviderError> {
        let add: Vec<Tag> = set
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect();
        cx.send("ChangeTagsForResource", |c| {
            c.change_tags_for_resource()
                .resource_type(TagResourceType::Hostedzone)
                .resource_id(zone_id)
                .set_add_tags((!add.is_empty()).then(|| add.clone()))
                .set_remove_tag_keys((!remove.is_empty()).then(|| remove.to_vec()))
                .send()
        })
        .await
        .map(drop)
    }
}

/// `/hostedzone/Z123` → `Z123` (the API answers the long form).
pub fn clean_zone_id(id: &str) -> String {
    id.trim_start_matches("/hostedzone/").to_string()
}

/// A hosted zone id, when known: upper-case letters and digits (AWS's
/// start with `Z`; the API promises only a string of at most 32).
pub fn check_zone_id(field: &str, id: &Input<String>) -> Result<(), ProviderError> {
    if let Some(id) = id.known() {
        let ok = (1..=32).contains(&id.len())
            && id
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
        if !ok {
            return Err(ProviderError::invalid(
                field,
                format!("{id:?}"),
                "expected a hosted zone id like Z0123456789ABCDEFGHIJ (without /hostedzone/)",
            ));
        }
    }
    Ok(())
}

/// A DNS name as compared: lower case, no final dot, `\052` (how Route 53
/// writes `*`) as `*`.
pub fn normalize_name(name: &str) -> String {
    name.replace("\\052", "*")
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

/// Waits until a change is applied on every Route 53 name server (INSYNC).
/// Terraform waits 10 to 30 s before the first poll and at most 30 minutes.
pub async fn wait_insync(cx: &Call<'_, Route53>, change_id: &str) -> Result<(), ProviderError> {
    let id = change_id.trim_start_matches("/change/").to_string();
    Wait::new(
        "Route 53 change",
        &[ChangeStatus::Pending.as_str()],
        &[ChangeStatus::Insync.as_str()],
    )
    .after_modify(Duration::from_secs(10), 1)
    .after_create()
    .until(cx.settings(), || async {
        let out = cx
            .try_send("GetChange", |c| c.get_change().id(&id).send())
            .await;
        Ok(match out {
            Ok(o) => match o.change_info() {
                Some(ci) => Seen::State(ci.status().as_str().to_string(), ()),
                None => Seen::Gone,
            },
            Err(f) if f.code == "NoSuchChange" => Seen::Gone,
            Err(f) => return Err(f.error),
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_ids_and_names() {
        assert_eq!(clean_zone_id("/hostedzone/Z1ABC"), "Z1ABC");
        assert!(check_zone_id("zone_id", &Input::from("Z1ABC")).is_ok());
        assert!(check_zone_id("zone_id", &Input::Unknown).is_ok());
        let e = check_zone_id("zone_id", &Input::from("/hostedzone/Z1"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("zone_id") && e.contains("/hostedzone/Z1"), "{e}");
        assert_eq!(normalize_name("\\052.Example.COM."), "*.example.com");
    }
}
