variable "access_logs_force_destroy" {
  description = "`force_destroy` of aws_s3_bucket.access_logs."
  type        = bool
  default     = true
}

variable "account_caller_account_id" {
  description = "`caller_account_id` of module account."
  type        = any
}

variable "account_caller_partition" {
  description = "`caller_partition` of module account."
  type        = any
}

variable "alb_enable_deletion_protection" {
  description = "`enable_deletion_protection` of aws_lb.alb."
  type        = bool
  default     = false
}

variable "api_record_name" {
  description = "`name` of aws_route53_record.api_record."
  type        = string
  default     = "api.staging.morket.io"
}

variable "certificate_domain_name" {
  description = "`domain_name` of aws_acm_certificate.certificate."
  type        = string
  default     = "api.staging.morket.io"
}

variable "certificate_validation_api_app_morket_io_enabled" {
  description = "Whether aws_route53_record.certificate_validation_api_app_morket_io exists in this environment."
  type        = bool
  default     = false
}

variable "certificate_validation_api_staging_morket_io_enabled" {
  description = "Whether aws_route53_record.certificate_validation_api_staging_morket_io exists in this environment."
  type        = bool
  default     = true
}

variable "certificate_validation_validation_record_fqdns_variant" {
  description = "Which value of `validation_record_fqdns` aws_acm_certificate_validation.certificate_validation takes (its references differ)."
  type        = number
  default     = 1
}

variable "dns_zone_zone_id" {
  description = "`zone_zone_id` of module dns."
  type        = any
}

variable "https_default_action_redirect_host" {
  description = "`host` of aws_lb_listener.https."
  type        = string
  default     = "staging.morket.io"
}

variable "network_igw_id" {
  description = "`igw_id` of module network."
  type        = any
}

variable "network_public_us_east_1a_id" {
  description = "`public_us_east_1a_id` of module network."
  type        = any
}

variable "network_public_us_east_1b_id" {
  description = "`public_us_east_1b_id` of module network."
  type        = any
}

variable "network_sg_alb_id" {
  description = "`sg_alb_id` of module network."
  type        = any
}

variable "network_vpc_id" {
  description = "`vpc_id` of module network."
  type        = any
}

variable "stack" {
  description = "The stack (environment) name, in names and tags."
  type        = string
}

variable "waf_description" {
  description = "`description` of aws_wafv2_web_acl.waf."
  type        = string
  default     = "In front of api.staging.morket.io"
}

variable "waf_logs_retention_in_days" {
  description = "`retention_in_days` of aws_cloudwatch_log_group.waf_logs."
  type        = number
  default     = 30
}
