//! What `aws:rds/DbParameterGroup` and `aws:rds/DbClusterParameterGroup`
//! share: the same inputs ([`ParameterGroup`]) and the same lifecycle over two
//! families of RDS calls (`…DBParameterGroup…` and `…DBClusterParameterGroup…`).
//! A [`Kind`] supplies the calls and the schema table; checks, the paginated
//! read of the user parameters, modify and reset in batches of
//! [`PARAMETERS_PER_CALL`], tags and adoption are written once, here.

use std::marker::PhantomData;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_rds::types::{ApplyMethod, Parameter as RdsParameter};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::subnet_group::MANAGED;
use super::{
    check_identifier, check_parameters, live_parameters, parameter_changes, Parameter, Rds,
    PARAMETERS_PER_CALL,
};
use crate::model::{Output, Resource, ResourceArgs};
use crate::provider::aws::call::{Call, Retry};
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::aws::tags::Tags;
use crate::provider::schema::Schema;
use crate::provider::ProviderError;

/// A parameter group of kind `K` (see `DbParameterGroup` and
/// `DbClusterParameterGroup`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ParameterGroup<K> {
    pub name: String,
    /// e.g. `postgres15` or `aurora-postgresql15`.
    pub family: String,
    pub description: String,
    pub parameters: Vec<Parameter>,
    pub tags: Tags,
    #[serde(skip)]
    kind: PhantomData<fn() -> K>,
}

impl<K> Default for ParameterGroup<K> {
    fn default() -> Self {
        ParameterGroup {
            name: String::new(),
            family: String::new(),
            description: MANAGED.into(),
            parameters: Vec::new(),
            tags: Tags::new(),
            kind: PhantomData,
        }
    }
}

impl<K> ParameterGroup<K> {
    pub fn new(name: &str, family: &str) -> Self {
        ParameterGroup {
            name: name.into(),
            family: family.into(),
            ..Default::default()
        }
    }
}

impl<K: Kind> ResourceArgs for ParameterGroup<K> {
    const TYPE: &'static str = K::TYPE;
}

impl<K> Resource<ParameterGroup<K>> {
    pub fn name(&self) -> Output<String> {
        self.output("name")
    }
    pub fn arn(&self) -> Output<String> {
        self.output("arn")
    }
}

/// A group as described: what is not in the parameter list.
pub struct LiveGroup {
    pub family: String,
    pub description: String,
    pub arn: String,
}

