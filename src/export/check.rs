//! Checks of an export read back from its text with hcl-rs (not from the
//! values it was built from): every resource type, argument, block and
//! referenced attribute against the provider schema, required arguments
//! present, and the reference graph of one stack, evaluated with that
//! stack's `terraform.tfvars` (counts and variants). Pure.

use std::collections::{BTreeMap, BTreeSet};

use hcl::expr::{Expression, TraversalOperator};
use hcl::{Block, Body, Structure};

use super::Files;
use crate::provider::aws::terraform::schema_of;

const META: &[&str] = &["count", "depends_on", "for_each", "provider", "lifecycle"];

pub(super) fn label(b: &Block, i: usize) -> &str {
    match b.labels.get(i) {
        Some(hcl::BlockLabel::String(s)) => s,
        Some(hcl::BlockLabel::Identifier(id)) => id.as_str(),
        None => "",
    }
}

/// `module.m.aws_vpc.x`, `module.m.data.aws_caller_identity.y`.
fn block_address(m: &str, b: &Block) -> String {
    let data = if b.identifier.as_str() == "data" {
        "data."
    } else {
        ""
    };
    format!("module.{m}.{data}{}.{}", label(b, 0), label(b, 1))
}

fn parse(files: &Files, path: &str) -> Result<Body, String> {
    let text = files.get(path).ok_or_else(|| format!("{path}: missing"))?;
    hcl::parse(text).map_err(|e| format!("{path}: {e}"))
}

/// Variables of a module or environment: name → declared type.
type Vars = BTreeMap<String, String>;

/// `variable` blocks of a variables.tf: name → type (`any` when untyped).
fn variables_of(body: &Body) -> Vars {
    body.blocks()
        .filter(|b| b.identifier.as_str() == "variable")
        .map(|b| {
            let ty = b
                .body
                .attributes()
                .find(|a| a.key.as_str() == "type")
                .map_or("any".to_string(), |a| a.expr.to_string());
            (label(b, 0).to_string(), ty)
        })
        .collect()
}

/// The modules of an export: name → parsed main.tf, variables, outputs.
struct Module {
    main: Body,
    /// name → declared type (`string`, `list(string)`, `any`).
    variables: Vars,
    outputs: BTreeMap<String, Expression>,
}

fn modules(files: &Files) -> Result<BTreeMap<String, Module>, String> {
    let mut out = BTreeMap::new();
    for path in files.keys() {
        let Some(rest) = path.strip_prefix("modules/") else {
            continue;
        };
        let Some(name) = rest.strip_suffix("/main.tf") else {
            continue;
        };
        let dir = format!("modules/{name}");
        let variables = variables_of(&parse(files, &format!("{dir}/variables.tf"))?);
        let outputs = parse(files, &format!("{dir}/outputs.tf"))?
            .blocks()
            .filter(|b| b.identifier.as_str() == "output")
            .filter_map(|b| {
                b.body
                    .attributes()
                    .find(|a| a.key.as_str() == "value")
                    .map(|a| (label(b, 0).to_string(), a.expr.clone()))
            })
            .collect();
        out.insert(
            name.to_string(),
            Module {
                main: parse(files, path)?,
                variables,
                outputs,
            },
        );
    }
    Ok(out)
}

