//! aws:ec2/{Subnet, InternetGateway, Eip, NatGateway} through the engine
//! against moto: create with tags, update in place, replace on every
//! force-new field, out-of-band drift read, no-op preview, destroy; and
//! validation errors from a preview before any API call. Then what real AWS
//! does that moto does not (ids not yet visible, lingering dependencies),
//! played with moto's fault switch, and the batched subnet read. `drift.rs`:
//! drift, refresh and `up --refresh` over a small stack.

#[path = "aws_ec2_network/drift.rs"]
mod drift;
mod support;

use aws_sdk_ec2::types::{AttributeBooleanValue, NatGatewayState, Tag};
use morket_stack::exec::ApplyReport;
use morket_stack::model::{HasUrn, Resource, ResourceArgs, ResourceOptions, Scope, Stack};
use morket_stack::plan::{Action, Plan, PlanOptions};
use morket_stack::provider::aws::ec2::eip::Eip;
use morket_stack::provider::aws::ec2::internet_gateway::InternetGateway;
use morket_stack::provider::aws::ec2::nat_gateway::NatGateway;
use morket_stack::provider::aws::ec2::subnet::Subnet;
use morket_stack::provider::aws::ec2::vpc::Vpc;
use morket_stack::provider::aws::{self, AwsSettings};
use morket_stack::provider::ReadItem;
use morket_stack::state::StateStore;
use serde_json::json;
use support::aws::{offline_engine, preview_error, settings, stack_filter, tag_urn, Env, STACK};

/// What varies between the runs of the lifecycle test.
#[derive(Clone)]
struct Cfg {
    map_public: bool,
    public_name: &'static str,
    alt_az: &'static str,
    alt_cidr: &'static str,
    alt_in_other: bool,
    /// None: detached; Some(false): main VPC; Some(true): other VPC.
    igw_in_other: Option<bool>,
    eip_env: &'static str,
    /// Which Elastic IP the NAT gateway uses: 0 eip, 1 eip2, 2 eip3.
    nat_eip: usize,
    nat_in_alt: bool,
    nat_private: bool,
    nat_name: &'static str,
}

impl Default for Cfg {
    fn default() -> Self {
        Cfg {
            map_public: false,
            public_name: "public-a",
            alt_az: "us-east-1a",
            alt_cidr: "10.0.2.0/24",
            alt_in_other: false,
            igw_in_other: Some(false),
            eip_env: "staging",
            nat_eip: 0,
            nat_in_alt: false,
            nat_private: false,
            nat_name: "nat-a",
        }
    }
}

struct H {
    main: Resource<Vpc>,
    other: Resource<Vpc>,
    public: Resource<Subnet>,
    alt: Resource<Subnet>,
    igw: Resource<InternetGateway>,
    eip: Resource<Eip>,
    eip2: Resource<Eip>,
    eip3: Resource<Eip>,
    nat: Resource<NatGateway>,
}

fn net(c: &Cfg) -> (Stack, H) {
    let mut st = Stack::new(STACK).unwrap();
    let mut root = st.root();
    let main = root.resource("main", Vpc::new("10.0.0.0/16")).unwrap();
    let other = root.resource("other", Vpc::new("10.1.0.0/16")).unwrap();

    let mut s = Subnet::new(main.id(), "10.0.1.0/24");
    s.availability_zone = Some("us-east-1a".into());
    s.map_public_ip_on_launch = c.map_public;
    s.tags.insert("Name".into(), c.public_name.into());
    let public = root.resource("public", s).unwrap();

    let mut s = Subnet::new(
        if c.alt_in_other {
            other.id()
        } else {
            main.id()
        },
        c.alt_cidr,
    );
    s.availability_zone = Some(c.alt_az.into());
    // A replacement that keeps the CIDR conflicts with the old subnet (in AWS
    // and moto alike): delete first.
    let alt = root
        .resource_with("alt", s, ResourceOptions::new().delete_before_replace(true))
        .unwrap();

    let mut g = match c.igw_in_other {
        None => InternetGateway::new(),
        Some(false) => InternetGateway::attached_to(main.id()),
        Some(true) => InternetGateway::attached_to(other.id()),
    };
    g.tags.insert("Name".into(), "igw".into());
    let igw = root.resource("igw", g).unwrap();

    let mut e = Eip::new();
    e.tags.insert("Env".into(), c.eip_env.into());
    let eip = root.resource("eip", e).unwrap();
    let eip2 = root.resource("eip2", Eip::new()).unwrap();
    let eip3 = root.resource("eip3", Eip::new()).unwrap();

    let subnet = if c.nat_in_alt { alt.id() } else { public.id() };
    let mut n = if c.nat_private {
        NatGateway::private(subnet)
    } else {
        let a = [&eip, &eip2, &eip3][c.nat_eip].allocation_id();
        NatGateway::new(a, subnet)
    };
    n.tags.insert("Name".into(), c.nat_name.into());
    // In AWS an Elastic IP serves one NAT gateway at a time, so a replacement
    // that keeps the address must delete the old gateway first.
    let nat = root
        .resource_with("nat", n, ResourceOptions::new().delete_before_replace(true))
        .unwrap();
    (
        st,
        H {
            main,
            other,
            public,
            alt,
            igw,
            eip,
            eip2,
            eip3,
            nat,
        },
    )
}

fn step<A>(plan: &Plan, r: &Resource<A>) -> (Action, Vec<String>, Vec<String>) {
    let s = support::aws::step(plan, r);
    (s.action, s.changed.clone(), s.replace_fields.clone())
}

