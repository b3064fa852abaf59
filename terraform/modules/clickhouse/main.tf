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
