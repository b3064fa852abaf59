//! Tags: stack-wide defaults, the resource's own, and the two the engine
//! needs to adopt an interrupted create (`morket:stack`, `morket:urn`).

use std::collections::BTreeMap;

use crate::provider::{Ctx, ProviderError};

pub const URN_TAG: &str = "morket:urn";
pub const STACK_TAG: &str = "morket:stack";

pub type Tags = BTreeMap<String, String>;

/// Defaults < own tags < engine tags.
pub fn merged(defaults: &Tags, own: &Tags, ctx: &Ctx) -> Tags {
    let mut t = defaults.clone();
    t.extend(own.iter().map(|(k, v)| (k.clone(), v.clone())));
    t.insert(STACK_TAG.into(), ctx.stack.clone());
    t.insert(URN_TAG.into(), ctx.urn_tag());
    t
}

/// The part of live tags the declaration owns: engine tags and unchanged
/// defaults are left out, so drift compares like with like.
pub fn own_view(defaults: &Tags, live: &Tags) -> Tags {
    live.iter()
        .filter(|(k, v)| !k.starts_with("morket:") && defaults.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Tags to set and keys to remove to go from `old` to `new`.
pub fn changes(old: &Tags, new: &Tags) -> (Tags, Vec<String>) {
    let set = new
        .iter()
        .filter(|(k, v)| old.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let remove = old
        .keys()
        .filter(|k| !new.contains_key(*k))
        .cloned()
        .collect();
    (set, remove)
}

/// Tags to set and keys to remove when a resource's own tags go from `old` to
/// `new` (defaults and engine tags stay as they are).
pub fn own_changes(defaults: &Tags, old: &Tags, new: &Tags, ctx: &Ctx) -> (Tags, Vec<String>) {
    changes(&merged(defaults, old, ctx), &merged(defaults, new, ctx))
}

/// AWS limits: 50 tags, keys up to 128 characters, values up to 256, no `aws:` prefix.
pub fn validate(own: &Tags) -> Result<(), ProviderError> {
    if own.len() > 45 {
        return Err(ProviderError::invalid(
            "tags",
            own.len(),
            "at most 45 tags (AWS allows 50; the engine and defaults use the rest)",
        ));
    }
    for (k, v) in own {
        if k.is_empty() || k.len() > 128 {
            return Err(ProviderError::invalid(
                "tags",
                format!("{k:?}"),
                "tag keys are 1 to 128 characters",
            ));
        }
        if k.to_ascii_lowercase().starts_with("aws:") || k.starts_with("morket:") {
            return Err(ProviderError::invalid(
                "tags",
                format!("{k:?}"),
                "the aws: and morket: prefixes are reserved",
            ));
        }
        if v.len() > 256 {
            return Err(ProviderError::invalid(
                &format!("tags.{k}"),
                format!("{v:?}"),
                "tag values are at most 256 characters",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Urn;

    #[test]
    fn merge_view_and_changes() {
        let ctx = Ctx::new("s", Urn::new("s", "", "aws:ec2/Vpc", "v"));
        let defaults = Tags::from([
            ("Project".into(), "morket".into()),
            ("Env".into(), "staging".into()),
        ]);
        let own = Tags::from([
            ("Name".into(), "main".into()),
            ("Env".into(), "override".into()),
        ]);
        let m = merged(&defaults, &own, &ctx);
        assert_eq!(m["Env"], "override");
        assert_eq!(m[URN_TAG], "s::::aws:ec2/Vpc::v");
        assert_eq!(own_view(&defaults, &m), own);
        let (set, remove) = changes(&own, &Tags::from([("Name".into(), "x".into())]));
        assert_eq!(set, Tags::from([("Name".into(), "x".into())]));
        assert_eq!(remove, vec!["Env".to_string()]);
        assert!(validate(&Tags::from([("aws:x".into(), "1".into())])).is_err());
    }
}
