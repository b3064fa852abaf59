//! The Terraform export of staging and production (issue: `terraform plan`
//! parity), read back from its text: deterministic, in the provider schema,
//! and with the reference graph of the engine's DAG.

use std::collections::{BTreeMap, BTreeSet};

use morket_stack::export::{check, export, Exported};
use morket_stack::graph::Graph;

use super::load;

fn exported() -> (Vec<crate::stacks::Loaded>, Exported) {
    let loaded = vec![load("production"), load("staging")];
    let envs: Vec<_> = loaded.iter().map(|l| l.terraform_env(None)).collect();
    let e = export(&envs, &BTreeMap::new()).unwrap();
    (loaded, e)
}

#[test]
fn the_export_is_deterministic_and_every_file_is_in_the_provider_schema() {
    let (_, a) = exported();
    let (_, b) = exported();
    assert_eq!(a.files, b.files, "same stacks, same bytes");
    for want in [
        "modules/network/main.tf",
        "modules/network/variables.tf",
        "modules/network/outputs.tf",
        "environments/staging/versions.tf",
        "environments/staging/providers.tf",
        "environments/staging/backend.tf",
        "environments/staging/main.tf",
        "environments/staging/terraform.tfvars",
        "environments/production/outputs.tf",
    ] {
        assert!(a.files.contains_key(want), "{want} missing");
    }
    let errors = check::schema_errors(&a.files);
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    let backend = &a.files["environments/staging/backend.tf"];
    assert!(backend.contains("use_lockfile = true"), "{backend}");
    // No secret value: generated ones are random_password results.
    let all: String = a.files.values().cloned().collect();
    assert!(all.contains("resource \"random_password\""));
    // No engine marker anywhere, tfvars included.
    for marker in ["\"$secret", "\"$sealed", "\"$concat", "\"$stack", "\"$ref"] {
        assert!(!all.contains(marker), "{marker} in the export");
    }
    // Generated secrets AWS never returns are not rotated by a new
    // random_password after an import.
    let redis = &a.files["modules/redis/main.tf"];
    assert!(redis.contains("ignore_changes = [auth_token"), "{redis}");
}

#[test]
fn the_check_finds_unknown_arguments_blocks_attributes_and_missing_required_ones() {
    let (_, e) = exported();
    let mut files = e.files.clone();
    let main = files.get_mut("modules/network/main.tf").unwrap();
    *main = main.replacen("  cidr_block ", "  cidr_blok ", 1);
    *main = main.replacen("aws_vpc.vpc.id", "aws_vpc.vpc.nope", 1);
    main.push_str("\nresource \"aws_route\" \"extra\" {\n  nope {\n    a = 1\n  }\n}\n");
    // Arguments of the wrong shape: a list or an object where Terraform
    // takes one string (a JSON document, one policy ARN), and the reverse.
    main.push_str(concat!(
        "\nresource \"aws_iam_role_policy_attachment\" \"wrong\" {\n",
        "  role       = \"r\"\n  policy_arn = [\"a\", \"b\"]\n}\n",
        "\nresource \"aws_iam_role_policy\" \"wrong\" {\n",
        "  role   = \"r\"\n  policy = { Version = \"2012-10-17\" }\n}\n",
        "\nresource \"aws_ecs_task_definition\" \"wrong\" {\n",
        "  family                   = \"f\"\n  requires_compatibilities = \"FARGATE\"\n",
        "  container_definitions    = [[\"x\"], [\"y\"]][var.stack == \"a\" ? 0 : 1]\n}\n",
    ));
    let errors = check::schema_errors(&files).join("\n");
    assert!(errors.contains("no argument cidr_blok"), "{errors}");
    assert!(
        errors.contains("aws_vpc.vpc has no attribute nope"),
        "{errors}"
    );
    assert!(errors.contains("no block nope"), "{errors}");
    for wrong in [
        "aws_iam_role_policy_attachment.wrong: policy_arn is string, given a list",
        "aws_iam_role_policy.wrong: policy is string, given an object",
        "aws_ecs_task_definition.wrong: requires_compatibilities is set(string), given a single value",
        // Each variant of a per-stack choice.
        "aws_ecs_task_definition.wrong: container_definitions is string, given a list",
    ] {
        assert!(errors.contains(wrong), "{wrong}\n{errors}");
    }
    assert!(
        errors.contains("required route_table_id is missing"),
        "{errors}"
    );

    // Module outputs, environment roots and their outputs are checked too.
    let mut files = e.files.clone();
    let outputs = files.get_mut("modules/network/outputs.tf").unwrap();
    *outputs = outputs.replacen("aws_vpc.vpc.id", "aws_vpc.vpc.nope", 1);
    let env = files.get_mut("environments/staging/main.tf").unwrap();
    env.push_str("\ndata \"aws_availability_zones\" \"here\" {\n  nope = var.undeclared\n}\n");
    // A variable of another shape than the argument takes.
    let edge = files.get_mut("modules/edge/main.tf").unwrap();
    edge.push_str(concat!(
        "\nresource \"aws_iam_role_policy_attachment\" \"wrong\" {\n",
        "  role       = \"r\"\n  policy_arn = var.distribution_aliases\n}\n",
    ));
    files
        .get_mut("modules/network/main.tf")
        .unwrap()
        .push_str("\nlocals {\n  x = 1\n}\n");
    let out = files.get_mut("environments/staging/outputs.tf").unwrap();
    out.push_str("\noutput \"x\" {\n  value = module.network.nope\n}\n");
    let errors = check::schema_errors(&files).join("\n");
    for wrong in [
        "modules/network: output vpc_id: aws_vpc.vpc has no attribute nope",
        "environments/staging: data aws_availability_zones.here: no argument nope",
        "environments/staging: data aws_availability_zones.here: var.undeclared is not declared",
        "environments/staging: output x: module.network.nope is not an output",
        "modules/edge: resource aws_iam_role_policy_attachment.wrong: policy_arn is string, given a list",
        "modules/network: a locals block, which the export never writes",
    ] {
        assert!(errors.contains(wrong), "{wrong}\n{errors}");
    }
    assert!(!errors.contains("environments/production"), "{errors}");
}

