//! `aws:ec2/VolumeAttachment` (Terraform `aws_volume_attachment`).
//!
//! Not an AWS object of its own: the id is derived from the three inputs
//! (`vai-<device>-<volume>-<instance>`), which is also how an interrupted
//! create is adopted (the attachment has no tags). Every field forces a new
//! attachment. DetachVolume always names the instance (moto answers 500 without).

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::instance::{wait_until, Poll};
use super::launch_template::known_all;
use crate::model::{Input, ResourceArgs};
use crate::provider::aws::{error, Aws};
use crate::provider::{parse, Created, Ctx, Provider, ProviderError, ReadResult};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeAttachment {
    /// `/dev/sdf`, `/dev/xvdf`, ...
    pub device_name: String,
    pub volume_id: Input<String>,
    pub instance_id: Input<String>,
}

impl VolumeAttachment {
    pub fn new(
        device_name: &str,
        volume_id: impl Into<Input<String>>,
        instance_id: impl Into<Input<String>>,
    ) -> Self {
        VolumeAttachment {
            device_name: device_name.into(),
            volume_id: volume_id.into(),
            instance_id: instance_id.into(),
        }
    }
}

impl ResourceArgs for VolumeAttachment {
    const TYPE: &'static str = "aws:ec2/VolumeAttachment";
}

/// `vai-sdf-vol-0123-i-0456` for `/dev/sdf`.
pub fn attachment_id(device: &str, volume: &str, instance: &str) -> String {
    let dev = device.trim_start_matches("/dev/").replace('/', "_");
    format!("vai-{dev}-{volume}-{instance}")
}

struct Known {
    device: String,
    volume: String,
    instance: String,
}

fn known(v: &VolumeAttachment) -> Result<Known, ProviderError> {
    Ok(Known {
        device: v.device_name.clone(),
        volume: known_all("volume_id", std::slice::from_ref(&v.volume_id))?.remove(0),
        instance: known_all("instance_id", std::slice::from_ref(&v.instance_id))?.remove(0),
    })
}

pub struct VolumeAttachmentProvider {
    aws: Arc<Aws>,
}

impl VolumeAttachmentProvider {
    pub fn new(aws: Arc<Aws>) -> Self {
        VolumeAttachmentProvider { aws }
    }

    /// The attachment of the volume to the instance and its state, if any.
    async fn attachment(
        &self,
        ctx: &Ctx,
        k: &Known,
    ) -> Result<Option<aws_sdk_ec2::types::VolumeAttachment>, ProviderError> {
        self.aws.limits.ec2_describe.acquire().await;
        match self
            .aws
            .ec2()
            .await
            .describe_volumes()
            .volume_ids(&k.volume)
            .send()
            .await
        {
            Ok(out) => Ok(out.volumes().first().and_then(|v| {
                v.attachments()
                    .iter()
                    .find(|a| a.instance_id() == Some(k.instance.as_str()))
                    .cloned()
            })),
            Err(e) => match error::map(&ctx.urn, "DescribeVolumes", e) {
                ProviderError::NotFound(_) => Ok(None),
                other => Err(other),
            },
        }
    }

    fn outputs(k: &Known, device: &str) -> Value {
        json!({
            "id": attachment_id(&k.device, &k.volume, &k.instance),
            "device_name": device,
            "volume_id": k.volume,
            "instance_id": k.instance,
        })
    }
}

fn att_state(a: &aws_sdk_ec2::types::VolumeAttachment) -> String {
    a.state()
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|| "unknown".into())
}

