//! ElastiCache types (SubnetGroup, ParameterGroup, ReplicationGroup).
//!
//! Against moto through the engine: a VPC, two subnets, a cache subnet group
//! and a Redis replication group whose AUTH token is a `random` RandomPassword
//! (a secret output feeding a secret input). `scripts/moto_server.py` adds
//! the calls moto lacks (cache parameter groups, subnet-group modify and
//! delete; a deleted group is gone at the next describe), its fault switch
//! refuses calls as a busy AWS does, and its AWS-like mode shows `creating`,
//! `modifying` and `deleting`. aws-smithy-mocks cover the rest, each saying why:
//! - the shapes of parameter-group and subnet-group calls, asserted request by request;
//! - Increase/DecreaseReplicaCount and member clusters: not in moto;
//! - states moto never shows on its own: `modifying` seen late after a modify,
//!   `creating` without an endpoint, a delete refused while `snapshotting`.

mod support;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_elasticache::operation::add_tags_to_resource::AddTagsToResourceOutput;
use aws_sdk_elasticache::operation::create_cache_parameter_group::CreateCacheParameterGroupOutput;
use aws_sdk_elasticache::operation::create_replication_group::CreateReplicationGroupOutput;
use aws_sdk_elasticache::operation::delete_cache_parameter_group::DeleteCacheParameterGroupOutput;
use aws_sdk_elasticache::operation::delete_cache_subnet_group::{
    DeleteCacheSubnetGroupError, DeleteCacheSubnetGroupOutput,
};
use aws_sdk_elasticache::operation::delete_replication_group::{
    DeleteReplicationGroupError, DeleteReplicationGroupOutput,
};
use aws_sdk_elasticache::operation::describe_cache_clusters::DescribeCacheClustersOutput;
use aws_sdk_elasticache::operation::describe_cache_parameter_groups::{
    DescribeCacheParameterGroupsError, DescribeCacheParameterGroupsOutput,
};
use aws_sdk_elasticache::operation::describe_cache_parameters::DescribeCacheParametersOutput;
use aws_sdk_elasticache::operation::describe_cache_subnet_groups::DescribeCacheSubnetGroupsOutput;
use aws_sdk_elasticache::operation::describe_replication_groups::{
    DescribeReplicationGroupsError, DescribeReplicationGroupsOutput,
};
use aws_sdk_elasticache::operation::increase_replica_count::IncreaseReplicaCountOutput;
use aws_sdk_elasticache::operation::list_tags_for_resource::ListTagsForResourceOutput;
use aws_sdk_elasticache::operation::modify_cache_parameter_group::ModifyCacheParameterGroupOutput;
use aws_sdk_elasticache::operation::modify_cache_subnet_group::ModifyCacheSubnetGroupOutput;
use aws_sdk_elasticache::operation::modify_replication_group::ModifyReplicationGroupOutput;
use aws_sdk_elasticache::operation::remove_tags_from_resource::RemoveTagsFromResourceOutput;
use aws_sdk_elasticache::operation::reset_cache_parameter_group::ResetCacheParameterGroupOutput;
use aws_sdk_elasticache::types::error::{
    CacheParameterGroupNotFoundFault, CacheSubnetGroupNotFoundFault,
    InvalidReplicationGroupStateFault, ReplicationGroupNotFoundFault,
};
use aws_sdk_elasticache::types::{
    AuthTokenUpdateStrategyType, CacheCluster, CacheParameterGroup, CacheSubnetGroup, Endpoint,
    NodeGroup, Parameter, Subnet as CacheSubnet,
};
use aws_sdk_elasticache::Client as EcClient;
use aws_smithy_mocks::{mock, mock_client, MockResponse, Rule, RuleMode};
use aws_smithy_types::error::ErrorMetadata;
use morket_stack::engine::Engine;
use morket_stack::exec::{ApplyReport, Cancel};
use morket_stack::model::{HasUrn, Input, Resource, ResourceArgs, Stack};
use morket_stack::plan::{Action, PlanOptions};
use morket_stack::provider::aws::ec2::subnet::Subnet;
use morket_stack::provider::aws::ec2::vpc::Vpc;
use morket_stack::provider::aws::elasticache::parameter_group::ParameterGroup;
use morket_stack::provider::aws::elasticache::replication_group::ReplicationGroup;
use morket_stack::provider::aws::elasticache::subnet_group::SubnetGroup;
use morket_stack::provider::aws::elasticache::{self as ec};
use morket_stack::provider::aws::resource::Typed;
use morket_stack::provider::aws::{Aws, AwsSettings};
use morket_stack::provider::random::RandomPassword;
use morket_stack::provider::{Provider, ProviderError};
use morket_stack::state::StateStore;
use serde_json::json;
use support::aws::{
    ctx, offline_engine, preview_error, registry, step, store, tag_urn, Env, STACK,
};

fn settings() -> AwsSettings {
    AwsSettings {
        wait_timeout: Duration::from_secs(5),
        ..support::aws::settings()
    }
}

fn meta(code: &str) -> ErrorMetadata {
    ErrorMetadata::builder()
        .code(code)
        .message("not found")
        .build()
}

// ---------------------------------------------------------------- moto

struct Knobs {
    sg_name: String,
    sg_tag: String,
    pw_length: u32,
    rg: ReplicationGroup,
}

fn knobs() -> Knobs {
    let mut rg = ReplicationGroup::new("morket-redis", "sessions", "cache.t4g.micro");
    rg.num_cache_clusters = 2;
    rg.automatic_failover_enabled = true;
    rg.transit_encryption_enabled = true;
    rg.at_rest_encryption_enabled = true;
    rg.tags.insert("Name".into(), "redis".into());
    Knobs {
        sg_name: "morket-cache".into(),
        sg_tag: "cache-subnets".into(),
        pw_length: 32,
        rg,
    }
}

struct Handles {
    subnets: [Resource<Subnet>; 2],
    sg: Resource<SubnetGroup>,
    pw: Resource<RandomPassword>,
    rg: Resource<ReplicationGroup>,
}

fn stack(k: &Knobs) -> (Stack, Handles) {
    let mut st = Stack::new(STACK).unwrap();
    let mut root = st.root();
    let vpc = root.resource("vpc", Vpc::new("10.0.0.0/16")).unwrap();
    let mut a = Subnet::new(vpc.id(), "10.0.1.0/24");
    a.availability_zone = Some("us-east-1a".into());
    let mut b = Subnet::new(vpc.id(), "10.0.2.0/24");
    b.availability_zone = Some("us-east-1b".into());
    let a = root.resource("cache-a", a).unwrap();
    let b = root.resource("cache-b", b).unwrap();
    let mut sg = SubnetGroup::new(&k.sg_name, vec![a.id().into(), b.id().into()]);
    sg.tags.insert("Name".into(), k.sg_tag.clone());
    let sg = root.resource("cache", sg).unwrap();
    let mut pw = RandomPassword::new(k.pw_length);
    // ElastiCache refuses @, " and / in AUTH tokens.
    pw.override_special = Some("!#$%^&*-_=+".into());
    let pw = root.resource("redis-auth", pw).unwrap();
    let mut rg = k.rg.clone();
    rg.subnet_group_name = Some(sg.name().into());
    rg.auth_token = Some(pw.result().into());
    let rg = root.resource("redis", rg).unwrap();
    (
        st,
        Handles {
            subnets: [a, b],
            sg,
            pw,
            rg,
        },
    )
}

async fn tags_of(ec: &EcClient, arn: &str) -> BTreeMap<String, String> {
    ec::from_tags(
        ec.list_tags_for_resource()
            .resource_name(arn)
            .send()
            .await
            .unwrap()
            .tag_list(),
    )
}

