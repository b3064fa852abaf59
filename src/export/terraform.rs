//! Stacks → Terraform files. See the module doc for how stacks that differ
//! share modules.

use std::collections::{BTreeMap, BTreeSet};

use hcl::expr::{
    Expression, FuncCall, Object, ObjectKey, TemplateExpr, Traversal, TraversalOperator, Variable,
};
use hcl::{Attribute, Block, Body, Identifier};
use serde_json::{Map, Value};

use super::{layout, tf_name, type_of, ExportError, Files, Names};
use crate::model::{Declared, Stack, Urn};
use crate::provider::aws::terraform::schema_of;
use crate::provider::schema::{self, Schema, Tf};
use crate::provider::Registry;
use crate::value;

/// The Terraform and provider versions the export targets.
pub const TERRAFORM_VERSION: &str = ">= 1.10";
pub const AWS_PROVIDER: &str = "~> 6.66.0";
pub const RANDOM_PROVIDER: &str = "~> 3.7.0";
pub const TIME_PROVIDER: &str = "~> 0.13.0";
pub const LOCAL_PROVIDER: &str = "~> 2.5.0";

/// Types with no Terraform equivalent, and why.
pub struct EngineOnly {
    pub prefix: &'static str,
    pub reason: &'static str,
}

pub const ENGINE_ONLY: &[EngineOnly] = &[
    EngineOnly {
        prefix: "test:",
        reason: "the test provider's fake cloud (feature test-provider) exists only in tests",
    },
    EngineOnly {
        prefix: "aws:ecs/TaskRun",
        reason: "a one-off ECS task (migrations) is a deploy step, which Terraform leaves to \
                 the pipeline; the export leaves it out",
    },
    EngineOnly {
        prefix: "aws:s3/SiteSync",
        reason: "a built site's files and their CloudFront invalidation are build output a \
                 pipeline syncs; Terraform keeps the bucket and the distribution",
    },
];

/// What state knows of a resource: its id, the inputs it was applied with
/// (for import ids naming fields), and the stack's lineage (in `morket:urn`).
pub struct StateIds {
    pub lineage: String,
    /// URN → (id, inputs, outputs).
    pub ids: BTreeMap<Urn, (String, Value, Value)>,
}

/// One stack to export, as its program built it.
pub struct Environment<'a> {
    pub stack: &'a Stack,
    pub registry: &'a Registry,
    /// Stack outputs: (name, resource, attribute).
    pub outputs: &'a [(String, Urn, String)],
    pub region: String,
    pub default_tags: BTreeMap<String, String>,
    /// `s3://bucket/prefix?region=R` when the stack keeps team state in S3:
    /// the Terraform state goes beside it.
    pub backend: Option<(String, String, Option<String>)>,
}

pub struct Exported {
    pub files: Files,
    /// Engine resource → the Terraform addresses it became, per stack
    /// (module-qualified), for the graph check.
    pub addresses: BTreeMap<String, BTreeMap<Urn, Vec<String>>>,
}

/// `(component path, type, name)` without the stack: the same resource in
/// every stack of the project.
type Key = String;

fn key_of(urn: &str) -> Key {
    urn.split_once("::")
        .map(|(_, k)| k.to_string())
        .unwrap_or_default()
}

fn module_of(component_path: &str) -> String {
    match component_path.split('/').next() {
        Some("") | None => String::new(),
        Some(first) => tf_name(first),
    }
}

/// One Terraform block drafted from one engine resource in one stack.
#[derive(Clone)]
struct Draft {
    data: bool,
    tf_type: &'static str,
    /// Arguments; nested blocks are arrays of objects. Leaves keep the
    /// engine's markers, with `$ref` URNs made stack-free.
    tree: Map<String, Value>,
    depends_on: Vec<Key>,
    ignore_changes: Vec<String>,
    import_id: &'static str,
    args: &'static [(&'static str, &'static str)],
}

/// `{"$lineage": true}`: the state's lineage suffix of `morket:urn`
/// (`var.urn_suffix`, `#<lineage>` or empty per stack).
const LINEAGE: &str = "$lineage";

/// `{"$each": "key"}`: `each.key` of a `for_each` resource.
const EACH: &str = "$each";

fn schema_node(data: bool, tf_type: &str) -> &'static Value {
    static NONE: Value = Value::Null;
    schema_of(data, tf_type).unwrap_or(&NONE)
}

/// Places `src`'s `fparts` value at `tparts` in `dst`. Leading segments
/// align (an array of objects becomes repeated blocks, an object one
/// block); a last field segment lands at the rest of the Terraform path
/// (nested single blocks), and a last Terraform segment takes the rest of
/// the field path (out of nested objects).
fn place(dst: &mut Map<String, Value>, src: &Value, fparts: &[&str], tparts: &[&str]) {
    if fparts.len() > 1 && tparts.len() > 1 {
        let Some(v) = src.get(fparts[0]) else { return };
        let items: Vec<&Value> = match v {
            Value::Array(a) => a.iter().collect(),
            Value::Object(_) => vec![v],
            _ => return,
        };
        let slot = dst
            .entry(tparts[0].to_string())
            .or_insert_with(|| Value::Array(vec![]));
        let Value::Array(blocks) = slot else { return };
        while blocks.len() < items.len() {
            blocks.push(Value::Object(Map::new()));
        }
        for (b, item) in blocks.iter_mut().zip(items) {
            if let Value::Object(m) = b {
                place(m, item, &fparts[1..], &tparts[1..]);
            }
        }
        return;
    }
    let Some(v) = value::get_path(src, &fparts.join(".")) else {
        return;
    };
    if v.is_null() {
        return;
    }
    let v = v.clone();
    let mut node = dst;
    for t in &tparts[..tparts.len() - 1] {
        let slot = node
            .entry(t.to_string())
            .or_insert_with(|| Value::Array(vec![Value::Object(Map::new())]));
        let Some(Value::Object(m)) = slot.as_array_mut().and_then(|a| a.first_mut()) else {
            return;
        };
        node = m;
    }
    node.insert(tparts[tparts.len() - 1].to_string(), v);
}

/// Empty nested blocks (every argument left out) are dropped.
fn prune(m: &mut Map<String, Value>) {
    for v in m.values_mut() {
        if let Value::Array(items) = v {
            for i in items.iter_mut() {
                if let Value::Object(o) = i {
                    prune(o);
                }
            }
        }
    }
    m.retain(|_, v| match v {
        Value::Array(a) => {
            !a.is_empty() && !a.iter().all(|i| i.as_object().is_some_and(Map::is_empty))
        }
        Value::Object(o) => !o.is_empty(),
        _ => true,
    });
}

/// `$ref` URNs without the stack, so stacks compare.
fn strip_stack(v: &Value) -> Value {
    value::map(v, &mut |x| {
        value::as_ref(x)
            .map(|(u, a)| serde_json::json!({value::REF: {"urn": key_of(u), "attr": a}}))
    })
}

/// The arguments `tf` (one of `schema`'s Terraform resources) takes from
/// a resource's inputs, before stacks are compared: nested blocks are
/// arrays of objects, leaves keep the engine's markers (`$ref`, `$concat`,
/// `$secret`) and the export's own (`$fn`, `$each`). Tags gain the
/// engine's URN tag (`urn_tag`) except on a lookup.
pub fn arguments(
    schema: &Schema,
    tf: &Tf,
    data: bool,
    urn: &Urn,
    inputs: &Value,
    urn_tag: &Value,
) -> Map<String, Value> {
    let own = Value::String(urn.to_string());
    let mut inputs = inputs.clone();
    for (path, conv) in schema.tf_values {
        conv.apply_at(&mut inputs, path);
    }
    let mut tree = Map::new();
    for (field, arg) in tf.args {
        let tparts: Vec<&str> = arg.split('.').collect();
        if *field == "$id" {
            let r = serde_json::json!({value::REF: {"urn": own.clone(), "attr": "id"}});
            tree.insert(arg.to_string(), r);
            continue;
        }
        // One resource per element of the `for_each` field.
        if let Some(k) = field.strip_prefix("$each.") {
            tree.insert(arg.to_string(), serde_json::json!({ EACH: k }));
            continue;
        }
        // A lookup's tags filter what it finds: no engine tag there.
        if *field == "tags" && !data {
            let mut tags = inputs
                .get("tags")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            tags.insert(crate::provider::aws::tags::URN_TAG.into(), urn_tag.clone());
            inputs["tags"] = Value::Object(tags);
        }
        if let Some(text) = field.strip_prefix('=') {
            // `=true` / `=false`: a bool; other text is a string.
            let v = match text {
                "true" | "false" => serde_json::from_str(text).unwrap_or_default(),
                _ => text.into(),
            };
            let c = Value::Object(Map::from_iter([("c".to_string(), v)]));
            place(&mut tree, &c, &["c"], &tparts);
            continue;
        }
        let fparts: Vec<&str> = field.split('.').collect();
        place(&mut tree, &inputs, &fparts, &tparts);
    }
    prune(&mut tree);
    if let Some(Value::Array(items)) = tree.get("for_each") {
        let set = serde_json::json!({ schema::FN: ["toset", items] });
        tree.insert("for_each".into(), set);
    }
    tree
}

