//! CloudWatch resource types (metric alarms, dashboards) and their shared
//! helpers.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_cloudwatch::types::Tag;

use super::call::Call;
use super::limits::TokenBucket;
use super::resource::Typed;
use super::service::Service;
use super::tags::Tags;
use super::Aws;
use crate::provider::{ProviderError, Registry};

pub mod dashboard;
pub mod metric_alarm;

pub fn register(registry: &mut Registry, aws: Arc<Aws>) {
    registry.register(Typed::<metric_alarm::MetricAlarm>::new(aws.clone()));
    registry.register(Typed::<dashboard::Dashboard>::new(aws));
}

/// CloudWatch as the call helper sees it; tags go by alarm ARN.
pub struct CloudWatch;

#[async_trait]
impl Service for CloudWatch {
    type Client = aws_sdk_cloudwatch::Client;
    const NAME: &'static str = "cloudwatch";
    const CONCURRENCY: usize = 5;

    async fn client(aws: &Aws) -> &aws_sdk_cloudwatch::Client {
        aws.cloudwatch().await
    }

    fn bucket<'a>(aws: &'a Aws, _op: &str) -> &'a TokenBucket {
        &aws.limits.cloudwatch
    }

    async fn retag(
        cx: &Call<'_, Self>,
        arn: &str,
        set: &Tags,
        remove: &[String],
    ) -> Result<(), ProviderError> {
        if !remove.is_empty() {
            cx.send("UntagResource", |c| {
                c.untag_resource()
                    .resource_arn(arn)
                    .set_tag_keys(Some(remove.to_vec()))
                    .send()
            })
            .await?;
        }
        if !set.is_empty() {
            cx.send("TagResource", |c| {
                c.tag_resource()
                    .resource_arn(arn)
                    .set_tags(Some(to_tags(set)))
                    .send()
            })
            .await?;
        }
        Ok(())
    }
}

pub fn to_tags(t: &Tags) -> Vec<Tag> {
    t.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// The tags of an alarm.
pub async fn live_tags(cx: &Call<'_, CloudWatch>, arn: &str) -> Result<Tags, ProviderError> {
    let out = cx
        .send("ListTagsForResource", |c| {
            c.list_tags_for_resource().resource_arn(arn).send()
        })
        .await?;
    Ok(out
        .tags()
        .iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
        .collect())
}

/// Metric and expression ids (alarm metric queries, dashboard lines): a
/// lowercase letter first, then letters, digits and `_`.
pub fn check_query_id(field: &str, id: &str) -> Result<(), ProviderError> {
    let mut c = id.chars();
    let ok = c.next().is_some_and(|f| f.is_ascii_lowercase())
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
        && id.len() <= 255;
    if ok {
        Ok(())
    } else {
        Err(ProviderError::invalid(
            field,
            format!("{id:?}"),
            "a lowercase letter, then letters, digits and '_' (at most 255)",
        ))
    }
}

/// CloudWatch's statistics (percentiles go in `extended_statistic`).
pub const STATISTICS: &[&str] = &["SampleCount", "Average", "Sum", "Minimum", "Maximum"];

/// A statistic a metric query, a dashboard line or an extended statistic
/// takes: one of [`STATISTICS`] or a percentile-like one (`p99`, `p99.9`,
/// `tm90`, `TM(10%:90%)`, `IQM`...).
pub fn check_stat(field: &str, s: &str, extended_only: bool) -> Result<(), ProviderError> {
    let plain = STATISTICS.contains(&s);
    let lower = s.to_ascii_lowercase();
    let extended = ["p", "tm", "wm", "tc", "ts", "pr"].iter().any(|p| {
        lower.strip_prefix(p).is_some_and(|r| {
            !r.is_empty() && r.chars().all(|c| c.is_ascii_digit() || ".()%:".contains(c))
        })
    }) || lower == "iqm";
    if extended || (plain && !extended_only) {
        return Ok(());
    }
    Err(ProviderError::invalid(
        field,
        format!("{s:?}"),
        if extended_only {
            "a percentile or trimmed statistic such as p99, p99.9, tm90, IQM".to_string()
        } else {
            format!("one of {STATISTICS:?} or a percentile such as p99")
        },
    ))
}

/// Periods CloudWatch takes: 10, 20, 30 (high resolution) or a multiple of 60.
pub fn check_period(field: &str, p: i32) -> Result<(), ProviderError> {
    if matches!(p, 10 | 20 | 30) || (p >= 60 && p % 60 == 0) {
        return Ok(());
    }
    Err(ProviderError::invalid(
        field,
        p,
        "seconds: 10, 20, 30 or a multiple of 60",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_stats_and_periods() {
        assert!(check_query_id("id", "m1").is_ok());
        assert!(check_query_id("id", "errors_5xx").is_ok());
        let e = check_query_id("metric_query[0].id", "M1")
            .unwrap_err()
            .to_string();
        assert!(e.contains("metric_query[0].id") && e.contains("M1"), "{e}");
        assert!(check_query_id("id", "1m").is_err());
        assert!(check_stat("s", "Average", false).is_ok());
        assert!(check_stat("s", "p99.9", false).is_ok());
        assert!(check_stat("s", "Average", true).is_err());
        assert!(check_stat("s", "Mean", false).is_err());
        assert!(check_period("p", 300).is_ok());
        assert!(check_period("p", 10).is_ok());
        assert!(check_period("p", 90)
            .unwrap_err()
            .to_string()
            .contains("90"));
    }
}
