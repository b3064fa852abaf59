//! OpenSearch component (R9): an OpenSearch 2.x domain inside the VPC behind
//! the OpenSearch security group (443 from ECS only), gp3 EBS per node,
//! encryption at rest and node to node, HTTPS enforced, automated snapshots
//! at `snapshot_hour` UTC, zone awareness when there is more than one node,
//! and a fine-grained master user whose password comes from `random`. Its
//! application log and audit log (fine-grained access control's record of
//! who did what) go to CloudWatch Logs, kept `log_retention_days`, through
//! a CloudWatch Logs resource policy admitting OpenSearch to those groups.

use morket_stack::model::{Input, ModelError, Resource, ResourceOptions, Scope};
use morket_stack::provider::aws::logs::log_group::LogGroup;
use morket_stack::provider::aws::logs::resource_policy::ResourcePolicy;
use morket_stack::provider::aws::opensearch::domain::{Domain, LogPublishing, VpcOptions};
use morket_stack::provider::random::RandomPassword;

use super::account::Account;
use super::config::MorketConfig;
use super::network::{name_tag, Network};

pub struct Opensearch {
    pub domain: Resource<Domain>,
    pub master_password: Resource<RandomPassword>,
}

pub const MASTER_USER: &str = "morket_admin";

/// Any principal may call the domain's HTTP API: a VPC domain is reachable
/// only through its security group, which admits the ECS tasks alone (R9.4).
/// The resource names the account the credentials belong to (a lookup).
pub fn access_policy(region: &str, domain: &str, account: &Account) -> Input<String> {
    let template = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": "es:ESHttp*",
            "Resource": format!("arn:{{partition}}:es:{region}:{{account}}:domain/{domain}/*"),
        }]
    })
    .to_string();
    Input::interpolate(
        &template,
        &[
            ("partition", account.caller.partition().into()),
            ("account", account.caller.account_id().into()),
        ],
    )
}

/// The log types published, application first (checkov reads the first).
pub const LOGS: [(&str, &str); 2] = [
    ("ES_APPLICATION_LOGS", "application"),
    ("AUDIT_LOGS", "audit"),
];

/// Lets OpenSearch create streams and put events in `groups` (ARNs), for
/// domains of this account only.
fn log_policy(groups: &[Input<String>], account: &Account) -> Input<String> {
    let mut vars = vec![("account".to_string(), account.caller.account_id().into())];
    let resources: Vec<String> = groups
        .iter()
        .enumerate()
        .map(|(i, g)| {
            vars.push((format!("group{i}"), g.clone()));
            format!("{{group{i}}}:*")
        })
        .collect();
    let template = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "OpenSearchLogs",
            "Effect": "Allow",
            "Principal": {"Service": "es.amazonaws.com"},
            "Action": ["logs:PutLogEvents", "logs:CreateLogStream"],
            "Resource": resources,
            "Condition": {"StringEquals": {"aws:SourceAccount": "{account}"}},
        }]
    })
    .to_string();
    let vars: Vec<(&str, Input<String>)> =
        vars.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    Input::interpolate(&template, &vars)
}

pub fn declare(
    scope: &mut Scope<'_>,
    cfg: &MorketConfig,
    net: &Network,
    account: &Account,
) -> Result<Opensearch, ModelError> {
    let mut c = scope
        .component("morket:Opensearch", "opensearch")?
        .protect_all(cfg.is_production());
    let o = &cfg.opensearch;
    let name = cfg.name("");

    // Fine-grained access control wants every character class.
    let mut password = RandomPassword::new(32);
    password.min_upper = 1;
    password.min_lower = 1;
    password.min_numeric = 1;
    password.min_special = 1;
    let master_password = c.resource("master-password", password)?;

    let mut d = Domain::new(&name);
    d.engine_version = o.engine_version.clone();
    d.cluster_config.instance_type = o.instance_type.clone();
    d.cluster_config.instance_count = o.instance_count as i32;
    let zones = (o.instance_count as usize).min(net.private_subnets.len());
    d.cluster_config.zone_awareness_enabled = zones > 1;
    d.cluster_config.availability_zone_count = (zones > 1).then_some(zones as i32);
    d.ebs_options.ebs_enabled = true;
    d.ebs_options.volume_type = "gp3".into();
    d.ebs_options.volume_size = o.volume_size_gb as i32;
    d.encrypt_at_rest.enabled = true;
    d.node_to_node_encryption.enabled = true;
    d.domain_endpoint_options.enforce_https = true;
    d.vpc_options = Some(VpcOptions {
        subnet_ids: net
            .private_subnets
            .iter()
            .take(zones)
            .map(|s| s.id().into())
            .collect(),
        security_group_ids: vec![net.security_groups.opensearch.id().into()],
    });
    d.snapshot_options.automated_snapshot_start_hour = o.snapshot_hour as i32;
    d.access_policies = Some(access_policy(&cfg.region, &name, account));
    d.advanced_security_options.enabled = true;
    d.advanced_security_options.internal_user_database_enabled = true;
    d.advanced_security_options.master_user_name = Some(MASTER_USER.into());
    d.advanced_security_options.master_user_password = Some(master_password.result().into());
    d.tags = name_tag(cfg, "opensearch");

    let mut groups = Vec::new();
    for (log_type, what) in LOGS {
        let mut g = LogGroup::new(&format!("/aws/opensearch/{name}/{what}"));
        g.retention_in_days = Some(cfg.log_retention_days as i32);
        g.tags = name_tag(cfg, "opensearch");
        let g = c.resource(&format!("{what}-logs"), g)?;
        d.log_publishing_options.push(LogPublishing {
            log_type: log_type.into(),
            cloudwatch_log_group_arn: g.arn().into(),
            enabled: true,
        });
        groups.push(g.arn().into());
    }
    let policy = c.resource(
        "log-policy",
        ResourcePolicy::new(
            &format!("{name}-opensearch-logs"),
            log_policy(&groups, account),
        ),
    )?;

    // A domain in a VPC needs OpenSearch's service-linked role, and its
    // logs the resource policy.
    let domain = c.resource_with(
        "domain",
        d,
        ResourceOptions::new()
            .depends_on(&account.opensearch)
            .depends_on(&policy),
    )?;
    Ok(Opensearch {
        domain,
        master_password,
    })
}