fn drafts_of(
    d: &Declared,
    registry: &Registry,
    urn_tag: &Value,
) -> Result<Option<Vec<Option<Draft>>>, ExportError> {
    let stack = d.urn.stack();
    let unmapped = || ExportError::Unmapped {
        type_name: d.type_name.clone(),
        urn: d.urn.to_string(),
    };
    if ENGINE_ONLY
        .iter()
        .any(|e| d.type_name.starts_with(e.prefix))
    {
        return Ok(None);
    }
    let p = registry.get(&d.type_name).ok_or_else(unmapped)?;
    let ts = p.schema().ok_or_else(unmapped)?;
    if ts.schema.terraform.is_empty() {
        return Err(unmapped());
    }
    let data = p.is_lookup();
    let mut out = Vec::new();
    for tf in ts.schema.terraform {
        let Tf {
            resource,
            args,
            import_id,
        } = *tf;
        let tree = arguments(&ts.schema, tf, data, &d.urn, &d.inputs, urn_tag);
        // A block that only names its parent (a bucket without a policy
        // has no aws_s3_bucket_policy) is not written.
        let own_args = args
            .iter()
            .filter(|(f, _)| !f.starts_with('$') && !f.starts_with('='))
            .count();
        let fixed = args.len() - own_args;
        if !out.is_empty() && own_args > 0 && tree.len() <= fixed {
            out.push(None);
            continue;
        }
        let tree = match templated(&strip_stack(&Value::Object(tree)), stack) {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        out.push(Some(Draft {
            data,
            tf_type: resource,
            tree,
            depends_on: d
                .options
                .depends_on
                .iter()
                .map(|u| key_of(u.as_str()))
                .collect(),
            ignore_changes: d
                .options
                .ignore_changes
                .iter()
                .cloned()
                // A generated secret AWS never returns (Redis auth token, MQ
                // user password): Terraform cannot read it back either, and a
                // new random_password must not rotate the live one.
                .chain(
                    ts.schema
                        .write_only
                        .iter()
                        .filter(|f| {
                            value::get_path(&d.inputs, f).is_some_and(|v| {
                                value::contains_ref(v) || value::contains_secret(v)
                            })
                        })
                        .map(|f| f.to_string()),
                )
                .collect(),
            import_id,
            args,
        }));
    }
    Ok(Some(out))
}

/// The stack's name in strings becomes a `$stack` marker (written
/// `var.stack`), so names like `morket-staging-alb` are one value in every
/// stack. Only whole words: neighbours are not letters or digits.
fn templated(v: &Value, stack: &str) -> Value {
    let split = |s: &str| -> Option<Vec<Value>> {
        let b = s.as_bytes();
        let mut parts = Vec::new();
        let mut last = 0;
        let mut i = 0;
        while let Some(off) = s[i..].find(stack) {
            let at = i + off;
            let end = at + stack.len();
            let word = (at == 0 || !b[at - 1].is_ascii_alphanumeric())
                && (end == b.len() || !b[end].is_ascii_alphanumeric());
            if word {
                if at > last {
                    parts.push(Value::String(s[last..at].to_string()));
                }
                parts.push(serde_json::json!({STACK_MARKER: true}));
                last = end;
            }
            i = end;
        }
        if parts.is_empty() {
            return None;
        }
        if last < s.len() {
            parts.push(Value::String(s[last..].to_string()));
        }
        Some(parts)
    };
    value::map(v, &mut |x| match x {
        // A reference names a resource, not text.
        _ if value::as_ref(x).is_some() => Some(x.clone()),
        Value::String(s) => split(s).map(|mut parts| {
            if parts.len() == 1 {
                parts.remove(0)
            } else {
                value::concat(parts)
            }
        }),
        _ => value::as_concat(x).map(|parts| {
            let mut out = Vec::new();
            for p in parts {
                match p.as_str().and_then(split) {
                    Some(mut ps) => out.append(&mut ps),
                    None => out.push(templated(p, stack)),
                }
            }
            value::concat(out)
        }),
    })
}

const STACK_MARKER: &str = "$stack";

fn is_stack(v: &Value) -> bool {
    v.as_object()
        .is_some_and(|m| m.len() == 1 && m.contains_key(STACK_MARKER))
}

/// A value without references as `stack` spells it: the stack's name put
/// back, text joined.
fn plain_for(v: &Value, stack: &str) -> Value {
    value::map(v, &mut |x| {
        if is_stack(x) {
            return Some(Value::String(stack.to_string()));
        }
        let parts = value::as_concat(x)?;
        let mut out = String::new();
        for p in flatten(parts) {
            match plain_for(p, stack) {
                Value::String(t) => out.push_str(&t),
                other => out.push_str(&other.to_string()),
            }
        }
        Some(Value::String(out))
    })
}

/// Parts of a `$concat`, nested ones spliced in.
fn flatten(parts: &[Value]) -> Vec<&Value> {
    parts
        .iter()
        .flat_map(|p| match value::as_concat(p) {
            Some(inner) => flatten(inner),
            None => vec![p],
        })
        .collect()
}

/// Where a key lives in the export.
struct Placed {
    module: String,
    data: bool,
    tf_type: &'static str,
    name: String,
    /// Present in every stack (no `count`).
    always: bool,
    /// Engine output → Terraform attribute where they differ.
    attrs: &'static [(&'static str, &'static str)],
    /// Engine outputs that hold secrets.
    secret_outputs: Vec<String>,
}

impl Placed {
    /// `aws_vpc.main`, `data.aws_caller_identity.this`.
    fn root_path(&self) -> (String, Vec<String>) {
        if self.data {
            ("data".into(), vec![self.tf_type.into(), self.name.clone()])
        } else {
            (self.tf_type.into(), vec![self.name.clone()])
        }
    }

    fn tf_attr<'a>(&self, attr: &'a str) -> &'a str {
        self.attrs
            .iter()
            .find(|(a, _)| *a == attr)
            .map(|(_, t)| *t)
            .unwrap_or(attr)
    }
}

enum VarSource {
    /// Set per stack in `terraform.tfvars`.
    Setting(BTreeMap<String, Value>),
    /// Another module's output, wired in the environment's main.tf.
    Wire(String, String),
    /// A secret: a sensitive variable the environment leaves to `TF_VAR_`.
    Secret,
    /// The stack's name (`var.stack` of the environment).
    Stack,
    /// Each stack's `#lineage` (set in tfvars like a setting, but with no
    /// default: one stack's state is no default for another).
    Lineage(BTreeMap<String, Value>),
}

struct Var {
    ty: String,
    description: String,
    source: VarSource,
}

/// A module (or the environment root, `""`) under construction.
#[derive(Default)]
struct ModuleOut {
    body: Vec<Block>,
    variables: BTreeMap<String, Var>,
    /// name → (value, sensitive)
    outputs: BTreeMap<String, (Expression, bool)>,
    /// Variable names.
    names: Names,
    /// Output names (their own namespace in Terraform).
    output_names: Names,
}

fn var_expr(name: &str) -> Expression {
    path_expr("var", &[Op::Attr(name)])
}

enum Op<'a> {
    Attr(&'a str),
    Index(u64),
    Splat,
}

/// `a[0].b` → `.a`, `[0]`, `.b`.
fn attr_ops(path: &str) -> Vec<Op<'_>> {
    let mut ops = Vec::new();
    for seg in path.split('.') {
        let mut parts = seg.split('[');
        if let Some(name) = parts.next() {
            ops.push(Op::Attr(name));
        }
        for i in parts {
            if let Ok(n) = i.trim_end_matches(']').parse() {
                ops.push(Op::Index(n));
            }
        }
    }
    ops
}

fn path_expr(root: &str, ops: &[Op<'_>]) -> Expression {
    Expression::Traversal(Box::new(Traversal::new(
        Variable::unchecked(root),
        ops.iter().map(|o| match o {
            Op::Attr(a) => TraversalOperator::GetAttr(Identifier::unchecked(*a)),
            Op::Index(i) => TraversalOperator::Index(Expression::from(*i)),
            Op::Splat => TraversalOperator::FullSplat,
        }),
    )))
}

struct Ctx<'a> {
    placed: &'a BTreeMap<Key, Placed>,
    stacks: &'a [String],
    /// Stack → `#lineage` (empty when there is no state).
    lineages: BTreeMap<String, Value>,
}

/// `name:KEY` outputs mapped from `name:` to `list[field].leaf`:
/// (list, field, leaf, KEY).
fn keyed_attr<'a>(
    p: &Placed,
    attr: &'a str,
) -> Option<(&'static str, &'static str, &'static str, &'a str)> {
    let (name, key) = attr.split_once(':')?;
    let (_, to) = p
        .attrs
        .iter()
        .find(|(a, _)| a.strip_suffix(':') == Some(name))?;
    let (list, rest) = to.split_once('[')?;
    let (field, leaf) = rest.split_once("].")?;
    Some((list, field, leaf, key))
}

/// Where an expression is written.
struct At<'a> {
    module: &'a str,
    /// In a variant some stacks do not select: references to resources
    /// absent somewhere are written so they evaluate there too.
    guarded: bool,
    /// Name for a secret's variable.
    hint: &'a str,
}