fn urn_of(tags: &[Tag]) -> String {
    aws::ec2::from_tags(tags)
        .get("morket:urn")
        .map(|v| tag_urn(v).to_string())
        .unwrap_or_default()
}

async fn subnets(ec2: &aws_sdk_ec2::Client) -> Vec<aws_sdk_ec2::types::Subnet> {
    ec2.describe_subnets()
        .filters(stack_filter())
        .send()
        .await
        .unwrap()
        .subnets()
        .to_vec()
}

async fn subnets_of<A>(
    ec2: &aws_sdk_ec2::Client,
    r: &Resource<A>,
) -> Vec<aws_sdk_ec2::types::Subnet> {
    subnets(ec2)
        .await
        .into_iter()
        .filter(|s| urn_of(s.tags()) == r.urn().as_str())
        .collect()
}

async fn igws(ec2: &aws_sdk_ec2::Client) -> Vec<aws_sdk_ec2::types::InternetGateway> {
    ec2.describe_internet_gateways()
        .filters(stack_filter())
        .send()
        .await
        .unwrap()
        .internet_gateways()
        .to_vec()
}

async fn eips(ec2: &aws_sdk_ec2::Client) -> Vec<aws_sdk_ec2::types::Address> {
    ec2.describe_addresses()
        .filters(stack_filter())
        .send()
        .await
        .unwrap()
        .addresses()
        .to_vec()
}

/// NAT gateways of the stack that are not deleted (moto, like AWS, keeps
/// listing deleted ones for a while).
async fn nats(ec2: &aws_sdk_ec2::Client) -> Vec<aws_sdk_ec2::types::NatGateway> {
    ec2.describe_nat_gateways()
        .filter(stack_filter())
        .send()
        .await
        .unwrap()
        .nat_gateways()
        .iter()
        .filter(|n| {
            !matches!(
                n.state(),
                Some(NatGatewayState::Deleted | NatGatewayState::Deleting)
            )
        })
        .cloned()
        .collect()
}

/// The look-ups of the lifecycle test on top of the shared set-up.
trait World {
    /// Applies the network of `c`; a second preview shows no changes.
    async fn apply(&mut self, c: &Cfg) -> (Plan, H);
    /// An output of `r` in state.
    fn out<A>(&self, r: &Resource<A>, attr: &str) -> serde_json::Value;
}

impl World for Env {
    async fn apply(&mut self, c: &Cfg) -> (Plan, H) {
        let (s, h) = net(c);
        (self.up_stable(&s).await, h)
    }

