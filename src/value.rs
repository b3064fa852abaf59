//! Marker conventions inside resource input and output JSON, and the pure
//! functions over them. Inputs and outputs are `serde_json::Value`s that may
//! hold these one-key objects:
//!
//! - `{"$ref": {"urn": U, "attr": A}}`: a reference to another resource's output.
//! - `{"$secret": V}`: a plaintext secret (in memory only).
//! - `{"$sealed": B64}`: a secret encrypted for state or a plan file.
//! - `{"$unknown": true}`: a value known only after apply.
//! - `{"$concat": [P, ...]}`: a string joined from text and references, once
//!   every part is known (Pulumi's `interpolate`, a Terraform template).

use serde_json::{Map, Value};

use crate::model::Urn;

pub const REF: &str = "$ref";
pub const SECRET: &str = "$secret";
pub const SEALED: &str = "$sealed";
pub const UNKNOWN: &str = "$unknown";
pub const CONCAT: &str = "$concat";

/// Shown wherever a secret would be printed.
pub const SENSITIVE_TEXT: &str = "(sensitive)";
/// Shown for a value that is known only after apply.
pub const UNKNOWN_TEXT: &str = "(known after apply)";

/// The value under `key` of a one-key marker object (`{"$ref": ..}`).
pub fn marker<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    match v {
        Value::Object(m) if m.len() == 1 => m.get(key),
        _ => None,
    }
}

pub fn secret(v: Value) -> Value {
    let mut m = Map::with_capacity(1);
    m.insert(SECRET.into(), v);
    Value::Object(m)
}

pub fn unknown() -> Value {
    let mut m = Map::with_capacity(1);
    m.insert(UNKNOWN.into(), Value::Bool(true));
    Value::Object(m)
}

pub fn reference(urn: &Urn, attr: &str) -> Value {
    serde_json::json!({ REF: { "urn": urn.as_str(), "attr": attr } })
}

pub fn concat(parts: Vec<Value>) -> Value {
    let mut m = Map::with_capacity(1);
    m.insert(CONCAT.into(), Value::Array(parts));
    Value::Object(m)
}

pub fn as_concat(v: &Value) -> Option<&Vec<Value>> {
    marker(v, CONCAT).and_then(Value::as_array)
}

pub fn as_secret(v: &Value) -> Option<&Value> {
    marker(v, SECRET)
}

pub fn as_sealed(v: &Value) -> Option<&str> {
    marker(v, SEALED).and_then(Value::as_str)
}

pub fn is_unknown(v: &Value) -> bool {
    marker(v, UNKNOWN).is_some()
}

/// `(urn, attr)` when `v` is a reference marker.
pub fn as_ref(v: &Value) -> Option<(&str, &str)> {
    let r = marker(v, REF)?;
    Some((r.get("urn")?.as_str()?, r.get("attr")?.as_str()?))
}

/// Calls `f` on every value in the tree, depth first, parents before children.
pub fn walk<'a>(v: &'a Value, f: &mut dyn FnMut(&'a Value)) {
    f(v);
    match v {
        Value::Array(a) => a.iter().for_each(|x| walk(x, f)),
        Value::Object(m) => m.values().for_each(|x| walk(x, f)),
        _ => {}
    }
}

/// Rebuilds the tree bottom-up; `f` may replace any node (it sees the original
/// node and returns `Some(replacement)` to stop descending there).
pub fn map(v: &Value, f: &mut dyn FnMut(&Value) -> Option<Value>) -> Value {
    if let Some(r) = f(v) {
        return r;
    }
    match v {
        Value::Array(a) => Value::Array(a.iter().map(|x| map(x, f)).collect()),
        Value::Object(m) => Value::Object(m.iter().map(|(k, x)| (k.clone(), map(x, f))).collect()),
        other => other.clone(),
    }
}

