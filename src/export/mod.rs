//! The Terraform export (`morket-stack export terraform`): the stacks of one
//! project as `terraform/modules/<component>/` and
//! `terraform/environments/<stack>/`, from each type's schema table (the
//! `terraform:` mapping its provider is checked against) and the declared
//! inputs. Pure: files are returned as text, the CLI writes them.
//!
//! Modules are shared by every stack of the project, so they are built from
//! all of them: a value equal in every stack is written in the module; one
//! that differs becomes a module variable set from the environment's
//! `terraform.tfvars`; a resource some stacks lack gets `count` from an
//! `<name>_enabled` variable; a reference that differs becomes a list of the
//! variants indexed by a `<name>_variant` variable.

pub mod check;
mod layout;
mod skips;
mod terraform;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

pub use skips::{annotate, parse_skips, Skip};
pub use terraform::{arguments, export, EngineOnly, Environment, Exported, StateIds, ENGINE_ONLY};

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{type_name} ({urn}) has no Terraform mapping and is not listed as engine-only")]
    Unmapped { type_name: String, urn: String },
    #[error(
        "{address}: {what} differs between stacks in a way the export cannot express: {detail}"
    )]
    Shape {
        address: String,
        what: String,
        detail: String,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("HCL the printer does not write: {0}")]
    Hcl(String),
}

/// Relative path → file text, in path order.
pub type Files = BTreeMap<String, String>;

/// Names a Terraform identifier can take: letters, digits and `_`, not
/// starting with a digit.
pub fn tf_name(s: &str) -> String {
    let mut n: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if n.is_empty() || n.starts_with(|c: char| c.is_ascii_digit()) {
        n.insert_str(0, "r_");
    }
    n
}

/// A Terraform type constraint for the values a variable takes.
fn type_of(values: &[&Value]) -> &'static str {
    let all = |f: &dyn Fn(&Value) -> bool| values.iter().all(|v| v.is_null() || f(v));
    if all(&Value::is_boolean) {
        "bool"
    } else if all(&Value::is_number) {
        "number"
    } else if all(&Value::is_string) {
        "string"
    } else if all(&|v| v.as_array().is_some_and(|a| a.iter().all(Value::is_string))) {
        "list(string)"
    } else if all(&|v| v.as_array().is_some_and(|a| a.iter().all(Value::is_number))) {
        "list(number)"
    } else if all(&|v| {
        v.as_object()
            .is_some_and(|o| o.values().all(Value::is_string))
    }) {
        "map(string)"
    } else {
        "any"
    }
}

/// Unique names within one namespace (a module's variables, a type's
/// resource names).
#[derive(Default)]
struct Names(BTreeSet<String>);

impl Names {
    fn take(&mut self, want: &str) -> String {
        let mut n = want.to_string();
        let mut i = 2;
        while !self.0.insert(n.clone()) {
            n = format!("{want}_{i}");
            i += 1;
        }
        n
    }
}
