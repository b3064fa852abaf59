variable "data_size" {
  description = "`size` of aws_ebs_volume.data."
  type        = number
  default     = 100
}

variable "launch_template_instance_type" {
  description = "`instance_type` of aws_launch_template.launch_template."
  type        = string
  default     = "m6i.large"
}

variable "launch_template_user_data" {
  description = "`user_data` of aws_launch_template.launch_template."
  type        = string
  default     = "#!/bin/bash\n# Installs and configures ClickHouse (morket-stack, R6.4).\nset -euo pipefail\nexport DEBIAN_FRONTEND=noninteractive\n\n# 1. Packages: xfsprogs for the data volume, ClickHouse from the official repository.\napt-get update -q\napt-get install -yq apt-transport-https ca-certificates curl gnupg xfsprogs\ncurl -fsSL https://packages.clickhouse.com/rpm/lts/repodata/repomd.xml.key \\\n  | gpg --batch --yes --dearmor -o /usr/share/keyrings/clickhouse-keyring.gpg\necho \"deb [signed-by=/usr/share/keyrings/clickhouse-keyring.gpg] https://packages.clickhouse.com/deb stable main\" \\\n  > /etc/apt/sources.list.d/clickhouse.list\napt-get update -q\napt-get install -yq clickhouse-server clickhouse-client\nsystemctl stop clickhouse-server || true\n\n# 1b. The AWS CLI (Ubuntu 24.04 has no awscli package): the snap, retried\n#     while snapd finishes seeding at first boot or the store is slow.\nsnap wait system seed.loaded || true\nfor i in $(seq 1 10); do\n  if snap install aws-cli --classic; then break; fi\n  if [ \"$i\" = 10 ]; then echo \"could not install the AWS CLI\" >&2; exit 1; fi\n  sleep 15\ndone\n\n# 2. The gp3 data volume: the EBS disk that is not the root disk (instance\n#    store disks, on types that have them, are not EBS).\nroot_disk=$(lsblk -no PKNAME \"$(findmnt -no SOURCE /)\")\ndev=\"\"\nfor _ in $(seq 1 120); do\n  for d in $(lsblk -dno NAME,TYPE | awk '$2 == \"disk\" {print $1}'); do\n    model=$(cat \"/sys/block/$d/device/model\" 2>/dev/null || true)\n    if [ \"$d\" != \"$root_disk\" ] && [[ \"$model\" == *\"Elastic Block Store\"* ]]; then dev=\"/dev/$d\"; fi\n  done\n  if [ -n \"$dev\" ]; then break; fi\n  sleep 5\ndone\nif [ -z \"$dev\" ]; then echo \"data volume never appeared\" >&2; exit 1; fi\nblkid \"$dev\" >/dev/null || mkfs.xfs -q \"$dev\"\nuuid=$(blkid -s UUID -o value \"$dev\")\ngrep -q \"$uuid\" /etc/fstab || echo \"UUID=$uuid /var/lib/clickhouse xfs defaults,nofail 0 2\" >> /etc/fstab\nif ! mountpoint -q /var/lib/clickhouse; then\n  # Keep what the package put there, on the data volume.\n  if [ -d /var/lib/clickhouse ]; then mv /var/lib/clickhouse /var/lib/clickhouse.install; fi\n  mkdir -p /var/lib/clickhouse\n  mount /var/lib/clickhouse\n  if [ -d /var/lib/clickhouse.install ]; then\n    cp -an /var/lib/clickhouse.install/. /var/lib/clickhouse/\n    rm -rf /var/lib/clickhouse.install\n  fi\nfi\n\n# 3. The admin user (R6.6), from Secrets Manager with the instance role's\n#    credentials (the CLI takes them from IMDSv2). Only the password's\n#    SHA-256 is written; the password itself never reaches a file, a command\n#    line or the log. Retried: a new role and the secret's value take a while.\nread_admin() {\n  /snap/bin/aws secretsmanager get-secret-value --region us-east-1 \\\n    --secret-id morket/staging/clickhouse --query SecretString --output text \\\n    | python3 -c '\nimport hashlib, json, sys\ntry:\n    d = json.load(sys.stdin)\n    ok = d[\"username\"] == \"morket_admin\" and isinstance(d[\"password\"], str) and d[\"password\"] != \"\"\nexcept Exception:\n    ok = False\nif not ok:\n    sys.exit(\"the secret is not JSON with username morket_admin and a password\")\nprint(hashlib.sha256(d[\"password\"].encode()).hexdigest())'\n}\nadmin_sha256=\"\"\nfor _ in $(seq 1 60); do\n  if admin_sha256=$(read_admin); then break; fi\n  admin_sha256=\"\"\n  sleep 10\ndone\nif [ -z \"$admin_sha256\" ]; then echo \"could not read morket/staging/clickhouse from Secrets Manager\" >&2; exit 1; fi\n(\n  umask 027\n  cat > /etc/clickhouse-server/users.d/morket-admin.xml <<XML\n<clickhouse>\n  <users>\n    <default>\n      <networks replace=\"replace\">\n        <ip>::1</ip>\n        <ip>127.0.0.1</ip>\n      </networks>\n    </default>\n    <morket_admin>\n      <password_sha256_hex>$admin_sha256</password_sha256_hex>\n      <networks>\n        <ip>::/0</ip>\n      </networks>\n      <profile>default</profile>\n      <quota>default</quota>\n      <access_management>1</access_management>\n      <named_collection_control>1</named_collection_control>\n    </morket_admin>\n  </users>\n</clickhouse>\nXML\n)\nchgrp clickhouse /etc/clickhouse-server/users.d/morket-admin.xml\nunset admin_sha256\n\n# 4. Server settings.\ncat > /etc/clickhouse-server/config.d/morket.xml <<'XML'\n<clickhouse>\n  <listen_host>0.0.0.0</listen_host>\n  <http_port>8123</http_port>\n  <tcp_port>9000</tcp_port>\n</clickhouse>\nXML\ncat > /etc/clickhouse-server/users.d/morket.xml <<'XML'\n<clickhouse>\n  <profiles>\n    <default>\n      <max_memory_usage>6000000000</max_memory_usage>\n      <max_threads>2</max_threads>\n    </default>\n  </profiles>\n</clickhouse>\nXML\nchown -R clickhouse:clickhouse /var/lib/clickhouse\n\n# 5. Start it.\nsystemctl enable clickhouse-server\nsystemctl restart clickhouse-server\n\n# 6. Query metrics to CloudWatch every minute (R16.4): ClickHouse publishes\n#    none itself. Read from system.query_log as `default` on localhost, put\n#    with the instance role (allowed only the Morket/staging namespace).\ncat > /usr/local/bin/morket-clickhouse-metrics <<'SH'\n#!/bin/bash\nset -euo pipefail\nimds=http://169.254.169.254/latest\ntoken=$(curl -fsS -X PUT -H \"X-aws-ec2-metadata-token-ttl-seconds: 300\" \"$imds/api/token\")\nid=$(curl -fsS -H \"X-aws-ec2-metadata-token: $token\" \"$imds/meta-data/instance-id\")\nread -r queries duration < <(clickhouse-client --query \"\n  SELECT count(), if(count() = 0, 0, round(avg(query_duration_ms), 1))\n  FROM system.query_log\n  WHERE type = 'QueryFinish' AND event_time >= now() - 60 AND event_time < now()\n  FORMAT TSV\")\ndims=\"Dimensions=[{Name=InstanceId,Value=$id}]\"\n/snap/bin/aws cloudwatch put-metric-data --region us-east-1 --namespace Morket/staging --metric-data \\\n  \"MetricName=ClickHouseQueries,$dims,Value=$queries,Unit=Count\" \\\n  \"MetricName=ClickHouseQueryDurationMs,$dims,Value=$duration,Unit=Milliseconds\"\nSH\nchmod 755 /usr/local/bin/morket-clickhouse-metrics\ncat > /etc/systemd/system/morket-clickhouse-metrics.service <<'UNIT'\n[Unit]\nDescription=Morket: ClickHouse query metrics to CloudWatch\nAfter=clickhouse-server.service\n[Service]\nType=oneshot\nExecStart=/usr/local/bin/morket-clickhouse-metrics\nUNIT\ncat > /etc/systemd/system/morket-clickhouse-metrics.timer <<'UNIT'\n[Unit]\nDescription=Morket: ClickHouse query metrics every minute\n[Timer]\nOnBootSec=2min\nOnUnitActiveSec=60s\nAccuracySec=5s\n[Install]\nWantedBy=timers.target\nUNIT\nsystemctl daemon-reload\nsystemctl enable --now morket-clickhouse-metrics.timer\n"
}

variable "network_private_default_us_east_1a_id" {
  description = "`private_default_us_east_1a_id` of module network."
  type        = any
}

variable "network_private_rta_us_east_1a_id" {
  description = "`private_rta_us_east_1a_id` of module network."
  type        = any
}

variable "network_private_us_east_1a_id" {
  description = "`private_us_east_1a_id` of module network."
  type        = any
}

variable "network_sg_clickhouse_id" {
  description = "`sg_clickhouse_id` of module network."
  type        = any
}

variable "secrets_clickhouse_arn" {
  description = "`clickhouse_arn` of module secrets."
  type        = any
}

variable "stack" {
  description = "The stack (environment) name, in names and tags."
  type        = string
}
