variable "data_size" {
  description = "`size` of aws_ebs_volume.data."
  type        = number
}

variable "launch_template_instance_type" {
  description = "`instance_type` of aws_launch_template.launch_template."
  type        = string
}

variable "launch_template_user_data" {
  description = "`user_data` of aws_launch_template.launch_template."
  type        = string
}

variable "network_private_default_us_east_1a_id" {
  description = "`private_default_us_east_1a_id` of module network."
  type        = any
}

variable "network_private_rta_us_east_1a_id" {
  description = "`private_rta_us_east_1a_id` of module network."
  type        = any
}

variable "network_private_us_east_1a_id" {
  description = "`private_us_east_1a_id` of module network."
  type        = any
}

variable "network_sg_clickhouse_id" {
  description = "`sg_clickhouse_id` of module network."
  type        = any
}

variable "secrets_clickhouse_arn" {
  description = "`clickhouse_arn` of module secrets."
  type        = any
}

variable "stack" {
  description = "The stack (environment) name, in names and tags."
  type        = string
}
