//! `aws:cloudfront/OriginAccessControl` (Terraform
//! `aws_cloudfront_origin_access_control`): lets a distribution sign its
//! requests to a private S3 bucket (AWS's replacement for origin access
//! identities). Every field changes in place; each change names the ETag
//! read just before it.
//!
//! CloudFront cannot tag an OAC, so the name is the identity (unique per
//! account). `find` stays safe without a URN tag because it answers only an
//! OAC whose name *and* whole configuration equal the declaration: the
//! engine asks it only to settle a create of this URN, among objects no other
//! resource of the state tracks, so what it adopts is either ours or an
//! exact twin made by hand (which the create would have refused as a name
//! conflict). A same-name OAC configured differently stays a conflict.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_cloudfront::types::{
    OriginAccessControlConfig, OriginAccessControlOriginTypes, OriginAccessControlSigningBehaviors,
    OriginAccessControlSigningProtocols,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::time::Instant;

use super::{found, is_gone, CloudFront};
use crate::model::{Output, Resource, ResourceArgs};
use crate::provider::aws::call::{Call, Retry};
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::aws::validate::one_of;
use crate::provider::schema::{Schema, Tf};
use crate::provider::ProviderError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OriginAccessControl {
    /// 1 to 64 characters, unique in the account.
    pub name: String,
    /// Up to 256 characters.
    pub description: String,
    /// `s3` (also `mediastore`, `lambda`, `mediapackagev2`).
    pub origin_access_control_origin_type: String,
    /// `always` (sign every request), `never` or `no-override`.
    pub signing_behavior: String,
    /// `sigv4`.
    pub signing_protocol: String,
}

impl Default for OriginAccessControl {
    /// An S3 origin, every request signed with SigV4.
    fn default() -> Self {
        OriginAccessControl {
            name: String::new(),
            description: String::new(),
            origin_access_control_origin_type: "s3".into(),
            signing_behavior: "always".into(),
            signing_protocol: "sigv4".into(),
        }
    }
}

impl OriginAccessControl {
    /// An OAC for an S3 origin that signs every request.
    pub fn s3(name: &str) -> Self {
        OriginAccessControl {
            name: name.into(),
            ..Default::default()
        }
    }
}

impl ResourceArgs for OriginAccessControl {
    const TYPE: &'static str = "aws:cloudfront/OriginAccessControl";
}

impl Resource<OriginAccessControl> {
    pub fn name(&self) -> Output<String> {
        self.output("name")
    }
    /// The version to name in `IfMatch`; it changes with every update.
    pub fn etag(&self) -> Output<String> {
        self.output("etag")
    }
}

const ORIGIN_TYPES: &[&str] = &["s3", "mediastore", "lambda", "mediapackagev2"];
const SIGNING_BEHAVIORS: &[&str] = &["always", "never", "no-override"];
const SIGNING_PROTOCOLS: &[&str] = &["sigv4"];

/// How long a delete waits for distributions to stop using the OAC (a
/// distribution deleted in the same run lets go of it a little later).
const IN_USE_BUDGET: Duration = Duration::from_secs(5 * 60);

/// How long changes go on after `PreconditionFailed` (someone else changed
/// the OAC between our read of its ETag and our call).
const ETAG_BUDGET: Duration = Duration::from_secs(60);

impl OriginAccessControl {
    fn config(&self) -> Result<OriginAccessControlConfig, ProviderError> {
        OriginAccessControlConfig::builder()
            .name(&self.name)
            .description(&self.description)
            .origin_access_control_origin_type(OriginAccessControlOriginTypes::from(
                self.origin_access_control_origin_type.as_str(),
            ))
            .signing_behavior(OriginAccessControlSigningBehaviors::from(
                self.signing_behavior.as_str(),
            ))
            .signing_protocol(OriginAccessControlSigningProtocols::from(
                self.signing_protocol.as_str(),
            ))
            .build()
            .map_err(|e| ProviderError::Fatal(format!("origin access control config: {e}")))
    }

    fn from_config(c: &OriginAccessControlConfig) -> Self {
        OriginAccessControl {
            name: c.name().to_string(),
            description: c.description().unwrap_or_default().to_string(),
            origin_access_control_origin_type: c
                .origin_access_control_origin_type()
                .as_str()
                .to_string(),
            signing_behavior: c.signing_behavior().as_str().to_string(),
            signing_protocol: c.signing_protocol().as_str().to_string(),
        }
    }
}

/// The OAC's configuration and its current ETag; `None` when it is gone.
async fn get(
    cx: &Call<'_, CloudFront>,
    id: &str,
) -> Result<Option<(OriginAccessControl, String)>, ProviderError> {
    let out = found(
        cx.try_send("GetOriginAccessControl", |c| {
            c.get_origin_access_control().id(id).send()
        })
        .await,
    )?;
    Ok(out.and_then(|o| {
        let conf = o.origin_access_control()?.origin_access_control_config()?;
        Some((
            OriginAccessControl::from_config(conf),
            o.e_tag().unwrap_or_default().to_string(),
        ))
    }))
}

#[async_trait]
impl AwsResource for OriginAccessControl {
    type Service = CloudFront;
    const SCHEMA: Schema = Schema {
        unique_name: &["name"],
        computed_on_update: &["etag"],
        terraform: &[Tf {
            resource: "aws_cloudfront_origin_access_control",
            args: &[
                ("name", "name"),
                ("description", "description"),
                (
                    "origin_access_control_origin_type",
                    "origin_access_control_origin_type",
                ),
                ("signing_behavior", "signing_behavior"),
                ("signing_protocol", "signing_protocol"),
            ],
            import_id: "{id}",
        }],
        ..Schema::NONE
    };

