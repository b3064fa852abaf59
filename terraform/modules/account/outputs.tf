output "caller_account_id" {
  value = data.aws_caller_identity.caller.account_id
}

output "caller_partition" {
  value = data.aws_partition.caller.partition
}

output "ecs_role_id" {
  value = aws_iam_service_linked_role.ecs_role.id
}

output "elasticache_role_id" {
  value = aws_iam_service_linked_role.elasticache_role.id
}

output "opensearch_role_id" {
  value = aws_iam_service_linked_role.opensearch_role.id
}

output "rds_role_id" {
  value = aws_iam_service_linked_role.rds_role.id
}
