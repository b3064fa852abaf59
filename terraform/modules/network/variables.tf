variable "flow_log_group_retention_in_days" {
  description = "`retention_in_days` of aws_cloudwatch_log_group.flow_log_group."
  type        = number
  default     = 30
}

variable "nat_eip_us_east_1b_enabled" {
  description = "Whether aws_eip.nat_eip_us_east_1b exists in this environment."
  type        = bool
  default     = false
}

variable "nat_us_east_1b_enabled" {
  description = "Whether aws_nat_gateway.nat_us_east_1b exists in this environment."
  type        = bool
  default     = false
}

variable "private_default_us_east_1b_nat_gateway_id_variant" {
  description = "Which value of `nat_gateway_id` aws_route.private_default_us_east_1b takes (its references differ)."
  type        = number
  default     = 1
}

variable "stack" {
  description = "The stack (environment) name, in names and tags."
  type        = string
}