#[test]
fn the_exported_reference_graph_is_the_engines_dag_in_both_stacks() {
    let (loaded, e) = exported();
    for l in &loaded {
        let s = l.stack.name();
        let addrs = &e.addresses[s];
        // Address → engine resource.
        let owner: BTreeMap<&str, &morket_stack::model::Urn> = addrs
            .iter()
            .flat_map(|(u, a)| a.iter().map(move |x| (x.as_str(), u)))
            .collect();
        let g = Graph::build(&l.stack).unwrap();
        let res = l.stack.resources();
        let mut dag = BTreeSet::new();
        for i in 0..res.len() {
            for j in g.dependencies(i) {
                if addrs.contains_key(&res[i].urn) && addrs.contains_key(&res[j].urn) {
                    dag.insert((res[i].urn.to_string(), res[j].urn.to_string()));
                }
            }
        }
        let mut tf = BTreeSet::new();
        for (from, to) in check::graph(&e.files, s).unwrap() {
            let (Some(a), Some(b)) = (owner.get(from.as_str()), owner.get(to.as_str())) else {
                panic!("{s}: {from} -> {to}: an address no engine resource became");
            };
            if a != b {
                tf.insert((a.to_string(), b.to_string()));
            }
        }
        let missing: Vec<_> = dag.difference(&tf).collect();
        let extra: Vec<_> = tf.difference(&dag).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{s}: engine edges not in the export: {missing:#?}\nexport edges not in the engine: {extra:#?}"
        );
        assert!(dag.len() > 100, "{s}: {} edges", dag.len());
    }
}

/// What an expression names that is not known offline and not another
/// resource's attribute (a secret variable, a value found by a `for`
/// expression) reads as this.
const UNKNOWN: &str = "<known after apply>";

