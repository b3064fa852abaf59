variable "broker_deployment_mode" {
  description = "`deployment_mode` of aws_mq_broker.broker."
  type        = string
  default     = "SINGLE_INSTANCE"
}

variable "broker_subnet_ids_variant" {
  description = "Which value of `subnet_ids` aws_mq_broker.broker takes (its references differ)."
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

variable "network_sg_rabbitmq_id" {
  description = "`sg_rabbitmq_id` of module network."
  type        = any
}

variable "stack" {
  description = "The stack (environment) name, in names and tags."
  type        = string
}
