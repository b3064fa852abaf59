//! `aws:backup/Plan` (Terraform `aws_backup_plan`): backup rules (when, into
//! which vault, how long recovery points are kept). The name and the rules
//! change in place (UpdateBackupPlan makes a new version).

use async_trait::async_trait;
use aws_sdk_backup::operation::get_backup_plan::GetBackupPlanOutput;
use aws_sdk_backup::types::{BackupPlanInput, BackupRuleInput, Lifecycle as BkLifecycle};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{check_name, check_vault_name, live_tags, Backup};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::call::Call;
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::aws::tags::{Tags, URN_TAG};
use crate::provider::aws::validate::in_range;
use crate::provider::schema::{Norm, Schema, Tf};
use crate::provider::ProviderError;

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Plan {
    /// 1 to 50 letters, digits, `-`, `_` or `.`.
    pub name: String,
    /// At least one; their order does not matter (Terraform: a set).
    pub rules: Vec<Rule>,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Rule {
    pub rule_name: String,
    /// The vault's name (`Resource<Vault>::name()`).
    pub target_vault_name: Input<String>,
    /// A `cron(...)` or `rate(...)` expression, in UTC.
    pub schedule: String,
    /// Minutes after the scheduled time within which a backup must start.
    pub start_window: i64,
    /// Minutes after the start within which it must finish.
    pub completion_window: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<Lifecycle>,
}

/// Days after creation; AWS keeps recovery points forever when unset.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Lifecycle {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cold_storage_after: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delete_after: Option<i64>,
}

impl Default for Rule {
    /// Terraform's defaults: start within 60 minutes, finish within 180.
    fn default() -> Self {
        Rule {
            rule_name: String::new(),
            target_vault_name: Input::Value(String::new()),
            schedule: "cron(0 5 ? * * *)".into(),
            start_window: 60,
            completion_window: 180,
            lifecycle: None,
        }
    }
}

impl Rule {
    /// A daily rule into `vault` whose recovery points are deleted after
    /// `days` (R6.5: 7).
    pub fn daily(name: &str, vault: impl Into<Input<String>>, schedule: &str, days: i64) -> Self {
        Rule {
            rule_name: name.into(),
            target_vault_name: vault.into(),
            schedule: schedule.into(),
            lifecycle: Some(Lifecycle {
                cold_storage_after: None,
                delete_after: Some(days),
            }),
            ..Default::default()
        }
    }
}

impl ResourceArgs for Plan {
    const TYPE: &'static str = "aws:backup/Plan";
}

impl Resource<Plan> {
    pub fn arn(&self) -> Output<String> {
        self.output("arn")
    }
    /// The version id (changes with every update).
    pub fn version(&self) -> Output<String> {
        self.output("version")
    }
}

fn plan_input(p: &Plan) -> Result<BackupPlanInput, ProviderError> {
    let fatal = |e: aws_sdk_backup::error::BuildError| ProviderError::Fatal(e.to_string());
    let mut rules = Vec::with_capacity(p.rules.len());
    for (i, r) in p.rules.iter().enumerate() {
        let vault = r
            .target_vault_name
            .require(&format!("rules[{i}].target_vault_name"))?;
        rules.push(
            BackupRuleInput::builder()
                .rule_name(&r.rule_name)
                .target_backup_vault_name(vault)
                .schedule_expression(&r.schedule)
                .start_window_minutes(r.start_window)
                .completion_window_minutes(r.completion_window)
                .set_lifecycle(r.lifecycle.as_ref().map(|l| {
                    BkLifecycle::builder()
                        .set_move_to_cold_storage_after_days(l.cold_storage_after)
                        .set_delete_after_days(l.delete_after)
                        .build()
                }))
                .build()
                .map_err(fatal)?,
        );
    }
    BackupPlanInput::builder()
        .backup_plan_name(&p.name)
        .set_rules(Some(rules))
        .build()
        .map_err(fatal)
}

async fn get(
    cx: &Call<'_, Backup>,
    id: &str,
) -> Result<Option<GetBackupPlanOutput>, ProviderError> {
    Ok(cx
        .find("GetBackupPlan", |c| {
            c.get_backup_plan().backup_plan_id(id).send()
        })
        .await?
        // A deleted plan still answers, with its deletion date.
        .filter(|o| o.deletion_date().is_none()))
}

