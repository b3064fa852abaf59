variable "account_caller_partition" {
  description = "`caller_partition` of module account."
  type        = any
}

variable "account_rds_role_id" {
  description = "`rds_role_id` of module account."
  type        = any
}

variable "cluster_apply_immediately" {
  description = "`apply_immediately` of aws_rds_cluster.cluster."
  type        = bool
  default     = true
}

variable "cluster_deletion_protection" {
  description = "`deletion_protection` of aws_rds_cluster.cluster."
  type        = bool
  default     = false
}

variable "cluster_final_snapshot_identifier" {
  description = "`final_snapshot_identifier` of aws_rds_cluster.cluster."
  type        = string
}

variable "cluster_skip_final_snapshot" {
  description = "`skip_final_snapshot` of aws_rds_cluster.cluster."
  type        = bool
  default     = true
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

variable "reader_1_apply_immediately" {
  description = "`apply_immediately` of aws_rds_cluster_instance.reader_1."
  type        = bool
  default     = true
}

variable "reader_1_instance_class" {
  description = "`instance_class` of aws_rds_cluster_instance.reader_1."
  type        = string
  default     = "db.t4g.medium"
}

variable "stack" {
  description = "The stack (environment) name, in names and tags."
  type        = string
}

variable "writer_apply_immediately" {
  description = "`apply_immediately` of aws_rds_cluster_instance.writer."
  type        = bool
  default     = true
}

variable "writer_instance_class" {
  description = "`instance_class` of aws_rds_cluster_instance.writer."
  type        = string
  default     = "db.t4g.medium"
}