/// Everything in `files` that parses wrong or is not in the provider
/// schema: unknown types, arguments and blocks, required arguments left
/// out, references to attributes a resource does not have, to undeclared
/// variables or to outputs a module does not have. Each module and each
/// environment root is checked the same way: its blocks, then the
/// references of its blocks and outputs.
pub fn schema_errors(files: &Files) -> Vec<String> {
    let mut errors = Vec::new();
    for (path, text) in files {
        if let Err(e) = hcl::parse(text) {
            errors.push(format!("{path}: {e}"));
        }
    }
    if !errors.is_empty() {
        return errors;
    }
    let mods = match modules(files) {
        Ok(m) => m,
        Err(e) => return vec![e],
    };
    for (m, module) in &mods {
        let outputs: Vec<(String, &Expression)> = module
            .outputs
            .iter()
            .map(|(n, e)| (format!("modules/{m}: output {n}"), e))
            .collect();
        check_root(
            &format!("modules/{m}"),
            &module.main,
            &module.variables,
            &outputs,
            &BTreeMap::new(),
            &mut errors,
        );
    }
    let envs: BTreeSet<&str> = files
        .keys()
        .filter_map(|p| p.strip_prefix("environments/")?.strip_suffix("/main.tf"))
        .collect();
    for env in envs {
        let dir = format!("environments/{env}");
        let (main, variables, outputs) = match (
            parse(files, &format!("{dir}/main.tf")),
            parse(files, &format!("{dir}/variables.tf")),
            parse(files, &format!("{dir}/outputs.tf")),
        ) {
            (Ok(m), Ok(v), Ok(o)) => (m, v, o),
            (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
                errors.push(e);
                continue;
            }
        };
        let variables = variables_of(&variables);
        let outputs: Vec<(String, &Expression)> = outputs
            .blocks()
            .filter(|b| b.identifier.as_str() == "output")
            .filter_map(|b| {
                let v = b.body.attributes().find(|a| a.key.as_str() == "value")?;
                Some((format!("{dir}: output {}", label(b, 0)), &v.expr))
            })
            .collect();
        check_root(&dir, &main, &variables, &outputs, &mods, &mut errors);
    }
    errors
}

/// One module or environment root: each resource and data block against
/// the provider schema, each `module` block against the module's
/// variables, and every reference of the blocks and `outputs`.
fn check_root(
    dir: &str,
    main: &Body,
    variables: &Vars,
    outputs: &[(String, &Expression)],
    mods: &BTreeMap<String, Module>,
    errors: &mut Vec<String>,
) {
    let mut declared: BTreeMap<String, (bool, String)> = BTreeMap::new();
    for b in main.blocks() {
        let data = b.identifier.as_str() == "data";
        if matches!(b.identifier.as_str(), "resource" | "data") {
            declared.insert(
                format!(
                    "{}{}.{}",
                    if data { "data." } else { "" },
                    label(b, 0),
                    label(b, 1)
                ),
                (data, label(b, 0).to_string()),
            );
        }
    }
    let mut refs: Vec<(String, &Expression)> = outputs.to_vec();
    for b in main.blocks() {
        let kind = b.identifier.as_str();
        match kind {
            "resource" | "data" => {
                let at = format!("{dir}: {kind} {}.{}", label(b, 0), label(b, 1));
                match schema_of(kind == "data", label(b, 0)) {
                    None => errors.push(format!("{at}: not a type of the provider schema")),
                    Some(s) => check_body(&b.body, s, &at, variables, errors),
                }
                refs.extend(expressions(&b.body).into_iter().map(|e| (at.clone(), e)));
            }
            "module" => {
                let name = label(b, 0);
                let at = format!("{dir}: module {name}");
                let Some(module) = mods.get(name) else {
                    errors.push(format!("{at} has no directory"));
                    continue;
                };
                for a in b.body.attributes() {
                    if a.key.as_str() != "source" && !module.variables.contains_key(a.key.as_str())
                    {
                        errors.push(format!("{at} has no variable {}", a.key));
                    }
                    refs.push((at.clone(), &a.expr));
                }
            }
            _ => errors.push(format!(
                "{dir}: a {kind} block, which the export never writes"
            )),
        }
    }
    for (at, e) in refs {
        let mut found = Vec::new();
        traversals(e, &mut found);
        for (root, path) in found {
            if root == "module" && path.len() >= 2 {
                if !mods
                    .get(&path[0])
                    .is_some_and(|m| m.outputs.contains_key(&path[1]))
                {
                    errors.push(format!(
                        "{at}: module.{}.{} is not an output",
                        path[0], path[1]
                    ));
                }
                continue;
            }
            let Some(addr) = address_of(&root, &path) else {
                if root == "var" && !path.is_empty() && !variables.contains_key(&path[0]) {
                    errors.push(format!("{at}: var.{} is not declared", path[0]));
                }
                continue;
            };
            let Some((data, ty)) = declared.get(&addr.0) else {
                errors.push(format!("{at}: {} is not declared in {dir}", addr.0));
                continue;
            };
            if let Some(attr) = addr.1 {
                let readable = schema_of(*data, ty)
                    .and_then(|s| s["readable_attributes"].as_array())
                    .is_some_and(|a| a.iter().any(|x| x == attr.as_str()));
                if !readable {
                    errors.push(format!("{at}: {} has no attribute {attr}", addr.0));
                }
            }
        }
    }
}

