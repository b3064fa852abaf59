variable "account_elasticache_role_id" {
  description = "`elasticache_role_id` of module account."
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

variable "network_sg_redis_id" {
  description = "`sg_redis_id` of module network."
  type        = any
}

variable "replication_group_automatic_failover_enabled" {
  description = "`automatic_failover_enabled` of aws_elasticache_replication_group.replication_group."
  type        = bool
  default     = false
}

variable "replication_group_multi_az_enabled" {
  description = "`multi_az_enabled` of aws_elasticache_replication_group.replication_group."
  type        = bool
  default     = false
}

variable "replication_group_node_type" {
  description = "`node_type` of aws_elasticache_replication_group.replication_group."
  type        = string
  default     = "cache.t3.medium"
}

variable "replication_group_num_cache_clusters" {
  description = "`num_cache_clusters` of aws_elasticache_replication_group.replication_group."
  type        = number
  default     = 1
}

variable "stack" {
  description = "The stack (environment) name, in names and tags."
  type        = string
}
