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
