//! aws:lb/LoadBalancer, TargetGroup, Listener and ListenerRule through the
//! engine against moto: the Morket ALB (120 s idle timeout, access logs, an
//! HTTP listener redirecting to HTTPS, an HTTPS listener with an ACM
//! certificate, path rules at stated priorities) read back with the SDK;
//! updates in place, a replacement, drift, a no-op preview, destroy;
//! validation before any call; an interrupted create found by its URN tag.
//! AWS answers moto does not give (deletion protection refusing a delete, a
//! new certificate not yet visible, a target group still in use) are
//! injected with moto's fault hook (`Moto::fail`). The ALB's WAF web ACL,
//! its association and logging run with the AWS-like peer on.

mod support;

use std::ops::{Deref, DerefMut};

use aws_sdk_elasticloadbalancingv2::types::{Listener as SdkListener, Rule, TargetGroup as SdkTg};
use morket_stack::model::{HasUrn, Resource, ResourceArgs, Stack, Urn};
use morket_stack::plan::Action as PlanAction;
use morket_stack::provider::aws::elbv2::listener::{Listener, DEFAULT_SSL_POLICY};
use morket_stack::provider::aws::elbv2::listener_rule::{Condition, ListenerRule};
use morket_stack::provider::aws::elbv2::load_balancer::{AccessLogs, LoadBalancer};
use morket_stack::provider::aws::elbv2::target_group::TargetGroup;
use morket_stack::provider::aws::elbv2::Action;
use morket_stack::state::StateStore;
use support::aws::{self as shared, ctx, offline_engine, settings, step, tag_urn, STACK};

struct Env {
    h: shared::Env,
    elb: aws_sdk_elasticloadbalancingv2::Client,
    /// Fixtures made with the SDK: subnets, a security group, a log bucket,
    /// a certificate.
    vpc: String,
    subnets: Vec<String>,
    sg: String,
    cert: String,
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

const BUCKET: &str = "morket-staging-alb-logs";

async fn env() -> Env {
    let h = shared::Env::new(settings()).await;
    let vpc = shared::create_vpc(&h.ec2, "10.0.0.0/16").await;
    let subnets = vec![
        shared::create_subnet(&h.ec2, &vpc, "10.0.1.0/24", Some("us-east-1a")).await,
        shared::create_subnet(&h.ec2, &vpc, "10.0.2.0/24", Some("us-east-1b")).await,
    ];
    let sg = shared::create_security_group(&h.ec2, "alb", "alb", Some(&vpc)).await;
    aws_sdk_s3::Client::new(&h.conf)
        .create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap();
    let cert = aws_sdk_acm::Client::new(&h.conf)
        .request_certificate()
        .domain_name("morket.example.com")
        .validation_method(aws_sdk_acm::types::ValidationMethod::Dns)
        .send()
        .await
        .unwrap()
        .certificate_arn()
        .unwrap()
        .to_string();
    Env {
        elb: aws_sdk_elasticloadbalancingv2::Client::new(&h.conf),
        h,
        vpc,
        subnets,
        sg,
        cert,
    }
}

/// What the tests vary of the Morket ALB.
#[derive(Clone)]
struct Alb {
    idle_timeout: i32,
    health_path: String,
    backend_port: i32,
    backend_name: String,
    scrape_priority: i32,
    scrape_path: String,
    deletion_protection: bool,
}

impl Default for Alb {
    fn default() -> Self {
        Alb {
            idle_timeout: 120,
            health_path: "/health".into(),
            backend_port: 8080,
            backend_name: "morket-staging-backend".into(),
            scrape_priority: 10,
            scrape_path: "/api/v1/scrape*".into(),
            deletion_protection: false,
        }
    }
}

struct Urns {
    lb: Resource<LoadBalancer>,
    backend: Resource<TargetGroup>,
    scraper: Resource<TargetGroup>,
    http: Resource<Listener>,
    https: Resource<Listener>,
    scrape_rule: Resource<ListenerRule>,
    api_rule: Resource<ListenerRule>,
}

fn target_group(name: &str, port: i32, vpc: &str, health_path: &str) -> TargetGroup {
    let mut tg = TargetGroup::new(name, port, vpc);
    tg.health_check.path = health_path.into();
    tg.health_check.interval = 30;
    tg.health_check.healthy_threshold = 2;
    tg.health_check.unhealthy_threshold = 3;
    tg.deregistration_delay = 30;
    tg
}

fn stack(e: &Env, a: &Alb) -> (Stack, Urns) {
    let mut st = Stack::new(STACK).unwrap();
    let mut root = st.root();
    let mut lb = LoadBalancer::new(
        "morket-staging",
        e.subnets.iter().map(|s| s.clone().into()).collect(),
        vec![e.sg.clone().into()],
    );
    lb.idle_timeout = a.idle_timeout;
    lb.drop_invalid_header_fields = true;
    lb.deletion_protection = a.deletion_protection;
    lb.access_logs = Some(AccessLogs {
        bucket: BUCKET.into(),
        prefix: "alb".into(),
        enabled: true,
    });
    lb.tags.insert("Name".into(), "morket-staging".into());
    let lb = root.resource("alb", lb).unwrap();
    let backend = root
        .resource(
            "backend",
            target_group(&a.backend_name, a.backend_port, &e.vpc, &a.health_path),
        )
        .unwrap();
    let scraper = root
        .resource(
            "scraper",
            target_group("morket-staging-scraper", 8081, &e.vpc, "/health"),
        )
        .unwrap();
    let http = root
        .resource(
            "http",
            Listener::http(lb.arn(), 80, Action::redirect_to_https()),
        )
        .unwrap();
    let https = root
        .resource(
            "https",
            Listener::https(
                lb.arn(),
                e.cert.clone(),
                Action::fixed_response("404", "text/plain", Some("not found")),
            ),
        )
        .unwrap();
    let scrape_rule = root
        .resource(
            "scrape",
            ListenerRule::new(
                https.arn(),
                a.scrape_priority,
                vec![Condition::path(&[&a.scrape_path])],
                Action::forward(scraper.arn()),
            ),
        )
        .unwrap();
    let api_rule = root
        .resource(
            "api",
            ListenerRule::new(
                https.arn(),
                20,
                vec![Condition::path(&["/api/v1/*"])],
                Action::forward(backend.arn()),
            ),
        )
        .unwrap();
    (
        st,
        Urns {
            lb,
            backend,
            scraper,
            http,
            https,
            scrape_rule,
            api_rule,
        },
    )
}

impl Env {
    fn arn(&self, r: &impl HasUrn) -> String {
        self.outputs(r.urn())["arn"].as_str().unwrap().to_string()
    }

