//! `aws:logs/MetricFilter` (Terraform `aws_cloudwatch_log_metric_filter`): a
//! pattern over a log group's events that counts (or extracts) a metric. The
//! name and the group are the identity and force a replacement; the pattern
//! and the transformation change in place (PutMetricFilter again). The id is
//! `<group>:<name>` (neither may contain a colon).
//!
//! Metric filters carry no tags, and PutMetricFilter overwrites a filter of
//! the same name: a create first looks, and carries on only from a filter
//! exactly as declared (our own, from an interrupted attempt); `find` is
//! asked only for a URN whose state records a create in flight, and also
//! takes only an exact match. A filter of that name with another pattern or
//! metric is someone else's (or changed by hand) and is an error.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_cloudwatchlogs::types::{
    MetricFilter as CwFilter, MetricTransformation as CwTransformation, StandardUnit,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{check_log_group_name, Logs};
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::call::{Call, Retry};
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::schema::{Schema, Tf};
use crate::provider::ProviderError;

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricFilter {
    /// 1 to 512 characters, no `:` or `*`.
    pub name: String,
    pub log_group_name: Input<String>,
    /// CloudWatch Logs filter syntax: `ERROR`, `{ $.level = "ERROR" }`; empty
    /// matches every event.
    pub pattern: String,
    pub metric_transformation: MetricTransformation,
}

/// The metric a match publishes.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricTransformation {
    pub name: String,
    pub namespace: String,
    /// Published per match: `1`, or a field of the event (`$.latency`).
    pub value: String,
    /// Published when nothing matched in a period (not with `dimensions`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_value: Option<f64>,
    /// Dimension name to event field (`$.service`); at most 3.
    pub dimensions: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

impl MetricFilter {
    /// Counts events matching `pattern` as 1 each into `namespace`/`metric`,
    /// 0 when none matched.
    pub fn count(
        name: &str,
        log_group_name: impl Into<Input<String>>,
        pattern: &str,
        namespace: &str,
        metric: &str,
    ) -> Self {
        MetricFilter {
            name: name.into(),
            log_group_name: log_group_name.into(),
            pattern: pattern.into(),
            metric_transformation: MetricTransformation {
                name: metric.into(),
                namespace: namespace.into(),
                value: "1".into(),
                default_value: Some(0.0),
                ..Default::default()
            },
        }
    }
}

impl ResourceArgs for MetricFilter {
    const TYPE: &'static str = "aws:logs/MetricFilter";
}

impl Resource<MetricFilter> {
    pub fn name(&self) -> Output<String> {
        self.output("name")
    }
    /// The metric's name and namespace, for an alarm on it.
    pub fn metric_name(&self) -> Output<String> {
        self.output("metric_name")
    }
    pub fn metric_namespace(&self) -> Output<String> {
        self.output("metric_namespace")
    }
}

/// Another filter change on the same group in flight (AWS serialises them).
const BUSY: Retry = Retry::conflict(&["OperationAbortedException"], Duration::from_secs(120));

fn split_id(id: &str) -> Result<(&str, &str), ProviderError> {
    id.split_once(':').ok_or_else(|| {
        ProviderError::invalid("id", format!("{id:?}"), "<log group name>:<filter name>")
    })
}

/// The filter of exactly this name (the API filters by prefix); `None` when
/// it or its group does not exist.
async fn describe(
    cx: &Call<'_, Logs>,
    group: &str,
    name: &str,
) -> Result<Option<CwFilter>, ProviderError> {
    let pages = cx
        .pages(
            "DescribeMetricFilters",
            cx.client()
                .await
                .describe_metric_filters()
                .log_group_name(group)
                .filter_name_prefix(name)
                .into_paginator()
                .send(),
        )
        .await;
    let pages = match pages {
        Err(ProviderError::NotFound(_)) => return Ok(None),
        p => p?,
    };
    // AWS has one filter per name; moto 5.2.5 appends a copy on every
    // PutMetricFilter and lists the newest last.
    Ok(pages
        .iter()
        .flat_map(|p| p.metric_filters())
        .rfind(|f| f.filter_name() == Some(name))
        .cloned())
}

