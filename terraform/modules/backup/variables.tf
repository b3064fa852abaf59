variable "account_caller_partition" {
  description = "`caller_partition` of module account."
  type        = any
}

variable "clickhouse_data_arn" {
  description = "`data_arn` of module clickhouse."
  type        = any
}

variable "stack" {
  description = "The stack (environment) name, in names and tags."
  type        = string
}

variable "vault_force_destroy" {
  description = "`force_destroy` of aws_backup_vault.vault."
  type        = bool
  default     = true
}