    fn out<A>(&self, r: &Resource<A>, attr: &str) -> serde_json::Value {
        self.outputs(r)[attr].clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_lifecycle_against_moto() {
    let mut w = Env::new(settings()).await;
    let ec2 = w.ec2.clone();

    // ---- Create.
    let mut c = Cfg::default();
    let (plan, h) = w.apply(&c).await;
    assert_eq!(plan.counts().create, 9);
    let (main_id, other_id) = (w.id(&h.main), w.id(&h.other));

    let public = subnets_of(&ec2, &h.public).await;
    assert_eq!(public.len(), 1);
    let p = &public[0];
    assert_eq!(p.subnet_id(), Some(w.id(&h.public).as_str()));
    assert_eq!(p.vpc_id(), Some(main_id.as_str()));
    assert_eq!(p.cidr_block(), Some("10.0.1.0/24"));
    assert_eq!(p.availability_zone(), Some("us-east-1a"));
    assert_eq!(p.map_public_ip_on_launch(), Some(false));
    let t = aws::ec2::from_tags(p.tags());
    assert_eq!(t["Name"], "public-a");
    assert_eq!(t["Project"], "morket");
    assert_eq!(tag_urn(&t["morket:urn"]), h.public.urn().as_str());
    assert_eq!(w.out(&h.public, "availability_zone"), json!("us-east-1a"));
    assert_eq!(w.out(&h.public, "vpc_id"), json!(main_id));

    let g = igws(&ec2).await;
    assert_eq!(g.len(), 1);
    assert_eq!(g[0].internet_gateway_id(), Some(w.id(&h.igw).as_str()));
    assert_eq!(g[0].attachments().len(), 1);
    assert_eq!(g[0].attachments()[0].vpc_id(), Some(main_id.as_str()));
    let t = aws::ec2::from_tags(g[0].tags());
    assert_eq!(
        (
            t["Name"].as_str(),
            t["Project"].as_str(),
            tag_urn(&t["morket:urn"])
        ),
        ("igw", "morket", h.igw.urn().as_str())
    );

    let a = eips(&ec2).await;
    assert_eq!(a.len(), 3);
    let e1 = a
        .iter()
        .find(|a| urn_of(a.tags()) == h.eip.urn().as_str())
        .unwrap();
    assert_eq!(e1.allocation_id(), Some(w.id(&h.eip).as_str()));
    assert_eq!(e1.domain().map(|d| d.as_str()), Some("vpc"));
    assert_eq!(w.out(&h.eip, "public_ip"), json!(e1.public_ip().unwrap()));
    assert_eq!(w.out(&h.eip, "allocation_id"), json!(w.id(&h.eip)));
    let t = aws::ec2::from_tags(e1.tags());
    assert_eq!(
        (t["Env"].as_str(), t["Project"].as_str()),
        ("staging", "morket")
    );

    let n = nats(&ec2).await;
    assert_eq!(n.len(), 1);
    let nat_id = w.id(&h.nat);
    assert_eq!(n[0].nat_gateway_id(), Some(nat_id.as_str()));
    assert_eq!(n[0].state(), Some(&NatGatewayState::Available));
    assert_eq!(n[0].subnet_id(), Some(w.id(&h.public).as_str()));
    assert_eq!(
        n[0].nat_gateway_addresses()[0].allocation_id(),
        Some(w.id(&h.eip).as_str())
    );
    let t = aws::ec2::from_tags(n[0].tags());
    assert_eq!(
        (
            t["Name"].as_str(),
            t["Project"].as_str(),
            tag_urn(&t["morket:urn"])
        ),
        ("nat-a", "morket", h.nat.urn().as_str())
    );
    assert_eq!(w.out(&h.nat, "public_ip"), w.out(&h.eip, "public_ip"));
    assert_eq!(w.out(&h.nat, "vpc_id"), json!(main_id));

    // ---- Update in place: subnet attribute and tags, IGW moved to the other
    // VPC, EIP and NAT tags.
    let igw_id = w.id(&h.igw);
    let eip_id = w.id(&h.eip);
    c.map_public = true;
    c.public_name = "public-b";
    c.igw_in_other = Some(true);
    c.eip_env = "prod";
    c.nat_name = "nat-b";
    let (plan, h) = w.apply(&c).await;
    assert_eq!(
        step(&plan, &h.public),
        (
            Action::Update,
            vec!["map_public_ip_on_launch".into(), "tags".into()],
            vec![]
        )
    );
    assert_eq!(step(&plan, &h.igw).0, Action::Update);
    assert_eq!(step(&plan, &h.eip).0, Action::Update);
    assert_eq!(step(&plan, &h.nat).0, Action::Update);
    assert!(plan
        .steps
        .iter()
        .all(|s| &s.urn != h.alt.urn() || s.action == Action::Same));
    let p = &subnets_of(&ec2, &h.public).await[0];
    assert_eq!(p.map_public_ip_on_launch(), Some(true));
    assert_eq!(aws::ec2::from_tags(p.tags())["Name"], "public-b");
    let g = igws(&ec2).await;
    assert_eq!(g[0].internet_gateway_id(), Some(igw_id.as_str()));
    let attached: Vec<_> = g[0].attachments().iter().map(|a| a.vpc_id()).collect();
    assert_eq!(attached, vec![Some(other_id.as_str())]);
    let a = eips(&ec2).await;
    let e1 = a
        .iter()
        .find(|a| a.allocation_id() == Some(&eip_id))
        .unwrap();
    assert_eq!(aws::ec2::from_tags(e1.tags())["Env"], "prod");
    let n = nats(&ec2).await;
    assert_eq!(n.len(), 1);
    assert_eq!(n[0].nat_gateway_id(), Some(nat_id.as_str()), "not replaced");
    assert_eq!(aws::ec2::from_tags(n[0].tags())["Name"], "nat-b");

    // Detaching the IGW in place.
    c.igw_in_other = None;
    let (plan, h) = w.apply(&c).await;
    assert_eq!(step(&plan, &h.igw).0, Action::Update);
    assert!(igws(&ec2).await[0].attachments().is_empty());
    c.igw_in_other = Some(false);
    let (_, h) = w.apply(&c).await;
    assert_eq!(
        igws(&ec2).await[0].attachments()[0].vpc_id(),
        Some(main_id.as_str())
    );

    // ---- Replacements, one force-new field at a time.
    // Subnet availability_zone.
    let old_alt = w.id(&h.alt);
    c.alt_az = "us-east-1b";
    let (plan, h) = w.apply(&c).await;
    assert_eq!(
        step(&plan, &h.alt),
        (
            Action::Replace,
            vec!["availability_zone".into()],
            vec!["availability_zone".into()]
        )
    );
    let alt = subnets_of(&ec2, &h.alt).await;
    assert_eq!(alt.len(), 1, "old subnet deleted");
    assert_ne!(alt[0].subnet_id(), Some(old_alt.as_str()));
    assert_eq!(alt[0].availability_zone(), Some("us-east-1b"));
    // Subnet cidr_block.
    let old_alt = w.id(&h.alt);
    c.alt_cidr = "10.0.4.0/24";
    let (plan, h) = w.apply(&c).await;
    assert_eq!(step(&plan, &h.alt).2, vec!["cidr_block".to_string()]);
    let alt = subnets_of(&ec2, &h.alt).await;
    assert_eq!(alt.len(), 1);
    assert_ne!(alt[0].subnet_id(), Some(old_alt.as_str()));
    assert_eq!(alt[0].cidr_block(), Some("10.0.4.0/24"));
    // Subnet vpc_id (the CIDR must move into the other VPC too).
    let old_alt = w.id(&h.alt);
    c.alt_in_other = true;
    c.alt_cidr = "10.1.4.0/24";
    let (plan, h) = w.apply(&c).await;
    assert_eq!(step(&plan, &h.alt).0, Action::Replace);
    assert!(step(&plan, &h.alt).2.contains(&"vpc_id".to_string()));
    let alt = subnets_of(&ec2, &h.alt).await;
    assert_eq!(alt.len(), 1);
    assert_ne!(alt[0].subnet_id(), Some(old_alt.as_str()));
    assert_eq!(alt[0].vpc_id(), Some(other_id.as_str()));
    c.alt_in_other = false;
    c.alt_cidr = "10.0.4.0/24";
    let (_, h) = w.apply(&c).await;

    // NAT allocation_id.
    let old_nat = w.id(&h.nat);
    c.nat_eip = 1;
    let (plan, h) = w.apply(&c).await;
    assert_eq!(
        step(&plan, &h.nat),
        (
            Action::Replace,
            vec!["allocation_id".into()],
            vec!["allocation_id".into()]
        )
    );
    let n = nats(&ec2).await;
    assert_eq!(n.len(), 1, "old NAT gateway deleted");
    assert_ne!(n[0].nat_gateway_id(), Some(old_nat.as_str()));
    assert_eq!(
        n[0].nat_gateway_addresses()[0].allocation_id(),
        Some(w.id(&h.eip2).as_str())
    );
    // NAT subnet_id. moto gap: DeleteNatGateway leaves the Elastic IP
    // associated (AWS disassociates it), so the new gateway takes a fresh one.
    let old_nat = w.id(&h.nat);
    c.nat_in_alt = true;
    c.nat_eip = 2;
    let (plan, h) = w.apply(&c).await;
    assert_eq!(step(&plan, &h.nat).0, Action::Replace);
    assert!(step(&plan, &h.nat).2.contains(&"subnet_id".to_string()));
    let n = nats(&ec2).await;
    assert_eq!(n.len(), 1);
    assert_ne!(n[0].nat_gateway_id(), Some(old_nat.as_str()));
    assert_eq!(n[0].subnet_id(), Some(w.id(&h.alt).as_str()));
    assert_eq!(
        n[0].nat_gateway_addresses()[0].allocation_id(),
        Some(w.id(&h.eip3).as_str())
    );
    // NAT connectivity_type (private: no Elastic IP).
    let old_nat = w.id(&h.nat);
    c.nat_private = true;
    let (plan, h) = w.apply(&c).await;
    assert_eq!(step(&plan, &h.nat).0, Action::Replace);
    assert!(step(&plan, &h.nat)
        .2
        .contains(&"connectivity_type".to_string()));
    let n = nats(&ec2).await;
    assert_eq!(n.len(), 1);
    assert_ne!(n[0].nat_gateway_id(), Some(old_nat.as_str()));
    assert_eq!(
        n[0].connectivity_type().map(|c| c.as_str()),
        Some("private")
    );

    // ---- Out-of-band changes; read returns the live values.
    let public_id = w.id(&h.public);
    ec2.modify_subnet_attribute()
        .subnet_id(&public_id)
        .map_public_ip_on_launch(AttributeBooleanValue::builder().value(false).build())
        .send()
        .await
        .unwrap();
    let r = w.read(&h.public).await.expect("still exists");
    assert_eq!(r["map_public_ip_on_launch"], json!(false));
    assert_eq!(r["vpc_id"], json!(main_id));
    assert_eq!(r["availability_zone"], json!("us-east-1a"));
    assert_eq!(r["tags"], json!({"Name": "public-b"}));

    ec2.detach_internet_gateway()
        .internet_gateway_id(&igw_id)
        .vpc_id(&main_id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        w.read(&h.igw).await.expect("still exists"),
        json!({"vpc_id": null, "tags": {"Name": "igw"}})
    );

    ec2.create_tags()
        .resources(&eip_id)
        .tags(Tag::builder().key("Owner").value("ops").build())
        .send()
        .await
        .unwrap();
    assert_eq!(
        w.read(&h.eip).await.expect("still exists"),
        json!({"domain": "vpc", "tags": {"Env": "prod", "Owner": "ops"}})
    );

    let nat_id = w.id(&h.nat);
    ec2.create_tags()
        .resources(&nat_id)
        .tags(Tag::builder().key("Name").value("hand-edited").build())
        .send()
        .await
        .unwrap();
    let r = w.read(&h.nat).await.expect("still exists");
    assert_eq!(r["tags"], json!({"Name": "hand-edited"}));
    assert_eq!(r["connectivity_type"], json!("private"));
    assert_eq!(r["subnet_id"], json!(w.id(&h.alt)));

    // ---- Adoption lookup: each URN tag finds exactly the live resource
    // (the three deleted NAT gateways, still listed, carry the same URN).
    assert_eq!(w.find(&h.public).await, vec![w.id(&h.public)]);
    assert_eq!(w.find(&h.alt).await, vec![w.id(&h.alt)]);
    assert_eq!(w.find(&h.igw).await, vec![w.id(&h.igw)]);
    assert_eq!(w.find(&h.eip2).await, vec![w.id(&h.eip2)]);
    assert_eq!(w.find(&h.nat).await, vec![w.id(&h.nat)]);

    // ---- Destroy: the IGW is detached first, the NAT waited for.
    let (s, _) = net(&c);
    let (_, report) = w.eng.destroy(&s, &w.cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert!(subnets(&ec2).await.is_empty());
    assert!(igws(&ec2).await.is_empty());
    assert!(eips(&ec2).await.is_empty());
    assert!(nats(&ec2).await.is_empty());
    assert!(w.st.resources().unwrap().is_empty());
}

/// A preview with bad inputs fails on validation, naming field and value. The
/// AWS connection has no endpoint or credentials: any API call would fail
/// differently.
#[tokio::test]
async fn invalid_inputs_fail_the_preview() {
    let mut eng = offline_engine(AwsSettings::default());
    let cases: Vec<(String, &str, &str)> = vec![
        (
            preview_error(&mut eng, Subnet::new("vpc-0abc", "10.0.1.1/24")).await,
            "cidr_block",
            "10.0.1.1/24",
        ),
        (
            preview_error(&mut eng, Subnet::new("vpc-0abc", "10.0.0.0/29")).await,
            "cidr_block",
            "10.0.0.0/29",
        ),
        (
            preview_error(&mut eng, Subnet::new("subnet-0abc", "10.0.1.0/24")).await,
            "vpc_id",
            "subnet-0abc",
        ),
        (
            preview_error(&mut eng, {
                let mut s = Subnet::new("vpc-0abc", "10.0.1.0/24");
                s.availability_zone = Some("US-EAST-1A".into());
                s
            })
            .await,
            "availability_zone",
            "US-EAST-1A",
        ),
        (
            preview_error(&mut eng, InternetGateway::attached_to("igw-0abc")).await,
            "vpc_id",
            "igw-0abc",
        ),
        (
            preview_error(&mut eng, {
                let mut e = Eip::new();
                e.domain = "standard".into();
                e
            })
            .await,
            "domain",
            "standard",
        ),
        (
            preview_error(&mut eng, {
                let mut e = Eip::new();
                e.tags.insert("aws:owner".into(), "x".into());
                e
            })
            .await,
            "tags",
            "aws:owner",
        ),
        (
            preview_error(&mut eng, {
                let mut n = NatGateway::new("eipalloc-0abc", "subnet-0abc");
                n.connectivity_type = "pubic".into();
                n
            })
            .await,
            "connectivity_type",
            "pubic",
        ),
        (
            preview_error(&mut eng, NatGateway::new("eipalloc-0abc", "vpc-0abc")).await,
            "subnet_id",
            "vpc-0abc",
        ),
        (
            preview_error(&mut eng, NatGateway::new("0abc", "subnet-0abc")).await,
            "allocation_id",
            "0abc",
        ),
        (
            preview_error(&mut eng, {
                let mut n = NatGateway::private("subnet-0abc");
                n.connectivity_type = "public".into();
                n
            })
            .await,
            "allocation_id",
            "null",
        ),
        (
            preview_error(&mut eng, {
                let mut n = NatGateway::new("eipalloc-0abc", "subnet-0abc");
                n.connectivity_type = "private".into();
                n
            })
            .await,
            "allocation_id",
            "eipalloc-0abc",
        ),
    ];
    for (msg, field, value) in cases {
        assert!(
            msg.contains(field) && msg.contains(value),
            "{msg:?} should name {field} and {value}"
        );
    }
}

// ---- What real AWS does that moto does not, played with the fault switch:
// each test arms a fault, runs ONE `up` or `destroy`, and checks the fault
// fired, the run succeeded, and nothing was made twice.

/// Arms a fault with the fields [`support::moto::Moto::fail`] does not take
/// (`message`, `after`); see `scripts/moto_server.py`.
fn arm(e: &Env, fault: serde_json::Value) {
    use std::io::{Read, Write};
    let host = e.moto.url.trim_start_matches("http://");
    let body = fault.to_string();
    let mut s = std::net::TcpStream::connect(host).unwrap();
    write!(
        s,
        "POST /morket-api/faults HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.split_whitespace().nth(1) == Some("200"), "{answer}");
}

/// `fired` and `seen` of the `i`th armed fault.
fn fault(e: &Env, i: usize) -> (u64, u64) {
    let f = &e.moto.faults_fired()["faults"][i];
    (f["fired"].as_u64().unwrap(), f["seen"].as_u64().unwrap())
}

/// A VPC and, per `f`, what else the test declares in it.
fn in_vpc<T>(f: impl FnOnce(&mut Scope, &Resource<Vpc>) -> T) -> (Stack, T) {
    let mut st = Stack::new(STACK).unwrap();
    let mut root = st.root();
    let vpc = root.resource("main", Vpc::new("10.0.0.0/16")).unwrap();
    let t = f(&mut root, &vpc);
    (st, t)
}

/// Applies `s` (then a preview shows no changes); returns the engine
/// attempts of each op.
async fn up(e: &mut Env, s: &Stack) -> Vec<(String, u32)> {
    let (_, report) = e
        .eng
        .up(s, &PlanOptions::default(), &e.cancel)
        .await
        .unwrap();
    assert!(report.is_success(), "{report:?}");
    e.no_changes(s).await;
    attempts(&report)
}

/// Destroys `s`; returns the engine attempts of each op.
async fn destroy(e: &mut Env, s: &Stack) -> Vec<(String, u32)> {
    let (_, report) = e.eng.destroy(s, &e.cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert!(e.st.resources().unwrap().is_empty());
    attempts(&report)
}

fn attempts(report: &ApplyReport) -> Vec<(String, u32)> {
    report
        .ops
        .iter()
        .map(|o| (o.urn.name().to_string(), o.attempts))
        .collect()
}

/// Every op succeeded at its first engine attempt: the provider's own retry
/// absorbed the fault, not the engine's generic one.
fn first_attempts(ops: &[(String, u32)]) {
    assert!(ops.iter().all(|(_, n)| *n == 1), "{ops:?}");
}

/// `CreateSubnet` succeeds and `ModifySubnetAttribute` (map public IPs)
/// answers `InvalidSubnetID.NotFound` while the new id is not yet visible:
/// retried within the new-object grace, one subnet, the attribute set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subnet_not_yet_visible_to_modify_is_retried_in_the_same_up() {
    let mut e = Env::new(settings()).await;
    let (s, subnet) = in_vpc(|root, vpc| {
        let mut sub = Subnet::new(vpc.id(), "10.0.1.0/24");
        sub.map_public_ip_on_launch = true;
        root.resource("public", sub).unwrap()
    });
    e.moto
        .fail("ModifySubnetAttribute", "InvalidSubnetID.NotFound", 400, 3);
    first_attempts(&up(&mut e, &s).await);
    assert_eq!(fault(&e, 0), (3, 4), "three refusals, then the call");
    let live = subnets(&e.ec2).await;
    assert_eq!(live.len(), 1, "one subnet");
    assert_eq!(live[0].subnet_id(), Some(e.id(&subnet).as_str()));
    assert_eq!(live[0].map_public_ip_on_launch(), Some(true));
}

/// `DeleteSubnet` answers `DependencyViolation` while the network interfaces
/// of deleted data stores linger: retried until it clears, in one destroy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subnet_delete_waits_out_dependency_violation() {
    let mut e = Env::new(settings()).await;
    let (s, _) = in_vpc(|root, vpc| {
        root.resource("private", Subnet::new(vpc.id(), "10.0.2.0/24"))
            .unwrap()
    });
    e.up(&s).await;
    e.moto.fail("DeleteSubnet", "DependencyViolation", 400, 4);
    first_attempts(&destroy(&mut e, &s).await);
    assert_eq!(fault(&e, 0), (4, 5));
    assert!(subnets(&e.ec2).await.is_empty());
}

/// `Provider::read_many` reads many subnets with one `DescribeSubnets` (a
/// `subnet-id` filter): each as a single read would, and `None` for a
/// deleted id instead of failing the call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subnets_are_read_many_at_once() {
    let mut e = Env::new(settings()).await;
    let (s, (a, b, vpc)) = in_vpc(|root, vpc| {
        let mut sa = Subnet::new(vpc.id(), "10.0.1.0/24");
        sa.availability_zone = Some("us-east-1b".into());
        sa.tags.insert("Name".into(), "a".into());
        let a = root.resource("a", sa).unwrap();
        let b = root
            .resource("b", Subnet::new(vpc.id(), "10.0.2.0/24"))
            .unwrap();
        (a, b, vpc.clone())
    });
    e.up(&s).await;
    let gone = support::aws::create_subnet(&e.ec2, &e.id(&vpc), "10.0.3.0/24", None).await;
    e.ec2.delete_subnet().subnet_id(&gone).send().await.unwrap();

    let rec = |r: &Resource<Subnet>| e.st.resource(r.urn()).unwrap().unwrap();
    let item = |r: &Resource<Subnet>, id: &str| ReadItem {
        ctx: support::aws::ctx(r),
        id: id.to_string(),
        inputs: rec(r).inputs,
        outputs: rec(r).outputs,
    };
    let items = [item(&a, &e.id(&a)), item(&b, &e.id(&b)), item(&b, &gone)];
    // Never fires: counts the DescribeSubnets calls.
    arm(
        &e,
        json!({"action": "DescribeSubnets", "code": "Unused", "after": 1_000_000}),
    );
    let read = e
        .reg
        .get(Subnet::TYPE)
        .unwrap()
        .read_many(&items)
        .await
        .unwrap();
    assert_eq!(fault(&e, 0).1, 1, "one DescribeSubnets for three ids");
    assert_eq!(read.len(), 3);
    for (r, got) in [&a, &b].into_iter().zip(&read) {
        let got = got.as_ref().expect("exists");
        assert_eq!(got.inputs, rec(r).inputs, "no drift");
        assert_eq!(got.outputs, rec(r).outputs);
    }
    assert_eq!(
        read[1].as_ref().unwrap().inputs["availability_zone"],
        json!(null)
    );
    assert_eq!(
        read[0].as_ref().unwrap().outputs["availability_zone"],
        json!("us-east-1b")
    );
    assert!(read[2].is_none(), "deleted id");
}

/// Volumes too: one `DescribeVolumes` (a `volume-id` filter) for many ids,
/// each as a single read would, `None` for one that is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volumes_are_read_many_at_once() {
    use morket_stack::provider::aws::ec2::volume::Volume;
    let mut e = Env::new(settings()).await;
    let mut s = Stack::new(STACK).unwrap();
    let mut root = s.root();
    let a = root.resource("a", Volume::new("us-east-1a", 10)).unwrap();
    let mut vb = Volume::new("us-east-1b", 20);
    vb.tags.insert("Name".into(), "b".into());
    let b = root.resource("b", vb).unwrap();
    e.up(&s).await;
    let gone = e
        .ec2
        .create_volume()
        .availability_zone("us-east-1a")
        .size(1)
        .send()
        .await
        .unwrap()
        .volume_id()
        .unwrap()
        .to_string();
    e.ec2.delete_volume().volume_id(&gone).send().await.unwrap();

    let rec = |r: &Resource<Volume>| e.st.resource(r.urn()).unwrap().unwrap();
    let item = |r: &Resource<Volume>, id: &str| ReadItem {
        ctx: support::aws::ctx(r),
        id: id.to_string(),
        inputs: rec(r).inputs,
        outputs: rec(r).outputs,
    };
    let items = [item(&a, &e.id(&a)), item(&b, &e.id(&b)), item(&b, &gone)];
    // Never fires: counts the DescribeVolumes calls.
    arm(
        &e,
        json!({"action": "DescribeVolumes", "code": "Unused", "after": 1_000_000}),
    );
    let read = e
        .reg
        .get(Volume::TYPE)
        .unwrap()
        .read_many(&items)
        .await
        .unwrap();
    assert_eq!(fault(&e, 0).1, 1, "one DescribeVolumes for three ids");
    for (r, got) in [&a, &b].into_iter().zip(&read) {
        let got = got.as_ref().expect("exists");
        assert_eq!(got.inputs, rec(r).inputs, "no drift");
        assert_eq!(got.outputs, rec(r).outputs);
    }
    assert!(read[2].is_none(), "deleted id");
}

/// Internet and NAT gateways and security groups: one describe per type for
/// many ids, each as its single read, `None` for an id that does not exist.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateways_and_groups_are_read_many_at_once() {
    use morket_stack::provider::aws::ec2::security_group::SecurityGroup;
    let mut e = Env::new(settings()).await;
    let (s, (igw, nat, sg)) = in_vpc(|root, vpc| {
        let igw = root
            .resource("igw", InternetGateway::attached_to(vpc.id()))
            .unwrap();
        let subnet = root
            .resource("public", Subnet::new(vpc.id(), "10.0.1.0/24"))
            .unwrap();
        let eip = root.resource("eip", Eip::new()).unwrap();
        let nat = root
            .resource("nat", NatGateway::new(eip.allocation_id(), subnet.id()))
            .unwrap();
        let sg = root
            .resource("sg", SecurityGroup::new("many", vpc.id()))
            .unwrap();
        (igw, nat, sg)
    });
    e.up(&s).await;
    let checks: [(&str, &str, morket_stack::model::Urn, &str); 3] = [
        (
            InternetGateway::TYPE,
            "DescribeInternetGateways",
            igw.urn().clone(),
            "igw-0123456789abcdef0",
        ),
        (
            NatGateway::TYPE,
            "DescribeNatGateways",
            nat.urn().clone(),
            "nat-0123456789abcdef0",
        ),
        (
            SecurityGroup::TYPE,
            "DescribeSecurityGroups",
            sg.urn().clone(),
            "sg-0123456789abcdef0",
        ),
    ];
    for (i, (type_name, op, urn, absent)) in checks.into_iter().enumerate() {
        let rec = e.st.resource(&urn).unwrap().unwrap();
        let item = |id: &str| ReadItem {
            ctx: support::aws::ctx(&urn),
            id: id.to_string(),
            inputs: rec.inputs.clone(),
            outputs: rec.outputs.clone(),
        };
        // Never fires: counts the describe calls.
        arm(
            &e,
            json!({"action": op, "code": "Unused", "after": 1_000_000}),
        );
        let read = e
            .reg
            .get(type_name)
            .unwrap()
            .read_many(&[item(&rec.id), item(absent)])
            .await
            .unwrap();
        assert_eq!(fault(&e, i).1, 1, "one {op} for two ids");
        let got = read[0].as_ref().expect("exists");
        assert_eq!(
            (&got.inputs, &got.outputs),
            (&rec.inputs, &rec.outputs),
            "{type_name}: no drift"
        );
        assert!(read[1].is_none(), "{type_name}: {absent} does not exist");
    }
}

