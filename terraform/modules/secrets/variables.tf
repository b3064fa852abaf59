variable "aurora_cluster_master_user_secret_arn" {
  description = "`cluster_master_user_secret_arn` of module aurora."
  type        = any
}

variable "clickhouse_recovery_window_in_days" {
  description = "`recovery_window_in_days` of aws_secretsmanager_secret.clickhouse."
  type        = number
  default     = 0
}

variable "encryption_key_recovery_window_in_days" {
  description = "`recovery_window_in_days` of aws_secretsmanager_secret.encryption_key."
  type        = number
  default     = 0
}

variable "jwt_recovery_window_in_days" {
  description = "`recovery_window_in_days` of aws_secretsmanager_secret.jwt."
  type        = number
  default     = 0
}

variable "opensearch_master_password_result" {
  description = "`master_password_result` of module opensearch."
  type        = any
}

variable "opensearch_recovery_window_in_days" {
  description = "`recovery_window_in_days` of aws_secretsmanager_secret.opensearch."
  type        = number
  default     = 0
}

variable "rabbitmq_admin_password_result" {
  description = "`admin_password_result` of module rabbitmq."
  type        = any
}

variable "rabbitmq_recovery_window_in_days" {
  description = "`recovery_window_in_days` of aws_secretsmanager_secret.rabbitmq."
  type        = number
  default     = 0
}

variable "redis_auth_token_result" {
  description = "`auth_token_result` of module redis."
  type        = any
}

variable "redis_recovery_window_in_days" {
  description = "`recovery_window_in_days` of aws_secretsmanager_secret.redis."
  type        = number
  default     = 0
}

variable "service_api_key_recovery_window_in_days" {
  description = "`recovery_window_in_days` of aws_secretsmanager_secret.service_api_key."
  type        = number
  default     = 0
}

variable "stack" {
  description = "The stack (environment) name, in names and tags."
  type        = string
}

variable "webhook_hmac_recovery_window_in_days" {
  description = "`recovery_window_in_days` of aws_secretsmanager_secret.webhook_hmac."
  type        = number
  default     = 0
}
