//! `aws:lb/ListenerRule` (Terraform `aws_lb_listener_rule`): conditions
//! (path patterns, host headers) and an action at a priority of a listener.
//! The listener forces a replacement; priority, conditions and action change
//! in place. Priorities are unique per listener: AWS answers `PriorityInUse`.

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    HostHeaderConditionConfig, PathPatternConditionConfig, Rule, RuleCondition, RulePriorityPair,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{check_elb_arn, own_tags, sdk_tags, tagged_ours, Action, Elbv2};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::call::{Call, Retry};
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::aws::tags::Tags;
use crate::provider::aws::validate::in_range;
use crate::provider::schema::{Norm, Schema, Tf};
use crate::provider::ProviderError;

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ListenerRule {
    pub listener_arn: Input<String>,
    /// 1 to 50000, unique on the listener; the lowest is evaluated first.
    pub priority: i32,
    /// All must match.
    pub conditions: Vec<Condition>,
    pub action: Action,
    pub tags: Tags,
}

/// One condition: exactly one of its lists, any of whose values matches.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Condition {
    /// `/api/v1/*` (`*` and `?` wildcards; case-sensitive).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub path_pattern: Vec<String>,
    /// `api.example.com`, `*.example.com`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub host_header: Vec<String>,
}

impl Condition {
    pub fn path(values: &[&str]) -> Self {
        Condition {
            path_pattern: values.iter().map(|v| v.to_string()).collect(),
            ..Default::default()
        }
    }
    pub fn host(values: &[&str]) -> Self {
        Condition {
            host_header: values.iter().map(|v| v.to_string()).collect(),
            ..Default::default()
        }
    }

    fn to_sdk(&self) -> RuleCondition {
        if self.path_pattern.is_empty() {
            RuleCondition::builder()
                .field("host-header")
                .host_header_config(
                    HostHeaderConditionConfig::builder()
                        .set_values(Some(self.host_header.clone()))
                        .build(),
                )
                .build()
        } else {
            RuleCondition::builder()
                .field("path-pattern")
                .path_pattern_config(
                    PathPatternConditionConfig::builder()
                        .set_values(Some(self.path_pattern.clone()))
                        .build(),
                )
                .build()
        }
    }

    /// The live condition; AWS fills both `Values` and the config.
    fn from_sdk(c: &RuleCondition) -> Option<Condition> {
        let values = |config: Option<&[String]>| {
            config
                .filter(|v| !v.is_empty())
                .unwrap_or(c.values())
                .to_vec()
        };
        match c.field()? {
            "path-pattern" => Some(Condition {
                path_pattern: values(c.path_pattern_config().map(|p| p.values())),
                ..Default::default()
            }),
            "host-header" => Some(Condition {
                host_header: values(c.host_header_config().map(|h| h.values())),
                ..Default::default()
            }),
            _ => None,
        }
    }
}

impl ListenerRule {
    pub fn new(
        listener_arn: impl Into<Input<String>>,
        priority: i32,
        conditions: Vec<Condition>,
        action: Action,
    ) -> Self {
        ListenerRule {
            listener_arn: listener_arn.into(),
            priority,
            conditions,
            action,
            tags: Tags::new(),
        }
    }
}

impl ResourceArgs for ListenerRule {
    const TYPE: &'static str = "aws:lb/ListenerRule";
}

impl Resource<ListenerRule> {
    pub fn arn(&self) -> Output<String> {
        self.output("arn")
    }
}

async fn by_arn(cx: &Call<'_, Elbv2>, arn: &str) -> Result<Option<Rule>, ProviderError> {
    Ok(cx
        .find("DescribeRules", |c| {
            c.describe_rules().rule_arns(arn).send()
        })
        .await?
        .and_then(|o| o.rules().first().cloned()))
}

/// `PriorityInUse` names no priority: say which, and where.
fn priority_error(p: i32, f: crate::provider::aws::call::Failure) -> ProviderError {
    if f.code == "PriorityInUse" {
        ProviderError::invalid(
            "priority",
            p,
            "another rule of this listener has this priority",
        )
    } else {
        f.error
    }
}

