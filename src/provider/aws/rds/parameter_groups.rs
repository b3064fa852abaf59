//! What `aws:rds/DbParameterGroup` and `aws:rds/DbClusterParameterGroup`
//! share: the same inputs and the same lifecycle over two families of RDS
//! calls (`…DBParameterGroup…` and `…DBClusterParameterGroup…`). [`GroupKind`]
//! picks the call; validation, the paginated read of the user parameters,
//! modify and reset in batches of [`PARAMETERS_PER_CALL`], tags and adoption
//! are written once, in [`ParameterGroupProvider`].

use std::marker::PhantomData;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_rds::types::{
    ApplyMethod, DbClusterParameterGroup as SdkClusterGroup, DbParameterGroup as SdkGroup,
    Parameter as RdsParameter, Tag,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

use super::{
    check_identifier, check_parameters, create_tags, from_rds_parameters, from_tags, has_urn,
    list_tags, none_if_gone, order_like, parameter_changes, to_rds_parameter, update_tags,
    Parameter, PARAMETERS_PER_CALL,
};
use crate::model::ResourceArgs;
use crate::provider::aws::tags::{self, Tags};
use crate::provider::aws::{error, Aws};
use crate::provider::{parse, Created, Ctx, Provider, ProviderError, ReadResult};

/// Which of the two kinds of parameter group, and so which calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupKind {
    /// For plain instances and Aurora instances (`…DBParameterGroup…`).
    Instance,
    /// For Aurora clusters (`…DBClusterParameterGroup…`).
    Cluster,
}

/// The inputs of both types; they are the same fields.
pub struct GroupSpec {
    pub name: String,
    pub family: String,
    pub description: String,
    pub parameters: Vec<Parameter>,
    pub tags: Tags,
}

/// One of the two public input types.
pub trait GroupArgs: ResourceArgs + Serialize + DeserializeOwned + Send + Sync + 'static {
    const KIND: GroupKind;
    fn into_spec(self) -> GroupSpec;
    fn from_spec(spec: GroupSpec) -> Self;
}

/// A live group of either kind.
struct LiveGroup {
    name: String,
    family: String,
    description: String,
    arn: Option<String>,
}

impl LiveGroup {
    fn outputs(&self) -> Value {
        json!({
            "id": self.name,
            "name": self.name,
            "arn": self.arn,
        })
    }
}

impl From<&SdkGroup> for LiveGroup {
    fn from(g: &SdkGroup) -> Self {
        LiveGroup {
            name: g.db_parameter_group_name().unwrap_or_default().to_string(),
            family: g
                .db_parameter_group_family()
                .unwrap_or_default()
                .to_string(),
            description: g.description().unwrap_or_default().to_string(),
            arn: g.db_parameter_group_arn().map(str::to_string),
        }
    }
}

impl From<&SdkClusterGroup> for LiveGroup {
    fn from(g: &SdkClusterGroup) -> Self {
        LiveGroup {
            name: g
                .db_cluster_parameter_group_name()
                .unwrap_or_default()
                .to_string(),
            family: g
                .db_parameter_group_family()
                .unwrap_or_default()
                .to_string(),
            description: g.description().unwrap_or_default().to_string(),
            arn: g.db_cluster_parameter_group_arn().map(str::to_string),
        }
    }
}

