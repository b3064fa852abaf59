//! The Morket stack end to end through the real `morket-stack` binary against
//! moto: `up staging`, a no-change preview, a one-value config change that
//! plans exactly that change, `destroy staging` removing everything, and
//! `destroy production` refused while its data stores are protected.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_morket-stack");

fn stacks_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("stacks")
}

struct Run {
    code: i32,
    text: String,
}

/// The binary with the repository's stacks, `state` and moto as AWS.
fn command(moto: &support::moto::Moto, state: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.arg("--no-color")
        .arg("--stacks-dir")
        .arg(stacks_dir())
        .arg("--state-dir")
        .arg(state)
        .args(args)
        .env("AWS_ENDPOINT_URL", &moto.url)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        // moto is always consistent: a lookup that misses proves absence.
        .env("MORKET_STACK_AWS_LOOKUP_LAG", "0s")
        .env_remove("AWS_PROFILE");
    c
}

fn run(moto: &support::moto::Moto, state: &Path, args: &[&str]) -> Run {
    let out: Output = command(moto, state, args).output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        text: format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

fn ok(moto: &support::moto::Moto, state: &Path, args: &[&str]) -> String {
    let r = run(moto, state, args);
    assert_eq!(r.code, 0, "{args:?}:\n{}", r.text);
    r.text
}

fn state_urns(moto: &support::moto::Moto, state: &Path, stack: &str) -> Vec<String> {
    ok(moto, state, &["state", "list", stack])
        .lines()
        .filter(|l| l.contains("::"))
        .map(str::to_string)
        .collect()
}

/// A lookup's URN (`aws:ssm/getParameter`, ...).
fn is_lookup(urn: &str) -> bool {
    urn.split("::")
        .nth(2)
        .and_then(|t| t.split('/').nth(1))
        .is_some_and(|t| t.starts_with("get"))
}

/// The region's Ubuntu AMI parameter, the ClickHouse launch template's
/// image, and the OpenSearch domain's access policy, as moto has them.
fn lookup_answers_in_moto(moto: &support::moto::Moto) -> (String, String, String) {
    rt().block_on(async {
        let conf = moto.sdk_config().await;
        let ami = aws_sdk_ssm::Client::new(&conf)
            .get_parameter()
            .name(morket_stack::provider::aws::ssm::parameter::UBUNTU_2404_AMD64)
            .send()
            .await
            .unwrap()
            .parameter()
            .and_then(|p| p.value())
            .unwrap()
            .to_string();
        let versions = aws_sdk_ec2::Client::new(&conf)
            .describe_launch_template_versions()
            .launch_template_name("morket-staging-clickhouse")
            .send()
            .await
            .unwrap();
        let template_ami = versions.launch_template_versions()[0]
            .launch_template_data()
            .and_then(|d| d.image_id())
            .unwrap()
            .to_string();
        let policy = aws_sdk_opensearch::Client::new(&conf)
            .describe_domain()
            .domain_name("morket-staging")
            .send()
            .await
            .unwrap()
            .domain_status()
            .and_then(|d| d.access_policies())
            .unwrap_or_default()
            .to_string();
        (ami, template_ami, policy)
    })
}

/// The moto the stacks run against, with the public zone their domains live
/// in: it exists before any stack, which only looks it up.
fn moto_with_zone() -> support::moto::Moto {
    let moto = support::moto::moto();
    rt().block_on(async {
        let conf = moto.sdk_config().await;
        aws_sdk_route53::Client::new(&conf)
            .create_hosted_zone()
            .name("morket.io")
            .caller_reference("fixture")
            .send()
            .await
            .unwrap();
    });
    moto
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Resources in moto carrying `morket:stack = stack`, by service.
fn tagged_in_moto(moto: &support::moto::Moto, stack: &str) -> (usize, usize, usize) {
    rt().block_on(async {
        let conf = moto.sdk_config().await;
        let ec2 = aws_sdk_ec2::Client::new(&conf);
        let vpcs = ec2
            .describe_vpcs()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("tag:morket:stack")
                    .values(stack)
                    .build(),
            )
            .send()
            .await
            .unwrap()
            .vpcs()
            .len();
        let rds = aws_sdk_rds::Client::new(&conf);
        let clusters = rds
            .describe_db_clusters()
            .send()
            .await
            .unwrap()
            .db_clusters()
            .iter()
            .filter(|c| {
                c.tag_list()
                    .iter()
                    .any(|t| t.key() == Some("morket:stack") && t.value() == Some(stack))
            })
            .count();
        let ecs = aws_sdk_ecs::Client::new(&conf);
        // A deleted cluster stays listed as INACTIVE for a while.
        let ecs_clusters = ecs
            .describe_clusters()
            .clusters(format!("morket-{stack}"))
            .send()
            .await
            .unwrap()
            .clusters()
            .iter()
            .filter(|c| c.status() == Some("ACTIVE"))
            .count();
        (vpcs, clusters, ecs_clusters)
    })
}

#[test]
fn staging_up_no_change_preview_one_value_change_and_destroy() {
    let moto = moto_with_zone();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");

    let up = ok(&moto, &state, &["up", "staging", "--yes"]);
    for output in [
        "vpc_id",
        "aurora_endpoint",
        "aurora_secret_arn",
        "clickhouse_private_ip",
        "redis_primary_endpoint",
        "rabbitmq_amqps_endpoint",
        "opensearch_endpoint",
        "ecs_cluster_arn",
    ] {
        assert!(up.contains(output), "{output} missing from:\n{up}");
    }
    let outputs: Value =
        serde_json::from_str(&ok(&moto, &state, &["output", "staging", "--json"])).unwrap();
    // Every output has a value of the expected shape (R5.7, R6.7, R7.7, R8.5, R9.7).
    for (name, v) in outputs.as_object().unwrap() {
        assert!(!v.is_null() && v != "", "{name} is empty: {outputs:#}");
    }
    let starts = |name: &str, prefix: &str| {
        let v = outputs[name].as_str().unwrap_or_default();
        assert!(
            v.starts_with(prefix),
            "{name} = {v:?}, expected {prefix}..."
        );
    };
    starts("vpc_id", "vpc-");
    starts("ecs_cluster_arn", "arn:aws:ecs:");
    starts("aurora_endpoint", "morket-staging.cluster-");
    starts("aurora_reader_endpoint", "morket-staging.cluster-ro-");
    starts("aurora_secret_arn", "arn:aws:secretsmanager:");
    starts("clickhouse_private_ip", "10.0.10.");
    starts("rabbitmq_amqps_endpoint", "amqps://");
    assert!(
        outputs["rabbitmq_amqps_endpoint"]
            .as_str()
            .unwrap()
            .ends_with(":5671"),
        "{outputs:#}"
    );
    assert_eq!(outputs["redis_port"], 6379, "{outputs:#}");
    // R6.7, R12.6: fixed by the program, not read from a resource.
    assert_eq!(outputs["clickhouse_http_port"], 8123, "{outputs:#}");
    assert_eq!(outputs["clickhouse_native_port"], 9000, "{outputs:#}");
    assert_eq!(
        outputs["temporal_address"], "temporal.morket.local:7233",
        "{outputs:#}"
    );
    for name in [
        "alb_dns_name",
        "cloudfront_domain_name",
        "frontend_bucket",
        "exports_bucket",
        "ecr_backend_url",
        "clickhouse_secret_arn",
    ] {
        assert!(
            outputs[name].as_str().is_some_and(|v| !v.is_empty()),
            "{name}: {outputs:#}"
        );
    }
    assert!(outputs["redis_primary_endpoint"]
        .as_str()
        .unwrap()
        .contains("morket-staging-redis"));
    assert!(outputs["opensearch_endpoint"]
        .as_str()
        .unwrap()
        .contains("morket-staging"));
    let one = ok(&moto, &state, &["output", "staging", "vpc_id"]);
    assert_eq!(one.trim(), outputs["vpc_id"].as_str().unwrap());
    let created = state_urns(&moto, &state, "staging");
    let done = up
        .lines()
        .find_map(|l| l.strip_prefix("Apply complete: "))
        .and_then(|l| l.split(" done, 0 failed, 0 skipped").next())
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or_else(|| panic!("no clean apply summary in:\n{up}"));
    // Lookups are recorded as planned, with no op of their own.
    let lookups: Vec<&String> = created.iter().filter(|u| is_lookup(u)).collect();
    assert_eq!(
        lookups.len(),
        5,
        "AMI, account, zones, hosted zone, headers policy: {lookups:?}"
    );
    assert_eq!(
        created.len(),
        done + lookups.len(),
        "every created resource is in state"
    );
    assert!(done > 50, "{done}");
    assert_eq!(tagged_in_moto(&moto, "staging"), (1, 1, 1));
    let (ami, template_ami, policy) = lookup_answers_in_moto(&moto);
    assert!(ami.starts_with("ami-"), "{ami}");
    assert_eq!(
        template_ami, ami,
        "the launch template uses the region's AMI"
    );
    assert!(
        policy.contains(":es:us-east-1:123456789012:domain/morket-staging"),
        "the access policy names the account: {policy}"
    );

    // A no-op preview calls no lookup; --refresh reads them all again and,
    // with the same answers, still plans nothing.
    let quiet = run(
        &moto,
        &state,
        &["-v", "preview", "staging", "--expect-no-changes"],
    );
    assert_eq!(quiet.code, 0, "{}", quiet.text);
    for op in [
        "GetParameter",
        "GetCallerIdentity",
        "DescribeAvailabilityZones",
        "ListHostedZonesByName",
    ] {
        assert!(
            !quiet.text.contains(op),
            "{op} called by a no-op preview:\n{}",
            quiet.text
        );
    }
    let refreshed = run(
        &moto,
        &state,
        &[
            "-v",
            "preview",
            "staging",
            "--refresh",
            "--expect-no-changes",
        ],
    );
    assert_eq!(refreshed.code, 0, "{}", refreshed.text);
    for op in [
        "GetParameter",
        "GetCallerIdentity",
        "DescribeAvailabilityZones",
        "ListHostedZonesByName",
    ] {
        assert!(
            refreshed.text.contains(op),
            "{op} not read by --refresh:\n{}",
            refreshed.text
        );
    }

    // One value in the file changes; the plan holds exactly that change.
    let text = std::fs::read_to_string(stacks_dir().join("staging.toml")).unwrap();
    let edited = dir.path().join("staging.toml");
    let from = "snapshot_retention_days = 3";
    assert!(text.contains(from));
    std::fs::write(
        &edited,
        text.replacen(from, "snapshot_retention_days = 5", 1),
    )
    .unwrap();
    let edited = edited.to_str().unwrap();
    let plan_file = dir.path().join("plan.json");
    let r = run(
        &moto,
        &state,
        &[
            "--config",
            edited,
            "preview",
            "staging",
            "--expect-no-changes",
            "--out",
            plan_file.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 2, "changes are exit code 2:\n{}", r.text);
    let plan_text = std::fs::read_to_string(&plan_file).unwrap();
    // The plan now holds resolved inputs; the AUTH token in it stays sealed.
    assert!(
        plan_text.contains("auth_token"),
        "the replication group's inputs are in the plan"
    );
    assert!(
        !plan_text.contains("\"auth_token\":\""),
        "auth_token in plaintext in the plan file"
    );
    let plan: Value = serde_json::from_str(&plan_text).unwrap();
    let changes: Vec<&Value> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["action"] != "same")
        .collect();
    assert_eq!(changes.len(), 1, "{changes:#?}");
    assert_eq!(changes[0]["action"], "update");
    assert!(changes[0]["urn"]
        .as_str()
        .unwrap()
        .ends_with("redis::aws:elasticache/ReplicationGroup::replication-group"));
    assert_eq!(
        changes[0]["changed"],
        serde_json::json!(["snapshot_retention_limit"])
    );
    ok(
        &moto,
        &state,
        &[
            "--config",
            edited,
            "up",
            "staging",
            "--plan",
            plan_file.to_str().unwrap(),
            "--yes",
        ],
    );
    ok(
        &moto,
        &state,
        &[
            "--config",
            edited,
            "preview",
            "staging",
            "--expect-no-changes",
        ],
    );

    ok(
        &moto,
        &state,
        &["--config", edited, "destroy", "staging", "--yes"],
    );
    assert!(state_urns(&moto, &state, "staging").is_empty());
    assert_eq!(tagged_in_moto(&moto, "staging"), (0, 0, 0));
}

#[test]
fn destroying_production_is_refused_while_protected() {
    let moto = moto_with_zone();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    ok(&moto, &state, &["up", "production", "--yes"]);
    let before = state_urns(&moto, &state, "production");

    let r = run(&moto, &state, &["destroy", "production", "--yes"]);
    assert_ne!(r.code, 0, "{}", r.text);
    assert!(
        r.text.contains("is protected and cannot be deleted"),
        "{}",
        r.text
    );
    assert!(
        r.text.contains("aurora::aws:rds/DbCluster::cluster"),
        "{}",
        r.text
    );
    // Nothing was deleted: the refusal comes from the plan, before any call.
    assert_eq!(state_urns(&moto, &state, "production"), before);
    assert_eq!(tagged_in_moto(&moto, "production"), (1, 1, 1));
    ok(
        &moto,
        &state,
        &["preview", "production", "--expect-no-changes"],
    );
}

/// A fresh clone with no AWS credentials at all previews the whole stack:
/// planning from an empty state makes no AWS call.
#[test]
fn preview_staging_needs_no_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir.path())
        .arg("--no-color")
        .arg("--stacks-dir")
        .arg(stacks_dir())
        .args(["preview", "staging", "--diff"])
        .env("HOME", dir.path())
        .env("AWS_CONFIG_FILE", dir.path().join("none"))
        .env("AWS_SHARED_CREDENTIALS_FILE", dir.path().join("none"))
        .env("AWS_EC2_METADATA_DISABLED", "true");
    for (k, _) in std::env::vars() {
        if k.starts_with("AWS_") && !k.ends_with("_FILE") && k != "AWS_EC2_METADATA_DISABLED" {
            cmd.env_remove(k);
        }
    }
    let out = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for needle in [
        "aws:ec2/Vpc",
        "aws:rds/DbCluster",
        "aws:ec2/LaunchTemplate",
        "aws:elasticache/ReplicationGroup",
        "aws:mq/Broker",
        "aws:opensearch/Domain",
        "aws:ecs/Cluster",
        "random:index/RandomPassword",
    ] {
        assert!(text.contains(needle), "{needle} missing:\n{text}");
    }
    let summary = text
        .lines()
        .rev()
        .find(|l| l.contains("to create"))
        .unwrap();
    assert!(!summary.contains(" 0 to create"), "{summary}");
    // Lookups cannot be read without credentials: planned, not failed.
    for lookup in [
        "aws:ssm/getParameter",
        "aws:sts/getCallerIdentity",
        "aws:ec2/getAvailabilityZones",
    ] {
        assert!(text.contains(lookup), "{lookup} missing:\n{text}");
    }
    assert!(text.contains("+ image_id = (known after apply)"), "{text}");
}

