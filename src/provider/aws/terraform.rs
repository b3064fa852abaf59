//! The vendored subset of the AWS Terraform provider schema (hashicorp/aws
//! 6.66.0, `scripts/vendor-terraform-schema`) and the check of a type's
//! schema table against it and against the type's own fields. The
//! Terraform export reads the same data. Pure: the JSON is compiled in.

use std::sync::OnceLock;

use serde_json::Value;

use crate::provider::TypeSchema;

const VENDORED: &str = include_str!("terraform-schema.json");

/// `{"resources": {"aws_vpc": {"arguments": {..}, "blocks": {..}, ..}}}`.
pub fn provider_schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| serde_json::from_str(VENDORED).expect("vendored schema is JSON"))
}

/// What the AWS resource schema lacks, written by hand from the provider
/// docs: the data sources lookups become and the random/local/time
/// resources.
const EXTRA: &str = include_str!("terraform-extra-schema.json");

fn extra_schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| serde_json::from_str(EXTRA).expect("extra schema is JSON"))
}

/// The schema of a Terraform resource or (`data`) data source.
pub fn schema_of(data: bool, tf_type: &str) -> Option<&'static Value> {
    if data {
        extra_schema()["data_sources"].get(tf_type)
    } else {
        provider_schema()["resources"]
            .get(tf_type)
            .or_else(|| extra_schema()["resources"].get(tf_type))
    }
}

/// Whether `path` (`a.b.c`, `.` entering nested blocks) names an argument or
/// a block of `resource`.
fn has_path(resource: &Value, path: &str) -> bool {
    let mut node = resource;
    let mut parts = path.split('.').peekable();
    while let Some(p) = parts.next() {
        let last = parts.peek().is_none();
        if last && node["arguments"].get(p).is_some() {
            return true;
        }
        match node["blocks"].get(p) {
            Some(b) => node = b,
            None => return false,
        }
    }
    true
}

/// Everything wrong with `type_name`'s table: names that are not fields of
/// the struct, Terraform resources or arguments that do not exist, required
/// Terraform arguments left unmapped, import ids naming unknown fields.
pub fn check(type_name: &str, ts: &TypeSchema) -> Vec<String> {
    let mut errors = Vec::new();
    let s = &ts.schema;
    for f in s.input_fields() {
        if !ts.fields.iter().any(|x| x == f) {
            errors.push(format!(
                "{type_name}: schema names {f:?}, which is not an input field"
            ));
        }
    }
    let engine_only = crate::export::ENGINE_ONLY
        .iter()
        .any(|e| type_name.starts_with(e.prefix));
    if s.terraform.is_empty() && !engine_only {
        errors.push(format!("{type_name}: no Terraform resource"));
    }
    for tf in s.terraform {
        let Some(r) = schema_of(ts.data, tf.resource) else {
            errors.push(format!(
                "{type_name}: {} is not a resource of the vendored provider schema",
                tf.resource
            ));
            continue;
        };
        for (_, arg) in tf.args {
            if *arg != "for_each" && !has_path(r, arg) {
                errors.push(format!(
                    "{type_name}: {} has no argument {arg:?}",
                    tf.resource
                ));
            }
        }
        let required = r["arguments"]
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(_, a)| a["required"] == Value::Bool(true))
            .map(|(k, _)| k.as_str())
            .chain(
                r["blocks"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(_, b)| b["required"] == Value::Bool(true))
                    .map(|(k, _)| k.as_str()),
            );
        for req in required {
            let mapped = tf
                .args
                .iter()
                .any(|(_, a)| a.split('.').next() == Some(req));
            if !mapped {
                errors.push(format!(
                    "{type_name}: required argument {}.{req} is not mapped",
                    tf.resource
                ));
            }
        }
        if tf.import_id.contains('<') {
            errors.push(format!(
                "{type_name}: import id {:?} holds a placeholder",
                tf.import_id
            ));
        }
        let mut rest = tf.import_id;
        while let Some(open) = rest.find('{') {
            let Some(close) = rest[open..].find('}') else {
                errors.push(format!(
                    "{type_name}: unbalanced import id {:?}",
                    tf.import_id
                ));
                break;
            };
            let inner = rest[open + 1..open + close].trim_end_matches("|basename");
            for name in inner.trim_end_matches('?').split('+') {
                let each = (name == "each.key" || name == "each.value")
                    && tf.args.iter().any(|(_, a)| *a == "for_each");
                let output = name.strip_prefix("outputs.").is_some_and(|o| {
                    !o.is_empty() && o.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                });
                if name != "id" && !each && !output && !ts.fields.iter().any(|x| x == name) {
                    errors.push(format!(
                        "{type_name}: import id {:?} names {name:?}, which is not a field",
                        tf.import_id
                    ));
                }
            }
            rest = &rest[open + close + 1..];
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::provider::aws::{self, Aws, AwsSettings};
    use crate::provider::schema::{Schema, Tf};
    use crate::provider::Registry;

    /// Every schema-driven AWS type: its table against its struct and
    /// against the Terraform provider schema.
    #[test]
    fn every_schema_table_matches_its_struct_and_terraform() {
        // The built-in random, local and time types too.
        let mut r = Registry::builtin();
        aws::register(&mut r, Arc::new(Aws::new(AwsSettings::default())));
        let mut checked = 0;
        let mut errors = Vec::new();
        for (t, p) in r.providers() {
            if let Some(ts) = p.schema() {
                checked += 1;
                errors.extend(check(t, &ts));
            }
        }
        assert!(checked >= 1, "no schema-driven type registered");
        assert!(errors.is_empty(), "{}", errors.join("\n"));
    }

    #[test]
    fn the_check_finds_each_kind_of_mistake() {
        const BAD: Schema = Schema {
            force_new: &["cidr"],
            terraform: &[
                Tf {
                    resource: "aws_vpc",
                    args: &[("cidr_block", "cidr_blok")],
                    import_id: "{vpc}",
                },
                Tf {
                    resource: "aws_route",
                    args: &[("cidr_block", "destination_cidr_block")],
                    import_id: "{id}",
                },
                Tf {
                    resource: "aws_nope",
                    args: &[],
                    import_id: "{id}",
                },
            ],
            ..Schema::NONE
        };
        let ts = TypeSchema {
            data: false,
            schema: BAD,
            fields: vec!["cidr_block".into()],
        };
        let e = check("aws:ec2/Bad", &ts).join("\n");
        assert!(e.contains("schema names \"cidr\""), "{e}");
        assert!(e.contains("aws_vpc has no argument \"cidr_blok\""), "{e}");
        assert!(e.contains("import id \"{vpc}\" names \"vpc\""), "{e}");
        assert!(
            e.contains("required argument aws_route.route_table_id"),
            "{e}"
        );
        assert!(e.contains("aws_nope is not a resource"), "{e}");
        // Nested blocks are entered with dots.
        let os = &provider_schema()["resources"]["aws_opensearch_domain"];
        assert!(has_path(os, "cluster_config.instance_type"));
        assert!(!has_path(os, "cluster_config.nope"));
    }
}