/// The calls, one per kind. Each takes the rate limit first.
impl GroupKind {
    fn family_example(self) -> &'static str {
        match self {
            GroupKind::Instance => "postgres15",
            GroupKind::Cluster => "aurora-postgresql15",
        }
    }

    async fn create(
        self,
        aws: &Aws,
        ctx: &Ctx,
        g: &GroupSpec,
        tags: Vec<Tag>,
    ) -> Result<LiveGroup, ProviderError> {
        aws.limits.rds.acquire().await;
        let rds = aws.rds().await;
        let (op, created) = match self {
            GroupKind::Instance => {
                let op = "CreateDBParameterGroup";
                let out = rds
                    .create_db_parameter_group()
                    .db_parameter_group_name(&g.name)
                    .db_parameter_group_family(&g.family)
                    .description(&g.description)
                    .set_tags(Some(tags))
                    .send()
                    .await
                    .map_err(|e| error::map(&ctx.urn, op, e))?;
                (op, out.db_parameter_group().map(LiveGroup::from))
            }
            GroupKind::Cluster => {
                let op = "CreateDBClusterParameterGroup";
                let out = rds
                    .create_db_cluster_parameter_group()
                    .db_cluster_parameter_group_name(&g.name)
                    .db_parameter_group_family(&g.family)
                    .description(&g.description)
                    .set_tags(Some(tags))
                    .send()
                    .await
                    .map_err(|e| error::map(&ctx.urn, op, e))?;
                (op, out.db_cluster_parameter_group().map(LiveGroup::from))
            }
        };
        created.ok_or_else(|| ProviderError::Fatal(format!("{}: {op} returned no group", ctx.urn)))
    }

    async fn describe(
        self,
        aws: &Aws,
        ctx: &Ctx,
        name: &str,
    ) -> Result<Option<LiveGroup>, ProviderError> {
        aws.limits.rds.acquire().await;
        let rds = aws.rds().await;
        Ok(match self {
            GroupKind::Instance => {
                let r = rds
                    .describe_db_parameter_groups()
                    .db_parameter_group_name(name)
                    .send()
                    .await
                    .map_err(|e| error::map(&ctx.urn, "DescribeDBParameterGroups", e));
                none_if_gone(r)?.and_then(|o| o.db_parameter_groups().first().map(LiveGroup::from))
            }
            GroupKind::Cluster => {
                let r = rds
                    .describe_db_cluster_parameter_groups()
                    .db_cluster_parameter_group_name(name)
                    .send()
                    .await
                    .map_err(|e| error::map(&ctx.urn, "DescribeDBClusterParameterGroups", e));
                none_if_gone(r)?
                    .and_then(|o| o.db_cluster_parameter_groups().first().map(LiveGroup::from))
            }
        })
    }

    /// One page of the parameters set by the user (source `user`), and the
    /// marker of the next.
    async fn user_parameters_page(
        self,
        aws: &Aws,
        ctx: &Ctx,
        name: &str,
        marker: Option<String>,
    ) -> Result<(Vec<RdsParameter>, Option<String>), ProviderError> {
        aws.limits.rds.acquire().await;
        let rds = aws.rds().await;
        Ok(match self {
            GroupKind::Instance => {
                let out = rds
                    .describe_db_parameters()
                    .db_parameter_group_name(name)
                    .source("user")
                    .set_marker(marker)
                    .send()
                    .await
                    .map_err(|e| error::map(&ctx.urn, "DescribeDBParameters", e))?;
                (out.parameters().to_vec(), out.marker().map(str::to_string))
            }
            GroupKind::Cluster => {
                let out = rds
                    .describe_db_cluster_parameters()
                    .db_cluster_parameter_group_name(name)
                    .source("user")
                    .set_marker(marker)
                    .send()
                    .await
                    .map_err(|e| error::map(&ctx.urn, "DescribeDBClusterParameters", e))?;
                (out.parameters().to_vec(), out.marker().map(str::to_string))
            }
        })
    }

    /// One ModifyDB(Cluster)ParameterGroup call.
    async fn modify(
        self,
        aws: &Aws,
        ctx: &Ctx,
        name: &str,
        params: Vec<RdsParameter>,
    ) -> Result<(), ProviderError> {
        aws.limits.rds.acquire().await;
        let rds = aws.rds().await;
        match self {
            GroupKind::Instance => rds
                .modify_db_parameter_group()
                .db_parameter_group_name(name)
                .set_parameters(Some(params))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| error::map(&ctx.urn, "ModifyDBParameterGroup", e)),
            GroupKind::Cluster => rds
                .modify_db_cluster_parameter_group()
                .db_cluster_parameter_group_name(name)
                .set_parameters(Some(params))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| error::map(&ctx.urn, "ModifyDBClusterParameterGroup", e)),
        }
    }

    /// One ResetDB(Cluster)ParameterGroup call.
    async fn reset(
        self,
        aws: &Aws,
        ctx: &Ctx,
        name: &str,
        params: Vec<RdsParameter>,
    ) -> Result<(), ProviderError> {
        aws.limits.rds.acquire().await;
        let rds = aws.rds().await;
        match self {
            GroupKind::Instance => rds
                .reset_db_parameter_group()
                .db_parameter_group_name(name)
                .set_parameters(Some(params))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| error::map(&ctx.urn, "ResetDBParameterGroup", e)),
            GroupKind::Cluster => rds
                .reset_db_cluster_parameter_group()
                .db_cluster_parameter_group_name(name)
                .set_parameters(Some(params))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| error::map(&ctx.urn, "ResetDBClusterParameterGroup", e)),
        }
    }

    /// The delete call; `Ok(None)` when the group was already gone.
    async fn delete(self, aws: &Aws, ctx: &Ctx, name: &str) -> Result<Option<()>, ProviderError> {
        aws.limits.rds.acquire().await;
        let rds = aws.rds().await;
        let r = match self {
            GroupKind::Instance => rds
                .delete_db_parameter_group()
                .db_parameter_group_name(name)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| error::map(&ctx.urn, "DeleteDBParameterGroup", e)),
            GroupKind::Cluster => rds
                .delete_db_cluster_parameter_group()
                .db_cluster_parameter_group_name(name)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| error::map(&ctx.urn, "DeleteDBClusterParameterGroup", e)),
        };
        none_if_gone(r)
    }
}

