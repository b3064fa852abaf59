//! Load balancer component (R4): an internet-facing ALB in the public
//! subnets serving `api.<domain>` with a DNS-validated certificate; port 80
//! redirects to HTTPS; on 443 `/api/v1/scrape*` goes to the scraper and
//! `/api/v1/*` to the backend (in that priority order) and everything else is
//! redirected to the frontend, which CloudFront serves on `<domain>` (R4.5's
//! "remaining requests to the CloudFront origin"). A 120 s idle timeout
//! (R4.7) and access logs to a bucket that expires them after 90 days (R4.6).
//! A WAF web ACL sits in front of it (AWS's common and known-bad-inputs
//! rule groups, a per-IP rate limit), logging to `aws-waf-logs-morket-<env>-alb`.

use morket_stack::model::{Input, ModelError, Resource, ResourceOptions, Scope};
use morket_stack::provider::aws::acm::certificate::{self, Certificate};
use morket_stack::provider::aws::elbv2::listener::Listener;
use morket_stack::provider::aws::elbv2::listener_rule::{Condition, ListenerRule};
use morket_stack::provider::aws::elbv2::load_balancer::{AccessLogs, LoadBalancer};
use morket_stack::provider::aws::elbv2::target_group::TargetGroup;
use morket_stack::provider::aws::elbv2::{Action, Redirect};
use morket_stack::provider::aws::iam::policy::{PolicyDocument, Statement};
use morket_stack::provider::aws::logs::log_group::LogGroup;
use morket_stack::provider::aws::route53::get_zone::GetZone;
use morket_stack::provider::aws::route53::record::Record;
use morket_stack::provider::aws::s3::bucket::{Bucket, LifecycleRule};
use morket_stack::provider::aws::s3::elb_service_account::principal_for;
use morket_stack::provider::aws::wafv2::logging_configuration::LoggingConfiguration;
use morket_stack::provider::aws::wafv2::web_acl::{Rule, WebAcl};
use morket_stack::provider::aws::wafv2::web_acl_association::WebAclAssociation;

use super::account::Account;
use super::config::MorketConfig;
use super::network::{name_tag, Network};

pub const BACKEND_PORT: u16 = 3000;
pub const SCRAPER_PORT: u16 = 8001;
/// Where access logs go inside the bucket.
const LOG_PREFIX: &str = "alb";
/// The service principal that delivers S3 server access logs.
const S3_LOGGING: &str = "logging.s3.amazonaws.com";

pub struct Alb {
    pub load_balancer: Resource<LoadBalancer>,
    pub backend: Resource<TargetGroup>,
    pub scraper: Resource<TargetGroup>,
    /// The routing rules: a service may only join its target group once
    /// the group is behind a listener.
    pub rules: Vec<Resource<ListenerRule>>,
    pub logs: Resource<Bucket>,
    /// `api.<domain>`.
    pub api_domain: String,
}

/// Where the S3 server access logs of `bucket` land in the log bucket.
pub fn s3_log_prefix(bucket: &str) -> String {
    format!("s3/{bucket}/")
}

/// `api.<domain>`: the ALB's name; the domain itself is CloudFront's.
pub fn api_domain(cfg: &MorketConfig) -> String {
    format!("api.{}", cfg.domain_name)
}

