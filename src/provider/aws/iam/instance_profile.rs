//! `aws:iam/InstanceProfile` (Terraform `aws_iam_instance_profile`): the
//! container that hands a role to an EC2 instance. Name and path are the
//! identity and force a replacement; the role changes in place (removed,
//! then the new one added: a profile holds one role).

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{from_tags, InstanceProfiles};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::call::{Call, Retry};
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::aws::tags::{Tags, URN_TAG};
use crate::provider::aws::wait::{Seen, Wait};
use crate::provider::schema::{Schema, Tf};
use crate::provider::ProviderError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InstanceProfile {
    /// 1 to 128 letters, digits and `+=,.@_-`; unique in the account.
    pub name: String,
    /// `/` or `/a/b/`: up to 512 characters, starting and ending with `/`.
    pub path: String,
    /// The name (not the ARN) of the role instances launched with the
    /// profile receive credentials for; none leaves the profile empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<Input<String>>,
    pub tags: Tags,
}

impl Default for InstanceProfile {
    fn default() -> Self {
        InstanceProfile {
            name: String::new(),
            path: "/".into(),
            role: None,
            tags: Tags::new(),
        }
    }
}

impl InstanceProfile {
    pub fn new(name: &str, role: impl Into<Input<String>>) -> Self {
        InstanceProfile {
            name: name.into(),
            role: Some(role.into()),
            ..Default::default()
        }
    }
}

impl ResourceArgs for InstanceProfile {
    const TYPE: &'static str = "aws:iam/InstanceProfile";
}

impl Resource<InstanceProfile> {
    /// What a launch template's `iam_instance_profile_name` takes.
    pub fn name(&self) -> Output<String> {
        self.output("name")
    }
    pub fn arn(&self) -> Output<String> {
        self.output("arn")
    }
    /// The stable `AIPA…` id (a new profile of the same name gets a new one).
    pub fn unique_id(&self) -> Output<String> {
        self.output("unique_id")
    }
}

fn name_ok(s: &str, max: usize) -> bool {
    (1..=max).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
}

/// IAM paths: `/`, or `/` + segments + `/`, printable ASCII, at most 512.
fn path_ok(p: &str) -> bool {
    (1..=512).contains(&p.len())
        && p.starts_with('/')
        && p.ends_with('/')
        && !p.contains("//")
        && p.chars().all(|c| ('!'..='~').contains(&c))
}

/// Adding a role right after either was created: IAM may not know the role
/// yet, or EC2's check of the profile may not see the profile yet
/// (Terraform's `instanceProfileAddRole`, for its propagation timeout).
const ADD_ROLE: [Retry; 2] = [
    Retry::propagation("NoSuchEntity", "The role with name"),
    Retry::propagation("InvalidParameterValue", "Invalid IAM Instance Profile name"),
];

#[async_trait]
impl AwsResource for InstanceProfile {
    type Service = InstanceProfiles;
    const SCHEMA: Schema = Schema {
        force_new: &["name", "path"],
        unique_name: &["name"],
        terraform: &[Tf {
            resource: "aws_iam_instance_profile",
            args: &[
                ("name", "name"),
                ("path", "path"),
                ("role", "role"),
                ("tags", "tags"),
            ],
            import_id: "{name}",
        }],
        ..Schema::NONE
    };

    fn check(&self) -> Result<(), ProviderError> {
        if !name_ok(&self.name, 128) {
            return Err(ProviderError::invalid(
                "name",
                format!("{:?}", self.name),
                "1 to 128 letters, digits and +=,.@_-",
            ));
        }
        if !path_ok(&self.path) {
            return Err(ProviderError::invalid(
                "path",
                format!("{:?}", self.path),
                "\"/\" or \"/segment/.../\": starts and ends with /, printable ASCII, at most 512",
            ));
        }
        if let Some(r) = self.role.as_ref().and_then(Input::known) {
            if !name_ok(r, 64) {
                let why = if r.starts_with("arn:") {
                    "the role's name, not its ARN"
                } else {
                    "a role name: 1 to 64 letters, digits and +=,.@_-"
                };
                return Err(ProviderError::invalid("role", format!("{r:?}"), why));
            }
        }
        Ok(())
    }

    async fn create(&self, cx: &Call<'_, InstanceProfiles>) -> Result<String, ProviderError> {
        if let Some(r) = &self.role {
            r.require("role")?;
        }
        let made = cx
            .try_send("CreateInstanceProfile", |c| {
                c.create_instance_profile()
                    .instance_profile_name(&self.name)
                    .path(&self.path)
                    .set_tags(Some(super::to_tags(&cx.all_tags(&self.tags))))
                    .send()
            })
            .await;
        match made {
            Ok(_) => Ok(self.name.clone()),
            // Our own profile from an earlier attempt (by its URN tag): carry
            // on from it; anyone else's stays an error.
            Err(f) if f.code == "EntityAlreadyExists" => {
                if self.find(cx).await?.is_empty() {
                    Err(f.error)
                } else {
                    Ok(self.name.clone())
                }
            }
            Err(f) => Err(f.error),
        }
    }