    fn check(&self) -> Result<(), ProviderError> {
        if !(1..=64).contains(&self.name.chars().count()) {
            return Err(ProviderError::invalid(
                "name",
                format!("{:?}", self.name),
                "1 to 64 characters",
            ));
        }
        if self.description.chars().count() > 256 {
            return Err(ProviderError::invalid(
                "description",
                format!("{:?}", self.description),
                "at most 256 characters",
            ));
        }
        one_of(
            "origin_access_control_origin_type",
            &self.origin_access_control_origin_type,
            ORIGIN_TYPES,
        )?;
        one_of(
            "signing_behavior",
            &self.signing_behavior,
            SIGNING_BEHAVIORS,
        )?;
        one_of(
            "signing_protocol",
            &self.signing_protocol,
            SIGNING_PROTOCOLS,
        )
    }

    async fn create(&self, cx: &Call<'_, CloudFront>) -> Result<String, ProviderError> {
        let config = self.config()?;
        let made = cx
            .try_send("CreateOriginAccessControl", |c| {
                c.create_origin_access_control()
                    .origin_access_control_config(config.clone())
                    .send()
            })
            .await;
        match made {
            Ok(o) => o
                .origin_access_control()
                .map(|o| o.id().to_string())
                .ok_or_else(|| cx.fatal("CreateOriginAccessControl returned no id")),
            // Ours from an earlier attempt (see the module comment): carry on.
            Err(f) if f.code == "OriginAccessControlAlreadyExists" => {
                match self.find(cx).await?.into_iter().next() {
                    Some(id) => Ok(id),
                    None => Err(f.error),
                }
            }
            Err(f) => Err(f.error),
        }
    }

    async fn read(
        cx: &Call<'_, CloudFront>,
        id: &str,
        _declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError> {
        Ok(get(cx, id).await?.map(|(args, etag)| Live {
            outputs: json!({"id": id, "name": args.name, "etag": etag}),
            args,
        }))
    }

    async fn update(
        &self,
        _old: &Self,
        cx: &Call<'_, CloudFront>,
        id: &str,
    ) -> Result<(), ProviderError> {
        let config = self.config()?;
        let start = Instant::now();
        loop {
            let (_, etag) = get(cx, id)
                .await?
                .ok_or_else(|| ProviderError::NotFound(format!("origin access control {id}")))?;
            let r = cx
                .try_send("UpdateOriginAccessControl", |c| {
                    c.update_origin_access_control()
                        .id(id)
                        .if_match(&etag)
                        .origin_access_control_config(config.clone())
                        .send()
                })
                .await;
            match r {
                Ok(_) => return Ok(()),
                // Changed since we read the ETag: read it again.
                Err(f)
                    if f.code == "PreconditionFailed"
                        && start.elapsed() < cx.settings().scaled(ETAG_BUDGET) => {}
                Err(f) => return Err(f.error),
            }
        }
    }

    async fn delete(&self, cx: &Call<'_, CloudFront>, id: &str) -> Result<(), ProviderError> {
        let in_use = Retry::conflict(&["OriginAccessControlInUse"], IN_USE_BUDGET);
        let start = Instant::now();
        loop {
            let Some((_, etag)) = get(cx, id).await? else {
                return Ok(());
            };
            let r = cx
                .try_send_retrying("DeleteOriginAccessControl", &[in_use], |c| {
                    c.delete_origin_access_control()
                        .id(id)
                        .if_match(&etag)
                        .send()
                })
                .await;
            match r {
                Ok(_) => return Ok(()),
                Err(f) if is_gone(&f) => return Ok(()),
                Err(f)
                    if f.code == "PreconditionFailed"
                        && start.elapsed() < cx.settings().scaled(ETAG_BUDGET) => {}
                Err(f) => return Err(f.error),
            }
        }
    }

    async fn find(&self, cx: &Call<'_, CloudFront>) -> Result<Vec<String>, ProviderError> {
        let pages = cx
            .pages(
                "ListOriginAccessControls",
                cx.client()
                    .await
                    .list_origin_access_controls()
                    .into_paginator()
                    .send(),
            )
            .await?;
        let mut ids = Vec::new();
        for p in &pages {
            let items = p
                .origin_access_control_list()
                .map(|l| l.items())
                .unwrap_or_default();
            for s in items.iter().filter(|s| s.name() == self.name) {
                // The whole configuration, as GetOriginAccessControl answers it.
                if let Some((live, _)) = get(cx, s.id()).await? {
                    if &live == self {
                        ids.push(s.id().to_string());
                    }
                }
            }
        }
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_round_trips() {
        let o = OriginAccessControl {
            description: "frontend".into(),
            ..OriginAccessControl::s3("morket-frontend")
        };
        assert_eq!(OriginAccessControl::from_config(&o.config().unwrap()), o);
        let bad = OriginAccessControl {
            signing_behavior: "sometimes".into(),
            ..o.clone()
        };
        let e = bad.check().unwrap_err().to_string();
        assert!(
            e.contains("signing_behavior") && e.contains("sometimes"),
            "{e}"
        );
        let e = OriginAccessControl::s3(&"x".repeat(65))
            .check()
            .unwrap_err()
            .to_string();
        assert!(e.contains("name"), "{e}");
    }
}
