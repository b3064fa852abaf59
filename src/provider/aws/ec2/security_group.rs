//! `aws:ec2/SecurityGroup` (Terraform `aws_security_group`, used in the
//! separate-rule style): the group is created with no inline rules; its rules
//! are `aws:ec2/SecurityGroupRule` resources. AWS gives every new group an
//! allow-all egress rule; it is kept unless `revoke_default_egress`.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_ec2::types::{Filter, IpPermission, IpRange, ResourceType};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{from_tags, tag_spec, update_tags, urn_filter};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::tags::{self, Tags};
use crate::provider::aws::{error, Aws};
use crate::provider::{parse, Created, Ctx, Provider, ProviderError, ReadResult};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityGroup {
    /// Group name, unique within the VPC; cannot start with `sg-`.
    pub name: String,
    #[serde(default = "default_description")]
    pub description: String,
    pub vpc_id: Input<String>,
    /// Removes the allow-all egress rule AWS adds to every new group.
    #[serde(default)]
    pub revoke_default_egress: bool,
    #[serde(default)]
    pub tags: Tags,
}

fn default_description() -> String {
    "Managed by morket-stack".into()
}

impl SecurityGroup {
    pub fn new(name: &str, vpc_id: impl Into<Input<String>>) -> Self {
        SecurityGroup {
            name: name.into(),
            description: default_description(),
            vpc_id: vpc_id.into(),
            revoke_default_egress: false,
            tags: Tags::new(),
        }
    }
}

impl ResourceArgs for SecurityGroup {
    const TYPE: &'static str = "aws:ec2/SecurityGroup";
}

impl Resource<SecurityGroup> {
    pub fn arn(&self) -> Output<String> {
        self.output("arn")
    }
    pub fn owner_id(&self) -> Output<String> {
        self.output("owner_id")
    }
    pub fn name(&self) -> Output<String> {
        self.output("name")
    }
    pub fn vpc_id(&self) -> Output<String> {
        self.output("vpc_id")
    }
}

/// Characters AWS allows in VPC security group names and descriptions (and
/// in rule descriptions).
pub(crate) fn check_sg_text(field: &str, v: &str, allow_empty: bool) -> Result<(), ProviderError> {
    let bad = |why: &str| ProviderError::invalid(field, format!("{v:?}"), why.to_string());
    if v.is_empty() && !allow_empty {
        return Err(bad("must not be empty"));
    }
    if v.len() > 255 {
        return Err(bad("at most 255 characters"));
    }
    if let Some(c) = v
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || " ._-:/()#,@[]+=&;{}!$*".contains(*c)))
    {
        return Err(bad(&format!(
            "character {c:?} is not allowed (a-z, A-Z, 0-9, spaces and ._-:/()#,@[]+=&;{{}}!$*)"
        )));
    }
    Ok(())
}

/// Is `r` an allow-all egress rule that no morket resource created (the one
/// AWS adds to a new group)?
fn is_default_egress(r: &aws_sdk_ec2::types::SecurityGroupRule) -> bool {
    r.is_egress() == Some(true)
        && r.ip_protocol() == Some("-1")
        && (r.cidr_ipv4() == Some("0.0.0.0/0") || r.cidr_ipv6() == Some("::/0"))
        && !r.tags().iter().any(|t| t.key() == Some(tags::URN_TAG))
}

pub struct SecurityGroupProvider {
    aws: Arc<Aws>,
}

impl SecurityGroupProvider {
    pub fn new(aws: Arc<Aws>) -> Self {
        SecurityGroupProvider { aws }
    }

    async fn describe(
        &self,
        ctx: &Ctx,
        id: &str,
    ) -> Result<Option<aws_sdk_ec2::types::SecurityGroup>, ProviderError> {
        self.aws.limits.ec2_describe.acquire().await;
        match self
            .aws
            .ec2()
            .await
            .describe_security_groups()
            .group_ids(id)
            .send()
            .await
        {
            Ok(out) => Ok(out.security_groups().first().cloned()),
            Err(e) => match error::map(&ctx.urn, "DescribeSecurityGroups", e) {
                ProviderError::NotFound(_) => Ok(None),
                other => Err(other),
            },
        }
    }

