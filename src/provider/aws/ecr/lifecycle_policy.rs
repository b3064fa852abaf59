//! `aws:ecr/LifecyclePolicy` (Terraform `aws_ecr_lifecycle_policy`): which
//! images a repository expires, as typed rules serialised to ECR's JSON. A
//! read parses the JSON AWS keeps back into the rules, so formatting and key
//! order are never a change. The id is the repository name.

use std::collections::BTreeSet;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{check_repository_name, describe, Ecr};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::call::{Call, Retry};
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::aws::validate::{in_range, one_of};
use crate::provider::schema::{Conv, Schema, Tf};
use crate::provider::ProviderError;

/// Which images a rule counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Selection {
    /// `any`, `tagged` (needs a prefix or pattern list) or `untagged`.
    pub tag_status: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tag_prefix_list: Vec<String>,
    /// Wildcard patterns (`prod*`), instead of prefixes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tag_pattern_list: Vec<String>,
    /// `imageCountMoreThan` (keep the newest N) or `sinceImagePushed`
    /// (older than N `count_unit`s).
    pub count_type: String,
    /// `days`, with `sinceImagePushed` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count_unit: Option<String>,
    pub count_number: i64,
}

impl Default for Selection {
    fn default() -> Self {
        Selection {
            tag_status: "any".into(),
            tag_prefix_list: Vec::new(),
            tag_pattern_list: Vec::new(),
            count_type: "imageCountMoreThan".into(),
            count_unit: None,
            count_number: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LifecycleRule {
    /// Unique; rules apply in ascending order, an `any` rule last.
    pub rule_priority: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub selection: Selection,
    /// What happens to the selected images: `expire`.
    pub action: String,
}

impl Default for LifecycleRule {
    fn default() -> Self {
        LifecycleRule {
            rule_priority: 0,
            description: None,
            selection: Selection::default(),
            action: "expire".into(),
        }
    }
}

impl LifecycleRule {
    /// Keep the newest `n` images of `tag_status` (with `prefixes` for `tagged`).
    pub fn keep_newest(priority: i64, tag_status: &str, prefixes: &[&str], n: i64) -> Self {
        LifecycleRule {
            rule_priority: priority,
            selection: Selection {
                tag_status: tag_status.into(),
                tag_prefix_list: prefixes.iter().map(|p| p.to_string()).collect(),
                count_number: n,
                ..Default::default()
            },
            ..Default::default()
        }
    }

    /// Expire images of `tag_status` pushed more than `days` days ago.
    pub fn expire_after_days(priority: i64, tag_status: &str, days: i64) -> Self {
        LifecycleRule {
            rule_priority: priority,
            selection: Selection {
                tag_status: tag_status.into(),
                count_type: "sinceImagePushed".into(),
                count_unit: Some("days".into()),
                count_number: days,
                ..Default::default()
            },
            ..Default::default()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LifecycleDocument {
    pub rules: Vec<LifecycleRule>,
}

impl LifecycleDocument {
    /// ECR's JSON (`rulePriority`, `tagStatus`, ...), rules in priority order.
    pub fn to_json(&self) -> Value {
        let mut rules = self.rules.clone();
        rules.sort_by_key(|r| r.rule_priority);
        let rules: Vec<Value> = rules
            .iter()
            .map(|r| {
                let s = &r.selection;
                let mut sel = json!({
                    "tagStatus": s.tag_status,
                    "countType": s.count_type,
                    "countNumber": s.count_number,
                });
                if !s.tag_prefix_list.is_empty() {
                    sel["tagPrefixList"] = json!(s.tag_prefix_list);
                }
                if !s.tag_pattern_list.is_empty() {
                    sel["tagPatternList"] = json!(s.tag_pattern_list);
                }
                if let Some(u) = &s.count_unit {
                    sel["countUnit"] = json!(u);
                }
                let mut rule = json!({
                    "rulePriority": r.rule_priority,
                    "selection": sel,
                    "action": {"type": r.action},
                });
                if let Some(d) = &r.description {
                    rule["description"] = json!(d);
                }
                rule
            })
            .collect();
        json!({ "rules": rules })
    }

    /// The rules in ECR's JSON; `None` when it holds something these types
    /// do not model.
    pub fn from_json(text: &str) -> Option<LifecycleDocument> {
        let v: Value = serde_json::from_str(text).ok()?;
        let strings = |v: Option<&Value>| -> Option<Vec<String>> {
            match v {
                None => Some(Vec::new()),
                Some(a) => a
                    .as_array()?
                    .iter()
                    .map(|x| x.as_str().map(str::to_string))
                    .collect(),
            }
        };
        let mut rules = Vec::new();
        for r in v.get("rules")?.as_array()? {
            let s = r.get("selection")?;
            rules.push(LifecycleRule {
                rule_priority: r.get("rulePriority")?.as_i64()?,
                description: r
                    .get("description")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                selection: Selection {
                    tag_status: s.get("tagStatus")?.as_str()?.to_string(),
                    tag_prefix_list: strings(s.get("tagPrefixList"))?,
                    tag_pattern_list: strings(s.get("tagPatternList"))?,
                    count_type: s.get("countType")?.as_str()?.to_string(),
                    count_unit: s
                        .get("countUnit")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    count_number: s.get("countNumber")?.as_i64()?,
                },
                action: r.get("action")?.get("type")?.as_str()?.to_string(),
            });
        }
        rules.sort_by_key(|r| r.rule_priority);
        Some(LifecycleDocument { rules })
    }

    fn check(&self) -> Result<(), ProviderError> {
        if self.rules.is_empty() {
            return Err(ProviderError::invalid(
                "policy.rules",
                "[]",
                "at least one rule",
            ));
        }
        let mut seen = BTreeSet::new();
        let last = self.rules.iter().map(|r| r.rule_priority).max();
        for (i, r) in self.rules.iter().enumerate() {
            let f = |x: &str| format!("policy.rules[{i}].{x}");
            in_range(&f("rule_priority"), r.rule_priority, 1..=999)?;
            if !seen.insert(r.rule_priority) {
                return Err(ProviderError::invalid(
                    &f("rule_priority"),
                    r.rule_priority,
                    "rule priorities must be unique",
                ));
            }
            one_of(&f("action"), &r.action, &["expire"])?;
            let s = &r.selection;
            one_of(
                &f("selection.tag_status"),
                &s.tag_status,
                &["any", "tagged", "untagged"],
            )?;
            let lists = !s.tag_prefix_list.is_empty() || !s.tag_pattern_list.is_empty();
            match s.tag_status.as_str() {
                "tagged" if !lists => {
                    return Err(ProviderError::invalid(
                        &f("selection.tag_status"),
                        "\"tagged\"",
                        "needs tag_prefix_list or tag_pattern_list",
                    ))
                }
                "any" | "untagged" if lists => {
                    return Err(ProviderError::invalid(
                        &f("selection.tag_status"),
                        format!("{:?}", s.tag_status),
                        "takes no tag_prefix_list or tag_pattern_list (only \"tagged\" does)",
                    ))
                }
                // ECR evaluates an `any` rule last.
                "any" if Some(r.rule_priority) != last => {
                    return Err(ProviderError::invalid(
                        &f("rule_priority"),
                        r.rule_priority,
                        "a rule with tag_status \"any\" must have the highest priority",
                    ))
                }
                _ => {}
            }
            if !s.tag_prefix_list.is_empty() && !s.tag_pattern_list.is_empty() {
                return Err(ProviderError::invalid(
                    &f("selection.tag_pattern_list"),
                    format!("{:?}", s.tag_pattern_list),
                    "set tag_prefix_list or tag_pattern_list, not both",
                ));
            }
            one_of(
                &f("selection.count_type"),
                &s.count_type,
                &["imageCountMoreThan", "sinceImagePushed"],
            )?;
            match (s.count_type.as_str(), &s.count_unit) {
                ("sinceImagePushed", Some(u)) => one_of(&f("selection.count_unit"), u, &["days"])?,
                ("sinceImagePushed", None) => {
                    return Err(ProviderError::invalid(
                        &f("selection.count_unit"),
                        "(unset)",
                        "sinceImagePushed needs count_unit = \"days\"",
                    ))
                }
                (_, Some(u)) => {
                    return Err(ProviderError::invalid(
                        &f("selection.count_unit"),
                        format!("{u:?}"),
                        "only with count_type = \"sinceImagePushed\"",
                    ))
                }
                _ => {}
            }
            if s.count_number < 1 {
                return Err(ProviderError::invalid(
                    &f("selection.count_number"),
                    s.count_number,
                    "must be at least 1",
                ));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LifecyclePolicy {
    /// The repository's name (`Resource<Repository>::name()`).
    pub repository: Input<String>,
    pub policy: LifecycleDocument,
}

impl LifecyclePolicy {
    pub fn new(repository: impl Into<Input<String>>, rules: Vec<LifecycleRule>) -> Self {
        LifecyclePolicy {
            repository: repository.into(),
            policy: LifecycleDocument { rules },
        }
    }
}

impl ResourceArgs for LifecyclePolicy {
    const TYPE: &'static str = "aws:ecr/LifecyclePolicy";
}

impl Resource<LifecyclePolicy> {
    pub fn repository(&self) -> Output<String> {
        self.output("repository")
    }
    pub fn registry_id(&self) -> Output<String> {
        self.output("registry_id")
    }
}

/// The policy (as the stack holds it) in ECR's JSON: what `put` sends and
/// what Terraform's `policy` takes (`jsonencode`).
fn policy_json(v: &Value) -> Value {
    match serde_json::from_value::<LifecycleDocument>(v.clone()) {
        Ok(d) => d.to_json(),
        Err(_) => v.clone(),
    }
}

async fn put(p: &LifecyclePolicy, cx: &Call<'_, Ecr>, repo: &str) -> Result<(), ProviderError> {
    let text = p.policy.to_json().to_string();
    // A repository made moments ago may not be visible yet.
    cx.send_retrying("PutLifecyclePolicy", &[Retry::NEW_OBJECT], |c| {
        c.put_lifecycle_policy()
            .repository_name(repo)
            .lifecycle_policy_text(&text)
            .send()
    })
    .await
    .map(drop)
}

#[async_trait]
impl AwsResource for LifecyclePolicy {
    type Service = Ecr;
    const SCHEMA: Schema = Schema {
        force_new: &["repository"],
        terraform: &[Tf {
            resource: "aws_ecr_lifecycle_policy",
            args: &[("repository", "repository"), ("policy", "policy")],
            import_id: "{repository}",
        }],
        tf_values: &[("policy", Conv::Json(policy_json))],
        ..Schema::NONE
    };

    fn check(&self) -> Result<(), ProviderError> {
        if let Some(r) = self.repository.known() {
            check_repository_name("repository", r)?;
        }
        self.policy.check()
    }

    async fn create(&self, cx: &Call<'_, Ecr>) -> Result<String, ProviderError> {
        let repo = self.repository.require("repository")?;
        put(self, cx, repo).await?;
        Ok(repo.clone())
    }

    async fn read(
        cx: &Call<'_, Ecr>,
        repo: &str,
        _declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError> {
        // Not found covers both a missing policy and a missing repository.
        let Some(out) = cx
            .find("GetLifecyclePolicy", |c| {
                c.get_lifecycle_policy().repository_name(repo).send()
            })
            .await?
        else {
            return Ok(None);
        };
        // Rules these types cannot express read as no rules: a difference
        // the next update replaces.
        let policy = out
            .lifecycle_policy_text()
            .and_then(LifecycleDocument::from_json)
            .unwrap_or_default();
        Ok(Some(Live {
            args: LifecyclePolicy {
                repository: Input::Value(repo.to_string()),
                policy,
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
        if old.policy.to_json() != self.policy.to_json() {
            put(self, cx, repo).await?;
        }
        Ok(())
    }

    async fn delete(&self, cx: &Call<'_, Ecr>, repo: &str) -> Result<(), ProviderError> {
        cx.send("DeleteLifecyclePolicy", |c| {
            c.delete_lifecycle_policy().repository_name(repo).send()
        })
        .await
        .map(drop)
    }

    async fn find(&self, cx: &Call<'_, Ecr>) -> Result<Vec<String>, ProviderError> {
        // Policies carry no tags: the repository is the natural key; its
        // policy is ours to adopt (the next plan corrects its rules).
        let Some(repo) = self.repository.known() else {
            return Ok(Vec::new());
        };
        if describe(cx, repo).await?.is_none() {
            return Ok(Vec::new());
        }
        let has = cx
            .find("GetLifecyclePolicy", |c| {
                c.get_lifecycle_policy().repository_name(repo).send()
            })
            .await?
            .is_some();
        Ok(if has { vec![repo.clone()] } else { Vec::new() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::provider::aws::resource::Typed;
    use crate::provider::aws::Aws;
    use crate::provider::Provider;
    use std::sync::Arc;

    fn p() -> Typed<LifecyclePolicy> {
        Typed::new(Arc::new(Aws::new(Default::default())))
    }

    fn rules() -> Vec<LifecycleRule> {
        vec![
            LifecycleRule::keep_newest(1, "tagged", &["v"], 30),
            LifecycleRule::expire_after_days(2, "untagged", 7),
        ]
    }

    #[test]
    fn json_round_trip_in_ecr_terms() {
        let d = LifecycleDocument { rules: rules() };
        let j = d.to_json();
        assert_eq!(j["rules"][0]["selection"]["tagPrefixList"], json!(["v"]));
        assert_eq!(
            j["rules"][0]["selection"]["countType"],
            "imageCountMoreThan"
        );
        assert_eq!(j["rules"][1]["selection"]["countUnit"], "days");
        assert_eq!(j["rules"][1]["action"]["type"], "expire");
        // Other formatting, other key and rule order: the same rules.
        let mut shuffled = j.clone();
        shuffled["rules"].as_array_mut().unwrap().reverse();
        let text = serde_json::to_string_pretty(&shuffled).unwrap();
        assert_eq!(LifecycleDocument::from_json(&text), Some(d));
        assert_eq!(LifecycleDocument::from_json("{\"rules\": [{}]}"), None);
    }

    #[test]
    fn validation_names_field_and_value() {
        let ok = serde_json::to_value(LifecyclePolicy::new("morket/backend", rules())).unwrap();
        assert!(p().validate(&ok).is_ok(), "{:?}", p().validate(&ok));
        let mut dup = rules();
        dup[1].rule_priority = 1;
        let e = p()
            .validate(&serde_json::to_value(LifecyclePolicy::new("r1", dup)).unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("policy.rules[1].rule_priority") && e.contains('1'),
            "{e}"
        );
        let tagged = vec![LifecycleRule::keep_newest(1, "tagged", &[], 5)];
        let e = p()
            .validate(&serde_json::to_value(LifecyclePolicy::new("r1", tagged)).unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("tag_status") && e.contains("tagged"), "{e}");
        let any_first = vec![
            LifecycleRule::keep_newest(1, "any", &[], 5),
            LifecycleRule::expire_after_days(2, "untagged", 7),
        ];
        let e = p()
            .validate(&serde_json::to_value(LifecyclePolicy::new("r1", any_first)).unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("rules[0].rule_priority"), "{e}");
        let mut unit = rules();
        unit[0].selection.count_unit = Some("days".into());
        let e = p()
            .validate(&serde_json::to_value(LifecyclePolicy::new("r1", unit)).unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("count_unit") && e.contains("days"), "{e}");
    }
}