impl Ctx<'_> {
    /// `key.attr` as written in `at.module`.
    fn reference(
        &self,
        key: &str,
        attr: &str,
        at: &At<'_>,
        outs: &mut BTreeMap<String, ModuleOut>,
    ) -> Result<Expression, ExportError> {
        let p = self.placed.get(key).ok_or_else(|| {
            ExportError::Invalid(format!("a reference names {key}, which is not exported"))
        })?;
        let tf_attr = p.tf_attr(attr);
        let (mut root, mut path) = p.root_path();
        // `>TYPE.attr`: an attribute of another of the type's blocks.
        let tf_attr = match tf_attr.strip_prefix('>').and_then(|t| t.split_once('.')) {
            Some((other, a)) => {
                if p.data {
                    path[0] = other.to_string();
                } else {
                    root = other.to_string();
                }
                a
            }
            None => tf_attr,
        };
        let mut ops: Vec<Op<'_>> = path.iter().map(|s| Op::Attr(s.as_str())).collect();
        let keyed = keyed_attr(p, attr);
        let local = if let Some((list, field, leaf, key)) = keyed {
            // `one([for o in x.list : o.leaf if o.field == "KEY"])`
            if !p.always {
                ops.push(Op::Index(0));
            }
            ops.push(Op::Attr(list));
            let o = |a: &str| path_expr("o", &[Op::Attr(a)]);
            let cond = Expression::Operation(Box::new(hcl::expr::Operation::Binary(
                hcl::expr::BinaryOp::new(
                    o(field),
                    hcl::expr::BinaryOperator::Eq,
                    Expression::String(key.to_string()),
                ),
            )));
            let each = hcl::expr::ForExpr::new(
                Identifier::unchecked("o"),
                path_expr(&root, &ops),
                o(leaf),
            )
            .with_cond_expr(cond);
            Expression::FuncCall(Box::new(
                FuncCall::builder("one")
                    .arg(Expression::ForExpr(Box::new(each)))
                    .build(),
            ))
        } else if p.always {
            ops.extend(attr_ops(tf_attr));
            path_expr(&root, &ops)
        } else if at.guarded || p.module != at.module {
            // `one(x[*].a)`: null where the resource does not exist.
            ops.push(Op::Splat);
            ops.extend(attr_ops(tf_attr));
            Expression::FuncCall(Box::new(
                FuncCall::builder("one").arg(path_expr(&root, &ops)).build(),
            ))
        } else {
            ops.push(Op::Index(0));
            ops.extend(attr_ops(tf_attr));
            path_expr(&root, &ops)
        };
        if p.module == at.module {
            return Ok(local);
        }
        // Across modules: the producer outputs it, the consumer takes a variable.
        let output = format!("{}_{}", p.name, tf_name(tf_attr));
        let output = if keyed.is_some() || tf_attr.contains('[') {
            format!("{}_{}", p.name, tf_name(attr))
        } else {
            output
        };
        let sensitive = p.secret_outputs.iter().any(|s| s == attr);
        // The same value is output once; another value wanting its name (a
        // `waf` log group's and web ACL's `arn`) takes a name of its own.
        let producer = outs.entry(p.module.clone()).or_default();
        let output = match producer.outputs.iter_mut().find(|(_, (e, _))| *e == local) {
            Some((name, (_, secret))) => {
                *secret |= sensitive;
                name.clone()
            }
            None => {
                let name = producer.output_names.take(&output);
                producer.outputs.insert(name.clone(), (local, sensitive));
                name
            }
        };
        if at.module.is_empty() {
            return Ok(path_expr(
                "module",
                &[Op::Attr(&p.module), Op::Attr(&output)],
            ));
        }
        let want = format!("{}_{}", p.module, output);
        let consumer = outs.entry(at.module.to_string()).or_default();
        let wired = consumer
            .variables
            .iter()
            .find_map(|(n, v)| match &v.source {
                VarSource::Wire(m, o) if *m == p.module && *o == output => Some(n.clone()),
                _ => None,
            });
        if let Some(var) = wired {
            return Ok(var_expr(&var));
        }
        let var = consumer.names.take(&want);
        consumer.variables.insert(
            var.clone(),
            Var {
                ty: "any".into(),
                description: format!("`{output}` of module {}.", p.module),
                source: VarSource::Wire(p.module.clone(), output),
            },
        );
        Ok(var_expr(&var))
    }

    /// An engine value as HCL.
    fn expr(
        &self,
        v: &Value,
        at: &At<'_>,
        outs: &mut BTreeMap<String, ModuleOut>,
    ) -> Result<Expression, ExportError> {
        if let Some((k, a)) = value::as_ref(v) {
            return self.reference(k, a, at, outs);
        }
        if is_stack(v) {
            let m = outs.entry(at.module.to_string()).or_default();
            if !m.variables.contains_key("stack") {
                m.names.take("stack");
                m.variables.insert(
                    "stack".into(),
                    Var {
                        ty: "string".into(),
                        description: "The stack (environment) name, in names and tags.".into(),
                        source: VarSource::Stack,
                    },
                );
            }
            return Ok(var_expr("stack"));
        }
        if let Some(parts) = value::as_concat(v) {
            let mut t = String::new();
            // Adjacent text first joined, so `a$` + `{b}` stays text.
            let mut merged: Vec<Value> = Vec::new();
            for p in flatten(parts) {
                match (merged.last_mut(), p) {
                    (Some(Value::String(prev)), Value::String(next)) => prev.push_str(next),
                    _ => merged.push(p.clone()),
                }
            }
            for (i, p) in merged.iter().enumerate() {
                if let Some(s) = p.as_str() {
                    let q = layout::quote(s);
                    let mut lit = q[1..q.len() - 1].to_string();
                    // `$` or `%` right before an interpolation would open
                    // an escape (`$${`): written as an interpolated string.
                    if i + 1 < merged.len() && (lit.ends_with('$') || lit.ends_with('%')) {
                        let c = lit.pop().unwrap_or('$');
                        lit.push_str(&format!("${{\"{c}\"}}"));
                    }
                    t.push_str(&lit);
                } else {
                    let e = self.expr(p, at, outs)?;
                    t.push_str("${");
                    t.push_str(&layout::inline(&e)?);
                    t.push('}');
                }
            }
            return Ok(Expression::TemplateExpr(Box::new(
                TemplateExpr::QuotedString(t),
            )));
        }
        if value::marker(v, LINEAGE).is_some() {
            let m = outs.entry(at.module.to_string()).or_default();
            let have = m
                .variables
                .iter()
                .find_map(|(n, v)| matches!(v.source, VarSource::Lineage(_)).then(|| n.clone()));
            let name = match have {
                Some(n) => n,
                None => {
                    let n = m.names.take("urn_suffix");
                    m.variables.insert(
                        n.clone(),
                        Var {
                            ty: "string".into(),
                            description: "`#<state lineage>` after the URN in morket:urn tags (empty for a stack without state).".into(),
                            source: VarSource::Lineage(self.lineages.clone()),
                        },
                    );
                    n
                }
            };
            return Ok(var_expr(&name));
        }
        if let Some(k) = value::marker(v, EACH).and_then(Value::as_str) {
            return Ok(path_expr("each", &[Op::Attr(k)]));
        }
        if let Some((f, arg)) = schema::as_fn(v) {
            let arg = self.expr(arg, at, outs)?;
            return Ok(Expression::FuncCall(Box::new(
                FuncCall::builder(f).arg(arg).build(),
            )));
        }
        if value::as_secret(v).is_some() || value::as_sealed(v).is_some() {
            let m = outs.entry(at.module.to_string()).or_default();
            let name = m.names.take(&format!("{}_secret", at.hint));
            m.variables.insert(
                name.clone(),
                Var {
                    ty: "string".into(),
                    description: "A secret the stack declares inline; set it with TF_VAR_ (never written here).".into(),
                    source: VarSource::Secret,
                },
            );
            return Ok(var_expr(&name));
        }
        convert(v, &mut |x| {
            (value::as_ref(x).is_some()
                || is_stack(x)
                || value::as_concat(x).is_some()
                || schema::as_fn(x).is_some()
                || value::marker(x, EACH).is_some()
                || value::marker(x, LINEAGE).is_some()
                || value::as_secret(x).is_some()
                || value::as_sealed(x).is_some())
            .then(|| self.expr(x, at, outs))
        })
    }

    /// A module variable set per stack from `terraform.tfvars`.
    fn setting(
        &self,
        module: &str,
        want: &str,
        ty: &str,
        description: String,
        per: BTreeMap<String, Value>,
        outs: &mut BTreeMap<String, ModuleOut>,
    ) -> String {
        let m = outs.entry(module.to_string()).or_default();
        let name = m.names.take(want);
        let mut all = BTreeMap::new();
        for s in self.stacks {
            all.insert(s.clone(), per.get(s).cloned().unwrap_or(Value::Null));
        }
        m.variables.insert(
            name.clone(),
            Var {
                ty: ty.into(),
                description,
                source: VarSource::Setting(all),
            },
        );
        name
    }

    /// The body of one block from its trees in the stacks that have it:
    /// what is equal is written, what differs becomes a variable.
    #[allow(clippy::too_many_arguments)]
    fn body(
        &self,
        trees: &[(&str, &Map<String, Value>)],
        node: &Value,
        module: &str,
        prefix: &str,
        address: &str,
        outs: &mut BTreeMap<String, ModuleOut>,
    ) -> Result<Vec<hcl::Structure>, ExportError> {
        let mut keys: Vec<&String> = Vec::new();
        for (_, t) in trees {
            for k in t.keys() {
                if !keys.contains(&k) {
                    keys.push(k);
                }
            }
        }
        let is_block = |k: &str| node["blocks"].get(k).is_some();
        let mut attrs = Vec::new();
        let mut blocks = Vec::new();
        for k in keys {
            let name = format!("{prefix}_{k}");
            let at = At {
                module,
                guarded: false,
                hint: &name,
            };
            if !is_block(k) {
                let vals: Vec<(&str, Option<&Value>)> =
                    trees.iter().map(|(s, t)| (*s, t.get(k.as_str()))).collect();
                // Terraform needs every `for_each` key at plan time: a
                // lookup's value is known then, a managed resource's not.
                // A map's keys are literal; a set's elements are its keys.
                if k == "for_each" {
                    for (_, v) in &vals {
                        let set = v.and_then(|v| match schema::as_fn(v) {
                            Some(("toset", items)) => Some(items),
                            _ => v.is_array().then_some(v),
                        });
                        let late = set
                            .into_iter()
                            .flat_map(value::refs)
                            .find(|(key, _)| self.placed.get(key).is_some_and(|p| !p.data));
                        if let Some((key, attr)) = late {
                            return Err(ExportError::Invalid(format!(
                                "{address}: its for_each keys hold {key}.{attr}, known only after apply (Terraform needs every key at plan time)"
                            )));
                        }
                    }
                }
                let first = vals[0].1;
                let e = if vals.iter().all(|(_, v)| v.is_some() && *v == first) {
                    self.expr(first.unwrap_or(&Value::Null), &at, outs)?
                } else if vals
                    .iter()
                    .any(|(_, v)| v.is_some_and(value::contains_secret))
                {
                    // A secret never reaches terraform.tfvars.
                    self.expr(&value::secret(Value::Null), &at, outs)?
                } else if let Some((f, per)) = same_fn_plain(&vals) {
                    // `f(var.x)`: the plain argument set per stack.
                    let ty = type_of(&per.values().collect::<Vec<_>>());
                    let var =
                        self.setting(module, &name, ty, format!("`{k}` of {address}."), per, outs);
                    Expression::FuncCall(Box::new(FuncCall::builder(f).arg(var_expr(&var)).build()))
                } else if !vals
                    .iter()
                    .any(|(_, v)| v.is_some_and(|v| value::contains_ref(v) || contains_fn(v)))
                {
                    // The value each stack writes in its tfvars: plain text.
                    let per: BTreeMap<String, Value> = vals
                        .iter()
                        .map(|(s, v)| (s.to_string(), plain_for(v.unwrap_or(&Value::Null), s)))
                        .collect();
                    let ty = type_of(&per.values().collect::<Vec<_>>());
                    let var =
                        self.setting(module, &name, ty, format!("`{k}` of {address}."), per, outs);
                    var_expr(&var)
                } else {
                    // References that differ: the variants, one chosen per stack.
                    let mut variants: Vec<&Value> = Vec::new();
                    let mut per = BTreeMap::new();
                    for (s, v) in &vals {
                        let v = v.unwrap_or(&Value::Null);
                        let i = match variants.iter().position(|x| *x == v) {
                            Some(i) => i,
                            None => {
                                variants.push(v);
                                variants.len() - 1
                            }
                        };
                        per.insert(s.to_string(), Value::from(i));
                    }
                    let guarded = At {
                        module,
                        guarded: true,
                        hint: &name,
                    };
                    let exprs = variants
                        .iter()
                        .map(|v| self.expr(v, &guarded, outs))
                        .collect::<Result<Vec<_>, _>>()?;
                    let var = self.setting(
                        module,
                        &format!("{name}_variant"),
                        "number",
                        format!("Which value of `{k}` {address} takes (its references differ)."),
                        per,
                        outs,
                    );
                    Expression::Traversal(Box::new(Traversal::new(
                        Expression::Array(exprs),
                        [TraversalOperator::Index(var_expr(&var))],
                    )))
                };
                attrs.push(hcl::Structure::Attribute(Attribute::new(ident(k), e)));
                continue;
            }
            let sub = &node["blocks"][k.as_str()];
            let per: Vec<(&str, Vec<&Map<String, Value>>)> = trees
                .iter()
                .map(|(s, t)| {
                    // A typed struct mapped whole is one block.
                    let items = match t.get(k.as_str()) {
                        Some(Value::Array(a)) => a.iter().filter_map(Value::as_object).collect(),
                        Some(Value::Object(o)) => vec![o],
                        _ => Vec::new(),
                    };
                    (*s, items)
                })
                .collect();
            let lens: BTreeSet<usize> = per.iter().map(|(_, i)| i.len()).collect();
            if lens.len() == 1 {
                let n = *lens.iter().next().unwrap_or(&0);
                for j in 0..n {
                    let sub_trees: Vec<(&str, &Map<String, Value>)> =
                        per.iter().map(|(s, i)| (*s, i[j])).collect();
                    let p = if n > 1 {
                        format!("{name}_{j}")
                    } else {
                        name.clone()
                    };
                    let inner = self.body(&sub_trees, sub, module, &p, address, outs)?;
                    blocks.push(block(k, inner));
                }
            } else if lens == BTreeSet::from([0, 1]) {
                let present: Vec<(&str, &Map<String, Value>)> = per
                    .iter()
                    .filter(|(_, i)| i.len() == 1)
                    .map(|(s, i)| (*s, i[0]))
                    .collect();
                let flags = per
                    .iter()
                    .map(|(s, i)| (s.to_string(), Value::Bool(!i.is_empty())))
                    .collect();
                let var = self.setting(
                    module,
                    &format!("{name}_enabled"),
                    "bool",
                    format!("Whether {address} has a `{k}` block."),
                    flags,
                    outs,
                );
                let inner = self.body(&present, sub, module, &name, address, outs)?;
                let cond = Expression::Conditional(Box::new(hcl::expr::Conditional::new(
                    var_expr(&var),
                    Expression::Array(vec![Expression::from(1)]),
                    Expression::Array(vec![]),
                )));
                let mut body = Body::builder().add_attribute(Attribute::new("for_each", cond));
                body = body.add_block(labeled("content", &[], inner));
                blocks.push(hcl::Structure::Block(Block {
                    identifier: ident("dynamic"),
                    labels: vec![k.as_str().into()],
                    body: body.build(),
                }));
            } else {
                return Err(ExportError::Shape {
                    address: address.to_string(),
                    what: format!("the number of `{k}` blocks"),
                    detail: format!("{lens:?}"),
                });
            }
        }
        attrs.extend(blocks);
        Ok(attrs)
    }
}

