//! `aws:wafv2/WebAcl` (Terraform `aws_wafv2_web_acl`): a web ACL of
//! managed rule groups and rate limits, in front of an ALB or another
//! regional resource (scope REGIONAL; CloudFront's, kept in us-east-1, are
//! not supported yet). The name and scope force a replacement; the default action, rules, description and
//! metrics change in place (UpdateWebACL takes the whole ACL and the lock
//! token of the version it replaces). The id is the ARN.
//!
//! Rules AWS adds itself (Shield Advanced's `ShieldMitigationRuleGroup_…`)
//! are left out of reads and kept by updates, as Terraform does. A rule
//! added out of band with a statement this type does not model reads as
//! `unmodelled_statement`, so drift shows it and the next update removes it.

use async_trait::async_trait;
use aws_sdk_wafv2::operation::get_web_acl::GetWebAclOutput;
use aws_sdk_wafv2::types as w;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{live_tags, parse_acl_arn, wire_tags, Wafv2, UNAVAILABLE};
use crate::model::{Output, Resource, ResourceArgs};
use crate::provider::aws::call::{Call, Retry};
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::aws::tags::{Tags, URN_TAG};
use crate::provider::aws::validate::{in_range, name_chars};
use crate::provider::schema::{Norm, Schema, Tf};
use crate::provider::ProviderError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebAcl {
    /// 1 to 128 letters, digits, `-` or `_`; unique per scope and region.
    pub name: String,
    /// `REGIONAL` (ALB, API Gateway, ...).
    pub scope: String,
    /// 3 to 256 letters, digits, spaces and `_ + = : # @ / - , .`, not
    /// starting or ending with a space.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// What happens to a request no rule decides: allow or block.
    pub default_action: Action,
    /// Evaluated by priority; their order here does not matter.
    pub rules: Vec<Rule>,
    pub visibility_config: VisibilityConfig,
    pub tags: Tags,
}

impl Default for WebAcl {
    fn default() -> Self {
        WebAcl {
            name: String::new(),
            scope: "REGIONAL".into(),
            description: None,
            default_action: Action::Allow {},
            rules: Vec::new(),
            visibility_config: VisibilityConfig::default(),
            tags: Tags::new(),
        }
    }
}

/// A rule's or the ACL's action, written as Terraform's block of the same
/// name (`allow {}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    Allow {},
    Block {},
    Count {},
}

/// What a managed rule group's own actions become: kept (`none`) or only
/// counted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum OverrideAction {
    None {},
    Count {},
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// 1 to 128 letters, digits, `_` or `-`; unique in the ACL.
    pub name: String,
    /// Lower runs first; unique in the ACL.
    pub priority: i32,
    /// For a statement of its own (rate limit); not for a rule group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    /// For a rule group statement only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub override_action: Option<OverrideAction>,
    pub statement: Statement,
    pub visibility_config: VisibilityConfig,
}

/// The statements this type models, as Terraform's blocks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Statement {
    ManagedRuleGroupStatement(ManagedRuleGroup),
    RateBasedStatement(RateBased),
    /// Read only: a rule made out of band with another statement (its
    /// kind), so drift shows it; never declared.
    UnmodelledStatement(String),
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ManagedRuleGroup {
    /// `AWSManagedRulesCommonRuleSet`, ... (letters, digits, `_`, `-`).
    pub name: String,
    /// `AWS` for AWS's own groups.
    pub vendor_name: String,
    /// A pinned version (`Version_1.2`); AWS's default version when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateBased {
    /// Requests per evaluation window per key; 10 to 2,000,000,000.
    pub limit: i64,
    /// `IP` (the client address); the other keys need configuration this
    /// type does not model.
    pub aggregate_key_type: String,
    /// 60, 120, 300 or 600 seconds.
    pub evaluation_window_sec: i64,
}

