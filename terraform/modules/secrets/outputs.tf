output "clickhouse_arn" {
  value = aws_secretsmanager_secret.clickhouse.arn
}

output "clickhouse_value_id" {
  value = aws_secretsmanager_secret_version.clickhouse_value.id
}

output "encryption_key_arn" {
  value = aws_secretsmanager_secret.encryption_key.arn
}

output "encryption_key_value_id" {
  value = aws_secretsmanager_secret_version.encryption_key_value.id
}

output "jwt_arn" {
  value = aws_secretsmanager_secret.jwt.arn
}

output "jwt_value_id" {
  value = aws_secretsmanager_secret_version.jwt_value.id
}

output "opensearch_arn" {
  value = aws_secretsmanager_secret.opensearch.arn
}

output "opensearch_value_id" {
  value = aws_secretsmanager_secret_version.opensearch_value.id
}

output "rabbitmq_arn" {
  value = aws_secretsmanager_secret.rabbitmq.arn
}

output "rabbitmq_value_id" {
  value = aws_secretsmanager_secret_version.rabbitmq_value.id
}

output "redis_arn" {
  value = aws_secretsmanager_secret.redis.arn
}

output "redis_value_id" {
  value = aws_secretsmanager_secret_version.redis_value.id
}

output "service_api_key_arn" {
  value = aws_secretsmanager_secret.service_api_key.arn
}

output "service_api_key_value_id" {
  value = aws_secretsmanager_secret_version.service_api_key_value.id
}

output "webhook_hmac_arn" {
  value = aws_secretsmanager_secret.webhook_hmac.arn
}

output "webhook_hmac_value_id" {
  value = aws_secretsmanager_secret_version.webhook_hmac_value.id
}