async fn live_rg(ec: &EcClient, id: &str) -> aws_sdk_elasticache::types::ReplicationGroup {
    ec.describe_replication_groups()
        .replication_group_id(id)
        .send()
        .await
        .unwrap()
        .replication_groups()[0]
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subnet_group_and_replication_group_against_moto() {
    let mut e = Env::new(settings()).await;
    let ec = EcClient::new(&e.conf);

    // Create: subnet group from two subnets, replication group with the
    // password as AUTH token, every tag in the create calls.
    let mut k = knobs();
    let (s1, h) = stack(&k);
    let plan = e.up(&s1).await;
    assert_eq!(plan.counts().create, 6);
    let subnet_ids: Vec<String> = h
        .subnets
        .iter()
        .map(|s| e.st.resource(s.urn()).unwrap().unwrap().id)
        .collect();
    let sg_rec = e.st.resource(h.sg.urn()).unwrap().unwrap();
    assert_eq!(sg_rec.id, "morket-cache");
    let live_sg = ec
        .describe_cache_subnet_groups()
        .cache_subnet_group_name("morket-cache")
        .send()
        .await
        .unwrap()
        .cache_subnet_groups()[0]
        .clone();
    let mut live_subnets: Vec<String> = live_sg
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_identifier().map(str::to_string))
        .collect();
    live_subnets.sort();
    let mut want = subnet_ids.clone();
    want.sort();
    assert_eq!(live_subnets, want);
    assert_eq!(sg_rec.outputs["arn"], json!(live_sg.arn()));
    let t = tags_of(&ec, live_sg.arn().unwrap()).await;
    assert_eq!(t["Name"], "cache-subnets");
    assert_eq!(t["Project"], "morket");
    assert_eq!(tag_urn(&t["morket:urn"]), h.sg.urn().as_str());

    let rg_rec = e.st.resource(h.rg.urn()).unwrap().unwrap();
    assert_eq!(rg_rec.id, "morket-redis");
    let rg = live_rg(&ec, "morket-redis").await;
    assert_eq!(rg.status(), Some("available"));
    assert_eq!(rg.description(), Some("sessions"));
    assert_eq!(rg.cache_node_type(), Some("cache.t4g.micro"));
    assert_eq!(rg.auth_token_enabled(), Some(true), "token reached AWS");
    assert_eq!(rg.transit_encryption_enabled(), Some(true));
    assert_eq!(rg.at_rest_encryption_enabled(), Some(true));
    assert_eq!(rg.automatic_failover().map(|a| a.as_str()), Some("enabled"));
    // moto: NumCacheClusters=2 gives one member and no reader endpoint, so
    // neither the member count nor reader_endpoint_address is asserted.
    assert!(!rg.member_clusters().is_empty());
    assert_eq!(rg_rec.outputs["arn"], json!(rg.arn()));
    assert_eq!(rg_rec.outputs["port"], json!(6379));
    assert!(rg_rec.outputs["primary_endpoint_address"]
        .as_str()
        .is_some_and(|a| a.starts_with("master.morket-redis.")));
    assert!(rg_rec.outputs.get("auth_token").is_none());
    // The token is recorded as a secret (sealed at rest).
    assert!(
        morket_stack::value::as_secret(&rg_rec.inputs["auth_token"])
            .is_some_and(|t| t.as_str().is_some_and(|t| t.len() == 32)),
        "auth_token recorded as a 32-character secret"
    );
    let t = tags_of(&ec, rg.arn().unwrap()).await;
    assert_eq!(t["Name"], "redis");
    assert_eq!(t["Project"], "morket");
    assert_eq!(tag_urn(&t["morket:urn"]), h.rg.urn().as_str());

    // No-op preview.
    e.no_changes(&s1).await;

    // Update in place: description, node type, snapshots, Multi-AZ, tags.
    k.rg.description = "sessions and queues".into();
    k.rg.node_type = "cache.t4g.small".into();
    k.rg.snapshot_retention_limit = 5;
    k.rg.multi_az_enabled = true;
    k.rg.tags.insert("Tier".into(), "cache".into());
    k.sg_tag = "renamed".into();
    let (s2, _) = stack(&k);
    let plan = e.up(&s2).await;
    let rs = step(&plan, h.rg.urn());
    assert_eq!(rs.action, Action::Update);
    assert_eq!(
        rs.changed,
        vec![
            "description",
            "multi_az_enabled",
            "node_type",
            "snapshot_retention_limit",
            "tags"
        ]
    );
    assert_eq!(step(&plan, h.sg.urn()).action, Action::Update);
    let rg = live_rg(&ec, "morket-redis").await;
    assert_eq!(rg.description(), Some("sessions and queues"));
    assert_eq!(rg.cache_node_type(), Some("cache.t4g.small"));
    assert_eq!(rg.snapshot_retention_limit(), Some(5));
    assert_eq!(rg.multi_az().map(|m| m.as_str()), Some("enabled"));
    assert_eq!(tags_of(&ec, rg.arn().unwrap()).await["Tier"], "cache");
    assert_eq!(
        tags_of(&ec, live_sg.arn().unwrap()).await["Name"],
        "renamed"
    );
    e.no_changes(&s2).await;

    // A new password rotates the token in place (ROTATE; asserted with mocks,
    // moto only records that a token is set).
    k.pw_length = 40;
    let (s3, _) = stack(&k);
    let plan = e.up(&s3).await;
    assert_eq!(step(&plan, h.pw.urn()).action, Action::Replace);
    let rs = step(&plan, h.rg.urn());
    assert_eq!(rs.action, Action::Update);
    assert_eq!(rs.changed, vec!["auth_token"]);
    assert_eq!(
        e.st.resource(h.rg.urn()).unwrap().unwrap().id,
        "morket-redis",
        "same group, not replaced"
    );
    assert_eq!(
        live_rg(&ec, "morket-redis").await.auth_token_enabled(),
        Some(true)
    );

    // Out-of-band change; read returns the live values and keeps the
    // declared token (AWS never returns it).
    ec.modify_replication_group()
        .replication_group_id("morket-redis")
        .replication_group_description("changed by hand")
        .snapshot_retention_limit(7)
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    let rec = e.st.resource(h.rg.urn()).unwrap().unwrap();
    let provider = e.reg.get(ReplicationGroup::TYPE).unwrap();
    let read = provider
        .read(&ctx(h.rg.urn()), &rec.id, &rec.inputs, &rec.outputs)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.inputs["description"], json!("changed by hand"));
    assert_eq!(read.inputs["snapshot_retention_limit"], json!(7));
    assert_eq!(read.inputs["node_type"], json!("cache.t4g.small"));
    assert_eq!(
        read.inputs["tags"],
        json!({"Name": "redis", "Tier": "cache"})
    );
    // Write-only: the declared token, still a secret, never one read from AWS.
    assert_eq!(read.inputs["auth_token"], rec.inputs["auth_token"]);
    assert!(morket_stack::value::as_secret(&read.inputs["auth_token"]).is_some());
    assert!(read.outputs.get("auth_token").is_none());
    assert!(!read.outputs.to_string().contains(
        morket_stack::value::as_secret(&rec.inputs["auth_token"])
            .and_then(|t| t.as_str())
            .unwrap()
    ));
    let sg_read = e
        .reg
        .get(SubnetGroup::TYPE)
        .unwrap()
        .read(&ctx(h.sg.urn()), "morket-cache", &json!({}), &json!({}))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sg_read.inputs["tags"], json!({"Name": "renamed"}));
    assert_eq!(sg_read.inputs["subnet_ids"].as_array().unwrap().len(), 2);

    // Adoption: each finds exactly its own object by the morket:urn tag.
    let found = provider
        .find_by_urn(&ctx(h.rg.urn()), &json!({}))
        .await
        .unwrap();
    assert_eq!(
        found.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        vec!["morket-redis"]
    );
    let found = e
        .reg
        .get(SubnetGroup::TYPE)
        .unwrap()
        .find_by_urn(&ctx(h.sg.urn()), &json!({}))
        .await
        .unwrap();
    assert_eq!(
        found.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        vec!["morket-cache"]
    );

    // Force-new fields plan a replacement (not applied: the deletes have
    // their own tests below).
    let mut k2 = knobs();
    k2.rg = k.rg.clone();
    k2.pw_length = k.pw_length;
    k2.sg_tag = k.sg_tag.clone();
    k2.rg.port = 6380;
    k2.rg.at_rest_encryption_enabled = false;
    k2.sg_name = "morket-cache-2".into();
    let (s4, _) = stack(&k2);
    let p = e.eng.preview(&s4, &PlanOptions::default()).await.unwrap();
    assert_eq!(step(&p, h.sg.urn()).action, Action::Replace);
    assert_eq!(step(&p, h.sg.urn()).replace_fields, vec!["name"]);
    let rs = step(&p, h.rg.urn());
    assert_eq!(rs.action, Action::Replace);
    assert_eq!(
        rs.replace_fields,
        vec!["at_rest_encryption_enabled", "port", "subnet_group_name"]
    );
}

