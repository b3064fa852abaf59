//! aws:ec2/Vpc through the engine against moto: create, update in place,
//! replace, out-of-band drift read, no-op preview, delete, adoption by tag.

mod support;

use aws_sdk_ec2::types::{AttributeBooleanValue, VpcAttributeName};
use morket_stack::engine::Engine;
use morket_stack::exec::Cancel;
use morket_stack::model::{HasUrn, Resource, ResourceArgs, Stack};
use morket_stack::plan::{Action, PlanOptions};
use morket_stack::provider::aws::ec2::vpc::Vpc;
use morket_stack::provider::aws::{self, AwsSettings};
use morket_stack::state::StateStore;
use support::aws::{ctx, stack_filter, tag_urn, Env, STACK};

fn stack(vpc: Vpc) -> (Stack, Resource<Vpc>) {
    let mut st = Stack::new(STACK).unwrap();
    let r = st.root().resource("main", vpc).unwrap();
    (st, r)
}

fn settings() -> AwsSettings {
    AwsSettings {
        default_tags: [
            ("Project".to_string(), "morket".to_string()),
            ("ManagedBy".to_string(), "morket-stack".to_string()),
        ]
        .into(),
        // moto is always consistent: a lookup that misses proves absence.
        lookup_lag: std::time::Duration::ZERO,
        time_scale: support::aws::TIME_SCALE,
        ..Default::default()
    }
}

async fn dns_hostnames(ec2: &aws_sdk_ec2::Client, id: &str) -> bool {
    ec2.describe_vpc_attribute()
        .vpc_id(id)
        .attribute(VpcAttributeName::EnableDnsHostnames)
        .send()
        .await
        .unwrap()
        .enable_dns_hostnames()
        .and_then(AttributeBooleanValue::value)
        .unwrap()
}

