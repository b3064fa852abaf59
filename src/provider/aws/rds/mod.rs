//! RDS resource types (Aurora PostgreSQL clusters and their instances, plain
//! PostgreSQL instances, subnet and parameter groups) and their shared helpers.

use std::sync::Arc;

use aws_sdk_rds::types::{ApplyMethod, Parameter as RdsParameter, Tag};
use serde::{Deserialize, Serialize};

use super::error;
use super::tags::{self, Tags};
use super::Aws;
use crate::model::Input;
use crate::provider::{Ctx, ProviderError, Registry};

pub mod cluster;
pub mod cluster_instance;
pub mod cluster_parameter_group;
mod db;
pub mod instance;
pub mod parameter_group;
mod parameter_groups;
pub mod subnet_group;

pub fn register(registry: &mut Registry, aws: Arc<Aws>) {
    registry
        .register(subnet_group::DbSubnetGroupProvider::new(aws.clone()))
        .register(cluster_parameter_group::DbClusterParameterGroupProvider::new(aws.clone()))
        .register(parameter_group::DbParameterGroupProvider::new(aws.clone()))
        .register(cluster::DbClusterProvider::new(aws.clone()))
        .register(cluster_instance::DbClusterInstanceProvider::new(
            aws.clone(),
        ))
        .register(instance::DbInstanceProvider::new(aws));
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

/// Every tag for the create call: defaults, own, engine tags.
pub(crate) fn create_tags(aws: &Aws, ctx: &Ctx, own: &Tags) -> Vec<Tag> {
    to_tags(&tags::merged(&aws.settings.default_tags, own, ctx))
}

/// Whether a live tag list carries this resource's URN.
pub(crate) fn has_urn(ctx: &Ctx, t: &[Tag]) -> bool {
    t.iter().any(|t| {
        t.key() == Some(tags::URN_TAG) && t.value().is_some_and(|v| ctx.urn_tag_matches(v))
    })
}

/// The tags of an RDS resource by ARN (groups do not carry `TagList`).
pub(crate) async fn list_tags(aws: &Aws, ctx: &Ctx, arn: &str) -> Result<Vec<Tag>, ProviderError> {
    aws.limits.rds.acquire().await;
    let out = aws
        .rds()
        .await
        .list_tags_for_resource()
        .resource_name(arn)
        .send()
        .await
        .map_err(|e| error::map(&ctx.urn, "ListTagsForResource", e))?;
    Ok(out.tag_list().to_vec())
}

/// Applies a change of the resource's own tags (defaults and engine tags stay).
pub(crate) async fn update_tags(
    aws: &Aws,
    ctx: &Ctx,
    arn: &str,
    old: &Tags,
    new: &Tags,
) -> Result<(), ProviderError> {
    let (set, remove) = tags::own_changes(&aws.settings.default_tags, old, new, ctx);
    let rds = aws.rds().await;
    if !remove.is_empty() {
        aws.limits.rds.acquire().await;
        rds.remove_tags_from_resource()
            .resource_name(arn)
            .set_tag_keys(Some(remove))
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "RemoveTagsFromResource", e))?;
    }
    if !set.is_empty() {
        aws.limits.rds.acquire().await;
        rds.add_tags_to_resource()
            .resource_name(arn)
            .set_tags(Some(to_tags(&set)))
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "AddTagsToResource", e))?;
    }
    Ok(())
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

/// The known value of an input (at apply time every input is known).
pub(crate) fn known<'a>(
    ctx: &Ctx,
    field: &str,
    v: &'a Input<String>,
) -> Result<&'a str, ProviderError> {
    v.known().map(String::as_str).ok_or_else(|| {
        ProviderError::Fatal(format!("{}: {field} is not known at apply time", ctx.urn))
    })
}

pub(crate) fn known_opt<'a>(
    ctx: &Ctx,
    field: &str,
    v: &'a Option<Input<String>>,
) -> Result<Option<&'a str>, ProviderError> {
    v.as_ref().map(|v| known(ctx, field, v)).transpose()
}

pub(crate) fn known_vec(
    ctx: &Ctx,
    field: &str,
    v: &[Input<String>],
) -> Result<Vec<String>, ProviderError> {
    v.iter()
        .map(|s| known(ctx, field, s).map(str::to_string))
        .collect()
}

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
    /// `immediate` or `pending-reboot`.
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
        if !matches!(p.apply_method.as_str(), "immediate" | "pending-reboot") {
            return Err(ProviderError::invalid(
                &format!("parameters[{i}].apply_method"),
                format!("{:?}", p.apply_method),
                "must be \"immediate\" or \"pending-reboot\"",
            ));
        }
    }
    Ok(())
}

pub(crate) fn to_rds_parameter(p: &Parameter) -> RdsParameter {
    RdsParameter::builder()
        .parameter_name(&p.name)
        .parameter_value(&p.value)
        .apply_method(ApplyMethod::from(p.apply_method.as_str()))
        .build()
}

/// Parameters to set and names to reset to go from `old` to `new`.
pub(crate) fn parameter_changes(
    old: &[Parameter],
    new: &[Parameter],
) -> (Vec<Parameter>, Vec<Parameter>) {
    let set = new.iter().filter(|p| !old.contains(p)).cloned().collect();
    let reset = old
        .iter()
        .filter(|p| !new.iter().any(|n| n.name == p.name))
        .cloned()
        .collect();
    (set, reset)
}

/// Live user-set parameters, sorted by name.
pub(crate) fn from_rds_parameters(ps: &[RdsParameter]) -> Vec<Parameter> {
    let mut v: Vec<Parameter> = ps
        .iter()
        .filter_map(|p| {
            Some(Parameter {
                name: p.parameter_name()?.to_string(),
                value: p.parameter_value().unwrap_or("").to_string(),
                apply_method: p
                    .apply_method()
                    .map(|m| m.as_str().to_string())
                    .unwrap_or_else(immediate),
            })
        })
        .collect();
    v.sort_by(|a, b| a.name.cmp(&b.name));
    v
}

/// Orders the live parameters like the declaration, so a read compares like with like.
pub(crate) fn order_like(live: Vec<Parameter>, declared: &[Parameter]) -> Vec<Parameter> {
    let mut out: Vec<Parameter> = declared
        .iter()
        .filter_map(|d| live.iter().find(|l| l.name == d.name).cloned())
        .collect();
    out.extend(
        live.into_iter()
            .filter(|l| !declared.iter().any(|d| d.name == l.name)),
    );
    out
}

/// Modify and reset accept at most 20 parameters per call.
pub(crate) const PARAMETERS_PER_CALL: usize = 20;

/// Maps an error to `Ok(None)` when it says the resource is gone.
pub(crate) fn none_if_gone<T>(r: Result<T, ProviderError>) -> Result<Option<T>, ProviderError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(ProviderError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

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
        let mut c = a;
        c.apply_method = "later".into();
        assert!(check_parameters(&[c]).is_err());
    }
}