/// `fired` and `seen` of the `i`th armed fault.
fn fault(e: &Env, i: usize) -> (u64, u64) {
    let f = &e.moto.faults_fired()["faults"][i];
    (f["fired"].as_u64().unwrap(), f["seen"].as_u64().unwrap())
}

/// Applies `s` (it must succeed) and returns the report.
async fn up_report(e: &mut Env, s: &Stack) -> ApplyReport {
    let (_, report) = e
        .eng
        .up(s, &PlanOptions::default(), &e.cancel)
        .await
        .unwrap();
    assert!(report.is_success(), "{report:?}");
    report
}

/// Destroys `s` (it must succeed, leaving state empty) and returns the report.
async fn destroy_report(e: &mut Env, s: &Stack) -> ApplyReport {
    let (_, report) = e.eng.destroy(s, &e.cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert!(e.st.resources().unwrap().is_empty());
    report
}

/// How many times the engine ran the operation on `urn`: 1 when the type's
/// own retry absorbed the refusals.
fn attempts(report: &ApplyReport, urn: &impl support::aws::AsUrn) -> u32 {
    let urn = urn.as_urn();
    report
        .ops
        .iter()
        .find(|o| &o.urn == urn)
        .unwrap_or_else(|| panic!("no op for {urn}: {report:?}"))
        .attempts
}

async fn group_ids(ec: &EcClient) -> Vec<String> {
    ec.describe_replication_groups()
        .send()
        .await
        .unwrap()
        .replication_groups()
        .iter()
        .filter_map(|g| g.replication_group_id().map(str::to_string))
        .collect()
}

/// ModifyReplicationGroup refused while the group, then a member cluster, is
/// busy (InvalidReplicationGroupState × 3, InvalidCacheClusterState × 1):
/// sent again within the conflict budget, in the engine's first attempt, and
/// the change applied in one `up`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replication_group_modify_refused_while_busy_is_retried() {
    let mut e = Env::new(settings()).await;
    let ec = EcClient::new(&e.conf);
    let mut k = knobs();
    let (s1, h) = stack(&k);
    e.up(&s1).await;
    e.moto.fail(
        "ModifyReplicationGroup",
        "InvalidReplicationGroupState",
        400,
        3,
    );
    e.moto
        .fail("ModifyReplicationGroup", "InvalidCacheClusterState", 400, 1);
    k.rg.description = "changed while busy".into();
    let (s2, _) = stack(&k);
    let report = up_report(&mut e, &s2).await;
    assert_eq!(attempts(&report, &h.rg), 1);
    assert_eq!(
        fault(&e, 0),
        (3, 5),
        "3 refused, then the other fault, then sent"
    );
    assert_eq!(fault(&e, 1).0, 1);
    assert_eq!(
        live_rg(&ec, "morket-redis").await.description(),
        Some("changed while busy")
    );
    assert_eq!(group_ids(&ec).await, vec!["morket-redis"]);
    e.no_changes(&s2).await;
}

/// DeleteReplicationGroup refused (InvalidReplicationGroupState: modifying or
/// snapshotting) is sent again, not taken for a delete under way: one
/// destroy removes the group and everything after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replication_group_delete_refused_while_busy_is_retried() {
    let mut e = Env::new(settings()).await;
    let ec = EcClient::new(&e.conf);
    let (s, h) = stack(&knobs());
    e.up(&s).await;
    e.moto.fail(
        "DeleteReplicationGroup",
        "InvalidReplicationGroupState",
        400,
        3,
    );
    let report = destroy_report(&mut e, &s).await;
    assert_eq!(attempts(&report, &h.rg), 1);
    assert_eq!(fault(&e, 0), (3, 4), "3 refused, the 4th accepted");
    assert!(group_ids(&ec).await.is_empty());
    let subnet_groups = ec.describe_cache_subnet_groups().send().await.unwrap();
    assert!(subnet_groups
        .cache_subnet_groups()
        .iter()
        .all(|g| g.cache_subnet_group_name() != Some("morket-cache")));
}

/// DeleteCacheSubnetGroup answers DependencyViolation while the network
/// interfaces of a deleted cluster linger: retried in one destroy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subnet_group_delete_waits_out_dependency_violation() {
    let mut e = Env::new(settings()).await;
    let ec = EcClient::new(&e.conf);
    let mut st = Stack::new(STACK).unwrap();
    let mut root = st.root();
    let vpc = root.resource("vpc", Vpc::new("10.0.0.0/16")).unwrap();
    let a = root
        .resource("a", Subnet::new(vpc.id(), "10.0.1.0/24"))
        .unwrap();
    let sg = root
        .resource(
            "cache",
            SubnetGroup::new("morket-cache", vec![a.id().into()]),
        )
        .unwrap();
    e.up_stable(&st).await;
    e.moto
        .fail("DeleteCacheSubnetGroup", "DependencyViolation", 400, 3);
    let report = destroy_report(&mut e, &st).await;
    assert_eq!(attempts(&report, &sg), 1);
    assert_eq!(fault(&e, 0), (3, 4));
    let left = ec.describe_cache_subnet_groups().send().await.unwrap();
    assert!(left
        .cache_subnet_groups()
        .iter()
        .all(|g| g.cache_subnet_group_name() != Some("morket-cache")));
}

async fn live_parameters(ec: &EcClient, name: &str) -> BTreeMap<String, String> {
    ec.describe_cache_parameters()
        .cache_parameter_group_name(name)
        .source("user")
        .send()
        .await
        .unwrap()
        .parameters()
        .iter()
        .filter_map(|p| {
            Some((
                p.parameter_name()?.to_string(),
                p.parameter_value()?.to_string(),
            ))
        })
        .collect()
}

/// The parameters are set right after CreateCacheParameterGroup; a group not
/// yet visible to that call (CacheParameterGroupNotFound) is retried within
/// the new-object grace: one group, its parameters set, in one `up`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameter_group_not_yet_visible_after_create_is_retried() {
    let mut e = Env::new(settings()).await;
    let ec = EcClient::new(&e.conf);
    let pg = ParameterGroup::new("morket-redis7", "redis7")
        .parameter("maxmemory-policy", "allkeys-lru")
        .parameter("timeout", "300");
    let (s, r) = pg_stack(pg);
    e.moto.fail(
        "ModifyCacheParameterGroup",
        "CacheParameterGroupNotFound",
        404,
        2,
    );
    let report = up_report(&mut e, &s).await;
    assert_eq!(attempts(&report, &r), 1);
    assert_eq!(fault(&e, 0), (2, 3));
    let groups = ec.describe_cache_parameter_groups().send().await.unwrap();
    assert_eq!(groups.cache_parameter_groups().len(), 1, "one group");
    assert_eq!(
        live_parameters(&ec, "morket-redis7").await,
        BTreeMap::from([
            ("maxmemory-policy".to_string(), "allkeys-lru".to_string()),
            ("timeout".to_string(), "300".to_string()),
        ])
    );
    e.no_changes(&s).await;
}

/// ModifyCacheParameterGroup refused while the group is applying an earlier
/// change to its clusters (InvalidCacheParameterGroupState): retried, the
/// new value set in one `up`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameter_group_modify_refused_while_busy_is_retried() {
    let mut e = Env::new(settings()).await;
    let ec = EcClient::new(&e.conf);
    let pg = ParameterGroup::new("morket-redis7", "redis7").parameter("timeout", "300");
    let (s1, r) = pg_stack(pg.clone());
    e.up_stable(&s1).await;
    e.moto.fail(
        "ModifyCacheParameterGroup",
        "InvalidCacheParameterGroupState",
        400,
        3,
    );
    let (s2, _) = pg_stack(pg.parameter("timeout", "600"));
    let report = up_report(&mut e, &s2).await;
    assert_eq!(attempts(&report, &r), 1);
    assert_eq!(fault(&e, 0), (3, 4));
    assert_eq!(
        live_parameters(&ec, "morket-redis7").await["timeout"],
        "600"
    );
    e.no_changes(&s2).await;
}

