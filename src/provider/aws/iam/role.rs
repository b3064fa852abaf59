//! `aws:iam/Role` (Terraform `aws_iam_role`, with its inline policies as
//! `aws_iam_role_policy` and attachments as `aws_iam_role_policy_attachment`,
//! both exclusive). The name is the identity and forces a replacement;
//! policy documents compare as parsed JSON.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{check_policy, from_tags, normal_policy, url_decode, Iam};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::call::{Call, Retry};
use crate::provider::aws::check_arn;
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::aws::tags::{Tags, URN_TAG};
use crate::provider::aws::validate::in_range;
use crate::provider::schema::{Norm, Schema, Tf};
use crate::provider::{field_diff, Diff, ProviderError};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Role {
    /// 1 to 64 letters, digits and `+=,.@_-`; unique in the account.
    pub name: String,
    /// The trust policy (who may assume the role), as JSON text.
    pub assume_role_policy: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Seconds, 3600 to 43200.
    pub max_session_duration: i32,
    /// Exactly these managed policies are attached (others are detached).
    pub managed_policy_arns: Vec<Input<String>>,
    /// Inline policies by name, as JSON text (or a typed
    /// [`PolicyDocument`](super::policy::PolicyDocument) naming other
    /// resources' ARNs); exactly these exist on the role.
    pub inline_policies: BTreeMap<String, Input<String>>,
    pub tags: Tags,
}

impl Default for Role {
    fn default() -> Self {
        Role {
            name: String::new(),
            assume_role_policy: String::new(),
            description: None,
            max_session_duration: 3600,
            managed_policy_arns: Vec::new(),
            inline_policies: BTreeMap::new(),
            tags: Tags::new(),
        }
    }
}

impl Role {
    pub fn new(name: &str, assume_role_policy: &str) -> Self {
        Role {
            name: name.into(),
            assume_role_policy: assume_role_policy.into(),
            ..Default::default()
        }
    }

    /// A role that the AWS service `service` (e.g.
    /// `vpc-flow-logs.amazonaws.com`) may assume.
    pub fn for_service(name: &str, service: &str) -> Self {
        Role::new(name, &service_trust_policy(service))
    }
}

/// A trust policy letting one AWS service principal assume the role.
pub fn service_trust_policy(service: &str) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": service},
            "Action": "sts:AssumeRole",
        }],
    })
    .to_string()
}

impl ResourceArgs for Role {
    const TYPE: &'static str = "aws:iam/Role";
}

impl Resource<Role> {
    pub fn name(&self) -> Output<String> {
        self.output("name")
    }
    /// What services take (e.g. a flow log's `deliver_logs_permission_arn`).
    pub fn arn(&self) -> Output<String> {
        self.output("arn")
    }
    /// The stable `AROA…` id (a new role of the same name gets a new one).
    pub fn unique_id(&self) -> Output<String> {
        self.output("unique_id")
    }
}

fn name_ok(s: &str, max: usize) -> bool {
    (1..=max).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
}

/// Inputs with policy documents parsed and the ARN list sorted, so the diff
/// sees changes of meaning only.
fn normalized(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(s) = v.get("assume_role_policy").and_then(Value::as_str) {
        v["assume_role_policy"] = normal_policy(s);
    }
    if let Some(m) = v.get_mut("inline_policies").and_then(Value::as_object_mut) {
        for doc in m.values_mut() {
            if let Some(s) = doc.as_str() {
                *doc = normal_policy(s);
            }
        }
    }
    if let Some(a) = v
        .get_mut("managed_policy_arns")
        .and_then(Value::as_array_mut)
    {
        a.sort_by_key(|x| x.to_string());
    }
    v
}

fn known_set(v: &[Input<String>]) -> BTreeSet<String> {
    v.iter().filter_map(|a| a.known().cloned()).collect()
}

/// A role another service names moments after it was made is not yet
/// visible to that service (Terraform retries `MalformedPolicyDocument:
/// Invalid principal` for its IAM propagation time).
const INVALID_PRINCIPAL: Retry = Retry::propagation("MalformedPolicyDocument", "Invalid principal");

#[async_trait]
impl AwsResource for Role {
    type Service = Iam;
    const SCHEMA: Schema = Schema {
        force_new: &["name"],
        unique_name: &["name"],
        normalize: &[
            ("assume_role_policy", Norm::Json),
            ("managed_policy_arns", Norm::Set),
        ],
        terraform: &[
            Tf {
                resource: "aws_iam_role",
                args: &[
                    ("name", "name"),
                    ("assume_role_policy", "assume_role_policy"),
                    ("description", "description"),
                    ("max_session_duration", "max_session_duration"),
                    ("tags", "tags"),
                ],
                import_id: "{name}",
            },
            // One per inline policy.
            Tf {
                resource: "aws_iam_role_policy",
                args: &[
                    ("inline_policies", "for_each"),
                    ("$id", "role"),
                    ("$each.key", "name"),
                    ("$each.value", "policy"),
                ],
                import_id: "{name}:{each.key}",
            },
            // One per managed policy.
            Tf {
                resource: "aws_iam_role_policy_attachment",
                args: &[
                    ("managed_policy_arns", "for_each"),
                    ("$id", "role"),
                    ("$each.value", "policy_arn"),
                ],
                import_id: "{name}/{each.value}",
            },
        ],
        ..Schema::NONE
    };

