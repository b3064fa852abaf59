//! `aws:cloudwatch/MetricAlarm` (Terraform `aws_cloudwatch_metric_alarm`): an
//! alarm on one metric (`metric_name` with its namespace, dimensions and
//! statistic) or on metric math (`metric_query`: metrics and expressions, one
//! of which returns the alarm's data, e.g. a 5xx rate as errors / requests).
//! The name is the identity and forces a replacement; PutMetricAlarm both
//! creates and changes everything else in place.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use async_trait::async_trait;
use aws_sdk_cloudwatch::types::{
    ComparisonOperator, Dimension, Metric, MetricAlarm as CwAlarm, MetricDataQuery, MetricStat,
    StandardUnit, Statistic,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{check_period, check_query_id, check_stat, live_tags, to_tags, CloudWatch, STATISTICS};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::call::Call;
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::aws::tags::{Tags, URN_TAG};
use crate::provider::aws::validate::{in_range, one_of};
use crate::provider::aws::wait::{Seen, Wait};
use crate::provider::schema::{Norm, Schema, Tf};
use crate::provider::ProviderError;

pub const COMPARISON_OPERATORS: &[&str] = &[
    "GreaterThanOrEqualToThreshold",
    "GreaterThanThreshold",
    "LessThanThreshold",
    "LessThanOrEqualToThreshold",
    "LessThanLowerOrGreaterThanUpperThreshold",
    "LessThanLowerThreshold",
    "GreaterThanUpperThreshold",
];

pub const TREAT_MISSING_DATA: &[&str] = &["missing", "ignore", "breaching", "notBreaching"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricAlarm {
    /// 1 to 255 characters; unique in the account and region.
    pub alarm_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alarm_description: Option<String>,
    /// The metric's namespace (`AWS/ECS`), with `metric_name`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// A single metric; exactly one of it and `metric_query`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric_name: Option<String>,
    pub dimensions: BTreeMap<String, Input<String>>,
    /// One of `SampleCount`, `Average`, `Sum`, `Minimum`, `Maximum`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statistic: Option<String>,
    /// A percentile (`p99`) instead of `statistic`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extended_statistic: Option<String>,
    /// Seconds per datapoint of `metric_name`: 10, 20, 30 or a multiple of 60.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period: Option<i32>,
    pub evaluation_periods: i32,
    /// Breaching datapoints among `evaluation_periods` that raise the alarm
    /// ("M out of N"); unset means all of them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub datapoints_to_alarm: Option<i32>,
    pub threshold: f64,
    /// One of [`COMPARISON_OPERATORS`].
    pub comparison_operator: String,
    /// One of [`TREAT_MISSING_DATA`].
    pub treat_missing_data: String,
    pub actions_enabled: bool,
    /// ARNs notified on ALARM (SNS topics, Auto Scaling policies...).
    pub alarm_actions: Vec<Input<String>>,
    /// ARNs notified on the return to OK.
    pub ok_actions: Vec<Input<String>>,
    pub insufficient_data_actions: Vec<Input<String>>,
    /// Metric math: metrics and expressions; exactly one returns data.
    pub metric_query: Vec<MetricQuery>,
    pub tags: Tags,
}

impl Default for MetricAlarm {
    fn default() -> Self {
        MetricAlarm {
            alarm_name: String::new(),
            alarm_description: None,
            namespace: None,
            metric_name: None,
            dimensions: BTreeMap::new(),
            statistic: None,
            extended_statistic: None,
            period: None,
            evaluation_periods: 1,
            datapoints_to_alarm: None,
            threshold: 0.0,
            comparison_operator: String::new(),
            treat_missing_data: "missing".into(),
            actions_enabled: true,
            alarm_actions: Vec::new(),
            ok_actions: Vec::new(),
            insufficient_data_actions: Vec::new(),
            metric_query: Vec::new(),
            tags: Tags::new(),
        }
    }
}

/// One metric or expression of a metric-math alarm.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricQuery {
    /// Referenced by expressions: a lowercase letter, then letters, digits, `_`.
    pub id: String,
    /// Metric math over other ids (`100 * errors / requests`); exactly one of
    /// it and `metric`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Whether this query's result is what the alarm evaluates.
    pub return_data: bool,
    /// Seconds per datapoint of an expression.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric: Option<QueryMetric>,
}

/// The metric of a [`MetricQuery`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueryMetric {
    pub namespace: String,
    pub metric_name: String,
    pub dimensions: BTreeMap<String, Input<String>>,
    pub period: i32,
    /// A statistic or percentile (`Sum`, `p99`).
    pub stat: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

impl MetricAlarm {
    /// An alarm on one metric: `statistic` of `namespace`/`metric_name` over
    /// `period` seconds compared with `threshold`.
    pub fn on_metric(
        alarm_name: &str,
        namespace: &str,
        metric_name: &str,
        statistic: &str,
        period: i32,
        comparison_operator: &str,
        threshold: f64,
    ) -> Self {
        MetricAlarm {
            alarm_name: alarm_name.into(),
            namespace: Some(namespace.into()),
            metric_name: Some(metric_name.into()),
            statistic: Some(statistic.into()),
            period: Some(period),
            comparison_operator: comparison_operator.into(),
            threshold,
            ..Default::default()
        }
    }

    /// An alarm on metric math: the queries, one of which returns data.
    pub fn on_queries(
        alarm_name: &str,
        metric_query: Vec<MetricQuery>,
        comparison_operator: &str,
        threshold: f64,
    ) -> Self {
        MetricAlarm {
            alarm_name: alarm_name.into(),
            metric_query,
            comparison_operator: comparison_operator.into(),
            threshold,
            ..Default::default()
        }
    }
}

impl MetricQuery {
    /// A metric the expressions refer to by `id` (its data not returned).
    pub fn metric(id: &str, metric: QueryMetric) -> Self {
        MetricQuery {
            id: id.into(),
            metric: Some(metric),
            ..Default::default()
        }
    }

    /// An expression over other ids whose result the alarm evaluates.
    pub fn expression(id: &str, expression: &str, label: &str) -> Self {
        MetricQuery {
            id: id.into(),
            expression: Some(expression.into()),
            label: Some(label.into()),
            return_data: true,
            ..Default::default()
        }
    }
}

impl QueryMetric {
    pub fn new(namespace: &str, metric_name: &str, stat: &str, period: i32) -> Self {
        QueryMetric {
            namespace: namespace.into(),
            metric_name: metric_name.into(),
            stat: stat.into(),
            period,
            ..Default::default()
        }
    }

    pub fn dimension(mut self, name: &str, value: impl Into<Input<String>>) -> Self {
        self.dimensions.insert(name.into(), value.into());
        self
    }
}

impl ResourceArgs for MetricAlarm {
    const TYPE: &'static str = "aws:cloudwatch/MetricAlarm";
}

impl Resource<MetricAlarm> {
    pub fn arn(&self) -> Output<String> {
        self.output("arn")
    }
    pub fn alarm_name(&self) -> Output<String> {
        self.output("alarm_name")
    }
}

fn check_dimensions(
    field: &str,
    dims: &BTreeMap<String, Input<String>>,
) -> Result<(), ProviderError> {
    if dims.len() > 30 {
        return Err(ProviderError::invalid(
            field,
            dims.len(),
            "at most 30 dimensions",
        ));
    }
    for (k, v) in dims {
        if k.is_empty() || k.len() > 255 {
            return Err(ProviderError::invalid(
                field,
                format!("{k:?}"),
                "dimension names are 1 to 255 characters",
            ));
        }
        if let Some(v) = v.known() {
            if v.is_empty() || v.len() > 1024 {
                return Err(ProviderError::invalid(
                    &format!("{field}.{k}"),
                    format!("{v:?}"),
                    "dimension values are 1 to 1024 characters",
                ));
            }
        }
    }
    Ok(())
}

fn check_actions(field: &str, actions: &[Input<String>]) -> Result<(), ProviderError> {
    if actions.len() > 5 {
        return Err(ProviderError::invalid(
            field,
            actions.len(),
            "at most 5 actions",
        ));
    }
    for (i, a) in actions.iter().enumerate() {
        if let Some(a) = a.known() {
            if a.splitn(6, ':').count() != 6 || !a.starts_with("arn:") {
                return Err(ProviderError::invalid(
                    &format!("{field}[{i}]"),
                    format!("{a:?}"),
                    "an action ARN (an SNS topic, an Auto Scaling policy, an EC2 action)",
                ));
            }
        }
    }
    Ok(())
}

fn check_unit(field: &str, unit: &Option<String>) -> Result<(), ProviderError> {
    if let Some(u) = unit {
        let all = StandardUnit::values();
        if !all.contains(&u.as_str()) {
            return Err(ProviderError::invalid(
                field,
                format!("{u:?}"),
                format!("must be one of {all:?}"),
            ));
        }
    }
    Ok(())
}

/// A field of the single-metric form set on a metric-math alarm.
fn not_with_queries(field: &str, set: bool) -> Result<(), ProviderError> {
    if set {
        return Err(ProviderError::invalid(
            field,
            "(set)",
            "goes with metric_name; with metric_query, set it on each query's metric",
        ));
    }
    Ok(())
}

fn known_all(field: &str, v: &[Input<String>]) -> Result<Vec<String>, ProviderError> {
    v.iter()
        .enumerate()
        .map(|(i, a)| Ok(a.require(&format!("{field}[{i}]"))?.clone()))
        .collect()
}

fn dimensions_of(
    field: &str,
    d: &BTreeMap<String, Input<String>>,
) -> Result<Vec<Dimension>, ProviderError> {
    d.iter()
        .map(|(k, v)| {
            Ok(Dimension::builder()
                .name(k)
                .value(v.require(&format!("{field}.{k}"))?)
                .build())
        })
        .collect()
}

fn dims_read(d: &[Dimension]) -> BTreeMap<String, Input<String>> {
    d.iter()
        .map(|d| {
            (
                d.name().unwrap_or_default().to_string(),
                Input::Value(d.value().unwrap_or_default().to_string()),
            )
        })
        .collect()
}

/// The request values of an alarm, every input known.
struct Put {
    dimensions: Vec<Dimension>,
    alarm_actions: Vec<String>,
    ok_actions: Vec<String>,
    insufficient_data_actions: Vec<String>,
    metrics: Vec<MetricDataQuery>,
}

impl MetricAlarm {
    fn put(&self) -> Result<Put, ProviderError> {
        let mut metrics = Vec::new();
        for (i, q) in self.metric_query.iter().enumerate() {
            let stat = match &q.metric {
                Some(m) => Some(
                    MetricStat::builder()
                        .metric(
                            Metric::builder()
                                .namespace(&m.namespace)
                                .metric_name(&m.metric_name)
                                .set_dimensions(Some(dimensions_of(
                                    &format!("metric_query[{i}].metric.dimensions"),
                                    &m.dimensions,
                                )?))
                                .build(),
                        )
                        .period(m.period)
                        .stat(&m.stat)
                        .set_unit(m.unit.as_deref().map(StandardUnit::from))
                        .build(),
                ),
                None => None,
            };
            metrics.push(
                MetricDataQuery::builder()
                    .id(&q.id)
                    .set_expression(q.expression.clone())
                    .set_label(q.label.clone())
                    .return_data(q.return_data)
                    .set_period(q.period)
                    .set_metric_stat(stat)
                    .build(),
            );
        }
        Ok(Put {
            dimensions: dimensions_of("dimensions", &self.dimensions)?,
            alarm_actions: known_all("alarm_actions", &self.alarm_actions)?,
            ok_actions: known_all("ok_actions", &self.ok_actions)?,
            insufficient_data_actions: known_all(
                "insufficient_data_actions",
                &self.insufficient_data_actions,
            )?,
            metrics,
        })
    }

    /// PutMetricAlarm: the create, and every in-place change. Tags are taken
    /// on the create only (AWS ignores them on an update).
    async fn send_put(
        &self,
        cx: &Call<'_, CloudWatch>,
        tags: Option<&Tags>,
    ) -> Result<(), ProviderError> {
        let p = self.put()?;
        cx.send("PutMetricAlarm", |c| {
            c.put_metric_alarm()
                .alarm_name(&self.alarm_name)
                .set_alarm_description(self.alarm_description.clone())
                .actions_enabled(self.actions_enabled)
                .set_alarm_actions(Some(p.alarm_actions.clone()))
                .set_ok_actions(Some(p.ok_actions.clone()))
                .set_insufficient_data_actions(Some(p.insufficient_data_actions.clone()))
                .set_namespace(self.namespace.clone())
                .set_metric_name(self.metric_name.clone())
                .set_dimensions(if self.metric_query.is_empty() {
                    Some(p.dimensions.clone())
                } else {
                    None
                })
                .set_statistic(self.statistic.as_deref().map(Statistic::from))
                .set_extended_statistic(self.extended_statistic.clone())
                .set_period(self.period)
                .evaluation_periods(self.evaluation_periods)
                .set_datapoints_to_alarm(self.datapoints_to_alarm)
                .threshold(self.threshold)
                .comparison_operator(ComparisonOperator::from(self.comparison_operator.as_str()))
                .treat_missing_data(&self.treat_missing_data)
                .set_metrics(if self.metric_query.is_empty() {
                    None
                } else {
                    Some(p.metrics.clone())
                })
                .set_tags(tags.map(to_tags))
                .send()
        })
        .await
        .map(drop)
    }
}

async fn describe(cx: &Call<'_, CloudWatch>, name: &str) -> Result<Option<CwAlarm>, ProviderError> {
    let out = cx
        .send("DescribeAlarms", |c| {
            c.describe_alarms()
                .alarm_names(name)
                .alarm_types(aws_sdk_cloudwatch::types::AlarmType::MetricAlarm)
                .send()
        })
        .await?;
    Ok(out
        .metric_alarms()
        .iter()
        .find(|a| a.alarm_name() == Some(name))
        .cloned())
}

/// An alarm as read: `a` from DescribeAlarms, its tags by ARN.
async fn live(
    cx: &Call<'_, CloudWatch>,
    name: &str,
    a: &CwAlarm,
) -> Result<Live<MetricAlarm>, ProviderError> {
    let arn = a.alarm_arn().unwrap_or_default().to_string();
    let strings = |v: &[String]| v.iter().cloned().map(Input::Value).collect::<Vec<_>>();
    let args = MetricAlarm {
        alarm_name: name.to_string(),
        alarm_description: a
            .alarm_description()
            .filter(|d| !d.is_empty())
            .map(str::to_string),
        namespace: a.namespace().map(str::to_string),
        metric_name: a.metric_name().map(str::to_string),
        dimensions: dims_read(a.dimensions()),
        statistic: a.statistic().map(|s| s.as_str().to_string()),
        extended_statistic: a.extended_statistic().map(str::to_string),
        period: a.period().filter(|p| *p > 0),
        evaluation_periods: a.evaluation_periods().unwrap_or_default(),
        datapoints_to_alarm: a.datapoints_to_alarm(),
        threshold: a.threshold().unwrap_or_default(),
        comparison_operator: a
            .comparison_operator()
            .map(|c| c.as_str().to_string())
            .unwrap_or_default(),
        treat_missing_data: a.treat_missing_data().unwrap_or("missing").to_string(),
        actions_enabled: a.actions_enabled().unwrap_or(true),
        alarm_actions: strings(a.alarm_actions()),
        ok_actions: strings(a.ok_actions()),
        insufficient_data_actions: strings(a.insufficient_data_actions()),
        metric_query: a.metrics().iter().map(query_read).collect(),
        tags: cx.own_tags(&live_tags(cx, &arn).await?),
    };
    Ok(Live {
        args,
        outputs: json!({"id": name, "alarm_name": name, "arn": arn}),
    })
}

fn query_read(q: &MetricDataQuery) -> MetricQuery {
    MetricQuery {
        id: q.id().unwrap_or_default().to_string(),
        expression: q.expression().map(str::to_string),
        label: q.label().map(str::to_string),
        // AWS's default when a query leaves it out.
        return_data: q.return_data().unwrap_or(true),
        period: q.period(),
        metric: q.metric_stat().map(|s| {
            let m = s.metric();
            QueryMetric {
                namespace: m.and_then(|m| m.namespace()).unwrap_or_default().into(),
                metric_name: m.and_then(|m| m.metric_name()).unwrap_or_default().into(),
                dimensions: dims_read(m.map(|m| m.dimensions()).unwrap_or_default()),
                period: s.period().unwrap_or_default(),
                stat: s.stat().unwrap_or_default().into(),
                unit: s.unit().map(|u| u.as_str().to_string()),
            }
        }),
    }
}

#[async_trait]
impl AwsResource for MetricAlarm {
    type Service = CloudWatch;
    const SCHEMA: Schema = Schema {
        force_new: &["alarm_name"],
        unique_name: &["alarm_name"],
        normalize: &[
            ("alarm_actions", Norm::Set),
            ("ok_actions", Norm::Set),
            ("insufficient_data_actions", Norm::Set),
            ("metric_query", Norm::Set),
        ],
        terraform: &[Tf {
            resource: "aws_cloudwatch_metric_alarm",
            args: &[
                ("alarm_name", "alarm_name"),
                ("alarm_description", "alarm_description"),
                ("namespace", "namespace"),
                ("metric_name", "metric_name"),
                ("dimensions", "dimensions"),
                ("statistic", "statistic"),
                ("extended_statistic", "extended_statistic"),
                ("period", "period"),
                ("evaluation_periods", "evaluation_periods"),
                ("datapoints_to_alarm", "datapoints_to_alarm"),
                ("threshold", "threshold"),
                ("comparison_operator", "comparison_operator"),
                ("treat_missing_data", "treat_missing_data"),
                ("actions_enabled", "actions_enabled"),
                ("alarm_actions", "alarm_actions"),
                ("ok_actions", "ok_actions"),
                ("insufficient_data_actions", "insufficient_data_actions"),
                ("metric_query", "metric_query"),
                ("tags", "tags"),
            ],
            import_id: "{alarm_name}",
        }],
        ..Schema::NONE
    };

    fn check(&self) -> Result<(), ProviderError> {
        let n = &self.alarm_name;
        if n.is_empty() || n.chars().count() > 255 || n.chars().any(char::is_control) {
            return Err(ProviderError::invalid(
                "alarm_name",
                format!("{n:?}"),
                "1 to 255 characters, no control characters",
            ));
        }
        if let Some(d) = &self.alarm_description {
            if d.chars().count() > 1024 {
                return Err(ProviderError::invalid(
                    "alarm_description",
                    format!("{:?}...", d.chars().take(40).collect::<String>()),
                    "at most 1024 characters",
                ));
            }
        }
        one_of(
            "comparison_operator",
            &self.comparison_operator,
            COMPARISON_OPERATORS,
        )?;
        one_of(
            "treat_missing_data",
            &self.treat_missing_data,
            TREAT_MISSING_DATA,
        )?;
        in_range("evaluation_periods", self.evaluation_periods, 1..=100_000)?;
        if let Some(d) = self.datapoints_to_alarm {
            in_range("datapoints_to_alarm", d, 1..=self.evaluation_periods)?;
        }
        if !self.threshold.is_finite() {
            return Err(ProviderError::invalid(
                "threshold",
                self.threshold,
                "a finite number",
            ));
        }
        check_actions("alarm_actions", &self.alarm_actions)?;
        check_actions("ok_actions", &self.ok_actions)?;
        check_actions("insufficient_data_actions", &self.insufficient_data_actions)?;
        match (&self.metric_name, self.metric_query.is_empty()) {
            (Some(_), false) | (None, true) => {
                return Err(ProviderError::invalid(
                    "metric_name",
                    format!(
                        "{:?} with {} metric_query",
                        self.metric_name,
                        self.metric_query.len()
                    ),
                    "exactly one of metric_name (one metric) and metric_query (metric math)",
                ))
            }
            (Some(m), true) => {
                if m.is_empty() || m.len() > 255 {
                    return Err(ProviderError::invalid(
                        "metric_name",
                        format!("{m:?}"),
                        "1 to 255 characters",
                    ));
                }
                if self.namespace.as_deref().is_none_or(str::is_empty) {
                    return Err(ProviderError::invalid(
                        "namespace",
                        format!("{:?}", self.namespace),
                        "required with metric_name (e.g. \"AWS/ECS\")",
                    ));
                }
                match (&self.statistic, &self.extended_statistic) {
                    (Some(s), None) => one_of("statistic", s, STATISTICS)?,
                    (None, Some(s)) => check_stat("extended_statistic", s, true)?,
                    (s, x) => {
                        return Err(ProviderError::invalid(
                            "statistic",
                            format!("{s:?} and extended_statistic {x:?}"),
                            "exactly one of statistic and extended_statistic",
                        ))
                    }
                }
                match self.period {
                    Some(p) => check_period("period", p)?,
                    None => {
                        return Err(ProviderError::invalid(
                            "period",
                            "(unset)",
                            "required with metric_name",
                        ))
                    }
                }
                check_dimensions("dimensions", &self.dimensions)?;
            }
            (None, false) => {
                not_with_queries("namespace", self.namespace.is_some())?;
                not_with_queries("statistic", self.statistic.is_some())?;
                not_with_queries("extended_statistic", self.extended_statistic.is_some())?;
                not_with_queries("period", self.period.is_some())?;
                not_with_queries("dimensions", !self.dimensions.is_empty())?;
                self.check_queries()?;
            }
        }
        Ok(())
    }

    fn diff(old: &serde_json::Value, new: &serde_json::Value) -> crate::provider::Diff {
        // Action lists and queries are sets (Terraform's too).
        let sorted = |v: &serde_json::Value| {
            let mut v = v.clone();
            for f in [
                "alarm_actions",
                "ok_actions",
                "insufficient_data_actions",
                "metric_query",
            ] {
                if let Some(a) = v.get_mut(f).and_then(serde_json::Value::as_array_mut) {
                    a.sort_by_key(|x| x.to_string());
                }
            }
            v
        };
        crate::provider::field_diff(&sorted(old), &sorted(new), Self::SCHEMA.force_new)
    }

    async fn create(&self, cx: &Call<'_, CloudWatch>) -> Result<String, ProviderError> {
        // PutMetricAlarm overwrites an alarm of the same name: look first,
        // and go on only from our own (an earlier attempt, by URN tag).
        if describe(cx, &self.alarm_name).await?.is_some() {
            if self.find(cx).await?.is_empty() {
                return Err(cx.fatal(format!(
                    "a CloudWatch alarm named {:?} already exists and is not this resource's",
                    self.alarm_name
                )));
            }
            self.send_put(cx, None).await?;
            return Ok(self.alarm_name.clone());
        }
        self.send_put(cx, Some(&cx.all_tags(&self.tags))).await?;
        Ok(self.alarm_name.clone())
    }

    async fn read(
        cx: &Call<'_, CloudWatch>,
        name: &str,
        _declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError> {
        match describe(cx, name).await? {
            Some(a) => live(cx, name, &a).await.map(Some),
            None => Ok(None),
        }
    }

    // One DescribeAlarms per 100 names and page; the tags have no batch
    // form (ListTagsForResource takes one ARN), so they are read per alarm.
    async fn read_many(
        cx: &Call<'_, CloudWatch>,
        items: &[(String, Self)],
    ) -> Result<Vec<Option<Live<Self>>>, ProviderError> {
        let mut names: Vec<&str> = items.iter().map(|(n, _)| n.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        let mut found = HashMap::new();
        for chunk in names.chunks(100) {
            let stream = cx
                .client()
                .await
                .describe_alarms()
                .set_alarm_names(Some(chunk.iter().map(|n| n.to_string()).collect()))
                .alarm_types(aws_sdk_cloudwatch::types::AlarmType::MetricAlarm)
                .into_paginator()
                .send();
            for page in cx.pages("DescribeAlarms", stream).await? {
                for a in page.metric_alarms() {
                    if let Some(n) = a.alarm_name() {
                        found.insert(n.to_string(), a.clone());
                    }
                }
            }
        }
        let mut out = Vec::with_capacity(items.len());
        for (name, _) in items {
            out.push(match found.get(name) {
                Some(a) => Some(live(cx, name, a).await?),
                None => None,
            });
        }
        Ok(out)
    }

    async fn update(
        &self,
        old: &Self,
        cx: &Call<'_, CloudWatch>,
        name: &str,
    ) -> Result<(), ProviderError> {
        let same = MetricAlarm {
            tags: self.tags.clone(),
            ..old.clone()
        };
        if *self != same {
            self.send_put(cx, None).await?;
        }
        if old.tags != self.tags {
            let arn = describe(cx, name)
                .await?
                .and_then(|a| a.alarm_arn().map(str::to_string))
                .ok_or_else(|| ProviderError::NotFound(format!("alarm {name} is gone")))?;
            cx.update_tags(&arn, &old.tags, &self.tags).await?;
        }
        Ok(())
    }

    async fn delete(&self, cx: &Call<'_, CloudWatch>, name: &str) -> Result<(), ProviderError> {
        cx.send("DeleteAlarms", |c| {
            c.delete_alarms().alarm_names(name).send()
        })
        .await?;
        Wait::new("CloudWatch alarm", &["exists"], &[])
            .until_gone(cx.settings(), || async {
                Ok(match describe(cx, name).await? {
                    Some(_) => Seen::State("exists".to_string(), ()),
                    None => Seen::Gone,
                })
            })
            .await
    }

    async fn find(&self, cx: &Call<'_, CloudWatch>) -> Result<Vec<String>, ProviderError> {
        // The name is the identity: an alarm of that name carrying our URN tag.
        let Some(a) = describe(cx, &self.alarm_name).await? else {
            return Ok(Vec::new());
        };
        let tags = live_tags(cx, a.alarm_arn().unwrap_or_default()).await?;
        let ours = tags.get(URN_TAG).is_some_and(|v| cx.ctx.urn_tag_matches(v));
        Ok(if ours {
            vec![self.alarm_name.clone()]
        } else {
            Vec::new()
        })
    }
}

impl MetricAlarm {
    fn check_queries(&self) -> Result<(), ProviderError> {
        if self.metric_query.len() > 20 {
            return Err(ProviderError::invalid(
                "metric_query",
                self.metric_query.len(),
                "at most 20 queries",
            ));
        }
        let mut ids = BTreeSet::new();
        for (i, q) in self.metric_query.iter().enumerate() {
            let f = |x: &str| format!("metric_query[{i}].{x}");
            check_query_id(&f("id"), &q.id)?;
            if !ids.insert(q.id.as_str()) {
                return Err(ProviderError::invalid(
                    &f("id"),
                    format!("{:?}", q.id),
                    "used by another query",
                ));
            }
            match (&q.expression, &q.metric) {
                (Some(e), None) => {
                    if e.is_empty() || e.len() > 2048 {
                        return Err(ProviderError::invalid(
                            &f("expression"),
                            format!("{e:?}"),
                            "1 to 2048 characters",
                        ));
                    }
                }
                (None, Some(m)) => {
                    for (x, v) in [("namespace", &m.namespace), ("metric_name", &m.metric_name)] {
                        if v.is_empty() || v.len() > 255 {
                            return Err(ProviderError::invalid(
                                &f(&format!("metric.{x}")),
                                format!("{v:?}"),
                                "1 to 255 characters",
                            ));
                        }
                    }
                    check_stat(&f("metric.stat"), &m.stat, false)?;
                    check_period(&f("metric.period"), m.period)?;
                    check_dimensions(&f("metric.dimensions"), &m.dimensions)?;
                    check_unit(&f("metric.unit"), &m.unit)?;
                }
                (e, m) => {
                    return Err(ProviderError::invalid(
                        &f("expression"),
                        format!(
                            "{e:?} with metric {}",
                            if m.is_some() { "set" } else { "unset" }
                        ),
                        "exactly one of expression and metric",
                    ))
                }
            }
            if let Some(p) = q.period {
                check_period(&f("period"), p)?;
            }
        }
        let returning: Vec<&str> = self
            .metric_query
            .iter()
            .filter(|q| q.return_data)
            .map(|q| q.id.as_str())
            .collect();
        if returning.len() != 1 {
            return Err(ProviderError::invalid(
                "metric_query.return_data",
                format!("{returning:?}"),
                "exactly one query returns data (the one the alarm evaluates)",
            ));
        }
        for q in &self.metric_query {
            if let Some(e) = &q.expression {
                if e.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .any(|w| w == q.id)
                {
                    return Err(ProviderError::invalid(
                        "metric_query.expression",
                        format!("{e:?}"),
                        format!("refers to its own id {:?}", q.id),
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate() -> MetricAlarm {
        let lb = "app/morket/0123456789abcdef";
        let mut a = MetricAlarm::on_queries(
            "alb-5xx-rate",
            vec![
                MetricQuery::metric(
                    "errors",
                    QueryMetric::new("AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "Sum", 300)
                        .dimension("LoadBalancer", lb),
                ),
                MetricQuery::metric(
                    "requests",
                    QueryMetric::new("AWS/ApplicationELB", "RequestCount", "Sum", 300)
                        .dimension("LoadBalancer", lb),
                ),
                MetricQuery::expression("rate", "100 * errors / requests", "5xx rate"),
            ],
            "GreaterThanThreshold",
            5.0,
        );
        a.treat_missing_data = "notBreaching".into();
        a
    }

    fn err(a: MetricAlarm) -> String {
        a.check().unwrap_err().to_string()
    }

    #[test]
    fn validation_names_field_and_value() {
        let cpu = MetricAlarm::on_metric(
            "cpu",
            "AWS/ECS",
            "CPUUtilization",
            "Average",
            300,
            "GreaterThanThreshold",
            80.0,
        );
        assert!(cpu.check().is_ok());
        assert!(rate().check().is_ok());
        let e = err(MetricAlarm {
            comparison_operator: "Above".into(),
            ..cpu.clone()
        });
        assert!(
            e.contains("comparison_operator") && e.contains("Above"),
            "{e}"
        );
        let e = err(MetricAlarm {
            statistic: Some("Mean".into()),
            ..cpu.clone()
        });
        assert!(e.contains("statistic") && e.contains("Mean"), "{e}");
        let e = err(MetricAlarm {
            period: Some(45),
            ..cpu.clone()
        });
        assert!(e.contains("period") && e.contains("45"), "{e}");
        let e = err(MetricAlarm {
            treat_missing_data: "zero".into(),
            ..cpu.clone()
        });
        assert!(
            e.contains("treat_missing_data") && e.contains("zero"),
            "{e}"
        );
        let e = err(MetricAlarm {
            datapoints_to_alarm: Some(3),
            ..cpu.clone()
        });
        assert!(e.contains("datapoints_to_alarm") && e.contains('3'), "{e}");
        let e = err(MetricAlarm {
            alarm_actions: vec!["topic".into()],
            ..cpu.clone()
        });
        assert!(e.contains("alarm_actions[0]") && e.contains("topic"), "{e}");
        let e = err(MetricAlarm {
            metric_query: rate().metric_query,
            ..cpu.clone()
        });
        assert!(
            e.contains("metric_name") && e.contains("metric_query"),
            "{e}"
        );
        let e = err(MetricAlarm {
            statistic: None,
            ..cpu
        });
        assert!(e.contains("statistic"), "{e}");

        let mut two = rate();
        two.metric_query[0].return_data = true;
        let e = err(two);
        assert!(
            e.contains("return_data") && e.contains("errors") && e.contains("rate"),
            "{e}"
        );
        let mut none = rate();
        none.metric_query[2].return_data = false;
        assert!(err(none).contains("return_data"));
        let mut upper = rate();
        upper.metric_query[0].id = "Errors".into();
        let e = err(upper);
        assert!(
            e.contains("metric_query[0].id") && e.contains("Errors"),
            "{e}"
        );
        let mut both = rate();
        both.metric_query[2].metric = both.metric_query[0].metric.clone();
        assert!(err(both).contains("metric_query[2].expression"));
        let mut dup = rate();
        dup.metric_query[1].id = "errors".into();
        assert!(err(dup).contains("metric_query[1].id"));
        let mut stray = rate();
        stray.namespace = Some("AWS/ApplicationELB".into());
        assert!(err(stray).contains("namespace"));
    }

    #[test]
    fn reordered_actions_and_queries_are_no_change() {
        let mut a = rate();
        a.alarm_actions = vec![
            "arn:aws:sns:us-east-1:1:a".into(),
            "arn:aws:sns:us-east-1:1:b".into(),
        ];
        let mut b = a.clone();
        b.alarm_actions.reverse();
        b.metric_query.reverse();
        let (a, b) = (
            serde_json::to_value(a).unwrap(),
            serde_json::to_value(b).unwrap(),
        );
        assert!(MetricAlarm::diff(&a, &b).is_empty());
        let mut c = b.clone();
        c["threshold"] = json!(10.0);
        c["alarm_name"] = json!("other");
        let d = MetricAlarm::diff(&a, &c);
        assert_eq!(d.changed, vec!["alarm_name", "threshold"]);
        assert_eq!(d.replace, vec!["alarm_name"]);
    }
}
