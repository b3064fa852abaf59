variable "account_caller_account_id" {
  description = "`caller_account_id` of module account."
  type        = any
}

variable "alb_alb_arn_suffix" {
  description = "`alb_arn_suffix` of module alb."
  type        = any
}

variable "alb_backend_arn_suffix" {
  description = "`backend_arn_suffix` of module alb."
  type        = any
}

variable "alb_scraper_arn_suffix" {
  description = "`scraper_arn_suffix` of module alb."
  type        = any
}

variable "aurora_cluster_cluster_identifier" {
  description = "`cluster_cluster_identifier` of module aurora."
  type        = any
}

variable "clickhouse_instance_id" {
  description = "`instance_id` of module clickhouse."
  type        = any
}

variable "dashboard_dashboard_body_variant" {
  description = "Which value of `dashboard_body` aws_cloudwatch_dashboard.dashboard takes (its references differ)."
  type        = number
  default     = 1
}

variable "ecs_cluster_name" {
  description = "`cluster_name` of module ecs."
  type        = any
}

variable "opensearch_domain_domain_name" {
  description = "`domain_domain_name` of module opensearch."
  type        = any
}

variable "redis_002_cpu_enabled" {
  description = "Whether aws_cloudwatch_metric_alarm.redis_002_cpu exists in this environment."
  type        = bool
  default     = false
}

variable "redis_replication_group_id" {
  description = "`replication_group_id` of module redis."
  type        = any
}

variable "services_backend_logs_name" {
  description = "`backend_logs_name` of module services."
  type        = any
}

variable "services_backend_name" {
  description = "`backend_name` of module services."
  type        = any
}

variable "services_scraper_name" {
  description = "`scraper_name` of module services."
  type        = any
}

variable "services_temporal_worker_name" {
  description = "`temporal_worker_name` of module services."
  type        = any
}

variable "stack" {
  description = "The stack (environment) name, in names and tags."
  type        = string
}

variable "temporal_temporal_server_name" {
  description = "`temporal_server_name` of module temporal."
  type        = any
}