/// Arguments and blocks of `body` against the schema node `s`.
fn check_body(body: &Body, s: &serde_json::Value, at: &str, vars: &Vars, errors: &mut Vec<String>) {
    let mut present = BTreeSet::new();
    for st in body.iter() {
        match st {
            Structure::Attribute(a) => {
                let k = a.key.as_str();
                present.insert(k.to_string());
                match s["arguments"].get(k) {
                    None if !META.contains(&k) => errors.push(format!("{at}: no argument {k}")),
                    Some(arg) => {
                        let ty = arg["type"].as_str().unwrap_or("dynamic");
                        if let Some(wrong) = type_mismatch(ty, &a.expr, vars) {
                            errors.push(format!("{at}: {k} is {ty}, given {wrong}"));
                        }
                    }
                    None => {}
                }
            }
            Structure::Block(b) => {
                let (name, inner) = if b.identifier.as_str() == "dynamic" {
                    let content = b.body.blocks().find(|c| c.identifier.as_str() == "content");
                    (label(b, 0), content.map(|c| &c.body))
                } else {
                    (b.identifier.as_str(), Some(&b.body))
                };
                present.insert(name.to_string());
                if META.contains(&name) {
                    continue;
                }
                match (s["blocks"].get(name), inner) {
                    (Some(sub), Some(inner)) => {
                        check_body(inner, sub, &format!("{at} > {name}"), vars, errors)
                    }
                    _ => errors.push(format!("{at}: no block {name}")),
                }
            }
        }
    }
    for kind in ["arguments", "blocks"] {
        for (k, v) in s[kind].as_object().into_iter().flatten() {
            if v["required"] == serde_json::Value::Bool(true) && !present.contains(k) {
                errors.push(format!("{at}: required {k} is missing"));
            }
        }
    }
}

/// What is wrong with literal `e` for an argument of Terraform type `ty`
/// (`string`, `list(string)`, `map(string)`, `object({..})`):
/// a list or object where a single value goes, or the other way round.
/// A variable given whole is its declared type; other expressions whose
/// type is only known at plan time pass.
fn type_mismatch(ty: &str, e: &Expression, vars: &Vars) -> Option<&'static str> {
    let kind = match ty.split('(').next() {
        Some("string" | "number" | "bool") => "primitive",
        Some("list" | "set" | "tuple") => "list",
        Some("map" | "object") => "object",
        _ => return None,
    };
    let given = match e {
        Expression::Array(_) => "a list",
        Expression::Object(_) => "an object",
        Expression::String(_)
        | Expression::Number(_)
        | Expression::Bool(_)
        | Expression::TemplateExpr(_) => "a single value",
        // `[a, b][var.x]`: each variant.
        Expression::Traversal(t) => match (&t.expr, t.operators.as_slice()) {
            (Expression::Array(items), [TraversalOperator::Index(_)]) => {
                return items.iter().find_map(|x| type_mismatch(ty, x, vars));
            }
            (Expression::Variable(v), [TraversalOperator::GetAttr(name)])
                if v.as_str() == "var" =>
            {
                match vars.get(name.as_str()).and_then(|t| t.split('(').next()) {
                    Some("string" | "number" | "bool") => "a single value",
                    Some("list" | "set" | "tuple") => "a list",
                    Some("map" | "object") => "an object",
                    _ => return None,
                }
            }
            _ => return None,
        },
        Expression::FuncCall(f) => match f.name.name.as_str() {
            "jsonencode" | "base64encode" => "a single value",
            "toset" => "a list",
            _ => return None,
        },
        _ => return None,
    };
    let ok = matches!(
        (kind, given),
        ("primitive", "a single value") | ("list", "a list") | ("object", "an object")
    );
    (!ok).then_some(given)
}

