variable "account_caller_account_id" {
  description = "`caller_account_id` of module account."
  type        = any
}

variable "account_caller_partition" {
  description = "`caller_partition` of module account."
  type        = any
}

variable "account_opensearch_role_id" {
  description = "`opensearch_role_id` of module account."
  type        = any
}

variable "application_logs_retention_in_days" {
  description = "`retention_in_days` of aws_cloudwatch_log_group.application_logs."
  type        = number
  default     = 30
}

variable "audit_logs_retention_in_days" {
  description = "`retention_in_days` of aws_cloudwatch_log_group.audit_logs."
  type        = number
  default     = 30
}

variable "domain_cluster_config_instance_count" {
  description = "`instance_count` of aws_opensearch_domain.domain."
  type        = number
  default     = 1
}

variable "domain_cluster_config_instance_type" {
  description = "`instance_type` of aws_opensearch_domain.domain."
  type        = string
  default     = "t3.medium.search"
}

variable "domain_cluster_config_zone_awareness_config_enabled" {
  description = "Whether aws_opensearch_domain.domain has a `zone_awareness_config` block."
  type        = bool
  default     = false
}

variable "domain_cluster_config_zone_awareness_enabled" {
  description = "`zone_awareness_enabled` of aws_opensearch_domain.domain."
  type        = bool
  default     = false
}

variable "domain_ebs_options_volume_size" {
  description = "`volume_size` of aws_opensearch_domain.domain."
  type        = number
  default     = 20
}

variable "domain_vpc_options_subnet_ids_variant" {
  description = "Which value of `subnet_ids` aws_opensearch_domain.domain takes (its references differ)."
  type        = number
  default     = 1
}

variable "network_private_us_east_1a_id" {
  description = "`private_us_east_1a_id` of module network."
  type        = any
}

variable "network_private_us_east_1b_id" {
  description = "`private_us_east_1b_id` of module network."
  type        = any
}

variable "network_sg_opensearch_id" {
  description = "`sg_opensearch_id` of module network."
  type        = any
}

variable "stack" {
  description = "The stack (environment) name, in names and tags."
  type        = string
}