/// When every stack's value is `f(plain)` with one `f`: `f` and each
/// stack's plain argument.
fn same_fn_plain(vals: &[(&str, Option<&Value>)]) -> Option<(String, BTreeMap<String, Value>)> {
    let mut name: Option<&str> = None;
    let mut per = BTreeMap::new();
    for (s, v) in vals {
        let (f, arg) = schema::as_fn((*v)?)?;
        if name.is_some_and(|n| n != f) || value::contains_ref(arg) || contains_fn(arg) {
            return None;
        }
        name = Some(f);
        per.insert(s.to_string(), plain_for(arg, s));
    }
    Some((name?.to_string(), per))
}

/// Whether `v` holds a `$fn` marker (tfvars hold plain values only).
fn contains_fn(v: &Value) -> bool {
    let mut found = false;
    value::walk(v, &mut |x| found |= schema::as_fn(x).is_some());
    found
}

fn ident(s: &str) -> Identifier {
    Identifier::sanitized(s)
}

fn block(name: &str, body: Vec<hcl::Structure>) -> hcl::Structure {
    hcl::Structure::Block(labeled(name, &[], body))
}

/// One resource across the stacks: its drafts in each stack that has it.
struct Across {
    key: Key,
    module: String,
    per: BTreeMap<String, Vec<Option<Draft>>>,
}

