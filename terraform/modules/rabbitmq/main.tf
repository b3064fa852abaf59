resource "random_password" "admin_password" {
  length           = 32
  special          = true
  upper            = true
  lower            = true
  numeric          = true
  override_special = "!^&*-_+"
  min_upper        = 0
  min_lower        = 0
  min_numeric      = 0
  min_special      = 0
}

resource "aws_mq_broker" "broker" {
  # checkov:skip=CKV_AWS_209:Amazon MQ encrypts at rest with an AWS-owned key; no CMK in the stack
  # checkov:skip=CKV_AWS_197:a RabbitMQ broker: Amazon MQ has no audit log for RabbitMQ (general logs are on, R8.3)
  broker_name                = "morket-${var.stack}"
  engine_type                = "RABBITMQ"
  engine_version             = "3.13"
  host_instance_type         = "mq.m5.large"
  deployment_mode            = var.broker_deployment_mode
  subnet_ids                 = [[var.network_private_us_east_1a_id, var.network_private_us_east_1b_id], [var.network_private_us_east_1a_id]][var.broker_subnet_ids_variant]
  security_groups            = [var.network_sg_rabbitmq_id]
  publicly_accessible        = false
  auto_minor_version_upgrade = true
  tags = {
    Name         = "morket-${var.stack}-rabbitmq"
    "morket:urn" = "${var.stack}::rabbitmq::aws:mq/Broker::broker"
  }

  logs {
    general = true
    audit   = false
  }

  user {
    username       = "morket_admin"
    password       = random_password.admin_password.result
    console_access = false
  }

  lifecycle {
    ignore_changes = [user]
  }
}