    /// The group's default allow-all egress rules still present.
    async fn default_egress(
        &self,
        ctx: &Ctx,
        id: &str,
    ) -> Result<Vec<aws_sdk_ec2::types::SecurityGroupRule>, ProviderError> {
        self.aws.limits.ec2_describe.acquire().await;
        let out = self
            .aws
            .ec2()
            .await
            .describe_security_group_rules()
            .filters(Filter::builder().name("group-id").values(id).build())
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "DescribeSecurityGroupRules", e))?;
        Ok(out
            .security_group_rules()
            .iter()
            .filter(|r| is_default_egress(r))
            .cloned()
            .collect())
    }

    async fn revoke_default_egress(&self, ctx: &Ctx, id: &str) -> Result<(), ProviderError> {
        let ids: Vec<String> = self
            .default_egress(ctx, id)
            .await?
            .iter()
            .filter_map(|r| r.security_group_rule_id().map(str::to_string))
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        self.aws.limits.ec2_mutating.acquire().await;
        match self
            .aws
            .ec2()
            .await
            .revoke_security_group_egress()
            .group_id(id)
            .set_security_group_rule_ids(Some(ids))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => match error::map(&ctx.urn, "RevokeSecurityGroupEgress", e) {
                ProviderError::NotFound(_) => Ok(()),
                other => Err(other),
            },
        }
    }

    async fn restore_default_egress(&self, ctx: &Ctx, id: &str) -> Result<(), ProviderError> {
        if !self.default_egress(ctx, id).await?.is_empty() {
            return Ok(());
        }
        self.aws.limits.ec2_mutating.acquire().await;
        let perm = IpPermission::builder()
            .ip_protocol("-1")
            .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
            .build();
        match self
            .aws
            .ec2()
            .await
            .authorize_security_group_egress()
            .group_id(id)
            .ip_permissions(perm)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => {
                use aws_smithy_types::error::metadata::ProvideErrorMetadata;
                if e.code() == Some("InvalidPermission.Duplicate") {
                    return Ok(());
                }
                Err(error::map(&ctx.urn, "AuthorizeSecurityGroupEgress", e))
            }
        }
    }

    async fn outputs(&self, g: &aws_sdk_ec2::types::SecurityGroup) -> Value {
        let id = g.group_id().unwrap_or_default();
        let owner = g.owner_id().unwrap_or_default();
        let arn = match g.security_group_arn() {
            Some(a) => a.to_string(),
            None => {
                let region = self
                    .aws
                    .config()
                    .await
                    .region()
                    .map(|r| r.to_string())
                    .unwrap_or_default();
                format!("arn:aws:ec2:{region}:{owner}:security-group/{id}")
            }
        };
        json!({
            "id": id,
            "arn": arn,
            "owner_id": owner,
            "name": g.group_name(),
            "vpc_id": g.vpc_id(),
        })
    }

    async fn described(&self, ctx: &Ctx, id: &str, op: &str) -> Result<Value, ProviderError> {
        match self.describe(ctx, id).await? {
            Some(g) => Ok(self.outputs(&g).await),
            None => Err(ProviderError::NotFound(format!(
                "{}: security group {id} disappeared during {op}",
                ctx.urn
            ))),
        }
    }
}

