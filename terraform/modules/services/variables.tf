variable "alb_api_id" {
  description = "`api_id` of module alb."
  type        = any
}

variable "alb_backend_arn" {
  description = "`backend_arn` of module alb."
  type        = any
}

variable "alb_scrape_id" {
  description = "`scrape_id` of module alb."
  type        = any
}

variable "alb_scraper_arn" {
  description = "`scraper_arn` of module alb."
  type        = any
}

variable "aurora_cluster_endpoint" {
  description = "`cluster_endpoint` of module aurora."
  type        = any
}

variable "aurora_cluster_master_user_secret_arn" {
  description = "`cluster_master_user_secret_arn` of module aurora."
  type        = any
}

variable "aurora_writer_id" {
  description = "`writer_id` of module aurora."
  type        = any
}

variable "backend_logs_retention_in_days" {
  description = "`retention_in_days` of aws_cloudwatch_log_group.backend_logs."
  type        = number
  default     = 30
}

variable "backend_scaling_max_capacity" {
  description = "`max_capacity` of aws_appautoscaling_target.backend_scaling."
  type        = number
  default     = 4
}

variable "backend_task_container_definitions_variant" {
  description = "Which value of `container_definitions` aws_ecs_task_definition.backend_task takes (its references differ)."
  type        = number
  default     = 1
}

variable "backend_task_cpu" {
  description = "`cpu` of aws_ecs_task_definition.backend_task."
  type        = string
  default     = "256"
}

variable "backend_task_memory" {
  description = "`memory` of aws_ecs_task_definition.backend_task."
  type        = string
  default     = "512"
}

variable "clickhouse_instance_private_ip" {
  description = "`instance_private_ip` of module clickhouse."
  type        = any
}

variable "ecs_cluster_arn" {
  description = "`cluster_arn` of module ecs."
  type        = any
}

variable "ecs_cluster_name" {
  description = "`cluster_name` of module ecs."
  type        = any
}

variable "edge_exports_arn" {
  description = "`exports_arn` of module edge."
  type        = any
}

variable "migrate_logs_retention_in_days" {
  description = "`retention_in_days` of aws_cloudwatch_log_group.migrate_logs."
  type        = number
  default     = 30
}

variable "migrate_task_container_definitions_variant" {
  description = "Which value of `container_definitions` aws_ecs_task_definition.migrate_task takes (its references differ)."
  type        = number
  default     = 1
}

variable "migrate_task_cpu" {
  description = "`cpu` of aws_ecs_task_definition.migrate_task."
  type        = string
  default     = "256"
}

variable "migrate_task_memory" {
  description = "`memory` of aws_ecs_task_definition.migrate_task."
  type        = string
  default     = "512"
}

variable "network_private_us_east_1a_id" {
  description = "`private_us_east_1a_id` of module network."
  type        = any
}

variable "network_private_us_east_1b_id" {
  description = "`private_us_east_1b_id` of module network."
  type        = any
}

variable "network_sg_ecs_id" {
  description = "`sg_ecs_id` of module network."
  type        = any
}

variable "opensearch_domain_endpoint" {
  description = "`domain_endpoint` of module opensearch."
  type        = any
}

variable "rabbitmq_broker_amqps_endpoint" {
  description = "`broker_amqps_endpoint` of module rabbitmq."
  type        = any
}

variable "redis_replication_group_primary_endpoint_address" {
  description = "`replication_group_primary_endpoint_address` of module redis."
  type        = any
}

variable "registry_backend_name" {
  description = "`backend_name` of module registry."
  type        = any
}

variable "registry_backend_repository_url" {
  description = "`backend_repository_url` of module registry."
  type        = any
}

variable "registry_scraper_name" {
  description = "`scraper_name` of module registry."
  type        = any
}

variable "registry_scraper_repository_url" {
  description = "`scraper_repository_url` of module registry."
  type        = any
}

variable "scraper_logs_retention_in_days" {
  description = "`retention_in_days` of aws_cloudwatch_log_group.scraper_logs."
  type        = number
  default     = 30
}

variable "scraper_scaling_max_capacity" {
  description = "`max_capacity` of aws_appautoscaling_target.scraper_scaling."
  type        = number
  default     = 4
}

variable "scraper_task_container_definitions_variant" {
  description = "Which value of `container_definitions` aws_ecs_task_definition.scraper_task takes (its references differ)."
  type        = number
  default     = 1
}

variable "scraper_task_cpu" {
  description = "`cpu` of aws_ecs_task_definition.scraper_task."
  type        = string
  default     = "1024"
}

variable "scraper_task_memory" {
  description = "`memory` of aws_ecs_task_definition.scraper_task."
  type        = string
  default     = "2048"
}

variable "secrets_clickhouse_arn" {
  description = "`clickhouse_arn` of module secrets."
  type        = any
}

variable "secrets_clickhouse_value_id" {
  description = "`clickhouse_value_id` of module secrets."
  type        = any
}

variable "secrets_encryption_key_arn" {
  description = "`encryption_key_arn` of module secrets."
  type        = any
}

variable "secrets_encryption_key_value_id" {
  description = "`encryption_key_value_id` of module secrets."
  type        = any
}

variable "secrets_jwt_arn" {
  description = "`jwt_arn` of module secrets."
  type        = any
}

variable "secrets_jwt_value_id" {
  description = "`jwt_value_id` of module secrets."
  type        = any
}

variable "secrets_opensearch_arn" {
  description = "`opensearch_arn` of module secrets."
  type        = any
}

variable "secrets_opensearch_value_id" {
  description = "`opensearch_value_id` of module secrets."
  type        = any
}

variable "secrets_rabbitmq_arn" {
  description = "`rabbitmq_arn` of module secrets."
  type        = any
}

variable "secrets_rabbitmq_value_id" {
  description = "`rabbitmq_value_id` of module secrets."
  type        = any
}

variable "secrets_redis_arn" {
  description = "`redis_arn` of module secrets."
  type        = any
}

variable "secrets_redis_value_id" {
  description = "`redis_value_id` of module secrets."
  type        = any
}

variable "secrets_service_api_key_arn" {
  description = "`service_api_key_arn` of module secrets."
  type        = any
}

variable "secrets_service_api_key_value_id" {
  description = "`service_api_key_value_id` of module secrets."
  type        = any
}

variable "secrets_webhook_hmac_arn" {
  description = "`webhook_hmac_arn` of module secrets."
  type        = any
}

variable "secrets_webhook_hmac_value_id" {
  description = "`webhook_hmac_value_id` of module secrets."
  type        = any
}

variable "stack" {
  description = "The stack (environment) name, in names and tags."
  type        = string
}

variable "temporal_worker_logs_retention_in_days" {
  description = "`retention_in_days` of aws_cloudwatch_log_group.temporal_worker_logs."
  type        = number
  default     = 30
}

variable "temporal_worker_task_container_definitions_variant" {
  description = "Which value of `container_definitions` aws_ecs_task_definition.temporal_worker_task takes (its references differ)."
  type        = number
  default     = 1
}
