//! ClickHouse component (R6.1–6.4, 6.6, 6.7): an EC2 instance in the first
//! private subnet, launched from a launch template whose user data installs
//! ClickHouse from the official repository, writes the server settings
//! (`max_memory_usage`, `max_threads`), mounts the gp3 data volume at
//! /var/lib/clickhouse and starts the service. The security group admits
//! 8123 and 9000 from ECS only (network component). Outputs: private IP and
//! ports (R6.7).
//!
//! R6.6: the admin credentials live only in Secrets Manager. The instance's
//! role may read exactly that secret; at boot the script reads it with the
//! instance's credentials (IMDSv2) and writes the admin user with the
//! password's SHA-256 only. The `default` user keeps no password and answers
//! on localhost only. The password is never in user data, state or plan.

use morket_stack::model::{Input, ModelError, Resource, ResourceOptions, Scope};
use morket_stack::provider::aws::ec2::instance::Instance;
use morket_stack::provider::aws::ec2::launch_template::{BlockDeviceMapping, LaunchTemplate};
use morket_stack::provider::aws::ec2::volume::Volume;
use morket_stack::provider::aws::ec2::volume_attachment::VolumeAttachment;
use morket_stack::provider::aws::iam::instance_profile::InstanceProfile;
use morket_stack::provider::aws::iam::policy::{PolicyDocument, Statement};
use morket_stack::provider::aws::iam::role::Role;
use morket_stack::provider::aws::ssm::parameter::{GetParameter, UBUNTU_2404_AMD64};

use super::config::MorketConfig;
use super::network::{name_tag, Network};
use super::observability::{namespace, CLICKHOUSE_QUERIES, CLICKHOUSE_QUERY_DURATION};
use super::secrets::{Entry, CLICKHOUSE_USER};

pub const HTTP_PORT: u16 = 8123;
pub const NATIVE_PORT: u16 = 9000;
/// Where the data volume is attached; Nitro instances show it as NVMe.
pub const DATA_DEVICE: &str = "/dev/sdf";

pub struct Clickhouse {
    pub instance: Resource<Instance>,
    /// The gp3 data volume (backed up by AWS Backup, R6.5).
    pub volume: Resource<Volume>,
}

/// The Secrets Manager name of the ClickHouse credentials (as `secrets.rs`
/// names it): what the script asks for. The role is granted the secret's
/// ARN, so a later secret of the same name is not readable.
pub fn secret_name(cfg: &MorketConfig) -> String {
    format!("morket/{}/clickhouse", cfg.environment)
}