/// With moto answering like AWS (`creating` without endpoints for a minute,
/// `modifying` from 3 s after a modify, `deleting`, and state conflicts): the
/// create waits for the primary endpoint, each modify waits until the group
/// is available again, so the next request never meets a conflict, and the
/// destroy waits until the group is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_like_transitions_are_waited_out() {
    let mut e = Env::new(settings()).await;
    let ec = EcClient::new(&e.conf);
    e.moto
        .aws_like(json!({"on": ["transitions", "conflicts"], "scale": 0.01}));
    let mut k = knobs();
    let (s1, h) = stack(&k);
    e.up(&s1).await;
    assert!(
        e.outputs(&h.rg)["primary_endpoint_address"]
            .as_str()
            .is_some_and(|a| a.starts_with("master.morket-redis.")),
        "{}",
        e.outputs(&h.rg)
    );
    // Two requests in a row: the description, then the token rotation.
    k.rg.description = "sessions, rotated".into();
    k.pw_length = 40;
    let (s2, _) = stack(&k);
    let report = up_report(&mut e, &s2).await;
    assert_eq!(attempts(&report, &h.rg), 1);
    // The update ended once the group read available again: right after
    // it, the group is not `modifying` (its window is 30 ms to 330 ms after
    // the token request).
    let rg = live_rg(&ec, "morket-redis").await;
    assert_eq!(rg.status(), Some("available"));
    assert_eq!(rg.description(), Some("sessions, rotated"));
    destroy_report(&mut e, &s2).await;
    assert!(group_ids(&ec).await.is_empty());
    let fired = e.moto.aws_like_fired();
    assert!(
        fired["fired"]["transitions"]["DescribeReplicationGroups"]
            .as_u64()
            .is_some_and(|n| n > 0),
        "{fired}"
    );
    assert!(
        fired["fired"]["conflicts"].is_null(),
        "no request met a busy group: {fired}"
    );
}

// ---------------------------------------------------------------- mocks

/// A tiny in-memory ElastiCache for cache parameter groups (moto implements
/// none of these calls), tags included.
#[derive(Default)]
struct FakePgs {
    groups: BTreeMap<String, (String, String, BTreeMap<String, String>)>,
    tags: HashMap<String, BTreeMap<String, String>>,
    modify_calls: Vec<Vec<(String, String)>>,
    reset_calls: Vec<Vec<String>>,
}

fn pg_arn(name: &str) -> String {
    format!("arn:aws:elasticache:us-east-1:123456789012:parametergroup:{name}")
}

fn pg_of(name: &str, family: &str, desc: &str) -> CacheParameterGroup {
    CacheParameterGroup::builder()
        .cache_parameter_group_name(name)
        .cache_parameter_group_family(family)
        .description(desc)
        .arn(pg_arn(name))
        .build()
}

fn tag_rules(fake: &Arc<Mutex<FakePgs>>) -> Vec<Rule> {
    let f1 = fake.clone();
    let f2 = fake.clone();
    let f3 = fake.clone();
    vec![
        mock!(EcClient::list_tags_for_resource).then_compute_output(move |r| {
            let f = f1.lock().unwrap();
            let t = f
                .tags
                .get(r.resource_name().unwrap())
                .cloned()
                .unwrap_or_default();
            ListTagsForResourceOutput::builder()
                .set_tag_list(Some(ec::to_tags(&t)))
                .build()
        }),
        mock!(EcClient::add_tags_to_resource).then_compute_output(move |r| {
            let mut f = f2.lock().unwrap();
            let e = f
                .tags
                .entry(r.resource_name().unwrap().to_string())
                .or_default();
            e.extend(ec::from_tags(r.tags()));
            AddTagsToResourceOutput::builder().build()
        }),
        mock!(EcClient::remove_tags_from_resource).then_compute_output(move |r| {
            let mut f = f3.lock().unwrap();
            if let Some(e) = f.tags.get_mut(r.resource_name().unwrap()) {
                for k in r.tag_keys() {
                    e.remove(k);
                }
            }
            RemoveTagsFromResourceOutput::builder().build()
        }),
    ]
}

fn pg_rules(fake: &Arc<Mutex<FakePgs>>) -> Vec<Rule> {
    let mut rules = tag_rules(fake);
    let f = fake.clone();
    rules.push(
        mock!(EcClient::create_cache_parameter_group).then_compute_output(move |r| {
            let mut f = f.lock().unwrap();
            let name = r.cache_parameter_group_name().unwrap().to_string();
            let (fam, desc) = (
                r.cache_parameter_group_family().unwrap().to_string(),
                r.description().unwrap().to_string(),
            );
            f.groups
                .insert(name.clone(), (fam.clone(), desc.clone(), BTreeMap::new()));
            f.tags.insert(pg_arn(&name), ec::from_tags(r.tags()));
            CreateCacheParameterGroupOutput::builder()
                .cache_parameter_group(pg_of(&name, &fam, &desc))
                .build()
        }),
    );
    let f = fake.clone();
    rules.push(
        mock!(EcClient::describe_cache_parameter_groups).then_compute_response(move |r| {
            let f = f.lock().unwrap();
            let list: Vec<CacheParameterGroup> = f
                .groups
                .iter()
                .filter(|(n, _)| r.cache_parameter_group_name().is_none_or(|w| w == *n))
                .map(|(n, (fam, d, _))| pg_of(n, fam, d))
                .collect();
            if list.is_empty() && r.cache_parameter_group_name().is_some() {
                return MockResponse::Error(
                    DescribeCacheParameterGroupsError::CacheParameterGroupNotFoundFault(
                        CacheParameterGroupNotFoundFault::builder()
                            .meta(meta("CacheParameterGroupNotFound"))
                            .build(),
                    ),
                );
            }
            MockResponse::Output(
                DescribeCacheParameterGroupsOutput::builder()
                    .set_cache_parameter_groups(Some(list))
                    .build(),
            )
        }),
    );
    let f = fake.clone();
    rules.push(
        mock!(EcClient::describe_cache_parameters).then_compute_output(move |r| {
            let f = f.lock().unwrap();
            assert_eq!(r.source(), Some("user"), "only user-set parameters");
            let params = f
                .groups
                .get(r.cache_parameter_group_name().unwrap())
                .map(|g| {
                    g.2.iter()
                        .map(|(k, v)| {
                            Parameter::builder()
                                .parameter_name(k)
                                .parameter_value(v)
                                .source("user")
                                .build()
                        })
                        .collect()
                })
                .unwrap_or_default();
            DescribeCacheParametersOutput::builder()
                .set_parameters(Some(params))
                .build()
        }),
    );
    let f = fake.clone();
    rules.push(
        mock!(EcClient::modify_cache_parameter_group).then_compute_output(move |r| {
            let mut f = f.lock().unwrap();
            let name = r.cache_parameter_group_name().unwrap().to_string();
            let set: Vec<(String, String)> = r
                .parameter_name_values()
                .iter()
                .map(|p| {
                    (
                        p.parameter_name().unwrap().to_string(),
                        p.parameter_value().unwrap().to_string(),
                    )
                })
                .collect();
            f.groups.get_mut(&name).unwrap().2.extend(set.clone());
            f.modify_calls.push(set);
            ModifyCacheParameterGroupOutput::builder()
                .cache_parameter_group_name(name)
                .build()
        }),
    );
    let f = fake.clone();
    rules.push(
        mock!(EcClient::reset_cache_parameter_group).then_compute_output(move |r| {
            let mut f = f.lock().unwrap();
            let name = r.cache_parameter_group_name().unwrap().to_string();
            assert_eq!(r.reset_all_parameters(), Some(false));
            let keys: Vec<String> = r
                .parameter_name_values()
                .iter()
                .map(|p| p.parameter_name().unwrap().to_string())
                .collect();
            for k in &keys {
                f.groups.get_mut(&name).unwrap().2.remove(k);
            }
            f.reset_calls.push(keys);
            ResetCacheParameterGroupOutput::builder()
                .cache_parameter_group_name(name)
                .build()
        }),
    );
    let f = fake.clone();
    rules.push(
        mock!(EcClient::delete_cache_parameter_group).then_compute_output(move |r| {
            let mut f = f.lock().unwrap();
            let name = r.cache_parameter_group_name().unwrap();
            f.groups.remove(name);
            f.tags.remove(&pg_arn(name));
            DeleteCacheParameterGroupOutput::builder().build()
        }),
    );
    rules
}

fn mocked_aws(rules: &[Rule]) -> Arc<Aws> {
    let refs: Vec<&Rule> = rules.iter().collect();
    let client = mock_client!(aws_sdk_elasticache, RuleMode::MatchAny, refs.as_slice());
    Arc::new(Aws::new(settings()).with_elasticache(client))
}

