//! `aws:backup/Selection` (Terraform `aws_backup_selection`): the resources
//! a plan backs up (R6.5: the ClickHouse EBS volume) and the role AWS Backup
//! acts with. AWS has no update for selections: every field forces a
//! replacement, as in Terraform.

use async_trait::async_trait;
use aws_sdk_backup::types::BackupSelection as BkSelection;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{check_name, Backup};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::call::{Call, Retry};
use crate::provider::aws::check_arn;
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::schema::{Norm, Schema, Tf};
use crate::provider::{require_all, Diff, ProviderError};

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Selection {
    /// 1 to 50 letters, digits, `-`, `_` or `.`; unique within the plan.
    pub name: String,
    /// `Resource<Plan>::id()`.
    pub plan_id: Input<String>,
    /// A role AWS Backup can assume (`AWSBackupServiceRolePolicyForBackup`).
    pub iam_role_arn: Input<String>,
    /// ARNs of what is backed up: `arn:aws:ec2:<region>:<account>:volume/vol-…`.
    pub resources: Vec<Input<String>>,
}

impl ResourceArgs for Selection {
    const TYPE: &'static str = "aws:backup/Selection";
}

impl Resource<Selection> {
    pub fn selection_id(&self) -> Output<String> {
        self.output("selection_id")
    }
}

/// `<plan id>|<selection id>`, Terraform's import id: a selection is named
/// within its plan.
fn split_id(id: &str) -> Result<(&str, &str), ProviderError> {
    id.split_once('|')
        .filter(|(p, s)| !p.is_empty() && !s.is_empty())
        .ok_or_else(|| ProviderError::Fatal(format!("{id:?} is not <plan-id>|<selection-id>")))
}

async fn get(
    cx: &Call<'_, Backup>,
    plan: &str,
    sel: &str,
) -> Result<Option<BkSelection>, ProviderError> {
    let got = cx
        .try_send("GetBackupSelection", |c| {
            c.get_backup_selection()
                .backup_plan_id(plan)
                .selection_id(sel)
                .send()
        })
        .await;
    match got {
        Ok(o) => Ok(o.backup_selection().cloned()),
        Err(f) if matches!(f.error, ProviderError::NotFound(_)) => Ok(None),
        // Terraform: the plan itself is gone.
        Err(f)
            if f.code == "InvalidParameterValueException"
                && f.message.contains("Cannot find Backup plan") =>
        {
            Ok(None)
        }
        Err(f) => Err(f.error),
    }
}

#[async_trait]
impl AwsResource for Selection {
    type Service = Backup;
    const SCHEMA: Schema = Schema {
        force_new: &["name", "plan_id", "iam_role_arn", "resources"],
        unique_name: &["name", "plan_id"],
        normalize: &[("resources", Norm::Set)],
        terraform: &[Tf {
            resource: "aws_backup_selection",
            args: &[
                ("name", "name"),
                ("plan_id", "plan_id"),
                ("iam_role_arn", "iam_role_arn"),
                ("resources", "resources"),
            ],
            import_id: "{id}",
        }],
        ..Schema::NONE
    };

    /// `resources` is a set (Terraform's TypeSet): another order is no change.
    fn diff(old: &Value, new: &Value) -> Diff {
        let sorted = |v: &Value| {
            let mut v = v.clone();
            if let Some(Value::Array(a)) = v.get_mut("resources") {
                a.sort_by_key(Value::to_string);
            }
            v
        };
        crate::provider::field_diff(&sorted(old), &sorted(new), Self::SCHEMA.force_new)
    }

    fn check(&self) -> Result<(), ProviderError> {
        check_name("name", &self.name)?;
        if let Some(r) = self.iam_role_arn.known() {
            check_arn(
                "iam_role_arn",
                r,
                "iam",
                "role/",
                "an IAM role ARN (arn:aws:iam::<account>:role/<name>)",
            )?;
        }
        if self.resources.is_empty() {
            return Err(ProviderError::invalid(
                "resources",
                "[]",
                "at least one resource ARN",
            ));
        }
        for (i, r) in self.resources.iter().enumerate() {
            if let Some(arn) = r.known() {
                let parts: Vec<&str> = arn.splitn(6, ':').collect();
                let ok = parts.len() == 6 && parts[0] == "arn" && !parts[2].is_empty();
                // `*` selects everything AWS Backup supports; anything else is an ARN.
                if !(ok || arn == "*") {
                    return Err(ProviderError::invalid(
                        &format!("resources[{i}]"),
                        format!("{arn:?}"),
                        "expected an ARN (arn:aws:ec2:<region>:<account>:volume/vol-…)",
                    ));
                }
            }
        }
        Ok(())
    }