/// EC2 resources of `stack` that moto holds: (subnets, security groups,
/// NAT gateways not deleted, instances not terminated, volumes).
fn ec2_counts(moto: &support::moto::Moto, stack: &str) -> (usize, usize, usize, usize, usize) {
    use aws_sdk_ec2::types::Filter;
    rt().block_on(async {
        let ec2 = aws_sdk_ec2::Client::new(&moto.sdk_config().await);
        let ours = || {
            Filter::builder()
                .name("tag:morket:stack")
                .values(stack)
                .build()
        };
        let subnets = ec2.describe_subnets().filters(ours()).send().await.unwrap();
        let sgs = ec2
            .describe_security_groups()
            .filters(ours())
            .send()
            .await
            .unwrap();
        let nats = ec2
            .describe_nat_gateways()
            .filter(ours())
            .send()
            .await
            .unwrap();
        // moto ignores a tag filter on NAT gateways: check the tags here.
        let live_nats = nats
            .nat_gateways()
            .iter()
            .filter(|n| n.state().is_some_and(|s| s.as_str() != "deleted"))
            .filter(|n| {
                n.tags()
                    .iter()
                    .any(|t| t.key() == Some("morket:stack") && t.value() == Some(stack))
            })
            .count();
        let instances = ec2
            .describe_instances()
            .filters(ours())
            .send()
            .await
            .unwrap();
        let live_instances = instances
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .filter(|i| {
                i.state()
                    .and_then(|s| s.name())
                    .is_some_and(|n| n.as_str() != "terminated")
            })
            .count();
        let volumes = ec2.describe_volumes().filters(ours()).send().await.unwrap();
        (
            subnets.subnets().len(),
            sgs.security_groups().len(),
            live_nats,
            live_instances,
            volumes.volumes().len(),
        )
    })
}

