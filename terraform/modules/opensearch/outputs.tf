output "domain_domain_name" {
  value = aws_opensearch_domain.domain.domain_name
}

output "domain_endpoint" {
  value = aws_opensearch_domain.domain.endpoint
}

output "master_password_result" {
  value     = random_password.master_password.result
  sensitive = true
}