    async fn lb_attrs(&self, arn: &str) -> std::collections::BTreeMap<String, String> {
        self.elb
            .describe_load_balancer_attributes()
            .load_balancer_arn(arn)
            .send()
            .await
            .unwrap()
            .attributes()
            .iter()
            .map(|a| {
                (
                    a.key().unwrap().to_string(),
                    a.value().unwrap_or("").to_string(),
                )
            })
            .collect()
    }

    async fn tg(&self, arn: &str) -> SdkTg {
        self.elb
            .describe_target_groups()
            .target_group_arns(arn)
            .send()
            .await
            .unwrap()
            .target_groups()[0]
            .clone()
    }

    async fn listener(&self, arn: &str) -> SdkListener {
        self.elb
            .describe_listeners()
            .listener_arns(arn)
            .send()
            .await
            .unwrap()
            .listeners()[0]
            .clone()
    }

    async fn rule(&self, arn: &str) -> Rule {
        self.elb
            .describe_rules()
            .rule_arns(arn)
            .send()
            .await
            .unwrap()
            .rules()[0]
            .clone()
    }

    async fn tags(&self, arn: &str) -> std::collections::BTreeMap<String, String> {
        self.elb
            .describe_tags()
            .resource_arns(arn)
            .send()
            .await
            .unwrap()
            .tag_descriptions()[0]
            .tags()
            .iter()
            .map(|t| (t.key().unwrap().to_string(), t.value().unwrap().to_string()))
            .collect()
    }

    async fn load_balancers(&self) -> usize {
        self.elb
            .describe_load_balancers()
            .send()
            .await
            .unwrap()
            .load_balancers()
            .len()
    }

    async fn target_group_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .elb
            .describe_target_groups()
            .send()
            .await
            .unwrap()
            .target_groups()
            .iter()
            .filter_map(|t| t.target_group_name().map(str::to_string))
            .collect();
        v.sort();
        v
    }
}

fn path_values(r: &Rule) -> Vec<String> {
    let c = &r.conditions()[0];
    c.path_pattern_config()
        .map(|p| p.values().to_vec())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| c.values().to_vec())
}