fn pg_stack(pg: ParameterGroup) -> (Stack, Resource<ParameterGroup>) {
    let mut st = Stack::new(STACK).unwrap();
    let r = st.root().resource("redis7", pg).unwrap();
    (st, r)
}

/// The whole parameter-group lifecycle through the engine against an
/// in-memory fake, asserting each request (moto_server.py's emulation is
/// exercised by the moto tests).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameter_group_lifecycle_with_mocks() {
    let fake = Arc::new(Mutex::new(FakePgs::default()));
    let reg = registry(mocked_aws(&pg_rules(&fake)));
    let st = store();
    let mut eng = Engine::new(Box::new(st.clone()), reg.clone());
    let cancel = Cancel::new();

    let mut pg = ParameterGroup::new("morket-redis7", "redis7")
        .parameter("maxmemory-policy", "volatile-lru")
        .parameter("timeout", "300");
    pg.tags.insert("Name".into(), "redis7".into());
    let (s1, r) = pg_stack(pg.clone());
    let (plan, report) = eng.up(&s1, &PlanOptions::default(), &cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert_eq!(plan.counts().create, 1);
    let rec = st.resource(r.urn()).unwrap().unwrap();
    assert_eq!(rec.id, "morket-redis7");
    assert_eq!(rec.outputs["arn"], json!(pg_arn("morket-redis7")));
    {
        let f = fake.lock().unwrap();
        let g = &f.groups["morket-redis7"];
        assert_eq!(g.0, "redis7");
        assert_eq!(g.2["maxmemory-policy"], "volatile-lru");
        assert_eq!(g.2["timeout"], "300");
        let t = &f.tags[&pg_arn("morket-redis7")];
        assert_eq!(t["Name"], "redis7");
        assert_eq!(t["Project"], "morket");
        assert_eq!(tag_urn(&t["morket:urn"]), r.urn().as_str());
    }
    let p = eng.preview(&s1, &PlanOptions::default()).await.unwrap();
    assert!(!p.has_changes(), "{:?}", p.steps);

    // Update: one parameter changed, one removed (reset to the default).
    let mut pg2 =
        ParameterGroup::new("morket-redis7", "redis7").parameter("maxmemory-policy", "allkeys-lru");
    pg2.tags = pg.tags.clone();
    let (s2, _) = pg_stack(pg2.clone());
    let (plan, report) = eng.up(&s2, &PlanOptions::default(), &cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert_eq!(plan.steps[0].action, Action::Update);
    assert_eq!(plan.steps[0].changed, vec!["parameters"]);
    {
        let f = fake.lock().unwrap();
        assert_eq!(
            f.modify_calls.last().unwrap(),
            &vec![("maxmemory-policy".to_string(), "allkeys-lru".to_string())]
        );
        assert_eq!(f.reset_calls, vec![vec!["timeout".to_string()]]);
        assert_eq!(
            f.groups["morket-redis7"].2,
            BTreeMap::from([("maxmemory-policy".to_string(), "allkeys-lru".to_string())])
        );
    }

    // Out-of-band change, read returns it.
    fake.lock()
        .unwrap()
        .groups
        .get_mut("morket-redis7")
        .unwrap()
        .2
        .insert("maxmemory-policy".into(), "noeviction".into());
    let provider = reg.get(ParameterGroup::TYPE).unwrap();
    let rec = st.resource(r.urn()).unwrap().unwrap();
    let read = provider
        .read(&ctx(r.urn()), &rec.id, &rec.inputs, &rec.outputs)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        read.inputs["parameters"],
        json!([{"name": "maxmemory-policy", "value": "noeviction"}])
    );
    assert_eq!(read.inputs["family"], json!("redis7"));
    assert_eq!(read.inputs["tags"], json!({"Name": "redis7"}));

    // Adoption by tag: exactly the one group.
    let found = provider
        .find_by_urn(&ctx(r.urn()), &json!({}))
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, "morket-redis7");
    let other = morket_stack::model::Urn::new(STACK, "", ParameterGroup::TYPE, "other");
    assert!(provider
        .find_by_urn(&ctx(&other), &json!({}))
        .await
        .unwrap()
        .is_empty());

    // Family is force-new: a new group (new name too, AWS names are unique).
    let mut pg3 = ParameterGroup::new("morket-valkey8", "valkey8")
        .parameter("maxmemory-policy", "allkeys-lru");
    pg3.tags = pg.tags.clone();
    let (s3, _) = pg_stack(pg3);
    let (plan, report) = eng.up(&s3, &PlanOptions::default(), &cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert_eq!(plan.steps[0].action, Action::Replace);
    assert_eq!(plan.steps[0].replace_fields, vec!["family", "name"]);
    {
        let f = fake.lock().unwrap();
        assert_eq!(
            f.groups.keys().collect::<Vec<_>>(),
            vec!["morket-valkey8"],
            "old group deleted, exactly one new"
        );
    }

    // Destroy.
    let (_, report) = eng.destroy(&s3, &cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert!(fake.lock().unwrap().groups.is_empty());
    assert!(st.resources().unwrap().is_empty());
    // Deleting what is already gone is success.
    let e = provider
        .read(&ctx(r.urn()), "morket-valkey8", &json!({}), &json!({}))
        .await
        .unwrap();
    assert!(e.is_none());
}

fn subnet_group_of(subnets: &[String]) -> CacheSubnetGroup {
    CacheSubnetGroup::builder()
        .cache_subnet_group_name("morket-cache")
        .arn("arn:aws:elasticache:us-east-1:123456789012:subnetgroup:morket-cache")
        .set_subnets(Some(
            subnets
                .iter()
                .map(|s| CacheSubnet::builder().subnet_identifier(s).build())
                .collect(),
        ))
        .build()
}

/// The ModifyCacheSubnetGroup and DeleteCacheSubnetGroup requests, asserted
/// one by one (the read after the update describes the modified group).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subnet_group_update_and_delete_with_mocks() {
    let fake = Arc::new(Mutex::new(FakePgs::default()));
    let modified = Arc::new(Mutex::new(Vec::<(String, Vec<String>)>::new()));
    let deleted = Arc::new(AtomicUsize::new(0));
    let mut rules = tag_rules(&fake);
    let m = modified.clone();
    rules.push(
        mock!(EcClient::modify_cache_subnet_group).then_compute_output(move |r| {
            m.lock().unwrap().push((
                r.cache_subnet_group_description().unwrap().to_string(),
                r.subnet_ids().to_vec(),
            ));
            ModifyCacheSubnetGroupOutput::builder()
                .cache_subnet_group(subnet_group_of(r.subnet_ids()))
                .build()
        }),
    );
    let m = modified.clone();
    rules.push(
        mock!(EcClient::describe_cache_subnet_groups).then_compute_output(move |_| {
            let m = m.lock().unwrap();
            let subnets = m.last().map(|(_, s)| s.clone()).unwrap_or_default();
            DescribeCacheSubnetGroupsOutput::builder()
                .cache_subnet_groups(subnet_group_of(&subnets))
                .build()
        }),
    );
    let d = deleted.clone();
    rules.push(
        mock!(EcClient::delete_cache_subnet_group).then_compute_response(move |r| {
            if r.cache_subnet_group_name() == Some("morket-cache") {
                d.fetch_add(1, Ordering::SeqCst);
                MockResponse::Output(DeleteCacheSubnetGroupOutput::builder().build())
            } else {
                MockResponse::Error(DeleteCacheSubnetGroupError::CacheSubnetGroupNotFoundFault(
                    CacheSubnetGroupNotFoundFault::builder()
                        .meta(meta("CacheSubnetGroupNotFoundFault"))
                        .build(),
                ))
            }
        }),
    );
    let aws_conn = mocked_aws(&rules);
    let reg = registry(aws_conn);
    let p = reg.get(SubnetGroup::TYPE).unwrap();
    let urn = morket_stack::model::Urn::new(STACK, "", SubnetGroup::TYPE, "cache");
    let old = serde_json::to_value(SubnetGroup::new(
        "morket-cache",
        vec!["subnet-a".into(), "subnet-b".into()],
    ))
    .unwrap();
    let mut n = SubnetGroup::new(
        "morket-cache",
        vec![
            "subnet-a".into(),
            "subnet-c".into(),
            Input::Value("subnet-d".into()),
        ],
    );
    n.description = "three subnets".into();
    let new = serde_json::to_value(&n).unwrap();
    let out = p
        .update(
            &ctx(&urn),
            "morket-cache",
            &old,
            &new,
            &json!({"arn": "arn:aws:elasticache:us-east-1:123456789012:subnetgroup:morket-cache"}),
        )
        .await
        .unwrap();
    assert_eq!(
        modified.lock().unwrap().as_slice(),
        &[(
            "three subnets".to_string(),
            vec![
                "subnet-a".to_string(),
                "subnet-c".to_string(),
                "subnet-d".to_string()
            ]
        )]
    );
    assert_eq!(
        out["subnet_ids"],
        json!(["subnet-a", "subnet-c", "subnet-d"])
    );
    p.delete(&ctx(&urn), "morket-cache", &new, &out)
        .await
        .unwrap();
    assert_eq!(deleted.load(Ordering::SeqCst), 1);
    // Already gone: success.
    p.delete(&ctx(&urn), "gone", &new, &out).await.unwrap();
}

