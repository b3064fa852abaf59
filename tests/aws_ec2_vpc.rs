//! aws:ec2/Vpc through the engine against moto: create, update in place,
//! replace, out-of-band drift read, no-op preview, delete, adoption by tag.

mod support;

use std::sync::Arc;

use aws_sdk_ec2::types::{AttributeBooleanValue, Filter, VpcAttributeName};
use morket_stack::engine::Engine;
use morket_stack::exec::Cancel;
use morket_stack::model::{HasUrn, Resource, ResourceArgs, Stack};
use morket_stack::plan::{Action, PlanOptions};
use morket_stack::provider::aws::ec2::vpc::Vpc;
use morket_stack::provider::aws::{self, AwsSettings};
use morket_stack::provider::{Ctx, Registry};
use morket_stack::secrets::{self, Crypter};
use morket_stack::state::{MemoryStore, OpKind, PendingOp, StateStore};

const STACK: &str = "staging";

fn store() -> MemoryStore {
    let mut s = MemoryStore::new(STACK);
    s.set_crypter(Crypter::new(&secrets::random_key())).unwrap();
    s
}

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
        .filters(
            Filter::builder()
                .name("tag:morket:stack")
                .values(STACK)
                .build(),
        )
        .send()
        .await
        .unwrap()
        .vpcs()
        .to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vpc_lifecycle_against_moto() {
    let moto = support::moto::moto();
    let aws_conn = Arc::new(moto.aws(settings()).await);
    let ec2 = aws_sdk_ec2::Client::new(&moto.sdk_config().await);
    let mut reg = Registry::new();
    aws::register(&mut reg, aws_conn.clone());
    let st = store();
    let mut eng = Engine::new(Box::new(st.clone()), reg.clone());
    let cancel = Cancel::new();

    // Create, with every tag in the create call.
    let mut v = Vpc::new("10.0.0.0/16");
    v.tags.insert("Name".into(), "morket-staging".into());
    let (s1, r) = stack(v.clone());
    let (plan, report) = eng.up(&s1, &PlanOptions::default(), &cancel).await.unwrap();
    assert_eq!(plan.counts().create, 1);
    assert!(report.is_success(), "{report:?}");
    let rec = st.resource(r.urn()).unwrap().unwrap();
    let id = rec.id.clone();
    let live = our_vpcs(&ec2).await;
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].vpc_id(), Some(id.as_str()));
    assert_eq!(live[0].cidr_block(), Some("10.0.0.0/16"));
    let tags = aws::ec2::from_tags(live[0].tags());
    assert_eq!(tags["Name"], "morket-staging");
    assert_eq!(tags["Project"], "morket");
    assert_eq!(tags["morket:urn"], r.urn().as_str());
    assert!(dns_hostnames(&ec2, &id).await);
    assert!(rec.outputs["main_route_table_id"]
        .as_str()
        .is_some_and(|s| s.starts_with("rtb-")));

    // No-op preview.
    let p = eng.preview(&s1, &PlanOptions::default()).await.unwrap();
    assert!(!p.has_changes(), "{:?}", p.steps);

    // Update in place: DNS hostnames off, a tag changed.
    v.enable_dns_hostnames = false;
    v.tags.insert("Name".into(), "renamed".into());
    let (s2, _) = stack(v.clone());
    let (plan, report) = eng.up(&s2, &PlanOptions::default(), &cancel).await.unwrap();
    assert_eq!(plan.steps[0].action, Action::Update);
    assert_eq!(plan.steps[0].changed, vec!["enable_dns_hostnames", "tags"]);
    assert!(report.is_success(), "{report:?}");
    assert!(!dns_hostnames(&ec2, &id).await);
    assert_eq!(
        aws::ec2::from_tags(our_vpcs(&ec2).await[0].tags())["Name"],
        "renamed"
    );

    // Out-of-band change, then a read returns the live value.
    ec2.modify_vpc_attribute()
        .vpc_id(&id)
        .enable_dns_hostnames(AttributeBooleanValue::builder().value(true).build())
        .send()
        .await
        .unwrap();
    let provider = reg.get(Vpc::TYPE).unwrap();
    let ctx = Ctx {
        stack: STACK.into(),
        urn: r.urn().clone(),
    };
    let rec = st.resource(r.urn()).unwrap().unwrap();
    let read = provider
        .read(&ctx, &id, &rec.inputs, &rec.outputs)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.inputs["enable_dns_hostnames"], serde_json::json!(true));
    assert_eq!(read.inputs["tags"], serde_json::json!({"Name": "renamed"}));

    // Force-new field: replacement, create before delete.
    v.cidr_block = "10.1.0.0/16".into();
    let (s3, _) = stack(v.clone());
    let (plan, report) = eng.up(&s3, &PlanOptions::default(), &cancel).await.unwrap();
    assert_eq!(plan.steps[0].action, Action::Replace);
    assert_eq!(plan.steps[0].replace_fields, vec!["cidr_block"]);
    assert!(report.is_success(), "{report:?}");
    let live = our_vpcs(&ec2).await;
    assert_eq!(live.len(), 1, "old VPC deleted");
    assert_ne!(live[0].vpc_id(), Some(id.as_str()));
    assert_eq!(live[0].cidr_block(), Some("10.1.0.0/16"));
    let p = eng.preview(&s3, &PlanOptions::default()).await.unwrap();
    assert!(!p.has_changes());

    // Delete.
    let (_, report) = eng.destroy(&s3, &cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert!(our_vpcs(&ec2).await.is_empty());
    assert!(st.resources().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_vpc_create_is_adopted_by_its_urn_tag() {
    let moto = support::moto::moto();
    let aws_conn = Arc::new(moto.aws(settings()).await);
    let ec2 = aws_sdk_ec2::Client::new(&moto.sdk_config().await);
    let mut reg = Registry::new();
    aws::register(&mut reg, aws_conn);
    let mut st = store();
    let (s, r) = stack(Vpc::new("10.2.0.0/16"));
    let inputs = s.resources()[0].inputs.clone();
    // The process "died" after CreateVpc returned, before the checkpoint.
    st.begin_op(&PendingOp {
        id: 0,
        urn: r.urn().clone(),
        kind: OpKind::Create,
        type_name: Vpc::TYPE.into(),
        resource_id: String::new(),
        inputs: inputs.clone(),
        started_at: "2026-11-25T00:00:00Z".into(),
    })
    .unwrap();
    let ctx = Ctx {
        stack: STACK.into(),
        urn: r.urn().clone(),
    };
    let created = reg
        .get(Vpc::TYPE)
        .unwrap()
        .create(&ctx, &inputs)
        .await
        .unwrap();

    let mut eng = Engine::new(Box::new(st.clone()), reg);
    let (plan, report) = eng
        .up(&s, &PlanOptions::default(), &Cancel::new())
        .await
        .unwrap();
    assert!(report.is_success(), "{report:?}");
    assert_eq!(plan.counts().create, 0, "adopted, not created again");
    assert_eq!(st.resource(r.urn()).unwrap().unwrap().id, created.id);
    assert_eq!(our_vpcs(&ec2).await.len(), 1, "no duplicate VPC");
    assert!(st.pending().unwrap().is_empty());
}
