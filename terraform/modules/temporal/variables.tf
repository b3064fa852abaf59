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

variable "ecs_cluster_arn" {
  description = "`cluster_arn` of module ecs."
  type        = any
}

variable "network_private_us_east_1a_id" {
  description = "`private_us_east_1a_id` of module network."
  type        = any
}

variable "network_private_us_east_1b_id" {
  description = "`private_us_east_1b_id` of module network."
  type        = any
}

variable "network_sg_aurora_id" {
  description = "`sg_aurora_id` of module network."
  type        = any
}

variable "network_sg_temporal_id" {
  description = "`sg_temporal_id` of module network."
  type        = any
}

variable "network_vpc_id" {
  description = "`vpc_id` of module network."
  type        = any
}

variable "stack" {
  description = "The stack (environment) name, in names and tags."
  type        = string
}

variable "temporal_server_logs_retention_in_days" {
  description = "`retention_in_days` of aws_cloudwatch_log_group.temporal_server_logs."
  type        = number
  default     = 30
}
