//! Drift, refresh and `up --refresh` through the engine against moto with
//! the AWS-like behaviours on: out-of-band changes made with the SDK are each
//! reported with their kind and fields, proven read-only from the peer's own
//! request log; refresh records them; a plain `up` or `up --refresh` puts the
//! declaration back.

use aws_sdk_ec2::types::{IpPermission, IpRange, ResourceType, Tag, TagSpecification};
use morket_stack::drift::Report;
use morket_stack::model::{HasUrn, Resource, Stack};
use morket_stack::plan::{Action, PlanOptions};
use morket_stack::provider::aws::ec2::security_group::SecurityGroup;
use morket_stack::provider::aws::ec2::security_group_rule::SecurityGroupRule;
use morket_stack::provider::aws::ec2::subnet::Subnet;
use morket_stack::provider::aws::ec2::vpc::Vpc;
use morket_stack::provider::aws::logs::log_group::LogGroup;
use morket_stack::provider::aws::rds::cluster::DbCluster;
use morket_stack::state::StateStore;
use serde_json::json;

use super::support::aws::{settings, step, Env, STACK};

struct D {
    vpc: Resource<Vpc>,
    spare: Resource<Subnet>,
    sg: Resource<SecurityGroup>,
    logs: Resource<LogGroup>,
    db: Resource<DbCluster>,
}

fn drift_stack() -> (Stack, D) {
    let mut st = Stack::new(STACK).unwrap();
    let mut root = st.root();
    let mut v = Vpc::new("10.40.0.0/16");
    v.tags.insert("team".into(), "core".into());
    let vpc = root.resource("vpc", v).unwrap();
    let mut a = Subnet::new(vpc.id(), "10.40.1.0/24");
    a.availability_zone = Some("us-east-1a".into());
    root.resource("used", a).unwrap();
    let mut b = Subnet::new(vpc.id(), "10.40.2.0/24");
    b.availability_zone = Some("us-east-1b".into());
    let spare = root.resource("spare", b).unwrap();
    let sg = root
        .resource("web", SecurityGroup::new("drift-web", vpc.id()))
        .unwrap();
    root.resource(
        "https",
        SecurityGroupRule::ingress(sg.id(), "tcp", 443, 443)
            .with_cidr_blocks(&["10.40.0.0/16"])
            .with_description("https inside"),
    )
    .unwrap();
    let mut lg = LogGroup::new("/morket/drift");
    lg.retention_in_days = Some(30);
    let logs = root.resource("logs", lg).unwrap();
    let mut c = DbCluster::new("morket-drift", "morket_admin");
    c.engine_version = Some("15.14".into());
    c.skip_final_snapshot = true;
    c.apply_immediately = true;
    let db = root.resource("db", c).unwrap();
    (
        st,
        D {
            vpc,
            spare,
            sg,
            logs,
            db,
        },
    )
}

/// The drift report, checking from the peer's side that reading it sent no
/// mutating request.
async fn drift(e: &Env) -> Report {
    e.moto.clear_requests();
    let r = e.eng.drift().await.unwrap();
    let seen = e.moto.requests();
    assert!(!seen.is_empty(), "drift read nothing");
    let mutating: Vec<_> = seen.iter().filter(|q| q.mutating).collect();
    assert!(
        mutating.is_empty(),
        "drift sent mutating requests: {mutating:?}"
    );
    r
}

fn fields(r: &Report, urn: &str) -> Vec<(String, serde_json::Value, serde_json::Value)> {
    r.modified
        .iter()
        .chain(&r.informational)
        .filter(|c| c.urn.as_str() == urn)
        .flat_map(|c| &c.fields)
        .map(|f| (f.path.clone(), f.recorded.clone(), f.live.clone()))
        .collect()
}