    async fn after_create(
        &self,
        cx: &Call<'_, InstanceProfiles>,
        name: &str,
    ) -> Result<(), ProviderError> {
        // Not visible to GetInstanceProfile at once (Terraform retries it
        // while not found), and an earlier attempt may have added a role.
        let live = Wait::new("instance profile", &[], &["found"])
            .after_create()
            .until(cx.settings(), || async {
                Ok(match get(cx, name).await? {
                    Some(p) => Seen::State("found".into(), p),
                    None => Seen::Gone,
                })
            })
            .await?;
        let was = InstanceProfile {
            role: live_role(&live).map(Input::Value),
            tags: self.tags.clone(),
            ..self.clone()
        };
        self.update(&was, cx, name).await
    }

    async fn read(
        cx: &Call<'_, InstanceProfiles>,
        name: &str,
        _declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError> {
        let Some(p) = get(cx, name).await? else {
            return Ok(None);
        };
        let args = InstanceProfile {
            name: p.instance_profile_name().to_string(),
            path: p.path().to_string(),
            role: live_role(&p).map(Input::Value),
            tags: cx.own_tags(&from_tags(p.tags())),
        };
        let outputs = json!({
            "id": p.instance_profile_name(),
            "name": p.instance_profile_name(),
            "arn": p.arn(),
            "unique_id": p.instance_profile_id(),
            "role": live_role(&p),
        });
        Ok(Some(Live { args, outputs }))
    }

    async fn update(
        &self,
        old: &Self,
        cx: &Call<'_, InstanceProfiles>,
        name: &str,
    ) -> Result<(), ProviderError> {
        let (was, now) = (
            old.role.as_ref().and_then(Input::known),
            match &self.role {
                Some(r) => Some(r.require("role")?),
                None => None,
            },
        );
        if was != now {
            // One role per profile: the old one goes first.
            if let Some(r) = was {
                remove_role(cx, name, r).await?;
            }
            if let Some(r) = now {
                cx.send_retrying("AddRoleToInstanceProfile", &ADD_ROLE, |c| {
                    c.add_role_to_instance_profile()
                        .instance_profile_name(name)
                        .role_name(r)
                        .send()
                })
                .await?;
            }
        }
        cx.update_tags(name, &old.tags, &self.tags).await?;
        // Terraform's waitInstanceProfileReady: seen 3 times in a row
        // after 5 s, so what follows does not meet a stale profile.
        Wait::new("instance profile", &[], &["found"])
            .after_create()
            .after_modify(Duration::from_secs(5), 3)
            .until(cx.settings(), || async {
                Ok(match get(cx, name).await? {
                    Some(_) => Seen::State("found".into(), ()),
                    None => Seen::Gone,
                })
            })
            .await
    }

    async fn delete(
        &self,
        cx: &Call<'_, InstanceProfiles>,
        name: &str,
    ) -> Result<(), ProviderError> {
        // IAM refuses to delete a profile holding a role: remove the live
        // one, whoever added it.
        let Some(p) = get(cx, name).await? else {
            return Ok(());
        };
        if let Some(r) = live_role(&p) {
            remove_role(cx, name, &r).await?;
        }
        cx.send("DeleteInstanceProfile", |c| {
            c.delete_instance_profile()
                .instance_profile_name(name)
                .send()
        })
        .await?;
        Wait::new("instance profile", &["found"], &[])
            .until_gone(cx.settings(), || async {
                Ok(match get(cx, name).await? {
                    Some(_) => Seen::State("found".into(), ()),
                    None => Seen::Gone,
                })
            })
            .await
    }

    async fn find(&self, cx: &Call<'_, InstanceProfiles>) -> Result<Vec<String>, ProviderError> {
        // The name is the identity: a profile of that name carrying our URN tag.
        let ours = get(cx, &self.name).await?.is_some_and(|p| {
            p.tags()
                .iter()
                .any(|t| t.key() == URN_TAG && cx.ctx.urn_tag_matches(t.value()))
        });
        Ok(if ours {
            vec![self.name.clone()]
        } else {
            Vec::new()
        })
    }
}

type Profile = aws_sdk_iam::types::InstanceProfile;

/// The profile; `None` when IAM does not know the name.
async fn get(
    cx: &Call<'_, InstanceProfiles>,
    name: &str,
) -> Result<Option<Profile>, ProviderError> {
    Ok(cx
        .find("GetInstanceProfile", |c| {
            c.get_instance_profile().instance_profile_name(name).send()
        })
        .await?
        .and_then(|o| o.instance_profile))
}

/// The profile's role (IAM allows one).
fn live_role(p: &Profile) -> Option<String> {
    p.roles().first().map(|r| r.role_name().to_string())
}

/// Removes the role; a role or profile already gone is success.
async fn remove_role(
    cx: &Call<'_, InstanceProfiles>,
    profile: &str,
    role: &str,
) -> Result<(), ProviderError> {
    cx.find("RemoveRoleFromInstanceProfile", |c| {
        c.remove_role_from_instance_profile()
            .instance_profile_name(profile)
            .role_name(role)
            .send()
    })
    .await
    .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_paths() {
        assert!(name_ok("morket-staging-clickhouse", 128));
        assert!(!name_ok("a b", 128));
        assert!(!name_ok(&"x".repeat(129), 128));
        assert!(path_ok("/") && path_ok("/morket/ec2/"));
        assert!(!path_ok("") && !path_ok("morket/") && !path_ok("/morket") && !path_ok("/a//b/"));
        assert!(!path_ok("/a b/"));
    }
}
