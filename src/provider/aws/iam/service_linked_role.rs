//! `aws:iam/ServiceLinkedRole` (Terraform `aws_iam_service_linked_role`):
//! the role an AWS service uses in the account (OpenSearch in a VPC, ECS,
//! ElastiCache, RDS). There is one per service and account, shared by every
//! stack, so an existing one is adopted and `destroy` leaves it in place
//! (unlike Terraform, which deletes it and breaks the account's other users).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::Iam;
use crate::model::{Output, Resource, ResourceArgs};
use crate::provider::aws::call::Call;
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::schema::{Schema, Tf};
use crate::provider::ProviderError;

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServiceLinkedRole {
    /// The service principal, e.g. `opensearchservice.amazonaws.com`.
    pub aws_service_name: String,
}

impl ServiceLinkedRole {
    pub fn new(aws_service_name: &str) -> Self {
        ServiceLinkedRole {
            aws_service_name: aws_service_name.into(),
        }
    }
}

impl ResourceArgs for ServiceLinkedRole {
    const TYPE: &'static str = "aws:iam/ServiceLinkedRole";
}

impl Resource<ServiceLinkedRole> {
    pub fn name(&self) -> Output<String> {
        self.output("name")
    }
    pub fn arn(&self) -> Output<String> {
        self.output("arn")
    }
}

/// Service-linked roles live under this path, one per service.
fn path(service: &str) -> String {
    format!("/aws-service-role/{service}/")
}

impl ServiceLinkedRole {
    /// The account's role for the service, by its path (its name is the
    /// service's choice).
    async fn existing(&self, cx: &Call<'_, Iam>) -> Result<Option<String>, ProviderError> {
        let prefix = path(&self.aws_service_name);
        let pages = cx
            .pages(
                "ListRoles",
                cx.client()
                    .await
                    .list_roles()
                    .path_prefix(&prefix)
                    .into_paginator()
                    .send(),
            )
            .await?;
        Ok(pages
            .iter()
            .flat_map(|p| p.roles())
            .find(|r| r.path() == prefix)
            .map(|r| r.role_name().to_string()))
    }
}

#[async_trait]
impl AwsResource for ServiceLinkedRole {
    type Service = Iam;
    const SCHEMA: Schema = Schema {
        force_new: &["aws_service_name"],
        unique_name: &["aws_service_name"],
        terraform: &[Tf {
            resource: "aws_iam_service_linked_role",
            args: &[("aws_service_name", "aws_service_name")],
            import_id: "{id}",
        }],
        ..Schema::NONE
    };

    fn check(&self) -> Result<(), ProviderError> {
        let s = &self.aws_service_name;
        let ok = s.ends_with(".amazonaws.com")
            && s.len() > ".amazonaws.com".len()
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-');
        if !ok {
            return Err(ProviderError::invalid(
                "aws_service_name",
                format!("{s:?}"),
                "expected a service principal like opensearchservice.amazonaws.com",
            ));
        }
        Ok(())
    }

    async fn create(&self, cx: &Call<'_, Iam>) -> Result<String, ProviderError> {
        if let Some(name) = self.existing(cx).await? {
            return Ok(name);
        }
        let out = cx
            .send("CreateServiceLinkedRole", |c| {
                c.create_service_linked_role()
                    .aws_service_name(&self.aws_service_name)
                    .send()
            })
            .await;
        match out {
            Ok(o) => o
                .role()
                .map(|r| r.role_name().to_string())
                .ok_or_else(|| cx.fatal("CreateServiceLinkedRole returned no role")),
            // Made by the service itself or another stack meanwhile.
            Err(e) => match self.existing(cx).await? {
                Some(name) => Ok(name),
                None => Err(e),
            },
        }
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
        // The path names the service: aws-service-role/<service>/.
        let service = r
            .path()
            .trim_matches('/')
            .strip_prefix("aws-service-role/")
            .unwrap_or(&declared.aws_service_name)
            .to_string();
        Ok(Some(Live {
            args: ServiceLinkedRole {
                aws_service_name: service,
            },
            outputs: json!({
                "id": r.role_name(),
                "name": r.role_name(),
                "arn": r.arn(),
                "path": r.path(),
                "unique_id": r.role_id(),
            }),
        }))
    }

    async fn update(
        &self,
        _old: &Self,
        _cx: &Call<'_, Iam>,
        _id: &str,
    ) -> Result<(), ProviderError> {
        // The only input forces a replacement.
        Ok(())
    }

    async fn delete(&self, _cx: &Call<'_, Iam>, _id: &str) -> Result<(), ProviderError> {
        // Shared by the account: other stacks' domains and services use it.
        Ok(())
    }

    async fn find(&self, cx: &Call<'_, Iam>) -> Result<Vec<String>, ProviderError> {
        Ok(self.existing(cx).await?.into_iter().collect())
    }
}