/// Every expression in a body, nested blocks included.
fn expressions(body: &Body) -> Vec<&Expression> {
    let mut out = Vec::new();
    for st in body.iter() {
        match st {
            Structure::Attribute(a) => out.push(&a.expr),
            Structure::Block(b) => out.extend(expressions(&b.body)),
        }
    }
    out
}

/// `(root, [attr names])` of every traversal in `e`, templates included.
fn traversals(e: &Expression, out: &mut Vec<(String, Vec<String>)>) {
    walk(
        e,
        &mut |root, path| out.push((root.to_string(), path)),
        &|_| None,
    );
}

/// Walks `e` calling `f` on each traversal's root and attribute names;
/// `pick` chooses the element of an indexed list (`[a, b][var.x]`) when it
/// can, else every element is walked.
fn walk(
    e: &Expression,
    f: &mut dyn FnMut(&str, Vec<String>),
    pick: &dyn Fn(&str) -> Option<usize>,
) {
    match e {
        Expression::Traversal(t) => {
            if let (Expression::Array(items), Some(TraversalOperator::Index(i))) =
                (&t.expr, t.operators.first())
            {
                let var = match i {
                    Expression::Traversal(v) => match (&v.expr, v.operators.first()) {
                        (Expression::Variable(r), Some(TraversalOperator::GetAttr(n)))
                            if r.as_str() == "var" =>
                        {
                            pick(n.as_str())
                        }
                        _ => None,
                    },
                    _ => None,
                };
                match var.and_then(|k| items.get(k)) {
                    Some(chosen) => walk(chosen, f, pick),
                    None => items.iter().for_each(|x| walk(x, f, pick)),
                }
                return;
            }
            if let Expression::Variable(root) = &t.expr {
                let path = t
                    .operators
                    .iter()
                    .filter_map(|op| match op {
                        TraversalOperator::GetAttr(a) => Some(a.as_str().to_string()),
                        _ => None,
                    })
                    .collect();
                f(root.as_str(), path);
            } else {
                walk(&t.expr, f, pick);
            }
            for op in &t.operators {
                if let TraversalOperator::Index(i) = op {
                    walk(i, f, pick);
                }
            }
        }
        Expression::Variable(v) => f(v.as_str(), vec![]),
        Expression::Array(a) => a.iter().for_each(|x| walk(x, f, pick)),
        Expression::Object(o) => o.values().for_each(|x| walk(x, f, pick)),
        Expression::FuncCall(c) => c.args.iter().for_each(|x| walk(x, f, pick)),
        Expression::Conditional(c) => {
            walk(&c.cond_expr, f, pick);
            walk(&c.true_expr, f, pick);
            walk(&c.false_expr, f, pick);
        }
        Expression::ForExpr(x) => {
            walk(&x.collection_expr, f, pick);
        }
        Expression::Operation(op) => match op.as_ref() {
            hcl::expr::Operation::Binary(b) => {
                walk(&b.lhs_expr, f, pick);
                walk(&b.rhs_expr, f, pick);
            }
            hcl::expr::Operation::Unary(u) => walk(&u.expr, f, pick),
        },
        Expression::Parenthesis(p) => walk(p, f, pick),
        Expression::TemplateExpr(t) => {
            if let Ok(tpl) = hcl::Template::from_expr(t) {
                for el in tpl.elements() {
                    if let hcl::template::Element::Interpolation(i) = el {
                        walk(&i.expr, f, pick);
                    }
                }
            }
        }
        _ => {}
    }
}

/// The resource a traversal names within a module (`aws_vpc.x.id`,
/// `data.aws_caller_identity.this.account_id`) and the attribute read.
fn address_of(root: &str, path: &[String]) -> Option<(String, Option<String>)> {
    match root {
        "var" | "module" | "local" | "each" | "count" | "path" | "terraform" | "o" => None,
        "data" if path.len() >= 2 => Some((
            format!("data.{}.{}", path[0], path[1]),
            path.get(2).cloned(),
        )),
        _ if !path.is_empty() => Some((format!("{root}.{}", path[0]), path.get(1).cloned())),
        _ => None,
    }
}