/// `CreateInternetGateway` succeeds and the attach answers
/// `InvalidInternetGatewayID.NotFound`: retried, one gateway, attached.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn igw_not_yet_visible_to_attach_is_retried_in_the_same_up() {
    let mut e = Env::new(settings()).await;
    let (s, (igw, vpc)) = in_vpc(|root, vpc| {
        let g = root
            .resource("igw", InternetGateway::attached_to(vpc.id()))
            .unwrap();
        (g, vpc.clone())
    });
    e.moto.fail(
        "AttachInternetGateway",
        "InvalidInternetGatewayID.NotFound",
        400,
        3,
    );
    first_attempts(&up(&mut e, &s).await);
    assert_eq!(fault(&e, 0), (3, 4));
    let g = igws(&e.ec2).await;
    assert_eq!(g.len(), 1, "one internet gateway");
    assert_eq!(g[0].internet_gateway_id(), Some(e.id(&igw).as_str()));
    let attached: Vec<_> = g[0].attachments().iter().map(|a| a.vpc_id()).collect();
    assert_eq!(attached, vec![Some(e.id(&vpc).as_str())]);
}

/// The detach on destroy answers `DependencyViolation` ("has some mapped
/// public address(es)") while a NAT gateway's address is being released:
/// retried until it clears, in one destroy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn igw_detach_waits_out_mapped_public_addresses() {
    let mut e = Env::new(settings()).await;
    let (s, vpc) = in_vpc(|root, vpc| {
        root.resource("igw", InternetGateway::attached_to(vpc.id()))
            .unwrap();
        vpc.clone()
    });
    e.up(&s).await;
    let message = format!(
        "Network {} has some mapped public address(es). Please unmap those public \
         address(es) before detaching the gateway.",
        e.id(&vpc)
    );
    arm(
        &e,
        json!({"action": "DetachInternetGateway", "code": "DependencyViolation",
               "message": message, "times": 3}),
    );
    first_attempts(&destroy(&mut e, &s).await);
    assert_eq!(fault(&e, 0), (3, 4));
    assert!(igws(&e.ec2).await.is_empty());
}