async fn our_vpcs(ec2: &aws_sdk_ec2::Client) -> Vec<aws_sdk_ec2::types::Vpc> {
    ec2.describe_vpcs()
        .filters(stack_filter())
        .send()
        .await
        .unwrap()
        .vpcs()
        .to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vpc_lifecycle_against_moto() {
    let mut e = Env::new(settings()).await;

    // Create, with every tag in the create call.
    let mut v = Vpc::new("10.0.0.0/16");
    v.tags.insert("Name".into(), "morket-staging".into());
    let (s1, r) = stack(v.clone());
    let plan = e.up(&s1).await;
    assert_eq!(plan.counts().create, 1);
    let rec = e.st.resource(r.urn()).unwrap().unwrap();
    let id = rec.id.clone();
    let live = our_vpcs(&e.ec2).await;
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].vpc_id(), Some(id.as_str()));
    assert_eq!(live[0].cidr_block(), Some("10.0.0.0/16"));
    let tags = aws::ec2::from_tags(live[0].tags());
    assert_eq!(tags["Name"], "morket-staging");
    assert_eq!(tags["Project"], "morket");
    assert_eq!(tag_urn(&tags["morket:urn"]), r.urn().as_str());
    assert!(dns_hostnames(&e.ec2, &id).await);
    assert!(rec.outputs["main_route_table_id"]
        .as_str()
        .is_some_and(|s| s.starts_with("rtb-")));

    // No-op preview.
    e.no_changes(&s1).await;

    // Update in place: DNS hostnames off, a tag changed.
    v.enable_dns_hostnames = false;
    v.tags.insert("Name".into(), "renamed".into());
    let (s2, _) = stack(v.clone());
    let plan = e.up(&s2).await;
    assert_eq!(plan.steps[0].action, Action::Update);
    assert_eq!(plan.steps[0].changed, vec!["enable_dns_hostnames", "tags"]);
    assert!(!dns_hostnames(&e.ec2, &id).await);
    assert_eq!(
        aws::ec2::from_tags(our_vpcs(&e.ec2).await[0].tags())["Name"],
        "renamed"
    );

    // Out-of-band change, then a read returns the live value.
    e.ec2
        .modify_vpc_attribute()
        .vpc_id(&id)
        .enable_dns_hostnames(AttributeBooleanValue::builder().value(true).build())
        .send()
        .await
        .unwrap();
    let provider = e.reg.get(Vpc::TYPE).unwrap();
    let rec = e.st.resource(r.urn()).unwrap().unwrap();
    let read = provider
        .read(&ctx(&r), &id, &rec.inputs, &rec.outputs)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.inputs["enable_dns_hostnames"], serde_json::json!(true));
    assert_eq!(read.inputs["tags"], serde_json::json!({"Name": "renamed"}));

    // Force-new field: replacement, create before delete.
    v.cidr_block = "10.1.0.0/16".into();
    let (s3, _) = stack(v.clone());
    let plan = e.up(&s3).await;
    assert_eq!(plan.steps[0].action, Action::Replace);
    assert_eq!(plan.steps[0].replace_fields, vec!["cidr_block"]);
    let live = our_vpcs(&e.ec2).await;
    assert_eq!(live.len(), 1, "old VPC deleted");
    assert_ne!(live[0].vpc_id(), Some(id.as_str()));
    assert_eq!(live[0].cidr_block(), Some("10.1.0.0/16"));
    let p = e.eng.preview(&s3, &PlanOptions::default()).await.unwrap();
    assert!(!p.has_changes());

    // Delete.
    let (_, report) = e.eng.destroy(&s3, &e.cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert!(our_vpcs(&e.ec2).await.is_empty());
    assert!(e.st.resources().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_vpc_create_is_adopted_by_its_urn_tag() {
    let mut e = Env::new(settings()).await;
    let (s, r) = stack(Vpc::new("10.2.0.0/16"));
    let inputs = s.resources()[0].inputs.clone();
    // The process "died" after CreateVpc returned, before the checkpoint.
    let created = e.interrupted_create(&r, &inputs).await;

    let mut eng = Engine::new(Box::new(e.st.clone()), e.reg);
    let (plan, report) = eng
        .up(&s, &PlanOptions::default(), &Cancel::new())
        .await
        .unwrap();
    assert!(report.is_success(), "{report:?}");
    assert_eq!(plan.counts().create, 0, "adopted, not created again");
    assert_eq!(e.st.resource(r.urn()).unwrap().unwrap().id, created.id);
    assert_eq!(our_vpcs(&e.ec2).await.len(), 1, "no duplicate VPC");
    assert!(e.st.pending().unwrap().is_empty());
}

/// `CreateVpc` succeeds and the following `ModifyVpcAttribute` answers
/// `InvalidVpcID.NotFound`, as EC2 does while a new VPC is not yet visible to
/// every endpoint: the call is retried within the new-object grace, and the
/// one `up` succeeds with one VPC.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vpc_not_yet_visible_to_modify_is_retried_in_the_same_up() {
    let mut e = Env::new(settings()).await;
    let (s, _r) = stack(Vpc::new("10.4.0.0/16"));
    e.moto
        .fail("ModifyVpcAttribute", "InvalidVpcID.NotFound", 400, 3);
    e.up_stable(&s).await;
    assert_eq!(e.moto.faults_fired()["faults"][0]["fired"], 3);
    let live = our_vpcs(&e.ec2).await;
    assert_eq!(live.len(), 1, "one VPC");
    assert!(dns_hostnames(&e.ec2, live[0].vpc_id().unwrap()).await);
}

/// `CreateVpc` succeeds and the following `ModifyVpcAttribute` is refused
/// for good. The VPC is recorded as it is live (hostnames off), so the next
/// `up` finishes it with an update: exactly one VPC, with the declared
/// attributes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vpc_whose_attribute_call_fails_is_recorded_and_finished() {
    let mut e = Env::new(settings()).await;
    let (s, r) = stack(Vpc::new("10.3.0.0/16"));
    e.moto
        .fail("ModifyVpcAttribute", "UnauthorizedOperation", 403, 1);
    let failed = e.up_failing(&s).await;
    assert!(failed.contains("UnauthorizedOperation"), "{failed}");
    assert_eq!(e.moto.faults_fired()["faults"][0]["fired"], 1);
    let live = our_vpcs(&e.ec2).await;
    assert_eq!(live.len(), 1);
    let id = live[0].vpc_id().unwrap().to_string();
    // Reported by the provider as a partial create of that VPC, not found
    // again by a lookup after the fact.
    assert!(
        failed.contains(&format!("(after creating {id})")),
        "{failed}"
    );
    let rec =
        e.st.resource(r.urn())
            .unwrap()
            .expect("the VPC is in state");
    assert_eq!(rec.id, id);
    assert!(!rec.tainted);
    assert_eq!(
        rec.inputs["enable_dns_hostnames"],
        serde_json::json!(false),
        "recorded as live, not as declared"
    );
    assert!(e.st.pending().unwrap().is_empty());
    assert!(!dns_hostnames(&e.ec2, &id).await);
    // The URN tag carries the state's lineage.
    let tags = aws::ec2::from_tags(live[0].tags());
    assert_eq!(
        tags["morket:urn"],
        format!("{}#{}", r.urn(), e.st.lineage().unwrap())
    );

    let plan = e.up_stable(&s).await;
    assert_eq!(plan.counts().create, 0);
    assert_eq!(plan.steps[0].action, Action::Update);
    assert_eq!(plan.steps[0].changed, vec!["enable_dns_hostnames"]);
    let live = our_vpcs(&e.ec2).await;
    assert_eq!(live.len(), 1, "no second VPC");
    assert_eq!(live[0].vpc_id(), Some(id.as_str()));
    assert!(dns_hostnames(&e.ec2, &id).await);
}

/// Against the AWS-like peer (new ids invisible for a while, throttling
/// bursts beyond the SDK's retries): one `up` makes one VPC with its
/// attributes, a no-change preview follows, and `destroy` removes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vpc_under_the_aws_like_peer_needs_one_run() {
    let mut e = Env::aws_like(settings()).await;
    let (s, r) = stack(Vpc::new("10.5.0.0/16"));
    e.up_stable(&s).await;
    let fired = e.aws_like_fired();
    assert!(
        fired.get("consistency").copied().unwrap_or(0) > 0,
        "the peer hid the new VPC at least once: {fired:?}"
    );
    let live = our_vpcs(&e.ec2).await;
    assert_eq!(live.len(), 1, "one VPC");
    assert_eq!(live[0].vpc_id(), Some(e.id(&r).as_str()));
    assert!(dns_hostnames(&e.ec2, &e.id(&r)).await);
    let (_, report) = e.eng.destroy(&s, &e.cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert!(our_vpcs(&e.ec2).await.is_empty());
}
