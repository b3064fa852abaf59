resource "random_password" "master_password" {
  length      = 32
  special     = true
  upper       = true
  lower       = true
  numeric     = true
  min_upper   = 1
  min_lower   = 1
  min_numeric = 1
  min_special = 1
}

resource "aws_cloudwatch_log_group" "application_logs" {
  # checkov:skip=CKV_AWS_158:encrypted at rest by CloudWatch Logs with service-managed keys; the stack uses AWS default keys throughout, no CMK
  name              = "/aws/opensearch/morket-${var.stack}/application"
  retention_in_days = var.application_logs_retention_in_days
  tags = {
    Name         = "morket-${var.stack}-opensearch"
    "morket:urn" = "${var.stack}::opensearch::aws:logs/LogGroup::application-logs"
  }
}

resource "aws_cloudwatch_log_group" "audit_logs" {
  # checkov:skip=CKV_AWS_158:encrypted at rest by CloudWatch Logs with service-managed keys; the stack uses AWS default keys throughout, no CMK
  name              = "/aws/opensearch/morket-${var.stack}/audit"
  retention_in_days = var.audit_logs_retention_in_days
  tags = {
    Name         = "morket-${var.stack}-opensearch"
    "morket:urn" = "${var.stack}::opensearch::aws:logs/LogGroup::audit-logs"
  }
}

resource "aws_cloudwatch_log_resource_policy" "log_policy" {
  policy_name     = "morket-${var.stack}-opensearch-logs"
  policy_document = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"OpenSearchLogs\",\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"es.amazonaws.com\"},\"Action\":[\"logs:PutLogEvents\",\"logs:CreateLogStream\"],\"Resource\":[\"${aws_cloudwatch_log_group.application_logs.arn}:*\",\"${aws_cloudwatch_log_group.audit_logs.arn}:*\"],\"Condition\":{\"StringEquals\":{\"aws:SourceAccount\":\"${var.account_caller_account_id}\"}}}]}"
}

resource "aws_opensearch_domain" "domain" {
  # checkov:skip=CKV_AWS_247:R9.2: encryption at rest with the default AWS key
  # checkov:skip=CKV2_AWS_59:R9.1 sizes the domain as data nodes only; dedicated masters would more than double it for an index rebuilt from the primary stores
  # checkov:skip=CKV_AWS_318:R9.1 sizes the domain as data nodes only (no dedicated masters)
  domain_name     = "morket-${var.stack}"
  engine_version  = "OpenSearch_2.11"
  access_policies = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"*\"},\"Action\":\"es:ESHttp*\",\"Resource\":\"arn:${var.account_caller_partition}:es:us-east-1:${var.account_caller_account_id}:domain/morket-${var.stack}/*\"}]}"
  tags = {
    Name         = "morket-${var.stack}-opensearch"
    "morket:urn" = "${var.stack}::opensearch::aws:opensearch/Domain::domain"
  }

  cluster_config {
    instance_type            = var.domain_cluster_config_instance_type
    instance_count           = var.domain_cluster_config_instance_count
    zone_awareness_enabled   = var.domain_cluster_config_zone_awareness_enabled
    dedicated_master_enabled = false

    dynamic "zone_awareness_config" {
      for_each = var.domain_cluster_config_zone_awareness_config_enabled ? [1] : []

      content {
        availability_zone_count = 2
      }
    }
  }

  ebs_options {
    ebs_enabled = true
    volume_type = "gp3"
    volume_size = var.domain_ebs_options_volume_size
  }

  encrypt_at_rest {
    enabled = true
  }

  node_to_node_encryption {
    enabled = true
  }

  domain_endpoint_options {
    enforce_https       = true
    tls_security_policy = "Policy-Min-TLS-1-2-2019-07"
  }

  vpc_options {
    subnet_ids         = [[var.network_private_us_east_1a_id, var.network_private_us_east_1b_id], [var.network_private_us_east_1a_id]][var.domain_vpc_options_subnet_ids_variant]
    security_group_ids = [var.network_sg_opensearch_id]
  }

  snapshot_options {
    automated_snapshot_start_hour = 2
  }

  advanced_security_options {
    enabled                        = true
    internal_user_database_enabled = true

    master_user_options {
      master_user_name     = "morket_admin"
      master_user_password = random_password.master_password.result
    }
  }

  log_publishing_options {
    log_type                 = "ES_APPLICATION_LOGS"
    cloudwatch_log_group_arn = aws_cloudwatch_log_group.application_logs.arn
    enabled                  = true
  }

  log_publishing_options {
    log_type                 = "AUDIT_LOGS"
    cloudwatch_log_group_arn = aws_cloudwatch_log_group.audit_logs.arn
    enabled                  = true
  }
  depends_on = [var.account_opensearch_role_id, aws_cloudwatch_log_resource_policy.log_policy]

  lifecycle {
    ignore_changes = [advanced_security_options]
  }
}
