data "aws_ssm_parameter" "ami" {
  name = "/aws/service/canonical/ubuntu/server/24.04/stable/current/amd64/hvm/ebs-gp3/ami-id"
}

resource "aws_iam_role" "role" {
  name                 = "morket-${var.stack}-clickhouse"
  assume_role_policy   = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"ec2.amazonaws.com\"},\"Action\":\"sts:AssumeRole\"}]}"
  max_session_duration = 3600
  tags = {
    Name         = "morket-${var.stack}-clickhouse"
    "morket:urn" = "${var.stack}::clickhouse::aws:iam/Role::role"
  }
}

resource "aws_iam_role_policy" "role" {
  for_each = {
    "put-query-metrics"      = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"cloudwatch:PutMetricData\",\"Resource\":\"*\",\"Condition\":{\"StringEquals\":{\"cloudwatch:namespace\":\"Morket/${var.stack}\"}}}]}"
    "read-clickhouse-secret" = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"secretsmanager:GetSecretValue\",\"Resource\":\"${var.secrets_clickhouse_arn}\"}]}"
  }
  role   = aws_iam_role.role.id
  name   = each.key
  policy = each.value
}

resource "aws_iam_instance_profile" "instance_profile" {
  name = "morket-${var.stack}-clickhouse"
  path = "/"
  role = aws_iam_role.role.name
  tags = {
    Name         = "morket-${var.stack}-clickhouse"
    "morket:urn" = "${var.stack}::clickhouse::aws:iam/InstanceProfile::instance-profile"
  }
}

resource "aws_launch_template" "launch_template" {
  update_default_version = true
  name                   = "morket-${var.stack}-clickhouse"
  image_id               = data.aws_ssm_parameter.ami.value
  instance_type          = var.launch_template_instance_type
  vpc_security_group_ids = [var.network_sg_clickhouse_id]
  user_data              = base64encode(var.launch_template_user_data)
  tags = {
    Name         = "morket-${var.stack}-clickhouse"
    "morket:urn" = "${var.stack}::clickhouse::aws:ec2/LaunchTemplate::launch-template"
  }

  iam_instance_profile {
    name = aws_iam_instance_profile.instance_profile.name
  }

  block_device_mappings {
    device_name = "/dev/sda1"

    ebs {
      volume_size           = 30
      volume_type           = "gp3"
      encrypted             = true
      delete_on_termination = true
    }
  }

  metadata_options {
    http_tokens                 = "required"
    http_endpoint               = "enabled"
    http_put_response_hop_limit = 1
  }
}

resource "aws_instance" "instance" {
  # checkov:skip=CKV_AWS_8:launched from the launch template, whose root volume is encrypted; the data volume is encrypted too
  # checkov:skip=CKV_AWS_79:IMDSv2 only (http_tokens = required) is set in the launch template the instance is launched from
  # checkov:skip=CKV2_AWS_41:the IAM role comes through the launch template's instance profile
  # checkov:skip=CKV_AWS_126:the CPU alarm evaluates 5-minute periods (R16.2), which basic monitoring gives
  # checkov:skip=CKV_AWS_135:m6i instances are Nitro types, always EBS-optimized
  subnet_id = var.network_private_us_east_1a_id
  tags = {
    Name         = "morket-${var.stack}-clickhouse"
    "morket:urn" = "${var.stack}::clickhouse::aws:ec2/Instance::instance"
  }

  launch_template {
    id      = aws_launch_template.launch_template.id
    version = aws_launch_template.launch_template.latest_version
  }
  depends_on = [var.network_private_default_us_east_1a_id, var.network_private_rta_us_east_1a_id]
}

resource "aws_ebs_volume" "data" {
  # checkov:skip=CKV2_AWS_9:in the daily AWS Backup plan: module backup's aws_backup_selection names it through var.clickhouse_data_arn
  # checkov:skip=CKV_AWS_189:encrypted with the account's aws/ebs key (AWS default keys throughout, no CMK)
  availability_zone = "us-east-1a"
  size              = var.data_size
  type              = "gp3"
  iops              = 3000
  encrypted         = true
  tags = {
    Name         = "morket-${var.stack}-clickhouse-data"
    "morket:urn" = "${var.stack}::clickhouse::aws:ec2/Volume::data"
  }
}

resource "aws_volume_attachment" "data_attachment" {
  device_name                    = "/dev/sdf"
  volume_id                      = aws_ebs_volume.data.id
  instance_id                    = aws_instance.instance.id
  stop_instance_before_detaching = true
}
