//! aws:ec2/{LaunchTemplate, Instance, Volume, VolumeAttachment} through the
//! engine against moto. The main test is the ClickHouse-like pattern: a launch
//! template whose user data is a shell script, an instance from it, and a gp3
//! data volume (500 GiB, 3000 IOPS, 125 MiB/s) attached at /dev/sdf.
//! VPC, subnets and security groups are fixtures made with the SDK directly.

mod support;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use morket_stack::engine::{Engine, EngineError};
use morket_stack::exec::Cancel;
use morket_stack::model::{HasUrn, Input, Resource, ResourceArgs, ResourceOptions, Stack, Urn};
use morket_stack::plan::{Action, PlanError, PlanOptions};
use morket_stack::provider::aws::ec2::instance::Instance;
use morket_stack::provider::aws::ec2::launch_template::{BlockDeviceMapping, LaunchTemplate};
use morket_stack::provider::aws::ec2::volume::Volume;
use morket_stack::provider::aws::ec2::volume_attachment::VolumeAttachment;
use morket_stack::provider::aws::{self, Aws, AwsSettings};
use morket_stack::state::StateStore;
use serde_json::json;
use support::aws::{
    create_security_group, create_subnet, create_vpc, ctx, failures, registry, stack_filter, step,
    store, tag_urn, Env, STACK,
};

const AMI_A: &str = "ami-12c6146b";
const AMI_B: &str = "ami-03cf127a";
const SCRIPT_V1: &str = "#!/bin/bash\nset -euo pipefail\nmkfs.xfs /dev/nvme1n1 || true\nmkdir -p /var/lib/clickhouse\nmount /dev/nvme1n1 /var/lib/clickhouse\nyum install -y clickhouse-server\nsystemctl enable --now clickhouse-server\n";
const SCRIPT_V2: &str = "#!/bin/bash\nset -euo pipefail\necho 'max_memory_usage: 10000000000' > /etc/clickhouse-server/users.d/mem.yaml\nsystemctl restart clickhouse-server\n";

fn settings() -> AwsSettings {
    AwsSettings {
        wait_timeout: Duration::from_secs(30),
        ..support::aws::settings()
    }
}

async fn env() -> Env {
    Env::new(settings()).await
}

struct Fx {
    subnet_a: String,
    subnet_b: String,
    sg_a: String,
    sg_b: String,
}

/// A VPC with two subnets in us-east-1a and two security groups.
async fn fixtures(ec2: &aws_sdk_ec2::Client) -> Fx {
    let vpc = create_vpc(ec2, "10.20.0.0/16").await;
    let subnet = |cidr: &'static str| create_subnet(ec2, &vpc, cidr, Some("us-east-1a"));
    let sg = |name: &'static str| create_security_group(ec2, name, name, Some(vpc.as_str()));
    Fx {
        subnet_a: subnet("10.20.1.0/24").await,
        subnet_b: subnet("10.20.2.0/24").await,
        sg_a: sg("clickhouse").await,
        sg_b: sg("clickhouse-2").await,
    }
}

async fn our_instances(ec2: &aws_sdk_ec2::Client) -> Vec<aws_sdk_ec2::types::Instance> {
    ec2.describe_instances()
        .filters(stack_filter())
        .send()
        .await
        .unwrap()
        .reservations()
        .iter()
        .flat_map(|r| r.instances().to_vec())
        .filter(|i| i.state().and_then(|s| s.name()).map(|n| n.as_str()) != Some("terminated"))
        .collect()
}

async fn our_volumes(ec2: &aws_sdk_ec2::Client) -> Vec<aws_sdk_ec2::types::Volume> {
    ec2.describe_volumes()
        .filters(stack_filter())
        .send()
        .await
        .unwrap()
        .volumes()
        .to_vec()
}

async fn our_templates(ec2: &aws_sdk_ec2::Client) -> Vec<aws_sdk_ec2::types::LaunchTemplate> {
    ec2.describe_launch_templates()
        .filters(stack_filter())
        .send()
        .await
        .unwrap()
        .launch_templates()
        .to_vec()
}

async fn default_version(
    ec2: &aws_sdk_ec2::Client,
    id: &str,
) -> aws_sdk_ec2::types::ResponseLaunchTemplateData {
    ec2.describe_launch_template_versions()
        .launch_template_id(id)
        .versions("$Default")
        .send()
        .await
        .unwrap()
        .launch_template_versions()[0]
        .launch_template_data()
        .unwrap()
        .clone()
}

fn decode(b64: &str) -> String {
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap(),
    )
    .unwrap()
}

fn tags_of(t: &[aws_sdk_ec2::types::Tag]) -> std::collections::BTreeMap<String, String> {
    aws::ec2::from_tags(t)
}

/// What changes between the steps of the ClickHouse test.
#[derive(Clone)]
struct Ch {
    user_data: &'static str,
    size: i32,
    iops: i32,
    throughput: i32,
    name: &'static str,
    device: &'static str,
}

struct ChStack {
    stack: Stack,
    lt: Resource<LaunchTemplate>,
    inst: Resource<Instance>,
    vol: Resource<Volume>,
    att: Resource<VolumeAttachment>,
}

