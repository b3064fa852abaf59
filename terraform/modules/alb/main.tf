resource "aws_acm_certificate" "certificate" {
  domain_name       = var.certificate_domain_name
  validation_method = "DNS"
  tags = {
    Name         = "morket-${var.stack}-alb"
    "morket:urn" = "${var.stack}::alb::aws:acm/Certificate::certificate"
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_route53_record" "certificate_validation_api_staging_morket_io" {
  count           = var.certificate_validation_api_staging_morket_io_enabled ? 1 : 0
  zone_id         = var.dns_zone_zone_id
  name            = one([for o in aws_acm_certificate.certificate.domain_validation_options : o.resource_record_name if o.domain_name == "api.staging.morket.io"])
  type            = "CNAME"
  ttl             = 60
  records         = [one([for o in aws_acm_certificate.certificate.domain_validation_options : o.resource_record_value if o.domain_name == "api.staging.morket.io"])]
  allow_overwrite = true
}

resource "aws_acm_certificate_validation" "certificate_validation" {
  certificate_arn         = aws_acm_certificate.certificate.arn
  validation_record_fqdns = [[one(aws_route53_record.certificate_validation_api_app_morket_io[*].fqdn)], [one(aws_route53_record.certificate_validation_api_staging_morket_io[*].fqdn)]][var.certificate_validation_validation_record_fqdns_variant]

  lifecycle {
    ignore_changes = [validation_record_fqdns]
  }
}

resource "aws_s3_bucket" "access_logs" {
  # checkov:skip=CKV_AWS_145:ALB access-log delivery supports SSE-S3 only (R4.6)
  # checkov:skip=CKV_AWS_18:the access-log bucket itself: logging its access would need another log bucket for write-only log delivery
  # checkov:skip=CKV_AWS_21:write-once ALB log objects that expire at 90 days; versions would keep only delete markers
  # checkov:skip=CKV2_AWS_62:nothing consumes object events from these buckets (log delivery, CI-synced site assets, exports the backend serves itself)
  # checkov:skip=CKV_AWS_144:single-region deployment; logs expire, the site is rebuilt from CI, exports are regenerated from Aurora and ClickHouse
  bucket        = "morket-${var.stack}-alb-logs"
  force_destroy = var.access_logs_force_destroy
  tags = {
    Name         = "morket-${var.stack}-alb-logs"
    "morket:urn" = "${var.stack}::alb::aws:s3/Bucket::access-logs"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id

  rule {
    bucket_key_enabled = false

    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_public_access_block" "access_logs" {
  bucket                  = aws_s3_bucket.access_logs.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id

  rule {
    id     = "expire-after-90-days"
    status = "Enabled"

    filter {
      prefix = ""
    }

    expiration {
      days = 90
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

resource "aws_s3_bucket_policy" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  policy = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"AlbAccessLogs\",\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:iam::127311923021:root\"},\"Action\":\"s3:PutObject\",\"Resource\":\"arn:${var.account_caller_partition}:s3:::morket-${var.stack}-alb-logs/alb/AWSLogs/${var.account_caller_account_id}/*\"},{\"Sid\":\"S3AccessLogs0\",\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"logging.s3.amazonaws.com\"},\"Action\":\"s3:PutObject\",\"Resource\":\"arn:${var.account_caller_partition}:s3:::morket-${var.stack}-alb-logs/s3/morket-${var.stack}-frontend/*\",\"Condition\":{\"ArnLike\":{\"aws:SourceArn\":\"arn:${var.account_caller_partition}:s3:::morket-${var.stack}-frontend\"},\"StringEquals\":{\"aws:SourceAccount\":\"${var.account_caller_account_id}\"}}},{\"Sid\":\"S3AccessLogs1\",\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"logging.s3.amazonaws.com\"},\"Action\":\"s3:PutObject\",\"Resource\":\"arn:${var.account_caller_partition}:s3:::morket-${var.stack}-alb-logs/s3/morket-${var.stack}-exports/*\",\"Condition\":{\"ArnLike\":{\"aws:SourceArn\":\"arn:${var.account_caller_partition}:s3:::morket-${var.stack}-exports\"},\"StringEquals\":{\"aws:SourceAccount\":\"${var.account_caller_account_id}\"}}}]}"
}

resource "aws_lb" "alb" {
  # checkov:skip=CKV2_AWS_76:Log4j probes are blocked by AWSManagedRulesKnownBadInputsRuleSet (its Log4JRCE rules) in the ALB's web ACL; the check also demands AWSManagedRulesAnonymousIpList, which blocks VPN, Tor and hosting-provider addresses, and the API's clients include servers in the cloud
  name                       = "morket-${var.stack}-alb"
  internal                   = false
  subnets                    = [var.network_public_us_east_1a_id, var.network_public_us_east_1b_id]
  security_groups            = [var.network_sg_alb_id]
  ip_address_type            = "ipv4"
  idle_timeout               = 120
  enable_deletion_protection = var.alb_enable_deletion_protection
  drop_invalid_header_fields = true
  tags = {
    Name         = "morket-${var.stack}-alb"
    "morket:urn" = "${var.stack}::alb::aws:lb/LoadBalancer::alb"
  }

  access_logs {
    bucket  = "morket-${var.stack}-alb-logs"
    prefix  = "alb"
    enabled = true
  }
  depends_on = [aws_s3_bucket.access_logs, var.network_igw_id]
}

resource "aws_wafv2_web_acl" "waf" {
  name        = "morket-${var.stack}-alb"
  scope       = "REGIONAL"
  description = var.waf_description
  tags = {
    Name         = "morket-${var.stack}-alb-waf"
    "morket:urn" = "${var.stack}::alb::aws:wafv2/WebAcl::waf"
  }

  default_action {
    allow {}
  }

  rule {
    name     = "aws-common"
    priority = 10

    override_action {
      none {}
    }

    statement {
      managed_rule_group_statement {
        name        = "AWSManagedRulesCommonRuleSet"
        vendor_name = "AWS"
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "aws-common"
      sampled_requests_enabled   = true
    }
  }

  rule {
    name     = "aws-bad-inputs"
    priority = 20

    override_action {
      none {}
    }

    statement {
      managed_rule_group_statement {
        name        = "AWSManagedRulesKnownBadInputsRuleSet"
        vendor_name = "AWS"
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "aws-bad-inputs"
      sampled_requests_enabled   = true
    }
  }

  rule {
    name     = "rate-per-ip"
    priority = 30

    action {
      block {}
    }

    statement {
      rate_based_statement {
        limit                 = 2000
        aggregate_key_type    = "IP"
        evaluation_window_sec = 300
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "rate-per-ip"
      sampled_requests_enabled   = true
    }
  }

  visibility_config {
    cloudwatch_metrics_enabled = true
    metric_name                = "morket-${var.stack}-alb"
    sampled_requests_enabled   = true
  }
}

resource "aws_wafv2_web_acl_association" "waf_association" {
  resource_arn = aws_lb.alb.arn
  web_acl_arn  = aws_wafv2_web_acl.waf.arn
}

resource "aws_cloudwatch_log_group" "waf_logs" {
  # checkov:skip=CKV_AWS_158:encrypted at rest by CloudWatch Logs with service-managed keys; the stack uses AWS default keys throughout, no CMK
  name              = "aws-waf-logs-morket-${var.stack}-alb"
  retention_in_days = var.waf_logs_retention_in_days
  tags = {
    Name         = "morket-${var.stack}-alb-waf"
    "morket:urn" = "${var.stack}::alb::aws:logs/LogGroup::waf-logs"
  }
}

resource "aws_wafv2_web_acl_logging_configuration" "waf_logging" {
  resource_arn            = aws_wafv2_web_acl.waf.arn
  log_destination_configs = [aws_cloudwatch_log_group.waf_logs.arn]
}

resource "aws_lb_target_group" "backend" {
  # checkov:skip=CKV_AWS_378:TLS ends at the ALB's HTTPS listener; targets are Fargate tasks in private subnets reachable only from the ALB's group
  name                 = "morket-${var.stack}-backend"
  port                 = 3000
  protocol             = "HTTP"
  vpc_id               = var.network_vpc_id
  target_type          = "ip"
  deregistration_delay = 120
  tags = {
    Name         = "morket-${var.stack}-backend"
    "morket:urn" = "${var.stack}::alb::aws:lb/TargetGroup::backend"
  }

  health_check {
    enabled             = true
    path                = "/health"
    matcher             = "200"
    interval            = 30
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
    port                = "traffic-port"
    protocol            = "HTTP"
  }
}

resource "aws_lb_target_group" "scraper" {
  # checkov:skip=CKV_AWS_378:TLS ends at the ALB's HTTPS listener; targets are Fargate tasks in private subnets reachable only from the ALB's group
  name                 = "morket-${var.stack}-scraper"
  port                 = 8001
  protocol             = "HTTP"
  vpc_id               = var.network_vpc_id
  target_type          = "ip"
  deregistration_delay = 120
  tags = {
    Name         = "morket-${var.stack}-scraper"
    "morket:urn" = "${var.stack}::alb::aws:lb/TargetGroup::scraper"
  }

  health_check {
    enabled             = true
    path                = "/health"
    matcher             = "200"
    interval            = 30
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
    port                = "traffic-port"
    protocol            = "HTTP"
  }
}

resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.alb.arn
  port              = 80
  protocol          = "HTTP"
  tags = {
    Name         = "morket-${var.stack}-alb-http"
    "morket:urn" = "${var.stack}::alb::aws:lb/Listener::http"
  }

  default_action {
    type = "redirect"

    redirect {
      protocol    = "HTTPS"
      port        = "443"
      host        = "#{host}"
      path        = "/#{path}"
      query       = "#{query}"
      status_code = "HTTP_301"
    }
  }
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.alb.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = aws_acm_certificate_validation.certificate_validation.certificate_arn
  tags = {
    Name         = "morket-${var.stack}-alb-https"
    "morket:urn" = "${var.stack}::alb::aws:lb/Listener::https"
  }

  default_action {
    type = "redirect"

    redirect {
      protocol    = "HTTPS"
      port        = "443"
      host        = var.https_default_action_redirect_host
      path        = "/#{path}"
      query       = "#{query}"
      status_code = "HTTP_302"
    }
  }
}

resource "aws_lb_listener_rule" "scrape" {
  listener_arn = aws_lb_listener.https.arn
  priority     = 10
  tags = {
    Name         = "morket-${var.stack}-alb-scrape"
    "morket:urn" = "${var.stack}::alb::aws:lb/ListenerRule::scrape"
  }

  condition {
    path_pattern {
      values = ["/api/v1/scrape*"]
    }
  }

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.scraper.arn
  }
}

resource "aws_lb_listener_rule" "api" {
  listener_arn = aws_lb_listener.https.arn
  priority     = 20
  tags = {
    Name         = "morket-${var.stack}-alb-api"
    "morket:urn" = "${var.stack}::alb::aws:lb/ListenerRule::api"
  }

  condition {
    path_pattern {
      values = ["/api/v1/*"]
    }
  }

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.backend.arn
  }
}

resource "aws_route53_record" "api_record" {
  zone_id = var.dns_zone_zone_id
  name    = var.api_record_name
  type    = "A"

  alias {
    name                   = aws_lb.alb.dns_name
    zone_id                = aws_lb.alb.zone_id
    evaluate_target_health = false
  }
}

resource "aws_route53_record" "certificate_validation_api_app_morket_io" {
  count           = var.certificate_validation_api_app_morket_io_enabled ? 1 : 0
  zone_id         = var.dns_zone_zone_id
  name            = one([for o in aws_acm_certificate.certificate.domain_validation_options : o.resource_record_name if o.domain_name == "api.app.morket.io"])
  type            = "CNAME"
  ttl             = 60
  records         = [one([for o in aws_acm_certificate.certificate.domain_validation_options : o.resource_record_value if o.domain_name == "api.app.morket.io"])]
  allow_overwrite = true
}
