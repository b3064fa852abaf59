//! aws:acm/Certificate, aws:acm/CertificateValidation, aws:route53/Record and
//! the aws:route53/getZone lookup through the engine against moto: a zone
//! (an SDK fixture) found by name, records with values and an alias,
//! updates in place (UPSERT), drift, a record of someone else refused, a
//! certificate with alternative names whose DNS validation records are
//! declared from its outputs and validated until ISSUED, tags in place, a
//! replacement, a certificate in us-east-1 from a stack in eu-west-1,
//! validation before any call, interrupted creates found again. The
//! validation's failure paths (FAILED, a missing record) run against
//! aws-smithy-mocks: moto only ever turns PENDING_VALIDATION into ISSUED.

mod support;

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use aws_config::Region;
use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use morket_stack::engine::Engine;
use morket_stack::exec::Cancel;
use morket_stack::model::{HasUrn, Input, Resource, ResourceArgs, Stack};
use morket_stack::plan::{Action, PlanOptions};
use morket_stack::provider::aws::acm::certificate::{self, Certificate};
use morket_stack::provider::aws::acm::certificate_validation::CertificateValidation;
use morket_stack::provider::aws::route53::get_zone::GetZone;
use morket_stack::provider::aws::route53::record::{Alias, Record};
use morket_stack::provider::aws::route53::zone::Zone;
use morket_stack::provider::aws::Aws;
use morket_stack::provider::ProviderError;
use morket_stack::state::StateStore;
use serde_json::json;
use support::aws::{
    self as shared, ctx, offline_engine, registry, settings, step, store, tag_urn, STACK,
};

const ZONE: &str = "morket.test";
/// A load balancer's DNS name and its zone (eu-west-1 ALBs), as an alias
/// target: Route 53 does not check that it exists.
const ALB_DNS: &str = "Morket-ALB-1234567890.eu-west-1.elb.amazonaws.com";
const ALB_ZONE: &str = "Z32O12XQLNTSW2";

struct Env {
    h: shared::Env,
    r53: aws_sdk_route53::Client,
    acm: aws_sdk_acm::Client,
}

impl Deref for Env {
    type Target = shared::Env;
    fn deref(&self) -> &shared::Env {
        &self.h
    }
}

impl DerefMut for Env {
    fn deref_mut(&mut self) -> &mut shared::Env {
        &mut self.h
    }
}

async fn env() -> Env {
    let h = shared::Env::new(settings()).await;
    Env {
        r53: aws_sdk_route53::Client::new(&h.conf),
        acm: aws_sdk_acm::Client::new(&h.conf),
        h,
    }
}

impl Env {
    /// A public hosted zone (the Morket zone exists before any stack).
    async fn zone(&self, name: &str) -> String {
        let out = self
            .r53
            .create_hosted_zone()
            .name(name)
            .caller_reference(format!("fixture-{name}"))
            .send()
            .await
            .unwrap();
        out.hosted_zone()
            .unwrap()
            .id()
            .trim_start_matches("/hostedzone/")
            .to_string()
    }