/// Exports `envs` (every stack of one project, so modules are shared).
/// `state` adds `imports.tf` for the stacks it names.
pub fn export(
    envs: &[Environment<'_>],
    state: &BTreeMap<String, StateIds>,
) -> Result<Exported, ExportError> {
    let stacks: Vec<String> = envs.iter().map(|e| e.stack.name().to_string()).collect();
    let mut all: Vec<Across> = Vec::new();
    let mut index: BTreeMap<Key, usize> = BTreeMap::new();
    let mut placed: BTreeMap<Key, Placed> = BTreeMap::new();
    let mut taken: BTreeMap<(String, &'static str), Names> = BTreeMap::new();
    // With state, `morket:urn` is `URN#lineage` (the engine's tag), the
    // lineage a per-stack variable so the modules stay shared.
    let lineages: BTreeMap<String, Value> = if state.is_empty() {
        BTreeMap::new()
    } else {
        stacks
            .iter()
            .map(|s| {
                let l = state.get(s).map_or("", |x| x.lineage.as_str());
                let suffix = if l.is_empty() {
                    String::new()
                } else {
                    format!("#{l}")
                };
                (s.clone(), Value::String(suffix))
            })
            .collect()
    };
    for e in envs {
        for d in e.stack.resources() {
            let tag = if lineages.is_empty() {
                Value::String(d.urn.to_string())
            } else {
                value::concat(vec![
                    Value::String(d.urn.to_string()),
                    serde_json::json!({ LINEAGE: true }),
                ])
            };
            let Some(drafts) = drafts_of(d, e.registry, &tag)? else {
                continue;
            };
            let key = key_of(d.urn.as_str());
            let Some(main) = drafts.first().and_then(Option::as_ref) else {
                continue;
            };
            let i = match index.get(&key) {
                Some(i) => *i,
                None => {
                    let module = module_of(d.urn.component_path());
                    let p = e.registry.get(&d.type_name);
                    let name = taken
                        .entry((module.clone(), main.tf_type))
                        .or_default()
                        .take(&tf_name(d.urn.name()));
                    placed.insert(
                        key.clone(),
                        Placed {
                            module: module.clone(),
                            data: main.data,
                            tf_type: main.tf_type,
                            name,
                            always: false,
                            attrs: p
                                .and_then(|p| p.schema())
                                .map(|ts| ts.schema.tf_attrs)
                                .unwrap_or(&[]),
                            secret_outputs: p
                                .map(|p| p.secret_outputs().iter().map(|s| s.to_string()).collect())
                                .unwrap_or_default(),
                        },
                    );
                    all.push(Across {
                        key: key.clone(),
                        module,
                        per: BTreeMap::new(),
                    });
                    index.insert(key.clone(), all.len() - 1);
                    all.len() - 1
                }
            };
            all[i].per.insert(e.stack.name().to_string(), drafts);
        }
    }
    for a in &all {
        if let Some(p) = placed.get_mut(&a.key) {
            p.always = a.per.len() == stacks.len();
        }
    }
    let ctx = Ctx {
        placed: &placed,
        stacks: &stacks,
        lineages,
    };

    let mut outs: BTreeMap<String, ModuleOut> = BTreeMap::new();
    let mut addresses: BTreeMap<String, BTreeMap<Urn, Vec<String>>> = BTreeMap::new();
    let mut import_targets: Vec<Target> = Vec::new();
    for a in &all {
        let p = &placed[&a.key];
        let width = a.per.values().map(Vec::len).max().unwrap_or(0);
        for i in 0..width {
            let here: Vec<(&str, &Draft)> = a
                .per
                .iter()
                .filter_map(|(s, ds)| ds.get(i).and_then(Option::as_ref).map(|d| (s.as_str(), d)))
                .collect();
            let Some(&(_, first)) = here.first() else {
                continue;
            };
            // The main block takes the name; the others (a bucket's
            // versioning, ...) share it under their own types.
            let name = if i == 0 {
                p.name.clone()
            } else {
                taken
                    .entry((a.module.clone(), first.tf_type))
                    .or_default()
                    .take(&p.name)
            };
            let address = if first.data {
                format!("data.{}.{name}", first.tf_type)
            } else {
                format!("{}.{name}", first.tf_type)
            };
            let prefix = if i == 0 {
                name.clone()
            } else {
                format!("{name}_{}", first.tf_type.trim_start_matches("aws_"))
            };
            let mut body: Vec<hcl::Structure> = Vec::new();
            if here.len() < stacks.len() {
                if first.tree.contains_key("for_each") {
                    return Err(ExportError::Shape {
                        address,
                        what: "presence (a for_each resource cannot also take count)".into(),
                        detail: format!("in {} of {} stacks", here.len(), stacks.len()),
                    });
                }
                let flags = stacks
                    .iter()
                    .map(|s| (s.clone(), Value::Bool(here.iter().any(|(h, _)| h == s))))
                    .collect();
                let var = ctx.setting(
                    &a.module,
                    &format!("{prefix}_enabled"),
                    "bool",
                    format!("Whether {address} exists in this environment."),
                    flags,
                    &mut outs,
                );
                body.push(hcl::Structure::Attribute(Attribute::new(
                    "count",
                    Expression::Conditional(Box::new(hcl::expr::Conditional::new(
                        var_expr(&var),
                        Expression::from(1),
                        Expression::from(0),
                    ))),
                )));
            }
            let trees: Vec<(&str, &Map<String, Value>)> =
                here.iter().map(|(s, d)| (*s, &d.tree)).collect();
            let node = schema_node(first.data, first.tf_type);
            body.extend(ctx.body(&trees, node, &a.module, &prefix, &address, &mut outs)?);
            let mut deps = Vec::new();
            for k in &first.depends_on {
                let Some(q) = placed.get(k) else { continue };
                let at = At {
                    module: &a.module,
                    guarded: false,
                    hint: &prefix,
                };
                deps.push(if q.module == a.module {
                    let (root, path) = q.root_path();
                    let ops: Vec<Op<'_>> = path.iter().map(|s| Op::Attr(s.as_str())).collect();
                    path_expr(&root, &ops)
                } else {
                    ctx.reference(k, "id", &at, &mut outs)?
                });
            }
            if !deps.is_empty() {
                body.push(hcl::Structure::Attribute(Attribute::new(
                    "depends_on",
                    Expression::Array(deps),
                )));
            }
            let mut ignore: Vec<String> = first
                .ignore_changes
                .iter()
                .filter_map(|f| first.arg_for(f))
                .collect();
            if first.tf_type == "aws_secretsmanager_secret_version" {
                // Written once by the stack; rotation owns it after that.
                ignore.push("secret_string".into());
            }
            ignore.sort();
            ignore.dedup();
            let mut lifecycle = Vec::new();
            // A certificate in use cannot be deleted first: the engine
            // replaces it create-first (it has no unique name), Terraform
            // only when told.
            if first.tf_type == "aws_acm_certificate" {
                lifecycle.push(attr("create_before_destroy", Expression::Bool(true)));
            }
            if !ignore.is_empty() {
                let list = ignore
                    .iter()
                    .map(|a| Expression::Variable(Variable::unchecked(a.as_str())))
                    .collect();
                lifecycle.push(attr("ignore_changes", Expression::Array(list)));
            }
            if !lifecycle.is_empty() {
                body.push(block("lifecycle", lifecycle));
            }
            let labels = vec![first.tf_type.into(), name.as_str().into()];
            outs.entry(a.module.clone()).or_default().body.push(Block {
                identifier: ident(if first.data { "data" } else { "resource" }),
                labels,
                body: body_of(body),
            });
            let qualified = if a.module.is_empty() {
                address.clone()
            } else {
                format!("module.{}.{address}", a.module)
            };
            for (s, _) in &here {
                let urn = Urn::parse(&format!("{s}::{}", a.key))
                    .map_err(|e| ExportError::Invalid(e.to_string()))?;
                addresses
                    .entry(s.to_string())
                    .or_default()
                    .entry(urn)
                    .or_default()
                    .push(qualified.clone());
            }
            // No import id: not importable (local_file) or only by a secret
            // (random_password).
            if !first.data && !first.import_id.is_empty() {
                let indexed = if here.len() < stacks.len() {
                    format!("{qualified}[0]")
                } else {
                    qualified
                };
                import_targets.push(Target {
                    key: a.key.clone(),
                    to: indexed,
                    template: first.import_id,
                    each: first
                        .args
                        .iter()
                        .find(|(_, t)| *t == "for_each")
                        .map(|(f, _)| *f),
                });
            }
        }
    }

    // Stack outputs (they add module outputs, so before modules are written).
    let mut env_outputs: BTreeMap<String, Vec<(String, Expression, bool)>> = BTreeMap::new();
    for e in envs {
        let mut v = Vec::new();
        for (name, urn, attr) in e.outputs {
            let key = key_of(urn.as_str());
            let at = At {
                module: "",
                guarded: false,
                hint: name,
            };
            let sensitive = placed
                .get(&key)
                .is_some_and(|p| p.secret_outputs.iter().any(|s| s == attr));
            v.push((
                name.clone(),
                ctx.reference(&key, attr, &at, &mut outs)?,
                sensitive,
            ));
        }
        env_outputs.insert(e.stack.name().to_string(), v);
    }

    let root = outs.remove("").unwrap_or_default();
    let mut files = Files::new();
    let used = |m: &ModuleOut| -> BTreeSet<&'static str> {
        m.body
            .iter()
            .filter_map(|b| {
                let prefix = super::check::label(b, 0).split('_').next().unwrap_or("");
                PROVIDERS.iter().map(|(p, _, _)| *p).find(|p| *p == prefix)
            })
            .collect()
    };
    for (m, out) in &outs {
        let dir = format!("modules/{m}");
        files.insert(
            format!("{dir}/main.tf"),
            layout::file(&body_of(
                out.body
                    .iter()
                    .cloned()
                    .map(hcl::Structure::Block)
                    .collect(),
            ))?,
        );
        files.insert(
            format!("{dir}/variables.tf"),
            layout::file(&variables_tf(out, &stacks[0])?)?,
        );
        files.insert(
            format!("{dir}/outputs.tf"),
            layout::file(&outputs_tf(&out.outputs))?,
        );
        files.insert(
            format!("{dir}/versions.tf"),
            layout::file(&versions_tf(&used(out)))?,
        );
    }
    let all_used: BTreeSet<&str> = outs.values().chain([&root]).flat_map(used).collect();
    for e in envs {
        let s = e.stack.name();
        let dir = format!("environments/{s}");
        files.insert(
            format!("{dir}/versions.tf"),
            layout::file(&versions_tf(&all_used))?,
        );
        files.insert(
            format!("{dir}/providers.tf"),
            layout::file(&providers_tf(e))?,
        );
        files.insert(format!("{dir}/backend.tf"), layout::file(&backend_tf(e))?);
        let (main, vars, tfvars) = environment_tf(s, &outs, &root)?;
        files.insert(format!("{dir}/main.tf"), layout::file(&main)?);
        files.insert(format!("{dir}/variables.tf"), layout::file(&vars)?);
        files.insert(format!("{dir}/terraform.tfvars"), layout::file(&tfvars)?);
        let outputs: BTreeMap<String, (Expression, bool)> = env_outputs
            .remove(s)
            .unwrap_or_default()
            .into_iter()
            .map(|(n, e, sens)| (n, (e, sens)))
            .collect();
        files.insert(
            format!("{dir}/outputs.tf"),
            layout::file(&outputs_tf(&outputs))?,
        );
        if let Some(st) = state.get(s) {
            files.insert(
                format!("{dir}/imports.tf"),
                layout::file(&imports_tf(e.stack, st, &import_targets, &addresses)?)?,
            );
        }
    }
    Ok(Exported { files, addresses })
}

impl Draft {
    /// The top-level Terraform argument an engine field (or a path under
    /// it) is written to, in this block.
    fn arg_for(&self, field: &str) -> Option<String> {
        let top = field.split('.').next()?;
        self.args
            .iter()
            .find(|(f, _)| *f == field || f.split('.').next() == Some(top))
            .map(|(_, a)| a.split('.').next().unwrap_or(a).to_string())
    }
}

fn attr(name: &str, e: Expression) -> hcl::Structure {
    hcl::Structure::Attribute(Attribute::new(ident(name), e))
}

fn labeled(kind: &str, labels: &[&str], body: Vec<hcl::Structure>) -> Block {
    Block {
        identifier: ident(kind),
        labels: labels.iter().map(|l| (*l).into()).collect(),
        body: body_of(body),
    }
}

fn type_expr(ty: &str) -> Expression {
    // `list(string)` is a call expression in HCL's syntax.
    match ty.split_once('(') {
        Some((f, rest)) => Expression::FuncCall(Box::new(
            FuncCall::builder(f)
                .arg(Expression::Variable(Variable::unchecked(
                    rest.trim_end_matches(')'),
                )))
                .build(),
        )),
        None => Expression::Variable(Variable::unchecked(ty)),
    }
}

/// A module's variables. A per-stack setting defaults to its value in
/// `first` (the stack the export was run for); the environments' tfvars
/// still set every one. Wired outputs, secrets and the stack name have
/// none: a caller must give them.
fn variables_tf(m: &ModuleOut, first: &str) -> Result<Body, ExportError> {
    let mut blocks = Vec::new();
    for (name, v) in &m.variables {
        let mut body = vec![
            attr("description", Expression::String(v.description.clone())),
            attr("type", type_expr(&v.ty)),
        ];
        match &v.source {
            VarSource::Setting(all) => {
                if let Some(d) = all.get(first).filter(|d| !d.is_null()) {
                    let d = plain(d).map_err(|e| {
                        ExportError::Invalid(format!("default of variable {name}: {e}"))
                    })?;
                    body.push(attr("default", d));
                }
            }
            VarSource::Secret => body.push(attr("sensitive", Expression::Bool(true))),
            VarSource::Wire(..) | VarSource::Stack | VarSource::Lineage(_) => {}
        }
        blocks.push(hcl::Structure::Block(labeled("variable", &[name], body)));
    }
    Ok(body_of(blocks))
}

fn outputs_tf(outputs: &BTreeMap<String, (Expression, bool)>) -> Body {
    let blocks = outputs.iter().map(|(name, (e, sensitive))| {
        let mut body = vec![attr("value", e.clone())];
        if *sensitive {
            body.push(attr("sensitive", Expression::Bool(true)));
        }
        hcl::Structure::Block(labeled("output", &[name], body))
    });
    body_of(blocks.collect::<Vec<_>>())
}

fn object(items: &[(&str, Expression)]) -> Expression {
    let mut o = Object::new();
    for (k, v) in items {
        o.insert(ObjectKey::from(*k), v.clone());
    }
    Expression::Object(o)
}

/// The hashicorp providers a body's resources need, by type prefix.
const PROVIDERS: &[(&str, &str, &str)] = &[
    ("aws", "hashicorp/aws", AWS_PROVIDER),
    ("random", "hashicorp/random", RANDOM_PROVIDER),
    ("time", "hashicorp/time", TIME_PROVIDER),
    ("local", "hashicorp/local", LOCAL_PROVIDER),
];

fn versions_tf(used: &BTreeSet<&str>) -> Body {
    let providers = PROVIDERS
        .iter()
        .filter(|(p, _, _)| *p == "aws" || used.contains(p))
        .map(|(p, source, version)| {
            attr(
                p,
                object(&[("source", (*source).into()), ("version", (*version).into())]),
            )
        })
        .collect();
    body_of(vec![hcl::Structure::Block(labeled(
        "terraform",
        &[],
        vec![
            attr("required_version", TERRAFORM_VERSION.into()),
            block("required_providers", providers),
        ],
    ))])
}

fn providers_tf(e: &Environment<'_>) -> Body {
    let mut tags: Vec<(&str, Expression)> = e
        .default_tags
        .iter()
        .map(|(k, v)| (k.as_str(), Expression::String(v.clone())))
        .collect();
    tags.push((
        crate::provider::aws::tags::STACK_TAG,
        Expression::String(e.stack.name().to_string()),
    ));
    body_of(vec![hcl::Structure::Block(labeled(
        "provider",
        &["aws"],
        vec![
            attr("region", Expression::String(e.region.clone())),
            block("default_tags", vec![attr("tags", object(&tags))]),
        ],
    ))])
}

/// S3 state with S3's own lock file (`use_lockfile`, Terraform >= 1.10),
/// beside the stack's morket-stack state when that is in S3; otherwise the
/// bucket is left to `terraform init -backend-config=bucket=...`.
fn backend_tf(e: &Environment<'_>) -> Body {
    let s = e.stack.name();
    let mut body = Vec::new();
    let (key, region) = match &e.backend {
        Some((bucket, prefix, region)) => {
            body.push(attr("bucket", Expression::String(bucket.clone())));
            let key = if prefix.is_empty() {
                format!("terraform/{s}.tfstate")
            } else {
                format!("{prefix}/terraform/{s}.tfstate")
            };
            (key, region.clone().unwrap_or_else(|| e.region.clone()))
        }
        None => (format!("terraform/{s}.tfstate"), e.region.clone()),
    };
    body.push(attr("key", Expression::String(key)));
    body.push(attr("region", Expression::String(region)));
    body.push(attr("encrypt", Expression::Bool(true)));
    body.push(attr("use_lockfile", Expression::Bool(true)));
    body_of(vec![hcl::Structure::Block(labeled(
        "terraform",
        &[],
        vec![hcl::Structure::Block(labeled("backend", &["s3"], body))],
    ))])
}

/// main.tf (modules and root resources), variables.tf and terraform.tfvars
/// of one stack.
fn environment_tf(
    stack: &str,
    outs: &BTreeMap<String, ModuleOut>,
    root: &ModuleOut,
) -> Result<(Body, Body, Body), ExportError> {
    let mut main: Vec<hcl::Structure> = Vec::new();
    let mut vars: Vec<hcl::Structure> = vec![hcl::Structure::Block(labeled(
        "variable",
        &["stack"],
        vec![
            attr(
                "description",
                Expression::String("The stack (environment) name, in names and tags.".into()),
            ),
            attr("type", type_expr("string")),
        ],
    ))];
    let mut tfvars: Vec<hcl::Structure> =
        vec![attr("stack", Expression::String(stack.to_string()))];
    // One namespace: `stack`, the root's own variables (its blocks name
    // them), then `<module>_<variable>` for each module setting.
    let mut names = Names::default();
    names.take("stack");
    for name in root.variables.keys() {
        names.take(name);
    }
    let mut setting = |name: &str, v: &Var| -> Result<(), ExportError> {
        let mut body = vec![
            attr("description", Expression::String(v.description.clone())),
            attr("type", type_expr(&v.ty)),
        ];
        match &v.source {
            VarSource::Setting(per) | VarSource::Lineage(per) => {
                let value = per.get(stack).cloned().unwrap_or(Value::Null);
                tfvars.push(attr(name, plain(&value)?));
            }
            VarSource::Secret => body.push(attr("sensitive", Expression::Bool(true))),
            VarSource::Wire(..) | VarSource::Stack => return Ok(()),
        }
        vars.push(hcl::Structure::Block(labeled("variable", &[name], body)));
        Ok(())
    };
    for (m, out) in outs {
        let mut body = vec![attr(
            "source",
            Expression::String(format!("../../modules/{m}")),
        )];
        for (name, v) in &out.variables {
            let e = match &v.source {
                VarSource::Wire(pm, o) => path_expr("module", &[Op::Attr(pm), Op::Attr(o)]),
                VarSource::Stack => var_expr("stack"),
                _ => {
                    let env_var = names.take(&format!("{m}_{name}"));
                    setting(&env_var, v)?;
                    var_expr(&env_var)
                }
            };
            body.push(attr(name, e));
        }
        main.push(hcl::Structure::Block(labeled("module", &[m], body)));
    }
    for (name, v) in &root.variables {
        setting(name, v)?;
    }
    main.extend(root.body.iter().cloned().map(hcl::Structure::Block));
    Ok((body_of(main), body_of(vars), body_of(tfvars)))
}

/// A plain value (no markers) as HCL.
fn plain(v: &Value) -> Result<Expression, ExportError> {
    convert(v, &mut |x| {
        let marker = x
            .as_object()
            .is_some_and(|m| m.len() == 1 && m.keys().all(|k| k.starts_with('$')));
        marker.then(|| {
            Err(ExportError::Invalid(format!(
                "a marker in a plain value: {x}"
            )))
        })
    })
}

/// JSON as HCL; `hook` writes the values it claims (markers).
fn convert(
    v: &Value,
    hook: &mut dyn FnMut(&Value) -> Option<Result<Expression, ExportError>>,
) -> Result<Expression, ExportError> {
    if let Some(e) = hook(v) {
        return e;
    }
    Ok(match v {
        Value::Null => Expression::Null,
        Value::Bool(b) => Expression::Bool(*b),
        Value::Number(n) => Expression::Number(
            n.as_i64()
                .map(hcl::Number::from)
                .or_else(|| n.as_u64().map(hcl::Number::from))
                .or_else(|| n.as_f64().and_then(hcl::Number::from_f64))
                .ok_or_else(|| ExportError::Invalid(format!("number {n}")))?,
        ),
        Value::String(s) => Expression::String(s.clone()),
        Value::Array(a) => Expression::Array(
            a.iter()
                .map(|x| convert(x, hook))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(o) => {
            let mut obj = Object::new();
            for (k, x) in o {
                obj.insert(ObjectKey::from(k.as_str()), convert(x, hook)?);
            }
            Expression::Object(obj)
        }
    })
}

/// An `import` block to write: the engine resource, the Terraform address,
/// the id template (`{field}`, `{id}`, `{each.key}`, `{each.value}`) and
/// the field a `for_each` resource iterates.
struct Target {
    key: Key,
    to: String,
    template: &'static str,
    each: Option<&'static str>,
}

/// `template` with `{id}`, `{FIELD}` and `{each.key|value}` filled in.
fn import_id(
    template: &str,
    id: &str,
    (inputs, outputs): (&Value, &Value),
    each: Option<(&str, &str)>,
) -> Result<String, ExportError> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..]
            .find('}')
            .ok_or_else(|| ExportError::Invalid(format!("import id {template}")))?;
        let (field, base) = match rest[open + 1..open + close].strip_suffix("|basename") {
            Some(f) => (f, true),
            None => (&rest[open + 1..open + close], false),
        };
        let start = out.len();
        match (field, each) {
            ("id", _) => out.push_str(id),
            ("each.key", Some((k, _))) => out.push_str(k),
            ("each.value", Some((_, v))) => out.push_str(v),
            ("each.key" | "each.value", None) => {
                return Err(ExportError::Invalid(format!(
                    "import id {template:?}: {field} outside a for_each resource is not a real id"
                )))
            }
            // `{a+b}`: the non-empty ones `_`-joined (security group rule
            // sources); `{f?}` may be empty (`time_sleep`: "30s,"); any
            // other field must have a value. `outputs.X` is an output.
            _ => {
                let optional = field.ends_with('?') || field.contains('+');
                let mut parts = Vec::new();
                for f in field.trim_end_matches('?').split('+') {
                    let v = match f.strip_prefix("outputs.") {
                        Some(o) => value::get_path(outputs, o),
                        None => value::get_path(inputs, f),
                    };
                    match v {
                        Some(Value::String(s)) if !s.is_empty() => parts.push(s.clone()),
                        Some(Value::Array(a)) if !a.is_empty() => parts.extend(
                            a.iter()
                                .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string)),
                        ),
                        Some(Value::Number(n)) => parts.push(n.to_string()),
                        Some(Value::Bool(b)) => parts.push(b.to_string()),
                        _ => {}
                    }
                }
                if parts.is_empty() && !optional {
                    return Err(ExportError::Invalid(format!(
                        "import id {template:?}: {field} has no value"
                    )));
                }
                out.push_str(&parts.join("_"));
            }
        }
        // `{field|basename}`: the part after the last `/` (a name from an ARN).
        if base {
            if let Some(i) = out[start..].rfind('/') {
                out.replace_range(start..start + i + 1, "");
            }
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    if out.contains(['<', '{']) {
        return Err(ExportError::Invalid(format!(
            "import id {out:?} (from {template:?}) is not a real id"
        )));
    }
    Ok(out)
}