impl Default for RateBased {
    /// AWS's defaults: by client IP over 5 minutes.
    fn default() -> Self {
        RateBased {
            limit: 0,
            aggregate_key_type: "IP".into(),
            evaluation_window_sec: 300,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VisibilityConfig {
    pub cloudwatch_metrics_enabled: bool,
    /// 1 to 255 of letters, digits and `_ # : . - /`.
    pub metric_name: String,
    pub sampled_requests_enabled: bool,
}

impl Default for VisibilityConfig {
    fn default() -> Self {
        VisibilityConfig::metrics("")
    }
}

impl VisibilityConfig {
    /// CloudWatch metrics and sampled requests on, under `metric_name`.
    pub fn metrics(metric_name: &str) -> Self {
        VisibilityConfig {
            cloudwatch_metrics_enabled: true,
            metric_name: metric_name.into(),
            sampled_requests_enabled: true,
        }
    }
}

impl Rule {
    /// An AWS managed rule group whose own actions apply, its metric named
    /// after it.
    pub fn aws_managed(name: &str, group: &str, priority: i32) -> Self {
        Rule {
            name: name.into(),
            priority,
            action: None,
            override_action: Some(OverrideAction::None {}),
            statement: Statement::ManagedRuleGroupStatement(ManagedRuleGroup {
                name: group.into(),
                vendor_name: "AWS".into(),
                version: None,
            }),
            visibility_config: VisibilityConfig::metrics(name),
        }
    }

    /// Blocks a client IP above `limit` requests in 5 minutes.
    pub fn rate_limit(name: &str, limit: i64, priority: i32) -> Self {
        Rule {
            name: name.into(),
            priority,
            action: Some(Action::Block {}),
            override_action: None,
            statement: Statement::RateBasedStatement(RateBased {
                limit,
                ..Default::default()
            }),
            visibility_config: VisibilityConfig::metrics(name),
        }
    }
}

impl WebAcl {
    /// A REGIONAL ACL that allows what no rule blocks, with metrics under
    /// its name.
    pub fn regional(name: &str, rules: Vec<Rule>) -> Self {
        WebAcl {
            name: name.into(),
            rules,
            visibility_config: VisibilityConfig::metrics(name),
            ..Default::default()
        }
    }
}

impl ResourceArgs for WebAcl {
    const TYPE: &'static str = "aws:wafv2/WebAcl";
}

impl Resource<WebAcl> {
    pub fn arn(&self) -> Output<String> {
        self.output("arn")
    }
    /// The web ACL capacity units its rules use (at most 5000).
    pub fn capacity(&self) -> Output<i64> {
        self.output("capacity")
    }
}

/// Rules Shield Advanced adds to protect against DDoS; AWS owns them.
const SHIELD_RULE: &str = "ShieldMitigationRuleGroup_";

/// An update or delete whose lock token went stale: someone else changed
/// the ACL between our read and our call.
const STALE: &str = "WAFOptimisticLockException";

fn fatal(e: aws_sdk_wafv2::error::BuildError) -> ProviderError {
    ProviderError::Fatal(e.to_string())
}

fn scope_of(s: &str) -> w::Scope {
    w::Scope::from(s)
}

fn action(a: &Action) -> w::RuleAction {
    let b = w::RuleAction::builder();
    match a {
        Action::Allow {} => b.allow(w::AllowAction::builder().build()),
        Action::Block {} => b.block(w::BlockAction::builder().build()),
        Action::Count {} => b.count(w::CountAction::builder().build()),
    }
    .build()
}

fn default_action(a: &Action) -> w::DefaultAction {
    let b = w::DefaultAction::builder();
    match a {
        Action::Block {} => b.block(w::BlockAction::builder().build()),
        _ => b.allow(w::AllowAction::builder().build()),
    }
    .build()
}

fn visibility(v: &VisibilityConfig) -> Result<w::VisibilityConfig, ProviderError> {
    w::VisibilityConfig::builder()
        .cloud_watch_metrics_enabled(v.cloudwatch_metrics_enabled)
        .metric_name(&v.metric_name)
        .sampled_requests_enabled(v.sampled_requests_enabled)
        .build()
        .map_err(fatal)
}

fn statement(s: &Statement) -> Result<w::Statement, ProviderError> {
    let b = w::Statement::builder();
    Ok(match s {
        Statement::ManagedRuleGroupStatement(g) => b
            .managed_rule_group_statement(
                w::ManagedRuleGroupStatement::builder()
                    .name(&g.name)
                    .vendor_name(&g.vendor_name)
                    .set_version(g.version.clone())
                    .build()
                    .map_err(fatal)?,
            )
            .build(),
        Statement::RateBasedStatement(r) => b
            .rate_based_statement(
                w::RateBasedStatement::builder()
                    .limit(r.limit)
                    .aggregate_key_type(w::RateBasedStatementAggregateKeyType::from(
                        r.aggregate_key_type.as_str(),
                    ))
                    .evaluation_window_sec(r.evaluation_window_sec)
                    .build()
                    .map_err(fatal)?,
            )
            .build(),
        Statement::UnmodelledStatement(kind) => {
            return Err(ProviderError::invalid(
                "rules[].statement",
                format!("{{unmodelled_statement: {kind:?}}}"),
                "is read only",
            ))
        }
    })
}

/// The rules as WAF takes them.
fn wire_rules(rules: &[Rule]) -> Result<Vec<w::Rule>, ProviderError> {
    rules
        .iter()
        .map(|r| {
            w::Rule::builder()
                .name(&r.name)
                .priority(r.priority)
                .statement(statement(&r.statement)?)
                .set_action(r.action.as_ref().map(action))
                .set_override_action(r.override_action.as_ref().map(|o| {
                    let b = w::OverrideAction::builder();
                    match o {
                        OverrideAction::None {} => b.none(w::NoneAction::builder().build()),
                        OverrideAction::Count {} => b.count(w::CountAction::builder().build()),
                    }
                    .build()
                }))
                .visibility_config(visibility(&r.visibility_config)?)
                .build()
                .map_err(fatal)
        })
        .collect()
}

/// Which modelled action `a` is (a custom response or CAPTCHA is not).
fn read_action(a: &w::RuleAction) -> Option<Action> {
    if a.allow().is_some() {
        Some(Action::Allow {})
    } else if a.block().is_some() {
        Some(Action::Block {})
    } else if a.count().is_some() {
        Some(Action::Count {})
    } else {
        None
    }
}

fn read_visibility(v: Option<&w::VisibilityConfig>) -> VisibilityConfig {
    v.map(|v| VisibilityConfig {
        cloudwatch_metrics_enabled: v.cloud_watch_metrics_enabled(),
        metric_name: v.metric_name().to_string(),
        sampled_requests_enabled: v.sampled_requests_enabled(),
    })
    .unwrap_or_default()
}

/// The kind of an unmodelled statement, as Terraform names its block.
fn statement_kind(s: &w::Statement) -> &'static str {
    let kinds = [
        (
            "managed_rule_group_statement",
            s.managed_rule_group_statement().is_some(),
        ),
        ("rate_based_statement", s.rate_based_statement().is_some()),
        ("byte_match_statement", s.byte_match_statement().is_some()),
        ("sqli_match_statement", s.sqli_match_statement().is_some()),
        ("xss_match_statement", s.xss_match_statement().is_some()),
        (
            "size_constraint_statement",
            s.size_constraint_statement().is_some(),
        ),
        ("geo_match_statement", s.geo_match_statement().is_some()),
        (
            "rule_group_reference_statement",
            s.rule_group_reference_statement().is_some(),
        ),
        (
            "ip_set_reference_statement",
            s.ip_set_reference_statement().is_some(),
        ),
        (
            "regex_pattern_set_reference_statement",
            s.regex_pattern_set_reference_statement().is_some(),
        ),
        ("regex_match_statement", s.regex_match_statement().is_some()),
        ("label_match_statement", s.label_match_statement().is_some()),
        ("and_statement", s.and_statement().is_some()),
        ("or_statement", s.or_statement().is_some()),
        ("not_statement", s.not_statement().is_some()),
    ];
    kinds
        .iter()
        .find(|(_, set)| *set)
        .map_or("other", |(k, _)| k)
}

fn read_statement(s: Option<&w::Statement>) -> Statement {
    let Some(s) = s else {
        return Statement::UnmodelledStatement("none".into());
    };
    if let Some(g) = s.managed_rule_group_statement() {
        // Group settings this type does not send would be lost on update.
        if g.excluded_rules().is_empty()
            && g.rule_action_overrides().is_empty()
            && g.managed_rule_group_configs().is_empty()
            && g.scope_down_statement().is_none()
        {
            return Statement::ManagedRuleGroupStatement(ManagedRuleGroup {
                name: g.name().to_string(),
                vendor_name: g.vendor_name().to_string(),
                version: g.version().map(str::to_string),
            });
        }
    }
    if let Some(r) = s.rate_based_statement() {
        if r.scope_down_statement().is_none()
            && r.forwarded_ip_config().is_none()
            && r.custom_keys().is_empty()
        {
            return Statement::RateBasedStatement(RateBased {
                limit: r.limit(),
                aggregate_key_type: r.aggregate_key_type().as_str().to_string(),
                evaluation_window_sec: match r.evaluation_window_sec() {
                    0 => 300,
                    n => n,
                },
            });
        }
    }
    Statement::UnmodelledStatement(statement_kind(s).into())
}

fn read_rule(r: &w::Rule) -> Rule {
    Rule {
        name: r.name().to_string(),
        priority: r.priority(),
        action: r.action().and_then(read_action),
        override_action: r.override_action().map(|o| {
            if o.count().is_some() {
                OverrideAction::Count {}
            } else {
                OverrideAction::None {}
            }
        }),
        statement: read_statement(r.statement()),
        visibility_config: read_visibility(r.visibility_config()),
    }
}

/// The ACL and the lock token of its current version.
async fn get(cx: &Call<'_, Wafv2>, arn: &str) -> Result<Option<GetWebAclOutput>, ProviderError> {
    let Some(a) = parse_acl_arn(arn) else {
        return Err(cx.fatal(format!("{arn:?} is not a web ACL ARN")));
    };
    Ok(cx
        .find("GetWebACL", |c| {
            c.get_web_acl()
                .name(&a.name)
                .scope(a.scope.clone())
                .id(&a.id)
                .send()
        })
        .await?
        .filter(|o| o.web_acl().is_some()))
}

fn check_metric(field: &str, name: &str) -> Result<(), ProviderError> {
    name_chars(
        field,
        name,
        1..=255,
        "_#:.-/",
        "1 to 255 letters, digits, '_', '#', ':', '.', '-' or '/'",
    )
}

#[async_trait]
impl AwsResource for WebAcl {
    type Service = Wafv2;
    const SCHEMA: Schema = Schema {
        force_new: &["name", "scope"],
        unique_name: &["name", "scope"],
        // The units the rules use.
        computed_on_update: &["capacity"],
        normalize: &[("rules", Norm::Set)],
        terraform: &[Tf {
            resource: "aws_wafv2_web_acl",
            args: &[
                ("name", "name"),
                ("scope", "scope"),
                ("description", "description"),
                ("default_action", "default_action"),
                ("rules.name", "rule.name"),
                ("rules.priority", "rule.priority"),
                ("rules.action", "rule.action"),
                ("rules.override_action", "rule.override_action"),
                ("rules.statement", "rule.statement"),
                ("rules.visibility_config", "rule.visibility_config"),
                ("visibility_config", "visibility_config"),
                ("tags", "tags"),
            ],
            import_id: "{outputs.web_acl_id}/{name}/{scope}",
        }],
        // The engine's id is the ARN; Terraform's `id` is the UUID.
        tf_attrs: &[("id", "arn"), ("web_acl_id", "id")],
        ..Schema::NONE
    };

    fn check(&self) -> Result<(), ProviderError> {
        name_chars(
            "name",
            &self.name,
            1..=128,
            "-_",
            "1 to 128 letters, digits, '-' or '_'",
        )?;
        if self.scope != "REGIONAL" {
            return Err(ProviderError::invalid(
                "scope",
                format!("{:?}", self.scope),
                "REGIONAL (a CLOUDFRONT web ACL, in us-east-1 and set on the distribution, is not supported yet)",
            ));
        }
        if let Some(d) = &self.description {
            let sign = |c: char| c.is_ascii_alphanumeric() || "_+=:#@/-,.".contains(c);
            let ok = (3..=256).contains(&d.chars().count())
                && d.chars().all(|c| sign(c) || c.is_whitespace())
                && d.starts_with(sign)
                && d.ends_with(sign);
            if !ok {
                return Err(ProviderError::invalid(
                    "description",
                    format!("{d:?}"),
                    "3 to 256 letters, digits, spaces and '_+=:#@/-,.', not starting or ending with a space",
                ));
            }
        }
        if self.default_action == (Action::Count {}) {
            return Err(ProviderError::invalid(
                "default_action",
                "count",
                "the default action is allow or block",
            ));
        }
        check_metric(
            "visibility_config.metric_name",
            &self.visibility_config.metric_name,
        )?;
        let mut names = Vec::new();
        let mut priorities = Vec::new();
        for (i, r) in self.rules.iter().enumerate() {
            let f = |s: &str| format!("rules[{i}].{s}");
            name_chars(
                &f("name"),
                &r.name,
                1..=128,
                "_-",
                "1 to 128 letters, digits, '_' or '-'",
            )?;
            if r.name.starts_with(SHIELD_RULE) {
                return Err(ProviderError::invalid(
                    &f("name"),
                    format!("{:?}", r.name),
                    "names starting ShieldMitigationRuleGroup_ are Shield Advanced's own",
                ));
            }
            if names.contains(&&r.name) {
                return Err(ProviderError::invalid(
                    &f("name"),
                    format!("{:?}", r.name),
                    "rule names are unique within a web ACL",
                ));
            }
            names.push(&r.name);
            in_range(
                &f("priority"),
                i64::from(r.priority),
                0..=i64::from(i32::MAX),
            )?;
            if priorities.contains(&r.priority) {
                return Err(ProviderError::invalid(
                    &f("priority"),
                    r.priority,
                    "priorities are unique within a web ACL",
                ));
            }
            priorities.push(r.priority);
            check_metric(
                &f("visibility_config.metric_name"),
                &r.visibility_config.metric_name,
            )?;
            match &r.statement {
                Statement::ManagedRuleGroupStatement(g) => {
                    if r.override_action.is_none() || r.action.is_some() {
                        return Err(ProviderError::invalid(
                            &f("override_action"),
                            format!("{:?}", r.override_action),
                            "a rule group statement takes override_action (none or count), not action",
                        ));
                    }
                    let at = |s: &str| f(&format!("statement.managed_rule_group_statement.{s}"));
                    for (field, v) in [("name", &g.name), ("vendor_name", &g.vendor_name)] {
                        name_chars(
                            &at(field),
                            v,
                            1..=128,
                            "_-",
                            "1 to 128 letters, digits, '_' or '-'",
                        )?;
                    }
                    if let Some(v) = &g.version {
                        name_chars(
                            &at("version"),
                            v,
                            1..=64,
                            "_#:.-/",
                            "1 to 64 letters, digits, '_', '#', ':', '.', '-' or '/'",
                        )?;
                    }
                }
                Statement::RateBasedStatement(rb) => {
                    if r.action.is_none() || r.override_action.is_some() {
                        return Err(ProviderError::invalid(
                            &f("action"),
                            format!("{:?}", r.action),
                            "a rate-based statement takes action (allow, block or count), not override_action",
                        ));
                    }
                    let at = |s: &str| f(&format!("statement.rate_based_statement.{s}"));
                    in_range(&at("limit"), rb.limit, 10..=2_000_000_000)?;
                    if rb.aggregate_key_type != "IP" {
                        return Err(ProviderError::invalid(
                            &at("aggregate_key_type"),
                            format!("{:?}", rb.aggregate_key_type),
                            "IP (the other keys need configuration this type does not model)",
                        ));
                    }
                    if ![60, 120, 300, 600].contains(&rb.evaluation_window_sec) {
                        return Err(ProviderError::invalid(
                            &at("evaluation_window_sec"),
                            rb.evaluation_window_sec,
                            "60, 120, 300 or 600",
                        ));
                    }
                }
                Statement::UnmodelledStatement(kind) => {
                    return Err(ProviderError::invalid(
                        &f("statement"),
                        format!("{{unmodelled_statement: {kind:?}}}"),
                        "is read only (a rule made out of band)",
                    ))
                }
            }
        }
        Ok(())
    }

    async fn create(&self, cx: &Call<'_, Wafv2>) -> Result<String, ProviderError> {
        let rules = wire_rules(&self.rules)?;
        let vis = visibility(&self.visibility_config)?;
        let tags = wire_tags(&cx.all_tags(&self.tags))?;
        let made = cx
            .try_send_retrying("CreateWebACL", &[UNAVAILABLE], |c| {
                c.create_web_acl()
                    .name(&self.name)
                    .scope(scope_of(&self.scope))
                    .set_description(self.description.clone())
                    .default_action(default_action(&self.default_action))
                    .set_rules(Some(rules.clone()))
                    .visibility_config(vis.clone())
                    .set_tags(Some(tags.clone()))
                    .send()
            })
            .await;
        match made {
            Ok(o) => o
                .summary()
                .and_then(|s| s.arn())
                .map(str::to_string)
                .ok_or_else(|| cx.fatal("CreateWebACL answered without an ARN")),
            // Our own ACL from an interrupted attempt (by its URN tag):
            // carry on from it; anyone else's stays an error.
            Err(f) if f.code == "WAFDuplicateItemException" => {
                self.find(cx).await?.pop().ok_or(f.error)
            }
            Err(f) => Err(f.error),
        }
    }

    async fn read(
        cx: &Call<'_, Wafv2>,
        arn: &str,
        _declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError> {
        let Some(o) = get(cx, arn).await? else {
            return Ok(None);
        };
        let Some(acl) = o.web_acl() else {
            return Ok(None);
        };
        let scope = match parse_acl_arn(arn).map(|a| a.scope) {
            Some(w::Scope::Cloudfront) => "CLOUDFRONT",
            _ => "REGIONAL",
        };
        let rules = acl
            .rules()
            .iter()
            .filter(|r| !r.name().starts_with(SHIELD_RULE))
            .map(read_rule)
            .collect();
        let args = WebAcl {
            name: acl.name().to_string(),
            scope: scope.into(),
            description: acl
                .description()
                .filter(|d| !d.is_empty())
                .map(str::to_string),
            default_action: match acl.default_action() {
                Some(d) if d.block().is_some() => Action::Block {},
                _ => Action::Allow {},
            },
            rules,
            visibility_config: read_visibility(acl.visibility_config()),
            tags: cx.own_tags(&live_tags(cx, arn).await?),
        };
        Ok(Some(Live {
            args,
            outputs: json!({
                "id": arn,
                "arn": arn,
                "web_acl_id": acl.id(),
                "capacity": acl.capacity(),
            }),
        }))
    }

    async fn update(
        &self,
        old: &Self,
        cx: &Call<'_, Wafv2>,
        arn: &str,
    ) -> Result<(), ProviderError> {
        let body = (
            &self.description,
            &self.default_action,
            &self.rules,
            &self.visibility_config,
        );
        let was = (
            &old.description,
            &old.default_action,
            &old.rules,
            &old.visibility_config,
        );
        if body != was {
            let a = parse_acl_arn(arn)
                .ok_or_else(|| cx.fatal(format!("{arn:?} is not a web ACL ARN")))?;
            let vis = visibility(&self.visibility_config)?;
            let declared = wire_rules(&self.rules)?;
            // A token gone stale between our read and the update means
            // someone else changed the ACL: read again, once, as Terraform.
            for attempt in 0..2 {
                let live = get(cx, arn)
                    .await?
                    .ok_or_else(|| ProviderError::NotFound(format!("web ACL {arn} is gone")))?;
                let token = live.lock_token().unwrap_or_default().to_string();
                let mut rules = declared.clone();
                rules.extend(
                    live.web_acl()
                        .map(|l| l.rules())
                        .unwrap_or_default()
                        .iter()
                        .filter(|r| r.name().starts_with(SHIELD_RULE))
                        .cloned(),
                );
                let sent = cx
                    .try_send_retrying("UpdateWebACL", &[UNAVAILABLE], |c| {
                        c.update_web_acl()
                            .name(&a.name)
                            .scope(a.scope.clone())
                            .id(&a.id)
                            .lock_token(&token)
                            .set_description(self.description.clone())
                            .default_action(default_action(&self.default_action))
                            .set_rules(Some(rules.clone()))
                            .visibility_config(vis.clone())
                            .send()
                    })
                    .await;
                match sent {
                    Ok(_) => break,
                    Err(f) if f.code == STALE && attempt == 0 => continue,
                    Err(f) => return Err(f.error),
                }
            }
        }
        cx.update_tags(arn, &old.tags, &self.tags).await
    }

    async fn delete(&self, cx: &Call<'_, Wafv2>, arn: &str) -> Result<(), ProviderError> {
        let a =
            parse_acl_arn(arn).ok_or_else(|| cx.fatal(format!("{arn:?} is not a web ACL ARN")))?;
        // WAF lets go of an association a while after it is removed.
        let busy = Retry::conflict(
            &[
                "WAFAssociatedItemException",
                "WAFUnavailableEntityException",
            ],
            UNAVAILABLE.budget,
        );
        let mut attempt = 0;
        loop {
            let Some(live) = get(cx, arn).await? else {
                return Ok(());
            };
            let token = live.lock_token().unwrap_or_default().to_string();
            let sent = cx
                .try_send_retrying("DeleteWebACL", &[busy], |c| {
                    c.delete_web_acl()
                        .name(&a.name)
                        .scope(a.scope.clone())
                        .id(&a.id)
                        .lock_token(&token)
                        .send()
                })
                .await;
            match sent {
                Ok(_) => return Ok(()),
                Err(f) if f.code == STALE && attempt == 0 => attempt += 1,
                Err(f) => return Err(f.error),
            }
        }
    }

    async fn find(&self, cx: &Call<'_, Wafv2>) -> Result<Vec<String>, ProviderError> {
        let mut found = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let page = cx
                .send("ListWebACLs", |c| {
                    c.list_web_acls()
                        .scope(scope_of(&self.scope))
                        .set_next_marker(marker.clone())
                        .send()
                })
                .await?;
            for s in page.web_acls() {
                let (Some(name), Some(arn)) = (s.name(), s.arn()) else {
                    continue;
                };
                if name != self.name {
                    continue;
                }
                let tags = live_tags(cx, arn).await?;
                if tags.get(URN_TAG).is_some_and(|t| cx.ctx.urn_tag_matches(t)) {
                    found.push(arn.to_string());
                }
            }
            match page.next_marker() {
                Some(m) if !m.is_empty() && !page.web_acls().is_empty() => {
                    marker = Some(m.to_string())
                }
                _ => return Ok(found),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acl() -> WebAcl {
        WebAcl::regional(
            "morket-staging",
            vec![
                Rule::aws_managed("common", "AWSManagedRulesCommonRuleSet", 10),
                Rule::aws_managed("bad-inputs", "AWSManagedRulesKnownBadInputsRuleSet", 20),
                Rule::rate_limit("rate", 2000, 30),
            ],
        )
    }

    #[test]
    fn validation_names_field_and_value() {
        acl().check().unwrap();
        let err = |f: &dyn Fn(&mut WebAcl)| {
            let mut a = acl();
            f(&mut a);
            a.check().unwrap_err().to_string()
        };
        let e = err(&|a| a.name = "morket staging".into());
        assert!(e.contains("name = \"morket staging\""), "{e}");
        let e = err(&|a| a.scope = "GLOBAL".into());
        assert!(e.contains("scope = \"GLOBAL\""), "{e}");
        let e = err(&|a| a.scope = "CLOUDFRONT".into());
        assert!(
            e.contains("scope = \"CLOUDFRONT\"") && e.contains("not supported"),
            "{e}"
        );
        // AWS's character rules, not only the lengths.
        let e = err(&|a| a.description = Some("Morket's ALB".into()));
        assert!(e.contains("description = \"Morket's ALB\""), "{e}");
        let e = err(&|a| a.description = Some(" padded".into()));
        assert!(e.contains("description"), "{e}");
        let e = err(&|a| a.rules[0].name = "aws common".into());
        assert!(e.contains("rules[0].name = \"aws common\""), "{e}");
        let e = err(&|a| {
            if let Statement::ManagedRuleGroupStatement(g) = &mut a.rules[1].statement {
                g.version = Some("Version 1".into());
            }
        });
        assert!(
            e.contains("rules[1].statement.managed_rule_group_statement.version = \"Version 1\""),
            "{e}"
        );
        let e = err(&|a| a.rules[1].priority = 10);
        assert!(e.contains("rules[1].priority = 10"), "{e}");
        let e = err(&|a| a.rules[2].name = "common".into());
        assert!(e.contains("rules[2].name = \"common\""), "{e}");
        let e = err(&|a| a.rules[0].action = Some(Action::Block {}));
        assert!(e.contains("rules[0].override_action"), "{e}");
        let e = err(&|a| a.rules[2].override_action = Some(OverrideAction::None {}));
        assert!(e.contains("rules[2].action"), "{e}");
        let e = err(&|a| {
            if let Statement::RateBasedStatement(r) = &mut a.rules[2].statement {
                r.limit = 5;
            }
        });
        assert!(
            e.contains("rules[2].statement.rate_based_statement.limit = 5"),
            "{e}"
        );
        let e = err(&|a| {
            if let Statement::RateBasedStatement(r) = &mut a.rules[2].statement {
                r.evaluation_window_sec = 30;
            }
        });
        assert!(e.contains("evaluation_window_sec = 30"), "{e}");
        let e = err(&|a| a.rules[0].visibility_config.metric_name = "has space".into());
        assert!(e.contains("rules[0].visibility_config.metric_name"), "{e}");
        let e = err(&|a| a.default_action = Action::Count {});
        assert!(e.contains("default_action"), "{e}");
        let e = err(&|a| a.rules[0].statement = Statement::UnmodelledStatement("x".into()));
        assert!(
            e.contains("rules[0].statement") && e.contains("read only"),
            "{e}"
        );
    }

    #[test]
    fn actions_and_statements_serialise_as_terraform_blocks() {
        let v = serde_json::to_value(acl()).unwrap();
        assert_eq!(v["default_action"], json!({"allow": {}}));
        assert_eq!(v["rules"][0]["override_action"], json!({"none": {}}));
        assert_eq!(v["rules"][2]["action"], json!({"block": {}}));
        assert_eq!(
            v["rules"][0]["statement"],
            json!({"managed_rule_group_statement": {
                "name": "AWSManagedRulesCommonRuleSet", "vendor_name": "AWS"}})
        );
        assert_eq!(
            v["rules"][2]["statement"],
            json!({"rate_based_statement": {
                "limit": 2000, "aggregate_key_type": "IP", "evaluation_window_sec": 300}})
        );
        let back: WebAcl = serde_json::from_value(v).unwrap();
        assert_eq!(back, acl());
    }

    #[test]
    fn requests_carry_what_was_declared_and_reads_give_it_back() {
        let a = acl();
        let wire = wire_rules(&a.rules).unwrap();
        let back: Vec<Rule> = wire.iter().map(read_rule).collect();
        assert_eq!(back, a.rules);
        let g = wire[0]
            .statement()
            .unwrap()
            .managed_rule_group_statement()
            .unwrap();
        assert_eq!(
            (g.vendor_name(), g.name()),
            ("AWS", "AWSManagedRulesCommonRuleSet")
        );
        assert!(wire[0].override_action().unwrap().none().is_some());
        assert!(wire[2].action().unwrap().block().is_some());
        // A statement made out of band reads as its kind.
        let other = w::Statement::builder()
            .label_match_statement(
                w::LabelMatchStatement::builder()
                    .scope(w::LabelMatchScope::Label)
                    .key("k")
                    .build()
                    .unwrap(),
            )
            .build();
        assert_eq!(
            read_statement(Some(&other)),
            Statement::UnmodelledStatement("label_match_statement".into())
        );
    }
}