    async fn record_set(&self, zone: &str, name: &str, ty: &str) -> Option<ResourceRecordSet> {
        let out = self
            .r53
            .list_resource_record_sets()
            .hosted_zone_id(zone)
            .send()
            .await
            .unwrap();
        out.resource_record_sets()
            .iter()
            .find(|s| s.name().trim_end_matches('.') == name && s.r#type().as_str() == ty)
            .cloned()
    }

    /// A record written by someone else (not through the engine).
    async fn upsert(&self, zone: &str, name: &str, ty: &str, ttl: i64, values: &[&str]) {
        let mut set = ResourceRecordSet::builder()
            .name(name)
            .r#type(RrType::from(ty))
            .ttl(ttl);
        for v in values {
            set = set.resource_records(ResourceRecord::builder().value(*v).build().unwrap());
        }
        self.r53
            .change_resource_record_sets()
            .hosted_zone_id(zone)
            .change_batch(
                ChangeBatch::builder()
                    .changes(
                        Change::builder()
                            .action(ChangeAction::Upsert)
                            .resource_record_set(set.build().unwrap())
                            .build()
                            .unwrap(),
                    )
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
    }
}

fn values(s: &ResourceRecordSet) -> Vec<String> {
    let mut v: Vec<String> = s
        .resource_records()
        .iter()
        .map(|r| r.value().to_string())
        .collect();
    v.sort();
    v
}

async fn certificate_of(
    acm: &aws_sdk_acm::Client,
    arn: &str,
) -> Option<aws_sdk_acm::types::CertificateDetail> {
    acm.describe_certificate()
        .certificate_arn(arn)
        .send()
        .await
        .ok()
        .and_then(|o| o.certificate().cloned())
}

async fn cert_tags(
    acm: &aws_sdk_acm::Client,
    arn: &str,
) -> std::collections::BTreeMap<String, String> {
    acm.list_tags_for_certificate()
        .certificate_arn(arn)
        .send()
        .await
        .unwrap()
        .tags()
        .iter()
        .map(|t| {
            (
                t.key().to_string(),
                t.value().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

async fn preview_error(d: impl ResourceArgs) -> String {
    shared::preview_error(&mut offline_engine(settings()), d).await
}

// ---------------------------------------------------------------- Route 53

struct Records {
    st: Stack,
    lookup: Resource<GetZone>,
    www: Resource<Record>,
    txt: Resource<Record>,
    app: Resource<Record>,
}

fn records(www_ttl: i64, www: &[&str], alias_health: bool) -> Records {
    let mut st = Stack::new(STACK).unwrap();
    let mut root = st.root();
    let lookup = root.resource("zone", GetZone::public(ZONE)).unwrap();
    let www = root
        .resource(
            "www",
            Record::simple(
                lookup.zone_id(),
                "www",
                "A",
                www_ttl,
                www.iter().map(|v| Input::from(*v)).collect(),
            ),
        )
        .unwrap();
    let txt = root
        .resource(
            "spf",
            Record::simple(
                lookup.zone_id(),
                ZONE,
                "TXT",
                300,
                vec!["v=spf1 -all".into()],
            ),
        )
        .unwrap();
    let mut alias = Record::alias(lookup.zone_id(), "app.morket.test", "A", ALB_DNS, ALB_ZONE);
    alias.alias.as_mut().unwrap().evaluate_target_health = alias_health;
    let app = root.resource("app", alias).unwrap();
    Records {
        st,
        lookup,
        www,
        txt,
        app,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zone_lookup_and_records_lifecycle() {
    let mut e = env().await;
    let zone = e.zone(ZONE).await;

    let r = records(300, &["10.0.0.1", "10.0.0.2"], false);
    let plan = e.up_stable(&r.st).await;
    assert_eq!(plan.counts().create, 3);
    // The lookup answers the fixture.
    let z = e.outputs(&r.lookup);
    assert_eq!(z["zone_id"], zone.as_str());
    assert_eq!(z["name"], ZONE);
    assert!(!z["name_servers"].as_array().unwrap().is_empty(), "{z}");

    // Relative name, values and TTL as declared.
    let www = e
        .record_set(&zone, "www.morket.test", "A")
        .await
        .expect("www");
    assert_eq!(www.ttl(), Some(300));
    assert_eq!(values(&www), ["10.0.0.1", "10.0.0.2"]);
    let out = e.outputs(&r.www);
    assert_eq!(out["fqdn"], "www.morket.test");
    assert_eq!(out["zone_id"], zone.as_str());
    assert_eq!(e.id(&r.www), format!("{zone}_www.morket.test_A"));
    // TXT values are quoted for Route 53 and read back as declared.
    let txt = e.record_set(&zone, ZONE, "TXT").await.expect("txt");
    assert_eq!(values(&txt), ["\"v=spf1 -all\""]);
    assert_eq!(
        e.read(&r.txt).await.unwrap()["records"],
        json!(["v=spf1 -all"])
    );
    // The alias to the load balancer.
    let app = e
        .record_set(&zone, "app.morket.test", "A")
        .await
        .expect("app");
    let a = app.alias_target().expect("alias");
    assert_eq!(
        a.dns_name().trim_end_matches('.').to_lowercase(),
        ALB_DNS.to_lowercase()
    );
    assert_eq!(a.hosted_zone_id(), ALB_ZONE);
    assert!(!a.evaluate_target_health());
    assert_eq!(app.ttl(), None);

    // In place (UPSERT): TTL and values, the alias's health evaluation.
    let r2 = records(60, &["10.0.0.3"], true);
    let plan = e.up_stable(&r2.st).await;
    assert_eq!(step(&plan, &r2.www).action, Action::Update);
    assert_eq!(step(&plan, &r2.app).action, Action::Update);
    assert_eq!(plan.counts().update, 2, "{:?}", plan.steps);
    let www = e.record_set(&zone, "www.morket.test", "A").await.unwrap();
    assert_eq!(
        (www.ttl(), values(&www)),
        (Some(60), vec!["10.0.0.3".to_string()])
    );
    let app = e.record_set(&zone, "app.morket.test", "A").await.unwrap();
    assert!(app.alias_target().unwrap().evaluate_target_health());

    // Drift: someone changes the record; the read shows it. The next
    // change is an UPSERT of the whole declared record.
    e.upsert(&zone, "www.morket.test", "A", 999, &["10.9.9.9"])
        .await;
    let live = e.read(&r2.www).await.unwrap();
    assert_eq!(live["ttl"], 999);
    assert_eq!(live["records"], json!(["10.9.9.9"]));
    e.up_stable(&r.st).await;
    let www = e.record_set(&zone, "www.morket.test", "A").await.unwrap();
    assert_eq!(
        (www.ttl(), values(&www)),
        (
            Some(300),
            vec!["10.0.0.1".to_string(), "10.0.0.2".to_string()]
        )
    );

    // A name change replaces the record: the old name is gone.
    let mut st = Stack::new(STACK).unwrap();
    {
        let mut root = st.root();
        let lookup = root.resource("zone", GetZone::public(ZONE)).unwrap();
        root.resource(
            "www",
            Record::simple(lookup.zone_id(), "web", "A", 60, vec!["10.0.0.3".into()]),
        )
        .unwrap();
    }
    let plan = e.up_stable(&st).await;
    assert_eq!(step(&plan, &r2.www).action, Action::Replace);
    assert!(e.record_set(&zone, "www.morket.test", "A").await.is_none());
    assert!(e.record_set(&zone, "web.morket.test", "A").await.is_some());
    // The records no longer declared were deleted.
    assert!(e.record_set(&zone, "app.morket.test", "A").await.is_none());
    assert!(e.record_set(&zone, ZONE, "TXT").await.is_none());

    // Destroy removes what the stack made; the zone (not ours) stays.
    let (_, report) = e.h.eng.destroy(&st, &e.h.cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert!(e.record_set(&zone, "web.morket.test", "A").await.is_none());
    assert!(e.r53.get_hosted_zone().id(&zone).send().await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_of_someone_else_is_refused_unless_overwrite() {
    let mut e = env().await;
    let zone = e.zone(ZONE).await;
    e.upsert(&zone, "api.morket.test", "CNAME", 300, &["old.example.com"])
        .await;

    let decl = |overwrite: bool| {
        let mut st = Stack::new(STACK).unwrap();
        let mut r = Record::simple(
            zone.as_str(),
            "api",
            "CNAME",
            60,
            vec!["new.example.com".into()],
        );
        r.allow_overwrite = overwrite;
        let u = st.root().resource("api", r).unwrap();
        (st, u)
    };
    let (st, _) = decl(false);
    let msg = e.up_failing(&st).await;
    assert!(
        msg.contains("already exists")
            && msg.contains("api.morket.test")
            && msg.contains("allow_overwrite"),
        "{msg}"
    );
    let live = e
        .record_set(&zone, "api.morket.test", "CNAME")
        .await
        .unwrap();
    assert_eq!(values(&live), ["old.example.com"], "left alone");

    let (st, u) = decl(true);
    e.up_stable(&st).await;
    let live = e
        .record_set(&zone, "api.morket.test", "CNAME")
        .await
        .unwrap();
    assert_eq!(
        (live.ttl(), values(&live)),
        (Some(60), vec!["new.example.com".to_string()])
    );
    assert_eq!(e.id(&u), format!("{zone}_api.morket.test_CNAME"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_record_create_is_found_by_its_values() {
    let e = env().await;
    let zone = e.zone(ZONE).await;
    let mut st = Stack::new(STACK).unwrap();
    let r = st
        .root()
        .resource(
            "mx",
            Record::simple(
                zone.as_str(),
                ZONE,
                "MX",
                300,
                vec!["10 mail.morket.test".into()],
            ),
        )
        .unwrap();
    let inputs = st.resources()[0].inputs.clone();
    let mut e = e;
    let created = e.interrupted_create(&r, &inputs).await;
    assert_eq!(created.id, format!("{zone}_morket.test_MX"));

    let mut eng = Engine::new(Box::new(e.st.clone()), e.reg.clone());
    let (plan, report) = eng
        .up(&st, &PlanOptions::default(), &Cancel::new())
        .await
        .unwrap();
    assert!(report.is_success(), "{report:?}");
    assert_eq!(plan.counts().create, 0, "adopted, not created again");
    assert_eq!(e.st.resource(r.urn()).unwrap().unwrap().id, created.id);
    assert!(e.st.pending().unwrap().is_empty());
    e.no_changes(&st).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_zone_fails_the_preview_naming_it() {
    let mut e = env().await;
    e.zone(ZONE).await;
    let mut st = Stack::new(STACK).unwrap();
    st.root()
        .resource("zone", GetZone::public("nope.test"))
        .unwrap();
    let err = e
        .eng
        .preview(&st, &PlanOptions::default())
        .await
        .unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.contains("name") && msg.contains("nope.test"), "{msg}");
    // A public zone is not a private one.
    let mut st = Stack::new(STACK).unwrap();
    st.root()
        .resource(
            "zone",
            GetZone {
                name: ZONE.into(),
                private_zone: true,
            },
        )
        .unwrap();
    let msg = format!(
        "{:#}",
        e.eng
            .preview(&st, &PlanOptions::default())
            .await
            .unwrap_err()
    );
    assert!(msg.contains("private") && msg.contains(ZONE), "{msg}");
}

// ---------------------------------------------------------------- ACM

/// The Morket certificate, validated in the zone through records declared
/// from its outputs; moto issues it once MOTO_ACM_VALIDATION_WAIT (60 s
/// unless set lower) has passed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_validated_through_its_dns_records() {
    let mut e = env().await;
    let zone = e.zone(ZONE).await;
    let mut args = Certificate::dns(ZONE);
    args.subject_alternative_names = vec!["*.morket.test".into(), "api.morket.test".into()];
    args.tags.insert("Name".into(), "morket".into());

    let mut st = Stack::new(STACK).unwrap();
    let (cert, validation) = {
        let mut root = st.root();
        let lookup = root.resource("zone", GetZone::public(ZONE)).unwrap();
        let cert = root.resource("cert", args.clone()).unwrap();
        let records = certificate::validation_records(
            &mut root,
            "cert-validation",
            &cert,
            &args,
            lookup.zone_id(),
        )
        .unwrap();
        let mut v = CertificateValidation::new(cert.arn());
        v.validation_record_fqdns = records.iter().map(|r| r.fqdn().into()).collect();
        // moto's wait is wall time, not AWS time.
        v.timeout = Some("3m".into());
        let validation = root.resource("cert-validation", v).unwrap();
        (cert, validation)
    };
    e.up_stable(&st).await;

    let arn = e.id(&cert);
    let c = certificate_of(&e.acm, &arn).await.unwrap();
    assert_eq!(c.status().unwrap().as_str(), "ISSUED");
    assert_eq!(c.domain_name(), Some(ZONE));
    let mut sans = c.subject_alternative_names().to_vec();
    sans.sort();
    assert_eq!(sans, ["*.morket.test", "api.morket.test", "morket.test"]);
    let t = cert_tags(&e.acm, &arn).await;
    assert_eq!(t["Name"], "morket");
    assert_eq!(t["Project"], "morket");
    assert_eq!(tag_urn(&t["morket:urn"]), cert.urn().as_str());

    // One record per distinct validation name (`x` and `*.x` share one),
    // each holding what ACM asks for.
    let out = e.outputs(&cert);
    let dvos = out["domain_validation_options"].as_array().unwrap();
    assert_eq!(dvos.len(), 3, "{out}");
    for d in c.domain_validation_options() {
        let rr = d.resource_record().unwrap();
        let name = rr.name().trim_end_matches('.');
        let live = e
            .record_set(&zone, name, "CNAME")
            .await
            .unwrap_or_else(|| panic!("no {name}"));
        assert_eq!(values(&live), [rr.value().to_string()]);
    }
    let validation_records: Vec<_> =
        e.st.resources()
            .unwrap()
            .into_iter()
            .filter(|r| r.urn.type_name() == Record::TYPE)
            .collect();
    assert_eq!(validation_records.len(), 2, "morket.test (with *.) and api");
    assert_eq!(e.outputs(&validation)["certificate_arn"], arn.as_str());
    assert_eq!(e.id(&validation), arn);

    // Destroy: records, the (no-op) validation and the certificate.
    let (_, report) = e.h.eng.destroy(&st, &e.h.cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert!(certificate_of(&e.acm, &arn).await.is_none());
    for d in c.domain_validation_options() {
        let name = d
            .resource_record()
            .unwrap()
            .name()
            .trim_end_matches('.')
            .to_string();
        assert!(
            e.record_set(&zone, &name, "CNAME").await.is_none(),
            "{name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_tags_in_place_domain_replaces_drift_and_destroy() {
    let mut e = env().await;
    let one = |args: Certificate| {
        let mut st = Stack::new(STACK).unwrap();
        let u = st.root().resource("cert", args).unwrap();
        (st, u)
    };
    let mut args = Certificate::dns("app.morket.test");
    args.subject_alternative_names = vec!["www.morket.test".into()];
    args.key_algorithm = Some("RSA_2048".into());
    args.tags.insert("Name".into(), "app".into());
    let (st, u) = one(args.clone());
    e.up_stable(&st).await;
    let arn = e.id(&u);
    assert!(arn.starts_with("arn:aws:acm:us-east-1:"), "{arn}");
    let out = e.outputs(&u);
    assert_eq!(out["arn"], arn.as_str());
    assert_eq!(out["status"], "PENDING_VALIDATION");
    let dvo = &out["domain_validation_options"][0];
    assert_eq!(dvo["domain_name"], "app.morket.test");
    assert_eq!(dvo["resource_record_type"], "CNAME");
    assert!(
        dvo["resource_record_name"]
            .as_str()
            .unwrap()
            .ends_with(".app.morket.test."),
        "{dvo}"
    );
    assert_eq!(
        out[certificate::validation_output("value", "www.morket.test")],
        out["domain_validation_options"][1]["resource_record_value"]
    );
    let live = e.read(&u).await.unwrap();
    assert_eq!(
        live["subject_alternative_names"],
        json!(["www.morket.test"])
    );
    assert_eq!(live["key_algorithm"], "RSA_2048");

    // The alternative names in another order: no change.
    let mut same = args.clone();
    same.subject_alternative_names.reverse();
    e.no_changes(&one(same).0).await;

    // Tags change in place.
    let mut tagged = args.clone();
    tagged.tags.insert("Name".into(), "app2".into());
    tagged.tags.insert("Team".into(), "web".into());
    let (st, _) = one(tagged.clone());
    let plan = e.up_stable(&st).await;
    assert_eq!(step(&plan, &u).action, Action::Update);
    assert_eq!(e.id(&u), arn, "same certificate");
    let t = cert_tags(&e.acm, &arn).await;
    assert_eq!((t["Name"].as_str(), t["Team"].as_str()), ("app2", "web"));

    // Drift: a tag removed out of band shows on read.
    e.acm
        .remove_tags_from_certificate()
        .certificate_arn(&arn)
        .tags(
            aws_sdk_acm::types::Tag::builder()
                .key("Team")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let live = e.read(&u).await.unwrap();
    assert_eq!(live["tags"], json!({"Name": "app2"}));
    e.up_stable(&st).await;

    // Another domain: a new certificate, then the old one is deleted.
    let mut moved = tagged.clone();
    moved.domain_name = "api.morket.test".into();
    let (st, _) = one(moved);
    let plan = e.up_stable(&st).await;
    assert_eq!(step(&plan, &u).action, Action::Replace);
    let new_arn = e.id(&u);
    assert_ne!(new_arn, arn);
    assert!(
        certificate_of(&e.acm, &arn).await.is_none(),
        "old one deleted"
    );
    assert_eq!(
        certificate_of(&e.acm, &new_arn)
            .await
            .unwrap()
            .domain_name(),
        Some("api.morket.test")
    );

    let (_, report) = e.h.eng.destroy(&st, &e.h.cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert!(certificate_of(&e.acm, &new_arn).await.is_none());
}

/// The per-resource region: a stack in eu-west-1 puts the CloudFront
/// certificate in us-east-1, and its other certificate in its own region.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_in_us_east_1_from_a_stack_in_eu_west_1() {
    let e = env().await;
    let eu = e.conf.to_builder().region(Region::new("eu-west-1")).build();
    let reg = registry(Arc::new(Aws::with_config(settings(), eu.clone())));
    let st_store = store();
    let mut eng = Engine::new(Box::new(st_store.clone()), reg.clone());
    let cancel = Cancel::new();

    let mut edge = Certificate::dns("cdn.morket.test");
    edge.region = Some("us-east-1".into());
    let mut st = Stack::new(STACK).unwrap();
    let (cdn, alb) = {
        let mut root = st.root();
        (
            root.resource("cdn", edge).unwrap(),
            root.resource("alb", Certificate::dns("app.morket.test"))
                .unwrap(),
        )
    };
    let (_, report) = eng.up(&st, &PlanOptions::default(), &cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    let plan = eng.preview(&st, &PlanOptions::default()).await.unwrap();
    assert!(!plan.has_changes(), "{:?}", plan.steps);

    let us_arn = st_store.resource(cdn.urn()).unwrap().unwrap().id;
    let eu_arn = st_store.resource(alb.urn()).unwrap().unwrap().id;
    assert!(us_arn.starts_with("arn:aws:acm:us-east-1:"), "{us_arn}");
    assert!(eu_arn.starts_with("arn:aws:acm:eu-west-1:"), "{eu_arn}");
    let us = aws_sdk_acm::Client::new(&e.conf);
    let euc = aws_sdk_acm::Client::new(&eu);
    assert_eq!(
        certificate_of(&us, &us_arn).await.unwrap().domain_name(),
        Some("cdn.morket.test")
    );
    let in_eu: Vec<String> = euc
        .list_certificates()
        .send()
        .await
        .unwrap()
        .certificate_summary_list()
        .iter()
        .filter_map(|s| s.certificate_arn().map(str::to_string))
        .collect();
    assert_eq!(
        in_eu,
        vec![eu_arn.clone()],
        "only the stack-region one in eu-west-1"
    );
    // Read and find go to the certificate's region too.
    let rec = st_store.resource(cdn.urn()).unwrap().unwrap();
    let p = reg.get(Certificate::TYPE).unwrap();
    let live = p
        .read(&ctx(&cdn), &rec.id, &rec.inputs, &rec.outputs)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(live.inputs["region"], "us-east-1");
    let found = p.find_by_urn(&ctx(&cdn), &rec.inputs).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, us_arn);

    let (_, report) = eng.destroy(&st, &cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert!(certificate_of(&us, &us_arn).await.is_none());
    assert!(certificate_of(&euc, &eu_arn).await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_certificate_request_is_found_by_urn_tag() {
    let mut e = env().await;
    let mut st = Stack::new(STACK).unwrap();
    let u = st
        .root()
        .resource("cert", Certificate::dns("app.morket.test"))
        .unwrap();
    let inputs = st.resources()[0].inputs.clone();
    let created = e.interrupted_create(&u, &inputs).await;

    let mut eng = Engine::new(Box::new(e.st.clone()), e.reg.clone());
    let (plan, report) = eng
        .up(&st, &PlanOptions::default(), &Cancel::new())
        .await
        .unwrap();
    assert!(report.is_success(), "{report:?}");
    assert_eq!(plan.counts().create, 0, "adopted, not requested again");
    assert_eq!(e.id(&u), created.id);
    let all = e.acm.list_certificates().send().await.unwrap();
    assert_eq!(
        all.certificate_summary_list().len(),
        1,
        "no second certificate"
    );
    assert!(e.st.pending().unwrap().is_empty());
    e.no_changes(&st).await;
}

#[tokio::test]
async fn invalid_inputs_fail_the_preview_naming_field_and_value() {
    let mut c = Certificate::dns("app.morket.test.");
    let e = preview_error(c.clone()).await;
    assert!(
        e.contains("domain_name") && e.contains("app.morket.test."),
        "{e}"
    );
    c.domain_name = "app.morket.test".into();
    c.validation_method = "EMAIL".into();
    let e = preview_error(c.clone()).await;
    assert!(
        e.contains("validation_method") && e.contains("EMAIL"),
        "{e}"
    );
    c.validation_method = "DNS".into();
    c.region = Some("us-east".into());
    let e = preview_error(c.clone()).await;
    assert!(e.contains("region") && e.contains("us-east"), "{e}");

    let mut v = CertificateValidation::new("arn:aws:acm:us-east-1:123456789012:certificate/x");
    v.timeout = Some("forever".into());
    let e = preview_error(v).await;
    assert!(e.contains("timeout") && e.contains("forever"), "{e}");

    let r = Record::simple("Z1ABC", "www", "A", 60, vec!["10.0.0.256".into()]);
    let e = preview_error(r).await;
    assert!(e.contains("records[0]") && e.contains("10.0.0.256"), "{e}");
    let mut r = Record::alias("Z1ABC", "app", "A", ALB_DNS, "bad zone");
    let e = preview_error(r.clone()).await;
    assert!(e.contains("alias.zone_id") && e.contains("bad zone"), "{e}");
    r.alias = Some(Alias {
        zone_id: ALB_ZONE.into(),
        ..r.alias.clone().unwrap()
    });
    r.ttl = Some(60);
    let e = preview_error(r).await;
    assert!(e.contains("alias") && e.contains("no ttl"), "{e}");
    let e = preview_error(GetZone::public("no such.zone")).await;
    assert!(e.contains("name") && e.contains("no such.zone"), "{e}");
}

// ---- aws-smithy-mocks: what moto cannot show ----

fn detail(
    status: &str,
    reason: Option<&str>,
    record: &str,
) -> aws_sdk_acm::types::CertificateDetail {
    use aws_sdk_acm::types::*;
    let mut d = CertificateDetail::builder()
        .certificate_arn(MOCK_ARN)
        .domain_name("app.morket.test")
        .status(CertificateStatus::from(status))
        .domain_validation_options(
            DomainValidation::builder()
                .domain_name("app.morket.test")
                .validation_method(ValidationMethod::Dns)
                .resource_record(
                    aws_sdk_acm::types::ResourceRecord::builder()
                        .name(record)
                        .r#type(RecordType::Cname)
                        .value("_v.acm-validations.aws.")
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        );
    if let Some(r) = reason {
        d = d.failure_reason(FailureReason::from(r));
    }
    d.build()
}

const MOCK_ARN: &str = "arn:aws:acm:us-east-1:123456789012:certificate/mock";

/// A validation provider over a mocked ACM whose DescribeCertificate answers
/// the statuses in turn (the last one from then on).
fn mocked(
    statuses: &'static [(&'static str, Option<&'static str>)],
) -> (
    Arc<dyn morket_stack::provider::Provider>,
    Arc<std::sync::atomic::AtomicUsize>,
) {
    let n = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let calls = n.clone();
    let describe =
        mock!(aws_sdk_acm::Client::describe_certificate).then_compute_output(move |_| {
            let i = calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let (s, r) = statuses[i.min(statuses.len() - 1)];
            aws_sdk_acm::operation::describe_certificate::DescribeCertificateOutput::builder()
                .certificate(detail(s, r, "_abc.app.morket.test."))
                .build()
        });
    let client = mock_client!(aws_sdk_acm, RuleMode::MatchAny, &[&describe]);
    let reg = registry(Arc::new(Aws::new(settings()).with_acm(client)));
    (reg.get(CertificateValidation::TYPE).unwrap().clone(), n)
}

fn validation_inputs(fqdns: &[&str]) -> serde_json::Value {
    json!({"certificate_arn": MOCK_ARN, "validation_record_fqdns": fqdns, "timeout": "10s"})
}

fn vctx() -> morket_stack::provider::Ctx {
    let mut st = Stack::new(STACK).unwrap();
    let u = st
        .root()
        .resource("v", CertificateValidation::new(MOCK_ARN))
        .unwrap();
    ctx(&u)
}

#[tokio::test]
async fn validation_waits_through_pending_until_issued() {
    let (p, polls) = mocked(&[
        ("PENDING_VALIDATION", None),
        ("PENDING_VALIDATION", None),
        ("ISSUED", None),
    ]);
    let c = p
        .create(&vctx(), &validation_inputs(&["_abc.app.morket.test"]))
        .await
        .unwrap();
    assert_eq!(c.id, MOCK_ARN);
    assert!(polls.load(std::sync::atomic::Ordering::SeqCst) >= 3);
}

#[tokio::test]
async fn validation_fails_clearly_when_acm_gives_up() {
    let (p, _) = mocked(&[("PENDING_VALIDATION", None), ("FAILED", Some("CAA_ERROR"))]);
    let e = p
        .create(&vctx(), &validation_inputs(&["_abc.app.morket.test."]))
        .await
        .unwrap_err();
    assert!(matches!(e, ProviderError::Fatal(_)), "{e:?}");
    let m = e.to_string();
    assert!(
        m.contains("FAILED") && m.contains("CAA_ERROR") && m.contains(MOCK_ARN),
        "{m}"
    );
    let (p, _) = mocked(&[("VALIDATION_TIMED_OUT", None)]);
    let m = p
        .create(&vctx(), &validation_inputs(&[]))
        .await
        .unwrap_err()
        .to_string();
    assert!(m.contains("VALIDATION_TIMED_OUT"), "{m}");
}

#[tokio::test]
async fn validation_refuses_a_missing_record_at_once() {
    let (p, polls) = mocked(&[("PENDING_VALIDATION", None)]);
    let e = p
        .create(&vctx(), &validation_inputs(&["_other.app.morket.test"]))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("validation_record_fqdns") && e.contains("_abc.app.morket.test"),
        "{e}"
    );
    assert_eq!(
        polls.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "no waiting"
    );
}

// ---------------------------------------------------------------- Zone

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zone_lifecycle_and_interrupted_create() {
    let mut e = env().await;
    let one = |z: Zone| {
        let mut st = Stack::new(STACK).unwrap();
        let u = st.root().resource("zone", z).unwrap();
        (st, u)
    };
    let mut z = Zone::new("staging.morket.test");
    z.comment = Some("staging".into());
    z.tags.insert("Name".into(), "staging".into());
    let (st, u) = one(z.clone());
    e.up_stable(&st).await;
    let id = e.id(&u);
    let live = e.r53.get_hosted_zone().id(&id).send().await.unwrap();
    let hz = live.hosted_zone().unwrap();
    assert_eq!(hz.name(), "staging.morket.test.");
    assert_eq!(hz.config().and_then(|c| c.comment()), Some("staging"));
    let out = e.outputs(&u);
    assert_eq!(out["zone_id"], id.as_str());
    assert!(!out["name_servers"].as_array().unwrap().is_empty(), "{out}");
    let tags = |e: &Env, id: String| {
        let r53 = e.r53.clone();
        async move {
            r53.list_tags_for_resource()
                .resource_type(aws_sdk_route53::types::TagResourceType::Hostedzone)
                .resource_id(id)
                .send()
                .await
                .unwrap()
                .resource_tag_set()
                .unwrap()
                .tags()
                .iter()
                .map(|t| (t.key().unwrap().to_string(), t.value().unwrap().to_string()))
                .collect::<std::collections::BTreeMap<_, _>>()
        }
    };
    let t = tags(&e, id.clone()).await;
    assert_eq!(t["Name"], "staging");
    assert_eq!(tag_urn(&t["morket:urn"]), u.urn().as_str());

    // Comment and tags in place.
    let mut z2 = z.clone();
    z2.comment = Some("staging zone".into());
    z2.tags.insert("Name".into(), "stg".into());
    let (st, _) = one(z2);
    let plan = e.up_stable(&st).await;
    assert_eq!(step(&plan, &u).action, Action::Update);
    assert_eq!(e.id(&u), id);
    let live = e.r53.get_hosted_zone().id(&id).send().await.unwrap();
    assert_eq!(
        live.hosted_zone()
            .unwrap()
            .config()
            .and_then(|c| c.comment()),
        Some("staging zone")
    );
    assert_eq!(tags(&e, id.clone()).await["Name"], "stg");

    // Destroy deletes it.
    let (_, report) = e.h.eng.destroy(&st, &e.h.cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert!(e.r53.get_hosted_zone().id(&id).send().await.is_err());

    // A create interrupted before its checkpoint is found again (one moto
    // at a time: the first environment goes first).
    drop(e);
    let mut e = env().await;
    let (st, u) = one(Zone::new("prod.morket.test"));
    let inputs = st.resources()[0].inputs.clone();
    let created = e.interrupted_create(&u, &inputs).await;
    let mut eng = Engine::new(Box::new(e.st.clone()), e.reg.clone());
    let (plan, report) = eng
        .up(&st, &PlanOptions::default(), &Cancel::new())
        .await
        .unwrap();
    assert!(report.is_success(), "{report:?}");
    assert_eq!(plan.counts().create, 0, "adopted, not created again");
    assert_eq!(e.id(&u), created.id);
    let zones = e.r53.list_hosted_zones().send().await.unwrap();
    assert_eq!(zones.hosted_zones().len(), 1, "no second zone");
}