/// The reference graph of `stack`: (from, to) between module-qualified
/// addresses, with counts and variants taken from its `terraform.tfvars`;
/// resources whose count is 0 there are left out, and their edges.
pub fn graph(files: &Files, stack: &str) -> Result<BTreeSet<(String, String)>, String> {
    let mods = modules(files)?;
    let env = format!("environments/{stack}");
    let main = parse(files, &format!("{env}/main.tf"))?;
    let tfvars: BTreeMap<String, Expression> = parse(files, &format!("{env}/terraform.tfvars"))?
        .attributes()
        .map(|a| (a.key.as_str().to_string(), a.expr.clone()))
        .collect();
    // module → its variable → the expression the environment passes.
    let mut inputs: BTreeMap<String, BTreeMap<String, Expression>> = BTreeMap::new();
    for b in main.blocks().filter(|b| b.identifier.as_str() == "module") {
        inputs.insert(
            label(b, 0).to_string(),
            b.body
                .attributes()
                .map(|a| (a.key.as_str().to_string(), a.expr.clone()))
                .collect(),
        );
    }
    // A module variable's value in this stack, when it is a setting.
    let setting = |m: &str, v: &str| -> Option<Expression> {
        let e = inputs.get(m)?.get(v)?;
        let mut found = None;
        if let Expression::Traversal(t) = e {
            if let (Expression::Variable(r), Some(TraversalOperator::GetAttr(n))) =
                (&t.expr, t.operators.first())
            {
                if r.as_str() == "var" {
                    found = tfvars.get(n.as_str()).cloned();
                }
            }
        }
        found
    };
    let enabled = |m: &str, b: &Block| -> bool {
        let Some(count) = b.body.attributes().find(|a| a.key.as_str() == "count") else {
            return true;
        };
        let Expression::Conditional(c) = &count.expr else {
            return true;
        };
        let mut var = None;
        walk(
            &c.cond_expr,
            &mut |r, p| {
                if r == "var" {
                    var = p.first().cloned();
                }
            },
            &|_| None,
        );
        var.and_then(|v| setting(m, &v))
            .map(|e| e != Expression::Bool(false))
            .unwrap_or(true)
    };
    let mut nodes: BTreeSet<String> = BTreeSet::new();
    for (m, module) in &mods {
        for b in module.main.blocks() {
            if enabled(m, b) {
                nodes.insert(block_address(m, b));
            }
        }
    }
    // The addresses an expression in module `m` depends on.
    fn targets(
        e: &Expression,
        m: &str,
        mods: &BTreeMap<String, Module>,
        inputs: &BTreeMap<String, BTreeMap<String, Expression>>,
        pick: &dyn Fn(&str, &str) -> Option<usize>,
        out: &mut BTreeSet<String>,
    ) {
        let mut refs = Vec::new();
        walk(e, &mut |r, p| refs.push((r.to_string(), p)), &|v| {
            pick(m, v)
        });
        for (root, path) in refs {
            if root == "var" {
                let Some(v) = path.first() else { continue };
                if let Some(passed) = inputs.get(m).and_then(|i| i.get(v)) {
                    let mut via = Vec::new();
                    walk(passed, &mut |r, p| via.push((r.to_string(), p)), &|_| None);
                    for (r, p) in via {
                        if r == "module" && p.len() >= 2 {
                            if let Some(o) = mods.get(&p[0]).and_then(|x| x.outputs.get(&p[1])) {
                                targets(o, &p[0], mods, inputs, pick, out);
                            }
                        }
                    }
                }
            } else if let Some((addr, _)) = address_of(&root, &path) {
                out.insert(format!("module.{m}.{addr}"));
            }
        }
    }
    let pick = |m: &str, v: &str| -> Option<usize> {
        match setting(m, v)? {
            Expression::Number(n) => n.as_u64().map(|n| n as usize),
            _ => None,
        }
    };
    let mut edges = BTreeSet::new();
    for (m, module) in &mods {
        for b in module.main.blocks() {
            let from = block_address(m, b);
            if !nodes.contains(&from) {
                continue;
            }
            let mut to = BTreeSet::new();
            for e in expressions(&b.body) {
                targets(e, m, &mods, &inputs, &pick, &mut to);
            }
            for t in to {
                if t != from && nodes.contains(&t) {
                    edges.insert((from.clone(), t));
                }
            }
        }
    }
    Ok(edges)
}
