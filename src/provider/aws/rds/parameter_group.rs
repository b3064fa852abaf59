//! `aws:rds/DbParameterGroup` (Terraform `aws_db_parameter_group`).

use serde::{Deserialize, Serialize};

use super::parameter_groups::{GroupArgs, GroupKind, GroupSpec, ParameterGroupProvider};
use super::subnet_group::managed;
use super::Parameter;
use crate::model::{Output, Resource, ResourceArgs};
use crate::provider::aws::tags::Tags;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DbParameterGroup {
    pub name: String,
    /// e.g. `postgres15`.
    pub family: String,
    #[serde(default = "managed")]
    pub description: String,
    #[serde(default)]
    pub parameters: Vec<Parameter>,
    #[serde(default)]
    pub tags: Tags,
}

impl DbParameterGroup {
    pub fn new(name: &str, family: &str) -> Self {
        DbParameterGroup {
            name: name.into(),
            family: family.into(),
            description: managed(),
            parameters: Vec::new(),
            tags: Tags::new(),
        }
    }
}

impl ResourceArgs for DbParameterGroup {
    const TYPE: &'static str = "aws:rds/DbParameterGroup";
}

impl Resource<DbParameterGroup> {
    pub fn name(&self) -> Output<String> {
        self.output("name")
    }
    pub fn arn(&self) -> Output<String> {
        self.output("arn")
    }
}

impl GroupArgs for DbParameterGroup {
    const KIND: GroupKind = GroupKind::Instance;

    fn into_spec(self) -> GroupSpec {
        GroupSpec {
            name: self.name,
            family: self.family,
            description: self.description,
            parameters: self.parameters,
            tags: self.tags,
        }
    }

    fn from_spec(g: GroupSpec) -> Self {
        DbParameterGroup {
            name: g.name,
            family: g.family,
            description: g.description,
            parameters: g.parameters,
            tags: g.tags,
        }
    }
}

/// One provider serves both kinds of parameter group (see `parameter_groups`).
pub type DbParameterGroupProvider = ParameterGroupProvider<DbParameterGroup>;
