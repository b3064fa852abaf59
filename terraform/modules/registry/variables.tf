variable "backend_force_delete" {
  description = "`force_delete` of aws_ecr_repository.backend."
  type        = bool
  default     = true
}

variable "frontend_force_delete" {
  description = "`force_delete` of aws_ecr_repository.frontend."
  type        = bool
  default     = true
}

variable "scraper_force_delete" {
  description = "`force_delete` of aws_ecr_repository.scraper."
  type        = bool
  default     = true
}

variable "stack" {
  description = "The stack (environment) name, in names and tags."
  type        = string
}
