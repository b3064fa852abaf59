variable "backend_force_delete" {
  description = "`force_delete` of aws_ecr_repository.backend."
  type        = bool
}

variable "frontend_force_delete" {
  description = "`force_delete` of aws_ecr_repository.frontend."
  type        = bool
}

variable "scraper_force_delete" {
  description = "`force_delete` of aws_ecr_repository.scraper."
  type        = bool
}

variable "stack" {
  description = "The stack (environment) name, in names and tags."
  type        = string
}