/// The SDK's out-of-band changes, with the AWS-like mode paused so that only
/// the engine meets it (the changes are the console's, not under test).
async fn change_outside(e: &Env, d: &D, bump: bool) -> String {
    e.moto.aws_like(json!({"on": []}));
    let sg = e.id(&d.sg);
    e.ec2
        .authorize_security_group_ingress()
        .group_id(&sg)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(22)
                .to_port(22)
                .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    e.ec2
        .create_tags()
        .resources(e.id(&d.vpc))
        .tags(Tag::builder().key("team").value("edge").build())
        .send()
        .await
        .unwrap();
    aws_sdk_cloudwatchlogs::Client::new(&e.conf)
        .put_retention_policy()
        .log_group_name("/morket/drift")
        .retention_in_days(7)
        .send()
        .await
        .unwrap();
    e.ec2
        .delete_subnet()
        .subnet_id(e.id(&d.spare))
        .send()
        .await
        .unwrap();
    let stray = e
        .ec2
        .create_security_group()
        .group_name("made-by-hand")
        .description("not in state")
        .vpc_id(e.id(&d.vpc))
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::SecurityGroup)
                .tags(Tag::builder().key("morket:stack").value(STACK).build())
                .build(),
        )
        .send()
        .await
        .unwrap()
        .group_id()
        .unwrap()
        .to_string();
    if bump {
        // AWS's automatic minor upgrade in the maintenance window.
        aws_sdk_rds::Client::new(&e.conf)
            .modify_db_cluster()
            .db_cluster_identifier("morket-drift")
            .engine_version("15.15")
            .apply_immediately(true)
            .send()
            .await
            .unwrap();
    }
    e.moto
        .aws_like(json!({"on": "all", "scale": super::support::aws::AWS_LIKE_SCALE}));
    stray
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_reports_each_change_refresh_records_it_and_up_puts_the_declaration_back() {
    let mut e = Env::aws_like(settings()).await;
    let (s, d) = drift_stack();
    e.up(&s).await;

    let clean = drift(&e).await;
    assert!(
        !clean.drifted
            && clean.modified.is_empty()
            && clean.deleted.is_empty()
            && clean.unmanaged.is_empty()
            && clean.informational.is_empty(),
        "{clean:#?}"
    );
    assert_eq!(clean.summary.resources, 7);

    let stray = change_outside(&e, &d, true).await;
    let r = drift(&e).await;
    assert!(r.drifted);
    let sg = fields(&r, d.sg.urn().as_str());
    assert_eq!(sg.len(), 1, "{sg:?}");
    assert_eq!(sg[0].0, "unmanaged_rules");
    assert_eq!(sg[0].1, serde_json::Value::Null);
    let added = sg[0].2[0].as_str().unwrap();
    assert!(added.ends_with(": ingress tcp 22-22 0.0.0.0/0"), "{added}");
    assert_eq!(
        fields(&r, d.vpc.urn().as_str()),
        vec![("tags.team".into(), json!("core"), json!("edge"))]
    );
    assert_eq!(
        fields(&r, d.logs.urn().as_str()),
        vec![("retention_in_days".into(), json!(30), json!(7))]
    );
    assert_eq!(r.deleted.len(), 1, "{:?}", r.deleted);
    assert_eq!(r.deleted[0].urn, *d.spare.urn());
    let unmanaged: Vec<&str> = r.unmanaged.iter().map(|u| u.arn.as_str()).collect();
    assert_eq!(unmanaged.len(), 1, "{unmanaged:?}");
    assert!(unmanaged[0].ends_with(&format!("security-group/{stray}")));
    // The upgrade is information, not a change to undo.
    assert!(r.modified.iter().all(|c| c.urn != *d.db.urn()), "{r:#?}");
    assert_eq!(r.informational.len(), 1, "{:?}", r.informational);
    assert_eq!(
        fields(&r, d.db.urn().as_str()),
        vec![(
            "engine_version_actual".into(),
            json!("15.14"),
            json!("15.15")
        )]
    );
    assert_eq!(
        (r.summary.modified, r.summary.deleted, r.summary.unmanaged),
        (3, 1, 1)
    );

    // refresh records what is live; drift then reports only the object
    // state does not know, until it is gone.
    let serial = e.st.serial().unwrap();
    let (_, refreshed, at) = e.eng.refresh_read().await.unwrap();
    assert_eq!(at, serial);
    assert_eq!(refreshed.len(), 5, "{refreshed:#?}");
    e.eng.refresh_write(at, &refreshed).await.unwrap();
    assert!(e.st.resource(d.spare.urn()).unwrap().is_none());
    let after = drift(&e).await;
    assert!(
        after.modified.is_empty() && after.deleted.is_empty() && after.informational.is_empty(),
        "{after:#?}"
    );
    assert_eq!(after.unmanaged.len(), 1);
    e.moto.aws_like(json!({"on": []}));
    e.ec2
        .delete_security_group()
        .group_id(&stray)
        .send()
        .await
        .unwrap();
    e.moto
        .aws_like(json!({"on": "all", "scale": super::support::aws::AWS_LIKE_SCALE}));
    assert!(!drift(&e).await.drifted);

    // The next plan puts the declaration back: the subnet again, the tag,
    // the retention, the stray rule revoked; the upgraded cluster stays.
    let plan = e.eng.preview(&s, &PlanOptions::default()).await.unwrap();
    assert_eq!(step(&plan, &d.spare).action, Action::Create);
    for r in [d.vpc.urn(), d.logs.urn(), d.sg.urn()] {
        let st = plan.steps.iter().find(|x| &x.urn == r).unwrap();
        assert_eq!(st.action, Action::Update, "{r}: {:?}", st.changed);
    }
    assert!(
        plan.steps
            .iter()
            .all(|x| x.urn != *d.db.urn() || x.action == Action::Same),
        "the upgraded cluster is not downgraded"
    );
    e.up(&s).await;
    assert!(!drift(&e).await.drifted);
    let sg_live = e.read(&d.sg).await.unwrap();
    assert!(sg_live.get("unmanaged_rules").is_none(), "{sg_live}");
    assert_eq!(e.read(&d.logs).await.unwrap()["retention_in_days"], 30);

    // `preview --refresh` reads without writing; `up --refresh` records and
    // puts back in one run.
    let stray = change_outside(&e, &d, false).await;
    let serial = e.st.serial().unwrap();
    let refresh = PlanOptions {
        refresh: true,
        ..Default::default()
    };
    let plan = e.eng.preview(&s, &refresh).await.unwrap();
    assert_eq!(
        e.st.serial().unwrap(),
        serial,
        "preview --refresh wrote state"
    );
    assert_eq!(plan.refreshed.len(), 4, "{:#?}", plan.refreshed);
    assert_eq!(step(&plan, &d.spare).action, Action::Create);
    assert_eq!(step(&plan, &d.vpc).action, Action::Update);
    let plain = e.eng.preview(&s, &PlanOptions::default()).await.unwrap();
    assert!(
        !plain.has_changes(),
        "plain preview reads nothing: {:?}",
        plain.steps
    );
    let (_, report) = e.eng.up(&s, &refresh, &e.cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    let last = drift(&e).await;
    assert_eq!(
        (
            last.modified.len(),
            last.deleted.len(),
            last.unmanaged.len()
        ),
        (0, 0, 1),
        "{last:#?}"
    );
    assert!(last.unmanaged[0].arn.ends_with(&stray));
    assert_eq!(e.read(&d.vpc).await.unwrap()["tags"]["team"], "core");
}

/// `import` adopts an object made outside morket-stack under its declared
/// URN, recorded as it is live, so the next plan shows how it differs from
/// the declaration; what cannot be adopted is refused, naming why, and
/// leaves state as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_adopts_an_existing_object_and_refuses_what_it_cannot() {
    let mut e = Env::aws_like(settings()).await;
    e.moto.aws_like(json!({"on": []}));
    let made = e
        .ec2
        .create_vpc()
        .cidr_block("10.41.0.0/16")
        .send()
        .await
        .unwrap()
        .vpc()
        .unwrap()
        .vpc_id()
        .unwrap()
        .to_string();
    let subnet = super::support::aws::create_subnet(&e.ec2, &made, "10.41.1.0/24", None).await;
    e.moto
        .aws_like(json!({"on": "all", "scale": super::support::aws::AWS_LIKE_SCALE}));
    let mut st = Stack::new(STACK).unwrap();
    let mut v = Vpc::new("10.41.0.0/16");
    v.tags.insert("team".into(), "core".into());
    let vpc = st.root().resource("vpc", v).unwrap();

    let err = |r: Result<_, morket_stack::engine::EngineError>| r.unwrap_err().to_string();
    let undeclared = morket_stack::model::Urn::parse("staging::::aws:ec2/Vpc::other").unwrap();
    let e1 = err(e.eng.import(&st, &undeclared, &made).await);
    assert!(e1.contains("not declared"), "{e1}");
    let e2 = err(e.eng.import(&st, vpc.urn(), "vpc-0000000000000dead").await);
    assert!(e2.contains("vpc-0000000000000dead"), "{e2}");
    // Another type's id is not a VPC.
    let e3 = err(e.eng.import(&st, vpc.urn(), &subnet).await);
    assert!(e3.contains(&subnet), "{e3}");
    assert!(e.st.resources().unwrap().is_empty());
    let serial = e.st.serial().unwrap();

    // Past the peer's consistency window for the VPC made above.
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let row = e.eng.import(&st, vpc.urn(), &made).await.unwrap();
    assert_eq!(row.id, made);
    assert_eq!(row.inputs["cidr_block"], "10.41.0.0/16");
    assert!(e.st.serial().unwrap() > serial);
    let e4 = err(e.eng.import(&st, vpc.urn(), &made).await);
    assert!(e4.contains("already in state"), "{e4}");

    // What differs from the declaration (its tag; DNS hostnames, off in a
    // VPC made by hand, on in ours) is an update, not a replacement.
    let plan = e.eng.preview(&st, &PlanOptions::default()).await.unwrap();
    let s = step(&plan, &vpc);
    assert_eq!(
        (s.action, s.changed.clone()),
        (
            Action::Update,
            vec!["enable_dns_hostnames".to_string(), "tags".to_string()]
        )
    );
    e.up(&st).await;
    let live = e.read(&vpc).await.unwrap();
    assert_eq!(live["tags"]["team"], "core");
    assert_eq!(live["enable_dns_hostnames"], true);
    assert!(!e.eng.drift().await.unwrap().drifted);
}