/// Declares, under each traversal's root, the path it reads with the
/// path's own text at its end (`<aws_vpc.vpc.id>`; lists for index and
/// splat steps), so that a reference evaluates to what it names; `var`
/// roots end in [`UNKNOWN`] (the variables known are given).
fn unknowns(e: &hcl::Expression, ctx: &mut serde_json::Map<String, serde_json::Value>) {
    use hcl::expr::{Expression as E, TraversalOperator as Op};
    use serde_json::Value as J;
    fn grow(node: &mut J, ops: &[&Op], leaf: &str) {
        let Some((op, rest)) = ops.split_first() else {
            if !node.is_object() && !node.is_array() {
                *node = J::String(leaf.into());
            }
            return;
        };
        match op {
            Op::GetAttr(a) => {
                if !node.is_object() {
                    *node = J::Object(Default::default());
                }
                grow(
                    node.as_object_mut()
                        .unwrap()
                        .entry(a.as_str())
                        .or_insert(J::Null),
                    rest,
                    leaf,
                );
            }
            Op::Index(E::Number(n)) => {
                let i = n.as_u64().unwrap_or(0) as usize;
                if !node.is_array() {
                    *node = J::Array(vec![]);
                }
                let a = node.as_array_mut().unwrap();
                a.resize(a.len().max(i + 1), J::Null);
                grow(&mut a[i], rest, leaf);
            }
            Op::FullSplat | Op::AttrSplat => {
                if !node.is_array() {
                    *node = J::Array(vec![J::Null]);
                }
                grow(&mut node.as_array_mut().unwrap()[0], rest, leaf);
            }
            _ => {}
        }
    }
    let mut walk_all = |x: &E| unknowns(x, ctx);
    match e {
        E::Traversal(t) => {
            if let E::Variable(root) = &t.expr {
                let ops: Vec<&Op> = t
                    .operators
                    .iter()
                    .take_while(|o| !matches!(o, Op::Index(i) if !matches!(i, E::Number(_))))
                    .collect();
                let leaf = match (root.as_str(), path_text(e)) {
                    ("var", _) | (_, None) => UNKNOWN.to_string(),
                    (_, Some(text)) => format!("<{text}>"),
                };
                let node = ctx.entry(root.as_str()).or_insert(J::Null);
                grow(node, &ops, &leaf);
            } else {
                walk_all(&t.expr);
            }
            for op in &t.operators {
                if let Op::Index(i) = op {
                    unknowns(i, ctx);
                }
            }
        }
        E::Variable(v) => {
            ctx.entry(v.as_str()).or_insert(J::String(UNKNOWN.into()));
        }
        E::Array(a) => a.iter().for_each(walk_all),
        E::Object(o) => o.values().for_each(walk_all),
        E::FuncCall(c) => c.args.iter().for_each(walk_all),
        E::Conditional(c) => {
            unknowns(&c.cond_expr, ctx);
            unknowns(&c.true_expr, ctx);
            unknowns(&c.false_expr, ctx);
        }
        E::ForExpr(f) => unknowns(&f.collection_expr, ctx),
        E::Parenthesis(p) => unknowns(p, ctx),
        E::Operation(op) => match op.as_ref() {
            hcl::expr::Operation::Binary(b) => {
                unknowns(&b.lhs_expr, ctx);
                unknowns(&b.rhs_expr, ctx);
            }
            hcl::expr::Operation::Unary(u) => unknowns(&u.expr, ctx),
        },
        E::TemplateExpr(t) => {
            if let Ok(tpl) = hcl::Template::from_expr(t) {
                for el in tpl.elements() {
                    if let hcl::template::Element::Interpolation(i) = el {
                        unknowns(&i.expr, ctx);
                    }
                }
            }
        }
        _ => {}
    }
}

/// The attribute path a reference reads (`aws_lb.alb.arn` for
/// `aws_lb.alb.arn`, `one(aws_lb.alb[*].arn)` and `aws_lb.alb[0].arn`);
/// `None` for anything else.
fn path_text(e: &hcl::Expression) -> Option<String> {
    use hcl::expr::{Expression as E, TraversalOperator as Op};
    match e {
        E::FuncCall(f) if f.name.name.as_str() == "one" => path_text(f.args.first()?),
        E::Traversal(t) => {
            let E::Variable(root) = &t.expr else {
                return None;
            };
            let mut text = root.as_str().to_string();
            for op in &t.operators {
                match op {
                    Op::GetAttr(a) => {
                        text.push('.');
                        text.push_str(a.as_str());
                    }
                    Op::Index(E::Number(_)) | Op::FullSplat | Op::AttrSplat => {}
                    _ => return None,
                }
            }
            Some(text)
        }
        _ => None,
    }
}

