//! The Morket stack's configuration and planned properties, per criterion of
//! seed 000, checked on the plan from an empty state (no AWS calls).

#[path = "../stacks/mod.rs"]
#[allow(dead_code)]
mod stacks;

use std::path::Path;

use morket_stack::engine::Engine;
use morket_stack::plan::{Action, Plan, PlanOptions};
use morket_stack::secrets::{self, Crypter};
use morket_stack::state::{MemoryStore, StateStore};
use serde_json::Value;

fn stacks_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/stacks"))
}

fn load(name: &str) -> stacks::Loaded {
    stacks::load(stacks_dir(), name, None, &stacks::StackEnv::default())
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Loads `name` with one line of its file replaced.
fn load_edited(name: &str, from: &str, to: &str) -> Result<stacks::Loaded, String> {
    let text = std::fs::read_to_string(stacks_dir().join(format!("{name}.toml"))).unwrap();
    assert!(text.contains(from), "{from:?} not in {name}.toml");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("{name}.toml"));
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    stacks::load(
        stacks_dir(),
        name,
        Some(&path),
        &stacks::StackEnv::default(),
    )
    .map_err(|e| e.to_string())
}

fn preview(loaded: &stacks::Loaded) -> Plan {
    let mut store = MemoryStore::new(loaded.stack.name());
    store
        .set_crypter(Crypter::new(&secrets::random_key()))
        .unwrap();
    let mut eng = Engine::new(Box::new(store), loaded.registry.clone());
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(eng.preview(&loaded.stack, &PlanOptions::default()))
        .unwrap()
}

fn step_inputs<'a>(plan: &'a Plan, urn_suffix: &str) -> &'a Value {
    let s = plan
        .steps
        .iter()
        .find(|s| s.urn.as_str().ends_with(urn_suffix))
        .unwrap_or_else(|| panic!("no step ending in {urn_suffix}"));
    assert_eq!(s.action, Action::Create);
    s.planned_inputs.as_ref().unwrap()
}

#[test]
fn both_environments_load_and_plan_from_empty_state() {
    for env in ["staging", "production"] {
        let loaded = load(env);
        let plan = preview(&loaded);
        assert!(plan.counts().create > 0, "{env}");
        assert_eq!(
            plan.counts().create,
            loaded.stack.resources().len(),
            "{env}: everything is created"
        );
    }
}

#[test]
fn r2_1_vpc_cidr_and_r2_6_tags() {
    let plan = preview(&load("staging"));
    let vpc = step_inputs(&plan, "network::aws:ec2/Vpc::vpc");
    assert_eq!(vpc["cidr_block"], "10.0.0.0/16");
    assert_eq!(vpc["tags"]["Name"], "morket-staging-vpc");
    let cfg = stacks::morket::config::MorketConfig::load(&stacks::ConfigFile {
        path: stacks_dir().join("staging.toml"),
        table: std::fs::read_to_string(stacks_dir().join("staging.toml"))
            .unwrap()
            .parse()
            .unwrap(),
    })
    .unwrap();
    let tags = cfg.default_tags();
    assert_eq!(tags["Project"], "morket");
    assert_eq!(tags["Environment"], "staging");
    assert_eq!(tags["Module"], "infrastructure");
}

#[test]
fn r19_config_errors_name_file_key_and_value() {
    let cases = [
        (
            "nat_gateways = 1",
            "nat_gateways = 3",
            "network.nat_gateways = 3",
        ),
        ("memory = 512", "memory = 700", "ecs.backend.memory = 700"),
        (
            "engine_version = \"15.4\"",
            "engine_version = \"14.9\"",
            "aurora.engine_version = \"14.9\"",
        ),
        (
            "log_retention_days = 30",
            "log_retention_days = 31",
            "log_retention_days = 31",
        ),
        (
            "deployment_mode = \"SINGLE_INSTANCE\"",
            "deployment_mode = \"ACTIVE_STANDBY_MULTI_AZ\"",
            "rabbitmq.deployment_mode",
        ),
        (
            "snapshot_hour = 2",
            "snapshot_hour = 24",
            "opensearch.snapshot_hour = 24",
        ),
        (
            "vpc_cidr = \"10.0.0.0/16\"",
            "vpc_cidr = \"10.0.0.1/16\"",
            "network.vpc_cidr",
        ),
        (
            "region = \"us-east-1\"",
            "region = \"us-east-1\"\nbogus_key = 1",
            "bogus_key",
        ),
    ];
    for (from, to, want) in cases {
        let err = load_edited("staging", from, to)
            .err()
            .unwrap_or_else(|| panic!("{to:?} was accepted"));
        assert!(err.contains("staging.toml"), "{err}");
        assert!(err.contains(want), "{to:?}: {err}");
    }
}

fn count_type(plan: &Plan, type_name: &str) -> usize {
    plan.steps
        .iter()
        .filter(|s| s.type_name == type_name)
        .count()
}