/// One `import` block per Terraform resource whose engine resource has an
/// id in state, in that resource's import-id format.
fn imports_tf(
    declared: &Stack,
    st: &StateIds,
    targets: &[Target],
    addresses: &BTreeMap<String, BTreeMap<Urn, Vec<String>>>,
) -> Result<Body, ExportError> {
    let stack = declared.name();
    let mine = addresses.get(stack);
    let mut blocks = Vec::new();
    let mut push = |to: String, id: String| {
        let to_expr = Expression::Variable(Variable::unchecked(to));
        blocks.push(hcl::Structure::Block(labeled(
            "import",
            &[],
            vec![attr("to", to_expr), attr("id", Expression::String(id))],
        )));
    };
    for t in targets {
        let Ok(urn) = Urn::parse(&format!("{stack}::{}", t.key)) else {
            continue;
        };
        if !mine.is_some_and(|m| m.contains_key(&urn)) {
            continue;
        }
        let Some((id, inputs, outputs)) = st.ids.get(&urn) else {
            continue;
        };
        let named = |e: ExportError| ExportError::Invalid(format!("{} ({urn}): {e}", t.to));
        let Some(field) = t.each else {
            let id = import_id(t.template, id, (inputs, outputs), None).map_err(named)?;
            push(t.to.clone(), id);
            continue;
        };
        // One import per element: a map by key, a list (toset) by value.
        let pairs: Vec<(String, String)> = match value::get_path(inputs, field) {
            Some(Value::Object(m)) => m
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect(),
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(Value::as_str)
                .map(|v| (v.to_string(), v.to_string()))
                .collect(),
            _ => Vec::new(),
        };
        // Only elements still declared: an import block for a key the
        // configuration no longer has is an error in Terraform. An element
        // built from a reference (an ARN in the stack's partition) is known
        // only at plan time: the recorded ones are kept for it.
        let wanted = declared
            .resources()
            .iter()
            .find(|d| d.urn == urn)
            .and_then(|d| value::get_path(&d.inputs, field));
        let still = |k: &str| match wanted {
            Some(Value::Object(m)) => m.contains_key(k),
            Some(Value::Array(a)) => a.iter().any(|x| could_be(x, k)),
            _ => false,
        };
        for (k, v) in pairs.into_iter().filter(|(k, _)| still(k)) {
            let to = format!("{}[{}]", t.to, layout::quote(&k));
            let id = import_id(t.template, id, (inputs, outputs), Some((&k, &v))).map_err(named)?;
            push(to, id);
        }
    }
    Ok(body_of(blocks))
}

