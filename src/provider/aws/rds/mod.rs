//! RDS resource types (Aurora PostgreSQL clusters and their instances, plain
//! PostgreSQL instances, subnet and parameter groups), the [`Rds`] service
//! (client, rate limit, tags by ARN) and the checks they share.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_rds::types::Tag;
use serde::{Deserialize, Serialize};

use super::call::Call;
use super::limits::TokenBucket;
use super::resource::Typed;
use super::service::Service;
use super::tags::{self, Tags};
use super::validate::one_of;
use super::Aws;
use crate::model::Input;
use crate::provider::{ProviderError, Registry};

pub mod cluster;
pub mod cluster_instance;
pub mod cluster_parameter_group;
mod db;
pub mod instance;
pub mod parameter_group;
pub mod parameter_groups;
pub mod subnet_group;

pub fn register(registry: &mut Registry, aws: Arc<Aws>) {
    registry
        .register(Typed::<subnet_group::DbSubnetGroup>::new(aws.clone()))
        .register(Typed::<cluster_parameter_group::DbClusterParameterGroup>::new(aws.clone()))
        .register(Typed::<parameter_group::DbParameterGroup>::new(aws.clone()))
        .register(Typed::<cluster::DbCluster>::new(aws.clone()))
        .register(Typed::<cluster_instance::DbClusterInstance>::new(
            aws.clone(),
        ))
        .register(Typed::<instance::DbInstance>::new(aws));
}

/// RDS as the call helper sees it: one rate limit, objects tagged by ARN.
pub struct Rds;

#[async_trait]
impl Service for Rds {
    type Client = aws_sdk_rds::Client;
    const NAME: &'static str = "rds";
    const CONCURRENCY: usize = 10;

    async fn client(aws: &Aws) -> &aws_sdk_rds::Client {
        aws.rds().await
    }

    fn bucket<'a>(aws: &'a Aws, _op: &str) -> &'a TokenBucket {
        &aws.limits.rds
    }

    async fn retag(
        cx: &Call<'_, Self>,
        arn: &str,
        set: &Tags,
        remove: &[String],
    ) -> Result<(), ProviderError> {
        if !remove.is_empty() {
            cx.send("RemoveTagsFromResource", |c| {
                c.remove_tags_from_resource()
                    .resource_name(arn)
                    .set_tag_keys(Some(remove.to_vec()))
                    .send()
            })
            .await?;
        }
        if !set.is_empty() {
            cx.send("AddTagsToResource", |c| {
                c.add_tags_to_resource()
                    .resource_name(arn)
                    .set_tags(Some(to_tags(set)))
                    .send()
            })
            .await?;
        }
        Ok(())
    }
}

impl Call<'_, Rds> {
    /// Every tag for the create call (defaults, own, engine tags), so the
    /// object is never untagged.
    pub fn create_tags(&self, own: &Tags) -> Vec<Tag> {
        to_tags(&self.all_tags(own))
    }

    /// All tags of the object `arn` (groups carry no `TagList`).
    pub async fn tags_of(&self, arn: &str) -> Result<Tags, ProviderError> {
        let out = self
            .send("ListTagsForResource", |c| {
                c.list_tags_for_resource().resource_name(arn).send()
            })
            .await?;
        Ok(from_tags(out.tag_list()))
    }

    /// Whether live tags carry this resource's URN.
    pub fn is_ours(&self, live: &Tags) -> bool {
        live.get(tags::URN_TAG)
            .is_some_and(|v| self.ctx.urn_tag_matches(v))
    }
}

pub fn to_tags(t: &Tags) -> Vec<Tag> {
    t.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

pub fn from_tags(t: &[Tag]) -> Tags {
    t.iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or("").to_string())))
        .collect()
}

pub(crate) use crate::provider::require_all;

pub(crate) use crate::provider::require_opt;

/// Strings as plain inputs, sorted (the API returns sets in its own order).
pub(crate) fn input_vec(mut v: Vec<String>) -> Vec<Input<String>> {
    v.sort();
    v.into_iter().map(Input::Value).collect()
}

/// Compares two id lists as sets (known values only).
pub(crate) fn same_set(a: &[Input<String>], b: &[Input<String>]) -> bool {
    let key = |v: &[Input<String>]| {
        let mut k: Vec<Option<String>> = v.iter().map(|s| s.known().cloned()).collect();
        k.sort();
        k
    };
    key(a) == key(b)
}