/// The instance's user data. The data volume is attached after launch, so
/// the script installs first, then waits for the EBS data disk, mounts it
/// over /var/lib/clickhouse and only then starts the server. The admin
/// credentials are read before the server listens beyond localhost; if they
/// cannot be read the script stops there.
pub fn user_data(cfg: &MorketConfig) -> String {
    let c = &cfg.clickhouse;
    format!(
        r#"#!/bin/bash
# Installs and configures ClickHouse (morket-stack, R6.4).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

# 1. Packages: xfsprogs for the data volume, ClickHouse from the official repository.
apt-get update -q
apt-get install -yq apt-transport-https ca-certificates curl gnupg xfsprogs
curl -fsSL https://packages.clickhouse.com/rpm/lts/repodata/repomd.xml.key \
  | gpg --batch --yes --dearmor -o /usr/share/keyrings/clickhouse-keyring.gpg
echo "deb [signed-by=/usr/share/keyrings/clickhouse-keyring.gpg] https://packages.clickhouse.com/deb stable main" \
  > /etc/apt/sources.list.d/clickhouse.list
apt-get update -q
apt-get install -yq clickhouse-server clickhouse-client
systemctl stop clickhouse-server || true

# 1b. The AWS CLI (Ubuntu 24.04 has no awscli package): the snap, retried
#     while snapd finishes seeding at first boot or the store is slow.
snap wait system seed.loaded || true
for i in $(seq 1 10); do
  if snap install aws-cli --classic; then break; fi
  if [ "$i" = 10 ]; then echo "could not install the AWS CLI" >&2; exit 1; fi
  sleep 15
done

# 2. The gp3 data volume: the EBS disk that is not the root disk (instance
#    store disks, on types that have them, are not EBS).
root_disk=$(lsblk -no PKNAME "$(findmnt -no SOURCE /)")
dev=""
for _ in $(seq 1 120); do
  for d in $(lsblk -dno NAME,TYPE | awk '$2 == "disk" {{print $1}}'); do
    model=$(cat "/sys/block/$d/device/model" 2>/dev/null || true)
    if [ "$d" != "$root_disk" ] && [[ "$model" == *"Elastic Block Store"* ]]; then dev="/dev/$d"; fi
  done
  if [ -n "$dev" ]; then break; fi
  sleep 5
done
if [ -z "$dev" ]; then echo "data volume never appeared" >&2; exit 1; fi
blkid "$dev" >/dev/null || mkfs.xfs -q "$dev"
uuid=$(blkid -s UUID -o value "$dev")
grep -q "$uuid" /etc/fstab || echo "UUID=$uuid /var/lib/clickhouse xfs defaults,nofail 0 2" >> /etc/fstab
if ! mountpoint -q /var/lib/clickhouse; then
  # Keep what the package put there, on the data volume.
  if [ -d /var/lib/clickhouse ]; then mv /var/lib/clickhouse /var/lib/clickhouse.install; fi
  mkdir -p /var/lib/clickhouse
  mount /var/lib/clickhouse
  if [ -d /var/lib/clickhouse.install ]; then
    cp -an /var/lib/clickhouse.install/. /var/lib/clickhouse/
    rm -rf /var/lib/clickhouse.install
  fi
fi

# 3. The admin user (R6.6), from Secrets Manager with the instance role's
#    credentials (the CLI takes them from IMDSv2). Only the password's
#    SHA-256 is written; the password itself never reaches a file, a command
#    line or the log. Retried: a new role and the secret's value take a while.
read_admin() {{
  /snap/bin/aws secretsmanager get-secret-value --region {region} \
    --secret-id {secret_id} --query SecretString --output text \
    | python3 -c '
import hashlib, json, sys
try:
    d = json.load(sys.stdin)
    ok = d["username"] == "{admin}" and isinstance(d["password"], str) and d["password"] != ""
except Exception:
    ok = False
if not ok:
    sys.exit("the secret is not JSON with username {admin} and a password")
print(hashlib.sha256(d["password"].encode()).hexdigest())'
}}
admin_sha256=""
for _ in $(seq 1 60); do
  if admin_sha256=$(read_admin); then break; fi
  admin_sha256=""
  sleep 10
done
if [ -z "$admin_sha256" ]; then echo "could not read {secret_id} from Secrets Manager" >&2; exit 1; fi
(
  umask 027
  cat > /etc/clickhouse-server/users.d/morket-admin.xml <<XML
<clickhouse>
  <users>
    <default>
      <networks replace="replace">
        <ip>::1</ip>
        <ip>127.0.0.1</ip>
      </networks>
    </default>
    <{admin}>
      <password_sha256_hex>$admin_sha256</password_sha256_hex>
      <networks>
        <ip>::/0</ip>
      </networks>
      <profile>default</profile>
      <quota>default</quota>
      <access_management>1</access_management>
      <named_collection_control>1</named_collection_control>
    </{admin}>
  </users>
</clickhouse>
XML
)
chgrp clickhouse /etc/clickhouse-server/users.d/morket-admin.xml
unset admin_sha256

# 4. Server settings.
cat > /etc/clickhouse-server/config.d/morket.xml <<'XML'
<clickhouse>
  <listen_host>0.0.0.0</listen_host>
  <http_port>{http}</http_port>
  <tcp_port>{native}</tcp_port>
</clickhouse>
XML
cat > /etc/clickhouse-server/users.d/morket.xml <<'XML'
<clickhouse>
  <profiles>
    <default>
      <max_memory_usage>{mem}</max_memory_usage>
      <max_threads>{threads}</max_threads>
    </default>
  </profiles>
</clickhouse>
XML
chown -R clickhouse:clickhouse /var/lib/clickhouse

# 5. Start it.
systemctl enable clickhouse-server
systemctl restart clickhouse-server

# 6. Query metrics to CloudWatch every minute (R16.4): ClickHouse publishes
#    none itself. Read from system.query_log as `default` on localhost, put
#    with the instance role (allowed only the {namespace} namespace).
cat > /usr/local/bin/morket-clickhouse-metrics <<'SH'
#!/bin/bash
set -euo pipefail
imds=http://169.254.169.254/latest
token=$(curl -fsS -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 300" "$imds/api/token")
id=$(curl -fsS -H "X-aws-ec2-metadata-token: $token" "$imds/meta-data/instance-id")
read -r queries duration < <(clickhouse-client --query "
  SELECT count(), if(count() = 0, 0, round(avg(query_duration_ms), 1))
  FROM system.query_log
  WHERE type = 'QueryFinish' AND event_time >= now() - 60 AND event_time < now()
  FORMAT TSV")
dims="Dimensions=[{{Name=InstanceId,Value=$id}}]"
/snap/bin/aws cloudwatch put-metric-data --region {region} --namespace {namespace} --metric-data \
  "MetricName={queries_metric},$dims,Value=$queries,Unit=Count" \
  "MetricName={duration_metric},$dims,Value=$duration,Unit=Milliseconds"
SH
chmod 755 /usr/local/bin/morket-clickhouse-metrics
cat > /etc/systemd/system/morket-clickhouse-metrics.service <<'UNIT'
[Unit]
Description=Morket: ClickHouse query metrics to CloudWatch
After=clickhouse-server.service
[Service]
Type=oneshot
ExecStart=/usr/local/bin/morket-clickhouse-metrics
UNIT
cat > /etc/systemd/system/morket-clickhouse-metrics.timer <<'UNIT'
[Unit]
Description=Morket: ClickHouse query metrics every minute
[Timer]
OnBootSec=2min
OnUnitActiveSec=60s
AccuracySec=5s
[Install]
WantedBy=timers.target
UNIT
systemctl daemon-reload
systemctl enable --now morket-clickhouse-metrics.timer
"#,
        http = HTTP_PORT,
        native = NATIVE_PORT,
        region = cfg.region,
        secret_id = secret_name(cfg),
        admin = CLICKHOUSE_USER,
        mem = c.max_memory_usage,
        threads = c.max_threads,
        namespace = namespace(cfg),
        queries_metric = CLICKHOUSE_QUERIES,
        duration_metric = CLICKHOUSE_QUERY_DURATION,
    )
}

pub fn declare(
    scope: &mut Scope<'_>,
    cfg: &MorketConfig,
    net: &Network,
    secret: &Entry,
) -> Result<Clickhouse, ModelError> {
    let mut c = scope
        .component("morket:Clickhouse", "clickhouse")?
        .protect_all(cfg.is_production());
    let ch = &cfg.clickhouse;
    let name = cfg.name("clickhouse");

    // The region's current image unless one is pinned: a hard-coded id
    // exists in one region only.
    let ami: Input<String> = match &ch.ami {
        Some(id) => id.as_str().into(),
        None => {
            let p = ch.ami_parameter.as_deref().unwrap_or(UBUNTU_2404_AMD64);
            c.resource("ami", GetParameter::new(p))?.value().into()
        }
    };
    // R6.6: a role that may read the ClickHouse secret, exactly that ARN;
    // R16.4: and put metrics in the stack's own namespace only.
    let mut role = Role::for_service(&name, "ec2.amazonaws.com");
    role.inline_policies.insert(
        "read-clickhouse-secret".into(),
        PolicyDocument::new(vec![Statement::allow(
            &["secretsmanager:GetSecretValue"],
            vec![secret.arn.clone()],
        )])
        .to_input(),
    );
    role.inline_policies.insert(
        "put-query-metrics".into(),
        PolicyDocument::new(vec![Statement::allow(
            &["cloudwatch:PutMetricData"],
            vec!["*".into()],
        )
        .condition(
            "StringEquals",
            "cloudwatch:namespace",
            vec![namespace(cfg).into()],
        )])
        .to_input(),
    );
    role.tags = name_tag(cfg, "clickhouse");
    let role = c.resource("role", role)?;
    let mut profile = InstanceProfile::new(&name, role.name());
    profile.tags = name_tag(cfg, "clickhouse");
    let profile = c.resource("instance-profile", profile)?;

    let mut lt = LaunchTemplate::new(&name, ami, &ch.instance_type);
    lt.vpc_security_group_ids = vec![net.security_groups.clickhouse.id().into()];
    lt.user_data = Some(user_data(cfg).into());
    lt.iam_instance_profile_name = Some(profile.name().into());
    lt.block_device_mappings = vec![BlockDeviceMapping::new("/dev/sda1", 30)];
    lt.tags = name_tag(cfg, "clickhouse");
    let lt = c.resource("launch-template", lt)?;

    let mut instance = Instance::from_launch_template(lt.id(), net.private_subnets[0].id());
    // User data runs at first boot only: a template change replaces the
    // instance (the data volume moves over; it is never replaced with it).
    instance.launch_template_version = Some(lt.version().into());
    instance.tags = name_tag(cfg, "clickhouse");
    // Its user data installs ClickHouse from the internet at first boot:
    // the subnet's route through the NAT gateway must exist by then.
    let (route, rta) = &net.private_egress[0];
    let opts = ResourceOptions::new().depends_on(route).depends_on(rta);
    let instance = c.resource_with("instance", instance, opts)?;

    // A volume of its own, so the data outlives instance replacements.
    let mut volume = Volume::new(
        cfg.network.availability_zones[0].clone(),
        ch.volume_size_gb as i32,
    );
    volume.volume_type = "gp3".into();
    volume.iops = Some(ch.volume_iops as i32);
    volume.encrypted = true;
    volume.tags = name_tag(cfg, "clickhouse-data");
    let volume = c.resource("data", volume)?;
    c.resource(
        "data-attachment",
        VolumeAttachment::new(DATA_DEVICE, volume.id(), instance.id()),
    )?;
    Ok(Clickhouse { instance, volume })
}
