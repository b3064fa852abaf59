//! aws:ec2/{RouteTable, Route, RouteTableAssociation, FlowLog} through the
//! engine against moto: create, update in place, replace, out-of-band drift
//! read, no-op preview, delete; validation in preview; adoption; what real
//! AWS does between calls (new ids not yet visible, IAM propagation), made
//! with moto's fault switch; the flow log's client token on mocks.
//! Subnets, internet and NAT gateways are test fixtures made with the SDK.

mod support;

use aws_sdk_ec2::types::{DomainType, Tag};
use morket_stack::exec::Cancel;
use morket_stack::model::{HasUrn, ResourceArgs, ResourceOptions, Stack, Urn};
use morket_stack::plan::{Action, Plan, PlanOptions};
use morket_stack::provider::aws;
use morket_stack::provider::aws::ec2::flow_log::FlowLog;
use morket_stack::provider::aws::ec2::route::Route;
use morket_stack::provider::aws::ec2::route_table::RouteTable;
use morket_stack::provider::aws::ec2::route_table_association::RouteTableAssociation;
use morket_stack::provider::aws::ec2::vpc::Vpc;
use morket_stack::state::StateStore;
use serde_json::json;
use support::aws::{create_subnet, settings, stack_filter, step, tag_urn, Env, STACK};

const ROLE: &str = "arn:aws:iam::123456789012:role/flow-logs";

async fn env() -> Env {
    Env::new(settings()).await
}

/// The EC2 look-ups and fixtures of these tests, on top of the shared set-up.
trait Ec2Env {
    async fn route_tables(&self) -> Vec<aws_sdk_ec2::types::RouteTable>;
    async fn table(&self, id: &str) -> Option<aws_sdk_ec2::types::RouteTable>;
    async fn flow_logs(&self) -> Vec<aws_sdk_ec2::types::FlowLog>;
    async fn subnet(&self, vpc: &str, cidr: &str) -> String;
    async fn igw(&self, vpc: &str) -> String;
    async fn nat(&self, subnet: &str) -> String;
}

impl Ec2Env for Env {
    async fn route_tables(&self) -> Vec<aws_sdk_ec2::types::RouteTable> {
        self.ec2
            .describe_route_tables()
            .filters(stack_filter())
            .send()
            .await
            .unwrap()
            .route_tables()
            .to_vec()
    }

    async fn table(&self, id: &str) -> Option<aws_sdk_ec2::types::RouteTable> {
        match self
            .ec2
            .describe_route_tables()
            .route_table_ids(id)
            .send()
            .await
        {
            Ok(o) => o.route_tables().first().cloned(),
            Err(e) => {
                let code = aws_sdk_ec2::error::ProvideErrorMetadata::code(&e).unwrap_or("");
                assert_eq!(code, "InvalidRouteTableID.NotFound", "{e:?}");
                None
            }
        }
    }

    async fn flow_logs(&self) -> Vec<aws_sdk_ec2::types::FlowLog> {
        self.ec2
            .describe_flow_logs()
            .filter(stack_filter())
            .send()
            .await
            .unwrap()
            .flow_logs()
            .to_vec()
    }

    async fn subnet(&self, vpc: &str, cidr: &str) -> String {
        create_subnet(&self.ec2, vpc, cidr, None).await
    }

    async fn igw(&self, vpc: &str) -> String {
        let igw = self
            .ec2
            .create_internet_gateway()
            .send()
            .await
            .unwrap()
            .internet_gateway()
            .unwrap()
            .internet_gateway_id()
            .unwrap()
            .to_string();
        self.ec2
            .attach_internet_gateway()
            .internet_gateway_id(&igw)
            .vpc_id(vpc)
            .send()
            .await
            .unwrap();
        igw
    }

    async fn nat(&self, subnet: &str) -> String {
        let eip = self
            .ec2
            .allocate_address()
            .domain(DomainType::Vpc)
            .send()
            .await
            .unwrap();
        self.ec2
            .create_nat_gateway()
            .subnet_id(subnet)
            .allocation_id(eip.allocation_id().unwrap())
            .send()
            .await
            .unwrap()
            .nat_gateway()
            .unwrap()
            .nat_gateway_id()
            .unwrap()
            .to_string()
    }
}

fn action(plan: &Plan, urn: &Urn) -> Action {
    step(plan, urn).action
}

fn tags_of(t: &[Tag]) -> std::collections::BTreeMap<String, String> {
    aws::ec2::from_tags(t)
}