/// The provider of either type; `A` is the input type and picks the kind.
pub struct ParameterGroupProvider<A> {
    aws: Arc<Aws>,
    args: PhantomData<fn() -> A>,
}

impl<A: GroupArgs> ParameterGroupProvider<A> {
    pub fn new(aws: Arc<Aws>) -> Self {
        ParameterGroupProvider {
            aws,
            args: PhantomData,
        }
    }

    /// The parameters set by the user (source `user`), all pages.
    async fn user_parameters(
        &self,
        ctx: &Ctx,
        name: &str,
    ) -> Result<Vec<Parameter>, ProviderError> {
        let mut all = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let (page, next) = A::KIND
                .user_parameters_page(&self.aws, ctx, name, marker)
                .await?;
            all.extend(page);
            marker = next;
            if marker.is_none() {
                break;
            }
        }
        Ok(from_rds_parameters(&all))
    }

    async fn modify(&self, ctx: &Ctx, name: &str, ps: &[Parameter]) -> Result<(), ProviderError> {
        for chunk in ps.chunks(PARAMETERS_PER_CALL) {
            let params = chunk.iter().map(to_rds_parameter).collect();
            A::KIND.modify(&self.aws, ctx, name, params).await?;
        }
        Ok(())
    }

    async fn reset(&self, ctx: &Ctx, name: &str, ps: &[Parameter]) -> Result<(), ProviderError> {
        for chunk in ps.chunks(PARAMETERS_PER_CALL) {
            let params = chunk
                .iter()
                .map(|p| {
                    RdsParameter::builder()
                        .parameter_name(&p.name)
                        .apply_method(ApplyMethod::from(p.apply_method.as_str()))
                        .build()
                })
                .collect();
            A::KIND.reset(&self.aws, ctx, name, params).await?;
        }
        Ok(())
    }
}