/// `kill -9` in the middle of `up staging`: the next `up` releases the stale
/// lock, adopts what the killed run created (by its `morket:urn` tag) and
/// creates the rest, with no duplicate in moto.
#[test]
fn killed_mid_up_then_up_again_converges_without_duplicates() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let moto = moto_with_zone();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let mut child = command(
        &moto,
        &state,
        &["up", "staging", "--yes", "--parallel", "2"],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    // Progress lines go to stderr.
    let mut done = 0;
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        if line.unwrap().contains(" done (") {
            done += 1;
            if done == 15 {
                break;
            }
        }
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert_eq!(done, 15, "the run was killed part-way");
    let partial = state_urns(&moto, &state, "staging").len();

    let again = ok(&moto, &state, &["up", "staging", "--yes"]);
    assert!(again.contains("Apply complete"), "{again}");
    let total = state_urns(&moto, &state, "staging").len();
    assert!(
        partial >= 15 && partial < total,
        "{partial} of {total} checkpointed before the kill"
    );
    ok(
        &moto,
        &state,
        &["preview", "staging", "--expect-no-changes"],
    );
    assert_eq!(tagged_in_moto(&moto, "staging"), (1, 1, 1));
    // 8 groups of the stack's own and the VPC's default one, taken over.
    assert_eq!(ec2_counts(&moto, "staging"), (4, 9, 1, 1, 1));
}