/// The route of `table` to `cidr`.
fn route_in(t: &aws_sdk_ec2::types::RouteTable, cidr: &str) -> Option<aws_sdk_ec2::types::Route> {
    t.routes()
        .iter()
        .find(|r| r.destination_cidr_block() == Some(cidr))
        .cloned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_table_lifecycle_against_moto() {
    let mut e = env().await;
    let decl = |rt_vpc: &str, name: &str| {
        let mut st = Stack::new(STACK).unwrap();
        let a = st.root().resource("a", Vpc::new("10.0.0.0/16")).unwrap();
        let b = st.root().resource("b", Vpc::new("10.1.0.0/16")).unwrap();
        let vpc = if rt_vpc == "a" { a.id() } else { b.id() };
        let mut rt = RouteTable::new(vpc);
        rt.tags.insert("Name".into(), name.into());
        let r = st.root().resource("public", rt).unwrap();
        (st, r, a, b)
    };

    // Create: tags in the create call, outputs.
    let (s1, r, a, b) = decl("a", "public");
    let plan = e.up_stable(&s1).await;
    assert_eq!(plan.counts().create, 3);
    let id = e.id(r.urn());
    let live = e.route_tables().await;
    assert_eq!(live.len(), 1, "only our table carries the stack tag");
    assert_eq!(live[0].route_table_id(), Some(id.as_str()));
    assert_eq!(live[0].vpc_id(), Some(e.id(a.urn()).as_str()));
    let tags = tags_of(live[0].tags());
    assert_eq!(tags["Name"], "public");
    assert_eq!(tags["Project"], "morket");
    assert_eq!(tag_urn(&tags["morket:urn"]), r.urn().as_str());
    let out = e.outputs(r.urn());
    assert_eq!(out["vpc_id"], json!(e.id(a.urn())));
    assert_eq!(
        out["arn"],
        json!(format!(
            "arn:aws:ec2:us-east-1:123456789012:route-table/{id}"
        ))
    );

    // Tags update in place.
    let (s2, ..) = decl("a", "renamed");
    let plan = e.up_stable(&s2).await;
    assert_eq!(action(&plan, r.urn()), Action::Update);
    assert_eq!(
        tags_of(e.table(&id).await.unwrap().tags())["Name"],
        "renamed"
    );

    // Out-of-band tag change is what read reports.
    e.ec2
        .create_tags()
        .resources(&id)
        .tags(Tag::builder().key("Name").value("by-hand").build())
        .send()
        .await
        .unwrap();
    let read = e.read(r.urn()).await.unwrap();
    assert_eq!(read["tags"], json!({"Name": "by-hand"}));
    assert_eq!(read["vpc_id"], json!(e.id(a.urn())));

    // vpc_id forces a replacement.
    let (s3, ..) = decl("b", "renamed");
    let plan = e.up_stable(&s3).await;
    assert_eq!(action(&plan, r.urn()), Action::Replace);
    assert!(e.table(&id).await.is_none(), "old route table deleted");
    let live = e.route_tables().await;
    assert_eq!(live.len(), 1);
    assert_ne!(live[0].route_table_id(), Some(id.as_str()));
    assert_eq!(live[0].vpc_id(), Some(e.id(b.urn()).as_str()));

    // Destroy.
    let (_, report) = e.eng.destroy(&s3, &Cancel::new()).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert!(e.route_tables().await.is_empty());
    assert!(e.st.resources().unwrap().is_empty());
}

/// What the routing test declares on top of the VPC and its two tables.
#[derive(Clone)]
struct Routing {
    route: Option<Route>,
    assoc: Option<RouteTableAssociation>,
    edge: Option<RouteTableAssociation>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_and_associations_against_moto() {
    let mut e = env().await;
    let decl = |x: &Routing| {
        let mut st = Stack::new(STACK).unwrap();
        let vpc = st.root().resource("main", Vpc::new("10.0.0.0/16")).unwrap();
        let a = st.root().resource("a", RouteTable::new(vpc.id())).unwrap();
        let b = st.root().resource("b", RouteTable::new(vpc.id())).unwrap();
        let urns = (
            x.route.clone().map(|r| {
                let r = st.root().resource("default", r).unwrap();
                r.urn().clone()
            }),
            x.assoc.clone().map(|r| {
                let r = st.root().resource("private", r).unwrap();
                r.urn().clone()
            }),
            x.edge.clone().map(|r| {
                let r = st.root().resource("edge", r).unwrap();
                r.urn().clone()
            }),
        );
        (st, vpc, a, b, urns)
    };
    let none = Routing {
        route: None,
        assoc: None,
        edge: None,
    };
    let (s0, vpc, a, b, _) = decl(&none);
    e.up_stable(&s0).await;
    let vpc_id = e.id(vpc.urn());
    let (rta, rtb) = (e.id(a.urn()), e.id(b.urn()));
    let subnet1 = e.subnet(&vpc_id, "10.0.1.0/24").await;
    let subnet2 = e.subnet(&vpc_id, "10.0.2.0/24").await;
    let igw = e.igw(&vpc_id).await;
    let nat = e.nat(&subnet1).await;

    // Create: a default route through the IGW, subnet1 on table a, an edge association.
    let mut x = Routing {
        route: Some(Route::via_gateway(a.id(), "0.0.0.0/0", igw.as_str())),
        assoc: Some(RouteTableAssociation::new(a.id(), subnet1.as_str())),
        edge: Some(RouteTableAssociation::gateway(b.id(), igw.as_str())),
    };
    let (s1, _, _, _, (route, assoc, edge)) = decl(&x);
    let (route, assoc, edge) = (route.unwrap(), assoc.unwrap(), edge.unwrap());
    let plan = e.up_stable(&s1).await;
    assert_eq!(plan.counts().create, 3);
    assert_eq!(e.id(&route), format!("{rta}_0.0.0.0/0"));
    let t = e.table(&rta).await.unwrap();
    let r = route_in(&t, "0.0.0.0/0").unwrap();
    assert_eq!(r.gateway_id(), Some(igw.as_str()));
    assert_eq!(e.outputs(&route)["state"], json!("active"));
    let assoc_id = e.id(&assoc);
    let live = t
        .associations()
        .iter()
        .find(|x| x.route_table_association_id() == Some(assoc_id.as_str()))
        .expect("subnet association on table a");
    assert_eq!(live.subnet_id(), Some(subnet1.as_str()));
    let t = e.table(&rtb).await.unwrap();
    assert!(t
        .associations()
        .iter()
        .any(
            |x| x.route_table_association_id() == Some(e.id(&edge).as_str())
                && x.gateway_id() == Some(igw.as_str())
        ));

    // Target change: ReplaceRoute in place.
    x.route = Some(Route::via_nat_gateway(a.id(), "0.0.0.0/0", nat.as_str()));
    let (s2, ..) = decl(&x);
    let plan = e.up_stable(&s2).await;
    assert_eq!(action(&plan, &route), Action::Update);
    let r = route_in(&e.table(&rta).await.unwrap(), "0.0.0.0/0").unwrap();
    assert_eq!(r.nat_gateway_id(), Some(nat.as_str()));
    assert_eq!(r.gateway_id(), None);

    // Out-of-band target change: read reports the live target.
    e.ec2
        .replace_route()
        .route_table_id(&rta)
        .destination_cidr_block("0.0.0.0/0")
        .gateway_id(&igw)
        .send()
        .await
        .unwrap();
    let read = e.read(&route).await.unwrap();
    assert_eq!(read["gateway_id"], json!(igw));
    assert!(read["nat_gateway_id"].is_null(), "{read}");
    // Put it back so the state matches again.
    e.ec2
        .replace_route()
        .route_table_id(&rta)
        .destination_cidr_block("0.0.0.0/0")
        .nat_gateway_id(&nat)
        .send()
        .await
        .unwrap();

    // Destination forces a replacement.
    x.route = Some(Route::via_nat_gateway(
        a.id(),
        "192.168.0.0/16",
        nat.as_str(),
    ));
    let (s3, ..) = decl(&x);
    let plan = e.up_stable(&s3).await;
    assert_eq!(action(&plan, &route), Action::Replace);
    let t = e.table(&rta).await.unwrap();
    assert!(route_in(&t, "0.0.0.0/0").is_none(), "old route deleted");
    assert_eq!(
        route_in(&t, "192.168.0.0/16").unwrap().nat_gateway_id(),
        Some(nat.as_str())
    );

    // Route table forces a replacement.
    x.route = Some(Route::via_nat_gateway(
        b.id(),
        "192.168.0.0/16",
        nat.as_str(),
    ));
    let (s4, ..) = decl(&x);
    let plan = e.up_stable(&s4).await;
    assert_eq!(action(&plan, &route), Action::Replace);
    assert!(route_in(&e.table(&rta).await.unwrap(), "192.168.0.0/16").is_none());
    assert!(route_in(&e.table(&rtb).await.unwrap(), "192.168.0.0/16").is_some());
    assert_eq!(e.id(&route), format!("{rtb}_192.168.0.0/16"));

    // Association moves to table b in place (ReplaceRouteTableAssociation).
    x.assoc = Some(RouteTableAssociation::new(b.id(), subnet1.as_str()));
    let (s5, ..) = decl(&x);
    let plan = e.up_stable(&s5).await;
    assert_eq!(action(&plan, &assoc), Action::Update);
    let current = e.outputs(&assoc)["id"].as_str().unwrap().to_string();
    let on_b = e.table(&rtb).await.unwrap();
    let live = on_b
        .associations()
        .iter()
        .find(|x| x.subnet_id() == Some(subnet1.as_str()))
        .expect("subnet1 now on table b");
    assert_eq!(live.route_table_association_id(), Some(current.as_str()));
    assert!(!e
        .table(&rta)
        .await
        .unwrap()
        .associations()
        .iter()
        .any(|x| x.subnet_id() == Some(subnet1.as_str())));
    let read = e.read(&assoc).await.unwrap();
    assert_eq!(read["route_table_id"], json!(rtb));
    assert_eq!(read["subnet_id"], json!(subnet1));

    // subnet_id forces a replacement.
    x.assoc = Some(RouteTableAssociation::new(b.id(), subnet2.as_str()));
    let (s6, ..) = decl(&x);
    let plan = e.up_stable(&s6).await;
    assert_eq!(action(&plan, &assoc), Action::Replace);
    let subnets: Vec<Option<String>> = e
        .table(&rtb)
        .await
        .unwrap()
        .associations()
        .iter()
        .filter(|x| x.subnet_id().is_some())
        .map(|x| x.subnet_id().map(str::to_string))
        .collect();
    assert_eq!(subnets, vec![Some(subnet2.clone())]);

    // Out-of-band disassociation: read reports it gone.
    e.ec2
        .disassociate_route_table()
        .association_id(e.outputs(&assoc)["id"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert!(e.read(&assoc).await.is_none());

    // Removing the declarations deletes routes and associations.
    let (_, report) = e
        .eng
        .up(&s0, &PlanOptions::default(), &Cancel::new())
        .await
        .unwrap();
    assert!(report.is_success(), "{report:?}");
    for t in [&rta, &rtb] {
        let t = e.table(t).await.unwrap();
        assert!(t.associations().is_empty(), "{t:?}");
        assert_eq!(t.routes().len(), 1, "only the local route: {t:?}");
    }

    // Fixtures out of the way, then destroy.
    e.ec2
        .delete_nat_gateway()
        .nat_gateway_id(&nat)
        .send()
        .await
        .unwrap();
    e.ec2
        .detach_internet_gateway()
        .internet_gateway_id(&igw)
        .vpc_id(&vpc_id)
        .send()
        .await
        .unwrap();
    e.ec2
        .delete_internet_gateway()
        .internet_gateway_id(&igw)
        .send()
        .await
        .unwrap();
    for s in [&subnet1, &subnet2] {
        e.ec2.delete_subnet().subnet_id(s).send().await.unwrap();
    }
    let (_, report) = e.eng.destroy(&s0, &Cancel::new()).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert!(e.route_tables().await.is_empty());
    assert!(e.table(&rta).await.is_none());
    assert!(e.st.resources().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flow_log_lifecycle_against_moto() {
    let mut e = env().await;
    let decl = |f: &dyn Fn(&mut FlowLog), dbr: bool| {
        let mut st = Stack::new(STACK).unwrap();
        let vpc = st.root().resource("main", Vpc::new("10.0.0.0/16")).unwrap();
        let mut fl = FlowLog::new(vpc.id(), "/vpc/flow", ROLE);
        fl.tags.insert("Name".into(), "flow".into());
        f(&mut fl);
        let r = st
            .root()
            .resource_with(
                "flow",
                fl,
                ResourceOptions::new().delete_before_replace(dbr),
            )
            .unwrap();
        (st, vpc, r.urn().clone())
    };

    let (s1, vpc, fl) = decl(&|_| {}, false);
    let plan = e.up_stable(&s1).await;
    assert_eq!(plan.counts().create, 2);
    let id = e.id(&fl);
    let live = e.flow_logs().await;
    assert_eq!(live.len(), 1);
    let f = &live[0];
    assert_eq!(f.flow_log_id(), Some(id.as_str()));
    assert_eq!(f.resource_id(), Some(e.id(vpc.urn()).as_str()));
    assert_eq!(f.traffic_type().map(|t| t.as_str()), Some("ALL"));
    assert_eq!(f.log_group_name(), Some("/vpc/flow"));
    assert_eq!(f.deliver_logs_permission_arn(), Some(ROLE));
    assert_eq!(f.max_aggregation_interval(), Some(600));
    let tags = tags_of(f.tags());
    assert_eq!(tags["Name"], "flow");
    assert_eq!(tags["Project"], "morket");
    assert_eq!(tag_urn(&tags["morket:urn"]), fl.as_str());
    assert_eq!(
        e.outputs(&fl)["arn"],
        json!(format!(
            "arn:aws:ec2:us-east-1:123456789012:vpc-flow-log/{id}"
        ))
    );

    // Tags update in place.
    let (s2, ..) = decl(
        &|f| {
            f.tags.insert("Team".into(), "net".into());
        },
        false,
    );
    let plan = e.up_stable(&s2).await;
    assert_eq!(action(&plan, &fl), Action::Update);
    assert_eq!(tags_of(e.flow_logs().await[0].tags())["Team"], "net");

    // Out-of-band tag removal: read reports it.
    e.ec2
        .delete_tags()
        .resources(&id)
        .tags(Tag::builder().key("Team").build())
        .send()
        .await
        .unwrap();
    let read = e.read(&fl).await.unwrap();
    assert_eq!(read["tags"], json!({"Name": "flow"}));
    assert_eq!(read["log_group_name"], json!("/vpc/flow"));
    // AWS reports the group's ARN too; only the form declared is read back.
    assert!(read["log_destination"].is_null(), "{read}");

    // Every other field forces a replacement. A new log group: create before delete.
    let (s3, ..) = decl(
        &|f| {
            f.log_group_name = Some("/vpc/flow2".into());
        },
        false,
    );
    let plan = e.up_stable(&s3).await;
    assert_eq!(action(&plan, &fl), Action::Replace);
    let live = e.flow_logs().await;
    assert_eq!(live.len(), 1, "old flow log deleted");
    assert_ne!(live[0].flow_log_id(), Some(id.as_str()));
    assert_eq!(live[0].log_group_name(), Some("/vpc/flow2"));
    // Same destination: moto refuses a second flow log for the same VPC and
    // log group (FlowLogAlreadyExists), so these replace delete-first.
    for (f, check) in [
        (
            (|f: &mut FlowLog| {
                f.log_group_name = Some("/vpc/flow2".into());
                f.traffic_type = "REJECT".into();
            }) as fn(&mut FlowLog),
            "traffic_type",
        ),
        (
            |f: &mut FlowLog| {
                f.log_group_name = Some("/vpc/flow2".into());
                f.traffic_type = "REJECT".into();
                f.max_aggregation_interval = 60;
            },
            "max_aggregation_interval",
        ),
    ] {
        let before = e.id(&fl);
        let (s, ..) = decl(&f, true);
        let plan = e.up_stable(&s).await;
        assert_eq!(action(&plan, &fl), Action::Replace, "{check}");
        let live = e.flow_logs().await;
        assert_eq!(live.len(), 1, "{check}");
        assert_ne!(live[0].flow_log_id(), Some(before.as_str()), "{check}");
    }
    let live = e.flow_logs().await;
    assert_eq!(live[0].traffic_type().map(|t| t.as_str()), Some("REJECT"));
    assert_eq!(live[0].max_aggregation_interval(), Some(60));

    // Destroy.
    let (s_last, ..) = decl(
        &|f| {
            f.log_group_name = Some("/vpc/flow2".into());
            f.traffic_type = "REJECT".into();
            f.max_aggregation_interval = 60;
        },
        true,
    );
    let (_, report) = e.eng.destroy(&s_last, &Cancel::new()).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert!(e.flow_logs().await.is_empty());
    assert!(e
        .ec2
        .describe_flow_logs()
        .send()
        .await
        .unwrap()
        .flow_logs()
        .is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_inputs_fail_in_preview_naming_field_and_value() {
    let mut e = env().await;
    type Case<'a> = (Box<dyn Fn(&mut Stack)>, &'a str, &'a str);
    let cases: Vec<Case> = vec![
        (
            Box::new(|st| {
                st.root()
                    .resource("rt", RouteTable::new("subnet-123"))
                    .unwrap();
            }),
            "vpc_id",
            "subnet-123",
        ),
        (
            Box::new(|st| {
                st.root()
                    .resource("r", Route::via_gateway("rtb-1", "10.0.0.1/16", "igw-1"))
                    .unwrap();
            }),
            "destination_cidr_block",
            "10.0.0.1/16",
        ),
        (
            Box::new(|st| {
                st.root()
                    .resource("r", Route::via_nat_gateway("rtb-1", "0.0.0.0/0", "igw-1"))
                    .unwrap();
            }),
            "nat_gateway_id",
            "igw-1",
        ),
        (
            Box::new(|st| {
                let mut r = Route::via_gateway("rtb-1", "0.0.0.0/0", "igw-1");
                r.nat_gateway_id = Some("nat-1".into());
                st.root().resource("r", r).unwrap();
            }),
            "gateway_id",
            "nat_gateway_id",
        ),
        (
            Box::new(|st| {
                let mut a = RouteTableAssociation::new("rtb-1", "subnet-1");
                a.gateway_id = Some("igw-1".into());
                st.root().resource("a", a).unwrap();
            }),
            "subnet_id",
            "gateway_id set",
        ),
        (
            Box::new(|st| {
                let mut f = FlowLog::new("vpc-1", "/vpc/flow", ROLE);
                f.traffic_type = "EVERYTHING".into();
                st.root().resource("f", f).unwrap();
            }),
            "traffic_type",
            "EVERYTHING",
        ),
        (
            Box::new(|st| {
                let mut f = FlowLog::new("vpc-1", "/vpc/flow", ROLE);
                f.max_aggregation_interval = 120;
                st.root().resource("f", f).unwrap();
            }),
            "max_aggregation_interval",
            "120",
        ),
        (
            Box::new(|st| {
                st.root()
                    .resource("f", FlowLog::new("vpc-1", "/vpc/flow", "not-an-arn"))
                    .unwrap();
            }),
            "deliver_logs_permission_arn",
            "not-an-arn",
        ),
    ];
    for (declare, field, value) in cases {
        let mut st = Stack::new(STACK).unwrap();
        declare(&mut st);
        let err = e
            .eng
            .preview(&st, &PlanOptions::default())
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains(field) && err.contains(value), "{field}: {err}");
    }
    // A reference not yet known validates (the preview of a fresh stack).
    let mut st = Stack::new(STACK).unwrap();
    let vpc = st.root().resource("v", Vpc::new("10.0.0.0/16")).unwrap();
    let rt = st.root().resource("rt", RouteTable::new(vpc.id())).unwrap();
    st.root()
        .resource("r", Route::via_gateway(rt.id(), "0.0.0.0/0", "igw-1"))
        .unwrap();
    let plan = e.eng.preview(&st, &PlanOptions::default()).await.unwrap();
    assert_eq!(plan.counts().create, 3);
    // Nothing reached moto.
    assert!(e.route_tables().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_creates_are_adopted() {
    let mut e = env().await;
    let mut st0 = Stack::new(STACK).unwrap();
    let vpc = st0
        .root()
        .resource("main", Vpc::new("10.0.0.0/16"))
        .unwrap();
    let (_, report) = e
        .eng
        .up(&st0, &PlanOptions::default(), &Cancel::new())
        .await
        .unwrap();
    assert!(report.is_success());
    let vpc_id = e.id(vpc.urn());
    let igw = e.igw(&vpc_id).await;
    let main_rt = e.outputs(vpc.urn())["main_route_table_id"]
        .as_str()
        .unwrap()
        .to_string();

    let mut st = Stack::new(STACK).unwrap();
    let vpc2 = st.root().resource("main", Vpc::new("10.0.0.0/16")).unwrap();
    let rt = st
        .root()
        .resource("rt", RouteTable::new(vpc2.id()))
        .unwrap();
    let route = st
        .root()
        .resource(
            "r",
            Route::via_gateway(main_rt.as_str(), "0.0.0.0/0", igw.as_str()),
        )
        .unwrap();
    let fl = st
        .root()
        .resource("f", FlowLog::new(vpc_id.as_str(), "/vpc/flow", ROLE))
        .unwrap();
    // Each create "returned" but the process died before its checkpoint.
    let mut created = Vec::new();
    for (urn, inputs) in [
        (rt.urn().clone(), json!({"vpc_id": vpc_id, "tags": {}})),
        (
            route.urn().clone(),
            st.get(route.urn()).unwrap().inputs.clone(),
        ),
        (fl.urn().clone(), st.get(fl.urn()).unwrap().inputs.clone()),
    ] {
        let c = e.interrupted_create(&urn, &inputs).await;
        created.push((urn, c.id));
    }
    let (plan, report) = e
        .eng
        .up(&st, &PlanOptions::default(), &Cancel::new())
        .await
        .unwrap();
    assert!(report.is_success(), "{report:?}");
    assert_eq!(plan.counts().create, 0, "adopted, not created again");
    for (urn, id) in &created {
        assert_eq!(&e.id(urn), id, "{urn}");
    }
    assert_eq!(e.route_tables().await.len(), 1, "no duplicate route table");
    assert_eq!(e.flow_logs().await.len(), 1, "no duplicate flow log");
    assert!(e.st.pending().unwrap().is_empty());
}

// ------------------------------------------------ real-AWS timing (faults)

/// Arms a moto fault that answers `times` calls of `action` with a 400
/// `code` and `message` (`Moto::fail` sends a generic message, and IAM
/// propagation is recognised by its message).
fn fail_with(e: &Env, action: &str, code: &str, message: &str, times: u32) {
    use std::io::{Read, Write};
    let body = json!({"action": action, "code": code, "message": message,
                      "status": 400, "times": times})
    .to_string();
    let host = e.moto.url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(host).unwrap();
    write!(
        s,
        "POST /morket-api/faults HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert_eq!(answer.split_whitespace().nth(1), Some("200"), "{answer}");
}

/// How many calls of `action` the armed faults failed.
fn fired(e: &Env, action: &str) -> u64 {
    e.moto.faults_fired()["faults"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["action"] == action)
        .map(|f| f["fired"].as_u64().unwrap())
        .sum()
}

/// A VPC alone, applied; its id.
async fn vpc_only(e: &mut Env) -> String {
    let mut st = Stack::new(STACK).unwrap();
    let vpc = st.root().resource("main", Vpc::new("10.0.0.0/16")).unwrap();
    e.up(&st).await;
    e.id(vpc.urn())
}

/// `read_many` of `type_name` over `items` equals the single reads; returns
/// how many `DescribeRouteTables` the single reads and the batch sent.
async fn read_many_as_single(
    e: &Env,
    type_name: &str,
    items: &[morket_stack::provider::ReadItem],
) -> (
    Vec<Option<morket_stack::provider::ReadResult>>,
    usize,
    usize,
) {
    let p = e.reg.get(type_name).unwrap();
    let sent = || {
        e.moto
            .requests()
            .iter()
            .filter(|q| q.operation == "DescribeRouteTables")
            .count()
    };
    e.moto.clear_requests();
    let mut single = Vec::new();
    for i in items {
        single.push(p.read(&i.ctx, &i.id, &i.inputs, &i.outputs).await.unwrap());
    }
    let one_by_one = sent();
    e.moto.clear_requests();
    let read = p.read_many(items).await.unwrap();
    let batched = sent();
    assert_eq!(read, single, "{type_name}: as read one by one");
    (read, one_by_one, batched)
}

/// `Provider::read_many` reads many route tables, routes and associations
/// with one `DescribeRouteTables` per type (a `route-table-id` filter; routes
/// and associations are read through their table): each as its single read,
/// `None` for a table, route or association that does not exist.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_routes_and_associations_are_read_many_at_once() {
    use morket_stack::provider::ReadItem;
    let mut e = env().await;
    let vpc_id = vpc_only(&mut e).await;
    let subnets = [
        e.subnet(&vpc_id, "10.0.1.0/24").await,
        e.subnet(&vpc_id, "10.0.2.0/24").await,
        e.subnet(&vpc_id, "10.0.3.0/24").await,
    ];
    let igw = e.igw(&vpc_id).await;
    let mut st = Stack::new(STACK).unwrap();
    let vpc = st.root().resource("main", Vpc::new("10.0.0.0/16")).unwrap();
    let (mut tables, mut routes, mut assocs) = (Vec::new(), Vec::new(), Vec::new());
    for (n, subnet) in subnets.iter().enumerate() {
        let mut rt = RouteTable::new(vpc.id());
        rt.tags.insert("Name".into(), format!("rt-{n}"));
        let rt = st.root().resource(&format!("rt-{n}"), rt).unwrap();
        let cidr = ["0.0.0.0/0", "10.1.0.0/16", "10.2.0.0/16"][n];
        let r = st
            .root()
            .resource(
                &format!("r-{n}"),
                Route::via_gateway(rt.id(), cidr, igw.as_str()),
            )
            .unwrap();
        let a = st
            .root()
            .resource(
                &format!("a-{n}"),
                RouteTableAssociation::new(rt.id(), subnet.as_str()),
            )
            .unwrap();
        tables.push(rt.urn().clone());
        routes.push(r.urn().clone());
        assocs.push(a.urn().clone());
    }
    e.up_stable(&st).await;

    let item = |u: &Urn, id: Option<&str>, inputs: Option<serde_json::Value>| {
        let rec = e.st.resource(u).unwrap().unwrap();
        ReadItem {
            ctx: support::aws::ctx(u),
            id: id.map_or(rec.id, str::to_string),
            inputs: inputs.unwrap_or(rec.inputs),
            outputs: rec.outputs,
        }
    };
    let check = |read: &[Option<morket_stack::provider::ReadResult>], urns: &[Urn]| {
        for (u, got) in urns.iter().zip(read) {
            let rec = e.st.resource(u).unwrap().unwrap();
            let got = got.as_ref().expect("exists");
            assert_eq!(
                (&got.inputs, &got.outputs),
                (&rec.inputs, &rec.outputs),
                "{u}: no drift"
            );
        }
    };
    let absent = "rtb-0123456789abcdef0";
    let rt0 = e.id(&tables[0]);

    // Tables: three, and one that does not exist.
    let mut items: Vec<ReadItem> = tables.iter().map(|u| item(u, None, None)).collect();
    items.push(item(&tables[0], Some(absent), None));
    let (read, one_by_one, batched) = read_many_as_single(&e, RouteTable::TYPE, &items).await;
    assert_eq!((one_by_one, batched), (4, 1), "route tables");
    check(&read, &tables);
    assert!(read[3].is_none(), "no such table");

    // Routes: three, one on a table that does not exist, one its table lacks.
    let mut items: Vec<ReadItem> = routes.iter().map(|u| item(u, None, None)).collect();
    items.push(item(&routes[0], Some(&format!("{absent}_0.0.0.0/0")), None));
    items.push(item(&routes[0], Some(&format!("{rt0}_10.9.0.0/16")), None));
    let (read, one_by_one, batched) = read_many_as_single(&e, Route::TYPE, &items).await;
    assert_eq!((one_by_one, batched), (5, 1), "routes");
    check(&read, &routes);
    assert!(read[3].is_none() && read[4].is_none(), "no such route");

    // Associations: three, one on a table that does not exist, one of a
    // subnet not on the declared table.
    let declared = |u: &Urn, f: &dyn Fn(&mut serde_json::Value)| {
        let mut v = e.st.resource(u).unwrap().unwrap().inputs;
        f(&mut v);
        Some(v)
    };
    let mut items: Vec<ReadItem> = assocs.iter().map(|u| item(u, None, None)).collect();
    items.push(item(
        &assocs[0],
        None,
        declared(&assocs[0], &|v| v["route_table_id"] = json!(absent)),
    ));
    items.push(item(
        &assocs[0],
        None,
        declared(&assocs[0], &|v| v["subnet_id"] = json!(subnets[1])),
    ));
    let (read, one_by_one, batched) =
        read_many_as_single(&e, RouteTableAssociation::TYPE, &items).await;
    assert_eq!((one_by_one, batched), (5, 1), "associations");
    check(&read, &assocs);
    assert!(
        read[3].is_none() && read[4].is_none(),
        "no such association"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_naming_a_table_just_made_wait_out_not_found() {
    let mut e = env().await;
    let vpc_id = vpc_only(&mut e).await;
    let subnet = e.subnet(&vpc_id, "10.0.1.0/24").await;
    let igw = e.igw(&vpc_id).await;
    // EC2 is eventually consistent: the new VPC, then the new table, are not
    // yet known to the next call.
    e.moto
        .fail("CreateRouteTable", "InvalidVpcID.NotFound", 400, 1);
    e.moto
        .fail("CreateRoute", "InvalidRouteTableID.NotFound", 400, 2);
    e.moto.fail(
        "AssociateRouteTable",
        "InvalidRouteTableID.NotFound",
        400,
        2,
    );

    let mut st = Stack::new(STACK).unwrap();
    let vpc = st.root().resource("main", Vpc::new("10.0.0.0/16")).unwrap();
    let rt = st.root().resource("rt", RouteTable::new(vpc.id())).unwrap();
    let route = st
        .root()
        .resource("r", Route::via_gateway(rt.id(), "0.0.0.0/0", igw.as_str()))
        .unwrap();
    let assoc = st
        .root()
        .resource("a", RouteTableAssociation::new(rt.id(), subnet.as_str()))
        .unwrap();
    let plan = e.up_stable(&st).await;
    assert_eq!(plan.counts().create, 3);
    assert_eq!(fired(&e, "CreateRouteTable"), 1);
    assert_eq!(fired(&e, "CreateRoute"), 2);
    assert_eq!(fired(&e, "AssociateRouteTable"), 2);

    let tables = e.route_tables().await;
    assert_eq!(tables.len(), 1, "no duplicate route table");
    let t = &tables[0];
    assert_eq!(t.route_table_id(), Some(e.id(rt.urn()).as_str()));
    assert_eq!(
        route_in(t, "0.0.0.0/0").unwrap().gateway_id(),
        Some(igw.as_str())
    );
    assert_eq!(e.outputs(route.urn())["state"], json!("active"));
    let on_subnet: Vec<_> = t
        .associations()
        .iter()
        .filter(|a| a.subnet_id() == Some(subnet.as_str()))
        .collect();
    assert_eq!(on_subnet.len(), 1, "{on_subnet:?}");
    assert_eq!(
        on_subnet[0].route_table_association_id(),
        Some(e.id(assoc.urn()).as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_association_not_listed_yet_is_waited_for_not_failed() {
    let mut e = env().await;
    let mut s0 = Stack::new(STACK).unwrap();
    let vpc = s0.root().resource("main", Vpc::new("10.0.0.0/16")).unwrap();
    let rt = s0.root().resource("rt", RouteTable::new(vpc.id())).unwrap();
    e.up(&s0).await;
    let subnet = e.subnet(&e.id(vpc.urn()), "10.0.1.0/24").await;
    // Right after AssociateRouteTable the describe does not show it yet
    // (review B2: this used to count as associated, then fail).
    e.moto.fail(
        "DescribeRouteTables",
        "InvalidRouteTableID.NotFound",
        400,
        2,
    );

    let mut s1 = Stack::new(STACK).unwrap();
    let vpc = s1.root().resource("main", Vpc::new("10.0.0.0/16")).unwrap();
    let rt1 = s1.root().resource("rt", RouteTable::new(vpc.id())).unwrap();
    let assoc = s1
        .root()
        .resource("a", RouteTableAssociation::new(rt1.id(), subnet.as_str()))
        .unwrap();
    let plan = e.up_stable(&s1).await;
    assert_eq!(plan.counts().create, 1);
    assert_eq!(fired(&e, "DescribeRouteTables"), 2);
    let out = e.outputs(assoc.urn());
    assert_eq!(out["state"], json!("associated"));
    assert_eq!(out["id"], json!(e.id(assoc.urn())));
    let t = e.table(&e.id(rt.urn())).await.unwrap();
    assert_eq!(t.associations().len(), 1, "{t:?}");
    assert_eq!(t.associations()[0].subnet_id(), Some(subnet.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flow_log_waits_for_its_new_role_to_be_assumable() {
    let mut e = env().await;
    let vpc_id = vpc_only(&mut e).await;
    let decl = || {
        let mut st = Stack::new(STACK).unwrap();
        st.root().resource("main", Vpc::new("10.0.0.0/16")).unwrap();
        let fl = st
            .root()
            .resource("flow", FlowLog::new(vpc_id.as_str(), "/vpc/flow", ROLE))
            .unwrap();
        (st, fl)
    };

    // Another InvalidParameter is a real refusal: one call, no retry.
    fail_with(
        &e,
        "CreateFlowLogs",
        "InvalidParameter",
        "Invalid log group name",
        1,
    );
    let (st, _) = decl();
    let err = e.up_failing(&st).await;
    assert!(err.contains("Invalid log group name"), "{err}");
    assert_eq!(fired(&e, "CreateFlowLogs"), 1);
    assert!(e.flow_logs().await.is_empty());

    // IAM propagation: the role is not assumable for a moment; then the
    // new flow log is not yet described.
    fail_with(
        &e,
        "CreateFlowLogs",
        "InvalidParameter",
        &format!("Unable to assume given IAM role: {ROLE}"),
        2,
    );
    e.moto
        .fail("DescribeFlowLogs", "InvalidFlowLogId.NotFound", 400, 1);
    let (st, fl) = decl();
    let plan = e.up_stable(&st).await;
    assert_eq!(plan.counts().create, 1);
    assert_eq!(fired(&e, "CreateFlowLogs"), 3, "1 refused, then 2 retried");
    assert_eq!(fired(&e, "DescribeFlowLogs"), 1);
    let live = e.flow_logs().await;
    assert_eq!(live.len(), 1, "no duplicate flow log");
    assert_eq!(live[0].flow_log_id(), Some(e.id(fl.urn()).as_str()));
}

/// The ClientToken of CreateFlowLogs (the SDK does not fill it in) is the
/// same on every propagation retry of one create, and new for the next
/// create. moto's request log cannot show it, so this runs on mocks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_flow_logs_resends_one_client_token() {
    use aws_sdk_ec2::operation::create_flow_logs::{CreateFlowLogsError, CreateFlowLogsOutput};
    use aws_sdk_ec2::operation::describe_flow_logs::DescribeFlowLogsOutput;
    use aws_sdk_ec2::operation::describe_vpcs::DescribeVpcsOutput;
    use aws_smithy_mocks::{mock, mock_client, MockResponse, RuleMode};
    use aws_smithy_types::error::ErrorMetadata;
    use std::sync::{Arc, Mutex};

    let tokens = Arc::new(Mutex::new(Vec::<Option<String>>::new()));
    let seen = tokens.clone();
    let create = mock!(aws_sdk_ec2::Client::create_flow_logs).then_compute_response(move |r| {
        let mut t = seen.lock().unwrap();
        t.push(r.client_token().map(str::to_string));
        if t.len() % 3 != 0 {
            let meta = ErrorMetadata::builder()
                .code("InvalidParameter")
                .message(format!("Unable to assume given IAM role: {ROLE}"))
                .build();
            return MockResponse::Error(CreateFlowLogsError::generic(meta));
        }
        MockResponse::Output(
            CreateFlowLogsOutput::builder()
                .flow_log_ids("fl-0123456789abcdef0")
                .build(),
        )
    });
    let describe = mock!(aws_sdk_ec2::Client::describe_flow_logs).then_output(|| {
        DescribeFlowLogsOutput::builder()
            .flow_logs(
                aws_sdk_ec2::types::FlowLog::builder()
                    .flow_log_id("fl-0123456789abcdef0")
                    .resource_id("vpc-1")
                    .log_group_name("/vpc/flow")
                    .deliver_logs_permission_arn(ROLE)
                    .build(),
            )
            .build()
    });
    let vpcs = mock!(aws_sdk_ec2::Client::describe_vpcs).then_output(|| {
        DescribeVpcsOutput::builder()
            .vpcs(
                aws_sdk_ec2::types::Vpc::builder()
                    .vpc_id("vpc-1")
                    .owner_id("123456789012")
                    .build(),
            )
            .build()
    });
    let client = mock_client!(
        aws_sdk_ec2,
        RuleMode::MatchAny,
        &[&create, &describe, &vpcs]
    );
    let conf = aws_config::SdkConfig::builder()
        .region(aws_config::Region::new("us-east-1"))
        .behavior_version(aws_config::BehaviorVersion::latest())
        .build();
    let aws = aws::Aws::with_config(settings(), conf).with_ec2(client);
    let reg = support::aws::registry(Arc::new(aws));

    let mut st = Stack::new(STACK).unwrap();
    let fl = st
        .root()
        .resource("flow", FlowLog::new("vpc-1", "/vpc/flow", ROLE))
        .unwrap();
    let inputs = st.get(fl.urn()).unwrap().inputs.clone();
    let p = reg.get(FlowLog::TYPE).unwrap();
    let c = p.create(&support::aws::ctx(&fl), &inputs).await.unwrap();
    assert_eq!(c.id, "fl-0123456789abcdef0");
    p.create(&support::aws::ctx(&fl), &inputs).await.unwrap();

    let t = tokens.lock().unwrap().clone();
    assert_eq!(t.len(), 6, "two refusals and a success per create: {t:?}");
    let first = t[0].clone().expect("a client token is sent");
    assert!(!first.is_empty() && first.len() <= 64, "{first}");
    assert!(
        t[..3].iter().all(|x| x.as_deref() == Some(first.as_str())),
        "{t:?}"
    );
    let second = t[3].clone().expect("a client token is sent");
    assert_ne!(second, first, "a new create has a new token");
    assert!(
        t[3..].iter().all(|x| x.as_deref() == Some(second.as_str())),
        "{t:?}"
    );
    assert_eq!(
        c.outputs["arn"],
        json!("arn:aws:ec2:us-east-1:123456789012:vpc-flow-log/fl-0123456789abcdef0")
    );
}
