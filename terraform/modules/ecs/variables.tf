variable "account_ecs_role_id" {
  description = "`ecs_role_id` of module account."
  type        = any
}

variable "stack" {
  description = "The stack (environment) name, in names and tags."
  type        = string
}
