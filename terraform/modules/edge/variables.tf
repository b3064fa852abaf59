variable "alb_access_logs_bucket" {
  description = "`access_logs_bucket` of module alb."
  type        = any
}

variable "alias_a_name" {
  description = "`name` of aws_route53_record.alias_a."
  type        = string
  default     = "staging.morket.io"
}

variable "alias_aaaa_name" {
  description = "`name` of aws_route53_record.alias_aaaa."
  type        = string
  default     = "staging.morket.io"
}

variable "certificate_domain_name" {
  description = "`domain_name` of aws_acm_certificate.certificate."
  type        = string
  default     = "staging.morket.io"
}

variable "certificate_validation_app_morket_io_enabled" {
  description = "Whether aws_route53_record.certificate_validation_app_morket_io exists in this environment."
  type        = bool
  default     = false
}

variable "certificate_validation_staging_morket_io_enabled" {
  description = "Whether aws_route53_record.certificate_validation_staging_morket_io exists in this environment."
  type        = bool
  default     = true
}

variable "certificate_validation_validation_record_fqdns_variant" {
  description = "Which value of `validation_record_fqdns` aws_acm_certificate_validation.certificate_validation takes (its references differ)."
  type        = number
  default     = 1
}

variable "distribution_aliases" {
  description = "`aliases` of aws_cloudfront_distribution.distribution."
  type        = list(string)
  default     = ["staging.morket.io"]
}

variable "dns_zone_zone_id" {
  description = "`zone_zone_id` of module dns."
  type        = any
}

variable "exports_force_destroy" {
  description = "`force_destroy` of aws_s3_bucket.exports."
  type        = bool
  default     = true
}

variable "frontend_force_destroy" {
  description = "`force_destroy` of aws_s3_bucket.frontend."
  type        = bool
  default     = true
}

variable "stack" {
  description = "The stack (environment) name, in names and tags."
  type        = string
}
