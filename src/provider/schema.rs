//! A type's schema table: Terraform's per-field flags (ForceNew, Computed,
//! Sensitive, DiffSuppressFunc) as data, and the Terraform resources the type
//! becomes. The diff, the read contract, drift and the Terraform export all
//! read it; type code never repeats it. Pure data and pure functions.

use serde_json::Value;

#[derive(Debug, Clone, Copy)]
pub struct Schema {
    /// Inputs whose change forces a replacement (Terraform's ForceNew).
    pub force_new: &'static [&'static str],
    /// Inputs that together name the object in its account: a replacement
    /// that keeps them deletes first.
    pub unique_name: &'static [&'static str],
    /// Outputs an in-place update may change (unknown in a preview).
    pub computed_on_update: &'static [&'static str],
    /// Optional inputs AWS fills in when left out (Optional + Computed):
    /// read reports them only when declared.
    pub optional_computed: &'static [&'static str],
    /// Inputs AWS never returns (passwords, request-only flags): read keeps
    /// the declared value.
    pub write_only: &'static [&'static str],
    /// Outputs sealed in state.
    pub secret_outputs: &'static [&'static str],
    /// How a live value that means the declared one is recognised.
    pub normalize: &'static [(&'static str, Norm)],
    /// The Terraform resources this type becomes, in export order.
    pub terraform: &'static [Tf],
    /// Outputs whose Terraform attribute (of the first resource) has
    /// another name: (output, attribute). An output `name:KEY` (one per
    /// key) maps from `name:` to `list[field].attr`: the element of `list`
    /// whose `field` is KEY.
    pub tf_attrs: &'static [(&'static str, &'static str)],
    /// Inputs whose Terraform value is spelled otherwise.
    pub tf_values: &'static [(&'static str, Conv)],
}

