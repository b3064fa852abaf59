//! `aws:iam/Role` (Terraform `aws_iam_role` with exclusive
//! `managed_policy_arns` and `inline_policy`). The name is the identity and
//! forces a replacement; policy documents compare as parsed JSON.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use async_trait::async_trait;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{
    check_policy, create_tags, from_tags, has_urn, normal_policy, update_role_tags, url_decode,
};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::error::{self, none_if_gone};
use crate::provider::aws::tags::{self, Tags};
use crate::provider::aws::{check_arn, Aws};
use crate::provider::{
    field_diff, finish_create, parse, Created, Ctx, Diff, Provider, ProviderError, ReadResult,
};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Role {
    /// 1 to 64 letters, digits and `+=,.@_-`; unique in the account.
    pub name: String,
    /// The trust policy (who may assume the role), as JSON text.
    pub assume_role_policy: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Seconds, 3600 to 43200.
    #[serde(default = "one_hour")]
    pub max_session_duration: i32,
    /// Exactly these managed policies are attached (others are detached).
    #[serde(default)]
    pub managed_policy_arns: Vec<Input<String>>,
    /// Inline policies by name, as JSON text; exactly these exist on the role.
    #[serde(default)]
    pub inline_policies: BTreeMap<String, String>,
    #[serde(default)]
    pub tags: Tags,
}

fn one_hour() -> i32 {
    3600
}

impl Role {
    pub fn new(name: &str, assume_role_policy: &str) -> Self {
        Role {
            name: name.into(),
            assume_role_policy: assume_role_policy.into(),
            description: None,
            max_session_duration: one_hour(),
            managed_policy_arns: Vec::new(),
            inline_policies: BTreeMap::new(),
            tags: Tags::new(),
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

/// The live document, or the declared text when it means the same (AWS may
/// reformat it).
fn keep_declared(live: String, declared: Option<&String>) -> String {
    match declared {
        Some(d) if normal_policy(d) == normal_policy(&live) => d.clone(),
        _ => live,
    }
}

pub struct RoleProvider {
    aws: Arc<Aws>,
}

impl RoleProvider {
    pub fn new(aws: Arc<Aws>) -> Self {
        RoleProvider { aws }
    }

    async fn get(
        &self,
        ctx: &Ctx,
        name: &str,
    ) -> Result<Option<aws_sdk_iam::types::Role>, ProviderError> {
        self.aws.limits.iam.acquire().await;
        let r = self
            .aws
            .iam()
            .await
            .get_role()
            .role_name(name)
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "GetRole", e));
        Ok(none_if_gone(r)?.and_then(|o| o.role().cloned()))
    }

    fn outputs(r: &aws_sdk_iam::types::Role) -> Value {
        json!({
            "id": r.role_name(),
            "name": r.role_name(),
            "arn": r.arn(),
            "unique_id": r.role_id(),
        })
    }

    async fn attached(&self, ctx: &Ctx, name: &str) -> Result<Vec<String>, ProviderError> {
        self.aws.limits.iam.acquire().await;
        let items = self
            .aws
            .iam()
            .await
            .list_attached_role_policies()
            .role_name(name)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| error::map(&ctx.urn, "ListAttachedRolePolicies", e))?;
        let mut arns: Vec<String> = items
            .iter()
            .filter_map(|p| p.policy_arn().map(str::to_string))
            .collect();
        arns.sort();
        Ok(arns)
    }