/// Live objects carrying `morket:stack = stack`, per EC2 kind: (VPCs,
/// subnets, security groups, NAT gateways, running instances, volumes).
fn ec2_tagged(moto: &support::moto::Moto, stack: &str) -> [usize; 6] {
    rt().block_on(async {
        let ec2 = aws_sdk_ec2::Client::new(&moto.sdk_config().await);
        let f = || {
            aws_sdk_ec2::types::Filter::builder()
                .name("tag:morket:stack")
                .values(stack)
                .build()
        };
        let vpcs = ec2.describe_vpcs().filters(f()).send().await.unwrap();
        let subnets = ec2.describe_subnets().filters(f()).send().await.unwrap();
        let sgs = ec2
            .describe_security_groups()
            .filters(f())
            .send()
            .await
            .unwrap();
        let nats = ec2
            .describe_nat_gateways()
            .filter(f())
            .send()
            .await
            .unwrap();
        let inst = ec2.describe_instances().filters(f()).send().await.unwrap();
        let vols = ec2.describe_volumes().filters(f()).send().await.unwrap();
        // moto ignores a tag filter on NAT gateways: check the tags here.
        let live_nat = nats
            .nat_gateways()
            .iter()
            .filter(|n| n.state().is_some_and(|s| s.as_str() != "deleted"))
            .filter(|n| {
                n.tags()
                    .iter()
                    .any(|t| t.key() == Some("morket:stack") && t.value() == Some(stack))
            })
            .count();
        let live_inst = inst
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .filter(|i| {
                i.state()
                    .and_then(|s| s.name())
                    .is_some_and(|n| n.as_str() != "terminated")
            })
            .count();
        [
            vpcs.vpcs().len(),
            subnets.subnets().len(),
            sgs.security_groups().len(),
            live_nat,
            live_inst,
            vols.volumes().len(),
        ]
    })
}

