output "access_logs_bucket" {
  value = aws_s3_bucket.access_logs.bucket
}

output "alb_arn_suffix" {
  value = aws_lb.alb.arn_suffix
}

output "alb_dns_name" {
  value = aws_lb.alb.dns_name
}

output "api_id" {
  value = aws_lb_listener_rule.api.id
}

output "backend_arn" {
  value = aws_lb_target_group.backend.arn
}

output "backend_arn_suffix" {
  value = aws_lb_target_group.backend.arn_suffix
}

output "scrape_id" {
  value = aws_lb_listener_rule.scrape.id
}

output "scraper_arn" {
  value = aws_lb_target_group.scraper.arn
}

output "scraper_arn_suffix" {
  value = aws_lb_target_group.scraper.arn_suffix
}