/// The URNs referenced anywhere in `v`, in order of first appearance.
pub fn refs(v: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    walk(v, &mut |x| {
        if let Some((u, a)) = as_ref(x) {
            if !out.iter().any(|(ou, oa)| ou == u && oa == a) {
                out.push((u.to_string(), a.to_string()));
            }
        }
    });
    out
}

pub fn contains_ref(v: &Value) -> bool {
    let mut found = false;
    walk(v, &mut |x| found |= as_ref(x).is_some());
    found
}

pub fn contains_unknown(v: &Value) -> bool {
    let mut found = false;
    walk(v, &mut |x| found |= is_unknown(x));
    found
}

pub fn contains_secret(v: &Value) -> bool {
    let mut found = false;
    walk(v, &mut |x| {
        found |= as_secret(x).is_some() || as_sealed(x).is_some()
    });
    found
}

/// What a reference resolves to.
pub enum Resolved {
    Known(Value),
    Unknown,
}

/// Replaces every reference with its value (via `lookup`) or with an unknown marker.
/// A referenced value that is secret stays wrapped as a secret. A `$concat`
/// becomes its joined string once every part is known (secret if a part is),
/// else unknown.
pub fn resolve(v: &Value, lookup: &mut dyn FnMut(&str, &str) -> Resolved) -> Value {
    let mut markers = false;
    walk(v, &mut |x| {
        markers |= as_ref(x).is_some() || as_concat(x).is_some()
    });
    if !markers {
        return v.clone();
    }
    map(v, &mut |x| {
        if let Some(parts) = as_concat(x) {
            let parts: Vec<Value> = parts.iter().map(|p| resolve(p, lookup)).collect();
            return Some(join(&parts));
        }
        as_ref(x).map(|(u, a)| match lookup(u, a) {
            Resolved::Known(val) => val,
            Resolved::Unknown => unknown(),
        })
    })
}

/// The string of resolved `$concat` parts: unknown if any part is, secret
/// if any part is. Numbers and booleans print as JSON does.
fn join(parts: &[Value]) -> Value {
    let mut out = String::new();
    let mut secret_part = false;
    for p in parts {
        let p = match as_secret(p) {
            Some(inner) => {
                secret_part = true;
                inner
            }
            None => p,
        };
        match p {
            Value::String(s) => out.push_str(s),
            Value::Null => {}
            p if is_unknown(p) || contains_ref(p) => return unknown(),
            p => out.push_str(&p.to_string()),
        }
    }
    if secret_part {
        secret(Value::String(out))
    } else {
        Value::String(out)
    }
}

/// Removes `$secret` wrappers: the plaintext a provider needs.
pub fn reveal(v: &Value) -> Value {
    map(v, &mut |x| as_secret(x).map(reveal))
}

/// The printable form: secrets become `(sensitive)`, unknowns `(known after apply)`.
pub fn redact(v: &Value) -> Value {
    map(v, &mut |x| {
        if as_secret(x).is_some() || as_sealed(x).is_some() {
            Some(Value::String(SENSITIVE_TEXT.into()))
        } else if is_unknown(x) {
            Some(Value::String(UNKNOWN_TEXT.into()))
        } else if let Some((u, a)) = as_ref(x) {
            Some(Value::String(format!("${{{u}.{a}}}")))
        } else if let Some(parts) = as_concat(x) {
            let shown: Vec<Value> = parts.iter().map(redact).collect();
            match join(&shown) {
                Value::String(s) => Some(Value::String(s)),
                _ => Some(Value::String(UNKNOWN_TEXT.into())),
            }
        } else {
            None
        }
    })
}

/// Wraps the named top-level fields of an object as secrets (idempotent).
pub fn mark_secret_fields(v: &mut Value, fields: &[&str]) {
    if let Value::Object(m) = v {
        for f in fields {
            if let Some(x) = m.get_mut(*f) {
                if as_secret(x).is_none() && !x.is_null() {
                    *x = secret(x.take());
                }
            }
        }
    }
}