/// The same kinds counted in state.
fn ec2_in_state(moto: &support::moto::Moto, state: &Path, stack: &str) -> [usize; 6] {
    let urns = state_urns(moto, state, stack);
    let n = |t: &str| {
        urns.iter()
            .filter(|u| u.contains(&format!("::{t}::")))
            .count()
    };
    [
        n("aws:ec2/Vpc"),
        n("aws:ec2/Subnet"),
        n("aws:ec2/SecurityGroup") + n("aws:ec2/DefaultSecurityGroup"),
        n("aws:ec2/NatGateway"),
        n("aws:ec2/Instance"),
        n("aws:ec2/Volume"),
    ]
}

/// Under the AWS-like peer (eventual consistency, IAM propagation, role
/// and service-linked-role windows, data stores `creating` / `modifying` with
/// state conflicts meanwhile, ALBs provisioning, ENIs lingering after
/// deletes, ECS deployments rolling out, throttling bursts beyond the SDK's
/// retries), each command of a release needs one run: `up staging`, a
/// no-change preview, a backend image roll that plans exactly the task
/// definitions and services that run it and waits for the deployments,
/// `up production` in the same account, `destroy staging` leaving
/// production whole, and `destroy production` refused. What is live is what
/// a clean run makes: no duplicate anywhere.
#[test]
fn staging_and_production_under_the_aws_like_peer_each_command_needs_one_run() {
    const SCALE: f64 = support::aws::AWS_LIKE_SCALE;
    let moto = moto_with_zone();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    // moto builds its backends on first use: before the clock matters.
    rt().block_on(async {
        let conf = moto.sdk_config().await;
        aws_sdk_ec2::Client::new(&conf)
            .describe_vpcs()
            .send()
            .await
            .unwrap();
    });
    moto.aws_like(serde_json::json!({"on": "all", "scale": SCALE}));
    let peer = |args: &[&str]| {
        let mut c = command(&moto, &state, args);
        c.env("MORKET_STACK_AWS_TIME_SCALE", SCALE.to_string())
            .env("MORKET_STACK_AWS_MAX_ATTEMPTS", "2");
        let out = c.output().unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            text: format!(
                "{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        }
    };
    let aws_like = |args: &[&str]| {
        let r = peer(args);
        assert_eq!(r.code, 0, "{args:?}:\n{}", r.text);
        r.text
    };

    aws_like(&["up", "staging", "--yes"]);
    aws_like(&["preview", "staging", "--expect-no-changes"]);
    let live = ec2_tagged(&moto, "staging");
    assert_eq!(
        live,
        ec2_in_state(&moto, &state, "staging"),
        "no duplicates"
    );
    assert!(live.iter().all(|n| *n > 0), "{live:?}");
    assert_eq!(tagged_in_moto(&moto, "staging"), (1, 1, 1));
    assert_eq!(ecs_images(&moto, "staging")["backend"], "latest");

    // A deploy pipeline rolls the backend image: the migrations' task
    // definition gets a new revision and runs to completion first (R18),
    // then the two task definitions that run the backend get a new
    // revision each (a task definition is immutable: the update registers
    // the next revision of the family, and the older ones stay ACTIVE for
    // the circuit breaker's rollback) and their services move to it;
    // nothing else changes.
    const ROLL: &str = "images.backend=v2.0.1";
    let plan_file = dir.path().join("roll.json");
    let r = peer(&[
        "--set",
        ROLL,
        "preview",
        "staging",
        "--expect-no-changes",
        "--out",
        plan_file.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2, "changes are exit code 2:\n{}", r.text);
    let plan: Value = serde_json::from_str(&std::fs::read_to_string(&plan_file).unwrap()).unwrap();
    let mut changes: Vec<(String, String, Value)> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["action"] != "same")
        .map(|s| {
            let urn = s["urn"].as_str().unwrap();
            (
                s["action"].as_str().unwrap().to_string(),
                urn.split_once("::").unwrap().1.to_string(),
                s["changed"].clone(),
            )
        })
        .collect();
    // The plan's order: the run, then the new revisions, then the services.
    let at = |name: &str| {
        changes
            .iter()
            .position(|(_, u, _)| u.rsplit("::").next() == Some(name))
            .unwrap()
    };
    assert!(
        at("migrate-task") < at("migrate")
            && at("migrate") < at("backend-task")
            && at("migrate") < at("temporal-worker-task")
            && at("backend-task") < at("backend")
            && at("temporal-worker-task") < at("temporal-worker"),
        "{changes:?}"
    );
    changes.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    let summary: Vec<(&str, &str)> = changes
        .iter()
        .map(|(a, u, _)| (a.as_str(), u.as_str()))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("replace", "services::aws:ecs/TaskRun::migrate"),
            ("update", "services::aws:ecs/Service::backend"),
            ("update", "services::aws:ecs/Service::temporal-worker"),
            ("update", "services::aws:ecs/TaskDefinition::backend-task"),
            ("update", "services::aws:ecs/TaskDefinition::migrate-task"),
            (
                "update",
                "services::aws:ecs/TaskDefinition::temporal-worker-task"
            ),
        ],
        "{changes:#?}"
    );
    for (_, urn, changed) in &changes {
        let field = if urn.contains("TaskDefinition") {
            serde_json::json!(["container_definitions"])
        } else if urn.contains("TaskRun") {
            serde_json::json!(["task_definition", "triggers"])
        } else {
            serde_json::json!(["task_definition"])
        };
        assert_eq!(changed, &field, "{urn}");
    }
    // What reaches ECS, in order: the migrations' revision and their run,
    // which ends before any other revision or service update is sent.
    moto.clear_requests();
    let rolled = aws_like(&[
        "--set",
        ROLL,
        "up",
        "staging",
        "--plan",
        plan_file.to_str().unwrap(),
        "--yes",
    ]);
    assert!(
        // The replaced run's two halves count apart.
        rolled.contains("Apply complete: 7 done, 0 failed"),
        "{rolled}"
    );
    let ecs_ops = |ops: &[&str]| -> Vec<String> {
        moto.requests()
            .into_iter()
            .filter(|q| ops.contains(&q.operation.as_str()))
            .map(|q| q.operation)
            .collect()
    };
    // (A request the peer throttled shows twice: counts are at least.)
    let sent = ecs_ops(&["RegisterTaskDefinition", "RunTask", "UpdateService"]);
    let run_at = sent.iter().position(|o| o == "RunTask").expect("RunTask");
    let (before, after) = sent.split_at(run_at);
    let count = |ops: &[String], op: &str| ops.iter().filter(|o| *o == op).count();
    let runs = after.iter().take_while(|o| *o == "RunTask").count();
    assert!(
        count(before, "RegisterTaskDefinition") >= 1
            && count(before, "UpdateService") == 0
            && count(&after[runs..], "RunTask") == 0
            && count(after, "RegisterTaskDefinition") >= 2
            && count(after, "UpdateService") >= 2,
        "the migrations' revision, their one run, then the other revisions and the services: {sent:?}"
    );
    let images = ecs_images(&moto, "staging");
    assert_eq!(images["backend"], "v2.0.1");
    assert_eq!(images["temporal-worker"], "v2.0.1");
    assert_eq!(images["scraper"], "latest");
    aws_like(&["--set", ROLL, "preview", "staging", "--expect-no-changes"]);

    // A migration that exits non-zero (the peer's image tag exit-3-...)
    // fails the apply with the task's log tail, before any revision that
    // runs the backend registers and before a service is touched; the run
    // is recorded as it ended, and the next deploy runs it again.
    moto.clear_requests();
    let broken = peer(&[
        "--set",
        "images.backend=exit-3-broken",
        "up",
        "staging",
        "--yes",
    ]);
    assert_ne!(broken.code, 0, "{}", broken.text);
    assert!(
        broken.text.contains("container migrate exited with code 3")
            && broken.text.contains("exit-3-broken exits with code 3"),
        "the exit code and the log tail: {}",
        broken.text
    );
    let sent = ecs_ops(&["RegisterTaskDefinition", "RunTask", "UpdateService"]);
    let first_run = sent
        .iter()
        .position(|o| o == "RunTask")
        .unwrap_or(sent.len());
    assert!(
        first_run < sent.len()
            && sent[first_run..].iter().all(|o| o == "RunTask")
            && !sent.iter().any(|o| o == "UpdateService"),
        "only the migrations' revision and run: {sent:?}"
    );
    let images = ecs_images(&moto, "staging");
    assert_eq!(images["backend"], "v2.0.1", "the service was not touched");
    let retry = peer(&["--set", ROLL, "preview", "staging"]);
    assert!(
        retry.text.contains("aws:ecs/TaskRun::migrate"),
        "the failed run is run again: {}",
        retry.text
    );
    aws_like(&["--set", ROLL, "up", "staging", "--yes"]);
    aws_like(&["--set", ROLL, "preview", "staging", "--expect-no-changes"]);

    // Production next to it, in the same account.
    aws_like(&["up", "production", "--yes"]);
    aws_like(&["preview", "production", "--expect-no-changes"]);
    let production = state_urns(&moto, &state, "production");

    // The drift job: every resource read live, nothing mutating reaching the
    // peer, no drift on a stack just applied (nor on staging after its roll).
    let drift = |stack: &str| -> (i32, Value) {
        let out = dir.path().join(format!("drift-{stack}.json"));
        let r = peer(&["drift", stack, "--json", "--out", out.to_str().unwrap()]);
        let text = std::fs::read_to_string(&out).unwrap_or_else(|e| panic!("{e}:\n{}", r.text));
        (r.code, serde_json::from_str(&text).unwrap())
    };
    let empty = |r: &Value| {
        [
            "modified",
            "deleted",
            "unmanaged",
            "informational",
            "pending",
        ]
        .iter()
        .all(|k| r[k].as_array().is_some_and(Vec::is_empty))
    };
    moto.clear_requests();
    let (code, report) = drift("production");
    let seen = moto.requests();
    assert_eq!(code, 0, "{report:#}");
    assert!(empty(&report) && report["drifted"] == false, "{report:#}");
    assert_eq!(report["schema"], "morket-stack/drift");
    assert_eq!(
        report["summary"]["resources"].as_u64(),
        Some(production.iter().filter(|u| !is_lookup(u)).count() as u64)
    );
    let mutating: Vec<_> = seen.iter().filter(|q| q.mutating).collect();
    assert!(
        mutating.is_empty(),
        "drift sent mutating requests: {mutating:?}"
    );
    eprintln!(
        "drift production: {} requests for {} resources",
        seen.len(),
        report["summary"]["resources"]
    );
    let (code, report) = drift("staging");
    assert!(code == 0 && empty(&report), "{report:#}");

    // A console edit: drift exits 2 naming it, `preview --refresh` plans it
    // back, `up --refresh` puts it back.
    let vpc = rt().block_on(async {
        let conf = moto.sdk_config().await;
        let ec2 = aws_sdk_ec2::Client::new(&conf);
        let vpcs = ec2
            .describe_vpcs()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("tag:morket:stack")
                    .values("production")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let id = vpcs.vpcs()[0].vpc_id().unwrap().to_string();
        moto.aws_like(serde_json::json!({"on": []}));
        ec2.create_tags()
            .resources(&id)
            .tags(
                aws_sdk_ec2::types::Tag::builder()
                    .key("owner")
                    .value("console")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        moto.aws_like(serde_json::json!({"on": "all", "scale": SCALE}));
        id
    });
    let (code, report) = drift("production");
    assert_eq!(code, 2, "{report:#}");
    assert_eq!(
        report["modified"].as_array().unwrap().len(),
        1,
        "{report:#}"
    );
    let changed = &report["modified"][0];
    assert_eq!(changed["id"], vpc.as_str());
    assert_eq!(
        changed["fields"],
        serde_json::json!([{"path": "tags.owner", "recorded": null, "live": "console"}])
    );
    let r = peer(&["preview", "production", "--refresh", "--expect-no-changes"]);
    assert_eq!(r.code, 2, "{}", r.text);
    assert!(
        r.text.contains("Changed outside morket-stack"),
        "{}",
        r.text
    );
    let (code, _) = drift("production");
    assert_eq!(code, 2, "preview --refresh recorded nothing");
    aws_like(&["up", "production", "--refresh", "--yes"]);
    let (code, report) = drift("production");
    assert!(code == 0 && empty(&report), "{report:#}");
    aws_like(&["preview", "production", "--expect-no-changes"]);

    aws_like(&["--set", ROLL, "destroy", "staging", "--yes"]);
    assert!(state_urns(&moto, &state, "staging").is_empty());
    assert_eq!(tagged_in_moto(&moto, "staging"), (0, 0, 0));
    assert_eq!(ec2_tagged(&moto, "staging"), [0; 6]);
    assert_eq!(tagged_in_moto(&moto, "production"), (1, 1, 1));
    aws_like(&["preview", "production", "--expect-no-changes"]);

    let r = peer(&["destroy", "production", "--yes"]);
    assert_ne!(r.code, 0, "{}", r.text);
    assert!(
        r.text.contains("is protected and cannot be deleted"),
        "{}",
        r.text
    );
    assert_eq!(state_urns(&moto, &state, "production"), production);

    // IAM propagation fires only when a flow log comes within 10 AWS
    // seconds of its role, and the service-linked-role window only when a
    // domain or service create comes within 10 AWS seconds of the role:
    // whether they do depends on how the run is scheduled. Their own tests
    // show them (tests/aws_ec2_routing.rs; aws_mq_opensearch.rs and
    // aws_ecs.rs for the service-linked roles); here they are on, and the
    // run must succeed whether they fire or not.
    let fired = moto.aws_like_fired();
    for behaviour in ["consistency", "eni", "transitions", "throttle"] {
        let n: u64 = fired["fired"][behaviour]
            .as_object()
            .map(|ops| ops.values().filter_map(Value::as_u64).sum())
            .unwrap_or(0);
        assert!(n > 0, "{behaviour} never fired: {fired:#}");
    }
}