    async fn inline_names(&self, ctx: &Ctx, name: &str) -> Result<Vec<String>, ProviderError> {
        self.aws.limits.iam.acquire().await;
        self.aws
            .iam()
            .await
            .list_role_policies()
            .role_name(name)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| error::map(&ctx.urn, "ListRolePolicies", e))
    }

    /// The live role in the declaration's terms, and its outputs.
    async fn live(
        &self,
        ctx: &Ctx,
        name: &str,
        declared: Option<&Role>,
    ) -> Result<Option<(Role, Value)>, ProviderError> {
        let Some(r) = self.get(ctx, name).await? else {
            return Ok(None);
        };
        let iam = self.aws.iam().await;
        let mut inline = BTreeMap::new();
        for p in self.inline_names(ctx, name).await? {
            self.aws.limits.iam.acquire().await;
            let out = iam
                .get_role_policy()
                .role_name(name)
                .policy_name(&p)
                .send()
                .await
                .map_err(|e| error::map(&ctx.urn, "GetRolePolicy", e));
            // Deleted between the list and the get: not there.
            if let Some(out) = none_if_gone(out)? {
                let doc = url_decode(out.policy_document());
                let doc = keep_declared(doc, declared.and_then(|d| d.inline_policies.get(&p)));
                inline.insert(p, doc);
            }
        }
        let mut arns = self.attached(ctx, name).await?;
        if let Some(d) = declared {
            // The declared order when the set is the same, for a quiet diff.
            if known_set(&d.managed_policy_arns) == arns.iter().cloned().collect() {
                arns = d
                    .managed_policy_arns
                    .iter()
                    .filter_map(|a| a.known().cloned())
                    .collect();
            }
        }
        let trust = url_decode(r.assume_role_policy_document().unwrap_or_default());
        let live = Role {
            name: r.role_name().to_string(),
            assume_role_policy: keep_declared(trust, declared.map(|d| &d.assume_role_policy)),
            description: r
                .description()
                .filter(|d| !d.is_empty())
                .map(str::to_string),
            max_session_duration: r.max_session_duration().unwrap_or(3600),
            managed_policy_arns: arns.into_iter().map(Input::Value).collect(),
            inline_policies: inline,
            tags: tags::own_view(&self.aws.settings.default_tags, &from_tags(r.tags())),
        };
        Ok(Some((live, Self::outputs(&r))))
    }

    /// Moves the role from `o` to `n`, field by field. Attaches before it
    /// detaches, so a swapped policy leaves no gap in permissions.
    async fn reconcile(&self, ctx: &Ctx, o: &Role, n: &Role) -> Result<(), ProviderError> {
        let iam = self.aws.iam().await;
        let name = n.name.as_str();
        if normal_policy(&o.assume_role_policy) != normal_policy(&n.assume_role_policy) {
            self.aws.limits.iam.acquire().await;
            iam.update_assume_role_policy()
                .role_name(name)
                .policy_document(&n.assume_role_policy)
                .send()
                .await
                .map_err(|e| error::map(&ctx.urn, "UpdateAssumeRolePolicy", e))?;
        }
        if o.description != n.description || o.max_session_duration != n.max_session_duration {
            // Both always: an omitted description would be left (AWS) or cleared (moto).
            self.aws.limits.iam.acquire().await;
            iam.update_role()
                .role_name(name)
                .description(n.description.clone().unwrap_or_default())
                .max_session_duration(n.max_session_duration)
                .send()
                .await
                .map_err(|e| error::map(&ctx.urn, "UpdateRole", e))?;
        }
        let (old_arns, new_arns) = (
            known_set(&o.managed_policy_arns),
            known_set(&n.managed_policy_arns),
        );
        for arn in new_arns.difference(&old_arns) {
            self.aws.limits.iam.acquire().await;
            iam.attach_role_policy()
                .role_name(name)
                .policy_arn(arn)
                .send()
                .await
                .map_err(|e| error::map(&ctx.urn, "AttachRolePolicy", e))?;
        }
        for (p, doc) in &n.inline_policies {
            let same = o
                .inline_policies
                .get(p)
                .is_some_and(|d| normal_policy(d) == normal_policy(doc));
            if !same {
                self.aws.limits.iam.acquire().await;
                iam.put_role_policy()
                    .role_name(name)
                    .policy_name(p)
                    .policy_document(doc)
                    .send()
                    .await
                    .map_err(|e| error::map(&ctx.urn, "PutRolePolicy", e))?;
            }
        }
        for arn in old_arns.difference(&new_arns) {
            self.detach(ctx, name, arn).await?;
        }
        for p in o.inline_policies.keys() {
            if !n.inline_policies.contains_key(p) {
                self.delete_inline(ctx, name, p).await?;
            }
        }
        if o.tags != n.tags {
            update_role_tags(&self.aws, ctx, name, &o.tags, &n.tags).await?;
        }
        Ok(())
    }

    /// Detaches; already detached is success.
    async fn detach(&self, ctx: &Ctx, role: &str, arn: &str) -> Result<(), ProviderError> {
        self.aws.limits.iam.acquire().await;
        let r = self
            .aws
            .iam()
            .await
            .detach_role_policy()
            .role_name(role)
            .policy_arn(arn)
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "DetachRolePolicy", e));
        none_if_gone(r).map(|_| ())
    }

    /// Deletes an inline policy; already gone is success.
    async fn delete_inline(
        &self,
        ctx: &Ctx,
        role: &str,
        policy: &str,
    ) -> Result<(), ProviderError> {
        self.aws.limits.iam.acquire().await;
        let r = self
            .aws
            .iam()
            .await
            .delete_role_policy()
            .role_name(role)
            .policy_name(policy)
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "DeleteRolePolicy", e));
        none_if_gone(r).map(|_| ())
    }
}

