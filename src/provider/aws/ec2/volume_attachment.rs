//! `aws:ec2/VolumeAttachment` (Terraform `aws_volume_attachment`).
//!
//! Not an AWS object of its own: the id is derived from the three inputs
//! (`vai-<device>-<volume>-<instance>`), which is also how an interrupted
//! create is adopted (the attachment has no tags). Every AWS field forces a
//! new attachment. DetachVolume always names the instance (moto answers 500
//! without).

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{instance, Ec2};
use crate::model::{Input, ResourceArgs};
use crate::provider::aws::call::{Call, Retry};
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::aws::validate::check_id;
use crate::provider::aws::wait::{Seen, Wait};
use crate::provider::schema::{Schema, Tf};
use crate::provider::ProviderError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VolumeAttachment {
    /// `/dev/sdf`, `/dev/xvdf`, ...
    pub device_name: String,
    pub volume_id: Input<String>,
    pub instance_id: Input<String>,
    /// Stop the instance before the detach (Terraform's
    /// `stop_instance_before_detaching`), so its file systems are unmounted
    /// cleanly. On by default: a detach from a running instance that still
    /// has the volume mounted can stick in `busy` and loses writes in flight.
    /// The instance stays stopped; turn it off when the volume is unmounted
    /// by other means.
    pub stop_instance_before_detaching: bool,
}

impl Default for VolumeAttachment {
    fn default() -> Self {
        VolumeAttachment {
            device_name: String::new(),
            volume_id: Input::default(),
            instance_id: Input::default(),
            stop_instance_before_detaching: true,
        }
    }
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
            ..Default::default()
        }
    }

    fn key(&self) -> Result<Key<'_>, ProviderError> {
        Ok(Key {
            device: &self.device_name,
            volume: self.volume_id.require("volume_id")?,
            instance: self.instance_id.require("instance_id")?,
        })
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

struct Key<'a> {
    device: &'a str,
    volume: &'a str,
    instance: &'a str,
}

#[async_trait]
impl AwsResource for VolumeAttachment {
    type Service = Ec2;
    const SCHEMA: Schema = Schema {
        force_new: &["device_name", "volume_id", "instance_id"],
        // A volume attaches to one instance at a time: moving it detaches first.
        unique_name: &["volume_id"],
        write_only: &["stop_instance_before_detaching"],
        terraform: &[Tf {
            resource: "aws_volume_attachment",
            args: &[
                ("device_name", "device_name"),
                ("volume_id", "volume_id"),
                ("instance_id", "instance_id"),
                (
                    "stop_instance_before_detaching",
                    "stop_instance_before_detaching",
                ),
            ],
            import_id: "{device_name}:{volume_id}:{instance_id}",
        }],
        ..Schema::NONE
    };

    fn check(&self) -> Result<(), ProviderError> {
        let d = &self.device_name;
        let dev_ok = (d.starts_with("/dev/") && d.len() > 5) || d.starts_with("xvd");
        if !dev_ok || d.chars().any(char::is_whitespace) {
            return Err(ProviderError::invalid(
                "device_name",
                format!("{d:?}"),
                "expected a device like /dev/sdf or /dev/xvdf",
            ));
        }
        check_id("volume_id", &self.volume_id, "vol")?;
        check_id("instance_id", &self.instance_id, "i")
    }

    async fn create(&self, cx: &Call<'_, Ec2>) -> Result<String, ProviderError> {
        let k = self.key()?;
        // A retried create finds its attachment already made.
        let made = attachment(cx, &k).await?;
        if !matches!(made.as_ref().map(state), Some("attached" | "attaching")) {
            // The volume or instance may be new (not visible yet), the volume
            // still detaching from an instance it leaves, the instance pending.
            let busy = Retry::conflict(
                &["IncorrectState", "IncorrectInstanceState"],
                Duration::from_secs(300),
            );
            cx.send_retrying("AttachVolume", &[Retry::NEW_OBJECT, busy], |c| {
                c.attach_volume()
                    .device(k.device)
                    .volume_id(k.volume)
                    .instance_id(k.instance)
                    .send()
            })
            .await?;
        }
        Ok(attachment_id(k.device, k.volume, k.instance))
    }