/// The image tag each ECS service of `stack` runs, by container name, as
/// moto has it once the deployments are done (the primary deployment's task
/// definition, and no other deployment left).
fn ecs_images(
    moto: &support::moto::Moto,
    stack: &str,
) -> std::collections::BTreeMap<String, String> {
    rt().block_on(async {
        let conf = moto.sdk_config().await;
        let ecs = aws_sdk_ecs::Client::new(&conf);
        let cluster = format!("morket-{stack}");
        let names: Vec<String> = ["backend", "scraper", "temporal-worker"]
            .iter()
            .map(|k| format!("morket-{stack}-{k}"))
            .collect();
        let services = ecs
            .describe_services()
            .cluster(&cluster)
            .set_services(Some(names))
            .send()
            .await
            .unwrap();
        let mut out = std::collections::BTreeMap::new();
        for s in services.services() {
            assert_eq!(
                s.deployments().len(),
                1,
                "{:?} still rolling out",
                s.service_name()
            );
            let td = ecs
                .describe_task_definition()
                .task_definition(s.task_definition().unwrap())
                .send()
                .await
                .unwrap();
            let c = &td.task_definition().unwrap().container_definitions()[0];
            let tag = c.image().unwrap().rsplit(':').next().unwrap().to_string();
            out.insert(c.name().unwrap().to_string(), tag);
        }
        out
    })
}