/// `CreateNatGateway` succeeds and `DescribeNatGateways` answers
/// `NatGatewayNotFound` for a while: the gateway is still pending, not
/// terminated; one `up`, one NAT gateway, one Elastic IP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nat_not_yet_visible_is_waited_out_in_the_same_up() {
    let mut e = Env::new(settings()).await;
    let (s, (nat, eip)) = in_vpc(|root, vpc| {
        let sub = root
            .resource("public", Subnet::new(vpc.id(), "10.0.1.0/24"))
            .unwrap();
        let eip = root.resource("eip", Eip::new()).unwrap();
        let nat = root
            .resource("nat", NatGateway::new(eip.allocation_id(), sub.id()))
            .unwrap();
        (nat, eip)
    });
    e.moto
        .fail("DescribeNatGateways", "NatGatewayNotFound", 400, 3);
    first_attempts(&up(&mut e, &s).await);
    assert_eq!(fault(&e, 0).0, 3);
    let n = nats(&e.ec2).await;
    assert_eq!(n.len(), 1, "one NAT gateway");
    assert_eq!(n[0].nat_gateway_id(), Some(e.id(&nat).as_str()));
    assert_eq!(n[0].state(), Some(&NatGatewayState::Available));
    assert_eq!(eips(&e.ec2).await.len(), 1, "one Elastic IP");
    assert_eq!(
        n[0].nat_gateway_addresses()[0].allocation_id(),
        Some(e.id(&eip).as_str())
    );
    assert_eq!(e.outputs(&nat)["public_ip"], e.outputs(&eip)["public_ip"]);
}