#[async_trait]
impl<A: GroupArgs> Provider for ParameterGroupProvider<A> {
    fn type_name(&self) -> &'static str {
        A::TYPE
    }

    fn force_new(&self) -> &'static [&'static str] {
        &["name", "family", "description"]
    }

    fn unique_name(&self) -> &'static [&'static str] {
        &["name"]
    }

    fn concurrency(&self) -> Option<(&'static str, usize)> {
        Some(("rds", 10))
    }

    fn validate(&self, inputs: &Value) -> Result<(), ProviderError> {
        let g = parse::<A>(inputs)?.into_spec();
        check_identifier("name", &g.name, 255)?;
        if g.family.is_empty()
            || !g
                .family
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.'))
        {
            return Err(ProviderError::invalid(
                "family",
                format!("{:?}", g.family),
                format!(
                    "expected a parameter group family like {}",
                    A::KIND.family_example()
                ),
            ));
        }
        if g.description.is_empty() {
            return Err(ProviderError::invalid(
                "description",
                "\"\"",
                "must not be empty",
            ));
        }
        check_parameters(&g.parameters)?;
        tags::validate(&g.tags)
    }

    async fn create(&self, ctx: &Ctx, inputs: &Value) -> Result<Created, ProviderError> {
        let g = parse::<A>(inputs)?.into_spec();
        let tags = create_tags(&self.aws, ctx, &g.tags);
        let created = A::KIND.create(&self.aws, ctx, &g, tags).await?;
        self.modify(ctx, &g.name, &g.parameters).await?;
        Ok(Created {
            id: g.name.clone(),
            outputs: created.outputs(),
        })
    }

    async fn read(
        &self,
        ctx: &Ctx,
        id: &str,
        inputs: &Value,
        _outputs: &Value,
    ) -> Result<Option<ReadResult>, ProviderError> {
        let Some(g) = A::KIND.describe(&self.aws, ctx, id).await? else {
            return Ok(None);
        };
        let declared: Vec<Parameter> = parse::<A>(inputs)
            .map(|d| d.into_spec().parameters)
            .unwrap_or_default();
        let live_tags = list_tags(&self.aws, ctx, g.arn.as_deref().unwrap_or_default()).await?;
        let live = A::from_spec(GroupSpec {
            name: id.to_string(),
            family: g.family.clone(),
            description: g.description.clone(),
            parameters: order_like(self.user_parameters(ctx, id).await?, &declared),
            tags: tags::own_view(&self.aws.settings.default_tags, &from_tags(&live_tags)),
        });
        Ok(Some(ReadResult {
            inputs: serde_json::to_value(live).expect("serializable"),
            outputs: g.outputs(),
        }))
    }

    async fn update(
        &self,
        ctx: &Ctx,
        id: &str,
        old_inputs: &Value,
        new_inputs: &Value,
        old_outputs: &Value,
    ) -> Result<Value, ProviderError> {
        let o = parse::<A>(old_inputs)?.into_spec();
        let n = parse::<A>(new_inputs)?.into_spec();
        let (set, reset) = parameter_changes(&o.parameters, &n.parameters);
        self.reset(ctx, id, &reset).await?;
        self.modify(ctx, id, &set).await?;
        if o.tags != n.tags {
            let arn = old_outputs["arn"].as_str().unwrap_or_default();
            update_tags(&self.aws, ctx, arn, &o.tags, &n.tags).await?;
        }
        Ok(old_outputs.clone())
    }

    async fn delete(
        &self,
        ctx: &Ctx,
        id: &str,
        _inputs: &Value,
        _outputs: &Value,
    ) -> Result<(), ProviderError> {
        A::KIND.delete(&self.aws, ctx, id).await.map(|_| ())
    }

    async fn find_by_urn(&self, ctx: &Ctx, inputs: &Value) -> Result<Vec<Created>, ProviderError> {
        let g = parse::<A>(inputs)?.into_spec();
        let Some(live) = A::KIND.describe(&self.aws, ctx, &g.name).await? else {
            return Ok(Vec::new());
        };
        let t = list_tags(&self.aws, ctx, live.arn.as_deref().unwrap_or_default()).await?;
        Ok(if has_urn(ctx, &t) {
            vec![Created {
                id: g.name,
                outputs: live.outputs(),
            }]
        } else {
            Vec::new()
        })
    }
}