/// Whether declared element `v` may evaluate to `k`: its text, with each
/// reference of an interpolation standing for any text.
fn could_be(v: &Value, k: &str) -> bool {
    if let Some(s) = v.as_str() {
        return s == k;
    }
    let Some(parts) = value::as_concat(v) else {
        return true;
    };
    let pieces: Vec<Option<&str>> = flatten(parts).into_iter().map(Value::as_str).collect();
    let mut rest = k;
    for (i, piece) in pieces.iter().enumerate() {
        let Some(lit) = piece else { continue };
        let first = i == 0;
        let last = i + 1 == pieces.len();
        let at = if first && last {
            (rest == *lit).then_some(0)
        } else if first {
            rest.starts_with(lit).then_some(0)
        } else if last {
            rest.ends_with(lit).then(|| rest.len() - lit.len())
        } else {
            rest.find(lit)
        };
        let Some(at) = at else { return false };
        rest = &rest[at + lit.len()..];
    }
    true
}

fn body_of(items: Vec<hcl::Structure>) -> Body {
    items.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::provider::aws::{self, Aws, AwsSettings};

    /// The builtin and AWS types.
    fn aws_registry() -> Registry {
        let mut registry = Registry::builtin();
        aws::register(&mut registry, Arc::new(Aws::new(AwsSettings::default())));
        registry
    }

    /// Declares `urn` with `inputs` in `st`.
    fn declare(st: &mut crate::model::Stack, urn: Urn, inputs: Value) {
        st.push(crate::model::Declared {
            type_name: urn.type_name().into(),
            urn,
            inputs,
            options: crate::model::ResourceOptions::new(),
            parent: String::new(),
        })
        .unwrap();
    }

    /// `stack` as an environment in us-east-1 with no outputs or backend.
    fn test_env<'a>(stack: &'a Stack, registry: &'a Registry) -> Environment<'a> {
        Environment {
            stack,
            registry,
            outputs: &[],
            region: "us-east-1".into(),
            default_tags: BTreeMap::new(),
            backend: None,
        }
    }

    /// Every type the engine registers becomes Terraform, or is listed as
    /// engine-only with its reason.
    #[test]
    fn every_registered_type_maps_to_terraform_or_is_engine_only() {
        let mut r = Registry::builtin();
        aws::register(&mut r, Arc::new(Aws::new(AwsSettings::default())));
        let mut unmapped = Vec::new();
        let mut n = 0;
        for (t, p) in r.providers() {
            n += 1;
            let mapped = p.schema().is_some_and(|ts| !ts.schema.terraform.is_empty());
            let engine_only = ENGINE_ONLY.iter().any(|e| t.starts_with(e.prefix));
            if mapped == engine_only {
                unmapped.push(t);
            }
        }
        assert!(n > 60, "{n} types");
        assert!(
            unmapped.is_empty(),
            "neither mapped nor engine-only: {unmapped:?}"
        );
        assert!(ENGINE_ONLY.iter().all(|e| !e.reason.is_empty()));
    }

    /// Text around references stays text: a `$` before an interpolation
    /// cannot turn into the `$${` escape, and the stack's name is var.stack.
    #[test]
    fn templates_keep_literal_dollars_and_read_back() {
        use crate::model::{Declared, ResourceOptions, Stack};
        let mut st = Stack::new("demo").unwrap();
        let decl = |ty: &str, name: &str, inputs: Value| Declared {
            urn: Urn::new("demo", "", ty, name),
            type_name: ty.into(),
            inputs,
            options: ResourceOptions::new(),
            parent: String::new(),
        };
        st.push(decl(
            "random:index/RandomId",
            "a",
            serde_json::json!({"byte_length": 4}),
        ))
        .unwrap();
        let content = serde_json::json!({"$concat": ["price $",
            {"$ref": {"urn": "demo::::random:index/RandomId::a", "attr": "hex"}},
            " in demo-land, ${not} %{this}"]});
        st.push(decl(
            "local:index/File",
            "f",
            serde_json::json!({"path": "/tmp/x", "content": content,
                "file_permission": "0644", "directory_permission": "0755"}),
        ))
        .unwrap();
        let registry = Registry::builtin();
        let env = test_env(&st, &registry);
        let e = export(&[env], &BTreeMap::new()).unwrap();
        let main = &e.files["environments/demo/main.tf"];
        let body = hcl::parse(main).unwrap();
        let file = body
            .blocks()
            .find(|b| crate::export::check::label(b, 0) == "local_file")
            .unwrap();
        let Some(Expression::TemplateExpr(t)) = file
            .body
            .attributes()
            .find(|a| a.key.as_str() == "content")
            .map(|a| &a.expr)
        else {
            panic!("{main}");
        };
        let tpl = hcl::Template::from_expr(t).unwrap();
        let parts: Vec<String> = tpl
            .elements()
            .iter()
            .map(|el| match el {
                hcl::template::Element::Literal(l) => format!("text:{l}"),
                hcl::template::Element::Interpolation(i) => {
                    format!("expr:{}", layout::inline(&i.expr).unwrap())
                }
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(
            parts,
            [
                "text:price ",
                "expr:\"$\"",
                "expr:random_id.a.hex",
                "text: in ",
                "expr:var.stack",
                "text:-land, ${not} %{this}",
            ],
            "{main}"
        );
        let versions = &e.files["environments/demo/versions.tf"];
        assert!(versions.contains("hashicorp/local") && versions.contains("hashicorp/random"));
        assert!(!versions.contains("hashicorp/time"), "{versions}");
    }

    #[test]
    fn import_ids_fill_fields_outputs_elements_and_names() {
        let inputs = serde_json::json!({
            "name": "role", "cluster": "arn:aws:ecs:us-east-1:1:cluster/main",
            "cidr_blocks": ["10.0.0.0/16", "10.1.0.0/16"], "port": 443,
        });
        let outputs = serde_json::json!({"version_id": "v-1"});
        let id = |t: &str, each| import_id(t, "the-id", (&inputs, &outputs), each);
        assert_eq!(id("{id}|{outputs.version_id}", None).unwrap(), "the-id|v-1");
        assert_eq!(id("{cluster|basename}/{name}", None).unwrap(), "main/role");
        assert_eq!(
            id("sg_{port}_{cidr_blocks+absent+name}_{absent?}", None).unwrap(),
            "sg_443_10.0.0.0/16_10.1.0.0/16_role_"
        );
        // A field with no value is an error, not an empty part of the id.
        let e = id("{name}|{outputs.absent}", None).unwrap_err().to_string();
        assert!(e.contains("outputs.absent has no value"), "{e}");
        assert_eq!(
            id("{name}:{each.key}", Some(("read", "{}"))).unwrap(),
            "role:read"
        );
        assert_eq!(
            id("{name}/{each.value}", Some(("k", "arn:p"))).unwrap(),
            "role/arn:p"
        );
        // An id that still holds a placeholder is refused, never written.
        let e = id("{name}:<policy name>", None).unwrap_err().to_string();
        assert!(e.contains("role:<policy name>"), "{e}");
        let e = id("{name}:{each.key}", None).unwrap_err().to_string();
        assert!(e.contains("not a real id"), "{e}");
    }

    /// With state, `morket:urn` carries each stack's lineage as the engine
    /// tags it, through one module variable, and only stacks with state
    /// get imports.
    #[test]
    fn state_lineage_is_a_per_stack_variable_of_the_urn_tag() {
        use crate::model::{Declared, ResourceOptions, Stack};
        let registry = aws_registry();
        let stack = |name: &str| {
            let mut st = Stack::new(name).unwrap();
            st.push(Declared {
                urn: Urn::new(name, "obs", "aws:logs/LogGroup", "g"),
                type_name: "aws:logs/LogGroup".into(),
                inputs: serde_json::json!({"name": format!("/morket/{name}/app"),
                    "retention_in_days": 30, "tags": {}}),
                options: ResourceOptions::new(),
                parent: String::new(),
            })
            .unwrap();
            st
        };
        let (staging, production) = (stack("staging"), stack("production"));
        let env = |st| test_env(st, &registry);
        let urn = Urn::new("staging", "obs", "aws:logs/LogGroup", "g");
        let ids = BTreeMap::from([(
            urn,
            (
                "/morket/staging/app".to_string(),
                serde_json::json!({"name": "/morket/staging/app"}),
                serde_json::json!({}),
            ),
        )]);
        let state = BTreeMap::from([(
            "staging".to_string(),
            StateIds {
                lineage: "abc123".into(),
                ids,
            },
        )]);
        let e = export(&[env(&staging), env(&production)], &state).unwrap();
        let main = &e.files["modules/obs/main.tf"];
        assert!(
            main.contains(
                r#""morket:urn" = "${var.stack}::obs::aws:logs/LogGroup::g${var.urn_suffix}""#
            ),
            "{main}"
        );
        let vars = |s: &str| &e.files[&format!("environments/{s}/terraform.tfvars")];
        assert!(
            vars("staging").contains("obs_urn_suffix = \"#abc123\""),
            "{}",
            vars("staging")
        );
        assert!(
            vars("production").contains("obs_urn_suffix = \"\""),
            "{}",
            vars("production")
        );
        let imports = &e.files["environments/staging/imports.tf"];
        assert!(
            imports.contains(
                "to = module.obs.aws_cloudwatch_log_group.g\n  id = \"/morket/staging/app\""
            ),
            "{imports}"
        );
        assert!(!e.files.contains_key("environments/production/imports.tf"));
        // Without state the tag is the bare URN, as the engine writes it then.
        let e = export(&[env(&staging), env(&production)], &BTreeMap::new()).unwrap();
        assert!(!e.files["modules/obs/main.tf"].contains("urn_suffix"));
    }

    #[test]
    fn same_named_outputs_of_a_module_keep_apart() {
        use crate::model::Stack;
        let registry = aws_registry();
        let urn = |c: &str, t: &str, n: &str| Urn::new("staging", c, t, n);
        let group = urn("edge", "aws:logs/LogGroup", "waf");
        let acl = urn("edge", "aws:wafv2/WebAcl", "waf");
        let arn = |u: &Urn| serde_json::json!({"$ref": {"urn": u.to_string(), "attr": "arn"}});
        let mut st = Stack::new("staging").unwrap();
        for (u, inputs) in [
            (
                group.clone(),
                serde_json::json!({"name": "aws-waf-logs-x", "tags": {}}),
            ),
            (
                acl.clone(),
                serde_json::json!({"name": "x", "scope": "REGIONAL",
                    "default_action": {"allow": {}}, "rules": [], "tags": {},
                    "visibility_config": {"cloudwatch_metrics_enabled": true,
                        "metric_name": "x", "sampled_requests_enabled": true}}),
            ),
            (
                urn("app", "aws:wafv2/LoggingConfiguration", "logging"),
                serde_json::json!({"resource_arn": arn(&acl),
                    "log_destination_configs": [arn(&group)]}),
            ),
        ] {
            declare(&mut st, u, inputs);
        }
        let env = test_env(&st, &registry);
        let e = export(&[env], &BTreeMap::new()).unwrap();
        let outputs = hcl::parse(&e.files["modules/edge/outputs.tf"]).unwrap();
        let values: BTreeMap<String, String> = outputs
            .blocks()
            .map(|b| {
                let v = b.body.attributes().find(|a| a.key.as_str() == "value");
                (
                    b.labels[0].as_str().to_string(),
                    v.map(|a| a.expr.to_string()).unwrap_or_default(),
                )
            })
            .collect();
        assert_eq!(
            values,
            BTreeMap::from([
                ("waf_arn".into(), "aws_wafv2_web_acl.waf.arn".into()),
                (
                    "waf_arn_2".into(),
                    "aws_cloudwatch_log_group.waf.arn".into()
                ),
            ]),
            "{values:?}"
        );
        let app = &e.files["modules/app/main.tf"];
        assert!(
            app.contains("resource_arn            = var.edge_waf_arn\n"),
            "{app}"
        );
        assert!(app.contains("[var.edge_waf_arn_2]"), "{app}");
        let main = &e.files["environments/staging/main.tf"];
        assert!(
            main.contains("edge_waf_arn_2 = module.edge.waf_arn_2"),
            "{main}"
        );
        assert!(
            main.contains("edge_waf_arn   = module.edge.waf_arn\n"),
            "{main}"
        );
    }

    #[test]
    fn for_each_imports_are_the_recorded_elements_still_declared() {
        use crate::model::{Declared, ResourceOptions, Stack};
        let registry = aws_registry();
        let role = Urn::new("staging", "iam", "aws:iam/Role", "r");
        let caller = Urn::new("staging", "iam", "aws:sts/getCallerIdentity", "caller");
        let partition = serde_json::json!({"$concat": ["arn:",
            {"$ref": {"urn": caller.to_string(), "attr": "partition"}},
            ":iam::aws:policy/B"]});
        let mut st = Stack::new("staging").unwrap();
        st.push(Declared {
            type_name: caller.type_name().into(),
            urn: caller.clone(),
            inputs: serde_json::json!({}),
            options: ResourceOptions::new(),
            parent: String::new(),
        })
        .unwrap();
        st.push(Declared {
            type_name: role.type_name().into(),
            urn: role.clone(),
            inputs: serde_json::json!({"name": "r", "assume_role_policy": "{}", "tags": {},
                "inline_policies": {"kept": "{}"},
                "managed_policy_arns": ["arn:aws:iam::aws:policy/A", partition]}),
            options: ResourceOptions::new(),
            parent: String::new(),
        })
        .unwrap();
        let recorded = serde_json::json!({"name": "r",
            "inline_policies": {"kept": "{}", "dropped": "{}"},
            "managed_policy_arns": ["arn:aws:iam::aws:policy/A", "arn:aws:iam::aws:policy/B",
                "arn:aws:iam::aws:policy/Gone"]});
        let state = BTreeMap::from([(
            "staging".to_string(),
            StateIds {
                lineage: String::new(),
                ids: BTreeMap::from([(
                    role.clone(),
                    ("r".to_string(), recorded, serde_json::json!({})),
                )]),
            },
        )]);
        let env = test_env(&st, &registry);
        let e = export(&[env], &state).unwrap();
        let imports = &e.files["environments/staging/imports.tf"];
        for want in [
            "aws_iam_role_policy.r[\"kept\"]",
            "aws_iam_role_policy_attachment.r[\"arn:aws:iam::aws:policy/A\"]",
            // Built from the partition: known at plan time, kept.
            "aws_iam_role_policy_attachment.r[\"arn:aws:iam::aws:policy/B\"]",
        ] {
            assert!(imports.contains(want), "{want}\n{imports}");
        }
        // No longer declared.
        assert!(!imports.contains("dropped"), "{imports}");
        assert!(!imports.contains("policy/Gone"), "{imports}");
    }

    #[test]
    fn for_each_keys_known_only_after_apply_are_refused() {
        use crate::model::Stack;
        let registry = aws_registry();
        // Any managed resource's attribute will do: a log group's ARN.
        let policy = Urn::new("staging", "iam", "aws:logs/LogGroup", "p");
        let role = Urn::new("staging", "iam", "aws:iam/Role", "r");
        let stack = |arn: serde_json::Value| {
            let mut st = Stack::new("staging").unwrap();
            for (u, inputs) in [
                (policy.clone(), serde_json::json!({"name": "p", "tags": {}})),
                (
                    role.clone(),
                    serde_json::json!({"name": "r", "assume_role_policy": "{}",
                        "managed_policy_arns": [arn], "tags": {}}),
                ),
            ] {
                declare(&mut st, u, inputs);
            }
            st
        };
        let export_of = |st: &Stack| {
            let env = test_env(st, &registry);
            export(&[env], &BTreeMap::new())
        };
        // It exists only once it is made.
        let made = serde_json::json!({"$ref": {"urn": policy.to_string(), "attr": "arn"}});
        let Err(e) = export_of(&stack(made)) else {
            panic!("a for_each over a managed resource's ARN was exported");
        };
        let e = e.to_string();
        assert!(
            e.contains("aws_iam_role_policy_attachment") && e.contains("known only after apply"),
            "{e}"
        );
        // A literal ARN is a key Terraform knows.
        let literal = serde_json::json!("arn:aws:iam::aws:policy/ReadOnlyAccess");
        let e = export_of(&stack(literal)).unwrap();
        assert!(e.files["modules/iam/main.tf"].contains("for_each"));
    }

    #[test]
    fn the_stack_name_is_a_variable_in_whole_words_only() {
        let v = serde_json::json!({"a": "morket-staging-alb", "b": "stagingx", "c": "staging",
            "r": {"$ref": {"urn": "staging::x::t::n", "attr": "a"}}});
        let t = templated(&v, "staging");
        assert_eq!(
            t["a"],
            serde_json::json!({"$concat": ["morket-", {"$stack": true}, "-alb"]})
        );
        assert_eq!(t["b"], "stagingx");
        assert_eq!(t["c"], serde_json::json!({"$stack": true}));
        assert_eq!(t["r"], v["r"], "a reference is left alone");
    }
}
