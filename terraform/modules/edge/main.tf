resource "aws_s3_bucket" "frontend" {
  # checkov:skip=CKV_AWS_145:R10.1: SSE-S3 (AES-256); CloudFront OAC reads SSE-KMS only under a customer key, and the stack builds none
  # checkov:skip=CKV2_AWS_62:nothing consumes object events from these buckets (log delivery, CI-synced site assets, exports the backend serves itself)
  # checkov:skip=CKV_AWS_144:single-region deployment; logs expire, the site is rebuilt from CI, exports are regenerated from Aurora and ClickHouse
  bucket        = "morket-${var.stack}-frontend"
  force_destroy = var.frontend_force_destroy
  tags = {
    Name         = "morket-${var.stack}-frontend"
    "morket:urn" = "${var.stack}::edge::aws:s3/Bucket::frontend"
  }
}

resource "aws_s3_bucket_versioning" "frontend" {
  bucket = aws_s3_bucket.frontend.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "frontend" {
  bucket = aws_s3_bucket.frontend.id

  rule {
    bucket_key_enabled = false

    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_public_access_block" "frontend" {
  bucket                  = aws_s3_bucket.frontend.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "frontend" {
  bucket = aws_s3_bucket.frontend.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "frontend" {
  bucket = aws_s3_bucket.frontend.id

  rule {
    id     = "noncurrent-versions"
    status = "Enabled"

    filter {
      prefix = ""
    }

    noncurrent_version_expiration {
      noncurrent_days = 30
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

resource "aws_s3_bucket_logging" "frontend" {
  bucket        = aws_s3_bucket.frontend.id
  target_bucket = var.alb_access_logs_bucket
  target_prefix = "s3/morket-${var.stack}-frontend/"
}

resource "aws_s3_bucket" "exports" {
  # checkov:skip=CKV_AWS_145:R10.1: SSE-S3 (AES-256); CloudFront OAC reads SSE-KMS only under a customer key, and the stack builds none
  # checkov:skip=CKV2_AWS_62:nothing consumes object events from these buckets (log delivery, CI-synced site assets, exports the backend serves itself)
  # checkov:skip=CKV_AWS_144:single-region deployment; logs expire, the site is rebuilt from CI, exports are regenerated from Aurora and ClickHouse
  bucket        = "morket-${var.stack}-exports"
  force_destroy = var.exports_force_destroy
  tags = {
    Name         = "morket-${var.stack}-exports"
    "morket:urn" = "${var.stack}::edge::aws:s3/Bucket::exports"
  }
}

resource "aws_s3_bucket_versioning" "exports" {
  bucket = aws_s3_bucket.exports.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "exports" {
  bucket = aws_s3_bucket.exports.id

  rule {
    bucket_key_enabled = false

    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_public_access_block" "exports" {
  bucket                  = aws_s3_bucket.exports.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "exports" {
  bucket = aws_s3_bucket.exports.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "exports" {
  bucket = aws_s3_bucket.exports.id

  rule {
    id     = "glacier-then-expire"
    status = "Enabled"

    filter {
      prefix = ""
    }

    expiration {
      days = 365
    }

    noncurrent_version_expiration {
      noncurrent_days = 30
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }

    transition {
      days          = 90
      storage_class = "GLACIER"
    }
  }
}

resource "aws_s3_bucket_logging" "exports" {
  bucket        = aws_s3_bucket.exports.id
  target_bucket = var.alb_access_logs_bucket
  target_prefix = "s3/morket-${var.stack}-exports/"
}

resource "aws_acm_certificate" "certificate" {
  domain_name       = var.certificate_domain_name
  validation_method = "DNS"
  tags = {
    Name         = "morket-${var.stack}-cloudfront"
    "morket:urn" = "${var.stack}::edge::aws:acm/Certificate::certificate"
  }
  region = "us-east-1"

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_route53_record" "certificate_validation_staging_morket_io" {
  count           = var.certificate_validation_staging_morket_io_enabled ? 1 : 0
  zone_id         = var.dns_zone_zone_id
  name            = one([for o in aws_acm_certificate.certificate.domain_validation_options : o.resource_record_name if o.domain_name == "staging.morket.io"])
  type            = "CNAME"
  ttl             = 60
  records         = [one([for o in aws_acm_certificate.certificate.domain_validation_options : o.resource_record_value if o.domain_name == "staging.morket.io"])]
  allow_overwrite = true
}

resource "aws_acm_certificate_validation" "certificate_validation" {
  certificate_arn         = aws_acm_certificate.certificate.arn
  validation_record_fqdns = [[one(aws_route53_record.certificate_validation_app_morket_io[*].fqdn)], [one(aws_route53_record.certificate_validation_staging_morket_io[*].fqdn)]][var.certificate_validation_validation_record_fqdns_variant]
  region                  = "us-east-1"

  lifecycle {
    ignore_changes = [validation_record_fqdns]
  }
}

resource "aws_cloudfront_origin_access_control" "oac" {
  name                              = "morket-${var.stack}-frontend"
  description                       = ""
  origin_access_control_origin_type = "s3"
  signing_behavior                  = "always"
  signing_protocol                  = "sigv4"
}

data "aws_cloudfront_response_headers_policy" "security_headers" {
  name = "Managed-SecurityHeadersPolicy"
}

resource "aws_cloudfront_distribution" "distribution" {
  # checkov:skip=CKV_AWS_68:serves static site assets from a private S3 origin (GET/HEAD only); the API is on the ALB
  # checkov:skip=CKV2_AWS_47:no WAF on the static-site distribution (see CKV_AWS_68); S3 origin only, no Java anywhere
  # checkov:skip=CKV_AWS_86:static assets only; API requests are in the ALB access logs (R4.6); standard logs need an ACL bucket and every bucket here enforces owner
  # checkov:skip=CKV_AWS_310:one S3 origin in one region; the site is rebuilt from CI
  # checkov:skip=CKV_AWS_374:a public SaaS frontend served worldwide
  enabled             = true
  comment             = "morket-${var.stack} frontend"
  aliases             = var.distribution_aliases
  default_root_object = "index.html"
  price_class         = "PriceClass_All"
  http_version        = "http2"
  is_ipv6_enabled     = true
  wait_for_deployment = true
  tags = {
    Name         = "morket-${var.stack}-cloudfront"
    "morket:urn" = "${var.stack}::edge::aws:cloudfront/Distribution::distribution"
  }

  origin {
    origin_id                = "s3-frontend"
    domain_name              = aws_s3_bucket.frontend.bucket_regional_domain_name
    origin_access_control_id = aws_cloudfront_origin_access_control.oac.id
  }

  default_cache_behavior {
    target_origin_id           = "s3-frontend"
    viewer_protocol_policy     = "https-only"
    allowed_methods            = ["GET", "HEAD"]
    cached_methods             = ["GET", "HEAD"]
    compress                   = true
    min_ttl                    = 0
    default_ttl                = 86400
    max_ttl                    = 31536000
    response_headers_policy_id = data.aws_cloudfront_response_headers_policy.security_headers.id

    forwarded_values {
      query_string = false

      cookies {
        forward = "none"
      }
    }
  }

  ordered_cache_behavior {
    path_pattern               = "/index.html"
    target_origin_id           = "s3-frontend"
    viewer_protocol_policy     = "https-only"
    allowed_methods            = ["GET", "HEAD"]
    cached_methods             = ["GET", "HEAD"]
    compress                   = true
    min_ttl                    = 0
    default_ttl                = 0
    max_ttl                    = 0
    response_headers_policy_id = data.aws_cloudfront_response_headers_policy.security_headers.id

    forwarded_values {
      query_string = false

      cookies {
        forward = "none"
      }
    }
  }

  custom_error_response {
    error_code            = 403
    response_code         = 200
    response_page_path    = "/index.html"
    error_caching_min_ttl = 0
  }

  custom_error_response {
    error_code            = 404
    response_code         = 200
    response_page_path    = "/index.html"
    error_caching_min_ttl = 0
  }

  viewer_certificate {
    cloudfront_default_certificate = false
    acm_certificate_arn            = aws_acm_certificate_validation.certificate_validation.certificate_arn
    ssl_support_method             = "sni-only"
    minimum_protocol_version       = "TLSv1.2_2021"
  }

  restrictions {
    geo_restriction {
      restriction_type = "none"
      locations        = []
    }
  }
}

resource "aws_s3_bucket_policy" "frontend_policy" {
  bucket = aws_s3_bucket.frontend.bucket
  policy = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"CloudFrontReadsTheSite\",\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"cloudfront.amazonaws.com\"},\"Action\":\"s3:GetObject\",\"Resource\":\"${aws_s3_bucket.frontend.arn}/*\",\"Condition\":{\"StringEquals\":{\"AWS:SourceArn\":\"${aws_cloudfront_distribution.distribution.arn}\"}}}]}"
}

resource "aws_route53_record" "alias_a" {
  zone_id = var.dns_zone_zone_id
  name    = var.alias_a_name
  type    = "A"

  alias {
    name                   = aws_cloudfront_distribution.distribution.domain_name
    zone_id                = aws_cloudfront_distribution.distribution.hosted_zone_id
    evaluate_target_health = false
  }
}

resource "aws_route53_record" "alias_aaaa" {
  zone_id = var.dns_zone_zone_id
  name    = var.alias_aaaa_name
  type    = "AAAA"

  alias {
    name                   = aws_cloudfront_distribution.distribution.domain_name
    zone_id                = aws_cloudfront_distribution.distribution.hosted_zone_id
    evaluate_target_health = false
  }
}

resource "aws_route53_record" "certificate_validation_app_morket_io" {
  count           = var.certificate_validation_app_morket_io_enabled ? 1 : 0
  zone_id         = var.dns_zone_zone_id
  name            = one([for o in aws_acm_certificate.certificate.domain_validation_options : o.resource_record_name if o.domain_name == "app.morket.io"])
  type            = "CNAME"
  ttl             = 60
  records         = [one([for o in aws_acm_certificate.certificate.domain_validation_options : o.resource_record_value if o.domain_name == "app.morket.io"])]
  allow_overwrite = true
}