/// Reads a dotted path (`a.b.0.c`) from a value.
pub fn get_path<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |cur, seg| match cur {
        Value::Object(m) => m.get(seg),
        Value::Array(a) => seg.parse::<usize>().ok().and_then(|i| a.get(i)),
        _ => None,
    })
}

/// Writes a dotted path, creating objects on the way; `None` removes the leaf.
pub fn set_path(v: &mut Value, path: &str, new: Option<Value>) {
    let mut segs = path.split('.').peekable();
    let mut cur = v;
    while let Some(seg) = segs.next() {
        let last = segs.peek().is_none();
        match cur {
            Value::Object(m) => {
                if last {
                    match new {
                        Some(n) => {
                            m.insert(seg.to_string(), n);
                        }
                        None => {
                            m.remove(seg);
                        }
                    }
                    return;
                }
                cur = m
                    .entry(seg.to_string())
                    .or_insert_with(|| Value::Object(Map::new()));
            }
            Value::Array(a) => {
                let Some(x) = seg.parse::<usize>().ok().and_then(|i| a.get_mut(i)) else {
                    return;
                };
                if last {
                    if let Some(n) = new {
                        *x = n;
                    }
                    return;
                }
                cur = x;
            }
            _ => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn redact_hides_secrets_and_unknowns() {
        let v =
            json!({"a": secret(json!("pw")), "b": unknown(), "c": [ {"$sealed": "xx"} ], "d": 1});
        assert_eq!(
            redact(&v),
            json!({"a": SENSITIVE_TEXT, "b": UNKNOWN_TEXT, "c": [SENSITIVE_TEXT], "d": 1})
        );
    }

    #[test]
    fn resolve_replaces_refs_and_keeps_secrecy() {
        let u = Urn::new("s", "", "t:x/Y", "n");
        let v = json!({"x": reference(&u, "id"), "y": reference(&u, "pw"), "z": reference(&u, "later")});
        let r = resolve(&v, &mut |_, a| match a {
            "id" => Resolved::Known(json!("i-1")),
            "pw" => Resolved::Known(secret(json!("hunter2"))),
            _ => Resolved::Unknown,
        });
        assert_eq!(r["x"], json!("i-1"));
        assert_eq!(as_secret(&r["y"]), Some(&json!("hunter2")));
        assert!(is_unknown(&r["z"]));
        assert_eq!(reveal(&r)["y"], json!("hunter2"));
        assert_eq!(refs(&v).len(), 3);
    }

    #[test]
    fn concat_joins_known_parts_and_stays_unknown_or_secret() {
        let u = Urn::new("s", "", "t:x/Y", "n");
        let v = json!({"arn": concat(vec![json!("arn:aws:es:eu-west-1:"), reference(&u, "account"), json!(":domain/d")])});
        assert_eq!(
            refs(&v).len(),
            1,
            "references inside a concat are graph edges"
        );
        let known = resolve(&v, &mut |_, _| Resolved::Known(json!("123456789012")));
        assert_eq!(
            known,
            json!({"arn": "arn:aws:es:eu-west-1:123456789012:domain/d"})
        );
        let later = resolve(&v, &mut |_, _| Resolved::Unknown);
        assert!(is_unknown(&later["arn"]));
        let hidden = resolve(&v, &mut |_, _| Resolved::Known(secret(json!("42"))));
        assert_eq!(
            as_secret(&hidden["arn"]),
            Some(&json!("arn:aws:es:eu-west-1:42:domain/d"))
        );
    }

    #[test]
    fn paths() {
        let mut v = json!({"tags": {"a": "1"}, "l": [1, 2]});
        assert_eq!(get_path(&v, "tags.a"), Some(&json!("1")));
        assert_eq!(get_path(&v, "l.1"), Some(&json!(2)));
        set_path(&mut v, "tags.b", Some(json!("2")));
        set_path(&mut v, "tags.a", None);
        set_path(&mut v, "new.deep", Some(json!(true)));
        assert_eq!(
            v,
            json!({"tags": {"b": "2"}, "l": [1, 2], "new": {"deep": true}})
        );
    }
}
