//! `aws:ecr/RepositoryPolicy` (Terraform `aws_ecr_repository_policy`): who
//! else may pull or push. The document is compared parsed, so formatting
//! and key order are no change. The id is the repository name.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{check_repository_name, describe, Ecr};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::call::{Call, Retry};
use crate::provider::aws::iam::{check_policy, normal_policy};
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::schema::{Norm, Schema, Tf};
use crate::provider::ProviderError;

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RepositoryPolicy {
    /// The repository's name (`Resource<Repository>::name()`).
    pub repository: Input<String>,
    /// A JSON policy document (may be interpolated with account ids).
    pub policy: Input<String>,
}

impl RepositoryPolicy {
    pub fn new(repository: impl Into<Input<String>>, policy: impl Into<Input<String>>) -> Self {
        RepositoryPolicy {
            repository: repository.into(),
            policy: policy.into(),
        }
    }
}

impl ResourceArgs for RepositoryPolicy {
    const TYPE: &'static str = "aws:ecr/RepositoryPolicy";
}

impl Resource<RepositoryPolicy> {
    pub fn repository(&self) -> Output<String> {
        self.output("repository")
    }
    pub fn registry_id(&self) -> Output<String> {
        self.output("registry_id")
    }
}

/// A principal IAM has not propagated to ECR yet (Terraform retries this
/// for its IAM propagation timeout, 2 minutes).
const NEW_PRINCIPAL: Retry = Retry::propagation(
    "InvalidParameterException",
    "Invalid repository policy provided",
);

async fn set(p: &RepositoryPolicy, cx: &Call<'_, Ecr>, repo: &str) -> Result<(), ProviderError> {
    let text = p.policy.require("policy")?;
    cx.send_retrying(
        "SetRepositoryPolicy",
        &[NEW_PRINCIPAL, Retry::NEW_OBJECT],
        |c| {
            c.set_repository_policy()
                .repository_name(repo)
                .policy_text(text)
                .send()
        },
    )
    .await
    .map(drop)
}

async fn get(
    cx: &Call<'_, Ecr>,
    repo: &str,
) -> Result<
    Option<aws_sdk_ecr::operation::get_repository_policy::GetRepositoryPolicyOutput>,
    ProviderError,
> {
    // Not found covers both a missing policy and a missing repository.
    cx.find("GetRepositoryPolicy", |c| {
        c.get_repository_policy().repository_name(repo).send()
    })
    .await
}

#[async_trait]
impl AwsResource for RepositoryPolicy {
    type Service = Ecr;
    const SCHEMA: Schema = Schema {
        force_new: &["repository"],
        normalize: &[("policy", Norm::Json)],
        terraform: &[Tf {
            resource: "aws_ecr_repository_policy",
            args: &[("repository", "repository"), ("policy", "policy")],
            import_id: "{repository}",
        }],
        ..Schema::NONE
    };

    fn diff(old: &serde_json::Value, new: &serde_json::Value) -> crate::provider::Diff {
        // Documents compared parsed.
        let norm = |v: &serde_json::Value| {
            let mut v = v.clone();
            if let Some(s) = v.get("policy").and_then(serde_json::Value::as_str) {
                v["policy"] = normal_policy(s);
            }
            v
        };
        crate::provider::field_diff(&norm(old), &norm(new), Self::SCHEMA.force_new)
    }

    fn check(&self) -> Result<(), ProviderError> {
        if let Some(r) = self.repository.known() {
            check_repository_name("repository", r)?;
        }
        if let Some(p) = self.policy.known() {
            check_policy("policy", p)?;
        }
        Ok(())
    }

    async fn create(&self, cx: &Call<'_, Ecr>) -> Result<String, ProviderError> {
        let repo = self.repository.require("repository")?;
        set(self, cx, repo).await?;
        Ok(repo.clone())
    }

    async fn read(
        cx: &Call<'_, Ecr>,
        repo: &str,
        _declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError> {
        let Some(out) = get(cx, repo).await? else {
            return Ok(None);
        };
        Ok(Some(Live {
            args: RepositoryPolicy {
                repository: Input::Value(repo.to_string()),
                policy: Input::Value(out.policy_text().unwrap_or_default().to_string()),
            },
            outputs: json!({
                "id": repo,
                "repository": repo,
                "registry_id": out.registry_id(),
            }),
        }))
    }

    async fn update(
        &self,
        old: &Self,
        cx: &Call<'_, Ecr>,
        repo: &str,
    ) -> Result<(), ProviderError> {
        let parsed = |p: &Input<String>| p.known().map(|s| normal_policy(s));
        if parsed(&old.policy) != parsed(&self.policy) {
            set(self, cx, repo).await?;
        }
        Ok(())
    }

    async fn delete(&self, cx: &Call<'_, Ecr>, repo: &str) -> Result<(), ProviderError> {
        cx.send("DeleteRepositoryPolicy", |c| {
            c.delete_repository_policy().repository_name(repo).send()
        })
        .await
        .map(drop)
    }

    async fn find(&self, cx: &Call<'_, Ecr>) -> Result<Vec<String>, ProviderError> {
        // Policies carry no tags: the repository is the natural key.
        let Some(repo) = self.repository.known() else {
            return Ok(Vec::new());
        };
        if describe(cx, repo).await?.is_none() || get(cx, repo).await?.is_none() {
            return Ok(Vec::new());
        }
        Ok(vec![repo.clone()])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::provider::aws::resource::Typed;
    use crate::provider::aws::Aws;
    use crate::provider::Provider;
    use std::sync::Arc;

    #[test]
    fn validation_and_parsed_comparison() {
        let p: Typed<RepositoryPolicy> = Typed::new(Arc::new(Aws::new(Default::default())));
        let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"ecr:BatchGetImage"}]}"#;
        assert!(p
            .validate(&json!({"repository": "r1", "policy": doc}))
            .is_ok());
        let e = p
            .validate(&json!({"repository": "r1", "policy": "{\"a\": 1}"}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("policy") && e.contains("a"), "{e}");
        let pretty = serde_json::to_string_pretty(&normal_policy(doc)).unwrap();
        let d = p.diff(
            &json!({"repository": "r1", "policy": doc}),
            &json!({"repository": "r1", "policy": pretty}),
        );
        assert!(d.changed.is_empty(), "{d:?}");
    }
}