fn forward_target(r: &Rule) -> String {
    let a = &r.actions()[0];
    a.target_group_arn()
        .or_else(|| {
            a.forward_config()
                .and_then(|f| f.target_groups().first())
                .and_then(|t| t.target_group_arn())
        })
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn morket_alb_lifecycle() {
    let mut e = env().await;
    let mut a = Alb::default();

    // Create.
    let (s1, u) = stack(&e, &a);
    let plan = e.up_stable(&s1).await;
    assert_eq!(plan.counts().create, 7);

    // The load balancer: scheme, subnets, security group, attributes, tags, outputs.
    let lb_arn = e.arn(&u.lb);
    let lb = e
        .elb
        .describe_load_balancers()
        .load_balancer_arns(&lb_arn)
        .send()
        .await
        .unwrap()
        .load_balancers()[0]
        .clone();
    assert_eq!(lb.load_balancer_name(), Some("morket-staging"));
    assert_eq!(lb.scheme().unwrap().as_str(), "internet-facing");
    assert_eq!(lb.r#type().unwrap().as_str(), "application");
    assert_eq!(lb.state().unwrap().code().unwrap().as_str(), "active");
    let mut subnets: Vec<String> = lb
        .availability_zones()
        .iter()
        .map(|z| z.subnet_id().unwrap().to_string())
        .collect();
    subnets.sort();
    let mut want = e.subnets.clone();
    want.sort();
    assert_eq!(subnets, want);
    assert_eq!(lb.security_groups(), [e.sg.clone()]);
    let attrs = e.lb_attrs(&lb_arn).await;
    assert_eq!(attrs["idle_timeout.timeout_seconds"], "120");
    assert_eq!(attrs["access_logs.s3.enabled"], "true");
    assert_eq!(attrs["access_logs.s3.bucket"], BUCKET);
    assert_eq!(attrs["access_logs.s3.prefix"], "alb");
    assert_eq!(attrs["deletion_protection.enabled"], "false");
    assert_eq!(
        attrs["routing.http.drop_invalid_header_fields.enabled"],
        "true"
    );
    let t = e.tags(&lb_arn).await;
    assert_eq!(t["Name"], "morket-staging");
    assert_eq!(t["Project"], "morket");
    assert_eq!(tag_urn(&t["morket:urn"]), u.lb.urn().as_str());
    let out = e.outputs(u.lb.urn());
    assert_eq!(out["id"], lb_arn.as_str());
    assert_eq!(out["dns_name"], lb.dns_name().unwrap());
    assert_eq!(out["zone_id"], lb.canonical_hosted_zone_id().unwrap());
    let suffix = out["arn_suffix"].as_str().unwrap();
    assert!(suffix.starts_with("app/morket-staging/"), "{suffix}");
    assert!(lb_arn.ends_with(suffix));

    // Target groups: ip targets, the health check as declared.
    let backend_arn = e.arn(&u.backend);
    let tg = e.tg(&backend_arn).await;
    assert_eq!(tg.target_group_name(), Some("morket-staging-backend"));
    assert_eq!(tg.port(), Some(8080));
    assert_eq!(tg.protocol().unwrap().as_str(), "HTTP");
    assert_eq!(tg.target_type().unwrap().as_str(), "ip");
    assert_eq!(tg.vpc_id(), Some(e.vpc.as_str()));
    assert_eq!(tg.health_check_path(), Some("/health"));
    assert_eq!(tg.health_check_interval_seconds(), Some(30));
    assert_eq!(tg.healthy_threshold_count(), Some(2));
    assert_eq!(tg.unhealthy_threshold_count(), Some(3));
    assert_eq!(tg.matcher().unwrap().http_code(), Some("200"));
    let tg_attrs = e
        .elb
        .describe_target_group_attributes()
        .target_group_arn(&backend_arn)
        .send()
        .await
        .unwrap();
    let delay = tg_attrs
        .attributes()
        .iter()
        .find(|a| a.key() == Some("deregistration_delay.timeout_seconds"))
        .unwrap();
    assert_eq!(delay.value(), Some("30"));
    let out = e.outputs(u.backend.urn());
    assert_eq!(out["name"], "morket-staging-backend");
    let suffix = out["arn_suffix"].as_str().unwrap();
    assert!(
        suffix.starts_with("targetgroup/morket-staging-backend/") && backend_arn.ends_with(suffix),
        "{suffix}"
    );

    // Listeners: 80 redirects to HTTPS (301); 443 with the certificate and TLS 1.3 policy.
    let http = e.listener(&e.arn(&u.http)).await;
    assert_eq!(http.port(), Some(80));
    assert_eq!(http.protocol().unwrap().as_str(), "HTTP");
    let r = http.default_actions()[0].redirect_config().unwrap();
    assert_eq!(r.protocol(), Some("HTTPS"));
    assert_eq!(r.port(), Some("443"));
    assert_eq!(r.status_code().unwrap().as_str(), "HTTP_301");
    let https = e.listener(&e.arn(&u.https)).await;
    assert_eq!(https.port(), Some(443));
    assert_eq!(https.protocol().unwrap().as_str(), "HTTPS");
    assert_eq!(https.ssl_policy(), Some(DEFAULT_SSL_POLICY));
    assert_eq!(
        https.certificates()[0].certificate_arn(),
        Some(e.cert.as_str())
    );
    let fixed = https.default_actions()[0].fixed_response_config().unwrap();
    assert_eq!(fixed.status_code(), Some("404"));
    assert_eq!(fixed.message_body(), Some("not found"));
    assert_eq!(
        tag_urn(&e.tags(&e.arn(&u.https)).await["morket:urn"]),
        u.https.urn().as_str()
    );

    // Rules at their priorities: the scrape path first.
    let scrape = e.rule(&e.arn(&u.scrape_rule)).await;
    assert_eq!(scrape.priority(), Some("10"));
    assert_eq!(path_values(&scrape), ["/api/v1/scrape*"]);
    assert_eq!(forward_target(&scrape), e.arn(&u.scraper));
    let api = e.rule(&e.arn(&u.api_rule)).await;
    assert_eq!(api.priority(), Some("20"));
    assert_eq!(path_values(&api), ["/api/v1/*"]);
    assert_eq!(forward_target(&api), backend_arn);

    // Update in place: idle timeout, health check path, a rule's priority and path.
    a.idle_timeout = 300;
    a.health_path = "/healthz".into();
    a.scrape_priority = 5;
    a.scrape_path = "/api/v1/scrape/*".into();
    let (s2, _) = stack(&e, &a);
    let plan = e.up_stable(&s2).await;
    assert_eq!(plan.counts().update, 3, "{:?}", plan.steps);
    assert_eq!(step(&plan, u.lb.urn()).changed, vec!["idle_timeout"]);
    assert_eq!(step(&plan, u.backend.urn()).changed, vec!["health_check"]);
    assert_eq!(
        step(&plan, u.scrape_rule.urn()).changed,
        vec!["conditions", "priority"]
    );
    assert_eq!(e.arn(&u.lb), lb_arn, "updated in place");
    assert_eq!(
        e.lb_attrs(&lb_arn).await["idle_timeout.timeout_seconds"],
        "300"
    );
    assert_eq!(
        e.tg(&backend_arn).await.health_check_path(),
        Some("/healthz")
    );
    let scrape = e.rule(&e.arn(&u.scrape_rule)).await;
    assert_eq!(scrape.priority(), Some("5"));
    assert_eq!(path_values(&scrape), ["/api/v1/scrape/*"]);

    // Drift: changes made by hand show in a read.
    e.elb
        .modify_load_balancer_attributes()
        .load_balancer_arn(&lb_arn)
        .attributes(
            aws_sdk_elasticloadbalancingv2::types::LoadBalancerAttribute::builder()
                .key("idle_timeout.timeout_seconds")
                .value("60")
                .build(),
        )
        .send()
        .await
        .unwrap();
    e.elb
        .modify_target_group()
        .target_group_arn(&backend_arn)
        .health_check_path("/")
        .send()
        .await
        .unwrap();
    let read = e.read(u.lb.urn()).await.expect("live");
    assert_eq!(read["idle_timeout"], 60);
    assert_eq!(read["access_logs"]["bucket"], BUCKET);
    let read = e.read(u.backend.urn()).await.expect("live");
    assert_eq!(read["health_check"]["path"], "/");
    // The live view differs from the declaration exactly where it drifted.
    let declared = |urn: &Urn| e.st.resource(urn).unwrap().unwrap().inputs;
    let diff = |t: &str, live: &serde_json::Value, urn: &Urn| {
        e.reg.get(t).unwrap().diff(live, &declared(urn)).changed
    };
    let live_lb = e.read(u.lb.urn()).await.unwrap();
    assert_eq!(
        diff(LoadBalancer::TYPE, &live_lb, u.lb.urn()),
        vec!["idle_timeout"]
    );
    assert_eq!(
        diff(TargetGroup::TYPE, &read, u.backend.urn()),
        vec!["health_check"]
    );
    // Without drift, a read equals the declaration (defaults and sets included).
    let live_rule = e.read(u.scrape_rule.urn()).await.unwrap();
    assert!(
        diff(ListenerRule::TYPE, &live_rule, u.scrape_rule.urn()).is_empty(),
        "{live_rule} vs {}",
        declared(u.scrape_rule.urn())
    );
    let live_https = e.read(u.https.urn()).await.unwrap();
    assert!(diff(Listener::TYPE, &live_https, u.https.urn()).is_empty());
    let live_http = e.read(u.http.urn()).await.unwrap();
    assert!(diff(Listener::TYPE, &live_http, u.http.urn()).is_empty());
    e.no_changes(&s2).await;

    // Force-new: a new port (and so a new name) replaces the backend group,
    // created before the old one goes; the rule moves to it in place.
    a.backend_port = 8000;
    a.backend_name = "morket-staging-backend-2".into();
    let (s3, _) = stack(&e, &a);
    let plan = e.up_stable(&s3).await;
    let st = step(&plan, u.backend.urn());
    assert_eq!(st.action, PlanAction::Replace);
    assert_eq!(st.replace_fields, vec!["name", "port"]);
    let new_backend = e.arn(&u.backend);
    assert_ne!(new_backend, backend_arn);
    assert_eq!(e.tg(&new_backend).await.port(), Some(8000));
    assert_eq!(
        forward_target(&e.rule(&e.arn(&u.api_rule)).await),
        new_backend
    );
    assert_eq!(
        e.target_group_names().await,
        ["morket-staging-backend-2", "morket-staging-scraper"]
    );

    // Destroy.
    let (_, report) = e.h.eng.destroy(&s3, &e.h.cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert_eq!(e.load_balancers().await, 0);
    assert!(e.target_group_names().await.is_empty());
    assert!(e.st.resources().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_answers_moto_does_not_give() {
    let mut e = env().await;
    let a = Alb::default();
    let (s1, u) = stack(&e, &a);

    // A certificate ACM just issued, not yet visible to ELB: retried.
    e.moto.fail("CreateListener", "CertificateNotFound", 400, 2);
    e.up_stable(&s1).await;
    assert_eq!(e.moto.faults_fired()["faults"][0]["fired"], 2);
    assert_eq!(
        e.listener(&e.arn(&u.https)).await.certificates()[0].certificate_arn(),
        Some(e.cert.as_str())
    );

    // A target group whose name is kept by a replacement would be deleted
    // first, but a rule forwards to it: the plan is refused, saying what to do.
    let mut b = a.clone();
    b.backend_port = 8000;
    let (s2, _) = stack(&e, &b);
    let err =
        e.h.eng
            .up(&s2, &Default::default(), &e.h.cancel)
            .await
            .expect_err("refused")
            .to_string();
    assert!(
        err.contains("keeps its name") && err.contains("new name"),
        "{err}"
    );
    assert_eq!(e.tg(&e.arn(&u.backend)).await.port(), Some(8080));

    // Deletion protection: AWS refuses the delete (moto does not enforce it).
    let mut c = a.clone();
    c.deletion_protection = true;
    let (s3, _) = stack(&e, &c);
    e.up_stable(&s3).await;
    assert_eq!(
        e.lb_attrs(&e.arn(&u.lb)).await["deletion_protection.enabled"],
        "true"
    );
    e.moto
        .fail("DeleteLoadBalancer", "OperationNotPermitted", 400, 1);
    let (_, report) = e.h.eng.destroy(&s3, &e.h.cancel).await.unwrap();
    let msg = shared::failures(&report).join("\n");
    assert!(
        msg.contains("deletion protection") && msg.contains("deletion_protection = false"),
        "{msg}"
    );
    assert_eq!(e.load_balancers().await, 1);

    // A target group still in use for a moment: retried, then deleted.
    e.up_stable(&s1).await;
    e.moto.fail("DeleteTargetGroup", "ResourceInUse", 400, 2);
    let (_, report) = e.h.eng.destroy(&s1, &e.h.cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert!(e.target_group_names().await.is_empty());
    assert_eq!(e.load_balancers().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_creates_are_found_by_urn_tag() {
    let mut e = env().await;
    let (st, u) = stack(&e, &Alb::default());
    // Create the load balancer and the backend group through the engine
    // would find them again: make them as a killed run would have.
    let inputs = |urn: &Urn| st.get(urn).unwrap().inputs.clone();
    let lb = e.interrupted_create(u.lb.urn(), &inputs(u.lb.urn())).await;
    let tg = e
        .interrupted_create(u.backend.urn(), &inputs(u.backend.urn()))
        .await;
    let p = e.reg.get(LoadBalancer::TYPE).unwrap();
    let found = p
        .find_by_urn(&ctx(u.lb.urn()), &inputs(u.lb.urn()))
        .await
        .unwrap();
    assert_eq!(found, vec![lb.clone()]);
    // Another resource's URN finds nothing, and its create is refused.
    let other = Urn::new(STACK, "", LoadBalancer::TYPE, "other");
    assert!(p
        .find_by_urn(&ctx(&other), &inputs(u.lb.urn()))
        .await
        .unwrap()
        .is_empty());
    let err = p
        .create(&ctx(&other), &inputs(u.lb.urn()))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("already exists"), "{err}");
    // A create sent again carries on from our own.
    assert_eq!(
        p.create(&ctx(u.lb.urn()), &inputs(u.lb.urn()))
            .await
            .unwrap()
            .id,
        lb.id
    );

    // The next up adopts both and creates the rest.
    let plan = e.up_stable(&st).await;
    assert_eq!(e.id(u.lb.urn()), lb.id);
    assert_eq!(e.id(u.backend.urn()), tg.id);
    assert_eq!(e.load_balancers().await, 1);
    assert_eq!(
        e.target_group_names().await,
        ["morket-staging-backend", "morket-staging-scraper"]
    );
    assert!(plan.counts().create >= 5, "{:?}", plan.steps);

    // Listeners and rules: found under their parent by tag.
    assert_eq!(e.find(u.https.urn()).await, vec![e.id(u.https.urn())]);
    assert_eq!(e.find(u.http.urn()).await, vec![e.id(u.http.urn())]);
    assert_eq!(
        e.find(u.scrape_rule.urn()).await,
        vec![e.id(u.scrape_rule.urn())]
    );
    assert_eq!(e.find(u.api_rule.urn()).await, vec![e.id(u.api_rule.urn())]);
    assert_eq!(e.find(u.scraper.urn()).await, vec![e.id(u.scraper.urn())]);

    let (_, report) = e.h.eng.destroy(&st, &e.h.cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
}

/// `read_many` of `type_name` over `items` equals the single reads; returns
/// the answers and, per operation, how many requests the single reads and
/// the batch sent.
async fn read_many_as_single(
    e: &Env,
    type_name: &str,
    items: &[morket_stack::provider::ReadItem],
    ops: &[&str],
) -> (
    Vec<Option<morket_stack::provider::ReadResult>>,
    Vec<(usize, usize)>,
) {
    let p = e.reg.get(type_name).unwrap();
    let sent = || {
        let seen = e.moto.requests();
        ops.iter()
            .map(|op| seen.iter().filter(|q| q.operation == *op).count())
            .collect::<Vec<_>>()
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
    (read, one_by_one.into_iter().zip(batched).collect())
}

/// `Provider::read_many` reads many target groups and load balancers with
/// one describe and one `DescribeTags` per 20 ARNs (the attributes have no
/// batch form): each as its single read. An ARN that is gone fails the ARN
/// list form, so its chunk is read again one ARN at a time: `None`, and the
/// others still read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_groups_and_load_balancers_are_read_many_at_once() {
    use morket_stack::provider::ReadItem;
    let mut e = env().await;
    let (mut st, u) = stack(&e, &Alb::default());
    let mut groups = vec![u.backend.urn().clone(), u.scraper.urn().clone()];
    let mut root = st.root();
    for n in 0..20 {
        let tg = target_group(&format!("morket-extra-{n:02}"), 9000 + n, &e.vpc, "/");
        groups.push(
            root.resource(&format!("extra-{n}"), tg)
                .unwrap()
                .urn()
                .clone(),
        );
    }
    let internal = root
        .resource(
            "internal",
            LoadBalancer::new(
                "morket-internal",
                e.subnets.iter().map(|s| s.clone().into()).collect(),
                vec![e.sg.clone().into()],
            ),
        )
        .unwrap();
    drop(root);
    e.up(&st).await;
    let balancers = [u.lb.urn().clone(), internal.urn().clone()];

    let item = |u: &Urn, id: Option<&str>| {
        let rec = e.st.resource(u).unwrap().unwrap();
        ReadItem {
            ctx: ctx(u),
            id: id.map_or(rec.id, str::to_string),
            inputs: rec.inputs,
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
    const TGS: [&str; 3] = [
        "DescribeTargetGroups",
        "DescribeTags",
        "DescribeTargetGroupAttributes",
    ];
    const LBS: [&str; 3] = [
        "DescribeLoadBalancers",
        "DescribeTags",
        "DescribeLoadBalancerAttributes",
    ];

    // 22 groups: two describes and two tag reads (20 + 2), attributes each.
    let items: Vec<ReadItem> = groups.iter().map(|u| item(u, None)).collect();
    let (read, counts) = read_many_as_single(&e, TargetGroup::TYPE, &items, &TGS).await;
    assert_eq!(counts, [(22, 2), (22, 2), (22, 22)], "target groups");
    check(&read, &groups);

    // One gone among three: the chunk fails, then one describe per ARN.
    let gone = items[0].id.replace("morket-staging-backend", "morket-gone");
    let items = [
        item(&groups[0], None),
        item(&groups[1], Some(&gone)),
        item(&groups[2], None),
    ];
    let (read, counts) = read_many_as_single(&e, TargetGroup::TYPE, &items, &TGS).await;
    assert_eq!(counts, [(3, 4), (2, 1), (2, 2)], "target groups, one gone");
    assert!(read[0].is_some() && read[1].is_none() && read[2].is_some());

    // Two load balancers: one describe, one tag read.
    let items: Vec<ReadItem> = balancers.iter().map(|u| item(u, None)).collect();
    let (read, counts) = read_many_as_single(&e, LoadBalancer::TYPE, &items, &LBS).await;
    assert_eq!(counts, [(2, 1), (2, 1), (2, 2)], "load balancers");
    check(&read, &balancers);
    let mut items = items;
    let gone = items[0].id.replace("/morket-staging/", "/aaa-gone/");
    items.push(item(&balancers[0], Some(&gone)));
    let (read, counts) = read_many_as_single(&e, LoadBalancer::TYPE, &items, &LBS).await;
    assert_eq!(counts, [(3, 4), (2, 1), (2, 2)], "load balancers, one gone");
    check(&read, &balancers);
    assert!(read[2].is_none(), "{gone} does not exist");
}

async fn preview_error(d: impl morket_stack::model::ResourceArgs) -> String {
    shared::preview_error(&mut offline_engine(settings()), d).await
}

#[tokio::test]
async fn validation_names_field_and_value_before_any_call() {
    const LB: &str =
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188";
    const L: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2";
    const TG: &str =
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/api/73e2d6bc24d8a067";
    let subnets = || vec!["subnet-0a".into(), "subnet-0b".into()];
    let cases: Vec<(String, &str, &str)> = vec![
        (
            {
                let mut lb = LoadBalancer::new("morket", subnets(), vec![]);
                lb.idle_timeout = 0;
                preview_error(lb).await
            },
            "idle_timeout",
            "0",
        ),
        (
            preview_error(LoadBalancer::new("morket_alb", subnets(), vec![])).await,
            "name",
            "morket_alb",
        ),
        (
            preview_error(LoadBalancer::new(
                "morket",
                vec!["subnet-0a".into()],
                vec![],
            ))
            .await,
            "subnets",
            "two subnets",
        ),
        (
            {
                let mut tg = TargetGroup::new("api", 8080, "vpc-0a");
                tg.health_check.matcher = "ok".into();
                preview_error(tg).await
            },
            "health_check.matcher",
            "ok",
        ),
        (
            {
                let mut tg = TargetGroup::new("api", 8080, "vpc-0a");
                tg.target_type = "alb".into();
                preview_error(tg).await
            },
            "target_type",
            "alb",
        ),
        (
            {
                let mut l = Listener::https(
                    LB,
                    "arn:aws:acm:us-east-1:1:certificate/x",
                    Action::forward(TG),
                );
                l.certificate_arn = None;
                preview_error(l).await
            },
            "certificate_arn",
            "needs a certificate",
        ),
        (
            {
                let mut l = Listener::https(
                    LB,
                    "arn:aws:acm:us-east-1:1:certificate/x",
                    Action::forward(TG),
                );
                l.ssl_policy = Some("TLS13".into());
                preview_error(l).await
            },
            "ssl_policy",
            "TLS13",
        ),
        (
            preview_error(Listener::http(
                LB,
                80,
                Action::fixed_response("301", "text/plain", None),
            ))
            .await,
            "default_action.fixed_response.status_code",
            "301",
        ),
        (
            preview_error(ListenerRule::new(
                L,
                0,
                vec![Condition::path(&["/api/*"])],
                Action::forward(TG),
            ))
            .await,
            "priority",
            "0",
        ),
        (
            preview_error(ListenerRule::new(
                L,
                60000,
                vec![Condition::path(&["/api/*"])],
                Action::forward(TG),
            ))
            .await,
            "priority",
            "60000",
        ),
        (
            preview_error(ListenerRule::new(
                LB,
                10,
                vec![Condition::path(&["/"])],
                Action::forward(TG),
            ))
            .await,
            "listener_arn",
            "loadbalancer/app/web",
        ),
    ];
    for (msg, field, value) in cases {
        assert!(
            msg.contains(field) && msg.contains(value),
            "{field}/{value}: {msg}"
        );
    }
}

/// The ALB's web ACL (aws:wafv2/WebAcl, WebAclAssociation,
/// LoggingConfiguration) with every AWS-like behaviour on: a web ACL
/// moments old is "unavailable" to AssociateWebACL, and WAF holds on to an
/// association a while after it is removed, so DeleteWebACL is refused
/// (WAFAssociatedItemException) meanwhile; both are retried as Terraform
/// does. Read back with the SDK; a rule change in place; a rule added out of
/// band shows as drift and the next `up` removes it, while Shield Advanced's
/// own rule is left alone; another ACL put on the ALB by hand gives way to
/// ours again; a rename replaces the ACL and moves the ALB to the new one
/// (the retry of the association shown by the peer's count); destroy
/// leaves nothing (the delete of the ACL retried while WAF holds it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_acl_in_front_of_the_alb() {
    use aws_sdk_wafv2::types as w;
    use morket_stack::plan::PlanOptions;
    use morket_stack::provider::aws::logs::log_group::LogGroup;
    use morket_stack::provider::aws::wafv2::logging_configuration::LoggingConfiguration;
    use morket_stack::provider::aws::wafv2::web_acl::{Rule as WafRule, WebAcl};
    use morket_stack::provider::aws::wafv2::web_acl_association::WebAclAssociation;
    use morket_stack::provider::aws::AwsSettings;
    use shared::AWS_LIKE_SCALE;

    // Fixtures first, then AWS time at the peer's scale on both sides.
    let mut e = shared::Env::new(AwsSettings {
        time_scale: AWS_LIKE_SCALE,
        max_attempts: 2,
        ..settings()
    })
    .await;
    let vpc = shared::create_vpc(&e.ec2, "10.0.0.0/16").await;
    let mut subnets = Vec::new();
    for (cidr, az) in [("10.0.1.0/24", "us-east-1a"), ("10.0.2.0/24", "us-east-1b")] {
        subnets.push(shared::create_subnet(&e.ec2, &vpc, cidr, Some(az)).await);
    }
    let sg = shared::create_security_group(&e.ec2, "alb", "alb", Some(&vpc)).await;
    // The peer's windows 4 times the engine's AWS time: a web ACL stays
    // unavailable for 2 s, longer than the few WAF calls (paced by the
    // engine's WAF rate limit, in real time) between its create and the
    // association; WAF's hold on a removed association (6 s) and the
    // ALB's provisioning (12 s) stay within the engine's retries and waits.
    e.moto
        .aws_like(serde_json::json!({"on": "all", "scale": 4.0 * AWS_LIKE_SCALE}));
    let waf = aws_sdk_wafv2::Client::new(&e.conf);

    struct Waf {
        lb: Resource<LoadBalancer>,
        acl: Resource<WebAcl>,
        association: Resource<WebAclAssociation>,
        logging: Resource<LoggingConfiguration>,
    }
    let stack = |acl_name: &str, rate: i64| {
        let mut st = Stack::new(STACK).unwrap();
        let mut root = st.root();
        let lb = LoadBalancer::new(
            "morket-staging",
            subnets.iter().map(|s| s.clone().into()).collect(),
            vec![sg.clone().into()],
        );
        let lb = root.resource("alb", lb).unwrap();
        let mut acl = WebAcl::regional(
            acl_name,
            vec![
                WafRule::aws_managed("aws-common", "AWSManagedRulesCommonRuleSet", 10),
                WafRule::aws_managed("aws-bad-inputs", "AWSManagedRulesKnownBadInputsRuleSet", 20),
                WafRule::rate_limit("rate-per-ip", rate, 30),
            ],
        );
        acl.description = Some("In front of the API".into());
        acl.tags
            .insert("Name".into(), "morket-staging-alb-waf".into());
        let acl = root.resource("waf", acl).unwrap();
        let association = root
            .resource(
                "waf-association",
                WebAclAssociation::new(acl.arn(), lb.arn()),
            )
            .unwrap();
        let group = root
            .resource("waf-logs", LogGroup::new("aws-waf-logs-morket-staging"))
            .unwrap();
        let logging = root
            .resource(
                "waf-logging",
                LoggingConfiguration::new(acl.arn(), group.arn()),
            )
            .unwrap();
        (
            st,
            Waf {
                lb,
                acl,
                association,
                logging,
            },
        )
    };
    let get = |arn: String| {
        let waf = waf.clone();
        async move {
            let p: Vec<&str> = arn.rsplitn(3, '/').collect();
            waf.get_web_acl()
                .name(p[1])
                .id(p[0])
                .scope(w::Scope::Regional)
                .send()
                .await
                .unwrap()
        }
    };
    let acl_of = |lb: String| {
        let waf = waf.clone();
        async move {
            waf.get_web_acl_for_resource()
                .resource_arn(lb)
                .send()
                .await
                .unwrap()
                .web_acl()
                .map(|a| a.arn().to_string())
        }
    };
    let rate_of = |o: &aws_sdk_wafv2::operation::get_web_acl::GetWebAclOutput| {
        o.web_acl()
            .unwrap()
            .rules()
            .iter()
            .find_map(|r| r.statement()?.rate_based_statement().map(|s| s.limit()))
    };

    // Create: the ACL as declared, in front of the ALB, logging.
    let (s1, u) = stack("morket-staging-alb", 2000);
    e.up_stable(&s1).await;
    let acl_arn = e.id(&u.acl);
    let lb_arn = e.id(&u.lb);
    assert_eq!(
        acl_of(lb_arn.clone()).await.as_deref(),
        Some(acl_arn.as_str())
    );
    let live = get(acl_arn.clone()).await;
    let acl = live.web_acl().unwrap();
    assert_eq!(acl.name(), "morket-staging-alb");
    assert_eq!(acl.description(), Some("In front of the API"));
    assert!(acl.default_action().unwrap().allow().is_some());
    let mut rules: Vec<(i32, &str)> = acl
        .rules()
        .iter()
        .map(|r| (r.priority(), r.name()))
        .collect();
    rules.sort();
    assert_eq!(
        rules,
        [
            (10, "aws-common"),
            (20, "aws-bad-inputs"),
            (30, "rate-per-ip")
        ]
    );
    let common = acl
        .rules()
        .iter()
        .find(|r| r.name() == "aws-common")
        .unwrap();
    let group = common
        .statement()
        .unwrap()
        .managed_rule_group_statement()
        .unwrap();
    assert_eq!(
        (group.vendor_name(), group.name()),
        ("AWS", "AWSManagedRulesCommonRuleSet")
    );
    assert!(common.override_action().unwrap().none().is_some());
    assert!(common.action().is_none());
    assert_eq!(rate_of(&live), Some(2000));
    assert_eq!(
        acl.visibility_config().unwrap().metric_name(),
        "morket-staging-alb"
    );
    let tags: std::collections::BTreeMap<String, String> = waf
        .list_tags_for_resource()
        .resource_arn(&acl_arn)
        .send()
        .await
        .unwrap()
        .tag_info_for_resource()
        .unwrap()
        .tag_list()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect();
    assert_eq!(tags["Name"], "morket-staging-alb-waf");
    assert_eq!(tag_urn(&tags["morket:urn"]), u.acl.urn().as_str());
    let out = e.outputs(&u.acl);
    assert_eq!(out["arn"], acl_arn.as_str());
    assert_eq!(out["web_acl_id"], acl.id());
    let logged = waf
        .get_logging_configuration()
        .resource_arn(&acl_arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        logged
            .logging_configuration()
            .unwrap()
            .log_destination_configs(),
        ["arn:aws:logs:us-east-1:123456789012:log-group:aws-waf-logs-morket-staging"]
    );
    assert_eq!(e.id(&u.association), format!("{acl_arn},{lb_arn}"));
    // Each is found again from its inputs (the ACL by its URN tag).
    assert_eq!(e.find(&u.acl).await, [acl_arn.as_str()]);
    assert_eq!(
        e.find(&u.association).await,
        [format!("{acl_arn},{lb_arn}")]
    );
    assert_eq!(e.find(&u.logging).await, [acl_arn.as_str()]);

    // A new rate limit changes the ACL in place.
    let (s2, _) = stack("morket-staging-alb", 500);
    let plan = e.up_stable(&s2).await;
    let st = step(&plan, &u.acl);
    assert_eq!(
        (st.action, st.changed.clone()),
        (PlanAction::Update, vec!["rules".to_string()])
    );
    assert_eq!(plan.counts().update, 1, "{:?}", plan.steps);
    assert_eq!(rate_of(&get(acl_arn.clone()).await), Some(500));

    // Out of band: a label-match rule (drift, removed by the next up) and
    // Shield Advanced's own rule (left alone).
    let live = get(acl_arn.clone()).await;
    let mut rules = live.web_acl().unwrap().rules().to_vec();
    let vis = |n: &str| {
        w::VisibilityConfig::builder()
            .cloud_watch_metrics_enabled(false)
            .metric_name(n)
            .sampled_requests_enabled(false)
            .build()
            .unwrap()
    };
    let label_rule = |name: &str, priority: i32| {
        w::Rule::builder()
            .name(name)
            .priority(priority)
            .statement(
                w::Statement::builder()
                    .label_match_statement(
                        w::LabelMatchStatement::builder()
                            .scope(w::LabelMatchScope::Label)
                            .key("awswaf:managed:aws:bot")
                            .build()
                            .unwrap(),
                    )
                    .build(),
            )
            .action(
                w::RuleAction::builder()
                    .count(w::CountAction::builder().build())
                    .build(),
            )
            .visibility_config(vis(name))
            .build()
            .unwrap()
    };
    let shield = "ShieldMitigationRuleGroup_123456789012_5a2ff3ee-2bd1-4a84-9b0f-0123456789ab_x";
    rules.push(label_rule("added-by-hand", 40));
    rules.push(label_rule(shield, 10_000_000));
    waf.update_web_acl()
        .name("morket-staging-alb")
        .scope(w::Scope::Regional)
        .id(live.web_acl().unwrap().id())
        .lock_token(live.lock_token().unwrap())
        .default_action(live.web_acl().unwrap().default_action().unwrap().clone())
        .visibility_config(live.web_acl().unwrap().visibility_config().unwrap().clone())
        .set_rules(Some(rules))
        .send()
        .await
        .unwrap();
    let read = e.read(&u.acl).await.unwrap();
    let names: Vec<&str> = read["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"added-by-hand") && !names.contains(&shield),
        "{names:?}"
    );
    let added = read["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "added-by-hand")
        .unwrap();
    assert_eq!(
        added["statement"],
        serde_json::json!({"unmodelled_statement": "label_match_statement"})
    );
    let refresh = PlanOptions {
        refresh: true,
        ..Default::default()
    };
    let plan = e.eng.preview(&s2, &refresh).await.unwrap();
    let st = step(&plan, &u.acl);
    assert_eq!(
        (st.action, st.changed.clone()),
        (PlanAction::Update, vec!["rules".to_string()])
    );
    let (_, report) = e.eng.up(&s2, &refresh, &e.cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    let names: Vec<String> = get(acl_arn.clone())
        .await
        .web_acl()
        .unwrap()
        .rules()
        .iter()
        .map(|r| r.name().to_string())
        .collect();
    assert!(!names.contains(&"added-by-hand".to_string()), "{names:?}");
    assert!(names.contains(&shield.to_string()), "{names:?}");
    e.no_changes(&s2).await;

    // Another ACL put on the ALB by hand: the association reads as gone
    // and the next up puts ours back (and leaves it there).
    let by_hand = waf
        .create_web_acl()
        .name("by-hand")
        .scope(w::Scope::Regional)
        .default_action(
            w::DefaultAction::builder()
                .allow(w::AllowAction::builder().build())
                .build(),
        )
        .visibility_config(vis("by-hand"))
        .send()
        .await
        .unwrap()
        .summary()
        .unwrap()
        .clone();
    let mut tries = 0;
    // WAF refuses a web ACL moments old (the peer too); a person retries.
    while let Err(err) = waf
        .associate_web_acl()
        .web_acl_arn(by_hand.arn().unwrap())
        .resource_arn(&lb_arn)
        .send()
        .await
    {
        tries += 1;
        assert!(tries < 20, "{err:?}");
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    assert_eq!(acl_of(lb_arn.clone()).await.as_deref(), by_hand.arn());
    assert_eq!(e.read(&u.association).await, None);
    let plan = e.eng.preview(&s2, &refresh).await.unwrap();
    assert_eq!(step(&plan, &u.association).action, PlanAction::Create);
    let (_, report) = e.eng.up(&s2, &refresh, &e.cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    assert_eq!(
        acl_of(lb_arn.clone()).await.as_deref(),
        Some(acl_arn.as_str())
    );
    let plan = e.eng.preview(&s2, &refresh).await.unwrap();
    assert!(!plan.has_changes(), "{:?}", plan.steps);
    let token = get(by_hand.arn().unwrap().to_string())
        .await
        .lock_token()
        .unwrap()
        .to_string();
    waf.delete_web_acl()
        .name("by-hand")
        .scope(w::Scope::Regional)
        .id(by_hand.id().unwrap())
        .lock_token(token)
        .send()
        .await
        .unwrap();

    // A new name replaces the ACL: the ALB moves to the new one, made
    // moments before (AssociateWebACL retried while it is unavailable).
    let unavailable = |fired: &serde_json::Value| {
        fired["fired"]["consistency"]["AssociateWebACL"]
            .as_u64()
            .unwrap_or(0)
    };
    let before = unavailable(&e.moto.aws_like_fired());
    let (s3, _) = stack("morket-staging-alb-2", 500);
    let plan = e.up_stable(&s3).await;
    for r in [u.acl.urn(), u.association.urn(), u.logging.urn()] {
        assert_eq!(step(&plan, r).action, PlanAction::Replace, "{r}");
    }
    let new_arn = e.id(&u.acl);
    assert_ne!(new_arn, acl_arn);
    assert_eq!(
        acl_of(lb_arn.clone()).await.as_deref(),
        Some(new_arn.as_str())
    );
    let names: Vec<String> = waf
        .list_web_acls()
        .scope(w::Scope::Regional)
        .send()
        .await
        .unwrap()
        .web_acls()
        .iter()
        .filter_map(|s| s.name().map(str::to_string))
        .collect();
    assert_eq!(names, ["morket-staging-alb-2"]);
    let fired = e.moto.aws_like_fired();
    assert!(unavailable(&fired) > before, "{fired}");

    // Destroy: the association is let go, then the ACL goes once WAF no
    // longer holds it (DeleteWebACL refused meanwhile).
    let (_, report) = e.eng.destroy(&s3, &e.cancel).await.unwrap();
    assert!(report.is_success(), "{report:?}");
    let fired = e.moto.aws_like_fired();
    assert!(
        fired["fired"]["conflicts"]["DeleteWebACL"]
            .as_u64()
            .unwrap_or(0)
            > 0,
        "{fired}"
    );
    assert!(waf
        .list_web_acls()
        .scope(w::Scope::Regional)
        .send()
        .await
        .unwrap()
        .web_acls()
        .is_empty());
    assert!(e.st.resources().unwrap().is_empty());
}