#[async_trait]
impl Provider for RoleProvider {
    fn type_name(&self) -> &'static str {
        Role::TYPE
    }

    fn force_new(&self) -> &'static [&'static str] {
        &["name"]
    }

    fn concurrency(&self) -> Option<(&'static str, usize)> {
        Some(("iam", 10))
    }

    fn validate(&self, inputs: &Value) -> Result<(), ProviderError> {
        let r: Role = parse(inputs)?;
        if !name_ok(&r.name, 64) {
            return Err(ProviderError::invalid(
                "name",
                format!("{:?}", r.name),
                "1 to 64 letters, digits and +=,.@_-",
            ));
        }
        check_policy("assume_role_policy", &r.assume_role_policy)?;
        if let Some(d) = &r.description {
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
        if !(3600..=43200).contains(&r.max_session_duration) {
            return Err(ProviderError::invalid(
                "max_session_duration",
                r.max_session_duration,
                "3600 to 43200 seconds (1 to 12 hours)",
            ));
        }
        if r.managed_policy_arns.len() > 20 {
            return Err(ProviderError::invalid(
                "managed_policy_arns",
                r.managed_policy_arns.len(),
                "at most 20 managed policies per role (the default quota is 10)",
            ));
        }
        let mut seen = BTreeSet::new();
        for (i, a) in r.managed_policy_arns.iter().enumerate() {
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
        for (p, doc) in &r.inline_policies {
            if !name_ok(p, 128) {
                return Err(ProviderError::invalid(
                    "inline_policies",
                    format!("{p:?}"),
                    "policy names are 1 to 128 letters, digits and +=,.@_-",
                ));
            }
            check_policy(&format!("inline_policies.{p}"), doc)?;
        }
        tags::validate(&r.tags)
    }

    fn diff(&self, old: &Value, new: &Value) -> Diff {
        field_diff(&normalized(old), &normalized(new), self.force_new())
    }

    async fn create(&self, ctx: &Ctx, inputs: &Value) -> Result<Created, ProviderError> {
        let r: Role = parse(inputs)?;
        for (i, a) in r.managed_policy_arns.iter().enumerate() {
            if a.known().is_none() {
                return Err(ProviderError::Fatal(format!(
                    "{}: managed_policy_arns[{i}] is not known at apply time",
                    ctx.urn
                )));
            }
        }
        self.aws.limits.iam.acquire().await;
        let created = self
            .aws
            .iam()
            .await
            .create_role()
            .role_name(&r.name)
            .assume_role_policy_document(&r.assume_role_policy)
            .set_description(r.description.clone())
            .max_session_duration(r.max_session_duration)
            .set_tags(Some(create_tags(&self.aws, ctx, &r.tags)))
            .send()
            .await;
        // Policies are separate calls after CreateRole; a retried create finds
        // its own role (by the URN tag) and carries on from what is live.
        let from = match created {
            Ok(_) => Role {
                managed_policy_arns: Vec::new(),
                inline_policies: BTreeMap::new(),
                ..r.clone()
            },
            Err(e) if e.code() == Some("EntityAlreadyExists") => {
                let err = error::map(&ctx.urn, "CreateRole", e);
                let ours = match self.get(ctx, &r.name).await? {
                    Some(live) => has_urn(ctx, live.tags()),
                    None => false,
                };
                if !ours {
                    return Err(err);
                }
                match self.live(ctx, &r.name, None).await? {
                    Some((live, _)) => live,
                    None => return Err(err),
                }
            }
            Err(e) => return Err(error::map(&ctx.urn, "CreateRole", e)),
        };
        // The role exists from here on: a failure is a partial create, so
        // the engine records the role as it is and finishes it later.
        finish_create(&r.name, async {
            self.reconcile(ctx, &from, &r).await?;
            let live = self.get(ctx, &r.name).await?.ok_or_else(|| {
                ProviderError::Fatal(format!(
                    "{}: role {} not found after CreateRole",
                    ctx.urn, r.name
                ))
            })?;
            Ok(Created {
                id: r.name.clone(),
                outputs: Self::outputs(&live),
            })
        })
        .await
    }

    async fn read(
        &self,
        ctx: &Ctx,
        id: &str,
        inputs: &Value,
        _outputs: &Value,
    ) -> Result<Option<ReadResult>, ProviderError> {
        let declared: Option<Role> = parse(inputs).ok();
        Ok(self
            .live(ctx, id, declared.as_ref())
            .await?
            .map(|(live, outputs)| ReadResult {
                inputs: serde_json::to_value(live).expect("serializable"),
                outputs,
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
        let (o, n): (Role, Role) = (parse(old_inputs)?, parse(new_inputs)?);
        self.reconcile(ctx, &o, &n).await?;
        match self.get(ctx, id).await? {
            Some(r) => Ok(Self::outputs(&r)),
            None => Err(ProviderError::NotFound(format!(
                "{}: role {id} disappeared during update",
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
        // IAM refuses to delete a role with policies: remove every live one,
        // including those attached outside the engine (the list is exclusive).
        let attached = match none_if_gone(self.attached(ctx, id).await)? {
            Some(a) => a,
            None => return Ok(()),
        };
        for arn in attached {
            self.detach(ctx, id, &arn).await?;
        }
        for p in none_if_gone(self.inline_names(ctx, id).await)?.unwrap_or_default() {
            self.delete_inline(ctx, id, &p).await?;
        }
        self.aws.limits.iam.acquire().await;
        let r = self
            .aws
            .iam()
            .await
            .delete_role()
            .role_name(id)
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "DeleteRole", e));
        none_if_gone(r).map(|_| ())
    }

    async fn find_by_urn(&self, ctx: &Ctx, inputs: &Value) -> Result<Vec<Created>, ProviderError> {
        // The name is the identity: a role of that name carrying our URN tag.
        let r: Role = parse(inputs)?;
        Ok(match self.get(ctx, &r.name).await? {
            Some(live) if has_urn(ctx, live.tags()) => vec![Created {
                id: r.name,
                outputs: Self::outputs(&live),
            }],
            _ => Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> RoleProvider {
        RoleProvider::new(Arc::new(Aws::new(Default::default())))
    }

    fn ok() -> Value {
        let mut r = Role::for_service("flow-logs", "vpc-flow-logs.amazonaws.com");
        r.managed_policy_arns = vec!["arn:aws:iam::aws:policy/ReadOnlyAccess".into()];
        r.inline_policies.insert(
            "logs".into(),
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"logs:*","Resource":"*"}]}"#
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
