output "alb_access_logs_bucket" {
  value = module.alb.access_logs_bucket
}

output "alb_dns_name" {
  value = module.alb.alb_dns_name
}

output "alb_security_group_id" {
  value = module.network.sg_alb_id
}

output "aurora_endpoint" {
  value = module.aurora.cluster_endpoint
}

output "aurora_reader_endpoint" {
  value = module.aurora.cluster_reader_endpoint
}

output "aurora_secret_arn" {
  value = module.aurora.cluster_master_user_secret_arn
}

output "clickhouse_private_ip" {
  value = module.clickhouse.instance_private_ip
}

output "clickhouse_secret_arn" {
  value = module.secrets.clickhouse_arn
}

output "cloudfront_distribution_id" {
  value = module.edge.distribution_id
}

output "cloudfront_domain_name" {
  value = module.edge.distribution_domain_name
}

output "ecr_backend_url" {
  value = module.registry.backend_repository_url
}

output "ecr_frontend_url" {
  value = module.registry.frontend_repository_url
}

output "ecr_scraper_url" {
  value = module.registry.scraper_repository_url
}

output "ecs_cluster_arn" {
  value = module.ecs.cluster_arn
}

output "ecs_security_group_id" {
  value = module.network.sg_ecs_id
}

output "exports_bucket" {
  value = module.edge.exports_bucket
}

output "frontend_bucket" {
  value = module.edge.frontend_bucket
}

output "internet_gateway_id" {
  value = module.network.igw_id
}

output "nat_public_ip_0" {
  value = module.network.nat_us_east_1a_public_ip
}

output "nat_public_ip_1" {
  value = module.network.nat_us_east_1b_public_ip
}

output "opensearch_endpoint" {
  value = module.opensearch.domain_endpoint
}

output "private_subnet_0" {
  value = module.network.private_us_east_1a_id
}

output "private_subnet_1" {
  value = module.network.private_us_east_1b_id
}

output "public_subnet_0" {
  value = module.network.public_us_east_1a_id
}

output "public_subnet_1" {
  value = module.network.public_us_east_1b_id
}

output "rabbitmq_amqps_endpoint" {
  value = module.rabbitmq.broker_amqps_endpoint
}

output "redis_port" {
  value = module.redis.replication_group_port
}

output "redis_primary_endpoint" {
  value = module.redis.replication_group_primary_endpoint_address
}

output "vpc_id" {
  value = module.network.vpc_id
}
