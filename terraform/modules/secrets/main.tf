resource "random_password" "clickhouse_password" {
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

resource "aws_secretsmanager_secret" "clickhouse" {
  # checkov:skip=CKV_AWS_149:encrypted with the aws/secretsmanager key; task execution roles read them with GetSecretValue only (R11.3); no CMK
  # checkov:skip=CKV2_AWS_57:generated once by random_password, no rotation Lambda in scope (R11.4); Aurora's RDS-managed secret rotates every 30 days
  name                    = "morket/${var.stack}/clickhouse"
  description             = "ClickHouse admin credentials"
  recovery_window_in_days = var.clickhouse_recovery_window_in_days
  tags = {
    Name         = "morket-${var.stack}-secret-clickhouse"
    "morket:urn" = "${var.stack}::secrets::aws:secretsmanager/Secret::clickhouse"
  }
}

resource "aws_secretsmanager_secret_version" "clickhouse_value" {
  secret_id     = aws_secretsmanager_secret.clickhouse.arn
  secret_string = "{\"username\":\"morket_admin\",\"password\":\"${random_password.clickhouse_password.result}\"}"

  lifecycle {
    ignore_changes = [secret_string]
  }
}

resource "aws_secretsmanager_secret" "redis" {
  # checkov:skip=CKV_AWS_149:encrypted with the aws/secretsmanager key; task execution roles read them with GetSecretValue only (R11.3); no CMK
  # checkov:skip=CKV2_AWS_57:generated once by random_password, no rotation Lambda in scope (R11.4); Aurora's RDS-managed secret rotates every 30 days
  name                    = "morket/${var.stack}/redis"
  description             = "Redis AUTH token"
  recovery_window_in_days = var.redis_recovery_window_in_days
  tags = {
    Name         = "morket-${var.stack}-secret-redis"
    "morket:urn" = "${var.stack}::secrets::aws:secretsmanager/Secret::redis"
  }
}

resource "aws_secretsmanager_secret_version" "redis_value" {
  secret_id     = aws_secretsmanager_secret.redis.arn
  secret_string = "{\"auth_token\":\"${var.redis_auth_token_result}\"}"

  lifecycle {
    ignore_changes = [secret_string]
  }
}

resource "aws_secretsmanager_secret" "rabbitmq" {
  # checkov:skip=CKV_AWS_149:encrypted with the aws/secretsmanager key; task execution roles read them with GetSecretValue only (R11.3); no CMK
  # checkov:skip=CKV2_AWS_57:generated once by random_password, no rotation Lambda in scope (R11.4); Aurora's RDS-managed secret rotates every 30 days
  name                    = "morket/${var.stack}/rabbitmq"
  description             = "RabbitMQ admin credentials"
  recovery_window_in_days = var.rabbitmq_recovery_window_in_days
  tags = {
    Name         = "morket-${var.stack}-secret-rabbitmq"
    "morket:urn" = "${var.stack}::secrets::aws:secretsmanager/Secret::rabbitmq"
  }
}

resource "aws_secretsmanager_secret_version" "rabbitmq_value" {
  secret_id     = aws_secretsmanager_secret.rabbitmq.arn
  secret_string = "{\"username\":\"morket_admin\",\"password\":\"${var.rabbitmq_admin_password_result}\"}"

  lifecycle {
    ignore_changes = [secret_string]
  }
}

resource "aws_secretsmanager_secret" "opensearch" {
  # checkov:skip=CKV_AWS_149:encrypted with the aws/secretsmanager key; task execution roles read them with GetSecretValue only (R11.3); no CMK
  # checkov:skip=CKV2_AWS_57:generated once by random_password, no rotation Lambda in scope (R11.4); Aurora's RDS-managed secret rotates every 30 days
  name                    = "morket/${var.stack}/opensearch"
  description             = "OpenSearch master user credentials"
  recovery_window_in_days = var.opensearch_recovery_window_in_days
  tags = {
    Name         = "morket-${var.stack}-secret-opensearch"
    "morket:urn" = "${var.stack}::secrets::aws:secretsmanager/Secret::opensearch"
  }
}

resource "aws_secretsmanager_secret_version" "opensearch_value" {
  secret_id     = aws_secretsmanager_secret.opensearch.arn
  secret_string = "{\"username\":\"morket_admin\",\"password\":\"${var.opensearch_master_password_result}\"}"

  lifecycle {
    ignore_changes = [secret_string]
  }
}

resource "random_password" "jwt_generated" {
  length      = 64
  special     = false
  upper       = true
  lower       = true
  numeric     = true
  min_upper   = 0
  min_lower   = 0
  min_numeric = 0
  min_special = 0
}

resource "aws_secretsmanager_secret" "jwt" {
  # checkov:skip=CKV_AWS_149:encrypted with the aws/secretsmanager key; task execution roles read them with GetSecretValue only (R11.3); no CMK
  # checkov:skip=CKV2_AWS_57:generated once by random_password, no rotation Lambda in scope (R11.4); Aurora's RDS-managed secret rotates every 30 days
  name                    = "morket/${var.stack}/jwt"
  description             = "JWT signing secret"
  recovery_window_in_days = var.jwt_recovery_window_in_days
  tags = {
    Name         = "morket-${var.stack}-secret-jwt"
    "morket:urn" = "${var.stack}::secrets::aws:secretsmanager/Secret::jwt"
  }
}

resource "aws_secretsmanager_secret_version" "jwt_value" {
  secret_id     = aws_secretsmanager_secret.jwt.arn
  secret_string = random_password.jwt_generated.result

  lifecycle {
    ignore_changes = [secret_string]
  }
}

resource "random_password" "encryption_key_generated" {
  length      = 64
  special     = false
  upper       = true
  lower       = true
  numeric     = true
  min_upper   = 0
  min_lower   = 0
  min_numeric = 0
  min_special = 0
}

resource "aws_secretsmanager_secret" "encryption_key" {
  # checkov:skip=CKV_AWS_149:encrypted with the aws/secretsmanager key; task execution roles read them with GetSecretValue only (R11.3); no CMK
  # checkov:skip=CKV2_AWS_57:generated once by random_password, no rotation Lambda in scope (R11.4); Aurora's RDS-managed secret rotates every 30 days
  name                    = "morket/${var.stack}/encryption-key"
  description             = "AES-256-GCM encryption master key"
  recovery_window_in_days = var.encryption_key_recovery_window_in_days
  tags = {
    Name         = "morket-${var.stack}-secret-encryption-key"
    "morket:urn" = "${var.stack}::secrets::aws:secretsmanager/Secret::encryption-key"
  }
}

resource "aws_secretsmanager_secret_version" "encryption_key_value" {
  secret_id     = aws_secretsmanager_secret.encryption_key.arn
  secret_string = random_password.encryption_key_generated.result

  lifecycle {
    ignore_changes = [secret_string]
  }
}

resource "random_password" "service_api_key_generated" {
  length      = 64
  special     = false
  upper       = true
  lower       = true
  numeric     = true
  min_upper   = 0
  min_lower   = 0
  min_numeric = 0
  min_special = 0
}

resource "aws_secretsmanager_secret" "service_api_key" {
  # checkov:skip=CKV_AWS_149:encrypted with the aws/secretsmanager key; task execution roles read them with GetSecretValue only (R11.3); no CMK
  # checkov:skip=CKV2_AWS_57:generated once by random_password, no rotation Lambda in scope (R11.4); Aurora's RDS-managed secret rotates every 30 days
  name                    = "morket/${var.stack}/service-api-key"
  description             = "Service-to-service API key (X-Service-Key)"
  recovery_window_in_days = var.service_api_key_recovery_window_in_days
  tags = {
    Name         = "morket-${var.stack}-secret-service-api-key"
    "morket:urn" = "${var.stack}::secrets::aws:secretsmanager/Secret::service-api-key"
  }
}

resource "aws_secretsmanager_secret_version" "service_api_key_value" {
  secret_id     = aws_secretsmanager_secret.service_api_key.arn
  secret_string = random_password.service_api_key_generated.result

  lifecycle {
    ignore_changes = [secret_string]
  }
}

resource "random_password" "webhook_hmac_generated" {
  length      = 64
  special     = false
  upper       = true
  lower       = true
  numeric     = true
  min_upper   = 0
  min_lower   = 0
  min_numeric = 0
  min_special = 0
}

resource "aws_secretsmanager_secret" "webhook_hmac" {
  # checkov:skip=CKV_AWS_149:encrypted with the aws/secretsmanager key; task execution roles read them with GetSecretValue only (R11.3); no CMK
  # checkov:skip=CKV2_AWS_57:generated once by random_password, no rotation Lambda in scope (R11.4); Aurora's RDS-managed secret rotates every 30 days
  name                    = "morket/${var.stack}/webhook-hmac"
  description             = "Webhook HMAC signing secret"
  recovery_window_in_days = var.webhook_hmac_recovery_window_in_days
  tags = {
    Name         = "morket-${var.stack}-secret-webhook-hmac"
    "morket:urn" = "${var.stack}::secrets::aws:secretsmanager/Secret::webhook-hmac"
  }
}

resource "aws_secretsmanager_secret_version" "webhook_hmac_value" {
  secret_id     = aws_secretsmanager_secret.webhook_hmac.arn
  secret_string = random_password.webhook_hmac_generated.result

  lifecycle {
    ignore_changes = [secret_string]
  }
}

resource "aws_secretsmanager_secret_rotation" "aurora_rotation" {
  secret_id          = var.aurora_cluster_master_user_secret_arn
  rotate_immediately = false

  rotation_rules {
    automatically_after_days = 30
  }
}