    async fn after_create(&self, cx: &Call<'_, Ec2>, _id: &str) -> Result<(), ProviderError> {
        let k = self.key()?;
        Wait::new("volume attachment", &["attaching"], &["attached"])
            .after_create()
            .until(cx.settings(), || async {
                Ok(match attachment(cx, &k).await? {
                    Some(a) => Seen::State(state(&a).to_string(), ()),
                    None => Seen::Gone,
                })
            })
            .await
    }

    async fn read(
        cx: &Call<'_, Ec2>,
        id: &str,
        declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError> {
        let k = declared.key()?;
        let Some(a) = attachment(cx, &k).await? else {
            return Ok(None);
        };
        if !matches!(state(&a), "attached" | "attaching") {
            return Ok(None);
        }
        let device = a.device().unwrap_or(k.device);
        let args = VolumeAttachment {
            device_name: device.into(),
            volume_id: Input::Value(k.volume.into()),
            instance_id: Input::Value(k.instance.into()),
            stop_instance_before_detaching: declared.stop_instance_before_detaching,
        };
        let outputs = json!({
            "id": id,
            "device_name": device,
            "volume_id": k.volume,
            "instance_id": k.instance,
        });
        Ok(Some(Live { args, outputs }))
    }

    // Only stop_instance_before_detaching changes in place; it is read at
    // the delete.
    async fn update(&self, _: &Self, _: &Call<'_, Ec2>, _: &str) -> Result<(), ProviderError> {
        Ok(())
    }

    async fn delete(&self, cx: &Call<'_, Ec2>, _id: &str) -> Result<(), ProviderError> {
        let k = self.key()?;
        let live = attachment(cx, &k).await?;
        if live.as_ref().is_none_or(|a| state(a) == "detached") {
            return Ok(());
        }
        // The instance may be the old half of a replacement, still running
        // with the volume mounted: stop it first (review S9).
        if self.stop_instance_before_detaching {
            instance::stop(cx, k.instance).await?;
        }
        cx.send("DetachVolume", |c| {
            c.detach_volume()
                .volume_id(k.volume)
                .instance_id(k.instance)
                .device(k.device)
                .send()
        })
        .await?;
        // A describe right after the call may still say "attached".
        Wait::new("volume attachment", &["attached", "detaching", "busy"], &[])
            .until_gone(cx.settings(), || async {
                Ok(match attachment(cx, &k).await? {
                    Some(a) if state(&a) != "detached" => Seen::State(state(&a).to_string(), ()),
                    _ => Seen::Gone,
                })
            })
            .await
    }

    async fn find(&self, cx: &Call<'_, Ec2>) -> Result<Vec<String>, ProviderError> {
        // Found by its natural key; nothing to find while an id is unknown.
        let Ok(k) = self.key() else {
            return Ok(Vec::new());
        };
        Ok(match attachment(cx, &k).await? {
            Some(a) if matches!(state(&a), "attached" | "attaching") => {
                vec![attachment_id(k.device, k.volume, k.instance)]
            }
            _ => Vec::new(),
        })
    }
}

/// The attachment of the volume to the instance, in any state.
async fn attachment(
    cx: &Call<'_, Ec2>,
    k: &Key<'_>,
) -> Result<Option<aws_sdk_ec2::types::VolumeAttachment>, ProviderError> {
    Ok(cx
        .find("DescribeVolumes", |c| {
            c.describe_volumes().volume_ids(k.volume).send()
        })
        .await?
        .and_then(|o| {
            o.volumes().first().and_then(|v| {
                v.attachments()
                    .iter()
                    .find(|a| a.instance_id() == Some(k.instance))
                    .cloned()
            })
        }))
}

fn state(a: &aws_sdk_ec2::types::VolumeAttachment) -> &str {
    a.state().map_or("unknown", |s| s.as_str())
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