/// How an input's value is written in Terraform.
#[derive(Debug, Clone, Copy)]
pub enum Conv {
    /// `true` / `false` → `"Enabled"` / `"Disabled"` (S3 rule status).
    EnabledDisabled,
    /// `v` → `{KEY: v}`: a value Terraform wraps in a block of its own
    /// (CloudFront `cookies { forward = ... }`).
    Nest(&'static str),
    /// A reference to another output of the same resource (a flow log's
    /// group by name in the engine, by ARN in Terraform 6).
    RefAttr(&'static str),
    /// A JSON document Terraform takes as a string: written
    /// `jsonencode(..)` of what the function makes of the value, the same
    /// function that builds the request body (ECS container definitions,
    /// ECR lifecycle policy, dashboard body).
    Json(fn(&Value) -> Value),
    /// `v` → `NAME(v)`: a Terraform function applied to the value
    /// (`base64encode` for launch template user data).
    Call(&'static str),
}

/// The marker a [`Conv::Json`] or [`Conv::Call`] leaves:
/// `{"$fn": [NAME, value]}`.
pub const FN: &str = "$fn";

/// `(function, argument)` of a `$fn` marker.
pub fn as_fn(v: &Value) -> Option<(&str, &Value)> {
    match crate::value::marker(v, FN)?.as_array()?.as_slice() {
        [Value::String(f), arg] => Some((f, arg)),
        _ => None,
    }
}

impl Conv {
    pub fn apply(self, v: &Value) -> Value {
        match (self, v) {
            (_, Value::Null) => Value::Null,
            (Conv::EnabledDisabled, Value::Bool(b)) => {
                Value::String(if *b { "Enabled" } else { "Disabled" }.into())
            }
            (Conv::Nest(key), v) => serde_json::json!({ key: v }),
            (Conv::RefAttr(attr), v) => match crate::value::as_ref(v) {
                Some((urn, _)) => {
                    serde_json::json!({crate::value::REF: {"urn": urn, "attr": attr}})
                }
                None => v.clone(),
            },
            (Conv::Json(f), v) => serde_json::json!({ FN: ["jsonencode", f(v)] }),
            (Conv::Call(name), v) => serde_json::json!({ FN: [name, v] }),
            _ => v.clone(),
        }
    }

    /// Converts the value at `path` in `inputs` (arrays on the way apply
    /// to each element).
    pub fn apply_at(self, inputs: &mut Value, path: &str) {
        let (head, rest) = match path.split_once('.') {
            Some((h, r)) => (h, Some(r)),
            None => (path, None),
        };
        let Some(v) = inputs.get_mut(head) else {
            return;
        };
        match (rest, v) {
            (None, v) => *v = self.apply(v),
            (Some(r), Value::Array(items)) => items.iter_mut().for_each(|i| self.apply_at(i, r)),
            (Some(r), v) => self.apply_at(v, r),
        }
    }
}

impl Schema {
    pub const NONE: Schema = Schema {
        force_new: &[],
        unique_name: &[],
        computed_on_update: &[],
        optional_computed: &[],
        write_only: &[],
        secret_outputs: &[],
        normalize: &[],
        terraform: &[],
        tf_attrs: &[],
        tf_values: &[],
    };

    /// Every input field name the table mentions (for the schema test).
    pub fn input_fields(&self) -> Vec<&'static str> {
        let mut v: Vec<&'static str> = self
            .force_new
            .iter()
            .chain(self.unique_name)
            .chain(self.optional_computed)
            .chain(self.write_only)
            .copied()
            .chain(self.normalize.iter().map(|(f, _)| *f))
            .chain(self.tf_values.iter().map(|(f, _)| *f))
            .chain(
                self.terraform
                    .iter()
                    .flat_map(|t| t.args.iter().map(|(f, _)| *f))
                    .filter(|f| !f.starts_with('$') && !f.starts_with('=')),
            )
            .map(|f| f.split('.').next().unwrap_or(f))
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }
}

/// A live value that equals the declared one under this rule is the declared
/// one (Terraform's DiffSuppressFunc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Norm {
    /// AWS completes versions: declared `7.1` is live `7.1.0` or `7.1.4`.
    VersionPrefix,
    /// A list whose order AWS does not keep.
    Set,
    /// A JSON document in a string (policies): compared parsed.
    Json,
    /// AWS changes the case (`gp3` / `GP3`).
    IgnoreCase,
}

impl Norm {
    pub fn same(self, declared: &Value, live: &Value) -> bool {
        if declared == live {
            return true;
        }
        match (self, declared, live) {
            (Norm::VersionPrefix, Value::String(d), Value::String(l)) => l
                .strip_prefix(d.as_str())
                .is_some_and(|r| r.starts_with('.')),
            (Norm::Set, Value::Array(d), Value::Array(l)) => {
                let key = |v: &Vec<Value>| {
                    let mut k: Vec<String> = v.iter().map(Value::to_string).collect();
                    k.sort_unstable();
                    k
                };
                key(d) == key(l)
            }
            (Norm::Json, Value::String(d), Value::String(l)) => {
                match (
                    serde_json::from_str::<Value>(d),
                    serde_json::from_str::<Value>(l),
                ) {
                    (Ok(a), Ok(b)) => a == b,
                    _ => false,
                }
            }
            (Norm::IgnoreCase, Value::String(d), Value::String(l)) => d.eq_ignore_ascii_case(l),
            _ => false,
        }
    }
}

/// The numeric parts of a version after any name (`OpenSearch_2.11` → 2, 11).
fn version_parts(v: &str) -> Option<Vec<u64>> {
    let start = v.find(|c: char| c.is_ascii_digit())?;
    v[start..]
        .split('.')
        .map(|p| p.parse().ok())
        .collect::<Option<Vec<u64>>>()
        .filter(|p| !p.is_empty())
}

impl Norm {
    /// Whether `live` is a later version of `declared`'s major line: what
    /// AWS's automatic minor upgrades do (`15.14` → `15.15`). Not undone by
    /// a plan (AWS refuses downgrades); drift reports it as informational.
    pub fn upgraded(self, declared: &Value, live: &Value) -> bool {
        let (Norm::VersionPrefix, Value::String(d), Value::String(l)) = (self, declared, live)
        else {
            return false;
        };
        let name = |v: &str| v[..v.find(|c: char| c.is_ascii_digit()).unwrap_or(0)].to_string();
        match (version_parts(d), version_parts(l)) {
            (Some(d_parts), Some(l_parts)) => {
                name(d) == name(l) && d_parts[0] == l_parts[0] && l_parts > d_parts
            }
            _ => false,
        }
    }
}

/// The versions AWS runs, as outputs `<field>_actual` (Terraform's
/// `engine_version_actual`): the type's output of that name where it
/// reports the raw one (RDS reads the declared version back when AWS
/// upgraded past it), else the live input before normalising.
pub fn actual_versions(schema: &Schema, live: &Value, outputs: &Value) -> Vec<(String, Value)> {
    schema
        .normalize
        .iter()
        .filter(|(_, n)| *n == Norm::VersionPrefix)
        .filter_map(|(f, _)| {
            let v = get(outputs, f)
                .filter(|v| v.is_string())
                .or_else(|| get(live, f))?;
            (!v.is_null()).then(|| (format!("{}_actual", f.replace('.', "_")), v.clone()))
        })
        .collect()
}

/// One Terraform resource a type becomes.
#[derive(Debug, Clone, Copy)]
pub struct Tf {
    /// `aws_vpc`.
    pub resource: &'static str,
    /// (input field, Terraform argument) pairs; a `.` in the argument enters a
    /// nested block. The field `$id` is this resource's own id (a bucket's
    /// versioning resource names its bucket); `=TEXT` is that constant.
    pub args: &'static [(&'static str, &'static str)],
    /// `terraform import` id: `{id}` or input fields in braces.
    pub import_id: &'static str,
}

/// The field names of a struct that derives `Deserialize` (serde passes them
/// to `deserialize_struct`), whatever it skips when serialising.
pub fn struct_fields<T: serde::de::DeserializeOwned>() -> &'static [&'static str] {
    use serde::de::{self, Visitor};
    #[derive(Debug)]
    struct Found(&'static [&'static str]);
    impl std::fmt::Display for Found {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "fields")
        }
    }
    impl std::error::Error for Found {}
    impl de::Error for Found {
        fn custom<M: std::fmt::Display>(_: M) -> Self {
            Found(&[])
        }
    }
    struct Probe;
    impl<'de> de::Deserializer<'de> for Probe {
        type Error = Found;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Found> {
            Err(Found(&[]))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Found> {
            Err(Found(fields))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map enum identifier ignored_any
        }
    }
    match T::deserialize(Probe) {
        Err(Found(fields)) => fields,
        Ok(_) => &[],
    }
}

