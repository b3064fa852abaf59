output "backend_logs_name" {
  value = aws_cloudwatch_log_group.backend_logs.name
}

output "backend_name" {
  value = aws_ecs_service.backend.name
}

output "scraper_name" {
  value = aws_ecs_service.scraper.name
}

output "temporal_worker_name" {
  value = aws_ecs_service.temporal_worker.name
}