    async fn create(&self, cx: &Call<'_, Backup>) -> Result<String, ProviderError> {
        let plan = self.plan_id.require("plan_id")?;
        let selection = BkSelection::builder()
            .selection_name(&self.name)
            .iam_role_arn(self.iam_role_arn.require("iam_role_arn")?)
            .set_resources(Some(require_all("resources", &self.resources)?))
            .build()
            .map_err(|e| cx.fatal(e.to_string()))?;
        // One token for the retries of this create: a retry AWS already
        // applied answers the same selection.
        let token = format!("morket-{:032x}", rand::random::<u128>());
        let out = cx
            .send_retrying(
                "CreateBackupSelection",
                // Terraform: IAM eventual consistency of a new role.
                &[
                    Retry::propagation("InvalidParameterValueException", "cannot be assumed"),
                    Retry::propagation(
                        "InvalidParameterValueException",
                        "is not authorized to call",
                    ),
                ],
                |c| {
                    c.create_backup_selection()
                        .backup_plan_id(plan)
                        .backup_selection(selection.clone())
                        .creator_request_id(&token)
                        .send()
                },
            )
            .await?;
        let sel = out
            .selection_id()
            .ok_or_else(|| cx.fatal("CreateBackupSelection answered without a selection id"))?;
        Ok(format!("{plan}|{sel}"))
    }

    async fn read(
        cx: &Call<'_, Backup>,
        id: &str,
        _declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError> {
        let (plan, sel) = split_id(id)?;
        let Some(s) = get(cx, plan, sel).await? else {
            return Ok(None);
        };
        let args = Selection {
            name: s.selection_name().to_string(),
            plan_id: Input::Value(plan.to_string()),
            iam_role_arn: Input::Value(s.iam_role_arn().to_string()),
            resources: s
                .resources()
                .iter()
                .map(|r| Input::Value(r.clone()))
                .collect(),
        };
        Ok(Some(Live {
            args,
            outputs: json!({"id": id, "selection_id": sel, "plan_id": plan}),
        }))
    }

    async fn update(
        &self,
        _old: &Self,
        _cx: &Call<'_, Backup>,
        id: &str,
    ) -> Result<(), ProviderError> {
        // Every field forces a replacement.
        Err(ProviderError::Fatal(format!(
            "backup selection {id} cannot change in place"
        )))
    }

    async fn delete(&self, cx: &Call<'_, Backup>, id: &str) -> Result<(), ProviderError> {
        let (plan, sel) = split_id(id)?;
        let done = cx
            .try_send("DeleteBackupSelection", |c| {
                c.delete_backup_selection()
                    .backup_plan_id(plan)
                    .selection_id(sel)
                    .send()
            })
            .await;
        match done {
            Ok(_) => Ok(()),
            // Terraform: the selection (or its plan) is already gone.
            Err(f) if f.code == "InvalidParameterValueException" => Ok(()),
            Err(f) => Err(f.error),
        }
    }

    async fn find(&self, cx: &Call<'_, Backup>) -> Result<Vec<String>, ProviderError> {
        // Selections carry no tags; the plan is ours, and the name is the
        // identity within it.
        let Some(plan) = self.plan_id.known() else {
            return Ok(Vec::new());
        };
        let pages = match cx
            .pages(
                "ListBackupSelections",
                cx.client()
                    .await
                    .list_backup_selections()
                    .backup_plan_id(plan)
                    .into_paginator()
                    .send(),
            )
            .await
        {
            Err(ProviderError::NotFound(_)) => return Ok(Vec::new()),
            r => r?,
        };
        Ok(pages
            .iter()
            .flat_map(|p| p.backup_selections_list())
            .filter(|s| s.selection_name() == Some(self.name.as_str()))
            .filter_map(|s| s.selection_id().map(|id| format!("{plan}|{id}")))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel() -> Selection {
        Selection {
            name: "clickhouse-data".into(),
            plan_id: "plan-1".into(),
            iam_role_arn: "arn:aws:iam::123456789012:role/backup".into(),
            resources: vec!["arn:aws:ec2:us-east-1:123456789012:volume/vol-0abc".into()],
        }
    }

    #[test]
    fn validation_names_field_and_value() {
        assert!(sel().check().is_ok());
        let mut s = sel();
        s.resources = vec!["vol-0abc".into()];
        let e = s.check().unwrap_err().to_string();
        assert!(e.contains("resources[0] = \"vol-0abc\""), "{e}");
        let mut s = sel();
        s.iam_role_arn = "backup".into();
        let e = s.check().unwrap_err().to_string();
        assert!(e.contains("iam_role_arn = \"backup\""), "{e}");
        let mut s = sel();
        s.name = "has space".into();
        assert!(s.check().unwrap_err().to_string().contains("has space"));
    }

    #[test]
    fn ids_split() {
        assert_eq!(split_id("p|s").unwrap(), ("p", "s"));
        assert!(split_id("p").is_err());
    }
}