fn rg_of(status: &str, members: usize) -> aws_sdk_elasticache::types::ReplicationGroup {
    aws_sdk_elasticache::types::ReplicationGroup::builder()
        .replication_group_id("morket-redis")
        .arn("arn:aws:elasticache:us-east-1:123456789012:replicationgroup:morket-redis")
        .status(status)
        .description("sessions")
        .cache_node_type("cache.t4g.micro")
        .set_member_clusters(Some(
            (1..=members)
                .map(|i| format!("morket-redis-00{i}"))
                .collect(),
        ))
        .node_groups(
            NodeGroup::builder()
                .primary_endpoint(
                    Endpoint::builder()
                        .address("master.morket-redis.x.use1.cache.amazonaws.com")
                        .port(6379)
                        .build(),
                )
                .reader_endpoint(
                    Endpoint::builder()
                        .address("replica.morket-redis.x.use1.cache.amazonaws.com")
                        .port(6379)
                        .build(),
                )
                .build(),
        )
        .build()
}

/// The replication group without node addresses, as AWS shows one being created.
fn rg_without_endpoint(status: &str) -> aws_sdk_elasticache::types::ReplicationGroup {
    aws_sdk_elasticache::types::ReplicationGroup::builder()
        .replication_group_id("morket-redis")
        .arn("arn:aws:elasticache:us-east-1:123456789012:replicationgroup:morket-redis")
        .status(status)
        .description("sessions")
        .member_clusters("morket-redis-001")
        .node_groups(NodeGroup::builder().status(status).build())
        .build()
}

fn rg_not_found() -> DescribeReplicationGroupsError {
    DescribeReplicationGroupsError::ReplicationGroupNotFoundFault(
        ReplicationGroupNotFoundFault::builder()
            .meta(meta("ReplicationGroupNotFoundFault"))
            .build(),
    )
}

#[derive(Default)]
struct RgCalls {
    create_token: Option<String>,
    increase: Vec<i32>,
    modify: Vec<(Option<String>, Option<AuthTokenUpdateStrategyType>)>,
    /// TransitEncryptionEnabled and TransitEncryptionMode of each modify.
    transit: Vec<(Option<bool>, Option<String>)>,
    /// "describe" and "modify", in order.
    events: Vec<&'static str>,
    /// Deletes accepted.
    deletes: usize,
    /// DeleteReplicationGroup requests, refused ones included.
    delete_calls: usize,
    /// The first this many deletes answer InvalidReplicationGroupState.
    refuse_deletes: usize,
    final_snapshot: Option<String>,
    describes_after_delete: usize,
    members: usize,
    deleting_polls: usize,
    /// The status before any delete (default `available`).
    status: Option<&'static str>,
    /// DescribeCacheClusters shows member 003 `creating` this many times.
    member_creating_polls: usize,
    member_polls: usize,
}

fn rg_rules(calls: &Arc<Mutex<RgCalls>>) -> Vec<Rule> {
    let fake = Arc::new(Mutex::new(FakePgs::default()));
    let mut rules = tag_rules(&fake);
    let c = calls.clone();
    rules.push(
        mock!(EcClient::create_replication_group).then_compute_output(move |r| {
            let mut c = c.lock().unwrap();
            c.create_token = r.auth_token().map(str::to_string);
            c.members = r.num_cache_clusters().unwrap_or(1) as usize;
            CreateReplicationGroupOutput::builder()
                .replication_group(rg_of("creating", c.members))
                .build()
        }),
    );
    let c = calls.clone();
    rules.push(
        mock!(EcClient::describe_replication_groups).then_compute_response(move |_| {
            let mut c = c.lock().unwrap();
            c.events.push("describe");
            if c.deletes > 0 {
                c.describes_after_delete += 1;
                if c.describes_after_delete <= c.deleting_polls {
                    return MockResponse::Output(
                        DescribeReplicationGroupsOutput::builder()
                            .replication_groups(rg_of("deleting", c.members))
                            .build(),
                    );
                }
                return MockResponse::Error(rg_not_found());
            }
            MockResponse::Output(
                DescribeReplicationGroupsOutput::builder()
                    .replication_groups(rg_of(c.status.unwrap_or("available"), c.members))
                    .build(),
            )
        }),
    );
    let c = calls.clone();
    rules.push(
        mock!(EcClient::describe_cache_clusters).then_compute_output(move |r| {
            let mut c = c.lock().unwrap();
            let id = r.cache_cluster_id().unwrap_or_default().to_string();
            let mut status = "available";
            if id == "morket-redis-003" {
                c.member_polls += 1;
                if c.member_polls <= c.member_creating_polls {
                    status = "creating";
                }
            }
            DescribeCacheClustersOutput::builder()
                .cache_clusters(
                    CacheCluster::builder()
                        .cache_cluster_id(id)
                        .cache_cluster_status(status)
                        .engine_version("7.1.0")
                        .build(),
                )
                .build()
        }),
    );
    let c = calls.clone();
    rules.push(
        mock!(EcClient::increase_replica_count).then_compute_output(move |r| {
            let mut c = c.lock().unwrap();
            let n = r.new_replica_count().unwrap();
            c.increase.push(n);
            c.members = n as usize + 1;
            IncreaseReplicaCountOutput::builder().build()
        }),
    );
    let c = calls.clone();
    rules.push(
        mock!(EcClient::modify_replication_group).then_compute_output(move |r| {
            let mut c = c.lock().unwrap();
            c.events.push("modify");
            if r.auth_token().is_some() {
                c.modify.push((
                    r.auth_token().map(str::to_string),
                    r.auth_token_update_strategy().cloned(),
                ));
            }
            if r.transit_encryption_enabled().is_some() || r.transit_encryption_mode().is_some() {
                c.transit.push((
                    r.transit_encryption_enabled(),
                    r.transit_encryption_mode().map(|m| m.as_str().to_string()),
                ));
            }
            ModifyReplicationGroupOutput::builder().build()
        }),
    );
    let c = calls.clone();
    rules.push(
        mock!(EcClient::delete_replication_group).then_compute_response(move |r| {
            let mut c = c.lock().unwrap();
            c.delete_calls += 1;
            if c.delete_calls <= c.refuse_deletes {
                return MockResponse::Error(
                    DeleteReplicationGroupError::InvalidReplicationGroupStateFault(
                        InvalidReplicationGroupStateFault::builder()
                            .meta(meta("InvalidReplicationGroupState"))
                            .build(),
                    ),
                );
            }
            c.deletes += 1;
            c.final_snapshot = r.final_snapshot_identifier().map(str::to_string);
            MockResponse::Output(DeleteReplicationGroupOutput::builder().build())
        }),
    );
    rules
}

fn rg_urn() -> morket_stack::model::Urn {
    morket_stack::model::Urn::new(STACK, "", ReplicationGroup::TYPE, "redis")
}

fn value(rg: &ReplicationGroup) -> serde_json::Value {
    serde_json::to_value(rg).unwrap()
}