    fn check(&self) -> Result<(), ProviderError> {
        if !name_ok(&self.name, 64) {
            return Err(ProviderError::invalid(
                "name",
                format!("{:?}", self.name),
                "1 to 64 letters, digits and +=,.@_-",
            ));
        }
        check_policy("assume_role_policy", &self.assume_role_policy)?;
        if let Some(d) = &self.description {
            let ok_char =
                |c: char| matches!(c, '\t' | '\n' | '\r' | ' '..='~' | '\u{a1}'..='\u{ff}');
            if d.is_empty() || d.chars().count() > 1000 || !d.chars().all(ok_char) {
                return Err(ProviderError::invalid(
                    "description",
                    format!("{d:?}"),
                    "1 to 1000 Latin-1 characters (leave it unset for none)",
                ));
            }
        }
        in_range(
            "max_session_duration",
            self.max_session_duration,
            3600..=43200,
        )?;
        if self.managed_policy_arns.len() > 20 {
            return Err(ProviderError::invalid(
                "managed_policy_arns",
                self.managed_policy_arns.len(),
                "at most 20 managed policies per role (the default quota is 10)",
            ));
        }
        let mut seen = BTreeSet::new();
        for (i, a) in self.managed_policy_arns.iter().enumerate() {
            if let Some(arn) = a.known() {
                let field = format!("managed_policy_arns[{i}]");
                check_arn(
                    &field,
                    arn,
                    "iam",
                    "policy/",
                    "an IAM policy ARN (arn:aws:iam::<account or aws>:policy/<name>)",
                )?;
                if !seen.insert(arn) {
                    return Err(ProviderError::invalid(
                        &field,
                        format!("{arn:?}"),
                        "listed twice",
                    ));
                }
            }
        }
        for (p, doc) in &self.inline_policies {
            if !name_ok(p, 128) {
                return Err(ProviderError::invalid(
                    "inline_policies",
                    format!("{p:?}"),
                    "policy names are 1 to 128 letters, digits and +=,.@_-",
                ));
            }
            if let Some(doc) = doc.known() {
                check_policy(&format!("inline_policies.{p}"), doc)?;
            }
        }
        Ok(())
    }

    fn diff(old: &Value, new: &Value) -> Diff {
        field_diff(&normalized(old), &normalized(new), Self::SCHEMA.force_new)
    }