#[async_trait]
impl Provider for VolumeAttachmentProvider {
    fn type_name(&self) -> &'static str {
        VolumeAttachment::TYPE
    }

    fn force_new(&self) -> &'static [&'static str] {
        &["device_name", "volume_id", "instance_id"]
    }

    /// A volume attaches to one instance at a time: moving it detaches first.
    fn unique_name(&self) -> &'static [&'static str] {
        &["volume_id"]
    }

    fn concurrency(&self) -> Option<(&'static str, usize)> {
        Some(("ec2", 20))
    }

    fn validate(&self, inputs: &Value) -> Result<(), ProviderError> {
        let v: VolumeAttachment = parse(inputs)?;
        let d = &v.device_name;
        let dev_ok = (d.starts_with("/dev/") && d.len() > 5) || d.starts_with("xvd");
        if !dev_ok || d.chars().any(char::is_whitespace) {
            return Err(ProviderError::invalid(
                "device_name",
                format!("{d:?}"),
                "expected a device like /dev/sdf or /dev/xvdf",
            ));
        }
        for (field, v, prefix) in [
            ("volume_id", &v.volume_id, "vol-"),
            ("instance_id", &v.instance_id, "i-"),
        ] {
            if let Some(s) = v.known() {
                if !s.starts_with(prefix) {
                    return Err(ProviderError::invalid(
                        field,
                        format!("{s:?}"),
                        format!("expected an id starting with {prefix:?}"),
                    ));
                }
            }
        }
        Ok(())
    }

    async fn create(&self, ctx: &Ctx, inputs: &Value) -> Result<Created, ProviderError> {
        let v: VolumeAttachment = parse(inputs)?;
        let k = known(&v)?;
        // Re-attaching what is already attached is a no-op (a retried create).
        let already = self
            .attachment(ctx, &k)
            .await?
            .is_some_and(|a| matches!(att_state(&a).as_str(), "attached" | "attaching"));
        if !already {
            self.aws.limits.ec2_mutating.acquire().await;
            self.aws
                .ec2()
                .await
                .attach_volume()
                .device(&k.device)
                .volume_id(&k.volume)
                .instance_id(&k.instance)
                .send()
                .await
                .map_err(|e| error::map(&ctx.urn, "AttachVolume", e))?;
        }
        let what = format!("volume {} on instance {}", k.volume, k.instance);
        let k = &k;
        let device = wait_until(&self.aws, ctx, &what, "attached", move || async move {
            match self.attachment(ctx, k).await? {
                Some(a) if att_state(&a) == "attached" => {
                    Ok(Poll::Done(a.device().unwrap_or(&k.device).to_string()))
                }
                Some(a) => Ok(Poll::Pending(att_state(&a))),
                None => Ok(Poll::Pending("not attached".into())),
            }
        })
        .await?;
        Ok(Created {
            id: attachment_id(&k.device, &k.volume, &k.instance),
            outputs: Self::outputs(k, &device),
        })
    }

    async fn read(
        &self,
        ctx: &Ctx,
        _id: &str,
        inputs: &Value,
        _outputs: &Value,
    ) -> Result<Option<ReadResult>, ProviderError> {
        let v: VolumeAttachment = parse(inputs)?;
        let k = known(&v)?;
        let Some(a) = self.attachment(ctx, &k).await? else {
            return Ok(None);
        };
        if !matches!(att_state(&a).as_str(), "attached" | "attaching") {
            return Ok(None);
        }
        let device = a.device().unwrap_or(&k.device).to_string();
        let live = VolumeAttachment {
            device_name: device.clone(),
            volume_id: Input::Value(k.volume.clone()),
            instance_id: Input::Value(k.instance.clone()),
        };
        Ok(Some(ReadResult {
            inputs: serde_json::to_value(live).expect("serializable"),
            outputs: Self::outputs(&k, &device),
        }))
    }

    async fn update(
        &self,
        ctx: &Ctx,
        id: &str,
        _old_inputs: &Value,
        _new_inputs: &Value,
        _old_outputs: &Value,
    ) -> Result<Value, ProviderError> {
        Err(ProviderError::Fatal(format!(
            "{}: volume attachment {id} cannot be updated in place; every field forces a replacement",
            ctx.urn
        )))
    }

    async fn delete(
        &self,
        ctx: &Ctx,
        _id: &str,
        inputs: &Value,
        _outputs: &Value,
    ) -> Result<(), ProviderError> {
        let v: VolumeAttachment = parse(inputs)?;
        let k = known(&v)?;
        if self.attachment(ctx, &k).await?.is_none() {
            return Ok(());
        }
        self.aws.limits.ec2_mutating.acquire().await;
        match self
            .aws
            .ec2()
            .await
            .detach_volume()
            .volume_id(&k.volume)
            .instance_id(&k.instance)
            .device(&k.device)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) => match error::map(&ctx.urn, "DetachVolume", e) {
                ProviderError::NotFound(_) => return Ok(()),
                other => return Err(other),
            },
        }
        let what = format!("volume {} on instance {}", k.volume, k.instance);
        let k = &k;
        wait_until(&self.aws, ctx, &what, "detached", move || async move {
            Ok(match self.attachment(ctx, k).await? {
                None => Poll::Done(()),
                Some(a) if att_state(&a) == "detached" => Poll::Done(()),
                Some(a) => Poll::Pending(att_state(&a)),
            })
        })
        .await
    }

    async fn find_by_urn(&self, ctx: &Ctx, inputs: &Value) -> Result<Vec<Created>, ProviderError> {
        let Ok(v) = parse::<VolumeAttachment>(inputs) else {
            return Ok(Vec::new());
        };
        let Ok(k) = known(&v) else {
            return Ok(Vec::new());
        };
        Ok(match self.attachment(ctx, &k).await? {
            Some(a) if matches!(att_state(&a).as_str(), "attached" | "attaching") => {
                let device = a.device().unwrap_or(&k.device).to_string();
                vec![Created {
                    id: attachment_id(&k.device, &k.volume, &k.instance),
                    outputs: Self::outputs(&k, &device),
                }]
            }
            _ => Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_shape() {
        assert_eq!(
            attachment_id("/dev/sdf", "vol-1", "i-2"),
            "vai-sdf-vol-1-i-2"
        );
    }
}