/// RDS identifiers (clusters, instances, groups): 1 to `max` characters,
/// lowercase letters, digits and hyphens, starting with a letter, no trailing
/// hyphen and no two consecutive hyphens.
pub fn check_identifier(field: &str, id: &str, max: usize) -> Result<(), ProviderError> {
    let bad = |why: &str| ProviderError::invalid(field, format!("{id:?}"), why.to_string());
    if id.is_empty() || id.len() > max {
        return Err(bad(&format!("must be 1 to {max} characters")));
    }
    if !id.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(bad("must start with a lowercase letter"));
    }
    if !id
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(bad("only lowercase letters, digits and hyphens"));
    }
    if id.ends_with('-') || id.contains("--") {
        return Err(bad(
            "must not end with a hyphen or contain two consecutive hyphens",
        ));
    }
    Ok(())
}

/// Checks an `Input<String>` identifier when its value is known.
pub(crate) fn check_identifier_input(
    field: &str,
    id: &Input<String>,
    max: usize,
) -> Result<(), ProviderError> {
    match id.known() {
        Some(v) => check_identifier(field, v, max),
        None => Ok(()),
    }
}

/// Checks a `hh24:mi-hh24:mi` window (UTC) of at least `min_minutes`.
pub fn check_backup_window(field: &str, w: &str, min_minutes: u32) -> Result<(), ProviderError> {
    let bad = |why: &str| ProviderError::invalid(field, format!("{w:?}"), why.to_string());
    let parse = |s: &str| -> Option<u32> {
        let (h, m) = s.split_once(':')?;
        if h.len() != 2 || m.len() != 2 {
            return None;
        }
        let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
        (h < 24 && m < 60).then_some(h * 60 + m)
    };
    let (a, b) = w
        .split_once('-')
        .ok_or_else(|| bad("expected hh24:mi-hh24:mi, e.g. 03:00-04:00"))?;
    let (a, b) = match (parse(a), parse(b)) {
        (Some(a), Some(b)) => (a, b),
        _ => return Err(bad("expected hh24:mi-hh24:mi, e.g. 03:00-04:00")),
    };
    let len = (b + 24 * 60 - a) % (24 * 60);
    if len < min_minutes {
        return Err(bad(&format!(
            "the window must be at least {min_minutes} minutes"
        )));
    }
    Ok(())
}

/// Checks a `ddd:hh24:mi-ddd:hh24:mi` maintenance window of at least 30 minutes.
pub fn check_maintenance_window(field: &str, w: &str) -> Result<(), ProviderError> {
    let bad = || {
        ProviderError::invalid(
            field,
            format!("{w:?}"),
            "expected ddd:hh24:mi-ddd:hh24:mi (UTC, at least 30 minutes), e.g. sun:05:00-sun:06:00",
        )
    };
    const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let parse = |s: &str| -> Option<u32> {
        let mut p = s.splitn(3, ':');
        let day = p.next()?.to_ascii_lowercase();
        let d = DAYS.iter().position(|d| *d == day)? as u32;
        let (h, m) = (p.next()?, p.next()?);
        if h.len() != 2 || m.len() != 2 {
            return None;
        }
        let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
        (h < 24 && m < 60).then_some(d * 1440 + h * 60 + m)
    };
    let (a, b) = w.split_once('-').ok_or_else(bad)?;
    let (a, b) = (parse(a).ok_or_else(bad)?, parse(b).ok_or_else(bad)?);
    if (b + 7 * 1440 - a) % (7 * 1440) < 30 {
        return Err(bad());
    }
    Ok(())
}

/// One parameter of a (cluster) parameter group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Parameter {
    pub name: String,
    pub value: String,
    /// `immediate` or `pending-reboot`. Request-only: AWS does not return
    /// it, so reads keep the declared one and it takes no part in changes.
    #[serde(default = "immediate")]
    pub apply_method: String,
}

fn immediate() -> String {
    "immediate".into()
}

impl Parameter {
    pub fn new(name: &str, value: &str) -> Self {
        Parameter {
            name: name.into(),
            value: value.into(),
            apply_method: immediate(),
        }
    }
}