#[test]
fn r2_2_public_and_private_subnets_per_az_and_r2_3_nat_per_environment() {
    for (env, nats) in [("staging", 1), ("production", 2)] {
        let plan = preview(&load(env));
        let mut azs_public = Vec::new();
        let mut azs_private = Vec::new();
        for s in plan
            .steps
            .iter()
            .filter(|s| s.type_name == "aws:ec2/Subnet")
        {
            let i = s.planned_inputs.as_ref().unwrap();
            let az = i["availability_zone"].as_str().unwrap().to_string();
            match i["tags"]["Tier"].as_str().unwrap() {
                "public" => {
                    assert_eq!(i["map_public_ip_on_launch"], true, "{}", s.urn);
                    azs_public.push(az)
                }
                "private" => {
                    assert_eq!(i["map_public_ip_on_launch"], false, "{}", s.urn);
                    azs_private.push(az)
                }
                t => panic!("tier {t}"),
            }
        }
        azs_public.sort();
        azs_private.sort();
        assert_eq!(azs_public, vec!["us-east-1a", "us-east-1b"], "{env}");
        assert_eq!(azs_private, vec!["us-east-1a", "us-east-1b"], "{env}");
        assert_eq!(count_type(&plan, "aws:ec2/InternetGateway"), 1, "{env}");
        assert_eq!(count_type(&plan, "aws:ec2/NatGateway"), nats, "{env}");
        assert_eq!(count_type(&plan, "aws:ec2/Eip"), nats, "{env}");
        // Every NAT gateway sits in a public subnet.
        for s in plan
            .steps
            .iter()
            .filter(|s| s.type_name == "aws:ec2/NatGateway")
        {
            let subnet_ref = &s.new.as_ref().unwrap().inputs["subnet_id"]["$ref"]["urn"];
            assert!(
                subnet_ref.as_str().unwrap().contains("::public-"),
                "{subnet_ref}"
            );
        }
    }
}

#[test]
fn r2_3_private_subnets_route_through_a_nat_and_public_through_the_igw() {
    for (env, nats) in [("staging", 1usize), ("production", 2)] {
        let plan = preview(&load(env));
        let routes: Vec<&Value> = plan
            .steps
            .iter()
            .filter(|s| s.type_name == "aws:ec2/Route")
            .map(|s| &s.new.as_ref().unwrap().inputs)
            .collect();
        assert_eq!(
            routes.len(),
            3,
            "{env}: one public and one per private table"
        );
        let via_igw = routes
            .iter()
            .filter(|r| {
                r["gateway_id"]["$ref"]["urn"]
                    .as_str()
                    .is_some_and(|u| u.ends_with("::igw"))
            })
            .count();
        assert_eq!(via_igw, 1, "{env}");
        let mut nat_targets: Vec<&str> = routes
            .iter()
            .filter_map(|r| r["nat_gateway_id"]["$ref"]["urn"].as_str())
            .collect();
        assert_eq!(nat_targets.len(), 2, "{env}");
        nat_targets.sort();
        nat_targets.dedup();
        assert_eq!(
            nat_targets.len(),
            nats,
            "{env}: private tables share the NAT in staging"
        );
        for r in &routes {
            assert_eq!(r["destination_cidr_block"], "0.0.0.0/0");
        }
        assert_eq!(
            count_type(&plan, "aws:ec2/RouteTableAssociation"),
            4,
            "{env}"
        );
    }
}

/// The name part of the URN a `$ref` input points at.
fn ref_name(v: &Value) -> String {
    v["$ref"]["urn"]
        .as_str()
        .map(|u| u.rsplit("::").next().unwrap().to_string())
        .unwrap_or_default()
}

#[test]
fn r2_4_security_groups_admit_exactly_the_listed_ingress() {
    let plan = preview(&load("staging"));
    let mut rules: Vec<(String, i64, String)> = plan
        .steps
        .iter()
        .filter(|s| s.type_name == "aws:ec2/SecurityGroupRule")
        .map(|s| {
            let i = &s.new.as_ref().unwrap().inputs;
            assert_eq!(i["type"], "ingress", "{}", s.urn);
            assert_eq!(i["protocol"], "tcp", "{}", s.urn);
            assert_eq!(i["from_port"], i["to_port"], "{}", s.urn);
            let source = match i["cidr_blocks"].as_array().filter(|a| !a.is_empty()) {
                Some(c) => c
                    .iter()
                    .map(|c| c.as_str().unwrap())
                    .collect::<Vec<_>>()
                    .join(","),
                None => ref_name(&i["source_security_group_id"]),
            };
            (
                ref_name(&i["security_group_id"]),
                i["from_port"].as_i64().unwrap(),
                source,
            )
        })
        .collect();
    rules.sort();
    let mut want: Vec<(String, i64, String)> = [
        ("sg-alb", 443, "0.0.0.0/0"),
        ("sg-ecs", 3000, "sg-alb"),
        ("sg-ecs", 8001, "sg-alb"),
        ("sg-aurora", 5432, "sg-ecs"),
        ("sg-redis", 6379, "sg-ecs"),
        ("sg-rabbitmq", 5671, "sg-ecs"),
        ("sg-opensearch", 443, "sg-ecs"),
        ("sg-clickhouse", 8123, "sg-ecs"),
        ("sg-clickhouse", 9000, "sg-ecs"),
        ("sg-temporal", 7233, "sg-ecs"),
    ]
    .iter()
    .map(|(g, p, s)| (g.to_string(), *p, s.to_string()))
    .collect();
    want.sort();
    assert_eq!(rules, want);
    assert_eq!(count_type(&plan, "aws:ec2/SecurityGroup"), 8);
}
