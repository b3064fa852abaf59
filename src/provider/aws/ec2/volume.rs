//! `aws:ec2/Volume` (Terraform `aws_ebs_volume`).
//!
//! Size, type, IOPS and throughput change in place through ModifyVolume (the
//! size may only grow); availability zone, encryption and KMS key force a new
//! volume.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_ec2::types::{Filter, ResourceType, VolumeType};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::instance::{live_own_tags, wait_until, Poll};
use super::launch_template::known_all;
use super::{tag_spec, update_tags, urn_filter};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::tags::{self, Tags};
use crate::provider::aws::{error, Aws};
use crate::provider::{parse, Created, Ctx, Provider, ProviderError, ReadResult};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Volume {
    pub availability_zone: Input<String>,
    /// GiB.
    pub size: i32,
    /// `gp3`, `gp2`, `io1` or `io2`.
    #[serde(rename = "type", default = "gp3")]
    pub volume_type: String,
    /// gp3 (3000 to 16000, default 3000), io1 (100 to 64000), io2 (100 to 256000).
    #[serde(default)]
    pub iops: Option<i32>,
    /// MiB/s, gp3 only: 125 to 1000 (default 125).
    #[serde(default)]
    pub throughput: Option<i32>,
    #[serde(default)]
    pub encrypted: bool,
    #[serde(default)]
    pub kms_key_id: Option<Input<String>>,
    #[serde(default)]
    pub tags: Tags,
}

fn gp3() -> String {
    "gp3".into()
}

const GP3_IOPS: i32 = 3000;
const GP3_THROUGHPUT: i32 = 125;
const TYPES: &[&str] = &["gp3", "gp2", "io1", "io2"];

impl Volume {
    pub fn new(availability_zone: impl Into<Input<String>>, size: i32) -> Self {
        Volume {
            availability_zone: availability_zone.into(),
            size,
            volume_type: gp3(),
            iops: None,
            throughput: None,
            encrypted: false,
            kms_key_id: None,
            tags: Tags::new(),
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

fn check(v: &Volume) -> Result<(), ProviderError> {
    let t = v.volume_type.as_str();
    if !TYPES.contains(&t) {
        return Err(ProviderError::invalid(
            "type",
            format!("{t:?}"),
            format!("must be one of {TYPES:?}"),
        ));
    }
    let (min, max) = if matches!(t, "io1" | "io2") {
        (4, 65536)
    } else {
        (1, 65536)
    };
    if !(min..=max).contains(&v.size) {
        return Err(ProviderError::invalid(
            "size",
            v.size,
            format!("a {t} volume is {min} to {max} GiB"),
        ));
    }
    match (t, v.iops) {
        ("gp2", Some(i)) => {
            return Err(ProviderError::invalid(
                "iops",
                i,
                "gp2 volumes do not take iops (it follows the size)",
            ))
        }
        ("gp3", Some(i)) if !(3000..=16000).contains(&i) => {
            return Err(ProviderError::invalid(
                "iops",
                i,
                "gp3 iops must be between 3000 and 16000",
            ))
        }
        ("io1", Some(i)) if !(100..=64000).contains(&i) => {
            return Err(ProviderError::invalid(
                "iops",
                i,
                "io1 iops must be between 100 and 64000",
            ))
        }
        ("io2", Some(i)) if !(100..=256000).contains(&i) => {
            return Err(ProviderError::invalid(
                "iops",
                i,
                "io2 iops must be between 100 and 256000",
            ))
        }
        ("io1" | "io2", None) => {
            return Err(ProviderError::invalid(
                "iops",
                "(none)",
                format!("required for {t} volumes"),
            ))
        }
        _ => {}
    }
    if let Some(tp) = v.throughput {
        if t != "gp3" {
            return Err(ProviderError::invalid(
                "throughput",
                tp,
                format!("only gp3 volumes take throughput, not {t}"),
            ));
        }
        if !(125..=1000).contains(&tp) {
            return Err(ProviderError::invalid(
                "throughput",
                tp,
                "gp3 throughput must be between 125 and 1000 MiB/s",
            ));
        }
    }
    if v.kms_key_id.is_some() && !v.encrypted {
        return Err(ProviderError::invalid(
            "kms_key_id",
            "(set)",
            "needs encrypted = true",
        ));
    }
    tags::validate(&v.tags)
}

pub struct VolumeProvider {
    aws: Arc<Aws>,
}

impl VolumeProvider {
    pub fn new(aws: Arc<Aws>) -> Self {
        VolumeProvider { aws }
    }

    /// The volume, or `None` when gone or being deleted.
    async fn describe(
        &self,
        ctx: &Ctx,
        id: &str,
    ) -> Result<Option<aws_sdk_ec2::types::Volume>, ProviderError> {
        self.aws.limits.ec2_describe.acquire().await;
        match self
            .aws
            .ec2()
            .await
            .describe_volumes()
            .volume_ids(id)
            .send()
            .await
        {
            Ok(out) => Ok(out
                .volumes()
                .first()
                .filter(|v| !matches!(state(v).as_str(), "deleting" | "deleted"))
                .cloned()),
            Err(e) => match error::map(&ctx.urn, "DescribeVolumes", e) {
                ProviderError::NotFound(_) => Ok(None),
                other => Err(other),
            },
        }
    }

    async fn outputs(&self, v: &aws_sdk_ec2::types::Volume) -> Value {
        let id = v.volume_id().unwrap_or_default();
        let arn = match v.volume_arn() {
            Some(a) => a.to_string(),
            None => {
                let region = self
                    .aws
                    .config()
                    .await
                    .region()
                    .map(|r| r.to_string())
                    .unwrap_or_default();
                format!(
                    "arn:aws:ec2:{region}:{}:volume/{id}",
                    v.owner_id().unwrap_or_default()
                )
            }
        };
        json!({
            "id": id,
            "arn": arn,
            "availability_zone": v.availability_zone(),
            "size": v.size(),
            "iops": v.iops(),
            "throughput": v.throughput(),
            "kms_key_id": v.kms_key_id(),
        })
    }

    async fn wait_available(
        &self,
        ctx: &Ctx,
        id: &str,
    ) -> Result<aws_sdk_ec2::types::Volume, ProviderError> {
        wait_until(
            &self.aws,
            ctx,
            &format!("volume {id}"),
            "available",
            move || async move {
                match self.describe(ctx, id).await? {
                    Some(v) if matches!(state(&v).as_str(), "available" | "in-use") => {
                        Ok(Poll::Done(v))
                    }
                    Some(v) if state(&v) == "error" => Err(ProviderError::Fatal(format!(
                        "{}: volume {id} is in state error",
                        ctx.urn
                    ))),
                    Some(v) => Ok(Poll::Pending(state(&v))),
                    None => Err(ProviderError::Fatal(format!(
                        "{}: volume {id} vanished while waiting for it to be available",
                        ctx.urn
                    ))),
                }
            },
        )
        .await
    }
}

fn state(v: &aws_sdk_ec2::types::Volume) -> String {
    v.state()
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|| "unknown".into())
}

#[async_trait]
impl Provider for VolumeProvider {
    fn type_name(&self) -> &'static str {
        Volume::TYPE
    }

    fn force_new(&self) -> &'static [&'static str] {
        &["availability_zone", "encrypted", "kms_key_id"]
    }