#[async_trait]
impl AwsResource for Plan {
    type Service = Backup;
    const SCHEMA: Schema = Schema {
        computed_on_update: &["version"],
        normalize: &[("rules", Norm::Set)],
        terraform: &[Tf {
            resource: "aws_backup_plan",
            args: &[
                ("name", "name"),
                ("rules.rule_name", "rule.rule_name"),
                ("rules.target_vault_name", "rule.target_vault_name"),
                ("rules.schedule", "rule.schedule"),
                ("rules.start_window", "rule.start_window"),
                ("rules.completion_window", "rule.completion_window"),
                (
                    "rules.lifecycle.cold_storage_after",
                    "rule.lifecycle.cold_storage_after",
                ),
                (
                    "rules.lifecycle.delete_after",
                    "rule.lifecycle.delete_after",
                ),
                ("tags", "tags"),
            ],
            import_id: "{id}",
        }],
        ..Schema::NONE
    };

    fn check(&self) -> Result<(), ProviderError> {
        check_name("name", &self.name)?;
        if self.rules.is_empty() {
            return Err(ProviderError::invalid("rules", "[]", "at least one rule"));
        }
        let mut names = Vec::new();
        for (i, r) in self.rules.iter().enumerate() {
            let f = |s: &str| format!("rules[{i}].{s}");
            check_name(&f("rule_name"), &r.rule_name)?;
            if names.contains(&&r.rule_name) {
                return Err(ProviderError::invalid(
                    &f("rule_name"),
                    format!("{:?}", r.rule_name),
                    "rule names are unique within a plan",
                ));
            }
            names.push(&r.rule_name);
            if let Some(v) = r.target_vault_name.known() {
                check_vault_name(&f("target_vault_name"), v)?;
            }
            let sched_ok = ["cron(", "rate("].iter().any(|p| r.schedule.starts_with(p))
                && r.schedule.ends_with(')');
            if !sched_ok {
                return Err(ProviderError::invalid(
                    &f("schedule"),
                    format!("{:?}", r.schedule),
                    "expected cron(<6 fields>) or rate(<n> <unit>)",
                ));
            }
            if r.schedule.starts_with("cron(") {
                let fields = r.schedule["cron(".len()..r.schedule.len() - 1]
                    .split_whitespace()
                    .count();
                if fields != 6 {
                    return Err(ProviderError::invalid(
                        &f("schedule"),
                        format!("{:?}", r.schedule),
                        "a cron expression has 6 fields (minutes hours day month weekday year)",
                    ));
                }
            }
            // AWS: a start window of at least an hour; the completion window
            // must outlast it.
            in_range(&f("start_window"), r.start_window, 60..=i64::from(i32::MAX))?;
            if r.completion_window <= r.start_window {
                return Err(ProviderError::invalid(
                    &f("completion_window"),
                    r.completion_window,
                    format!("must exceed start_window ({})", r.start_window),
                ));
            }
            if let Some(l) = &r.lifecycle {
                if let Some(d) = l.delete_after {
                    in_range(&f("lifecycle.delete_after"), d, 1..=i64::from(i32::MAX))?;
                }
                if let Some(c) = l.cold_storage_after {
                    in_range(
                        &f("lifecycle.cold_storage_after"),
                        c,
                        1..=i64::from(i32::MAX),
                    )?;
                    // AWS keeps cold recovery points at least 90 days.
                    if let Some(d) = l.delete_after.filter(|d| *d < c + 90) {
                        return Err(ProviderError::invalid(
                            &f("lifecycle.delete_after"),
                            d,
                            format!("must be at least cold_storage_after + 90 ({})", c + 90),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    async fn create(&self, cx: &Call<'_, Backup>) -> Result<String, ProviderError> {
        let input = plan_input(self)?;
        let tags: std::collections::HashMap<String, String> =
            cx.all_tags(&self.tags).into_iter().collect();
        let made = cx
            .try_send("CreateBackupPlan", |c| {
                c.create_backup_plan()
                    .backup_plan(input.clone())
                    .set_backup_plan_tags(Some(tags.clone()))
                    .send()
            })
            .await;
        match made {
            Ok(o) => o
                .backup_plan_id()
                .map(str::to_string)
                .ok_or_else(|| cx.fatal("CreateBackupPlan answered without a plan id")),
            // Our own plan from an earlier attempt (by its URN tag): carry
            // on from it; anyone else's stays an error.
            Err(f) if f.code == "AlreadyExistsException" => {
                self.find(cx).await?.pop().ok_or(f.error)
            }
            Err(f) => Err(f.error),
        }
    }

    async fn read(
        cx: &Call<'_, Backup>,
        id: &str,
        _declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError> {
        let Some(o) = get(cx, id).await? else {
            return Ok(None);
        };
        let arn = o.backup_plan_arn().unwrap_or_default().to_string();
        let plan = o.backup_plan();
        let rules = plan
            .map(|p| p.rules())
            .unwrap_or_default()
            .iter()
            .map(|r| Rule {
                rule_name: r.rule_name().to_string(),
                target_vault_name: Input::Value(r.target_backup_vault_name().to_string()),
                schedule: r.schedule_expression().unwrap_or_default().to_string(),
                start_window: r.start_window_minutes().unwrap_or_default(),
                completion_window: r.completion_window_minutes().unwrap_or_default(),
                lifecycle: r
                    .lifecycle()
                    .map(|l| Lifecycle {
                        cold_storage_after: l.move_to_cold_storage_after_days(),
                        delete_after: l.delete_after_days(),
                    })
                    .filter(|l| l != &Lifecycle::default()),
            })
            .collect();
        let args = Plan {
            name: plan
                .map(|p| p.backup_plan_name())
                .unwrap_or_default()
                .to_string(),
            rules,
            tags: cx.own_tags(&live_tags(cx, &arn).await?),
        };
        Ok(Some(Live {
            args,
            outputs: json!({
                "id": id,
                "arn": arn,
                "version": o.version_id().unwrap_or_default(),
            }),
        }))
    }

    async fn update(
        &self,
        old: &Self,
        cx: &Call<'_, Backup>,
        id: &str,
    ) -> Result<(), ProviderError> {
        if (&old.name, &old.rules) != (&self.name, &self.rules) {
            let input = plan_input(self)?;
            cx.send("UpdateBackupPlan", |c| {
                c.update_backup_plan()
                    .backup_plan_id(id)
                    .backup_plan(input.clone())
                    .send()
            })
            .await?;
        }
        if old.tags != self.tags {
            let o = get(cx, id)
                .await?
                .ok_or_else(|| ProviderError::NotFound(format!("backup plan {id} is gone")))?;
            cx.update_tags(
                o.backup_plan_arn().unwrap_or_default(),
                &old.tags,
                &self.tags,
            )
            .await?;
        }
        Ok(())
    }

    async fn delete(&self, cx: &Call<'_, Backup>, id: &str) -> Result<(), ProviderError> {
        // Terraform retries for 2 minutes while the plan's selections are
        // still being deleted.
        cx.send_retrying(
            "DeleteBackupPlan",
            &[crate::provider::aws::call::Retry::propagation(
                "InvalidRequestException",
                "Related backup plan selections must be deleted",
            )],
            |c| c.delete_backup_plan().backup_plan_id(id).send(),
        )
        .await
        .map(drop)
    }

    async fn find(&self, cx: &Call<'_, Backup>) -> Result<Vec<String>, ProviderError> {
        let pages = cx
            .pages(
                "ListBackupPlans",
                cx.client()
                    .await
                    .list_backup_plans()
                    .into_paginator()
                    .send(),
            )
            .await?;
        let mut found = Vec::new();
        for p in pages.iter().flat_map(|p| p.backup_plans_list()) {
            let (Some(id), Some(arn)) = (p.backup_plan_id(), p.backup_plan_arn()) else {
                continue;
            };
            if p.backup_plan_name() != Some(self.name.as_str()) || p.deletion_date().is_some() {
                continue;
            }
            let tags = live_tags(cx, arn).await?;
            if tags.get(URN_TAG).is_some_and(|t| cx.ctx.urn_tag_matches(t)) {
                found.push(id.to_string());
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        Plan {
            name: "clickhouse".into(),
            rules: vec![Rule::daily("daily", "vault", "cron(0 3 * * ? *)", 7)],
            ..Default::default()
        }
    }

    #[test]
    fn validation_names_field_and_value() {
        assert!(plan().check().is_ok());
        let mut p = plan();
        p.rules[0].schedule = "0 3 * * *".into();
        let e = p.check().unwrap_err().to_string();
        assert!(e.contains("rules[0].schedule = \"0 3 * * *\""), "{e}");
        let mut p = plan();
        p.rules[0].lifecycle = Some(Lifecycle {
            delete_after: Some(0),
            cold_storage_after: None,
        });
        let e = p.check().unwrap_err().to_string();
        assert!(e.contains("rules[0].lifecycle.delete_after = 0"), "{e}");
        let mut p = plan();
        p.rules[0].completion_window = 30;
        let e = p.check().unwrap_err().to_string();
        assert!(e.contains("rules[0].completion_window = 30"), "{e}");
        let mut p = plan();
        p.rules.clear();
        assert!(p.check().unwrap_err().to_string().contains("rules"));
    }
}