#[async_trait]
impl AwsResource for ListenerRule {
    type Service = Elbv2;
    const SCHEMA: Schema = Schema {
        force_new: &["listener_arn"],
        normalize: &[("conditions", Norm::Set)],
        terraform: &[Tf {
            resource: "aws_lb_listener_rule",
            args: &[
                ("listener_arn", "listener_arn"),
                ("priority", "priority"),
                // Terraform nests each condition's values in a block.
                ("conditions.path_pattern", "condition.path_pattern.values"),
                ("conditions.host_header", "condition.host_header.values"),
                ("action", "action"),
                ("tags", "tags"),
            ],
            import_id: "{id}",
        }],
        ..Schema::NONE
    };

    fn check(&self) -> Result<(), ProviderError> {
        check_elb_arn(
            "listener_arn",
            &self.listener_arn,
            "listener/app/",
            "an application load balancer listener ARN",
        )?;
        in_range("priority", self.priority, 1..=50000)?;
        if self.conditions.is_empty() {
            return Err(ProviderError::invalid(
                "conditions",
                "[]",
                "a rule needs at least one condition",
            ));
        }
        let mut total = 0;
        for (i, c) in self.conditions.iter().enumerate() {
            let field = format!("conditions[{i}]");
            if c.path_pattern.is_empty() == c.host_header.is_empty() {
                return Err(ProviderError::invalid(
                    &field,
                    serde_json::to_string(c).unwrap_or_default(),
                    "set exactly one of path_pattern and host_header",
                ));
            }
            for v in c.path_pattern.iter().chain(&c.host_header) {
                if v.is_empty() || v.len() > 128 {
                    return Err(ProviderError::invalid(
                        &field,
                        format!("{v:?}"),
                        "values are 1 to 128 characters",
                    ));
                }
            }
            total += c.path_pattern.len() + c.host_header.len();
        }
        // AWS counts every value of path and host conditions: 5 a rule.
        if total > 5 {
            return Err(ProviderError::invalid(
                "conditions",
                total,
                "at most 5 path pattern and host header values a rule",
            ));
        }
        self.action.check("action")
    }

    async fn create(&self, cx: &Call<'_, Elbv2>) -> Result<String, ProviderError> {
        let listener = self.listener_arn.require("listener_arn")?;
        let action = self.action.to_sdk("action")?;
        let conditions: Vec<RuleCondition> =
            self.conditions.iter().map(Condition::to_sdk).collect();
        let out = cx
            .try_send_retrying(
                "CreateRule",
                // The listener or target group may be new too.
                &[Retry::NEW_OBJECT],
                |c| {
                    c.create_rule()
                        .listener_arn(listener)
                        .priority(self.priority)
                        .set_conditions(Some(conditions.clone()))
                        .actions(action.clone())
                        .set_tags(Some(sdk_tags(&cx.all_tags(&self.tags))))
                        .send()
                },
            )
            .await
            .map_err(|f| priority_error(self.priority, f))?;
        out.rules()
            .first()
            .and_then(|r| r.rule_arn())
            .map(str::to_string)
            .ok_or_else(|| cx.fatal("CreateRule returned no rule ARN"))
    }