/// `AllocateAddress` has no idempotency token, so the SDK sends it once: a
/// 5xx is an ambiguous failure of the create (not a second allocation), and
/// the engine sends it again only after a lookup by URN found nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eip_allocate_is_sent_once_by_the_sdk() {
    let mut e = Env::new(settings()).await;
    let mut st = Stack::new(STACK).unwrap();
    let eip = st.root().resource("eip", Eip::new()).unwrap();

    e.moto.fail("AllocateAddress", "InternalError", 500, 1);
    let inputs = serde_json::to_value(Eip::new()).unwrap();
    let err = e
        .reg
        .get(Eip::TYPE)
        .unwrap()
        .create(&support::aws::ctx(&eip), &inputs)
        .await
        .expect_err("the 5xx reaches the provider");
    assert!(err.is_ambiguous(), "{err}");
    assert_eq!(fault(&e, 0), (1, 1), "no SDK resend");
    assert!(eips(&e.ec2).await.is_empty());

    e.moto.fail("AllocateAddress", "InternalError", 500, 1);
    let ops = up(&mut e, &st).await;
    assert_eq!(ops, vec![("eip".to_string(), 2)], "the engine's one resend");
    assert_eq!(fault(&e, 1), (1, 2));
    let a = eips(&e.ec2).await;
    assert_eq!(a.len(), 1, "one Elastic IP");
    assert_eq!(a[0].allocation_id(), Some(e.id(&eip).as_str()));
}