fn ch_stack(fx: &Fx, c: &Ch) -> ChStack {
    let mut st = Stack::new(STACK).unwrap();
    let mut root = st.root();
    let mut lt = LaunchTemplate::new("clickhouse", AMI_A, "t3.large");
    lt.vpc_security_group_ids = vec![fx.sg_a.as_str().into()];
    lt.user_data = Some(c.user_data.into());
    lt.block_device_mappings = vec![BlockDeviceMapping::new("/dev/xvda", 50)];
    lt.tags.insert("Name".into(), "clickhouse".into());
    let lt = root.resource("clickhouse", lt).unwrap();
    let mut inst = Instance::from_launch_template(lt.id(), fx.subnet_a.as_str());
    inst.tags.insert("Name".into(), c.name.into());
    let inst = root.resource("clickhouse", inst).unwrap();
    let mut vol = Volume::new(inst.availability_zone(), c.size);
    vol.iops = Some(c.iops);
    vol.throughput = Some(c.throughput);
    vol.encrypted = true;
    vol.tags.insert("Name".into(), "clickhouse-data".into());
    let vol = root.resource("clickhouse-data", vol).unwrap();
    // The same volume cannot be attached twice: replace by detaching first.
    let att = root
        .resource_with(
            "clickhouse-data",
            VolumeAttachment::new(c.device, vol.id(), inst.id()),
            ResourceOptions::new().delete_before_replace(true),
        )
        .unwrap();
    ChStack {
        stack: st,
        lt,
        inst,
        vol,
        att,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_pattern_lifecycle_against_moto() {
    let mut e = env().await;
    let fx = fixtures(&e.ec2).await;
    let cancel = Cancel::new();
    let mut c = Ch {
        user_data: SCRIPT_V1,
        size: 500,
        iops: 3000,
        throughput: 125,
        name: "clickhouse-1",
        device: "/dev/sdf",
    };

    // Create.
    let s1 = ch_stack(&fx, &c);
    let plan = e.up(&s1.stack).await;
    assert_eq!(plan.counts().create, 4);

    let lt_rec = e.st.resource(s1.lt.urn()).unwrap().unwrap();
    let lts = our_templates(&e.ec2).await;
    assert_eq!(lts.len(), 1);
    assert_eq!(lts[0].launch_template_id(), Some(lt_rec.id.as_str()));
    assert_eq!(lts[0].launch_template_name(), Some("clickhouse"));
    let t = tags_of(lts[0].tags());
    assert_eq!(t["Name"], "clickhouse");
    assert_eq!(t["Project"], "morket");
    assert_eq!(tag_urn(&t["morket:urn"]), s1.lt.urn().as_str());
    let d = default_version(&e.ec2, &lt_rec.id).await;
    assert_eq!(decode(d.user_data().unwrap()), SCRIPT_V1);
    assert_eq!(d.image_id(), Some(AMI_A));
    assert_eq!(d.security_group_ids(), std::slice::from_ref(&fx.sg_a));
    assert_eq!(
        d.metadata_options()
            .and_then(|m| m.http_tokens())
            .map(|t| t.as_str()),
        Some("required")
    );
    let bdm = &d.block_device_mappings()[0];
    assert_eq!(bdm.device_name(), Some("/dev/xvda"));
    assert_eq!(bdm.ebs().and_then(|e| e.volume_size()), Some(50));
    assert_eq!(lt_rec.outputs["latest_version"], json!(1));
    assert!(lt_rec.outputs["arn"]
        .as_str()
        .unwrap()
        .ends_with(&format!(":launch-template/{}", lt_rec.id)));

    let inst_rec = e.st.resource(s1.inst.urn()).unwrap().unwrap();
    let insts = our_instances(&e.ec2).await;
    assert_eq!(insts.len(), 1);
    let i = &insts[0];
    assert_eq!(i.instance_id(), Some(inst_rec.id.as_str()));
    assert_eq!(i.state().unwrap().name().unwrap().as_str(), "running");
    assert_eq!(i.subnet_id(), Some(fx.subnet_a.as_str()));
    assert_eq!(i.image_id(), Some(AMI_A), "AMI from the launch template");
    assert_eq!(i.instance_type().unwrap().as_str(), "t3.large");
    let t = tags_of(i.tags());
    assert_eq!(t["Name"], "clickhouse-1");
    assert_eq!(tag_urn(&t["morket:urn"]), s1.inst.urn().as_str());
    assert_eq!(
        inst_rec.outputs["private_ip"].as_str(),
        i.private_ip_address()
    );
    assert_eq!(inst_rec.outputs["availability_zone"], json!("us-east-1a"));
    assert!(inst_rec.outputs["primary_network_interface_id"]
        .as_str()
        .is_some_and(|s| s.starts_with("eni-")));

    let vol_rec = e.st.resource(s1.vol.urn()).unwrap().unwrap();
    let vols = our_volumes(&e.ec2).await;
    assert_eq!(vols.len(), 1);
    let v = &vols[0];
    assert_eq!(v.volume_id(), Some(vol_rec.id.as_str()));
    assert_eq!(v.size(), Some(500));
    assert_eq!(v.volume_type().unwrap().as_str(), "gp3");
    assert_eq!(v.iops(), Some(3000));
    assert_eq!(v.throughput(), Some(125));
    assert_eq!(v.encrypted(), Some(true));
    assert_eq!(v.availability_zone(), Some("us-east-1a"));
    let t = tags_of(v.tags());
    assert_eq!(t["Name"], "clickhouse-data");
    assert_eq!(tag_urn(&t["morket:urn"]), s1.vol.urn().as_str());
    let a = &v.attachments()[0];
    assert_eq!(a.instance_id(), Some(inst_rec.id.as_str()));
    assert_eq!(a.device(), Some("/dev/sdf"));
    assert_eq!(a.state().unwrap().as_str(), "attached");
    let att_rec = e.st.resource(s1.att.urn()).unwrap().unwrap();
    assert_eq!(
        att_rec.id,
        format!("vai-sdf-{}-{}", vol_rec.id, inst_rec.id)
    );

    // No-op preview.
    let p = e
        .eng
        .preview(&s1.stack, &PlanOptions::default())
        .await
        .unwrap();
    assert!(!p.has_changes(), "{:?}", p.changes().collect::<Vec<_>>());

    // Update in place: new user data (a new default version), the volume
    // grows with more IOPS and throughput, the instance is renamed.
    c.user_data = SCRIPT_V2;
    c.size = 600;
    c.iops = 4000;
    c.throughput = 250;
    c.name = "clickhouse-renamed";
    let s2 = ch_stack(&fx, &c);
    let plan = e.up(&s2.stack).await;
    assert_eq!(step(&plan, s2.lt.urn()).action, Action::Update);
    assert_eq!(step(&plan, s2.lt.urn()).changed, vec!["user_data"]);
    assert_eq!(step(&plan, s2.vol.urn()).action, Action::Update);
    assert_eq!(
        step(&plan, s2.vol.urn()).changed,
        vec!["iops", "size", "throughput"]
    );
    assert_eq!(step(&plan, s2.inst.urn()).action, Action::Update);
    assert_eq!(plan.counts().replace, 0);
    let lts = our_templates(&e.ec2).await;
    assert_eq!(lts[0].latest_version_number(), Some(2));
    assert_eq!(lts[0].default_version_number(), Some(2));
    let d = default_version(&e.ec2, &lt_rec.id).await;
    assert_eq!(decode(d.user_data().unwrap()), SCRIPT_V2);
    let lt_rec = e.st.resource(s1.lt.urn()).unwrap().unwrap();
    assert_eq!(lt_rec.outputs["default_version"], json!(2));
    let v = &our_volumes(&e.ec2).await[0];
    assert_eq!(v.volume_id(), Some(vol_rec.id.as_str()), "same volume");
    assert_eq!(
        (v.size(), v.iops(), v.throughput()),
        (Some(600), Some(4000), Some(250))
    );
    let i = &our_instances(&e.ec2).await[0];
    assert_eq!(i.instance_id(), Some(inst_rec.id.as_str()), "same instance");
    assert_eq!(tags_of(i.tags())["Name"], "clickhouse-renamed");
    let p = e
        .eng
        .preview(&s2.stack, &PlanOptions::default())
        .await
        .unwrap();
    assert!(!p.has_changes(), "{:?}", p.changes().collect::<Vec<_>>());

    // Shrinking the volume is refused with a clear error, nothing is changed.
    let mut shrink = c.clone();
    shrink.size = 100;
    let s3 = ch_stack(&fx, &shrink);
    let (_, report) = e
        .eng
        .up(&s3.stack, &PlanOptions::default(), &cancel)
        .await
        .unwrap();
    assert!(!report.is_success());
    let f = failures(&report);
    assert!(
        f.iter()
            .any(|m| m.contains("size") && m.contains("100") && m.contains("only grow")),
        "{f:?}"
    );
    assert_eq!(our_volumes(&e.ec2).await[0].size(), Some(600));

    // Out-of-band changes show in a read.
    e.ec2
        .modify_volume()
        .volume_id(&vol_rec.id)
        .size(700)
        .send()
        .await
        .unwrap();
    e.ec2
        .create_tags()
        .resources(&inst_rec.id)
        .tags(
            aws_sdk_ec2::types::Tag::builder()
                .key("Name")
                .value("oob")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let out = e
        .ec2
        .create_launch_template_version()
        .launch_template_id(&lt_rec.id)
        .launch_template_data(
            aws_sdk_ec2::types::RequestLaunchTemplateData::builder()
                .image_id(AMI_A)
                .instance_type(aws_sdk_ec2::types::InstanceType::T3Xlarge)
                .user_data(base64::engine::general_purpose::STANDARD.encode("echo oob"))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let v3 = out
        .launch_template_version()
        .unwrap()
        .version_number()
        .unwrap();
    e.ec2
        .modify_launch_template()
        .launch_template_id(&lt_rec.id)
        .default_version(v3.to_string())
        .send()
        .await
        .unwrap();
    for (r, id) in [
        (s2.vol.urn(), &vol_rec.id),
        (s2.inst.urn(), &inst_rec.id),
        (s2.lt.urn(), &lt_rec.id),
    ] {
        let rec = e.st.resource(r).unwrap().unwrap();
        let read = e
            .reg
            .get(r.type_name())
            .unwrap()
            .read(&ctx(r), id, &rec.inputs, &rec.outputs)
            .await
            .unwrap()
            .unwrap();
        match r.type_name() {
            "aws:ec2/Volume" => {
                assert_eq!(read.inputs["size"], json!(700));
                assert_eq!(read.inputs["iops"], json!(4000));
            }
            "aws:ec2/Instance" => {
                assert_eq!(read.inputs["tags"], json!({"Name": "oob"}));
                assert_eq!(read.inputs["launch_template_id"], json!(lt_rec.id));
            }
            _ => {
                assert_eq!(read.inputs["instance_type"], json!("t3.xlarge"));
                assert_eq!(read.inputs["user_data"], json!("echo oob"));
                assert_eq!(read.outputs["default_version"], json!(3));
            }
        }
    }
    let p = e
        .eng
        .preview(&s2.stack, &PlanOptions::default())
        .await
        .unwrap();
    assert!(!p.has_changes(), "a preview compares with state, not live");

    // Force-new on the attachment: another device (stop, detach, then
    // attach; the instance stays stopped, as in Terraform).
    c.device = "/dev/sdg";
    let s4 = ch_stack(&fx, &c);
    let plan = e.up(&s4.stack).await;
    assert_eq!(step(&plan, s4.att.urn()).action, Action::Replace);
    assert_eq!(
        step(&plan, s4.att.urn()).replace_fields,
        vec!["device_name"]
    );
    let v = &our_volumes(&e.ec2).await[0];
    assert_eq!(v.attachments().len(), 1);
    assert_eq!(v.attachments()[0].device(), Some("/dev/sdg"));
    assert_eq!(instance_state(&e.ec2, &inst_rec.id).await, "stopped");
    assert_eq!(
        e.st.resource(s4.att.urn()).unwrap().unwrap().id,
        format!("vai-sdg-{}-{}", vol_rec.id, inst_rec.id)
    );
    let p = e
        .eng
        .preview(&s4.stack, &PlanOptions::default())
        .await
        .unwrap();
    assert!(!p.has_changes(), "{:?}", p.changes().collect::<Vec<_>>());

    // Destroy: detached, volume deleted, instance terminated, template gone.
    let (_, report) = e.eng.destroy(&s4.stack, &cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert!(our_instances(&e.ec2).await.is_empty());
    assert!(our_volumes(&e.ec2).await.is_empty());
    assert!(our_templates(&e.ec2).await.is_empty());
    assert!(e.st.resources().unwrap().is_empty());
}

fn inst_stack(i: Instance) -> (Stack, Resource<Instance>) {
    let mut st = Stack::new(STACK).unwrap();
    let r = st.root().resource("web", i).unwrap();
    (st, r)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instance_type_change_stops_modifies_starts_and_force_new_replaces() {
    let mut e = env().await;
    let fx = fixtures(&e.ec2).await;
    let cancel = Cancel::new();
    let mut i = Instance::new(AMI_A, "t3.micro", fx.subnet_a.as_str());
    i.vpc_security_group_ids = vec![fx.sg_a.as_str().into()];
    i.tags.insert("Name".into(), "web".into());
    let (s, r) = inst_stack(i.clone());
    e.up(&s).await;
    let id = e.st.resource(r.urn()).unwrap().unwrap().id;
    let live = our_instances(&e.ec2).await;
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].instance_type().unwrap().as_str(), "t3.micro");
    assert_eq!(
        live[0].security_groups()[0].group_id(),
        Some(fx.sg_a.as_str())
    );

    // instance_type and security groups in place.
    i.instance_type = Some("t3.small".into());
    i.vpc_security_group_ids = vec![fx.sg_b.as_str().into()];
    let (s, _) = inst_stack(i.clone());
    let plan = e.up(&s).await;
    assert_eq!(plan.steps[0].action, Action::Update);
    assert_eq!(
        plan.steps[0].changed,
        vec!["instance_type", "vpc_security_group_ids"]
    );
    let live = our_instances(&e.ec2).await;
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].instance_id(), Some(id.as_str()));
    assert_eq!(live[0].instance_type().unwrap().as_str(), "t3.small");
    assert_eq!(live[0].state().unwrap().name().unwrap().as_str(), "running");
    let groups: Vec<_> = live[0]
        .security_groups()
        .iter()
        .filter_map(|g| g.group_id())
        .collect();
    assert_eq!(groups, vec![fx.sg_b.as_str()]);
    let rec = e.st.resource(r.urn()).unwrap().unwrap();
    assert_eq!(rec.outputs["instance_type"], json!("t3.small"));
    e.no_changes(&s).await;

    // Out-of-band type change (stop/modify/start by hand), then a read.
    e.ec2
        .stop_instances()
        .instance_ids(&id)
        .send()
        .await
        .unwrap();
    e.ec2
        .modify_instance_attribute()
        .instance_id(&id)
        .instance_type(
            aws_sdk_ec2::types::AttributeValue::builder()
                .value("t3.medium")
                .build(),
        )
        .send()
        .await
        .unwrap();
    e.ec2
        .start_instances()
        .instance_ids(&id)
        .send()
        .await
        .unwrap();
    let read = e
        .reg
        .get(Instance::TYPE)
        .unwrap()
        .read(&ctx(r.urn()), &id, &rec.inputs, &rec.outputs)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.inputs["instance_type"], json!("t3.medium"));
    assert_eq!(read.inputs["subnet_id"], json!(fx.subnet_a));

    // Force-new: another subnet.
    i.subnet_id = Some(fx.subnet_b.as_str().into());
    let (s, _) = inst_stack(i.clone());
    let plan = e.up(&s).await;
    assert_eq!(plan.steps[0].action, Action::Replace);
    assert_eq!(plan.steps[0].replace_fields, vec!["subnet_id"]);
    let live = our_instances(&e.ec2).await;
    assert_eq!(live.len(), 1, "old instance terminated: {live:?}");
    assert_ne!(live[0].instance_id(), Some(id.as_str()));
    assert_eq!(live[0].subnet_id(), Some(fx.subnet_b.as_str()));
    let id2 = live[0].instance_id().unwrap().to_string();

    // Force-new: another AMI.
    i.image_id = Some(AMI_B.into());
    let (s, _) = inst_stack(i.clone());
    let plan = e.up(&s).await;
    assert_eq!(plan.steps[0].replace_fields, vec!["image_id"]);
    let live = our_instances(&e.ec2).await;
    assert_eq!(live.len(), 1);
    assert_ne!(live[0].instance_id(), Some(id2.as_str()));
    assert_eq!(live[0].image_id(), Some(AMI_B));
    let p = e.eng.preview(&s, &PlanOptions::default()).await.unwrap();
    assert!(!p.has_changes());

    let (_, report) = e.eng.destroy(&s, &cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert!(our_instances(&e.ec2).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn template_rename_and_volume_zone_replace_type_updates() {
    let mut e = env().await;
    let cancel = Cancel::new();
    let build = |name: &str, az: &str, vtype: &str| {
        let mut st = Stack::new(STACK).unwrap();
        let mut root = st.root();
        let mut lt = LaunchTemplate::new(name, AMI_A, "t3.micro");
        lt.user_data = Some(Input::secret("#!/bin/sh\necho secret-token\n"));
        let lt = root.resource("tpl", lt).unwrap();
        let mut v = Volume::new(az, 20);
        v.volume_type = vtype.into();
        let v = root.resource("scratch", v).unwrap();
        (st, lt, v)
    };
    let (s, lt, vol) = build("tpl-a", "us-east-1a", "gp3");
    e.up(&s).await;
    let lt_id = e.st.resource(lt.urn()).unwrap().unwrap().id;
    let vol_id = e.st.resource(vol.urn()).unwrap().unwrap().id;
    let v = &our_volumes(&e.ec2).await[0];
    assert_eq!(v.iops(), Some(3000), "gp3 default IOPS");
    let p = e.eng.preview(&s, &PlanOptions::default()).await.unwrap();
    assert!(
        !p.has_changes(),
        "defaults read back are not drift: {:?}",
        p.steps
    );

    // A secret user data stays secret in the live view.
    let read = e
        .reg
        .get(LaunchTemplate::TYPE)
        .unwrap()
        .read(&ctx(lt.urn()), &lt_id, &s.resources()[0].inputs, &json!({}))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        read.inputs["user_data"],
        json!({"$secret": "#!/bin/sh\necho secret-token\n"})
    );

    // Type gp3 → gp2 in place.
    let (s, _, _) = build("tpl-a", "us-east-1a", "gp2");
    let plan = e.up(&s).await;
    assert_eq!(step(&plan, vol.urn()).action, Action::Update);
    assert_eq!(
        our_volumes(&e.ec2).await[0].volume_type().unwrap().as_str(),
        "gp2"
    );

    // Rename the template and move the volume: both replaced.
    let (s, _, _) = build("tpl-b", "us-east-1b", "gp2");
    let plan = e.up(&s).await;
    assert_eq!(step(&plan, lt.urn()).action, Action::Replace);
    assert_eq!(step(&plan, lt.urn()).replace_fields, vec!["name"]);
    assert_eq!(step(&plan, vol.urn()).action, Action::Replace);
    assert_eq!(
        step(&plan, vol.urn()).replace_fields,
        vec!["availability_zone"]
    );
    let lts = our_templates(&e.ec2).await;
    assert_eq!(lts.len(), 1);
    assert_eq!(lts[0].launch_template_name(), Some("tpl-b"));
    assert_ne!(lts[0].launch_template_id(), Some(lt_id.as_str()));
    let vols = our_volumes(&e.ec2).await;
    assert_eq!(vols.len(), 1);
    assert_ne!(vols[0].volume_id(), Some(vol_id.as_str()));
    assert_eq!(vols[0].availability_zone(), Some("us-east-1b"));
    let old = e.ec2.describe_volumes().volume_ids(&vol_id).send().await;
    assert!(
        old.is_err() || old.unwrap().volumes().is_empty(),
        "old volume deleted"
    );

    let (_, report) = e.eng.destroy(&s, &cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert!(our_templates(&e.ec2).await.is_empty());
    assert!(our_volumes(&e.ec2).await.is_empty());
}

/// moto ignores ClientToken, so a retried RunInstances makes a second
/// instance: find_by_urn must return both, and the engine adopts one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_instance_create_is_adopted_by_its_urn_tag() {
    let mut e = env().await;
    let fx = fixtures(&e.ec2).await;
    let (s, r) = inst_stack(Instance::new(AMI_A, "t3.micro", fx.subnet_a.as_str()));
    let inputs = s.resources()[0].inputs.clone();
    let st = e.st.clone();
    let created = e.interrupted_create(&r, &inputs).await;
    let p = e.reg.get(Instance::TYPE).unwrap();
    let found = p.find_by_urn(&ctx(r.urn()), &inputs).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, created.id);
    assert_eq!(found[0].outputs["availability_zone"], json!("us-east-1a"));

    let mut eng = Engine::new(Box::new(st.clone()), e.reg.clone());
    let (plan, report) = eng
        .up(&s, &PlanOptions::default(), &Cancel::new())
        .await
        .unwrap();
    assert!(report.is_success(), "{report:?}");
    assert_eq!(plan.counts().create, 0, "adopted, not created again");
    assert_eq!(st.resource(r.urn()).unwrap().unwrap().id, created.id);
    assert_eq!(our_instances(&e.ec2).await.len(), 1, "no duplicate");
    assert!(st.pending().unwrap().is_empty());

    // A second create under the same URN (what a retry does on moto):
    // both are found.
    let again = p.create(&ctx(r.urn()), &inputs).await.unwrap();
    let found = p.find_by_urn(&ctx(r.urn()), &inputs).await.unwrap();
    let mut ids: Vec<_> = found.iter().map(|c| c.id.clone()).collect();
    ids.sort();
    let mut want = vec![created.id.clone(), again.id.clone()];
    want.sort();
    assert_eq!(ids, want);
}

/// Validation happens in the plan, before any API call: the AWS connection
/// points at a closed port.
#[tokio::test]
async fn bad_inputs_are_refused_before_any_call() {
    let conf = aws_config::SdkConfig::builder()
        .endpoint_url("http://127.0.0.1:1")
        .region(aws_config::Region::new("us-east-1"))
        .behavior_version(aws_config::BehaviorVersion::latest())
        .build();
    let reg = registry(Arc::new(Aws::with_config(AwsSettings::default(), conf)));
    let mut eng = Engine::new(Box::new(store()), reg);

    async fn expect_invalid<A: ResourceArgs>(eng: &mut Engine, args: A, field: &str, value: &str) {
        let mut st = Stack::new(STACK).unwrap();
        st.root().resource("x", args).unwrap();
        match eng.preview(&st, &PlanOptions::default()).await {
            Err(EngineError::Plan(PlanError::Invalid(errs))) => {
                let m = errs[0].1.to_string();
                assert!(m.contains(field) && m.contains(value), "{m}");
            }
            other => panic!("expected invalid {field}: {other:?}"),
        }
    }

    let mut v = Volume::new("us-east-1a", 500);
    v.throughput = Some(2000);
    expect_invalid(&mut eng, v.clone(), "throughput", "2000").await;
    v.throughput = None;
    v.volume_type = "gp2".into();
    v.iops = Some(3000);
    expect_invalid(&mut eng, v.clone(), "iops", "3000").await;
    v.iops = None;
    v.volume_type = "st9".into();
    expect_invalid(&mut eng, v.clone(), "type", "st9").await;
    v.volume_type = "io2".into();
    expect_invalid(&mut eng, v.clone(), "iops", "(none)").await;
    let mut v = Volume::new("us-east-1a", 100);
    v.kms_key_id = Some("arn:aws:kms:us-east-1:1:key/x".into());
    expect_invalid(&mut eng, v, "kms_key_id", "encrypted").await;

    let mut lt = LaunchTemplate::new("ok-name", AMI_A, "large");
    expect_invalid(&mut eng, lt.clone(), "instance_type", "large").await;
    lt.instance_type = "t3.micro".into();
    lt.metadata_options.http_tokens = "sometimes".into();
    expect_invalid(
        &mut eng,
        lt.clone(),
        "metadata_options.http_tokens",
        "sometimes",
    )
    .await;
    lt.metadata_options.http_tokens = "required".into();
    lt.name = "no spaces allowed".into();
    expect_invalid(&mut eng, lt.clone(), "name", "no spaces allowed").await;
    lt.name = "ok".into();
    lt.name = "ok-name".into();
    lt.block_device_mappings = vec![BlockDeviceMapping::new("sdf", 10)];
    expect_invalid(&mut eng, lt, "block_device_mappings[0].device_name", "sdf").await;

    let mut i = Instance::new(AMI_A, "t3.micro", "subnet-1");
    i.image_id = None;
    expect_invalid(&mut eng, i.clone(), "image_id", "required").await;
    i.image_id = Some("ubuntu".into());
    expect_invalid(&mut eng, i.clone(), "image_id", "ubuntu").await;
    i.image_id = Some(AMI_A.into());
    i.private_ip = Some("10.0.0.300".into());
    expect_invalid(&mut eng, i.clone(), "private_ip", "10.0.0.300").await;
    i.private_ip = None;
    i.subnet_id = Some("vpc-123".into());
    expect_invalid(&mut eng, i, "subnet_id", "vpc-123").await;
    let mut i = Instance::from_launch_template("lt-1", "subnet-1");
    i.launch_template_version = Some("latest".into());
    expect_invalid(&mut eng, i, "launch_template_version", "latest").await;

    expect_invalid(
        &mut eng,
        VolumeAttachment::new("sdf", "vol-1", "i-1"),
        "device_name",
        "sdf",
    )
    .await;
    expect_invalid(
        &mut eng,
        VolumeAttachment::new("/dev/sdf", "i-1", "vol-1"),
        "volume_id",
        "i-1",
    )
    .await;
}

/// An instance launched with the template's `version` output is replaced
/// when the template changes (user data runs at first boot only), and the
/// data volume moves to the new instance: detached first, never replaced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instance_pinned_to_the_template_version_is_replaced_by_a_template_change() {
    let mut e = env().await;
    let fx = fixtures(&e.ec2).await;
    let declare = |script: &str| {
        let mut st = Stack::new(STACK).unwrap();
        let mut root = st.root();
        let mut lt = LaunchTemplate::new("clickhouse", AMI_A, "t3.large");
        lt.user_data = Some(script.into());
        let lt = root.resource("lt", lt).unwrap();
        let mut inst = Instance::from_launch_template(lt.id(), fx.subnet_a.as_str());
        inst.launch_template_version = Some(lt.version().into());
        let inst = root.resource("server", inst).unwrap();
        let vol = root
            .resource("data", Volume::new("us-east-1a", 100))
            .unwrap();
        let att = root
            .resource(
                "data",
                VolumeAttachment::new("/dev/sdf", vol.id(), inst.id()),
            )
            .unwrap();
        (st, lt, inst, vol, att)
    };
    let (s1, lt, inst, vol, att) = declare(SCRIPT_V1);
    e.up_stable(&s1).await;
    assert_eq!(e.outputs(&lt)["version"], json!("1"));
    let first = e.id(&inst);
    let volume = e.id(&vol);

    let (s2, ..) = declare(SCRIPT_V2);
    let plan = e.up_stable(&s2).await;
    assert_eq!(step(&plan, &lt).action, Action::Update);
    assert_eq!(step(&plan, &inst).action, Action::Replace);
    assert_eq!(
        step(&plan, &inst).replace_fields,
        vec!["launch_template_version"]
    );
    assert!(
        !step(&plan, &inst).delete_before_replace,
        "new instance first"
    );
    assert_eq!(step(&plan, &att).action, Action::Replace);
    assert!(
        step(&plan, &att).delete_before_replace,
        "detach, then attach"
    );
    assert!(
        plan.steps.iter().all(|s| s.urn != *vol.urn()),
        "the volume stays"
    );

    assert_eq!(e.outputs(&lt)["version"], json!("2"));
    // Read back from the tags AWS puts on it; what the template supplies
    // is not reported as the instance's own.
    let read = e.read(&inst).await.unwrap();
    assert_eq!(read["launch_template_version"], json!("2"));
    assert_eq!(read["launch_template_id"], json!(e.id(&lt)));
    assert_eq!(read["image_id"], serde_json::Value::Null);
    assert_eq!(read["tags"], json!({}));
    let live = our_instances(&e.ec2).await;
    let running: Vec<_> = live
        .iter()
        .filter(|i| {
            i.state()
                .and_then(|s| s.name())
                .is_some_and(|n| n.as_str() == "running")
        })
        .collect();
    assert_eq!(running.len(), 1, "{live:?}");
    let second = running[0].instance_id().unwrap();
    assert_ne!(second, first);
    assert_eq!(e.id(&vol), volume);
    let v = &our_volumes(&e.ec2).await[0];
    assert_eq!(v.attachments().len(), 1);
    assert_eq!(v.attachments()[0].instance_id(), Some(second));
}

async fn instance_state(ec2: &aws_sdk_ec2::Client, id: &str) -> String {
    let out = ec2
        .describe_instances()
        .instance_ids(id)
        .send()
        .await
        .unwrap();
    let i = &out.reservations()[0].instances()[0];
    i.state().unwrap().name().unwrap().as_str().to_string()
}

async fn attachments_of(
    ec2: &aws_sdk_ec2::Client,
    volume: &str,
) -> Vec<aws_sdk_ec2::types::VolumeAttachment> {
    let out = ec2
        .describe_volumes()
        .volume_ids(volume)
        .send()
        .await
        .unwrap();
    out.volumes()[0].attachments().to_vec()
}

/// Applies `s`, which must succeed; returns the engine's attempts at each
/// operation on `urn` (a retry inside the provider is not an engine attempt).
async fn up_attempts(e: &mut Env, s: &Stack, urn: &Urn) -> Vec<u32> {
    let (_, report) = e
        .eng
        .up(s, &PlanOptions::default(), &e.cancel)
        .await
        .unwrap();
    assert!(report.is_success(), "{report:?}");
    attempts(&report, urn)
}

fn attempts(report: &morket_stack::exec::ApplyReport, urn: &Urn) -> Vec<u32> {
    report
        .ops
        .iter()
        .filter(|o| &o.urn == urn)
        .map(|o| o.attempts)
        .collect()
}

fn fired(e: &Env, i: usize) -> serde_json::Value {
    e.moto.faults_fired()["faults"][i]["fired"].clone()
}

/// RunInstances succeeds and DescribeInstances answers
/// InvalidInstanceID.NotFound for a while (AWS's own example of eventual
/// consistency): the wait for `running` sits it out within the one create,
/// and exactly one instance is launched and recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instance_not_yet_visible_after_run_instances_is_waited_out() {
    let mut e = env().await;
    let fx = fixtures(&e.ec2).await;
    let (s, r) = inst_stack(Instance::new(AMI_A, "t3.micro", fx.subnet_a.as_str()));
    e.moto
        .fail("DescribeInstances", "InvalidInstanceID.NotFound", 400, 3);
    assert_eq!(up_attempts(&mut e, &s, r.urn()).await, vec![1]);
    assert_eq!(fired(&e, 0), 3);
    let live = our_instances(&e.ec2).await;
    assert_eq!(live.len(), 1, "one instance: {live:?}");
    assert_eq!(live[0].instance_id(), Some(e.id(&r).as_str()));
    assert_eq!(instance_state(&e.ec2, &e.id(&r)).await, "running");
    assert_eq!(e.outputs(&r)["availability_zone"], json!("us-east-1a"));
    e.no_changes(&s).await;
}