    async fn read(
        cx: &Call<'_, Elbv2>,
        arn: &str,
        declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError> {
        let Some(r) = by_arn(cx, arn).await? else {
            return Ok(None);
        };
        // DescribeRules by rule ARN does not say which listener; the rule
        // ARN is the listener's with `listener-rule/` and an id added.
        let listener_arn = declared
            .listener_arn
            .known()
            .cloned()
            .unwrap_or_else(|| listener_of(arn));
        let args = ListenerRule {
            listener_arn: Input::Value(listener_arn),
            priority: r
                .priority()
                .and_then(|p| p.parse().ok())
                .unwrap_or_default(),
            conditions: r
                .conditions()
                .iter()
                .filter_map(Condition::from_sdk)
                .collect(),
            action: r
                .actions()
                .first()
                .map(Action::from_sdk)
                .unwrap_or_default(),
            tags: own_tags(cx, arn).await?,
        };
        Ok(Some(Live {
            args,
            outputs: json!({"id": arn, "arn": arn}),
        }))
    }

    async fn update(
        &self,
        old: &Self,
        cx: &Call<'_, Elbv2>,
        arn: &str,
    ) -> Result<(), ProviderError> {
        if old.priority != self.priority {
            cx.try_send("SetRulePriorities", |c| {
                c.set_rule_priorities()
                    .rule_priorities(
                        RulePriorityPair::builder()
                            .rule_arn(arn)
                            .priority(self.priority)
                            .build(),
                    )
                    .send()
            })
            .await
            .map_err(|f| priority_error(self.priority, f))?;
        }
        if old.conditions != self.conditions || old.action != self.action {
            let action = self.action.to_sdk("action")?;
            let conditions: Vec<RuleCondition> =
                self.conditions.iter().map(Condition::to_sdk).collect();
            cx.send_retrying("ModifyRule", &[Retry::NEW_OBJECT], |c| {
                c.modify_rule()
                    .rule_arn(arn)
                    .set_conditions(Some(conditions.clone()))
                    .actions(action.clone())
                    .send()
            })
            .await?;
        }
        cx.update_tags(arn, &old.tags, &self.tags).await
    }

    async fn delete(&self, cx: &Call<'_, Elbv2>, arn: &str) -> Result<(), ProviderError> {
        cx.send("DeleteRule", |c| c.delete_rule().rule_arn(arn).send())
            .await
            .map(drop)
    }

    async fn find(&self, cx: &Call<'_, Elbv2>) -> Result<Vec<String>, ProviderError> {
        // The listener's rules (the default one aside), those tagged with our URN.
        let Some(listener) = self.listener_arn.known() else {
            return Ok(Vec::new());
        };
        let Some(out) = cx
            .find("DescribeRules", |c| {
                c.describe_rules().listener_arn(listener).send()
            })
            .await?
        else {
            return Ok(Vec::new());
        };
        let arns = out
            .rules()
            .iter()
            .filter(|r| r.is_default() != Some(true))
            .filter_map(|r| r.rule_arn().map(str::to_string))
            .collect();
        tagged_ours(cx, arns).await
    }
}

/// `...:listener-rule/app/<lb>/<id>/<listener id>/<rule id>` →
/// `...:listener/app/<lb>/<id>/<listener id>`.
fn listener_of(rule_arn: &str) -> String {
    let base = rule_arn.rsplit_once('/').map_or(rule_arn, |(b, _)| b);
    base.replacen(":listener-rule/", ":listener/", 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::aws::resource::Typed;
    use crate::provider::aws::Aws;
    use crate::provider::Provider;
    use std::sync::Arc;

    const L: &str = "arn:aws:elasticloadbalancing:us-east-1:1:listener/app/web/50dc/f2f7";
    const TG: &str = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/api/73e2";

    fn err(r: &ListenerRule) -> String {
        Typed::<ListenerRule>::new(Arc::new(Aws::new(Default::default())))
            .validate(&serde_json::to_value(r).unwrap())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn validation_names_field_and_value() {
        let ok = ListenerRule::new(
            L,
            10,
            vec![Condition::path(&["/api/*"])],
            Action::forward(TG),
        );
        let p = Typed::<ListenerRule>::new(Arc::new(Aws::new(Default::default())));
        assert!(p.validate(&serde_json::to_value(&ok).unwrap()).is_ok());
        let mut r = ok.clone();
        r.priority = 50001;
        assert!(err(&r).contains("priority = 50001"), "{}", err(&r));
        let mut r = ok.clone();
        r.conditions = vec![];
        assert!(err(&r).contains("conditions"), "{}", err(&r));
        let mut r = ok.clone();
        r.conditions = vec![
            Condition::path(&["/a", "/b", "/c"]),
            Condition::host(&["a", "b", "c"]),
        ];
        assert!(err(&r).contains("conditions = 6"), "{}", err(&r));
        let mut r = ok;
        r.conditions[0].host_header = vec!["x.example.com".into()];
        assert!(err(&r).contains("conditions[0]"), "{}", err(&r));
    }

    #[test]
    fn the_listener_of_a_rule() {
        assert_eq!(
            listener_of(
                "arn:aws:elasticloadbalancing:us-east-1:1:listener-rule/app/web/50dc/f2f7/9683"
            ),
            L
        );
    }
}
