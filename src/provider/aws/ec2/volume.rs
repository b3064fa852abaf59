//! `aws:ec2/Volume` (Terraform `aws_ebs_volume`).
//!
//! Size, type, IOPS and throughput change in place through ModifyVolume (the
//! size may only grow); availability zone, encryption and KMS key force a new
//! volume.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::{ResourceType, VolumeModification, VolumeType};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{filter, from_tags, Ec2};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::call::{Call, Retry};
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::aws::tags::Tags;
use crate::provider::aws::validate::{check_az, in_range, one_of, requires};
use crate::provider::aws::wait::{Seen, Wait};
use crate::provider::schema::{Schema, Tf};
use crate::provider::ProviderError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Volume {
    pub availability_zone: Input<String>,
    /// GiB.
    pub size: i32,
    /// `gp3`, `gp2`, `io1` or `io2`.
    #[serde(rename = "type")]
    pub volume_type: String,
    /// gp3 (3000 to 16000, default 3000), io1 (100 to 64000), io2 (100 to 256000).
    pub iops: Option<i32>,
    /// MiB/s, gp3 only: 125 to 1000 (default 125).
    pub throughput: Option<i32>,
    pub encrypted: bool,
    pub kms_key_id: Option<Input<String>>,
    pub tags: Tags,
}

impl Default for Volume {
    fn default() -> Self {
        Volume {
            availability_zone: Input::default(),
            size: 0,
            volume_type: "gp3".into(),
            iops: None,
            throughput: None,
            encrypted: false,
            kms_key_id: None,
            tags: Tags::new(),
        }
    }
}

impl Volume {
    pub fn new(availability_zone: impl Into<Input<String>>, size: i32) -> Self {
        Volume {
            availability_zone: availability_zone.into(),
            size,
            ..Default::default()
        }
    }
}

impl ResourceArgs for Volume {
    const TYPE: &'static str = "aws:ec2/Volume";
}

impl Resource<Volume> {
    pub fn arn(&self) -> Output<String> {
        self.output("arn")
    }
    pub fn availability_zone(&self) -> Output<String> {
        self.output("availability_zone")
    }
}

const TYPES: &[&str] = &["gp3", "gp2", "io1", "io2"];

/// The size may only grow; a smaller size is refused before any call.
pub fn check_growth(old: i32, new: i32) -> Result<(), ProviderError> {
    if new < old {
        return Err(ProviderError::invalid(
            "size",
            new,
            format!(
                "an EBS volume can only grow: it is {old} GiB; replace the volume to shrink it"
            ),
        ));
    }
    Ok(())
}

/// The latest modification of a volume: AWS lists them in no promised order.
fn newest(mods: &[VolumeModification]) -> Option<&VolumeModification> {
    mods.iter().max_by_key(|m| m.start_time())
}

#[async_trait]
impl AwsResource for Volume {
    type Service = Ec2;
    const SCHEMA: Schema = Schema {
        force_new: &["availability_zone", "encrypted", "kms_key_id"],
        computed_on_update: &["size", "iops", "throughput"],
        // AWS reports what it applied (gp3 3000 IOPS and 125 MiB/s, the gp2
        // baseline, the account's default key).
        optional_computed: &["iops", "throughput", "kms_key_id"],
        terraform: &[Tf {
            resource: "aws_ebs_volume",
            args: &[
                ("availability_zone", "availability_zone"),
                ("size", "size"),
                ("type", "type"),
                ("iops", "iops"),
                ("throughput", "throughput"),
                ("encrypted", "encrypted"),
                ("kms_key_id", "kms_key_id"),
                ("tags", "tags"),
            ],
            import_id: "{id}",
        }],
        ..Schema::NONE
    };

    fn check(&self) -> Result<(), ProviderError> {
        let t = self.volume_type.as_str();
        one_of("type", t, TYPES)?;
        if let Some(az) = self.availability_zone.known() {
            check_az("availability_zone", az)?;
        }
        let min = if matches!(t, "io1" | "io2") { 4 } else { 1 };
        in_range("size", self.size, min..=65536)?;
        match (t, self.iops) {
            ("gp2", Some(i)) => Err(ProviderError::invalid(
                "iops",
                i,
                "gp2 volumes do not take iops (it follows the size)",
            )),
            ("gp3", Some(i)) => in_range("iops", i, 3000..=16000),
            ("io1", Some(i)) => in_range("iops", i, 100..=64000),
            ("io2", Some(i)) => in_range("iops", i, 100..=256000),
            ("io1" | "io2", None) => Err(ProviderError::invalid(
                "iops",
                "(none)",
                format!("required for {t} volumes"),
            )),
            _ => Ok(()),
        }?;
        if let Some(tp) = self.throughput {
            if t != "gp3" {
                return Err(ProviderError::invalid(
                    "throughput",
                    tp,
                    format!("only gp3 volumes take throughput, not {t}"),
                ));
            }
            in_range("throughput", tp, 125..=1000)?;
        }
        requires(
            ("kms_key_id", self.kms_key_id.is_some()),
            ("encrypted", self.encrypted),
        )
    }