#[async_trait]
impl Provider for SecurityGroupProvider {
    fn type_name(&self) -> &'static str {
        SecurityGroup::TYPE
    }

    fn force_new(&self) -> &'static [&'static str] {
        &["name", "description", "vpc_id"]
    }

    fn unique_name(&self) -> &'static [&'static str] {
        &["name", "vpc_id"]
    }

    fn concurrency(&self) -> Option<(&'static str, usize)> {
        Some(("ec2", 20))
    }

    fn validate(&self, inputs: &Value) -> Result<(), ProviderError> {
        let g: SecurityGroup = parse(inputs)?;
        check_sg_text("name", &g.name, false)?;
        if g.name.to_ascii_lowercase().starts_with("sg-") {
            return Err(ProviderError::invalid(
                "name",
                format!("{:?}", g.name),
                "must not start with \"sg-\"",
            ));
        }
        if g.name.eq_ignore_ascii_case("default") {
            return Err(ProviderError::invalid(
                "name",
                format!("{:?}", g.name),
                "\"default\" is reserved for the VPC's default group",
            ));
        }
        check_sg_text("description", &g.description, false)?;
        if let Some(v) = g.vpc_id.known() {
            if !v.starts_with("vpc-") {
                return Err(ProviderError::invalid(
                    "vpc_id",
                    format!("{v:?}"),
                    "expected a VPC id (vpc-...)",
                ));
            }
        }
        tags::validate(&g.tags)
    }

    async fn create(&self, ctx: &Ctx, inputs: &Value) -> Result<Created, ProviderError> {
        let g: SecurityGroup = parse(inputs)?;
        let vpc_id = g.vpc_id.known().ok_or_else(|| {
            ProviderError::Fatal(format!("{}: vpc_id is not known at create", ctx.urn))
        })?;
        self.aws.limits.ec2_mutating.acquire().await;
        let out = self
            .aws
            .ec2()
            .await
            .create_security_group()
            .group_name(&g.name)
            .description(&g.description)
            .vpc_id(vpc_id)
            .tag_specifications(tag_spec(
                &self.aws,
                ctx,
                ResourceType::SecurityGroup,
                &g.tags,
            ))
            .send()
            .await
            .map_err(|e| {
                use aws_smithy_types::error::metadata::ProvideErrorMetadata;
                if e.code() == Some("InvalidGroup.Duplicate") {
                    // A replacement is created before the old group is deleted,
                    // and AWS allows one group of a name per VPC.
                    return ProviderError::Fatal(format!(
                        "{}: CreateSecurityGroup: a group named {:?} already exists in {vpc_id}; \
                         when replacing a group without renaming it, set delete_before_replace",
                        ctx.urn, g.name
                    ));
                }
                error::map(&ctx.urn, "CreateSecurityGroup", e)
            })?;
        let id = out
            .group_id()
            .ok_or_else(|| {
                ProviderError::Fatal(format!("{}: CreateSecurityGroup returned no id", ctx.urn))
            })?
            .to_string();
        if g.revoke_default_egress {
            self.revoke_default_egress(ctx, &id)
                .await
                .map_err(|e| ProviderError::partial(&id, e))?;
        }
        let outputs = self
            .described(ctx, &id, "create")
            .await
            .map_err(|e| ProviderError::partial(&id, e))?;
        Ok(Created { id, outputs })
    }

    async fn read(
        &self,
        ctx: &Ctx,
        id: &str,
        _inputs: &Value,
        _outputs: &Value,
    ) -> Result<Option<ReadResult>, ProviderError> {
        let Some(g) = self.describe(ctx, id).await? else {
            return Ok(None);
        };
        let live = SecurityGroup {
            name: g.group_name().unwrap_or_default().into(),
            description: g.description().unwrap_or_default().into(),
            vpc_id: Input::Value(g.vpc_id().unwrap_or_default().into()),
            revoke_default_egress: self.default_egress(ctx, id).await?.is_empty(),
            tags: tags::own_view(&self.aws.settings.default_tags, &from_tags(g.tags())),
        };
        Ok(Some(ReadResult {
            inputs: serde_json::to_value(live).expect("serializable"),
            outputs: self.outputs(&g).await,
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
        let (o, n): (SecurityGroup, SecurityGroup) = (parse(old_inputs)?, parse(new_inputs)?);
        if n.revoke_default_egress != o.revoke_default_egress {
            if n.revoke_default_egress {
                self.revoke_default_egress(ctx, id).await?;
            } else {
                self.restore_default_egress(ctx, id).await?;
            }
        }
        update_tags(&self.aws, ctx, id, &o.tags, &n.tags).await?;
        self.described(ctx, id, "update").await
    }

    async fn delete(
        &self,
        ctx: &Ctx,
        id: &str,
        _inputs: &Value,
        _outputs: &Value,
    ) -> Result<(), ProviderError> {
        // DependencyViolation (an ENI or another group's rule still uses it)
        // maps to Retryable: ENIs of deleted load balancers and tasks linger.
        self.aws.limits.ec2_mutating.acquire().await;
        match self
            .aws
            .ec2()
            .await
            .delete_security_group()
            .group_id(id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => match error::map(&ctx.urn, "DeleteSecurityGroup", e) {
                ProviderError::NotFound(_) => Ok(()),
                other => Err(other),
            },
        }
    }

    async fn find_by_urn(&self, ctx: &Ctx, _inputs: &Value) -> Result<Vec<Created>, ProviderError> {
        self.aws.limits.ec2_describe.acquire().await;
        let out = self
            .aws
            .ec2()
            .await
            .describe_security_groups()
            .filters(urn_filter(ctx))
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "DescribeSecurityGroups", e))?;
        let mut found = Vec::new();
        for g in out.security_groups() {
            found.push(Created {
                id: g.group_id().unwrap_or_default().to_string(),
                outputs: self.outputs(g).await,
            });
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider() -> SecurityGroupProvider {
        SecurityGroupProvider::new(Arc::new(Aws::new(Default::default())))
    }

    #[test]
    fn validation_names_field_and_value() {
        let p = provider();
        let ok = serde_json::to_value(SecurityGroup::new("alb", "vpc-1")).unwrap();
        p.validate(&ok).unwrap();
        let unknown = json!({"name": "alb", "vpc_id": crate::value::unknown()});
        p.validate(&unknown).unwrap();
        for (field, value, inputs) in [
            ("name", "sg-x", json!({"name": "sg-x", "vpc_id": "vpc-1"})),
            (
                "name",
                "default",
                json!({"name": "default", "vpc_id": "vpc-1"}),
            ),
            (
                "description",
                "caf\u{e9}",
                json!({"name": "a", "description": "caf\u{e9}", "vpc_id": "vpc-1"}),
            ),
            (
                "vpc_id",
                "subnet-1",
                json!({"name": "a", "vpc_id": "subnet-1"}),
            ),
        ] {
            let e = p.validate(&inputs).unwrap_err().to_string();
            assert!(e.contains(field) && e.contains(value), "{e}");
        }
        let e = p
            .validate(&json!({"name": "a", "vpc_id": "vpc-1", "ingress": []}))
            .unwrap_err();
        assert!(e.to_string().contains("ingress"), "{e}");
    }
}
