output "distribution_domain_name" {
  value = aws_cloudfront_distribution.distribution.domain_name
}

output "distribution_id" {
  value = aws_cloudfront_distribution.distribution.id
}

output "exports_arn" {
  value = aws_s3_bucket.exports.arn
}

output "exports_bucket" {
  value = aws_s3_bucket.exports.bucket
}

output "frontend_bucket" {
  value = aws_s3_bucket.frontend.bucket
}