/// A type change stops the instance; StopInstances refused once with
/// IncorrectInstanceState (the instance still pending) is sent again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instance_stop_refused_while_busy_is_retried() {
    let mut e = env().await;
    let fx = fixtures(&e.ec2).await;
    let mut i = Instance::new(AMI_A, "t3.micro", fx.subnet_a.as_str());
    let (s, r) = inst_stack(i.clone());
    e.up(&s).await;
    i.instance_type = Some("t3.small".into());
    let (s, _) = inst_stack(i);
    e.moto
        .fail("StopInstances", "IncorrectInstanceState", 400, 1);
    assert_eq!(up_attempts(&mut e, &s, r.urn()).await, vec![1]);
    assert_eq!(fired(&e, 0), 1);
    let live = our_instances(&e.ec2).await;
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].instance_type().unwrap().as_str(), "t3.small");
    assert_eq!(instance_state(&e.ec2, &e.id(&r)).await, "running");
}

/// CreateVolume then DescribeVolumes answering InvalidVolume.NotFound: the
/// first wait sits it out, one volume. Deleted just after its detach, the
/// volume is still "in use" for a moment: DeleteVolume is sent again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volume_not_yet_visible_and_still_in_use_are_waited_out() {
    let mut e = env().await;
    let mut st = Stack::new(STACK).unwrap();
    let v = st
        .root()
        .resource("data", Volume::new("us-east-1a", 10))
        .unwrap();
    e.moto
        .fail("DescribeVolumes", "InvalidVolume.NotFound", 400, 3);
    assert_eq!(up_attempts(&mut e, &st, v.urn()).await, vec![1]);
    assert_eq!(fired(&e, 0), 3);
    let live = our_volumes(&e.ec2).await;
    assert_eq!(live.len(), 1, "one volume: {live:?}");
    assert_eq!(live[0].volume_id(), Some(e.id(&v).as_str()));
    assert_eq!(live[0].state().unwrap().as_str(), "available");
    e.no_changes(&st).await;

    e.moto.fail("DeleteVolume", "VolumeInUse", 400, 2);
    let (_, report) = e.eng.destroy(&st, &e.cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert_eq!(attempts(&report, v.urn()), vec![1]);
    assert_eq!(fired(&e, 1), 2);
    assert!(our_volumes(&e.ec2).await.is_empty());
}