/// `<module.M.O>` in `v`'s strings replaced by what module M outputs as O
/// (`<aws_vpc.vpc.id>`), or [`UNKNOWN`] when it is not a plain reference.
fn through_outputs(
    v: serde_json::Value,
    outputs: &BTreeMap<String, Option<String>>,
) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        J::String(s) => {
            let mut out = String::new();
            let mut rest = s.as_str();
            while let Some(i) = rest.find("<module.") {
                out.push_str(&rest[..i]);
                let Some(end) = rest[i..].find('>') else {
                    break;
                };
                let key = &rest[i + "<module.".len()..i + end];
                match outputs.get(key) {
                    Some(Some(text)) => out.push_str(&format!("<{text}>")),
                    _ => out.push_str(UNKNOWN),
                }
                rest = &rest[i + end + 1..];
            }
            out.push_str(rest);
            J::String(out)
        }
        J::Array(a) => J::Array(a.into_iter().map(|x| through_outputs(x, outputs)).collect()),
        J::Object(m) => J::Object(
            m.into_iter()
                .map(|(k, x)| (k, through_outputs(x, outputs)))
                .collect(),
        ),
        v => v,
    }
}

/// `e` evaluated with `vars` as `var` and every other reference its path;
/// the functions the export writes do what Terraform's do.
fn evaluate(
    e: &hcl::Expression,
    vars: &serde_json::Map<String, serde_json::Value>,
) -> Result<serde_json::Value, String> {
    use hcl::eval::{Context, Evaluate, FuncArgs, FuncDef, ParamType};
    use serde_json::Value as J;
    let mut roots = serde_json::Map::new();
    unknowns(e, &mut roots);
    let mut ctx = Context::new();
    for (root, v) in roots {
        let v = match (root.as_str(), v) {
            ("var", J::Object(mut m)) => {
                m.extend(vars.clone());
                J::Object(m)
            }
            // Each element by name, so a swapped key and value shows.
            ("each", _) => serde_json::json!({"key": "<each.key>", "value": "<each.value>"}),
            (_, v) => v,
        };
        ctx.declare_var(root, hcl::to_value(v).map_err(|e| e.to_string())?);
    }
    fn json(v: &hcl::Value) -> J {
        serde_json::to_value(v).unwrap_or(J::Null)
    }
    let jsonencode: hcl::eval::Func = |a: FuncArgs| Ok(hcl::Value::String(json(&a[0]).to_string()));
    let base64encode: hcl::eval::Func = |a: FuncArgs| {
        use base64::Engine;
        let s = a[0].as_str().unwrap_or_default();
        Ok(hcl::Value::String(
            base64::engine::general_purpose::STANDARD.encode(s),
        ))
    };
    let identity: hcl::eval::Func = |a: FuncArgs| Ok(a[0].clone());
    let one: hcl::eval::Func = |a: FuncArgs| {
        Ok(a[0]
            .as_array()
            .and_then(|x| x.first().cloned())
            .unwrap_or(hcl::Value::Null))
    };
    for (name, f) in [
        ("jsonencode", jsonencode),
        ("base64encode", base64encode),
        ("toset", identity),
        ("one", one),
    ] {
        ctx.declare_func(name, FuncDef::builder().param(ParamType::Any).build(f));
    }
    e.evaluate(&ctx)
        .map(|v| json(&v))
        .map_err(|e| e.to_string())
}

/// [`evaluate`], where `one([for o in x.list : o.leaf if o.field == K])`
/// over a list known only after apply is unknown.
fn lenient(
    e: &hcl::Expression,
    vars: &serde_json::Map<String, serde_json::Value>,
) -> Result<serde_json::Value, String> {
    use hcl::Expression as E;
    match e {
        E::FuncCall(f) if matches!(f.args.first(), Some(E::ForExpr(_))) => {
            Ok(serde_json::Value::String(UNKNOWN.into()))
        }
        E::Array(items) => items.iter().map(|x| lenient(x, vars)).collect(),
        e => evaluate(e, vars),
    }
}