fn get<'v>(v: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(v, |v, k| v.get(k))
}

fn get_mut<'v>(v: &'v mut Value, path: &str) -> Option<&'v mut Value> {
    path.split('.').try_fold(v, |v, k| v.get_mut(k))
}

fn remove(v: &mut Value, path: &str) {
    let (parent, last) = match path.rsplit_once('.') {
        Some((p, l)) => (get_mut(v, p), l),
        None => (Some(v), path),
    };
    if let Some(Value::Object(m)) = parent {
        m.remove(last);
    }
}

/// The read contract, applied to a live read: write-only fields keep their
/// declared value, optional+computed fields left out stay out, and a live
/// value that a normaliser says means the declared one becomes it.
pub fn normalize(schema: &Schema, declared: &Value, live: &mut Value) {
    // Not declared: left out, null, or an empty list or object.
    let absent = |v: Option<&Value>| match v {
        None | Some(Value::Null) => true,
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Object(o)) => o.is_empty(),
        Some(_) => false,
    };
    for f in schema.write_only {
        if let (Some(d), Some(l)) = (get(declared, f), get_mut(live, f)) {
            *l = d.clone();
        }
    }
    for f in schema.optional_computed {
        let d = get(declared, f);
        if absent(d) {
            match d {
                // A key the declaration leaves out stays out (nested ones too).
                None => remove(live, f),
                Some(d) => {
                    if let Some(l) = get_mut(live, f) {
                        *l = d.clone();
                    }
                }
            }
        }
    }
    for (f, norm) in schema.normalize {
        if let (Some(d), Some(l)) = (get(declared, f), get_mut(live, f)) {
            if norm.same(d, l) || norm.upgraded(d, l) {
                *l = d.clone();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn struct_fields_include_skipped_ones() {
        #[derive(serde::Deserialize)]
        #[allow(dead_code)]
        struct S {
            a: u8,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            b: Option<u8>,
        }
        assert_eq!(struct_fields::<S>(), &["a", "b"]);
    }

    #[test]
    fn read_contract() {
        let s = Schema {
            write_only: &["password"],
            optional_computed: &["subnet_group", "port", "groups", "ebs.iops"],
            normalize: &[
                ("engine_version", Norm::VersionPrefix),
                ("zones", Norm::Set),
                ("policy", Norm::Json),
                ("nested.kind", Norm::IgnoreCase),
            ],
            ..Schema::NONE
        };
        let declared = json!({"password": {"$secret": "pw"}, "subnet_group": null, "port": 6380,
            "engine_version": "7.1", "zones": ["b", "a"], "policy": "{\"a\": 1}",
            "nested": {"kind": "gp3"}, "groups": [], "ebs": {"size": 10}});
        let mut live = json!({"password": null, "subnet_group": "default", "port": 6379,
            "engine_version": "7.1.0", "zones": ["a", "b"], "policy": "{\"a\":1}",
            "nested": {"kind": "GP3"}, "groups": ["sg-1"], "ebs": {"size": 10, "iops": 3000}});
        normalize(&s, &declared, &mut live);
        assert_eq!(
            live,
            json!({"password": {"$secret": "pw"}, "subnet_group": null, "port": 6379,
            "engine_version": "7.1", "zones": ["b", "a"], "policy": "{\"a\": 1}",
            "nested": {"kind": "gp3"}, "groups": [], "ebs": {"size": 10}})
        );
        // A real difference stays: another major line, or a downgrade.
        for v in ["8.0", "7.0.9", "6.2"] {
            let mut live = json!({"engine_version": v, "zones": ["a"]});
            normalize(&s, &declared, &mut live);
            assert_eq!(live, json!({"engine_version": v, "zones": ["a"]}));
        }
        // AWS's automatic minor upgrade within the declared major line is
        // not undone; the version it runs is an output.
        let mut live = json!({"engine_version": "7.10"});
        assert_eq!(
            actual_versions(&s, &live, &json!({})),
            vec![("engine_version_actual".to_string(), json!("7.10"))]
        );
        assert_eq!(
            actual_versions(
                &s,
                &json!({"engine_version": "7.1"}),
                &json!({"engine_version": "7.10"})
            ),
            vec![("engine_version_actual".to_string(), json!("7.10"))]
        );
        normalize(&s, &declared, &mut live);
        assert_eq!(live, json!({"engine_version": "7.1"}));
        assert!(Norm::VersionPrefix.upgraded(&json!("OpenSearch_2.11"), &json!("OpenSearch_2.13")));
        assert!(
            !Norm::VersionPrefix.upgraded(&json!("OpenSearch_2.11"), &json!("Elasticsearch_7.10"))
        );
    }
}