/// The `…DBParameterGroup…` or `…DBClusterParameterGroup…` calls.
#[async_trait]
pub trait Kind: std::fmt::Debug + Clone + PartialEq + Send + Sync + 'static {
    const TYPE: &'static str;
    const SCHEMA: Schema;
    /// For messages: `DB parameter group`.
    const WHAT: &'static str;
    /// A family of this kind, for the error on a malformed one.
    const FAMILY_EXAMPLE: &'static str;

    async fn create(cx: &Call<'_, Rds>, g: &ParameterGroup<Self>) -> Result<(), ProviderError>
    where
        Self: Sized;
    async fn describe(cx: &Call<'_, Rds>, name: &str) -> Result<Option<LiveGroup>, ProviderError>;
    /// `(name, value)` of the parameters set by the user (source `user`), all pages.
    async fn user_parameters(
        cx: &Call<'_, Rds>,
        name: &str,
    ) -> Result<Vec<(String, String)>, ProviderError>;
    async fn modify(
        cx: &Call<'_, Rds>,
        name: &str,
        params: Vec<RdsParameter>,
    ) -> Result<(), ProviderError>;
    async fn reset(
        cx: &Call<'_, Rds>,
        name: &str,
        params: Vec<RdsParameter>,
    ) -> Result<(), ProviderError>;
    async fn delete(cx: &Call<'_, Rds>, name: &str) -> Result<(), ProviderError>;
}

/// The arguments both Terraform resources take.
pub(crate) const TF_ARGS: &[(&str, &str)] = &[
    ("name", "name"),
    ("family", "family"),
    ("description", "description"),
    ("parameters", "parameter"),
    ("tags", "tags"),
];

/// A group in use by a database being created, modified or deleted refuses
/// changes and deletes for a while.
pub(crate) const GROUP_BUSY: Retry =
    Retry::conflict(&["InvalidDBParameterGroupState"], Duration::from_secs(300));

#[async_trait]
impl<K: Kind> AwsResource for ParameterGroup<K> {
    type Service = Rds;
    const SCHEMA: Schema = K::SCHEMA;

    fn check(&self) -> Result<(), ProviderError> {
        check_identifier("name", &self.name, 255)?;
        let ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.');
        if self.family.is_empty() || !self.family.chars().all(ok) {
            return Err(ProviderError::invalid(
                "family",
                format!("{:?}", self.family),
                format!(
                    "expected a parameter group family like {}",
                    K::FAMILY_EXAMPLE
                ),
            ));
        }
        if self.description.is_empty() {
            return Err(ProviderError::invalid(
                "description",
                "\"\"",
                "must not be empty",
            ));
        }
        check_parameters(&self.parameters)
    }

    async fn create(&self, cx: &Call<'_, Rds>) -> Result<String, ProviderError> {
        K::create(cx, self).await?;
        Ok(self.name.clone())
    }

    // The create call takes no parameters.
    async fn after_create(&self, cx: &Call<'_, Rds>, id: &str) -> Result<(), ProviderError> {
        set::<K>(cx, id, &self.parameters).await
    }

    async fn read(
        cx: &Call<'_, Rds>,
        id: &str,
        declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError> {
        let Some(g) = K::describe(cx, id).await? else {
            return Ok(None);
        };
        let args = ParameterGroup {
            name: id.to_string(),
            family: g.family,
            description: g.description,
            parameters: live_parameters(K::user_parameters(cx, id).await?, &declared.parameters),
            tags: cx.own_tags(&cx.tags_of(&g.arn).await?),
            kind: PhantomData,
        };
        let outputs = json!({ "id": id, "name": id, "arn": g.arn });
        Ok(Some(Live { args, outputs }))
    }

    async fn update(&self, old: &Self, cx: &Call<'_, Rds>, id: &str) -> Result<(), ProviderError> {
        let (changed, removed) = parameter_changes(&old.parameters, &self.parameters);
        for chunk in removed.chunks(PARAMETERS_PER_CALL) {
            K::reset(
                cx,
                id,
                chunk.iter().map(|p| rds_parameter(p, false)).collect(),
            )
            .await?;
        }
        set::<K>(cx, id, &changed).await?;
        if self.tags != old.tags {
            let g = K::describe(cx, id)
                .await?
                .ok_or_else(|| ProviderError::NotFound(format!("{} {id} is gone", K::WHAT)))?;
            cx.update_tags(&g.arn, &old.tags, &self.tags).await?;
        }
        Ok(())
    }

    async fn delete(&self, cx: &Call<'_, Rds>, id: &str) -> Result<(), ProviderError> {
        K::delete(cx, id).await
    }

    async fn find(&self, cx: &Call<'_, Rds>) -> Result<Vec<String>, ProviderError> {
        // The name is the identity: a group of that name carrying our URN tag.
        let Some(g) = K::describe(cx, &self.name).await? else {
            return Ok(Vec::new());
        };
        Ok(if cx.is_ours(&cx.tags_of(&g.arn).await?) {
            vec![self.name.clone()]
        } else {
            Vec::new()
        })
    }
}

/// Sets `ps` on group `name`, at most [`PARAMETERS_PER_CALL`] per call.
async fn set<K: Kind>(
    cx: &Call<'_, Rds>,
    name: &str,
    ps: &[Parameter],
) -> Result<(), ProviderError> {
    for chunk in ps.chunks(PARAMETERS_PER_CALL) {
        K::modify(
            cx,
            name,
            chunk.iter().map(|p| rds_parameter(p, true)).collect(),
        )
        .await?;
    }
    Ok(())
}

/// A parameter for a modify call (`with_value`) or a reset call (name only).
fn rds_parameter(p: &Parameter, with_value: bool) -> RdsParameter {
    let b = RdsParameter::builder()
        .parameter_name(&p.name)
        .apply_method(ApplyMethod::from(p.apply_method.as_str()));
    if with_value {
        b.parameter_value(&p.value).build()
    } else {
        b.build()
    }
}