    async fn create(&self, cx: &Call<'_, Iam>) -> Result<String, ProviderError> {
        for (i, a) in self.managed_policy_arns.iter().enumerate() {
            a.require(&format!("managed_policy_arns[{i}]"))?;
        }
        let made = cx
            .try_send_retrying("CreateRole", &[INVALID_PRINCIPAL], |c| {
                c.create_role()
                    .role_name(&self.name)
                    .assume_role_policy_document(&self.assume_role_policy)
                    .set_description(self.description.clone())
                    .max_session_duration(self.max_session_duration)
                    .set_tags(Some(super::to_tags(&cx.all_tags(&self.tags))))
                    .send()
            })
            .await;
        match made {
            Ok(_) => Ok(self.name.clone()),
            // Our own role from an earlier attempt (by its URN tag): carry on
            // from it; anyone else's stays an error.
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

    async fn after_create(&self, cx: &Call<'_, Iam>, _id: &str) -> Result<(), ProviderError> {
        // Policies are separate calls after CreateRole.
        let fresh = Role {
            managed_policy_arns: Vec::new(),
            inline_policies: BTreeMap::new(),
            ..self.clone()
        };
        self.update(&fresh, cx, &self.name).await
    }

    async fn read(
        cx: &Call<'_, Iam>,
        name: &str,
        declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError> {
        let Some(out) = cx
            .find("GetRole", |c| c.get_role().role_name(name).send())
            .await?
        else {
            return Ok(None);
        };
        let Some(r) = out.role() else {
            return Ok(None);
        };
        let names = cx
            .pages(
                "ListRolePolicies",
                cx.client()
                    .await
                    .list_role_policies()
                    .role_name(name)
                    .into_paginator()
                    .send(),
            )
            .await?;
        let mut inline = BTreeMap::new();
        for p in names.iter().flat_map(|o| o.policy_names()) {
            // Deleted between the list and the get: not there.
            let Some(got) = cx
                .find("GetRolePolicy", |c| {
                    c.get_role_policy().role_name(name).policy_name(p).send()
                })
                .await?
            else {
                continue;
            };
            let doc = url_decode(got.policy_document());
            // The declared text when it means the same (AWS reformats it).
            let doc = match declared.inline_policies.get(p).and_then(Input::known) {
                Some(d) if normal_policy(d) == normal_policy(&doc) => d.clone(),
                _ => doc,
            };
            inline.insert(p.clone(), Input::Value(doc));
        }
        let args = Role {
            name: r.role_name().to_string(),
            assume_role_policy: url_decode(r.assume_role_policy_document().unwrap_or_default()),
            description: r
                .description()
                .filter(|d| !d.is_empty())
                .map(str::to_string),
            max_session_duration: r.max_session_duration().unwrap_or(3600),
            managed_policy_arns: attached(cx, name)
                .await?
                .into_iter()
                .map(Input::Value)
                .collect(),
            inline_policies: inline,
            tags: cx.own_tags(&from_tags(r.tags())),
        };
        let outputs = json!({
            "id": r.role_name(),
            "name": r.role_name(),
            "arn": r.arn(),
            "unique_id": r.role_id(),
        });
        Ok(Some(Live { args, outputs }))
    }

    /// Field by field; attaches before it detaches, so a swapped policy
    /// leaves no gap in permissions.
    async fn update(
        &self,
        old: &Self,
        cx: &Call<'_, Iam>,
        name: &str,
    ) -> Result<(), ProviderError> {
        // The role may be moments old: NoSuchEntity is not final yet.
        let new_role = [Retry::NEW_OBJECT];
        if normal_policy(&old.assume_role_policy) != normal_policy(&self.assume_role_policy) {
            cx.send_retrying("UpdateAssumeRolePolicy", &[INVALID_PRINCIPAL], |c| {
                c.update_assume_role_policy()
                    .role_name(name)
                    .policy_document(&self.assume_role_policy)
                    .send()
            })
            .await?;
        }
        if old.description != self.description
            || old.max_session_duration != self.max_session_duration
        {
            // Both always: an omitted description would be left (AWS) or cleared (moto).
            cx.send("UpdateRole", |c| {
                c.update_role()
                    .role_name(name)
                    .description(self.description.clone().unwrap_or_default())
                    .max_session_duration(self.max_session_duration)
                    .send()
            })
            .await?;
        }
        let (old_arns, new_arns) = (
            known_set(&old.managed_policy_arns),
            known_set(&self.managed_policy_arns),
        );
        for arn in new_arns.difference(&old_arns) {
            cx.send_retrying("AttachRolePolicy", &new_role, |c| {
                c.attach_role_policy()
                    .role_name(name)
                    .policy_arn(arn)
                    .send()
            })
            .await?;
        }
        for (p, doc) in &self.inline_policies {
            let doc = doc.require(&format!("inline_policies.{p}"))?;
            let same = old
                .inline_policies
                .get(p)
                .and_then(Input::known)
                .is_some_and(|d| normal_policy(d) == normal_policy(doc));
            if !same {
                cx.send_retrying("PutRolePolicy", &new_role, |c| {
                    c.put_role_policy()
                        .role_name(name)
                        .policy_name(p)
                        .policy_document(doc)
                        .send()
                })
                .await?;
            }
        }
        for arn in old_arns.difference(&new_arns) {
            detach(cx, name, arn).await?;
        }
        for p in old.inline_policies.keys() {
            if !self.inline_policies.contains_key(p) {
                delete_inline(cx, name, p).await?;
            }
        }
        cx.update_tags(name, &old.tags, &self.tags).await
    }

    async fn delete(&self, cx: &Call<'_, Iam>, name: &str) -> Result<(), ProviderError> {
        // IAM refuses to delete a role with policies: remove every live one,
        // including those attached outside the engine (the lists are exclusive).
        for arn in attached(cx, name).await? {
            detach(cx, name, &arn).await?;
        }
        let names = cx
            .pages(
                "ListRolePolicies",
                cx.client()
                    .await
                    .list_role_policies()
                    .role_name(name)
                    .into_paginator()
                    .send(),
            )
            .await?;
        for p in names.iter().flat_map(|o| o.policy_names()) {
            delete_inline(cx, name, p).await?;
        }
        cx.send("DeleteRole", |c| c.delete_role().role_name(name).send())
            .await
            .map(drop)
    }

    async fn find(&self, cx: &Call<'_, Iam>) -> Result<Vec<String>, ProviderError> {
        // The name is the identity: a role of that name carrying our URN tag.
        let Some(out) = cx
            .find("GetRole", |c| c.get_role().role_name(&self.name).send())
            .await?
        else {
            return Ok(Vec::new());
        };
        let ours = out.role().is_some_and(|r| {
            r.tags()
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

/// The attached managed policies, sorted.
async fn attached(cx: &Call<'_, Iam>, name: &str) -> Result<Vec<String>, ProviderError> {
    let pages = cx
        .pages(
            "ListAttachedRolePolicies",
            cx.client()
                .await
                .list_attached_role_policies()
                .role_name(name)
                .into_paginator()
                .send(),
        )
        .await?;
    let mut arns: Vec<String> = pages
        .iter()
        .flat_map(|o| o.attached_policies())
        .filter_map(|p| p.policy_arn().map(str::to_string))
        .collect();
    arns.sort();
    Ok(arns)
}

/// Detaches; already detached is success.
async fn detach(cx: &Call<'_, Iam>, role: &str, arn: &str) -> Result<(), ProviderError> {
    cx.find("DetachRolePolicy", |c| {
        c.detach_role_policy()
            .role_name(role)
            .policy_arn(arn)
            .send()
    })
    .await
    .map(drop)
}

/// Deletes an inline policy; already gone is success.
async fn delete_inline(cx: &Call<'_, Iam>, role: &str, policy: &str) -> Result<(), ProviderError> {
    cx.find("DeleteRolePolicy", |c| {
        c.delete_role_policy()
            .role_name(role)
            .policy_name(policy)
            .send()
    })
    .await
    .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::provider::aws::resource::Typed;
    use crate::provider::aws::Aws;
    use crate::provider::Provider;
    use std::sync::Arc;

    fn p() -> Typed<Role> {
        Typed::new(Arc::new(Aws::new(Default::default())))
    }

    fn ok() -> Value {
        let mut r = Role::for_service("flow-logs", "vpc-flow-logs.amazonaws.com");
        r.managed_policy_arns = vec!["arn:aws:iam::aws:policy/ReadOnlyAccess".into()];
        r.inline_policies.insert(
            "logs".into(),
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"logs:*","Resource":"*"}]}"#
                .to_string()
                .into(),
        );
        serde_json::to_value(r).unwrap()
    }

    fn err(patch: Value) -> String {
        let mut v = ok();
        for (k, x) in patch.as_object().unwrap() {
            v[k] = x.clone();
        }
        p().validate(&v).unwrap_err().to_string()
    }

    #[test]
    fn validation_names_field_and_value() {
        assert!(p().validate(&ok()).is_ok());
        let e = err(json!({"name": "bad name"}));
        assert!(e.contains("name") && e.contains("bad name"), "{e}");
        let e = err(json!({"assume_role_policy": "{not json"}));
        assert!(
            e.contains("assume_role_policy") && e.contains("{not json"),
            "{e}"
        );
        let e = err(json!({"max_session_duration": 60}));
        assert!(
            e.contains("max_session_duration") && e.contains("60"),
            "{e}"
        );
        let e = err(json!({"description": ""}));
        assert!(e.contains("description"), "{e}");
        let e = err(json!({"managed_policy_arns": ["arn:aws:s3:::bucket"]}));
        assert!(
            e.contains("managed_policy_arns[0]") && e.contains("bucket"),
            "{e}"
        );
        let e = err(json!({"inline_policies": {"x": "[]"}}));
        assert!(e.contains("inline_policies.x"), "{e}");
        let e = err(json!({"inline_policies": {"a b": "{\"Statement\":[]}"}}));
        assert!(e.contains("a b"), "{e}");
    }

    #[test]
    fn reformatted_policies_and_reordered_arns_are_no_change() {
        let old = ok();
        let mut new = old.clone();
        new["assume_role_policy"] = json!(serde_json::to_string_pretty(&normal_policy(
            old["assume_role_policy"].as_str().unwrap()
        ))
        .unwrap());
        new["inline_policies"]["logs"] = json!(
            r#"{ "Statement": [ {"Resource": "*", "Action": "logs:*", "Effect": "Allow"} ], "Version": "2012-10-17" }"#
        );
        assert!(
            p().diff(&old, &new).is_empty(),
            "{:?}",
            p().diff(&old, &new)
        );
        let mut two = old.clone();
        two["managed_policy_arns"] =
            json!(["arn:aws:iam::aws:policy/B", "arn:aws:iam::aws:policy/A"]);
        let mut rev = two.clone();
        rev["managed_policy_arns"] =
            json!(["arn:aws:iam::aws:policy/A", "arn:aws:iam::aws:policy/B"]);
        assert!(p().diff(&two, &rev).is_empty());
        new["name"] = json!("other");
        new["inline_policies"]["logs"] = json!(r#"{"Statement":[]}"#);
        let d = p().diff(&old, &new);
        assert_eq!(d.changed, vec!["inline_policies", "name"]);
        assert_eq!(d.replace, vec!["name"]);
    }
}