pub(crate) fn check_parameters(ps: &[Parameter]) -> Result<(), ProviderError> {
    let mut seen = std::collections::BTreeSet::new();
    for (i, p) in ps.iter().enumerate() {
        if p.name.is_empty() {
            return Err(ProviderError::invalid(
                &format!("parameters[{i}].name"),
                "\"\"",
                "must not be empty",
            ));
        }
        if !seen.insert(p.name.as_str()) {
            return Err(ProviderError::invalid(
                &format!("parameters[{i}].name"),
                format!("{:?}", p.name),
                "declared twice",
            ));
        }
        one_of(
            &format!("parameters[{i}].apply_method"),
            &p.apply_method,
            &["immediate", "pending-reboot"],
        )?;
    }
    Ok(())
}

/// Parameters to set and to reset to go from `old` to `new`; a parameter
/// whose value is unchanged is left alone whatever its `apply_method`.
pub(crate) fn parameter_changes(
    old: &[Parameter],
    new: &[Parameter],
) -> (Vec<Parameter>, Vec<Parameter>) {
    let set = new
        .iter()
        .filter(|p| !old.iter().any(|o| o.name == p.name && o.value == p.value))
        .cloned()
        .collect();
    let reset = old
        .iter()
        .filter(|p| !new.iter().any(|n| n.name == p.name))
        .cloned()
        .collect();
    (set, reset)
}

/// Live user-set parameters as the declaration would write them: in its
/// order (undeclared ones after), with its `apply_method` (or `immediate`).
pub(crate) fn live_parameters(
    live: Vec<(String, String)>,
    declared: &[Parameter],
) -> Vec<Parameter> {
    let method = |name: &str| {
        declared
            .iter()
            .find(|d| d.name == name)
            .map_or_else(immediate, |d| d.apply_method.clone())
    };
    let mut out: Vec<Parameter> = live
        .into_iter()
        .map(|(name, value)| Parameter {
            apply_method: method(&name),
            name,
            value,
        })
        .collect();
    let rank = |p: &Parameter| {
        declared
            .iter()
            .position(|d| d.name == p.name)
            .unwrap_or(declared.len())
    };
    out.sort_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| a.name.cmp(&b.name)));
    out
}

/// Modify and reset accept at most 20 parameters per call.
pub(crate) const PARAMETERS_PER_CALL: usize = 20;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_windows_and_parameters() {
        assert!(check_identifier("cluster_identifier", "morket-staging-1", 63).is_ok());
        for bad in ["", "1abc", "Abc", "a_b", "a--b", "ab-", &"a".repeat(64)] {
            let e = check_identifier("cluster_identifier", bad, 63).unwrap_err();
            assert!(e.to_string().contains("cluster_identifier"), "{e}");
        }
        assert!(check_backup_window("w", "03:00-03:30", 30).is_ok());
        assert!(check_backup_window("w", "23:45-00:15", 30).is_ok());
        assert!(check_backup_window("w", "03:00-03:29", 30).is_err());
        assert!(check_backup_window("w", "3:00-04:00", 30).is_err());
        assert!(check_backup_window("w", "25:00-26:00", 30).is_err());
        assert!(check_maintenance_window("m", "sun:05:00-sun:06:00").is_ok());
        assert!(check_maintenance_window("m", "sat:23:50-sun:00:30").is_ok());
        assert!(check_maintenance_window("m", "sun:05:00-sun:05:10").is_err());
        assert!(check_maintenance_window("m", "xyz:05:00-sun:06:00").is_err());
        let (a, b) = (Parameter::new("a", "1"), Parameter::new("b", "2"));
        let (set, reset) = parameter_changes(&[a.clone(), b.clone()], &[Parameter::new("a", "3")]);
        assert_eq!(set, vec![Parameter::new("a", "3")]);
        assert_eq!(reset, vec![b.clone()]);
        assert!(check_parameters(&[a.clone(), a.clone()]).is_err());
        let mut c = a.clone();
        c.apply_method = "later".into();
        assert!(check_parameters(std::slice::from_ref(&c)).is_err());
        // apply_method alone is no change (AWS does not return it).
        c.apply_method = "pending-reboot".into();
        assert!(
            parameter_changes(std::slice::from_ref(&a), std::slice::from_ref(&c))
                .0
                .is_empty()
        );
        // Reads keep the declared order and apply_method.
        let live = vec![
            ("b".to_string(), "2".to_string()),
            ("a".to_string(), "1".to_string()),
            ("z".to_string(), "9".to_string()),
        ];
        let got = live_parameters(live, &[c.clone(), b.clone()]);
        assert_eq!(got, vec![c, b, Parameter::new("z", "9")]);
    }
}