fn live_args(f: &CwFilter) -> MetricFilter {
    let t = f.metric_transformations().first();
    MetricFilter {
        name: f.filter_name().unwrap_or_default().into(),
        log_group_name: Input::Value(f.log_group_name().unwrap_or_default().into()),
        pattern: f.filter_pattern().unwrap_or_default().into(),
        metric_transformation: MetricTransformation {
            name: t.map(|t| t.metric_name()).unwrap_or_default().into(),
            namespace: t.map(|t| t.metric_namespace()).unwrap_or_default().into(),
            value: t.map(|t| t.metric_value()).unwrap_or_default().into(),
            default_value: t.and_then(|t| t.default_value()),
            dimensions: t
                .and_then(|t| t.dimensions())
                .map(|d| d.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
            // AWS reports `None` for a metric without a unit.
            unit: t
                .and_then(|t| t.unit())
                .map(|u| u.as_str().to_string())
                .filter(|u| u != "None"),
        },
    }
}

impl MetricFilter {
    async fn put(&self, cx: &Call<'_, Logs>) -> Result<(), ProviderError> {
        let group = self.log_group_name.require("log_group_name")?;
        let m = &self.metric_transformation;
        let t = CwTransformation::builder()
            .metric_name(&m.name)
            .metric_namespace(&m.namespace)
            .metric_value(&m.value)
            .set_default_value(m.default_value)
            .set_dimensions(if m.dimensions.is_empty() {
                None
            } else {
                Some(m.dimensions.clone().into_iter().collect::<HashMap<_, _>>())
            })
            .set_unit(m.unit.as_deref().map(StandardUnit::from))
            .build()
            .map_err(|e| {
                ProviderError::invalid("metric_transformation", "(incomplete)", e.to_string())
            })?;
        // The group may be moments old (Terraform retries its not-found too).
        cx.send_retrying("PutMetricFilter", &[Retry::NEW_OBJECT, BUSY], |c| {
            c.put_metric_filter()
                .log_group_name(group)
                .filter_name(&self.name)
                .filter_pattern(&self.pattern)
                .metric_transformations(t.clone())
                .send()
        })
        .await
        .map(drop)
    }
}

fn check_metric_part(field: &str, v: &str) -> Result<(), ProviderError> {
    if v.is_empty() || v.len() > 255 || v.contains([':', '*', '$']) {
        return Err(ProviderError::invalid(
            field,
            format!("{v:?}"),
            "1 to 255 characters, no ':', '*' or '$'",
        ));
    }
    Ok(())
}

#[async_trait]
impl AwsResource for MetricFilter {
    type Service = Logs;
    const SCHEMA: Schema = Schema {
        force_new: &["name", "log_group_name"],
        unique_name: &["name", "log_group_name"],
        terraform: &[Tf {
            resource: "aws_cloudwatch_log_metric_filter",
            args: &[
                ("name", "name"),
                ("log_group_name", "log_group_name"),
                ("pattern", "pattern"),
                ("metric_transformation", "metric_transformation"),
            ],
            import_id: "{log_group_name}:{name}",
        }],
        ..Schema::NONE
    };

    fn check(&self) -> Result<(), ProviderError> {
        let n = &self.name;
        if n.is_empty() || n.len() > 512 || n.contains([':', '*']) {
            return Err(ProviderError::invalid(
                "name",
                format!("{n:?}"),
                "1 to 512 characters, no ':' or '*'",
            ));
        }
        if let Some(g) = self.log_group_name.known() {
            check_log_group_name("log_group_name", g)?;
        }
        if self.pattern.len() > 1024 {
            return Err(ProviderError::invalid(
                "pattern",
                format!("{:?}...", self.pattern.chars().take(40).collect::<String>()),
                "at most 1024 characters",
            ));
        }
        // A JSON pattern must close its brace (AWS: "Invalid metric filter pattern").
        let p = self.pattern.trim();
        if p.starts_with('{') != p.ends_with('}') {
            return Err(ProviderError::invalid(
                "pattern",
                format!("{:?}", self.pattern),
                "a JSON pattern is enclosed in { }",
            ));
        }
        let m = &self.metric_transformation;
        check_metric_part("metric_transformation.name", &m.name)?;
        check_metric_part("metric_transformation.namespace", &m.namespace)?;
        if m.value.is_empty() || m.value.len() > 100 {
            return Err(ProviderError::invalid(
                "metric_transformation.value",
                format!("{:?}", m.value),
                "1 to 100 characters: a number or a field of the event ($.latency)",
            ));
        }
        if m.dimensions.len() > 3 {
            return Err(ProviderError::invalid(
                "metric_transformation.dimensions",
                m.dimensions.len(),
                "at most 3 dimensions",
            ));
        }
        if !m.dimensions.is_empty() && m.default_value.is_some() {
            return Err(ProviderError::invalid(
                "metric_transformation.default_value",
                m.default_value.unwrap_or_default(),
                "cannot go with dimensions",
            ));
        }
        if let Some(u) = &m.unit {
            let all = StandardUnit::values();
            if !all.contains(&u.as_str()) {
                return Err(ProviderError::invalid(
                    "metric_transformation.unit",
                    format!("{u:?}"),
                    format!("must be one of {all:?}"),
                ));
            }
        }
        Ok(())
    }

    async fn create(&self, cx: &Call<'_, Logs>) -> Result<String, ProviderError> {
        let group = self.log_group_name.require("log_group_name")?;
        let id = format!("{group}:{}", self.name);
        if let Some(f) = describe(cx, group, &self.name).await? {
            if live_args(&f) == *self {
                return Ok(id);
            }
            return Err(cx.fatal(format!(
                "log group {group} already has a metric filter named {:?} with another pattern or metric",
                self.name
            )));
        }
        self.put(cx).await?;
        Ok(id)
    }

    async fn read(
        cx: &Call<'_, Logs>,
        id: &str,
        _declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError> {
        let (group, name) = split_id(id)?;
        let Some(f) = describe(cx, group, name).await? else {
            return Ok(None);
        };
        let args = live_args(&f);
        let outputs = json!({
            "id": id,
            "name": name,
            "log_group_name": group,
            "metric_name": args.metric_transformation.name,
            "metric_namespace": args.metric_transformation.namespace,
        });
        Ok(Some(Live { args, outputs }))
    }

    async fn update(
        &self,
        old: &Self,
        cx: &Call<'_, Logs>,
        _id: &str,
    ) -> Result<(), ProviderError> {
        if old != self {
            self.put(cx).await?;
        }
        Ok(())
    }

    async fn delete(&self, cx: &Call<'_, Logs>, id: &str) -> Result<(), ProviderError> {
        let (group, name) = split_id(id)?;
        cx.send_retrying("DeleteMetricFilter", &[BUSY], |c| {
            c.delete_metric_filter()
                .log_group_name(group)
                .filter_name(name)
                .send()
        })
        .await
        .map(drop)
    }

    async fn find(&self, cx: &Call<'_, Logs>) -> Result<Vec<String>, ProviderError> {
        // See the module comment: only an exact match of the declaration.
        let Some(group) = self.log_group_name.known() else {
            return Ok(Vec::new());
        };
        Ok(match describe(cx, group, &self.name).await? {
            Some(f) if live_args(&f) == *self => vec![format!("{group}:{}", self.name)],
            _ => Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors() -> MetricFilter {
        MetricFilter::count(
            "errors",
            "/morket/backend",
            "{ $.level = \"ERROR\" }",
            "Morket",
            "BackendErrors",
        )
    }

    #[test]
    fn validation_names_field_and_value() {
        assert!(errors().check().is_ok());
        let e = MetricFilter {
            name: "a:b".into(),
            ..errors()
        }
        .check()
        .unwrap_err()
        .to_string();
        assert!(e.contains("name") && e.contains("a:b"), "{e}");
        let e = MetricFilter {
            pattern: "{ $.level = \"ERROR\"".into(),
            ..errors()
        }
        .check()
        .unwrap_err()
        .to_string();
        assert!(e.contains("pattern") && e.contains("ERROR"), "{e}");
        let mut m = errors();
        m.metric_transformation.namespace = "Mor*ket".into();
        let e = m.check().unwrap_err().to_string();
        assert!(
            e.contains("metric_transformation.namespace") && e.contains("Mor*ket"),
            "{e}"
        );
        let mut m = errors();
        m.metric_transformation.unit = Some("Parsecs".into());
        let e = m.check().unwrap_err().to_string();
        assert!(
            e.contains("metric_transformation.unit") && e.contains("Parsecs"),
            "{e}"
        );
        let mut m = errors();
        m.metric_transformation
            .dimensions
            .insert("Service".into(), "$.service".into());
        assert!(m.check().unwrap_err().to_string().contains("default_value"));
        let e = MetricFilter {
            log_group_name: "bad group".into(),
            ..errors()
        }
        .check()
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("log_group_name") && e.contains("bad group"),
            "{e}"
        );
    }
}