    async fn create(&self, cx: &Call<'_, Ec2>) -> Result<String, ProviderError> {
        let az = self.availability_zone.require("availability_zone")?;
        let kms = match &self.kms_key_id {
            Some(k) => Some(k.require("kms_key_id")?.clone()),
            None => None,
        };
        // The SDK fills in CreateVolume's ClientToken, so its own retries of
        // this request make one volume.
        let out = cx
            .send("CreateVolume", |c| {
                c.create_volume()
                    .availability_zone(az)
                    .size(self.size)
                    .volume_type(VolumeType::from(self.volume_type.as_str()))
                    .set_iops(self.iops)
                    .set_throughput(self.throughput)
                    .encrypted(self.encrypted)
                    .set_kms_key_id(kms.clone())
                    .tag_specifications(cx.tag_spec(ResourceType::Volume, &self.tags))
                    .send()
            })
            .await?;
        out.volume_id()
            .map(str::to_string)
            .ok_or_else(|| cx.fatal("CreateVolume returned no volume id"))
    }

    async fn after_create(&self, cx: &Call<'_, Ec2>, id: &str) -> Result<(), ProviderError> {
        Wait::new("volume", &["creating"], &["available", "in-use"])
            .after_create()
            .until(cx.settings(), || async {
                Ok(match describe(cx, id).await? {
                    Some(v) => Seen::State(state(&v).to_string(), ()),
                    None => Seen::Gone,
                })
            })
            .await
    }