/// CreateLaunchTemplate then DescribeLaunchTemplates answering NotFound: the
/// first read sits it out. An update's new version not yet visible to
/// ModifyLaunchTemplate: the call is sent again, and only one version is
/// added.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn launch_template_and_its_new_version_not_yet_visible_are_waited_out() {
    let mut e = env().await;
    let declare = |script: &str| {
        let mut st = Stack::new(STACK).unwrap();
        let mut lt = LaunchTemplate::new("web", AMI_A, "t3.micro");
        lt.user_data = Some(script.into());
        let lt = st.root().resource("web", lt).unwrap();
        (st, lt)
    };
    let (s1, lt) = declare(SCRIPT_V1);
    e.moto.fail(
        "DescribeLaunchTemplates",
        "InvalidLaunchTemplateId.NotFound",
        400,
        2,
    );
    assert_eq!(up_attempts(&mut e, &s1, lt.urn()).await, vec![1]);
    assert_eq!(fired(&e, 0), 2);
    assert_eq!(our_templates(&e.ec2).await.len(), 1);
    assert_eq!(e.outputs(&lt)["latest_version"], json!(1));

    let (s2, _) = declare(SCRIPT_V2);
    e.moto.fail(
        "ModifyLaunchTemplate",
        "InvalidLaunchTemplateId.VersionNotFound",
        400,
        2,
    );
    assert_eq!(up_attempts(&mut e, &s2, lt.urn()).await, vec![1]);
    assert_eq!(fired(&e, 1), 2);
    let lts = our_templates(&e.ec2).await;
    assert_eq!(lts.len(), 1);
    assert_eq!(lts[0].latest_version_number(), Some(2), "one new version");
    assert_eq!(lts[0].default_version_number(), Some(2));
    let d = default_version(&e.ec2, &e.id(&lt)).await;
    assert_eq!(decode(d.user_data().unwrap()), SCRIPT_V2);
    e.no_changes(&s2).await;
}