/// A block's arguments as the tree the mapping builds: attributes
/// evaluated, nested blocks arrays of objects, `dynamic` blocks expanded;
/// meta-arguments left out.
fn evaluated_tree(
    body: &hcl::Body,
    vars: &serde_json::Map<String, serde_json::Value>,
    top: bool,
) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    use serde_json::Value as J;
    let mut out = serde_json::Map::new();
    for a in body.attributes() {
        if top && ["count", "depends_on", "provider"].contains(&a.key.as_str()) {
            continue;
        }
        out.insert(a.key.to_string(), lenient(&a.expr, vars)?);
    }
    for b in body.blocks() {
        let (name, inner) = match b.identifier.as_str() {
            "lifecycle" if top => continue,
            "dynamic" => {
                let each = b.body.attributes().find(|a| a.key.as_str() == "for_each");
                let on = each.map(|a| evaluate(&a.expr, vars)).transpose()?;
                if on.as_ref().and_then(J::as_array).is_none_or(Vec::is_empty) {
                    continue;
                }
                let content = b.body.blocks().find(|c| c.identifier.as_str() == "content");
                (b.labels[0].as_str().to_string(), content.map(|c| &c.body))
            }
            n => (n.to_string(), Some(&b.body)),
        };
        let Some(inner) = inner else { continue };
        let item = J::Object(evaluated_tree(inner, vars, false)?);
        match out.entry(name).or_insert(J::Array(vec![])) {
            J::Array(a) => a.push(item),
            _ => return Err("a block named like an argument".into()),
        }
    }
    Ok(out)
}

/// The tree the mapping builds, as Terraform would see it once applied:
/// references and secrets unknown, `each.key`/`each.value` by name, `$fn`
/// the function's result,
/// interpolations joined.
fn as_terraform(v: &serde_json::Value, refs: &dyn Fn(&str, &str) -> String) -> serde_json::Value {
    use morket_stack::value;
    use serde_json::Value as J;
    if let Some(k) = value::marker(v, "$each").and_then(J::as_str) {
        return J::String(format!("<each.{k}>"));
    }
    if let Some((urn, attr)) = value::as_ref(v) {
        return J::String(refs(urn, attr));
    }
    if value::as_secret(v).is_some() || value::as_sealed(v).is_some() {
        return J::String(UNKNOWN.into());
    }
    if let Some(parts) = value::as_concat(v) {
        fn text(v: &J, refs: &dyn Fn(&str, &str) -> String, out: &mut String) {
            match as_terraform(v, refs) {
                J::String(s) => out.push_str(&s),
                J::Array(a) => a.iter().for_each(|x| text(x, refs, out)),
                other => out.push_str(&other.to_string()),
            }
        }
        let mut s = String::new();
        parts.iter().for_each(|p| text(p, refs, &mut s));
        return J::String(s);
    }
    if let Some((f, arg)) = morket_stack::provider::schema::as_fn(v) {
        let arg = as_terraform(arg, refs);
        return match f {
            "jsonencode" => J::String(arg.to_string()),
            "base64encode" => {
                use base64::Engine;
                J::String(
                    base64::engine::general_purpose::STANDARD.encode(arg.as_str().unwrap_or("")),
                )
            }
            _ => arg,
        };
    }
    match v {
        J::Array(a) => J::Array(a.iter().map(|x| as_terraform(x, refs)).collect()),
        J::Object(m) => J::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), as_terraform(x, refs)))
                .collect(),
        ),
        v => v.clone(),
    }
}

