//! `aws:rds/DbClusterParameterGroup` (Terraform `aws_rds_cluster_parameter_group`).

use serde::{Deserialize, Serialize};

use super::parameter_groups::{GroupArgs, GroupKind, GroupSpec, ParameterGroupProvider};
use super::subnet_group::managed;
use super::Parameter;
use crate::model::{Output, Resource, ResourceArgs};
use crate::provider::aws::tags::Tags;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DbClusterParameterGroup {
    pub name: String,
    /// e.g. `aurora-postgresql15`.
    pub family: String,
    #[serde(default = "managed")]
    pub description: String,
    #[serde(default)]
    pub parameters: Vec<Parameter>,
    #[serde(default)]
    pub tags: Tags,
}

impl DbClusterParameterGroup {
    pub fn new(name: &str, family: &str) -> Self {
        DbClusterParameterGroup {
            name: name.into(),
            family: family.into(),
            description: managed(),
            parameters: Vec::new(),
            tags: Tags::new(),
        }
    }
}

impl ResourceArgs for DbClusterParameterGroup {
    const TYPE: &'static str = "aws:rds/DbClusterParameterGroup";
}

impl Resource<DbClusterParameterGroup> {
    pub fn name(&self) -> Output<String> {
        self.output("name")
    }
    pub fn arn(&self) -> Output<String> {
        self.output("arn")
    }
}

impl GroupArgs for DbClusterParameterGroup {
    const KIND: GroupKind = GroupKind::Cluster;

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
        DbClusterParameterGroup {
            name: g.name,
            family: g.family,
            description: g.description,
            parameters: g.parameters,
            tags: g.tags,
        }
    }
}

/// One provider serves both kinds of parameter group (see `parameter_groups`).
pub type DbClusterParameterGroupProvider = ParameterGroupProvider<DbClusterParameterGroup>;