/// AttachVolume refused with IncorrectState (the volume still detaching or
/// creating) and then IncorrectInstanceState (the instance pending) is sent
/// again within the one create.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attach_volume_refused_while_busy_is_retried() {
    let mut e = env().await;
    let fx = fixtures(&e.ec2).await;
    let mut st = Stack::new(STACK).unwrap();
    let mut root = st.root();
    let inst = root
        .resource(
            "server",
            Instance::new(AMI_A, "t3.micro", fx.subnet_a.as_str()),
        )
        .unwrap();
    let vol = root
        .resource("data", Volume::new("us-east-1a", 10))
        .unwrap();
    let att = root
        .resource(
            "data",
            VolumeAttachment::new("/dev/sdf", vol.id(), inst.id()),
        )
        .unwrap();
    e.moto.fail("AttachVolume", "IncorrectState", 400, 1);
    e.moto
        .fail("AttachVolume", "IncorrectInstanceState", 400, 1);
    assert_eq!(up_attempts(&mut e, &st, att.urn()).await, vec![1]);
    assert_eq!((fired(&e, 0), fired(&e, 1)), (json!(1), json!(1)));
    let a = attachments_of(&e.ec2, &e.id(&vol)).await;
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(a[0].instance_id(), Some(e.id(&inst).as_str()));
    assert_eq!(a[0].state().unwrap().as_str(), "attached");
    e.no_changes(&st).await;
}