/// NAT gateway waits on recorded responses: moto makes a gateway `available`
/// at once, so `pending` polling and a `failed` gateway never happen there.
mod nat_waits {
    use std::sync::Arc;

    use aws_sdk_ec2::operation::create_nat_gateway::CreateNatGatewayOutput;
    use aws_sdk_ec2::operation::describe_nat_gateways::DescribeNatGatewaysOutput;
    use aws_sdk_ec2::types::{NatGateway as SdkNat, NatGatewayState};
    use aws_smithy_mocks::{mock, mock_client, RuleMode};
    use morket_stack::model::{ResourceArgs, Urn};
    use morket_stack::provider::aws::ec2::nat_gateway::NatGateway;
    use morket_stack::provider::aws::Aws;
    use morket_stack::provider::ProviderError;

    use super::support::aws::{ctx, registry, settings, STACK};

    fn gateway(state: NatGatewayState) -> SdkNat {
        let b = SdkNat::builder()
            .nat_gateway_id("nat-0abc")
            .subnet_id("subnet-1")
            .vpc_id("vpc-1")
            .state(state.clone());
        match state {
            NatGatewayState::Failed => b
                .failure_code("InsufficientFreeAddressesInSubnet")
                .failure_message("Subnet has insufficient free addresses")
                .build(),
            _ => b.build(),
        }
    }