/// Through the engine with mocks: the RandomPassword result reaches
/// CreateReplicationGroup as the AUTH token and never lands in state in the
/// clear. Then, provider calls moto cannot serve: IncreaseReplicaCount
/// waiting for the new member cluster, a ROTATE token change, and delete
/// waiting until the group is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replication_group_secret_token_replicas_and_delete_with_mocks() {
    let calls = Arc::new(Mutex::new(RgCalls {
        deleting_polls: 3,
        member_creating_polls: 2,
        ..Default::default()
    }));
    let reg = registry(mocked_aws(&rg_rules(&calls)));
    let st = store();
    let mut eng = Engine::new(Box::new(st.clone()), reg.clone());
    let mut s = Stack::new(STACK).unwrap();
    let mut root = s.root();
    let mut pw = RandomPassword::new(32);
    pw.special = false;
    let pw = root.resource("redis-auth", pw).unwrap();
    let mut rg = ReplicationGroup::new("morket-redis", "sessions", "cache.t4g.micro");
    rg.num_cache_clusters = 2;
    rg.transit_encryption_enabled = true;
    rg.auth_token = Some(pw.result().into());
    let r = root.resource("redis", rg.clone()).unwrap();
    let (_, report) = eng
        .up(&s, &PlanOptions::default(), &Cancel::new())
        .await
        .unwrap();
    assert!(report.is_success(), "{report:?}");
    let token = calls
        .lock()
        .unwrap()
        .create_token
        .clone()
        .expect("token sent");
    assert_eq!(token.len(), 32);
    assert!(token.chars().all(|c| c.is_ascii_alphanumeric()));
    let rec = st.resource(r.urn()).unwrap().unwrap();
    assert_eq!(
        rec.outputs["reader_endpoint_address"],
        json!("replica.morket-redis.x.use1.cache.amazonaws.com")
    );
    assert!(!rec.outputs.to_string().contains(&token));
    // The store reveals secrets when read; the token stays marked secret, so
    // it is sealed at rest.
    assert_eq!(
        morket_stack::value::as_secret(&rec.inputs["auth_token"]),
        Some(&json!(token)),
        "auth_token recorded as a secret: {}",
        rec.inputs["auth_token"]
    );
    let _ = pw;

    // 2 → 3 clusters and a new token: IncreaseReplicaCount(2) and a ROTATE.
    let p = reg.get(ReplicationGroup::TYPE).unwrap();
    let mut old = rg.clone();
    old.auth_token = Some(Input::secret(token.clone()));
    let mut new = old.clone();
    new.num_cache_clusters = 3;
    new.auth_token = Some(Input::secret("a-brand-new-token-0123456789"));
    let out = p
        .update(
            &ctx(r.urn()),
            "morket-redis",
            &serde_json::to_value(&old).unwrap(),
            &serde_json::to_value(&new).unwrap(),
            &rec.outputs,
        )
        .await
        .unwrap();
    {
        let c = calls.lock().unwrap();
        assert_eq!(c.increase, vec![2]);
        // The new member read `creating` twice before the update went on.
        assert_eq!(c.member_polls, 3, "2 × creating, then available");
        assert_eq!(
            c.modify,
            vec![(
                Some("a-brand-new-token-0123456789".to_string()),
                Some(AuthTokenUpdateStrategyType::Rotate)
            )]
        );
    }
    assert_eq!(out["member_clusters"].as_array().unwrap().len(), 3);
    assert!(out.get("auth_token").is_none());

    // Delete waits through `deleting` until the group is gone.
    p.delete(&ctx(r.urn()), "morket-redis", &json!({}), &out)
        .await
        .unwrap();
    let c = calls.lock().unwrap();
    assert_eq!(c.deletes, 1);
    assert_eq!(c.describes_after_delete, 4, "3 × deleting, then not found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replication_group_delete_times_out_naming_the_state() {
    let calls = Arc::new(Mutex::new(RgCalls {
        members: 1,
        deletes: 0,
        deleting_polls: usize::MAX,
        ..Default::default()
    }));
    let rules = rg_rules(&calls);
    let refs: Vec<&Rule> = rules.iter().collect();
    let client = mock_client!(aws_sdk_elasticache, RuleMode::MatchAny, refs.as_slice());
    let aws_conn = Arc::new(
        Aws::new(AwsSettings {
            wait_timeout: Duration::from_millis(200),
            poll_interval: Duration::from_millis(20),
            ..Default::default()
        })
        .with_elasticache(client),
    );
    let p = Typed::<ReplicationGroup>::new(aws_conn);
    let e = p
        .delete(&ctx(&rg_urn()), "morket-redis", &json!({}), &json!({}))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ProviderError::Fatal(m) if m.contains("deleting") && m.contains("morket-redis")),
        "{e}"
    );
}

/// After ModifyReplicationGroup AWS still shows `available` for a moment,
/// then `modifying` (here 100 ms to 600 ms after the call): the first poll
/// comes 30 s of AWS time (300 ms) after the call and `available` must be
/// seen twice, so the update ends only once the change is done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_modify_seen_late_is_waited_for() {
    let modified: Arc<Mutex<Option<Instant>>> = Default::default();
    let polls: Arc<Mutex<Vec<(Duration, &'static str)>>> = Default::default();
    let mut rules = tag_rules(&Default::default());
    let m = modified.clone();
    rules.push(
        mock!(EcClient::modify_replication_group).then_compute_output(move |_| {
            *m.lock().unwrap() = Some(Instant::now());
            ModifyReplicationGroupOutput::builder().build()
        }),
    );
    let (m, p) = (modified.clone(), polls.clone());
    rules.push(
        mock!(EcClient::describe_replication_groups).then_compute_output(move |_| {
            let status = match *m.lock().unwrap() {
                None => "available",
                Some(at) => {
                    let t = at.elapsed();
                    let s = match t.as_millis() {
                        0..100 => "available",
                        100..600 => "modifying",
                        _ => "available",
                    };
                    p.lock().unwrap().push((t, s));
                    s
                }
            };
            DescribeReplicationGroupsOutput::builder()
                .replication_groups(rg_of(status, 1))
                .build()
        }),
    );
    rules.push(
        mock!(EcClient::describe_cache_clusters)
            .then_output(|| DescribeCacheClustersOutput::builder().build()),
    );
    let reg = registry(mocked_aws(&rules));
    let p = reg.get(ReplicationGroup::TYPE).unwrap();
    let old = ReplicationGroup::new("morket-redis", "sessions", "cache.t4g.micro");
    let mut new = old.clone();
    new.description = "sessions and queues".into();
    p.update(
        &ctx(&rg_urn()),
        "morket-redis",
        &value(&old),
        &value(&new),
        &json!({}),
    )
    .await
    .unwrap();
    let polls = polls.lock().unwrap();
    assert!(
        polls[0].0 >= Duration::from_millis(290),
        "the first poll waits 30 s of AWS time: {polls:?}"
    );
    assert!(polls.iter().any(|(_, s)| *s == "modifying"), "{polls:?}");
    // The wait's last two polls and the read after the update: all after the change.
    assert!(polls.len() >= 3, "{polls:?}");
    assert!(
        polls[polls.len() - 3..]
            .iter()
            .all(|(t, s)| *s == "available" && *t >= Duration::from_millis(600)),
        "{polls:?}"
    );
}

/// Right after CreateReplicationGroup the group may not be visible, then
/// reads `creating` with no node address, and can read `available` a moment
/// before its primary endpoint shows: the create waits for the endpoint, so
/// `primary_endpoint_address` is never recorded empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_waits_for_the_primary_endpoint() {
    let describes = Arc::new(AtomicUsize::new(0));
    let mut rules = tag_rules(&Default::default());
    rules.push(
        mock!(EcClient::create_replication_group).then_compute_output(|_| {
            CreateReplicationGroupOutput::builder()
                .replication_group(rg_without_endpoint("creating"))
                .build()
        }),
    );
    let d = describes.clone();
    rules.push(
        mock!(EcClient::describe_replication_groups).then_compute_response(move |_| {
            let rg = match d.fetch_add(1, Ordering::SeqCst) {
                0 => return MockResponse::Error(rg_not_found()),
                1 => rg_without_endpoint("creating"),
                2 | 3 => rg_without_endpoint("available"),
                _ => rg_of("available", 1),
            };
            MockResponse::Output(
                DescribeReplicationGroupsOutput::builder()
                    .replication_groups(rg)
                    .build(),
            )
        }),
    );
    rules.push(
        mock!(EcClient::describe_cache_clusters)
            .then_output(|| DescribeCacheClustersOutput::builder().build()),
    );
    let reg = registry(mocked_aws(&rules));
    let p = reg.get(ReplicationGroup::TYPE).unwrap();
    let rg = ReplicationGroup::new("morket-redis", "sessions", "cache.t4g.micro");
    let created = p.create(&ctx(&rg_urn()), &value(&rg)).await.unwrap();
    assert_eq!(created.id, "morket-redis");
    assert_eq!(
        created.outputs["primary_endpoint_address"],
        json!("master.morket-redis.x.use1.cache.amazonaws.com")
    );
    assert_eq!(
        describes.load(Ordering::SeqCst),
        6,
        "not found, creating, 2 × available without endpoint, available; then the read"
    );
}