pub fn declare(
    scope: &mut Scope<'_>,
    cfg: &MorketConfig,
    net: &Network,
    account: &Account,
    zone: &Resource<GetZone>,
    s3_logged: &[String],
) -> Result<Alb, ModelError> {
    let mut c = scope.component("morket:Alb", "alb")?;
    let api_domain = api_domain(cfg);

    // R4.1: the certificate, valid once its DNS records are in the zone.
    let mut cert = Certificate::dns(&api_domain);
    cert.tags = name_tag(cfg, "alb");
    let cert_res = c.resource("certificate", cert.clone())?;
    let certificate = certificate::validated(
        &mut c,
        "certificate-validation",
        &cert_res,
        &cert,
        zone.zone_id(),
    )?;

    // R4.6: access logs, kept 90 days. ALB log delivery writes with SSE-S3
    // only, and the bucket policy must admit the region's delivery
    // principal before the ALB is told to use the bucket. The S3 server
    // access logs of `s3_logged` land here too, each under its own prefix
    // and admitted only from that bucket in this account.
    let bucket_name = cfg.name("alb-logs");
    let mut logs = Bucket::private(&bucket_name);
    logs.versioning = None;
    logs.lifecycle_rules = vec![LifecycleRule {
        id: "expire-after-90-days".into(),
        enabled: true,
        expiration_days: Some(90),
        abort_incomplete_multipart_upload_days: Some(7),
        ..Default::default()
    }];
    let (kind, principal) = principal_for(&cfg.region);
    let objects = Input::interpolate(
        &format!("arn:{{partition}}:s3:::{bucket_name}/{LOG_PREFIX}/AWSLogs/{{account}}/*"),
        &[
            ("partition", account.caller.partition().into()),
            ("account", account.caller.account_id().into()),
        ],
    );
    let partition = || Input::from(account.caller.partition());
    let mut statements = vec![Statement::allow(&["s3:PutObject"], vec![objects])
        .sid("AlbAccessLogs")
        .principal(kind, vec![principal.into()])];
    for (i, source) in s3_logged.iter().enumerate() {
        let arn = |path: &str| {
            Input::interpolate(
                &format!("arn:{{partition}}:s3:::{path}"),
                &[("partition", partition())],
            )
        };
        let prefix = s3_log_prefix(source);
        statements.push(
            Statement::allow(
                &["s3:PutObject"],
                vec![arn(&format!("{bucket_name}/{prefix}*"))],
            )
            .sid(&format!("S3AccessLogs{i}"))
            .principal("Service", vec![S3_LOGGING.into()])
            .condition("ArnLike", "aws:SourceArn", vec![arn(source)])
            .condition(
                "StringEquals",
                "aws:SourceAccount",
                vec![account.caller.account_id().into()],
            ),
        );
    }
    logs.policy = Some(PolicyDocument::new(statements).to_input());
    logs.force_destroy = !cfg.is_production();
    logs.tags = name_tag(cfg, "alb-logs");
    let logs = c.resource("access-logs", logs)?;

    let mut lb = LoadBalancer::new(
        &cfg.name("alb"),
        net.public_subnets.iter().map(|s| s.id().into()).collect(),
        vec![net.security_groups.alb.id().into()],
    );
    lb.idle_timeout = 120;
    lb.access_logs = Some(AccessLogs {
        bucket: bucket_name.clone(),
        prefix: LOG_PREFIX.into(),
        enabled: true,
    });
    lb.deletion_protection = cfg.is_production();
    lb.drop_invalid_header_fields = true;
    lb.tags = name_tag(cfg, "alb");
    // An ALB in a VPC without its internet gateway is refused.
    let load_balancer = c.resource_with(
        "alb",
        lb,
        ResourceOptions::new()
            .depends_on(&logs)
            .depends_on(&net.internet_gateway),
    )?;

    // The public ALB behind a web ACL: AWS's baseline rules (OWASP-style
    // common exploits, and known bad inputs such as Log4Shell probes) and a
    // per-IP rate limit; requests logged to CloudWatch Logs.
    let mut acl = WebAcl::regional(
        &cfg.name("alb"),
        vec![
            Rule::aws_managed("aws-common", "AWSManagedRulesCommonRuleSet", 10),
            Rule::aws_managed("aws-bad-inputs", "AWSManagedRulesKnownBadInputsRuleSet", 20),
            Rule::rate_limit("rate-per-ip", cfg.waf.rate_limit, 30),
        ],
    );
    acl.description = Some(format!("In front of {api_domain}"));
    acl.tags = name_tag(cfg, "alb-waf");
    let acl = c.resource("waf", acl)?;
    c.resource(
        "waf-association",
        WebAclAssociation::new(acl.arn(), load_balancer.arn()),
    )?;
    let mut waf_logs = LogGroup::new(&format!("aws-waf-logs-{}", cfg.name("alb")));
    waf_logs.retention_in_days = Some(cfg.log_retention_days as i32);
    waf_logs.tags = name_tag(cfg, "alb-waf");
    let waf_logs = c.resource("waf-logs", waf_logs)?;
    c.resource(
        "waf-logging",
        LoggingConfiguration::new(acl.arn(), waf_logs.arn()),
    )?;

    let target_group = |c: &mut Scope<'_>, app: &str, port: u16, path: &str| {
        let mut tg = TargetGroup::new(&cfg.name(app), port as i32, net.vpc.id());
        tg.target_type = "ip".into();
        // R3.6
        tg.health_check.path = path.into();
        tg.health_check.interval = 30;
        tg.health_check.healthy_threshold = 2;
        tg.health_check.unhealthy_threshold = 3;
        // In-flight requests may take the whole 120 s (R4.7) to finish.
        tg.deregistration_delay = 120;
        tg.tags = name_tag(cfg, app);
        c.resource(app, tg)
    };
    let backend = target_group(
        &mut c,
        "backend",
        BACKEND_PORT,
        &cfg.ecs.backend.health_check_path,
    )?;
    let scraper = target_group(
        &mut c,
        "scraper",
        SCRAPER_PORT,
        &cfg.ecs.scraper.health_check_path,
    )?;

    // R4.2
    let mut http = Listener::http(load_balancer.arn(), 80, Action::redirect_to_https());
    http.tags = name_tag(cfg, "alb-http");
    c.resource("http", http)?;

    // R4.5: what is not the API goes to the frontend on CloudFront.
    let to_frontend = Action {
        kind: "redirect".into(),
        redirect: Some(Redirect {
            protocol: "HTTPS".into(),
            port: "443".into(),
            host: cfg.domain_name.clone(),
            status_code: "HTTP_302".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut https = Listener::https(
        load_balancer.arn(),
        certificate.certificate_arn(),
        to_frontend,
    );
    https.tags = name_tag(cfg, "alb-https");
    let https = c.resource("https", https)?;

    // R4.3 before R4.4: `/api/v1/scrape*` also matches `/api/v1/*`.
    let mut rules = Vec::new();
    for (name, priority, path, tg) in [
        ("scrape", 10, "/api/v1/scrape*", &scraper),
        ("api", 20, "/api/v1/*", &backend),
    ] {
        let mut rule = ListenerRule::new(
            https.arn(),
            priority,
            vec![Condition::path(&[path])],
            Action::forward(tg.arn()),
        );
        rule.tags = name_tag(cfg, &format!("alb-{name}"));
        rules.push(c.resource(name, rule)?);
    }

    c.resource(
        "api-record",
        Record::alias(
            zone.zone_id(),
            api_domain.as_str(),
            "A",
            load_balancer.dns_name(),
            load_balancer.zone_id(),
        ),
    )?;

    Ok(Alb {
        load_balancer,
        backend,
        scraper,
        rules,
        logs,
        api_domain,
    })
}
