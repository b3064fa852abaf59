output "auth_token_result" {
  value     = random_password.auth_token.result
  sensitive = true
}

output "replication_group_id" {
  value = aws_elasticache_replication_group.replication_group.id
}

output "replication_group_port" {
  value = aws_elasticache_replication_group.replication_group.port
}

output "replication_group_primary_endpoint_address" {
  value = aws_elasticache_replication_group.replication_group.primary_endpoint_address
}