    async fn read(
        cx: &Call<'_, Ec2>,
        id: &str,
        _declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError> {
        match describe(cx, id).await? {
            Some(v) => Ok(live(cx, id, &v).await),
            None => Ok(None),
        }
    }

    // One DescribeVolumes per 200 ids (`Call::describe_many`).
    async fn read_many(
        cx: &Call<'_, Ec2>,
        items: &[(String, Self)],
    ) -> Result<Vec<Option<Live<Self>>>, ProviderError> {
        let found = cx
            .describe_many(
                "DescribeVolumes",
                items.iter().map(|(id, _)| id.as_str()),
                |c, ids| {
                    c.describe_volumes()
                        .filters(filter("volume-id", ids))
                        .into_paginator()
                        .send()
                },
                |page| {
                    page.volumes()
                        .iter()
                        .filter_map(|v| Some((v.volume_id()?.to_string(), v.clone())))
                        .collect()
                },
            )
            .await?;
        let mut out = Vec::with_capacity(items.len());
        for (id, _) in items {
            out.push(match found.get(id) {
                Some(v) => live(cx, id, v).await,
                None => None,
            });
        }
        Ok(out)
    }

    async fn update(&self, old: &Self, cx: &Call<'_, Ec2>, id: &str) -> Result<(), ProviderError> {
        check_growth(old.size, self.size)?;
        let size = (self.size != old.size).then_some(self.size);
        let vtype = (self.volume_type != old.volume_type)
            .then(|| VolumeType::from(self.volume_type.as_str()));
        let iops = self.iops.filter(|_| self.iops != old.iops);
        let throughput = self
            .throughput
            .filter(|_| self.throughput != old.throughput);
        if size.is_some() || vtype.is_some() || iops.is_some() || throughput.is_some() {
            let out = cx
                .send("ModifyVolume", |c| {
                    c.modify_volume()
                        .volume_id(id)
                        .set_size(size)
                        .set_volume_type(vtype.clone())
                        .set_iops(iops)
                        .set_throughput(throughput)
                        .send()
                })
                .await?;
            let since = out
                .volume_modification()
                .and_then(|m| m.start_time())
                .copied();
            wait_modified(cx, id, since).await?;
        }
        cx.update_tags(id, &old.tags, &self.tags).await
    }

    async fn delete(&self, cx: &Call<'_, Ec2>, id: &str) -> Result<(), ProviderError> {
        // A volume just detached can still show as in use for a moment
        // (Terraform retries VolumeInUse for the delete timeout).
        let in_use = Retry::conflict(&["VolumeInUse"], Duration::from_secs(300));
        cx.send_retrying("DeleteVolume", &[in_use], |c| {
            c.delete_volume().volume_id(id).send()
        })
        .await?;
        // A describe right after the call may still say "available".
        Wait::new("volume", &["available", "deleting"], &[])
            .until_gone(cx.settings(), || async {
                Ok(match describe(cx, id).await? {
                    Some(v) if state(&v) != "deleted" => Seen::State(state(&v).to_string(), ()),
                    _ => Seen::Gone,
                })
            })
            .await
    }

    async fn find(&self, cx: &Call<'_, Ec2>) -> Result<Vec<String>, ProviderError> {
        let stream = cx
            .client()
            .await
            .describe_volumes()
            .filters(cx.urn_filter())
            .filters(filter("status", ["creating", "available", "in-use"]))
            .into_paginator()
            .send();
        Ok(cx
            .pages("DescribeVolumes", stream)
            .await?
            .iter()
            .flat_map(|p| p.volumes())
            .filter_map(|v| v.volume_id().map(str::to_string))
            .collect())
    }
}

/// The volume in any state; `None` when DescribeVolumes does not know the id.
/// A described volume as read; `None` once it is being deleted.
async fn live(
    cx: &Call<'_, Ec2>,
    id: &str,
    v: &aws_sdk_ec2::types::Volume,
) -> Option<Live<Volume>> {
    if matches!(state(v), "deleting" | "deleted") {
        return None;
    }
    let args = Volume {
        availability_zone: Input::Value(v.availability_zone().unwrap_or_default().into()),
        size: v.size().unwrap_or_default(),
        volume_type: v.volume_type().map_or("gp3", |t| t.as_str()).into(),
        iops: v.iops(),
        throughput: v.throughput(),
        encrypted: v.encrypted().unwrap_or(false),
        kms_key_id: v.kms_key_id().map(|k| Input::Value(k.to_string())),
        tags: cx.own_tags(&from_tags(v.tags())),
    };
    let arn = match v.volume_arn() {
        Some(a) => a.to_string(),
        None => {
            let owner = v.owner_id().unwrap_or_default();
            cx.arn("ec2", owner, &format!("volume/{id}")).await
        }
    };
    let outputs = json!({
        "id": id,
        "arn": arn,
        "availability_zone": v.availability_zone(),
        "size": v.size(),
        "iops": v.iops(),
        "throughput": v.throughput(),
        "kms_key_id": v.kms_key_id(),
    });
    Some(Live { args, outputs })
}

async fn describe(
    cx: &Call<'_, Ec2>,
    id: &str,
) -> Result<Option<aws_sdk_ec2::types::Volume>, ProviderError> {
    Ok(cx
        .find("DescribeVolumes", |c| {
            c.describe_volumes().volume_ids(id).send()
        })
        .await?
        .and_then(|o| o.volumes().first().cloned()))
}

fn state(v: &aws_sdk_ec2::types::Volume) -> &str {
    v.state().map_or("unknown", |s| s.as_str())
}

/// Waits until the modification started at `since` is `optimizing` (the
/// volume is usable with its new values) or `completed`.
async fn wait_modified(
    cx: &Call<'_, Ec2>,
    id: &str,
    since: Option<aws_smithy_types::DateTime>,
) -> Result<(), ProviderError> {
    let w = Wait {
        // A new modification may not be listed yet.
        not_found_grace: Duration::from_secs(120),
        ..Wait::new(
            "volume modification",
            &["modifying"],
            &["optimizing", "completed"],
        )
    };
    w.until(cx.settings(), || async {
        let stream = cx
            .client()
            .await
            .describe_volumes_modifications()
            .volume_ids(id)
            .into_paginator()
            .send();
        let mods: Vec<VolumeModification> = cx
            .pages("DescribeVolumesModifications", stream)
            .await?
            .iter()
            .flat_map(|p| p.volumes_modifications().iter().cloned())
            .collect();
        Ok(match newest(&mods) {
            Some(m) if since.is_none() || m.start_time() >= since.as_ref() => Seen::State(
                m.modification_state()
                    .map_or("unknown", |s| s.as_str())
                    .to_string(),
                (),
            ),
            _ => Seen::Gone,
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ec2::types::VolumeModificationState;
    use aws_smithy_types::DateTime;

    #[test]
    fn volume_rules() {
        let mut v = Volume::new("us-east-1a", 500);
        v.iops = Some(3000);
        v.throughput = Some(125);
        assert!(v.check().is_ok());
        v.throughput = Some(2000);
        let e = v.check().unwrap_err().to_string();
        assert!(e.contains("throughput") && e.contains("2000"), "{e}");
        v.throughput = None;
        v.volume_type = "gp2".into();
        assert!(v.check().is_err(), "gp2 with iops");
        let e = check_growth(500, 100).unwrap_err().to_string();
        assert!(
            e.contains("size") && e.contains("100") && e.contains("only grow"),
            "{e}"
        );
    }

    #[test]
    fn the_newest_modification_is_the_one_started_last_whatever_the_order() {
        let m = |secs, state| {
            VolumeModification::builder()
                .start_time(DateTime::from_secs(secs))
                .modification_state(state)
                .build()
        };
        let mods = [
            m(300, VolumeModificationState::Modifying),
            m(100, VolumeModificationState::Completed),
            m(200, VolumeModificationState::Completed),
        ];
        let n = newest(&mods).unwrap();
        assert_eq!(n.start_time(), Some(&DateTime::from_secs(300)));
        assert_eq!(
            n.modification_state(),
            Some(&VolumeModificationState::Modifying)
        );
        assert!(newest(&[]).is_none());
    }
}