/// Review S9. The instance under a volume is replaced (a new subnet: the
/// new instance first), so the attachment moves (detached first) while the
/// old instance still has the volume mounted. The old instance is stopped
/// before DetachVolume: with the detach refused once, it is found `stopped`
/// with the volume still attached, and the next `up` finishes the move.
/// With `stop_instance_before_detaching` off (an in-place change), a move
/// detaches from the running instance and leaves it running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instance_being_replaced_is_stopped_before_its_volume_is_detached() {
    let mut e = env().await;
    let fx = fixtures(&e.ec2).await;
    let declare = |subnet: &str, device: &str, stop: bool| {
        let mut st = Stack::new(STACK).unwrap();
        let mut root = st.root();
        let inst = root
            .resource("server", Instance::new(AMI_A, "t3.micro", subnet))
            .unwrap();
        let vol = root
            .resource("data", Volume::new("us-east-1a", 10))
            .unwrap();
        let mut a = VolumeAttachment::new(device, vol.id(), inst.id());
        a.stop_instance_before_detaching = stop;
        let att = root.resource("data", a).unwrap();
        (st, inst, vol, att)
    };
    let (s1, inst, vol, att) = declare(&fx.subnet_a, "/dev/sdf", true);
    e.up_stable(&s1).await;
    let old = e.id(&inst);
    let volume = e.id(&vol);

    let (s2, ..) = declare(&fx.subnet_b, "/dev/sdf", true);
    e.moto.fail("DetachVolume", "UnauthorizedOperation", 403, 1);
    let failed = e.up_failing(&s2).await;
    assert!(failed.contains("UnauthorizedOperation"), "{failed}");
    assert_eq!(fired(&e, 0), 1);
    assert_eq!(
        instance_state(&e.ec2, &old).await,
        "stopped",
        "stopped before the detach was sent"
    );
    let a = attachments_of(&e.ec2, &volume).await;
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].instance_id(), Some(old.as_str()));
    assert_eq!(a[0].state().unwrap().as_str(), "attached");

    e.up_stable(&s2).await;
    let new = e.id(&inst);
    assert_ne!(new, old);
    assert_eq!(instance_state(&e.ec2, &new).await, "running");
    assert_eq!(instance_state(&e.ec2, &old).await, "terminated");
    let a = attachments_of(&e.ec2, &volume).await;
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].instance_id(), Some(new.as_str()));

    let (s3, ..) = declare(&fx.subnet_b, "/dev/sdf", false);
    let plan = e.up_stable(&s3).await;
    assert_eq!(step(&plan, &att).action, Action::Update);
    assert_eq!(
        step(&plan, &att).changed,
        vec!["stop_instance_before_detaching"]
    );
    let (s4, ..) = declare(&fx.subnet_b, "/dev/sdg", false);
    let plan = e.up_stable(&s4).await;
    assert_eq!(step(&plan, &att).action, Action::Replace);
    assert_eq!(instance_state(&e.ec2, &new).await, "running");
    let a = attachments_of(&e.ec2, &volume).await;
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].device(), Some("/dev/sdg"));
    assert_eq!(a[0].instance_id(), Some(new.as_str()));
}