    async fn create_with(states: Vec<NatGatewayState>) -> (Result<String, ProviderError>, usize) {
        let create = mock!(aws_sdk_ec2::Client::create_nat_gateway).then_output(|| {
            CreateNatGatewayOutput::builder()
                .nat_gateway(gateway(NatGatewayState::Pending))
                .build()
        });
        let mut describe = mock!(aws_sdk_ec2::Client::describe_nat_gateways).sequence();
        for s in states {
            describe = describe.output(move || {
                DescribeNatGatewaysOutput::builder()
                    .nat_gateways(gateway(s.clone()))
                    .build()
            });
        }
        let describe = describe.build();
        let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &[&create, &describe]);
        let reg = registry(Arc::new(Aws::new(settings()).with_ec2(client)));
        let urn = Urn::new(STACK, "", NatGateway::TYPE, "nat");
        let inputs = serde_json::to_value(NatGateway::new("eipalloc-1", "subnet-1")).unwrap();
        let r = reg
            .get(NatGateway::TYPE)
            .unwrap()
            .create(&ctx(&urn), &inputs)
            .await
            .map(|c| c.id);
        (r, describe.num_calls())
    }

    #[tokio::test]
    async fn create_polls_pending_until_available() {
        let (r, describes) = create_with(vec![
            NatGatewayState::Pending,
            NatGatewayState::Pending,
            NatGatewayState::Available,
            // The read that builds the outputs.
            NatGatewayState::Available,
        ])
        .await;
        assert_eq!(r.unwrap(), "nat-0abc");
        assert_eq!(describes, 4, "polled until available, then read");
    }

    #[tokio::test]
    async fn a_failed_gateway_fails_the_create_with_its_reason() {
        let (r, describes) =
            create_with(vec![NatGatewayState::Pending, NatGatewayState::Failed]).await;
        let e = r.expect_err("failed gateway").to_string();
        assert!(e.contains("nat-0abc is in state failed"), "{e}");
        assert!(e.contains("InsufficientFreeAddressesInSubnet"), "{e}");
        assert_eq!(describes, 2, "no polling after a final state");
    }
}