/// Differences between what the mapping gives (`want`) and what the text
/// evaluates to (`got`), by path. JSON documents compare parsed.
fn differences(at: &str, want: &serde_json::Value, got: &serde_json::Value, out: &mut Vec<String>) {
    use serde_json::Value as J;
    let parsed = |v: &J| match v {
        J::String(s) if s.starts_with(['{', '[']) => serde_json::from_str::<J>(s).ok(),
        _ => None,
    };
    if let (Some(w), Some(g)) = (parsed(want), parsed(got)) {
        return differences(&format!("{at}(json)"), &w, &g, out);
    }
    match (want, got) {
        // A typed struct mapped whole is one block.
        (J::Object(_), J::Array(g)) if g.len() == 1 => differences(at, want, &g[0], out),
        (J::Number(w), J::Number(g)) if w.as_f64() == g.as_f64() => {}
        (J::Object(w), J::Object(g)) => {
            for k in w.keys().chain(g.keys().filter(|k| !w.contains_key(*k))) {
                let (a, b) = (w.get(k).unwrap_or(&J::Null), g.get(k).unwrap_or(&J::Null));
                differences(&format!("{at}.{k}"), a, b, out);
            }
        }
        (J::Array(w), J::Array(g)) if w.len() == g.len() => {
            for (i, (a, b)) in w.iter().zip(g).enumerate() {
                differences(&format!("{at}[{i}]"), a, b, out);
            }
        }
        // Terraform converts between number, bool and string.
        (J::Number(n), J::String(s)) | (J::String(s), J::Number(n)) if n.to_string() == *s => {}
        (J::Bool(b), J::String(s)) | (J::String(s), J::Bool(b)) if b.to_string() == *s => {}
        _ if want == got => {}
        _ => out.push(format!("{at}: mapping gives {want}, the text {got}")),
    }
}