    fn outputs_changed_by_update(&self) -> &'static [&'static str] {
        &["size", "iops", "throughput"]
    }

    fn concurrency(&self) -> Option<(&'static str, usize)> {
        Some(("ec2", 20))
    }

    fn validate(&self, inputs: &Value) -> Result<(), ProviderError> {
        check(&parse(inputs)?)
    }

    async fn create(&self, ctx: &Ctx, inputs: &Value) -> Result<Created, ProviderError> {
        let v: Volume = parse(inputs)?;
        let az = known_all(
            "availability_zone",
            std::slice::from_ref(&v.availability_zone),
        )?
        .remove(0);
        let kms = match &v.kms_key_id {
            Some(k) => Some(known_all("kms_key_id", std::slice::from_ref(k))?.remove(0)),
            None => None,
        };
        self.aws.limits.ec2_mutating.acquire().await;
        let out = self
            .aws
            .ec2()
            .await
            .create_volume()
            .availability_zone(az)
            .size(v.size)
            .volume_type(VolumeType::from(v.volume_type.as_str()))
            .set_iops(v.iops)
            .set_throughput(v.throughput)
            .encrypted(v.encrypted)
            .set_kms_key_id(kms)
            .tag_specifications(tag_spec(&self.aws, ctx, ResourceType::Volume, &v.tags))
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "CreateVolume", e))?;
        let id = out
            .volume_id()
            .ok_or_else(|| {
                ProviderError::Fatal(format!("{}: CreateVolume returned no volume id", ctx.urn))
            })?
            .to_string();
        let vol = self
            .wait_available(ctx, &id)
            .await
            .map_err(|e| ProviderError::partial(&id, e))?;
        Ok(Created {
            id,
            outputs: self.outputs(&vol).await,
        })
    }

    async fn read(
        &self,
        ctx: &Ctx,
        id: &str,
        inputs: &Value,
        _outputs: &Value,
    ) -> Result<Option<ReadResult>, ProviderError> {
        let Some(vol) = self.describe(ctx, id).await? else {
            return Ok(None);
        };
        let declared: Option<Volume> = parse(inputs).ok();
        let t = vol
            .volume_type()
            .map(|t| t.as_str().to_string())
            .unwrap_or_else(gp3);
        // AWS reports the defaults it applied (gp3 3000 IOPS / 125 MiB/s, gp2
        // baseline IOPS); an undeclared default is not drift.
        let iops = match (t.as_str(), vol.iops()) {
            ("gp2", _) => None,
            ("gp3", Some(GP3_IOPS)) if declared.as_ref().is_some_and(|d| d.iops.is_none()) => None,
            (_, i) => i,
        };
        let throughput = match (t.as_str(), vol.throughput()) {
            ("gp3", Some(GP3_THROUGHPUT))
                if declared.as_ref().is_some_and(|d| d.throughput.is_none()) =>
            {
                None
            }
            ("gp3", tp) => tp,
            _ => None,
        };
        let live = Volume {
            availability_zone: Input::Value(vol.availability_zone().unwrap_or_default().into()),
            size: vol.size().unwrap_or_default(),
            volume_type: t,
            iops,
            throughput,
            encrypted: vol.encrypted().unwrap_or(false),
            // The default key shows up when only `encrypted` was declared.
            kms_key_id: match declared.as_ref().map(|d| d.kms_key_id.is_some()) {
                Some(false) => None,
                _ => vol.kms_key_id().map(|k| Input::Value(k.to_string())),
            },
            tags: live_own_tags(&self.aws, vol.tags()),
        };
        Ok(Some(ReadResult {
            inputs: serde_json::to_value(live).expect("serializable"),
            outputs: self.outputs(&vol).await,
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
        let (o, n): (Volume, Volume) = (parse(old_inputs)?, parse(new_inputs)?);
        check_growth(o.size, n.size)?;
        check(&n)?;
        let size = (n.size != o.size).then_some(n.size);
        let vtype =
            (n.volume_type != o.volume_type).then(|| VolumeType::from(n.volume_type.as_str()));
        let iops = (n.iops != o.iops).then_some(n.iops).flatten();
        let throughput = (n.throughput != o.throughput)
            .then_some(n.throughput)
            .flatten();
        if size.is_some() || vtype.is_some() || iops.is_some() || throughput.is_some() {
            self.aws.limits.ec2_mutating.acquire().await;
            self.aws
                .ec2()
                .await
                .modify_volume()
                .volume_id(id)
                .set_size(size)
                .set_volume_type(vtype)
                .set_iops(iops)
                .set_throughput(throughput)
                .send()
                .await
                .map_err(|e| error::map(&ctx.urn, "ModifyVolume", e))?;
            // Usable again (and the new values visible) once "optimizing".
            wait_until(
                &self.aws,
                ctx,
                &format!("volume {id} modification"),
                "optimizing or completed",
                move || async move {
                    self.aws.limits.ec2_describe.acquire().await;
                    let out = self
                        .aws
                        .ec2()
                        .await
                        .describe_volumes_modifications()
                        .volume_ids(id)
                        .send()
                        .await
                        .map_err(|e| error::map(&ctx.urn, "DescribeVolumesModifications", e))?;
                    let st = out
                        .volumes_modifications()
                        .last()
                        .and_then(|m| m.modification_state())
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_else(|| "completed".into());
                    match st.as_str() {
                        "optimizing" | "completed" => Ok(Poll::Done(())),
                        "failed" => Err(ProviderError::Fatal(format!(
                            "{}: ModifyVolume on {id} failed",
                            ctx.urn
                        ))),
                        _ => Ok(Poll::Pending(st)),
                    }
                },
            )
            .await?;
        }
        update_tags(&self.aws, ctx, id, &o.tags, &n.tags).await?;
        match self.describe(ctx, id).await? {
            Some(v) => Ok(self.outputs(&v).await),
            None => Err(ProviderError::NotFound(format!(
                "{}: volume {id} disappeared during update",
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
        match self
            .aws
            .ec2()
            .await
            .delete_volume()
            .volume_id(id)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) => match error::map(&ctx.urn, "DeleteVolume", e) {
                ProviderError::NotFound(_) => return Ok(()),
                other => return Err(other),
            },
        }
        wait_until(
            &self.aws,
            ctx,
            &format!("volume {id}"),
            "deleted",
            move || async move {
                Ok(match self.describe(ctx, id).await? {
                    None => Poll::Done(()),
                    Some(v) => Poll::Pending(state(&v)),
                })
            },
        )
        .await
    }

    async fn find_by_urn(&self, ctx: &Ctx, _inputs: &Value) -> Result<Vec<Created>, ProviderError> {
        self.aws.limits.ec2_describe.acquire().await;
        let out = self
            .aws
            .ec2()
            .await
            .describe_volumes()
            .filters(urn_filter(ctx))
            .filters(
                Filter::builder()
                    .name("status")
                    .set_values(Some(
                        ["creating", "available", "in-use"]
                            .map(String::from)
                            .to_vec(),
                    ))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "DescribeVolumes", e))?;
        let mut found = Vec::new();
        for v in out.volumes() {
            found.push(Created {
                id: v.volume_id().unwrap_or_default().to_string(),
                outputs: self.outputs(v).await,
            });
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_rules() {
        let mut v = Volume::new("us-east-1a", 500);
        v.iops = Some(3000);
        v.throughput = Some(125);
        assert!(check(&v).is_ok());
        v.throughput = Some(2000);
        let e = check(&v).unwrap_err().to_string();
        assert!(e.contains("throughput") && e.contains("2000"), "{e}");
        v.throughput = None;
        v.volume_type = "gp2".into();
        assert!(check(&v).is_err(), "gp2 with iops");
        let e = check_growth(500, 100).unwrap_err().to_string();
        assert!(
            e.contains("size") && e.contains("100") && e.contains("only grow"),
            "{e}"
        );
    }
}