/// DeleteReplicationGroup refused while the group is `snapshotting` is sent
/// again (Terraform: 10 minutes), with the final snapshot; then the delete
/// waits through `deleting` until the group is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_refused_while_snapshotting_is_retried() {
    let calls = Arc::new(Mutex::new(RgCalls {
        members: 1,
        status: Some("snapshotting"),
        refuse_deletes: 2,
        deleting_polls: 2,
        ..Default::default()
    }));
    let p = Typed::<ReplicationGroup>::new(mocked_aws(&rg_rules(&calls)));
    let mut rg = ReplicationGroup::new("morket-redis", "sessions", "cache.t4g.micro");
    rg.final_snapshot_identifier = Some("morket-redis-final".into());
    p.delete(&ctx(&rg_urn()), "morket-redis", &value(&rg), &json!({}))
        .await
        .unwrap();
    let c = calls.lock().unwrap();
    assert_eq!((c.delete_calls, c.deletes), (3, 1), "2 refused, 1 accepted");
    assert_eq!(c.final_snapshot.as_deref(), Some("morket-redis-final"));
    assert_eq!(c.describes_after_delete, 3, "2 × deleting, then not found");
}

/// A group that already reads `deleting` (an earlier run's delete) is waited
/// for, not deleted again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_already_deleting_is_waited_for() {
    let calls = Arc::new(Mutex::new(RgCalls {
        members: 1,
        deletes: 1,
        deleting_polls: 3,
        ..Default::default()
    }));
    let p = Typed::<ReplicationGroup>::new(mocked_aws(&rg_rules(&calls)));
    p.delete(&ctx(&rg_urn()), "morket-redis", &json!({}), &json!({}))
        .await
        .unwrap();
    let c = calls.lock().unwrap();
    assert_eq!(c.delete_calls, 0);
    assert_eq!(c.describes_after_delete, 4, "3 × deleting, then not found");
}

/// Transit encryption on an existing group: AWS takes `preferred` first, and
/// `required` only once the group is available again (two requests, a wait
/// between them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transit_encryption_is_turned_on_in_two_steps() {
    let calls = Arc::new(Mutex::new(RgCalls {
        members: 1,
        ..Default::default()
    }));
    let p = Typed::<ReplicationGroup>::new(mocked_aws(&rg_rules(&calls)));
    let old = ReplicationGroup::new("morket-redis", "sessions", "cache.t4g.micro");
    let mut new = old.clone();
    new.transit_encryption_enabled = true;
    p.update(
        &ctx(&rg_urn()),
        "morket-redis",
        &value(&old),
        &value(&new),
        &json!({}),
    )
    .await
    .unwrap();
    let c = calls.lock().unwrap();
    assert_eq!(
        c.transit,
        vec![
            (Some(true), Some("preferred".to_string())),
            (Some(true), Some("required".to_string())),
        ]
    );
    let between: Vec<_> = c
        .events
        .iter()
        .skip_while(|e| **e != "modify")
        .skip(1)
        .take_while(|e| **e != "modify")
        .collect();
    assert!(
        between.len() >= 2,
        "waited between the steps: {:?}",
        c.events
    );
}

/// `engine_version = "7.1"` reads back as declared while AWS runs 7.1.0; a
/// lower version plans a new group (AWS never downgrades in place), a higher
/// one an update.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_version_reads_as_declared_and_a_downgrade_replaces() {
    let calls = Arc::new(Mutex::new(RgCalls::default()));
    let reg = registry(mocked_aws(&rg_rules(&calls)));
    let st = store();
    let mut eng = Engine::new(Box::new(st.clone()), reg.clone());
    let with_version = |v: &str| {
        let mut s = Stack::new(STACK).unwrap();
        let mut rg = ReplicationGroup::new("morket-redis", "sessions", "cache.t4g.micro");
        rg.engine_version = Some(v.into());
        let r = s.root().resource("redis", rg).unwrap();
        (s, r)
    };
    let (s1, r) = with_version("7.1");
    let (_, report) = eng
        .up(&s1, &PlanOptions::default(), &Cancel::new())
        .await
        .unwrap();
    assert!(report.is_success(), "{report:?}");
    let rec = st.resource(r.urn()).unwrap().unwrap();
    let read = reg
        .get(ReplicationGroup::TYPE)
        .unwrap()
        .read(&ctx(r.urn()), &rec.id, &rec.inputs, &rec.outputs)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.inputs["engine_version"], json!("7.1"), "live 7.1.0");
    assert_eq!(
        read.inputs, rec.inputs,
        "a read right after up is the declaration"
    );

    let (s2, _) = with_version("6.2");
    let p = eng.preview(&s2, &PlanOptions::default()).await.unwrap();
    assert_eq!(step(&p, r.urn()).action, Action::Replace);
    assert_eq!(step(&p, r.urn()).replace_fields, vec!["engine_version"]);
    let (s3, _) = with_version("7.2");
    let p = eng.preview(&s3, &PlanOptions::default()).await.unwrap();
    assert_eq!(step(&p, r.urn()).action, Action::Update);
}

#[tokio::test]
async fn invalid_inputs_fail_the_preview() {
    let mut eng = offline_engine(AwsSettings::default());
    let rg = || ReplicationGroup::new("morket-redis", "d", "cache.t4g.micro");
    let long = "a".repeat(41);
    let cases: Vec<(String, &str, &str)> = vec![
        (
            preview_error(
                &mut eng,
                ReplicationGroup::new("Morket", "d", "cache.t4g.micro"),
            )
            .await,
            "replication_group_id",
            "Morket",
        ),
        (
            preview_error(
                &mut eng,
                ReplicationGroup::new(&long, "d", "cache.t4g.micro"),
            )
            .await,
            "replication_group_id",
            long.as_str(),
        ),
        (
            preview_error(
                &mut eng,
                ReplicationGroup::new("1redis", "d", "cache.t4g.micro"),
            )
            .await,
            "replication_group_id",
            "1redis",
        ),
        (
            preview_error(&mut eng, {
                let mut g = rg();
                g.automatic_failover_enabled = true;
                g
            })
            .await,
            "automatic_failover_enabled",
            "num_cache_clusters >= 2",
        ),
        (
            preview_error(&mut eng, {
                let mut g = rg();
                g.snapshot_retention_limit = 36;
                g
            })
            .await,
            "snapshot_retention_limit",
            "36",
        ),
        (
            preview_error(&mut eng, {
                let mut g = rg();
                g.transit_encryption_enabled = true;
                g.auth_token = Some(Input::secret("short"));
                g
            })
            .await,
            "auth_token",
            "16 to 128",
        ),
        (
            preview_error(&mut eng, {
                let mut g = rg();
                g.transit_encryption_enabled = true;
                g.auth_token = Some(Input::secret("has-an-@-in-it-0123456789"));
                g
            })
            .await,
            "auth_token",
            "without @",
        ),
        (
            preview_error(&mut eng, ParameterGroup::new("morket-pg", "redis99")).await,
            "family",
            "redis99",
        ),
        (
            preview_error(
                &mut eng,
                SubnetGroup::new("morket-cache", vec!["sg-123".into()]),
            )
            .await,
            "subnet_ids",
            "sg-123",
        ),
        (
            preview_error(
                &mut eng,
                SubnetGroup::new("Bad_Name", vec!["subnet-1".into()]),
            )
            .await,
            "name",
            "Bad_Name",
        ),
    ];
    for (msg, field, value) in cases {
        assert!(
            msg.contains(field) && msg.contains(value),
            "{msg:?} should name {field} and {value}"
        );
    }
    // A secret token is never echoed in the error.
    let msg = preview_error(&mut eng, {
        let mut g = rg();
        g.transit_encryption_enabled = true;
        g.auth_token = Some(Input::secret("short-secret"));
        g
    })
    .await;
    assert!(!msg.contains("short-secret"), "{msg}");
}