/// Round trip per type: for every resource of both stacks, each Terraform
/// block the export wrote, parsed back and evaluated with the stack's
/// tfvars (another resource's attribute as the path it names, through
/// module outputs), equals field by field the
/// arguments the schema table maps from the resource's inputs, through the
/// same functions that build the provider's request bodies (`Conv::Json`).
/// Stack templating, variables, variants, counts, quoting and layout all
/// lie between the two.
#[test]
fn every_exported_block_evaluates_back_to_the_mapping_of_its_inputs() {
    use serde_json::Value as J;
    let (loaded, e) = exported();
    let parse = |p: &str| hcl::parse(&e.files[p]).unwrap_or_else(|x| panic!("{p}: {x}"));
    let mut checked_types = BTreeSet::new();
    let mut compared = 0usize;
    // References compared by what they name, not only as unknowns.
    let mut named = 0usize;
    let mut errors = Vec::new();
    for l in &loaded {
        let s = l.stack.name();
        let env = l.terraform_env(None);
        // Environment variables from tfvars; module variables from main.tf.
        let tfvars: serde_json::Map<String, J> =
            parse(&format!("environments/{s}/terraform.tfvars"))
                .attributes()
                .map(|a| {
                    (
                        a.key.to_string(),
                        evaluate(&a.expr, &Default::default()).unwrap(),
                    )
                })
                .collect();
        // Module outputs: `M.O` → the path it reads.
        let mut outputs: BTreeMap<String, Option<String>> = BTreeMap::new();
        for path in e.files.keys() {
            let Some(m) = path
                .strip_prefix("modules/")
                .and_then(|r| r.strip_suffix("/outputs.tf"))
            else {
                continue;
            };
            for b in parse(path).blocks() {
                let value = b.body.attributes().find(|a| a.key.as_str() == "value");
                outputs.insert(
                    format!("{m}.{}", b.labels[0].as_str()),
                    value.and_then(|a| path_text(&a.expr)),
                );
            }
        }
        let mut module_vars: BTreeMap<String, serde_json::Map<String, J>> = BTreeMap::new();
        for b in parse(&format!("environments/{s}/main.tf")).blocks() {
            if b.identifier.as_str() != "module" {
                continue;
            }
            let vars = module_vars
                .entry(b.labels[0].as_str().to_string())
                .or_default();
            for a in b.body.attributes() {
                let v = evaluate(&a.expr, &tfvars).unwrap();
                vars.insert(a.key.to_string(), through_outputs(v, &outputs));
            }
        }
        // A reference as the text names it: `<TYPE.NAME.ATTR>` in the
        // target's own module, with the type's Terraform attribute for the
        // engine output; keyed ones (`name:KEY`) are found by a `for`.
        let refs = |urn: &str, attr: &str| -> String {
            let Ok(u) = morket_stack::model::Urn::parse(urn) else {
                return format!("<not a URN: {urn}>");
            };
            let Some(addrs) = e.addresses[s].get(&u) else {
                return format!("<not exported: {urn}>");
            };
            if attr.contains(':') {
                return UNKNOWN.into();
            }
            let schema = env.registry.get(u.type_name()).and_then(|p| p.schema());
            let tf_attr = schema
                .as_ref()
                .and_then(|t| t.schema.tf_attrs.iter().find(|(a, _)| *a == attr))
                .map_or(attr, |(_, t)| *t);
            let (block, a) = match tf_attr.strip_prefix('>').and_then(|t| t.split_once('.')) {
                Some((other, a)) => (
                    addrs
                        .iter()
                        .find(|x| x.split('.').rev().nth(1) == Some(other)),
                    a,
                ),
                None => (addrs.first(), tf_attr),
            };
            let Some(block) = block else {
                return format!("<no block for {urn}.{attr}>");
            };
            let local = block.splitn(3, '.').nth(2).unwrap_or(block);
            let mut clean = String::new();
            for seg in a.split('.') {
                let (name, index) = seg.split_once('[').unwrap_or((seg, ""));
                if !index
                    .trim_end_matches(']')
                    .chars()
                    .all(|c| c.is_ascii_digit())
                {
                    return UNKNOWN.into();
                }
                clean.push('.');
                clean.push_str(name);
            }
            format!("<{local}{clean}>")
        };
        let mut bodies: BTreeMap<String, hcl::Block> = BTreeMap::new();
        for m in module_vars.keys() {
            for b in parse(&format!("modules/{m}/main.tf")).into_blocks() {
                let addr = match b.identifier.as_str() {
                    "data" => format!(
                        "module.{m}.data.{}.{}",
                        b.labels[0].as_str(),
                        b.labels[1].as_str()
                    ),
                    _ => format!(
                        "module.{m}.{}.{}",
                        b.labels[0].as_str(),
                        b.labels[1].as_str()
                    ),
                };
                bodies.insert(addr, b);
            }
        }
        for d in l.stack.resources() {
            let Some(addrs) = e.addresses[s].get(&d.urn) else {
                continue;
            };
            let p = env.registry.get(&d.type_name).unwrap();
            let ts = p.schema().unwrap();
            for addr in addrs {
                let module = addr.split('.').nth(1).unwrap_or_default();
                let vars = &module_vars[module];
                let Some(block) = bodies.get(addr) else {
                    errors.push(format!("{s}: {addr} is not in its module"));
                    continue;
                };
                let tf_type = addr.split('.').rev().nth(1).unwrap_or_default();
                let Some(tf) = ts.schema.terraform.iter().find(|t| t.resource == tf_type) else {
                    errors.push(format!(
                        "{s}: {addr}: {tf_type} is not in {}'s table",
                        d.type_name
                    ));
                    continue;
                };
                let want = as_terraform(
                    &J::Object(morket_stack::export::arguments(
                        &ts.schema,
                        tf,
                        p.is_lookup(),
                        &d.urn,
                        &d.inputs,
                        &J::String(d.urn.to_string()),
                    )),
                    &refs,
                );
                let text = want.to_string();
                named += ["<aws_", "<data.", "<random_", "<time_"]
                    .iter()
                    .map(|p| text.matches(p).count())
                    .sum::<usize>();
                match evaluated_tree(&block.body, vars, true) {
                    Ok(got) => {
                        let before = errors.len();
                        differences(&format!("{s}: {addr}"), &want, &J::Object(got), &mut errors);
                        compared += 1;
                        if errors.len() == before {
                            checked_types.insert(d.type_name.clone());
                        }
                    }
                    Err(x) => errors.push(format!("{s}: {addr}: does not evaluate: {x}")),
                }
            }
        }
    }
    assert!(
        errors.is_empty(),
        "{} differences:\n{}",
        errors.len(),
        errors.join("\n")
    );
    // Every type the stacks use, not a sample.
    let used: BTreeSet<String> = loaded
        .iter()
        .flat_map(|l| l.stack.resources().iter())
        .filter(|d| e.addresses.values().any(|a| a.contains_key(&d.urn)))
        .map(|d| d.type_name.clone())
        .collect();
    assert_eq!(checked_types, used);
    assert!(compared > 200, "{compared} blocks compared");
    assert!(named > 300, "{named} references compared by what they name");
}
